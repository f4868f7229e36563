/* Link estimators (RTT, loss, jitter) and the health state machine. Pure functions of
 * their inputs: the caller supplies every timestamp. */
#include "core/link.h"

#include <math.h>

/* Keeps 7 * srtt + sample and 3 * rttvar + diff within 64 bits; no real RTT comes near. */
#define RTT_SAMPLE_MAX (UINT64_MAX / 8)

void braid_rtt_update(struct braid_rtt *rtt, uint64_t sample_us)
{
	uint64_t diff;

	if (sample_us > RTT_SAMPLE_MAX)
		sample_us = RTT_SAMPLE_MAX;
	rtt->latest_us = sample_us;
	if (!rtt->has_sample) {
		rtt->srtt_us = sample_us;
		rtt->rttvar_us = sample_us / 2;
		rtt->min_us = sample_us;
		rtt->has_sample = true;
		return;
	}
	if (sample_us < rtt->min_us)
		rtt->min_us = sample_us;
	/* RFC 6298 2.3: the variation uses the smoothed RTT from before this sample. */
	diff = rtt->srtt_us > sample_us ? rtt->srtt_us - sample_us : sample_us - rtt->srtt_us;
	rtt->rttvar_us = (3 * rtt->rttvar_us + diff) / 4;
	rtt->srtt_us = (7 * rtt->srtt_us + sample_us) / 8;
}

#define LOSS_SLOTS (BRAID_LOSS_WINDOW + 1)

void braid_loss_add(struct braid_loss *loss, uint64_t sent_total, uint64_t received_total)
{
	if (loss->count > 0) {
		if (sent_total < loss->sent[loss->head] ||
		    received_total < loss->received[loss->head])
			return;
		loss->head = (loss->head + 1) % LOSS_SLOTS;
	} else {
		loss->head = 0;
	}
	loss->sent[loss->head] = sent_total;
	loss->received[loss->head] = received_total;
	if (loss->count < LOSS_SLOTS)
		loss->count++;
}

double braid_loss_fraction(const struct braid_loss *loss)
{
	unsigned oldest;
	uint64_t sent_delta, received_delta;

	if (loss->count < 2 || loss->count > LOSS_SLOTS || loss->head >= LOSS_SLOTS)
		return 0.0;
	oldest = (loss->head + LOSS_SLOTS - (loss->count - 1)) % LOSS_SLOTS;
	sent_delta = loss->sent[loss->head] - loss->sent[oldest];
	received_delta = loss->received[loss->head] - loss->received[oldest];
	/* Reordering can count a reply before the probe it answers: more received than sent. */
	if (sent_delta == 0 || received_delta >= sent_delta)
		return 0.0;
	return 1.0 - (double)received_delta / (double)sent_delta;
}

/* Two's-complement reading of a 64-bit difference, without implementation-defined
 * conversions: timestamps from different clocks may differ by anything. */
static int64_t signed_from_u64(uint64_t value)
{
	if (value <= (uint64_t)INT64_MAX)
		return (int64_t)value;
	return -(int64_t)(~value) - 1;
}

void braid_jitter_update(struct braid_jitter *jitter, uint64_t sent_us, uint64_t arrived_us)
{
	int64_t transit = signed_from_u64(arrived_us - sent_us);
	int64_t delta;

	if (jitter->has_transit) {
		delta = signed_from_u64((uint64_t)transit - (uint64_t)jitter->last_transit_us);
		jitter->jitter_us += (fabs((double)delta) - jitter->jitter_us) / 16.0;
	}
	jitter->last_transit_us = transit;
	jitter->has_transit = true;
}

static const char *const link_state_names[] = {
	[BRAID_LINK_DOWN] = "down",
	[BRAID_LINK_DEGRADED] = "degraded",
	[BRAID_LINK_HEALTHY] = "healthy",
};

const char *braid_link_state_name(enum braid_link_state state)
{
	if ((unsigned)state >= sizeof(link_state_names) / sizeof(link_state_names[0]))
		return "unknown";
	return link_state_names[state];
}

