"""Idle and trickling connections cannot lock senders out, and one
address cannot take every slot.

custodyd runs with max_connections = 6, max_connections_per_peer = 4 and
idle_timeout = 2s, TCP only:
- 127.0.0.2 opens 4 idle connections; its 5th is refused (per_peer) while
  127.0.0.3 is still accepted: one idle and one trickling a byte a second,
  never completing a message.  Every slot is now held;
- a normal sender from 127.0.0.4 is refused (max_connections): the
  lock-out the idle timeout is there to end;
- within a bound, the trickler is cut whatever the load, and the oldest
  quiet holders only until no more than three quarters of the slots are
  taken; none before idle_timeout, each counted
  (custody_connections_idle_closed_total);
- the normal sender then gets in and sends a message every 0.25 s for
  three times idle_timeout: it is never cut, nor are the quiet holders
  left (slots are no longer short), and after a clean stop every message
  it sent is in the store, once, and custody-verify is content.
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

# Every slot must still be held when the normal sender tries, so the
# steps from the first holder's connection to that try must take less
# than idle_timeout: a few metrics reads, slow under the sanitizers.
IDLE_S = 2 * int(h.SLOW)
CONFIG = f"""\
[input]
max_connections = 6
max_connections_per_peer = 4
idle_timeout = {IDLE_S}s
"""
GAP_S = 0.25
NORMAL = int(3 * IDLE_S / GAP_S)


def connect(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(10 * h.SLOW)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s):
    """True once the daemon closed s (EOF or reset), waiting at most its
    timeout."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def refused(d, reason):
    return d.metrics().get(
        f'custody_connections_refused_total{{reason="{reason}"}}', 0)


def body():
    work = h.workdir("idle")
    d = h.Daemon(work, config=CONFIG, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    h.wait_for(lambda: d.metric("custody_connections") == 0, 5,
               "the readiness probes to be gone")

    t_held = time.monotonic()
    held = [connect("127.0.0.2", d.port) for _ in range(4)]
    h.wait_for(lambda: d.metric("custody_connections") == 4, 5,
               "4 connections from 127.0.0.2")
    extra = connect("127.0.0.2", d.port)
    h.check(closed_by_peer(extra),
            "127.0.0.2's 5th connection is closed at once")
    h.wait_for(lambda: refused(d, "per_peer") >= 1, 5,
               "the per-peer refusal to be counted")
    h.check(refused(d, "per_peer") == 1 and
            refused(d, "max_connections") == 0,
            "it is counted once, as refused per_peer")
    extra.close()

    t0 = time.monotonic()
    held.append(connect("127.0.0.3", d.port))
    trickle = connect("127.0.0.3", d.port)
    h.wait_for(lambda: d.metric("custody_connections") == 6, 5,
               "127.0.0.3 to be accepted beside the capped 127.0.0.2")
    h.check(refused(d, "per_peer") == 1,
            "another address is accepted while 127.0.0.2 is capped")

    stop = threading.Event()
    trickle_end = {}

    def trickler():
        # A message that never ends, a byte a second.
        msg = b"<13>" + b"x" * 1000
        for i in range(len(msg)):
            if stop.wait(1.0):
                return
            try:
                trickle.sendall(msg[i:i + 1])
            except OSError:
                trickle_end["t"] = time.monotonic()
                return

    th = threading.Thread(target=trickler, daemon=True)
    th.start()

    locked = connect("127.0.0.4", d.port)
    h.check(closed_by_peer(locked),
            "with every slot held, a normal sender is refused ("
            f"{time.monotonic() - t_held:.2f} s after the first holder "
            f"connected, idle_timeout {IDLE_S} s)")
    h.wait_for(lambda: refused(d, "max_connections") >= 1, 5,
               "the refusal to be counted")
    locked.close()

    # 6 open, 5 (three quarters, rounded up) is "short": the two oldest
    # quiet holders go, then the trickler; three quiet ones stay.
    h.wait_for(lambda: d.metric("custody_connections") == 3,
               IDLE_S + 8, "the trickler and the oldest quiet holders "
               "to be cut")
    cut_s = time.monotonic() - t0
    idle = d.metric("custody_connections_idle_closed_total")
    h.check(idle == 3, f"3 holders were cut for idleness ({idle:.0f}), "
            f"{cut_s:.1f} s after the last two were opened")
    h.check(cut_s >= IDLE_S * 0.9,
            f"none before idle_timeout ({IDLE_S} s)")
    h.wait_for(lambda: "t" in trickle_end or closed_by_peer(trickle), 10,
               "the trickler to see its connection closed")
    h.check(closed_by_peer(held[0]) and closed_by_peer(held[1]),
            "the two oldest quiet holders see their connections closed")
    for s in held[2:]:
        s.settimeout(0.2)
    h.check(not any(closed_by_peer(s) for s in held[2:]),
            "the quiet holders left are not cut while slots are not short")
    stop.set()
    th.join(timeout=5)
    trickle.close()

    sender = connect("127.0.0.4", d.port)
    sent = []
    for i in range(NORMAL):
        line = f"<13>1 - host app - - - normal sender message {i:03d}"
        sender.sendall(line.encode() + b"\n")
        sent.append(line)
        time.sleep(GAP_S)
    h.check(d.metric("custody_connections") == 4 and
            d.metric("custody_connections_idle_closed_total") == 3,
            f"a sender with a message every {GAP_S} s stays connected for "
            f"{NORMAL * GAP_S:.0f} s ({NORMAL * GAP_S / IDLE_S:.0f} times "
            "idle_timeout), and so do the quiet holders")
    sender.close()
    for s in held:
        s.close()
    h.wait_for(lambda: d.received(tcp) >= NORMAL + 1, 10,
               "the daemon to read what was sent")
    d.stop()

    _, records = h.read_back(d.data)
    raws = [bytes.fromhex(r["raw_hex"]).decode(errors="replace")
            for r in records if r["kind"] == 0]
    missing = [s for s in sent if raws.count(s) != 1]
    h.check(not missing, f"all {NORMAL} messages of the normal sender are "
            f"stored once ({len(missing)} not)")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=60)
