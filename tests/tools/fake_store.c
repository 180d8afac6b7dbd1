/*
 * fake_store: writes, with the format library alone, the store a collector
 * would write for one custody-loadgen run, and that run's manifest, with
 * one fault planted on purpose.  It tests the checker: check_store must
 * pass the faultless store and fail each faulty one.
 *
 *   fake_store [-c CONNS] [-n PER_CONN] [-s SIZE] [-F FAULT] MANIFEST DIR
 *
 * FAULT is one of
 *   none   every message once, in order (the default)
 *   drop   one message is left out
 *   dup    one message is stored twice
 *   swap   two messages of one connection change places
 *   flip   one byte of one message's raw bytes is changed
 *   tail   the last messages of connection 0 are left out (a crash)
 * The chain itself is always valid (signed, gapless): the faults are in
 * what was received, which only a check against the sender's record can
 * see.  keys/root.pub is written too, so custody-verify can read the store,
 * and checkpoints/latest.ckpt, signed, for the chain's head.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"
#include "custody/syslog.h"

#include "../../bench/msggen.h"

#define PER_BLOCK 500

enum fault { F_NONE, F_DROP, F_DUP, F_SWAP, F_FLIP, F_TAIL };

struct msg {
	unsigned conn;
	uint64_t seq;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* The order a collector would see: the connections interleaved. */
static struct msg *
plan(unsigned conns, uint64_t per, enum fault fault, size_t *n)
{
	struct msg *m, t;
	size_t i = 0, mid;
	uint64_t s;
	unsigned c;

	if ((m = calloc((size_t)(conns * per + 1), sizeof(*m))) == NULL)
		return (NULL);
	for (s = 0; s < per; s++) {
		for (c = 0; c < conns; c++) {
			if (fault == F_TAIL && c == 0 && s >= per / 2)
				continue;
			m[i].conn = c;
			m[i++].seq = s;
		}
	}
	mid = i / 2;
	switch (fault) {
	case F_DROP:
		memmove(&m[mid], &m[mid + 1], (i - mid - 1) * sizeof(*m));
		i--;
		break;
	case F_DUP:
		memmove(&m[mid + 1], &m[mid], (i - mid) * sizeof(*m));
		i++;
		break;
	case F_SWAP:
		/* mid and mid + conns are neighbours on one connection. */
		t = m[mid];
		m[mid] = m[mid + conns];
		m[mid + conns] = t;
		break;
	default:
		break;
	}
	*n = i;
	return (m);
}

static int
write_store(const char *dir, struct msggen *g, const struct msg *m, size_t n,
    enum fault fault)
{
	char path[4096], name[32];
	cst_root_key *root = NULL;
	cst_epoch_key *ek = NULL;
	cst_sealer *s = NULL;
	cst_segw *w = NULL;
	cst_record *recs = NULL;
	uint8_t *raw = NULL;
	cst_chain_state st;
	cst_seg_hdr h;
	cst_draft d;
	cst_buf frame;
	uint8_t head[CST_HASH_LEN];
	FILE *f;
	size_t i, j, k, len;
	int64_t t;
	int rc = -1;

	cst_draft_init(&d);
	cst_buf_init(&frame);
	t = now_ns();
	snprintf(path, sizeof(path), "%s/segments", dir);
	if (mkdir(dir, 0700) != 0 || mkdir(path, 0700) != 0)
		goto err0;
	snprintf(path, sizeof(path), "%s/keys", dir);
	if (mkdir(path, 0700) != 0)
		goto err0;
	snprintf(path, sizeof(path), "%s/keys/root.pub", dir);
	if (cst_root_key_generate(&root) != 0 ||
	    cst_root_key_save(root, NULL, path) != 0 ||
	    cst_epoch_key_first(root, t, &ek) != 0 ||
	    (s = cst_sealer_new(1)) == NULL)
		goto err0;

	memset(&st, 0, sizeof(st));
	memcpy(st.chain_id, root->pub.chain_id, CST_CHAIN_ID_LEN);
	cst_chain_seg_hdr(&st, t, &h);
	cst_segment_name(0, name);
	snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
	if (cst_segw_create(path, &h, &w) != 0)
		goto err0;

