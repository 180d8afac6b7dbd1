/*
 * Trusted time (anchor.h): RFC 3161 tokens over numbered checkpoints,
 * fetched with libcurl on a thread of their own (SPEC section 15).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/timestamp.h"

#include "anchor.h"
#include "ckptfiles.h"
#include "clock.h"
#include "log.h"

#define PATH_LEN 4096
/* The first retry after a failure; each one after waits twice as long. */
#define BACKOFF_MIN_MS 1000
/* ... up to the interval, and never more than this. */
#define BACKOFF_MAX_MS (5 * 60 * 1000)
/* While nothing is due, how often the newest checkpoint is looked for. */
#define POLL_MS 1000
/* A checkpoint larger than this is not one (a certificate per epoch). */
#define CKPT_MAX (16u << 20)

enum attempt { DONE, NOTHING, VANISHED, FAILED };

struct anchor {
	/* Shared, under mtx. */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	int stop;
	char *export_dir;

	/* Read by curl's progress callback: ends a transfer at a stop. */
	_Atomic int abort;

	/* Set before the thread starts. */
	char *url;
	char *ca;
	cst_ts_trust *trust;
	uint64_t interval_ms;
	uint64_t timeout_ms;
	char ckptdir[PATH_LEN];
	struct anchor_ops ops;
	void *ctx;
	struct anchor_stats stats;
	pthread_t thr;
	int started;

	/* The thread's own. */
	uint64_t done_blocks;    /* the newest checkpoint with a token */
	int failing;             /* in a failure episode (logged once) */
	uint64_t episode_failures;
	int export_failing;
};

/* A reason, into why (ANCHOR_ERR_LEN); a long one is cut short. */
#define setwhy(why, ...) log_seterr(why, ANCHOR_ERR_LEN, __VA_ARGS__)

int
anchor_new(const char *data_dir, const struct anchor_cfg *cfg,
    const struct anchor_ops *ops, void *ctx, struct anchor **out,
    char err[ANCHOR_ERR_LEN])
{
	struct anchor *a;
	char why[CST_TS_WHY_LEN];
	int rc = CST_ENOMEM;

	pthread_condattr_t ca;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		setwhy(err, "%s", cst_strerror(rc));
		return (rc);
	}
	pthread_mutex_init(&a->mtx, NULL);
	/* Waits measured on the clock that a wall-clock step leaves alone. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->interval_ms = cfg->interval_ms;
	a->timeout_ms = cfg->timeout_ms;
	a->ops = *ops;
	a->ctx = ctx;
	if ((a->url = strdup(cfg->url)) == NULL ||
	    (cfg->ca != NULL && (a->ca = strdup(cfg->ca)) == NULL))
		goto err1;
	if (snprintf(a->ckptdir, sizeof(a->ckptdir), "%s/checkpoints",
	    data_dir) >= (int)sizeof(a->ckptdir)) {
		rc = CST_EINVAL;
		setwhy(err, "%s: path too long", data_dir);
		goto err2;
	}
	if (cfg->tsa_cert != NULL) {
		if ((rc = cst_ts_trust_new(&a->trust)) != 0)
			goto err1;
		if ((rc = cst_ts_trust_add_file(a->trust, cfg->tsa_cert,
		    why)) != 0) {
			setwhy(err, "anchor.tsa_cert: %s", why);
			goto err2;
		}
	}
	*out = a;
	return (0);

err1:
	setwhy(err, "%s", cst_strerror(rc));
err2:
	anchor_free(a);
	return (rc);
}

void
anchor_set_export_dir(struct anchor *a, const char *dir)
{
	char *s = dir != NULL ? strdup(dir) : NULL;

	pthread_mutex_lock(&a->mtx);
	free(a->export_dir);
	a->export_dir = s;
	pthread_mutex_unlock(&a->mtx);
	if (dir != NULL && s == NULL)
		log_warn("timestamp: %s: tokens are not exported",
		    cst_strerror(CST_ENOMEM));
}

const struct anchor_stats *
anchor_stats(const struct anchor *a)
{

	return (&a->stats);
}

/* Response body, capped at a token file's size (R-TSA-1). */
struct body {
	cst_buf buf;
	int too_big;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n;   /* curl: size is 1 */

	if (b->buf.len + len > CST_TS_MAX) {
		b->too_big = 1;
		return (0);
	}
	if (cst_buf_append(&b->buf, p, len) != 0)
		return (0);
	return (len);
}

static int
on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct anchor *a = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return (atomic_load(&a->abort) ? 1 : 0);
}

/*
 * POSTs req to the TSA (R-TSA-2); the answer's body in b.  Returns 0, or
 * -1 with the reason in why.
 */
