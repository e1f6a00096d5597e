"""The command line: subcommands, help, exit codes, config validation, generated docs.

usage: cli_test.py SLUICE_BINARY SOURCE_DIR
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks  # noqa: E402


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def write_config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(text)
    f.close()
    return f.name


def main():
    binary, source = sys.argv[1], sys.argv[2]
    checks = Checks()

    def misspelt_key():
        path = write_config("server:\n  listen: 127.0.0.1:7070\nstreams:\n  web:\n"
                            "    type_field: event_type\n    kye_field: user_id\n")
        code, out, err = run(binary, "validate", path)
        os.unlink(path)
        assert code == 3, (code, out, err)
        expected = ("%s:6:5: streams.web.kye_field: unknown key \"kye_field\"; valid keys: "
                    "partitions, id_field, key_field, time_field, cors_origins, type_field" % path)
        assert expected in err, err

    def every_error_at_once():
        path = write_config("server:\n  io_threads: 0\n  listen: nowhere\nstore:\n  bach: 1\n")
        code, _, err = run(binary, "validate", path)
        os.unlink(path)
        assert code == 3, code
        lines = [line for line in err.splitlines() if line.startswith(path)]
        assert len(lines) == 3, err
        assert ":2:15: server.io_threads" in lines[0], lines
        assert ":3:11: server.listen" in lines[1], lines
        assert ":5:3: store.bach" in lines[2], lines

    def example_is_valid():
        for example in ("sluice.yaml", "collector.yaml", "pipelines.yaml", "city-events.yaml"):
            code, out, err = run(binary, "validate", os.path.join(source, "examples", example))
            assert code == 0, (example, code, out, err)
            assert "ok" in out, out

    def version():
        code, out, _ = run(binary, "version")
        assert code == 0 and out.startswith("sluice "), out

    def help_everywhere():
        for args in ([], ["run"], ["validate"], ["version"], ["config"]):
            code, out, err = run(binary, *args, "--help")
            assert code == 0, (args, code, err)
            assert "Usage" in out or "usage" in out.lower(), (args, out)

    def usage_errors_exit_2():
        for args in (["frobnicate"], ["run", "--no-such-flag"], ["validate"], []):
            code, _, _ = run(binary, *args)
            assert code == 2, (args, code)

    def bad_listen_flag():
        code, _, err = run(binary, "run", "--listen", "localhost", "--data-dir", "/nonexistent")
        assert code == 3, code
        assert "--listen" in err and "host:port" in err, err

    def docs_are_generated_from_the_tables():
        code, reference, _ = run(binary, "config", "reference")
        assert code == 0
        with open(os.path.join(source, "docs", "configuration.md")) as f:
            doc = f.read()
        begin, end = "<!-- BEGIN GENERATED -->\n", "<!-- END GENERATED -->"
        assert begin in doc and end in doc, "markers missing"
        generated = doc.split(begin, 1)[1].split(end, 1)[0]
        assert generated.strip() == reference.strip(), ("docs/configuration.md is stale: run "
                                        "scripts/generate-config-docs")

    checks.run("validate: a misspelt key gives path, line and the valid keys", misspelt_key)
    checks.run("validate: every error at once, each with its line", every_error_at_once)
    checks.run("validate: the configurations under examples/ are valid", example_is_valid)
    checks.run("version", version)
    checks.run("--help on every command", help_everywhere)
    checks.run("usage errors exit 2", usage_errors_exit_2)
    checks.run("a bad --listen is a config error", bad_listen_flag)
    checks.run("docs/configuration.md matches `sluice config reference`",
               docs_are_generated_from_the_tables)
    checks.finish()


if __name__ == "__main__":
    main()
