/*
 * The witness role (witness.h, SPEC section 14).
 *
 * Per log, the state is the body of the latest checkpoint cosigned,
 * cached in memory and kept in witness/state/<hex SHA-256 of origin>;
 * the cache is only changed after the file is durable (R-WIT-3).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/tlog.h"

#include "log.h"
#include "wfile.h"
#include "witness.h"

#define KEY_MAGIC "custody-witness-secret-v1"
/* R-WIT-1: at most 63 proof lines. */
#define MAX_PROOF 63
/* A state file is one checkpoint body: origin, size, root. */
#define STATE_MAX (CST_NOTE_MAX_NAME + 128)

struct wlog {
	cst_note_vkey vkey;
	char state_path[PATH_MAX];
	int loaded;                 /* state read (or found absent) */
	int broken;                 /* state unreadable: 500 (R-WIT-3) */
	uint64_t size;              /* 0: nothing cosigned */
	uint8_t root[CST_HASH_LEN];
};

struct witness {
	pthread_mutex_t mtx;
	char refused_dir[PATH_MAX];
	char name[CST_NOTE_MAX_NAME + 1];
	size_t name_len;
	uint8_t *sk;                /* sodium_malloc'd, 64 bytes */
	cst_note_vkey vkey;
	struct wlog *logs;
	size_t nlogs;
};

#define seterr(err, ...) log_seterr(err, WITNESS_ERR_LEN, __VA_ARGS__)

void
witness_answer_close(struct witness_answer *a)
{

	cst_buf_close(&a->body);
}

/* Parses a key file's line into name and the 32-byte seed. */
static int
key_parse(const char *text, size_t len, char name[CST_NOTE_MAX_NAME + 1],
    uint8_t seed[CST_SEED_LEN])
{
	const char *p = text, *end = text + len, *sp;
	size_t n, blen;

	if (len > 0 && end[-1] == '\n')
		end--;
	n = strlen(KEY_MAGIC);
	if ((size_t)(end - p) < n + 1 || memcmp(p, KEY_MAGIC, n) != 0 ||
	    p[n] != ' ')
		return (CST_EKEY);
	p += n + 1;
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL ||
	    !cst_note_name_ok(p, (size_t)(sp - p)))
		return (CST_EKEY);
	memcpy(name, p, (size_t)(sp - p));
	name[sp - p] = '\0';
	p = sp + 1;
	if (sodium_base642bin(seed, CST_SEED_LEN, p, (size_t)(end - p), NULL,
	    &blen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen != CST_SEED_LEN)
		return (CST_EKEY);
	return (0);
}

int
witness_keygen(const char *path, const char *name, cst_buf *vkey)
{
	uint8_t seed[CST_SEED_LEN], pk[CST_PK_LEN], sk[64];
	char line[CST_NOTE_MAX_NAME + 128], b64[64];
	cst_note_vkey k;
	size_t n;
	int fd, rc;

	if (!cst_note_name_ok(name, strlen(name)))
		return (CST_EINVAL);
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(b64, sizeof(b64), seed, sizeof(seed),
	    sodium_base64_VARIANT_ORIGINAL);
	n = (size_t)snprintf(line, sizeof(line), "%s %s %s\n", KEY_MAGIC,
	    name, b64);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(b64, sizeof(b64));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	if (write(fd, line, n) != (ssize_t)n || fsync(fd) != 0) {
		rc = cst_err_from_errno(errno);
		close(fd);
		unlink(path);
		goto err0;
	}
	close(fd);
	sodium_memzero(line, sizeof(line));
	if ((rc = cst_note_vkey_make(name, strlen(name),
	    CST_NOTE_ALG_COSIG_V1, pk, &k)) != 0)
		return (rc);
	return (cst_note_vkey_format(&k, vkey));

err0:
	sodium_memzero(line, sizeof(line));
	return (rc);
}

