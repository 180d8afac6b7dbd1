"""A log whose witnesses do not answer (SPEC R-WIT-6, witness.stale_after).

custodyd submits to a peer that is not there: ingest goes on at full
pace (the submitter never holds the writer), every submission fails and
is counted, retried with back-off; once no checkpoint has been cosigned
for witness.stale_after, the log says so once and the metric
custody_witness_stale is 1, and `custodyd status` warns.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402
import tlscerts  # noqa: E402


def body():
    work = h.workdir("witstale")
    certs = tlscerts.Certs(work)
    # A port bound and not listening refuses every connection, for as long
    # as the test holds it: a port merely free now could be taken by a
    # test running beside this one.
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.bind(("127.0.0.1", 0))
    dead = hold.getsockname()[1]
    r = h.run([h.binary("CUSTODYD"), "keygen", "--witness-key",
               os.path.join(work, "w.key"), "--name", "nobody.test/w"])
    vk = r.stdout.decode().strip()
    conf = ("[store]\ncheckpoint_interval = 200ms\n"
            f"[witness]\nca = {certs.ca}\nsubmit_timeout = 500ms\n"
            f"stale_after = 1s\npeer = https://127.0.0.1:{dead} {vk}\n")
    d = h.Daemon(work, config=conf, udp=False, unix=False)
    d.start()
    r = h.loadgen(f"tcp://127.0.0.1:{d.port}", 50000, conns=2)
    h.check(int(r["sent"]) == 50000, "ingest goes on without witnesses")
    h.wait_for(lambda: d.metrics().get("custody_events_durable_total", 0)
               >= 50000, 20, "every event durable")
    h.wait_for(lambda: d.metrics().get("custody_witness_stale") == 1, 15,
               "custody_witness_stale to be 1")
    m = d.metrics()
    h.check(m.get("custody_witness_failures_total", 0) >= 1,
            f"failed submissions are counted ({m.get('custody_witness_failures_total')})")
    # The flag is raised just before the line is written: wait for it.
    # The whole log, not log_text()'s tail, which retries can push it out of.
    def warnings():
        with open(d.log, errors="replace") as f:
            return f.read().count("no witness has cosigned")
    h.wait_for(warnings, 10, "the stale warning in the log")
    h.check(warnings() == 1,
            "the stale warning is logged once:\n" + d.log_text()[-1500:])
    r = h.run([h.binary("CUSTODYD"), "status", "--interval", "100ms",
               f"127.0.0.1:{d.metrics_port}"])
    st = r.stdout.decode(errors="replace")
    h.check("WARNING" in st and "nobody.test/w" in st,
            "custodyd status warns and names the witness:\n" + st)
    d.stop()
    hold.close()
    h.verify(d.data)


if __name__ == "__main__":
    h.main(body, bound_s=60)
