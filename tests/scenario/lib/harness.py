"""Shared plumbing of the scenario tests: the real custodyd on loopback,
driven by real clients, checked with the read side.

Rules every scenario follows (tests/scenario/*.py import this module):
- Every wait is on a condition with a bound (wait_for), never a bare sleep.
- Every process started is ended by pid at exit, on success, failure,
  timeout (a SIGALRM bound on the whole test) or interruption.
- The daemon's data dir and logs live in one temp dir, removed on success
  and kept (path printed) on failure, so a failure can be looked at.

Environment (set by ctest; see tests/CMakeLists.txt): CUSTODYD,
CUSTODY_VERIFY, CUSTODY_QUERY, CUSTODY_BUILD_DIR, CUSTODY_SOURCE_DIR,
CUSTODY_SANITIZE.
"""
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

SANITIZED = os.environ.get("CUSTODY_SANITIZE", "0") == "1"
# Sanitized builds run several times slower: every bound widens with them.
SLOW = 4.0 if SANITIZED else 1.0

_procs = []
_workdirs = []
_failed = False


def env_path(name):
    value = os.environ.get(name)
    if not value:
        fail(f"{name} is not set (run through ctest, or set it by hand)")
    return value


def build_dir():
    return env_path("CUSTODY_BUILD_DIR")


def tool(name):
    """A program of the build: tests/tools/NAME or bench/NAME."""
    for path in (os.path.join(build_dir(), name),
                 os.path.join(build_dir(), "bench", name)):
        if os.access(path, os.X_OK):
            return path
    fail(f"{name} is not built in {build_dir()}")


def binary(var):
    path = env_path(var)
    if not os.access(path, os.X_OK):
        fail(f"{var}={path} is not built yet")
    return path


class TestFailure(Exception):
    pass


class _PortTaken(TestFailure):
    """custodyd could not bind a port picked for it (Daemon.start)."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}", flush=True)


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
    for d in _workdirs:
        if _failed:
            print(f"kept for inspection: {d}", flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, frame):
    raise TestFailure(f"interrupted by signal {signum}")


def _on_alarm(signum, frame):
    raise TestFailure("the test ran past its time bound")


def time_bound(bound_s):
    """The test's whole time bound in seconds: bound_s, scaled by SLOW,
    but ending 15 s before ctest's own timeout (CUSTODY_TEST_TIMEOUT), which
    kills the test without letting it report or clean up."""
    limit = int(bound_s * SLOW)
    ctest = int(os.environ.get("CUSTODY_TEST_TIMEOUT", "0") or 0)
    if ctest > 30:
        limit = min(limit, ctest - 15)
    return max(limit, 1)


def main(body, bound_s=50):
    """Runs body() with cleanup, a time bound and an exit status."""
    global _failed
    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(time_bound(bound_s))
    try:
        body()
    except TestFailure as e:
        _failed = True
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    finally:
        signal.alarm(0)
    print("PASS", flush=True)
    sys.exit(0)


def workdir(tag):
    d = tempfile.mkdtemp(prefix=f"custody-{tag}.", dir="/tmp")
    _workdirs.append(d)
    return d


def wait_for(cond, bound_s, what, step_s=0.02):
    """Polls cond() until it returns a true value, at most bound_s."""
    deadline = time.monotonic() + bound_s * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            fail(f"timed out after {bound_s * SLOW:.0f} s waiting for {what}")
        time.sleep(step_s)


def _port_range():
    """Ports to pick from: just below the kernel's ephemeral range, so
    that no connect() of another test running beside this one (ctest -j)
    is given a port picked here before the daemon binds it, nor while a
    restarted daemon binds it again."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if low - 1024 < 4000:
        return None
    return max(1024, low - 12000), low


_port_rng = random.Random()  # a port's choice decides no outcome: no seed


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 right now, outside
    the ephemeral range when there is room below it."""
    span = _port_range()
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1",
                    _port_rng.randrange(*span) if span else 0))
        except OSError:
            t.close()
            continue
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    fail("no free port")


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def spawn(argv, log_path=None, **kw):
    """Starts a process that cleanup will end; output to log_path."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **kw)
    _procs.append(p)
    return p


