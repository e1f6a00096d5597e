"""Crash safety: SIGKILL `sluice run` at random moments while clients ingest at full speed, 50
times; then check that every acknowledged event is stored, and none is stored twice.

Events carry no client id (the collector generates one), so a duplicate would not be hidden by
the store's unique (stream, id) key: each event is recognised by the `uid` in its payload.
Requests in flight at the kill were never acknowledged; their events may or may not be stored,
but never twice.

The statistics rollups, written in the same transactions, must count each stored event once.
Runs with either store: the embedded SQLite file or PostgreSQL.

usage: crash_test.py SLUICE_BINARY [CYCLES [sqlite|postgres]]
"""

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Poster, Server, Store, all_events, wait_for  # noqa: E402

CLIENTS = 4
BATCH = 25


def crash_batch(name):
    """Batches for a Poster: BATCH events of ~150 bytes with unique uids."""
    return lambda n: [{"type": "crash", "uid": "%s-%d-%d" % (name, n, i), "pad": "x" * 120}
                      for i in range(BATCH)]


def main():
    binary = sys.argv[1]
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    store = Store(*sys.argv[3:4])
    seed = int(os.environ.get("SLUICE_CRASH_SEED", time.time_ns() % 1_000_000))
    print("seed %d (set SLUICE_CRASH_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    checks = Checks()
    server = Server(binary, config_text=store.config() or None)
    acked = []  # list.extend is atomic under the GIL
    state = {"requests": 0}

    def crash_cycles():
        for cycle in range(cycles):
            server.start()
            clients = [Poster(server.port, crash_batch("c%d.%d" % (cycle, k)), acked,
                              record=lambda e: e["uid"]) for k in range(CLIENTS)]
            for c in clients:
                c.start()
            # Kill at a random moment once the clients are in full flow.
            time.sleep(rng.uniform(0.05, 0.4))
            server.kill()
            for c in clients:
                c.finish()
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
        status, _, stats = server.request("GET", "/v1/stats?stream=events&group_by=type")
        assert status == 200, stats
        by_type = {g["type"]: g["count"] for g in stats["groups"]}
        assert by_type == {"crash": len(stored), "marker": 1}, (by_type, len(stored))
        recoveries = sum("recovery stream=" in line for line in server.stderr_lines)
        print("torn log tails cut over all restarts: %d" % recoveries, flush=True)

    try:
        checks.run("%d SIGKILLs under full-speed ingest" % cycles, crash_cycles)
        checks.run("every acknowledged event stored, none twice", all_acknowledged_stored_once)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-50:]))
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
