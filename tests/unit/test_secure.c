/* Keyed sessions against an attacker on the path: one sender with two links and a
 * receiver, in virtual time (1 ms steps, 5 ms each way), and a tap that keeps copies of
 * what crosses. Replays, bit flips, receiver restarts, rekeys and NAT rebinding, each
 * checked end to end: what is dropped and counted, what is answered (nothing, to a
 * stranger), and that the stream loses nothing. */
#include "harness.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "core/wire.h"

#define MS 1000ull
#define LINKS 2
#define DELAY_US (5 * MS)
#define QUEUE 8192
#define CAPTURES 16384
#define DATAGRAM_MAX 512 /* this test's datagrams are all smaller */
#define WALL_BASE_US UINT64_C(1700000000000000)
static const char PSK[] = "the gateway's pre-shared key";
/* Both sides' latency budget; a test may widen it (and puts it back). */
static uint64_t latency_us = 300 * MS;

struct datagram {
	uint64_t at;
	bool to_receiver;
	size_t link;
	size_t len;
	bool lost; /* the path dropped it: never delivered */
	uint8_t buf[DATAGRAM_MAX];
};

struct net {
	uint64_t now;
	struct braid_sender *tx;
	struct braid_receiver *rx;
	uint8_t rx_seed; /* key seed fill of the receiver instance */
	uint16_t link_id[LINKS];
	struct braid_addr addr[LINKS]; /* the sender's links as the receiver sees them */
	struct datagram *queue;        /* in flight, in send order (equal delays: FIFO) */
	size_t head, count;
	struct datagram *captured;     /* everything sent, both ways */
	size_t ncaptured;
	uint64_t push_every_us, next_push_us;
	uint32_t pushed, push_until;   /* media numbers; pushes stop at push_until */
	uint32_t released, out_of_order;
	bool got[20000];               /* media numbers released */
	uint64_t to_strangers;         /* receiver datagrams to an address no link has */
	struct braid_addr retired;     /* a NAT mapping gone: what goes there is lost */
	uint64_t to_retired;
	bool drop_link[LINKS];         /* the path loses everything on this link */
	bool drop_to_sender[LINKS];    /* ... or only what goes to the sender */
	unsigned sessions_started, sessions_ended; /* receiver events */
};

static void fake_addr(struct braid_addr *a, unsigned host, unsigned port)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	a->u.in4.sin_port = htons((uint16_t)port);
	a->u.in4.sin_addr.s_addr = htonl(0x7f000000u | host);
	a->len = sizeof(a->u.in4);
}

static struct braid_receiver *new_receiver(uint8_t seed, uint64_t now)
{
	struct braid_receiver_settings set;
	braid_receiver_settings_default(&set);
	set.latency_us = latency_us;
	set.psk = (const uint8_t *)PSK;
	set.psk_len = strlen(PSK);
	set.seed = seed;
	memset(set.key_seed, seed, sizeof(set.key_seed));
	set.wall_clock_us = WALL_BASE_US + now;
	return braid_receiver_new(&set, now);
}

static struct braid_sender *new_sender(enum braid_mode mode, uint64_t rekey_us, uint8_t instance,
				       uint64_t now)
{
	struct braid_sender_settings set;
	braid_sender_settings_default(&set);
	set.mode = mode;
	set.latency_us = latency_us;
	set.session_id = 0x5ec0de;
	memset(set.nonce, 0x3c + instance, sizeof(set.nonce));
	memset(set.key_seed, 0x77 + instance, sizeof(set.key_seed));
	set.psk = (const uint8_t *)PSK;
	set.psk_len = strlen(PSK);
	set.wall_clock_us = WALL_BASE_US + now;
	set.rekey_interval_us = rekey_us;
	return braid_sender_new(&set, now);
}

static void add_links(struct net *n)
{
	for (size_t i = 0; i < LINKS; i++) {
		char name[8] = "link0";
		name[4] = (char)('0' + i);
		struct braid_link_config cfg = { .name = name };
		n->link_id[i] = (uint16_t)braid_sender_add_link(n->tx, &cfg, n->now);
	}
}

