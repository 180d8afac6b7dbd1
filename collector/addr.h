/*
 * Network addresses as the configuration writes them: the one HOST:PORT
 * parser of the daemon (listeners, the metrics endpoint and its client),
 * and the one way a socket address is printed (record field 5, listener
 * names).
 *
 * HOST:PORT or [HOST]:PORT (IPv6 in brackets).  HOST is a literal address
 * or a name and may not be empty: a listener on every interface says so
 * (0.0.0.0 or [::]), since a daemon that takes evidence from the network
 * should never open itself wider than its configuration reads.  PORT is
 * decimal, 0 to 65535; 0 binds a free port.
 */
#ifndef CUSTODY_COLLECTOR_ADDR_H
#define CUSTODY_COLLECTOR_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <sys/socket.h>

#define ADDR_ERR_LEN 256

/*
 * Splits s (modified in place) into *host and *port, which point into s,
 * and the port's value into *portno.  Returns 0 or CST_EINVAL with a
 * message in err.
 */
int addr_split(char *s, char **host, char **port, uint16_t *portno,
    char err[ADDR_ERR_LEN]);

/*
 * Resolves hostport (borrowed) for a socket of type socktype, to bind
 * (passive) or to connect.  *res is returned to free with freeaddrinfo.
 * Returns 0 or CST_EINVAL with a message in err.
 */
int addr_resolve(const char *hostport, int socktype, int passive,
    struct addrinfo **res, char err[ADDR_ERR_LEN]);

/*
 * Writes sa (borrowed) as "a.b.c.d:port" or "[v6]:port" into out (len
 * bytes, always terminated; "" for another family).  Returns the length.
 */
size_t addr_format(const struct sockaddr *sa, char *out, size_t len);

#endif /* CUSTODY_COLLECTOR_ADDR_H */
