/*
 * cst_hash_domain_many must give what cst_hash_domain gives, message by
 * message, whatever the number of messages (so every grouping into eight,
 * four and scalar lanes), their lengths and the SIMD level.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "blake2b.h"
#include "testutil.h"
#include "custody/format.h"
#include "custody/hash.h"

#define SEED 20261123u
#define MAXN 17

/*
 * Around the block boundaries of a 19-byte prefix (CST_D_RECORDS and its
 * NUL: data bytes 109 and 237 end blocks) and of none, and long.
 */
static const size_t lens[] = { 0, 1, 108, 109, 110, 127, 128, 129, 236,
    237, 238, 1000, 4097 };
#define NLENS (sizeof(lens) / sizeof(lens[0]))

/* One message much longer than the others: finished in scalar lanes. */
#define LONG_LEN 300000

static uint8_t *buf;

static void
setup(void)
{
	unsigned seed = SEED;
	size_t i;

	printf("hash many: seed %u\n", SEED);
	cr_assert((buf = malloc(LONG_LEN + 64 * MAXN)) != NULL);
	for (i = 0; i < LONG_LEN + 64 * MAXN; i++)
		buf[i] = (uint8_t)rand_r(&seed);
}

static void
teardown(void)
{

	free(buf);
}

/* The length of message i of n in pattern k. */
static size_t
pattern_len(int k, size_t i, size_t n)
{

	switch (k) {
	case 0:
		/* All equal, each length in turn. */
		return (lens[n % NLENS]);
	case 1:
		/* Mixed: neighbours differ. */
		return (lens[(7 * i + n) % NLENS]);
	case 2:
		/* Short, with one very long one, at a place that moves. */
		return (i == n / 2 ? LONG_LEN : lens[(i + n) % 6]);
	default:
		/* Two long ones of different lengths, the rest empty. */
		return (i == 0 || i + 1 == n ? LONG_LEN - 1000 * i : 0);
	}
}
#define NPATTERNS 4

/*
 * Checks every n in 0..MAXN and every pattern with domain, at level
 * (or, for level -1, through cst_hash_domain_many).
 */
static void
check(int level, const char *domain)
{
	const uint8_t *data[MAXN];
	size_t len[MAXN];
	uint8_t got[MAXN + 1][CST_HASH_LEN], want[CST_HASH_LEN];
	size_t n, i;
	int k;

	for (k = 0; k < NPATTERNS; k++) {
		for (n = 0; n <= MAXN; n++) {
			for (i = 0; i < n; i++) {
				len[i] = pattern_len(k, i, n);
				/* Unaligned, and overlapping each other. */
				data[i] = len[i] == 0 && i % 2 ? NULL :
				    buf + 64 * i + i % 8;
			}
			/* One digest past the end, which must stay. */
			memset(got, 0xa5, sizeof(got));
			if (level < 0)
				cst_hash_domain_many(domain, data, len, n, got);
			else
				cst_b2b_hash_many_with(level, got[0],
				    CST_HASH_LEN, (const uint8_t *)domain,
				    strlen(domain) + 1, data, len, n);
			for (i = 0; i < n; i++) {
				cst_hash_domain(domain, data[i], len[i], want);
				cr_assert(memcmp(got[i], want,
				    CST_HASH_LEN) == 0, "level %d pattern %d "
				    "n %zu message %zu length %zu", level, k, n,
				    i, len[i]);
			}
			for (i = 0; i < CST_HASH_LEN; i++)
				cr_assert(got[n][i] == 0xa5, "n %zu", n);
		}
	}
}

Test(hash, many_equals_one_by_one, .init = setup, .fini = teardown)
{

	printf("hash many: SIMD level %d on this CPU\n", cst_b2b_simd_level());
	check(-1, CST_D_RECORDS);
	check(-1, CST_D_PAYLOAD);
	check(-1, "");
}

Test(hash, many_at_every_level, .init = setup, .fini = teardown)
{
	int level;

	for (level = CST_B2B_SCALAR; level <= CST_B2B_AVX512; level++)
		check(level, CST_D_RECORDS);
}

