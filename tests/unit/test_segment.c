/*
 * Segment files (SPEC sections 3 and 9): the writer appends and never
 * rewrites; the recovery scan finds exactly the valid prefix, whatever the
 * tail looks like (R-REC-5): torn at any byte, altered, or foreign.
 *
 * Also writes the fuzz corpus of tests/fuzz/fuzz_block.c when
 * CUSTODY_GEN_CORPUS names a directory:
 *
 *	CUSTODY_GEN_CORPUS=tests/fuzz/corpus/block \
 *	    build/tests/unit/test_segment --filter 'segment/fuzz_corpus'
 *
 * and checks, when CUSTODY_SOURCE_DIR is set, that the committed corpus
 * still holds a segment the fuzz target's key verifies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"

#include "testsign.h"
#include "testutil.h"

#define NOW_NS INT64_C(1795347000123456789)
#define MAX_FRAMES 32
#define RECS_PER_BLOCK 4

/*
 * The fuzz target's key (tests/fuzz/fuzz_block.c has the same): root seed
 * 32 x 0x11, chain id 16 x 0x22, epoch 1 seed 32 x 0x33, epoch 2 seed
 * 32 x 0x44 taking over at block 3, all made at NOW_NS.
 */
#define FUZZ_EPOCH2_FROM 3

struct keys {
	cst_root_key *root;
	cst_epoch_key *e[2];
};

static void
keys_make(struct keys *k)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];

	cr_assert(sodium_init() >= 0);
	memset(chain, 0x22, sizeof(chain));
	memset(seed, 0x11, sizeof(seed));
	cr_assert_eq(cst_root_key_from_seed(chain, seed, &k->root), 0);
	memset(seed, 0x33, sizeof(seed));
	cr_assert_eq(cst_epoch_key_first_from_seed(k->root, seed, NOW_NS,
	    &k->e[0]), 0);
	memset(seed, 0x44, sizeof(seed));
	cr_assert_eq(cst_epoch_key_next_from_seed(k->e[0], seed,
	    FUZZ_EPOCH2_FROM, NOW_NS, &k->e[1]), 0);
}

static void
keys_free(struct keys *k)
{

	cst_epoch_key_free(k->e[0]);
	cst_epoch_key_free(k->e[1]);
	cst_root_key_free(k->root);
}

/* The key that signs block b. */
static const cst_epoch_key *
key_for(const struct keys *k, uint64_t b)
{

	return (b >= FUZZ_EPOCH2_FROM ? k->e[1] : k->e[0]);
}

/* A segment built in memory, with where each frame starts. */
struct seg {
	cst_buf buf;
	size_t start[MAX_FRAMES + 1]; /* start[nframes] is the end */
	size_t nframes;
	uint8_t hash[MAX_FRAMES][CST_HASH_LEN];
};

static uint8_t raws[RECS_PER_BLOCK][64];

/* Seals one data block of RECS_PER_BLOCK events, or a seal, into s. */
static void
add_block(cst_sealer *sealer, const struct keys *k, cst_chain_state *st,
    int seal_block, struct seg *s)
{
	cst_record recs[RECS_PER_BLOCK];
	cst_draft d;
	size_t i;
	int len;

	cr_assert(s->nframes < MAX_FRAMES);
	cst_draft_init(&d);
	if (seal_block) {
		cr_assert_eq(cst_draft_build_seal(&d, st->next_seq, NOW_NS), 0);
	} else {
		for (i = 0; i < RECS_PER_BLOCK; i++) {
			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].seq = st->next_seq + i;
			recs[i].recv_ns = NOW_NS + (int64_t)i;
			recs[i].transport = CST_TR_UDP;
			len = snprintf((char *)raws[i], sizeof(raws[i]),
			    "<13>Nov 22 11:30:00 host app: event %zu",
			    (size_t)recs[i].seq);
			recs[i].raw.p = raws[i];
			recs[i].raw.len = (size_t)len;
			recs[i].listener.p = (const uint8_t *)"udp";
			recs[i].listener.len = 3;
			recs[i].peer.p = (const uint8_t *)"192.0.2.1:514";
			recs[i].peer.len = 13;
		}
		cr_assert_eq(cst_sealer_build(sealer, recs, RECS_PER_BLOCK,
		    &d), 0);
	}
	cr_assert_eq(cst_block_finish(&d, st, key_for(k, st->next_block_no),
	    NOW_NS, &s->buf, s->hash[s->nframes]), 0);
	s->nframes++;
	s->start[s->nframes] = s->buf.len;
	cst_draft_close(&d);
}

