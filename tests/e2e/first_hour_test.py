"""The first hour of a new user, scripted: a fresh data directory and a configuration that
declares one stream with a schema, a window with p95 that closes when the stream goes quiet, and
two rules; `sluice generate` into the stream, a few bad readings, then quiet. The window's final
results and the alert arrive without another event, the dead letters say what was wrong with
each bad reading, the defaults still work beside the declared stream, the CLI shows windows,
rules, alerts and a live tail, numbers read the same everywhere, a changed stats_fields is in
effect at once after a restart, and `sluice validate` on a file with three mistakes prints three
errors with their lines and suggestions.

usage: first_hour_test.py SLUICE_BINARY
"""

import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

QUIET = 3  # seconds of quiet after which the windows close (close_after_idle)

CONFIG = """
streams:
  iot:
    key_field: device
    dead_letter: dead_letters%(stats)s
    schema:
      type: object
      required: [device, value]
      properties:
        device: {type: string, pattern: "^sensor-[0-9]+$"}
        value: {type: number}

windows:
  temperature:
    from: [iot]
    key: [device]
    tumbling: 10s
    close_after_idle: %(quiet)ds
    checkpoint_every: 100ms
    aggregates:
      readings: count
      p95: p95(value)

alerts:
  hot:
    window: temperature
    when: 'p95 > 90'
    message: '{device}: p95 {p95:.1f} over {readings} readings'
  boiling_readings_from_any_of_the_sensors:
    from: [iot]
    when: 'value > 118'
    key: [device]
    cooldown: 1h
    message: '{device} at {value}'
"""

MISTAKES = """streams:
  iot: {}
sinks:
  archive: {file: {dir: out}}
pipelines:
  hot:
    from: [iot]
    to: [archiv]
windows:
  temperature:
    from: [iot]
    tumbling: 60
    aggregates: {p95: p95(value)}
alerts:
  hot: {window: temperature, when: 'p95x > 90'}
"""


def run(binary, *args, env=None, timeout=60):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr


def config_file(stats=""):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(CONFIG % {"quiet": QUIET, "stats": stats})
    f.close()
    return f.name