static struct net *net_new(enum braid_mode mode, uint64_t rekey_us)
{
	struct net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->queue = calloc(QUEUE, sizeof(*n->queue));
	n->captured = calloc(CAPTURES, sizeof(*n->captured));
	n->rx_seed = 1;
	n->rx = new_receiver(n->rx_seed, 0);
	n->tx = new_sender(mode, rekey_us, 0, 0);
	CHECK(n->queue && n->captured && n->rx && n->tx);
	add_links(n);
	for (size_t i = 0; i < LINKS; i++)
		fake_addr(&n->addr[i], 10 + (unsigned)i, 4000 + (unsigned)i);
	n->push_every_us = 2 * MS;
	return n;
}

static void net_free(struct net *n)
{
	braid_sender_free(n->tx);
	braid_receiver_free(n->rx);
	free(n->queue);
	free(n->captured);
	free(n);
}

static void put_on_path(struct net *n, bool to_receiver, size_t link, const uint8_t *buf,
			size_t len)
{
	CHECK(len <= DATAGRAM_MAX);
	if (len > DATAGRAM_MAX)
		return;
	bool lost = n->drop_link[link] || (!to_receiver && n->drop_to_sender[link]);
	if (n->ncaptured < CAPTURES) {
		struct datagram *c = &n->captured[n->ncaptured++];
		*c = (struct datagram){ .at = n->now, .to_receiver = to_receiver, .link = link,
					.len = len, .lost = lost };
		memcpy(c->buf, buf, len);
	}
	if (lost || n->count == QUEUE)
		return;
	struct datagram *d = &n->queue[(n->head + n->count++) % QUEUE];
	*d = (struct datagram){ .at = n->now + DELAY_US, .to_receiver = to_receiver,
				.link = link, .len = len };
	memcpy(d->buf, buf, len);
}

static size_t link_of_addr(const struct net *n, const struct braid_addr *a)
{
	size_t i = 0;
	while (i < LINKS && !braid_addr_equal(a, &n->addr[i]))
		i++;
	return i;
}

static void drain(struct net *n)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	size_t len;
	uint16_t id;
	while (braid_sender_poll_transmit(n->tx, n->now, &id, buf, sizeof(buf), &len) == 1)
		for (size_t i = 0; i < LINKS; i++)
			if (n->link_id[i] == id)
				put_on_path(n, true, i, buf, len);
	struct braid_addr to;
	while (braid_receiver_poll_transmit(n->rx, n->now, &to, buf, sizeof(buf), &len) == 1) {
		size_t link = link_of_addr(n, &to);
		if (link == LINKS && braid_addr_equal(&to, &n->retired))
			n->to_retired++;
		else if (link == LINKS)
			n->to_strangers++;
		else
			put_on_path(n, false, link, buf, len);
	}
	uint32_t session;
	while (braid_receiver_poll_output(n->rx, n->now, &session, buf, sizeof(buf), &len) == 1) {
		uint32_t idx;
		memcpy(&idx, buf, sizeof(idx));
		if (idx < sizeof(n->got) && !n->got[idx]) {
			n->out_of_order += idx + 1 < n->released;
			n->got[idx] = true;
			n->released++;
		}
	}
	struct braid_event ev;
	while (braid_sender_poll_event(n->tx, &ev))
		;
	while (braid_receiver_poll_event(n->rx, &ev)) {
		n->sessions_started += ev.kind == BRAID_EVENT_SESSION_NEW;
		n->sessions_ended += ev.kind == BRAID_EVENT_SESSION_END;
	}
	while (braid_sender_poll_reverse(n->tx, n->now, buf, sizeof(buf), &len) == 1)
		;
}

static int deliver(struct net *n, const struct datagram *d, const struct braid_addr *from)
{
	if (d->to_receiver)
		return braid_receiver_handle_datagram(n->rx, from ? from : &n->addr[d->link],
						      d->buf, d->len, 0, n->now);
	return braid_sender_handle_datagram(n->tx, n->link_id[d->link], d->buf, d->len, 0,
					    n->now);
}

