#!/usr/bin/python3
"""Cross-check custody's C verifier against the independent reference one.

Run by ctest as `/usr/bin/python3 tests/ref/test_ref.py` with
CUSTODY_SOURCE_DIR, CUSTODY_BUILD_DIR and CUSTODY_VERIFY in the environment.

1. Stores written by gen_ref_store.py (an independent writer, also from
   SPEC.md): the good store must verify intact, each correctly signed fault
   must fail by the rule that forbids it, and byte-level forgeries must fail.
2. Every tests/vectors/*/expect.json: the reference verdict must be the
   expected one (for a failure, citing one of the expected rules).
3. A fresh store from custody-mkstore, when built: intact, then failed after
   each of a handful of forgeries.
4. Readings of SPEC.md where it is loose (README.md, "How it reads
   SPEC.md"), and the cases SPEC.md once left open and has since settled
   (R-SEG-0, R-REC-1, R-REC-4, the checkpoint time): stores that pin down
   each reading.
5. Evidence bundles (bundle_ref.py, SPEC section 11): a forgery made with
   only the current epoch key (tests/tools/forge_bundle.py) is valid alone
   and invalid by R-BND-12 given an off-machine checkpoint; genuine
   bundles from custody-query; single bit flips with the trailer redone.
   Version 2 bundles (SPEC 11.4) from a store with note checkpoints: the
   forgeries of tests/tools/forge_bundle_note.py (R-BND-14..16), witness
   cosignatures counted and a forged one refused (R-BND-18), and a bundle
   whose newest blocks are joined to latest.ckpt past the note's size.
Wherever the C verifier exists, its verdict must agree with the reference
verdict on every store above.

Prints one line per check and ends with `N passed, N failed`.
"""

import base64
import glob
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

import msgpack
import nacl.bindings
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
# The source tree is not a place for bytecode caches.
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import bundle_ref as bref  # noqa: E402
import custody_ref as ref  # noqa: E402
import gen_ref_store as gen  # noqa: E402

SOURCE = os.environ.get("CUSTODY_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(HERE))
BUILD = os.environ.get("CUSTODY_BUILD_DIR") or ""
VERIFY = os.environ.get("CUSTODY_VERIFY") or ""
C_TIMEOUT = 300 if os.environ.get("CUSTODY_SANITIZE") == "1" else 120
SEED = 7


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, ": " + why if why else ""))
        sys.stdout.flush()
        return ok


T = Tally()


def have_c_verifier():
    return bool(VERIFY) and os.path.isfile(VERIFY) and os.access(VERIFY,
                                                                 os.X_OK)


def run_ref(store, root=None, checkpoints=()):
    """The reference verdict and findings (in-process: the CLI is checked
    separately)."""
    rep = ref.verify_store(store, root, checkpoints)
    return rep.verdict, rep.findings


def run_c(store, root, checkpoints=()):
    """(verdict or None, explanation) from the C verifier."""
    cmd = [VERIFY, "--json", "--root", root]
    for c in checkpoints:
        cmd += ["--checkpoint", c]
    cmd.append(store)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=C_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % C_TIMEOUT
    err = p.stderr.decode("utf-8", "replace").strip()[-300:]
    try:
        verdict = json.loads(p.stdout.decode("utf-8")).get("verdict")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None, "exit %d, no JSON verdict (stderr: %s)" % (
            p.returncode, err)
    want_rc = {"intact": 0, "failed": 1}.get(verdict)
    if want_rc is None or p.returncode != want_rc:
        return None, "JSON verdict %r with exit %d (stderr: %s)" % (
            verdict, p.returncode, err)
    return verdict, ""


def rules_of(findings):
    return sorted({f.rule for f in findings})


def verify_both(name, store, want, rules=(), root=None, checkpoints=()):
    """Check the reference verdict is `want` (citing one of `rules` when it
    fails), then that the C verifier agrees."""
    root = root or os.path.join(store, "keys", "root.pub")
    try:
        verdict, findings = run_ref(store, root, checkpoints)
    except ref.UsageError as e:
        T.check("ref %s" % name, False, "usage error: %s" % e)
        return
    got = rules_of(findings)
    ok = verdict == want
    why = "verdict %s, want %s; rules %s" % (verdict, want, got)
    if ok and want == "failed" and rules:
        ok = any(r in got for r in rules)
        why = "rules %s, want one of %s" % (got, list(rules))
    if not ok and findings:
        why += "; first: %s" % findings[0]
    T.check("ref %s: %s%s" % (name, verdict,
                              " " + ",".join(got) if got else ""), ok, why)
    if have_c_verifier():
        cv, why = run_c(store, root, checkpoints)
        T.check("C   %s: %s" % (name, cv), cv == verdict,
                why or "C says %s, reference says %s" % (cv, verdict))


# --- Forgeries, shared by the generated and the custody-mkstore stores -------


def frames(store):
    rep = ref.verify_store(store)
    return rep.blocks


def flip(path, offset, mask=0x01):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def segment_files(store):
    return sorted(glob.glob(os.path.join(store, "segments", "seg-*.cst")))


