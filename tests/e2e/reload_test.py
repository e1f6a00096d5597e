"""Pipelines reloaded on SIGHUP while clients post, without restarting the others:
- a pipeline added by SIGHUP starts from the earliest event and catches up, while the running
  one keeps going from its own offsets (it is not restarted: it delivers nothing twice);
- a configuration with errors is refused and everything keeps running;
- a removed pipeline stops; a changed one restarts from its committed offsets (again nothing
  twice);
- window definitions are added (they read the log from the start), changed (computed again) and
  removed the same way, and GET /v1/windows follows.

usage: reload_test.py SLUICE_BINARY
"""

import collections
import glob
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Poster, Server, wait_for  # noqa: E402

SINKS = """
sinks:
  a: {file: {}}
  b: {file: {}}
"""


def file_uids(data_dir, sink):
    uids = []
    for path in sorted(glob.glob(os.path.join(data_dir, "files", sink, "*.ndjson"))):
        with open(path) as f:
            uids += [json.loads(line)["payload"]["uid"] for line in f]
    return uids


def main():
    binary = sys.argv[1]
    checks = Checks()
    config = os.path.join(tempfile.mkdtemp(prefix="sluice-reload-test-"), "sluice.yaml")

    def write(pipelines, windows=""):
        with open(config, "w") as f:
            f.write(SINKS + "pipelines:\n" + pipelines + windows)

    write("  a: {from: [events], to: [a]}\n")
    server = Server(binary, config=config)
    server.start()
    acked = []

    def statuses():
        status, _, body = server.request("GET", "/v1/pipelines")
        assert status == 200, (status, body)
        return {p["name"]: p for p in body["pipelines"]}

    def hangup_and_wait_for(text):
        seen = len(server.stderr_lines)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(text in line for line in server.stderr_lines[seen:]), 30,
                 "%r in the log" % text)

    def no_duplicates(sink):
        twice = [u for u, n in collections.Counter(file_uids(server.data_dir, sink)).items()
                 if n > 1]
        assert not twice, "%s delivered twice: %s" % (sink, twice[:5])

    def added_under_load():
        clients = [Poster(server.port, lambda n, k=k: [{"uid": "c%d-%d-%d" % (k, n, i)}
                                                       for i in range(10)],
                          acked, record=lambda e: e["uid"], pause=0.005) for k in range(2)]
        for c in clients:
            c.start()
        wait_for(lambda: statuses()["a"]["read"] > 200, 30, "pipeline a at work")
        write("  a: {from: [events], to: [a]}\n  b: {from: [events], to: [b]}\n")
        hangup_and_wait_for("added=[b] changed=[] removed=[] unchanged=[a]")
        wait_for(lambda: "b" in statuses() and statuses()["b"]["read"] > 0, 30, "b reading")
        time.sleep(0.3)  # more posts after the reload; nothing below depends on how many
        for c in clients:
            c.finish()
        everything = set(acked)
        for sink in ("a", "b"):
            wait_for(lambda: everything <= set(file_uids(server.data_dir, sink)), 60,
                     "every acknowledged event in %s" % sink)
        no_duplicates("a")  # a was never restarted: it went on from its own offsets
        no_duplicates("b")

    def refused():
        with open(config, "w") as f:
            f.write(SINKS + "pipelines:\n  a: {from: [events], to: [nowhere]}\n")
        hangup_and_wait_for("reload refused")
        assert set(statuses()) == {"a", "b"}, statuses()
        assert server.proc.poll() is None

    def removed_and_changed():
        write("  a: {from: [events], to: [a], batch: {max_events: 7}}\n")
        hangup_and_wait_for("added=[] changed=[a] removed=[b] unchanged=[]")
        assert set(statuses()) == {"a"}, statuses()
        status, _, _ = server.request("POST", "/v1/streams/events/events", {"uid": "after"})
        assert status == 202
        wait_for(lambda: "after" in file_uids(server.data_dir, "a"), 30, "a after the change")
        no_duplicates("a")  # restarted from its committed offsets
        assert "after" not in file_uids(server.data_dir, "b")

    def windows_follow():
        pipelines = "  a: {from: [events], to: [a], batch: {max_events: 7}}\n"
        total = len(acked) + 1  # and "after"

        def window(name):
            status, _, body = server.request("GET", "/v1/windows")
            assert status == 200, body
            return {w["name"]: w for w in body["windows"]}.get(name)
        write(pipelines, "windows:\n  per_minute: {from: [events], tumbling: 1m, "
                         "aggregates: {n: count}}\n")
        hangup_and_wait_for("windows and alert rules added=[windows.per_minute] changed=[] "
                            "removed=[] unchanged=[]")
        wait_for(lambda: window("per_minute") and window("per_minute")["read"] == total, 30,
                 "the new window reading the whole log")
        status, _, _ = server.request("GET", "/v1/windows/per_minute")
        assert status == 200, status
        write(pipelines, "windows:\n  per_minute: {from: [events], tumbling: 1m, "
                         "aggregates: {n: count, also: count}}\n")
        hangup_and_wait_for("windows and alert rules added=[] changed=[windows.per_minute] "
                            "removed=[] unchanged=[]")
        wait_for(lambda: window("per_minute")["read"] == total, 30, "computed again from the start")
        write(pipelines)
        hangup_and_wait_for("windows and alert rules added=[] changed=[] "
                            "removed=[windows.per_minute] unchanged=[]")
        assert window("per_minute") is None
        status, _, _ = server.request("GET", "/v1/windows/per_minute")
        assert status == 404, status
        assert set(statuses()) == {"a"}, statuses()  # the pipelines untouched

    try:
        checks.run("SIGHUP adds a pipeline under load: it catches up from the earliest event, "
                   "the running one goes on untouched", added_under_load)
        checks.run("SIGHUP with a broken configuration: refused, nothing changes", refused)
        checks.run("SIGHUP removes one pipeline and changes another", removed_and_changed)
        checks.run("SIGHUP adds, changes and removes a window definition", windows_follow)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-30:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
