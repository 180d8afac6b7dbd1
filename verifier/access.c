/*
 * The reader's side of access records (SPEC section 13, R-CTL-2).
 *
 * Every call is bounded by ACCESS_TIMEOUT_S: a collector that does not
 * answer costs the reader a few seconds and a warning, never a hang.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"

/* R-CTL-2: a line is at most 4096 bytes with its LF. */
#define LINE_MAX_ 4096

struct access {
	int fd;
	uint64_t id;
};

static void
seterr(char why[ACCESS_WHY_LEN], const char *what, int e)
{

	snprintf(why, ACCESS_WHY_LEN, "%s: %s", what, strerror(e));
}

/* A byte a shell reads as itself outside quotes. */
static int
plain(unsigned char c)
{

	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("_./:=@%+,-", c) != NULL);
}

/* Appends s[0..n) at out + *len if it fits before cap - 1; else 0. */
static int
put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{

	if (*len + n + 1 > cap)
		return (0);
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return (1);
}

void
access_command(int argc, char **argv, char *out, size_t cap)
{
	static const char cut[] = " [cut]";
	size_t len = 0, room = cap - sizeof(cut);
	const unsigned char *p;
	char esc[8];
	int i, quote;

	out[0] = '\0';
	for (i = 0; i < argc; i++) {
		p = (const unsigned char *)argv[i];
		quote = p[0] == '\0';
		for (; *p != '\0'; p++)
			quote |= !plain(*p);
		if ((i > 0 && !put(out, room, &len, " ", 1)) ||
		    (quote && !put(out, room, &len, "'", 1)))
			goto full;
		for (p = (const unsigned char *)argv[i]; *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f)
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			else if (*p == '\'')
				snprintf(esc, sizeof(esc), "'\\''");
			else
				snprintf(esc, sizeof(esc), "%c", *p);
			if (!put(out, room, &len, esc, strlen(esc)))
				goto full;
		}
		if (quote && !put(out, room, &len, "'", 1))
			goto full;
	}
	return;
full:
	put(out, cap, &len, cut, sizeof(cut) - 1);
}

/* Sends line (with its LF), reads one answer line into ans.  0 or -1. */
static int
exchange(int fd, const char *line, char *ans, size_t cap,
    char why[ACCESS_WHY_LEN])
{
	size_t len = strlen(line), off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = send(fd, line + off, len - off, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			seterr(why, "sending to custodyd", errno == EAGAIN ?
			    ETIMEDOUT : errno);
			return (-1);
		}
		off += (size_t)n;
	}
	off = 0;
	while (off + 1 < cap) {
		if ((n = recv(fd, ans + off, 1, 0)) < 0) {
			if (errno == EINTR)
				continue;
			seterr(why, "waiting for custodyd's answer",
			    errno == EAGAIN ? ETIMEDOUT : errno);
			return (-1);
		}
		if (n == 0) {
			snprintf(why, ACCESS_WHY_LEN, "custodyd closed the "
			    "connection without an answer");
			return (-1);
		}
		if (ans[off] == '\n')
			break;
		off++;
	}
	ans[off] = '\0';
	if (strncmp(ans, "error ", 6) == 0) {
		snprintf(why, ACCESS_WHY_LEN, "custodyd refused: %.400s",
		    ans + 6);
		return (-1);
	}
	return (0);
}

int
access_begin(const char *path, const char *command, struct access **out,
    char why[ACCESS_WHY_LEN])
{
	struct timeval tv = { ACCESS_TIMEOUT_S, 0 };
	struct sockaddr_un sun;
	struct access *a;
	char *line, ans[128], *end;

	*out = NULL;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		seterr(why, path, ENAMETOOLONG);
		return (-1);
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (line = malloc(LINE_MAX_)) == NULL) {
		free(a);
		seterr(why, "access record", ENOMEM);
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		seterr(why, "socket", errno);
		goto err1;
	}
	if (setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(a->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(a->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		seterr(why, path, errno);
		goto err2;
	}
	snprintf(line, LINE_MAX_, "begin %.*s\n", ACCESS_COMMAND_LEN - 1,
	    command);
	if (exchange(a->fd, line, ans, sizeof(ans), why) != 0)
		goto err2;
	errno = 0;
	if (strncmp(ans, "ok ", 3) != 0 || (a->id = strtoull(ans + 3, &end,
	    10)) == 0 || *end != '\0' || errno != 0) {
		snprintf(why, ACCESS_WHY_LEN, "custodyd answered '%.64s', not "
		    "ok ID", ans);
		goto err2;
	}
	free(line);
	*out = a;
	return (0);

err2:
	close(a->fd);
err1:
	free(line);
	free(a);
	return (-1);
}

uint64_t
access_id(const struct access *a)
{

	return (a->id);
}

int
access_end(struct access *a, uint64_t shown, const char *bundle_sha256,
    char why[ACCESS_WHY_LEN])
{
	char line[128], ans[128];
	int rc = 0;

	if (a == NULL)
		return (0);
	snprintf(line, sizeof(line), "end %" PRIu64 " %s\n", shown,
	    bundle_sha256 != NULL ? bundle_sha256 : "-");
	if (exchange(a->fd, line, ans, sizeof(ans), why) != 0)
		rc = -1;
	else if (strcmp(ans, "ok") != 0) {
		snprintf(why, ACCESS_WHY_LEN, "custodyd answered '%.64s', not "
		    "ok", ans);
		rc = -1;
	}
	close(a->fd);
	free(a);
	return (rc);
}
