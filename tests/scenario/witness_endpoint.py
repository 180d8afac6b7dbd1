"""custodyd as a witness (SPEC section 14): POST /add-checkpoint over TLS.

A log made here (tests/scenario/lib/tlog.py, from SPEC and C2SP alone)
submits checkpoints to the real custodyd:

  cosigned (200): a first checkpoint (old 0), then one with a valid
    consistency proof; each answer is one cosignature/v1 line that
    verifies with the verifier key `custodyd keygen --witness-key`
    printed (R-WIT-4);
  refused, never cosigned (R-WIT-2): a stale old size (409 with
    text/x.tlog.size and the witness's size), a rollback to a smaller
    tree (409), a spoiled proof (422), a forked tree (422), a checkpoint
    signed by another key (403), an unknown log (404); bad HTTP (GET
    405, chunked 501, no Content-Length 411) and plain text on the port
    (sealed as a refusal record, kind 9, as on tls:// listeners).

Each refused checkpoint is sealed in the witness's own chain as a kind
11 record whose details match the request (R-WIT-7); the refused bodies
signed by the log are kept in witness/refused/ named by their SHA-256,
the forged and unknown ones are not.  After a restart the witness still
holds the size it cosigned (R-WIT-3).  custody-verify and the reference
verifier take the store with its witness records.
"""
import hashlib
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402
import tlog  # noqa: E402

KIND_WITNESS = 11


