#!/usr/bin/python3
"""Independent reference verifier for the custody store format, version 1.

Written only from formats/SPEC.md, without reading any of custody's C code,
so that a disagreement between it and the C reader points at a defect in one
of the two or in the specification.  Rule ids (R-XXX-n) are SPEC.md's.

Library use:

    report = verify_store(store_dir, root_path=None, checkpoint_paths=())
    report.verdict          # "intact" or "failed"
    report.findings         # list of Finding(rule, file, offset, block_no, detail)
    report.blocks           # every complete frame read, in chain order

Command line:

    custody_ref.py [--root FILE] [--checkpoint FILE ...] [--json] STORE_DIR

Exit status: 0 intact, 1 failed, 2 usage or I/O error.

Needs Debian's /usr/bin/python3 with python3-nacl, python3-zstandard and
python3-msgpack.  Every byte read from the store is treated as hostile: a
malformed structure becomes a finding, never a traceback, and nothing is
read, allocated or decompressed before the lengths that govern it have been
checked against SPEC.md's limits and the file's size.
"""

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import stat
import struct
import sys

import msgpack
import nacl.bindings
import nacl.exceptions
import zstandard

# --- Section 1: conventions -------------------------------------------------


def _domain(name):
    return name.encode("ascii") + b"\x00"


D_SEGMENT = _domain("custody/v1/segment")
D_BLOCK = _domain("custody/v1/block")
D_BLOCKSIG = _domain("custody/v1/block-sig")
D_PAYLOAD = _domain("custody/v1/payload")
D_RECORDS = _domain("custody/v1/records")
D_KEYCERT = _domain("custody/v1/keycert")
D_KEYID = _domain("custody/v1/key-id")
D_CHECKPOINT = _domain("custody/v1/checkpoint")
D_LOGCERT = _domain("custody/v1/log-cert")

ZERO32 = bytes(32)


def H(*parts):
    """BLAKE2b-256 of the concatenation of parts (SPEC section 1)."""
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


def key_fingerprint(pk):
    """H(D_KEYID || pk); tools print its first 16 bytes as hex."""
    return H(D_KEYID, pk)


def ed25519_ok(pk, msg, sig):
    """True iff libsodium accepts sig over msg under pk (SPEC section 1).

    crypto_sign_open runs the same check as crypto_sign_verify_detached,
    including the rejection of non-canonical S and small-order keys."""
    if len(pk) != 32 or len(sig) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(bytes(sig) + bytes(msg), bytes(pk))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError,
            ValueError, TypeError):
        return False
    return True


# --- Section 3: segment header ----------------------------------------------

SEG_MAGIC = b"CUSTSEG\x00"
SEG_HDR_LEN = 128
SEG_HDR = struct.Struct("<8sHHI16sQQQ32sq32s")
assert SEG_HDR.size == SEG_HDR_LEN

# --- Section 4: block frame ---------------------------------------------------

BLK_MAGIC = b"CBLK"
BLK_HDR_LEN = 224
BLK_HDR = struct.Struct("<4sHHII16sQQQIIIIqqq32s32s32s32s")
assert BLK_HDR.size == BLK_HDR_LEN
SIG_LEN = 64
CERT_LEN = 144
MAX_PAYLOAD = 67108864
MAX_RECORDS = 1048576
TYPE_DATA = 1
TYPE_SEAL = 2
SEAL_PAYLOAD = bytes.fromhex("28b52ffd2000010000")

BLK_FIELDS = ("magic", "version", "type", "flags", "key_epoch", "chain_id",
              "segment_no", "block_no", "first_seq", "record_count",
              "cert_len", "payload_len", "raw_len", "min_time_ns",
              "max_time_ns", "sealed_ns", "payload_hash", "records_hash",
              "merkle_root", "prev_hash")

# --- Section 6: key certificate -----------------------------------------------

CERT_MAGIC = b"CKEY"
CERT = struct.Struct("<4sHHII16s32sQq64s")
assert CERT.size == CERT_LEN

# --- Section 5: records ---------------------------------------------------------

KIND_EVENT = 0
KIND_RECOVERY = 3
MAX_KIND = 12  # 9: refusal (R-REC-8), 10: access (R-ACC-1), 11: witness (R-WIT-7), 12: replication (R-REP-9)
MAX_TRANSPORT = 5
FLAG_BITS = 0x1F
PARSED_LEN = 18
RECORD_LEN = 11

SEGMENT_NAME = re.compile(r"\Aseg-([0-9]{10})\.cst\Z")



