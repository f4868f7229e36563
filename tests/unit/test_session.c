/* The sender and receiver cores together, in virtual time and without sockets. A small
 * simulator carries datagrams over links with their own one-way delay, drops and outages,
 * ordered by delivery time; the clock jumps to the next delivery, push or timeout, and
 * both sides are drained after every input. Each case checks the media stream end to end:
 * complete, in order, byte-identical and released at the sender's timing. */
#include "harness.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/heap.h"
#include "braid/error.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "core/rx_session.h"
#include "core/wire.h"

#define MS 1000ull
#define NEVER UINT64_MAX
#define SIM_LINKS 3
#define SIM_SENDERS 2
#define SIM_PACKETS 4096
#define SIM_EVENTS 256
#define SIM_CAPTURED 8
#define MEDIA_HEADER 8 /* embedded counter and session tag */
#define REVERSE_TAG 0x5a5a5a5au

struct sim_link {
	uint16_t id;
	uint64_t delay_us;                    /* one way, both directions */
	unsigned drop_every;                  /* 0: none; 1: all; k: every k-th datagram */
	bool duplicate;                       /* delivers each datagram twice, 1 ms apart */
	uint64_t dead_from_us, dead_until_us; /* lost when sent or due in [from, until) */
	double rate_bps;                      /* 0: unlimited; else a FIFO of this rate */
	uint64_t busy_until_us;               /* when it has sent all it was given */
	uint64_t offered;                     /* datagrams put on it, for drop_every */
	struct braid_addr addr;               /* the sender's address as the receiver sees it */
	uint64_t sent, data_sent;             /* datagrams the sender put on it; DATA ones */
	uint64_t to_sender, reverse_in;       /* delivered to the sender; REVERSE among them */
};

struct sim_sender {
	struct braid_sender *tx;
	uint32_t session_id;
	struct sim_link links[SIM_LINKS];
	size_t nlinks;
	uint64_t next_push_us, interval_us;
	uint32_t to_push, pushed, push_failed;
	uint64_t push_us[SIM_PACKETS];
	uint32_t out_count, out_idx[SIM_PACKETS]; /* released by the receiver */
	uint64_t out_us[SIM_PACKETS];
	uint32_t disorder, bad_payload;           /* counter not increasing; content wrong */
	uint32_t reverse_count, reverse_bad;
	struct braid_event events[SIM_EVENTS];
	size_t nevents;
};

struct flight {
	uint64_t at, order; /* order keeps equal delivery times first in, first out */
	bool to_receiver;
	size_t snd, link, len;
	uint8_t *buf;
};

struct sim {
	uint64_t now, latency_us, last_step;
	bool stepped;
	const char *tx_psk;
	struct braid_receiver *rx;
	struct sim_sender snd[SIM_SENDERS];
	size_t nsenders;
	struct braid_heap in_flight; /* of struct flight, by (at, order) */
	uint64_t order;
	struct braid_event rx_events[SIM_EVENTS];
	size_t rx_nevents;
	uint64_t misrouted;    /* receiver datagrams to an address no link has */
	uint64_t stray_output; /* media of a session no sender has */
	bool stuck;
	/* Sees every datagram a sender transmits, before its link does. */
	void (*tap)(struct sim *sim, size_t snd, size_t link, const uint8_t *buf, size_t len);
	uint8_t captured[SIM_CAPTURED][BRAID_MAX_DATAGRAM];
	size_t captured_len[SIM_CAPTURED], captured_link[SIM_CAPTURED], ncaptured;
	int forged_rc[2]; /* what the receiver said to forgeries */
	size_t tapped_data; /* DATA datagrams the forging tap saw */
	size_t nforged;
	uint32_t lcg;
	double redundancy;                    /* adaptive: share of packets copied */
	size_t history;                       /* the sender's history, 0: its default */
};

static uint32_t lcg_next(struct sim *sim)
{
	sim->lcg = sim->lcg * 1664525u + 1013904223u;
	return sim->lcg >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Media datagram number idx of a stream tagged `tag`; its length and bytes depend on both. */
static size_t make_media(uint32_t tag, uint32_t idx, uint8_t *buf)
{
	size_t len = MEDIA_HEADER + (idx * 7919u + tag) % 400;
	put_le32(buf, idx);
	put_le32(buf + 4, tag);
	for (size_t j = MEDIA_HEADER; j < len; j++)
		buf[j] = (uint8_t)(idx * 31u + j * 7u + tag);
	return len;
}

static bool media_valid(const uint8_t *buf, long len, uint32_t *tag, uint32_t *idx)
{
	uint8_t want[MEDIA_HEADER + 400];
	if (len < MEDIA_HEADER)
		return false;
	*idx = get_le32(buf);
	*tag = get_le32(buf + 4);
	size_t n = make_media(*tag, *idx, want);
	return n == (size_t)len && memcmp(want, buf, n) == 0;
}

static void fake_addr(struct braid_addr *a, unsigned host, unsigned port)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	a->u.in4.sin_port = htons((uint16_t)port);
	a->u.in4.sin_addr.s_addr = htonl(0x7f000000u | host);
	a->len = sizeof(a->u.in4);
}

static bool flight_before(const void *a, const void *b)
{
	const struct flight *x = a, *y = b;
	return x->at < y->at || (x->at == y->at && x->order < y->order);
}

static const struct flight *next_flight(const struct sim *sim)
{
	return braid_heap_top(&sim->in_flight);
}

static bool link_dead(const struct sim_link *l, uint64_t t)
{
	return t >= l->dead_from_us && t < l->dead_until_us;
}

static void sim_send(struct sim *sim, bool to_receiver, size_t snd, size_t link,
		     const uint8_t *buf, size_t len)
{
	struct sim_link *l = &sim->snd[snd].links[link];
	l->offered++;
	if (link_dead(l, sim->now) || (l->drop_every && l->offered % l->drop_every == 0))
		return;
	uint64_t leaves = sim->now;
	if (l->rate_bps > 0 && to_receiver) {
		leaves = l->busy_until_us > sim->now ? l->busy_until_us : sim->now;
		leaves += (uint64_t)((double)len * 8e6 / l->rate_bps);
		l->busy_until_us = leaves;
	}
	for (int copy = 0; copy <= l->duplicate; copy++) {
		struct flight f = { .at = leaves + l->delay_us + (uint64_t)copy * MS,
				    .order = sim->order++, .to_receiver = to_receiver, .snd = snd,
				    .link = link, .len = len, .buf = malloc(len ? len : 1) };
		if (!f.buf)
			return;
		memcpy(f.buf, buf, len);
		if (braid_heap_push(&sim->in_flight, &f) < 0)
			free(f.buf);
	}
}

static struct sim_sender *sender_of_session(struct sim *sim, uint32_t session_id)
{
	for (size_t i = 0; i < sim->nsenders; i++)
		if (sim->snd[i].session_id == session_id)
			return &sim->snd[i];
	return NULL;
}

static void record_output(struct sim *sim, uint32_t session_id, const uint8_t *buf, long len)
{
	struct sim_sender *s = sender_of_session(sim, session_id);
	uint32_t tag, idx;
	if (!s) {
		sim->stray_output++;
		return;
	}
	if (!media_valid(buf, len, &tag, &idx) || tag != session_id) {
		s->bad_payload++;
		return;
	}
	if (s->out_count && idx <= s->out_idx[s->out_count - 1])
		s->disorder++;
	if (s->out_count == SIM_PACKETS)
		return;
	s->out_idx[s->out_count] = idx;
	s->out_us[s->out_count++] = sim->now;
}

static void record_reverse(struct sim_sender *s, const uint8_t *buf, long len)
{
	uint32_t tag, idx;
	if (!media_valid(buf, len, &tag, &idx) || tag != REVERSE_TAG || idx != s->reverse_count)
		s->reverse_bad++;
	s->reverse_count++;
}

static void log_event(struct braid_event *log, size_t *n, const struct braid_event *ev)
{
	if (*n < SIM_EVENTS)
		log[(*n)++] = *ev;
}

