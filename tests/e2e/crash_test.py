"""Crash safety: SIGKILL `sluice run` at random moments while clients ingest at full speed, 50
times; then check that every acknowledged event is stored, and none is stored twice.

Events carry no client id (the collector generates one), so a duplicate would not be hidden by
the store's unique (stream, id) key: each event is recognised by the `uid` in its payload.
Requests in flight at the kill were never acknowledged; their events may or may not be stored,
but never twice.

usage: crash_test.py SLUICE_BINARY [CYCLES]
"""

import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CLIENTS = 4
BATCH = 25


class Client(threading.Thread):
    """Posts batches until stopped or the server goes away; records what was acknowledged."""

    def __init__(self, port, name, acked):
        super().__init__(daemon=True)
        self.port, self.name, self.acked = port, name, acked
        self.stop = False
        self.sent = 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stop:
            uids = ["%s-%d-%d" % (self.name, n, i) for i in range(BATCH)]
            n += 1
            body = "\n".join(json.dumps({"type": "crash", "uid": u, "pad": "x" * 120})
                             for u in uids)
            try:
                conn.request("POST", "/v1/streams/events/events", body,
                             {"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                reply = resp.read()
            except (OSError, http.client.HTTPException):
                return  # the server was killed: this batch is unacknowledged
            if resp.status != 202:
                raise AssertionError("unexpected %d: %r" % (resp.status, reply))
            self.acked.extend(uids)
            self.sent += 1


def main():
    binary = sys.argv[1]
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    checks = Checks()
    server = Server(binary)
    acked = []  # list.extend is atomic under the GIL
    state = {"requests": 0}

    def crash_cycles():
        for cycle in range(cycles):
            server.start()
            clients = [Client(server.port, "c%d.%d" % (cycle, k), acked) for k in range(CLIENTS)]
            for c in clients:
                c.start()
            # Kill at a random moment once the clients are in full flow.
            time.sleep(rng.uniform(0.05, 0.4))
            server.kill()
            for c in clients:
                c.stop = True
                c.join(timeout=30)
                assert not c.is_alive(), "client hung after the kill"
                state["requests"] += c.sent
        assert state["requests"] > cycles, "almost nothing was acknowledged: %d requests" % (
            state["requests"])

    def all_acknowledged_stored_once():
        server.start()
        # The processor stores each stream in log order, so once an event sent after every
        # other one is visible, everything before it is stored too.
        status, _, _ = server.request("POST", "/v1/streams/events/events",
                                      {"type": "marker", "uid": "marker"})
        assert status == 202
        wait_for(lambda: len(all_events(server, "type=marker")) == 1, 120, "the marker event")
        stored = [e["payload"]["uid"] for e in all_events(server, "type=crash")]
        counts = {}
        for uid in stored:
            counts[uid] = counts.get(uid, 0) + 1
        twice = [u for u, c in counts.items() if c > 1]
        missing = [u for u in acked if u not in counts]
        print("acknowledged %d events in %d requests over %d kills; stored %d" % (
            len(acked), state["requests"], cycles, len(stored)), flush=True)
        assert not missing, "%d acknowledged events missing, e.g. %s" % (len(missing),
                                                                         missing[:5])
        assert not twice, "%d events stored twice, e.g. %s" % (len(twice), twice[:5])
        recoveries = sum("recovery stream=" in line for line in server.stderr_lines)
        print("torn log tails cut over all restarts: %d" % recoveries, flush=True)

    try:
        checks.run("%d SIGKILLs under full-speed ingest" % cycles, crash_cycles)
        checks.run("every acknowledged event stored, none twice", all_acknowledged_stored_once)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-50:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
