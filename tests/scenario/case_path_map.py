"""A case record checked on the receiver's machine (SPEC R-CASE-4, R-CASE-6).

Alice verifies a store, exports a bundle and hands it to Bob; Bob holds
the record, the store and the exhibits under another directory.  Without
a map --check-case fails (every file unreadable); with --path-map
OLD=NEW it passes, reporting each file with the recorded path and the
path read, and the count and the maps in its summary; the head is the
same (the record is not rewritten).  The longest FROM wins; a FROM that
is only part of a path component does not apply.  Malformed maps are
usage errors.  A file altered after the move still fails through the
map, and a FIFO where a map points is refused without blocking.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def cv(*args):
    r = h.run([h.binary("CUSTODY_VERIFY"), *args], bound_s=60)
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def head_of(out):
    m = re.search(r"head sha256 ([0-9a-f]{64})", out)
    h.check(m is not None, f"the report prints the head:\n{out}")
    return m.group(1)


def named_files(case):
    """The (role, path) of every file the record's entries name."""
    files = []
    for name in sorted(os.listdir(case)):
        with open(os.path.join(case, name)) as f:
            for line in f:
                m = re.match(r"(input|output|exhibit) [0-9a-f]{64} (/.*)\n",
                             line)
                if m:
                    files.append((m.group(1), m.group(2)))
    return files


