/* Adaptive mode: each packet goes to the link where it is expected to arrive first, paced
 * at that link's estimated capacity; what waits on a link that fails or slows down moves to
 * the others while it can still make its release. */
#include <string.h>

#include "core/sender_internal.h"

bool braid__sender_eligible(const struct braid_sender *s, const struct braid__sender_link *l)
{
	if (braid__sender_link_usable(l))
		return true;
	return l->used && l->acked && braid_link_state_live(l->health.state) &&
	       braid__sender_usable_links(s) == 0;
}

/* When the receiver releases a packet: its timestamp + the fastest path + the budget. */
uint64_t braid__sender_release_deadline(const struct braid_sender *s,
					const struct braid__history_entry *e)
{
	uint64_t fastest = UINT64_MAX;
	for (size_t i = 0; i < s->sched_count; i++) {
		const struct braid__sender_link *l = &s->links[s->sched_slot[i]];
		if (braid_link_state_live(l->health.state) && l->rtt.has_sample &&
		    l->rtt.min_us / 2 < fastest)
			fastest = l->rtt.min_us / 2;
	}
	return e->pushed_us + s->settings.latency_us + (fastest == UINT64_MAX ? 0 : fastest);
}

/* How much later than predicted a packet may arrive on a paced link: the queue its
 * probing may build in the network (what the capacity estimate tolerates). */
uint64_t braid__sender_arrival_tolerance(const struct braid__sender_link *l)
{
	return l->rtt.min_us / 4 > ARRIVAL_TOLERANCE_US ? l->rtt.min_us / 4
							 : ARRIVAL_TOLERANCE_US;
}

/* Adaptive: the live link where the packet is expected to arrive first, and the next best
 * too when that one is failing (degraded, or a probe answer overdue) or when the
 * redundancy share calls for a copy. A link that would deliver after the release deadline
 * is not a choice: a packet no link can deliver in time is dropped here rather than spend
 * a link's time. Returns how many slots were written. */
size_t braid__sender_pick_adaptive(struct braid_sender *s, const struct braid__history_entry *e,
			    size_t out[2], enum braid__copy_cause *why)
{
	*why = BRAID__COPY_NONE;
	size_t best = BRAID_MAX_LINKS, second = BRAID_MAX_LINKS;
	uint64_t best_at = UINT64_MAX, second_at = UINT64_MAX;
	uint64_t deadline = braid__sender_release_deadline(s, e);
	for (size_t i = 0; i < s->sched_count; i++) {
		size_t slot = s->sched_slot[i];
		const struct braid__sender_link *l = &s->links[slot];
		if (!braid__sender_eligible(s, l))
			continue;
		uint64_t at = braid__sender_link_arrival(l, s->now, e->len);
		if (at + braid__sender_arrival_tolerance(l) > deadline)
			continue;
		if (at < best_at) {
			second = best;
			second_at = best_at;
			best = slot;
			best_at = at;
		} else if (at < second_at) {
			second = slot;
			second_at = at;
		}
	}
	if (best == BRAID_MAX_LINKS)
		return 0;
	out[0] = best;
	const struct braid__sender_link *l = &s->links[best];
	/* Only a forecast in doubt earns a copy: the link's answer is overdue. A link that
	 * loses a share of what it carries (degraded) is repaired by NACKs at a fraction of
	 * what copying everything on it would cost. */
	bool failing = s->now - l->health.last_reply_us > s->settings.health.probe_interval_us +
							   4 * l->rtt.rttvar_us;
	/* A copy for a failing link is worth it only where it costs no fresh data its place:
	 * on a link that has time to spare. */
	bool spare = second != BRAID_MAX_LINKS &&
		     braid__capacity_backlog(&s->links[second].capacity, s->now) <=
			     s->settings.health.probe_interval_us;
	s->redundancy_credit += s->settings.redundancy;
	bool redundant = s->redundancy_credit >= 1.0;
	if (redundant)
		s->redundancy_credit -= 1.0;
	if (second != BRAID_MAX_LINKS && (redundant || (failing && spare))) {
		out[1] = second;
		*why = redundant ? BRAID__COPY_REDUNDANCY : BRAID__COPY_HEDGE;
		return 2;
	}
	return 1;
}

/* A packet is given to a link only shortly before it leaves: a link whose pace then falls
 * strands little, and each packet is placed with the latest estimates. */
bool braid__sender_links_busy(const struct braid_sender *s)
{
	for (size_t i = 0; i < s->sched_count; i++) {
		const struct braid__sender_link *l = &s->links[s->sched_slot[i]];
		if (braid__sender_eligible(s, l) &&
		    braid__capacity_backlog(&l->capacity, s->now) <= ASSIGN_HORIZON_US)
			return false;
	}
	return true;
}

