/* Link models: the fate of each offered datagram, decided on arrival. The decisions, in order:
 * outage or blackhole, loss (random or Gilbert-Elliott), drop-tail queue, service by the rate
 * server (model_rate.c), then propagation delay with jitter, and maybe a duplicate.
 *
 * Randomness: one generator seeded with settings.seed. Its first value seeds the OU rate path's
 * own generator (so the path depends on time only); after that every offer draws exactly four
 * uniforms in a fixed order (loss, Gilbert-Elliott step, jitter, duplicate), whatever happens
 * to the datagram. Changing one parameter therefore leaves the other decisions where they
 * were: the same seed with a different delay loses the same datagrams.
 *
 * Scheduled outages and the blackhole only refuse new datagrams; those already queued still
 * leave on time, as the fates were promised on arrival. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "model/model_rate.h"

#define DEFAULT_OU_UPDATE_US 100000u
/* Delay and jitter stay below this (about 12 days) so that sums of times cannot overflow. */
#define MAX_DELAY_US (UINT64_C(1) << 40)
/* A duplicate leaves this long after the original: distinct, and in order behind it. */
#define DUPLICATE_GAP_US 1u
#define BACKLOG_INITIAL 64u

/* An accepted datagram that has not finished leaving the bottleneck; the drop-tail byte limit
 * counts it until then. */
struct queued {
	uint64_t departure_us;
	uint64_t bytes;
};

/* FIFO of queued datagrams in departure order; kept only when queue_bytes is set. */
struct backlog {
	struct queued *items;
	size_t capacity, head, count;
	uint64_t bytes;
};

struct braid_model {
	struct braid_model_settings settings;
	uint64_t start_us;
	struct braid_rng rng;
	bool blackhole;
	bool ge_bad;
	uint64_t latest_offer_us;
	uint64_t last_departure_us; /* when the server will have sent everything accepted */
	uint64_t last_exit_us;      /* latest time a datagram or copy leaves the link */
	struct backlog backlog;
	struct braid_model_stats stats;
	struct braid__rate rate;
};

/* The random values one offer consumes, all drawn up front. */
struct offer_draws {
	double loss, ge_step, jitter, duplicate;
};

void braid_model_settings_default(struct braid_model_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->rate_kind = BRAID_RATE_UNLIMITED;
	s->loss_kind = BRAID_LOSS_NONE;
	s->ou.update_us = DEFAULT_OU_UPDATE_US;
	s->trace_ms = NULL;
}

