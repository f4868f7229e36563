/* The clairvoyant bound (bound.h): the links' delivery opportunities from their models, an
 * earliest-deadline-first pass over them for one stream rate, and a binary search over the
 * rate.
 *
 * Why the pass is optimal: on the axis of send times, an opportunity at tau on a path of
 * delay d can carry any packet sent in [tau + d - d_min - budget, tau], an interval ending
 * at tau. Taking the intervals by their end and giving each the earliest packet still
 * waiting in it is the classic greedy for matching points to intervals: a packet passed
 * over now is one no later interval wants more, since every later interval ends later and
 * so contains the later packets whenever it contains the earlier one. */
#include "sim/bound.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "base/rng.h"
#include "sim/sim_internal.h"

#define INITIAL_CAPACITY 4096u
/* More stream packets than this in one pass are refused (a 256 MiB index). */
#define MAX_PACKETS (UINT64_C(1) << 26)
/* The search stops when the bracket is this narrow, relative to its top... */
#define SEARCH_PRECISION 1e-4
/* ...or after this many halvings (a bound of 0 never narrows relatively). */
#define SEARCH_STEPS 64
/* The loss draws of the bound come from a generator of their own, seeded from the link's. */
#define LOSS_SEED_MIX UINT64_C(0x6c6f73735f626e64)

void braid_bound_problem_init(struct braid_bound_problem *p)
{
	memset(p, 0, sizeof(*p));
	p->fastest_delay_us = UINT64_MAX;
}

void braid_bound_problem_free(struct braid_bound_problem *p)
{
	free(p->opportunities);
	p->opportunities = NULL;
	p->count = p->capacity = 0;
}

int braid_bound_add(struct braid_bound_problem *p, uint64_t at_us, uint64_t delay_us)
{
	if (p->count == p->capacity) {
		size_t capacity = p->capacity ? 2 * p->capacity : INITIAL_CAPACITY;
		struct braid_bound_opportunity *grown;

		if (p->count >= BRAID_BOUND_MAX_OPPORTUNITIES)
			return BRAID_ERR_FULL;
		grown = realloc(p->opportunities, capacity * sizeof(*grown));
		if (!grown)
			return BRAID_ERR_NOMEM;
		p->opportunities = grown;
		p->capacity = capacity;
	}
	p->opportunities[p->count].at_us = at_us;
	p->opportunities[p->count].delay_us = delay_us;
	p->count++;
	if (delay_us < p->fastest_delay_us)
		p->fastest_delay_us = delay_us;
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct braid_bound_opportunity *x = a, *y = b;

	if (x->at_us != y->at_us)
		return x->at_us < y->at_us ? -1 : 1;
	return (x->delay_us > y->delay_us) - (x->delay_us < y->delay_us);
}

void braid_bound_sort(struct braid_bound_problem *p)
{
	if (p->count > 1)
		qsort(p->opportunities, p->count, sizeof(*p->opportunities), by_time);
}

/* ---- one pass at one rate ---- */

/* The simulator's media source at one rate: packet k leaves at start + round(k * interval). */
struct stream {
	uint64_t start_us, count;
	double interval_us;
};

static uint64_t send_time(const struct stream *s, uint64_t k)
{
	return s->start_us + (uint64_t)((double)k * s->interval_us + 0.5);
}

static int stream_at(const struct braid_bound_problem *p, double rate_bps, struct stream *s)
{
	double packets;

	if (!(rate_bps > 0) || p->packet_bytes == 0 || p->duration_us == 0)
		return BRAID_ERR_INVAL;
	s->start_us = p->stream_start_us;
	s->interval_us = (double)p->packet_bytes * 8e6 / rate_bps;
	packets = (double)p->duration_us / s->interval_us;
	if (packets >= (double)MAX_PACKETS)
		return BRAID_ERR_FULL;
	s->count = (uint64_t)packets;
	if ((double)s->count * s->interval_us < (double)p->duration_us)
		s->count++;
	return 0;
}

