#include "ctl/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "http/text.h"
#include "io/udp.h"

struct ctl_metrics {
	struct ctl_manager *manager;
	struct http_server *http;
};

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

static void session_sample(struct http_text *t, size_t family, const struct ctl_status *st)
{
	const struct ctl_stats *s = &st->stats;
	const char *name = session_families[family].name;
	const char *kind = ctl_kind_name(st->kind);
	const uint64_t counters[] = { s->packets_received, s->packets_sent, s->bytes_received,
				      s->bytes_sent, s->packets_lost, s->packets_invalid,
				      s->packets_rate_limited };
	const double gauges[] = { s->jitter_ms / 1000, s->latency_ms / 1000, s->rtt_ms / 1000 };
	if (family < 7) {
		http_text_append(t, "%s{session=\"%s\",kind=\"%s\"} %llu\n", name, st->id,
				 kind, (unsigned long long)counters[family]);
	} else if (family < 10) {
		http_text_append(t, "%s{session=\"%s\",kind=\"%s\"} %.9g\n", name, st->id,
				 kind, gauges[family - 7]);
	} else {
		for (int state = CTL_STATE_CREATED; state <= CTL_STATE_CLOSED; state++)
			http_text_append(t, "%s{session=\"%s\",kind=\"%s\",state=\"%s\"} %d\n",
					 name, st->id, kind,
					 ctl_state_name((enum ctl_state)state),
					 (int)st->state == state);
	}
}

static void link_sample(struct http_text *t, size_t family, const struct ctl_status *st,
			const struct ctl_link_status *l)
{
	static const char *const states[] = { "down", "degraded", "healthy" };
	char name[2 * CTL_LINK_NAME_MAX + 4];
	char labels[256];
	http_label_escape(l->name, name, sizeof(name));
	snprintf(labels, sizeof(labels), "session=\"%s\",sender=\"%08x\",link=\"%s\"", st->id,
		 l->session, name);
	const char *metric = link_families[family].name;
	const uint64_t counters[] = { l->packets_received, l->bytes_received };
	const double gauges[] = { l->loss, l->jitter_ms / 1000, l->rtt_ms / 1000 };
	if (family < 2)
		http_text_append(t, "%s{%s} %llu\n", metric, labels,
				 (unsigned long long)counters[family]);
	else if (family < 5)
		http_text_append(t, "%s{%s} %.9g\n", metric, labels, gauges[family - 2]);
	else
		for (size_t k = 0; k < 3; k++)
			http_text_append(t, "%s{%s,state=\"%s\"} %d\n", metric, labels,
					 states[k], strcmp(l->state, states[k]) == 0);
}

struct render {
	struct http_text *t;
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
	struct http_text t = { 0 };
	http_text_append(&t, "# HELP braidd_sessions Sessions braidd holds.\n"
			 "# TYPE braidd_sessions gauge\nbraidd_sessions %zu\n",
			 ctl_manager_count(m));
	/* one family at a time: the format wants each family's samples together */
	for (int links = 0; links < 2; links++) {
		const struct family *families = links ? link_families : session_families;
		size_t count = links ? LINK_FAMILIES : SESSION_FAMILIES;
		for (size_t f = 0; f < count; f++) {
			struct render r = { &t, f, links };
			http_text_append(&t, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
					 families[f].help, families[f].name, families[f].type);
			ctl_manager_foreach(m, render_session, &r);
		}
	}
	return http_text_take(&t, len);
}

/* ---- HTTP ---- */

static void on_request(void *arg, const char *path, struct http_reply *reply)
{
	struct ctl_metrics *s = arg;
	static const char not_found[] = "not found: try /metrics\n";
	if (strcmp(path, "/metrics") != 0) {
		*reply = (struct http_reply){ .status = 404, .body = not_found,
					      .len = strlen(not_found) };
		return;
	}
	reply->owned_body = ctl_metrics_render(s->manager, &reply->len);
	if (!reply->owned_body)
		return; /* out of memory: a 404 rather than half the figures */
	reply->status = 200;
	reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
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
	s->manager = m;
	char why[200];
	s->http = http_server_start(loop, &addr, on_request, s, why, sizeof(why));
	if (!s->http) {
		snprintf(err, err_len, "metrics: %s", why);
		free(s);
		return NULL;
	}
	return s;
}

int ctl_metrics_port(const struct ctl_metrics *s)
{
	return http_server_port(s->http);
}

void ctl_metrics_stop(struct ctl_metrics *s)
{
	if (!s)
		return;
	http_server_stop(s->http);
	free(s);
}
