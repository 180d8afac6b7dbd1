/*
 * Evidence bundles (SPEC section 11): what the writer (bundle_write.c) and
 * the verifier (bundle_verify.c) share.  Private to the format library.
 *
 * Layout, all integers little-endian (SPEC 11.1, 11.2):
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       64    header: magic, version, header_len, flags, chain_id,
 *                 created_ns, note_len, cert_count, block_count,
 *                 record_count, checkpoint_count, reserved
 *   64      ...   note, certs (144 each), blocks (224 + cert_len + 64
 *                 each), records (16 + record_len + 32 * path_len each),
 *                 checkpoints (4 + len each)
 *   len-32  32    trailer H(D_BUNDLE || bytes before it)
 */
#ifndef CUSTODY_BUNDLE_INT_H
#define CUSTODY_BUNDLE_INT_H

#include <stdint.h>

static const uint8_t bnd_magic[8] = { 'C', 'U', 'S', 'T', 'B', 'N', 'D', 0 };

#endif /* CUSTODY_BUNDLE_INT_H */
