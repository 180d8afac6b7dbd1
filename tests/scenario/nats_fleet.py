"""custody-verify --nats and custody-query --nats against a real
nats-server (one node, JetStream on file storage in a temp directory).

Two simulated stores are published in SPEC section 17's layout by
custody-natspub (what a replicating collector publishes); both tools read
every chain of the stream, or those of --chain, and say where the stores
came from and the stream's last sequence.  Then someone with publish
rights puts block 3 of one chain into the stream again with one byte
flipped and a new Nats-Msg-Id: custody-verify --nats fails naming the
block and both stream sequences (R-REP-8), custody-query --nats shows
every record but that block's.  The private temporary directory is gone
after every run, after an error, and after SIGTERM mid-run.
"""
import glob
import json
import os
import shutil
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


run = h.run_ok


def start_nats(work):
    port = h.free_port()
    sd = os.path.join(work, "js")
    os.mkdir(sd)
    p = h.spawn([NATS_SERVER, "-js", "-sd", sd, "-a", "127.0.0.1", "-p",
                 str(port)], os.path.join(work, "nats.log"))
    h.wait_for(lambda: h.port_accepts(port), 20, "nats-server to listen")
    return p, f"nats://127.0.0.1:{port}"


def no_temp_left(tmp, what):
    left = glob.glob(os.path.join(tmp, "custody-nats.*"))
    h.check(left == [], f"{what}: the private directory is removed "
            f"({left})")


def body():
    work = h.workdir("natsfleet")
    tmp = os.path.join(work, "tmp")
    os.mkdir(tmp)
    env = dict(os.environ, TMPDIR=tmp)
    stores = []
    for name, seed in (("a", 11), ("b", 12)):
        s = os.path.join(work, name)
        r = h.run([h.tool("custody-mkday"), "-n", "900", "-b", "50",
                   "-B", "6", "-S", str(seed), s], bound_s=60)
        h.check(r.returncode == 0, f"custody-mkday writes {name}")
        stores.append(s)
    ca, cb = h.chain_of(stores[0]), h.chain_of(stores[1])
    roots = os.path.join(work, "roots")
    os.mkdir(roots)
    for s in stores:
        shutil.copy(os.path.join(s, "keys", "root.pub"),
                    os.path.join(roots, h.chain_of(s) + ".pub"))

    srv, url = start_nats(work)
    try:
        last = 0
        for s in stores:
            r = run([h.tool("custody-natspub"), "-s", url, s])
            last = int(h.parse_kv(r.stdout.decode())["last_seq"])
        q = h.binary("CUSTODY_QUERY")
        v = h.binary("CUSTODY_VERIFY")

        # The stream read whole equals the stores on disk.
        disk = run([q, "--root-dir", roots, "--json", *stores],
                   env=env).stdout
        r = run([q, "--nats", url, "--root-dir", roots, "--json"], env=env)
        h.check(r.stdout == disk, "custody-query --nats: the same records "
                "as the stores on disk, merged and labelled")
        err = r.stderr.decode()
        h.check(f"chain {ca} read from NATS stream CUSTODY at {url} "
                f"(stream last sequence {last})" in err,
                "custody-query --nats names the stream, the server and "
                "the last sequence")
        no_temp_left(tmp, "custody-query --nats")
        r = run([q, "--nats", url, "--root-dir", roots, "--chain", cb,
                 "--count"], env=env)
        want = run([q, "--count", stores[1]]).stdout
        h.check(r.stdout == want, "--chain: that chain only")

        r = run([v, "--nats", url, "--root-dir", roots], env=env)
        out = r.stdout.decode()
        h.check("fleet: 2 chain(s) intact, 0 failed" in out and
                f"read from NATS stream CUSTODY at {url} (stream last "
                f"sequence {last})" in out,
                "custody-verify --nats: both chains intact, the report "
                "says where they were read from")
        r = run([v, "--nats", url, "--root-dir", roots, "--json"], env=env)
        d = json.loads(r.stdout)
        h.check(all(x["report"]["origin"].startswith(
            f"read from NATS stream CUSTODY at {url}")
            for x in d["reports"]) and
            sorted(x["store"] for x in d["reports"]) == sorted([ca, cb]),
            "--json: each report has its origin and chain")
        r = run([v, "--nats", url, "--root", os.path.join(roots,
                 ca + ".pub"), "--chain", ca], env=env)
        h.check("fleet: 1 chain(s) intact" in r.stdout.decode(),
                "--root with one --chain")
        r = run([v, "--nats", url, "--root-dir", roots, "--chain",
                 "0" * 32], rc_ok=(1,), env=env)
        h.check("1 failed" in r.stdout.decode() and b"no blocks" in
                r.stderr, "a chain the stream lacks: failed, said why")
        no_temp_left(tmp, "custody-verify --nats")

        # A forged copy of block 3 of b, published with a new message id.
        r = run([h.tool("custody-natspub"), "-s", url, "-F", "3:400",
                 stores[1]])
        r = run([v, "--nats", url, "--root-dir", roots], rc_ok=(1,),
                env=env)
        out = r.stdout.decode()
        h.check("fleet: 1 chain(s) intact, 1 failed" in out and
                f"chain {cb}: FAILED" in out and "R-REP-8" in out and
                "block 3 is in the stream twice" in out,
                f"custody-verify --nats: the forged block fails its "
                f"chain, named:\n{out[-1500:]}")
        good = run([q, "--json", "--all", stores[1]]).stdout
        in5 = {json.loads(x)["seq"] for x in good.splitlines()
               if json.loads(x)["block"] == 3}
        h.check(in5, "block 3 holds records")
        r = run([q, "--nats", url, "--root-dir", roots, "--json", "--all",
                 "--chain", cb], rc_ok=(1,), env=env)
        shown = [json.loads(x) for x in r.stdout.splitlines()]
        h.check(not any(o["seq"] in in5 for o in shown) and
                len(shown) == len(good.splitlines()) - len(in5),
                "custody-query --nats shows neither copy of block 3, "
                "every other record")
        h.check(b"block 3" in r.stderr and b"R-REP-8" in r.stderr and
                b"neither is shown" in r.stderr,
                "custody-query --nats says why block 3 is not shown")
        no_temp_left(tmp, "after a failure")
    finally:
        srv.terminate()
        srv.wait(timeout=10)

    # Nothing answers: an error, and nothing left behind.  The server's
    # port, once free, could be bound by a test running beside this one;
    # a port this test holds bound and not listening refuses for sure.
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.bind(("127.0.0.1", 0))
    url = f"nats://127.0.0.1:{hold.getsockname()[1]}"
    r = run([v, "--nats", url, "--root-dir", roots], rc_ok=(2,), env=env)
    hold.close()
    h.check(b"cannot connect" in r.stderr, "no server: exit 2, said why")
    no_temp_left(tmp, "no server")

    # A server that accepts and never answers: SIGTERM mid-run.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    held = []
    stop = threading.Event()

    def accept():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(ls.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    mute = f"nats://127.0.0.1:{ls.getsockname()[1]}"
    p = h.spawn([v, "--nats", mute, "--root-dir", roots],
                os.path.join(work, "mute.log"), env=env)
    h.wait_for(lambda: glob.glob(os.path.join(tmp, "custody-nats.*")) and
               held, 10, "the private directory and the connection")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=10)
    stop.set()
    t.join(timeout=5)
    ls.close()
    h.check(rc == 2, f"SIGTERM mid-run: exit 2 (got {rc})")
    no_temp_left(tmp, "SIGTERM mid-run")


if __name__ == "__main__":
    h.main(body, bound_s=180)
