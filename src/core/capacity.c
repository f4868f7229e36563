#include "core/capacity.h"

#include <string.h>

#define MIN_RATE_BPS 100000.0
#define STARTUP_GAIN 2.0     /* doubling per window until the rate stops growing */
#define STARTUP_EXIT 1.25    /* growth below this over STARTUP_ROUNDS windows: found it */
#define STARTUP_ROUNDS 3
#define QUEUE_MIN_US 10000   /* forward delay above its minimum by more than this and */
#define QUEUE_SHARE 0.25     /* a quarter of the minimum: we are building a queue */
#define SLOWED_DOWN 0.9      /* a saturated window below this share of the estimate */
#define RANDOM_LOSS_MAX 0.05 /* loss up to this may be the medium's, not overload */
#define BURST_LOSS_MAX 0.5   /* in one window without a deep queue: a burst of the medium's */
#define WINDOW_LOSS_MIN_PACKETS 8 /* fewer sent in a window: use the smoothed loss rate */
#define DRAIN_SHARE 0.9      /* of the delivery rate, while a standing queue drains */
#define SHORT_OUTAGE_US 3000000 /* a link back within this keeps its estimate */
#define CRUISE_CYCLE 2       /* the first window of cycle_gains at 1 */
#define BUSY_GAIN 1.0        /* the least gain while data waits and the queue is shallow */
#define DEEP_QUEUE 3         /* times the queue probing may build */
#define SATURATED_FRESH_US 3000000 /* an estimate the link was filled at this recently stands */
#define HEADROOM_GAIN 2.0    /* the least gain on a link no window has filled lately */
#define BOOST_MIN_US 2000    /* data waiting for every link doubles the pace at most this */
#define BOOST_MAX_BPS 10e9   /* often, each confirmed by a probe's answer, up to this */

/* Whether a window ever filled the link (since its estimate was last reset): its estimate
 * is then what it carries, and the probing cycle finds more. Else the estimate is only
 * what it was given (an input slower than the link), not a ceiling. (Not only lately: a
 * link kept just below its capacity fills no window for long stretches, and pacing it
 * with headroom then overflows it.) */
static bool known_full(const struct braid__capacity *c)
{
	return c->saturated_ever;
}

/* One probing cycle, a gain per window: a window above the estimate to find more, one
 * below to drain what that queued, then cruise. */
static const double cycle_gains[] = { 1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 };
#define CYCLE_LENGTH (sizeof(cycle_gains) / sizeof(cycle_gains[0]))

void braid__capacity_reset(struct braid__capacity *c, double start_bps, uint64_t now_us)
{
	memset(c, 0, sizeof(*c));
	c->bottleneck_bps = start_bps > MIN_RATE_BPS ? start_bps : MIN_RATE_BPS;
	c->gain = STARTUP_GAIN;
	c->startup = true;
	c->rate_bps = c->bottleneck_bps * c->gain;
	c->next_send_us = now_us;
}

void braid__capacity_stop(struct braid__capacity *c, uint64_t now_us)
{
	c->stopped = true;
	c->stopped_us = now_us;
}

bool braid__capacity_resume(struct braid__capacity *c, uint64_t now_us)
{
	if (!c->stopped || now_us - c->stopped_us > SHORT_OUTAGE_US || !c->sample_count)
		return false;
	c->stopped = false;
	/* what it queued in the network before it failed has drained (or was lost) since:
	 * cruise at the estimate, and measure windows afresh */
	c->startup = false;
	c->cycle = CRUISE_CYCLE;
	c->gain = cycle_gains[c->cycle];
	c->rate_bps = c->bottleneck_bps;
	c->draining = false;
	c->queue_seen = false;
	c->window_open = false;
	c->queued_bytes = 0;
	c->next_send_us = now_us;
	return true;
}

/* The queue in front of the link that probing may build unremarked. */
static uint64_t queue_allowance(uint64_t min_rtt_us)
{
	uint64_t allowed = (uint64_t)((double)min_rtt_us * QUEUE_SHARE);
	return allowed < QUEUE_MIN_US ? QUEUE_MIN_US : allowed;
}

static bool queue_building(uint64_t queue_us, uint64_t min_rtt_us, uint64_t predicted_us)
{
	return queue_us > predicted_us + queue_allowance(min_rtt_us);
}

/* A queue well beyond what probing builds: drain it even with data waiting here. */
static bool queue_deep(uint64_t queue_us, uint64_t min_rtt_us, uint64_t predicted_us)
{
	return queue_us > predicted_us + DEEP_QUEUE * queue_allowance(min_rtt_us);
}

