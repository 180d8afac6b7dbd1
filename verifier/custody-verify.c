/*
 * custody-verify: proves, offline and with only a root public key, that a
 * custody store is exactly what the collector sealed: complete, in order
 * and unaltered, or says precisely where it is not (formats/SPEC.md).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/mapguard.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/segment.h"
#include "custody/verify.h"
#include "bundle_check.h"
#include "access.h"
#include "case_cli.h"
#include "caserec.h"
#include "exit.h"
#include "json.h"
#include "natsfetch.h"
#include "root_dir.h"
#include "store_where.h"
#include "tsr_check.h"
#include "custody_version.h"
#include "vcase.h"
#include "vdoc.h"
#include "vreport.h"
#include "vreport_doc.h"
#include "vsign.h"
#include "witness_verify.h"

static const char usage_text[] =
"usage: custody-verify [options] DIR|FILE...\n"
"       custody-verify --root-dir KEYDIR [options] DIR...\n"
"       custody-verify --nats URL [--chain ID]... --root-dir KEYDIR [options]\n"
"       custody-verify --bundle FILE --root ROOT.pub [--root-fpr HEX]\n"
"                      [--checkpoint FILE]... [--witness KEY]... [--quorum N]\n"
"                      [--json] [--report FILE] [--records]\n"
"                      [--records-out FILE [--records-format jsonl|raw]]\n"
"                      [--case ID] [--exhibit REF] [--examiner NAME]\n"
"                      [--organisation NAME]\n"
"       custody-verify --check-case DIR [--case-head HEX]\n"
"                      [--path-map FROM=TO]...\n"
"       custody-verify --case-dir DIR --transfer --from NAME --to NAME\n"
"                      --reason TEXT [--case ID] FILE...\n"
"\n"
"Verifies a custody store (formats/SPEC.md): every block signature, the\n"
"key certificates from the root key, the hash chain across blocks and\n"
"segments, payloads and Merkle roots, sequence numbers, segment numbering\n"
"and seals, and the collector's own audit records.\n"
"\n"
"  DIR   a store directory: DIR/segments/*.cst are verified, DIR/quarantine/\n"
"        is checked against the recovery records, and, unless --root or\n"
"        --root-fpr is given, DIR/keys/root.pub is trusted (with a warning:\n"
"        an investigator should bring the root key or its fingerprint)\n"
"  FILE  a segment file (then --root is needed)\n"
"\n"
"Several store directories (a fleet of collectors) are verified one after\n"
"the other, each against its own root key from --root-dir, with one report\n"
"per chain and a last line \"fleet: N chain(s) intact, M failed, K not\n"
"checked\" (JSON: {\"reports\": [{\"store\": DIR, \"report\": {...}}, ...],\n"
"\"fleet\": {\"chains\", \"intact\", \"failed\", \"not_checked\"}}).  Exit 1\n"
"when any chain failed, else 2 when any could not be checked.\n"
"\n"
"options:\n"
"  --root FILE         root public key file to verify against\n"
"  --root-fpr HEX      the root key's fingerprint (32 or 64 hex digits),\n"
"                      known independently; the key is read from --root or\n"
"                      DIR/keys/root.pub and must have it\n"
"  --root-dir KEYDIR   the root keys of the stores, by chain id:\n"
"                      KEYDIR/<chain id>.pub, or KEYDIR/<chain id>.fpr\n"
"                      (the key's fingerprint; the key is then the store's\n"
"                      keys/root.pub and must have it).  A store whose\n"
"                      chain has neither is not checked (exit 2)\n"
"  --nats URL          read the stores from the NATS JetStream stream the\n"
"                      collectors replicate to (SPEC section 17): every\n"
"                      chain, or those of --chain ID (repeatable), each\n"
"                      restored into a private temporary directory that\n"
"                      is removed at exit; --stream S (default CUSTODY),\n"
"                      --creds FILE, --tls-cert/--tls-key/--tls-ca FILE.\n"
"                      Needs --root-dir (or --root and one --chain).  A\n"
"                      block the stream holds twice with different bytes\n"
"                      fails its chain (R-REP-8)\n"
"  --checkpoint FILE   a checkpoint copied off the machine that the store\n"
"                      must extend (repeatable): detects truncation and\n"
"                      rollback (SPEC R-CKP-2).  The store's own\n"
"                      DIR/checkpoints/*.ckpt are always checked too, but\n"
"                      prove less: deleting them goes unnoticed (R-CKP-4).\n"
"                      A note checkpoint (a .note file, SPEC 13) is\n"
"                      checked against the chain tree: the store's\n"
"                      DIR/checkpoints/*.note always, one given here too\n"
"  --log-cert FILE     a log certificate (log.cert) to check note\n"
"                      checkpoints with, besides DIR/keys/log.cert and\n"
"                      DIR/checkpoints/log.cert (repeatable)\n"
"  --tsa-cert FILE     PEM certificate of a time-stamping authority, or of a\n"
"                      CA that issued it (repeatable): the RFC 3161 tokens\n"
"                      beside the checkpoints (ckpt-N.tsr, in DIR/checkpoints/\n"
"                      and beside each --checkpoint) are verified against\n"
"                      it and the report states the time they prove (SPEC\n"
"                      section 15); without it they are listed, unverified\n"
"  --tsa-crl FILE      PEM CRL of a CA in the TSA's chain (repeatable): the\n"
"                      chain of every token's signer is checked against\n"
"                      them; a revoked certificate fails the token, one\n"
"                      whose CA gave no current CRL issued after genTime\n"
"                      leaves it uncounted (SPEC R-TSA-9)\n"
"  --witness KEY|FILE  a witness's verifier key (NAME+ID+KEY, as custodyd\n"
"                      keygen --witness-key printed it), or a file holding\n"
"                      it (repeatable): the newest note checkpoint that\n"
"                      --quorum of them cosigned must be reached by the\n"
"                      store, or it was truncated or rolled back (SPEC\n"
"                      R-WIT-8); the report names it\n"
"  --quorum N          cosignatures a note needs to count as witnessed\n"
"                      (default: all the --witness keys)\n"
"  --json              write the report as JSON\n"
"  --report FILE       write the report to FILE (JSON with --json or a .json\n"
"                      name); standard output then gets the verdict line\n"
"  --quiet             write nothing to standard output\n"
"  --pdf FILE          write the examiner's report as an A4 PDF: a plain\n"
"                      summary, the evidence tables, the collector's own\n"
"                      timeline, an appendix with the SPEC rules\n"
"  --html FILE         the same report as one self-contained HTML file\n"
"  --text FILE         the same report as plain text\n"
"  --case ID, --exhibit REF, --examiner NAME, --organisation NAME\n"
"                      the case the reports belong to (printable text, at\n"
"                      most 200 bytes each), shown in every report form\n"
"  --sign-with KEY     sign each report file written (--report, --pdf,\n"
"                      --html, --text) with the PEM private key KEY (mode\n"
"                      0600 or stricter): a detached DER CMS signature\n"
"                      FILE.p7s beside each\n"
"  --cert CERT         the PEM certificate of the --sign-with key\n"
"  --live              the store is being written: the newest segment may\n"
"                      end in a partial frame, which is noted, not warned;\n"
"                      checkpoints are read before the store, so one the\n"
"                      store does not reach is still a failure (R-CKP-5)\n"
"  --threads N         threads verifying blocks (default: one per CPU)\n"
"  --case-dir DIR      append an entry for this verification to the case\n"
"                      record DIR (SPEC section 16): who, when, the command,\n"
"                      every input and output with its SHA-256, the verdict\n"
"                      (also with --bundle)\n"
"  --case ID           the case's identifier, in the entry\n"
"  --check-case DIR    check the case record DIR: the hash chain, the\n"
"                      numbering, and that every file an entry names still\n"
"                      has its SHA-256; --case-head HEX, a head noted\n"
"                      earlier, must be in it.  Exit 1 names the entry and\n"
"                      file that fail\n"
"  --path-map FROM=TO  with --check-case: read a file the record names under\n"
"                      the directory FROM under TO instead (the record moved\n"
"                      to another machine); each such file is reported with\n"
"                      both paths.  Repeatable; the longest FROM applies\n"
"  --transfer          with --case-dir: record that the exhibit FILEs passed\n"
"                      --from NAME --to NAME for --reason TEXT\n"
"  --version           print the version and exit\n"
"  --help              print this text and exit\n"
"\n"
"  --bundle FILE       check an evidence bundle (SPEC section 11) instead of\n"
"                      a store, with only the root key (--witness and\n"
"                      --quorum: the cosignatures on the note checkpoint\n"
"                      of a version 2 bundle); --records lists the\n"
"                      disclosed records; --records-out FILE writes them,\n"
"                      only if the bundle verifies, to hand on: JSON lines\n"
"                      as custody-query -o json (jsonl, the default) or\n"
"                      each record's raw bytes on one line, a backslash\n"
"                      written \\\\ and an LF \\n (raw);\n"
"                      --checkpoint FILE (repeatable), a\n"
"                      checkpoint kept off the machine: bundled blocks up to\n"
"                      its head must join it (SPEC R-BND-12); checkpoints\n"
"                      the bundle carries anchor nothing\n"
"\n"
"exit status (the same scheme as custody-query's; --bundle too):\n"
"  0  intact: every check passed (the report still says what a\n"
"     verification without a newer checkpoint cannot prove)\n"
"  1  integrity failure: the store, a checkpoint, a timestamp token or the\n"
"     root key given do not verify; the report locates each failure\n"
"  2  usage error, or an input could not be read\n";

/*
 * A checkpoint read before the segments are listed, so that a store still
 * being written cannot have grown past what it covers (R-CKP-5).
 */
