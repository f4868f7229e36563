/* The receiving side: routes each datagram to its session, answers handshakes and probes,
 * and releases media in order at the sender's timing plus the latency budget. */
#include "braid/receiver.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "base/rng.h"
#include "core/event_ring.h"
#include "core/pktq.h"
#include "core/rx_session.h"

#define TX_QUEUE_SIZE 4096
#define EVENT_QUEUE_SIZE 128
#define NACK_MAX_ASKS 20

struct braid_receiver {
	struct braid_receiver_settings settings;
	uint8_t *psk;
	struct braid_rng rng;
	struct braid__rx_session *sessions;
	size_t in_use; /* one past the highest session slot in use: loops stop there */
	struct braid__pktq tx;
	struct braid_event event_slots[EVENT_QUEUE_SIZE];
	struct braid__event_ring events; /* over event_slots */
	bool flushing;
	uint64_t now; /* the latest now_us seen: the core's clock never goes back */
	size_t next_output; /* session to look at first, so sessions take turns */
	struct braid_receiver_stats stats;
	struct braid_session_stats retired; /* totals of sessions that ended */
};

void braid_receiver_settings_default(struct braid_receiver_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->latency_us = 1000000;
	s->session_timeout_us = 30000000;
	s->max_sessions = 64;
	s->reorder_capacity = 65536;
	braid_health_settings_default(&s->health);
}

static uint64_t advance_clock(struct braid_receiver *r, uint64_t now_us)
{
	if (now_us > r->now)
		r->now = now_us;
	return r->now;
}

struct braid_receiver *braid_receiver_new(const struct braid_receiver_settings *set,
					  uint64_t now_us)
{
	(void)now_us;
	if (!set || set->max_sessions == 0 || set->reorder_capacity == 0 ||
	    set->health.probe_interval_us == 0 || (set->psk && set->psk_len == 0))
		return NULL;
	struct braid_receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->settings = *set;
	braid_rng_seed(&r->rng, set->seed);
	braid__event_ring_init(&r->events, r->event_slots, EVENT_QUEUE_SIZE);
	r->sessions = calloc(set->max_sessions, sizeof(*r->sessions));
	if (set->psk) {
		r->psk = malloc(set->psk_len);
		if (r->psk)
			memcpy(r->psk, set->psk, set->psk_len);
	}
	r->settings.psk = r->psk;
	if (!r->sessions || (set->psk && !r->psk) || braid__pktq_init(&r->tx, TX_QUEUE_SIZE) < 0) {
		braid_receiver_free(r);
		return NULL;
	}
	return r;
}

void braid_receiver_free(struct braid_receiver *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->sessions && i < r->settings.max_sessions; i++)
		if (r->sessions[i].used)
			braid__rx_session_free(&r->sessions[i]);
	free(r->sessions);
	braid__pktq_free(&r->tx);
	free(r->psk);
	free(r);
}

static void push_event(struct braid_receiver *r, enum braid_event_kind kind, uint64_t now_us,
		       uint32_t session_id, const struct braid__rx_link *l,
		       enum braid_link_state old)
{
	struct braid_event ev = { .kind = kind, .time_us = now_us, .session_id = session_id };
	if (l) {
		ev.link_id = l->id;
		ev.old_state = old;
		ev.new_state = l->health.state;
	}
	braid__event_ring_push(&r->events, &ev);
}

static struct braid__rx_session *find_session(struct braid_receiver *r, uint32_t id)
{
	for (size_t i = 0; i < r->in_use; i++)
		if (r->sessions[i].used && r->sessions[i].id == id)
			return &r->sessions[i];
	return NULL;
}

static void session_stats_rxbuf(const struct braid__rx_session *s, struct braid_session_stats *o)
{
	struct braid_rxbuf_stats rb;
	braid_rxbuf_get_stats(s->rxbuf, &rb);
	*o = s->stats;
	o->duplicates = rb.duplicates;
	o->late = rb.late;
	o->beyond_window = rb.too_far;
	o->lost = rb.lost;
	o->reordered_held = braid_rxbuf_held(s->rxbuf);
	o->nacks = s->nacks_sent;
}

