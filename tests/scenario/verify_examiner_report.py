"""The examiner's report a court is handed: custody-verify --pdf, --html,
--sign-with, on a store the real collector made through an unclean stop, a
configuration reload and key rotations.

custodyd runs with a 1 s key rotation; events are sent, the configuration
file is changed and reloaded (SIGHUP), the daemon is killed (SIGKILL) and
started again, more events, a clean stop.  Then custody-verify with the
case metadata writes a PDF, an HTML file and the JSON report, each signed:
- the PDF's text holds the verdict in words, the case id, the examiner, the
  root key fingerprint, every input file's SHA-256, and timeline entries
  for the starts, the unclean stop, the reload and the key rotations;
- pdfinfo's page count is what pdftoppm renders, and every page says
  "page X of Y";
- openssl cms -verify accepts each signature, and rejects the PDF's once
  one byte of the PDF changes; a signing key readable by others is refused;
- on a copy of the store with one payload byte flipped, the first page
  says in words that the evidence failed verification, and where;
- hostile text sealed in a record (markup, quotes) comes out of the HTML
  escaped, never as markup.
"""
import html.parser
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import harness as h  # noqa: E402

CONFIG_A = """\
[store]
commit_interval = 50ms
checkpoint_interval = 200ms
[keys]
rotate_interval = 1s
"""
# The change the reload must show: a different checkpoint interval.
CONFIG_B = CONFIG_A.replace("checkpoint_interval = 200ms",
                            "checkpoint_interval = 300ms")

CASE = "CASE-2026/0042"
EXHIBIT = "HD-3 (collector disk image)"
EXAMINER = "Dr. Ann O'Neil"
ORG = "Regional Digital Forensics Unit"


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "p", "h1",
                "h2", "h3", "table", "tr", "th", "td", "ul", "li", "br"}


class Tags(html.parser.HTMLParser):
    """The tags of a page, and any attribute that would load something."""

    def __init__(self):
        super().__init__()
        self.seen = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.seen.add(tag)
        self.links += [v for k, v in attrs if k in ("src", "href")]


def words(b):
    """Text with every run of white space made one space."""
    return " ".join(b.decode(errors="replace").split())


def pdftext(pdf, first=None, last=None):
    argv = ["pdftotext"]
    if first:
        argv += ["-f", str(first), "-l", str(last)]
    r = h.run(argv + [pdf, "-"])
    h.check(r.returncode == 0, f"pdftotext reads {pdf}")
    return r.stdout


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True,
                          timeout=30 * h.SLOW)


def make_signer(work):
    """A CA and an examiner's certificate and key (0600) signed by it."""
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    key, csr = os.path.join(work, "ex.key"), os.path.join(work, "ex.csr")
    cert = os.path.join(work, "ex.pem")
    for argv in (
        ["req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=custody test CA"],
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", csr, "-subj",
         "/CN=custody test examiner"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2"],
    ):
        r = openssl(*argv)
        h.check(r.returncode == 0, f"openssl {argv[0]}: "
                f"{r.stderr.decode(errors='replace')[-500:]}")
    os.chmod(key, 0o600)
    return key, cert, ca


def cms_verify(sig, content, ca):
    r = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
                "-content", content, "-CAfile", ca, "-purpose", "any",
                "-out", os.devnull)
    return r.returncode


def make_store(work):
    """The real collector through a reload, an unclean stop and rotations."""
    d = h.Daemon(work, config=CONFIG_A, udp=False, unix=False).start()
    tcp = f"tcp://127.0.0.1:{d.port}"
    e0 = d.metric("custody_key_epoch")
    h.loadgen(tcp, 500, gen="runA")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 500, 20,
               "the first 500 events durable")

    with open(d.config, "w") as f:
        f.write(CONFIG_B)
    d.proc.send_signal(signal.SIGHUP)
    h.wait_for(lambda: "reloaded the configuration" in d.log_text(), 20,
               "the reload to be logged")
    h.wait_for(lambda: d.metric("custody_key_epoch") >= e0 + 2, 10,
               "two key rotations")
    h.loadgen(tcp, 300, gen="runB")
    h.wait_for(lambda: d.metric("custody_events_durable_total") >= 800, 20,
               "800 events durable")
    d.kill()

    d.start()
    h.loadgen(tcp, 200, gen="runC")
    h.wait_for(lambda: d.received(tcp) >= 200, 20, "the third run read")
    d.stop()
    return d


