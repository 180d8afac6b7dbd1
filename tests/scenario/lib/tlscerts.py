"""Certificates for the TLS scenarios, made by the openssl command.

A test CA; a server certificate for 127.0.0.1/localhost; client
certificates signed by the CA (valid, or already expired), and one
self-signed.  P-256 keys: quick to make.  Each key file is mode 0600, as
custodyd requires of its own.
"""
import hashlib
import os
import ssl

import harness as h

OPENSSL = "/usr/bin/openssl"


def _run(args, work):
    r = h.run([OPENSSL, *args], bound_s=30, cwd=work)
    if r.returncode != 0:
        h.fail(f"openssl {' '.join(args)}: "
               f"{r.stderr.decode(errors='replace')}")


def _key(work, name):
    path = os.path.join(work, f"{name}.key")
    _run(["genpkey", "-algorithm", "EC", "-pkeyopt",
          "ec_paramgen_curve:P-256", "-out", path], work)
    os.chmod(path, 0o600)
    return path


class Certs:
    """Makes the CA and the server certificate in work/certs."""

    def __init__(self, work):
        if not os.access(OPENSSL, os.X_OK):
            h.fail("the openssl command is not installed (package openssl)")
        self.dir = os.path.join(work, "certs")
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key = _key(self.dir, "ca")
        self.ca = os.path.join(self.dir, "ca.pem")
        _run(["req", "-x509", "-new", "-key", self.ca_key, "-out", self.ca,
              "-days", "2", "-subj", "/O=custody test/CN=custody test CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)
        self.server_cert, self.server_key = self.issue(
            "server", "localhost", ["DNS:localhost", "IP:127.0.0.1"],
            server=True)

    def issue(self, name, cn, sans=(), days=2, server=False,
              self_signed=False):
        """A certificate (path) and its key (path) for cn with sans."""
        key = _key(self.dir, name)
        cert = os.path.join(self.dir, f"{name}.pem")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write("extendedKeyUsage=%s\n" %
                    ("serverAuth" if server else "clientAuth"))
            if sans:
                f.write("subjectAltName=%s\n" % ",".join(sans))
        subj = f"/O=custody test/CN={cn}"
        if self_signed:
            _run(["req", "-x509", "-new", "-key", key, "-out", cert,
                  "-days", str(days), "-subj", subj], self.dir)
            return cert, key
        csr = os.path.join(self.dir, f"{name}.csr")
        _run(["req", "-new", "-key", key, "-out", csr, "-subj", subj],
             self.dir)
        _run(["x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
              self.ca_key, "-CAcreateserial", "-days", str(days),
              "-extfile", ext, "-out", cert], self.dir)
        return cert, key


def fingerprint(cert):
    """SHA-256 of the certificate's DER, lower-case hex."""
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def octet(msgs):
    """RFC 5425 framing: each message as its length, a space, the bytes."""
    return b"".join(b"%d %s" % (len(m), m) for m in msgs)