def run(argv, bound_s=30, **kw):
    """Runs a command to completion within a bound; returns CompletedProcess."""
    try:
        return subprocess.run(argv, capture_output=True,
                              timeout=bound_s * SLOW, **kw)
    except subprocess.TimeoutExpired:
        fail(f"timed out after {bound_s * SLOW:.0f} s: {' '.join(argv)}")


def run_ok(argv, rc_ok=(0,), env=None):
    """Runs a command as run does; fails unless its exit code is in rc_ok."""
    r = run(argv, bound_s=60, env=env)
    if r.returncode not in rc_ok:
        fail(f"{' '.join(argv)} exited {r.returncode}: "
             f"{r.stderr.decode(errors='replace')[-2000:]}")
    return r


def chain_of(store):
    """The chain id of the store in directory store (its keys/root.pub)."""
    with open(os.path.join(store, "keys", "root.pub")) as f:
        return f.read().split()[1]


def proc_status(pid, key):
    """A field of /proc/PID/status in KiB (VmHWM, VmRSS), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_s(pid):
    """User + system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def _plain_tree(path):
    """True when path holds only directories, regular files and links."""
    for top, dirs, files in os.walk(path):
        for n in dirs + files:
            mode = os.lstat(os.path.join(top, n)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or
                    stat.S_ISLNK(mode)):
                return False
    return True


