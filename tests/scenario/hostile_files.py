"""Hostile files in a store never hang, kill or bog down a reader (R-SEG-7).

A store of two segments made by custody-mkstore, then in copies of it:
- a FIFO, a symbolic link to /dev/zero and a directory, each named like a
  segment in segments/: custody-verify and custody-query end within a
  bound, report R-SEG-7 and fail (exit 1); nothing else in the store goes
  unread;
- a FIFO in quarantine/ where a recovery record names its file: the
  verifier ends and says the quarantine could not be checked;
- the newest segment extended by 64 GiB of holes, and an older one with a
  hole punched over its middle: each reader ends within seconds, with
  R-SEG-7, and its peak memory stays far below the file's size;
- segments truncated over and over while custody-verify and custody-query
  read them: whatever they report, neither dies of a signal (SIGBUS);
- FIFOs where the investigator names a file (--root, --root-dir's keys,
  --tsa-cert, --witness, --sign-with and --cert, the store itself) or
  where the store's root.pub should be: each tool ends within the bound
  with an error that says why, never waiting on the FIFO.
"""
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

VERIFY = h.binary("CUSTODY_VERIFY")
QUERY = h.binary("CUSTODY_QUERY")
BOUND_S = 20


def mkstore(path, *extra):
    r = h.run([h.tool("custody-mkstore"), path, "--events", "20000",
               "--segments", "2", "--seed", "7", *extra], bound_s=60)
    h.check(r.returncode == 0, f"custody-mkstore {' '.join(extra)}: "
            f"{r.stderr.decode(errors='replace')}")


def copy(src, work, name):
    dst = os.path.join(work, name)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def segs(store):
    d = os.path.join(store, "segments")
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if n.endswith(".cst"))


def read_tools(store, what, bound_s=BOUND_S):
    """Runs both readers on store; each must end within bound_s, not by a
    signal.  Returns {tool: (exit, output)}."""
    out = {}
    for name, argv in (("custody-verify", [VERIFY, store]),
                       ("custody-query", [QUERY, store, "--count"])):
        t0 = time.monotonic()
        r = h.run(argv, bound_s=bound_s)
        took = time.monotonic() - t0
        text = (r.stdout + r.stderr).decode(errors="replace")
        h.check(r.returncode >= 0, f"{name} on {what} ends by itself" +
                ("" if r.returncode >= 0 else
                 f", not by signal {-r.returncode}"))
        out[name] = (r.returncode, text, took)
    return out


def expect_r_seg_7(store, what):
    res = read_tools(store, what)
    for name, (rc, text, took) in res.items():
        h.check(rc == 1 and "R-SEG-7" in text,
                f"{name} on {what}: R-SEG-7 and exit 1 in {took:.1f} s "
                f"(exit {rc})" + ("" if rc == 1 and "R-SEG-7" in text
                                  else ":\n" + text[-1500:]))
    return res


def named_fifos(base, work):
    """FIFOs given where a file is named: every tool ends and says why."""
    fifo = os.path.join(work, "named.fifo")
    os.mkfifo(fifo)
    roots = os.path.join(work, "roots")
    os.makedirs(roots)
    r = h.run([VERIFY, base, "--json"], bound_s=BOUND_S)
    chain = json.loads(r.stdout)["chain_id"]
    os.mkfifo(os.path.join(roots, chain + ".fpr"))
    bad_root = copy(base, work, "root-fifo")
    pub = os.path.join(bad_root, "keys", "root.pub")
    os.unlink(pub)
    os.mkfifo(pub)
    report = os.path.join(work, "named-report.txt")
    cases = [
        ("--root FIFO", [VERIFY, base, "--root", fifo], "not a regular"),
        ("--root-dir with a FIFO .fpr", [VERIFY, "--root-dir", roots, base],
         "not a regular"),
        ("--tsa-cert FIFO", [VERIFY, base, "--tsa-cert", fifo],
         "not a regular"),
        ("--witness FIFO", [VERIFY, base, "--witness", fifo], "--witness"),
        ("--sign-with FIFO", [VERIFY, base, "--text", report, "--sign-with",
                              fifo, "--cert", fifo], "not a regular"),
        ("a FIFO as a segment file", [VERIFY, fifo, "--root", os.path.join(
            base, "keys", "root.pub")], "not a regular"),
        ("a FIFO as the store's root.pub", [VERIFY, bad_root],
         "not a regular"),
        ("custody-query, a FIFO as the store's root.pub",
         [QUERY, bad_root, "--count"], "not a regular"),
        ("custody-query --root FIFO", [QUERY, base, "--root", fifo,
                                       "--count"], "not a regular"),
    ]
    for what, argv, says in cases:
        r = h.run(argv, bound_s=BOUND_S)
        text = (r.stdout + r.stderr).decode(errors="replace")
        h.check(r.returncode > 0 and says in text,
                f"{what}: ends with an error that says why (exit "
                f"{r.returncode}, expected {says!r}):\n" + text[-800:])


