/*
 * Replication to NATS JetStream (SPEC section 17): the publishing thread.
 *
 * The thread owns the NATS connection and a position in the local store:
 * the next block to publish, the segment it is in and its offset.  It
 * publishes one frame at a time with a synchronous JetStream publish, so
 * that the stream receives the blocks in block order and a failure leaves
 * no later block stored before an earlier one; after any failure it asks
 * the stream where it stands (R-REP-6) before going on.  Frames are read
 * back from the segment files, which the writer only appends to, and only
 * below the writer's durable block count.
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
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>
#include <openssl/sha.h>

#include "custody/error.h"
#include "custody/natsopt.h"
#include "custody/format.h"
#include "custody/natsrep.h"

#include "clock.h"
#include "log.h"
#include "replicate.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define FILES_EVERY_MS 1000
#define FILE_MAX (1u << 20)
#define CONNECT_TIMEOUT_MS 2000

#define seterr(err, ...) log_seterr(err, REPLICATE_ERR_LEN, __VA_ARGS__)

/* A checkpoint or key file published this run (R-REP-7). */
struct pubfile {
	char name[CST_REP_NAME_MAX + 1];
	int is_key;
	int64_t mtime_ns;
	int64_t size;
	int seen;                 /* still in its directory at the last scan */
};

struct replicate {
	/* Set once. */
	char *servers, *creds, *tls_cert, *tls_key, *tls_ca, *stream;
	uint64_t replicas;
	char dir[4096];
	char chain[2 * CST_CHAIN_ID_LEN + 1];
	char subj_seg[80], subj_blk[80], subj_ckpt[80], subj_key[80];
	_Atomic uint64_t durable;  /* blocks below are durable */
	replicate_acked_fn *acked;
	void *ctx;
	int64_t start_ns;

	/* The thread's own. */
	natsConnection *nc;
	jsCtx *js;
	int positioned;           /* next/seg/off come from the stream */
	uint64_t next;            /* block to publish next */
	uint64_t seg;             /* the segment it is in */
	uint64_t off;             /* its offset there */
	int64_t last_seg;         /* newest segment header in the stream */
	int fd;
	uint64_t fd_seg;
	uint8_t *frame;
	size_t cap;
	struct pubfile *files;
	size_t nfiles;
	char ckpt_high[CST_REP_NAME_MAX + 1]; /* at start, in the stream */
	char key_high[CST_REP_NAME_MAX + 1];
	int64_t files_at;         /* CLOCK_MONOTONIC of the last scan */

	/* Under mtx. */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	pthread_t thr;
	int started;
	int stop;
	int64_t stop_by;          /* CLOCK_MONOTONIC deadline of the drain */
	int poked;
	struct replicate_stats st;
	int known;                /* acked_next is where the stream stands */
	uint64_t acked_next;      /* every block below is in the stream */
	uint64_t acked_seg;       /* and ends in this segment, at acked_off */
	uint64_t acked_off;
};

/* Notes a failure: counted, kept for status, logged when it is new. */
static void
failed(struct replicate *r, const char *msg)
{
	int fresh;

	pthread_mutex_lock(&r->mtx);
	r->st.errors++;
	fresh = strcmp(r->st.last_err, msg) != 0;
	snprintf(r->st.last_err, sizeof(r->st.last_err), "%s", msg);
	pthread_mutex_unlock(&r->mtx);
	if (fresh)
		log_warn("replication to %s: %s", r->servers, msg);
}

static void
disconnect(struct replicate *r)
{

	jsCtx_Destroy(r->js);
	r->js = NULL;
	natsConnection_Destroy(r->nc);
	r->nc = NULL;
	r->positioned = 0;
	pthread_mutex_lock(&r->mtx);
	r->st.connected = 0;
	pthread_mutex_unlock(&r->mtx);
}

