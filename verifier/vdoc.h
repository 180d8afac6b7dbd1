/*
 * A small document model for the examiner's report: headings,
 * paragraphs and tables, built once (vreport_doc.c) and rendered as plain
 * text, as one self-contained HTML file and as a PDF (vdoc_pdf.c), so
 * that the three forms say the same words.
 *
 * Every text put in is made safe on the way in: bytes that are not UTF-8,
 * and control characters, become \xNN escapes, so a renderer never sees
 * anything but printable UTF-8 (a record's text is hostile).  Escaping
 * for the output (HTML markup) is the renderer's job.
 *
 * Building never fails halfway: out of memory is remembered (d->oom) and
 * checked once, by the renderers, which then refuse.
 */
#ifndef CUSTODY_VDOC_H
#define CUSTODY_VDOC_H

#include <stddef.h>
#include <stdio.h>

enum vdoc_kind {
	VDOC_HEADING = 0,      /* level 1 (section) or 2 (subsection) */
	VDOC_PARA,
	VDOC_TABLE,
};

/* A paragraph's emphasis. */
enum vdoc_style {
	VDOC_PLAIN = 0,
	VDOC_VERDICT_OK,       /* the verdict, when it passed */
	VDOC_VERDICT_BAD,      /* the verdict, when it failed or erred */
	VDOC_NOTE,             /* small print: explanations, caveats */
	VDOC_BULLET,           /* one item of a list */
	VDOC_MONO,             /* preformatted: a command line */
	VDOC_DEL,              /* preformatted: a line a diff removes */
	VDOC_ADD,              /* preformatted: a line a diff adds */
};

/* A table column: its header, share of the width, monospace or not. */
struct vdoc_col {
	const char *head;      /* static */
	double width;          /* relative; the shares are normalised */
	int mono;              /* hashes, offsets: fixed width, may break */
};

struct vdoc_block {
	int kind;              /* enum vdoc_kind */
	int level;             /* VDOC_HEADING */
	int style;             /* VDOC_PARA */
	char *text;            /* VDOC_HEADING, VDOC_PARA; a '\n' in a
	                          text or cell is a line break */
	struct vdoc_col *cols; /* VDOC_TABLE: ncols columns */
	size_t ncols;
	char **cells;          /* nrows * ncols, row by row */
	size_t nrows;
};

struct vdoc {
	char *title;
	char *running;         /* the header line of every page */
	struct vdoc_block *b;
	size_t n;
	size_t cell;           /* cells of the last table's open row */
	int oom;
};

/* Initialises d empty. */
void vdoc_init(struct vdoc *d);

/* Frees what d owns; safe on an initialised document. */
void vdoc_free(struct vdoc *d);

/* Sets the title (shown first) and the running header of every page. */
void vdoc_title(struct vdoc *d, const char *title, const char *running);

/* Appends a heading of level 1 or 2. */
void vdoc_heading(struct vdoc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a paragraph in style (enum vdoc_style). */
void vdoc_para(struct vdoc *d, int style, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Starts a table of ncols columns cols[] (borrowed: copied; heads must be
 * static); vdoc_cell then fills it row by row.
 */
void vdoc_table(struct vdoc *d, const struct vdoc_col *cols, size_t ncols);

/* Appends the next cell of the last table, opening rows as needed. */
void vdoc_cell(struct vdoc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Appends the next cell as the lines a and b (borrowed), each made safe
 * on its own: a line break inside a stored text is always the document's,
 * never one a record brought.
 */
void vdoc_cell2(struct vdoc *d, const char *a, const char *b);

/*
 * Renderers.  Each returns 0, or -1 with errno set (ENOMEM when d->oom)
 * and nothing promised about what was written.
 */
int vdoc_text(FILE *f, const struct vdoc *d);
int vdoc_html(FILE *f, const struct vdoc *d);

/* Writes d as an A4 PDF to path (created or replaced). */
int vdoc_pdf(const char *path, const struct vdoc *d);

/*
 * Frees what the font libraries keep for the life of the process, once no
 * more PDF will be written (so that leak checkers see only real leaks).
 */
void vdoc_pdf_fini(void);

#endif /* CUSTODY_VDOC_H */
