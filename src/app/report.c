#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool braid_report_open(struct braid_report *r, const char *role, const char *path, bool live,
		       uint64_t now_us)
{
	memset(r, 0, sizeof(*r));
	r->role = role;
	r->start_us = now_us;
	r->rates.at_us = now_us;
	r->live = live && isatty(STDERR_FILENO);
	if (!path)
		return true;
	if (strcmp(path, "-") == 0) {
		r->json = stdout;
		return true;
	}
	r->json = fopen(path, "w");
	r->close_json = r->json != NULL;
	return r->json != NULL;
}

void braid_report_close(struct braid_report *r)
{
	free(r->line);
	r->line = NULL;
	if (r->close_json)
		fclose(r->json);
	else if (r->json)
		fflush(r->json);
	r->json = NULL;
}

/* Where a JSON line is written: the stats file, or a buffer when a tap reads it too.
 * always: a line even with neither (the receiver's pass over its sessions must run for
 * the live view and the summary's memory of links). NULL when there is nowhere. */
static FILE *line_begin(struct braid_report *r, bool always)
{
	if (r->tap) {
		free(r->line);
		r->line = NULL;
		r->line_len = 0;
		FILE *f = open_memstream(&r->line, &r->line_len);
		if (f)
			return f;
	}
	if (r->json)
		return r->json;
	return always ? fopen("/dev/null", "w") : NULL;
}

static void line_end(struct braid_report *r, FILE *f, bool event)
{
	if (f == r->json) {
		fflush(f);
		return;
	}
	if (fclose(f) != 0 || !r->tap || !r->line)
		return; /* /dev/null, or a buffer that failed */
	if (r->json) {
		fwrite(r->line, 1, r->line_len, r->json);
		fflush(r->json);
	}
	r->tap(r->tap_arg, r->line, r->line_len, event);
}

double braid_report_bitrate(struct braid_report *r, uint16_t link_id, uint64_t bytes,
			    uint64_t now_us)
{
	struct braid_rate_memory *m = &r->rates;
	double seconds = (double)(now_us - m->at_us) / 1e6;
	for (size_t i = 0; i < m->count; i++) {
		if (m->ids[i] != link_id)
			continue;
		double bps = seconds > 0 && bytes >= m->bytes[i]
				     ? (double)(bytes - m->bytes[i]) * 8.0 / seconds : 0.0;
		m->bytes[i] = bytes;
		return bps;
	}
	if (m->count < BRAID_REPORT_MAX_LINKS) {
		m->ids[m->count] = link_id;
		m->bytes[m->count++] = bytes;
	}
	return 0.0;
}

void braid_report_rates_done(struct braid_report *r, uint64_t now_us)
{
	r->rates.at_us = now_us;
}

/* A link object. The receiver has no capacity model (capacity_kbps < 0): its objects
 * leave capacity_kbps out, and its delivered_kbps is the rate it received on the link. */
static void json_link_object(FILE *f, const struct braid_link_stats *l, double bps,
			     double capacity_kbps, double delivered_kbps, bool first)
{
	fprintf(f,
		"%s{\"id\":%u,\"name\":\"%s\",\"state\":\"%s\",\"rtt_ms\":%.2f,\"loss\":%.4f,"
		"\"jitter_ms\":%.2f,\"packets_sent\":%llu,\"bytes_sent\":%llu,"
		"\"packets_received\":%llu,\"bytes_received\":%llu,\"bitrate_kbps\":%.1f,",
		first ? "" : ",", l->id, l->name, braid_link_state_name(l->state), l->rtt_ms,
		l->loss, l->jitter_ms, (unsigned long long)l->packets_sent,
		(unsigned long long)l->bytes_sent, (unsigned long long)l->packets_received,
		(unsigned long long)l->bytes_received, bps / 1000.0);
	if (capacity_kbps >= 0)
		fprintf(f, "\"capacity_kbps\":%.1f,", capacity_kbps);
	fprintf(f, "\"delivered_kbps\":%.1f,\"down_events\":%u}", delivered_kbps, l->down_events);
}