static void drain_sender(struct sim *sim, size_t si)
{
	struct sim_sender *s = &sim->snd[si];
	uint8_t buf[BRAID_MAX_DATAGRAM];
	uint16_t id;
	size_t n;
	while (braid_sender_poll_transmit(s->tx, sim->now, &id, buf, sizeof(buf), &n) == 1) {
		size_t li = 0;
		while (li < s->nlinks && s->links[li].id != id)
			li++;
		CHECK(li < s->nlinks);
		if (li == s->nlinks)
			continue;
		s->links[li].sent++;
		if ((buf[0] & 0x0f) == BRAID_PKT_DATA)
			s->links[li].data_sent++;
		if (sim->tap)
			sim->tap(sim, si, li, buf, n);
		sim_send(sim, true, si, li, buf, n);
	}
	while (braid_sender_poll_reverse(s->tx, sim->now, buf, sizeof(buf), &n) == 1)
		record_reverse(s, buf, (long)n);
	struct braid_event ev;
	while (braid_sender_poll_event(s->tx, &ev))
		log_event(s->events, &s->nevents, &ev);
}

static void drain_receiver(struct sim *sim)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_addr to;
	size_t n;
	while (braid_receiver_poll_transmit(sim->rx, sim->now, &to, buf, sizeof(buf), &n) == 1) {
		bool found = false;
		for (size_t si = 0; si < sim->nsenders && !found; si++)
			for (size_t li = 0; li < sim->snd[si].nlinks && !found; li++)
				if (braid_addr_equal(&to, &sim->snd[si].links[li].addr)) {
					sim_send(sim, false, si, li, buf, n);
					found = true;
				}
		sim->misrouted += !found;
	}
	uint32_t session_id;
	while (braid_receiver_poll_output(sim->rx, sim->now, &session_id, buf, sizeof(buf), &n) == 1)
		record_output(sim, session_id, buf, (long)n);
	struct braid_event ev;
	while (braid_receiver_poll_event(sim->rx, &ev))
		log_event(sim->rx_events, &sim->rx_nevents, &ev);
}

static void sim_drain(struct sim *sim)
{
	for (size_t i = 0; i < sim->nsenders; i++)
		drain_sender(sim, i);
	drain_receiver(sim);
	for (size_t i = 0; i < sim->nsenders; i++)
		drain_sender(sim, i); /* replies to what the receiver just said */
}

static void deliver(struct sim *sim, struct flight *f)
{
	struct sim_sender *s = &sim->snd[f->snd];
	struct sim_link *l = &s->links[f->link];
	if (link_dead(l, f->at))
		return;
	if (f->to_receiver) {
		braid_receiver_handle_datagram(sim->rx, &l->addr, f->buf, f->len, 0, sim->now);
	} else {
		l->to_sender++;
		l->reverse_in += (f->buf[0] & 0x0f) == BRAID_PKT_REVERSE;
		braid_sender_handle_datagram(s->tx, l->id, f->buf, f->len, 0, sim->now);
	}
}

static void push_media(struct sim *sim, struct sim_sender *s)
{
	uint8_t buf[MEDIA_HEADER + 400];
	size_t len = make_media(s->session_id, s->pushed, buf);
	s->push_us[s->pushed++] = sim->now;
	s->push_failed += braid_sender_push(s->tx, buf, len, sim->now) != 0;
	s->next_push_us += s->interval_us;
}

static uint64_t sim_next(const struct sim *sim)
{
	uint64_t t = next_flight(sim) ? next_flight(sim)->at : NEVER;
	uint64_t rx = braid_receiver_next_timeout(sim->rx);
	t = rx < t ? rx : t;
	for (size_t i = 0; i < sim->nsenders; i++) {
		const struct sim_sender *s = &sim->snd[i];
		uint64_t tx = braid_sender_next_timeout(s->tx);
		t = tx < t ? tx : t;
		if (s->pushed < s->to_push && s->next_push_us < t)
			t = s->next_push_us;
	}
	return t;
}

static void sim_step(struct sim *sim)
{
	while (next_flight(sim) && next_flight(sim)->at <= sim->now) {
		struct flight f;
		braid_heap_pop(&sim->in_flight, &f);
		deliver(sim, &f);
		free(f.buf);
		sim_drain(sim);
	}
	for (size_t i = 0; i < sim->nsenders; i++) {
		struct sim_sender *s = &sim->snd[i];
		while (s->pushed < s->to_push && s->next_push_us <= sim->now) {
			push_media(sim, s);
			sim_drain(sim);
		}
		if (braid_sender_next_timeout(s->tx) <= sim->now) {
			braid_sender_handle_timeout(s->tx, sim->now);
			sim_drain(sim);
		}
	}
	if (braid_receiver_next_timeout(sim->rx) <= sim->now) {
		braid_receiver_handle_timeout(sim->rx, sim->now);
		sim_drain(sim);
	}
	sim->last_step = sim->now;
	sim->stepped = true;
}

static void sim_run_until(struct sim *sim, uint64_t end)
{
	unsigned spins_in_row = 0, resteps = 0;
	for (;;) {
		uint64_t t = sim_next(sim);
		if (sim->stepped && t <= sim->last_step) {
			if (resteps++ == 0) {
				t = sim->last_step; /* made due by the last drain: handle it now */
			} else {
				/* Handled and still due: a real loop spins till its clock moves. */
				t = sim->last_step + 1;
				resteps = 0;
				if (++spins_in_row > 1000) {
					sim->stuck = true;
					break;
				}
			}
		} else {
			spins_in_row = 0;
			resteps = 0;
		}
		if (t > end)
			break;
		sim->now = t > sim->now ? t : sim->now;
		sim_step(sim);
	}
	if (end > sim->now)
		sim->now = end;
}

/* The wall clock both sides read at virtual time 0 (µs since 1970). */
#define WALL_BASE_US UINT64_C(1700000000000000)

/* The receiver every test uses; max_sessions 0 keeps the default. */
static struct braid_receiver *sim_receiver(uint64_t start_us, uint64_t latency_us,
					   const char *psk, size_t max_sessions)
{
	struct braid_receiver_settings set;
	braid_receiver_settings_default(&set);
	set.latency_us = latency_us;
	set.reorder_capacity = 8192;
	set.seed = 99;
	if (max_sessions)
		set.max_sessions = max_sessions;
	if (psk) {
		set.psk = (const uint8_t *)psk;
		set.psk_len = strlen(psk);
		set.wall_clock_us = WALL_BASE_US + start_us;
		memset(set.key_seed, 0x99, sizeof(set.key_seed));
	}
	return braid_receiver_new(&set, start_us);
}

static struct sim *sim_new(uint64_t start_us, uint64_t latency_us, const char *psk)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	braid_heap_init(&sim->in_flight, sizeof(struct flight), flight_before, NULL);
	sim->now = start_us;
	sim->latency_us = latency_us;
	sim->tx_psk = psk;
	sim->lcg = 2024;
	sim->rx = sim_receiver(start_us, latency_us, psk, 0);
	if (!sim->rx) {
		free(sim);
		return NULL;
	}
	return sim;
}

static void sim_free(struct sim *sim)
{
	CHECK(!sim->stuck);
	CHECK_EQ(sim->stray_output, 0);
	for (size_t i = 0; i < sim->nsenders; i++)
		braid_sender_free(sim->snd[i].tx);
	braid_receiver_free(sim->rx);
	struct flight f;
	while (braid_heap_pop(&sim->in_flight, &f))
		free(f.buf);
	braid_heap_free(&sim->in_flight);
	free(sim);
}

/* A sender with one link per delay; weights[i] (optional) is link i's weight, and link i's
 * backup priority is i. Link ids are reported by the sender; addresses are 127.0.0.x. */
