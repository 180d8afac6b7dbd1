/*
 * Log certificates and note checkpoints given to the verifier after its
 * run (SPEC section 13): the certificate by the root (R-TLOG-5), the
 * note's syntax and log signature (R-NOTE-2..5), and the chain tree's
 * root at the note's size (R-NOTE-6).
 *
 * The tree is computed over the authentic blocks the run kept, in
 * block_no order, with a frontier that each note resumes: notes checked
 * in increasing size (as a store's numbered notes are listed) cost one
 * leaf hash per block in all; a smaller size restarts from block 0.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/logkey.h"
#include "custody/note.h"
#include "custody/tlog.h"
#include "verify_int.h"

int
cst_verifier_add_log_cert_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path)
{
	cst_log_cert c;
	struct fnd f;
	size_t i;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	fnd_init(&f, CST_SEV_FAILURE, 0, "R-TLOG-5");
	f.path = path;
	if ((rc = cst_log_cert_decode((const char *)text, len, &c)) != 0) {
		f.code = rc;
		report(v, &f, "not a log certificate in the exact form of SPEC "
		    "13.2 (R-TLOG-4): altered or not a certificate");
		return (v->rc);
	}
	if ((rc = cst_log_cert_verify(&c, &v->root)) != 0) {
		f.code = rc;
		report(v, &f, rc == CST_EFOREIGN ? "the log certificate "
		    "belongs to another chain" : "the log certificate is not "
		    "signed by the root key: forged or altered; no note "
		    "checkpoint signed by its key is accepted");
		return (v->rc);
	}
	for (i = 0; i < v->nlcerts; i++)
		if (memcmp(&v->lcerts[i], &c, sizeof(c)) == 0)
			return (v->rc);
	if (v->nlcerts < VRF_MAX_LOG_CERTS) {
		v->lcerts[v->nlcerts++] = c;
		v->sum.log_certs++;
	}
	return (v->rc);
}

static int
note_add(cst_verifier *v, const char *path, int how, cst_note_info **out)
{
	cst_note_info *n;
	char *p = NULL;

	if (path != NULL && (p = strdup(path)) == NULL)
		return (CST_ENOMEM);
	if ((n = realloc(v->notes, (v->nnotes + 1) * sizeof(*n))) == NULL)
		goto err0;
	v->notes = n;
	if (cst_vrf_keep_strs(&v->note_strs, v->nnotes, p, NULL) != 0)
		goto err0;
	*out = &n[v->nnotes++];
	memset(*out, 0, sizeof(**out));
	(*out)->path = p;
	(*out)->why = "";
	(*out)->from_store = (how & CST_CKP_FROM_STORE) != 0;
	return (0);

err0:
	free(p);
	return (CST_ENOMEM);
}

/* Reports note failure f (text detail, taken) and keeps its text. */
static void
note_fail(cst_verifier *v, cst_note_info *ni, struct fnd *f, char *detail)
{
	size_t idx = (size_t)(ni - v->notes);

	ni->ok = 0;
	if (detail != NULL) {
		free(v->note_strs[2 * idx + 1]);
		v->note_strs[2 * idx + 1] = strdup(detail);
		if (v->note_strs[2 * idx + 1] != NULL)
			ni->why = v->note_strs[2 * idx + 1];
	}
	cst_vrf_emit(v, f, detail);
}

/*
 * The chain tree's root over the first n authentic blocks into out.
 * Returns 0, or CST_ENOENT with *missing the first block that is not
 * among them.
 */
static int
tree_root(cst_verifier *v, uint64_t n, uint8_t out[CST_HASH_LEN],
    uint64_t *missing)
{
	uint8_t leaf[CST_HASH_LEN];

	if (n < v->tl.size) {
		cst_tlog_frontier_init(&v->tl);
		v->tl_pos = 0;
	}
	while (v->tl.size < n) {
		if (v->tl_pos >= v->nblocks ||
		    v->blocks[v->tl_pos].block_no != v->tl.size) {
			*missing = v->tl.size;
			return (CST_ENOENT);
		}
		cst_tlog_leaf(v->blocks[v->tl_pos].hash, leaf);
		if (cst_tlog_frontier_append(&v->tl, leaf, NULL, NULL) != 0)
			return (CST_ETOOBIG);
		v->tl_pos++;
	}
	cst_tlog_frontier_root(&v->tl, out);
	return (0);
}

