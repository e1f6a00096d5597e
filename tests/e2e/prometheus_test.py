"""Metrics and readiness with a real Prometheus server (Debian's prometheus): it scrapes a
running `sluice run` every second while events flow, with deploy/prometheus/rules.yaml loaded,
and the test asks Prometheus' HTTP API what it saw.
- the rates of accepted and rejected events Prometheus computes match the rates the test posted;
- request latency histograms give a p99 for event POSTs;
- every metric the Grafana dashboard (deploy/grafana/sluice.json) and the alerting rules use is
  one Prometheus has samples of, and every rule evaluates without error;
- a pipeline whose webhook receiver is down: /readyz answers 503 naming it, Prometheus sees
  sluice_pipeline_up 0 and a growing sluice_pipeline_lag_seconds; once the receiver is up,
  /readyz is 200 and the lag returns to 0.

usage: prometheus_test.py SLUICE_BINARY SOURCE_DIR
"""

import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

POST_SECONDS = 12
BATCH_VALID, BATCH_INVALID = 10, 1
PAUSE = 0.02  # between batches: a steady rate of a few hundred events per second


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.ThreadingHTTPServer):
    """The webhook receiver, bound at once (the port is reserved) but answering only once
    `serve_forever` runs: until then connections wait in the backlog and time out."""
    daemon_threads = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), Handler, bind_and_activate=False)
        self.received = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received += len(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Prometheus:
    def __init__(self, target_port, rules, workdir):
        self.port = free_port()
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    "rule_files: [%s]\n"
                    "scrape_configs:\n"
                    "  - job_name: sluice\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % (rules, target_port))
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "prometheus.log"), "w"))

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def value(self, query):
        """The single value of an instant query, or None when it has no sample."""
        result = self.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def ready(self):
        try:
            targets = self.api("targets")["activeTargets"]
        except OSError:
            return False
        return bool(targets) and all(t["health"] == "up" for t in targets)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def write_config(path, files_dir, hook_port):
    with open(path, "w") as f:
        f.write("""
streams:
  readings:
    partitions: 2
    key_field: sensor
    dead_letter: dead_letters
    schema:
      type: object
      required: [sensor, value]
      properties: {value: {type: number}}
  web: {}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
  alerts: {id_field: "", time_field: "", type_field: rule}
sinks:
  files: {file: {dir: %s}}
  hook: {webhook: {url: "http://127.0.0.1:%d/in", timeout: 500ms}}
pipelines:
  archive: {from: [readings], to: [files]}
  notify: {from: [web], to: [hook]}
windows:
  per_sensor:
    from: [readings]
    key: [sensor]
    tumbling: 1m
    aggregates: {readings: count, top: max(value)}
alerts:
  hot: {from: [readings], when: "value > 90", key: [sensor], cooldown: 1m}
""" % (files_dir, hook_port))