static void json_rx_link(FILE *f, const struct braid_link_stats *l, double bps, bool first)
{
	json_link_object(f, l, bps, -1, bps / 1000.0, first);
}

static void json_link(FILE *f, const struct braid_link_stats *l, double bps, bool first)
{
	json_link_object(f, l, bps, l->capacity_kbps, l->delivered_kbps, first);
}

static void json_drops(FILE *f, const struct braid_drop_stats *d)
{
	const struct { const char *name; uint64_t value; } causes[] = {
		{ "truncated", d->truncated }, { "malformed", d->malformed },
		{ "wrong_direction", d->wrong_direction }, { "auth", d->auth },
		{ "replay", d->replay }, { "stale", d->stale },
		{ "rate_limited", d->rate_limited }, { "unproven", d->unproven },
		{ "source_full", d->source_full }, { "session_conflict", d->session_conflict },
		{ "held_full", d->held_full }, { "unknown_session", d->unknown_session },
		{ "unknown_link", d->unknown_link }, { "sessions_full", d->sessions_full },
		{ "links_full", d->links_full }, { "no_memory", d->no_memory },
		{ "oversized", d->oversized }, { "latency_mismatch", d->latency_mismatch },
	};
	fputs("\"dropped\":{", f);
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", causes[i].name,
			(unsigned long long)causes[i].value);
	fputc('}', f);
}

static uint64_t drops_total(const struct braid_drop_stats *d)
{
	return braid_drop_stats_total(d);
}

/* What the sender did not send or pass on, one counter per cause (docs/stats.md). */
static void json_sender_not_sent(FILE *f, const struct braid_sender_stats *st)
{
	fprintf(f,
		"\"resend_over_budget\":%llu,\"resend_undeliverable\":%llu,\"expired\":%llu,"
		"\"undeliverable\":%llu,\"tx_queue_drops\":%llu,\"pacer_drops\":%llu,"
		"\"reverse_drops\":%llu,\"input_too_large\":%llu,\"input_invalid\":%llu,"
		"\"input_no_memory\":%llu,",
		(unsigned long long)st->resend_over_budget,
		(unsigned long long)st->resend_undeliverable, (unsigned long long)st->expired,
		(unsigned long long)st->undeliverable, (unsigned long long)st->tx_queue_drops,
		(unsigned long long)st->pacer_drops, (unsigned long long)st->reverse_drops,
		(unsigned long long)st->input_too_large, (unsigned long long)st->input_invalid,
		(unsigned long long)st->input_no_memory);
}

/* The live view: one line per link, then a totals line, redrawn in place. */
static void live_begin(struct braid_report *r)
{
	for (unsigned i = 0; i < r->live_lines; i++)
		fputs("\033[1A\033[2K", stderr);
	r->live_lines = 0;
}

static void live_link(struct braid_report *r, const struct braid_link_stats *l, double bps)
{
	static const char *colour[] = { "\033[31m", "\033[33m", "\033[32m" };
	fprintf(stderr,
		"  %-12s %s%-8s\033[0m rtt %7.1f ms  loss %5.1f %%  jitter %6.1f ms  %8.2f Mbit/s\n",
		l->name, colour[l->state], braid_link_state_name(l->state), l->rtt_ms,
		l->loss * 100.0, l->jitter_ms, bps / 1e6);
	r->live_lines++;
}

const char *braid_report_plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

const char *braid_report_elapsed(uint64_t us, char buf[BRAID_ELAPSED_MAX])
{
	snprintf(buf, BRAID_ELAPSED_MAX, "%llu.%03llu s", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us / 1000 % 1000));
	return buf;
}

