"""custody-query with journalctl's habits, under TZ=Europe/London and
TZ=America/New_York, against answers computed here with zoneinfo from the
truth custody-mkday writes, never from the tool.

Two simulated days whose receive times are chosen around the time of the
run (one ending about a day ago, one ending in an hour), so that the
wall-clock forms people type from memory ("yesterday 18:00", "today",
"21:00", "-1h") fall inside or beside them; then the journalctl options:
-p as "this and more severe", -n as the newest N, -o's modes, -t and
--host in any case, -g with smart case, the audit records hidden unless
asked for, --raw without blank lines (messages sent to the real collector
with a trailing and an inner line feed), and the errors for a bundle, the
directory above a store and -u.
"""
import base64
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

NS = 10**9
ZONES = ("Europe/London", "America/New_York")


def query(store, args, env, rc_ok=(0,)):
    return h.run_ok([h.binary("CUSTODY_QUERY"), store, *args], rc_ok, env)


def raws(out):
    got = []
    for line in out.splitlines():
        o = json.loads(line)
        got.append(o["raw"].encode() if "raw" in o else
                   base64.b64decode(o["raw_base64"]))
    return got


def mkday(work, name, start_s):
    store = os.path.join(work, name)
    truth = store + ".truth"
    r = h.run([h.tool("custody-mkday"), "-n", "3000", "-b", "60", "-B", "10",
               "-H", "12", "-S", "7", "-d", str(start_s), "-T", truth,
               store], bound_s=60)
    h.check(r.returncode == 0, f"custody-mkday writes {name}")
    recs = []
    with open(truth) as f:
        for line in f:
            seq, t, kind, host, app, sev, fac, peer, user, raw = \
                line.rstrip("\n").split("\t")
            recs.append(dict(seq=int(seq), t=int(t), kind=int(kind),
                             host=host, app=app, sev=int(sev),
                             raw=bytes.fromhex(raw)))
    return store, recs


# ---------------------------------------------------------------------------
# The time forms, worked out with zoneinfo.

def local_ns(tz, y, mo, d, hh=0, mi=0, ss=0):
    return int(datetime.datetime(y, mo, d, hh, mi, ss, tzinfo=tz)
               .timestamp()) * NS


def expect_time(form, now_ns, tz):
    """The instant journalctl gives form at now_ns in zone tz."""
    now = datetime.datetime.fromtimestamp(now_ns / NS, tz)
    today = now.date()
    if form == "now":
        return now_ns
    if form == "-1h":
        return now_ns - 3600 * NS
    if form == "today":
        return local_ns(tz, today.year, today.month, today.day)
    if form == "yesterday 18:00":
        y = today - datetime.timedelta(days=1)
        return local_ns(tz, y.year, y.month, y.day, 18)
    if form == "21:00":
        return local_ns(tz, today.year, today.month, today.day, 21)
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?",
                     form)
    if m:
        return local_ns(tz, *(int(x or 0) for x in m.groups()))
    raise ValueError(form)


