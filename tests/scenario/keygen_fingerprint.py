"""The root key's identity (SPEC R-KEY-5): custodyd keygen prints the
SHA-256 of the root public key in groups, with the chain id, and words on
where to keep the key; custody-verify prints the same two lines, byte for
byte, for the root key it used, and the JSON report the same digits.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def identity_lines(text):
    m = re.search(r"^(  root key SHA-256  (?:[0-9a-f]{4} ){15}[0-9a-f]{4}\n"
                  r"  chain id          [0-9a-f]{32}\n)", text, re.M)
    h.check(m is not None, f"the two identity lines:\n{text}")
    return m.group(1)


def body():
    work = h.workdir("keygen")
    keys = os.path.join(work, "keys")
    r = h.run([h.binary("CUSTODYD"), "keygen", "--out", keys])
    out = r.stdout.decode()
    h.check(r.returncode == 0, f"keygen exits 0 ({r.stderr.decode()})")
    made = identity_lines(out)
    for words in ("File this with the key", "needs exactly this root",
                  "identifies it"):
        h.check(words in out, f"keygen says {words!r}")
    with open(os.path.join(keys, "root.pub")) as f:
        _, chain, pk = f.read().split()
    digest = hashlib.sha256(base64.b64decode(pk)).hexdigest()
    h.check(made.split("\n")[0].split("SHA-256  ")[1].replace(" ", "") ==
            digest and chain in made,
            "the fingerprint is the SHA-256 of the 32 key bytes")

    d = h.Daemon(work, udp=False, unix=False)
    os.makedirs(os.path.join(d.data, "keys"), mode=0o700)
    for name in ("root.pub", "epoch.key"):
        shutil.copy2(os.path.join(keys, name),
                     os.path.join(d.data, "keys", name))
    d.start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", 10)
    d.stop()
    text = h.verify(d.data, ["--root", os.path.join(keys, "root.pub")])
    h.check(identity_lines(text) == made,
            "custody-verify prints the same two lines as keygen")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--json", "--root",
               os.path.join(keys, "root.pub"), d.data], bound_s=60)
    rep = json.loads(r.stdout)
    h.check(rep["root"]["sha256"].replace(" ", "") == digest,
            f"the JSON report's root.sha256: {rep['root']}")


if __name__ == "__main__":
    h.main(body, bound_s=60)
