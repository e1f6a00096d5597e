"""GET /v1/stats against the real binary, checked against counts computed here from the events
posted: groupings by type and stats_fields, time buckets (spans and cycles), where, top, time
ranges, the lag spread; repeated ids counted once; a restart with other stats_fields recounts
the stored events; parameter errors.

usage: stats_test.py SLUICE_BINARY [sqlite|postgres]   (the store; default sqlite)
"""

import calendar
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, Store, wait_for  # noqa: E402

CONFIG = """
streams:
  events:
    partitions: 3
    key_field: city
    type_field: event_type
    time_field: timestamp
    stats_fields: [%s]
"""

CITIES = ["NYC", "LA", "Paris", "Tokyo", "Oslo"]
SEVERITIES = ["low", "high", "critical"]
TYPES = ["fire", "traffic", "flood"]
BASE = calendar.timegm((2025, 10, 13, 0, 0, 0)) * 1000  # a Monday


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def make_events(n, seed=7):
    rng = random.Random(seed)
    events = []
    for i in range(n):
        ms = BASE + rng.randrange(0, 3 * 86400 * 1000)  # three days
        event = {"id": "e%d" % i, "city": rng.choice(CITIES), "event_type": rng.choice(TYPES),
                 "timestamp": iso(ms)}
        if i % 10:  # some without a severity
            event["severity"] = rng.choice(SEVERITIES)
        events.append((ms, event))
    return events


def stats(server, **params):
    status, _, body = server.request("GET", "/v1/stats?" + urllib.parse.urlencode(params))
    assert status == 200, (params, status, body)
    return body


