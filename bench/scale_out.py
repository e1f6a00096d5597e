#!/usr/bin/env python3
"""Scale-out benchmark: the roles on Kafka (librdkafka's mock cluster, 3 brokers on loopback
TCP) and PostgreSQL (Debian's, started here), each figure against its baseline in the same run.

  kafka ingest   `sluice collector`: 100-event NDJSON batches on 64 connections (wrk), events/s;
                 p99 of the 202s at half that rate (hey -q). Baseline: kcat (librdkafka's
                 producer, lz4 as sluice) producing the same events, keyed the same way, to a
                 topic of the same partitions.
  store          one `sluice processor` draining EVENTS events from Kafka into the PostgreSQL
                 store. Baseline: COPY of the same rows into a table like sluice.events (same
                 columns and indexes), from a file on the server.
  processors     1, 2 and 3 processors draining the same EVENTS events (fresh groups and store
                 each time), and the machine's CPU while they do.
  rebalance      2 processors storing a steady stream; one leaves gracefully, then one joins,
                 then one is SIGKILLed: the longest time any partition's stored position stood
                 still while events waited, around each (session_timeout 3 s, the least).

usage: bench/scale_out.py BUILD_DIR [EVENTS] [STAGE...]   (default 300000, every stage)
  STAGE: ingest, store, processors, rebalance
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import MockKafkaCluster, Postgres, Server  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_http import hey, wrk  # noqa: E402

PARTITIONS = 6
BATCH = 100
TOPICS = ["events:%d" % PARTITIONS, "baseline:%d" % PARTITIONS, "web:1", "contact:1",
          "dead_letters:1"]


def event(i):
    """A tracker-shaped event of ~190 bytes."""
    return {"id": "e-%d" % i, "event_type": "page_view", "user_id": "u-%d" % (i % 5000),
            "page": "/pricing/%d" % (i % 40), "referrer": "https://news.example.com/launch",
            "browser": "Firefox", "n": i}


def config(bootstrap, url, prefix="", session="3s"):
    return """
log:
  backend: kafka
  kafka: {brokers: "%s", session_timeout: %s, group_prefix: "%s"}
store: {url: '%s'}
streams:
  events: {partitions: %d, key_field: user_id}
""" % (bootstrap, session, prefix, url, PARTITIONS)


def post_all(port, count):
    """Posts `count` events in 500-event batches over one connection, in order."""
    conn = urllib.request.build_opener()
    for start in range(0, count, 500):
        body = "\n".join(json.dumps(event(i)) for i in range(start, min(count, start + 500)))
        req = urllib.request.Request("http://127.0.0.1:%d/v1/streams/events/events" % port,
                                     body.encode(), {"Content-Type": "application/x-ndjson"})
        with conn.open(req, timeout=60) as resp:
            assert resp.status == 202, resp.status


class Watch:
    """One psql session that asks how many events the store has written, every 50 ms without
    starting a process (and a PostgreSQL backend) each time, which would take CPU from what is
    measured."""

    def __init__(self, pg):
        self.psql = subprocess.Popen(["psql", pg.url, "-XAtq"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stored(self):
        """The sum of the store's positions (0 before its tables exist)."""
        self.psql.stdin.write("SELECT coalesce(sum(next_offset), 0) FROM sluice.sluice_positions "
                              "WHERE consumer = 'store' AND stream = 'events';\n\\echo END\n")
        self.psql.stdin.flush()
        value = 0
        for line in self.psql.stdout:
            if line.strip() == "END":
                return value
            value = int(line)
        raise RuntimeError("psql ended")

    def close(self):
        self.psql.stdin.close()
        self.psql.wait()


