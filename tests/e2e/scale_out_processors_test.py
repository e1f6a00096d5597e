"""Processing scaled out through Kafka consumer groups: 2 `sluice collector`, 3
`sluice processor` and 2 `sluice api` processes on librdkafka's mock cluster (3 brokers on
loopback TCP) and a real PostgreSQL server. 200 000 events are posted through both collectors
while processors are SIGKILLed and started again (each time the group shares the partitions out
anew). Every acknowledged event is then in the PostgreSQL store exactly once, the pipeline's
PostgreSQL sink has each exactly once too, the api replicas serve them all, and each processor's
/v1/pipelines shows its group member, the partitions it holds and the group's lag. Processors
that another process has claimed the partitions from (the epoch raised in PostgreSQL) have
their writes refused, rows and all, until they claim them again.

A window definition with an alert rule runs in its own consumer group across the processors,
keyed by a field other than the partition key: its results and alerts equal those of one
`sluice run` fed the same events, and each processor's /v1/windows shows its share and the lag.

usage: scale_out_processors_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import os
import json
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import (Checks, MockKafkaCluster, Poster, Postgres, Server, all_events,  # noqa: E402
                     wait_for)

EVENTS = 200_000
BATCH = 500
PARTITIONS = 6
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP_MS = 2  # event time between one batch's events: a batch spans 1 s
# Windows and their rule, the same in the scaled-out processors and in one `sluice run`. The
# lateness covers the two posters drifting apart by up to 60 batches.
WINDOWS = """
windows:
  per_city:
    from: [events]
    key: [city]
    tumbling: 10s
    allowed_lateness: 60s
    close_after_idle: 2s
    checkpoint_every: 300ms
    aggregates: {events: count, total: sum(n), high: max(n), devices: count_distinct(device)}
alerts:
  busy_city:
    window: per_city
    when: "high > 497"
    severity: warning
    message: "{{city}} reached {{high}}"
"""
SINGLE = """
streams:
  events: {partitions: %(partitions)d, key_field: device, time_field: ts}
  alerts: {id_field: "", time_field: "", type_field: rule}
""" + WINDOWS
CONFIG = """
log:
  backend: kafka
  kafka: {brokers: "%(brokers)s", delivery_timeout: 10s, session_timeout: 3s}
store: {url: '%(url)s'}
storage: {windows: '%(url)s'}
streams:
  events: {partitions: %(partitions)d, key_field: device, time_field: ts}
  alerts: {id_field: "", time_field: "", type_field: rule}
""" + WINDOWS + """
sinks:
  copy_pg: {postgres: {url: '%(url)s', table: events_copy}}
pipelines:
  copy: {from: [events], to: [copy_pg]}
