"""`sluice dead-letters replay` after a fix, each dead letter at most once:
- a pipeline whose webhook refused some events (400) and whose lua step failed on others:
  once the receiver takes them and the script is fixed, replay sends each to the webhook
  once (the refused ones as they were, the failed ones through the fixed steps); a second
  replay sends nothing; --dry-run lists and sends nothing;
- a stream whose schema refused events: once the schema is relaxed (and the server
  restarted with it), replay posts them again and they are stored; those still wrong are
  refused again, into new dead letters (the old ones retired), which the next replay after
  another fix posts once more: no event stored twice.

usage: replay_test.py SLUICE_BINARY
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Receiver, Server, all_events, wait_for  # noqa: E402

SCRIPT = """
function process(event)
  if event.kind == "odd" and not FIXED then error("cannot handle odd events yet") end
  event.seen = true
  return event
end
FIXED = %s
"""


def main():
    binary = sys.argv[1]
    checks = Checks()
    work = tempfile.mkdtemp(prefix="sluice-replay-test-")
    received = []
    state = {"refuse": True}

    def answer(path, headers, body):
        events = json.loads(body)
        if state["refuse"] and any(e["payload"].get("bad") for e in events):
            return 400
        received.extend(e["payload"]["uid"] for e in events)
        return 200
    receiver = Receiver(answer)
    script = os.path.join(work, "step.lua")
    with open(script, "w") as f:
        f.write(SCRIPT % "false")
    config = os.path.join(work, "sluice.yaml")

    def write_config(minimum_age):
        with open(config, "w") as f:
            f.write("""
storage: {data_dir: %s}
streams:
  orders: {}
  signups:
    dead_letter: dead_letters
    schema:
      type: object
      required: [age]
      properties: {age: {type: integer, minimum: %d}}
sinks:
  hook: {webhook: {url: "http://127.0.0.1:%d/in"}}
pipelines:
  p:
    from: [orders]
    to: [hook]
    dead_letter: dead_letters
    steps:
      - lua: {script: %s}
""" % (os.path.join(work, "data"), minimum_age, receiver.port, script))
    write_config(18)
    server = Server(binary, config=config, data_dir=os.path.join(work, "data"))
    server.start()

    def replay(*args):
        out = subprocess.run([binary, "dead-letters", "replay", "--url",
                              "http://127.0.0.1:%d" % server.port, "--config", config] +
                             list(args), capture_output=True, text=True, timeout=120)
        return out.returncode, out.stdout + out.stderr

    def pipeline_replay():
        events = [{"uid": "o%d" % i, "bad": i % 10 == 3, "kind": "odd" if i % 10 == 7 else ""}
                  for i in range(50)]
        status, _, body = server.request("POST", "/v1/streams/orders/events", events)
        assert status == 202, (status, body)
        refused = {e["uid"] for e in events if e["bad"]}
        failed = {e["uid"] for e in events if e["kind"] == "odd"}
        wait_for(lambda: len(received) >= 50 - len(refused) - len(failed), 60, "the good ones")

        def letters():
            status, _, body = server.request("GET", "/v1/dead-letters?pipeline=p&limit=100")
            return body["events"]
        wait_for(lambda: len(letters()) >= len(refused) + len(failed), 60, "the dead letters")
        code, out = replay("--pipeline", "p", "--dry-run")
        assert code == 0 and out.count("would replay") == len(refused) + len(failed), out
        assert not set(received) & (refused | failed), "dry run sent something"
        # The fix: the receiver takes them, the script handles odd events.
        state["refuse"] = False
        with open(script, "w") as f:
            f.write(SCRIPT % "true")
        code, out = replay("--pipeline", "p")
        assert code == 0, out
        assert "%d replayed, 0 failed again" % (len(refused) + len(failed)) in out, out
        assert sorted(received) == sorted(e["uid"] for e in events), sorted(received)
        code, out = replay("--pipeline", "p")
        assert code == 0 and "0 replayed, 0 failed again, %d replayed before" % (
            len(refused) + len(failed)) in out, out
        assert len(received) == 50, "replayed twice: %d" % len(received)

    def stream_replay():
        events = [{"uid": "s%d" % i, "age": age} for i, age in
                  enumerate([30, 16, 40, "x", 17, 12])]
        status, _, body = server.request("POST", "/v1/streams/signups/events", events)
        assert status == 202 and len(body["rejected"]) == 4, body
        # The fix: 16-year-olds may sign up. The server restarts with the new schema.
        write_config(16)
        server.stop()
        server.start()
        code, out = replay("--stream", "signups")
        assert code != 0, out  # two are still wrong
        assert "2 replayed, 2 failed again" in out, out
        def stored():
            return sorted(e["payload"]["uid"] for e in all_events(server, "stream=signups"))
        wait_for(lambda: len(stored()) >= 4, 30, "the replayed events stored")
        assert stored() == ["s0", "s1", "s2", "s4"], stored()
        # Another fix, and only those still refused are posted again.
        write_config(0)
        server.stop()
        server.start()
        code, out = replay("--stream", "signups")
        # The two refused again have new dead letters; the four first ones are all retired.
        assert "1 replayed, 1 failed again, 4 replayed before" in out, out
        wait_for(lambda: len(stored()) >= 5, 30, "the last replayed event stored")
        assert stored() == ["s0", "s1", "s2", "s4", "s5"], stored()

    try:
        checks.run("pipeline: refused and failed events sent once after the fix",
                   pipeline_replay)
        checks.run("stream: refused events posted again after the schema is fixed",
                   stream_replay)
    finally:
        server.cleanup()
        receiver.shutdown()
    checks.finish()


if __name__ == "__main__":
    main()