def cpu_seconds(pids):
    """User + system CPU seconds used so far by the processes `pids` and their threads."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def cpu_busy():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def kafka_ingest(build, workdir, cluster, pg, seconds):
    print("== Kafka ingest: sluice collector vs kcat (librdkafka producer), same events")
    lines = os.path.join(workdir, "events.txt")
    count = 200_000
    with open(lines, "w") as f:
        for i in range(count):
            e = event(i)
            f.write("%s\t%s\n" % (e["user_id"], json.dumps(e)))
    started = time.monotonic()
    machine, mock = cpu_busy(), cpu_seconds([cluster.proc.pid])
    subprocess.run(["kcat", "-P", "-b", cluster.bootstrap, "-t", "baseline", "-K", "\t",
                    "-z", "lz4", "-X", "linger.ms=5", "-l", lines], check=True)
    baseline = count / (time.monotonic() - started)
    kcat_cpu = cpu_use(machine, mock, cluster, count)
    collector = Server(os.path.join(build, "sluice"), command="collector",
                       config_text=config(cluster.bootstrap, pg.url)).start()
    try:
        body = json.dumps([event(i) for i in range(BATCH)])
        url = "http://127.0.0.1:%d/v1/streams/events/events" % collector.port
        machine, mock = cpu_busy(), cpu_seconds([cluster.proc.pid])
        own = cpu_seconds([collector.proc.pid])
        best = wrk(url, body, "application/json", seconds)
        rate = best["rps"] * BATCH
        sent = rate * seconds
        wrk_cpu = cpu_use(machine, mock, cluster, sent)
        own = (cpu_seconds([collector.proc.pid]) - own) * 100_000 / sent
        half = max(1, int(best["rps"] / 2 / 16))  # per hey worker
        latency = hey(url, body, ["-z", "%ds" % seconds, "-c", "16", "-q", str(half)])
    finally:
        collector.cleanup()
    print("baseline kcat -P          %9.0f events/s" % baseline)
    print("sluice collector (wrk)    %9.0f events/s   p99 %.1f ms at 64 connections, non-2xx %d"
          % (rate, best["p99_ms"], best["non2xx"]))
    print("sluice collector at half  p99 %.1f ms (%d requests/s)" % (latency["p99_ms"], half * 16))
    print("ratio collector/kcat: %.2f" % (rate / baseline))
    print("CPU per 100 000 events, kcat:      mock brokers %.2f s, kcat and the rest %.2f s; "
          "machine busy %.0f %% of %d cores" % (kcat_cpu[1], kcat_cpu[2], kcat_cpu[0],
                                               os.cpu_count()))
    print("CPU per 100 000 events, collector: mock brokers %.2f s, sluice collector %.2f s, wrk "
          "and the rest %.2f s; machine busy %.0f %% of %d cores"
          % (wrk_cpu[1], own, wrk_cpu[2] - own, wrk_cpu[0], os.cpu_count()))


def cpu_use(machine, mock, cluster, events):
    """(machine busy %, mock brokers' CPU s per 100 000 events, the rest's) since the
    cpu_busy() reading `machine` and the mock's cpu_seconds() reading `mock`."""
    busy, total = cpu_busy()
    hz = os.sysconf("SC_CLK_TCK")
    brokers = cpu_seconds([cluster.proc.pid]) - mock
    rest = (busy - machine[0]) / hz - brokers
    return (100.0 * (busy - machine[0]) / (total - machine[1]), brokers * 100_000 / events,
            rest * 100_000 / events)


def drain(build, cluster, pg, events, prefix):
    """One `sluice processor` draining the topic into `pg`'s database: (events/s, seconds, CPU
    seconds by part)."""
    processor = Server(os.path.join(build, "sluice"), command="processor",
                       config_text=config(cluster.bootstrap, pg.url, prefix)).start()
    parts = {"sluice processor": [processor.proc.pid], "Kafka (mock brokers)": [cluster.proc.pid]}
    watch = Watch(pg)
    try:
        first = None
        while (done := watch.stored()) < events:
            if first is None and done > 0:
                first = time.monotonic()
                used = {name: cpu_seconds(pids) for name, pids in parts.items()}
                busy = cpu_busy()[0]
            time.sleep(0.05)
        seconds = time.monotonic() - first
        used = {name: cpu_seconds(pids) - used[name] for name, pids in parts.items()}
        # The rest of the machine's busy time: PostgreSQL (and this script's polling).
        used["PostgreSQL and the rest"] = ((cpu_busy()[0] - busy) / os.sysconf("SC_CLK_TCK")
                                           - sum(used.values()))
    finally:
        watch.close()
        processor.cleanup()
    return events / seconds, seconds, used


