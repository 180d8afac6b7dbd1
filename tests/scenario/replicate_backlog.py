"""With replicate.ack = local, ingest never waits for JetStream; a
backlog is counted and sealed in the chain (SPEC R-REP-5, R-REP-9).

custodyd replicates to a one-node NATS JetStream; the node is killed.
TCP load goes on being received, sealed and made durable while the
backlog of blocks not acknowledged grows in /metrics
(custody_replicate_backlog_blocks, _bytes, last_ack_age); after
replicate.lag_record a replication record (kind 12) with state "started"
is sealed.  The node comes back with its store: the backlog drains to 0
and a record with state "ended" is sealed.  After a clean stop the
store holds every message sent, custody-verify and the reference
verifier (which must know kind 12) pass, and the chain restored from the
stream is the store byte for byte.
"""
import filecmp
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

CONFIG = """\
[store]
commit_interval = 10ms
[replicate]
servers = {url}
ack = local
lag_record = 2s
"""


def replication_records(d):
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "--kind", "replication",
               "--json"], bound_s=60)
    if r.returncode != 0:
        h.fail("custody-query --kind replication: "
               + r.stderr.decode(errors="replace"))
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def states(d):
    return [rec["detail"]["state"] for rec in replication_records(d)]


def body():
    work = h.workdir("repbacklog")
    cl = nc.Cluster(work, n=1).start()
    d = h.Daemon(work, config=CONFIG.format(url=cl.url), udp=False,
                 unix=False).start()
    target = f"tcp://127.0.0.1:{d.port}"
    m1 = os.path.join(work, "1.manifest")
    h.loadgen(target, 5000, conns=2, gen="before", manifest=m1)
    h.wait_for(lambda: d.metrics().get("custody_replicate_published_total",
                                       0) > 0 and
               d.metrics().get("custody_replicate_backlog_blocks") == 0,
               30, "the first blocks published")

    # A start slow to be acknowledged (a loaded machine) may already have
    # sealed a lag of its own: the records of this outage come after.
    h.wait_for(lambda: (lambda s: not s or s[-1] == "ended")(states(d)),
               30, "any lag of the start to be over")
    n0 = len(replication_records(d))
    if n0:
        print(f"replication records before the outage: {states(d)}",
              flush=True)
    cl.kill_node(0)
    print("the NATS server is down", flush=True)
    m2 = os.path.join(work, "2.manifest")
    r = h.loadgen(target, 50000, conns=2, gen="during", manifest=m2,
                  bound_s=30)
    h.check(int(r["sent"]) == 50000,
            f"ingest goes on without JetStream ({r['events_per_s']} ev/s)")
    h.wait_for(lambda: d.metrics().get("custody_events_durable_total", 0)
               >= 55000, 30, "the events to be durable")
    h.wait_for(lambda: d.metrics().get("custody_replicate_backlog_bytes",
                                       0) > 0 and d.metrics().get(
        "custody_replicate_connected") == 0, 30,
        "the backlog's bytes, and the connection seen down")
    m = d.metrics()
    h.check(m["custody_replicate_backlog_blocks"] > 0 and
            m["custody_replicate_backlog_bytes"] > 0 and
            m["custody_replicate_connected"] == 0,
            f"the backlog grows in /metrics: "
            f"{m['custody_replicate_backlog_blocks']:.0f} blocks, "
            f"{m['custody_replicate_backlog_bytes']:.0f} bytes")
    h.wait_for(lambda: "started" in states(d)[n0:], 30,
               "a replication record, state started")
    h.wait_for(lambda: d.metrics().get(
        "custody_replicate_last_ack_age_seconds", 0) >= 2, 30,
        "custody_replicate_last_ack_age_seconds to grow")
    rec = replication_records(d)[n0]["detail"]
    h.check(rec["blocks"] > 0 and rec["bytes"] > 0 and rec["since_ns"] > 0
            and
            "no acknowledgement" in rec["reason"],
            f"it says why and how much: {rec}")
    r = h.run([binary_status(), "status", "--metrics",
               f"tcp://127.0.0.1:{d.metrics_port}"], bound_s=20)
    out = r.stdout.decode(errors="replace")
    h.check("replication  NOT connected, backlog" in out,
            "custodyd status shows the backlog: " + [
                ln for ln in out.splitlines() if "replication" in ln][0]
            if "replication" in out else "custodyd status: " + out)

    cl.start_node(0)
    cl.wait_ready(30)
    print("the NATS server is back", flush=True)
    h.wait_for(lambda: d.metrics().get("custody_replicate_backlog_blocks")
               == 0, 60, "the backlog to drain")
    h.wait_for(lambda: states(d)[n0:] == ["started", "ended"], 30,
               "a replication record, state ended")
    rec = replication_records(d)[n0 + 1]["detail"]
    h.check(rec["blocks"] > 0 and rec["bytes"] > 0,
            f"the ended record counts what was published: {rec}")
    h.wait_for(lambda: d.metrics().get("custody_replicate_backlog_blocks")
               == 0, 30, "the ended record published")
    d.stop()

    rc, summary, _ = h.check_store(d.data, manifests=[m1, m2])
    h.check(rc == 0, "every message is in the store: "
            + summary["text"].strip().splitlines()[-1])
    root = os.path.join(d.data, "keys", "root.pub")
    h.verify(d.data, ["--root", root])
    h.ref_verify(d.data, "the reference verifier accepts kind 12",
                 extra=["--root", root], bound_s=120)
    with open(root) as f:
        chain = f.read().split()[1]
    out = os.path.join(work, "restored")
    r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--chain",
               chain, out], bound_s=60)
    h.check(r.returncode == 0, "custody-restore: "
            + (r.stdout + r.stderr).decode(errors="replace").strip())
    segs = sorted(s for s in os.listdir(os.path.join(d.data, "segments"))
                  if s.endswith(".cst"))
    _, diff, errs = filecmp.cmpfiles(os.path.join(d.data, "segments"),
                                     os.path.join(out, "segments"), segs,
                                     shallow=False)
    h.check(not diff and not errs, "the restored segments are the store's "
            "byte for byte")


def binary_status():
    return h.binary("CUSTODYD")


if __name__ == "__main__":
    h.main(body, bound_s=200)