static struct sim_sender *sim_add_sender(struct sim *sim, uint32_t session_id,
					 enum braid_mode mode, const uint64_t *delays,
					 size_t nlinks, const uint32_t *weights)
{
	struct sim_sender *s = &sim->snd[sim->nsenders];
	struct braid_sender_settings set;
	braid_sender_settings_default(&set);
	set.mode = mode;
	set.latency_us = sim->latency_us;
	set.session_id = session_id;
	set.redundancy = sim->redundancy;
	if (sim->history)
		set.history_packets = sim->history;
	put_le32(set.nonce, session_id * 2654435761u);
	put_le32(set.nonce + 4, ~session_id);
	if (sim->tx_psk) {
		set.psk = (const uint8_t *)sim->tx_psk;
		set.psk_len = strlen(sim->tx_psk);
		set.wall_clock_us = WALL_BASE_US + sim->now;
		put_le32(set.key_seed, session_id);
		put_le32(set.key_seed + 4, (uint32_t)sim->nsenders);
	}
	s->tx = braid_sender_new(&set, sim->now);
	CHECK(s->tx != NULL);
	s->session_id = session_id;
	for (size_t i = 0; i < nlinks; i++) {
		char name[32];
		snprintf(name, sizeof(name), "link%u", (unsigned)i);
		struct braid_link_config cfg = { .name = name, .priority = (uint32_t)i,
						  .weight = weights ? weights[i] : 1 };
		int id = braid_sender_add_link(s->tx, &cfg, sim->now);
		CHECK(id >= 0);
		s->links[i] = (struct sim_link){ .id = (uint16_t)id, .delay_us = delays[i],
						 .dead_from_us = NEVER, .dead_until_us = NEVER };
		fake_addr(&s->links[i].addr, (unsigned)(1 + 10 * sim->nsenders + i),
			  (unsigned)(4000 + i));
	}
	s->nlinks = nlinks;
	sim->nsenders++;
	return s;
}

static void sim_stream(struct sim *sim, struct sim_sender *s, uint32_t count, uint64_t interval)
{
	CHECK(s->pushed + count <= SIM_PACKETS);
	if (s->pushed + count > SIM_PACKETS)
		count = SIM_PACKETS - s->pushed;
	s->interval_us = interval;
	s->next_push_us = sim->now;
	s->to_push = s->pushed + count;
}

/* Every pushed packet released exactly once, in push order, byte-identical. */
static void check_complete(const struct sim_sender *s)
{
	uint32_t misplaced = 0;
	CHECK_EQ(s->push_failed, 0);
	CHECK_EQ(s->bad_payload, 0);
	CHECK_EQ(s->disorder, 0);
	CHECK_EQ(s->out_count, s->pushed);
	for (uint32_t i = 0; i < s->out_count && i < s->pushed; i++)
		misplaced += s->out_idx[i] != i;
	CHECK_EQ(misplaced, 0);
}

/* The largest |release - (push + latency + delay)| over the released packets, in µs. */
static double worst_timing_error(const struct sim *sim, const struct sim_sender *s,
				 uint64_t delay_us)
{
	double worst = 0;
	for (uint32_t i = 0; i < s->out_count; i++) {
		double want = (double)(s->push_us[s->out_idx[i]] + sim->latency_us + delay_us);
		double err = fabs((double)s->out_us[i] - want);
		worst = err > worst ? err : worst;
	}
	return worst;
}

/* The first event at or after `since` of this kind, link (-1: any) and new state (-1: any). */
static const struct braid_event *find_event(const struct braid_event *log, size_t n,
					    uint64_t since, enum braid_event_kind kind,
					    int link_id, int new_state)
{
	for (size_t i = 0; i < n; i++)
		if (log[i].kind == kind && log[i].time_us >= since &&
		    (link_id < 0 || log[i].link_id == link_id) &&
		    (new_state < 0 || (int)log[i].new_state == new_state))
			return &log[i];
	return NULL;
}

static size_t count_events(const struct braid_event *log, size_t n, enum braid_event_kind kind,
			   int link_id, int new_state)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += log[i].kind == kind && (link_id < 0 || log[i].link_id == link_id) &&
			 (new_state < 0 || (int)log[i].new_state == new_state);
	return count;
}

/* LINK_STATE events a sender reported for a link (-1: any) into a state (-1: any). */
static size_t state_events(const struct sim_sender *s, int link_id, int new_state)
{
	return count_events(s->events, s->nevents, BRAID_EVENT_LINK_STATE, link_id, new_state);
}

static uint64_t drops_sum(const struct braid_drop_stats *d)
{
	return braid_drop_stats_total(d);
}

static uint64_t drops_total(const struct braid_receiver *rx)
{
	struct braid_receiver_stats st;
	braid_receiver_get_stats(rx, &st);
	return drops_sum(&st.drops);
}

static const struct braid_link_stats *link_stats(const struct sim_sender *s, size_t link,
						 struct braid_link_stats *buf)
{
	size_t n = braid_sender_get_link_stats(s->tx, buf, SIM_LINKS);
	for (size_t i = 0; i < n && i < SIM_LINKS; i++)
		if (buf[i].id == s->links[link].id)
			return &buf[i];
	return NULL;
}

static bool link_live(const struct sim_sender *s, size_t link)
{
	struct braid_link_stats buf[SIM_LINKS];
	const struct braid_link_stats *st = link_stats(s, link, buf);
	return st && braid_link_state_live(st->state);
}

static size_t rx_sessions(const struct sim *sim)
{
	return braid_receiver_sessions(sim->rx, NULL, 0);
}

/* Media pushed before any link answered waits for the handshake and is not lost. */
static void test_handshake(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x1001, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_sender_stats st;
	sim_stream(sim, s, 100, 1 * MS);
	sim_run_until(sim, 39 * MS);
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ(s->pushed, 40);
	CHECK_EQ(st.live_links, 0);
	CHECK_EQ(st.packets_out, 0);
	sim_run_until(sim, 1000 * MS);
	check_complete(s);
	CHECK_EQ(s->pushed, 100);
	for (size_t i = 0; i < 2; i++) {
		int id = s->links[i].id;
		const struct braid_event *ev = find_event(s->events, s->nevents, 0,
							  BRAID_EVENT_LINK_STATE, id, -1);
		CHECK(ev && ev->old_state == BRAID_LINK_DOWN &&
		      ev->new_state == BRAID_LINK_HEALTHY);
		/* unkeyed: HELLO at 0, the COOKIE back one RTT later makes the link usable;
		 * the HELLO with it registers the link at the receiver half an RTT on */
		CHECK(ev && ev->time_us == 2 * delays[i]);
		ev = find_event(sim->rx_events, sim->rx_nevents, 0, BRAID_EVENT_LINK_STATE, id,
				BRAID_LINK_HEALTHY);
		CHECK(ev && ev->time_us == 3 * delays[i] && ev->session_id == 0x1001);
	}
	CHECK_EQ(state_events(s, -1, -1), 2);
	CHECK_EQ(count_events(sim->rx_events, sim->rx_nevents, BRAID_EVENT_SESSION_NEW, -1, -1), 1);
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ(st.live_links, 2);
	CHECK_EQ(st.expired, 0);
	sim_free(sim);
}

/* Every packet on every link: released once, in order, at push + latency + fastest delay. */
static void test_broadcast(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS, 60 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x2002, BRAID_MODE_BROADCAST, delays, 3, NULL);
	struct braid_session_stats ss;
	struct braid_sender_stats st;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 2 * MS);
	sim_run_until(sim, 3000 * MS);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x2002, &ss, NULL, 0, NULL), 0);
	CHECK_EQ_U64(ss.duplicates, 2 * 1000);
	CHECK_EQ_U64(ss.late, 0);
	CHECK_EQ_U64(ss.lost, 0);
	CHECK_EQ_U64(ss.packets_out, 1000);
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ_U64(st.packets_out, 3 * 1000);
	for (size_t i = 0; i < 3; i++)
		CHECK_EQ_U64(s->links[i].data_sent, 1000);
	sim_free(sim);
}

/* Release instants: how many distinct times the receiver released media at, and the
 * earliest and latest release against push + latency + delay, in µs. */
static size_t release_instants(const struct sim *sim, const struct sim_sender *s,
			       uint64_t delay_us, double *earliest, double *latest)
{
	size_t instants = 0;
	*earliest = 0;
	*latest = 0;
	for (uint32_t i = 0; i < s->out_count; i++) {
		double want = (double)(s->push_us[s->out_idx[i]] + sim->latency_us + delay_us);
		double err = (double)s->out_us[i] - want;
		*earliest = err < *earliest ? err : *earliest;
		*latest = err > *latest ? err : *latest;
		instants += i == 0 || s->out_us[i] != s->out_us[i - 1];
	}
	return instants;
}

