"""The sheets sink against a local stand-in for the Google Sheets API that does what the real
one does to a client: OAuth2 tokens for a JWT signed by the service account's key (checked
with openssl against the public key), tokens that expire after 6 s, a per-second quota
(429 with Retry-After), values:append and reading a column back. End to end:
- 600 form submissions reach the sheet as rows, in order, each once, with the id column,
  while the server is SIGKILLed and started again, the API answers nothing but 429 for 3 s
  (a 429 storm), and one append is applied but its answer lost;
- the sink stays within the quota (the stand-in counts requests over it) and renews its token.

usage: sheets_test.py SLUICE_BINARY
"""

import base64
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402

CLIENT_EMAIL = "forms-writer@example-project.iam.gserviceaccount.com"
PER_SECOND = 10  # the stand-in's quota; the sink is told 540 a minute (9 a second)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SheetsApi(http.server.ThreadingHTTPServer):
    def __init__(self, public_key):
        super().__init__(("127.0.0.1", 0), Handler)
        self.public_key = public_key
        self.lock = threading.Lock()
        self.rows = []
        self.tokens = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.bad_jwts = 0
        self.recent = []  # times of API requests in the last second
        self.over_quota = 0
        self.storm_until = 0.0
        self.storm_answers = 0
        self.lose_next_answer = False
        self.lost_answers = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def verify_jwt(self, jwt):
        header, claims, signature = jwt.split(".")
        work = tempfile.mkdtemp()
        with open(os.path.join(work, "data"), "wb") as f:
            f.write((header + "." + claims).encode())
        with open(os.path.join(work, "sig"), "wb") as f:
            f.write(b64url_decode(signature))
        ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.public_key,
                             "-signature", os.path.join(work, "sig"),
                             os.path.join(work, "data")], capture_output=True).returncode == 0
        claims = json.loads(b64url_decode(claims))
        now = time.time()
        return (ok and json.loads(b64url_decode(header))["alg"] == "RS256" and
                claims["iss"] == CLIENT_EMAIL and claims["aud"] == self.url + "/token" and
                "auth/spreadsheets" in claims["scope"] and claims["iat"] <= now + 5 and
                claims["exp"] > now)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def authorised(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        expiry = self.server.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def within_quota(self):
        now = time.monotonic()
        self.server.recent = [t for t in self.server.recent if now - t < 1.0] + [now]
        return len(self.server.recent) <= PER_SECOND

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        api = self.server
        with api.lock:
            if self.path == "/token":
                api.token_requests += 1
                form = urllib.parse.parse_qs(body.decode())
                if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or \
                        not api.verify_jwt(form["assertion"][0]):
                    api.bad_jwts += 1
                    return self.answer(400, {"error": "invalid_grant"})
                token = "tok-%d" % api.token_requests
                api.tokens[token] = time.monotonic() + 6
                return self.answer(200, {"access_token": token, "expires_in": 6,
                                         "token_type": "Bearer"})
            if not self.authorised():
                return self.answer(401, {"error": {"code": 401}})
            if not self.within_quota():
                api.over_quota += 1
                return self.answer(429, {"error": {"code": 429}}, [("Retry-After", "1")])
            if time.monotonic() < api.storm_until:
                api.storm_answers += 1
                return self.answer(429, {"error": {"code": 429}}, [("Retry-After", "1")])
            if ":append?" not in self.path or "/spreadsheets/S-1/values/" not in self.path:
                return self.answer(400, {"error": {"message": "unknown range"}})
            request = json.loads(body)
            api.rows += request["values"]
            if api.lose_next_answer:
                api.lose_next_answer = False
                api.lost_answers += 1
                self.close_connection = True
                return  # applied, but the client hears nothing
            return self.answer(200, {"updates": {"updatedRows": len(request["values"])}})

    def do_GET(self):
        api = self.server
        with api.lock:
            if not self.authorised():
                return self.answer(401, {"error": {"code": 401}})
            if not self.within_quota():
                api.over_quota += 1
                return self.answer(429, {"error": {"code": 429}}, [("Retry-After", "1")])
            # The id column: Responses!D:D with three columns from A.
            assert "Responses%21D%3AD" in self.path, self.path
            ids = [row[3] for row in api.rows if len(row) > 3]
            return self.answer(200, {"range": "Responses!D1:D%d" % len(ids),
                                     "majorDimension": "COLUMNS", "values": [ids]})


def main():
    binary = sys.argv[1]
    checks = Checks()
    work = tempfile.mkdtemp(prefix="sluice-sheets-test-")
    private_key, public_key = os.path.join(work, "key.pem"), os.path.join(work, "pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", private_key], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", private_key, "-pubout", "-out", public_key],
                   check=True, capture_output=True)
    api = SheetsApi(public_key)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    key_file = os.path.join(work, "service-account.json")
    with open(key_file, "w") as f:
        json.dump({"type": "service_account", "client_email": CLIENT_EMAIL,
                   "private_key": open(private_key).read(), "token_uri": api.url + "/token"},
                  f)
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("""
streams:
  forms: {partitions: 1}
sinks:
  sheet:
    sheets:
      spreadsheet_id: S-1
      range: Responses!A1
      columns: [uid, name, n]
      credentials_file: %s
      api_base: %s
      requests_per_minute: 540
pipelines:
  to_sheet: {from: [forms], to: [sheet], batch: {max_events: 25}}
""" % (key_file, api.url))
    server = Server(binary, config=config, data_dir=os.path.join(work, "data"))
    server.start()
    acked = []

    def post(first, count):
        for start in range(first, first + count, 20):
            events = [{"uid": "r%d" % i, "name": "Student %d" % i, "n": i}
                      for i in range(start, min(start + 20, first + count))]
            status, _, body = server.request("POST", "/v1/streams/forms/events", events)
            assert status == 202, (status, body)
            acked.extend(e["uid"] for e in events)

    def rows_in_order_once():
        post(0, 200)
        wait_for(lambda: len(api.rows) >= 60, 60, "the first rows")
        server.kill()
        server.start()
        post(200, 150)
        with api.lock:
            api.storm_until = time.monotonic() + 3  # a 429 storm
        post(350, 100)
        wait_for(lambda: api.storm_answers > 0 and time.monotonic() > api.storm_until, 30,
                 "the storm to pass")
        with api.lock:
            api.lose_next_answer = True
        post(450, 150)
        wait_for(lambda: len(api.rows) >= len(acked), 120, "%d rows" % len(acked))
        time.sleep(1.5)  # a row written twice would come now
        uids = [row[0] for row in api.rows]
        assert len(uids) == len(set(uids)), "rows twice: %s" % sorted(
            u for u in set(uids) if uids.count(u) > 1)[:10]
        assert uids == acked, "not in order or missing: first difference at %d" % next(
            i for i, (a, b) in enumerate(zip(uids + [None] * len(acked), acked)) if a != b)
        row = api.rows[7]
        assert row[:3] == ["r7", "Student 7", 7] and len(row[3]) > 10, row
        assert api.lost_answers == 1 and api.storm_answers > 0, (api.lost_answers,
                                                                 api.storm_answers)
        print("  %d rows; 429 storm answers %d; token requests %d" % (
            len(api.rows), api.storm_answers, api.token_requests))

    def within_quota_with_renewed_tokens():
        assert api.over_quota == 0, "%d requests over the quota" % api.over_quota
        assert api.bad_jwts == 0, "%d JWTs refused" % api.bad_jwts
        assert api.token_requests >= 3, api.token_requests  # 6 s tokens over a longer run

    try:
        checks.run("600 rows in order, once, across a SIGKILL, a 429 storm and a lost answer",
                   rows_in_order_once)
        checks.run("within the quota; JWTs valid; tokens renewed", within_quota_with_renewed_tokens)
    finally:
        server.cleanup()
        api.shutdown()
    checks.finish()


if __name__ == "__main__":
    main()
