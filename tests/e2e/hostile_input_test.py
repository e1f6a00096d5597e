"""Requests an attacker would send, against the running binary: each must leave the process up,
get its documented answer and leave other events stored. Run against each store, since what a
store can hold differs.

usage: hostile_input_test.py SLUICE_BINARY [sqlite|postgres]
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, all_events, parse_ms, wait_for  # noqa: E402

CONFIG = """
streams:
  events: {dead_letter: dead_letters}
  sensors:
    key_field: device
    dead_letter: dead_letters
    schema:
      type: object
      required: [device]
      properties:
        code: {type: string, pattern: "^sensor-[0-9]+$"}
        at: {type: string, format: date-time}
  private:
    dead_letter: dead_letters
    privacy: {drop_fields: [password], hash_fields: [email], hash_key: k}
    schema: {properties: {age: {type: integer}}}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
  alerts: {id_field: "", time_field: "", type_field: rule}
  audit: {ingest: true, dead_letter: dead_letters, write_keys: [audit-key]}
  readings: {key_field: city}
  strict: {future_time: dead_letter, max_future: 10m, dead_letter: dead_letters}
windows:
  per_city:
    from: [readings]
    key: [city]
    tumbling: 2s
    allowed_lateness: 0s
    aggregates: {n: count()}
sinks:
  slack: {webhook: {url: "http://127.0.0.1:9/services/T0001/B0001/s3cr3t-token", timeout: 1s}}
pipelines:
  to_slack: {from: [readings], to: [slack]}
alerts:
  hot:
    from: [events]
    when: 'value > 90'
    message: 'hot: {value}'
"""


def post(server, path, body, status, contains=None, headers=None):
    got, hdrs, reply = server.request("POST", path, body, headers or {})
    assert got == status, (path, got, reply)
    if contains is not None:
        assert contains in json.dumps(reply), (contains, reply)
    return reply


def stored_ids(server, stream):
    return {e["id"] for e in all_events(server, "stream=" + stream)}


def wait_stored(server, stream, ids):
    wait_for(lambda: set(ids) <= stored_ids(server, stream), 30,
             "%s stored in %s" % (sorted(ids), stream))


def long_values_against_patterns(server):
    """A 100 000-character value against a schema `pattern` ended the process (std::regex
    recursed once per character); a million-digit year did the same through `format`."""
    digits = "7" * 100_000
    reply = post(server, "/v1/streams/sensors/events",
                 {"device": "d", "code": "sensor-" + digits + "x"}, 400)
    assert reply["rejected"][0]["error"] == \
        'field "code": does not match the pattern "^sensor-[0-9]+$"', reply
    post(server, "/v1/streams/sensors/events",
         {"device": "d", "at": "1" * 1_000_000 + "-01-01T00:00:00Z"}, 400,
         contains='field \\"at\\": is not a valid date-time')
    post(server, "/v1/streams/sensors/events",
         [{"id": "long-ok", "device": "d", "code": "sensor-" + digits},
          {"id": "after", "device": "d", "code": "sensor-2"}],
         202, contains='"accepted": 2')
    assert server.proc.poll() is None, "the server ended"
    wait_stored(server, "sensors", {"long-ok", "after"})


def nul_characters(server):
    """A NUL in an id was accepted (202) and wedged the PostgreSQL store: its COPY failed and
    was retried for ever, and nothing posted after it was stored."""
    for body, field in ((r'{"id":"a\u0000b"}', "id"), (r'{"type":"T\u0000"}', "type"),
                        (r'{"id":"n1","note":{"x":["\u0000"]}}', "note")):
        reply = post(server, "/v1/streams/events/events", body, 400)
        assert reply["rejected"][0]["error"].startswith('field "%s" holds a NUL' % field), reply
    reply = post(server, "/v1/streams/events/events",
                 r'[{"id":"nul-1","k":"\u0000"},{"id":"nul-ok"}]', 202)
    assert reply["accepted"] == 1 and reply["rejected"][0]["index"] == 0, reply
    wait_stored(server, "events", {"nul-ok"})
    # The rejected events are in the dead letters, as text.
    def kept():
        return [e for e in all_events(server, "stream=dead_letters")
                if "nul-1" in json.dumps(e["payload"])]
    wait_for(lambda: kept(), 30, "the NUL event in the dead letters")
    assert "holds a NUL" in kept()[0]["payload"]["error"], kept()
    status, _, streams = server.request("GET", "/v1/streams")
    assert status == 200, streams


def internal_streams_take_no_posts(server):
    """A forged alert posted to `alerts` reached the rule's notify sinks."""
    for stream in ("alerts", "dead_letters"):
        reply = post(server, "/v1/streams/%s/events" % stream,
                     {"rule": "hot", "message": "forged"}, 403)
        assert "streams.%s.ingest: true" % stream in reply["error"], reply
    post(server, "/v1/streams/events/events", {"id": "real-hot", "value": 95}, 202)
    post(server, "/v1/streams/audit/events", {"id": "audit-1"}, 202,
         headers={"Authorization": "Bearer audit-key"})
    wait_stored(server, "audit", {"audit-1"})
    def alerts():
        return all_events(server, "stream=alerts")
    wait_for(lambda: alerts(), 30, "the real alert")
    assert all(a["payload"].get("message") != "forged" for a in alerts()), alerts()