/* The bottleneck estimate: the best delivery rate over the last windows. */
static void add_sample(struct braid__capacity *c, double bps)
{
	c->samples[c->sample_next] = bps;
	c->sample_next = (c->sample_next + 1) % BRAID__CAPACITY_SAMPLES;
	if (c->sample_count < BRAID__CAPACITY_SAMPLES)
		c->sample_count++;
	double best = 0;
	for (unsigned i = 0; i < c->sample_count; i++)
		if (c->samples[i] > best)
			best = c->samples[i];
	if (best > MIN_RATE_BPS)
		c->bottleneck_bps = best;
}

static void next_gain(struct braid__capacity *c, bool queueing, bool loaded)
{
	if (c->startup && !loaded && !queueing)
		return; /* nothing to learn from an idle window: keep starting */
	if (c->startup) {
		if (c->bottleneck_bps >= c->startup_mark * STARTUP_EXIT) {
			c->startup_mark = c->bottleneck_bps;
			c->startup_rounds = 0;
		} else if (++c->startup_rounds >= STARTUP_ROUNDS) {
			c->startup = false;
		}
		if (queueing)
			c->startup = false;
		if (c->startup) {
			c->gain = STARTUP_GAIN;
			return;
		}
		c->cycle = 1; /* leave startup by draining what it queued */
	} else {
		c->cycle = (c->cycle + 1) % CYCLE_LENGTH;
		if (queueing && cycle_gains[c->cycle] > 1.0)
			c->cycle = 1; /* no probing up while a queue stands: drain first */
	}
	c->gain = cycle_gains[c->cycle];
}

/* The share of the window's packets the medium lost: from the packet counters, capped by
 * what random loss plausibly is (a deep queue overflows, and that is not carried). */
static double window_loss(const struct braid__capacity *c,
			  const struct braid__capacity_feedback *fb, bool deep)
{
	double cap = deep ? RANDOM_LOSS_MAX : BURST_LOSS_MAX;
	double loss = fb->loss;
	uint64_t sent = fb->sent_packets - c->window_sent_packets;
	uint64_t received = fb->received_packets - c->window_received_packets;
	if (fb->sent_packets >= c->window_sent_packets &&
	    fb->received_packets >= c->window_received_packets && sent >= WINDOW_LOSS_MIN_PACKETS)
		loss = received >= sent ? 0.0 : 1.0 - (double)received / (double)sent;
	return loss < cap ? loss : cap;
}

static void start_window(struct braid__capacity *c, uint64_t now_us,
			 const struct braid__capacity_feedback *fb)
{
	c->window_at_us = now_us;
	c->window_arrival_us = fb->arrival_us;
	c->window_bytes = fb->delivered_bytes;
	c->window_sent_packets = fb->sent_packets;
	c->window_received_packets = fb->received_packets;
	c->assigned_bytes = 0;
	c->window_min_queue_us = UINT64_MAX;
	c->window_sent_bytes = fb->sent_bytes;
	c->window_probe_us = fb->probe_sent_us;
}

bool braid__capacity_boost(struct braid__capacity *c, uint64_t now_us)
{
	/* a link not measured yet paces at what the input needs (seed), doubling per window:
	 * a boost now would be a guess on a guess */
	if (c->startup || !c->sample_count || known_full(c) || c->boost_unconfirmed ||
	    c->rate_bps >= BOOST_MAX_BPS)
		return false;
	if (c->boosted_ever && now_us - c->boosted_us < BOOST_MIN_US)
		return false;
	c->boosted_ever = true;
	c->boost_unconfirmed = true;
	c->boosted_us = now_us;
	c->rate_bps *= 2;
	return true;
}

/* The first answer to a probe sent after a boost: no queue, and the link may be boosted
 * again; a queue, and the boost found the link's ceiling: undo it, the link is full. */
static void confirm_boost(struct braid__capacity *c, uint64_t now_us,
			  const struct braid__capacity_feedback *fb)
{
	if (!c->boost_unconfirmed || fb->probe_sent_us < c->boosted_us)
		return;
	c->boost_unconfirmed = false;
	if (!queue_building(fb->forward_queue_us, fb->min_rtt_us, fb->predicted_queue_us))
		return;
	c->rate_bps /= 2;
	c->saturated_us = now_us;
	c->saturated_ever = true;
}