struct ckbuf {
	char *path;
	uint8_t *text;         /* NULL: could not be read */
	size_t len;
	int how;               /* CST_CKP_* */
	int kind;              /* enum ckkind */
};

/* What a file read with the checkpoints is. */
enum ckkind {
	CK_CKPT = 0,           /* a checkpoint (SPEC 8) */
	CK_NOTE,               /* a note checkpoint (SPEC 13.3) */
	CK_LOGCERT,            /* a log certificate (SPEC 13.2) */
};

/*
 * Bytes read of a checkpoint file; a longer one is not a checkpoint.  A
 * checkpoint carries a certificate line (about 200 bytes) per key epoch:
 * this allows some 80,000 epochs, over two years of 15-minute rotations.
 */
#define CKP_READ_MAX (16u << 20)

struct args {
	const char *root;
	const char *root_fpr;
	const char *root_dir;
	char **fleet;          /* store directories of a fleet (argv) */
	size_t nfleet;
	struct natsfetch_opts nats; /* --nats: the chains of a stream */
	const char **ckps;
	size_t nckps;
	const char **lcerts;
	size_t nlcerts;
	int json;
	const char *report;
	int quiet;
	int live;
	unsigned threads;
	const char *dir;
	char **others;         /* in DIR/segments/, not segments (R-SEG-0) */
	size_t nothers;
	char **segs;
	size_t nsegs;
	size_t nexplicit;      /* FILE arguments among segs */
	struct ckbuf *cks;     /* given ones first, then the store's */
	size_t ncks;
	struct vcase cs;
	const char *pdf;
	const char *html;
	const char *text;
	const char *sign_key;
	const char *sign_cert;
	struct vsign *sg;      /* loaded before the run: fail early */
	const char *case_dir;  /* --case-dir: append an entry (SPEC 16) */
	const char **tsa;      /* --tsa-cert files */
	size_t ntsa;
	const char **crls;     /* --tsa-crl files */
	size_t ncrls;
	char **tokens;         /* .tsr files: beside checkpoints, in DIR */
	size_t ntokens;
	const char *written[4]; /* report files written, to sign and record */
	size_t nwritten;
	cst_note_vkey *wkeys;  /* --witness */
	size_t nwkeys;
	long quorum;           /* --quorum; 0: all the witness keys */
};

static void
usage_error(const char *msg)
{

	fprintf(stderr, "custody-verify: %s\n(custody-verify --help for "
	    "usage)\n", msg);
	exit(EXIT_USAGE);
}

static void
oom(void)
{

	fprintf(stderr, "custody-verify: out of memory\n");
	exit(EXIT_USAGE);
}

/*
 * Appends a copy of path (borrowed) to list[0..*n); with check, only if
 * no entry names the same file already (by realpath).
 */
static void
add_path(char ***list, size_t *n, const char *path, int check)
{
	char **l, *rp, *rq;
	size_t i;
	int same;

	if (check && (rp = realpath(path, NULL)) != NULL) {
		for (i = 0; i < *n; i++) {
			rq = realpath((*list)[i], NULL);
			same = rq != NULL && strcmp(rp, rq) == 0;
			free(rq);
			if (same) {
				free(rp);
				return;
			}
		}
		free(rp);
	}
	if ((l = realloc(*list, (*n + 1) * sizeof(*l))) == NULL ||
	    (l[*n] = strdup(path)) == NULL)
		oom();
	*list = l;
	(*n)++;
}

/*
 * Adds a segment file; with check, only once: a file named twice on the
 * command line is not a duplicated segment.  A directory's listing needs
 * no check.
 */
static void
add_seg(struct args *a, const char *path, int check)
{

	add_path(&a->segs, &a->nsegs, path, check);
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return (n >= m && strcmp(s + n - m, suffix) == 0);
}

/* R-SEG-0: every name ending in .cst, hidden ones included. */
static int
want_cst(const struct dirent *e)
{

	return (has_suffix(e->d_name, ".cst"));
}

static int
want_other(const struct dirent *e)
{

	return (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
	    !has_suffix(e->d_name, ".cst"));
}

static int
want_tsr(const struct dirent *e)
{

	return (e->d_name[0] != '.' && has_suffix(e->d_name, ".tsr"));
}

static int
want_ckpt(const struct dirent *e)
{

	return (e->d_name[0] != '.' && (has_suffix(e->d_name, ".ckpt") ||
	    has_suffix(e->d_name, ".note")));
}

/* Lists dir/sub entries accepted by filter, in name order, as paths. */
static int
list_dir(const char *dir, const char *sub,
    int (*filter)(const struct dirent *), char ***out, size_t *nout)
{
	struct dirent **ents;
	char *path, **v;
	int i, n;

	*out = NULL;
	*nout = 0;
	if (asprintf(&path, "%s/%s", dir, sub) < 0)
		oom();
	n = scandir(path, &ents, filter, alphasort);
	if (n < 0) {
		free(path);
		return (-1);
	}
	if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL)
		oom();
	for (i = 0; i < n; i++) {
		if (asprintf(&v[i], "%s/%s", path, ents[i]->d_name) < 0)
			oom();
		free(ents[i]);
	}
	free(ents);
	free(path);
	*out = v;
	*nout = (size_t)n;
	return (0);
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Reads path (borrowed) into a new ckbuf of a, with how (CST_CKP_*); a
 * log certificate with cert set, else a checkpoint or a note (by its name
 * or, given on the command line, by its first line).
 */
