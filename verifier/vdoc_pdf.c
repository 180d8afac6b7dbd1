/*
 * The PDF form of a report (vdoc.h): A4, cairo and pango, text that
 * pdftotext and a PDF viewer's search find, a running header and a
 * "page X of Y" footer on every page.
 *
 * The document is laid out twice with the same code: once onto a PDF
 * surface that discards its output, to count the pages, then onto the
 * file.  Both passes measure with the same surface type, so they break
 * the pages at the same places.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

#include "vdoc.h"

#define PAGE_W 595.276          /* A4 in points */
#define PAGE_H 841.890
#define MARGIN_X 56.0
#define MARGIN_TOP 62.0
#define MARGIN_BOTTOM 58.0
#define CONTENT_W (PAGE_W - 2 * MARGIN_X)
#define CELL_PAD 3.0

#define FONT_BODY "DejaVu Sans 10"
#define FONT_NOTE "DejaVu Sans 9"
#define FONT_H1 "DejaVu Sans Bold 16"
#define FONT_H2 "DejaVu Sans Bold 12"
#define FONT_TITLE "DejaVu Sans Bold 20"
#define FONT_VERDICT "DejaVu Sans Bold 13"
#define FONT_CELL "DejaVu Sans 8.5"
#define FONT_CELL_HEAD "DejaVu Sans Bold 8.5"
/* 64 hex digits take 243 points. */
#define FONT_MONO "DejaVu Sans Mono 6.3"
#define FONT_RUNNING "DejaVu Sans 8"
/* A command line or a diff line: every character must be told apart. */
#define FONT_PRE "DejaVu Sans Mono 7.5"

struct pdf {
	cairo_t *cr;
	PangoContext *pc;       /* at 72 dpi: font sizes are in points */
	const struct vdoc *d;
	int draw;               /* 0: only count the pages */
	int page;               /* 1-based, the page being laid out */
	int pages;              /* the total, known on the drawing pass */
	double y;
};

/* Where the PDF goes, and the first write error (errno) it met. */
struct sink {
	FILE *f;
	int err;
};

static cairo_status_t
to_file(void *ctx, const unsigned char *data, unsigned int len)
{
	struct sink *k = ctx;

	if (k->err != 0)
		return (CAIRO_STATUS_WRITE_ERROR);
	if (fwrite(data, 1, len, k->f) != len) {
		k->err = errno != 0 ? errno : EIO;
		return (CAIRO_STATUS_WRITE_ERROR);
	}
	return (CAIRO_STATUS_SUCCESS);
}

static cairo_status_t
discard(void *ctx, const unsigned char *data, unsigned int len)
{

	(void)ctx;
	(void)data;
	(void)len;
	return (CAIRO_STATUS_SUCCESS);
}

static PangoLayout *
layout_new(struct pdf *p, const char *font, const char *text, double width,
    PangoWrapMode wrap)
{
	PangoFontDescription *fd;
	PangoLayout *l;

	l = pango_layout_new(p->pc);
	fd = pango_font_description_from_string(font);
	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(l, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(l, wrap);
	pango_layout_set_text(l, text != NULL ? text : "", -1);
	return (l);
}

static double
layout_h(PangoLayout *l)
{
	int w, h;

	pango_layout_get_size(l, &w, &h);
	return ((double)h / PANGO_SCALE);
}

/* The header and footer of the current page. */
static void
page_furniture(struct pdf *p)
{
	PangoLayout *l;
	char num[64];

	if (!p->draw)
		return;
	cairo_set_source_rgb(p->cr, 0.25, 0.25, 0.25);
	l = layout_new(p, FONT_RUNNING, p->d->running, CONTENT_W,
	    PANGO_WRAP_WORD_CHAR);
	cairo_move_to(p->cr, MARGIN_X, 30);
	pango_cairo_show_layout(p->cr, l);
	g_object_unref(l);
	cairo_set_line_width(p->cr, 0.5);
	cairo_move_to(p->cr, MARGIN_X, MARGIN_TOP - 12);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, MARGIN_TOP - 12);
	cairo_move_to(p->cr, MARGIN_X, PAGE_H - MARGIN_BOTTOM + 14);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, PAGE_H - MARGIN_BOTTOM + 14);
	cairo_stroke(p->cr);

	l = layout_new(p, FONT_RUNNING, p->d->running, CONTENT_W - 90,
	    PANGO_WRAP_WORD_CHAR);
	cairo_move_to(p->cr, MARGIN_X, PAGE_H - MARGIN_BOTTOM + 20);
	pango_cairo_show_layout(p->cr, l);
	g_object_unref(l);
	snprintf(num, sizeof(num), "page %d of %d", p->page, p->pages);
	l = layout_new(p, FONT_RUNNING, num, 90, PANGO_WRAP_WORD);
	pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
	cairo_move_to(p->cr, PAGE_W - MARGIN_X - 90,
	    PAGE_H - MARGIN_BOTTOM + 20);
	pango_cairo_show_layout(p->cr, l);
	g_object_unref(l);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
}

