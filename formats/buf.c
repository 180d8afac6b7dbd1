/*
 * A growable byte buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/error.h"

/* Small first allocation: most buffers hold one record or one frame. */
#define BUF_MIN_CAP 256

void
cst_buf_init(cst_buf *b)
{

	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
cst_buf_close(cst_buf *b)
{

	free(b->p);
	cst_buf_init(b);
}

int
cst_buf_reserve(cst_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (n <= b->cap - b->len)
		return (0);
	if (n > SIZE_MAX - b->len)
		goto err0;

	/* Doubling keeps a run of appends linear. */
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < b->len + n) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + n;
			break;
		}
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		goto err0;
	b->p = p;
	b->cap = cap;
	return (0);

err0:
	return (CST_ENOMEM);
}

int
cst_buf_append(cst_buf *b, const void *data, size_t n)
{

	if (n > b->cap - b->len && cst_buf_reserve(b, n) != 0)
		return (CST_ENOMEM);
	/* memcpy from NULL is undefined even for 0 bytes. */
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return (0);
}
