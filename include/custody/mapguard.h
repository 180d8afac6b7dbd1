/*
 * Mapped files that shrink under their readers.
 *
 * A reader of a store maps segment files read-only.  When a file is
 * truncated while it is mapped (an administrator, a collector's recovery,
 * an attacker), touching a page past the new end raises SIGBUS and would
 * kill the reader: a hostile file must never do that.  A program that
 * maps store files calls cst_mapguard_install once at start; from then on
 * a SIGBUS inside a registered range replaces the rest of that range with
 * zero pages, the read goes on, and the range is marked as faulted, so the
 * reader sees bytes that fail every check (zeros are never a valid frame)
 * and can say afterwards that the file changed while it was read.  A
 * SIGBUS anywhere else still ends the program as it would have.
 *
 * Lifecycle: install (once, before any thread maps a file) -> add a range
 * after mapping it -> remove it before unmapping it.  Ranges from any
 * thread; at most CST_MAPGUARD_SLOTS at once.
 */
#ifndef CUSTODY_MAPGUARD_H
#define CUSTODY_MAPGUARD_H

#include <stddef.h>

#define CST_MAPGUARD_SLOTS 256

/*
 * Installs the SIGBUS handler for the whole process.  Returns 0, or
 * CST_EIO when sigaction fails (errno is kept).  Calling it again is
 * harmless.
 */
int cst_mapguard_install(void);

/*
 * Registers the mapping [p, p + len) (borrowed, must stay mapped until
 * cst_mapguard_remove).  Returns a slot number >= 0, or -1 when the
 * handler is not installed, len is 0 or every slot is taken: the mapping
 * is then simply not guarded.
 */
int cst_mapguard_add(const void *p, size_t len);

/*
 * Unregisters slot (a value from cst_mapguard_add; a negative slot is a
 * no-op returning 0).  Returns 1 if a fault in the range was caught since
 * it was added (the file shrank under the reader), else 0.
 */
int cst_mapguard_remove(int slot);

/* Whether a fault in slot's range has been caught so far (0 or 1). */
int cst_mapguard_faulted(int slot);

#endif /* CUSTODY_MAPGUARD_H */
