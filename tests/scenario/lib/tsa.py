"""A local RFC 3161 time-stamping authority for the scenario tests.

Certificates made by the openssl command in a temporary directory: a CA,
a TSA certificate it issues with extendedKeyUsage=critical,timeStamping
(RFC 3161 section 2.3), and an openssl.cnf [tsa] section.  A tiny HTTP
server on 127.0.0.1 answers each POSTed TimeStampReq by running
`openssl ts -reply` and returns the DER as application/timestamp-reply;
its mode can be switched to answer 500 or garbage instead.
"""
import base64
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import harness as h

OPENSSL = "/usr/bin/openssl"


def _run(args, cwd):
    r = h.run([OPENSSL, *args], bound_s=30, cwd=cwd)
    if r.returncode != 0:
        h.fail(f"openssl {' '.join(args)}: "
               f"{r.stderr.decode(errors='replace')}")
    return r


def _key(d, name):
    path = os.path.join(d, f"{name}.key")
    _run(["genpkey", "-algorithm", "EC", "-pkeyopt",
          "ec_paramgen_curve:P-256", "-out", path], d)
    os.chmod(path, 0o600)
    return path


class Authority:
    """A CA and a TSA certificate it issued (with or without the EKU);
    with intermediate, the root CA issues an intermediate CA (self.inter,
    carried in every token) that issues the TSA certificate."""

    def __init__(self, work, name="tsa", eku=True, intermediate=False):
        if not os.access(OPENSSL, os.X_OK):
            h.fail("the openssl command is not installed (package openssl)")
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        d = self.dir
        self.ca_key = _key(d, "ca")
        self.ca = os.path.join(d, "ca.pem")
        _run(["req", "-x509", "-new", "-key", self.ca_key, "-out", self.ca,
              "-days", "2", "-subj", f"/O=custody test/CN={name} root CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
        issuer, issuer_key = self.ca, self.ca_key
        self.inter = self.inter_key = None
        if intermediate:
            self.inter_key = _key(d, "inter")
            self.inter = os.path.join(d, "inter.pem")
            iext = os.path.join(d, "inter.ext")
            with open(iext, "w") as f:
                f.write("basicConstraints=critical,CA:TRUE\n"
                        "keyUsage=critical,keyCertSign,cRLSign\n")
            icsr = os.path.join(d, "inter.csr")
            _run(["req", "-new", "-key", self.inter_key, "-out", icsr,
                  "-subj", f"/O=custody test/CN={name} intermediate CA"], d)
            _run(["x509", "-req", "-in", icsr, "-CA", self.ca, "-CAkey",
                  self.ca_key, "-CAcreateserial", "-days", "2", "-extfile",
                  iext, "-out", self.inter], d)
            issuer, issuer_key = self.inter, self.inter_key
        self.key = _key(d, "signer")
        self.cert = os.path.join(d, "signer.pem")
        ext = os.path.join(d, "signer.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n")
            if eku:
                f.write("extendedKeyUsage=critical,timeStamping\n")
        csr = os.path.join(d, "signer.csr")
        _run(["req", "-new", "-key", self.key, "-out", csr, "-subj",
              f"/O=custody test/CN={name} time-stamping unit"], d)
        _run(["x509", "-req", "-in", csr, "-CA", issuer, "-CAkey",
              issuer_key, "-CAcreateserial", "-days", "2", "-extfile", ext,
              "-out", self.cert], d)
        self.conf = os.path.join(d, "openssl.cnf")
        with open(self.conf, "w") as f:
            f.write(f"""[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {d}
serial = {d}/serial
crypto_device = builtin
signer_cert = {self.cert}
signer_key = {self.key}
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
            if intermediate:
                f.write(f"certs = {self.inter}\n")
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")

    def crl(self, out, revoked=(), reason="keyCompromise", inter=False,
            extra=(), ext=""):
        """A PEM CRL of this CA (of the intermediate CA with inter) made by
        `openssl ca -gencrl` (with the options extra, and the extension
        lines ext besides the authority key identifier), valid a day,
        listing the certificates revoked (PEM paths) with reason (an RFC
        5280 CRLReason name), written to out.  Each call has a database of
        its own."""
        db = tempfile.mkdtemp(dir=self.dir, prefix="ca-db-")
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "crlnumber"), "w") as f:
            f.write("01\n")
        conf = os.path.join(db, "ca.cnf")
        with open(conf, "w") as f:
            f.write(f"""[ca]
default_ca = ca_default
[ca_default]
database = {db}/index.txt
crlnumber = {db}/crlnumber
certificate = {self.inter if inter else self.ca}
private_key = {self.inter_key if inter else self.ca_key}
default_md = sha256
default_crl_days = 1
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
{ext}
""")
        for cert in revoked:
            _run(["ca", "-config", conf, "-revoke", cert, "-crl_reason",
                  reason], db)
        _run(["ca", "-config", conf, "-gencrl", "-out", out, *extra], db)
        return out

    def crl_without_next_update(self, crl, out):
        """The PEM CRL crl of this (root) CA without its nextUpdate, signed
        again with the CA's key (openssl ca always writes one), to out."""
        with open(crl) as f:
            der = base64.b64decode("".join(f.read().split("-----")[2]
                                           .split()))
        (_, body), = _items(der)
        (_, tbs), (alg, alg_body), _ = _items(body)
        parts = [_tlv(t, b) for t, b in _items(tbs)]
        # version, signature, issuer, thisUpdate, nextUpdate (a Time).
        if parts[4][0] in (0x17, 0x18):
            del parts[4]
        tbs = _tlv(0x30, b"".join(parts))
        path = os.path.join(self.dir, "crl-tbs.der")
        with open(path, "wb") as f:
            f.write(tbs)
        sig = _run(["dgst", "-sha256", "-sign", self.ca_key, path],
                   self.dir).stdout
        der = _tlv(0x30, tbs + _tlv(alg, alg_body) + _tlv(0x03, b"\0" + sig))
        b64 = base64.b64encode(der).decode()
        with open(out, "w") as f:
            f.write("-----BEGIN X509 CRL-----\n" +
                    "".join(b64[i:i + 64] + "\n"
                            for i in range(0, len(b64), 64)) +
                    "-----END X509 CRL-----\n")
        return out

    def reply(self, query):
        """The DER TimeStampResp openssl makes for query (bytes)."""
        with tempfile.NamedTemporaryFile(dir=self.dir, suffix=".tsq",
                                         delete=False) as q:
            q.write(query)
        out = q.name + ".tsr"
        try:
            _run(["ts", "-reply", "-config", self.conf, "-queryfile", q.name,
                  "-signer", self.cert, "-inkey", self.key, "-out", out],
                 self.dir)
            with open(out, "rb") as f:
                return f.read()
        finally:
            for p in (q.name, out):
                try:
                    os.unlink(p)
                except OSError:
                    pass


class Server:
    """HTTP on 127.0.0.1: POST a TimeStampReq, get authority's answer.

    mode: "ok" (the TSA's reply), "500" (an HTTP error), "garbage" (200
    with bytes that are not a TimeStampResp), "huge" (128 KiB, more than
    a token file may hold), "hang" (no answer until closed); delay_s
    slows every answer.  tls=(cert, key) serves HTTPS.  Counts the
    requests."""

    def __init__(self, authority, tls=None):
        self.authority = authority
        self.mode = "ok"
        self.delay_s = 0.0
        self.requests = 0
        self.lock = threading.Lock()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                query = self.rfile.read(n)
                with srv.lock:
                    srv.requests += 1
                    mode = srv.mode
                ctype = self.headers.get("Content-Type", "")
                if mode == "500" or ctype != "application/timestamp-query":
                    self.send_response(500)
                    self.end_headers()
                    return
                if mode == "hang":
                    srv.released.wait(30)
                    return
                if srv.delay_s:
                    time.sleep(srv.delay_s)
                if mode == "garbage":
                    body = b"\x30\x03\x02\x01\x00garbage"
                elif mode == "huge":
                    body = b"\x30\x84" + b"\x00" * (1 << 17)
                else:
                    body = srv.authority.reply(query)
                self.send_response(200)
                self.send_header("Content-Type",
                                 "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.released = threading.Event()
        scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
            scheme = "https"
        self.url = (f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
                    "/tsa")
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def count(self):
        with self.lock:
            return self.requests

    def close(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x100:
        head = bytes([0x81, n])
    else:
        head = bytes([0x82, n >> 8, n & 0xff])
    return bytes([tag]) + head + body


def _items(der):
    """[(tag, body)] of the DER values that der holds one after another."""
    out, i = [], 0
    while i < len(der):
        n, j = der[i + 1], i + 2
        if n & 0x80:
            n, j = int.from_bytes(der[j:j + (n & 0x7f)], "big"), \
                j + (n & 0x7f)
        out.append((der[i], der[j:j + n]))
        i = j + n
    return out


def resign(tsr, authority, out):
    """The TSTInfo of the response tsr, signed again by authority's
    signer with `openssl cms -sign -cades` (which, unlike `openssl ts
    -reply`, signs with a certificate whatever its extended key usage),
    wrapped in a granted TimeStampResp, written to out."""
    d = authority.dir
    tok, tst, cms = (os.path.join(d, x) for x in
                     ("resign.tok", "resign.tst", "resign.cms"))
    _run(["ts", "-reply", "-in", tsr, "-token_out", "-out", tok], d)
    _run(["cms", "-verify", "-noverify", "-inform", "DER", "-in", tok,
          "-binary", "-out", tst], d)
    _run(["cms", "-sign", "-binary", "-nodetach", "-cades", "-md", "sha256",
          "-econtent_type", "1.2.840.113549.1.9.16.1.4", "-in", tst,
          "-signer", authority.cert, "-inkey", authority.key,
          "-outform", "DER", "-out", cms], d)
    with open(cms, "rb") as f:
        content = f.read()
    with open(out, "wb") as f:
        f.write(_tlv(0x30, _tlv(0x30, b"\x02\x01\x00") + content))


def openssl_verify(ckpt, tsr, ca, partial=False):
    """The command SPEC R-TSA-8 documents; returns (exit code, output)."""
    argv = [OPENSSL, "ts", "-verify", "-data", ckpt, "-in", tsr,
            "-CAfile", ca]
    if partial:
        argv.append("-partial_chain")
    r = subprocess.run(argv, capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def openssl_verify_revocation(tsr, ca, crl):
    """The revocation check SPEC R-TSA-8 documents (the signer out of the
    token, then `openssl verify -crl_check_all`); returns (exit code,
    output) of the last command."""
    d = tempfile.mkdtemp(prefix="tsa-rev-")
    tok, signer = os.path.join(d, "token.der"), os.path.join(d, "signer.pem")
    try:
        for argv in (["ts", "-reply", "-in", tsr, "-token_out", "-out", tok],
                     ["cms", "-verify", "-noverify", "-inform", "DER",
                      "-in", tok, "-signer", signer, "-out", os.devnull]):
            r = subprocess.run([OPENSSL, *argv], capture_output=True,
                               timeout=30)
            if r.returncode != 0:
                return r.returncode, (r.stdout + r.stderr).decode(
                    errors="replace")
        r = subprocess.run([OPENSSL, "verify", "-CAfile", ca, "-CRLfile", crl,
                            "-crl_check_all", "-no_check_time", signer],
                           capture_output=True, timeout=30)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")
    finally:
        shutil.rmtree(d, ignore_errors=True)
