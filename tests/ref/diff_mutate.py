#!/usr/bin/python3
"""custody-verify and the reference verifier agree on damaged stores.

A small two-segment store (custody-mkstore: two key epochs, the newest
segment unsealed and ending in a partial frame) is damaged in every way
below, and for every variant custody-verify's exit status (0 intact,
1 failed) must be the reference verifier's verdict (SPEC R-SEG-8,
R-VER-1: both resynchronise and both decide what a partial frame is by
the same rules):

- single-byte flips: each byte of each segment XORed with a value drawn
  from the seeded generator (never 0);
- structural mutations drawn from the seeded generator: truncate a
  segment anywhere, duplicate, swap or delete frames, overwrite a frame
  length, splice the head of one segment onto the tail of the other,
  delete or duplicate a whole segment file.

    diff_mutate.py [--full] [--seed N] [--flips N] [--mutations N]

Without --full (ctest) it runs a sample bounded to about 30 s: every byte
of every frame's length fields (where one flip moves frame boundaries),
a seeded sample of the other offsets, and 250 mutations.  --full flips
every byte and runs 3000 mutations (some minutes).  The seed is printed;
a disagreement prints the variant and both verdicts, keeps the store in
/tmp, and the exit status is 1.

Needs CUSTODY_VERIFY and CUSTODY_MKSTORE (or CUSTODY_BUILD_DIR).
"""

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import custody_ref as ref  # noqa: E402

DEFAULT_SEED = 20261206


def tool(var, name):
    p = os.environ.get(var)
    if not p:
        p = os.path.join(os.environ.get("CUSTODY_BUILD_DIR", "build"), name)
    if not os.access(p, os.X_OK):
        sys.exit("diff_mutate: %s is not built (set %s)" % (p, var))
    return p


def frames(d):
    """(offset, length) of each complete frame, read as a writer lays them."""
    pos, out = 128, []
    while pos + 224 <= len(d) and d[pos:pos + 4] == b"CBLK":
        cl, pl = struct.unpack_from("<II", d, pos + 60)
        n = 224 + cl + pl + 64
        if pos + n > len(d):
            break
        out.append((pos, n))
        pos += n
    return out


class Runner:
    def __init__(self, verify, base, work):
        self.verify = verify
        self.base = base
        self.work = work
        self.root = os.path.join(base, "keys", "root.pub")
        self.segs = sorted(os.listdir(os.path.join(base, "segments")))
        self.data = {s: open(os.path.join(base, "segments", s), "rb").read()
                     for s in self.segs}
        self.n = 0
        self.intact = 0
        self.disagree = []

    def run(self, what, files):
        """files: segment name -> bytes (None: absent) for this variant."""
        d = os.path.join(self.work, "v")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "segments"))
        for name, data in files.items():
            if data is not None:
                with open(os.path.join(d, "segments", name), "wb") as f:
                    f.write(data)
        c = subprocess.run([self.verify, "--quiet", "--threads", "0",
                            "--root", self.root, d],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL).returncode
        r = ref.verify_store(d, self.root).verdict
        self.n += 1
        c_v = {0: "intact", 1: "failed"}.get(c, "exit %d" % c)
        if c_v == "intact":
            self.intact += 1
        if c_v != r:
            keep = tempfile.mkdtemp(prefix="custody-diff.", dir="/tmp")
            shutil.copytree(d, os.path.join(keep, "store"))
            self.disagree.append((what, c_v, r, keep))
            print("DISAGREE %s: custody-verify %s, reference %s (kept in "
                  "%s)" % (what, c_v, r, keep), flush=True)

    def variant(self, **over):
        files = dict(self.data)
        files.update(over)
        return files


def flips(rn, rng, offsets_of):
    for s in rn.segs:
        d = rn.data[s]
        for off in offsets_of(s, len(d)):
            x = rng.randrange(1, 256)
            m = bytearray(d)
            m[off] ^= x
            rn.run("%s: byte %d ^= 0x%02x" % (s, off, x),
                   rn.variant(**{s: bytes(m)}))


