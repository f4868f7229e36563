/* Answering NACKs: resend what is really missing, on the link expected to deliver it
 * first, within the resend budget. */
#include <string.h>

#include "core/sender_internal.h"

/* Live links as resend candidates; returns how many, and the shortest one-way path delay
 * among them (what the NACK took to come, and what a resend takes at the least). `front`
 * holds the same links with the time a resend takes, which goes before what waits for
 * the link: only the pacer's current wait is ahead. */
static size_t resend_candidates(const struct braid_sender *s, struct braid__resend_link *out,
				struct braid__resend_link *front, uint64_t *fastest_us)
{
	size_t n = 0;
	*fastest_us = UINT64_MAX;
	for (size_t i = 0; i < s->sched_count; i++) {
		const struct braid__sender_link *l = &s->links[s->sched_slot[i]];
		if (!braid__sender_eligible(s, l) || !l->rtt.has_sample)
			continue;
		uint64_t at = braid__sender_link_arrival(l, s->now, BRAID_MAX_PAYLOAD / 4);
		uint64_t front_at = braid__capacity_front_arrival(&l->capacity, s->now,
								  BRAID_MAX_PAYLOAD / 4,
								  l->rtt.min_us / 2);
		out[n] = (struct braid__resend_link){ .slot = s->sched_slot[i],
						      .one_way_us = at - s->now };
		front[n] = (struct braid__resend_link){ .slot = s->sched_slot[i],
							.one_way_us = front_at - s->now };
		if (l->rtt.min_us / 2 < *fastest_us)
			*fastest_us = l->rtt.min_us / 2;
		n++;
	}
	return n;
}

/* Whether the packet still waits for a live link's pacer: it has not left yet, so the
 * NACK only says the receiver's wait was shorter than our queue; a resend would spend
 * the links' time on a copy (the receiver asks again if it really goes missing). */
static bool still_queued(const struct braid_sender *s, const struct braid__history_entry *e)
{
	for (size_t slot = 0; slot < s->links_in_use; slot++) {
		const struct braid__sender_link *l = &s->links[slot];
		if (!(e->link_mask & ((uint64_t)1 << slot)) || !braid__sender_link_usable(l))
			continue;
		if (braid__paced_contains(&l->paced, e->seq))
			return true;
	}
	return false;
}

/* Whether a copy sent on a live link may still be on its way: the NACK left the receiver
 * (about the fastest one-way delay ago) before that copy was due there, give or take the
 * queue a link's probing may build (as the capacity estimate allows). The receiver asks
 * again if it really went missing. */
static bool still_expected(const struct braid_sender *s, const struct braid__history_entry *e,
			   uint64_t fastest_us)
{
	uint64_t asked_at = s->now > fastest_us ? s->now - fastest_us : 0;
	for (size_t slot = 0; slot < s->links_in_use; slot++) {
		const struct braid__sender_link *l = &s->links[slot];
		uint64_t arrival;
		if (!(e->link_mask & ((uint64_t)1 << slot)) || !braid__sender_link_usable(l) ||
		    !braid__capacity_expected(&l->capacity, e->seq, &arrival))
			continue;
		/* the queue's swing since the copy left may delay it further */
		if (asked_at < arrival + braid__sender_arrival_tolerance(l) + 2 * l->rtt.rttvar_us)
			return true;
	}
	return false;
}

static void resend(struct braid_sender *s, struct braid__history_entry *e,
		   const struct braid__resend_link *links, const struct braid__resend_link *front,
		   size_t n, uint64_t fastest_us)
{
	/* Adaptive: still waiting for a pacer, or a copy may still be on its way (the NACK
	 * crossed it, and the receiver asks again if it really went missing). A packet given
	 * up as too late for every link when it came in is sent now if a link can make it. */
	if (s->settings.mode == BRAID_MODE_ADAPTIVE &&
	    (still_queued(s, e) || still_expected(s, e, fastest_us)))
		return;
	/* The receiver releases it at its timestamp + the fastest path + the budget. */
	uint64_t deadline = e->pushed_us + s->settings.latency_us + fastest_us;
	/* A resend less than a round trip ago may still be on its way: the NACK crossed it. */
	if (e->resent_us && s->now - e->resent_us < 2 * fastest_us)
		return;
	size_t picked[2];
	/* The link that would deliver a packet given now first has the least queue for the
	 * resend to push back; when that is too late everywhere, the resend still jumps the
	 * queue, so the time it needs from the front decides. */
	size_t count = braid__resend_pick(links, n, s->now, deadline, picked);
	if (count == 0 && s->settings.mode == BRAID_MODE_ADAPTIVE)
		count = braid__resend_pick(front, n, s->now, deadline, picked);
	if (count == 0) {
		s->stats.resend_undeliverable++;
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (!braid__resend_budget_take(&s->resend, e->len, s->now)) {
			s->stats.resend_over_budget += i == 0;
			return;
		}
		bool adaptive = s->settings.mode == BRAID_MODE_ADAPTIVE;
		if (adaptive ? braid__sender_pace(s, picked[i], e, BRAID_FLAG_RETRANSMIT)
			     : braid__sender_tx_push(s, BRAID_PKT_DATA, BRAID_FLAG_RETRANSMIT, picked[i], e->seq)) {
			e->link_mask |= (uint64_t)1 << picked[i];
			e->resent_us = s->now;
			braid__sender_count_resends(s, BRAID__SEND_NACK, 1);
		}
	}
}

void braid__sender_on_nack(struct braid_sender *s, const struct braid_packet *p)
{
	struct braid__resend_link links[BRAID_MAX_LINKS], front[BRAID_MAX_LINKS];
	uint64_t fastest;
	size_t n = resend_candidates(s, links, front, &fastest);
	/* a NACK may name up to 64 x 65535 numbers: look at a bounded number of them */
	unsigned budget = NACK_MAX_RESENDS, examined = 0;
	for (unsigned i = 0; i < p->body.nack.range_count; i++) {
		uint64_t first = braid_extend32(p->body.nack.ranges[i].first, s->next_seq);
		for (uint64_t seq = first; seq < first + p->body.nack.ranges[i].count; seq++) {
			if (++examined > NACK_MAX_EXAMINED || budget == 0)
				return;
			struct braid__history_entry *e = braid__history_get(&s->history, seq);
			if (!e || seq >= s->next_unsent)
				continue;
			budget--;
			s->stats.nacked++;
			if (n == 0) /* no live link with a measured path */
				s->stats.resend_undeliverable++;
			else
				resend(s, e, links, front, n, fastest);
		}
	}
}
