/*
 * custodyd configuration: what an administrator writes in the INI file
 * and on the command line is what the daemon runs with; anything it would
 * silently misread (a typo, a number without its unit) is refused with
 * the line it is on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/error.h"

#include "conf.h"

static char path[64];

static void
setup(void)
{
	int fd;

	cr_assert(sodium_init() >= 0);
	snprintf(path, sizeof(path), "/tmp/test_conf.XXXXXX");
	cr_assert((fd = mkstemp(path)) != -1);
	close(fd);
}

static void
teardown(void)
{

	unlink(path);
}

TestSuite(conf, .init = setup, .fini = teardown);

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(conf, defaults_are_the_documented_ones)
{
	struct conf c;

	conf_init(&c);
	cr_assert_eq(c.commit_interval_ms, 100);
	cr_assert_eq(c.batch_records, 16384);
	cr_assert_eq(c.batch_bytes, 4u << 20);
	cr_assert_eq(c.max_inflight, 64u << 20);
	cr_assert_eq(c.keys_create, 1);
	cr_assert_null(c.data_dir);
	cr_assert_eq(c.nlisten, 0);
	conf_close(&c);
}

/*
 * SPEC R-KEY-4: a stolen epoch key reaches back to the start of its
 * epoch, so the default rotation is at most 15 minutes; R-CKP-6: the
 * checkpoint history is bounded.
 */
Test(conf, key_rotation_and_checkpoint_history_defaults)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_leq(c.key_rotate_s, 900);
	cr_assert_neq(c.key_rotate_s, 0);
	cr_assert_eq(c.checkpoint_history, 100);
	conf_close(&c);
	write_file("[store]\ncheckpoint_history = 7\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_eq(c.checkpoint_history, 7);
	conf_close(&c);
}

Test(conf, file_sets_every_kind_of_value)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("# comment\n"
	    "[server]\n"
	    "data_dir = /var/lib/custody\n"
	    "listen = tcp://127.0.0.1:6514\n"
	    "listen = udp://[::1]:514\n"
	    "metrics = none\n"
	    "[input]\n"
	    "max_message = 8K\n"
	    "[pipeline]\n"
	    "batch_records = 4096\n"
	    "batch_bytes = 1MiB\n"
	    "batch_delay = 5ms\n"
	    "zstd_level = 3\n"
	    "[store]\n"
	    "commit_interval = 1s\n"
	    "segment_max_age = 1h\n"
	    "checkpoint_export_dir = /mnt/anchor\n"
	    "[keys]\n"
	    "create = no\n"
	    "rotate_interval = 1d\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_str_eq(c.data_dir, "/var/lib/custody");
	cr_assert_eq(c.nlisten, 2);
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:6514");
	cr_assert_str_eq(c.listen[1], "udp://[::1]:514");
	cr_assert_null(c.metrics);
	cr_assert(c.metrics_set);
	cr_assert_eq(c.max_message, 8192);
	cr_assert_eq(c.batch_records, 4096);
	cr_assert_eq(c.batch_bytes, 1u << 20);
	cr_assert_eq(c.batch_delay_ms, 5);
	cr_assert_eq(c.zstd_level, 3);
	cr_assert_eq(c.commit_interval_ms, 1000);
	cr_assert_eq(c.segment_max_age_s, 3600);
	cr_assert_str_eq(c.checkpoint_export_dir, "/mnt/anchor");
	cr_assert_eq(c.keys_create, 0);
	cr_assert_eq(c.key_rotate_s, 86400);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	conf_close(&c);
}