def _first_hole(path):
    """Offset of the first hole of the file at path (its size if none);
    st_blocks cannot tell holes from compression."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return os.lseek(fd, 0, os.SEEK_HOLE)
    except OSError:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)

class Finding:
    """One located failure: the rule broken and where."""

    __slots__ = ("rule", "file", "offset", "block_no", "detail")

    def __init__(self, rule, file, offset, block_no, detail):
        self.rule = rule
        self.file = file
        self.offset = offset
        self.block_no = block_no
        self.detail = detail

    def as_dict(self):
        return {"rule": self.rule, "file": self.file, "offset": self.offset,
                "block_no": self.block_no, "detail": self.detail}

    def __str__(self):
        where = self.file if self.file is not None else "-"
        if self.offset is not None:
            where += " offset %d" % self.offset
        if self.block_no is not None:
            where += " block %d" % self.block_no
        return "%s %s: %s" % (self.rule, where, self.detail)


class BlockInfo:
    """A complete frame as read, for reports and for tests that mutate."""

    __slots__ = ("file", "offset", "segment_no", "block_no", "type",
                 "key_epoch", "cert_len", "payload_len", "record_count",
                 "first_seq", "block_hash", "ok")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    @property
    def frame_len(self):
        return BLK_HDR_LEN + self.cert_len + self.payload_len + SIG_LEN

    @property
    def payload_offset(self):
        return self.offset + BLK_HDR_LEN + self.cert_len

    @property
    def sig_offset(self):
        return self.payload_offset + self.payload_len

    def as_dict(self):
        d = {k: getattr(self, k) for k in self.__slots__}
        d["block_hash"] = self.block_hash.hex()
        return d


class Report:
    def __init__(self, store):
        self.store = store
        self.findings = []
        self.notes = []
        self.blocks = []
        self.segments = []
        self.chain_id = None
        self.root_pk = None
        self.records = 0

    @property
    def verdict(self):
        return "failed" if self.findings else "intact"

    def as_dict(self):
        return {
            "verifier": "custody_ref (independent, from SPEC.md v1)",
            "store": self.store,
            "verdict": self.verdict,
            "chain_id": self.chain_id.hex() if self.chain_id else None,
            "root_fpr": (key_fingerprint(self.root_pk)[:16].hex()
                         if self.root_pk else None),
            "segments": self.segments,
            "blocks": len(self.blocks),
            "records": self.records,
            "findings": [f.as_dict() for f in self.findings],
            "notes": self.notes,
        }


class UsageError(Exception):
    """Bad arguments or unreadable trusted input: exit status 2."""


def read_trusted(path, limit):
    """At most limit bytes of the file at path, given by the user: one
    that cannot be read is a usage error."""
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as e:
        raise UsageError("%s: %s" % (path, e.strerror))


# --- Trusted input: the root public key (section 6.2) ----------------------


def b64decode_strict(text):
    """RFC 4648 base64, standard alphabet, padded, canonical; None if not."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}",
                                                     text):
        return None
    if len(text) % 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def parse_root_pub(data):
    """Parse `custody-root-v1 <chain id hex> <pk base64>`; (chain_id, pk).

    One line; a single trailing LF is accepted (SPEC does not say whether
    the line ends with one).  Hex is lowercase, as tools print chain ids."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise UsageError("root public key file is not ASCII")
    if text.endswith("\n"):
        text = text[:-1]
    parts = text.split(" ")
    if len(parts) != 3 or parts[0] != "custody-root-v1":
        raise UsageError("root public key file is not "
                         "'custody-root-v1 <chain id> <public key>'")
    if not re.fullmatch(r"[0-9a-f]{32}", parts[1]):
        raise UsageError("root public key file: chain id is not 32 "
                         "lowercase hex digits")
    pk = b64decode_strict(parts[2])
    if pk is None or len(pk) != 32:
        raise UsageError("root public key file: public key is not 32 bytes "
                         "of padded base64")
    return bytes.fromhex(parts[1]), pk


# --- zstd frame inspection (RFC 8878 section 3.1.1) ---------------------------

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def zstd_frame_info(buf):
    """(content_size or None, frame_len) of the zstd frame at buf[0:].

    Only headers are read, never content, so the stated content size can be
    checked against raw_len before anything is decompressed (R-BLK-4).
    Raises ValueError on a malformed or truncated frame."""
    n = len(buf)
    if n < 5 or bytes(buf[0:4]) != ZSTD_MAGIC:
        raise ValueError("not a zstd frame (magic)")
    fhd = buf[4]
    fcs_flag = fhd >> 6
    single_segment = (fhd >> 5) & 1
    if fhd & 0x08:
        raise ValueError("zstd frame header reserved bit set")
    checksum = (fhd >> 2) & 1
    did_size = (0, 1, 2, 4)[fhd & 3]
    fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    pos = 5 + (0 if single_segment else 1) + did_size
    if pos + fcs_size > n:
        raise ValueError("zstd frame header truncated")
    content_size = None
    if fcs_size:
        content_size = int.from_bytes(bytes(buf[pos:pos + fcs_size]),
                                      "little")
        if fcs_size == 2:
            content_size += 256
    pos += fcs_size
    while True:
        if pos + 3 > n:
            raise ValueError("zstd block header truncated")
        bh = int.from_bytes(bytes(buf[pos:pos + 3]), "little")
        pos += 3
        last = bh & 1
        btype = (bh >> 1) & 3
        bsize = bh >> 3
        if btype == 3:
            raise ValueError("zstd reserved block type")
        pos += 1 if btype == 1 else bsize
        if pos > n:
            raise ValueError("zstd block truncated")
        if last:
            break
    if checksum:
        pos += 4
        if pos > n:
            raise ValueError("zstd content checksum truncated")
    return content_size, pos


# --- Section 5: records and the Merkle tree ---------------------------------


def merkle_root(leaves):
    """RFC 6962 tree hash with H = BLAKE2b-256 over the exact record bytes."""
    if not leaves:
        return H(b"")
    nodes = [H(b"\x00", d) for d in leaves]
    return _mth(nodes, 0, len(nodes))


def _mth(nodes, lo, hi):
    n = hi - lo
    if n == 1:
        return nodes[lo]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01", _mth(nodes, lo, lo + k), _mth(nodes, lo + k, hi))


class MsgMap(list):
    """A MessagePack map kept as its list of (key, value) pairs, so that
    key types can be checked and duplicate keys are not silently merged."""


MAX_DETAIL_KEYS = 64


def _is_uint(x):
    return type(x) is int and x >= 0


def _is_int(x):
    return type(x) is int


def _is_i64(x):
    """An int of SPEC section 1's i64 range, whatever its encoding."""
    return type(x) is int and -(1 << 63) <= x < 1 << 63


def _is_str(x):
    return type(x) is str


def _is_bin(x):
    return type(x) is bytes


def _detail_value_ok(v):
    return v is None or type(v) in (int, str, bytes, bool)