static int
key_load(struct witness *w, const char *path, char *err)
{
	char text[CST_NOTE_MAX_NAME + 256];
	uint8_t seed[CST_SEED_LEN], pk[CST_PK_LEN];
	size_t len;
	int rc;

	if ((rc = cst_key_file_check(path)) != 0) {
		seterr(err, "witness.key %s: %s", path, rc == CST_EPERM ?
		    "readable or writable by others than its owner (chmod "
		    "600)" : cst_strerror(rc));
		return (rc);
	}
	rc = wfile_read(path, text, sizeof(text) - 1, &len);
	if (rc == 0)
		rc = key_parse(text, len, w->name, seed);
	sodium_memzero(text, sizeof(text));
	if (rc != 0) {
		seterr(err, "witness.key %s: %s", path, rc == CST_EKEY ?
		    "not a witness key (custodyd keygen --witness-key)" :
		    cst_strerror(rc));
		return (rc == CST_ETOOBIG ? CST_EKEY : rc);
	}
	w->name_len = strlen(w->name);
	if ((w->sk = sodium_malloc(64)) == NULL) {
		sodium_memzero(seed, sizeof(seed));
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	crypto_sign_seed_keypair(pk, w->sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_mprotect_readonly(w->sk);
	return (cst_note_vkey_make(w->name, w->name_len,
	    CST_NOTE_ALG_COSIG_V1, pk, &w->vkey));
}

/* Parses logs[i], a log's verifier key (Ed25519, alg 0x01). */
static int
log_parse(char *const *logs, size_t i, cst_note_vkey *out, char *err)
{

	if (cst_note_vkey_parse(logs[i], strlen(logs[i]), out) != 0 ||
	    out->alg != CST_NOTE_ALG_ED25519) {
		seterr(err, "witness.log %s: not a note verifier key of an "
		    "Ed25519 log (NAME+ID+KEY)", logs[i]);
		return (CST_EINVAL);
	}
	return (0);
}

int
witness_check(const char *key_path, char *const *logs, size_t nlogs,
    char err[WITNESS_ERR_LEN])
{
	struct witness w;
	cst_note_vkey k;
	size_t i;
	int rc;

	memset(&w, 0, sizeof(w));
	rc = key_load(&w, key_path, err);
	if (w.sk != NULL)
		sodium_free(w.sk);
	for (i = 0; rc == 0 && i < nlogs; i++)
		rc = log_parse(logs, i, &k, err);
	return (rc);
}

int
witness_open(const char *data_dir, const char *key_path, char *const *logs,
    size_t nlogs, struct witness **out, char err[WITNESS_ERR_LEN])
{
	struct witness *w;
	uint8_t h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];
	size_t i, j;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->logs = calloc(nlogs, sizeof(*w->logs))) == NULL) {
		free(w);
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	pthread_mutex_init(&w->mtx, NULL);
	w->nlogs = nlogs;
	if ((rc = key_load(w, key_path, err)) != 0)
		goto err1;
	for (i = 0; i < nlogs; i++) {
		struct wlog *l = &w->logs[i];

		if ((rc = log_parse(logs, i, &l->vkey, err)) != 0)
			goto err1;
		for (j = 0; j < i; j++)
			if (strcmp(w->logs[j].vkey.name, l->vkey.name) == 0) {
				seterr(err, "witness.log: two keys for origin "
				    "%s", l->vkey.name);
				rc = CST_EINVAL;
				goto err1;
			}
		crypto_hash_sha256(h, (const uint8_t *)l->vkey.name,
		    l->vkey.name_len);
		cst_hex(h, sizeof(h), hex);
		snprintf(l->state_path, sizeof(l->state_path),
		    "%s/witness/state/%s", data_dir, hex);
	}
	if ((rc = wfile_mkdirs(data_dir, "witness/state")) != 0 ||
	    (rc = wfile_mkdirs(data_dir, "witness/refused")) != 0) {
		seterr(err, "%s/witness: %s", data_dir, cst_strerror(rc));
		goto err1;
	}
	snprintf(w->refused_dir, sizeof(w->refused_dir), "%s/witness/refused",
	    data_dir);
	*out = w;
	return (0);

err1:
	witness_close(w);
	return (rc);
}

void
witness_close(struct witness *w)
{

	if (w == NULL)
		return;
	if (w->sk != NULL)
		sodium_free(w->sk);
	pthread_mutex_destroy(&w->mtx);
	free(w->logs);
	free(w);
}

const cst_note_vkey *
witness_vkey(const struct witness *w)
{

	return (&w->vkey);
}