Test(conf, config_hash_is_sha256_of_the_file_bytes)
{
	static const char text[] = "[server]\ndata_dir = /d\n";
	uint8_t digest[crypto_hash_sha256_BYTES];
	char hex[65];
	struct conf c;
	char err[CONF_ERR_LEN];
	size_t i;

	write_file(text);
	crypto_hash_sha256(digest, (const uint8_t *)text, sizeof(text) - 1);
	for (i = 0; i < sizeof(digest); i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_str_eq(c.sha256_hex, hex);
	cr_assert_str_eq(c.path, path);
	conf_close(&c);
}

Test(conf, unknown_key_is_refused_with_its_line)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("[server]\ndata_dir = /d\n[pipeline]\nbatch_record = 5\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), CST_EPARSE);
	cr_assert_not_null(strstr(err, ":4:"), "%s", err);
	cr_assert_not_null(strstr(err, "pipeline.batch_record"), "%s", err);
	conf_close(&c);
}

Test(conf, key_outside_a_section_is_refused)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("data_dir = /d\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), CST_EPARSE);
	cr_assert_not_null(strstr(err, ":1:"), "%s", err);
	conf_close(&c);
}

Test(conf, duration_needs_a_unit)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("[store]\ncommit_interval = 100\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), CST_EPARSE);
	cr_assert_not_null(strstr(err, "store.commit_interval"), "%s", err);
	conf_close(&c);
}

Test(conf, missing_file_is_enoent)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, "/nonexistent/custodyd.conf", err),
	    CST_ENOENT);
	cr_assert_neq(err[0], '\0');
	conf_close(&c);
}

