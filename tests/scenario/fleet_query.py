"""custody-query and custody-verify over several stores (a fleet).

Three simulated days from custody-mkday (two with the same receive times,
so that ties are broken by chain id), whose truth files say what each
store holds: the merged output must be exactly the union in receive-time
order (recv_ns, then chain id, then sequence number), each record labelled
with its chain, under -n, -n +N, --reverse, --since/--until, filters, and
every -o form.  Root keys come from --root-dir (a .pub and a .fpr); a
store whose chain has no key there is refused.  A flipped payload byte in
one store hides that block's records only, and custody-verify --root-dir
reports that chain failed and the others intact.  Then two real custodyd
stores, fed alternately: the union, labelled by the store each message
was sent to.
"""
import base64
import json
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

NS = 10**9


run = h.run_ok


def query(args, rc_ok=(0,), env=None):
    return run([h.binary("CUSTODY_QUERY"), *args], rc_ok, env)


def verify(args, rc_ok=(0,)):
    return run([h.binary("CUSTODY_VERIFY"), *args], rc_ok)


def mkday(work, name, seed, n):
    store = os.path.join(work, name)
    truth = store + ".truth"
    r = h.run([h.tool("custody-mkday"), "-n", str(n), "-b", "50", "-B", "8",
               "-S", str(seed), "-T", truth, store], bound_s=60)
    h.check(r.returncode == 0, f"custody-mkday writes {name}")
    chain = h.chain_of(store)
    recs = []
    with open(truth) as f:
        for line in f:
            seq, t, kind, host, app, sev, fac, peer, user, raw = \
                line.rstrip("\n").split("\t")
            recs.append(dict(chain=chain, seq=int(seq), t=int(t),
                             kind=int(kind), host=host, app=app,
                             sev=int(sev), raw=bytes.fromhex(raw)))
    return store, recs


def key(r):
    return (r["t"], bytes.fromhex(r["chain"]), r["seq"])


def merged(*lists, pred=lambda r: r["kind"] == 0):
    return sorted((r for lst in lists for r in lst if pred(r)), key=key)


def ids_json(out):
    got = []
    for line in out.splitlines():
        o = json.loads(line)
        got.append((o["chain"], o["seq"]))
    return got


def ids(recs):
    return [(r["chain"], r["seq"]) for r in recs]


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // NS)) + \
        f".{t % NS:09d}Z"


def key_fpr(store):
    """The root key's fingerprint as custody-verify prints it."""
    r = verify(["--json", store])
    return json.loads(r.stdout)["root"]["fingerprint"]


