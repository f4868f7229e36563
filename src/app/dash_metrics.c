/* braid send's and braid recv's figures in the Prometheus text format: totals, then one
 * sample per link of each family (the format wants a family's samples together). Names
 * start braid_send_ or braid_recv_ so one Prometheus can scrape both ends. */
#include "dash.h"

#include <stdio.h>
#include <stdlib.h>

#include "http/text.h"
#include "report.h"

/* Sessions shown at most; a gateway with more leaves the rest out of /metrics. */
#define MAX_SESSIONS 64

struct total {
	const char *name, *help;
	bool counter;
	double value;
};

static void write_totals(struct http_text *t, const char *role, const struct total *totals,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *type = totals[i].counter ? "counter" : "gauge";
		http_text_append(t, "# HELP braid_%s_%s %s\n# TYPE braid_%s_%s %s\nbraid_%s_%s %.17g\n",
				 role, totals[i].name, totals[i].help, role, totals[i].name, type,
				 role, totals[i].name, totals[i].value);
	}
}

enum link_field {
	PACKETS_SENT, BYTES_SENT, PACKETS_RECEIVED, BYTES_RECEIVED, DOWN_EVENTS,
	RTT, LOSS, JITTER, STATE, LINK_FIELDS
};

static const struct {
	const char *name, *type, *help;
} link_families[LINK_FIELDS] = {
	[PACKETS_SENT] = { "link_packets_sent_total", "counter", "Datagrams sent on the link." },
	[BYTES_SENT] = { "link_bytes_sent_total", "counter", "Bytes sent on the link." },
	[PACKETS_RECEIVED] = { "link_packets_received_total", "counter",
			       "Datagrams received on the link." },
	[BYTES_RECEIVED] = { "link_bytes_received_total", "counter",
			     "Bytes received on the link." },
	[DOWN_EVENTS] = { "link_down_events_total", "counter",
			  "Times the link went from live to down." },
	[RTT] = { "link_rtt_seconds", "gauge", "Smoothed round trip of the link." },
	[LOSS] = { "link_loss_ratio", "gauge", "Loss over the link's recent window." },
	[JITTER] = { "link_jitter_seconds", "gauge", "Interarrival jitter on the link." },
	[STATE] = { "link_state", "gauge", "1 for the state the link is in." },
};

/* A link with the session it belongs to (the receiver's; 0 at the sender). */
struct session_link {
	uint32_t session;
	struct braid_link_stats stats;
};

static double link_value(const struct braid_link_stats *l, enum link_field f)
{
	switch (f) {
	case PACKETS_SENT: return (double)l->packets_sent;
	case BYTES_SENT: return (double)l->bytes_sent;
	case PACKETS_RECEIVED: return (double)l->packets_received;
	case BYTES_RECEIVED: return (double)l->bytes_received;
	case DOWN_EVENTS: return l->down_events;
	case RTT: return l->rtt_ms / 1000;
	case LOSS: return l->loss;
	case JITTER: return l->jitter_ms / 1000;
	default: return 0;
	}
}

static void write_link_sample(struct http_text *t, const char *role, enum link_field f,
			      const struct session_link *sl, bool with_session)
{
	char name[2 * BRAID_LINK_NAME_MAX + 4], labels[192];
	http_label_escape(sl->stats.name, name, sizeof(name));
	if (with_session)
		snprintf(labels, sizeof(labels), "session=\"%08x\",link=\"%s\"", sl->session, name);
	else
		snprintf(labels, sizeof(labels), "link=\"%s\"", name);
	const char *metric = link_families[f].name;
	if (f != STATE) {
		http_text_append(t, "braid_%s_%s{%s} %.17g\n", role, metric, labels,
				 link_value(&sl->stats, f));
		return;
	}
	for (int s = BRAID_LINK_DOWN; s <= BRAID_LINK_HEALTHY; s++)
		http_text_append(t, "braid_%s_%s{%s,state=\"%s\"} %d\n", role, metric, labels,
				 braid_link_state_name((enum braid_link_state)s),
				 (int)sl->stats.state == s);
}

static void write_links(struct http_text *t, const char *role, const struct session_link *links,
			size_t n, bool with_session)
{
	for (int f = 0; f < LINK_FIELDS; f++) {
		http_text_append(t, "# HELP braid_%s_%s %s\n# TYPE braid_%s_%s %s\n", role,
				 link_families[f].name, link_families[f].help, role,
				 link_families[f].name, link_families[f].type);
		for (size_t i = 0; i < n; i++)
			write_link_sample(t, role, (enum link_field)f, &links[i], with_session);
	}
}