/* With a 1 ms release window, media due within 1 ms of a due packet goes out with it:
 * packets 400 µs apart leave in threes, none late, none more than 1 ms early. A window
 * wider than the latency budget is refused. */
static void test_release_window(void)
{
	const uint64_t delays[] = { 20 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct braid_receiver_settings set;
	double earliest, latest;
	braid_receiver_settings_default(&set);
	set.latency_us = 300 * MS;
	set.reorder_capacity = 8192;
	set.release_window_us = 1 * MS;
	braid_receiver_free(sim->rx);
	sim->rx = braid_receiver_new(&set, sim->now);
	CHECK(sim->rx != NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x2009, BRAID_MODE_BROADCAST, delays, 1, NULL);
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1500, 400);
	sim_run_until(sim, 2000 * MS);
	check_complete(s);
	size_t instants = release_instants(sim, s, delays[0], &earliest, &latest);
	CHECK(instants <= 1500 / 3 + 10);
	CHECK(earliest >= -1.0 * MS);
	CHECK(earliest <= -0.7 * MS); /* the third of each batch went 800 µs early */
	CHECK(latest <= 100);
	set.release_window_us = set.latency_us + 1;
	CHECK(braid_receiver_new(&set, 0) == NULL);
	sim_free(sim);
}

/* One link loses every 4th datagram (both ways): the sender measures the loss from the
 * probe answers and marks it DEGRADED; the other link keeps the stream whole. */
static void test_lossy_link(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x2552, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_link_stats ls[SIM_LINKS];
	s->links[0].drop_every = 4;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 2 * MS);
	sim_run_until(sim, 1800 * MS); /* mid-stream: the loss window sees data */
	const struct braid_link_stats *st = link_stats(s, 0, ls);
	CHECK(st && st->state == BRAID_LINK_DEGRADED && st->loss > 0.15 && st->loss < 0.35);
	st = link_stats(s, 1, ls);
	CHECK(st && st->state == BRAID_LINK_HEALTHY && st->loss == 0.0);
	sim_run_until(sim, 3000 * MS);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	CHECK(state_events(s, s->links[0].id, BRAID_LINK_DEGRADED) >= 1);
	CHECK_EQ(state_events(s, s->links[1].id, -1), 1);
	sim_free(sim);
}

/* A link that goes silent is marked DOWN within down_after_missed probe intervals plus
 * one RTT, and broadcast keeps the stream whole meanwhile. */
static void test_silent_death(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS, 60 * MS };
	const uint64_t death = 1000 * MS, probe = 50 * MS;
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x3003, BRAID_MODE_BROADCAST, delays, 3, NULL);
	s->links[1].dead_from_us = death;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1500, 2 * MS);
	sim_run_until(sim, 4000 * MS);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	const struct braid_event *ev = find_event(s->events, s->nevents, 0, BRAID_EVENT_LINK_STATE,
						  s->links[1].id, BRAID_LINK_DOWN);
	CHECK(ev != NULL);
	if (ev) {
		uint64_t detect = ev->time_us - death;
		printf("silent death: DOWN %.3f ms after the link died\n", (double)detect / 1000.0);
		CHECK(ev->time_us > death);
		CHECK(detect > 2 * probe);
		CHECK(detect <= 3 * probe + 2 * delays[1]);
	}
	CHECK_EQ(state_events(s, -1, BRAID_LINK_DOWN), 1);
	CHECK(find_event(sim->rx_events, sim->rx_nevents, death, BRAID_EVENT_LINK_STATE,
			 s->links[1].id, BRAID_LINK_DOWN) != NULL);
	struct braid_sender_stats st;
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ(st.live_links, 2);
	sim_free(sim);
}

/* Backup: the active link dies silently; what it may have lost is resent on the backup;
 * once back, it carries the stream again only after up_after_replies answers. */
static void test_backup_failover(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS };
	const uint64_t death = 1000 * MS, revival = 2000 * MS;
	struct sim *sim = sim_new(0, 1000 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x4004, BRAID_MODE_BACKUP, delays, 2, NULL);
	struct sim_link *primary = &s->links[0], *backup = &s->links[1];
	primary->dead_from_us = death;
	primary->dead_until_us = revival;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1500, 2 * MS);
	sim_run_until(sim, death);
	CHECK_EQ_U64(backup->data_sent, 0);
	sim_run_until(sim, revival);
	const struct braid_event *ev = find_event(s->events, s->nevents, death,
						  BRAID_EVENT_FAILOVER, primary->id, -1);
	CHECK(ev != NULL && ev->count > 0);
	CHECK(backup->data_sent > 0);

	uint64_t data_at_revival = primary->data_sent, replies_at_revival = primary->to_sender;
	uint64_t back = NEVER, early_data = 0;
	for (uint64_t t = revival + MS; t <= revival + 1000 * MS && back == NEVER; t += MS) {
		sim_run_until(sim, t);
		if (link_live(s, 0))
			back = t;
		else
			early_data += primary->data_sent - data_at_revival;
	}
	CHECK(back != NEVER);
	CHECK_EQ_U64(early_data, 0);
	CHECK_EQ_U64(primary->to_sender - replies_at_revival, 3);
	uint64_t backup_at_return = backup->data_sent;
	sim_run_until(sim, 4500 * MS);
	CHECK(primary->data_sent > data_at_revival);
	CHECK_EQ_U64(backup->data_sent, backup_at_return);
	check_complete(s);
	sim_free(sim);
}

static void check_shares(enum braid_mode mode, const uint64_t *delays,
			 const uint32_t *weights, const double *want)
{
	const uint32_t packets = 3000;
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x5005, mode, delays, 3, weights);
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, packets, 1 * MS);
	sim_run_until(sim, 3600 * MS);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, 20 * MS), 0, 100);
	uint64_t total = 0;
	for (size_t i = 0; i < 3; i++)
		total += s->links[i].data_sent;
	CHECK_EQ_U64(total, packets);
	for (size_t i = 0; i < 3; i++)
		CHECK_NEAR((double)s->links[i].data_sent / (double)packets, want[i], 0.01);
	sim_free(sim);
}

/* The first packet goes to the fastest link: the reorder buffer starts its sequence at the
 * first arrival, so packets numbered below it would count as late (see rxbuf.h). */
static void test_roundrobin_weighted(void)
{
	const uint64_t fast_first[] = { 20 * MS, 30 * MS, 40 * MS };
	const uint64_t fast_last[] = { 40 * MS, 30 * MS, 20 * MS };
	const uint32_t weights[] = { 1, 2, 3 };
	const double even[] = { 1.0 / 3, 1.0 / 3, 1.0 / 3 };
	const double by_weight[] = { 1.0 / 6, 2.0 / 6, 3.0 / 6 };
	check_shares(BRAID_MODE_ROUNDROBIN, fast_first, NULL, even);
	check_shares(BRAID_MODE_WEIGHTED, fast_last, weights, by_weight);
}

static void capture_tap(struct sim *sim, size_t snd, size_t link, const uint8_t *buf,
			size_t len)
{
	size_t i = sim->ncaptured++ % SIM_CAPTURED;
	(void)snd;
	memcpy(sim->captured[i], buf, len);
	sim->captured_len[i] = len;
	sim->captured_link[i] = link;
}

/* Injects, ahead of the genuine copies, the 100th sealed DATA of link 0 with a payload
 * byte flipped and the 200th with its packet number changed: new to the receiver, so only
 * the tag can stop them. */
