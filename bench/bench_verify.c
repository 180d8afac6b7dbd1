/*
 * bench_verify: verification throughput (events/s, MB/s) of the chain
 * verifier on a store of 10 million 200-byte events made by
 * custody-mkstore, beside raw BLAKE2b, SHA-256 and zstd speeds measured
 * in the same run, so that the cost of the format itself is visible.
 *
 *   BENCH_VERIFY_EVENTS   events in the store (default 10000000)
 *   BENCH_VERIFY_BLOCK_RECORDS
 *                         one store with blocks of this many records
 *                         (default: two stores, 1024 and 14000)
 *   BENCH_VERIFY_STORE    where the store is kept between runs (default
 *                         /tmp/custody-bench-verify-<events>-<records>)
 *   CUSTODY_BUILD_DIR     where custody-mkstore is (set by make bench)
 *
 * Per core figures divide by CPU time, not wall time: on a shared machine
 * they are the steadier number.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#include "blake2b.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/segment.h"
#include "custody/verify.h"

static double
wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((double)t.tv_sec + (double)t.tv_nsec / 1e9);
}

/* CPU seconds of every thread of the process so far. */
static double
cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

static int
is_cst(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return (n > 4 && strcmp(e->d_name + n - 4, ".cst") == 0);
}

struct store {
	char **paths;
	size_t n;
	uint64_t bytes;      /* on disk */
	uint64_t raw;        /* uncompressed record bytes */
	uint64_t blocks;
	uint8_t *sample;     /* one payload, for the zstd baseline */
	size_t sample_len;
	size_t sample_raw;
};

static void
load(const char *dir, struct store *s)
{
	struct dirent **ents;
	cst_frame f;
	cst_map m;
	char *sd;
	size_t off;
	int i, k;

	memset(s, 0, sizeof(*s));
	if (asprintf(&sd, "%s/segments", dir) < 0)
		exit(1);
	if ((k = scandir(sd, &ents, is_cst, alphasort)) <= 0) {
		fprintf(stderr, "bench_verify: no segments in %s\n", sd);
		exit(1);
	}
	s->paths = calloc((size_t)k, sizeof(*s->paths));
	for (i = 0; i < k; i++) {
		if (asprintf(&s->paths[i], "%s/%s", sd, ents[i]->d_name) < 0)
			exit(1);
		free(ents[i]);
		if (cst_map_open(s->paths[i], &m) != 0)
			exit(1);
		s->bytes += m.len;
		for (off = CST_SEG_HDR_LEN; off < m.len &&
		    cst_frame_parse(m.p + off, m.len - off, &f) == 0;
		    off += f.frame_len) {
			s->raw += f.hdr.raw_len;
			s->blocks++;
			if (s->sample == NULL && f.hdr.raw_len > 0) {
				s->sample = malloc(f.hdr.payload_len);
				memcpy(s->sample, f.payload, f.hdr.payload_len);
				s->sample_len = f.hdr.payload_len;
				s->sample_raw = f.hdr.raw_len;
			}
		}
		cst_map_close(&m);
	}
	free(ents);
	free(sd);
	s->n = (size_t)k;
}

static void
baselines(const struct store *s)
{
	uint8_t *buf, h[32];
	size_t n = 64u << 20, i, rounds;
	ZSTD_DCtx *dctx;
	double t;

	buf = malloc(n);
	memset(buf, 0x5a, n);
	t = wall();
	/* The project's BLAKE2b, the one the verifier hashes with. */
	cst_b2b_hash(h, sizeof(h), buf, n);
	printf("raw blake2b (64 MiB):         %7.0f MB/s\n", n / (wall() - t) /
	    1e6);
	t = wall();
	for (i = 0; i < 200000; i++)
		cst_b2b_hash(h, sizeof(h), buf + (i % 1024), 260);
	printf("raw blake2b (260 B, scalar):   %7.0f ns each\n",
	    (wall() - t) / 200000 * 1e9);
	/* OpenSSL's, the one the report's file digests use, and libsodium's. */
	t = wall();
	if (EVP_Digest(buf, n, h, NULL, EVP_sha256(), NULL) != 1)
		exit(1);
	printf("raw sha256 (64 MiB, OpenSSL): %7.0f MB/s\n", n / (wall() - t) /
	    1e6);
	t = wall();
	crypto_hash_sha256(h, buf, n);
	printf("raw sha256 (64 MiB, sodium):  %7.0f MB/s\n", n / (wall() - t) /
	    1e6);
	if (s->sample != NULL && (dctx = ZSTD_createDCtx()) != NULL) {
		rounds = (256u << 20) / s->sample_raw + 1;
		t = wall();
		for (i = 0; i < rounds; i++)
			(void)ZSTD_decompressDCtx(dctx, buf, n, s->sample,
			    s->sample_len);
		printf("raw zstd -d (a block):        %7.0f MB/s of output\n",
		    (double)rounds * s->sample_raw / (wall() - t) / 1e6);
		ZSTD_freeDCtx(dctx);
	}
	free(buf);
}