char *braid_dash_metrics_sender(const struct braid_sender *s, size_t *len)
{
	struct braid_sender_stats st;
	braid_sender_get_stats(s, &st);
	const struct total totals[] = {
		{ "packets_in_total", "Packets from the encoder.", true, (double)st.packets_in },
		{ "bytes_in_total", "Bytes from the encoder.", true, (double)st.bytes_in },
		{ "packets_out_total", "Data datagrams sent, all links.", true,
		  (double)st.packets_out },
		{ "bytes_out_total", "Data bytes sent, all links.", true, (double)st.bytes_out },
		{ "retransmitted_total", "Resends: asked for, failover and timeout.", true,
		  (double)st.retransmitted },
		{ "nacked_total", "Sequence numbers the receiver asked for.", true,
		  (double)st.nacked },
		{ "failovers_total", "Links that went down with packets in flight.", true,
		  st.failovers },
		{ "not_sent_total", "Media or resends given up (budget, too late, queues full).",
		  true, (double)(st.resend_over_budget + st.resend_undeliverable + st.expired +
				 st.undeliverable + st.tx_queue_drops + st.pacer_drops) },
		{ "dropped_total", "Datagrams dropped on arrival, every cause.", true,
		  (double)braid_drop_stats_total(&st.drops) },
		{ "live_links", "Links up now.", false, st.live_links },
		{ "available_bits_per_second", "What the bond can sustain now.", false,
		  st.available_bps },
	};
	struct session_link links[BRAID_REPORT_MAX_LINKS];
	struct braid_link_stats raw[BRAID_REPORT_MAX_LINKS];
	size_t n = braid_sender_get_link_stats(s, raw, BRAID_REPORT_MAX_LINKS);
	n = n < BRAID_REPORT_MAX_LINKS ? n : BRAID_REPORT_MAX_LINKS;
	for (size_t i = 0; i < n; i++)
		links[i] = (struct session_link){ 0, raw[i] };
	struct http_text t = { 0 };
	write_totals(&t, "send", totals, sizeof(totals) / sizeof(totals[0]));
	write_links(&t, "send", links, n, false);
	return http_text_take(&t, len);
}

/* Every session's links, up to MAX_SESSIONS sessions; *n gets how many. */
static struct session_link *receiver_links(const struct braid_receiver *rx, size_t *n)
{
	uint32_t ids[MAX_SESSIONS];
	size_t sessions = braid_receiver_sessions(rx, ids, MAX_SESSIONS);
	sessions = sessions < MAX_SESSIONS ? sessions : MAX_SESSIONS;
	struct session_link *all = malloc((sessions + 1) * BRAID_REPORT_MAX_LINKS * sizeof(*all));
	struct braid_link_stats raw[BRAID_REPORT_MAX_LINKS];
	*n = 0;
	for (size_t i = 0; all && i < sessions; i++) {
		struct braid_session_stats ss;
		size_t count = 0;
		if (braid_receiver_session_stats(rx, ids[i], &ss, raw, BRAID_REPORT_MAX_LINKS,
						 &count) < 0)
			continue;
		count = count < BRAID_REPORT_MAX_LINKS ? count : BRAID_REPORT_MAX_LINKS;
		for (size_t k = 0; k < count; k++)
			all[(*n)++] = (struct session_link){ ids[i], raw[k] };
	}
	return all;
}

char *braid_dash_metrics_receiver(const struct braid_receiver *rx, size_t *len)
{
	struct braid_receiver_stats st;
	braid_receiver_get_stats(rx, &st);
	const struct total totals[] = {
		{ "packets_in_total", "Datagrams received, all links.", true,
		  (double)st.packets_in },
		{ "bytes_in_total", "Bytes received, all links.", true, (double)st.bytes_in },
		{ "packets_out_total", "Packets of the bonded stream released.", true,
		  (double)st.packets_out },
		{ "bytes_out_total", "Bytes of the bonded stream released.", true,
		  (double)st.bytes_out },
		{ "duplicates_total", "Copies removed.", true, (double)st.duplicates },
		{ "late_total", "Packets that missed their release time.", true, (double)st.late },
		{ "lost_total", "Packets never received in time (residual loss).", true,
		  (double)st.lost },
		{ "retransmitted_total", "Resends that arrived.", true, (double)st.retransmitted },
		{ "nacks_total", "NACK packets sent.", true, (double)st.nacks },
		{ "dropped_total", "Datagrams dropped on arrival, every cause.", true,
		  (double)braid_drop_stats_total(&st.drops) },
		{ "sessions", "Senders connected now.", false, st.sessions },
		{ "held_bytes", "Media bytes held for release now.", false, (double)st.held_bytes },
	};
	size_t n;
	struct session_link *links = receiver_links(rx, &n);
	if (!links)
		return NULL;
	struct http_text t = { 0 };
	write_totals(&t, "recv", totals, sizeof(totals) / sizeof(totals[0]));
	write_links(&t, "recv", links, n, true);
	free(links);
	return http_text_take(&t, len);
}