/* The first packet sent at or after t_us (count when none is). */
static uint64_t first_sent_from(const struct stream *s, uint64_t t_us)
{
	uint64_t k;

	if (t_us <= s->start_us)
		return 0;
	k = (uint64_t)((double)(t_us - s->start_us) / s->interval_us);
	if (k > s->count)
		k = s->count;
	while (k > 0 && send_time(s, k - 1) >= t_us)
		k--;
	while (k < s->count && send_time(s, k) < t_us)
		k++;
	return k;
}

/* waiting[k] leads towards the first packet at or after k not yet carried (count: none);
 * path halving keeps the chains short. */
static uint32_t first_waiting(uint32_t *waiting, uint32_t k)
{
	while (waiting[k] != k) {
		waiting[k] = waiting[waiting[k]];
		k = waiting[k];
	}
	return k;
}

/* The earliest packet an opportunity may carry was sent at tau + d - d_min - budget. */
static uint64_t earliest_send(const struct braid_bound_problem *p,
			      const struct braid_bound_opportunity *o)
{
	uint64_t arrival = o->at_us + o->delay_us;
	uint64_t slack = p->fastest_delay_us + p->budget_us;

	return arrival > slack ? arrival - slack : 0;
}

int braid_bound_deliverable(const struct braid_bound_problem *p, double rate_bps,
			    uint64_t *sent, uint64_t *delivered)
{
	struct stream s;
	uint32_t *waiting;
	uint64_t made = 0, carried = 0;
	int rc = stream_at(p, rate_bps, &s);

	if (rc)
		return rc;
	waiting = malloc((s.count + 1) * sizeof(*waiting));
	if (!waiting)
		return BRAID_ERR_NOMEM;
	for (uint64_t k = 0; k <= s.count; k++)
		waiting[k] = (uint32_t)k;
	for (size_t i = 0; i < p->count; i++) {
		const struct braid_bound_opportunity *o = &p->opportunities[i];
		uint32_t k;

		while (made < s.count && send_time(&s, made) <= o->at_us)
			made++;
		k = first_waiting(waiting, (uint32_t)first_sent_from(&s, earliest_send(p, o)));
		if (k < made) {
			waiting[k] = k + 1;
			carried++;
		}
	}
	free(waiting);
	*sent = s.count;
	*delivered = carried;
	return 0;
}

/* ---- the search ---- */

static int lossless_at(const struct braid_bound_problem *p, double rate_bps, double max_loss,
		       bool *ok)
{
	uint64_t sent, delivered;
	int rc = braid_bound_deliverable(p, rate_bps, &sent, &delivered);

	if (rc == 0)
		*ok = (double)(sent - delivered) <= max_loss * (double)sent;
	return rc;
}

int braid_bound_search(const struct braid_bound_problem *p, double max_loss, double *rate_bps)
{
	double low = 0, high;

	if (!(max_loss >= 0 && max_loss < 1) || p->packet_bytes == 0 || p->duration_us == 0)
		return BRAID_ERR_INVAL;
	/* Above this the stream has more packets than the links have opportunities, beyond
	 * what max_loss forgives. */
	high = ((double)p->count / (1 - max_loss) + 2) * (double)p->packet_bytes * 8e6 /
	       (double)p->duration_us;
	for (int step = 0; step < SEARCH_STEPS && high - low > SEARCH_PRECISION * high; step++) {
		double middle = (low + high) / 2;
		bool ok;
		int rc = lossless_at(p, middle, max_loss, &ok);

		if (rc)
			return rc;
		*(ok ? &low : &high) = middle;
	}
	*rate_bps = low;
	return 0;
}

/* ---- a scenario's opportunities ---- */

/* The loss process of a link, drawn once per opportunity. */
struct opportunity_loss {
	enum braid_loss_kind kind;
	double probability;
	struct braid_ge_settings ge;
	bool bad;
	struct braid_rng rng;
};

static void loss_init(struct opportunity_loss *l, const struct braid_model_settings *s)
{
	l->kind = s->loss_kind;
	l->probability = s->loss;
	l->ge = s->ge;
	l->bad = false;
	braid_rng_seed(&l->rng, s->seed ^ LOSS_SEED_MIX);
}

