#include "http/server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "io/udp.h"

/* A dashboard or a scraper needs a few connections; beyond the limit clients wait in the
 * listen queue. libmicrohttpd may miss a client's close that comes right behind a partial
 * request (its edge-triggered reads stop short of the end of file), so such a connection
 * holds its slot until it times out: room to spare, and a short idle timeout (a page
 * polls every second and keeps its connection). */
#define MAX_CONNECTIONS 32
#define CONNECTION_TIMEOUT_S 5
/* A request's headers must fit here; libmicrohttpd answers a larger one 431. */
#define CONNECTION_MEMORY 16384

struct http_server {
	struct braid_loop *loop;
	struct MHD_Daemon *daemon;
	http_handler_fn handler;
	void *arg;
	int epoll_fd;
	struct braid_timer timer;
};

static enum MHD_Result send_reply(struct MHD_Connection *conn, const struct http_reply *r)
{
	struct MHD_Response *resp;
	if (r->owned_body)
		resp = MHD_create_response_from_buffer(r->len, r->owned_body,
						       MHD_RESPMEM_MUST_FREE);
	else /* PERSISTENT: libmicrohttpd only reads the buffer, its API just lacks const */
		resp = MHD_create_response_from_buffer(r->len, (void *)(uintptr_t)r->body,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->owned_body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type :
				"text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result result = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return result;
}

static void constant_reply(struct http_reply *r, unsigned status, const char *text)
{
	*r = (struct http_reply){ .status = status, .body = text, .len = strlen(text) };
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **state)
{
	struct http_server *s = cls;
	struct http_reply reply = { 0 };
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		constant_reply(&reply, 405, "GET only\n");
		return send_reply(conn, &reply);
	}
	s->handler(s->arg, url, &reply);
	if (reply.status == 0) {
		free(reply.owned_body);
		constant_reply(&reply, 404, "not found\n");
	}
	return send_reply(conn, &reply);
}

static void rearm(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(s->daemon, &ms) == MHD_YES)
		braid_timer_start(s->loop, &s->timer, braid_loop_now(s->loop) + ms * 1000);
	else
		braid_timer_stop(s->loop, &s->timer);
}

static unsigned connections(const struct http_server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(
		s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

/* At its connection limit libmicrohttpd takes the listening socket out of its epoll set,
 * and puts it back only at the start of a later run, once connections have gone: nothing
 * would wake that run while clients wait to be accepted. So while a run changes the
 * number of connections, it runs again. */
#define MAX_RUNS 8

static void on_ready(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct http_server *s = arg;
	(void)loop;
	(void)fd;
	(void)events;
	for (int run = 0; run < MAX_RUNS; run++) {
		unsigned before = connections(s);
		MHD_run(s->daemon);
		if (connections(s) == before)
			break;
	}
	rearm(s);
}

static void on_timer(struct braid_loop *loop, void *arg)
{
	on_ready(loop, -1, 0, arg);
}

struct http_server *http_server_start(struct braid_loop *loop, const struct braid_addr *addr,
				      http_handler_fn handler, void *arg, char *err,
				      size_t err_len)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->handler = handler;
	s->arg = arg;
	braid_timer_init(&s->timer, on_timer, s);
	unsigned flags = MHD_USE_EPOLL | (addr->u.sa.sa_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(flags, braid_addr_port(addr), NULL, NULL, on_request, s,
				     MHD_OPTION_SOCK_ADDR, &addr->u.sa,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				     MHD_OPTION_END);
	const union MHD_DaemonInfo *info = s->daemon ?
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info || braid_loop_add_fd(loop, info->epoll_fd, EPOLLIN, on_ready, s) < 0) {
		char a[64];
		snprintf(err, err_len, "cannot serve HTTP on %s (in use, or not an address of "
			 "this host)", braid_addr_format(addr, a, sizeof(a)));
		http_server_stop(s);
		return NULL;
	}
	s->epoll_fd = info->epoll_fd;
	rearm(s);
	return s;
}

int http_server_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon,
								MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : -1;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	braid_timer_stop(s->loop, &s->timer);
	if (s->daemon) {
		if (s->epoll_fd > 0)
			braid_loop_del_fd(s->loop, s->epoll_fd);
		MHD_stop_daemon(s->daemon);
	}
	free(s);
}
