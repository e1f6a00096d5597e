"""Chaos: `sluice run` on PostgreSQL with a pipeline to a webhook receiver, under steady load,
SIGKILLed every 0.5 to 3.5 s for DURATION seconds while PostgreSQL and the receiver go away and
come back. Then, with everything up again:
- every acknowledged event is in the store once (events carry no client id: the collector makes
  one, so a duplicate would not hide behind the store's unique key; each event is recognised by
  the `uid` in its payload), and every event of an acknowledged request that the schema refused
  is in the dead letters once;
- the counters reconcile: for every stream, stored = in the log (nothing in flight), and the
  acknowledged events = stored + dead-lettered (of those acknowledged);
- the receiver got every stored event (at least once: a delivery cut by a kill is sent again).
The figures are printed for docs/benchmarks.md. `make chaos` runs 300 s; `make test` a short
form.

usage: chaos_test.py SLUICE_BINARY [DURATION_SECONDS]
"""

import http.client
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Postgres, Receiver, Server, wait_for  # noqa: E402

CLIENTS = 3
BATCH = 20

CONFIG = """
store: {url: '%(pg)s'}
streams:
  events:
    dead_letter: dead_letters
    schema: {type: object, required: [uid, n], properties: {uid: {type: string},
             n: {type: integer}}}
  dead_letters: {}
sinks:
  hook: {webhook: {url: 'http://127.0.0.1:%(hook)d/in', timeout: 2s}}
pipelines:
  out: {from: [events], to: [hook], batch: {max_events: 200}}
"""


class HookReceiver(Receiver):
    """Records the uid of every event delivered; answers 503 while `down`."""

    def __init__(self):
        self.uids, self.down, self.requests = set(), False, 0
        super().__init__(self.take)

    def take(self, path, headers, body):
        if self.down:
            return 503
        uids = [e["payload"].get("uid") for e in json.loads(body)]
        with self.lock:
            self.uids.update(uids)
            self.requests += 1
        return 200


