/*
 * Submission of note checkpoints to witnesses (submit.h, SPEC R-WIT-5,
 * R-WIT-6).
 *
 * One thread, one peer after the other: a witness answers in
 * milliseconds or times out (witness.submit_timeout), and nothing waits
 * for this thread.  What a peer last cosigned is kept on disk, so a
 * restart proves from it; after a 409 the witness's size is taken
 * instead.  A witness whose size is larger than the store's tree is a
 * sign the store went back (restored from an older copy, or truncated):
 * that is logged once, and the checkpoints keep being submitted so that
 * the witnesses refuse and record them (R-WIT-7).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/note.h"
#include "custody/tlog.h"

#include "clock.h"
#include "log.h"
#include "submit.h"
#include "wfile.h"

#define POLL_MS 1000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define RESP_MAX 16384

struct peer {
	struct submit_peer_ctr ctr;
	cst_note_vkey vkey;
	char url[CONF_ERR_LEN];
	char state_path[PATH_MAX];
	uint64_t cosigned;          /* what it last cosigned, as remembered */
	uint64_t backoff_ms;
	int64_t next_ms;
	int warned_ahead;           /* logged that it is past our tree */
};

struct submit {
	pthread_t th;
	int started;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int stop;
	int kicked;
	submit_proof_fn *prove;
	void *prove_arg;
	char ckpt_dir[PATH_MAX];
	char export_dir[PATH_MAX];   /* "": none */
	char *ca;
	char *cert;
	char *key;
	uint64_t timeout_ms;
	uint64_t stale_after_ms;
	struct peer *peers;
	size_t npeers;
	int64_t uncosigned_since_ms; /* 0: every checkpoint is cosigned */
	_Atomic int stale;
	int stale_warned;
	char *note;                  /* RESP_MAX-ish buffers */
	char *resp;
	size_t resp_len;
};

#define seterr(err, ...) log_seterr(err, SUBMIT_ERR_LEN, __VA_ARGS__)

static char *
dup_or_null(const char *s)
{

	return (s != NULL ? strdup(s) : NULL);
}

/* Reads the remembered size of p (R-WIT-6); absent is 0. */
static void
peer_load(struct peer *p)
{
	char text[32];
	size_t len;
	uint64_t v = 0;
	size_t i;

	if (wfile_read(p->state_path, text, sizeof(text), &len) != 0)
		return;
	for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(text[i] - '0');
	if (i == 0 || i + 1 != len || text[i] != '\n' || i > 19) {
		log_warn("witness peer %s: %s does not hold a size: starting "
		    "from the witness's answer", p->url, p->state_path);
		return;
	}
	p->cosigned = v;
	atomic_store(&p->ctr.cosigned_size, v);
}

static void
peer_save(struct peer *p, uint64_t size)
{
	char text[32];
	int n, rc;

	p->cosigned = size;
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", size);
	if ((rc = wfile_replace(p->state_path, text, (size_t)n, 0644)) != 0)
		log_err("witness peer %s: %s: %s", p->url, p->state_path,
		    cst_strerror(rc));
}

int
submit_peer_parse(const char *entry, char *url, size_t urllen,
    cst_note_vkey *vkey, const char **vk, char err[SUBMIT_ERR_LEN])
{
	const char *sp = strchr(entry, ' '), *k;

	if (sp == NULL || (size_t)(sp - entry) >= urllen)
		goto err0;
	for (k = sp + 1; *k == ' '; k++)
		;
	if (cst_note_vkey_parse(k, strlen(k), vkey) != 0 ||
	    vkey->alg != CST_NOTE_ALG_COSIG_V1)
		goto err0;
	memcpy(url, entry, (size_t)(sp - entry));
	url[sp - entry] = '\0';
	if (vk != NULL)
		*vk = k;
	return (0);

err0:
	seterr(err, "witness.peer %s: not \"https://HOST:PORT VERIFIER-KEY\" "
	    "with a cosignature/v1 key", entry);
	return (CST_EINVAL);
}

