#!/usr/bin/python3
"""Reference verifier for evidence bundles, from SPEC.md section 11 alone.

    bundle_ref.py --root ROOT.pub [--checkpoint FILE ...]
                  [--witness VKEY ... [--quorum N]] BUNDLE

prints `valid` or `invalid RULE: why` and exits 0 or 1 (2: usage).  As
custody_ref.py does for stores, it shares no code with the C verifier;
it uses custody_ref.py's readings of sections 1 to 8.
"""

import base64
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import custody_ref as ref  # noqa: E402

D_BUNDLE = ref._domain("custody/v1/bundle")
HDR = struct.Struct("<8sHHI16sqIIIIII")
REC_HDR = struct.Struct("<IIIB3s")
MAX_NOTE = 65536
MAX_CERTS = 65536
MAX_BLOCKS = 1 << 24
MAX_RECORDS = 1 << 24
MAX_CKPS = 64
MAX_CKP_LEN = 65536
MAX_RECORD = 67108864
MAX_LOGCERT = 4096
MAX_TNOTE = 65536
PROOF_HDR = struct.Struct("<QQB7s")


class Invalid(Exception):
    def __init__(self, rule, why):
        super().__init__("%s: %s" % (rule, why))
        self.rule = rule


def need(cond, rule, why):
    if not cond:
        raise Invalid(rule, why)


