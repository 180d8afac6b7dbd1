/*
 * A strict HTTP/1.1 request reader for the witness endpoint (SPEC
 * R-WIT-1): one request per connection, head and body held to fixed
 * limits, Content-Length required, no chunked bodies.  Every byte is the
 * peer's and hostile.  No sockets, no allocation after http_req_init:
 * the connection feeds it what it reads, and acts once it says done.
 */
#ifndef CUSTODY_COLLECTOR_HTTP_H
#define CUSTODY_COLLECTOR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192        /* request line and headers, bytes */
#define HTTP_HEADERS_MAX 32       /* header lines */
#define HTTP_BODY_MAX 65536       /* body, bytes */
#define HTTP_PATH_MAX 256

/* What http_req_feed says. */
enum http_state {
	HTTP_MORE = 0,    /* give it more bytes */
	HTTP_DONE = 1,    /* a whole request: method, path, body are set */
	HTTP_ERROR = 2,   /* refused: status and reason say why */
};

struct http_req {
	enum http_state state;
	unsigned status;          /* HTTP_ERROR: the status to answer */
	const char *reason;       /* HTTP_ERROR: why, static text */
	char method[8];
	char path[HTTP_PATH_MAX];
	uint64_t content_length;
	size_t head_len;          /* bytes of head, 0 until it is whole */
	size_t len;               /* bytes held in buf */
	uint8_t *buf;             /* head, then body; HTTP_HEAD_MAX + BODY_MAX */
};

/* Readies r; allocates its buffer.  Returns 0 or CST_ENOMEM. */
int http_req_init(struct http_req *r);

/* Frees r's buffer; safe twice and after a failed init. */
void http_req_close(struct http_req *r);

/*
 * Feeds p[0..len) (borrowed).  Returns r->state: HTTP_MORE, HTTP_DONE
 * (bytes after the body make it HTTP_ERROR: one request per connection)
 * or HTTP_ERROR with r->status (400, 404, 405, 411, 413, 501) and
 * r->reason.  Once HTTP_ERROR, later calls change nothing; bytes fed
 * after HTTP_DONE make it HTTP_ERROR.
 */
enum http_state http_req_feed(struct http_req *r, const uint8_t *p,
    size_t len);

/* The body of a done request, borrowed from r; *len its length. */
const uint8_t *http_req_body(const struct http_req *r, size_t *len);

/* The reason phrase of status ("Conflict"), or "Error". */
const char *http_status_text(unsigned status);

#endif /* CUSTODY_COLLECTOR_HTTP_H */