int
submit_new(const char *data_dir, const char *export_dir,
    const struct conf_witness *w,
    const struct conf_tls *tls, submit_proof_fn *prove, void *arg,
    struct submit **out, char err[SUBMIT_ERR_LEN])
{
	struct submit *s;
	uint8_t h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];
	size_t i;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->peers = calloc(w->npeers, sizeof(*s->peers))) == NULL ||
	    (s->note = malloc(CST_NOTE_MAX_LEN + RESP_MAX)) == NULL ||
	    (s->resp = malloc(RESP_MAX)) == NULL) {
		rc = CST_ENOMEM;
		seterr(err, "%s", cst_strerror(rc));
		goto err1;
	}
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->prove = prove;
	s->prove_arg = arg;
	s->npeers = w->npeers;
	s->timeout_ms = w->submit_timeout_ms;
	s->stale_after_ms = w->stale_after_ms;
	snprintf(s->ckpt_dir, sizeof(s->ckpt_dir), "%s/checkpoints", data_dir);
	if (export_dir != NULL)
		snprintf(s->export_dir, sizeof(s->export_dir), "%s",
		    export_dir);
	s->ca = dup_or_null(w->ca);
	if (tls != NULL && tls->cert != NULL && tls->key != NULL) {
		s->cert = dup_or_null(tls->cert);
		s->key = dup_or_null(tls->key);
	}
	if ((rc = wfile_mkdirs(data_dir, "witness/peers")) != 0) {
		seterr(err, "%s/witness/peers: %s", data_dir,
		    cst_strerror(rc));
		goto err1;
	}
	for (i = 0; i < w->npeers; i++) {
		struct peer *p = &s->peers[i];
		const char *vk;

		if ((rc = submit_peer_parse(w->peers[i], p->url,
		    sizeof(p->url), &p->vkey, &vk, err)) != 0)
			goto err1;
		log_seterr(p->ctr.url, sizeof(p->ctr.url), "%s", p->url);
		log_seterr(p->ctr.name, sizeof(p->ctr.name), "%s",
		    p->vkey.name);
		crypto_hash_sha256(h, (const uint8_t *)vk, strlen(vk));
		cst_hex(h, sizeof(h), hex);
		snprintf(p->state_path, sizeof(p->state_path),
		    "%s/witness/peers/%s", data_dir, hex);
		peer_load(p);
	}
	*out = s;
	return (0);

err1:
	submit_free(s);
	return (rc);
}

/* Reads a note file whole into s->note; its checkpoint into c. */
static int
read_note(struct submit *s, const char *path, size_t *len, uint64_t *size)
{
	cst_note n;
	cst_note_ckpt c;
	int rc;

	if ((rc = wfile_read(path, s->note, CST_NOTE_MAX_LEN, len)) != 0)
		return (rc);
	if ((rc = cst_note_parse(s->note, *len, &n)) != 0)
		return (rc);
	rc = cst_note_ckpt_parse(n.text, n.text_len, &c);
	if (rc == 0)
		*size = c.size;
	cst_note_close(&n);
	return (rc);
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct submit *s = arg;
	size_t len = sz * n;

	if (len > RESP_MAX - s->resp_len)
		return (0);
	memcpy(s->resp + s->resp_len, p, len);
	s->resp_len += len;
	return (len);
}

/* POSTs body to p; *status the HTTP status (0: none).  0 or CST_EIO. */
static int
post(struct submit *s, struct peer *p, const cst_buf *body, long *status,
    char *why, size_t whylen)
{
	char url[CONF_ERR_LEN + 32];
	struct curl_slist *hdr = NULL;
	CURL *h;
	CURLcode cc;

	*status = 0;
	s->resp_len = 0;
	if ((h = curl_easy_init()) == NULL) {
		log_seterr(why, whylen, "curl: cannot make a handle");
		return (CST_ENOMEM);
	}
	snprintf(url, sizeof(url), "%s/add-checkpoint", p->url);
	hdr = curl_slist_append(hdr, "Content-Type: text/plain");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CAINFO, s->ca);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->cert != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, s->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, s->key);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	else
		log_seterr(why, whylen, "%s", curl_easy_strerror(cc));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return (cc == CURLE_OK ? 0 : CST_EIO);
}

