/*
 * --nats: chains restored from JetStream into a private temporary
 * directory that does not outlive the program (natsfetch.h).
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natsfetch.h"
#include "natsstore.h"

/* The directory to remove, for atexit and the signal thread. */
static char tmpdir[4096];
static pthread_mutex_t tmp_mu = PTHREAD_MUTEX_INITIALIZER;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{

	(void)st;
	(void)ftw;
	/* Best effort, to the end: what cannot go is left, not fatal. */
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return (0);
}

static void
remove_tmp(void)
{

	pthread_mutex_lock(&tmp_mu);
	if (tmpdir[0] != '\0') {
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		tmpdir[0] = '\0';
	}
	pthread_mutex_unlock(&tmp_mu);
}

/* Waits for a stopping signal: removes the directory, then exits 2. */
static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;

	if (sigwait(set, &sig) == 0) {
		remove_tmp();
		fprintf(stderr, "stopped by signal %d: the stores read from "
		    "NATS were removed\n", sig);
		_exit(2);
	}
	return (NULL);
}

static int
hexchain(const char *s, char out[33])
{
	size_t i;

	if (strlen(s) != 32)
		return (-1);
	for (i = 0; i < 32; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			out[i] = s[i];
		else if (s[i] >= 'a' && s[i] <= 'f')
			out[i] = s[i];
		else if (s[i] >= 'A' && s[i] <= 'F')
			out[i] = (char)(s[i] - 'A' + 'a');
		else
			return (-1);
	}
	out[32] = '\0';
	return (0);
}

int
natsfetch_option(struct natsfetch_opts *o, const char *name, const char *arg,
    const char *prog)
{
	const char **c;
	char hex[33];

	if (strcmp(name, "nats") == 0) {
		o->ns.servers = arg;
	} else if (strcmp(name, "chain") == 0) {
		if (hexchain(arg, hex) != 0) {
			fprintf(stderr, "%s: --chain takes a chain id, 32 hex "
			    "digits: '%s'\n", prog, arg);
			return (-1);
		}
		if ((c = realloc(o->chains, (o->nchains + 1) *
		    sizeof(*c))) == NULL) {
			fprintf(stderr, "%s: %s\n", prog, strerror(errno));
			return (-1);
		}
		o->chains = c;
		o->chains[o->nchains++] = arg;
	} else if (strcmp(name, "stream") == 0) {
		o->ns.stream = arg;
	} else if (strcmp(name, "creds") == 0) {
		o->ns.creds = arg;
	} else if (strcmp(name, "tls-cert") == 0) {
		o->ns.tls_cert = arg;
	} else if (strcmp(name, "tls-key") == 0) {
		o->ns.tls_key = arg;
	} else if (strcmp(name, "tls-ca") == 0) {
		o->ns.tls_ca = arg;
	} else {
		fprintf(stderr, "%s: --%s is not a --nats option\n", prog,
		    name);
		return (-1);
	}
	return (0);
}

/* The private directory and what removes it. */
static int
make_tmp(char *err, size_t len)
{
	static sigset_t set;
	const char *base = getenv("TMPDIR");
	pthread_t t;
	char path[4096];

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (snprintf(path, sizeof(path), "%s/custody-nats.XXXXXX", base) >=
	    (int)sizeof(path)) {
		snprintf(err, len, "TMPDIR %s: %s", base,
		    strerror(ENAMETOOLONG));
		return (-1);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if ((errno = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0 ||
	    (errno = pthread_create(&t, NULL, signal_thread, &set)) != 0) {
		snprintf(err, len, "cannot watch for signals: %s",
		    strerror(errno));
		return (-1);
	}
	pthread_detach(t);
	/* mkdtemp makes it 0700: no other user reads the evidence. */
	if (mkdtemp(path) == NULL) {
		snprintf(err, len, "cannot make a private directory under %s "
		    "(set TMPDIR): %s", base, strerror(errno));
		return (-1);
	}
	pthread_mutex_lock(&tmp_mu);
	snprintf(tmpdir, sizeof(tmpdir), "%s", path);
	pthread_mutex_unlock(&tmp_mu);
	if (atexit(remove_tmp) != 0) {
		remove_tmp();
		snprintf(err, len, "atexit failed");
		return (-1);
	}
	return (0);
}

int
natsfetch_begin(const struct natsfetch_opts *o, struct natsfetch **out,
    char *err, size_t len)
{
	struct natsstore_opts so = o->ns;
	struct natsstore *ns = NULL;
	struct natsfetch *f;
	char e[NATSSTORE_ERR_LEN], (*all)[33] = NULL;
	size_t i, n;

	*out = NULL;
	if (o->ns.tls_key != NULL && o->ns.tls_cert == NULL) {
		snprintf(err, len, "--tls-key needs --tls-cert");
		return (-1);
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, len, "%s", strerror(errno));
		return (-1);
	}
	if (make_tmp(err, len) != 0)
		goto fail;
	if ((f->tmp = strdup(tmpdir)) == NULL ||
	    asprintf(&f->origin, "NATS stream %s at %s", so.stream != NULL ?
	    so.stream : "CUSTODY", so.servers) < 0) {
		f->origin = NULL;
		snprintf(err, len, "%s", strerror(ENOMEM));
		goto fail;
	}
	so.keep_conflicts = 1;
	if (natsstore_open(&so, &ns, e) != 0) {
		snprintf(err, len, "%s", e);
		goto fail;
	}
	if (o->nchains == 0) {
		if (natsstore_chains(ns, &all, &n, e) != 0) {
			snprintf(err, len, "%s", e);
			goto fail;
		}
		if (n == 0) {
			snprintf(err, len, "%s holds no chain", f->origin);
			goto fail;
		}
	} else {
		n = o->nchains;
	}
	if ((f->c = calloc(n, sizeof(*f->c))) == NULL) {
		snprintf(err, len, "%s", strerror(ENOMEM));
		goto fail;
	}
	f->n = n;
	for (i = 0; i < n; i++) {
		struct natsfetch_chain *c = &f->c[i];

		if (all != NULL)
			memcpy(c->chain, all[i], 33);
		else
			(void)hexchain(o->chains[i], c->chain);
		if (asprintf(&c->dir, "%s/%s", f->tmp, c->chain) < 0) {
			c->dir = NULL;
			snprintf(err, len, "%s", strerror(ENOMEM));
			goto fail;
		}
		c->ok = natsstore_restore(ns, c->chain, c->dir, &c->res,
		    c->err) == 0;
	}
	free(all);
	natsstore_close(ns);
	*out = f;
	return (0);

fail:
	free(all);
	natsstore_close(ns);
	natsfetch_free(f);
	return (-1);
}

char *
natsfetch_origin(const struct natsfetch *f, const struct natsfetch_chain *c)
{
	char *s;

	if (asprintf(&s, "read from %s (stream last sequence %" PRIu64
	    "), restored into a private temporary directory, removed after",
	    f->origin, c->res.stream_last_seq) < 0)
		return (NULL);
	return (s);
}

void
natsfetch_free(struct natsfetch *f)
{
	size_t i;

	remove_tmp();
	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->c[i].dir);
		natsstore_result_close(&f->c[i].res);
	}
	free(f->c);
	free(f->tmp);
	free(f->origin);
	free(f);
}
