/*
 * Crash recovery at start (SPEC section 9, R-REC-5, R-REC-6).
 *
 * Only the newest segment can be torn: the writer seals a segment (R-SEG-4)
 * before it creates the next.  The bytes cut are copied into quarantine/
 * and made durable before the segment is truncated, so a crash during
 * recovery leaves them in one place or the other, never in neither.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/segment.h"

#include "recovery.h"
#include "log.h"

#define PATH_LEN 4096

/* What the last frame of a segment says about the chain after it. */
struct seg_end {
	int blocks;
	int sealed;
	uint64_t next_block_no;
	uint64_t next_seq;
	uint8_t prev_hash[CST_HASH_LEN];
	uint32_t epoch;
};

/* The reason for a failure, into err (RECOVERY_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, RECOVERY_ERR_LEN, __VA_ARGS__)

static int
path_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", a, b);

	return (n < 0 || n >= PATH_LEN ? CST_ETOOBIG : 0);
}

/* Parses "seg-NNNNNNNNNN.cst" exactly. */
static int
segment_number(const char *name, uint64_t *n)
{
	uint64_t v = 0;
	int i;

	if (strlen(name) != 18 || strncmp(name, "seg-", 4) != 0 ||
	    strcmp(name + 14, ".cst") != 0)
		return (-1);
	for (i = 4; i < 14; i++) {
		if (name[i] < '0' || name[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*n = v;
	return (0);
}

int
recovery_newest_segment(const char *dir, uint64_t *n)
{
	struct dirent *de;
	DIR *d;
	uint64_t v, best = 0;
	int found = 0;

	if ((d = opendir(dir)) == NULL)
		return (cst_err_from_errno(errno));
	while ((de = readdir(d)) != NULL) {
		if (segment_number(de->d_name, &v) != 0)
			continue;
		if (!found || v > best)
			best = v;
		found = 1;
	}
	closedir(d);
	if (!found)
		return (CST_ENOENT);
	*n = best;
	return (0);
}

static int
sync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (cst_err_from_errno(errno));
	if (fsync(fd) != 0)
		rc = cst_err_from_errno(errno);
	close(fd);
	return (rc);
}

/*
 * Walks the frames of segment path by their headers alone, for the chain
 * state its last frame leaves.  Used for a sealed, older segment, whose
 * signatures the verifier checks; here only its end matters.
 */
static int
segment_end(const char *path, struct seg_end *out, char *err)
{
	cst_seg_hdr hdr;
	cst_frame f;
	cst_map m;
	size_t off;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cst_map_open(path, &m)) != 0) {
		seterr(err, "%s: %s", path, cst_strerror(rc));
		return (rc);
	}
	if (cst_seg_hdr_decode(m.p, m.len, &hdr) != 0)
		goto corrupt;
	off = CST_SEG_HDR_LEN;
	while (off < m.len) {
		if (cst_frame_parse(m.p + off, m.len - off, &f) != 0)
			goto corrupt;
		out->blocks = 1;
		out->sealed = f.hdr.type == CST_BLOCK_SEAL;
		out->next_block_no = f.hdr.block_no + 1;
		out->next_seq = f.hdr.first_seq + f.hdr.record_count;
		memcpy(out->prev_hash, f.block_hash, CST_HASH_LEN);
		out->epoch = f.hdr.key_epoch;
		off += f.frame_len;
	}
	cst_map_close(&m);
	return (0);

corrupt:
	cst_map_close(&m);
	seterr(err, "%s: damaged before its end; verify the store", path);
	return (CST_ECORRUPT);
}

/*
 * Writes data[0..len) to a new file dir/name, durably (file and name).
 * On failure the file is removed: the bytes are still where they were
 * copied from, and a start retried on a full disk (every 2 s under
 * Restart=on-failure) must not leave a torn copy behind each time.
 * Returns 0 or the cause (cst_err_from_errno()).
 */
static int
write_new_file(const char *dir, const char *name, const uint8_t *data,
    size_t len)
{
	char path[PATH_LEN];
	ssize_t n;
	int fd, rc;

	if ((rc = path_join(path, dir, name)) != 0)
		goto err0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			rc = cst_err_from_errno(errno);
			goto err1;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = cst_err_from_errno(errno);
		goto err1;
	}
	if (close(fd) != 0) {
		rc = cst_err_from_errno(errno);
		goto err2;
	}
	if ((rc = sync_dir(dir)) != 0)
		goto err2;
	return (0);

err1:
	close(fd);
err2:
	unlink(path);
err0:
	return (rc);
}

/*
 * Where the bytes cut[0..len) of segment n from offset at go (R-REC-5):
 * makes quarantine/ (qdir), names the file in out->quarantine (qpath, its
 * path; both PATH_LEN) and puts their SHA-256 in out->cut_sha256.
 * Returns 0 or a negative code with err set.
 */
