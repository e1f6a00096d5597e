"""GET /v1/streams, /v1/dead-letters and /v1/alerts against the real binary: counts that match
what was posted, filters, pagination, and parameter errors; GET /v1/events `where` on values of
every JSON type, compared with what the API documents, and values with SQL in them. Run with
each store: both must answer the same.

usage: read_endpoints_test.py SLUICE_BINARY [sqlite|postgres]   (the store; default sqlite)
"""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, wait_for  # noqa: E402

CONFIG = """
streams:
  readings:
    key_field: sensor
    time_field: at
    dead_letter: dead_letters
    schema:
      type: object
      required: [sensor, value]
      properties: {value: {type: number}}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
  alerts: {id_field: "", time_field: "", type_field: rule}
  typed: {time_field: ""}
alerts:
  hot: {from: [readings], when: "value > 90", severity: critical, message: "{sensor} at {value}"}
"""

VALUES = [12, 95, 40, 99, 91, 7, 100, 55]  # four of them over 90
BAD = [{"sensor": "s-x", "value": "high"}, {"value": 3}, {"sensor": "s-y"}]  # invalid

MISSING = object()
# A field `v` (and `n.x`, the same nested) of every JSON type.
TYPED = [1, 2, 90, 90.5, 91, -3, 0, "90", "abc", "ABC", "b", "\u00e9", "Z", "", True, False,
         None, {"a": 1}, [1, 2], "x' OR '1'='1", MISSING]
SQL_VALUES = ["x' OR '1'='1", "\"; DROP TABLE events; --", "a') OR ('1'='1", "1 OR 1=1",
              "%' OR 1=1 --", "\\", "$1", "?1", "null'"]


