#include "ctl/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "io/udp.h"

#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct ctl_metrics {
	struct braid_loop *loop;
	struct ctl_manager *manager;
	struct MHD_Daemon *daemon;
	int epoll_fd;
	struct braid_timer timer;
};

/* ---- the text ---- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct text *t, const char *fmt, ...)
{
	for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
		} else if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		} else {
			size_t cap = (t->cap + (size_t)n) * 2;
			char *grown = realloc(t->buf, cap);
			if (!grown)
				t->failed = true;
			else {
				t->buf = grown;
				t->cap = cap;
			}
		}
	}
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 3 < cap; in++) {
		char c = *in;
		if (c == '\\' || c == '"' || c == '\n') {
			out[o++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

struct family {
	const char *name, *type, *help;
};

static const struct family session_families[] = {
	{ "braidd_session_packets_received_total", "counter", "Datagrams received, both ways." },
	{ "braidd_session_packets_sent_total", "counter", "Datagrams sent, both ways." },
	{ "braidd_session_bytes_received_total", "counter", "Bytes received, both ways." },
	{ "braidd_session_bytes_sent_total", "counter", "Bytes sent, both ways." },
	{ "braidd_session_packets_lost_total", "counter", "Packets of the stream lost." },
	{ "braidd_session_packets_invalid_total", "counter", "Datagrams dropped as invalid." },
	{ "braidd_session_packets_rate_limited_total", "counter",
	  "Datagrams dropped over the session's rate limits." },
	{ "braidd_session_jitter_seconds", "gauge", "Interarrival jitter of the stream." },
	{ "braidd_session_latency_seconds", "gauge", "Time a packet spends inside braidd." },
	{ "braidd_session_rtt_seconds", "gauge", "Round trip from RTCP reports." },
	{ "braidd_session_state", "gauge", "1 for the state the session is in." },
};
#define SESSION_FAMILIES (sizeof(session_families) / sizeof(session_families[0]))

static const struct family link_families[] = {
	{ "braidd_link_packets_received_total", "counter", "Datagrams received on the link." },
	{ "braidd_link_bytes_received_total", "counter", "Bytes received on the link." },
	{ "braidd_link_loss_ratio", "gauge", "Loss over the link's recent window." },
	{ "braidd_link_jitter_seconds", "gauge", "Interarrival jitter on the link." },
	{ "braidd_link_rtt_seconds", "gauge", "Round trip of the link (0 where not measured)." },
	{ "braidd_link_state", "gauge", "1 for the state the link is in." },
};
#define LINK_FAMILIES (sizeof(link_families) / sizeof(link_families[0]))

static void session_sample(struct text *t, size_t family, const struct ctl_status *st)
{
	const struct ctl_stats *s = &st->stats;
	const char *name = session_families[family].name;
	const char *kind = ctl_kind_name(st->kind);
	const uint64_t counters[] = { s->packets_received, s->packets_sent, s->bytes_received,
				      s->bytes_sent, s->packets_lost, s->packets_invalid,
				      s->packets_rate_limited };
	const double gauges[] = { s->jitter_ms / 1000, s->latency_ms / 1000, s->rtt_ms / 1000 };
	if (family < 7) {
		append(t, "%s{session=\"%s\",kind=\"%s\"} %llu\n", name, st->id, kind,
		       (unsigned long long)counters[family]);
	} else if (family < 10) {
		append(t, "%s{session=\"%s\",kind=\"%s\"} %.9g\n", name, st->id, kind,
		       gauges[family - 7]);
	} else {
		for (int state = CTL_STATE_CREATED; state <= CTL_STATE_CLOSED; state++)
			append(t, "%s{session=\"%s\",kind=\"%s\",state=\"%s\"} %d\n", name, st->id,
			       kind, ctl_state_name((enum ctl_state)state), (int)st->state == state);
	}
}

static void link_sample(struct text *t, size_t family, const struct ctl_status *st,
			const struct ctl_link_status *l)
{
	static const char *const states[] = { "down", "degraded", "healthy" };
	char name[2 * CTL_LINK_NAME_MAX + 4];
	char labels[256];
	escape(l->name, name, sizeof(name));
	snprintf(labels, sizeof(labels), "session=\"%s\",sender=\"%08x\",link=\"%s\"", st->id,
		 l->session, name);
	const char *metric = link_families[family].name;
	const uint64_t counters[] = { l->packets_received, l->bytes_received };
	const double gauges[] = { l->loss, l->jitter_ms / 1000, l->rtt_ms / 1000 };
	if (family < 2)
		append(t, "%s{%s} %llu\n", metric, labels, (unsigned long long)counters[family]);
	else if (family < 5)
		append(t, "%s{%s} %.9g\n", metric, labels, gauges[family - 2]);
	else
		for (size_t k = 0; k < 3; k++)
			append(t, "%s{%s,state=\"%s\"} %d\n", metric, labels, states[k],
			       strcmp(l->state, states[k]) == 0);
}

struct render {
	struct text *t;
	size_t family;
	bool links;
};

static void render_session(void *arg, const struct ctl_status *st)
{
	struct render *r = arg;
	if (!r->links) {
		session_sample(r->t, r->family, st);
		return;
	}
	for (size_t i = 0; i < st->link_count; i++)
		link_sample(r->t, r->family, st, &st->links[i]);
}

char *ctl_metrics_render(struct ctl_manager *m, size_t *len)
{
	struct text t = { .buf = malloc(4096), .cap = 4096 };
	if (!t.buf)
		return NULL;
	t.buf[0] = '\0';
	append(&t, "# HELP braidd_sessions Sessions braidd holds.\n# TYPE braidd_sessions gauge\n"
		   "braidd_sessions %zu\n", ctl_manager_count(m));
	/* one family at a time: the format wants each family's samples together */
	for (int links = 0; links < 2; links++) {
		const struct family *families = links ? link_families : session_families;
		size_t count = links ? LINK_FAMILIES : SESSION_FAMILIES;
		for (size_t f = 0; f < count; f++) {
			struct render r = { &t, f, links };
			append(&t, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
			       families[f].name, families[f].type);
			ctl_manager_foreach(m, render_session, &r);
		}
	}
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", code == 200 ?
				"text/plain; version=0.0.4; charset=utf-8" : "text/plain");
	enum MHD_Result r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **state)
{
	struct ctl_metrics *s = cls;
	static char not_found[] = "not found: try /metrics\n";
	static char not_allowed[] = "GET only\n";
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, not_allowed, strlen(not_allowed), MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, 404, not_found, strlen(not_found), MHD_RESPMEM_PERSISTENT);
	size_t len;
	char *body = ctl_metrics_render(s->manager, &len);
	if (!body)
		return MHD_NO;
	return reply(conn, 200, body, len, MHD_RESPMEM_MUST_FREE);
}