static void
read_ckp(struct args *a, const char *path, int how, int cert)
{
	struct ckbuf *n, *c;
	uint64_t size;
	size_t cap;
	FILE *f;
	int fd;

	if ((n = realloc(a->cks, (a->ncks + 1) * sizeof(*n))) == NULL)
		oom();
	a->cks = n;
	c = &n[a->ncks++];
	memset(c, 0, sizeof(*c));
	c->how = how | CST_CKP_READ_FIRST;
	if ((c->path = strdup(path)) == NULL)
		oom();
	/*
	 * As store files are opened (R-SEG-7): a FIFO, a link or a device
	 * is not read here, and cst_verifier_check_checkpoint_file reports
	 * it for the text left NULL.
	 */
	if (cst_file_open_read(path, &fd, &size) != 0)
		return;
	if ((f = fdopen(fd, "rb")) == NULL) {
		close(fd);
		return;
	}
	/* One byte more than the file, to see it grow past the cap. */
	cap = size < CKP_READ_MAX ? (size_t)size + 1 : CKP_READ_MAX + 1;
	if ((c->text = malloc(cap)) == NULL)
		oom();
	c->len = fread(c->text, 1, cap, f);
	if (ferror(f)) {
		free(c->text);
		c->text = NULL;
	}
	fclose(f);
	if (cert)
		c->kind = CK_LOGCERT;
	else if (has_suffix(path, ".note") || (c->text != NULL &&
	    c->len >= 8 && memcmp(c->text, "custody/", 8) == 0))
		c->kind = CK_NOTE;
}

/* Whether path names the same file as one of the checkpoints given. */
static int
ckp_given(const struct args *a, const char *path)
{
	char *x, *y;
	size_t k;
	int same = 0;

	if ((y = realpath(path, NULL)) == NULL)
		return (0);
	for (k = 0; k < a->ncks && !same; k++) {
		if (a->cks[k].how & CST_CKP_FROM_STORE)
			continue;
		x = realpath(a->cks[k].path, NULL);
		same = x != NULL && strcmp(x, y) == 0;
		free(x);
	}
	free(y);
	return (same);
}

/*
 * R-CKP-4: every checkpoint in DIR/checkpoints/ is checked, those given
 * as such and the others as found only in the store.
 */
static void
read_store_ckps(struct args *a, const char *dir)
{
	char **list;
	size_t n, i;

	static const char *const certs[] = { "keys/log.cert",
	    "checkpoints/log.cert" };
	struct stat st;
	char *p;

	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		if (asprintf(&p, "%s/%s", dir, certs[i]) < 0)
			oom();
		if (stat(p, &st) == 0 && !ckp_given(a, p))
			read_ckp(a, p, CST_CKP_FROM_STORE, 1);
		free(p);
	}
	if (list_dir(dir, "checkpoints", want_ckpt, &list, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		if (!ckp_given(a, list[i]))
			read_ckp(a, list[i], CST_CKP_FROM_STORE, 0);
	free_list(list, n);
}

/* Adds token path (borrowed) unless it is one of a's already. */
static void
add_token(struct args *a, const char *path)
{
	char *rp;

	/* One that cannot be resolved is not a file to check. */
	if ((rp = realpath(path, NULL)) == NULL)
		return;
	free(rp);
	add_path(&a->tokens, &a->ntokens, path, 1);
}

/*
 * SPEC section 15: the token beside each checkpoint read, then every
 * .tsr of DIR/checkpoints/ (one whose checkpoint is gone included).
 */
static void
find_tokens(struct args *a)
{
	struct stat st;
	char **list, *t;
	size_t n, i;

	for (i = 0; i < a->ncks; i++) {
		if (a->cks[i].kind != CK_CKPT ||
		    (t = tsr_check_token_path(a->cks[i].path)) == NULL)
			continue;
		if (lstat(t, &st) == 0)
			add_token(a, t);
		free(t);
	}
	if (a->dir == NULL ||
	    list_dir(a->dir, "checkpoints", want_tsr, &list, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		add_token(a, list[i]);
	free_list(list, n);
}

/* The checkpoint read whose file is path (borrowed); -1: none. */
static ssize_t
ckbuf_of(const struct args *a, const char *path)
{
	char *x, *y;
	size_t k;
	int same;

	if ((y = realpath(path, NULL)) == NULL)
		return (-1);
	for (k = 0; k < a->ncks; k++) {
		x = realpath(a->cks[k].path, NULL);
		same = x != NULL && strcmp(x, y) == 0;
		free(x);
		if (same) {
			free(y);
			return ((ssize_t)k);
		}
	}
	free(y);
	return (-1);
}

/*
 * A warning for each CRL given that took no part in any token's check
 * (R-TSA-9 a): the report's "not revoked by the CRLs given" must not
 * pass over a CRL that lists the TSA's certificate but does not count.
 */
static void
unused_crls(struct vreport *r, const cst_ts_trust *trust)
{
	char what[CST_TS_WHY_LEN], *msg;
	const char *file;
	cst_finding f;
	size_t i;

	for (i = 0; i < cst_ts_trust_crl_count(trust); i++) {
		if (!cst_ts_trust_crl_unused(trust, i, &file, what))
			continue;
		if (asprintf(&msg, "%s, in this file, did not verify with the "
		    "key of any certificate of the TSA chains checked (forged "
		    "in that name, another CA's, or a CA's outside those "
		    "chains): it was not used, and neither revokes nor shows "
		    "that nothing is revoked (R-TSA-9 a)", what) < 0)
			oom();
		memset(&f, 0, sizeof(f));
		f.severity = CST_SEV_WARNING;
		f.code = CST_ESIG;
		f.rule = "R-TSA-9";
		f.file = file;
		f.segment_no = f.offset = f.block_no = f.block_last = CST_NONE;
		f.seq_first = f.seq_last = CST_NONE;
		f.detail = msg;
		if (vreport_add_finding(r, &f) != 0)
			oom();
		free(msg);
	}
}

/*
 * Checks every token found against the checkpoint beside it, as read
 * and checked by the run (R-TSA-5), with the --tsa-cert anchors and the
 * --tsa-crl CRLs (R-TSA-9).  Returns 0, or -1 with r->error set when a
 * --tsa-cert or --tsa-crl file is unusable.
 */
static int
check_tokens(const struct args *a, struct vreport *r, const cst_verifier *v)
{
	const cst_ckp_info *infos;
	cst_ts_trust *trust = NULL;
	struct tsr_ckpt tc;
	char why[CST_TS_WHY_LEN], *cp;
	size_t i, j, ci, ninfo;
	ssize_t k;

	if (a->ntsa > 0) {
		if (cst_ts_trust_new(&trust) != 0)
			oom();
		for (i = 0; i < a->ntsa; i++)
			if (cst_ts_trust_add_file(trust, a->tsa[i], why) != 0) {
				if (asprintf(&r->error, "--tsa-cert %s", why) <
				    0)
					oom();
				cst_ts_trust_free(trust);
				return (-1);
			}
		for (i = 0; i < a->ncrls; i++)
			if (cst_ts_trust_add_crl_file(trust, a->crls[i], why) !=
			    0) {
				if (asprintf(&r->error, "--tsa-crl %s", why) <
				    0)
					oom();
				cst_ts_trust_free(trust);
				return (-1);
			}
		/*
		 * What a token's verdict rests on, named by its digests like
		 * every other input: "not revoked by the CRLs given" must say
		 * which CRLs.
		 */
		for (i = 0; i < a->ntsa; i++)
			if (vreport_add_input(r, a->tsa[i], "tsa-cert", NULL,
			    0) != 0)
				oom();
		for (i = 0; i < a->ncrls; i++)
			if (vreport_add_input(r, a->crls[i], "tsa-crl", NULL,
			    0) != 0)
				oom();
		/* A CRL must be current when the run began (R-TSA-9). */
		cst_ts_trust_set_crl_time(trust, r->verified_ns);
		r->tsa_given = 1;
		r->tsa_crl_given = a->ncrls > 0;
	}
	infos = cst_verifier_checkpoints(v, &ninfo);
	for (i = 0; i < a->ntokens; i++) {
		if ((cp = tsr_check_ckpt_path(a->tokens[i])) == NULL)
			oom();
		k = ckbuf_of(a, cp);
		memset(&tc, 0, sizeof(tc));
		if (k >= 0) {
			tc.path = a->cks[k].path;
			tc.text = a->cks[k].text;
			tc.len = a->cks[k].len;
			/*
			 * One outcome per checkpoint (not per note or log
			 * certificate), in the order checked: cks order.
			 */
			for (j = 0, ci = 0; j < (size_t)k; j++)
				ci += a->cks[j].kind == CK_CKPT;
			if (a->cks[k].kind == CK_CKPT && ci < ninfo)
				tc.info = &infos[ci];
		}
		if (tsr_check(r, a->tokens[i], k >= 0 ? &tc : NULL, trust) !=
		    0)
			oom();
		free(cp);
	}
	if (trust != NULL)
		unused_crls(r, trust);
	cst_ts_trust_free(trust);
	return (0);
}

static unsigned
parse_threads(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > 256)
		usage_error("--threads takes a number from 0 to 256");
	return ((unsigned)v);
}

/*
 * Adds the store directory dir (borrowed): its checkpoints, segments and
 * the other files of segments/.  Returns 0, or -1 with why (len bytes)
 * saying what dir is instead of a store.
 */
static int
add_store(struct args *a, const char *dir, char *why, size_t len)
{
	char **list;
	size_t nlist, k;

	a->dir = dir;
	read_store_ckps(a, a->dir);
	if (list_dir(a->dir, "segments", want_cst, &list, &nlist) != 0) {
		if (store_where_explain(a->dir, why, len) == 0)
			snprintf(why, len, "%s: no segments/ directory: not a "
			    "store", a->dir);
		return (-1);
	}
	for (k = 0; k < nlist; k++)
		add_seg(a, list[k], a->nexplicit > 0);
	free_list(list, nlist);
	if (list_dir(a->dir, "segments", want_other, &a->others,
	    &a->nothers) != 0)
		a->nothers = 0;
	return (0);
}

/* Are all n paths directories? */
static int
all_dirs(int n, char **paths)
{
	struct stat st;
	int i;

	for (i = 0; i < n; i++)
		if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode))
			return (0);
	return (1);
}

