/*
 * The witness endpoint's request reader (collector/http.c, SPEC R-WIT-1):
 * what it takes, and what it refuses with which status.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "http.h"

struct tcase {
	const char *name;
	const char *in;
	enum http_state want;
	unsigned status;
};

static const struct tcase cases[] = {
	{ "whole", "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\n"
	    "Content-Length: 5\r\n\r\nhello", HTTP_DONE, 0 },
	{ "empty body", "POST /add-checkpoint HTTP/1.1\r\ncontent-length: 0"
	    "\r\n\r\n", HTTP_DONE, 0 },
	{ "head cut short", "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\n",
	    HTTP_MORE, 0 },
	{ "body cut short", "POST /add-checkpoint HTTP/1.1\r\n"
	    "Content-Length: 9\r\n\r\nhello", HTTP_MORE, 0 },
	{ "no length", "POST /add-checkpoint HTTP/1.1\r\n\r\n", HTTP_ERROR,
	    411 },
	{ "chunked", "POST /add-checkpoint HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n", HTTP_ERROR, 501 },
	{ "two lengths (smuggling)", "POST /add-checkpoint HTTP/1.1\r\n"
	    "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", HTTP_ERROR,
	    400 },
	{ "signed length", "POST /add-checkpoint HTTP/1.1\r\nContent-Length: "
	    "+1\r\n\r\na", HTTP_ERROR, 400 },
	{ "body over 64 KiB", "POST /add-checkpoint HTTP/1.1\r\n"
	    "Content-Length: 65537\r\n\r\n", HTTP_ERROR, 413 },
	{ "GET", "GET /add-checkpoint HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	    HTTP_ERROR, 405 },
	{ "other path", "POST /add-checkpoint/x HTTP/1.1\r\nContent-Length: 0"
	    "\r\n\r\n", HTTP_ERROR, 404 },
	{ "HTTP/1.0", "POST /add-checkpoint HTTP/1.0\r\nContent-Length: 0"
	    "\r\n\r\n", HTTP_ERROR, 400 },
	{ "bare LF", "POST /add-checkpoint HTTP/1.1\nContent-Length: 0\n\n"
	    "\r\n\r\n", HTTP_ERROR, 400 },
	{ "folded header", "POST /add-checkpoint HTTP/1.1\r\n folded\r\n"
	    "Content-Length: 0\r\n\r\n", HTTP_ERROR, 400 },
	{ "a second request", "POST /add-checkpoint HTTP/1.1\r\n"
	    "Content-Length: 1\r\n\r\naPOST", HTTP_ERROR, 400 },
};

Test(http, table)
{
	struct http_req r;
	size_t i, j, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];

		/* Whole, then one byte at a time: the same verdict. */
		for (j = 0; j < 2; j++) {
			cr_assert_eq(http_req_init(&r), 0);
			len = strlen(t->in);
			if (j == 0)
				http_req_feed(&r, (const uint8_t *)t->in, len);
			else
				for (size_t k = 0; k < len; k++)
					http_req_feed(&r,
					    (const uint8_t *)t->in + k, 1);
			cr_expect_eq(r.state, t->want, "%s (%s): state %d",
			    t->name, j ? "bytewise" : "whole", r.state);
			if (t->want == HTTP_ERROR)
				cr_expect_eq(r.status, t->status, "%s: %u",
				    t->name, r.status);
			http_req_close(&r);
		}
	}
}

Test(http, limits_on_the_head)
{
	struct http_req r;
	char buf[HTTP_HEAD_MAX + 64];
	size_t n, i;

	cr_assert_eq(http_req_init(&r), 0);
	n = (size_t)snprintf(buf, sizeof(buf), "POST /add-checkpoint "
	    "HTTP/1.1\r\n");
	for (i = 0; i <= HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%zu: y\r\n",
		    i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	cr_assert_eq(http_req_feed(&r, (const uint8_t *)buf, n), HTTP_ERROR);
	cr_assert_eq(r.status, 400);
	http_req_close(&r);

	cr_assert_eq(http_req_init(&r), 0);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "POST /add-checkpoint HTTP/1.1\r\nX: ", 34);
	cr_assert_eq(http_req_feed(&r, (const uint8_t *)buf, sizeof(buf)),
	    HTTP_ERROR);
	cr_assert_eq(r.status, 400);
	cr_assert_not_null(strstr(r.reason, "8 KiB"));
	http_req_close(&r);
}
