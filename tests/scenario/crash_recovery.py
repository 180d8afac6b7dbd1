"""SIGKILL mid-stream, restart: the chain verifies, the crash is recorded,
and nothing that was committed is lost.

Four TCP senders stream at a steady rate.  Once the daemon reports a good
number of events durable (custody_events_durable_total) and has written a
checkpoint, that count and a copy of the checkpoint are taken, and the
daemon is killed with SIGKILL while the senders are still sending.  After a
restart (and a second, smaller run to show it collects again) and a clean
stop:
- custody-verify says the chain is intact;
- a recovery record (kind 3) is in the chain; where it cut a torn tail, the
  quarantined bytes are there with the length and SHA-256 it states
  (R-REC-4, R-REC-5);
- the checkpoint taken before the kill still matches the chain (R-CKP-2);
- every event reported durable before the kill is there: for TCP without
  RELP, "committed" means what the daemon said was durable;
- what each connection has in the store is a prefix of what it sent, once
  each, in order, raw bytes intact (a crash cuts a tail, never the middle).
"""
import hashlib
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

CONFIG = """\
[store]
commit_interval = 50ms
checkpoint_interval = 200ms
"""


def body():
    work = h.workdir("crash")
    d = h.Daemon(work, config=CONFIG, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    man_a = os.path.join(work, "a.manifest")
    # The senders must outlast the wait below (the kill ends them sooner):
    # a machine slow enough to take most of the wait's bound must still
    # find them sending when the kill comes.
    wait_s = 20
    gen = h.loadgen(tcp, None, conns=4, rate=40000,
                    duration=(wait_s + 10) * h.SLOW, bound_s=wait_s + 20,
                    gen="crashA", manifest=man_a, background=True,
                    log=os.path.join(work, "loadgen-a.log"))

    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 60000
               and d.metric("custody_checkpoints_total") >= 1, wait_s,
               "60,000 events durable and a checkpoint")
    ckpt = os.path.join(work, "before-kill.ckpt")
    shutil.copyfile(os.path.join(d.data, "checkpoints", "latest.ckpt"), ckpt)
    durable = int(d.metric("custody_events_durable_total"))
    h.check(gen.poll() is None, f"{durable} events durable and the senders "
            "still sending: kill now")
    d.kill()

    try:
        gen.wait(timeout=20 * h.SLOW)
    except Exception:
        h.fail("custody-loadgen did not notice the daemon was gone")
    h.check(gen.returncode == 1, "the senders saw the connections die "
            f"(loadgen exit {gen.returncode})")

    d.start()
    man_b = os.path.join(work, "b.manifest")
    r = h.loadgen(tcp, 10000, conns=2, gen="crashB", manifest=man_b)
    h.check(r["sent"] == "10000", "after the restart it collects again")
    h.wait_for(lambda: d.received(tcp) >= 10000, 20,
               "the daemon to read the second run")
    d.stop()

    h.verify(d.data)
    rc, s, _ = h.check_store(d.data, [man_a, man_b], mode="--prefix",
                             checkpoint=ckpt)
    h.check(s.get("checkpoint", {}).get("match") == "1",
            "the checkpoint taken before the kill still matches the chain "
            f"({s.get('checkpoint')})")
    a, b = s["runs"]
    h.check(a["holes"] == "0" and a["duplicate"] == "0" and
            a["disorder"] == "0" and a["mismatch"] == "0" and
            a["unexpected"] == "0",
            f"each connection's stored messages are a prefix of what it "
            f"sent, once, in order, intact ({a})")
    h.check(int(a["found"]) >= durable,
            f"all {durable} events durable before the kill are there "
            f"(found {a['found']})")
    h.check(b["missing"] == "0" and b["found"] == "10000",
            f"the run after the restart is complete ({b})")
    h.check(rc == 0 and s.get("result") == "ok",
            "check_store finds nothing wrong" +
            ("" if rc == 0 else ":\n" + s["stderr"]))

    rec = [x for x in s["audit"] if x.get("kind") == "recovery"]
    h.check(len(rec) == 1, f"one recovery record ({rec})")
    rec = rec[0]
    cut = int(rec.get("cut_len", -1))
    h.check(cut >= 0, f"the recovery record states what was cut ({rec})")
    if cut > 0:
        q = os.path.join(d.data, "quarantine", rec["quarantine"])
        with open(q, "rb") as f:
            data = f.read()
        h.check(len(data) == cut and
                hashlib.sha256(data).hexdigest() == rec["cut_sha256"],
                f"the torn tail ({cut} bytes) is kept in {q} with the "
                "stated SHA-256 (R-REC-4)")
    starts = [x for x in s["audit"] if x.get("kind") == "start"]
    stops = [x for x in s["audit"] if x.get("kind") == "stop"]
    h.check(len(starts) == 2 and len(stops) == 1,
            f"two starts, one clean stop ({len(starts)}, {len(stops)})")
    h.check(int(rec["seq"]) > int(starts[0]["seq"]) and
            int(rec["seq"]) < int(stops[0]["seq"]),
            "the recovery is recorded between the crash and the clean stop")


h.main(body)
