"""A full pipeline slows stream senders down; it never drops, and memory
stays within its bound.

custodyd runs with a tiny in-flight bound (pipeline.max_inflight = 2 MiB,
batches of at most 1024 records or 256 KiB) and a sealing stage made slow on purpose (one seal thread,
zstd level 9), so the sealer, not the reader, is the bottleneck.  Eight TCP
senders push 60 MB of 1000-byte messages as fast as they can, 30 times the
bound.  While they do, the daemon's counters are sampled:
- it pauses its stream readers (custody_pauses_total grows) rather than
  buffer, and the bytes in flight never exceed the bound
  (custody_inflight_bytes <= custody_inflight_limit_bytes);
- the senders are slowed, not failed: every connection completes;
- its peak RSS (VmHWM) stays far below what buffering the load would take;
and after a clean stop every message is in the store once, in order, intact,
and custody-verify says the chain is intact.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import pressure  # noqa: E402

CONNS, TOTAL, SIZE = 8, 60000, 1000
# Code, libraries, per-connection read buffers, zstd contexts and a few
# batches, with room: far below the 60 MB sent, which is what an unbounded
# daemon would hold.
RSS_LIMIT_KIB = 32 << 10


def recv_q(port):
    """Bytes waiting in the daemon's sockets, unread (ss Recv-Q)."""
    r = subprocess.run(["ss", "-tnH", "state", "established",
                        f"( sport = :{port} )"], capture_output=True,
                       timeout=5)
    total = 0
    for line in r.stdout.decode().splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].isdigit():
            total += int(f[0])
    return total


def body():
    work = h.workdir("backpressure")
    d = h.Daemon(work, config=pressure.PIPELINE_CONFIG, udp=False,
                 unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    rss_idle = h.proc_status(d.pid, "VmRSS")
    man = os.path.join(work, "bp.manifest")
    log = os.path.join(work, "loadgen.log")
    gen = h.loadgen(tcp, TOTAL, conns=CONNS, size=SIZE,
                    gen="bp8", manifest=man, background=True, log=log)

    def sample_recv_q(m, seen):
        try:
            seen["recv_q"] = max(seen["recv_q"], recv_q(d.port))
        except (OSError, subprocess.SubprocessError):
            pass

    seen = pressure.sample_while(d, gen, 40 * h.SLOW, "senders",
                                 sample_recv_q, recv_q=0)
    result = pressure.loadgen_result(log)
    h.check(gen.returncode == 0 and result["failed_conns"] == "0" and
            int(result["sent"]) == TOTAL,
            f"all {CONNS} senders completed, none failed "
            f"({result['sent']} sent at {result['mb_per_s']} MB/s)")

    pressure.wait_all_durable(d, tcp, TOTAL)
    pauses = d.metric("custody_pauses_total")
    hwm = h.proc_status(d.pid, "VmHWM")
    h.check(pauses > 0, f"the daemon paused its stream readers {pauses:.0f} "
            f"times (max {seen['recv_q']} bytes left unread in its sockets)")
    pressure.check_within_bound(seen)
    pressure.check_peak_rss(hwm, RSS_LIMIT_KIB, TOTAL * SIZE, idle=rss_idle)
    d.stop()
    pressure.check_store_intact(d.data, man)


h.main(body)