static int
post(struct anchor *a, const cst_buf *req, struct body *b, char *why)
{
	char cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdr = NULL, *h;
	CURLcode cc;
	long code = 0;
	CURL *c;
	int rc = -1;

	cerr[0] = '\0';
	if ((c = curl_easy_init()) == NULL) {
		setwhy(why, "cannot start an HTTP client (libcurl)");
		return (-1);
	}
	if ((h = curl_slist_append(hdr,
	    "Content-Type: application/timestamp-query")) == NULL)
		goto oom;
	hdr = h;
	if ((h = curl_slist_append(hdr,
	    "Accept: application/timestamp-reply")) == NULL)
		goto oom;
	hdr = h;
	/* No "100 continue" round trip for a request of some 80 bytes. */
	if ((h = curl_slist_append(hdr, "Expect:")) == NULL)
		goto oom;
	hdr = h;
	curl_easy_setopt(c, CURLOPT_URL, a->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->p);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)a->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "custodyd");
	if (a->ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, a->ca);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		if (b->too_big)
			setwhy(why, "the answer is larger than %d bytes, not a "
			    "timestamp response", CST_TS_MAX);
		else
			setwhy(why, "%s", cerr[0] != '\0' ? cerr :
			    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		setwhy(why, "the TSA answered HTTP %ld", code);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	setwhy(why, "%s", cst_strerror(CST_ENOMEM));
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return (rc);
}

/*
 * Reads the checkpoint file path whole into out.  Returns 0, CST_ENOENT
 * (gone: pruned), or another code with the reason in why.
 */
static int
read_ckpt(const char *path, cst_buf *out, char *why)
{
	struct stat st;
	uint8_t chunk[8192];
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		rc = cst_err_from_errno(errno);
		if (rc != CST_ENOENT)
			setwhy(why, "%s: %s", path, strerror(errno));
		return (rc);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CKPT_MAX) {
		setwhy(why, "%s: not a checkpoint file", path);
		close(fd);
		return (CST_ENOTREG);
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			rc = cst_err_from_errno(errno);
			setwhy(why, "%s: %s", path, strerror(errno));
			close(fd);
			return (rc);
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > CKPT_MAX ||
		    cst_buf_append(out, chunk, (size_t)n) != 0) {
			setwhy(why, "%s: not a checkpoint file", path);
			close(fd);
			return (CST_ETOOBIG);
		}
	}
	close(fd);
	return (0);
}

static int
exists(const char *dir, const char *name)
{
	char path[PATH_LEN];
	struct stat st;

	return (snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path) && lstat(path, &st) == 0);
}

/* Copies the token to the export directory, beside its checkpoint. */
static void
export_token(struct anchor *a, uint64_t blocks, const cst_buf *resp)
{
	char ckpt[CKPTFILES_NAME_LEN], tsr[CKPTFILES_NAME_LEN];
	char *dir = NULL;
	int rc;

	pthread_mutex_lock(&a->mtx);
	if (a->export_dir != NULL)
		dir = strdup(a->export_dir);
	pthread_mutex_unlock(&a->mtx);
	if (dir == NULL)
		return;
	ckptfiles_name(blocks, "ckpt", ckpt);
	ckptfiles_name(blocks, "tsr", tsr);
	/* Never a token without its checkpoint there (R-TSA-4). */
	if (!exists(dir, ckpt))
		rc = CST_ENOENT;
	else
		rc = ckptfiles_write(dir, tsr, resp->p, resp->len);
	if (rc != 0 && !a->export_failing)
		log_warn("timestamp: cannot copy %s to %s: %s", tsr, dir,
		    rc == CST_ENOENT ? "its checkpoint is not there" :
		    cst_strerror(rc));
	a->export_failing = rc != 0;
	free(dir);
}

