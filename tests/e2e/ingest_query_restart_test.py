"""End to end: 10,000 events in mixed shapes go in over HTTP, come back exactly once through
GET /v1/events, and are still exactly the same after the process is SIGKILLed and restarted.

With a second argument the log is Kafka: the test starts librdkafka's mock cluster with that
binary (tests/tools/kafka_mock_cluster) and runs the same checks on it.

usage: ingest_query_restart_test.py SLUICE_BINARY [KAFKA_MOCK_CLUSTER_BINARY]
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, MockKafkaCluster, Server, all_events, wait_for  # noqa: E402

TOTAL = 10_000


def make_event(seq):
    """Events in the shapes of the reference systems; every third one carries a client id."""
    if seq % 2 == 0:
        event = {"type": "TEMP", "value": "ALERT:%d" % (seq % 120), "seq": seq}
        if seq % 3 == 0:
            event["id"] = "client-%d" % seq
        if seq % 4 == 0:
            event["timestamp"] = "2025-10-13T11:%02d:%02dZ" % (seq // 60 % 60, seq % 60)
        return "events", event
    event = {"event_type": "CLICK", "page_path": "/shop/%d" % (seq % 7), "seq": seq,
             "timestamp": 1760355000000 + seq, "user_metadata": {"sessionId": "s%d" % (seq % 13)}}
    if seq % 3 == 0:
        event["event_id"] = "web-%d" % seq
    return "web", event


def post(server, conn, stream, body, content_type, expect):
    status, _, reply = server.request("POST", "/v1/streams/%s/events" % stream, body,
                                      {"Content-Type": content_type}, conn=conn)
    assert status == 202, (status, reply)
    assert reply == {"accepted": expect, "rejected": []}, reply


def ingest_mixed_shapes(server, sent):
    conn = server.connection()
    by_stream = {"events": [], "web": []}
    for seq in range(TOTAL):
        stream, event = make_event(seq)
        sent[seq] = (stream, event)
        by_stream[stream].append(event)
    for stream, events in by_stream.items():
        third = len(events) // 3
        # single objects, one request each
        for event in events[:third // 5]:
            post(server, conn, stream, json.dumps(event), "application/json", 1)
        # JSON arrays of 50
        rest = events[third // 5:third]
        for i in range(0, len(rest), 50):
            chunk = rest[i:i + 50]
            post(server, conn, stream, json.dumps(chunk), "application/json", len(chunk))
        # NDJSON of 100, with and without its content type
        rest = events[third:]
        for n, i in enumerate(range(0, len(rest), 100)):
            chunk = rest[i:i + 100]
            body = "\n".join(json.dumps(e) for e in chunk) + "\n"
            post(server, conn, stream, body,
                 "application/x-ndjson" if n % 2 == 0 else "application/json", len(chunk))
    conn.close()


def stored_by_seq(server):
    events = all_events(server)
    by_seq = {}
    for e in events:
        seq = e["payload"]["seq"]
        assert seq not in by_seq, "event seq=%d stored twice" % seq
        by_seq[seq] = e
    return events, by_seq


def check_matches_sent(by_seq, sent):
    assert sorted(by_seq) == list(range(TOTAL)), "missing: %s" % sorted(
        set(range(TOTAL)) - set(by_seq))[:10]
    for seq, (stream, event) in sent.items():
        got = by_seq[seq]
        assert set(got) == {"id", "stream", "ts", "received_at", "key", "payload"}, got
        assert got["stream"] == stream, (seq, got)
        # the payload is the object as sent, field order included
        assert list(got["payload"].items()) == list(event.items()), (seq, got["payload"], event)
        client_id = event.get("id" if stream == "events" else "event_id")
        if client_id:
            assert got["id"] == client_id, (seq, got["id"])
        else:
            assert len(got["id"]) == 36 and got["id"][14] == "7", got["id"]  # UUIDv7
        if stream == "events" and "timestamp" in event:
            assert got["ts"] == event["timestamp"].replace("Z", ".000Z"), (seq, got["ts"])


def main():
    binary = sys.argv[1]
    checks = Checks()
    cluster, config = None, None
    if len(sys.argv) > 2:
        cluster = MockKafkaCluster(sys.argv[2], ["events:1", "web:1", "contact:1", "dead_letters:1"])
        config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        config.write("log: {backend: kafka, kafka: {brokers: \"%s\"}}\n" % cluster.bootstrap)
        config.close()
        print("log backend: kafka (mock cluster %s)" % cluster.bootstrap, flush=True)
    server = Server(binary, config=config.name if config else None).start()
    sent = {}
    state = {}
    try:
        checks.run("ingest 10,000 events as objects, arrays and NDJSON",
                   ingest_mixed_shapes, server, sent)

        def stored_all():
            events, by_seq = stored_by_seq(server)
            state["before"] = by_seq
            return len(events) == TOTAL

        checks.run("all 10,000 stored and queryable",
                   wait_for, stored_all, 120, "10,000 events in GET /v1/events")
        checks.run("each event exactly once, as sent", check_matches_sent, state["before"], sent)

        server.kill()
        server.start()

        def same_after_restart():
            events, by_seq = stored_by_seq(server)
            assert len(events) == TOTAL, len(events)
            assert by_seq == state["before"], "events differ after restart"

        checks.run("after SIGKILL and restart: exactly the same 10,000", same_after_restart)

        def retries_are_not_stored_twice():
            stream, event = sent[0]  # has a client id
            post(server, None, stream, json.dumps(event), "application/json", 1)
            # The retry reaches the store in order with everything before it; wait for a
            # newer event to be visible, then count.
            post(server, None, "events", json.dumps({"type": "marker", "seq": TOTAL}),
                 "application/json", 1)
            wait_for(lambda: len(all_events(server, "type=marker")) == 1, 30, "marker event")
            assert len(all_events(server)) == TOTAL + 1

        checks.run("a retried client id is stored once", retries_are_not_stored_twice)

        def store_rebuilt_from_log():
            expected = stored_by_seq(server)[1]
            assert server.stop() == 0
            for name in os.listdir(server.data_dir):
                if name.startswith("sluice.db"):
                    os.unlink(os.path.join(server.data_dir, name))
            server.start()
            wait_for(lambda: len(all_events(server)) == TOTAL + 1, 120, "the store rebuilt")
            assert stored_by_seq(server)[1] == expected, "rebuilt store differs"

        checks.run("a deleted store is rebuilt from the log, identical",
                   store_rebuilt_from_log)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-50:]))
        server.cleanup()
        if cluster:
            cluster.stop()
            os.unlink(config.name)
    checks.finish()


if __name__ == "__main__":
    main()