def expected(events, keys, bucket=None, where=None, start=None, end=None):
    counts = collections.Counter()
    for ms, e in events:
        if start is not None and ms < start or end is not None and ms >= end:
            continue
        if where and any(e.get(f) != v for f, v in where.items()):
            continue
        minute = ms // 60000
        b = None
        if bucket == "hour":
            b = iso(minute // 60 * 60 * 60000)
        elif bucket == "day":
            b = iso(minute // 1440 * 1440 * 60000)
        elif bucket == "hour_of_day":
            b = minute // 60 % 24
        elif bucket == "day_of_week":
            b = (minute // 1440 + 4) % 7
        counts[(b,) + tuple(e.get("event_type" if k == "type" else k) for k in keys)] += 1
    return counts


def got(body, keys):
    return collections.Counter({(g.get("bucket"),) + tuple(g[k] for k in keys): g["count"]
                                for g in body["groups"]})


def start(binary, data_dir, fields, store):
    return Server(binary, data_dir=data_dir,
                  config_text=CONFIG % ", ".join(fields) + store.config()).start()


def main():
    binary = sys.argv[1]
    store = Store(*sys.argv[2:3])
    checks = Checks()
    data_dir = tempfile.mkdtemp(prefix="sluice-stats-")
    events = make_events(3000)
    server = start(binary, data_dir, ["city", "severity"], store)
    try:
        body = "\n".join(json.dumps(e) for _, e in events)
        for _ in range(2):  # the second time every id repeats: stored and counted once
            status, _, reply = server.request("POST", "/v1/streams/events/events", body,
                                              {"Content-Type": "application/x-ndjson"})
            assert status == 202 and reply["accepted"] == len(events), reply
        wait_for(lambda: server.request("GET", "/v1/streams?stream=events")[2]["streams"][0]
                 ["stored"] == 2 * len(events), 60, "the store to take every event")

        def by_fields():
            for keys in (["city"], ["city", "severity"], ["type", "city", "severity"], ["type"]):
                body = stats(server, stream="events", group_by=",".join(keys))
                assert body["total"] == len(events), body["total"]
                assert got(body, keys) == expected(events, keys), keys
                counts = [g["count"] for g in body["groups"]]
                assert counts == sorted(counts, reverse=True), "groups not by count"

        def missing_is_null():
            body = stats(server, stream="events", group_by="severity")
            nulls = [g for g in body["groups"] if g["severity"] is None]
            assert nulls and nulls[0]["count"] == sum(1 for _, e in events
                                                     if "severity" not in e), nulls

        def buckets():
            for bucket in ("hour", "day", "hour_of_day", "day_of_week"):
                body = stats(server, stream="events", group_by="city", bucket=bucket)
                assert got(body, ["city"]) == expected(events, ["city"], bucket), bucket
                order = [g["bucket"] for g in body["groups"]]
                assert order == sorted(order), "buckets not in order"
            assert len(stats(server, stream="events", bucket="day")["groups"]) == 3

        def where_top_range():
            body = stats(server, stream="events", group_by="city", top=2,
                         where="severity:eq:critical")
            want = expected(events, ["city"], where={"severity": "critical"})
            assert [g["count"] for g in body["groups"]] == sorted(want.values(),
                                                                  reverse=True)[:2], body
            assert body["total"] == sum(want.values()), body["total"]
            lo, hi = BASE + 86400 * 1000, BASE + 2 * 86400 * 1000  # the second day, whole minutes
            body = stats(server, stream="events", group_by="type", bucket="hour",
                         **{"from": iso(lo), "to": iso(hi)})
            assert got(body, ["type"]) == expected(events, ["type"], "hour", start=lo, end=hi)
            # Bounds inside hours: whole hours from the hourly rollups, the ends from the minutes.
            lo, hi = BASE + (24 * 60 + 617) * 60000, BASE + (48 * 60 + 223) * 60000
            for bucket in ("hour", "day", "15m"):
                body = stats(server, stream="events", group_by="severity", bucket=bucket,
                             where="type:ne:flood", **{"from": iso(lo), "to": iso(hi)})
                want = collections.Counter({k: v for k, v in expected(
                    [(ms, e) for ms, e in events if e["event_type"] != "flood"], ["severity"],
                    bucket if bucket != "15m" else None, start=lo, end=hi).items()})
                if bucket == "15m":
                    assert sum(g["count"] for g in body["groups"]) == sum(want.values()), bucket
                else:
                    assert got(body, ["severity"]) == want, bucket
                assert body["total"] == sum(want.values()), (bucket, body["total"])
            body = stats(server, stream="events", where="city:ne:NYC")
            assert body["total"] == sum(1 for _, e in events if e["city"] != "NYC"), body

        def lag_spread():
            body = stats(server, stream="events", metric="lag", bucket="day")
            assert len(body["groups"]) == 3 and sum(g["count"] for g in body["groups"]) == \
                len(events), body
            # Events were posted today about their times of 2025: the lag is the age of each.
            now = time.time() * 1000
            for g in body["groups"]:
                day_start = calendar.timegm(time.strptime(g["bucket"][:10], "%Y-%m-%d")) * 1000
                lags = g["lag_ms"]
                assert lags["p50"] <= lags["p95"] <= lags["p99"], lags
                oldest, newest = now - day_start, now - day_start - 86400 * 1000
                assert 0.8 * newest <= lags["p50"] <= 1.2 * oldest, (lags, oldest, newest)

        def errors():
            for params, status, text in [
                    ({}, 400, "parameter \\\"stream\\\" is required"),
                    ({"stream": "nope"}, 404, "unknown stream"),
                    ({"stream": "events", "group_by": "ip"}, 400, "no statistics by \\\"ip\\\""),
                    ({"stream": "events", "group_by": "city,city"}, 400, "given twice"),
                    ({"stream": "events", "bucket": "week"}, 400, "not a bucket"),
                    ({"stream": "events", "where": "city:gt:A"}, 400, "field:eq:value"),
                    ({"stream": "events", "metric": "lag", "group_by": "city"}, 400,
                     "metric=lag"),
                    ({"stream": "events", "top": "0"}, 400, "\\\"top\\\""),
                    ({"stream": "events", "limit": "3"}, 400, "unknown parameter")]:
                code, _, body = server.request("GET", "/v1/stats?" +
                                               urllib.parse.urlencode(params))
                assert code == status and text in json.dumps(body), (params, code,
                                                                     json.dumps(body)[:300])

        def injection():
            # Values are bound: quotes and SQL in them match nothing and break nothing.
            for value in ["x' OR '1'='1", "\"; DROP TABLE events; --", "NYC\") OR (1=1"]:
                body = stats(server, stream="events", where="city:eq:" + value)
                assert body["total"] == 0, (value, body)
            assert stats(server, stream="events")["total"] == len(events)

        checks.run("counts by fields match the events, each id once", by_fields)
        checks.run("a missing field groups as null", missing_is_null)
        checks.run("time buckets: hour, day, hour of day, day of week", buckets)
        checks.run("where, top and a time range", where_top_range)
        checks.run("lag percentiles per day", lag_spread)
        checks.run("parameter errors", errors)
        checks.run("values with SQL in them are only values", injection)
        server.stop()
        server.cleanup()  # its configuration file; the data directory stays

        def recount():
            nonlocal server
            server = start(binary, data_dir, ["event_type", "city"], store)  # other fields
            # The recount happens at start, before the store takes an event; until it is done
            # the statistics answer 503, never counts by the old fields.
            answers = set()

            def recounted():
                status, headers, body = server.request(
                    "GET", "/v1/stats?stream=events&group_by=event_type,city")
                answers.add(status)
                assert status in (200, 503), (status, body)
                assert status == 200 or headers.get("retry-after") == "1", headers
                return status == 200
            wait_for(recounted, 60, "the recount")
            body = stats(server, stream="events", group_by="event_type,city")
            assert got(body, ["event_type", "city"]) == expected(events, ["event_type", "city"]), \
                "recounted before any new event arrived"
            status, _, _ = server.request("POST", "/v1/streams/events/events",
                                          {"id": "late", "city": "Oslo", "event_type": "fire",
                                           "timestamp": iso(BASE)})
            assert status == 202
            more = events + [(BASE, {"id": "late", "city": "Oslo", "event_type": "fire"})]

            def counted():
                body = stats(server, stream="events", group_by="event_type,city")
                return body["total"] == len(more)
            wait_for(counted, 60, "the recount")
            body = stats(server, stream="events", group_by="event_type,city")
            assert got(body, ["event_type", "city"]) == expected(more, ["event_type", "city"])
            error = server.request("GET", "/v1/stats?stream=events&group_by=severity")[2]
            assert "counts by type, event_type, city" in error["error"], error
        checks.run("other stats_fields after a restart: the stored events are recounted",
                   recount)
    finally:
        if checks.failed:
            sys.stderr.write("".join(server.stderr_lines[-30:]))
        server.cleanup()
        store.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    main()
