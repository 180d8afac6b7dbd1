"""Revocation of the TSA's certificate (SPEC R-TSA-9, R-TSA-10).

A local TSA (tests/scenario/lib/tsa.py) gives custodyd its tokens; its CA
then issues CRLs with `openssl ca -gencrl`.  custody-verify --tsa-crl
must: refuse every token once the CA has revoked the TSA certificate
(after genTime, keyCompromise, and also for a harmless reason, since any
revocation leaves a token proving nothing), naming the revocation date
and reason; count them as trusted time under a CRL that revokes nothing;
never take a CRL that is not the CA's (one forged in its name, one of
another CA, whether or not a genuine older one is beside it), nor one
issued before the tokens, nor a delta CRL, nor one without nextUpdate,
nor a CRL of a CA whose certificate was not given, for "not revoked",
while a delta CRL or one without nextUpdate that lists the TSA
certificate revokes it; refuse a FIFO named as --tsa-crl at once,
without waiting on it; and refuse a file with a block that cannot be
read, rather than stop reading there and miss a revocation after it.  With a TSA under an
intermediate CA (carried in the token), every certificate of the chain
is checked: the intermediate's own revocation by the root's CRL fails
the tokens, and no CRL of the root leaves them uncounted, as does an
intermediate given as the only anchor.  Without --tsa-crl, the report
says the revocation status was not checked, in text, JSON and PDF.  The
reference (tests/ref/tsr_ref.py) must reach custody-verify's verdict and
token states on each.  The report names the certificate and CRL files
given among its inputs, with their digests.
"""
import glob
import hashlib
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tsa  # noqa: E402


def ref(store, args, want_rc, want_states):
    """The reference must agree with custody-verify: its exit status and
    the state of every token."""
    r = h.run([os.environ.get("CUSTODY_PYTHON", "/usr/bin/python3"),
               os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "ref",
                            "tsr_ref.py"), "--json", *args, store],
              bound_s=120)
    out = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode == want_rc,
            f"the reference verifier agrees (exit {r.returncode}, "
            f"custody-verify {want_rc}):\n{out[-2000:]}")
    got = {t["file"]: t["state"] for t in json.loads(r.stdout)["timestamps"]}
    h.check(got == want_states,
            f"the reference gives each token custody-verify's state:\n"
            f"{got}\n{want_states}")


def next_second():
    """Waits until the clock is in a later second than now: CRL times
    and genTime are whole seconds, and the cases below need them apart."""
    start = int(time.time())
    h.wait_for(lambda: int(time.time()) > start, 3, "the next second")


def states(rep):
    return {t["file"]: t["state"] for t in rep["timestamps"]}


def rules(rep, rule, severity, ext=".tsr"):
    """The findings of rule and severity about files ending with ext."""
    return [f for f in rep["findings"] if f["rule"] == rule
            and f["severity"] == severity and f["file"].endswith(ext)]


