"""Three custodyd on loopback, each a witness of the other two (SPEC 14).

Each collector submits its note checkpoints over HTTPS (certificates of a
test CA) to the other two, which cosign them.  Under load from
custody-loadgen every store gets a checkpoint with two valid
cosignatures within a bounded wait, added to its ckpt-N.note (R-WIT-5).

Rollback: collector A is stopped, its data directory copied, restarted,
fed more, and its witnesses cosign past the copy; an investigator keeps
that cosigned note from the checkpoint export directory, where the
cosignatures are copied too.  Then A's data directory is replaced by the older
copy and A restarted: the witnesses refuse its next checkpoint (409, and
a witness record, kind 11, in their own chains, found by custody-query
--kind witness), A logs that its witnesses are past its tree, and
custody-verify with the witnesses' keys and the investigator's note says
the store was rolled back against a witnessed checkpoint, exit 1.

Truncation: a copy of B's store with its newest segment deleted is
caught the same way by custody-verify.
"""
import glob
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402
import tlog  # noqa: E402

NAMES = ("a", "b", "c")
EM = tlog.EM_DASH


def notes(data):
    """{size: path} of the numbered notes of a store."""
    out = {}
    for p in glob.glob(os.path.join(data, "checkpoints", "ckpt-*.note")):
        out[int(os.path.basename(p)[5:25])] = p
    return out


def cosigners(path, wvks):
    """The witness names whose cosignature on the note at path verifies."""
    try:
        with open(path, "rb") as f:
            note = f.read()
    except OSError:
        return set()
    text, sep, sigs = note.partition(b"\n\n")
    if not sep:
        return set()
    text += b"\n"
    ok = set()
    for line in sigs.decode(errors="replace").splitlines():
        for name, vk in wvks.items():
            if tlog.cosig_ok(vk, text, line + "\n"):
                ok.add(name)
    return ok


def full_log(d):
    """The whole log of the daemon's current run: the warning is written
    once, at the first refusal, and failed submissions logged after it
    could push it out of log_text()'s last 4000 characters."""
    with open(d.log, errors="replace") as f:
        return f.read()


def newest_cosigned(data, wvks, need):
    """The largest size whose note `need` witnesses cosigned, or 0."""
    for size, path in sorted(notes(data).items(), reverse=True):
        if len(cosigners(path, wvks)) >= need:
            return size
    return 0