static void forging_tap(struct sim *sim, size_t snd, size_t link, const uint8_t *buf,
			size_t len)
{
	uint8_t forged[BRAID_MAX_DATAGRAM];
	capture_tap(sim, snd, link, buf, len);
	if ((buf[0] & 0x0f) != BRAID_PKT_DATA || link != 0 || len < BRAID_DATA_HEADER_SIZE + 40)
		return;
	size_t nth = ++sim->tapped_data;
	if ((nth != 100 && nth != 200) || sim->nforged >= 2)
		return;
	memcpy(forged, buf, len);
	if (nth == 100)
		forged[BRAID_DATA_HEADER_SIZE + 18] ^= 0x40;
	else
		forged[15] ^= 0x01;
	sim->forged_rc[sim->nforged++] = braid_receiver_handle_datagram(
		sim->rx, &sim->snd[snd].links[link].addr, forged, len, 0, sim->now);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Injects, ahead of the genuine copies, DATA 300 with its timestamp 5 s ahead and DATA 301
 * with it 20 s behind: a clock tracker that believed either would release the stream
 * early or late from then on. */
static void timestamp_forging_tap(struct sim *sim, size_t snd, size_t link, const uint8_t *buf,
				  size_t len)
{
	uint8_t forged[BRAID_MAX_DATAGRAM];
	if ((buf[0] & 0x0f) != BRAID_PKT_DATA || link != 0 || len < BRAID_DATA_HEADER_SIZE)
		return;
	uint32_t seq = get_be32(buf + 8);
	if ((seq != 300 && seq != 301) || sim->nforged >= 2)
		return;
	memcpy(forged, buf, len);
	uint32_t ts = get_be32(buf + 12);
	put_be32(forged + 12, seq == 300 ? ts + 5000u * 1000u : ts - 20000u * 1000u);
	sim->forged_rc[sim->nforged++] = braid_receiver_handle_datagram(
		sim->rx, &sim->snd[snd].links[link].addr, forged, len, 0, sim->now);
}

static void test_timestamp_forgery(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x600d, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_session_stats ss;
	struct braid_receiver_stats st;
	sim->tap = timestamp_forging_tap;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 2 * MS);
	sim_run_until(sim, 3000 * MS);
	CHECK_EQ(sim->nforged, 2);
	CHECK_EQ(sim->forged_rc[0], 0); /* admitted, then not believed */
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x600d, &ss, NULL, 0, NULL), 0);
	CHECK_EQ_U64(ss.bad_timestamps, 2);
	braid_receiver_get_stats(sim->rx, &st);
	CHECK_EQ_U64(st.bad_timestamps, 2);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	sim_free(sim);
}

/* Roundrobin over two links, one losing every 10th datagram both ways: the receiver
 * asks for what is missing and the sender resends it in time, so the output is whole;
 * resends stay close to what was really lost. */
static void test_nack_repair(void)
{
	const uint64_t delays[] = { 20 * MS, 50 * MS };
	struct sim *sim = sim_new(0, 500 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x6006, BRAID_MODE_ROUNDROBIN, delays, 2, NULL);
	s->links[1].drop_every = 10;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 2000, 2 * MS);
	sim_run_until(sim, 6000 * MS);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	struct braid_sender_stats st;
	braid_sender_get_stats(s->tx, &st);
	/* about 1000 data packets on the lossy link, a tenth of all its datagrams lost */
	CHECK(st.retransmitted >= 80);
	CHECK(st.retransmitted <= 160);
	struct braid_session_stats ss;
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x6006, &ss, NULL, 0, NULL), 0);
	CHECK_EQ_U64(ss.lost, 0);
	CHECK(ss.retransmitted >= 80);
	sim_free(sim);
}

/* The last packets of a stream lost on both links: no later packet reveals the gap, but
 * the sender's probes say how far it has sent, so the receiver asks and gets them. */
static void test_tail_loss(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 500 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x6116, BRAID_MODE_ROUNDROBIN, delays, 2, NULL);
	sim_run_until(sim, 200 * MS);
	uint64_t last_push = sim->now + 199 * 2 * MS;
	sim_stream(sim, s, 200, 2 * MS);
	for (size_t i = 0; i < 2; i++) {
		/* shorter than three probe intervals: the links stay up */
		s->links[i].dead_from_us = last_push - 15 * MS;
		s->links[i].dead_until_us = last_push + 5 * MS;
	}
	sim_run_until(sim, 3000 * MS);
	check_complete(s);
	struct braid_sender_stats st;
	braid_sender_get_stats(s->tx, &st);
	CHECK(st.retransmitted >= 8);
	sim_free(sim);
}

/* Adaptive, a burst far beyond what the links carry and the history holds: packets waiting
 * for a pacer are forgotten by the history, yet give their bytes back to their link's
 * backlog, so the stream that follows flows again, whole. */
static void test_adaptive_burst_overflow(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 500 * MS, NULL);
	sim->history = 64;
	struct sim_sender *s = sim_add_sender(sim, 0x7117, BRAID_MODE_ADAPTIVE, delays, 2, NULL);
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 50);
	sim_run_until(sim, 1500 * MS);
	uint32_t burst_out = s->out_count;
	sim_stream(sim, s, 300, 5 * MS);
	sim_run_until(sim, 5000 * MS);
	uint32_t after = 0;
	for (uint32_t i = 0; i < s->out_count; i++)
		after += s->out_idx[i] >= 1000;
	CHECK(burst_out < 1000);
	CHECK_EQ(after, 300);
	/* The burst's packets the history overwrote while they waited for a link expired. */
	struct braid_sender_stats st;
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ_U64(st.expired, 1000 - burst_out);
	CHECK_EQ_U64(st.undeliverable, 0);
	sim_free(sim);
}

/* Adaptive, links carrying a light stream, then a burst far faster than they carry (10
 * Mbit/s each, the burst some 170 for 60 ms) with a 100 ms budget: what no live link
 * could deliver in time by the sender's estimates is dropped as undeliverable when
 * scheduled. The estimates were never tested against the links' ceiling and the burst is
 * over before the first answer can show a queue, so part of what was sent arrives late,
 * and some waits in the sender until it expires: every packet not released is counted,
 * as undeliverable or expired by the sender or as late by the receiver. */
static void test_adaptive_undeliverable(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 100 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x7118, BRAID_MODE_ADAPTIVE, delays, 2, NULL);
	struct braid_sender_stats st;
	struct braid_session_stats ss;
	s->links[0].rate_bps = s->links[1].rate_bps = 10e6;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 1000); /* 3.4 Mbit/s for a second */
	sim_run_until(sim, 1400 * MS);
	CHECK_EQ(s->out_count, 1000);
	sim_stream(sim, s, 3000, 20);
	sim_run_until(sim, 2600 * MS);
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x7118, &ss, NULL, 0, NULL), 0);
	printf("undeliverable: %llu of 3000 dropped when scheduled, %llu expired, %llu late, "
	       "%u released\n", (unsigned long long)st.undeliverable,
	       (unsigned long long)st.expired, (unsigned long long)ss.late, s->out_count - 1000);
	CHECK(st.undeliverable > 0);
	CHECK(s->out_count < 4000);
	CHECK(st.undeliverable + st.expired + ss.late >= 4000 - s->out_count);
	CHECK_EQ_U64(st.tx_queue_drops + st.pacer_drops, 0);
	sim_free(sim);
}

/* Media pushed while no link is up yet, older than the budget once one is: expired, not
 * undeliverable; what comes after the handshake is delivered whole. */