static void end_session(struct braid_receiver *r, struct braid__rx_session *s, uint64_t now_us)
{
	struct braid_session_stats st;
	session_stats_rxbuf(s, &st);
	r->retired.packets_out += st.packets_out;
	r->retired.bytes_out += st.bytes_out;
	r->retired.duplicates += st.duplicates;
	r->retired.late += st.late;
	r->retired.beyond_window += st.beyond_window;
	r->retired.lost += st.lost;
	r->retired.retransmitted += st.retransmitted;
	r->retired.bad_timestamps += st.bad_timestamps;
	push_event(r, BRAID_EVENT_SESSION_END, now_us, s->id, NULL, BRAID_LINK_DOWN);
	braid__rx_session_free(s);
	while (r->in_use && !r->sessions[r->in_use - 1].used)
		r->in_use--;
}

static bool queue_packet(struct braid_receiver *r, struct braid__rx_session *s,
			 struct braid__rx_link *l, struct braid_packet *p)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	const uint8_t *key = NULL;
	size_t key_len = 0;
	if (r->psk) {
		bool hello = p->header.type == BRAID_PKT_HELLO_ACK;
		key = hello ? r->psk : s->key;
		key_len = hello ? r->settings.psk_len : sizeof(s->key);
	}
	p->header.session_id = s->id;
	p->header.link_id = l->id;
	int n = braid_wire_encode(p, key, key_len, buf, sizeof(buf));
	if (n <= 0)
		return false;
	struct braid__pkt *out = braid__pktq_push(&r->tx, (size_t)n);
	if (!out)
		return false;
	memcpy(out->buf, buf, (size_t)n);
	out->addr = l->addr;
	l->packets_sent++;
	l->bytes_sent += (uint64_t)n;
	return true;
}

static struct braid__rx_session *free_session_slot(struct braid_receiver *r)
{
	for (size_t i = 0; i < r->settings.max_sessions; i++)
		if (!r->sessions[i].used)
			return &r->sessions[i];
	return NULL;
}

static struct braid__rx_session *new_session(struct braid_receiver *r, uint32_t id,
					     const uint8_t nonce[BRAID_NONCE_SIZE],
					     uint64_t now_us)
{
	struct braid__rx_session *s = free_session_slot(r);
	if (!s || braid__rx_session_init(s, id, r->settings.reorder_capacity, now_us) < 0)
		return NULL;
	if ((size_t)(s - r->sessions) + 1 > r->in_use)
		r->in_use = (size_t)(s - r->sessions) + 1;
	memcpy(s->sender_nonce, nonce, BRAID_NONCE_SIZE);
	uint64_t rn = braid_rng_next(&r->rng);
	for (int i = 0; i < BRAID_NONCE_SIZE; i++)
		s->receiver_nonce[i] = (uint8_t)(rn >> (8 * i));
	if (r->psk) {
		braid_wire_session_key(r->psk, r->settings.psk_len, id, s->sender_nonce,
				       s->receiver_nonce, s->key);
		s->keyed = true;
	}
	push_event(r, BRAID_EVENT_SESSION_NEW, now_us, id, NULL, BRAID_LINK_DOWN);
	return s;
}

static void link_heard(struct braid_receiver *r, struct braid__rx_session *s,
		       struct braid__rx_link *l, const struct braid_addr *from, uint64_t now_us)
{
	enum braid_link_state old = l->health.state;
	if (braid__rx_link_heard(l, &r->settings.health, from, now_us))
		push_event(r, BRAID_EVENT_LINK_STATE, now_us, s->id, l, old);
	s->last_heard_us = now_us;
}

