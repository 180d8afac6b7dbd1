"""Local senders on custodyd's unix socket: who sent each message.

Every datagram on the unix socket is stored with the credentials the
kernel attached to it (SO_PASSCRED), in field 6 in SPEC R-REC-9's form
"ucred pid=P uid=U gid=G": logger run as root and (when this runs as
root) as nobody, a sender whose pid is known, and an rsyslog instance of
this test's own (no PID 1 needed) that takes messages on a socket of its
own with imuxsock and forwards them to custodyd with omuxsock, the way
a host's syslog daemon hands its local logs on, and (as root) a sender
that passes on another process's credentials as journald does with
ForwardToSyslog.  TCP records carry nil.
custody-query --uid and --pid select exactly those records and its JSON
shows the ucred object; the store verifies.

A message without a host field from a local sender is shown (SPEC
section 5's display rule) with the hostname of the run's start record:
custodyd runs, when this runs as root, in a UTS namespace of its own
under another name than the machine's, so the name shown can only have
come from the store, never from the reader's host; raw keeps the bytes
as sent and the parsed host stays empty.
"""
import json
import os
import pwd
import re
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

LOGGER = "/usr/bin/logger"
RSYSLOGD = "/usr/sbin/rsyslogd"
TR_TCP, TR_UNIX = 2, 5
UCRED = re.compile(r"ucred pid=(0|[1-9]\d{0,9}) uid=(0|[1-9]\d{0,9}) "
                   r"gid=(0|[1-9]\d{0,9})")


def logger(d, text, **kw):
    p = subprocess.Popen([LOGGER, "--socket", d.sock, "-t", "local",
                          text], stderr=subprocess.PIPE, **kw)
    _, err = p.communicate(timeout=10 * h.SLOW)
    h.check(p.returncode == 0, f"logger {text!r} exits 0 ({err!r})")
    return p.pid


def rsyslog_forwarder(work, d):
    """An rsyslog of our own: imuxsock on in.sock -> omuxsock to custodyd."""
    rs = os.path.join(work, "rs")
    os.makedirs(rs)
    insock = os.path.join(work, "in.sock")
    conf = os.path.join(work, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write(f'''global(workDirectory="{rs}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{insock}")
module(load="omuxsock")
$OMUxSockSocket {d.sock}
*.* :omuxsock:
''')
    p = h.spawn([RSYSLOGD, "-n", "-f", conf, "-i",
                 os.path.join(work, "rsyslog.pid")],
                os.path.join(work, "rsyslog.log"))
    h.wait_for(lambda: os.path.exists(insock) or p.poll() is not None, 20,
               "rsyslog's input socket")
    h.check(p.poll() is None, "rsyslog runs: " +
            open(os.path.join(work, "rsyslog.log")).read()[-500:])
    return p, insock


def query(d, *args):
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "--json", "-n", "100000",
               *args], bound_s=60)
    h.check(r.returncode == 0, f"custody-query {' '.join(args)} exits 0 "
            f"({r.stderr.decode(errors='replace')[-300:]})")
    return [json.loads(x) for x in r.stdout.decode().splitlines()]


