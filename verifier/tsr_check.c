/*
 * Timestamp tokens beside checkpoints (tsr_check.h, SPEC section 15).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/timestamp.h"

#include "tsr_check.h"

static char *
swap_suffix(const char *path, const char *from, const char *to)
{
	size_t n = strlen(path), f = strlen(from);
	char *out;

	if (n < f || strcmp(path + n - f, from) != 0)
		return (NULL);
	if (asprintf(&out, "%.*s%s", (int)(n - f), path, to) < 0)
		return (NULL);
	return (out);
}

char *
tsr_check_token_path(const char *path)
{

	return (swap_suffix(path, ".ckpt", ".tsr"));
}

char *
tsr_check_ckpt_path(const char *path)
{

	return (swap_suffix(path, ".tsr", ".ckpt"));
}

/*
 * Reads the token file (a store file: no link followed, regular, at most
 * one byte past R-TSA-1's bound).  Returns 0, -2 when it is gone, or -1,
 * with why.
 */
static int
read_token(const char *path, uint8_t *buf, size_t cap, size_t *len,
    char *why, size_t n)
{
	struct stat st;
	ssize_t got;
	int fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		snprintf(why, n, "cannot be read: %s", strerror(errno));
		return (errno == ENOENT ? -2 : -1);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, n, "not a regular file (R-TSA-1)");
		close(fd);
		return (-1);
	}
	while (*len < cap) {
		if ((got = read(fd, buf + *len, cap - *len)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(why, n, "cannot be read: %s", strerror(errno));
			close(fd);
			return (-1);
		}
		if (got == 0)
			break;
		*len += (size_t)got;
	}
	close(fd);
	return (0);
}

static int
fail(struct vreport *r, struct vreport_token *t, int severity, int code,
    const char *rule)
{
	cst_finding f;

	memset(&f, 0, sizeof(f));
	f.severity = severity;
	f.code = code;
	f.rule = rule;
	f.file = t->path;
	f.segment_no = f.offset = f.block_no = f.block_last = CST_NONE;
	f.seq_first = f.seq_last = CST_NONE;
	f.detail = t->why;
	if (vreport_add_finding(r, &f) != 0)
		return (CST_ENOMEM);
	return (vreport_add_token(r, t));
}

int
tsr_check(struct vreport *r, const char *path, const struct tsr_ckpt *ckpt,
    cst_ts_trust *trust)
{
	static uint8_t buf[CST_TS_MAX + 1];
	uint8_t digest[CST_TS_DIGEST_LEN];
	char why[CST_TS_WHY_LEN], msg[CST_TS_WHY_LEN + 1024];
	struct vreport_token t;
	cst_ts_info info;
	size_t len;
	int rc;

	memset(&t, 0, sizeof(t));
	t.path = (char *)(uintptr_t)path;
	t.checkpoint = ckpt != NULL ? (char *)(uintptr_t)ckpt->path : NULL;
	t.accuracy_ns = -1;
	t.why = msg;
	if (vreport_add_input(r, path, "timestamp", NULL, 0) != 0)
		return (CST_ENOMEM);
	if (ckpt != NULL && ckpt->info != NULL) {
		t.blocks = ckpt->info->blocks;
		t.records = ckpt->info->records;
	}
	if (ckpt == NULL) {
		t.state = VREPORT_TOKEN_ALONE;
		snprintf(msg, sizeof(msg), "a timestamp token without its "
		    "checkpoint beside it: it cannot be checked (R-TSA-5)");
		return (fail(r, &t, CST_SEV_WARNING, CST_ENOENT, "R-TSA-5"));
	}
	if (trust == NULL) {
		t.state = VREPORT_TOKEN_UNVERIFIED;
		t.why = NULL;
		return (vreport_add_token(r, &t));
	}
	t.state = VREPORT_TOKEN_FAILED;
	if ((rc = read_token(path, buf, sizeof(buf), &len, why,
	    sizeof(why))) != 0) {
		/* Trimmed with its checkpoint by a collector still running. */
		if (rc == -2) {
			t.state = VREPORT_TOKEN_ALONE;
			snprintf(msg, sizeof(msg), "the timestamp token was "
			    "removed while the verification ran: not checked");
			return (fail(r, &t, CST_SEV_WARNING, CST_ENOENT,
			    "R-TSA-4"));
		}
		snprintf(msg, sizeof(msg), "the timestamp token %s", why);
		return (fail(r, &t, CST_SEV_FAILURE, CST_EIO, "R-TSA-1"));
	}
	if (ckpt->text == NULL) {
		snprintf(msg, sizeof(msg), "its checkpoint %s could not be "
		    "read, so the token is not checked", ckpt->path);
		return (fail(r, &t, CST_SEV_ERROR, CST_EIO, "R-TSA-5"));
	}
	crypto_hash_sha256(digest, ckpt->text, ckpt->len);
	rc = cst_ts_check(buf, len, digest, NULL, trust, &info, why);
	if (rc == CST_ENOMEM)
		return (rc);
	t.accuracy_ns = info.accuracy_ns;
	t.revocation = info.revocation;
	if (rc != 0 && info.revocation == CST_TS_REV_REVOKED) {
		snprintf(msg, sizeof(msg), "the timestamp token over %s proves "
		    "nothing: %s", ckpt->path, why);
		return (fail(r, &t, CST_SEV_FAILURE, rc, "R-TSA-9"));
	}
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "the timestamp token over %s does "
		    "not verify: %s", ckpt->path, why);
		return (fail(r, &t, CST_SEV_FAILURE, rc, rc == CST_ECORRUPT ?
		    "R-TSA-1" : "R-TSA-5"));
	}
	t.gen_ns = info.gen_time_ns;
	memcpy(t.tsa, info.tsa, sizeof(t.tsa));
	if (ckpt->info == NULL || !ckpt->info->ok) {
		/* Not "valid" when whether it was revoked is unknown. */
		snprintf(msg, sizeof(msg), "the timestamp token %s, but its "
		    "checkpoint %s does not verify (R-CKP-1, R-CKP-2): it "
		    "proves nothing of the chain (R-TSA-5 d)",
		    info.revocation == CST_TS_REV_UNKNOWN ? "has a valid "
		    "signature (its revocation status is unknown)" : "is valid",
		    ckpt->path);
		return (fail(r, &t, CST_SEV_FAILURE, CST_ESIG, "R-TSA-5"));
	}
	if (info.revocation == CST_TS_REV_UNKNOWN) {
		t.state = VREPORT_TOKEN_UNKNOWN;
		snprintf(msg, sizeof(msg), "the timestamp token over %s is not "
		    "counted as trusted time: %s", ckpt->path,
		    info.revocation_why);
		return (fail(r, &t, CST_SEV_WARNING, CST_ENOENT, "R-TSA-9"));
	}
	t.state = VREPORT_TOKEN_VERIFIED;
	t.why = NULL;
	return (vreport_add_token(r, &t));
}
