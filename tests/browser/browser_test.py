"""The collector from a real browser (Debian's Chromium, headless): a page on another origin
posts JSON with fetch (CORS preflight), sends a beacon with ?key= (sendBeacon cannot set
headers) and submits a plain HTML form that is answered with 303 to a thank-you page.

usage: browser_test.py SLUICE_BINARY
"""

import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, all_events, wait_for  # noqa: E402

CONFIG = """
streams:
  web:
    id_field: event_id
    type_field: event_type
    cors_origins: ["{origin}"]
  beacons:
    write_keys: [beacon-key]
    cors_origins: ["{origin}"]
  other_site:
    cors_origins: ["https://elsewhere.example"]
  signup:
    form: {{enabled: true, redirect: "{origin}/thanks"}}
    cors_origins: ["{origin}"]
    sanitize: {{lowercase_fields: [email]}}
    schema: {{type: object, required: [email], properties: {{email: {{type: string, format: email}}}}}}
"""

TRACKER_PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const out = document.getElementById('out');
const sluice = '{sluice}';
async function run() {{
  const lines = [];
  const r = await fetch(sluice + '/v1/streams/web/events', {{
    method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{app: 'browser-test', events: [
      {{event_id: 'fetch-1', event_type: 'page_view', page: location.pathname}},
      {{event_id: 'fetch-2', event_type: 'click'}}]}})}});
  lines.push('fetch ' + r.status + ' ' + JSON.stringify(await r.json()));
  lines.push('beacon ' + navigator.sendBeacon(sluice + '/v1/streams/beacons/events?key=beacon-key',
      JSON.stringify({{id: 'beacon-1', type: 'unload'}})));
  try {{
    await fetch(sluice + '/v1/streams/other_site/events', {{
      method: 'POST', headers: {{'Content-Type': 'application/json'}}, body: '{{"id":"x"}}'}});
    lines.push('cross-origin allowed');
  }} catch (e) {{
    lines.push('cross-origin blocked');
  }}
  out.textContent = lines.join('\\n');
}}
run().catch(e => out.textContent = 'error ' + e);
</script></body></html>"""

FORM_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{sluice}/v1/forms/signup">
  <input name="email" value="  Browser.User@Example.COM ">
  <input name="name" value="Browser User">
</form>
<script>document.getElementById('f').submit();</script></body></html>"""


class Site:
    """The web site on its own origin: the pages above and a thank-you page that counts hits."""

    def __init__(self):
        self.pages = {}
        self.thanks = 0
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/thanks":
                    site.thanks += 1
                    body = b"<html><body><h1 id='thanks'>Thank you</h1></body></html>"
                else:
                    body = site.pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def chromium(url, profile):
    """Loads `url` in headless Chromium and returns the DOM once the page's scripts ran."""
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic", "--user-data-dir=" + profile,
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    return result.stdout


def main():
    binary = sys.argv[1]
    if not shutil.which("chromium"):
        print("chromium is not installed (scripts/setup installs it)")
        sys.exit(1)
    checks = Checks()
    site = Site()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(CONFIG.format(origin=site.origin))
    config.close()
    server = Server(binary, config=config.name).start()
    sluice = "http://127.0.0.1:%d" % server.port
    site.pages["/tracker"] = TRACKER_PAGE.format(sluice=sluice)
    site.pages["/form"] = FORM_PAGE.format(sluice=sluice)
    profile = tempfile.mkdtemp(prefix="sluice-chromium-")
    try:
        dom = chromium(site.origin + "/tracker", profile)

        def fetch_with_preflight():
            assert 'fetch 202 {"accepted":2,"rejected":[]}' in dom, dom
            wait_for(lambda: len(all_events(server, "stream=web")) == 2, 10, "2 web events")
            events = {e["payload"]["event_id"]: e for e in all_events(server, "stream=web")}
            assert events["fetch-1"]["payload"]["app"] == "browser-test", events
            assert events["fetch-1"]["payload"]["page"] == "/tracker", events

        def beacon_with_key():
            assert "beacon true" in dom, dom
            wait_for(lambda: len(all_events(server, "stream=beacons")) == 1, 10, "the beacon")
            [beacon] = all_events(server, "stream=beacons")
            assert beacon["payload"] == {"id": "beacon-1", "type": "unload"}, beacon

        def other_origin_blocked():
            assert "cross-origin blocked" in dom, dom

        checks.run("fetch from another origin passes the CORS preflight and is stored",
                   fetch_with_preflight)
        checks.run("sendBeacon with ?key= is stored", beacon_with_key)
        checks.run("an origin not in cors_origins is blocked by the browser", other_origin_blocked)

        def plain_form():
            final = chromium(site.origin + "/form", profile)
            assert "Thank you" in final, final
            assert site.thanks == 1, site.thanks
            wait_for(lambda: len(all_events(server, "stream=signup")) == 1, 10, "the signup")
            [signup] = all_events(server, "stream=signup")
            assert signup["payload"] == {"email": "browser.user@example.com",
                                         "name": "Browser User"}, signup

        checks.run("a plain HTML form posts, is cleaned and redirected with 303", plain_form)
    finally:
        server.cleanup()
        site.httpd.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        os.unlink(config.name)
    checks.finish()


if __name__ == "__main__":
    main()