def mutation(rn, rng):
    s = rng.choice(rn.segs)
    d = rn.data[s]
    f = frames(d)
    other = [t for t in rn.segs if t != s]
    kind = rng.choice(["truncate", "duplicate", "swap", "delete", "length",
                       "splice", "drop-file", "copy-file", "zeros"])
    if kind == "truncate":
        cut = rng.randrange(0, len(d))
        return "%s truncated to %d" % (s, cut), rn.variant(**{s: d[:cut]})
    if kind == "duplicate" and f:
        i, j = rng.randrange(len(f)), rng.randrange(len(f) + 1)
        p, n = f[i]
        at = f[j][0] if j < len(f) else len(d)
        return ("%s frame %d copied before %d" % (s, i, j),
                rn.variant(**{s: d[:at] + d[p:p + n] + d[at:]}))
    if kind == "swap" and len(f) > 1:
        i = rng.randrange(len(f) - 1)
        (p1, n1), (p2, n2) = f[i], f[i + 1]
        return ("%s frames %d and %d swapped" % (s, i, i + 1),
                rn.variant(**{s: d[:p1] + d[p2:p2 + n2] + d[p1:p1 + n1]
                              + d[p2 + n2:]}))
    if kind == "delete" and f:
        i = rng.randrange(len(f))
        p, n = f[i]
        return ("%s frame %d deleted" % (s, i),
                rn.variant(**{s: d[:p] + d[p + n:]}))
    if kind == "length" and f:
        i = rng.randrange(len(f))
        p, n = f[i]
        field = rng.choice([60, 64, 68])
        m = bytearray(d)
        v = rng.choice([0, 144, 1 << 24, (1 << 26) + 1,
                        rng.randrange(1 << 16)])
        struct.pack_into("<I", m, p + field, v)
        return ("%s frame %d field @%d = %d" % (s, i, field, v),
                rn.variant(**{s: bytes(m)}))
    if kind == "splice" and other:
        t = rng.choice(other)
        e = rn.data[t]
        a, b = rng.randrange(128, len(d) + 1), rng.randrange(128, len(e) + 1)
        return ("%s[:%d] + %s[%d:]" % (s, a, t, b),
                rn.variant(**{s: d[:a] + e[b:]}))
    if kind == "drop-file" and other:
        return "%s deleted" % s, rn.variant(**{s: None})
    if kind == "copy-file":
        return ("%s copied as seg-0000000009.cst" % s,
                rn.variant(**{"seg-0000000009.cst": d}))
    at = rng.randrange(128, len(d) + 1)
    n = rng.choice([1, 64, 4096])
    return ("%s: %d zero bytes inserted at %d" % (s, n, at),
            rn.variant(**{s: d[:at] + bytes(n) + d[at:]}))


def main(argv):
    full = "--full" in argv
    seed, nflips, nmut = DEFAULT_SEED, 250, 250
    if full:
        nflips, nmut = None, 3000
    for i, a in enumerate(argv):
        if a in ("--seed", "--flips", "--mutations") and i + 1 < len(argv):
            v = int(argv[i + 1])
            if a == "--seed":
                seed = v
            elif a == "--flips":
                nflips = v
            else:
                nmut = v
    print("diff_mutate: seed %d (%s)" % (seed, "full" if full else
                                         "sample"), flush=True)
    verify = tool("CUSTODY_VERIFY", "custody-verify")
    mkstore = tool("CUSTODY_MKSTORE", "custody-mkstore")
    work = tempfile.mkdtemp(prefix="custody-diffmut.", dir="/tmp")
    try:
        base = os.path.join(work, "base")
        subprocess.run([mkstore, base, "--events", "40", "--segments", "2",
                        "--epochs", "2", "--block-records", "8", "--seed",
                        "7", "--unsealed", "--partial-tail", "300"],
                       check=True, stdout=subprocess.DEVNULL)
        rn = Runner(verify, base, work)
        rng = random.Random(seed)
        t0 = time.monotonic()
        rn.run("the store as made", rn.variant())
        if rn.intact != 1:
            print("FAIL: the unaltered store is not intact")
            return 1
        if nflips is None:
            flips(rn, rng, lambda s, n: range(n))
        else:
            # Every byte of every frame's length fields (cert_len,
            # payload_len, raw_len: where a flip moves frame boundaries),
            # then a seeded sample of the rest.
            flips(rn, rng, lambda s, n: [p + k for p, _ in frames(
                rn.data[s]) for k in range(60, 72)])
            per = max(1, nflips // len(rn.segs))
            flips(rn, rng, lambda s, n: sorted(rng.sample(range(n),
                                                          min(per, n))))
        nf = rn.n - 1
        for _ in range(nmut):
            what, files = mutation(rn, rng)
            rn.run(what, files)
        print("diff_mutate: %d single-byte flips, %d structural mutations, "
              "%d variants still intact, %d disagreements (%.0f s, seed %d)"
              % (nf, rn.n - 1 - nf, rn.intact - 1, len(rn.disagree),
                 time.monotonic() - t0, seed), flush=True)
        return 1 if rn.disagree else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
