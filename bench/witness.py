#!/usr/bin/python3
"""bench/witness.py: witnessing's cost, on loopback (SPEC section 14).

1. Witness throughput: one custodyd witness of LOGS logs; LOGS client
   threads (one per log, each its own origin) submit growing checkpoints
   with consistency proofs (tests/scenario/lib/tlog.py), one HTTPS
   request per connection as R-WIT-1 says, for SECONDS; prints
   cosignatures per second (each one a durable state write, R-WIT-3).
2. Ingest with witnessing off, then on, then off and on again (two
   peers that witness the collector, checkpoints every 200ms): COUNT
   messages of 200 bytes from custody-loadgen as fast as custodyd takes
   them; prints events/s until all are durable and the collector's own
   CPU seconds per million events, then waits (bounded) for the peers'
   cosignatures, so that the "on" run is known to have been witnessed.
   The two peer collectors run in the "off" runs too, idle, so that both
   runs share the machine with the same processes; in the "on" runs they
   also spend CPU answering, which on separate machines they would not.

   /usr/bin/python3 bench/witness.py [-s SECONDS] [-l LOGS] [-n COUNT]

Environment: CUSTODY_BUILD_DIR (default ./build).  Prints a Markdown
table.  Figures compare only within one run (README.md).
"""
import argparse
import functools
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "scenario", "lib"))
BUILD = os.path.abspath(os.environ.get("CUSTODY_BUILD_DIR",
                                       os.path.join(SRC, "build")))
os.environ.setdefault("CUSTODYD", os.path.join(BUILD, "custodyd"))
os.environ.setdefault("CUSTODY_VERIFY", os.path.join(BUILD, "custody-verify"))
os.environ.setdefault("CUSTODY_BUILD_DIR", BUILD)
os.environ.setdefault("CUSTODY_SOURCE_DIR", SRC)

import base64  # noqa: E402
import harness as h  # noqa: E402
import tlscerts  # noqa: E402
import tlog  # noqa: E402


class FastLog(tlog.Log):
    """A log whose subtree hashes are memoised: proofs in O(log n)."""

    def __init__(self, origin, seed):
        super().__init__(origin, seed)
        self.node = functools.lru_cache(maxsize=None)(self._node)

    def _node(self, lo, hi):
        if hi - lo == 1:
            return self.leaves[lo]
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        return tlog.H(b"\x01" + self.node(lo, lo + k) + self.node(lo + k, hi))

    def proof(self, m, lo, hi, start=True):
        if m == hi - lo:
            return [] if start else [self.node(lo, hi)]
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        if m <= k:
            return self.proof(m, lo, lo + k, start) + [self.node(lo + k, hi)]
        return self.proof(m - k, lo + k, hi, False) + [self.node(lo, lo + k)]

    def fast_request(self, old, size):
        root = self.node(0, size)
        text = "%s\n%d\n%s\n" % (self.origin, size,
                                 base64.b64encode(root).decode())
        sig = self.sk.sign(text.encode()).signature
        kid = tlog.key_id(self.origin, 1, self.pk)
        note = text.encode() + b"\n" + ("%s %s %s\n" % (
            tlog.EM_DASH, self.origin,
            base64.b64encode(kid + sig).decode())).encode()
        body = b"old %d\n" % old
        if 0 < old < size:
            for p in self.proof(old, 0, size):
                body += base64.b64encode(p) + b"\n"
        return body + b"\n" + note


