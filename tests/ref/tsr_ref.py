#!/usr/bin/python3
"""Reference check of RFC 3161 timestamp tokens (SPEC section 15).

Written from SPEC.md section 15 alone.  Debian's python3 has no RFC 3161
or CMS parser, so, as R-TSA-8 allows, the token's signature and
certificate chain are checked by `openssl ts -verify` (run at genTime
with -attime, and -partial_chain since every certificate given is a
trust anchor), and its fields are read from `openssl ts -reply -text`.
What openssl's check leaves out is checked here: the file is one DER
value and nothing else, at most 65536 bytes (R-TSA-1); the imprint
algorithm is SHA-256 (openssl takes any); the checkpoint beside the
token verifies by R-CKP-1 and R-CKP-2, with custody_ref.py.

With --tsa-crl, the revocation of the signer's chain (R-TSA-9) is
checked as R-TSA-8 gives it: the signer's certificate taken out of the
token by `openssl cms -verify -noverify -signer`, its chain to a
self-signed CA given by `openssl verify -show_chain -no_check_time`
(certificate validity was judged at genTime already); a certificate is
revoked when a CRL of its issuer lists its serial (`openssl crl -text`)
and verifies with the issuer's certificate (`openssl crl -CAfile`);
otherwise each certificate needs a complete CRL of its issuer with a
nextUpdate (no delta CRL) that verifies with the issuer's certificate,
`openssl verify -crl_check_all` with those CRLs must pass, and the CRLs'
own times, read from `openssl crl`, are checked here: the CRL R-TSA-9
(c) takes for each issuer in the chain was issued no earlier than
genTime and is current.

    tsr_ref.py --tsa-cert FILE [--tsa-cert FILE...] [--tsa-crl FILE...]
               [--root FILE] [--checkpoint FILE...] [--json] STORE_DIR

Exit status: 0 every token holds (or there is none, or the revocation
status of its signer is unknown: then it is "revocation-unknown", not
counted), 1 a token fails (a revoked signer included), 2 usage error or
a --tsa-crl file with a PEM block that cannot be read.
A token without its checkpoint is noted, not failed.
"""
import base64
import calendar
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import custody_ref  # noqa: E402

OPENSSL = "/usr/bin/openssl"
TS_MAX = 65536


