"""The case record (SPEC section 16, R-CASE-1..5).

A verification, a bundle export, a bundle check and a transfer of
exhibits each append a numbered entry; --check-case says INTACT (exit 0)
and prints the head.  On copies of the record: an edited entry, a removed
entry, two entries swapped, a changed exhibit file, an edited newest
entry checked against the head noted earlier, and a planted entry are
each detected, naming the entry (and the file), exit 1.
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


def check(case, *extra):
    return cv("--check-case", case, *extra)


def entry(case, n):
    return os.path.join(case, "entry-%06d.txt" % n)


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    h.check(old in text, f"{old!r} in {path}")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


def failed(case, want, *extra, what):
    rc, out, _ = check(case, *extra)
    h.check(rc == 1 and "CASE RECORD: FAILED" in out and
            re.search(want, out) is not None,
            f"{what}: exit 1, and the report says {want!r} ({rc}):\n{out}")


def body():
    work = h.workdir("case_record")
    d = h.Daemon(work, udp=False, unix=False).start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", 20)
    d.stop()
    case = os.path.join(work, "case")
    root = os.path.join(d.data, "keys", "root.pub")
    report = os.path.join(work, "report.txt")
    bundle = os.path.join(work, "ev.cbundle")
    records = os.path.join(work, "ev.jsonl")

    rc, _, err = cv("--case-dir", case, "--case", "OP-7", "--root", root,
                    "--report", report, d.data)
    h.check(rc == 0 and "entry 1 written" in err, f"verify: entry 1 ({err})")
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "-n", "all", "--bundle",
               bundle, "--case-dir", case, "--case", "OP-7"])
    h.check(r.returncode == 0 and b"entry 2 written" in r.stderr,
            f"bundle export: entry 2 ({r.stderr.decode()})")
    rc, _, err = cv("--bundle", bundle, "--root", root, "--records-out",
                    records, "--case-dir", case, "--case", "OP-7")
    h.check(rc == 0 and "entry 3 written" in err, f"bundle check: entry 3")
    rc, _, err = cv("--case-dir", case, "--case", "OP-7", "--transfer",
                    "--from", "Alice Examiner", "--to", "Bob Counsel",
                    "--reason", "disclosure", bundle, records)
    h.check(rc == 0 and "entry 4 written" in err, f"transfer: entry 4 ({err})")

    with open(entry(case, 1)) as f:
        e1 = f.read()
    h.check(re.search(r"^kind verify\ncase OP-7\n", e1, re.M) and
            f"output " in e1 and os.path.realpath(report) in e1 and
            "/segments/seg-" in e1 and "\nverdict INTACT\nexit 0\n" in e1,
            f"entry 1 names the inputs, the report, the verdict:\n{e1}")
    with open(entry(case, 4)) as f:
        e4 = f.read()
    h.check("kind transfer" in e4 and "from Alice Examiner\nto Bob "
            "Counsel\nreason disclosure\n" in e4 and e4.count("exhibit ") == 2,
            f"entry 4 is the transfer:\n{e4}")

    rc, out, _ = check(case)
    h.check(rc == 0 and "CASE RECORD: INTACT" in out and "4 entries" in out,
            f"the record checks (exit {rc}):\n{out}")
    head = re.search(r"head sha256 ([0-9a-f]{64})", out).group(1)
    rc, out, _ = check(case, "--case-head", head)
    h.check(rc == 0, f"the head noted is in the record:\n{out}")

    def copy(tag):
        c = os.path.join(work, f"case-{tag}")
        shutil.copytree(case, c)
        return c

    c = copy("edited")
    edit(entry(c, 2), "verdict written", "verdict not written")
    failed(c, r"entry 3 \(entry-000003.txt\): prev .* altered",
           what="an edited entry")
    c = copy("removed")
    os.unlink(entry(c, 2))
    failed(c, r"entry 2: missing", what="a removed entry")
    c = copy("reordered")
    os.rename(entry(c, 2), os.path.join(c, "x"))
    os.rename(entry(c, 3), entry(c, 2))
    os.rename(os.path.join(c, "x"), entry(c, 3))
    failed(c, r"entry 2 \(entry-000002.txt\): it says it is entry 3",
           what="two entries swapped")
    c = copy("last")
    edit(entry(c, 4), "reason disclosure", "reason  disclosure")
    rc, out, _ = check(c)
    h.check(rc == 0, "an edited newest entry is not seen without the head")
    failed(c, r"the head noted, [0-9a-f]{64}, is no entry", "--case-head",
           head, what="an edited newest entry against the head")
    # Hostile files never hang the check: a FIFO or a link in place of an
    # entry is reported with the reason, and so is a FIFO as an exhibit.
    c = copy("fifo")
    os.unlink(entry(c, 2))
    os.mkfifo(entry(c, 2))
    failed(c, r"entry 2 \(entry-000002.txt\): cannot be read: not a "
           r"regular file", what="a FIFO in place of an entry")
    c = copy("link")
    os.unlink(entry(c, 2))
    os.symlink(entry(case, 2), entry(c, 2))
    failed(c, r"entry 2 \(entry-000002.txt\): cannot be read: not a "
           r"regular file", what="a symbolic link in place of an entry")
    fifo = os.path.join(work, "exhibit.fifo")
    os.mkfifo(fifo)
    c = copy("fifo-exhibit")
    rc, _, err = cv("--case-dir", c, "--case", "OP-7", "--transfer",
                    "--from", "A", "--to", "B", "--reason", "r", fifo)
    h.check(rc != 0 and "not a regular file" in err and
            not os.path.exists(entry(c, 5)),
            f"a FIFO as an exhibit: refused with the reason, no entry "
            f"written (exit {rc}): {err}")

    c = copy("garbled")
    edit(entry(c, 1), "uid ", "uid 0")
    failed(c, r"entry 1 \(entry-000001.txt\): not an entry \(R-CASE-1\)",
           what="a malformed entry")

    with open(records, "a") as f:
        f.write("{}\n")
    failed(case, r"entry 4 \(entry-000004.txt\): exhibit " +
           re.escape(os.path.realpath(records)) + r": sha256 is now",
           what="a changed exhibit")
    failed(case, r"entry 3 \(entry-000003.txt\): output " +
           re.escape(os.path.realpath(records)), what="a changed output")


if __name__ == "__main__":
    h.main(body, bound_s=90)
