/*
 * Dropping root (privdrop.h).  The temporary switch uses the effective
 * ids only (setegid/seteuid), so the real and saved ids stay root and
 * privdrop_regain can take it back; the final one sets all three and the
 * supplementary groups, after which the kernel refuses any way back.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"

#include "log.h"
#include "privdrop.h"

/* The reason for a failure, into err (PRIVDROP_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, PRIVDROP_ERR_LEN, __VA_ARGS__)

/* Looks name (borrowed) up into p. */
static int
lookup(const char *name, struct privdrop *p, char *err)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		seterr(err, "server.user: no user %s%s%s", name,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return (CST_ENOENT);
	}
	if (pw->pw_uid == 0) {
		seterr(err, "server.user: %s is root; name an unprivileged "
		    "user, or set server.allow_root = yes instead", name);
		return (CST_EPERM);
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	return (0);
}

int
privdrop_begin(const struct conf *c, struct privdrop *p,
    char err[PRIVDROP_ERR_LEN])
{
	struct stat sb;
	int rc;

	memset(p, 0, sizeof(*p));
	err[0] = '\0';
	if (geteuid() != 0) {
		if (c->user != NULL && lookup(c->user, p, err) == 0 &&
		    p->uid != geteuid())
			log_warn("server.user = %s ignored: not started as root "
			    "(running as uid %lu)", c->user,
			    (unsigned long)geteuid());
		memset(p, 0, sizeof(*p));
		return (0);
	}
	if (c->user == NULL) {
		if (c->allow_root) {
			log_warn("running as root (server.allow_root = yes)");
			return (0);
		}
		seterr(err, "started as root: set server.user = NAME to run as "
		    "NAME once the listeners are bound (NAME must own the "
		    "store), or server.allow_root = yes to stay root");
		return (CST_EPERM);
	}
	if ((rc = lookup(c->user, p, err)) != 0)
		return (rc);
	/* A store of root's (or anyone else's) would fail part-way: say so now. */
	if (stat(c->data_dir, &sb) == 0 && sb.st_uid != p->uid) {
		seterr(err, "%s belongs to uid %lu, but custodyd runs as %s "
		    "(uid %lu), which must own its store: chown -R %s %s",
		    c->data_dir, (unsigned long)sb.st_uid, p->name,
		    (unsigned long)p->uid, p->name, c->data_dir);
		return (CST_EPERM);
	}
	if (setgroups(1, &p->gid) != 0 || setegid(p->gid) != 0 ||
	    seteuid(p->uid) != 0) {
		seterr(err, "cannot become %s: %s", p->name, strerror(errno));
		return (CST_EIO);
	}
	p->active = 1;
	return (0);
}

int
privdrop_regain(const struct privdrop *p, char err[PRIVDROP_ERR_LEN])
{

	if (!p->active)
		return (0);
	if (seteuid(0) != 0 || setegid(0) != 0) {
		seterr(err, "cannot take root back to bind: %s",
		    strerror(errno));
		return (CST_EIO);
	}
	return (0);
}

int
privdrop_finish(const struct privdrop *p, char err[PRIVDROP_ERR_LEN])
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!p->active)
		return (0);
	if (setgroups(1, &p->gid) != 0 || setresgid(p->gid, p->gid,
	    p->gid) != 0 || setresuid(p->uid, p->uid, p->uid) != 0) {
		seterr(err, "cannot become %s: %s", p->name, strerror(errno));
		return (CST_EIO);
	}
	/* The kernel must now refuse the way back. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 ||
	    getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid ||
	    eg != p->gid || sg != p->gid) {
		seterr(err, "root could be taken back after becoming %s",
		    p->name);
		return (CST_EIO);
	}
	return (0);
}
