"""No RELP acknowledgement before the block is durable (R-RELP-1), and
no sender held for the commit interval either.

First, with store.commit_on_wait = no (answers wait for the timed group
commit) and store.commit_interval = 3 s (12 s under the sanitizers), the
daemon's first group commit after its start records is that far away
when custody-loadgen sends 300 messages over relp://.  While the
messages sit written but not fdatasync'ed, the metrics must show them
received and not one acknowledged; at every sample
the acknowledged count must not pass the events durable; and custody-loadgen
must get all 300 answers only after the commit, then close cleanly, its
manifest (SENT = acknowledged) matching the store.

Then, with commit_on_wait on (the default) and a commit_interval of 600 s,
the waiting senders make the daemon commit at once: all 300 answers come
back long before the interval, never ahead of the events durable, and the
store holds what was acknowledged.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

N = 300
# The messages must arrive before this interval, counted from the start
# records' commit, is out: then it commits them at once and the window
# the test looks into is gone.  Wider under the sanitizers, whose every
# start (loadgen's too) is slower.
INTERVAL_S = int(3 * h.SLOW)
CONFIG = f"""\
[store]
commit_interval = {INTERVAL_S}s
commit_on_wait = no
[pipeline]
batch_delay = 5ms
"""


CONFIG_WAIT = """\
[store]
commit_interval = 600s
checkpoint_interval = 600s
[pipeline]
batch_delay = 5ms
"""


def acked_le_durable(d):
    m = d.metrics()
    acked = m.get("custody_relp_acked_total", 0)
    durable = m.get("custody_events_durable_total", 0)
    if acked > durable:
        h.fail(f"acknowledged {acked:.0f} > durable {durable:.0f}: an "
               "answer went out before its block was durable")


def commit_on_wait():
    work = h.workdir("relpwait")
    d = h.Daemon(work, config=CONFIG_WAIT, tcp=False, udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    man = os.path.join(work, "relp.manifest")
    log = os.path.join(work, "loadgen.log")
    t0 = time.monotonic()
    gen = h.loadgen(url, N, conns=2, manifest=man, background=True,
                    log=log, bound_s=60)
    # Well inside the 600 s interval, even on a slow machine.
    while gen.poll() is None:
        acked_le_durable(d)
        if time.monotonic() - t0 >= 30 * h.SLOW:
            h.fail("the RELP answers waited for commit_interval: "
                   "custody-loadgen does not end")
        time.sleep(0.02)
    elapsed = time.monotonic() - t0
    with open(log) as f:
        out = h.parse_kv(f.read().strip().splitlines()[-1])
    h.check(gen.returncode == 0, f"custody-loadgen exits 0: {out}")
    h.check(out.get("acked") == str(N), f"all {N} acknowledged: {out}")
    acked_le_durable(d)
    print(f"commit_on_wait: {N} acknowledged after {elapsed:.2f} s with a "
          "600 s commit_interval", flush=True)
    d.stop()
    rc, summary, _ = h.check_store(d.data, manifests=[man])
    h.check(rc == 0, f"check_store: what was acknowledged is stored, once:"
            f"\n{summary['text']}")
    h.verify(d.data)


def body():
    commit_interval_only()
    commit_on_wait()


def commit_interval_only():
    work = h.workdir("relpack")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    h.wait_for(lambda: d.metric("custody_commits_total") >= 1, 10,
               "the start records' commit")
    man = os.path.join(work, "relp.manifest")
    log = os.path.join(work, "loadgen.log")
    t0 = time.monotonic()
    gen = h.loadgen(url, N, conns=2, manifest=man, background=True,
                    log=log, bound_s=30)

    samples = 0
    seen_waiting = False
    while gen.poll() is None:
        m = d.metrics()
        acked = m.get("custody_relp_acked_total", 0)
        durable = m.get("custody_events_durable_total", 0)
        received = m.get("custody_received_total", 0)
        # Sampled many times: h.fail, not h.check, to print once.
        if acked > durable:
            h.fail(f"acknowledged {acked:.0f} > durable {durable:.0f}: an "
                   "answer went out before its block was durable")
        if received >= N and durable == 0:
            if acked != 0:
                h.fail(f"{acked:.0f} acknowledged before any commit")
            seen_waiting = True
        samples += 1
        if time.monotonic() - t0 >= 30 * h.SLOW:
            h.fail("custody-loadgen does not end")
        time.sleep(0.02)
    h.check(seen_waiting, "the messages were seen received and "
            f"unacknowledged while the commit was pending ({samples} "
            "samples)")
    with open(log) as f:
        out = h.parse_kv(f.read().strip().splitlines()[-1])
    h.check(gen.returncode == 0, f"custody-loadgen exits 0: {out}")
    h.check(out.get("acked") == str(N), f"all {N} acknowledged: {out}")
    elapsed = time.monotonic() - t0
    print(f"{N} acknowledged after {elapsed:.2f} s, {samples} samples",
          flush=True)
    h.check(d.metric("custody_commits_total") >= 2,
            "the answers came with a later commit")
    d.stop()
    rc, summary, _ = h.check_store(d.data, manifests=[man])
    h.check(rc == 0, f"check_store: what was acknowledged is stored, once:"
            f"\n{summary['text']}")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=90)