def privacy_before_dead_letters(server):
    """A field the stream drops or hashes was kept in clear in the dead letters when its event
    failed the schema, and GET /v1/dead-letters served it."""
    post(server, "/v1/streams/private/events",
         [{"id": "p1", "email": "ann@example.com", "password": "hunter2", "age": "old"},
          {"id": "p2", "email": "bob@example.com"}], 202, contains='"accepted": 1')
    def letters():
        status, _, body = server.request("GET", "/v1/dead-letters?source=private")
        assert status == 200, body
        return body["events"]
    wait_for(lambda: letters(), 30, "the rejected event in the dead letters")
    text = json.dumps(letters())
    assert "hunter2" not in text and "ann@example.com" not in text, text
    assert '"age": "old"' in text, text


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def far_future_times(server):
    """One event dated 9999-12-31 moved the partition's watermark to year 9999: every later event
    was late and no window result was produced again."""
    reply = post(server, "/v1/streams/readings/events",
                 {"id": "future", "city": "X", "timestamp": "9999-12-31T00:00:00Z"}, 202)
    assert reply["accepted"] == 1, reply
    now = int(time.time() * 1000)
    # The envelope's time is the arrival time; the payload keeps the time as sent.
    wait_stored(server, "readings", {"future"})
    [kept] = [e for e in all_events(server, "stream=readings") if e["id"] == "future"]
    assert kept["payload"]["timestamp"] == "9999-12-31T00:00:00Z", kept
    assert abs(parse_ms(kept["ts"]) - now) < 60_000, kept
    start = (now // 2000 + 5) * 2000  # a window well after the clamped event
    post(server, "/v1/streams/readings/events",
         [{"id": "r1", "city": "Y", "timestamp": iso(start + 100)},
          {"id": "r2", "city": "Y", "timestamp": iso(start + 900)},
          {"id": "r3", "city": "Y", "timestamp": iso(start + 30_000)}], 202,
         contains='"accepted": 3')
    def closed():
        status, _, body = server.request("GET", "/v1/windows/per_city?key=Y&final=true")
        assert status == 200, body
        return body["results"]
    wait_for(lambda: closed(), 30, "the window of r1 and r2 closed")
    assert closed()[-1]["values"]["n"] == 2, closed()
    # A stream that dead-letters such events instead: 400 naming the limit.
    reply = post(server, "/v1/streams/strict/events",
                 {"id": "s1", "timestamp": "9999-12-31T00:00:00Z"}, 400)
    assert "streams.strict.max_future" in reply["rejected"][0]["error"], reply


def key_checked_before_body(server):
    """A 5 MiB body with a wrong key was read to the end (8 s when sent slowly) before the 403.
    Now the answer comes on the headers alone: the body is never sent here."""
    for key, status in (("wrong", 403), (None, 401)):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            head = ("POST /v1/streams/audit/events HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n" % (5 << 20))
            if key:
                head += "Authorization: Bearer %s\r\n" % key
            s.sendall((head + "\r\n").encode())
            started = time.monotonic()
            answer = s.recv(65536).decode(errors="replace")
            assert answer.startswith("HTTP/1.1 %d" % status), answer
            assert time.monotonic() - started < 5, "answered only after a timeout"
            assert "connection: close" in answer.lower(), answer
    # A stream that takes no posts, and an unknown one, are refused on the headers too.
    for path, status in (("/v1/streams/alerts/events", 403), ("/v1/streams/nope/events", 404)):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                       % path).encode())
            answer = s.recv(65536).decode(errors="replace")
            assert answer.startswith("HTTP/1.1 %d" % status), answer