void braid__capacity_on_feedback(struct braid__capacity *c, uint64_t now_us,
				 const struct braid__capacity_feedback *fb)
{
	uint64_t delivered_bytes = fb->delivered_bytes, queue_us = fb->forward_queue_us;
	uint64_t min_rtt_us = fb->min_rtt_us;
	uint64_t predicted_queue_us = fb->predicted_queue_us, window_us = fb->window_us;
	c->delivered_bytes = delivered_bytes;
	confirm_boost(c, now_us, fb);
	if (!c->window_open || delivered_bytes < c->window_bytes) {
		start_window(c, now_us, fb);
		c->window_open = true;
		return;
	}
	/* A queue that stands shows in every answer of the window; one answer's jitter does
	 * not make one. */
	if (queue_us < c->window_min_queue_us)
		c->window_min_queue_us = queue_us;
	if (queue_deep(queue_us, min_rtt_us, predicted_queue_us))
		c->queue_seen = true; /* deep enough to overflow soon: no waiting for the window */
	int32_t received_over = (int32_t)(fb->arrival_us - c->window_arrival_us);
	uint64_t elapsed = now_us - c->window_at_us;
	if (received_over < (int64_t)window_us)
		return; /* an answer to an older probe, overtaken, counts as early */
	if (queue_building(c->window_min_queue_us, min_rtt_us, predicted_queue_us))
		c->queue_seen = true;
	c->delivered_bps = (double)(delivered_bytes - c->window_bytes) * 8e6 /
			   (double)received_over;
	bool deep = queue_deep(queue_us, min_rtt_us, predicted_queue_us);
	double carried = c->delivered_bps / (1.0 - window_loss(c, fb, deep));
	double assigned = elapsed ? (double)c->assigned_bytes * 8e6 / (double)elapsed : 0.0;
	/* what left between the window's probes, by their send times (answers may come in a
	 * bunch) */
	uint64_t probes_apart = fb->probe_sent_us > c->window_probe_us
					? fb->probe_sent_us - c->window_probe_us : 0;
	double sent = probes_apart && fb->sent_bytes >= c->window_sent_bytes
			      ? (double)(fb->sent_bytes - c->window_sent_bytes) * 8e6 /
					(double)probes_apart
			      : 0.0;
	/* A window in which we gave it little, and it sent little, says only that it carries
	 * at least that. (A link with a backlog here is given nothing new, yet sends.) */
	bool loaded = assigned >= 0.5 * c->bottleneck_bps || sent >= 0.5 * c->bottleneck_bps;
	/* A window that built a queue in the network was saturated: its delivery rate is
	 * what the link carries now. Well below the estimate (more than a window's noise
	 * from random loss), the link slowed down and the better samples from before are
	 * stale. Otherwise a sample only says it carries at least that. */
	if (c->queue_seen && loaded && carried < c->bottleneck_bps * SLOWED_DOWN) {
		c->sample_count = 0;
		c->sample_next = 0; /* the next sample is then the only one */
	}
	if (loaded && c->queue_seen) {
		c->saturated_us = now_us;
		c->saturated_ever = true;
	}
	if (loaded || carried > c->bottleneck_bps)
		add_sample(c, carried);
	next_gain(c, c->queue_seen, loaded);
	/* More waits here than a window carries and the network shows no queue: the link is
	 * given more than the estimate and may carry it (a slow link sped up): probe now
	 * rather than at the cycle's turn. */
	bool backlogged = c->demand ||
			  (double)c->queued_bytes * 8e6 > c->bottleneck_bps * (double)window_us;
	/* While data waits here, an idle moment of the link is capacity lost for good: a
	 * shallow queue in the network is the price of keeping it busy. */
	if (!c->startup && backlogged) {
		if (!c->queue_seen && c->gain <= 1.0) {
			c->cycle = 0;
			c->gain = cycle_gains[0];
		} else if (!deep && c->gain < 1.0) {
			c->gain = BUSY_GAIN;
		}
	}
	double before_bps = c->rate_bps;
	c->rate_bps = c->bottleneck_bps * c->gain;
	/* A link never filled lately carried all it was given: pacing at that (or below it, to
	 * drain a queue that is not there) would hold back every burst and any growth of the
	 * input. Pace well above it; a queue in the network, if the link is slower than
	 * that, shows within a window and makes it known full. While data waits here and no
	 * queue shows, keep what a boost gave (the window measured the slower pace). */
	if (!known_full(c)) {
		if (c->rate_bps < c->bottleneck_bps * HEADROOM_GAIN)
			c->rate_bps = c->bottleneck_bps * HEADROOM_GAIN;
		if (backlogged && !c->queue_seen && c->rate_bps < before_bps)
			c->rate_bps = before_bps;
	}
	/* A queue that outlasts a window stands: the link carries less than the estimate
	 * (it slowed, or the estimate was a lucky window), and pacing at the estimate keeps
	 * it standing. Below what it just delivered, the queue drains; keep at that until
	 * the RTT shows it gone. With data waiting here, a shallow queue may stand. */
	c->draining = c->queue_seen && loaded;
	double share = backlogged && !deep ? BUSY_GAIN : DRAIN_SHARE;
	if (c->draining && c->rate_bps > carried * share)
		c->rate_bps = carried * share;
	if (c->rate_bps < MIN_RATE_BPS)
		c->rate_bps = MIN_RATE_BPS;
	c->queue_seen = false;
	start_window(c, now_us, fb);
}

