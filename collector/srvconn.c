/*
 * A served connection's two handles (srvconn.h).
 */
#include <stdlib.h>

#include <uv.h>

#include "srvconn.h"

int
srvconn_accept(struct srvconn *sc, uv_stream_t *server, void *data)
{

	uv_tcp_init(server->loop, &sc->h);
	uv_timer_init(server->loop, &sc->timer);
	sc->h.data = data;
	sc->timer.data = data;
	sc->handles = 2;
	return (uv_accept(server, (uv_stream_t *)&sc->h));
}

void
srvconn_close(struct srvconn *sc, uv_close_cb cb)
{

	if (sc->closing)
		return;
	sc->closing = 1;
	uv_close((uv_handle_t *)&sc->h, cb);
	uv_close((uv_handle_t *)&sc->timer, cb);
}

static void
refused_closed(uv_handle_t *h)
{

	free(h);
}

void
srvconn_refuse(uv_stream_t *server)
{
	uv_tcp_t *t;

	if ((t = malloc(sizeof(*t))) == NULL)
		return;
	uv_tcp_init(server->loop, t);
	uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, refused_closed);
}