def body():
    work = h.workdir("witroll")
    certs = tlscerts.Certs(work)
    wport = {x: h.free_port() for x in NAMES}
    wkey, wvk, logvk, ds = {}, {}, {}, {}
    for x in NAMES:
        wkey[x] = os.path.join(work, f"witness-{x}.key")
        r = h.run([h.binary("CUSTODYD"), "keygen", "--witness-key", wkey[x],
                   "--name", f"witness.test/{x}"])
        h.check(r.returncode == 0, "keygen --witness-key "
                + r.stderr.decode(errors="replace"))
        wvk[x] = r.stdout.decode().strip()
        # A first start makes the store's keys, the log key among them.
        os.makedirs(os.path.join(work, x))
        d = h.Daemon(os.path.join(work, x), udp=False, unix=False)
        d.start()
        d.stop()
        r = h.run([h.binary("CUSTODYD"), "vkey", d.data])
        h.check(r.returncode == 0, "custodyd vkey "
                + r.stderr.decode(errors="replace"))
        logvk[x] = r.stdout.decode().strip().split()[-1]
        ds[x] = d
    for x in NAMES:
        others = [y for y in NAMES if y != x]
        os.makedirs(os.path.join(work, "export-" + x), mode=0o700)
        conf = (f"[store]\ncheckpoint_interval = 200ms\n"
                f"checkpoint_export_dir = {os.path.join(work, 'export-' + x)}\n"
                f"[tls]\ncert = {certs.server_cert}\n"
                f"key = {certs.server_key}\n"
                f"[witness]\nlisten = https://127.0.0.1:{wport[x]}\n"
                f"key = {wkey[x]}\nca = {certs.ca}\n"
                f"submit_timeout = 2s\nstale_after = 30s\n")
        for y in others:
            conf += f"log = {logvk[y]}\n"
            conf += f"peer = https://127.0.0.1:{wport[y]} {wvk[y]}\n"
        with open(os.path.join(ds[x].work, "custodyd.conf"), "w") as f:
            f.write(conf)
        ds[x].config = os.path.join(ds[x].work, "custodyd.conf")
    for x in NAMES:
        ds[x].start()
        h.wait_for(lambda: h.port_accepts(wport[x]), 10, "witness port")

    def load(x, seconds):
        return h.loadgen(f"tcp://127.0.0.1:{ds[x].port}", None, conns=2,
                         rate=4000, duration=seconds, bound_s=seconds + 20,
                         background=True,
                         log=os.path.join(work, f"load-{x}.log"))

    def others_of(x):
        return {y: wvk[y] for y in NAMES if y != x}

    loads = [load(x, 3) for x in NAMES]
    # Every store's checkpoint gets both cosignatures, within a bound.
    marks = {}
    for x in NAMES:
        h.wait_for(lambda: notes(ds[x].data), 10, f"{x}: a note checkpoint")
        marks[x] = max(notes(ds[x].data))
    for x in NAMES:
        got = h.wait_for(lambda: newest_cosigned(ds[x].data, others_of(x), 2)
                         >= marks[x], 15,
                         f"{x}: a checkpoint at or past size {marks[x]} "
                         "cosigned by both witnesses")
        h.check(got, f"{x}: size {newest_cosigned(ds[x].data, others_of(x), 2)}"
                f" cosigned by both witnesses (R-WIT-5)")
    for p in loads:
        p.wait(timeout=30)
    m = ds["a"].metrics()
    for y in ("b", "c"):
        key = f'custody_witness_cosigned_size{{witness="witness.test/{y}"}}'
        h.check(m.get(key, 0) > 0, f"a: metrics {key} = {m.get(key)}")
    r = h.run([h.binary("CUSTODYD"), "status", "--interval", "100ms",
               f"127.0.0.1:{ds['a'].metrics_port}"])
    st = r.stdout.decode(errors="replace")
    h.check("witness.test/b: cosigned size" in st,
            "custodyd status shows what each witness cosigned:\n" + st)

    # A: an older copy of its data directory, then it moves on.
    a = ds["a"]
    a.stop()
    old = os.path.join(a.work, "data.old")
    shutil.copytree(a.data, old, symlinks=True)
    old_size = max(notes(a.data))
    a.start()
    p = load("a", 2)
    h.wait_for(lambda: newest_cosigned(a.data, others_of("a"), 2) > old_size,
               15, "a: both witnesses cosign past the copy")
    p.wait(timeout=30)
    s1 = newest_cosigned(a.data, others_of("a"), 2)
    # The copy off the data disk gets the cosignatures too (R-WIT-5).
    exported = os.path.join(work, "export-a", os.path.basename(
        notes(a.data)[s1]))
    h.wait_for(lambda: len(cosigners(exported, others_of("a"))) == 2, 10,
               "the exported note of size %d to carry both cosignatures" % s1)
    held = os.path.join(work, "investigator-a.note")
    shutil.copy(exported, held)
    print(f"a: copy at size {old_size}; witnesses cosigned {s1}", flush=True)

    # The rollback: the older copy back in place.
    a.stop()
    shutil.rmtree(a.data)
    shutil.move(old, a.data)
    a.start()
    p = load("a", 2)
    for y in ("b", "c"):
        h.wait_for(lambda: ds[y].metrics().get(
            'custody_witness_answers_total{status="409"}', 0) >= 1, 15,
            f"{y}: refuses a's rolled-back checkpoint with 409")
    p.wait(timeout=30)
    h.wait_for(lambda: "rolled back or truncated" in full_log(a), 10,
               "a logs that its witnesses are past its tree")
    h.check(newest_cosigned(a.data, others_of("a"), 1) <= old_size,
            "nothing of a's rolled-back chain past the copy is cosigned")
    for y in ("b", "c"):
        def refusal():
            r = h.run([h.binary("CUSTODY_QUERY"), "--kind", "witness",
                       "--json", ds[y].data], bound_s=30)
            return [json.loads(line) for line in
                    r.stdout.decode(errors="replace").splitlines()
                    if line.startswith("{")]
        recs = h.wait_for(refusal, 15,
                          f"{y}: the refusal sealed in its chain (kind 11)")
        h.check(any(str(r.get("detail", {}).get("status")) == "409"
                    for r in recs),
                f"{y}: a witness record of the 409 ({recs[:2]})")

    witness_args = ["--witness", wvk["b"], "--witness", wvk["c"]]
    r = h.run([h.binary("CUSTODY_VERIFY"), *witness_args, "--checkpoint",
               held, a.data], bound_s=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode == 1 and "rolled back" in out and
            "against a witnessed checkpoint" in out,
            f"custody-verify: a rolled back against a witnessed checkpoint, "
            f"exit 1 (exit {r.returncode}):\n{out[-2500:]}")

    # Truncation of b: its newest segment deleted, in a copy.
    b = ds["b"]
    for x in NAMES:
        ds[x].stop()
    sb = newest_cosigned(b.data, others_of("b"), 2)
    held_b = os.path.join(work, "investigator-b.note")
    shutil.copy(notes(b.data)[sb], held_b)
    cut = os.path.join(work, "b-cut")
    shutil.copytree(b.data, cut, symlinks=True)
    segs = sorted(glob.glob(os.path.join(cut, "segments", "seg-*.cst")))
    h.check(len(segs) >= 2, f"b has several segments ({len(segs)})")
    os.unlink(segs[-1])
    r = h.run([h.binary("CUSTODY_VERIFY"), "--witness", wvk["a"],
               "--witness", wvk["c"], "--checkpoint", held_b, cut],
              bound_s=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode == 1 and "truncated" in out and
            "against a witnessed checkpoint" in out,
            f"custody-verify: b truncated below a witnessed checkpoint, "
            f"exit 1 (exit {r.returncode}):\n{out[-2500:]}")
    # A cosignature altered in a copy of b's newest witnessed note.
    forged_dir = os.path.join(work, "b-forged")
    shutil.copytree(b.data, forged_dir, symlinks=True)
    fp = notes(forged_dir)[sb]
    with open(fp, "rb") as f:
        lines = f.read().split(b"\n")
    i = next(k for k, ln in enumerate(lines)
             if ln.startswith(EM.encode() + b" witness.test/a "))
    # A character inside the signature: the base64 stays canonical.
    raw = bytearray(lines[i])
    raw[-20] = ord("A") if raw[-20] != ord("A") else ord("B")
    lines[i] = bytes(raw)
    with open(fp, "wb") as f:
        f.write(b"\n".join(lines))
    r = h.run([h.binary("CUSTODY_VERIFY"), "--witness", wvk["a"],
               "--witness", wvk["c"], forged_dir], bound_s=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    h.check(r.returncode == 1 and "witness.test/a does not verify" in out,
            f"an altered cosignature is a failure (exit {r.returncode}):\n"
            + out[-1500:])
    out = h.verify(b.data, ["--witness", wvk["a"], "--witness", wvk["c"]])
    h.check("witnessed: the store reaches" in out,
            "b's own store reaches its witnessed checkpoint:\n" + out[-1500:])
    # The independent reader of SPEC takes notes that carry cosignatures.
    h.ref_verify(b.data, "the reference verifier says b is intact")


if __name__ == "__main__":
    h.main(body, bound_s=60)
