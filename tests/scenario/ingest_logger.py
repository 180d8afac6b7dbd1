"""util-linux logger against the real custodyd, every way it can send.

RFC 5424 and RFC 3164, TCP octet-counted (--octet-count) and LF-framed,
UDP, and the local unix datagram socket; single messages and whole files
through one connection.  After a clean stop (SIGTERM) every message must be
in the store exactly once, with the exact bytes logger put on the wire (where
logger's output is deterministic: --rfc5424=notime,notq,nohost with --id;
else its exact shape), with the right transport, no flag, and parsed with
the facility, severity and app name it was sent with; the lines of each
file in order; and custody-verify must say the chain is intact.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

LOGGER = "/usr/bin/logger"
TR_UDP, TR_TCP, TR_UNIX = 1, 2, 5
TS3164 = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"


def body():
    if not os.access(LOGGER, os.X_OK):
        h.fail("util-linux logger is not installed (package bsdutils)")
    work = h.workdir("logger")
    d = h.Daemon(work).start()
    net = ["-n", "127.0.0.1", "-P", str(d.port)]
    # logger names the host as gethostname() says, short or not.
    host = re.escape(os.uname().nodename.split(".")[0]) + r"(\.\S+)?"
    sent = []  # (token, argv, transport, exact raw or regex, format, pri, app)

    def send(token, args, transport, expect, fmt, pri, app):
        r = h.run([LOGGER, *args], bound_s=10)
        if r.returncode != 0:
            h.fail(f"logger {' '.join(args)} exited {r.returncode}: "
                   f"{r.stderr.decode(errors='replace')}")
        sent.append((token, args, transport, expect, fmt, pri, app))

    det = ["--rfc5424=notime,notq,nohost", "--id=4242", "--msgid", "MID",
           "--sd-id", "ex@32473", "--sd-param", 'k="v \\"q\\" \\]"']
    det_raw = ('<{pri}>1 - - {app} 4242 MID [ex@32473 k="v \\"q\\" \\]"] '
               '{text}')

    # Deterministic RFC 5424, one per transport and framing: exact bytes.
    for name, tr, extra in (("tcp-octet", TR_TCP, ["-T", "--octet-count"]),
                            ("tcp-lf", TR_TCP, ["-T"]),
                            ("udp", TR_UDP, ["-d"])):
        tok = f"det-{name}"
        text = f"exact {tok} end"
        send(tok, [*net, *extra, *det, "-t", "app1", "-p", "auth.warning",
                   text], tr,
             det_raw.format(pri=4 * 8 + 4, app="app1", text=text), 1, 36,
             "app1")
    tok = "det-unix"
    text = f"exact {tok} end"
    send(tok, ["-u", d.sock, *det, "-t", "app1", "-p", "local3.err", text],
         TR_UNIX, det_raw.format(pri=19 * 8 + 3, app="app1", text=text), 1,
         155, "app1")

    # logger's everyday forms: exact shape, timestamps and host as sent.
    for name, tr, extra in (("tcp-octet", TR_TCP, ["-T", "--octet-count"]),
                            ("tcp-lf", TR_TCP, ["-T"]),
                            ("udp", TR_UDP, ["-d"])):
        tok = f"5424-{name}"
        send(tok, [*net, *extra, "--rfc5424", "-t", "sshd", f"hello {tok}"],
             tr, re.compile(
                 r"<13>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d "
                 + host + r" sshd - - \[timeQuality tzKnown=\"1\" "
                 r"isSynced=\"[01]\"( syncAccuracy=\"\d+\")?\] hello "
                 + re.escape(tok)), 1, 13, "sshd")
        tok = f"3164-{name}"
        send(tok, [*net, *extra, "--rfc3164", "-t", "cron", "-p",
                   "cron.notice", f"bsd {tok}"], tr,
             re.compile(f"<77>{TS3164} " + host + r" cron: bsd "
                        + re.escape(tok)), 2, 77, "cron")
    tok = "local-unix"
    send(tok, ["-u", d.sock, "-t", "sudo", f"local {tok}"], TR_UNIX,
         re.compile(f"<13>{TS3164} sudo: local " + re.escape(tok)), 2, 13,
         "sudo")
    tok = "local-unix-pid"
    send(tok, ["-u", d.sock, "-i", "-t", "sudo", f"local {tok}"], TR_UNIX,
         re.compile(f"<13>{TS3164} sudo\\[\\d+\\]: local " + re.escape(tok)),
         2, 13, "sudo")

    # Whole files through one connection each: order within a stream.
    files = {}
    for name, tr, extra, n in (("file-octet", TR_TCP,
                                ["-T", "--octet-count"], 300),
                               ("file-lf", TR_TCP, ["-T"], 300),
                               ("file-udp", TR_UDP, ["-d"], 100),
                               ("file-unix", TR_UNIX, [], 100)):
        path = os.path.join(work, f"{name}.txt")
        lines = [f"{name} line {i:04d} of {n}" for i in range(n)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        target = ["-u", d.sock] if tr == TR_UNIX else [*net, *extra]
        r = h.run([LOGGER, *target, *det, "-t", "batch", "-f", path],
                  bound_s=20)
        if r.returncode != 0:
            h.fail(f"logger -f over {name} exited {r.returncode}")
        files[name] = (tr, [det_raw.format(pri=13, app="batch", text=t)
                            for t in lines])

    d.stop()
    summary, records = h.read_back(d.data)
    events = [r for r in records if r["kind"] == 0]
    raws = [bytes.fromhex(r["raw_hex"]) for r in events]

    for token, args, tr, expect, fmt, pri, app in sent:
        hits = [i for i, raw in enumerate(raws)
                if re.search(rb"(?<![\w-])" + re.escape(token.encode()) +
                             rb"(?![\w-])", raw)]
        h.check(len(hits) == 1,
                f"{token}: stored exactly once (found {len(hits)})")
        ev, raw = events[hits[0]], raws[hits[0]].decode(errors="replace")
        if isinstance(expect, str):
            h.check(raw == expect, f"{token}: raw bytes are exactly what "
                    f"logger sent ({raw!r} vs {expect!r})")
        else:
            h.check(expect.fullmatch(raw) is not None,
                    f"{token}: raw bytes have logger's shape ({raw!r})")
        h.check(ev["transport"] == tr and ev["flags"] == 0,
                f"{token}: transport {ev['transport']} (want {tr}), flags "
                f"{ev['flags']}")
        p = ev["parsed"]
        h.check(p is not None and p["format"] == fmt and
                p["facility"] == pri // 8 and p["severity"] == pri % 8,
                f"{token}: parsed as format {fmt}, <{pri}> ({p})")
        off, ln = p["app"]
        h.check(raws[hits[0]][off:off + ln] == app.encode(),
                f"{token}: app name {app!r} "
                f"({raws[hits[0]][off:off + ln]!r})")

    # Loopback UDP at this pace loses nothing, so the UDP file is held to
    # the same bar as the streams.
    for name, (tr, lines) in files.items():
        got = [raw.decode(errors="replace") for raw, ev in zip(raws, events)
               if raw.startswith(b"<13>1 - - batch ") and
               f" {name} line ".encode() in raw]
        h.check(got == lines, f"{name}: all {len(lines)} lines, exact, in "
                f"order, once (got {len(got)})")

    kinds = summary["kinds"]
    h.check(kinds["start"] == "1" and kinds["stop"] == "1",
            f"one start and one stop record ({kinds})")
    h.verify(d.data)


h.main(body)