/*
 * Builds segment segment_no continuing st: a header, nblocks data blocks
 * and, when sealed, a seal block.
 */
static void
build_segment(const struct keys *k, cst_chain_state *st,
    uint64_t segment_no, size_t nblocks, int sealed, struct seg *s)
{
	cst_seg_hdr h;
	cst_sealer *sealer;
	size_t i;

	st->segment_no = segment_no;
	cst_chain_seg_hdr(st, NOW_NS, &h);

	cst_buf_init(&s->buf);
	cr_assert_eq(cst_buf_reserve(&s->buf, CST_SEG_HDR_LEN), 0);
	cst_seg_hdr_encode(&h, s->buf.p);
	s->buf.len = CST_SEG_HDR_LEN;
	s->nframes = 0;
	s->start[0] = CST_SEG_HDR_LEN;
	cr_assert_not_null(sealer = cst_sealer_new(1));
	for (i = 0; i < nblocks; i++)
		add_block(sealer, k, st, 0, s);
	if (sealed)
		add_block(sealer, k, st, 1, s);
	cst_sealer_free(sealer);
}

static void
state_init(cst_chain_state *st, const struct keys *k)
{

	memset(st, 0, sizeof(*st));
	memcpy(st->chain_id, k->root->pub.chain_id, CST_CHAIN_ID_LEN);
}

/* Scans s[0..len) with the newest key; the scan must not fail. */
static void
scan(const struct keys *k, const uint8_t *p, size_t len, cst_scan *out)
{

	cr_assert_eq(cst_segment_scan(p, len, k->e[1], out), 0);
}

static char dir[64];

static void
setup(void)
{

	test_tmpdir(dir, sizeof(dir), "test_segment");
}

static void
teardown(void)
{
	test_rm_tree(dir);
}

TestSuite(segment, .init = setup, .fini = teardown);

Test(segment, name)
{
	char name[32];

	cst_segment_name(42, name);
	cr_assert_str_eq(name, "seg-0000000042.cst");
	cst_segment_name(0, name);
	cr_assert_str_eq(name, "seg-0000000000.cst");
	cst_segment_name(UINT64_MAX, name);
	cr_assert_str_eq(name, "seg-18446744073709551615.cst");
}

