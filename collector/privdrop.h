/*
 * Running as root only while root is needed (OpenBSD syslogd's rule:
 * privilege only ever moves toward less).  Started as root with
 * server.user = NAME, custodyd
 *
 *   privdrop_begin    takes NAME's identity as its effective one (root
 *                     stays the real and saved one): the store is opened,
 *                     recovered and its keys loaded as NAME, so every file
 *                     it makes is NAME's and a store NAME cannot write
 *                     fails now, not at the first rotation;
 *   privdrop_regain   takes root back as the effective identity, to bind
 *                     the listeners (ports below 1024, /run paths);
 *   privdrop_finish   gives root up for good (groups, gid, uid) and checks
 *                     that it cannot be taken back.
 *
 * Everything happens before any thread starts.  Started as root without
 * a user, custodyd refuses unless server.allow_root = yes; not started as
 * root (systemd's User=), nothing changes.
 */
#ifndef CUSTODY_COLLECTOR_PRIVDROP_H
#define CUSTODY_COLLECTOR_PRIVDROP_H

#include <sys/types.h>

#include "conf.h"

#define PRIVDROP_ERR_LEN 512

struct privdrop {
	int active;          /* started as root with a user: dropping */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/*
 * Decides from c (borrowed) and the process's identity, and when
 * dropping, checks that c's data_dir (if it exists) belongs to the user
 * and takes the user's identity as the effective one.  Returns 0, or
 * CST_EPERM (root without user or allow_root; a store of someone else),
 * CST_ENOENT (no such user) or CST_EIO, with a message in err.
 */
int privdrop_begin(const struct conf *c, struct privdrop *p,
    char err[PRIVDROP_ERR_LEN]);

/* Effective root again, to bind (p borrowed).  0 or CST_EIO in err. */
int privdrop_regain(const struct privdrop *p, char err[PRIVDROP_ERR_LEN]);

/*
 * Gives root up for good and verifies that setuid(0) now fails.  A no-op
 * when p is not active.  Returns 0 or CST_EIO with a message in err: the
 * caller must then stop.
 */
int privdrop_finish(const struct privdrop *p, char err[PRIVDROP_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_PRIVDROP_H */
