"""`custodyd status`: the summary of a running daemon, and its raw counters.

The address is taken as HOST:PORT, as tcp://HOST:PORT and through
--metrics; the summary's received count and durable lag agree with what
was sent once it is durable; drops, refusals and idle cuts are 0 on a
quiet loopback; the store's free space is given; --metrics-raw prints the
Prometheus text; a daemon that is not there is an error (exit 1).
"""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402


def status(*args):
    r = h.run([h.binary("CUSTODYD"), "status", *args], bound_s=20)
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def field(text, name):
    m = re.search(r"^  " + name + r" +(\S+)", text, re.M)
    h.check(m is not None, f"the summary has a line {name!r}:\n{text}")
    return m.group(1)


def body():
    work = h.workdir("status")
    d = h.Daemon(work, udp=False, unix=False).start()
    res = h.loadgen(f"tcp://127.0.0.1:{d.port}", 3000)
    h.check(res.get("sent") == "3000", f"3000 sent ({res})")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 3000, 20,
               "3000 events durable")
    hp = f"127.0.0.1:{d.metrics_port}"
    for args in ([hp], [f"tcp://{hp}"], ["--metrics", hp]):
        rc, out, err = status(*args, "--interval", "200ms")
        h.check(rc == 0, f"status {' '.join(args)} exits 0 ({err})")
        h.check(field(out, "received") == "3000" and
                field(out, "durable lag") == "0",
                f"{args}: 3000 received, lag 0:\n{out}")
        for name in ("drops", "refusals", "idle cuts"):
            h.check(field(out, name) == "0", f"{args}: {name} 0")
        h.check(re.match(r"^\d+$", field(out, "events/s")) is not None,
                f"{args}: events/s is a number")
        h.check(re.search(r"^  store free +\d+(\.\d)? [KMGTP]?i?B$", out,
                          re.M) is not None, f"{args}: the store's free "
                f"space:\n{out}")
    rc, out, _ = status(hp, "--metrics-raw")
    h.check(rc == 0 and "# TYPE custody_events_durable_total counter" in out
            and "custody_store_free_bytes " in out,
            "--metrics-raw prints every counter")
    d.stop()
    # Not the stopped daemon's port, which a test running beside this one
    # may bind by now: one this test holds, bound and not listening.
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.bind(("127.0.0.1", 0))
    rc, _, err = status(f"127.0.0.1:{hold.getsockname()[1]}", "--interval",
                        "100ms")
    hold.close()
    h.check(rc == 1 and "is custodyd running?" in err,
            f"no daemon there: exit 1 with a reason ({rc}, {err.strip()})")
    rc, _, _ = status(hp, "--interval", "5")
    h.check(rc == 2, "an interval without a unit is a usage error")


if __name__ == "__main__":
    h.main(body, bound_s=60)
