/*
 * The chain tree's node store (SPEC section 13.4): level files of
 * perfect-subtree nodes, appended as blocks are written, read with
 * pread() by proof requests from any thread.
 *
 * Durability: node writes are not synced one by one.  treestore_sync
 * (called now and then by the writer, and at close) syncs the level files
 * written since and then records the size they hold in tree/synced; at
 * open only nodes below that size are trusted, and the rest is
 * recomputed from the segments, which are the evidence: a crash costs a
 * rebuild of the nodes of the blocks since the last sync, nothing more.  The last leaf is then checked against the chain's head;
 * a mismatch rebuilds everything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/segment.h"
#include "custody/tlog.h"

#include "log.h"
#include "treestore.h"

#define PATH_LEN 4096
#define H CST_HASH_LEN
#define SYNCED_MAGIC "custody-tree-v1 "

struct treestore {
	pthread_mutex_t mtx;
	uint64_t size;               /* published; under mtx */
	cst_tlog_frontier f;         /* of size; under mtx */
	int fd[CST_TLOG_LEVELS];     /* -1: not open yet */
	int broken;                  /* writer thread only */
	int werr;                    /* errno of a failed node write */
	uint64_t dirty;              /* bit l: level l written, not synced */
	char dir[PATH_LEN];
};

#define seterr(err, ...) log_seterr(err, TREESTORE_ERR_LEN, __VA_ARGS__)

/* Opens level l's file (creating it) if it is not open.  Writer side. */
static int
level_open(struct treestore *ts, unsigned l)
{
	char path[PATH_LEN];

	if (ts->fd[l] != -1)
		return (0);
	if (snprintf(path, sizeof(path), "%s/level-%02u", ts->dir, l) >=
	    (int)sizeof(path))
		return (CST_EIO);
	if ((ts->fd[l] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) ==
	    -1)
		return (cst_err_from_errno(errno));
	return (0);
}

static int
node_read(struct treestore *ts, unsigned l, uint64_t i, uint8_t out[H])
{
	ssize_t n;

	if (l >= CST_TLOG_LEVELS || ts->fd[l] == -1 || i > (UINT64_MAX / H))
		return (CST_EIO);
	do
		n = pread(ts->fd[l], out, H, (off_t)(i * H));
	while (n == -1 && errno == EINTR);
	return (n == H ? 0 : CST_EIO);
}

static int
node_fn(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{

	return (node_read(arg, level, index, out));
}

/* The frontier callback: writes each completed node to its level file. */
static void
node_done(void *arg, unsigned l, uint64_t i, const uint8_t hash[H])
{
	struct treestore *ts = arg;
	ssize_t n;

	if (ts->werr != 0)
		return;
	if (level_open(ts, l) != 0) {
		ts->werr = errno != 0 ? errno : EIO;
		return;
	}
	ts->dirty |= UINT64_C(1) << l;
	do
		n = pwrite(ts->fd[l], hash, H, (off_t)(i * H));
	while (n == -1 && errno == EINTR);
	if (n != H)
		ts->werr = n == -1 ? errno : EIO;
}

int
treestore_append(struct treestore *ts, const uint8_t block_hash[H])
{
	cst_tlog_frontier f;
	uint8_t leaf[H];

	if (ts->broken)
		return (CST_EIO);
	/* Only this thread changes f: a copy read without the lock is exact. */
	f = ts->f;
	cst_tlog_leaf(block_hash, leaf);
	ts->werr = 0;
	if (cst_tlog_frontier_append(&f, leaf, node_done, ts) != 0 ||
	    ts->werr != 0) {
		ts->broken = 1;
		return (ts->werr != 0 ? cst_err_from_errno(ts->werr) : CST_EIO);
	}
	pthread_mutex_lock(&ts->mtx);
	ts->f = f;
	ts->size = f.size;
	pthread_mutex_unlock(&ts->mtx);
	return (0);
}

uint64_t
treestore_size(struct treestore *ts)
{
	uint64_t n;

	pthread_mutex_lock(&ts->mtx);
	n = ts->size;
	pthread_mutex_unlock(&ts->mtx);
	return (n);
}

int
treestore_root(struct treestore *ts, uint64_t size, uint8_t out[H])
{
	int cur;

	pthread_mutex_lock(&ts->mtx);
	cur = size == ts->size;
	if (cur)
		cst_tlog_frontier_root(&ts->f, out);
	else if (size > ts->size) {
		pthread_mutex_unlock(&ts->mtx);
		return (CST_EINVAL);
	}
	pthread_mutex_unlock(&ts->mtx);
	return (cur ? 0 : cst_tlog_root_at(size, node_fn, ts, out));
}

int
treestore_inclusion(struct treestore *ts, uint64_t index, uint64_t size,
    uint8_t (*proof)[H], size_t *proof_len)
{

	if (size > treestore_size(ts))
		return (CST_EINVAL);
	return (cst_tlog_inclusion_proof(index, size, node_fn, ts, proof,
	    proof_len));
}

int
treestore_consistency(struct treestore *ts, uint64_t m, uint64_t n,
    uint8_t (*proof)[H], size_t *proof_len)
{

	if (n > treestore_size(ts))
		return (CST_EINVAL);
	return (cst_tlog_consistency_proof(m, n, node_fn, ts, proof,
	    proof_len));
}

int
treestore_sync(struct treestore *ts)
{
	char path[PATH_LEN], tmp[PATH_LEN], line[64];
	unsigned l;
	int fd, n, rc = CST_EIO;

	if (ts->broken)
		return (CST_EIO);
	/* Only the levels written since: a few files, not all of them. */
	for (l = 0; l < CST_TLOG_LEVELS; l++)
		if (((ts->dirty >> l) & 1) && ts->fd[l] != -1 &&
		    fdatasync(ts->fd[l]) != 0)
			return (cst_err_from_errno(errno));
	ts->dirty = 0;
	n = snprintf(line, sizeof(line), SYNCED_MAGIC "%" PRIu64 "\n",
	    ts->f.size);
	if (snprintf(path, sizeof(path), "%s/synced", ts->dir) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp), "%s/.synced.tmp",
	    ts->dir) >= (int)sizeof(tmp))
		return (CST_EIO);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		return (cst_err_from_errno(errno));
	if (write(fd, line, (size_t)n) != n || fdatasync(fd) != 0) {
		rc = cst_err_from_errno(errno);
		close(fd);
		return (rc);
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		return (cst_err_from_errno(errno));
	return (0);
}

