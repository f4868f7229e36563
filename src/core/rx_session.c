#include "core/rx_session.h"

#include <string.h>

#include "braid/error.h"

#define WRAP_BASE ((uint64_t)1 << 32)
#define NACK_TRACKED 8192      /* missing numbers followed at once */
#define NACK_MAX_GAP 2048      /* a larger gap is an outage: ask for its newest part only */
#define REORDER_MARGIN_US 2000
#define NACK_WAIT_RTTS 2         /* the longest wait before a first ask, in round trips */
#define PATIENCE_SHARE 4        /* of the time left before release, at most */

int braid__rx_session_init(struct braid__rx_session *s, uint32_t id, size_t reorder_capacity,
			   uint64_t now_us)
{
	memset(s, 0, sizeof(*s));
	braid__clock_init(&s->clock);
	s->rxbuf = braid_rxbuf_new(reorder_capacity);
	if (!s->rxbuf || braid__nack_init(&s->nack, NACK_TRACKED) < 0) {
		braid_rxbuf_free(s->rxbuf);
		s->rxbuf = NULL;
		return BRAID_ERR_NOMEM;
	}
	s->used = true;
	s->id = id;
	s->stats.session_id = id;
	s->last_heard_us = now_us;
	return 0;
}

void braid__rx_session_free(struct braid__rx_session *s)
{
	braid_rxbuf_free(s->rxbuf);
	braid__nack_free(&s->nack);
	memset(s, 0, sizeof(*s));
}

struct braid__rx_link *braid__rx_session_link(struct braid__rx_session *s, uint16_t link_id)
{
	for (size_t i = 0; i < s->links_in_use; i++)
		if (s->links[i].used && s->links[i].id == link_id)
			return &s->links[i];
	return NULL;
}

struct braid__rx_link *braid__rx_session_add_link(struct braid__rx_session *s, uint16_t link_id,
						  const char *name, uint64_t now_us)
{
	struct braid__rx_link *l = braid__rx_session_link(s, link_id);
	if (!l) {
		for (size_t i = 0; i < BRAID__RX_MAX_LINKS && !l; i++)
			if (!s->links[i].used)
				l = &s->links[i];
		if (!l)
			return NULL;
		memset(l, 0, sizeof(*l));
		l->used = true;
		l->id = link_id;
		braid_health_init(&l->health);
		l->health.last_reply_us = now_us;
		s->stats.link_count++;
		if ((size_t)(l - s->links) + 1 > s->links_in_use)
			s->links_in_use = (size_t)(l - s->links) + 1;
	}
	strcpy(l->name, name);
	return l;
}

bool braid__rx_link_heard(struct braid__rx_link *l, const struct braid_health_settings *hs,
			  const struct braid_addr *from, uint64_t now_us)
{
	if (from && from->len && !braid_addr_equal(from, &l->addr))
		l->addr = *from; /* NAT rebinding or a modem's new address: same link */
	return braid_health_on_reply(&l->health, hs, now_us, 0.0, 0);
}

/* The link's own delay figures, for the NACK timing; the session's offset is the clock
 * tracker's. */
static void update_link_transit(struct braid__rx_link *l, uint64_t ts, uint64_t now_us)
{
	int64_t transit = (int64_t)now_us - (int64_t)ts;
	if (!l->has_transit) {
		l->transit_us = (double)transit;
		l->transit_min_us = transit;
		l->has_transit = true;
	} else {
		l->transit_us += ((double)transit - l->transit_us) / 8.0;
		if (transit < l->transit_min_us)
			l->transit_min_us = transit;
	}
	braid_jitter_update(&l->jitter, ts, now_us);
}

/* The live links' smoothed transits (lowest and highest), the spread of their least
 * transits (the paths' own, without the sender's queues) and the largest jitter; false
 * when some live link has carried no data yet (its delay could be anything). */
static bool link_spread(const struct braid__rx_session *s, double *lo, double *hi,
			double *paths, double *jitter)
{
	bool any = false, known = true;
	int64_t fastest = 0, slowest = 0;
	*lo = *hi = *jitter = 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__rx_link *l = &s->links[i];
		if (!l->used || !braid_link_state_live(l->health.state))
			continue;
		if (!l->has_transit) {
			known = false;
			continue;
		}
		if (!any || l->transit_us < *lo)
			*lo = l->transit_us;
		if (!any || l->transit_us > *hi)
			*hi = l->transit_us;
		if (!any || l->transit_min_us < fastest)
			fastest = l->transit_min_us;
		if (!any || l->transit_min_us > slowest)
			slowest = l->transit_min_us;
		if (l->jitter.jitter_us > *jitter)
			*jitter = l->jitter.jitter_us;
		any = true;
	}
	*paths = (double)(slowest - fastest);
	return known;
}

