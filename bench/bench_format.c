/*
 * bench_format: the format library's per-record costs for 200-byte RFC 5424
 * messages: record encode + Merkle leaf hash (the sealer), record decode
 * (the verifier, with and without the leaf hash), and the Merkle root.
 *
 * Prints ns/record, the best of a few runs, so that noise from a shared
 * machine shows as little as possible.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/merkle.h"
#include "custody/record.h"

#define BATCH 4096
#define RUNS 5

/* 200 bytes, as a typical audit line forwarded by rsyslog. */
static const char msg[] =
    "<86>1 2024-05-02T10:21:33.123456Z host-0042.example.org sshd 12345 "
    "AUTH [origin ip=\"198.51.100.7\"] Accepted publickey for alice from "
    "198.51.100.7 port 50022 ssh2: ED25519 SHA256:abcdefghij0123456789ab";

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec);
}

static void
fill(cst_record *r, uint64_t seq)
{
	static const char listener[] = "tcp://127.0.0.1:6514";
	static const char peer[] = "127.0.0.1:50022";

	memset(r, 0, sizeof(*r));
	r->kind = CST_REC_EVENT;
	r->seq = seq;
	r->recv_ns = 1714645293123456789 + (int64_t)seq * 1000;
	r->transport = CST_TR_TCP;
	r->listener.p = (const uint8_t *)listener;
	r->listener.len = sizeof(listener) - 1;
	r->peer.p = (const uint8_t *)peer;
	r->peer.len = sizeof(peer) - 1;
	r->raw.p = (const uint8_t *)msg;
	r->raw.len = sizeof(msg) - 1;
	r->has_parsed = 1;
	r->parsed.format = 1;
	r->parsed.facility = 10;
	r->parsed.severity = 6;
	r->parsed.ts_ns = 1714645293123456000;
	r->parsed.timestamp = (cst_span){ 7, 27 };
	r->parsed.hostname = (cst_span){ 35, 21 };
	r->parsed.app = (cst_span){ 57, 4 };
	r->parsed.procid = (cst_span){ 62, 5 };
	r->parsed.msgid = (cst_span){ 68, 4 };
	r->parsed.sd = (cst_span){ 73, 30 };
	r->parsed.msg = (cst_span){ 104, (uint32_t)(sizeof(msg) - 1 - 104) };
}

static void
die(const char *what, int rc)
{

	fprintf(stderr, "bench_format: %s: %s\n", what, cst_strerror(rc));
	exit(1);
}

int
main(void)
{
	static uint8_t leaves[BATCH][CST_HASH_LEN];
	static size_t offs[BATCH + 1];
	cst_record recs[BATCH], dec;
	cst_buf payload;
	uint8_t root[CST_HASH_LEN];
	double t, best_enc = 1e30, best_dec = 1e30, best_dech = 1e30;
	double best_root = 1e30, best_enc_only = 1e30;
	size_t i, used, pos;
	int run, rc;

	if (sodium_init() < 0)
		die("sodium_init", CST_EINVAL);
	cst_buf_init(&payload);
	for (i = 0; i < BATCH; i++)
		fill(&recs[i], i);

	for (run = 0; run < RUNS; run++) {
		/* The sealer: encode each record, hash it as a leaf. */
		payload.len = 0;
		t = now_ns();
		for (i = 0; i < BATCH; i++) {
			offs[i] = payload.len;
			if ((rc = cst_record_encode(&recs[i], &payload)) != 0)
				die("encode", rc);
			cst_merkle_leaf(payload.p + offs[i],
			    payload.len - offs[i], leaves[i]);
		}
		offs[BATCH] = payload.len;
		t = (now_ns() - t) / BATCH;
		if (t < best_enc)
			best_enc = t;

		payload.len = 0;
		t = now_ns();
		for (i = 0; i < BATCH; i++)
			if ((rc = cst_record_encode(&recs[i], &payload)) != 0)
				die("encode", rc);
		t = (now_ns() - t) / BATCH;
		if (t < best_enc_only)
			best_enc_only = t;

		t = now_ns();
		for (i = 0, pos = 0; i < BATCH; i++) {
			if ((rc = cst_record_decode(payload.p + pos,
			    payload.len - pos, &dec, &used)) != 0)
				die("decode", rc);
			pos += used;
		}
		t = (now_ns() - t) / BATCH;
		if (t < best_dec)
			best_dec = t;

		/* The verifier: decode and hash each leaf. */
		t = now_ns();
		for (i = 0, pos = 0; i < BATCH; i++) {
			if ((rc = cst_record_decode(payload.p + pos,
			    payload.len - pos, &dec, &used)) != 0)
				die("decode", rc);
			cst_merkle_leaf(payload.p + pos, used, leaves[i]);
			pos += used;
		}
		t = (now_ns() - t) / BATCH;
		if (t < best_dech)
			best_dech = t;

		t = now_ns();
		cst_merkle_root(leaves, BATCH, root);
		t = (now_ns() - t) / BATCH;
		if (t < best_root)
			best_root = t;
	}

	printf("record: %zu bytes encoded from a %zu-byte message, "
	    "batch %d, best of %d\n", offs[1] - offs[0], sizeof(msg) - 1,
	    BATCH, RUNS);
	printf("encode                 %8.1f ns/record\n", best_enc_only);
	printf("encode + leaf hash     %8.1f ns/record\n", best_enc);
	printf("decode                 %8.1f ns/record\n", best_dec);
	printf("decode + leaf hash     %8.1f ns/record\n", best_dech);
	printf("merkle root            %8.1f ns/record\n", best_root);
	printf("verify estimate        %8.1f ns/record (decode + leaf + root)\n",
	    best_dech + best_root);

	cst_buf_close(&payload);
	return (0);
}
