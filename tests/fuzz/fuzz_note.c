/*
 * Fuzz target for signed notes, note checkpoints and verifier keys
 * (formats/note.c, formats/logkey.c; SPEC section 13.3): a note comes
 * back from a witness or from an investigator's copy, so every byte is
 * untrusted.  Input: a note.  It is parsed (R-NOTE-2's limits); what
 * parses must hold together (the text ends at the last empty line, every
 * line a valid name and a signature of 5 bytes or more); a checkpoint
 * body that parses must format back to the same bytes (one spelling);
 * the note is verified against the log certificate of
 * tests/vectors/good_notes, so that the seeds from that vector reach the
 * signature check, and a note that verifies must stop verifying when one
 * byte of its text changes.  The input's first line is also tried as a
 * verifier key, which must format back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/logkey.h"
#include "custody/note.h"
#include "fuzz.h"

/* tests/vectors/good_notes/keys/log.cert */
static const char cert_text[] = "custody-log-cert-v1 "
    "bfe32f25cf5873a87954935dfbb18ae4 "
    "WQMRHWBEHRe38lA/CDtWOVJzdpJ8BByaKrUL8yeA2oo= "
    "RbBD39HaIIIwGeuo9Ytey9jrrJpCw+OE+KHxQn+EX45CBTQbZKUgcjF7ndHuNMMEGDCqRQZQufu3RUvGhHTnBQ==\n";

static void
check_parsed(const cst_note *n, const uint8_t *data, size_t size)
{
	size_t i;

	REQUIRE(n->len == size && n->text_len >= 1 && n->text_len < size);
	REQUIRE(data[n->text_len - 1] == '\n' && data[n->text_len] == '\n');
	REQUIRE(n->nsigs >= 1 && n->nsigs <= CST_NOTE_MAX_SIGS);
	for (i = 0; i < n->nsigs; i++) {
		REQUIRE(cst_note_name_ok(n->sigs[i].name, n->sigs[i].name_len));
		REQUIRE(n->sigs[i].sig_len >= 1);
		REQUIRE(n->sigs[i].sig >= n->sigbuf + 4 &&
		    n->sigs[i].sig + n->sigs[i].sig_len <= n->sigbuf + size);
	}
}

static void
check_body(const cst_note *n)
{
	cst_note_ckpt c;
	cst_buf b;

	if (cst_note_ckpt_parse(n->text, n->text_len, &c) != 0)
		return;
	cst_buf_init(&b);
	REQUIRE(cst_note_ckpt_format(c.origin, c.origin_len, c.size, c.root,
	    c.ext, c.ext_len, &b) == 0);
	REQUIRE(b.len == n->text_len && memcmp(b.p, n->text, b.len) == 0);
	cst_buf_close(&b);
}

static void
check_vkey(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl != NULL ? (size_t)(nl - data) : size;
	cst_note_vkey k;
	cst_buf b;

	if (cst_note_vkey_parse((const char *)data, len, &k) != 0)
		return;
	cst_buf_init(&b);
	REQUIRE(cst_note_vkey_format(&k, &b) == 0);
	REQUIRE(b.len == len && memcmp(b.p, data, len) == 0);
	cst_buf_close(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cst_log_cert cert;
	static int have_cert;
	uint8_t root[32];
	uint64_t n_size, t;
	cst_note_vkey w;
	cst_note n;
	char *text;
	size_t at, tl;
	int rc;

	if (!have_cert) {
		REQUIRE(cst_log_cert_decode(cert_text, sizeof(cert_text) - 1,
		    &cert) == 0);
		have_cert = 1;
	}
	check_vkey(data, size);
	rc = cst_note_parse((const char *)data, size, &n);
	REQUIRE(rc == 0 || rc == CST_EPARSE || rc == CST_ETOOBIG ||
	    rc == CST_ENOMEM);
	if (rc != 0)
		return (0);
	check_parsed(&n, data, size);
	check_body(&n);
	/* A witness key of the log's name: its lines are the log's own. */
	cst_log_vkey(cert.chain_id, cert.pk, &w);
	w.alg = CST_NOTE_ALG_COSIG_V1;
	rc = cst_note_cosig_verify(&n, &w, &t);
	REQUIRE(rc == CST_ENOENT || rc == CST_ESIG || rc == CST_ENOMEM);
	tl = n.text_len;
	cst_note_close(&n);

	rc = cst_log_note_verify((const char *)data, size, &cert, &n_size,
	    root);
	REQUIRE(rc == 0 || rc == CST_EPARSE || rc == CST_ETOOBIG ||
	    rc == CST_EFOREIGN || rc == CST_ENOENT || rc == CST_ESIG ||
	    rc == CST_ENOMEM);
	if (rc == 0) {
		REQUIRE(n_size >= 1);
		/* One changed byte of the signed text, chosen by the input. */
		REQUIRE((text = malloc(size)) != NULL);
		memcpy(text, data, size);
		at = (size_t)(data[size - 1] ^ data[size / 2]) * 131 % tl;
		text[at] ^= 0x01;
		REQUIRE(cst_log_note_verify(text, size, &cert, &n_size,
		    root) != 0);
		free(text);
	}
	return (0);
}
