/* braid rtcp replay: a JSON script in, the reports a braid_rtcp_session generates out.
 * The whole file is checked before anything runs, so a bad file prints one error line and
 * no reports. Reports go through the real path: the session writes RTCP datagrams, which
 * are read back with the RTCP reader and printed. docs/rtcp-replay.md is the format. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp_session.h"
#include "cli.h"
#include "json.h"
#include "rtcp_tools.h"

#define MAX_INPUT (64u << 20)
#define MAX_STREAMS 65536

enum event_kind { EV_RTP_IN, EV_RTP_OUT, EV_SR_IN, EV_REPORT, EV_BIND_IN, EV_BIND_OUT };
#define EVENT_KINDS 6

struct event {
	enum event_kind kind;
	uint64_t t_us;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;      /* rtp_in/rtp_out: timestamp; sr_in: rtp_ts */
	uint32_t payload; /* rtp_in/rtp_out: payload octets */
	uint64_t ntp;     /* sr_in */
	uint32_t packets, octets;
};

struct script {
	const char *name; /* for messages */
	uint32_t clock_rate;
	uint64_t ntp_origin;
	bool use_latest_packet;
	struct event *events;
	size_t count;
};

_Noreturn static void bad(const struct script *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

_Noreturn static void bad(const struct script *sc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	braid_cli_usage_error("rtcp", "%s: %s", sc->name, msg);
}

static char *read_all(const struct script *sc, const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		bad(sc, "%s", strerror(errno));
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		if (cap >= MAX_INPUT)
			bad(sc, "larger than %u MiB", MAX_INPUT >> 20);
		char *grown = realloc(buf, cap * 2);
		if (!grown)
			free(buf);
		buf = grown;
		cap *= 2;
	}
	if (!buf)
		bad(sc, "out of memory");
	if (ferror(f))
		bad(sc, "read error");
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

/* "got 70000", "got a string": what a value was, for messages. */
static const char *describe(const struct braid_json *v, char *buf, size_t cap)
{
	if (v->type == BRAID_JSON_INT)
		snprintf(buf, cap, "%s%" PRIu64, v->negative ? "-" : "", v->magnitude);
	else
		snprintf(buf, cap, "%s", braid_json_type_name(v->type));
	return buf;
}

static void only_keys(const struct script *sc, const struct braid_json *obj, const char *where,
		      const char *const *keys)
{
	for (size_t i = 0; i < obj->count; i++) {
		const struct braid_json_member *m = &obj->members[i];
		bool known = false;
		for (const char *const *k = keys; *k && !known; k++)
			known = strlen(*k) == m->key_len && memcmp(*k, m->key, m->key_len) == 0;
		char shown[64];
		if (!known)
			bad(sc, "%s (line %u column %u): unknown key \"%s\"", where, m->line,
			    m->column,
			    braid_json_printable(m->key, m->key_len, shown, sizeof(shown)));
	}
}

static void need_object(const struct script *sc, const struct braid_json *v, const char *where)
{
	char got[64];
	if (v->type != BRAID_JSON_OBJECT)
		bad(sc, "%s (line %u column %u): expected an object, got %s", where, v->line,
		    v->column, describe(v, got, sizeof(got)));
}

static uint64_t get_uint(const struct script *sc, const struct braid_json *obj,
			 const char *where, const char *key, uint64_t max)
{
	const struct braid_json *v = braid_json_get(obj, key);
	uint64_t out;
	char got[64];
	if (!v)
		bad(sc, "%s (line %u column %u): missing \"%s\"", where, obj->line, obj->column,
		    key);
	if (!braid_json_uint(v, max, &out))
		bad(sc, "%s.%s (line %u column %u): expected an integer in 0..%" PRIu64 ", got %s",
		    where, key, v->line, v->column, max, describe(v, got, sizeof(got)));
	return out;
}

static void read_rtp(const struct script *sc, const struct braid_json *o, const char *where,
		     struct event *ev)
{
	static const char *const keys[] = { "ssrc", "seq", "ts", "payload", NULL };
	need_object(sc, o, where);
	only_keys(sc, o, where, keys);
	ev->ssrc = (uint32_t)get_uint(sc, o, where, "ssrc", UINT32_MAX);
	ev->seq = (uint16_t)get_uint(sc, o, where, "seq", UINT16_MAX);
	ev->ts = (uint32_t)get_uint(sc, o, where, "ts", UINT32_MAX);
	ev->payload = (uint32_t)get_uint(sc, o, where, "payload", UINT32_MAX);
}

static void read_sr(const struct script *sc, const struct braid_json *o, const char *where,
		    struct event *ev)
{
	static const char *const keys[] = { "ssrc", "ntp", "rtp_ts", "packets", "octets", NULL };
	need_object(sc, o, where);
	only_keys(sc, o, where, keys);
	ev->ssrc = (uint32_t)get_uint(sc, o, where, "ssrc", UINT32_MAX);
	ev->ntp = get_uint(sc, o, where, "ntp", UINT64_MAX);
	ev->ts = (uint32_t)get_uint(sc, o, where, "rtp_ts", UINT32_MAX);
	ev->packets = (uint32_t)get_uint(sc, o, where, "packets", UINT32_MAX);
	ev->octets = (uint32_t)get_uint(sc, o, where, "octets", UINT32_MAX);
}

static void read_bind(const struct script *sc, const struct braid_json *o, const char *where,
		      struct event *ev)
{
	static const char *const keys[] = { "ssrc", NULL };
	need_object(sc, o, where);
	only_keys(sc, o, where, keys);
	ev->ssrc = (uint32_t)get_uint(sc, o, where, "ssrc", UINT32_MAX);
}

static void read_event(const struct script *sc, const struct braid_json *o, size_t index,
		       uint64_t previous_t, struct event *ev)
{
	static const char *const keys[] = { "t_us", "rtp_in", "rtp_out", "sr_in", "report",
					    "bind_in", "bind_out", NULL };
	static const char *const kinds[EVENT_KINDS] = { "rtp_in", "rtp_out", "sr_in", "report",
							"bind_in", "bind_out" };
	char where[64], inner[80];
	snprintf(where, sizeof(where), "events[%zu]", index);
	need_object(sc, o, where);
	only_keys(sc, o, where, keys);
	ev->t_us = get_uint(sc, o, where, "t_us", UINT64_MAX);
	if (ev->t_us < previous_t)
		bad(sc, "%s.t_us (line %u): %" PRIu64 " is before the previous event's %" PRIu64,
		    where, braid_json_get(o, "t_us")->line, ev->t_us, previous_t);
	const struct braid_json *body = NULL;
	for (size_t k = 0; k < EVENT_KINDS; k++) {
		const struct braid_json *v = braid_json_get(o, kinds[k]);
		if (!v)
			continue;
		if (body)
			bad(sc, "%s (line %u column %u): more than one of rtp_in, rtp_out, sr_in, "
				"report, bind_in, bind_out", where, o->line, o->column);
		body = v;
		ev->kind = (enum event_kind)k;
	}
	if (!body)
		bad(sc, "%s (line %u column %u): needs one of rtp_in, rtp_out, sr_in, report, "
			"bind_in, bind_out", where, o->line, o->column);
	snprintf(inner, sizeof(inner), "%s.%s", where, kinds[ev->kind]);
	if (ev->kind == EV_RTP_IN || ev->kind == EV_RTP_OUT)
		read_rtp(sc, body, inner, ev);
	else if (ev->kind == EV_SR_IN)
		read_sr(sc, body, inner, ev);
	else if (ev->kind == EV_BIND_IN || ev->kind == EV_BIND_OUT)
		read_bind(sc, body, inner, ev);
	else if (body->type != BRAID_JSON_BOOL || !body->boolean)
		bad(sc, "%s (line %u column %u): must be true", inner, body->line, body->column);
}

static void read_script(struct script *sc, const struct braid_json *root)
{
	static const char *const keys[] = { "clock_rate", "ntp_origin", "use_latest_packet",
					    "events", NULL };
	need_object(sc, root, "the file");
	only_keys(sc, root, "the file", keys);
	sc->clock_rate = (uint32_t)get_uint(sc, root, "the file", "clock_rate", UINT32_MAX);
	if (sc->clock_rate == 0)
		bad(sc, "clock_rate (line %u): must be at least 1",
		    braid_json_get(root, "clock_rate")->line);
	sc->ntp_origin = get_uint(sc, root, "the file", "ntp_origin", UINT64_MAX);
	const struct braid_json *latest = braid_json_get(root, "use_latest_packet");
	if (latest && latest->type != BRAID_JSON_BOOL)
		bad(sc, "use_latest_packet (line %u column %u): expected true or false",
		    latest->line, latest->column);
	sc->use_latest_packet = latest && latest->boolean;
	const struct braid_json *events = braid_json_get(root, "events");
	if (!events)
		bad(sc, "the file: missing \"events\"");
	if (events->type != BRAID_JSON_ARRAY)
		bad(sc, "events (line %u column %u): expected an array", events->line,
		    events->column);
	sc->count = events->count;
	sc->events = calloc(sc->count ? sc->count : 1, sizeof(*sc->events));
	if (!sc->events)
		bad(sc, "out of memory");
	for (size_t i = 0; i < sc->count; i++)
		read_event(sc, &events->items[i], i, i ? sc->events[i - 1].t_us : 0,
			   &sc->events[i]);
}

/* The sender information of an SR, without the report blocks it could carry. */
struct sr_info {
	uint32_t ssrc;
	uint64_t ntp;
	uint32_t rtp_ts, packets, octets;
};

/* The reports of one instant, read back from the datagrams the session wrote. */
struct report {
	struct sr_info *srs;
	size_t sr_count;
	struct braid_rtcp_report_block *blocks;
	size_t block_count;
};

static void collect(struct report *rep, const uint8_t *buf, size_t len)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	braid_rtcp_reader_init(&r, buf, len, 0);
	while (braid_rtcp_read(&r, &p) == 1) {
		if (p.kind == BRAID_RTCP_KIND_SR) {
			struct sr_info *sr = &rep->srs[rep->sr_count++];
			sr->ssrc = p.u.sr.ssrc;
			sr->ntp = p.u.sr.ntp;
			sr->rtp_ts = p.u.sr.rtp_ts;
			sr->packets = p.u.sr.packets;
			sr->octets = p.u.sr.octets;
		} else if (p.kind == BRAID_RTCP_KIND_RR) {
			memcpy(&rep->blocks[rep->block_count], p.u.rr.blocks,
			       p.u.rr.block_count * sizeof(p.u.rr.blocks[0]));
			rep->block_count += p.u.rr.block_count;
		}
	}
}