def store_drain(build, workdir, cluster, pg, events):
    print()
    print("== PostgreSQL store: one sluice processor draining %d events vs COPY of the same rows"
          % events)
    collector = Server(os.path.join(build, "sluice"), command="collector",
                       config_text=config(cluster.bootstrap, pg.url)).start()
    post_all(collector.port, events)
    collector.cleanup()
    rate, seconds, used = drain(build, cluster, pg, events, "drain.")
    dump = os.path.join(workdir, "rows.copy")
    pg.query("COPY (SELECT * FROM sluice.events WHERE stream = 'events') TO '%s'" % dump)
    pg.query("DROP TABLE IF EXISTS sluice.copy_baseline")
    pg.query("CREATE TABLE sluice.copy_baseline (LIKE sluice.events INCLUDING ALL)")
    started = time.monotonic()
    before = cpu_busy()[0]
    pg.query("COPY sluice.copy_baseline FROM '%s'" % dump)
    copy_rate = events / (time.monotonic() - started)
    copy_cpu = (cpu_busy()[0] - before) / os.sysconf("SC_CLK_TCK")
    pg.query("DROP TABLE sluice.copy_baseline")
    # What exactly-once costs in SQL alone: the rows staged by COPY, then inserted unless their
    # id is there already (the store's statement), with no Kafka and no sluice.
    pg.query("CREATE TABLE sluice.insert_baseline (LIKE sluice.events INCLUDING ALL)")
    started = time.monotonic()
    pg.query("BEGIN; CREATE TEMP TABLE staged (LIKE sluice.events) ON COMMIT DROP; "
             "COPY staged FROM '%s'; "
             "INSERT INTO sluice.insert_baseline (stream, id, ts, received_at, key, type, "
             "payload) SELECT stream, id, ts, received_at, key, type, payload FROM staged "
             "ON CONFLICT (stream, id) DO NOTHING; COMMIT" % dump)
    insert_rate = events / (time.monotonic() - started)
    pg.query("DROP TABLE sluice.insert_baseline")
    print("baseline COPY             %9.0f rows/s" % copy_rate)
    print("COPY + INSERT ON CONFLICT %9.0f rows/s   (the store's SQL alone, one transaction)"
          % insert_rate)
    print("sluice store (1 processor)%9.0f events/s" % rate)
    print("ratio store/COPY: %.2f   store/(COPY + INSERT ON CONFLICT): %.2f"
          % (rate / copy_rate, rate / insert_rate))
    print("CPU per 100 000 events while the store drained (%.1f s on %d cores): %s"
          % (seconds, os.cpu_count(),
             ", ".join("%s %.2f s" % (name, c * 100_000 / events) for name, c in used.items())))
    print("CPU per 100 000 rows of the COPY (the machine's busy time): %.2f s"
          % (copy_cpu * 100_000 / events))


def processors(build, cluster, pg, events):
    print()
    print("== processors: 1, 2 and 3 draining the same %d events into fresh stores" % events)
    rates = {}
    for n in (1, 2, 3):
        database = "scale%d" % n
        pg.query("DROP DATABASE IF EXISTS %s" % database)
        pg.query("CREATE DATABASE %s" % database)
        db = Postgres()
        db.url = pg.url.rsplit("/", 1)[0] + "/" + database
        text = config(cluster.bootstrap, db.url, "scale%d." % n)
        busy0, total0 = cpu_busy()
        servers = [Server(os.path.join(build, "sluice"), command="processor",
                          config_text=text) for _ in range(n)]
        for s in servers:
            s.start()
        watch = Watch(db)
        try:
            first = None
            while True:
                done = watch.stored()
                if first is None and done > 0:
                    first = time.monotonic()
                    busy0, total0 = cpu_busy()
                if done >= events:
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - first
            busy1, total1 = cpu_busy()
        finally:
            watch.close()
            for s in servers:
                s.cleanup()
        rates[n] = events / seconds
        print("%d processor(s)            %9.0f events/s   ratio to 1: %.2f   machine CPU busy "
              "%.0f %% of %d cores" % (n, rates[n], rates[n] / rates[1],
                                      100.0 * (busy1 - busy0) / (total1 - total0),
                                      os.cpu_count()))


