#!/usr/bin/python3
"""forge_bundle_note.py: altered copies of a version 2 evidence bundle
(SPEC 11.4), each with its trailer made again, for tests.

    forge_bundle_note.py IN.cbnd OUTDIR

writes into OUTDIR one bundle per forgery of `FORGERIES`, named
NAME.cbnd, and prints `NAME RULE` per line: the rule each one breaks.
Everything is derived from IN and fixed seeds, so the output is the same
bytes on every run.  Imported, it gives `split`, `join`, `cosign` and
`forgeries` to tests that need other variants.
"""

import base64
import hashlib
import os
import struct
import sys

import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ref"))

import custody_ref as ref  # noqa: E402

HDR = struct.Struct("<8sHHI16sqIIIIII")
PROOF = struct.Struct("<QQB7s")
D_BUNDLE = ref._domain("custody/v1/bundle")


def split(data):
    """(prefix, log.cert bytes, note bytes, [(block_no, size, [hash])])
    of a version 2 bundle; prefix is everything before the log
    certificate entry (its header still counting the old proofs)."""
    f = HDR.unpack_from(data, 0)
    assert f[1] == 2, "not a version 2 bundle"
    note_len, ncert, nblk, nrec, nckp, nproof = f[6:12]
    pos = 64 + note_len + ncert * ref.CERT_LEN
    for _ in range(nblk):
        h = dict(zip(ref.BLK_FIELDS, ref.BLK_HDR.unpack_from(data, pos)))
        pos += ref.BLK_HDR_LEN + h["cert_len"] + ref.SIG_LEN
    for _ in range(nrec):
        rlen, plen = struct.unpack_from("<IB", data, pos + 8)
        pos += 16 + rlen + 32 * plen
    for _ in range(nckp):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4 + n
    prefix = data[:pos]
    (n,) = struct.unpack_from("<I", data, pos)
    cert = data[pos + 4:pos + 4 + n]
    pos += 4 + n
    (n,) = struct.unpack_from("<I", data, pos)
    note = data[pos + 4:pos + 4 + n]
    pos += 4 + n
    proofs = []
    for _ in range(nproof):
        bno, size, plen, _res = PROOF.unpack_from(data, pos)
        pos += PROOF.size
        proofs.append((bno, size, [data[pos + 32 * i:pos + 32 * i + 32]
                                   for i in range(plen)]))
        pos += 32 * plen
    assert pos == len(data) - 32, "bundle does not end in its trailer"
    return prefix, cert, note, proofs


def join(prefix, cert, note, proofs):
    """The bundle of these parts, proof_count and trailer made again."""
    b = bytearray(prefix)
    struct.pack_into("<I", b, 60, len(proofs))
    b += struct.pack("<I", len(cert)) + cert
    b += struct.pack("<I", len(note)) + note
    for bno, size, path in proofs:
        b += PROOF.pack(bno, size, len(path), bytes(7)) + b"".join(path)
    return bytes(b) + ref.H(D_BUNDLE, bytes(b))


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def note_body(note):
    """The signed text of a note, LF included."""
    return note[:note.rindex(b"\n\n") + 1]


def sign_note(body, origin, sk):
    """A note of body signed by sk as the log `origin` (R-NOTE-5)."""
    pk = bytes(sk.verify_key)
    kid = hashlib.sha256(origin.encode() + b"\n\x01" + pk).digest()[:4]
    sig = sk.sign(body).signature
    return body + b"\n" + ("\u2014 %s %s\n" % (origin, b64(kid + sig))
                           ).encode("utf-8")


def witness(seed, name):
    """(signing key, verifier key text) of a cosignature/v1 witness."""
    sk = nacl.signing.SigningKey(hashlib.sha256(seed).digest())
    pk = bytes(sk.verify_key)
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pk).digest()[:4]
    return sk, "%s+%s+%s" % (name, kid.hex(), b64(b"\x04" + pk))


def cosign(note, sk, name, t=1700000000):
    """note with a cosignature/v1 line of witness (sk, name) appended."""
    body = note_body(note)
    pk = bytes(sk.verify_key)
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pk).digest()[:4]
    msg = b"cosignature/v1\ntime %d\n" % t + body
    sig = sk.sign(msg).signature
    return note + ("\u2014 %s %s\n" % (name, b64(
        kid + struct.pack(">Q", t) + sig))).encode("utf-8")


def forgeries(data):
    """{name: (bundle bytes, rule)}: each a single change an attacker
    might try, every other byte as made by custody-query."""
    prefix, cert, note, proofs = split(data)
    chain_hex = cert.split(b" ")[1].decode()
    origin = "custody/" + chain_hex
    out = {}

    # A hash of the first proof's audit path flipped.
    bno, size, path = proofs[0]
    if path:
        p = list(path)
        p[0] = bytes([p[0][0] ^ 1]) + p[0][1:]
        out["path_flip"] = (join(prefix, cert, note,
                                 [(bno, size, p)] + proofs[1:]), "R-BND-16")

    # The note's root changed, its log signature left as it was.
    body = note_body(note)
    lines = body.split(b"\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root))
    forged = b"\n".join(lines) + note[len(body):]
    out["note_root"] = (join(prefix, cert, forged, proofs), "R-BND-15")

    # The note signed by another log key (the certificate unchanged).
    other = nacl.signing.SigningKey(hashlib.sha256(b"other log").digest())
    out["note_other_key"] = (join(prefix, cert, sign_note(body, origin,
                                                          other), proofs),
                             "R-BND-15")

    # A log certificate for another key, not signed by the root key, with
    # the note signed by that key: all consistent but the certificate.
    fake_root = nacl.signing.SigningKey(hashlib.sha256(b"not the root")
                                        .digest())
    cid = bytes.fromhex(chain_hex)
    fpk = bytes(other.verify_key)
    fsig = fake_root.sign(ref.D_LOGCERT + cid + fpk).signature
    fcert = ("custody-log-cert-v1 %s %s %s\n" % (chain_hex, b64(fpk),
                                                   b64(fsig))).encode()
    out["cert_not_root"] = (join(prefix, fcert, sign_note(body, origin,
                                                          other), proofs),
                            "R-BND-14")

    # The first proof relabelled as the proof of another block number.
    out["other_block"] = (join(prefix, cert, note,
                               [(bno + 1, size, path)] + proofs[1:]),
                          "R-BND-16")
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    data = open(argv[1], "rb").read()
    os.makedirs(argv[2], exist_ok=True)
    for name, (b, rule) in sorted(forgeries(data).items()):
        with open(os.path.join(argv[2], name + ".cbnd"), "wb") as f:
            f.write(b)
        print(name, rule)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
