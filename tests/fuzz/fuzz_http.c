/*
 * Fuzz target for the witness endpoint's HTTP request reader
 * (collector/http.c, SPEC R-WIT-1).  The first byte is a chunk size: the
 * rest is fed in pieces of that many bytes (0: whole), and must give the
 * same verdict as fed whole, since a peer chooses where TCP cuts.  A
 * request taken as whole is a POST to /add-checkpoint with a head and
 * body inside the limits and exactly Content-Length bytes of body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req whole, cut;
	const uint8_t *body;
	size_t chunk, i, blen;

	if (size < 1)
		return (0);
	chunk = data[0];
	data++;
	size--;
	REQUIRE(http_req_init(&whole) == 0);
	REQUIRE(http_req_init(&cut) == 0);
	http_req_feed(&whole, data, size);
	if (chunk == 0)
		chunk = size + 1;
	for (i = 0; i < size; i += chunk)
		http_req_feed(&cut, data + i, size - i < chunk ? size - i :
		    chunk);
	REQUIRE(whole.state == cut.state);
	if (whole.state == HTTP_ERROR) {
		REQUIRE(whole.status == cut.status);
		REQUIRE(whole.status >= 400 && whole.status <= 501);
		REQUIRE(whole.reason != NULL);
	}
	if (whole.state == HTTP_DONE) {
		REQUIRE(strcmp(whole.method, "POST") == 0);
		REQUIRE(strcmp(whole.path, "/add-checkpoint") == 0);
		REQUIRE(whole.head_len <= HTTP_HEAD_MAX);
		body = http_req_body(&whole, &blen);
		REQUIRE(blen == whole.content_length && blen <= HTTP_BODY_MAX);
		REQUIRE(whole.head_len + blen == size);
		REQUIRE(memcmp(body, data + whole.head_len, blen) == 0);
		body = http_req_body(&cut, &i);
		REQUIRE(i == blen && memcmp(body, data + whole.head_len,
		    blen) == 0);
	}
	http_req_close(&whole);
	http_req_close(&cut);
	return (0);
}