static double share_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* The sender's last word: what it took, sent, resent and gave up, link by link. */
static void summary_sender(struct braid_report *r, const struct braid_sender_stats *st,
			   const struct braid_link_stats *links, size_t n, uint64_t now_us)
{
	uint64_t gave_up = st->resend_over_budget + st->resend_undeliverable + st->expired +
			   st->undeliverable + st->tx_queue_drops + st->pacer_drops;
	uint32_t downs = 0;
	for (size_t i = 0; i < n; i++)
		downs += links[i].down_events;
	char t[BRAID_ELAPSED_MAX];
	fprintf(stderr, "braid send: summary after %s\n",
		braid_report_elapsed(now_us - r->start_us, t));
	fprintf(stderr, "  stream in      %llu packets, %.1f MB\n",
		(unsigned long long)st->packets_in, (double)st->bytes_in / 1e6);
	fprintf(stderr, "  sent           %llu datagrams on the links, %.1f MB\n",
		(unsigned long long)st->packets_out, (double)st->bytes_out / 1e6);
	fprintf(stderr, "  resent         %llu (nack %llu, failover %llu, timeout %llu), "
		"%llu asked for\n", (unsigned long long)st->retransmitted,
		(unsigned long long)st->resent_nack, (unsigned long long)st->resent_failover,
		(unsigned long long)st->resent_timeout, (unsigned long long)st->nacked);
	fprintf(stderr, "  not sent       %llu (resend budget %llu, too late %llu, "
		"queues full %llu)\n", (unsigned long long)gave_up,
		(unsigned long long)st->resend_over_budget,
		(unsigned long long)(st->resend_undeliverable + st->expired + st->undeliverable),
		(unsigned long long)(st->tx_queue_drops + st->pacer_drops));
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  link %-12s %llu packets, %.1f MB, %s, down %u %s\n", links[i].name,
			(unsigned long long)links[i].packets_sent, (double)links[i].bytes_sent / 1e6,
			braid_link_state_name(links[i].state), links[i].down_events,
			braid_report_plural(links[i].down_events, "time", "times"));
	fprintf(stderr, "  link events    %u down, %u %s\n", downs, st->failovers,
		braid_report_plural(st->failovers, "failover", "failovers"));
}

void braid_report_sender(struct braid_report *r, const struct braid_sender *s, uint64_t now_us,
			 bool final)
{
	struct braid_link_stats links[BRAID_REPORT_MAX_LINKS];
	size_t n = braid_sender_get_link_stats(s, links, BRAID_REPORT_MAX_LINKS);
	if (n > BRAID_REPORT_MAX_LINKS)
		n = BRAID_REPORT_MAX_LINKS;
	double bps[BRAID_REPORT_MAX_LINKS];
	for (size_t i = 0; i < n; i++)
		bps[i] = braid_report_bitrate(r, links[i].id, links[i].bytes_sent, now_us);
	braid_report_rates_done(r, now_us);
	struct braid_sender_stats st;
	braid_sender_get_stats(s, &st);
	FILE *f = line_begin(r, false);
	if (f) {
		fprintf(f, "{\"t\":%.3f,\"role\":\"send\",\"final\":%s,\"links\":[",
			(double)(now_us - r->start_us) / 1e6, final ? "true" : "false");
		for (size_t i = 0; i < n; i++)
			json_link(f, &links[i], bps[i], i == 0);
		fprintf(f,
			"],\"totals\":{\"in\":%llu,\"bytes_in\":%llu,\"out\":%llu,\"bytes_out\":%llu,"
			"\"retransmitted\":%llu,\"resent\":{\"nack\":%llu,\"failover\":%llu,"
			"\"timeout\":%llu},\"copies\":{\"hedge\":%llu,\"redundancy\":%llu},"
			"\"stalls\":%u,\"nacked\":%llu,\"reverse\":%llu,\"failovers\":%u,"
			"\"live_links\":%u,\"operational\":%s,\"available_kbps\":%.1f,",
			(unsigned long long)st.packets_in, (unsigned long long)st.bytes_in,
			(unsigned long long)st.packets_out, (unsigned long long)st.bytes_out,
			(unsigned long long)st.retransmitted, (unsigned long long)st.resent_nack,
			(unsigned long long)st.resent_failover, (unsigned long long)st.resent_timeout,
			(unsigned long long)st.copies_hedge, (unsigned long long)st.copies_redundancy,
			st.stalls, (unsigned long long)st.nacked,
			(unsigned long long)st.reverse_packets, st.failovers, st.live_links,
			st.operational ? "true" : "false", st.available_bps / 1000.0);
		json_sender_not_sent(f, &st);
		json_drops(f, &st.drops);
		fputs("}}\n", f);
		line_end(r, f, false);
	}
	if (r->live && !final) {
		live_begin(r);
		for (size_t i = 0; i < n; i++)
			live_link(r, &links[i], bps[i]);
		fprintf(stderr, "  in %llu  sent %llu  resent %llu (nack %llu, failover %llu, "
			"timeout %llu)  copies %llu  live links %u/%zu\n",
			(unsigned long long)st.packets_in, (unsigned long long)st.packets_out,
			(unsigned long long)st.retransmitted, (unsigned long long)st.resent_nack,
			(unsigned long long)st.resent_failover, (unsigned long long)st.resent_timeout,
			(unsigned long long)(st.copies_hedge + st.copies_redundancy), st.live_links, n);
		r->live_lines++;
	}
	if (final)
		summary_sender(r, &st, links, n, now_us);
}

