"""Records on Kafka are JSON a person and any Kafka client can read, and topics other services
produce to feed streams: librdkafka's mock cluster (3 brokers on loopback TCP) and Debian's
kcat. Events posted over HTTP are read back by `kcat -C` as their JSON text with the envelope
(id, stream, times, key, type) in headers; JSON that kcat produces to a stream's own topic
(`streams.<name>.kafka.topic`) is stored, queryable and windowed like posted events;
records that are not events (not JSON, nested too deep, a NUL, a number too large) are
skipped and counted while the others are kept; and a record in the format of earlier versions
(binary, no headers) is still read.

usage: kafka_wire_test.py SLUICE_BINARY KAFKA_MOCK_CLUSTER_BINARY
"""

import collections
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, MockKafkaCluster, Server, all_events, parse_ms, wait_for  # noqa: E402

CITIES = ["NYC", "LA", "SF"]


def kcat(*args, data=None):
    p = subprocess.run(["kcat", *args], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, (args, p.stderr)
    return p.stdout


def format_1_record(event_id, ts_ms, payload):
    """A record as versions before format 2 wrote it (core/event.h): version 1, no key or
    type."""
    body = payload.encode()
    return (struct.pack("<BBqqH", 1, 0, ts_ms, ts_ms + 1, len(event_id)) + event_id.encode() +
            struct.pack("<I", len(body)) + body)


def main():
    binary, mock_binary = sys.argv[1], sys.argv[2]
    checks = Checks()
    cluster = MockKafkaCluster(mock_binary, ["sluice.events:2", "shop.orders:2", "sluice.web:1",
                                              "sluice.contact:1", "sluice.dead_letters:1"])
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write("""
log: {backend: kafka, kafka: {brokers: "%s", topic_prefix: sluice., delivery_timeout: 5s}}
streams:
  events: {partitions: 2, key_field: device, type_field: kind}
  orders:
    partitions: 2
    kafka: {topic: shop.orders}
    id_field: order_id
    time_field: at
    key_field: city
windows:
  orders_per_city:
    from: [orders]
    key: [city]
    tumbling: 1h
    checkpoint_every: 100ms
    early_updates: 200ms
    aggregates: {orders: count, revenue: sum(amount)}
""" % cluster.bootstrap)
    config.close()
    server = Server(binary, config=config.name).start()
    posted = [{"device": "d%d" % (i % 3), "kind": "click", "n": i} for i in range(20)]
    broker = ["-b", cluster.bootstrap]

    def stored(stream):
        return all_events(server, "stream=" + stream)

    try:
        def kcat_reads_json_with_headers():
            status, _, body = server.request("POST", "/v1/streams/events/events", posted)
            assert status == 202 and body["accepted"] == 20, (status, body)
            wait_for(lambda: len(stored("events")) == 20, 60, "the posted events stored")
            ids = {e["payload"]["n"]: e["id"] for e in stored("events")}
            out = kcat("-C", *broker, "-t", "sluice.events", "-e", "-q", "-f",
                       "%p\t%k\t%T\t%h\t%s\n").decode()
            lines = [line.split("\t") for line in out.splitlines()]
            assert len(lines) == 20, out
            for partition, key, timestamp, headers, value in lines:
                event = json.loads(value)  # the value is the event as posted
                assert event in posted, value
                h = dict(pair.split("=", 1) for pair in headers.split(","))
                assert h["sluice-format"] == "2", h
                assert h["sluice-id"] == ids[event["n"]], (h, ids[event["n"]])
                assert h["sluice-stream"] == "events", h
                assert h["sluice-key"] == key == event["device"], (h, key)
                assert h["sluice-type"] == "click", h
                assert parse_ms(h["sluice-ts"]) == int(timestamp), (h, timestamp)
                assert parse_ms(h["sluice-received-at"]) >= int(timestamp), h
                assert partition in ("0", "1")

        orders = [{"order_id": "o-%d" % i, "city": CITIES[i % 3], "amount": i,
                   "at": "2026-01-05T10:%02d:00Z" % (i % 60)} for i in range(30)]

        def topic_fed_stream_is_queryable_and_windowed():
            lines = "".join("%s|%s\n" % (o["city"], json.dumps(o)) for o in orders[:15])
            lines += "NYC|this is not json\n"
            # Hostile records: too deep, a NUL, a number no double holds; each is skipped.
            lines += "NYC|%s\n" % ('{"a":' * 100 + "1" + "}" * 100)
            lines += 'NYC|{"order_id":"bad-1","city":"NYC","note":"a\\u0000b"}\n'
            lines += 'NYC|{"order_id":"bad-2","city":"NYC","amount":1e999}\n'
            lines += "".join("%s|%s\n" % (o["city"], json.dumps(o)) for o in orders[15:])
            kcat("-P", *broker, "-t", "shop.orders", "-K", "|", data=lines.encode())
            wait_for(lambda: len(stored("orders")) == 30, 60, "the produced orders stored")
            got = stored("orders")
            assert sorted(e["id"] for e in got) == sorted(o["order_id"] for o in orders)
            for e in got:
                assert e["payload"] == orders[int(e["id"][2:])], e
                assert e["key"] == e["payload"]["city"], e
                assert e["ts"] == e["payload"]["at"].replace(":00Z", ":00.000Z"), e
            # An expression over the fed stream works as over a posted one.
            status, _, body = server.request(
                "GET", "/v1/events?stream=orders&limit=100&where=city:eq:LA")
            assert status == 200 and len(body["events"]) == 10, (status, body)

            expected = collections.Counter(o["city"] for o in orders)
            revenue = collections.Counter()
            for o in orders:
                revenue[o["city"]] += o["amount"]

            def windowed():
                status, _, body = server.request("GET", "/v1/windows/orders_per_city?limit=100")
                assert status == 200, body
                return {r["key"]["city"]: r for r in body["results"]}
            wait_for(lambda: {c: r["events"] for c, r in windowed().items()} == expected, 60,
                     "each city's orders in the window")
            for city, r in windowed().items():
                assert r["values"]["revenue"] == revenue[city], r

            status, _, text = server.request("GET", "/metrics")
            assert 'sluice_log_unreadable_records_total{stream="orders"} 4' in text, \
                [line for line in text.splitlines() if "unreadable" in line]

        def earlier_format_is_still_read():
            path = os.path.join(tempfile.mkdtemp(), "record")
            with open(path, "wb") as f:
                f.write(format_1_record("from-an-earlier-version", 1767607200000,
                                        '{"device":"d9","n":99}'))
            kcat("-P", *broker, "-t", "sluice.events", "-p", "0", path)  # a file is one record
            wait_for(lambda: len(stored("events")) == 21, 60, "the earlier record stored")
            old = [e for e in stored("events") if e["id"] == "from-an-earlier-version"]
            assert len(old) == 1 and old[0]["payload"] == {"device": "d9", "n": 99}, old
            assert old[0]["ts"] == "2026-01-05T10:00:00.000Z", old

        checks.run("kcat -C reads the events as JSON with the envelope in headers",
                   kcat_reads_json_with_headers)
        checks.run("a topic kcat produced to feeds a stream: stored, queryable, windowed",
                   topic_fed_stream_is_queryable_and_windowed)
        checks.run("a record in the earlier binary format is still read",
                   earlier_format_is_still_read)
    finally:
        server.stop()
        cluster.stop()
    checks.finish()


if __name__ == "__main__":
    main()
