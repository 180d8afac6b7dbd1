/*
 * The parser stage: one received message (or piece of one) becomes one
 * record in the open batch, raw bytes copied, syslog fields derived.
 * Runs on the event loop thread.
 */
#ifndef CUSTODY_COLLECTOR_PARSER_H
#define CUSTODY_COLLECTOR_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "batcher.h"
#include "pipeline.h"

/*
 * Records msg[0..len) (borrowed), received by src (borrowed) at recv_ns,
 * into b.  fflags are the deframer's CST_FRAME_* flags of the piece.  A
 * message that does not parse is kept with CST_RF_PARSE_FAILED; a piece
 * that continues an oversized message is kept unparsed.  Counts into
 * src->ctr.  Returns 0, CST_ETOOBIG (len exceeds a batch) or CST_ENOMEM.
 */
int parser_message(struct batcher *b, struct source *src, const uint8_t *msg,
    size_t len, unsigned fflags, int64_t recv_ns);

#endif /* CUSTODY_COLLECTOR_PARSER_H */