static void test_expired_before_handshake(void)
{
	const uint64_t delays[] = { 200 * MS, 250 * MS };
	struct sim *sim = sim_new(0, 100 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x7119, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_sender_stats st;
	sim_stream(sim, s, 100, 1 * MS);
	sim_run_until(sim, 1000 * MS); /* the first answer comes at 400 ms */
	sim_stream(sim, s, 100, 1 * MS);
	sim_run_until(sim, 2000 * MS);
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ_U64(st.expired, 100);
	CHECK_EQ_U64(st.undeliverable, 0);
	CHECK_EQ(s->out_count, 100);
	CHECK_EQ(s->out_count ? s->out_idx[0] : 0, 100);
	sim_free(sim);
}

/* Unkeyed, a HELLO for a link not yet at its address is answered with a COOKIE first:
 * sends it straight to the receiver from `from`, takes the COOKIE from the receiver's
 * queue, and sends the HELLO again with it. The receiver's answer stays queued for the
 * simulation to deliver. */
static void hello_with_cookie(struct sim *sim, const struct braid_addr *from,
			      struct braid_packet *p)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_addr to;
	size_t n;
	sim_drain(sim);
	memset(p->body.hello.ephemeral, 0, sizeof(p->body.hello.ephemeral));
	int len = braid_wire_encode(p, NULL, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK_EQ(braid_receiver_handle_datagram(sim->rx, from, buf, (size_t)len, 0, sim->now),
		 BRAID_ERR_AGAIN);
	bool got = false;
	while (braid_receiver_poll_transmit(sim->rx, sim->now, &to, buf, sizeof(buf), &n) == 1) {
		struct braid_packet c;
		if (braid_wire_decode(buf, n, &c) == 0 && c.header.type == BRAID_PKT_COOKIE &&
		    braid_addr_equal(&to, from)) {
			memcpy(p->body.hello.ephemeral, c.body.cookie.cookie, BRAID_COOKIE_SIZE);
			got = true;
		}
	}
	CHECK(got);
	len = braid_wire_encode(p, NULL, buf, sizeof(buf));
	braid_receiver_handle_datagram(sim->rx, from, buf, (size_t)len, 0, sim->now);
}

/* Datagrams refused for want of room or sent the wrong way, each under its own cause:
 * a second session with room for one (sessions_full), HELLOs for more links than a session
 * holds (links_full), a PROBE_REPLY to the receiver and a DATA to the sender
 * (wrong_direction); none of them as malformed or unknown. */
static void test_drops_by_cause(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	const uint32_t sid = 0xe00e;
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	uint8_t buf[BRAID_MAX_DATAGRAM];
	braid_receiver_free(sim->rx);
	sim->rx = sim_receiver(0, 300 * MS, NULL, 1);
	CHECK(sim->rx != NULL);
	struct sim_sender *a = sim_add_sender(sim, sid, BRAID_MODE_BROADCAST, delays, 2, NULL);
	sim_add_sender(sim, 0xf00f, BRAID_MODE_BROADCAST, delays, 2, NULL);
	sim_run_until(sim, 200 * MS);
	/* HELLOs as a's own (same nonce) for BRAID__RX_MAX_LINKS new link ids: a has two, so
	 * the last two find no room. */
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO, .session_id = sid } };
	put_le32(p.body.hello.sender_nonce, sid * 2654435761u);
	put_le32(p.body.hello.sender_nonce + 4, ~sid);
	p.body.hello.latency_us = 300 * MS; /* the receiver's budget: refused otherwise */
	for (uint16_t i = 0; i < BRAID__RX_MAX_LINKS; i++) {
		p.header.link_id = (uint16_t)(1000 + i);
		hello_with_cookie(sim, &a->links[0].addr, &p);
	}
	p = (struct braid_packet){ .header = { .type = BRAID_PKT_PROBE_REPLY, .session_id = sid,
					       .link_id = a->links[0].id } };
	int len = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	CHECK(len > 0);
	sim_send(sim, true, 0, 0, buf, len > 0 ? (size_t)len : 0);
	p = (struct braid_packet){ .header = { .type = BRAID_PKT_DATA, .session_id = sid,
					       .link_id = a->links[0].id } };
	len = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	CHECK(len > 0);
	sim_send(sim, false, 0, 0, buf, len > 0 ? (size_t)len : 0);
	sim_run_until(sim, 500 * MS);

	struct braid_receiver_stats rs;
	struct braid_sender_stats ts;
	braid_receiver_get_stats(sim->rx, &rs);
	braid_sender_get_stats(a->tx, &ts);
	printf("drops: receiver %llu sessions_full, %llu links_full, %llu wrong_direction\n",
	       (unsigned long long)rs.drops.sessions_full, (unsigned long long)rs.drops.links_full,
	       (unsigned long long)rs.drops.wrong_direction);
	CHECK_EQ(rx_sessions(sim), 1);
	CHECK(rs.drops.sessions_full > 0); /* b's HELLOs, one per probe interval and link */
	CHECK_EQ_U64(rs.drops.links_full, 2);
	CHECK_EQ_U64(rs.drops.wrong_direction, 1);
	/* b, taking its COOKIE for an answer, probes a session the receiver had no room for:
	 * those count as unknown_session, nothing else does */
	CHECK_EQ_U64(rs.drops.malformed + rs.drops.unknown_link + rs.drops.no_memory +
			     rs.drops.auth + rs.drops.oversized, 0);
	CHECK_EQ_U64(ts.drops.wrong_direction, 1);
	/* The receiver answered the HELLOs it had room for: a has no such links. */
	CHECK_EQ_U64(ts.drops.unknown_link, BRAID__RX_MAX_LINKS - 2);
	CHECK_EQ_U64(drops_sum(&ts.drops), 1 + BRAID__RX_MAX_LINKS - 2);
	sim_free(sim);
}

/* Each refused push counts under its own cause, and none of them as input. */
static void test_push_refusals(void)
{
	struct braid_sender_settings set;
	struct braid_sender_stats st;
	static uint8_t big[BRAID_MAX_PAYLOAD + 1];
	braid_sender_settings_default(&set);
	set.session_id = 0x7120;
	struct braid_sender *tx = braid_sender_new(&set, 0);
	CHECK(tx != NULL);
	if (!tx)
		return;
	CHECK_EQ(braid_sender_push(tx, big, sizeof(big), 0), BRAID_ERR_TOO_BIG);
	CHECK_EQ(braid_sender_push(tx, big, sizeof(big), 0), BRAID_ERR_TOO_BIG);
	CHECK_EQ(braid_sender_push(tx, NULL, 10, 0), BRAID_ERR_INVAL);
	CHECK_EQ(braid_sender_push(tx, big, BRAID_MAX_PAYLOAD, 0), 0);
	braid_sender_get_stats(tx, &st);
	CHECK_EQ_U64(st.input_too_large, 2);
	CHECK_EQ_U64(st.input_invalid, 1);
	CHECK_EQ_U64(st.input_no_memory, 0);
	CHECK_EQ_U64(st.packets_in, 1);
	braid_sender_free(tx);
}

/* Adaptive with a 100 ms budget and a 100 Mbit/s stream that starts with the sender: the
 * links, still starting at a modest guess, take at once what clears the packets waiting
 * within half the budget, so nothing of the stream's start is lost. */
static void test_adaptive_fast_start(void)
{
	const uint64_t delays[] = { 5 * MS, 8 * MS };
	struct sim *sim = sim_new(0, 100 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x7227, BRAID_MODE_ADAPTIVE, delays, 2, NULL);
	sim_run_until(sim, 30 * MS); /* the links' handshakes, and no more */
	sim_stream(sim, s, 3000, 100);
	sim_run_until(sim, 2000 * MS);
	check_complete(s);
	sim_free(sim);
}

/* Adaptive with half the packets copied on a second link: every packet out once, in
 * order and on time, and the receiver removes about one duplicate per two packets. */
static void test_adaptive_redundancy(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 500 * MS, NULL);
	sim->redundancy = 0.5;
	struct sim_sender *s = sim_add_sender(sim, 0x7007, BRAID_MODE_ADAPTIVE, delays, 2, NULL);
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 2000, 2 * MS);
	sim_run_until(sim, 6000 * MS);
	check_complete(s);
	struct braid_session_stats ss;
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x7007, &ss, NULL, 0, NULL), 0);
	CHECK(ss.duplicates >= 900 && ss.duplicates <= 1100);
	CHECK_EQ_U64(ss.lost, 0);
	sim_free(sim);
}

