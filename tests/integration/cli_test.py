"""The command line: subcommands, help, exit codes, config validation, generated docs.

usage: cli_test.py SLUICE_BINARY SOURCE_DIR
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks  # noqa: E402


def run(binary, *args, cwd=None):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30, cwd=cwd)
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
        expected = ("%s:6:5: streams.web.kye_field: unknown key \"kye_field\"; did you mean "
                    "\"key_field\"? valid keys: partitions, id_field, key_field, time_field, "
                    "cors_origins, type_field" % path)
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
        for example in sorted(f for f in os.listdir(os.path.join(source, "examples"))
                              if f.endswith(".yaml")):
            code, out, err = run(binary, "validate", os.path.join(source, "examples", example))
            assert code == 0, (example, code, out, err)
            assert "ok" in out, out
        # As docs/configuration.md shows it: the defaults, the declared and the added streams.
        code, out, _ = run(binary, "validate", "examples/iot.yaml", cwd=source)
        assert out == ("examples/iot.yaml: ok (6 streams: contact, dead_letters, events, iot, "
                       "web; added because settings write to them: alerts)\n"), out

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

    def no_server():
        # A port nothing listens on (bound, then closed).
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, SLUICE_URL="http://127.0.0.1:%d" % port)
        for command in (["pipelines"], ["windows"], ["alerts"], ["tail", "web"]):
            p = subprocess.run([binary, *command], capture_output=True, text=True, timeout=30,
                               env=env)
            assert p.returncode == 1, (command, p.returncode, p.stderr)
            assert p.stderr == ("sluice %s: cannot reach the server at http://127.0.0.1:%d: "
                                "Connection refused (is it running? give its address with --url "
                                "or SLUICE_URL)\n" % (command[0], port)), p.stderr
        # --url wins over SLUICE_URL; a URL that is not http:// is a usage error.
        p = subprocess.run([binary, "windows", "--url", "https://x.example"], capture_output=True,
                           text=True, timeout=30, env=env)
        assert p.returncode == 2 and "is not an http:// URL" in p.stderr, p.stderr

    def server_from_the_config_file():
        # --config gives the address (a wildcard one through loopback) and the read token.
        path = write_config("server: {listen: 0.0.0.0:9, read_tokens: [t0ken]}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("SLUICE_URL", "SLUICE_TOKEN")}
        p = subprocess.run([binary, "pipelines", "--config", path], capture_output=True,
                           text=True, timeout=30, env=env)
        os.unlink(path)
        assert p.returncode == 1 and "at http://127.0.0.1:9:" in p.stderr, p.stderr

    checks.run("validate: a misspelt key gives path, line and the valid keys", misspelt_key)
    checks.run("pipelines, windows, alerts, tail: one line when no server answers", no_server)
    checks.run("the server's address from --config", server_from_the_config_file)
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
