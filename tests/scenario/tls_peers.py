"""rsyslog and syslog-ng forwarding to custodyd over mutual TLS (RFC 5425).

Each sender runs as a self-contained instance (its own config and work
directory, on loopback ports): it takes plain lines on a local TCP port
from this test and forwards each with a template of the message alone,
octet-counted over TLS, with a client certificate of its own:

  rsyslog omfwd, StreamDriver ossl, auth mode x509/certvalid
  rsyslog omfwd, StreamDriver gtls, auth mode x509/name (the server's
    certificate must name localhost)
  syslog-ng syslog() destination, transport(tls), peer-verify (it wraps
    each message in an RFC 5424 header of its own: the stored bytes must
    be that header, the message whole, and syslog-ng's newline)

custodyd requires a certificate from the test CA ([tls] ca) and allows
only name:*.senders.example.  Every message must be stored exactly once,
its bytes exactly those sent, transport 3, tls_peer that sender's
certificate; custody-verify says the store is intact.

syslog-ng conflicts with rsyslog as a Debian package: like
bench/compare.sh, it is used unpacked (dpkg-deb -x) from
$CUSTODY_SYSLOG_NG_ROOT, $BENCH_WORK/peers/syslog-ng (what
bench/compare.sh leaves) or /usr/sbin/syslog-ng; when none is there the
test fetches syslog-ng-core itself (apt-get download, dpkg-deb -x into
$BENCH_WORK/peers/syslog-ng-core; its libraries are in make deps).  Only
when the package cannot be had is that one sender left out, said so on
the output.
"""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402

RSYSLOGD = "/usr/sbin/rsyslogd"
N = 200


def rs_moddir():
    for d in glob.glob("/usr/lib/*/rsyslog"):
        if os.path.exists(os.path.join(d, "imptcp.so")):
            return d
    h.fail("rsyslog's modules are not installed (package rsyslog)")


def bench_peers():
    return os.path.join(os.environ.get("BENCH_WORK", "/tmp/custody-bench"),
                        "peers")


# apt-get download and update together, at most: the test's own time
# bound (h.main) must still hold everything else on a slow network.
APT_BUDGET_S = 60


def apt_download(pkg, into):
    """apt-get download pkg into the directory into; True if it came."""
    deadline = time.monotonic() + APT_BUDGET_S
    for attempt in range(2):
        try:
            r = subprocess.run(["apt-get", "download", pkg], cwd=into,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               timeout=max(1, deadline - time.monotonic()))
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"apt-get download {pkg}: {e}", flush=True)
            return False
        if r.returncode == 0 and glob.glob(os.path.join(into, "*.deb")):
            return True
        print(f"apt-get download {pkg}: "
              f"{r.stderr.decode(errors='replace').strip()[-500:]}",
              flush=True)
        # A fresh machine may have no package lists yet (root only).
        if attempt > 0 or os.geteuid() != 0:
            return False
        try:
            subprocess.run(["apt-get", "update", "-qq"],
                           timeout=max(1, deadline - time.monotonic()),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"apt-get update: {e}", flush=True)
            return False
    return False


def unpack_syslog_ng(root):
    """dpkg-deb -x syslog-ng-core into root, as bench/compare.sh does.

    Unpacked beside root and renamed into place, so that a run stopped
    half way or one running at the same time never leaves a partial tree.
    Returns root, or None when the package cannot be had.
    """
    os.makedirs(os.path.dirname(root), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".syslog-ng.", dir=os.path.dirname(root))
    try:
        debs = os.path.join(tmp, "debs")
        tree = os.path.join(tmp, "root")
        os.makedirs(debs)
        os.makedirs(tree)
        if not apt_download("syslog-ng-core", debs):
            return None
        for deb in glob.glob(os.path.join(debs, "*.deb")):
            r = h.run(["dpkg-deb", "-x", deb, tree], bound_s=120)
            if r.returncode != 0:
                h.fail(f"dpkg-deb -x {deb}: "
                       f"{r.stderr.decode(errors='replace')}")
        try:
            os.rename(tree, root)
        except OSError:
            pass  # another run put it there first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def syslog_ng_root():
    """Where syslog-ng is (fetched if need be), or None: cannot be had."""
    own = os.path.join(bench_peers(), "syslog-ng-core")
    for root in (os.environ.get("CUSTODY_SYSLOG_NG_ROOT"),
                 os.path.join(bench_peers(), "syslog-ng"), own, "/"):
        if root and os.access(os.path.join(root, "usr/sbin/syslog-ng"),
                              os.X_OK):
            return root
    if os.environ.get("CUSTODY_SYSLOG_NG_ROOT"):
        h.fail("CUSTODY_SYSLOG_NG_ROOT has no usr/sbin/syslog-ng")
    root = unpack_syslog_ng(own)
    if root is None or not os.access(os.path.join(root,
                                                  "usr/sbin/syslog-ng"),
                                     os.X_OK):
        return None
    return root