/* How long a gap may be a reordering before it is asked for. Paced links deliver in
 * about the order sent, but a pace change or a queue's swing on one link moves its arrivals
 * by a fraction of its round trip, which the links' spread and jitter do not show: while
 * the release is far off, wait up to a round trip more (a resend takes that long anyway),
 * keeping most of the time left for the repair and its repeats.
 * The packet that showed the gap was sent after the missing ones and took `transit`: they
 * are due by the slowest link's transit after their send, which is at most that slowest
 * transit less this one from now (a transit counts the sender's queue for the link too,
 * so the spread between links overstates the wait once the late link's packet is in). */
static uint64_t nack_wait(const struct braid__rx_session *s, uint64_t release_at, uint64_t now_us,
			  int64_t transit)
{
	double lo, hi, paths, jitter;
	bool known = link_spread(s, &lo, &hi, &paths, &jitter);
	double behind = (double)transit > lo ? (double)transit : lo;
	uint64_t wait = (uint64_t)(hi > behind ? hi - behind : 0) + (uint64_t)(4 * jitter) +
			REORDER_MARGIN_US;
	uint64_t rtt = braid__rx_session_rtt(s);
	if (!known && wait < rtt)
		wait = rtt;
	uint64_t left = release_at > now_us ? release_at - now_us : 0;
	uint64_t patience = rtt < left / PATIENCE_SHARE ? rtt : left / PATIENCE_SHARE;
	if (patience > wait)
		wait = patience;
	/* Beyond the paths' own spread and a couple of round trips, a spread is the sender's
	 * queues: a number asked for too early is only not resent (an adaptive sender knows
	 * what is still on its way), and is asked for again a round trip later, while one
	 * asked for too late is lost. */
	uint64_t most = (uint64_t)paths + REORDER_MARGIN_US;
	if (most < rtt * NACK_WAIT_RTTS)
		most = rtt * NACK_WAIT_RTTS;
	if (wait > most)
		wait = most;
	/* however short the time, leave room for one repair rather than none, and for the
	 * RTT to grow meanwhile (a queue building is what delays the packets): a request
	 * that is due when the repair no longer fits is never sent */
	uint64_t repair = rtt + rtt / 2;
	if (wait + repair > left)
		wait = left > repair ? left - repair : 0;
	return wait;
}

void braid__rx_session_data(struct braid__rx_session *s, struct braid__rx_link *l,
			    const struct braid_packet *p, uint64_t latency_us, uint64_t now_us)
{
	const struct braid_data *d = &p->body.data;
	l->data_received++; /* it came over the link, believed or not */
	l->data_bytes += d->payload_len;
	uint64_t ts = s->ts_known ? braid_extend32(d->timestamp_us, s->ts_highest)
				  : WRAP_BASE + d->timestamp_us;
	if (s->clock_from_hello && !(p->header.flags & BRAID_FLAG_RETRANSMIT)) {
		braid__clock_init(&s->clock);
		s->clock_from_hello = false;
	}
	/* checked before anything else is touched: a forged time must not become the
	 * reference that later timestamps are extended from */
	if (braid__clock_observe(&s->clock, ts, now_us, latency_us) != BRAID__CLOCK_OK) {
		s->stats.bad_timestamps++;
		return;
	}
	if (!s->ts_known) {
		s->ts_highest = ts;
		s->ts_known = true;
	}
	if (!s->seen_data) {
		s->seq_highest = WRAP_BASE + d->seq;
		s->seen_data = true;
	}
	uint64_t seq = braid_extend32(d->seq, s->seq_highest);
	uint64_t previous_highest = s->seq_highest;
	if (ts > s->ts_highest)
		s->ts_highest = ts;
	if (seq > s->seq_highest)
		s->seq_highest = seq;
	s->last_data_us = now_us;
	update_link_transit(l, ts, now_us);
	if (p->header.flags & BRAID_FLAG_RETRANSMIT)
		s->stats.retransmitted++;

	int64_t release = (int64_t)ts + braid__clock_offset(&s->clock) + (int64_t)latency_us;
	uint64_t release_at = release > 0 ? (uint64_t)release : 0;
	/* Duplicates and late arrivals are counted by the reorder buffer. */
	braid_rxbuf_insert(s->rxbuf, seq, release_at, d->payload, d->payload_len);
	braid__nack_resolved(&s->nack, seq);
	if (seq > previous_highest + 1) {
		/* The gap is lost for good once this packet is released. */
		uint64_t first = seq - previous_highest - 1 > NACK_MAX_GAP ? seq - NACK_MAX_GAP
									: previous_highest + 1;
		uint64_t ask_at = now_us + nack_wait(s, release_at, now_us,
						     (int64_t)now_us - (int64_t)ts);
		for (uint64_t missing = first; missing < seq; missing++)
			braid__nack_missing(&s->nack, missing, ask_at, release_at);
	}
}

