/*
 * custody-query --bundle: the matching records and the blocks that prove
 * them, joined into runs up to the latest checkpoint, written as an
 * evidence bundle (SPEC section 11) once it verifies.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/bundle.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"

#include "fileout.h"
#include "query_cli.h"
#include "query_store.h"

static const char progname[] = QUERY_PROGNAME;

int
query_bundle_block(struct query_sink *k, size_t bi)
{
	int rc;

	if ((rc = cst_bundle_writer_block(k->bw, &k->s->blocks[bi].f)) != 0)
		return (rc);
	k->last_bundled = bi + 1;
	return (0);
}

/* Joins the bundle's run up to block `upto` (store index, exclusive). */
int
query_bundle_join(struct query_sink *k, size_t upto)
{
	size_t i;
	int rc;

	if (k->o->bundle_minimal || k->last_bundled == 0 || k->s->failures > 0)
		return (0);
	for (i = k->last_bundled; i < upto; i++)
		if ((rc = query_bundle_block(k, i)) != 0)
			return (rc);
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
	int rc;

	if (k->brecords == 0) {
		fprintf(stderr, "%s: no record matched: no bundle written\n",
		    progname);
		return (-1);
	}
	if (s->have_ckp && s->ckp.blocks > 0) {
		for (i = k->last_bundled; i < s->nblocks; i++) {
			b = &s->blocks[i];
			if (b->f.hdr.block_no == s->ckp.blocks - 1) {
				if ((rc = query_bundle_join(k, i + 1)) != 0)
					goto err;
				break;
			}
		}
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
