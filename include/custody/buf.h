/*
 * A growable byte buffer, the one output type of the encoders.
 */
#ifndef CUSTODY_BUF_H
#define CUSTODY_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cst_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
} cst_buf;

/* Initialises b empty; no allocation. */
void cst_buf_init(cst_buf *b);

/* Frees b's storage and leaves it empty; safe on an empty buffer. */
void cst_buf_close(cst_buf *b);

/* Makes room for n more bytes.  Returns 0 or CST_ENOMEM. */
int cst_buf_reserve(cst_buf *b, size_t n);

/* Appends data[0..n).  Returns 0 or CST_ENOMEM. */
int cst_buf_append(cst_buf *b, const void *data, size_t n);

#endif /* CUSTODY_BUF_H */
