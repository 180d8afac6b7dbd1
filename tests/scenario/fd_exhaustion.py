"""A flood of connections cannot starve the store of file descriptors.

Outside systemd the open-file limit is often 1024, the default
max_connections.  Here custodyd starts with a soft limit of 128 under a
hard limit of 1024 (prlimit) and max_connections = 200, and is flooded
with 260 connections from ten addresses:
- it raised its soft limit (so the 200 fit, with descriptors to spare):
  200 are held open, the other 60 are refused, and counted;
- /metrics keeps answering throughout;
- a rotation by size (segment_max_bytes = 64K) and one by SIGHUP still
  create their segments, while every connection is held;
- after a clean stop custody-verify says the store is intact, and every
  message sent on the held connections is in it.
If descriptors still run out (here: the limit lowered under the running
daemon with prlimit --pid), the connections accept cannot take are
accepted with the spare descriptor, closed and counted
(reason="descriptors"), and the daemon carries on once they are back.
And started with a hard limit of 128 under the default max_connections
(1024), custodyd refuses to start, saying which numbers do not fit.
"""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

SOFT, HARD, MAXCONN, FLOOD = 128, 1024, 200, 260
CONFIG = f"""\
[input]
max_connections = {MAXCONN}

[store]
segment_max_bytes = 64K
"""


class LimitedDaemon(h.Daemon):
    """custodyd under a given RLIMIT_NOFILE (prlimit execs it: same pid)."""

    def __init__(self, work, nofile, **kw):
        super().__init__(work, **kw)
        self.nofile = nofile

    def argv(self):
        return ["prlimit", f"--nofile={self.nofile}", "--"] + super().argv()


def connect(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(10 * h.SLOW)
    s.connect(("127.0.0.1", port))
    return s


def alive(s):
    """False once the daemon closed s."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.settimeout(10 * h.SLOW)


def too_small(work):
    data = os.path.join(work, "data-small")
    os.makedirs(data, mode=0o700)
    r = h.run(["prlimit", f"--nofile={SOFT}:{SOFT}", "--",
               h.binary("CUSTODYD"), "--data-dir", data, "--listen",
               "tcp://127.0.0.1:0", "--metrics", "none"], bound_s=20)
    err = r.stderr.decode(errors="replace")
    h.check(r.returncode == 1 and "1024" in err and str(SOFT) in err and
            "max_connections" in err,
            f"under a hard limit of {SOFT}, the default max_connections is "
            f"refused with the numbers (exit {r.returncode}): "
            f"{err.strip()[-300:]}")


def backlog(port):
    """Connections waiting in the listening socket's queue (ss Recv-Q)."""
    r = subprocess.run(["ss", "-ltnH", f"( sport = :{port} )"],
                       capture_output=True, timeout=5)
    f = r.stdout.decode().split()
    return int(f[1]) if len(f) >= 2 and f[1].isdigit() else -1


def emfile(d):
    """Descriptors run out under the daemon: refusals are still counted."""
    fds = len(os.listdir(f"/proc/{d.pid}/fd"))
    h.run(["prlimit", f"--pid={d.pid}", f"--nofile={fds + 8}:{HARD}"],
          bound_s=10)
    before = d.metric("custody_connections")
    flood = [connect(f"127.0.0.{30 + i % 10}", d.port) for i in range(40)]
    # /metrics has no descriptor either until the flood lets go: the
    # listening socket's queue says when every connection was handled.
    h.wait_for(lambda: backlog(d.port) == 0, 10,
               "the daemon to accept or refuse every connection")
    kept = len([s for s in flood if alive(s)])
    for s in flood:
        s.close()
    h.run(["prlimit", f"--pid={d.pid}", f"--nofile={HARD}:{HARD}"],
          bound_s=10)
    h.wait_for(lambda: d.metric("custody_connections") == before, 10,
               "the flood's connections to be gone")
    nofd = d.metrics().get(
        'custody_connections_refused_total{reason="descriptors"}', 0)
    h.check(nofd == len(flood) - kept and nofd > 0,
            f"with {fds + 8} descriptors, {kept} connections were taken "
            f"and the other {nofd:.0f} refused and counted as "
            "reason=\"descriptors\"")


def body():
    work = h.workdir("fdflood")
    too_small(work)

    d = LimitedDaemon(work, f"{SOFT}:{HARD}", config=CONFIG, udp=False,
                      unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    h.wait_for(lambda: d.metric("custody_connections") == 0, 5,
               "the readiness probes to be gone")
    conns = [connect(f"127.0.0.{10 + i % 10}", d.port) for i in range(FLOOD)]
    h.wait_for(lambda: d.metric("custody_connections") == MAXCONN, 20,
               f"{MAXCONN} connections to be open")
    refused = h.wait_for(
        lambda: d.metric("custody_connections_refused_total") >=
        FLOOD - MAXCONN and d.metric("custody_connections_refused_total"),
        20, "the refusals to be counted")
    h.check(refused == FLOOD - MAXCONN,
            f"{MAXCONN} connections held, the other {refused:.0f} refused "
            "and counted, /metrics answering")
    held = h.wait_for(
        lambda: len([s for s in conns if alive(s)]) == MAXCONN and
        [s for s in conns if alive(s)], 10, "the refused ones to be closed")
    for s in conns:
        if s not in held:
            s.close()

    seg0 = d.metric("custody_segment_number")
    sent = []
    # Random text, so that zstd cannot squeeze it under a segment; in
    # rounds, since a segment is rotated before the block that follows it.
    for rnd in range(3):
        for i, s in enumerate(held):
            line = (f"<13>1 - host app - - - held {rnd}.{i:03d} " +
                    os.urandom(400).hex())
            s.sendall(line.encode() + b"\n")
            sent.append(line)
        h.wait_for(lambda: d.metric("custody_events_durable_total") >=
                   len(sent), 20, f"round {rnd} to be durable")
    seg1 = d.metric("custody_segment_number")
    h.check(seg1 > seg0, f"size rotations created segments {seg0:.0f} to "
            f"{seg1:.0f} with every connection held")

    d.proc.send_signal(signal.SIGHUP)
    h.wait_for(lambda: d.metric("custody_segment_number") > seg1, 20,
               "SIGHUP to start a new segment")
    h.check(d.proc.poll() is None and
            d.metric("custody_checkpoint_errors") == 0,
            "after SIGHUP the daemon runs on, and no checkpoint failed")
    h.check(d.metric("custody_connections") == MAXCONN,
            "the held connections are still open")
    for s in held:
        s.close()
    h.wait_for(lambda: d.metric("custody_connections") == 0, 10,
               "the held connections to be closed")
    emfile(d)
    s = connect("127.0.0.5", d.port)
    line = "<13>1 - host app - - - after the descriptors came back"
    s.sendall(line.encode() + b"\n")
    sent.append(line)
    s.close()
    h.wait_for(lambda: d.metric("custody_events_durable_total") >=
               len(sent), 20, "a message after the flood to be durable")
    d.stop()

    _, records = h.read_back(d.data)
    raws = [bytes.fromhex(r["raw_hex"]).decode(errors="replace")
            for r in records if r["kind"] == 0]
    missing = [s for s in sent if raws.count(s) != 1]
    h.check(not missing, f"all {len(sent)} messages are stored once "
            f"({len(missing)} not)")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=90)