/* Asks for, checks and stores a token over the newest checkpoint. */
static enum attempt
attempt(struct anchor *a, char *why)
{
	char ckname[CKPTFILES_NAME_LEN], tsname[CKPTFILES_NAME_LEN];
	char path[PATH_LEN], twhy[CST_TS_WHY_LEN];
	uint8_t digest[CST_TS_DIGEST_LEN], nonce[CST_TS_NONCE_LEN];
	cst_buf text, req;
	struct body b;
	cst_ts_info info;
	enum attempt r = FAILED;
	uint64_t blocks;
	int rc;

	if ((rc = ckptfiles_newest(a->ckptdir, &blocks)) != 0) {
		setwhy(why, "cannot list %s: %s", a->ckptdir,
		    cst_strerror(rc));
		return (FAILED);
	}
	if (blocks == 0 || blocks == a->done_blocks)
		return (NOTHING);
	ckptfiles_name(blocks, "ckpt", ckname);
	ckptfiles_name(blocks, "tsr", tsname);
	/* A token fetched before a restart. */
	if (exists(a->ckptdir, tsname)) {
		a->done_blocks = blocks;
		return (NOTHING);
	}
	if (snprintf(path, sizeof(path), "%s/%s", a->ckptdir, ckname) >=
	    (int)sizeof(path)) {
		setwhy(why, "%s: path too long", a->ckptdir);
		return (FAILED);
	}
	cst_buf_init(&text);
	cst_buf_init(&req);
	cst_buf_init(&b.buf);
	b.too_big = 0;
	a->ops.pin(a->ctx, blocks);
	if ((rc = read_ckpt(path, &text, why)) != 0) {
		r = rc == CST_ENOENT ? VANISHED : FAILED;
		goto out;
	}
	crypto_hash_sha256(digest, text.p, text.len);
	if (cst_ts_request(digest, nonce, &req) != 0) {
		setwhy(why, "%s", cst_strerror(CST_ENOMEM));
		goto out;
	}
	if (post(a, &req, &b, twhy) != 0) {
		setwhy(why, "%s: %s", a->url, twhy);
		goto out;
	}
	if ((rc = cst_ts_check(b.buf.p, b.buf.len, digest, nonce, a->trust,
	    &info, twhy)) != 0) {
		setwhy(why, "%s: the answer is refused: %s", a->url, twhy);
		goto out;
	}
	/* Pruned before the pin took hold: no token without it (R-TSA-4). */
	if (!exists(a->ckptdir, ckname)) {
		r = VANISHED;
		goto out;
	}
	if ((rc = ckptfiles_write(a->ckptdir, tsname, b.buf.p,
	    b.buf.len)) != 0) {
		setwhy(why, "cannot store %s/%s: %s", a->ckptdir, tsname,
		    cst_strerror(rc));
		goto out;
	}
	export_token(a, blocks, &b.buf);
	a->done_blocks = blocks;
	atomic_store(&a->stats.newest_gen_ns, (uint64_t)info.gen_time_ns);
	atomic_store(&a->stats.newest_blocks, blocks);
	atomic_fetch_add(&a->stats.tokens, 1);
	r = DONE;
out:
	a->ops.pin(a->ctx, 0);
	cst_buf_close(&text);
	cst_buf_close(&req);
	cst_buf_close(&b.buf);
	return (r);
}

static void *
anchor_main(void *arg)
{
	struct anchor *a = arg;
	char why[ANCHOR_ERR_LEN];
	uint64_t now, due = 0, wait, backoff = BACKOFF_MIN_MS;
	uint64_t cap = a->interval_ms < BACKOFF_MAX_MS ? a->interval_ms :
	    BACKOFF_MAX_MS;
	struct timespec ts;
	enum attempt r;

	if (cap < BACKOFF_MIN_MS)
		cap = BACKOFF_MIN_MS;
	pthread_mutex_lock(&a->mtx);
	while (!a->stop) {
		now = (uint64_t)clock_mono_ms();
		if (now >= due) {
			pthread_mutex_unlock(&a->mtx);
			why[0] = '\0';
			r = attempt(a, why);
			pthread_mutex_lock(&a->mtx);
			now = (uint64_t)clock_mono_ms();
			switch (r) {
			case DONE:
				if (a->failing)
					log_notice("timestamp: the TSA answers "
					    "again, after %" PRIu64 " failed "
					    "request(s)", a->episode_failures);
				a->failing = 0;
				a->episode_failures = 0;
				backoff = BACKOFF_MIN_MS;
				due = now + a->interval_ms;
				break;
			case NOTHING:
				due = now + POLL_MS;
				break;
			case VANISHED:
				/* A newer checkpoint replaced it: take that. */
				due = now;
				break;
			case FAILED:
				atomic_fetch_add(&a->stats.failures, 1);
				a->episode_failures++;
				if (!a->failing)
					log_warn("timestamp: %s; retrying, at "
					    "most every %" PRIu64 " s", why,
					    cap / 1000);
				a->failing = 1;
				due = now + backoff;
				backoff = backoff * 2 > cap ? cap : backoff * 2;
				break;
			}
			continue;
		}
		wait = due - now;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&a->cond, &a->mtx, &ts);
	}
	pthread_mutex_unlock(&a->mtx);
	return (NULL);
}

int
anchor_start(struct anchor *a)
{

	if (pthread_create(&a->thr, NULL, anchor_main, a) != 0)
		return (CST_ENOMEM);
	a->started = 1;
	return (0);
}

void
anchor_free(struct anchor *a)
{

	if (a == NULL)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mtx);
		a->stop = 1;
		atomic_store(&a->abort, 1);
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->mtx);
		pthread_join(a->thr, NULL);
	}
	cst_ts_trust_free(a->trust);
	free(a->url);
	free(a->ca);
	free(a->export_dir);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}
