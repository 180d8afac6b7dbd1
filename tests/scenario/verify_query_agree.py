"""custody-verify and custody-query reach the same findings on the same
damaged store: both walk a segment with the one frame walker and its
resynchronisation (SPEC section 7), and both count one altered block as
one failure.

The tools report differently (the verifier a full report, the query one
line per failure on stderr, and only the records it can prove), so the
comparison is of what both can see, over every committed forged vector
whose damage lies in the segments (tests/vectors/; the query neither
takes --checkpoint nor audits quarantine/ nor note checkpoints, so
R-CKP-*, R-REC-*, R-NOTE-* and R-TLOG-* only vectors are out of its
reach):

1. both fail (exit 1);
2. the same blocks are not authentic: the verifier's failures citing
   R-BLK-3, R-BLK-4 or R-KEY-1 name the same block numbers as the query's
   "block not shown" failures (those of another chain, which the verifier
   sets aside a whole file at a time under R-SEG-3, are compared by file);
3. a block that is not authentic has no link failure (R-BLK-6, R-BLK-7,
   R-KEY-2, R-SEG-3) from either tool: its header states nothing;
4. the query shows no record in the sequence range of a block the
   verifier found not authentic.

Then copies of good_multi with damage a frame walker must resynchronise
over (SPEC section 7): a flipped byte of a block's magic, the first
block of a segment so damaged, a block length that runs past the next
frame, and 4 KiB of zeros between two frames.
There both tools must cite the same failures, rule for rule: one region
that is not a frame is one failure, not one plus the link it broke.
"""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

AUTH_RULES = {"R-BLK-3", "R-BLK-4", "R-KEY-1"}
LINK_RULES = {"R-BLK-6", "R-BLK-7", "R-KEY-2", "R-SEG-3"}
# custody-query: "PATH [from ]offset N[ block B| blocks A..B] (RULE, CODE): why"
QUERY_LINE = re.compile(
    r"INTEGRITY FAILURE: (\S+) (?:from )?offset \d+"
    r"(?: blocks? (\d+)(?:\.\.(\d+))?)? \((R-[A-Z]+-\d+), (\w+)\): (.*)")


def blocks(b0, b1):
    if b0 is None:
        return set()
    return set(range(b0, (b0 if b1 is None else b1) + 1))


def run_verify(d, e):
    argv = [h.binary("CUSTODY_VERIFY"), "--root", os.path.join(d, e["root"]),
            "--json"]
    for c in e["checkpoints"]:
        argv += ["--checkpoint", os.path.join(d, c)]
    r = h.run(argv + [d], bound_s=60)
    return r.returncode, [f for f in json.loads(r.stdout)["findings"]
                          if f["severity"] == "failure"]


def run_query(d, e):
    argv = [h.binary("CUSTODY_QUERY"), d, "--root",
            os.path.join(d, e["root"]), "--no-index", "--json",
            "--limit", "1000000"]
    r = h.run(argv, bound_s=60)
    fails = []
    for line in r.stderr.decode(errors="replace").splitlines():
        m = QUERY_LINE.search(line)
        if m:
            b0 = int(m.group(2)) if m.group(2) else None
            b1 = int(m.group(3)) if m.group(3) else b0
            fails.append({"file": os.path.basename(m.group(1)),
                          "blocks": blocks(b0, b1), "rule": m.group(4),
                          "code": m.group(5), "why": m.group(6)})
    seqs = {json.loads(x)["seq"] for x in r.stdout.splitlines()}
    return r.returncode, fails, seqs