static void
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "root-fpr", required_argument, NULL, 'f' },
		{ "root-dir", required_argument, NULL, 'D' },
		{ "nats", required_argument, NULL, 256 },
		{ "chain", required_argument, NULL, 256 },
		{ "stream", required_argument, NULL, 256 },
		{ "creds", required_argument, NULL, 256 },
		{ "tls-cert", required_argument, NULL, 256 },
		{ "tls-key", required_argument, NULL, 256 },
		{ "tls-ca", required_argument, NULL, 256 },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "tsa-cert", required_argument, NULL, 'T' },
		{ "tsa-crl", required_argument, NULL, 'R' },
		{ "log-cert", required_argument, NULL, 'L' },
		{ "witness", required_argument, NULL, 'w' },
		{ "quorum", required_argument, NULL, 'Q' },
		{ "json", no_argument, NULL, 'j' },
		{ "report", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "live", no_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "case", required_argument, NULL, VCASE_OPT_CASE },
		{ "exhibit", required_argument, NULL, VCASE_OPT_EXHIBIT },
		{ "examiner", required_argument, NULL, VCASE_OPT_EXAMINER },
		{ "organisation", required_argument, NULL, VCASE_OPT_ORGANISATION },
		{ "pdf", required_argument, NULL, 'P' },
		{ "html", required_argument, NULL, 'H' },
		{ "text", required_argument, NULL, 'x' },
		{ "sign-with", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'K' },
		{ "case-dir", required_argument, NULL, 'A' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stat st;
	char why[8192];
	const char **n;
	size_t i;
	long nproc;
	int c, li = 0, fleet;

	memset(a, 0, sizeof(*a));
	nproc = sysconf(_SC_NPROCESSORS_ONLN);
	a->threads = nproc > 0 ? (unsigned)nproc : 1;
	while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
		switch (c) {
		case 256:
			if (natsfetch_option(&a->nats, lo[li].name, optarg,
			    "custody-verify") != 0)
				exit(EXIT_USAGE);
			break;
		case 'r':
			a->root = optarg;
			break;
		case 'f':
			a->root_fpr = optarg;
			break;
		case 'D':
			a->root_dir = optarg;
			break;
		case 'c':
			if ((n = realloc(a->ckps, (a->nckps + 1) *
			    sizeof(*n))) == NULL)
				oom();
			a->ckps = n;
			a->ckps[a->nckps++] = optarg;
			break;
		case 'T':
			if ((n = realloc(a->tsa, (a->ntsa + 1) *
			    sizeof(*n))) == NULL)
				oom();
			a->tsa = n;
			a->tsa[a->ntsa++] = optarg;
			break;
		case 'R':
			if ((n = realloc(a->crls, (a->ncrls + 1) *
			    sizeof(*n))) == NULL)
				oom();
			a->crls = n;
			a->crls[a->ncrls++] = optarg;
			break;
		case 'L':
			if ((n = realloc(a->lcerts, (a->nlcerts + 1) *
			    sizeof(*n))) == NULL)
				oom();
			a->lcerts = n;
			a->lcerts[a->nlcerts++] = optarg;
			break;
		case 'w':
			if ((a->wkeys = realloc(a->wkeys, (a->nwkeys + 1) *
			    sizeof(*a->wkeys))) == NULL)
				oom();
			if (wv_key_parse(optarg, &a->wkeys[a->nwkeys]) != 0)
				usage_error("--witness takes a witness's verifier "
				    "key (NAME+ID+KEY, cosignature/v1), or a file "
				    "holding it");
			if (++a->nwkeys > 64)
				usage_error("at most 64 --witness keys");
			break;
		case 'Q': {
			char *end;

			a->quorum = strtol(optarg, &end, 10);
			if (*end != '\0' || a->quorum < 1)
				usage_error("--quorum takes a number of "
				    "witnesses, 1 or more");
			break;
		}
		case 'j':
			a->json = 1;
			break;
		case 'o':
			a->report = optarg;
			break;
		case 'q':
			a->quiet = 1;
			break;
		case 'l':
			a->live = 1;
			break;
		case 't':
			a->threads = parse_threads(optarg);
			break;
		case VCASE_OPT_CASE:
		case VCASE_OPT_EXHIBIT:
		case VCASE_OPT_EXAMINER:
		case VCASE_OPT_ORGANISATION:
			if (vcase_option(&a->cs, c, optarg, why,
			    sizeof(why)) != 0)
				usage_error(why);
			break;
		case 'P':
			a->pdf = optarg;
			break;
		case 'H':
			a->html = optarg;
			break;
		case 'x':
			a->text = optarg;
			break;
		case 'S':
			a->sign_key = optarg;
			break;
		case 'K':
			a->sign_cert = optarg;
			break;
		case 'A':
			a->case_dir = optarg;
			break;
		case 'V':
			printf("custody-verify %s (commit %s), store format "
			    "v%d\n", CUSTODY_VERSION, CUSTODY_GIT_COMMIT,
			    CST_FORMAT_VERSION);
			exit(EXIT_OK);
		case 'h':
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		default:
			usage_error("unknown option");
		}
	}
	if (a->nats.ns.servers != NULL) {
		if (optind != argc)
			usage_error("--nats reads the stores from the stream: "
			    "give no directory or file");
		if (a->root_dir == NULL && (a->root == NULL ||
		    a->nats.nchains != 1))
			usage_error("--nats needs --root-dir KEYDIR, or --root "
			    "FILE with one --chain ID");
		if (a->root_dir != NULL && (a->root != NULL ||
		    a->root_fpr != NULL))
			usage_error("--root-dir and --root exclude each other");
		if (a->nckps > 0)
			usage_error("--checkpoint with --nats: restore the "
			    "chain with custody-restore and verify it with its "
			    "checkpoints");
		if (a->live)
			usage_error("--live and --nats: a stream is read as it "
			    "stands, never live");
		if (a->pdf != NULL || a->html != NULL || a->text != NULL ||
		    a->sign_key != NULL || a->case_dir != NULL ||
		    a->ntsa > 0 || a->ncrls > 0 || a->nwkeys > 0 ||
		    a->nlcerts > 0)
			usage_error("--pdf, --html, --text, --sign-with, "
			    "--case-dir, --tsa-cert, --tsa-crl, --witness and "
			    "--log-cert "
			    "take one store on disk: restore the chain with "
			    "custody-restore and verify it on its own");
		return;
	}
	if (a->nats.nchains > 0 || a->nats.ns.stream != NULL ||
	    a->nats.ns.creds != NULL || a->nats.ns.tls_cert != NULL ||
	    a->nats.ns.tls_key != NULL || a->nats.ns.tls_ca != NULL)
		usage_error("--chain, --stream, --creds and --tls-* go with "
		    "--nats URL");
	if (optind == argc)
		usage_error("no store directory or segment file given");
	if ((a->sign_key != NULL) != (a->sign_cert != NULL))
		usage_error("--sign-with KEY and --cert CERT go together");
	if (a->ncrls > 0 && a->ntsa == 0)
		usage_error("--tsa-crl checks the tokens --tsa-cert verifies: "
		    "give the TSA's CA with --tsa-cert too");
	if (a->sign_key != NULL && a->report == NULL && a->pdf == NULL &&
	    a->html == NULL && a->text == NULL)
		usage_error("--sign-with signs report files: give --report, "
		    "--pdf, --html or --text");
	/* A key that cannot sign stops the run before it starts. */
	if (a->sign_key != NULL && (a->sg = vsign_new(a->sign_key,
	    a->sign_cert, why, sizeof(why))) == NULL) {
		fprintf(stderr, "custody-verify: %s\n", why);
		exit(EXIT_USAGE);
	}
	if (a->quorum > (long)a->nwkeys)
		usage_error("--quorum is larger than the number of --witness "
		    "keys");
	fleet = a->root_dir != NULL;
	if (!fleet && argc - optind > 1 && all_dirs(argc - optind,
	    argv + optind))
		usage_error("several stores need --root-dir KEYDIR: each is "
		    "verified against its own root key");
	if (fleet && (a->root != NULL || a->root_fpr != NULL))
		usage_error("--root and --root-fpr name the key of one store; "
		    "with --root-dir each store's key is found by its chain "
		    "id");
	if (fleet && a->nckps > 0)
		usage_error("--checkpoint with several stores: verify each "
		    "store with its checkpoints on its own");
	if (fleet && (a->fleet = calloc((size_t)(argc - optind),
	    sizeof(*a->fleet))) == NULL)
		oom();
	if (fleet && (a->pdf != NULL || a->html != NULL || a->text != NULL ||
	    a->sign_key != NULL || a->case_dir != NULL || a->ntsa > 0 ||
	    a->ncrls > 0 || a->nwkeys > 0 || a->nlcerts > 0))
		usage_error("--pdf, --html, --text, --sign-with, --case-dir, "
		    "--tsa-cert, --tsa-crl, --witness and --log-cert take one "
		    "store: verify it on its own for them");
	for (i = 0; i < a->nckps; i++)
		read_ckp(a, a->ckps[i], 0, 0);
	for (i = 0; i < a->nlcerts; i++)
		read_ckp(a, a->lcerts[i], 0, 1);
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "custody-verify: %s: %s\n", argv[i],
			    strerror(errno));
			exit(EXIT_USAGE);
		}
		if (S_ISDIR(st.st_mode) && fleet) {
			a->fleet[a->nfleet++] = argv[i];
		} else if (S_ISDIR(st.st_mode)) {
			if (a->dir != NULL)
				usage_error("give one store directory, or "
				    "several with --root-dir");
			if (add_store(a, argv[i], why, sizeof(why)) != 0) {
				fprintf(stderr, "custody-verify: %s\n", why);
				exit(EXIT_USAGE);
			}
		} else if (fleet) {
			usage_error("--root-dir takes store directories, not "
			    "files");
		} else {
			if (store_where_bundle(argv[i], why,
			    sizeof(why)) != 0) {
				fprintf(stderr, "custody-verify: %s\n", why);
				exit(EXIT_USAGE);
			}
			add_seg(a, argv[i], 1);
			a->nexplicit++;
		}
	}
	if (a->root == NULL && a->dir == NULL && !fleet)
		usage_error("segment files without a store directory need "
		    "--root FILE");
	find_tokens(a);
}

