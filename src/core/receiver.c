/* The receiving side: routes each datagram to its session, answers handshakes and probes,
 * and releases media in order at the sender's timing plus the latency budget. */
#include "braid/receiver.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "base/rng.h"
#include "core/drops.h"
#include "core/event_ring.h"
#include "core/gate.h"
#include "core/pktq.h"
#include "core/rx_session.h"

#define TX_QUEUE_SIZE 4096
#define EVENT_QUEUE_SIZE 128
#define NACK_MAX_ASKS 20
#define HELLO_CACHE_SIZE 1024
/* Unkeyed: a session silent this long may be taken over by a HELLO with another sender
 * nonce (its sender restarted); before, such a HELLO is a conflict. */
#define RESTART_SILENCE_US 1000000u

/* A HELLO answered: one with the same session, link and ephemeral key and a wall clock no
 * later is a copy (a retransmission carries a later one). */
struct hello_seen {
	bool used;
	uint32_t session_id;
	uint16_t link_id;
	uint8_t ephemeral[BRAID_EPHEMERAL_SIZE];
	uint64_t wall_us;
};

struct braid_receiver {
	struct braid_receiver_settings settings;
	bool keyed;
	uint8_t psk_key[BRAID_KEY_SIZE];
	uint64_t wall_anchor_us, mono_anchor_us; /* the same instant on both clocks */
	uint64_t exchange_index;                  /* of the next ephemeral key */
	struct hello_seen *hellos;                /* keyed: HELLO_CACHE_SIZE */
	struct braid__gate gate;                  /* rates per source, cookies */
	size_t held_bytes;                        /* media held, all sessions */
	uint8_t opened[BRAID_MAX_DATAGRAM];       /* the plain datagram a sealed one carried */
	struct braid_rng rng;
	struct braid__rx_session *sessions;
	size_t in_use; /* one past the highest session slot in use: loops stop there */
	struct braid__pktq tx;
	struct braid_event event_slots[EVENT_QUEUE_SIZE];
	struct braid__event_ring events; /* over event_slots */
	bool flushing;
	uint64_t release_until; /* a release batch takes what is due by then */
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
	s->max_sessions_per_source = 8;
	s->reorder_capacity = 65536;
	/* a 1 s budget at 400 Mbit/s, with room for copies and resends */
	s->max_held_bytes_per_session = 64u << 20;
	s->max_held_bytes = 256u << 20;
	s->hellos_per_source = 1000;
	s->cookies_per_second = 2000;
	s->hello_tolerance_us = 30000000;
	braid_health_settings_default(&s->health);
}

static uint64_t advance_clock(struct braid_receiver *r, uint64_t now_us)
{
	if (now_us > r->now)
		r->now = now_us;
	return r->now;
}

/* The gate's secret: the key seed and the seed together, so either drawn at random keeps
 * cookies unguessable. */
static void init_gate(struct braid_receiver *r)
{
	uint8_t secret[32], input[BRAID_KEY_SEED_SIZE + 8];
	memcpy(input, r->settings.key_seed, BRAID_KEY_SEED_SIZE);
	for (int i = 0; i < 8; i++)
		input[BRAID_KEY_SEED_SIZE + i] = (uint8_t)(r->settings.seed >> (8 * i));
	braid__hash_secret(input, sizeof(input), secret);
	braid__gate_init(&r->gate, secret, r->settings.hellos_per_source,
			 r->settings.cookies_per_second);
	sodium_memzero(secret, sizeof(secret));
}

