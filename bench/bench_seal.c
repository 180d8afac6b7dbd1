/*
 * Sealing and opening throughput of the block format on one core, beside
 * the raw BLAKE2b and zstd level-1 speeds measured in the same run on the
 * same bytes, so that the format's own overhead shows.
 *
 * The input is 200-byte RFC 5424 events parsed by cst_syslog_parse, sealed
 * in blocks of BATCH records (argument 1, default 4096).  Times are the
 * thread's CPU time, not wall time, and each figure is the best of ROUNDS
 * runs: the machine is shared, and a wall clock would count the time other
 * processes held the core.  A figure is therefore per core.
 *
 * Usage: bench_seal [records-per-block [events]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zstd.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/syslog.h"

#define EVENT_LEN 200
#define ROUNDS 5
#define NOW_NS INT64_C(1795347000000000000)

static const char listener[] = "tcp://127.0.0.1:6514";
static const char peer[] = "127.0.0.1:40312";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
die(const char *what, int rc)
{

	fprintf(stderr, "bench_seal: %s: %s\n", what, cst_strerror(rc));
	exit(1);
}

/*
 * Writes event i, padded to exactly EVENT_LEN bytes, into out: the
 * varying fields a real audit stream has (host, user, address, counter).
 */
static void
make_event(size_t i, uint8_t out[EVENT_LEN])
{
	static const char *users[] = { "alice", "bob", "carol", "dave",
	    "eve", "mallory", "trent", "root" };
	static const char *apps[] = { "sshd", "sudo", "nginx", "kernel",
	    "auditd", "cron" };
	char buf[2 * EVENT_LEN];
	int n;

	n = snprintf(buf, sizeof(buf), "<%zu>1 2026-11-22T11:30:%02zu.%06zuZ "
	    "host-%03zu.example.org %s %zu ID%zu [meta seq=\"%zu\"] "
	    "session opened for user %s from 192.0.2.%zu port %zu ssh2 "
	    "result=success", 80 + i % 8, i / 1000000 % 60, i % 1000000,
	    i % 120, apps[i % 6], 1000 + i % 3000, i % 50, i,
	    users[(i / 3) % 8], i % 250, 20000 + i % 40000);
	memset(buf + n, '.', sizeof(buf) - (size_t)n);
	memcpy(out, buf, EVENT_LEN);
}

