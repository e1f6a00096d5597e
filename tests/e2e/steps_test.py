"""The flag and lua steps in a running server, end to end:
- flag labels the events whose comment has slang or a word of the site's own list (a file),
  and only those reach the review sink;
- a lua script changes events, drops some and splits others into two (the second with the id
  "<id>#2");
- a script that loops forever, asks for a gigabyte or raises an error fails that event alone:
  it is in the dead letters with the reason, every other event is delivered once, the process
  stays up;
- after the script and the list file are edited, SIGHUP restarts the pipeline and the events
  that follow see the new versions.

usage: steps_test.py SLUICE_BINARY
"""

import collections
import glob
import json
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

SCRIPT = """
VERSION = %d
function process(event, meta)
  if event.kind == "loop" then while true do end end
  if event.kind == "huge" then local s = string.rep("x", 1 << 30) end
  if event.kind == "error" then error("refused " .. event.uid) end
  if event.kind == "drop" then return nil end
  if event.kind == "split" then
    return {{uid = event.uid .. "-a", source = meta.id}, {uid = event.uid .. "-b"}}
  end
  event.version = VERSION
  event.stream = meta.stream
  return event
end
"""


def file_lines(data_dir, sink):
    lines = []
    for path in sorted(glob.glob(os.path.join(data_dir, "files", sink, "*.ndjson"))):
        with open(path) as f:
            lines += [json.loads(line) for line in f]
    return lines


def main():
    binary = sys.argv[1]
    checks = Checks()
    work = tempfile.mkdtemp(prefix="sluice-steps-test-")
    script = os.path.join(work, "step.lua")
    banned = os.path.join(work, "banned.txt")
    with open(script, "w") as f:
        f.write(SCRIPT % 1)
    with open(banned, "w") as f:
        f.write("# our own list\nspam\n")
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("""
streams:
  forms: {}
sinks:
  out: {file: {}}
  review: {file: {}}
pipelines:
  p:
    from: [forms]
    to: [out, review]
    dead_letter: dead_letters
    steps:
      - flag: {fields: [comment], lists: {slang: builtin:slang, banned: %s}, to: [review]}
      - lua: {script: %s, timeout: 1s, memory: 16MiB}
""" % (banned, script))
    server = Server(binary, config=config)
    server.start()

    def post(events):
        status, _, body = server.request("POST", "/v1/streams/forms/events", events)
        assert status == 202 and body["accepted"] == len(events), (status, body)
        return body

    good, flagged, misbehaving = [], [], {}
    batch = []
    for i in range(60):
        event = {"uid": "g%d" % i, "comment": "fine answer %d" % i}
        if i % 10 == 3:
            event["comment"] = "idk, GONNA be late tbh"
            flagged.append(event["uid"])
        if i % 10 == 7:
            event["comment"] = "buy SP4M now"
            flagged.append(event["uid"])
        good.append(event["uid"])
        batch.append(event)
        if i % 12 == 5:
            for kind in ("loop", "huge", "error", "drop", "split"):
                uid = "%s%d" % (kind, i)
                batch.append({"uid": uid, "kind": kind})
                misbehaving[uid] = kind
    post(batch)

    def delivered(expected, sink="out"):
        def check():
            return len(file_lines(server.data_dir, sink)) >= expected
        return check

    splits = [u for u, k in misbehaving.items() if k == "split"]
    failing = [u for u, k in misbehaving.items() if k in ("loop", "huge", "error")]

    def everything_delivered_once():
        wait_for(delivered(len(good) + 2 * len(splits)), 60, "the out sink")
        lines = file_lines(server.data_dir, "out")
        uids = [line["payload"]["uid"] for line in lines]
        twice = [u for u, n in collections.Counter(uids).items() if n > 1]
        assert not twice, "delivered twice: %s" % twice
        expected = set(good) | {s + "-a" for s in splits} | {s + "-b" for s in splits}
        assert set(uids) == expected, (sorted(set(uids) ^ expected))[:10]
        for line in lines:
            payload = line["payload"]
            if payload["uid"].startswith("g"):
                assert payload["version"] == 1 and payload["stream"] == "forms", payload
            if payload["uid"].endswith("-b"):
                parent = [x for x in lines if x["payload"]["uid"] == payload["uid"][:-2] + "-a"]
                assert line["id"] == parent[0]["payload"]["source"] + "#2", (line, parent)

    def flagged_reach_review_only():
        wait_for(delivered(len(flagged), "review"), 60, "the review sink")
        review = {line["payload"]["uid"]: line["payload"] for line in
                  file_lines(server.data_dir, "review")}
        assert set(review) == set(flagged), sorted(set(review) ^ set(flagged))
        assert review["g3"]["flags"] == {"slang": ["gonna", "idk", "tbh"]} or \
            sorted(review["g3"]["flags"]["slang"]) == ["gonna", "idk", "tbh"], review["g3"]
        assert review["g7"]["flags"] == {"banned": ["spam"]}, review["g7"]
        out = {line["payload"]["uid"]: line["payload"] for line in
               file_lines(server.data_dir, "out")}
        assert "flags" not in out["g0"], out["g0"]  # nothing found: unchanged
        assert out["g3"]["flags"] == review["g3"]["flags"]

    def failures_in_dead_letters():
        def dead():
            status, _, body = server.request("GET", "/v1/dead-letters?source=forms&limit=100")
            assert status == 200, (status, body)
            return body["events"]
        wait_for(lambda: len(dead()) >= len(failing), 60, "dead letters")
        letters = {e["payload"]["event"]["payload"]["uid"]: e["payload"] for e in dead()}
        assert set(letters) == set(failing), sorted(set(letters) ^ set(failing))
        for uid, letter in letters.items():
            assert letter["pipeline"] == "p" and letter["step"] == "steps[1].lua", letter
            kind = misbehaving[uid]
            want = {"loop": "ran longer than 1000 ms", "huge": "used more than its 16777216",
                    "error": "refused " + uid}[kind]
            assert want in letter["error"], (kind, letter["error"])
        status, _, _ = server.request("GET", "/healthz")
        assert status == 200
        status, _, body = server.request("GET", "/v1/pipelines")
        p = [x for x in body["pipelines"] if x["name"] == "p"][0]
        assert p["dead_lettered"] == len(failing), p

    def edited_files_reload():
        with open(script, "w") as f:
            f.write(SCRIPT % 2)
        with open(banned, "w") as f:
            f.write("spam\neggs\n")
        seen = len(server.stderr_lines)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("changed=[p]" in line for line in server.stderr_lines[seen:]), 30,
                 "the pipeline restarted by SIGHUP")
        before = len(file_lines(server.data_dir, "out"))
        post([{"uid": "after", "comment": "green EGGS"}])
        wait_for(delivered(before + 1), 60, "the event after the reload")
        after = [line["payload"] for line in file_lines(server.data_dir, "out")
                 if line["payload"]["uid"] == "after"]
        assert len(after) == 1 and after[0]["version"] == 2, after
        assert after[0]["flags"] == {"banned": ["eggs"]}, after
        # Restarted from its committed positions: nothing before it came twice.
        uids = [line["payload"]["uid"] for line in file_lines(server.data_dir, "out")]
        assert len(uids) == len(set(uids)), "a reload delivered events twice"

    try:
        checks.run("every good and split event delivered once, in the new shape",
                   everything_delivered_once)
        checks.run("flagged events labelled, and only they reach review", flagged_reach_review_only)
        checks.run("loop, huge allocation and error: dead letters with the reason, process up",
                   failures_in_dead_letters)
        checks.run("edited script and list: SIGHUP restarts the pipeline with them",
                   edited_files_reload)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