def start_rsyslog(work, name, driver, auth, cert, certs, port, in_port):
    d = os.path.join(work, name)
    os.makedirs(d, mode=0o700)
    moddir = rs_moddir()
    for so in (f"lmnsd_{driver}.so",):
        if not os.path.exists(os.path.join(moddir, so)):
            h.fail(f"rsyslog's {driver} driver is missing (package "
                   f"rsyslog-{'openssl' if driver == 'ossl' else 'gnutls'})")
    peers = ' StreamDriverPermittedPeers="localhost"' \
        if auth == "x509/name" else ""
    with open(os.path.join(d, "rsyslog.conf"), "w") as f:
        f.write(f"""
global(workDirectory="{d}" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="{certs.ca}"
       DefaultNetstreamDriverCertFile="{cert[0]}"
       DefaultNetstreamDriverKeyFile="{cert[1]}")
module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="{in_port}" ruleset="fwd")
template(name="raw" type="string" string="%rawmsg%")
ruleset(name="fwd") {{
    action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
           TCP_Framing="octet-counted" template="raw"
           StreamDriver="{driver}" StreamDriverMode="1"
           StreamDriverAuthMode="{auth}"{peers})
}}
""")
    h.spawn([RSYSLOGD, "-n", "-M", moddir, "-f",
             os.path.join(d, "rsyslog.conf"), "-i",
             os.path.join(d, "rsyslog.pid")], os.path.join(d, "log"))
    return os.path.join(d, "log")


def start_syslog_ng(root, work, cert, certs, port, in_port):
    d = os.path.join(work, "syslog-ng")
    os.makedirs(d, mode=0o700)
    libdir = os.path.join(root, "usr/lib/syslog-ng")
    moddir = sorted(glob.glob(os.path.join(libdir, "3.*")))[-1]
    version = os.path.basename(moddir)
    with open(os.path.join(d, "syslog-ng.conf"), "w") as f:
        f.write(f"""@version: {version}
options {{ stats-freq(0); }};
source s_in {{ network(ip("127.0.0.1") port({in_port}) transport("tcp")
    flags(no-parse)); }};
destination d_out {{ syslog("127.0.0.1" port({port}) transport("tls")
    template("${{MESSAGE}}")
    tls(ca-file("{certs.ca}") key-file("{cert[1]}") cert-file("{cert[0]}")
        peer-verify(required-trusted))); }};
log {{ source(s_in); destination(d_out); flags(flow-control); }};
""")
    env = dict(os.environ, LD_LIBRARY_PATH=libdir,
               SYSLOGNG_PREFIX=os.path.join(root, "usr"))
    h.spawn([os.path.join(root, "usr/sbin/syslog-ng"), "-F", "--no-caps",
             "-f", os.path.join(d, "syslog-ng.conf"),
             f"--module-path={moddir}", f"--persist-file={d}/persist",
             f"--pidfile={d}/pid", f"--control={d}/ctl"],
            os.path.join(d, "log"), env=env)
    return os.path.join(d, "log")


