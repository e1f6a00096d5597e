"""Every curl example of a page (docs/http-api.md by default), run as written against the
example configuration it names (examples/collector.yaml by default), with its answer checked
against the one the page shows.

An example is a ```sh block followed directly by a plain ``` block: the first line shown must be
the status line received, and every other line shown must be a line of the answer (headers or
body).

usage: docs_test.py SLUICE_BINARY SOURCE_DIR [PAGE CONFIG LISTEN MIN_EXAMPLES]
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server  # noqa: E402

EXAMPLE = re.compile(r"```sh\n(.*?)```\n```\n(.*?)```", re.S)


def main():
    binary, source = sys.argv[1], sys.argv[2]
    name, config, listen, least = (sys.argv[3:7] if len(sys.argv) > 6 else
                                   ("http-api.md", "collector.yaml", "127.0.0.1:0", "10"))
    page = open(os.path.join(source, "docs", name)).read()
    examples = EXAMPLE.findall(page)
    checks = Checks()
    checks.run("the page has examples", lambda: None if len(examples) >= int(least) else 1 / 0)
    server = Server(binary, config=os.path.join(source, "examples", config),
                    listen=listen).start()
    env = dict(os.environ, SLUICE="http://127.0.0.1:%d" % server.port)
    try:
        for command, shown in examples:
            def run(command=command, shown=shown):
                result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                        env=env, timeout=30)
                answer = [line.rstrip("\r") for line in result.stdout.splitlines()]
                expected = shown.strip().splitlines()
                assert answer and answer[0] == expected[0], (answer[:1], expected[0])
                lowered = {line.lower() for line in answer}
                for line in expected[1:]:
                    assert line.lower() in lowered, (line, answer)

            checks.run(command.strip().splitlines()[0][:100], run)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
