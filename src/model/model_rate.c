/* The bottleneck server of a link model. Every kind is a FIFO: a datagram starts being sent
 * when it arrives or when the one ahead of it has left, whichever is later.
 *
 * OU: the rate is piecewise constant over intervals of update_us counted from the model's
 * start; interval i + 1's rate comes from interval i's by the exact OU transition, clamped
 * to [floor, ceiling] (the clamped value is the new state). The path is drawn one interval
 * at a time from its own generator, so it depends on time alone, not on what is offered;
 * a datagram that spans a rate change is sent at each rate for the part it overlaps.
 *
 * TRACE: mahimahi semantics with mahimahi's byte accounting. Entry t (ms) of loop k is an
 * opportunity at start + (k * period + t) ms, period being the last entry. Each opportunity
 * carries up to 1500 bytes of whatever is queued by then, so small datagrams share one and a
 * large one spans several; a datagram leaves at the opportunity that carries its last byte.
 * Room unused at an opportunity is lost, as on a real link when the queue is empty. Saturated,
 * the throughput is the trace's: entries * 1500 * 8 / period bit/s, whatever the sizes.
 * A trace offset starts the replay that far into the trace: at start, its entry at the offset
 * (several links can replay one trace from different moments). */
#include "model/model_rate.h"

#include <math.h>

#define TRACE_MTU 1500u
#define OU_DEFAULT_UPDATE_US 100000u
/* Longer silences are crossed with one exact multi-interval OU step instead of one per
 * interval: same distribution, bounded work. */
#define OU_MAX_STEPS 65536u
/* Keeps interval arithmetic far from overflow: about 12 days. */
#define MAX_INTERVAL_US (UINT64_C(1) << 40)
#define TRACE_RATE_WINDOW_US 100000u
/* Slower is a configuration mistake, and would push serialization times towards overflow. */
#define MIN_RATE_BPS 1.0
/* Rounding noise below this (in microseconds) is snapped away so that sums of
 * non-integral serialization times land on exact microseconds when they should. */
#define FINE_SNAP 1e-6

static bool finite_at_least(double x, double min)
{
	return isfinite(x) && x >= min;
}

static bool ou_settings_valid(const struct braid_ou_settings *ou)
{
	if (!finite_at_least(ou->mean_bps, MIN_RATE_BPS))
		return false;
	if (!finite_at_least(ou->theta, 0) || ou->theta == 0)
		return false;
	if (!finite_at_least(ou->sigma_bps, 0) || !finite_at_least(ou->floor_bps, 0))
		return false;
	if (!finite_at_least(ou->ceiling_bps, 0))
		return false;
	if (ou->ceiling_bps != 0 && ou->ceiling_bps < ou->floor_bps)
		return false;
	return ou->update_us <= MAX_INTERVAL_US;
}

static bool trace_valid(const uint32_t *ms, size_t len)
{
	size_t i;

	if (ms == NULL || len == 0 || ms[len - 1] == 0)
		return false;
	for (i = 1; i < len; i++) {
		if (ms[i] < ms[i - 1])
			return false;
	}
	return true;
}

bool braid__rate_settings_valid(const struct braid_model_settings *s)
{
	switch (s->rate_kind) {
	case BRAID_RATE_UNLIMITED:
		return true;
	case BRAID_RATE_CONSTANT:
		return finite_at_least(s->rate_bps, MIN_RATE_BPS);
	case BRAID_RATE_OU:
		return ou_settings_valid(&s->ou);
	case BRAID_RATE_TRACE:
		return trace_valid(s->trace_ms, s->trace_len);
	}
	return false;
}

static void fine_add(struct braid__fine_time *t, double us)
{
	double total = t->frac + us;
	double whole = floor(total);
	double frac = total - whole;

	if (frac > 1.0 - FINE_SNAP) {
		whole += 1.0;
		frac = 0.0;
	} else if (frac < FINE_SNAP) {
		frac = 0.0;
	}
	t->us += (uint64_t)whole;
	t->frac = frac;
}

