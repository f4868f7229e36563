/* Internal: what a link can carry, learned from the receiver's feedback, and the pace
 * adaptive mode sends at (in the manner of BBR).
 *
 * The bottleneck estimate is the best delivery rate of the last windows (a window lasts
 * about an RTT). Data leaves at the estimate times a gain: 2 while starting (doubling
 * until the rate stops growing or a queue shows), then a cycle of one window at 1.25 (to
 * find more), one at 0.75 (to drain what that queued) and six at 1. An RTT well above the
 * link's minimum means a queue is building: drain before probing again; a queue that
 * stands through a window means the link slowed, so the pace drops below what it just
 * delivered until the RTT shows the queue gone. Data waiting here beyond a window's worth,
 * or waiting in the sender for any link (`demand`), with no queue in the network, starts a
 * probe at once (the link may have sped up).
 *
 * Pacing makes the link's backlog ours and known: the bytes waiting for it here, sent at
 * the current pace, so a packet's expected arrival is now + that backlog + its own
 * transmission time + the one-way delay. A change of pace applies to what waits at once. */
#ifndef BRAID_CORE_CAPACITY_H
#define BRAID_CORE_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID__CAPACITY_SAMPLES 10
#define BRAID__CAPACITY_DEPARTURES 1024 /* a power of two: about a second of a busy link */

/* A packet that left, and when it should reach the receiver. */
struct braid__capacity_departure {
	uint64_t seq;
	uint64_t arrival_us;
	bool valid;
};

struct braid__capacity {
	double rate_bps;          /* pacing rate: bottleneck estimate x gain */
	double bottleneck_bps;    /* best recent delivery rate */
	double gain;
	double delivered_bps;     /* last measured delivery rate */
	double samples[BRAID__CAPACITY_SAMPLES];
	unsigned sample_next, sample_count;
	bool startup;
	double startup_mark;
	unsigned startup_rounds;
	unsigned cycle;
	bool queue_seen;          /* in this window */
	bool draining;            /* a queue stood through the last window */
	uint64_t queued_bytes;    /* given to it, not yet sent */
	bool demand;              /* data waits for any link: the sender wants more */
	uint64_t window_min_queue_us; /* the least forward queue an answer of the window showed */
	uint64_t saturated_us;    /* when a window last filled it (loaded, a queue built) */
	bool saturated_ever;
	uint64_t boosted_us;      /* when data waiting for every link last doubled the pace */
	bool boosted_ever;
	bool boost_unconfirmed;   /* no probe sent since the last boost answered yet */
	uint64_t next_send_us;    /* the pacer: when the next packet may leave */
	uint64_t window_at_us;    /* delivery-rate window start */
	uint64_t window_bytes;    /* receiver's byte counter at that start */
	uint64_t window_sent_packets;     /* packets sent before the probe answered at that start */
	uint64_t window_received_packets; /* and the receiver's packet count then */
	uint32_t window_arrival_us; /* when that probe reached the receiver, by its clock */
	uint64_t assigned_bytes;  /* given to it since the window started */
	uint64_t window_sent_bytes; /* bytes sent before the probe answered at that start */
	uint64_t window_probe_us;   /* when that probe left */
	bool window_open;
	uint64_t delivered_bytes; /* the receiver's latest counter */
	uint64_t stopped_us;      /* when the link last failed */
	bool stopped;
	struct braid__capacity_departure departures[BRAID__CAPACITY_DEPARTURES];
};

/* A fresh link (or one back from the dead) starts at a modest rate and earns more. */
void braid__capacity_reset(struct braid__capacity *c, double start_bps, uint64_t now_us);

/* The link failed (now_us), or came back: after a short outage (a handover, replies lost
 * on the way back) it carries what it did, and the estimate stands; a fresh start would
 * leave it given a quarter of that for seconds. Returns false when the outage was long
 * (or the link never failed): the caller resets the estimate. */
void braid__capacity_stop(struct braid__capacity *c, uint64_t now_us);
bool braid__capacity_resume(struct braid__capacity *c, uint64_t now_us);