def check_report(work, d, key, cert, ca):
    out = os.path.join(work, "out")
    os.makedirs(out)
    pdf, html = os.path.join(out, "report.pdf"), os.path.join(out, "r.html")
    rep = os.path.join(out, "report.json")
    root = os.path.join(d.data, "keys", "root.pub")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--case", CASE,
               "--exhibit", EXHIBIT, "--examiner", EXAMINER,
               "--organisation", ORG, "--pdf", pdf, "--html", html,
               "--json", "--report", rep, "--sign-with", key, "--cert", cert,
               d.data], bound_s=120)
    h.check(r.returncode == 0, f"the store verifies intact (exit "
            f"{r.returncode}): {r.stderr.decode(errors='replace')[-2000:]}")
    j = json.load(open(rep))
    h.check(j["case"] == {"id": CASE, "exhibit": EXHIBIT,
                          "examiner": EXAMINER, "organisation": ORG},
            f"the JSON report carries the case ({j['case']})")

    raw = pdftext(pdf)
    text = words(raw)
    flat = "".join(raw.decode().split())
    for want in ("The evidence passed verification.", CASE, EXHIBIT,
                 EXAMINER, ORG, j["root"]["fingerprint"],
                 "Collector started", "Configuration reloaded",
                 "Signing key rotated", "Collector stopped cleanly",
                 "the configuration's SHA-256 changed from",
                 "Was the system operating properly?"):
        h.check(want in text, f"the PDF says {want!r}")
    # The collector seals its configuration's text (R-CFG-1): the reload
    # shows what changed, line by line.
    for want in ("- line 3: checkpoint_interval = 200ms",
                 "+ line 3: checkpoint_interval = 300ms"):
        h.check(want in text, f"the PDF's configuration diff says {want!r}")
    h.check("Recovery after an unclean stop" in text or
            "ended without a stop record (unclean stop)" in text,
            "the PDF's timeline shows the unclean stop")
    m = re.search(r"(\d+) unclean stop\(s\)", text)
    h.check(m is not None and int(m.group(1)) >= 1,
            f"the PDF counts the unclean stop ({m and m.group(0)})")
    for inp in j["inputs"]:
        h.check(inp["sha256"] in flat, f"the PDF holds the SHA-256 of "
                f"{inp['file']}")

    info = h.run(["pdfinfo", pdf]).stdout.decode()
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    h.check(pages >= 2, f"{pages} pages")
    h.check("A4" in info or "595.276 x 841.89" in info,
            "the pages are A4")
    for p in range(1, pages + 1):
        h.check(f"page {p} of {pages}" in words(pdftext(pdf, p, p)) and
                CASE in words(pdftext(pdf, p, p)),
                f"page {p} names the case and says 'page {p} of {pages}'")
    png = os.path.join(out, "page")
    r = h.run(["pdftoppm", "-png", "-r", "30", pdf, png], bound_s=60)
    rendered = [f for f in os.listdir(out) if f.startswith("page")]
    h.check(r.returncode == 0 and len(rendered) == pages,
            f"pdftoppm renders all {pages} pages ({len(rendered)})")

    for f in (pdf, html, rep):
        h.check(cms_verify(f + ".p7s", f, ca) == 0,
                f"openssl cms -verify accepts {os.path.basename(f)}.p7s")
    with open(pdf, "r+b") as f:
        f.seek(os.path.getsize(pdf) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 1]))
    h.check(cms_verify(pdf + ".p7s", pdf, ca) != 0,
            "the signature no longer verifies once one byte of the PDF "
            "changed")

    # The case record's entry names each report file and its signature.
    casedir = os.path.join(work, "case")
    pdf2 = os.path.join(out, "again.pdf")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--case", CASE,
               "--case-dir", casedir, "--pdf", pdf2, "--sign-with", key,
               "--cert", cert, d.data], bound_s=120)
    entry = open(os.path.join(casedir, "entry-000001.txt")).read()
    h.check(r.returncode == 0 and f"case {CASE}\n" in entry and
            f" {pdf2}\n" in entry and f" {pdf2}.p7s\n" in entry,
            "the case record's entry names the PDF and its signature")

    os.chmod(key, 0o640)
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--pdf", pdf,
               "--sign-with", key, "--cert", cert, d.data], bound_s=60)
    h.check(r.returncode == 2 and b"0600" in r.stderr,
            f"a signing key readable by its group is refused (exit "
            f"{r.returncode}: {r.stderr.decode(errors='replace')})")
    os.chmod(key, 0o600)

    # A root key without the fingerprint the examiner gave: no sentence
    # of the report may say it has it.
    txt = os.path.join(out, "wrong-fpr.txt")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--root-fpr",
               "0" * 32, "--text", txt, d.data])
    said = words(open(txt, "rb").read())
    h.check(r.returncode == 1 and "That key has the fingerprint" not in said
            and "the key file has it" not in said and
            "does NOT have the fingerprint given" in said and
            "The evidence FAILED verification" in said,
            f"a wrong --root-fpr is reported as such, never as a match "
            f"(exit {r.returncode})")

    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--case",
               "bad\x07bell", d.data])
    h.check(r.returncode == 2 and b"--case" in r.stderr,
            "a case id with a control character is refused")
    return root