static uint64_t fine_ceil(struct braid__fine_time t)
{
	return t.frac > 0 ? t.us + 1 : t.us;
}

/* When service can start for a datagram arriving at now_us. */
static struct braid__fine_time fine_later(struct braid__fine_time busy_until, uint64_t now_us)
{
	if (now_us > busy_until.us) {
		busy_until.us = now_us;
		busy_until.frac = 0;
	}
	return busy_until;
}

static uint64_t constant_serve(struct braid__rate *r, uint64_t now_us, size_t bytes)
{
	struct braid__fine_time t = fine_later(r->free_at, now_us);

	fine_add(&t, (double)bytes * 8e6 / r->rate_bps);
	r->free_at = t;
	return fine_ceil(t);
}

/* ---- OU ---- */

static double ou_clamp(const struct braid_ou_settings *ou, double x)
{
	if (x < ou->floor_bps)
		return ou->floor_bps;
	if (ou->ceiling_bps > 0 && x > ou->ceiling_bps)
		return ou->ceiling_bps;
	return x;
}

static double ou_newest(const struct braid__ou_path *p)
{
	return p->history[p->frontier % BRAID__OU_HISTORY];
}

static void ou_init(struct braid__ou_path *p, const struct braid_ou_settings *s, uint64_t seed)
{
	double dt;
	size_t i;

	p->settings = *s;
	if (p->settings.update_us == 0)
		p->settings.update_us = OU_DEFAULT_UPDATE_US;
	dt = (double)p->settings.update_us / 1e6;
	braid_rng_seed(&p->rng, seed);
	p->step_decay = exp(-s->theta * dt);
	p->step_spread = s->sigma_bps *
			 sqrt(-expm1(-2.0 * s->theta * dt) / (2.0 * s->theta));
	p->frontier = 0;
	for (i = 0; i < BRAID__OU_HISTORY; i++)
		p->history[i] = ou_clamp(s, s->mean_bps);
}

static double ou_transition(struct braid__ou_path *p, double x, double decay, double spread)
{
	double mean = p->settings.mean_bps;

	return ou_clamp(&p->settings,
			mean + (x - mean) * decay + spread * braid_rng_normal(&p->rng));
}

static void ou_step(struct braid__ou_path *p)
{
	double x = ou_transition(p, ou_newest(p), p->step_decay, p->step_spread);

	p->frontier++;
	p->history[p->frontier % BRAID__OU_HISTORY] = x;
}

/* Crosses `steps` intervals at once; the skipped ones are never asked for again because the
 * clock has passed them, so the whole history takes the new value. */
static void ou_jump(struct braid__ou_path *p, uint64_t steps)
{
	double span = p->settings.theta * (double)p->settings.update_us / 1e6 * (double)steps;
	double decay = exp(-span);
	double spread = p->settings.sigma_bps *
			sqrt(-expm1(-2.0 * span) / (2.0 * p->settings.theta));
	double x = ou_transition(p, ou_newest(p), decay, spread);
	size_t i;

	p->frontier += steps;
	for (i = 0; i < BRAID__OU_HISTORY; i++)
		p->history[i] = x;
}

static uint64_t ou_interval_of(const struct braid__rate *r, uint64_t t_us)
{
	return t_us > r->start_us ? (t_us - r->start_us) / r->ou.settings.update_us : 0;
}

static void ou_advance_to(struct braid__ou_path *p, uint64_t interval)
{
	if (interval > p->frontier && interval - p->frontier > OU_MAX_STEPS)
		ou_jump(p, interval - p->frontier);
	while (p->frontier < interval)
		ou_step(p);
}

