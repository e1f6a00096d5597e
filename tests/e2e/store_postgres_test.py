"""The store in PostgreSQL (`store.url`) against a real server: payloads come back exactly as
they were sent; the tables are where docs/operations.md says, in their schema; with the server
stopped, ingest goes on while queries answer 503 and /readyz names the store; once it is back,
the processor stores everything acknowledged meanwhile, once, with its statistics; a store an
earlier version made (positions in consumer_offsets) resumes where it stopped.

usage: store_postgres_test.py SLUICE_BINARY
"""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, all_events, wait_for  # noqa: E402

CONFIG = """
streams:
  events: {partitions: 2, key_field: device, type_field: type, stats_fields: [device]}
store:
  url: '%s'
  schema: analytics
  read_connections: 2
"""

# Whitespace, key order, escapes and number spellings: kept as they were sent.
ODD = '{"type":"odd", "z" : 1,"a":[1, 2.50, {"k":"\\u00e9\\n"}], "e": 1E+2}'


def main():
    binary = sys.argv[1]
    store = Store("postgres")
    pg = store.postgres
    checks = Checks()
    server = Server(binary, config_text=CONFIG % pg.url).start()
    posted = []

    def post(events):
        status, _, reply = server.request("POST", "/v1/streams/events/events", events)
        assert status == 202 and reply["accepted"] == len(events), (status, reply)
        posted.extend(e["id"] for e in events)

    def batch(start, n):
        return [{"id": "e%05d" % i, "type": "reading", "device": "d%d" % (i % 4), "value": i}
                for i in range(start, start + n)]

    try:
        def exact_payload():
            status, _, reply = server.request("POST", "/v1/streams/events/events", ODD)
            assert status == 202, reply
            wait_for(lambda: all_events(server, "type=odd"), 60, "the odd event stored")
            conn = server.connection()
            conn.request("GET", "/v1/events?type=odd")
            raw = conn.getresponse().read().decode()
            conn.close()
            assert ODD in raw, raw
            # Queryable with PostgreSQL's JSON operators, in the configured schema.
            rows = pg.query("SELECT payload->>'z', stream FROM analytics.events "
                            "WHERE type = 'odd'")
            assert rows == [["1", "events"]], rows

        def tables():
            rows = pg.query("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = 'analytics' ORDER BY 1")
            names = [r[0] for r in rows]
            assert names == ["events", "rollup_counts", "rollup_counts_hourly", "rollup_fields",
                             "rollup_lag", "rollup_lag_hourly", "sluice_positions"], names

        def outage():
            post(batch(0, 200))
            wait_for(lambda: len(all_events(server, "type=reading")) == 200, 60,
                     "the first events stored")
            pg.stop()
            post(batch(200, 300))  # acknowledged: the log has them
            status, _, body = server.request("GET", "/v1/events?type=reading")
            assert status == 503 and "PostgreSQL" in body["error"], (status, body)
            status, _, body = server.request("GET", "/v1/stats?stream=events")
            assert status == 503, (status, body)

            def store_not_ready():
                status, _, body = server.request("GET", "/readyz")
                return status == 503 and not body["checks"]["store"]["ok"]
            wait_for(store_not_ready, 60, "/readyz to report the store")
            status, _, body = server.request("GET", "/readyz")
            assert "PostgreSQL" in body["checks"]["store"]["error"], body
            assert body["checks"]["log"]["ok"], body
            post(batch(500, 100))

        def recovered():
            pg.start()  # the same directory and port
            wait_for(lambda: server.request("GET", "/readyz")[0] == 200, 60, "/readyz 200 again")
            wait_for(lambda: len(all_events(server, "type=reading")) == len(posted), 60,
                     "every acknowledged event stored")
            ids = [e["id"] for e in all_events(server, "type=reading&order=asc")]
            assert sorted(ids) == sorted(posted) and len(set(ids)) == len(ids), len(ids)
            query = urllib.parse.urlencode({"stream": "events", "group_by": "device",
                                            "where": "type:eq:reading"})
            status, _, stats = server.request("GET", "/v1/stats?" + query)
            assert status == 200, stats
            by_device = {g["device"]: g["count"] for g in stats["groups"]}
            assert by_device == {"d%d" % k: len(posted) // 4 for k in range(4)}, by_device
            assert any("store write failed" in line for line in server.stderr_lines)

        def upgraded():
            # A store an earlier version made: its positions in consumer_offsets, without the
            # skipped count. The stored events are deleted, so a store that lost its positions
            # would take them from the log again.
            server.stop()
            pg.query("BEGIN; CREATE TABLE analytics.consumer_offsets AS SELECT consumer, stream,"
                     " partition, next_offset FROM analytics.sluice_positions;"
                     " DROP TABLE analytics.sluice_positions;"
                     " DELETE FROM analytics.events WHERE type = 'reading'; COMMIT")
            server.start()
            post([{"id": "u%d" % i, "type": "after", "device": "d%d" % i} for i in range(8)])

            def all_taken():
                status, _, body = server.request("GET", "/v1/streams?stream=events")
                stream = body["streams"][0]
                return status == 200 and stream["stored"] == stream["in_log"]
            wait_for(all_taken, 60, "the store to take every event in the log")
            assert len(all_events(server, "type=after")) == 8
            assert all_events(server, "type=reading") == [], "events taken from the log again"
            names = pg.query("SELECT table_name FROM information_schema.tables WHERE "
                             "table_schema = 'analytics' AND table_name LIKE '%offsets'")
            assert names == [], names
            rows = pg.query("SELECT sum(next_offset) FROM analytics.sluice_positions"
                            " WHERE consumer = 'store'")
            assert rows == [[str(len(posted) + 1)]], (rows, len(posted))  # + the odd one

        checks.run("payloads come back exactly as sent, and answer SQL", exact_payload)
        checks.run("the tables are made in the configured schema", tables)
        checks.run("server stopped: ingest goes on, queries 503, /readyz names the store",
                   outage)
        checks.run("server back: everything acknowledged stored once, with its counts",
                   recovered)
        checks.run("a store of an earlier version keeps its positions", upgraded)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-30:]))
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