/*
 * The export directory's copy of the note at path gets the same bytes
 * (s->note[0..len)), if it is there and still the same note: the copy
 * off the data disk is the one that outlives a rollback (R-WIT-5).
 */
static void
export_copy(struct submit *s, const char *path, size_t len)
{
	char epath[PATH_MAX + 64];
	const char *base = strrchr(path, '/');
	char *old;
	size_t olen;
	int rc;

	if (s->export_dir[0] == '\0' || base == NULL)
		return;
	snprintf(epath, sizeof(epath), "%s%s", s->export_dir, base);
	if ((old = malloc(CST_NOTE_MAX_LEN)) == NULL)
		return;
	/* Its signed text must be ours: a prefix of what we write. */
	rc = wfile_read(epath, old, CST_NOTE_MAX_LEN, &olen);
	if (rc == 0 && olen <= len && memcmp(old, s->note, olen) == 0 &&
	    (rc = wfile_replace(epath, s->note, len, 0644)) != 0)
		log_warn("witness: %s: %s", epath, cst_strerror(rc));
	free(old);
}

/*
 * Adds the peer's cosignature lines of s->resp to the note of size
 * (path, already in s->note[0..len)) after checking them (R-WIT-5).
 */
static int
store_cosig(struct submit *s, struct peer *p, const char *path, size_t len,
    int write_it, char *why, size_t whylen)
{
	cst_note orig, both;
	const char *r = s->resp, *end = s->resp + s->resp_len, *eol;
	size_t add = 0, n = len;
	int rc, have;

	if ((rc = cst_note_parse(s->note, len, &orig)) != 0) {
		log_seterr(why, whylen, "%s: %s", path, cst_strerror(rc));
		return (rc);
	}
	have = cst_note_cosig_verify(&orig, &p->vkey, NULL) == 0;
	cst_note_close(&orig);
	/* Only lines under the witness's name: others are ignored. */
	for (; r < end; r = eol + 1) {
		if ((eol = memchr(r, '\n', (size_t)(end - r))) == NULL)
			break;
		if ((size_t)(eol - r) > 4 + p->vkey.name_len &&
		    memcmp(r, "\xe2\x80\x94 ", 4) == 0 &&
		    memcmp(r + 4, p->vkey.name, p->vkey.name_len) == 0 &&
		    r[4 + p->vkey.name_len] == ' ' &&
		    n + (size_t)(eol + 1 - r) <= CST_NOTE_MAX_LEN) {
			memcpy(s->note + n, r, (size_t)(eol + 1 - r));
			n += (size_t)(eol + 1 - r);
			add++;
		}
	}
	if (add == 0) {
		log_seterr(why, whylen, "no cosignature line of %s in the "
		    "answer", p->vkey.name);
		return (CST_ESIG);
	}
	if ((rc = cst_note_parse(s->note, n, &both)) != 0) {
		log_seterr(why, whylen, "the answer does not make a note: %s",
		    cst_strerror(rc));
		return (rc);
	}
	rc = cst_note_cosig_verify(&both, &p->vkey, NULL);
	cst_note_close(&both);
	if (rc != 0) {
		log_seterr(why, whylen, "the cosignature does not verify with "
		    "%s's key", p->vkey.name);
		return (CST_ESIG);
	}
	if (have || !write_it)
		return (0);
	if ((rc = wfile_replace(path, s->note, n, 0644)) != 0) {
		log_seterr(why, whylen, "%s: %s", path, cst_strerror(rc));
		return (rc);
	}
	export_copy(s, path, n);
	return (0);
}

