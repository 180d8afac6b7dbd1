/*
 * custody-natspub: publishes a store to a NATS JetStream stream in the
 * layout of SPEC section 17, as a replicating collector would, for the
 * tests of custody-verify --nats and custody-query --nats.  With -F it
 * then publishes one block again with a byte flipped and a new
 * Nats-Msg-Id: what someone with publish rights on the stream could do.
 *
 *   custody-natspub -s URL [-S STREAM] [-F BLOCK:BYTE] DIR
 *
 * Creates the stream (R-REP-1) when absent.  Prints one line: chain,
 * messages published, the stream's last sequence.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "custody/format.h"
#include "custody/natsrep.h"

static jsCtx *js;
static char chain[33];
static uint64_t published;

static void
die(const char *what, natsStatus s)
{

	fprintf(stderr, "custody-natspub: %s: %s\n", what,
	    natsStatus_GetText(s));
	exit(1);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *p;
	long n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if ((p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return (NULL);
	}
	fclose(f);
	*len = (size_t)n;
	return (p);
}

static void
publish(const char *subj, const uint8_t *data, size_t len, const char *id,
    const char *k1, const char *v1, const char *k2, const char *v2,
    const char *k3, const char *v3)
{
	natsMsg *m = NULL;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if ((s = natsMsg_Create(&m, subj, NULL, (const char *)data,
	    (int)len)) != NATS_OK)
		die("message", s);
	natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (k1 != NULL)
		natsMsgHeader_Set(m, k1, v1);
	if (k2 != NULL)
		natsMsgHeader_Set(m, k2, v2);
	if (k3 != NULL)
		natsMsgHeader_Set(m, k3, v3);
	if ((s = js_PublishMsg(&pa, js, m, NULL, &jerr)) != NATS_OK)
		die(subj, s);
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(m);
	published++;
}

static int
cmp(const void *a, const void *b)
{

	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* The names in dir/sub that start with prefix and end with suffix, sorted. */
static size_t
names(const char *dir, const char *sub, const char *prefix,
    const char *suffix, char ***out)
{
	char path[4096], **v = NULL;
	struct dirent *de;
	size_t n = 0, l;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    l < strlen(suffix) ||
		    strcmp(de->d_name + l - strlen(suffix), suffix) != 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp);
	*out = v;
	return (n);
}

