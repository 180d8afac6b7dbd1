/*
 * The parser stage: message -> record.
 *
 * This is the per-message hot path of the event loop, so it does one
 * bounded copy of the raw bytes, one parse (which itself copies nothing)
 * and copies the listener's and the sender's names into a batch at most
 * once per batch.
 */
#include <stdint.h>
#include <string.h>

#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"

#include "framing.h"
#include "parser.h"

/* The deframer's piece flags as record flags (SPEC section 5, field 7). */
static uint32_t
record_flags(unsigned fflags)
{
	uint32_t f = 0;

	if (fflags & CST_FRAME_TRUNCATED)
		f |= CST_RF_TRUNCATED;
	if (fflags & CST_FRAME_CONTINUED)
		f |= CST_RF_CONTINUED;
	if (fflags & CST_FRAME_ERROR)
		f |= CST_RF_FRAMING_ERROR;
	if (fflags & CST_FRAME_INCOMPLETE)
		f |= CST_RF_INCOMPLETE;
	return (f);
}

int
parser_message(struct batcher *b, struct source *src, const uint8_t *msg,
    size_t len, unsigned fflags, int64_t recv_ns)
{
	cst_record *r;
	uint8_t *raw;
	int rc;

	if ((rc = batcher_add(b, len, src->name_len + src->peer_len +
	    src->tls_peer_len, &r, &raw)) != 0)
		return (rc);
	if (len > 0)
		memcpy(raw, msg, len);
	if (src->gen != batcher_gen(b)) {
		uint8_t *p = batcher_alloc(b, src->name_len + src->peer_len +
		    src->tls_peer_len);

		memcpy(p, src->name, src->name_len);
		memcpy(p + src->name_len, src->peer, src->peer_len);
		if (src->tls_peer != NULL)
			memcpy(p + src->name_len + src->peer_len,
			    src->tls_peer, src->tls_peer_len);
		src->name_copy = p;
		src->peer_copy = p + src->name_len;
		src->tls_peer_copy = p + src->name_len + src->peer_len;
		src->gen = batcher_gen(b);
	}
	batcher_count_event(b, len);

	r->kind = CST_REC_EVENT;
	r->transport = src->transport;
	r->flags = record_flags(fflags);
	r->recv_ns = recv_ns;
	r->listener.p = src->name_copy;
	r->listener.len = src->name_len;
	r->peer.p = src->peer_copy;
	r->peer.len = src->peer_len;
	if (src->tls_peer != NULL) {
		r->tls_peer.p = src->tls_peer_copy;
		r->tls_peer.len = src->tls_peer_len;
	}
	r->raw.p = raw;
	r->raw.len = len;

	/*
	 * A continuation piece starts mid-message: parsing it would only
	 * invent fields.  The first piece holds the header and is parsed.
	 */
	if (!(fflags & CST_FRAME_CONTINUED)) {
		if (cst_syslog_parse(raw, len, recv_ns, &r->parsed) == 0)
			r->has_parsed = 1;
		else {
			r->flags |= CST_RF_PARSE_FAILED;
			src->ctr->parse_failed++;
		}
	}
	if ((fflags & (CST_FRAME_TRUNCATED | CST_FRAME_CONTINUED)) ==
	    CST_FRAME_TRUNCATED)
		src->ctr->oversize++;
	src->ctr->received++;
	src->ctr->bytes += len;
	return (0);
}
