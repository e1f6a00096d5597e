"""Starts the real sluice binary for integration and end-to-end tests.

Standard library only. A server is started on port 0 (the OS picks a free port) with a fresh
data directory; its chosen port is read from the line it prints on stdout.
"""

import calendar
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Server:
    def __init__(self, binary, data_dir=None, config=None, extra_args=(), command="run",
                 config_text=None, listen="127.0.0.1:0"):
        """`config_text`: YAML written to a temporary file (removed by cleanup) and used as the
        configuration instead of `config`. Requests always go to 127.0.0.1, whatever `listen`
        says (0.0.0.0:0 listens there too)."""
        self.binary = binary
        self.listen = listen
        self.own_config = None
        if config_text is not None:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                f.write(config_text)
            config = self.own_config = f.name
        self.command = command
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sluice-test-")
        self.config = config
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.stderr_lines = []

    def start(self, timeout=30):
        args = [self.binary, self.command, "--listen", self.listen, "--data-dir", self.data_dir]
        if self.config:
            args += ["--config", self.config]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        drain = threading.Thread(target=self._drain_stderr, daemon=True)
        drain.start()
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()  # blocks until the server is listening or exits
        if time.monotonic() > deadline or "listening on" not in line:
            self.proc.kill()
            self.proc.wait()
            drain.join(timeout=10)  # the reason is on stderr
            raise RuntimeError("sluice did not start: %r\n%s" % (line, "".join(self.stderr_lines)))
        self.port = int(line.strip().rsplit(":", 1)[1])
        return self

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def kill(self):
        """SIGKILL: no shutdown code runs, as in a crash or power cut of the process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.own_config:
            os.unlink(self.own_config)
            self.own_config = None

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict, parsed JSON body or raw text)."""
        own = conn is None
        conn = conn or self.connection()
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        if own:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on a free loopback port, serving from its own thread. Each POST's
    body goes to `answer(path, headers, body)`, which returns the status to send (200, 503...).
    A sender killed mid-request is not reported."""
    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.answer = answer
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def handle_error(self, request, client_address):
        pass


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.answer(self.path, self.headers, body)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


class SseClient:
    """A raw-socket EventSource: parses `id:`/`event:`/`data:` blocks and comments."""

    def __init__(self, port, path, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
                           % path).encode())
        self.buffer = b""
        self.head = None
        self.closed = False

    def read_some(self, size=65536, timeout=5):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            return False
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def blocks(self):
        """Complete blocks received so far (consumed): dicts of id, event, data, comment."""
        if self.head is None:
            if b"\r\n\r\n" not in self.buffer:
                return []
            self.head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        out = []
        while b"\n\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            block = {"data": []}
            for line in raw.decode().split("\n"):
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "":
                    block["comment"] = value
                elif field == "data":
                    block["data"].append(value)
                else:
                    block[field] = value
            block["data"] = "\n".join(block["data"])
            out.append(block)
        return out

    def wait_started(self, timeout=10):
        """Reads until the answer's head and the opening comment are in; returns the comment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_some(timeout=0.2)
            for block in self.blocks():
                if "comment" in block:
                    return block["comment"]
        raise AssertionError("the tail did not start: %r" % self.buffer[:200])

    def close(self):
        self.sock.close()