/* p: the HELLO, decoded (every length checked) before its HMAC is. */
static int on_hello(struct braid_receiver *r, const struct braid_addr *from, const uint8_t *buf,
		    size_t len, const struct braid_packet *hello, uint64_t now_us)
{
	if (r->psk ? braid_wire_check_tag(buf, len, r->psk, r->settings.psk_len) < 0
		   : (buf[1] & BRAID_FLAG_KEYED) != 0) {
		r->stats.drops.auth++;
		return BRAID_ERR_AUTH;
	}
	const struct braid_packet p = *hello;
	struct braid__rx_session *s = find_session(r, p.header.session_id);
	if (s && memcmp(s->sender_nonce, p.body.hello.sender_nonce, BRAID_NONCE_SIZE) != 0) {
		end_session(r, s, now_us); /* the sender restarted under the same id */
		s = NULL;
	}
	if (!s)
		s = new_session(r, p.header.session_id, p.body.hello.sender_nonce, now_us);
	if (!s) {
		if (free_session_slot(r))
			r->stats.drops.no_memory++;
		else
			r->stats.drops.sessions_full++;
		return BRAID_ERR_FULL;
	}
	s->closing = false;
	struct braid__rx_link *l = braid__rx_session_add_link(s, p.header.link_id,
							      p.body.hello.name, now_us);
	if (!l) {
		r->stats.drops.links_full++;
		return BRAID_ERR_FULL;
	}
	link_heard(r, s, l, from, now_us);
	l->packets_received++;
	l->bytes_received += len;
	struct braid_packet ack = { .header = { .type = BRAID_PKT_HELLO_ACK } };
	memcpy(ack.body.hello_ack.sender_nonce, s->sender_nonce, BRAID_NONCE_SIZE);
	memcpy(ack.body.hello_ack.receiver_nonce, s->receiver_nonce, BRAID_NONCE_SIZE);
	ack.body.hello_ack.echo_timestamp_us = p.body.hello.timestamp_us;
	queue_packet(r, s, l, &ack);
	return 0;
}

/* Session, tag and link checks for everything but HELLO. 0 or the drop reason (counted). */
static int admit(struct braid_receiver *r, const struct braid_header *h, const uint8_t *buf,
		 size_t len, struct braid__rx_session **out_s, struct braid__rx_link **out_l)
{
	struct braid__rx_session *s = find_session(r, h->session_id);
	if (!s) {
		r->stats.drops.unknown_session++;
		return BRAID_ERR_SESSION;
	}
	if (s->keyed ? braid_wire_check_tag(buf, len, s->key, sizeof(s->key)) < 0
		     : (h->flags & BRAID_FLAG_KEYED) != 0) {
		r->stats.drops.auth++;
		return BRAID_ERR_AUTH;
	}
	struct braid__rx_link *l = braid__rx_session_link(s, h->link_id);
	if (!l) {
		r->stats.drops.unknown_link++;
		return BRAID_ERR_LINK;
	}
	*out_s = s;
	*out_l = l;
	return 0;
}

/* Every length and field of the packet's type is checked before any tag work: a datagram
 * that cannot be a packet costs no MAC. */
static int decode_incoming(struct braid_receiver *r, const uint8_t *buf, size_t len,
			   unsigned flags, struct braid_packet *p)
{
	if (flags & BRAID_DATAGRAM_TRUNCATED) {
		r->stats.drops.truncated++;
		return BRAID_ERR_TOO_BIG;
	}
	int rc = braid_wire_decode(buf, len, p);
	uint8_t type = p->header.type;
	if (rc == 0 && type != BRAID_PKT_DATA && type != BRAID_PKT_HELLO &&
	    type != BRAID_PKT_PROBE && type != BRAID_PKT_BYE) {
		r->stats.drops.wrong_direction++; /* a type that only travels the other way */
		return BRAID_ERR_TYPE;
	}
	if (rc == BRAID_ERR_TOO_BIG)
		r->stats.drops.oversized++;
	else if (rc < 0)
		r->stats.drops.malformed++;
	return rc;
}

int braid_receiver_handle_datagram(struct braid_receiver *r, const struct braid_addr *from,
				   const uint8_t *buf, size_t len, unsigned flags, uint64_t now_us)
{
	now_us = advance_clock(r, now_us);
	r->stats.packets_in++;
	r->stats.bytes_in += len;
	struct braid_packet p;
	int rc = decode_incoming(r, buf, len, flags, &p);
	if (rc < 0)
		return rc;
	const struct braid_header h = p.header;
	if (h.type == BRAID_PKT_HELLO)
		return on_hello(r, from, buf, len, &p, now_us);
	struct braid__rx_session *s;
	struct braid__rx_link *l;
	rc = admit(r, &h, buf, len, &s, &l);
	if (rc < 0)
		return rc;
	link_heard(r, s, l, from, now_us);
	l->packets_received++;
	l->bytes_received += len;
	if (h.type == BRAID_PKT_DATA) {
		braid__rx_session_data(s, l, &p, r->settings.latency_us, now_us);
	} else if (h.type == BRAID_PKT_PROBE) {
		braid__rx_session_sent_through(s, p.body.probe.sent_through,
					       p.body.probe.timestamp_us, r->settings.latency_us,
					       now_us);
		struct braid_packet reply = { .header = { .type = BRAID_PKT_PROBE_REPLY } };
		reply.body.probe_reply.probe_seq = p.body.probe.probe_seq;
		reply.body.probe_reply.echo_timestamp_us = p.body.probe.timestamp_us;
		reply.body.probe_reply.received = (uint32_t)l->data_received;
		reply.body.probe_reply.jitter_us = (uint32_t)l->jitter.jitter_us;
		reply.body.probe_reply.received_bytes = (uint32_t)l->data_bytes;
		reply.body.probe_reply.arrival_us = (uint32_t)now_us;
		l->rtt_us = p.body.probe.rtt_us;
		l->health.rtt_allowance_us = l->rtt_us;
		queue_packet(r, s, l, &reply);
	} else {
		s->closing = true;
	}
	return 0;
}

