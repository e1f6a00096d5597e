#!/usr/bin/env python3
"""What a single-event request costs the collector, against nginx answering 204 to the same
requests in the same run.

1. Instructions per request in user space, counted by callgrind (exact and repeatable, unlike
   timings on this host): each server runs under valgrind while wrk posts to it; the counters
   are zeroed after a warm-up and dumped after the measured run.
2. CPU time per request at 64 connections, user and kernel, from /proc, split by the
   collector's threads (the I/O threads, the log's writer and its acknowledgement thread).

usage: bench/ingest_cpu.py BUILD_DIR [SECONDS]   (seconds per measured run, default 10)
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest_http as http  # noqa: E402

PATH = "/v1/streams/web/events"


def wrk_requests(url, seconds, connections):
    script = os.path.join(tempfile.mkdtemp(prefix="sluice-wrk-"), "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = '
                '"application/json"\n' % http.EVENT)
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "-s", script,
                          url], capture_output=True, text=True).stdout
    shutil.rmtree(os.path.dirname(script))
    for line in out.splitlines():
        if "requests in" in line:
            return int(line.split()[0])
    raise RuntimeError("wrk against %s gave no figures:\n%s" % (url, out))


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def instructions_per_request(command, port, workdir, name, seconds):
    """Runs `command` under callgrind, posts to it, returns user-space instructions/request."""
    out = os.path.join(workdir, name + ".callgrind")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                             *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        http.wait_port(port, timeout=60)
        url = "http://127.0.0.1:%d%s" % (port, PATH)
        wrk_requests(url, 3, 16)  # warm-up: connections, caches, the log's first segment
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                       check=True)
        requests = wrk_requests(url, seconds, 16)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                       check=True)
        dumps = sorted(glob.glob(out + ".*"))
        return callgrind_total(dumps[-1]) / requests
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def thread_ticks(pid):
    """{thread name: [user, system] clock ticks} of a process, threads of one name summed."""
    ticks = {}
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(task + "/comm") as f:
                name = f.read().strip()
            with open(task + "/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        name = "sluice-http" if name == "sluice" or name.startswith("sluice-http") else name
        entry = ticks.setdefault(name, [0, 0])
        entry[0] += int(fields[11])
        entry[1] += int(fields[12])
    return ticks


def cpu_per_request(pids, url, seconds):
    """User and system microseconds per request of the processes `pids`, by thread name."""
    before = [thread_ticks(pid) for pid in pids]
    requests = wrk_requests(url, seconds, 64)
    after = [thread_ticks(pid) for pid in pids]
    per_second = os.sysconf("SC_CLK_TCK")
    split = {}
    for b, a in zip(before, after):
        for name, (user, system) in a.items():
            old = b.get(name, [0, 0])
            entry = split.setdefault(name, [0.0, 0.0])
            entry[0] += (user - old[0]) / per_second * 1e6 / requests
            entry[1] += (system - old[1]) / per_second * 1e6 / requests
    return requests / seconds, split


def collector_command(build, workdir, port):
    conf = os.path.join(workdir, "collector-%d.yaml" % port)
    with open(conf, "w") as f:
        f.write("storage: {data_dir: %s/data-%d}\nserver: {io_threads: 2}\n" % (workdir, port))
    return [os.path.join(build, "sluice"), "collector", "--config", conf, "--listen",
            "127.0.0.1:%d" % port, "--log-level", "warn"]


def main():
    build = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for tool in ("wrk", "nginx", "valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/setup installs it)" % tool)
    workdir = tempfile.mkdtemp(prefix="sluice-bench-cpu-")
    try:
        print("user-space instructions per single-event request (callgrind; wrk -t2 -c16, "
              "%d s after a 3 s warm-up):" % seconds)
        port = http.free_port()
        # One nginx process (no master): callgrind follows one process.
        nginx = instructions_per_request(
            ["nginx", "-c", http.nginx_conf(workdir, port, 1), "-g",
             "daemon off; master_process off;"],
            port, workdir, "nginx", seconds)
        port = http.free_port()
        ours = instructions_per_request(collector_command(build, workdir, port), port, workdir,
                                        "collector", seconds)
        print("  nginx 204   %8.0f" % nginx)
        print("  collector   %8.0f   (%.1fx nginx)" % (ours, ours / nginx))

        print("CPU per single-event request at 64 connections (wrk -t2 -c64, %d s; /proc):"
              % seconds)
        port = http.free_port()
        master = subprocess.Popen(["nginx", "-c", http.nginx_conf(workdir, port, 2), "-g",
                                   "daemon off;"], stderr=subprocess.DEVNULL)
        collector = None
        try:
            http.wait_port(port)
            time.sleep(0.3)  # the workers are forked after the port is bound
            workers = [int(p) for p in subprocess.run(
                ["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()]
            rate, split = cpu_per_request(workers, "http://127.0.0.1:%d%s" % (port, PATH),
                                          seconds)
            user, system = (sum(v[i] for v in split.values()) for i in (0, 1))
            print("  nginx 204   %7.0f req/s   user %5.1f us   system %5.1f us" % (
                rate, user, system))
            port = http.free_port()
            collector = subprocess.Popen(collector_command(build, workdir, port),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            http.wait_port(port)
            rate, split = cpu_per_request([collector.pid],
                                          "http://127.0.0.1:%d%s" % (port, PATH), seconds)
            user, system = (sum(v[i] for v in split.values()) for i in (0, 1))
            print("  collector   %7.0f req/s   user %5.1f us   system %5.1f us" % (
                rate, user, system))
            for name, (u, s) in sorted(split.items()):
                if u + s > 0:
                    print("    %-16s user %5.1f us   system %5.1f us" % (name, u, s))
        finally:
            for proc in (master, collector):
                if proc:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=120)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
