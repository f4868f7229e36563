/* Simulator scenarios: the emulator's format (link, at) plus the lines only a simulation
 * needs (docs/sim.md):
 *
 *   stream rate=5mbit packet=1316 duration=60s start=0
 *   sender mode=broadcast latency=1000ms probe=50ms ...
 *   seed N
 *   expect METRIC OP VALUE
 *
 * The emu parser reads links and events, so keys and units are the emulator's. This file
 * hands it the text with the simulator's lines blanked (line numbers stay right), link
 * lines without the sender's weight= and priority= keys, and relative trace paths made
 * relative to the scenario file. */
#include "sim/sim.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

#define MAX_WEIGHT 1000000u
#define MIN_LATENCY_US 20000u
#define MAX_LATENCY_US 60000000u
#define MAX_STREAM_US (UINT64_C(8) * 24 * 3600 * 1000000)
#define MAX_CLOCK_DRIFT_PPM 1000.0

void braid_sim_scenario_init(struct braid_sim_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	braid_emu_scenario_init(&sc->emu);
	sc->emu.link_flags = BRAID_EMU_NO_ADDRESS;
	for (unsigned i = 0; i < BRAID_MAX_LINKS; i++)
		sc->link_options[i] = (struct braid_sim_link_options){ .weight = 1, .priority = i };
	sc->stream_rate_bps = 5e6;
	sc->packet_bytes = 1316;
	sc->duration_us = 60000000;
	braid_sender_settings_default(&sc->sender);
	sc->seed = 1;
}

void braid_sim_scenario_free(struct braid_sim_scenario *sc)
{
	braid_emu_scenario_free(&sc->emu);
	free(sc->expects);
	sc->expects = NULL;
	sc->expect_count = sc->expect_capacity = 0;
}

/* ---- text helpers ---- */

struct out_buf {
	char *p;
	size_t len, cap;
};

static bool put(struct out_buf *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len + n >= o->cap)
		return false;
	memcpy(o->p + o->len, s, n + 1);
	o->len += n;
	return true;
}

static char *next_word(char **s)
{
	char *w = *s, *end;

	while (*w && isspace((unsigned char)*w))
		w++;
	if (!*w)
		return NULL;
	end = w;
	while (*end && !isspace((unsigned char)*end))
		end++;
	if (*end)
		*end++ = '\0';
	*s = end;
	return w;
}

/* Words of a sim statement are separated by spaces or commas. */
static char *next_pair(char **s)
{
	char *w = *s, *end;

	while (*w && (isspace((unsigned char)*w) || *w == ','))
		w++;
	if (!*w)
		return NULL;
	end = w;
	while (*end && !isspace((unsigned char)*end) && *end != ',')
		end++;
	if (*end)
		*end++ = '\0';
	*s = end;
	return w;
}

static bool parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_fraction(const char *text, double *out)
{
	return braid_emu_parse_percent(text, out) == 0;
}

static int bad(char *err, size_t err_len, const char *key, const char *value, const char *why)
{
	snprintf(err, err_len, "%s '%s': %s", key, value, why);
	return BRAID_ERR_INVAL;
}

/* ---- link keys ---- */

static bool append_path(struct out_buf *o, const char *base_dir, const char *path)
{
	if (base_dir && *base_dir && path[0] != '/')
		return put(o, base_dir) && put(o, "/") && put(o, path);
	return put(o, path);
}

static void remember_trace(struct braid_sim_link_options *opts, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (opts)
		snprintf(opts->trace, sizeof(opts->trace), "%s", slash ? slash + 1 : path);
}

