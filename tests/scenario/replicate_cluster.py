"""Replication to a 3-node NATS JetStream cluster survives the loss of a
NATS node and a SIGKILL of a collector; the stream restores each chain
exactly (SPEC section 17).

Two custodyd, each with a RELP listener and replicate.ack = replicated
(R-REP-5), take load from custody-loadgen (its manifest lists what was
acknowledged: SENT).  During the load one NATS server is SIGKILLed and
restarted, and one custodyd is SIGKILLed and restarted (its senders see
the connection drop; a second round of load follows the restart).  At the
end, after clean stops:
  - the stream holds exactly one message per block of each chain, block
    numbers contiguous from 0 up to the store's last block (R-REP-3,
    R-REP-6: no gap, no repeat after the resume);
  - custody-restore of each chain gives segment files byte for byte
    equal to the collector's, custody-verify passes on it with the
    collector's root key, check_store finds every acknowledged message in
    it (R-REP-8);
  - custody-query --all --json answers the same over the restored store
    as over the original.
"""
import filecmp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

NL = b"\n"
CONFIG = """\
[store]
commit_interval = 10ms
[pipeline]
batch_delay = 5ms
[replicate]
servers = {url}
ack = replicated
"""


def relp_daemon(work, tag, url):
    w = os.path.join(work, tag)
    os.makedirs(w)
    d = h.Daemon(w, config=CONFIG.format(url=url), udp=False, unix=False)
    d.relp_port = h.free_port()
    d.listeners.append(f"relp://127.0.0.1:{d.relp_port}")
    return d


def load(d, tag, seconds, rate):
    m = os.path.join(d.work, f"{tag}.manifest")
    p = h.loadgen(f"relp://127.0.0.1:{d.relp_port}", None, conns=4,
                  rate=rate, duration=seconds, gen=tag, manifest=m,
                  bound_s=60, background=True,
                  log=os.path.join(d.work, f"{tag}.loadgen.log"))
    return p, m


def backlog_empty(d):
    m = d.metrics()
    return (m.get("custody_replicate_connected") == 1 and
            m.get("custody_replicate_backlog_blocks") == 0)


def local_blocks(data):
    """Blocks of the store: check_store's count."""
    rc, summary, _ = h.check_store(data)
    h.check(rc == 0, f"check_store reads {data}")
    return int(summary["store"]["blocks"])


def body():
    work = h.workdir("repcluster")
    cl = nc.Cluster(work).start()
    print(f"NATS cluster {cl.url}", flush=True)
    a = relp_daemon(work, "a", cl.url).start()
    b = relp_daemon(work, "b", cl.url).start()

    la, ma1 = load(a, "a1", 8, 4000)
    lb, mb1 = load(b, "b1", 8, 4000)
    time.sleep(1.5)
    cl.kill_node(1)
    print("NATS node 1 SIGKILLed", flush=True)
    time.sleep(1.5)
    b.kill()
    print("custodyd b SIGKILLed", flush=True)
    b.start()
    time.sleep(1.0)
    cl.start_node(1)
    print("NATS node 1 restarted", flush=True)
    la.wait(timeout=60 * h.SLOW)
    lb.wait(timeout=60 * h.SLOW)
    cl.wait_ready(30)
    # A second round, after the restarts.
    la2, ma2 = load(a, "a2", 2, 4000)
    lb2, mb2 = load(b, "b2", 2, 4000)
    for p in (la2, lb2):
        p.wait(timeout=60 * h.SLOW)
        h.check(p.returncode == 0, "the second round of load ran")
    for d in (a, b):
        h.wait_for(lambda: backlog_empty(d), 60,
                   "JetStream to acknowledge every durable block")
        d.stop()

    c = cl.client()
    msgs = nc.stream_messages(c, "CUSTODY")
    c.close()
    for d, manifests in ((a, [ma1, ma2]), (b, [mb1, mb2])):
        chain = h.chain_of(d.data)
        blocks = [int(hd["Custody-Block"]) for _, s, hd, _ in msgs
                  if s == f"custody.{chain}.blocks"]
        n = local_blocks(d.data)
        h.check(sorted(blocks) == list(range(n)),
                f"chain {chain[:8]}: exactly one message per block, 0 to "
                f"{n - 1} ({len(blocks)} messages)")
        h.check(blocks == sorted(blocks),
                f"chain {chain[:8]}: blocks in block order in the stream")
        out = os.path.join(d.work, "restored")
        r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--chain",
                   chain, out], bound_s=120)
        h.check(r.returncode == 0, "custody-restore: " +
                (r.stdout + r.stderr).decode(errors="replace").strip())
        segs = sorted(os.listdir(os.path.join(d.data, "segments")))
        segs = [s for s in segs if s.endswith(".cst")]
        same, diff, errs = filecmp.cmpfiles(
            os.path.join(d.data, "segments"), os.path.join(out, "segments"),
            segs, shallow=False)
        h.check(not diff and not errs and
                sorted(os.listdir(os.path.join(out, "segments"))) == segs,
                f"restored segments are the collector's byte for byte "
                f"({len(same)} files; differ {diff}, missing {errs})")
        h.verify(out, ["--root", os.path.join(d.data, "keys", "root.pub")])
        rc, summary, _ = h.check_store(out, manifests=[
            m for m in manifests if os.path.exists(m)])
        h.check(rc == 0, "every acknowledged message is in the restored "
                "store: " + summary["text"].strip().splitlines()[-1])
        q1 = h.run([h.binary("CUSTODY_QUERY"), d.data, "--all", "--json"],
                   bound_s=120)
        q2 = h.run([h.binary("CUSTODY_QUERY"), out, "--all", "--json"],
                   bound_s=120)
        h.check(q1.returncode == 0 and q2.returncode == 0 and
                q1.stdout == q2.stdout and len(q1.stdout) > 0,
                f"custody-query --all --json is the same on the restored "
                f"store ({q1.stdout.count(NL)} records)")


if __name__ == "__main__":
    h.main(body, bound_s=280)