int braid_receiver_poll_transmit(struct braid_receiver *r, uint64_t now_us, struct braid_addr *to,
				 uint8_t *buf, size_t cap, size_t *len)
{
	advance_clock(r, now_us);
	struct braid__pkt *p = braid__pktq_peek(&r->tx);
	if (!p)
		return 0;
	if (p->len > cap)
		return BRAID_ERR_BUFFER;
	memcpy(buf, p->buf, p->len);
	*to = p->addr;
	*len = p->len;
	braid__pktq_pop(&r->tx);
	return 1;
}

int braid_receiver_poll_output(struct braid_receiver *r, uint64_t now_us, uint32_t *session_id,
			       uint8_t *buf, size_t cap, size_t *len)
{
	now_us = advance_clock(r, now_us);
	size_t n = r->in_use;
	uint64_t when = r->flushing ? UINT64_MAX : now_us;
	for (size_t k = 0; k < n; k++) {
		struct braid__rx_session *s = &r->sessions[(r->next_output + k) % n];
		if (!s->used)
			continue;
		int rc = braid_rxbuf_pop(s->rxbuf, when, buf, cap, len, NULL);
		if (rc == 0)
			continue;
		if (rc < 0)
			return rc; /* held for a larger buffer */
		s->stats.packets_out++;
		s->stats.bytes_out += (uint64_t)*len;
		*session_id = s->id;
		r->next_output = (r->next_output + k + 1) % n;
		return 1;
	}
	r->flushing = false;
	return 0;
}

void braid_receiver_flush(struct braid_receiver *r)
{
	r->flushing = true;
}

int braid_receiver_send_reverse(struct braid_receiver *r, uint32_t session_id,
				const uint8_t *payload, size_t len, uint64_t now_us)
{
	struct braid__rx_session *s = find_session(r, session_id);
	if (!s)
		return BRAID_ERR_SESSION;
	if (len > BRAID_MAX_PAYLOAD)
		return BRAID_ERR_TOO_BIG;
	struct braid__rx_link *l = braid__rx_session_best_link(s);
	if (!l)
		return BRAID_ERR_LINK;
	struct braid_packet p = { .header = { .type = BRAID_PKT_REVERSE } };
	p.body.data = (struct braid_data){ .seq = s->reverse_seq++,
					   .timestamp_us = (uint32_t)now_us,
					   .payload = payload, .payload_len = len };
	if (!queue_packet(r, s, l, &p))
		return BRAID_ERR_FULL;
	s->stats.reverse_packets++;
	s->stats.reverse_bytes += len;
	return 0;
}

int braid_receiver_poll_event(struct braid_receiver *r, struct braid_event *ev)
{
	return braid__event_ring_pop(&r->events, ev) ? 1 : 0;
}

uint64_t braid_receiver_next_timeout(const struct braid_receiver *r)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < r->in_use; i++) {
		const struct braid__rx_session *s = &r->sessions[i];
		if (!s->used)
			continue;
		if (s->closing && braid_rxbuf_held(s->rxbuf) == 0)
			return 0; /* released the last packet after its BYE: end it now */
		uint64_t t = braid_rxbuf_next_release(s->rxbuf);
		if (t < next)
			next = t;
		if (s->nack.next_at_us < next)
			next = s->nack.next_at_us;
		t = s->last_heard_us + r->settings.session_timeout_us;
		if (t < next)
			next = t;
		for (size_t j = 0; j < s->links_in_use; j++) {
			if (!s->links[j].used)
				continue;
			t = braid_health_deadline(&s->links[j].health, &r->settings.health);
			if (t < next)
				next = t;
		}
	}
	return next;
}