static bool is_probability(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

static bool loss_settings_valid(const struct braid_model_settings *s)
{
	const struct braid_ge_settings *ge = &s->ge;

	switch (s->loss_kind) {
	case BRAID_LOSS_NONE:
		return true;
	case BRAID_LOSS_RANDOM:
		return is_probability(s->loss);
	case BRAID_LOSS_GE:
		return is_probability(ge->p) && is_probability(ge->r) &&
		       is_probability(ge->loss_bad) && is_probability(ge->loss_good);
	}
	return false;
}

static bool settings_valid(const struct braid_model_settings *s)
{
	if (!braid__rate_settings_valid(s) || !loss_settings_valid(s))
		return false;
	if (!is_probability(s->duplicate) || s->outage_count > BRAID_MODEL_MAX_OUTAGES)
		return false;
	return s->delay_us <= MAX_DELAY_US && s->jitter_us <= MAX_DELAY_US;
}

struct braid_model *braid_model_new(const struct braid_model_settings *s, uint64_t start_us)
{
	struct braid_model *m;

	if (s == NULL || !settings_valid(s))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->settings = *s;
	m->start_us = start_us;
	braid_rng_seed(&m->rng, s->seed);
	braid__rate_init(&m->rate, s, start_us, braid_rng_next(&m->rng));
	return m;
}

void braid_model_free(struct braid_model *m)
{
	if (m == NULL)
		return;
	free(m->backlog.items);
	free(m);
}

void braid_model_set_blackhole(struct braid_model *m, bool on)
{
	m->blackhole = on;
}

bool braid_model_blackhole(const struct braid_model *m)
{
	return m->blackhole;
}

/* ---- backlog ---- */

static void backlog_release(struct backlog *q, uint64_t now_us)
{
	while (q->count > 0 && q->items[q->head].departure_us <= now_us) {
		q->bytes -= q->items[q->head].bytes;
		q->head = (q->head + 1) % q->capacity;
		q->count--;
	}
}

/* Makes room for one more entry; false when out of memory. */
static bool backlog_reserve(struct backlog *q)
{
	struct queued *grown;
	size_t capacity, i;

	if (q->count < q->capacity)
		return true;
	capacity = q->capacity > 0 ? q->capacity * 2 : BACKLOG_INITIAL;
	if (capacity < q->capacity || capacity > SIZE_MAX / sizeof(*grown))
		return false;
	grown = malloc(capacity * sizeof(*grown));
	if (grown == NULL)
		return false;
	for (i = 0; i < q->count; i++)
		grown[i] = q->items[(q->head + i) % q->capacity];
	free(q->items);
	q->items = grown;
	q->capacity = capacity;
	q->head = 0;
	return true;
}

static void backlog_push(struct backlog *q, uint64_t departure_us, uint64_t bytes)
{
	struct queued *slot = &q->items[(q->head + q->count) % q->capacity];

	slot->departure_us = departure_us;
	slot->bytes = bytes;
	q->count++;
	q->bytes += bytes;
}

/* ---- decisions ---- */

static void draw_offer(struct braid_model *m, struct offer_draws *d)
{
	d->loss = braid_rng_uniform(&m->rng);
	d->ge_step = braid_rng_uniform(&m->rng);
	d->jitter = braid_rng_uniform(&m->rng);
	d->duplicate = braid_rng_uniform(&m->rng);
}

static bool in_outage(const struct braid_model *m, uint64_t now_us)
{
	uint64_t since;
	size_t i;

	if (m->blackhole)
		return true;
	if (now_us < m->start_us)
		return false;
	since = now_us - m->start_us;
	for (i = 0; i < m->settings.outage_count; i++) {
		const struct braid_outage *o = &m->settings.outages[i];

		if (since >= o->start_us && since - o->start_us < o->duration_us)
			return true;
	}
	return false;
}

/* Loss is decided by the chain's current state, then the chain takes its step (as netem does);
 * the step is taken for every offered datagram, whatever else happens to it. */
static bool lose(struct braid_model *m, const struct offer_draws *d)
{
	const struct braid_ge_settings *ge = &m->settings.ge;
	bool lost;

	switch (m->settings.loss_kind) {
	case BRAID_LOSS_NONE:
		break;
	case BRAID_LOSS_RANDOM:
		return d->loss < m->settings.loss;
	case BRAID_LOSS_GE:
		lost = d->loss < (m->ge_bad ? ge->loss_bad : ge->loss_good);
		if (d->ge_step < (m->ge_bad ? ge->r : ge->p))
			m->ge_bad = !m->ge_bad;
		return lost;
	}
	return false;
}

static uint64_t queue_delay_at(const struct braid_model *m, uint64_t now_us)
{
	return m->last_departure_us > now_us ? m->last_departure_us - now_us : 0;
}

/* Drop-tail: too many bytes waiting, counting this datagram, or a wait before its service
 * starts longer than queue_us. The wait is measured by the server itself, so it follows the
 * rate in force (and an OU rate's changes while the backlog drains). */
static bool queue_admits(struct braid_model *m, uint64_t now_us, size_t bytes)
{
	const struct braid_model_settings *s = &m->settings;

	if (s->queue_us > 0 && queue_delay_at(m, now_us) > s->queue_us)
		return false;
	if (s->queue_bytes == 0)
		return true;
	if (bytes > s->queue_bytes || m->backlog.bytes > s->queue_bytes - bytes)
		return false;
	/* Out of memory for the bookkeeping behaves as a full queue. */
	return backlog_reserve(&m->backlog);
}

/* Delay plus a jitter uniform over the whole microseconds in [-jitter_us, +jitter_us];
 * the sum never goes below zero. */
static uint64_t propagation_us(const struct braid_model *m, double draw)
{
	uint64_t jitter = m->settings.jitter_us;
	uint64_t pick = (uint64_t)(draw * (double)(2 * jitter + 1));
	uint64_t raised;

	if (pick > 2 * jitter)
		pick = 2 * jitter;
	raised = m->settings.delay_us + pick;
	return raised > jitter ? raised - jitter : 0;
}

static struct braid_fate deliver(struct braid_model *m, uint64_t now_us, size_t bytes,
				 const struct offer_draws *d)
{
	struct braid_fate fate = { BRAID_FATE_DELIVER, 0, 0 };
	uint64_t departure = braid__rate_serve(&m->rate, now_us, bytes);
	uint64_t exit_us;

	if (m->settings.queue_bytes > 0)
		backlog_push(&m->backlog, departure, bytes);
	m->last_departure_us = departure;
	fate.deliver_at_us = departure + propagation_us(m, d->jitter);
	if (!m->settings.reorder && fate.deliver_at_us < m->last_exit_us)
		fate.deliver_at_us = m->last_exit_us;
	exit_us = fate.deliver_at_us;
	if (d->duplicate < m->settings.duplicate) {
		fate.duplicate_at_us = fate.deliver_at_us + DUPLICATE_GAP_US;
		exit_us = fate.duplicate_at_us;
		m->stats.duplicated++;
	}
	if (exit_us > m->last_exit_us)
		m->last_exit_us = exit_us;
	m->stats.delivered++;
	m->stats.delivered_bytes += bytes;
	return fate;
}

static struct braid_fate drop(uint64_t *counter, enum braid_fate_kind kind)
{
	struct braid_fate fate = { kind, 0, 0 };

	(*counter)++;
	return fate;
}

struct braid_fate braid_model_offer(struct braid_model *m, uint64_t now_us, size_t bytes)
{
	struct offer_draws draws;
	bool lost;

	/* An offer from the past is taken as made now: the queue cannot run backwards. */
	if (now_us < m->latest_offer_us)
		now_us = m->latest_offer_us;
	m->latest_offer_us = now_us;
	draw_offer(m, &draws);
	m->stats.offered++;
	m->stats.offered_bytes += bytes;
	braid__rate_advance(&m->rate, now_us);
	backlog_release(&m->backlog, now_us);
	lost = lose(m, &draws);
	if (in_outage(m, now_us))
		return drop(&m->stats.dropped_outage, BRAID_FATE_DROP_OUTAGE);
	if (lost)
		return drop(&m->stats.dropped_loss, BRAID_FATE_DROP_LOSS);
	if (bytes > BRAID_MODEL_MAX_DATAGRAM || !queue_admits(m, now_us, bytes))
		return drop(&m->stats.dropped_queue, BRAID_FATE_DROP_QUEUE);
	return deliver(m, now_us, bytes, &draws);
}

void braid_model_get_stats(const struct braid_model *m, uint64_t now_us,
			   struct braid_model_stats *out)
{
	*out = m->stats;
	out->rate_bps = braid__rate_current_bps(&m->rate, now_us);
	out->queue_delay_us = queue_delay_at(m, now_us);
}

void braid_model_stats_add(struct braid_model_stats *to, const struct braid_model_stats *from)
{
	to->offered += from->offered;
	to->delivered += from->delivered;
	to->dropped_loss += from->dropped_loss;
	to->dropped_queue += from->dropped_queue;
	to->dropped_outage += from->dropped_outage;
	to->duplicated += from->duplicated;
	to->offered_bytes += from->offered_bytes;
	to->delivered_bytes += from->delivered_bytes;
}