def compare(name, d, e):
    vrc, vf = run_verify(d, e)
    qrc, qf, shown = run_query(d, e)
    h.check(vrc == 1 and qrc == 1,
            f"{name}: both fail (verify {vrc}, query {qrc})")

    v_bad = set()
    v_seqs = set()
    for f in vf:
        if f["rule"] in AUTH_RULES:
            v_bad |= blocks(f.get("block_no"), f.get("block_last"))
            if f.get("seq_first") is not None:
                v_seqs |= set(range(f["seq_first"], f["seq_last"] + 1))
    v_foreign = {os.path.basename(f["file"]) for f in vf
                 if f["rule"] == "R-SEG-3" and f.get("file")}
    q_bad = set()
    for f in qf:
        if "block not shown" not in f["why"]:
            continue
        if f["code"] == "CST_EFOREIGN":
            h.check(f["file"] in v_foreign,
                    f"{name}: {f['file']}, of another chain for the "
                    f"query, is set aside by the verifier (R-SEG-3)")
        else:
            q_bad |= f["blocks"]
    h.check(v_bad == q_bad,
            f"{name}: the same blocks are not authentic (verify "
            f"{sorted(v_bad)}, query {sorted(q_bad)})")

    v_link = set()
    for f in vf:
        if f["rule"] in LINK_RULES:
            v_link |= blocks(f.get("block_no"), f.get("block_last"))
    q_link = set()
    for f in qf:
        if f["rule"] in LINK_RULES and "block not shown" not in f["why"]:
            q_link |= f["blocks"]
    h.check(not (v_bad & v_link) and not (q_bad & q_link),
            f"{name}: one failure per altered block, no link failure on "
            f"it (verify {sorted(v_bad & v_link)}, query "
            f"{sorted(q_bad & q_link)})")
    h.check(not (shown & v_seqs),
            f"{name}: no record shown from a block that is not authentic "
            f"({sorted(shown & v_seqs)[:5]})")


def frame_offsets(path):
    """The offsets of the frames in segment file path, by their magic."""
    data = open(path, "rb").read()
    offs, i = [], data.find(b"CBLK", 128)
    while i >= 0:
        offs.append(i)
        i = data.find(b"CBLK", i + 1)
    return data, offs


def damaged_copies(src, work):
    seg = os.path.join("segments", "seg-0000000001.cst")
    cases = {}
    for name, at in (("magic_flip", 1), ("first_magic_flip", 0)):
        d = os.path.join(work, name)
        shutil.copytree(src, d)
        data, offs = frame_offsets(os.path.join(d, seg))
        b = bytearray(data)
        b[offs[at]] ^= 0x01
        open(os.path.join(d, seg), "wb").write(bytes(b))
        cases[name] = d
    # payload_len + 16 MiB: the frame runs past the next one (R-BLK-2).
    d = os.path.join(work, "length_past_next")
    shutil.copytree(src, d)
    data, offs = frame_offsets(os.path.join(d, seg))
    b = bytearray(data)
    b[offs[1] + 64 + 3] ^= 0x01
    open(os.path.join(d, seg), "wb").write(bytes(b))
    cases["length_past_next"] = d
    d = os.path.join(work, "zeros_between")
    shutil.copytree(src, d)
    data, offs = frame_offsets(os.path.join(d, seg))
    open(os.path.join(d, seg), "wb").write(
        data[:offs[2]] + bytes(4096) + data[offs[2]:])
    cases["zeros_between"] = d
    return cases


def compare_rules(name, d):
    e = {"root": "keys/root.pub", "checkpoints": []}
    vrc, vf = run_verify(d, e)
    qrc, qf, _ = run_query(d, e)
    h.check(vrc == 1 and qrc == 1,
            f"{name}: both fail (verify {vrc}, query {qrc})")
    vr = sorted(f["rule"] for f in vf)
    qr = sorted(f["rule"] for f in qf)
    h.check(vr == qr, f"{name}: the same failures (verify {vr}, query {qr})")


def body():
    src = os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "vectors")
    work = h.workdir("agree")
    n = 0
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name, "expect.json")
        if not name.startswith("bad_") or not os.path.exists(path):
            continue
        e = json.load(open(path))
        if e["rules"] and all(r.startswith(("R-CKP-", "R-REC-", "R-NOTE-",
                                            "R-TLOG-"))
                              for r in e["rules"]):
            continue
        # A copy: nothing may write into the committed vectors.
        d = os.path.join(work, name)
        shutil.copytree(os.path.join(src, name), d)
        compare(name, d, e)
        n += 1
    h.check(n >= 15, f"{n} forged vectors compared")
    for name, d in sorted(damaged_copies(os.path.join(src, "good_multi"),
                                         work).items()):
        compare_rules(name, d)


if __name__ == "__main__":
    h.main(body, bound_s=240)