/* The size tree/synced records, or 0. */
static uint64_t
synced_size(const char *dir)
{
	char path[PATH_LEN], buf[64], *end;
	unsigned long long v;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/synced", dir) >= (int)sizeof(path)
	    || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= (ssize_t)strlen(SYNCED_MAGIC))
		return (0);
	buf[n] = '\0';
	if (strncmp(buf, SYNCED_MAGIC, strlen(SYNCED_MAGIC)) != 0)
		return (0);
	errno = 0;
	v = strtoull(buf + strlen(SYNCED_MAGIC), &end, 10);
	if (errno != 0 || *end != '\n')
		return (0);
	return ((uint64_t)v);
}

/*
 * Keeps the first keep leaves: cuts every level file to the nodes of a
 * tree of keep leaves, and rebuilds the frontier from them.
 */
static int
cut_to(struct treestore *ts, uint64_t keep)
{
	char path[PATH_LEN];
	struct stat st;
	unsigned l;
	int rc;

	cst_tlog_frontier_init(&ts->f);
	for (l = 0; l < CST_TLOG_LEVELS; l++) {
		if ((keep >> l) == 0 && l > 0) {
			/* Nodes of leaves no longer kept: none at this level. */
			if (ts->fd[l] != -1) {
				close(ts->fd[l]);
				ts->fd[l] = -1;
			}
			if (snprintf(path, sizeof(path), "%s/level-%02u",
			    ts->dir, l) < (int)sizeof(path) &&
			    truncate(path, 0) != 0 && errno != ENOENT)
				return (cst_err_from_errno(errno));
			continue;
		}
		if ((rc = level_open(ts, l)) != 0)
			return (rc);
		if (fstat(ts->fd[l], &st) != 0)
			return (cst_err_from_errno(errno));
		if ((uint64_t)st.st_size / H < (keep >> l))
			return (CST_ENOENT);
		if (ftruncate(ts->fd[l], (off_t)((keep >> l) * H)) != 0)
			return (cst_err_from_errno(errno));
		if (((keep >> l) & 1) &&
		    (rc = node_read(ts, l, (keep >> l) - 1, ts->f.node[l])) != 0)
			return (rc);
	}
	ts->f.size = keep;
	ts->size = keep;
	return (0);
}

/* The usable prefix of the stored nodes: synced, complete, within blocks. */
static uint64_t
usable(struct treestore *ts, uint64_t blocks)
{
	uint64_t s = synced_size(ts->dir);

	if (s > blocks)
		s = blocks;
	while (s > 0 && cut_to(ts, s) == CST_ENOENT)
		s = 0;
	return (s);
}

static int
is_segment(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	/* cst_segment_name's form: seg-<10 digits>.cst */
	return (n == 18 && strncmp(e->d_name, "seg-", 4) == 0 &&
	    strcmp(e->d_name + 14, ".cst") == 0);
}

/*
 * Appends the block hashes of blocks ts->size..blocks-1, read from the
 * segments in segment order.
 */