def check_tampered(work, d, root):
    """A flipped payload byte: page 1 says failed, and where."""
    bad = os.path.join(work, "tampered")
    shutil.copytree(d.data, bad)
    segs = sorted(os.listdir(os.path.join(bad, "segments")))
    seg = max((os.path.join(bad, "segments", s) for s in segs),
              key=os.path.getsize)
    with open(seg, "r+b") as f:
        f.seek(os.path.getsize(seg) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x55]))
    pdf = os.path.join(work, "tampered.pdf")
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root", root, "--case", CASE,
               "--pdf", pdf, bad], bound_s=120)
    h.check(r.returncode == 1, f"the tampered copy fails (exit "
            f"{r.returncode})")
    first = words(pdftext(pdf, 1, 1))
    h.check("The evidence FAILED verification" in first,
            "page 1 says the evidence failed verification")
    h.check(os.path.basename(seg) in "".join(first.split()) and
            "byte offset" in first and "block" in first,
            f"page 1 says where: the file {os.path.basename(seg)}, the "
            f"offset and the block ({first[:600]})")


def check_html_escaping(work):
    """Hostile text sealed into start records comes out as text; the
    configuration they carry is shown as a line diff."""
    store = os.path.join(work, "hostile")
    hostile = "<script>alert(\"x\")</script><img src=x onerror='y'> & more"
    confs = []
    for i, text in enumerate((CONFIG_A, CONFIG_B + "# <script>x</script>\n")):
        confs += ["--config", os.path.join(work, f"c{i}.conf")]
        with open(confs[-1], "w") as f:
            f.write(text)
    r = h.run([h.tool("custody-mkstore"), store, "--events", "3000",
               "--recovery", "--hostname", hostile, *confs])
    h.check(r.returncode == 0, "custody-mkstore made the hostile store")
    html, pdf = (os.path.join(work, "hostile." + x) for x in ("html", "pdf"))
    r = h.run([h.binary("CUSTODY_VERIFY"), "--root",
               os.path.join(store, "keys", "root.pub"), "--examiner",
               "<b>O'Neil</b> \"quoted\"", "--html", html, "--pdf", pdf,
               store])
    h.check(r.returncode == 0, f"the hostile store verifies (exit "
            f"{r.returncode})")
    text = words(pdftext(pdf))
    for want in ("- line 3: checkpoint_interval = 200ms",
                 "+ line 3: checkpoint_interval = 300ms",
                 "+ line 6: # <script>x</script>"):
        h.check(want in text, f"the PDF's configuration diff says {want!r}")
    h.check("line 1: [store]" not in text,
            "lines that did not change are not in the diff")
    page = open(html, encoding="utf-8").read()
    h.check("<script" not in page and "<img" not in page and
            "<b>" not in page, "no markup from the record or the case "
            "reaches the HTML")
    h.check("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and
            "onerror=&#39;y&#39;" in page and "&amp; more" in page,
            "the record's text is in the HTML, escaped")
    h.check("&lt;b&gt;O&#39;Neil&lt;/b&gt; &quot;quoted&quot;" in page,
            "the examiner's name is in the HTML, escaped")
    h.check("# &lt;script&gt;x&lt;/script&gt;" in page,
            "the configuration's text is in the HTML, escaped")
    tags = Tags()
    tags.feed(page)
    h.check(tags.seen <= ALLOWED_TAGS and not tags.links,
            f"the HTML has only the report's own markup and loads nothing "
            f"(tags {sorted(tags.seen - ALLOWED_TAGS)}, links {tags.links})")


def body():
    work = h.workdir("examiner")
    key, cert, ca = make_signer(work)
    d = make_store(work)
    root = check_report(work, d, key, cert, ca)
    check_tampered(work, d, root)
    check_html_escaping(work)


if __name__ == "__main__":
    h.main(body, bound_s=200)
