"""Pipelines under crashes: `sluice run` with two pipelines reading the same stream, one into a
SQL database (filtered, exactly once) and one into NDJSON files (at least once), is SIGKILLed at
random moments while clients post, 20 times. Then, after a clean start:
- every acknowledged event that passes the filter is in the database table exactly once, no
  event there is twice (acknowledged or not) and none that the filter drops;
- every acknowledged event is in the files at least once;
- a pipeline that starts with `start: latest` sees only events sent after it first started.
The same suite runs with the `sqlite` sink and with the `postgres` sink (a real PostgreSQL
server from scripts/test-postgres); with PostgreSQL it also kills the process 20 times exactly
between a batch's COPY and its COMMIT (held there by a lock), checks each column's value and
the error for a table that does not fit, and stops the database while clients post: the pipeline shows its lag and retries, and once the database is back every acknowledged
event is stored, once.

usage: pipeline_test.py SLUICE_BINARY [CYCLES] [sqlite|postgres]
"""

import collections
import glob
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Poster, Postgres, Server, all_events, wait_for  # noqa: E402

CLIENTS = 3
BATCH = 20

CONFIG = """
sinks:
  warehouse:
    %(warehouse)s
  archive:
    file: {rotate_bytes: 256KiB}
  recent:
    file: {}
pipelines:
  keep:
    from: [events]
    steps:
      - filter: 'kind == "keep"'
    to: [warehouse]
    batch: {max_events: 50}
  archive:
    from: [events]
    to: [archive]
%(latest)s
"""

LATEST = """
  recent:
    from: [events]
    start: latest
    to: [recent]
"""


def keep_and_drop(name):
    """Batches for a Poster: every other event passes the keep pipeline's filter."""
    return lambda n: [{"uid": "%s-%d-%d" % (name, n, i), "kind": "keep" if i % 2 == 0 else "drop"}
                      for i in range(BATCH)]


class SqliteWarehouse:
    sink = "sqlite: {table: kept}"

    def __init__(self):
        self.data_dir = None

    def uids(self):
        return sqlite_uids(self.data_dir)

    def cleanup(self):
        pass


class PostgresWarehouse:
    def __init__(self):
        self.db = Postgres().start()
        self.sink = "postgres: {url: '%s', table: kept}" % self.db.url

    def uids(self):
        try:
            return [row[0] for row in self.db.query("SELECT payload->>'uid' FROM kept")]
        except subprocess.CalledProcessError:
            return []  # not created yet, or the server is down

    def cleanup(self):
        self.db.cleanup()


def sqlite_uids(data_dir):
    path = os.path.join(data_dir, "warehouse.db")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(path, timeout=10)
    try:
        return [json.loads(row[0])["uid"] for row in db.execute("SELECT payload FROM kept")]
    except sqlite3.OperationalError:
        return []  # the table is not created yet
    finally:
        db.close()


def file_uids(data_dir, sink):
    uids = []
    for path in sorted(glob.glob(os.path.join(data_dir, "files", sink, "*.ndjson"))):
        with open(path) as f:
            for line in f:
                # The last line of a file may be cut short by a kill: it was never delivered.
                try:
                    uids.append(json.loads(line)["payload"]["uid"])
                except ValueError:
                    pass
    return uids


def post(server, uids):
    body = "\n".join(json.dumps({"uid": u, "kind": "keep"}) for u in uids)
    status, _, _ = server.request("POST", "/v1/streams/events/events", body,
                                  {"Content-Type": "application/x-ndjson"})
    assert status == 202, status


