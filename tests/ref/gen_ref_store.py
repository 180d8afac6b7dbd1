#!/usr/bin/python3
"""A small, independent writer of custody stores, from formats/SPEC.md only.

It exists to test the reference verifier (and, when it is built, the C
verifier) on stores that custody's own writer did not make: a good store,
and stores with one deliberate, correctly signed fault each, so that a
verifier must find the fault by the rule that forbids it rather than by a
broken signature.

    gen_ref_store.py [--events N] [--segments N] [--seed N] [--fault NAME] DIR

make_store() is the library entry; FAULTS lists the fault names and the rule
each one must trip.  Randomness comes from one seeded generator, so a seed
always gives the same store.
"""

import base64
import datetime
import hashlib
import os
import random
import struct
import sys

import msgpack
import nacl.signing
import zstandard

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import custody_ref as ref  # noqa: E402  (layouts, hashes, Merkle tree)

H = ref.H
SEG_HDR_PREFIX = struct.Struct("<8sHHI16sQQQ32sq")
CERT_BODY = struct.Struct("<4sHHII16s32sQq")
T0 = 1700000000 * 10 ** 9

# Fault name -> the rule a verifier must report for it.
FAULTS = {
    "rec-kind": "R-REC-1",
    "rec-span": "R-REC-1",
    "rec-type": "R-REC-1",
    "rec-flags": "R-REC-1",
    "rec-ts-uint64": "R-REC-1",
    "rec-event-detail": "R-REC-2",
    "rec-audit-transport": "R-REC-2",
    "seq-gap": "R-BLK-7",
    "first-seq": "R-BLK-7",
    "times": "R-BLK-8",
    "merkle": "R-BLK-5",
    "leftover": "R-BLK-5",
    "records-hash": "R-BLK-4",
    "no-content-size": "R-BLK-4",
    "wrong-content-size": "R-BLK-4",
    "two-frames": "R-BLK-4",
    "seal-times": "R-BLK-9",
    "seal-payload": "R-BLK-9",
    "block-no": "R-BLK-6",
    "block-segno": "R-BLK-6",
    "block-chain-id": "R-BLK-6",
    "prev-hash": "R-BLK-6",
    "block-flags": "R-BLK-1",
    "bad-sig-key": "R-BLK-3",
    "forged-cert": "R-KEY-1",
    "cert-root-signs": "R-KEY-1",
    "cert-skip-epoch": "R-KEY-1",
    "cert-valid-from": "R-KEY-2",
    "key-change-no-cert": "R-KEY-2",
    "cert-repeat": "R-KEY-2",
    "unsealed-older": "R-SEG-4",
    "block-after-seal": "R-SEG-4",
    "empty-older": "R-SEG-5",
    "seg-header": "R-SEG-3",
    "seg-check": "R-SEG-1",
    "quarantine": "R-REC-4",
}

FAULT_BLOCK = 2  # faults aimed at a data block hit this block_no


def b64(x):
    return base64.b64encode(x).decode("ascii")


def rfc3339(ns, digits=0):
    """RFC 3339 UTC time; digits fractional digits of the second (SPEC only
    says "RFC 3339 with Z"; checkpoints use 9, as custody's writer does)."""
    dt = datetime.datetime.fromtimestamp(ns // 10 ** 9,
                                         datetime.timezone.utc)
    frac = ""
    if digits:
        frac = "." + ("%09d" % (ns % 10 ** 9))[:digits]
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def pack(record):
    return msgpack.packb(record, use_bin_type=True)