	if ((recs = calloc(PER_BLOCK, sizeof(*recs))) == NULL ||
	    (raw = malloc(PER_BLOCK * g->maxlen)) == NULL)
		goto err0;
	for (i = 0; i < n; i += k) {
		k = n - i < PER_BLOCK ? n - i : PER_BLOCK;
		for (j = 0; j < k; j++) {
			cst_record *r = &recs[j];
			uint8_t *p = raw + j * g->maxlen;

			len = msggen_render(g, m[i + j].conn, m[i + j].seq, p);
			if (fault == F_FLIP && i + j == n / 2)
				p[len / 2] ^= 0x20;
			memset(r, 0, sizeof(*r));
			r->kind = CST_REC_EVENT;
			r->transport = CST_TR_TCP;
			r->seq = st.next_seq + j;
			r->recv_ns = t + (int64_t)(i + j);
			r->listener.p = (const uint8_t *)"tcp://127.0.0.1:6514";
			r->listener.len = 20;
			r->peer.p = (const uint8_t *)"127.0.0.1:40000";
			r->peer.len = 15;
			r->raw.p = p;
			r->raw.len = len;
			r->has_parsed = cst_syslog_parse(p, len, r->recv_ns,
			    &r->parsed) == 0;
		}
		if (cst_sealer_build(s, recs, k, &d) != 0)
			goto err0;
		frame.len = 0;
		if (cst_block_finish(&d, &st, ek, now_ns(), &frame, NULL) != 0 ||
		    cst_segw_append(w, frame.p, frame.len) != 0)
			goto err0;
	}
	t = now_ns();
	frame.len = 0;
	if (cst_draft_build_seal(&d, st.next_seq, t) != 0 ||
	    cst_block_finish(&d, &st, ek, t, &frame, head) != 0 ||
	    cst_segw_append(w, frame.p, frame.len) != 0)
		goto err0;

	frame.len = 0;
	snprintf(path, sizeof(path), "%s/checkpoints", dir);
	if (mkdir(path, 0700) != 0 ||
	    cst_checkpoint_encode(ek, st.next_block_no, st.next_seq, head, t,
	    &frame) != 0)
		goto err0;
	snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", dir);
	if ((f = fopen(path, "w")) == NULL)
		goto err0;
	if (fwrite(frame.p, 1, frame.len, f) != frame.len) {
		fclose(f);
		goto err0;
	}
	if (fclose(f) != 0)
		goto err0;
	rc = 0;

err0:
	if (cst_segw_close(w) != 0)
		rc = -1;
	free(raw);
	free(recs);
	cst_buf_close(&frame);
	cst_draft_close(&d);
	cst_sealer_free(s);
	cst_epoch_key_free(ek);
	cst_root_key_free(root);
	return (rc);
}

int
main(int argc, char **argv)
{
	static const char *const faults[] = {
		"none", "drop", "dup", "swap", "flip", "tail",
	};
	struct msggen_manifest man;
	struct msggen g;
	struct msg *m = NULL;
	enum fault fault = F_NONE;
	unsigned conns = 4, c, i;
	unsigned long long per = 2000, size = 200;
	size_t n;
	int ch, status = 2;

	memset(&man, 0, sizeof(man));
	memset(&g, 0, sizeof(g));
	while ((ch = getopt(argc, argv, "c:n:s:F:")) != -1) {
		switch (ch) {
		case 'c':
			conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			per = strtoull(optarg, NULL, 10);
			break;
		case 's':
			size = strtoull(optarg, NULL, 10);
			break;
		case 'F':
			for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
				if (strcmp(optarg, faults[i]) == 0)
					break;
			if (i == sizeof(faults) / sizeof(faults[0]))
				goto usage;
			fault = (enum fault)i;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 2 != argc || conns == 0 || conns > MSGGEN_CONN_MAX ||
	    per < 4 || size == 0 || size > MSGGEN_SIZE_MAX)
		goto usage;

	if (msggen_init(&g, "fake", (size_t)size, 1750000000) != 0 ||
	    (m = plan(conns, per, fault, &n)) == NULL)
		goto err;
	memcpy(man.gen, g.gen, sizeof(man.gen));
	man.size = g.size;
	man.base_s = g.base_s;
	snprintf(man.transport, sizeof(man.transport), "tcp");
	snprintf(man.framing, sizeof(man.framing), "octet");
	if ((man.conns = calloc(conns, sizeof(*man.conns))) == NULL)
		goto err;
	man.nconns = conns;
	for (c = 0; c < conns; c++) {
		man.conns[c].conn = c;
		man.conns[c].sent = per;
		man.conns[c].attempted = per;
	}
	if (msggen_manifest_write(&man, argv[optind]) != 0 ||
	    write_store(argv[optind + 1], &g, m, n, fault) != 0)
		goto err;
	status = 0;
	goto out;

usage:
	fprintf(stderr, "usage: fake_store [-c CONNS] [-n PER_CONN] [-s SIZE] "
	    "[-F none|drop|dup|swap|flip|tail] MANIFEST DIR\n");
	goto out;
err:
	fprintf(stderr, "fake_store: failed\n");
out:
	free(m);
	msggen_manifest_close(&man);
	msggen_close(&g);
	return (status);
}