def witness_rate(work, certs, seconds, nlogs):
    wkey = os.path.join(work, "w.key")
    r = h.run([h.binary("CUSTODYD"), "keygen", "--witness-key", wkey,
               "--name", "bench/w"])
    if r.returncode != 0:
        h.fail("keygen --witness-key failed")
    logs = [FastLog("custody/%032x" % (i + 1), bytes([i + 1]) * 32)
            for i in range(nlogs)]
    port = h.free_port()
    conf = (f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"[witness]\nlisten = https://127.0.0.1:{port}\nkey = {wkey}\n")
    conf += "".join(f"log = {lg.vkey()}\n" for lg in logs)
    os.makedirs(os.path.join(work, "w"))
    d = h.Daemon(os.path.join(work, "w"), config=conf, udp=False,
                 unix=False).start()
    h.wait_for(lambda: h.port_accepts(port), 10, "the witness port")
    done = [0] * nlogs
    bad = [0] * nlogs
    stop = time.monotonic() + seconds

    def client(i):
        lg = logs[i]
        old = 0
        while time.monotonic() < stop:
            lg.grow(1, tag=b"%d" % i)
            size = len(lg.leaves)
            st, _, _ = tlog.post(port, certs.ca, lg.fast_request(old, size))
            if st == 200:
                done[i] += 1
                old = size
            else:
                bad[i] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(nlogs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    d.stop()
    return sum(done) / el, sum(bad)


def cpu_s(pid):
    """utime + stime of pid, in seconds (proc(5))."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(work, certs, count, witnessed, rnd):
    tag = ("on" if witnessed else "off") + str(rnd)
    names = ("a", "b", "c")
    ds, wport, wvk, logvk, wkey = {}, {}, {}, {}, {}
    for x in names:
        dd = os.path.join(work, f"{tag}-{x}")
        os.makedirs(dd)
        ds[x] = h.Daemon(dd, udp=False, unix=False)
        if witnessed:
            ds[x].start()
            ds[x].stop()
            r = h.run([h.binary("CUSTODYD"), "vkey", ds[x].data])
            logvk[x] = r.stdout.decode().strip().split()[-1]
            wkey[x] = os.path.join(dd, "w.key")
            r = h.run([h.binary("CUSTODYD"), "keygen", "--witness-key",
                       wkey[x], "--name", f"bench/{x}"])
            wvk[x] = r.stdout.decode().strip()
            wport[x] = h.free_port()
    conf = "[store]\ncheckpoint_interval = 200ms\n"
    if witnessed:
        for x in names:
            c = conf + (f"[tls]\ncert = {certs.server_cert}\n"
                        f"key = {certs.server_key}\n[witness]\n"
                        f"key = {wkey[x]}\nca = {certs.ca}\n")
            if x == "a":
                c += "".join(f"peer = https://127.0.0.1:{wport[y]} "
                             f"{wvk[y]}\n" for y in ("b", "c"))
            else:
                c += (f"listen = https://127.0.0.1:{wport[x]}\n"
                      f"log = {logvk['a']}\n")
            path = os.path.join(ds[x].work, "custodyd.conf")
            with open(path, "w") as f:
                f.write(c)
            ds[x].config = path
    else:
        for x in names:
            path = os.path.join(ds[x].work, "custodyd.conf")
            with open(path, "w") as f:
                f.write(conf)
            ds[x].config = path
    for x in names:
        ds[x].start()
    a = ds["a"]
    c0 = cpu_s(a.proc.pid)
    t0 = time.monotonic()
    h.loadgen(f"tcp://127.0.0.1:{a.port}", count, conns=4, bound_s=120)
    h.wait_for(lambda: a.metrics().get("custody_events_durable_total", 0)
               >= count, 120, "every event durable")
    el = time.monotonic() - t0
    cpu = (cpu_s(a.proc.pid) - c0) / (count / 1e6)

    def cosigned():
        m = a.metrics()
        return [m.get(f'custody_witness_cosigned_size{{witness="bench/{y}"}}',
                      0) for y in ("b", "c")]
    cos, subs = [], 0
    if witnessed:
        h.wait_for(lambda: min(cosigned()) > 0, 30,
                   "the peers' cosignatures")
        cos = cosigned()
        subs = a.metrics().get("custody_witness_submissions_total", 0)
    for x in names:
        ds[x].stop()
    return count / el, cpu, subs, cos


def body():
    ap = argparse.ArgumentParser()
    ap.add_argument("-s", type=float, default=5.0)
    ap.add_argument("-l", type=int, default=4)
    ap.add_argument("-n", type=int, default=3000000)
    a = ap.parse_args()
    work = h.workdir("benchwit")
    certs = tlscerts.Certs(work)
    rate, bad = witness_rate(work, certs, a.s, a.l)
    runs = []
    for rnd in (1, 2):
        runs.append((rnd, ingest(work, certs, a.n, False, rnd),
                     ingest(work, certs, a.n, True, rnd)))
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| witness: cosignatures/s ({a.l} logs, one HTTPS request per "
          f"connection, {a.s:.0f} s) | {rate:.0f} (refused: {bad}) |")
    for rnd, (off, coff, _, _), (on, con, subs, cos) in runs:
        print(f"| round {rnd}: ingest, witnessing off: events/s "
              f"({a.n} x 200 B, 4 conns); collector CPU s per M events "
              f"| {off:.0f}; {coff:.2f} |")
        print(f"| round {rnd}: ingest, witnessing on (2 peers): events/s; "
              f"collector CPU s per M events | {on:.0f} ({on / off * 100:.0f}"
              f"% of off); {con:.2f} ({con / coff * 100:.0f}% of off) |")
        print(f"| round {rnd}: submissions; sizes cosigned by b, c | "
              f"{subs:.0f}; {cos[0]:.0f}, {cos[1]:.0f} |")

if __name__ == "__main__":
    h.main(body, bound_s=600)
