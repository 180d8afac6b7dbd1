/*
 * check_store: reads a custody store with the format library and checks
 * that what custody-loadgen sent is in it exactly once, in order per
 * connection, with its raw bytes intact.
 *
 *   check_store [-m MANIFEST]... [--allow-loss | --prefix] [--dump]
 *               [-c CHECKPOINT] DIR
 *
 * Every record of every block is read (frames parsed, payloads opened and
 * checked by cst_block_open: R-BLK-4, R-BLK-5, R-BLK-7 within a block,
 * R-REC-1, R-REC-2), and the block chain is followed across segments
 * (R-SEG-2, R-BLK-6, R-BLK-7).  Signatures are custody-verify's job, not
 * this tool's.
 *
 * For each manifest (bench/msggen.h) the messages its generator accepted
 * into the kernel must each be present once (a message whose write failed
 * may or may not be), in increasing sequence order per connection, with
 * raw bytes equal to what the generator renders for (conn, seq), stored
 * with the manifest's transport, with no flag, and parsed as RFC 5424 with
 * the PRI, hostname, app, procid and msgid the message carries.
 *   --allow-loss  missing messages are counted but are no failure (UDP)
 *   --prefix      missing messages are allowed only after the last one
 *                 present on each connection (a crash cuts a tail, never
 *                 the middle of a connection's stream)
 *   --dump        prints each record as one JSON line on stdout (raw bytes
 *                 in hex) and the summary on stderr
 *   -c FILE       a checkpoint taken earlier (R-CKP-1, checked with the
 *                 store's keys/root.pub): the store must still hold its
 *                 head block with the same hash and record count (R-CKP-2)
 *
 * The summary is key=value lines: store, kinds, events, disk, one run line
 * per manifest, one audit line per collector record, and last
 * "result=ok" or "result=FAIL ...".  Exit 0 when every check passed, 1
 * when one failed, 2 when the store or a manifest could not be read.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"

#include "../../bench/msggen.h"

#define MAX_RUNS 16
#define MAX_REPORTS 5 /* examples printed of each kind of failure */

struct conn_state {
	int present;           /* listed in the manifest */
	uint64_t first;
	uint64_t sent;
	uint64_t attempted;
	uint8_t *seen;         /* one bit per attempted sequence number */
	uint64_t found;
	int has_last;
	uint64_t last;         /* greatest seq seen */
};

struct run {
	const char *path;
	struct msggen_manifest m;
	struct msggen g;
	uint8_t transport;     /* enum cst_transport */
	struct conn_state *conns;
	unsigned nconns;       /* 1 + greatest conn id */
	uint8_t *scratch;      /* g.maxlen bytes */
	uint64_t found, duplicate, disorder, mismatch, unexpected;
	uint64_t wrong_transport, flagged, unparsed, misparsed;
	uint64_t expected, missing, unsure, holes;
	unsigned reports;
};

struct check {
	struct run runs[MAX_RUNS];
	unsigned nruns;
	int allow_loss;
	int prefix;
	FILE *dump;            /* NULL: no dump */
	FILE *out;             /* summary */
	uint64_t segments, blocks, seal_blocks, records, seg_bytes;
	uint64_t tail_partial, corrupt, chain_breaks;
	uint64_t kinds[CST_REC_KIND_MAX + 1];
	uint64_t events, raw_bytes, parse_failed, ev_flagged;
	uint64_t tagged, untagged, foreign;
	int have_chain;
	uint64_t next_block, next_seq, next_segment;
	uint8_t prev_hash[CST_HASH_LEN];
	unsigned reports;
	int have_ckp;
	cst_checkpoint ckp;
	int ckp_found;         /* the store holds block ckp.blocks - 1 */
	int ckp_match;         /* with the checkpoint's hash and count */
};