/* Two draws every time, as the model's loss and chain step, whatever the kind. */
static bool opportunity_lost(struct opportunity_loss *l)
{
	double loss = braid_rng_uniform(&l->rng), step = braid_rng_uniform(&l->rng);
	bool lost;

	switch (l->kind) {
	case BRAID_LOSS_NONE:
		break;
	case BRAID_LOSS_RANDOM:
		return loss < l->probability;
	case BRAID_LOSS_GE:
		lost = loss < (l->bad ? l->ge.loss_bad : l->ge.loss_good);
		if (step < (l->bad ? l->ge.r : l->ge.p))
			l->bad = !l->bad;
		return lost;
	}
	return false;
}

/* When the scheduled outage covering now_us ends (the model's outages are relative to its
 * start, the run's start); now_us + 1 when none does. */
static uint64_t outage_end(const struct braid_model_settings *s, uint64_t now_us)
{
	uint64_t since = now_us - SIM_BASE_US, end = now_us + 1;

	for (size_t i = 0; i < s->outage_count; i++) {
		const struct braid_outage *o = &s->outages[i];
		uint64_t o_end = SIM_BASE_US + o->start_us + o->duration_us;

		if (since >= o->start_us && since - o->start_us < o->duration_us && o_end > end)
			end = o_end;
	}
	return end;
}

/* One span of a link under one set of settings. */
struct segment {
	const struct braid_emu_link_config *cfg;
	uint64_t reseed;         /* as the simulator seeds the link's models now */
	uint64_t from_us, to_us; /* absolute: offers made in [from, to) */
	uint64_t horizon_us;     /* absolute: no packet can use an opportunity after this */
	size_t packet_bytes;
};

/* The link's forward server kept busy with stream-sized packets: each departure is an
 * opportunity. Loss, queue limits, jitter, delay and duplication are left out of the model
 * so the server is all that remains; loss is then drawn per opportunity. */
static int add_segment(struct braid_bound_problem *p, const struct segment *seg)
{
	struct braid_model_settings server = seg->cfg->fwd;
	struct opportunity_loss loss;
	struct braid_model *m;
	uint64_t now = seg->from_us;
	int rc = 0;

	server.seed ^= seg->reseed;
	loss_init(&loss, &server);
	server.loss_kind = BRAID_LOSS_NONE;
	server.queue_bytes = server.queue_us = 0;
	server.jitter_us = server.delay_us = 0;
	server.duplicate = 0;
	m = braid_model_new(&server, SIM_BASE_US);
	if (!m)
		return BRAID_ERR_INVAL; /* checked when parsed: cannot happen */
	while (rc == 0 && now < seg->to_us) {
		struct braid_fate fate = braid_model_offer(m, now, seg->packet_bytes);
		uint64_t at = fate.deliver_at_us;

		if (fate.kind != BRAID_FATE_DELIVER) {
			now = outage_end(&server, now);
			continue;
		}
		if (at > seg->horizon_us)
			break;
		if (!opportunity_lost(&loss))
			rc = braid_bound_add(p, at - SIM_BASE_US, seg->cfg->fwd.delay_us);
		/* Offered just before the server is free, the next packet follows without a gap
		 * (and without the rounding of each departure to a whole microsecond). */
		if (at > now + 1)
			now = at - 1;
	}
	braid_model_free(m);
	return rc;
}

static bool event_names(const struct braid_emu_event *ev, const char *link)
{
	return strcmp(ev->link, "*") == 0 || strcmp(ev->link, link) == 0;
}

static void set_blackhole(bool *blackhole, enum braid_emu_action action)
{
	if (action == BRAID_EMU_BLACKHOLE_TOGGLE)
		*blackhole = !*blackhole;
	else
		*blackhole = action == BRAID_EMU_BLACKHOLE_ON;
}

/* A link's life over the run: its settings between the events that change them, and no
 * opportunity while it is blackholed. 1 when it has no rate limit somewhere. */
