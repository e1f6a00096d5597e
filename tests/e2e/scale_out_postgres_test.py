"""Scale-out with the store in PostgreSQL: a `sluice collector` and a `sluice run` on Kafka
(librdkafka's mock cluster, real TCP), the run process storing into a real PostgreSQL server,
and two `sluice api` replicas serving the same store. The replicas answer every read exactly as
the run process does, tail the Kafka log live, count what is stored, refuse ingest, and refuse
to start without the PostgreSQL store or on the embedded log.

usage: scale_out_postgres_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import (Checks, MockKafkaCluster, Server, SseClient, Store, all_events,  # noqa: E402
                     wait_for)

CONFIG = """
log: {backend: kafka, kafka: {brokers: "%s", delivery_timeout: 5s}}
streams:
  events: {partitions: 3, key_field: device, stats_fields: [device]}
%s
"""


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, ["events:3", "web:1", "contact:1",
                                              "dead_letters:1"])
    store = Store("postgres")
    config_text = CONFIG % (cluster.bootstrap, store.config())
    collector = Server(binary, command="collector", config_text=config_text).start()
    runner = Server(binary, config_text=config_text).start()
    replicas = [Server(binary, command="api", config_text=config_text).start() for _ in range(2)]
    everyone = [runner, *replicas]
    try:
        def same_answers():
            for i in range(20):
                events = [{"id": "e-%d-%d" % (i, j), "device": "d%d" % (j % 5), "n": j}
                          for j in range(25)]
                status, _, reply = collector.request("POST", "/v1/streams/events/events", events)
                assert status == 202 and reply["accepted"] == 25, (status, reply)
            for server in everyone:
                wait_for(lambda: len(all_events(server, "stream=events")) == 500, 60,
                         "500 events readable on port %d" % server.port)
            pages = [all_events(server, "stream=events&order=asc&limit=70") for server in everyone]
            assert pages[0] == pages[1] == pages[2], "the replicas disagree"
            for path in ("/v1/stats?stream=events&group_by=device",
                         "/v1/events?where=n:gte:20&fields=device", "/v1/events/e-3-4"):
                answers = [server.request("GET", path) for server in everyone]
                assert all(a[0] == 200 for a in answers), answers
                assert answers[0][2] == answers[1][2] == answers[2][2], (path, answers)
            stats = replicas[0].request("GET", "/v1/stats?stream=events&group_by=device")[2]
            counts = {g["device"]: g["count"] for g in stats["groups"]}
            assert counts == {"d%d" % k: 100 for k in range(5)}, counts

        def replica_streams():
            status, _, body = replicas[0].request("GET", "/v1/streams?stream=events")
            assert status == 200, body
            s = body["streams"][0]
            assert s["in_log"] == 500 and s["stored"] == 500, s
            assert s["newest_event"] is not None, s

        def replica_tails():
            client = SseClient(replicas[1].port, "/v1/tail?stream=events")
            try:
                assert client.wait_started() == "tail of events"
                status, _, reply = collector.request(
                    "POST", "/v1/streams/events/events",
                    [{"id": "live-%d" % j, "device": "d0"} for j in range(3)])
                assert status == 202, reply
                seen = []

                def arrived():
                    client.read_some(timeout=0.5)
                    seen.extend(json.loads(b["data"])["id"] for b in client.blocks()
                                if b.get("data"))
                    return len(seen) >= 3
                wait_for(arrived, 30, "the live events on the replica's tail")
                assert sorted(seen) == ["live-0", "live-1", "live-2"], seen
            finally:
                client.close()

        def replica_refuses_ingest():
            status, _, reply = replicas[0].request("POST", "/v1/streams/events/events",
                                                   {"id": "x"})
            assert status == 404 and "queries only" in reply["error"], (status, reply)
            status, _, reply = replicas[0].request("GET", "/v1/pipelines")
            assert status == 404 and "queries only" in reply["error"], (status, reply)
            status, _, reply = replicas[0].request("GET", "/readyz")
            assert status == 200 and reply["checks"]["store"]["ok"], (status, reply)
            status, _, text = replicas[0].request("GET", "/metrics")
            assert status == 200 and "sluice_http_request_duration_seconds" in text

        def refuses_to_start():
            for text, reason in (
                    ("log: {backend: kafka, kafka: {brokers: '%s'}}\n" % cluster.bootstrap,
                     "set store.url"),
                    (store.config(), "set log.backend: kafka")):
                with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                    f.write(text)
                data = tempfile.mkdtemp(prefix="sluice-api-")
                try:
                    done = subprocess.run([binary, "api", "--config", f.name, "--data-dir", data,
                                           "--listen", "127.0.0.1:0"], capture_output=True,
                                          text=True, timeout=30)
                finally:
                    os.unlink(f.name)
                    shutil.rmtree(data, ignore_errors=True)
                assert done.returncode == 3 and reason in done.stderr, (done.returncode,
                                                                          done.stderr)

        checks.run("the api replicas answer every read as the run process does", same_answers)
        checks.run("a replica counts what the processor stored", replica_streams)
        checks.run("a replica tails the Kafka log live", replica_tails)
        checks.run("a replica refuses ingest and serves health and metrics",
                   replica_refuses_ingest)
        checks.run("sluice api needs the PostgreSQL store and the Kafka log", refuses_to_start)
    finally:
        if checks.failed:
            for server in [collector, *everyone]:
                sys.stderr.write("".join(server.stderr_lines[-15:]))
        for server in [collector, *everyone]:
            server.cleanup()
        store.cleanup()
        cluster.stop()
    checks.finish()


if __name__ == "__main__":
    main()
