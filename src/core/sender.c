/* The sending side of a session. Media goes into the history first; what leaves is a
 * queue of small descriptors (which packet, which link) encoded straight into the caller's
 * buffer at poll time, so a packet sent on three links is copied once. */
#include "braid/sender.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "history.h"
#include "pktq.h"
#include "resend.h"
#include "sender_link.h"

#define TX_QUEUE_SIZE 65536
#define OUTPUT_QUEUE_SIZE 1024
#define EVENT_QUEUE_SIZE 64
#define NACK_MAX_RESENDS 1024
#define PACED_QUEUE_SIZE 16384
#define ARRIVAL_TOLERANCE_US 10000
#define REHOME_MAX 256

struct tx_item {
	uint8_t type;  /* BRAID_PKT_* */
	uint8_t flags; /* BRAID_FLAG_RETRANSMIT */
	uint8_t slot;
	uint64_t seq;  /* DATA */
};

struct braid_sender {
	struct braid_sender_settings settings;
	uint8_t *psk;
	uint8_t key[16];
	bool has_key;
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	uint64_t now;
	bool closing;

	struct braid__sender_link links[BRAID_MAX_LINKS];
	uint16_t next_link_id;
	struct braid_sched sched;
	struct braid_sched_link sched_links[BRAID_MAX_LINKS];
	uint8_t sched_slot[BRAID_MAX_LINKS];
	size_t sched_count;

	struct braid__history history;
	uint64_t next_seq;    /* next sequence number for pushed media */
	uint64_t next_unsent; /* first pushed packet not yet scheduled */

	struct tx_item *tx;
	size_t tx_head, tx_count;
	struct braid__pktq output;
	uint64_t reverse_highest;
	uint64_t reverse_window; /* bit i: reverse_highest - i was seen */
	bool reverse_seen;

	struct braid_event events[EVENT_QUEUE_SIZE];
	size_t event_head, event_count;

	struct braid__resend_budget resend;
	double redundancy_credit;
	struct braid_sender_stats stats;
};

void braid_sender_settings_default(struct braid_sender_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = BRAID_SCHED_BROADCAST;
	s->latency_us = 1000000;
	braid_health_settings_default(&s->health);
	s->history_packets = 16384;
	s->resend_share = 0.25;
	s->redundancy = 0;
}

static void push_event(struct braid_sender *s, const struct braid_event *ev)
{
	if (s->event_count == EVENT_QUEUE_SIZE) { /* keep the newest */
		s->event_head = (s->event_head + 1) % EVENT_QUEUE_SIZE;
		s->event_count--;
	}
	s->events[(s->event_head + s->event_count++) % EVENT_QUEUE_SIZE] = *ev;
}

static bool tx_push(struct braid_sender *s, uint8_t type, uint8_t flags, size_t slot,
		    uint64_t seq)
{
	if (s->tx_count == TX_QUEUE_SIZE) {
		s->stats.queue_drops++;
		return false;
	}
	struct tx_item *it = &s->tx[(s->tx_head + s->tx_count++) % TX_QUEUE_SIZE];
	it->type = type;
	it->flags = flags;
	it->slot = (uint8_t)slot;
	it->seq = seq;
	return true;
}

/* The scheduler sees the links whose handshake is done, in slot order. */
static void rebuild_sched(struct braid_sender *s)
{
	size_t n = 0;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++) {
		struct braid__sender_link *l = &s->links[i];
		if (!l->used || !l->acked)
			continue;
		s->sched_links[n] = (struct braid_sched_link){
			.id = l->id, .state = l->health.state,
			.weight = l->weight, .priority = l->priority,
		};
		s->sched_slot[n++] = (uint8_t)i;
	}
	s->sched_count = n;
	if (s->sched.next >= n)
		s->sched.next = 0;
}

static void sync_sched_state(struct braid_sender *s)
{
	for (size_t i = 0; i < s->sched_count; i++)
		s->sched_links[i].state = s->links[s->sched_slot[i]].health.state;
}

/* When the receiver releases a packet: its timestamp + the fastest path + the budget. */
static uint64_t release_deadline(const struct braid_sender *s, const struct braid__history_entry *e)
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
static uint64_t arrival_tolerance(const struct braid__sender_link *l)
{
	return l->rtt.min_us / 4 > ARRIVAL_TOLERANCE_US ? l->rtt.min_us / 4
							 : ARRIVAL_TOLERANCE_US;
}

/* Adaptive: the live link where the packet is expected to arrive first, and the next best
 * too when that one is failing (degraded, or a probe answer overdue) or when the
 * redundancy share calls for a copy. A link that would deliver after the release deadline
 * is not a choice: a packet no link can deliver in time is dropped here rather than spend
 * a link's time. Returns how many slots were written. */