def der_length(data):
    """Length of the first DER value of data, or None."""
    if len(data) < 2:
        return None
    first = data[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7f
    if n == 0 or n > 4 or len(data) < 2 + n:
        return None
    return 2 + n + int.from_bytes(data[2:2 + n], "big")


def gen_time(text):
    """genTime from `openssl ts -reply -text`, as seconds, or None."""
    m = re.search(r"^Time stamp: (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)"
                  r"(?:\.\d+)? (\d{4}) GMT$", text, re.M)
    if not m:
        return None
    mon = time.strptime(m.group(1), "%b").tm_mon
    return calendar.timegm((int(m.group(6)), mon, int(m.group(2)),
                            int(m.group(3)), int(m.group(4)),
                            int(m.group(5)), 0, 0, 0))


def crl_time(text, key):
    """lastUpdate / nextUpdate from `openssl crl -noout -KEY`, seconds."""
    m = re.search(r"^%s=(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$"
                  % key, text, re.M)
    if not m:
        return None
    mon = time.strptime(m.group(1), "%b").tm_mon
    return calendar.timegm((int(m.group(6)), mon, int(m.group(2)),
                            int(m.group(3)), int(m.group(4)),
                            int(m.group(5)), 0, 0, 0))


class Unusable(Exception):
    """A file given that cannot be read whole."""


def read_crls(paths):
    """[(issuer, lastUpdate, nextUpdate, pem, {revoked serials}, covers)]
    of every PEM CRL in paths (removeFromCRL entries are not counted).
    covers is False for a delta CRL and for one without nextUpdate: their
    revocations count, but they cannot show that nothing is revoked
    (R-TSA-9 c).  A PEM block that cannot be read raises Unusable."""
    out = []
    for p in paths:
        with open(p) as f:
            text = f.read()
        for kind, body in re.findall(r"-----BEGIN ([^-]+)-----(.*?)"
                                     r"-----END \1-----", text, re.S):
            try:
                base64.b64decode("".join(body.split()), validate=True)
            except ValueError:
                raise Unusable("%s: a PEM block is not base64" % p)
            if kind != "X509 CRL":
                continue
            pem = "-----BEGIN X509 CRL-----%s-----END X509 CRL-----" % body
            r = subprocess.run([OPENSSL, "crl", "-noout", "-issuer",
                                "-lastupdate", "-nextupdate", "-text"],
                               input=pem.encode(), capture_output=True,
                               timeout=30)
            crl = r.stdout.decode(errors="replace")
            m = re.search(r"^issuer=(.*)$", crl, re.M)
            if r.returncode != 0 or not m:
                raise Unusable("%s: a PEM CRL cannot be read" % p)
            revoked = set()
            for e in re.split(r"\n\s*Serial Number: ", crl)[1:]:
                serial = e.split()[0]
                if "Remove From CRL" not in e:
                    revoked.add(serial)
            nxt = crl_time(crl, "nextUpdate")
            covers = nxt is not None and "Delta CRL Indicator" not in crl
            out.append((m.group(1).strip(), crl_time(crl, "lastUpdate"),
                        nxt, pem, revoked, covers))
    return out


def pem_blocks(paths, kind):
    """The PEM blocks of kind ("CERTIFICATE", "X509 CRL") in paths."""
    out = []
    for p in paths:
        with open(p) as f:
            out += re.findall(r"-----BEGIN %s-----.*?-----END %s-----"
                              % (kind, kind), f.read(), re.S)
    return out


def cert_fields(pem):
    """(subject, issuer, serial) of a PEM certificate, as openssl prints
    them, or None."""
    r = subprocess.run([OPENSSL, "x509", "-noout", "-subject", "-issuer",
                        "-serial"], input=pem.encode(), capture_output=True,
                       timeout=30)
    text = r.stdout.decode(errors="replace")
    f = [re.search(r"^%s=(.*)$" % k, text, re.M)
         for k in ("subject", "issuer", "serial")]
    if r.returncode != 0 or None in f:
        return None
    return tuple(m.group(1).strip() for m in f)


def crl_signed_by(d, crl_pem, issuer_pem):
    """Whether the CRL crl_pem verifies with the key of the certificate
    issuer_pem (openssl crl -CAfile), using files in the directory d."""
    crl, issuer = os.path.join(d, "one.crl"), os.path.join(d, "issuer.pem")
    with open(issuer, "w") as f:
        f.write(issuer_pem + "\n")
    with open(crl, "w") as f:
        f.write(crl_pem + "\n")
    v = subprocess.run([OPENSSL, "crl", "-in", crl, "-CAfile", issuer,
                        "-noout"], capture_output=True, timeout=30)
    return v.returncode == 0 and b"verify OK" in v.stdout + v.stderr


def check_revocation(tsr, cafile, crls, gen, now):
    """(state, detail) of the signer's chain by R-TSA-9: "good",
    "revoked" or "unknown"."""
    with tempfile.TemporaryDirectory() as d:
        tok, signer, certs = (os.path.join(d, x) for x in
                              ("token.der", "signer.pem", "certs.pem"))
        for argv in (["ts", "-reply", "-in", tsr, "-token_out", "-out", tok],
                     ["cms", "-verify", "-noverify", "-inform", "DER",
                      "-in", tok, "-signer", signer, "-out", os.devnull],
                     ["pkcs7", "-inform", "DER", "-in", tok, "-print_certs",
                      "-out", certs]):
            if subprocess.run([OPENSSL, *argv], capture_output=True,
                              timeout=30).returncode != 0:
                return "unknown", "R-TSA-9: the signer cannot be read"

        def run(*extra):
            return subprocess.run([OPENSSL, "verify", "-CAfile", cafile,
                                   "-untrusted", certs, "-no_check_time",
                                   "-show_chain", *extra, signer],
                                  capture_output=True, timeout=30)
        # The chain up to a self-signed CA given, as certificates.
        r = run()
        out = (r.stdout + r.stderr).decode(errors="replace")
        if r.returncode != 0:
            return "unknown", "R-TSA-9: no chain to a self-signed CA: " + \
                out.strip().splitlines()[-1]
        subjects = [m.group(2).strip() for m in
                    re.finditer(r"^depth=(\d+): (.*?)( \(untrusted\))?$",
                                out, re.M)]
        known = {}
        for pem in pem_blocks([cafile, certs], "CERTIFICATE"):
            f = cert_fields(pem)
            if f:
                known.setdefault(f[0], (pem, f))
        chain = [known.get(x) for x in subjects]
        if None in chain:
            return "unknown", "R-TSA-9: a certificate of the chain not found"
        # R-TSA-9 a, b: any CRL of a certificate's issuer that verifies
        # with the issuer's key and lists its serial revokes it.
        for i, (pem, (subj, iss, serial)) in enumerate(chain):
            up = chain[i + 1][0] if i + 1 < len(chain) else pem
            if i + 1 == len(chain) and subj != iss:
                continue
            for c in crls:
                if c[0] != iss or serial not in c[4]:
                    continue
                if crl_signed_by(d, c[3], up):
                    return "revoked", "R-TSA-9: %s (serial %s) revoked by " \
                        "a CRL of %s" % (subj, serial, iss)
        # R-TSA-9 a, c: the CRLs that may cover, and of those each
        # certificate's issuer's that verify with its key.
        mine = []
        for i, (pem, (subj, iss, serial)) in enumerate(chain):
            up = chain[i + 1][0] if i + 1 < len(chain) else pem
            ok = [c for c in crls if c[0] == iss and c[5] and
                  c[1] is not None and crl_signed_by(d, c[3], up)]
            if not ok:
                return "unknown", "R-TSA-9: no complete CRL of %s with a " \
                    "nextUpdate whose signature holds" % iss
            mine.append((iss, ok))
        crlfile = os.path.join(d, "given.crl")
        with open(crlfile, "w") as f:
            f.write("\n".join(c[3] for c in crls if c[5]) + "\n")
        r = run("-CRLfile", crlfile, "-crl_check_all")
    out = (r.stdout + r.stderr).decode(errors="replace")
    if r.returncode != 0:
        return "unknown", "R-TSA-9: openssl verify: " + \
            out.strip().splitlines()[-1]
    for iss, ok in mine:
        # R-TSA-9 c: the newest current one, or the newest of all.
        cur = [c for c in ok if c[1] <= now <= c[2]]
        last, nxt = max((c[1], c[2]) for c in cur or ok)
        if last < gen or last > now or nxt < now:
            return "unknown", "R-TSA-9: the newest CRL of %s is not " \
                "current or predates genTime" % iss
    return "good", "holds"


def check_token(tsr, ckpt, cafile):
    """(ok, genTime or None, detail) for one token (R-TSA-1, R-TSA-5)."""
    with open(tsr, "rb") as f:
        data = f.read(TS_MAX + 1)
    if not 0 < len(data) <= TS_MAX or data[0] != 0x30 or \
            der_length(data) != len(data):
        return False, None, "R-TSA-1: not one DER value of 1..65536 bytes"
    r = subprocess.run([OPENSSL, "ts", "-reply", "-in", tsr, "-text"],
                       capture_output=True, timeout=30)
    text = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        return False, None, "R-TSA-1: openssl cannot read it"
    if not re.search(r"^Status: Granted", text, re.M):
        return False, None, "R-TSA-1: status is not granted"
    if not re.search(r"^Version: 1$", text, re.M):
        return False, None, "R-TSA-1: TSTInfo version is not 1"
    if not re.search(r"^Hash Algorithm: sha256$", text, re.M):
        return False, None, "R-TSA-5 b: the imprint is not SHA-256"
    t = gen_time(text)
    if t is None:
        return False, None, "R-TSA-1: no genTime"
    r = subprocess.run([OPENSSL, "ts", "-verify", "-data", ckpt, "-in", tsr,
                        "-CAfile", cafile, "-partial_chain",
                        "-attime", str(t)], capture_output=True, timeout=30)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).decode(errors="replace").strip()
        return False, t, "R-TSA-5 b/c: openssl ts -verify: " + \
            out.splitlines()[-1]
    return True, t, "holds"


