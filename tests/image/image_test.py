#!/usr/bin/env python3
"""The container image at work (make image-test): starts the image's `sluice run` with buildah
(chroot isolation, the host's network), checks it runs as its unprivileged user, posts events,
reads them back, stops it with SIGTERM, starts it again and reads the same events from the
data it kept.

usage: image_test.py [IMAGE]
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

IMAGE = sys.argv[1] if len(sys.argv) > 1 else "localhost/sluice:latest"
EVENTS = 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def buildah(*args):
    return subprocess.run(["buildah", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def request(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read() or b"null")


def wait_healthy(base, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"sluice in the image exited with {server.returncode}:\n"
                             f"{server.stderr.read()}")
        try:
            if request(base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the image's sluice did not answer /healthz within 60 s")


def command(port):
    return ["/usr/local/bin/sluice", "run", "--listen", f"127.0.0.1:{port}",
            "--data-dir", "/var/lib/sluice"]


def start(container, port):
    return subprocess.Popen(
        ["buildah", "run", "--isolation", "chroot", container, "--", *command(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(server, port):
    # `buildah run` does not pass SIGTERM on (it kills its child): the signal goes to sluice
    # itself, which runs in the host's PID namespace, found by its unique command line.
    found = subprocess.run(["pgrep", "-f", "-x", " ".join(command(port))], capture_output=True,
                           text=True).stdout.split()
    if len(found) != 1:
        server.kill()
        raise SystemExit(f"expected one sluice process for port {port}, found {found}")
    os.kill(int(found[0]), signal.SIGTERM)
    try:
        code = server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        raise SystemExit("the image's sluice did not stop within 60 s of SIGTERM")
    if code != 0:
        raise SystemExit(f"the image's sluice exited with {code} on SIGTERM:\n{server.stderr.read()}")


def stored_uids(base):
    uids, cursor = set(), None
    while True:
        url = base + "/v1/events?stream=events&limit=1000" + (f"&cursor={cursor}" if cursor else "")
        _, page = request(url)
        uids.update(e["payload"]["uid"] for e in page["events"])
        cursor = page.get("next_cursor")
        if not cursor:
            return uids


def main():
    config = json.loads(buildah("inspect", "--type", "image", IMAGE))
    run_config = config["OCIv1"]["config"]
    assert run_config.get("User") == "10001:10001", run_config.get("User")
    healthcheck = config["Docker"]["config"].get("Healthcheck") or {}
    assert "/healthz" in " ".join(healthcheck.get("Test", [])), healthcheck

    container = buildah("from", "--pull-never", IMAGE)
    try:
        assert buildah("run", "--isolation", "chroot", container, "--", "id", "-u") == "10001"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start(container, port)
        try:
            wait_healthy(base, server)
            for start_at in range(0, EVENTS, 50):
                batch = [{"uid": i, "kind": "image-test"} for i in range(start_at, start_at + 50)]
                status, _ = request(base + "/v1/streams/events/events", batch)
                assert status == 202, status
            deadline = time.monotonic() + 30
            while len(stored_uids(base)) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.2)
            got = stored_uids(base)
            assert got == set(range(EVENTS)), f"stored {len(got)} of {EVENTS}"
        finally:
            stop(server, port)
        server = start(container, port)
        try:
            wait_healthy(base, server)
            got = stored_uids(base)
            assert got == set(range(EVENTS)), f"after a restart: {len(got)} of {EVENTS}"
        finally:
            stop(server, port)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)
    print(f"image: {IMAGE} runs as 10001, took {EVENTS} events and kept them across a restart")


if __name__ == "__main__":
    main()