class Client(threading.Thread):
    """Posts batches (one in eight events refused by the schema) until told to stop, across
    the server's deaths: a request that gets no 202 is unacknowledged, and the client goes on
    with a new connection."""

    def __init__(self, port, name, acked, refused):
        super().__init__(daemon=True)
        self.port, self.name, self.acked, self.refused = port, name, acked, refused
        self.stop = False
        self.sent = 0
        self.failed = 0

    def run(self):
        conn = None
        n = 0
        while not self.stop:
            events = []
            for i in range(BATCH):
                uid = "%s-%d-%d" % (self.name, n, i)
                events.append({"uid": uid, "n": "bad" if i % 8 == 7 else i, "pad": "x" * 80})
            n += 1
            body = "\n".join(json.dumps(e) for e in events)
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/v1/streams/events/events", body,
                             {"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                conn = None
                self.failed += 1
                time.sleep(0.05)
                continue
            if resp.status == 202:
                self.acked.extend(e["uid"] for e in events if e["n"] != "bad")
                self.refused.extend(e["uid"] for e in events if e["n"] == "bad")
                self.sent += 1
            else:
                self.failed += 1
            time.sleep(0.01)

    def finish(self):
        self.stop = True
        self.join(timeout=30)
        assert not self.is_alive(), "client hung"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counts(pg, stream, field):
    """uid -> how many times the store holds it, in `stream`."""
    rows = pg.query("SELECT %s, count(*) FROM sluice.events WHERE stream = '%s' GROUP BY 1"
                    % (field, stream))
    return {uid: int(n) for uid, n in rows}


def main():
    binary = sys.argv[1]
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    seed = int(os.environ.get("SLUICE_CHAOS_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CHAOS_SEED to repeat); %d s of chaos" % (seed, duration),
          flush=True)
    rng = random.Random(seed)
    checks = Checks()
    pg = Postgres().start()
    receiver = HookReceiver()
    data_dir = tempfile.mkdtemp(prefix="sluice-chaos-")
    port = free_port()
    server = Server(binary, data_dir=data_dir, listen="127.0.0.1:%d" % port,
                    config_text=CONFIG % {"pg": pg.url, "hook": receiver.port})
    acked, refused = [], []
    figures = {"kills": 0, "pg_outages": 0, "receiver_outages": 0, "requests": 0,
               "failed_requests": 0}

    def chaos():
        server.start()
        clients = [Client(port, "c%d" % k, acked, refused) for k in range(CLIENTS)]
        for c in clients:
            c.start()
        end = time.monotonic() + duration
        next_pg = time.monotonic() + rng.uniform(5, 15)
        next_receiver = time.monotonic() + rng.uniform(2, 6)
        pg_back = receiver_back = None
        while time.monotonic() < end:
            time.sleep(rng.uniform(0.5, 3.5))
            now = time.monotonic()
            server.kill()
            figures["kills"] += 1
            # The dependencies go away and come back on their own schedules.
            if pg_back is None and now >= next_pg:
                pg.stop()
                figures["pg_outages"] += 1
                pg_back = now + rng.uniform(2, 6)
            elif pg_back is not None and now >= pg_back:
                pg.start()
                pg_back, next_pg = None, now + rng.uniform(8, 20)
            if receiver_back is None and now >= next_receiver:
                receiver.down = True
                figures["receiver_outages"] += 1
                receiver_back = now + rng.uniform(2, 8)
            elif receiver_back is not None and now >= receiver_back:
                receiver.down = False
                receiver_back, next_receiver = None, now + rng.uniform(3, 10)
            server.start()
        for c in clients:
            c.finish()
            figures["requests"] += c.sent
            figures["failed_requests"] += c.failed
        if pg_back is not None:
            pg.start()
        receiver.down = False
        assert figures["requests"] > figures["kills"], figures

    def reconciled():
        # Everything sent before the marker is processed once the marker is.
        status, _, _ = server.request("POST", "/v1/streams/events/events",
                                      {"uid": "marker", "n": 0})
        assert status == 202

        def settled():
            status, _, body = server.request("GET", "/v1/streams")
            return status == 200 and all(s["stored"] == s["in_log"] for s in body["streams"])

        wait_for(settled, 300, "stored = in the log for every stream")
        stored = counts(pg, "events", "payload->>'uid'")
        dead = counts(pg, "dead_letters", "(payload->>'event')::json->>'uid'")
        twice = [u for u, n in stored.items() if n > 1] + [u for u, n in dead.items() if n > 1]
        missing = [u for u in acked if u not in stored]
        lost_refusals = [u for u in refused if u not in dead]
        _, _, streams = server.request("GET", "/v1/streams")
        by_name = {s["name"]: s for s in streams["streams"]}
        figures.update({
            "acknowledged_events": len(acked) + len(refused),
            "acknowledged_valid": len(acked), "acknowledged_refused": len(refused),
            "stored": sum(stored.values()), "dead_lettered": sum(dead.values()),
            "stored_unacknowledged": len(set(stored) - set(acked) - {"marker"}),
            "in_log_events": by_name["events"]["in_log"],
            "in_log_dead_letters": by_name["dead_letters"]["in_log"]})
        assert not missing, "%d acknowledged events missing, e.g. %s" % (len(missing),
                                                                         missing[:5])
        assert not lost_refusals, "%d refused events not in the dead letters, e.g. %s" % (
            len(lost_refusals), lost_refusals[:5])
        assert not twice, "%d events stored twice, e.g. %s" % (len(twice), twice[:5])
        assert len(acked) + len(refused) == len(set(acked) & set(stored)) + \
            len(set(refused) & set(dead)), "accepted != stored + dead-lettered"
        wait_for(lambda: server.request("GET", "/v1/pipelines")[2]["pipelines"][0]["lag"] == 0,
                 300, "the pipeline caught up")
        with receiver.lock:
            undelivered = [u for u in acked if u not in receiver.uids]
        figures["delivered_requests"] = receiver.requests
        assert not undelivered, "%d stored events never reached the receiver, e.g. %s" % (
            len(undelivered), undelivered[:5])

    try:
        checks.run("%d s of SIGKILLs every 0.5-3.5 s with PostgreSQL and the receiver going "
                   "away" % duration, chaos)
        checks.run("every acknowledged event stored once, dead letters kept, counters "
                   "reconciled, everything delivered", reconciled)
        print("figures: " + json.dumps(figures), flush=True)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-40:]))
        server.cleanup()
        pg.cleanup()
        receiver.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    main()