def main():
    binary = sys.argv[1]
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    kind = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
    warehouse = PostgresWarehouse() if kind == "postgres" else SqliteWarehouse()
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="sluice-pipeline-test-")
    config = os.path.join(workdir, "sluice.yaml")
    with open(config, "w") as f:
        f.write(CONFIG % {"warehouse": warehouse.sink, "latest": ""})
    server = Server(binary, config=config)
    warehouse.data_dir = server.data_dir
    acked = []

    def crash_cycles():
        for cycle in range(cycles):
            server.start()
            clients = [Poster(server.port, keep_and_drop("c%d.%d" % (cycle, k)), acked)
                       for k in range(CLIENTS)]
            for c in clients:
                c.start()
            time.sleep(rng.uniform(0.05, 0.4))
            server.kill()
            for c in clients:
                c.finish()
        print("%d cycles, %d events acknowledged" % (cycles, len(acked)), flush=True)
        assert len(acked) > 1000, "too few events acknowledged to test anything"

    def ensure_running():
        if not server.proc or server.proc.poll() is not None:
            server.start()

    def exactly_once():
        ensure_running()
        keep = {e["uid"] for e in acked if e["kind"] == "keep"}
        wait_for(lambda: keep <= set(warehouse.uids()), 120,
                 "every acknowledged kept event in the database")
        stored = warehouse.uids()
        twice = [u for u, n in collections.Counter(stored).items() if n > 1]
        assert not twice, "stored twice: %s" % twice[:5]
        dropped = {e["uid"] for e in acked if e["kind"] == "drop"}
        assert not dropped & set(stored), "the filter let through %s" % list(dropped & set(stored))[:5]
        print("%s: %d rows, %d acknowledged kept events, none twice" % (kind, len(stored),
                                                                        len(keep)))

    def database_outage():
        # Clients post while the database is stopped; acknowledged events wait in the log.
        ensure_running()
        wait_for(lambda: status_of("keep")["lag"] == 0, 120, "the keep pipeline caught up")
        warehouse.db.stop()
        clients = [Poster(server.port, keep_and_drop("outage.%d" % k), acked)
                   for k in range(CLIENTS)]
        for c in clients:
            c.start()
        wait_for(lambda: status_of("keep")["state"] == "retrying", 30, "the pipeline retrying")
        time.sleep(0.5)  # more posts while it is down; nothing below depends on how many
        for c in clients:
            c.finish()
        down = status_of("keep")
        assert down["lag"] > 0 and "postgres" in down["last_error"], down
        print("database down: lag %d, last error %r" % (down["lag"], down["last_error"]))
        warehouse.db.start()
        wait_for(lambda: status_of("keep")["lag"] == 0, 120, "catching up after the outage")
        exactly_once()

    def repeated_id_stored_once():
        # A client retrying with the same id, in a later batch and within one batch: the
        # database keeps one row (postgres: the COPY fails on the id and the batch goes through
        # the ON CONFLICT path instead).
        ensure_running()
        first = {"id": "same-id-1", "uid": "dup-first", "kind": "keep"}
        status, _, _ = server.request("POST", "/v1/streams/events/events", first)
        assert status == 202
        wait_for(lambda: "dup-first" in warehouse.uids(), 30, "the first copy stored")
        again = [{"id": "same-id-1", "uid": "dup-again", "kind": "keep"},
                 {"id": "same-id-2", "uid": "dup-pair-1", "kind": "keep"},
                 {"id": "same-id-2", "uid": "dup-pair-2", "kind": "keep"},
                 {"uid": "dup-after", "kind": "keep"}]
        status, _, _ = server.request("POST", "/v1/streams/events/events",
                                      "\n".join(json.dumps(e) for e in again),
                                      {"Content-Type": "application/x-ndjson"})
        assert status == 202
        wait_for(lambda: "dup-after" in warehouse.uids(), 30, "the batch after the repeat")
        stored = warehouse.uids()
        assert "dup-again" not in stored, "a repeated id was stored twice"
        assert ("dup-pair-1" in stored) != ("dup-pair-2" in stored), stored[-5:]

    def killed_between_copy_and_commit():
        # The exact moment the exactly-once claim is about: the batch's rows are COPYed into the
        # table inside the sink's transaction, and the process dies before COMMIT. Another
        # session locks the positions table, so the sink's transaction stops right after the
        # COPY, at the position update; PostgreSQL shows it waiting; then the process is killed.
        for cycle in range(cycles):
            ensure_running()
            wait_for(lambda: status_of("keep")["lag"] == 0, 60, "the keep pipeline caught up")
            blocker = subprocess.Popen(["psql", warehouse.db.url, "-Xq"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
            try:
                blocker.stdin.write("BEGIN; LOCK TABLE sluice_positions IN SHARE ROW"
                                    " EXCLUSIVE MODE;\n\\echo locked\n")
                blocker.stdin.flush()
                assert blocker.stdout.readline().strip() == "locked"
                uids = ["between-%d-%d" % (cycle, i) for i in range(BATCH)]
                post(server, uids)
                acked.extend({"uid": u, "kind": "keep"} for u in uids)

                def sink_waiting_on_the_lock():
                    return warehouse.db.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE 'INSERT INTO sluice_positions%'") == [["1"]]
                wait_for(sink_waiting_on_the_lock, 30, "the sink's COPY done, COMMIT not yet")
                server.kill()
            finally:
                blocker.stdin.write("COMMIT;\n")
                blocker.stdin.close()
                blocker.wait(timeout=30)
        exactly_once()
        stored = set(warehouse.uids())
        assert all("between-%d-0" % c in stored for c in range(cycles)), "a killed batch lost"

    def refused_value_costs_one_event():
        # The table refuses one value (a CHECK constraint; the collector itself refuses the
        # NUL characters that jsonb would): the COPY of the whole batch fails with an
        # integrity error, and the pipeline splits the batch until that event is alone; the
        # others are stored.
        ensure_running()
        wait_for(lambda: warehouse.uids(), 30, "the table made by the sink")
        warehouse.db.query("ALTER TABLE kept ADD CONSTRAINT no_poison "
                           "CHECK (payload->>'text' IS DISTINCT FROM 'poison') NOT VALID")
        batch = [{"uid": "refused-%d" % i, "kind": "keep", "text": "fine"} for i in range(9)]
        batch[4]["text"] = "poison"
        status, _, _ = server.request("POST", "/v1/streams/events/events", batch)
        assert status == 202, status
        others = {e["uid"] for e in batch} - {"refused-4"}
        wait_for(lambda: others <= set(warehouse.uids()), 30, "the batch's other events stored")

        def dead():
            return [e["payload"] for e in all_events(server, "stream=dead_letters")
                    if e["payload"]["event"]["payload"].get("uid", "").startswith("refused-")]
        wait_for(lambda: dead(), 30, "the refused event in dead_letters")
        [record] = dead()
        assert record["event"]["payload"]["uid"] == "refused-4", record
        assert record["sink"] == "warehouse" and "no_poison" in record["error"], record
        assert "refused-4" not in warehouse.uids()
        warehouse.db.query("ALTER TABLE kept DROP CONSTRAINT no_poison")

    def columns_stored_as_sent():
        # Every column goes over COPY's binary format: time to the millisecond, NULL key, text
        # with tabs, newlines, backslashes and non-ASCII kept byte for byte.
        ensure_running()
        text = "tab\t nl\n bs\\ quote\" \u00e9 \u2713"
        event = {"id": "cols-1", "uid": "cols", "kind": "keep", "type": "page\tview",
                 "timestamp": "2026-01-02T03:04:05.678Z", "text": text}
        status, _, _ = server.request("POST", "/v1/streams/events/events", event)
        assert status == 202, status
        wait_for(lambda: "cols" in warehouse.uids(), 30, "the event in the table")
        [[row]] = warehouse.db.query(
            "SELECT row_to_json(r) FROM (SELECT id, stream, key, type, payload,"
            " to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS ts,"
            " received_at > now() - interval '5 minutes' AS fresh FROM kept"
            " WHERE id = 'cols-1') r")
        row = json.loads(row)
        assert row["ts"] == "2026-01-02T03:04:05.678", row
        assert row["stream"] == "events" and row["key"] is None and row["fresh"], row
        assert row["type"] == "page\tview", row
        assert row["payload"]["text"] == text, row

    def misfit_table_named():
        # A table made by hand with a column the sink cannot write: the pipeline retries and
        # says which column and what it wants, instead of writing garbage.
        warehouse.db.query("CREATE TABLE misfit (stream text, id text, ts text,"
                           " received_at timestamptz, key text, type text, payload jsonb)")
        path = os.path.join(workdir, "misfit.yaml")
        with open(path, "w") as f:
            f.write("sinks: {m: {postgres: {url: '%s', table: misfit}}}\n"
                    "pipelines: {m: {from: [events], to: [m]}}\n" % warehouse.db.url)
        other = Server(binary, config=path)
        try:
            other.start()
            post(other, ["misfit-1"])

            def misfit_status():
                status, _, body = other.request("GET", "/v1/pipelines")
                return body["pipelines"][0]
            wait_for(lambda: misfit_status()["state"] == "retrying", 30, "the pipeline retrying")
            error = misfit_status()["last_error"]
            assert "misfit does not fit" in error and "ts is text (want timestamptz)" in error, error
        finally:
            other.cleanup()

    def status_of(name):
        status, _, body = server.request("GET", "/v1/pipelines")
        assert status == 200, (status, body)
        return {p["name"]: p for p in body["pipelines"]}[name]

    def files_at_least_once():
        everything = {e["uid"] for e in acked}
        wait_for(lambda: everything <= set(file_uids(server.data_dir, "archive")), 120,
                 "every acknowledged event in the archive files")
        files = glob.glob(os.path.join(server.data_dir, "files", "archive", "*.ndjson"))
        print("files: %d files, %d lines" % (len(files), len(file_uids(server.data_dir, "archive"))))
        assert len(files) > 1, "rotate_bytes did not rotate"

    def latest_sees_only_new_events():
        post(server, ["before-latest"])
        server.stop()
        with open(config, "w") as f:
            f.write(CONFIG % {"warehouse": warehouse.sink, "latest": LATEST})
        server.start()
        post(server, ["after-latest"])
        wait_for(lambda: "after-latest" in file_uids(server.data_dir, "recent"), 30,
                 "the new event in the latest pipeline's files")
        seen = file_uids(server.data_dir, "recent")
        assert seen == ["after-latest"], seen
        # Restarted, it goes on from its committed position, not from a new "latest".
        server.stop()
        server.start()
        post(server, ["after-restart"])
        wait_for(lambda: "after-restart" in file_uids(server.data_dir, "recent"), 30,
                 "the next event after a restart")
        seen = file_uids(server.data_dir, "recent")
        assert seen == ["after-latest", "after-restart"], seen

    def documented_example_runs():
        # docs/pipelines.md: examples/pipelines.yaml and the curl example, as written.
        example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pipelines.yaml")
        other = Server(binary, config=example)
        try:
            other.start()
            status, _, _ = other.request("POST", "/v1/streams/events/events",
                                         '{"type":"TEMP","value":"93","sensor":"s1"}')
            assert status == 202, status
            path = os.path.join(other.data_dir, "readings.db")

            def stored():
                if not os.path.exists(path):
                    return []
                db = sqlite3.connect(path, timeout=10)
                try:
                    return [json.loads(r[0]) for r in db.execute("SELECT payload FROM readings")]
                except sqlite3.OperationalError:
                    return []
                finally:
                    db.close()
            wait_for(lambda: stored(), 30, "the example's reading in readings.db")
            expected = {"type": "TEMP", "value": 93, "device": {"id": "s1"}, "alert": True}
            assert stored() == [expected], stored()
        finally:
            other.cleanup()

    try:
        checks.run("docs/pipelines.md: examples/pipelines.yaml runs as documented",
                   documented_example_runs)
        checks.run("20 SIGKILLs while posting", crash_cycles)
        checks.run("%s pipeline: filtered, every acknowledged event exactly once" % kind,
                   exactly_once)
        checks.run("a repeated id is stored once", repeated_id_stored_once)
        if kind == "postgres":
            checks.run("killed between COPY and COMMIT, %d times: once" % cycles,
                       killed_between_copy_and_commit)
            checks.run("a value PostgreSQL refuses costs that event only (dead-lettered)",
                       refused_value_costs_one_event)
            checks.run("every column stored as sent (binary COPY)", columns_stored_as_sent)
            checks.run("a table that does not fit is named with its column", misfit_table_named)
            checks.run("PostgreSQL stopped and restarted while clients post: no loss, once",
                       database_outage)
        checks.run("file pipeline: every acknowledged event at least once, rotated",
                   files_at_least_once)
        checks.run("start: latest skips older events and resumes after a restart",
                   latest_sees_only_new_events)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-30:]))
        server.cleanup()
        warehouse.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