/*
 * The prefix lengths the lanes are tested with in test_blake2b.c, through
 * cst_b2b_hash_many_with at every level, against the scalar code.
 */
Test(hash, many_with_any_prefix, .init = setup, .fini = teardown)
{
	static const size_t plens[] = { 0, 1, 19, 127, 128 };
	const uint8_t *data[MAXN];
	size_t len[MAXN];
	uint8_t got[MAXN][32], want[32];
	cst_b2b s;
	size_t i, n, p;
	int level;

	for (level = CST_B2B_SCALAR; level <= CST_B2B_AVX512; level++) {
		for (p = 0; p < sizeof(plens) / sizeof(plens[0]); p++) {
			for (n = 0; n <= MAXN; n++) {
				for (i = 0; i < n; i++) {
					len[i] = pattern_len((int)(n % 3), i,
					    n) / 8;
					data[i] = buf + 64 * i + 3;
				}
				cst_b2b_hash_many_with(level, got[0], 32,
				    buf + LONG_LEN, plens[p], data, len, n);
				for (i = 0; i < n; i++) {
					cst_b2b_init(&s, 32);
					cst_b2b_update(&s, buf + LONG_LEN,
					    plens[p]);
					cst_b2b_update(&s, data[i], len[i]);
					cst_b2b_final(&s, want);
					cr_assert(memcmp(got[i], want, 32) == 0,
					    "level %d prefix %zu n %zu message "
					    "%zu", level, plens[p], n, i);
				}
			}
		}
	}
}

/*
 * As test_blake2b.c's inputs_at_the_edges_of_mappings, through
 * cst_b2b_hash_many_with's groupings: every message and the prefix touch
 * a PROT_NONE page (even messages start at their page's first byte, odd
 * ones end at its last), and so does the end of the digests, so that a
 * byte read or written outside them faults.
 */
Test(hash, many_at_the_edges_of_mappings, .init = setup, .fini = teardown)
{
	static const size_t plens[] = { 0, 1, 19, 128 };
	static const size_t ns[] = { 1, 3, 5, 8, 9, 12, 17 };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	const uint8_t *data[MAXN], *prefix;
	size_t len[MAXN];
	uint8_t *lo, *hi, *pre, *outs, *got, want[32];
	cst_b2b s;
	size_t i, k, l, n, p;
	int level;

	lo = test_fenced_page();
	hi = test_fenced_page();
	pre = test_fenced_page();
	outs = test_fenced_page();
	memcpy(lo, buf, pg);
	memcpy(hi, buf + pg, pg);
	memcpy(pre, buf + 2 * pg, pg);
	for (level = CST_B2B_SCALAR; level <= CST_B2B_AVX512; level++) {
		for (p = 0; p < sizeof(plens) / sizeof(plens[0]); p++) {
			prefix = plens[p] == 0 ? NULL : pre + pg - plens[p];
			for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
				n = ns[k];
				got = outs + pg - 32 * n;
				for (l = 0; l <= 300; l++) {
					for (i = 0; i < n; i++) {
						len[i] = (l + 41 * i) % 301;
						data[i] = i % 2 == 0 ? lo :
						    hi + pg - len[i];
					}
					cst_b2b_hash_many_with(level, got, 32,
					    prefix, plens[p], data, len, n);
					for (i = 0; i < n; i++) {
						cst_b2b_init(&s, 32);
						cst_b2b_update(&s, prefix,
						    plens[p]);
						cst_b2b_update(&s, data[i],
						    len[i]);
						cst_b2b_final(&s, want);
						cr_assert(memcmp(got + 32 * i,
						    want, 32) == 0, "level %d "
						    "prefix %zu n %zu message "
						    "%zu length %zu", level,
						    plens[p], n, i, len[i]);
					}
				}
			}
		}
	}
	test_fenced_free(lo);
	test_fenced_free(hi);
	test_fenced_free(pre);
	test_fenced_free(outs);
}
