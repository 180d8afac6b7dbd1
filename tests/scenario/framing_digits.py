"""An LF-framed TCP sender whose lines start with digits keeps every line.

Forwarded access logs start with the client's address
(`192.0.2.7 - - "GET /x HTTP/1.1" 200 512`); a deframer that takes any
leading digit for an RFC 6587 octet count calls the `.` a framing error,
closes the connection and throws away what TCP had already acknowledged.
Here 20,000 such lines (and some starting with a timestamp, more than 9
digits before the SP) go over one connection; after a clean stop every
line must be in the store exactly once, byte for byte, with no flag, no
framing error counted, and custody-verify must say the chain is intact.

Then a connection whose framing really is bad (an octet count past the
64 MiB limit) is closed, but only after every byte the kernel had
accepted is kept: the bytes after the bad count (sent in the same write)
are in the store, flagged as a framing error, and whatever could not be
read would be counted in custody_discarded_bytes_total and a loss record.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

N = 20000
TR_TCP = 2


def line(i):
    if i % 10 == 9:
        return f"1733520{i:06d} epoch-stamped line {i:05d}"
    return (f"192.0.2.{i % 250} - - [06/Dec/2026:22:00:00 +0000] "
            f"\"GET /x/{i:05d} HTTP/1.1\" 200 512")


def body():
    work = h.workdir("framing-digits")
    d = h.Daemon(work, udp=False, unix=False).start()
    url = d.listeners[0]
    lines = [line(i) for i in range(N)]
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as c:
        c.sendall(("\n".join(lines) + "\n").encode())
        c.shutdown(socket.SHUT_WR)
        # The daemon closes only once it has read everything (EOF).
        c.settimeout(30 * h.SLOW)
        h.check(c.recv(1) == b"", "custodyd ends the connection at EOF")
    h.wait_for(lambda: d.received(url) >= N, 30,
               f"{N} messages counted received")
    h.check(d.metric("custody_framing_errors_total") == 0,
            "no framing error is counted")

    # 99999999 > 64 MiB: the one framing error left.  What follows it in
    # the same write reaches the kernel before custodyd reads the count.
    tail = b"".join(b"after the bad count, line %05d\n" % i
                    for i in range(2000))
    bad = b"99999999 " + tail
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as c:
        c.sendall(bad)
        c.settimeout(30 * h.SLOW)
        try:
            closed = c.recv(1) == b""
        except ConnectionResetError:
            closed = True
        h.check(closed, "custodyd closes the connection with bad framing")
    h.wait_for(lambda: d.metric("custody_framing_errors_total") == 1, 10,
               "the framing error to be counted once")
    discarded = d.metric("custody_discarded_bytes_total")
    d.stop()

    _, records = h.read_back(d.data)
    flagged = [r for r in records if r["kind"] == 0 and r["flags"] & 8]
    kept = b"".join(bytes.fromhex(r["raw_hex"]) for r in flagged)
    h.check(kept + b"" == bad[:len(kept)] and
            len(kept) + discarded == len(bad),
            f"the {len(bad)} bytes of the bad stream are kept, flagged "
            f"({len(kept)}), or counted as discarded ({discarded:.0f})")
    losses = [r for r in records if r["kind"] == 5]
    h.check(discarded == 0 or any(
        (r.get("detail") or {}).get("discarded_bytes") for r in losses),
        "discarded bytes are sealed in a loss record")
    events = [r for r in records if r["kind"] == 0 and not r["flags"] & 8]
    h.check(len(events) == N, f"{N} events stored (found {len(events)})")
    want = {s.encode(): i for i, s in enumerate(lines)}
    seen = [0] * N
    for ev in events:
        raw = bytes.fromhex(ev["raw_hex"])
        h.check(raw in want, f"stored line is one that was sent: {raw!r}")
        h.check(ev["flags"] & ~1 == 0 and ev["transport"] == TR_TCP,
                f"line {want[raw]} stored over tcp without framing flags "
                f"(flags {ev['flags']})")
        seen[want[raw]] += 1
    missing = [i for i, n in enumerate(seen) if n != 1]
    h.check(not missing, f"every line stored exactly once ({len(missing)} "
            f"not, first {missing[:5]})")
    h.verify(d.data)


h.main(body, bound_s=120)
