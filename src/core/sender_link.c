#include "core/sender_link.h"

#include <math.h>
#include <string.h>

/* Echoed timestamps older than this are not believed (a stale or forged reply). */
#define MAX_RTT_US 10000000u
#define CAPACITY_WINDOW_US 100000 /* delivery rate over at least this, or one RTT */
#define FIRST_RATE_BPS 1000000.0
#define PROBE_LOSS_GAIN 0.05 /* per probe */
#define FORWARD_DRIFT 1e-4 /* two clocks drift apart by less than 100 ppm */
#define FORWARD_ANCHOR_US 2000 /* an RTT this close to the minimum: no queue either way */
#define LOSSY_STRETCH 4.0    /* silence allowed grows by 4x the probe loss share, */
#define LOSSY_MAX 2.0        /* up to twice the usual */
#define STALL_PROBES 2       /* answers missing before a link counts as stalled */
#define STALL_MARGIN 1.5     /* silence tolerated: this times the longest one survived */
#define STALL_MEMORY_MAX_US 2000000.0 /* but never more than this before death */
#define STALL_HALF_LIFE_US 30000000.0 /* how fast a survived silence is forgotten */

bool braid__link_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > BRAID_LINK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return false;
	return true;
}

void braid__sender_link_init(struct braid__sender_link *l, uint16_t id,
			     const struct braid_link_config *cfg, uint64_t now_us)
{
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->id = id;
	strcpy(l->name, cfg->name);
	l->weight = cfg->weight;
	l->priority = cfg->priority;
	braid_health_init(&l->health);
	l->next_probe_us = now_us; /* say HELLO at once */
}

void braid__sender_link_fill_control(struct braid__sender_link *l, struct braid_packet *p,
				     const uint8_t nonce[BRAID_NONCE_SIZE], uint64_t now_us)
{
	if (p->header.type == BRAID_PKT_HELLO) {
		struct braid_hello *h = &p->body.hello;
		memcpy(h->sender_nonce, nonce, BRAID_NONCE_SIZE);
		/* unkeyed, the key's place carries the cookie (keyed, the exchange overwrites) */
		memcpy(h->ephemeral, l->cookie, BRAID_COOKIE_SIZE);
		h->timestamp_us = (uint32_t)now_us;
		h->name_len = (uint8_t)strlen(l->name);
		memcpy(h->name, l->name, h->name_len + 1u);
	} else if (p->header.type == BRAID_PKT_PROBE) {
		uint32_t seq = l->probe_seq++;
		p->body.probe.probe_seq = seq;
		p->body.probe.timestamp_us = (uint32_t)now_us;
		p->body.probe.rtt_us = l->rtt.srtt_us > UINT32_MAX ? UINT32_MAX
								  : (uint32_t)l->rtt.srtt_us;
		l->probes[seq % BRAID__PROBE_RECORDS] = (struct braid__probe_record){
			.probe_seq = seq, .sent_us = now_us, .data_sent = l->packets_sent,
			.data_bytes_sent = l->bytes_sent,
			/* data is paced at the estimate: no queue in the network is expected */
			.predicted_queue_us = 0,
			.valid = true,
		};
	}
}

static bool before32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* The queue in front of the link, from the probe's one-way delay by the receiver's clock
 * over its base: a return path that holds the answers back does not count, as it would in
 * the RTT. The base is the delay of a probe whose RTT was at the link's minimum (no queue
 * either way), or a lower delay since; it may creep up as fast as clocks drift apart
 * (FORWARD_DRIFT), far slower than any queue builds, so a queue that stands stays in
 * sight. Before any such probe, the RTT's excess stands in. */
static void update_forward_queue(struct braid__sender_link *l, uint32_t arrival_us,
				 uint64_t sent_us, uint64_t now_us)
{
	uint32_t delay = arrival_us - (uint32_t)sent_us;
	uint64_t rtt_excess = l->rtt.latest_us > l->rtt.min_us ? l->rtt.latest_us - l->rtt.min_us
								: 0;
	uint64_t tolerance = l->rtt.min_us / 16 > FORWARD_ANCHOR_US ? l->rtt.min_us / 16
								    : FORWARD_ANCHOR_US;
	uint32_t base = l->forward_base +
			(uint32_t)((double)(now_us - l->forward_base_at_us) * FORWARD_DRIFT);
	if (rtt_excess <= tolerance || (l->forward_known && before32(delay, base))) {
		l->forward_base = base = delay;
		l->forward_base_at_us = now_us;
		l->forward_known = true;
	}
	/* the forward queue is part of the RTT's excess, never more (whatever the answer says) */
	uint64_t forward = l->forward_known ? (uint32_t)(delay - base) : rtt_excess;
	l->forward_queue_us = forward < rtt_excess ? forward : rtt_excess;
	l->forward_queue_smooth_us = l->forward_queue_smooth_us -
				     l->forward_queue_smooth_us / 8 + l->forward_queue_us / 8;
}

