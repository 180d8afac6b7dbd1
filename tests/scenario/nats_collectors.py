"""The fleet read from NATS as the collectors themselves replicated it.

Two custodyd replicate to a one-node JetStream ([replicate], SPEC section
17).  After they stop, custody-query --nats over the stream shows exactly
what custody-query shows over their two stores on disk (merged, labelled),
and custody-verify --nats finds both chains intact.  Then a copy of one
data block with a byte flipped is published under the chain's blocks
subject with a new Nats-Msg-Id, as anyone with publish rights could:
custody-verify --nats fails that chain naming the block and both stream
sequences (R-REP-8), and custody-query --nats shows every record but that
block's.
"""
import json
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

CONFIG = """\
[store]
commit_interval = 10ms
[pipeline]
batch_delay = 5ms
[replicate]
servers = {url}
ack = local
"""
N = 300


run = h.run_ok


def body():
    work = h.workdir("natscoll")
    tmp = os.path.join(work, "tmp")
    os.mkdir(tmp)
    env = dict(os.environ, TMPDIR=tmp)
    cl = nc.Cluster(work, n=1).start()
    ds = []
    for i in range(2):
        w = os.path.join(work, f"c{i}")
        os.makedirs(w)
        ds.append(h.Daemon(w, config=CONFIG.format(url=cl.url), udp=False,
                           unix=False).start())
    q = h.binary("CUSTODY_QUERY")
    v = h.binary("CUSTODY_VERIFY")
    for k, d in enumerate(ds):
        with socket.create_connection(("127.0.0.1", d.port)) as s:
            for i in range(N):
                m = (f"<134>1 2024-06-01T12:00:00Z host{k} app - - - "
                     f"replicated {k}/{i}").encode()
                s.sendall(f"{len(m)} ".encode() + m)
    for d in ds:
        h.wait_for(lambda: int(run([q, "--count", d.data], rc_ok=(0, 1))
                               .stdout or b"0") >= N, 20,
                   "the messages to be sealed")
        h.wait_for(lambda: d.metrics().get(
            "custody_replicate_backlog_blocks", 1) == 0, 30,
            "every block to be published")
        d.stop()

    roots = os.path.join(work, "roots")
    os.mkdir(roots)
    chains = [h.chain_of(d.data) for d in ds]
    for d, ch in zip(ds, chains):
        shutil.copy(os.path.join(d.data, "keys", "root.pub"),
                    os.path.join(roots, ch + ".pub"))
    disk = run([q, "--root-dir", roots, "--json", ds[0].data,
                ds[1].data]).stdout
    h.check(disk.count(b"\n") == 2 * N, "both stores hold every message")
    r = run([q, "--nats", cl.url, "--root-dir", roots, "--json"], env=env)
    h.check(r.stdout == disk, "custody-query --nats over what the "
            "collectors replicated: the same records as their stores")
    r = run([v, "--nats", cl.url, "--root-dir", roots], env=env)
    h.check("fleet: 2 chain(s) intact, 0 failed" in r.stdout.decode(),
            "custody-verify --nats: both replicated chains intact")

    # A forged copy of a data block, published under a new message id.
    c = cl.client()
    try:
        msgs = nc.stream_messages(c, "CUSTODY",
                                  f"custody.{chains[0]}.blocks")
        objs = [json.loads(x) for x in disk.splitlines()]
        blocks = sorted({o["block"] for o in objs
                         if o["chain"] == chains[0]})
        target = blocks[0]
        seq, subj, hdrs, data = next(m for m in msgs
                                     if m[2].get("Custody-Block") ==
                                     str(target))
        forged = bytearray(data)
        forged[len(forged) // 2] ^= 0x01
        hh = {k: v for k, v in hdrs.items()
              if k.startswith("Custody-")}
        hh["Nats-Msg-Id"] = f"{chains[0]}/blk/{target}/again"
        a = c.publish(subj, hh, bytes(forged))
        h.check("error" not in a, f"the forged block is accepted by the "
                f"stream ({a})")
        fseq = a["seq"]
    finally:
        c.close()
    r = run([v, "--nats", cl.url, "--root-dir", roots], rc_ok=(1,),
            env=env)
    out = r.stdout.decode()
    h.check("fleet: 1 chain(s) intact, 1 failed" in out and
            f"chain {chains[0]}: FAILED" in out and
            f"block {target} is in the stream twice" in out and
            f"stream sequences {seq} and {fseq}" in out,
            f"custody-verify --nats names the forged block {target} and "
            f"both stream sequences {seq}, {fseq}")
    r = run([q, "--nats", cl.url, "--root-dir", roots, "--json"],
            rc_ok=(1,), env=env)
    want = [x for x in disk.splitlines()
            if not (json.loads(x)["chain"] == chains[0] and
                    json.loads(x)["block"] == target)]
    h.check(len(want) < 2 * N and r.stdout.splitlines() == want,
            "custody-query --nats shows every record but the forged "
            "block's")
    h.check(f"block {target}".encode() in r.stderr and
            b"neither is shown" in r.stderr,
            "custody-query --nats says why")
    h.check(os.listdir(tmp) == [], "no restored store is left behind")
    cl.stop_all()


if __name__ == "__main__":
    h.main(body, bound_s=180)