static int
quarantine_name(const char *data_dir, uint64_t n, size_t at,
    const uint8_t *cut, size_t len, int64_t now_ns, struct recovery *out,
    char *qdir, char *qpath, char *err)
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	char name[32];
	int rc;

	if ((rc = path_join(qdir, data_dir, "quarantine")) != 0)
		return (rc);
	if (mkdir(qdir, 0700) != 0 && errno != EEXIST) {
		rc = cst_err_from_errno(errno);
		seterr(err, "%s: %s", qdir, cst_strerror(rc));
		return (rc);
	}
	cst_segment_name(n, name);
	snprintf(out->quarantine, sizeof(out->quarantine),
	    "%s.at%zu.%" PRId64 ".torn", name, at, now_ns);
	crypto_hash_sha256(digest, cut, len);
	cst_hex(digest, sizeof(digest), out->cut_sha256);
	return (path_join(qpath, qdir, out->quarantine));
}

/*
 * Moves seg[valid_len..len) of segment n aside (R-REC-5): into
 * quarantine/ first, durably, then truncates the segment.  Fills the
 * recovery record's fields of out.
 */
static int
cut_tail(const char *data_dir, const char *path, uint64_t n,
    const uint8_t *seg, size_t len, size_t valid_len, int64_t now_ns,
    struct recovery *out, char *err)
{
	char qdir[PATH_LEN], qpath[PATH_LEN];
	int fd, rc;

	if ((rc = quarantine_name(data_dir, n, valid_len, seg + valid_len,
	    len - valid_len, now_ns, out, qdir, qpath, err)) != 0)
		goto err0;
	if ((rc = write_new_file(qdir, out->quarantine, seg + valid_len,
	    len - valid_len)) != 0) {
		seterr(err, "%s: cannot write the torn tail: %s", qpath,
		    cst_strerror(rc));
		goto err0;
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    ftruncate(fd, (off_t)valid_len) != 0) {
		/* The segment is as it was: the copy would only pile up. */
		rc = cst_err_from_errno(errno);
		if (fd != -1)
			close(fd);
		unlink(qpath);
		goto cut;
	}
	/* Cut, maybe durably: the copy is now the only one left. */
	if (fsync(fd) != 0) {
		rc = cst_err_from_errno(errno);
		close(fd);
		goto cut;
	}
	close(fd);
	out->unclean = 1;
	out->segment_no = n;
	out->valid_len = valid_len;
	out->cut_len = len - valid_len;
	return (0);

cut:
	seterr(err, "%s: cannot cut at %zu: %s", path, valid_len,
	    cst_strerror(rc));
err0:
	return (rc);
}

/*
 * A header torn while segment n was being created: the whole file is the
 * tail.  It is renamed into quarantine/, then the chain continues from
 * segment n - 1, which must be sealed (the writer seals before it
 * creates), as a new segment n.
 */
static int
cut_whole(const char *data_dir, const char *segdir, const char *path,
    uint64_t n, const cst_map *m, int64_t now_ns, struct recovery *out,
    char *err)
{
	char qdir[PATH_LEN], qpath[PATH_LEN], prev[PATH_LEN];
	char name[32];
	struct seg_end end;
	int rc;

	memset(&end, 0, sizeof(end));
	if (n > 0) {
		cst_segment_name(n - 1, name);
		if ((rc = path_join(prev, segdir, name)) != 0)
			goto err0;
		if ((rc = segment_end(prev, &end, err)) != 0)
			goto err0;
		if (!end.sealed) {
			seterr(err, "%s: bad header, and %s is not sealed: "
			    "verify the store", path, prev);
			rc = CST_ECORRUPT;
			goto err0;
		}
	}
	if ((rc = quarantine_name(data_dir, n, 0, m->p, m->len, now_ns, out,
	    qdir, qpath, err)) != 0)
		goto err0;
	if (rename(path, qpath) != 0)
		rc = cst_err_from_errno(errno);
	else if ((rc = sync_dir(qdir)) == 0)
		rc = sync_dir(segdir);
	if (rc != 0) {
		seterr(err, "%s: cannot move to %s: %s", path, qpath,
		    cst_strerror(rc));
		goto err0;
	}
	out->unclean = 1;
	out->segment_no = n;
	out->valid_len = 0;
	out->cut_len = m->len;
	out->st.segment_no = n;
	if (n > 0) {
		out->st.next_block_no = end.next_block_no;
		out->st.next_seq = end.next_seq;
		memcpy(out->st.prev_hash, end.prev_hash, CST_HASH_LEN);
		out->st.epoch = end.epoch;
		out->last_block_no = (int64_t)end.next_block_no - 1;
	}
	return (0);

err0:
	return (rc);
}