Test(segment, write_then_scan_round_trip)
{
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_seg_hdr h;
	cst_segw *w;
	cst_map m;
	cst_scan sc;
	struct stat sb;
	char path[128];
	size_t i;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 5, 1, &s);
	snprintf(path, sizeof(path), "%s/seg-0000000000.cst", dir);

	umask(022);
	cr_assert_eq(cst_seg_hdr_decode(s.buf.p, s.buf.len, &h), 0);
	cr_assert_eq(cst_segw_create(path, &h, &w), 0);
	cr_assert_eq(cst_segw_size(w), CST_SEG_HDR_LEN);
	for (i = 0; i < s.nframes; i++)
		cr_assert_eq(cst_segw_append(w, s.buf.p + s.start[i],
		    s.start[i + 1] - s.start[i]), 0);
	cr_assert_eq(cst_segw_sync(w), 0);
	cr_assert_eq(cst_segw_size(w), s.buf.len);
	cr_assert_eq(cst_segw_close(w), 0);
	cr_assert_eq(cst_segw_close(NULL), 0);
	cr_assert(stat(path, &sb) == 0);
	cr_assert_eq(sb.st_mode & 0777, 0640);

	cr_assert_eq(cst_map_open(path, &m), 0);
	cr_assert_eq(m.len, s.buf.len);
	cr_assert_arr_eq(m.p, s.buf.p, m.len);
	scan(&k, m.p, m.len, &sc);
	cr_assert_eq(sc.valid_len, m.len);
	cr_assert_eq(sc.blocks, 6);
	cr_assert(sc.sealed);
	cr_assert_eq(sc.next_seq, 5 * RECS_PER_BLOCK);
	cr_assert_eq(sc.epoch, 2);
	cr_assert_arr_eq(sc.last.block_hash, s.hash[5], CST_HASH_LEN);
	cr_assert_eq(sc.last.hdr.type, CST_BLOCK_SEAL);
	cr_assert_eq(sc.hdr.segment_no, 0);
	cst_map_close(&m);
	cst_map_close(&m);

	/* A segment is created once. */
	cr_assert_eq(cst_segw_create(path, &h, &w), CST_EEXIST);
	cr_assert_eq(cst_map_open(path, &m), 0);
	cr_assert_eq(m.len, s.buf.len);
	cst_map_close(&m);
	cst_buf_close(&s.buf);
	keys_free(&k);
}

Test(segment, reopen_appends_only_at_valid_len)
{
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_seg_hdr h;
	cst_segw *w;
	cst_map m;
	cst_scan sc;
	char path[128];
	size_t cut;
	int fd;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 4, 1, &s);
	snprintf(path, sizeof(path), "%s/seg.cst", dir);
	cr_assert_eq(cst_seg_hdr_decode(s.buf.p, s.buf.len, &h), 0);
	cr_assert_eq(cst_segw_create(path, &h, &w), 0);
	/* Three blocks, then the fourth torn. */
	cut = s.start[3] + 100;
	cr_assert_eq(cst_segw_append(w, s.buf.p + CST_SEG_HDR_LEN,
	    cut - CST_SEG_HDR_LEN), 0);
	cr_assert_eq(cst_segw_close(w), 0);

	cr_assert_eq(cst_map_open(path, &m), 0);
	scan(&k, m.p, m.len, &sc);
	cr_assert_eq(sc.valid_len, s.start[3]);
	cst_map_close(&m);

	/* Not cut yet: refused, never overwritten. */
	cr_assert_eq(cst_segw_open(path, sc.valid_len, &w), CST_EIO);
	cr_assert_eq(cst_segw_open(path, cut + 1, &w), CST_EIO);
	fd = open(path, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert(ftruncate(fd, (off_t)sc.valid_len) == 0);
	close(fd);
	cr_assert_eq(cst_segw_open(path, sc.valid_len, &w), 0);
	cr_assert_eq(cst_segw_size(w), sc.valid_len);
	cr_assert_eq(cst_segw_append(w, s.buf.p + s.start[3],
	    s.buf.len - s.start[3]), 0);
	cr_assert_eq(cst_segw_close(w), 0);

	cr_assert_eq(cst_map_open(path, &m), 0);
	cr_assert_eq(m.len, s.buf.len);
	cr_assert_arr_eq(m.p, s.buf.p, m.len);
	scan(&k, m.p, m.len, &sc);
	cr_assert(sc.sealed);
	cst_map_close(&m);

	snprintf(path, sizeof(path), "%s/absent.cst", dir);
	cr_assert_eq(cst_segw_open(path, 0, &w), CST_ENOENT);
	cr_assert_eq(cst_map_open(path, &m), CST_ENOENT);
	cst_buf_close(&s.buf);
	keys_free(&k);
}

Test(segment, map_of_empty_file)
{
	cst_map m;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/empty", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(cst_map_open(path, &m), 0);
	cr_assert_eq(m.len, 0);
	cr_assert_not_null(m.p);
	cst_map_close(&m);
}

