"""With replicate.ack = replicated a RELP sender is answered only once
JetStream has the block (SPEC R-REP-5); with ack = local, at once.

custodyd with ack = replicated replicates to a one-node NATS JetStream,
which is then killed.  A RELP sender's messages become durable in the
store, but none is answered while the server is down; once it is back,
the blocks are published and every message is answered.  The same
sender against a collector with ack = local is answered while the
server is down.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

CONFIG = """\
[store]
commit_interval = 10ms
[replicate]
servers = {url}
ack = {ack}
"""
N = 2000


def relp_daemon(work, tag, url, ack):
    w = os.path.join(work, tag)
    os.makedirs(w)
    d = h.Daemon(w, config=CONFIG.format(url=url, ack=ack), udp=False,
                 unix=False)
    d.relp_port = h.free_port()
    d.listeners.append(f"relp://127.0.0.1:{d.relp_port}")
    return d.start()


def body():
    work = h.workdir("repack")
    cl = nc.Cluster(work, n=1).start()
    rep = relp_daemon(work, "replicated", cl.url, "replicated")
    loc = relp_daemon(work, "local", cl.url, "local")
    for d in (rep, loc):
        h.wait_for(lambda: d.metrics().get(
            "custody_replicate_published_total", 0) > 0 and d.metrics().get(
            "custody_replicate_backlog_blocks") == 0, 30,
            "the start records published")
    cl.kill_node(0)

    r = h.loadgen(f"relp://127.0.0.1:{loc.relp_port}", N, conns=2,
                  bound_s=30)
    h.check(int(r["acked"]) == N, "ack = local: every message answered "
            "while JetStream is down")

    m = os.path.join(work, "replicated.manifest")
    p = h.loadgen(f"relp://127.0.0.1:{rep.relp_port}", N, conns=2,
                  manifest=m, bound_s=90, background=True,
                  log=os.path.join(work, "loadgen.log"))
    h.wait_for(lambda: rep.metrics().get("custody_events_durable_total", 0)
               >= N, 30, "the messages durable in the store")
    time.sleep(1.0)   # a second more of the server down: still none
    h.check(rep.metric("custody_relp_acked_total") == 0,
            "ack = replicated: none answered while JetStream is down "
            f"({rep.metric('custody_events_durable_total'):.0f} durable)")
    cl.start_node(0)
    cl.wait_ready(30)
    p.wait(timeout=90 * h.SLOW)
    with open(os.path.join(work, "loadgen.log")) as f:
        out = f.read()
    h.check(p.returncode == 0 and f"acked={N}" in out,
            "every message answered once JetStream has the blocks: "
            + out.strip())
    rep.stop()
    loc.stop()
    rc, summary, _ = h.check_store(rep.data, manifests=[m])
    h.check(rc == 0, "every answered message is in the store: "
            + summary["text"].strip().splitlines()[-1])


if __name__ == "__main__":
    h.main(body, bound_s=150)
