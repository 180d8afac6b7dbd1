/*
 * Fuzz target for the configuration file parser (collector/conf.c): the
 * INI text is operator input, read by custodyd at start, on SIGHUP and by
 * custodyd --check.  Input: the file's bytes, loaded from a file as
 * custodyd loads it.  A load must succeed or say why; a file that loads
 * is checked (conf_check) and must load again to the same values, and
 * every listener it names must be accepted again as --listen would be.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "custody/error.h"
#include "conf.h"
#include "fuzzfile.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf a, b;
	char err[CONF_ERR_LEN];
	size_t i;
	int rc;

	fuzz_file_put(data, size);
	conf_init(&a);
	rc = conf_load_file(&a, fuzz_file_path, err);
	REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc != 0) {
		REQUIRE(rc == CST_EPARSE || rc == CST_ENOMEM ||
		    rc == CST_ETOOBIG);
		REQUIRE(err[0] != '\0');
		conf_close(&a);
		return (0);
	}
	(void)conf_check(&a, err);
	REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);

	conf_init(&b);
	REQUIRE(conf_load_file(&b, fuzz_file_path, err) == 0);
	REQUIRE(strcmp(a.sha256_hex, b.sha256_hex) == 0);
	REQUIRE(a.nlisten == b.nlisten);
	REQUIRE(a.max_message == b.max_message &&
	    a.batch_bytes == b.batch_bytes &&
	    a.commit_interval_ms == b.commit_interval_ms &&
	    a.key_rotate_s == b.key_rotate_s);
	for (i = 0; i < a.nlisten; i++)
		REQUIRE(strcmp(a.listen[i], b.listen[i]) == 0);
	/* The first --listen replaces the file's list. */
	for (i = 0; i < a.nlisten; i++) {
		rc = conf_add_cli_listen(&b, a.listen[i]);
		REQUIRE(rc == 0 || rc == CST_ENOMEM || rc == CST_ETOOBIG);
	}
	REQUIRE(b.nlisten <= a.nlisten);
	conf_close(&b);
	conf_close(&a);
	return (0);
}