static void rearm(struct ctl_metrics *s)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(s->daemon, &ms) == MHD_YES)
		braid_timer_start(s->loop, &s->timer, braid_loop_now(s->loop) + ms * 1000);
	else
		braid_timer_stop(s->loop, &s->timer);
}

static void on_ready(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_metrics *s = arg;
	(void)loop;
	(void)fd;
	(void)events;
	MHD_run(s->daemon);
	rearm(s);
}

static void on_timer(struct braid_loop *loop, void *arg)
{
	on_ready(loop, -1, 0, arg);
}

struct ctl_metrics *ctl_metrics_start(struct braid_loop *loop, struct ctl_manager *m,
				      const char *listen, char *err, size_t err_len)
{
	struct braid_addr addr;
	if (braid_addr_parse(listen, 0, &addr) < 0) {
		snprintf(err, err_len, "metrics: '%s' is not ADDR:PORT", listen);
		return NULL;
	}
	struct ctl_metrics *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->manager = m;
	braid_timer_init(&s->timer, on_timer, s);
	unsigned flags = MHD_USE_EPOLL | (addr.u.sa.sa_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(flags, braid_addr_port(&addr), NULL, NULL, on_request, s,
				     MHD_OPTION_SOCK_ADDR, &addr.u.sa,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	const union MHD_DaemonInfo *info = s->daemon ?
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info || braid_loop_add_fd(loop, info->epoll_fd, EPOLLIN, on_ready, s) < 0) {
		snprintf(err, err_len, "cannot serve metrics on %s (in use, or not an address of "
			 "this host)", listen);
		ctl_metrics_stop(s);
		return NULL;
	}
	s->epoll_fd = info->epoll_fd;
	rearm(s);
	return s;
}

int ctl_metrics_port(const struct ctl_metrics *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon,
								MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : -1;
}

void ctl_metrics_stop(struct ctl_metrics *s)
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