int
main(int argc, char **argv)
{
	size_t batch = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
	size_t nev = argc > 2 ? strtoul(argv[2], NULL, 10) : 400000;
	uint8_t chain[CST_CHAIN_ID_LEN] = { 0 }, seed[CST_SEED_LEN] = { 0 };
	uint8_t hash[CST_HASH_LEN];
	cst_root_key *root;
	cst_epoch_key *key;
	cst_record *recs;
	uint8_t *raw;
	cst_sealer *sealer;
	cst_opener *opener;
	cst_draft d;
	cst_chain_state st;
	cst_buf frames;
	cst_frame f;
	ZSTD_CCtx *zc;
	uint8_t *zout;
	size_t i, off, n, nblocks, payload_bytes, zbound, zbytes;
	double t0, t, best_seal, best_build, best_open, best_b2, best_z;
	double mb, build_t;
	int rc, round, parsed = 0;
	const char *rule;

	if (batch == 0 || batch > CST_MAX_RECORDS || nev < batch) {
		fprintf(stderr, "usage: bench_seal [records-per-block "
		    "[events]]\n");
		return (2);
	}
	if (sodium_init() < 0)
		die("sodium_init", CST_EIO);
	nev -= nev % batch;
	nblocks = nev / batch;
	mb = (double)nev * EVENT_LEN / 1e6;

	if ((raw = malloc(nev * EVENT_LEN)) == NULL ||
	    (recs = calloc(nev, sizeof(*recs))) == NULL)
		die("malloc", CST_ENOMEM);
	t0 = now();
	for (i = 0; i < nev; i++) {
		make_event(i, raw + i * EVENT_LEN);
		recs[i].kind = CST_REC_EVENT;
		recs[i].transport = CST_TR_TCP;
		recs[i].seq = i;
		recs[i].recv_ns = NOW_NS + (int64_t)i * 1000;
		recs[i].listener.p = (const uint8_t *)listener;
		recs[i].listener.len = sizeof(listener) - 1;
		recs[i].peer.p = (const uint8_t *)peer;
		recs[i].peer.len = sizeof(peer) - 1;
		recs[i].raw.p = raw + i * EVENT_LEN;
		recs[i].raw.len = EVENT_LEN;
		recs[i].has_parsed = cst_syslog_parse(recs[i].raw.p,
		    EVENT_LEN, recs[i].recv_ns, &recs[i].parsed) == 0;
		if (recs[i].has_parsed)
			parsed++;
		else
			recs[i].flags = CST_RF_PARSE_FAILED;
	}
	t = now() - t0;
	printf("events: %zu of %d bytes, %zu per block, %d parsed\n", nev,
	    EVENT_LEN, batch, parsed);
	printf("parse (cst_syslog_parse, setup): %.0f events/s\n",
	    (double)nev / t);

	if ((rc = cst_root_key_from_seed(chain, seed, &root)) != 0 ||
	    (rc = cst_epoch_key_first(root, NOW_NS, &key)) != 0)
		die("keys", rc);
	if ((sealer = cst_sealer_new(1)) == NULL ||
	    (opener = cst_opener_new()) == NULL)
		die("sealer", CST_ENOMEM);
	cst_draft_init(&d);
	cst_buf_init(&frames);

	/* Sealing: build (encode, Merkle, hash, compress) and finish. */
	best_seal = best_build = 1e30;
	payload_bytes = 0;
	for (round = 0; round < ROUNDS; round++) {
		memset(&st, 0, sizeof(st));
		memcpy(st.chain_id, chain, sizeof(chain));
		frames.len = 0;
		payload_bytes = 0;
		build_t = 0;
		t0 = now();
		for (i = 0; i < nev; i += batch) {
			t = now();
			if ((rc = cst_sealer_build(sealer, recs + i, batch,
			    &d)) != 0)
				die("cst_sealer_build", rc);
			build_t += now() - t;
			payload_bytes += d.payload.len;
			if ((rc = cst_block_finish(&d, &st, key, NOW_NS,
			    &frames, hash)) != 0)
				die("cst_block_finish", rc);
		}
		t = now() - t0;
		if (t < best_seal)
			best_seal = t;
		if (build_t < best_build)
			best_build = build_t;
	}

	/* Opening: frame parse, signature, payload and records checks. */
	best_open = 1e30;
	for (round = 0; round < ROUNDS; round++) {
		t0 = now();
		for (off = 0, n = 0; off < frames.len; off += f.frame_len) {
			if ((rc = cst_frame_parse(frames.p + off,
			    frames.len - off, &f)) != 0)
				die("cst_frame_parse", rc);
			if ((rc = cst_frame_verify_sig(&f, key->pk)) != 0)
				die("cst_frame_verify_sig", rc);
			if ((rc = cst_block_open(opener, &f, &rule)) != 0)
				die(rule, rc);
			n += cst_opener_count(opener);
		}
		t = now() - t0;
		if (n != nev)
			die("record count", CST_ECORRUPT);
		if (t < best_open)
			best_open = t;
	}

	/* The floor: BLAKE2b and zstd -1 alone over the same event bytes. */
	best_b2 = best_z = 1e30;
	zbound = ZSTD_compressBound(batch * EVENT_LEN);
	if ((zc = ZSTD_createCCtx()) == NULL ||
	    (zout = malloc(zbound)) == NULL)
		die("zstd", CST_ENOMEM);
	zbytes = 0;
	for (round = 0; round < ROUNDS; round++) {
		t0 = now();
		for (i = 0; i < nev; i += batch)
			cst_hash_domain(CST_D_RECORDS, raw + i * EVENT_LEN,
			    batch * EVENT_LEN, hash);
		t = now() - t0;
		if (t < best_b2)
			best_b2 = t;
		t0 = now();
		zbytes = 0;
		for (i = 0; i < nev; i += batch) {
			n = ZSTD_compressCCtx(zc, zout, zbound,
			    raw + i * EVENT_LEN, batch * EVENT_LEN, 1);
			if (ZSTD_isError(n))
				die("ZSTD_compressCCtx", CST_ECOMPRESS);
			zbytes += n;
		}
		t = now() - t0;
		if (t < best_z)
			best_z = t;
	}

	printf("seal (build + sign, 1 core): %.0f events/s, %.1f MB/s raw; "
	    "build alone %.0f events/s\n", (double)nev / best_seal,
	    mb / best_seal, (double)nev / best_build);
	printf("open (parse + sig + open, 1 core): %.0f events/s, "
	    "%.1f MB/s raw\n", (double)nev / best_open, mb / best_open);
	printf("baseline BLAKE2b: %.1f MB/s; zstd -1: %.1f MB/s "
	    "(ratio %.3f)\n", mb / best_b2, mb / best_z,
	    (double)zbytes / ((double)nev * EVENT_LEN));
	printf("payload/raw: %.3f; frames on disk/raw: %.3f (%zu blocks)\n",
	    (double)payload_bytes / ((double)nev * EVENT_LEN),
	    (double)frames.len / ((double)nev * EVENT_LEN), nblocks);

	free(zout);
	ZSTD_freeCCtx(zc);
	cst_buf_close(&frames);
	cst_draft_close(&d);
	cst_sealer_free(sealer);
	cst_opener_free(opener);
	cst_epoch_key_free(key);
	cst_root_key_free(root);
	free(recs);
	free(raw);
	return (0);
}