def main():
    binary = sys.argv[1]
    checks = Checks()
    data_dir = tempfile.mkdtemp(prefix="sluice-first-hour-")
    path = config_file()
    code, out, err = run(binary, "validate", path)
    assert code == 0, (out, err)
    # The defaults are there beside the declared stream; alerts is added for the rules.
    assert re.search(r"ok \(6 streams: contact, dead_letters, events, iot, web; added because "
                     r"settings write to them: alerts\)", out), out
    server = Server(binary, data_dir=data_dir, config=path).start()
    env = dict(os.environ, SLUICE_URL="http://127.0.0.1:%d" % server.port)
    readings = {}
    try:
        def generate_into_the_stream():
            code, out, err = run(binary, "generate", "--preset", "iot", "--stream", "iot",
                                 "--rate", "100", "--duration", "2s", "--seed", "3", env=env)
            assert code == 0 and "answers: 202" in out, (code, out, err)
            sent = int(re.search(r"sent (\d+) events", out).group(1))
            wait_for(lambda: len(all_events(server, "stream=iot")) == sent, 20, "the readings")
            for e in all_events(server, "stream=iot"):
                p = e["payload"]
                assert isinstance(p["value"], int) and isinstance(p["alert"], bool), p
                assert p["alert"] == (p["value"] > 90), p
                readings.setdefault(p["device"], []).append(p["value"])

        checks.run("sluice generate --stream sends numbers into the declared stream",
                   generate_into_the_stream)

        def bad_readings_and_a_hot_device():
            # The device: three readings of 95 in one window, then nothing.
            batch = "\n".join(json.dumps({"device": "sensor-999", "value": 95}) for _ in range(3))
            status, _, body = server.request("POST", "/v1/streams/iot/events", batch,
                                             {"Content-Type": "application/x-ndjson"})
            assert status == 202 and body["accepted"] == 3, (status, body)
            bad = "\n".join([json.dumps({"device": "sensor-1", "value": "hot"}),
                             json.dumps({"device": "oven", "value": "warm"}),
                             json.dumps({"value": 20})])
            status, _, body = server.request("POST", "/v1/streams/iot/events", bad,
                                             {"Content-Type": "application/x-ndjson"})
            assert status == 400, (status, body)
            reasons = [r["error"] for r in body["rejected"]]
            assert reasons[0] == 'field "value": expected number, got string "hot"', reasons
            assert ('field "device": does not match the pattern' in reasons[1]
                    and 'field "value": expected number, got string "warm"' in reasons[1]), reasons
            assert "device" in reasons[2], reasons
            wait_for(lambda: len(all_events(server, "stream=dead_letters")) == 3, 20,
                     "3 dead letters")
            stored = sorted(d["payload"]["error"] for d in all_events(server, "stream=dead_letters"))
            assert stored == sorted(reasons), (stored, reasons)

        checks.run("bad readings: every failure of each, with field, expected and got",
                   bad_readings_and_a_hot_device)

        def defaults_still_work():
            status, _, body = server.request("POST", "/publish", {"type": "deploy"})
            assert status == 202, (status, body)
            status, _, body = server.request("POST", "/collect", {"event_type": "page_view"})
            assert status == 202, (status, body)

        checks.run("declaring a stream keeps /publish and /collect", defaults_still_work)

        def quiet_closes_the_last_windows():
            started = time.monotonic()
            wait_for(lambda: final_results(server, "sensor-999"), QUIET + 30,
                     "sensor-999's final window with no later event")
            waited = time.monotonic() - started
            results = final_results(server, "sensor-999")
            assert len(results) == 1 and results[0]["events"] == 3, results
            assert results[0]["values"]["p95"] > 90, results
            # Every device's last window closed too.
            status, _, body = server.request("GET", "/v1/windows/temperature?final=true&limit=1000")
            assert status == 200, body
            closed = {r["key"]["device"] for r in body["results"]}
            assert set(readings) <= closed, (set(readings) - closed)
            status, _, body = server.request("GET", "/v1/windows")
            window = body["windows"][0]
            assert window["open_windows"] == 0, window
            print("  closed %.1f s after the last reading (close_after_idle %d s)"
                  % (waited, QUIET))

        checks.run("a quiet stream's last windows close, with their results",
                   quiet_closes_the_last_windows)

        def the_alert_and_its_numbers():
            wait_for(lambda: alerts_for(server, "hot", "sensor-999"), 20, "the hot alert")
            alert = alerts_for(server, "hot", "sensor-999")[0]
            result = final_results(server, "sensor-999")[0]
            # The same number reads the same in the result, the alert and the message.
            assert alert["values"]["p95"] == result["values"]["p95"], (alert, result)
            text = raw_get(server, "/v1/windows/temperature?key=sensor-999&final=true")
            number = re.search(r'"p95":([-0-9.eE+]+)', text).group(1)
            assert "E" not in number and "e" not in number, text
            assert number in json.dumps(alert["values"]), (number, alert)
            assert alert["message"] == "sensor-999: p95 %.1f over 3 readings" % float(number), alert

        checks.run("the window's alert: numbers written once, the same everywhere",
                   the_alert_and_its_numbers)

        def the_cli():
            code, out, err = run(binary, "windows", env=env)
            assert code == 0, (out, err)
            assert re.search(r"^temperature\s+running", out, re.M), out
            # Columns as wide as the longest name: the long rule name does not shift the rest.
            rules = out.split("\n\n")[1].splitlines()
            assert rules[0].startswith("RULE") and len(rules) == 2, out
            assert rules[1].startswith("boiling_readings_from_any_of_the_sensors  running"), out
            assert rules[0].index("STATE") == rules[1].index("running"), out
            assert rules[0].index("LAST ERROR") > rules[1].rindex(" 0"), out
            code, out, err = run(binary, "alerts", "--rule", "hot", env=env)
            assert code == 0 and "sensor-999: p95" in out, (out, err)
            # A live tail with a filter: one line per event as it arrives.
            tail = subprocess.Popen([binary, "tail", "iot", "--filter", "value > 100",
                                     "--payload"], env=env, stdout=subprocess.PIPE, text=True)
            try:
                wait_for(lambda: tail_open(server), 10, "the tail")
                server.request("POST", "/v1/streams/iot/events",
                               [{"device": "sensor-5", "value": 20},
                                {"device": "sensor-5", "value": 101}])
                ready, _, _ = select.select([tail.stdout], [], [], 20)
                assert ready, "no line from sluice tail"
                line = tail.stdout.readline()
                assert json.loads(line) == {"device": "sensor-5", "value": 101}, line
            finally:
                tail.kill()
                tail.wait()

        checks.run("sluice windows, alerts and tail find the server through SLUICE_URL",
                   the_cli)

        def metrics():
            status, _, text = server.request("GET", "/metrics")
            assert 'sluice_alerts_fired_total{window="temperature",rule="hot"}' in text, text
            assert 'rule=""' not in text, "every alert counted under its rule"
            assert re.search(r'^sluice_window_up\{window="temperature"\} 1$', text, re.M), text
            assert re.search(r'^sluice_build_info\{version="[^"]+"\} 1$', text, re.M), text

        checks.run("metrics: alerts by rule, window health, build info", metrics)

        def stats_fields_changed():
            status, _, body = server.request("GET", "/v1/stats?stream=iot&group_by=device")
            assert status == 400, (status, body)  # not a stats field yet
            assert server.stop() == 0
            server.config = config_file("\n    stats_fields: [device]")
            server.start()
            # Right after the start: 503 while recounting, then the counts by device.
            answers = []

            def counted():
                status, _, body = server.request("GET", "/v1/stats?stream=iot&group_by=device")
                answers.append(status)
                assert status in (200, 503), (status, body)
                return status == 200 and body

            wait_for(counted, 30, "the stats")
            _, _, body = server.request("GET", "/v1/stats?stream=iot&group_by=device")
            devices = {g["device"] for g in body["groups"]}
            assert None not in devices, body
            assert "sensor-999" in devices and set(readings) <= devices, body

        checks.run("a changed stats_fields counts at once after a restart", stats_fields_changed)
    finally:
        server.cleanup()
        os.unlink(path)

    def three_mistakes():
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(MISTAKES)
        f.close()
        code, out, err = run(binary, "validate", f.name)
        os.unlink(f.name)
        assert code == 3, (code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 3, err
        assert lines[0] == ('%s:8:10: pipelines.hot.to: no sink named "archiv" under sinks; did '
                            'you mean "archive"?' % f.name), lines
        assert lines[1].startswith('%s:12:15: windows.temperature.tumbling.size: "60" has no '
                                   'unit' % f.name), lines
        assert lines[2].startswith('%s:15:36: alerts.hot.when: "p95x" is not in the results of '
                                   'window "temperature"' % f.name), lines
        assert lines[2].endswith('did you mean "p95"?'), lines

    checks.run("sluice validate: three mistakes, three errors with lines and suggestions",
               three_mistakes)
    checks.finish()


def final_results(server, device):
    status, _, body = server.request(
        "GET", "/v1/windows/temperature?final=true&key=%s" % device)
    assert status == 200, body
    return body["results"]


def alerts_for(server, rule, device):
    status, _, body = server.request("GET", "/v1/alerts?rule=%s&limit=100" % rule)
    assert status == 200, body
    return [e["payload"] for e in body["events"] if e["payload"]["key"].get("device") == device]


def raw_get(server, path):
    conn = server.connection()
    conn.request("GET", path)
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def tail_open(server):
    status, _, text = server.request("GET", "/metrics")
    match = re.search(r"^sluice_tail_clients (\d+)", text, re.M)
    return match and int(match.group(1)) > 0


if __name__ == "__main__":
    main()