def where_value(text):
    """The value of where=field:op:<text> as the API reads it: an integer, a number, true and
    false as 1 and 0, null, else text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": 1, "false": 0, "null": None}.get(text, text)


def where_matches(v, op, text):
    """Whether a field holding `v` matches where=field:<op>:<text>, as docs/http-api.md says:
    eq/ne compare like with like (booleans as 1/0, null and missing alike); ordering compares
    numbers with numbers and text with text, byte by byte."""
    value = where_value(text)
    if value is None:
        null = v is MISSING or v is None
        return null if op == "eq" else not null
    if isinstance(value, str):
        mine = v if isinstance(v, str) else None
    elif isinstance(v, bool):
        mine = int(v) if op in ("eq", "ne") else None
    else:
        mine = v if isinstance(v, (int, float)) else None
    if op == "eq":
        return mine == value
    if op == "ne":
        return mine != value
    if mine is None:
        return False
    return {"gt": mine > value, "gte": mine >= value, "lt": mine < value,
            "lte": mine <= value}[op]


def get(server, path, status=200):
    got, _, body = server.request("GET", path)
    assert got == status, (path, got, body)
    return body


def page_all(server, path, limit):
    """Every item of a paged read endpoint, following next_cursor."""
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = path + sep + "limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
        body = get(server, url)
        items += body["events"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def main():
    binary = sys.argv[1]
    store = Store(*sys.argv[2:3])
    checks = Checks()
    server = Server(binary, config_text=CONFIG + store.config()).start()
    try:
        events = [{"id": "r%d" % i, "sensor": "s-%d" % (i % 3), "value": v,
                   "at": "2026-12-01T10:00:%02dZ" % i} for i, v in enumerate(VALUES)]
        status, _, reply = server.request("POST", "/v1/streams/readings/events", events + BAD)
        assert status == 202 and reply["accepted"] == len(VALUES), reply
        malformed = "\n".join(['{"sensor":"s-1","value":1', '{"id":"r99","sensor":"s-1",'
                               '"value":1,"at":"2026-12-01T10:01:00Z"}'])
        status, _, reply = server.request("POST", "/v1/streams/readings/events", malformed,
                                          {"Content-Type": "application/x-ndjson"})
        assert status == 202 and reply["accepted"] == 1, reply
        accepted = len(VALUES) + 1

        def stored():
            body = get(server, "/v1/streams?stream=readings")["streams"][0]
            return body["stored"] == accepted and body["newest_event"] is not None
        wait_for(stored, 60, "the store to take every event")

        def streams_counts():
            body = get(server, "/v1/streams")
            names = [s["name"] for s in body["streams"]]
            assert names == ["alerts", "contact", "dead_letters", "events", "readings", "typed",
                             "web"], names  # the defaults stay beside the declared ones
            s = get(server, "/v1/streams?stream=readings")["streams"][0]
            assert s["partitions"] == 1 and s["dead_letter"] == "dead_letters", s
            assert s["in_log"] == accepted and s["stored"] == accepted, s
            since = s["since_start"]
            assert since["received"] == accepted + len(BAD) + 1, since
            assert since["accepted"] == accepted, since
            assert since["rejected"] == {"malformed": 1, "invalid": len(BAD)}, since
            assert since["requests"] == {"202": 2}, since
            assert since["bytes"] == len(json.dumps(events + BAD)) + len(malformed), since
            assert s["newest_event"]["id"] == "r99", s  # the latest event time, not the last id
            assert s["newest_event"]["ts"] == "2026-12-01T10:01:00.000Z", s

        def streams_rate():
            def positive():
                s = get(server, "/v1/streams?stream=readings")["streams"][0]
                return s["accepted_per_second"] > 0
            wait_for(positive, 30, "a rate over the last minute")

        def streams_errors():
            assert "unknown stream" in get(server, "/v1/streams?stream=nope", 404)["error"]
            assert "valid parameters: stream" in get(server, "/v1/streams?limit=3", 400)["error"]

        def dead_letters():
            wait_for(lambda: len(get(server, "/v1/dead-letters")["events"]) == len(BAD) + 1, 60,
                     "the dead letters")
            items = page_all(server, "/v1/dead-letters?source=readings", 1)
            assert len(items) == len(BAD) + 1, items
            assert len({e["id"] for e in items}) == len(items), "a dead letter paged twice"
            raw = [e for e in items if "raw" in e["payload"]]
            assert len(raw) == 1 and raw[0]["payload"]["raw"].startswith('{"sensor"'), raw
            kept = sorted(json.dumps(e["payload"]["event"], sort_keys=True)
                          for e in items if "event" in e["payload"])
            assert kept == sorted(json.dumps(b, sort_keys=True) for b in BAD), kept
            assert get(server, "/v1/dead-letters?source=other")["events"] == []
            only = get(server, "/v1/dead-letters?stream=dead_letters&where=index:eq:9")
            assert [e["payload"]["index"] for e in only["events"]] == [9], only
            error = get(server, "/v1/dead-letters?stream=readings", 400)["error"]
            assert "is not one of dead_letters" in error, error

        def alerts():
            hot = sorted("r%d" % i for i, v in enumerate(VALUES) if v > 90)
            def raised():
                return len(get(server, "/v1/alerts")["events"]) == len(hot)
            wait_for(raised, 60, "the alerts")
            items = page_all(server, "/v1/alerts?rule=hot&severity=critical", 3)
            ids = sorted(e["payload"]["event_ids"][0] for e in items)
            assert ids == hot, ids
            assert all(e["payload"]["message"].startswith("s-") for e in items), items
            assert get(server, "/v1/alerts?severity=low")["events"] == []
            assert get(server, "/v1/alerts?rule=cold")["events"] == []
            oldest = get(server, "/v1/alerts?limit=1&order=asc&fields=rule")["events"][0]
            assert oldest["payload"] == {"rule": "hot"}, oldest

        def typed_where():
            posted = []
            for i, v in enumerate(TYPED):
                event = {"id": "t%02d" % i}
                if v is not MISSING:
                    event["v"], event["n"] = v, {"x": v}
                posted.append(event)
            status, _, reply = server.request("POST", "/v1/streams/typed/events", posted)
            assert status == 202 and reply["accepted"] == len(TYPED), reply
            wait_for(lambda: len(get(server, "/v1/events?stream=typed")["events"]) == len(TYPED),
                     60, "the typed events stored")
            values = ["90", "90.5", "1", "0", "-3", "true", "false", "abc", "b", "Z", "",
                      "\u00e9", "90x"]
            tried = 0
            for field in ("v", "n.x"):
                for op in ("eq", "ne", "gt", "gte", "lt", "lte"):
                    for text in values + (["null"] if op in ("eq", "ne") else []):
                        where = urllib.parse.quote("%s:%s:%s" % (field, op, text))
                        ids = sorted(e["id"] for e in
                                     page_all(server, "/v1/events?stream=typed&where=" + where,
                                              1000))
                        want = sorted("t%02d" % i for i, v in enumerate(TYPED)
                                      if where_matches(v, op, text))
                        assert ids == want, (field, op, text, ids, want)
                        tried += 1
            assert tried > 150, tried

        def sql_in_values():
            total = len(page_all(server, "/v1/events", 1000))
            for value in SQL_VALUES:
                q = urllib.parse.quote(value)
                for param in ("stream", "type", "key"):
                    assert get(server, "/v1/events?%s=%s" % (param, q))["events"] == [], param
                for op in ("eq", "gt", "lte"):
                    body = get(server, "/v1/events?where=v:%s:%s" % (op, q))
                    want = [i for i, v in enumerate(TYPED) if where_matches(v, op, value)]
                    assert len(body["events"]) == len(want), (op, value, body)
                status, _, _ = server.request("GET", "/v1/events/" + q)
                assert status == 404, (value, status)
                for bad in ("where=%s:eq:1" % q, "fields=" + q, "order=" + q, "limit=" + q,
                            "cursor=" + q):
                    error = get(server, "/v1/events?" + bad, 400)["error"]
                    assert "parameter" in error, (bad, error)
            error = get(server, "/v1/events?where=v:eq:a%00b", 400)["error"]
            assert "NUL" in error, error
            assert len(page_all(server, "/v1/events", 1000)) == total

        checks.run("streams: counts since start, log and store, newest event", streams_counts)
        checks.run("streams: accepted per second over the last minute", streams_rate)
        checks.run("streams: unknown stream 404, unknown parameter 400", streams_errors)
        checks.run("dead letters: each rejected event once, by source, paged, filtered",
                   dead_letters)
        checks.run("alerts: one per matching event, by rule and severity, paged", alerts)
        checks.run("events: where on values of every JSON type", typed_where)
        checks.run("events: values with SQL in them are only values", sql_in_values)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-30:]))
        server.cleanup()
        store.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