/* Reads l's state file once (R-WIT-3); a missing one is size 0. */
static void
state_load(struct wlog *l)
{
	char text[STATE_MAX];
	cst_note_ckpt c;
	size_t len;
	int rc;

	if (l->loaded)
		return;
	l->loaded = 1;
	rc = wfile_read(l->state_path, text, sizeof(text), &len);
	if (rc == CST_ENOENT)
		return;
	if (rc != 0 || cst_note_ckpt_parse(text, len, &c) != 0 ||
	    c.origin_len != l->vkey.name_len ||
	    memcmp(c.origin, l->vkey.name, c.origin_len) != 0) {
		log_err("witness: %s: state of %s unreadable or another "
		    "log's: refusing to answer for that log", l->state_path,
		    l->vkey.name);
		l->broken = 1;
		return;
	}
	l->size = c.size;
	memcpy(l->root, c.root, CST_HASH_LEN);
}

static void
refuse(struct witness_answer *a, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct witness_answer *a, unsigned status, const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

/* Parses a decimal without leading zeros (R-WIT-1). */
static int
parse_u64(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && p[0] == '0'))
		return (-1);
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return (0);
}

/* Keeps the refused body as evidence (R-WIT-7), named by its hash. */
static void
keep_evidence(struct witness *w, const uint8_t *body, size_t len,
    struct witness_answer *a)
{
	char path[PATH_MAX + 80];
	int rc;

	snprintf(a->evidence, sizeof(a->evidence), "%s.req",
	    a->request_sha256);
	snprintf(path, sizeof(path), "%s/%s", w->refused_dir, a->evidence);
	if (access(path, F_OK) == 0)
		return;
	if ((rc = wfile_replace(path, body, len, 0600)) != 0) {
		log_err("witness: %s: %s", path, cst_strerror(rc));
		a->evidence[0] = '\0';
	}
}

/* The checks of R-WIT-2 with the lock held. */
static int
check(struct witness *w, const uint8_t *body, size_t len,
    struct witness_answer *a)
{
	const char *p = (const char *)body, *end = p + len, *eol;
	uint8_t proof[MAX_PROOF][CST_HASH_LEN];
	size_t nproof = 0, blen;
	cst_note note;
	cst_note_ckpt c;
	struct wlog *l = NULL;
	char state[STATE_MAX];
	cst_buf sb;
	size_t i;
	int rc, signed_ok = 0;

