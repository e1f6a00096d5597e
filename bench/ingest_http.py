#!/usr/bin/env python3
"""HTTP ingest benchmark: wrk and hey against `sluice collector` (the collector role: HTTP and
the durable log) and `sluice run` (everything in one process) and, in the same run, against
Debian's nginx answering 204 (the HTTP ceiling of this machine).

Shapes:
  single   one JSON event per POST, 64 connections (wrk)
  batch    100 events per POST (NDJSON), 64 connections (wrk)
  envelope 50 tracker events per POST in tracker.js's batch envelope ({"sent_at":...,
           "events":[...]}, text/plain, ~25 KB), 64 connections (wrk)
  half     single-event POSTs at half of sluice's measured single-event rate: latency (hey -q)
  burst    1000 concurrent clients x 5 requests each (hey -n 5000 -c 1000)
  more     single-event POSTs at 128 and 256 connections, collector and nginx (no target: how
           the single-event ratio moves with concurrency)

usage: bench/ingest_http.py BUILD_DIR [SECONDS]   (seconds per wrk/hey run, default 5)
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

EVENT = json.dumps({"event_type": "page_view", "user_id": "u-1842", "page": "/pricing",
                    "referrer": "https://news.example.com/launch", "browser": "Firefox",
                    "timestamp": "2025-10-13T11:30:00Z"})
ROUNDS = 3
BATCH = "\n".join(json.dumps({"event_type": "click", "user_id": "u-%d" % i, "page": "/docs",
                              "n": i, "timestamp": "2025-10-13T11:30:00Z"})
                  for i in range(100)) + "\n"


def tracker_event(i):
    """An event as tracker.js sends it (~490 bytes): ids, page, the click's properties."""
    return {"event_id": "0193a5c2-7d41-7c3e-9a55-%012d" % i, "event_type": "click",
            "timestamp": "2026-12-04T11:30:00.123Z",
            "anonymous_id": "a6f1c0de-93b2-4c1e-8f0a-2b7d9e4c5a11", "session_id": "s-9f2c41",
            "page_path": "/shop/items/42",
            "page_url": "https://shop.example.com/shop/items/42?ref=home",
            "referrer": "https://shop.example.com/", "title": "Blue mug - Shop",
            "properties": {"selector": "button#buy.primary", "text": "Add to cart",
                           "sku": "MUG-%d" % (i % 50)},
            "screen": "1280x720", "language": "en-US"}


ENVELOPE = json.dumps({"sent_at": 1796400000000, "events": [tracker_event(i) for i in range(50)]})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d" % port)


def nginx_conf(workdir, port, workers=2):
    """Writes a config for nginx answering 204 on 127.0.0.1:`port`; returns its path."""
    conf = os.path.join(workdir, "nginx-%d.conf" % port)
    with open(conf, "w") as f:
        f.write("""
worker_processes %(workers)d;
pid %(dir)s/nginx-%(port)d.pid;
error_log %(dir)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d backlog=4096;
    location / { return 204; }
  }
}
""" % {"dir": workdir, "port": port, "workers": workers})
    return conf


