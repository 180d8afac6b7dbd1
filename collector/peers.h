/*
 * Stream connections by source address (the port left out), so that one
 * peer cannot take every slot of max_connections
 * (input.max_connections_per_peer), and so that what is logged about a
 * peer is logged once per interval, not once per connection.
 */
#ifndef CUSTODY_COLLECTOR_PEERS_H
#define CUSTODY_COLLECTOR_PEERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What is logged about a peer, each at most once per interval. */
enum peer_log {
	PEER_LOG_REFUSED, PEER_LOG_IDLE, PEER_LOG_RELP, PEER_LOG_TLS, PEER_NLOG
};

struct peer {
	struct peer *next;
	uint8_t key[17];                /* family, then the address */
	size_t conns;                   /* open connections */
	uint64_t logged_ms[PEER_NLOG];  /* loop time of the last line; 0 none */
};

struct peers;

/*
 * A table sized for about max_connections peers; *out is returned to
 * free with peers_free.  Returns 0 or CST_ENOMEM.
 */
int peers_new(size_t max_connections, struct peers **out);

/* Frees p and its entries; NULL is a no-op. */
void peers_free(struct peers *p);

/*
 * The entry of sa's (borrowed) address, added with no connection if new;
 * it stays while it has connections (see peers_expire).  NULL: out of
 * memory.
 */
struct peer *peers_get(struct peers *p, const struct sockaddr *sa);

/*
 * 1 if a line of kind may be logged about e now (now_ms, loop time): the
 * last one is interval_ms old or more; it is then noted as logged.
 */
int peers_may_log(struct peer *e, enum peer_log kind, uint64_t now_ms,
    uint64_t interval_ms);

/* Drops the entries with no connection and no line within keep_ms. */
void peers_expire(struct peers *p, uint64_t now_ms, uint64_t keep_ms);

#endif /* CUSTODY_COLLECTOR_PEERS_H */