/* One submission of the note of size (path) to p.  0 or an error. */
static int
submit_one(struct submit *s, struct peer *p, const char *path, int numbered,
    uint64_t size)
{
	uint8_t proof[CST_TLOG_MAX_PROOF][CST_HASH_LEN];
	char line[64], b64[64], why[256] = "";
	size_t nproof = 0, len, i;
	uint64_t old, got;
	cst_buf body;
	long status;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		old = p->cosigned;
		/*
		 * Past our tree: claim our own size, so that the witness
		 * answers (409) and records the refusal (R-WIT-7).
		 */
		if (old > size)
			old = size;
		nproof = 0;
		if (old > 0 && old < size) {
			if (s->prove == NULL) {
				log_seterr(why, sizeof(why), "no tree store "
				    "for proofs");
				rc = CST_EIO;
				goto fail;
			}
			if ((rc = s->prove(s->prove_arg, old, size, proof,
			    &nproof)) != 0) {
				log_seterr(why, sizeof(why), "no proof from %"
				    PRIu64 " to %" PRIu64 ": %s", old, size,
				    cst_strerror(rc));
				goto fail;
			}
		}
		if ((rc = wfile_read(path, s->note, CST_NOTE_MAX_LEN,
		    &len)) != 0) {
			log_seterr(why, sizeof(why), "%s: %s", path,
			    cst_strerror(rc));
			goto fail;
		}
		cst_buf_init(&body);
		snprintf(line, sizeof(line), "old %" PRIu64 "\n", old);
		rc = cst_buf_append(&body, line, strlen(line));
		for (i = 0; rc == 0 && i < nproof; i++) {
			sodium_bin2base64(b64, sizeof(b64), proof[i],
			    CST_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
			if ((rc = cst_buf_append(&body, b64, 44)) == 0)
				rc = cst_buf_append(&body, "\n", 1);
		}
		if (rc == 0)
			rc = cst_buf_append(&body, "\n", 1);
		if (rc == 0)
			rc = cst_buf_append(&body, s->note, len);
		if (rc != 0) {
			cst_buf_close(&body);
			return (rc);
		}
		atomic_fetch_add(&p->ctr.submissions, 1);
		rc = post(s, p, &body, &status, why, sizeof(why));
		cst_buf_close(&body);
		if (rc != 0)
			goto fail;
		if (status == 200) {
			if ((rc = store_cosig(s, p, path, len, numbered, why,
			    sizeof(why))) != 0)
				goto fail;
			peer_save(p, size);
			p->warned_ahead = 0;
			atomic_store(&p->ctr.cosigned_size, size);
			atomic_store(&p->ctr.cosigned_at_s, (int64_t)time(NULL));
			return (0);
		}
		if (status != 409) {
			log_seterr(why, sizeof(why), "HTTP %ld: %.*s", status,
			    (int)(s->resp_len < 160 ? s->resp_len : 160),
			    s->resp);
			rc = CST_EIO;
			goto fail;
		}
		atomic_fetch_add(&p->ctr.conflicts, 1);
		got = 0;
		for (i = 0; i < s->resp_len && i < 20 && s->resp[i] >= '0' &&
		    s->resp[i] <= '9'; i++)
			got = got * 10 + (uint64_t)(s->resp[i] - '0');
		if (i == 0 || i >= s->resp_len || s->resp[i] != '\n') {
			log_seterr(why, sizeof(why), "HTTP 409 without a size");
			rc = CST_EIO;
			goto fail;
		}
		if (got > size) {
			if (!p->warned_ahead)
				log_err("witness %s (%s) has cosigned size %"
				    PRIu64 " of this log, but its tree has "
				    "%" PRIu64 " blocks: this store was rolled "
				    "back or truncated", p->vkey.name, p->url,
				    got, size);
			p->warned_ahead = 1;
			p->cosigned = got;
			log_seterr(why, sizeof(why), "the witness is at size %"
			    PRIu64 ", past this store's %" PRIu64, got, size);
			rc = CST_ECORRUPT;
			goto fail;
		}
		if (got == old) {
			log_seterr(why, sizeof(why), "HTTP 409 at the same "
			    "size %" PRIu64 " (another root)", got);
			rc = CST_ECORRUPT;
			goto fail;
		}
		/* The witness's size: prove from it and try again. */
		peer_save(p, got);
	}
	rc = CST_EIO;
fail:
	atomic_fetch_add(&p->ctr.failures, 1);
	log_warn("witness %s (%s): checkpoint %" PRIu64 " not cosigned: %s",
	    p->vkey.name, p->url, size, why);
	return (rc);
}

