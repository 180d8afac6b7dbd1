/*
 * The one HOST:PORT parser of the daemon (addr.h), which the listeners and
 * the metrics endpoint share: what each accepts and refuses, table-driven,
 * with outputs pre-filled with a pattern so a field left unset shows.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"

#include "addr.h"

struct good {
	const char *in;
	const char *host;
	const char *port;
	uint16_t portno;
};

static const struct good goods[] = {
	{ "127.0.0.1:6514", "127.0.0.1", "6514", 6514 },
	{ "0.0.0.0:514", "0.0.0.0", "514", 514 },
	{ "localhost:1", "localhost", "1", 1 },
	{ "[::1]:6514", "::1", "6514", 6514 },
	{ "[::]:0", "::", "0", 0 },
	{ "[fe80::1%lo]:9", "fe80::1%lo", "9", 9 },
	/* Port 0 binds a free port (the listener's name then says which). */
	{ "127.0.0.1:0", "127.0.0.1", "0", 0 },
	{ "127.0.0.1:65535", "127.0.0.1", "65535", 65535 },
	{ "127.0.0.1:00080", "127.0.0.1", "00080", 80 },
};

Test(addr, splits_ipv4_names_and_bracketed_ipv6)
{
	char buf[64], err[ADDR_ERR_LEN], pattern[] = "\xa5", *host, *port;
	uint16_t portno;
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", goods[i].in);
		host = port = pattern;
		portno = 0xa5a5;
		cr_assert_eq(addr_split(buf, &host, &port, &portno, err), 0,
		    "%s: %s", goods[i].in, err);
		cr_assert_str_eq(host, goods[i].host, "%s", goods[i].in);
		cr_assert_str_eq(port, goods[i].port, "%s", goods[i].in);
		cr_assert_eq(portno, goods[i].portno, "%s", goods[i].in);
	}
}

static const char *const bads[] = {
	/* An empty host is refused: every interface is 0.0.0.0 or [::]. */
	":6514",
	"[]:6514",
	/* Missing port. */
	"127.0.0.1",
	"127.0.0.1:",
	"[::1]",
	"[::1]:",
	"[::1]6514",
	"::1",
	"",
	/* Unbracketed IPv6: which colon ends the address? */
	"::1:6514",
	/* Bad port. */
	"127.0.0.1:65536",
	"127.0.0.1:99999",
	"127.0.0.1:123456",
	"127.0.0.1:-1",
	"127.0.0.1:+80",
	"127.0.0.1: 80",
	"127.0.0.1:80 ",
	"127.0.0.1:0x50",
	"127.0.0.1:syslog",
	"[::1:6514",
};

Test(addr, refuses_empty_host_missing_and_bad_ports)
{
	char buf[64], err[ADDR_ERR_LEN], *host, *port;
	uint16_t portno;
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bads[i]);
		err[0] = '\0';
		cr_assert_eq(addr_split(buf, &host, &port, &portno, err),
		    CST_EINVAL, "\"%s\" accepted", bads[i]);
		cr_assert_neq(err[0], '\0', "\"%s\": no message", bads[i]);
	}
}

Test(addr, empty_host_message_says_how_to_bind_everywhere)
{
	char buf[] = ":514", err[ADDR_ERR_LEN], *host, *port;
	uint16_t portno;

	cr_assert_eq(addr_split(buf, &host, &port, &portno, err), CST_EINVAL);
	cr_assert(strstr(err, "0.0.0.0") != NULL, "%s", err);
}

Test(addr, resolves_literal_addresses_and_formats_them_back)
{
	static const char *const ins[] = { "127.0.0.1:6514", "[::1]:6514" };
	struct addrinfo *ai;
	char err[ADDR_ERR_LEN], out[64];
	size_t i;

	for (i = 0; i < 2; i++) {
		cr_assert_eq(addr_resolve(ins[i], SOCK_STREAM, 1, &ai, err), 0,
		    "%s: %s", ins[i], err);
		memset(out, 0xa5, sizeof(out));
		cr_assert_eq(addr_format(ai->ai_addr, out, sizeof(out)),
		    strlen(ins[i]));
		cr_assert_str_eq(out, ins[i]);
		freeaddrinfo(ai);
	}
	cr_assert_eq(addr_resolve(":6514", SOCK_STREAM, 1, &ai, err),
	    CST_EINVAL);
	cr_assert_eq(addr_resolve("127.0.0.1:65536", SOCK_DGRAM, 1, &ai, err),
	    CST_EINVAL);
}

Test(addr, format_truncates_and_terminates)
{
	struct sockaddr_in6 in6;
	char out[8];

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(6514);
	in6.sin6_addr.s6_addr[15] = 1;
	cr_assert_eq(addr_format((struct sockaddr *)&in6, out, sizeof(out)),
	    sizeof(out) - 1);
	cr_assert_str_eq(out, "[::1]:6");
}
