/*
 * HOST:PORT parsing and socket address printing (addr.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"

#include "addr.h"

int
addr_split(char *s, char **host, char **port, uint16_t *portno,
    char err[ADDR_ERR_LEN])
{
	char *h = s, *p;
	unsigned long v = 0;
	size_t i;

	if (*h == '[') {
		h++;
		if ((p = strchr(h, ']')) == NULL || p[1] != ':')
			goto bad;
		*p = '\0';
		p += 2;
	} else {
		if ((p = strrchr(h, ':')) == NULL)
			goto bad;
		*p++ = '\0';
		/* "::1:514" could be two things; brackets say which. */
		if (strchr(h, ':') != NULL) {
			snprintf(err, ADDR_ERR_LEN, "an IPv6 address goes in "
			    "brackets: [ADDR]:PORT");
			return (CST_EINVAL);
		}
	}
	if (*h == '\0') {
		snprintf(err, ADDR_ERR_LEN, "no host before the port (for "
		    "every interface say 0.0.0.0 or [::])");
		return (CST_EINVAL);
	}
	/* Digits only: strtoul would take a sign, blanks or a hex prefix. */
	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] < '0' || p[i] > '9' || i == 5)
			goto badport;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (i == 0 || v > 65535)
		goto badport;
	*host = h;
	*port = p;
	*portno = (uint16_t)v;
	return (0);

badport:
	snprintf(err, ADDR_ERR_LEN, "\"%s\" is not a port from 0 to 65535", p);
	return (CST_EINVAL);
bad:
	snprintf(err, ADDR_ERR_LEN, "expected HOST:PORT or [HOST]:PORT");
	return (CST_EINVAL);
}

int
addr_resolve(const char *hostport, int socktype, int passive,
    struct addrinfo **res, char err[ADDR_ERR_LEN])
{
	struct addrinfo hints;
	char *buf, *host, *port;
	uint16_t portno;
	int rc;

	if ((buf = strdup(hostport)) == NULL) {
		snprintf(err, ADDR_ERR_LEN, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	if ((rc = addr_split(buf, &host, &port, &portno, err)) != 0)
		goto out;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if ((rc = getaddrinfo(host, port, &hints, res)) != 0) {
		snprintf(err, ADDR_ERR_LEN, "%s: %s", host, gai_strerror(rc));
		rc = CST_EINVAL;
	}
out:
	free(buf);
	return (rc);
}

size_t
addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int n = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		n = snprintf(out, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		n = snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (len > 0)
		out[0] = '\0';
	if (n < 0)
		n = 0;
	return ((size_t)n >= len ? len - 1 : (size_t)n);
}
