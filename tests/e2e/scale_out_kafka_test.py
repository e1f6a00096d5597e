"""Scale-out on Kafka (librdkafka's mock cluster, 3 brokers on loopback TCP): two
`sluice collector` processes take events, one `sluice run` stores and serves them. Every event
acknowledged by either collector is stored exactly once; a collector stopped and restarted
loses nothing; the processes share nothing but Kafka.

usage: scale_out_kafka_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, MockKafkaCluster, Server, all_events, wait_for  # noqa: E402

STREAMS = ["events:3", "web:1", "contact:1", "dead_letters:1"]


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, STREAMS)
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write("""
log: {backend: kafka, kafka: {brokers: "%s", delivery_timeout: 5s}}
streams:
  events: {partitions: 3, key_field: device, dead_letter: dead_letters}
  web: {id_field: event_id, type_field: event_type}
  contact: {form: {enabled: true}}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
""" % cluster.bootstrap)
    config.close()
    collectors = [Server(binary, config=config.name, command="collector").start()
                  for _ in range(2)]
    store = Server(binary, config=config.name).start()
    try:
        def ingest_through_both():
            for i in range(40):
                target = collectors[i % 2]
                events = [{"id": "e-%d-%d" % (i, j), "device": "d%d" % (j % 7), "n": j}
                          for j in range(25)]
                status, _, reply = target.request("POST", "/publish", events)
                assert status == 202 and reply["accepted"] == 25, (status, reply)
            status, _, reply = collectors[0].request("POST", "/publish",
                                                     [{"id": "bad", "timestamp": "soon"}])
            assert status == 400, (status, reply)
            wait_for(lambda: len(all_events(store, "stream=events")) == 1000, 60,
                     "1000 events in the store")
            ids = [e["id"] for e in all_events(store, "stream=events")]
            assert len(set(ids)) == 1000, len(set(ids))
            wait_for(lambda: len(all_events(store, "stream=dead_letters")) == 1, 30,
                     "the dead letter")
            status, _, reply = collectors[1].request("GET", "/v1/events")
            assert status == 404 and "this is a collector" in reply["error"], (status, reply)

        def collector_restart():
            assert collectors[0].stop() == 0
            status, _, reply = collectors[1].request(
                "POST", "/publish", [{"id": "during-%d" % j, "device": "x"} for j in range(10)])
            assert status == 202, (status, reply)
            collectors[0].start()
            status, _, reply = collectors[0].request(
                "POST", "/publish", [{"id": "after-%d" % j, "device": "y"} for j in range(10)])
            assert status == 202, (status, reply)
            wait_for(lambda: len(all_events(store, "stream=events")) == 1020, 60,
                     "1020 events in the store")

        checks.run("two collectors, one store: every acknowledged event stored once",
                   ingest_through_both)
        checks.run("a collector stopped and started again: nothing lost", collector_restart)
    finally:
        for server in [*collectors, store]:
            server.cleanup()
        cluster.stop()
        os.unlink(config.name)
    checks.finish()


if __name__ == "__main__":
    main()
