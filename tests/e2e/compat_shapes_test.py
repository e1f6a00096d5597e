"""The reference systems' own shapes, so their clients work unchanged:
- `routes.<name>.protocol: events-api`: GET /events with the tracking API's parameters
  (event_type, location_type, component_name, page_path, limit) answers a JSON array of the
  events, newest first, as that API did; other parameters and bad values are 400, not a crash;
- `routes.<name>.status: 200`: POST /publish answers 200 for clients that check for it (a
  refused body is still 400);
- `streams.<name>.form.path`: a form posts to its old path, as JSON or as a plain HTML form.

usage: compat_shapes_test.py SLUICE_BINARY
"""

import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

CONFIG = """
streams:
  student_form:
    form: {enabled: true, path: /student-data-form/}
    schema: {type: object, required: [name, age], properties: {age: {type: integer}}}
routes:
  publish: {path: /publish, stream: events, status: 200}
  events_api: {protocol: events-api, path: /events, stream: web}
"""


def main():
    binary = sys.argv[1]
    checks = Checks()
    server = Server(binary, config_text=CONFIG)
    server.start()

    def tracking_events_api():
        now = int(time.time() * 1000)
        batch = {"events": [{"timestamp": now + i, "event_id": "e-%d" % i,
                             "event_type": "CLICK" if i % 2 else "PAGE_VIEW",
                             "location_type": "COMPONENT", "component_name": "Buy%d" % (i % 3),
                             "page_path": "/shop" if i < 6 else "/cart",
                             "user_metadata": {"userId": 7, "sessionId": "s"}}
                            for i in range(10)],
                 "appName": "shop-web", "appVersion": "2.1.0"}
        status, _, body = server.request("POST", "/collect", batch)
        assert status == 202 and body["accepted"] == 10, (status, body)

        def get(query):
            return server.request("GET", "/events?" + query)
        wait_for(lambda: len(get("limit=100")[2]) == 10, 30, "10 events stored")
        status, headers, body = get("event_type=CLICK&page_path=%2Fshop")
        assert status == 200 and headers["content-type"].startswith("application/json"), status
        assert [e["event_id"] for e in body] == ["e-5", "e-3", "e-1"], body  # newest first
        assert body[0]["appName"] == "shop-web" and body[0]["user_metadata"]["userId"] == 7
        status, _, body = get("component_name=Buy0&location_type=COMPONENT&limit=2")
        assert [e["event_id"] for e in body] == ["e-9", "e-6"], body
        status, _, body = get("event_type=NOPE")
        assert status == 200 and body == [], body
        status, _, body = get("user=7")
        assert status == 400 and "unknown parameter \"user\"" in body["error"], body
        # Hostile queries: answered with the documented status, the process stays up.
        for bad, expected in (("limit=abc", 400), ("limit=100000", 400), ("limit=-1", 400),
                              ("event_type=" + "x" * 100000, 431), ("page_path=%00", 400),
                              ("event_type=%ff%fe", 200), ("event_type=" + "y" * 8000, 200)):
            status, _, body = get(bad)
            assert status == expected, (bad[:40], status, str(body)[:200])
        assert server.request("GET", "/healthz")[0] == 200

    def publish_answers_200():
        status, _, body = server.request("POST", "/publish", {"type": "TEMP", "value": "ALERT:90"})
        assert status == 200 and body["accepted"] == 1, (status, body)
        status, _, body = server.request("POST", "/publish", "not json")
        assert status == 400, (status, body)
        # The stream's own endpoint keeps its 202.
        status, _, _ = server.request("POST", "/v1/streams/events/events", {"type": "TEMP"})
        assert status == 202, status

    def form_at_its_old_path():
        status, _, body = server.request("POST", "/student-data-form/", {"name": "Ana", "age": 21})
        assert status == 202 and body["accepted"] == 1, (status, body)
        form = urllib.parse.urlencode({"name": "  Bo  ", "age": "19"})
        status, _, body = server.request(
            "POST", "/student-data-form/", form,
            {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 202 and body["accepted"] == 1, (status, body)
        status, _, body = server.request("POST", "/student-data-form/", {"name": "Cy"})
        assert status == 400 and "age" in json.dumps(body), (status, body)

    try:
        checks.run("GET /events in the tracking API's shape", tracking_events_api)
        checks.run("POST /publish answers 200", publish_answers_200)
        checks.run("a form at its old path", form_at_its_old_path)
    finally:
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
