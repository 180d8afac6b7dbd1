/*
 * Fuzz target for case record entries (verifier/caserec.c, SPEC section
 * 16): entries are exchanged between investigators, so every byte is
 * untrusted.  Input: an entry's text.  What parses must hold together: a
 * number from 1, a transfer with exhibits and its three texts, every path
 * absolute.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caserec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct caserec_entry e;
	char why[CASEREC_WHY_LEN];
	size_t i;
	int transfer;

	if (caserec_parse(data, size, &e, why) == 0) {
		REQUIRE(e.number >= 1 && e.kind != NULL && e.verdict != NULL);
		transfer = strcmp(e.kind, "transfer") == 0;
		REQUIRE(!transfer || (e.nfiles > 0 && e.from != NULL &&
		    e.to != NULL && e.reason != NULL));
		for (i = 0; i < e.nfiles; i++)
			REQUIRE(e.files[i].path[0] == '/');
	} else {
		REQUIRE(why[0] != '\0');
	}
	caserec_entry_free(&e);
	return (0);
}