uint64_t braid__sender_link_room_at(const struct braid_sender *s, size_t slot)
{
	const struct braid__sender_link *l = &s->links[slot];
	if (s->settings.mode != BRAID_MODE_ADAPTIVE || s->next_unsent >= s->next_seq ||
	    !braid__sender_eligible(s, l))
		return UINT64_MAX;
	uint64_t backlog = braid__capacity_backlog(&l->capacity, s->now);
	return backlog > ASSIGN_HORIZON_US ? s->now + backlog - ASSIGN_HORIZON_US : UINT64_MAX;
}

size_t braid__sender_live_links(const struct braid_sender *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->sched_count; i++)
		n += braid_link_state_live(s->links[s->sched_slot[i]].health.state);
	return n;
}

size_t braid__sender_usable_links(const struct braid_sender *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->sched_count; i++)
		n += braid__sender_link_usable(&s->links[s->sched_slot[i]]);
	return n;
}

/* When a packet stranded on a stalled link is sent again elsewhere: once the time left
 * before its release is what a resend needs, with room for one more try (twice the
 * slowest usable link's round trip). Sooner would spend the links on copies of what a
 * stall that ends in time delivers anyway; a NACK may come first, when the receiver's
 * word gets through. */
static uint64_t timeout_lead(const struct braid_sender *s)
{
	uint64_t rtt = 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (braid__sender_link_usable(l) && l->rtt.srtt_us > rtt)
			rtt = l->rtt.srtt_us;
	}
	return TIMEOUT_LEAD_RTTS * rtt + TIMEOUT_LEAD_US;
}

/* Packets a stalled link took since the last probe it answered (give or take its jitter)
 * are not known to have arrived: each whose release draws near goes again on a link that
 * is not stalled, if none carries it yet, within the resend budget. */
static void resend_overdue(struct braid_sender *s)
{
	uint64_t stalled_mask = 0, usable_mask = 0, since[BRAID_MAX_LINKS] = { 0 };
	uint64_t oldest = UINT64_MAX;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (braid__sender_link_usable(l))
			usable_mask |= (uint64_t)1 << i;
		if (!l->used || !l->acked || !l->stalled || !braid_link_state_live(l->health.state))
			continue;
		stalled_mask |= (uint64_t)1 << i;
		uint64_t margin = 2 * l->rtt.rttvar_us;
		since[i] = l->last_answered_probe_us > margin ? l->last_answered_probe_us - margin : 0;
		if (since[i] < oldest)
			oldest = since[i];
	}
	if (!stalled_mask || !usable_mask)
		return;
	uint64_t lead = timeout_lead(s);
	for (uint64_t seq = s->next_unsent; seq-- > 0;) {
		struct braid__history_entry *e = braid__history_get(&s->history, seq);
		if (!e || e->pushed_us < oldest || braid__sender_expired(s, e))
			break;
		uint64_t stranded = e->link_mask & stalled_mask;
		if (!stranded || (e->link_mask & usable_mask))
			continue;
		bool unconfirmed = false;
		for (size_t i = 0; i < s->links_in_use && !unconfirmed; i++)
			unconfirmed = (stranded >> i & 1) && e->pushed_us >= since[i];
		if (!unconfirmed || braid__sender_release_deadline(s, e) > s->now + lead)
			continue;
		if (!braid__sender_resend_entry(s, e, -1, BRAID__SEND_TIMEOUT))
			break; /* the budget is spent */
	}
}

void braid__sender_check_stalls(struct braid_sender *s)
{
	bool any = false;
	for (size_t i = 0; i < s->links_in_use; i++) {
		struct braid__sender_link *l = &s->links[i];
		if (s->now >= braid__sender_link_stall_deadline(l, &s->settings.health)) {
			l->stalled = true;
			s->stats.stalls++;
			/* what waits for it goes elsewhere, if there is an elsewhere */
			if (braid__sender_usable_links(s))
				braid__sender_rehome_paced(s, i);
		}
		any |= l->used && l->stalled && braid_link_state_live(l->health.state);
	}
	if (!any || s->now < s->timeout_check_us)
		return;
	s->timeout_check_us = s->now + TIMEOUT_CHECK_US;
	resend_overdue(s);
}

uint64_t braid__sender_stall_timeout(const struct braid_sender *s)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__sender_link *l = &s->links[i];
		uint64_t t = braid__sender_link_stall_deadline(l, &s->settings.health);
		if (l->used && l->stalled && braid_link_state_live(l->health.state))
			t = s->timeout_check_us;
		if (t < next)
			next = t;
	}
	return next;
}

/* Adaptive: queues the packet on the link for its departure time at the link's pace
 * (resends go first: they are late already). */
bool braid__sender_pace(struct braid_sender *s, size_t slot, const struct braid__history_entry *e,
		 uint8_t flags)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid__paced_item item = { .seq = e->seq, .len = (uint16_t)e->len, .flags = flags };
	bool queued = flags & BRAID_FLAG_RETRANSMIT ? braid__paced_push_front(&l->paced, item)
						     : braid__paced_push(&l->paced, item);
	if (!queued) {
		s->stats.pacer_drops++;
		return false;
	}
	braid__capacity_assign(&l->capacity, e->len);
	return true;
}