/* The progress bar, on a terminal only. */
static void
progress_bar(uint64_t done, uint64_t total, void *ctx)
{
	char bar[41];
	unsigned i, fill;

	(void)ctx;
	fill = total > 0 ? (unsigned)(done * 40 / total) : 40;
	for (i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\rverifying [%s] %3u%%  %" PRIu64 "/%" PRIu64 " MB",
	    bar, total > 0 ? (unsigned)(done * 100 / total) : 100,
	    done >> 20, total >> 20);
	if (done >= total)
		fputs("\r\033[K", stderr);
}

/*
 * Loads the root key and checks it against the fingerprint given.
 * Returns 0, or -1 when nothing can be verified (r->error says why).
 */
static int
load_root(const struct args *a, struct vreport *r)
{
	uint8_t want[CST_HASH_LEN], fpr[CST_HASH_LEN];
	size_t len;
	char *path;
	cst_finding f;
	int rc;

	if (a->root != NULL) {
		if ((path = strdup(a->root)) == NULL)
			oom();
	} else if (asprintf(&path, "%s/keys/root.pub", a->dir) < 0) {
		oom();
	}
	r->root_source = path;
	r->root_from_store = a->root == NULL;
	if ((rc = cst_root_pub_load(path, &r->root)) != 0) {
		if (asprintf(&r->error, "cannot load the root public key %s "
		    "(%s)", path, cst_strerror(rc)) < 0)
			oom();
		return (-1);
	}
	r->has_root = 1;
	if (vreport_add_input(r, path, "root", NULL, 0) != 0)
		oom();
	if (a->root_fpr == NULL)
		return (0);

	if ((r->root_fpr_given = strdup(a->root_fpr)) == NULL)
		oom();
	len = strlen(a->root_fpr);
	if ((len != 2 * CST_FPR_LEN && len != 2 * CST_HASH_LEN) ||
	    cst_unhex(a->root_fpr, len, want, len / 2) != 0)
		usage_error("--root-fpr takes 32 or 64 hex digits");
	cst_key_fingerprint(r->root.pk, fpr);
	if (memcmp(fpr, want, len / 2) == 0) {
		r->root_fpr_ok = 1;
		return (0);
	}
	/* A substituted key file: the failure is the store's. */
	memset(&f, 0, sizeof(f));
	f.severity = CST_SEV_FAILURE;
	f.code = CST_EKEY;
	f.rule = "R-KEY-1";
	f.file = path;
	f.segment_no = f.offset = f.block_no = f.block_last = CST_NONE;
	f.seq_first = f.seq_last = CST_NONE;
	f.detail = "the root public key file does not have the fingerprint "
	    "given: it is not the chain's root key (replaced?)";
	if (vreport_add_finding(r, &f) != 0)
		oom();
	if (asprintf(&r->error, "the root key in %s does not have the "
	    "fingerprint %s", path, a->root_fpr) < 0)
		oom();
	return (-1);
}

