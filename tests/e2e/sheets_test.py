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

import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fakes import SheetsApi, service_account  # noqa: E402
from harness import Checks, Server, wait_for  # noqa: E402

def main():
    binary = sys.argv[1]
    checks = Checks()
    work = tempfile.mkdtemp(prefix="sluice-sheets-test-")
    api = SheetsApi(per_second=10)  # the sink is told 540 a minute (9 a second)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    key_file, api.public_key = service_account(work, api.url + "/token")
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
