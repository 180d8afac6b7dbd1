/*
 * RELP: the frame parser and the server session (relp.h).
 *
 * The parser follows librelp's grammar, a little stricter where librelp
 * is loose for no use (an empty COMMAND or DATALEN is refused): every
 * other sender would be one that librelp itself refuses.  A frame whose
 * data lies whole in one feed is handed on in place; only a frame cut by
 * the end of a feed is copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"

#include "relp.h"

enum pstate { P_TXNR, P_CMD, P_LEN, P_DATA, P_TRAILER };

/* What an answer says; the order of the table below. */
enum relp_answer {
	A_OPEN,           /* 200 OK and the offers */
	A_OPEN_REFUSED,   /* the sender cannot speak syslog: end */
	A_OK,             /* a syslog command's message is durable */
	A_UNKNOWN,        /* a command this server does not know */
	A_CLOSE,          /* close: the empty answer, then end */
};

static const char *const answer_text[] = {
	/* In parentheses: one string in two pieces, not two elements. */
	[A_OPEN] = ("200 OK\nrelp_version=0\nrelp_software=custody\n"
	    "commands=syslog"),
	[A_OPEN_REFUSED] = "500 required command not supported by client",
	[A_OK] = "200 OK",
	[A_UNKNOWN] = "500 command not supported",
	[A_CLOSE] = "",
};

static int
is_digit(uint8_t c)
{

	return (c >= '0' && c <= '9');
}