static void remember_link(struct braid_report *r, uint32_t session_id,
			  const struct braid_link_stats *l)
{
	struct braid_link_memory *m = NULL;
	for (size_t i = 0; i < r->seen_count && !m; i++)
		if (r->seen[i].session_id == session_id && strcmp(r->seen[i].name, l->name) == 0)
			m = &r->seen[i];
	if (!m && r->seen_count == BRAID_REPORT_MAX_LINKS)
		return; /* the summary names the first ones; the totals still count all */
	if (!m)
		m = &r->seen[r->seen_count++];
	m->session_id = session_id;
	strcpy(m->name, l->name);
	m->packets = l->packets_received;
	m->bytes = l->bytes_received;
	m->down_events = l->down_events;
}

static void json_session(FILE *f, const struct braid_receiver *rx, uint32_t id, bool first,
			 struct braid_report *r, uint64_t now_us)
{
	struct braid_session_stats ss;
	struct braid_link_stats links[BRAID_REPORT_MAX_LINKS];
	size_t n = 0;
	if (braid_receiver_session_stats(rx, id, &ss, links, BRAID_REPORT_MAX_LINKS, &n) < 0)
		return;
	if (n > BRAID_REPORT_MAX_LINKS)
		n = BRAID_REPORT_MAX_LINKS;
	fprintf(f, "%s{\"session\":\"%08x\",\"out\":%llu,\"duplicates\":%llu,\"late\":%llu,"
		"\"beyond_window\":%llu,\"lost\":%llu,\"retransmitted\":%llu,\"nacks\":%llu,"
		"\"bad_timestamps\":%llu,\"links\":[",
		first ? "" : ",", id,
		(unsigned long long)ss.packets_out, (unsigned long long)ss.duplicates,
		(unsigned long long)ss.late, (unsigned long long)ss.beyond_window,
		(unsigned long long)ss.lost, (unsigned long long)ss.retransmitted,
		(unsigned long long)ss.nacks, (unsigned long long)ss.bad_timestamps);
	for (size_t i = 0; i < n; i++) {
		double bps = braid_report_bitrate(r, links[i].id, links[i].bytes_received, now_us);
		json_rx_link(f, &links[i], bps, i == 0);
		remember_link(r, id, &links[i]);
		if (r->live)
			live_link(r, &links[i], bps);
	}
	fputs("]}", f);
}

/* The receiver's last word: what came in, what left, what was lost, repaired, removed,
 * and each session's links as last seen. */
