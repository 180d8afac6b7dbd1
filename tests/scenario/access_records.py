"""Who looked at the logs: access records (SPEC R-ACC-1..4, R-CTL-1..4).

custody-query on the collector's host reports each look at the store on
custodyd's control socket: custodyd seals a begin record (the command
line, the caller's uid, gid and pid as the kernel gives them, the user
name) and an end record (the records shown, the SHA-256 of a bundle
written).  custody-verify counts them.  Clients that send garbage, lines
too long, nothing at all, or too many connections are cut off by bounds
and do not stop ingest nor other clients.  With the daemon stopped,
custody-query says it could not record the access, why, and goes on;
--require-access-record refuses instead.
"""
import hashlib
import json
import os
import pwd
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def query(data, *args, bound_s=30):
    r = h.run([h.binary("CUSTODY_QUERY"), data, *args], bound_s=bound_s)
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def accesses(data):
    """Every access record, as {id: {"begin": detail, "end": detail}}
    (ids restart with each run: a later run's take the place)."""
    rc, out, err = query(data, "--kind", "access", "-n", "all", "-o", "json")
    h.check(rc == 0, f"custody-query --kind access exits 0 ({err})")
    acc = {}
    for line in out.splitlines():
        r = json.loads(line)
        h.check(r["kind"] == "access", f"only access records: {r}")
        det = r["detail"]
        acc.setdefault(det["id"], {})[det["phase"]] = det
    return acc


def find_access(data, marker, with_end=True):
    """The access whose command holds marker, once its records are
    sealed (begin, and end when asked)."""
    for a in accesses(data).values():
        b = a.get("begin")
        if b is not None and marker in b.get("command", "") and \
                (not with_end or "end" in a):
            return a
    return None


def connect(path):
    """A connection, retried while the listen backlog is full (EAGAIN)
    until custodyd accepts."""
    def attempt():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except BlockingIOError:
            s.close()
            return None
        s.settimeout(20 * h.SLOW)
        return s
    return h.wait_for(attempt, 10, "a connection to the control socket")


def recv_all(s):
    """What the daemon sends until it closes the connection; a close
    with unread bytes (a reset) loses what it sent: b"reset"."""
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            return b"reset"
        if not chunk:
            return data
        data += chunk


