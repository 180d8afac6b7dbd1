/*
 * The document model of a report (vdoc.h), and its text and HTML forms.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "json.h"
#include "vdoc.h"

void
vdoc_init(struct vdoc *d)
{

	memset(d, 0, sizeof(*d));
}

void
vdoc_free(struct vdoc *d)
{
	size_t i, k;

	for (i = 0; i < d->n; i++) {
		free(d->b[i].text);
		for (k = 0; k < d->b[i].nrows * d->b[i].ncols; k++)
			free(d->b[i].cells[k]);
		free(d->b[i].cells);
		free(d->b[i].cols);
	}
	free(d->b);
	free(d->title);
	free(d->running);
	memset(d, 0, sizeof(*d));
}

/* fmt and ap, formatted and made printable UTF-8 (vdoc.h); NULL on OOM. */
static char *
safe_vfmt(const char *fmt, va_list ap)
{
	cst_buf b;
	char *s, *out = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return (NULL);
	cst_buf_init(&b);
	if (json_text_escape(&b, (const uint8_t *)s, strlen(s)) == 0 &&
	    cst_buf_append(&b, "", 1) == 0) {
		out = (char *)b.p;
		b.p = NULL;
	}
	cst_buf_close(&b);
	free(s);
	return (out);
}

static char *
safe_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = safe_vfmt(fmt, ap);
	va_end(ap);
	return (s);
}

static struct vdoc_block *
add_block(struct vdoc *d, int kind)
{
	struct vdoc_block *nb;

	if (d->oom)
		return (NULL);
	if ((nb = realloc(d->b, (d->n + 1) * sizeof(*nb))) == NULL) {
		d->oom = 1;
		return (NULL);
	}
	d->b = nb;
	memset(&nb[d->n], 0, sizeof(*nb));
	nb[d->n].kind = kind;
	return (&nb[d->n++]);
}

void
vdoc_title(struct vdoc *d, const char *title, const char *running)
{

	free(d->title);
	free(d->running);
	d->title = safe_fmt("%s", title);
	d->running = safe_fmt("%s", running);
	if (d->title == NULL || d->running == NULL)
		d->oom = 1;
}

void
vdoc_heading(struct vdoc *d, int level, const char *fmt, ...)
{
	struct vdoc_block *b;
	va_list ap;

	if ((b = add_block(d, VDOC_HEADING)) == NULL)
		return;
	b->level = level;
	va_start(ap, fmt);
	if ((b->text = safe_vfmt(fmt, ap)) == NULL)
		d->oom = 1;
	va_end(ap);
}

void
vdoc_para(struct vdoc *d, int style, const char *fmt, ...)
{
	struct vdoc_block *b;
	va_list ap;

	if ((b = add_block(d, VDOC_PARA)) == NULL)
		return;
	b->style = style;
	va_start(ap, fmt);
	if ((b->text = safe_vfmt(fmt, ap)) == NULL)
		d->oom = 1;
	va_end(ap);
}

void
vdoc_table(struct vdoc *d, const struct vdoc_col *cols, size_t ncols)
{
	struct vdoc_block *b;

	if ((b = add_block(d, VDOC_TABLE)) == NULL)
		return;
	if ((b->cols = malloc(ncols * sizeof(*cols))) == NULL) {
		d->oom = 1;
		return;
	}
	memcpy(b->cols, cols, ncols * sizeof(*cols));
	b->ncols = ncols;
	d->cell = ncols;
}

/* Appends the safe text s (taken) as the next cell of the last table. */
static void
add_cell(struct vdoc *d, char *s)
{
	struct vdoc_block *b;
	char **nc;

	if (s == NULL)
		d->oom = 1;
	if (d->oom || d->n == 0 || d->b[d->n - 1].kind != VDOC_TABLE ||
	    d->b[d->n - 1].ncols == 0) {
		free(s);
		return;
	}
	b = &d->b[d->n - 1];
	if (d->cell == b->ncols) {
		if ((nc = realloc(b->cells, (b->nrows + 1) * b->ncols *
		    sizeof(*nc))) == NULL) {
			d->oom = 1;
			free(s);
			return;
		}
		b->cells = nc;
		memset(&nc[b->nrows * b->ncols], 0, b->ncols * sizeof(*nc));
		b->nrows++;
		d->cell = 0;
	}
	b->cells[(b->nrows - 1) * b->ncols + d->cell++] = s;
}

