"""A full pipeline slows RELP senders down like TCP ones; nothing is lost.

custodyd runs with a tiny in-flight bound (pipeline.max_inflight = 2 MiB,
batches of at most 1024 records or 256 KiB) and a sealing stage made slow
on purpose (one seal thread, zstd level 9).  Eight custody-loadgen RELP
sessions, each with a window of 16384 messages (16 MB of 1000-byte
messages: far more than the bound), push 40 MB as fast as they can.
While they do, the daemon's counters are sampled:
- it pauses its readers (custody_pauses_total grows) rather than buffer,
  RELP connections with the rest, and the bytes in flight never exceed the
  bound;
- the senders are slowed, not failed: every session gets every answer;
and after a clean stop every acknowledged message is in the store once, in
order, intact, and custody-verify says the chain is intact.
"""
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

BOUND = 2 << 20
CONFIG = f"""\
[pipeline]
max_inflight = {BOUND}
batch_bytes = 256K
batch_records = 1024
seal_threads = 1
zstd_level = 9
"""
CONNS, TOTAL, SIZE = 8, 40000, 1000


def body():
    work = h.workdir("relpbp")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    man = os.path.join(work, "bp.manifest")
    log = os.path.join(work, "loadgen.log")
    gen = h.spawn([h.tool("custody-loadgen"), "-t", url, "-c", str(CONNS),
                   "-s", str(SIZE), "-n", str(TOTAL), "-w", "16384",
                   "-g", "rbp8", "-m", man, "-T", str(60 * h.SLOW)], log)

    seen = {"inflight": 0, "limit": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            m = d.metrics()
            seen["inflight"] = max(seen["inflight"],
                                   m.get("custody_inflight_bytes", 0))
            seen["limit"] = m.get("custody_inflight_limit_bytes", 0)
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        gen.wait(timeout=70 * h.SLOW)
    except subprocess.TimeoutExpired:
        h.fail("the senders did not finish: the daemon stopped reading for "
               f"good? counters: {d.metrics()}")
    finally:
        stop.set()
        sampler.join(timeout=5)
    with open(log) as f:
        lines = [x for x in f if x.startswith("custody-loadgen gen=")]
    if not lines:
        h.fail("custody-loadgen printed no result")
    result = h.parse_kv(lines[-1])
    h.check(gen.returncode == 0 and result["failed_conns"] == "0" and
            result["acked"] == str(TOTAL),
            f"all {CONNS} sessions completed with every answer ({result})")
    pauses = d.metric("custody_pauses_total")
    h.check(pauses > 0, f"the daemon paused its readers {pauses:.0f} times")
    h.check(seen["limit"] == BOUND and seen["inflight"] <= BOUND,
            f"bytes in flight peaked at {seen['inflight']:.0f}, within the "
            f"{BOUND} bound")
    d.stop()

    rc, s, _ = h.check_store(d.data, [man])
    run = s["runs"][0]
    h.check(rc == 0 and run["missing"] == "0" and run["duplicate"] == "0"
            and run["disorder"] == "0" and run["mismatch"] == "0",
            f"all {run['expected']} messages once, in order, intact ({run})")
    h.verify(d.data)


h.main(body, bound_s=120)
