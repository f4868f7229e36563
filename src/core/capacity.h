/* Internal: what a link can carry, learned from the receiver's feedback, and the model
 * the adaptive scheduler uses to predict when a packet sent on it now would arrive.
 *
 * Each link keeps a virtual queue: the time its bottleneck will be busy with what was
 * already given to it, at the estimated rate. A packet's expected arrival is then
 * max(now, busy until) + its own transmission time + the one-way delay. Sending that way
 * builds real queues on the faster links on purpose, and the virtual queue predicts them.
 * The estimate grows while the link is given most of what the estimate allows and its RTT
 * shows no more queueing than predicted (it could carry more); it falls to the measured
 * delivery rate as soon as the RTT shows more queueing than predicted (it carries less
 * than it is given). */
#ifndef BRAID_CORE_CAPACITY_H
#define BRAID_CORE_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct braid__capacity {
	double rate_bps;         /* estimate used for scheduling */
	double delivered_bps;    /* last measured delivery rate */
	double ceiling_bps;      /* the best it carried lately */
	uint64_t busy_until_us;  /* virtual queue: when what was given to it will have left */
	uint64_t window_at_us;   /* delivery-rate window start */
	uint64_t window_bytes;   /* receiver's byte counter at that start */
	uint64_t assigned_bytes; /* given to it since the window started */
	bool window_open;
	uint64_t delivered_bytes; /* the receiver's latest counter */
};

/* A fresh link (or one back from the dead) starts at a modest rate and earns more. */
void braid__capacity_reset(struct braid__capacity *c, double start_bps, uint64_t now_us);

/* The receiver reported `delivered_bytes` (cumulative payload bytes) at now, answering a
 * probe that saw `predicted_queue_us` of virtual queue when it was sent; rtt_us is that
 * probe's RTT and min_rtt_us the link's minimum; loss is its random loss rate, which
 * does not mean it is overloaded. Windows shorter than window_us only
 * accumulate. */
void braid__capacity_on_feedback(struct braid__capacity *c, uint64_t now_us,
				 uint64_t delivered_bytes, uint64_t rtt_us, uint64_t min_rtt_us,
				 uint64_t predicted_queue_us, double loss, uint64_t window_us);

/* When a packet of `bytes` given to the link now would arrive (one_way_us: propagation). */
uint64_t braid__capacity_arrival(const struct braid__capacity *c, uint64_t now_us, size_t bytes,
				 uint64_t one_way_us);
/* How long the link's virtual queue is at now. */
uint64_t braid__capacity_backlog(const struct braid__capacity *c, uint64_t now_us);
/* The packet was given to the link. */
void braid__capacity_assign(struct braid__capacity *c, uint64_t now_us, size_t bytes);

#endif
