"""The project's load generator against the real custodyd.

Many TCP connections at full speed (8 x 20,000 octet-counted, 4 x 5,000
LF-framed 1000-byte messages), unix datagrams (which are back-pressured,
so lossless), and UDP at a modest rate.  After a clean stop every stream
and unix message must be in the store exactly once, in order per
connection, with its raw bytes exactly as rendered; UDP may lose, but
never duplicate, reorder or alter, and whatever it lost must be accounted
for by the daemon's sealed loss records (kind 5).  custody-verify must
say the chain is intact.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def body():
    work = h.workdir("loadgen")
    d = h.Daemon(work).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    streams = []

    m = os.path.join(work, "tcp-octet.manifest")
    r = h.loadgen(tcp, 160000, conns=8, gen="octet8", manifest=m)
    h.check(r["sent"] == "160000", f"8 TCP connections sent 160,000 "
            f"octet-counted messages ({r['events_per_s']} events/s)")
    streams.append(m)

    m = os.path.join(work, "tcp-lf.manifest")
    r = h.loadgen(tcp, 20000, conns=4, size=1000, framing="lf",
                  gen="lf4", manifest=m)
    h.check(r["sent"] == "20000", "4 TCP connections sent 20,000 LF-framed "
            "1000-byte messages")
    streams.append(m)

    m = os.path.join(work, "unix.manifest")
    r = h.loadgen(f"unix://{d.sock}", 20000, conns=2, gen="unix2",
                  manifest=m)
    h.check(r["sent"] == "20000", "2 unix datagram sockets sent 20,000 "
            "messages")
    streams.append(m)

    udp = os.path.join(work, "udp.manifest")
    r = h.loadgen(f"udp://127.0.0.1:{d.port}", 10000, conns=2, rate=20000,
                  gen="udp2", manifest=udp)
    h.check(r["sent"] == "10000", "2 UDP sockets sent 10,000 messages at "
            "20,000/s")

    # What the kernel accepted from a stream sender may still sit in a
    # socket buffer: a stop is only fair once the daemon has read it.
    h.wait_for(lambda: d.received(tcp) >= 180000 and
               d.received(f"unix://{d.sock}") >= 20000, 20,
               "the daemon to read every stream and unix message")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >=
               d.metric("custody_received_total"), 20,
               "every received event to be durable")
    d.stop()

    rc, s, _ = h.check_store(d.data, streams)
    for run in s["runs"]:
        h.check(rc == 0 and run["missing"] == "0" and run["found"] ==
                run["expected"] and run["duplicate"] == "0" and
                run["disorder"] == "0" and run["mismatch"] == "0",
                f"{run['gen']}: all {run['expected']} messages once, in "
                f"order, raw bytes intact ({run})")
    h.check(s.get("result") == "ok", "check_store finds nothing wrong"
            + ("" if s.get("result") == "ok" else ":\n" + s["stderr"]))

    rc, s, _ = h.check_store(d.data, [udp], mode="--allow-loss")
    run = s["runs"][0]
    h.check(rc == 0 and run["duplicate"] == "0" and run["disorder"] == "0"
            and run["mismatch"] == "0",
            f"UDP: no duplicate, reordered or altered message ({run})")
    lost = int(run["missing"])
    sealed_loss = sum(int(a.get("udp_dropped", 0)) +
                      int(a.get("kernel_dropped", 0))
                      for a in s["audit"] if a.get("kind") == "loss")
    h.check(lost <= sealed_loss,
            f"UDP: the {lost} messages lost are accounted for by the sealed "
            f"loss records ({sealed_loss})")
    kinds = s["kinds"]
    h.check(kinds["start"] == "1" and kinds["stop"] == "1",
            f"one start and one stop record ({kinds})")
    h.verify(d.data)


h.main(body)
