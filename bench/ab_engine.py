#!/usr/bin/env python3
"""A/B of two sluice builds' engine benchmarks, in the same run: bench_sinks (pipelines into
SQLite and PostgreSQL), bench_windows (the window operator, a window job and a pass-through
pipeline) and bench_query (the store writer filling the store, then GET /v1/events pages and
GET /v1/stats over it), rounds alternating between the builds so that this host's drifting
speed lands on both alike. Prints each figure per round and the median ratio B/A (for query
latencies A/B, so that above 1 is better for B too); a change is within the noise when the
ratios straddle 1.

usage: bench/ab_engine.py BUILD_A BUILD_B [ROUNDS] [QUERY_EVENTS]
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# (name, regex over one output line, group, higher is better)
FIGURES = [
    ("sinks: log -> SQLite, events/s", r"log -> SQLite pipeline\s+(\d+) events/s", True),
    ("sinks: log -> PostgreSQL, events/s", r"log -> PostgreSQL\s+(\d+) events/s", True),
    ("windows: operator alone, M events/s", r"window operator alone.*?([\d.]+) M events/s", True),
    ("windows: pass-through pipeline, M/s", r"log -> pass-through pipeline\s+([\d.]+) M", True),
    ("windows: window job, M events/s", r"log -> window job\s+([\d.]+) M events/s", True),
    ("store writer: events/s stored", r"stored with rollups in [\d.]+ s \((\d+) events/s\)", True),
    ("query: first page p50 ms", r"events: first page of 100\s+([\d.]+)", False),
    ("query: where=city page p50 ms", r"events: first page, where=city:eq:C7\s+([\d.]+)", False),
    ("query: deep page p50 ms", r"events: page at depth N/2\s+([\d.]+)", False),
    ("query: stats by city+severity p50 ms", r"stats: by city and severity, all\s+([\d.]+)", False),
    ("query: stats hourly pattern p50 ms", r"stats: hourly pattern \(hour_of_day\)\s+([\d.]+)", False),
]


def run_benches(build, data, url, query_events):
    out = ""
    for args in (["bench_sinks", os.path.join(data, "sinks"), "300000", url],
                 ["bench_windows", os.path.join(data, "windows"), "2000000"],
                 ["bench_query", os.path.join(data, "query"), str(query_events)]):
        result = subprocess.run([os.path.join(build, "bench", args[0])] + args[1:],
                                capture_output=True, text=True)
        out += result.stdout
    return out


def figures(text):
    found = {}
    for name, pattern, _ in FIGURES:
        match = re.search(pattern, text)
        if match:
            found[name] = float(match.group(1))
    return found


def main():
    builds = {"A": sys.argv[1], "B": sys.argv[2]}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    query_events = int(sys.argv[4]) if len(sys.argv) > 4 else 2_000_000
    work = tempfile.mkdtemp(prefix="sluice-ab-engine-")
    os.chmod(work, 0o755)  # the PostgreSQL server runs as the postgres user
    pg_dir = os.path.join(work, "pg")
    os.makedirs(pg_dir)
    script = os.path.join(ROOT, "scripts", "test-postgres")
    url = subprocess.run([script, "start", pg_dir], check=True, capture_output=True,
                         text=True).stdout.strip()
    results = {label: [] for label in builds}
    try:
        for round_no in range(rounds):
            order = ("A", "B") if round_no % 2 == 0 else ("B", "A")
            for label in order:
                # A fresh directory every round: bench_query fills its store again, so the
                # store writer's rate is measured in each round, not only the first.
                data = os.path.join(work, label)
                shutil.rmtree(data, ignore_errors=True)
                got = figures(run_benches(builds[label], data, url, query_events))
                results[label].append(got)
                print("round %d %s: %s" % (round_no + 1, label, ", ".join(
                    "%s %g" % (k, v) for k, v in got.items())), flush=True)
    finally:
        subprocess.run([script, "stop", pg_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    print("\n%-40s %12s %12s  %s" % ("figure (median of rounds)", "A", "B", "B better by"))
    for name, _, higher in FIGURES:
        a = [r[name] for r in results["A"] if name in r]
        b = [r[name] for r in results["B"] if name in r]
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if higher else ma / mb
        print("%-40s %12g %12g  %.2f" % (name, ma, mb, ratio))


if __name__ == "__main__":
    main()