class Load(threading.Thread):
    """Posts batches of valid and invalid readings at a steady pace; counts what it sent."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.accepted = self.rejected = 0
        self.started = self.ended = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.started = time.monotonic()
        n = 0
        while time.monotonic() - self.started < POST_SECONDS:
            events = [{"sensor": "s-%d" % (i % 7), "value": (n + i) % 100}
                      for i in range(BATCH_VALID)]
            events += [{"sensor": "s-bad", "value": "hot"}] * BATCH_INVALID
            conn.request("POST", "/v1/streams/readings/events", json.dumps(events),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 202, (resp.status, body)
            self.accepted += body["accepted"]
            self.rejected += len(body["rejected"])
            n += 1
            time.sleep(PAUSE)
        self.ended = time.monotonic()


def metric_names(exprs):
    """Metric names in PromQL expressions: identifiers followed by { or [ or ( or a space,
    leaving out functions, keywords and label names."""
    words = set()
    for expr in exprs:
        expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers (with route templates) out
        words |= set(re.findall(r"\b([a-z_][a-z0-9_]*)\b\s*(?=[\[{)\s/*+\-<>=]|$)", expr))
    functions = {"sum", "rate", "increase", "deriv", "histogram_quantile", "predict_linear",
                 "max", "min", "by", "and", "or", "offset", "le", "instance", "stream",
                 "reason", "status", "route", "pipeline", "sink", "window", "rule", "dir"}
    return {w for w in words if w not in functions and "_" in w or w == "up"}


def main():
    binary, source = sys.argv[1], os.path.abspath(sys.argv[2])
    if not shutil.which("prometheus"):
        sys.exit("prometheus is not installed (scripts/setup installs it)")
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="sluice-prometheus-")
    hook_port = free_port()
    receiver = Receiver(hook_port)
    receiver.server_bind()
    receiver.server_activate()
    config = os.path.join(workdir, "sluice.yaml")
    write_config(config, os.path.join(workdir, "files"), hook_port)
    server = Server(binary, config=config).start()
    rules = os.path.join(source, "deploy", "prometheus", "rules.yaml")
    prometheus = Prometheus(server.port, rules, workdir)
    try:
        wait_for(prometheus.ready, 60, "Prometheus to scrape sluice")
        # Events to the web stream wait for the webhook receiver, which does not answer yet.
        assert server.request("POST", "/v1/streams/web/events", [{"page": "/a"}] * 5)[0] == 202
        load = Load(server.port)
        load.start()
        load.join(timeout=POST_SECONDS + 60)
        assert not load.is_alive()
        posted_seconds = load.ended - load.started
        # The load's mean rates; Prometheus' rate over the posting period must match them.
        window = "%ds" % int(posted_seconds - 2)
        accepted_rate = load.accepted / posted_seconds
        rejected_rate = load.rejected / posted_seconds
        at = load.ended + (time.time() - time.monotonic())  # the load's end, wall clock

        def rate_at_end(query, expected):
            value = float(prometheus.api("query", query=query, time="%.3f" % at)["result"][0]
                          ["value"][1])
            assert 0.6 * expected <= value <= 1.4 * expected, (query, value, expected)

        def scraped_past_end():
            return prometheus.value("timestamp(sluice_log_appends_total)") > at + 1

        checks.run("Prometheus has scraped past the end of the load",
                   wait_for, scraped_past_end, 30, "a scrape after the load")
        checks.run("accepted rate matches what was posted (%.0f events/s)" % accepted_rate,
                   rate_at_end,
                   'sum(rate(sluice_ingest_events_accepted_total{stream="readings"}[%s]))'
                   % window, accepted_rate)
        checks.run("rejected{reason=invalid} rate matches (%.0f events/s)" % rejected_rate,
                   rate_at_end,
                   'sum(rate(sluice_ingest_events_rejected_total{stream="readings",'
                   'reason="invalid"}[%s]))' % window, rejected_rate)
        checks.run("received = accepted + rejected", rate_at_end,
                   'sum(rate(sluice_ingest_events_received_total{stream="readings"}[%s]))'
                   % window, accepted_rate + rejected_rate)
        checks.run("202 requests counted per stream", rate_at_end,
                   'sum(rate(sluice_ingest_requests_total{stream="readings",status="202"}[%s]))'
                   % window, (load.accepted / BATCH_VALID) / posted_seconds)

        def p99_of_posts():
            value = float(prometheus.api("query", query=(
                'histogram_quantile(0.99, sum by (le) (rate(sluice_http_request_duration_seconds'
                '_bucket{route="/v1/streams/{stream}/events",status="202"}[%s])))' % window),
                time="%.3f" % at)["result"][0]["value"][1])
            assert 0 < value < 1, value
        checks.run("p99 of event POSTs from the latency histogram", p99_of_posts)

        def archive_caught_up():
            return (prometheus.value('sluice_pipeline_lag_events{pipeline="archive"}') == 0 and
                    prometheus.value("sluice_store_lag_events") == 0 and
                    prometheus.value('sluice_pipeline_events_read_total{pipeline="archive"}')
                    == load.accepted)
        checks.run("archive pipeline and store caught up, every event read once",
                   wait_for, archive_caught_up, 30, "archive and store lag 0")

        def names_exist():
            have = set(prometheus.api("label/__name__/values"))
            dashboard = json.load(open(os.path.join(source, "deploy", "grafana", "sluice.json")))
            exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            exprs += [r["query"] for g in prometheus.api("rules")["groups"] for r in g["rules"]]
            wanted = metric_names(exprs)
            assert len(wanted) >= 20, wanted
            missing = sorted(wanted - have)
            assert not missing, missing
        checks.run("every metric of the dashboard and the rules is scraped", names_exist)

        def rules_evaluate():
            groups = prometheus.api("rules")["groups"]
            rules_seen = [r for g in groups for r in g["rules"]]
            assert len(rules_seen) >= 10, rules_seen
            bad = [(r["name"], r.get("lastError")) for r in rules_seen if r["health"] != "ok"]
            assert not bad, bad
        checks.run("every alerting rule evaluates", wait_for_value, rules_evaluate)

        def not_ready():
            status, _, body = server.request("GET", "/readyz")
            assert status == 503, (status, body)
            assert body["status"] == "not ready", body
            hook = body["checks"]["pipelines"]["notify"]
            assert not hook["ok"] and "hook" in hook["error"], hook
            assert body["checks"]["pipelines"]["archive"]["ok"], body
            assert body["checks"]["log"]["ok"] and body["checks"]["store"]["ok"], body
        checks.run("/readyz is 503 and names the pipeline whose receiver is down",
                   wait_for_value, not_ready)

        def lag_growing():
            first = prometheus.value('sluice_pipeline_lag_seconds{pipeline="notify"}')
            assert prometheus.value('sluice_pipeline_up{pipeline="notify"}') == 0
            assert prometheus.value('sluice_pipeline_lag_events{pipeline="notify"}') == 5
            wait_for(lambda: prometheus.value(
                'sluice_pipeline_lag_seconds{pipeline="notify"}') > first + 1, 20,
                "the lag in seconds to grow")
        checks.run("Prometheus sees the stuck pipeline: up 0, lag 5 events, lag seconds growing",
                   wait_for_value, lag_growing)

        threading.Thread(target=receiver.serve_forever, daemon=True).start()

        def recovered():
            # At least once: a request the sink gave up on while the receiver was not answering
            # is read from its backlog once it answers, besides the retry.
            return (receiver.received >= 5 and server.request("GET", "/readyz")[0] == 200 and
                    prometheus.value('sluice_pipeline_lag_seconds{pipeline="notify"}') == 0 and
                    prometheus.value('sluice_pipeline_up{pipeline="notify"}') == 1)
        checks.run("receiver back: delivered, /readyz 200, lag 0 in Prometheus",
                   wait_for, recovered, 60, "the pipeline to recover")
    finally:
        prometheus.stop()
        server.cleanup()
        receiver.server_close()
        shutil.rmtree(workdir, ignore_errors=True)
    checks.finish()


def wait_for_value(check, timeout=30):
    """Retries `check` (which asserts) until it passes; fails with its last error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
