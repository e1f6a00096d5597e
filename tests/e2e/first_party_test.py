"""The server-side helpers for browser trackers: the first-party id cookie (streams.<name>.
id_cookie) and bot flagging (streams.<name>.bots), including hostile cookies and user agents.

usage: first_party_test.py SLUICE_BINARY
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CONFIG = """
streams:
  web:
    id_field: event_id
    type_field: event_type
    id_cookie: {name: sl_id, max_age: 30d, secure: true}
    bots: {field: bot, stream: web_bots, user_agents: [AcmeMonitor]}
  web_bots: {id_field: event_id, type_field: event_type}
"""
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
COOKIE = re.compile(r"^sl_id=([0-9a-f-]{36}); Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax; "
                    r"Secure$")


def main():
    checks = Checks()
    server = Server(sys.argv[1], config_text=CONFIG).start()
    posted = []

    def post(events, headers, path="/collect"):
        status, answer_headers, body = server.request(
            "POST", path, {"events": events}, dict({"Content-Type": "text/plain"}, **headers))
        assert status == 202 and body["accepted"] == len(events), (status, body)
        posted.extend(e["event_id"] for e in events)
        return answer_headers.get("set-cookie", "")

    def payloads(stream):
        return {e["payload"]["event_id"]: e["payload"] for e in all_events(server,
                                                                           "stream=" + stream)}

    try:
        def cookie_set_and_kept():
            first = COOKIE.match(post([{"event_id": "c1"}], {"User-Agent": BROWSER}))
            assert first, "no id cookie"
            visitor = first.group(1)
            again = post([{"event_id": "c2", "browser_id": "forged"}],
                         {"User-Agent": BROWSER, "Cookie": "a=b; sl_id=%s; c=d" % visitor})
            assert COOKIE.match(again).group(1) == visitor, again  # renewed, same id
            wait_for(lambda: {"c1", "c2"} <= set(payloads("web")), 10, "c1 and c2")
            got = payloads("web")
            assert got["c1"]["browser_id"] == visitor and got["c2"]["browser_id"] == visitor, got

        def hostile_cookies_get_a_new_id():
            for i, cookie in enumerate(["sl_id=../../etc/passwd", "sl_id=" + "f" * 36 + "0",
                                        "sl_id=" + "x" * 7000, "sl_id", "sl_id=;;;;=",
                                        "sl_id=" + "A" * 36]):
                set_cookie = post([{"event_id": "h%d" % i}],
                                  {"User-Agent": BROWSER, "Cookie": cookie})
                match = COOKIE.match(set_cookie)
                assert match and match.group(1) not in cookie, (cookie[:40], set_cookie)
            status, _, _ = server.request("GET", "/healthz")
            assert status == 200

        def bots_flagged_and_routed():
            post([{"event_id": "b1", "bot": False}], {"User-Agent": "Googlebot/2.1"})
            post([{"event_id": "b2"}], {"User-Agent": "Mozilla/5.0 HeadlessChrome/120"})
            post([{"event_id": "b3"}], {"User-Agent": "acmemonitor/2"})
            post([{"event_id": "b4"}], {})  # http.client sends no User-Agent
            wait_for(lambda: len(payloads("web_bots")) == 4, 10, "4 bot events")
            bots = payloads("web_bots")
            assert {k: v["bot"] for k, v in bots.items()} == {
                "b1": "googlebot", "b2": "headlesschrome", "b3": "acmemonitor",
                "b4": "no user agent"}, bots
            assert all(len(v["browser_id"]) == 36 for v in bots.values()), bots
            assert not set(bots) & set(payloads("web")), "a bot event in web"

        def every_event_kept_once():
            wait_for(lambda: len(payloads("web")) + len(payloads("web_bots")) == len(posted), 10,
                     "every posted event")
            stored = sorted(list(payloads("web")) + list(payloads("web_bots")))
            assert stored == sorted(posted), (stored, posted)

        checks.run("the id cookie is set HttpOnly, kept, renewed and replaces a forged field",
                   cookie_set_and_kept)
        checks.run("malformed and huge id cookies get a new id; the server stays up",
                   hostile_cookies_get_a_new_id)
        checks.run("bots are flagged by User-Agent and sent to their own stream",
                   bots_flagged_and_routed)
        checks.run("every event posted is stored once, in one of the two streams",
                   every_event_kept_once)
    finally:
        if checks.failed:
            print("sluice's log:\n" + "".join(server.stderr_lines[-20:]))
        server.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
