"""rsyslog as a RELP sender (omrelp), unprivileged and self-contained.

rsyslogd runs with its own configuration and work directory under the
test's work dir: it takes LF-framed lines on an imptcp port and forwards
each one's raw bytes (%rawmsg%, no LF) over RELP, retrying for ever
(action.resumeRetryCount=-1) so that a collector that dies and comes back
gets everything librelp has not seen acknowledged.

omrelp corks its socket (TCP_CORK) for a batch and uncorks at the batch's
end: a batch larger than the RELP window would leave the window's last
frames in the cork, for up to 200 ms each time, while librelp waits for
their answers.  Batches here are a quarter of the window.
"""
import os
import socket

import harness as h

RSYSLOGD = "/usr/sbin/rsyslogd"
TR_RELP = 4
KIND_EVENT = 0


def moddir():
    for d in ("/usr/lib/x86_64-linux-gnu/rsyslog",
              "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"):
        if os.path.exists(os.path.join(d, "omrelp.so")):
            return d
    h.fail("rsyslog's omrelp is not installed (packages rsyslog, "
           "rsyslog-relp)")


class Rsyslog:
    def __init__(self, work, relp_port, tls=None):
        """tls: None, or (ca, cert, key) paths for RELP over TLS with
        OpenSSL, checking that the server's certificate names localhost."""
        if not os.access(RSYSLOGD, os.X_OK):
            h.fail("rsyslogd is not installed (package rsyslog)")
        self.dir = os.path.join(work, "rsyslog")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.port = h.free_port()
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        tls_params = ""
        if tls is not None:
            tls_params = f"""
           tls="on" tls.tlslib="openssl" tls.caCert="{tls[0]}"
           tls.myCert="{tls[1]}" tls.myPrivKey="{tls[2]}"
           tls.authMode="name" tls.permittedPeer=["localhost"]"""
        with open(self.conf, "w") as f:
            f.write(f"""
global(workDirectory="{self.dir}" maxMessageSize="8k")
module(load="imptcp")
module(load="omrelp")
input(type="imptcp" address="127.0.0.1" port="{self.port}" ruleset="fwd")
template(name="raw" type="string" string="%rawmsg%")
ruleset(name="fwd" queue.type="LinkedList" queue.size="200000"
        queue.dequeueBatchSize="128") {{
    action(type="omrelp" target="127.0.0.1" port="{relp_port}"
           template="raw" windowSize="512" action.resumeRetryCount="-1"
           action.resumeInterval="1"{tls_params})
}}
""")
        self.proc = None

    def start(self):
        self.proc = h.spawn([RSYSLOGD, "-n", "-f", self.conf, "-i",
                             os.path.join(self.dir, "rsyslog.pid"), "-M",
                             moddir()], os.path.join(self.dir, "log"))
        h.wait_for(lambda: self._up(), 20, "rsyslogd to listen")
        return self

    def _up(self):
        if self.proc.poll() is not None:
            h.fail(f"rsyslogd exited {self.proc.returncode}:\n"
                   + self.log_text())
        return h.port_accepts(self.port)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def send(self, lines):
        """Sends lines (bytes, no LF) to rsyslog's imptcp input."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=10) as s:
            s.sendall(b"".join(line + b"\n" for line in lines))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15 * h.SLOW)
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=10)


def numbered(n, tag):
    """n distinct RFC 5424 lines whose number is their index."""
    return [b"<134>1 2026-01-02T03:04:05.000006Z relp-host app 77 "
            b"ID%d - " % (i % 10) + tag.encode() + b" n=%06d" % i
            for i in range(n)]


def relp_events(records):
    return [r for r in records if r["kind"] == KIND_EVENT]
