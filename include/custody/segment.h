/*
 * Segment files: the append-only writer (formats/segment_write.c), a
 * read-only mapping and the scan crash recovery uses
 * (formats/segment_read.c); SPEC sections 3 and 9.
 */
#ifndef CUSTODY_SEGMENT_H
#define CUSTODY_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "custody/format.h"
#include "custody/frame.h"
#include "custody/keys.h"

typedef struct cst_segw cst_segw;

/*
 * Creates the segment file path (must not exist; mode 0640), writes h, and
 * syncs the file and its directory.  *out is returned to close with
 * cst_segw_close.  Returns 0, CST_EEXIST, CST_EIO or CST_ENOMEM.
 */
int cst_segw_create(const char *path, const cst_seg_hdr *h, cst_segw **out);

/*
 * Opens the existing segment path for appending after its first
 * valid_len bytes (a recovery cut has already been made: a file of any
 * other length is refused with CST_EIO, never overwritten).  Returns 0,
 * CST_ENOENT, CST_EIO or CST_ENOMEM.
 */
int cst_segw_open(const char *path, uint64_t valid_len, cst_segw **out);

/* Appends data[0..len) in full.  Returns 0 or CST_EIO. */
int cst_segw_append(cst_segw *w, const uint8_t *data, size_t len);

/* Makes everything appended durable (fdatasync).  Returns 0 or CST_EIO. */
int cst_segw_sync(cst_segw *w);

/* Bytes in the file so far. */
uint64_t cst_segw_size(const cst_segw *w);

/* Syncs and closes w; NULL is a no-op.  Returns 0 or CST_EIO. */
int cst_segw_close(cst_segw *w);

/*
 * A read-only view of a whole file.  A reader must never hang, die or
 * spend minutes on a hostile file (R-SEG-7): the file is opened without
 * blocking and without following a final symbolic link, must be a
 * regular file, is mapped at the size it had when opened, and, where the
 * program installed the map guard (custody/mapguard.h), a truncation
 * while it is read leaves zeros instead of SIGBUS and is reported by
 * cst_map_shrank.  A file with holes (sparse) lists its data extents, so
 * that nothing scans the holes.
 */
typedef struct cst_map {
	const uint8_t *p;
	size_t len;
	int guard;            /* 1 + the map guard's slot; 0: unguarded */
	cst_extent *data;     /* the data extents, or NULL: no holes */
	size_t ndata;
	uint64_t holes;       /* bytes in holes */
} cst_map;

/*
 * Opens path for reading as a store file: O_NONBLOCK (a FIFO cannot
 * block the open) and O_NOFOLLOW (a symbolic link is refused), then
 * refuses anything but a regular file.  On success *fd (returned to
 * close) is a blocking descriptor and *size the file's size then.
 * Returns 0, CST_ENOENT, CST_ENOTREG (not a regular file, or a symbolic
 * link) or CST_EIO.
 */
int cst_file_open_read(const char *path, int *fd, uint64_t *size);

/*
 * Opens path, a file the user named on the command line, for reading
 * with fdopen's mode (borrowed): like cst_file_open_read, a FIFO or
 * device is refused without blocking, but a symbolic link is followed
 * (certificates and keys are often links).  Returns 0 with *out to
 * fclose, CST_ENOENT, CST_ENOTREG or CST_EIO (errno kept);
 * cst_file_why(rc), called at once, says why in words.
 */
int cst_file_open_named(const char *path, const char *mode, FILE **out);
const char *cst_file_why(int rc);

/*
 * Maps the file path read-only (an empty file gives len 0, p non-NULL),
 * opened as cst_file_open_read does.  Returns 0, CST_ENOENT, CST_ENOTREG,
 * CST_ENOMEM or CST_EIO.
 */
int cst_map_open(const char *path, cst_map *out);

/*
 * Whether m's file was found shorter than m while it was read: the bytes
 * past its new end read as zeros, and nothing read there is evidence.
 */
int cst_map_shrank(const cst_map *m);

/*
 * Advice that the whole of m (from cst_map_open) is about to be read:
 * its page tables are filled now, in one call, rather than by a page
 * fault every few pages (on a virtual machine a fault costs microseconds).
 * For a reader of every byte, such as the verifier.  Cannot fail.
 */
void cst_map_will_read(const cst_map *m);

/* Unmaps m and frees its extents; safe on a zeroed map. */
void cst_map_close(cst_map *m);

/* Formats the file name of segment n ("seg-0000000042.cst") into out. */
void cst_segment_name(uint64_t n, char out[32]);

/* What a recovery scan of the newest segment found. */
typedef struct cst_scan {
	cst_seg_hdr hdr;
	uint64_t valid_len;   /* bytes of valid header and frames */
	uint64_t blocks;      /* valid frames */
	int sealed;           /* the last valid frame is a seal */
	cst_frame last;       /* the last valid frame (blocks > 0); in buf */
	uint64_t next_seq;    /* first_seq + record_count of the last frame,
	                         or the header's first_seq */
	uint32_t epoch;       /* key epoch of the last frame; 0 if none */
} cst_scan;

/*
 * Scans buf[0..len) (borrowed), the newest segment, for the longest prefix
 * of frames whose structure, chain links, key epochs (R-KEY-2),
 * signatures (with the keys of key's certificates, key borrowed) and
 * payload hashes hold; a seal block ends the prefix.  Payloads are not
 * decompressed.  Used by the collector's crash recovery (R-REC-5); a torn
 * tail is everything from valid_len on.  Returns 0, CST_ECORRUPT when
 * even the header is bad, or CST_EFOREIGN when the header names another
 * chain than key's.
 */
int cst_segment_scan(const uint8_t *buf, size_t len, const cst_epoch_key *key,
    cst_scan *out);

#endif /* CUSTODY_SEGMENT_H */
