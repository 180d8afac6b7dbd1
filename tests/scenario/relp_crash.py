"""RELP delivery survives SIGKILL: nothing acknowledged is ever lost.

rsyslog's omrelp sends 50,000 numbered messages while custodyd is killed
with SIGKILL and restarted 5 times, each at a random moment (a random
number of acknowledgements into the run, then a random few milliseconds;
the seed is printed, CUSTODY_SEED replays it).  The messages reach
rsyslog in six parts, one at the start of each run, so that every run
has messages of its own to deliver before its kill.  A message is
acknowledged only once its block is durable (R-RELP-1), so librelp
resends whatever a kill cut off and the store ends up holding every
message; a message the daemon had recorded but not yet acknowledged when
it died is there twice, its repeat after the next run's recovery record
(SPEC section 12).  After the last clean stop: all 50,000 are in the
store, the duplicates are counted and reported, each repeat follows a
restart (a recovery or start record), and custody-verify says the chain
is intact.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import relp_peer as rp  # noqa: E402

N = 50000
KILLS = 5
KIND_START, KIND_RECOVERY = 1, 3
CONFIG = """\
[store]
commit_interval = 10ms
[pipeline]
batch_delay = 5ms
"""


def acked(d):
    return d.metric("custody_relp_acked_total")


def settle(d):
    """Waits until the acknowledgements of this run stop growing."""
    last, since = -1, time.monotonic()

    def quiet():
        nonlocal last, since
        a = acked(d)
        if a != last:
            last, since = a, time.monotonic()
            return False
        return time.monotonic() - since >= 1.5
    h.wait_for(quiet, 60, "acknowledgements to settle", step_s=0.1)


def stored(d):
    """(the numbers stored, in store order, with record kinds), check rc."""
    rc, summary, records = h.check_store(d.data, dump=True)
    h.check(rc == 0, f"check_store: {summary['text']}")
    seen = []
    for r in records:
        if r["kind"] == rp.KIND_EVENT:
            raw = bytes.fromhex(r["raw_hex"])
            h.check(r["transport"] == rp.TR_RELP, "transport relp")
            seen.append(("n", int(raw.rsplit(b"n=", 1)[1])))
        elif r["kind"] in (KIND_START, KIND_RECOVERY):
            seen.append(("k", r["kind"]))
    return seen


def body():
    seed = int(os.environ.get("CUSTODY_SEED", time.time_ns() % 1000000007))
    print(f"seed {seed} (CUSTODY_SEED={seed} replays it)", flush=True)
    rng = random.Random(seed)
    work = h.workdir("relpcrash")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    d.listeners.append(f"relp://127.0.0.1:{d.port}")
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    rs = rp.Rsyslog(work, d.port).start()
    lines = rp.numbered(N, "relp-crash")
    t0 = time.monotonic()

    # The stream reaches rsyslog in KILLS + 1 parts, part k at the start
    # of run k, and run k is killed a random number of acknowledgements
    # into it, short of its part's length.  Part k's messages are new to
    # the collector, so run k always has at least that many to answer,
    # however fast this machine or how late this script: a target counted
    # on what earlier runs left over could be out of reach once they had
    # delivered everything.
    part = N // (KILLS + 1)
    cuts = [i * part for i in range(KILLS + 1)] + [N]
    for k in range(KILLS):
        rs.send(lines[cuts[k]:cuts[k + 1]])
        at = rng.randint(1, int(0.9 * part))
        h.wait_for(lambda: acked(d) >= at, 60,
                   f"{at} acknowledgements in run {k + 1}")
        time.sleep(rng.uniform(0, 0.01))
        d.kill()
        print(f"kill {k + 1}: SIGKILL after {at}+ acknowledgements of "
              f"run {k + 1}", flush=True)
        d.start()
        h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    rs.send(lines[cuts[KILLS]:])

    # The last run: until every number is in the store after a clean stop.
    for rnd in range(8):
        settle(d)
        d.stop()
        seen = stored(d)
        nums = [v for t, v in seen if t == "n"]
        if len(set(nums)) == N:
            break
        print(f"after clean stop {rnd + 1}: {len(set(nums))} of {N}; "
              "rsyslog is still resending", flush=True)
        d.start()
    elapsed = time.monotonic() - t0
    rs.stop()

    missing = sorted(set(range(N)) - set(nums))
    h.check(not missing, f"none lost: {len(missing)} missing, first "
            f"{missing[:10]}")
    dups = len(nums) - N
    # Each repeat comes after a restart (its start or recovery record)
    # that follows its first copy: never within one run.
    first_at, recovered_since = {}, set()
    late = 0
    for i, (t, v) in enumerate(seen):
        if t == "k":
            recovered_since = set(first_at)
            continue
        if v in first_at and v not in recovered_since:
            late += 1
        first_at.setdefault(v, i)
    print(f"{N} messages, {KILLS} kills, {len(nums)} events stored: "
          f"{dups} duplicates; {elapsed:.1f} s", flush=True)
    h.check(late == 0, f"every repeat follows a restart ({late} do not)")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=240)
