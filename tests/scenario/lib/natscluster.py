"""A NATS JetStream cluster on loopback for the replication tests, and a
minimal NATS client (the text protocol over a socket) for JetStream API
requests: stream info, message get, delete, purge, create.

Each server has its own config file, store directory under the test's
work directory and free loopback ports; start() waits until JetStream
answers an account info request (it has a meta leader)."""

import base64
import json
import os
import signal
import socket
import ssl

import harness as h

NATS_SERVER = "/usr/sbin/nats-server"


def nats_server():
    for p in (NATS_SERVER, "/usr/bin/nats-server"):
        if os.access(p, os.X_OK):
            return p
    h.fail("nats-server is not installed (Debian package nats-server)")


class Client:
    """Just enough of the NATS protocol for request/reply."""

    def __init__(self, port, timeout=5, tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.sid = 0
        line = self._line()
        if not line.startswith(b"INFO"):
            h.fail(f"nats: unexpected greeting {line[:80]!r}")
        if tls is not None:
            # INFO comes in clear; then the client starts TLS.
            ctx = ssl.create_default_context(cafile=tls["ca"])
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.sock = ctx.wrap_socket(self.sock,
                                        server_hostname="localhost")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                          b'"headers":true,"no_responders":true,'
                          b'"protocol":1}\r\nPING\r\n')
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                h.fail(f"nats: {line!r}")

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise OSError("nats: connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = self.buf[:n]
        self.buf = self.buf[n + 2:]
        return data

    def request(self, subject, payload=b"", timeout=5):
        """Returns (headers bytes or None, data) of the reply."""
        self.sid += 1
        inbox = f"_INBOX.custodytest.{self.sid}"
        self.sock.settimeout(timeout)
        self.sock.sendall(f"SUB {inbox} {self.sid}\r\nUNSUB {self.sid} 1\r\n"
                          f"PUB {subject} {inbox} {len(payload)}\r\n"
                          .encode() + payload + b"\r\n")
        return self._reply()

    def _reply(self):
        """Reads up to the one reply to the inbox just subscribed; returns
        (headers bytes or None, data), answering PINGs on the way."""
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                raise OSError(f"nats: {line!r}")
            parts = line.split()
            if parts and parts[0] == b"MSG":
                data = self._bytes(int(parts[-1]))
                return None, data
            if parts and parts[0] == b"HMSG":
                hl, tl = int(parts[-2]), int(parts[-1])
                raw = self._bytes(tl)
                return raw[:hl], raw[hl:]

    def publish(self, subject, headers, data, timeout=5):
        """A JetStream publish with headers (HPUB); returns the JSON
        acknowledgement (a dict, with "error" when refused)."""
        self.sid += 1
        inbox = f"_INBOX.custodytest.{self.sid}"
        hb = b"NATS/1.0\r\n" + b"".join(
            f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
        self.sock.settimeout(timeout)
        self.sock.sendall(f"SUB {inbox} {self.sid}\r\nUNSUB {self.sid} 1\r\n"
                          f"HPUB {subject} {inbox} {len(hb)} "
                          f"{len(hb) + len(data)}\r\n".encode()
                          + hb + data + b"\r\n")
        hdr, ack = self._reply()
        if hdr is not None and b"503" in hdr.split(b"\r\n", 1)[0]:
            return {"error": {"code": 503}}
        return json.loads(ack or b"{}")

    def api(self, subject, obj=None, timeout=5):
        """A JetStream API request; returns the JSON answer (a dict)."""
        hdr, data = self.request(subject, json.dumps(obj or {}).encode(),
                                 timeout)
        if hdr is not None and b"503" in hdr.split(b"\r\n", 1)[0]:
            return {"error": {"code": 503, "description": "no responders"}}
        return json.loads(data or b"{}")


def parse_headers(raw):
    """NATS header block (bytes) -> dict."""
    out = {}
    for line in raw.decode(errors="replace").split("\r\n")[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


class Cluster:
    """n nats-server processes in one cluster, JetStream on files."""

    def __init__(self, work, n=3, max_payload="8MB", tls=None):
        """tls: {"cert", "key", "ca"} of the servers, which then ask every
        client for a certificate that ca signed; client_tls, the client
        certificate the test's own requests use."""
        self.work = work
        self.tls = tls
        self.client_tls = None
        self.n = n
        self.ports = [h.free_port() for _ in range(n)]
        self.cports = [h.free_port() for _ in range(n)]
        self.procs = [None] * n
        self.confs = []
        self.starts = [0] * n
        for i in range(n):
            d = os.path.join(work, f"nats{i}")
            os.makedirs(d, exist_ok=True)
            routes = ", ".join(f"nats-route://127.0.0.1:{p}"
                               for j, p in enumerate(self.cports) if j != i)
            conf = os.path.join(d, "server.conf")
            with open(conf, "w") as f:
                f.write(f"server_name: n{i}\n"
                        f"listen: 127.0.0.1:{self.ports[i]}\n"
                        f"max_payload: {max_payload}\n"
                        f"jetstream {{\n  store_dir: \"{d}/js\"\n"
                        f"  max_memory_store: 64MB\n"
                        f"  max_file_store: 4GB\n}}\n")
                if tls:
                    f.write(f"tls {{\n  cert_file: \"{tls['cert']}\"\n"
                            f"  key_file: \"{tls['key']}\"\n"
                            f"  ca_file: \"{tls['ca']}\"\n"
                            f"  verify: true\n}}\n")
                if n > 1:
                    f.write(f"cluster {{\n  name: custodytest\n"
                            f"  listen: 127.0.0.1:{self.cports[i]}\n"
                            f"  routes: [{routes}]\n}}\n")
            self.confs.append(conf)

    @property
    def url(self):
        scheme = "tls" if self.tls else "nats"
        return ",".join(f"{scheme}://127.0.0.1:{p}" for p in self.ports)

    def url_of(self, i):
        return f"nats://127.0.0.1:{self.ports[i]}"

    def start_node(self, i):
        self.starts[i] += 1
        log = os.path.join(self.work, f"nats{i}.{self.starts[i]}.log")
        self.procs[i] = h.spawn([nats_server(), "-c", self.confs[i]], log)

    def start(self, bound_s=30):
        for i in range(self.n):
            self.start_node(i)
        self.wait_ready(bound_s)
        return self

    def wait_ready(self, bound_s=30, nodes=None):
        """Every running node answers JetStream account info."""
        def ready():
            for i in (nodes if nodes is not None else range(self.n)):
                if self.procs[i] is None or self.procs[i].poll() is not None:
                    continue
                try:
                    c = Client(self.ports[i], timeout=2,
                               tls=self.client_tls)
                    try:
                        a = c.api("$JS.API.INFO", timeout=2)
                    finally:
                        c.close()
                except (OSError, ValueError):
                    return False
                if "error" in a:
                    return False
            return True
        h.wait_for(ready, bound_s, "the NATS cluster's JetStream", 0.2)

    def kill_node(self, i):
        p = self.procs[i]
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    def stop_all(self):
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=10)

    def client(self, i=None):
        """A client of a running node (the first that answers)."""
        order = [i] if i is not None else range(self.n)
        for j in order:
            if self.procs[j] is not None and self.procs[j].poll() is None:
                try:
                    return Client(self.ports[j], tls=self.client_tls)
                except OSError:
                    continue
        h.fail("no NATS server answers")


def create_stream(client, name="CUSTODY", **overrides):
    """Creates a stream on custody.> as a collector would (R-REP-1), with
    overrides (e.g. deny_delete=False); returns the API answer."""
    cfg = {"name": name, "subjects": ["custody.>"], "retention": "limits",
           "max_consumers": -1, "max_msgs": -1, "max_bytes": -1,
           "max_age": 0, "max_msgs_per_subject": -1, "max_msg_size": -1,
           "discard": "old", "storage": "file", "num_replicas": 1,
           "duplicate_window": 600 * 10**9, "deny_delete": True,
           "deny_purge": True}
    cfg.update(overrides)
    return client.api(f"$JS.API.STREAM.CREATE.{name}", cfg)


def stream_messages(client, stream, subject_filter=None):
    """Every message of the stream, in order: (seq, subject, headers, data).
    Reads with $JS.API.STREAM.MSG.GET, one request per sequence."""
    info = client.api(f"$JS.API.STREAM.INFO.{stream}")
    if "error" in info:
        h.fail(f"stream {stream}: {info['error']}")
    first, last = info["state"]["first_seq"], info["state"]["last_seq"]
    out = []
    for seq in range(first, last + 1):
        a = client.api(f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq})
        if "error" in a:
            h.fail(f"stream {stream} seq {seq}: {a['error']}")
        m = a["message"]
        if subject_filter and not m["subject"].startswith(subject_filter):
            continue
        hdrs = parse_headers(base64.b64decode(m["hdrs"])) \
            if m.get("hdrs") else {}
        data = base64.b64decode(m.get("data", "")) if m.get("data") else b""
        out.append((seq, m["subject"], hdrs, data))
    return out