/* R-KEY-2: can key sign the chain's next block? */
static int
check_key(const cst_epoch_key *key, const cst_chain_state *st, char *err)
{
	const cst_cert *c;

	if (key->epoch == st->epoch)
		return (0);
	c = &key->certs[key->epoch - 1];
	if (key->epoch == st->epoch + 1 && c->valid_from == st->next_block_no)
		return (0);
	seterr(err, "the epoch key is epoch %" PRIu32 " (valid from block %"
	    PRIu64 ") but the chain is at epoch %" PRIu32 ", next block %"
	    PRIu64 ": wrong or restored key file", key->epoch, c->valid_from,
	    st->epoch, st->next_block_no);
	return (CST_EKEY);
}

int
recovery_run(const char *data_dir, const cst_epoch_key *key,
    int64_t now_ns, struct recovery *out, char err[RECOVERY_ERR_LEN])
{
	char segdir[PATH_LEN], path[PATH_LEN], prev[PATH_LEN];
	char name[32];
	struct seg_end end;
	cst_scan scan;
	cst_map m;
	uint64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	out->last_block_no = -1;
	memcpy(out->st.chain_id, key->chain_id, CST_CHAIN_ID_LEN);
	if ((rc = path_join(segdir, data_dir, "segments")) != 0) {
		seterr(err, "%s: path too long", data_dir);
		goto err0;
	}
	rc = recovery_newest_segment(segdir, &n);
	if (rc == CST_ENOENT) {
		out->fresh = 1;
		goto done;
	}
	if (rc != 0) {
		seterr(err, "%s: cannot list: %s", segdir, cst_strerror(rc));
		goto err0;
	}
	cst_segment_name(n, name);
	if ((rc = path_join(path, segdir, name)) != 0)
		goto err0;
	if ((rc = cst_map_open(path, &m)) != 0) {
		seterr(err, "%s: %s", path, cst_strerror(rc));
		goto err0;
	}

	rc = cst_segment_scan(m.p, m.len, key, &scan);
	if (rc == CST_EFOREIGN) {
		seterr(err, "%s belongs to another chain than the key in "
		    "keys/", path);
		goto err1;
	}
	if (rc != 0) {
		rc = cut_whole(data_dir, segdir, path, n, &m, now_ns, out,
		    err);
		cst_map_close(&m);
		if (rc != 0)
			goto err0;
		goto done;
	}
	if (scan.hdr.segment_no != n) {
		seterr(err, "%s says it is segment %" PRIu64, path,
		    scan.hdr.segment_no);
		rc = CST_ECORRUPT;
		goto err1;
	}

	/* Where the chain stands after the last valid frame. */
	out->st.segment_no = n;
	if (scan.blocks > 0) {
		out->st.next_block_no = scan.last.hdr.block_no + 1;
		out->st.next_seq = scan.next_seq;
		memcpy(out->st.prev_hash, scan.last.block_hash, CST_HASH_LEN);
		out->st.epoch = scan.epoch;
		out->last_block_no = (int64_t)scan.last.hdr.block_no;
	} else {
		out->st.next_block_no = scan.hdr.first_block_no;
		out->st.next_seq = scan.hdr.first_seq;
		memcpy(out->st.prev_hash, scan.hdr.prev_hash, CST_HASH_LEN);
		out->last_block_no = (int64_t)scan.hdr.first_block_no - 1;
	}
	out->seg_created_ns = scan.hdr.created_ns;

	if (scan.valid_len < m.len) {
		rc = cut_tail(data_dir, path, n, m.p, m.len,
		    (size_t)scan.valid_len, now_ns, out, err);
		if (rc != 0)
			goto err1;
	}
	cst_map_close(&m);

	if (scan.blocks == 0 && n > 0) {
		/* The epoch is in the previous segment's last frame. */
		cst_segment_name(n - 1, name);
		if ((rc = path_join(prev, segdir, name)) != 0)
			goto err0;
		if ((rc = segment_end(prev, &end, err)) != 0)
			goto err0;
		out->st.epoch = end.epoch;
	}

	if (scan.sealed) {
		out->st.segment_no = n + 1;
	} else {
		/* R-REC-6: go on in the same segment; the stop was unclean. */
		out->append = 1;
		out->append_len = scan.valid_len;
		if (!out->unclean) {
			out->unclean = 1;
			out->segment_no = n;
			out->valid_len = scan.valid_len;
		}
	}

done:
	if ((rc = check_key(key, &out->st, err)) != 0)
		goto err0;
	return (0);

err1:
	cst_map_close(&m);
err0:
	if (err[0] == '\0')
		seterr(err, "recovery: %s", cst_strerror(rc));
	return (rc);
}