def body():
    for p in (LOGGER, RSYSLOGD):
        if not os.access(p, os.X_OK):
            h.fail(f"{p} is not installed")
    work = h.workdir("local")
    os.chmod(work, 0o755)
    d = h.Daemon(work, udp=False)
    run_host = socket.gethostname()
    if os.geteuid() == 0 and os.access("/usr/bin/unshare", os.X_OK):
        run_host = "custody-run-host"
        argv = d.argv
        d.argv = lambda: ["/usr/bin/unshare", "--uts", "/bin/sh", "-c",
                          f'hostname {run_host} && exec "$@"', "sh",
                          *argv()]
    d.start()
    me = (os.getuid(), os.getgid())
    want = {}  # token -> (uid, gid, pid or None)

    pid = logger(d, "tok-self")
    want["tok-self"] = (*me, pid)
    other = None
    if os.geteuid() == 0:
        try:
            other = pwd.getpwnam("nobody")
        except KeyError:
            pass
    if other is not None:
        pid = logger(d, "tok-nobody", user=other.pw_uid,
                     group=other.pw_gid, extra_groups=[])
        want["tok-nobody"] = (other.pw_uid, other.pw_gid, pid)
    else:
        print("note: not root or no nobody; one local user only")

    # A sender of our own: its pid is exactly this process's.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"<13>Oct 11 22:14:15 direct: tok-direct", d.sock)
    s.close()
    want["tok-direct"] = (*me, os.getpid())

    # As journald forwards: another process's credentials, passed on with
    # the privilege to do so; the kernel lets them through and they are
    # what is recorded.
    if other is not None:
        orig = subprocess.Popen(["sleep", "60"])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendmsg([b"<38>Oct 11 22:14:15 sshd[1]: tok-forwarded"],
                  [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                    struct.pack("=iII", orig.pid, other.pw_uid,
                                other.pw_gid))], 0, d.sock)
        s.close()
        want["tok-forwarded"] = (other.pw_uid, other.pw_gid, orig.pid)
        orig.kill()
        orig.wait()

    rs, insock = rsyslog_forwarder(work, d)
    r = h.run([LOGGER, "--socket", insock, "-t", "viarsyslog",
               "tok-rsyslog"], bound_s=10)
    h.check(r.returncode == 0, "logger to rsyslog's socket")
    want["tok-rsyslog"] = (*me, rs.pid)

    res = h.loadgen(f"tcp://127.0.0.1:{d.port}", 20)
    h.check(res.get("sent") == "20", f"20 over TCP ({res})")
    total = len(want) + 20
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= total,
               20, f"{total} events durable")
    rs.terminate()
    rs.wait(timeout=20 * h.SLOW)
    d.stop()

    _, records = h.read_back(d.data)
    events = [r for r in records if r["kind"] == 0]
    h.check(len(events) == total, f"{total} events stored ({len(events)})")
    for r in events:
        raw = bytes.fromhex(r["raw_hex"])
        if r["transport"] == TR_TCP:
            h.check(r["tls_peer"] is None, "a TCP record has field 6 nil")
            continue
        h.check(r["transport"] == TR_UNIX, f"transport {r['transport']}")
        m = UCRED.fullmatch(r["tls_peer"] or "")
        h.check(m is not None, f"field 6 in R-REC-9's form "
                f"({r['tls_peer']!r})")
        tok = re.search(rb"tok-[a-z]+", raw).group().decode()
        uid, gid, pid = want[tok]
        got = tuple(int(x) for x in m.groups())
        h.check(got == (pid, uid, gid),
                f"{tok}: pid, uid, gid {got} are the sender's "
                f"({(pid, uid, gid)})")
    h.verify(d.data)
    # The independent reference verifier takes field 6 as R-REC-9 has it.
    h.ref_verify(d.data, "the reference verifier accepts the store",
                 bound_s=120)

    # custody-query: --uid, --pid, and the ucred object.
    allj = query(d, "--kind", "event")
    unix = [o for o in allj if o["transport"] == "unix"]
    h.check(len(unix) == len(want) and all(
        o["ucred"] is not None for o in unix) and all(
        o["ucred"] is None for o in allj if o["transport"] != "unix"),
        "JSON: every unix record has ucred, no other has")
    for tok, (uid, gid, pid) in want.items():
        got = query(d, "--pid", str(pid))
        h.check(len(got) == 1 and tok in got[0]["raw"] and
                got[0]["ucred"] == {"pid": pid, "uid": uid, "gid": gid},
                f"--pid {pid}: exactly {tok} ({got})")
    for uid in {w[0] for w in want.values()}:
        got = query(d, "--uid", str(uid))
        toks = sorted(t for t, w in want.items() if w[0] == uid)
        h.check(sorted(re.search(r"tok-[a-z]+", o["raw"]).group()
                       for o in got) == toks,
                f"--uid {uid}: exactly {toks}")
    h.check(query(d, "--uid", "4000000") == [], "--uid of nobody sending: none")

    # The display rule: the run's hostname, beside the fields.
    starts = query(d, "--kind", "start")
    h.check(len(starts) == 1 and starts[0]["detail"]["hostname"] ==
            run_host, f"the start record names the run's host {run_host!r}")
    got = query(d, "--pid", str(os.getpid()))
    h.check(len(got) == 1 and got[0]["host"] is None and
            got[0].get("local_host") == run_host and
            run_host not in got[0]["raw"],
            f"JSON: host null, local_host {run_host!r}, raw as sent ({got})")
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "--utc", "--pid",
               str(os.getpid())], bound_s=60)
    line = r.stdout.decode()
    h.check(r.returncode == 0 and f" {run_host} direct: tok-direct" in line,
            f"short output shows the run's host: {line!r}")
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "-o", "raw", "--pid",
               str(os.getpid())], bound_s=60)
    h.check(r.stdout == b"<13>Oct 11 22:14:15 direct: tok-direct\n",
            f"raw output is the bytes as sent: {r.stdout!r}")
    tcp = [o for o in allj if o["transport"] == "tcp"]
    h.check(tcp and all("local_host" not in o for o in tcp),
            "a network record gets no local_host")


if __name__ == "__main__":
    h.main(body, bound_s=120)