static int add_link(struct braid_bound_problem *p, const struct braid_sim_scenario *sc,
		    size_t index, uint64_t horizon_us)
{
	const struct braid_emu_scenario *emu = &sc->emu;
	struct braid_emu_link_config cfg;
	struct segment seg = { .cfg = &cfg, .reseed = sim_model_reseed(sc->seed, 0),
			       .from_us = SIM_BASE_US, .horizon_us = horizon_us,
			       .packet_bytes = sc->packet_bytes };
	uint64_t reconfigurations = 0;
	bool blackhole = false;
	int rc = 0;

	if (braid_emu_link_config_copy(&cfg, &emu->links[index]))
		return BRAID_ERR_NOMEM;
	for (size_t e = 0; e <= emu->event_count; e++) {
		const struct braid_emu_event *ev = e < emu->event_count ? &emu->events[e] : NULL;
		char why[256];

		if (ev && !event_names(ev, cfg.name))
			continue;
		seg.to_us = ev ? SIM_BASE_US + ev->at_us : horizon_us;
		if (seg.to_us > horizon_us)
			seg.to_us = horizon_us;
		if (!blackhole && seg.to_us > seg.from_us) {
			if (cfg.fwd.rate_kind == BRAID_RATE_UNLIMITED)
				rc = 1;
			else
				rc = add_segment(p, &seg);
		}
		if (seg.to_us > seg.from_us)
			seg.from_us = seg.to_us;
		if (!ev || rc != 0)
			break;
		if (ev->action != BRAID_EMU_SET) {
			set_blackhole(&blackhole, ev->action);
			continue;
		}
		/* As the simulator: a change counts, and reseeds, even when it changes nothing. */
		seg.reseed = sim_model_reseed(sc->seed, ++reconfigurations);
		if (braid_emu_apply_keys(&cfg, ev->keys, why, sizeof(why)))
			rc = BRAID_ERR_INVAL; /* checked when parsed: cannot happen */
	}
	braid_emu_link_config_free(&cfg);
	return rc;
}

int braid_sim_bound_problem(const struct braid_sim_scenario *sc, struct braid_bound_problem *p,
			    bool *unlimited, char *err, size_t err_len)
{
	/* The last packet's deadline, on the fastest path: later opportunities serve nobody. */
	uint64_t horizon = SIM_BASE_US + sc->stream_start_us + sc->duration_us +
			   sc->sender.latency_us;

	braid_bound_problem_init(p);
	*unlimited = false;
	p->budget_us = sc->sender.latency_us;
	p->stream_start_us = sc->stream_start_us;
	p->duration_us = sc->duration_us;
	p->packet_bytes = sc->packet_bytes;
	if (sc->packet_bytes == 0 || sc->duration_us == 0) {
		snprintf(err, err_len, "the stream needs packets and a duration for a bound");
		return BRAID_ERR_INVAL;
	}
	for (size_t i = 0; i < sc->emu.link_count; i++) {
		int rc = add_link(p, sc, i, horizon);

		if (rc == 1) {
			*unlimited = true;
			return 0;
		}
		if (rc == BRAID_ERR_FULL) {
			snprintf(err, err_len, "the links offer more than %llu delivery "
				 "opportunities over the run: too many for a bound (shorten it)",
				 (unsigned long long)BRAID_BOUND_MAX_OPPORTUNITIES);
			return rc;
		}
		if (rc) {
			snprintf(err, err_len, "link %s: %s", sc->emu.links[i].name,
				 braid_strerror(rc));
			return rc;
		}
	}
	braid_bound_sort(p);
	return 0;
}

bool braid_sim_lossless(const struct braid_sim_metrics *m)
{
	return m->residual_loss <= BRAID_SIM_LOSSLESS;
}

double braid_sim_bound_share(const struct braid_sim_bound *b, const struct braid_sim_metrics *m)
{
	if (b->unlimited || !(b->rate_bps > 0))
		return NAN;
	return m->throughput_mbps * 1e6 / b->rate_bps;
}

int braid_sim_bound(const struct braid_sim_scenario *sc, struct braid_sim_bound *out, char *err,
		    size_t err_len)
{
	struct braid_bound_problem p;
	int rc = braid_sim_bound_problem(sc, &p, &out->unlimited, err, err_len);

	out->rate_bps = 0;
	out->opportunities = p.count;
	if (rc == 0 && !out->unlimited) {
		rc = braid_bound_search(&p, BRAID_SIM_LOSSLESS, &out->rate_bps);
		if (rc)
			snprintf(err, err_len, "the bound's search: %s", braid_strerror(rc));
	}
	braid_bound_problem_free(&p);
	return rc;
}
