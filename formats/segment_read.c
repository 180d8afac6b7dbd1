/*
 * Reading segment files (SPEC sections 3 and 9): a read-only mapping, the
 * file names, and the scan crash recovery uses to find where the valid
 * frames of the newest segment end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/mapguard.h"
#include "custody/segment.h"

/*
 * Opens path for reading without blocking on a FIFO (O_NONBLOCK, cleared
 * once the file is known to be regular), following a symbolic link only
 * when follow is set.  Returns as cst_file_open_read() does.
 */
static int
open_regular(const char *path, int follow, int *fd, uint64_t *size)
{
	struct stat st;
	int f, flags, e;

	f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	    (follow ? 0 : O_NOFOLLOW));
	if (f == -1) {
		if (errno == ENOENT)
			return (CST_ENOENT);
		/* O_NOFOLLOW on a symbolic link. */
		return (errno == ELOOP && !follow ? CST_ENOTREG : CST_EIO);
	}
	if (fstat(f, &st) != 0)
		goto err;
	if (!S_ISREG(st.st_mode)) {
		close(f);
		return (CST_ENOTREG);
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX ||
	    (flags = fcntl(f, F_GETFL)) == -1 ||
	    fcntl(f, F_SETFL, flags & ~O_NONBLOCK) == -1)
		goto err;
	*fd = f;
	*size = (uint64_t)st.st_size;
	return (0);

err:
	e = errno;
	close(f);
	errno = e;
	return (CST_EIO);
}

int
cst_file_open_read(const char *path, int *fd, uint64_t *size)
{
	return (open_regular(path, 0, fd, size));
}

int
cst_file_open_named(const char *path, const char *mode, FILE **out)
{
	uint64_t size;
	int fd, rc, e;

	if ((rc = open_regular(path, 1, &fd, &size)) != 0) {
		if (rc == CST_ENOTREG)
			errno = EINVAL;
		return (rc);
	}
	if ((*out = fdopen(fd, mode)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return (CST_EIO);
	}
	return (0);
}

const char *
cst_file_why(int rc)
{
	if (rc == CST_ENOTREG)
		return ("not a regular file");
	return (strerror(errno));
}

/*
 * The data extents of fd (size bytes) into m, when it has holes.  Fewer
 * blocks than bytes is only a hint (compressing file systems report that
 * too); SEEK_DATA and SEEK_HOLE decide, and a file of one extent has no
 * holes.  Returns 0 or CST_ENOMEM; where the file system cannot say, the
 * file counts as all data.
 */
static int
map_extents(cst_map *m, int fd, uint64_t size, const struct stat *st)
{
	cst_extent *e = NULL, *ne;
	size_t n = 0, cap = 0;
	uint64_t data = 0;
	off_t d, h = 0;

	if ((uint64_t)st->st_blocks * 512u >= size)
		return (0);
	while ((uint64_t)h < size) {
		if ((d = lseek(fd, h, SEEK_DATA)) == -1) {
			if (errno == ENXIO)
				break;
			free(e);
			return (0);
		}
		if ((h = lseek(fd, d, SEEK_HOLE)) == -1 || h <= d) {
			free(e);
			return (0);
		}
		if ((uint64_t)h > size)
			h = (off_t)size;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((ne = realloc(e, cap * sizeof(*e))) == NULL) {
				free(e);
				return (CST_ENOMEM);
			}
			e = ne;
		}
		e[n].off = (uint64_t)d;
		e[n].len = (uint64_t)(h - d);
		data += e[n].len;
		n++;
	}
	if (data == size) {
		free(e);
		return (0);
	}
	m->holes = size - data;
	m->data = e;
	m->ndata = n;
	/* A file with no data at all is one hole: an empty list, not NULL. */
	if (m->data == NULL && (m->data = malloc(sizeof(*e))) == NULL)
		return (CST_ENOMEM);
	return (0);
}

int
cst_map_open(const char *path, cst_map *out)
{
	/* What an empty map points at: p is never NULL. */
	static const uint8_t empty[1];
	struct stat st;
	uint64_t size;
	void *p;
	int fd, rc, slot;

	memset(out, 0, sizeof(*out));
	if ((rc = cst_file_open_read(path, &fd, &size)) != 0)
		return (rc);
	if (size == 0) {
		out->p = empty;
		close(fd);
		return (0);
	}
	rc = CST_EIO;
	if (fstat(fd, &st) != 0)
		goto err;
	if ((rc = map_extents(out, fd, size, &st)) != 0)
		goto err;
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = CST_EIO;
		goto err;
	}
	out->p = p;
	out->len = (size_t)size;
	if ((slot = cst_mapguard_add(p, (size_t)size)) >= 0)
		out->guard = slot + 1;
	close(fd);
	return (0);

err:
	free(out->data);
	memset(out, 0, sizeof(*out));
	close(fd);
	return (rc);
}

int
cst_map_shrank(const cst_map *m)
{

	return (m->guard > 0 && cst_mapguard_faulted(m->guard - 1));
}

