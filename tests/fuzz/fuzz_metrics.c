/*
 * Fuzz target for the health endpoint's HTTP handling (collector/
 * metrics.c), through its public functions on loopback, since its request
 * reader is a libuv read callback:
 *   first byte even: the input is a request sent to metrics_open's server
 *     (then the write side is shut).  An answer, if any, must be the one
 *     200 response with the rendered text, and only to a request whose
 *     first REQ_MAX (4096) bytes end their head with a blank line.
 *   first byte odd: the input is the response a server gives to
 *     metrics_fetch (`custodyd status`).  What it writes out must be
 *     exactly the bytes after the response's first blank line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "metrics.h"
#include "fuzz.h"

#define REQ_MAX 4096
#define TEXT "custody_up 1\n"
#define HEAD "HTTP/1.0 200 OK\r\n"
/* Each wait, in poll() rounds of 10 ms: far above any loopback exchange. */
#define ROUNDS 500

static uv_loop_t loop;
static struct metrics *server;
static struct sockaddr_in server_addr;

static void
render(void *ctx, cst_buf *out)
{

	(void)ctx;
	REQUIRE(cst_buf_append(out, TEXT, sizeof(TEXT) - 1) == 0);
}

static void
port_of(const char *url, struct sockaddr_in *sa)
{
	const char *colon = strrchr(url, ':');

	REQUIRE(colon != NULL);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int
has_blank_line(const uint8_t *p, size_t len)
{

	return (memmem(p, len, "\r\n\r\n", 4) != NULL ||
	    memmem(p, len, "\n\n", 2) != NULL);
}

/* Sends the request, runs the server's loop, returns what came back. */
static void
request(const uint8_t *data, size_t size)
{
	struct pollfd pfd[2];
	char err[METRICS_ERR_LEN];
	uint8_t buf[4096];
	cst_buf resp;
	size_t sent = 0;
	ssize_t n;
	int fd, rounds, eof = 0;

	if (server == NULL) {
		REQUIRE(uv_loop_init(&loop) == 0);
		REQUIRE(metrics_open(&loop, "tcp://127.0.0.1:0", render, NULL,
		    &server, err) == 0);
		port_of(metrics_name(server), &server_addr);
	}
	cst_buf_init(&resp);
	REQUIRE((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) != -1);
	REQUIRE(connect(fd, (struct sockaddr *)&server_addr,
	    sizeof(server_addr)) == 0 || errno == EINPROGRESS);
	for (rounds = 0; !eof && rounds < ROUNDS; rounds++) {
		pfd[0].fd = uv_backend_fd(&loop);
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN | (sent <= size ? POLLOUT : 0);
		(void)poll(pfd, 2, 10);
		uv_run(&loop, UV_RUN_NOWAIT);
		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN &&
			    errno != ENOTCONN)
				sent = size + 1;
		}
		if (sent == size) {
			/* Shut down once connected, not before. */
			if (shutdown(fd, SHUT_WR) == 0)
				sent = size + 1;
		}
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			REQUIRE(cst_buf_append(&resp, buf, (size_t)n) == 0);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			eof = 1;
	}
	REQUIRE(eof);
	close(fd);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (resp.len > 0) {
		REQUIRE(resp.len > sizeof(HEAD) - 1 + sizeof(TEXT) - 1);
		REQUIRE(memcmp(resp.p, HEAD, sizeof(HEAD) - 1) == 0);
		REQUIRE(memcmp(resp.p + resp.len - (sizeof(TEXT) - 1), TEXT,
		    sizeof(TEXT) - 1) == 0);
		REQUIRE(has_blank_line(data, size < REQ_MAX ? size : REQ_MAX));
	}
	cst_buf_close(&resp);
}

struct fake {
	int lfd;
	const uint8_t *data;
	size_t size;
};

/* Answers one metrics_fetch with the input, then closes. */
static void *
fake_server(void *arg)
{
	struct fake *fk = arg;
	char req[512];
	size_t got = 0, sent = 0;
	ssize_t n;
	int fd;

	REQUIRE((fd = accept(fk->lfd, NULL, NULL)) != -1);
	/*
	 * The client's one request, whole: closing with unread bytes would
	 * send a RST instead of a FIN.
	 */
	while (got < sizeof(req) && (got < 4 ||
	    memcmp(req + got - 4, "\r\n\r\n", 4) != 0)) {
		REQUIRE((n = recv(fd, req + got, sizeof(req) - got, 0)) > 0);
		got += (size_t)n;
	}
	while (sent < fk->size && (n = send(fd, fk->data + sent,
	    fk->size - sent, MSG_NOSIGNAL)) > 0)
		sent += (size_t)n;
	close(fd);
	return (NULL);
}

static void
fetch(const uint8_t *data, size_t size)
{
	static int lfd = -1;
	static char url[64];
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	char err[METRICS_ERR_LEN], *body = NULL;
	const uint8_t *head_end;
	size_t body_len = 0;
	struct fake fk;
	sigset_t alarm, old;
	pthread_t t;
	FILE *out;
	int rc;

	if (lfd == -1) {
		REQUIRE((lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		REQUIRE(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		REQUIRE(listen(lfd, 4) == 0);
		REQUIRE(getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
		    ntohs(sa.sin_port));
	}
	fk.lfd = lfd;
	fk.data = data;
	fk.size = size;
	/*
	 * libFuzzer's timeout alarm (SIGALRM) would interrupt a blocking
	 * read, which metrics_fetch does not retry: keep it pending until the
	 * exchange is over, in this thread and in the one it starts.
	 */
	sigemptyset(&alarm);
	sigaddset(&alarm, SIGALRM);
	REQUIRE(pthread_sigmask(SIG_BLOCK, &alarm, &old) == 0);
	REQUIRE(pthread_create(&t, NULL, fake_server, &fk) == 0);
	REQUIRE((out = open_memstream(&body, &body_len)) != NULL);
	rc = metrics_fetch(url, out, err);
	REQUIRE(fclose(out) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
	REQUIRE(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	head_end = memmem(data, size, "\r\n\r\n", 4);
	if (rc == 0) {
		REQUIRE(head_end != NULL);
		head_end += 4;
		REQUIRE(body_len == size - (size_t)(head_end - data));
		REQUIRE(memcmp(body, head_end, body_len) == 0);
	} else {
		REQUIRE(rc == CST_EIO || rc == CST_ENOMEM);
		REQUIRE(err[0] != '\0');
		REQUIRE(head_end == NULL);
	}
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{

	if (size < 1)
		return (0);
	if (data[0] % 2 == 0)
		request(data + 1, size - 1);
	else
		fetch(data + 1, size - 1);
	return (0);
}