static void print_report(FILE *out, uint64_t t_us, const struct report *rep)
{
	fprintf(out, "{\"t_us\":%" PRIu64 ",\"sr\":[", t_us);
	for (size_t i = 0; i < rep->sr_count; i++) {
		const struct sr_info *sr = &rep->srs[i];
		fprintf(out, "%s{\"ssrc\":%" PRIu32 ",\"ntp\":%" PRIu64 ",\"rtp_ts\":%" PRIu32
			",\"packets\":%" PRIu32 ",\"octets\":%" PRIu32 "}",
			i ? "," : "", sr->ssrc, sr->ntp, sr->rtp_ts, sr->packets, sr->octets);
	}
	fputs("],\"rr\":[", out);
	for (size_t i = 0; i < rep->block_count; i++) {
		const struct braid_rtcp_report_block *b = &rep->blocks[i];
		fprintf(out, "%s{\"ssrc\":%" PRIu32 ",\"fraction_lost\":%u,\"cumulative_lost\":%"
			PRId32 ",\"ext_highest_seq\":%" PRIu32 ",\"jitter\":%" PRIu32
			",\"lsr\":%" PRIu32 ",\"dlsr\":%" PRIu32 "}",
			i ? "," : "", b->ssrc, b->fraction_lost, b->cumulative_lost,
			b->ext_highest_seq, b->jitter, b->lsr, b->dlsr);
	}
	fputs("]}\n", out);
}

