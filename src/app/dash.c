#include "dash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "http/server.h"
#include "http/text.h"
#include "io/udp.h"

/* What a page loaded mid-stream draws at once: five minutes of one-second lines. */
#define HISTORY_LINES 300
#define EVENT_LINES 200
/* A gateway with many sessions writes long lines: the history keeps fewer of them rather
 * than growing without bound. */
#define HISTORY_BYTES (8u << 20)

/* The page, made from dash_page.html at build time (embed.py). */
extern const unsigned char braid_dash_page[];
extern const size_t braid_dash_page_len;

/* The last lines, oldest first from `next` (a ring), at most max_bytes of them. */
struct line_ring {
	char **lines;
	size_t cap, next, count;
	size_t bytes, max_bytes;
};

struct braid_dash {
	struct http_server *http;
	const struct braid_sender *sender;
	const struct braid_receiver *receiver;
	struct line_ring stats, events;
};

static void ring_drop_oldest(struct line_ring *r)
{
	size_t oldest = (r->next + r->cap - r->count) % r->cap;
	r->bytes -= strlen(r->lines[oldest]);
	free(r->lines[oldest]);
	r->lines[oldest] = NULL;
	r->count--;
}

static void ring_push(struct line_ring *r, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	char *copy = malloc(len + 1);
	if (!copy)
		return; /* the page misses one line; the stream goes on */
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (r->count == r->cap)
		ring_drop_oldest(r);
	r->lines[r->next] = copy;
	r->next = (r->next + 1) % r->cap;
	r->count++;
	r->bytes += len;
	while (r->count > 1 && r->bytes > r->max_bytes)
		ring_drop_oldest(r);
}

static const char *ring_at(const struct line_ring *r, size_t i)
{
	return r->lines[(r->next + r->cap - r->count + i) % r->cap];
}

static void ring_free(struct line_ring *r)
{
	for (size_t i = 0; r->lines && i < r->cap; i++)
		free(r->lines[i]);
	free(r->lines);
}

/* The lines as one JSON array: each line is already a JSON object. */
static void reply_array(const struct line_ring *r, struct http_reply *reply)
{
	struct http_text t = { 0 };
	http_text_append_bytes(&t, "[", 1);
	for (size_t i = 0; i < r->count; i++) {
		if (i)
			http_text_append_bytes(&t, ",\n", 2);
		const char *line = ring_at(r, i);
		http_text_append_bytes(&t, line, strlen(line));
	}
	http_text_append_bytes(&t, "]\n", 2);
	reply->owned_body = http_text_take(&t, &reply->len);
	reply->status = reply->owned_body ? 200 : 0;
	reply->content_type = "application/json";
}

static void reply_latest(const struct line_ring *r, struct http_reply *reply)
{
	static const char none[] = "null\n";
	const char *line = r->count ? ring_at(r, r->count - 1) : none;
	reply->owned_body = strdup(line);
	reply->len = reply->owned_body ? strlen(line) : 0;
	reply->status = reply->owned_body ? 200 : 0;
	reply->content_type = "application/json";
}

static void reply_metrics(const struct braid_dash *d, struct http_reply *reply)
{
	if (d->sender)
		reply->owned_body = braid_dash_metrics_sender(d->sender, &reply->len);
	else if (d->receiver)
		reply->owned_body = braid_dash_metrics_receiver(d->receiver, &reply->len);
	reply->status = reply->owned_body ? 200 : 0;
	reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void on_request(void *arg, const char *path, struct http_reply *reply)
{
	struct braid_dash *d = arg;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		*reply = (struct http_reply){ .status = 200, .body = (const char *)braid_dash_page,
					      .len = braid_dash_page_len,
					      .content_type = "text/html; charset=utf-8" };
	} else if (strcmp(path, "/stats.json") == 0) {
		reply_latest(&d->stats, reply);
	} else if (strcmp(path, "/history.json") == 0) {
		reply_array(&d->stats, reply);
	} else if (strcmp(path, "/events.json") == 0) {
		reply_array(&d->events, reply);
	} else if (strcmp(path, "/metrics") == 0) {
		reply_metrics(d, reply);
	}
}

void braid_dash_parse_listen(const char *cmd, const char *value, struct braid_addr *out)
{
	/* a port is required: "8080" alone would mean loopback, a surprise on a gateway */
	if (!strchr(value, ':') || braid_addr_parse(value, 0, out) < 0)
		braid_cli_usage_error(cmd, "--http: '%s' is not ADDR:PORT", value);
}

struct braid_dash *braid_dash_start(struct braid_loop *loop, const struct braid_addr *addr,
				    char *err, size_t err_len)
{
	struct braid_dash *d = calloc(1, sizeof(*d));
	if (d) {
		d->stats = (struct line_ring){ .lines = calloc(HISTORY_LINES, sizeof(char *)),
					       .cap = HISTORY_LINES, .max_bytes = HISTORY_BYTES };
		d->events = (struct line_ring){ .lines = calloc(EVENT_LINES, sizeof(char *)),
						.cap = EVENT_LINES, .max_bytes = HISTORY_BYTES };
	}
	if (!d || !d->stats.lines || !d->events.lines) {
		snprintf(err, err_len, "out of memory");
		braid_dash_stop(d);
		return NULL;
	}
	d->http = http_server_start(loop, addr, on_request, d, err, err_len);
	if (!d->http) {
		braid_dash_stop(d);
		return NULL;
	}
	return d;
}

/* The address with the port the server got (port 0 asks for any). */
static struct braid_addr bound_addr(const struct braid_addr *addr, int port)
{
	struct braid_addr a = *addr;
	if (a.u.sa.sa_family == AF_INET6)
		a.u.in6.sin6_port = htons((uint16_t)port);
	else
		a.u.in4.sin_port = htons((uint16_t)port);
	return a;
}

struct braid_dash *braid_dash_open(struct braid_loop *loop, const struct braid_addr *addr,
				   const char *cmd, braid_report_tap_fn *tap, void **tap_arg)
{
	char err[200], a[64];
	struct braid_dash *d = braid_dash_start(loop, addr, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "braid %s: --http: %s\n", cmd, err);
		return NULL;
	}
	*tap = braid_dash_tap;
	*tap_arg = d;
	struct braid_addr shown = bound_addr(addr, braid_dash_port(d));
	fprintf(stderr, "braid %s: dashboard at http://%s/ (Prometheus at /metrics)\n", cmd,
		braid_addr_format(&shown, a, sizeof(a)));
	return d;
}

void braid_dash_watch_sender(struct braid_dash *d, const struct braid_sender *s)
{
	if (d)
		d->sender = s;
}

void braid_dash_watch_receiver(struct braid_dash *d, const struct braid_receiver *rx)
{
	if (d)
		d->receiver = rx;
}

void braid_dash_tap(void *arg, const char *line, size_t len, bool event)
{
	struct braid_dash *d = arg;
	ring_push(event ? &d->events : &d->stats, line, len);
}

int braid_dash_port(const struct braid_dash *d)
{
	return http_server_port(d->http);
}

void braid_dash_stop(struct braid_dash *d)
{
	if (!d)
		return;
	http_server_stop(d->http);
	ring_free(&d->stats);
	ring_free(&d->events);
	free(d);
}
