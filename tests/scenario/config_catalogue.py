"""The configuration catalogue (SPEC R-CFG-1).

custodyd seals its configuration file's text, beside its SHA-256, in the
start record and in every reload record: after a SIGHUP with a changed
file both texts are in the chain, each with its own hash; a file larger
than the bound is sealed as its hash with config_truncated; custody-query
shows the text in its JSON and verbose output; the store verifies.
"""
import hashlib
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

FIRST = "[audit]\nstats_interval = 60s\n# first text\n"
SECOND = "[audit]\nstats_interval = 30s\n# second text, changed\n"


def audit(data, kinds, mode="json"):
    r = h.run([h.binary("CUSTODY_QUERY"), data, "--kind", kinds, "-n",
               "all", "-o", mode], bound_s=30)
    h.check(r.returncode == 0, f"custody-query --kind {kinds} exits 0 "
            f"({r.stderr.decode(errors='replace')})")
    if mode != "json":
        return r.stdout.decode(errors="replace")
    return [json.loads(x) for x in r.stdout.decode().splitlines() if x]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def body():
    work = h.workdir("config_catalogue")
    d = h.Daemon(work, config=FIRST, udp=False, unix=False).start()
    starts = h.wait_for(lambda: audit(d.data, "start"), 20,
                        "the start record to be sealed")
    det = starts[0]["detail"]
    h.check(det.get("config") == FIRST and
            det.get("config_hash") == sha(FIRST) and
            "config_truncated" not in det,
            f"the start record holds the file's text and hash: {det}")

    with open(d.config, "w") as f:
        f.write(SECOND)
    d.proc.send_signal(signal.SIGHUP)
    reloads = h.wait_for(lambda: audit(d.data, "reload"), 20,
                         "the reload record to be sealed")
    det = reloads[0]["detail"]
    h.check(det.get("config") == SECOND and
            det.get("config_hash") == sha(SECOND),
            f"the reload record holds the changed text and its hash: {det}")
    both = [r["detail"].get("config") for r in audit(d.data, "start,reload")]
    h.check(both == [FIRST, SECOND], f"both texts are in the chain: {both}")
    verbose = audit(d.data, "reload", mode="verbose")
    h.check("second text, changed" in verbose,
            f"the verbose output shows the text:\n{verbose}")

    # Over half the batch size: the hash alone, and the flag.
    big = "[pipeline]\nbatch_bytes = 8K\n[input]\nmax_message = 4K\n" + \
        "# padding\n" * 800
    with open(d.config, "w") as f:
        f.write(big)
    d.stop()
    d.start()
    starts = h.wait_for(lambda: [r for r in audit(d.data, "start")
                                 if r["seq"] > 0], 20,
                        "the second start record to be sealed")
    det = starts[-1]["detail"]
    h.check(len(starts) == 1 and det.get("config_truncated") is True and
            "config" not in det and det.get("config_hash") == sha(big),
            f"a file over the bound is sealed as its hash: {det}")
    d.stop()
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=90)