static void
report(unsigned *count, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report(unsigned *count, const char *fmt, ...)
{
	va_list ap;

	if ((*count)++ >= MAX_REPORTS)
		return;
	fprintf(stderr, "check_store: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Prints s[0..len) as the inside of a JSON string. */
static void
json_str(FILE *f, const uint8_t *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			fprintf(f, "\\u%04x", s[i]);
		else
			fputc(s[i], f);
	}
}

static void
hex_out(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

/*
 * Prints the detail map detail[0..len) as JSON (json) or as key=value
 * pairs.  Malformed maps print as null: cst_block_open has already
 * checked them (R-REC-2), so this cannot happen for an opened record.
 */
static void
detail_out(FILE *f, const uint8_t *detail, size_t len, int json)
{
	msgpack_unpacked u;
	msgpack_object_kv *kv;
	msgpack_object *v;
	size_t off = 0;
	uint32_t i;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)detail, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_MAP) {
		fprintf(f, json ? "null" : " detail=?");
		goto done;
	}
	if (json)
		fputc('{', f);
	for (i = 0; i < u.data.via.map.size; i++) {
		kv = &u.data.via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		v = &kv->val;
		if (json) {
			fprintf(f, "%s\"", i > 0 ? "," : "");
			json_str(f, (const uint8_t *)kv->key.via.str.ptr,
			    kv->key.via.str.size);
			fprintf(f, "\":");
		} else {
			fputc(' ', f);
			fwrite(kv->key.via.str.ptr, 1, kv->key.via.str.size, f);
			fputc('=', f);
		}
		switch (v->type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
			fprintf(f, "%" PRIu64, v->via.u64);
			break;
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			fprintf(f, "%" PRId64, v->via.i64);
			break;
		case MSGPACK_OBJECT_BOOLEAN:
			fprintf(f, "%s", v->via.boolean ? "true" : "false");
			break;
		case MSGPACK_OBJECT_STR:
			if (json)
				fputc('"', f);
			json_str(f, (const uint8_t *)v->via.str.ptr,
			    v->via.str.size);
			if (json)
				fputc('"', f);
			break;
		case MSGPACK_OBJECT_BIN:
			if (json)
				fputc('"', f);
			hex_out(f, (const uint8_t *)v->via.bin.ptr,
			    v->via.bin.size);
			if (json)
				fputc('"', f);
			break;
		default:
			fprintf(f, "null");
			break;
		}
	}
	if (json)
		fputc('}', f);
done:
	msgpack_unpacked_destroy(&u);
}

static void
span_json(FILE *f, const char *name, cst_span s)
{

	fprintf(f, ",\"%s\":[%" PRIu32 ",%" PRIu32 "]", name, s.off, s.len);
}

static void
dump_record(FILE *f, const cst_record *r)
{

	fprintf(f, "{\"seq\":%" PRIu64 ",\"kind\":%u,\"recv_ns\":%" PRId64
	    ",\"transport\":%u,\"flags\":%" PRIu32 ",\"listener\":\"",
	    r->seq, r->kind, r->recv_ns, r->transport, r->flags);
	json_str(f, r->listener.p, r->listener.len);
	fprintf(f, "\",\"peer\":\"");
	json_str(f, r->peer.p, r->peer.len);
	fprintf(f, "\",\"tls_peer\":");
	if (r->tls_peer.p == NULL) {
		fprintf(f, "null");
	} else {
		fputc('"', f);
		json_str(f, r->tls_peer.p, r->tls_peer.len);
		fputc('"', f);
	}
	fprintf(f, ",\"raw_hex\":\"");
	hex_out(f, r->raw.p, r->raw.len);
	fprintf(f, "\",\"parsed\":");
	if (!r->has_parsed) {
		fprintf(f, "null");
	} else {
		fprintf(f, "{\"format\":%u,\"facility\":%d,\"severity\":%d,"
		    "\"ts_ns\":", r->parsed.format, r->parsed.facility,
		    r->parsed.severity);
		if (r->parsed.ts_ns == CST_TS_NONE)
			fprintf(f, "null");
		else
			fprintf(f, "%" PRId64, r->parsed.ts_ns);
		span_json(f, "timestamp", r->parsed.timestamp);
		span_json(f, "hostname", r->parsed.hostname);
		span_json(f, "app", r->parsed.app);
		span_json(f, "procid", r->parsed.procid);
		span_json(f, "msgid", r->parsed.msgid);
		span_json(f, "sd", r->parsed.sd);
		span_json(f, "msg", r->parsed.msg);
		fputc('}', f);
	}
	fprintf(f, ",\"detail\":");
	if (r->detail.p == NULL)
		fprintf(f, "null");
	else
		detail_out(f, r->detail.p, r->detail.len, 1);
	fprintf(f, "}\n");
}

/*
 * Compares field span s of raw with token tok[0..toklen) of the rendered
 * message, where "-" means absent.  Returns nonzero on a difference.
 */
static int
span_differs(const uint8_t *raw, cst_span s, const uint8_t *tok,
    size_t toklen)
{

	if (toklen == 1 && tok[0] == '-')
		return (s.len != 0);
	return (s.len != toklen || memcmp(raw + s.off, tok, toklen) != 0);
}

/*
 * Checks the parsed header of a generated message against its text:
 * "<PRI>1 TS HOST APP PROCID MSGID ...".  Returns nonzero on a difference.
 */
static int
header_differs(const cst_record *r)
{
	const uint8_t *p = r->raw.p, *end = r->raw.p + r->raw.len;
	const uint8_t *tok[6];
	size_t toklen[6], i;
	unsigned pri = 0;

	for (i = 0; i < 6; i++) {
		tok[i] = p;
		while (p < end && *p != ' ')
			p++;
		toklen[i] = (size_t)(p - tok[i]);
		if (p < end)
			p++;
	}
	for (i = 1; i < toklen[0] && tok[0][i] != '>'; i++)
		pri = pri * 10 + (unsigned)(tok[0][i] - '0');
	if (r->parsed.facility != (int)(pri / 8) ||
	    r->parsed.severity != (int)(pri % 8))
		return (1);
	return (span_differs(r->raw.p, r->parsed.hostname, tok[2], toklen[2]) ||
	    span_differs(r->raw.p, r->parsed.app, tok[3], toklen[3]) ||
	    span_differs(r->raw.p, r->parsed.procid, tok[4], toklen[4]) ||
	    span_differs(r->raw.p, r->parsed.msgid, tok[5], toklen[5]));
}

/* Prints where raw differs from what the generator rendered. */
static void
show_mismatch(const uint8_t *raw, size_t rawlen, const uint8_t *want,
    size_t wantlen)
{
	size_t i, n;

	n = rawlen < wantlen ? rawlen : wantlen;
	for (i = 0; i < n && raw[i] == want[i]; i++)
		;
	fprintf(stderr, "check_store:   first difference at byte %zu "
	    "(stored %zu bytes, sent %zu)\n  stored: \"", i, rawlen, wantlen);
	json_str(stderr, raw, rawlen);
	fprintf(stderr, "\"\n  sent:   \"");
	json_str(stderr, want, wantlen);
	fprintf(stderr, "\"\n");
}

static void
check_event(struct check *ck, const cst_record *r)
{
	const uint8_t *gen;
	size_t genlen, wantlen;
	struct conn_state *cs;
	struct run *run = NULL;
	uint64_t seq, bit;
	unsigned conn, i;

	if (msggen_parse_tag(r->raw.p, r->raw.len, &gen, &genlen, &conn,
	    &seq) != 0) {
		ck->untagged++;
		return;
	}
	ck->tagged++;
	for (i = 0; i < ck->nruns; i++) {
		if (strlen(ck->runs[i].m.gen) == genlen &&
		    memcmp(ck->runs[i].m.gen, gen, genlen) == 0) {
			run = &ck->runs[i];
			break;
		}
	}
	if (run == NULL) {
		ck->foreign++;
		return;
	}
	if (conn >= run->nconns || !run->conns[conn].present ||
	    seq < run->conns[conn].first ||
	    seq - run->conns[conn].first >= run->conns[conn].attempted) {
		run->unexpected++;
		report(&run->reports, "%s: record %" PRIu64 " carries conn "
		    "%u seq %" PRIu64 ", which was never sent", run->path,
		    r->seq, conn, seq);
		return;
	}
	cs = &run->conns[conn];
	bit = seq - cs->first;
	if (cs->seen[bit / 8] & (1u << (bit % 8))) {
		run->duplicate++;
		report(&run->reports, "%s: conn %u seq %" PRIu64 " stored "
		    "again as record %" PRIu64, run->path, conn, seq, r->seq);
		return;
	}
	cs->seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
	cs->found++;
	run->found++;
	if (cs->has_last && seq < cs->last) {
		run->disorder++;
		report(&run->reports, "%s: conn %u seq %" PRIu64 " (record %"
		    PRIu64 ") stored after seq %" PRIu64, run->path, conn, seq,
		    r->seq, cs->last);
	} else {
		cs->last = seq;
		cs->has_last = 1;
	}
	wantlen = msggen_render(&run->g, conn, seq, run->scratch);
	if (wantlen != r->raw.len ||
	    memcmp(run->scratch, r->raw.p, wantlen) != 0) {
		run->mismatch++;
		if (run->reports < MAX_REPORTS) {
			report(&run->reports, "%s: conn %u seq %" PRIu64
			    " (record %" PRIu64 "): raw bytes differ", run->path,
			    conn, seq, r->seq);
			show_mismatch(r->raw.p, r->raw.len, run->scratch,
			    wantlen);
		}
		return;
	}
	if (r->transport != run->transport)
		run->wrong_transport++;
	if (r->flags != 0)
		run->flagged++;
	if (!r->has_parsed || r->parsed.format != CST_SYSLOG_RFC5424) {
		run->unparsed++;
		report(&run->reports, "%s: conn %u seq %" PRIu64 " (record %"
		    PRIu64 ") did not parse as RFC 5424", run->path, conn, seq,
		    r->seq);
	} else if (header_differs(r)) {
		run->misparsed++;
		report(&run->reports, "%s: conn %u seq %" PRIu64 " (record %"
		    PRIu64 "): parsed header fields differ from the text",
		    run->path, conn, seq, r->seq);
	}
}

static void
check_record(struct check *ck, const cst_record *r)
{

	ck->records++;
	ck->kinds[r->kind]++;
	if (ck->dump != NULL)
		dump_record(ck->dump, r);
	if (r->kind != CST_REC_EVENT) {
		fprintf(ck->out, "audit seq=%" PRIu64 " kind=%s recv_ns=%" PRId64,
		    r->seq, cst_record_kind_name(r->kind), r->recv_ns);
		if (r->detail.p != NULL)
			detail_out(ck->out, r->detail.p, r->detail.len, 0);
		fputc('\n', ck->out);
		return;
	}
	ck->events++;
	ck->raw_bytes += r->raw.len;
	if (r->flags & CST_RF_PARSE_FAILED)
		ck->parse_failed++;
	if (r->flags != 0)
		ck->ev_flagged++;
	check_event(ck, r);
}

/* Checks f's place in the chain (R-BLK-6, R-BLK-7) and advances it. */
static void
check_chain(struct check *ck, const char *name, size_t off,
    const cst_frame *f, uint64_t segment_no)
{
	const cst_blk_hdr *h = &f->hdr;

	if (!ck->have_chain) {
		if (h->block_no != 0 || h->first_seq != 0) {
			ck->chain_breaks++;
			report(&ck->reports, "%s@%zu: the first block is "
			    "block %" PRIu64 ", seq %" PRIu64, name, off,
			    h->block_no, h->first_seq);
		}
	} else if (h->block_no != ck->next_block ||
	    h->first_seq != ck->next_seq ||
	    memcmp(h->prev_hash, ck->prev_hash, CST_HASH_LEN) != 0 ||
	    h->segment_no != segment_no) {
		ck->chain_breaks++;
		report(&ck->reports, "%s@%zu: block %" PRIu64 " seq %"
		    PRIu64 " does not follow block %" PRIu64 " seq %" PRIu64,
		    name, off, h->block_no, h->first_seq, ck->next_block,
		    ck->next_seq);
	}
	if (ck->have_ckp && ck->ckp.blocks > 0 &&
	    h->block_no == ck->ckp.blocks - 1) {
		ck->ckp_found = 1;
		ck->ckp_match = memcmp(f->block_hash, ck->ckp.head,
		    CST_HASH_LEN) == 0 &&
		    h->first_seq + h->record_count == ck->ckp.records;
	}
	ck->have_chain = 1;
	ck->next_block = h->block_no + 1;
	ck->next_seq = h->first_seq + h->record_count;
	memcpy(ck->prev_hash, f->block_hash, CST_HASH_LEN);
}

/*
 * Reads one segment file.  A partial frame at the end is noted (the newest
 * segment of a running or crashed collector may have one); anything else
 * that does not parse or open is corruption and ends the file.  Returns 0,
 * or -1 when the file cannot be read at all.
 */
static int
read_segment(struct check *ck, cst_opener *o, const char *path,
    const char *name, int newest)
{
	cst_map map;
	cst_seg_hdr sh;
	cst_frame f;
	cst_record rec;
	const char *rule;
	size_t off, i, n;
	int rc;

	if ((rc = cst_map_open(path, &map)) != 0) {
		fprintf(stderr, "check_store: %s: %s\n", path,
		    cst_strerror(rc));
		return (-1);
	}
	ck->segments++;
	ck->seg_bytes += map.len;
	if ((rc = cst_seg_hdr_decode(map.p, map.len, &sh)) != 0) {
		ck->corrupt++;
		report(&ck->reports, "%s: header: %s (R-SEG-1)", name,
		    cst_strerror(rc));
		goto done;
	}
	if (sh.segment_no != ck->next_segment) {
		ck->chain_breaks++;
		report(&ck->reports, "%s: segment_no %" PRIu64 ", expected %"
		    PRIu64 " (R-SEG-2)", name, sh.segment_no, ck->next_segment);
	}
	ck->next_segment = sh.segment_no + 1;
	for (off = CST_SEG_HDR_LEN; off < map.len; off += f.frame_len) {
		rc = cst_frame_parse(map.p + off, map.len - off, &f);
		if (rc == CST_ETRUNC && newest) {
			ck->tail_partial++;
			break;
		}
		if (rc != 0) {
			ck->corrupt++;
			report(&ck->reports, "%s@%zu: frame: %s", name, off,
			    cst_strerror(rc));
			break;
		}
		ck->blocks++;
		if (f.hdr.type == CST_BLOCK_SEAL)
			ck->seal_blocks++;
		check_chain(ck, name, off, &f, sh.segment_no);
		if ((rc = cst_block_open(o, &f, &rule)) != 0) {
			ck->corrupt++;
			report(&ck->reports, "%s@%zu: block %" PRIu64 ": %s "
			    "(%s)", name, off, f.hdr.block_no, cst_strerror(rc),
			    rule != NULL ? rule : "-");
			continue;
		}
		n = cst_opener_count(o);
		for (i = 0; i < n; i++) {
			if (cst_opener_record(o, i, &rec, NULL) != 0)
				break;
			check_record(ck, &rec);
		}
	}
done:
	cst_map_close(&map);
	return (0);
}

static int
seg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Reads every segment of dir in order of number.  Returns 0 or -1. */
static int
read_store(struct check *ck, const char *dir)
{
	char path[4096], name[32];
	uint64_t *nums = NULL, n;
	cst_opener *o = NULL;
	size_t count = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	void *p;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/segments", dir);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "check_store: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 18 ||
		    sscanf(de->d_name, "seg-%10" SCNu64 ".cst", &n) != 1)
			continue;
		cst_segment_name(n, name);
		if (strcmp(name, de->d_name) != 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			if ((p = realloc(nums, cap * sizeof(*nums))) == NULL)
				goto err1;
			nums = p;
		}
		nums[count++] = n;
	}
	qsort(nums, count, sizeof(*nums), seg_cmp);
	if ((o = cst_opener_new()) == NULL)
		goto err1;
	for (i = 0; i < count; i++) {
		cst_segment_name(nums[i], name);
		snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
		if (read_segment(ck, o, path, name, i + 1 == count) != 0)
			goto err1;
	}
	rc = 0;
