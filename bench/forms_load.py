#!/usr/bin/env python3
"""The form pipeline's load test: 1000 clients x 5 form posts (hey -n 5000 -c 1000) to the
student form of examples/forms.yaml, against `sluice run` with the form alone (validation and
cleaning, into the log and the store) and with the example's tasks attached (a Google Sheet,
confirmation mails, the slang check), in the same run. The sinks work behind the log: the
posts should be answered as fast with them as without. Then how long until the sheet has every
row and every mail is sent, and whether the sheet's quota held.

Google Sheets and the SMTP server are the stand-ins of tests/fakes.py on loopback: the sheet
takes at most 60 requests a minute per the sink's setting (Google's default quota) and refuses
more (429); the mail server takes what comes. They stand for services on other machines, so
their threads run at the lowest CPU priority (nice 19): on this machine's two cores they would
otherwise take CPU from the server under test.

usage: bench/forms_load.py BUILD_DIR [ROUNDS]
"""

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import ingest_http  # noqa: E402
from fakes import Mailbox, SheetsApi, service_account, start_smtp  # noqa: E402

SOURCE = os.path.join(os.path.dirname(__file__), "..")
BODY = ('{"name":"Ana Ruiz","roll":"CS-2041","university":"UNAM","cgpa":8.7,"gender":"female",'
        '"age":21,"email":"ana@example.org","mobile":"+52 55 1234 5678",'
        '"comment":"the course is gonna be great"}')
FORM_ONLY = """
streams:
  student_form:
    form: {enabled: true, path: /student-data-form/}
"""


def main():
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = tempfile.mkdtemp(prefix="sluice-forms-bench-")
    api = SheetsApi(per_second=2)  # 60 a minute is one a second; a burst of two is let through
    threading.Thread(target=api.serve_forever, daemon=True).start()
    key_file, api.public_key = service_account(work, api.url + "/token")
    box = Mailbox()
    smtp = start_smtp(box)
    # Every thread but this one (which starts hey) serves a stand-in; threads they start later
    # inherit the priority.
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != threading.get_native_id():
            os.setpriority(os.PRIO_PROCESS, int(tid), 19)
    os.environ.update({"SHEETS_ID": "S-1", "SHEETS_KEY_FILE": key_file, "SHEETS_API": api.url,
                       "SMTP_URL": "smtp://127.0.0.1:%d" % smtp.port, "SMTP_USER": "forms",
                       "SMTP_PASSWORD": "s3cret-pass"})
    with open(os.path.join(SOURCE, "examples", "forms.yaml")) as f:
        example = f.read()
    # The example's mail budget (60 a minute) would take 83 minutes for 5000 forms here.
    example = example.replace("rate_per_minute: 60", "rate_per_minute: 0")
    schema = example[example.index("    dead_letter:"):example.index("\nsinks:")]
    configs = {"form only": FORM_ONLY + schema, "with sheet, mail, slang": example}
    print("1000 clients x 5 posts (hey -n 5000 -c 1000) to /student-data-form/, %d rounds; "
          "`sluice run` with the form alone, then with examples/forms.yaml's tasks" % rounds)
    results = {name: [] for name in configs}
    try:
        for round_no in range(rounds):
            # Alternate which goes first, so that a drift of the machine within a round does
            # not always favour the same one.
            order = list(configs.items())
            if round_no % 2:
                order.reverse()
            for name, text in order:
                directory = os.path.join(work, "%s-%d" % (name.split()[0], round_no))
                os.makedirs(directory)
                config = os.path.join(directory, "sluice.yaml")
                with open(config, "w") as f:
                    f.write(text + "\nstorage: {data_dir: %s}\n" % directory)
                proc, port = ingest_http.start_sluice_config(build, directory, config)
                rows_before, mails_before = len(api.rows), len(box.mails)
                started = time.monotonic()
                r = ingest_http.hey("http://127.0.0.1:%d/student-data-form/" % port, BODY,
                                    ["-n", "5000", "-c", "1000"])
                answered = time.monotonic() - started
                results[name].append(r)
                line = ("  round %d %-24s avg %7.1f ms  p99 %7.1f ms  statuses %s %s" % (
                    round_no + 1, name, r["avg_ms"], r["p99_ms"], r["statuses"], r["errors"]))
                if name != "form only":
                    accepted = int(r["statuses"].get("202", 0))
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline and (
                            len(api.rows) - rows_before < accepted or
                            len(box.mails) - mails_before < accepted):
                        time.sleep(0.2)
                    done = time.monotonic() - started
                    line += ("\n      sheet %d rows, mail %d, all in %.1f s after the first "
                             "post (answers took %.1f s); sheet requests over the quota: %d" % (
                                 len(api.rows) - rows_before, len(box.mails) - mails_before,
                                 done, answered, api.over_quota))
                print(line, flush=True)
                proc.terminate()
                proc.wait(timeout=60)
        base = statistics.median(r["avg_ms"] for r in results["form only"])
        ours = statistics.median(r["avg_ms"] for r in results["with sheet, mail, slang"])
        # The machine's own drift between rounds is larger than the difference sought: each
        # round's two runs, back to back, are compared with each other.
        ratios = [w["avg_ms"] / f["avg_ms"]
                  for f, w in zip(results["form only"], results["with sheet, mail, slang"])]
        print("form posts: average with the tasks %.1f ms, without %.1f ms (medians); "
              "per round with/without %s: median ratio %.2f (target <= 1.0 within the noise: "
              "the sinks run behind the log)" % (
                  ours, base, " ".join("%.2f" % r for r in ratios), statistics.median(ratios)))
    finally:
        api.shutdown()
        smtp.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