class Daemon:
    """custodyd on loopback with a temp data dir, one listener of each kind."""

    def __init__(self, work, config=None, tcp=True, udp=True, unix=True):
        self.work = work
        self.data = os.path.join(work, "data")
        self.port = free_port()
        self.metrics_port = free_port()
        self.sock = os.path.join(work, "log.sock")
        self.listeners = []
        if tcp:
            self.listeners.append(f"tcp://127.0.0.1:{self.port}")
        if udp:
            self.listeners.append(f"udp://127.0.0.1:{self.port}")
        if unix:
            self.listeners.append(f"unix://{self.sock}")
        self.config = None
        if config is not None:
            self.config = os.path.join(work, "custodyd.conf")
            with open(self.config, "w") as f:
                f.write(config)
        self.proc = None
        self.starts = 0
        self.notify = None

    def argv(self):
        a = [binary("CUSTODYD"), "--data-dir", self.data]
        for url in self.listeners:
            a += ["--listen", url]
        a += ["--metrics", f"tcp://127.0.0.1:{self.metrics_port}"]
        # Tests run as whoever runs them, root in CI: stay so, knowingly.
        a += ["--set", "server.allow_root=yes"]
        if self.config:
            a += ["--config", self.config]
        return a

    def start(self):
        """Starts the daemon and waits until every listener is ready.

        The first start takes other ports when one picked was taken
        meanwhile (by a process of a test running beside this one): the
        daemon refuses a listener it cannot bind, and runs on without
        its metrics endpoint (whose port would then answer for another
        process), so neither start is the one the test asked for."""
        first = self.starts == 0
        saved = None
        if first and os.path.isdir(self.data) and \
                not _plain_tree(self.data):
            first = False  # a FIFO or the like: not copied, no retry
        if first and os.path.isdir(self.data):
            # What the test put in the data dir (keys) before the start.
            saved = self.data + ".before-start"
            shutil.copytree(self.data, saved, symlinks=True)
        for attempt in range(5):
            try:
                self._start()
                break
            except _PortTaken as e:
                if not first or attempt == 4 or not self._repick():
                    fail(str(e))
                print(f"note: {e}; starting again on ports {self.port} "
                      f"and {self.metrics_port}", flush=True)
                shutil.rmtree(self.data, ignore_errors=True)
                if saved:
                    shutil.copytree(saved, self.data, symlinks=True)
        if saved:
            shutil.rmtree(saved, ignore_errors=True)
        return self

    def _repick(self):
        """New ports for the listeners of self.port and the metrics;
        False when the configuration file names a port (it stays)."""
        if self.config:
            with open(self.config) as f:
                text = f.read()
            if str(self.port) in text or str(self.metrics_port) in text:
                return False
        old = self.port
        self.port = free_port()
        self.metrics_port = free_port()
        self.listeners = [u.replace(f"127.0.0.1:{old}",
                                    f"127.0.0.1:{self.port}")
                          for u in self.listeners]
        return True

    def _start(self):
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        self.starts += 1
        log = os.path.join(self.work, f"custodyd.{self.starts}.log")
        # Readiness as systemd would see it (READY=1 on NOTIFY_SOCKET),
        # when the daemon sends it; listeners accepting otherwise.
        notify_path = os.path.join(self.work, f"notify.{self.starts}")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notify.setblocking(False)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        self.log = log
        self.proc = spawn(self.argv(), log, env=env)
        try:
            wait_for(self._ready, 20, "custodyd to be ready")
        except _PortTaken:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.notify.close()
            raise

    def _ready(self):
        exited = self.proc.poll() is not None
        text = self.log_text()
        if "no metrics endpoint" in text or \
                (exited and "Address already in use" in text):
            raise _PortTaken("a port picked for custodyd was taken before "
                             "it could bind it:\n" + text)
        if exited:
            fail(f"custodyd exited with {self.proc.returncode} at start:\n"
                 + text)
        notified = False
        try:
            while True:
                if b"READY=1" in self.notify.recv(4096):
                    notified = True
        except BlockingIOError:
            pass
        if notified:
            self.notified = True
        tcp_ok = not any(u.startswith("tcp://") for u in self.listeners) \
            or port_accepts(self.port)
        unix_ok = not any(u.startswith("unix://") for u in self.listeners) \
            or os.path.exists(self.sock)
        metrics_ok = self.metrics_text() is not None
        return tcp_ok and unix_ok and metrics_ok

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def metrics_text(self):
        """The metrics endpoint's text: HTTP GET, or what a bare TCP
        endpoint writes on connect; None when it does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.metrics_port),
                                          timeout=2) as c:
                c.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                data = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        if data.startswith(b"HTTP/"):
            head, _, data = data.partition(b"\r\n\r\n")
            if b" 200" not in head.split(b"\r\n", 1)[0]:
                return None
        return data.decode(errors="replace")

    def metrics(self):
        """Prometheus text as {name: value}, labels summed over, and
        {name{labels}: value} for each labelled series."""
        # One read can miss on a loaded machine (the loop busy past the
        # read's timeout): the endpoint must answer within a bound.
        deadline = time.monotonic() + 10 * SLOW
        while True:
            text = self.metrics_text()
            if text is not None:
                break
            if self.proc is not None and self.proc.poll() is not None:
                fail(f"the metrics endpoint does not answer: custodyd "
                     f"exited with {self.proc.returncode}")
            if time.monotonic() >= deadline:
                fail("the metrics endpoint does not answer (for "
                     f"{10 * SLOW:.0f} s)")
            time.sleep(0.1)
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)",
                         line)
            if m:
                try:
                    v = float(m.group(3))
                except ValueError:
                    continue
                out[m.group(1)] = out.get(m.group(1), 0) + v
                if m.group(2):
                    out[m.group(1) + m.group(2)] = v
        return out

    def received(self, url):
        """custody_received_total of the listener url."""
        return self.metrics().get(f'custody_received_total{{listener="{url}"}}',
                                  0)

    def metric(self, *names):
        """The first of names the endpoint reports (their meaning is one)."""
        m = self.metrics()
        for n in names:
            if n in m:
                return m[n]
        fail(f"none of the metrics {names} is reported; have: "
             f"{sorted(m)}")

    def stop(self, bound_s=30):
        """SIGTERM: drain, seal, exit 0 (issue 3)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=bound_s * SLOW)
        except subprocess.TimeoutExpired:
            fail(f"custodyd did not exit within {bound_s * SLOW:.0f} s of "
                 "SIGTERM")
        check(rc == 0, f"custodyd exits 0 on SIGTERM (got {rc})")
        self.notify.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.notify.close()


