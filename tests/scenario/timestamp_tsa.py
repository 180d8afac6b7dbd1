"""Trusted time: RFC 3161 tokens over checkpoints (SPEC section 15).

A local TSA (a CA, a TSA certificate with the critical timeStamping
usage, `openssl ts -reply` behind a small HTTP server on 127.0.0.1)
answers custodyd, which asks at most once per tsa_interval for a token
over its newest numbered checkpoint.  Tokens must appear beside their
checkpoints, in the store and the export directory, and go with them
when the history is trimmed (R-TSA-1, R-TSA-4); `openssl ts -verify`
as SPEC R-TSA-8 gives it must accept them; custody-verify --tsa-cert
must pass and state the window they prove.  Then the forgeries each
check stops: a token copied beside another checkpoint (imprint), a
token checked against another CA (chain), a token signed by a
certificate without the timeStamping usage (EKU), a truncated token
(form), and a token whose checkpoint was altered (R-TSA-5 d).  Last, a
TSA that answers HTTP 500 or garbage: counted as failures in /metrics,
logged once with the reason, while ingest goes on; tokens come again
once it answers.
"""
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tsa  # noqa: E402

HISTORY = 30


def ref(store, ca, want_rc):
    """The reference (tests/ref/tsr_ref.py, from SPEC alone) must reach
    the same verdict as custody-verify (want_rc: its exit status)."""
    r = h.run([os.environ.get("CUSTODY_PYTHON", "/usr/bin/python3"),
               os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "ref",
                            "tsr_ref.py"), "--tsa-cert", ca, store],
              bound_s=120)
    h.check(r.returncode == want_rc,
            f"the reference verifier agrees (exit {r.returncode}, "
            f"custody-verify {want_rc}):\n"
            + (r.stdout + r.stderr).decode(errors="replace")[-2000:])


def failures(rep, rule_prefix="R-TSA"):
    return [f for f in rep["findings"] if f["severity"] == "failure"
            and f["rule"].startswith(rule_prefix)]


def tokens(d):
    return sorted(glob.glob(os.path.join(d, "ckpt-*.tsr")))


def ckpt_of(tsr):
    return tsr[:-len(".tsr")] + ".ckpt"


