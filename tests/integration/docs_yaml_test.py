"""Every configuration shown in the docs is valid: each ```yaml block of the pages whose top-level
keys are all sections of sluice.yaml (server, streams, windows...) passes `sluice validate` as
written. Blocks that show a part of a setting (a list of steps, say) or another program's file
(Prometheus) are left out, and so is the reference generated from the settings tables.

usage: docs_yaml_test.py SLUICE_BINARY SOURCE_DIR
"""

import os
import re
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks  # noqa: E402

PAGES = ["configuration.md", "streaming.md", "pipelines.md", "operations.md", "http-api.md",
         "security.md", "tracker.md", "compatibility.md", "migrating.md"]
SECTIONS = {"server", "storage", "log", "streams", "routes", "store", "sinks", "pipelines",
            "windows", "alerts"}
BLOCK = re.compile(r"^( *)```yaml\n(.*?)^ *```", re.S | re.M)
GENERATED = re.compile(r"<!-- BEGIN GENERATED -->.*?<!-- END GENERATED -->", re.S)
# What the examples take from the environment.
ENV = {"PG_PASSWORD": "secret", "SLUICE_READ_TOKEN": "read-token-0001",
       "SLUICE_HASH_KEY": "hash-key-0001", "EVENTS_WRITE_KEY": "write-key-0001",
       "SMTP_PASSWORD": "smtp-password"}


def top_level_keys(text):
    return {m.group(1) for m in re.finditer(r"^([A-Za-z_][A-Za-z0-9_]*):", text, re.M)}


def main():
    binary, source = sys.argv[1], sys.argv[2]
    checks = Checks()
    env = dict(os.environ, **ENV)
    validated = 0
    for page in PAGES:
        text = GENERATED.sub("", open(os.path.join(source, "docs", page)).read())
        for index, (_, block) in enumerate(BLOCK.findall(text)):
            block = textwrap.dedent(block)  # a block inside a list item is indented
            keys = top_level_keys(block)
            if not keys or not keys <= SECTIONS:
                continue
            validated += 1

            def valid(block=block):
                with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                    f.write(block)
                p = subprocess.run([binary, "validate", f.name], capture_output=True, text=True,
                                   timeout=30, env=env)
                os.unlink(f.name)
                assert p.returncode == 0, (p.stderr or p.stdout).replace(f.name, "block")

            checks.run("%s, yaml block %d (%s)" % (page, index + 1, ", ".join(sorted(keys))),
                       valid)
    checks.run("the pages show configurations", lambda: None if validated >= 12 else 1 / 0)
    checks.finish()


if __name__ == "__main__":
    main()
