"""rsyslog's omrelp sending numbered messages to a relp:// listener.

After rsyslog has every message acknowledged and both have stopped cleanly:
every message is in the store exactly once, its raw bytes as rsyslog took
them in, transport relp (4), unflagged (R-RELP-2); and custody-verify says
the chain is intact.  Before that, two senders that do not speak RELP (a
plain syslog line, an HTTP request) are cut at once, counted in
custody_relp_refused_total, logged once per peer per interval, and nothing
of theirs is recorded (R-RELP-3).
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import relp_peer as rp  # noqa: E402

N = 3000
CONFIG = """\
[store]
commit_interval = 20ms
"""


def refused_at_once(port, data):
    """Sends data; the listener must close the connection (EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.settimeout(10 * h.SLOW)
        try:
            got = s.recv(4096)
        except ConnectionResetError:
            got = b""
        h.check(got == b"", f"a sender of {data[:20]!r} is cut, unanswered "
                f"(got {got[:60]!r})")


def body():
    work = h.workdir("relp")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")

    refused_at_once(d.port, b"<13>Jan  2 03:04:05 host app: not relp\n")
    refused_at_once(d.port, b"GET / HTTP/1.0\r\n\r\n")
    h.check(d.metric("custody_relp_refused_total") == 2,
            "both refusals counted in custody_relp_refused_total")

    rs = rp.Rsyslog(work, d.port).start()
    lines = rp.numbered(N, "relp-scenario")
    rs.send(lines)
    h.wait_for(lambda: d.metric("custody_relp_acked_total") >= N, 60,
               f"{N} RELP acknowledgements")
    h.check(d.metric("custody_relp_acked_total") == N,
            "each message acknowledged once")
    rs.stop()
    d.stop()

    log = open(d.log, errors="replace").read()
    h.check(log.count("not RELP") == 1,
            "a peer's refusals are logged once per interval "
            f"({log.count('not RELP')} lines)")
    rc, summary, records = h.check_store(d.data, dump=True)
    h.check(rc == 0, f"check_store: {summary['text']}")
    events = rp.relp_events(records)
    raws = [bytes.fromhex(r["raw_hex"]) for r in events]
    h.check(not any(b"not relp" in x or b"HTTP" in x for x in raws),
            "nothing of a sender that is not RELP is recorded")
    h.check(len(raws) == N and sorted(raws) == sorted(lines),
            f"every message stored exactly once, bytes intact ({len(raws)} "
            f"events for {N} sent)")
    h.check(raws == lines, "one RELP session keeps rsyslog's order")
    h.check(all(r["transport"] == rp.TR_RELP and r["flags"] == 0 and
                r["listener"] == url for r in events),
            "transport relp, no flag, the listener's URL")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=120)
