/*
 * The control socket (SPEC section 13): readers on this host say that
 * they read the store, and each access is sealed as two access records
 * (R-ACC-2) with the kernel's credentials of the connection (R-CTL-1).
 *
 * Lifecycle: control_open (before any thread starts: it binds a file as
 * the daemon's final user) -> control_start (loop running) ->
 * control_close (the daemon stops: open accesses are ended with a
 * reason, every handle is closed, memory freed in the close callbacks).
 * Loop thread only.  Nothing a peer does blocks the loop (R-CTL-3).
 */
#ifndef CUSTODY_COLLECTOR_CONTROL_H
#define CUSTODY_COLLECTOR_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "batcher.h"

#define CONTROL_ERR_LEN 256
/* R-CTL-2 and R-CTL-3. */
#define CONTROL_LINE_MAX 4096
#define CONTROL_MAX_CONNS 64
#define CONTROL_BEGIN_TIMEOUT_MS 5000
#define CONTROL_SESSION_TIMEOUT_MS (3600 * 1000)

struct control;

struct control_env {
	uv_loop_t *loop;
	struct batcher *batcher;
	/* An access record could not be added (rc): the daemon decides. */
	void (*failed)(void *ctx, int rc);
	void *ctx;
};

/*
 * Binds the unix stream socket path (borrowed), mode 0660, replacing a
 * socket no one listens on; refuses any other file there and a socket a
 * running process answers on.  env is copied.  Returns 0 and *out (to
 * control_close), or CST_EINVAL / CST_EIO / CST_ENOMEM with err set.
 */
int control_open(const struct control_env *env, const char *path,
    struct control **out, char err[CONTROL_ERR_LEN]);

/* Starts accepting.  Returns 0 or CST_EIO with err set. */
int control_start(struct control *c, char err[CONTROL_ERR_LEN]);

/*
 * Ends every open access with reason "custodyd stopped" (records added
 * to the batcher), closes every handle and removes the socket file.
 * Memory is freed once the loop has run the close callbacks.  NULL: no-op.
 */
void control_close(struct control *c);

#endif /* CUSTODY_COLLECTOR_CONTROL_H */