void braid_health_settings_default(struct braid_health_settings *s)
{
	s->probe_interval_us = 50000;
	s->down_after_missed = 3;
	s->up_after_replies = 3;
	s->degraded_loss = 0.10;
	s->recovered_loss = 0.05;
	s->degraded_rtt_us = 0;
	s->min_operational = 1;
}

void braid_health_init(struct braid_link_health *h)
{
	*h = (struct braid_link_health){ .state = BRAID_LINK_DOWN };
}

static bool set_state(struct braid_link_health *h, enum braid_link_state state)
{
	if (h->state == state)
		return false;
	h->state = state;
	h->transitions++;
	return true;
}

static bool rtt_too_high(const struct braid_health_settings *s, uint64_t srtt_us)
{
	return s->degraded_rtt_us != 0 && srtt_us > s->degraded_rtt_us;
}

static bool quality_bad(const struct braid_health_settings *s, double loss, uint64_t srtt_us)
{
	return loss > s->degraded_loss || rtt_too_high(s, srtt_us);
}

static bool quality_recovered(const struct braid_health_settings *s, double loss,
			      uint64_t srtt_us)
{
	return loss < s->recovered_loss && !rtt_too_high(s, srtt_us);
}

/* A DOWN link that was up before must prove itself with several replies in a row, so a
 * flapping link is not put back into service on one lucky probe. */
static bool reply_while_down(struct braid_link_health *h, const struct braid_health_settings *s,
			     double loss, uint64_t srtt_us)
{
	unsigned needed = s->up_after_replies > 0 ? s->up_after_replies : 1;

	if (!h->ever_up) {
		h->ever_up = true;
		h->replies_in_row = 0;
		return set_state(h, BRAID_LINK_HEALTHY);
	}
	if (h->replies_in_row < needed)
		h->replies_in_row++;
	if (h->replies_in_row < needed)
		return false;
	h->replies_in_row = 0;
	return set_state(h, quality_bad(s, loss, srtt_us) ? BRAID_LINK_DEGRADED
							  : BRAID_LINK_HEALTHY);
}

static uint64_t silence_allowed(const struct braid_link_health *h,
				const struct braid_health_settings *s)
{
	if (s->down_after_missed != 0 && s->probe_interval_us > UINT64_MAX / s->down_after_missed)
		return UINT64_MAX;
	uint64_t allowed = s->probe_interval_us * s->down_after_missed;
	return h->rtt_allowance_us > allowed ? h->rtt_allowance_us : allowed;
}

bool braid_health_on_reply(struct braid_link_health *h, const struct braid_health_settings *s,
			   uint64_t now_us, double loss, uint64_t srtt_us)
{
	/* Replies separated by a silence long enough to take a link down are not "in a row". */
	if (now_us > h->last_reply_us && now_us - h->last_reply_us > silence_allowed(h, s))
		h->replies_in_row = 0;
	h->last_reply_us = now_us;
	switch (h->state) {
	case BRAID_LINK_DOWN:
		return reply_while_down(h, s, loss, srtt_us);
	case BRAID_LINK_HEALTHY:
		if (quality_bad(s, loss, srtt_us))
			return set_state(h, BRAID_LINK_DEGRADED);
		return false;
	case BRAID_LINK_DEGRADED:
		if (quality_recovered(s, loss, srtt_us))
			return set_state(h, BRAID_LINK_HEALTHY);
		return false;
	}
	return false;
}

bool braid_health_on_tick(struct braid_link_health *h, const struct braid_health_settings *s,
			  uint64_t now_us)
{
	if (!braid_link_state_live(h->state) || now_us <= h->last_reply_us)
		return false;
	if (now_us - h->last_reply_us <= silence_allowed(h, s))
		return false;
	h->replies_in_row = 0;
	return set_state(h, BRAID_LINK_DOWN);
}

uint64_t braid_health_deadline(const struct braid_link_health *h,
			       const struct braid_health_settings *s)
{
	uint64_t allowed;

	if (!braid_link_state_live(h->state))
		return UINT64_MAX;
	allowed = silence_allowed(h, s);
	if (h->last_reply_us >= UINT64_MAX - allowed)
		return UINT64_MAX;
	/* on_tick acts once the silence exceeds what is allowed: one microsecond later */
	return h->last_reply_us + allowed + 1;
}
