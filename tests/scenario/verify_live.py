"""custody-verify never cries wolf on a store that is being written.

custodyd takes a full-speed load from 4 TCP connections while
custody-verify --live runs over and over on the same store. Every run
must say intact (exit 0, verdict "intact", no failure finding), the runs
must see the store grow (so they really overlapped the writing), and
check the store's own checkpoints without finding one ahead of the
segments (R-CKP-5), and the finished store must verify intact without
--live.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

RUNS = 6


def verify_live(d, root):
    r = h.run([h.binary("CUSTODY_VERIFY"), "--live", "--json", "--root", root,
               d.data], bound_s=60)
    out = r.stdout.decode(errors="replace")
    try:
        report = json.loads(out)
    except ValueError:
        h.fail(f"custody-verify --live printed no JSON (exit {r.returncode})"
               f":\n{out[-2000:]}{r.stderr.decode(errors='replace')[-2000:]}")
    failures = [f for f in report.get("findings", [])
                if f.get("severity") in ("failure", "error")]
    h.check(r.returncode == 0 and report.get("verdict") == "intact"
            and not failures,
            f"custody-verify --live during ingest: intact (exit "
            f"{r.returncode}, {report.get('chain', {}).get('records')} "
            f"records)" + ("" if not failures else f": {failures[:3]}"))
    # R-CKP-4, R-CKP-5: the store's own checkpoints, read before the
    # segments, are checked on every run and never ahead of them.
    ckps = report.get("checkpoints") or []
    h.check(ckps and all(c.get("from_store") and c.get("ok") for c in ckps),
            f"custody-verify --live checked the store's checkpoints: {ckps}")
    return report.get("chain", {}).get("records") or 0


def body():
    work = h.workdir("verifylive")
    d = h.Daemon(work, udp=False, unix=False).start()
    root = os.path.join(d.data, "keys", "root.pub")
    gen = h.loadgen(f"tcp://127.0.0.1:{d.port}", None, conns=4, duration=6,
                    bound_s=20, background=True,
                    log=os.path.join(work, "loadgen.log"))
    seen = []
    durable = 0
    for _ in range(RUNS):
        if gen.poll() is not None:
            break
        # Each run starts only once more has been sealed since the last,
        # so every run really overlaps the writing.
        durable = h.wait_for(
            lambda: (lambda n: n > durable and n)(
                d.metric("custody_events_durable_total")),
            20, "more events to be durable")
        seen.append(verify_live(d, root))
    h.check(len(seen) >= 2, f"{len(seen)} verifications ran while the load "
            "generator was sending")
    h.check(len(set(seen)) >= 2 and seen == sorted(seen),
            f"the store grew between the verifications: {seen}")
    gen.terminate()
    h.wait_for(lambda: gen.poll() is not None, 10, "the load generator to end")
    d.stop()
    h.verify(d.data, ["--root", root])


if __name__ == "__main__":
    h.main(body, bound_s=120)
