"""Windows under crashes: the same city events (out of order, some late) are put in two logs;
one `sluice run` computes tumbling, hopping and session windows and a per-event alert rule over
its log without interruption, the other is SIGKILLed 20 times at random moments while it
computes. Then both have the same results, row for row (window, key, start, end, events, every
aggregate), the same late events in the late stream, each once, the same window alerts, one per
key and window, and the per-event alerts a reference computed here from the events expects.

usage: windows_test.py SLUICE_BINARY [CYCLES] [embedded|kafka MOCK_CLUSTER_BINARY]
"""

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import (Checks, MockKafkaCluster, Postgres, Server, all_events, parse_ms,  # noqa: E402
                     wait_for)

EVENTS = 400_000
# librdkafka's mock cluster keeps 5 MiB of (lz4-compressed) batches per partition and drops the
# oldest beyond that: 75 000 events a partition came to ~5.2 MiB, so keep well under.
KAFKA_EVENTS = 100_000
LATENESS_S = 10
COOLDOWN_MS = 600_000
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

STREAMS = """
streams:
  city: {partitions: 2, key_field: city, time_field: timestamp}
  # ingest: true: the test posts a marker to each to know the store has caught up with it.
  dead_letters: {id_field: "", time_field: "", type_field: stream, ingest: true}
  alerts: {id_field: "", time_field: "", type_field: rule, ingest: true}
  window_results: {id_field: "", time_field: "", type_field: window, ingest: true}
"""

SINKS = """
sinks:
  results_db:
    sqlite: {table: counts}
  results_pg:
    postgres: {url: '%(url)s', table: counts}
"""

WINDOWS = """
windows:
  counts:
    from: [city]
    key: [city, event_type]
    to: [results_db, results_pg]
    tumbling: 5m
    allowed_lateness: %(lateness)ds
    checkpoint_every: 100ms
    aggregates:
      events: count
      severities: collect_set(severity)
      mean: avg(value)
      total: sum(value)
      p99: p99(value)
      users: count_distinct(user)
  rolling:
    from: [city]
    filter: 'severity in ["high", "critical"]'
    key: [city]
    hopping: {size: 1m, every: 20s}
    allowed_lateness: %(lateness)ds
    checkpoint_every: 150ms
    aggregates: {events: count, highest: max(value), lowest: min(value)}
  visits:
    from: [city]
    key: [city, user]
    session: 20s
    allowed_lateness: %(lateness)ds
    checkpoint_every: 100ms
    aggregates: {events: count}
alerts:
  busy:
    window: counts
    when: 'events >= 80 && p99 > 98'
    message: '{events} {event_type} events in {city}'
  scorching:
    from: [city]
    when: 'severity == "critical" && value > 99'
    key: [city]
    cooldown: %(cooldown)dms
    severity: critical
    message: '{city} at {value}'
""" % {"lateness": LATENESS_S, "cooldown": COOLDOWN_MS}

# Windows the sentinels (an event per city hours after the rest) keep open in each definition.
SENTINEL_OPEN = {"counts": 8, "rolling": 0, "visits": 8}


