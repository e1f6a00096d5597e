"""Keyset pagination of GET /v1/events over 100 000 stored events: with every combination of
the filters (stream, type, key, where, time range) in both orders, paging returns each matching
event exactly once, in order, even though many events share a timestamp and other events keep
arriving while the pages are read.

usage: pagination_test.py SLUICE_BINARY [sqlite|postgres]   (the store; default sqlite)
"""

import itertools
import json
import os
import random
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, wait_for  # noqa: E402

CONFIG = """
streams:
  a: {partitions: 2, key_field: k, time_field: at}
  b: {key_field: k, time_field: at}
"""
EVENTS = 100_000
BASE = 1_760_313_600_000  # 2025-10-13T00:00:00Z


def make_events():
    rng = random.Random(3)
    events = []
    for i in range(EVENTS):
        # 2 000 distinct timestamps: about 50 events share each one.
        events.append({"id": "p%06d" % i, "stream": "a" if i % 3 else "b",
                       "type": "t%d" % rng.randrange(4), "k": "k%d" % rng.randrange(10),
                       "n": rng.randrange(100), "at": BASE + rng.randrange(2000) * 1000})
    return events


def main():
    binary = sys.argv[1]
    store = Store(*sys.argv[2:3])
    checks = Checks()
    server = Server(binary, config_text=CONFIG + store.config()).start()
    events = make_events()
    try:
        conn = server.connection()
        for stream in ("a", "b"):
            mine = [e for e in events if e["stream"] == stream]
            for start in range(0, len(mine), 5000):
                body = "\n".join(json.dumps({k: v for k, v in e.items() if k != "stream"})
                                 for e in mine[start:start + 5000])
                status, _, reply = server.request("POST", "/v1/streams/%s/events" % stream, body,
                                                  {"Content-Type": "application/x-ndjson"},
                                                  conn=conn)
                assert status == 202 and not reply["rejected"], reply
        wait_for(lambda: sum(s["stored"] for s in server.request("GET", "/v1/streams")[2]
                             ["streams"]) == EVENTS, 120, "every event stored")

        # Events keep arriving while the pages are read: newer than every filtered range, and in
        # the same streams, so a page boundary that moved with them would show.
        stop = threading.Event()

        def newcomers():
            c = server.connection()
            n = 0
            while not stop.is_set():
                body = json.dumps([{"id": "new%d" % (n + j), "k": "k1", "type": "t1", "n": 1,
                                    "at": BASE + 5_000_000 + n + j} for j in range(50)])
                server.request("POST", "/v1/streams/a/events", body, conn=c)
                n += 50
        writer = threading.Thread(target=newcomers, daemon=True)
        writer.start()

        filters = {
            "stream": ("b", lambda e: e["stream"] == "b"),
            "type": ("t2", lambda e: e["type"] == "t2"),
            "key": ("k3", lambda e: e["k"] == "k3"),
            "where": ("n:gte:60", lambda e: e["n"] >= 60),
            "range": (None, lambda e: BASE + 500_000 <= e["at"] < BASE + 1_500_000),
        }
        combos = [c for r in range(len(filters) + 1)
                  for c in itertools.combinations(sorted(filters), r)]

        def page_through(combo, order):
            params = [("order", order), ("limit", "997"), ("fields", "n")]
            for name in combo:
                if name == "range":
                    params += [("from", str(BASE + 500_000)), ("to", str(BASE + 1_500_000))]
                else:
                    params.append((name, filters[name][0]))
            if "range" not in combo:  # leave the newcomers out
                params.append(("to", str(BASE + 5_000_000)))
            want = [e for e in events if all(filters[name][1](e) for name in combo)]
            got, cursor, c = [], None, server.connection()
            while True:
                query = params + ([("cursor", cursor)] if cursor else [])
                status, _, body = server.request(
                    "GET", "/v1/events?" + urllib.parse.urlencode(query), conn=c)
                assert status == 200, body
                got += body["events"]
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            ids = [e["id"] for e in got]
            assert len(ids) == len(set(ids)), "an event on two pages"
            assert sorted(ids) == sorted(e["id"] for e in want), (len(ids), len(want))
            times = [e["ts"] for e in got]
            assert times == sorted(times, reverse=(order == "desc")), "out of order"
            return len(ids)

        seen = {}
        for combo in combos:
            for order in ("desc", "asc"):
                name = "+".join(combo) or "no filter"
                checks.run("%s, %s: each matching event once, in order" % (name, order),
                           lambda combo=combo, order=order: seen.__setitem__(
                               (combo, order), page_through(combo, order)))
        stop.set()
        writer.join(timeout=30)
        checks.run("the combinations cover %d filters both ways" % len(filters),
                   lambda: None if len(seen) == 2 * 2 ** len(filters) else 1 / 0)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-20:]))
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
