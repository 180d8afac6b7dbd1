/*
 * A strict HTTP/1.1 request reader (http.h, SPEC R-WIT-1).
 *
 * Strict on purpose: the only client is a log's submitter, which sends
 * one small POST; anything unusual is refused rather than interpreted
 * (no obsolete line folding, no bare LF, no Transfer-Encoding, one
 * Content-Length), so that no two readers can see two different requests
 * in the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"

#include "http.h"

int
http_req_init(struct http_req *r)
{

	memset(r, 0, sizeof(*r));
	if ((r->buf = malloc(HTTP_HEAD_MAX + HTTP_BODY_MAX)) == NULL)
		return (CST_ENOMEM);
	return (0);
}

void
http_req_close(struct http_req *r)
{

	free(r->buf);
	r->buf = NULL;
}

static enum http_state
refuse(struct http_req *r, unsigned status, const char *reason)
{

	r->state = HTTP_ERROR;
	r->status = status;
	r->reason = reason;
	return (r->state);
}

/* 1 if c is an RFC 9110 tchar. */
static int
tchar(uint8_t c)
{

	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive comparison of p[0..len) with the lower-case name. */
static int
name_is(const uint8_t *p, size_t len, const char *name)
{
	size_t i;

	if (strlen(name) != len)
		return (0);
	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)name[i])
			return (0);
	}
	return (1);
}

/* The request line p[0..len) (no CRLF): METHOD SP PATH SP HTTP/1.1. */
static int
request_line(struct http_req *r, const uint8_t *p, size_t len)
{
	size_t i = 0, j;

	while (i < len && tchar(p[i]))
		i++;
	if (i == 0 || i >= sizeof(r->method) || i == len || p[i] != ' ')
		return (-1);
	memcpy(r->method, p, i);
	r->method[i] = '\0';
	j = ++i;
	while (i < len && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == j || i - j >= sizeof(r->path) || i == len || p[i] != ' ')
		return (-1);
	memcpy(r->path, p + j, i - j);
	r->path[i - j] = '\0';
	i++;
	if (len - i != 8 || memcmp(p + i, "HTTP/1.1", 8) != 0)
		return (-1);
	return (0);
}

/* Parses the whole head buf[0..head_len), which ends in CRLF CRLF. */
static enum http_state
parse_head(struct http_req *r)
{
	const uint8_t *p = r->buf, *end = r->buf + r->head_len - 2;
	const uint8_t *eol, *colon, *v, *ve;
	unsigned nheaders = 0;
	int have_length = 0;
	uint64_t n;

	if ((eol = memchr(p, '\r', (size_t)(end - p))) == NULL ||
	    eol[1] != '\n' || request_line(r, p, (size_t)(eol - p)) != 0)
		return (refuse(r, 400, "malformed request line"));
	p = eol + 2;
	while (p < end) {
		if (++nheaders > HTTP_HEADERS_MAX)
			return (refuse(r, 400, "too many header lines"));
		eol = memchr(p, '\r', (size_t)(end - p));
		if (eol == NULL || eol[1] != '\n')
			return (refuse(r, 400, "bare CR or LF in the head"));
		if (memchr(p, '\n', (size_t)(eol - p)) != NULL)
			return (refuse(r, 400, "bare LF in the head"));
		colon = p;
		while (colon < eol && tchar(*colon))
			colon++;
		if (colon == p || colon == eol || *colon != ':')
			return (refuse(r, 400, "malformed header line"));
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		    ve--)
			;
		for (const uint8_t *q = v; q < ve; q++)
			if ((*q < 0x20 && *q != '\t') || *q == 0x7f)
				return (refuse(r, 400, "control byte in a "
				    "header value"));
		if (name_is(p, (size_t)(colon - p), "transfer-encoding"))
			return (refuse(r, 501, "Transfer-Encoding is not "
			    "supported"));
		if (name_is(p, (size_t)(colon - p), "content-length")) {
			if (have_length)
				return (refuse(r, 400, "Content-Length twice"));
			have_length = 1;
			if (v == ve || ve - v > 7)
				return (refuse(r, 400, "malformed "
				    "Content-Length"));
			for (n = 0; v < ve; v++) {
				if (*v < '0' || *v > '9')
					return (refuse(r, 400, "malformed "
					    "Content-Length"));
				n = n * 10 + (uint64_t)(*v - '0');
			}
			if (n > HTTP_BODY_MAX)
				return (refuse(r, 413, "body larger than "
				    "64 KiB"));
			r->content_length = n;
		}
		p = eol + 2;
	}
	if (strcmp(r->method, "POST") != 0)
		return (refuse(r, 405, "only POST is served"));
	if (strcmp(r->path, "/add-checkpoint") != 0)
		return (refuse(r, 404, "no such path"));
	if (!have_length)
		return (refuse(r, 411, "Content-Length required"));
	return (HTTP_MORE);
}

enum http_state
http_req_feed(struct http_req *r, const uint8_t *p, size_t len)
{
	size_t room, take, from, i;

	if (r->state == HTTP_DONE && len > 0)
		return (refuse(r, 400, "bytes after the body (one request "
		    "per connection)"));
	if (r->state != HTTP_MORE)
		return (r->state);
	if (r->head_len == 0) {
		room = HTTP_HEAD_MAX - r->len;
		take = len < room ? len : room;
		from = r->len > 3 ? r->len - 3 : 0;
		memcpy(r->buf + r->len, p, take);
		r->len += take;
		p += take;
		len -= take;
		for (i = from; i + 4 <= r->len; i++)
			if (memcmp(r->buf + i, "\r\n\r\n", 4) == 0)
				break;
		if (i + 4 > r->len) {
			if (r->len == HTTP_HEAD_MAX)
				return (refuse(r, 400, "head larger than "
				    "8 KiB"));
			return (HTTP_MORE);
		}
		/* Bytes read past the head stay where they are: the body. */
		r->head_len = i + 4;
		if (parse_head(r) != HTTP_MORE)
			return (r->state);
		if (r->len - r->head_len > r->content_length)
			return (refuse(r, 400, "bytes after the body (one "
			    "request per connection)"));
	}
	if (len > r->content_length - (r->len - r->head_len))
		return (refuse(r, 400, "bytes after the body (one request "
		    "per connection)"));
	memcpy(r->buf + r->len, p, len);
	r->len += len;
	if (r->len - r->head_len == r->content_length)
		r->state = HTTP_DONE;
	return (r->state);
}

const uint8_t *
http_req_body(const struct http_req *r, size_t *len)
{

	*len = r->len - r->head_len;
	return (r->buf + r->head_len);
}

const char *
http_status_text(unsigned status)
{

	switch (status) {
	case 200: return ("OK");
	case 400: return ("Bad Request");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 409: return ("Conflict");
	case 411: return ("Length Required");
	case 413: return ("Content Too Large");
	case 422: return ("Unprocessable Content");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 503: return ("Service Unavailable");
	}
	return ("Error");
}