static size_t pick_adaptive(struct braid_sender *s, const struct braid__history_entry *e,
			    size_t out[2])
{
	size_t best = BRAID_MAX_LINKS, second = BRAID_MAX_LINKS;
	uint64_t best_at = UINT64_MAX, second_at = UINT64_MAX;
	uint64_t deadline = release_deadline(s, e);
	for (size_t i = 0; i < s->sched_count; i++) {
		size_t slot = s->sched_slot[i];
		const struct braid__sender_link *l = &s->links[slot];
		if (!braid_link_state_live(l->health.state))
			continue;
		uint64_t at = braid__sender_link_arrival(l, s->now, e->len);
		if (at + arrival_tolerance(l) > deadline)
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
	bool failing = l->health.state == BRAID_LINK_DEGRADED ||
		       s->now - l->health.last_reply_us > s->settings.health.probe_interval_us * 2;
	s->redundancy_credit += s->settings.redundancy;
	bool copy = failing || s->redundancy_credit >= 1.0;
	if (s->redundancy_credit >= 1.0)
		s->redundancy_credit -= 1.0;
	if (copy && second != BRAID_MAX_LINKS) {
		out[1] = second;
		return 2;
	}
	return 1;
}

static size_t live_links(const struct braid_sender *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->sched_count; i++)
		n += braid_link_state_live(s->links[s->sched_slot[i]].health.state);
	return n;
}

/* Adaptive: queues the packet on the link for its departure time at the link's pace
 * (resends go first: they are late already). */
static bool pace(struct braid_sender *s, size_t slot, const struct braid__history_entry *e,
		 uint8_t flags)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid__paced_item item = { .seq = e->seq, .flags = flags };
	bool queued = flags & BRAID_FLAG_RETRANSMIT ? braid__paced_push_front(&l->paced, item)
						     : braid__paced_push(&l->paced, item);
	if (!queued) {
		s->stats.queue_drops++;
		return false;
	}
	braid__capacity_assign(&l->capacity, e->len);
	return true;
}

/* Sends one history entry on the links the policy picks. `avoid` (a slot, or -1) is left
 * out when another link can take it. Returns false when no link could. */
static bool schedule_entry(struct braid_sender *s, struct braid__history_entry *e, uint8_t flags,
			   int avoid)
{
	size_t picked[BRAID_MAX_LINKS];
	size_t n = 0;
	bool adaptive = s->settings.mode == BRAID_SCHED_ADAPTIVE && live_links(s) > 0;
	if (adaptive) {
		n = pick_adaptive(s, e, picked);
		if (n == 0) {
			s->stats.expired++;
			return true; /* handled: too late for every link */
		}
	}
	if (n == 0) {
		adaptive = false;
		n = braid_sched_pick(&s->sched, s->sched_links, s->sched_count, picked,
				     BRAID_MAX_LINKS);
	}
	size_t sent = 0;
	for (size_t i = 0; i < n; i++) {
		size_t slot = adaptive ? picked[i] : s->sched_slot[picked[i]];
		if ((int)slot == avoid && n > 1)
			continue;
		if (adaptive ? pace(s, slot, e, flags) : tx_push(s, BRAID_PKT_DATA, flags, slot, e->seq)) {
			e->link_mask |= (uint64_t)1 << slot;
			sent++;
		}
	}
	if (sent && (flags & BRAID_FLAG_RETRANSMIT))
		s->stats.retransmitted += sent;
	return sent > 0;
}

static bool expired(const struct braid_sender *s, const struct braid__history_entry *e)
{
	return s->now - e->pushed_us > s->settings.latency_us;
}

/* Media pushed before any link finished its handshake waits here; send what is still
 * useful once one has. */
static void flush_pending(struct braid_sender *s)
{
	if (!s->sched_count)
		return;
	for (; s->next_unsent < s->next_seq; s->next_unsent++) {
		struct braid__history_entry *e = braid__history_get(&s->history, s->next_unsent);
		if (!e || expired(s, e)) {
			s->stats.expired++;
			continue;
		}
		if (!schedule_entry(s, e, 0, -1))
			break;
	}
}

