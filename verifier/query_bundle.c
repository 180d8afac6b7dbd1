/*
 * custody-query --bundle: the matching records and the blocks that prove
 * them, written as an evidence bundle (SPEC section 11) once it verifies.
 * With a note checkpoint in the store, each block below its size carries
 * its inclusion proof in the chain tree (version 2, SPEC 11.4); other
 * blocks are joined into runs up to the latest checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/bundle.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/logkey.h"
#include "custody/merkle.h"
#include "custody/note.h"
#include "custody/tlog.h"

#include "fileout.h"
#include "query_cli.h"
#include "query_store.h"

static const char progname[] = QUERY_PROGNAME;

/*
 * The chain tree of the store's first `size` blocks, every level kept
 * (about 2 * size hashes), computed from the blocks the query store
 * checked: never from the collector's tree/ directory (SPEC 13.4).
 */
struct query_anchor {
	cst_buf cert;         /* log.cert, as read */
	cst_buf note;         /* the note checkpoint, as read */
	char note_path[4096];
	uint64_t size;
	int cosigned;         /* the note has a witness's line (R-WIT-5) */
	uint8_t (*lv[CST_TLOG_LEVELS + 1])[CST_HASH_LEN];
	size_t nlv[CST_TLOG_LEVELS + 1];
};

void
query_bundle_anchor_free(struct query_anchor *a)
{
	size_t l;

	if (a == NULL)
		return;
	cst_buf_close(&a->cert);
	cst_buf_close(&a->note);
	for (l = 0; l <= CST_TLOG_LEVELS; l++)
		free(a->lv[l]);
	free(a);
}

static int
anchor_node(void *arg, unsigned level, uint64_t index,
    uint8_t out[CST_HASH_LEN])
{
	const struct query_anchor *a = arg;

	if (level > CST_TLOG_LEVELS || index >= a->nlv[level])
		return (CST_EINVAL);
	memcpy(out, a->lv[level][index], CST_HASH_LEN);
	return (0);
}

/* Reads file path (borrowed) whole into b.  Returns 0 or an error. */
static int
read_whole(const char *path, cst_buf *b)
{
	cst_map m;
	int rc;

	if ((rc = cst_map_open(path, &m)) != 0)
		return (rc);
	b->len = 0;
	rc = cst_buf_append(b, m.p, m.len);
	cst_map_close(&m);
	return (rc);
}

/* The log certificate: checkpoints/log.cert, else keys/log.cert. */
static int
anchor_cert(struct query_sink *k, struct query_anchor *a, cst_log_cert *lc)
{
	static const char *where[] = { "checkpoints", "keys" };
	char path[4096];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/log.cert", k->o->dir,
		    where[i]);
		if (read_whole(path, &a->cert) != 0)
			continue;
		if (a->cert.len > 0 && a->cert.p[a->cert.len - 1] == '\n' &&
		    cst_log_cert_decode((const char *)a->cert.p, a->cert.len,
		    lc) == 0 && cst_log_cert_verify(lc, &k->s->root) == 0)
			return (0);
		fprintf(stderr, "%s: %s: not a log certificate of this chain "
		    "signed by its root key (R-TLOG-5): not used\n", progname,
		    path);
	}
	return (CST_ENOENT);
}

/*
 * Nonzero when note t[0..len) has a signature line besides the log's (a
 * witness's, R-WIT-5); its syntax is cst_note_parse's (R-NOTE-2).
 */
static int
has_cosignature(const uint8_t *t, size_t len)
{
	cst_note n;
	int co;

	if (cst_note_parse((const char *)t, len, &n) != 0)
		return (0);
	co = n.nsigs > 1;
	cst_note_close(&n);
	return (co);
}

/*
 * The note to anchor to: of the *.note files in checkpoints/ that verify
 * with lc and whose size the store reaches, one that witnesses cosigned
 * (R-WIT-5) before one they did not, then the greatest size, and at that
 * size the longest file.  The cosignatures are only looked for here; the
 * verifier checks them with the witnesses' keys (R-BND-18).
 */
static int
anchor_note(struct query_sink *k, struct query_anchor *a,
    const cst_log_cert *lc, uint8_t root[CST_HASH_LEN])
{
	char dir[4096];
	struct dirent *de;
	cst_buf t;
	uint64_t size;
	uint8_t r[CST_HASH_LEN];
	size_t n;
	int co;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/checkpoints", k->o->dir);
	if ((d = opendir(dir)) == NULL)
		return (CST_ENOENT);
	cst_buf_init(&t);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".note") != 0)
			continue;
		if (snprintf(dir, sizeof(dir), "%s/checkpoints/%s", k->o->dir,
		    de->d_name) >= (int)sizeof(dir) || read_whole(dir, &t) != 0)
			continue;
		if (cst_log_note_verify((const char *)t.p, t.len, lc, &size,
		    r) != 0 || size > k->s->nblocks)
			continue;
		co = has_cosignature(t.p, t.len);
		if (a->size > 0 && (co < a->cosigned || (co == a->cosigned &&
		    (size < a->size || (size == a->size &&
		    t.len <= a->note.len)))))
			continue;
		a->cosigned = co;
		a->note.len = 0;
		if (cst_buf_append(&a->note, t.p, t.len) != 0)
			break;
		a->size = size;
		memcpy(root, r, CST_HASH_LEN);
		snprintf(a->note_path, sizeof(a->note_path), "%s", dir);
	}
	closedir(d);
	cst_buf_close(&t);
	return (a->size > 0 ? 0 : CST_ENOENT);
}