def test_times(tz_name, env, days, checked):
    tz = zoneinfo.ZoneInfo(tz_name)
    forms = ["now", "-1h", "today", "yesterday 18:00", "21:00"]
    for store, recs in days:
        ev = [r for r in recs if r["kind"] == 0]
        # Two absolute local forms, taken from the store's own times.
        mid = datetime.datetime.fromtimestamp(ev[len(ev) // 3]["t"] / NS, tz)
        late = datetime.datetime.fromtimestamp(ev[2 * len(ev) // 3]["t"] /
                                               NS, tz)
        absolute = [mid.strftime("%Y-%m-%d %H:%M:%S"),
                    late.strftime("%Y-%m-%d %H:%M")]
        for form in forms + absolute:
            for opt in ("--since", "--until"):
                before = time.time_ns()
                r = query(store, ["--json", opt, form], env)
                after = time.time_ns()
                got = raws(r.stdout)
                # The tool's "now" is some instant between before and
                # after: its cut is the form's time at before, at after,
                # or any record's time between the two (a slow run can
                # see one there: these stores span the time of the run).
                lo, hi = sorted(expect_time(form, now, tz)
                                for now in (before, after))
                cuts = [lo, hi] + [x["t"] for x in ev if lo < x["t"] < hi]
                want = [[x["raw"] for x in ev
                         if (x["t"] >= t if opt == "--since"
                             else x["t"] < t)] for t in cuts]
                h.check(got in want, f"TZ={tz_name} {opt} '{form}': "
                        f"{len(got)} records, want {len(want[0])}")
                if 0 < len(got) < len(ev):
                    checked.add((opt, form in absolute and "abs" or form))
        # --utc reads a wall-clock time as UTC.
        u = datetime.datetime.fromtimestamp(ev[len(ev) // 2]["t"] / NS,
                                            datetime.timezone.utc)
        s = u.strftime("%Y-%m-%d %H:%M:%S")
        t_utc = int(u.replace(microsecond=0).timestamp()) * NS
        t_loc = expect_time(s, 0, tz)
        for extra, t in ((["--utc"], t_utc), ([], t_loc)):
            r = query(store, ["--count", "--since", s, *extra], env)
            want = sum(1 for x in ev if x["t"] >= t)
            h.check(int(r.stdout) == want, f"TZ={tz_name} --since '{s}' "
                    f"{extra}: {r.stdout.strip()} == {want}")


# ---------------------------------------------------------------------------
# Output modes.

def shown_time(t, tz, style):
    dt = datetime.datetime.fromtimestamp(t // NS, tz)
    us = (t % NS) // 1000
    if style == "short":
        return dt.strftime("%b %d %H:%M:%S")
    if style == "short-precise":
        return dt.strftime("%b %d %H:%M:%S") + f".{us:06d}"
    if style == "short-iso":
        return dt.isoformat(timespec="seconds")
    return dt.strftime("%a %Y-%m-%d %H:%M:%S") + f".{us:06d} " + \
        dt.tzname()


def test_output(tz_name, env, store, recs):
    ev = [r for r in recs if r["kind"] == 0]
    last = ev[-6:]
    for utc in (False, True):
        tz = datetime.timezone.utc if utc else zoneinfo.ZoneInfo(tz_name)
        extra = ["--utc"] if utc else []
        for mode in ("short", "short-iso", "short-precise", None):
            args = ["-n", "6", *extra] + (["-o", mode] if mode else [])
            lines = query(store, args, env).stdout.decode().splitlines()
            h.check(len(lines) == 6, f"-o {mode}: six lines")
            for x, line in zip(last, lines):
                want = re.escape(shown_time(x["t"], tz, mode or "short")) + \
                    " " + re.escape(x["host"]) + " " + re.escape(x["app"]) + \
                    r"(\[[^]]+\])?: "
                h.check(re.match(want, line) is not None,
                        f"TZ={tz_name} utc={utc} -o {mode or '(default)'}: "
                        f"{line[:70]!r} starts {want[:60]!r}")
        out = query(store, ["-n", "6", "-o", "verbose", *extra], env)
        heads = [ln for ln in out.stdout.decode().splitlines()
                 if not ln.startswith("    ")]
        h.check(len(heads) == 6 and all(
            ln.startswith(shown_time(x["t"], tz, "verbose") +
                          f" [seq={x['seq']} block=")
            for x, ln in zip(last, heads)),
            f"TZ={tz_name} utc={utc} -o verbose: a time line per record: "
            f"{heads[:1]}")
        h.check(out.stdout.count(b"\n    raw=") == 6,
                "-o verbose: every field on its own line, raw among them")
    out = query(store, ["-n", "6", "-o", "json-pretty"], env).stdout.decode()
    dec, pos, objs = json.JSONDecoder(), 0, []
    while out[pos:].strip():
        o, n = dec.raw_decode(out[pos:].lstrip())
        pos = len(out) - len(out[pos:].lstrip()) + n
        objs.append(o)
    h.check([o["raw"].encode() if "raw" in o else
             base64.b64decode(o["raw_base64"]) for o in objs] ==
            [x["raw"] for x in last]
            and out.startswith("{\n  \"seq\": "),
            "-o json-pretty: the same objects, indented")
    lines = query(store, ["-n", "6", "-o", "cat"], env).stdout.splitlines()
    h.check(len(lines) == 6 and all(
        x["raw"].endswith(ln) for x, ln in zip(last, lines)
        if b"\\" not in x["raw"] and x["raw"].isascii()),
        "-o cat: the message alone")
    r = query(store, ["-n", "6", "-j"], env)
    h.check(raws(r.stdout) == [x["raw"] for x in last], "-j: -o json")
    r = query(store, ["--output", "bogus"], env, rc_ok=(2,))
    h.check(b"short-iso" in r.stderr, "a bad -o lists the modes")


# ---------------------------------------------------------------------------
# Filters and -n.

def test_filters(env, store, recs):
    ev = [r for r in recs if r["kind"] == 0]

    def same(args, want, what):
        r = query(store, ["--json", *args], env)
        got = raws(r.stdout)
        h.check(got == want, f"{what}: {len(got)} records, want {len(want)}"
                f" ({' '.join(args)})")

    raw = [x["raw"] for x in ev]
    same(["-n", "7"], raw[-7:], "-n 7: the newest seven, oldest first")
    same(["-n7"], raw[-7:], "-n7")
    same(["--lines=7"], raw[-7:], "--lines=7")
    same(["--limit", "7"], raw[-7:], "--limit: an alias of -n")
    same(["-n", "7", "-r"], raw[-7:][::-1], "-n 7 -r: newest first")
    same(["-n", "+7"], raw[:7], "-n +7: the oldest seven")
    same(["-n", "+7", "-r"], raw[:7][::-1], "-n +7 -r")
    same(["-n"], raw[-10:], "-n alone: ten")
    same(["-n", "all"], raw, "-n all")
    errs = [x["raw"] for x in ev if 0 <= x["sev"] <= 3]
    same(["-n", "4", "-p", "err"], errs[-4:], "-n with a filter")

    same(["-p", "err"], errs, "-p err: emerg..err")
    same(["--priority", "warning"],
         [x["raw"] for x in ev if 0 <= x["sev"] <= 4], "--priority warning")
    same(["--severity", "crit"],
         [x["raw"] for x in ev if 0 <= x["sev"] <= 2],
         "--severity: an alias of -p")
    same(["-p", "notice..warning"],
         [x["raw"] for x in ev if 4 <= x["sev"] <= 5], "-p range")

    for args in (["-t", "CRON"], ["-t", "cron"], ["--identifier", "Cron"],
                 ["--app", "cRoN"], ["-a", "cron"]):
        same(args, [x["raw"] for x in ev if x["app"].lower() == "cron"],
             f"{' '.join(args)}: any case")
    host = ev[-1]["host"]
    same(["--host", host.upper()], [x["raw"] for x in ev
                                    if x["host"].lower() == host.lower()],
         "--host in any case")

    same(["-g", "cron"], [x["raw"] for x in ev
                          if re.search(rb"cron", x["raw"], re.I)],
         "-g without a capital: any case")
    same(["-g", "CR[O]N"], [x["raw"] for x in ev
                            if re.search(rb"CR[O]N", x["raw"])],
         "-g with a capital: exact case, PCRE2")
    same(["--grep-fixed", "cron"], [x["raw"] for x in ev
                                    if b"cron" in x["raw"]],
         "--grep-fixed: the literal bytes")
    same(["-e", "cron"], [x["raw"] for x in ev
                          if re.search(rb"cron", x["raw"])],
         "-e: case-sensitive PCRE2")

    allr = [x["raw"] for x in recs]
    r = query(store, ["--count"], env)
    h.check(int(r.stdout) == len(ev), "by default the collector's records "
            "are not shown")
    r = query(store, ["--count", "--kind", "audit"], env)
    h.check(int(r.stdout) == len(recs) - len(ev), "--kind audit shows them")
    r = query(store, ["--count", "--all"], env)
    h.check(int(r.stdout) == len(allr), "--all shows everything")
    r = query(store, ["--count", "--kind", "stop"], env)
    h.check(int(r.stdout) == sum(1 for x in recs if x["kind"] == 2),
            "a specific audit kind")

    r = query(store, ["-u", "nginx"], env, rc_ok=(2,))
    err = r.stderr.decode()
    h.check("no units" in err and "-t nginx" in err,
            f"-u is refused with a pointer to -t: {err!r}")


def test_paths(work, env, store):
    verify = os.environ["CUSTODY_VERIFY"]
    bundle = os.path.join(work, "ev.bnd")
    query(store, ["-n", "+3", "--bundle", bundle], env)
    for argv in ([h.binary("CUSTODY_QUERY"), bundle],
                 [verify, bundle]):
        r = h.run(argv, env=env)
        err = r.stderr.decode()
        h.check(r.returncode == 2 and "evidence bundle" in err and
                f"custody-verify --bundle {bundle} --root ROOT.pub "
                "--records" in err,
                f"{os.path.basename(argv[0])} on a bundle names the command "
                f"that reads it: {err!r}")
    for argv in ([h.binary("CUSTODY_QUERY"), work], [verify, work]):
        r = h.run(argv, env=env)
        err = r.stderr.decode()
        h.check(r.returncode == 2 and f"no segments/ in {work}" in err and
                f"{work}/near" in err and f"{work}/far" in err and
                "stores are at" in err,
                f"{os.path.basename(argv[0])} on the directory above names "
                f"the stores below it: {err!r}")


def test_raw(work, env):
    """--raw of messages sent with a trailing and an inner line feed."""
    d = h.Daemon(work, tcp=False, unix=False).start()
    sent = [b"<14>1 2024-06-01T12:00:00Z h app - - - ends in LF\n",
            b"<14>1 2024-06-01T12:00:00Z h app - - - no LF",
            b"<14>1 2024-06-01T12:00:00Z h app - - - inner\nLF\n"]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for m in sent:
        u.sendto(m, ("127.0.0.1", d.port))
    u.close()

    def events():
        r = query(d.data, ["--count"], env, rc_ok=(0, 1))
        return int(r.stdout or b"0") >= len(sent)
    h.wait_for(events, 20, "the messages to be sealed")
    d.stop()
    r = query(d.data, ["--json"], env)
    stored = raws(r.stdout)
    h.check(stored == sent, f"the bytes are kept as sent: {stored}")
    r = query(d.data, ["--raw"], env)
    want = b"".join(m.rstrip(b"\n") + b"\n" for m in sent)
    h.check(r.stdout == want and b"\n\n" not in r.stdout,
            f"--raw: no blank line, a trailing LF not doubled: {r.stdout!r}")


def body():
    work = h.workdir("qjournal")
    now_s = time.time_ns() // NS
    # One day ending about a day ago, one ending in an hour, and a day
    # of summer time in both zones (1 June 2024: BST, EDT), so that
    # London's local time differs from UTC whatever the date of the run.
    far = mkday(work, "far", now_s - 47 * 3600)
    near = mkday(work, "near", now_s - 23 * 3600)
    summer = mkday(work, "summer", 1717200000)
    checked = set()
    for tz_name in ZONES:
        env = dict(os.environ, TZ=tz_name,
                   CUSTODY_INDEX_KEY=os.path.join(work, "idx.key"))
        test_times(tz_name, env, (far, near, summer), checked)
        test_output(tz_name, env, *near)
        test_output(tz_name, env, *summer)
    h.check(len(checked) >= 6, f"the time forms cut the stores: {checked}")
    env = dict(os.environ, TZ=ZONES[0],
               CUSTODY_INDEX_KEY=os.path.join(work, "idx.key"))
    test_filters(env, *near)
    test_paths(work, env, near[0])
    cd = os.environ.get("CUSTODYD", "")
    if cd and os.access(cd, os.X_OK):
        test_raw(os.path.join(work, "raw"), env)
    else:
        print("SKIP: no custodyd; the --raw part did not run")


if __name__ == "__main__":
    h.main(body, bound_s=240)