def body():
    work = h.workdir("hostile")
    base = os.path.join(work, "base")
    mkstore(base)
    h.verify(base)

    # Not regular files, named as segments.
    for kind in ("fifo", "link", "dir"):
        st = copy(base, work, kind)
        p = os.path.join(st, "segments", "seg-0000000002.cst")
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "link":
            os.symlink("/dev/zero", p)
        else:
            os.mkdir(p)
        expect_r_seg_7(st, f"a {kind} named like a segment")

    # FIFOs and a link named like checkpoints, a note checkpoint and a log
    # certificate in checkpoints/: read as store files are, never waited on.
    ck = copy(base, work, "ckpt-fifo")
    cdir = os.path.join(ck, "checkpoints")
    os.makedirs(cdir, exist_ok=True)
    for n in ("ckpt-00000000000000000009.ckpt", "ckpt-00000000000000000009.note",
              "log.cert"):
        os.mkfifo(os.path.join(cdir, n))
    os.symlink("/dev/zero", os.path.join(cdir, "latest.note"))
    r = h.run([VERIFY, ck], bound_s=BOUND_S)
    text = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode in (1, 2) and
            text.count("not a regular file") >= 3,
            f"custody-verify with FIFOs and a link in checkpoints/ ends and "
            f"names them as not regular files (exit {r.returncode}):\n"
            + text[-1500:])
    h.check("not proven intact" in text and
            "0 integrity failure(s)" not in text,
            "with nothing failed but something unread, the report says the "
            "store is not proven intact, not that it is not intact")

    # A FIFO where a recovery record's quarantine file should be.
    rec = os.path.join(work, "recovery")
    mkstore(rec, "--recovery")
    qdir = os.path.join(rec, "quarantine")
    names = [n for n in os.listdir(qdir)] if os.path.isdir(qdir) else []
    h.check(names, "custody-mkstore --recovery leaves a quarantine file")
    q = os.path.join(qdir, names[0])
    os.unlink(q)
    os.mkfifo(q)
    r = h.run([VERIFY, rec], bound_s=BOUND_S)
    text = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode >= 0 and "quarantine" in text,
            f"custody-verify with a FIFO in quarantine/ ends and speaks of "
            f"the quarantine (exit {r.returncode})")

    named_fifos(base, work)

    # 64 GiB of holes after the newest segment, a hole inside an older one.
    sparse = copy(base, work, "sparse")
    newest = segs(sparse)[-1]
    size = os.path.getsize(newest)
    os.truncate(newest, size + (64 << 30))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = expect_r_seg_7(sparse, "a segment with 64 GiB of holes")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    h.check(peak_mib < 512, f"the readers' peak memory is {peak_mib:.0f} "
            "MiB, not the holes' size")
    h.check(all(t < 10 * h.SLOW for _, _, t in res.values()),
            "each reader takes seconds, not minutes: " +
            ", ".join(f"{n} {t:.1f} s" for n, (_, _, t) in res.items()))
    del before

    punched = copy(base, work, "punched")
    older = segs(punched)[0]
    size = os.path.getsize(older)
    r = subprocess.run(["fallocate", "--punch-hole", "--offset",
                        str((size // 2) & ~4095), "--length", str(1 << 16),
                        older], capture_output=True)
    if r.returncode == 0:
        expect_r_seg_7(punched, "a segment with a hole punched in it")
    else:
        print("note: this file system cannot punch holes; skipped that case",
              flush=True)

    # Truncated under the readers, many times: never a SIGBUS.
    big = os.path.join(work, "big")
    r = h.run([h.tool("custody-mkstore"), big, "--events", "400000",
               "--segments", "2", "--seed", "9"], bound_s=120)
    h.check(r.returncode == 0, "a larger store is made")
    pristine = {p: open(p, "rb").read() for p in segs(big)}
    deaths = 0
    runs = 0
    for i in range(6):
        for argv in ([VERIFY, "--threads", "1", big],
                     [QUERY, big, "--count", "--no-index"]):
            for p, data in pristine.items():
                with open(p, "wb") as f:
                    f.write(data)
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.02 * (i + 1))
            for p in pristine:
                os.truncate(p, 4096)
            try:
                rc = proc.wait(timeout=BOUND_S * h.SLOW)
            except subprocess.TimeoutExpired:
                proc.kill()
                h.fail(f"{argv[0]} hangs on a truncated segment")
            runs += 1
            if rc < 0:
                deaths += 1
                print(f"{os.path.basename(argv[0])} died of signal {-rc}",
                      flush=True)
    h.check(deaths == 0, f"{runs} reads with segments truncated under them: "
            f"{deaths} ended by a signal")
    mode = os.stat(base).st_mode
    h.check(stat.S_ISDIR(mode), "the original store is untouched")


if __name__ == "__main__":
    h.main(body, bound_s=240)