static void summary_receiver(struct braid_report *r, const struct braid_receiver_stats *st,
			     uint64_t now_us)
{
	char t[BRAID_ELAPSED_MAX];
	fprintf(stderr, "braid recv: summary after %s\n",
		braid_report_elapsed(now_us - r->start_us, t));
	fprintf(stderr, "  received       %llu datagrams, %.1f MB\n",
		(unsigned long long)st->packets_in, (double)st->bytes_in / 1e6);
	fprintf(stderr, "  stream out     %llu packets, %.1f MB\n",
		(unsigned long long)st->packets_out, (double)st->bytes_out / 1e6);
	fprintf(stderr, "  residual loss  %llu packets (%.4f %%)\n", (unsigned long long)st->lost,
		share_pct(st->lost, st->packets_out + st->lost));
	fprintf(stderr, "  resends        %llu arrived, %llu NACKs sent\n",
		(unsigned long long)st->retransmitted, (unsigned long long)st->nacks);
	fprintf(stderr, "  duplicates     %llu removed, %llu late, %llu dropped\n",
		(unsigned long long)st->duplicates, (unsigned long long)st->late,
		(unsigned long long)drops_total(&st->drops));
	if (r->output_refused || r->output_errors)
		fprintf(stderr, "  output         %llu refused, %llu failed\n",
			(unsigned long long)r->output_refused, (unsigned long long)r->output_errors);
	for (size_t i = 0; i < r->seen_count; i++) {
		const struct braid_link_memory *m = &r->seen[i];
		fprintf(stderr, "  session %08x link %-12s %llu datagrams, %.1f MB, down %u %s\n",
			m->session_id, m->name, (unsigned long long)m->packets,
			(double)m->bytes / 1e6, m->down_events,
			braid_report_plural(m->down_events, "time", "times"));
	}
}

void braid_report_receiver(struct braid_report *r, const struct braid_receiver *rx,
			   uint64_t now_us, bool final)
{
	struct braid_receiver_stats st;
	braid_receiver_get_stats(rx, &st);
	uint32_t ids[64];
	size_t n = braid_receiver_sessions(rx, ids, 64);
	if (n > 64)
		n = 64;
	bool live = r->live && !final;
	if (live)
		live_begin(r);
	FILE *f = line_begin(r, true);
	if (!f)
		return;
	r->live = live;
	fprintf(f, "{\"t\":%.3f,\"role\":\"recv\",\"final\":%s,\"sessions\":[",
		(double)(now_us - r->start_us) / 1e6, final ? "true" : "false");
	for (size_t i = 0; i < n; i++)
		json_session(f, rx, ids[i], i == 0, r, now_us);
	braid_report_rates_done(r, now_us);
	fprintf(f,
		"],\"totals\":{\"in\":%llu,\"bytes_in\":%llu,\"out\":%llu,\"bytes_out\":%llu,"
		"\"duplicates\":%llu,\"late\":%llu,\"beyond_window\":%llu,\"lost\":%llu,"
		"\"retransmitted\":%llu,\"nacks\":%llu,\"bad_timestamps\":%llu,"
		"\"cookies_sent\":%llu,\"held_bytes\":%llu,",
		(unsigned long long)st.packets_in, (unsigned long long)st.bytes_in,
		(unsigned long long)st.packets_out, (unsigned long long)st.bytes_out,
		(unsigned long long)st.duplicates, (unsigned long long)st.late,
		(unsigned long long)st.beyond_window, (unsigned long long)st.lost,
		(unsigned long long)st.retransmitted, (unsigned long long)st.nacks,
		(unsigned long long)st.bad_timestamps, (unsigned long long)st.cookies_sent, (unsigned long long)st.held_bytes);
	json_drops(f, &st.drops);
	fprintf(f, ",\"output\":{\"refused\":%llu,\"errors\":%llu}}",
		(unsigned long long)r->output_refused, (unsigned long long)r->output_errors);
	if (r->extra_json)
		r->extra_json(r->extra_arg, f);
	fputs("}\n", f);
	line_end(r, f, false);
	if (live) {
		fprintf(stderr, "  out %llu  duplicates %llu  late %llu  lost %llu  dropped %llu\n",
			(unsigned long long)st.packets_out, (unsigned long long)st.duplicates,
			(unsigned long long)st.late, (unsigned long long)st.lost,
			(unsigned long long)drops_total(&st.drops));
		r->live_lines++;
	}
	r->live = r->live || (live != (r->live && !final));
	if (final)
		summary_receiver(r, &st, now_us);
}

