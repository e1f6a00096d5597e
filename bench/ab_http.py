#!/usr/bin/env python3
"""A/B of two sluice builds over HTTP, in the same run: both `sluice run`s (and both
collectors) start side by side, and rounds alternate between them, so that this host's drifting
speed lands on both alike. Shapes: single-event POSTs and 100-event NDJSON batches on 64
connections (wrk), and GET /v1/events pages. Prints each round and the median ratio B/A; a
change is within the noise when the ratios straddle 1.

usage: bench/ab_http.py BUILD_A BUILD_B [SECONDS] [ROUNDS]   (e.g. an older checkout's
build/release as A, this one's as B)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_http import BATCH, EVENT, start_sluice, wait_idle, wrk  # noqa: E402


def get_rate(url, seconds, connections=16):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, url],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError("wrk gave no figures:\n" + out)


def main():
    builds = {"A": sys.argv[1], "B": sys.argv[2]}
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    workdir = tempfile.mkdtemp(prefix="sluice-ab-")
    procs, ports = {}, {}
    try:
        for label, build in builds.items():
            for command in ("collector", "run"):
                os.makedirs(os.path.join(workdir, label), exist_ok=True)
                procs[(label, command)], ports[(label, command)] = start_sluice(
                    build, os.path.join(workdir, label), command)
        shapes = (("single event, collector", "collector", EVENT, "application/json"),
                  ("single event, sluice run", "run", EVENT, "application/json"),
                  ("100-event batch, sluice run", "run", BATCH, "application/x-ndjson"))
        print("shape                          round      A req/s      B req/s   B/A")
        for shape, command, body, ctype in shapes:
            ratios = []
            for round_no in range(rounds):
                rates = {}
                # Alternate which goes first, so neither always follows the other's backlog.
                order = ("A", "B") if round_no % 2 == 0 else ("B", "A")
                for label in order:
                    url = "http://127.0.0.1:%d/v1/streams/web/events" % ports[(label, command)]
                    rates[label] = wrk(url, body, ctype, seconds)["rps"]
                    wait_idle(procs[(label, command)].pid)
                ratios.append(rates["B"] / rates["A"])
                print("%-30s %5d %12.0f %12.0f  %.2f" % (shape, round_no + 1, rates["A"],
                                                         rates["B"], ratios[-1]), flush=True)
            print("%-30s median B/A %.2f (min %.2f, max %.2f)" % (
                shape, statistics.median(ratios), min(ratios), max(ratios)), flush=True)
        ratios = []
        for round_no in range(rounds):
            rates = {}
            for label in ("A", "B") if round_no % 2 == 0 else ("B", "A"):
                url = "http://127.0.0.1:%d/v1/events?limit=100" % ports[(label, "run")]
                urllib.request.urlopen(url).read()
                rates[label] = get_rate(url, seconds)
            ratios.append(rates["B"] / rates["A"])
            print("%-30s %5d %12.0f %12.0f  %.2f" % ("GET /v1/events?limit=100", round_no + 1,
                                                     rates["A"], rates["B"], ratios[-1]),
                  flush=True)
        print("%-30s median B/A %.2f (min %.2f, max %.2f)" % (
            "GET /v1/events?limit=100", statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