/* R-REC-5: a tail torn at any byte leaves exactly the frames before it. */
Test(segment, torn_tail_at_every_byte)
{
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_scan sc;
	size_t cut, last, f;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 5, 0, &s);
	for (f = 0; f < s.nframes; f++) {
		/* Every byte of the last frame; a sample of earlier ones. */
		last = f + 1 == s.nframes;
		for (cut = s.start[f]; cut < s.start[f + 1];
		    cut += last ? 1 : 7) {
			scan(&k, s.buf.p, cut, &sc);
			cr_assert_eq(sc.valid_len, s.start[f], "cut %zu", cut);
			cr_assert_eq(sc.blocks, f);
			cr_assert_eq(sc.next_seq, f * RECS_PER_BLOCK);
			cr_assert(!sc.sealed);
		}
	}
	scan(&k, s.buf.p, s.buf.len, &sc);
	cr_assert_eq(sc.valid_len, s.buf.len);
	cr_assert(!sc.sealed);
	cst_buf_close(&s.buf);

	/* The seal block torn. */
	state_init(&st, &k);
	build_segment(&k, &st, 0, 2, 1, &s);
	for (cut = s.start[2]; cut < s.buf.len; cut++) {
		scan(&k, s.buf.p, cut, &sc);
		cr_assert_eq(sc.valid_len, s.start[2]);
		cr_assert(!sc.sealed);
	}
	cst_buf_close(&s.buf);
	keys_free(&k);
}

Test(segment, scan_stops_at_a_bad_frame)
{
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_scan sc;
	cst_frame fr;
	uint8_t *bad;
	size_t f, i, where[3];

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 5, 1, &s);
	cr_assert_not_null(bad = malloc(s.buf.len + 100));
	for (f = 0; f < s.nframes; f++) {
		cr_assert_eq(cst_frame_parse(s.buf.p + s.start[f],
		    s.start[f + 1] - s.start[f], &fr), 0);
		/* A header byte, a payload byte, a signature byte. */
		where[0] = s.start[f] + 50;
		where[1] = (size_t)(fr.payload - s.buf.p) +
		    fr.hdr.payload_len / 2;
		where[2] = s.start[f + 1] - 1;
		for (i = 0; i < 3; i++) {
			memcpy(bad, s.buf.p, s.buf.len);
			bad[where[i]] ^= 0x10;
			scan(&k, bad, s.buf.len, &sc);
			cr_assert_eq(sc.valid_len, s.start[f],
			    "frame %zu case %zu", f, i);
			cr_assert_eq(sc.blocks, f);
		}
	}

	/* Garbage after the seal is not part of the segment (R-SEG-4). */
	memcpy(bad, s.buf.p, s.buf.len);
	memset(bad + s.buf.len, 0xee, 100);
	scan(&k, bad, s.buf.len + 100, &sc);
	cr_assert_eq(sc.valid_len, s.buf.len);
	cr_assert(sc.sealed);
	/* Even a valid-looking frame: nothing follows a seal. */
	memcpy(bad + s.buf.len, s.buf.p + s.start[5], 100);
	scan(&k, bad, s.buf.len + 100, &sc);
	cr_assert_eq(sc.valid_len, s.buf.len);

	/* A key that has not reached epoch 2 stops where epoch 2 begins. */
	cr_assert_eq(cst_segment_scan(s.buf.p, s.buf.len, k.e[0], &sc), 0);
	cr_assert_eq(sc.valid_len, s.start[FUZZ_EPOCH2_FROM]);
	cr_assert_eq(sc.epoch, 1);
	free(bad);
	cst_buf_close(&s.buf);
	keys_free(&k);
}