void
cst_map_will_read(const cst_map *m)
{
	void *p = (void *)(uintptr_t)m->p;
	size_t i;

	if (m->len == 0)
		return;
	/* Holes are never read: populating them would fill memory. */
	if (m->data != NULL) {
		for (i = 0; i < m->ndata; i++)
			(void)madvise((uint8_t *)p + (m->data[i].off &
			    ~(uint64_t)4095), (size_t)(m->data[i].len +
			    (m->data[i].off & 4095)), MADV_WILLNEED);
		return;
	}
#ifdef MADV_POPULATE_READ
	if (madvise(p, m->len, MADV_POPULATE_READ) == 0)
		return;
#endif
	/* Older kernels: at least read ahead. */
	(void)madvise(p, m->len, MADV_WILLNEED);
}

void
cst_map_close(cst_map *m)
{

	if (m->guard > 0)
		(void)cst_mapguard_remove(m->guard - 1);
	if (m->len > 0)
		munmap((void *)(uintptr_t)m->p, m->len);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

void
cst_segment_name(uint64_t n, char out[32])
{

	snprintf(out, 32, "seg-%010" PRIu64 ".cst", n);
}

/*
 * R-KEY-2 for frame f, whose previous block had key epoch prev (0 for
 * block 0; UINT32_MAX when the previous block is in an earlier segment and
 * unknown here), with the keys of key's certificates.  Returns the signing
 * key's public key, or NULL when the rule is broken.
 */
static const uint8_t *
frame_key(const cst_frame *f, uint32_t prev, const cst_epoch_key *key)
{
	uint8_t cert[CST_CERT_LEN];
	const cst_cert *c;
	uint32_t e = f->hdr.key_epoch;

	if (e < 1 || e > key->epoch)
		return (NULL);
	c = &key->certs[e - 1];
	/* Each epoch signs from its valid_from up to the next one's. */
	if (f->hdr.block_no < c->valid_from || (e < key->epoch &&
	    f->hdr.block_no >= key->certs[e].valid_from))
		return (NULL);
	if (f->cert != NULL) {
		cst_cert_encode(c, cert);
		if (memcmp(cert, f->cert, CST_CERT_LEN) != 0 ||
		    c->valid_from != f->hdr.block_no)
			return (NULL);
		if (prev != UINT32_MAX && e != prev + 1)
			return (NULL);
	} else {
		if (prev != UINT32_MAX && e != prev)
			return (NULL);
		/* The first block of an epoch carries its certificate. */
		if (c->valid_from == f->hdr.block_no)
			return (NULL);
	}
	return (c->public_key);
}

int
cst_segment_scan(const uint8_t *buf, size_t len, const cst_epoch_key *key,
    cst_scan *out)
{
	uint8_t hash[CST_HASH_LEN], prev_hash[CST_HASH_LEN];
	const uint8_t *pk;
	const cst_blk_hdr *h;
	cst_resync rs = { CST_RESYNC_STOP, NULL, NULL, NULL };
	cst_frame_walk w;
	cst_frame f;
	uint64_t block_no, seq;
	uint32_t prev_epoch;

	memset(out, 0, sizeof(*out));
	if (cst_seg_hdr_decode(buf, len, &out->hdr) != 0)
		return (CST_ECORRUPT);
	if (memcmp(out->hdr.chain_id, key->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (CST_EFOREIGN);

	/* R-SEG-3: the first block continues what the header says. */
	cst_frame_walk_init(&w, buf, len, CST_SEG_HDR_LEN, &rs);
	block_no = out->hdr.first_block_no;
	seq = out->hdr.first_seq;
	memcpy(prev_hash, out->hdr.prev_hash, CST_HASH_LEN);
	prev_epoch = block_no == 0 ? 0 : UINT32_MAX;
	out->valid_len = w.pos;
	out->next_seq = seq;

	/* Stop at the first frame that is partial or breaks a rule (R-REC-5). */
	while (w.pos < len) {
		if (cst_frame_walk_next(&w, &f) != 0)
			break;
		h = &f.hdr;
		/* R-BLK-6, R-BLK-7. */
		if (memcmp(h->chain_id, out->hdr.chain_id,
		    CST_CHAIN_ID_LEN) != 0 ||
		    h->segment_no != out->hdr.segment_no ||
		    h->block_no != block_no || h->first_seq != seq ||
		    memcmp(h->prev_hash, prev_hash, CST_HASH_LEN) != 0 ||
		    seq > UINT64_MAX - h->record_count)
			break;
		/* R-BLK-8, R-BLK-9: what the next block's numbers rely on. */
		if ((h->type == CST_BLOCK_SEAL) != (h->record_count == 0))
			break;
		/* R-KEY-2, R-BLK-3. */
		if ((pk = frame_key(&f, prev_epoch, key)) == NULL ||
		    cst_frame_verify_sig(&f, pk) != 0)
			break;
		/* R-BLK-4, the part that needs no decompression. */
		cst_hash_domain(CST_D_PAYLOAD, f.payload, h->payload_len, hash);
		if (sodium_memcmp(hash, h->payload_hash, CST_HASH_LEN) != 0)
			break;

		out->valid_len = w.pos;
		out->blocks++;
		out->last = f;
		out->epoch = h->key_epoch;
		seq += h->record_count;
		out->next_seq = seq;
		block_no++;
		memcpy(prev_hash, f.block_hash, CST_HASH_LEN);
		prev_epoch = h->key_epoch;
		/* R-SEG-4: nothing valid follows a seal. */
		if (h->type == CST_BLOCK_SEAL) {
			out->sealed = 1;
			break;
		}
	}
	return (0);
}
