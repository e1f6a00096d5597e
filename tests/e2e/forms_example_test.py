"""examples/forms.yaml as it is shipped, run against stand-ins for Google Sheets and an SMTP
server (tests/fakes.py), as the form pipeline's users would run it:
- submissions posted as JSON to the old path /student-data-form/ are cleaned (spaces, an
  upper-case e-mail) and stored; those that break the schema are refused with the field named
  and kept in the dead letters;
- every stored submission becomes one row of the sheet, in the order of submission, and one
  confirmation mail to its address; the one whose comment holds slang is in the review file,
  labelled;
- after the fix (a lower minimum age) and a restart, `sluice dead-letters replay --stream`
  posts the refused ones again: the fixed one is stored, has its row and its mail; the one
  still wrong is refused again.

usage: forms_example_test.py SLUICE_BINARY
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fakes import Mailbox, SheetsApi, service_account, start_smtp  # noqa: E402
from harness import Checks, Server, all_events, wait_for  # noqa: E402

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..")


def student(i, **changes):
    form = {"name": "Student %d" % i, "roll": "CS-%04d" % i, "university": "UNAM",
            "cgpa": 7.5 + i % 3, "gender": "female" if i % 2 else "male", "age": 20 + i % 5,
            "email": "s%d@example.org" % i, "mobile": "+52 55 1234 %04d" % i}
    form.update(changes)
    return form


def main():
    binary = sys.argv[1]
    checks = Checks()
    work = tempfile.mkdtemp(prefix="sluice-forms-example-")
    api = SheetsApi(per_second=100)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    key_file, api.public_key = service_account(work, api.url + "/token")
    box = Mailbox()
    smtp = start_smtp(box)
    config = os.path.join(work, "forms.yaml")
    shutil.copy(os.path.join(SOURCE, "examples", "forms.yaml"), config)
    os.environ.update({"SHEETS_ID": "S-1", "SHEETS_KEY_FILE": key_file,
                       "SHEETS_API": api.url, "SMTP_URL": "smtp://127.0.0.1:%d" % smtp.port,
                       "SMTP_USER": "forms", "SMTP_PASSWORD": "s3cret-pass"})
    data_dir = os.path.join(work, "data")
    server = Server(binary, config=config, data_dir=data_dir)
    server.start()
    posted = []

    def stored():
        return [e["payload"] for e in all_events(server, "stream=student_form&order=asc")]

    def submissions_flow():
        for i in range(20):
            changes = {}
            if i == 4:
                changes = {"name": "  Ana   Ruiz ", "email": "ANA@Example.ORG"}
            if i == 9:
                changes = {"comment": "idk, the course is GONNA be lit tbh"}
            form = student(i, **changes)
            status, _, body = server.request("POST", "/student-data-form/", form)
            assert status == 202, (status, body)
            posted.append(form["roll"])
        # Refused: too young for the schema, and no e-mail at all.
        status, _, body = server.request("POST", "/student-data-form/", student(20, age=13))
        assert status == 400 and "age" in body["rejected"][0]["error"], body
        no_email = student(21)
        del no_email["email"]
        status, _, body = server.request("POST", "/student-data-form/", no_email)
        assert status == 400 and "email" in body["rejected"][0]["error"], body
        wait_for(lambda: len(stored()) >= 20, 60, "20 submissions stored")
        ana = [s for s in stored() if s["roll"] == "CS-0004"][0]
        assert ana["name"] == "Ana Ruiz" and ana["email"] == "ana@example.org", ana

    def rows_mails_and_review():
        wait_for(lambda: len(api.rows) >= 20, 60, "20 rows")
        assert [row[1] for row in api.rows] == posted, [row[1] for row in api.rows]
        assert api.rows[4][:2] == ["Ana Ruiz", "CS-0004"], api.rows[4]
        wait_for(lambda: len(box.mails) >= 20, 60, "20 mails")
        assert sorted(m["to"][0] for m in box.mails) == sorted(
            "ana@example.org" if r == "CS-0004" else "s%d@example.org" % int(r[3:])
            for r in posted), [m["to"] for m in box.mails]
        mail = [m for m in box.mails if m["to"] == ["s7@example.org"]][0]
        assert mail["subject"] == "We got your form, Student 7", mail
        assert "roll CS-0007" in mail["body"], mail
        wait_for(lambda: glob.glob(os.path.join(data_dir, "review", "*.ndjson")), 30, "review")
        review = [json.loads(line)["payload"] for path in
                  glob.glob(os.path.join(data_dir, "review", "*.ndjson")) for line in open(path)]
        assert [r["roll"] for r in review] == ["CS-0009"], review
        assert sorted(review[0]["flags"]["slang"]) == ["gonna", "idk", "tbh"], review

    def replay_after_fix():
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("minimum: 14", "minimum: 13"))
        server.stop()
        server.start()
        out = subprocess.run([binary, "dead-letters", "replay", "--stream", "student_form",
                              "--config", config, "--url", "http://127.0.0.1:%d" % server.port],
                             capture_output=True, text=True, timeout=120)
        assert "1 replayed, 1 failed again" in out.stdout, out.stdout + out.stderr
        wait_for(lambda: any(s["roll"] == "CS-0020" for s in stored()), 60, "the fixed one")
        wait_for(lambda: any(row[1] == "CS-0020" for row in api.rows), 60, "its row")
        wait_for(lambda: any(m["to"] == ["s20@example.org"] for m in box.mails), 60, "its mail")
        assert len(api.rows) == 21 and len(box.mails) == 21, (len(api.rows), len(box.mails))

    try:
        checks.run("posts to /student-data-form/: cleaned, checked, stored", submissions_flow)
        checks.run("a row and a mail each, slang in review", rows_mails_and_review)
        checks.run("replay after the fix: stored, a row and a mail", replay_after_fix)
    finally:
        server.cleanup()
        api.shutdown()
        smtp.stop()
    checks.finish()


if __name__ == "__main__":
    main()
