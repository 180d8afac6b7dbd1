"""Bad framing inside TLS keeps every byte the kernel had, as over TCP.

A TLS client sends, in one write of ciphertext, an octet count past the
64 MiB limit followed by 64 KiB of lines: several TLS records, all in the
kernel before custodyd reads the first.  The framing error is counted
once and the connection closed, but only after what follows the bad
count, decrypted record after record, is in the store flagged as a
framing error, byte for byte (nothing of it discarded); custody-verify
says the chain is intact.
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402

TR_TLS = 3
F_FRAMING = 8


def tls_connect(port, ca):
    """A handshake over memory BIOs, so that the ciphertext of what
    follows can go out in one write."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10 * h.SLOW)
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(65536)
            if not data:
                h.fail("custodyd closed during the handshake")
            inc.write(data)
    sock.sendall(out.read())
    return sock, obj, out


def body():
    work = h.workdir("tls-framing")
    certs = tlscerts.Certs(work)
    port = h.free_port()
    conf = f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
    d = h.Daemon(work, config=conf, tcp=False, udp=False, unix=False)
    url = f"tls://127.0.0.1:{port}"
    d.listeners.append(url)
    d.start()
    h.wait_for(lambda: h.port_accepts(port), 10, "the TLS listener")

    tail = b"".join(b"after the bad count, line %05d\n" % i
                    for i in range(2000))
    bad = b"99999999 " + tail
    sock, obj, out = tls_connect(port, certs.ca)
    with sock:
        obj.write(bad)
        ct = out.read()
        h.check(len(ct) > len(bad), f"{len(bad)} bytes in several TLS "
                f"records ({len(ct)} bytes of ciphertext)")
        sock.sendall(ct)
        sock.settimeout(30 * h.SLOW)
        try:
            while sock.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        h.check(closed, "custodyd closes the connection with bad framing")
    h.wait_for(lambda: d.metric("custody_framing_errors_total") == 1, 10,
               "the framing error to be counted once")
    discarded = d.metric("custody_discarded_bytes_total")
    d.stop()

    _, records = h.read_back(d.data)
    flagged = [r for r in records
               if r["kind"] == 0 and r["flags"] & F_FRAMING]
    kept = b"".join(bytes.fromhex(r["raw_hex"]) for r in flagged)
    h.check(kept == bad and discarded == 0,
            f"all {len(bad)} bytes after the bad count are kept, flagged "
            f"({len(kept)} kept, {discarded:.0f} discarded)")
    h.check(all(r["transport"] == TR_TLS for r in flagged),
            "over transport tls")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=60)
