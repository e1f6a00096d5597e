"""The kafka sink against librdkafka's mock cluster (3 brokers on real loopback TCP): a pipeline
produces every event to a topic, keyed by the event id, read back with kcat; with every broker
down the pipeline shows `retrying` with its lag, and once they are back every acknowledged event
reaches the topic.

usage: kafka_sink_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, MockKafkaCluster, Server, wait_for  # noqa: E402


def topic_messages(bootstrap):
    """Every message of topic `out` as (key, value JSON), read with kcat."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", "out", "-o", "beginning", "-e",
                          "-q", "-f", "%k\t%s\n"], capture_output=True, text=True,
                         timeout=60).stdout
    messages = []
    for line in out.splitlines():
        if "\t" in line:
            key, value = line.split("\t", 1)
            messages.append((key, json.loads(value)))
    return messages


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, ["out:3"])
    config = os.path.join(tempfile.mkdtemp(prefix="sluice-kafka-sink-test-"), "sluice.yaml")
    with open(config, "w") as f:
        f.write("""
sinks:
  topic: {kafka: {brokers: "%s", topic: out, delivery_timeout: 2s}}
pipelines:
  to_kafka: {from: [events], to: [topic]}
""" % cluster.bootstrap)
    server = Server(binary, config=config)
    server.start()

    def post(uids):
        body = "\n".join(json.dumps({"uid": u}) for u in uids)
        status, _, reply = server.request("POST", "/v1/streams/events/events", body,
                                          {"Content-Type": "application/x-ndjson"})
        assert status == 202, (status, reply)

    def status():
        _, _, body = server.request("GET", "/v1/pipelines")
        return body["pipelines"][0]

    def uids_in_topic():
        return {m["payload"]["uid"] for _, m in topic_messages(cluster.bootstrap)}

    def delivered_keyed_by_id():
        first = ["a%d" % i for i in range(200)]
        post(first)
        wait_for(lambda: set(first) <= uids_in_topic(), 60, "200 events in the topic")
        for key, message in topic_messages(cluster.bootstrap):
            assert key == message["id"], (key, message)
            assert message["stream"] == "events", message

    def brokers_down_then_back():
        for broker in (1, 2, 3):
            cluster.command("down %d" % broker)
        more = ["b%d" % i for i in range(50)]
        post(more)
        wait_for(lambda: status()["state"] == "retrying", 30, "the pipeline retrying")
        down = status()
        assert down["lag"] > 0 and "kafka" in down["last_error"], down
        for broker in (1, 2, 3):
            cluster.command("up %d" % broker)
        wait_for(lambda: set(more) <= uids_in_topic(), 90, "the events sent while down")
        wait_for(lambda: status()["lag"] == 0, 30, "lag back to 0")

    try:
        checks.run("every event produced to the topic, keyed by id", delivered_keyed_by_id)
        checks.run("every broker down: retrying with lag; back: everything delivered",
                   brokers_down_then_back)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-30:]))
        server.cleanup()
        cluster.stop()
    checks.finish()


if __name__ == "__main__":
    main()