Test(segment, bad_or_foreign_header)
{
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_scan sc;
	cst_root_key *other;
	cst_epoch_key *oe;
	size_t i;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 1, 0, &s);
	for (i = 0; i < CST_SEG_HDR_LEN; i++) {
		s.buf.p[i] ^= 0x01;
		cr_assert_eq(cst_segment_scan(s.buf.p, s.buf.len, k.e[1], &sc),
		    CST_ECORRUPT, "byte %zu", i);
		s.buf.p[i] ^= 0x01;
	}
	for (i = 0; i < CST_SEG_HDR_LEN; i++)
		cr_assert_eq(cst_segment_scan(s.buf.p, i, k.e[1], &sc),
		    CST_ECORRUPT);
	/* Header alone: a segment just created (R-SEG-5). */
	scan(&k, s.buf.p, CST_SEG_HDR_LEN, &sc);
	cr_assert_eq(sc.valid_len, CST_SEG_HDR_LEN);
	cr_assert_eq(sc.blocks, 0);
	cr_assert_eq(sc.epoch, 0);

	cr_assert_eq(cst_root_key_generate(&other), 0);
	cr_assert_eq(cst_epoch_key_first(other, NOW_NS, &oe), 0);
	cr_assert_eq(cst_segment_scan(s.buf.p, s.buf.len, oe, &sc),
	    CST_EFOREIGN);
	cst_epoch_key_free(oe);
	cst_root_key_free(other);
	cst_buf_close(&s.buf);
	keys_free(&k);
}

/*
 * R-BLK-6, R-BLK-7, R-KEY-2: the chain fields open does not check, each
 * changed in a block and signed again with the right key, stop the scan
 * at that block.
 */
Test(segment, chain_links_are_checked)
{
	static const struct {
		const char *name;
		size_t off;
	} links[] = {
		{ "key_epoch", 12 }, { "chain_id", 16 }, { "segment_no", 32 },
		{ "block_no", 40 }, { "first_seq", 48 }, { "prev_hash", 192 },
	};
	struct keys k;
	cst_chain_state st;
	struct seg s;
	cst_scan sc;
	uint8_t *bad;
	size_t i, f = 1;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 3, 0, &s);
	cr_assert_not_null(bad = malloc(s.buf.len));
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		memcpy(bad, s.buf.p, s.buf.len);
		bad[s.start[f] + links[i].off] ^= 0x01;
		test_resign(bad + s.start[f], s.start[f + 1] - s.start[f],
		    k.e[0]);
		scan(&k, bad, s.buf.len, &sc);
		cr_assert_eq(sc.valid_len, s.start[f], "%s", links[i].name);
	}
	/* Two frames swapped: the first out of place stops the scan. */
	memcpy(bad, s.buf.p, s.start[1]);
	memcpy(bad + s.start[1], s.buf.p + s.start[2],
	    s.start[3] - s.start[2]);
	memcpy(bad + s.start[1] + s.start[3] - s.start[2],
	    s.buf.p + s.start[1], s.start[2] - s.start[1]);
	scan(&k, bad, s.start[3], &sc);
	cr_assert_eq(sc.valid_len, s.start[1]);
	free(bad);
	cst_buf_close(&s.buf);
	keys_free(&k);
}

/*
 * A later segment's first block follows a block the scan has not seen;
 * the key's certificates say which epoch must sign it.
 */
