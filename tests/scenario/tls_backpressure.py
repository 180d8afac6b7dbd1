"""Back-pressure holds for TLS connections as for TCP: a full pipeline
stops reading them, senders are slowed, nothing is dropped.

custodyd runs with a tiny in-flight bound and a slow sealer (as in
backpressure.py) and a tls:// listener requiring a client certificate.
Eight custody-loadgen TLS connections push 30 MB of 1000-byte messages,
15 times the bound.  The daemon must pause its readers
(custody_pauses_total grows), keep the bytes in flight within the bound,
complete every sender, keep its peak RSS far below the load, and store
every message once, in order, intact, with transport tls; custody-verify
says the chain is intact.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import pressure  # noqa: E402
import tlscerts  # noqa: E402

CONNS, TOTAL, SIZE = 8, 30000, 1000
# As backpressure.py's bound, with room for eight TLS sessions.
RSS_LIMIT_KIB = 36 << 10


def body():
    work = h.workdir("tls-backpressure")
    certs = tlscerts.Certs(work)
    client = certs.issue("client", "bp.example.org", ["DNS:bp.example.org"])
    tls_port = h.free_port()
    conf = (pressure.PIPELINE_CONFIG +
            f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"ca = {certs.ca}\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    url = f"tls://127.0.0.1:{tls_port}"
    d.listeners.append(url)
    d.start()
    man = os.path.join(work, "bp.manifest")
    log = os.path.join(work, "loadgen.log")
    gen = h.spawn([h.tool("custody-loadgen"), "-t", url, "-c", str(CONNS),
                   "-s", str(SIZE), "-n", str(TOTAL), "-g", "tlsbp8", "-m",
                   man, "-T", str(40 * h.SLOW), "--cert", client[0], "--key",
                   client[1], "--ca", certs.ca], log)

    seen = pressure.sample_while(d, gen, 45 * h.SLOW, "TLS senders")
    result = pressure.loadgen_result(log)
    h.check(gen.returncode == 0 and result["failed_conns"] == "0" and
            int(result["sent"]) == TOTAL,
            f"all {CONNS} TLS senders completed, none failed "
            f"({result['sent']} sent at {result['mb_per_s']} MB/s)")
    pressure.wait_all_durable(d, url, TOTAL)
    pauses = d.metric("custody_pauses_total")
    hwm = h.proc_status(d.pid, "VmHWM")
    h.check(pauses > 0, f"the daemon paused its readers {pauses:.0f} times")
    pressure.check_within_bound(seen)
    pressure.check_peak_rss(hwm, RSS_LIMIT_KIB, TOTAL * SIZE)
    h.check(d.metric("custody_tls_refused_total") == 0, "no refusal")
    d.stop()

    pressure.check_store_intact(d.data, man, transport="tls")


h.main(body, bound_s=120)
