/*
 * The case an examiner's report belongs to (--case, --exhibit, --examiner,
 * --organisation), shared by custody-verify and custody-query --bundle,
 * and the command line as a shell would take it back.
 */
#ifndef CUSTODY_VCASE_H
#define CUSTODY_VCASE_H

#include <stddef.h>

/* The longest value of a case field, in bytes. */
#define VCASE_MAX 200

struct vcase {
	const char *id;            /* borrowed from argv; NULL: not given */
	const char *exhibit;
	const char *examiner;
	const char *organisation;
};

/* getopt_long values of the four case options, apart from other options'. */
enum {
	VCASE_OPT_CASE = 0x4000,
	VCASE_OPT_EXHIBIT,
	VCASE_OPT_EXAMINER,
	VCASE_OPT_ORGANISATION,
};

/*
 * Checks the value val (borrowed) of option opt: 1 to VCASE_MAX bytes of
 * UTF-8 without control characters.  Returns 0, or -1 with why[0..n) a
 * sentence naming the option and what is wrong.
 */
int vcase_check(const char *opt, const char *val, char *why, size_t n);

/*
 * Sets the field of cs that the case option opt (VCASE_OPT_CASE to
 * VCASE_OPT_ORGANISATION) names to val (borrowed, kept in cs), once
 * vcase_check accepts it.  Returns 0, or -1 with why[0..n) a sentence
 * naming the option and what is wrong.
 */
int vcase_option(struct vcase *cs, int opt, const char *val, char *why,
    size_t n);

/*
 * argv[0..argc) joined by spaces, each word quoted for a POSIX shell
 * where it needs it, so that pasting it runs the same command.  Returns
 * a string to free, or NULL when out of memory.
 */
char *vcase_cmdline(int argc, char *const *argv);

#endif /* CUSTODY_VCASE_H */
