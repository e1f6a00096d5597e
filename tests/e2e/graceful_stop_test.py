"""SIGTERM against the running binary (`sluice run` and `sluice collector`): the server stops
taking connections, closes the idle ones and ends tails at once, answers the request still in
progress (202, `Connection: close`), stores its event and exits 0; with `server.stop_timeout`
passed, or at a second SIGTERM, a request that never completes no longer holds the stop up.

usage: graceful_stop_test.py SLUICE_BINARY
"""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, SseClient, all_events, wait_for  # noqa: E402

IDLE_CONNECTIONS = 5  # dealt round-robin: every I/O thread holds some


def keep_alive_post(port, body):
    """A connection that has had one request answered (so the server holds it) and is idle."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(post_head(len(body)) + body)
    head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 202"), head
    return sock


def post_head(length, extra=b""):
    return (b"POST /v1/streams/events/events HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n" % length + extra + b"\r\n")


def read_head(sock):
    """Reads one answer (head and its Content-Length body); returns the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "closed before an answer: %r" % data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed within an answer"
        rest += chunk
    return head


def request_in_progress(port, length):
    """A connection holding a request whose headers are in (the server said 100 Continue) and
    whose body of `length` bytes is not sent yet."""
    sock = keep_alive_post(port, b'{"n": "before"}')
    sock.sendall(post_head(length, b"Expect: 100-continue\r\n"))
    sock.settimeout(10)
    assert sock.recv(65536).startswith(b"HTTP/1.1 100"), "no 100 Continue"
    return sock


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def closes(sock, timeout=10):
    """Whether the server closes `sock` (EOF or reset) within `timeout` seconds; what it sends
    before that (a tail's last events) is read and dropped."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            if sock.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        pass
    return False


def in_flight_request_is_answered(binary, command):
    server = Server(binary, command=command).start()
    try:
        idle = [keep_alive_post(server.port, b'{"n": %d}' % i) for i in range(IDLE_CONNECTIONS)]
        tail = None
        if command == "run":  # the collector role serves no tails
            tail = SseClient(server.port, "/v1/tail?stream=events")
            tail.wait_started()
        body = json.dumps({"marker": "sent-while-stopping"}).encode()
        busy = request_in_progress(server.port, len(body))

        server.proc.send_signal(15)
        for sock in idle:
            assert closes(sock), "an idle keep-alive connection stayed open after SIGTERM"
        assert tail is None or closes(tail.sock), "a tail stayed open after SIGTERM"
        assert server.proc.poll() is None, "exited with a request in progress"
        assert refuses_connections(server.port), "a new connection was accepted after SIGTERM"

        busy.sendall(body)
        head = read_head(busy)
        assert head.startswith(b"HTTP/1.1 202"), head
        assert b"connection: close" in head.lower(), head
        assert closes(busy), "the connection stayed open after its last answer"
        assert server.proc.wait(timeout=20) == 0, "".join(server.stderr_lines)

        # Every acknowledged event is there after a restart, the last one included (the
        # collector's log is read by `sluice run` on the same data directory).
        server.command = "run"
        server.start()
        wait_for(lambda: len(all_events(server, "stream=events")) >= IDLE_CONNECTIONS + 2, 20,
                 "the events sent before and during the stop")
        payloads = [e["payload"] for e in all_events(server, "stream=events")]
        assert {"marker": "sent-while-stopping"} in payloads, payloads
        assert len(payloads) == IDLE_CONNECTIONS + 2, payloads
    finally:
        server.cleanup()


def stop_timeout_ends_the_wait(binary):
    server = Server(binary, config_text="server: {stop_timeout: 300ms, body_timeout: 1h}\n")
    server.start()
    try:
        stuck = request_in_progress(server.port, 100)  # a body that never comes
        server.proc.send_signal(15)
        # Without the timeout this would wait for the body (server.body_timeout: 1h).
        assert server.proc.wait(timeout=20) == 0, "".join(server.stderr_lines)
        wait_for(lambda: any("stop_timeout" in line for line in server.stderr_lines), 5,
                 "the warning naming server.stop_timeout")
        assert closes(stuck), "the stuck connection stayed open"
    finally:
        server.cleanup()


def second_signal_stops_at_once(binary):
    server = Server(binary, config_text="server: {stop_timeout: 1h, body_timeout: 1h}\n")
    server.start()
    try:
        stuck = request_in_progress(server.port, 100)  # a body that never comes
        server.proc.send_signal(15)
        # The first signal has begun the stop once new connections are refused.
        wait_for(lambda: refuses_connections(server.port), 10, "the listener to close")
        assert server.proc.poll() is None, "exited with a request in progress"
        server.proc.send_signal(15)  # again: without waiting for the stuck request (1 h)
        assert server.proc.wait(timeout=20) == 0, "".join(server.stderr_lines)
        assert closes(stuck), "the stuck connection stayed open"
        assert any("again" in line for line in server.stderr_lines), server.stderr_lines
    finally:
        server.cleanup()


def main():
    binary = sys.argv[1]
    checks = Checks()
    for command in ("run", "collector"):
        checks.run("in_flight_request_is_answered (%s)" % command, in_flight_request_is_answered,
                   binary, command)
    checks.run("stop_timeout_ends_the_wait", stop_timeout_ends_the_wait, binary)
    checks.run("second_signal_stops_at_once", second_signal_stops_at_once, binary)
    checks.finish()


if __name__ == "__main__":
    main()