err1:
	cst_opener_free(o);
	free(nums);
	closedir(d);
	return (rc);
}

static const char *
transport_name(uint8_t t)
{
	static const char *const names[] = {
		"internal", "udp", "tcp", "tls", "relp", "unix",
	};

	return (t <= CST_TR_MAX ? names[t] : "?");
}

static int
add_run(struct check *ck, const char *path)
{
	struct run *run;
	size_t i;
	unsigned c;

	if (ck->nruns == MAX_RUNS) {
		fprintf(stderr, "check_store: at most %d manifests\n", MAX_RUNS);
		return (-1);
	}
	run = &ck->runs[ck->nruns];
	memset(run, 0, sizeof(*run));
	run->path = path;
	if (msggen_manifest_read(path, &run->m) != 0) {
		fprintf(stderr, "check_store: %s: not a readable manifest\n",
		    path);
		return (-1);
	}
	ck->nruns++;
	if (strcmp(run->m.transport, "tcp") == 0)
		run->transport = CST_TR_TCP;
	else if (strcmp(run->m.transport, "udp") == 0)
		run->transport = CST_TR_UDP;
	else if (strcmp(run->m.transport, "unix") == 0)
		run->transport = CST_TR_UNIX;
	else if (strcmp(run->m.transport, "relp") == 0)
		run->transport = CST_TR_RELP;
	else if (strcmp(run->m.transport, "tls") == 0)
		run->transport = CST_TR_TLS;
	else
		goto bad;
	if (msggen_init(&run->g, run->m.gen, run->m.size, run->m.base_s) != 0)
		goto bad;
	if ((run->scratch = malloc(run->g.maxlen)) == NULL)
		goto bad;
	for (i = 0; i < run->m.nconns; i++) {
		if (run->m.conns[i].conn >= run->nconns)
			run->nconns = run->m.conns[i].conn + 1;
	}
	if (run->nconns > 0 &&
	    (run->conns = calloc(run->nconns, sizeof(*run->conns))) == NULL)
		goto bad;
	for (i = 0; i < run->m.nconns; i++) {
		c = run->m.conns[i].conn;
		if (run->conns[c].present)
			goto bad;
		run->conns[c].present = 1;
		run->conns[c].first = run->m.conns[i].first;
		run->conns[c].sent = run->m.conns[i].sent;
		run->conns[c].attempted = run->m.conns[i].attempted;
		run->conns[c].seen = calloc(run->m.conns[i].attempted / 8 + 1,
		    1);
		if (run->conns[c].seen == NULL)
			goto bad;
	}
	return (0);

bad:
	fprintf(stderr, "check_store: %s: bad manifest or no memory\n", path);
	return (-1);
}

