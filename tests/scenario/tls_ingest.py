"""Syslog over TLS (RFC 5425) into the real custodyd, with openssl s_client.

Certificates are made here: a CA, the server's, clients'.  custodyd's
[tls] names the CA (every client must present a certificate chaining to
it) and allows name:*.example.org and one pinned fingerprint.

Accepted: s_client over TLS 1.2 and 1.3 with an allowed certificate (by
name, and by fingerprint) sends octet-counted messages: each is stored
exactly once, raw bytes intact, transport 3, tls_peer the certificate's
identity (R-REC-7).

Refused (R-REC-8), nothing of theirs stored as an event, each counted in
custody_tls_refused_total and sealed as a refusal record with its reason:
a CA-signed certificate the allow list does not match, a client without
a certificate, an expired certificate, a self-signed one, plain text
sent to the TLS port, and a handshake left unfinished past the idle
timeout.  Then SIGHUP loads a new server certificate while a
connection stays open: the open one goes on, a new one sees the new
certificate.  custody-verify and the reference verifier (tests/ref) say
the store is intact.
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402

TR_TLS = 3


def s_client(port, ca, msgs, cert=None, key=None, version=None):
    """openssl s_client: sends msgs octet-counted, closes; its exit code."""
    argv = [tlscerts.OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}",
            "-CAfile", ca, "-verify_return_error", "-quiet", "-no_ign_eof"]
    if cert:
        argv += ["-cert", cert, "-key", key]
    if version:
        argv.append(version)
    r = h.run(argv, bound_s=20, input=tlscerts.octet(msgs))
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def body():
    work = h.workdir("tls")
    certs = tlscerts.Certs(work)
    good = certs.issue("client1", "client1.example.org",
                       ["DNS:client1.example.org"])
    pinned = certs.issue("pinned", "pinned.example.net",
                         ["DNS:pinned.example.net"])
    other = certs.issue("other", "intruder.example.net",
                        ["DNS:intruder.example.net"])
    expired = certs.issue("expired", "old.example.org",
                          ["DNS:old.example.org"], days=-1)
    rogue = certs.issue("rogue", "client1.example.org",
                        ["DNS:client1.example.org"], self_signed=True)
    tls_port = h.free_port()
    conf = (f"[input]\nidle_timeout = 2s\n"
            f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"ca = {certs.ca}\nallow = name:*.example.org\n"
            f"allow = sha256:{tlscerts.fingerprint(pinned[0])}\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    url = f"tls://127.0.0.1:{tls_port}"
    # --check loads the certificates as a start would: a key others can
    # read is refused (as formats/keys.c refuses secret keys).
    check = [h.binary("CUSTODYD"), "--check", "--config", d.config,
             "--data-dir", d.data, "--listen", url]
    os.chmod(certs.server_key, 0o640)
    r = h.run(check)
    h.check(r.returncode == 1 and b"0600" in r.stderr,
            f"--check refuses a key readable by the group ({r.stderr!r})")
    os.chmod(certs.server_key, 0o600)
    r = h.run(check)
    h.check(r.returncode == 0, f"--check passes ({r.stderr!r})")
    d.listeners.append(url)
    d.start()

    sent = {}
    for name, (cert, key), version in (("v12", good, "-tls1_2"),
                                       ("v13", good, "-tls1_3"),
                                       ("pin", pinned, None)):
        msgs = [b"<13>1 - host app - - - tls %s %03d \xc3\xa9 end" %
                (name.encode(), i) for i in range(50)]
        msgs.append(b"<14>1 - host app - - - tls %s multi\nline" %
                    name.encode())
        rc, out = s_client(tls_port, certs.ca, msgs, cert, key, version)
        h.check(rc == 0, f"s_client {name} exits 0 ({out[-500:]})")
        sent[name] = (cert, msgs)
    total = sum(len(m) for _, m in sent.values())
    h.wait_for(lambda: d.received(url) >= total, 20,
               f"{total} messages received over TLS")

    refused_tokens = []

    def refused_client(name, cert, key):
        tok = f"refused-{name}".encode()
        refused_tokens.append(tok)
        s_client(tls_port, certs.ca, [b"<13>1 - host app - - - " + tok],
                 cert, key)

    refused_client("other", *other)
    refused_client("nocert", None, None)
    refused_client("expired", *expired)
    refused_client("rogue", *rogue)
    tok = b"refused-plain"
    refused_tokens.append(tok)
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
        s.sendall(tlscerts.octet([b"<13>1 - host app - - - " + tok]))
        s.settimeout(5)
        try:
            h.check(s.recv(100) == b"", "plain text: the connection is "
                    "closed")
        except ConnectionResetError:
            pass
    # A handshake begun and never finished is cut at idle_timeout.
    stall = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    stall.sendall(b"\x16\x03\x01")
    try:
        h.check(stall.recv(100) == b"", "a stalled handshake is cut")
    except ConnectionResetError:
        pass
    stall.close()
    h.wait_for(lambda: d.metric("custody_tls_refused_total") >= 6, 20,
               "6 refusals counted")

    # SIGHUP with a new server certificate: an open connection goes on.
    keep = ssl.create_default_context(cafile=certs.ca)
    keep.load_cert_chain(*good)
    held = keep.wrap_socket(socket.create_connection(
        ("127.0.0.1", tls_port), timeout=5), server_hostname="localhost")
    old_fpr = held.getpeercert(binary_form=True)
    new_cert, new_key = certs.issue("server2", "localhost",
                                    ["DNS:localhost", "IP:127.0.0.1"],
                                    server=True)
    with open(d.config, "w") as f:
        f.write(conf.replace(certs.server_cert, new_cert)
                .replace(certs.server_key, new_key))
    d.proc.send_signal(1)

    def new_cert_served():
        c = ssl.create_default_context(cafile=certs.ca)
        c.load_cert_chain(*good)
        with c.wrap_socket(socket.create_connection(
                ("127.0.0.1", tls_port), timeout=5),
                server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True) != old_fpr
    h.wait_for(new_cert_served, 20, "the reloaded certificate served")
    after = [b"<13>1 - host app - - - after reload, same connection"]
    held.sendall(tlscerts.octet(after))
    held.close()
    sent["held"] = (good[0], after)
    total += 1
    h.wait_for(lambda: d.received(url) >= total, 20,
               "the held connection's message")
    refusals = d.metric("custody_tls_refused_total")
    h.check(refusals == 6, f"exactly 6 refusals counted ({refusals})")

    d.stop()
    _, records = h.read_back(d.data)
    events = [r for r in records if r["kind"] == 0]
    raws = [bytes.fromhex(r["raw_hex"]) for r in events]
    for name, (cert, msgs) in sent.items():
        ident = "sha256:" + tlscerts.fingerprint(cert)
        for m in msgs:
            hits = [i for i, raw in enumerate(raws) if raw == m]
            h.check(len(hits) == 1, f"{name}: {m!r} stored exactly once, "
                    f"byte for byte (found {len(hits)})")
            ev = events[hits[0]]
            h.check(ev["transport"] == TR_TLS and ev["flags"] == 0 and
                    ev["listener"] == url,
                    f"{name}: transport {ev['transport']}, flags "
                    f"{ev['flags']}, listener {ev['listener']}")
            tp = ev["tls_peer"] or ""
            h.check(tp.startswith(ident + " ") and "CN=" in tp,
                    f"{name}: tls_peer is the certificate ({tp!r})")
    for tok in refused_tokens:
        h.check(not any(tok in raw for raw in raws),
                f"{tok.decode()}: nothing stored as an event")
    refs = [r for r in records if r["kind"] == 9]
    reasons = [r["detail"]["reason"] for r in refs]
    print("refusal reasons:", reasons, flush=True)
    h.check(len(refs) == 6 and all(r["transport"] == 0 for r in refs) and
            all(r["detail"]["listener"] == url and
                r["detail"]["peer"].startswith("127.0.0.1:")
                for r in refs),
            f"6 refusal records, listener and peer named ({reasons})")
    for want in ("certificate not allowed", "certificate: certificate has "
                 "expired", "not TLS (plain text)",
                 "handshake not finished within input.idle_timeout"):
        h.check(any(r == want for r in reasons),
                f"a refusal says {want!r} ({reasons})")
    h.check(sum(r.startswith("handshake: ") or r.startswith("certificate: ")
                for r in reasons) >= 3,
            f"the missing, expired and self-signed certificates fail the "
            f"handshake ({reasons})")
    allowed_not = [r for r in refs if r["detail"]["reason"] ==
                   "certificate not allowed"][0]
    h.check(allowed_not["detail"].get("cert", "").startswith(
        "sha256:" + tlscerts.fingerprint(other[0])),
        "the refused certificate is named by its fingerprint")
    h.verify(d.data)
    # The independent reader of SPEC takes the refusal kind and tls_peer.
    h.ref_verify(d.data, "the reference verifier says intact")


if __name__ == "__main__":
    h.main(body, bound_s=120)
