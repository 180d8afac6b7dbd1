/*
 * Little-endian loads and stores (SPEC section 1: every integer field is
 * little-endian).  Public so that the readers outside formats/ (the
 * verifier's index files) use the same loads and stores as the library.
 *
 * Byte by byte rather than memcpy and a swap: the fields sit at any
 * alignment and the code reads the same on any host.  The caller checks
 * that the bytes exist; these never look at a length.
 */
#ifndef CUSTODY_LE_H
#define CUSTODY_LE_H

#include <stdint.h>

static inline void
cst_le_put16(uint8_t *p, uint16_t v)
{

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
cst_le_put32(uint8_t *p, uint32_t v)
{

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
cst_le_put64(uint8_t *p, uint64_t v)
{

	cst_le_put32(p, (uint32_t)v);
	cst_le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
cst_le_get16(const uint8_t *p)
{

	return ((uint16_t)(p[0] | p[1] << 8));
}

static inline uint32_t
cst_le_get32(const uint8_t *p)
{

	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static inline uint64_t
cst_le_get64(const uint8_t *p)
{

	return ((uint64_t)cst_le_get32(p) | (uint64_t)cst_le_get32(p + 4) << 32);
}

/* i64 fields are two's complement; the cast is defined for all values. */
static inline int64_t
cst_le_geti64(const uint8_t *p)
{
	uint64_t u = cst_le_get64(p);

	return (u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1);
}

#endif /* CUSTODY_LE_H */