/* R-NOTE-6: the store reaches the note and has its root. */
static void
check_root(cst_verifier *v, cst_note_info *ni, int how)
{
	char want[2 * CST_HASH_LEN + 1], got[2 * CST_HASH_LEN + 1];
	uint8_t root[CST_HASH_LEN];
	uint64_t missing = 0;
	struct fnd f;

	fnd_init(&f, CST_SEV_FAILURE, 0, "R-NOTE-6");
	f.path = ni->path;
	f.b0 = f.b1 = ni->size - 1;
	if (tree_root(v, ni->size, root, &missing) != 0) {
		if (!v->sum.has_head || v->sum.head_block_no < ni->size - 1) {
			f.code = CST_ETRUNC;
			if (v->opts.live && !(how & CST_CKP_READ_FIRST)) {
				f.sev = CST_SEV_ERROR;
				note_fail(v, ni, &f, fmt("the note checkpoint "
				    "states the chain had %" PRIu64 " blocks; "
				    "the store, being written, was read up to "
				    "%" PRIu64 ": verify again without --live "
				    "once the collector has stopped", ni->size,
				    v->sum.has_head ? v->sum.head_block_no + 1 :
				    0));
				return;
			}
			note_fail(v, ni, &f, fmt("the note checkpoint states "
			    "the chain had %" PRIu64 " blocks; the store holds "
			    "%" PRIu64 " that verify: its newest blocks were "
			    "removed or the store was rolled back", ni->size,
			    v->sum.has_head ? v->sum.head_block_no + 1 : 0));
			return;
		}
		f.code = CST_ENOENT;
		f.b0 = f.b1 = missing;
		note_fail(v, ni, &f, fmt("block %" PRIu64 ", under the note "
		    "checkpoint of %" PRIu64 " blocks, is not among the blocks "
		    "that verify (lost or damaged)", missing, ni->size));
		return;
	}
	if (sodium_memcmp(root, ni->root, CST_HASH_LEN) != 0) {
		cst_hex(root, CST_HASH_LEN, got);
		cst_hex(ni->root, CST_HASH_LEN, want);
		f.code = CST_EHASH;
		note_fail(v, ni, &f, fmt("the chain tree of the store's first "
		    "%" PRIu64 " blocks has root %s, the note checkpoint %s: "
		    "the chain was altered or replaced after the note was "
		    "signed", ni->size, got, want));
		return;
	}
	ni->ok = 1;
	if (!v->sum.has_note || ni->size > v->sum.note_size) {
		v->sum.has_note = 1;
		v->sum.note_size = ni->size;
	}
	if (!ni->from_store && (!v->sum.has_given_note ||
	    ni->size > v->sum.given_note_size)) {
		v->sum.has_given_note = 1;
		v->sum.given_note_size = ni->size;
	}
}

/* The rule and words for cst_log_note_verify's failure rc. */
static void
sig_failure(cst_verifier *v, cst_note_info *ni, int rc)
{
	struct fnd f;

	fnd_init(&f, CST_SEV_FAILURE, rc, "R-NOTE-5");
	f.path = ni->path;
	switch (rc) {
	case CST_EPARSE:
	case CST_ETOOBIG:
		f.rule = "R-NOTE-4";
		note_fail(v, ni, &f, fmt("the note's text is not a checkpoint "
		    "body of SPEC 13.3 (exactly three lines: origin, a size of "
		    "1 or more, the root): altered or not a note checkpoint"));
		break;
	case CST_EFOREIGN:
		f.rule = "R-NOTE-4";
		note_fail(v, ni, &f, fmt("the note checkpoint's origin is "
		    "not this chain's: it belongs to another log"));
		break;
	case CST_ESIG:
		note_fail(v, ni, &f, fmt("the log key's signature on the note "
		    "checkpoint does not verify: forged or altered"));
		break;
	default:
		note_fail(v, ni, &f, fmt("the note checkpoint is signed by no "
		    "log key the root key certified: forged, or signed by "
		    "another log key"));
		break;
	}
}

int
cst_verifier_check_note_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path, int how)
{
	cst_note_info *ni;
	cst_note n;
	struct fnd f;
	uint64_t size = 0, sz;
	uint8_t root[CST_HASH_LEN], rt[CST_HASH_LEN];
	size_t i;
	int rc, ok = 0, best = CST_ENOENT;

	if (!v->ran)
		return (CST_EINVAL);
	if ((rc = note_add(v, path, how, &ni)) != 0)
		return (rc);
	/* R-NOTE-2 first: the syntax, whatever the keys. */
	if ((rc = cst_note_parse((const char *)text, len, &n)) != 0) {
		if (rc == CST_ENOMEM)
			return (rc);
		fnd_init(&f, CST_SEV_FAILURE, rc, "R-NOTE-2");
		f.path = ni->path;
		note_fail(v, ni, &f, fmt("not a signed note (C2SP signed-note "
		    "syntax within SPEC 13.3's limits): altered or not a "
		    "note"));
		return (v->rc);
	}
	cst_note_close(&n);
	if (v->nlcerts == 0) {
		fnd_init(&f, CST_SEV_FAILURE, CST_ENOENT, "R-TLOG-5");
		f.path = ni->path;
		note_fail(v, ni, &f, fmt("no log certificate (log.cert) "
		    "signed by the root key was found or given: the note "
		    "checkpoint cannot be checked"));
		return (v->rc);
	}
	/*
	 * R-NOTE-3: every certified log key's lines must verify, and one
	 * at least must be there.
	 */
	for (i = 0; i < v->nlcerts; i++) {
		rc = cst_log_note_verify((const char *)text, len,
		    &v->lcerts[i], &sz, rt);
		if (rc == CST_ENOMEM)
			return (rc);
		if (rc == 0) {
			ok = 1;
			size = sz;
			memcpy(root, rt, CST_HASH_LEN);
			continue;
		}
		/* The failure that says most: syntax, chain, signature. */
		if (rc == CST_EPARSE || rc == CST_ETOOBIG ||
		    (rc == CST_EFOREIGN && best != CST_EPARSE &&
		    best != CST_ETOOBIG) || (rc == CST_ESIG &&
		    best == CST_ENOENT))
			best = rc;
	}
	if (best == CST_ESIG || !ok) {
		sig_failure(v, ni, best);
		return (v->rc);
	}
	ni->size = size;
	memcpy(ni->root, root, CST_HASH_LEN);
	check_root(v, ni, how);
	return (v->rc);
}

const cst_note_info *
cst_verifier_notes(const cst_verifier *v, size_t *n)
{

	*n = v->nnotes;
	return (v->notes);
}