/* Every level of the chain tree of blocks 0..a->size-1. */
static int
anchor_tree(struct query_sink *k, struct query_anchor *a)
{
	size_t i, l, n = (size_t)a->size;

	for (i = 0; i < n; i++)
		if (k->s->blocks[i].f.hdr.block_no != i)
			return (CST_ECHAIN);
	for (l = 0; n > 0 && l <= CST_TLOG_LEVELS; l++, n /= 2) {
		if ((a->lv[l] = malloc(n * CST_HASH_LEN)) == NULL)
			return (CST_ENOMEM);
		a->nlv[l] = n;
		for (i = 0; i < n; i++) {
			if (l == 0)
				cst_tlog_leaf(k->s->blocks[i].f.block_hash,
				    a->lv[0][i]);
			else
				cst_merkle_node(a->lv[l - 1][2 * i],
				    a->lv[l - 1][2 * i + 1], a->lv[l][i]);
		}
	}
	return (0);
}

/*
 * Looks once for a note checkpoint to anchor the bundle's blocks to
 * (SPEC 11.4).  A store without one, or whose blocks do not give the
 * note's root, gets version 1 bundles.  Returns 0 or CST_ENOMEM.
 */
static int
anchor_find(struct query_sink *k)
{
	struct query_anchor *a;
	cst_log_cert lc;
	uint8_t root[CST_HASH_LEN], got[CST_HASH_LEN];
	int rc;

	if (k->anchor_state != 0)
		return (0);
	k->anchor_state = -1;
	if (k->s->failures > 0 || k->o->bundle_headers)
		return (0);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (CST_ENOMEM);
	cst_buf_init(&a->cert);
	cst_buf_init(&a->note);
	if (anchor_cert(k, a, &lc) != 0 || anchor_note(k, a, &lc, root) != 0)
		goto none;
	if ((rc = anchor_tree(k, a)) == CST_ENOMEM) {
		query_bundle_anchor_free(a);
		return (rc);
	}
	if (rc != 0 || cst_tlog_root_at(a->size, anchor_node, a, got) != 0 ||
	    sodium_memcmp(got, root, CST_HASH_LEN) != 0) {
		fprintf(stderr, "%s: %s: the chain tree of the store's first "
		    "%llu blocks does not have the note's root (R-NOTE-6): "
		    "not used\n", progname, a->note_path,
		    (unsigned long long)a->size);
		goto none;
	}
	k->anchor = a;
	k->anchor_state = 1;
	return (0);

none:
	query_bundle_anchor_free(a);
	return (0);
}

int
query_bundle_block(struct query_sink *k, size_t bi)
{
	size_t *p;
	int rc;

	if (k->nbidx == k->bidxcap) {
		if ((p = realloc(k->bidx, (k->bidxcap * 2 + 16) *
		    sizeof(*p))) == NULL)
			return (CST_ENOMEM);
		k->bidx = p;
		k->bidxcap = k->bidxcap * 2 + 16;
	}
	if ((rc = cst_bundle_writer_block(k->bw, &k->s->blocks[bi].f)) != 0)
		return (rc);
	k->bidx[k->nbidx++] = bi;
	k->last_bundled = bi + 1;
	return (0);
}

/*
 * Joins the bundle's run up to block `upto` (store index, exclusive).
 * Below a note's size a block carries its inclusion proof instead (SPEC
 * 11.4): a block at or above it is joined from the note's last block
 * (which gets a proof) at most, not from blocks the note already anchors.
 */
int
query_bundle_join(struct query_sink *k, size_t upto)
{
	size_t i, from;
	int rc;

	if (k->o->bundle_minimal || k->last_bundled == 0 || k->s->failures > 0)
		return (0);
	if ((rc = anchor_find(k)) != 0)
		return (rc);
	from = k->last_bundled;
	if (k->anchor_state == 1) {
		if (upto <= k->anchor->size)
			return (0);
		if (from < k->anchor->size - 1)
			from = (size_t)k->anchor->size - 1;
	}
	for (i = from; i < upto; i++)
		if ((rc = query_bundle_block(k, i)) != 0)
			return (rc);
	return (0);
}

