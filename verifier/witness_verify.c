/*
 * Witnessed checkpoints (witness_verify.h, SPEC R-WIT-8).
 *
 * A note counts as witnessed when its log signature held (the verifier
 * said so) and at least quorum of the given witness keys have a valid
 * cosignature on it.  The store must reach the newest such note: a
 * verifier that was only told "this note does not match the store" by
 * R-NOTE-6 is told here what that means when witnesses had cosigned it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "custody/segment.h"

#include "witness_verify.h"

int
wv_key_parse(const char *arg, cst_note_vkey *out)
{
	char line[1024];
	FILE *f;
	size_t len;

	if (cst_file_open_named(arg, "r", &f) == 0) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		arg = line;
	}
	len = strcspn(arg, "\r\n");
	while (len > 0 && arg[len - 1] == ' ')
		len--;
	if (cst_note_vkey_parse(arg, len, out) != 0 ||
	    out->alg != CST_NOTE_ALG_COSIG_V1)
		return (CST_EKEY);
	return (0);
}

static int
finding(struct vreport *r, int sev, int code, const char *file,
    uint64_t block, const char *detail)
{
	cst_finding f;

	memset(&f, 0, sizeof(f));
	f.severity = sev;
	f.code = code;
	f.rule = "R-WIT-8";
	f.file = file;
	f.segment_no = f.offset = CST_NONE;
	f.block_no = f.block_last = block;
	f.seq_first = f.seq_last = CST_NONE;
	f.detail = detail;
	return (vreport_add_finding(r, &f));
}

/*
 * Which keys cosigned note text: a bit per key; the count in *count.  A
 * line of a given key that does not verify is a forged or altered
 * cosignature (R-NOTE-3): a failure, and that key does not count.
 */
static uint64_t
cosigners(const struct wv_note *w, const cst_note_vkey *keys, size_t nkeys,
    unsigned *count, struct vreport *r, int *rc)
{
	char text[512];
	cst_note n;
	uint64_t mask = 0;
	size_t i;
	int vr;

	*count = 0;
	if (cst_note_parse((const char *)w->text, w->len, &n) != 0)
		return (0);
	for (i = 0; i < nkeys && i < 64; i++) {
		vr = cst_note_cosig_verify(&n, &keys[i], NULL);
		if (vr == 0) {
			mask |= (uint64_t)1 << i;
			(*count)++;
		} else if (vr == CST_ESIG && *rc == 0) {
			snprintf(text, sizeof(text), "a cosignature line of "
			    "witness %s does not verify: forged or altered",
			    keys[i].name);
			*rc = finding(r, CST_SEV_FAILURE, CST_ESIG, w->path,
			    CST_NONE, text);
		}
	}
	cst_note_close(&n);
	return (mask);
}

int
wv_check(const cst_verifier *v, const struct wv_note *notes, size_t n,
    const cst_note_vkey *keys, size_t nkeys, unsigned quorum,
    struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(v);
	const cst_note_info *ni, *best = NULL;
	const struct wv_note *bestw = NULL;
	uint64_t mask, bestmask = 0, blocks;
	char names[1024], text[2048];
	size_t nn, i, j, k;
	unsigned count;
	int rc = 0;

	ni = cst_verifier_notes(v, &nn);
	for (i = 0; i < n; i++) {
		mask = cosigners(&notes[i], keys, nkeys, &count, r, &rc);
		if (rc != 0)
			return (rc);
		if (count < quorum)
			continue;
		for (j = 0; j < nn; j++)
			if (ni[j].path != NULL &&
			    strcmp(ni[j].path, notes[i].path) == 0)
				break;
		/*
		 * The witnesses checked the log's signature before they
		 * cosigned (R-WIT-2): a quorum of them vouches for it.
		 */
		if (j == nn || ni[j].size == 0)
			continue;
		if (best == NULL || ni[j].size > best->size ||
		    (ni[j].size == best->size && !ni[j].ok)) {
			best = &ni[j];
			bestw = &notes[i];
			bestmask = mask;
		}
	}
	if (best == NULL) {
		snprintf(text, sizeof(text), "no note checkpoint has valid "
		    "cosignatures of %u of the %zu witness key(s) given: "
		    "nothing here is witnessed", quorum, nkeys);
		return (finding(r, CST_SEV_WARNING, CST_ENOENT, NULL, CST_NONE,
		    text));
	}
	names[0] = '\0';
	for (k = 0; k < nkeys && k < 64; k++)
		if (bestmask & ((uint64_t)1 << k)) {
			size_t l = strlen(names);

			snprintf(names + l, sizeof(names) - l, "%s%s",
			    l > 0 ? ", " : "", keys[k].name);
		}
	blocks = s->has_head ? s->head_block_no + 1 : 0;
	if (best->ok) {
		snprintf(text, sizeof(text), "witnessed: the store reaches the "
		    "note checkpoint of %" PRIu64 " blocks that %s cosigned "
		    "(quorum %u of %zu); the %" PRIu64 " block(s) after it are "
		    "covered by no witness", best->size, names, quorum, nkeys,
		    blocks > best->size ? blocks - best->size : 0);
		return (finding(r, CST_SEV_NOTE, 0, bestw->path, best->size - 1,
		    text));
	}
	if (blocks < best->size)
		snprintf(text, sizeof(text), "ROLLED BACK OR TRUNCATED against a "
		    "witnessed checkpoint: the store holds %" PRIu64 " blocks, "
		    "but witnesses (%s; quorum %u of %zu) cosigned a note "
		    "checkpoint of %" PRIu64 " blocks: the store was truncated "
		    "or rolled back to an older copy", blocks, names, quorum,
		    nkeys, best->size);
	else
		snprintf(text, sizeof(text), "ROLLED BACK OR REWRITTEN against "
		    "a witnessed checkpoint: the store's chain tree of %"
		    PRIu64 " blocks has another root than the note checkpoint "
		    "witnesses (%s; quorum %u of %zu) cosigned: the store was "
		    "rolled back to an older copy and written again, or "
		    "rewritten", best->size, names, quorum, nkeys);
	return (finding(r, CST_SEV_FAILURE, CST_ECORRUPT, bestw->path,
	    best->size - 1, text));
}
