/*
 * custody-query's parts: the time syntax, the filters, the output escaping
 * and the index (a forged or stale index entry is ignored, never trusted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"

#include "index.h"
#include "query.h"

#define NS 1000000000LL
#define T0 1717243200LL /* 2024-06-01T12:00:00Z */

Test(query_time, rfc3339_and_relaxations)
{
	int64_t t;

	cr_assert_eq(query_time_parse("2024-06-01T12:00:00Z", 0, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_eq(query_time_parse("2024-06-01 12:00:00", 0, &t), 0);
	cr_assert_eq(t, T0 * NS, "no zone means UTC");
	cr_assert_eq(query_time_parse("2024-06-01T14:00:00+02:00", 0, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_eq(query_time_parse("2024-06-01T12:00:00.25Z", 0, &t), 0);
	cr_assert_eq(t, T0 * NS + 250000000);
	cr_assert_eq(query_time_parse("2024-06-01", 0, &t), 0);
	cr_assert_eq(t, (T0 - 43200) * NS);
	cr_assert_eq(query_time_parse("@1717243200", 0, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_neq(query_time_parse("2024-13-01", 0, &t), 0);
	cr_assert_neq(query_time_parse("2024-06-01T12:00:00Zjunk", 0, &t), 0);
	cr_assert_neq(query_time_parse("", 0, &t), 0);
}

Test(query_time, relative_like_journalctl)
{
	int64_t now = T0 * NS, t;

	cr_assert_eq(query_time_parse("-2h", now, &t), 0);
	cr_assert_eq(t, now - 7200 * NS);
	cr_assert_eq(query_time_parse("30min", now, &t), 0);
	cr_assert_eq(t, now - 1800 * NS, "no sign: the past");
	cr_assert_eq(query_time_parse("+1h30min", now, &t), 0);
	cr_assert_eq(t, now + 5400 * NS);
	cr_assert_eq(query_time_parse("2 days ago", now, &t), 0);
	cr_assert_eq(t, now - 2 * 86400 * NS);
	cr_assert_eq(query_time_parse("today", now, &t), 0);
	cr_assert_eq(t, (T0 - 43200) * NS);
	cr_assert_eq(query_time_parse("yesterday", now, &t), 0);
	cr_assert_eq(t, (T0 - 43200 - 86400) * NS);
	cr_assert_neq(query_time_parse("-2 fortnights", now, &t), 0);
	cr_assert_eq(query_time_duration("5m", &t), 0);
	cr_assert_eq(t, 300 * NS);
	cr_assert_neq(query_time_duration("0s", &t), 0);
}

Test(query_time, format)
{
	char b[48];

	query_time_format(T0 * NS + 123456789, 6, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T12:00:00.123456Z");
	query_time_format(T0 * NS + 5, 9, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T12:00:00.000000005Z");
	query_time_format(-1, 3, b, sizeof(b));
	cr_assert_str_eq(b, "1969-12-31T23:59:59.999Z");
}

/* A parsed event record over msg (borrowed). */
static void
rec(cst_record *r, const char *msg, const char *peer)
{

	memset(r, 0, sizeof(*r));
	r->kind = CST_REC_EVENT;
	r->transport = CST_TR_UDP;
	r->seq = 42;
	r->recv_ns = T0 * NS;
	r->raw.p = (const uint8_t *)msg;
	r->raw.len = strlen(msg);
	r->peer.p = (const uint8_t *)peer;
	r->peer.len = strlen(peer);
	r->listener.p = (const uint8_t *)"udp";
	r->listener.len = 3;
	r->has_parsed = cst_syslog_parse(r->raw.p, r->raw.len, r->recv_ns,
	    &r->parsed) == 0;
}

static const char *m5424 = "<27>1 2024-06-01T12:00:00Z web1 nginx 77 ID1 "
    "[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"li\\]c\"][origin "
    "ip=\"192.0.2.1\"] upstream timed out";

Test(query_filter, fields_and_combinations)
{
	struct query_filter f;
	cst_record r;
	const char *h2 = "web2";

	rec(&r, m5424, "[2001:db8::1]:514");
	cr_assert(r.has_parsed);
	query_filter_init(&f);
	cr_assert(query_filter_match(&f, &r, NULL), "empty filter: all");
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_severity(&f, "err"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "<27>: daemon.err");
	cr_assert_eq(query_filter_facility(&f, "daemon,local0"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_add(&f.peers, &f.npeers, "2001:db8::1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "peer without port");
	cr_assert_eq(query_filter_add(&f.apps, &f.napps, "sshd"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "AND across kinds");
	query_filter_close(&f);

	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, h2), 0);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "OR within --host");
	query_filter_close(&f);

	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "warning..emerg"), 0);
	cr_assert_eq(f.sev_mask, 0x1fu);
	cr_assert_eq(query_filter_severity(&f, "debug"), 0);
	cr_assert_eq(f.sev_mask, 0x9fu);
	cr_assert_neq(query_filter_severity(&f, "loud"), 0);
	cr_assert_eq(query_filter_seq(&f, "40..42"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_seq(&f, "43.."), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	cr_assert_neq(query_filter_seq(&f, "9..3"), 0);
	query_filter_close(&f);
}

Test(query_filter, structured_data_with_escapes)
{
	struct query_filter f;
	cst_record r;

	rec(&r, m5424, "192.0.2.9:514");
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "exampleSDID@32473.eventSource="
	    "App\"li]c"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "RFC 5424 6.3.3 escapes");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "origin.ip=192.0.2.1"), 0);
	cr_assert_eq(query_filter_sd(&f, "exampleSDID@32473.iut"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "origin.ip=192.0.2"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "a prefix is not "
	    "equal");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "meta"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
}

Test(query_filter, text_and_regex_on_raw_bytes)
{
	struct query_filter f;
	pcre2_match_data *md;
	cst_record r;
	char err[300];
	static const char bin[] = "no pri here \xff\xfe timed out";

	rec(&r, bin, "192.0.2.9:514");
	cr_assert_not(r.has_parsed);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.greps, &f.ngreps, "timed out"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "unparsed is searched");
	cr_assert_eq(query_filter_regex(&f, "t[i]med\\s+out$", err,
	    sizeof(err)), 0);
	cr_assert_not_null(md = pcre2_match_data_create_from_pattern(f.re,
	    NULL));
	cr_assert(query_filter_match(&f, &r, md));
	cr_assert(query_filter_payload(&f, r.raw.p, r.raw.len));
	cr_assert_not(query_filter_payload(&f, (const uint8_t *)"abc", 3));
	pcre2_match_data_free(md);
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_neq(query_filter_regex(&f, "(", err, sizeof(err)), 0);
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "no host: no match");
	query_filter_close(&f);
}

Test(query_filter, kinds)
{
	struct query_filter f;
	cst_record r;

	rec(&r, m5424, "");
	query_filter_init(&f);
	cr_assert_eq(query_filter_kind(&f, "audit"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	r.kind = CST_REC_RECOVERY;
	cr_assert(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_kind(&f, "event,stop"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	cr_assert_neq(query_filter_kind(&f, "nonsense"), 0);
	query_filter_close(&f);
}

Test(query_out, text_escapes_control_bytes)
{
	cst_record r;
	cst_buf b;
	static const char evil[] = "<14>1 2024-06-01T12:00:00Z h a - - - "
	    "x\x1b]0;pwned\x07y\\z caf\xc3\xa9 \xc2\x9b bad\xff";

	rec(&r, evil, "192.0.2.9:514");
	cst_buf_init(&b);
	cr_assert_eq(query_out_record(&b, QUERY_TEXT, &r, 0), 0);
	cr_assert_eq(memchr(b.p, 0x1b, b.len), NULL, "no ESC reaches a tty");
	cr_assert_eq(memchr(b.p, 0x07, b.len), NULL);
	cr_assert_eq(memchr(b.p, 0xff, b.len), NULL);
	cr_assert_not_null(memmem(b.p, b.len, "x\\x1b]0;pwned\\x07y\\\\z "
	    "caf\xc3\xa9 \\xc2\\x9b bad\\xff\n", 45), "%.*s", (int)b.len,
	    (const char *)b.p);
	cst_buf_close(&b);
}

Test(query_out, json_raw_or_base64)
{
	cst_record r;
	cst_buf b;

	rec(&r, m5424, "[2001:db8::1]:514");
	cst_buf_init(&b);
	cr_assert_eq(query_out_record(&b, QUERY_JSON, &r, 7), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\"host\":\"web1\"", 13));
	cr_assert_not_null(memmem(b.p, b.len, "\"severity\":3", 12));
	cr_assert_not_null(memmem(b.p, b.len, "\"block\":7", 9));
	cr_assert_not_null(memmem(b.p, b.len, "\"raw\":\"<27>1", 12));
	cr_assert_null(memmem(b.p, b.len, "raw_base64", 10));
	b.len = 0;
	rec(&r, "\xff\x00", "");
	r.raw.len = 2;
	cr_assert_eq(query_out_record(&b, QUERY_JSON, &r, 7), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\"raw_base64\":\"/wA=\"", 19),
	    "%.*s", (int)b.len, (const char *)b.p);
	cr_assert_null(memmem(b.p, b.len, "\"raw\":", 6));
	cst_buf_close(&b);
}

/* An index written with one key is believed only under that key. */
Test(query_index, mac_stale_and_forged_entries)
{
	struct index_builder ib;
	struct index_entry e[2];
	struct index_seg *x;
	struct query_filter f;
	uint8_t key[INDEX_KEY_LEN], other[INDEX_KEY_LEN], chain[16], h0[32],
	    h1[32];
	char dir[] = "/tmp/custody-test-index-XXXXXX", path[256];
	cst_record r;
	FILE *fp;
	long len;
	int c;

	cr_assert(sodium_init() >= 0);
	cr_assert_not_null(mkdtemp(dir));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(chain, sizeof(chain));
	randombytes_buf(h0, sizeof(h0));
	randombytes_buf(h1, sizeof(h1));
	rec(&r, m5424, "[2001:db8::1]:514");
	index_builder_init(&ib, 10, h0);
	index_builder_add(&ib, &r);
	cr_assert_eq(index_builder_finish(&ib, &e[0]), 0);
	index_builder_init(&ib, 11, h1);
	cr_assert_eq(index_builder_finish(&ib, &e[1]), 0);
	cr_assert_eq(index_seg_save(dir, 3, chain, key, e, 2), 0);

	cr_assert_eq(index_seg_load(dir, 3, chain, key, &x), 0);
	cr_assert_not_null(index_seg_find(x, 10, h0));
	cr_assert_null(index_seg_find(x, 10, h1), "stale: hash differs");
	cr_assert_null(index_seg_find(x, 12, h0));
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	cr_assert_not(index_may_match(index_seg_find(x, 11, h1), &f));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "err"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.peers, &f.npeers, "2001:db8::1"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	index_seg_free(x);

	cr_assert_eq(index_seg_load(dir, 3, chain, other, &x), CST_ECORRUPT,
	    "another user's key: rebuilt, not believed");
	cr_assert_eq(index_seg_load(dir, 4, chain, key, &x), CST_ENOENT);

	/* Any changed byte (a forged entry hiding a block) is refused. */
	snprintf(path, sizeof(path), "%s/index/seg-0000000003.idx", dir);
	cr_assert_not_null(fp = fopen(path, "r+b"));
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 100, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, 100, SEEK_SET);
	fputc(c ^ 1, fp);
	fclose(fp);
	cr_assert_gt(len, 100);
	cr_assert_eq(index_seg_load(dir, 3, chain, key, &x), CST_ECORRUPT);

	index_entry_close(&e[0]);
	index_entry_close(&e[1]);
	unlink(path);
	snprintf(path, sizeof(path), "%s/index", dir);
	rmdir(path);
	rmdir(dir);
}
