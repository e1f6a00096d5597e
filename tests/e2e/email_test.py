"""The email sink against a real SMTP server (Debian's python3-aiosmtpd), end to end:
- one mail per acknowledged submission, to the address in its `email` field, with the subject
  and body made from its fields and a login (AUTH PLAIN), while the server is SIGKILLed twice
  and started again and the SMTP server refuses some mails for a while (451): no mail is lost,
  and the only mails sent twice are those the log names as in flight when the process was
  killed (SMTP cannot tell whether the server took them), again with the same Message-ID;
- a submission whose `email` is not an address, or whose recipient the server refuses for good
  (550), is in the dead letters with the reason and sends nothing;
- rate_per_minute holds: 130 mails at 120 a minute take at least 4 s after the first 120.

usage: email_test.py SLUICE_BINARY
"""

import collections
import http.client
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fakes import Mailbox, start_smtp  # noqa: E402
from harness import Checks, Server, all_events, wait_for  # noqa: E402


def main():
    binary = sys.argv[1]
    checks = Checks()
    box = Mailbox(busy=3)
    smtp = start_smtp(box)
    port = smtp.port
    work = tempfile.mkdtemp(prefix="sluice-email-test-")
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("""
streams:
  forms: {}
  burst: {}
sinks:
  confirm:
    email:
      url: smtp://127.0.0.1:%d
      username: forms
      password: s3cret-pass
      from: "Student office <office@example.org>"
      to: ["{email}"]
      subject: "We got your form, {name}"
      body: "Hello {name},\\nyour answer {uid} is in.\\n"
      rate_per_minute: 100000
  limited:
    email:
      url: smtp://127.0.0.1:%d
      username: forms
      password: s3cret-pass
      from: office@example.org
      to: ["{email}"]
      subject: "burst {uid}"
      rate_per_minute: 120
pipelines:
  confirmations: {from: [forms], to: [confirm], dead_letter: dead_letters}
  bursts: {from: [burst], to: [limited], dead_letter: dead_letters}
""" % (port, port))
    data_dir = os.path.join(work, "data")
    server = Server(binary, config=config, data_dir=data_dir)
    server.start()
    acked = []

    def post_some(first, count):
        """Posts submissions one request each until count or the server dies."""
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for i in range(first, first + count):
            uid = "u%d" % i
            body = json.dumps({"uid": uid, "name": "Student %d" % i,
                               "email": "s%d@example.org" % i})
            try:
                conn.request("POST", "/v1/streams/forms/events", body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                return
            if resp.status == 202:
                acked.append(uid)

    def mails_for(prefix="u"):
        with box.lock:
            return [m for m in box.mails if m["subject"].startswith("We got") and
                    prefix in m["body"]]

    def one_mail_each_across_kills():
        post_some(0, 80)
        wait_for(lambda: len(box.mails) >= 20, 60, "the first mails")
        server.kill()
        server.start()
        post_some(80, 80)
        server.kill()  # perhaps mid-batch
        server.start()
        post_some(160, 40)
        wait_for(lambda: len({m["body"] for m in mails_for()}) >= len(acked), 120,
                 "a mail for each of %d acknowledged submissions" % len(acked))
        time.sleep(1)  # a mail sent twice would come now, after the last one expected
        uids = [m["body"].split("answer ")[1].split(" ")[0] for m in mails_for()]
        missing = set(acked) - set(uids)
        assert not missing, "no mail for %s" % sorted(missing)[:10]
        by_id = {e["id"]: e["payload"]["uid"] for e in all_events(server, "stream=forms")}
        in_doubt = {by_id.get(line.split(" id=forms/")[1].split(" ")[0]) for line in
                    server.stderr_lines if "was being sent when the process stopped" in line}
        assert len(in_doubt) <= 2, in_doubt  # one mail in flight at most per kill
        twice = [u for u, n in collections.Counter(uids).items() if n > 1]
        assert set(twice) <= in_doubt, "mailed twice: %s (in flight at a kill: %s)" % (
            twice[:10], in_doubt)
        for uid in twice:
            ids = {m["message_id"] for m in mails_for() if "answer %s " % uid in m["body"]}
            assert len(ids) == 1, (uid, ids)
        print("  %d mails for %d acknowledged submissions; sent again after a kill: %s" % (
            len(uids), len(acked), sorted(twice) or "none"))
        sample = [m for m in mails_for() if "answer u7 " in m["body"]][0]
        assert sample["to"] == ["s7@example.org"], sample
        assert sample["from"] == "office@example.org", sample
        assert sample["subject"] == "We got your form, Student 7", sample
        body = sample["body"].replace("\r\n", "\n")
        assert body == "Hello Student 7,\nyour answer u7 is in.\n", sample
        assert sample["login"], sample
        ids = {m["message_id"] for m in mails_for()}
        assert len(ids) == len(set(uids)), "one Message-ID per submission"

    def bad_recipients_dead_lettered():
        before = len(box.mails)
        for uid, address in (("bad1", "not-an-address"), ("bad2", "x@example.org\r\nBcc: y@z"),
                             ("bad3", "refuse@example.org"), ("good", "fine@example.org")):
            status, _, body = server.request("POST", "/v1/streams/forms/events",
                                             {"uid": uid, "name": "N", "email": address})
            assert status == 202, (status, body)

        def letters():
            status, _, body = server.request(
                "GET", "/v1/dead-letters?source=forms&pipeline=confirmations&limit=50")
            assert status == 200, (status, body)
            return {e["payload"]["event"]["payload"]["uid"]: e["payload"]["error"]
                    for e in body["events"]}
        wait_for(lambda: len(letters()) >= 3, 60, "three dead letters")
        got = letters()
        assert set(got) == {"bad1", "bad2", "bad3"}, got
        assert "is not an e-mail address" in got["bad1"], got
        assert "is not an e-mail address" in got["bad2"], got
        assert "550" in got["bad3"], got
        wait_for(lambda: any("answer good " in m["body"] for m in mails_for()), 30, "good mail")
        new = box.mails[before:]
        assert not [m for m in new if "bad" in m["body"]], new

    def rate_limit_holds():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = "\n".join(json.dumps({"uid": "b%d" % i, "email": "b%d@example.org" % i})
                         for i in range(130))
        conn.request("POST", "/v1/streams/burst/events", body,
                     {"Content-Type": "application/x-ndjson"})
        resp = conn.getresponse()
        assert resp.status == 202, resp.read()
        resp.read()

        def burst():
            with box.lock:
                return sorted(m["at"] for m in box.mails if m["subject"].startswith("burst"))
        wait_for(lambda: len(burst()) >= 130, 60, "130 burst mails")
        times = burst()
        assert len(times) == 130, len(times)
        # 120 at once (a minute's budget), then 2 a second for the other 10.
        assert times[-1] - times[0] >= 4.0, times[-1] - times[0]

    try:
        checks.run("one mail per acknowledged submission across 2 SIGKILLs and 451s",
                   one_mail_each_across_kills)
        checks.run("bad or refused recipients: dead letters, nothing sent",
                   bad_recipients_dead_lettered)
        checks.run("rate_per_minute: 130 mails at 120 a minute", rate_limit_holds)
    finally:
        server.cleanup()
        smtp.stop()
    checks.finish()


if __name__ == "__main__":
    main()
