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
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import pressure  # noqa: E402

CONNS, TOTAL, SIZE = 8, 40000, 1000


def body():
    work = h.workdir("relpbp")
    d = h.Daemon(work, config=pressure.PIPELINE_CONFIG, tcp=False,
                 udp=False, unix=False)
    url = f"relp://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    man = os.path.join(work, "bp.manifest")
    log = os.path.join(work, "loadgen.log")
    gen = h.spawn([h.tool("custody-loadgen"), "-t", url, "-c", str(CONNS),
                   "-s", str(SIZE), "-n", str(TOTAL), "-w", "16384",
                   "-g", "rbp8", "-m", man, "-T", str(60 * h.SLOW)], log)

    seen = pressure.sample_while(d, gen, 70 * h.SLOW, "senders")
    result = pressure.loadgen_result(log)
    h.check(gen.returncode == 0 and result["failed_conns"] == "0" and
            result["acked"] == str(TOTAL),
            f"all {CONNS} sessions completed with every answer ({result})")
    pauses = d.metric("custody_pauses_total")
    h.check(pauses > 0, f"the daemon paused its readers {pauses:.0f} times")
    pressure.check_within_bound(seen)
    d.stop()
    pressure.check_store_intact(d.data, man)


h.main(body, bound_s=120)
