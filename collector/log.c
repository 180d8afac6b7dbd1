/*
 * The daemon's own diagnostics on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int journal;

void
log_init(void)
{

	/* systemd sets JOURNAL_STREAM when stderr is connected to journald. */
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_msg(int level, const char *fmt, ...)
{
	static const char *names[] = { "", "", "", "error: ", "warning: ",
	    "", "" };
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "custodyd: %s%s\n",
		    level >= 0 && level <= LOG_LVL_INFO ? names[level] : "",
		    line);
}

void
log_seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}