def compress(raw):
    return zstandard.ZstdCompressor(level=1,
                                    write_content_size=True).compress(raw)


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class ChainWriter:
    """Appends blocks to segment files following SPEC sections 3-6."""

    def __init__(self, store, seed, fault=None, encode=pack,
                 compress_=compress):
        self.store = store
        self.encode = encode
        self.compress = compress_
        self.ckpt_time_digits = 9
        self.rng = random.Random(seed)
        self.fault = fault
        root_seed = self.rng.randbytes(32)
        self.root = nacl.signing.SigningKey(root_seed)
        self.chain_id = self.rng.randbytes(16)
        self.epoch = 0
        self.sk = None
        self.certs = []
        self.pending_cert = None
        self.block_no = 0
        self.prev = ref.ZERO32
        self.seq = 0
        self.seg_no = -1
        self.seg_path = None
        self.now = T0
        for d in ("segments", "quarantine", "keys", "checkpoints"):
            os.makedirs(os.path.join(store, d), exist_ok=True)
        with open(os.path.join(store, "keys", "root.pub"), "w") as f:
            f.write("custody-root-v1 %s %s\n" % (
                self.chain_id.hex(), b64(bytes(self.root.verify_key))))
        write_private(os.path.join(store, "keys", "root.key"),
                      "custody-root-secret-v1 %s %s\n"
                      % (self.chain_id.hex(), b64(root_seed)))

    def tick(self, ns=1000):
        self.now += ns
        return self.now

    # Keys (section 6) ------------------------------------------------------------

    def make_cert(self, epoch, signer_epoch, pk, signer, valid_from,
                  chain_id=None):
        body = CERT_BODY.pack(b"CKEY", 1, 0, epoch, signer_epoch,
                              chain_id or self.chain_id, pk, valid_from,
                              self.tick())
        return body + signer.sign(ref.D_KEYCERT + body).signature

    def rotate(self):
        """Certify epoch+1 with the current key (the root for epoch 1)."""
        new = nacl.signing.SigningKey(self.rng.randbytes(32))
        e = self.epoch + 1
        signer = self.root if e == 1 else self.sk
        signer_epoch = e - 1
        if self.fault == "forged-cert" and e == 2:
            signer = nacl.signing.SigningKey(self.rng.randbytes(32))
        if self.fault == "cert-root-signs" and e == 2:
            signer, signer_epoch = self.root, 0
        cert_epoch = e
        if self.fault == "cert-skip-epoch" and e == 2:
            cert_epoch = e + 1
            e = e + 1
        valid_from = self.block_no
        if self.fault == "cert-valid-from" and e == 2:
            valid_from += 1
        cert = self.make_cert(cert_epoch, signer_epoch, bytes(new.verify_key),
                              signer, valid_from)
        self.epoch = e
        self.sk = new
        self.certs.append(cert)
        self.pending_cert = cert
        if self.fault == "key-change-no-cert" and e == 2:
            self.pending_cert = None

    # Segments (section 3) ----------------------------------------------------------

    def open_segment(self):
        self.seg_no += 1
        first_seq = self.seq
        if self.fault == "seg-header" and self.seg_no == 1:
            first_seq += 1
        prefix = SEG_HDR_PREFIX.pack(b"CUSTSEG\x00", 1, 128, 0, self.chain_id,
                                     self.seg_no, self.block_no, first_seq,
                                     self.prev, self.tick())
        check = H(ref.D_SEGMENT, prefix)
        if self.fault == "seg-check" and self.seg_no == 1:
            check = H(b"not the check")
        self.seg_path = os.path.join(self.store, "segments",
                                     "seg-%010d.cst" % self.seg_no)
        with open(self.seg_path, "wb") as f:
            f.write(prefix + check)

    def segment_size(self):
        return os.path.getsize(self.seg_path)

    # Blocks (section 4) --------------------------------------------------------------

    def frame(self, records, btype=ref.TYPE_DATA):
        """Build the next frame and advance the chain state; returns bytes."""
        f = self.fault
        target = btype == ref.TYPE_DATA and self.block_no == FAULT_BLOCK
        if target and f == "rec-kind":
            records[0][0] = ref.MAX_KIND + 1
        if target and f == "rec-span":
            records[0][9][17] = len(records[0][8]) + 1
        if target and f == "rec-type":
            records[0][4] = b"tcp://not-a-str"
        if target and f == "rec-flags":
            records[0][7] = 1 << 5
        if target and f == "rec-ts-uint64":
            # msgpack uint64 2^63: an int, but not an i64 (section 1)
            next(r for r in records if r[9] is not None)[9][3] = 1 << 63
        if target and f == "rec-event-detail":
            records[0][10] = {"note": "events carry no detail"}
        if target and f == "seq-gap":
            records[1][1] += 1
        leaves = [self.encode(r) for r in records]
        raw = b"".join(leaves)
        if target and f == "leftover":
            raw += b"\xc0"
        if btype == ref.TYPE_SEAL:
            payload = ref.SEAL_PAYLOAD
            if f == "seal-payload" and self.seg_no == 0:
                payload = bytes.fromhex("28b52ffd0000010000")
        elif target and f == "no-content-size":
            payload = zstandard.ZstdCompressor(
                level=1, write_content_size=False).compress(raw)
        elif target and f == "wrong-content-size":
            payload = compress(raw + b"\xc0")
        elif target and f == "two-frames":
            payload = compress(raw) + compress(b"")
        else:
            payload = self.compress(raw)
        times = [r[2] for r in records]
        sealed = self.tick()
        if btype == ref.TYPE_SEAL:
            tmin = tmax = sealed
            if f == "seal-times" and self.seg_no == 0:
                tmin -= 1
        else:
            tmin, tmax = min(times), max(times)
        if target and f == "times":
            tmax += 1
        cert = self.pending_cert or b""
        if target and f == "cert-repeat":
            cert = self.certs[-1]
        key_epoch = self.epoch
        fields = dict(
            magic=b"CBLK", version=1, type=btype, flags=0,
            key_epoch=key_epoch, chain_id=self.chain_id,
            segment_no=self.seg_no, block_no=self.block_no,
            first_seq=self.seq, record_count=len(records),
            cert_len=len(cert), payload_len=len(payload), raw_len=len(raw),
            min_time_ns=tmin, max_time_ns=tmax, sealed_ns=sealed,
            payload_hash=H(ref.D_PAYLOAD, payload),
            records_hash=H(ref.D_RECORDS, raw),
            merkle_root=ref.merkle_root(leaves), prev_hash=self.prev)
        if target and f == "merkle":
            fields["merkle_root"] = H(b"not the root")
        if target and f == "records-hash":
            fields["records_hash"] = H(b"not the records")
        if target and f == "block-no":
            fields["block_no"] += 1
        if target and f == "block-segno":
            fields["segment_no"] += 1
        if target and f == "block-chain-id":
            fields["chain_id"] = bytes(16)
        if target and f == "prev-hash":
            fields["prev_hash"] = H(b"not the previous block")
        if target and f == "first-seq":
            fields["first_seq"] += 1
        if target and f == "block-flags":
            fields["flags"] = 1
        header = ref.BLK_HDR.pack(*(fields[k] for k in ref.BLK_FIELDS))
        block_hash = H(ref.D_BLOCK, header, cert)
        signer = self.sk
        if target and f == "bad-sig-key":
            signer = nacl.signing.SigningKey(self.rng.randbytes(32))
        sig = signer.sign(ref.D_BLOCKSIG + block_hash).signature
        self.pending_cert = None
        self.block_no = fields["block_no"] + 1
        self.prev = block_hash
        self.seq = fields["first_seq"] + len(records)
        return header + cert + payload + sig

    def append(self, frame):
        with open(self.seg_path, "ab") as f:
            f.write(frame)

    def write_block(self, records):
        self.append(self.frame(records))

    def seal(self):
        self.append(self.frame([], ref.TYPE_SEAL))

    # Records (section 5) ---------------------------------------------------------------

    def event(self):
        rng = self.rng
        seq = self.seq_next
        self.seq_next += 1
        t = self.tick(rng.randrange(1, 10 ** 6))
        host = "host%d" % rng.randrange(8)
        app = rng.choice(["sshd", "sudo", "auditd", "kernel"])
        msg = "event %d user=u%d action=%s" % (
            seq, rng.randrange(100), rng.choice(["login", "logout", "su"]))
        style = rng.randrange(10)
        if style == 0:
            raw = ("garbage \xff %d" % seq).encode("latin-1")
            return [0, seq, t, 1, "udp://0.0.0.0:514", "198.51.100.7:5140",
                    None, 1, raw, None, None]
        ts = rfc3339(t)
        if style == 1:
            line = "<38>%s %s %s[%d]: %s" % (
                datetime.datetime.fromtimestamp(
                    t // 10 ** 9, datetime.timezone.utc).strftime(
                        "%b %d %H:%M:%S"), host, app, 100 + seq, msg)
            raw = line.encode()
            ts_s = line[4:19]
            fmt, sd = 2, None
        else:
            procid = str(100 + seq)
            line = "<86>1 %s %s %s %s ID47 [ex@32473 i=\"%d\"] %s" % (
                ts, host, app, procid, seq, msg)
            raw = line.encode()
            ts_s = ts
            fmt, sd = 1, "[ex@32473 i=\"%d\"]" % seq

        def span(s):
            if s is None:
                return [0, 0]
            i = line.find(s)
            return [i, len(s)]

        parsed = ([fmt, 10, 6, t // 10 ** 9 * 10 ** 9] + span(ts_s)
                  + span(host) + span(app)
                  + (span(str(100 + seq)) if fmt == 1 else [0, 0])
                  + (span("ID47") if fmt == 1 else [0, 0]) + span(sd)
                  + span(msg))
        transport = rng.choice([2, 3]) if style != 1 else 5
        tls_peer = "CN=%s.example" % host if transport == 3 else None
        peer = "[2001:db8::1]:5140" if transport == 3 else (
            "/run/log.sock" if transport == 5 else "192.0.2.%d:40000"
            % rng.randrange(1, 255))
        listener = {2: "tcp://127.0.0.1:6514", 3: "tls://0.0.0.0:6514",
                    5: "unix:///run/log.sock"}[transport]
        return [0, seq, t, transport, listener, peer, tls_peer, 0, raw,
                parsed, None]

    def audit(self, kind, detail, text):
        seq = self.seq_next
        self.seq_next += 1
        transport = 0
        if self.fault == "rec-audit-transport" and kind == 1:
            transport = 2
        return [kind, seq, self.tick(), transport, "", "", None, 0,
                text.encode(), None, detail]

    # Checkpoints (section 8) ------------------------------------------------------------

    def checkpoint(self, blocks=None, records=None, head=None):
        text = "custody-checkpoint-v1\n"
        text += "chain %s\n" % self.chain_id.hex()
        text += "blocks %d\n" % (self.block_no if blocks is None else blocks)
        text += "records %d\n" % (self.seq if records is None else records)
        text += "head %s\n" % (self.prev if head is None else head).hex()
        text += "time %s\n" % rfc3339(self.tick(), self.ckpt_time_digits)
        text += "epoch %d\n" % self.epoch
        for c in self.certs:
            text += "cert %s\n" % b64(c)
        data = text.encode("ascii")
        sig = self.sk.sign(ref.D_CHECKPOINT + data).signature
        return data + ("sig %s\n" % b64(sig)).encode("ascii")


def make_store(store, events=300, segments=3, seed=1, fault=None,
               per_block=16, rotate_every=4, encode=pack, compress_=compress,
               rotate_at_seal=False):
    """Write a store of `events` events over `segments` segments.

    Segment 0 opens with a start record; epochs rotate every rotate_every
    blocks; all segments but the newest are sealed.  The newest segment
    carries a crash recovery: a torn frame cut off to quarantine/ and a
    recovery record (R-REC-5, R-REC-6).  A checkpoint of the final head is
    written to checkpoints/latest.ckpt.  encode (record -> bytes) and
    compress_ (raw -> payload) let a test write encodings the default
    writer would not; rotate_at_seal certifies a new epoch in each seal.
    Returns the ChainWriter."""
    if fault is not None and fault not in FAULTS:
        raise ValueError("unknown fault %s" % fault)
    w = ChainWriter(store, seed, fault, encode, compress_)
    w.seq_next = 0
    w.rotate()
    per_seg = max(1, events // max(segments, 1))
    left = events
    for s in range(segments):
        w.open_segment()
        newest = s == segments - 1
        if s == 0:
            w.pending_start = [w.audit(1, {"version": "gen_ref_store",
                                           "epoch": 1, "pid": 4242,
                                           "hostname": "gen"},
                                       "custodyd start")]
        n = left if newest else min(per_seg, left)
        left -= n
        half = n // 2 if newest else n
        _write_events(w, half, per_block, rotate_every)
        if newest:
            _crash_and_recover(w)
            _write_events(w, n - half, per_block, rotate_every)
        else:
            if not (fault == "unsealed-older" and s == 0):
                if rotate_at_seal:
                    w.rotate()
                w.seal()
            if fault == "block-after-seal" and s == 0:
                _write_events(w, 3, per_block, rotate_every)
            if fault == "empty-older" and s == 0:
                w.open_segment()
    with open(os.path.join(store, "checkpoints", "latest.ckpt"), "wb") as f:
        f.write(w.checkpoint())
    lines = ["custody-epoch-secret-v1 %s %d %s" % (
        w.chain_id.hex(), w.epoch, b64(bytes(w.sk)))]
    lines += ["cert %s" % b64(c) for c in w.certs]
    write_private(os.path.join(store, "keys", "epoch.key"),
                  "\n".join(lines) + "\n")
    if fault == "quarantine":
        qdir = os.path.join(store, "quarantine")
        for name in os.listdir(qdir):
            with open(os.path.join(qdir, name), "r+b") as f:
                b = f.read(1)
                f.seek(0)
                f.write(bytes([b[0] ^ 1]))
    return w


def _write_events(w, n, per_block, rotate_every):
    while n > 0 or getattr(w, "pending_start", None):
        recs = getattr(w, "pending_start", None) or []
        w.pending_start = None
        if w.block_no and w.block_no % rotate_every == 0 and recs == []:
            w.rotate()
            recs = [w.audit(4, {"epoch": w.epoch, "fpr": ref.key_fingerprint(
                bytes(w.sk.verify_key))[:16].hex()}, "key epoch")]
        k = min(n, per_block - len(recs))
        recs += [w.event() for _ in range(k)]
        n -= k
        w.write_block(recs)


def _crash_and_recover(w):
    """A torn frame is written, then cut off and quarantined (R-REC-5)."""
    seq_next, state = w.seq_next, (w.block_no, w.prev, w.seq)
    pending_cert = w.pending_cert
    torn = w.frame([w.event() for _ in range(3)])
    w.block_no, w.prev, w.seq = state
    w.pending_cert = pending_cert
    w.seq_next = seq_next
    cut = torn[:len(torn) // 2]
    valid_len = w.segment_size()
    name = "seg-%010d.cst.%d.torn" % (w.seg_no, valid_len)
    with open(os.path.join(w.store, "quarantine", name), "wb") as f:
        f.write(cut)
    rec = w.audit(3, {"segment_no": w.seg_no, "valid_len": valid_len,
                      "cut_len": len(cut),
                      "quarantine": name,
                      "cut_sha256": hashlib.sha256(cut).hexdigest(),
                      "last_block_no": w.block_no - 1},
                  "recovery: torn tail quarantined")
    w.write_block([rec, w.event()])


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--segments", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault", choices=sorted(FAULTS))
    ap.add_argument("dir")
    a = ap.parse_args(argv)
    make_store(a.dir, a.events, a.segments, a.seed, a.fault)
    print("wrote %s (seed %d%s)" % (a.dir, a.seed,
                                    ", fault " + a.fault if a.fault else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