Test(conf, sizes_and_durations_parse_exactly)
{
	uint64_t v;

	cr_assert_eq(conf_parse_size("512", &v), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(conf_parse_size("64K", &v), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(conf_parse_size("4M", &v), 0);
	cr_assert_eq(v, 4u << 20);
	cr_assert_eq(conf_parse_size("1GiB", &v), 0);
	cr_assert_eq(v, 1u << 30);
	cr_assert_eq(conf_parse_size("1.5M", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_size("-1", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_size("", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_size("99999999999999999999", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_size("17179869184G", &v), CST_EPARSE);

	cr_assert_eq(conf_parse_duration_ms("0", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(conf_parse_duration_ms("250ms", &v), 0);
	cr_assert_eq(v, 250);
	cr_assert_eq(conf_parse_duration_ms("2m", &v), 0);
	cr_assert_eq(v, 120000);
	cr_assert_eq(conf_parse_duration_ms("1d", &v), 0);
	cr_assert_eq(v, 86400000);
	cr_assert_eq(conf_parse_duration_ms("10", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_duration_ms("10 s", &v), CST_EPARSE);
	cr_assert_eq(conf_parse_duration_ms("5w", &v), CST_EPARSE);
}

Test(conf, out_of_range_values_are_refused)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_set(&c, "pipeline.batch_records", "0", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "pipeline.batch_records", "2000000", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "pipeline.zstd_level", "20", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "pipeline.zstd_level", "0", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "pipeline.zstd_level", "-8", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "pipeline.zstd_level", "-3", err), 0);
	cr_assert_eq(c.zstd_level, -3, "zstd's fast levels");
	cr_assert_eq(conf_set(&c, "pipeline.zstd_level", "1", err), 0);
	cr_assert_eq(conf_set(&c, "keys.create", "maybe", err), CST_EPARSE);
	cr_assert_eq(conf_set(&c, "segment_max_bytes", "1G", err),
	    CST_EPARSE, "a name without its section");
	cr_assert_eq(c.batch_records, 16384, "a refused value changes nothing");
	conf_close(&c);
}

Test(conf, command_line_overrides_the_file)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("[server]\ndata_dir = /from/file\n"
	    "listen = tcp://0.0.0.0:6514\nlisten = udp://0.0.0.0:514\n");
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "server.data_dir", "/from/cli", err), 0);
	cr_assert_eq(conf_add_cli_listen(&c, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(conf_add_cli_listen(&c, "unix:///tmp/log.sock"), 0);
	cr_assert_str_eq(c.data_dir, "/from/cli");
	/* --listen replaces the file's list, and accumulates. */
	cr_assert_eq(c.nlisten, 2);
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:0");
	cr_assert_str_eq(c.listen[1], "unix:///tmp/log.sock");
	conf_close(&c);
}

Test(conf, listeners_from_cli_survive_a_file_read_after_them)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	write_file("[server]\nlisten = tcp://0.0.0.0:6514\n");
	conf_init(&c);
	cr_assert_eq(conf_add_cli_listen(&c, "tcp://127.0.0.1:7000"), 0);
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_eq(c.nlisten, 1);
	cr_assert_str_eq(c.listen[0], "tcp://127.0.0.1:7000");
	conf_close(&c);
}

Test(conf, check_refuses_what_cannot_run)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL, "no data directory");
	cr_assert_eq(conf_set(&c, "server.data_dir", "/d", err), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL, "no listener");
	cr_assert_eq(conf_add_cli_listen(&c, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	cr_assert_eq(conf_add_cli_listen(&c, "sctp://127.0.0.1:6514"), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL, "an unknown scheme");
	cr_assert_not_null(strstr(err, "sctp://"), "%s", err);
	c.nlisten--;
	free(c.listen[c.nlisten]);
	/* A message must always fit an empty batch. */
	cr_assert_eq(conf_set(&c, "input.max_message", "4M", err), 0, "%s",
	    err);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert_not_null(strstr(err, "max_message"), "%s", err);
	/* Back-pressure needs memory for two batches. */
	cr_assert_eq(conf_set(&c, "input.max_message", "64K", err), 0);
	cr_assert_eq(conf_set(&c, "pipeline.max_inflight", "2M", err), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert_not_null(strstr(err, "max_inflight"), "%s", err);
	conf_close(&c);
}

Test(conf, tls_section_from_file_and_set)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(c.tls.min_version, 12);
	write_file("[server]\ndata_dir = /tmp/x\nlisten = tls://127.0.0.1:6514\n"
	    "[tls]\ncert = /etc/c.pem\nkey = /etc/k.pem\nca = /etc/ca.pem\n"
	    "allow = name:*.example.org\n"
	    "allow = sha256:00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF\nmin_version = 1.3\n");
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_str_eq(c.tls.cert, "/etc/c.pem");
	cr_assert_str_eq(c.tls.key, "/etc/k.pem");
	cr_assert_str_eq(c.tls.ca, "/etc/ca.pem");
	cr_assert_eq(c.tls.nallow, 2);
	cr_assert_str_eq(c.tls.allow[0], "name:*.example.org");
	cr_assert_eq(c.tls.min_version, 13);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	/* --set: allow accumulates; an empty ca unsets it. */
	cr_assert_eq(conf_set(&c, "tls.allow", "name:one.example.net", err), 0);
	cr_assert_eq(c.tls.nallow, 3);
	cr_assert_eq(conf_set(&c, "tls.ca", "", err), 0);
	cr_assert_null(c.tls.ca);
	/* A name is worth only what a CA vouches for. */
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert(strstr(err, "needs tls.ca") != NULL, "%s", err);
	conf_close(&c);
	cr_assert_null(c.tls.cert);
	cr_assert_eq(c.tls.nallow, 0);
}

Test(conf, tls_refusals)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_set(&c, "tls.allow", "name:a.*.org", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "tls.allow", "sha256:abcd", err), CST_EPARSE);
	cr_assert_eq(conf_set(&c, "tls.min_version", "1.1", err), CST_EPARSE);
	cr_assert_eq(conf_set(&c, "tls.ciphers", "x", err), CST_EPARSE);
	cr_assert(strstr(err, "unknown setting tls.ciphers") != NULL, "%s",
	    err);
	/* A tls:// listener needs a certificate and its key. */
	cr_assert_eq(conf_set(&c, "server.data_dir", "/tmp/x", err), 0);
	cr_assert_eq(conf_add_cli_listen(&c, "tls://127.0.0.1:6514"), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert(strstr(err, "tls.cert and tls.key") != NULL, "%s", err);
	cr_assert_eq(conf_set(&c, "tls.cert", "/c", err), 0);
	cr_assert_eq(conf_set(&c, "tls.key", "/k", err), 0);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	/* So does a relp+tls:// listener. */
	cr_assert_eq(conf_set(&c, "tls.cert", "", err), 0);
	c.nlisten--;
	free(c.listen[c.nlisten]);
	cr_assert_eq(conf_add_cli_listen(&c, "relp+tls://127.0.0.1:2514"), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert(strstr(err, "tls.cert and tls.key") != NULL, "%s", err);
	cr_assert_eq(conf_set(&c, "tls.cert", "/c", err), 0);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	conf_close(&c);
}

Test(conf, server_user_and_allow_root)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_null(c.user, "no user by default");
	cr_assert_eq(c.allow_root, 0, "root is not allowed by default");
	write_file("[server]\nuser = custody\nallow_root = yes\n");
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_str_eq(c.user, "custody");
	cr_assert_eq(c.allow_root, 1);
	cr_assert_eq(conf_set(&c, "server.user", "", err), 0, "%s", err);
	cr_assert_null(c.user, "an empty user is none");
	cr_assert_eq(conf_set(&c, "server.allow_root", "maybe", err),
	    CST_EPARSE);
	cr_assert_not_null(strstr(err, "server.allow_root"), "%s", err);
	conf_close(&c);
}

Test(conf, replicate_section)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_null(c.rep.servers, "replication is off by default");
	cr_assert_eq(c.rep.ack_replicated, 0, "ack = local by default");
	cr_assert_eq(c.rep.replicas, 1);
	cr_assert_eq(c.rep.max_backlog, 256 << 20);
	cr_assert_eq(c.rep.lag_record_s, CONF_REP_LAG_RECORD_DEFAULT_S);
	write_file("[server]\ndata_dir = /tmp/x\nlisten = tcp://127.0.0.1:1\n"
	    "[replicate]\nservers = nats://10.0.0.5:4222,tls://10.0.0.6:4222\n"
	    "creds = /etc/n.creds\ntls_cert = /c.pem\ntls_key = /k.pem\n"
	    "tls_ca = /ca.pem\nstream = EVIDENCE\nreplicas = 3\n"
	    "ack = replicated\nmax_backlog = 1G\nlag_record = 2m\n");
	cr_assert_eq(conf_load_file(&c, path, err), 0, "%s", err);
	cr_assert_str_eq(c.rep.servers,
	    "nats://10.0.0.5:4222,tls://10.0.0.6:4222");
	cr_assert_str_eq(c.rep.creds, "/etc/n.creds");
	cr_assert_str_eq(c.rep.tls_cert, "/c.pem");
	cr_assert_str_eq(c.rep.tls_key, "/k.pem");
	cr_assert_str_eq(c.rep.tls_ca, "/ca.pem");
	cr_assert_str_eq(c.rep.stream, "EVIDENCE");
	cr_assert_eq(c.rep.replicas, 3);
	cr_assert_eq(c.rep.ack_replicated, 1);
	cr_assert_eq(c.rep.max_backlog, (uint64_t)1 << 30);
	cr_assert_eq(c.rep.lag_record_s, 120);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	/* --set works the same; an empty value unsets. */
	cr_assert_eq(conf_set(&c, "replicate.ack", "local", err), 0);
	cr_assert_eq(c.rep.ack_replicated, 0);
	cr_assert_eq(conf_set(&c, "replicate.creds", "", err), 0);
	cr_assert_null(c.rep.creds);
	/* Refusals. */
	cr_assert_eq(conf_set(&c, "replicate.ack", "quorum", err), CST_EPARSE);
	cr_assert(strstr(err, "local or replicated") != NULL, "%s", err);
	cr_assert_eq(conf_set(&c, "replicate.replicas", "6", err), CST_EPARSE);
	cr_assert_eq(conf_set(&c, "replicate.lag_record", "500ms", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "replicate.subjects", "x", err), CST_EPARSE);
	cr_assert(strstr(err, "unknown setting replicate.subjects") != NULL,
	    "%s", err);
	cr_assert_eq(conf_set(&c, "replicate.stream", "A.B", err), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL, "a stream name with '.'");
	cr_assert(strstr(err, "replicate.stream") != NULL, "%s", err);
	cr_assert_eq(conf_set(&c, "replicate.stream", "CUSTODY", err), 0);
	cr_assert_eq(conf_set(&c, "replicate.ack", "replicated", err), 0);
	cr_assert_eq(conf_set(&c, "replicate.servers", "", err), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL,
	    "ack = replicated without servers");
	cr_assert(strstr(err, "needs replicate.servers") != NULL, "%s", err);
	conf_close(&c);
	cr_assert_null(c.rep.servers);
	cr_assert_null(c.rep.tls_cert);
}