def secrets_not_echoed(server):
    """A webhook URL that carries a token (Slack-style) appeared in GET /v1/pipelines'
    last_error and in the process log."""
    post(server, "/v1/streams/readings/events", {"id": "to-slack", "city": "Z"}, 202)
    def failing():
        status, _, body = server.request("GET", "/v1/pipelines")
        assert status == 200, body
        [pipeline] = [p for p in body["pipelines"] if p["name"] == "to_slack"]
        return pipeline["last_error"]
    wait_for(lambda: failing(), 30, "the webhook failing")
    error = failing()
    assert "http://127.0.0.1:9/…" in error, error
    assert "s3cr3t" not in error and "services" not in error, error
    wait_for(lambda: any("to_slack" in line for line in server.stderr_lines), 10, "a log line")
    leaked = [line for line in server.stderr_lines if "s3cr3t" in line]
    assert not leaked, leaked


def connection_and_tail_caps(binary, store):
    """Nothing bounded the number of connections or live tails."""
    server = Server(binary, config_text=own_store(store, "capped") +
                    "server: {max_connections: 6, max_tails: 2}\n" + CONFIG)
    held = []
    try:
        server.start()
        def tail():
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"GET /v1/tail?stream=events HTTP/1.1\r\nHost: x\r\n\r\n")
            return s, s.recv(4096).decode(errors="replace")
        for _ in range(2):
            s, head = tail()
            held.append(s)
            assert head.startswith("HTTP/1.1 200"), head
        s, head = tail()
        s.close()
        assert head.startswith("HTTP/1.1 503") and "server.max_tails" in head, head
        for _ in range(4):  # 6 open with the two tails
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            held.append(s)
        # The server accepts in order: the four above are counted before the next one.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            answer = s.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 503") and "server.max_connections" in answer, answer
        assert "retry-after: 1" in answer.lower(), answer
        for s in held:
            s.close()
        held.clear()
        def served():
            try:
                return server.request("GET", "/healthz")[0] == 200
            except OSError:
                return False
        wait_for(served, 10, "a connection served once the others closed")
    finally:
        for s in held:
            s.close()
        server.cleanup()


def origins_checked_without_preflight(server):
    """cors_origins was enforced on preflights only: a page anywhere could post a form or a
    sendBeacon (no preflight) to any stream."""
    reply = post(server, "/v1/streams/events/events", {"id": "from-evil"}, 403,
                 headers={"Origin": "https://evil.example"})
    assert "streams.events.cors_origins" in reply["error"], reply
    # The server's own pages, and clients that send no Origin, post as before.
    post(server, "/v1/streams/events/events", {"id": "same-origin"}, 202,
         headers={"Origin": "http://127.0.0.1:%d" % server.port})
    post(server, "/v1/streams/events/events", {"id": "no-origin"}, 202)


READS = ["/v1/events", "/v1/events/x?stream=events", "/v1/streams", "/v1/dead-letters",
         "/v1/alerts", "/v1/pipelines", "/v1/windows", "/v1/stats?stream=events", "/metrics",
         "/v1/tail?stream=events"]


def own_store(store, schema):
    """The store's configuration with a schema of its own: a server with a data directory of its
    own must not take another's committed offsets in a shared PostgreSQL database."""
    if not store.postgres:
        return store.config()
    return "store: {url: '%s', schema: %s}\n" % (store.postgres.url, schema)