static void
run(const struct store *s, const cst_root_pub *root, unsigned threads,
    int digests)
{
	const cst_verify_summary *sum;
	cst_verify_opts o;
	cst_verifier *v;
	double t0, c0, t, c;

	memset(&o, 0, sizeof(o));
	o.threads = threads;
	o.digests = digests;
	if ((v = cst_verifier_new(root, &o, NULL, NULL)) == NULL)
		exit(1);
	t0 = wall();
	c0 = cpu();
	if (cst_verifier_run(v, (const char *const *)s->paths, s->n) != 0)
		exit(1);
	t = wall() - t0;
	c = cpu() - c0;
	sum = cst_verifier_summary(v);
	printf("verify threads=%u%s: %6.2f s wall %6.2f s cpu  %9.0f events/s "
	    "%7.1f MB/s on disk %7.1f MB/s of records  per core %9.0f "
	    "events/s%s\n", threads, digests ? " +digests" : "", t, c,
	    sum->kinds[0] / t, s->bytes / t / 1e6, s->raw / t / 1e6,
	    sum->kinds[0] / c, sum->failures == 0 ? "" : "  (FAILURES!)");
	fflush(stdout);
	cst_verifier_free(v);
}

/*
 * Makes (once; kept between runs) and verifies a store of `events`
 * events in blocks of block_records.  Returns 0, or 1 on failure.
 */
static int
bench_store(uint64_t events, unsigned block_records, const char *bd,
    int first)
{
	const char *sd = getenv("BENCH_VERIFY_STORE");
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	char *dir, *mark, *cmd, *rp;
	cst_root_pub root;
	struct store s;
	struct stat st;
	double t;

	if (sd != NULL)
		dir = strdup(sd);
	else if (asprintf(&dir, "/tmp/custody-bench-verify-%" PRIu64 "-%u",
	    events, block_records) < 0)
		return (1);
	if (asprintf(&mark, "%s/.complete", dir) < 0)
		return (1);
	if (stat(mark, &st) != 0) {
		if (asprintf(&cmd, "rm -rf '%s' && '%s/custody-mkstore' '%s' "
		    "--events %" PRIu64 " --segments 10 --epochs 4 "
		    "--block-records %u --seed 42 && touch '%s'", dir,
		    bd != NULL ? bd : "build", dir, events, block_records,
		    mark) < 0)
			return (1);
		printf("making the store: %s\n", cmd);
		fflush(stdout);
		t = wall();
		if (system(cmd) != 0) {
			fprintf(stderr, "bench_verify: custody-mkstore "
			    "failed\n");
			return (1);
		}
		printf("made in %.1f s\n", wall() - t);
		free(cmd);
	}
	if (asprintf(&rp, "%s/keys/root.pub", dir) < 0 ||
	    cst_root_pub_load(rp, &root) != 0)
		return (1);
	load(dir, &s);
	printf("\nstore %s: %zu segments, %" PRIu64 " blocks of %u records, "
	    "%.1f MB on disk, %.1f MB of records (%" PRIu64 " events of ~200 "
	    "bytes)\n", dir, s.n, s.blocks, block_records, s.bytes / 1e6,
	    s.raw / 1e6, events);
	if (first)
		baselines(&s);
	run(&s, &root, 0, 0);
	if (nproc > 1)
		run(&s, &root, (unsigned)nproc, 0);
	run(&s, &root, nproc > 1 ? (unsigned)nproc : 1, 1);
	free(rp);
	free(mark);
	free(dir);
	return (0);
}

int
main(void)
{
	const char *ev = getenv("BENCH_VERIFY_EVENTS");
	const char *br = getenv("BENCH_VERIFY_BLOCK_RECORDS");
	const char *bd = getenv("CUSTODY_BUILD_DIR");
	uint64_t events = ev != NULL ? strtoull(ev, NULL, 10) : 10000000;
	/*
	 * Small blocks, as a collector cuts under a light load (each costs
	 * a signature check), and full ones: at full speed custodyd cuts a
	 * block at pipeline.batch_bytes (4 MiB), about 14,000 of these
	 * events.
	 */
	unsigned sizes[2] = { 1024, 14000 };
	size_t i, n = 2;

	if (sodium_init() < 0)
		return (1);
	if (br != NULL) {
		sizes[0] = (unsigned)strtoul(br, NULL, 10);
		n = 1;
	}
	for (i = 0; i < n; i++)
		if (bench_store(events, sizes[i], bd, i == 0) != 0)
			return (1);
	return (0);
}