static void push_media(struct net *n)
{
	uint8_t media[200];
	memset(media, 0xab, sizeof(media));
	memcpy(media, &n->pushed, sizeof(n->pushed));
	CHECK_EQ(braid_sender_push(n->tx, media, sizeof(media), n->now), 0);
	n->pushed++;
}

/* Runs the path, the timers and the encoder (one datagram every 2 ms while pushes last)
 * until `end`, one millisecond at a time. */
static void run_until(struct net *n, uint64_t end)
{
	for (; n->now < end; n->now += MS) {
		while (n->count && n->queue[n->head].at <= n->now) {
			struct datagram *d = &n->queue[n->head];
			n->head = (n->head + 1) % QUEUE;
			n->count--;
			deliver(n, d, NULL);
			drain(n);
		}
		if (n->pushed < n->push_until && n->now >= n->next_push_us) {
			push_media(n);
			n->next_push_us = n->now + n->push_every_us;
		}
		if (braid_sender_next_timeout(n->tx) <= n->now)
			braid_sender_handle_timeout(n->tx, n->now);
		if (braid_receiver_next_timeout(n->rx) <= n->now)
			braid_receiver_handle_timeout(n->rx, n->now);
		drain(n);
	}
}

static void stream(struct net *n, uint32_t count)
{
	n->push_until = n->pushed + count;
	n->next_push_us = n->now;
}

static uint64_t rx_drops(const struct net *n)
{
	struct braid_receiver_stats st;
	braid_receiver_get_stats(n->rx, &st);
	const struct braid_drop_stats *d = &st.drops;
	return braid_drop_stats_total(d);
}

static uint64_t tx_drops(const struct net *n)
{
	struct braid_sender_stats st;
	braid_sender_get_stats(n->tx, &st);
	const struct braid_drop_stats *d = &st.drops;
	return braid_drop_stats_total(d);
}

static uint8_t type_of(const struct datagram *d)
{
	return d->buf[0] & 0x0f;
}

/* The first captured datagram of a type going one way (from index `from`), or NULL. */
static const struct datagram *find(const struct net *n, uint8_t type, bool to_receiver,
				   size_t from)
{
	for (size_t i = from; i < n->ncaptured; i++)
		if (type_of(&n->captured[i]) == type && n->captured[i].to_receiver == to_receiver &&
		    !n->captured[i].lost)
			return &n->captured[i];
	return NULL;
}

/* Whether the receiver queued nothing for anyone (drains it). */
static bool receiver_silent(struct net *n)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_addr to;
	size_t len;
	return braid_receiver_poll_transmit(n->rx, n->now, &to, buf, sizeof(buf), &len) == 0;
}

static bool all_released(const struct net *n, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		if (!n->got[i])
			return false;
	return true;
}

/* Sealed: the media bytes never appear on the path; every datagram is version 2 and keyed. */
static void test_handshake_and_privacy(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	stream(n, 500);
	run_until(n, 1600 * MS);
	CHECK_EQ(n->released, 500);
	CHECK_EQ(n->out_of_order, 0);
	CHECK_EQ(rx_drops(n), 0);
	CHECK_EQ(tx_drops(n), 0);
	CHECK_EQ(n->to_strangers, 0);
	size_t plain = 0, leaks = 0, data = 0;
	static const uint8_t pattern[8] = { 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab };
	for (size_t i = 0; i < n->ncaptured; i++) {
		const struct datagram *d = &n->captured[i];
		plain += (d->buf[0] >> 4) != 2 || !(d->buf[1] & BRAID_FLAG_KEYED);
		data += type_of(d) == BRAID_PKT_DATA;
		for (size_t j = 0; j + sizeof(pattern) <= d->len; j++)
			if (memcmp(d->buf + j, pattern, sizeof(pattern)) == 0) {
				leaks++;
				break;
			}
	}
	CHECK_EQ(plain, 0);
	CHECK(data >= 1000); /* broadcast: both links */
	CHECK_EQ(leaks, 0);
	net_free(n);
}