static int
is_alpha(uint8_t c)
{

	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

void
relp_parser_init(struct relp_parser *p, size_t max_data, relp_frame_fn *fn,
    void *ctx)
{

	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
	p->max_data = max_data;
	p->state = P_TXNR;
}

void
relp_parser_close(struct relp_parser *p)
{

	free(p->buf);
	p->buf = NULL;
	p->cap = 0;
}

int
relp_parser_between(const struct relp_parser *p)
{

	return (p->state == P_TXNR && p->ndig == 0);
}

/* Hands the frame on and starts the next. */
static int
emit(struct relp_parser *p, const uint8_t *data)
{
	struct relp_frame f;

	f.txnr = p->txnr;
	f.cmd = p->cmd;
	f.cmd_len = p->cmd_len;
	f.data = data;
	f.len = p->len;
	p->state = P_TXNR;
	p->ndig = 0;
	p->txnr = 0;
	p->cmd_len = 0;
	p->len = 0;
	p->got = 0;
	return (p->fn(p->ctx, &f));
}

int
relp_parser_feed(struct relp_parser *p, const uint8_t *in, size_t n)
{
	size_t i = 0, take;
	uint8_t c, *nb;
	int rc;

	while (i < n) {
		c = in[i];
		switch (p->state) {
		case P_TXNR:
			if (is_digit(c)) {
				if (p->ndig++ == RELP_DIGITS_MAX)
					return (CST_ECORRUPT);
				p->txnr = p->txnr * 10 + (uint32_t)(c - '0');
			} else if (c == ' ' && p->ndig > 0) {
				p->state = P_CMD;
			} else
				return (CST_ECORRUPT);
			i++;
			break;
		case P_CMD:
			if (is_alpha(c)) {
				if (p->cmd_len == RELP_CMD_MAX)
					return (CST_ECORRUPT);
				p->cmd[p->cmd_len++] = (char)c;
			} else if (c == ' ' && p->cmd_len > 0) {
				p->cmd[p->cmd_len] = '\0';
				p->state = P_LEN;
				p->ndig = 0;
			} else
				return (CST_ECORRUPT);
			i++;
			break;
		case P_LEN:
			if (is_digit(c)) {
				if (p->ndig++ == RELP_DIGITS_MAX)
					return (CST_ECORRUPT);
				p->len = p->len * 10 + (size_t)(c - '0');
				i++;
				break;
			}
			if (p->ndig == 0)
				return (CST_ECORRUPT);
			i++;
			if (p->len == 0) {
				/* No data: no SP, the trailer at once. */
				if (c != '\n')
					return (CST_ECORRUPT);
				if ((rc = emit(p, NULL)) != 0)
					return (rc);
				break;
			}
			if (c != ' ')
				return (CST_ECORRUPT);
			if (p->len > p->max_data)
				return (CST_ETOOBIG);
			p->state = P_DATA;
			if (n - i > p->len) {
				/* The data and its trailer are here whole. */
				const uint8_t *data = in + i;

				if (data[p->len] != '\n')
					return (CST_ECORRUPT);
				i += p->len + 1;
				if ((rc = emit(p, data)) != 0)
					return (rc);
			}
			break;
		case P_DATA:
			if (p->cap < p->len) {
				if ((nb = realloc(p->buf, p->len)) == NULL)
					return (CST_ENOMEM);
				p->buf = nb;
				p->cap = p->len;
			}
			take = p->len - p->got;
			if (take > n - i)
				take = n - i;
			memcpy(p->buf + p->got, in + i, take);
			p->got += take;
			i += take;
			if (p->got == p->len)
				p->state = P_TRAILER;
			break;
		case P_TRAILER:
			if (c != '\n')
				return (CST_ECORRUPT);
			i++;
			if ((rc = emit(p, p->buf)) != 0)
				return (rc);
			break;
		}
	}
	return (0);
}

/* ---- the session ---- */

/* Queues an answer of kind for txnr, sent once durable_next >= need. */
static int
queue(struct relp_sess *s, uint32_t txnr, enum relp_answer kind,
    uint64_t need)
{
	struct relp_pending *nq;
	size_t i, cap;

	if (s->qlen == s->qcap) {
		cap = s->qcap != 0 ? 2 * s->qcap : 16;
		if ((nq = malloc(cap * sizeof(*nq))) == NULL)
			return (CST_ENOMEM);
		for (i = 0; i < s->qlen; i++)
			nq[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = nq;
		s->qcap = cap;
		s->qhead = 0;
	}
	nq = &s->q[(s->qhead + s->qlen) % s->qcap];
	nq->txnr = txnr;
	nq->kind = (uint8_t)kind;
	nq->need = need;
	s->qlen++;
	return (0);
}

static int
put_frame(cst_buf *out, uint32_t txnr, const char *cmd, const char *data)
{
	char hdr[64];
	size_t len = strlen(data);
	int n;

	n = snprintf(hdr, sizeof(hdr), "%u %s %zu%s", txnr, cmd, len,
	    len > 0 ? " " : "");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return (CST_EINVAL);
	if (cst_buf_reserve(out, (size_t)n + len + 1) != 0)
		return (CST_ENOMEM);
	cst_buf_append(out, hdr, (size_t)n);
	cst_buf_append(out, data, len);
	cst_buf_append(out, "\n", 1);
	return (0);
}

/* Moves the answers now due to s->out. */
static int
flush(struct relp_sess *s)
{
	struct relp_pending *e;
	int rc;

	while (s->qlen > 0) {
		e = &s->q[s->qhead];
		if (e->need > s->durable_next)
			break;
		if ((rc = put_frame(&s->out, e->txnr, "rsp",
		    answer_text[e->kind])) != 0)
			return (rc);
		if (e->kind == A_OK)
			s->acked++;
		if (e->kind == A_CLOSE || e->kind == A_OPEN_REFUSED)
			s->state = RELP_S_CLOSED;
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
	}
	return (0);
}

/*
 * Nonzero when the offers in data[0..len) (borrowed) name syslog among
 * the commands.  Offers are lines of NAME=VALUE[,VALUE...].
 */
static int
offers_syslog(const uint8_t *data, size_t len)
{
	static const char key[] = "commands=";
	const uint8_t *line = data, *end = data + len, *eol, *v, *comma;

	while (line < end) {
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		if ((size_t)(eol - line) > sizeof(key) - 1 &&
		    memcmp(line, key, sizeof(key) - 1) == 0) {
			for (v = line + sizeof(key) - 1; v < eol; v = comma + 1) {
				comma = memchr(v, ',', (size_t)(eol - v));
				if (comma == NULL)
					comma = eol;
				if (comma - v == 6 && memcmp(v, "syslog", 6) == 0)
					return (1);
			}
		}
		line = eol + 1;
	}
	return (0);
}

static int
on_frame(void *ctx, const struct relp_frame *f)
{
	struct relp_sess *s = ctx;
	uint64_t seq;
	int rc;

	/* Whatever follows close is not answered: the session is ending. */
	if (s->state >= RELP_S_CLOSING)
		return (0);
	if (f->txnr != s->next_txnr) {
		s->why = "transaction number out of order";
		return (CST_ECORRUPT);
	}
	s->next_txnr = f->txnr == RELP_TXNR_MAX ? 1 : f->txnr + 1;
	if (s->state == RELP_S_NEW) {
		if (strcmp(f->cmd, "open") != 0) {
			s->why = "first command is not open";
			return (CST_ECORRUPT);
		}
		if (!offers_syslog(f->data, f->len)) {
			s->state = RELP_S_CLOSING;
			return (queue(s, f->txnr, A_OPEN_REFUSED, s->last_need));
		}
		s->state = RELP_S_OPEN;
		return (queue(s, f->txnr, A_OPEN, s->last_need));
	}
	if (strcmp(f->cmd, "syslog") == 0) {
		if ((rc = s->ops.message(s->ctx, f->data, f->len, &seq)) != 0) {
			s->why = "cannot record a message";
			return (rc);
		}
		s->last_need = seq + 1;
		return (queue(s, f->txnr, A_OK, s->last_need));
	}
	if (strcmp(f->cmd, "close") == 0) {
		s->state = RELP_S_CLOSING;
		return (queue(s, f->txnr, A_CLOSE, s->last_need));
	}
	if (strcmp(f->cmd, "open") == 0) {
		s->why = "open on an open session";
		return (CST_ECORRUPT);
	}
	return (queue(s, f->txnr, A_UNKNOWN, s->last_need));
}

void
relp_sess_init(struct relp_sess *s, size_t max_data, uint64_t durable_next,
    const struct relp_sess_ops *ops, void *ctx)
{

	memset(s, 0, sizeof(*s));
	relp_parser_init(&s->p, max_data, on_frame, s);
	s->ops = *ops;
	s->ctx = ctx;
	s->state = RELP_S_NEW;
	s->next_txnr = 1;
	s->durable_next = durable_next;
	cst_buf_init(&s->out);
}

void
relp_sess_close(struct relp_sess *s)
{

	relp_parser_close(&s->p);
	free(s->q);
	s->q = NULL;
	s->qcap = s->qlen = s->qhead = 0;
	cst_buf_close(&s->out);
}

int
relp_sess_feed(struct relp_sess *s, const uint8_t *in, size_t n)
{
	int rc;

	if ((rc = relp_parser_feed(&s->p, in, n)) != 0) {
		if (s->why == NULL)
			s->why = rc == CST_ETOOBIG ? "message over the size "
			    "limit" : rc == CST_ECORRUPT ? "not RELP" :
			    cst_strerror(rc);
		return (rc);
	}
	return (flush(s));
}

int
relp_sess_durable(struct relp_sess *s, uint64_t durable_next)
{

	if (durable_next > s->durable_next)
		s->durable_next = durable_next;
	return (flush(s));
}

size_t
relp_sess_unanswered(const struct relp_sess *s)
{

	return (s->qlen);
}

int
relp_sess_serverclose(struct relp_sess *s)
{

	return (put_frame(&s->out, 0, "serverclose", ""));
}
