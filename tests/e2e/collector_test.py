"""The collector against the running binary: every way events come in and every status code a
bad request gets, each time checking that valid events sent alongside are stored and that the
process keeps serving.

usage: collector_test.py SLUICE_BINARY
"""

import gzip
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CONFIG = """
server:
  max_body_bytes: 1MiB
  header_timeout: 1s
  body_timeout: 1s
streams:
  events: {dead_letter: dead}
  web: {id_field: event_id, type_field: event_type, dead_letter: dead}
  secure: {write_keys: ["k-123", "${SLUICE_TEST_KEY}"]}
  signup:
    form: {enabled: true, redirect: "https://example.com/thanks"}
    dead_letter: dead
    sanitize: {lowercase_fields: [email]}
    schema:
      type: object
      required: [email]
      properties:
        email: {type: string, format: email}
        age: {type: integer, minimum: 13}
  sensors:
    key_field: device
    dead_letter: dead
    privacy: {ip_field: ip, anonymize_ip: true, drop_fields: [secret]}
    schema:
      type: object
      required: [device, temp]
      properties: {temp: {type: number, maximum: 150}}
  dead: {id_field: "", time_field: "", type_field: stream}
"""

RATE_CONFIG = """
server:
  trust_forwarded_for: true
  rate_limit: {per_ip: 5, per_key: 3, burst: 0}
streams:
  events: {}
  keyed: {write_keys: [rk]}
"""


def stored(server, in_stream, **match):
    """Events of `in_stream` whose payload has every field in `match`."""
    events = all_events(server, "stream=" + in_stream)
    return [e for e in events if all(e["payload"].get(k) == v for k, v in match.items())]


def wait_stored(server, in_stream, count, **match):
    wait_for(lambda: len(stored(server, in_stream, **match)) >= count, 20,
             "%d %s events matching %s" % (count, in_stream, match))
    found = stored(server, in_stream, **match)
    assert len(found) == count, (count, found)
    return found


def post(server, path, body, status, headers=None, contains=None):
    got, hdrs, reply = server.request("POST", path, body, headers or {})
    assert got == status, (path, got, reply)
    if contains is not None:
        text = json.dumps(reply)
        assert contains in text, (contains, text)
    return reply, hdrs