/* What one probe's answer tells about a link. */
struct braid__capacity_feedback {
	uint64_t probe_sent_us;      /* when the answered probe left */
	uint64_t delivered_bytes;    /* the receiver's cumulative payload bytes */
	uint64_t sent_packets;       /* data packets sent on the link before that probe */
	uint64_t sent_bytes;         /* and their bytes */
	uint64_t received_packets;   /* the receiver's cumulative packet count */
	uint32_t arrival_us;         /* the receiver's clock when the probe arrived */
	uint64_t forward_queue_us;   /* its one-way delay over the link's recent minimum */
	uint64_t min_rtt_us;         /* the link's minimum RTT */
	uint64_t predicted_queue_us; /* queueing in the network the probe was expected to meet */
	double loss;                 /* the link's smoothed loss rate */
	uint64_t window_us;          /* how long a delivery-rate window lasts */
};

/* An answer arrived at now. The delivery rate is measured by the receiver's clock, so
 * answers held up on the way back and then delivered in a bunch measure it as well as any.
 * Packets lost in a window count as carried (the medium lost them, they took their share
 * of the link) unless the forward queue is deep enough to overflow: then only a few
 * percent do. */
void braid__capacity_on_feedback(struct braid__capacity *c, uint64_t now_us,
				 const struct braid__capacity_feedback *fb);

/* Still starting and nothing measured yet, and the sender holds more than the estimate
 * would take: start from share_bps instead (doubling from a modest guess would leave the
 * first second short). */
void braid__capacity_seed(struct braid__capacity *c, double share_bps);

/* Data waits for every link (all are paced full) and no window filled this one lately:
 * double its pace now (an input that steps up from idle must not wait for windows to find
 * the rate). Returns true when it did: the caller then sends a probe at once, and the
 * next boost waits for its answer. An answer that shows a queue undoes the boost and
 * marks the link full; one without lets it double again, a few milliseconds on. */
bool braid__capacity_boost(struct braid__capacity *c, uint64_t now_us);

/* The estimate may be stale (taken while the link was given little) and the link is about
 * to be given more (another failed): find its rate again by doubling, as at the start. */
void braid__capacity_probe_again(struct braid__capacity *c);

/* Another link failed and this one is to carry needed_bps (its share of what the failed
 * one carried, on top of its own). An estimate no window has filled the link lately says
 * only that it carries at least that: pace at needed_bps at once, rather than double up
 * from it for seconds. One the link was filled at lately stands. Either way, probe up from
 * there as at the start. */
void braid__capacity_take_over(struct braid__capacity *c, double needed_bps, uint64_t now_us);

/* The link was silent for a while: the next answer opens a new delivery-rate window (one
 * spanning the silence would take the link for slower than it is). */
void braid__capacity_restart_window(struct braid__capacity *c);

/* When a packet of `bytes` given to the link now would arrive (one_way_us: propagation). */
uint64_t braid__capacity_arrival(const struct braid__capacity *c, uint64_t now_us, size_t bytes,
				 uint64_t one_way_us);
/* When a packet of `bytes` put before everything that waits (a resend) would arrive: only
 * the pacer's wait for the packet now leaving is ahead of it. */
uint64_t braid__capacity_front_arrival(const struct braid__capacity *c, uint64_t now_us,
				       size_t bytes, uint64_t one_way_us);
/* How long what waits for the link takes to leave at the current pace. */
uint64_t braid__capacity_backlog(const struct braid__capacity *c, uint64_t now_us);
/* A packet was queued for the link / taken back off it (the link failed). */
void braid__capacity_assign(struct braid__capacity *c, size_t bytes);
void braid__capacity_unassign(struct braid__capacity *c, size_t bytes);
/* The pacer lets a packet leave up to this before its time: what falls due within it
 * leaves in one turn of the event loop (one system call, one wake-up) rather than one
 * wake-up per packet, which at loopback rates costs more than the sending. A millisecond
 * is under a packet at a few Mbit/s: slow links still see one packet at a time. */
#define BRAID__PACER_SLACK_US 1000
/* When the next packet may leave (its time less the slack). */
uint64_t braid__capacity_send_at(const struct braid__capacity *c);
/* Whether the pacer lets a packet leave now, and that one did. */
bool braid__capacity_may_send(const struct braid__capacity *c, uint64_t now_us);
void braid__capacity_sent(struct braid__capacity *c, uint64_t now_us, size_t bytes);

/* Packet seq left now and should arrive at arrival_us; when the one recorded for seq should
 * arrive (false when not recorded, or forgotten). */
void braid__capacity_departed(struct braid__capacity *c, uint64_t seq, uint64_t arrival_us);
bool braid__capacity_expected(const struct braid__capacity *c, uint64_t seq,
			      uint64_t *arrival_us);

#endif