def check_record(rec):
    """R-REC-1 and R-REC-2 for one decoded record; list of (rule, detail)."""
    if type(rec) is not list or len(rec) != RECORD_LEN:
        return [("R-REC-1", "record is not an array of 11")]
    (kind, seq, recv_ns, transport, listener, peer, tls_peer, flags, raw,
     parsed, detail) = rec
    errs = []

    def bad(what):
        errs.append(("R-REC-1", what))

    if not _is_uint(kind) or kind > MAX_KIND:
        bad("kind is not a uint <= %d" % MAX_KIND)
    if not _is_uint(seq):
        bad("seq is not a uint")
    if not _is_i64(recv_ns):
        bad("recv_ns is not an int in the i64 range")
    if not _is_uint(transport) or transport > MAX_TRANSPORT:
        bad("transport is not a uint <= 5")
    if not _is_str(listener):
        bad("listener is not a str")
    if not _is_str(peer):
        bad("peer is not a str")
    if tls_peer is not None and not _is_str(tls_peer):
        bad("tls_peer is neither str nor nil")
    if not _is_uint(flags) or flags & ~FLAG_BITS:
        bad("flags is not a uint with bits 0..4 only")
    if not _is_bin(raw):
        bad("raw is not a bin")
    if parsed is not None:
        if type(parsed) is not list or len(parsed) != PARSED_LEN:
            bad("parsed is neither nil nor an array of 18")
        else:
            fmt, facility, severity, ts_ns = parsed[0:4]
            if not _is_uint(fmt) or fmt not in (1, 2):
                bad("parsed format is not 1 or 2")
            if not _is_int(facility) or not -1 <= facility <= 23:
                bad("parsed facility is not an int in -1..23")
            if not _is_int(severity) or not -1 <= severity <= 7:
                bad("parsed severity is not an int in -1..7")
            if ts_ns is not None and not _is_i64(ts_ns):
                bad("parsed ts_ns is neither nil nor an int in the i64 "
                    "range")
            spans = parsed[4:]
            if not all(_is_uint(x) for x in spans):
                bad("parsed span is not a uint")
            elif _is_bin(raw):
                for i in range(0, len(spans), 2):
                    if spans[i] + spans[i + 1] > len(raw):
                        bad("parsed span %d (%d+%d) lies outside raw (%d)"
                            % (i // 2, spans[i], spans[i + 1], len(raw)))
                        break
    if detail is not None:
        if not isinstance(detail, MsgMap):
            bad("detail is neither nil nor a map")
        elif not all(_is_str(k) and _detail_value_ok(v) for k, v in detail):
            bad("detail map has a non-str key or a value not "
                "uint/int/str/bin/bool/nil")
        elif len(detail) > MAX_DETAIL_KEYS:
            bad("detail map has %d keys, more than %d"
                % (len(detail), MAX_DETAIL_KEYS))
        elif len(set(k for k, _ in detail)) != len(detail):
            bad("detail map repeats a key")
    if _is_uint(kind) and kind <= MAX_KIND:
        if kind == KIND_EVENT and detail is not None:
            errs.append(("R-REC-2", "event record (kind 0) has a detail"))
        if kind != KIND_EVENT:
            if transport != 0:
                errs.append(("R-REC-2", "audit record (kind %d) has "
                             "transport %r, not 0" % (kind, transport)))
            if not isinstance(detail, MsgMap):
                errs.append(("R-REC-2", "audit record (kind %d) has no "
                             "detail map" % kind))
    return errs


def decode_records(raw, count):
    """Split the uncompressed payload into count records.

    Returns (records, spans, error): spans are (start, end) of each record's
    exact bytes; error is None or a string (R-BLK-5)."""
    unpacker = msgpack.Unpacker(
        raw=False, unicode_errors="surrogateescape", strict_map_key=False,
        use_list=True, object_pairs_hook=MsgMap,
        max_buffer_size=max(len(raw), 1))
    records = []
    spans = []
    try:
        unpacker.feed(raw)
        for i in range(count):
            start = unpacker.tell()
            try:
                obj = unpacker.unpack()
            except msgpack.OutOfData:
                return records, spans, ("payload holds %d complete records, "
                                        "record_count is %d" % (i, count))
            records.append(obj)
            spans.append((start, unpacker.tell()))
    except Exception as e:  # msgpack raises several types on bad input
        return records, spans, ("record %d is not valid MessagePack (%s)"
                                % (len(records), type(e).__name__))
    end = spans[-1][1] if spans else 0
    if end != len(raw):
        return records, spans, ("%d bytes left over after %d records"
                                % (len(raw) - end, count))
    return records, spans, None


# --- Section 6: key certificates ---------------------------------------------


class Cert:
    __slots__ = ("magic", "version", "reserved", "epoch", "signer_epoch",
                 "chain_id", "public_key", "valid_from", "created_ns",
                 "signature", "signed")

    def __init__(self, buf):
        (self.magic, self.version, self.reserved, self.epoch,
         self.signer_epoch, self.chain_id, self.public_key, self.valid_from,
         self.created_ns, self.signature) = CERT.unpack_from(buf, 0)
        self.signed = bytes(buf[0:80])


def check_cert(cert, chain_id, root_pk, keys):
    """R-KEY-1; keys maps epoch -> public key already established.

    Returns a list of problems (empty when the certificate is valid)."""
    errs = []
    if cert.magic != CERT_MAGIC:
        errs.append("certificate magic is not CKEY")
    if cert.version != 1:
        errs.append("certificate version %d, not 1" % cert.version)
    if cert.reserved != 0:
        errs.append("certificate reserved field is not 0")
    if cert.epoch < 1:
        errs.append("certificate epoch is 0")
    if cert.signer_epoch != cert.epoch - 1:
        errs.append("certificate of epoch %d signed by epoch %d, not %d"
                    % (cert.epoch, cert.signer_epoch, cert.epoch - 1))
    if cert.chain_id != chain_id:
        errs.append("certificate chain id %s is not the chain's"
                    % cert.chain_id.hex())
    signer = root_pk if cert.signer_epoch == 0 else keys.get(
        cert.signer_epoch)
    if signer is None:
        errs.append("no established key of signer epoch %d"
                    % cert.signer_epoch)
    elif not ed25519_ok(signer, D_KEYCERT + cert.signed, cert.signature):
        errs.append("certificate signature does not verify with the key of "
                    "epoch %d%s" % (cert.signer_epoch,
                                    " (root)" if cert.signer_epoch == 0
                                    else ""))
    return errs


# --- Section 8: checkpoints ----------------------------------------------------

MAX_CHECKPOINT = 16 << 20
DECIMAL = re.compile(r"\A(0|[1-9][0-9]{0,19})\Z")
RFC3339_Z = re.compile(
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"\.[0-9]{9}Z\Z")


def _decimal(s):
    if not DECIMAL.match(s):
        return None
    v = int(s)
    return v if v < 1 << 64 else None


def _rfc3339_ok(s):
    m = RFC3339_Z.match(s)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    try:
        datetime.datetime(y, mo, d, h, mi, min(sec, 59))
    except ValueError:
        return False
    return sec <= 60


def parse_checkpoint(data, chain_id, root_pk):
    """R-CKP-1 on a checkpoint's bytes.

    Returns (fields, errors): fields is a dict (chain, blocks, records, head,
    time, epoch) when the format could be read, errors a list of
    (offset, detail)."""
    if len(data) > MAX_CHECKPOINT:
        return None, [(0, "checkpoint larger than %d bytes" % MAX_CHECKPOINT)]
    if not data.endswith(b"\n"):
        return None, [(len(data), "checkpoint does not end with LF")]
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None, [(0, "checkpoint is not ASCII")]
    lines = text[:-1].split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    errs = []

    def field(i, name):
        if i >= len(lines):
            errs.append((len(data), "missing line '%s'" % name))
            return None
        prefix = name + " "
        if not lines[i].startswith(prefix):
            errs.append((offsets[i], "line %d is not '%s ...'" % (i + 1,
                                                                 name)))
            return None
        return lines[i][len(prefix):]

    if not lines or lines[0] != "custody-checkpoint-v1":
        return None, [(0, "first line is not 'custody-checkpoint-v1'")]
    chain_s = field(1, "chain")
    blocks_s = field(2, "blocks")
    records_s = field(3, "records")
    head_s = field(4, "head")
    time_s = field(5, "time")
    epoch_s = field(6, "epoch")
    if errs:
        return None, errs
    if not re.fullmatch(r"[0-9a-f]{32}", chain_s):
        errs.append((offsets[1], "chain is not 32 lowercase hex digits"))
    blocks = _decimal(blocks_s)
    if blocks is None:
        errs.append((offsets[2], "blocks is not a decimal number"))
    records = _decimal(records_s)
    if records is None:
        errs.append((offsets[3], "records is not a decimal number"))
    if not re.fullmatch(r"[0-9a-f]{64}", head_s):
        errs.append((offsets[4], "head is not 64 lowercase hex digits"))
    if not _rfc3339_ok(time_s):
        errs.append((offsets[5], "time is not RFC 3339 UTC ending in Z"))
    epoch = _decimal(epoch_s)
    if epoch is None or epoch < 1:
        errs.append((offsets[6], "epoch is not a decimal number >= 1"))
    if errs:
        return None, errs
    if len(lines) != 7 + epoch + 1:
        return None, [(offsets[6], "checkpoint has %d lines, epoch %d needs "
                       "%d" % (len(lines), epoch, 8 + epoch))]
    fields = {"chain": bytes.fromhex(chain_s), "blocks": blocks,
              "records": records, "head": bytes.fromhex(head_s),
              "time": time_s, "epoch": epoch}
    if fields["chain"] != chain_id:
        errs.append((offsets[1], "checkpoint chain %s is not the root key's "
                     "chain %s" % (chain_s, chain_id.hex())))
    keys = {}
    for e in range(1, epoch + 1):
        i = 6 + e
        b64 = field(i, "cert")
        if b64 is None:
            return fields, errs
        raw = b64decode_strict(b64)
        if raw is None or len(raw) != CERT_LEN:
            errs.append((offsets[i], "cert line %d is not 144 bytes of "
                         "padded base64" % e))
            return fields, errs
        cert = Cert(raw)
        problems = check_cert(cert, chain_id, root_pk, keys)
        if cert.epoch != e:
            problems.append("certificate on line for epoch %d certifies "
                            "epoch %d" % (e, cert.epoch))
        if problems:
            errs.append((offsets[i], "cert of epoch %d: %s"
                         % (e, "; ".join(problems))))
            return fields, errs
        keys[e] = cert.public_key
    i = 7 + epoch
    sig_b64 = field(i, "sig")
    if sig_b64 is None:
        return fields, errs
    sig = b64decode_strict(sig_b64)
    if sig is None or len(sig) != SIG_LEN:
        errs.append((offsets[i], "sig is not 64 bytes of padded base64"))
        return fields, errs
    signed = data[:offsets[i]]
    if not ed25519_ok(keys[epoch], D_CHECKPOINT + signed, sig):
        errs.append((offsets[i], "signature does not verify with the key of "
                     "epoch %d" % epoch))
    return fields, errs


# --- Sections 3, 4, 7, 9: the store walk -------------------------------------


class _File:
    """A segment file read with pread at the size it had when opened.

    Not mmap: a collector recovering a torn tail may truncate the newest
    segment while it is verified, and a mapping would then fault.  A file
    that shrinks under the reader is an I/O error (exit 2), not a finding."""

    def __init__(self, path, fd, size):
        self.path = path
        self.fd = fd
        self.size = size

    def __getitem__(self, sl):
        start = max(sl.start or 0, 0)
        stop = min(self.size if sl.stop is None else sl.stop, self.size)
        if stop <= start:
            return b""
        b = os.pread(self.fd, stop - start, start)
        if len(b) != stop - start:
            raise UsageError("%s: file shrank while being verified"
                             % self.path)
        return b

    def find(self, sub, start):
        chunk = 1 << 20
        pos = start
        while pos < self.size:
            buf = self[pos:pos + chunk + len(sub) - 1]
            i = buf.find(sub)
            if i >= 0:
                return pos + i
            pos += chunk
        return -1


class _Segment:
    __slots__ = ("path", "rel", "name_no", "size", "data", "hdr", "number",
                 "fh")


class Verifier:
    def __init__(self, store, root_path=None, checkpoint_paths=()):
        self.store = store
        self.root_path = root_path or os.path.join(store, "keys", "root.pub")
        self.checkpoint_paths = list(checkpoint_paths)
        self.report = Report(store)
        # Chain state left by the last block read (R-BLK-6, R-BLK-7, R-KEY-2).
        self.next_block_no = 0
        self.prev_hash = ZERO32
        self.next_seq = 0
        self.prev_epoch = None
        self.keys = {}
        self.by_block_no = {}

    # Findings -----------------------------------------------------------------

    def find(self, rule, file, offset, block_no, detail):
        self.report.findings.append(
            Finding(rule, file, offset, block_no, detail))

    def note(self, text):
        self.report.notes.append(text)

    # Entry ----------------------------------------------------------------------

    def run(self):
        if not os.path.isdir(self.store):
            raise UsageError("%s: not a directory" % self.store)
        root = read_trusted(self.root_path, 4096)
        self.chain_id, self.root_pk = parse_root_pub(root)
        self.report.chain_id = self.chain_id
        self.report.root_pk = self.root_pk
        checkpoints = []
        for p in self.checkpoint_paths:
            checkpoints.append((p, read_trusted(p, MAX_CHECKPOINT + 1)))
        # R-TLOG-4: the log certificate, in keys/ and beside the notes.
        log_certs = []
        for sub in ("keys", "checkpoints"):
            p = os.path.join(self.store, sub, "log.cert")
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    log_certs.append((p, f.read(4096)))
        # R-CKP-4: the store's own checkpoints are checked too; R-CKP-5:
        # all of them are read before the segments.
        given = set(os.path.realpath(p) for p in self.checkpoint_paths)
        cdir = os.path.join(self.store, "checkpoints")
        names = sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []
        for name in names:
            p = os.path.join(cdir, name)
            if name.startswith(".") or not (name.endswith(".ckpt") or
                                            name.endswith(".note")) or \
                    os.path.realpath(p) in given or not os.path.isfile(p):
                continue
            checkpoints.append((p, read_trusted(p, MAX_CHECKPOINT + 1)))
        segs = []
        try:
            self._open_segments(segs)
            self._guarded(self._walk, segs)
        finally:
            for s in segs:
                s.fh.close()
        self.log_pks = []
        for path, data in log_certs:
            self._guarded(self._check_log_cert, path, data)
        for path, data in checkpoints:
            if path.endswith(".note") or data.startswith(b"custody/"):
                self._guarded(self._check_note, path, data)
            else:
                self._guarded(self._check_checkpoint, path, data)
        if not self.checkpoint_paths:
            self.note("no checkpoint given: the chain is proven consistent, "
                      "not complete; deletion of the newest blocks cannot "
                      "be detected (R-CKP-3)")
        return self.report

    def _guarded(self, fn, *args):
        """A bug of this verifier must fail the verdict, never pass it or
        end in a traceback on hostile input."""
        try:
            fn(*args)
        except UsageError:
            raise
        except Exception as e:
            self.find("INTERNAL", None, None, None,
                      "reference verifier error: %r" % (e,))

    # Segment discovery and order (section 2, R-SEG-1, R-SEG-2) ------------------

    def _open_segments(self, segs):
        """Fill segs (the caller closes them) in the order of their numbers."""
        segdir = os.path.join(self.store, "segments")
        try:
            names = sorted(os.listdir(segdir))
        except FileNotFoundError:
            self.note("no segments/ directory: the store holds no blocks")
            return
        except OSError as e:
            raise UsageError("%s: %s" % (segdir, e.strerror))
        for name in names:
            m = SEGMENT_NAME.match(name)
            rel = "segments/" + name
            if not name.endswith(".cst"):
                self.note("%s: not a segment (R-SEG-0), ignored" % rel)
                continue
            path = os.path.join(segdir, name)
            try:
                st = os.lstat(path)
            except OSError as e:
                raise UsageError("%s: %s" % (path, e.strerror))
            if not stat.S_ISREG(st.st_mode):
                # R-SEG-7: links are not followed, nothing else is read.
                self.find("R-SEG-7", rel, 0, None, "not a regular file")
                continue
            if st.st_size > 0 and _first_hole(path) < st.st_size:
                self.find("R-SEG-7", rel, 0, None, "the file has holes")
            s = _Segment()
            # A .cst file with an odd name is still a segment (R-SEG-0); it
            # sorts last unless its header says where it belongs.
            s.path, s.rel = path, rel
            s.name_no = int(m.group(1)) if m else 1 << 64
            try:
                s.fh = open(path, "rb")
            except OSError as e:
                raise UsageError("%s: %s" % (path, e.strerror))
            segs.append(s)
            s.size = os.fstat(s.fh.fileno()).st_size
            s.data = _File(path, s.fh.fileno(), s.size)
            s.hdr = None
            s.number = s.name_no
            if s.size >= SEG_HDR_LEN:
                s.hdr = dict(zip(("magic", "version", "header_len", "flags",
                                  "chain_id", "segment_no", "first_block_no",
                                  "first_seq", "prev_hash", "created_ns",
                                  "check"),
                                 SEG_HDR.unpack(s.data[0:SEG_HDR_LEN])))
        for s in segs:
            self._place(s)
        segs.sort(key=lambda s: (s.number, s.rel))

    def _place(self, s):
        """Decide a segment's number: the header's when the header is
        valid, else the first block's (signed), else the file name's."""
        if s.hdr is None:
            self.find("R-SEG-1", s.rel, 0, None,
                      "file of %d bytes is shorter than the 128-byte header"
                      % s.size)
            return
        h = s.hdr
        problems = []
        if h["magic"] != SEG_MAGIC:
            problems.append("magic is not CUSTSEG\\0")
        if h["version"] != 1:
            problems.append("version %d, not 1" % h["version"])
        if h["header_len"] != SEG_HDR_LEN:
            problems.append("header_len %d, not 128" % h["header_len"])
        if h["flags"] != 0:
            problems.append("flags 0x%x, not 0" % h["flags"])
        if h["check"] != H(D_SEGMENT, s.data[0:96]):
            problems.append("check is not H(D_SEGMENT || bytes 0..95)")
        if not problems:
            s.number = h["segment_no"]
            return
        self.find("R-SEG-1", s.rel, 0, None, "; ".join(problems))
        if (s.size >= SEG_HDR_LEN + BLK_HDR_LEN
                and s.data[SEG_HDR_LEN:SEG_HDR_LEN + 4] == BLK_MAGIC):
            s.number = BLK_HDR.unpack(
                s.data[SEG_HDR_LEN:SEG_HDR_LEN + BLK_HDR_LEN])[6]

    def _walk(self, segs):
        expected = 0
        placed = []
        last = None
        for s in segs:
            if last is not None and s.number == last.number:
                self.find("R-SEG-2", s.rel, 0, None,
                          "segment %d repeated (also %s); not verified"
                          % (s.number, last.rel))
                continue
            if s.number != expected:
                if s.number > expected:
                    what = ("segment%s %d..%d missing" % (
                        "s" if s.number - expected > 1 else "", expected,
                        s.number - 1) if s.number - expected > 1
                        else "segment %d missing" % expected)
                else:
                    what = "segment %d out of order" % s.number
                self.find("R-SEG-2", s.rel, 0, None,
                          "%s before segment %d" % (what, s.number))
            expected = s.number + 1
            placed.append(s)
            last = s
        for i, s in enumerate(placed):
            self.report.segments.append(s.rel)
            self._walk_segment(s, i == len(placed) - 1)
        if not placed:
            self.note("the store holds no segment")

    # One segment (R-SEG-3, R-SEG-4, R-SEG-5) ------------------------------------

    def _walk_segment(self, s, newest):
        data, size = s.data, s.size
        h = s.hdr
        if h is not None:
            self._check_header_state(s)
        off = min(SEG_HDR_LEN, size)
        nblocks = 0
        seal_end = None
        last_type = None
        while off < size:
            rem = size - off
            if seal_end is not None and off == seal_end:
                self.find("R-SEG-4", s.rel, off, None,
                          "%d bytes after the seal block" % rem)
            if rem < BLK_HDR_LEN:
                head = data[off:off + min(4, rem)]
                if head == BLK_MAGIC[:len(head)]:
                    self._partial(s, off, rem, newest)
                else:
                    self.find("R-BLK-1", s.rel, off, None,
                              "%d trailing bytes are not a block frame" % rem)
                break
            hdr = dict(zip(BLK_FIELDS, BLK_HDR.unpack(
                data[off:off + BLK_HDR_LEN])))
            if hdr["magic"] != BLK_MAGIC:
                self.find("R-BLK-1", s.rel, off, None,
                          "no block magic where a frame should start")
                nxt = self._resync(s, off + 1)
                self._skipped(s, off, nxt)
                if nxt is None:
                    break
                off = nxt
                continue
            bad = self._length_problems(hdr)
            if bad:
                self.find("R-BLK-2", s.rel, off, hdr["block_no"], bad)
                nxt = self._resync(s, off + 1)
                self._skipped(s, off, nxt)
                if nxt is None:
                    break
                off = nxt
                continue
            flen = (BLK_HDR_LEN + hdr["cert_len"] + hdr["payload_len"]
                    + SIG_LEN)
            if flen > rem:
                # R-SEG-8: a frame that runs past the end of the file is a
                # partial frame only when no candidate frame follows it.
                nxt = self._resync(s, off + 1)
                if nxt is not None:
                    self.find("R-BLK-2", s.rel, off, hdr["block_no"],
                              "frame of %d bytes runs past the end of the "
                              "file, yet a frame starts at offset %d"
                              % (flen, nxt))
                    off = nxt
                    continue
                if not self._header_ok(hdr):
                    self.find("R-BLK-1", s.rel, off, hdr["block_no"],
                              "%d bytes at the end: an invalid block "
                              "header, not a partial frame (R-SEG-8)" % rem)
                    break
                self._partial(s, off, rem, newest)
                break
            if nblocks == 0 and h is not None:
                self._check_header_first_block(s, hdr)
            try:
                self._check_block(s, off, hdr)
            except UsageError:
                raise
            except Exception as e:  # a bug here must not hide a failure
                self.find("INTERNAL", s.rel, off, hdr["block_no"],
                          "reference verifier error: %r" % (e,))
            nblocks += 1
            if hdr["type"] == TYPE_SEAL:
                if seal_end is not None:
                    self.find("R-SEG-4", s.rel, off, hdr["block_no"],
                              "second seal block in the segment")
                seal_end = off + flen
            last_type = hdr["type"]
            off += flen
        if nblocks == 0:
            if not newest:
                self.find("R-SEG-5", s.rel, 0, None,
                          "segment holds no block and is not the newest")
            return
        if last_type != TYPE_SEAL:
            if newest:
                self.note("%s: newest segment is unsealed (a collector may "
                          "be writing it)" % s.rel)
            else:
                self.find("R-SEG-4", s.rel, size, None,
                          "segment is not the newest and does not end with "
                          "a seal block")

    def _length_problems(self, hdr):
        """R-BLK-2, checked before anything the lengths govern is read."""
        bad = []
        if hdr["cert_len"] not in (0, CERT_LEN):
            bad.append("cert_len %d is not 0 or 144" % hdr["cert_len"])
        if hdr["payload_len"] > MAX_PAYLOAD:
            bad.append("payload_len %d > 64 MiB" % hdr["payload_len"])
        if hdr["raw_len"] > MAX_PAYLOAD:
            bad.append("raw_len %d > 64 MiB" % hdr["raw_len"])
        if hdr["record_count"] > MAX_RECORDS:
            bad.append("record_count %d > 1048576" % hdr["record_count"])
        return "; ".join(bad)

    @staticmethod
    def _header_ok(hdr):
        """R-BLK-1 on the fields a frame walk reads before the frame."""
        return (hdr["magic"] == BLK_MAGIC and hdr["version"] == 1
                and hdr["type"] in (TYPE_DATA, TYPE_SEAL)
                and hdr["flags"] == 0)

    def _plausible(self, s, off):
        """A candidate frame (R-VER-1): a header by R-BLK-1 within
        R-BLK-2's limits, of this chain, whose frame fits in the file."""
        if off + BLK_HDR_LEN > s.size:
            return False
        hdr = dict(zip(BLK_FIELDS, BLK_HDR.unpack(
            s.data[off:off + BLK_HDR_LEN])))
        if (not self._header_ok(hdr) or self._length_problems(hdr)
                or hdr["chain_id"] != self.chain_id):
            return False
        flen = BLK_HDR_LEN + hdr["cert_len"] + hdr["payload_len"] + SIG_LEN
        return off + flen <= s.size

    def _resync(self, s, start):
        off = start
        while True:
            off = s.data.find(BLK_MAGIC, off)
            if off < 0:
                return None
            if self._plausible(s, off):
                return off
            off += 1

    def _skipped(self, s, off, nxt):
        end = s.size if nxt is None else nxt
        self.note("%s: %d bytes at offset %d skipped while resynchronising"
                  % (s.rel, end - off, off))

    def _partial(self, s, off, rem, newest):
        if newest:
            self.note("%s: newest segment ends in a partial frame of %d "
                      "bytes at offset %d, not verified (allowed by R-SEG-4)"
                      % (s.rel, rem, off))
        else:
            self.find("R-SEG-4", s.rel, off, None,
                      "partial frame of %d bytes in a segment that is not "
                      "the newest" % rem)

    def _check_header_state(self, s):
        """R-SEG-3 against the chain state left by the previous segment."""
        h = s.hdr
        bad = []
        if h["chain_id"] != self.chain_id:
            bad.append("chain_id %s is not the chain's %s"
                       % (h["chain_id"].hex(), self.chain_id.hex()))
        if h["first_block_no"] != self.next_block_no:
            bad.append("first_block_no %d, chain is at block %d"
                       % (h["first_block_no"], self.next_block_no))
        if h["first_seq"] != self.next_seq:
            bad.append("first_seq %d, chain is at seq %d"
                       % (h["first_seq"], self.next_seq))
        if h["prev_hash"] != self.prev_hash:
            bad.append("prev_hash is not the previous block's hash")
        if bad:
            self.find("R-SEG-3", s.rel, 0, None,
                      "header does not continue the chain: " + "; ".join(bad))

    def _check_header_first_block(self, s, b):
        """R-SEG-3 against the first block of the file."""
        h = s.hdr
        bad = [name for name, bname in (
            ("chain_id", "chain_id"), ("segment_no", "segment_no"),
            ("first_block_no", "block_no"), ("first_seq", "first_seq"),
            ("prev_hash", "prev_hash")) if h[name] != b[bname]]
        if bad:
            self.find("R-SEG-3", s.rel, 0, None,
                      "header differs from the first block in "
                      + ", ".join(bad))

    # One block (R-BLK-*, R-KEY-*, R-REC-*) --------------------------------------

    def _check_block(self, s, off, h):
        block_no = h["block_no"]
        errs = []

        def bad(rule, detail):
            errs.append((rule, detail))

        cert_len, payload_len = h["cert_len"], h["payload_len"]
        frame = s.data[off:off + BLK_HDR_LEN + cert_len + payload_len
                       + SIG_LEN]
        header = frame[0:BLK_HDR_LEN]
        cert = frame[BLK_HDR_LEN:BLK_HDR_LEN + cert_len]
        p0 = BLK_HDR_LEN + cert_len
        payload = frame[p0:p0 + payload_len]
        sig = frame[p0 + payload_len:]
        block_hash = H(D_BLOCK, header, cert)

        # R-BLK-1
        if h["version"] != 1:
            bad("R-BLK-1", "version %d, not 1" % h["version"])
        if h["type"] not in (TYPE_DATA, TYPE_SEAL):
            bad("R-BLK-1", "type %d is neither 1 (data) nor 2 (seal)"
                % h["type"])
        if h["flags"] != 0:
            bad("R-BLK-1", "flags 0x%x, not 0" % h["flags"])

        # R-BLK-6, R-BLK-7: the links to the chain state.
        if h["chain_id"] != self.chain_id:
            bad("R-BLK-6", "chain_id %s is not the chain's"
                % h["chain_id"].hex())
        if h["segment_no"] != s.number:
            bad("R-BLK-6", "segment_no %d in segment %d"
                % (h["segment_no"], s.number))
        if block_no != self.next_block_no:
            bad("R-BLK-6", "block_no %d where block %d was due"
                % (block_no, self.next_block_no))
        if h["prev_hash"] != self.prev_hash:
            bad("R-BLK-6", "prev_hash is not the hash of the previous block")
        if h["first_seq"] != self.next_seq:
            bad("R-BLK-7", "first_seq %d where seq %d was due"
                % (h["first_seq"], self.next_seq))

        # R-KEY-2, R-KEY-1: the key that signed this block.
        first = self.prev_epoch is None
        due_epoch = 1 if first else self.prev_epoch + (1 if cert_len else 0)
        if cert_len == CERT_LEN:
            c = Cert(cert)
            problems = check_cert(c, self.chain_id, self.root_pk, self.keys)
            for p in problems:
                bad("R-KEY-1", p)
            cert_ok = not problems
            if c.epoch != h["key_epoch"]:
                bad("R-KEY-2", "certificate of epoch %d in a block signed by "
                    "epoch %d" % (c.epoch, h["key_epoch"]))
                cert_ok = False
            if c.valid_from != block_no:
                bad("R-KEY-2", "certificate valid_from %d in block %d"
                    % (c.valid_from, block_no))
            if h["key_epoch"] != due_epoch:
                bad("R-KEY-2", "key_epoch %d after epoch %s; a certificate "
                    "must bring epoch %d" % (h["key_epoch"],
                                             self.prev_epoch, due_epoch))
            if cert_ok and c.epoch not in self.keys:
                self.keys[c.epoch] = c.public_key
        elif first:
            bad("R-KEY-2", "first block of the chain carries no certificate")
        elif h["key_epoch"] != due_epoch:
            bad("R-KEY-2", "key_epoch changes from %d to %d without a "
                "certificate" % (self.prev_epoch, h["key_epoch"]))

        # R-BLK-3
        pk = self.keys.get(h["key_epoch"])
        if pk is None:
            bad("R-BLK-3", "no certified key of epoch %d" % h["key_epoch"])
        elif not ed25519_ok(pk, D_BLOCKSIG + block_hash, sig):
            bad("R-BLK-3", "signature does not verify with the key of "
                "epoch %d" % h["key_epoch"])

        # R-BLK-9 (seal) and R-BLK-8 (data) fields that need no payload.
        if h["type"] == TYPE_SEAL:
            if (h["record_count"], payload_len, h["raw_len"]) != (0, 9, 0):
                bad("R-BLK-9", "seal with record_count %d, payload_len %d, "
                    "raw_len %d (must be 0, 9, 0)"
                    % (h["record_count"], payload_len, h["raw_len"]))
            if payload_len == 9 and payload != SEAL_PAYLOAD:
                bad("R-BLK-9", "seal payload is not the empty zstd frame")
            if h["records_hash"] != H(D_RECORDS):
                bad("R-BLK-9", "seal records_hash is not H(D_RECORDS)")
            if h["merkle_root"] != H(b""):
                bad("R-BLK-9", "seal merkle_root is not H(\"\")")
            if not h["min_time_ns"] == h["max_time_ns"] == h["sealed_ns"]:
                bad("R-BLK-9", "seal min/max_time_ns differ from sealed_ns")
        elif h["type"] == TYPE_DATA and h["record_count"] < 1:
            bad("R-BLK-8", "data block with no record")

        # R-BLK-4: the payload, decompressed only after its header agrees.
        records = None
        if h["payload_hash"] != H(D_PAYLOAD, payload):
            bad("R-BLK-4", "payload_hash does not match the payload")
        raw = self._decompress(payload, h["raw_len"], bad)
        if raw is not None:
            if H(D_RECORDS, raw) != h["records_hash"]:
                bad("R-BLK-4", "records_hash does not match the "
                    "uncompressed payload")
            records, spans, err = decode_records(raw, h["record_count"])
            if err:
                bad("R-BLK-5", err)
                records = None
            else:
                leaves = [raw[a:b] for a, b in spans]
                if merkle_root(leaves) != h["merkle_root"]:
                    bad("R-BLK-5", "merkle_root does not match the records")
        if records is not None:
            self._check_records(s, off, h, records, bad)

        seq_end = h["first_seq"] + h["record_count"]
        for rule, detail in errs:
            if h["record_count"]:
                detail += " [seq %d..%d]" % (h["first_seq"], seq_end - 1)
            self.find(rule, s.rel, off, block_no, detail)

        # The chain continues from what this block claims, so one altered
        # block is reported once rather than breaking every later link.
        self.next_block_no = block_no + 1
        self.prev_hash = block_hash
        self.next_seq = seq_end
        self.prev_epoch = h["key_epoch"]
        info = BlockInfo(file=s.rel, offset=off, segment_no=s.number,
                         block_no=block_no, type=h["type"],
                         key_epoch=h["key_epoch"], cert_len=cert_len,
                         payload_len=payload_len,
                         record_count=h["record_count"],
                         first_seq=h["first_seq"], block_hash=block_hash,
                         ok=not errs)
        self.report.blocks.append(info)
        self.report.records += h["record_count"]
        self.by_block_no.setdefault(block_no, []).append(info)

    def _decompress(self, payload, raw_len, bad):
        """R-BLK-4: exactly one zstd frame stating content size raw_len;
        decompressed into at most raw_len bytes."""
        try:
            content_size, frame_len = zstd_frame_info(payload)
        except ValueError as e:
            bad("R-BLK-4", "payload is not one zstd frame: %s" % e)
            return None
        if content_size is None:
            bad("R-BLK-4", "zstd frame does not state its content size")
            return None
        if content_size != raw_len:
            bad("R-BLK-4", "zstd frame states content size %d, raw_len is %d"
                % (content_size, raw_len))
            return None
        if frame_len != len(payload):
            bad("R-BLK-4", "payload holds %d bytes after its zstd frame"
                % (len(payload) - frame_len))
            return None
        try:
            raw = zstandard.ZstdDecompressor().decompress(
                payload, max_output_size=raw_len)
        except zstandard.ZstdError as e:
            bad("R-BLK-4", "zstd frame does not decompress: %s" % e)
            return None
        if len(raw) != raw_len:
            bad("R-BLK-4", "payload decompresses to %d bytes, raw_len is %d"
                % (len(raw), raw_len))
            return None
        return raw

    def _check_records(self, s, off, h, records, bad):
        """R-REC-1/2/3, R-BLK-7 (record seq), R-BLK-8 (times), and the
        recovery records of R-REC-4."""
        rec_errs = {}
        seq_bad = None
        times = []
        for i, rec in enumerate(records):
            for rule, detail in check_record(rec):
                rec_errs.setdefault((rule, detail), i)
            if type(rec) is not list or len(rec) != RECORD_LEN:
                continue
            if rec[1] != h["first_seq"] + i and seq_bad is None:
                seq_bad = (i, rec[1])
            if _is_int(rec[2]):
                times.append(rec[2])
            if rec[0] == KIND_RECOVERY and isinstance(rec[10], MsgMap):
                self._check_recovery(s, off, h, rec[10], bad)
        for (rule, detail), i in rec_errs.items():
            bad(rule, "record %d (seq %d): %s" % (i, h["first_seq"] + i,
                                                  detail))
        if seq_bad is not None:
            bad("R-BLK-7", "record %d carries seq %r, not %d"
                % (seq_bad[0], seq_bad[1], h["first_seq"] + seq_bad[0]))
        if h["type"] == TYPE_DATA and times and len(times) == len(records):
            if min(times) != h["min_time_ns"] or max(times) != h[
                    "max_time_ns"]:
                bad("R-BLK-8", "min/max_time_ns %d/%d, records span %d/%d"
                    % (h["min_time_ns"], h["max_time_ns"], min(times),
                       max(times)))

    def _check_recovery(self, s, off, h, detail, bad):
        """R-REC-4: a quarantine file, where present, is what the record says."""
        d = {}
        for k, v in detail:
            d.setdefault(k, v)
        name = d.get("quarantine")
        cut_len = d.get("cut_len")
        if name is None:
            if _is_uint(cut_len) and cut_len > 0:
                bad("R-REC-4", "recovery record says %d bytes were cut but "
                    "names no quarantine file" % cut_len)
            return
        if (not _is_str(name) or name in ("", ".", "..") or "/" in name
                or "\x00" in name):
            bad("R-REC-4", "recovery record names quarantine file %r, not a "
                "plain file name" % (name,))
            return
        path = os.path.join(self.store, "quarantine", name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.note("quarantine/%s named by a recovery record in block %d "
                      "is absent; not checked (R-REC-4)" % (name,
                                                              h["block_no"]))
            return
        except OSError as e:
            bad("R-REC-4", "quarantine/%s: %s" % (name, e.strerror))
            return
        if not stat.S_ISREG(st.st_mode):
            bad("R-REC-4", "quarantine/%s is not a regular file" % name)
            return
        cut_sha = d.get("cut_sha256")
        if not _is_uint(cut_len) or not _is_str(cut_sha):
            bad("R-REC-4", "recovery record for quarantine/%s lacks a uint "
                "cut_len or a str cut_sha256" % name)
            return
        sha = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    sha.update(chunk)
        except OSError as e:
            bad("R-REC-4", "quarantine/%s: %s" % (name, e.strerror))
            return
        if st.st_size != cut_len:
            bad("R-REC-4", "quarantine/%s holds %d bytes, the recovery "
                "record says cut_len %d" % (name, st.st_size, cut_len))
        if sha.hexdigest() != cut_sha.lower():
            bad("R-REC-4", "quarantine/%s SHA-256 %s, the recovery record "
                "says %s" % (name, sha.hexdigest(), cut_sha))

    # Checkpoints (R-CKP-1, R-CKP-2, R-CKP-3) ------------------------------------

    def _check_checkpoint(self, path, data):
        fields, errs = parse_checkpoint(data, self.chain_id, self.root_pk)
        for offset, detail in errs:
            self.find("R-CKP-1", path, offset, None, detail)
        if fields is None or errs:
            return
        blocks, records, head = (fields["blocks"], fields["records"],
                                 fields["head"])
        if blocks == 0:
            if records != 0 or head != ZERO32:
                self.find("R-CKP-1", path, 0, None, "checkpoint of 0 blocks "
                          "with records %d or a non-zero head" % records)
            return
        n = blocks - 1
        found = self.by_block_no.get(n)
        if not found:
            self.find("R-CKP-2", path, 0, n,
                      "checkpoint of %d blocks, %d records; the store ends "
                      "before block %d (truncated or rolled back)"
                      % (blocks, records, n))
            return
        match = [b for b in found if b.block_hash == head]
        if not match:
            self.find("R-CKP-2", path, 0, n,
                      "block %d in the store has hash %s, the checkpoint "
                      "says %s (altered or replaced)"
                      % (n, found[0].block_hash.hex(), head.hex()))
            return
        b = match[0]
        if b.first_seq + b.record_count != records:
            self.find("R-CKP-2", path, 0, n,
                      "checkpoint says %d records, block %d ends at %d"
                      % (records, n, b.first_seq + b.record_count))
            return
        after = self.report.blocks[-1].block_no - n if self.report.blocks \
            else 0
        self.note("%s: store extends the checkpoint of %d blocks, %d records "
                  "(%s); %d later blocks are consistent, not proven complete "
                  "(R-CKP-3)" % (path, blocks, records, fields["time"],
                                 max(after, 0)))

    def _check_log_cert(self, path, data):
        """R-TLOG-5: exact format, this chain, signed by the root key."""
        c = parse_log_cert(data)
        if isinstance(c, str):
            self.find("R-TLOG-5", path, 0, None, c)
            return
        chain_id, pk, sig = c
        if chain_id != self.chain_id:
            self.find("R-TLOG-5", path, 0, None,
                      "log certificate of another chain")
            return
        if not ed25519_ok(self.root_pk, D_LOGCERT + chain_id + pk, sig):
            self.find("R-TLOG-5", path, 0, None,
                      "log certificate not signed by the root key")
            return
        if pk not in self.log_pks:
            self.log_pks.append(pk)

    def _check_note(self, path, data):
        """R-NOTE-2..6 on a note checkpoint."""
        n = parse_note(data)
        if isinstance(n, str):
            self.find("R-NOTE-2", path, 0, None, n)
            return
        if not self.log_pks:
            self.find("R-TLOG-5", path, 0, None, "no log certificate that "
                      "verifies: the note checkpoint cannot be checked")
            return
        text, sigs = n
        origin = "custody/" + self.chain_id.hex()
        body = parse_note_ckpt(text, origin)
        if isinstance(body, str):
            self.find("R-NOTE-4", path, 0, None, body)
            return
        size, root = body
        # R-NOTE-3: only lines of a known key count; all of them must hold.
        verified = False
        for pk in self.log_pks:
            kid = note_key_id(origin, 1, pk)
            for name, key_id, sig in sigs:
                if name != origin or key_id != kid:
                    continue
                if len(sig) != 64 or not ed25519_ok(pk, text, sig):
                    self.find("R-NOTE-5", path, 0, None,
                              "log signature does not verify")
                    return
                verified = True
        if not verified:
            self.find("R-NOTE-5", path, 0, None, "no signature by a log key "
                      "the root certified")
            return
        # R-NOTE-6: the chain tree of the store's first size blocks.
        hashes = []
        for i in range(size):
            found = self.by_block_no.get(i)
            if not found:
                self.find("R-NOTE-6", path, 0, i,
                          "note checkpoint of %d blocks; block %d is not in "
                          "the store (truncated, rolled back or lost)"
                          % (size, i))
                return
            hashes.append(found[0].block_hash)
        got = chain_tree_root(hashes)
        if got != root:
            self.find("R-NOTE-6", path, 0, size - 1,
                      "chain tree of %d blocks has root %s, the note %s "
                      "(altered or replaced)" % (size, got.hex(), root.hex()))
            return
        self.note("%s: the chain tree of the first %d blocks has the note "
                  "checkpoint's root" % (path, size))


# --- Section 13: the chain tree, the log key and note checkpoints -------------

MAX_NOTE = 65536
MAX_NOTE_SIGS = 100
EM_DASH = "\u2014"


def chain_tree_root(block_hashes):
    """R-TLOG-1: RFC 6962 tree over the block hashes (leaf H(00 || hash))."""
    if not block_hashes:
        return H(b"")
    return _mth([H(b"\x00", h) for h in block_hashes], 0, len(block_hashes))


def note_key_id(name, alg, pk):
    """R-NOTE-2: first 4 bytes of SHA-256(name || 0A || alg || pk)."""
    return hashlib.sha256(name.encode("ascii") + b"\n" + bytes([alg]) +
                          pk).digest()[:4]


def note_name_ok(name):
    """R-NOTE-1: 1..255 bytes of 0x21..0x7e other than '+'."""
    return 1 <= len(name) <= 255 and all(
        0x21 <= ord(c) <= 0x7e and c != "+" for c in name)


def parse_log_cert(data):
    """R-TLOG-4/5 format: (chain_id, pk, sig) or an error string."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return "log certificate is not ASCII"
    if text.endswith("\n"):
        text = text[:-1]
    parts = text.split(" ")
    if len(parts) != 4 or parts[0] != "custody-log-cert-v1":
        return "not 'custody-log-cert-v1 <chain> <pk> <sig>'"
    if not re.fullmatch(r"[0-9a-f]{32}", parts[1]):
        return "chain id is not 32 lower-case hex digits"
    pk = b64decode_strict(parts[2])
    sig = b64decode_strict(parts[3])
    if pk is None or len(pk) != 32 or sig is None or len(sig) != 64:
        return "public key or signature is not canonical base64 of 32/64 bytes"
    return bytes.fromhex(parts[1]), pk, sig


def parse_note(data):
    """R-NOTE-2: (text bytes, [(name, key_id, sig bytes)]) or an error."""
    if len(data) > MAX_NOTE:
        return "note larger than %d bytes" % MAX_NOTE
    try:
        s = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return "note is not UTF-8"
    if any(ord(c) < 0x20 and c != "\n" for c in s):
        return "note holds a control character other than LF"
    if not s.endswith("\n"):
        return "note does not end with LF"
    split = s.rfind("\n\n")
    if split < 0:
        return "note has no empty line before its signatures"
    text = s[:split + 1]
    lines = s[split + 2:].split("\n")[:-1]
    if not lines:
        return "note has no signature line"
    if len(lines) > MAX_NOTE_SIGS:
        return "note has more than %d signature lines" % MAX_NOTE_SIGS
    sigs = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not note_name_ok(parts[1]):
            return "malformed signature line %r" % line
        raw = b64decode_strict(parts[2])
        if raw is None or len(raw) < 5:
            return "signature is not canonical base64 of 5 bytes or more"
        sigs.append((parts[1], raw[:4], raw[4:]))
    return text.encode("utf-8"), sigs


def parse_note_ckpt(text, origin):
    """R-NOTE-4: (size, root) of a three-line body, or an error string."""
    lines = text.decode("utf-8").split("\n")
    if lines[-1] != "" or len(lines) != 4:
        return "note text is not exactly three lines"
    if lines[0] != origin:
        return "origin %r is not this chain's %r" % (lines[0], origin)
    if not re.fullmatch(r"[1-9][0-9]{0,19}", lines[1]) or \
            int(lines[1]) >= 2 ** 64:
        return "tree size %r is not a decimal of 1 to 2^64-1" % lines[1]
    root = b64decode_strict(lines[2])
    if root is None or len(root) != 32:
        return "root is not canonical base64 of 32 bytes"
    return int(lines[1]), root



def verify_store(store, root_path=None, checkpoint_paths=()):
    """Verify a store; returns a Report.  Raises UsageError (exit 2)."""
    return Verifier(store, root_path, checkpoint_paths).run()


# --- Command line -----------------------------------------------------------------

USAGE = ("usage: custody_ref.py [--root FILE] [--checkpoint FILE ...] "
         "[--json] STORE_DIR")


def _parse_args(argv):
    root = None
    checkpoints = []
    as_json = False
    store = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--root", "--checkpoint"):
            if i + 1 >= len(argv):
                raise UsageError("%s needs a file" % a)
            if a == "--root":
                root = argv[i + 1]
            else:
                checkpoints.append(argv[i + 1])
            i += 2
            continue
        if a == "--json":
            as_json = True
        elif a in ("-h", "--help"):
            raise UsageError(None)
        elif a.startswith("-") and a != "-":
            raise UsageError("unknown option %s" % a)
        elif store is not None:
            raise UsageError("more than one store directory")
        else:
            store = a
        i += 1
    if store is None:
        raise UsageError("no store directory")
    return root, checkpoints, as_json, store


def main(argv):
    try:
        root, checkpoints, as_json, store = _parse_args(argv)
        report = verify_store(store, root, checkpoints)
    except UsageError as e:
        if e.args and e.args[0]:
            print("custody_ref: %s" % e.args[0], file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    except (OSError, MemoryError) as e:
        print("custody_ref: %s" % e, file=sys.stderr)
        return 2
    if as_json:
        json.dump(report.as_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        d = report.as_dict()
        print("store %s" % store)
        print("chain %s, root key fingerprint %s" % (d["chain_id"],
                                                      d["root_fpr"]))
        print("%d segments, %d blocks, %d records" % (
            len(report.segments), len(report.blocks), report.records))
        for f in report.findings:
            print("FAIL %s" % f)
        for n in report.notes:
            print("note: %s" % n)
        print("verdict: %s" % report.verdict)
    return 0 if report.verdict == "intact" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
