/*
 * File digests for the report: SHA-256 and BLAKE2b of every input file.
 * The only user of OpenSSL in formats/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "blake2b.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/segment.h"
#include "verify_int.h"

/*
 * Holes beyond this are not read to digest a file: a sparse file of
 * terabytes would take hours of hashing zeros (R-SEG-7).  Its digests are
 * reported as not computed.
 */
#define DIGEST_HOLES_MAX ((uint64_t)64 << 20)

static int
digestible(const struct vfile *vf)
{

	return (vf->mapped && vf->map.holes <= DIGEST_HOLES_MAX);
}

void *
cst_vrf_digest_main(void *arg)
{
	uint8_t b2[CST_OPEN_MAX][CST_HASH_LEN];
	const uint8_t *data[CST_OPEN_MAX];
	size_t len[CST_OPEN_MAX];
	cst_verifier *v = arg;
	cst_seg_info *si;
	struct vfile *vf;
	size_t i, j, n;
	int ok;

	/*
	 * SHA-256 file by file; BLAKE2b of several files at once, in SIMD
	 * lanes (a file's BLAKE2b is one serial hash).
	 */
	for (i = 0; i < v->nfiles; i += n) {
		for (n = 0; i + n < v->nfiles && n < CST_OPEN_MAX; n++) {
			vf = &v->files[i + n];
			data[n] = vf->map.p;
			len[n] = digestible(vf) ? vf->map.len : 0;
		}
		cst_b2b_hash_many_with(CST_B2B_AVX512, b2[0], CST_HASH_LEN,
		    NULL, 0, data, len, n);
		for (j = 0; j < n; j++) {
			vf = &v->files[i + j];
			if (!digestible(vf))
				continue;
			si = &v->segs[vf->info];
			ok = EVP_Digest(vf->map.p, vf->map.len,
			    si->digests.sha256, NULL, EVP_sha256(), NULL) == 1;
			memcpy(si->digests.blake2b, b2[j], CST_HASH_LEN);
			si->has_digests = ok;
		}
	}
	return (NULL);
}

/*
 * SHA-256 comes from OpenSSL, which uses the CPU's SHA instructions
 * where it has them (about four times libsodium's speed here): an
 * investigator's report digests every input file.
 */
struct digester {
	EVP_MD_CTX *sha;
	cst_b2b b2;
};

static int
digester_init(struct digester *d, cst_digests *out)
{

	if ((d->sha = EVP_MD_CTX_new()) == NULL)
		return (CST_ENOMEM);
	if (EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->sha);
		return (CST_ENOMEM);
	}
	cst_b2b_init(&d->b2, sizeof(out->blake2b));
	return (0);
}

/* Returns 0 or CST_ENOMEM. */
static int
digester_update(struct digester *d, const uint8_t *p, size_t len)
{

	cst_b2b_update(&d->b2, p, len);
	return (EVP_DigestUpdate(d->sha, p, len) == 1 ? 0 : CST_ENOMEM);
}

/* Writes the digests and frees d, also after a failure (out is then junk). */
static int
digester_final(struct digester *d, cst_digests *out)
{
	unsigned int n = 0;
	int ok;

	ok = EVP_DigestFinal_ex(d->sha, out->sha256, &n) == 1 &&
	    n == sizeof(out->sha256);
	EVP_MD_CTX_free(d->sha);
	cst_b2b_final(&d->b2, out->blake2b);
	return (ok ? 0 : CST_ENOMEM);
}

int
cst_digests_compute(const uint8_t *p, size_t len, cst_digests *out)
{
	struct digester d;
	size_t n;
	int rc;

	if ((rc = digester_init(&d, out)) != 0)
		return (rc);
	/* In slices, so that both stay in cache between the two. */
	while (len > 0 && rc == 0) {
		n = len < (1u << 20) ? len : (1u << 20);
		rc = digester_update(&d, p, n);
		p += n;
		len -= n;
	}
	if (digester_final(&d, out) != 0 || rc != 0)
		return (CST_ENOMEM);
	return (0);
}

int
cst_digests_file(const char *path, cst_digests *out, uint64_t *size)
{
	struct digester d;
	struct stat st;
	uint8_t buf[65536];
	uint64_t total = 0, want;
	ssize_t n;
	int fd, rc;

	if ((rc = cst_file_open_read(path, &fd, &want)) != 0)
		return (rc);
	if (fstat(fd, &st) != 0) {
		rc = CST_EIO;
		goto err1;
	}
	/*
	 * Fewer blocks than bytes may be compression, not holes: the file
	 * system's own answer decides.
	 */
	if ((uint64_t)st.st_blocks * 512u + DIGEST_HOLES_MAX < want &&
	    lseek(fd, 0, SEEK_HOLE) < (off_t)want) {
		rc = CST_ETOOBIG;
		goto err1;
	}
	if ((rc = digester_init(&d, out)) != 0)
		goto err1;
	/* The size at open bounds the read: a growing file ends there. */
	while (total < want) {
		n = read(fd, buf, want - total < sizeof(buf) ?
		    (size_t)(want - total) : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = CST_EIO;
			goto err2;
		}
		if (n == 0) {
			/* It shrank while it was read. */
			rc = CST_ETRUNC;
			goto err2;
		}
		if ((rc = digester_update(&d, buf, (size_t)n)) != 0)
			goto err2;
		total += (uint64_t)n;
	}
	close(fd);
	if ((rc = digester_final(&d, out)) != 0)
		return (rc);
	*size = total;
	return (0);

err2:
	(void)digester_final(&d, out);
err1:
	close(fd);
	return (rc);
}