def path_root(leaf_hash, m, n, path):
    """RFC 9162 2.1.3.2: the root an audit path gives, or None."""
    fn, sn, r = m, n - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = ref.H(b"\x01", p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = ref.H(b"\x01", r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def parse_vkey(text):
    """A C2SP verifier key NAME+ID+KEY of a cosignature/v1 key:
    (name, key_id, pk) or None."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not ref.note_name_ok(parts[0]):
        return None
    raw = ref.b64decode_strict(parts[2])
    if raw is None or len(raw) != 33 or raw[0] != 4:
        return None
    kid = ref.note_key_id(parts[0], 4, raw[1:])
    if kid.hex() != parts[1]:
        return None
    return parts[0], kid, raw[1:]


def cosigned(text, sigs, wkey):
    """R-NOTE-8 for one witness key: True (valid line), False (none),
    or raises Invalid (a line of that key does not verify)."""
    name, kid, pk = wkey
    found = False
    for sname, key_id, sig in sigs:
        if sname != name or key_id != kid:
            continue
        need(len(sig) == 72, "R-BND-18", "cosignature of %s malformed" % name)
        t = struct.unpack(">Q", sig[:8])[0]
        msg = b"cosignature/v1\ntime %d\n" % t + text
        need(ref.ed25519_ok(pk, msg, sig[8:]), "R-BND-18",
             "cosignature of %s does not verify" % name)
        found = True
    return found


def verify_anchor(take, chain_id, root_pk):
    """R-BND-14 and R-BND-15: (N, R, note text, signature lines)."""
    (n,) = struct.unpack("<I", take(4, "log certificate length"))
    need(1 <= n <= MAX_LOGCERT, "R-BND-13", "log certificate length")
    raw = take(n, "log certificate")
    need(raw.endswith(b"\n"), "R-BND-14", "log certificate without its LF")
    c = ref.parse_log_cert(raw)
    need(not isinstance(c, str), "R-BND-14", str(c))
    cid, pk, sig = c
    need(cid == chain_id, "R-BND-14", "log certificate of another chain")
    need(ref.ed25519_ok(root_pk, ref.D_LOGCERT + cid + pk, sig), "R-BND-14",
         "log certificate not signed by the root key")
    (n,) = struct.unpack("<I", take(4, "note length"))
    need(1 <= n <= MAX_TNOTE, "R-BND-13", "note length")
    note = ref.parse_note(take(n, "note"))
    need(not isinstance(note, str), "R-BND-15", str(note))
    text, sigs = note
    origin = "custody/" + chain_id.hex()
    body = ref.parse_note_ckpt(text, origin)
    need(not isinstance(body, str), "R-BND-15", str(body))
    kid = ref.note_key_id(origin, 1, pk)
    mine = [sg for name, key_id, sg in sigs if name == origin and
            key_id == kid]
    need(mine, "R-BND-15", "no signature by the certified log key")
    for sg in mine:
        need(len(sg) == 64 and ref.ed25519_ok(pk, text, sg), "R-BND-15",
             "log signature does not verify")
    return body[0], body[1], text, sigs


def verify_bundle(data, chain_id, root_pk, given=(), witnesses=(),
                  quorum=None, out=None):
    """Raises Invalid at the first rule broken; returns the number of runs
    a given checkpoint anchors.  out (a dict), when given, receives what
    version 2 adds: tree_size, note_blocks, cosigned."""
    need(len(data) >= 96, "R-BND-1", "shorter than 96 bytes")
    end = len(data) - 32
    need(ref.H(D_BUNDLE, data[:end]) == data[end:], "R-BND-1",
         "trailer is not the digest")
    (magic, version, hlen, flags, cid, _created, note_len, ncert, nblk,
     nrec, nckp, reserved) = HDR.unpack_from(data, 0)
    need(magic == b"CUSTBND\x00" and version in (1, 2) and hlen == 64 and
         flags == 0 and (version == 2 or reserved == 0), "R-BND-1",
         "header")
    nproof = reserved if version == 2 else 0
    need(version == 1 or 1 <= nproof <= nblk, "R-BND-13", "proof_count")
    need(note_len <= MAX_NOTE and 1 <= ncert <= MAX_CERTS and
         1 <= nblk <= MAX_BLOCKS and nrec <= MAX_RECORDS and
         nckp <= MAX_CKPS, "R-BND-1", "a count out of its limits")
    pos = 64

    def take(n, what):
        nonlocal pos
        need(pos + n <= end, "R-BND-1", "%s runs past the trailer" % what)
        b = data[pos:pos + n]
        pos += n
        return b

    take(note_len, "note")
    need(cid == chain_id, "R-BND-2", "another chain")

    # R-BND-3
    keys, certs, prev_from = {}, [], None
    for i in range(ncert):
        raw = take(ref.CERT_LEN, "certificate")
        c = ref.Cert(raw)
        problems = ref.check_cert(c, chain_id, root_pk, keys)
        need(not problems and c.epoch == i + 1, "R-BND-3",
             "certificate %d: %s" % (i, "; ".join(problems) or "epoch"))
        need((i == 0 and c.valid_from == 0) or
             (i > 0 and c.valid_from > prev_from), "R-BND-3",
             "valid_from does not increase from 0")
        prev_from = c.valid_from
        keys[c.epoch] = c.public_key
        certs.append((raw, c))

    # R-BND-4, R-BND-5
    blocks = []
    for i in range(nblk):
        raw = take(ref.BLK_HDR_LEN, "block header")
        h = dict(zip(ref.BLK_FIELDS, ref.BLK_HDR.unpack(raw)))
        need(h["magic"] == ref.BLK_MAGIC and h["version"] == 1 and
             h["type"] in (1, 2) and h["flags"] == 0, "R-BND-4", "R-BLK-1")
        need(h["cert_len"] in (0, ref.CERT_LEN) and
             h["payload_len"] <= ref.MAX_PAYLOAD and
             h["raw_len"] <= ref.MAX_PAYLOAD and
             h["record_count"] <= ref.MAX_RECORDS, "R-BND-4", "R-BLK-2")
        cert = take(h["cert_len"], "block certificate")
        sig = take(ref.SIG_LEN, "block signature")
        need(h["chain_id"] == chain_id, "R-BND-4", "block chain id")
        e = h["key_epoch"]
        need(1 <= e <= ncert, "R-BND-4", "key_epoch out of range")
        vf = certs[e - 1][1].valid_from
        need(h["block_no"] >= vf and
             (e == ncert or h["block_no"] < certs[e][1].valid_from),
             "R-BND-4", "block outside its epoch's range")
        need((h["cert_len"] == ref.CERT_LEN) == (h["block_no"] == vf),
             "R-BND-4", "certificate present iff at valid_from")
        need(not cert or cert == certs[e - 1][0], "R-BND-4",
             "carried certificate differs")
        if h["block_no"] == 0:
            need(e == 1 and h["first_seq"] == 0 and
                 h["prev_hash"] == ref.ZERO32, "R-BND-4", "block 0")
        need(not blocks or h["block_no"] > blocks[-1]["block_no"],
             "R-BND-4", "block numbers do not increase")
        h["hash"] = ref.H(ref.D_BLOCK, raw, cert)
        need(ref.ed25519_ok(keys[e], ref.D_BLOCKSIG + h["hash"], sig),
             "R-BND-5", "block signature")
        blocks.append(h)
    need(max(b["key_epoch"] for b in blocks) == ncert, "R-BND-3",
         "cert_count is not the greatest key_epoch")

    # R-BND-6: runs
    run = 0
    for j, b in enumerate(blocks):
        if j and b["block_no"] == blocks[j - 1]["block_no"] + 1:
            a = blocks[j - 1]
            need(b["prev_hash"] == a["hash"] and
                 b["first_seq"] == a["first_seq"] + a["record_count"] and
                 b["segment_no"] in ((a["segment_no"],) if a["type"] == 1
                                     else (a["segment_no"],
                                           a["segment_no"] + 1)),
                 "R-BND-6", "blocks %d and %d not adjacent"
                 % (a["block_no"], b["block_no"]))
        elif j:
            run += 1
        b["run"] = run

    # R-BND-7..9: records
    last = None
    for i in range(nrec):
        bi, leaf, rlen, plen, res = REC_HDR.unpack(take(16, "record entry"))
        need(res == bytes(3), "R-BND-7", "reserved")
        need(1 <= rlen <= MAX_RECORD and plen <= 64, "R-BND-1",
             "record or path length")
        rec = take(rlen, "record")
        path = [take(32, "path") for _ in range(plen)]
        need(last is None or (bi, leaf) > last, "R-BND-7", "order")
        last = (bi, leaf)
        need(bi < nblk and blocks[bi]["type"] == 1 and
             leaf < blocks[bi]["record_count"], "R-BND-7", "block or leaf")
        b = blocks[bi]
        objs, _, err = ref.decode_records(rec, 1)
        need(err is None, "R-BND-8", "not exactly one record")
        need(not ref.check_record(objs[0]), "R-BND-8", "R-REC-1/2")
        need(objs[0][1] == b["first_seq"] + leaf and
             b["min_time_ns"] <= objs[0][2] <= b["max_time_ns"],
             "R-BND-8", "seq or recv_ns")
        need(path_root(ref.H(b"\x00", rec), leaf, b["record_count"], path)
             == b["merkle_root"], "R-BND-9", "audit path")

    # R-BND-10: carried checkpoints, verified; they anchor nothing.
    by_no = {b["block_no"]: b for b in blocks}
    for i in range(nckp):
        (n,) = struct.unpack("<I", take(4, "checkpoint length"))
        need(1 <= n <= MAX_CKP_LEN, "R-BND-1", "checkpoint length")
        f, errs = ref.parse_checkpoint(take(n, "checkpoint"), chain_id,
                                       root_pk)
        need(f is not None and not errs, "R-BND-10", "checkpoint %d" % i)
        hb = by_no.get(f["blocks"] - 1) if f["blocks"] else None
        need(hb is None or (hb["hash"] == f["head"] and hb["first_seq"] +
                            hb["record_count"] == f["records"]),
             "R-BND-10", "checkpoint head")
    # Version 2 (SPEC 11.4): R-BND-13..17.
    note_blocks = 0
    if version == 2:
        size, troot, text, sigs = verify_anchor(take, chain_id, root_pk)
        prev = None
        for i in range(nproof):
            bno, tsize, plen, res = PROOF_HDR.unpack(take(24, "proof"))
            need(plen <= 64, "R-BND-13", "proof %d: path length" % i)
            path = [take(32, "proof path") for _ in range(plen)]
            need(res == bytes(7), "R-BND-16", "proof %d: reserved" % i)
            need(prev is None or bno > prev, "R-BND-16", "proof order")
            prev = bno
            need(bno in by_no, "R-BND-16", "proof %d: block %d is not in "
                 "the bundle" % (i, bno))
            need(tsize == size and bno < size, "R-BND-16",
                 "proof %d: block %d, tree size %d, note of %d"
                 % (i, bno, tsize, size))
            b = by_no[bno]
            need(path_root(ref.H(b"\x00", b["hash"]), bno, size, path)
                 == troot, "R-BND-16", "proof of block %d does not give "
                 "the note's root" % bno)
            # R-BND-17: the block and those before it in its run.
            for a in blocks:
                if a["run"] == b["run"] and a["block_no"] <= bno:
                    a["note"] = True
        note_blocks = sum(1 for a in blocks if a.get("note"))
        n_cosigned = sum(1 for w in witnesses if cosigned(text, sigs, w))
        if out is not None:
            out.update(tree_size=size, note_blocks=note_blocks,
                       cosigned=n_cosigned)
    need(pos == end, "R-BND-13" if version == 2 else "R-BND-1",
         "bytes before the trailer")

    # R-BND-12: checkpoints given.
    anchored = set()
    for k, text in enumerate(given):
        f, errs = ref.parse_checkpoint(text, chain_id, root_pk)
        need(f is not None and not errs, "R-BND-12", "given checkpoint %d"
             % k)
        if not f["blocks"]:
            continue
        hb = by_no.get(f["blocks"] - 1)
        if hb is not None:
            need(hb["hash"] == f["head"] and hb["first_seq"] +
                 hb["record_count"] == f["records"], "R-BND-12",
                 "head block differs from the given checkpoint's")
        for b in blocks:
            if b["block_no"] < f["blocks"]:
                need(hb is not None and b["run"] == hb["run"], "R-BND-12",
                     "block %d is not joined to the head of a given "
                     "checkpoint" % b["block_no"])
                anchored.add(b["run"])
    return len(anchored)


def main(argv):
    root, given, rest, wit, quorum, i = None, [], [], [], None, 1
    while i < len(argv):
        if argv[i] in ("--root", "--checkpoint", "--witness", "--quorum") \
                and i + 1 < len(argv):
            if argv[i] == "--root":
                root = argv[i + 1]
            elif argv[i] == "--witness":
                arg = argv[i + 1]
                if os.path.isfile(arg):
                    arg = open(arg).readline()
                w = parse_vkey(arg)
                if w is None:
                    print("bundle_ref: bad witness key %r" % arg,
                          file=sys.stderr)
                    return 2
                wit.append(w)
            elif argv[i] == "--quorum":
                quorum = int(argv[i + 1])
            else:
                given.append(argv[i + 1])
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if root is None or len(rest) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        chain_id, pk = ref.parse_root_pub(open(root, "rb").read())
        data = open(rest[0], "rb").read()
        texts = [open(p, "rb").read() for p in given]
    except (OSError, ref.UsageError) as e:
        print("bundle_ref: %s" % e, file=sys.stderr)
        return 2
    out = {}
    try:
        n = verify_bundle(data, chain_id, pk, texts, wit, quorum, out)
    except Invalid as e:
        print("invalid %s" % e)
        return 1
    print("valid, %d run(s) anchored by a checkpoint given" % n)
    if out:
        q = quorum if quorum is not None else len(wit)
        print("note checkpoint of %d blocks anchors %d block(s); %d "
              "witness(es) cosigned it%s" % (
                  out["tree_size"], out["note_blocks"], out["cosigned"],
                  "" if not wit else ", %switnessed" %
                  ("" if out["cosigned"] >= q else "not ")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