/* Packet numbers of sealed datagrams never repeat within an exchange, across links and in
 * both directions (one counter per session and direction). */
static void test_nonces_unique_across_links(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	stream(n, 600);
	run_until(n, 1800 * MS);
	CHECK_EQ(n->released, 600);
	for (int dir = 0; dir <= 1; dir++) {
		size_t count = 0, repeats = 0, per_link[LINKS] = { 0 };
		static uint64_t seen[CAPTURES];
		for (size_t i = 0; i < n->ncaptured; i++) {
			const struct datagram *d = &n->captured[i];
			struct braid_header h;
			uint64_t pn;
			if (d->to_receiver != (dir == 0) || braid_wire_peek(d->buf, d->len, &h) < 0 ||
			    braid_wire_packet_number(d->buf, d->len, &pn) < 0)
				continue;
			for (size_t k = 0; k < count; k++)
				repeats += seen[k] == pn;
			seen[count++] = pn;
			per_link[d->link]++;
		}
		CHECK(count > 40);
		CHECK(per_link[0] > 10 && per_link[1] > 10);
		CHECK_EQ(repeats, 0);
	}
	net_free(n);
}

/* Flips one bit in every byte of one datagram of every type, both ways: each copy is
 * dropped, counted once, and never answered. */
static void test_bit_flips_every_type(void)
{
	struct net *n = net_new(BRAID_MODE_ROUNDROBIN, 0);
	run_until(n, 200 * MS);
	stream(n, 300);
	n->drop_link[1] = true; /* half the stream lost: the receiver sends NACKs */
	run_until(n, 400 * MS);
	n->drop_link[1] = false;
	uint8_t media[40] = { 1, 2, 3 };
	CHECK_EQ(braid_receiver_send_reverse(n->rx, 0x5ec0de, media, sizeof(media), n->now), 0);
	run_until(n, 1000 * MS);
	braid_sender_close(n->tx, n->now);
	drain(n);
	const struct {
		uint8_t type;
		bool to_receiver;
	} kinds[] = {
		{ BRAID_PKT_HELLO, true },       { BRAID_PKT_DATA, true },
		{ BRAID_PKT_PROBE, true },       { BRAID_PKT_BYE, true },
		{ BRAID_PKT_HELLO_ACK, false },  { BRAID_PKT_PROBE_REPLY, false },
		{ BRAID_PKT_NACK, false },       { BRAID_PKT_REVERSE, false },
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct datagram *orig = find(n, kinds[k].type, kinds[k].to_receiver, 0);
		CHECK(orig != NULL);
		if (!orig)
			continue;
		struct datagram copy = *orig;
		unsigned dropped = 0, counted = 0, answered = 0;
		for (size_t i = 0; i < copy.len; i++) {
			for (unsigned bit = 0; bit < 8; bit += 3) {
				uint64_t before = copy.to_receiver ? rx_drops(n) : tx_drops(n);
				copy.buf[i] ^= (uint8_t)(1u << bit);
				dropped += deliver(n, &copy, NULL) < 0;
				copy.buf[i] ^= (uint8_t)(1u << bit);
				counted += (copy.to_receiver ? rx_drops(n) : tx_drops(n)) == before + 1;
				answered += !receiver_silent(n);
			}
		}
		CHECK_EQ(dropped, copy.len * 3);
		CHECK_EQ(counted, copy.len * 3);
		CHECK_EQ(answered, 0);
	}
	net_free(n);
}

/* Every sealed datagram delivered again after the original: dropped as a replay (not as
 * late or duplicate), nothing answered, nothing released twice. */