static void report_now(struct braid_rtcp_session *s, struct report *rep, uint64_t t_us)
{
	uint8_t buf[1200];
	int n;
	rep->sr_count = 0;
	rep->block_count = 0;
	braid_rtcp_session_report(s, t_us, BRAID_RTCP_REPORT_SR | BRAID_RTCP_REPORT_RR);
	while ((n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf))) > 0)
		collect(rep, buf, (size_t)n);
	print_report(stdout, t_us, rep);
}

static void feed_sr(const struct script *sc, struct braid_rtcp_session *s, const struct event *ev)
{
	uint8_t buf[64];
	struct braid_rtcp_writer w;
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_SR;
	p.u.sr.ssrc = ev->ssrc;
	p.u.sr.ntp = ev->ntp;
	p.u.sr.rtp_ts = ev->ts;
	p.u.sr.packets = ev->packets;
	p.u.sr.octets = ev->octets;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	if (braid_rtcp_write(&w, &p) < 0 ||
	    braid_rtcp_session_rtcp_received(s, buf, w.len, ev->t_us, NULL, 0) < 0)
		bad(sc, "internal error: an SR did not round-trip");
}

/* 0: a stream this side receives, 1: one it sends, -1: neither. */
static int direction_of(enum event_kind kind)
{
	if (kind == EV_RTP_IN || kind == EV_BIND_IN)
		return 0;
	if (kind == EV_RTP_OUT || kind == EV_BIND_OUT)
		return 1;
	return -1;
}

/* A bind event must come before any other event of its stream in its direction: binding
 * a stream already bound (by a bind or by its first RTP packet) is an error in the file,
 * found before anything runs. */
