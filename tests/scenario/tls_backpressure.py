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
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402

BOUND = 2 << 20
CONNS, TOTAL, SIZE = 8, 30000, 1000
# As backpressure.py's bound, with room for eight TLS sessions.
RSS_LIMIT_KIB = 36 << 10


def body():
    work = h.workdir("tls-backpressure")
    certs = tlscerts.Certs(work)
    client = certs.issue("client", "bp.example.org", ["DNS:bp.example.org"])
    tls_port = h.free_port()
    conf = (f"[pipeline]\nmax_inflight = {BOUND}\nbatch_bytes = 256K\n"
            "batch_records = 1024\nseal_threads = 1\nzstd_level = 9\n"
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
        gen.wait(timeout=45 * h.SLOW)
    except subprocess.TimeoutExpired:
        h.fail("the TLS senders did not finish: the daemon stopped reading "
               f"for good? counters: {d.metrics()}")
    finally:
        stop.set()
        sampler.join(timeout=5)
    with open(log) as f:
        text = f.read()
    lines = [x for x in text.splitlines()
             if x.startswith("custody-loadgen gen=")]
    if not lines:
        h.fail(f"custody-loadgen printed no result: {text[-1000:]}")
    result = h.parse_kv(lines[-1])
    h.check(gen.returncode == 0 and result["failed_conns"] == "0" and
            int(result["sent"]) == TOTAL,
            f"all {CONNS} TLS senders completed, none failed "
            f"({result['sent']} sent at {result['mb_per_s']} MB/s)")
    h.wait_for(lambda: d.received(url) >= TOTAL, 30,
               "the daemon to read everything sent")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >=
               TOTAL, 30, "every event to be durable")
    pauses = d.metric("custody_pauses_total")
    hwm = h.proc_status(d.pid, "VmHWM")
    h.check(pauses > 0, f"the daemon paused its readers {pauses:.0f} times")
    h.check(seen["limit"] == BOUND and seen["inflight"] <= BOUND,
            f"bytes in flight peaked at {seen['inflight']:.0f}, within the "
            f"{BOUND} bound")
    if h.SANITIZED:
        print(f"note: peak RSS {hwm} KiB under the sanitizers, not checked")
    else:
        h.check(hwm is not None and hwm <= RSS_LIMIT_KIB,
                f"peak RSS {hwm} KiB stays under {RSS_LIMIT_KIB} KiB while "
                f"{TOTAL * SIZE >> 20} MiB went through")
    h.check(d.metric("custody_tls_refused_total") == 0, "no refusal")
    d.stop()

    rc, s, _ = h.check_store(d.data, [man])
    run = s["runs"][0]
    h.check(rc == 0 and run["missing"] == "0" and run["duplicate"] == "0"
            and run["disorder"] == "0" and run["mismatch"] == "0" and
            run.get("wrong_transport", "0") == "0",
            f"all {run['expected']} messages once, in order, intact, over "
            f"tls ({run})")
    h.verify(d.data)


h.main(body, bound_s=120)