struct braid_receiver *braid_receiver_new(const struct braid_receiver_settings *set,
					  uint64_t now_us)
{
	if (!set || set->max_sessions == 0 || set->reorder_capacity == 0 ||
	    set->health.probe_interval_us == 0 || set->max_sessions_per_source == 0 ||
	    !(set->hellos_per_source >= 1) || !(set->cookies_per_second >= 1) ||
	    (set->psk && (set->psk_len == 0 || set->wall_clock_us == 0)) ||
	    set->release_window_us > set->latency_us)
		return NULL;
	if (set->psk && !braid__crypto_init())
		return NULL;
	struct braid_receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->settings = *set;
	r->now = now_us;
	braid_rng_seed(&r->rng, set->seed);
	braid__event_ring_init(&r->events, r->event_slots, EVENT_QUEUE_SIZE);
	r->sessions = calloc(set->max_sessions, sizeof(*r->sessions));
	init_gate(r);
	if (set->psk) {
		r->keyed = true;
		braid__psk_key(set->psk, set->psk_len, r->psk_key);
		r->wall_anchor_us = set->wall_clock_us;
		r->mono_anchor_us = now_us;
		r->hellos = calloc(HELLO_CACHE_SIZE, sizeof(*r->hellos));
	}
	/* only the key derived from the psk is kept, and the seed is not needed in the clear */
	r->settings.psk = NULL;
	r->settings.psk_len = 0;
	if (!r->sessions || (r->keyed && !r->hellos) || braid__pktq_init(&r->tx, TX_QUEUE_SIZE) < 0) {
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
	free(r->hellos);
	sodium_memzero(r, sizeof(*r));
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
	r->held_bytes -= braid_rxbuf_held_bytes(s->rxbuf);
	r->retired.packets_out += st.packets_out;
	r->retired.bytes_out += st.bytes_out;
	r->retired.duplicates += st.duplicates;
	r->retired.late += st.late;
	r->retired.beyond_window += st.beyond_window;
	r->retired.lost += st.lost;
	r->retired.retransmitted += st.retransmitted;
	r->retired.bad_timestamps += st.bad_timestamps;
	r->retired.nacks += st.nacks;
	push_event(r, BRAID_EVENT_SESSION_END, now_us, s->id, NULL, BRAID_LINK_DOWN);
	braid__rx_session_free(s);
	while (r->in_use && !r->sessions[r->in_use - 1].used)
		r->in_use--;
}

/* Encodes and queues a packet for `to`; keyed sessions seal it (HELLO_ACK: MAC). Its
 * length, or 0 when it could not be queued. */
static size_t queue_to(struct braid_receiver *r, struct braid__rx_session *s,
		     const struct braid_addr *to, struct braid_packet *p)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_wire_key key = { .mac_key = r->psk_key };
	if (r->keyed && p->header.type != BRAID_PKT_HELLO_ACK && !braid__keys_next(&s->keys, &key))
		return 0; /* no keys to seal with, or their numbers are used up */
	int n = braid_wire_encode(p, r->keyed ? &key : NULL, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	struct braid__pkt *out = braid__pktq_push(&r->tx, (size_t)n);
	if (!out)
		return 0;
	memcpy(out->buf, buf, (size_t)n);
	out->addr = *to;
	return (size_t)n;
}

static bool queue_packet(struct braid_receiver *r, struct braid__rx_session *s,
			 struct braid__rx_link *l, struct braid_packet *p)
{
	p->header.session_id = s->id;
	p->header.link_id = l->id;
	size_t n = queue_to(r, s, &l->addr, p);
	if (!n)
		return false;
	l->packets_sent++;
	l->bytes_sent += n;
	return true;
}

static struct braid__rx_session *free_session_slot(struct braid_receiver *r)
{
	for (size_t i = 0; i < r->settings.max_sessions; i++)
		if (!r->sessions[i].used)
			return &r->sessions[i];
	return NULL;
}

static void draw_nonce(struct braid_receiver *r, uint8_t nonce[BRAID_NONCE_SIZE])
{
	uint64_t rn = braid_rng_next(&r->rng);
	for (int i = 0; i < BRAID_NONCE_SIZE; i++)
		nonce[i] = (uint8_t)(rn >> (8 * i));
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
	draw_nonce(r, s->receiver_nonce);
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

static int drop(struct braid_receiver *r, int reason)
{
	return braid__drop_count(&r->stats.drops, reason);
}

static uint32_t latency32(const struct braid_receiver *r)
{
	return r->settings.latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)r->settings.latency_us;
}

/* Answers a HELLO with the exchange it belongs to, to where the HELLO came from. */
static size_t answer_hello(struct braid_receiver *r, struct braid__rx_session *s,
			 const struct braid_addr *to, const struct braid_packet *hello,
			 const struct braid__rx_exchange *ex)
{
	struct braid_packet ack = { .header = { .type = BRAID_PKT_HELLO_ACK,
						.link_id = hello->header.link_id,
						.session_id = s->id } };
	struct braid_hello_ack *a = &ack.body.hello_ack;
	memcpy(a->sender_nonce, hello->body.hello.sender_nonce, BRAID_NONCE_SIZE);
	memcpy(a->receiver_nonce, ex ? ex->receiver_nonce : s->receiver_nonce, BRAID_NONCE_SIZE);
	if (ex) {
		memcpy(a->sender_ephemeral, ex->sender_public, BRAID_EPHEMERAL_SIZE);
		memcpy(a->receiver_ephemeral, ex->receiver_public, BRAID_EPHEMERAL_SIZE);
	}
	a->echo_timestamp_us = hello->body.hello.timestamp_us;
	a->latency_us = latency32(r);
	return queue_to(r, s, to, &ack);
}

/* A sender whose latency budget differs would have its stream released at another time
 * than it plans for (and its resends timed for another deadline): no session, and an
 * answer that says why. The answer echoes the HELLO's nonce, key and timestamp, as any
 * HELLO_ACK, so the sender knows it answers its own HELLO (keyed: under the PSK's MAC). */
static int refuse_latency(struct braid_receiver *r, const struct braid_addr *from,
			  const struct braid_packet *hello)
{
	struct braid_packet ack = { .header = { .type = BRAID_PKT_HELLO_ACK,
						.link_id = hello->header.link_id,
						.session_id = hello->header.session_id } };
	struct braid_hello_ack *a = &ack.body.hello_ack;
	memcpy(a->sender_nonce, hello->body.hello.sender_nonce, BRAID_NONCE_SIZE);
	memcpy(a->sender_ephemeral, hello->body.hello.ephemeral, BRAID_EPHEMERAL_SIZE);
	a->echo_timestamp_us = hello->body.hello.timestamp_us;
	a->latency_us = latency32(r);
	queue_to(r, NULL, from, &ack);
	r->stats.drops.latency_mismatch++;
	r->stats.refused_latency_us = hello->body.hello.latency_us;
	return BRAID_ERR_INVAL;
}

/* Registers (or re-registers) the HELLO's link in its session and answers it. A known
 * link keeps its address when keyed: only a sealed packet moves it. */
static int register_link(struct braid_receiver *r, struct braid__rx_session *s,
			 const struct braid_addr *from, const struct braid_packet *p, size_t len,
			 const struct braid__rx_exchange *ex, uint64_t now_us)
{
	s->closing = false;
	struct braid__rx_link *l = braid__rx_session_add_link(s, p->header.link_id,
							      p->body.hello.name, now_us);
	if (!l) {
		r->stats.drops.links_full++;
		return BRAID_ERR_FULL;
	}
	link_heard(r, s, l, r->keyed && l->addr.len ? NULL : from, now_us);
	braid__rx_session_hello_time(s, p->body.hello.timestamp_us, r->settings.latency_us,
				     now_us);
	l->packets_received++;
	l->bytes_received += len;
	l->packets_sent++;
	l->bytes_sent += answer_hello(r, s, from, p, ex);
	return 0;
}

/* Sessions started from the same IP address as `from`. */
static size_t sessions_from(const struct braid_receiver *r, const struct braid_addr *from)
{
	size_t n = 0;
	for (size_t i = 0; i < r->in_use; i++)
		n += r->sessions[i].used && braid__gate_same_host(&r->sessions[i].origin, from);
	return n;
}

/* A new session for a HELLO, within the caps: overall, and per source address. */
static struct braid__rx_session *admit_session(struct braid_receiver *r,
					       const struct braid_addr *from,
					       const struct braid_packet *p, uint64_t now_us)
{
	if (sessions_from(r, from) >= r->settings.max_sessions_per_source) {
		r->stats.drops.source_full++;
		return NULL;
	}
	struct braid__rx_session *s = new_session(r, p->header.session_id,
						  p->body.hello.sender_nonce, now_us);
	if (!s) {
		if (free_session_slot(r))
			r->stats.drops.no_memory++;
		else
			r->stats.drops.sessions_full++;
		return NULL;
	}
	s->origin = *from;
	return s;
}

/* Unkeyed: has the HELLO's source proved it receives at its address? A link answering
 * from the address it was registered at has; any other source proves it by echoing the
 * COOKIE of its address. */
static bool plain_hello_proven(struct braid_receiver *r, struct braid__rx_session *s,
			       const struct braid_addr *from, const struct braid_packet *p,
			       uint64_t now_us)
{
	const struct braid__rx_link *l = s ? braid__rx_session_link(s, p->header.link_id) : NULL;
	if (l && l->addr.len && braid_addr_equal(&l->addr, from))
		return true;
	return braid__gate_cookie_valid(&r->gate, from, p->header.session_id, p->header.link_id,
					now_us, p->body.hello.ephemeral);
}

/* Answers an unproven HELLO with a COOKIE no longer than it, while the budget lasts. */
static int send_cookie(struct braid_receiver *r, const struct braid_addr *from,
		       const struct braid_packet *p, uint64_t now_us)
{
	r->stats.drops.unproven++;
	if (!braid__gate_allow_cookie(&r->gate, now_us))
		return BRAID_ERR_AGAIN;
	struct braid_packet c = { .header = { .type = BRAID_PKT_COOKIE,
					      .link_id = p->header.link_id,
					      .session_id = p->header.session_id } };
	braid__gate_cookie(&r->gate, from, p->header.session_id, p->header.link_id, now_us,
			   c.body.cookie.cookie);
	c.body.cookie.echo_timestamp_us = p->body.hello.timestamp_us;
	if (queue_to(r, NULL, from, &c))
		r->stats.cookies_sent++;
	return BRAID_ERR_AGAIN;
}

/* Unkeyed HELLO: registers its link once its source has proved its address. A HELLO with
 * another sender nonce replaces the session only when the session has gone silent (the
 * sender restarted under the same id); while it lives, it is a conflict, dropped. */
static int on_plain_hello(struct braid_receiver *r, const struct braid_addr *from,
			  const struct braid_packet *p, size_t len, uint64_t now_us)
{
	struct braid__rx_session *s = find_session(r, p->header.session_id);
	if (!plain_hello_proven(r, s, from, p, now_us))
		return send_cookie(r, from, p, now_us);
	if (p->body.hello.latency_us != latency32(r))
		return refuse_latency(r, from, p);
	if (s && memcmp(s->sender_nonce, p->body.hello.sender_nonce, BRAID_NONCE_SIZE) != 0) {
		if (now_us - s->last_heard_us < RESTART_SILENCE_US) {
			r->stats.drops.session_conflict++;
			return BRAID_ERR_EXISTS;
		}
		end_session(r, s, now_us); /* the sender restarted under the same id */
		s = NULL;
	}
	if (!s)
		s = admit_session(r, from, p, now_us);
	if (!s)
		return BRAID_ERR_FULL;
	return register_link(r, s, from, p, len, NULL, now_us);
}

static uint64_t wall_now(const struct braid_receiver *r, uint64_t now_us)
{
	return r->wall_anchor_us + (now_us - r->mono_anchor_us);
}

static struct hello_seen *hello_seen_find(struct braid_receiver *r, const struct braid_packet *p)
{
	for (size_t i = 0; i < HELLO_CACHE_SIZE; i++) {
		struct hello_seen *e = &r->hellos[i];
		if (e->used && e->session_id == p->header.session_id &&
		    e->link_id == p->header.link_id &&
		    memcmp(e->ephemeral, p->body.hello.ephemeral, BRAID_EPHEMERAL_SIZE) == 0)
			return e;
	}
	return NULL;
}

/* The wall clock of a HELLO: within the tolerance of ours, not before we started, and
 * later than any copy of it answered before. 0, or BRAID_ERR_REPLAY (counted as stale or
 * replay). Remembers it as answered. */
static int hello_fresh(struct braid_receiver *r, const struct braid_packet *p, uint64_t now_us)
{
	uint64_t wall = p->body.hello.wall_us, ours = wall_now(r, now_us);
	uint64_t tolerance = r->settings.hello_tolerance_us;
	if (wall < r->wall_anchor_us || wall + tolerance < ours || wall > ours + tolerance) {
		r->stats.drops.stale++;
		return BRAID_ERR_REPLAY;
	}
	struct hello_seen *e = hello_seen_find(r, p);
	if (e && wall <= e->wall_us) {
		r->stats.drops.replay++;
		return BRAID_ERR_REPLAY;
	}
	for (size_t i = 0; i < HELLO_CACHE_SIZE && !e; i++)
		if (!r->hellos[i].used)
			e = &r->hellos[i];
	for (size_t i = 0; i < HELLO_CACHE_SIZE && !e; i++)
		if (r->hellos[i].wall_us + tolerance < ours) /* too old to pass anyway */
			e = &r->hellos[i];
	if (!e) { /* all recent: the oldest goes (its copies still meet the session's check) */
		e = &r->hellos[0];
		for (size_t i = 1; i < HELLO_CACHE_SIZE; i++)
			if (r->hellos[i].wall_us < e->wall_us)
				e = &r->hellos[i];
	}
	*e = (struct hello_seen){ .used = true, .session_id = p->header.session_id,
				  .link_id = p->header.link_id, .wall_us = wall };
	memcpy(e->ephemeral, p->body.hello.ephemeral, BRAID_EPHEMERAL_SIZE);
	return 0;
}

/* Answers a new exchange: a fresh ephemeral key of ours and the keys of both directions. */
static int start_exchange(struct braid_receiver *r, const struct braid_packet *p,
			  const uint8_t receiver_nonce[BRAID_NONCE_SIZE],
			  struct braid__rx_exchange *ex)
{
	uint8_t secret[BRAID_KEY_SIZE];
	struct braid__exchange_keys k;
	memset(ex, 0, sizeof(*ex));
	braid__ephemeral_keypair(r->settings.key_seed, r->exchange_index++, secret,
				 ex->receiver_public);
	memcpy(ex->sender_public, p->body.hello.ephemeral, BRAID_KEY_SIZE);
	bool ok = braid__derive_keys(r->psk_key, secret, ex->sender_public, ex->sender_public,
				     ex->receiver_public, p->header.session_id, &k);
	sodium_memzero(secret, sizeof(secret));
	if (!ok)
		return drop(r, BRAID_ERR_AUTH);
	braid__keys_install(&ex->keys, k.reverse, k.forward);
	sodium_memzero(&k, sizeof(k));
	memcpy(ex->sender_nonce, p->body.hello.sender_nonce, BRAID_NONCE_SIZE);
	memcpy(ex->receiver_nonce, receiver_nonce, BRAID_NONCE_SIZE);
	ex->wall_us = p->body.hello.wall_us;
	ex->valid = true;
	return 0;
}

static bool exchange_is(const struct braid__rx_exchange *ex, const struct braid_hello *h)
{
	return ex->valid && memcmp(ex->sender_public, h->ephemeral, BRAID_KEY_SIZE) == 0 &&
	       memcmp(ex->sender_nonce, h->sender_nonce, BRAID_NONCE_SIZE) == 0;
}

/* A restarted sender's links wait in its pending exchange until it is confirmed. */
static void remember_pending_link(struct braid__rx_exchange *ex, const struct braid_packet *p,
				  const struct braid_addr *from)
{
	size_t i = 0;
	while (i < ex->link_count && ex->links[i].id != p->header.link_id)
		i++;
	if (i == BRAID__RX_MAX_LINKS)
		return;
	if (i == ex->link_count) {
		ex->link_count++;
		ex->links[i].addr = *from;
	}
	ex->links[i].id = p->header.link_id;
	strcpy(ex->links[i].name, p->body.hello.name);
}

/* A HELLO of a known session: the confirmed exchange, the pending one, or a new one that
 * becomes pending — never replacing what is confirmed until a sealed packet says so. */
static int on_session_hello(struct braid_receiver *r, struct braid__rx_session *s,
			    const struct braid_addr *from, const struct braid_packet *p,
			    size_t len, uint64_t now_us)
{
	const struct braid_hello *h = &p->body.hello;
	struct braid__rx_exchange *ex = exchange_is(&s->exchange, h) ? &s->exchange
				      : exchange_is(&s->pending, h) ? &s->pending : NULL;
	if (!ex) {
		/* an exchange older than the confirmed one is a replay */
		if (h->wall_us <= s->exchange.wall_us)
			return drop(r, BRAID_ERR_REPLAY);
		bool same_sender = memcmp(h->sender_nonce, s->sender_nonce, BRAID_NONCE_SIZE) == 0;
		uint8_t nonce[BRAID_NONCE_SIZE];
		if (same_sender)
			memcpy(nonce, s->receiver_nonce, BRAID_NONCE_SIZE);
		else
			draw_nonce(r, nonce);
		int rc = start_exchange(r, p, nonce, &s->pending);
		if (rc < 0)
			return rc;
		ex = &s->pending;
	}
	if (memcmp(h->sender_nonce, s->sender_nonce, BRAID_NONCE_SIZE) != 0) {
		remember_pending_link(ex, p, from);
		answer_hello(r, s, from, p, ex);
		return 0;
	}
	return register_link(r, s, from, p, len, ex, now_us);
}

static int on_keyed_hello(struct braid_receiver *r, const struct braid_addr *from,
			  const struct braid_packet *p, size_t len, uint64_t now_us)
{
	int rc = hello_fresh(r, p, now_us);
	if (rc < 0)
		return rc;
	if (p->body.hello.latency_us != latency32(r))
		return refuse_latency(r, from, p);
	struct braid__rx_session *s = find_session(r, p->header.session_id);
	if (s)
		return on_session_hello(r, s, from, p, len, now_us);
	s = admit_session(r, from, p, now_us);
	if (!s)
		return BRAID_ERR_FULL;
	rc = start_exchange(r, p, s->receiver_nonce, &s->exchange);
	if (rc < 0) {
		end_session(r, s, now_us);
		return rc;
	}
	s->keys = s->exchange.keys;
	return register_link(r, s, from, p, len, &s->exchange, now_us);
}

/* p: the HELLO, decoded (every length checked) before its MAC is. */
static int on_hello(struct braid_receiver *r, const struct braid_addr *from, const uint8_t *buf,
		    size_t len, const struct braid_packet *hello, uint64_t now_us)
{
	if (!braid__gate_allow_hello(&r->gate, from, now_us)) {
		r->stats.drops.rate_limited++;
		return BRAID_ERR_AGAIN;
	}
	if (r->keyed ? braid_wire_check_mac(buf, len, r->psk_key) < 0
		     : (buf[1] & BRAID_FLAG_KEYED) != 0)
		return drop(r, BRAID_ERR_AUTH);
	if (r->keyed)
		return on_keyed_hello(r, from, hello, len, now_us);
	return on_plain_hello(r, from, hello, len, now_us);
}

/* A packet sealed with a pending exchange's keys confirms it: a rekey takes over the
 * session's keys (the old ones stay good for their grace); a restarted sender's replaces
 * the session with a new one, with the links its HELLOs named. */
static struct braid__rx_session *confirm_pending(struct braid_receiver *r,
						 struct braid__rx_session *s, uint64_t now_us)
{
	struct braid__rx_exchange ex = s->pending;
	s->pending.valid = false;
	if (memcmp(ex.sender_nonce, s->sender_nonce, BRAID_NONCE_SIZE) == 0) {
		s->old_keys = s->keys;
		s->old_keys.retire_at_us = now_us + BRAID__KEY_GRACE_US;
		s->keys = ex.keys;
		s->exchange = ex;
		return s;
	}
	uint32_t id = s->id;
	struct braid_addr origin = s->origin;
	end_session(r, s, now_us);
	s = new_session(r, id, ex.sender_nonce, now_us);
	if (!s)
		return NULL;
	s->origin = origin;
	memcpy(s->receiver_nonce, ex.receiver_nonce, BRAID_NONCE_SIZE);
	s->keys = ex.keys;
	s->exchange = ex;
	for (size_t i = 0; i < ex.link_count; i++) {
		struct braid__rx_link *l = braid__rx_session_add_link(s, ex.links[i].id,
								      ex.links[i].name, now_us);
		if (l)
			l->addr = ex.links[i].addr;
	}
	sodium_memzero(&ex, sizeof(ex));
	return s;
}

/* Opens a sealed datagram of session *s into r->opened with the keys it may carry: the
 * current ones, the previous ones in their grace, a pending exchange's (which that
 * confirms: *s may change). The plain length, or the drop reason (counted). */
static int open_sealed(struct braid_receiver *r, struct braid__rx_session **s, const uint8_t *buf,
		       size_t len, uint64_t now_us)
{
	struct braid__rx_session *sess = *s;
	struct braid__key_set *sets[] = { &sess->keys, &sess->old_keys,
					  sess->pending.valid ? &sess->pending.keys : NULL };
	size_t which = 0;
	int n = braid__keys_open(sets, 3, buf, len, now_us, r->opened, sizeof(r->opened), &which);
	if (n < 0)
		return drop(r, n);
	if (which == 2) {
		*s = confirm_pending(r, sess, now_us);
		if (!*s)
			return drop(r, BRAID_ERR_SESSION);
	}
	return n;
}

/* The common header, and the packet's type for this direction. Every length and field of
 * a plain datagram is checked too, before any MAC work: a datagram that cannot be a
 * packet costs none. A sealed one is decoded once opened. */
static int decode_incoming(struct braid_receiver *r, const uint8_t *buf, size_t len,
			   unsigned flags, struct braid_packet *p)
{
	if (flags & BRAID_DATAGRAM_TRUNCATED) {
		r->stats.drops.truncated++;
		return BRAID_ERR_TOO_BIG;
	}
	int rc = braid_wire_peek(buf, len, &p->header);
	uint8_t type = p->header.type;
	if (rc == 0 && type != BRAID_PKT_DATA && type != BRAID_PKT_HELLO &&
	    type != BRAID_PKT_PROBE && type != BRAID_PKT_BYE) {
		r->stats.drops.wrong_direction++; /* a type that only travels the other way */
		return BRAID_ERR_TYPE;
	}
	if (rc == 0 && !braid_wire_is_sealed(&p->header))
		rc = braid_wire_decode(buf, len, p);
	return rc < 0 ? drop(r, rc) : 0;
}

/* Session, protection and link checks for everything but HELLO; decodes a sealed
 * datagram once opened (into r->opened). 0 or the drop reason (counted). */
static int admit(struct braid_receiver *r, const uint8_t *buf, size_t len, struct braid_packet *p,
		 uint64_t now_us, struct braid__rx_session **out_s, struct braid__rx_link **out_l)
{
	const struct braid_header h = p->header;
	struct braid__rx_session *s = find_session(r, h.session_id);
	if (!s)
		return drop(r, BRAID_ERR_SESSION);
	bool sealed = braid_wire_is_sealed(&h);
	if (sealed != r->keyed)
		return drop(r, BRAID_ERR_AUTH);
	if (sealed) {
		int n = open_sealed(r, &s, buf, len, now_us);
		if (n < 0)
			return n;
		int rc = braid_wire_decode(r->opened, (size_t)n, p);
		if (rc < 0)
			return drop(r, rc);
	}
	struct braid__rx_link *l = braid__rx_session_link(s, h.link_id);
	if (!l)
		return drop(r, BRAID_ERR_LINK);
	*out_s = s;
	*out_l = l;
	return 0;
}

/* Room for len more media bytes in the session and in the receiver. */
static bool held_room(const struct braid_receiver *r, const struct braid__rx_session *s,
		      size_t len)
{
	return braid_rxbuf_held_bytes(s->rxbuf) + len <= r->settings.max_held_bytes_per_session &&
	       r->held_bytes + len <= r->settings.max_held_bytes;
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
	if (p.header.type == BRAID_PKT_HELLO)
		return on_hello(r, from, buf, len, &p, now_us);
	struct braid__rx_session *s = NULL;
	struct braid__rx_link *l = NULL;
	rc = admit(r, buf, len, &p, now_us, &s, &l);
	if (rc < 0)
		return rc;
	const struct braid_header h = p.header;
	if (h.type == BRAID_PKT_DATA && !held_room(r, s, p.body.data.payload_len)) {
		r->stats.drops.held_full++;
		return BRAID_ERR_FULL;
	}
	/* Keyed, the packet opened: its source holds the keys. Unkeyed, a source is proved
	 * only by a HELLO (a COOKIE round): data from elsewhere is taken, answers are not
	 * sent there. */
	bool proven = r->keyed || !l->addr.len || braid_addr_equal(&l->addr, from);
	link_heard(r, s, l, proven ? from : NULL, now_us);
	l->packets_received++;
	l->bytes_received += len;
	if (h.type == BRAID_PKT_DATA) {
		size_t before = braid_rxbuf_held_bytes(s->rxbuf);
		braid__rx_session_data(s, l, &p, r->settings.latency_us, now_us);
		r->held_bytes += braid_rxbuf_held_bytes(s->rxbuf) - before;
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
		if (!l->probes_received)
			l->first_probe_seq = p.body.probe.probe_seq;
		l->probes_received++;
		braid_loss_add(&l->probe_loss,
			       (uint64_t)(uint32_t)(p.body.probe.probe_seq - l->first_probe_seq) + 1,
			       l->probes_received);
		l->health.rtt_allowance_us = l->rtt_us;
		queue_packet(r, s, l, &reply);
	} else if (proven) {
		s->closing = true; /* BYE */
	} else {
		r->stats.drops.unproven++; /* unkeyed: only the link's own address may end it */
		return BRAID_ERR_AGAIN;
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

static uint64_t earliest_release(const struct braid_receiver *r)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < r->in_use; i++) {
		if (!r->sessions[i].used)
			continue;
		uint64_t t = braid_rxbuf_next_release(r->sessions[i].rxbuf);
		if (t < next)
			next = t;
	}
	return next;
}

/* Releases wait for their time, but once one is due, those due within the release window
 * go with it (a batch stays open until its horizon): fewer wake-ups and sends. */
static uint64_t release_horizon(struct braid_receiver *r, uint64_t now_us)
{
	uint64_t window = r->settings.release_window_us;
	if (window == 0)
		return now_us;
	if (r->release_until >= now_us)
		return r->release_until;
	if (earliest_release(r) <= now_us) {
		r->release_until = now_us + window;
		return r->release_until;
	}
	return now_us;
}

int braid_receiver_poll_output(struct braid_receiver *r, uint64_t now_us, uint32_t *session_id,
			       uint8_t *buf, size_t cap, size_t *len)
{
	now_us = advance_clock(r, now_us);
	size_t n = r->in_use;
	uint64_t when = r->flushing ? UINT64_MAX : release_horizon(r, now_us);
	for (size_t k = 0; k < n; k++) {
		struct braid__rx_session *s = &r->sessions[(r->next_output + k) % n];
		if (!s->used)
			continue;
		int rc = braid_rxbuf_pop(s->rxbuf, when, buf, cap, len, NULL);
		if (rc == 0)
			continue;
		if (rc < 0)
			return rc; /* held for a larger buffer */
		r->held_bytes -= *len;
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
	out->held_bytes = r->held_bytes;
	out->packets_out = r->retired.packets_out;
	out->bytes_out = r->retired.bytes_out;
	out->duplicates = r->retired.duplicates;
	out->late = r->retired.late;
	out->beyond_window = r->retired.beyond_window;
	out->lost = r->retired.lost;
	out->retransmitted = r->retired.retransmitted;
	out->bad_timestamps = r->retired.bad_timestamps;
	out->nacks = r->retired.nacks;
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
		out->nacks += st.nacks;
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
