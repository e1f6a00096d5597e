"""The Kafka backend end to end, against librdkafka's mock cluster (3 brokers on real loopback
TCP, hosted by tests/tools/kafka_mock_cluster): events in mixed shapes go in, are stored and
queryable, reach a pipeline's file sink as well (the pipeline reads the same partitions at its
own position), survive a SIGKILL of sluice; with every broker down requests get 503 with
Retry-After, and once the brokers are back requests are accepted again and every acknowledged
event is stored exactly once.

usage: kafka_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, MockKafkaCluster, Server, all_events, metric, wait_for  # noqa: E402


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, ["events:2", "web:1", "contact:1",
                                              "dead_letters:1"])
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write("""
log:
  backend: kafka
  kafka:
    brokers: %s
    delivery_timeout: 3s
streams:
  events: {partitions: 2, key_field: device}
  web: {id_field: event_id, type_field: event_type}
sinks:
  archive: {file: {}}
pipelines:
  archive: {from: [events, web], to: [archive], dead_letter: ""}
""" % cluster.bootstrap)
    config.close()
    server = Server(binary, config=config.name).start()
    acked = set()

    def post(stream, body, content_type="application/json"):
        return server.request("POST", "/v1/streams/%s/events" % stream, body,
                              {"Content-Type": content_type})

    def stored_seqs():
        return [e["payload"]["seq"] for e in all_events(server)]

    try:
        def ingest():
            seq = 0
            for round_ in range(40):
                objects = [{"type": "k", "device": "d%d" % (i % 5), "seq": seq + i}
                           for i in range(50)]
                status, _, body = post("events", objects)
                assert status == 202 and body["accepted"] == 50, (status, body)
                seq += 50
                lines = "\n".join(json.dumps({"event_type": "CLICK", "seq": seq + i})
                                  for i in range(50))
                status, _, body = post("web", lines, "application/x-ndjson")
                assert status == 202 and body["accepted"] == 50, (status, body)
                seq += 50
            acked.update(range(seq))
            wait_for(lambda: len(stored_seqs()) == len(acked), 120, "all events stored")
            assert sorted(stored_seqs()) == sorted(acked)

        def survives_sigkill():
            server.kill()
            server.start()
            status, _, _ = post("events", {"type": "k", "device": "d1", "seq": 100000})
            assert status == 202
            acked.add(100000)
            wait_for(lambda: len(stored_seqs()) == len(acked), 120, "the new event stored")
            assert sorted(stored_seqs()) == sorted(acked), "lost or duplicated after SIGKILL"

        def brokers_down_is_503():
            for broker in (1, 2, 3):
                cluster.command("down %d" % broker)
            status, headers, body = post("events", {"type": "k", "device": "d2", "seq": -1})
            assert status == 503, (status, body)
            assert headers.get("retry-after") == "1", headers
            assert "Kafka" in body["error"], body
            assert metric(server, "sluice_log_append_failures_total") >= 1
            assert server.request("GET", "/healthz")[0] == 200

        def recovers_when_brokers_return():
            for broker in (1, 2, 3):
                cluster.command("up %d" % broker)
            seq = 200000
            accepted = []

            def accepted_again():
                nonlocal seq
                status, _, _ = post("events", {"type": "k", "device": "d3", "seq": seq})
                if status == 202:
                    accepted.append(seq)
                seq += 1
                return status == 202

            wait_for(accepted_again, 60, "a 202 after the brokers came back")
            acked.update(accepted)
            # Unacknowledged events (the 503s) may or may not be stored, never twice.
            wait_for(lambda: acked <= set(stored_seqs()), 120, "the new events stored")
            seqs = stored_seqs()
            assert len(seqs) == len(set(seqs)), "an event stored twice"

        checks.run("4,000 events through Kafka into the store", ingest)
        def pipeline_alongside_the_store():
            # A pipeline reads the same partitions as the store, at its own position.
            def archived():
                seqs = []
                for path in glob.glob(os.path.join(server.data_dir, "files", "archive", "*")):
                    with open(path) as f:
                        seqs += [json.loads(line)["payload"]["seq"] for line in f]
                return seqs
            wait_for(lambda: set(archived()) >= acked, 60, "every event in the archive files")
            assert len(archived()) == len(set(archived())), "archived twice without a crash"

        checks.run("a pipeline on the Kafka log gets every event too",
                   pipeline_alongside_the_store)
        checks.run("SIGKILL and restart: nothing lost, nothing twice", survives_sigkill)
        checks.run("every broker down: 503 with Retry-After", brokers_down_is_503)
        checks.run("brokers back: accepted again, acknowledged events stored",
                   recovers_when_brokers_return)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-60:]))
        server.cleanup()
        cluster.stop()
        os.unlink(config.name)
    checks.finish()


if __name__ == "__main__":
    main()