def body():
    work = h.workdir("tsacrl")
    auth = tsa.Authority(work, "tsa")
    other = tsa.Authority(work, "other")
    # Same name as auth's CA, another key: a CRL "of auth's CA" it signs
    # is a forgery.
    forger = tsa.Authority(os.path.join(work, "forger"), "tsa")
    crl_early = auth.crl(os.path.join(work, "early.crl"))
    next_second()
    srv = tsa.Server(auth)
    config = (f"[store]\ncommit_interval = 20ms\n"
              f"checkpoint_interval = 100ms\n"
              f"[anchor]\ntsa_url = {srv.url}\ntsa_interval = 1s\n"
              f"tsa_timeout = 5s\ntsa_cert = {auth.ca}\n")
    d = h.Daemon(work, config=config, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    for i in range(6):
        h.loadgen(tcp, 100, bound_s=20)
        if d.metric("custody_tsa_tokens_total") >= 2:
            break
        h.wait_for(lambda: d.metric("custody_tsa_tokens_total") >= 1
                   + i // 2, 10, "a token")
    d.stop()
    srv.close()
    toks = sorted(glob.glob(os.path.join(d.data, "checkpoints",
                                         "ckpt-*.tsr")))
    h.check(len(toks) >= 1, "tokens in the store")

    # Issued after the tokens: the CA's current word on its certificates.
    next_second()
    crl_good = auth.crl(os.path.join(work, "good.crl"))
    crl_kc = auth.crl(os.path.join(work, "revoked-kc.crl"), [auth.cert],
                      "keyCompromise")
    crl_sup = auth.crl(os.path.join(work, "revoked-sup.crl"), [auth.cert],
                       "superseded")
    crl_forged = forger.crl(os.path.join(work, "forged.crl"), [])
    crl_forged_rev = forger.crl(os.path.join(work, "forged-rev.crl"),
                                [auth.cert])
    crl_other = other.crl(os.path.join(work, "other.crl"), [auth.cert])
    # A delta CRL (RFC 5280 section 5.2.4) lists only what changed since
    # its base CRL: it never shows that nothing is revoked, though what it
    # lists is revoked.  So too a CRL without nextUpdate, never stale.
    delta = "2.5.29.27 = critical,DER:020101"
    crl_delta = auth.crl(os.path.join(work, "delta.crl"), ext=delta)
    crl_delta_rev = auth.crl(os.path.join(work, "delta-rev.crl"),
                             [auth.cert], ext=delta)
    crl_nonext = auth.crl_without_next_update(
        crl_good, os.path.join(work, "no-next-update.crl"))
    crl_nonext_rev = auth.crl_without_next_update(
        crl_kc, os.path.join(work, "no-next-update-rev.crl"))
    # One file: an unrevoking CRL, a block that cannot be read, then a
    # CRL that revokes the TSA certificate.
    crl_bundle = os.path.join(work, "bundle.crl")
    with open(crl_bundle, "w") as out:
        for part in (crl_good, None, crl_kc):
            if part is None:
                out.write("-----BEGIN X509 CRL-----\nAAAA\n"
                          "-----END X509 CRL-----\n")
                continue
            with open(part) as f:
                out.write(f.read())
    # Due again a second after it was issued: out of date below.
    made = time.time()
    crl_stale = auth.crl(os.path.join(work, "stale.crl"), [],
                         extra=["-crlsec", "1"])
    crl_stale_rev = auth.crl(os.path.join(work, "stale-rev.crl"),
                             [auth.cert], extra=["-crlsec", "1"])
    # Issued an hour before the tokens, yet listing the TSA certificate.
    hour_ago = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(made - 3600))
    crl_old_rev = auth.crl(os.path.join(work, "old-rev.crl"), [auth.cert],
                           extra=["-crl_lastupdate", hour_ago])
    h.wait_for(lambda: time.time() > made + 3, 5,
               "the short-lived CRLs to be out of date")

    # Without --tsa-crl: counted, and the report says revocation was not
    # checked (SPEC R-TSA-10), in JSON, text and PDF.
    rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca)
    h.check(rc == 0 and set(states(rep).values()) == {"verified"},
            f"without --tsa-crl the tokens verify (exit {rc}): {states(rep)}")
    h.check(all(t["revocation"] == "not-checked" for t in rep["timestamps"]),
            "their revocation is 'not-checked'")
    notp = " ".join(rep["statements"]["not_proven"])
    h.check("revocation status of the TSA certificate(s) was not checked"
            in notp and "R-TSA-10" in notp,
            f"the JSON report says revocation was not checked:\n{notp}")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.ca, d.data])
    h.check(b"was not checked" in r.stdout and b"R-TSA-10" in r.stdout,
            "the text report says so too")
    pdf = os.path.join(work, "report.pdf")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.ca, "--pdf",
               pdf, d.data], bound_s=60)
    t = h.run(["pdftotext", "-layout", pdf, "-"], bound_s=30)
    text = " ".join(t.stdout.decode(errors="replace").split())
    h.check(r.returncode == 0 and "R-TSA-10" in text and "was not checked"
            in text, "the PDF report says so too")

    # A CRL that revokes nothing, issued after the tokens: counted, and
    # said to be checked.
    rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca, "--tsa-crl",
                              crl_good)
    h.check(rc == 0 and set(states(rep).values()) == {"verified"}
            and all(t["revocation"] == "not-revoked"
                    for t in rep["timestamps"]),
            f"an unrevoked TSA certificate: tokens count (exit {rc}): "
            f"{rep['timestamps']}")
    proven = " ".join(rep["statements"]["proven"])
    notp = " ".join(rep["statements"]["not_proven"])
    h.check("revoked by the CRLs given" in proven and "R-TSA-10" not in notp,
            f"the report says revocation was checked:\n{proven}")
    h.check(rep["timestamp_window"] is not None, "the window is stated")
    # "Not revoked by the CRLs given" names them: each file given is an
    # input of the report, with its digest.
    with open(crl_good, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    with open(auth.ca, "rb") as f:
        want_ca = hashlib.sha256(f.read()).hexdigest()
    ins = {(i["role"], i["file"]): i["sha256"] for i in rep["inputs"]}
    h.check(ins.get(("tsa-crl", crl_good)) == want
            and ins.get(("tsa-cert", auth.ca)) == want_ca,
            f"the CRL and certificate given are inputs, with their SHA-256: "
            f"{rep['inputs'][-3:]}")
    ref(d.data, ["--tsa-cert", auth.ca, "--tsa-crl", crl_good], 0,
        states(rep))

    # A forged CRL that lists the TSA certificate, beside the CA's own:
    # it does not count, and the report says it was not used rather than
    # pass over it under "not revoked by the CRLs given".
    args = ["--tsa-cert", auth.ca, "--tsa-crl", crl_good, "--tsa-crl",
            crl_forged_rev]
    rc, rep = h.verify_report(d.data, *args)
    w = rules(rep, "R-TSA-9", "warning", ".crl")
    h.check(rc == 0 and set(states(rep).values()) == {"verified"}
            and len(w) == 1 and w[0]["file"] == crl_forged_rev
            and "not used" in w[0]["detail"],
            f"a forged CRL listing the TSA certificate: not counted, and "
            f"said not to be used (exit {rc}): {rep['findings']}")
    ref(d.data, args, 0, states(rep))

    # The TSA certificate revoked (after genTime): every token fails,
    # naming the revocation, whatever the reason.
    for crl, reason in ((crl_kc, "keyCompromise"), (crl_sup, "superseded")):
        rc, rep = h.verify_report(d.data, "--tsa-cert", auth.ca, "--tsa-crl",
                         crl_good, "--tsa-crl", crl)
        f = rules(rep, "R-TSA-9", "failure")
        h.check(rc == 1 and set(states(rep).values()) == {"failed"}
                and len(f) == len(toks)
                and all(t["revocation"] == "revoked"
                        for t in rep["timestamps"]),
                f"a revoked TSA certificate ({reason}) fails every token "
                f"(exit {rc}): {rep['findings']}")
        h.check(all("revoked" in x["detail"] and reason in x["detail"]
                    and "after the token's genTime" in x["detail"]
                    and "proves nothing" in x["detail"] for x in f),
                f"the finding names the revocation, its date and reason: "
                f"{f[:1]}")
        h.check(rep["timestamp_window"] is None
                and not any("existed by" in s
                            for s in rep["statements"]["proven"]),
                "nothing is claimed from tokens of a revoked certificate")
        ref(d.data, ["--tsa-cert", auth.ca, "--tsa-crl", crl_good,
                     "--tsa-crl", crl], 1, states(rep))
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.ca,
               "--tsa-crl", crl_kc, d.data])
    h.check(r.returncode == 1 and b"keyCompromise" in r.stdout,
            "the text report names the revocation")

    # A revocation counts in any CRL whose signature holds, current or
    # not, issued before the tokens or after.
    for what, crl in (("out of date", crl_stale_rev),
                      ("issued before the tokens", crl_old_rev),
                      ("that is a delta CRL", crl_delta_rev),
                      ("without nextUpdate", crl_nonext_rev)):
        args = ["--tsa-cert", auth.ca, "--tsa-crl", crl_good, "--tsa-crl",
                crl]
        rc, rep = h.verify_report(d.data, *args)
        h.check(rc == 1 and set(states(rep).values()) == {"failed"}
                and len(rules(rep, "R-TSA-9", "failure")) == len(toks),
                f"a revocation in a CRL {what} fails the tokens (exit "
                f"{rc}): {rep['findings']}")
        ref(d.data, args, 1, states(rep))

    # CRLs that prove nothing: never "not revoked".
    cases = (("forged in the CA's name", [auth.ca], [crl_forged]),
             ("of another CA", [auth.ca], [crl_other]),
             ("issued before the tokens", [auth.ca], [crl_early]),
             ("out of date", [auth.ca], [crl_stale]),
             ("that is a delta CRL", [auth.ca], [crl_delta]),
             ("beside an older one, that is a delta CRL", [auth.ca],
              [crl_early, crl_delta]),
             ("without nextUpdate", [auth.ca], [crl_nonext]),
             ("issued before the tokens, beside a newer one forged",
              [auth.ca], [crl_early, crl_forged]),
             ("without the CA's certificate to check it", [auth.cert],
              [crl_good]))
    # The warning says why, truly: a forged CRL is not "no CRL given", nor
    # a delta CRL one that "does not verify".
    says = {"forged in the CA's name": "forged or another CA's",
            "of another CA": "no CRL of its issuer",
            "that is a delta CRL": "delta CRL",
            "without nextUpdate": "without nextUpdate"}
    for what, certs, crls in cases:
        args = [x for c in certs for x in ("--tsa-cert", c)] + \
            [x for c in crls for x in ("--tsa-crl", c)]
        rc, rep = h.verify_report(d.data, *args)
        w = rules(rep, "R-TSA-9", "warning")
        h.check(rc == 0 and set(states(rep).values())
                == {"revocation-unknown"} and len(w) == len(toks)
                and all("unknown" in x["detail"]
                        and says.get(what, "unknown") in x["detail"]
                        for x in w),
                f"a CRL {what}: the revocation status is unknown, the "
                f"tokens not counted (exit {rc}): {rep['findings']}")
        h.check(rep["timestamp_window"] is None
                and not any("existed by" in s
                            for s in rep["statements"]["proven"])
                and any("R-TSA-9" in s
                        for s in rep["statements"]["not_proven"]),
                f"a CRL {what}: nothing is claimed, and the report says "
                "why")
        ref(d.data, args, 0, states(rep))

    # A token of the CA's TSA over a checkpoint that fails (altered, then
    # stamped again): with a status that cannot be told, the token is
    # not called valid.
    st = os.path.join(work, "altered-store")
    shutil.copytree(d.data, st)
    t = sorted(glob.glob(os.path.join(st, "checkpoints", "ckpt-*.tsr")))[-1]
    ck = t[:-len(".tsr")] + ".ckpt"
    with open(ck, "rb") as f:
        text = f.read()
    i = text.index(b"\ntime ") + 10
    with open(ck, "wb") as f:
        f.write(text[:i] + bytes([text[i] ^ 1]) + text[i + 1:])
    q = h.run([tsa.OPENSSL, "ts", "-query", "-data", ck, "-sha256",
               "-cert"])
    h.check(q.returncode == 0, "openssl ts -query")
    with open(t, "wb") as f:
        f.write(auth.reply(q.stdout))
    rc, rep = h.verify_report(st, "--tsa-cert", auth.ca, "--tsa-crl",
                              crl_early)
    f = [x for x in rules(rep, "R-TSA-5", "failure") if x["file"] == t]
    h.check(rc == 1 and states(rep)[t] == "failed" and len(f) == 1
            and "is valid" not in f[0]["detail"]
            and "revocation status is unknown" in f[0]["detail"],
            f"a token over a failing checkpoint, its revocation status "
            f"unknown, is not called valid (exit {rc}): {f}")
    ref(st, ["--tsa-cert", auth.ca, "--tsa-crl", crl_early], 1, states(rep))

    # A TSA under an intermediate CA, which its tokens carry: the store's
    # tokens replaced by this TSA's over the same checkpoints.
    chained = tsa.Authority(work, "chained", intermediate=True)
    st = os.path.join(work, "chained-store")
    shutil.copytree(d.data, st)
    ctoks = sorted(glob.glob(os.path.join(st, "checkpoints", "ckpt-*.tsr")))
    for t in ctoks:
        q = h.run([tsa.OPENSSL, "ts", "-query", "-data",
                   t[:-len(".tsr")] + ".ckpt", "-sha256", "-cert"])
        h.check(q.returncode == 0, "openssl ts -query")
        with open(t, "wb") as f:
            f.write(chained.reply(q.stdout))
    next_second()
    root_good = chained.crl(os.path.join(work, "chained-root.crl"))
    root_rev = chained.crl(os.path.join(work, "chained-root-rev.crl"),
                           [chained.inter], "cACompromise")
    inter_good = chained.crl(os.path.join(work, "chained-inter.crl"),
                             inter=True)
    base = ["--tsa-cert", chained.ca]
    args = base + ["--tsa-crl", root_good, "--tsa-crl", inter_good]
    rc, rep = h.verify_report(st, *args)
    h.check(rc == 0 and set(states(rep).values()) == {"verified"}
            and all(t["revocation"] == "not-revoked"
                    for t in rep["timestamps"]),
            f"a chain through an intermediate, each CA's CRL given: counted "
            f"(exit {rc}): {rep['findings']}")
    ref(st, args, 0, states(rep))
    args = base + ["--tsa-crl", inter_good]
    rc, rep = h.verify_report(st, *args)
    w = rules(rep, "R-TSA-9", "warning")
    h.check(rc == 0 and set(states(rep).values()) == {"revocation-unknown"}
            and w and all("CA certificate" in x["detail"]
                          and "intermediate CA" in x["detail"]
                          and "no CRL of its issuer" in x["detail"]
                          for x in w),
            f"no CRL of the root for the intermediate: unknown, naming the "
            f"intermediate (exit {rc}): {rep['findings']}")
    ref(st, args, 0, states(rep))
    args = base + ["--tsa-crl", root_rev, "--tsa-crl", inter_good]
    rc, rep = h.verify_report(st, *args)
    f = rules(rep, "R-TSA-9", "failure")
    h.check(rc == 1 and set(states(rep).values()) == {"failed"}
            and f and all("the CA certificate" in x["detail"]
                          and "cACompromise" in x["detail"] for x in f),
            f"the intermediate revoked by the root: every token fails "
            f"(exit {rc}): {rep['findings']}")
    ref(st, args, 1, states(rep))
    args = ["--tsa-cert", chained.inter, "--tsa-crl", root_good,
            "--tsa-crl", inter_good]
    rc, rep = h.verify_report(st, *args)
    h.check(rc == 0 and set(states(rep).values()) == {"revocation-unknown"},
            f"the intermediate as the only anchor: its own status is "
            f"unknown (exit {rc}): {rep['findings']}")
    ref(st, args, 0, states(rep))

    # Files that are not CRLs: a clean error, and never a wait on a FIFO.
    fifo = os.path.join(work, "crl.fifo")
    os.mkfifo(fifo)
    for bad, why in ((fifo, "not a regular file"),
                     (auth.ca, "no PEM CRL"),
                     (crl_bundle, "cannot be read"),
                     (os.path.join(work, "absent.crl"), "")):
        r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-cert", auth.ca,
                   "--tsa-crl", bad, d.data], bound_s=10)
        err = r.stderr.decode(errors="replace")
        h.check(r.returncode not in (0, 1) and "--tsa-crl" in err
                and bad in err and why in err,
                f"--tsa-crl {bad}: a clean error (exit {r.returncode}): "
                f"{err}")
    r = h.run([os.environ.get("CUSTODY_PYTHON", "/usr/bin/python3"),
               os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "ref",
                            "tsr_ref.py"), "--tsa-cert", auth.ca,
               "--tsa-crl", crl_bundle, d.data], bound_s=120)
    h.check(r.returncode == 2, f"the reference refuses {crl_bundle} too "
            f"(exit {r.returncode})")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--tsa-crl", crl_good, d.data])
    h.check(r.returncode == 64 or b"--tsa-cert" in r.stderr,
            "--tsa-crl without --tsa-cert is a usage error")
    # The independent check that SPEC R-TSA-8 gives for revocation.
    rc, out = tsa.openssl_verify_revocation(toks[-1], auth.ca, crl_kc)
    h.check(rc != 0 and "revoked" in out,
            f"openssl verify -crl_check_all refuses the revoked TSA:\n{out}")
    rc, out = tsa.openssl_verify_revocation(toks[-1], auth.ca, crl_good)
    h.check(rc == 0, f"... and accepts it unrevoked:\n{out}")
    shutil.rmtree(os.path.join(work, "forger"), ignore_errors=True)


h.main(body, bound_s=200)