static int
connect_js(struct replicate *r, char *err)
{
	natsOptions *o = NULL;
	jsOptions jo;
	natsStatus s;

	if ((s = natsOptions_Create(&o)) != NATS_OK ||
	    (s = cst_nats_set_servers(o, r->servers)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS)) != NATS_OK ||
	    (s = natsOptions_SetMaxReconnect(o, -1)) != NATS_OK ||
	    (s = natsOptions_SetReconnectWait(o, 250)) != NATS_OK ||
	    (s = natsOptions_SetName(o, "custodyd")) != NATS_OK)
		goto err;
	if (r->creds != NULL && (s = natsOptions_SetUserCredentialsFromFiles(o,
	    r->creds, NULL)) != NATS_OK)
		goto err;
	if (r->tls_ca != NULL && (s = natsOptions_LoadCATrustedCertificates(o,
	    r->tls_ca)) != NATS_OK)
		goto err;
	if (r->tls_cert != NULL && (s = natsOptions_LoadCertificatesChain(o,
	    r->tls_cert, r->tls_key != NULL ? r->tls_key :
	    r->tls_cert)) != NATS_OK)
		goto err;
	if ((r->tls_ca != NULL || r->tls_cert != NULL) &&
	    (s = natsOptions_SetSecure(o, true)) != NATS_OK)
		goto err;
	if ((s = natsConnection_Connect(&r->nc, o)) != NATS_OK)
		goto err;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	if ((s = natsConnection_JetStream(&r->js, r->nc, &jo)) != NATS_OK)
		goto err;
	natsOptions_Destroy(o);
	pthread_mutex_lock(&r->mtx);
	r->st.connected = 1;
	pthread_mutex_unlock(&r->mtx);
	return (0);
err:
	seterr(err, "cannot connect: %s", cst_nats_why(s));
	natsOptions_Destroy(o);
	disconnect(r);
	return (-1);
}

/*
 * R-REP-1: the stream exists and keeps everything, or is made so.
 * Returns 0; 1 when it is unfit (err says which setting); -1 when the
 * servers could not tell.
 */
static int
ensure_stream(struct replicate *r, char *err)
{
	static const char *subjects[] = { CST_REP_SUBJECTS };
	jsStreamInfo *si = NULL;
	jsStreamConfig sc, *c;
	jsErrCode jerr = 0;
	natsStatus s;
	int i, takes = 0;

	s = js_GetStreamInfo(&si, r->js, r->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		jsStreamConfig_Init(&sc);
		sc.Name = r->stream;
		sc.Description = "custody: replicated evidence (SPEC 17)";
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Retention = js_LimitsPolicy;
		sc.MaxMsgs = -1;
		sc.MaxBytes = -1;
		sc.MaxAge = 0;
		sc.MaxMsgsPerSubject = -1;
		sc.Discard = js_DiscardOld;
		sc.Storage = js_FileStorage;
		sc.DenyDelete = true;
		sc.DenyPurge = true;
		sc.Duplicates = CST_REP_DUPLICATE_WINDOW_NS;
		sc.AllowDirect = true;
		/* Three copies where the cluster has three servers. */
		sc.Replicas = 3;
		s = js_AddStream(&si, r->js, &sc, NULL, &jerr);
		if (s != NATS_OK && r->replicas != 3) {
			sc.Replicas = (int64_t)r->replicas;
			jerr = 0;
			s = js_AddStream(&si, r->js, &sc, NULL, &jerr);
		}
		if (s != NATS_OK) {
			seterr(err, "cannot create stream %s: %s", r->stream,
			    cst_nats_why(s));
			return (-1);
		}
		log_notice("replication: created stream %s (%" PRId64
		    " replicas) on %s", r->stream, si->Config->Replicas,
		    r->servers);
		jsStreamInfo_Destroy(si);
		return (0);
	}
	if (s != NATS_OK) {
		seterr(err, "stream %s: %s", r->stream, cst_nats_why(s));
		return (-1);
	}
	c = si->Config;
	for (i = 0; i < c->SubjectsLen; i++)
		if (strcmp(c->Subjects[i], CST_REP_SUBJECTS) == 0)
			takes = 1;
	if (c->DenyDelete == false)
		seterr(err, "stream %s allows deleting messages (deny_delete "
		    "is false): evidence could be removed", r->stream);
	else if (c->DenyPurge == false)
		seterr(err, "stream %s allows purging (deny_purge is false): "
		    "evidence could be removed", r->stream);
	else if (c->MaxAge > 0)
		seterr(err, "stream %s has max_age %" PRId64 " s: evidence "
		    "would age out", r->stream, c->MaxAge / 1000000000);
	else if (c->MaxMsgs > 0)
		seterr(err, "stream %s has max_msgs %" PRId64 ": evidence "
		    "would be dropped", r->stream, c->MaxMsgs);
	else if (c->MaxBytes > 0)
		seterr(err, "stream %s has max_bytes %" PRId64 ": evidence "
		    "would be dropped", r->stream, c->MaxBytes);
	else if (c->MaxMsgsPerSubject > 0)
		seterr(err, "stream %s has max_msgs_per_subject %" PRId64
		    ": evidence would be dropped", r->stream,
		    c->MaxMsgsPerSubject);
	else if (c->Retention != js_LimitsPolicy)
		seterr(err, "stream %s has retention %s, not limits: messages "
		    "would be removed once consumed", r->stream,
		    c->Retention == js_InterestPolicy ? "interest" :
		    "workqueue");
	else if (c->Storage != js_FileStorage)
		seterr(err, "stream %s keeps messages in memory, not in "
		    "files: a restart of the servers loses them", r->stream);
	else if (!takes)
		seterr(err, "stream %s does not take the subjects "
		    CST_REP_SUBJECTS, r->stream);
	else {
		jsStreamInfo_Destroy(si);
		return (0);
	}
	jsStreamInfo_Destroy(si);
	return (1);
}

