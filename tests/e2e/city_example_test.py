"""docs/streaming.md's city example as written: `sluice run --config examples/city-events.yaml`
fed by `sluice generate --preset city`. Every generated event is counted once in the 5-minute
counts and six times in the 1-minute summaries that start every 10 s (early updates, as the
windows are still open), with the severities and event types that were sent; each high and
critical event raises one high-severity alert, which the rule's notify pipeline writes to files;
each city and minute with 3 or more critical events raises one alert; critical reports alert at
most once per city a minute and reach the process log.

usage: city_example_test.py SLUICE_BINARY
"""

import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, parse_ms, wait_for  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "city-events.yaml")


def main():
    binary = sys.argv[1]
    checks = Checks()
    server = Server(binary, config=EXAMPLE).start()
    state = {}

    def results(window, query=""):
        status, _, body = server.request("GET", "/v1/windows/%s?limit=1000%s" % (window, query))
        assert status == 200, body
        return body["results"]

    def generated():
        p = subprocess.run([binary, "generate", "--preset", "city", "--rate", "200", "--duration",
                            "2s", "--seed", "3", "--target", "http://127.0.0.1:%d" % server.port],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        state["sent"] = int(re.search(r"sent (\d+) events", p.stdout).group(1))
        wait_for(lambda: len(all_events(server, "stream=events")) == state["sent"], 30,
                 "every generated event stored")
        state["events"] = [e["payload"] for e in all_events(server, "stream=events")]

    def counts_per_city_and_type():
        wait_for(lambda: sum(r["events"] for r in results("city_type_counts")) == state["sent"],
                 30, "every event in the 5-minute counts")
        for r in results("city_type_counts"):
            assert not r["final"], r  # open for minutes yet: early updates
            sent = [e for e in state["events"]
                    if e["city"] == r["key"]["city"] and e["event_type"] == r["key"]["event_type"]
                    and r["start"] <= e["timestamp"] < r["end"]]  # same ISO-8601 form, UTC
            assert len(sent) == r["events"], (r, len(sent))
            assert sorted({e["severity"] for e in sent}) == r["values"]["severities"], r
        nyc_fire = results("city_type_counts", "&key=NYC,fire")
        assert all(r["key"] == {"city": "NYC", "event_type": "fire"} for r in nyc_fire), nyc_fire

    def rolling_summaries():
        wait_for(lambda: sum(r["events"] for r in results("city_summary")) == 6 * state["sent"],
                 30, "every event in six 1-minute summaries")
        for r in results("city_summary"):
            types = {e["event_type"] for e in state["events"] if e["city"] == r["key"]["city"]}
            assert set(r["values"]["event_types"]) <= types, r

    def alerts(rule):
        return [e["payload"] for e in all_events(server, "stream=alerts")
                if e["payload"]["rule"] == rule]

    def high_severity_alerts_in_files():
        high = sorted(json.dumps(e, sort_keys=True) for e in state["events"]
                      if e["severity"] in ("high", "critical"))

        def lines():
            out = []
            for path in glob.glob(os.path.join(server.data_dir, "files", "high-severity", "*")):
                with open(path) as f:
                    out += [json.loads(line)["payload"] for line in f]
            return out
        wait_for(lambda: len(alerts("high_severity")) == len(high), 30,
                 "an alert per high-severity event")
        assert sorted(json.dumps(a["event"], sort_keys=True)
                      for a in alerts("high_severity")) == high
        a = alerts("high_severity")[0]
        assert a["message"] == "%s %s in %s: %s" % (a["event"]["severity"], a["event"][
            "event_type"], a["event"]["city"], a["event"]["description"]), a
        wait_for(lambda: len(lines()) == len(high), 30, "the notify pipeline's files")
        assert sorted(json.dumps(a["event"], sort_keys=True) for a in lines()) == high

    def critical_reports_with_cooldown():
        critical = [e for e in state["events"] if e["severity"] == "critical"]

        def rule():
            status, _, body = server.request("GET", "/v1/windows")
            assert status == 200, body
            return {r["name"]: r for r in body["rules"]}["critical_report"]
        wait_for(lambda: rule()["lag"] == 0 and rule()["pending_alerts"] == 0, 30,
                 "the rule read to the end")
        assert rule()["matched"] == len(critical), rule()
        wait_for(lambda: len(alerts("critical_report")) == rule()["alerts"], 30,
                 "every critical report alert stored")
        got = alerts("critical_report")
        for city in {e["city"] for e in critical}:
            times = sorted(parse_ms(a["event"]["timestamp"]) for a in got
                           if a["key"]["city"] == city)
            mine = [parse_ms(e["timestamp"]) for e in critical if e["city"] == city]
            assert times, "no alert for %s" % city
            # Each critical event alerted, or came within the cooldown of an alert.
            assert all(any(abs(t - a) < 60_000 for a in times) for t in mine), city
        assert sum(1 + a["suppressed"] for a in got) <= len(critical)
        assert len(got) < len(critical), "the cooldown should hold some back"

        def logged():
            return [line for line in server.stderr_lines
                    if "sink=log stream=alerts id=alert:critical_report:" in line]
        wait_for(lambda: len(logged()) >= len(got), 30, "each alert in the process log")
        assert "alert critical_report (critical): critical " in logged()[0], logged()[0]

    def alerts_once_per_city_and_minute():
        def busy():
            return {(r["key"]["city"], r["start"]): r["events"]
                    for r in results("critical_per_city")
                    if r["events"] >= 3}

        wait_for(lambda: sum(r["events"] for r in results("critical_per_city")) ==
                 len([e for e in state["events"] if e["severity"] == "critical"]), 30,
                 "every critical event counted")
        wait_for(lambda: len(alerts("busy_city")) == len(busy()), 30,
                 "an alert for each busy city-minute")
        seen = {(a["key"]["city"], a["start"]) for a in alerts("busy_city")}
        assert seen == set(busy()), (seen, busy())
        critical = {e["id"]: e["payload"] for e in all_events(server, "stream=events")
                    if e["payload"]["severity"] == "critical"}
        for a in alerts("busy_city"):
            assert len(a["event_ids"]) == min(a["events"], 20), a
            for event in (critical[i] for i in a["event_ids"]):
                assert event["city"] == a["key"]["city"], (a, event)
                assert a["start"] <= event["timestamp"] < a["end"], (a, event)
            assert a["rule"] == "busy_city" and a["severity"] == "high", a
            assert a["message"] == "%d critical incidents in %s within a minute" % (
                a["events"], a["key"]["city"]), a

    def windows_table():
        p = subprocess.run([binary, "windows", "--url", "http://127.0.0.1:%d" % server.port],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p
        # The windows, a blank line, then the per-event rules, each table under its header.
        windows, rules = p.stdout.split("\n\n")
        rows = {line.split()[0]: line.split() for line in windows.splitlines()[1:]}
        assert set(rows) == {"city_type_counts", "city_summary", "critical_per_city"}, rows
        assert rules.splitlines()[0].split()[:2] == ["RULE", "STATE"], rules
        assert {line.split()[0] for line in rules.splitlines()[1:]} == {
            "high_severity", "critical_report"}, rules
        assert rows["city_type_counts"][1] == "running", rows
        assert rows["city_type_counts"][3] == str(state["sent"]), rows  # READ

    try:
        checks.run("sluice generate --preset city feeds it", generated)
        checks.run("5-minute counts per city and event type with their severities",
                   counts_per_city_and_type)
        checks.run("1-minute rolling city summaries every 10 s", rolling_summaries)
        checks.run("a high-severity alert per high or critical event, also in files",
                   high_severity_alerts_in_files)
        checks.run("critical reports alert once per city a minute, in the log",
                   critical_reports_with_cooldown)
        checks.run("an alert once per busy city and minute", alerts_once_per_city_and_minute)
        checks.run("sluice windows prints the table", windows_table)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-30:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
