/*
 * What the two NATS clients share, the collector's replication (SPEC
 * section 17) and the readers' restore: the server list and the reason
 * for a libnats failure.  static inline: formats/ does not link libnats,
 * and each side that does includes this beside <nats/nats.h>.
 */
#ifndef CUSTODY_NATSOPT_H
#define CUSTODY_NATSOPT_H

#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

/* Servers at most in one comma-separated list. */
#define CST_NATS_MAX_SERVERS 32

/*
 * Sets the servers of a comma-separated list (libnats takes one URL per
 * string: it does not split a list given to natsOptions_SetURL).
 */
static inline natsStatus
cst_nats_set_servers(natsOptions *o, const char *list)
{
	const char *v[CST_NATS_MAX_SERVERS];
	char *copy, *p, *save = NULL;
	natsStatus s;
	int n = 0;

	if ((copy = strdup(list)) == NULL)
		return (NATS_NO_MEMORY);
	for (p = strtok_r(copy, ", ", &save); p != NULL &&
	    n < CST_NATS_MAX_SERVERS; p = strtok_r(NULL, ", ", &save))
		v[n++] = p;
	s = n > 0 ? natsOptions_SetServers(o, v, n) : NATS_INVALID_ARG;
	free(copy);
	return (s);
}

/* Why s: libnats's last error text when it has one, else s's name. */
static inline const char *
cst_nats_why(natsStatus s)
{
	const char *last = nats_GetLastError(NULL);

	return (last != NULL && last[0] != '\0' ? last : natsStatus_GetText(s));
}

#endif /* CUSTODY_NATSOPT_H */
