"""Evidence bundles anchored by a note checkpoint (SPEC 11.4).

custodyd, with a log key and blocks of 4 records, writes a few hundred
blocks and its note checkpoints.  custody-query --bundle of one early
record then gives a version 2 bundle: the block with its chain-tree
inclusion proof under the store's newest note, instead of the run of
every header after it that the same query gives on a copy of the store
without notes (version 1).  Both sizes are printed; the new one must be
smaller by a clear factor.  custody-verify and the reference verifier
(bundle_ref.py) find it valid and say which note anchors it; each
forgery of the new parts (a hash of the audit path, the note's root, a
note signed by another log key, a log certificate the root did not sign,
a proof relabelled for another block) fails with exit 1 in both.  With
--witness, a cosignature on the note is counted, a quorum it does not
reach is reported but not a failure, and a forged cosignature of a given
witness fails.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

SOURCE = h.env_path("CUSTODY_SOURCE_DIR")
sys.path.insert(0, os.path.join(SOURCE, "tests", "tools"))
import forge_bundle_note as fbn  # noqa: E402

REF = os.path.join(SOURCE, "tests", "ref", "bundle_ref.py")
EVENTS = 1200


def cverify(bundle, root, *extra):
    r = h.run([h.binary("CUSTODY_VERIFY"), "--bundle", bundle, "--root",
               root, "--json", *extra], bound_s=60)
    try:
        j = json.loads(r.stdout.decode())
    except ValueError:
        h.fail(f"custody-verify --bundle {bundle}: no JSON report "
               f"(exit {r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.returncode, j


def refverify(bundle, root, *extra):
    r = subprocess.run(["/usr/bin/python3", REF, "--root", root, *extra,
                        bundle], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def query_bundle(data, out):
    r = h.run([h.binary("CUSTODY_QUERY"), data, "--seq", "2", "--bundle",
               out], bound_s=60)
    h.check(r.returncode == 0, "custody-query --bundle exits 0: "
            + r.stderr.decode(errors="replace"))
    return os.path.getsize(out)


def body():
    work = h.workdir("bundle-note")
    keys = os.path.join(work, "keys")
    r = h.run([h.binary("CUSTODYD"), "keygen", "--out", keys], bound_s=30)
    h.check(r.returncode == 0, "custodyd keygen")
    conf = ("[keys]\ncreate = no\n[store]\ncheckpoint_interval = 200ms\n"
            "[pipeline]\nbatch_records = 4\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    os.makedirs(os.path.join(d.data, "keys"), mode=0o700)
    for f in ("root.pub", "epoch.key", "log.key", "log.cert"):
        shutil.copy2(os.path.join(keys, f), os.path.join(d.data, "keys"))
    d.start()
    h.loadgen(f"tcp://127.0.0.1:{d.port}", EVENTS)
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= EVENTS,
               30, f"{EVENTS} events durable")
    d.stop()
    root = os.path.join(d.data, "keys", "root.pub")
    ck = os.path.join(d.data, "checkpoints")
    h.check(os.path.isfile(os.path.join(ck, "latest.note")),
            "custodyd wrote note checkpoints")

    # The same query on the store and on a copy without its notes.
    new = os.path.join(work, "new.cbnd")
    old = os.path.join(work, "old.cbnd")
    plain = os.path.join(work, "plain")
    shutil.copytree(d.data, plain, ignore=shutil.ignore_patterns(
        "*.note", "*.sock"))
    n_new = query_bundle(d.data, new)
    n_old = query_bundle(plain, old)
    print(f"# one early record: header-run bundle {n_old} bytes, "
          f"note-anchored bundle {n_new} bytes ({n_old / n_new:.1f}x)")
    with open(new, "rb") as f:
        data = f.read()
    with open(old, "rb") as f:
        h.check(struct.unpack_from("<H", f.read(), 8)[0] == 1,
                "without notes the bundle is version 1, as before")
    h.check(struct.unpack_from("<H", data, 8)[0] == 2,
            "with notes the bundle is version 2")

    rc, j = cverify(new, root)
    h.check(rc == 0 and j["result"] == "valid", f"custody-verify: the "
            f"note-anchored bundle is valid (exit {rc}, {j.get('rule')})")
    nc = j["note_checkpoint"]
    h.check(nc["anchored_blocks"] == len(j["blocks"]) and nc["size"] >= 200,
            f"the note of {nc['size']} blocks anchors every block of the "
            f"bundle ({nc['anchored_blocks']} of {len(j['blocks'])})")
    h.check(n_new * 10 < n_old, f"the note-anchored bundle is over 10 "
            f"times smaller ({n_new} vs {n_old} bytes, {nc['size']} "
            "blocks in the note)")
    rc, out = refverify(new, root)
    h.check(rc == 0 and f"note checkpoint of {nc['size']} blocks" in out,
            f"bundle_ref.py agrees: {out}")
    rc, _ = cverify(old, root)
    h.check(rc == 0, "the header-run bundle is valid too")

    # An investigator's off-machine checkpoint cannot vouch for what only
    # the log key signed: the note-anchored bundle fails R-BND-12 against
    # it, saying why and what to do; --bundle-headers makes one that holds.
    given = os.path.join(ck, "latest.ckpt")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--bundle", new, "--root", root,
               "--checkpoint", given], bound_s=60)
    out = r.stdout.decode(errors="replace")
    h.check(r.returncode == 1 and "R-BND-12" in out and
            "--bundle-headers" in out,
            f"a given checkpoint against a note-anchored bundle: R-BND-12, "
            f"with the way out (exit {r.returncode}): {out[-400:]}")
    hdr = os.path.join(work, "headers.cbnd")
    r = h.run([h.binary("CUSTODY_QUERY"), d.data, "--seq", "2", "--bundle",
               hdr, "--bundle-headers"], bound_s=60)
    h.check(r.returncode == 0, "custody-query --bundle-headers exits 0")
    with open(hdr, "rb") as f:
        h.check(struct.unpack_from("<H", f.read(), 8)[0] == 1,
                "--bundle-headers writes a version 1 bundle")
    rc, j = cverify(hdr, root, "--checkpoint", given)
    h.check(rc == 0 and j["result"] == "valid",
            f"the header-run bundle holds against the given checkpoint "
            f"(exit {rc}, {j.get('rule')})")

    for name, (b, rule) in sorted(fbn.forgeries(data).items()):
        x = os.path.join(work, f"forged-{name}.cbnd")
        with open(x, "wb") as f:
            f.write(b)
        rc, j = cverify(x, root)
        h.check(rc == 1 and j["result"] == "invalid" and j["rule"] == rule,
                f"custody-verify: forged {name} fails {rule} with exit 1 "
                f"(exit {rc}, {j.get('rule')})")
        rc, out = refverify(x, root)
        h.check(rc == 1 and out.startswith(f"invalid {rule}"),
                f"bundle_ref.py: forged {name} fails {rule}: {out}")

    # Witnesses on the note the bundle carries.
    prefix, cert, note, proofs = fbn.split(data)
    sk1, vk1 = fbn.witness(b"scenario w1", "witness.example/one")
    _, vk2 = fbn.witness(b"scenario w2", "witness.example/two")
    cn = fbn.cosign(note, sk1, "witness.example/one")
    w = os.path.join(work, "cosigned.cbnd")
    with open(w, "wb") as f:
        f.write(fbn.join(prefix, cert, cn, proofs))
    rc, j = cverify(w, root, "--witness", vk1)
    h.check(rc == 0 and j["note_checkpoint"]["witnessed"] and
            j["note_checkpoint"]["cosigned"] == 1,
            "one witness given, its cosignature counted: witnessed")
    rc, j = cverify(w, root, "--witness", vk1, "--witness", vk2)
    h.check(rc == 0 and not j["note_checkpoint"]["witnessed"] and
            j["note_checkpoint"]["cosigned"] == 1,
            "quorum of two not reached: reported, not a failure")
    rc, out = refverify(w, root, "--witness", vk1, "--witness", vk2)
    h.check(rc == 0 and "1 witness(es) cosigned it, not witnessed" in out,
            f"bundle_ref.py counts the same: {out}")
    bad = bytearray(cn)
    bad[-10] = ord("A") if bad[-10] != ord("A") else ord("B")
    x = os.path.join(work, "forged-cosignature.cbnd")
    with open(x, "wb") as f:
        f.write(fbn.join(prefix, cert, bytes(bad), proofs))
    rc, j = cverify(x, root, "--witness", vk1)
    h.check(rc == 1 and j["rule"] == "R-BND-18",
            f"a forged cosignature of a given witness fails (exit {rc})")
    rc, out = refverify(x, root, "--witness", vk1)
    h.check(rc == 1 and out.startswith("invalid R-BND-18"),
            f"bundle_ref.py: forged cosignature fails: {out}")

    # The writer prefers a note the witnesses cosigned to a newer one they
    # have not cosigned yet (R-WIT-5 appends their lines to numbered notes).
    cw = os.path.join(work, "cowork")
    shutil.copytree(d.data, cw, ignore=shutil.ignore_patterns("*.sock"))
    cdir = os.path.join(cw, "checkpoints")
    numbered = sorted(f for f in os.listdir(cdir)
                      if f.startswith("ckpt-") and f.endswith(".note"))
    h.check(len(numbered) >= 2, f"several numbered notes ({len(numbered)})")
    older = os.path.join(cdir, numbered[-2])
    with open(older, "rb") as f:
        onote = f.read()
    with open(older, "wb") as f:
        f.write(fbn.cosign(onote, sk1, "witness.example/one"))
    osize = int(onote.split(b"\n")[1])
    cb = os.path.join(work, "prefer-cosigned.cbnd")
    query_bundle(cw, cb)
    rc, j = cverify(cb, root, "--witness", vk1)
    h.check(rc == 0 and j["note_checkpoint"]["size"] == osize and
            j["note_checkpoint"]["witnessed"],
            f"the bundle is anchored to the cosigned note of {osize} blocks, "
            f"not the newest ({j.get('note_checkpoint')})")


if __name__ == "__main__":
    h.main(body, bound_s=120)