def verify_tokens(store, cas, root=None, checkpoints=(), crlpaths=()):
    now = int(time.time())
    crls = read_crls(crlpaths)
    tokens = sorted(glob.glob(os.path.join(store, "checkpoints", "*.tsr")))
    for c in checkpoints:
        if c.endswith(".ckpt") and os.path.exists(c[:-5] + ".tsr"):
            tokens.append(c[:-5] + ".tsr")
    tokens = [t for t in tokens if not os.path.basename(t).startswith(".")]
    ckpts = [t[:-4] + ".ckpt" for t in tokens
             if os.path.exists(t[:-4] + ".ckpt")]
    report = custody_ref.verify_store(store, root, ckpts)
    bad_ckpts = {f.file for f in report.findings
                 if f.rule.startswith("R-CKP")}
    results = []
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as bundle:
        for ca in cas:
            with open(ca, "rb") as f:
                bundle.write(f.read() + b"\n")
        bundle.flush()
        for t in tokens:
            ckpt = t[:-4] + ".ckpt"
            if not os.path.exists(ckpt):
                results.append({"file": t, "state": "no-checkpoint",
                                "gen_time": None, "detail": "not checked"})
                continue
            ok, gen, detail = check_token(t, ckpt, bundle.name)
            rev = "good"
            if ok and crlpaths:
                rev, rdetail = check_revocation(t, bundle.name, crls, gen,
                                                now)
                if rev != "good":
                    detail = rdetail
                ok = rev != "revoked"
            if ok and ckpt in bad_ckpts:
                ok, detail = False, "R-TSA-5 d: its checkpoint fails"
            state = "failed"
            if ok:
                state = "verified" if rev == "good" else \
                    "revocation-unknown"
            results.append({"file": t, "state": state, "gen_time": gen,
                            "detail": detail})
    failed = any(r["state"] == "failed" for r in results) or \
        report.verdict != "intact"
    return ("failed" if failed else "intact"), results


def main(argv):
    cas, crls, checkpoints, root, as_json, store = [], [], [], None, False, \
        None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--tsa-cert", "--tsa-crl", "--checkpoint", "--root") and \
                i + 1 < len(argv):
            {"--tsa-cert": cas, "--tsa-crl": crls,
             "--checkpoint": checkpoints}.get(
                a, []).append(argv[i + 1])
            if a == "--root":
                root = argv[i + 1]
            i += 2
            continue
        if a == "--json":
            as_json = True
        elif a.startswith("-") or store is not None:
            print(__doc__, file=sys.stderr)
            return 2
        else:
            store = a
        i += 1
    if store is None or not cas:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        verdict, results = verify_tokens(store, cas, root, checkpoints, crls)
    except Unusable as e:
        print("--tsa-crl %s" % e, file=sys.stderr)
        return 2
    if as_json:
        json.dump({"verdict": verdict, "timestamps": results}, sys.stdout,
                  indent=1)
        sys.stdout.write("\n")
    else:
        for r in results:
            print("%s: %s (%s)" % (r["file"], r["state"], r["detail"]))
        print("verdict: %s" % verdict)
    return 0 if verdict == "intact" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
