"""The epoch key rotates on time even when no event comes (SPEC R-KEY-4).

A stolen epoch key can re-sign every block of its epoch, so custodyd
rotates once keys.rotate_interval has passed since the key was certified,
as soon as the key has signed a block, without waiting for traffic.  With
a 1 s interval and nothing sent, the epoch must move on several times
within a bound; the store must verify intact with no R-KEY-4 warning (no
epoch spans long), and the newest checkpoint must cover every block.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def body():
    work = h.workdir("keyidle")
    d = h.Daemon(work, config="[keys]\nrotate_interval = 1s\n",
                 udp=False, unix=False).start()
    e0 = d.metric("custody_key_epoch")
    h.wait_for(lambda: d.metric("custody_key_epoch") >= e0 + 3,
               8 * h.SLOW, "three key rotations with no traffic")
    h.check(d.metric("custody_events_durable_total") == 0,
            "no event was sent")
    d.stop()
    root = os.path.join(d.data, "keys", "root.pub")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--json", "--root", root,
               d.data], bound_s=60)
    rep = json.loads(r.stdout.decode())
    h.check(r.returncode == 0 and rep["verdict"] == "intact",
            f"the store verifies intact (exit {r.returncode})")
    h.check(len(rep["epochs"]) >= 4, f"{len(rep['epochs'])} epochs")
    h.check(not any(f["rule"] == "R-KEY-4" for f in rep["findings"]),
            "no epoch spans longer than the warning threshold")
    h.check(rep["anchor"] is not None and rep["anchor"]["blocks"] ==
            rep["chain"]["head"]["block_no"] + 1,
            "the store's newest checkpoint covers the head")


if __name__ == "__main__":
    h.main(body, bound_s=60)
