/* Link specs: "key=value" pairs into the two model settings of an emulated link. The pairs are
 * applied in two passes: the forward keys first, then the return path is given the forward
 * delay, jitter, reorder and outages, and only then its own keys (rev=...;... or rev.KEY=),
 * so that the order of keys in a spec never matters. */
#include "scenario/scenario.h"
#include "scenario/files.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

/* The return path's default seed: a different stream from the forward one. */
#define REV_SEED_MIX UINT64_C(0x9e3779b97f4a7c15)
/* Delay and jitter beyond a minute are a typo, and would pin that much traffic in memory. */
#define MAX_DELAY_US UINT64_C(60000000)
/* Outage times and trace offsets: about 11 days, far below the model's overflow guard. */
#define MAX_OUTAGE_US (UINT64_C(1) << 40)
#define MAX_REV_PAIRS 64

enum dir { FWD = 0, REV = 1 };

struct pair {
	char *key, *value;
};

/* What one parse remembers across keys. */
struct parse_state {
	struct braid_emu_link_config *cfg;
	bool link_keys;         /* name, listen and to allowed: a whole link, not a change */
	bool addresses_optional; /* BRAID_EMU_NO_ADDRESS */
	bool have_listen, have_to;
	bool outages_given[2];  /* the first outage= of a parse replaces the list */
	struct pair rev[MAX_REV_PAIRS];
	size_t rev_count;
	char *err;
	size_t err_len;
};

/* ---- configs ---- */

void braid_emu_link_config_init(struct braid_emu_link_config *cfg, unsigned index)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "link%u", index + 1);
	braid_model_settings_default(&cfg->fwd);
	braid_model_settings_default(&cfg->rev);
	cfg->fwd.seed = (uint64_t)index + 1;
	cfg->rev.seed = cfg->fwd.seed ^ REV_SEED_MIX;
}

static uint32_t **trace_slot(struct braid_emu_link_config *cfg, enum dir d)
{
	return d == FWD ? &cfg->fwd_trace : &cfg->rev_trace;
}

static struct braid_model_settings *settings_of(struct braid_emu_link_config *cfg, enum dir d)
{
	return d == FWD ? &cfg->fwd : &cfg->rev;
}

void braid_emu_link_config_free(struct braid_emu_link_config *cfg)
{
	free(cfg->fwd_trace);
	free(cfg->rev_trace);
	cfg->fwd_trace = cfg->rev_trace = NULL;
	cfg->fwd.trace_ms = cfg->rev.trace_ms = NULL;
	cfg->fwd.trace_len = cfg->rev.trace_len = 0;
}

static int copy_trace(struct braid_emu_link_config *dst, const struct braid_emu_link_config *src,
		      enum dir d)
{
	const struct braid_model_settings *s = d == FWD ? &src->fwd : &src->rev;
	uint32_t *copy;

	*trace_slot(dst, d) = NULL;
	if (!s->trace_ms)
		return 0;
	copy = malloc(s->trace_len * sizeof(*copy));
	if (!copy)
		return BRAID_ERR_NOMEM;
	memcpy(copy, s->trace_ms, s->trace_len * sizeof(*copy));
	*trace_slot(dst, d) = copy;
	settings_of(dst, d)->trace_ms = copy;
	return 0;
}

int braid_emu_link_config_copy(struct braid_emu_link_config *dst,
			       const struct braid_emu_link_config *src)
{
	*dst = *src;
	dst->fwd_trace = dst->rev_trace = NULL;
	if (copy_trace(dst, src, FWD) || copy_trace(dst, src, REV)) {
		free(dst->fwd_trace);
		free(dst->rev_trace);
		dst->fwd_trace = dst->rev_trace = NULL;
		return BRAID_ERR_NOMEM;
	}
	return 0;
}

/* ---- keys ---- */

static int fail(struct parse_state *st, enum dir d, const char *key, const char *value,
		const char *why)
{
	snprintf(st->err, st->err_len, "%s%s '%s': %s", d == REV ? "rev." : "", key, value, why);
	return BRAID_ERR_INVAL;
}

static void drop_trace(struct braid_emu_link_config *cfg, enum dir d)
{
	struct braid_model_settings *s = settings_of(cfg, d);

	free(*trace_slot(cfg, d));
	*trace_slot(cfg, d) = NULL;
	s->trace_ms = NULL;
	s->trace_len = 0;
}

