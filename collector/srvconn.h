/*
 * A connection to one of the daemon's small TCP servers (the health and
 * witness endpoints): its socket and its idle timer, opened together and
 * closed together, once.  As for every libuv handle, the memory holding
 * them may be reused only after the close callback has run for both.
 */
#ifndef CUSTODY_COLLECTOR_SRVCONN_H
#define CUSTODY_COLLECTOR_SRVCONN_H

#include <uv.h>

struct srvconn {
	uv_tcp_t h;
	uv_timer_t timer;
	int handles;          /* handles not yet closed */
	int closing;
};

/*
 * Initialises both handles of sc (borrowed, zeroed) on server's loop,
 * with data (borrowed) as their data, and accepts the pending connection
 * of server into sc->h.  Returns 0 or a libuv error; either way both
 * handles are open and are closed with srvconn_close.
 */
int srvconn_accept(struct srvconn *sc, uv_stream_t *server, void *data);

/*
 * Closes both handles of sc, unless it is already closing; cb runs once
 * for each and counts it off sc->handles.
 */
void srvconn_close(struct srvconn *sc, uv_close_cb cb);

/*
 * Accepts the pending connection of server and closes it at once: for a
 * server that serves no more connections now.  Nothing is left to free.
 */
void srvconn_refuse(uv_stream_t *server);

#endif /* CUSTODY_COLLECTOR_SRVCONN_H */