static uint64_t ou_serve(struct braid__rate *r, uint64_t now_us, size_t bytes)
{
	struct braid__fine_time t = fine_later(r->free_at, now_us);
	double bits = (double)bytes * 8.0;

	for (;;) {
		uint64_t interval = ou_interval_of(r, t.us);
		uint64_t end_us = r->start_us + (interval + 1) * r->ou.settings.update_us;
		double room_us = (double)(end_us - t.us) - t.frac;
		double rate, room_bits;

		ou_advance_to(&r->ou, interval);
		rate = r->ou.history[interval % BRAID__OU_HISTORY];
		room_bits = rate * room_us / 1e6;
		if (rate > 0 && bits <= room_bits) {
			fine_add(&t, bits * 1e6 / rate);
			break;
		}
		bits -= room_bits;
		t.us = end_us;
		t.frac = 0;
	}
	r->free_at = t;
	return fine_ceil(t);
}

static double ou_rate_at(const struct braid__rate *r, uint64_t now_us)
{
	const struct braid__ou_path *p = &r->ou;
	uint64_t interval = ou_interval_of(r, now_us);

	/* Not drawn yet (stats are read-only): the newest rate is the best guess. */
	if (interval > p->frontier)
		return ou_newest(p);
	if (p->frontier - interval >= BRAID__OU_HISTORY)
		interval = p->frontier - (BRAID__OU_HISTORY - 1);
	return p->history[interval % BRAID__OU_HISTORY];
}

/* ---- TRACE ---- */

/* Times along the trace: a position is microseconds into the trace looped from its origin,
 * loop * period + entry; it is replayed at start_us + position - offset_us. Positions before
 * offset_us are never replayed. */

static uint64_t trace_time(const struct braid__rate *r, size_t index, uint64_t loop)
{
	const struct braid__trace_server *tr = &r->trace;

	return r->start_us + loop * tr->period_us + (uint64_t)tr->ms[index] * 1000 - tr->offset_us;
}

/* How many entries of one loop come strictly before offset_us into it. */
static size_t trace_entries_before(const struct braid__trace_server *tr, uint64_t offset_us)
{
	size_t lo = 0, hi = tr->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uint64_t)tr->ms[mid] * 1000 < offset_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Points next_index and next_loop at the first entry at or after `position`. */
static void trace_point_at(struct braid__trace_server *tr, uint64_t position)
{
	uint64_t loop, full_loops = position / tr->period_us;

	/* The previous loop's last entries can fall exactly on the position, and the current
	 * loop's last entry is after it. */
	loop = full_loops > 0 ? full_loops - 1 : 0;
	for (; loop <= full_loops; loop++) {
		size_t index = trace_entries_before(tr, position - loop * tr->period_us);

		if (index < tr->len) {
			tr->next_index = index;
			tr->next_loop = loop;
			return;
		}
	}
	tr->next_index = 0;
	tr->next_loop = full_loops + 1;
}

/* Opportunities before now_us went by with nothing queued: skip to the first at or after. */
static void trace_seek(struct braid__rate *r, uint64_t now_us)
{
	struct braid__trace_server *tr = &r->trace;

	if (trace_time(r, tr->next_index, tr->next_loop) >= now_us)
		return;
	/* now_us is past an opportunity, hence past start_us. */
	trace_point_at(tr, now_us - r->start_us + tr->offset_us);
}

static uint64_t trace_take_opportunity(struct braid__rate *r)
{
	struct braid__trace_server *tr = &r->trace;
	uint64_t at = trace_time(r, tr->next_index, tr->next_loop);

	tr->next_index++;
	if (tr->next_index == tr->len) {
		tr->next_index = 0;
		tr->next_loop++;
	}
	return at;
}