def pick_data_block(blocks, segment_index):
    segs = sorted({b.segment_no for b in blocks})
    seg = segs[min(segment_index, len(segs) - 1)]
    data = [b for b in blocks if b.segment_no == seg and b.type == 1]
    return data[len(data) // 2]


def forgeries(store, blocks):
    """(name, mutate(copy_dir), rules) for each forgery of a good store."""
    out = []
    segs = segment_files(store)
    mid = pick_data_block(blocks, 1)

    def at(b):
        return lambda d: os.path.join(d, b.file)

    def m_payload(d):
        flip(at(mid)(d), mid.payload_offset + mid.payload_len // 2)
    out.append(("flipped payload byte", m_payload, ["R-BLK-4"]))

    def m_header(d):
        flip(at(mid)(d), mid.offset + 88)  # sealed_ns: only the signature
    out.append(("flipped header byte (sealed_ns)", m_header, ["R-BLK-3"]))

    def m_sig(d):
        flip(at(mid)(d), mid.sig_offset + 5)
    out.append(("flipped signature byte", m_sig, ["R-BLK-3"]))

    certs = [b for b in blocks if b.cert_len]
    if certs:
        cb = certs[-1]

        def m_cert(d):
            flip(at(cb)(d), cb.offset + ref.BLK_HDR_LEN + 100)
        out.append(("flipped key certificate signature byte", m_cert,
                    ["R-KEY-1"]))

    def m_seghdr(d):
        flip(os.path.join(d, "segments", os.path.basename(segs[0])), 50)
    out.append(("flipped segment header byte", m_seghdr, ["R-SEG-1"]))

    if len(segs) >= 3:
        def m_delete(d):
            os.unlink(os.path.join(d, "segments",
                                   os.path.basename(segs[1])))
        out.append(("deleted middle segment", m_delete, ["R-SEG-2"]))

    if len(segs) >= 2:
        first = os.path.basename(segs[0])
        size0 = os.path.getsize(segs[0])

        def m_trunc(d):
            os.truncate(os.path.join(d, "segments", first), size0 - 40)
        out.append(("truncated older segment", m_trunc, ["R-SEG-4"]))

    last = blocks[-1]

    def m_replay(d):
        with open(os.path.join(d, mid.file), "rb") as f:
            f.seek(mid.offset)
            frame = f.read(mid.frame_len)
        with open(os.path.join(d, last.file), "ab") as f:
            f.write(frame)
    out.append(("replayed block appended to the newest segment", m_replay,
                ["R-BLK-6", "R-SEG-4"]))

    def m_drop(d):
        path = os.path.join(d, mid.file)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:mid.offset] + data[mid.offset + mid.frame_len:])
    out.append(("block removed from the middle of a segment", m_drop,
                ["R-BLK-6", "R-BLK-7"]))

    return out