def test_days(work, env):
    a, ra = mkday(work, "a", 1, 1200)
    b, rb = mkday(work, "b", 2, 1200)
    c, rc = mkday(work, "c", 3, 500)
    ca, cb, cc = h.chain_of(a), h.chain_of(b), h.chain_of(c)
    h.check(len({ca, cb, cc}) == 3, "three chains")
    h.check(any(x["t"] == y["t"] for x, y in zip(ra, rb)),
            "a and b share receive times (ties to break)")
    roots = os.path.join(work, "roots")
    os.mkdir(roots)
    shutil.copy(os.path.join(a, "keys", "root.pub"),
                os.path.join(roots, ca + ".pub"))
    shutil.copy(os.path.join(b, "keys", "root.pub"),
                os.path.join(roots, cb + ".pub"))
    with open(os.path.join(roots, cc + ".fpr"), "w") as f:
        f.write(key_fpr(c) + "\n")
    stores = [a, b, c]
    base = ["--root-dir", roots, "--utc"]

    want = merged(ra, rb, rc)
    r = query([*base, "--json", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(want),
            f"the merge is the union in (recv_ns, chain, seq) order "
            f"({len(want)} records)")
    # The order given on the command line does not matter.
    r2 = query([*base, "--json", c, a, b], env=env)
    h.check(r2.stdout == r.stdout, "the stores' order does not matter")
    r = query([*base, "--json", "--all", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(merged(ra, rb, rc,
                                             pred=lambda r: True)),
            "--all: the collectors' own records merged too")

    r = query([*base, "--json", "-n", "25", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(want[-25:]),
            "-n 25: the newest 25 of the fleet, oldest first")
    r = query([*base, "--json", "-n", "+7", "-r", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(want[:7][::-1]),
            "-n +7 -r: the oldest 7, newest first")
    r = query([*base, "--json", "-r", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(want[::-1]), "-r: newest first")
    r = query([*base, "--json", "-n", "30", "-r", *stores], env=env)
    h.check(ids_json(r.stdout) == ids(want[::-1][:30]),
            "-n 30 -r: the newest 30, newest first")
    t0 = ra[0]["t"]
    lo, hi = t0 + 6 * 3600 * NS, t0 + 7 * 3600 * NS
    r = query([*base, "--json", "--since", iso(lo), "--until", iso(hi),
               *stores], env=env)
    h.check(ids_json(r.stdout) == ids([x for x in want
                                       if lo <= x["t"] < hi]),
            "--since/--until on the merged stream")
    busy = max({x["host"] for x in want if x["host"] != "-"},
               key=lambda n: sum(1 for x in want if x["host"] == n))
    r = query([*base, "--json", "--host", busy, "-p", "warning", *stores],
              env=env)
    sel = [x for x in want if x["host"] == busy and 0 <= x["sev"] <= 4]
    h.check(ids_json(r.stdout) == ids(sel), "filters on the merged stream")
    r = query([*base, "--count", "--host", busy, *stores], env=env)
    h.check(int(r.stdout) == sum(1 for x in want if x["host"] == busy),
            "--count: the fleet's total")

    # Every text form names the chain; raw stays the bytes received.
    short = {"a": ca[:8], "b": cb[:8], "c": cc[:8]}
    for mode in ("short", "short-iso", "short-precise", "cat"):
        r = query([*base, "-o", mode, "-n", "+40", *stores], env=env)
        lines = r.stdout.decode().splitlines()
        h.check(len(lines) == 40 and
                [ln[1:9] for ln in lines] == [x["chain"][:8]
                                              for x in want[:40]] and
                all(ln[0] == "[" and ln[9:11] == "] " for ln in lines),
                f"-o {mode}: each line starts with [<chain>]")
    r = query([*base, "-o", "verbose", "-n", "+3", *stores], env=env)
    got = [ln.split("=", 1)[1] for ln in r.stdout.decode().splitlines()
           if ln.startswith("    chain=")]
    h.check(got == [x["chain"] for x in want[:3]],
            "-o verbose: a chain= line per record")
    r = query([*base, "-o", "json-pretty", "-n", "+2", *stores], env=env)
    h.check(r.stdout.count(b'"chain"') == 2, "-o json-pretty: chain keys")
    r = query([*base, "--raw", "-n", "+20", *stores], env=env)
    h.check(r.stdout == b"".join(x["raw"].rstrip(b"\n") + b"\n"
                                 for x in want[:20]),
            "--raw: the bytes as received, merged, unlabelled")
    h.check(len(set(short.values())) == 3, "short labels differ")

    # One store: no label, as before.
    r = query(["--json", "-n", "+1", a], env=env)
    h.check(b'"chain"' not in r.stdout, "one store: no chain key")

    # Keys.
    r = query(["--root-dir", roots, "--root", os.path.join(a, "keys",
              "root.pub"), a, b], rc_ok=(2,), env=env)
    h.check(b"--root-dir" in r.stderr, "--root with several stores: "
            "refused, naming --root-dir")
    partial = os.path.join(work, "partial")
    os.mkdir(partial)
    shutil.copy(os.path.join(roots, ca + ".pub"), partial)
    r = query(["--root-dir", partial, a, b], rc_ok=(2,), env=env)
    h.check(r.stdout == b"" and cb.encode() in r.stderr and
            b"no root key" in r.stderr,
            "a chain without a key in --root-dir: refused, named, nothing "
            "shown")
    wrong = os.path.join(work, "wrong")
    os.mkdir(wrong)
    with open(os.path.join(wrong, ca + ".fpr"), "w") as f:
        f.write("0" * 32 + "\n")
    r = query(["--root-dir", wrong, a], rc_ok=(2,), env=env)
    h.check(b"fingerprint" in r.stderr, "a store key without the "
            "fingerprint given: refused")
    swapped = os.path.join(work, "swapped")
    os.mkdir(swapped)
    shutil.copy(os.path.join(roots, ca + ".pub"),
                os.path.join(swapped, cb + ".pub"))
    r = query(["--root-dir", swapped, b], rc_ok=(2,), env=env)
    h.check(b"another chain" in r.stderr, "a key file named for another "
            "chain: refused")

    # A store whose keys/root.pub was swapped for another member's: the
    # other chain's key is chosen, and nothing of the store verifies.
    liar = os.path.join(work, "b-liar")
    shutil.copytree(b, liar, ignore=shutil.ignore_patterns("index"))
    shutil.copy(os.path.join(a, "keys", "root.pub"),
                os.path.join(liar, "keys", "root.pub"))
    r = query(["--root-dir", roots, "--json", liar], rc_ok=(1, 2),
              env=env)
    h.check(r.stdout == b"", f"a store claiming another chain's key shows "
            f"nothing (exit {r.returncode})")
    r = verify(["--root-dir", roots, a, liar], rc_ok=(1,))
    h.check("1 chain(s) intact, 1 failed" in r.stdout.decode(),
            "custody-verify: the store claiming another chain fails")

    r = query(["--root-dir", roots, a, b, a], rc_ok=(2,), env=env)
    h.check(r.stdout == b"" and b"same chain" in r.stderr,
            "one chain given twice: refused, not every record twice")

    # Bundles: one per chain.
    prefix = os.path.join(work, "ev")
    r = query([*base, "--bundle", prefix, "--since", iso(lo), "--until",
               iso(hi), *stores], env=env)
    for s, ch in ((a, ca), (b, cb), (c, cc)):
        path = f"{prefix}-{ch}.cbnd"
        h.check(os.path.exists(path), f"--bundle PREFIX writes {path}")
        v = verify(["--bundle", path, "--root",
                    os.path.join(s, "keys", "root.pub"), "--json",
                    "--records"])
        n = sum(1 for x in want if x["chain"] == ch and lo <= x["t"] < hi)
        h.check(v.stdout.count(b'"seq"') >= n,
                f"the bundle of {ch[:8]} verifies with its own key and "
                f"holds its {n} records")

    # custody-verify over the fleet.
    r = verify(["--root-dir", roots, *stores])
    out = r.stdout.decode()
    h.check("fleet: 3 chain(s) intact, 0 failed, 0 not checked" in out and
            all(f"chain {ch}: INTACT" in out for ch in (ca, cb, cc)),
            "custody-verify --root-dir: one report per chain, all intact")
    r = verify(["--root-dir", roots, "--json", *stores])
    d = json.loads(r.stdout)
    h.check(d["fleet"] == {"chains": 3, "intact": 3, "failed": 0,
                           "not_checked": 0} and
            [x["report"]["verdict"] for x in d["reports"]] ==
            ["intact"] * 3, "custody-verify --root-dir --json")
    r = verify(["--root-dir", partial, a, b], rc_ok=(2,))
    h.check("1 not checked" in r.stdout.decode() and
            b"no root key" in r.stderr,
            "custody-verify: a chain without a key is not checked, exit 2")
    r = verify([a, b], rc_ok=(2,))
    h.check(b"--root-dir" in r.stderr, "several stores need --root-dir")
    return a, b, c, ra, rb, rc, roots


def test_tamper(work, a, b, c, ra, rb, rc, roots, env):
    bad = os.path.join(work, "b-bad")
    shutil.copytree(b, bad, ignore=shutil.ignore_patterns("index"))
    seg = os.path.join(bad, "segments", sorted(
        os.listdir(os.path.join(bad, "segments")))[0])
    off, cert, pay = h.segment_frames(seg)[3]
    with open(seg, "r+b") as f:
        f.seek(off + 224 + cert + pay // 2)
        x = f.read(1)
        f.seek(off + 224 + cert + pay // 2)
        f.write(bytes([x[0] ^ 0x40]))
    good = query(["--json", "--all", b], env=env)
    in_block = {json.loads(ln)["seq"] for ln in good.stdout.splitlines()
                if json.loads(ln)["block"] == 3}
    h.check(in_block, "block 3 of b holds records")
    cb = h.chain_of(b)
    want = [x for x in merged(ra, rb, rc)
            if not (x["chain"] == cb and x["seq"] in in_block)]
    r = query(["--root-dir", roots, "--json", a, bad, c], rc_ok=(1,),
              env=env)
    h.check(ids_json(r.stdout) == ids(want),
            "a tampered block's records are not shown; every other "
            "record of the fleet is, in order")
    err = r.stderr.decode(errors="replace")
    h.check("INTEGRITY FAILURE" in err and "block 3" in err and
            "b-bad" in err, f"the failure names the store and block:\n{err}")
    r = verify(["--root-dir", roots, a, bad, c], rc_ok=(1,))
    out = r.stdout.decode()
    h.check("fleet: 2 chain(s) intact, 1 failed, 0 not checked" in out and
            f"chain {cb}: FAILED" in out,
            "custody-verify --root-dir: the tampered chain failed, the "
            "others intact, exit 1")


def test_collectors(work, env):
    """Two real collectors fed alternately: the union, labelled."""
    ds = [h.Daemon(os.path.join(work, f"d{i}"), udp=False,
                   unix=False) for i in range(2)]
    for d in ds:
        os.makedirs(d.work, exist_ok=True)
        d.start()
    conns = [socket.create_connection(("127.0.0.1", d.port)) for d in ds]
    sent = {0: [], 1: []}
    for i in range(400):
        k = (i // 7) % 2
        m = (f"<134>1 2024-06-01T12:00:00Z host{k} app - - - fleet "
             f"message {i}").encode()
        conns[k].sendall(f"{len(m)} ".encode() + m)
        sent[k].append(m)
    for c in conns:
        c.close()

    def count(d):
        r = query(["--count", d.data], rc_ok=(0, 1), env=env)
        return int(r.stdout or b"0")

    for k, d in enumerate(ds):
        h.wait_for(lambda: count(d) >= len(sent[k]), 20,
                   f"collector {k} to seal its messages")
        d.stop()
    roots = os.path.join(work, "croots")
    os.mkdir(roots)
    chains = []
    for d in ds:
        ch = h.chain_of(d.data)
        chains.append(ch)
        shutil.copy(os.path.join(d.data, "keys", "root.pub"),
                    os.path.join(roots, ch + ".pub"))
    r = query(["--root-dir", roots, "--json", ds[0].data, ds[1].data],
              env=env)
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    got = sorted((o["chain"], o["raw"].encode()) for o in objs)
    exp = sorted((chains[k], m) for k in (0, 1) for m in sent[k])
    h.check(got == exp, "every message once, labelled with the chain of "
            "the collector it was sent to")
    keys = [(o["recv_ns"], bytes.fromhex(o["chain"]), o["seq"])
            for o in objs]
    h.check(keys == sorted(keys), "in receive-time order")
    singles = []
    for d in ds:
        r = query(["--json", d.data], env=env)
        singles += [(json.loads(ln)["recv_ns"], json.loads(ln)["seq"])
                    for ln in r.stdout.splitlines()]
    h.check(sorted(singles) == sorted((o["recv_ns"], o["seq"])
                                      for o in objs),
            "the merge holds exactly the stores' own answers")
    r = verify(["--root-dir", roots, ds[0].data, ds[1].data])
    h.check("fleet: 2 chain(s) intact" in r.stdout.decode(),
            "custody-verify: both collectors' chains intact")


def body():
    work = h.workdir("fleet")
    env = dict(os.environ, CUSTODY_INDEX_KEY=os.path.join(work, "idx.key"))
    a, b, c, ra, rb, rc, roots = test_days(work, env)
    test_tamper(work, a, b, c, ra, rb, rc, roots, env)
    test_collectors(work, env)


if __name__ == "__main__":
    h.main(body, bound_s=240)