def body():
    work = h.workdir("access")
    d = h.Daemon(work, udp=False, unix=False).start()
    sock = os.path.join(d.data, "control.sock")
    h.check(oct(os.stat(sock).st_mode & 0o777) == "0o660",
            "the control socket is mode 0660 (R-CTL-1)")
    res = h.loadgen(f"tcp://127.0.0.1:{d.port}", 100)
    h.check(res.get("sent") == "100", f"100 sent ({res})")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 100, 20,
               "100 events durable")

    # A query on the collector's host: begin and end sealed.
    rc, out, err = query(d.data, "--kind", "event", "-n", "all", "-o",
                         "json", "--peer", "127.0.0.1")
    h.check(rc == 0 and len(out.splitlines()) == 100 and
            "could not record" not in err,
            f"the query shows 100 events and records its access ({err})")
    a = h.wait_for(lambda: find_access(d.data, "--peer 127.0.0.1"), 20,
                   "the query's access records to be sealed")
    uid = os.getuid()
    b, e = a["begin"], a["end"]
    h.check(b["uid"] == uid and b["gid"] == os.getgid() and b["pid"] > 0
            and e["pid"] == b["pid"], f"the kernel's ids are sealed: {b}")
    try:
        name = pwd.getpwuid(uid).pw_name
        h.check(b.get("user") == name, f"the user name {name}: {b}")
    except KeyError:
        h.check("user" not in b, "no user name for a uid without one")
    h.check(re.search(r"custody-query \S+ --kind event -n all -o json "
                      r"--peer 127.0.0.1$", b["command"]) is not None,
            f"the command line: {b['command']!r}")
    h.check(e.get("shown") == 100 and "bundle" not in e,
            f"the end record says 100 records were shown: {e}")

    # A bundle export: its SHA-256 in the end record.
    bundle = os.path.join(work, "ev.cbundle")
    rc, _, err = query(d.data, "--kind", "event", "--seq", "3..5",
                       "--bundle", bundle)
    h.check(rc == 0, f"the bundle is written ({err})")
    with open(bundle, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    a = h.wait_for(lambda: find_access(d.data, "--bundle"), 20,
                   "the bundle's access records")
    h.check(a["end"].get("bundle") == digest and a["end"]["shown"] == 3,
            f"the end record holds the bundle's SHA-256: {a['end']}")

    # Hostile clients on the control socket (R-CTL-3).
    garbage = connect(sock)
    garbage.sendall(b"\x00\xffnot a command\n")
    h.check(recv_all(garbage).startswith(b"error "),
            "garbage is answered with an error and the connection closed")
    long_line = connect(sock)
    try:
        long_line.sendall(b"begin " + b"x" * 5000)
    except OSError:
        pass
    got = recv_all(long_line)
    h.check(b"longer than 4096" in got or got == b"reset",
            "a line over 4096 bytes is refused and the connection closed")
    idle = [connect(sock) for _ in range(70)]
    # The 65th and later are closed at once; the first 64 stay until
    # their begin line is late.
    extra = idle[64:]
    for s in extra:
        h.check(recv_all(s) == b"", "a connection over the bound is closed")
    res = h.loadgen(f"tcp://127.0.0.1:{d.port}", 200)
    h.check(res.get("sent") == "200", f"ingest goes on meanwhile ({res})")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 300, 20,
               "300 events durable while clients stall")
    for s in idle[:64]:
        h.check(recv_all(s) == b"", "a silent client is cut after the "
                "begin timeout")
    rc, _, err = query(d.data, "--kind", "event", "-c", "--grep-fixed",
                       "after stall's")
    h.check(rc == 0 and "could not record" not in err,
            f"a query after the stall records its access ({err})")
    a = h.wait_for(lambda: find_access(d.data, "after stall"), 20,
                   "the access after the stall")
    h.check(a["begin"]["command"].endswith("""--grep-fixed 'after stall'\\''s'"""),
            f"an argument with a space and a quote, shell-quoted: "
            f"{a['begin']['command']!r}")
    # A begun access whose client goes away ends with a reason.
    # Its words cannot forge the ids: the kernel's are sealed (R-CTL-1).
    s = connect(sock)
    s.sendall(b"begin uid=4242 gid=4242 pid=1 hand-made client\n")
    h.check(re.match(rb"ok \d+\n", s.recv(64)) is not None, "begin: ok ID")
    s.close()
    a = h.wait_for(lambda: find_access(d.data, "hand-made client"), 20,
                   "the abandoned access's end record")
    h.check("shown" not in a["end"] and "closed" in a["end"]["reason"],
            f"an access closed early ends with a reason: {a['end']}")
    h.check(a["begin"]["uid"] == os.getuid() and
            a["begin"]["gid"] == os.getgid() and
            a["begin"]["pid"] == os.getpid(),
            f"the ids sealed are the kernel's, not the message's: "
            f"{a['begin']}")

    d.stop()
    h.check(not os.path.exists(sock), "the socket is removed at stop")

    # The daemon is stopped: a warning with the reason, and go on.
    rc, out, err = query(d.data, "--kind", "event", "-c")
    h.check(rc == 0 and out.strip() == "300" and
            "could not record this access" in err and
            "No such file or directory" in err,
            f"no daemon: a warning with errno's text, then the query "
            f"({rc}, {out.strip()}, {err.strip()})")
    rc, out, err = query(d.data, "--kind", "event", "-c",
                         "--require-access-record")
    h.check(rc == 2 and out == "" and "--require-access-record" in err,
            f"--require-access-record refuses and shows nothing ({rc}, "
            f"{err.strip()})")

    # A daemon killed leaves its socket: refused, said so; the next start
    # replaces it and records again.
    d.start()
    h.wait_for(lambda: os.path.exists(sock), 10, "the control socket")
    d.kill()
    h.check(os.path.exists(sock), "a killed daemon leaves its socket")
    rc, out, err = query(d.data, "--kind", "event", "-c")
    h.check(rc == 0 and "could not record this access" in err and
            "Connection refused" in err,
            f"a stale socket: a warning with errno's text ({err.strip()})")
    d.start()
    rc, _, err = query(d.data, "--kind", "event", "-c", "--grep-fixed",
                       "after restart")
    h.check(rc == 0 and "could not record" not in err,
            f"the restarted daemon replaced the stale socket ({err})")
    h.wait_for(lambda: find_access(d.data, "after restart"), 20,
               "the access after the restart")
    d.stop()
    rc, out, _ = query(d.data, "--kind", "access", "-c")
    n_access = int(out)

    # The reference verifier, which follows SPEC alone, accepts kind 10.
    h.ref_verify(d.data, "the reference verifier accepts access records",
                 bound_s=120)

    # custody-verify counts them, in text and JSON.
    text = h.verify(d.data)
    h.check(f"{n_access} access records" in text,
            f"custody-verify counts {n_access} access records:\n{text}")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--json", d.data], bound_s=60)
    rep = json.loads(r.stdout)
    h.check(json.dumps(rep).count(f'"access_records": {n_access}') == 1,
            f"the JSON report has access_records {n_access}")


if __name__ == "__main__":
    h.main(body, bound_s=120)
