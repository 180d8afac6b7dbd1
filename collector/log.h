/*
 * The daemon's own diagnostics, on stderr: under systemd each line gets a
 * "<N>" priority prefix that journald understands (sd-daemon(3)).
 * Thread-safe: one fprintf per line.
 */
#ifndef CUSTODY_COLLECTOR_LOG_H
#define CUSTODY_COLLECTOR_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
};

/* Chooses the line format: with priority prefixes when stderr is the journal. */
void log_init(void);

/*
 * Formats the reason for a failure into err[0..len) (borrowed), cut to fit:
 * the one way the collector's stages hand a reason to whoever reports it.
 */
void log_seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line at level; fmt as printf, without the trailing newline. */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)

#endif /* CUSTODY_COLLECTOR_LOG_H */
