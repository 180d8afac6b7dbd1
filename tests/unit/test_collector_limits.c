/*
 * The limits against hostile senders: the two input settings that bound
 * what idle and crowding connections can hold (input.idle_timeout,
 * input.max_connections_per_peer), the table that counts connections by
 * address, and the open-file check made at start.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "custody/error.h"

#include "conf.h"
#include "fdlimit.h"
#include "peers.h"

Test(limits, input_settings_have_their_documented_defaults)
{
	struct conf c;

	conf_init(&c);
	cr_assert_eq(c.idle_timeout_s, 60);
	cr_assert_eq(c.idle_timeout_s, CONF_IDLE_TIMEOUT_DEFAULT_S);
	cr_assert_eq(c.max_connections_per_peer, 64);
	conf_close(&c);
}

Test(limits, idle_timeout_is_whole_seconds_from_1s_to_1d)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_set(&c, "server.data_dir", "/d", err), 0);
	cr_assert_eq(conf_add_cli_listen(&c, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "2s", err), 0, "%s",
	    err);
	cr_assert_eq(c.idle_timeout_s, 2);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "1m", err), 0);
	cr_assert_eq(c.idle_timeout_s, 60);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "1d", err), 0);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "86401s", err), 0);
	cr_assert_eq(conf_check(&c, err), CST_EINVAL);
	cr_assert(strstr(err, "idle_timeout") != NULL, "%s", err);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "0", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "500ms", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "input.idle_timeout", "30", err),
	    CST_EPARSE, "a duration needs its unit");
	conf_close(&c);
}

Test(limits, max_connections_per_peer_is_a_count_from_1)
{
	struct conf c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	cr_assert_eq(conf_set(&c, "input.max_connections_per_peer", "4", err),
	    0, "%s", err);
	cr_assert_eq(c.max_connections_per_peer, 4);
	cr_assert_eq(conf_set(&c, "input.max_connections_per_peer", "0", err),
	    CST_EPARSE);
	cr_assert_eq(conf_set(&c, "input.max_connections_per_peer", "many",
	    err), CST_EPARSE);
	conf_close(&c);
}

static struct sockaddr_in
v4(const char *a, uint16_t port)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
	return (in);
}

Test(limits, peers_are_addresses_not_ports)
{
	struct sockaddr_in a1 = v4("127.0.0.2", 1000), a2 = v4("127.0.0.2",
	    2000), b = v4("127.0.0.3", 1000);
	struct sockaddr_in6 a6;
	struct peers *p;
	struct peer *e1, *e2, *eb, *e6;

	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	/* ::ffff:127.0.0.2 is another family: another peer. */
	cr_assert_eq(inet_pton(AF_INET6, "::ffff:127.0.0.2", &a6.sin6_addr),
	    1);
	cr_assert_eq(peers_new(1024, &p), 0);
	cr_assert_not_null(e1 = peers_get(p, (struct sockaddr *)&a1));
	cr_assert_not_null(e2 = peers_get(p, (struct sockaddr *)&a2));
	cr_assert_not_null(eb = peers_get(p, (struct sockaddr *)&b));
	cr_assert_not_null(e6 = peers_get(p, (struct sockaddr *)&a6));
	cr_assert_eq(e1, e2, "two ports of one host are one peer");
	cr_assert_neq(e1, eb);
	cr_assert_neq(e1, e6);
	cr_assert_eq(e1->conns, 0);
	peers_free(p);
	peers_free(NULL);
}

Test(limits, peers_log_once_per_interval_and_expire_when_quiet)
{
	struct sockaddr_in a = v4("10.0.0.1", 5);
	struct peers *p;
	struct peer *e;

	cr_assert_eq(peers_new(1, &p), 0);
	e = peers_get(p, (struct sockaddr *)&a);
	cr_assert_eq(peers_may_log(e, PEER_LOG_IDLE, 1000, 60000), 1);
	cr_assert_eq(peers_may_log(e, PEER_LOG_IDLE, 30000, 60000), 0);
	cr_assert_eq(peers_may_log(e, PEER_LOG_REFUSED, 30000, 60000), 1,
	    "each kind has its own interval");
	cr_assert_eq(peers_may_log(e, PEER_LOG_IDLE, 61000, 60000), 1);
	/* A peer with a connection stays; so does one logged lately. */
	e->conns = 1;
	peers_expire(p, 500000, 60000);
	cr_assert_eq(peers_get(p, (struct sockaddr *)&a), e);
	e->conns = 0;
	peers_expire(p, 100000, 60000);
	cr_assert_eq(peers_get(p, (struct sockaddr *)&a), e);
	peers_expire(p, 500000, 60000);
	e = peers_get(p, (struct sockaddr *)&a);
	cr_assert_eq(peers_may_log(e, PEER_LOG_IDLE, 500001, 60000), 1,
	    "an expired peer starts afresh");
	peers_free(p);
}

Test(limits, fdlimit_raises_the_soft_limit_and_refuses_what_cannot_fit)
{
	struct rlimit rl;
	uint64_t limit, hard;
	char err[FDLIMIT_ERR_LEN], num[32];

	/* A hard limit of our own choosing: lowering it needs no privilege. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert(rl.rlim_max >= 512, "a hard limit of %llu",
	    (unsigned long long)rl.rlim_max);
	rl.rlim_max = 512;
	hard = 512;
	rl.rlim_cur = 100;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(fdlimit_fit(100, 2, &limit, err), 0, "%s", err);
	cr_assert_eq(limit, hard, "the soft limit is raised to the hard one");
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq((uint64_t)rl.rlim_cur, hard);
	cr_assert_eq(fdlimit_fit(hard - FDLIMIT_RESERVE - 2, 2, &limit, err),
	    0, "%s", err);
	cr_assert_eq(fdlimit_fit(hard - FDLIMIT_RESERVE - 1, 2, &limit, err),
	    CST_EINVAL);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)hard);
	cr_assert(strstr(err, num) != NULL && strstr(err,
	    "max_connections") != NULL, "the message names the numbers: %s",
	    err);
}
