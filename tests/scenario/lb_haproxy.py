"""haproxy in front of two collectors (README, "Several collectors").

haproxy (mode tcp, balance leastconn, health checks) on a loopback port
spreads RELP senders over two custodyd.  custody-loadgen's connections
through it are acknowledged by one collector or the other: every
acknowledged message (its manifest) must be in exactly one of the two
stores, and custody-query over both stores (--root-dir) shows the union
in receive-time order, each record labelled with its collector's chain.

Then rsyslog (omrelp, retrying for ever) sends numbered messages through
haproxy and the collector it landed on is killed with SIGKILL mid-run:
haproxy's health check takes it out, rsyslog reconnects through haproxy
to the other one and resends what was not acknowledged.  Every message
ends up in the union; a message may be there twice only when one copy is
in the killed collector's store (recorded but not acknowledged before the
kill, SPEC section 12), and both chains verify.
"""
import json
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import relp_peer as rp  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
CONFIG = """\
[store]
commit_interval = 10ms
[pipeline]
batch_delay = 5ms
"""
N_LOAD = 20000
N_FAIL = 20000


def haproxy_cfg(path, port, backends, sock):
    servers = "".join(
        f"    server c{i} 127.0.0.1:{p} check inter 200ms fall 1 rise 1\n"
        for i, p in enumerate(backends))
    with open(path, "w") as f:
        f.write(f"""\
global
    maxconn 256
    stats socket {sock} mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
frontend relp
    bind 127.0.0.1:{port}
    default_backend collectors
backend collectors
    balance leastconn
{servers}""")