class MockKafkaCluster:
    """tests/tools/kafka_mock_cluster: librdkafka's mock cluster, 3 brokers on loopback."""

    def __init__(self, binary, topics):
        self.proc = subprocess.Popen([binary, *topics], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("bootstrap "), line
        self.bootstrap = line.split()[1]

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", (text, answer)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


class Poster(threading.Thread):
    """Posts NDJSON batches to /v1/streams/events/events until told to stop or the server goes
    away (killed: that batch is unacknowledged). `make_batch(n)` gives the n-th batch's events;
    each acknowledged batch is added to `acked` (list.extend is atomic under the GIL), as
    `record(event)` of each event. `sent` counts acknowledged requests; with `limit` it stops
    after that many."""

    def __init__(self, port, make_batch, acked, record=lambda event: event, pause=0.0,
                 limit=None):
        super().__init__(daemon=True)
        self.port, self.make_batch, self.acked = port, make_batch, acked
        self.record, self.pause, self.limit = record, pause, limit
        self.stop = False
        self.sent = 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop and (self.limit is None or self.sent < self.limit):
            events = self.make_batch(self.sent)
            body = "\n".join(json.dumps(e) for e in events)
            try:
                conn.request("POST", "/v1/streams/events/events", body,
                             {"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                reply = resp.read()
            except (OSError, http.client.HTTPException):
                return  # killed: this batch is unacknowledged
            if resp.status != 202:
                raise AssertionError("unexpected %d: %r" % (resp.status, reply))
            self.acked.extend(self.record(e) for e in events)
            self.sent += 1
            if self.pause:
                time.sleep(self.pause)

    def finish(self):
        self.stop = True
        self.join(timeout=30)
        assert not self.is_alive(), "client hung"


def metric(server, name):
    """The value of an unlabelled-by-us sample `name{...}` from GET /metrics (first match)."""
    status, _, text = server.request("GET", "/metrics")
    assert status == 200, status
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("metric %s not exposed" % name)


def all_events(server, params="", limit=1000):
    """Pages through GET /v1/events and returns every event."""
    events, cursor = [], None
    conn = server.connection()
    while True:
        query = "limit=%d" % limit + (("&" + params) if params else "")
        if cursor:
            query += "&cursor=" + cursor
        status, _, body = server.request("GET", "/v1/events?" + query, conn=conn)
        assert status == 200, (status, body)
        events += body["events"]
        cursor = body["next_cursor"]
        if cursor is None:
            conn.close()
            return events


def parse_ms(text):
    """An ISO-8601 UTC time such as 2026-01-01T00:00:11.622Z as ms since the epoch."""
    whole, _, rest = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(rest or 0)


def wait_for(predicate, timeout, what):
    """Polls `predicate` until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Checks:
    """Tiny test runner: named checks, a summary line, exit status."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        try:
            fn(*args)
            self.passed += 1
            print("ok   %s" % name, flush=True)
        except Exception as e:  # report and go on with the other checks
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


class Postgres:
    """A throwaway PostgreSQL server (scripts/test-postgres) in its own directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-pg-")
        self.script = os.path.join(os.path.dirname(__file__), "..", "scripts", "test-postgres")
        self.url = None

    def start(self):
        port = [self.url.rsplit(":", 1)[1].split("/")[0]] if self.url else []
        self.url = subprocess.run([self.script, "start", self.dir, *port], check=True,
                                  capture_output=True, text=True).stdout.strip()
        return self

    def stop(self):
        subprocess.run([self.script, "stop", self.dir], check=True, capture_output=True)

    def query(self, sql):
        """Rows of a query as lists of strings (psql, unaligned)."""
        out = subprocess.run(["psql", self.url, "-XAt", "-F", "\t", "-c", sql], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def cleanup(self):
        subprocess.run([self.script, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Store:
    """The store a suite runs against, named by its command line: the embedded SQLite file
    (`sqlite`, the default) or `postgres`, a throwaway PostgreSQL server — so one suite checks
    that both stores give the same answers."""

    def __init__(self, kind="sqlite"):
        if kind not in ("sqlite", "postgres"):
            raise SystemExit("store must be sqlite or postgres, not %r" % kind)
        self.kind = kind
        self.postgres = Postgres().start() if kind == "postgres" else None

    def config(self):
        """The YAML that points sluice at this store (nothing for the default)."""
        return "store: {url: '%s'}\n" % self.postgres.url if self.postgres else ""

    def cleanup(self):
        if self.postgres:
            self.postgres.cleanup()