"""


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, ["events:%d" % PARTITIONS, "web:1", "contact:1",
                                              "dead_letters:1", "alerts:1"])
    postgres = Postgres().start()
    config = CONFIG % {"brokers": cluster.bootstrap, "url": postgres.url,
                       "partitions": PARTITIONS}
    collectors = [Server(binary, command="collector", config_text=config).start()
                  for _ in range(2)]
    processors = [Server(binary, command="processor", config_text=config).start()
                  for _ in range(3)]
    apis = [Server(binary, command="api", config_text=config).start() for _ in range(2)]
    acked = []
    logs = []  # the stderr of processors that were killed

    def count(sql):
        return int(postgres.query(sql)[0][0])

    try:
        def posted_while_processors_die():
            per_poster = EVENTS // 2 // BATCH

            def batches(prefix):
                return lambda n: [{"id": "%s-%d-%d" % (prefix, n, j), "device": "d%d" % (j % 50),
                                   "city": "c%d" % (j % 5), "n": j,
                                   "ts": BASE_MS + (n * BATCH + j) * STEP_MS}
                                  for j in range(BATCH)]
            posters = [Poster(c.port, batches("c%d" % i), acked, limit=per_poster)
                       for i, c in enumerate(collectors)]
            for p in posters:
                p.start()
            kills = 0
            while any(p.sent < per_poster for p in posters) or kills < 6:
                time.sleep(rng.uniform(0.5, 2.0))
                victim = processors[rng.randrange(len(processors))]
                logs.append("".join(victim.stderr_lines))
                victim.kill()
                victim.stderr_lines = []
                victim.start()
                kills += 1
                # Each restart is a rebalance: the group gives the new member its share once
                # the killed one's session has timed out.
                try:
                    wait_for(lambda: "group=store assigned=" in "".join(victim.stderr_lines),
                             60, "the restarted processor given its share of the store's "
                             "partitions")
                except AssertionError:
                    print("".join(victim.stderr_lines[-40:]), flush=True)
                    raise
            for p in posters:
                p.stop = True
                p.join(timeout=60)
            assert len(acked) == EVENTS, len(acked)
            print("%d kills while posting" % kills, flush=True)

        def stored_exactly_once():
            wait_for(lambda: count("SELECT count(*) FROM sluice.events WHERE stream = 'events'")
                     >= EVENTS, 300, "every acknowledged event in PostgreSQL")
            total = count("SELECT count(*) FROM sluice.events WHERE stream = 'events'")
            distinct = count("SELECT count(DISTINCT id) FROM sluice.events WHERE stream = 'events'")
            assert total == distinct == EVENTS, (total, distinct)
            ids = {row[0] for row in postgres.query(
                "SELECT id FROM sluice.events WHERE stream = 'events'")}
            assert ids == {e["id"] for e in acked}, "stored ids differ from the acknowledged"

        def sink_exactly_once():
            wait_for(lambda: count("SELECT count(*) FROM events_copy") >= EVENTS, 300,
                     "every event in the pipeline's sink")
            assert count("SELECT count(*) FROM events_copy") == EVENTS
            assert count("SELECT count(DISTINCT id) FROM events_copy") == EVENTS

        def rebalanced_often():
            everything = logs + ["".join(p.stderr_lines) for p in processors]
            assigned = sum(text.count("kafka group=store assigned=") for text in everything)
            assert assigned >= 5 + 3, "the store's group shared partitions out %d times" % assigned

        def apis_serve_everything():
            for api in apis:
                status, _, body = api.request("GET", "/v1/streams")
                assert status == 200, body
                stored = {s["name"]: s for s in body["streams"]}["events"]["stored"]
                assert stored == EVENTS, stored

        def members_settled(path, key, name, group):
            """Every processor's `name` under `path` has no lag and a member, and between them
            they hold every partition once (a rebalance may still be finishing: waits)."""
            seen = {}

            def settled():
                held = []
                for p in processors:
                    status, _, body = p.request("GET", path)
                    assert status == 200, body
                    mine = {x["name"]: x for x in body[key]}[name]
                    seen[p.port] = mine
                    if mine["lag"] != 0 or mine["group"]["member"] == "":
                        return False
                    assert mine["group"]["name"] == group, mine
                    held += mine["group"]["partitions"]
                return sorted(held) == ["events/%d" % i for i in range(PARTITIONS)]
            try:
                wait_for(settled, 90, "%s %s settled on every processor" % (path, name))
            except AssertionError:
                raise AssertionError("not settled: %r" % seen)

        def status_shows_members_and_lag():
            members_settled("/v1/pipelines", "pipelines", "copy", "pipeline.copy")

        def expected_windows():
            """(key, start) -> (events, high) computed here from the acknowledged events."""
            out = {}
            for e in acked:
                start = e["ts"] // 10_000 * 10_000
                events, high = out.get(('["%s"]' % e["city"], start), (0, -1))
                out['["%s"]' % e["city"], start] = (events + 1, max(high, e["n"]))
            return out

        def group_results():
            rows = postgres.query("SELECT key, start_ms, end_ms, events, value "
                                  "FROM sluice_window_results WHERE window_name = 'per_city' "
                                  "AND final")
            return {(r[0], int(r[1])): (int(r[2]), int(r[3]), json.loads(r[4])) for r in rows}

        def windows_merged_across_processors():
            expected = expected_windows()
            wait_for(lambda: len(group_results()) >= len(expected), 120,
                     "every window's final result merged from the processors' partitions")
            results = group_results()
            assert set(results) == set(expected), sorted(set(results) ^ set(expected))[:5]
            for id, (end, events, value) in results.items():
                assert end == id[1] + 10_000, (id, end)
                assert (events, value["high"]) == expected[id], (id, events, value)
            # Nothing waits to be merged, and no partition is behind.
            assert count("SELECT count(*) FROM sluice_window_partials") == 0

        def same_as_one_process():
            single = Server(binary, config_text=SINGLE % {"partitions": PARTITIONS}).start()
            try:
                for i in range(0, len(acked), BATCH):
                    status, _, reply = single.request("POST", "/v1/streams/events/events",
                                                      acked[i:i + BATCH])
                    assert status == 202, (status, reply)
                db = sqlite3.connect("file:%s/windows.db?mode=ro" % single.data_dir, uri=True)

                def single_results():
                    rows = db.execute("SELECT key, start, end, events, value FROM window_results "
                                      "WHERE window = 'per_city' AND final = 1").fetchall()
                    return {(r[0], r[1]): (r[2], r[3], json.loads(r[4])) for r in rows}
                wait_for(lambda: len(single_results()) >= len(expected_windows()), 120,
                         "one process's final results")
                assert single_results() == group_results(), "results differ from one process's"
                alerts = {e["id"] for e in all_events(single, "stream=alerts")}
            finally:
                single.cleanup()
            # The rule fires for c3 and c4 in every window (their highest n is 498 and 499).
            assert len(alerts) == 2 * len({start for _, start in expected_windows()}), len(alerts)
            group_alerts = [r[0] for r in postgres.query(
                "SELECT id FROM sluice.events WHERE stream = 'alerts'")]
            assert len(group_alerts) == len(set(group_alerts)), "an alert stored twice"
            assert set(group_alerts) == alerts, sorted(set(group_alerts) ^ alerts)[:5]

        def windows_show_members_and_lag():
            members_settled("/v1/windows", "windows", "per_city", "windows.per_city")

        def zombies_are_fenced_off():
            # Another process claiming every partition (as one that took them over would): the
            # processors still writing them are refused by PostgreSQL, rows and all.
            postgres.query("UPDATE sluice.sluice_positions SET epoch = epoch + 1 "
                           "WHERE consumer = 'store'")
            postgres.query("UPDATE public.sluice_positions SET epoch = epoch + 1 "
                           "WHERE consumer = 'pipeline.copy'")
            late = [{"id": "late-%d" % j, "device": "d%d" % j, "n": j} for j in range(60)]
            status, _, reply = collectors[0].request("POST", "/v1/streams/events/events", late)
            assert status == 202 and reply["accepted"] == 60, (status, reply)

            def refused():
                texts = "".join("".join(p.stderr_lines) for p in processors)
                return "store no longer holds" in texts and "pipeline.copy no longer holds" in texts
            wait_for(refused, 60, "the processors' writes refused as fenced off")
            assert count("SELECT count(*) FROM sluice.events WHERE id LIKE 'late-%'") == 0
            assert count("SELECT count(*) FROM events_copy WHERE id LIKE 'late-%'") == 0
            # Started again, they claim the partitions anew and write them.
            for p in processors:
                p.kill()
            for p in processors:
                p.start()
            wait_for(lambda: count("SELECT count(*) FROM sluice.events WHERE id LIKE 'late-%'")
                     == 60 and count("SELECT count(*) FROM events_copy WHERE id LIKE 'late-%'")
                     == 60, 120, "the events stored once the partitions were claimed again")

        checks.run("200 000 events posted while processors are SIGKILLed and started",
                   posted_while_processors_die)
        checks.run("every acknowledged event in the PostgreSQL store exactly once",
                   stored_exactly_once)
        checks.run("the pipeline's PostgreSQL sink has each event exactly once",
                   sink_exactly_once)
        checks.run("the groups shared the partitions out at least 5 times", rebalanced_often)
        checks.run("the api replicas serve every event", apis_serve_everything)
        checks.run("each processor shows its group member, partitions and the lag",
                   status_shows_members_and_lag)
        checks.run("window results merged from every processor's partitions, each once",
                   windows_merged_across_processors)
        checks.run("window results and alerts equal one process's over the same events",
                   same_as_one_process)
        checks.run("each processor's /v1/windows shows its group member, partitions and lag",
                   windows_show_members_and_lag)
        checks.run("a processor that lost its partitions but still writes is refused",
                   zombies_are_fenced_off)
    finally:
        for server in collectors + processors + apis:
            if server.proc.poll() is not None:  # it should still run: say how it ended
                print("%s on port %d exited with %d; its last output:\n%s"
                      % (server.command, server.port, server.proc.returncode,
                         "".join(server.stderr_lines[-40:])), flush=True)
            server.cleanup()
        cluster.stop()
        postgres.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
