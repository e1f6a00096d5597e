"""HTTPS on the listener (server.tls), black-box: `sluice run` with a certificate made by
openssl for 127.0.0.1.
- a client that trusts the certificate posts and reads over HTTPS;
- plain HTTP to the HTTPS port gets no answer, and the server goes on;
- a client that opens a connection and never finishes the handshake is closed after
  server.header_timeout, while others are served;
- SIGHUP reads the files again: new connections get the new certificate, a connection opened
  before keeps working; files that do not load are logged and the certificate in use stays;
- a key that is not the certificate's, or a missing file, stops the start with a message that
  names the setting.

usage: tls_test.py SLUICE_BINARY
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Checks, Server, wait_for  # noqa: E402


def make_cert(directory, name):
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1 " + name, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def https(server, trusted):
    context = ssl.create_default_context(cafile=trusted)
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)


def call(conn, method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


class Setup:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="sluice-tls-test-")
        self.first = make_cert(self.dir, "first")
        self.second = make_cert(self.dir, "second")
        self.cert = os.path.join(self.dir, "server.pem")
        self.key = os.path.join(self.dir, "server.key")
        self.use(self.first)
        self.server = Server(binary, config_text="""
server: {header_timeout: 500ms, tls: {cert_file: '%s', key_file: '%s'}}
streams: {events: {}}
""" % (self.cert, self.key)).start()

    def use(self, pair):
        shutil.copy(pair[0], self.cert)
        shutil.copy(pair[1], self.key)

    def cleanup(self):
        self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def posts_and_reads_over_https(s):
    conn = https(s.server, s.first[0])
    status, body = call(conn, "POST", "/v1/streams/events/events", b'{"id":"over-tls"}')
    assert status == 202, (status, body)
    wait_for(lambda: b"over-tls" in call(conn, "GET", "/v1/events?limit=10")[1], 10,
             "the event read back over HTTPS")
    conn.close()
    # A client that does not trust the certificate refuses it.
    try:
        https(s.server, s.second[0]).request("GET", "/healthz")
        raise AssertionError("a certificate the client does not trust was accepted")
    except ssl.SSLCertVerificationError:
        pass


def plain_http_gets_no_answer(s):
    conn = http.client.HTTPConnection("127.0.0.1", s.server.port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        raise AssertionError("plain HTTP on the HTTPS port was answered %d" % status)
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        pass
    conn.close()
    assert call(https(s.server, s.first[0]), "GET", "/healthz")[0] == 200


def silent_handshake_is_closed(s):
    raw = socket.create_connection(("127.0.0.1", s.server.port))
    raw.settimeout(10)
    started = time.monotonic()
    assert call(https(s.server, s.first[0]), "GET", "/healthz")[0] == 200  # others go on
    assert raw.recv(1) == b"", "the server sent something to a silent client"
    waited = time.monotonic() - started
    raw.close()
    assert 0.3 < waited < 5, "closed after %.1f s; server.header_timeout is 500 ms" % waited


def sighup_reloads_the_certificate(s):
    before = https(s.server, s.first[0])
    assert call(before, "GET", "/healthz")[0] == 200  # kept alive across the reload
    s.use(s.second)
    s.server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: any("TLS certificate reloaded" in line for line in s.server.stderr_lines),
             10, "the reload logged")
    assert call(https(s.server, s.second[0]), "GET", "/healthz")[0] == 200
    try:
        https(s.server, s.first[0]).request("GET", "/healthz")
        raise AssertionError("the old certificate is still served to new connections")
    except ssl.SSLCertVerificationError:
        pass
    assert call(before, "GET", "/healthz")[0] == 200
    before.close()
    # Files that do not load: logged, and the certificate in use stays.
    with open(s.cert, "w") as f:
        f.write("not a certificate\n")
    s.server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: any("TLS certificate not reloaded" in line and "server.tls.cert_file" in line
                         for line in s.server.stderr_lines), 10, "the failed reload logged")
    assert call(https(s.server, s.second[0]), "GET", "/healthz")[0] == 200
    assert s.server.proc.poll() is None


def bad_files_stop_the_start(binary, s):
    for cert, key, named in ((s.first[0], s.second[1], "server.tls.key_file"),
                             (os.path.join(s.dir, "missing.pem"), s.first[1],
                              "server.tls.cert_file")):
        server = Server(binary, config_text="server: {tls: {cert_file: '%s', key_file: '%s'}}\n"
                        % (cert, key))
        try:
            server.start()
            raise AssertionError("started with cert_file=%s key_file=%s" % (cert, key))
        except RuntimeError as e:
            assert named in str(e), str(e)
        finally:
            server.cleanup()


def main():
    binary = sys.argv[1]
    checks = Checks()
    s = Setup(binary)
    try:
        checks.run("posts and reads over HTTPS; an untrusted certificate is refused",
                   posts_and_reads_over_https, s)
        checks.run("plain HTTP to the HTTPS port gets no answer", plain_http_gets_no_answer, s)
        checks.run("a silent handshake is closed after header_timeout",
                   silent_handshake_is_closed, s)
        checks.run("SIGHUP reloads the certificate; a bad one is refused",
                   sighup_reloads_the_certificate, s)
        checks.run("a mismatched key or a missing file stops the start", bad_files_stop_the_start,
                   binary, s)
    finally:
        s.cleanup()
    checks.finish()


if __name__ == "__main__":
    main()
