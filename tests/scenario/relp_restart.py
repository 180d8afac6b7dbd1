"""A clean stop answers what it recorded: a restart repeats no message.

rsyslog's omrelp sends 20,000 numbered messages, half of them at first
and the rest once custodyd, stopped with SIGTERM a few thousand
acknowledgements in, has started again.
The stop stops reading, keeps its RELP connections open until the stop's
last commit, answers every message it recorded (then the serverclose
hint), and only then closes; what it had not read, rsyslog sends to the
next run.  After the last clean stop every message is in the store
exactly once (a stop, unlike a crash, leaves no duplicate: SPEC section
12), and custody-verify says the chain is intact.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import relp_peer as rp  # noqa: E402

N = 20000
CONFIG = """\
[store]
commit_interval = 10ms
[pipeline]
batch_delay = 5ms
"""


def settle(d):
    """Waits until the acknowledgements of this run stop growing."""
    last, since = -1, time.monotonic()

    def quiet():
        nonlocal last, since
        a = d.metric("custody_relp_acked_total")
        if a != last:
            last, since = a, time.monotonic()
            return False
        return time.monotonic() - since >= 1.5
    h.wait_for(quiet, 60, "acknowledgements to settle", step_s=0.1)


def body():
    work = h.workdir("relprestart")
    d = h.Daemon(work, config=CONFIG, tcp=False, udp=False, unix=False)
    d.listeners.append(f"relp://127.0.0.1:{d.port}")
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    rs = rp.Rsyslog(work, d.port).start()
    lines = rp.numbered(N, "relp-restart")
    # The first half before the stop, the second after the restart: the
    # second run has messages of its own to answer however fast the
    # first delivered, and the stop still lands mid-stream.
    rs.send(lines[:N // 2])
    h.wait_for(lambda: d.metric("custody_relp_acked_total") >= 3000, 60,
               "3000 acknowledgements")
    d.stop()
    d.start()
    h.wait_for(lambda: h.port_accepts(d.port), 10, "the RELP listener")
    rs.send(lines[N // 2:])
    h.wait_for(lambda: d.metric("custody_relp_acked_total") > 0, 60,
               "rsyslog to send to the second run")
    # Every message is acknowledged by one of the runs: wait for the
    # acknowledgements to settle, stop cleanly and look; should rsyslog
    # have paused longer than the settling time (a loaded machine), what
    # it still holds goes to one more run, itself stopped cleanly.
    for rnd in range(6):
        settle(d)
        d.stop()
        rc, summary, records = h.check_store(d.data, dump=True)
        h.check(rc == 0, f"check_store: {summary['text']}")
        raws = [bytes.fromhex(r["raw_hex"])
                for r in rp.relp_events(records)]
        if set(raws) >= set(lines):
            break
        print(f"after clean stop {rnd + 2}: {len(set(raws))} of {N}; "
              "rsyslog is still sending", flush=True)
        d.start()
    rs.stop()

    missing = len(set(lines) - set(raws))
    dups = len(raws) - len(set(raws))
    print(f"{N} sent, {len(raws)} stored, {missing} missing, {dups} "
          "duplicates", flush=True)
    h.check(missing == 0, f"none lost ({missing} missing)")
    h.check(dups == 0, f"a clean stop repeats nothing ({dups} duplicates)")
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=120)