/* Asks the sender for what is missing, on the fastest live link and on the one heard from
 * last: a way back that stalls (a cellular link goes quiet for hundreds of ms) must not
 * hold the request until its number is lost; the sender resends once however many copies
 * come. Repeats about once per round trip; gives a number up once a resend could not
 * arrive before its release. */
static void send_nacks(struct braid_receiver *r, struct braid__rx_session *s, uint64_t now_us)
{
	uint64_t rtt = braid__rx_session_rtt(s);
	struct braid_packet p = { .header = { .type = BRAID_PKT_NACK } };
	while (braid__nack_collect(&s->nack, now_us, rtt, rtt + rtt / 10, NACK_MAX_ASKS,
				   &p.body.nack) > 0) {
		struct braid__rx_link *l = braid__rx_session_best_link(s);
		if (!l || !queue_packet(r, s, l, &p))
			return;
		s->nacks_sent++;
		struct braid__rx_link *spare = braid__rx_session_spare_link(s, l);
		if (spare && queue_packet(r, s, spare, &p))
			s->nacks_sent++;
	}
}

void braid_receiver_handle_timeout(struct braid_receiver *r, uint64_t now_us)
{
	now_us = advance_clock(r, now_us);
	for (size_t i = 0; i < r->in_use; i++) {
		struct braid__rx_session *s = &r->sessions[i];
		if (!s->used)
			continue;
		for (size_t j = 0; j < s->links_in_use; j++) {
			struct braid__rx_link *l = &s->links[j];
			enum braid_link_state old = l->health.state;
			if (!l->used || !braid_health_on_tick(&l->health, &r->settings.health, now_us))
				continue;
			if (l->health.state == BRAID_LINK_DOWN)
				l->down_events++;
			push_event(r, BRAID_EVENT_LINK_STATE, now_us, s->id, l, old);
		}
		send_nacks(r, s, now_us);
		bool drained = braid_rxbuf_held(s->rxbuf) == 0;
		if ((s->closing && drained) ||
		    now_us - s->last_heard_us >= r->settings.session_timeout_us)
			end_session(r, s, now_us);
	}
}

void braid_receiver_get_stats(const struct braid_receiver *r, struct braid_receiver_stats *out)
{
	*out = r->stats;
	out->sessions = 0;
	out->packets_out = r->retired.packets_out;
	out->bytes_out = r->retired.bytes_out;
	out->duplicates = r->retired.duplicates;
	out->late = r->retired.late;
	out->beyond_window = r->retired.beyond_window;
	out->lost = r->retired.lost;
	out->retransmitted = r->retired.retransmitted;
	out->bad_timestamps = r->retired.bad_timestamps;
	for (size_t i = 0; i < r->in_use; i++) {
		if (!r->sessions[i].used)
			continue;
		struct braid_session_stats st;
		session_stats_rxbuf(&r->sessions[i], &st);
		out->sessions++;
		out->packets_out += st.packets_out;
		out->bytes_out += st.bytes_out;
		out->duplicates += st.duplicates;
		out->late += st.late;
		out->beyond_window += st.beyond_window;
		out->lost += st.lost;
		out->retransmitted += st.retransmitted;
		out->bad_timestamps += st.bad_timestamps;
	}
}

size_t braid_receiver_sessions(const struct braid_receiver *r, uint32_t *ids, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < r->in_use; i++) {
		if (!r->sessions[i].used)
			continue;
		if (n < max)
			ids[n] = r->sessions[i].id;
		n++;
	}
	return n;
}

int braid_receiver_session_stats(const struct braid_receiver *r, uint32_t session_id,
				 struct braid_session_stats *out, struct braid_link_stats *links,
				 size_t max, size_t *link_count)
{
	const struct braid__rx_session *s = NULL;
	for (size_t i = 0; i < r->in_use && !s; i++)
		if (r->sessions[i].used && r->sessions[i].id == session_id)
			s = &r->sessions[i];
	if (!s)
		return BRAID_ERR_SESSION;
	session_stats_rxbuf(s, out);
	size_t n = 0;
	for (size_t j = 0; j < s->links_in_use; j++) {
		if (!s->links[j].used)
			continue;
		if (n < max)
			braid__rx_link_stats(&s->links[j], &links[n]);
		n++;
	}
	if (link_count)
		*link_count = n;
	return 0;
}