static void take_loss_sample(struct braid__sender_link *l, const struct braid_probe_reply *reply,
			     uint64_t now_us)
{
	struct braid__probe_record *rec = &l->probes[reply->probe_seq % BRAID__PROBE_RECORDS];
	if (!rec->valid || rec->probe_seq != reply->probe_seq)
		return;
	update_forward_queue(l, reply->arrival_us, rec->sent_us, now_us);
	l->received_reported = braid_extend32(reply->received, l->received_reported);
	l->received_bytes_reported = braid_extend32(reply->received_bytes,
						    l->received_bytes_reported);
	/* a round trip without the queue: a standing queue must not slow the estimate down */
	uint64_t window = l->rtt.min_us > CAPACITY_WINDOW_US ? l->rtt.min_us : CAPACITY_WINDOW_US;
	struct braid__capacity_feedback fb = {
		.probe_sent_us = rec->sent_us, .delivered_bytes = l->received_bytes_reported,
		.sent_packets = rec->data_sent, .sent_bytes = rec->data_bytes_sent,
		.received_packets = l->received_reported,
		.arrival_us = reply->arrival_us, .forward_queue_us = l->forward_queue_us,
		.min_rtt_us = l->rtt.min_us, .predicted_queue_us = rec->predicted_queue_us,
		.loss = braid_loss_fraction(&l->loss), .window_us = window,
	};
	braid__capacity_on_feedback(&l->capacity, now_us, &fb);
	braid_loss_add(&l->loss, rec->data_sent, l->received_reported);
	if (rec->sent_us > l->last_answered_probe_us)
		l->last_answered_probe_us = rec->sent_us;
	/* Unanswered probes between the last answer and this one: how lossy the round trip
	 * is, so silence on a lossy link can be given more time before it counts as death. */
	uint32_t missed = l->answered_any ? reply->probe_seq - l->last_answered_seq - 1 : 0;
	if (missed < BRAID__PROBE_RECORDS) {
		for (uint32_t i = 0; i < missed; i++)
			l->probe_loss = l->probe_loss * (1 - PROBE_LOSS_GAIN) + PROBE_LOSS_GAIN;
		l->probe_loss *= 1 - PROBE_LOSS_GAIN;
	}
	l->last_answered_seq = reply->probe_seq;
	l->answered_any = true;
	l->jitter_us = reply->jitter_us;
	rec->valid = false; /* a duplicated reply must not count twice */
}

static double stall_memory(const struct braid__sender_link *l, uint64_t now_us)
{
	if (l->stall_memory_us <= 0)
		return 0;
	double age = (double)(now_us - l->stall_memory_at_us);
	return l->stall_memory_us * pow(0.5, age / STALL_HALF_LIFE_US);
}

void braid__sender_link_remember_silence(struct braid__sender_link *l, uint64_t silence_us,
					 uint64_t now_us)
{
	double silence = (double)silence_us;
	if (silence > STALL_MEMORY_MAX_US / STALL_MARGIN)
		silence = STALL_MEMORY_MAX_US / STALL_MARGIN;
	if (silence > stall_memory(l, now_us)) {
		l->stall_memory_us = silence;
		l->stall_memory_at_us = now_us;
	}
}

uint64_t braid__sender_link_stall_after(const struct braid__sender_link *l,
					const struct braid_health_settings *hs)
{
	return hs->probe_interval_us * STALL_PROBES + 4 * l->rtt.rttvar_us;
}

uint64_t braid__sender_link_stall_deadline(const struct braid__sender_link *l,
					   const struct braid_health_settings *hs)
{
	if (!braid__sender_link_usable(l))
		return UINT64_MAX;
	return l->health.last_reply_us + braid__sender_link_stall_after(l, hs) + 1;
}

bool braid__sender_link_usable(const struct braid__sender_link *l)
{
	return l->used && l->acked && braid_link_state_live(l->health.state) && !l->stalled;
}