static void
free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
publish_file(const char *dir, const char *sub, const char *name, int key)
{
	char path[4096], subj[128], id[512], hex[65];
	unsigned char h[32];
	uint8_t *p;
	size_t len, i;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if ((p = slurp(path, &len)) == NULL) {
		perror(path);
		exit(1);
	}
	/* SHA-256 without another library: the id only needs to differ. */
	memset(h, 0, sizeof(h));
	for (i = 0; i < len; i++)
		h[i % 32] = (unsigned char)(h[i % 32] * 31 + p[i]);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	if (key) {
		snprintf(subj, sizeof(subj), CST_REP_SUBJ_KEYS, chain);
		snprintf(id, sizeof(id), CST_REP_ID_KEY, chain, name, hex);
	} else {
		snprintf(subj, sizeof(subj), CST_REP_SUBJ_CHECKPOINTS, chain);
		snprintf(id, sizeof(id), CST_REP_ID_CHECKPOINT, chain, name,
		    hex);
	}
	publish(subj, p, len, id, CST_REP_H_NAME, name, NULL, NULL, NULL,
	    NULL);
	free(p);
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *stream = CST_REP_STREAM, *dir;
	natsConnection *nc = NULL;
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char path[4096], subj[128], id[256], v1[32], v2[32], v3[32], **segs,
	    **files;
	const char *subjects[] = { CST_REP_SUBJECTS };
	uint8_t *p, *root, *copy;
	size_t len, rlen, n, i, k, off, flen;
	uint64_t block = 0, fblock = UINT64_MAX, fbyte = 0;
	int c;

	while ((c = getopt(argc, argv, "s:S:F:")) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 'S': stream = optarg; break;
		case 'F':
			if (sscanf(optarg, "%" SCNu64 ":%" SCNu64, &fblock,
			    &fbyte) != 2) {
				fprintf(stderr, "-F BLOCK:BYTE\n");
				return (2);
			}
			break;
		default:
			return (2);
		}
	}
	if (url == NULL || optind + 1 != argc) {
		fprintf(stderr, "usage: custody-natspub -s URL [-S STREAM] "
		    "[-F BLOCK:BYTE] DIR\n");
		return (2);
	}
	dir = argv[optind];
	snprintf(path, sizeof(path), "%s/keys/root.pub", dir);
	if ((root = slurp(path, &rlen)) == NULL || rlen < 16 + 33 ||
	    sscanf((char *)root, "custody-root-v1 %32s", chain) != 1) {
		fprintf(stderr, "custody-natspub: %s: no chain id\n", path);
		return (1);
	}
	free(root);
	if ((s = natsConnection_ConnectTo(&nc, url)) != NATS_OK)
		die(url, s);
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
		die("JetStream", s);
	jsStreamConfig_Init(&cfg);
	cfg.Name = stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Duplicates = CST_REP_DUPLICATE_WINDOW_NS;
	cfg.DenyDelete = true;
	cfg.DenyPurge = true;
	if ((s = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK &&
	    jerr != JSStreamNameExistErr)
		die("creating the stream", s);
	jsStreamInfo_Destroy(si);
	si = NULL;

	files = NULL;
	n = names(dir, "keys", "", ".pub", &files);
	for (i = 0; i < n; i++)
		publish_file(dir, "keys", files[i], 1);
	free_names(files, n);
	segs = NULL;
	n = names(dir, "segments", "seg-", ".cst", &segs);
	for (i = 0; i < n; i++) {
		unsigned long long segno = strtoull(segs[i] + 4, NULL, 10);

		snprintf(path, sizeof(path), "%s/segments/%s", dir, segs[i]);
		if ((p = slurp(path, &len)) == NULL || len < CST_SEG_HDR_LEN) {
			fprintf(stderr, "custody-natspub: %s: unreadable\n",
			    path);
			return (1);
		}
		snprintf(subj, sizeof(subj), CST_REP_SUBJ_SEGMENTS, chain);
		snprintf(id, sizeof(id), CST_REP_ID_SEGMENT, chain, segno);
		snprintf(v1, sizeof(v1), "%llu", segno);
		publish(subj, p, CST_SEG_HDR_LEN, id, CST_REP_H_SEGMENT, v1,
		    NULL, NULL, NULL, NULL);
		snprintf(subj, sizeof(subj), CST_REP_SUBJ_BLOCKS, chain);
		for (off = CST_SEG_HDR_LEN; off + CST_BLK_HDR_LEN <= len;
		    off += flen, block++) {
			uint32_t cert, pay;

			memcpy(&cert, p + off + 60, 4);
			memcpy(&pay, p + off + 64, 4);
			flen = CST_BLK_HDR_LEN + (size_t)cert + pay + 64;
			if (off + flen > len)
				break;
			snprintf(id, sizeof(id), CST_REP_ID_BLOCK, chain,
			    (unsigned long long)block);
			snprintf(v2, sizeof(v2), "%zu", off);
			snprintf(v3, sizeof(v3), "%" PRIu64, block);
			publish(subj, p + off, flen, id, CST_REP_H_SEGMENT,
			    v1, CST_REP_H_OFFSET, v2, CST_REP_H_BLOCK, v3);
			if (block == fblock) {
				if ((copy = malloc(flen)) == NULL)
					return (1);
				memcpy(copy, p + off, flen);
				k = (size_t)(fbyte % flen);
				copy[k] ^= 0x01;
				snprintf(id, sizeof(id), "%s/blk/%" PRIu64
				    "/forged", chain, block);
				publish(subj, copy, flen, id,
				    CST_REP_H_SEGMENT, v1, CST_REP_H_OFFSET,
				    v2, CST_REP_H_BLOCK, v3);
				free(copy);
			}
		}
		free(p);
		free(segs[i]);
	}
	free(segs);
	files = NULL;
	n = names(dir, "checkpoints", "ckpt-", "", &files);
	for (i = 0; i < n; i++)
		publish_file(dir, "checkpoints", files[i], 0);
	free_names(files, n);
	if ((s = js_GetStreamInfo(&si, js, stream, NULL, &jerr)) != NATS_OK)
		die("stream info", s);
	printf("chain=%s published=%" PRIu64 " blocks=%" PRIu64
	    " last_seq=%" PRIu64 "\n", chain, published, block,
	    si->State.LastSeq);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return (0);
}