def loadgen(target, count, conns=1, size=200, framing="octet", rate=None,
            gen=None, manifest=None, duration=None, bound_s=40,
            background=False, log=None):
    """Runs custody-loadgen; returns its parsed result line (or the Popen)."""
    argv = [tool("custody-loadgen"), "-t", target, "-c", str(conns),
            "-s", str(size), "-T", str(bound_s * SLOW)]
    if count is not None:
        argv += ["-n", str(count)]
    if target.startswith("tcp://"):
        argv += ["-f", framing]
    if rate:
        argv += ["-r", str(rate)]
    if gen:
        argv += ["-g", gen]
    if manifest:
        argv += ["-m", manifest]
    if duration:
        argv += ["-d", str(duration)]
    if background:
        return spawn(argv, log)
    r = run(argv, bound_s=bound_s + 5)
    if r.returncode != 0:
        fail(f"custody-loadgen exited {r.returncode}: "
             f"{r.stderr.decode(errors='replace')}")
    return parse_kv(r.stdout.decode().strip())


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def check_store(data, manifests=(), mode=None, checkpoint=None, dump=False):
    """Runs check_store; returns (exit code, summary dict, dumped records)."""
    argv = [tool("check_store")]
    for m in manifests:
        argv += ["-m", m]
    if mode:
        argv.append(mode)
    if checkpoint:
        argv += ["-c", checkpoint]
    if dump:
        argv.append("--dump")
    argv.append(data)
    r = run(argv, bound_s=60)
    summary_text = (r.stderr if dump else r.stdout).decode(errors="replace")
    records = []
    if dump:
        records = [json.loads(line) for line in r.stdout.decode().splitlines()
                   if line.startswith("{")]
    summary = {"runs": [], "audit": [], "text": summary_text,
               "stderr": r.stderr.decode(errors="replace")}
    for line in summary_text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "run":
            summary["runs"].append(parse_kv(rest))
        elif word == "audit":
            summary["audit"].append(parse_kv(rest))
        elif word in ("store", "kinds", "events", "disk", "checkpoint"):
            summary[word] = parse_kv(rest)
        elif line.startswith("result="):
            summary["result"] = line.split("=", 1)[1]
    return r.returncode, summary, records


def read_back(data):
    """Checks that the store at data reads back whole; returns check_store's
    summary and dumped records."""
    rc, summary, records = check_store(data, dump=True)
    check(rc == 0 and summary.get("result") == "ok",
          f"the store reads back whole ({summary.get('store')})")
    return summary, records


def segment_frames(path):
    """(offset, cert_len, payload_len) of each frame of a segment file
    (SPEC section 4), for tests that damage one on purpose."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 128
    while off + 224 <= len(data):
        cert = int.from_bytes(data[off + 60:off + 64], "little")
        pay = int.from_bytes(data[off + 64:off + 68], "little")
        out.append((off, cert, pay))
        off += 224 + cert + pay + 64
    return out


def ref_verify(data, what, extra=(), bound_s=60):
    """Runs the reference verifier (tests/ref/custody_ref.py, which follows
    SPEC alone) on the store at data, with extra options; checks that it
    finds the store intact, saying what."""
    ref = os.path.join(env_path("CUSTODY_SOURCE_DIR"), "tests", "ref",
                       "custody_ref.py")
    r = run(["/usr/bin/python3", ref, *extra, data], bound_s=bound_s)
    check(r.returncode == 0, f"{what} (exit {r.returncode}): "
          + (r.stdout + r.stderr).decode(errors="replace")[-1500:])
    return r


def verify_report(data, *extra):
    """custody-verify --json on data, whatever its verdict: (exit status,
    the report parsed); a run that writes no JSON fails the test."""
    r = run([binary("CUSTODY_VERIFY"), "--json", *extra, data], bound_s=60)
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        fail(f"custody-verify wrote no JSON (exit {r.returncode}): "
             f"{r.stderr.decode(errors='replace')}")
    return r.returncode, rep


def verify(data, extra=()):
    """custody-verify must say the store is intact (exit 0)."""
    r = run([binary("CUSTODY_VERIFY"), *extra, data], bound_s=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    check(r.returncode == 0,
          f"custody-verify says the store is intact (exit {r.returncode})"
          + ("" if r.returncode == 0 else ":\n" + out[-3000:]))
    return out
