"""custody-verify --bundle FILE --records-out OUT: the disclosed records
of a bundle, to hand on, written only when the bundle verifies.

jsonl holds the same objects custody-query -o json gives for those
records; raw holds each record's exact bytes on one line, a backslash
doubled and an LF written backslash-n, so a message with an LF inside
is still one line and decodes back to its bytes.  A bundle with one
byte changed writes nothing and exits 1.
"""
import base64
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

MSGS = [b"<13>1 2024-05-01T10:00:00Z web1 app 1 - - plain one",
        b"<13>1 2024-05-01T10:00:01Z web1 app 1 - - two\nlines \\ back",
        b"<13>1 2024-05-01T10:00:02Z web1 app 1 - - tail\\n not an LF"]


def decode_raw_line(line):
    out, i = bytearray(), 0
    while i < len(line):
        if line[i:i + 1] == b"\\":
            out += b"\n" if line[i + 1:i + 2] == b"n" else b"\\"
            i += 2
        else:
            out += line[i:i + 1]
            i += 1
    return bytes(out)


def raw_of(obj):
    if "raw_base64" in obj:
        return base64.b64decode(obj["raw_base64"])
    return obj["raw"].encode()


def body():
    work = h.workdir("bundle_records")
    d = h.Daemon(work, udp=False, unix=False).start()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"".join(b"%d %s" % (len(m), m) for m in MSGS))
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 3, 20,
               "3 events durable")
    d.stop()
    bundle = os.path.join(work, "b.cbundle")
    q = [h.binary("CUSTODY_QUERY"), d.data, "--kind", "event", "-n", "all"]
    r = h.run(q + ["--bundle", bundle])
    h.check(r.returncode == 0, f"bundle written ({r.stderr.decode()})")
    r = h.run(q + ["-o", "json"])
    want = r.stdout.decode().splitlines()
    h.check(len(want) == 3, f"3 events ({want})")
    root = os.path.join(d.data, "keys", "root.pub")
    verify = [h.binary("CUSTODY_VERIFY"), "--bundle", bundle, "--root", root]

    out = os.path.join(work, "records.jsonl")
    r = h.run(verify + ["--records-out", out, "--records-format", "jsonl"])
    h.check(r.returncode == 0, f"the bundle verifies ({r.stdout.decode()})")
    with open(out) as f:
        got = f.read().splitlines()
    h.check(got == want, "jsonl: custody-query's objects for the records "
            f"disclosed:\n{got}\n{want}")

    out = os.path.join(work, "records.raw")
    r = h.run(verify + ["--records-out", out, "--records-format", "raw"])
    h.check(r.returncode == 0, "raw: the bundle verifies")
    with open(out, "rb") as f:
        lines = f.read().split(b"\n")
    h.check(lines[-1] == b"" and len(lines) == 4,
            f"raw: one line per record ({lines})")
    h.check([decode_raw_line(x) for x in lines[:-1]] == MSGS and
            [raw_of(json.loads(x)) for x in want] == MSGS,
            f"raw: each line decodes to the bytes received ({lines})")

    # One byte changed: nothing written, exit 1.
    with open(bundle, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 1
    bad = os.path.join(work, "bad.cbundle")
    with open(bad, "wb") as f:
        f.write(data)
    out = os.path.join(work, "bad.jsonl")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--bundle", bad, "--root", root,
               "--records-out", out])
    h.check(r.returncode == 1 and not os.path.exists(out) and
            "not written" in r.stderr.decode(),
            f"an altered bundle: exit 1, no records file ({r.returncode}, "
            f"{r.stderr.decode()})")
    r = h.run(verify + ["--records-format", "xml", "--records-out", out])
    h.check(r.returncode == 2, "an unknown format is a usage error")


if __name__ == "__main__":
    h.main(body, bound_s=60)
