"""`sluice generate` against the running binary: every preset's events arrive in the stream it
targets, at the rate asked for, and the same seed gives the same events.

usage: generate_test.py SLUICE_BINARY
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402


def generate(binary, server, *args):
    target = "http://127.0.0.1:%d" % server.port
    p = subprocess.run([binary, "generate", "--target", target, *args], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def sent(out):
    m = re.search(r"sent (\d+) events in (\d+) requests over ([\d.]+) s", out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


def main():
    binary = sys.argv[1]
    checks = Checks()
    server = Server(binary).start()
    try:
        def preset(name, stream, match, per_request):
            before = len([e for e in all_events(server, "stream=" + stream) if match(e)])
            code, out, err = generate(binary, server, "--preset", name, "--rate", "200",
                                      "--duration", "2s", "--seed", "7")
            assert code == 0, (code, out, err)
            events, requests, seconds = sent(out)
            assert 360 <= events <= 440, out  # 200/s for 2 s
            assert 1.8 <= seconds <= 3.5, out
            assert events == requests * per_request, out
            assert "answers: 20" in out or "answers: 303" in out, out
            wait_for(lambda: len([e for e in all_events(server, "stream=" + stream)
                                  if match(e)]) == before + events, 20,
                     "%d %s events in %s" % (events, name, stream))

        checks.run("web: tracker batches to /collect", preset, "web", "web",
                   lambda e: e["payload"].get("app") == "demo-shop", 20)
        checks.run("iot: readings to /publish", preset, "iot", "events",
                   lambda e: e["payload"].get("type") == "TEMP", 1)
        checks.run("city: incident reports to /publish", preset, "city", "events",
                   lambda e: "city" in e["payload"] and "severity" in e["payload"], 1)
        checks.run("forms: contact forms to /v1/forms/contact", preset, "forms", "contact",
                   lambda e: "message" in e["payload"], 1)

        def same_seed_same_events():
            runs = []
            for _ in range(2):
                before = {e["id"] for e in all_events(server, "stream=contact")}
                code, out, _ = generate(binary, server, "--preset", "forms", "--rate", "50",
                                        "--duration", "400ms", "--seed", "12345")
                assert code == 0, out
                count = sent(out)[0]
                wait_for(lambda: len(all_events(server, "stream=contact")) == len(before) + count,
                         20, "the forms")
                runs.append(sorted(json.dumps(e["payload"], sort_keys=True)
                                   for e in all_events(server, "stream=contact")
                                   if e["id"] not in before))
            assert runs[0] and runs[0] == runs[1], runs

        checks.run("the same seed sends the same events", same_seed_same_events)

        def errors():
            code, _, err = generate(binary, server, "--preset", "nope")
            assert code == 2, (code, err)
            code, _, err = generate(binary, server, "--duration", "soon")
            assert code == 2 and "--duration" in err, (code, err)
            p = subprocess.run([binary, "generate", "--target", "http://127.0.0.1:9",
                                "--duration", "300ms", "--rate", "10"],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 1, (p.returncode, p.stdout)
            assert "refused" in p.stdout.lower(), p.stdout

        checks.run("bad flags exit 2; an unreachable collector exits 1", errors)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
