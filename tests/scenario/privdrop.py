"""custodyd started as root drops to server.user once its sockets are bound.

Started as root with `user = nobody`, the running daemon's real, effective,
saved and file-system ids are nobody's and its only group is nobody's
primary group (/proc/PID/status), yet it still receives over TCP and the
unix socket, stores every message, and the store verifies; a second start
on that store (recovery, the keys) works the same.  Started as root
without a user, it refuses with a message naming server.user and
server.allow_root; given a store that belongs to root, it refuses before
touching it and says whose it must be.  Skipped unless run as root.
"""
import os
import pwd
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

USER = "nobody"
LOGGER = "/usr/bin/logger"


def ids(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]
    return None


def refusals(work, pw):
    # Root without user or allow_root: a refusal, not a root daemon.
    data = os.path.join(work, "data-root")
    r = h.run([h.binary("CUSTODYD"), "--data-dir", data, "--listen",
               "tcp://127.0.0.1:0", "--metrics", "none"], bound_s=20)
    err = r.stderr.decode(errors="replace")
    h.check(r.returncode == 1 and "server.user" in err and
            "server.allow_root" in err and not os.path.exists(data),
            f"as root without server.user: refused, nothing made (exit "
            f"{r.returncode}): {err.strip()[-300:]}")
    # A store of root's: refused, with what to do.
    os.makedirs(data, mode=0o700)
    r = h.run([h.binary("CUSTODYD"), "--data-dir", data, "--listen",
               "tcp://127.0.0.1:0", "--metrics", "none", "--set",
               f"server.user={USER}"], bound_s=20)
    err = r.stderr.decode(errors="replace")
    h.check(r.returncode == 1 and f"chown -R {USER}" in err and
            os.listdir(data) == [],
            f"a store owned by root with user = {USER}: refused before it "
            f"is touched (exit {r.returncode}): {err.strip()[-300:]}")
    r = h.run([h.binary("CUSTODYD"), "--data-dir", data, "--listen",
               "tcp://127.0.0.1:0", "--metrics", "none", "--set",
               "server.user=no-such-user-custody"], bound_s=20)
    h.check(r.returncode == 1 and b"no user" in r.stderr,
            f"an unknown user is refused (exit {r.returncode})")


def run_once(d, pw, tag):
    d.start()
    pid = d.pid
    uids, gids = ids(pid, "Uid"), ids(pid, "Gid")
    groups = ids(pid, "Groups")
    h.check(uids == [pw.pw_uid] * 4 and gids == [pw.pw_gid] * 4,
            f"{tag}: custodyd runs as {USER} after start (Uid {uids}, "
            f"Gid {gids}; want {pw.pw_uid}, {pw.pw_gid})")
    h.check(groups == [pw.pw_gid],
            f"{tag}: its only group is {USER}'s primary one ({groups})")
    h.check(f"running as {USER}" in d.log_text(),
            f"{tag}: the log says whom it runs as")
    res = h.loadgen(f"tcp://127.0.0.1:{d.port}", 500)
    h.check(res.get("sent") == "500", f"{tag}: 500 sent over TCP ({res})")
    for i in range(5):
        r = h.run([LOGGER, "-u", d.sock, "-t", "privdrop",
                   f"{tag} local {i}"], bound_s=10)
        h.check(r.returncode == 0, f"{tag}: logger to the unix socket")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 505, 20,
               f"{tag}: 505 events durable")
    d.stop()


def body():
    if os.geteuid() != 0:
        print("SKIP: not root; dropping privileges needs root")
        return
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        print(f"SKIP: no user {USER}")
        return
    work = h.workdir("privdrop")
    os.chmod(work, 0o755)
    refusals(work, pw)

    d = h.Daemon(work, config=f"[server]\nuser = {USER}\n", udp=False)
    os.makedirs(d.data, mode=0o700)
    os.chown(d.data, pw.pw_uid, pw.pw_gid)
    run_once(d, pw, "first start")
    run_once(d, pw, "second start")

    # Everything the daemon made is the user's.
    for root, dirs, files in os.walk(d.data):
        for n in dirs + files:
            st = os.lstat(os.path.join(root, n))
            h.check(st.st_uid == pw.pw_uid,
                    f"{os.path.join(root, n)} belongs to {USER}")
    _, records = h.read_back(d.data)
    events = [r for r in records if r["kind"] == 0]
    h.check(len(events) == 1010, f"every message stored ({len(events)})")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=120)