def city_events(seed, count):
    """Out-of-order city events: within each city the times jitter by less than the lateness;
    about 2 % come minutes late."""
    rng = random.Random(seed)
    cities = ["NYC", "LA", "SF", "CHI", "BOS", "SEA", "AUS", "DEN"]
    events = []
    for i in range(count):
        ts = BASE_MS + i * 60 - rng.randrange(0, (LATENESS_S - 2) * 1000)
        if rng.random() < 0.02:
            ts -= rng.randrange(120_000, 600_000)
        events.append({
            "city": rng.choice(cities),
            "event_type": rng.choice(["traffic", "weather", "incident", "construction"]),
            "severity": rng.choice(["low", "medium", "high", "critical"]),
            "user": "u%d" % rng.randrange(60),
            "value": rng.choice([rng.randrange(0, 100), round(rng.uniform(0, 100), 3)]),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000))
            + ".%03dZ" % (ts % 1000),
        })
    # The sentinel, an hour later in every partition's city: once it is read, every window of the
    # run above closes.
    end = BASE_MS + count * 60 + 3_600_000
    for city in cities:
        events.append({"city": city, "event_type": "traffic", "severity": "low", "user": "end",
                       "value": 0, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime(end // 1000))})
    return events


def same_numbers(values):
    """Aggregates as text where 14.0 and 14 read the same (PostgreSQL's jsonb writes 14)."""
    return json.dumps({k: int(v) if isinstance(v, float) and v.is_integer() else v
                       for k, v in values.items()}, sort_keys=True)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def expected_scorching(events):
    """The per-event rule worked out here: each city's events in the order they were posted
    (one partition per city), an alert unless the city's last one is less than the cooldown
    away in event time."""
    last, suppressed, out = {}, {}, []
    for e in events:
        if not (e["severity"] == "critical" and e["value"] > 99):
            continue
        ts = parse_ms(e["timestamp"])
        city = e["city"]
        if city in last and abs(ts - last[city]) < COOLDOWN_MS:
            suppressed[city] = suppressed.get(city, 0) + 1
            continue
        value = repr(e["value"])  # as the message template writes numbers: 100, not 100.0
        out.append((city, e["timestamp"], e["value"], suppressed.get(city, 0),
                    "%s at %s" % (city, value[:-2] if value.endswith(".0") else value)))
        last[city], suppressed[city] = ts, 0
    return sorted(out)


class Run:
    """One data directory: the events posted with no windows, then `sluice run` with them."""

    def __init__(self, binary, backend_yaml, events, postgres, database):
        # A database of its own: the sink keeps the pipeline's positions there too.
        postgres.query("CREATE DATABASE %s" % database)
        url = postgres.url.rsplit("/", 1)[0] + "/" + database
        self.dir = tempfile.mkdtemp(prefix="sluice-windows-test-")
        plain = os.path.join(self.dir, "plain.yaml")
        with open(plain, "w") as f:
            f.write(backend_yaml + STREAMS)
        self.config = os.path.join(self.dir, "windows.yaml")
        with open(self.config, "w") as f:
            # On Kafka the windows keep their state in PostgreSQL, as processes in containers do.
            store = "storage: {windows: '%s'}\n" % url if "kafka" in backend_yaml else ""
            f.write(backend_yaml + store + STREAMS + SINKS % {"url": url} + WINDOWS)
        self.postgres_url = url
        self.state_in_postgres = bool(store)
        data = os.path.join(self.dir, "data")
        poster = Server(binary, data_dir=data, config=plain).start()
        for i in range(0, len(events), 1000):
            body = "\n".join(json.dumps(e) for e in events[i:i + 1000])
            status, _, reply = poster.request("POST", "/v1/streams/city/events", body,
                                              {"Content-Type": "application/x-ndjson"})
            assert status == 202 and reply["accepted"] == len(events[i:i + 1000]), reply
        poster.stop()
        self.server = Server(binary, data_dir=data, config=self.config)
        self.data = data

    def statuses(self):
        status, _, body = self.server.request("GET", "/v1/windows")
        assert status == 200, body
        return {w["name"]: w for w in body["windows"] + body["rules"]}

    def finish(self):
        """Waits until every window before the sentinel is closed and saved."""
        def done():
            s = self.statuses()
            return all(s[n]["lag"] == 0 and s[n]["open_windows"] == SENTINEL_OPEN[n] and
                       s[n]["pending_results"] == 0 for n in SENTINEL_OPEN) and \
                s["scorching"]["lag"] == 0 and s["scorching"]["pending_alerts"] == 0
        wait_for(done, 180, "every window and rule read to the end, closed and saved")

        def delivered():
            status, _, body = self.server.request("GET", "/v1/pipelines")
            assert status == 200, body
            return {p["name"]: p for p in body["pipelines"]}["results-counts"]["lag"] == 0
        wait_for(delivered, 180, "the results of counts in the sinks")

    def psql(self, sql):
        out = subprocess.run(["psql", self.postgres_url, "-XAt", "-F", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def results(self):
        if self.state_in_postgres:
            assert not os.path.exists(os.path.join(self.data, "windows.db"))
            return [(w, k, int(s), int(e), int(n), v, 1 if f == "t" else 0) for w, k, s, e, n, v, f
                    in self.psql("SELECT window_name, key, start_ms, end_ms, events, value, final "
                                 "FROM sluice_window_results ORDER BY 1, 2, 3")]
        db = sqlite3.connect(os.path.join(self.data, "windows.db"))
        try:
            return db.execute("SELECT window, key, start, end, events, value, final "
                              "FROM window_results ORDER BY window, key, start").fetchall()
        finally:
            db.close()

    def alerts(self):
        """The stored alerts as (id, payload text)."""
        self.stored_up_to_now("alerts")
        return sorted((e["id"], json.dumps(e["payload"], sort_keys=True))
                      for e in all_events(self.server, "stream=alerts")
                      if "marker" not in e["payload"])

    def sink_rows(self, sink):
        """The counts window's results as a sink has them."""
        if sink == "results_pg":
            rows = [json.loads(p) for (p,) in self.psql("SELECT payload FROM counts")]
        else:
            db = sqlite3.connect(os.path.join(self.data, "results_db.db"))
            try:
                rows = [json.loads(p) for (p,) in db.execute("SELECT payload FROM counts")]
            finally:
                db.close()
        return sorted((r["window"], json.dumps(list(r["key"].values()), separators=(",", ":")),
                       r["start"], r["end"], r["events"], same_numbers(r["values"]),
                       r["final"]) for r in rows)

    def stored_up_to_now(self, stream):
        # The store keeps each stream in log order: once a marker sent after the window jobs
        # finished is stored, so is every event before it.
        marker = "marker-%d" % time.monotonic_ns()
        status, _, _ = self.server.request("POST", "/v1/streams/%s/events" % stream,
                                           {"marker": marker})
        assert status == 202, status
        wait_for(lambda: any(e["payload"].get("marker") == marker
                             for e in all_events(self.server, "stream=" + stream)), 60,
                 "the marker in the store")

    def late_ids(self):
        self.stored_up_to_now("dead_letters")
        return sorted(e["id"] for e in all_events(self.server, "stream=dead_letters")
                      if "marker" not in e["payload"])


def main():
    binary = sys.argv[1]
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    backend = sys.argv[3] if len(sys.argv) > 3 else "embedded"
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    events = city_events(seed, KAFKA_EVENTS if backend == "kafka" else EVENTS)
    clusters = []

    def backend_yaml():
        if backend != "kafka":
            return ""
        cluster = MockKafkaCluster(sys.argv[4], ["city:2", "dead_letters:1", "alerts:1",
                                                 "window_results:1", "events:1", "web:1",
                                                 "contact:1"])
        clusters.append(cluster)
        return "log:\n  backend: kafka\n  kafka:\n    brokers: '%s'\n" % cluster.bootstrap

    checks = Checks()
    postgres = Postgres().start()
    calm = Run(binary, backend_yaml(), events, postgres, "calm")
    crashed = Run(binary, backend_yaml(), events, postgres, "crashed")

    def read_from_the_start(run):
        # The mock cluster drops a partition's oldest batches beyond its size cap; librdkafka
        # then says so and the runs would compare different events.
        pruned = [line for line in run.server.stderr_lines if "Offset out of range" in line]
        assert not pruned, "the mock cluster dropped events, post fewer: %s" % pruned[0]

    def uninterrupted():
        calm.server.start()
        calm.finish()
        read_from_the_start(calm)
        print("uninterrupted: %d results, %d late events" % (len(calm.results()),
                                                            len(calm.late_ids())), flush=True)

    def killed_repeatedly():
        mid_run = 0
        for _ in range(cycles):
            crashed.server.start()
            time.sleep(rng.uniform(0.02, 0.25))
            statuses = crashed.statuses()
            crashed.server.kill()
            mid_run += any(w["lag"] != 0 for w in statuses.values())  # None: still starting
        print("%d of %d kills while windows were still reading" % (mid_run, cycles), flush=True)
        assert mid_run >= cycles // 4, "the kills came too late to test anything"
        crashed.server.start()
        crashed.finish()
        read_from_the_start(crashed)

    def same_results():
        a, b = calm.results(), crashed.results()
        assert len(a) > 1000, "too few results to compare: %d" % len(a)
        missing, extra = set(a) - set(b), set(b) - set(a)
        assert not missing and not extra, "differ: %d only without crashes (%s), %d only with " \
            "(%s)" % (len(missing), sorted(missing)[:2], len(extra), sorted(extra)[:2])
        kinds = {row[0] for row in a}
        assert kinds == {"counts", "rolling", "visits"}, kinds

    def results_over_http():
        # From windows.db, or from PostgreSQL on Kafka.
        for run in (calm, crashed):
            rows = sorted((r for r in run.results() if r[0] == "counts"),
                          key=lambda r: (-r[3], r[1]))[:50]
            status, _, body = run.server.request("GET", "/v1/windows/counts?limit=50&final=true")
            assert status == 200, body
            got = [(json.dumps([r["key"]["city"], r["key"]["event_type"]], separators=(",", ":")),
                    r["start"], r["events"]) for r in body["results"]]
            assert got == [(k, iso(s), n) for _, k, s, _, n, _, _ in rows], (got[:2], rows[:2])
            # Paged by cursor in both orders: every final result once, in order.
            every = sorted((r for r in run.results() if r[0] == "counts" and r[6]),
                           key=lambda r: (-r[3], r[1], -r[2]))
            want = [(k, iso(s)) for _, k, s, _, _, _, _ in every]
            for order, expect in (("desc", want),
                                  ("asc", [want[i] for i in sorted(
                                      range(len(every)),
                                      key=lambda i: (every[i][3], every[i][1], every[i][2]))])):
                paged, cursor = [], ""
                while cursor is not None:
                    status, _, body = run.server.request(
                        "GET", "/v1/windows/counts?final=true&limit=7&order=%s&cursor=%s"
                        % (order, cursor))
                    assert status == 200, body
                    paged += [(json.dumps([r["key"]["city"], r["key"]["event_type"]],
                                          separators=(",", ":")), r["start"])
                              for r in body["results"]]
                    cursor = body["next_cursor"]
                    assert len(paged) <= len(expect), (order, "pages repeat")
                assert paged == expect, (order, len(paged), len(expect), paged[:3], expect[:3])
            status, _, body = run.server.request("GET", "/v1/windows/counts?cursor=zz")
            assert status == 400 and "cursor" in body["error"], body
            city = rows[0][1]
            status, _, body = run.server.request(
                "GET", "/v1/windows/counts?key=%s" % urllib.parse.quote(city))
            assert status == 200 and body["results"], body
            assert all(json.dumps(list(r["key"].values()), separators=(",", ":")) == city
                       for r in body["results"]), body

    def results_in_sink():
        for run in (calm, crashed):
            stored = sorted((w, k, iso(s), iso(e), n, same_numbers(json.loads(v)),
                             bool(f)) for w, k, s, e, n, v, f in run.results() if w == "counts")
            for sink in ("results_db", "results_pg"):
                rows = run.sink_rows(sink)
                assert len(rows) > 100, "too few rows in %s: %d" % (sink, len(rows))
                assert rows == stored, "%s differs from windows.db: %d rows vs %d (%s)" % (
                    sink, len(rows), len(stored), sorted(set(rows) ^ set(stored))[:2])

    def same_late_events():
        a, b = calm.late_ids(), crashed.late_ids()
        assert len(a) > 100, "the stream should have late events: %d" % len(a)
        assert a == b, "late events differ: %d vs %d" % (len(a), len(b))

    def same_alerts():
        # Window alerts only, and without the event ids: each run gave its events their own.
        def busy_alerts(run):
            out = []
            for i, text in run.alerts():
                alert = json.loads(text)
                if alert["rule"] == "busy":
                    assert len(alert.pop("event_ids")) == min(alert["events"], 20), alert
                    out.append((i, alert))
            return out
        a, b = busy_alerts(calm), busy_alerts(crashed)
        assert a == b, "alerts differ: %d vs %d" % (len(a), len(b))
        busy = [p for _, p in b]
        assert len(busy) > 10, "the rule should fire: %d alerts" % len(busy)
        windows = [(p["key"]["city"], p["key"]["event_type"], p["start"]) for p in busy]
        assert len(windows) == len(set(windows)), "an alert twice for one key and window"

    def per_event_alerts():
        got = [sorted((p["key"]["city"], p["event"]["timestamp"], p["event"]["value"],
                       p["suppressed"], p["message"])
                      for p in (json.loads(p) for _, p in run.alerts())
                      if p["rule"] == "scorching")
               for run in (calm, crashed)]
        assert got[0] == got[1], "per-event alerts differ: %d vs %d (first difference %s)" % (
            len(got[0]), len(got[1]), sorted(set(got[0]) ^ set(got[1]))[:2])
        assert len(got[0]) > 10 and sum(a[3] for a in got[0]) > 10, \
            "the events should make alerts and suppress some: %d" % len(got[0])
        expected = expected_scorching(events)
        assert got[0] == expected, "per-event alerts differ from the reference: %d vs %d " \
            "(first difference %s)" % (len(got[0]), len(expected),
                                       sorted(set(got[0]) ^ set(expected))[:2])

    try:
        checks.run("uninterrupted run", uninterrupted)
        checks.run("%d SIGKILLs at random moments, then to the end" % cycles, killed_repeatedly)
        checks.run("results identical, row for row", same_results)
        checks.run("late events identical, each once", same_late_events)
        checks.run("results over HTTP, newest first, by key", results_over_http)
        checks.run("results upserted into a sink, one row each, as in windows.db",
                   results_in_sink)
        checks.run("alerts identical, one per key and window", same_alerts)
        checks.run("per-event alerts identical, as the reference computes them",
                   per_event_alerts)
    finally:
        if checks.failed:
            for run in (calm, crashed):
                print("sluice's log:\n" + "".join(run.server.stderr_lines[-20:]))
        for run in (calm, crashed):
            run.server.cleanup()
            shutil.rmtree(run.dir, ignore_errors=True)
        for cluster in clusters:
            cluster.stop()
        postgres.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