static void
free_runs(struct check *ck)
{
	unsigned i, c;

	for (i = 0; i < ck->nruns; i++) {
		for (c = 0; c < ck->runs[i].nconns; c++)
			free(ck->runs[i].conns[c].seen);
		free(ck->runs[i].conns);
		free(ck->runs[i].scratch);
		msggen_close(&ck->runs[i].g);
		msggen_manifest_close(&ck->runs[i].m);
	}
}

/*
 * Counts what is missing of each connection's stream and whether what is
 * present is a prefix of it.  Returns nonzero when the run failed.
 */
static int
finish_run(struct check *ck, struct run *run)
{
	struct conn_state *cs;
	uint64_t s, hi;
	unsigned c;
	int bad;

	for (c = 0; c < run->nconns; c++) {
		cs = &run->conns[c];
		if (!cs->present)
			continue;
		run->expected += cs->sent;
		run->unsure += cs->attempted - cs->sent;
		for (s = 0; s < cs->sent; s++) {
			if (!(cs->seen[s / 8] & (1u << (s % 8)))) {
				if (run->missing++ < MAX_REPORTS)
					fprintf(stderr, "check_store: %s: conn "
					    "%u seq %" PRIu64 " missing\n",
					    run->path, c, cs->first + s);
			}
		}
		/* A prefix: nothing missing below the greatest seq present. */
		hi = cs->has_last ? cs->last - cs->first + 1 : 0;
		if (cs->found < hi)
			run->holes += hi - cs->found;
	}
	fprintf(ck->out, "run manifest=%s gen=%s transport=%s conns=%zu "
	    "expected=%" PRIu64 " found=%" PRIu64 " missing=%" PRIu64
	    " unsure=%" PRIu64 " holes=%" PRIu64 " duplicate=%" PRIu64
	    " disorder=%" PRIu64 " mismatch=%" PRIu64 " unexpected=%" PRIu64
	    " wrong_transport=%" PRIu64 " flagged=%" PRIu64 " unparsed=%"
	    PRIu64 " misparsed=%" PRIu64 "\n", run->path, run->m.gen,
	    transport_name(run->transport), run->m.nconns, run->expected,
	    run->found, run->missing, run->unsure, run->holes, run->duplicate,
	    run->disorder, run->mismatch, run->unexpected,
	    run->wrong_transport, run->flagged, run->unparsed,
	    run->misparsed);
	bad = run->duplicate || run->disorder || run->mismatch ||
	    run->unexpected || run->wrong_transport || run->flagged ||
	    run->unparsed || run->misparsed;
	if (ck->prefix)
		bad = bad || run->holes;
	else if (!ck->allow_loss)
		bad = bad || run->missing;
	return (bad);
}