static int set_rate(struct parse_state *st, enum dir d, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	double bps;

	if (strcmp(value, "none") == 0 || strcmp(value, "unlimited") == 0) {
		drop_trace(st->cfg, d);
		s->rate_kind = BRAID_RATE_UNLIMITED;
		return 0;
	}
	if (braid_emu_parse_rate(value, &bps) || bps < 1)
		return fail(st, d, "rate", value, "not a rate of at least 1bit (bit, kbit, mbit, "
			    "gbit; tc's bps means bytes)");
	drop_trace(st->cfg, d);
	s->rate_kind = BRAID_RATE_CONSTANT;
	s->rate_bps = bps;
	return 0;
}

/* A plain positive number (ou's theta, per second). */
static bool positive_number(const char *text, double *v)
{
	char *end;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	*v = strtod(text, &end);
	return errno == 0 && !*end && isfinite(*v) && *v > 0;
}

/* A rate field of ou=: bare 0 is allowed for sigma and the floor. */
static bool ou_rate(const char *text, double *bps)
{
	if (strcmp(text, "0") == 0) {
		*bps = 0;
		return true;
	}
	return braid_emu_parse_rate(text, bps) == 0;
}

static int set_ou(struct parse_state *st, enum dir d, const char *value)
{
	static const char form[] = "not MEAN:SIGMA:THETA[:FLOOR[:CEILING]] (e.g. 8mbit:2mbit:0.5)";
	struct braid_ou_settings ou = settings_of(st->cfg, d)->ou;
	char copy[256], *field[6], *save = NULL;
	size_t n = 0;

	if (strlen(value) >= sizeof(copy))
		return fail(st, d, "ou", value, form);
	strcpy(copy, value);
	for (char *f = strtok_r(copy, ":", &save); f && n < 6; f = strtok_r(NULL, ":", &save))
		field[n++] = f;
	if (n < 3 || n > 5 || !ou_rate(field[0], &ou.mean_bps) || ou.mean_bps < 1 ||
	    !ou_rate(field[1], &ou.sigma_bps) || !positive_number(field[2], &ou.theta))
		return fail(st, d, "ou", value, form);
	ou.floor_bps = 0;
	ou.ceiling_bps = 0;
	if ((n > 3 && !ou_rate(field[3], &ou.floor_bps)) ||
	    (n > 4 && (!ou_rate(field[4], &ou.ceiling_bps) || ou.ceiling_bps < ou.floor_bps)))
		return fail(st, d, "ou", value, "floor or ceiling is not a rate above the floor");
	drop_trace(st->cfg, d);
	settings_of(st->cfg, d)->rate_kind = BRAID_RATE_OU;
	settings_of(st->cfg, d)->ou = ou;
	return 0;
}

static int set_trace(struct parse_state *st, enum dir d, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	char why[256];
	uint32_t *ms;
	size_t len;

	if (braid_emu_load_trace(value, &ms, &len, why, sizeof(why)))
		return fail(st, d, "trace", value, why);
	drop_trace(st->cfg, d);
	*trace_slot(st->cfg, d) = ms;
	s->trace_ms = ms;
	s->trace_len = len;
	s->rate_kind = BRAID_RATE_TRACE;
	return 0;
}

/* Where the replay starts in the trace; independent of which trace, so trace= keeps it. */
static int set_trace_offset(struct parse_state *st, enum dir d, const char *value)
{
	uint64_t offset;

	if (braid_emu_parse_duration(value, &offset) || offset > MAX_OUTAGE_US)
		return fail(st, d, "trace_offset", value, "not a time up to 11 days (us, ms, s)");
	settings_of(st->cfg, d)->trace_offset_us = offset;
	return 0;
}

static int set_loss(struct parse_state *st, enum dir d, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	struct braid_ge_settings ge;
	char copy[128], *field[5], *save = NULL;
	size_t n = 0;

	if (strcmp(value, "none") == 0 || strcmp(value, "0") == 0) {
		s->loss_kind = BRAID_LOSS_NONE;
		return 0;
	}
	if (strncmp(value, "ge:", 3) != 0) {
		if (braid_emu_parse_percent(value, &s->loss))
			return fail(st, d, "loss", value,
				    "not a percentage (1%) or ge:P:R:BAD:GOOD");
		s->loss_kind = BRAID_LOSS_RANDOM;
		return 0;
	}
	if (strlen(value) >= sizeof(copy))
		return fail(st, d, "loss", value, "too long");
	strcpy(copy, value + 3);
	for (char *f = strtok_r(copy, ":", &save); f && n < 5; f = strtok_r(NULL, ":", &save))
		field[n++] = f;
	if (n != 4 || braid_emu_parse_percent(field[0], &ge.p) ||
	    braid_emu_parse_percent(field[1], &ge.r) ||
	    braid_emu_parse_percent(field[2], &ge.loss_bad) ||
	    braid_emu_parse_percent(field[3], &ge.loss_good))
		return fail(st, d, "loss", value, "not ge:P:R:BAD:GOOD in percent "
			    "(e.g. ge:1%:10%:100%:0%)");
	s->loss_kind = BRAID_LOSS_GE;
	s->ge = ge;
	return 0;
}

