"""Signed requests, black-box: a stream with hmac_secrets, and a webhook sink with hmac_secret.
Signatures here are made and checked with Python's hmac module, independently of Sluice.
- a post without X-Sluice-Signature is answered 401 before its body is read;
- a malformed header, a timestamp outside hmac_tolerance (past or future), a wrong secret or a
  body that is not the one signed: 401, naming the header and the setting;
- the right signature under either of two secrets (rotation) is accepted, gzip bodies too
  (the signature covers the body as sent), and the events are stored;
- the webhook sink signs what it sends: a receiver verifies every request, and a second Sluice
  whose stream takes signed posts only takes every event.

usage: signed_requests_test.py SLUICE_BINARY
"""

import gzip
import hashlib
import hmac
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Receiver, Server, all_events, wait_for  # noqa: E402

OLD, NEW = "old-secret-0123456789", "new-secret-9876543210"


def signature(secret, body, at=None):
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, digest)


def verify(header, body, secret):
    fields = dict(part.strip().split("=", 1) for part in header.split(","))
    t = int(fields["t"])
    expected = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - t) < 60


def post(server, body, headers):
    return server.request("POST", "/v1/streams/signed/events", body,
                          dict({"Content-Type": "application/json"}, **headers))


def refusals(server):
    body = json.dumps({"id": "r"}).encode()
    now = int(time.time())
    cases = [
        ({}, "X-Sluice-Signature"),
        ({"X-Sluice-Signature": "t=%d" % now}, "expected t=<unix seconds>"),
        ({"X-Sluice-Signature": signature(NEW, body, now - 400)}, "hmac_tolerance"),
        ({"X-Sluice-Signature": signature(NEW, body, now + 400)}, "hmac_tolerance"),
        ({"X-Sluice-Signature": signature("guessed-secret-000000", body)}, "does not match"),
        ({"X-Sluice-Signature": signature(NEW, b'{"id":"other"}')}, "does not match"),
    ]
    for headers, named in cases:
        status, _, answer = post(server, body, headers)
        assert status == 401, (headers, status, answer)
        assert named in answer["error"], (named, answer)
        if named != "X-Sluice-Signature":
            assert "streams.signed" in answer["error"] or "expected" in answer["error"], answer


def refused_before_the_body(server):
    """Headers announcing 5 MiB and no signature: the answer comes without the body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"POST /v1/streams/signed/events HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 5242880\r\n\r\n")
    answer = sock.recv(4096).decode()
    sock.close()
    assert answer.startswith("HTTP/1.1 401"), answer


def accepted_under_either_secret(server):
    for n, secret in enumerate((OLD, NEW)):
        body = json.dumps({"id": "signed-%d" % n}).encode()
        status, _, answer = post(server, body, {"X-Sluice-Signature": signature(secret, body)})
        assert status == 202, (secret, status, answer)
    packed = gzip.compress(json.dumps([{"id": "signed-gz"}]).encode())
    status, _, answer = post(server, packed, {"Content-Encoding": "gzip",
                                              "X-Sluice-Signature": signature(NEW, packed)})
    assert status == 202, (status, answer)
    wait_for(lambda: {e["id"] for e in all_events(server, "stream=signed")} ==
             {"signed-0", "signed-1", "signed-gz"}, 10, "the signed events stored")


class VerifyingReceiver(Receiver):
    """Verifies each request's signature with Python's hmac: 200 and the ids kept, or 401."""

    def __init__(self):
        self.verified, self.failed = set(), 0
        super().__init__(self.take)

    def take(self, path, headers, body):
        header = headers.get("X-Sluice-Signature", "")
        ok = bool(header) and verify(header, body, NEW)
        with self.lock:
            if ok:
                self.verified.update(e["id"] for e in json.loads(body))
            else:
                self.failed += 1
        return 200 if ok else 401


def webhook_signs(binary, downstream):
    receiver = VerifyingReceiver()
    upstream = Server(binary, config_text="""
streams: {events: {}, dead_letters: {}}
sinks:
  checked: {webhook: {url: 'http://127.0.0.1:%d/in', hmac_secret: '%s'}}
  onward: {webhook: {url: 'http://127.0.0.1:%d/v1/streams/signed/events', hmac_secret: '%s',
                     payload_only: true}}
pipelines:
  verify: {from: [events], to: [checked], batch: {max_events: 7}}
  forward: {from: [events], to: [onward], batch: {max_events: 7}}
""" % (receiver.port, NEW, downstream.port, OLD)).start()
    try:
        ids = ["w%d" % n for n in range(50)]
        status, _, answer = upstream.request("POST", "/v1/streams/events/events",
                                             [{"id": i} for i in ids])
        assert status == 202, (status, answer)
        wait_for(lambda: receiver.verified == set(ids), 30, "every event verified at the receiver")
        assert receiver.failed == 0, "%d requests failed verification" % receiver.failed
        wait_for(lambda: set(ids) <= {e["id"] for e in all_events(downstream, "stream=signed")},
                 30, "every event taken by the second Sluice")
    finally:
        upstream.cleanup()
        receiver.shutdown()


def main():
    binary = sys.argv[1]
    checks = Checks()
    server = Server(binary, config_text="""
streams:
  signed: {hmac_secrets: ['%s', '%s']}
""" % (OLD, NEW)).start()
    try:
        checks.run("401 for a missing, malformed, stale, future, wrong or mismatched signature",
                   refusals, server)
        checks.run("an unsigned post is refused before its body is read", refused_before_the_body,
                   server)
        checks.run("accepted under either secret, gzip bodies too", accepted_under_either_secret,
                   server)
        checks.run("the webhook sink signs: verified by a receiver and by a second Sluice",
                   webhook_signs, binary, server)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