void
vdoc_cell(struct vdoc *d, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = safe_vfmt(fmt, ap);
	va_end(ap);
	add_cell(d, s);
}

void
vdoc_cell2(struct vdoc *d, const char *a, const char *b)
{
	char *x, *y, *j = NULL;

	x = safe_fmt("%s", a);
	y = safe_fmt("%s", b);
	/* The break goes in after the escaping, so it stays the document's. */
	if (x != NULL && y != NULL && asprintf(&j, "%s\n%s", x, y) < 0)
		j = NULL;
	free(x);
	free(y);
	add_cell(d, j);
}

/* Text. */

/* Writes s wrapped at width columns, each line after indent. */
static void
text_wrap(FILE *f, const char *s, const char *first, const char *indent,
    size_t width)
{
	const char *p = s, *sp, *q;
	size_t col;

	fputs(first, f);
	col = strlen(first);
	while (*p != '\0') {
		q = p;
		while (*q != '\0' && *q != ' ')
			q++;
		if (col > strlen(indent) && col + 1 + (size_t)(q - p) > width) {
			fprintf(f, "\n%s", indent);
			col = strlen(indent);
		} else if (p != s) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, (size_t)(q - p), f);
		col += (size_t)(q - p);
		sp = q;
		while (*sp == ' ')
			sp++;
		p = sp;
	}
	fputc('\n', f);
}

/* A cell's value; its own line breaks indented under it. */
static void
text_cell(FILE *f, const char *s)
{

	for (; s != NULL && *s != '\0'; s++)
		if (*s == '\n')
			fputs("\n      ", f);
		else
			fputc(*s, f);
	fputc('\n', f);
}

int
vdoc_text(FILE *f, const struct vdoc *d)
{
	const struct vdoc_block *b;
	size_t i, r, c;

	if (d->oom) {
		errno = ENOMEM;
		return (-1);
	}
	if (d->title != NULL)
		fprintf(f, "%s\n%s\n\n", d->title, d->running != NULL ?
		    d->running : "");
	for (i = 0; i < d->n; i++) {
		b = &d->b[i];
		switch (b->kind) {
		case VDOC_HEADING:
			fprintf(f, "\n%s\n", b->text);
			for (c = strlen(b->text); c > 0; c--)
				fputc(b->level == 1 ? '=' : '-', f);
			fputs("\n\n", f);
			break;
		case VDOC_PARA:
			if (b->style == VDOC_MONO || b->style == VDOC_DEL ||
			    b->style == VDOC_ADD)
				fprintf(f, "    %s\n", b->text);
			else if (b->style == VDOC_BULLET)
				text_wrap(f, b->text, "  - ", "    ", 78);
			else
				text_wrap(f, b->text, "", "", 78);
			if (b->style == VDOC_PLAIN || b->style == VDOC_NOTE ||
			    b->style == VDOC_VERDICT_OK ||
			    b->style == VDOC_VERDICT_BAD)
				fputc('\n', f);
			break;
		case VDOC_TABLE:
			/* One record per row: "head: value" lines. */
			for (r = 0; r < b->nrows; r++) {
				for (c = 0; c < b->ncols; c++) {
					fprintf(f, "%s%s: ", c == 0 ? "  * " :
					    "    ", b->cols[c].head);
					text_cell(f, b->cells[r * b->ncols + c]);
				}
			}
			fputc('\n', f);
			break;
		}
	}
	return (ferror(f) ? -1 : 0);
}

/* HTML. */