void braid__rx_session_hello_time(struct braid__rx_session *s, uint32_t timestamp_us,
				  uint64_t latency_us, uint64_t now_us)
{
	if (s->ts_known)
		return;
	uint64_t ts = WRAP_BASE + timestamp_us;
	if (braid__clock_observe(&s->clock, ts, now_us, latency_us) != BRAID__CLOCK_OK)
		return;
	s->ts_highest = ts;
	s->ts_known = true;
	s->clock_from_hello = true;
}

void braid__rx_session_sent_through(struct braid__rx_session *s, uint32_t sent_through,
				    uint32_t probe_ts_us, uint64_t latency_us, uint64_t now_us)
{
	/* while data flows, later packets reveal any gap, and better timed */
	if (!s->seen_data || !s->clock.started ||
	    now_us - s->last_data_us < braid__rx_session_rtt(s))
		return;
	uint64_t through = braid_extend32(sent_through, s->seq_highest);
	if (through <= s->seq_highest + 1)
		return;
	/* sent after the highest seen, so released after it: its release is a safe deadline */
	int64_t release = (int64_t)s->ts_highest + braid__clock_offset(&s->clock) +
			  (int64_t)latency_us;
	uint64_t release_at = release > 0 ? (uint64_t)release : 0;
	uint64_t first = through - s->seq_highest - 1 > NACK_MAX_GAP ? through - NACK_MAX_GAP
								    : s->seq_highest + 1;
	/* once registered, a number follows the tracker's rules (asks, deadline): a later
	 * PROBE must not start it over */
	if (first < s->tail_asked)
		first = s->tail_asked;
	if (first >= through)
		return;
	s->tail_asked = through;
	/* timed as for a gap the probe's own transit revealed: the missing may be on slower
	 * links still */
	uint64_t ts = braid_extend32(probe_ts_us, s->ts_highest);
	uint64_t ask_at = now_us + nack_wait(s, release_at, now_us, (int64_t)now_us - (int64_t)ts);
	for (uint64_t missing = first; missing < through; missing++)
		braid__nack_missing(&s->nack, missing, ask_at, release_at);
}

uint64_t braid__rx_session_reorder_wait(const struct braid__rx_session *s)
{
	double lo, hi, paths, jitter;
	bool known = link_spread(s, &lo, &hi, &paths, &jitter);
	uint64_t wait = (uint64_t)(hi - lo + 4 * jitter) + REORDER_MARGIN_US;
	uint64_t rtt = braid__rx_session_rtt(s);
	return !known && wait < rtt ? rtt : wait;
}

uint64_t braid__rx_session_rtt(const struct braid__rx_session *s)
{
	uint64_t best = 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__rx_link *l = &s->links[i];
		if (l->used && l->rtt_us && braid_link_state_live(l->health.state) &&
		    (!best || l->rtt_us < best))
			best = l->rtt_us;
	}
	return best ? best : BRAID__RX_DEFAULT_RTT_US;
}

struct braid__rx_link *braid__rx_session_best_link(struct braid__rx_session *s)
{
	struct braid__rx_link *best = NULL, *recent = NULL;
	for (size_t i = 0; i < s->links_in_use; i++) {
		struct braid__rx_link *l = &s->links[i];
		if (!l->used || !l->addr.len)
			continue;
		if (!recent || l->health.last_reply_us > recent->health.last_reply_us)
			recent = l;
		if (!braid_link_state_live(l->health.state))
			continue;
		if (!best || (l->has_transit && (!best->has_transit ||
						 l->transit_us < best->transit_us)))
			best = l;
	}
	return best ? best : recent;
}

struct braid__rx_link *braid__rx_session_spare_link(struct braid__rx_session *s,
						   const struct braid__rx_link *other)
{
	struct braid__rx_link *spare = NULL;
	for (size_t i = 0; i < s->links_in_use; i++) {
		struct braid__rx_link *l = &s->links[i];
		if (l == other || !l->used || !l->addr.len || !braid_link_state_live(l->health.state))
			continue;
		if (!spare || l->health.last_reply_us > spare->health.last_reply_us)
			spare = l;
	}
	return spare;
}

void braid__rx_link_stats(const struct braid__rx_link *l, struct braid_link_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->id = l->id;
	strcpy(out->name, l->name);
	out->state = l->health.state;
	out->jitter_ms = l->jitter.jitter_us / 1000.0;
	out->rtt_ms = l->rtt_us / 1000.0;
	out->loss = braid_loss_fraction(&l->probe_loss);
	out->packets_sent = l->packets_sent;
	out->bytes_sent = l->bytes_sent;
	out->packets_received = l->packets_received;
	out->bytes_received = l->bytes_received;
	out->down_events = l->down_events;
}