static void
new_page(struct pdf *p)
{

	cairo_show_page(p->cr);
	p->page++;
	p->y = MARGIN_TOP;
	page_furniture(p);
}

static double
room(const struct pdf *p)
{

	return (PAGE_H - MARGIN_BOTTOM - p->y);
}

/*
 * Shows layout l at x, line by line, breaking the page between lines: a
 * long paragraph flows on, it is never cut or drawn over the footer.
 */
static void
show_lines(struct pdf *p, PangoLayout *l, double x)
{
	PangoLayoutIter *it;
	PangoRectangle log;
	PangoLayoutLine *line;
	double top, h, base;

	it = pango_layout_get_iter(l);
	do {
		line = pango_layout_iter_get_line_readonly(it);
		pango_layout_iter_get_line_extents(it, NULL, &log);
		h = (double)log.height / PANGO_SCALE;
		if (h > room(p))
			new_page(p);
		top = (double)log.y / PANGO_SCALE;
		base = (double)pango_layout_iter_get_baseline(it) /
		    PANGO_SCALE - top;
		if (p->draw) {
			cairo_move_to(p->cr, x, p->y + base);
			pango_cairo_show_layout_line(p->cr, line);
		}
		p->y += h;
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
}

static void
put_heading(struct pdf *p, const struct vdoc_block *b)
{
	PangoLayout *l;
	double h;

	l = layout_new(p, b->level == 1 ? FONT_H1 : FONT_H2, b->text,
	    CONTENT_W, PANGO_WRAP_WORD_CHAR);
	h = layout_h(l);
	/* A heading is kept with some of what follows it. */
	if (p->y > MARGIN_TOP && h + 8 + 60 > room(p))
		new_page(p);
	else if (p->y > MARGIN_TOP)
		p->y += b->level == 1 ? 10 : 6;
	show_lines(p, l, MARGIN_X);
	if (b->level == 1 && p->draw) {
		cairo_set_line_width(p->cr, 1.0);
		cairo_move_to(p->cr, MARGIN_X, p->y + 1.5);
		cairo_line_to(p->cr, PAGE_W - MARGIN_X, p->y + 1.5);
		cairo_stroke(p->cr);
	}
	p->y += b->level == 1 ? 7 : 4;
	g_object_unref(l);
}

static void
put_para(struct pdf *p, const struct vdoc_block *b)
{
	PangoLayout *l;
	double x = MARGIN_X, w = CONTENT_W, h, top;
	const char *font = FONT_BODY;

	switch (b->style) {
	case VDOC_VERDICT_OK:
	case VDOC_VERDICT_BAD:
		font = FONT_VERDICT;
		x += 8;
		w -= 16;
		break;
	case VDOC_NOTE:
		font = FONT_NOTE;
		break;
	case VDOC_BULLET:
		x += 12;
		w -= 12;
		break;
	case VDOC_MONO:
	case VDOC_DEL:
	case VDOC_ADD:
		font = FONT_PRE;
		x += 8;
		w -= 8;
		break;
	}
	l = layout_new(p, font, b->text, w, PANGO_WRAP_WORD_CHAR);
	h = layout_h(l);
	if (b->style == VDOC_VERDICT_OK || b->style == VDOC_VERDICT_BAD) {
		/* The verdict box is never split. */
		if (h + 16 > room(p))
			new_page(p);
		top = p->y;
		p->y += 8;
		show_lines(p, l, x);
		p->y += 8;
		if (p->draw) {
			if (b->style == VDOC_VERDICT_OK)
				cairo_set_source_rgb(p->cr, 0, 0.45, 0);
			else
				cairo_set_source_rgb(p->cr, 0.7, 0, 0);
			cairo_set_line_width(p->cr, 2.0);
			cairo_rectangle(p->cr, MARGIN_X, top, CONTENT_W,
			    p->y - top);
			cairo_stroke(p->cr);
			cairo_set_source_rgb(p->cr, 0, 0, 0);
		}
		p->y += 8;
		g_object_unref(l);
		return;
	}
	if (b->style == VDOC_BULLET && p->draw) {
		PangoLayout *dot = layout_new(p, font, "\u2022", 10,
		    PANGO_WRAP_WORD);

		if (room(p) < 12)
			new_page(p);
		cairo_move_to(p->cr, MARGIN_X + 2, p->y);
		pango_cairo_show_layout(p->cr, dot);
		g_object_unref(dot);
	}
	if (b->style == VDOC_NOTE)
		cairo_set_source_rgb(p->cr, 0.2, 0.2, 0.2);
	else if (b->style == VDOC_DEL)
		cairo_set_source_rgb(p->cr, 0.65, 0, 0);
	else if (b->style == VDOC_ADD)
		cairo_set_source_rgb(p->cr, 0, 0.45, 0);
	show_lines(p, l, x);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	p->y += b->style == VDOC_MONO || b->style == VDOC_DEL ||
	    b->style == VDOC_ADD ? 0.5 : 4;
	g_object_unref(l);
}

/* The height of a row whose cells are laid out in ls[0..b->ncols). */
static double
row_height(const struct vdoc_block *b, PangoLayout **ls)
{
	double h = 0, lh;
	size_t c;

	for (c = 0; c < b->ncols; c++) {
		lh = layout_h(ls[c]);
		if (lh > h)
			h = lh;
	}
	return (h + 2 * CELL_PAD);
}

static void
row_layouts(struct pdf *p, const struct vdoc_block *b, const double *w,
    char *const *texts, int head, PangoLayout **ls)
{
	size_t c;

	for (c = 0; c < b->ncols; c++)
		ls[c] = layout_new(p, head ? FONT_CELL_HEAD : b->cols[c].mono ?
		    FONT_MONO : FONT_CELL, texts[c], w[c] - 2 * CELL_PAD,
		    PANGO_WRAP_WORD_CHAR);
}

static void
row_draw(struct pdf *p, const struct vdoc_block *b, const double *w,
    PangoLayout **ls, double h, int head)
{
	double x = MARGIN_X;
	size_t c;

	if (!p->draw) {
		p->y += h;
		return;
	}
	if (head) {
		cairo_set_source_rgb(p->cr, 0.88, 0.88, 0.88);
		cairo_rectangle(p->cr, MARGIN_X, p->y, CONTENT_W, h);
		cairo_fill(p->cr);
		cairo_set_source_rgb(p->cr, 0, 0, 0);
	}
	cairo_set_line_width(p->cr, 0.4);
	cairo_set_source_rgb(p->cr, 0.55, 0.55, 0.55);
	for (c = 0; c < b->ncols; c++) {
		cairo_rectangle(p->cr, x, p->y, w[c], h);
		x += w[c];
	}
	cairo_stroke(p->cr);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	x = MARGIN_X;
	for (c = 0; c < b->ncols; c++) {
		cairo_move_to(p->cr, x + CELL_PAD, p->y + CELL_PAD);
		pango_cairo_show_layout(p->cr, ls[c]);
		x += w[c];
	}
	p->y += h;
}

static void
free_layouts(PangoLayout **ls, size_t n)
{
	size_t c;

	for (c = 0; c < n; c++)
		g_object_unref(ls[c]);
}

static int
put_table(struct pdf *p, const struct vdoc_block *b)
{
	PangoLayout **hl, **rl, **hl2;
	char **heads;
	double *w, total = 0, hh, rh;
	size_t c, r;
	int rc = -1;

	w = calloc(b->ncols, sizeof(*w));
	heads = calloc(b->ncols, sizeof(*heads));
	hl = calloc(b->ncols, sizeof(*hl));
	rl = calloc(b->ncols, sizeof(*rl));
	hl2 = calloc(b->ncols, sizeof(*hl2));
	if (w == NULL || heads == NULL || hl == NULL || rl == NULL ||
	    hl2 == NULL)
		goto err0;
	for (c = 0; c < b->ncols; c++)
		total += b->cols[c].width > 0 ? b->cols[c].width : 1;
	for (c = 0; c < b->ncols; c++) {
		w[c] = CONTENT_W * (b->cols[c].width > 0 ? b->cols[c].width :
		    1) / total;
		heads[c] = (char *)(uintptr_t)b->cols[c].head;
	}
	row_layouts(p, b, w, heads, 1, hl);
	hh = row_height(b, hl);
	/*
	 * No orphan: the header goes to the next page unless two rows fit
	 * under it; no widow: the last row does not go over alone.
	 */
	if (p->y > MARGIN_TOP && b->nrows > 0) {
		double first = hh;

		for (r = 0; r < b->nrows && r < 2; r++) {
			row_layouts(p, b, w, &b->cells[r * b->ncols], 0, rl);
			first += row_height(b, rl);
			free_layouts(rl, b->ncols);
		}
		if (first > room(p))
			new_page(p);
	}
	for (r = 0; r < b->nrows; r++) {
		row_layouts(p, b, w, &b->cells[r * b->ncols], 0, rl);
		rh = row_height(b, rl);
		if (r > 0 && r + 2 == b->nrows && rh <= room(p)) {
			PangoLayout **nl = hl2;

			row_layouts(p, b, w, &b->cells[(r + 1) * b->ncols], 0,
			    nl);
			if (rh + row_height(b, nl) > room(p))
				rh = room(p) + 1;       /* break before r */
			free_layouts(nl, b->ncols);
		}
		/* The header row goes again on top of every page. */
		if (r > 0 && rh > room(p) && p->y > MARGIN_TOP)
			new_page(p);
		if (r == 0 || p->y == MARGIN_TOP)
			row_draw(p, b, w, hl, hh, 1);
		row_draw(p, b, w, rl, row_height(b, rl), 0);
		free_layouts(rl, b->ncols);
	}
	if (b->nrows == 0) {
		if (hh > room(p))
			new_page(p);
		row_draw(p, b, w, hl, hh, 1);
	}
	free_layouts(hl, b->ncols);
	p->y += 8;
	rc = 0;

err0:
	free(w);
	free(heads);
	free(hl);
	free(rl);
	free(hl2);
	return (rc);
}

/* Lays the whole document out on cr; returns the pages, or -1 on OOM. */
static int
lay_out(cairo_t *cr, const struct vdoc *d, int draw, int pages)
{
	cairo_font_options_t *fo;
	struct pdf p;
	PangoLayout *l;
	size_t i;

	/*
	 * Unhinted metrics: hinting rounds each glyph's advance to whole
	 * points, which makes a 64-digit hash overflow its column.
	 */
	if ((fo = cairo_font_options_create()) != NULL) {
		cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
		cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
		cairo_set_font_options(cr, fo);
		cairo_font_options_destroy(fo);
	}
	memset(&p, 0, sizeof(p));
	p.cr = cr;
	if ((p.pc = pango_cairo_create_context(cr)) == NULL)
		return (-1);
	/* pango's default is 96 dpi: a "10" font would be 13.3 points. */
	pango_cairo_context_set_resolution(p.pc, 72);
	/* Whole-point glyph positions would widen small monospace text. */
	pango_context_set_round_glyph_positions(p.pc, FALSE);
	p.d = d;
	p.draw = draw;
	p.page = 1;
	p.pages = pages;
	p.y = MARGIN_TOP;
	page_furniture(&p);
	l = layout_new(&p, FONT_TITLE, d->title, CONTENT_W,
	    PANGO_WRAP_WORD_CHAR);
	show_lines(&p, l, MARGIN_X);
	g_object_unref(l);
	p.y += 10;
	for (i = 0; i < d->n; i++) {
		switch (d->b[i].kind) {
		case VDOC_HEADING:
			put_heading(&p, &d->b[i]);
			break;
		case VDOC_PARA:
			put_para(&p, &d->b[i]);
			break;
		case VDOC_TABLE:
			if (put_table(&p, &d->b[i]) != 0) {
				g_object_unref(p.pc);
				return (-1);
			}
			break;
		}
	}
	cairo_show_page(cr);
	g_object_unref(p.pc);
	return (p.page);
}

int
vdoc_pdf(const char *path, const struct vdoc *d)
{
	cairo_surface_t *s;
	cairo_status_t st;
	struct sink k;
	cairo_t *cr;
	int pages, rc;

	if (d->oom) {
		errno = ENOMEM;
		return (-1);
	}
	s = cairo_pdf_surface_create_for_stream(discard, NULL, PAGE_W, PAGE_H);
	cr = cairo_create(s);
	pages = lay_out(cr, d, 0, 0);
	cairo_destroy(cr);
	cairo_surface_destroy(s);
	if (pages < 0) {
		errno = ENOMEM;
		return (-1);
	}

	/* Our own FILE, so that a failure keeps its errno. */
	if ((k.f = fopen(path, "wb")) == NULL)
		return (-1);
	k.err = 0;
	s = cairo_pdf_surface_create_for_stream(to_file, &k, PAGE_W, PAGE_H);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		fclose(k.f);
		errno = ENOMEM;
		return (-1);
	}
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE,
	    d->title != NULL ? d->title : "");
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR,
	    "custody-verify");
	cr = cairo_create(s);
	rc = lay_out(cr, d, 1, pages);
	cairo_destroy(cr);
	cairo_surface_finish(s);
	st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (fclose(k.f) != 0 && k.err == 0)
		k.err = errno;
	if (k.err != 0) {
		errno = k.err;
		return (-1);
	}
	if (rc < 0 || st != CAIRO_STATUS_SUCCESS) {
		errno = rc < 0 || st == CAIRO_STATUS_NO_MEMORY ? ENOMEM : EIO;
		return (-1);
	}
	return (0);
}

void
vdoc_pdf_fini(void)
{

	/* Pango's font map holds fontconfig's objects: free it first. */
	pango_cairo_font_map_set_default(NULL);
	cairo_debug_reset_static_data();
	FcFini();
}
