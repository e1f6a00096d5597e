"""The webhook sink against a local receiver that can be told to fail, answer 429, time out or
reject: `sluice run` with one pipeline per behaviour, all reading the same events.
- a receiver that answers 200 gets every event, as JSON arrays of event objects;
- 503 three times, then 200: every event still arrives (retried with backoff);
- 429 with Retry-After: 1: the next attempt comes no sooner than a second later;
- no answer within the timeout: the batch is sent again and arrives;
- 400 for batches holding a "bad" event: the batch is split until the bad events are alone;
  those land in the dead_letters stream with the status and reason, the others are delivered
  once;
- 403 for everything: each batch goes to the dead letters whole, not split;
- rate_limit: 5 requests per second are never exceeded;
- https: a receiver with a certificate from `ca_file` gets every event; one the trust store does
  not know, or one for another host name, is refused and retried (the error names why);
- a receiver that is down: GET /v1/pipelines shows the pipeline retrying with its lag and last
  error, and it catches up by itself when the receiver is back; `sluice pipelines` shows it.

usage: webhook_test.py SLUICE_BINARY
"""

import collections
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

EVENTS = 12
BAD = {3, 7}


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = collections.defaultdict(list)  # path -> [(time, status, events)]
        self.calls = collections.Counter()
        self.down = True  # /down answers 503 until the test brings it back


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        events = json.loads(body)
        r = self.server
        with r.lock:
            r.calls[self.path] += 1
            call = r.calls[self.path]
        status, headers = 200, {}
        if self.path == "/down" and r.down:
            status = 503
        elif self.path == "/flaky" and call <= 3:
            status = 503
        elif self.path == "/limited" and call == 1:
            status, headers = 429, {"Retry-After": "1"}
        elif self.path == "/slow" and call == 1:
            time.sleep(1.5)  # the sink's timeout is 300 ms
        elif self.path == "/reject" and any(e["payload"].get("bad") for e in events):
            status = 400
        elif self.path == "/forbidden":
            status = 403
        with r.lock:
            r.requests[self.path].append((time.monotonic(), status, events))
        reply = b'{"error":"bad event"}' if status == 400 else b"{}"
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sink gave up waiting (the timeout case)


CONFIG = """
sinks:
%(sinks)s
pipelines:
%(pipelines)s
"""


def delivered(receiver, path):
    with receiver.lock:
        return [e["payload"]["n"] for t, status, events in receiver.requests["/" + path]
                if status == 200 for e in events]