/* Data still waiting on a link that failed goes to the others, in order. */
void braid__sender_rehome_paced(struct braid_sender *s, size_t slot)
{
	struct braid__paced_queue *q = &s->links[slot].paced;
	const struct braid__paced_item *it;
	while ((it = braid__paced_peek(q)) != NULL) {
		struct braid__paced_item item = *it;
		braid__paced_pop(q);
		struct braid__history_entry *e = braid__history_get(&s->history, item.seq);
		braid__capacity_unassign(&s->links[slot].capacity, item.len);
		if (e && !braid__sender_expired(s, e))
			braid__sender_schedule_entry(s, e, item.flags, (int)slot,
						     BRAID__SEND_MOVED);
	}
}

/* Adaptive: the link's pace just changed. What waits for it and would now arrive after its
 * release goes to a link that can still deliver it in time, before it is too late for any;
 * what no other link can take stays (the pace may rise again). */
void braid__sender_rehome_late(struct braid_sender *s, size_t slot)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid__paced_queue *q = &l->paced;
	if (s->settings.mode != BRAID_MODE_ADAPTIVE || !q->count)
		return;
	uint64_t one_way = l->rtt.has_sample ? l->rtt.min_us / 2 : 0;
	uint64_t wait = l->capacity.next_send_us > s->now ? l->capacity.next_send_us - s->now : 0;
	uint64_t bytes = 0;
	size_t first_late = q->count;
	for (size_t i = 0; i < q->count; i++) {
		const struct braid__paced_item *it = braid__paced_at(q, i);
		bytes += it->len;
		const struct braid__history_entry *e = braid__history_get(&s->history, it->seq);
		if (!e)
			continue;
		uint64_t at = s->now + wait + (uint64_t)((double)bytes * 8e6 /
							 l->capacity.rate_bps) + one_way;
		if (at + braid__sender_arrival_tolerance(l) > braid__sender_release_deadline(s, e)) {
			first_late = i;
			break;
		}
	}
	size_t moved = q->count - first_late;
	if (moved > REHOME_MAX)
		moved = REHOME_MAX; /* the latest: one feedback's worth of work at most */
	if (!moved)
		return;
	struct braid__paced_item late[REHOME_MAX];
	braid__paced_take_tail(q, moved, late);
	for (size_t i = 0; i < moved; i++) {
		braid__capacity_unassign(&l->capacity, late[i].len);
		struct braid__history_entry *e = braid__history_get(&s->history, late[i].seq);
		if (!e)
			continue;
		size_t picked[2];
		enum braid__copy_cause why;
		size_t n = braid__sender_pick_adaptive(s, e, picked, &why);
		size_t to = n && picked[0] != slot ? picked[0] : n > 1 ? picked[1] : slot;
		if (!braid__sender_pace(s, to, e, late[i].flags)) {
			e->link_mask &= ~((uint64_t)1 << slot);
			continue;
		}
		if (to != slot) {
			e->link_mask &= ~((uint64_t)1 << slot);
			e->link_mask |= (uint64_t)1 << to;
		}
	}
}

/* Whether a packet leaving on the link now would reach the receiver after its release
 * (its timestamp + the budget + the fastest path): a resend near the budget's end, put
 * before the queue, is still worth sending for that path's delay. */
static bool too_late_to_leave(const struct braid_sender *s, const struct braid__sender_link *l,
			      const struct braid__history_entry *e)
{
	uint64_t one_way = l->rtt.has_sample ? l->rtt.min_us / 2 : 0;
	return s->now + one_way > braid__sender_release_deadline(s, e);
}

/* The link whose pacer lets its next packet leave first (due now, within the slack), or
 * -1. */
static int due_paced_link(const struct braid_sender *s)
{
	int due = -1;
	uint64_t when = UINT64_MAX;
	for (int i = 0; i < (int)s->links_in_use; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (l->used && braid__paced_peek(&l->paced) &&
		    braid__capacity_may_send(&l->capacity, s->now) &&
		    l->capacity.next_send_us < when) {
			due = i;
			when = l->capacity.next_send_us;
		}
	}
	return due;
}

int braid__sender_poll_paced(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap)
{
	int slot;
	while ((slot = due_paced_link(s)) >= 0) {
		struct braid__sender_link *l = &s->links[slot];
		struct braid__paced_item item = *braid__paced_peek(&l->paced);
		braid__paced_pop(&l->paced);
		struct braid__history_entry *e = braid__history_get(&s->history, item.seq);
		if (!e || too_late_to_leave(s, l, e)) {
			braid__capacity_unassign(&l->capacity, item.len);
			if (e)
				e->link_mask &= ~((uint64_t)1 << slot);
			s->stats.expired++;
			continue;
		}
		braid__capacity_sent(&l->capacity, s->now, e->len);
		struct tx_item it = { .type = BRAID_PKT_DATA, .flags = item.flags,
				      .slot = (uint8_t)slot, .seq = item.seq };
		int n = braid__sender_encode_item(s, &it, buf, cap);
		if (n > 0) {
			*link_id = l->id;
			return n;
		}
	}
	return 0;
}
