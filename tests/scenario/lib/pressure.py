"""What the back-pressure scenarios share: a pipeline made slow on purpose
behind a tiny in-flight bound, the sampling of the daemon's in-flight
counters while senders push, and the checks made once they are done.
"""
import subprocess
import threading

import harness as h

BOUND = 2 << 20
# Batches of at most 1024 records or 256 KiB and one seal thread at zstd
# level 9: the sealer, not the reader, is the bottleneck.
PIPELINE_CONFIG = f"""\
[pipeline]
max_inflight = {BOUND}
batch_bytes = 256K
batch_records = 1024
seal_threads = 1
zstd_level = 9
"""


def sample_while(d, gen, bound_s, what, extra=None, **seen):
    """Waits up to bound_s seconds for the sender process gen to exit while
    sampling d's metrics; returns the peaks seen: "inflight", "limit", and
    the keys given in seen, which extra(metrics, seen) updates (metrics is
    None when that read failed)."""
    seen = {"inflight": 0, "limit": 0, **seen}
    stop = threading.Event()

    def sample():
        # At least once, however soon the senders finish; a read that
        # times out on a loaded machine is skipped, not the end of the
        # sampling (the limit is checked by the callers: some read
        # succeeded).
        while True:
            try:
                m = d.metrics()
            except h.TestFailure:
                m = None
            if m is not None:
                seen["inflight"] = max(seen["inflight"],
                                       m.get("custody_inflight_bytes", 0))
                seen["limit"] = m.get("custody_inflight_limit_bytes", 0)
            if extra is not None:
                extra(m, seen)
            if stop.wait(0.02):
                break

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        gen.wait(timeout=bound_s)
    except subprocess.TimeoutExpired:
        h.fail(f"the {what} did not finish: the daemon stopped reading "
               f"for good? counters: {d.metrics()}")
    finally:
        stop.set()
        sampler.join(timeout=5)
    return seen


def loadgen_result(log):
    """The last result line custody-loadgen wrote to log, parsed."""
    with open(log) as f:
        text = f.read()
    lines = [x for x in text.splitlines()
             if x.startswith("custody-loadgen gen=")]
    if not lines:
        h.fail(f"custody-loadgen printed no result: {text[-1000:]}")
    return h.parse_kv(lines[-1])


def wait_all_durable(d, url, total):
    """Waits until d has read total messages from url and made them all
    durable."""
    h.wait_for(lambda: d.received(url) >= total, 30,
               "the daemon to read everything sent")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >=
               total, 30, "every event to be durable")


def check_within_bound(seen):
    h.check(seen["limit"] == BOUND and seen["inflight"] <= BOUND,
            f"bytes in flight peaked at {seen['inflight']:.0f}, within the "
            f"{BOUND} bound")


def check_peak_rss(hwm, limit_kib, total_bytes, idle=None):
    """Checks the daemon's peak RSS hwm (KiB) against limit_kib, except
    under the sanitizers."""
    if h.SANITIZED:
        # ASan's shadow memory and quarantine say nothing about the
        # daemon's own bound: the plain build asserts it.
        print(f"note: peak RSS {hwm} KiB under the sanitizers, not checked")
        return
    idle_text = "" if idle is None else f" (idle {idle} KiB)"
    h.check(hwm is not None and hwm <= limit_kib,
            f"peak RSS {hwm} KiB{idle_text} stays under {limit_kib} KiB "
            f"while {total_bytes >> 20} MiB went through")


def check_store_intact(data, manifest, transport=None):
    """Checks that every message of manifest is in the store at data once,
    in order, intact (and, with transport, came over it), and that
    custody-verify finds the chain intact."""
    rc, s, _ = h.check_store(data, [manifest])
    run = s["runs"][0]
    ok = (rc == 0 and run["missing"] == "0" and run["duplicate"] == "0"
          and run["disorder"] == "0" and run["mismatch"] == "0")
    over = ""
    if transport is not None:
        ok = ok and run.get("wrong_transport", "0") == "0"
        over = f", over {transport}"
    h.check(ok, f"all {run['expected']} messages once, in order, "
            f"intact{over} ({run})")
    h.verify(data)