def servers_up(sock):
    """{server name: up?} from haproxy's stats socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(sock)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return {}
    finally:
        s.close()
    out = {}
    for line in data.decode(errors="replace").splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == "collectors" and f[1].startswith("c"):
            out[f[1]] = f[17].startswith("UP")
    return out


def tags(store):
    """(conn, seq) of every loadgen message, and every n= number."""
    rc, summary, records = h.check_store(store, dump=True)
    h.check(rc == 0, f"check_store {store}: {summary['text'][-500:]}")
    cs, ns = [], []
    for r in records:
        if r["kind"] != rp.KIND_EVENT:
            continue
        raw = bytes.fromhex(r["raw_hex"])
        m = re.search(rb"conn=(\d+) seq=(\d+)", raw)
        if m:
            cs.append((int(m.group(1)), int(m.group(2))))
        m = re.search(rb" n=(\d+)$", raw)
        if m:
            ns.append(int(m.group(1)))
    return cs, ns


def live_nums(d):
    """Every n= number in the store of a running collector."""
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "-n", "all", "-o", "raw"],
              bound_s=60)
    if r.returncode != 0:
        return set()
    return {int(m.group(1)) for m in re.finditer(rb" n=(\d+)$", r.stdout,
                                                 re.M)}


def acked(d):
    try:
        return d.metric("custody_relp_acked_total")
    except h.TestFailure:
        return 0


def body():
    if not os.access(HAPROXY, os.X_OK):
        h.fail("haproxy is not installed (package haproxy)")
    work = h.workdir("lbhaproxy")
    ds = []
    for i in range(2):
        w = os.path.join(work, f"c{i}")
        os.makedirs(w)
        d = h.Daemon(w, config=CONFIG, tcp=False, udp=False, unix=False)
        d.listeners.append(f"relp://127.0.0.1:{d.port}")
        d.start()
        h.wait_for(lambda: h.port_accepts(d.port), 10, "a RELP listener")
        ds.append(d)
    port = h.free_port()
    cfg = os.path.join(work, "haproxy.cfg")
    sock = os.path.join(work, "haproxy.sock")
    haproxy_cfg(cfg, port, [d.port for d in ds], sock)
    hp = h.spawn([HAPROXY, "-f", cfg, "-db"], os.path.join(work,
                                                           "haproxy.log"))
    try:
        h.wait_for(lambda: h.port_accepts(port) and
                   list(servers_up(sock).values()) == [True, True], 20,
                   "haproxy to listen with both collectors up")
        url = f"relp://127.0.0.1:{port}"

        # Load spread over both: what was acknowledged is in one store.
        man = os.path.join(work, "load.manifest")
        out = h.loadgen(url, N_LOAD, conns=4, manifest=man, bound_s=60)
        h.check(out.get("acked") == str(N_LOAD),
                f"all {N_LOAD} acknowledged through haproxy: {out}")
        per = [acked(d) for d in ds]
        h.check(all(a > 0 for a in per), f"leastconn spread the senders "
                f"over both collectors (acknowledged {per})")
        sent = {}
        with open(man) as f:
            for line in f:
                p = line.split()
                if p and p[0] == "conn":
                    c, first, n = int(p[1]), int(p[2]), int(p[3])
                    for s in range(first, first + n):
                        sent[(c, s)] = 0

        # Failover: rsyslog through haproxy, its collector killed.
        rs = rp.Rsyslog(work, port).start()
        lines = rp.numbered(N_FAIL, "lb-failover")
        base = [acked(d) for d in ds]
        rs.send(lines)
        h.wait_for(lambda: any(acked(d) - b >= 2000 for d, b in
                               zip(ds, base)), 60,
                   "rsyslog's messages to be acknowledged")
        victim = 0 if acked(ds[0]) - base[0] >= 2000 else 1
        ds[victim].kill()
        print(f"killed collector {victim} after 2000+ of rsyslog's "
              "messages were acknowledged", flush=True)
        other = ds[1 - victim]
        h.wait_for(lambda: servers_up(sock).get(f"c{victim}") is False,
                   10, "haproxy's health check to take it out")

        h.wait_for(lambda: acked(other) - base[1 - victim] > 0, 60,
                   "rsyslog to reach the other collector through haproxy")
        # Until every number is stored somewhere, with clean stops.
        ds[victim].start()  # recovers its torn tail, records it
        ds[victim].stop()
        nums_killed = tags(ds[victim].data)[1]
        killed = set(nums_killed)
        # Every number stored is seen in the running collector's store
        # (read live), not guessed from acknowledgements pausing a while,
        # which a loaded machine can do with messages still to come.
        h.wait_for(lambda: len(killed | live_nums(other)) == N_FAIL, 60,
                   f"all {N_FAIL} messages to be stored in one collector "
                   "or the other", step_s=0.5)
        last, since = -1, time.monotonic()

        def quiet():
            nonlocal last, since
            a = acked(other)
            if a != last:
                last, since = a, time.monotonic()
                return False
            return time.monotonic() - since >= 1.5
        h.wait_for(quiet, 60, "acknowledgements to settle", step_s=0.1)
        other.stop()
        nums = tags(other.data)[1]
        rs.stop()
        union = nums + nums_killed
        missing = sorted(set(range(N_FAIL)) - set(union))
        h.check(not missing, f"after the kill, every message is stored: "
                f"{len(missing)} missing, first {missing[:10]}")
        seen = {}
        for n in union:
            seen[n] = seen.get(n, 0) + 1
        twice = [n for n, k in seen.items() if k > 1]
        inner = len(nums) - len(set(nums))
        h.check(inner == 0, "no repeat within the surviving collector's "
                f"store ({inner})")
        h.check(all(n in nums_killed for n in twice),
                "a message is in both stores only when the killed "
                "collector holds a copy (recorded, not acknowledged, "
                "resent: SPEC section 12)")
        print(f"failover: {N_FAIL} messages, {len(nums_killed)} in the "
              f"killed collector, {len(nums)} in the other, "
              f"{len(twice)} in both", flush=True)
    finally:
        hp.terminate()
        hp.wait(timeout=10)

    # The first run's acknowledged messages: each in exactly one store.
    cs0, _ = tags(ds[0].data)
    cs1, _ = tags(ds[1].data)
    for c in cs0 + cs1:
        if c in sent:
            sent[c] += 1
    bad = [k for k, v in sent.items() if v != 1]
    h.check(not bad, f"every acknowledged loadgen message is in exactly "
            f"one store ({len(bad)} are not, e.g. {bad[:5]})")

    # The fleet query: the union, in time order, labelled by chain.
    roots = os.path.join(work, "roots")
    os.mkdir(roots)
    chains = []
    for d in ds:
        ch = h.chain_of(d.data)
        chains.append(ch)
        shutil.copy(os.path.join(d.data, "keys", "root.pub"),
                    os.path.join(roots, ch + ".pub"))
    r = h.run([h.binary("CUSTODY_QUERY"), "--root-dir", roots, "--json",
               ds[0].data, ds[1].data], bound_s=60)
    h.check(r.returncode == 0, f"custody-query over both stores: exit "
            f"{r.returncode} {r.stderr[-500:]!r}")
    objs = [json.loads(x) for x in r.stdout.splitlines()]
    keys = [(o["recv_ns"], bytes.fromhex(o["chain"]), o["seq"])
            for o in objs]
    h.check(keys == sorted(keys), "the union in receive-time order")
    got = {}
    for o in objs:
        m = re.search(r"conn=(\d+) seq=(\d+)", o.get("raw", ""))
        if m:
            got[(int(m.group(1)), int(m.group(2)))] = o["chain"]
    h.check(all(got.get(k) in chains for k in sent) and
            {k for k in sent if got[k] == chains[0]} ==
            {c for c in cs0 if c in sent},
            "every acknowledged message shown once, labelled with the "
            "chain of the collector that holds it")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root-dir", roots, ds[0].data,
               ds[1].data], bound_s=60)
    h.check(r.returncode == 0 and b"fleet: 2 chain(s) intact" in r.stdout,
            f"both chains verify (exit {r.returncode})")


if __name__ == "__main__":
    h.main(body, bound_s=240)
