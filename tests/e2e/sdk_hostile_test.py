"""The analytics SDKs' endpoints (routes with a protocol) under hostile input: the Snowplow
pixel's query, PostHog's unannounced gzip, Segment's Basic credentials, and the tokens and
hosts that the configuration answers echo. Each gets its documented status, the process stays
up and the good events around them are stored once.

usage: sdk_hostile_test.py SLUICE_BINARY
"""

import base64
import gzip
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CONFIG = """
server:
  max_body_bytes: 1MiB
streams:
  app: {write_keys: [wk-good]}
routes:
  segment_app: {protocol: segment, path: /keyed, stream: app}
"""


def main():
    checks = Checks()
    server = Server(sys.argv[1], config_text=CONFIG).start()
    good = []  # ids that must be stored once

    def post(path, body, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        return server.request("POST", path, body, dict({"Content-Type": "text/plain"},
                                                        **(headers or {})))

    def pixel(query):
        return server.request("GET", "/i?" + query)

    def alive_and_good(tag):
        """A good event of each SDK goes through after the hostile ones."""
        status, _, body = post("/v1/track", {"messageId": "seg-" + tag, "event": "ok"})
        assert status == 202 and body["accepted"] == 1, (status, body)
        status, _, _ = pixel("e=pv&eid=sp-%s&dtm=1700000000000" % tag)
        assert status == 200, status
        status, _, body = post("/batch", {"api_key": "k", "batch": [{"uuid": "ph-" + tag,
                                                                      "event": "ok"}]})
        assert status == 202, (status, body)
        good.extend(["seg-" + tag, "sp-" + tag, "ph-" + tag])

    try:
        def pixel_query():
            status, headers, body = pixel("e=pv&eid=p1&dtm=1700000000000&url=https%3A%2F%2Fx")
            assert status == 200 and headers["content-type"] == "image/gif", (status, headers)
            good.append("p1")
            cases = [
                ("e=pv&eid=" + "x" * 300, 400, "is 300 bytes long; the limit is 256"),
                ("e=pv&eid=n1&" + "&".join("f%d=1" % i for i in range(1001)), 400, "1000"),
                ("e=pv&eid=n2&dtm=%zz", 400, ""),
                ("", 400, "takes one event as its query"),
            ]
            for query, want, words in cases:
                status, _, body = pixel(query)
                assert status == want and words in json.dumps(body), (query[:60], status, body)
            # A NUL in a value is taken out, as in any form.
            status, _, _ = pixel("e=pv&eid=nul1&page=a%00b")
            assert status == 200, status
            wait_for(lambda: any(e["id"] == "nul1" for e in all_events(server, "stream=web")), 10,
                     "nul1")
            stored = [e for e in all_events(server, "stream=web") if e["id"] == "nul1"]
            assert stored[0]["payload"]["page"] == "ab", stored
            good.append("nul1")
            # A time far in the future is kept with its arrival time (max_future: clamp).
            status, _, _ = pixel("e=pv&eid=future1&dtm=99999999999999")
            assert status == 200, status
            good.append("future1")
            alive_and_good("a")

        def posthog_gzip():
            # A gzip bomb: 1 MiB of body inflates past max_body_bytes.
            bomb = gzip.compress(b" " * (64 << 20))
            status, _, body = post("/e/", bomb)
            assert status == 413 and "max_body_bytes" in json.dumps(body), (status, body)
            status, _, body = post("/e/", b"\x1f\x8b" + os.urandom(200))
            assert status == 400, (status, body)
            ok = gzip.compress(json.dumps([{"uuid": "gz1", "event": "e"}]).encode())
            status, _, body = post("/e/?compression=gzip-js", ok)
            assert status == 202 and body["accepted"] == 1, (status, body)
            good.append("gz1")
            # Deep nesting in one event of a batch: that one is rejected, the other kept.
            deep = "[" * 200 + "]" * 200
            text = '{"api_key":"k","batch":[{"uuid":"deep1","x":%s},{"uuid":"gz2"}]}' % deep
            status, _, body = post("/batch", text.encode())
            assert status == 202 and body["accepted"] == 1 and body["rejected"][0]["index"] == 0, \
                (status, body)
            good.append("gz2")
            alive_and_good("b")

        def basic_credentials():
            def with_auth(value):
                return post("/keyed/v1/track", {"messageId": "k-" + value[:8], "event": "e"},
                            {"Authorization": value})
            for value in ["Basic !!!!", "Basic " + "A" * 9000, "Basic ", "Basic =",
                          "Basic " + base64.b64encode(b"\x00:\x00").decode(),
                          "Basic " + base64.b64encode(b"nocolon").decode()]:
                status, _, body = with_auth(value)
                assert status in (401, 403, 431), (value[:20], status, body)
            status, _, body = with_auth("Basic " + base64.b64encode(b"wk-bad:").decode())
            assert status == 403, (status, body)
            status, _, body = post("/keyed/v1/track", {"messageId": "k-good", "event": "e"},
                                   {"Authorization": "Basic " +
                                    base64.b64encode(b":wk-good").decode()})
            assert status == 202, (status, body)
            wait_for(lambda: [e["id"] for e in all_events(server, "stream=app")] == ["k-good"],
                     10, "the one keyed event")
            alive_and_good("c")

        def echoed_text_stays_data():
            token = '"];alert(1)//</script>\u2028'
            status, headers, body = server.request(
                "GET", "/array/%s/config.js" % urllib.parse.quote(token, safe=""))
            assert status == 200 and headers["content-type"] == "text/javascript", status
            assert "alert(1)//</script>\"]" not in body and "\\\"];alert(1)" in body, body[:200]
            status, _, body = server.request(
                "GET", "/v1/projects/%s/settings" % urllib.parse.quote('a"b', safe=""),
                headers={"Host": 'evil"}, "x": "' + "h" * 2000})
            assert status in (200, 400), status
            if status == 200:
                assert body["integrations"]["Segment.io"]["apiKey"] == 'a"b', body
            alive_and_good("d")

        checks.run("the pixel's query: limits named, the far future clamped", pixel_query)
        checks.run("PostHog's gzip: a bomb is 413, junk is 400, a deep event alone is refused",
                   posthog_gzip)
        checks.run("Segment's Basic credentials: malformed ones are refused", basic_credentials)
        checks.run("tokens and hosts echoed in answers stay data", echoed_text_stays_data)

        def every_good_event_once():
            wait_for(lambda: set(good) <= {e["id"] for e in all_events(server, "stream=web")},
                     15, "every good event")
            ids = [e["id"] for e in all_events(server, "stream=web")]
            for event_id in good:
                assert ids.count(event_id) == 1, (event_id, ids.count(event_id))
            assert server.proc.poll() is None, "the server exited"
        checks.run("every good event is stored once and the server is up", every_good_event_once)
    finally:
        server.stop()
    checks.finish()


if __name__ == "__main__":
    main()
