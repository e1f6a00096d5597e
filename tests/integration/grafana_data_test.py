"""deploy/grafana/sluice-data.json against a real store: every panel's SQL and every template
variable's query, with Grafana's macros expanded as Grafana does, runs on a PostgreSQL store
that `sluice run` filled (events, window results, alerts, dead letters) and answers what was
posted. The dashboard's data source is the one deploy/compose provisions.

usage: grafana_data_test.py SLUICE_BINARY SOURCE_DIR
"""

import json
import os
import re
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Postgres, Server, wait_for  # noqa: E402

CONFIG = """
store: {{url: '{url}'}}
storage: {{windows: '{url}'}}
streams:
  events: {{key_field: city, type_field: event_type, dead_letter: dead_letters,
            schema: {{type: object, required: [city]}}}}
windows:
  per_city:
    from: [events]
    key: [city]
    tumbling: 1m
    close_after_idle: 1s
    aggregates:
      events: count
alerts:
  critical:
    from: [events]
    when: 'severity == "critical"'
    severity: critical
    message: 'critical {{event_type}} in {{city}}'
"""


def expand(sql, now_s):
    """Grafana's PostgreSQL macros and this dashboard's variables, as Grafana expands them."""
    sql = re.sub(r"\$__unixEpochGroupAlias\(([^,]+), '(\d+)m'\)",
                 lambda m: 'floor((%s)/%d)*%d AS "time"' % (m.group(1), int(m.group(2)) * 60,
                                                             int(m.group(2)) * 60), sql)
    sql = sql.replace("$__unixEpochFrom()", str(now_s - 86400))
    sql = sql.replace("$__unixEpochTo()", str(now_s + 3600))
    sql = sql.replace("$stream", "events").replace("$window", "per_city")
    assert "$" not in sql.replace("$$", ""), "a macro or variable left: " + sql
    return sql


def main():
    binary, source = sys.argv[1], sys.argv[2]
    dashboard = json.load(open(os.path.join(source, "deploy", "grafana", "sluice-data.json")))
    provisioned = yaml.safe_load(open(os.path.join(source, "deploy", "compose", "grafana",
                                                   "datasources.yaml")))
    checks = Checks()
    postgres = Postgres().start()
    server = Server(binary, config_text=CONFIG.format(url=postgres.url)).start()
    now_ms = int(time.time() * 1000)
    start = now_ms - 30 * 60_000 - now_ms % 60_000  # a minute's start, half an hour ago
    events = []
    for i in range(60):
        events.append({"id": "e%d" % i, "city": ["NYC", "BOS", "SFO"][i % 3],
                       "event_type": ["traffic", "weather"][i % 2],
                       "severity": "critical" if i % 10 == 0 else "low",
                       "timestamp": start + i * 2_000})  # two minutes of events
    events.append({"id": "bad", "event_type": "traffic"})  # no city: a dead letter
    try:
        status, _, body = server.request("POST", "/v1/streams/events/events", events)
        assert status == 202 and body["accepted"] == 60, body

        def filled():
            try:
                rows = postgres.query("SELECT count(*) FROM sluice.events")
                results = postgres.query("SELECT count(*) FROM sluice_window_results WHERE final")
            except subprocess.CalledProcessError:  # the tables are not there yet
                return False
            return int(rows[0][0]) >= 60 + 6 + 1 and int(results[0][0]) == 6
        wait_for(filled, 60, "events, alerts, a dead letter and 6 final window results stored")
        now_s = now_ms // 1000
        sql = {p["title"]: expand(p["targets"][0]["rawSql"], now_s) for p in dashboard["panels"]}

        def data_source_is_provisioned():
            uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
            used = {json.dumps(p["datasource"], sort_keys=True) for p in dashboard["panels"]}
            used |= {json.dumps(v["datasource"], sort_keys=True)
                     for v in dashboard["templating"]["list"]}
            for d in map(json.loads, used):
                assert uids.get(d["uid"]) == d["type"], (d, uids)

        def variables():
            for variable in dashboard["templating"]["list"]:
                values = {row[0] for row in postgres.query(variable["query"])}
                want = {"stream": {"events", "alerts", "dead_letters"},
                        "window": {"per_city"}}[variable["name"]]
                assert want <= values, (variable["name"], values)

        def by_stream():
            rows = postgres.query(sql["Events per minute, by stream"])
            totals = {}
            for _, stream, count in rows:
                totals[stream] = totals.get(stream, 0) + int(count)
            assert totals.get("events") == 60 and totals.get("alerts") == 6, totals

        def by_type():
            rows = postgres.query(sql["Events per minute in $stream, by type"])
            totals = {}
            for _, kind, count in rows:
                totals[kind] = totals.get(kind, 0) + int(count)
            assert totals == {"traffic": 30, "weather": 30}, totals
            top = postgres.query(sql["Top event types"])
            assert ["events", "traffic", "30"] in top and ["events", "weather", "30"] in top, top

        def windows():
            rows = postgres.query(sql["Window $window: events per window, by key (final results)"])
            assert sorted((int(t) * 1000 - start, k, int(n)) for t, k, n in rows) == sorted(
                (m * 60_000, '["%s"]' % c, 10) for m in (0, 1) for c in ("NYC", "BOS", "SFO")), rows
            states = postgres.query(sql["Window $window: open and final results"])
            assert states == [["final", "6"]], states

        def alerts():
            rows = postgres.query(sql["Alerts per 5 minutes, by rule and severity"])
            assert sum(int(r[2]) for r in rows) == 6 and {r[1] for r in rows} == {
                "critical (critical)"}, rows
            latest = postgres.query(sql["Latest alerts"])
            assert len(latest) == 6 and all(r[1:3] == ["critical", "critical"] for r in latest), \
                latest

        def dead_letters():
            rows = postgres.query(sql["Dead letters by stream and reason"])
            assert len(rows) == 1 and rows[0][0] == "events" and "city" in rows[0][1] and \
                rows[0][2] == "1", rows

        checks.run("every panel and variable uses the provisioned PostgreSQL data source",
                   data_source_is_provisioned)
        checks.run("the variables list the streams and window definitions", variables)
        checks.run("events per minute by stream add up to what was posted", by_stream)
        checks.run("events by type in a stream, and the top types", by_type)
        checks.run("final window results per key over time, open vs final", windows)
        checks.run("alerts by rule and severity, and the latest ones", alerts)
        checks.run("dead letters by stream and reason", dead_letters)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-20:]))
        server.cleanup()
        postgres.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
