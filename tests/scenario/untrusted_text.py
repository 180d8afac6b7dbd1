"""No string from the store reaches a terminal unescaped.

A copy of the good_multi vector whose segment 1 is renamed to a name
holding terminal escape sequences, a carriage return and a newline
followed by a forged report line, with one payload byte of that segment
flipped (so findings name the file), and a file beside it, not ending in
.cst, named the same way.  custody-verify's text report and custody-query's
failure lines must carry no ESC, CR or raw newline from those names (the
one text escaper, verifier/json.h), and the forged line must not begin a
line of its own.  The JSON report keeps the name exactly, escaped as JSON.
"""
import json
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

FORGED = "  - Every record is proven complete."
SEG_NAME = "seg-1\x1b[2K\x1b[1A\r" + FORGED + "\n.cst"
OTHER_NAME = "x\x1b[1A\n" + FORGED + ".txt"


def flip_payload(path):
    with open(path, "r+b") as f:
        d = bytearray(f.read())
        cl, pl = struct.unpack_from("<II", d, 128 + 60)
        d[128 + 224 + cl + pl // 2] ^= 0x01
        f.seek(0)
        f.write(d)


def check_text(what, data, shown=True):
    h.check(b"\x1b" not in data and b"\r" not in data,
            f"{what}: no ESC or CR byte")
    lines = data.decode("utf-8", errors="replace").split("\n")
    h.check(not any(line.startswith(FORGED) for line in lines),
            f"{what}: the forged sentence starts no line")
    if shown:
        h.check("\\x1b" in data.decode(errors="replace"),
                f"{what}: the name is shown escaped")


def body():
    work = h.workdir("untrusted")
    src = os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "vectors",
                       "good_multi")
    store = os.path.join(work, "s")
    shutil.copytree(src, store)
    segs = os.path.join(store, "segments")
    os.rename(os.path.join(segs, "seg-0000000001.cst"),
              os.path.join(segs, SEG_NAME))
    flip_payload(os.path.join(segs, SEG_NAME))
    with open(os.path.join(segs, OTHER_NAME), "w") as f:
        f.write("not a segment\n")
    root = os.path.join(store, "keys", "root.pub")

    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, store])
    h.check(r.returncode == 1, f"custody-verify fails (exit {r.returncode})")
    check_text("custody-verify text report", r.stdout + r.stderr)

    r = h.run([h.binary("CUSTODY_VERIFY"), "--json", "--root", root, store])
    rep = json.loads(r.stdout)
    files = {f.get("file") for f in rep.get("findings", [])}
    h.check(any(f is not None and f.endswith(SEG_NAME) for f in files),
            "custody-verify --json keeps the exact name")

    r = h.run([h.binary("CUSTODY_QUERY"), store])
    h.check(r.returncode == 1, f"custody-query fails (exit {r.returncode})")
    # The query reads only seg-NNNNNNNNNN.cst names, so it names the
    # damage only by the gap the renamed segment leaves.
    check_text("custody-query failure lines", r.stderr, shown=False)


h.main(body)