def raw_http(port, ca, data):
    """Sends data over TLS as it is; returns the status line."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(data)
            out = b""
            while True:
                try:
                    chunk = t.recv(4096)
                except (ssl.SSLError, OSError):
                    break
                if not chunk:
                    break
                out += chunk
    return out.split(b"\r\n", 1)[0].decode(errors="replace")


def body():
    work = h.workdir("witness")
    certs = tlscerts.Certs(work)
    wkey = os.path.join(work, "witness.key")
    r = h.run([h.binary("CUSTODYD"), "keygen", "--witness-key", wkey,
               "--name", "witness.test/w1"])
    h.check(r.returncode == 0, "keygen --witness-key: "
            + r.stderr.decode(errors="replace"))
    wvk = r.stdout.decode().strip()
    h.check(oct(os.stat(wkey).st_mode & 0o777) == "0o600",
            "the witness key is mode 0600")
    log = tlog.Log("custody/" + "ab" * 16, seed=b"\x01" * 32)
    other = tlog.Log("custody/" + "cd" * 16, seed=b"\x02" * 32)
    impostor = tlog.Log(log.origin, seed=b"\x03" * 32)
    log.grow(40)
    other.grow(5)
    forked = log.leaves[:7] + [tlog.leaf_hash(b"forged %d" % i)
                               for i in range(7, 40)]
    port = h.free_port()
    conf = (f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"[witness]\nlisten = https://127.0.0.1:{port}\nkey = {wkey}\n"
            f"log = {log.vkey()}\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    # --check takes the witness's files and keys as the start would.
    r = h.run(d.argv() + ["--check"])
    h.check(r.returncode == 0, "--check accepts the witness configuration: "
            + r.stderr.decode(errors="replace"))
    with open(d.config, "a") as f:
        f.write(f"log = {wvk}\n")
    r = h.run(d.argv() + ["--check"])
    h.check(r.returncode == 1 and b"witness.log" in r.stderr,
            "--check refuses a witness key given as a log's key: "
            + r.stderr.decode(errors="replace"))
    with open(d.config, "w") as f:
        f.write(conf)
    d.start()
    h.wait_for(lambda: h.port_accepts(port), 10, "the witness port")

    def post(b):
        return tlog.post(port, certs.ca, b)

    st, ctype, out = post(log.request(0, 5))
    h.check(st == 200, f"a first checkpoint is cosigned ({st} {out!r})")
    line = out.decode()
    h.check(line.count("\n") == 1 and
            tlog.cosig_ok(wvk, log.text(5).encode(), line),
            f"the answer is one cosignature/v1 line that verifies "
            f"({line!r})")
    st, _, out = post(log.request(5, 9))
    h.check(st == 200 and tlog.cosig_ok(wvk, log.text(9).encode(),
                                        out.decode()),
            f"a consistent checkpoint is cosigned ({st} {out!r})")

    refused = []   # (status, old, size, evidence expected)
    st, ctype, out = post(log.request(0, 12))
    h.check(st == 409 and ctype == "text/x.tlog.size" and out == b"9\n",
            f"a stale old size: 409, the witness's size ({st} {ctype} "
            f"{out!r})")
    refused.append((409, 0, 12, True))
    st, _, out = post(log.request(3, 3))
    h.check(st == 409 and out == b"9\n",
            f"a rollback to size 3: 409 ({st} {out!r})")
    refused.append((409, 3, 3, True))
    st, _, out = post(log.request(9, 14, spoil=True))
    h.check(st == 422, f"a spoiled proof: 422 ({st} {out!r})")
    refused.append((422, 9, 14, True))
    st, _, out = post(log.request(9, 14, leaves=forked))
    h.check(st == 422, f"a forked tree: 422 ({st} {out!r})")
    refused.append((422, 9, 14, True))
    st, _, out = post(log.request(9, 14, signer=impostor.sk))
    h.check(st == 403, f"another key's signature: 403 ({st} {out!r})")
    refused.append((403, 9, 14, False))
    st, _, out = post(other.request(0, 5))
    h.check(st == 404, f"an unknown log: 404 ({st} {out!r})")
    refused.append((404, 0, 5, False))

    for data, want in (
            (b"GET /add-checkpoint HTTP/1.1\r\nHost: x\r\n\r\n", "405"),
            (b"POST /add-checkpoint HTTP/1.1\r\nTransfer-Encoding: chunked"
             b"\r\n\r\n0\r\n\r\n", "501"),
            (b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n\r\n", "411")):
        status = raw_http(port, certs.ca, data)
        h.check(want in status, f"bad HTTP answered {want} ({status!r})")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /add-checkpoint HTTP/1.1\r\n\r\n")
        s.settimeout(10)
        try:
            got = s.recv(4096)
        except OSError:
            got = b""
        h.check(b"HTTP/1.1" not in got,
                "plain text on the witness port gets no HTTP answer")

    m = d.metrics()
    h.check(m.get('custody_witness_answers_total{status="200"}') == 2 and
            m.get('custody_witness_answers_total{status="409"}') == 2 and
            m.get('custody_witness_answers_total{status="422"}') == 2,
            "the answers are counted by status")
    h.check(m.get("custody_witness_bad_requests_total") == 3,
            "bad HTTP is counted")

    # The state is durable: after a restart, 9 is still what was cosigned.
    d.stop()
    d.start()
    h.wait_for(lambda: h.port_accepts(port), 10, "the witness port again")
    st, _, out = post(log.request(0, 20))
    h.check(st == 409 and out == b"9\n",
            f"after a restart the witness still holds size 9 ({st} {out!r})")
    refused.append((409, 0, 20, True))
    # SIGHUP (configuration re-read, new segment) leaves the witness be.
    d.proc.send_signal(signal.SIGHUP)
    h.wait_for(lambda: d.metrics().get("custody_reloads_total", 1) >= 1 and
               "reload" in d.log_text().lower(), 10, "the reload")
    st, _, out = post(log.request(9, 20))
    h.check(st == 200, f"and cosigns from it, after a SIGHUP ({st} {out!r})")
    d.stop()

    rc, summary, records = h.check_store(d.data, dump=True)
    h.check(rc == 0, f"the witness's store reads back ({summary['text']})")
    recs = [r for r in records if r["kind"] == KIND_WITNESS]
    h.check(len(recs) == len(refused),
            f"one witness record per refused checkpoint ({len(recs)} of "
            f"{len(refused)})")
    refdir = os.path.join(d.data, "witness", "refused")
    for (status, old, size, evid), r in zip(refused, recs):
        det = r["detail"]
        h.check(det["status"] == status and det["old"] == old and
                det["size"] == size and det["peer"].startswith("127.0.0.1:")
                and det["reason"] != "" and r["transport"] == 0,
                f"the record states status, sizes, peer, reason ({det})")
        if status == 404:
            h.check(det["origin"] == other.origin, "the unknown origin "
                    "is named")
        else:
            h.check(det["origin"] == log.origin, "the origin is named")
        if evid:
            h.check("evidence" in det, f"the evidence is named ({det})")
            with open(os.path.join(refdir, det["evidence"]), "rb") as f:
                data = f.read()
            h.check(hashlib.sha256(data).hexdigest() ==
                    det["request_sha256"] and data.startswith(b"old "),
                    "the evidence file is the refused request body")
        else:
            h.check("evidence" not in det,
                    f"no evidence kept for a {status} ({det})")
    # Plain text on the witness port: a refusal record (R-REC-8).
    tls_refused = [r for r in records if r["kind"] == 9]
    h.check(len(tls_refused) == 1 and
            tls_refused[0]["detail"]["listener"] == f"https://127.0.0.1:{port}"
            and tls_refused[0]["detail"]["reason"] == "not TLS (plain text)",
            f"plain text on the witness port is sealed as a refusal "
            f"({[r['detail'] for r in tls_refused]})")
    h.verify(d.data)
    h.ref_verify(d.data, "the reference verifier says intact")


if __name__ == "__main__":
    h.main(body, bound_s=90)