static int set_queue(struct parse_state *st, enum dir d, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	uint64_t v;

	if (strcmp(value, "none") == 0 || strcmp(value, "0") == 0) {
		s->queue_us = 0;
		s->queue_bytes = 0;
	} else if (braid_emu_parse_duration(value, &v) == 0 && v > 0 && v <= MAX_DELAY_US) {
		s->queue_us = v;
	} else if (braid_emu_parse_size(value, &v) == 0 && v > 0) {
		s->queue_bytes = v;
	} else {
		return fail(st, d, "queue", value, "not a time up to 60s (200ms) or a size (64kb)");
	}
	return 0;
}

static int set_outage(struct parse_state *st, enum dir d, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	char copy[64], *plus;
	uint64_t start, length;

	if (!st->outages_given[d])
		s->outage_count = 0;
	st->outages_given[d] = true;
	if (strcmp(value, "none") == 0)
		return 0;
	if (strlen(value) >= sizeof(copy) || !(plus = strchr(strcpy(copy, value), '+')))
		return fail(st, d, "outage", value, "not START+DURATION (10s+5s)");
	*plus = '\0';
	if (braid_emu_parse_duration(copy, &start) || braid_emu_parse_duration(plus + 1, &length) ||
	    length == 0 || start > MAX_OUTAGE_US || length > MAX_OUTAGE_US)
		return fail(st, d, "outage", value, "not START+DURATION (10s+5s)");
	if (s->outage_count == BRAID_MODEL_MAX_OUTAGES)
		return fail(st, d, "outage", value, "too many outages (at most 16)");
	s->outages[s->outage_count].start_us = start;
	s->outages[s->outage_count].duration_us = length;
	s->outage_count++;
	return 0;
}

static int set_time(struct parse_state *st, enum dir d, const char *key, const char *value,
		    uint64_t *out)
{
	if (braid_emu_parse_duration(value, out) || *out > MAX_DELAY_US)
		return fail(st, d, key, value, "not a time up to 60s (us, ms, s)");
	return 0;
}

static int set_model_key(struct parse_state *st, enum dir d, const char *key, const char *value)
{
	struct braid_model_settings *s = settings_of(st->cfg, d);
	char *end;

	if (strcmp(key, "rate") == 0)
		return set_rate(st, d, value);
	if (strcmp(key, "ou") == 0)
		return set_ou(st, d, value);
	if (strcmp(key, "trace") == 0)
		return set_trace(st, d, value);
	if (strcmp(key, "trace_offset") == 0)
		return set_trace_offset(st, d, value);
	if (strcmp(key, "delay") == 0)
		return set_time(st, d, key, value, &s->delay_us);
	if (strcmp(key, "jitter") == 0)
		return set_time(st, d, key, value, &s->jitter_us);
	if (strcmp(key, "reorder") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
			return fail(st, d, key, value, "not on or off");
		s->reorder = strcmp(value, "on") == 0;
		return 0;
	}
	if (strcmp(key, "loss") == 0)
		return set_loss(st, d, value);
	if (strcmp(key, "queue") == 0)
		return set_queue(st, d, value);
	if (strcmp(key, "duplicate") == 0) {
		if (braid_emu_parse_percent(value, &s->duplicate))
			return fail(st, d, key, value, "not a percentage (0.5%)");
		return 0;
	}
	if (strcmp(key, "outage") == 0)
		return set_outage(st, d, value);
	if (strcmp(key, "seed") == 0) {
		errno = 0;
		unsigned long long seed = strtoull(value, &end, 10);

		if (errno || *value < '0' || *value > '9' || *end)
			return fail(st, d, key, value, "not a whole number");
		s->seed = seed;
		return 0;
	}
	snprintf(st->err, st->err_len, "unknown key '%s%s' (name, listen, to, rate, ou, trace, "
		 "trace_offset, delay, jitter, reorder, loss, queue, duplicate, outage, seed, rev)",
		 d == REV ? "rev." : "", key);
	return BRAID_ERR_INVAL;
}

