"""GET /v1/tail (Server-Sent Events) against the real binary:
- a tail of two streams with a filter gets exactly the new matching events, each once, in log
  order per partition, as GET /v1/events shows them (a payload sent with line breaks included);
- heartbeats arrive while nothing happens;
- parameter errors: no stream 400, unknown stream 404, a broken filter 400 naming the column,
  POST 405;
- a client that reads too slowly while 120 000 events are posted is dropped with a last
  `event: dropped` naming why; every post was acknowledged meanwhile and a new tail works.

usage: tail_test.py SLUICE_BINARY
"""

import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, SseClient, wait_for  # noqa: E402

CONFIG = """
server: {body_timeout: 5s}
streams:
  clicks: {partitions: 3, key_field: user}
  views: {}
"""


def post(server, stream, events, conn=None):
    body = "\n".join(json.dumps(e) for e in events)
    status, _, reply = server.request("POST", "/v1/streams/%s/events" % stream, body,
                                      {"Content-Type": "application/x-ndjson"}, conn=conn)
    assert status == 202, (status, reply)
    return reply


def main():
    binary = sys.argv[1]
    checks = Checks()
    server = Server(binary, config_text=CONFIG).start()
    try:
        def filtered_tail():
            client = SseClient(server.port, "/v1/tail?stream=clicks&stream=views"
                                            "&filter=kind%20%3D%3D%20%22buy%22")
            assert client.wait_started() == "tail of clicks,views"
            assert client.head.startswith(b"HTTP/1.1 200 OK"), client.head
            assert b"Content-Type: text/event-stream" in client.head, client.head
            events = [{"id": "e%d" % i, "user": "u%d" % (i % 5),
                       "kind": "buy" if i % 3 == 0 else "look"} for i in range(60)]
            post(server, "clicks", events[:30])
            post(server, "views", events[30:])
            # A payload posted with line breaks between its tokens.
            status, _, _ = server.request("POST", "/v1/streams/views/events",
                                          '{"id": "nl",\n "kind": "buy",\r\n "n": 1}')
            assert status == 202
            want = {e["id"] for e in events if e["kind"] == "buy"} | {"nl"}
            got = []

            def all_arrived():
                client.read_some(timeout=0.2)
                got.extend(b for b in client.blocks() if b.get("event") == "event")
                return len(got) >= len(want)
            wait_for(all_arrived, 15, "the matching events")
            ids = [json.loads(b["data"])["id"] for b in got]
            assert sorted(ids) == sorted(want), ids
            by_partition = {}
            for b in got:
                stream, partition, offset = b["id"].split("/")
                by_partition.setdefault((stream, partition), []).append(int(offset))
            for offsets in by_partition.values():
                assert offsets == sorted(offsets), by_partition
            nl = next(json.loads(b["data"]) for b in got if json.loads(b["data"])["id"] == "nl")
            assert nl["payload"] == {"id": "nl", "kind": "buy", "n": 1}, nl
            assert nl["stream"] == "views" and "received_at" in nl and "ts" in nl, nl
            client.close()

        def heartbeats():
            client = SseClient(server.port, "/v1/tail?stream=views&heartbeat=1")
            seen = []

            def beat():
                client.read_some(timeout=0.5)
                seen.extend(client.blocks())
                return any(b.get("comment") == "heartbeat" for b in seen)
            wait_for(beat, 5, "a heartbeat")
            client.close()

        def errors():
            for path, status, text in [
                    ("/v1/tail", 400, "parameter \\\"stream\\\" is required"),
                    ("/v1/tail?stream=nope", 404, "unknown stream"),
                    ("/v1/tail?stream=views&filter=kind%20%3D%3D", 400, "column"),
                    ("/v1/tail?stream=views&heartbeat=0", 400, "heartbeat"),
                    ("/v1/tail?stream=views&since=1", 400,
                     "unknown parameter \\\"since\\\"; valid parameters: stream, filter, "
                     "heartbeat, "
                     "token")]:
                got, _, body = server.request("GET", path)
                assert got == status and text in json.dumps(body), (path, got, body)
            got, headers, _ = server.request("POST", "/v1/tail?stream=views", "{}")
            assert got == 405 and headers["allow"] == "GET", (got, headers)

        def slow_client_dropped():
            slow = SseClient(server.port, "/v1/tail?stream=clicks", rcvbuf=4096)
            slow.wait_started()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            started = time.monotonic()
            for batch in range(120):
                post(server, "clicks", [{"user": "u%d" % i, "n": batch * 1000 + i,
                                         "pad": "x" * 100} for i in range(1000)], conn=conn)
            posting = time.monotonic() - started
            conn.close()
            # Now read everything the server sent until it closes the connection.
            deadline = time.monotonic() + 60
            blocks = []
            while not slow.closed and time.monotonic() < deadline:
                slow.read_some(1 << 20, timeout=5)
                blocks.extend(slow.blocks())
            assert slow.closed, "the slow client was not dropped"
            last = blocks[-1]
            assert last.get("event") == "dropped", last
            assert "reads too slowly" in json.loads(last["data"])["error"], last
            delivered = sum(1 for b in blocks if b.get("event") == "event")
            assert delivered < 120000, delivered
            slow.close()
            sys.stdout.write("     (120 000 events posted in %.1f s while the slow tail "
                             "received %d before being dropped)\n" % (posting, delivered))
            # The server goes on: a new tail gets new events.
            fresh = SseClient(server.port, "/v1/tail?stream=clicks")
            fresh.wait_started()
            post(server, "clicks", [{"user": "u1", "n": -1}])
            got = []

            def arrived():
                fresh.read_some(timeout=0.2)
                got.extend(b for b in fresh.blocks() if b.get("event") == "event")
                return got
            wait_for(arrived, 10, "the new tail's event")
            assert json.loads(got[0]["data"])["payload"]["n"] == -1, got
            fresh.close()

        checks.run("a filtered tail of two streams gets each matching new event once",
                   filtered_tail)
        checks.run("heartbeats while quiet", heartbeats)
        checks.run("parameter errors: 400, 404, 405", errors)
        checks.run("a client too slow is dropped with a last message; ingest went on",
                   slow_client_dropped)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-30:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