def body():
    if not os.access(RSYSLOGD, os.X_OK):
        h.fail("rsyslogd is not installed (package rsyslog)")
    work = h.workdir("tls-peers")
    certs = tlscerts.Certs(work)
    tls_port = h.free_port()
    conf = (f"[tls]\ncert = {certs.server_cert}\nkey = {certs.server_key}\n"
            f"ca = {certs.ca}\nallow = name:*.senders.example\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    url = f"tls://127.0.0.1:{tls_port}"
    d.listeners.append(url)
    d.start()

    peers = [("rsyslog-ossl", "ossl", "x509/certvalid"),
             ("rsyslog-gtls", "gtls", "x509/name")]
    sng_root = syslog_ng_root()
    if sng_root is not None:
        peers.append(("syslog-ng", None, None))
    else:
        print("SKIPPED sender syslog-ng: the package syslog-ng-core "
              "cannot be downloaded here (apt-get download failed) and no "
              "unpacked copy exists; set CUSTODY_SYSLOG_NG_ROOT to a "
              "dpkg-deb -x of it", flush=True)
    senders = {}
    for name, driver, auth in peers:
        cert = certs.issue(name, f"{name}.senders.example",
                           [f"DNS:{name}.senders.example"])
        in_port = h.free_port()
        if driver:
            log = start_rsyslog(work, name, driver, auth, cert, certs,
                                tls_port, in_port)
        else:
            log = start_syslog_ng(sng_root, work, cert, certs, tls_port,
                                  in_port)
        senders[name] = (cert, in_port, log)
    for name, (cert, in_port, log) in senders.items():
        def up(p=in_port, lg=log, n=name):
            if any(p2.poll() is not None for p2 in h._procs[1:]):
                with open(lg, errors="replace") as f:
                    h.fail(f"{n} exited:\n{f.read()[-2000:]}")
            return h.port_accepts(p)
        h.wait_for(up, 20, f"{name} to listen")

    sent = {}
    for name, (cert, in_port, log) in senders.items():
        msgs = [b"<13>1 2026-01-02T03:04:05Z host app 42 ID - via %s "
                b"%04d ok" % (name.encode(), i) for i in range(N)]
        with socket.create_connection(("127.0.0.1", in_port)) as s:
            s.sendall(b"".join(m + b"\n" for m in msgs))
        sent[name] = (cert, msgs)

    def arrived():
        return d.received(url) >= N * len(senders)
    h.wait_for(arrived, 60, f"{N * len(senders)} messages over TLS "
               "(sender logs: " + ", ".join(s[2] for s in senders.values())
               + ")")
    h.check(d.metric("custody_tls_refused_total") == 0, "no refusal")
    d.stop()
    _, records = h.read_back(d.data)
    events = [r for r in records if r["kind"] == 0]
    by_raw = {}
    # syslog-ng's syslog() puts the template in an RFC 5424 message of its
    # own, ending in a newline; what was sent is its MSG, whole.
    wrapped = re.compile(rb"<13>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                         rb"[+-]\d\d:\d\d \S+ - - - - (.*)\n", re.S)
    for ev in events:
        raw = bytes.fromhex(ev["raw_hex"])
        m = wrapped.fullmatch(raw)
        if m and b" via syslog-ng " in raw:
            raw = m.group(1)
        by_raw.setdefault(raw, []).append(ev)
    for name, (cert, msgs) in sent.items():
        ident = "sha256:" + tlscerts.fingerprint(cert[0]) + " "
        bad = [m for m in msgs if len(by_raw.get(m, [])) != 1]
        h.check(not bad, f"{name}: all {len(msgs)} messages stored exactly "
                f"once, byte for byte ({len(bad)} not; first "
                f"{bad[:1]!r})")
        evs = [by_raw[m][0] for m in msgs]
        h.check(all(e["transport"] == 3 and e["listener"] == url and
                    (e["tls_peer"] or "").startswith(ident) and
                    f"CN={name}.senders.example" in e["tls_peer"]
                    for e in evs),
                f"{name}: transport tls, tls_peer its certificate "
                f"({evs[0]['tls_peer']!r})")
    h.check(len(events) == N * len(senders),
            f"nothing else stored ({len(events)} events)")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=150)
