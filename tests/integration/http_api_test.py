"""The HTTP API against the real binary: routes, statuses, error bodies, limits, shutdown.

usage: http_api_test.py SLUICE_BINARY
"""

import gzip
import json
import os
import re
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, metric, wait_for  # noqa: E402

CONFIG = """
server:
  max_body_bytes: 4KiB
  header_timeout: 1s
streams:
  events: {cors_origins: ["https://shop.example.com"]}
  iot: {partitions: 4, key_field: device, time_field: ts, type_field: kind}
"""


def expect(server, method, path, body, status, contains=None, headers=None):
    got, hdrs, reply = server.request(method, path, body, headers)
    assert got == status, (method, path, got, reply)
    assert hdrs.get("content-type") == "application/json", hdrs
    if contains is not None:
        text = json.dumps(reply)
        assert contains in text, (contains, text)
    return reply, hdrs


def main():
    binary = sys.argv[1]
    checks = Checks()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(CONFIG)
    config.close()
    server = Server(binary, config=config.name).start()
    try:
        def metrics_count_appends():
            before = metric(server, "sluice_log_appends_total")
            expect(server, "POST", "/v1/streams/events/events", {"type": "m"}, 202)
            expect(server, "POST", "/v1/streams/events/events", [{"type": "m"}, {"type": "m"}],
                   202)
            assert metric(server, "sluice_log_appends_total") == before + 2
            assert metric(server, "sluice_log_bytes_total") > 0
            assert metric(server, "sluice_log_append_failures_total") == 0
            status, headers, _ = server.request("GET", "/metrics")
            assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers

        checks.run("/metrics counts durable appends", metrics_count_appends)
        checks.run("healthz", expect, server, "GET", "/healthz", None, 200, '"status": "ok"')
        checks.run("unknown stream is 404 naming it", expect, server, "POST",
                   "/v1/streams/nope/events", "{}", 404, 'unknown stream \\"nope\\"')
        checks.run("unknown route is 404", expect, server, "GET", "/v2/x", None, 404, "no route")
        def wrong_method():
            _, hdrs = expect(server, "GET", "/v1/streams/events/events", None, 405, "use POST")
            assert hdrs["allow"] == "POST, OPTIONS", hdrs

        checks.run("wrong method is 405 with Allow", wrong_method)
        checks.run("malformed JSON is 400 with the byte offset", expect, server, "POST",
                   "/v1/streams/events/events", '{"a": 1, "b": }', 400, "malformed JSON at byte 14")
        checks.run("a body with no valid event is 400 listing each", expect, server, "POST",
                   "/v1/streams/events/events", "[1, 2]", 400,
                   '"accepted": 0, "rejected": [{"index": 0')

        def partial_acceptance():
            reply, _ = expect(server, "POST", "/v1/streams/iot/events",
                              [{"kind": "TEMP", "device": "d1", "ts": 1760355000, "value": 91},
                               {"kind": "TEMP", "ts": "not a time"},
                               {"kind": "HUM", "device": "d2", "value": 40}], 202)
            assert reply["accepted"] == 2, reply
            assert reply["rejected"][0]["index"] == 1, reply
            assert 'field "ts"' in reply["rejected"][0]["error"], reply
            wait_for(lambda: len(all_events(server, "stream=iot")) == 2, 30, "2 iot events")
            temp = all_events(server, "stream=iot&type=TEMP")
            assert len(temp) == 1 and temp[0]["key"] == "d1", temp
            assert temp[0]["ts"] == "2025-10-13T11:30:00.000Z", temp

        checks.run("valid events are stored, invalid ones listed", partial_acceptance)

        def partitioned_stream():
            events = [{"kind": "PART", "device": "dev-%d" % (i % 7), "seq": i} for i in range(300)]
            for i in range(0, 300, 60):
                expect(server, "POST", "/v1/streams/iot/events", events[i:i + 60], 202)
            wait_for(lambda: len(all_events(server, "type=PART")) == 300, 30, "300 events")
            stored = all_events(server, "type=PART&order=asc")
            assert sorted(e["payload"]["seq"] for e in stored) == list(range(300))
            parts = os.listdir(os.path.join(server.data_dir, "log", "iot"))
            assert sorted(parts) == ["0", "1", "2", "3"], parts

        checks.run("a stream with 4 partitions stores every event", partitioned_stream)

        def body_over_limit():
            expect(server, "POST", "/v1/streams/events/events",
                   json.dumps({"pad": "x" * 5000}), 413, "over the limit of 4096 bytes")

        checks.run("a body over max_body_bytes is 413 naming the limit", body_over_limit)
        checks.run("limit over 1000 is 400", expect, server, "GET", "/v1/events?limit=5000",
                   None, 400, "from 1 to 1000")
        checks.run("unknown query parameter is 400 listing the valid ones", expect, server,
                   "GET", "/v1/events?colour=red", None, 400, "valid parameters: stream, type")

        def compressed_bodies():
            lines = "\n".join(json.dumps({"type": "gz", "i": i}) for i in range(100)).encode()
            reply, _ = expect(server, "POST", "/v1/streams/events/events", gzip.compress(lines),
                              202, headers={"Content-Encoding": "gzip",
                                            "Content-Type": "application/x-ndjson"})
            assert reply["accepted"] == 100, reply
            # 2 MiB of zeros in about 2 KiB: cut off at max_body_bytes (4 KiB here) after inflating.
            bomb = gzip.compress(b'{"pad":"' + b"0" * (2 << 20) + b'"}')
            assert len(bomb) < 4096, len(bomb)
            expect(server, "POST", "/v1/streams/events/events", bomb, 413,
                   "decompressed body is over the limit of 4096 bytes",
                   headers={"Content-Encoding": "gzip"})
            expect(server, "POST", "/v1/streams/events/events", b"x", 415, "not supported",
                   headers={"Content-Encoding": "br"})
            expect(server, "POST", "/v1/streams/events/events", b"not gzip", 400,
                   "not valid gzip", headers={"Content-Encoding": "gzip"})
            wait_for(lambda: len(all_events(server, "type=gz")) == 100, 30, "100 events")

        checks.run("gzip bodies; a gzip bomb is 413, unknown encodings 415", compressed_bodies)

        def cors():
            shop = {"Origin": "https://shop.example.com",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type"}
            status, hdrs, _ = server.request("OPTIONS", "/v1/streams/events/events", None, shop)
            assert status == 204, status
            assert hdrs["access-control-allow-origin"] == "https://shop.example.com", hdrs
            assert "POST" in hdrs["access-control-allow-methods"], hdrs
            assert "content-type" in hdrs["access-control-allow-headers"].lower(), hdrs
            evil = dict(shop, Origin="https://evil.example")
            expect(server, "OPTIONS", "/v1/streams/events/events", None, 403,
                   "add it to streams.events.cors_origins", headers=evil)
            _, hdrs = expect(server, "POST", "/v1/streams/events/events", {"type": "cors"}, 202,
                             headers={"Origin": "https://shop.example.com"})
            assert hdrs["access-control-allow-origin"] == "https://shop.example.com", hdrs
            # A POST needs no preflight (a form, sendBeacon): its Origin is checked too.
            _, hdrs = expect(server, "POST", "/v1/streams/events/events", {"type": "cors"}, 403,
                             "add it to streams.events.cors_origins",
                             headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in hdrs, hdrs

        checks.run("CORS: preflight and POST for allowed origins only", cors)

        def keep_alive_and_paging():
            conn = server.connection()
            for i in range(30):
                status, _, _ = server.request("POST", "/v1/streams/events/events",
                                              {"type": "page", "i": i}, conn=conn)
                assert status == 202
            conn.close()
            wait_for(lambda: len(all_events(server, "type=page")) == 30, 30, "30 events")
            newest_first = [e["payload"]["i"] for e in all_events(server, "type=page", limit=7)]
            assert len(newest_first) == 30 and len(set(newest_first)) == 30, newest_first
            assert newest_first[0] == 29, newest_first
            oldest_first = [e["payload"]["i"]
                            for e in all_events(server, "type=page&order=asc", limit=4)]
            assert oldest_first == list(range(30)), oldest_first

        checks.run("keep-alive requests and keyset paging both ways", keep_alive_and_paging)

        def expect_100_continue():
            body = json.dumps({"type": "big", "pad": "x" * 2000}).encode()
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            interim = s.recv(100)
            assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
            s.sendall(body)
            reply = s.recv(1000)
            s.close()
            assert reply.startswith(b"HTTP/1.1 202"), reply

        checks.run("Expect: 100-continue is answered before the body", expect_100_continue)

        def requests_in_pieces_and_pipelined():
            # Each request of the connection arrives differently: dribbled a few bytes per
            # send (the parser resumes mid-token), two in one send (the second is parsed from
            # what the first read left in the buffer), and one cut off in its body by the
            # client's end of stream (stored nowhere, answered nothing).
            def post(i):
                body = json.dumps({"type": "piece", "i": i}).encode()
                return (b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body))

            def answers(s, count):
                got = b""
                while got.count(b"HTTP/1.1 ") < count or not got.endswith(b"}"):
                    chunk = s.recv(4096)
                    assert chunk, got
                    got += chunk
                return re.findall(rb"HTTP/1\.1 \d+ [A-Za-z ]+", got)

            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            first = post(0)
            for at in range(0, len(first), 7):
                s.sendall(first[at:at + 7])
            assert answers(s, 1) == [b"HTTP/1.1 202 Accepted"]
            s.sendall(post(1) + post(2))
            assert answers(s, 2) == [b"HTTP/1.1 202 Accepted"] * 2
            s.sendall(post(3)[:-5])
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b"", "a request cut in its body gets no answer"
            s.close()
            wait_for(lambda: len(all_events(server, "type=piece")) >= 3, 30, "3 events")
            stored = sorted(e["payload"]["i"] for e in all_events(server, "type=piece"))
            assert stored == [0, 1, 2], stored

        checks.run("requests split across reads, pipelined, or cut off mid-body",
                   requests_in_pieces_and_pipelined)

        def slow_header_is_cut():
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(10)
            answer = s.recv(1000)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert s.recv(100) == b"", "connection should be closed after the 408"
            s.close()
            idle = socket.create_connection(("127.0.0.1", server.port))
            idle.settimeout(10)
            assert idle.recv(100) == b"", "an idle connection is closed without an answer"
            idle.close()

        checks.run("a client that stalls in its headers gets 408 and is disconnected",
                   slow_header_is_cut)

        def sigterm_is_clean():
            assert server.stop() == 0, "exit status"
            server.start()
            assert len(all_events(server, "type=page")) == 30

        checks.run("SIGTERM exits 0 and a restart keeps the data", sigterm_is_clean)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-50:]))
        server.cleanup()
        os.unlink(config.name)
    read_tokens(binary, checks)
    checks.finish()