/* Parses a decimal header value of m into *v. */
static int
hdr_u64(natsMsg *m, const char *key, uint64_t *v)
{
	const char *p = NULL;
	char *end;

	if (natsMsgHeader_Get(m, key, &p) != NATS_OK || p == NULL ||
	    p[0] < '0' || p[0] > '9')
		return (-1);
	errno = 0;
	*v = strtoull(p, &end, 10);
	return (*end != '\0' || errno != 0 ? -1 : 0);
}

/* Opens segment seg for reading as r->fd. */
static int
open_seg(struct replicate *r, uint64_t seg, char *err)
{
	char path[4200];

	if (r->fd >= 0 && r->fd_seg == seg)
		return (0);
	if (r->fd >= 0)
		close(r->fd);
	snprintf(path, sizeof(path), "%s/segments/seg-%010" PRIu64 ".cst",
	    r->dir, seg);
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "%s: %s", path, strerror(errno));
		return (-1);
	}
	r->fd_seg = seg;
	return (0);
}

static ssize_t
read_at(int fd, void *p, size_t len, uint64_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, (uint8_t *)p + got, len - got,
		    (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (-1);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return ((ssize_t)got);
}

/*
 * Reads the frame at (r->seg, r->off) into r->frame, moving to the next
 * segment when the current one ends there; *h gets its header.  Returns
 * its length, 0 when there is none yet, or -1 (err).
 */
static ssize_t
read_frame(struct replicate *r, cst_blk_hdr *h, char *err)
{
	ssize_t n;
	size_t len;
	uint8_t *p;
	int rc;

	if (r->cap < CST_BLK_HDR_LEN) {
		if ((p = realloc(r->frame, 1 << 16)) == NULL) {
			seterr(err, "%s", strerror(errno));
			return (-1);
		}
		r->frame = p;
		r->cap = 1 << 16;
	}
	if (open_seg(r, r->seg, err) != 0)
		return (-1);
	if ((n = read_at(r->fd, r->frame, CST_BLK_HDR_LEN, r->off)) == 0) {
		/* The segment ended with its seal: the next one. */
		if (open_seg(r, r->seg + 1, err) != 0)
			return (-1);
		r->seg++;
		r->off = CST_SEG_HDR_LEN;
		n = read_at(r->fd, r->frame, CST_BLK_HDR_LEN, r->off);
	}
	if (n < 0 || (size_t)n < CST_BLK_HDR_LEN) {
		seterr(err, "segment %" PRIu64 " offset %" PRIu64 ": %s",
		    r->seg, r->off, n < 0 ? strerror(errno) :
		    "a frame header cut short");
		return (-1);
	}
	if ((rc = cst_blk_hdr_decode(r->frame, CST_BLK_HDR_LEN, h)) != 0) {
		seterr(err, "segment %" PRIu64 " offset %" PRIu64 ": not a "
		    "block: %s", r->seg, r->off, cst_strerror(rc));
		return (-1);
	}
	len = CST_BLK_HDR_LEN + h->cert_len + h->payload_len + CST_SIG_LEN;
	if (len > r->cap) {
		if ((p = realloc(r->frame, len)) == NULL) {
			seterr(err, "%s", strerror(errno));
			return (-1);
		}
		r->frame = p;
		r->cap = len;
	}
	if ((n = read_at(r->fd, r->frame + CST_BLK_HDR_LEN,
	    len - CST_BLK_HDR_LEN, r->off + CST_BLK_HDR_LEN)) < 0 ||
	    (size_t)n != len - CST_BLK_HDR_LEN) {
		seterr(err, "segment %" PRIu64 " offset %" PRIu64 ": block %"
		    PRIu64 " cut short", r->seg, r->off, h->block_no);
		return (-1);
	}
	return ((ssize_t)len);
}

/* Publishes data on subj with msgid and up to three headers; sync. */
static int
publish(struct replicate *r, const char *subj, const void *data, size_t len,
    const char *msgid, const char *const *hdrs, size_t nhdrs, char *err)
{
	natsMsg *m = NULL;
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	size_t i;

	if ((s = natsMsg_Create(&m, subj, NULL, data, (int)len)) != NATS_OK)
		goto err;
	for (i = 0; i + 1 < 2 * nhdrs; i += 2)
		if ((s = natsMsgHeader_Set(m, hdrs[i], hdrs[i + 1])) != NATS_OK)
			goto err;
	jsPubOptions_Init(&po);
	po.MsgId = msgid;
	po.ExpectStream = r->stream;
	if ((s = js_PublishMsg(&pa, r->js, m, &po, &jerr)) != NATS_OK)
		goto err;
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(m);
	return (0);
err:
	seterr(err, "publishing %s to stream %s: %s", msgid, r->stream,
	    cst_nats_why(s));
	natsMsg_Destroy(m);
	return (-1);
}

/* The refusal of R-REP-1 or R-REP-6: logged, and replication stops. */
static void
refuse(struct replicate *r, const char *msg)
{

	pthread_mutex_lock(&r->mtx);
	r->st.refused = 1;
	snprintf(r->st.last_err, sizeof(r->st.last_err), "%s", msg);
	pthread_mutex_unlock(&r->mtx);
	log_err("replication stopped: %s", msg);
}

/* The stream holds every block below r->next. */
static void
set_known(struct replicate *r)
{

	pthread_mutex_lock(&r->mtx);
	r->acked_next = r->next;
	r->acked_seg = r->seg;
	r->acked_off = r->off;
	r->known = 1;
	pthread_mutex_unlock(&r->mtx);
}

/*
 * R-REP-6: where the stream stands.  Returns 0; 1 when the stream holds
 * a block the local store does not (err); -1 when it could not tell.
 */
static int
resume(struct replicate *r, char *err)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	cst_blk_hdr h;
	uint64_t b, seg, off;
	ssize_t len;

	s = js_GetLastMsg(&m, r->js, r->stream, r->subj_seg, NULL, &jerr);
	if (s == NATS_NOT_FOUND)
		r->last_seg = -1;
	else if (s != NATS_OK) {
		seterr(err, "asking stream %s for %s: %s", r->stream,
		    r->subj_seg, cst_nats_why(s));
		return (-1);
	} else {
		if (hdr_u64(m, CST_REP_H_SEGMENT, &seg) != 0) {
			seterr(err, "stream %s: the last message of %s has no "
			    "valid " CST_REP_H_SEGMENT, r->stream, r->subj_seg);
			natsMsg_Destroy(m);
			return (1);
		}
		r->last_seg = (int64_t)seg;
		natsMsg_Destroy(m);
		m = NULL;
	}
	jerr = 0;
	s = js_GetLastMsg(&m, r->js, r->stream, r->subj_blk, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		r->next = 0;
		r->seg = 0;
		r->off = CST_SEG_HDR_LEN;
		r->positioned = 1;
		set_known(r);
		return (0);
	}
	if (s != NATS_OK) {
		seterr(err, "asking stream %s for %s: %s", r->stream,
		    r->subj_blk, cst_nats_why(s));
		return (-1);
	}
	if (hdr_u64(m, CST_REP_H_BLOCK, &b) != 0 ||
	    hdr_u64(m, CST_REP_H_SEGMENT, &seg) != 0 ||
	    hdr_u64(m, CST_REP_H_OFFSET, &off) != 0) {
		seterr(err, "stream %s: the last block message has no valid "
		    "Custody- headers", r->stream);
		natsMsg_Destroy(m);
		return (1);
	}
	/* The stream's last block must be this store's, at that place. */
	r->seg = seg;
	r->off = off;
	if (b >= atomic_load(&r->durable) || open_seg(r, seg, err) != 0 ||
	    (len = read_frame(r, &h, err)) < 0 || r->seg != seg ||
	    h.block_no != b || (size_t)len != (size_t)natsMsg_GetDataLength(m) ||
	    memcmp(r->frame, natsMsg_GetData(m), (size_t)len) != 0) {
		seterr(err, "stream %s holds block %" PRIu64 " (segment %"
		    PRIu64 ", offset %" PRIu64 ") that this store does not "
		    "have there: another store of chain %s, or an older copy "
		    "of this one, replicated into it", r->stream, b, seg, off,
		    r->chain);
		natsMsg_Destroy(m);
		return (1);
	}
	natsMsg_Destroy(m);
	r->next = b + 1;
	r->off = off + (uint64_t)len;
	r->positioned = 1;
	set_known(r);
	return (0);
}

