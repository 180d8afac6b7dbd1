"""Trusted time over HTTPS, a slow TSA, a TSA that never answers.

The TSA of tests/scenario/lib/tsa.py behind HTTPS, its server
certificate from a test CA given as anchor.tsa_ca.  Each answer takes
0.5 s while checkpoints come every 50 ms and only one is kept
(checkpoint_history = 1): the checkpoint a token is being fetched for
must stay until its token is stored (R-TSA-4), or no token would ever
be kept.  Then the TSA stops answering: each request ends at
tsa_timeout, is counted and logged, and ingest goes on.  Last, without
tsa_ca the TSA's certificate is not trusted: a failure, with curl's
reason.
"""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402
import tsa  # noqa: E402


def config(srv, auth, ca, timeout="1s"):
    return ("[store]\ncommit_interval = 20ms\ncheckpoint_interval = 50ms\n"
            "checkpoint_history = 1\n"
            f"[anchor]\ntsa_url = {srv.url}\ntsa_interval = 1s\n"
            f"tsa_timeout = {timeout}\ntsa_cert = {auth.ca}\n"
            + (f"tsa_ca = {ca}\n" if ca else ""))


def body():
    work = h.workdir("tsahttps")
    auth = tsa.Authority(work, "tsa")
    certs = tlscerts.Certs(work)
    srv = tsa.Server(auth, tls=(certs.server_cert, certs.server_key))
    h.check(srv.url.startswith("https://"), "the TSA is served over HTTPS")
    srv.delay_s = 0.5
    # A slow TSA, but well within tsa_timeout: each answer is also an
    # openssl process started here, which a loaded machine can make
    # take as long again.
    d = h.Daemon(work, config=config(srv, auth, certs.ca, "10s"), udp=False,
                 unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    ckdir = os.path.join(d.data, "checkpoints")

    gen = h.loadgen(tcp, None, rate=2000, duration=6, background=True,
                    bound_s=20)
    c0 = d.metric("custody_checkpoints_total")
    h.wait_for(lambda: d.metric("custody_tsa_tokens_total") >= 2, 15,
               "two tokens from a slow TSA over HTTPS")
    h.check(d.metric("custody_checkpoints_total") - c0 >= 10,
            "checkpoints kept coming (and being trimmed) while tokens "
            "were fetched")
    h.check(d.metric("custody_tsa_failures_total") == 0,
            "no request failed: " + d.log_text())
    gen.wait(timeout=30 * h.SLOW)
    for t in glob.glob(os.path.join(ckdir, "ckpt-*.tsr")):
        h.check(os.path.exists(t[:-4] + ".ckpt"),
                f"{t} has its checkpoint (R-TSA-4)")

    # A TSA that never answers: each request ends at tsa_timeout, 1 s
    # now ([anchor] changes on a restart).
    d.stop()
    with open(d.config, "w") as f:
        f.write(config(srv, auth, certs.ca))
    srv.set_mode("hang")
    srv.delay_s = 0.0
    d.start()
    before = d.metric("custody_events_durable_total")
    t0 = time.monotonic()
    h.loadgen(tcp, 2000, bound_s=20)
    h.wait_for(lambda: d.metric("custody_events_durable_total")
               >= before + 2000, 10, "ingest while the TSA hangs")
    h.wait_for(lambda: d.metric("custody_tsa_failures_total") >= 2, 15,
               "requests to a hanging TSA to time out")
    h.check(time.monotonic() - t0 < 10 * h.SLOW,
            "the requests end at tsa_timeout")
    h.check("timed out" in d.log_text(),
            "the failure is logged with curl's reason:\n" + d.log_text())
    stop0 = time.monotonic()
    d.stop()
    h.check(time.monotonic() - stop0 < 5 * h.SLOW,
            "a stop does not wait for the TSA")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.ca, d.data])
    h.check(r.returncode == 0, "the store verifies with its tokens:\n"
            + r.stdout.decode(errors="replace")[-2000:])

    # Without tsa_ca, the TSA's HTTPS certificate (a test CA) is refused.
    srv.set_mode("ok")
    with open(d.config, "w") as f:
        f.write(config(srv, auth, None))
    d.start()
    h.loadgen(tcp, 100, bound_s=20)
    h.wait_for(lambda: d.metric("custody_tsa_failures_total") >= 1, 15,
               "a TSA with an untrusted certificate to fail")
    h.check(d.metric("custody_tsa_tokens_total") == 0,
            "no token from a TSA whose certificate is not trusted")
    h.check("certificate" in d.log_text().lower(),
            "the reason names the certificate:\n" + d.log_text())
    d.stop()
    srv.close()


h.main(body, bound_s=120)
