"""A checkpoint file is written once per chain size: an idle collector
that rotates its key, or restarts, does not write ckpt-<n>.ckpt again
with other bytes, so the stream never holds two different files under
one name and custody-restore rebuilds the store (SPEC R-CKP-6, R-REP-7,
R-REP-8).

custodyd replicates to a one-node NATS JetStream and receives nothing:
its start records are checkpointed at once, and the key rotation due
after keys.rotate_interval commits again with no new block.  It is then
stopped and started again (the writer's first look may find the store
idle before the new start records come).  Every checkpoint name in the
stream has one content, and the chain restores."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

CONFIG = """\
[store]
commit_interval = 10ms
[keys]
rotate_interval = 3s
[replicate]
servers = {url}
"""


def published(d):
    m = d.metrics()
    return (m.get("custody_replicate_connected") == 1 and
            m.get("custody_replicate_backlog_blocks") == 0)


def body():
    work = h.workdir("repidleckpt")
    cl = nc.Cluster(work, n=1).start()
    d = h.Daemon(work, config=CONFIG.format(url=cl.url), udp=False,
                 unix=False)
    d.start()
    # Idle through a key rotation (epoch 2), and a second of it after.
    h.wait_for(lambda: d.metrics().get("custody_key_epoch", 0) >= 2, 30,
               "the key rotated while idle")
    h.wait_for(lambda: published(d), 30, "the blocks published")
    d.stop()
    d.start()
    h.wait_for(lambda: published(d), 30, "the blocks published again")
    d.stop()

    c = cl.client()
    msgs = nc.stream_messages(c, "CUSTODY")
    c.close()
    chain = h.chain_of(d.data)
    seen = {}
    for _, subj, hd, data in msgs:
        if subj != f"custody.{chain}.checkpoints":
            continue
        seen.setdefault(hd["Custody-Name"], set()).add(
            hashlib.sha256(data).hexdigest())
    twice = sorted(n for n, s in seen.items() if len(s) > 1)
    h.check(seen and not twice,
            f"one content per checkpoint name in the stream ({len(seen)} "
            f"names; with two contents: {twice})")
    out = os.path.join(work, "restored")
    r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--chain",
               chain, out], bound_s=60)
    h.check(r.returncode == 0, "custody-restore: " +
            (r.stdout + r.stderr).decode(errors="replace").strip())
    h.verify(out, ["--root", os.path.join(d.data, "keys", "root.pub")])


if __name__ == "__main__":
    h.main(body, bound_s=120)