/* Publishes the next durable block (and its segment's header first). */
static int
publish_block(struct replicate *r, char *err)
{
	char id[128], sn[24], on[24], bn[24];
	const char *hdrs[6];
	uint8_t sh[CST_SEG_HDR_LEN];
	cst_blk_hdr h;
	ssize_t len;
	int64_t now;

	if ((len = read_frame(r, &h, err)) < 0)
		return (-1);
	if (h.block_no != r->next) {
		seterr(err, "segment %" PRIu64 " offset %" PRIu64 " holds block "
		    "%" PRIu64 " where block %" PRIu64 " is due", r->seg,
		    r->off, h.block_no, r->next);
		return (-1);
	}
	snprintf(sn, sizeof(sn), "%" PRIu64, r->seg);
	if ((int64_t)r->seg > r->last_seg) {
		if (read_at(r->fd, sh, sizeof(sh), 0) != (ssize_t)sizeof(sh)) {
			seterr(err, "segment %" PRIu64 ": header: %s", r->seg,
			    strerror(errno));
			return (-1);
		}
		snprintf(id, sizeof(id), CST_REP_ID_SEGMENT, r->chain,
		    (unsigned long long)r->seg);
		hdrs[0] = CST_REP_H_SEGMENT;
		hdrs[1] = sn;
		if (publish(r, r->subj_seg, sh, sizeof(sh), id, hdrs, 1,
		    err) != 0)
			return (-1);
		r->last_seg = (int64_t)r->seg;
	}
	snprintf(on, sizeof(on), "%" PRIu64, r->off);
	snprintf(bn, sizeof(bn), "%" PRIu64, h.block_no);
	snprintf(id, sizeof(id), CST_REP_ID_BLOCK, r->chain,
	    (unsigned long long)h.block_no);
	hdrs[0] = CST_REP_H_SEGMENT;
	hdrs[1] = sn;
	hdrs[2] = CST_REP_H_OFFSET;
	hdrs[3] = on;
	hdrs[4] = CST_REP_H_BLOCK;
	hdrs[5] = bn;
	if (publish(r, r->subj_blk, r->frame, (size_t)len, id, hdrs, 3,
	    err) != 0)
		return (-1);
	r->next++;
	r->off += (uint64_t)len;
	now = clock_real_ns();
	pthread_mutex_lock(&r->mtx);
	r->st.published++;
	r->st.published_bytes += (uint64_t)len;
	r->st.last_ack_ns = now;
	r->acked_next = r->next;
	r->acked_seg = r->seg;
	r->acked_off = r->off;
	r->known = 1;
	pthread_mutex_unlock(&r->mtx);
	if (r->acked != NULL)
		r->acked(r->ctx, h.first_seq + h.record_count);
	return (0);
}