/* Writes s with the five characters of markup as references. */
static void
html_puts(FILE *f, const char *s)
{

	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		case '\n':
			fputs("<br>", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char html_style[] =
"body{font-family:'DejaVu Sans',sans-serif;font-size:10pt;max-width:60em;"
"margin:2em auto;color:#000}\n"
"h1{font-size:16pt;border-bottom:2px solid #000}\n"
"h2{font-size:13pt;border-bottom:1px solid #888;margin-top:1.5em}\n"
"h3{font-size:11pt}\n"
"p.ok{font-weight:bold;font-size:12pt;border:2px solid #070;padding:.5em}\n"
"p.bad{font-weight:bold;font-size:12pt;border:2px solid #a00;padding:.5em}\n"
"p.note{font-size:9pt;color:#333}\n"
"p.mono,td.mono{font-family:'DejaVu Sans Mono',monospace;font-size:8pt;"
"word-break:break-all}\n"
"p.mono{margin:0;white-space:pre-wrap}\n"
"p.del{color:#a00}\np.add{color:#070}\n"
"table{border-collapse:collapse;width:100%;margin-bottom:1em}\n"
"th,td{border:1px solid #999;padding:2px 4px;text-align:left;"
"vertical-align:top;font-size:9pt}\n"
"th{background:#ddd}\n"
".running{font-size:9pt;color:#333}\n";

int
vdoc_html(FILE *f, const struct vdoc *d)
{
	static const char *cls[] = { "", "ok", "bad", "note", "", "mono",
	    "mono del", "mono add" };
	const struct vdoc_block *b;
	size_t i, r, c;
	int in_list = 0;

	if (d->oom) {
		errno = ENOMEM;
		return (-1);
	}
	/* No script, no external resource: the file stands alone. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<title>", f);
	html_puts(f, d->title);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n",
	    html_style);
	fputs("<p class=\"running\">", f);
	html_puts(f, d->running);
	fputs("</p>\n<h1>", f);
	html_puts(f, d->title);
	fputs("</h1>\n", f);
	for (i = 0; i < d->n; i++) {
		b = &d->b[i];
		if (in_list && (b->kind != VDOC_PARA ||
		    b->style != VDOC_BULLET)) {
			fputs("</ul>\n", f);
			in_list = 0;
		}
		switch (b->kind) {
		case VDOC_HEADING:
			fprintf(f, "<h%d>", b->level + 1);
			html_puts(f, b->text);
			fprintf(f, "</h%d>\n", b->level + 1);
			break;
		case VDOC_PARA:
			if (b->style == VDOC_BULLET) {
				if (!in_list)
					fputs("<ul>\n", f);
				in_list = 1;
				fputs("<li>", f);
				html_puts(f, b->text);
				fputs("</li>\n", f);
				break;
			}
			fprintf(f, "<p class=\"%s\">", b->style >= 0 &&
			    (size_t)b->style < sizeof(cls) / sizeof(cls[0]) ?
			    cls[b->style] : "");
			html_puts(f, b->text);
			fputs("</p>\n", f);
			break;
		case VDOC_TABLE:
			fputs("<table>\n<tr>", f);
			for (c = 0; c < b->ncols; c++) {
				fputs("<th>", f);
				html_puts(f, b->cols[c].head);
				fputs("</th>", f);
			}
			fputs("</tr>\n", f);
			for (r = 0; r < b->nrows; r++) {
				fputs("<tr>", f);
				for (c = 0; c < b->ncols; c++) {
					fputs(b->cols[c].mono ?
					    "<td class=\"mono\">" : "<td>", f);
					html_puts(f, b->cells[r * b->ncols + c]);
					fputs("</td>", f);
				}
				fputs("</tr>\n", f);
			}
			fputs("</table>\n", f);
			break;
		}
	}
	if (in_list)
		fputs("</ul>\n", f);
	fputs("<p class=\"running\">", f);
	html_puts(f, d->running);
	fputs("</p>\n</body>\n</html>\n", f);
	return (ferror(f) ? -1 : 0);
}
