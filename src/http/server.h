/* An HTTP server on the event loop, by libmicrohttpd: its epoll descriptor sits in the loop
 * and its timeouts are a loop timer, so a handler runs on the loop's thread and reads what
 * lives there without locks. Only GET and HEAD reach a handler; any other method is
 * answered 405. Requests too large or malformed, and connections beyond the limit, are
 * libmicrohttpd's to refuse; their memory is capped per connection. */
#ifndef BRAID_HTTP_SERVER_H
#define BRAID_HTTP_SERVER_H

#include <stddef.h>

#include "braid/addr.h"
#include "io/loop.h"

/* What a handler answers. Left as it is given (status 0), the answer is 404. */
struct http_reply {
	unsigned status;
	const char *content_type;
	const char *body;  /* kept by the caller for the server's lifetime (a constant) */
	char *owned_body;  /* or allocated with malloc: the server frees it */
	size_t len;
};

/* path: the request's path without its query, e.g. "/metrics". */
typedef void (*http_handler_fn)(void *arg, const char *path, struct http_reply *reply);

struct http_server;

/* Listens on addr (port 0: any). On failure returns NULL with the reason in err. */
struct http_server *http_server_start(struct braid_loop *loop, const struct braid_addr *addr,
				      http_handler_fn handler, void *arg, char *err,
				      size_t err_len);
int http_server_port(const struct http_server *s);
void http_server_stop(struct http_server *s);

#endif
