"""Local stand-ins for the outside services sinks talk to, doing to a client what the real
ones do: Google's OAuth2 token endpoint and Sheets API (sheets sink), and an SMTP server
(Debian's python3-aiosmtpd) for the email sink."""

import base64
import email
import email.policy
import http.server
import json
import logging
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

CLIENT_EMAIL = "forms-writer@example-project.iam.gserviceaccount.com"


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SheetsApi(http.server.ThreadingHTTPServer):
    """Google's token endpoint and the Sheets API's values:append and values GET. Tokens last
    6 s; more than `per_second` API requests in a second get 429."""

    def __init__(self, public_key=None, per_second=10):
        super().__init__(("127.0.0.1", 0), Handler)
        self.public_key = public_key
        self.per_second = per_second
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
        return len(self.server.recent) <= self.server.per_second

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
            # The id column: the one after the row's own columns, the last of each row.
            ids = [row[-1] for row in api.rows]
            return self.answer(200, {"majorDimension": "COLUMNS", "values": [ids]})


class Mailbox:
    """Records every mail the SMTP server accepts; refuses `refuse@` recipients for good and
    the first `busy` messages for a while."""

    def __init__(self, busy=0):
        self.mails = []
        self.busy = busy
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.busy > 0:
                self.busy -= 1
                return "451 4.3.0 try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.mails.append({"to": envelope.rcpt_tos, "from": envelope.mail_from,
                               "subject": str(message["subject"]),
                               "message_id": str(message["message-id"]),
                               "body": message.get_content(), "login": session.authenticated,
                               "at": time.monotonic()})
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"forms" and auth_data.password == b"s3cret-pass"
    return AuthResult(success=ok, handled=False)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"forms" and auth_data.password == b"s3cret-pass"
    return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(box):
    """An SMTP server on a free loopback port taking AUTH PLAIN forms / s3cret-pass."""
    # aiosmtpd 1.4 reads its own deprecated attribute at every AUTH and logs a warning each time.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    smtp = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                      auth_require_tls=False)
    smtp.start()
    return smtp


def service_account(work, token_url):
    """A fresh RSA key as a service account's JSON key file: (key file, public key PEM)."""
    private_key, public_key = os.path.join(work, "key.pem"), os.path.join(work, "pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", private_key], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", private_key, "-pubout", "-out", public_key],
                   check=True, capture_output=True)
    key_file = os.path.join(work, "service-account.json")
    with open(key_file, "w") as f:
        json.dump({"type": "service_account", "client_email": CLIENT_EMAIL,
                   "private_key": open(private_key).read(), "token_uri": token_url}, f)
    return key_file, public_key