static void
check_stale(struct submit *s, uint64_t size, int64_t now)
{
	uint64_t best = 0;
	size_t i;

	for (i = 0; i < s->npeers; i++)
		if (s->peers[i].cosigned <= size && s->peers[i].cosigned > best)
			best = s->peers[i].cosigned;
	if (best >= size) {
		if (s->stale_warned)
			log_notice("witnesses: checkpoint %" PRIu64 " cosigned "
			    "again", size);
		s->uncosigned_since_ms = 0;
		s->stale_warned = 0;
		atomic_store(&s->stale, 0);
		return;
	}
	if (s->uncosigned_since_ms == 0)
		s->uncosigned_since_ms = now;
	if (now - s->uncosigned_since_ms >= (int64_t)s->stale_after_ms) {
		atomic_store(&s->stale, 1);
		if (!s->stale_warned)
			log_warn("witnesses: no witness has cosigned a "
			    "checkpoint for %" PRIu64 " s (newest cosigned "
			    "size %" PRIu64 ", store at %" PRIu64 ")",
			    (uint64_t)(now - s->uncosigned_since_ms) / 1000,
			    best, size);
		s->stale_warned = 1;
	}
}

static void
round_once(struct submit *s)
{
	char latest[PATH_MAX + 32], numbered[PATH_MAX + 48];
	uint64_t size, nsize;
	size_t len, i;
	int64_t now = clock_mono_ms();
	int have_numbered;

	snprintf(latest, sizeof(latest), "%s/latest.note", s->ckpt_dir);
	if (read_note(s, latest, &len, &size) != 0)
		return;
	snprintf(numbered, sizeof(numbered), "%s/ckpt-%020" PRIu64 ".note",
	    s->ckpt_dir, size);
	have_numbered = read_note(s, numbered, &len, &nsize) == 0 &&
	    nsize == size;
	for (i = 0; i < s->npeers; i++) {
		struct peer *p = &s->peers[i];

		if (p->cosigned == size || now < p->next_ms)
			continue;
		if (submit_one(s, p, have_numbered ? numbered : latest,
		    have_numbered, size) == 0) {
			p->backoff_ms = 0;
			p->next_ms = 0;
		} else {
			p->backoff_ms = p->backoff_ms == 0 ? BACKOFF_MIN_MS :
			    p->backoff_ms * 2;
			if (p->backoff_ms > BACKOFF_MAX_MS)
				p->backoff_ms = BACKOFF_MAX_MS;
			p->next_ms = clock_mono_ms() + (int64_t)p->backoff_ms;
		}
	}
	check_stale(s, size, clock_mono_ms());
}

static void *
run(void *arg)
{
	struct submit *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->mtx);
	while (!s->stop) {
		s->kicked = 0;
		pthread_mutex_unlock(&s->mtx);
		round_once(s);
		pthread_mutex_lock(&s->mtx);
		if (s->stop || s->kicked)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
	}
	pthread_mutex_unlock(&s->mtx);
	return (NULL);
}

int
submit_start(struct submit *s)
{

	if (pthread_create(&s->th, NULL, run, s) != 0)
		return (CST_ENOMEM);
	s->started = 1;
	return (0);
}

void
submit_kick(struct submit *s)
{

	pthread_mutex_lock(&s->mtx);
	s->kicked = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

size_t
submit_npeers(const struct submit *s)
{

	return (s->npeers);
}

struct submit_peer_ctr *
submit_peer(struct submit *s, size_t i)
{

	return (&s->peers[i].ctr);
}

int
submit_stale(const struct submit *s)
{

	return (atomic_load(&((struct submit *)(uintptr_t)s)->stale));
}

void
submit_free(struct submit *s)
{

	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mtx);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mtx);
		pthread_join(s->th, NULL);
	}
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	free(s->ca);
	free(s->cert);
	free(s->key);
	free(s->peers);
	free(s->note);
	free(s->resp);
	free(s);
}