/*
 * Reads the checkpoint at path and checks its signature with dir's root
 * public key (R-CKP-1).  Returns 0 or -1 (after saying why).
 */
static int
load_checkpoint(struct check *ck, const char *path, const char *dir)
{
	char pub[4096];
	cst_root_pub root;
	cst_map map;
	int rc;

	if ((rc = cst_map_open(path, &map)) != 0) {
		fprintf(stderr, "check_store: %s: %s\n", path, cst_strerror(rc));
		return (-1);
	}
	rc = cst_checkpoint_decode((const char *)map.p, map.len, &ck->ckp);
	cst_map_close(&map);
	if (rc != 0) {
		fprintf(stderr, "check_store: %s: %s\n", path, cst_strerror(rc));
		return (-1);
	}
	ck->have_ckp = 1;
	snprintf(pub, sizeof(pub), "%s/keys/root.pub", dir);
	if ((rc = cst_root_pub_load(pub, &root)) != 0 ||
	    (rc = cst_checkpoint_verify(&ck->ckp, &root)) != 0) {
		fprintf(stderr, "check_store: %s: %s (R-CKP-1)\n", path,
		    cst_strerror(rc));
		return (-1);
	}
	return (0);
}

static void
usage(void)
{

	fprintf(stderr, "usage: check_store [-m MANIFEST]... "
	    "[--allow-loss | --prefix] [--dump]\n"
	    "                   [-c CHECKPOINT] DIR\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "allow-loss", no_argument, NULL, 'l' },
		{ "prefix", no_argument, NULL, 'p' },
		{ "dump", no_argument, NULL, 'd' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check *ck;
	const char *ckp_path = NULL;
	unsigned i, k;
	int ch, failed = 0, status = 2;

	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return (2);
	ck->out = stdout;
	while ((ch = getopt_long(argc, argv, "m:lpdc:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (add_run(ck, optarg) != 0)
				goto out;
			break;
		case 'l':
			ck->allow_loss = 1;
			break;
		case 'p':
			ck->prefix = 1;
			break;
		case 'd':
			ck->dump = stdout;
			ck->out = stderr;
			break;
		case 'c':
			ckp_path = optarg;
			break;
		case 'h':
			usage();
			status = 0;
			goto out;
		default:
			usage();
			goto out;
		}
	}
	if (optind + 1 != argc || (ck->allow_loss && ck->prefix)) {
		usage();
		goto out;
	}
	if (ckp_path != NULL &&
	    load_checkpoint(ck, ckp_path, argv[optind]) != 0)
		goto out;
	if (read_store(ck, argv[optind]) != 0)
		goto out;

	fprintf(ck->out, "store dir=%s segments=%" PRIu64 " blocks=%" PRIu64
	    " seal_blocks=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
	    " tail_partial=%" PRIu64 " corrupt=%" PRIu64 " chain_breaks=%"
	    PRIu64 "\n", argv[optind], ck->segments, ck->blocks,
	    ck->seal_blocks, ck->records, ck->seg_bytes, ck->tail_partial,
	    ck->corrupt, ck->chain_breaks);
	fprintf(ck->out, "kinds");
	for (k = 0; k <= CST_REC_KIND_MAX; k++)
		fprintf(ck->out, " %s=%" PRIu64,
		    cst_record_kind_name((unsigned)k), ck->kinds[k]);
	fprintf(ck->out, "\nevents total=%" PRIu64 " raw_bytes=%" PRIu64
	    " parse_failed=%" PRIu64 " flagged=%" PRIu64 " tagged=%" PRIu64
	    " untagged=%" PRIu64 " foreign=%" PRIu64 "\n", ck->events,
	    ck->raw_bytes, ck->parse_failed, ck->ev_flagged, ck->tagged,
	    ck->untagged, ck->foreign);
	fprintf(ck->out, "disk bytes_per_event=%.1f ratio_to_raw=%.3f\n",
	    ck->events ? (double)ck->seg_bytes / (double)ck->events : 0,
	    ck->raw_bytes ? (double)ck->seg_bytes / (double)ck->raw_bytes : 0);
	for (i = 0; i < ck->nruns; i++)
		failed |= finish_run(ck, &ck->runs[i]);
	if (ck->have_ckp) {
		fprintf(ck->out, "checkpoint blocks=%" PRIu64 " records=%" PRIu64
		    " found=%d match=%d\n", ck->ckp.blocks, ck->ckp.records,
		    ck->ckp_found, ck->ckp_match);
		if (!ck->ckp_match)
			failed = 1;
	}
	if (ck->corrupt || ck->chain_breaks)
		failed = 1;
	fprintf(ck->out, "result=%s\n", failed ? "FAIL" : "ok");
	status = failed ? 1 : 0;
out:
	free_runs(ck);
	cst_checkpoint_close(&ck->ckp);
	free(ck);
	return (status);
}