static void test_psk(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, "correct horse battery");
	struct sim_sender *s = sim_add_sender(sim, 0x6006, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_receiver_stats st;
	sim->tap = forging_tap;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 500, 2 * MS);
	sim_run_until(sim, 2000 * MS);
	check_complete(s);
	CHECK_EQ(sim->nforged, 2);
	CHECK_EQ(sim->forged_rc[0], BRAID_ERR_AUTH);
	CHECK_EQ(sim->forged_rc[1], BRAID_ERR_AUTH);
	braid_receiver_get_stats(sim->rx, &st);
	CHECK_EQ_U64(st.drops.auth, 2);
	CHECK_EQ_U64(drops_total(sim->rx), 2);
	size_t unkeyed = 0;
	for (size_t i = 0; i < SIM_CAPTURED; i++)
		unkeyed += !(sim->captured[i][1] & BRAID_FLAG_KEYED);
	CHECK_EQ(unkeyed, 0);
	sim_free(sim);

	/* A keyed receiver hears nothing from an unkeyed sender, nor from a wrong key. */
	sim = sim_new(0, 300 * MS, "correct horse battery");
	sim->tx_psk = NULL;
	struct sim_sender *plain = sim_add_sender(sim, 0x6007, BRAID_MODE_BROADCAST, delays, 2,
						  NULL);
	sim->tx_psk = "correct horse battery staple";
	struct sim_sender *wrong = sim_add_sender(sim, 0x6008, BRAID_MODE_BROADCAST, delays, 2,
						  NULL);
	sim_stream(sim, plain, 200, 2 * MS);
	sim_stream(sim, wrong, 200, 2 * MS);
	sim_run_until(sim, 1500 * MS);
	braid_receiver_get_stats(sim->rx, &st);
	CHECK_EQ(rx_sessions(sim), 0);
	CHECK(st.drops.auth > 10);
	CHECK_EQ_U64(st.drops.auth, st.packets_in);
	CHECK_EQ(plain->out_count + wrong->out_count, 0);
	CHECK_EQ(sim->rx_nevents, 0);
	struct braid_sender_stats ts;
	braid_sender_get_stats(plain->tx, &ts);
	CHECK_EQ(ts.live_links, 0);
	braid_sender_get_stats(wrong->tx, &ts);
	CHECK_EQ(ts.live_links, 0);
	sim_free(sim);
}

/* A link's source address changes mid-stream: same link, replies follow it. */
static void test_nat_rebinding(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x7007, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_session_stats ss;
	size_t links = 0;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 2 * MS);
	sim_run_until(sim, 1000 * MS);
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x7007, &ss, NULL, 0, &links), 0);
	CHECK_EQ(links, 2);
	/* Unkeyed, data from a new address does not move the link: the receiver answers
	 * only where the link proved it receives. The link goes down, says HELLO from its
	 * new address, proves it with the COOKIE, and is answered there from then on. */
	uint64_t replies = s->links[0].to_sender;
	fake_addr(&s->links[0].addr, 99, 6000);
	sim_run_until(sim, 1100 * MS);
	CHECK_EQ_U64(s->links[0].to_sender, replies); /* nothing to the unproven address */
	sim_run_until(sim, 2600 * MS);
	CHECK(s->links[0].to_sender >= replies + 10); /* answered at the new address */
	CHECK_EQ(braid_receiver_session_stats(sim->rx, 0x7007, &ss, NULL, 0, &links), 0);
	CHECK_EQ(links, 2);
	CHECK_EQ(ss.link_count, 2);
	CHECK(sim->misrouted > 0); /* answers to the old address until the new one proved */
	CHECK_EQ(state_events(s, s->links[0].id, BRAID_LINK_DOWN), 1);
	CHECK_EQ(state_events(s, s->links[1].id, BRAID_LINK_DOWN), 0);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	sim_free(sim);
}

/* The 32-bit µs timestamps on the wire wrap mid-stream (2^32 µs is about 71.6 minutes). */
static void test_timestamp_wrap(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS };
	const uint64_t wrap = (uint64_t)1 << 32, start = wrap - 2000 * MS;
	struct sim *sim = sim_new(start, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x8008, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_link_stats ls[SIM_LINKS];
	sim_run_until(sim, start + 200 * MS);
	sim_stream(sim, s, 2000, 2 * MS);
	sim_run_until(sim, start + 5000 * MS);
	CHECK(s->push_us[0] < wrap && s->push_us[s->pushed - 1] > wrap);
	check_complete(s);
	CHECK_NEAR(worst_timing_error(sim, s, delays[0]), 0, 100);
	CHECK_EQ(state_events(s, -1, BRAID_LINK_DOWN), 0);
	const struct braid_link_stats *st = link_stats(s, 0, ls);
	CHECK(st && fabs(st->rtt_ms - 40.0) < 0.5);
	sim_free(sim);
}

/* Datagrams from the next hop go back once each, in order, on the fastest live link, as
 * measured: the delays are swapped after the handshake, and every link duplicates. */
static void test_reverse_path(void)
{
	const uint64_t delays[] = { 20 * MS, 40 * MS, 60 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0x9009, BRAID_MODE_BROADCAST, delays, 3, NULL);
	uint8_t buf[MEDIA_HEADER + 400];
	for (size_t i = 0; i < 3; i++)
		s->links[i].duplicate = true;
	sim_run_until(sim, 200 * MS);
	s->links[0].delay_us = 60 * MS;
	s->links[2].delay_us = 20 * MS;
	sim_stream(sim, s, 500, 2 * MS);
	sim_run_until(sim, 600 * MS);
	for (uint32_t i = 0; i < 50; i++) {
		size_t len = make_media(REVERSE_TAG, i, buf);
		CHECK_EQ(braid_receiver_send_reverse(sim->rx, 0x9009, buf, len, sim->now), 0);
		sim_drain(sim);
		sim_run_until(sim, sim->now + 5 * MS);
	}
	sim_run_until(sim, 2000 * MS);
	CHECK_EQ(s->reverse_count, 50);
	CHECK_EQ(s->reverse_bad, 0);
	CHECK_EQ_U64(s->links[2].reverse_in, 2 * 50);
	CHECK_EQ_U64(s->links[0].reverse_in + s->links[1].reverse_in, 0);
	struct braid_sender_stats st;
	braid_sender_get_stats(s->tx, &st);
	CHECK_EQ_U64(st.reverse_packets, 50);
	CHECK_EQ(braid_receiver_send_reverse(sim->rx, 0x1234, buf, 10, sim->now),
		 BRAID_ERR_SESSION);
	check_complete(s);
	sim_free(sim);
}

static size_t rx_down_events(const struct sim *sim, uint32_t session_id)
{
	size_t n = 0;
	for (size_t i = 0; i < sim->rx_nevents; i++)
		n += sim->rx_events[i].kind == BRAID_EVENT_LINK_STATE &&
		     sim->rx_events[i].session_id == session_id &&
		     sim->rx_events[i].new_state == BRAID_LINK_DOWN;
	return n;
}

/* Two senders into one receiver: separate outputs; one's trouble is not the other's. */
static void test_many_sessions(void)
{
	const uint64_t delays_a[] = { 20 * MS, 40 * MS }, delays_b[] = { 25 * MS, 35 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *a = sim_add_sender(sim, 0xa00a, BRAID_MODE_BROADCAST, delays_a, 2,
					      NULL);
	struct sim_sender *b = sim_add_sender(sim, 0xb00b, BRAID_MODE_BROADCAST, delays_b, 2,
					      NULL);
	a->links[0].dead_from_us = 1000 * MS;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, a, 1000, 2 * MS);
	sim_stream(sim, b, 800, 3 * MS);
	sim_run_until(sim, 3500 * MS);
	CHECK_EQ(rx_sessions(sim), 2);
	check_complete(a);
	check_complete(b);
	CHECK_NEAR(worst_timing_error(sim, a, delays_a[0]), 0, 100);
	CHECK_NEAR(worst_timing_error(sim, b, delays_b[0]), 0, 100);
	CHECK_EQ(state_events(a, a->links[0].id, BRAID_LINK_DOWN), 1);
	CHECK_EQ(state_events(b, -1, BRAID_LINK_DOWN), 0);
	CHECK_EQ(rx_down_events(sim, 0xa00a), 1);
	CHECK_EQ(rx_down_events(sim, 0xb00b), 0);
	sim_free(sim);
}

