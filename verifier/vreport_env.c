/*
 * How a verification was made, for the examiner's report (vreport.h):
 * the binary that ran, the time in the local zone, and whether the
 * machine's clock was synchronised.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/timex.h>
#include <time.h>

#include "custody/hash.h"
#include "custody/verify.h"
#include "vreport.h"

/* The binaries this may be: far larger is not custody-verify. */
#define EXE_MAX (256u << 20)

/*
 * SHA-256 of the file the kernel ran (/proc/self/exe, a link the store
 * file reader rightly refuses), into hex.  Returns 0 or -1.
 */
static int
exe_sha256(char hex[65])
{
	uint8_t *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	cst_digests d;
	ssize_t got;
	int fd, rc = -1;

	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 1u << 20 : cap * 2;
			if (cap > EXE_MAX || (nb = realloc(buf, cap)) == NULL)
				goto out;
			buf = nb;
		}
		if ((got = read(fd, buf + len, cap - len)) < 0)
			goto out;
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (cst_digests_compute(buf, len, &d) == 0) {
		cst_hex(d.sha256, 32, hex);
		rc = 0;
	}
out:
	free(buf);
	close(fd);
	return (rc);
}

void
vreport_env(struct vreport *r)
{
	struct timex tx;
	struct tm tm;
	time_t t = (time_t)(r->verified_ns / 1000000000);
	char zone[16];
	int st;

	/* The file the kernel ran, whatever the name it was called by. */
	if (exe_sha256(r->exe_sha256) != 0)
		snprintf(r->exe_sha256, sizeof(r->exe_sha256), "unknown");

	tzset();
	if (localtime_r(&t, &tm) != NULL &&
	    strftime(zone, sizeof(zone), "%z", &tm) > 0 &&
	    strftime(r->local_time, sizeof(r->local_time),
	    "%Y-%m-%d %H:%M:%S", &tm) > 0)
		snprintf(r->local_time + strlen(r->local_time),
		    sizeof(r->local_time) - strlen(r->local_time),
		    " %s (UTC%.3s:%.2s)", tm.tm_zone != NULL ? tm.tm_zone :
		    "", zone, zone + 3);
	else
		snprintf(r->local_time, sizeof(r->local_time), "unknown");

	/* modes 0: a read, allowed without privilege. */
	memset(&tx, 0, sizeof(tx));
	if ((st = ntp_adjtime(&tx)) == -1)
		snprintf(r->clock, sizeof(r->clock), "unknown (ntp_adjtime "
		    "failed)");
	else if (st == TIME_ERROR || (tx.status & STA_UNSYNC) != 0)
		snprintf(r->clock, sizeof(r->clock), "not synchronised (the "
		    "kernel's clock status says unsynchronised; maximum error "
		    "%ld us)", (long)tx.maxerror);
	else
		snprintf(r->clock, sizeof(r->clock), "synchronised (estimated "
		    "error %ld us, maximum error %ld us)", (long)tx.esterror,
		    (long)tx.maxerror);
}
