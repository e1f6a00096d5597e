"""Disk full: with the data directory on a small filesystem that fills up, the collector answers
503 with Retry-After (never 202 for an event it could not make durable), stays up, and accepts
events again by itself once space is freed; every acknowledged event is then stored.

The test makes its own filesystem: it re-runs itself in a private mount namespace
(`unshare -m`) and mounts a 16 MiB tmpfs there, so nothing outside the test sees it. Without
the privileges for that (not root) it reports itself skipped (exit 77).

usage: disk_full_test.py SLUICE_BINARY
"""

import errno
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, metric, wait_for  # noqa: E402

SKIP = 77


def in_private_namespace():
    if os.environ.get("SLUICE_DISK_FULL_NS") == "1":
        return True
    env = dict(os.environ, SLUICE_DISK_FULL_NS="1")
    try:
        code = subprocess.call(["unshare", "-m", "--propagation", "private", sys.executable,
                                *sys.argv], env=env)
    except FileNotFoundError:
        print("skipped: unshare is not installed")
        sys.exit(SKIP)
    sys.exit(code)


def fill(path):
    """Writes to `path` until the filesystem is full."""
    chunk = b"f" * 65536
    with open(path, "wb") as f:
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    # Single bytes fill the last partial block.
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"f")
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise


def main():
    in_private_namespace()
    binary = sys.argv[1]
    mount_point = tempfile.mkdtemp(prefix="sluice-full-")
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount_point]) != 0:
        print("skipped: cannot mount a tmpfs here (needs root)")
        sys.exit(SKIP)
    checks = Checks()
    data_dir = os.path.join(mount_point, "data")
    filler = os.path.join(mount_point, "filler")
    server = Server(binary, data_dir=data_dir).start()
    acked = []

    def post(i):
        return server.request("POST", "/v1/streams/events/events",
                              [{"type": "disk", "i": i, "pad": "x" * 200} for _ in range(1)])

    try:
        def accepts_before():
            status, _, _ = post(0)
            assert status == 202, status
            acked.append(0)

        def full_disk_is_503():
            fill(filler)
            # Appends that fit in space the log file already has (its last page, and the zero
            # reserve of up to 1 MiB laid ahead of small appends) still succeed; those are
            # acknowledged and must be kept. The first one that needs new space fails.
            i = 1
            while True:
                status, headers, body = post(i)
                if status != 202:
                    break
                acked.append(i)
                i += 1
                # Each event takes ~300 bytes of log: 1 MiB holds ~3500 of them.
                assert i < 10000, "the full disk never refused an append"
            for j in range(i, i + 10):
                assert status == 503, (status, body)
                assert headers.get("retry-after") == "1", headers
                assert "No space left on device" in body["error"], body
                status, headers, body = post(j + 1)
            status, _, _ = server.request("GET", "/healthz")
            assert status == 200, "the process must stay up"
            assert metric(server, "sluice_log_append_failures_total") >= 10
            log = "".join(server.stderr_lines)
            assert "append failed" in log and "answering 503" in log, log[-2000:]

        def resumes_when_space_is_freed():
            os.unlink(filler)
            first = max(acked) + 1000  # past every value posted so far, refused ones included
            for i in range(first, first + 50):
                status, _, body = post(i)
                assert status == 202, (status, body)
                acked.append(i)
            wait_for(lambda: sorted(e["payload"]["i"]
                                    for e in all_events(server, "type=disk")) == sorted(acked),
                     60, "the acknowledged events in the store")
            assert "appends succeed again" in "".join(server.stderr_lines)

        def survives_restart():
            server.kill()
            server.start()
            stored = sorted(e["payload"]["i"] for e in all_events(server, "type=disk"))
            assert stored == sorted(acked), stored

        checks.run("accepts events while there is space", accepts_before)
        checks.run("a full disk gets 503 + Retry-After naming the cause", full_disk_is_503)
        checks.run("accepts again by itself once space is freed", resumes_when_space_is_freed)
        checks.run("every acknowledged event survives a SIGKILL", survives_restart)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-40:]))
        server.cleanup()
        subprocess.call(["umount", "-l", mount_point])
        os.rmdir(mount_point)
    checks.finish()


if __name__ == "__main__":
    main()