def raw_exchange(server, data, timeout=10):
    """Sends raw bytes; returns everything the server answers before closing."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def main():
    binary = sys.argv[1]
    os.environ["SLUICE_TEST_KEY"] = "k-from-env"
    checks = Checks()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(CONFIG)
    config.close()
    server = Server(binary, config=config.name).start()
    try:
        run_checks(checks, server)
    finally:
        server.cleanup()
    rate_config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    rate_config.write(RATE_CONFIG)
    rate_config.close()
    limited = Server(binary, config=rate_config.name).start()
    try:
        checks.run("429 over the per-IP and per-key rate limits, with Retry-After",
                   rate_limits, limited)
    finally:
        limited.cleanup()
    checks.run("429 over reads_per_ip for reads; probes and posts are not counted",
               read_rate_limit, binary)
    checks.run("sluice collector: ingest only, one process per data directory, sluice run "
               "stores what it collected", collector_role, binary)
    checks.finish()


def read_rate_limit(binary):
    server = Server(binary, config_text="server: {rate_limit: {reads_per_ip: 3}}\n"
                    "streams: {events: {}}\n").start()
    try:
        for i in range(20):  # probes and posts do not count against reads
            assert server.request("GET", "/readyz")[0] == 200
            assert server.request("GET", "/healthz")[0] == 200
            post(server, "/v1/streams/events/events", {"id": "p%d" % i}, 202)
        statuses = []
        for _ in range(10):
            status, headers, reply = server.request("GET", "/v1/events?limit=1")
            statuses.append(status)
            if status == 429:
                assert int(headers["retry-after"]) >= 1, headers
                assert "server.rate_limit.reads_per_ip: 3 requests per second" in \
                    reply["error"], reply
        assert statuses.count(429) >= 5 and statuses[0] == 200, statuses
        wait_for(lambda: server.request("GET", "/v1/events?limit=1")[0] == 200, 5, "refill")
    finally:
        server.cleanup()


def collector_role(binary):
    data_dir = tempfile.mkdtemp(prefix="sluice-collector-")
    collector = Server(binary, data_dir=data_dir, command="collector").start()
    try:
        post(collector, "/publish", [{"id": "c%d" % i, "type": "role"} for i in range(40)], 202)
        # SIGHUP (a closed terminal, a supervisor's reload) must not end the collector.
        collector.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("SIGHUP ignored" in line for line in collector.stderr_lines), 10,
                 "the collector's SIGHUP log line")
        assert collector.proc.poll() is None, "the collector ended on SIGHUP"
        post(collector, "/publish", [{"id": "c%d" % i, "type": "role"} for i in range(40, 50)],
             202)
        status, _, reply = collector.request("GET", "/v1/events")
        assert status == 404 and "this is a collector" in reply["error"], (status, reply)
        second = Server(binary, data_dir=data_dir)
        try:
            second.start()
            raise AssertionError("a second process opened the same data directory")
        except RuntimeError as e:
            assert "in use by another sluice process" in str(e), e
        finally:
            second.cleanup()
        assert collector.stop() == 0
        everything = Server(binary, data_dir=data_dir).start()
        try:
            wait_stored(everything, "events", 50, type="role")
        finally:
            everything.cleanup()
    finally:
        collector.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def reference_shapes(server):
    post(server, "/publish", {"type": "TEMP", "value": "ALERT:90"}, 202, contains='"accepted": 1')
    post(server, "/publish", {"city": "NYC", "event_type": "traffic", "severity": "high",
                              "description": "Accident on 5th Ave",
                              "timestamp": "2025-10-13T11:30:00Z"}, 202)
    wait_stored(server, "events", 1, type="TEMP", value="ALERT:90")
    [city] = wait_stored(server, "events", 1, city="NYC")
    assert city["ts"] == "2025-10-13T11:30:00.000Z", city


def tracker_batches(server):
    envelope = {"app": "shop", "version": "2.1", "events": [
        {"event_type": "page_view", "event_id": "pv-1", "page": "/"},
        {"event_type": "click", "event_id": "cl-1", "app": "own"}]}
    post(server, "/collect", envelope, 202, contains='"accepted": 2')
    post(server, "/collect", {"batch": [{"event_type": "page_view", "event_id": "pv-2"}],
                              "app": "shop"}, 202)
    post(server, "/collect", [{"event_type": "scroll", "event_id": "sc-1"}], 202)
    ndjson = '{"event_type":"a","event_id":"nd-1"}\n{"event_type":"b","event_id":"nd-2"}\n'
    post(server, "/v1/streams/web/events", ndjson, 202, {"Content-Type": "application/x-ndjson"})
    post(server, "/collect", gzip.compress(json.dumps(envelope).encode()), 202,
         {"Content-Encoding": "gzip", "Content-Type": "text/plain;charset=UTF-8"})
    [pv] = wait_stored(server, "web", 1, event_id="pv-1")
    assert pv["payload"] == {"event_type": "page_view", "event_id": "pv-1", "page": "/",
                             "app": "shop", "version": "2.1"}, pv
    [cl] = wait_stored(server, "web", 1, event_id="cl-1")
    assert cl["payload"]["app"] == "own", cl
    wait_stored(server, "web", 1, event_id="pv-2", app="shop")
    wait_stored(server, "web", 1, event_id="nd-2")


def partial_acceptance(server):
    body = [{"device": "d1", "temp": 20, "secret": "x"}, {"device": "d2", "temp": 999},
            {"temp": 1}, "text", {"device": "d3", "temp": 21}]
    reply, _ = post(server, "/v1/streams/sensors/events", body, 202)
    assert reply["accepted"] == 2, reply
    assert [r["index"] for r in reply["rejected"]] == [1, 2, 3], reply
    assert reply["rejected"][0]["error"] == \
        'field "temp": expected number less than or equal to 150', reply
    assert "missing required property 'device'" in reply["rejected"][1]["error"], reply
    [d1] = wait_stored(server, "sensors", 1, device="d1")
    assert d1["payload"] == {"device": "d1", "temp": 20, "ip": "127.0.0.0"}, d1
    assert d1["key"] == "d1", d1
    dead = wait_stored(server, "dead", 3, stream="sensors")
    reasons = sorted(d["payload"]["error"] for d in dead)
    assert any("less than or equal to 150" in r for r in reasons), reasons
    by_index = {d["payload"]["index"]: d["payload"] for d in dead}
    # As stored events are, after the privacy rules: the anonymised address added.
    assert by_index[1]["event"] == {"device": "d2", "temp": 999, "ip": "127.0.0.0"}, by_index
    assert by_index[3]["raw"] == '"text"', by_index
    # None valid: 400 with the same body, and still dead-lettered.
    reply, _ = post(server, "/v1/streams/sensors/events", [{"temp": 2}], 400)
    assert reply["accepted"] == 0 and reply["rejected"][0]["index"] == 0, reply
    wait_stored(server, "dead", 4, stream="sensors")


def forms(server):
    form = urllib.parse.urlencode({"email": "  Ann@Example.COM ", "age": "30", "name": "Ann"})
    status, headers, _ = server.request(
        "POST", "/v1/forms/signup", form,
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303, status
    assert headers["location"] == "https://example.com/thanks", headers
    [ann] = wait_stored(server, "signup", 1, email="ann@example.com")
    assert ann["payload"] == {"email": "ann@example.com", "age": 30, "name": "Ann"}, ann
    reply, _ = post(server, "/v1/forms/signup", "email=kid%40example.com&age=9", 400,
                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply["rejected"][0]["error"] == \
        'field "age": expected number greater than or equal to 13', reply
    post(server, "/v1/forms/signup", {"email": "json@example.com"}, 303)
    wait_stored(server, "signup", 1, email="json@example.com")
    post(server, "/v1/forms/nope", "a=1", 404, {"Content-Type": "application/x-www-form-urlencoded"},
         'unknown form \\"nope\\"')
    post(server, "/v1/forms/events", "a=1", 404, contains="unknown form")  # a stream, not a form
    post(server, "/v1/forms/signup", "--x\r\n", 415, {"Content-Type": "multipart/form-data; boundary=x"})


def malformed_json(server):
    reply, _ = post(server, "/v1/streams/events/events", '{"a":1,}', 400)
    assert "malformed JSON at byte 7" in reply["error"], reply
    post(server, "/v1/streams/events/events", "[{\"a\":1}, {\"b\":]", 400, contains="malformed JSON")


def deep_nesting(server):
    deep = '{"a":' + "[" * 1000 + "]" * 1000 + "}"
    reply, _ = post(server, "/v1/streams/events/events", deep, 400)
    assert "deeper than 64" in reply["rejected"][0]["error"], reply
    body = "[" + deep + ', {"id": "beside-deep"}]'
    reply, _ = post(server, "/v1/streams/events/events", body, 202)
    assert reply["accepted"] == 1 and reply["rejected"][0]["index"] == 0, reply
    wait_stored(server, "events", 1, id="beside-deep")


def invalid_utf8(server):
    body = b'{"id":"utf-ok-1"}\n{"id":"bad","v":"\xff\xfe"}\n{"id":"utf-ok-2"}\n'
    reply, _ = post(server, "/v1/streams/events/events", body, 202,
                    {"Content-Type": "application/x-ndjson"})
    assert reply["accepted"] == 2, reply
    assert reply["rejected"] == [{"index": 1, "error": reply["rejected"][0]["error"]}], reply
    assert "invalid UTF-8" in reply["rejected"][0]["error"], reply
    wait_stored(server, "events", 1, id="utf-ok-2")
    def utf8_dead_letters():
        return [d for d in stored(server, "dead", stream="events")
                if "UTF-8" in d["payload"]["error"]]

    wait_for(lambda: len(utf8_dead_letters()) == 1, 20, "the dead letter of the bad line")
    [dead] = utf8_dead_letters()
    assert "\ufffd" in dead["payload"]["raw"], dead
    post(server, "/v1/streams/events/events", b'{"id":"\xc3"}', 400, contains="invalid UTF-8")


def numbers(server):
    body = ('{"id":"num-big","n":123456789012345678901234567890}\n'
            '{"id":"num-huge","a":{"b":[1, 1.5e400]}}\n'
            '{"id":"num-small","x":-99999999999999999999}\n')
    reply, _ = post(server, "/v1/streams/events/events", body, 202,
                    {"Content-Type": "application/x-ndjson"})
    assert reply["accepted"] == 2, reply
    assert reply["rejected"] == [{"index": 1, "error": "field \"a\" holds the number 1.5e400, "
                                  "outside a 64-bit float's range (magnitude at most about "
                                  "1.8e308, exponent at most 308)"}], reply
    [big] = wait_stored(server, "events", 1, id="num-big")
    assert big["payload"]["n"] == 123456789012345678901234567890, big  # exact, as sent
    [small] = wait_stored(server, "events", 1, id="num-small")
    assert small["payload"]["x"] == -99999999999999999999, small

    def huge_dead_letters():
        return [d for d in stored(server, "dead", stream="events")
                if "1.5e400" in d["payload"]["error"]]

    wait_for(lambda: len(huge_dead_letters()) == 1, 20, "the dead letter of the huge number")
    [dead] = huge_dead_letters()
    # Kept as text: as JSON, readers would take it for infinity.
    assert dead["payload"]["raw"] == '{"id":"num-huge","a":{"b":[1, 1.5e400]}}', dead


def write_keys(server):
    path = "/v1/streams/secure/events"
    _, headers = post(server, path, {"id": "s0"}, 401, contains="needs a write key")
    assert headers["www-authenticate"].startswith("Bearer"), headers
    post(server, path, {"id": "s0"}, 403, {"Authorization": "Bearer wrong"},
         contains="not a write key")
    post(server, path, {"id": "s1"}, 202, {"Authorization": "Bearer k-123"})
    post(server, path, {"id": "s2"}, 202, {"X-Sluice-Key": "k-from-env"})
    post(server, path + "?key=k-123", {"id": "s3"}, 202)  # sendBeacon cannot set headers
    wait_stored(server, "secure", 3)
    # With reads open (a loopback listener, no read tokens) credentials are not looked at: a
    # write key reads as a guess would, so reads never tell the two apart.
    with_key = server.request("GET", "/v1/events?stream=secure", None,
                              {"Authorization": "Bearer k-123"})
    with_guess = server.request("GET", "/v1/events?stream=secure", None,
                                {"Authorization": "Bearer guess"})
    assert with_key[0] == with_guess[0] == 200, (with_key, with_guess)


def simple_statuses(server):
    post(server, "/v1/streams/nope/events", {}, 404, contains='unknown stream \\"nope\\"')
    status, headers, reply = server.request("GET", "/v1/streams/events/events")
    assert status == 405 and headers["allow"] == "POST, OPTIONS", (status, headers)
    status, headers, reply = server.request("DELETE", "/collect")
    assert status == 405, status
    reply, _ = post(server, "/v1/streams/events/events", "<a/>", 415,
                    {"Content-Type": "application/xml"})
    assert '"application/xml" is not accepted' in reply["error"], reply
    answer = raw_exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
                          + b"\r\n\r\n")
    assert answer.startswith("HTTP/1.1 431"), answer
    assert "16384 bytes" in answer, answer
    answer = raw_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith("HTTP/1.1 400") and "malformed HTTP request" in answer, answer
    answer = raw_exchange(server, b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith("HTTP/1.1 411"), answer
    assert "Content-Length" in answer, answer


def body_limits(server):
    big = json.dumps({"id": "big", "pad": "x" * (1 << 20)})
    reply, _ = post(server, "/v1/streams/events/events", big, 413)
    assert "1048576 bytes" in reply["error"], reply
    bomb = gzip.compress(b"[" + b" " * (10 << 20) + b"]")  # 10 MiB that packs into ~10 KiB
    assert len(bomb) < 64 * 1024, len(bomb)
    started = time.monotonic()
    reply, _ = post(server, "/v1/streams/events/events", bomb, 413, {"Content-Encoding": "gzip"})
    assert "decompressed body is over the limit" in reply["error"], reply
    assert time.monotonic() - started < 5
    post(server, "/v1/streams/events/events", {"id": "after-bomb"}, 202)
    wait_stored(server, "events", 1, id="after-bomb")


def slow_clients(server):
    # slowloris: headers dribbled one byte at a time get 408 after server.header_timeout (1 s)
    # while other clients are served as usual.
    result = {}

    def dribble():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            started = time.monotonic()
            request = b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\nX-Pad: "
            try:
                for byte in request + b"a" * 100:
                    s.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:
                pass
            answer = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except OSError:
                pass
            result["answer"] = answer.decode(errors="replace")
            result["after"] = time.monotonic() - started

    slow = [threading.Thread(target=dribble) for _ in range(20)]
    for t in slow:
        t.start()
    for i in range(20):
        post(server, "/v1/streams/events/events", {"id": "during-slowloris-%d" % i}, 202)
    for t in slow:
        t.join()
    assert result["answer"].startswith("HTTP/1.1 408"), result
    assert "server.header_timeout" in result["answer"], result
    assert result["after"] < 5, result
    # The same on a kept-alive connection: its second request's headers also get 408 after
    # server.header_timeout (1 s here), not after idle_timeout (60 s).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        body = b'{"id":"keepalive-1"}'
        s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  b"\r\n%s" % (len(body), body))
        first = s.recv(4096).decode(errors="replace")
        assert first.startswith("HTTP/1.1 202"), first
        # Idle between requests for longer than header_timeout (allowed: idle_timeout is 60 s),
        # then dribble: the header timeout runs from the first byte.
        time.sleep(1.5)
        started = time.monotonic()
        answer = b""
        try:
            for byte in b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60:
                s.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 5
    # A body that stops half-way: 408 after server.body_timeout.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 100\r\n\r\n{\"id\":")
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 408") and "server.body_timeout" in answer, answer
    for i in range(20):
        wait_stored(server, "events", 1, id="during-slowloris-%d" % i)


def many_connections(server, count=2000):
    """`count` connections open at once, each posting one event."""
    sockets = []
    try:
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sockets.append(s)
        for i, s in enumerate(sockets):
            body = json.dumps({"id": "conn-%d" % i, "type": "many"}).encode()
            s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
        selector = selectors.DefaultSelector()
        answers = {}
        for s in sockets:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
            answers[s] = b""
        open_count = len(sockets)
        deadline = time.monotonic() + 60
        while open_count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                chunk = key.fileobj.recv(65536)
                if chunk:
                    answers[key.fileobj] += chunk
                else:
                    selector.unregister(key.fileobj)
                    open_count -= 1
        statuses = [a.split(b" ", 2)[1] if a else b"none" for a in answers.values()]
        accepted = statuses.count(b"202")
        assert accepted == count, {s: statuses.count(s) for s in set(statuses)}
    finally:
        for s in sockets:
            s.close()
    wait_stored(server, "events", count, type="many")
    status, _, _ = server.request("GET", "/healthz")
    assert status == 200


def rate_limits(server):
    path = "/v1/streams/events/events"
    statuses = []
    for i in range(8):
        status, headers, reply = server.request("POST", path, {"id": "r%d" % i})
        statuses.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1, headers
            assert "rate limit exceeded for address 127.0.0.1" in reply["error"], reply
            assert "5 requests per second" in reply["error"], reply
    assert statuses.count(202) >= 5 and statuses.count(429) >= 1, statuses
    wait_for(lambda: len(all_events(server, "stream=events")) == statuses.count(202), 10,
             "accepted events stored")
    # Once the bucket refills, requests pass again.
    wait_for(lambda: server.request("POST", path, {"id": "later"})[0] == 202, 5, "refill")
    # Refused before the body: a client over its limit announcing a large body gets 429 at
    # once, without sending it. (When a token happened to be free the body is sent and the
    # next attempt, immediately after, is over the limit.)
    body = json.dumps([{"pad": "x" * 1000}] * 500).encode()
    answer = ""
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            s.settimeout(1)
            try:
                answer = s.recv(4096).decode(errors="replace")
            except socket.timeout:  # a token was free: the server waits for the body
                s.settimeout(10)
                s.sendall(body)
                s.recv(4096)
                continue
        break
    assert answer.startswith("HTTP/1.1 429") and "Retry-After:" in answer, answer
    # Per key: a client with its own address (X-Forwarded-For, trusted here) and a write key
    # runs out of the key's 3 requests/s before its address's 5.
    refusal = None
    for i in range(10):
        status, headers, reply = server.request(
            "POST", "/v1/streams/keyed/events", {"id": "k%d" % i},
            {"Authorization": "Bearer rk", "X-Forwarded-For": "198.51.100.7"})
        if status == 429:
            refusal = reply
            break
        assert status == 202, (status, reply)
    assert refusal and "rate limit exceeded for this key" in refusal["error"], refusal
    assert "3 requests per second" in refusal["error"], refusal


def run_checks(checks, server):
    checks.run("202: the reference systems' request shapes on /publish", reference_shapes, server)
    checks.run("202: tracker batches, envelopes, NDJSON and gzip on /collect", tracker_batches,
               server)
    checks.run("partial acceptance: invalid events rejected alone and dead-lettered",
               partial_acceptance, server)
    checks.run("forms: urlencoded and JSON, cleaned, typed, validated, 303", forms, server)
    checks.run("400: malformed JSON with the byte offset", malformed_json, server)
    checks.run("400: 1000-deep nesting, valid events beside it stored", deep_nesting, server)
    checks.run("invalid UTF-8: that line alone rejected", invalid_utf8, server)
    checks.run("numbers: any integer kept as sent; one too large for a double rejected alone",
               numbers, server)
    checks.run("401/403: write keys by header, Bearer and ?key=; a key reads as a guess does",
               write_keys, server)
    checks.run("400 (not HTTP), 404, 405, 411, 415, 431", simple_statuses, server)
    checks.run("413: over the body limit and a 10 MiB gzip bomb", body_limits, server)
    checks.run("408: slowloris headers and a stalled body while others are served",
               slow_clients, server)
    checks.run("2000 concurrent connections all answered and stored", many_connections, server)
    status, _, _ = server.request("GET", "/healthz")
    checks.run("still serving after all of it", lambda: None if status == 200 else 1 / 0)


if __name__ == "__main__":
    main()