Test(segment, later_segment_and_epochs)
{
	struct keys k;
	cst_chain_state st, st2;
	struct seg s0, s1, s2;
	cst_scan sc;

	keys_make(&k);
	state_init(&st, &k);
	build_segment(&k, &st, 0, 2, 1, &s0);
	/* Segment 1 starts at block 3, the first block of epoch 2. */
	st2 = st;
	build_segment(&k, &st, 1, 3, 1, &s1);
	scan(&k, s1.buf.p, s1.buf.len, &sc);
	cr_assert_eq(sc.valid_len, s1.buf.len);
	cr_assert(sc.sealed);
	cr_assert_eq(sc.hdr.first_block_no, 3);
	cr_assert_eq(sc.epoch, 2);

	/* Epoch 2's first block without its certificate (R-KEY-2). */
	st2.epoch = 2;
	build_segment(&k, &st2, 1, 2, 0, &s2);
	scan(&k, s2.buf.p, s2.buf.len, &sc);
	cr_assert_eq(sc.valid_len, CST_SEG_HDR_LEN);

	/* Segment 2, all epoch 2, none carrying a certificate. */
	cst_buf_close(&s2.buf);
	build_segment(&k, &st, 2, 2, 0, &s2);
	scan(&k, s2.buf.p, s2.buf.len, &sc);
	cr_assert_eq(sc.valid_len, s2.buf.len);
	cr_assert_eq(sc.blocks, 2);
	cr_assert_eq(sc.next_seq, 7 * RECS_PER_BLOCK);

	cst_buf_close(&s0.buf);
	cst_buf_close(&s1.buf);
	cst_buf_close(&s2.buf);
	keys_free(&k);
}

static void
write_file(const char *dirpath, const char *name, const uint8_t *p,
    size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	cr_assert_not_null(f = fopen(path, "wb"), "%s", path);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/*
 * The fuzz corpus: real segments of the fuzz target's chain, and mangled
 * ones that each stop somewhere else.
 */
static void
gen_corpus(const struct keys *k, const char *out)
{
	cst_chain_state st;
	struct seg s0, s1;
	uint8_t *p;

	state_init(&st, k);
	build_segment(k, &st, 0, 4, 1, &s0);
	build_segment(k, &st, 1, 2, 0, &s1);
	write_file(out, "good-sealed.cst", s0.buf.p, s0.buf.len);
	write_file(out, "good-unsealed.cst", s1.buf.p, s1.buf.len);
	write_file(out, "empty.cst", s0.buf.p, CST_SEG_HDR_LEN);
	write_file(out, "short.cst", s0.buf.p, 60);
	write_file(out, "torn.cst", s0.buf.p, s0.start[3] + 300);

	cr_assert_not_null(p = malloc(s0.buf.len + 64));
	memcpy(p, s0.buf.p, s0.buf.len);
	p[s0.start[1] + CST_BLK_HDR_LEN + 20] ^= 0x20;
	write_file(out, "flipped-payload.cst", p, s0.buf.len);
	memcpy(p, s0.buf.p, s0.buf.len);
	p[s0.start[2] + 56] ^= 0x01;
	write_file(out, "flipped-count.cst", p, s0.buf.len);
	memcpy(p, s0.buf.p, s0.buf.len);
	memset(p + s0.buf.len, 0x41, 64);
	write_file(out, "after-seal.cst", p, s0.buf.len + 64);
	memcpy(p, s0.buf.p, s0.buf.len);
	p[s0.start[2] + 64] = 0xff;
	p[s0.start[2] + 67] = 0xff;
	write_file(out, "huge-payload-len.cst", p, s0.buf.len);
	free(p);
	cst_buf_close(&s0.buf);
	cst_buf_close(&s1.buf);
}

Test(segment, fuzz_corpus)
{
	struct keys k;
	const char *out = getenv("CUSTODY_GEN_CORPUS");
	const char *src = getenv("CUSTODY_SOURCE_DIR");
	char path[512];
	cst_map m;
	cst_scan sc;

	keys_make(&k);
	if (out != NULL)
		gen_corpus(&k, out);
	if (src != NULL) {
		snprintf(path, sizeof(path),
		    "%s/tests/fuzz/corpus/block/good-sealed.cst", src);
		cr_assert_eq(cst_map_open(path, &m), 0, "%s", path);
		scan(&k, m.p, m.len, &sc);
		cr_assert_eq(sc.valid_len, m.len);
		cr_assert(sc.sealed);
		cr_assert_eq(sc.epoch, 2);
		cst_map_close(&m);
	}
	keys_free(&k);
}