bool braid__sender_link_on_reply(struct braid__sender_link *l,
				 const struct braid_health_settings *hs, uint64_t now_us,
				 uint32_t echo_timestamp_us, const struct braid_probe_reply *reply)
{
	uint32_t rtt = (uint32_t)now_us - echo_timestamp_us;
	if (rtt > MAX_RTT_US)
		return false;
	braid_rtt_update(&l->rtt, rtt);
	/* Back from a stall, or from a short down: slow, not dead. Remember how long, and
	 * measure its rate afresh (a window across the silence says nothing of what it
	 * carries). A long outage is not a stall to wait out next time. */
	uint64_t silence = now_us - l->health.last_reply_us;
	bool silent = l->stalled || (l->health.state == BRAID_LINK_DOWN && l->health.ever_up);
	if (silent && silence <= (uint64_t)STALL_MEMORY_MAX_US)
		braid__sender_link_remember_silence(l, silence, now_us);
	if (l->stalled) {
		l->stalled = false;
		braid__capacity_restart_window(&l->capacity);
	}
	/* Answers to the probes sent after the last one heard take an RTT to come back: half
	 * of it beyond the probe rule leaves room for several (faster) probes to be answered
	 * before a lossy link is taken for dead; a long queue's slow answers need SRTT +
	 * 4 RTTVAR. */
	uint64_t after_probes = hs->probe_interval_us * hs->down_after_missed + l->rtt.srtt_us / 2;
	/* where probes or answers are often lost, a longer silence is still only bad luck */
	double lossy = 1.0 + LOSSY_STRETCH * l->probe_loss;
	after_probes = (uint64_t)((double)after_probes * (lossy < LOSSY_MAX ? lossy : LOSSY_MAX));
	uint64_t slow = l->rtt.srtt_us + 4 * l->rtt.rttvar_us;
	l->health.rtt_allowance_us = after_probes > slow ? after_probes : slow;
	/* a link that came back from silences this long is slow, not dead, when it is silent
	 * as long again */
	uint64_t survived = (uint64_t)(stall_memory(l, now_us) * STALL_MARGIN);
	if (survived > l->health.rtt_allowance_us)
		l->health.rtt_allowance_us = survived;
	if (reply)
		take_loss_sample(l, reply, now_us);
	else if (now_us - rtt > l->last_answered_probe_us)
		l->last_answered_probe_us = now_us - rtt;
	return braid_health_on_reply(&l->health, hs, now_us, braid_loss_fraction(&l->loss),
				     l->rtt.srtt_us);
}

void braid__sender_link_forget_path(struct braid__sender_link *l)
{
	l->forward_known = false;
	l->forward_queue_us = 0;
	l->forward_queue_smooth_us = 0;
}

void braid__sender_link_restart_capacity(struct braid__sender_link *l, double floor_bps,
					 uint64_t now_us)
{
	if (braid__capacity_resume(&l->capacity, now_us))
		return;
	double first = floor_bps > FIRST_RATE_BPS ? floor_bps : FIRST_RATE_BPS;
	double start = l->capacity.bottleneck_bps > 0 ? l->capacity.bottleneck_bps / 4 : first;
	braid__capacity_reset(&l->capacity, start, now_us);
}

uint64_t braid__sender_link_path_delay(const struct braid__sender_link *l)
{
	/* a queue standing in the network delays it too */
	return l->rtt.has_sample ? l->rtt.min_us / 2 + l->forward_queue_smooth_us : 0;
}

uint64_t braid__sender_link_latest_path_delay(const struct braid__sender_link *l)
{
	if (!l->rtt.has_sample)
		return 0;
	uint64_t queue = l->forward_queue_us > l->forward_queue_smooth_us
				 ? l->forward_queue_us : l->forward_queue_smooth_us;
	return l->rtt.min_us / 2 + queue;
}

uint64_t braid__sender_link_arrival(const struct braid__sender_link *l, uint64_t now_us,
				    size_t bytes)
{
	return braid__capacity_arrival(&l->capacity, now_us, bytes,
				       braid__sender_link_path_delay(l));
}

uint64_t braid__sender_link_probe_gap(const struct braid__sender_link *l,
				      const struct braid_health_settings *hs, uint64_t now_us)
{
	bool overdue = l->acked && braid_link_state_live(l->health.state) &&
		       now_us - l->health.last_reply_us > hs->probe_interval_us;
	uint64_t gap = overdue ? hs->probe_interval_us / 5 : hs->probe_interval_us;
	return gap ? gap : 1;
}

void braid__sender_link_stats(const struct braid__sender_link *l, struct braid_link_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->id = l->id;
	strcpy(out->name, l->name);
	out->state = l->health.state;
	out->rtt_ms = (double)l->rtt.srtt_us / 1000.0;
	out->loss = braid_loss_fraction(&l->loss);
	out->jitter_ms = l->jitter_us / 1000.0;
	out->packets_sent = l->packets_sent;
	out->bytes_sent = l->bytes_sent;
	out->packets_received = l->packets_received;
	out->bytes_received = l->bytes_received;
	out->down_events = l->down_events;
	out->capacity_kbps = l->capacity.bottleneck_bps / 1000.0;
	out->delivered_kbps = l->capacity.delivered_bps / 1000.0;
}