def body():
    work = h.workdir("tsa")
    auth = tsa.Authority(work, "tsa")
    other = tsa.Authority(work, "other")
    srv = tsa.Server(auth)
    export = os.path.join(work, "export")
    os.makedirs(export)
    config = (f"[store]\ncommit_interval = 20ms\n"
              f"checkpoint_interval = 100ms\n"
              f"checkpoint_history = {HISTORY}\n"
              f"checkpoint_export_dir = {export}\n"
              f"[anchor]\ntsa_url = {srv.url}\ntsa_interval = 1s\n"
              f"tsa_timeout = 5s\ntsa_cert = {auth.ca}\n")
    d = h.Daemon(work, config=config, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    ckdir = os.path.join(d.data, "checkpoints")

    # Events keep coming, so new checkpoints keep coming: one token per
    # interval at most, for the newest, and trimmed with the history.
    for i in range(8):
        h.loadgen(tcp, 200, bound_s=20)
        h.wait_for(lambda: d.metric("custody_events_durable_total")
                   >= 200 * (i + 1), 10, "the events to be durable")
        if d.metric("custody_tsa_tokens_total") >= 4:
            break
        h.wait_for(lambda: d.metric("custody_tsa_tokens_total") >= i // 2,
                   10, "a token")
    h.wait_for(lambda: d.metric("custody_tsa_tokens_total") >= 3, 15,
               "three tokens")
    m = d.metrics()
    h.check(m.get("custody_tsa_failures_total", -1) == 0,
            f"no failed request while the TSA answers: {m}")
    h.check(0 <= m.get("custody_tsa_newest_token_age_seconds", -1) < 60,
            "the age of the newest token is reported")
    r = h.run([h.binary("CUSTODYD"), "status", "--interval", "100ms",
               f"tcp://127.0.0.1:{d.metrics_port}"])
    h.check(r.returncode == 0 and b"timestamps   " in r.stdout
            and b" tokens, the newest " in r.stdout,
            "custodyd status shows the timestamps:\n"
            + (r.stdout + r.stderr).decode(errors="replace"))
    # A request is counted here when it arrives, its token there once
    # answered, and the next may come at any tsa_interval: the counts
    # meet whenever none is in flight.  The tokens read first, so an
    # equal count read after them cannot be a request still unanswered.
    def one_per_token():
        t = d.metric("custody_tsa_tokens_total")
        return srv.count() == t
    h.wait_for(one_per_token, 10, f"one request per token ({srv.count()} "
               f"requests, {m['custody_tsa_tokens_total']:.0f} tokens at "
               "first look)")
    h.check(True, "one request per token")
    d.stop()

    store_tokens = tokens(ckdir)
    h.check(len(store_tokens) >= 2, "tokens are in the store's checkpoints/")
    h.check(len(glob.glob(os.path.join(ckdir, "ckpt-*.ckpt"))) <= HISTORY,
            "the history is trimmed")
    for t in store_tokens + tokens(export):
        h.check(os.path.exists(ckpt_of(t)),
                f"{t} has its checkpoint beside it (R-TSA-4)")
    h.check(len(tokens(export)) >= 1, "tokens are copied to the export dir")
    for t in tokens(export):
        twin = os.path.join(ckdir, os.path.basename(t))
        if os.path.exists(twin):
            with open(t, "rb") as a, open(twin, "rb") as b:
                h.check(a.read() == b.read(),
                        "the exported token is the store's")

    # SPEC R-TSA-8: the independent check, as documented.
    newest = store_tokens[-1]
    rc, out = tsa.openssl_verify(ckpt_of(newest), newest, auth.ca)
    h.check(rc == 0 and "Verification: OK" in out,
            f"openssl ts -verify accepts the token:\n{out}")
    rc, out = tsa.openssl_verify(ckpt_of(newest), newest, auth.cert,
                                 partial=True)
    h.check(rc == 0, f"... and with the TSA certificate itself:\n{out}")

    # custody-verify: verified, and the window stated.
    rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca)
    h.check(rc == 0 and rep["verdict"] == "intact",
            f"custody-verify --tsa-cert passes (exit {rc}): "
            f"{rep['findings']}")
    ref(d.data, auth.ca, 0)
    ref(d.data, auth.cert, 0)
    states = [t["state"] for t in rep["timestamps"]]
    h.check(states and all(s == "verified" for s in states),
            f"every token verified: {states}")
    win = rep["timestamp_window"]
    h.check(win and win["earliest"]["blocks"] < win["latest"]["blocks"]
            and win["earliest"]["gen_time"] < win["latest"]["gen_time"],
            f"the window is stated: {win}")
    proven = " ".join(rep["statements"]["proven"])
    h.check("existed by" in proven and "R-TSA-7" in proven,
            "the report says what the timestamps prove")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.cert, d.data])
    h.check(r.returncode == 0 and b"Timestamps (" in r.stdout,
            "the TSA certificate itself is a trust anchor too; the text "
            "report lists the timestamps")
    # An export copy given as --checkpoint brings its token with it.
    exp_ckpt = ckpt_of(tokens(export)[-1])
    rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca, "--checkpoint",
                              exp_ckpt)
    h.check(rc == 0 and any(t["file"].startswith(export)
                            for t in rep["timestamps"]),
            "the token beside a given checkpoint is verified")

    # Without --tsa-cert: present, not verified, not claimed (R-TSA-6).
    rc, rep = h.verify_report(d.data)
    h.check(rc == 0 and all(t["state"] == "unverified"
                            for t in rep["timestamps"])
            and rep["timestamp_window"] is None,
            "without --tsa-cert the tokens are listed, unverified")
    h.check(not any("existed by" in s for s in rep["statements"]["proven"]),
            "nothing is claimed from unverified tokens")

    # Forgeries, each on a copy of the store.
    def forged(tag):
        dst = os.path.join(work, f"forged-{tag}")
        shutil.copytree(d.data, dst)
        return dst, os.path.join(dst, "checkpoints")

    ckpts = sorted(glob.glob(os.path.join(ckdir, "ckpt-*.ckpt")))
    h.check(len(ckpts) >= 2, "two numbered checkpoints to swap tokens")

    # A token copied beside another checkpoint: R-TSA-5 b.
    st, sd = forged("swap")
    a_tok = os.path.join(sd, os.path.basename(newest))
    victim = [c for c in sorted(glob.glob(os.path.join(sd, "ckpt-*.ckpt")))
              if c != ckpt_of(a_tok)][0]
    shutil.copyfile(a_tok, victim[:-len(".ckpt")] + ".tsr")
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca)
    f = failures(rep)
    h.check(rc == 1 and f and "other bytes" in f[0]["detail"],
            f"a token over another checkpoint fails (exit {rc}): {f}")
    rc, _ = tsa.openssl_verify(victim, victim[:-len(".ckpt")] + ".tsr",
                               auth.ca)
    h.check(rc != 0, "openssl ts -verify refuses it too")
    ref(st, auth.ca, 1)

    # Another CA: R-TSA-5 c.
    rc, rep = h.verify_report(d.data, "--tsa-cert", other.ca)
    f = failures(rep)
    h.check(rc == 1 and f and "R-TSA-5" in f[0]["detail"] + f[0]["rule"],
            f"a token checked against another CA fails (exit {rc}): {f}")
    ref(d.data, other.ca, 1)

    # A TSA certificate without the timeStamping usage: R-TSA-5 c.  The
    # token's TSTInfo signed again, by a certificate with the usage (the
    # control: it verifies) and by one without it (it must not).
    noeku = tsa.Authority(work, "noeku", eku=False)
    for who, ok in ((auth, True), (noeku, False)):
        st, sd = forged(f"resign-{who.dir.rsplit('/', 1)[1]}")
        t = tokens(sd)[-1]
        tsa.resign(t, who, t)
        rc, rep = h.verify_report(st, "--tsa-cert", who.ca)
        f = [x for x in failures(rep) if x["file"] == t]
        if ok:
            h.check(rc == 0, f"a token signed again by a time-stamping "
                    f"certificate verifies (exit {rc}): {f}")
            ref(st, who.ca, 0)
        else:
            h.check(rc == 1 and f and "purpose" in f[0]["detail"],
                    f"a token signed by a certificate without the "
                    f"timeStamping usage fails (exit {rc}): {f}")
            orc, _ = tsa.openssl_verify(ckpt_of(t), t, who.ca)
            h.check(orc != 0, "openssl ts -verify refuses it too")
            ref(st, who.ca, 1)

    # A genuine token over the checkpoint, but by SHA-512: R-TSA-5 b
    # asks for SHA-256, which plain `openssl ts -verify` does not.
    st, sd = forged("sha512")
    target = sorted(glob.glob(os.path.join(sd, "ckpt-*.ckpt")))[-1]
    q = h.run([tsa.OPENSSL, "ts", "-query", "-data", target, "-sha512",
               "-cert"])
    h.check(q.returncode == 0, "openssl ts -query -sha512")
    with open(target[:-len(".ckpt")] + ".tsr", "wb") as out:
        out.write(auth.reply(q.stdout))
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca)
    f = failures(rep)
    h.check(rc == 1 and f and "SHA-256" in f[0]["detail"],
            f"a token over SHA-512 fails (exit {rc}): {f}")
    ref(st, auth.ca, 1)

    # A truncated token: R-TSA-1.
    st, sd = forged("trunc")
    t = tokens(sd)[-1]
    with open(t, "rb") as fh:
        der = fh.read()
    with open(t, "wb") as fh:
        fh.write(der[:len(der) // 2])
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca)
    h.check(rc == 1 and failures(rep), f"a truncated token fails ({rc})")
    ref(st, auth.ca, 1)

    # A token whose checkpoint was altered (its time line): the imprint
    # no longer matches, and the checkpoint fails R-CKP-1 as well.
    st, sd = forged("ckpt")
    t = tokens(sd)[-1]
    with open(ckpt_of(t), "rb") as fh:
        text = fh.read()
    i = text.index(b"\ntime ") + 10
    with open(ckpt_of(t), "wb") as fh:
        fh.write(text[:i] + bytes([text[i] ^ 1]) + text[i + 1:])
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca)
    h.check(rc == 1 and failures(rep), "a token over an altered checkpoint "
            f"fails ({rc})")
    ref(st, auth.ca, 1)

    # A token alone (its checkpoint deleted): a warning, not a failure.
    st, sd = forged("alone")
    t = tokens(sd)[-1]
    os.unlink(ckpt_of(t))
    os.unlink(os.path.join(sd, "latest.ckpt"))
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca)
    h.check(rc == 0 and any(x["state"] == "no-checkpoint"
                            for x in rep["timestamps"]),
            f"a token without its checkpoint is listed, not verified "
            f"({rc}): {rep['timestamps']}")
    ref(st, auth.ca, 0)

    # A TSA that fails: counted, logged once with the reason, ingest on.
    srv.set_mode("500")
    d.start()
    h.loadgen(tcp, 100, bound_s=20)
    h.wait_for(lambda: d.metric("custody_tsa_failures_total") >= 2, 15,
               "failed requests to be counted (HTTP 500)")
    srv.set_mode("garbage")
    f0 = d.metric("custody_tsa_failures_total")
    h.loadgen(tcp, 100, bound_s=20)
    h.wait_for(lambda: d.metric("custody_tsa_failures_total") >= f0 + 2, 15,
               "failed requests to be counted (garbage)")
    srv.set_mode("huge")
    f0 = d.metric("custody_tsa_failures_total")
    h.loadgen(tcp, 100, bound_s=20)
    h.wait_for(lambda: d.metric("custody_tsa_failures_total") >= f0 + 2, 15,
               "failed requests to be counted (an oversized answer)")
    before = d.metric("custody_events_durable_total")
    h.loadgen(tcp, 300, bound_s=20)
    h.wait_for(lambda: d.metric("custody_events_durable_total")
               >= before + 300, 10, "ingest to go on while the TSA fails")
    log = d.log_text()
    h.check(log.count("timestamp:") == 1 and "HTTP 500" in log,
            f"the failure is logged once, with the HTTP status:\n{log}")
    t0 = d.metric("custody_tsa_tokens_total")
    h.check(t0 == 0, "no answer of a failing TSA was taken for a token")
    srv.set_mode("ok")
    h.loadgen(tcp, 10, bound_s=20)
    h.wait_for(lambda: d.metric("custody_tsa_tokens_total") > t0, 15,
               "a token once the TSA answers again")
    # The token is counted just before the recovery is logged.
    h.wait_for(lambda: "answers again" in d.log_text(), 10,
               "the recovery to be logged")
    h.check(True, "the recovery is logged")
    d.stop()
    rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca)
    h.check(rc == 0, f"the store verifies with its tokens after the "
            f"failures: {rep['findings']}")
    srv.close()


h.main(body, bound_s=200)