def body():
    work = os.path.realpath(h.workdir("case_path_map"))
    alice = os.path.join(work, "alice")
    os.makedirs(alice)
    d = h.Daemon(alice, udp=False, unix=False).start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", 20)
    d.stop()
    case = os.path.join(alice, "case")
    root = os.path.join(d.data, "keys", "root.pub")
    report = os.path.join(alice, "report.txt")
    bundle = os.path.join(alice, "ev.cbundle")

    rc, _, err = cv("--case-dir", case, "--case", "OP-9", "--root", root,
                    "--report", report, d.data)
    h.check(rc == 0 and "entry 1 written" in err, f"verify: entry 1 ({err})")
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "-n", "all", "--bundle",
               bundle, "--case-dir", case, "--case", "OP-9"])
    h.check(r.returncode == 0 and b"entry 2 written" in r.stderr,
            f"bundle export: entry 2 ({r.stderr.decode()})")
    rc, _, err = cv("--case-dir", case, "--case", "OP-9", "--transfer",
                    "--from", "Alice Examiner", "--to", "Bob Examiner",
                    "--reason", "second opinion", bundle, report)
    h.check(rc == 0 and "entry 3 written" in err, f"transfer: entry 3 ({err})")
    rc, out, _ = cv("--check-case", case)
    h.check(rc == 0 and "CASE RECORD: INTACT" in out,
            f"the record checks where it was made:\n{out}")
    head = head_of(out)
    files = named_files(case)
    h.check(len(files) > 4 and all(p.startswith(alice + "/")
                                   for _, p in files),
            f"the entries name files under {alice}: {files}")
    entries = {n: open(os.path.join(case, n), "rb").read()
               for n in os.listdir(case)}

    # Bob's machine: everything under another directory.
    bob = os.path.join(work, "bob")
    os.rename(alice, bob)
    bcase = os.path.join(bob, "case")

    rc, out, _ = cv("--check-case", bcase)
    h.check(rc == 1 and out.count("cannot be read") == len(files) and
            "CASE RECORD: FAILED" in out,
            f"without a map every named file is unreadable (exit {rc}):\n{out}")

    rc, out, _ = cv("--check-case", bcase, "--case-head", head,
                    "--path-map", f"{alice}={bob}")
    h.check(rc == 0 and head_of(out) == head and
            f"CASE RECORD: INTACT ({len(files)} file(s) found through "
            f"--path-map)" in out,
            f"with the map the record checks, same head (exit {rc}):\n{out}")
    for role, path in files:
        line = (f"{role} {path} read at {bob}{path[len(alice):]} "
                f"(--path-map): sha256 matches the record (R-CASE-6)")
        h.check(line in out, f"the report names {path} and where it was "
                f"read:\n{out}")
    h.check(f"--path-map: {len(files)} file(s) the record names looked for "
            f"at another path, {len(files)} found there" in out and
            f"    --path-map {alice}={bob}: {len(files)} file(s)\n" in out,
            f"the summary counts the files and lists the map:\n{out}")
    h.check(entries == {n: open(os.path.join(bcase, n), "rb").read()
                        for n in os.listdir(bcase)},
            "the check rewrote no entry")

    # The longest FROM applies, whatever the order of the maps.
    nowhere = os.path.join(work, "nowhere")
    for maps in ([f"{work}={nowhere}", f"{alice}={bob}"],
                 [f"{alice}/={bob}/", f"{work}={nowhere}"]):
        args = [a for m in maps for a in ("--path-map", m)]
        rc, out, _ = cv("--check-case", bcase, *args)
        h.check(rc == 0 and f"--path-map {work}={nowhere}: 0 file(s)" in out
                and f"--path-map {alice}={bob}: {len(files)} file(s)" in out,
                f"the longest FROM wins ({maps}, exit {rc}):\n{out}")

    # A FROM that is only part of a component does not apply: with
    # FROM .../ali and TO .../bobby, .../alice/x is not .../bobbyce/x,
    # though a copy of every file is there.
    for _, path in files:
        copy = os.path.join(work, "bobbyce", path[len(alice) + 1:])
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        shutil.copyfile(bob + path[len(alice):], copy)
    partial = f"{alice[:-2]}={os.path.join(work, 'bobby')}"
    rc, out, _ = cv("--check-case", bcase, "--path-map", partial)
    h.check(rc == 1 and "read at" not in out and
            f"--path-map {partial}: 0 file(s)" in out and
            "(0 file(s) found through --path-map)" in out,
            f"a map on part of a component does not apply (exit {rc}):\n{out}")

    for bad, why in (("noequals", "has no '='"),
                     (f"={bob}", "FROM is empty"),
                     (f"alice={bob}", "FROM is not an absolute path"),
                     (f"{alice}=bob", "TO is not an absolute path"),
                     (f"{alice}=", "TO is not an absolute path")):
        rc, out, err = cv("--check-case", bcase, "--path-map", bad)
        h.check(rc == 2 and why in err and out == "",
                f"--path-map {bad!r}: a usage error saying {why!r} "
                f"(exit {rc}): {err}")
    rc, _, err = cv("--check-case", bcase, "--path-map", f"{alice}={bob}",
                    "--path-map", f"{alice}/={nowhere}")
    h.check(rc == 2 and "mapped twice" in err, f"one FROM twice: {err}")
    rc, _, err = cv("--case-dir", bcase, "--transfer", "--from", "B",
                    "--to", "C", "--reason", "r", "--path-map",
                    f"{alice}={bob}", os.path.join(bob, "report.txt"))
    h.check(rc == 2 and "--check-case only" in err and
            not os.path.exists(os.path.join(bcase, "entry-000004.txt")),
            f"a transfer takes no map, and writes no entry: {err}")

    # The forgery the check stops: a file altered after the move.
    bbundle = os.path.join(bob, "ev.cbundle")
    with open(bbundle, "ab") as f:
        f.write(b"\0")
    rc, out, _ = cv("--check-case", bcase, "--path-map", f"{alice}={bob}")
    for n in (2, 3):
        h.check(re.search(
            rf"FAILED entry {n} \(entry-00000{n}.txt\): \w+ "
            rf"{re.escape(bundle)} read at {re.escape(bbundle)} "
            r"\(--path-map\): sha256 is now [0-9a-f]{64}, recorded", out),
            f"entry {n}: the altered bundle fails through the map:\n{out}")
    h.check(rc == 1 and "CASE RECORD: FAILED (2 failure(s)) "
            f"({len(files) - 2} file(s) found through --path-map)" in out,
            f"an altered file fails the check (exit {rc}):\n{out}")

    # A FIFO where the map points is refused, not waited on.
    breport = os.path.join(bob, "report.txt")
    os.unlink(breport)
    os.mkfifo(breport)
    rc, out, _ = cv("--check-case", bcase, "--path-map", f"{alice}={bob}")
    h.check(rc == 1 and re.search(
        rf"{re.escape(report)} read at {re.escape(breport)} \(--path-map\): "
        r"cannot be read: not a regular file", out),
        f"a FIFO through the map is refused (exit {rc}):\n{out}")


if __name__ == "__main__":
    h.main(body, bound_s=90)