struct braid_sender *braid_sender_new(const struct braid_sender_settings *set, uint64_t now_us)
{
	if (!set || set->session_id == 0 || set->mode >= BRAID_SCHED_MODE_COUNT ||
	    set->history_packets == 0 || set->health.probe_interval_us == 0 ||
	    !(set->resend_share >= 0 && set->resend_share <= 10) ||
	    !(set->redundancy >= 0 && set->redundancy <= 1) ||
	    (set->psk && set->psk_len == 0))
		return NULL;
	struct braid_sender *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->settings = *set;
	s->now = now_us;
	braid_sched_init(&s->sched, set->mode);
	braid__resend_budget_init(&s->resend, set->resend_share, now_us);
	s->tx = calloc(TX_QUEUE_SIZE, sizeof(*s->tx));
	if (set->psk) {
		s->psk = malloc(set->psk_len);
		if (s->psk)
			memcpy(s->psk, set->psk, set->psk_len);
	}
	s->settings.psk = s->psk;
	if (!s->tx || (set->psk && !s->psk) ||
	    braid__history_init(&s->history, set->history_packets) < 0 ||
	    braid__pktq_init(&s->output, OUTPUT_QUEUE_SIZE) < 0) {
		braid_sender_free(s);
		return NULL;
	}
	return s;
}

void braid_sender_free(struct braid_sender *s)
{
	if (!s)
		return;
	braid__history_free(&s->history);
	braid__pktq_free(&s->output);
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		braid__paced_free(&s->links[i].paced);
	free(s->tx);
	free(s->psk);
	free(s);
}

static int slot_of(const struct braid_sender *s, uint16_t link_id)
{
	for (int i = 0; i < BRAID_MAX_LINKS; i++)
		if (s->links[i].used && s->links[i].id == link_id)
			return i;
	return -1;
}