/* ---- checkpoint and key files (R-REP-4, R-REP-7) ---- */

/* Is name one R-REP-4 lets go, from checkpoints/ or keys/? */
static int
publishable(const char *name, int is_key, uint64_t *covers)
{
	size_t len = strlen(name);
	char *end;

	if (name[0] == '.' || len > CST_REP_NAME_MAX)
		return (0);
	if (is_key)
		return (strstr(name, ".key") == NULL);
	if (strncmp(name, "ckpt-", 5) != 0)
		return (0);
	if (len < 5 || !(strcmp(name + len - 5, ".ckpt") == 0 ||
	    strcmp(name + len - 5, ".note") == 0 ||
	    (len >= 4 && strcmp(name + len - 4, ".tsr") == 0)))
		return (0);
	*covers = strtoull(name + 5, &end, 10);
	return (*end == '.');
}

static struct pubfile *
find_file(struct replicate *r, const char *name, int is_key)
{
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		if (r->files[i].is_key == is_key &&
		    strcmp(r->files[i].name, name) == 0)
			return (&r->files[i]);
	return (NULL);
}

/* Publishes one file of sub/ unless published with these bytes. */
static int
publish_file(struct replicate *r, int is_key, const char *name,
    const struct stat *sb, char *err)
{
	char path[4400], id[512], hex[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned char md[SHA256_DIGEST_LENGTH];
	const char *hdrs[2];
	struct pubfile *f, *nf;
	int64_t mt = (int64_t)sb->st_mtim.tv_sec * 1000000000 +
	    sb->st_mtim.tv_nsec;
	uint8_t *buf;
	ssize_t n;
	size_t i;
	int fd;

	if ((f = find_file(r, name, is_key)) != NULL) {
		f->seen = 1;
		if (f->mtime_ns == mt && f->size == (int64_t)sb->st_size)
			return (0);
	} else if (mt < r->start_ns && strcmp(name, is_key ? r->key_high :
	    r->ckpt_high) <= 0) {
		/* Published by an earlier run (R-REP-7). */
		return (0);
	}
	/* A key file others may not read is a secret (R-KEY-3, R-REP-4). */
	if (sb->st_size > FILE_MAX || (is_key && (sb->st_mode & S_IROTH) == 0))
		return (0);
	snprintf(path, sizeof(path), "%s/%s/%s", r->dir,
	    is_key ? "keys" : "checkpoints", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return (0);   /* pruned meanwhile */
	if ((buf = malloc((size_t)sb->st_size + 1)) == NULL) {
		close(fd);
		seterr(err, "%s", strerror(errno));
		return (-1);
	}
	n = read_at(fd, buf, (size_t)sb->st_size, 0);
	close(fd);
	if (n != (ssize_t)sb->st_size) {
		free(buf);
		return (0);
	}
	buf[n] = '\0';
	if (is_key && (memmem(buf, (size_t)n, "PRIVATE KEY", 11) != NULL ||
	    memmem(buf, (size_t)n, "-secret-", 8) != NULL)) {
		free(buf);
		return (0);
	}
	SHA256(buf, (size_t)n, md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(id, sizeof(id), is_key ? CST_REP_ID_KEY :
	    CST_REP_ID_CHECKPOINT, r->chain, name, hex);
	hdrs[0] = CST_REP_H_NAME;
	hdrs[1] = name;
	if (publish(r, is_key ? r->subj_key : r->subj_ckpt, buf, (size_t)n,
	    id, hdrs, 1, err) != 0) {
		free(buf);
		return (-1);
	}
	free(buf);
	if (f == NULL) {
		if ((nf = realloc(r->files, (r->nfiles + 1) *
		    sizeof(*nf))) == NULL) {
			seterr(err, "%s", strerror(errno));
			return (-1);
		}
		r->files = nf;
		f = &r->files[r->nfiles++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->is_key = is_key;
	}
	f->mtime_ns = mt;
	f->size = (int64_t)sb->st_size;
	f->seen = 1;
	return (0);
}

/* One directory: keys/ or checkpoints/. */
static int
publish_dir(struct replicate *r, int is_key, char *err)
{
	char path[4200], fp[4500];
	struct dirent *de;
	struct stat sb;
	uint64_t covers = 0;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", r->dir,
	    is_key ? "keys" : "checkpoints");
	if ((d = opendir(path)) == NULL)
		return (0);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!publishable(de->d_name, is_key, &covers))
			continue;
		/* A checkpoint goes after the blocks it covers (R-CKP-2). */
		if (!is_key && covers > r->next)
			continue;
		snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
		if (lstat(fp, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		rc = publish_file(r, is_key, de->d_name, &sb, err);
	}
	closedir(d);
	return (rc);
}

static int
publish_files(struct replicate *r, char *err)
{
	size_t i, k;

	for (i = 0; i < r->nfiles; i++)
		r->files[i].seen = 0;
	if (publish_dir(r, 1, err) != 0 || publish_dir(r, 0, err) != 0)
		return (-1);
	/* Forget files pruned from the directories. */
	for (i = k = 0; i < r->nfiles; i++)
		if (r->files[i].seen)
			r->files[k++] = r->files[i];
	r->nfiles = k;
	return (0);
}

/* The last Custody-Name of subj in the stream, into out ("" if none). */
static int
last_name(struct replicate *r, const char *subj, char *out, char *err)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	const char *v = NULL;

	out[0] = '\0';
	s = js_GetLastMsg(&m, r->js, r->stream, subj, NULL, &jerr);
	if (s == NATS_NOT_FOUND)
		return (0);
	if (s != NATS_OK) {
		seterr(err, "asking stream %s for %s: %s", r->stream, subj,
		    cst_nats_why(s));
		return (-1);
	}
	if (natsMsgHeader_Get(m, CST_REP_H_NAME, &v) == NATS_OK && v != NULL)
		snprintf(out, CST_REP_NAME_MAX + 1, "%s", v);
	natsMsg_Destroy(m);
	return (0);
}

/* Whether the connection is up, for the counters. */
static void
update_backlog(struct replicate *r)
{
	int up = r->nc != NULL &&
	    natsConnection_Status(r->nc) == NATS_CONN_STATUS_CONNECTED;

	pthread_mutex_lock(&r->mtx);
	r->st.connected = up;
	pthread_mutex_unlock(&r->mtx);
}

/*
 * The bytes of the backlog: what the segment files hold after the last
 * block the stream has, from segment seg offset off on.
 */
static uint64_t
backlog_bytes(const struct replicate *r, uint64_t seg, uint64_t off)
{
	char path[4200];
	struct stat sb;
	uint64_t bytes = 0, s, size;

	for (s = seg; ; s++) {
		snprintf(path, sizeof(path), "%s/segments/seg-%010" PRIu64
		    ".cst", r->dir, s);
		if (stat(path, &sb) != 0)
			break;
		size = (uint64_t)sb.st_size;
		bytes += size - (s == seg ? (off < size ? off : size) : 0);
	}
	return (bytes);
}

/* Waits ms at most, or until poked or stopped. */
static void
nap(struct replicate *r, int64_t ms)
{
	struct timespec ts;
	int64_t until;

	clock_gettime(CLOCK_REALTIME, &ts);
	until = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ms * NS_PER_MS;
	ts.tv_sec = (time_t)(until / 1000000000);
	ts.tv_nsec = (long)(until % 1000000000);
	pthread_mutex_lock(&r->mtx);
	if (!r->poked && !r->stop)
		pthread_cond_timedwait(&r->cond, &r->mtx, &ts);
	r->poked = 0;
	pthread_mutex_unlock(&r->mtx);
}

/* Connects, checks the stream and finds where to go on. 0, 1 refused. */
static int
get_going(struct replicate *r, char *err)
{
	int rc;

	if (r->nc == NULL && connect_js(r, err) != 0)
		return (-1);
	if ((rc = ensure_stream(r, err)) != 0 || (rc = resume(r, err)) != 0)
		return (rc);
	if (r->files_at == 0 && ((rc = last_name(r, r->subj_ckpt,
	    r->ckpt_high, err)) != 0 || (rc = last_name(r, r->subj_key,
	    r->key_high, err)) != 0))
		return (rc);
	return (0);
}

static void *
run(void *arg)
{
	struct replicate *r = arg;
	char err[REPLICATE_ERR_LEN];
	int64_t backoff = BACKOFF_MIN_MS, now;
	int stop, rc;

	for (;;) {
		pthread_mutex_lock(&r->mtx);
		stop = r->stop && (r->st.refused ||
		    clock_mono_ns() >= r->stop_by || !r->positioned ||
		    atomic_load(&r->durable) <= r->next);
		pthread_mutex_unlock(&r->mtx);
		if (stop)
			break;
		if (r->st.refused) {
			nap(r, 1000);
			continue;
		}
		if (!r->positioned) {
			if ((rc = get_going(r, err)) == 1) {
				refuse(r, err);
				continue;
			}
			if (rc != 0) {
				failed(r, err);
				if (r->nc != NULL && natsConnection_Status(
				    r->nc) == NATS_CONN_STATUS_CLOSED)
					disconnect(r);
				update_backlog(r);
				nap(r, backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
				    BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			pthread_mutex_lock(&r->mtx);
			r->st.last_err[0] = '\0';
			pthread_mutex_unlock(&r->mtx);
			log_notice("replication: stream %s on %s, from block %"
			    PRIu64, r->stream, r->servers, r->next);
		}
		if (r->next < atomic_load(&r->durable)) {
			if (publish_block(r, err) != 0) {
				failed(r, err);
				/* Ask the stream again before going on. */
				r->positioned = 0;
				update_backlog(r);
				nap(r, backoff);
			}
			continue;
		}
		now = clock_mono_ns();
		if (now - r->files_at >= FILES_EVERY_MS * NS_PER_MS) {
			r->files_at = now;
			if (publish_files(r, err) != 0) {
				failed(r, err);
				r->positioned = 0;
			}
		}
		update_backlog(r);
		nap(r, 200);
	}
	/* The checkpoint of the stop covers the last blocks: it goes too. */
	if (r->positioned && !r->st.refused && publish_files(r, err) != 0)
		failed(r, err);
	update_backlog(r);
	disconnect(r);
	return (NULL);
}

static int
dupstr(char **dst, const char *s)
{

	if (s == NULL)
		return (0);
	return ((*dst = strdup(s)) == NULL ? -1 : 0);
}

int
replicate_new(const struct conf_replicate *c, const char *data_dir,
    const char *chain_hex, uint64_t durable_blocks,
    replicate_acked_fn *acked, void *ctx, struct replicate **out,
    char err[REPLICATE_ERR_LEN])
{
	struct replicate *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->fd = -1;
	r->last_seg = -1;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (dupstr(&r->servers, c->servers) != 0 ||
	    dupstr(&r->creds, c->creds) != 0 ||
	    dupstr(&r->tls_cert, c->tls_cert) != 0 ||
	    dupstr(&r->tls_key, c->tls_key) != 0 ||
	    dupstr(&r->tls_ca, c->tls_ca) != 0 ||
	    dupstr(&r->stream, c->stream != NULL ? c->stream :
	    CST_REP_STREAM) != 0)
		goto nomem;
	r->replicas = c->replicas;
	snprintf(r->dir, sizeof(r->dir), "%s", data_dir);
	snprintf(r->chain, sizeof(r->chain), "%s", chain_hex);
	snprintf(r->subj_seg, sizeof(r->subj_seg), CST_REP_SUBJ_SEGMENTS,
	    chain_hex);
	snprintf(r->subj_blk, sizeof(r->subj_blk), CST_REP_SUBJ_BLOCKS,
	    chain_hex);
	snprintf(r->subj_ckpt, sizeof(r->subj_ckpt), CST_REP_SUBJ_CHECKPOINTS,
	    chain_hex);
	snprintf(r->subj_key, sizeof(r->subj_key), CST_REP_SUBJ_KEYS,
	    chain_hex);
	atomic_store(&r->durable, durable_blocks);
	r->acked = acked;
	r->ctx = ctx;
	r->start_ns = clock_real_ns();
	if ((rc = get_going(r, err)) == 1) {
		replicate_free(r, 0);
		return (CST_EINVAL);
	}
	if (rc != 0) {
		log_warn("replication to %s: %s; publishing begins once it "
		    "answers", r->servers, err);
		failed(r, err);
	}
	*out = r;
	return (0);

nomem:
	replicate_free(r, 0);
	seterr(err, "%s", cst_strerror(CST_ENOMEM));
	return (CST_ENOMEM);
}

int
replicate_start(struct replicate *r)
{

	if (pthread_create(&r->thr, NULL, run, r) != 0)
		return (CST_ENOMEM);
	r->started = 1;
	return (0);
}

void
replicate_durable(struct replicate *r, uint64_t durable_blocks)
{

	atomic_store(&r->durable, durable_blocks);
	pthread_mutex_lock(&r->mtx);
	r->poked = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
}

void
replicate_stats(struct replicate *r, struct replicate_stats *out)
{
	uint64_t dur = atomic_load(&r->durable), seg, off;
	int known;

	pthread_mutex_lock(&r->mtx);
	/* Before the stream ever answered, everything durable waits. */
	r->st.backlog_blocks = dur > r->acked_next ? dur - r->acked_next :
	    (r->known ? 0 : 1);
	if (r->st.backlog_blocks == 0)
		r->st.since_ns = 0;
	else if (r->st.since_ns == 0)
		r->st.since_ns = clock_real_ns();
	known = r->known;
	seg = r->acked_seg;
	off = r->acked_off;
	*out = r->st;
	pthread_mutex_unlock(&r->mtx);
	/* Unknown before the stream answers once: from the first segment. */
	out->backlog_bytes = out->backlog_blocks == 0 ? 0 :
	    backlog_bytes(r, known ? seg : 0, known ? off : 0);
}

void
replicate_free(struct replicate *r, uint64_t drain_ms)
{

	if (r == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mtx);
		r->stop = 1;
		r->stop_by = clock_mono_ns() + (int64_t)drain_ms * NS_PER_MS;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->mtx);
		pthread_join(r->thr, NULL);
	} else
		disconnect(r);
	if (r->fd >= 0)
		close(r->fd);
	free(r->frame);
	free(r->files);
	free(r->servers);
	free(r->creds);
	free(r->tls_cert);
	free(r->tls_key);
	free(r->tls_ca);
	free(r->stream);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mtx);
	free(r);
}
