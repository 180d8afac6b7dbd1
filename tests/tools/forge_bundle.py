#!/usr/bin/python3
"""forge_bundle.py: what an attacker holding only the collector's current
epoch key can make (SPEC sections 8 and 11), for tests.

    forge_bundle.py STORE BLOCK_NO OUT.cbnd [OUT.ckpt]

STORE is a store written with `custody-mkstore --secrets`: its
keys/epoch.key is the stolen key, its keys/root.pub the chain's.  The
bundle discloses one event that was never sealed, in a block numbered
BLOCK_NO (at or after the start of the stolen key's epoch, which R-BND-4
requires), and carries a checkpoint, signed with the same key, whose head
is that block: it passes every rule up to R-BND-11.  Only a checkpoint
from outside the bundle that covers BLOCK_NO exposes it (R-BND-12).
OUT.ckpt, when given, receives the forged checkpoint alone.

Everything is fixed (times, text, keys come from the store), so the output
is the same bytes on every run.
"""

import base64
import os
import struct
import sys

import msgpack
import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ref"))

import custody_ref as ref  # noqa: E402

D_BUNDLE = ref._domain("custody/v1/bundle")
T_NS = 1709251200 * 10 ** 9 + 5 * 10 ** 9  # 2024-03-01T00:00:05Z


def load_epoch_key(path):
    lines = open(path).read().splitlines()
    head = lines[0].split()
    assert head[0] == "custody-epoch-secret-v1", head[0]
    epoch, seed = int(head[2]), base64.b64decode(head[3])
    certs = [base64.b64decode(ln.split()[1]) for ln in lines[1:]
             if ln.startswith("cert ")]
    assert len(certs) == epoch
    return epoch, nacl.signing.SigningKey(seed), certs


def record(seq, recv_ns):
    raw = b"<13>1 2024-03-01T00:00:05Z host app - - - never sent"
    return msgpack.packb([0, seq, recv_ns, 2, "tcp://127.0.0.1:6514",
                          "192.0.2.1:40000", None, 0, raw, None, None],
                         use_bin_type=True)


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    store, block_no, out = argv[1], int(argv[2]), argv[3]
    chain_id, _ = ref.parse_root_pub(
        open(os.path.join(store, "keys", "root.pub"), "rb").read())
    epoch, sk, certs = load_epoch_key(os.path.join(store, "keys",
                                                   "epoch.key"))
    valid_from = ref.CERT.unpack(certs[-1])[7]
    assert block_no >= valid_from, "R-BND-4: before the key's epoch"
    cert = certs[-1] if block_no == valid_from else b""
    first_seq = 1000000 + block_no
    rec = record(first_seq, T_NS)
    hdr = ref.BLK_HDR.pack(
        ref.BLK_MAGIC, 1, ref.TYPE_DATA, 0, epoch, chain_id, 0, block_no,
        first_seq, 1, len(cert), 64, len(rec), T_NS, T_NS, T_NS,
        ref.H(ref.D_PAYLOAD, b"x"), ref.H(ref.D_RECORDS, rec),
        ref.merkle_root([rec]), ref.H(b"any previous block"))
    block_hash = ref.H(ref.D_BLOCK, hdr, cert)
    sig = sk.sign(ref.D_BLOCKSIG + block_hash).signature

    text = ("custody-checkpoint-v1\nchain %s\nblocks %d\nrecords %d\n"
            "head %s\ntime 2024-03-01T00:00:05.000000000Z\nepoch %d\n"
            % (chain_id.hex(), block_no + 1, first_seq + 1,
               block_hash.hex(), epoch))
    text += "".join("cert %s\n" % base64.b64encode(c).decode()
                    for c in certs)
    ckp = text.encode() + b"sig %s\n" % base64.b64encode(
        sk.sign(ref.D_CHECKPOINT + text.encode()).signature)

    note = b"forged with a stolen epoch key"
    body = struct.pack("<8sHHI16sqIIIIII", b"CUSTBND\x00", 1, 64, 0,
                       chain_id, T_NS, len(note), len(certs), 1, 1, 1, 0)
    body += note + b"".join(certs) + hdr + cert + sig
    body += struct.pack("<IIIB3s", 0, 0, len(rec), 0, bytes(3)) + rec
    body += struct.pack("<I", len(ckp)) + ckp
    with open(out, "wb") as f:
        f.write(body + ref.H(D_BUNDLE, body))
    if len(argv) == 5:
        with open(argv[4], "wb") as f:
            f.write(ckp)


if __name__ == "__main__":
    main(sys.argv)