int braid_sender_add_link(struct braid_sender *s, const struct braid_link_config *cfg,
			  uint64_t now_us)
{
	if (!cfg || !cfg->name || !braid__link_name_valid(cfg->name))
		return BRAID_ERR_INVAL;
	int free_slot = -1;
	for (int i = 0; i < BRAID_MAX_LINKS; i++) {
		if (s->links[i].used && strcmp(s->links[i].name, cfg->name) == 0)
			return BRAID_ERR_EXISTS;
		if (!s->links[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return BRAID_ERR_FULL;
	s->now = now_us;
	struct braid__sender_link *l = &s->links[free_slot];
	braid__sender_link_init(l, s->next_link_id++, cfg, now_us);
	if (braid__paced_init(&l->paced, PACED_QUEUE_SIZE) < 0) {
		l->used = false;
		return BRAID_ERR_NOMEM;
	}
	return l->id;
}

/* Data still waiting on a link that failed goes to the others, in order. */
static void rehome_paced(struct braid_sender *s, size_t slot)
{
	struct braid__paced_queue *q = &s->links[slot].paced;
	const struct braid__paced_item *it;
	while ((it = braid__paced_peek(q)) != NULL) {
		struct braid__paced_item item = *it;
		braid__paced_pop(q);
		struct braid__history_entry *e = braid__history_get(&s->history, item.seq);
		if (e)
			braid__capacity_unassign(&s->links[slot].capacity, e->len);
		if (e && !expired(s, e))
			schedule_entry(s, e, item.flags, (int)slot);
	}
}

/* Packets sent on a link that just failed, after the last probe it answered, may be
 * lost: send them again on the others, as long as they can still make the deadline. */
static void failover(struct braid_sender *s, size_t slot)
{
	struct braid__sender_link *l = &s->links[slot];
	uint64_t margin = l->rtt.has_sample ? l->rtt.srtt_us : s->settings.health.probe_interval_us;
	uint64_t since = l->last_answered_probe_us > margin ? l->last_answered_probe_us - margin : 0;
	uint64_t live_mask = 0;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		if (i != slot && s->links[i].used && s->links[i].acked &&
		    braid_link_state_live(s->links[i].health.state))
			live_mask |= (uint64_t)1 << i;
	uint64_t count = 0;
	for (uint64_t seq = s->next_unsent; seq-- > 0;) {
		struct braid__history_entry *e = braid__history_get(&s->history, seq);
		if (!e || e->pushed_us < since || expired(s, e))
			break;
		if (!(e->link_mask & ((uint64_t)1 << slot)) || (e->link_mask & live_mask))
			continue;
		/* Resends share one budget, or a failover onto busy links starts a storm. */
		if (!braid__resend_budget_take(&s->resend, e->len, s->now)) {
			s->stats.resend_refused++;
			continue;
		}
		if (schedule_entry(s, e, BRAID_FLAG_RETRANSMIT, (int)slot))
			count++;
	}
	s->stats.failovers++;
	struct braid_event ev = { .kind = BRAID_EVENT_FAILOVER, .time_us = s->now,
				  .session_id = s->settings.session_id, .link_id = l->id,
				  .count = count };
	push_event(s, &ev);
}

int braid_sender_remove_link(struct braid_sender *s, uint16_t link_id, uint64_t now_us)
{
	int slot = slot_of(s, link_id);
	if (slot < 0)
		return BRAID_ERR_LINK;
	s->now = now_us;
	struct braid__sender_link *l = &s->links[slot];
	bool was_live = l->acked && braid_link_state_live(l->health.state);
	l->health.state = BRAID_LINK_DOWN;
	l->acked = false;
	rebuild_sched(s);
	rehome_paced(s, (size_t)slot);
	if (was_live)
		failover(s, (size_t)slot);
	l->used = false;
	braid__paced_free(&l->paced);
	return 0;
}

int braid_sender_push(struct braid_sender *s, const uint8_t *payload, size_t len, uint64_t now_us)
{
	s->now = now_us;
	if (len > BRAID_MAX_PAYLOAD || (len && !payload)) {
		s->stats.rejected_input++;
		return len > BRAID_MAX_PAYLOAD ? BRAID_ERR_TOO_BIG : BRAID_ERR_INVAL;
	}
	struct braid__history_entry *e = braid__history_put(&s->history, s->next_seq, now_us,
							    payload, len);
	if (!e) {
		s->stats.rejected_input++;
		return BRAID_ERR_NOMEM;
	}
	s->next_seq++;
	braid__resend_budget_input(&s->resend, len, now_us);
	s->stats.packets_in++;
	s->stats.bytes_in += len;
	flush_pending(s);
	return 0;
}

static void set_link_state(struct braid_sender *s, size_t slot, enum braid_link_state old)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid_event ev = { .kind = BRAID_EVENT_LINK_STATE, .time_us = s->now,
				  .session_id = s->settings.session_id, .link_id = l->id,
				  .old_state = old, .new_state = l->health.state };
	push_event(s, &ev);
	sync_sched_state(s);
	/* A first guess: this link alone could carry the stream, as it comes in so far
	 * (startup soon finds out; guessing low would leave the first seconds short). */
	if (old == BRAID_LINK_DOWN && braid_link_state_live(l->health.state))
		braid__sender_link_restart_capacity(l, s->resend.input_bps, s->now);
	if (l->health.state == BRAID_LINK_DOWN && braid_link_state_live(old)) {
		l->down_events++;
		braid__capacity_stop(&l->capacity, s->now);
		/* what it lost while dying says nothing about how it will do when it is back */
		memset(&l->loss, 0, sizeof(l->loss));
		/* its load goes to the others, whose estimates may date from when they
		 * were given little */
		if (s->settings.mode == BRAID_SCHED_ADAPTIVE)
			for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
				if (i != slot && s->links[i].used &&
				    braid_link_state_live(s->links[i].health.state))
					braid__capacity_probe_again(&s->links[i].capacity);
		rehome_paced(s, slot);
		failover(s, slot);
	}
}

static void on_hello_ack(struct braid_sender *s, size_t slot, const struct braid_packet *p)
{
	struct braid__sender_link *l = &s->links[slot];
	const struct braid_hello_ack *ack = &p->body.hello_ack;
	if (memcmp(ack->sender_nonce, s->settings.nonce, BRAID_NONCE_SIZE) != 0) {
		s->stats.drops.unknown_session++;
		return;
	}
	if (!s->has_key || memcmp(ack->receiver_nonce, s->receiver_nonce, BRAID_NONCE_SIZE)) {
		/* A new receiver instance (or the first answer): agree on a fresh key. */
		memcpy(s->receiver_nonce, ack->receiver_nonce, BRAID_NONCE_SIZE);
		if (s->psk)
			braid_wire_session_key(s->psk, s->settings.psk_len, s->settings.session_id,
					       s->settings.nonce, s->receiver_nonce, s->key);
		s->has_key = true;
	}
	enum braid_link_state old = l->health.state;
	bool changed = braid__sender_link_on_reply(l, &s->settings.health, s->now,
						   ack->echo_timestamp_us, NULL);
	if (!l->acked) {
		l->acked = true;
		rebuild_sched(s);
	}
	if (changed)
		set_link_state(s, slot, old);
	flush_pending(s);
}

/* Adaptive: the link's pace just changed. What waits for it and would now arrive after its
 * release goes to a link that can still deliver it in time, before it is too late for any;
 * what no other link can take stays (the pace may rise again). */
static void rehome_late(struct braid_sender *s, size_t slot)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid__paced_queue *q = &l->paced;
	if (s->settings.mode != BRAID_SCHED_ADAPTIVE || !q->count)
		return;
	uint64_t one_way = l->rtt.has_sample ? l->rtt.min_us / 2 : 0;
	uint64_t wait = l->capacity.next_send_us > s->now ? l->capacity.next_send_us - s->now : 0;
	uint64_t bytes = 0;
	size_t first_late = q->count;
	for (size_t i = 0; i < q->count; i++) {
		const struct braid__history_entry *e =
			braid__history_get(&s->history, braid__paced_at(q, i)->seq);
		if (!e)
			continue;
		bytes += e->len;
		uint64_t at = s->now + wait + (uint64_t)((double)bytes * 8e6 /
							 l->capacity.rate_bps) + one_way;
		if (at + arrival_tolerance(l) > release_deadline(s, e)) {
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
		struct braid__history_entry *e = braid__history_get(&s->history, late[i].seq);
		if (!e)
			continue;
		braid__capacity_unassign(&l->capacity, e->len);
		size_t picked[2];
		size_t n = pick_adaptive(s, e, picked);
		size_t to = n && picked[0] != slot ? picked[0] : n > 1 ? picked[1] : slot;
		if (!pace(s, to, e, late[i].flags)) {
			e->link_mask &= ~((uint64_t)1 << slot);
			continue;
		}
		if (to != slot) {
			e->link_mask &= ~((uint64_t)1 << slot);
			e->link_mask |= (uint64_t)1 << to;
		}
	}
}

static void on_probe_reply(struct braid_sender *s, size_t slot, const struct braid_packet *p)
{
	struct braid__sender_link *l = &s->links[slot];
	enum braid_link_state old = l->health.state;
	if (braid__sender_link_on_reply(l, &s->settings.health, s->now,
					p->body.probe_reply.echo_timestamp_us, &p->body.probe_reply))
		set_link_state(s, slot, old);
	if (braid_link_state_live(l->health.state))
		rehome_late(s, slot);
}

static bool reverse_is_new(struct braid_sender *s, uint32_t seq32)
{
	uint64_t seq = braid_extend32(seq32, s->reverse_highest);
	if (!s->reverse_seen || seq > s->reverse_highest) {
		uint64_t shift = s->reverse_seen ? seq - s->reverse_highest : 64;
		s->reverse_window = shift >= 64 ? 0 : s->reverse_window << shift;
		s->reverse_window |= 1;
		s->reverse_highest = seq;
		s->reverse_seen = true;
		return true;
	}
	uint64_t age = s->reverse_highest - seq;
	if (age >= 64 || (s->reverse_window >> age) & 1)
		return false;
	s->reverse_window |= (uint64_t)1 << age;
	return true;
}

static void on_reverse(struct braid_sender *s, const struct braid_packet *p)
{
	const struct braid_data *d = &p->body.data;
	if (!reverse_is_new(s, d->seq))
		return;
	struct braid__pkt *out = braid__pktq_push(&s->output, d->payload_len);
	if (!out) {
		s->stats.queue_drops++;
		return;
	}
	if (d->payload_len)
		memcpy(out->buf, d->payload, d->payload_len);
	s->stats.reverse_packets++;
	s->stats.reverse_bytes += d->payload_len;
}

/* Live links as resend candidates; returns how many, and the lowest time a packet given
 * now would take to arrive. `front` holds the same links with the time a resend takes,
 * which goes before what waits for the link: only the pacer's current wait is ahead. */
static size_t resend_candidates(const struct braid_sender *s, struct braid__resend_link *out,
				struct braid__resend_link *front, uint64_t *fastest_us)
{
	size_t n = 0;
	*fastest_us = UINT64_MAX;
	for (size_t i = 0; i < s->sched_count; i++) {
		const struct braid__sender_link *l = &s->links[s->sched_slot[i]];
		if (!braid_link_state_live(l->health.state) || !l->rtt.has_sample)
			continue;
		uint64_t at = braid__sender_link_arrival(l, s->now, BRAID_MAX_PAYLOAD / 4);
		uint64_t front_at = braid__capacity_front_arrival(&l->capacity, s->now,
								  BRAID_MAX_PAYLOAD / 4,
								  l->rtt.min_us / 2);
		out[n] = (struct braid__resend_link){ .slot = s->sched_slot[i],
						      .one_way_us = at - s->now };
		front[n] = (struct braid__resend_link){ .slot = s->sched_slot[i],
							.one_way_us = front_at - s->now };
		if (out[n].one_way_us < *fastest_us)
			*fastest_us = out[n].one_way_us;
		n++;
	}
	return n;
}

/* Whether the packet still waits for a live link's pacer: it has not left yet, so the
 * NACK only says the receiver's wait was shorter than our queue; a resend would spend
 * the links' time on a copy (the receiver asks again if it really goes missing). */
static bool still_queued(const struct braid_sender *s, const struct braid__history_entry *e)
{
	for (size_t slot = 0; slot < BRAID_MAX_LINKS; slot++) {
		const struct braid__sender_link *l = &s->links[slot];
		if (!(e->link_mask & ((uint64_t)1 << slot)) || !l->used ||
		    !braid_link_state_live(l->health.state))
			continue;
		const struct braid__paced_queue *q = &l->paced;
		for (size_t i = 0; i < q->count; i++)
			if (q->items[(q->head + i) % q->capacity].seq == e->seq)
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
	for (size_t slot = 0; slot < BRAID_MAX_LINKS; slot++) {
		const struct braid__sender_link *l = &s->links[slot];
		uint64_t arrival;
		if (!(e->link_mask & ((uint64_t)1 << slot)) || !l->used ||
		    !braid_link_state_live(l->health.state) ||
		    !braid__capacity_expected(&l->capacity, e->seq, &arrival))
			continue;
		if (asked_at < arrival + arrival_tolerance(l))
			return true;
	}
	return false;
}

static void resend(struct braid_sender *s, struct braid__history_entry *e,
		   const struct braid__resend_link *links, const struct braid__resend_link *front,
		   size_t n, uint64_t fastest_us)
{
	/* Never sent: this sender gave it up as too late for every link (and would still). */
	if (s->settings.mode == BRAID_SCHED_ADAPTIVE &&
	    (!e->link_mask || still_queued(s, e) || still_expected(s, e, fastest_us)))
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
	if (count == 0 && s->settings.mode == BRAID_SCHED_ADAPTIVE)
		count = braid__resend_pick(front, n, s->now, deadline, picked);
	if (count == 0) {
		s->stats.resend_refused++;
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (!braid__resend_budget_take(&s->resend, e->len, s->now)) {
			s->stats.resend_refused += i == 0;
			return;
		}
		bool adaptive = s->settings.mode == BRAID_SCHED_ADAPTIVE;
		if (adaptive ? pace(s, picked[i], e, BRAID_FLAG_RETRANSMIT)
			     : tx_push(s, BRAID_PKT_DATA, BRAID_FLAG_RETRANSMIT, picked[i], e->seq)) {
			e->link_mask |= (uint64_t)1 << picked[i];
			e->resent_us = s->now;
			s->stats.retransmitted++;
		}
	}
}

static void on_nack(struct braid_sender *s, const struct braid_packet *p)
{
	struct braid__resend_link links[BRAID_MAX_LINKS], front[BRAID_MAX_LINKS];
	uint64_t fastest;
	size_t n = resend_candidates(s, links, front, &fastest);
	unsigned budget = NACK_MAX_RESENDS;
	for (unsigned i = 0; i < p->body.nack.range_count; i++) {
		uint64_t first = braid_extend32(p->body.nack.ranges[i].first, s->next_seq);
		for (uint64_t seq = first; seq < first + p->body.nack.ranges[i].count; seq++) {
			struct braid__history_entry *e = braid__history_get(&s->history, seq);
			if (!e || seq >= s->next_unsent || budget-- == 0)
				continue;
			s->stats.nacked++;
			if (n == 0)
				s->stats.resend_refused++;
			else
				resend(s, e, links, front, n, fastest);
		}
	}
}

/* Checks a datagram's session, link and tag. 0 or the drop reason (counted). */
static int admit(struct braid_sender *s, uint16_t link_id, const uint8_t *buf, size_t len,
		 struct braid_header *h)
{
	int rc = braid_wire_peek(buf, len, h);
	if (rc < 0) {
		s->stats.drops.malformed++;
		return rc;
	}
	if (h->session_id != s->settings.session_id) {
		s->stats.drops.unknown_session++;
		return BRAID_ERR_SESSION;
	}
	if (h->link_id != link_id) {
		s->stats.drops.unknown_link++;
		return BRAID_ERR_LINK;
	}
	bool keyed = h->flags & BRAID_FLAG_KEYED;
	if (s->psk) {
		bool hello = h->type == BRAID_PKT_HELLO_ACK;
		const uint8_t *key = hello ? s->psk : s->key;
		size_t key_len = hello ? s->settings.psk_len : sizeof(s->key);
		if ((!hello && !s->has_key) || braid_wire_check_tag(buf, len, key, key_len) < 0) {
			s->stats.drops.auth++;
			return BRAID_ERR_AUTH;
		}
	} else if (keyed) {
		s->stats.drops.auth++;
		return BRAID_ERR_AUTH;
	}
	return 0;
}

int braid_sender_handle_datagram(struct braid_sender *s, uint16_t link_id, const uint8_t *buf,
				 size_t len, uint64_t now_us)
{
	s->now = now_us;
	struct braid_header h;
	int rc = admit(s, link_id, buf, len, &h);
	if (rc < 0)
		return rc;
	struct braid_packet p;
	rc = braid_wire_decode(buf, len, &p);
	if (rc < 0) {
		if (rc == BRAID_ERR_TOO_BIG)
			s->stats.drops.oversized++;
		else
			s->stats.drops.malformed++;
		return rc;
	}
	int found = slot_of(s, link_id);
	if (found < 0) { /* a datagram still arriving for a link just removed */
		s->stats.drops.unknown_link++;
		return BRAID_ERR_LINK;
	}
	size_t slot = (size_t)found;
	s->links[slot].packets_received++;
	s->links[slot].bytes_received += len;
	switch (h.type) {
	case BRAID_PKT_HELLO_ACK:
		on_hello_ack(s, slot, &p);
		break;
	case BRAID_PKT_PROBE_REPLY:
		on_probe_reply(s, slot, &p);
		break;
	case BRAID_PKT_REVERSE:
		on_reverse(s, &p);
		break;
	case BRAID_PKT_NACK:
		on_nack(s, &p);
		break;
	case BRAID_PKT_BYE: /* the receiver forgot us: register every link again */
		for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
			s->links[i].acked = false;
		s->has_key = false;
		rebuild_sched(s);
		break;
	default:
		s->stats.drops.malformed++;
		return BRAID_ERR_TYPE;
	}
	return 0;
}

static int encode_item(struct braid_sender *s, const struct tx_item *it, uint8_t *buf, size_t cap)
{
	struct braid__sender_link *l = &s->links[it->slot];
	struct braid_packet p = { .header = { .type = it->type, .flags = it->flags,
					      .link_id = l->id,
					      .session_id = s->settings.session_id } };
	const uint8_t *key = NULL;
	size_t key_len = 0;
	if (s->psk) {
		bool hello = it->type == BRAID_PKT_HELLO;
		key = hello ? s->psk : s->key;
		key_len = hello ? s->settings.psk_len : sizeof(s->key);
		if (!hello && !s->has_key)
			return 0;
	}
	if (it->type == BRAID_PKT_DATA) {
		struct braid__history_entry *e = braid__history_get(&s->history, it->seq);
		if (!e)
			return 0;
		p.body.data = (struct braid_data){ .seq = (uint32_t)e->seq,
						   .timestamp_us = (uint32_t)e->pushed_us,
						   .payload = e->payload, .payload_len = e->len };
	} else {
		braid__sender_link_fill_control(l, &p, s->settings.nonce, s->now);
	}
	int n = braid_wire_encode(&p, key, key_len, buf, cap);
	if (n > 0 && it->type == BRAID_PKT_DATA) {
		l->packets_sent++;
		l->bytes_sent += (uint64_t)n;
		s->stats.packets_out++;
		s->stats.bytes_out += (uint64_t)n;
	}
	return n > 0 ? n : 0;
}

/* Whether a packet leaving on the link now would reach the receiver after its release
 * (its timestamp + the budget + the fastest path): a resend near the budget's end, put
 * before the queue, is still worth sending for that path's delay. */
static bool too_late_to_leave(const struct braid_sender *s, const struct braid__sender_link *l,
			      const struct braid__history_entry *e)
{
	uint64_t one_way = l->rtt.has_sample ? l->rtt.min_us / 2 : 0;
	return s->now + one_way > release_deadline(s, e);
}

/* The link whose pacer lets its next packet leave first (at or before now), or -1. */
static int due_paced_link(const struct braid_sender *s)
{
	int due = -1;
	uint64_t when = s->now;
	for (int i = 0; i < BRAID_MAX_LINKS; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (l->used && braid__paced_peek(&l->paced) && l->capacity.next_send_us <= when) {
			due = i;
			when = l->capacity.next_send_us;
		}
	}
	return due;
}

static int poll_paced(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap)
{
	int slot;
	while ((slot = due_paced_link(s)) >= 0) {
		struct braid__sender_link *l = &s->links[slot];
		struct braid__paced_item item = *braid__paced_peek(&l->paced);
		braid__paced_pop(&l->paced);
		struct braid__history_entry *e = braid__history_get(&s->history, item.seq);
		if (!e || too_late_to_leave(s, l, e)) {
			if (e) {
				braid__capacity_unassign(&l->capacity, e->len);
				e->link_mask &= ~((uint64_t)1 << slot);
			}
			s->stats.expired++;
			continue;
		}
		braid__capacity_sent(&l->capacity, s->now, e->len);
		braid__capacity_departed(&l->capacity, e->seq, l->capacity.next_send_us +
					 (l->rtt.has_sample ? l->rtt.min_us / 2 : 0));
		struct tx_item it = { .type = BRAID_PKT_DATA, .flags = item.flags,
				      .slot = (uint8_t)slot, .seq = item.seq };
		int n = encode_item(s, &it, buf, cap);
		if (n > 0) {
			*link_id = l->id;
			return n;
		}
	}
	return 0;
}

int braid_sender_poll_transmit(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap)
{
	while (s->tx_count) {
		struct tx_item it = s->tx[s->tx_head];
		s->tx_head = (s->tx_head + 1) % TX_QUEUE_SIZE;
		s->tx_count--;
		if (!s->links[it.slot].used)
			continue;
		int n = encode_item(s, &it, buf, cap);
		if (n > 0) {
			*link_id = s->links[it.slot].id;
			return n;
		}
	}
	return poll_paced(s, link_id, buf, cap);
}

long braid_sender_poll_output(struct braid_sender *s, uint8_t *buf, size_t cap)
{
	struct braid__pkt *p = braid__pktq_peek(&s->output);
	if (!p)
		return -1;
	size_t n = p->len < cap ? p->len : cap;
	if (n)
		memcpy(buf, p->buf, n);
	braid__pktq_pop(&s->output);
	return (long)n;
}

int braid_sender_poll_event(struct braid_sender *s, struct braid_event *ev)
{
	if (!s->event_count)
		return 0;
	*ev = s->events[s->event_head];
	s->event_head = (s->event_head + 1) % EVENT_QUEUE_SIZE;
	s->event_count--;
	return 1;
}

uint64_t braid_sender_next_timeout(const struct braid_sender *s)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < BRAID_MAX_LINKS && !s->closing; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (!l->used)
			continue;
		uint64_t t = braid_health_deadline(&l->health, &s->settings.health);
		if (t < next)
			next = t;
		if (l->next_probe_us < next)
			next = l->next_probe_us;
		if (braid__paced_peek(&l->paced) && l->capacity.next_send_us < next)
			next = l->capacity.next_send_us;
	}
	return next;
}

void braid_sender_handle_timeout(struct braid_sender *s, uint64_t now_us)
{
	s->now = now_us;
	/* Closed: no more probes, so silence is expected; a link going DOWN now would only
	 * resend media (failover) after the BYE. */
	if (s->closing)
		return;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++) {
		struct braid__sender_link *l = &s->links[i];
		if (!l->used)
			continue;
		enum braid_link_state old = l->health.state;
		if (braid_health_on_tick(&l->health, &s->settings.health, now_us))
			set_link_state(s, i, old);
		if (now_us < l->next_probe_us)
			continue;
		/* A link not registered, or silent, says HELLO: that also re-registers it
		 * with a receiver that forgot the session. */
		bool hello = !l->acked || l->health.state == BRAID_LINK_DOWN;
		tx_push(s, hello ? BRAID_PKT_HELLO : BRAID_PKT_PROBE, 0, i, 0);
		l->next_probe_us = now_us + braid__sender_link_probe_gap(l, &s->settings.health,
									 now_us);
	}
	flush_pending(s);
}

void braid_sender_close(struct braid_sender *s, uint64_t now_us)
{
	s->now = now_us;
	s->closing = true;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		if (s->links[i].used && s->links[i].acked)
			tx_push(s, BRAID_PKT_BYE, 0, i, 0);
}

void braid_sender_get_stats(const struct braid_sender *s, struct braid_sender_stats *out)
{
	*out = s->stats;
	out->live_links = 0;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		if (s->links[i].used && s->links[i].acked &&
		    braid_link_state_live(s->links[i].health.state))
			out->live_links++;
	out->operational = out->live_links >= s->settings.health.min_operational;
	/* What the bond sustains: each live link's capacity less its loss, with a tenth
	 * kept for resends and for the estimates' own swing. */
	double available = 0;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (l->used && l->acked && braid_link_state_live(l->health.state))
			available += l->capacity.bottleneck_bps * (1.0 - braid_loss_fraction(&l->loss));
	}
	out->available_bps = available * 0.9;
}

size_t braid_sender_get_link_stats(const struct braid_sender *s, struct braid_link_stats *out,
				   size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++) {
		if (!s->links[i].used)
			continue;
		if (n < max)
			braid__sender_link_stats(&s->links[i], &out[n]);
		n++;
	}
	return n;
}