static void test_replayed_sealed_packets(void)
{
	struct net *n = net_new(BRAID_MODE_ROUNDROBIN, 0);
	run_until(n, 200 * MS);
	stream(n, 300);
	n->drop_link[1] = true;
	run_until(n, 400 * MS);
	n->drop_link[1] = false;
	uint8_t media[40] = { 9 };
	CHECK_EQ(braid_receiver_send_reverse(n->rx, 0x5ec0de, media, sizeof(media), n->now), 0);
	run_until(n, 1000 * MS);
	struct braid_receiver_stats rs_before, rs_after;
	struct braid_sender_stats ts_before, ts_after;
	braid_receiver_get_stats(n->rx, &rs_before);
	braid_sender_get_stats(n->tx, &ts_before);
	const uint8_t types[] = { BRAID_PKT_DATA, BRAID_PKT_PROBE, BRAID_PKT_PROBE_REPLY,
				  BRAID_PKT_NACK, BRAID_PKT_REVERSE };
	for (size_t k = 0; k < sizeof(types); k++) {
		bool to_rx = types[k] == BRAID_PKT_DATA || types[k] == BRAID_PKT_PROBE;
		const struct datagram *d = find(n, types[k], to_rx, 0);
		CHECK(d != NULL);
		if (!d)
			continue;
		CHECK_EQ(deliver(n, d, NULL), BRAID_ERR_REPLAY);
		CHECK(receiver_silent(n));
	}
	/* the last datagram the sender sent, replayed from another address: no rebinding */
	const struct datagram *last = NULL;
	for (size_t i = 0; i < n->ncaptured; i++)
		if (n->captured[i].to_receiver && type_of(&n->captured[i]) == BRAID_PKT_DATA &&
		    !n->captured[i].lost)
			last = &n->captured[i];
	struct braid_addr elsewhere;
	fake_addr(&elsewhere, 99, 9999);
	CHECK(last && deliver(n, last, &elsewhere) == BRAID_ERR_REPLAY);
	braid_receiver_get_stats(n->rx, &rs_after);
	braid_sender_get_stats(n->tx, &ts_after);
	CHECK_EQ_U64(rs_after.drops.replay - rs_before.drops.replay, 3);
	CHECK_EQ_U64(ts_after.drops.replay - ts_before.drops.replay, 3);
	CHECK_EQ_U64(rs_after.late, rs_before.late);
	CHECK_EQ_U64(rs_after.duplicates, rs_before.duplicates);
	CHECK_EQ_U64(ts_after.reverse_packets, ts_before.reverse_packets);
	run_until(n, 1200 * MS);
	CHECK_EQ(n->to_strangers, 0);
	CHECK_EQ(n->released, 300);
	net_free(n);
}

/* A captured HELLO replayed, from its own address and another, mid-stream and after the
 * session ended: no answer, no session, no change; later, stale. */
static void test_replayed_hello(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 100 * MS);
	const struct datagram *first = find(n, BRAID_PKT_HELLO, true, 0);
	CHECK(first != NULL);
	if (!first) {
		net_free(n);
		return;
	}
	struct datagram hello = *first;
	stream(n, 500);
	struct braid_addr elsewhere;
	fake_addr(&elsewhere, 66, 6666);
	run_until(n, 500 * MS);
	struct braid_receiver_stats before, after;
	braid_receiver_get_stats(n->rx, &before);
	CHECK_EQ(deliver(n, &hello, NULL), BRAID_ERR_REPLAY);
	CHECK(receiver_silent(n));
	CHECK_EQ(deliver(n, &hello, &elsewhere), BRAID_ERR_REPLAY);
	CHECK(receiver_silent(n));
	braid_receiver_get_stats(n->rx, &after);
	CHECK_EQ_U64(after.drops.replay - before.drops.replay, 2);
	CHECK_EQ(after.sessions, 1);
	run_until(n, 1600 * MS);
	CHECK_EQ(n->released, 500);
	CHECK_EQ(n->to_strangers, 0);

	/* the session ends (BYE); the HELLO does not bring it back */
	braid_sender_close(n->tx, n->now);
	run_until(n, 2000 * MS);
	braid_receiver_get_stats(n->rx, &after);
	CHECK_EQ(after.sessions, 0);
	CHECK_EQ(deliver(n, &hello, &elsewhere), BRAID_ERR_REPLAY);
	CHECK(receiver_silent(n));
	braid_receiver_get_stats(n->rx, &after);
	CHECK_EQ(after.sessions, 0);
	/* past the tolerance it is stale, whatever the cache holds */
	run_until(n, 32000 * MS);
	braid_receiver_get_stats(n->rx, &before);
	CHECK_EQ(deliver(n, &hello, NULL), BRAID_ERR_REPLAY);
	braid_receiver_get_stats(n->rx, &after);
	CHECK_EQ_U64(after.drops.stale - before.drops.stale, 1);
	CHECK_EQ(after.sessions, 0);
	CHECK(receiver_silent(n));
	net_free(n);
}