static const char *event_name(enum braid_event_kind kind)
{
	switch (kind) {
	case BRAID_EVENT_LINK_STATE:
		return "link_state";
	case BRAID_EVENT_FAILOVER:
		return "failover";
	case BRAID_EVENT_SESSION_NEW:
		return "session_start";
	case BRAID_EVENT_SESSION_END:
		return "session_end";
	}
	return "unknown";
}

void braid_report_event_json(struct braid_report *r, const struct braid_event *ev,
			     const char *link_name)
{
	FILE *f = line_begin(r, false);
	if (!f)
		return;
	fprintf(f,
		"{\"t\":%.3f,\"clock_us\":%llu,\"role\":\"%s\",\"event\":\"%s\",\"session\":\"%08x\"",
		(double)(ev->time_us - r->start_us) / 1e6, (unsigned long long)ev->time_us, r->role,
		event_name(ev->kind), ev->session_id);
	if (ev->kind == BRAID_EVENT_LINK_STATE || ev->kind == BRAID_EVENT_FAILOVER)
		fprintf(f, ",\"link\":\"%s\"", link_name ? link_name : "");
	if (ev->kind == BRAID_EVENT_LINK_STATE)
		fprintf(f, ",\"from\":\"%s\",\"to\":\"%s\"",
			braid_link_state_name(ev->old_state), braid_link_state_name(ev->new_state));
	if (ev->kind == BRAID_EVENT_FAILOVER)
		fprintf(f, ",\"resent\":%llu", (unsigned long long)ev->count);
	fputs("}\n", f);
	line_end(r, f, true);
}

void braid_report_event(struct braid_report *r, const struct braid_event *ev,
			const char *link_name)
{
	char t[BRAID_ELAPSED_MAX], line[160];
	switch (ev->kind) {
	case BRAID_EVENT_LINK_STATE:
		snprintf(line, sizeof(line), "link %s: %s -> %s", link_name ? link_name : "?",
			 braid_link_state_name(ev->old_state), braid_link_state_name(ev->new_state));
		break;
	case BRAID_EVENT_FAILOVER:
		snprintf(line, sizeof(line), "link %s failed: %llu %s resent on other links",
			 link_name ? link_name : "?", (unsigned long long)ev->count,
			 braid_report_plural(ev->count, "packet", "packets"));
		break;
	case BRAID_EVENT_SESSION_NEW:
		snprintf(line, sizeof(line), "session %08x started", ev->session_id);
		break;
	case BRAID_EVENT_SESSION_END:
		snprintf(line, sizeof(line), "session %08x ended", ev->session_id);
		break;
	default:
		return;
	}
	if (r->live)
		live_begin(r);
	fprintf(stderr, "[%11s] braid %s: %s\n", braid_report_elapsed(ev->time_us - r->start_us, t),
		r->role, line);
}

void braid_report_output_event(struct braid_report *r, uint64_t now_us, const char *event,
			       uint32_t session_id, uint32_t holder)
{
	char t[BRAID_ELAPSED_MAX];
	FILE *f = line_begin(r, false);
	if (f) {
		fprintf(f, "{\"t\":%.3f,\"clock_us\":%llu,\"role\":\"%s\",\"event\":\"%s\","
			"\"session\":\"%08x\"", (double)(now_us - r->start_us) / 1e6,
			(unsigned long long)now_us, r->role, event, session_id);
		if (holder)
			fprintf(f, ",\"holder\":\"%08x\"", holder);
		fputs("}\n", f);
		line_end(r, f, true);
	}
	if (r->live)
		live_begin(r);
	fprintf(stderr, "[%11s] braid %s: session %08x ", braid_report_elapsed(now_us - r->start_us, t),
		r->role, session_id);
	if (strcmp(event, "output_refused") == 0)
		fprintf(stderr, "refused: the output carries session %08x (name the file with "
			"{session} for one file per session)\n", holder);
	else if (holder)
		fprintf(stderr, "takes the output over from session %08x, which went silent\n",
			holder);
	else
		fprintf(stderr, "takes the output, which the session holding it gave up\n");
}
