"""Replication and restore over TLS with client certificates (SPEC
section 17): a NATS server that asks every client for a certificate its
CA signed takes custodyd's blocks (replicate.tls_cert, tls_key, tls_ca)
and gives them back to custody-restore (--tls-cert, --tls-key, --tls-ca);
the restored store verifies.  Without a client certificate the server
refuses custody-restore, which says it could not connect (exit 2).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402
import tlscerts  # noqa: E402

CONFIG = """\
[replicate]
servers = {url}
tls_cert = {cert}
tls_key = {key}
tls_ca = {ca}
"""


def body():
    work = h.workdir("reptls")
    certs = tlscerts.Certs(work)
    cert, key = certs.issue("collector", "collector.example.org")
    cl = nc.Cluster(work, n=1, tls={"cert": certs.server_cert,
                                    "key": certs.server_key,
                                    "ca": certs.ca})
    cl.client_tls = {"cert": cert, "key": key, "ca": certs.ca}
    cl.start()
    h.check(cl.url.startswith("tls://"), f"NATS over TLS at {cl.url}")
    d = h.Daemon(work, config=CONFIG.format(url=cl.url, cert=cert, key=key,
                                            ca=certs.ca),
                 udp=False, unix=False).start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", 3000, conns=2)
    h.wait_for(lambda: d.metrics().get("custody_events_durable_total", 0)
               >= 3000 and d.metrics().get(
               "custody_replicate_backlog_blocks") == 0 and d.metrics().get(
               "custody_replicate_connected") == 1, 30,
               "the blocks published over TLS")
    d.stop()
    root = os.path.join(d.data, "keys", "root.pub")
    with open(root) as f:
        chain = f.read().split()[1]
    out = os.path.join(work, "restored")
    r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--tls-cert",
               cert, "--tls-key", key, "--tls-ca", certs.ca, "--chain",
               chain, out], bound_s=60)
    h.check(r.returncode == 0, "custody-restore over TLS: "
            + (r.stdout + r.stderr).decode(errors="replace").strip())
    h.verify(out, ["--root", root])
    r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--tls-ca",
               certs.ca, "--timeout", "2000", "--chain", chain,
               os.path.join(work, "refused")], bound_s=60)
    out = (r.stdout + r.stderr).decode(errors="replace").strip()
    h.check(r.returncode == 2 and "cannot connect" in out,
            "without a client certificate the server refuses: " + out)


if __name__ == "__main__":
    h.main(body, bound_s=120)
