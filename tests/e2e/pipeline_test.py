"""Pipelines under crashes: `sluice run` with two pipelines reading the same stream, one into
SQLite (filtered, exactly once) and one into NDJSON files (at least once), is SIGKILLed at
random moments while clients post, 20 times. Then, after a clean start:
- every acknowledged event that passes the filter is in the SQLite table exactly once, no event
  there is twice (acknowledged or not) and none that the filter drops;
- every acknowledged event is in the files at least once;
- a pipeline that starts with `start: latest` sees only events sent after it first started.

usage: pipeline_test.py SLUICE_BINARY [CYCLES]
"""

import collections
import glob
import http.client
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

CLIENTS = 3
BATCH = 20

CONFIG = """
sinks:
  warehouse:
    sqlite: {table: kept}
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
%s
"""

LATEST = """
  recent:
    from: [events]
    start: latest
    to: [recent]
"""


class Client(threading.Thread):
    """Posts batches until stopped or the server goes away; records what was acknowledged."""

    def __init__(self, port, name, acked):
        super().__init__(daemon=True)
        self.port, self.name, self.acked = port, name, acked
        self.stop = False

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stop:
            events = [{"uid": "%s-%d-%d" % (self.name, n, i),
                       "kind": "keep" if i % 2 == 0 else "drop"} for i in range(BATCH)]
            n += 1
            body = "\n".join(json.dumps(e) for e in events)
            try:
                conn.request("POST", "/v1/streams/events/events", body,
                             {"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                reply = resp.read()
            except (OSError, http.client.HTTPException):
                return  # killed: this batch is unacknowledged
            if resp.status != 202:
                raise AssertionError("unexpected %d: %r" % (resp.status, reply))
            self.acked.extend(events)


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
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="sluice-pipeline-test-")
    config = os.path.join(workdir, "sluice.yaml")
    with open(config, "w") as f:
        f.write(CONFIG % "")
    server = Server(binary, config=config)
    acked = []

    def crash_cycles():
        for cycle in range(cycles):
            server.start()
            clients = [Client(server.port, "c%d.%d" % (cycle, k), acked) for k in range(CLIENTS)]
            for c in clients:
                c.start()
            time.sleep(rng.uniform(0.05, 0.4))
            server.kill()
            for c in clients:
                c.stop = True
                c.join(timeout=30)
                assert not c.is_alive(), "client hung after the kill"
        print("%d cycles, %d events acknowledged" % (cycles, len(acked)), flush=True)
        assert len(acked) > 1000, "too few events acknowledged to test anything"

    def sqlite_exactly_once():
        server.start()
        keep = {e["uid"] for e in acked if e["kind"] == "keep"}
        wait_for(lambda: keep <= set(sqlite_uids(server.data_dir)), 120,
                 "every acknowledged kept event in SQLite")
        stored = sqlite_uids(server.data_dir)
        twice = [u for u, n in collections.Counter(stored).items() if n > 1]
        assert not twice, "stored twice: %s" % twice[:5]
        dropped = {e["uid"] for e in acked if e["kind"] == "drop"}
        assert not dropped & set(stored), "the filter let through %s" % list(dropped & set(stored))[:5]
        print("sqlite: %d rows, %d acknowledged kept events, none twice" % (len(stored), len(keep)))

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
            f.write(CONFIG % LATEST)
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
        checks.run("SQLite pipeline: filtered, every acknowledged event exactly once",
                   sqlite_exactly_once)
        checks.run("file pipeline: every acknowledged event at least once, rotated",
                   files_at_least_once)
        checks.run("start: latest skips older events and resumes after a restart",
                   latest_sees_only_new_events)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