static int set_name(struct parse_state *st, const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n > BRAID_EMU_NAME_MAX || strcmp(value, "*") == 0)
		return fail(st, FWD, "name", value, "must be 1 to 32 characters, not *");
	for (size_t i = 0; i < n; i++) {
		if (value[i] < 0x21 || value[i] > 0x7e || strchr(",=;#", value[i]))
			return fail(st, FWD, "name", value, "may hold only printable characters "
				    "other than , = ; #");
	}
	memcpy(st->cfg->name, value, n + 1);
	return 0;
}

/* "[HOST]:PORT", "HOST:PORT" or (listen only) ":PORT"/"PORT": the shape only; braid emu
 * resolves the host when it opens the link. */
static bool addr_text_valid(const char *text, bool need_host)
{
	const char *colon = strrchr(text, ':');
	const char *port = colon ? colon + 1 : text;
	size_t n = strlen(port);
	unsigned long v = 0;

	if (strlen(text) > BRAID_EMU_ADDR_TEXT_MAX || n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (port[i] < '0' || port[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v > 65535 || (need_host && (v == 0 || !colon || colon == text)))
		return false;
	if (text[0] == '[' && (!colon || colon[-1] != ']'))
		return false;
	return true;
}

static int set_link_key(struct parse_state *st, const char *key, const char *value)
{
	bool link_key = strcmp(key, "name") == 0 || strcmp(key, "listen") == 0 ||
			strcmp(key, "to") == 0;

	if (link_key && !st->link_keys)
		return fail(st, FWD, key, value, "cannot change while the link runs");
	if (strcmp(key, "name") == 0)
		return set_name(st, value);
	if (strcmp(key, "listen") == 0) {
		st->have_listen = addr_text_valid(value, false);
		if (!st->have_listen)
			return fail(st, FWD, key, value, "not [ADDR]:PORT");
		snprintf(st->cfg->listen_text, sizeof(st->cfg->listen_text), "%s", value);
		return 0;
	}
	if (strcmp(key, "to") == 0) {
		st->have_to = addr_text_valid(value, true);
		if (!st->have_to)
			return fail(st, FWD, key, value, "not HOST:PORT");
		snprintf(st->cfg->to_text, sizeof(st->cfg->to_text), "%s", value);
		return 0;
	}
	return set_model_key(st, FWD, key, value);
}

/* ---- the two passes ---- */

static int stash_rev(struct parse_state *st, char *key, char *value)
{
	if (st->rev_count == MAX_REV_PAIRS) {
		snprintf(st->err, st->err_len, "too many rev keys (at most %d)", MAX_REV_PAIRS);
		return BRAID_ERR_INVAL;
	}
	st->rev[st->rev_count].key = key;
	st->rev[st->rev_count].value = value;
	st->rev_count++;
	return 0;
}

static int split_pair(struct parse_state *st, char *pair, char **key, char **value)
{
	char *eq = strchr(pair, '=');

	if (!eq || eq == pair) {
		snprintf(st->err, st->err_len, "'%s' is not key=value", pair);
		return BRAID_ERR_INVAL;
	}
	*eq = '\0';
	*key = pair;
	*value = eq + 1;
	return 0;
}

/* rev=KEY=V;KEY=V: the pairs wait for the second pass. */
static int stash_rev_list(struct parse_state *st, char *list)
{
	char *save = NULL, *key, *value;
	int rc = 0;

	if (!*list) {
		snprintf(st->err, st->err_len, "rev '': needs KEY=VALUE;KEY=VALUE...");
		return BRAID_ERR_INVAL;
	}
	for (char *p = strtok_r(list, ";", &save); p && rc == 0; p = strtok_r(NULL, ";", &save)) {
		rc = split_pair(st, p, &key, &value);
		if (rc == 0)
			rc = stash_rev(st, key, value);
	}
	return rc;
}

static int forward_pass(struct parse_state *st, char *spec)
{
	char *save = NULL, *key, *value;
	int rc = 0;

	for (char *p = strtok_r(spec, ",", &save); p && rc == 0; p = strtok_r(NULL, ",", &save)) {
		rc = split_pair(st, p, &key, &value);
		if (rc)
			break;
		if (strcmp(key, "rev") == 0)
			rc = stash_rev_list(st, value);
		else if (strncmp(key, "rev.", 4) == 0)
			rc = stash_rev(st, key + 4, value);
		else
			rc = set_link_key(st, key, value);
	}
	return rc;
}

static void derive_rev(struct braid_emu_link_config *cfg)
{
	cfg->rev.delay_us = cfg->fwd.delay_us;
	cfg->rev.jitter_us = cfg->fwd.jitter_us;
	cfg->rev.reorder = cfg->fwd.reorder;
	memcpy(cfg->rev.outages, cfg->fwd.outages, sizeof(cfg->rev.outages));
	cfg->rev.outage_count = cfg->fwd.outage_count;
	cfg->rev.seed = cfg->fwd.seed ^ REV_SEED_MIX;
}

/* The model is the judge of what it can run; the keys should never let it refuse. */
static int check_models(struct parse_state *st)
{
	for (int d = FWD; d <= REV; d++) {
		struct braid_model *m = braid_model_new(settings_of(st->cfg, (enum dir)d), 0);

		if (!m) {
			snprintf(st->err, st->err_len, "the %s settings cannot be run",
				 d == FWD ? "forward" : "return");
			return BRAID_ERR_INVAL;
		}
		braid_model_free(m);
	}
	return 0;
}

static int parse_into(struct parse_state *st, const char *spec)
{
	char copy[BRAID_EMU_SPEC_MAX];
	int rc;

	if (!spec || !*spec) {
		snprintf(st->err, st->err_len, "empty spec");
		return BRAID_ERR_INVAL;
	}
	if (strlen(spec) >= sizeof(copy)) {
		snprintf(st->err, st->err_len, "spec too long (at most %d bytes)",
			 BRAID_EMU_SPEC_MAX - 1);
		return BRAID_ERR_INVAL;
	}
	strcpy(copy, spec);
	rc = forward_pass(st, copy);
	if (rc)
		return rc;
	if (st->link_keys)
		derive_rev(st->cfg);
	for (size_t i = 0; i < st->rev_count && rc == 0; i++)
		rc = set_model_key(st, REV, st->rev[i].key, st->rev[i].value);
	if (rc)
		return rc;
	if (st->link_keys && !st->addresses_optional && (!st->have_listen || !st->have_to)) {
		snprintf(st->err, st->err_len, "%s is required",
			 st->have_listen ? "to=" : "listen=");
		return BRAID_ERR_INVAL;
	}
	return check_models(st);
}

int braid_emu_parse_link(const char *spec, unsigned index, struct braid_emu_link_config *out,
			 char *err, size_t err_len)
{
	return braid_emu_parse_link_flags(spec, index, 0, out, err, err_len);
}

int braid_emu_parse_link_flags(const char *spec, unsigned index, unsigned flags,
			       struct braid_emu_link_config *out, char *err, size_t err_len)
{
	struct parse_state st = { .cfg = out, .link_keys = true, .err = err, .err_len = err_len,
				  .addresses_optional = (flags & BRAID_EMU_NO_ADDRESS) != 0 };
	int rc;

	braid_emu_link_config_init(out, index);
	rc = parse_into(&st, spec);
	if (rc)
		braid_emu_link_config_free(out);
	return rc;
}

int braid_emu_apply_keys(struct braid_emu_link_config *cfg, const char *keys, char *err,
			 size_t err_len)
{
	struct braid_emu_link_config work;
	struct parse_state st = { .cfg = &work, .err = err, .err_len = err_len };
	int rc;

	if (braid_emu_link_config_copy(&work, cfg)) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	rc = parse_into(&st, keys);
	if (rc) {
		braid_emu_link_config_free(&work);
		return rc;
	}
	braid_emu_link_config_free(cfg);
	*cfg = work;
	return 0;
}

int braid_emu_new_models(const struct braid_emu_link_config *cfg, uint64_t start_us,
			 uint64_t reseed, struct braid_model *out[2])
{
	struct braid_model_settings fwd = cfg->fwd, rev = cfg->rev;

	fwd.seed ^= reseed;
	rev.seed ^= reseed;
	out[0] = braid_model_new(&fwd, start_us);
	out[1] = braid_model_new(&rev, start_us);
	if (out[0] && out[1])
		return 0;
	braid_model_free(out[0]);
	braid_model_free(out[1]);
	out[0] = out[1] = NULL;
	return BRAID_ERR_INVAL;
}
