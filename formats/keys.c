/*
 * Root and epoch keys, key certificates and key files (SPEC section 6).
 *
 * Key files hold the 32-byte Ed25519 seed; the 64-byte libsodium secret
 * key is rebuilt from it.  Every secret byte (seeds, secret keys, the text
 * of a secret key file) lives in sodium_malloc'd memory and is wiped when
 * freed.  Files are written to a fresh temporary name and renamed into
 * place, so a crash leaves the old file or the new one, never half of
 * either; an epoch key file replaced then has its old bytes overwritten
 * with zeros, as far as the filesystem and the device let that reach
 * (scrub()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "b64.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "fsutil.h"
#include "keyfile.h"

#define ROOT_PUB_TAG "custody-root-v1"
#define ROOT_SECRET_TAG "custody-root-secret-v1"
#define EPOCH_SECRET_TAG "custody-epoch-secret-v1"
#define CERT_TAG "cert"

/* Bytes of a certificate covered by its signature (SPEC 6.1). */
#define CERT_SIGNED_LEN 80

/*
 * Far above any real key file (an epoch file grows by 198 bytes per
 * epoch), and low enough that a hostile file cannot make us allocate much.
 */
#define KEY_FILE_MAX (16u << 20)

#define B64_SEED_LEN CST_B64_LEN(CST_SEED_LEN)
#define B64_PK_LEN CST_B64_LEN(CST_PK_LEN)
#define B64_CERT_LEN CST_B64_LEN(CST_CERT_LEN)
#define HEX_CHAIN_LEN (2 * CST_CHAIN_ID_LEN)

/* One "cert <base64>\n" line of an epoch key file. */
#define CERT_LINE_LEN (sizeof(CERT_TAG) + B64_CERT_LEN + 1)

/* Makes libsodium ready for sodium_malloc and randombytes. */
static int
sodium_ready(void)
{

	return (sodium_init() < 0 ? CST_EIO : 0);
}

/*
 * Makes *seed (returned, sodium_malloc'd, to sodium_free) a fresh random
 * seed for the _from_seed form of a key maker.
 */
static int
random_seed(uint8_t **seed)
{
	int rc;

	if ((rc = sodium_ready()) != 0)
		return (rc);
	if ((*seed = sodium_malloc(CST_SEED_LEN)) == NULL)
		return (CST_ENOMEM);
	randombytes_buf(*seed, CST_SEED_LEN);
	return (0);
}

/* A text cursor over [p, end) for the strict key file grammar. */
struct cur {
	const char *p;
	const char *end;
};

/* Consumes lit (a NUL-terminated literal) or fails. */
static int
take_lit(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return (-1);
	c->p += n;
	return (0);
}

/* Consumes a non-empty token and the byte stop that ends it. */
static int
take_token(struct cur *c, char stop, const char **tok, size_t *len)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p != stop && *c->p != ' ' &&
	    *c->p != '\n')
		c->p++;
	if (c->p == s || c->p == c->end || *c->p != stop)
		return (-1);
	*tok = s;
	*len = (size_t)(c->p - s);
	c->p++;
	return (0);
}

/*
 * Parses a decimal epoch: digits only, no sign, no leading zero, 1 and up,
 * within 32 bits.
 */
static int
parse_epoch(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10 || s[0] == '0')
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

/* How write_file_atomic treats a file already at path. */
enum {
	WF_REPLACE,   /* replace it */
	WF_NOREPLACE, /* fail with CST_EEXIST */
	WF_SCRUB      /* replace it, then overwrite its old bytes */
};

/*
 * Overwrites the len bytes of the file open as fd with zeros and syncs
 * them.  Best effort, and said to be: on a journalling filesystem the old
 * bytes may also be in the journal, on a copy-on-write filesystem (btrfs,
 * ZFS) or an SSD (wear levelling) the zeros go to new blocks and the old
 * ones stay until reused, and nothing reaches a snapshot or a backup.
 * A failure is not reported: see write_file_atomic.
 */