static int
fill(struct treestore *ts, const char *segdir, uint64_t blocks, char *err)
{
	struct dirent **ents;
	cst_resync rs = { CST_RESYNC_STOP, NULL, NULL, NULL };
	cst_frame_walk w;
	cst_frame fr;
	cst_map m;
	char path[PATH_LEN];
	int i, n, rc = 0;

	if (ts->size >= blocks)
		return (0);
	if ((n = scandir(segdir, &ents, is_segment, alphasort)) < 0) {
		seterr(err, "%s: %s", segdir, strerror(errno));
		return (cst_err_from_errno(errno));
	}
	for (i = 0; i < n && rc == 0 && ts->size < blocks; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", segdir,
		    ents[i]->d_name) >= (int)sizeof(path)) {
			rc = CST_EIO;
			break;
		}
		if ((rc = cst_map_open(path, &m)) != 0) {
			seterr(err, "%s: %s", path, cst_strerror(rc));
			break;
		}
		cst_frame_walk_init(&w, m.p, m.len, CST_SEG_HDR_LEN, &rs);
		while (rc == 0 && ts->size < blocks && w.pos < m.len &&
		    cst_frame_walk_next(&w, &fr) == 0) {
			if (fr.hdr.block_no < ts->size)
				continue;
			if (fr.hdr.block_no > ts->size) {
				seterr(err, "%s: block %" PRIu64 " where block "
				    "%" PRIu64 " was expected", path,
				    fr.hdr.block_no, ts->size);
				rc = CST_ECORRUPT;
				break;
			}
			if ((rc = treestore_append(ts, fr.block_hash)) != 0)
				seterr(err, "%s/level-*: %s", ts->dir,
				    cst_strerror(rc));
		}
		cst_map_close(&m);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc == 0 && ts->size < blocks) {
		seterr(err, "%s: the segments hold %" PRIu64 " blocks, the "
		    "chain %" PRIu64, segdir, ts->size, blocks);
		rc = CST_ECORRUPT;
	}
	return (rc);
}

int
treestore_open(const char *data_dir, uint64_t blocks, const uint8_t head[H],
    struct treestore **out, char err[TREESTORE_ERR_LEN])
{
	struct treestore *ts;
	char segdir[PATH_LEN];
	uint8_t leaf[H], want[H];
	unsigned l;
	int rc, pass;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	for (l = 0; l < CST_TLOG_LEVELS; l++)
		ts->fd[l] = -1;
	pthread_mutex_init(&ts->mtx, NULL);
	rc = CST_EIO;
	if (snprintf(ts->dir, sizeof(ts->dir), "%s/tree", data_dir) >=
	    (int)sizeof(ts->dir) || snprintf(segdir, sizeof(segdir),
	    "%s/segments", data_dir) >= (int)sizeof(segdir)) {
		seterr(err, "%s: path too long", data_dir);
		goto err1;
	}
	if (mkdir(ts->dir, 0700) != 0 && errno != EEXIST) {
		rc = cst_err_from_errno(errno);
		seterr(err, "%s: %s", ts->dir, strerror(errno));
		goto err1;
	}
	for (pass = 0; pass < 2; pass++) {
		/* Pass 1 distrusts every stored node. */
		if ((rc = cut_to(ts, pass == 0 ? usable(ts, blocks) : 0)) != 0) {
			seterr(err, "%s: %s", ts->dir, cst_strerror(rc));
			goto err1;
		}
		if ((rc = fill(ts, segdir, blocks, err)) != 0)
			goto err1;
		if (blocks == 0)
			break;
		cst_tlog_leaf(head, want);
		if ((rc = node_read(ts, 0, blocks - 1, leaf)) != 0) {
			seterr(err, "%s/level-00: %s", ts->dir,
			    cst_strerror(rc));
			goto err1;
		}
		if (memcmp(leaf, want, H) == 0)
			break;
		rc = CST_ECORRUPT;
		seterr(err, "%s: the last leaf is not the chain's head block",
		    ts->dir);
	}
	if (rc != 0)
		goto err1;
	if ((rc = treestore_sync(ts)) != 0) {
		seterr(err, "%s: %s", ts->dir, cst_strerror(rc));
		goto err1;
	}
	*out = ts;
	return (0);

err1:
	treestore_close(ts);
	return (rc);
}

void
treestore_close(struct treestore *ts)
{
	unsigned l;

	if (ts == NULL)
		return;
	/* Best effort: what is not synced is recomputed at the next open. */
	if (!ts->broken && ts->dirty != 0)
		(void)treestore_sync(ts);
	for (l = 0; l < CST_TLOG_LEVELS; l++)
		if (ts->fd[l] != -1)
			close(ts->fd[l]);
	pthread_mutex_destroy(&ts->mtx);
	free(ts);
}