/* The receiver restarts mid-stream (a new instance): the sender's links go down, it starts
 * a new exchange, and the stream goes on. HELLOs and HELLO_ACKs captured before the
 * restart, replayed afterwards (every 400 ms, from anywhere), change nothing. */
static void test_receiver_restart_and_old_acks(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	const struct datagram *a = find(n, BRAID_PKT_HELLO_ACK, false, 0);
	const struct datagram *h = find(n, BRAID_PKT_HELLO, true, 0);
	CHECK(a && h);
	if (!a || !h) {
		net_free(n);
		return;
	}
	struct datagram old_ack = *a, old_hello = *h;
	stream(n, 2500);
	run_until(n, 1000 * MS);
	braid_receiver_free(n->rx);
	n->rx = new_receiver(++n->rx_seed, n->now);
	run_until(n, 2000 * MS);
	uint32_t resumed_from = n->pushed;
	struct braid_sender_stats before, after;
	braid_sender_get_stats(n->tx, &before);
	CHECK_EQ(before.live_links, LINKS);
	uint32_t replays = 0;
	while (n->now < 5000 * MS) {
		CHECK_EQ(deliver(n, &old_ack, NULL), BRAID_ERR_REPLAY);
		CHECK_EQ(deliver(n, &old_hello, NULL), BRAID_ERR_REPLAY); /* before its start */
		CHECK(receiver_silent(n));
		replays++;
		drain(n);
		run_until(n, n->now + 400 * MS);
	}
	run_until(n, 6000 * MS);
	braid_sender_get_stats(n->tx, &after);
	CHECK_EQ_U64(after.drops.replay - before.drops.replay, replays);
	CHECK_EQ(after.live_links, LINKS);
	CHECK_EQ(after.failovers, before.failovers);
	CHECK(all_released(n, resumed_from, n->pushed));
	CHECK_EQ(n->pushed, 2500);
	struct braid_receiver_stats rs;
	braid_receiver_get_stats(n->rx, &rs);
	CHECK_EQ_U64(rs.drops.stale, replays);
	CHECK_EQ(n->to_strangers, 0);
	net_free(n);
}

/* The receiver restarts mid-stream and its successor answers before the latency budget has
 * run out: what the sender sent after the last probe the old instance answered went to
 * nobody, and is sent again to the new one (which still releases it in time), so every
 * packet pushed from the restart on comes out. What the old instance held and had not
 * released yet is gone with it. */
static void test_new_receiver_gets_what_the_old_missed(void)
{
	latency_us = 1000 * MS; /* both ends, the new receiver too: they must agree */
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	stream(n, 2000);
	run_until(n, 1000 * MS);
	struct braid_sender_stats before, after;
	braid_sender_get_stats(n->tx, &before);
	uint32_t at_restart = n->pushed;
	braid_receiver_free(n->rx);
	n->rx = new_receiver(++n->rx_seed, n->now);
	latency_us = 300 * MS;
	run_until(n, 6000 * MS); /* the last of 2000 packets, 2 ms apart, leave at about 5 s */
	braid_sender_get_stats(n->tx, &after);
	CHECK_EQ(after.live_links, LINKS);
	CHECK_EQ(n->pushed, 2000);
	CHECK(all_released(n, at_restart, n->pushed));
	CHECK(after.resent_failover > before.resent_failover);
	CHECK_EQ(n->out_of_order, 0);
	net_free(n);
}

