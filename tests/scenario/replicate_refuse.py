"""The replication stream keeps evidence, and custodyd and custody-restore
refuse what would lose or forge it (SPEC section 17).

  - custodyd refuses to start replicating into a stream that allows
    deleting messages or purging, or whose limits would drop evidence
    (R-REP-1), and says which setting;
  - the stream custodyd creates refuses a message delete and a purge;
  - custodyd refuses a stream whose last block is not its own store's
    (another store with the same keys: R-REP-6);
  - custody-restore fails, naming the block, on a gap, an overlap and a
    block stored twice with different bytes, refuses a secret key file
    and a file name with a '/' (R-REP-8, R-REP-3, R-REP-4), and writes a
    frame that is not a valid frame as it is, for custody-verify to
    report (never dropped).
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import natscluster as nc  # noqa: E402

CONFIG = """\
[replicate]
servers = {url}
"""


def daemon(work, tag, url):
    w = os.path.join(work, tag)
    os.makedirs(w)
    return h.Daemon(w, config=CONFIG.format(url=url), udp=False, unix=False)


def refused_start(d, what):
    os.makedirs(d.data, mode=0o700, exist_ok=True)
    r = h.run(d.argv(), bound_s=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode != 0 and what in out,
            f"custodyd refuses the stream ({what}): "
            + (out.strip().splitlines() or ["(no output)"])[-1])
    return out


def restore(url, chain, out):
    r = h.run([h.tool("custody-restore"), "--nats", url, "--chain", chain,
               out], bound_s=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def body():
    work = h.workdir("reprefuse")
    cl = nc.Cluster(work, n=1).start()
    c = cl.client()

    # R-REP-1: unfit streams, each made by hand, each refused.
    for i, (override, what) in enumerate((
            ({"deny_delete": False}, "deny_delete"),
            ({"deny_purge": False}, "deny_purge"),
            ({"max_age": 3600 * 10**9}, "max_age"),
            ({"max_msgs": 1000000}, "max_msgs"),
            ({"max_bytes": 1 << 30}, "max_bytes"),
            ({"storage": "memory"}, "memory"))):
        a = nc.create_stream(c, **override)
        h.check("error" not in a, f"a stream with {override} is made")
        refused_start(daemon(work, f"unfit{i}", cl.url), what)
        a = c.api("$JS.API.STREAM.DELETE.CUSTODY")
        h.check(a.get("success"), "the unfit stream is deleted")

    # custodyd makes the stream itself; it refuses delete and purge.
    d = daemon(work, "good", cl.url).start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", 2000, conns=2)
    h.wait_for(lambda: d.metrics().get(
        "custody_replicate_published_total", 0) >= 2 and d.metrics().get(
        "custody_replicate_backlog_blocks") == 0, 30, "blocks published")
    d.stop()
    info = c.api("$JS.API.STREAM.INFO.CUSTODY")
    cfg, msgs = info["config"], info["state"]["messages"]
    h.check(cfg["deny_delete"] and cfg["deny_purge"] and
            cfg["max_age"] == 0 and cfg["storage"] == "file" and
            cfg["duplicate_window"] == 600 * 10**9,
            "the stream custodyd made: deny_delete, deny_purge, no age, "
            "file storage, 10 min duplicate window")
    a = c.api("$JS.API.STREAM.MSG.DELETE.CUSTODY", {"seq": 1})
    h.check("error" in a, f"deleting a message is refused: {a.get('error')}")
    a = c.api("$JS.API.STREAM.MSG.DELETE.CUSTODY",
              {"seq": 1, "no_erase": True})
    h.check("error" in a, "removing it without erasing is refused too")
    a = c.api("$JS.API.STREAM.PURGE.CUSTODY")
    h.check("error" in a, f"purging is refused: {a.get('error')}")
    a = c.api("$JS.API.STREAM.PURGE.CUSTODY",
              {"filter": "custody.>", "keep": 1})
    h.check("error" in a, "a partial purge is refused too")
    info = c.api("$JS.API.STREAM.INFO.CUSTODY")
    h.check(info["state"]["messages"] == msgs and
            info["state"]["first_seq"] == 1,
            f"the stream still holds all {msgs} messages")

    # R-REP-6: another store of the same chain (the keys copied) is not
    # the one the stream holds: refused, nothing published over it.
    other = daemon(work, "other", cl.url)
    os.makedirs(other.data, mode=0o700)
    shutil.copytree(os.path.join(d.data, "keys"),
                    os.path.join(other.data, "keys"))
    refused_start(other, "that this store does not have there")
    info = c.api("$JS.API.STREAM.INFO.CUSTODY")
    h.check(info["state"]["messages"] == msgs,
            "the other store published nothing")

    # The real chain restores; then forged streams do not.
    with open(os.path.join(d.data, "keys", "root.pub")) as f:
        chain = f.read().split()[1]
    rc, out = restore(cl.url, chain, os.path.join(work, "restored"))
    h.check(rc == 0 and " 0 checkpoint files" not in out and
            os.path.exists(os.path.join(work, "restored", "checkpoints",
                                        "latest.ckpt")),
            "the collector's chain restores, with the checkpoint of its "
            "stop: " + out.strip())
    h.verify(os.path.join(work, "restored"),
             ["--root", os.path.join(d.data, "keys", "root.pub")])

    seg = bytes(128)

    def forge(ch, msgs_):
        for subj, hdrs, data in msgs_:
            hdrs = dict(hdrs)
            hdrs["Nats-Msg-Id"] = f"forged/{ch}/{forge.n}"
            forge.n += 1
            a = c.publish(f"custody.{ch}.{subj}", hdrs, data)
            h.check("error" not in a, f"forged {subj} message stored")
    forge.n = 0

    def blk(b, off, data):
        return ("blocks", {"Custody-Segment": "0", "Custody-Offset": str(off),
                           "Custody-Block": str(b)}, data)
    segm = ("segments", {"Custody-Segment": "0"}, seg)
    cases = (
        ("a" * 32, [segm, blk(0, 128, b"x" * 300), blk(2, 428, b"y" * 300)],
         "block 1 is missing"),
        ("b" * 32, [segm, blk(0, 128, b"x" * 300), blk(1, 400, b"y" * 300)],
         "overlap"),
        ("c" * 32, [segm, blk(0, 128, b"x" * 300), blk(0, 128, b"z" * 300)],
         "block 0: stored twice with different bytes"),
        ("d" * 32, [segm, blk(0, 128, b"x" * 300),
                    ("keys", {"Custody-Name": "epoch.key"}, b"secret")],
         "a secret key in the stream"),
        ("e" * 32, [segm, blk(0, 128, b"x" * 300),
                    ("checkpoints", {"Custody-Name": "../evil"}, b"x")],
         "plain file name"),
        ("f" * 32, [blk(0, 128, b"x" * 300)], "no header message"),
    )
    for ch, ms, what in cases:
        forge(ch, ms)
        rc, out = restore(cl.url, ch, os.path.join(work, f"forged-{ch[0]}"))
        h.check(rc == 1 and what in out,
                f"a forged stream is refused ({what}): "
                + out.strip().splitlines()[0])
    # A frame that is not a frame is written, and verification fails.
    ch = "0" * 31 + "1"
    forge(ch, [segm, blk(0, 128, b"not a frame" * 30)])
    dest = os.path.join(work, "forged-frame")
    rc, out = restore(cl.url, ch, dest)
    with open(os.path.join(dest, "segments", "seg-0000000000.cst"),
              "rb") as f:
        body_ = f.read()
    h.check(rc == 0 and body_ == seg + b"not a frame" * 30,
            "a block that is not a frame is written as it is")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root",
               os.path.join(d.data, "keys", "root.pub"), dest])
    h.check(r.returncode != 0, "and custody-verify fails on it")
    # --list: every chain with blocks in the stream, sorted.
    r = h.run([h.tool("custody-restore"), "--nats", cl.url, "--list"])
    listed = r.stdout.decode().split()
    want = sorted([chain, ch] + [x for x, ms, _ in cases
                                 if any(m[0] == "blocks" for m in ms)])
    h.check(r.returncode == 0 and listed == want,
            f"custody-restore --list names the {len(want)} chains")
    c.close()


if __name__ == "__main__":
    h.main(body, bound_s=150)