def run_forgeries(label, store, blocks, tmp, other_store=None):
    for name, mutate, rules in forgeries(store, blocks):
        d = os.path.join(tmp, "forged")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(store, d)
        mutate(d)
        verify_both("%s, %s" % (label, name), d, "failed", rules)
        shutil.rmtree(d, ignore_errors=True)

    segs = segment_files(store)
    # File names are a convenience (SPEC section 2): renaming keeps order.
    if len(segs) >= 2:
        d = os.path.join(tmp, "renamed")
        shutil.copytree(store, d)
        a, b = (os.path.join(d, "segments", os.path.basename(s))
                for s in segs[:2])
        os.rename(a, a + ".x")
        os.rename(b, a)
        os.rename(a + ".x", b)
        verify_both("%s, segment files swapped by name only" % label, d,
                    "intact")
        shutil.rmtree(d)

    # A torn tail is allowed in the newest segment (R-SEG-4), but not past a
    # checkpoint that covers it (R-CKP-2).
    last = blocks[-1]
    d = os.path.join(tmp, "torn")
    shutil.copytree(store, d)
    os.truncate(os.path.join(d, last.file), last.offset + last.frame_len // 2)
    ckpt = os.path.join(store, "checkpoints", "latest.ckpt")
    if os.path.exists(ckpt):
        # R-CKP-4: the store's own checkpoints, left behind, show the cut.
        verify_both("%s, partial newest frame, the store's checkpoints left"
                    % label, d, "failed", ["R-CKP-2"])
        verify_both("%s, partial newest frame against a checkpoint of it"
                    % label, d, "failed", ["R-CKP-2"], checkpoints=[ckpt])
        shutil.rmtree(os.path.join(d, "checkpoints"))
    verify_both("%s, newest segment ends in a partial frame" % label, d,
                "intact")
    shutil.rmtree(d)

    if other_store is not None:
        other = os.path.join(other_store, "keys", "root.pub")
        verify_both("%s, verified with another chain's root key" % label,
                    store, "failed", ["R-KEY-1", "R-SEG-3", "R-BLK-6"],
                    root=other)
        osegs = segment_files(other_store)
        if len(segs) >= 2 and len(osegs) >= 2:
            d = os.path.join(tmp, "foreign")
            shutil.copytree(store, d)
            shutil.copyfile(osegs[1], os.path.join(
                d, "segments", os.path.basename(segs[1])))
            verify_both("%s, segment replaced by another chain's" % label, d,
                        "failed", ["R-SEG-3", "R-BLK-6"])
            shutil.rmtree(d)


def test_random(label, store, tmp, seed, count):
    """Random damage: the reference must not crash, and where the C verifier
    exists the two must agree (a truncated newest segment may be intact)."""
    print("# %d random mutations of the %s store, seed %d"
          % (count, label, seed))
    rng = random.Random(seed)
    segs = [os.path.basename(p) for p in segment_files(store)]
    for i in range(count):
        d = os.path.join(tmp, "random")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(store, d)
        name = rng.choice(segs)
        path = os.path.join(d, "segments", name)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        op = rng.choice(["flip", "truncate", "insert", "zero"])
        at = rng.randrange(len(data))
        if op == "flip":
            data[at] ^= 1 << rng.randrange(8)
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = rng.randbytes(rng.randrange(1, 64))
        else:
            n = rng.randrange(1, 64)
            data[at:at + n] = bytes(len(data[at:at + n]))
        with open(path, "wb") as f:
            f.write(data)
        what = "%s random %d: %s %s at %d" % (label, i, op, name, at)
        try:
            verdict, findings = run_ref(d)
        except Exception as e:  # the point of the check
            T.check(what, False, "reference raised %r" % (e,))
            continue
        internal = [f for f in findings if f.rule == "INTERNAL"]
        if internal:
            T.check(what, False, str(internal[0]))
            continue
        if have_c_verifier():
            cv, why = run_c(d, os.path.join(d, "keys", "root.pub"))
            T.check("%s: ref %s, C %s" % (what, verdict, cv), cv == verdict,
                    why or "verifiers disagree; ref: %s" % (
                        findings[0] if findings else "no finding"))
        else:
            T.check("%s: ref %s" % (what, verdict), True)
    shutil.rmtree(os.path.join(tmp, "random"), ignore_errors=True)


# --- 1. The independent writer ----------------------------------------------


def test_generated(tmp):
    print("# stores written by gen_ref_store.py (seed %d)" % SEED)
    good = os.path.join(tmp, "gen-good")
    gen.make_store(good, events=300, segments=3, seed=SEED)
    ckpt = os.path.join(good, "checkpoints", "latest.ckpt")
    verify_both("generated store", good, "intact")
    verify_both("generated store with its checkpoint", good, "intact",
                checkpoints=[ckpt])
    other = os.path.join(tmp, "gen-other")
    gen.make_store(other, events=120, segments=3, seed=SEED + 1)
    verify_both("generated store with another chain's checkpoint", good,
                "failed", ["R-CKP-1"],
                checkpoints=[os.path.join(other, "checkpoints",
                                          "latest.ckpt")])
    edited = os.path.join(tmp, "edited.ckpt")
    with open(ckpt, "rb") as f:
        text = f.read()
    with open(edited, "wb") as f:
        f.write(text.replace(b"\nrecords ", b"\nrecords 1", 1))
    verify_both("generated store with an edited checkpoint", good, "failed",
                ["R-CKP-1"], checkpoints=[edited])
    for fault in sorted(gen.FAULTS):
        d = os.path.join(tmp, "gen-" + fault)
        gen.make_store(d, events=300, segments=3, seed=SEED, fault=fault)
        verify_both("generated fault %s" % fault, d, "failed",
                    [gen.FAULTS[fault]])
        shutil.rmtree(d)
    run_forgeries("generated", good, frames(good), tmp, other)
    test_random("generated", good, tmp, SEED, 30)
    test_cli(good, tmp)
    shutil.rmtree(good)
    shutil.rmtree(other)


def test_cli(store, tmp):
    """The command line's exit status and JSON, as a user sees them."""
    cli = [sys.executable, os.path.join(HERE, "custody_ref.py")]
    p = subprocess.run(cli + ["--json", store], stdout=subprocess.PIPE)
    try:
        verdict = json.loads(p.stdout)["verdict"]
    except (ValueError, KeyError):
        verdict = None
    T.check("ref CLI: intact store exits 0 with JSON verdict intact",
            p.returncode == 0 and verdict == "intact",
            "exit %d, verdict %r" % (p.returncode, verdict))
    d = os.path.join(tmp, "cli")
    shutil.copytree(store, d)
    b = pick_data_block(frames(d), 0)
    flip(os.path.join(d, b.file), b.sig_offset)
    p = subprocess.run(cli + [d], stdout=subprocess.PIPE)
    T.check("ref CLI: forged store exits 1 and says failed",
            p.returncode == 1 and b"verdict: failed" in p.stdout,
            "exit %d" % p.returncode)
    shutil.rmtree(d)
    p = subprocess.run(cli + ["--root", os.path.join(tmp, "absent.pub"),
                              store], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    T.check("ref CLI: unreadable root key exits 2", p.returncode == 2,
            "exit %d" % p.returncode)
    p = subprocess.run(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    T.check("ref CLI: no store directory exits 2", p.returncode == 2,
            "exit %d" % p.returncode)


# --- 2. Committed vectors -----------------------------------------------------


def test_vectors():
    vdir = os.path.join(SOURCE, "tests", "vectors")
    expects = sorted(glob.glob(os.path.join(vdir, "*", "expect.json")))
    print("# %d vectors in %s" % (len(expects), vdir))
    for path in expects:
        d = os.path.dirname(path)
        name = "vector %s" % os.path.basename(d)
        try:
            with open(path) as f:
                exp = json.load(f)
            want = exp["verdict"]
            rules = exp.get("rules") or []
            root = os.path.join(d, exp.get("root") or "keys/root.pub")
            ckpts = [os.path.join(d, c) for c in exp.get("checkpoints") or []]
        except (OSError, ValueError, KeyError, TypeError) as e:
            T.check(name, False, "bad expect.json: %s" % e)
            continue
        if want not in ("intact", "failed"):
            T.check(name, False, "expect.json verdict %r" % want)
            continue
        verify_both(name, d, want, rules, root=root, checkpoints=ckpts)


# --- 2b. Note checkpoints (SPEC section 13) ------------------------------------


def test_notes(tmp):
    """Variations of the good_notes vector that both verifiers must judge
    alike: lines of unknown keys are ignored (R-NOTE-3), a bad line of the
    log key is not, nor an altered body or a missing certificate."""
    src = os.path.join(SOURCE, "tests", "vectors", "good_notes")
    origin = None

    def variant(name, mutate, want, rules=()):
        d = os.path.join(tmp, "notes-" + name.replace(" ", "-"))
        shutil.copytree(src, d)
        note = os.path.join(d, "checkpoints", "latest.note")
        mutate(d, note)
        verify_both("notes, " + name, d, want, rules, checkpoints=[note])
        if have_c_verifier() and rules:
            # Rule for rule: both cite the rule the variant breaks.
            p = subprocess.run([VERIFY, "--json", "--checkpoint", note, d],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=C_TIMEOUT)
            got = sorted({f["rule"] for f in json.loads(p.stdout)["findings"]
                          if f["severity"] == "failure"})
            T.check("C   notes, %s: cites %s" % (name, ",".join(got)),
                    all(r in got for r in rules),
                    "C cites %s, want %s" % (got, list(rules)))

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    def write(p, data):
        with open(p, "wb") as f:
            f.write(data)

    text = read(os.path.join(src, "checkpoints", "latest.note"))
    origin = text.split(b"\n")[0].decode()
    seed = bytes(range(32))
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(seed)

    def cosig_line(name, body):
        """A cosignature/v1 line by a witness no verifier here knows."""
        t = 1700000000
        msg = b"cosignature/v1\ntime %d\n" % t + body
        sig = nacl.bindings.crypto_sign(msg, sk)[:64]
        kid = ref.note_key_id(name, 4, pk)
        raw = kid + t.to_bytes(8, "big") + sig
        return ("\u2014 %s %s\n" % (name, base64.b64encode(raw).decode())
                ).encode("utf-8")

    body = text[:text.rindex(b"\n\n") + 1]

    def m_cosig(d, note):
        write(note, read(note) + cosig_line("witness.example/w1", body))

    def m_same_name_other_key(d, note):
        # The log's own name with another key ID: not the log key's line.
        raw = bytes(4) + bytes(64)
        write(note, read(note) + ("\u2014 %s %s\n" % (
            origin, base64.b64encode(raw).decode())).encode())

    def m_bad_log_line(d, note):
        # A second line of the log key (same name and key ID), forged.
        data = read(note)
        line = data[data.rindex(b"\n\n") + 2:].split(b"\n")[0].decode()
        raw = bytearray(base64.b64decode(line.split(" ")[2]))
        raw[10] ^= 1
        write(note, data + ("\u2014 %s %s\n" % (
            origin, base64.b64encode(bytes(raw)).decode())).encode())

    def m_root(d, note):
        data = read(note).split(b"\n")
        root = bytearray(base64.b64decode(data[2]))
        root[0] ^= 1
        data[2] = base64.b64encode(bytes(root))
        write(note, b"\n".join(data))

    def m_ext(d, note):
        data = read(note)
        i = data.rindex(b"\n\n")
        write(note, data[:i + 1] + b"time 1\n" + data[i:])

    def m_no_cert(d, note):
        os.remove(os.path.join(d, "keys", "log.cert"))
        os.remove(os.path.join(d, "checkpoints", "log.cert"))

    def m_crlf(d, note):
        write(note, read(note).replace(b"\n", b"\r\n", 1))

    fk = os.path.join(SOURCE, "tests", "vectors", "bad_note_foreign_key")
    rogue_cert = read(os.path.join(fk, "rogue-log.cert"))
    rogue_note = read(os.path.join(fk, "rogue.note"))
    rogue_line = rogue_note[rogue_note.rindex(b"\n\n") + 2:]

    def m_two_keys(d, note):
        # A second certified log key, and its line on the same note.
        write(os.path.join(d, "checkpoints", "log.cert"), rogue_cert)
        write(note, read(note) + rogue_line)

    def m_two_keys_one_forged(d, note):
        m_two_keys(d, note)
        data = bytearray(read(note))
        data[-10] = ord("A") if data[-10] != ord("A") else ord("B")
        write(note, bytes(data))

    variant("two certified log keys, a line of each", m_two_keys, "intact")
    variant("two certified log keys, the second's line forged",
            m_two_keys_one_forged, "failed", ["R-NOTE-5"])
    if have_c_verifier():
        # --log-cert gives the certificate the store lacks: then it holds.
        p = subprocess.run([VERIFY, "--json", "--log-cert",
                            os.path.join(fk, "rogue-log.cert"),
                            "--checkpoint", os.path.join(fk, "rogue.note"),
                            fk], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=C_TIMEOUT)
        T.check("C   bad_note_foreign_key with --log-cert rogue-log.cert: "
                "intact", p.returncode == 0 and
                json.loads(p.stdout)["verdict"] == "intact",
                "exit %d" % p.returncode)
    variant("an unknown witness's cosignature", m_cosig, "intact")
    variant("a line of the log's name with another key ID",
            m_same_name_other_key, "intact")
    variant("a forged second line of the log key", m_bad_log_line, "failed",
            ["R-NOTE-5"])
    variant("root altered", m_root, "failed", ["R-NOTE-5"])
    variant("an extension line", m_ext, "failed", ["R-NOTE-4"])
    variant("no log certificate", m_no_cert, "failed", ["R-TLOG-5"])
    variant("a CR", m_crlf, "failed", ["R-NOTE-2"])


# --- 3. A fresh store from custody's own writer -------------------------------


def test_mkstore(tmp):
    mk = os.path.join(BUILD, "custody-mkstore")
    if not (BUILD and os.path.isfile(mk) and os.access(mk, os.X_OK)):
        print("# skip: no custody-mkstore in CUSTODY_BUILD_DIR")
        return
    print("# fresh stores from %s (seed %d)" % (mk, SEED))
    stores = []
    for seed in (SEED, SEED + 1):
        d = os.path.join(tmp, "mk-%d" % seed)
        cmd = [mk, d, "--events", "5000", "--segments", "3", "--seed",
               str(seed)]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=C_TIMEOUT)
            rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        if not T.check("custody-mkstore --seed %d" % seed, rc == 0,
                       "exit %d: %s" % (rc, err.strip()[-300:])):
            return
        stores.append(d)
    store, other = stores
    verify_both("mkstore", store, "intact")
    ckpts = sorted(glob.glob(os.path.join(store, "checkpoints", "*.ckpt")))
    for c in ckpts:
        verify_both("mkstore with %s" % os.path.basename(c), store, "intact",
                    checkpoints=[c])
    blocks = frames(store)
    if not T.check("mkstore: reference reads blocks", len(blocks) > 0):
        return
    run_forgeries("mkstore", store, blocks, tmp, other)
    test_random("mkstore", store, tmp, SEED, 30)


# --- 4. Readings of SPEC.md where it is loose ---------------------------------

PROBE_SEQ = 40  # the event a record probe re-encodes


def _p(x):
    return msgpack.packb(x, use_bin_type=True)


def _fields(r, **over):
    """Record r as an array of 11, field iN replaced by the bytes over[iN]."""
    items = [_p(x) for x in r]
    for k, v in over.items():
        items[int(k[1:])] = v
    return b"\x9b" + b"".join(items)


def _decode(b):
    return msgpack.unpackb(b, raw=False)


def _parsed(r, i, v):
    p = list(r[9]) if r[9] else [1, -1, -1, None] + [0] * 14
    p[i] = v
    return _fields(r, i9=_p(p))


def _recode(kind, fn):
    """A make_store encoder applying fn to the records of kind (for events,
    only the one with seq PROBE_SEQ)."""
    def encode(r):
        if r[0] == kind and (kind != 0 or r[1] == PROBE_SEQ):
            encode.hits += 1
            return fn(r)
        return gen.pack(r)
    encode.hits = 0
    return encode


def _recovery(change):
    def fn(r):
        d = dict(r[10])
        change(d)
        return _fields(r, i10=_p(d))
    return _recode(3, fn)


def _zstd(raw, checksum=False):
    return zstandard.ZstdCompressor(level=1, write_content_size=True,
                                    write_checksum=checksum).compress(raw)


def _zstd_multi_segment(raw):
    """A frame with a window descriptor and a 4-byte content size, raw
    blocks: unusual but valid RFC 8878."""
    out = b"\x28\xb5\x2f\xfd" + bytes([2 << 6, 7 << 3]) + struct.pack(
        "<I", len(raw))
    pos = 0
    while True:
        chunk = raw[pos:pos + 65536]
        pos += len(chunk)
        last = 1 if pos >= len(raw) else 0
        out += ((len(chunk) << 3) | last).to_bytes(3, "little") + chunk
        if last:
            return out


def _zstd_skippable(raw):
    return b"\x50\x2a\x4d\x18" + bytes(4) + _zstd(raw)


def _zstd_dict_id(raw):
    x = _zstd(raw)
    return x[:4] + bytes([x[4] | 1, 5]) + x[5:]


# (name, make_store keyword arguments, verdict, rules)
STORE_READINGS = [
    ("uint in a non-shortest encoding (uint64 seq)",
     {"encode": _recode(0, lambda r: _fields(
         r, i1=b"\xcf" + struct.pack(">Q", r[1])))}, "intact", []),
    ("uint in a signed encoding (int8 seq)",
     {"encode": _recode(0, lambda r: _fields(
         r, i1=b"\xd0" + struct.pack(">b", r[1])))}, "intact", []),
    ("str with a non-shortest length (str8)",
     {"encode": _recode(0, lambda r: _fields(
         r, i4=b"\xd9" + bytes([len(r[4])]) + r[4].encode()))},
     "intact", []),
    ("str that is not UTF-8",
     {"encode": _recode(0, lambda r: _fields(r, i4=b"\xa3\xff\xfe\xfd"))},
     "intact", []),
    ("tls_peer false", {"encode": _recode(0, lambda r: _fields(
        r, i6=_p(False)))}, "failed", ["R-REC-1"]),
    ("parsed format 3", {"encode": _recode(0, lambda r: _parsed(r, 0, 3))},
     "failed", ["R-REC-1"]),
    ("facility 23, severity 7 (in range)",
     {"encode": _recode(0, lambda r: _parsed(_decode(_parsed(r, 1, 23)),
                                             2, 7))}, "intact", []),
    ("empty span whose offset lies past raw",
     {"encode": _recode(0, lambda r: _parsed(
         _decode(_parsed(r, 5, 0)), 4, len(r[8]) + 5))},
     "failed", ["R-REC-1"]),
    ("event with an empty detail map",
     {"encode": _recode(0, lambda r: _fields(r, i10=_p({})))},
     "failed", ["R-REC-1", "R-REC-2"]),
    ("audit record with nil detail",
     {"encode": _recode(4, lambda r: _fields(r, i10=_p(None)))},
     "failed", ["R-REC-1", "R-REC-2"]),
    ("detail map with an int key",
     {"encode": _recode(4, lambda r: _fields(r, i10=b"\x81\x01\x01"))},
     "failed", ["R-REC-1"]),
    ("detail map with an array value",
     {"encode": _recode(4, lambda r: _fields(r, i10=b"\x81\xa1a\x90"))},
     "failed", ["R-REC-1"]),
    ("detail values bool, nil and bin",
     {"encode": _recode(4, lambda r: _fields(
         r, i10=b"\x83\xa1a\xc3\xa1b\xc0\xa1c\xc4\x01z"))},
     "intact", []),
    ("known detail key with another type (epoch as str)",
     {"encode": _recode(4, lambda r: _fields(
         r, i10=_p({"epoch": "two", "fpr": "x"})))}, "intact", []),
    ("recovery: cut_sha256 in uppercase",
     {"encode": _recovery(lambda d: d.update(
         cut_sha256=d["cut_sha256"].upper()))}, "intact", []),
    ("recovery: quarantine name with a path",
     {"encode": _recovery(lambda d: d.update(
         quarantine="../keys/root.pub"))}, "failed", ["R-REC-4"]),
    ("recovery: quarantine file absent",
     {"encode": _recovery(lambda d: d.update(quarantine="gone.torn"))},
     "intact", []),
    ("recovery: cut_len as str",
     {"encode": _recovery(lambda d: d.update(cut_len=str(d["cut_len"])))},
     "failed", ["R-REC-4"]),
    ("recovery: valid_len not the cut offset (not checked)",
     {"encode": _recovery(lambda d: d.update(valid_len=d["valid_len"] + 1))},
     "intact", []),
    ("zstd frame with a content checksum",
     {"compress_": lambda raw: _zstd(raw, True)}, "intact", []),
    ("zstd frame with a window descriptor and raw blocks",
     {"compress_": _zstd_multi_segment}, "intact", []),
    ("zstd skippable frame before the frame",
     {"compress_": _zstd_skippable}, "failed", ["R-BLK-4"]),
    ("zstd frame naming a dictionary", {"compress_": _zstd_dict_id},
     "failed", ["R-BLK-4"]),
    ("seal blocks that certify a new epoch", {"rotate_at_seal": True},
     "intact", []),
]

# Readings the two verifiers are known to make differently (README.md).
# Cases SPEC.md once left open and now settles (R-REC-1, R-REC-4).
STORE_SETTLED = [
    ("facility 24 (syslog has 0..23)",
     {"encode": _recode(0, lambda r: _parsed(r, 1, 24))}, "failed",
     ["R-REC-1"]),
    ("severity 8 (syslog has 0..7)",
     {"encode": _recode(0, lambda r: _parsed(r, 2, 8))}, "failed",
     ["R-REC-1"]),
    ("detail map with a repeated key",
     {"encode": _recode(4, lambda r: _fields(
         r, i10=b"\x82\xa5epoch\x01\xa5epoch\x02"))}, "failed",
     ["R-REC-1"]),
    ("parsed ts_ns 2^63 as uint 64 (not an i64)",
     {"encode": _recode(0, lambda r: _parsed(r, 3, 1 << 63))}, "failed",
     ["R-REC-1"]),
    ("parsed ts_ns 2^63-1 as uint 64 (the largest i64)",
     {"encode": _recode(0, lambda r: _parsed(r, 3, (1 << 63) - 1))},
     "intact", []),
    ("parsed ts_ns -2^63 (the smallest i64)",
     {"encode": _recode(0, lambda r: _parsed(r, 3, -(1 << 63)))},
     "intact", []),
    ("recv_ns 2^63 as uint 64 (not an i64)",
     {"encode": _recode(0, lambda r: _fields(
         r, i2=b"\xcf" + struct.pack(">Q", 1 << 63)))}, "failed",
     ["R-REC-1"]),
    ("recovery with cut_len > 0 and no quarantine key",
     {"encode": _recovery(lambda d: d.pop("quarantine"))}, "failed",
     ["R-REC-4"]),
]


def _append(rel, data):
    def edit(d):
        with open(os.path.join(d, rel), "ab") as f:
            f.write(data)
    return edit


def _touch(name, data=b"x"):
    def edit(d):
        with open(os.path.join(d, "segments", name), "wb") as f:
            f.write(data)
    return edit


def _resign(w, text):
    """text with its sig line replaced by a good signature of the rest."""
    body = text[:text.index(b"\nsig ") + 1]
    sig = w.sk.sign(ref.D_CHECKPOINT + body).signature
    return body + b"sig " + base64.b64encode(sig) + b"\n"


def _line(w, text, i, new):
    lines = text.split(b"\n")
    lines[i] = new
    return _resign(w, b"\n".join(lines))


def _reading_store(d, name, kw):
    """make_store with a probe; False (and a failed check) if the probe's
    encoder never found its record, which would make the case vacuous."""
    gen.make_store(d, events=120, segments=2, seed=SEED, **kw)
    enc = kw.get("encode")
    if enc is not None and not enc.hits:
        T.check("reading: " + name, False, "probe record not written")
        return False
    return True


def test_readings(tmp):
    print("# readings of SPEC.md where it is loose (seed %d)" % SEED)
    for name, kw, want, rules in STORE_READINGS:
        d = os.path.join(tmp, "reading")
        if _reading_store(d, name, kw):
            verify_both("reading: " + name, d, want, rules)
        shutil.rmtree(d)
    for name, kw, want, rules in STORE_SETTLED:
        d = os.path.join(tmp, "reading")
        if _reading_store(d, name, kw):
            verify_both("settled: " + name, d, want, rules)
        shutil.rmtree(d)

    good = os.path.join(tmp, "reading-good")
    w = gen.make_store(good, events=120, segments=2, seed=SEED)
    newest = os.path.relpath(segment_files(good)[-1], good)
    edits = [
        ("newest segment ends in 10 zero bytes", _append(newest, bytes(10)),
         "failed", ["R-BLK-1", "R-BLK-2"]),
        ("newest segment ends in 'CBLK'", _append(newest, b"CBLK"), "intact",
         []),
        ("a file not named like a segment in segments/",
         _touch("notes.txt"), "intact", []),
        ("newest segment file of 8 bytes",
         _touch("seg-%010d.cst" % 2, b"CUSTSEG\0"), "failed", ["R-SEG-1"]),
    ]
    for name, edit, want, rules in edits:
        d = os.path.join(tmp, "reading")
        shutil.copytree(good, d)
        edit(d)
        verify_both("reading: " + name, d, want, rules)
        shutil.rmtree(d)
    # R-SEG-0: every .cst file is a segment, whatever its name.
    for name in ("seg-abc.cst", "seg-00000000001.cst"):
        d = os.path.join(tmp, "reading")
        shutil.copytree(good, d)
        _touch(name)(d)
        verify_both("settled: stray file segments/%s" % name, d, "failed",
                    ["R-SEG-1"])
        shutil.rmtree(d)

    with open(os.path.join(good, "checkpoints", "latest.ckpt"), "rb") as f:
        text = f.read()
    ckpt = os.path.join(tmp, "reading.ckpt")
    lines = text.split(b"\n")
    texts = [
        ("checkpoint without its last LF", text[:-1], "failed"),
        ("checkpoint with CRLF lines", text.replace(b"\n", b"\r\n"),
         "failed"),
        ("checkpoint with uppercase hex (signed)",
         _line(w, text, 1, b"chain " + lines[1][6:].upper()), "failed"),
        ("checkpoint with a leading zero (signed)",
         _line(w, text, 2, b"blocks 0" + lines[2][7:]), "failed"),
        ("checkpoint of 0 blocks", w.checkpoint(0, 0, bytes(32)), "intact"),
    ]
    for name, data, want in texts:
        with open(ckpt, "wb") as f:
            f.write(data)
        verify_both("reading: " + name, good, want,
                    ["R-CKP-1"] if want == "failed" else [],
                    checkpoints=[ckpt])
    for name, stamp in (("no fraction", b"2024-03-01T00:00:00Z"),
                        ("3-digit fraction", b"2024-03-01T00:00:00.123Z")):
        with open(ckpt, "wb") as f:
            f.write(_line(w, text, 5, b"time " + stamp))
        verify_both("settled: checkpoint time with %s (signed)" % name, good,
                    "failed", ["R-CKP-1"], checkpoints=[ckpt])
    shutil.rmtree(good)


# --- 5. Evidence bundles (SPEC section 11) -------------------------------------


def bundle_both(name, bundle, root, want, rule=None, checkpoints=(),
                witnesses=(), cosigned=None):
    """The reference bundle verdict must be `want` ("valid"/"invalid",
    failing `rule` when given), and the C verifier must agree; with
    witness keys (verifier key texts), both must count `cosigned`."""
    chain_id, pk = ref.parse_root_pub(open(root, "rb").read())
    texts = [open(c, "rb").read() for c in checkpoints]
    out = {}
    try:
        bref.verify_bundle(open(bundle, "rb").read(), chain_id, pk, texts,
                           [bref.parse_vkey(w) for w in witnesses], None,
                           out)
        verdict, got = "valid", None
    except bref.Invalid as e:
        verdict, got = "invalid", e.rule
    T.check("ref bundle %s: %s %s" % (name, verdict, got or ""),
            verdict == want and (rule is None or got == rule) and
            (cosigned is None or out.get("cosigned") == cosigned),
            "want %s %s, %s cosigned" % (want, rule or "", cosigned))
    if not have_c_verifier():
        return
    cmd = [VERIFY, "--bundle", bundle, "--root", root, "--json"]
    for c in checkpoints:
        cmd += ["--checkpoint", c]
    for w in witnesses:
        cmd += ["--witness", w]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=C_TIMEOUT)
    try:
        j = json.loads(p.stdout.decode("utf-8"))
        cv, crule = j["result"], j.get("rule")
    except (ValueError, KeyError, UnicodeDecodeError):
        cv, crule = None, None
    ok = cv == verdict and p.returncode == (0 if cv == "valid" else 1)
    if ok and rule in ("R-BND-12", "R-BND-14", "R-BND-15", "R-BND-16",
                       "R-BND-18"):
        ok = crule == rule
    if ok and cosigned is not None:
        ok = j.get("note_checkpoint", {}).get("cosigned") == cosigned
    T.check("C   bundle %s: %s %s" % (name, cv, crule or ""), ok,
            "exit %d; reference says %s %s" % (p.returncode, verdict,
                                               got or ""))


def test_bundles(tmp):
    vb = os.path.join(SOURCE, "tests", "vectors", "bundles",
                      "forged_epoch_key")
    root = os.path.join(vb, "root.pub")
    forged = os.path.join(vb, "forged.cbnd")
    print("# bundles in %s" % vb)
    bundle_both("forged, alone", forged, root, "valid")
    bundle_both("forged, off-machine checkpoint", forged, root, "invalid",
                "R-BND-12", [os.path.join(vb, "offsite.ckpt")])
    mk = os.path.join(BUILD, "custody-mkstore")
    query = os.path.join(BUILD, "custody-query")
    if not (BUILD and os.path.isfile(mk) and os.path.isfile(query)):
        print("# skip: no custody-mkstore or custody-query")
        return
    d = os.path.join(tmp, "bnd")
    subprocess.run([mk, d, "--events", "400", "--block-records", "16",
                    "--segments", "3", "--epochs", "3", "--checkpoint-every",
                    "4", "--seed", str(SEED), "--secrets"], check=True,
                   stdout=subprocess.DEVNULL, timeout=C_TIMEOUT)
    root = os.path.join(d, "keys", "root.pub")
    ck = sorted(glob.glob(os.path.join(d, "checkpoints", "ckpt-*.ckpt")))
    head = os.path.join(d, "checkpoints", "latest.ckpt")
    g, m = os.path.join(tmp, "g.cbnd"), os.path.join(tmp, "m.cbnd")
    subprocess.run([query, d, "--seq", "100..105", "--bundle", g],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=C_TIMEOUT)
    subprocess.run([query, d, "--seq", "100..105", "--bundle-minimal",
                    "--bundle", m], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=C_TIMEOUT)
    bundle_both("genuine", g, root, "valid")
    for c in ck + [head]:
        bundle_both("genuine, %s" % os.path.basename(c), g, root, "valid",
                    checkpoints=[c])
    bundle_both("genuine minimal, latest.ckpt", m, root, "invalid",
                "R-BND-12", [head])
    forge = os.path.join(SOURCE, "tests", "tools", "forge_bundle.py")
    for n in (20, 24, 30):
        f = os.path.join(tmp, "f%d.cbnd" % n)
        subprocess.run([sys.executable, forge, d, str(n), f], check=True,
                       timeout=C_TIMEOUT)
        bundle_both("forged at block %d" % n, f, root, "valid")
        bundle_both("forged at block %d, latest.ckpt" % n, f, root,
                    "invalid", "R-BND-12", [head])
    # A byte changed with the trailer recomputed: still invalid, in both.
    data = open(g, "rb").read()
    rnd = random.Random(SEED)
    for k in range(12):
        b = bytearray(data[:-32])
        i = rnd.randrange(64, len(b))
        b[i] ^= 1 << rnd.randrange(8)
        x = os.path.join(tmp, "x%d.cbnd" % k)
        with open(x, "wb") as f:
            f.write(bytes(b) + ref.H(bref.D_BUNDLE, bytes(b)))
        bundle_both("genuine, flip %d: a bit of byte %d" % (k, i), x, root,
                    "invalid")


def test_bundles_note(tmp):
    """Version 2 bundles (SPEC 11.4): a store with note checkpoints gives
    inclusion proofs instead of runs of headers; forgeries of each new
    part fail in both verifiers."""
    mk = os.path.join(BUILD, "custody-mkstore")
    query = os.path.join(BUILD, "custody-query")
    if not (BUILD and os.path.isfile(mk) and os.path.isfile(query)):
        print("# skip: no custody-mkstore or custody-query")
        return
    sys.path.insert(0, os.path.join(SOURCE, "tests", "tools"))
    import forge_bundle_note as fbn
    d = os.path.join(tmp, "bnd2")
    subprocess.run([mk, d, "--events", "2000", "--block-records", "8",
                    "--segments", "2", "--epochs", "2", "--checkpoint-every",
                    "16", "--seed", str(SEED), "--log-key"], check=True,
                   stdout=subprocess.DEVNULL, timeout=C_TIMEOUT)
    root = os.path.join(d, "keys", "root.pub")
    g = os.path.join(tmp, "g2.cbnd")
    # Records of three blocks: three proofs, no run up to a checkpoint.
    subprocess.run([query, d, "--seq", "6..20", "--bundle", g],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=C_TIMEOUT)
    data = open(g, "rb").read()
    T.check("bundle of a store with notes is version 2",
            struct.unpack_from("<H", data, 8)[0] == 2, "version")
    bundle_both("note anchored", g, root, "valid")
    for name, (b, rule) in sorted(fbn.forgeries(data).items()):
        x = os.path.join(tmp, "n_%s.cbnd" % name)
        with open(x, "wb") as f:
            f.write(b)
        bundle_both("note anchored, forged %s" % name, x, root, "invalid",
                    rule)
    # Witnesses: one cosignature, counted by both; a forged one fails.
    prefix, cert, note, proofs = fbn.split(data)
    sk1, vk1 = fbn.witness(b"w1", "witness.example/one")
    _, vk2 = fbn.witness(b"w2", "witness.example/two")
    cn = fbn.cosign(note, sk1, "witness.example/one")
    w = os.path.join(tmp, "w2.cbnd")
    with open(w, "wb") as f:
        f.write(fbn.join(prefix, cert, cn, proofs))
    bundle_both("note anchored, cosigned", w, root, "valid",
                witnesses=[vk1, vk2], cosigned=1)
    bad = bytearray(cn)
    bad[-10] = ord("A") if bad[-10] != ord("A") else ord("B")
    wb = os.path.join(tmp, "wb.cbnd")
    with open(wb, "wb") as f:
        f.write(fbn.join(prefix, cert, bytes(bad), proofs))
    bundle_both("note anchored, forged cosignature", wb, root, "invalid",
                "R-BND-18", witnesses=[vk1])
    bundle_both("note anchored, forged cosignature, witness not given", wb,
                root, "valid")
    # A note older than the head: blocks below its size carry proofs, the
    # run from its last block on is joined to latest.ckpt as in version 1.
    os.remove(os.path.join(d, "checkpoints", "latest.note"))
    mx = os.path.join(tmp, "mx.cbnd")
    subprocess.run([query, d, "--seq", "1900..1990", "--bundle", mx],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=C_TIMEOUT)
    T.check("mixed bundle is version 2",
            struct.unpack_from("<H", open(mx, "rb").read(), 8)[0] == 2,
            "version")
    bundle_both("note anchored and a run to latest.ckpt", mx, root, "valid")
    bundle_both("note anchored and a run to latest.ckpt, given it", mx,
                root, "valid",
                checkpoints=[os.path.join(d, "checkpoints", "latest.ckpt")])


def main():
    print("# reference verifier %s" % os.path.join(HERE, "custody_ref.py"))
    if have_c_verifier():
        print("# C verifier %s" % VERIFY)
    else:
        print("# skip C comparisons: CUSTODY_VERIFY=%r not built" % VERIFY)
    tmp = tempfile.mkdtemp(prefix="custody-ref-")
    try:
        test_generated(tmp)
        test_vectors()
        test_notes(tmp)
        test_mkstore(tmp)
        test_readings(tmp)
        test_bundles(tmp)
        test_bundles_note(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (T.passed, T.failed))
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