static uint64_t trace_serve(struct braid__rate *r, uint64_t now_us, size_t bytes)
{
	struct braid__trace_server *tr = &r->trace;
	/* Even an empty datagram needs an opportunity to leave. */
	uint64_t need = bytes > 0 ? (uint64_t)bytes : 1;
	uint64_t departure = now_us;

	if (tr->partial_bytes > 0 && tr->partial_at_us >= now_us) {
		uint64_t used = need < tr->partial_bytes ? need : tr->partial_bytes;

		need -= used;
		tr->partial_bytes -= used;
		departure = tr->partial_at_us;
	} else {
		tr->partial_bytes = 0;
	}
	if (need > 0)
		trace_seek(r, now_us);
	while (need > 0) {
		uint64_t used = need < TRACE_MTU ? need : TRACE_MTU;

		departure = trace_take_opportunity(r);
		need -= used;
		tr->partial_bytes = TRACE_MTU - used;
		tr->partial_at_us = departure;
	}
	return departure;
}

/* Entries at positions strictly before `position`. */
static uint64_t trace_entries_up_to(const struct braid__trace_server *tr, uint64_t position)
{
	uint64_t loops = position / tr->period_us;

	return loops * tr->len + trace_entries_before(tr, position - loops * tr->period_us);
}

static uint64_t trace_opportunities_before(const struct braid__rate *r, uint64_t t_us)
{
	const struct braid__trace_server *tr = &r->trace;

	if (t_us <= r->start_us)
		return 0;
	return trace_entries_up_to(tr, t_us - r->start_us + tr->offset_us) -
	       trace_entries_up_to(tr, tr->offset_us);
}

static double trace_rate_at(const struct braid__rate *r, uint64_t now_us)
{
	uint64_t window = TRACE_RATE_WINDOW_US;
	uint64_t count;

	if (now_us <= r->start_us)
		return (double)r->trace.len * TRACE_MTU * 8.0 * 1e6 / (double)r->trace.period_us;
	if (now_us - r->start_us < window)
		window = now_us - r->start_us;
	count = trace_opportunities_before(r, now_us) -
		trace_opportunities_before(r, now_us - window);
	return (double)count * TRACE_MTU * 8.0 * 1e6 / (double)window;
}

/* ---- dispatch ---- */

void braid__rate_init(struct braid__rate *r, const struct braid_model_settings *s,
		      uint64_t start_us, uint64_t ou_seed)
{
	r->kind = s->rate_kind;
	r->start_us = start_us;
	r->free_at.us = 0;
	r->free_at.frac = 0;
	r->rate_bps = s->rate_bps;
	if (s->rate_kind == BRAID_RATE_OU)
		ou_init(&r->ou, &s->ou, ou_seed);
	if (s->rate_kind == BRAID_RATE_TRACE) {
		r->trace.ms = s->trace_ms;
		r->trace.len = s->trace_len;
		r->trace.period_us = (uint64_t)s->trace_ms[s->trace_len - 1] * 1000;
		r->trace.offset_us = s->trace_offset_us % r->trace.period_us;
		trace_point_at(&r->trace, r->trace.offset_us);
		r->trace.partial_bytes = 0;
		r->trace.partial_at_us = 0;
	}
}

void braid__rate_advance(struct braid__rate *r, uint64_t now_us)
{
	if (r->kind == BRAID_RATE_OU)
		ou_advance_to(&r->ou, ou_interval_of(r, now_us));
}

uint64_t braid__rate_serve(struct braid__rate *r, uint64_t now_us, size_t bytes)
{
	switch (r->kind) {
	case BRAID_RATE_UNLIMITED:
		break;
	case BRAID_RATE_CONSTANT:
		return constant_serve(r, now_us, bytes);
	case BRAID_RATE_OU:
		return ou_serve(r, now_us, bytes);
	case BRAID_RATE_TRACE:
		return trace_serve(r, now_us, bytes);
	}
	return now_us;
}

double braid__rate_current_bps(const struct braid__rate *r, uint64_t now_us)
{
	switch (r->kind) {
	case BRAID_RATE_UNLIMITED:
		break;
	case BRAID_RATE_CONSTANT:
		return r->rate_bps;
	case BRAID_RATE_OU:
		return ou_rate_at(r, now_us);
	case BRAID_RATE_TRACE:
		return trace_rate_at(r, now_us);
	}
	return 0;
}
