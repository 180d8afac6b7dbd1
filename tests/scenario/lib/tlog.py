"""A test-side log for the witness scenarios (SPEC sections 13 and 14):
the chain tree (RFC 6962 with BLAKE2b-256), consistency proofs, C2SP
signed-note checkpoints signed by an Ed25519 log key, cosignature/v1
checks, and add-checkpoint requests over HTTPS.  Written from the SPEC
and the C2SP texts alone, independently of the collector's C code.
"""
import base64
import hashlib
import http.client
import ssl
import struct

import nacl.exceptions
import nacl.signing

EM_DASH = "\u2014"


def H(b):
    return hashlib.blake2b(b, digest_size=32).digest()


def leaf_hash(data):
    return H(b"\x00" + data)


def mth(leaves):
    """RFC 6962 MTH over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def consistency(m, leaves, start=True):
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], start)."""
    n = len(leaves)
    if m == n:
        return [] if start else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return consistency(m, leaves[:k], start) + [mth(leaves[k:])]
    return consistency(m - k, leaves[k:], False) + [mth(leaves[:k])]


def key_id(name, alg, pk):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pk
                          ).digest()[:4]


class Log:
    """A log: origin, key, and the leaves it has so far."""

    def __init__(self, origin, seed=None):
        self.origin = origin
        self.sk = nacl.signing.SigningKey(seed or bytes(32))
        self.pk = bytes(self.sk.verify_key)
        self.leaves = []

    def vkey(self):
        return "%s+%s+%s" % (self.origin, key_id(self.origin, 1, self.pk).hex(),
                             base64.b64encode(b"\x01" + self.pk).decode())

    def grow(self, n, tag=b""):
        for _ in range(n):
            i = len(self.leaves)
            self.leaves.append(leaf_hash(H(tag + b"block %d" % i)))

    def text(self, size, leaves=None):
        root = mth((leaves or self.leaves)[:size])
        return "%s\n%d\n%s\n" % (self.origin, size,
                                 base64.b64encode(root).decode())

    def note(self, size, leaves=None, signer=None):
        t = self.text(size, leaves).encode()
        sk = signer or self.sk
        sig = sk.sign(t).signature
        kid = key_id(self.origin, 1, bytes(sk.verify_key))
        return t + b"\n" + ("%s %s %s\n" % (
            EM_DASH, self.origin,
            base64.b64encode(kid + sig).decode())).encode()

    def request(self, old, size, leaves=None, signer=None, spoil=False):
        lv = leaves or self.leaves
        proof = consistency(old, lv[:size]) if 0 < old < size else []
        if spoil and proof:
            proof[-1] = bytes([proof[-1][0] ^ 1]) + proof[-1][1:]
        body = b"old %d\n" % old
        for p in proof:
            body += base64.b64encode(p) + b"\n"
        return body + b"\n" + self.note(size, lv, signer)


def parse_vkey(text):
    name, kid, key = text.strip().split("+", 2)
    raw = base64.b64decode(key)
    return name, bytes.fromhex(kid), raw[0], raw[1:]


def cosig_ok(vkey_text, note_text, line):
    """True if line is vkey's valid cosignature/v1 of note_text."""
    name, kid, alg, pk = parse_vkey(vkey_text)
    if alg != 4 or not line.startswith(EM_DASH + " " + name + " "):
        return False
    raw = base64.b64decode(line.rstrip("\n").split(" ")[2])
    if raw[:4] != kid or len(raw) != 4 + 8 + 64:
        return False
    ts = struct.unpack(">Q", raw[4:12])[0]
    msg = b"cosignature/v1\ntime %d\n" % ts + note_text
    try:
        nacl.signing.VerifyKey(pk).verify(msg, raw[12:])
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def post(port, ca, body, timeout=10):
    """POST /add-checkpoint; (status, content type, body bytes)."""
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                    timeout=timeout)
    c.request("POST", "/add-checkpoint", body=body,
              headers={"Content-Type": "text/plain"})
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type"), r.read())
    c.close()
    return out