static void
scrub(int fd, off_t len)
{
	static const uint8_t zeros[4096];
	off_t off = 0;
	ssize_t n;
	size_t chunk;

	while (off < len) {
		chunk = len - off < (off_t)sizeof(zeros) ?
		    (size_t)(len - off) : sizeof(zeros);
		if ((n = pwrite(fd, zeros, chunk, off)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += n;
	}
	(void)fdatasync(fd);
}

/*
 * Writes data[0..len) to path with the given mode through a temporary
 * file: created O_EXCL, written, synced, then renamed over path (WF_REPLACE,
 * WF_SCRUB), or linked to path only if path does not exist yet
 * (WF_NOREPLACE).  With WF_SCRUB the file path named before is kept open
 * and, once the new one is durably in its place (never before: a crash
 * must leave a usable key file), its bytes are overwritten with zeros
 * (scrub()).  That is best effort: a failure there is not returned, since
 * by then the new file is in place and the caller must go on with it.
 * Returns 0, CST_EEXIST, CST_ENOMEM or the cause of a failed system call
 * (cst_err_from_errno()).
 */
static int
write_file_atomic(const char *path, const uint8_t *data, size_t len,
    mode_t mode, int how)
{
	uint8_t rnd[8];
	char rhex[2 * sizeof(rnd) + 1];
	char *tmp;
	struct stat st;
	size_t plen = strlen(path);
	int fd, old = -1, rc;

	/* A random name: a crash's leftover never blocks the next save. */
	randombytes_buf(rnd, sizeof(rnd));
	cst_hex(rnd, sizeof(rnd), rhex);
	if ((tmp = malloc(plen + sizeof(".tmp-") + sizeof(rhex))) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp-", 5);
	memcpy(tmp + plen + 5, rhex, sizeof(rhex));

	/* A symlink's target, or a device, is not ours to overwrite. */
	if (how == WF_SCRUB && (old = open(path, O_WRONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) != -1 &&
	    (fstat(old, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(old);
		old = -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) == -1) {
		rc = cst_err_from_errno(errno);
		goto err1;
	}
	/* open's mode went through the umask; the file's must be exact. */
	if (fchmod(fd, mode) != 0) {
		rc = cst_err_from_errno(errno);
		close(fd);
		goto err2;
	}
	if ((rc = cst_fs_write_all(fd, data, len, NULL)) != 0) {
		close(fd);
		goto err2;
	}
	if (fsync(fd) != 0) {
		rc = cst_err_from_errno(errno);
		close(fd);
		goto err2;
	}
	if (close(fd) != 0) {
		rc = cst_err_from_errno(errno);
		goto err2;
	}

	if (how == WF_NOREPLACE) {
		/* link() fails if path exists: no window for a race. */
		if (link(tmp, path) != 0) {
			rc = cst_err_from_errno(errno);
			goto err2;
		}
		if (unlink(tmp) != 0) {
			rc = cst_err_from_errno(errno);
			goto err1;
		}
	} else if (rename(tmp, path) != 0) {
		rc = cst_err_from_errno(errno);
		goto err2;
	}
	if ((rc = cst_fs_sync_dir_of(path)) != 0)
		goto err1;
	if (old != -1) {
		/* The new file is durable: the old bytes may go. */
		scrub(old, st.st_size);
		close(old);
	}
	free(tmp);
	return (0);

err2:
	unlink(tmp);
err1:
	if (old != -1)
		close(old);
	free(tmp);
err0:
	return (rc);
}

/*
 * Reads the key file path whole into *text (returned, sodium_malloc'd,
 * to sodium_free) of *len bytes.  When secret, refuses a file anyone but
 * its owner can read or write (R-KEY-3), checked on the open descriptor so
 * that the file checked is the file read.
 */
static int
read_key_file(const char *path, int secret, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd, rc, flags;

	*text = NULL;
	*len = 0;
	if ((rc = sodium_ready()) != 0)
		goto err0;
	/* O_NONBLOCK: a FIFO named as a key never blocks the open. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	if (fstat(fd, &st) != 0) {
		rc = cst_err_from_errno(errno);
		goto err1;
	}
	rc = CST_ENOTREG;
	if (!S_ISREG(st.st_mode))
		goto err1;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		rc = cst_err_from_errno(errno);
		goto err1;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		rc = CST_EPERM;
		goto err1;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > KEY_FILE_MAX) {
		rc = CST_EKEY;
		goto err1;
	}
	/* One spare byte tells us the file grew after fstat. */
	if ((buf = sodium_malloc((size_t)st.st_size + 1)) == NULL) {
		rc = CST_ENOMEM;
		goto err1;
	}
	for (;;) {
		n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = cst_err_from_errno(errno);
			goto err2;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size)
			goto err2;
	}
	close(fd);
	*text = buf;
	*len = got;
	return (0);

err2:
	sodium_free(buf);
err1:
	close(fd);
err0:
	return (rc);
}

void
cst_cert_sign(cst_cert *c, const uint8_t *sk)
{
	uint8_t m[sizeof(CST_D_KEYCERT) + CST_CERT_LEN];

	/* SPEC 6.1: the signer signs D_KEYCERT || bytes 0..79. */
	memcpy(m, CST_D_KEYCERT, sizeof(CST_D_KEYCERT));
	cst_cert_encode(c, m + sizeof(CST_D_KEYCERT));
	crypto_sign_detached(c->signature, NULL, m,
	    sizeof(CST_D_KEYCERT) + CERT_SIGNED_LEN, sk);
	sodium_memzero(m, sizeof(m));
}

int
cst_cert_verify(const cst_cert *c, const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t signer_pk[CST_PK_LEN])
{
	uint8_t m[sizeof(CST_D_KEYCERT) + CST_CERT_LEN];

	/* R-KEY-1. */
	if (c->epoch < 1 || c->signer_epoch != c->epoch - 1)
		return (CST_ECORRUPT);
	if (memcmp(c->chain_id, chain_id, CST_CHAIN_ID_LEN) != 0)
		return (CST_EFOREIGN);
	memcpy(m, CST_D_KEYCERT, sizeof(CST_D_KEYCERT));
	cst_cert_encode(c, m + sizeof(CST_D_KEYCERT));
	if (crypto_sign_verify_detached(c->signature, m,
	    sizeof(CST_D_KEYCERT) + CERT_SIGNED_LEN, signer_pk) != 0)
		return (CST_ESIG);
	return (0);
}

int
cst_certs_verify(const cst_cert *certs, uint32_t n, const cst_root_pub *root)
{
	const uint8_t *signer_pk = root->pk;
	uint32_t i;
	int rc;

	/* No certificate proves no key. */
	if (n == 0)
		return (CST_ECORRUPT);
	for (i = 0; i < n; i++) {
		/* R-KEY-1: certs[i] is epoch i+1, signed by epoch i. */
		if (certs[i].epoch != i + 1)
			return (CST_ECORRUPT);
		if ((rc = cst_cert_verify(&certs[i], root->chain_id,
		    signer_pk)) != 0)
			return (rc);
		signer_pk = certs[i].public_key;
	}
	return (0);
}

int
cst_key_file_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return (cst_err_from_errno(errno));
	if (!S_ISREG(st.st_mode))
		return (CST_EIO);
	/* R-KEY-3. */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return (CST_EPERM);
	return (0);
}

/* Root keys. */

int
cst_root_key_from_seed(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t seed[CST_SEED_LEN], cst_root_key **out)
{
	cst_root_key *k;
	int rc;

	if ((rc = sodium_ready()) != 0)
		goto err0;
	rc = CST_ENOMEM;
	if ((k = malloc(sizeof(*k))) == NULL)
		goto err0;
	if ((k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL)
		goto err1;
	memcpy(k->pub.chain_id, chain_id, CST_CHAIN_ID_LEN);
	crypto_sign_seed_keypair(k->pub.pk, k->sk, seed);
	*out = k;
	return (0);

err1:
	free(k);
err0:
	return (rc);
}

int
cst_root_key_generate(cst_root_key **out)
{
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t *seed;
	int rc;

	if ((rc = random_seed(&seed)) != 0)
		goto err0;
	randombytes_buf(chain_id, sizeof(chain_id));
	rc = cst_root_key_from_seed(chain_id, seed, out);
	sodium_free(seed);
err0:
	return (rc);
}

void
cst_root_key_free(cst_root_key *k)
{

	if (k == NULL)
		return;
	sodium_free(k->sk);
	free(k);
}

/*
 * Formats "<tag> <chain hex> <base64 of b[0..blen)>\n" into out, which has
 * room for it.  Returns the length.
 */
static size_t
format_root_line(char *out, const char *tag,
    const uint8_t chain_id[CST_CHAIN_ID_LEN], const uint8_t *b, size_t blen)
{
	size_t n = strlen(tag);

	memcpy(out, tag, n);
	out[n++] = ' ';
	cst_hex(chain_id, CST_CHAIN_ID_LEN, out + n);
	n += HEX_CHAIN_LEN;
	out[n++] = ' ';
	cst_b64_encode(b, blen, out + n);
	n += CST_B64_LEN(blen);
	out[n++] = '\n';
	return (n);
}

int
cst_root_key_save(const cst_root_key *k, const char *path_key,
    const char *path_pub)
{
	char pub[sizeof(ROOT_PUB_TAG) + HEX_CHAIN_LEN + 1 + B64_PK_LEN + 2];
	char *text;
	size_t n;
	int rc = 0;

	if (path_key != NULL) {
		if ((rc = sodium_ready()) != 0)
			goto err0;
		if ((text = sodium_malloc(sizeof(ROOT_SECRET_TAG) +
		    HEX_CHAIN_LEN + 1 + B64_SEED_LEN + 2)) == NULL) {
			rc = CST_ENOMEM;
			goto err0;
		}
		/* The seed is the first half of libsodium's secret key. */
		n = format_root_line(text, ROOT_SECRET_TAG, k->pub.chain_id,
		    k->sk, CST_SEED_LEN);
		rc = write_file_atomic(path_key, (const uint8_t *)text, n,
		    0600, WF_NOREPLACE);
		sodium_free(text);
		if (rc != 0)
			goto err0;
	}
	if (path_pub != NULL) {
		n = format_root_line(pub, ROOT_PUB_TAG, k->pub.chain_id,
		    k->pub.pk, CST_PK_LEN);
		if ((rc = write_file_atomic(path_pub, (const uint8_t *)pub, n,
		    0644, WF_REPLACE)) != 0)
			goto err0;
	}

err0:
	return (rc);
}

/*
 * Parses "<tag> <chain hex> <base64 of blen bytes>\n" making up all of
 * text[0..len); the final LF may be missing (one line copied by hand).
 */
static int
parse_root_line(const char *text, size_t len, const char *tag,
    uint8_t chain_id[CST_CHAIN_ID_LEN], uint8_t *b, size_t blen)
{
	struct cur c = { text, text + len };
	const char *tok;
	size_t n;

	if (len > 0 && text[len - 1] == '\n')
		c.end--;
	/* The base64 decode refuses any byte after the last field. */
	if (take_lit(&c, tag) != 0 || take_lit(&c, " ") != 0 ||
	    take_token(&c, ' ', &tok, &n) != 0 ||
	    cst_unhex_lower(tok, n, chain_id, CST_CHAIN_ID_LEN) != 0 ||
	    cst_b64_decode(c.p, (size_t)(c.end - c.p), b, blen) != 0)
		return (CST_EKEY);
	return (0);
}

int
cst_root_pub_parse(const char *text, size_t len, cst_root_pub *out)
{
	cst_root_pub pub;

	if (parse_root_line(text, len, ROOT_PUB_TAG, pub.chain_id, pub.pk,
	    CST_PK_LEN) != 0)
		return (CST_EKEY);
	*out = pub;
	return (0);
}

void
cst_root_pub_sha256_text(const cst_root_pub *root,
    char out[CST_ROOT_SHA256_TEXT_LEN])
{
	uint8_t d[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	size_t i, n = 0;

	crypto_hash_sha256(d, root->pk, CST_PK_LEN);
	cst_hex(d, sizeof(d), hex);
	for (i = 0; i < 2 * sizeof(d); i += 4) {
		if (i > 0)
			out[n++] = ' ';
		memcpy(out + n, hex + i, 4);
		n += 4;
	}
	out[n] = '\0';
}

void
cst_root_pub_identity(const cst_root_pub *root, const char *indent,
    char *out, size_t cap)
{
	char groups[CST_ROOT_SHA256_TEXT_LEN];
	char chain[2 * CST_CHAIN_ID_LEN + 1];

	cst_root_pub_sha256_text(root, groups);
	cst_hex(root->chain_id, CST_CHAIN_ID_LEN, chain);
	snprintf(out, cap, "%sroot key SHA-256  %s\n%schain id          %s\n",
	    indent, groups, indent, chain);
}

int
cst_root_pub_load(const char *path, cst_root_pub *out)
{
	char *text;
	size_t len;
	int rc;

	if ((rc = read_key_file(path, 0, &text, &len)) != 0)
		goto err0;
	rc = cst_root_pub_parse(text, len, out);
	sodium_free(text);
err0:
	return (rc);
}

int
cst_root_key_load(const char *path, cst_root_key **out)
{
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t *seed;
	char *text;
	size_t len;
	int rc;

	if ((rc = read_key_file(path, 1, &text, &len)) != 0)
		goto err0;
	if ((seed = sodium_malloc(CST_SEED_LEN)) == NULL) {
		rc = CST_ENOMEM;
		goto err1;
	}
	if (parse_root_line(text, len, ROOT_SECRET_TAG, chain_id, seed,
	    CST_SEED_LEN) != 0) {
		rc = CST_EKEY;
		goto err2;
	}
	rc = cst_root_key_from_seed(chain_id, seed, out);

err2:
	sodium_free(seed);
err1:
	sodium_free(text);
err0:
	return (rc);
}

/* Epoch keys. */

/*
 * Allocates an epoch key for epoch with room for its certificates, its key
 * pair made from seed; the certificates are left for the caller.
 */
static int
epoch_key_alloc(const uint8_t chain_id[CST_CHAIN_ID_LEN], uint32_t epoch,
    const uint8_t seed[CST_SEED_LEN], cst_epoch_key **out)
{
	cst_epoch_key *k;
	int rc;

	if ((rc = sodium_ready()) != 0)
		goto err0;
	rc = CST_ENOMEM;
	if ((k = malloc(sizeof(*k))) == NULL)
		goto err0;
	if ((k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL)
		goto err1;
	if ((k->certs = calloc(epoch, sizeof(cst_cert))) == NULL)
		goto err2;
	memcpy(k->chain_id, chain_id, CST_CHAIN_ID_LEN);
	k->epoch = epoch;
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	*out = k;
	return (0);

err2:
	sodium_free(k->sk);
err1:
	free(k);
err0:
	return (rc);
}

/* Fills and signs c, the certificate of k's newest epoch. */
static void
certify(const cst_epoch_key *k, uint64_t valid_from, int64_t now_ns,
    const uint8_t *signer_sk, cst_cert *c)
{

	c->epoch = k->epoch;
	c->signer_epoch = k->epoch - 1;
	memcpy(c->chain_id, k->chain_id, CST_CHAIN_ID_LEN);
	memcpy(c->public_key, k->pk, CST_PK_LEN);
	c->valid_from = valid_from;
	c->created_ns = now_ns;
	cst_cert_sign(c, signer_sk);
}

int
cst_epoch_key_first_from_seed(const cst_root_key *root,
    const uint8_t seed[CST_SEED_LEN], int64_t now_ns, cst_epoch_key **out)
{
	cst_epoch_key *k;
	int rc;

	if ((rc = epoch_key_alloc(root->pub.chain_id, 1, seed, &k)) != 0)
		return (rc);
	/* R-KEY-2: epoch 1 signs block 0. */
	certify(k, 0, now_ns, root->sk, &k->certs[0]);
	*out = k;
	return (0);
}

int
cst_epoch_key_next_from_seed(const cst_epoch_key *cur,
    const uint8_t seed[CST_SEED_LEN], uint64_t valid_from, int64_t now_ns,
    cst_epoch_key **out)
{
	cst_epoch_key *k;
	int rc;

	if (cur->epoch == UINT32_MAX)
		return (CST_EINVAL);
	if ((rc = epoch_key_alloc(cur->chain_id, cur->epoch + 1, seed,
	    &k)) != 0)
		return (rc);
	memcpy(k->certs, cur->certs, cur->epoch * sizeof(cst_cert));
	certify(k, valid_from, now_ns, cur->sk, &k->certs[cur->epoch]);
	*out = k;
	return (0);
}

int
cst_epoch_key_first(const cst_root_key *root, int64_t now_ns,
    cst_epoch_key **out)
{
	uint8_t *seed;
	int rc;

	if ((rc = random_seed(&seed)) != 0)
		return (rc);
	rc = cst_epoch_key_first_from_seed(root, seed, now_ns, out);
	sodium_free(seed);
	return (rc);
}

int
cst_epoch_key_next(const cst_epoch_key *cur, uint64_t valid_from,
    int64_t now_ns, cst_epoch_key **out)
{
	uint8_t *seed;
	int rc;

	if ((rc = random_seed(&seed)) != 0)
		return (rc);
	rc = cst_epoch_key_next_from_seed(cur, seed, valid_from, now_ns, out);
	sodium_free(seed);
	return (rc);
}

void
cst_epoch_key_free(cst_epoch_key *k)
{

	if (k == NULL)
		return;
	sodium_free(k->sk);
	free(k->certs);
	free(k);
}

int
cst_epoch_key_save(const cst_epoch_key *k, const char *path)
{
	uint8_t cert[CST_CERT_LEN];
	char *text;
	size_t cap, n;
	uint32_t i;
	int rc;

	if ((rc = sodium_ready()) != 0)
		goto err0;
	if (k->epoch > (KEY_FILE_MAX - 128) / CERT_LINE_LEN) {
		rc = CST_EINVAL;
		goto err0;
	}
	cap = sizeof(EPOCH_SECRET_TAG) + HEX_CHAIN_LEN + 12 + B64_SEED_LEN +
	    2 + (size_t)k->epoch * CERT_LINE_LEN;
	if ((text = sodium_malloc(cap)) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}

	/* SPEC 6.2: the secret line, then one certificate line per epoch. */
	n = sizeof(EPOCH_SECRET_TAG) - 1;
	memcpy(text, EPOCH_SECRET_TAG, n);
	text[n++] = ' ';
	cst_hex(k->chain_id, CST_CHAIN_ID_LEN, text + n);
	n += HEX_CHAIN_LEN;
	n += (size_t)snprintf(text + n, cap - n, " %" PRIu32 " ", k->epoch);
	cst_b64_encode(k->sk, CST_SEED_LEN, text + n);
	n += B64_SEED_LEN;
	text[n++] = '\n';
	for (i = 0; i < k->epoch; i++) {
		memcpy(text + n, CERT_TAG " ", sizeof(CERT_TAG));
		n += sizeof(CERT_TAG);
		cst_cert_encode(&k->certs[i], cert);
		cst_b64_encode(cert, sizeof(cert), text + n);
		n += B64_CERT_LEN;
		text[n++] = '\n';
	}
	/* The old file holds the previous epoch's secret (SPEC 6). */
	rc = write_file_atomic(path, (const uint8_t *)text, n, 0600,
	    WF_SCRUB);
	sodium_free(text);
err0:
	return (rc);
}

/*
 * Parses the text of an epoch key file into *out (returned).  Returns 0,
 * CST_EKEY, CST_ESIG, CST_EFOREIGN or CST_ENOMEM.
 */
static int
epoch_key_parse(const char *text, size_t len, const cst_root_pub *root,
    cst_epoch_key **out)
{
	struct cur c = { text, text + len };
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t cert[CST_CERT_LEN];
	cst_epoch_key *k;
	const uint8_t *signer_pk;
	const char *tok;
	uint8_t *seed;
	uint32_t epoch, i;
	size_t n;
	int rc;

	if ((seed = sodium_malloc(CST_SEED_LEN)) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	rc = CST_EKEY;
	if (take_lit(&c, EPOCH_SECRET_TAG " ") != 0 ||
	    take_token(&c, ' ', &tok, &n) != 0 ||
	    cst_unhex_lower(tok, n, chain_id, sizeof(chain_id)) != 0 ||
	    take_token(&c, ' ', &tok, &n) != 0 ||
	    parse_epoch(tok, n, &epoch) != 0 ||
	    take_token(&c, '\n', &tok, &n) != 0 ||
	    cst_b64_decode(tok, n, seed, CST_SEED_LEN) != 0)
		goto err1;
	/* Exactly one line per epoch: checked before allocating for them. */
	if ((size_t)(c.end - c.p) / CERT_LINE_LEN != epoch ||
	    (size_t)(c.end - c.p) % CERT_LINE_LEN != 0)
		goto err1;
	if ((rc = epoch_key_alloc(chain_id, epoch, seed, &k)) != 0)
		goto err1;

	rc = CST_EKEY;
	for (i = 0; i < epoch; i++) {
		if (take_lit(&c, CERT_TAG " ") != 0 ||
		    take_token(&c, '\n', &tok, &n) != 0 ||
		    cst_b64_decode(tok, n, cert, sizeof(cert)) != 0 ||
		    cst_cert_decode(cert, sizeof(cert), &k->certs[i]) != 0 ||
		    k->certs[i].epoch != i + 1)
			goto err2;
	}

	/*
	 * R-KEY-1 along the list, from the root when we have it; without it
	 * the first certificate's signer is unknown here.
	 */
	if (root != NULL && memcmp(root->chain_id, chain_id,
	    CST_CHAIN_ID_LEN) != 0) {
		rc = CST_EFOREIGN;
		goto err2;
	}
	for (i = 0; i < epoch; i++) {
		if (memcmp(k->certs[i].chain_id, chain_id,
		    CST_CHAIN_ID_LEN) != 0) {
			rc = CST_EFOREIGN;
			goto err2;
		}
		if (i == 0 && root == NULL)
			continue;
		signer_pk = i == 0 ? root->pk : k->certs[i - 1].public_key;
		if ((rc = cst_cert_verify(&k->certs[i], chain_id,
		    signer_pk)) != 0) {
			if (rc == CST_ECORRUPT)
				rc = CST_EKEY;
			goto err2;
		}
	}
	/* The seed must be the key its own certificate names. */
	if (sodium_memcmp(k->certs[epoch - 1].public_key, k->pk,
	    CST_PK_LEN) != 0) {
		rc = CST_EKEY;
		goto err2;
	}
	sodium_free(seed);
	*out = k;
	return (0);

err2:
	cst_epoch_key_free(k);
err1:
	sodium_free(seed);
err0:
	return (rc);
}

int
cst_epoch_key_load(const char *path, const cst_root_pub *root,
    cst_epoch_key **out)
{
	char *text;
	size_t len;
	int rc;

	if ((rc = read_key_file(path, 1, &text, &len)) != 0)
		return (rc);
	rc = epoch_key_parse(text, len, root, out);
	sodium_free(text);
	return (rc);
}

int
cst_keyfile_write(const char *path, const uint8_t *data, size_t len,
    mode_t mode, int replace)
{

	return (write_file_atomic(path, data, len, mode,
	    replace ? WF_REPLACE : WF_NOREPLACE));
}

int
cst_keyfile_read(const char *path, int secret, char **text, size_t *len)
{

	return (read_key_file(path, secret, text, len));
}
