/*
 * The table of peers (peers.h): chained buckets, a power of two of them,
 * hashed with FNV-1a over the address.  Addresses come from the network,
 * but a peer cannot pick many of them on one network path without also
 * spending a connection (a descriptor of max_connections) on each, so
 * the chains stay short enough for the loop thread.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"

#include "peers.h"

#define MIN_BUCKETS 256u
#define MAX_BUCKETS (1u << 18)

struct peers {
	struct peer **b;
	size_t nb;              /* a power of two */
};

int
peers_new(size_t max_connections, struct peers **out)
{
	struct peers *p;
	size_t nb = MIN_BUCKETS;

	while (nb < max_connections && nb < MAX_BUCKETS)
		nb <<= 1;
	if ((p = malloc(sizeof(*p))) == NULL)
		goto err0;
	if ((p->b = calloc(nb, sizeof(*p->b))) == NULL)
		goto err1;
	p->nb = nb;
	*out = p;
	return (0);

err1:
	free(p);
err0:
	return (CST_ENOMEM);
}

void
peers_free(struct peers *p)
{
	struct peer *e, *next;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nb; i++)
		for (e = p->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(p->b);
	free(p);
}

/* The address alone: every port of one host is one peer. */
static void
key_of(const struct sockaddr *sa, uint8_t key[17])
{

	memset(key, 0, 17);
	key[0] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
}

static size_t
hash(const uint8_t key[17], size_t nb)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < 17; i++)
		h = (h ^ key[i]) * 16777619u;
	return (h & (nb - 1));
}

struct peer *
peers_get(struct peers *p, const struct sockaddr *sa)
{
	struct peer *e;
	uint8_t key[17];
	size_t i;

	key_of(sa, key);
	i = hash(key, p->nb);
	for (e = p->b[i]; e != NULL; e = e->next)
		if (memcmp(e->key, key, sizeof(key)) == 0)
			return (e);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (NULL);
	memcpy(e->key, key, sizeof(key));
	e->next = p->b[i];
	p->b[i] = e;
	return (e);
}

int
peers_may_log(struct peer *e, enum peer_log kind, uint64_t now_ms,
    uint64_t interval_ms)
{

	if (e->logged_ms[kind] != 0 && now_ms - e->logged_ms[kind] <
	    interval_ms)
		return (0);
	/* 0 means never: a loop clock at 0 still counts as logged. */
	e->logged_ms[kind] = now_ms != 0 ? now_ms : 1;
	return (1);
}

void
peers_expire(struct peers *p, uint64_t now_ms, uint64_t keep_ms)
{
	struct peer **pp, *e;
	size_t i, k;
	int keep;

	for (i = 0; i < p->nb; i++) {
		pp = &p->b[i];
		while ((e = *pp) != NULL) {
			keep = e->conns > 0;
			for (k = 0; k < PEER_NLOG && !keep; k++)
				keep = e->logged_ms[k] != 0 &&
				    now_ms - e->logged_ms[k] < keep_ms;
			if (keep) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
		}
	}
}