/* The anchor and a proof for every block added below the note's size. */
static int
bundle_proofs(struct query_sink *k)
{
	struct query_anchor *a;
	uint8_t path[CST_TLOG_MAX_PROOF][CST_HASH_LEN];
	size_t i, plen, nproofs = 0;
	uint64_t bno;
	int rc;

	if ((rc = anchor_find(k)) != 0 || k->anchor_state != 1)
		return (rc);
	a = k->anchor;
	if ((rc = cst_bundle_writer_anchor(k->bw, (const char *)a->cert.p,
	    a->cert.len, (const char *)a->note.p, a->note.len, a->size)) != 0)
		return (rc);
	for (i = 0; i < k->nbidx; i++) {
		bno = k->s->blocks[k->bidx[i]].f.hdr.block_no;
		if (bno >= a->size)
			break;
		if ((rc = cst_tlog_inclusion_proof(bno, a->size, anchor_node,
		    a, path, &plen)) != 0 ||
		    (rc = cst_bundle_writer_proof(k->bw, bno, path, plen)) != 0)
			return (rc);
		nproofs++;
	}
	if (nproofs > 0)
		fprintf(stderr, "%s: %zu block(s) anchored by the note "
		    "checkpoint %s (%llu blocks) with their chain-tree "
		    "inclusion proofs\n",
		    progname, nproofs, a->note_path,
		    (unsigned long long)a->size);
	return (0);
}

int
query_bundle_finish(struct query_opts *o, struct query_store *s,
    struct query_sink *k)
{
	const struct query_block *b;
	cst_bundle_info info;
	uint8_t digest[CST_HASH_LEN];
	char path[4096], hex[2 * CST_HASH_LEN + 1];
	cst_buf out;
	cst_map m;
	size_t i;
	int rc, noted;

	if (k->brecords == 0) {
		fprintf(stderr, "%s: no record matched: no bundle written\n",
		    progname);
		return (-1);
	}
	if ((rc = anchor_find(k)) != 0)
		goto err;
	/* Blocks the note anchors need no run to the checkpoint. */
	noted = k->anchor_state == 1 && k->last_bundled <= k->anchor->size;
	if (s->have_ckp && s->ckp.blocks > 0 && !noted) {
		for (i = k->last_bundled; i < s->nblocks; i++) {
			b = &s->blocks[i];
			if (b->f.hdr.block_no == s->ckp.blocks - 1) {
				if ((rc = query_bundle_join(k, i + 1)) != 0)
					goto err;
				break;
			}
		}
	}
	if ((rc = bundle_proofs(k)) != 0)
		goto err;
	if (s->have_ckp && s->ckp.blocks > 0) {
		snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt",
		    o->dir);
		if (cst_map_open(path, &m) == 0) {
			rc = cst_bundle_writer_checkpoint(k->bw,
			    (const char *)m.p, m.len);
			cst_map_close(&m);
			/*
			 * One certificate line per key epoch: after many
			 * rotations a checkpoint outgrows R-BND-1.  It anchors
			 * nothing in a bundle (R-BND-12), so the bundle goes
			 * without it.
			 */
			if (rc == CST_ETOOBIG)
				fprintf(stderr, "%s: %s is longer than a bundle "
				    "may carry: left out\n", progname, path);
			else if (rc != 0)
				goto err;
		}
	}
	cst_buf_init(&out);
	if ((rc = cst_bundle_writer_finish(k->bw, &out, digest)) != 0) {
		cst_buf_close(&out);
		goto err;
	}
	/* What we hand an investigator must pass what they will run. */
	if ((rc = cst_bundle_verify(out.p, out.len, &s->root, NULL, NULL,
	    &info)) != 0) {
		fprintf(stderr, "%s: the bundle does not verify (%s, %s): not "
		    "written\n", progname, info.rule != NULL ? info.rule : "-",
		    cst_err_name(rc));
		cst_buf_close(&out);
		return (-1);
	}
	if (fileout_write(o->bundle, out.p, out.len, 0) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, o->bundle,
		    strerror(errno));
		cst_buf_close(&out);
		return (-1);
	}
	cst_hex(digest, CST_HASH_LEN, hex);
	crypto_hash_sha256(digest, out.p, out.len);
	cst_hex(digest, CST_HASH_LEN, k->bundle_sha256);
	fprintf(stderr, "%s: wrote %s: %u records from %u blocks (%u runs, "
	    "%u ending at a checkpoint it carries), %zu bytes, digest %s\n", progname,
	    o->bundle, info.record_count, info.block_count, info.runs,
	    info.anchored_runs, out.len, hex);
	cst_buf_close(&out);
	return (0);

err:
	fprintf(stderr, "%s: cannot make the bundle: %s\n", progname,
	    cst_strerror(rc));
	return (-1);
}
