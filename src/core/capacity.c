#include "capacity.h"

#define MIN_RATE_BPS 100000.0
#define GROWTH 1.25          /* per window while busy and unqueued, below the ceiling */
#define PROBE_GROWTH 1.05    /* above it */
#define CEILING_DECAY 0.98   /* per window: the best rate seen fades out in a few seconds */
#define LOADED_SHARE 0.5     /* a queue is ours only when we gave it this share at least */
#define DRAIN 0.9            /* below the delivery rate, so a standing queue drains */
#define QUEUE_MIN_US 10000   /* queueing beyond the prediction by more than this and */
#define QUEUE_SHARE 0.25     /* a quarter of the minimum RTT: over-estimated */
#define BUSY_SHARE 0.8       /* given this share of the estimate: worth probing higher */

void braid__capacity_reset(struct braid__capacity *c, double start_bps, uint64_t now_us)
{
	*c = (struct braid__capacity){ .rate_bps = start_bps > MIN_RATE_BPS ? start_bps
									    : MIN_RATE_BPS,
				       .busy_until_us = now_us };
}

static bool queue_unexpected(uint64_t rtt_us, uint64_t min_rtt_us, uint64_t predicted_us)
{
	uint64_t allowed = (uint64_t)((double)min_rtt_us * QUEUE_SHARE);
	if (allowed < QUEUE_MIN_US)
		allowed = QUEUE_MIN_US;
	return rtt_us > min_rtt_us + predicted_us + allowed;
}

void braid__capacity_on_feedback(struct braid__capacity *c, uint64_t now_us,
				 uint64_t delivered_bytes, uint64_t rtt_us, uint64_t min_rtt_us,
				 uint64_t predicted_queue_us, double loss, uint64_t window_us)
{
	c->delivered_bytes = delivered_bytes;
	if (!c->window_open || delivered_bytes < c->window_bytes) {
		c->window_at_us = now_us;
		c->window_bytes = delivered_bytes;
		c->assigned_bytes = 0;
		c->window_open = true;
		return;
	}
	uint64_t elapsed = now_us - c->window_at_us;
	if (elapsed < window_us)
		return;
	c->delivered_bps = (double)(delivered_bytes - c->window_bytes) * 8e6 / (double)elapsed;
	double assigned_bps = (double)c->assigned_bytes * 8e6 / (double)elapsed;
	/* What it delivered, had nothing been lost at random on the way. */
	double carried_bps = c->delivered_bps / (1.0 - (loss < 0.5 ? loss : 0.5));
	c->ceiling_bps *= CEILING_DECAY;
	if (carried_bps > c->ceiling_bps)
		c->ceiling_bps = carried_bps;
	bool loaded = assigned_bps >= LOADED_SHARE * c->rate_bps;
	if (loaded && queue_unexpected(rtt_us, min_rtt_us, predicted_queue_us)) {
		/* It carries less than it is given: what it carries is what it can. (On a
		 * link we hardly use, a slow answer is the network's mood, not our load.) */
		double target = carried_bps * DRAIN;
		if (target < c->rate_bps)
			c->rate_bps = target;
	} else if (assigned_bps >= BUSY_SHARE * c->rate_bps) {
		/* Given nearly all the estimate allows and no queue beyond the prediction:
		 * it could carry more. Quickly back up to what it has shown it carries, then
		 * gently past it. */
		c->rate_bps = c->rate_bps < c->ceiling_bps ? c->rate_bps * GROWTH
							   : c->rate_bps * PROBE_GROWTH;
	}
	if (c->rate_bps < MIN_RATE_BPS)
		c->rate_bps = MIN_RATE_BPS;
	c->window_at_us = now_us;
	c->window_bytes = delivered_bytes;
	c->assigned_bytes = 0;
}

static uint64_t transmission_us(const struct braid__capacity *c, size_t bytes)
{
	return (uint64_t)((double)bytes * 8e6 / c->rate_bps);
}

uint64_t braid__capacity_arrival(const struct braid__capacity *c, uint64_t now_us, size_t bytes,
				 uint64_t one_way_us)
{
	uint64_t start = c->busy_until_us > now_us ? c->busy_until_us : now_us;
	return start + transmission_us(c, bytes) + one_way_us;
}

uint64_t braid__capacity_backlog(const struct braid__capacity *c, uint64_t now_us)
{
	return c->busy_until_us > now_us ? c->busy_until_us - now_us : 0;
}

void braid__capacity_assign(struct braid__capacity *c, uint64_t now_us, size_t bytes)
{
	uint64_t start = c->busy_until_us > now_us ? c->busy_until_us : now_us;
	c->busy_until_us = start + transmission_us(c, bytes);
	c->assigned_bytes += bytes;
}
