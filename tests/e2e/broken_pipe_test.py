"""A reader of the server's log that goes away (the log shipper a supervisor pipes stderr into
dies) does not end `sluice run`: its next log line meets a closed pipe, and the server goes on
taking, storing and reloading. Without SIGPIPE ignored, that write ends the process.

usage: broken_pipe_test.py SLUICE_BINARY
"""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CONFIG = """
streams:
  events: {}
sinks:
  copy: {file: {dir: copy}}
"""
PIPELINE = """
pipelines:
  to_copy: {from: [events], to: [copy]}
"""


class LogPipedServer(Server):
    """`sluice run` whose stderr is a pipe that nothing drains: the test closes it."""

    def start(self, timeout=30):
        self.proc = subprocess.Popen(
            [self.binary, self.command, "--listen", self.listen, "--data-dir", self.data_dir,
             "--config", self.config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "listening on" in line, line
        self.port = int(line.strip().rsplit(":", 1)[1])
        return self


def server_outlives_its_log_reader(binary):
    server = LogPipedServer(binary, config_text=CONFIG).start()
    try:
        status, _, reply = server.request("POST", "/v1/streams/events/events", [{"n": 1}])
        assert status == 202, (status, reply)
        server.proc.stderr.close()  # the log's reader is gone
        # The reload logs before it adds the pipeline: once the pipeline is there, the server
        # has written to the closed pipe and lived on.
        with open(server.config, "a") as f:
            f.write(PIPELINE)
        server.proc.send_signal(signal.SIGHUP)

        def reloaded():
            assert server.proc.poll() is None, "the server ended: %d" % server.proc.returncode
            status, _, body = server.request("GET", "/v1/pipelines")
            assert status == 200, (status, body)
            return [p["name"] for p in body["pipelines"]] == ["to_copy"]
        wait_for(reloaded, 30, "the pipeline added by the reload")
        status, _, reply = server.request("POST", "/v1/streams/events/events", [{"n": 2}])
        assert status == 202, (status, reply)
        wait_for(lambda: len(all_events(server)) == 2, 30, "both events stored")
        assert server.proc.poll() is None, server.proc.returncode
    finally:
        server.cleanup()


def main():
    binary = sys.argv[1]
    checks = Checks()
    checks.run("the server outlives the reader of its log", server_outlives_its_log_reader,
               binary)
    checks.finish()


if __name__ == "__main__":
    main()