/* A HELLO_ACK an on-path attacker kept from the sender (so newer than any the link had),
 * replayed after the receiver restarted and the sender moved to a new exchange: it answers
 * the old exchange, so it is a replay, and the dead link it names stays down. */
static void test_withheld_ack_of_old_exchange(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	stream(n, 2000);
	n->drop_to_sender[1] = true; /* link 1 goes down and says HELLO; answers withheld */
	run_until(n, 1200 * MS);
	const struct datagram *withheld = NULL;
	for (size_t i = 0; i < n->ncaptured; i++)
		if (type_of(&n->captured[i]) == BRAID_PKT_HELLO_ACK && n->captured[i].lost &&
		    n->captured[i].link == 1)
			withheld = &n->captured[i];
	CHECK(withheld != NULL);
	if (!withheld) {
		net_free(n);
		return;
	}
	struct datagram ack = *withheld;
	braid_receiver_free(n->rx);
	n->rx = new_receiver(++n->rx_seed, n->now);
	n->drop_link[1] = true;
	run_until(n, 2500 * MS);
	struct braid_sender_stats before, after;
	braid_sender_get_stats(n->tx, &before);
	CHECK_EQ(before.live_links, 1);
	CHECK_EQ(deliver(n, &ack, NULL), BRAID_ERR_REPLAY);
	drain(n);
	braid_sender_get_stats(n->tx, &after);
	CHECK_EQ_U64(after.drops.replay - before.drops.replay, 1);
	CHECK_EQ(after.live_links, 1);
	uint32_t from = n->pushed;
	run_until(n, 4800 * MS);
	CHECK(all_released(n, from, n->pushed));
	net_free(n);
}

/* The sender restarts under the same session id (a new instance, another nonce): its
 * HELLOs leave the old session alone until its first sealed packet arrives, then the new
 * session replaces it and the new stream is released whole. */
static void test_sender_restart_same_session(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	stream(n, 300);
	run_until(n, 1200 * MS);
	CHECK_EQ(n->released, 300);
	braid_sender_free(n->tx);
	n->tx = new_sender(BRAID_MODE_BROADCAST, 0, 1, n->now);
	CHECK(n->tx != NULL);
	add_links(n);
	n->pushed = 1000; /* the new instance's media, told apart by number */
	memset(n->got, 0, sizeof(n->got));
	n->released = 0;
	/* its first HELLO reaches the receiver: answered, but the old session stays */
	braid_sender_handle_timeout(n->tx, n->now);
	drain(n);
	run_until(n, n->now + DELAY_US + MS);
	struct braid_receiver_stats st;
	braid_receiver_get_stats(n->rx, &st);
	CHECK_EQ(st.sessions, 1);
	CHECK_EQ(n->sessions_started, 1);
	CHECK_EQ(n->sessions_ended, 0);
	CHECK(find(n, BRAID_PKT_HELLO_ACK, false, n->ncaptured - 2) != NULL);
	stream(n, 300);
	run_until(n, 3000 * MS);
	CHECK_EQ(n->sessions_started, 2);
	CHECK_EQ(n->sessions_ended, 1);
	CHECK_EQ(n->released, 300);
	CHECK(all_released(n, 1000, 1300));
	braid_receiver_get_stats(n->rx, &st);
	CHECK_EQ(st.sessions, 1);
	CHECK_EQ(rx_drops(n), 0);
	CHECK_EQ(n->to_strangers, 0);
	net_free(n);
}

/* Keys change every 300 ms while the stream runs: several exchanges, nothing lost, no
 * packet refused. */
