"""POST /v1/sql against the real binary and each store: one read-only statement answered as
JSON or CSV with its columns; a row cap; store.query_timeout; read tokens; and everything a
person could try to change the store or the server with (writes, DDL, ATTACH, pragmas, a
second statement, COPY, server files), refused with 400 while the events stay.

usage: sql_test.py SLUICE_BINARY [sqlite|postgres]
"""

import csv
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, wait_for  # noqa: E402

CONFIG = """
server: {read_tokens: [sql-read-token-1]}
store: {query_timeout: 1s}
streams:
  shop: {type_field: kind}
"""
AUTH = {"Authorization": "Bearer sql-read-token-1"}
EVENTS = 20


def main():
    binary = sys.argv[1]
    store = Store(sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    checks = Checks()
    config = CONFIG
    if store.postgres:
        # The store as an ordinary user: a superuser's connection runs no one's SQL (checked
        # at the end, with the server's own superuser URL).
        store.postgres.query("CREATE ROLE shop_app LOGIN")
        store.postgres.query("CREATE DATABASE shop OWNER shop_app")
        base = store.postgres.url.rsplit("/", 1)[0].replace("postgres@", "shop_app@")
        config = CONFIG.replace("store: {query_timeout: 1s}",
                                "store: {url: '%s/shop', query_timeout: 1s}" % base)
    server = Server(binary, config_text=config).start()

    def sql(body, params="", headers=None):
        return server.request("POST", "/v1/sql" + params, body, dict(AUTH, **(headers or {})))

    def count():
        status, _, body = sql({"sql": "SELECT count(*) AS n FROM events WHERE stream = 'shop'"})
        assert status == 200, body
        return body["rows"][0][0]

    try:
        events = [{"id": "e%02d" % i, "kind": ["view", "buy"][i % 2], "price": i * 1.5,
                   "note": 'say "hi", then\nleave' if i == 3 else "plain"} for i in range(EVENTS)]
        status, _, body = server.request("POST", "/v1/streams/shop/events", events)
        assert status == 202, body
        wait_for(lambda: count() == EVENTS, 15, "the events stored")

        def json_answer():
            status, headers, body = sql({"sql": "SELECT type, count(*) AS n FROM events "
                                                "WHERE stream = 'shop' GROUP BY type ORDER BY type"})
            assert status == 200 and headers["content-type"] == "application/json", body
            assert body["columns"] == ["type", "n"], body
            assert body["rows"] == [["buy", 10], ["view", 10]], body
            assert body["truncated"] is False and body["elapsed_ms"] >= 0, body

        def typed_values():
            status, _, body = sql({"sql": "SELECT 1 AS i, 2.5 AS f, 'x' AS t, NULL AS z"})
            assert status == 200, body
            assert body["rows"] == [[1, 2.5, "x", None]], body

        def the_statement_as_body():
            status, _, body = sql("SELECT id FROM events WHERE stream = 'shop' ORDER BY id;  -- x",
                                  "?max_rows=3", {"Content-Type": "text/plain"})
            assert status == 200, body
            assert body["rows"] == [["e00"], ["e01"], ["e02"]] and body["truncated"], body

        def csv_answer():
            status, headers, text = sql({"sql": "SELECT id, json_extract_path_text(payload::json, "
                                                "'note') AS note FROM events WHERE id = 'e03'"
                                         if store.postgres else
                                         "SELECT id, json_extract(payload, '$.note') AS note "
                                         "FROM events WHERE id = 'e03'"},
                                        "?format=csv")
            assert status == 200 and headers["content-type"].startswith("text/csv"), text
            rows = list(csv.reader(io.StringIO(text)))
            assert rows == [["id", "note"], ["e03", 'say "hi", then\nleave']], rows
            status, headers, text = sql({"sql": "SELECT id FROM events ORDER BY id",
                                         "max_rows": 2}, "", {"Accept": "text/csv"})
            assert status == 200 and text.count("\r\n") == 3, text
            assert headers.get("x-sluice-truncated") == "true", headers

        def row_cap():
            status, _, body = sql({"sql": "SELECT * FROM events", "max_rows": 10000})
            assert status == 200 and len(body["rows"]) == EVENTS and not body["truncated"]
            for bad in (0, 10001, -1, "5", 2.5):
                status, _, body = sql({"sql": "SELECT 1", "max_rows": bad})
                assert status == 400 and "max_rows" in body["error"], (bad, body)

        def refused(statement, *words):
            status, _, body = sql({"sql": statement})
            assert status == 400, (statement, status, body)
            assert any(w in body["error"].lower() for w in words), (statement, body)

        def writes_refused():
            for statement in ["DELETE FROM events", "UPDATE events SET type = 'x'",
                              "INSERT INTO events (stream, id, ts, received_at, payload) "
                              "VALUES ('shop', 'zz', 0, 0, '{}')",
                              "DROP TABLE events", "CREATE TABLE stolen (a int)",
                              "WITH d AS (DELETE FROM events RETURNING id) SELECT * FROM d"]:
                refused(statement, "read", "not authorized", "syntax", "data-modifying")
            refused("SELECT 1; DELETE FROM events", "one statement")
            refused("SELECT 1 /* ; */; -- done\n; SELECT 2", "one statement")
            if store.postgres:
                refused("COPY events TO STDOUT", "syntax")
                refused("SELECT pg_read_file('/etc/hostname')", "permission", "read access")
                refused("SET ROLE postgres", "syntax")
                refused("SELECT set_config('role', 'postgres', true), query_to_xml("
                        "'select pg_read_file(''/etc/hostname'')', true, false, '')",
                        "permission", "read access")
            else:
                refused("ATTACH DATABASE '/tmp/sluice-sql-test.db' AS x", "read",
                        "not authorized")
                refused("PRAGMA journal_mode = DELETE", "read", "not authorized")
                refused("PRAGMA writable_schema = 1", "read", "not authorized")
                status, _, body = sql({"sql": "PRAGMA table_info(events)"})
                assert status == 200 and ["id"] in [r[1:2] for r in body["rows"]], body
            assert not os.path.exists("/tmp/sluice-sql-test.db")
            assert count() == EVENTS, "the events changed"

        def hostile_bodies():
            for body, word in [({"sql": "SELECT 1 -- " + "x" * 70_000}, "limit"),
                               ({"sql": "SELECT '\u0000'"}, "nul"),
                               ({"sql": "  ;  "}, "empty"), ({"sql": ""}, "empty"),
                               ({"sql": 7}, "string"), ('{"sql": ', "string"),
                               ({"sql": "SELEC 1"}, "syntax"),
                               ({"sql": "SELECT * FROM no_such_table"}, "no_such_table")]:
                status, _, answer = sql(body)
                assert status == 400 and word in answer["error"].lower(), (str(body)[:60], answer)
            status, _, _ = server.request("GET", "/healthz")
            assert status == 200

        def timeout():
            slow = ("SELECT pg_sleep(5)" if store.postgres else
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                    "SELECT count(*) FROM c")
            started = time.monotonic()
            status, headers, body = sql({"sql": slow})
            took = time.monotonic() - started
            assert status == 503 and "store.query_timeout" in body["error"], body
            assert headers.get("retry-after") and took < 4, (headers, took)
            assert count() == EVENTS  # the connection works after it

        def read_token_needed():
            status, _, _ = server.request("POST", "/v1/sql", {"sql": "SELECT 1"})
            assert status == 401
            status, _, _ = server.request("POST", "/v1/sql", {"sql": "SELECT 1"},
                                          {"Authorization": "Bearer wrong-token-123"})
            assert status in (401, 403)
            status, headers, _ = server.request("GET", "/v1/sql", None, AUTH)
            assert status == 405 and headers["allow"] == "POST", headers

        checks.run("JSON: columns, rows and whether they were cut", json_answer)
        checks.run("numbers, text and NULL keep their types", typed_values)
        checks.run("the statement as the body, ?max_rows, a trailing ; and comment",
                   the_statement_as_body)
        checks.run("CSV with the column names, quoting per RFC 4180, truncation header",
                   csv_answer)
        checks.run("the row cap and max_rows limits", row_cap)
        checks.run("writes, DDL, a second statement and file or role tricks refused; events "
                   "intact", writes_refused)
        checks.run("hostile bodies answered 400 naming the problem", hostile_bodies)
        checks.run("a statement past store.query_timeout is stopped: 503", timeout)
        checks.run("read tokens guard it; POST only", read_token_needed)

        def superuser_refused():
            other = Server(binary, config_text=CONFIG.replace(
                "store: {query_timeout: 1s}", "store: {url: '%s'}" % store.postgres.url)).start()
            try:
                status, _, body = other.request("POST", "/v1/sql", {"sql": "SELECT 1"}, AUTH)
                assert status == 403 and "superuser" in body["error"], (status, body)
            finally:
                other.cleanup()

        if store.postgres:
            checks.run("a store connected as a PostgreSQL superuser runs no one's SQL: 403",
                       superuser_refused)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-20:]))
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