void braid__capacity_seed(struct braid__capacity *c, double share_bps)
{
	if (!c->startup || c->sample_count || share_bps <= c->bottleneck_bps)
		return;
	c->bottleneck_bps = share_bps;
	c->rate_bps = c->bottleneck_bps * c->gain;
}

void braid__capacity_probe_again(struct braid__capacity *c)
{
	if (c->startup)
		return;
	c->startup = true;
	c->startup_mark = c->bottleneck_bps;
	c->startup_rounds = 0;
	c->gain = STARTUP_GAIN;
	c->rate_bps = c->bottleneck_bps * c->gain;
}

void braid__capacity_restart_window(struct braid__capacity *c)
{
	c->window_open = false;
	c->queue_seen = false;
}

void braid__capacity_take_over(struct braid__capacity *c, double needed_bps, uint64_t now_us)
{
	bool measured = c->saturated_ever && now_us - c->saturated_us < SATURATED_FRESH_US;
	if (needed_bps > c->bottleneck_bps && !measured) {
		/* a sample, not just the estimate: the next window's sample must not undo it
		 * before the link has been given the load; a window that shows it cannot carry
		 * this clears it (the link slowed down) */
		add_sample(c, needed_bps);
		c->draining = false;
	}
	c->startup = false;
	braid__capacity_probe_again(c);
}

static uint64_t transmission_us(double rate_bps, size_t bytes)
{
	return (uint64_t)((double)bytes * 8e6 / rate_bps);
}

uint64_t braid__capacity_backlog(const struct braid__capacity *c, uint64_t now_us)
{
	uint64_t wait = c->next_send_us > now_us ? c->next_send_us - now_us : 0;
	return wait + transmission_us(c->rate_bps, c->queued_bytes);
}

uint64_t braid__capacity_arrival(const struct braid__capacity *c, uint64_t now_us, size_t bytes,
				 uint64_t one_way_us)
{
	return now_us + braid__capacity_backlog(c, now_us) + transmission_us(c->rate_bps, bytes) +
	       one_way_us;
}

uint64_t braid__capacity_front_arrival(const struct braid__capacity *c, uint64_t now_us,
				       size_t bytes, uint64_t one_way_us)
{
	uint64_t wait = c->next_send_us > now_us ? c->next_send_us - now_us : 0;
	return now_us + wait + transmission_us(c->rate_bps, bytes) + one_way_us;
}

void braid__capacity_assign(struct braid__capacity *c, size_t bytes)
{
	c->queued_bytes += bytes;
	c->assigned_bytes += bytes;
}

void braid__capacity_unassign(struct braid__capacity *c, size_t bytes)
{
	c->queued_bytes = c->queued_bytes > bytes ? c->queued_bytes - bytes : 0;
}

uint64_t braid__capacity_send_at(const struct braid__capacity *c)
{
	return c->next_send_us > BRAID__PACER_SLACK_US ? c->next_send_us - BRAID__PACER_SLACK_US
							: 0;
}

bool braid__capacity_may_send(const struct braid__capacity *c, uint64_t now_us)
{
	return braid__capacity_send_at(c) <= now_us;
}

void braid__capacity_sent(struct braid__capacity *c, uint64_t now_us, size_t bytes)
{
	braid__capacity_unassign(c, bytes);
	uint64_t start = c->next_send_us > now_us ? c->next_send_us : now_us;
	c->next_send_us = start + transmission_us(c->rate_bps, bytes);
}

void braid__capacity_departed(struct braid__capacity *c, uint64_t seq, uint64_t arrival_us)
{
	c->departures[seq & (BRAID__CAPACITY_DEPARTURES - 1)] =
		(struct braid__capacity_departure){ .seq = seq, .arrival_us = arrival_us,
						    .valid = true };
}

bool braid__capacity_expected(const struct braid__capacity *c, uint64_t seq,
			      uint64_t *arrival_us)
{
	const struct braid__capacity_departure *d =
		&c->departures[seq & (BRAID__CAPACITY_DEPARTURES - 1)];
	if (!d->valid || d->seq != seq)
		return false;
	*arrival_us = d->arrival_us;
	return true;
}