READ_TOKENS_CONFIG = """
server: {read_tokens: [r-1, r-2]}
streams:
  events: {key_field: city, write_keys: [w-1]}
"""


def read_tokens(binary, checks):
    """server.read_tokens: every read endpoint wants one; write keys never read; the key= filter
    is a filter there, not a credential."""
    server = Server(binary, config_text=READ_TOKENS_CONFIG).start()
    reads = ["/v1/events", "/v1/events/x", "/v1/pipelines", "/v1/windows", "/v1/windows/x",
             "/v1/streams", "/v1/dead-letters", "/v1/alerts", "/v1/tail?stream=events",
             "/v1/stats?stream=events", "/metrics"]
    try:
        expect(server, "POST", "/v1/streams/events/events",
               [{"id": "a", "city": "NYC"}, {"id": "b", "city": "LA"}], 202,
               headers={"Authorization": "Bearer w-1"})

        def no_token_is_401():
            for path in reads:
                _, hdrs = expect(server, "GET", path, None, 401, "needs a read token")
                assert hdrs["www-authenticate"].startswith("Bearer"), hdrs

        def wrong_token_is_403():
            for path in reads:
                expect(server, "GET", path, None, 403, "not a read token",
                       {"Authorization": "Bearer nope"})
                sep = "&" if "?" in path else "?"
                expect(server, "GET", path + sep + "token=nope", None, 403, "not a read token")

        def write_key_is_403_as_a_guess():
            # The same answer as for a guess: reads must not tell a write key from one.
            for path in reads:
                guess = server.request("GET", path, None, {"Authorization": "Bearer w-2"})
                key = server.request("GET", path, None, {"Authorization": "Bearer w-1"})
                assert key[0] == guess[0] == 403 and key[2] == guess[2], (path, key, guess)
                assert "not a read token" in key[2]["error"], key

        def tokens_read():
            def stored():
                status, _, body = server.request("GET", "/v1/events", None,
                                                 {"Authorization": "Bearer r-1"})
                return status == 200 and len(body["events"]) == 2
            wait_for(stored, 10, "both events stored")
            reply, _ = expect(server, "GET", "/v1/events?key=NYC&token=r-2", None, 200)
            assert [e["id"] for e in reply["events"]] == ["a"], reply
            expect(server, "GET", "/v1/events/b", None, 200, '"id": "b"', {"X-Sluice-Key": "r-2"})
            expect(server, "GET", "/v1/pipelines", None, 200, None,
                   {"Authorization": "Bearer r-1"})

        def probes_stay_open():
            expect(server, "GET", "/healthz", None, 200)
            expect(server, "GET", "/readyz", None, 200)
            assert server.request("GET", "/metrics", None,
                                  {"Authorization": "Bearer r-2"})[0] == 200

        checks.run("read tokens: no token is 401 on every read endpoint", no_token_is_401)
        checks.run("read tokens: another token is 403 (header or ?token=)", wrong_token_is_403)
        checks.run("read tokens: a write key is 403, answered as a guess is",
                   write_key_is_403_as_a_guess)
        checks.run("read tokens: Bearer, X-Sluice-Key and ?token= read; key= filters",
                   tokens_read)
        checks.run("read tokens: /healthz and /readyz need none; /metrics takes a read token",
                   probes_stay_open)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