/* After close, the receiver ends the session once it has released everything it held. */
static void test_session_end(void)
{
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0xc00c, BRAID_MODE_BROADCAST, delays, 2, NULL);
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 200, 2 * MS);
	sim_run_until(sim, 600 * MS);
	CHECK_EQ(s->pushed, 200);
	braid_sender_close(s->tx, sim->now);
	sim_drain(sim);
	struct braid_sender_stats before, after;
	braid_sender_get_stats(s->tx, &before);
	uint64_t sent = s->links[0].sent + s->links[1].sent;
	sim_run_until(sim, 3000 * MS);
	check_complete(s);
	CHECK_EQ(rx_sessions(sim), 0);
	/* A closed sender says nothing more; nothing reached the receiver after the end. */
	braid_sender_get_stats(s->tx, &after);
	CHECK_EQ_U64(after.packets_out, before.packets_out);
	CHECK_EQ_U64(s->links[0].sent + s->links[1].sent, sent);
	CHECK_EQ(state_events(s, -1, BRAID_LINK_DOWN), 0);
	/* nothing dropped but each link's first HELLO, answered with a COOKIE */
	struct braid_receiver_stats rs;
	braid_receiver_get_stats(sim->rx, &rs);
	CHECK(rs.drops.unproven >= 2); /* a HELLO resent before its COOKIE came back, too */
	CHECK_EQ_U64(rs.cookies_sent, rs.drops.unproven);
	CHECK_EQ_U64(drops_total(sim->rx), rs.drops.unproven);
	const struct braid_event *ev = find_event(sim->rx_events, sim->rx_nevents, 0,
						  BRAID_EVENT_SESSION_END, -1, -1);
	CHECK(ev && ev->session_id == 0xc00c);
	if (ev && s->out_count) {
		uint64_t last = s->out_us[s->out_count - 1];
		printf("session end: %.3f ms after the last release\n",
		       (double)(ev->time_us - last) / 1000.0);
		CHECK_EQ_U64(ev->time_us, last);
	}
	sim_free(sim);
}

/* Random bytes and header mutations of captured datagrams, injected mid-stream. A DATA
 * sequence number (bytes 8..11) is left alone: in an unkeyed session a renumbered packet
 * is indistinguishable from a genuine one (the PSK case covers that). */
static void test_hostile_datagrams(void)
{
	static const size_t fields[] = { 0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15 };
	const uint64_t delays[] = { 20 * MS, 30 * MS };
	struct sim *sim = sim_new(0, 300 * MS, NULL);
	struct sim_sender *s = sim_add_sender(sim, 0xd00d, BRAID_MODE_BROADCAST, delays, 2, NULL);
	struct braid_addr stranger;
	uint8_t buf[BRAID_MAX_DATAGRAM];
	unsigned random_sent = 0, random_dropped = 0, mutated = 0, mutated_dropped = 0;
	unsigned miscounted = 0;
	fake_addr(&stranger, 200, 7000);
	sim->tap = capture_tap;
	sim_run_until(sim, 200 * MS);
	sim_stream(sim, s, 1000, 2 * MS);
	for (uint64_t t = 210 * MS; t < 2200 * MS; t += 10 * MS) {
		sim_run_until(sim, t);
		for (int k = 0; k < 4; k++) {
			bool random = k < 2;
			size_t len, pick = lcg_next(sim) % SIM_CAPTURED;
			const struct braid_addr *from = &stranger;
			if (random) {
				len = lcg_next(sim) % 80;
				for (size_t j = 0; j < len; j++)
					buf[j] = (uint8_t)lcg_next(sim);
			} else {
				bool data = (sim->captured[pick][0] & 0x0f) == BRAID_PKT_DATA;
				size_t hdr = data ? 12 : 8; /* DATA: its timestamp too */
				len = sim->captured_len[pick];
				memcpy(buf, sim->captured[pick], len);
				size_t at = fields[lcg_next(sim) % hdr];
				buf[at] ^= (uint8_t)(1 + lcg_next(sim) % 255);
				from = &s->links[sim->captured_link[pick]].addr;
			}
			uint64_t before = drops_total(sim->rx);
			int rc = braid_receiver_handle_datagram(sim->rx, from, buf, len, 0, sim->now);
			miscounted += drops_total(sim->rx) != before + (rc < 0);
			random_sent += random;
			random_dropped += random && rc < 0;
			mutated += !random;
			mutated_dropped += !random && rc < 0;
			sim_drain(sim);
		}
	}
	sim_run_until(sim, 3000 * MS);
	/* The sender, too, survives and counts random bytes on its links. */
	for (int k = 0; k < 200; k++) {
		struct braid_sender_stats st;
		size_t len = lcg_next(sim) % 64;
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)lcg_next(sim);
		braid_sender_get_stats(s->tx, &st);
		uint64_t before = drops_sum(&st.drops);
		uint16_t link_id = s->links[k % 2].id;
		int rc = braid_sender_handle_datagram(s->tx, link_id, buf, len, 0, sim->now);
		braid_sender_get_stats(s->tx, &st);
		miscounted += drops_sum(&st.drops) != before + 1 || rc >= 0;
		sim_drain(sim);
	}
	printf("hostile: %u/%u random and %u/%u mutated datagrams dropped, %u released\n",
	       random_dropped, random_sent, mutated_dropped, mutated, s->out_count);
	CHECK_EQ(miscounted, 0);
	CHECK_EQ(random_dropped, random_sent);
	CHECK(mutated_dropped > mutated / 2);
	CHECK_EQ(s->disorder, 0);
	CHECK_EQ(s->bad_payload, 0);
	CHECK(s->out_count > 0);
	sim_free(sim);
}

/* A sender whose latency budget is not the receiver's is refused: no session, a drop on
 * both ends, and each end learns the other's budget (keyed, under the PSK's MAC). */
static void test_latency_mismatch(void)
{
	const char *keys[] = { NULL, "latency-psk" };
	for (size_t k = 0; k < 2; k++) {
		struct sim *sim = sim_new(0, 300 * MS, keys[k]);
		CHECK(sim != NULL);
		if (!sim)
			return;
		sim->latency_us = 1000 * MS; /* the sender's budget, not the receiver's */
		const uint64_t delays[] = { 10 * MS };
		struct sim_sender *a = sim_add_sender(sim, 0x1a7e, BRAID_MODE_BROADCAST, delays, 1,
						      NULL);
		sim_run_until(sim, 1000 * MS);
		struct braid_receiver_stats rs;
		struct braid_sender_stats ts;
		braid_receiver_get_stats(sim->rx, &rs);
		braid_sender_get_stats(a->tx, &ts);
		CHECK_EQ(rx_sessions(sim), 0);
		CHECK(rs.drops.latency_mismatch > 0);
		CHECK_EQ_U64(rs.refused_latency_us, 1000 * MS);
		CHECK(ts.drops.latency_mismatch > 0);
		CHECK_EQ_U64(ts.refused_latency_us, 300 * MS);
		if (keys[k])
			CHECK_EQ(ts.live_links, 0); /* keyed: no keys without an accepted answer */
		sim_free(sim);
	}
}

int main(void)
{
	RUN_TEST(test_latency_mismatch);
	RUN_TEST(test_handshake);
	RUN_TEST(test_broadcast);
	RUN_TEST(test_release_window);
	RUN_TEST(test_lossy_link);
	RUN_TEST(test_silent_death);
	RUN_TEST(test_backup_failover);
	RUN_TEST(test_roundrobin_weighted);
	RUN_TEST(test_nack_repair);
	RUN_TEST(test_tail_loss);
	RUN_TEST(test_adaptive_burst_overflow);
	RUN_TEST(test_adaptive_undeliverable);
	RUN_TEST(test_expired_before_handshake);
	RUN_TEST(test_push_refusals);
	RUN_TEST(test_drops_by_cause);
	RUN_TEST(test_adaptive_fast_start);
	RUN_TEST(test_adaptive_redundancy);
	RUN_TEST(test_psk);
	RUN_TEST(test_nat_rebinding);
	RUN_TEST(test_timestamp_wrap);
	RUN_TEST(test_timestamp_forgery);
	RUN_TEST(test_reverse_path);
	RUN_TEST(test_many_sessions);
	RUN_TEST(test_session_end);
	RUN_TEST(test_hostile_datagrams);
	return braid_test_finish();
}