def main():
    binary = sys.argv[1]
    checks = Checks()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    workdir = tempfile.mkdtemp(prefix="sluice-webhook-test-")
    # An https receiver with a self-signed certificate for 127.0.0.1.
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    secure = Receiver()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    secure.socket = tls.wrap_socket(secure.socket, server_side=True)
    threading.Thread(target=secure.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % receiver.server_address[1]
    secure_port = secure.server_address[1]
    trusted = "ca_file: '%s', " % cert
    paths = {"ok": (base, ""), "flaky": (base, ""), "limited": (base, ""),
             "slow": (base, "timeout: 300ms, "), "reject": (base, ""), "forbidden": (base, ""),
             "paced": (base, "rate_limit: 5, "), "down": (base, ""),
             "secure": ("https://127.0.0.1:%d" % secure_port, trusted),
             "untrusted": ("https://127.0.0.1:%d" % secure_port, ""),
             "misnamed": ("https://localhost:%d" % secure_port, trusted)}
    sinks = "\n".join("  %s: {webhook: {%surl: '%s/%s'}}" % (name, extra, url, name)
                      for name, (url, extra) in paths.items())
    pipelines = "\n".join("  %s: {from: [events], to: [%s], batch: {max_events: %d}}"
                          % (name, name, 1 if name == "paced" else 100)
                          for name in paths)
    config = os.path.join(workdir, "sluice.yaml")
    with open(config, "w") as f:
        f.write(CONFIG % {"sinks": sinks, "pipelines": pipelines})
    server = Server(binary, config=config)
    server.start()
    everything = list(range(EVENTS))
    # One request: one append, so the pipelines read the events in batches holding several.
    status, _, body = server.request("POST", "/v1/streams/events/events",
                                     [{"n": n, "bad": n in BAD} for n in everything])
    assert status == 202, (status, body)

    def all_arrive_at(path, within=int(os.environ.get("WEBHOOK_WAIT", "30")), at=receiver):
        wait_for(lambda: sorted(set(delivered(at, path))) == everything, within,
                 "every event at /" + path)

    def ok():
        all_arrive_at("ok")
        with receiver.lock:
            first = receiver.requests["/ok"][0][2][0]
        assert set(first) == {"id", "stream", "ts", "received_at", "key", "type", "payload"}, first
        assert first["stream"] == "events"

    def flaky():
        all_arrive_at("flaky")
        with receiver.lock:
            statuses = [s for _, s, _ in receiver.requests["/flaky"]]
        assert statuses[:3] == [503, 503, 503] and statuses[3] == 200, statuses

    def limited():
        all_arrive_at("limited")
        with receiver.lock:
            (t429, s429, _), (t_next, _, _) = receiver.requests["/limited"][:2]
        assert s429 == 429
        assert t_next - t429 >= 0.95, "retried %.2f s after a 429 with Retry-After: 1" % (
            t_next - t429)

    def slow():
        all_arrive_at("slow")
        # The first request is recorded when its handler wakes, after the sink gave up on it.
        wait_for(lambda: len(receiver.requests["/slow"]) >= 2, 10, "the timed-out request too")

    def dead_letters_of(sink):
        return [e["payload"] for e in all_events(server, "stream=dead_letters")
                if e["payload"].get("sink") == sink]

    def rejected_to_dead_letters():
        good = [n for n in everything if n not in BAD]
        wait_for(lambda: sorted(delivered(receiver, "reject")) == good, 30,
                 "the good events at /reject, once each")
        wait_for(lambda: len(dead_letters_of("reject")) == len(BAD), 30,
                 "the rejected events in dead_letters")
        records = dead_letters_of("reject")
        assert sorted(r["event"]["payload"]["n"] for r in records) == sorted(BAD), records
        for r in records:
            assert r["pipeline"] == "reject", r
            assert "answered 400" in r["error"] and "bad event" in r["error"], r
        with receiver.lock:
            mixed = [events for _, status, events in receiver.requests["/reject"]
                     if status == 400 and any(not e["payload"]["bad"] for e in events)]
        assert mixed, "no batch held good and bad events: the split was not exercised"

    def forbidden_whole_batches():
        wait_for(lambda: len(dead_letters_of("forbidden")) == EVENTS, 30,
                 "every event in dead_letters")
        records = dead_letters_of("forbidden")
        assert all("answered 403" in r["error"] for r in records), records
        with receiver.lock:
            sent = sum(len(events) for _, _, events in receiver.requests["/forbidden"])
        assert sent == EVENTS, "%d events sent for %d: a 403 batch was split" % (sent, EVENTS)

    def paced():
        all_arrive_at("paced")
        with receiver.lock:
            times = [t for t, _, _ in receiver.requests["/paced"]]
        assert len(times) == EVENTS, len(times)
        # The receiver notes a request when its thread gets to it, which a busy machine can
        # delay, bunching two; the span cannot shrink though: the last request is sent at
        # least (n - 1) / 5 s after the first (less the first one's delay at the receiver).
        span = times[-1] - times[0]
        assert span >= (EVENTS - 1) / 5 - 0.2, "%d requests in %.3f s with rate_limit 5" % (
            EVENTS, span)

    def status_of(name):
        status, _, body = server.request("GET", "/v1/pipelines")
        assert status == 200, (status, body)
        return {p["name"]: p for p in body["pipelines"]}[name]

    def outage_shows_lag_then_catches_up():
        wait_for(lambda: status_of("down")["retries"] >= 2, 30, "retries against /down")
        down = status_of("down")
        assert down["state"] == "retrying", down
        assert down["lag"] == EVENTS, down
        assert "answered 503" in down["last_error"], down
        assert down["from"] == ["events"] and down["to"] == ["down"], down
        receiver.down = False
        all_arrive_at("down", within=60)
        wait_for(lambda: status_of("down")["lag"] == 0, 30, "lag back to 0")
        assert status_of("down")["state"] == "running"

    def https_verified():
        all_arrive_at("secure", at=secure)
        for name, why in (("untrusted", "certificate verify failed"),
                          ("misnamed", "certificate verify failed")):
            wait_for(lambda: status_of(name)["state"] == "retrying", 30, name + " retrying")
            error = status_of(name)["last_error"]
            assert why in error, (name, error)
            assert status_of(name)["lag"] == EVENTS, status_of(name)
        with secure.lock:
            assert not secure.requests["/untrusted"] and not secure.requests["/misnamed"]

    def cli_table():
        result = subprocess.run([binary, "pipelines", "--url", "http://127.0.0.1:%d" % server.port],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result
        rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
        assert rows["reject"][5] == str(len(BAD)), rows["reject"]  # DEAD column
        assert rows["ok"][1] == "running" and rows["ok"][2] == "0", rows["ok"]

    try:
        checks.run("200: every event, as JSON arrays of event objects", ok)
        checks.run("503 three times: retried until delivered", flaky)
        checks.run("429 with Retry-After: 1: next attempt a second later", limited)
        checks.run("no answer within the timeout: sent again", slow)
        checks.run("400: batches split, rejected events in dead_letters with the reason, "
                   "others delivered once", rejected_to_dead_letters)
        checks.run("403: whole batches in dead_letters, not split", forbidden_whole_batches)
        checks.run("rate_limit 5: never faster", paced)
        checks.run("sink down: GET /v1/pipelines shows retrying, lag and the error; it catches "
                   "up by itself", outage_shows_lag_then_catches_up)
        checks.run("https: delivered with a trusted certificate; an untrusted one or another "
                   "host's is refused and retried", https_verified)
        checks.run("sluice pipelines prints the table", cli_table)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-40:]))
            print("received:", {p: [(s, len(e)) for _, s, e in r]
                                for p, r in receiver.requests.items()})
        server.cleanup()
        receiver.shutdown()
        secure.shutdown()
    checks.finish()


if __name__ == "__main__":
    main()