static void test_rekey_mid_stream(void)
{
	struct net *n = net_new(BRAID_MODE_ROUNDROBIN, 300 * MS);
	run_until(n, 200 * MS);
	stream(n, 1500);
	run_until(n, 3600 * MS);
	CHECK_EQ(n->released, 1500);
	CHECK(all_released(n, 0, 1500));
	CHECK_EQ(n->out_of_order, 0);
	CHECK_EQ(rx_drops(n), 0);
	CHECK_EQ(tx_drops(n), 0);
	/* the exchanges: HELLOs with distinct ephemeral keys */
	uint8_t keys[64][BRAID_EPHEMERAL_SIZE];
	size_t nkeys = 0;
	for (size_t i = 0; i < n->ncaptured; i++) {
		struct braid_packet p;
		const struct datagram *d = &n->captured[i];
		if (type_of(d) != BRAID_PKT_HELLO || braid_wire_decode(d->buf, d->len, &p) < 0)
			continue;
		bool known = false;
		for (size_t k = 0; k < nkeys; k++)
			known = known || memcmp(keys[k], p.body.hello.ephemeral, 32) == 0;
		if (!known && nkeys < 64)
			memcpy(keys[nkeys++], p.body.hello.ephemeral, 32);
	}
	CHECK(nkeys >= 8);
	struct braid_receiver_stats rs;
	braid_receiver_get_stats(n->rx, &rs);
	CHECK_EQ_U64(rs.lost, 0);
	CHECK_EQ_U64(rs.late, 0);
	net_free(n);
}

/* NAT rebinding: a sealed datagram from a new address moves the link only when it opens;
 * a forged one changes nothing and the answers keep going where they went. */
static void test_rebinding_needs_a_valid_seal(void)
{
	struct net *n = net_new(BRAID_MODE_BROADCAST, 0);
	run_until(n, 200 * MS);
	stream(n, 200);
	run_until(n, 300 * MS);
	const struct datagram *probe = NULL;
	for (size_t i = 0; i < n->ncaptured; i++)
		if (type_of(&n->captured[i]) == BRAID_PKT_PROBE && n->captured[i].link == 0 &&
		    !n->captured[i].lost)
			probe = &n->captured[i];
	CHECK(probe != NULL);
	if (!probe) {
		net_free(n);
		return;
	}
	struct datagram forged = *probe;
	forged.buf[forged.len - 1] ^= 0x01;
	struct braid_addr moved;
	fake_addr(&moved, 77, 7777);
	CHECK_EQ(deliver(n, &forged, &moved), BRAID_ERR_AUTH);
	CHECK(receiver_silent(n));
	/* the link's NAT mapping really changes: the next genuine datagram moves it */
	n->retired = n->addr[0];
	n->addr[0] = moved;
	uint64_t retired_before = n->to_retired;
	run_until(n, 1000 * MS);
	CHECK_EQ(n->to_strangers, 0);
	/* what left before the move went to the old mapping; soon nothing more does */
	uint64_t retired_settled = n->to_retired;
	CHECK(retired_settled - retired_before < 10);
	run_until(n, 1500 * MS);
	CHECK_EQ_U64(n->to_retired, retired_settled);
	CHECK_EQ(n->released, 200);
	struct braid_sender_stats ts;
	braid_sender_get_stats(n->tx, &ts);
	CHECK_EQ(ts.live_links, LINKS);
	net_free(n);
}

int main(void)
{
	RUN_TEST(test_handshake_and_privacy);
	RUN_TEST(test_nonces_unique_across_links);
	RUN_TEST(test_bit_flips_every_type);
	RUN_TEST(test_replayed_sealed_packets);
	RUN_TEST(test_replayed_hello);
	RUN_TEST(test_receiver_restart_and_old_acks);
	RUN_TEST(test_new_receiver_gets_what_the_old_missed);
	RUN_TEST(test_withheld_ack_of_old_exchange);
	RUN_TEST(test_sender_restart_same_session);
	RUN_TEST(test_rekey_mid_stream);
	RUN_TEST(test_rebinding_needs_a_valid_seal);
	return braid_test_finish();
}
