#!/usr/bin/env python3
"""Soak: `sluice run` (the default all-in-one server: collector, log, SQLite store) held at half
its measured capacity for MINUTES minutes, with tracker-shaped single-event POSTs (hey).

1. Capacity: 30 s flat out (hey, 64 connections); the capacity is the lower of the rate the
   collector acknowledged and the rate the store took the events in (its `stored` count), so
   the store keeps up during the soak.
2. Soak: one-minute hey runs at half that rate, back to back. After each: the server's RSS, the
   minute's p50/p99 latency, the requests answered other than 202, and the store's lag.

It passes when RSS grows less than 5 % from the end of minute 5 to the end, p99 stays within
3x its median over the same minutes, every request was answered 202, and the store's lag ends
under one minute's worth of events. `make soak` runs 30 minutes (SOAK_MINUTES).

usage: bench/soak.py BUILD_DIR [MINUTES]
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

EVENT = json.dumps({"event_type": "page_view", "user_id": "u-1842", "page": "/pricing",
                    "referrer": "https://news.example.com/launch", "browser": "Firefox",
                    "timestamp": "2025-10-13T11:30:00Z"})
CONFIG = """
streams: {web: {}}
log: {retention_bytes: 2GiB}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def streams(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/streams?stream=web" % port) as r:
        s = json.load(r)["streams"][0]
    return s["in_log"], s["stored"]


def hey(url, seconds, connections, rate=None):
    """(requests/s, p50 s, p99 s, answers other than 202) of one hey run."""
    args = ["hey", "-z", "%ds" % seconds, "-c", str(connections), "-m", "POST",
            "-T", "application/json", "-d", EVENT]
    if rate:
        args += ["-q", "%.2f" % (rate / connections)]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1))
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1))
    codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    other = sum(n for c, n in codes.items() if c != 202)
    errors = re.search(r"Error distribution:(.*)", out, re.S)
    if errors:
        other += sum(int(n) for n in re.findall(r"\[(\d+)\]", errors.group(1)))
    return rps, p50, p99, other


def main():
    build = sys.argv[1]
    minutes = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    workdir = tempfile.mkdtemp(prefix="sluice-soak-")
    config = os.path.join(workdir, "sluice.yaml")
    with open(config, "w") as f:
        f.write(CONFIG)
    port = free_port()
    proc = subprocess.Popen([os.path.join(build, "sluice"), "run", "--config", config,
                             "--listen", "127.0.0.1:%d" % port, "--data-dir",
                             os.path.join(workdir, "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    failed = []
    try:
        assert "listening on" in proc.stdout.readline()
        url = "http://127.0.0.1:%d/v1/streams/web/events" % port
        _, stored_before = streams(port)
        started = time.monotonic()
        http_rps, _, _, other = hey(url, 30, 64)
        # What the store took in over the same time (it goes on after hey stops: give it the
        # time hey ran, then count).
        time.sleep(1)
        _, stored_after = streams(port)
        store_rps = (stored_after - stored_before) / (time.monotonic() - started)
        capacity = min(http_rps, store_rps)
        print("capacity: collector %.0f req/s, store %.0f events/s -> soak at %.0f events/s "
              "for %d min" % (http_rps, store_rps, capacity / 2, minutes), flush=True)
        # Let the store catch up before the soak starts.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            in_log, stored = streams(port)
            if stored >= in_log:
                break
            time.sleep(1)
        print("%6s %10s %9s %9s %9s %8s %10s" % ("minute", "req/s", "p50 ms", "p99 ms",
                                                 "not 202", "RSS MiB", "store lag"), flush=True)
        rows = []
        for minute in range(1, minutes + 1):
            rps, p50, p99, other = hey(url, 60, 32, rate=capacity / 2)
            in_log, stored = streams(port)
            rss = rss_kib(proc.pid) / 1024
            rows.append((minute, rps, p50 * 1000, p99 * 1000, other, rss, in_log - stored))
            print("%6d %10.0f %9.2f %9.2f %9d %8.1f %10d" % rows[-1], flush=True)
        steady = [r for r in rows if r[0] >= min(5, minutes)]
        growth = (steady[-1][5] - steady[0][5]) / steady[0][5] * 100
        p99s = [r[3] for r in steady]
        p99_median = statistics.median(p99s)
        print("RSS: %.1f MiB after minute %d, %.1f MiB at the end: %+.2f %%" % (
            steady[0][5], steady[0][0], steady[-1][5], growth))
        print("p99 over minutes %d..%d: median %.2f ms, max %.2f ms (%.2fx)" % (
            steady[0][0], steady[-1][0], p99_median, max(p99s), max(p99s) / p99_median))
        if growth >= 5:
            failed.append("RSS grew %.2f %% (limit 5 %%)" % growth)
        if max(p99s) > 3 * p99_median:
            failed.append("p99 not steady: max %.2f ms vs median %.2f ms" % (max(p99s),
                                                                           p99_median))
        if any(r[4] for r in rows):
            failed.append("%d requests not answered 202" % sum(r[4] for r in rows))
        if rows[-1][6] > capacity / 2 * 60:
            failed.append("the store's lag ended at %d events" % rows[-1][6])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    print("soak: " + ("FAILED: " + "; ".join(failed) if failed else "passed"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