def rebalance(build, cluster, pg, session):
    print()
    print("== rebalance at session_timeout %s: the longest a partition's stored position stood "
          "still while events waited" % session)
    database = "rebalance"
    pg.query("DROP DATABASE IF EXISTS %s" % database)
    pg.query("CREATE DATABASE %s" % database)
    db = Postgres()
    db.url = pg.url.rsplit("/", 1)[0] + "/" + database
    # The mock cluster ends a rebalance's join phase session_timeout - 1 s after it began (a
    # broker ends it once every member has rejoined, which they do at their next heartbeat,
    # session_timeout / 5).
    join_wait = max(parse_seconds(session) - 1, 0)
    text = config(cluster.bootstrap, db.url, database + ".", session)
    collector = Server(os.path.join(build, "sluice"), command="collector",
                       config_text=config(cluster.bootstrap, pg.url)).start()
    stop = threading.Event()

    def steady():
        # About 2 000 events/s, every partition getting some all the time.
        i = 10_000_000
        while not stop.is_set():
            body = "\n".join(json.dumps(event(i + j)) for j in range(100))
            req = urllib.request.Request(
                "http://127.0.0.1:%d/v1/streams/events/events" % collector.port, body.encode(),
                {"Content-Type": "application/x-ndjson"})
            urllib.request.urlopen(req, timeout=30).read()
            i += 100
            time.sleep(0.05)
    poster = threading.Thread(target=steady, daemon=True)
    poster.start()
    procs = [Server(os.path.join(build, "sluice"), command="processor", config_text=text)
             for _ in range(3)]
    procs[0].start()
    procs[1].start()

    def positions():
        try:
            rows = db.query("SELECT partition, next_offset FROM sluice.sluice_positions "
                            "WHERE consumer = 'store' AND stream = 'events'")
        except subprocess.CalledProcessError:
            return {}  # the tables are not made yet
        return {int(p): int(o) for p, o in rows}

    def longest_stall(seconds):
        """Samples every 50 ms for `seconds`; the longest any partition stood still."""
        last, since, worst = {}, {}, 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = time.monotonic()
            for p, o in positions().items():
                if last.get(p) != o:
                    last[p], since[p] = o, now
                worst = max(worst, now - since[p])
            time.sleep(0.05)
        return worst

    def report(what, stall):
        print("%-26s longest stall %5.2f s   without the mock's join wait (%.1f s): %5.2f s"
              % (what, stall, join_wait, stall - join_wait))

    try:
        deadline = time.monotonic() + 60
        while len(positions()) < PARTITIONS and time.monotonic() < deadline:
            time.sleep(0.1)
        print("%-26s longest stall %5.2f s" % ("steady, 2 processors:", longest_stall(4)))
        procs[1].proc.send_signal(signal.SIGTERM)
        report("one leaves (SIGTERM):", longest_stall(4 + join_wait))
        procs[1].proc.wait(timeout=30)
        procs[2].start()
        report("one joins:", longest_stall(4 + join_wait))
        procs[2].kill()
        stall = longest_stall(6 + 2 * parse_seconds(session))
        print("%-26s longest stall %5.2f s   (the session times out first: the mock looks once a "
              "second)" % ("one SIGKILLed:", stall))
    finally:
        stop.set()
        poster.join(timeout=30)
        for s in procs + [collector]:
            s.cleanup()


def parse_seconds(text):
    return float(text[:-1])


def main():
    build = sys.argv[1]
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 300_000
    stages = set(sys.argv[3:]) or {"ingest", "store", "processors", "rebalance"}
    workdir = tempfile.mkdtemp(prefix="sluice-bench-scale-")
    os.chmod(workdir, 0o777)  # the PostgreSQL server writes and reads the COPY file here
    mock = os.path.join(build, "tests", "kafka_mock_cluster")
    pg = Postgres().start()
    try:
        cluster = MockKafkaCluster(mock, TOPICS)
        try:
            if "ingest" in stages:
                kafka_ingest(build, workdir, cluster, pg, 5)
        finally:
            cluster.stop()
        # A fresh cluster for the draining: the mock keeps only ~5 MB per partition.
        cluster = MockKafkaCluster(mock, TOPICS)
        try:
            if "store" in stages:
                store_drain(build, workdir, cluster, pg, events)
            if "processors" in stages:
                processors(build, cluster, pg, events)
            if "rebalance" in stages:
                rebalance(build, cluster, pg, "3s")
        finally:
            cluster.stop()
    finally:
        pg.cleanup()
        subprocess.run(["rm", "-rf", workdir])


if __name__ == "__main__":
    main()
