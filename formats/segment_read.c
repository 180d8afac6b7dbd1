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
#include "custody/segment.h"

int
cst_map_open(const char *path, cst_map *out)
{
	/* What an empty map points at: p is never NULL. */
	static const uint8_t empty[1];
	struct stat st;
	void *p;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		rc = errno == ENOENT ? CST_ENOENT : CST_EIO;
		goto err0;
	}
	rc = CST_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > SIZE_MAX)
		goto err1;
	if (st.st_size == 0) {
		out->p = empty;
		out->len = 0;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
		    0);
		if (p == MAP_FAILED)
			goto err1;
		out->p = p;
		out->len = (size_t)st.st_size;
	}
	close(fd);
	return (0);

err1:
	close(fd);
err0:
	return (rc);
}

void
cst_map_will_read(const cst_map *m)
{
	void *p = (void *)(uintptr_t)m->p;

	if (m->len == 0)
		return;
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

	if (m->len > 0)
		munmap((void *)(uintptr_t)m->p, m->len);
	m->p = NULL;
	m->len = 0;
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
