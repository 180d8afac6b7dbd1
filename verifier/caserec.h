/*
 * The case record (SPEC section 16): a directory of hash-chained entries,
 * one per verification, bundle export or transfer of exhibits made for a
 * case.  Every entry read is hostile: the parser is strict and bounded
 * (R-CASE-1) and never trusts a length or a number it reads.
 */
#ifndef CUSTODY_VERIFIER_CASEREC_H
#define CUSTODY_VERIFIER_CASEREC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CASEREC_WHY_LEN 512
/* An entry larger than this is not one (R-CASE-1). */
#define CASEREC_ENTRY_MAX (1u << 20)

enum caserec_role { CASEREC_INPUT, CASEREC_OUTPUT, CASEREC_EXHIBIT };

struct caserec_file {
	enum caserec_role role;
	char *path;             /* absolute, unescaped */
	uint8_t sha256[32];
};

/* One entry; every string owned (caserec_entry_free). */
struct caserec_entry {
	uint64_t number;
	uint8_t prev[32];
	char *kind;             /* verify, bundle, transfer */
	char *case_id;
	char *user;
	uint64_t uid;
	char *host;
	char *time_utc;
	char *time_local;
	char *command;
	struct caserec_file *files;
	size_t nfiles;
	char *from, *to, *reason;   /* transfer only; NULL otherwise */
	char *verdict;
	uint64_t exit_status;
};

void caserec_entry_free(struct caserec_entry *e);

/*
 * Parses entry text p[0..len) (borrowed) into e (zeroed first; free it
 * whatever the result).  Returns 0, or -1 with the first line that
 * breaks R-CASE-1 and why in why.
 */
int caserec_parse(const uint8_t *p, size_t len, struct caserec_entry *e,
    char why[CASEREC_WHY_LEN]);

/*
 * What an append records beyond what the tool knows of itself: the kind,
 * the case id (NULL: "-"), the command line (from access_command), the
 * files (paths borrowed; each is digested now and made absolute; a
 * file that cannot be read fails the append), and for a transfer from,
 * to, reason.
 */
struct caserec_new {
	const char *kind;
	const char *case_id;
	const char *command;
	const char *const *inputs;
	size_t ninputs;
	const char *const *outputs;
	size_t noutputs;
	const char *const *exhibits;
	size_t nexhibits;
	const char *from, *to, *reason;
	const char *verdict;
	int exit_status;
};

/*
 * Appends the next entry to the case record dir (borrowed; made if
 * absent, mode 0700), adding who, when and where.  On success says on
 * stderr, as prog, which entry it wrote and its SHA-256 (the new head).
 * Returns 0 or -1 with why.
 */
int caserec_append(const char *dir, const struct caserec_new *n,
    const char *prog, char why[CASEREC_WHY_LEN]);

/*
 * A --path-map FROM=TO (R-CASE-6): a file the record names under FROM
 * is read under TO.  Both absolute, without a trailing '/' ("" is the
 * root); strings owned (caserec_map_free).
 */
struct caserec_map {
	char *from;
	char *to;
};

/*
 * Parses arg (borrowed), "FROM=TO" split at the first '=', into m.
 * Returns 0, or -1 with why (m then holds nothing to free).
 */
int caserec_map_parse(const char *arg, struct caserec_map *m,
    char why[CASEREC_WHY_LEN]);

void caserec_map_free(struct caserec_map *m);

/*
 * Checks the case record dir (R-CASE-1..4, 6), reporting to out every
 * failure with its entry and file.  head (NULL: none) is a head noted
 * earlier, 64 hex digits: some entry must have that SHA-256 (R-CASE-3).
 * maps[0..nmaps) (borrowed; NULL when nmaps is 0) say where files the
 * record names are found now (R-CASE-6): the longest FROM that is a
 * whole-path prefix of a recorded path applies; every file read
 * through a map is reported with both paths, and the summary counts
 * them.  Returns 0 (intact), 1 (a failure) or 2 (dir could not be read).
 */
int caserec_check(const char *dir, const char *head,
    const struct caserec_map *maps, size_t nmaps, FILE *out);

#endif /* CUSTODY_VERIFIER_CASEREC_H */
