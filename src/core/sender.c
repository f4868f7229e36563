/* The sending side of a session. Media goes into the history first; what leaves is a
 * queue of small descriptors (which packet, which link) encoded straight into the caller's
 * buffer at poll time, so a packet sent on three links is copied once. */
#include "braid/sender.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "core/drops.h"
#include "core/sender_internal.h"

static int next_transmit(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap);

/* The core's clock never goes back: an earlier now than one seen is taken as the latest. */
static uint64_t advance_clock(struct braid_sender *s, uint64_t now_us)
{
	if (now_us > s->now)
		s->now = now_us;
	return s->now;
}

void braid_sender_settings_default(struct braid_sender_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = BRAID_MODE_ADAPTIVE;
	s->latency_us = 1000000;
	braid_health_settings_default(&s->health);
	s->history_packets = 16384;
	s->resend_share = 0.25;
	s->redundancy = 0;
	s->rekey_interval_us = 120000000;
}

bool braid__sender_tx_push(struct braid_sender *s, uint8_t type, uint8_t flags, size_t slot,
		    uint64_t seq)
{
	if (s->tx_count == TX_QUEUE_SIZE) {
		s->stats.tx_queue_drops++;
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
	for (size_t i = 0; i < s->links_in_use; i++) {
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

/* Sends one history entry on the links the policy picks. `avoid` (a slot, or -1) is left
 * out when another link can take it. Returns false when no link could. */
void braid__sender_count_resends(struct braid_sender *s, enum braid__send_cause cause,
				 uint64_t copies)
{
	switch (cause) {
	case BRAID__SEND_NACK:
		s->stats.resent_nack += copies;
		break;
	case BRAID__SEND_FAILOVER:
		s->stats.resent_failover += copies;
		break;
	case BRAID__SEND_TIMEOUT:
		s->stats.resent_timeout += copies;
		break;
	case BRAID__SEND_NEW:
	case BRAID__SEND_MOVED:
		return;
	}
	s->stats.retransmitted += copies;
}

bool braid__sender_schedule_entry(struct braid_sender *s, struct braid__history_entry *e,
				  uint8_t flags, int avoid, enum braid__send_cause cause)
{
	size_t picked[BRAID_MAX_LINKS];
	size_t n = 0;
	enum braid__copy_cause why = BRAID__COPY_NONE;
	bool adaptive = s->settings.mode == BRAID_MODE_ADAPTIVE && braid__sender_live_links(s) > 0;
	if (adaptive) {
		n = braid__sender_pick_adaptive(s, e, picked, &why);
		if (n == 0) {
			s->stats.undeliverable++;
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
		bool queued = adaptive ? braid__sender_pace(s, slot, e, flags)
				       : braid__sender_tx_push(s, BRAID_PKT_DATA, flags, slot, e->seq);
		if (queued) {
			e->link_mask |= (uint64_t)1 << slot;
			sent++;
		}
	}
	braid__sender_count_resends(s, cause, sent);
	if (sent > 1 && cause == BRAID__SEND_NEW) {
		if (why == BRAID__COPY_HEDGE)
			s->stats.copies_hedge += sent - 1;
		else if (why == BRAID__COPY_REDUNDANCY)
			s->stats.copies_redundancy += sent - 1;
	}
	return sent > 0;
}

bool braid__sender_resend_entry(struct braid_sender *s, struct braid__history_entry *e,
				int avoid, enum braid__send_cause cause)
{
	/* Resends share one budget, or a failover onto busy links starts a storm. Room is
	 * taken only for a resend made: one no link can deliver in time costs nothing. */
	if (!braid__resend_budget_has(&s->resend, e->len, s->now)) {
		s->stats.resend_over_budget++;
		return false;
	}
	uint64_t before = s->stats.retransmitted;
	braid__sender_schedule_entry(s, e, BRAID_FLAG_RETRANSMIT, avoid, cause);
	for (uint64_t i = before; i < s->stats.retransmitted; i++)
		braid__resend_budget_take(&s->resend, e->len, s->now);
	return true;
}

bool braid__sender_expired(const struct braid_sender *s, const struct braid__history_entry *e)
{
	return s->now - e->pushed_us > s->settings.latency_us;
}

/* What links still starting should carry together: the input rate; before its first
 * measure (the stream's first moments, when the stream starts with the sender), what clears
 * the packets waiting now within half the budget. */
static double starting_rate(const struct braid_sender *s)
{
	if (s->resend.input_bps > 0 || !s->stats.packets_in)
		return s->resend.input_bps;
	double waiting_bits = (double)(s->next_seq - s->next_unsent) *
			      (double)s->stats.bytes_in / (double)s->stats.packets_in * 8;
	return waiting_bits / ((double)s->settings.latency_us / 2e6 + 1e-6);
}

/* A new receiver instance took over (the old one restarted): it lost everything it held
 * unreleased, which is everything the sender still holds (a packet leaves the history's
 * useful part when its release time has passed, and the old instance released nothing
 * later than that). All of it is sent again with RETRANSMIT, oldest first, as long as a
 * link can still deliver it in time. This is bounded (at most one budget of the stream,
 * once per new instance, which only an answer to this sender's own HELLO can announce),
 * so it does not draw on the resend budget, which is sized for repairs within a stream
 * and would cover a fraction of it. The new instance takes its clock from the HELLO it
 * answered, so old packets get their own release times, and starts its sequence at the
 * lowest number it receives before its first release. */
static void resend_to_new_receiver(struct braid_sender *s)
{
	s->restart_resend = false;
	uint64_t first = s->next_unsent;
	while (first > 0) {
		struct braid__history_entry *e = braid__history_get(&s->history, first - 1);
		if (!e || braid__sender_expired(s, e))
			break;
		first--;
	}
	for (uint64_t seq = first; seq < s->next_unsent; seq++) {
		struct braid__history_entry *e = braid__history_get(&s->history, seq);
		if (e)
			braid__sender_schedule_entry(s, e, BRAID_FLAG_RETRANSMIT, -1,
						     BRAID__SEND_FAILOVER);
	}
}

/* The resend to a new receiver instance waits for every link to be usable again (each
 * does its own handshake and needs a few replies, the last ones a few ms after the first),
 * or one probe interval after the first: a second of stream given to the first link alone
 * would mostly miss its deadline behind that link's queue. */
static bool restart_resend_due(struct braid_sender *s)
{
	size_t live = braid__sender_live_links(s), used = 0;
	if (!live)
		return false;
	for (size_t i = 0; i < s->links_in_use; i++)
		used += s->links[i].used;
	if (!s->restart_first_live_us)
		s->restart_first_live_us = s->now ? s->now : 1;
	return live == used ||
	       s->now - s->restart_first_live_us >= s->settings.health.probe_interval_us;
}

/* Media pushed before any link finished its handshake waits here; send what is still
 * useful once one has. */
static void flush_pending(struct braid_sender *s)
{
	if (!s->sched_count)
		return;
	if (s->restart_resend && restart_resend_due(s))
		resend_to_new_receiver(s);
	for (; s->next_unsent < s->next_seq; s->next_unsent++) {
		struct braid__history_entry *e = braid__history_get(&s->history, s->next_unsent);
		if (!e || braid__sender_expired(s, e)) {
			s->stats.expired++;
			continue;
		}
		if (s->settings.mode == BRAID_MODE_ADAPTIVE && braid__sender_links_busy(s))
			break;
		if (!braid__sender_schedule_entry(s, e, 0, -1, BRAID__SEND_NEW))
			break;
	}
	if (s->settings.mode != BRAID_MODE_ADAPTIVE)
		return; /* the other modes schedule everything at once: nothing waits */
	bool demand = s->next_unsent < s->next_seq;
	size_t live = demand ? braid__sender_usable_links(s) : 0;
	double share = live ? starting_rate(s) / (double)live : 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		s->links[i].capacity.demand = demand;
		if (live && braid__sender_eligible(s, &s->links[i])) {
			braid__capacity_seed(&s->links[i].capacity, share);
			if (braid__capacity_boost(&s->links[i].capacity, s->now))
				s->links[i].next_probe_us = s->now; /* its answer confirms it */
		}
	}
}

struct braid_sender *braid_sender_new(const struct braid_sender_settings *set, uint64_t now_us)
{
	if (!set || set->session_id == 0 || set->mode >= BRAID_MODE_COUNT ||
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
	braid__event_ring_init(&s->events, s->event_slots, EVENT_QUEUE_SIZE);
	braid_sched_init(&s->sched, braid_sched_policy_for(set->mode));
	braid__resend_budget_init(&s->resend, set->resend_share, now_us);
	s->tx = calloc(TX_QUEUE_SIZE, sizeof(*s->tx));
	/* only the key derived from it is kept */
	s->settings.psk = NULL;
	s->settings.psk_len = 0;
	if (!s->tx || !braid__sender_crypto_init(s, set, now_us) ||
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
	for (size_t i = 0; i < s->links_in_use; i++)
		braid__paced_free(&s->links[i].paced);
	free(s->tx);
	braid__sender_crypto_free(s);
	free(s);
}

static int slot_of(const struct braid_sender *s, uint16_t link_id)
{
	for (int i = 0; i < (int)s->links_in_use; i++)
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
	now_us = advance_clock(s, now_us);
	struct braid__sender_link *l = &s->links[free_slot];
	braid__sender_link_init(l, s->next_link_id++, cfg, now_us);
	if (braid__paced_init(&l->paced, PACED_QUEUE_SIZE) < 0) {
		l->used = false;
		return BRAID_ERR_NOMEM;
	}
	if ((size_t)free_slot >= s->links_in_use)
		s->links_in_use = (size_t)free_slot + 1;
	return l->id;
}

/* Packets sent on a link that just failed, after the last probe it answered, may be
 * lost: send them again on the others, as long as they can still make the deadline. */
static void failover(struct braid_sender *s, size_t slot)
{
	struct braid__sender_link *l = &s->links[slot];
	uint64_t margin = l->rtt.has_sample ? l->rtt.srtt_us : s->settings.health.probe_interval_us;
	uint64_t since = l->last_answered_probe_us > margin ? l->last_answered_probe_us - margin : 0;
	uint64_t live_mask = 0;
	for (size_t i = 0; i < s->links_in_use; i++)
		if (i != slot && s->links[i].used && s->links[i].acked &&
		    braid_link_state_live(s->links[i].health.state))
			live_mask |= (uint64_t)1 << i;
	uint64_t count = 0;
	for (uint64_t seq = s->next_unsent; seq-- > 0;) {
		struct braid__history_entry *e = braid__history_get(&s->history, seq);
		if (!e || e->pushed_us < since || braid__sender_expired(s, e))
			break;
		if (!(e->link_mask & ((uint64_t)1 << slot)) || (e->link_mask & live_mask))
			continue;
		uint64_t before = s->stats.retransmitted;
		if (!braid__sender_resend_entry(s, e, (int)slot, BRAID__SEND_FAILOVER))
			break; /* the budget is spent */
		count += s->stats.retransmitted > before;
	}
	s->stats.failovers++;
	struct braid_event ev = { .kind = BRAID_EVENT_FAILOVER, .time_us = s->now,
				  .session_id = s->settings.session_id, .link_id = l->id,
				  .count = count };
	braid__event_ring_push(&s->events, &ev);
}

int braid_sender_remove_link(struct braid_sender *s, uint16_t link_id, uint64_t now_us)
{
	int slot = slot_of(s, link_id);
	if (slot < 0)
		return BRAID_ERR_LINK;
	now_us = advance_clock(s, now_us);
	struct braid__sender_link *l = &s->links[slot];
	bool was_live = l->acked && braid_link_state_live(l->health.state);
	l->health.state = BRAID_LINK_DOWN;
	l->acked = false;
	rebuild_sched(s);
	braid__sender_rehome_paced(s, (size_t)slot);
	if (was_live)
		failover(s, (size_t)slot);
	l->used = false;
	braid__paced_free(&l->paced);
	return 0;
}

int braid_sender_push(struct braid_sender *s, const uint8_t *payload, size_t len, uint64_t now_us)
{
	now_us = advance_clock(s, now_us);
	if (len > BRAID_MAX_PAYLOAD) {
		s->stats.input_too_large++;
		return BRAID_ERR_TOO_BIG;
	}
	if (len && !payload) {
		s->stats.input_invalid++;
		return BRAID_ERR_INVAL;
	}
	struct braid__history_entry *e = braid__history_put(&s->history, s->next_seq, now_us,
							    payload, len);
	if (!e) {
		s->stats.input_no_memory++;
		return BRAID_ERR_NOMEM;
	}
	s->next_seq++;
	braid__resend_budget_input(&s->resend, len, now_us);
	s->stats.packets_in++;
	s->stats.bytes_in += len;
	flush_pending(s);
	return 0;
}

/* Adaptive: the link in `slot` went down and its load goes to the live others, whose
 * estimates may date from when they were given little: what the stream needs beyond what
 * they are known to carry is shared among them at once (a link that cannot take it shows
 * a queue within a window and is paced down to what it delivers), so the take-over costs
 * one round trip rather than seconds of doubling up. */
static void take_over(struct braid_sender *s, size_t slot)
{
	double known = 0;
	size_t live = 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (i == slot || !braid__sender_link_usable(l))
			continue;
		known += l->capacity.bottleneck_bps * (1.0 - braid_loss_fraction(&l->loss));
		live++;
	}
	double needed = s->resend.input_bps * TAKE_OVER_MARGIN;
	double extra = live && needed > known ? (needed - known) / (double)live : 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
		struct braid__sender_link *l = &s->links[i];
		if (i == slot || !braid__sender_link_usable(l))
			continue;
		/* a link that carried almost nothing is not trusted with much more at once */
		double most = l->capacity.bottleneck_bps * TAKE_OVER_MAX_GROWTH;
		double target = l->capacity.bottleneck_bps + extra;
		braid__capacity_take_over(&l->capacity, target < most ? target : most, s->now);
	}
}

static void set_link_state(struct braid_sender *s, size_t slot, enum braid_link_state old)
{
	struct braid__sender_link *l = &s->links[slot];
	struct braid_event ev = { .kind = BRAID_EVENT_LINK_STATE, .time_us = s->now,
				  .session_id = s->settings.session_id, .link_id = l->id,
				  .old_state = old, .new_state = l->health.state };
	braid__event_ring_push(&s->events, &ev);
	sync_sched_state(s);
	/* A first guess: this link alone could carry the stream, as it comes in so far
	 * (startup soon finds out; guessing low would leave the first seconds short). */
	if (old == BRAID_LINK_DOWN && braid_link_state_live(l->health.state))
		braid__sender_link_restart_capacity(l, s->resend.input_bps, s->now);
	if (l->health.state == BRAID_LINK_DOWN && braid_link_state_live(old)) {
		braid__sender_links_lost(s);
		l->down_events++;
		braid__capacity_stop(&l->capacity, s->now);
		/* what it lost while dying says nothing about how it will do when it is back */
		memset(&l->loss, 0, sizeof(l->loss));
		if (s->settings.mode == BRAID_MODE_ADAPTIVE)
			take_over(s, slot);
		braid__sender_rehome_paced(s, slot);
		failover(s, slot);
	}
}

static int on_hello_ack(struct braid_sender *s, size_t slot, const struct braid_packet *p)
{
	struct braid__sender_link *l = &s->links[slot];
	const struct braid_hello_ack *ack = &p->body.hello_ack;
	if (memcmp(ack->sender_nonce, s->settings.nonce, BRAID_NONCE_SIZE) != 0) {
		s->stats.drops.unknown_session++;
		return BRAID_ERR_SESSION;
	}
	if (ack->latency_us != s->settings.latency_us) {
		/* The receiver would release at another time than the encoder is told: it
		 * refuses the session, and this link stays unanswered until one end changes. */
		s->stats.drops.latency_mismatch++;
		s->stats.refused_latency_us = ack->latency_us;
		return BRAID_ERR_INVAL;
	}
	if (s->crypto.enabled) {
		int rc = braid__sender_accept_ack(s, l, ack);
		if (rc < 0)
			return rc;
	}
	if (!s->handshake_done || memcmp(ack->receiver_nonce, s->receiver_nonce, BRAID_NONCE_SIZE)) {
		/* A new receiver instance (or the first answer): its clock starts afresh. */
		if (s->handshake_done) {
			s->restart_resend = true;
			s->restart_first_live_us = 0;
		}
		memcpy(s->receiver_nonce, ack->receiver_nonce, BRAID_NONCE_SIZE);
		for (size_t i = 0; i < s->links_in_use; i++)
			braid__sender_link_forget_path(&s->links[i]);
		s->handshake_done = true;
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
	return 0;
}

/* Unkeyed: the receiver asks this link to prove its address. The HELLO with the cookie goes
 * at once and the link is used right behind it, as if answered: that HELLO registers the
 * link on its way, so data need not wait another round trip for the HELLO_ACK (should the
 * HELLO be lost, the link goes quiet and says HELLO again). The echoed timestamp is the
 * link's first RTT sample. */
static void on_cookie(struct braid_sender *s, size_t slot, const struct braid_packet *p)
{
	struct braid__sender_link *l = &s->links[slot];
	memcpy(l->cookie, p->body.cookie.cookie, BRAID_COOKIE_SIZE);
	braid__sender_tx_push(s, BRAID_PKT_HELLO, 0, slot, 0);
	enum braid_link_state old = l->health.state;
	bool changed = braid__sender_link_on_reply(l, &s->settings.health, s->now,
						   p->body.cookie.echo_timestamp_us, NULL);
	if (!l->acked) {
		l->acked = true;
		rebuild_sched(s);
	}
	if (changed)
		set_link_state(s, slot, old);
	flush_pending(s);
}

static void on_probe_reply(struct braid_sender *s, size_t slot, const struct braid_packet *p)
{
	struct braid__sender_link *l = &s->links[slot];
	enum braid_link_state old = l->health.state;
	if (braid__sender_link_on_reply(l, &s->settings.health, s->now,
					p->body.probe_reply.echo_timestamp_us, &p->body.probe_reply))
		set_link_state(s, slot, old);
	if (braid_link_state_live(l->health.state))
		braid__sender_rehome_late(s, slot);
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
	if (!out) { /* the queue is full, or no memory to copy it */
		s->stats.reverse_drops++;
		return;
	}
	if (d->payload_len)
		memcpy(out->buf, d->payload, d->payload_len);
	s->stats.reverse_packets++;
	s->stats.reverse_bytes += d->payload_len;
}

static int count_drop(struct braid_sender *s, int rc)
{
	return braid__drop_count(&s->stats.drops, rc);
}

/* Keyed: a sealed datagram is opened (into s->opened); a HELLO_ACK keeps its MAC for
 * after the decode; anything else unkeyed is refused. Unkeyed: nothing may be keyed. */
static int unprotect(struct braid_sender *s, const struct braid_header *h, const uint8_t **buf,
		     size_t *len)
{
	bool keyed = h->flags & BRAID_FLAG_KEYED;
	if (!s->crypto.enabled)
		return keyed ? BRAID_ERR_AUTH : 0;
	if (!braid_wire_is_sealed(h))
		return keyed ? 0 : BRAID_ERR_AUTH;
	int n = braid__sender_open(s, *buf, *len);
	if (n < 0)
		return n;
	*buf = s->opened;
	*len = (size_t)n;
	return 0;
}

/* Checks a datagram's session, link and protection, then decodes it (from s->opened when
 * it was sealed). Every length and field of a HELLO_ACK is checked before its MAC, so a
 * datagram that cannot be a packet costs no MAC work. 0 or the drop reason (counted). */
static int admit(struct braid_sender *s, uint16_t link_id, const uint8_t *buf, size_t len,
		 struct braid_packet *p)
{
	struct braid_header h;
	int rc = braid_wire_peek(buf, len, &h);
	if (rc == 0 && h.session_id != s->settings.session_id)
		rc = BRAID_ERR_SESSION;
	if (rc == 0 && h.link_id != link_id)
		rc = BRAID_ERR_LINK;
	if (rc == 0)
		rc = unprotect(s, &h, &buf, &len);
	if (rc == 0)
		rc = braid_wire_decode(buf, len, p);
	if (rc == 0 && h.type == BRAID_PKT_HELLO_ACK && s->crypto.enabled)
		rc = braid_wire_check_mac(buf, len, s->crypto.psk_key);
	return rc < 0 ? count_drop(s, rc) : 0;
}

int braid_sender_handle_datagram(struct braid_sender *s, uint16_t link_id, const uint8_t *buf,
				 size_t len, unsigned flags, uint64_t now_us)
{
	advance_clock(s, now_us);
	if (flags & BRAID_DATAGRAM_TRUNCATED) {
		s->stats.drops.truncated++;
		return BRAID_ERR_TOO_BIG;
	}
	struct braid_packet p;
	int rc = admit(s, link_id, buf, len, &p);
	if (rc < 0)
		return rc;
	struct braid_header h = p.header;
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
		return on_hello_ack(s, slot, &p);
	case BRAID_PKT_PROBE_REPLY:
		on_probe_reply(s, slot, &p);
		break;
	case BRAID_PKT_REVERSE:
		on_reverse(s, &p);
		break;
	case BRAID_PKT_NACK:
		braid__sender_on_nack(s, &p);
		break;
	case BRAID_PKT_COOKIE:
		on_cookie(s, slot, &p);
		break;
	case BRAID_PKT_BYE: /* the receiver forgot us: register every link again */
		for (size_t i = 0; i < s->links_in_use; i++)
			s->links[i].acked = false;
		s->handshake_done = false;
		braid__sender_new_exchange(s);
		rebuild_sched(s);
		break;
	default: /* DATA, HELLO, PROBE: types only the receiver accepts */
		s->stats.drops.wrong_direction++;
		return BRAID_ERR_TYPE;
	}
	return 0;
}

int braid__sender_encode_item(struct braid_sender *s, const struct tx_item *it, uint8_t *buf,
			      size_t cap)
{
	struct braid__sender_link *l = &s->links[it->slot];
	struct braid_packet p = { .header = { .type = it->type, .flags = it->flags,
					      .link_id = l->id,
					      .session_id = s->settings.session_id } };
	if (it->type == BRAID_PKT_DATA) {
		struct braid__history_entry *e = braid__history_get(&s->history, it->seq);
		if (!e)
			return 0;
		p.body.data = (struct braid_data){ .seq = (uint32_t)e->seq,
						   .timestamp_us = (uint32_t)e->pushed_us,
						   .payload = e->payload, .payload_len = e->len };
	} else {
		braid__sender_link_fill_control(l, &p, s->settings.nonce, s->now);
		if (it->type == BRAID_PKT_PROBE)
			p.body.probe.sent_through = (uint32_t)s->sent_through;
		if (it->type == BRAID_PKT_HELLO)
			braid__sender_fill_hello(s, &p.body.hello);
	}
	struct braid_wire_key wire_key;
	if (s->crypto.enabled && !braid__sender_wire_key(s, it->type, &wire_key))
		return 0; /* no keys yet: only HELLO may leave */
	int n = braid_wire_encode(&p, s->crypto.enabled ? &wire_key : NULL, buf, cap);
	if (n > 0 && it->type == BRAID_PKT_DATA) {
		if (it->seq >= s->sent_through)
			s->sent_through = it->seq + 1;
		/* adaptive: when it should arrive, for telling a NACK for it from one that
		 * crossed it (a queue standing in the network delays it too) */
		if (s->settings.mode == BRAID_MODE_ADAPTIVE)
			braid__capacity_departed(&l->capacity, it->seq,
						 s->now + braid__sender_link_latest_path_delay(l));
		l->packets_sent++;
		l->bytes_sent += (uint64_t)n;
		s->stats.packets_out++;
		s->stats.bytes_out += (uint64_t)n;
	}
	return n > 0 ? n : 0;
}

int braid_sender_poll_transmit(struct braid_sender *s, uint64_t now_us, uint16_t *link_id,
			       uint8_t *buf, size_t cap, size_t *len)
{
	advance_clock(s, now_us);
	if (cap < BRAID_MAX_DATAGRAM)
		return BRAID_ERR_BUFFER;
	int n = next_transmit(s, link_id, buf, cap);
	if (n <= 0)
		return 0;
	*len = (size_t)n;
	return 1;
}

/* Length of the next datagram written to buf, or 0 when there is none. */
static int next_transmit(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap)
{
	if (s->next_unsent < s->next_seq)
		flush_pending(s); /* adaptive: a pacer may have room again */
	while (s->tx_count) {
		struct tx_item it = s->tx[s->tx_head];
		s->tx_head = (s->tx_head + 1) % TX_QUEUE_SIZE;
		s->tx_count--;
		if (!s->links[it.slot].used)
			continue;
		int n = braid__sender_encode_item(s, &it, buf, cap);
		if (n > 0) {
			*link_id = s->links[it.slot].id;
			return n;
		}
	}
	return braid__sender_poll_paced(s, link_id, buf, cap);
}

int braid_sender_poll_reverse(struct braid_sender *s, uint64_t now_us, uint8_t *buf, size_t cap,
			      size_t *len)
{
	advance_clock(s, now_us);
	struct braid__pkt *p = braid__pktq_peek(&s->output);
	if (!p)
		return 0;
	if (p->len > cap)
		return BRAID_ERR_BUFFER;
	if (p->len)
		memcpy(buf, p->buf, p->len);
	*len = p->len;
	braid__pktq_pop(&s->output);
	return 1;
}

int braid_sender_poll_event(struct braid_sender *s, struct braid_event *ev)
{
	return braid__event_ring_pop(&s->events, ev) ? 1 : 0;
}

uint64_t braid_sender_next_timeout(const struct braid_sender *s)
{
	uint64_t next = UINT64_MAX;
	if (s->settings.mode == BRAID_MODE_ADAPTIVE && !s->closing)
		next = braid__sender_stall_timeout(s);
	for (size_t i = 0; i < s->links_in_use && !s->closing; i++) {
		const struct braid__sender_link *l = &s->links[i];
		if (!l->used)
			continue;
		uint64_t t = braid_health_deadline(&l->health, &s->settings.health);
		if (t < next)
			next = t;
		if (l->next_probe_us < next)
			next = l->next_probe_us;

		if (braid__paced_peek(&l->paced) && braid__capacity_send_at(&l->capacity) < next)
			next = braid__capacity_send_at(&l->capacity);
		/* adaptive, packets waiting in the history: when this link has room again */
		uint64_t room = braid__sender_link_room_at(s, i);
		if (room < next)
			next = room;
	}
	uint64_t rekey = s->closing ? UINT64_MAX : braid__sender_rekey_at(s);
	return rekey < next ? rekey : next;
}

void braid_sender_handle_timeout(struct braid_sender *s, uint64_t now_us)
{
	now_us = advance_clock(s, now_us);
	/* Closed: no more probes, so silence is expected; a link going DOWN now would only
	 * resend media (failover) after the BYE. */
	if (s->closing)
		return;
	braid__sender_rekey_tick(s);
	for (size_t i = 0; i < s->links_in_use; i++) {
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
		bool hello = !l->acked || l->health.state == BRAID_LINK_DOWN ||
			     braid__sender_exchanging(s);
		braid__sender_tx_push(s, hello ? BRAID_PKT_HELLO : BRAID_PKT_PROBE, 0, i, 0);
		l->next_probe_us = now_us + braid__sender_link_probe_gap(l, &s->settings.health,
									 now_us);
	}
	if (s->settings.mode == BRAID_MODE_ADAPTIVE)
		braid__sender_check_stalls(s);
	flush_pending(s);
}

void braid_sender_close(struct braid_sender *s, uint64_t now_us)
{
	advance_clock(s, now_us);
	s->closing = true;
	for (size_t i = 0; i < s->links_in_use; i++)
		if (s->links[i].used && s->links[i].acked)
			braid__sender_tx_push(s, BRAID_PKT_BYE, 0, i, 0);
}

void braid_sender_get_stats(const struct braid_sender *s, struct braid_sender_stats *out)
{
	*out = s->stats;
	out->live_links = 0;
	for (size_t i = 0; i < s->links_in_use; i++)
		if (s->links[i].used && s->links[i].acked &&
		    braid_link_state_live(s->links[i].health.state))
			out->live_links++;
	out->operational = out->live_links >= s->settings.health.min_operational;
	/* What the bond sustains: each live link's capacity less its loss, with a tenth
	 * kept for resends and for the estimates' own swing. */
	double available = 0;
	for (size_t i = 0; i < s->links_in_use; i++) {
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
	for (size_t i = 0; i < s->links_in_use; i++) {
		if (!s->links[i].used)
			continue;
		if (n < max)
			braid__sender_link_stats(&s->links[i], &out[n]);
		n++;
	}
	return n;
}

