"""The stream limits hold for RELP connections too.

custodyd runs with a relp:// listener, max_connections_per_peer = 2 and
idle_timeout = 2s:
- two RELP sessions from 127.0.0.2 are opened (open answered 200 OK with
  the offers); a third connection from that address is refused at once
  (custody_connections_refused_total{reason="per_peer"});
- one session sends half a syslog frame and stops: it is cut within a
  bound, not before idle_timeout, counted as idle-closed, and nothing of
  the half frame is recorded (a RELP sender resends what was not
  answered);
- the other stays quiet between frames for twice idle_timeout while slots
  are plentiful: it is not cut, and its syslog command then gets its
  200 OK; after a clean stop that message is in the store once, with
  transport relp, and custody-verify is content.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

IDLE_S = 2
CONFIG = f"""\
[input]
max_connections_per_peer = 2
idle_timeout = {IDLE_S}s
[store]
commit_interval = 20ms
"""
OFFERS = b"relp_version=0\nrelp_software=test\ncommands=syslog"
MSG = b"<13>1 - host app - - - relp limits ok"


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.2", 0))
    s.settimeout(10 * h.SLOW)
    s.connect(("127.0.0.1", port))
    return s


def frame(txnr, cmd, data=b""):
    if not data:
        return b"%d %s 0\n" % (txnr, cmd)
    return b"%d %s %d %s\n" % (txnr, cmd, len(data), data)


def read_rsp(s):
    """One rsp frame: (txnr, data)."""
    def byte():
        c = s.recv(1)
        if not c:
            h.fail("connection closed before an answer")
        return c
    head = b""
    while head.count(b" ") < 2:
        head += byte()
    txnr, cmd = head.split(b" ")[:2]
    h.check(cmd == b"rsp", f"an rsp frame ({head!r})")
    length = b""
    c = byte()
    while c.isdigit():
        length += c
        c = byte()
    data = b""
    if c == b" ":
        while len(data) < int(length):
            data += byte()
        c = byte()
    h.check(c == b"\n", "the frame ends in LF")
    return int(txnr), data


def closed_by_peer(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def open_session(port):
    s = connect(port)
    s.sendall(frame(1, b"open", OFFERS))
    txnr, data = read_rsp(s)
    h.check(txnr == 1 and data.startswith(b"200 OK\n") and
            b"commands=syslog" in data,
            f"open answered 200 OK with the offers ({data!r})")
    return s


def body():
    work = h.workdir("relplimits")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")

    quiet = open_session(d.port)
    trickle = open_session(d.port)
    third = connect(d.port)
    h.check(closed_by_peer(third), "a third connection from 127.0.0.2 is "
            "closed at once")
    h.wait_for(lambda: d.metrics().get(
        'custody_connections_refused_total{reason="per_peer"}', 0) == 1,
        10, "the per-peer refusal to be counted")

    t0 = time.monotonic()
    trickle.sendall(b"2 syslog 100 half a frame")
    h.check(closed_by_peer(trickle), "the session stuck mid-frame is cut")
    waited = time.monotonic() - t0
    h.check(waited >= IDLE_S * 0.9, f"not before idle_timeout ({waited:.2f}"
            " s)")
    h.check(d.metric("custody_connections_idle_closed_total") == 1,
            "counted as idle-closed")

    # The quiet session outlives two idle timeouts: slots are plentiful.
    # The bound is the point of the test: a sweep would have cut it.
    time.sleep(2 * IDLE_S)
    quiet.sendall(frame(2, b"syslog", MSG))
    txnr, data = read_rsp(quiet)
    h.check(txnr == 2 and data == b"200 OK", "the quiet session's message "
            f"is acknowledged ({txnr} {data!r})")
    quiet.sendall(frame(3, b"close"))
    txnr, data = read_rsp(quiet)
    h.check(txnr == 3 and data == b"", "close is answered")
    h.check(closed_by_peer(quiet), "and the session ends")
    d.stop()

    rc, summary, records = h.check_store(d.data, dump=True)
    h.check(rc == 0, f"check_store: {summary['text']}")
    raws = [bytes.fromhex(r["raw_hex"]) for r in records if r["kind"] == 0]
    h.check(raws == [MSG], f"only the acknowledged message is stored "
            f"({raws!r})")
    h.check(all(r["transport"] == 4 for r in records if r["kind"] == 0),
            "transport relp")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=60)
