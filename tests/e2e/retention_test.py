"""Retention and the consumers that still need what it would delete, black-box: `sluice run`
with small log segments (1 MiB) and log.retention_bytes 2 MiB, a pipeline to a webhook
receiver that is down, and (under drop_oldest) the store held busy.
- protect (the default): once the partition is at its budget, ingest answers 503 naming
  log.retention_bytes and the consumer behind; when the receiver comes back it gets every
  acknowledged event, and the store holds them all;
- drop_oldest: every post is accepted; what retention deleted before the pipeline and the store
  read it is counted (sluice_log_skipped_events_total by consumer, `skipped` in
  GET /v1/pipelines), and `stored` in GET /v1/streams is what the store holds.

usage: retention_test.py SLUICE_BINARY [sqlite|postgres]
"""

import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Receiver, Server, Store, wait_for  # noqa: E402

PAD = "x" * 120  # about 250 bytes per event in the log
BATCH = 200


class HookReceiver(Receiver):
    """Keeps the ids delivered; answers 503 while `down` (it starts down)."""

    def __init__(self):
        self.ids, self.down = set(), True
        super().__init__(self.take)

    def take(self, path, headers, body):
        if self.down:
            return 503
        with self.lock:
            self.ids.update(e["id"] for e in json.loads(body))
        return 200


def store_config(store, schema):
    """Each server its own PostgreSQL schema: a fresh data directory must not take another's
    committed offsets."""
    if not store.postgres:
        return ""
    return "store: {url: '%s', schema: %s}\n" % (store.postgres.url, schema)


def config(receiver, store, policy):
    return """
log: {segment_bytes: 1MiB, retention_bytes: 2MiB, retention_policy: %s}
streams:
  events: {}
  dead_letters: {}
sinks:
  hook: {webhook: {url: 'http://127.0.0.1:%d/in'}}
pipelines:
  out: {from: [events], to: [hook], batch: {max_events: 500}}
%s""" % (policy, receiver.port, store_config(store, policy))


def post(server, conn, first):
    batch = [{"id": "e%d" % n, "pad": PAD} for n in range(first, first + BATCH)]
    return server.request("POST", "/v1/streams/events/events", batch, conn=conn)


def streams_entry(server):
    status, _, body = server.request("GET", "/v1/streams")
    assert status == 200, (status, body)
    return next(s for s in body["streams"] if s["name"] == "events")


def pipeline_status(server):
    status, _, body = server.request("GET", "/v1/pipelines")
    assert status == 200, (status, body)
    return body["pipelines"][0]


def skipped_metric(server, consumer):
    _, _, text = server.request("GET", "/metrics")
    prefix = 'sluice_log_skipped_events_total{consumer="%s"} ' % consumer
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix):]))
    return 0


def check_protect(binary, store):
    receiver = HookReceiver()
    server = Server(binary, config_text=config(receiver, store, "protect")).start()
    try:
        conn = server.connection()
        accepted, refusal = 0, None
        for _ in range(200):  # 40 000 events, four times the budget
            status, _, body = post(server, conn, accepted)
            if status == 202:
                accepted += BATCH
                continue
            refusal = (status, body)
            break
        conn.close()
        assert refusal, "20 000 events over a 2 MiB budget were all accepted"
        status, body = refusal
        assert status == 503, refusal
        message = json.dumps(body)
        assert "log.retention_bytes" in message and "pipeline.out" in message, message
        assert accepted >= 4000, "refused after only %d events" % accepted
        # The receiver comes back: every acknowledged event arrives, none was deleted unread.
        receiver.down = False
        wait_for(lambda: len(receiver.ids) >= accepted, 120, "every accepted event delivered")
        assert receiver.ids == {"e%d" % n for n in range(accepted)}
        wait_for(lambda: streams_entry(server).get("stored") == accepted, 60, "all stored")
        assert skipped_metric(server, "pipeline.out") == 0
        assert pipeline_status(server)["skipped"] == 0
        # The consumers caught up: retention makes room and ingest goes on.
        wait_for(lambda: post(server, None, accepted)[0] == 202, 60, "ingest accepted again")
    finally:
        server.cleanup()
        receiver.shutdown()


class BusyStore:
    """Keeps the store from taking writes: a write transaction on the SQLite file, or a lock
    on the events table in PostgreSQL, until release()."""

    def __init__(self, store, data_dir):
        self.db = self.psql = None
        if store.postgres:
            self.psql = subprocess.Popen(["psql", store.postgres.url, "-XqAt"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
            self.psql.stdin.write("BEGIN; LOCK TABLE drop_oldest.events IN ACCESS EXCLUSIVE "
                                  "MODE; SELECT 'locked';\n")
            self.psql.stdin.flush()
            assert self.psql.stdout.readline().strip() == "locked"
        else:
            self.db = sqlite3.connect(os.path.join(data_dir, "sluice.db"), isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        if self.db:
            self.db.execute("ROLLBACK")
            self.db.close()
        if self.psql:
            self.psql.stdin.write("ROLLBACK;\n")
            self.psql.stdin.close()
            self.psql.wait(timeout=30)

    def rows(self, store, data_dir):
        if store.postgres:
            return int(store.postgres.query("SELECT count(*) FROM drop_oldest.events")[0][0])
        db = sqlite3.connect(os.path.join(data_dir, "sluice.db"))
        try:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            db.close()


def check_drop_oldest(binary, store):
    receiver = HookReceiver()
    server = Server(binary, config_text=config(receiver, store, "drop_oldest")).start()
    busy = None
    try:
        # The store has made its tables once the first event is stored.
        assert post(server, None, 0)[0] == 202
        wait_for(lambda: streams_entry(server).get("stored") == BATCH, 30, "first batch stored")
        busy = BusyStore(store, server.data_dir)
        conn = server.connection()
        accepted = BATCH
        while accepted < 20000:
            status, _, body = post(server, conn, accepted)
            assert status == 202, (status, body)
            accepted += BATCH
        conn.close()
        busy.release()
        busy = None
        receiver.down = False
        wait_for(lambda: pipeline_status(server)["lag"] == 0, 120, "the pipeline caught up")
        wait_for(lambda: streams_entry(server).get("stored") is not None and
                 skipped_metric(server, "store") > 0 and
                 streams_entry(server)["stored"] + skipped_metric(server, "store") == accepted,
                 120, "the store caught up, with the events it skipped counted")
        skipped = skipped_metric(server, "pipeline.out")
        assert skipped > 0, "retention deleted nothing the pipeline had not read"  # noqa
        assert pipeline_status(server)["skipped"] == skipped, (pipeline_status(server), skipped)
        assert len(receiver.ids) + skipped == accepted, (len(receiver.ids), skipped, accepted)
        stored = streams_entry(server)["stored"]
        rows = BusyStore.rows(None, store, server.data_dir)
        assert stored == rows, "stored=%d but the store holds %d events" % (stored, rows)
        logged = "".join(server.stderr_lines)
        for consumer in ("pipeline.out", "store"):
            assert "retention deleted events before %s read them" % consumer in logged, consumer
    finally:
        if busy:
            busy.release()
        server.cleanup()
        receiver.shutdown()


def main():
    binary = sys.argv[1]
    store = Store(sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    checks = Checks()
    try:
        checks.run("protect: 503 at the budget, every acknowledged event delivered and stored",
                   check_protect, binary, store)
        checks.run("drop_oldest: skips counted by consumer, stored is what the store holds",
                   check_drop_oldest, binary, store)
    finally:
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
