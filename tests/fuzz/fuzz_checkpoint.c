/*
 * Fuzz target for checkpoint text (formats/checkpoint.c, SPEC section 8):
 * a checkpoint is copied off the machine and handed back to a verifier,
 * so its text is untrusted.  Input: the text.  It is decoded
 * (R-CKP-1's exact format); what decodes must hold together (the signed
 * body is the text before its "sig" line, one certificate per epoch) and
 * is verified against the root key of tests/vectors/good_checkpoint, so
 * that the seeds from that vector reach the signature check.  A
 * checkpoint that verifies must stop verifying when any one byte of its
 * signed text changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/keys.h"
#include "fuzz.h"

/* tests/vectors/good_checkpoint/keys/root.pub */
static const char root_text[] = "custody-root-v1 "
    "bfe32f25cf5873a87954935dfbb18ae4 "
    "IRsNpvnAro/k/aCcQWFntA4bOYTJLsP0GvTSDrBDC7M=\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cst_root_pub root;
	static int have_root;
	cst_checkpoint cp, cp2;
	char *text;
	size_t at;
	int rc;

	if (!have_root) {
		REQUIRE(cst_root_pub_parse(root_text, sizeof(root_text) - 1,
		    &root) == 0);
		have_root = 1;
	}
	rc = cst_checkpoint_decode((const char *)data, size, &cp);
	REQUIRE(rc == 0 || rc == CST_EPARSE || rc == CST_ENOMEM);
	if (rc != 0) {
		cst_checkpoint_close(&cp);
		return (0);
	}
	REQUIRE(cp.body_len < size);
	REQUIRE(memcmp(cp.body, data, cp.body_len) == 0);
	REQUIRE(cp.body_len >= 4 && memcmp(data + cp.body_len, "sig ", 4) ==
	    0);
	REQUIRE(cp.epoch >= 1 && cp.certs != NULL);
	rc = cst_checkpoint_verify(&cp, &root);
	REQUIRE(rc == 0 || rc == CST_EFOREIGN || rc == CST_ESIG ||
	    rc == CST_ECORRUPT || rc == CST_ENOMEM);
	if (rc == 0) {
		/* One changed byte of the signed text, chosen by the text. */
		REQUIRE((text = malloc(size)) != NULL);
		memcpy(text, data, size);
		at = (size_t)(data[size - 1] ^ data[size / 2]) * 131 %
		    cp.body_len;
		text[at] ^= 0x01;
		if (cst_checkpoint_decode(text, size, &cp2) == 0)
			REQUIRE(cst_checkpoint_verify(&cp2, &root) != 0);
		cst_checkpoint_close(&cp2);
		free(text);
	}
	cst_checkpoint_close(&cp);
	return (0);
}