def reads_closed_off_loopback(binary, store):
    """`sluice run --listen 0.0.0.0:PORT` without read tokens served every stored event to
    whoever reached the port."""
    server = Server(binary, config_text=own_store(store, "closed_reads") + CONFIG,
                    listen="0.0.0.0:0")
    try:
        server.start()
        post(server, "/v1/streams/events/events", {"id": "pii", "email": "a@b.c"}, 202)
        for path in READS:
            status, _, body = server.request("GET", path)
            assert status == 401, (path, status, body)
            assert "server.read_tokens" in body["error"], body
        assert server.request("GET", "/healthz")[0] == 200
        assert any("reads need a read token" in line for line in server.stderr_lines), \
            server.stderr_lines
    finally:
        server.cleanup()
    public = Server(binary, config_text=own_store(store, "public_reads") +
                    "server: {public_reads: true}\n" + CONFIG, listen="0.0.0.0:0")
    try:
        public.start()
        post(public, "/v1/streams/events/events", {"id": "open"}, 202)
        wait_stored(public, "events", {"open"})
        assert any("public_reads" in line for line in public.stderr_lines), public.stderr_lines
    finally:
        public.cleanup()


def no_write_key_oracle(server):
    """With reads open (loopback, no read tokens), a write key got 403 and a guess 200: any GET
    told whether a string was a write key. Now credentials do not matter where none is needed."""
    guess = server.request("GET", "/v1/streams", None, {"Authorization": "Bearer guess"})
    key = server.request("GET", "/v1/streams", None, {"Authorization": "Bearer audit-key"})
    assert guess[0] == key[0] == 200, (guess, key)


def readyz_within_its_deadline(server, store):
    """/readyz waited for a store read for as long as the store took: a probe hung behind a
    locked table (or a busy read pool) instead of saying "not ready"."""
    psql = subprocess.Popen(["psql", store.postgres.url, "-XqAt"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        psql.stdin.write("BEGIN; LOCK TABLE sluice.events IN ACCESS EXCLUSIVE MODE; "
                         "SELECT 'locked';\n")
        psql.stdin.flush()
        assert psql.stdout.readline().strip() == "locked"
        started = time.monotonic()
        status, _, body = server.request("GET", "/readyz")
        took = time.monotonic() - started
        assert status == 503, (status, body)
        assert "did not finish within 2000 ms" in body["error"], body
        assert took < 4, "/readyz took %.1f s" % took
        assert server.request("GET", "/healthz")[0] == 200
    finally:
        psql.stdin.write("ROLLBACK;\n")
        psql.stdin.close()
        psql.wait(timeout=30)
    # (A pipeline of this suite retries a receiver that is not there: the store check only.)
    wait_for(lambda: server.request("GET", "/readyz")[2]["checks"].get("store", {}).get("ok"),
             30, "the store check passing again")


def main():
    binary = sys.argv[1]
    store = Store(sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    checks = Checks()
    server = Server(binary, config_text=store.config() + CONFIG)
    try:
        server.start()
        checks.run("a 100 000-character value against a pattern: 400, the process stays up",
                   long_values_against_patterns, server)
        checks.run("NUL in an id, a type or a field: 400 naming it; the store keeps storing",
                   nul_characters, server)
        checks.run("internal streams (alerts, dead letters) answer 403 to posts",
                   internal_streams_take_no_posts, server)
        checks.run("privacy rules apply before dead-lettering", privacy_before_dead_letters,
                   server)
        checks.run("reads do not tell a write key from a guess", no_write_key_oracle, server)
        checks.run("an event dated 9999 is clamped; windows still close", far_future_times,
                   server)
        checks.run("the write key is checked before the body is read", key_checked_before_body,
                   server)
        checks.run("a webhook URL's token is not echoed in statuses or logs", secrets_not_echoed,
                   server)
        checks.run("cors_origins is enforced on posts without a preflight",
                   origins_checked_without_preflight, server)
        checks.run("off loopback, reads need a read token unless server.public_reads",
                   reads_closed_off_loopback, binary, store)
        checks.run("server.max_connections and server.max_tails answer 503 beyond them",
                   connection_and_tail_caps, binary, store)
        if store.postgres:
            checks.run("/readyz answers within its deadline while the store does not",
                       readyz_within_its_deadline, server, store)
    finally:
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
