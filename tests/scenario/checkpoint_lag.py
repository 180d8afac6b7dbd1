"""A checkpoint covers every durable block soon, even when nothing follows.

custodyd takes a burst, writes a checkpoint, then takes a few more events
just after it and falls silent.  Those last blocks are durable at once;
within checkpoint_interval (plus a margin) of their commit the newest
checkpoint, in the store and in checkpoint_export_dir, must cover every
durable record (SPEC R-CKP-6), although no commit follows to carry it.
Both directories keep a numbered history, trimmed to checkpoint_history,
and custody-verify checks every one of them (R-CKP-4).
"""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

INTERVAL_S = 2.0
HISTORY = 3
MARGIN_S = 1.5


def ckpt_counts(path):
    try:
        with open(path) as f:
            kv = dict(ln.split(" ", 1) for ln in f.read().splitlines()
                      if " " in ln)
    except OSError:
        return None
    return int(kv["blocks"]), int(kv["records"])


def covers(counts, want):
    return counts is not None and counts[0] >= want[0] and \
        counts[1] >= want[1]


def body():
    work = h.workdir("ckptlag")
    export = os.path.join(work, "export")
    os.makedirs(export)
    config = (f"[store]\ncommit_interval = 50ms\n"
              f"checkpoint_interval = {int(INTERVAL_S * 1000)}ms\n"
              f"checkpoint_history = {HISTORY}\n"
              f"checkpoint_export_dir = {export}\n")
    d = h.Daemon(work, config=config, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    latest = os.path.join(d.data, "checkpoints", "latest.ckpt")

    # Several bursts, each just after a checkpoint (the first one, of the
    # start record, or the one that covered the burst before): its blocks
    # are durable within commit_interval, long before the next checkpoint
    # falls due.
    h.wait_for(lambda: d.metric("custody_checkpoints_total") >= 1,
               INTERVAL_S * 3, "the first checkpoint")
    for i in range(HISTORY + 2):
        h.loadgen(tcp, 500 if i == 0 else 5, bound_s=20)
        h.wait_for(lambda: d.metric("custody_events_durable_total")
                   >= 500 + 5 * i, 10, "the burst to be durable")
        t0 = time.monotonic()
        want = (int(d.metric("custody_next_block_number")),
                int(d.metric("custody_records_durable_total")))
        # At least: a record sealed after the counters were read (a
        # stats or loss record of the collector's own) may be covered too.
        h.wait_for(lambda: covers(ckpt_counts(latest), want)
                   and covers(ckpt_counts(os.path.join(export,
                                                       "latest.ckpt")),
                              want), INTERVAL_S + MARGIN_S,
                   f"the newest checkpoint to cover {want} (blocks, "
                   f"records); it has {ckpt_counts(latest)}")
        took = time.monotonic() - t0
        h.check(took <= (INTERVAL_S + MARGIN_S) * h.SLOW,
                f"burst {i}: covered after {took:.2f} s")

    for dirname in (os.path.join(d.data, "checkpoints"), export):
        numbered = sorted(glob.glob(os.path.join(dirname, "ckpt-*.ckpt")))
        h.check(len(numbered) == HISTORY,
                f"{dirname}: {len(numbered)} numbered checkpoints, "
                f"history {HISTORY}")
        h.check(ckpt_counts(numbered[-1]) == ckpt_counts(latest),
                f"{dirname}: the newest numbered one is latest.ckpt")
    d.stop()
    root = os.path.join(d.data, "keys", "root.pub")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--json", "--root", root]
              + [a for c in sorted(glob.glob(os.path.join(export, "*.ckpt")))
                 for a in ("--checkpoint", c)] + [d.data], bound_s=60)
    h.check(r.returncode == 0, f"custody-verify with the exported history: "
            f"exit {r.returncode}")


if __name__ == "__main__":
    h.main(body, bound_s=90)