/* Records the quarantine files. */
static void
store_extras(const struct args *a, struct vreport *r)
{
	char **list;
	size_t n, i;

	if (a->dir == NULL)
		return;
	if (list_dir(a->dir, "quarantine", NULL, &list, &n) == 0) {
		for (i = 0; i < n; i++) {
			struct stat st;

			if (stat(list[i], &st) == 0 && S_ISREG(st.st_mode) &&
			    vreport_add_input(r, list[i], "quarantine", NULL,
			    0) != 0)
				oom();
		}
		free_list(list, n);
	}
}

static int
write_report(const struct args *a, const struct vreport *r)
{
	FILE *f;
	int json = a->json || (a->report != NULL &&
	    has_suffix(a->report, ".json"));

	if (a->report == NULL) {
		if (a->quiet)
			return (0);
		if (json)
			vreport_json(stdout, r);
		else
			vreport_text(stdout, r);
		return (fflush(stdout) == 0 ? 0 : -1);
	}
	if ((f = fopen(a->report, "w")) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", a->report,
		    strerror(errno));
		return (-1);
	}
	if (json)
		vreport_json(f, r);
	else
		vreport_text(f, r);
	if (fclose(f) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", a->report,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Writes the examiner's report d to path in one form; 0 or -1 (said). */
static int
write_doc(const char *path, const struct vdoc *d, int (*fn)(FILE *,
    const struct vdoc *))
{
	FILE *f;
	int rc;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", path,
		    strerror(errno));
		return (-1);
	}
	rc = fn(f, d);
	if (fclose(f) != 0 || rc != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", path,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * Writes the examiner's report forms asked for (--pdf, --html, --text)
 * and signs every report file written.  Returns 0 or -1 (said).
 */
static int
write_forms(struct args *a, struct vreport *r)
{
	const char **files = a->written;
	struct vsign *sg = a->sg;
	struct vdoc d;
	char why[512];
	size_t i, n = 0;
	int rc = 0;

	if (a->report != NULL)
		files[n++] = a->report;
	if (a->pdf != NULL || a->html != NULL || a->text != NULL) {
		vreport_env(r);
		vdoc_init(&d);
		vreport_doc(r, &d);
		if (a->pdf != NULL) {
			if (vdoc_pdf(a->pdf, &d) != 0) {
				fprintf(stderr, "custody-verify: %s: %s\n",
				    a->pdf, strerror(errno));
				rc = -1;
			} else {
				files[n++] = a->pdf;
			}
		}
		if (a->html != NULL) {
			if (write_doc(a->html, &d, vdoc_html) != 0)
				rc = -1;
			else
				files[n++] = a->html;
		}
		if (a->text != NULL) {
			if (write_doc(a->text, &d, vdoc_text) != 0)
				rc = -1;
			else
				files[n++] = a->text;
		}
		vdoc_free(&d);
		if (a->pdf != NULL)
			vdoc_pdf_fini();
	}
	a->nwritten = n;
	for (i = 0; sg != NULL && i < n; i++)
		if (vsign_file(sg, files[i], why, sizeof(why)) != 0) {
			fprintf(stderr, "custody-verify: %s\n", why);
			rc = -1;
		}
	return (rc);
}

/*
 * The case record's entry for this verification (SPEC section 16): every
 * input read, the report written.  Returns 0 or -1 after saying why.
 */
static int
case_entry(const struct args *a, const struct vreport *r,
    const char *command, const char *verdict, int status)
{
	struct caserec_new n;
	const char **in, *out[8];
	char why[CASEREC_WHY_LEN], *sigs[4] = { NULL, NULL, NULL, NULL };
	size_t i, k = 0, nout = 0;
	int rc;

	if ((in = calloc(r->ninputs + 1, sizeof(*in))) == NULL)
		oom();
	/* Every report file written, and its signature beside it. */
	for (i = 0; i < a->nwritten; i++) {
		out[nout++] = a->written[i];
		if (a->sg != NULL) {
			if (asprintf(&sigs[i], "%s.p7s", a->written[i]) < 0)
				oom();
			out[nout++] = sigs[i];
		}
	}
	for (i = 0; i < r->ninputs; i++)
		if (r->inputs[i].ok)
			in[k++] = r->inputs[i].path;
	memset(&n, 0, sizeof(n));
	n.kind = "verify";
	n.case_id = a->cs.id;
	n.command = command;
	n.inputs = in;
	n.ninputs = k;
	n.outputs = out;
	n.noutputs = nout;
	n.verdict = verdict;
	n.exit_status = status;
	if ((rc = caserec_append(a->case_dir, &n, "custody-verify",
	    why)) != 0)
		fprintf(stderr, "custody-verify: the case record has no entry "
		    "for this verification: %s\n", why);
	free(in);
	for (i = 0; i < 4; i++)
		free(sigs[i]);
	return (rc);
}

/*
 * Checks one checkpoint, note or log certificate read before the run and
 * lists it among the inputs.  Returns 0, or -1 with r->error set.
 */
static int
check_ck(cst_verifier *v, const struct ckbuf *c, struct vreport *r)
{
	static const char *const roles[][2] = {
		{ "checkpoint", "store-checkpoint" },
		{ "note", "store-note" },
		{ "log-cert", "store-log-cert" },
	};
	const cst_digests *dp = NULL;
	cst_digests d;
	int rc;

	/* One that could not be read is reported as such. */
	if (c->text == NULL)
		rc = cst_verifier_check_checkpoint_file(v, c->path, NULL);
	else if ((rc = cst_digests_compute(c->text, c->len, &d)) == 0) {
		dp = &d;
		if (c->kind == CK_LOGCERT)
			rc = cst_verifier_add_log_cert_text(v, c->text, c->len,
			    c->path);
		else if (c->kind == CK_NOTE)
			rc = cst_verifier_check_note_text(v, c->text, c->len,
			    c->path, c->how);
		else
			rc = cst_verifier_check_checkpoint_text(v, c->text,
			    c->len, c->path, c->how);
	}
	if (rc != 0) {
		if (asprintf(&r->error, "checkpoint %s could not be checked "
		    "(%s)", c->path, cst_strerror(rc)) < 0)
			oom();
		return (-1);
	}
	if (vreport_add_input(r, c->path, roles[c->kind][(c->how &
	    CST_CKP_FROM_STORE) != 0], dp, c->len) != 0)
		oom();
	return (0);
}

/* R-WIT-8: the newest note checkpoint a quorum of --witness cosigned. */
static int
witnessed(const cst_verifier *v, const struct args *a, struct vreport *r)
{
	struct wv_note *w;
	size_t i, n = 0;
	int rc;

	if ((w = calloc(a->ncks + 1, sizeof(*w))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < a->ncks; i++)
		if (a->cks[i].kind == CK_NOTE && a->cks[i].text != NULL) {
			w[n].path = a->cks[i].path;
			w[n].text = a->cks[i].text;
			w[n].len = a->cks[i].len;
			n++;
		}
	rc = wv_check(v, w, n, a->wkeys, a->nwkeys, a->quorum > 0 ?
	    (unsigned)a->quorum : (unsigned)a->nwkeys, r);
	free(w);
	return (rc);
}

/*
 * Verifies what a names (a store or segment files) into r.  Returns the
 * verifier, which r->v borrows, to free after the report is written (or
 * NULL when none ran); *qdir is returned to free.
 */
static cst_verifier *
verify_one(const struct args *a, struct vreport *r, char **qdir)
{
	cst_verify_opts o;
	cst_verifier *v = NULL;
	const cst_seg_info *segs;
	struct stat st;
	size_t i, n;
	int rc, pass;

	if (load_root(a, r) != 0)
		return (v);
	if (r->root_from_store && a->root_fpr == NULL)
		fprintf(stderr, "custody-verify: WARNING: trusting the root key "
		    "%s found inside the store being verified. Anyone who "
		    "could alter the store could replace it: give the root "
		    "key (--root) or its fingerprint (--root-fpr) from an "
		    "independent source.\n", r->root_source);

	memset(&o, 0, sizeof(o));
	o.live = a->live;
	o.threads = a->threads;
	o.digests = 1;
	/* The timeline of the examiner's report. */
	o.keep_audits = a->pdf != NULL || a->html != NULL || a->text != NULL;
	if (a->dir != NULL) {
		if (asprintf(qdir, "%s/quarantine", a->dir) < 0)
			oom();
		if (stat(*qdir, &st) == 0 && S_ISDIR(st.st_mode))
			o.quarantine_dir = *qdir;
	}
	if (!a->quiet && isatty(STDERR_FILENO))
		o.progress = progress_bar;
	if ((v = cst_verifier_new(&r->root, &o, vreport_finding_cb, r)) ==
	    NULL)
		oom();
	if ((rc = cst_verifier_run(v, (const char *const *)a->segs,
	    a->nsegs)) != 0) {
		if (asprintf(&r->error, "the verification could not run (%s)",
		    cst_strerror(rc)) < 0)
			oom();
		return (v);
	}
	r->v = v;
	segs = cst_verifier_segments(v, &n);
	for (i = 0; i < n; i++)
		if (segs[i].path != NULL && vreport_add_input(r,
		    segs[i].path, "segment", segs[i].has_digests ?
		    &segs[i].digests : NULL, segs[i].size) != 0)
			oom();
	/* Log certificates first: the notes are checked with them. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < a->ncks; i++) {
			if ((a->cks[i].kind == CK_LOGCERT) != (pass == 0))
				continue;
			if (check_ck(v, &a->cks[i], r) != 0)
				return (v);
		}
	if (check_tokens(a, r, v) != 0)
		return (v);
	if (a->nwkeys > 0 && witnessed(v, a, r) != 0)
		oom();
	store_extras(a, r);
	for (i = 0; i < a->nothers; i++)
		if (vreport_add_input(r, a->others[i], "not-segment", NULL,
		    0) != 0)
			oom();
	return (v);
}

/* Writes s (borrowed) to f as a JSON string. */
static void
json_fputs_string(FILE *f, const char *s)
{
	struct json j;

	json_init_file(&j, f);
	json_string(&j, s, strlen(s));
	if (json_finish(&j) != 0)
		oom();
}

/* Frees the per-store lists of a. */
static void
args_store_free(struct args *a)
{
	size_t i;

	free_list(a->segs, a->nsegs);
	free_list(a->others, a->nothers);
	for (i = 0; i < a->ncks; i++) {
		free(a->cks[i].path);
		free(a->cks[i].text);
	}
	free(a->cks);
	a->segs = a->others = NULL;
	a->nsegs = a->nothers = a->ncks = 0;
	a->cks = NULL;
}

/*
 * Several stores, each against its own key from --root-dir: one report
 * per chain, then the fleet's line.  Exit 1 when any chain failed, else
 * 2 when any could not be checked, else 0.
 */
/*
 * A chain the stream does not hold whole (R-REP-8): the stream is the
 * evidence here, so this is a failure of it, located by the restore.
 */
static void
stream_failure(struct vreport *r, const struct natsfetch_chain *c)
{
	cst_finding f;

	memset(&f, 0, sizeof(f));
	f.severity = CST_SEV_FAILURE;
	f.code = CST_ECORRUPT;
	f.rule = "R-REP-8";
	f.segment_no = f.offset = f.block_no = f.block_last = CST_NONE;
	f.seq_first = f.seq_last = CST_NONE;
	f.detail = c->err;
	if (vreport_add_finding(r, &f) != 0)
		oom();
	fprintf(stderr, "custody-verify: chain %s: the stream does not hold "
	    "it whole: %s\n", c->chain, c->err);
}

/*
 * Blocks the stream holds twice with different bytes or places: the
 * copy first in the stream was verified, but a second, different one is
 * evidence of tampering or a fork, never passed over (R-REP-8).
 */
static void
stream_conflicts(struct vreport *r, const struct natsfetch_chain *c)
{
	const struct natsstore_conflict *k;
	cst_finding f;
	char *d;
	size_t i;

	for (i = 0; i < c->res.nconflicts; i++) {
		k = &c->res.conflicts[i];
		if (asprintf(&d, "block %" PRIu64 " is in the stream twice "
		    "with different bytes or places (stream sequences %"
		    PRIu64 " and %" PRIu64 "): the first was restored and "
		    "verified; the other is evidence of tampering or a fork",
		    k->block, k->first_seq, k->other_seq) < 0)
			oom();
		memset(&f, 0, sizeof(f));
		f.severity = CST_SEV_FAILURE;
		f.code = CST_ECHAIN;
		f.rule = "R-REP-8";
		f.segment_no = f.offset = CST_NONE;
		f.block_no = f.block_last = k->block;
		f.seq_first = f.seq_last = CST_NONE;
		f.detail = d;
		if (vreport_add_finding(r, &f) != 0)
			oom();
		free(d);
	}
}

static int
fleet_main(struct args *a, struct natsfetch *nf)
{
	static const char *verdicts[] = { "INTACT", "FAILED", "ERROR" };
	struct args b;
	struct vreport r;
	cst_verifier *v;
	cst_root_pub root;
	char why[8192], hex[2 * CST_CHAIN_ID_LEN + 1], *path, *fpr, *qdir;
	size_t i, count[3] = { 0, 0, 0 };
	int json = a->json || (a->report != NULL &&
	    has_suffix(a->report, ".json"));
	int verdict, failed_io = 0;
	size_t nstores = nf != NULL ? nf->n : a->nfleet;
	const char *store;
	FILE *out = stdout;

	if (a->report != NULL && (out = fopen(a->report, "w")) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", a->report,
		    strerror(errno));
		return (EXIT_IO);
	}
	if (a->quiet && a->report == NULL)
		out = NULL;
	if (out != NULL && json)
		fputs("{\"reports\": [\n", out);
	for (i = 0; i < nstores; i++) {
		store = nf != NULL ? nf->c[i].dir : a->fleet[i];
		b = *a;
		b.fleet = NULL;
		b.nfleet = 0;
		b.dir = NULL;
		b.segs = b.others = NULL;
		b.nsegs = b.nothers = b.ncks = b.nexplicit = 0;
		b.cks = NULL;
		path = fpr = qdir = NULL;
		v = NULL;
		vreport_init(&r);
		r.live = a->live;
		if (nf != NULL && (r.origin = natsfetch_origin(nf,
		    &nf->c[i])) == NULL)
			oom();
		if (nf != NULL && !nf->c[i].ok) {
			stream_failure(&r, &nf->c[i]);
		} else if (a->root_dir == NULL) {
			/* --nats with --root FILE and its one --chain. */
			if ((path = strdup(a->root)) == NULL)
				oom();
			if (add_store(&b, store, why, sizeof(why)) != 0) {
				if ((r.error = strdup(why)) == NULL)
					oom();
			} else {
				b.root = path;
				v = verify_one(&b, &r, &qdir);
			}
		} else if (root_dir_find(a->root_dir, store, &root, &path,
		    &fpr, why, sizeof(why)) < 0) {
			if ((r.error = strdup(why)) == NULL)
				oom();
		} else if (add_store(&b, store, why, sizeof(why)) != 0) {
			if ((r.error = strdup(why)) == NULL)
				oom();
		} else {
			b.root = path;
			b.root_fpr = fpr;
			v = verify_one(&b, &r, &qdir);
		}
		if (nf != NULL && nf->c[i].ok)
			stream_conflicts(&r, &nf->c[i]);
		verdict = vreport_verdict(&r);
		count[verdict]++;
		if (out != NULL && json) {
			if (i > 0)
				fputs(",\n", out);
			fputs("{\"store\": ", out);
			json_fputs_string(out, nf != NULL ? nf->c[i].chain :
			    store);
			fputs(", \"report\": ", out);
			vreport_json(out, &r);
			fputs("}", out);
		} else if (out != NULL) {
			fprintf(out, "%s=== store ", i > 0 ? "\n" : "");
			json_text_puts(out, nf != NULL ? nf->origin : store);
			if (nf != NULL)
				fprintf(out, " chain %s", nf->c[i].chain);
			else if (r.has_root) {
				cst_hex(r.root.chain_id, CST_CHAIN_ID_LEN, hex);
				fprintf(out, " chain %s", hex);
			}
			fprintf(out, ": %s ===\n", verdicts[verdict]);
			if (r.error != NULL) {
				if (r.origin != NULL) {
					fputs("  store ", out);
					json_text_puts(out, r.origin);
					fputs("\n", out);
				}
				fputs("  not checked: ", out);
				json_text_puts(out, r.error);
				fputs("\n", out);
			} else {
				vreport_text(out, &r);
			}
		}
		if (r.error != NULL)
			fprintf(stderr, "custody-verify: %s\n", r.error);
		vreport_free(&r);
		cst_verifier_free(v);
		free(qdir);
		free(path);
		free(fpr);
		args_store_free(&b);
	}
	if (out != NULL && json)
		fprintf(out, "],\n\"fleet\": {\"chains\": %zu, \"intact\": "
		    "%zu, \"failed\": %zu, \"not_checked\": %zu}}\n",
		    nstores, count[VREPORT_INTACT], count[VREPORT_FAILED],
		    count[VREPORT_ERROR]);
	else if (out != NULL)
		fprintf(out, "\nfleet: %zu chain(s) intact, %zu failed, "
		    "%zu not checked\n", count[VREPORT_INTACT],
		    count[VREPORT_FAILED], count[VREPORT_ERROR]);
	if (out != NULL && out != stdout && fclose(out) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", a->report,
		    strerror(errno));
		failed_io = 1;
	} else if (out == stdout && fflush(stdout) != 0) {
		failed_io = 1;
	}
	if (a->report != NULL && !a->quiet)
		printf("custody-verify: fleet: %zu chain(s) intact, "
		    "%zu failed, %zu not checked; reports in %s\n", count[VREPORT_INTACT],
		    count[VREPORT_FAILED], count[VREPORT_ERROR], a->report);
	free(a->fleet);
	free(a->ckps);
	if (count[VREPORT_FAILED] > 0)
		return (EXIT_INTEGRITY);
	if (count[VREPORT_ERROR] > 0 || failed_io)
		return (EXIT_IO);
	return (EXIT_OK);
}

int
main(int argc, char **argv)
{
	static char command[ACCESS_COMMAND_LEN];
	static const char *verdicts[] = { "INTACT", "FAILED", "ERROR" };
	struct args a;
	struct vreport r;
	cst_verifier *v = NULL;
	char *qdir = NULL, *cmdline;
	size_t i;
	int verdict;

	/* A file truncated while mapped must not kill us (R-SEG-7). */
	if (cst_mapguard_install() != 0) {
		fprintf(stderr, "custody-verify: cannot install the SIGBUS "
		    "handler: %s\n", strerror(errno));
		return (EXIT_IO);
	}
	if (case_cli_wanted(argc, argv))
		return (case_cli_main(argc, argv));
	/* Before getopt reorders argv: the command for a case record. */
	access_command(argc, argv, command, sizeof(command));
	/* A bundle is its own kind of input with its own report. */
	for (i = 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--bundle") == 0 ||
		    strncmp(argv[i], "--bundle=", 9) == 0)
			return (bundle_check_main(argc, argv));
	parse_args(argc, argv, &a);
	if (a.nats.ns.servers != NULL) {
		char why[1024];
		struct natsfetch *nf;

		if (natsfetch_begin(&a.nats, &nf, why, sizeof(why)) != 0) {
			fprintf(stderr, "custody-verify: %s\n", why);
			natsfetch_free(NULL);
			return (EXIT_IO);
		}
		verdict = fleet_main(&a, nf);
		natsfetch_free(nf);
		free(a.nats.chains);
		return (verdict);
	}
	if (a.nfleet > 0)
		return (fleet_main(&a, NULL));
	if ((cmdline = vcase_cmdline(argc, argv)) == NULL)
		oom();
	vreport_init(&r);
	r.live = a.live;
	r.cs = a.cs;
	r.cmdline = cmdline;
	v = verify_one(&a, &r, &qdir);

	verdict = vreport_verdict(&r);
	if (write_report(&a, &r) != 0 && verdict == VREPORT_INTACT)
		verdict = VREPORT_ERROR;
	if (write_forms(&a, &r) != 0 && verdict == VREPORT_INTACT)
		verdict = VREPORT_ERROR;
	if (a.report != NULL && !a.quiet)
		printf("custody-verify: %s: %zu finding(s); report in %s\n",
		    vreport_warning(&r, NULL, 0) ? "WARNING" :
		    verdicts[verdict], r.nfindings, a.report);
	if (r.error != NULL)
		fprintf(stderr, "custody-verify: %s\n", r.error);
	if (a.case_dir != NULL && case_entry(&a, &r, command,
	    vreport_warning(&r, NULL, 0) ? "WARNING" : verdicts[verdict],
	    verdict) != 0 && verdict == VREPORT_INTACT)
		verdict = EXIT_IO;
	vreport_free(&r);
	vsign_free(a.sg);
	cst_verifier_free(v);
	free(qdir);
	free_list(a.segs, a.nsegs);
	free_list(a.others, a.nothers);
	free(a.ckps);
	free(a.tsa);
	free(a.crls);
	free_list(a.tokens, a.ntokens);
	free(a.wkeys);
	free(a.lcerts);
	for (i = 0; i < a.ncks; i++) {
		free(a.cks[i].path);
		free(a.cks[i].text);
	}
	free(a.cks);
	return (verdict);
}