	memset(&note, 0, sizeof(note));
	if ((eol = memchr(p, '\n', len)) == NULL || eol - p < 5 ||
	    memcmp(p, "old ", 4) != 0 ||
	    parse_u64(p + 4, (size_t)(eol - p - 4), &a->old) != 0) {
		refuse(a, 400, "no \"old <size>\" line");
		return (0);
	}
	for (p = eol + 1; ; p = eol + 1) {
		if (p >= end || (eol = memchr(p, '\n', (size_t)(end - p))) ==
		    NULL) {
			refuse(a, 400, "no empty line before the checkpoint");
			return (0);
		}
		if (eol == p)
			break;
		if (nproof == MAX_PROOF || eol - p != 44 ||
		    sodium_base642bin(proof[nproof], CST_HASH_LEN, p, 44, NULL,
		    &blen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    blen != CST_HASH_LEN) {
			refuse(a, 400, "proof line %zu is not one base64 "
			    "hash (at most %d lines)", nproof + 1, MAX_PROOF);
			return (0);
		}
		nproof++;
	}
	p = eol + 1;
	if ((rc = cst_note_parse(p, (size_t)(end - p), &note)) != 0) {
		if (rc == CST_ENOMEM)
			return (rc);
		refuse(a, 400, "the checkpoint is not a signed note");
		return (0);
	}
	if (cst_note_ckpt_parse(note.text, note.text_len, &c) != 0) {
		refuse(a, 400, "the note is not a checkpoint");
		goto out;
	}
	a->size = c.size;
	a->origin_len = c.origin_len < CST_NOTE_MAX_NAME ? c.origin_len :
	    CST_NOTE_MAX_NAME;
	memcpy(a->origin, c.origin, a->origin_len);
	a->origin[a->origin_len] = '\0';
	for (i = 0; i < w->nlogs; i++)
		if (w->logs[i].vkey.name_len == c.origin_len &&
		    memcmp(w->logs[i].vkey.name, c.origin, c.origin_len) == 0)
			l = &w->logs[i];
	if (l == NULL) {
		refuse(a, 404, "unknown log");
		goto out;
	}
	if (cst_note_verify(&note, &l->vkey) != 0) {
		refuse(a, 403, "no valid signature of the log's key");
		goto out;
	}
	signed_ok = 1;
	if (a->old > c.size) {
		refuse(a, 400, "old size %" PRIu64 " is larger than the "
		    "checkpoint's %" PRIu64, a->old, c.size);
		goto out;
	}
	state_load(l);
	if (l->broken) {
		refuse(a, 500, "the witness's state of this log is unreadable");
		signed_ok = 0;
		goto out;
	}
	a->latest = l->size;
	a->have_latest = l->size > 0;
	if (a->old != l->size) {
		refuse(a, 409, "old size %" PRIu64 " is not the size %" PRIu64
		    " last cosigned%s", a->old, l->size, c.size < l->size ?
		    " (rollback)" : "");
		a->content_type = "text/x.tlog.size";
		rc = 0;
		{
			char t[32];
			int n = snprintf(t, sizeof(t), "%" PRIu64 "\n",
			    l->size);

			rc = cst_buf_append(&a->body, t, (size_t)n);
		}
		goto out;
	}
	if (a->old == 0 || a->old == c.size) {
		if (nproof != 0) {
			refuse(a, 422, "a proof from size %" PRIu64 " must be "
			    "empty", a->old);
			goto out;
		}
		if (a->old == c.size && sodium_memcmp(l->root, c.root,
		    CST_HASH_LEN) != 0) {
			refuse(a, 409, "another root for size %" PRIu64
			    " (fork)", c.size);
			goto out;
		}
	} else if (cst_tlog_verify_consistency(a->old, c.size,
	    (const uint8_t (*)[CST_HASH_LEN])proof, nproof, l->root,
	    c.root) != 0) {
		refuse(a, 422, "the consistency proof from size %" PRIu64
		    " to %" PRIu64 " does not verify", a->old, c.size);
		goto out;
	}
	if (c.size != l->size || l->size == 0) {
		/* Origin, size, root: extension lines are not state. */
		cst_buf_init(&sb);
		if ((rc = cst_note_ckpt_format(c.origin, c.origin_len, c.size,
		    c.root, NULL, 0, &sb)) != 0) {
			cst_buf_close(&sb);
			if (rc != CST_EINVAL)
				goto out;
			refuse(a, 400, "the origin is not a valid name");
			rc = 0;
			goto out;
		}
		rc = sb.len <= sizeof(state) ? wfile_replace(l->state_path,
		    sb.p, sb.len, 0600) : CST_ETOOBIG;
		cst_buf_close(&sb);
		if (rc != 0) {
			log_err("witness: %s: %s", l->state_path,
			    cst_strerror(rc));
			refuse(a, 500, "the state could not be made durable");
			signed_ok = 0;
			rc = 0;
			goto out;
		}
		l->size = c.size;
		memcpy(l->root, c.root, CST_HASH_LEN);
	}
	a->status = 200;
	a->content_type = "text/x.tlog.cosignature";
	rc = cst_note_cosign(note.text, note.text_len, (uint64_t)time(NULL),
	    w->name, w->name_len, w->sk, &a->body);
out:
	if (a->status != 200 && signed_ok)
		keep_evidence(w, body, len, a);
	cst_note_close(&note);
	return (rc);
}

int
witness_add_checkpoint(struct witness *w, const uint8_t *body, size_t len,
    struct witness_answer *a)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	int rc;

	memset(a, 0, sizeof(*a));
	cst_buf_init(&a->body);
	a->content_type = "text/plain";
	crypto_hash_sha256(h, body, len);
	cst_hex(h, sizeof(h), a->request_sha256);
	pthread_mutex_lock(&w->mtx);
	rc = check(w, body, len, a);
	pthread_mutex_unlock(&w->mtx);
	if (rc == 0 && a->status != 200 && a->body.len == 0) {
		char t[200];
		int n = snprintf(t, sizeof(t), "%s\n", a->reason);

		rc = cst_buf_append(&a->body, t, (size_t)n);
	}
	return (rc);
}