static void check_binds(const struct script *sc)
{
	struct first_use { uint32_t ssrc; int dir; size_t index; } *uses;
	uses = malloc((sc->count ? sc->count : 1) * sizeof(*uses));
	if (!uses)
		bad(sc, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < sc->count; i++) {
		const struct event *ev = &sc->events[i];
		int dir = direction_of(ev->kind);
		if (dir < 0)
			continue;
		bool bind = ev->kind == EV_BIND_IN || ev->kind == EV_BIND_OUT;
		/* linear in the streams seen: a script binds few streams by signalling */
		for (size_t k = 0; k < n && bind; k++)
			if (uses[k].ssrc == ev->ssrc && uses[k].dir == dir)
				bad(sc, "events[%zu]: %s of ssrc %" PRIu32 " already bound at "
					"events[%zu]", i, dir ? "bind_out" : "bind_in", ev->ssrc,
				    uses[k].index);
		if (bind || n == 0 || uses[n - 1].ssrc != ev->ssrc || uses[n - 1].dir != dir)
			uses[n++] = (struct first_use){ ev->ssrc, dir, i };
	}
	free(uses);
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The number of distinct SSRCs the script sends or receives, the larger of the two: the
 * session's capacity. */
static size_t count_streams(const struct script *sc)
{
	size_t most = 1;
	uint32_t *ssrcs = malloc((sc->count ? sc->count : 1) * sizeof(*ssrcs));
	if (!ssrcs)
		bad(sc, "out of memory");
	for (int dir = 0; dir < 2; dir++) {
		size_t n = 0, distinct = 0;
		for (size_t i = 0; i < sc->count; i++)
			if (direction_of(sc->events[i].kind) == dir)
				ssrcs[n++] = sc->events[i].ssrc;
		qsort(ssrcs, n, sizeof(*ssrcs), compare_u32);
		for (size_t i = 0; i < n; i++)
			distinct += i == 0 || ssrcs[i] != ssrcs[i - 1];
		if (distinct > most)
			most = distinct;
	}
	free(ssrcs);
	if (most > MAX_STREAMS)
		bad(sc, "more than %d streams in one direction", MAX_STREAMS);
	return most;
}

static void run_event(const struct script *sc, struct braid_rtcp_session *s, size_t i,
		      struct report *rep)
{
	const struct event *ev = &sc->events[i];
	struct braid_rtp_header h;
	memset(&h, 0, sizeof(h));
	h.ssrc = ev->ssrc;
	h.seq = ev->seq;
	h.timestamp = ev->ts;
	h.payload_len = ev->payload;
	int rc = 0;
	switch (ev->kind) {
	case EV_RTP_IN:
		rc = braid_rtcp_session_rtp_received_header(s, &h, ev->t_us);
		break;
	case EV_RTP_OUT:
		rc = braid_rtcp_session_rtp_sent_header(s, &h, ev->t_us);
		break;
	case EV_SR_IN:
		feed_sr(sc, s, ev);
		break;
	case EV_REPORT:
		report_now(s, rep, ev->t_us);
		break;
	case EV_BIND_IN:
	case EV_BIND_OUT: {
		struct braid_rtcp_stream_config cfg = { .ssrc = ev->ssrc,
							.clock_rate = sc->clock_rate,
							.use_latest_packet = sc->use_latest_packet };
		rc = ev->kind == EV_BIND_IN ? braid_rtcp_session_bind_receiver(s, &cfg)
					    : braid_rtcp_session_bind_sender(s, &cfg);
		break;
	}
	}
	if (rc < 0)
		bad(sc, "events[%zu]: internal error: %s", i, braid_strerror(rc));
}

static struct braid_rtcp_session *new_session(const struct script *sc, size_t streams)
{
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.sr_interval_us = 0; /* reports only where the script says */
	st.rr_interval_us = 0;
	st.ntp_at_zero = sc->ntp_origin;
	st.auto_clock_rate = sc->clock_rate;
	st.use_latest_packet = sc->use_latest_packet;
	st.probation = 0;
	st.max_streams = streams;
	return braid_rtcp_session_new(&st, 0);
}

int braid_rtcp_replay(const char *path)
{
	struct script sc = { .name = strcmp(path, "-") == 0 ? "stdin" : path };
	size_t len;
	char *text = read_all(&sc, path, &len);
	struct braid_json root;
	char err[256];
	if (!braid_json_parse(text, len, &root, err, sizeof(err)))
		bad(&sc, "%s", err);
	free(text);
	read_script(&sc, &root);
	braid_json_free(&root);
	check_binds(&sc);

	size_t streams = count_streams(&sc);
	struct braid_rtcp_session *s = new_session(&sc, streams);
	struct report rep = {
		.srs = calloc(streams, sizeof(*rep.srs)),
		.blocks = calloc(streams, sizeof(*rep.blocks)),
	};
	if (!s || !rep.srs || !rep.blocks)
		bad(&sc, "out of memory");
	for (size_t i = 0; i < sc.count; i++)
		run_event(&sc, s, i, &rep);
	braid_rtcp_session_free(s);
	free(rep.srs);
	free(rep.blocks);
	free(sc.events);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "braid rtcp: writing the reports failed\n");
		return 1;
	}
	return 0;
}
