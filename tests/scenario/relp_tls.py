"""rsyslog's omrelp over TLS (OpenSSL) to a relp+tls:// listener.

custodyd requires a client certificate from the test CA ([tls] ca) and
allows only name:*.senders.example; rsyslog checks that the server's
certificate names localhost.  After every message is acknowledged and both
have stopped cleanly: every message is in the store exactly once, its raw
bytes as rsyslog took them in, transport relp (4) with tls_peer the
sender's certificate (R-REC-7, R-RELP-2).  Before that, a sender that
speaks RELP in clear on the TLS port and one with a certificate the allow
list refuses are each cut, counted in custody_tls_refused_total and
sealed as refusal records (R-REC-8), nothing of theirs recorded as an
event.  custody-loadgen then sends LG_N more over four relp+tls://
connections, all acknowledged, and check_store finds its manifest's
messages whole; custody-verify says the chain is intact.
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import relp_peer as rp  # noqa: E402
import tlscerts  # noqa: E402

N = 2000
LG_N = 20000
LG_CONNS = 4
KIND_REFUSAL = 9
OPEN = (b"1 open 85 relp_version=0\nrelp_software=test\n"
        b"commands=syslog\n")


def cut_in_clear(port):
    """A RELP open in clear on the TLS port: cut, unanswered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(OPEN)
        s.settimeout(10 * h.SLOW)
        try:
            got = s.recv(4096)
        except ConnectionResetError:
            got = b""
        h.check(b"rsp" not in got, "RELP in clear on relp+tls:// is "
                f"cut unanswered (got {got[:60]!r})")


def refused_cert(port, certs, cert):
    """A certificate the allow list refuses: the handshake or the first
    read fails, and no RELP answer comes."""
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.load_cert_chain(cert[0], cert[1])
    got = b""
    try:
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=10 * h.SLOW) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(OPEN)
                got = s.recv(4096)
    except (ssl.SSLError, ConnectionError, socket.timeout):
        pass
    h.check(b"rsp" not in got, "a certificate outside the allow list gets "
            f"no RELP answer (got {got[:60]!r})")


def clean_close(port, certs, cert):
    """open, then close: the answer, then our close_notify before the end
    of the stream, so the sender can tell a close from a cut (Python's
    ssl raises SSLEOFError on an end without it)."""
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.load_cert_chain(cert[0], cert[1])
    # Python sets this by default; without it an end with no
    # close_notify is the error it is.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    got = b""
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=10 * h.SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            offers = b"relp_version=0\nrelp_software=test\ncommands=syslog"
            s.sendall(b"1 open %d %s\n2 close 0\n" % (len(offers), offers))
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            except ssl.SSLError as e:
                h.fail(f"relp+tls:// ended without close_notify: {e} "
                       f"(after {got!r})")
            except socket.timeout:
                h.fail(f"relp+tls:// not closed after close ({got!r})")
    h.check(b"1 rsp " in got and b"2 rsp 0" in got,
            f"open and close answered ({got!r})")
    h.check(True, "the session ends with the collector's close_notify")


def body():
    work = h.workdir("relp-tls")
    certs = tlscerts.Certs(work)
    conf = ("[store]\ncommit_interval = 20ms\n"
            f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"ca = {certs.ca}\nallow = name:*.senders.example\n")
    d = h.Daemon(work, config=conf, tcp=False, udp=False, unix=False)
    url = f"relp+tls://127.0.0.1:{d.port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP/TLS listener")

    cut_in_clear(d.port)
    other = certs.issue("other", "other.example", ["DNS:other.example"])
    refused_cert(d.port, certs, other)
    h.wait_for(lambda: d.metric("custody_tls_refused_total") >= 2, 10,
               "both refusals counted")

    cert = certs.issue("rsyslog-relp", "rsyslog-relp.senders.example",
                       ["DNS:rsyslog-relp.senders.example"])
    clean_close(d.port, certs, cert)
    rs = rp.Rsyslog(work, d.port, tls=(certs.ca, cert[0], cert[1])).start()
    lines = rp.numbered(N, "relp-tls")
    rs.send(lines)
    h.wait_for(lambda: d.metric("custody_relp_acked_total") >= N, 60,
               f"{N} RELP acknowledgements over TLS (rsyslog log: "
               f"{rs.dir}/log)")
    h.check(d.metric("custody_relp_acked_total") == N,
            "each message acknowledged once")
    h.check(d.metric("custody_tls_refused_total") == 2,
            "only the two refused senders counted")
    rs.stop()

    lg_cert = certs.issue("loadgen", "loadgen.senders.example",
                          ["DNS:loadgen.senders.example"])
    man = os.path.join(work, "loadgen.manifest")
    r = h.run([h.tool("custody-loadgen"), "-t", url, "-c", str(LG_CONNS),
               "-n", str(LG_N), "-s", "300", "-g", "relptls", "-m", man,
               "-T", str(40 * h.SLOW), "--cert", lg_cert[0], "--key",
               lg_cert[1], "--ca", certs.ca], bound_s=50)
    h.check(r.returncode == 0, "custody-loadgen sends over relp+tls:// "
            f"({r.stderr.decode(errors='replace')[-500:]})")
    h.check(d.metric("custody_relp_acked_total") == N + LG_N,
            f"custody-loadgen's {LG_N} messages acknowledged")
    d.stop()

    rc, summary, _ = h.check_store(d.data, [man])
    h.check(rc == 0, f"check_store with the loadgen manifest: "
            f"{summary['text']}")
    rc, summary, records = h.check_store(d.data, dump=True)
    h.check(rc == 0, f"check_store: {summary['text']}")
    records = [r for r in records if not (r["kind"] == rp.KIND_EVENT and
               r["tls_peer"] and "CN=loadgen." in r["tls_peer"])]
    events = rp.relp_events(records)
    raws = [bytes.fromhex(r["raw_hex"]) for r in events]
    h.check(len(raws) == N and raws == lines,
            f"every message stored once, in order, bytes intact "
            f"({len(raws)} events for {N} sent)")
    ident = "sha256:" + tlscerts.fingerprint(cert[0]) + " "
    h.check(all(r["transport"] == rp.TR_RELP and r["flags"] == 0 and
                r["listener"] == url and
                (r["tls_peer"] or "").startswith(ident) and
                "CN=rsyslog-relp.senders.example" in r["tls_peer"]
                for r in events),
            f"transport relp, no flag, the listener's URL, tls_peer the "
            f"sender's certificate ({events[0]['tls_peer']!r})")
    refusals = [r for r in records if r["kind"] == KIND_REFUSAL]
    h.check(len(refusals) == 2, f"two refusal records ({len(refusals)})")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=120)