def start_nginx(workdir):
    port = free_port()
    proc = subprocess.Popen(["nginx", "-c", nginx_conf(workdir, port), "-g", "daemon off;"],
                            stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def start_sluice(build, workdir, command):
    conf = os.path.join(workdir, command + ".yaml")
    with open(conf, "w") as f:
        f.write("storage: {data_dir: %s/%s}\nserver: {io_threads: 2}\n" % (workdir, command))
    proc = subprocess.Popen([os.path.join(build, "sluice"), command, "--config", conf,
                             "--listen", "127.0.0.1:0", "--log-level", "warn"],
                            stdout=subprocess.PIPE,
                            stderr=open(os.path.join(workdir, command + ".log"), "w"), text=True)
    line = proc.stdout.readline()
    port = int(line.strip().rsplit(":", 1)[1])
    return proc, port


def start_sluice_config(build, workdir, config):
    """`sluice run` with a configuration file of the caller's: (process, port)."""
    proc = subprocess.Popen([os.path.join(build, "sluice"), "run", "--config", config,
                             "--listen", "127.0.0.1:0", "--log-level", "warn"],
                            stdout=subprocess.PIPE,
                            stderr=open(os.path.join(workdir, "run.log"), "w"), text=True)
    line = proc.stdout.readline()
    return proc, int(line.strip().rsplit(":", 1)[1])


def wrk(url, body, content_type, seconds, connections=64):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "%s"\n'
                 % (json.dumps(body), content_type))
    script.close()
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency",
                          "-s", script.name, url], capture_output=True, text=True).stdout
    os.unlink(script.name)
    if "99%" not in out:
        raise RuntimeError("wrk against %s gave no figures:\n%s" % (url, out))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+(?:us|ms|s)?)\s", out)
    if not rps or not p99:
        raise RuntimeError("wrk against %s printed figures this script cannot read:\n%s" % (
            url, out))
    rps = float(rps.group(1))
    p99 = parse_duration(p99.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p99_ms": p99, "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def parse_duration(text):
    value = float(re.match(r"[\d.]+", text).group(0))
    if text.endswith("us"):
        return value / 1000
    if text.endswith("ms"):
        return value
    if text.endswith("s"):
        return value * 1000
    return value


def hey(url, body, args):
    out = subprocess.run(["hey", *args, "-m", "POST", "-T", "application/json", "-d", body, url],
                         capture_output=True, text=True).stdout
    average = float(re.search(r"Average:\s+([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000
    statuses = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    errors = re.search(r"Error distribution:(.*)", out, re.S)
    return {"avg_ms": average, "p99_ms": p99, "statuses": statuses,
            "errors": errors.group(1).strip() if errors else ""}


def disk_sync_latency(directory, size=7000, count=2000):
    """Median microseconds of one write + fdatasync of `size` bytes (about one group commit of
    single events) on the disk under `directory`: appended past the end of a file, and written
    over zeros already in it (what the log's reserve gives small groups). The host's disk speed
    drifts; this says which phase a run was taken in."""
    path = os.path.join(directory, "sync-probe")
    buffer = b"x" * size
    medians = []
    for prefill in (False, True):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if prefill:
                os.write(fd, bytes(size * count))
                os.fsync(fd)
            samples = []
            for i in range(count):
                started = time.perf_counter()
                os.pwrite(fd, buffer, i * size)
                os.fdatasync(fd)
                samples.append(time.perf_counter() - started)
            medians.append(statistics.median(samples) * 1e6)
        finally:
            os.close(fd)
            os.unlink(path)
    return medians


def print_disk(workdir, when):
    appended, overwritten = disk_sync_latency(workdir)
    print("disk %s: 7 KB write + fdatasync median %.0f us appending, %.0f us into zeros" % (
        when, appended, overwritten), flush=True)


def main():
    build = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for tool in ("wrk", "hey", "nginx"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/setup installs it)" % tool)
    workdir = tempfile.mkdtemp(prefix="sluice-bench-")
    path = "/v1/streams/web/events"
    shapes = (("single event, 64 conns", EVENT, "application/json", 1),
              ("100-event batch, 64 conns", BATCH, "application/x-ndjson", 100),
              ("50-event envelope, 64 conns", ENVELOPE, "text/plain", 50))
    names = ("nginx 204", "collector", "sluice run")
    procs, urls = {}, {}
    try:
        procs["nginx 204"], port = start_nginx(workdir)
        urls["nginx 204"] = "http://127.0.0.1:%d%s" % (port, path)
        procs["collector"], port = start_sluice(build, workdir, "collector")
        urls["collector"] = "http://127.0.0.1:%d%s" % (port, path)
        procs["sluice run"], port = start_sluice(build, workdir, "run")
        urls["sluice run"] = "http://127.0.0.1:%d%s" % (port, path)

        print("collector: `sluice collector`, HTTP ingest + durable log; sluice run: the same plus "
              "the processor writing SQLite and the query API.")
        print("Rounds alternate the targets (%d rounds of %d s per shape); each target starts "
              "only once the previous one is idle again (the store catching up)." % (ROUNDS,
                                                                                   seconds))
        print_disk(workdir, "before")
        print("shape                       round target        req/s    events/s   p99 ms  errors")
        runs = {}  # (shape, name) -> list of wrk results, one per round
        for shape, body, ctype, per in shapes:
            for round_no in range(ROUNDS):
                for name in names:
                    r = wrk(urls[name], body, ctype, seconds)
                    wait_idle(procs[name].pid)
                    runs.setdefault((shape, name), []).append(r)
                    errors = r["non2xx"] or r["socket_errors"] or 0
                    print("%-27s %5d %-11s %10.0f %11.0f %8.2f   %s" % (
                        shape, round_no + 1, name, r["rps"], r["rps"] * per, r["p99_ms"],
                        errors), flush=True)
        single, batch, envelope = shapes[0][0], shapes[1][0], shapes[2][0]
        print()
        for name in names[1:]:
            ratios = [ours["rps"] / base["rps"] for ours, base in
                      zip(runs[(single, name)], runs[(single, "nginx 204")])]
            batched = [r["rps"] * 100 for r in runs[(batch, name)]]
            print("%s: single-event ratio to nginx, per round %s, median %.2f (target >= 0.60); "
                  "batched median %.0f events/s (target >= 500000)" % (
                      name, " ".join("%.2f" % x for x in ratios), statistics.median(ratios),
                      statistics.median(batched)))
        for name in names[1:]:
            ratios = [ours["rps"] / base["rps"] for ours, base in
                      zip(runs[(envelope, name)], runs[(envelope, "nginx 204")])]
            print("%s: 50-event tracker envelopes, ratio to nginx per round %s, median %.2f "
                  "(target >= 0.30), median %.0f events/s" % (
                      name, " ".join("%.2f" % x for x in ratios), statistics.median(ratios),
                      statistics.median(r["rps"] * 50 for r in runs[(envelope, name)])))

        envelope_budget(urls["sluice run"], procs["sluice run"].pid,
                        statistics.median(r["rps"] for r in runs[(envelope, "nginx 204")]),
                        seconds)

        for name in names[1:]:
            rate = int(statistics.median(r["rps"] for r in runs[(single, name)]) / 2)
            connections = 32
            per_worker = max(1, rate // connections)
            r = hey(urls[name], EVENT, ["-z", "%ds" % seconds, "-c", str(connections),
                                        "-q", str(per_worker)])
            wait_idle(procs[name].pid)
            print("%s, single events at half its max rate (%d req/s, hey -c %d -q %d): avg %.2f "
                  "ms, p99 %.2f ms (target < 10 ms), statuses %s %s" % (
                      name, per_worker * connections, connections, per_worker, r["avg_ms"],
                      r["p99_ms"], r["statuses"], r["errors"]))

        print("single events at more connections (collector and nginx, %d rounds):" % ROUNDS)
        for connections in (128, 256):
            more = {}
            for round_no in range(ROUNDS):
                for name in ("nginx 204", "collector"):
                    r = wrk(urls[name], EVENT, "application/json", seconds, connections)
                    wait_idle(procs[name].pid)
                    more.setdefault(name, []).append(r)
            ratios = [ours["rps"] / base["rps"] for ours, base in
                      zip(more["collector"], more["nginx 204"])]
            print("  %d conns: collector %s req/s (p99 %s ms), nginx %s; ratio per round %s, "
                  "median %.2f" % (
                      connections, " ".join("%.0f" % r["rps"] for r in more["collector"]),
                      " ".join("%.1f" % r["p99_ms"] for r in more["collector"]),
                      " ".join("%.0f" % r["rps"] for r in more["nginx 204"]),
                      " ".join("%.2f" % x for x in ratios), statistics.median(ratios)),
                  flush=True)

        print("1000 concurrent clients x 5 requests (hey -n 5000 -c 1000), %d rounds:" % ROUNDS)
        burst = {}
        for round_no in range(ROUNDS):
            for name in names:
                r = hey(urls[name], EVENT, ["-n", "5000", "-c", "1000"])
                wait_idle(procs[name].pid)
                burst.setdefault(name, []).append(r)
                print("  round %d %-11s avg %7.1f ms   p99 %7.1f ms   statuses %s %s" % (
                    round_no + 1, name, r["avg_ms"], r["p99_ms"], r["statuses"], r["errors"]))
        for name in names[1:]:
            ratios = [ours["avg_ms"] / base["avg_ms"] for ours, base in
                      zip(burst[name], burst["nginx 204"])]
            print("%s: burst average ratio to nginx, per round %s, median %.2f (target <= 1.5)" % (
                name, " ".join("%.2f" % x for x in ratios), statistics.median(ratios)))
        print_disk(workdir, "after")
    finally:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print("%s exited with status %s; its log:" % (name, proc.returncode))
                log = os.path.join(workdir, name.split()[-1] + ".log")
                if os.path.exists(log):
                    print(open(log).read()[-4000:])
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)


# Thread names of `sluice run` and the part of the work each does.
THREAD_PARTS = (("sluice-log", "log writer"), ("sluice-store", "store (SQLite)"),
                ("sluice", "HTTP, checks, records"))


def thread_cpu(pid):
    """CPU seconds per part of the process (THREAD_PARTS), user and kernel apart."""
    ticks = os.sysconf("SC_CLK_TCK")
    parts = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        part = next(label for prefix, label in THREAD_PARTS if comm.startswith(prefix))
        user, kernel = parts.get(part, (0.0, 0.0))
        parts[part] = (user + int(fields[11]) / ticks, kernel + int(fields[12]) / ticks)
    return parts


def machine_idle():
    """Idle and iowait jiffies of the whole machine since boot."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return int(fields[3]) + int(fields[4]), sum(int(x) for x in fields[:8])


def envelope_budget(url, pid, nginx_rps, seconds):
    """Where the machine's two cores go while `sluice run` takes tracker envelopes, and how many
    cores the same costs per request would need at 0.30 of nginx's rate."""
    before, idle0, rusage0 = thread_cpu(pid), machine_idle(), os.times()
    r = wrk(url, ENVELOPE, "text/plain", seconds)
    after, idle1, rusage1 = thread_cpu(pid), machine_idle(), os.times()
    wait_idle(pid)
    requests = r["rps"] * seconds
    wrk_cpu = (rusage1.children_user - rusage0.children_user) + (
        rusage1.children_system - rusage0.children_system)
    idle_share = (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1])
    print("sluice run, 50-event envelopes, where the 2 cores go (%.0f req/s, %d s; CPU seconds, "
          "user + kernel, and microseconds per event):" % (r["rps"], seconds))
    total, ours = 0.0, 0.0
    for _, part in THREAD_PARTS:
        user = after[part][0] - before[part][0]
        kernel = after[part][1] - before[part][1]
        total += user + kernel
        if part == THREAD_PARTS[-1][1]:
            ours = user  # what our HTTP, check and record code costs; its kernel part is recv
        print("  %-22s %5.2f + %5.2f s   %5.2f us/event" % (
            part, user, kernel, (user + kernel) / (requests * 50) * 1e6))
    print("  %-22s %5.2f s           %5.2f us/event" % ("wrk (the load)", wrk_cpu,
                                                        wrk_cpu / (requests * 50) * 1e6))
    print("  machine idle or waiting on the disk: %.0f %% of both cores" % (idle_share * 100))
    # Cores the same costs per request take at 0.30 of nginx's rate: all of them, and the part
    # that is not the HTTP threads' user time (SQLite, the kernel's writes and receives, wrk).
    target = 0.30 * nginx_rps
    needed = target * (total + wrk_cpu) / requests
    others = target * (total + wrk_cpu - ours) / requests
    print("  at 0.30 of nginx (%.0f req/s) these costs per request need %.2f cores (the machine "
          "has 2): %.2f for the store, the log writer, the kernel's receives and wrk, %.2f for "
          "the HTTP threads' own code" % (target, needed, others, needed - others), flush=True)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(pid, timeout=120):
    """Waits until the process uses under 5 % of a CPU (its background work is done)."""
    deadline = time.monotonic() + timeout
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        before = cpu_ticks(pid)
        time.sleep(0.5)
        if (cpu_ticks(pid) - before) / ticks_per_second < 0.025:
            return

if __name__ == "__main__":
    main()