/* rev=KEY=V;KEY=V: only trace= needs its path rewritten. */
static bool rewrite_rev_list(struct out_buf *o, char *list, const char *base_dir)
{
	char *save = NULL;
	bool first = true;

	for (char *p = strtok_r(list, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
		if (!first && !put(o, ";"))
			return false;
		first = false;
		if (strncmp(p, "trace=", 6) == 0) {
			if (!put(o, "trace=") || !append_path(o, base_dir, p + 6))
				return false;
		} else if (!put(o, p)) {
			return false;
		}
	}
	return true;
}

static int sender_key(struct braid_sim_link_options *opts, const char *key, const char *value,
		      char *err, size_t err_len)
{
	uint64_t v;

	if (!opts)
		return bad(err, err_len, key, value, "weight and priority are set on link lines");
	if (strcmp(key, "weight") == 0) {
		if (!parse_u64(value, 1, MAX_WEIGHT, &v))
			return bad(err, err_len, key, value, "not a whole number 1..1000000");
		opts->weight = (uint32_t)v;
	} else {
		if (!parse_u64(value, 0, UINT32_MAX, &v))
			return bad(err, err_len, key, value, "not a whole number");
		opts->priority = (uint32_t)v;
	}
	return 0;
}

/* One link's keys for the emu parser: weight= and priority= go to opts (refused when opts
 * is NULL), relative trace paths get base_dir in front. */
static int rewrite_keys(char *keys, const char *base_dir, struct braid_sim_link_options *opts,
			struct out_buf *o, char *err, size_t err_len)
{
	char *save = NULL;
	bool first = true, ok = true;

	for (char *p = strtok_r(keys, ",", &save); p && ok; p = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(p, '=');

		if (eq && (strncmp(p, "weight=", 7) == 0 || strncmp(p, "priority=", 9) == 0)) {
			*eq = '\0';
			int rc = sender_key(opts, p, eq + 1, err, err_len);
			if (rc)
				return rc;
			continue;
		}
		ok = first || put(o, ",");
		first = false;
		if (strncmp(p, "trace=", 6) == 0) {
			remember_trace(opts, p + 6);
			ok = ok && put(o, "trace=") && append_path(o, base_dir, p + 6);
		} else if (strncmp(p, "rev.trace=", 10) == 0) {
			ok = ok && put(o, "rev.trace=") && append_path(o, base_dir, p + 10);
		} else if (strncmp(p, "rev=", 4) == 0) {
			ok = ok && put(o, "rev=") && rewrite_rev_list(o, p + 4, base_dir);
		} else {
			ok = ok && put(o, p);
		}
	}
	if (!ok) {
		snprintf(err, err_len, "line too long once trace paths are completed");
		return BRAID_ERR_TOO_BIG;
	}
	return 0;
}

/* "link NAME KEYS" with the keys rewritten; opts gets the link's sender settings. */
static int rewrite_link_line(char *rest, const char *base_dir,
			     struct braid_sim_link_options *opts, struct out_buf *o, char *err,
			     size_t err_len)
{
	char *name = next_word(&rest), *keys = next_word(&rest);

	if (!name || !keys || next_word(&rest)) {
		snprintf(err, err_len, "link needs a name and its keys (KEY=VALUE,... no spaces)");
		return BRAID_ERR_INVAL;
	}
	if (!put(o, "link ") || !put(o, name) || !put(o, " ")) {
		snprintf(err, err_len, "line too long");
		return BRAID_ERR_TOO_BIG;
	}
	return rewrite_keys(keys, base_dir, opts, o, err, err_len);
}

/* "at TIME NAME KEYS|blackhole ...": trace paths completed, the rest as written. */
static int rewrite_at_line(char *rest, const char *base_dir, struct out_buf *o, char *err,
			   size_t err_len)
{
	char *when = next_word(&rest), *name = next_word(&rest), *keys;

	if (!when || !name) {
		snprintf(err, err_len, "at needs a time, a link and what to do");
		return BRAID_ERR_INVAL;
	}
	while (*rest && isspace((unsigned char)*rest))
		rest++;
	if (!put(o, "at ") || !put(o, when) || !put(o, " ") || !put(o, name) || !put(o, " ")) {
		snprintf(err, err_len, "line too long");
		return BRAID_ERR_TOO_BIG;
	}
	if (strncmp(rest, "blackhole", 9) == 0 || !*rest) {
		if (!put(o, rest)) {
			snprintf(err, err_len, "line too long");
			return BRAID_ERR_TOO_BIG;
		}
		return 0;
	}
	keys = next_word(&rest);
	if (next_word(&rest)) {
		snprintf(err, err_len, "at: keys are KEY=VALUE,... without spaces");
		return BRAID_ERR_INVAL;
	}
	return rewrite_keys(keys, base_dir, NULL, o, err, err_len);
}

/* ---- simulator statements ---- */

static int stream_line(struct braid_sim_scenario *sc, char *rest, char *err, size_t err_len)
{
	char *p;
	uint64_t v;

	while ((p = next_pair(&rest))) {
		char *eq = strchr(p, '=');
		const char *value = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		if (strcmp(p, "rate") == 0) {
			if (braid_emu_parse_rate(value, &sc->stream_rate_bps) ||
			    sc->stream_rate_bps < 1000 || sc->stream_rate_bps > 1e10)
				return bad(err, err_len, p, value, "not a rate 1kbit..10gbit");
		} else if (strcmp(p, "packet") == 0) {
			if (!parse_u64(value, 16, BRAID_MAX_PAYLOAD, &v))
				return bad(err, err_len, p, value, "not a size 16..8192 (bytes)");
			sc->packet_bytes = (size_t)v;
		} else if (strcmp(p, "duration") == 0) {
			if (braid_emu_parse_duration(value, &v) || v == 0 || v > MAX_STREAM_US)
				return bad(err, err_len, p, value, "not a time up to 8 days (60s)");
			sc->duration_us = v;
		} else if (strcmp(p, "start") == 0) {
			if (braid_emu_parse_duration(value, &v) || v > MAX_STREAM_US)
				return bad(err, err_len, p, value, "not a time (500ms)");
			sc->stream_start_us = v;
		} else {
			snprintf(err, err_len, "stream: unknown key '%s' (rate, packet, duration, "
				 "start)", p);
			return BRAID_ERR_INVAL;
		}
	}
	return 0;
}

static int health_key(struct braid_health_settings *h, const char *key, const char *value,
		      char *err, size_t err_len)
{
	uint64_t v;

	if (strcmp(key, "probe") == 0) {
		if (braid_emu_parse_duration(value, &v) || v < 1000 || v > 10000000)
			return bad(err, err_len, key, value, "not a time 1ms..10s");
		h->probe_interval_us = v;
	} else if (strcmp(key, "down_after") == 0 || strcmp(key, "up_after") == 0) {
		if (!parse_u64(value, 1, 1000, &v))
			return bad(err, err_len, key, value, "not a whole number 1..1000");
		*(key[0] == 'd' ? &h->down_after_missed : &h->up_after_replies) = (unsigned)v;
	} else if (strcmp(key, "degraded_loss") == 0) {
		if (!parse_fraction(value, &h->degraded_loss))
			return bad(err, err_len, key, value, "not a percentage");
	} else if (strcmp(key, "recovered_loss") == 0) {
		if (!parse_fraction(value, &h->recovered_loss))
			return bad(err, err_len, key, value, "not a percentage");
	} else if (strcmp(key, "degraded_rtt") == 0) {
		if (braid_emu_parse_duration(value, &h->degraded_rtt_us))
			return bad(err, err_len, key, value, "not a time");
	} else {
		snprintf(err, err_len, "sender: unknown key '%s' (mode, latency, probe, "
			 "down_after, up_after, degraded_loss, recovered_loss, degraded_rtt, "
			 "redundancy, history, psk, clock_drift)", key);
		return BRAID_ERR_INVAL;
	}
	return 0;
}

/* "+100ppm", "-20ppm", "0": how much faster the sender's clock runs than the truth. */
static int clock_drift(struct braid_sim_scenario *sc, const char *value, char *err,
		       size_t err_len)
{
	char *end;
	double ppm;

	errno = 0;
	ppm = strtod(value, &end);
	if (end == value || errno || !isfinite(ppm) || (strcmp(end, "ppm") != 0 && ppm != 0) ||
	    (*end && strcmp(end, "ppm") != 0) || fabs(ppm) > MAX_CLOCK_DRIFT_PPM)
		return bad(err, err_len, "clock_drift", value,
			   "not a drift -1000ppm..+1000ppm (+100ppm)");
	sc->clock_drift_ppb = (int64_t)llround(ppm * 1000.0);
	return 0;
}

static int sender_line(struct braid_sim_scenario *sc, char *rest, char *err, size_t err_len)
{
	struct braid_sender_settings *s = &sc->sender;
	char *p;
	uint64_t v;

	while ((p = next_pair(&rest))) {
		char *eq = strchr(p, '=');
		const char *value = eq ? eq + 1 : "";
		int rc = 0;

		if (eq)
			*eq = '\0';
		if (strcmp(p, "mode") == 0) {
			int mode = braid_mode_parse(value);
			if (mode < 0)
				return bad(err, err_len, p, value,
					   "not broadcast, roundrobin, weighted, backup or adaptive");
			s->mode = (enum braid_mode)mode;
		} else if (strcmp(p, "latency") == 0) {
			if (braid_emu_parse_duration(value, &v) || v < MIN_LATENCY_US ||
			    v > MAX_LATENCY_US)
				return bad(err, err_len, p, value, "not a time 20ms..60s");
			s->latency_us = v;
		} else if (strcmp(p, "redundancy") == 0) {
			if (!parse_fraction(value, &s->redundancy))
				return bad(err, err_len, p, value, "not a percentage");
		} else if (strcmp(p, "history") == 0) {
			if (!parse_u64(value, 16, 1u << 22, &v) || (v & (v - 1)))
				return bad(err, err_len, p, value,
					   "not a power of two 16..4194304");
			s->history_packets = (size_t)v;
		} else if (strcmp(p, "clock_drift") == 0) {
			rc = clock_drift(sc, value, err, err_len);
		} else if (strcmp(p, "psk") == 0) {
			if (!*value || strlen(value) > BRAID_SIM_PSK_MAX)
				return bad(err, err_len, p, value, "must be 1 to 256 characters");
			strcpy(sc->psk_text, value);
		} else {
			rc = health_key(&s->health, p, value, err, err_len);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int seed_line(struct braid_sim_scenario *sc, char *rest, char *err, size_t err_len)
{
	char *word = next_word(&rest);

	if (!word || next_word(&rest) || !parse_u64(word, 0, UINT64_MAX, &sc->seed)) {
		snprintf(err, err_len, "seed takes one whole number");
		return BRAID_ERR_INVAL;
	}
	return 0;
}

static bool parse_op(const char *text, enum braid_sim_op *op)
{
	static const struct { const char *text; enum braid_sim_op op; } ops[] = {
		{ "<", BRAID_SIM_LT }, { "<=", BRAID_SIM_LE }, { ">", BRAID_SIM_GT },
		{ ">=", BRAID_SIM_GE }, { "==", BRAID_SIM_EQ }, { "!=", BRAID_SIM_NE },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(text, ops[i].text) == 0) {
			*op = ops[i].op;
			return true;
		}
	}
	return false;
}

static int expect_line(struct braid_sim_scenario *sc, char *rest, unsigned line, char *err,
		       size_t err_len)
{
	char *metric = next_word(&rest), *op = next_word(&rest), *value = next_word(&rest), *end;
	struct braid_sim_expect ex = { .line = line };

	if (!metric || !op || !value || next_word(&rest)) {
		snprintf(err, err_len, "expect takes METRIC OP VALUE (residual_loss <= 0)");
		return BRAID_ERR_INVAL;
	}
	if (strlen(metric) >= sizeof(ex.metric))
		return bad(err, err_len, "expect", metric, "metric name too long");
	if (!parse_op(op, &ex.op))
		return bad(err, err_len, "expect", op, "not one of < <= > >= == !=");
	errno = 0;
	ex.value = strtod(value, &end);
	if (errno || *end || end == value || !isfinite(ex.value))
		return bad(err, err_len, "expect", value, "not a number");
	strcpy(ex.metric, metric);
	snprintf(ex.text, sizeof(ex.text), "%s %s %s", metric, op, value);
	if (sc->expect_count == sc->expect_capacity) {
		size_t cap = sc->expect_capacity ? 2 * sc->expect_capacity : 16;
		struct braid_sim_expect *grown = realloc(sc->expects, cap * sizeof(*grown));

		if (!grown) {
			snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
			return BRAID_ERR_NOMEM;
		}
		sc->expects = grown;
		sc->expect_capacity = cap;
	}
	sc->expects[sc->expect_count++] = ex;
	return 0;
}

/* ---- whole texts ---- */

struct parse_ctx {
	struct braid_sim_scenario *sc;
	const char *base_dir;
	size_t links_seen; /* link lines so far: the next one's index */
	struct braid_sim_link_options opts[BRAID_MAX_LINKS];
};

/* One line: simulator statements are consumed (o gets nothing), emu lines are rewritten
 * into o. */
static int sim_line(struct parse_ctx *ctx, char *text, unsigned line, struct out_buf *o,
		    char *err, size_t err_len)
{
	char *hash = strchr(text, '#'), *word;

	if (hash)
		*hash = '\0';
	word = next_word(&text);
	if (!word)
		return 0;
	if (strcmp(word, "stream") == 0)
		return stream_line(ctx->sc, text, err, err_len);
	if (strcmp(word, "sender") == 0)
		return sender_line(ctx->sc, text, err, err_len);
	if (strcmp(word, "seed") == 0)
		return seed_line(ctx->sc, text, err, err_len);
	if (strcmp(word, "expect") == 0)
		return expect_line(ctx->sc, text, line, err, err_len);
	if (strcmp(word, "at") == 0)
		return rewrite_at_line(text, ctx->base_dir, o, err, err_len);
	if (strcmp(word, "link") == 0) {
		size_t index = ctx->sc->emu.link_count + ctx->links_seen++;
		if (index >= BRAID_MAX_LINKS) {
			snprintf(err, err_len, "at most %d links", BRAID_MAX_LINKS);
			return BRAID_ERR_FULL;
		}
		ctx->opts[ctx->links_seen - 1] = ctx->sc->link_options[index];
		return rewrite_link_line(text, ctx->base_dir, &ctx->opts[ctx->links_seen - 1], o,
					 err, err_len);
	}
	snprintf(err, err_len, "'%s' is not link, at, stream, sender, seed or expect", word);
	return BRAID_ERR_INVAL;
}

struct translate_args {
	struct parse_ctx *ctx;
	struct out_buf *o;
};

static int translate_line(void *arg, char *text, unsigned line, char *why, size_t why_len)
{
	struct translate_args *t = arg;
	int rc = sim_line(t->ctx, text, line, t->o, why, why_len);
	if (rc == 0 && !put(t->o, "\n")) {
		snprintf(why, why_len, "%s", braid_strerror(BRAID_ERR_TOO_BIG));
		rc = BRAID_ERR_TOO_BIG;
	}
	return rc;
}

/* The emu text: every line of the input, simulator statements blanked. */
static int translate(struct parse_ctx *ctx, const char *text, const char *origin,
		     struct out_buf *o, char *err, size_t err_len)
{
	struct translate_args t = { ctx, o };
	return braid_emu_for_each_line(text, origin, translate_line, &t, err, err_len);
}

static int check_expects(const struct braid_sim_scenario *sc, const char *origin, char *err,
			 size_t err_len)
{
	for (size_t i = 0; i < sc->expect_count; i++) {
		const struct braid_sim_expect *ex = &sc->expects[i];

		if (!braid_sim_metric_known(sc, ex->metric)) {
			snprintf(err, err_len, "%s:%u: expect: unknown metric '%s' (docs/sim.md)",
				 origin, ex->line, ex->metric);
			return BRAID_ERR_INVAL;
		}
	}
	return 0;
}

int braid_sim_scenario_parse(struct braid_sim_scenario *sc, const char *text,
			     const char *origin, const char *base_dir, char *err, size_t err_len)
{
	struct parse_ctx *ctx = calloc(1, sizeof(*ctx));
	size_t cap = 2 * strlen(text) + 4096, first_link = sc->emu.link_count;
	struct out_buf o = { .p = malloc(cap), .cap = cap };
	int rc;

	if (!ctx || !o.p) {
		free(ctx);
		free(o.p);
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	o.p[0] = '\0';
	ctx->sc = sc;
	ctx->base_dir = base_dir;
	rc = translate(ctx, text, origin, &o, err, err_len);
	if (rc == 0)
		rc = braid_emu_scenario_parse(&sc->emu, o.p, origin, err, err_len);
	if (rc == 0) {
		for (size_t i = 0; i < ctx->links_seen; i++)
			sc->link_options[first_link + i] = ctx->opts[i];
		rc = braid_emu_scenario_check(&sc->emu, err, err_len);
	}
	if (rc == 0)
		rc = check_expects(sc, origin, err, err_len);
	free(o.p);
	free(ctx);
	return rc;
}
