"""Note checkpoints end to end (SPEC section 13).

A store made without a log key (the keys of `custodyd keygen` less
log.key and log.cert) runs as before: no .note file, and the log says
once that witnesses need a log key.  `custodyd keygen --log-key` then
certifies one with the root secret; `custodyd vkey` prints the same
verifier key as keygen did.  The next run rebuilds the chain tree from
the segments of the first run and writes ckpt-N.note, latest.note and
log.cert beside the .ckpt files, in the store and in the export
directory.  The note's root is the chain tree of all blocks, its
signature checks with the printed verifier key (C2SP signed-note, done
here independently with PyNaCl), custody-verify and the reference
verifier find the store intact given the exported note, and a third run
after tree/ was deleted still produces notes that verify, the earlier
exported note included.
"""
import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def keygen(*args):
    r = h.run([h.binary("CUSTODYD"), "keygen", *args], bound_s=30)
    h.check(r.returncode == 0, f"custodyd keygen {' '.join(args)} "
            f"(exit {r.returncode}: {r.stderr.decode(errors='replace')})")
    out = r.stdout.decode()
    vk = [line.split(": ", 1)[1] for line in out.splitlines()
          if line.startswith("verifier key for witnesses: ")]
    h.check(len(vk) == 1, "keygen prints the verifier key")
    return vk[0]


def send(d, n):
    before = d.metric("custody_events_durable_total")
    h.loadgen(f"tcp://127.0.0.1:{d.port}", n)
    h.wait_for(lambda: d.metric("custody_events_durable_total") >=
               before + n, 20, f"{n} events durable")


def open_note(text, vkey):
    """C2SP signed-note verification with one Ed25519 verifier key."""
    import nacl.bindings
    name, kid, key = vkey.split("+", 2)
    raw = base64.b64decode(key)
    h.check(raw[0] == 1 and len(raw) == 33, "vkey is an Ed25519 key")
    pk = raw[1:]
    h.check(hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
            == kid, "vkey's key ID is SHA-256(name, 0A, 01, key)[:4]")
    split = text.rindex(b"\n\n")
    body = text[:split + 1]
    ok = False
    for line in text[split + 2:].decode().split("\n")[:-1]:
        dash, sname, sig = line.split(" ")
        sig = base64.b64decode(sig)
        if dash != "\u2014" or sname != name or sig[:4].hex() != kid:
            continue
        nacl.bindings.crypto_sign_open(sig[4:] + body, pk)
        ok = True
    h.check(ok, "the note carries a signature by the log's verifier key")
    return body.decode().split("\n")


def body():
    work = h.workdir("notes")
    keys = os.path.join(work, "keys")
    export = os.path.join(work, "export")
    os.makedirs(export)
    keygen("--out", keys)
    os.remove(os.path.join(keys, "log.key"))
    os.remove(os.path.join(keys, "log.cert"))
    conf = ("[keys]\ncreate = no\n[store]\ncheckpoint_interval = 200ms\n"
            f"checkpoint_export_dir = {export}\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    os.makedirs(os.path.join(d.data, "keys"), mode=0o700)
    for f in ("root.pub", "epoch.key"):
        shutil.copy2(os.path.join(keys, f), os.path.join(d.data, "keys"))

    # 1. No log key: the store is written as before.
    d.start()
    send(d, 300)
    d.stop()
    ck = os.path.join(d.data, "checkpoints")
    h.check(not glob.glob(os.path.join(ck, "*.note")) and
            not os.path.exists(os.path.join(d.data, "tree")),
            "without a log key no note and no tree/")
    h.check(d.log_text().count("no log key") == 1,
            "the log says once that there is no log key")
    h.verify(d.data)

    # 2. A log key certified later with the root secret.
    lk = os.path.join(work, "logkey")
    vkey = keygen("--log-key", "--root-key", os.path.join(keys, "root.key"),
                  "--out", lk)
    for f in ("log.key", "log.cert"):
        shutil.copy2(os.path.join(lk, f), os.path.join(d.data, "keys"))
    r = h.run([h.binary("CUSTODYD"), "vkey", d.data], bound_s=10)
    h.check(r.returncode == 0 and r.stdout.decode().strip() == vkey,
            "custodyd vkey prints the verifier key keygen printed")
    d.start()
    send(d, 300)
    d.stop()
    for where in (ck, export):
        for f in ("latest.note", "log.cert"):
            h.check(os.path.isfile(os.path.join(where, f)),
                    f"{f} in {where}")
        h.check(len(glob.glob(os.path.join(where, "ckpt-*.note"))) >= 1,
                f"numbered notes in {where}")
    with open(os.path.join(export, "latest.note"), "rb") as f:
        lines = open_note(f.read(), vkey)
    saved = os.path.join(work, "offsite-1.note")
    shutil.copy2(os.path.join(export, "latest.note"), saved)
    out = h.verify(d.data, ["--json", "--checkpoint", saved])
    rep = json.loads(out[out.index("{"):out.rindex("}") + 1])
    head = rep["chain"]["head"]["block_no"]
    h.check(lines[0] == "custody/" + rep["chain_id"],
            f"origin {lines[0]} is custody/<chain id>")
    h.check(int(lines[1]) == head + 1,
            f"the last note covers every block ({lines[1]}, head {head})")
    h.check(rep["note_anchor"] is not None and
            rep["note_anchor"]["given_size"] == head + 1,
            "custody-verify: the given note holds at the head")
    h.check(all(n["ok"] for n in rep["notes"]) and len(rep["notes"]) >= 3,
            f"every note checks ({len(rep['notes'])})")
    ref = os.path.join(h.env_path("CUSTODY_SOURCE_DIR"), "tests", "ref",
                       "custody_ref.py")
    r = subprocess.run(["/usr/bin/python3", ref, "--checkpoint", saved,
                        d.data], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    h.check(r.returncode == 0, "the reference verifier agrees: intact "
            + r.stdout.decode(errors="replace")[-1500:])

    # 3. tree/ lost while stopped: rebuilt, and the chain goes on.
    shutil.rmtree(os.path.join(d.data, "tree"))
    d.start()
    send(d, 300)
    d.stop()
    out = h.verify(d.data, ["--json", "--checkpoint", saved,
                            "--checkpoint",
                            os.path.join(export, "latest.note")])
    rep = json.loads(out[out.index("{"):out.rindex("}") + 1])
    head = rep["chain"]["head"]["block_no"]
    h.check(rep["note_anchor"]["given_size"] == head + 1 and
            all(n["ok"] for n in rep["notes"]),
            "after the rebuild the notes hold, old and new")


if __name__ == "__main__":
    h.main(body, bound_s=120)
