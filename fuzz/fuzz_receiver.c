/* A receiver fed a valid HELLO, then the fuzzer's datagrams, with time moving and every
 * poll drained after each step. The first byte picks a PSK or none and the latency budget.
 *
 * Record ctl bits (see fuzz_input.h):
 *   0x01  sign: set KEYED and protect it as its type calls for (MAC, or sealed with the
 *         newest keys the harness agreed for its session, from the HELLO_ACKs the receiver
 *         sends to the harness's ephemeral key)
 *   0x02  fix: overwrite the session id with the seeded session's; a HELLO also gets the
 *         harness's ephemeral key and the receiver's wall clock, so it is fresh
 *   0x04  from the second address (NAT rebinding)
 *   0x08  afterwards, send the bytes back as reverse traffic of the seeded session
 *
 * Invariants checked: every datagram the receiver emits is keyed exactly when a PSK is set;
 * a HELLO_ACK decodes and carries a valid MAC; a sealed datagram that opens with keys the
 * harness agreed decodes; released media fits BRAID_MAX_PAYLOAD; handling due timeouts makes progress
 * (see fuzz_tolerate_stall). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/receiver.h"
#include "core/crypto.h"
#include "core/wire.h"
#include "fuzz_input.h"

#define SESSION_ID 0x5eed0001u
#define KEY_SLOTS 8
#define CTL_SIGN 0x01
#define CTL_FIX 0x02
#define CTL_ALT_ADDR 0x04
#define CTL_REVERSE 0x08
#define CTL_TRUNCATED 0x10 /* passed as cut short by the receive buffer */

static const uint8_t PSK[] = "fuzz pre-shared key";
static const uint8_t SENDER_NONCE[BRAID_NONCE_SIZE] = { 's', 'e', 'n', 'd', 'e', 'r', '0', '1' };
static const uint64_t LATENCIES[4] = { 0, 20000, 200000, 1000000 };
static const uint8_t SENDER_SEED[32] = "the fuzz harness's sender seed!";
#define WALL_ANCHOR_US UINT64_C(1700000000000000) /* the receiver's wall clock at start */
#define START_US 1000000u

struct session_key {
	uint32_t session_id;
	struct braid__exchange_keys keys;
};

struct harness {
	struct braid_receiver *r;
	const uint8_t *psk;
	size_t psk_len;
	uint8_t psk_key[32];
	uint8_t secret[32], public_key[32]; /* the harness's ephemeral key, as a sender */
	uint64_t next_pn;
	uint64_t now;
	uint32_t latency_us; /* the receiver's budget, which the harness's HELLOs carry */
	struct session_key keys[KEY_SLOTS];
	size_t key_count, key_next;
	struct braid_addr addrs[2];
	uint8_t in[FUZZ_BUF_SIZE];
	uint8_t out[BRAID_MAX_DATAGRAM];
};

/* The newest keys agreed for a session (an older exchange may still be the confirmed one). */
static const struct braid__exchange_keys *key_of(const struct harness *h, uint32_t session_id)
{
	const struct braid__exchange_keys *found = NULL;
	for (size_t k = 0; k < h->key_count; k++) {
		size_t i = (h->key_next + KEY_SLOTS - 1 - k) % KEY_SLOTS;
		if (!found && h->keys[i].session_id == session_id)
			found = &h->keys[i].keys;
	}
	return found;
}

/* The plain length of a sealed datagram opened with any keys agreed for its session, or
 * negative: the keys may be unknown to the harness (their HELLO_ACK left the table, or
 * answered an ephemeral key the fuzzer wrote), so failing to open proves nothing. */
static int opens_with_known_keys(const struct harness *h, uint32_t session_id,
				 const uint8_t *buf, size_t len, uint8_t *out, size_t cap)
{
	int result = -1;
	for (size_t i = 0; i < h->key_count; i++) {
		if (h->keys[i].session_id != session_id)
			continue;
		int n = braid_wire_open(buf, len, h->keys[i].keys.reverse, out, cap);
		if (n >= 0)
			return n;
		result = BRAID_ERR_AUTH;
	}
	return result;
}

/* A HELLO_ACK to the harness's ephemeral key tells the keys of that exchange, as it would
 * tell a real sender. */
static void learn_key(struct harness *h, const struct braid_packet *ack)
{
	const struct braid_hello_ack *a = &ack->body.hello_ack;
	if (memcmp(a->sender_ephemeral, h->public_key, 32) != 0)
		return;
	bool exchange = false;
	for (int i = 0; i < 32; i++)
		exchange |= a->receiver_ephemeral[i] != 0;
	if (!exchange)
		return; /* a refusal (another latency budget): no key of the receiver's */
	struct session_key *slot = &h->keys[h->key_next];
	h->key_next = (h->key_next + 1) % KEY_SLOTS;
	if (h->key_count < KEY_SLOTS)
		h->key_count++;
	slot->session_id = ack->header.session_id;
	FUZZ_REQUIRE(braid__derive_keys(h->psk_key, h->secret, a->receiver_ephemeral,
					h->public_key, a->receiver_ephemeral,
					ack->header.session_id, &slot->keys));
}

static void check_transmitted(struct harness *h, const uint8_t *buf, size_t len)
{
	static uint8_t opened[BRAID_MAX_DATAGRAM];
	struct braid_header hd;
	FUZZ_REQUIRE(braid_wire_peek(buf, len, &hd) == 0);
	bool keyed = hd.flags & BRAID_FLAG_KEYED;
	FUZZ_REQUIRE(keyed == (h->psk != NULL));
	struct braid_packet p;
	if (braid_wire_is_sealed(&hd)) {
		uint64_t pn;
		FUZZ_REQUIRE(braid_wire_packet_number(buf, len, &pn) == 0);
		int n = opens_with_known_keys(h, hd.session_id, buf, len, opened, sizeof(opened));
		if (n >= 0)
			FUZZ_REQUIRE(braid_wire_decode(opened, (size_t)n, &p) == 0);
		return;
	}
	FUZZ_REQUIRE(braid_wire_decode(buf, len, &p) == 0);
	if (p.header.type == BRAID_PKT_HELLO_ACK && h->psk) {
		FUZZ_REQUIRE(braid_wire_check_mac(buf, len, h->psk_key) == 0);
		learn_key(h, &p);
	}
}

static void drain(struct harness *h)
{
	struct braid_addr to;
	size_t n;
	while (braid_receiver_poll_transmit(h->r, h->now, &to, h->out, sizeof(h->out), &n) == 1)
		check_transmitted(h, h->out, n);
	uint32_t session_id;
	while (braid_receiver_poll_output(h->r, h->now, &session_id, h->out, sizeof(h->out),
					  &n) == 1)
		FUZZ_REQUIRE(n <= BRAID_MAX_PAYLOAD);
	struct braid_event ev;
	while (braid_receiver_poll_event(h->r, &ev))
		;
}

static uint64_t next_timeout(const void *core)
{
	return braid_receiver_next_timeout(core);
}

static void handle_timeout(void *core, uint64_t now_us)
{
	braid_receiver_handle_timeout(core, now_us);
}

static void drain_harness(void *h)
{
	drain(h);
}

/* Moves time forward, handling each timeout at the moment it falls due. */
static void advance(struct harness *h, uint64_t step_us)
{
	struct fuzz_clocked c = { h->r, next_timeout, handle_timeout, drain_harness, h };
	fuzz_advance(&c, &h->now, step_us);
}

static void set_addr(struct braid_addr *a, uint32_t ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	a->u.in4.sin_addr.s_addr = htonl(ip);
	a->u.in4.sin_port = htons(port);
	a->len = sizeof(a->u.in4);
}

/* The COOKIE the receiver queued for the harness's first address, into cookie. */
static void take_cookie(struct harness *h, uint8_t cookie[BRAID_COOKIE_SIZE])
{
	struct braid_addr to;
	size_t n;
	bool found = false;
	while (braid_receiver_poll_transmit(h->r, h->now, &to, h->out, sizeof(h->out), &n) == 1) {
		struct braid_packet c;
		if (braid_wire_decode(h->out, n, &c) == 0 && c.header.type == BRAID_PKT_COOKIE) {
			memcpy(cookie, c.body.cookie.cookie, BRAID_COOKIE_SIZE);
			found = true;
		}
	}
	FUZZ_REQUIRE(found);
}

static void say_hello(struct harness *h)
{
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO, .link_id = 0,
					      .session_id = SESSION_ID } };
	memcpy(p.body.hello.sender_nonce, SENDER_NONCE, BRAID_NONCE_SIZE);
	memcpy(p.body.hello.ephemeral, h->public_key, 32);
	p.body.hello.wall_us = WALL_ANCHOR_US + (h->now - START_US);
	p.body.hello.timestamp_us = (uint32_t)h->now;
	p.body.hello.latency_us = h->latency_us; /* another budget is refused */
	p.body.hello.name_len = 4;
	memcpy(p.body.hello.name, "lte0", 5);
	struct braid_wire_key key = { .mac_key = h->psk_key };
	int n = braid_wire_encode(&p, h->psk ? &key : NULL, h->in, sizeof(h->in));
	FUZZ_REQUIRE(n > 0);
	int rc = braid_receiver_handle_datagram(h->r, &h->addrs[0], h->in, (size_t)n, 0, h->now);
	if (!h->psk) { /* unkeyed: the address proves itself with the COOKIE it gets back */
		FUZZ_REQUIRE(rc == BRAID_ERR_AGAIN);
		take_cookie(h, p.body.hello.ephemeral);
		n = braid_wire_encode(&p, NULL, h->in, sizeof(h->in));
		rc = braid_receiver_handle_datagram(h->r, &h->addrs[0], h->in, (size_t)n, 0,
						    h->now);
	}
	FUZZ_REQUIRE(rc == 0);
	drain(h);
}

/* A HELLO the fuzzer wrote, made one the receiver could take: the harness's key, now. */
static void fix_hello(struct harness *h, size_t len)
{
	if ((h->in[0] & 0x0f) != BRAID_PKT_HELLO || len < 8 + 48)
		return;
	memcpy(h->in + 16, h->public_key, 32);
	uint64_t wall = WALL_ANCHOR_US + (h->now - START_US);
	for (int i = 0; i < 8; i++)
		h->in[48 + i] = (uint8_t)(wall >> (56 - 8 * i));
}

static void feed(struct harness *h, const struct fuzz_record *rec)
{
	static const uint8_t no_key[32];
	size_t len = rec->len;
	memcpy(h->in, rec->bytes, len);
	if ((rec->ctl & CTL_FIX) && len >= 8) {
		fuzz_put32(h->in + 4, SESSION_ID);
		fix_hello(h, len);
	}
	if (rec->ctl & CTL_SIGN) {
		const struct braid__exchange_keys *keys =
			len >= 8 ? key_of(h, (uint32_t)h->in[4] << 24 | (uint32_t)h->in[5] << 16 |
					     (uint32_t)h->in[6] << 8 | h->in[7])
				 : NULL;
		len = fuzz_sign(h->in, len, h->psk_key, keys ? keys->forward : no_key,
				h->next_pn++);
	}
	const struct braid_addr *from = &h->addrs[(rec->ctl & CTL_ALT_ADDR) ? 1 : 0];
	/* A heap copy of exactly the datagram's size, so any read past it is seen. */
	uint8_t *exact = malloc(len ? len : 1);
	FUZZ_REQUIRE(exact != NULL);
	memcpy(exact, h->in, len);
	unsigned flags = (rec->ctl & CTL_TRUNCATED) ? BRAID_DATAGRAM_TRUNCATED : 0;
	struct braid_receiver_stats before, after;
	braid_receiver_get_stats(h->r, &before);
	int rc = braid_receiver_handle_datagram(h->r, from, exact, len, flags, h->now);
	braid_receiver_get_stats(h->r, &after);
	free(exact);
	if (flags)
		FUZZ_REQUIRE(rc < 0 && after.drops.truncated == before.drops.truncated + 1);
	drain(h);
	if (rec->ctl & CTL_REVERSE) {
		(void)braid_receiver_send_reverse(h->r, SESSION_ID, rec->bytes, rec->len, h->now);
		drain(h);
	}
}

static void read_stats(struct harness *h)
{
	struct braid_receiver_stats st;
	braid_receiver_get_stats(h->r, &st);
	uint32_t ids[8];
	size_t n = braid_receiver_sessions(h->r, ids, 8);
	for (size_t i = 0; i < n && i < 8; i++) {
		struct braid_session_stats ss;
		struct braid_link_stats links[4];
		size_t link_count;
		FUZZ_REQUIRE(braid_receiver_session_stats(h->r, ids[i], &ss, links, 4,
							  &link_count) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct harness *h = calloc(1, sizeof(*h));
	FUZZ_REQUIRE(h);
	bool keyed = data[0] & 1;
	struct braid_receiver_settings set;
	braid_receiver_settings_default(&set);
	set.psk = keyed ? PSK : NULL;
	set.psk_len = keyed ? sizeof(PSK) - 1 : 0;
	set.latency_us = LATENCIES[(data[0] >> 1) & 3];
	set.session_timeout_us = 3000000;
	set.max_sessions = 4;      /* small, so the fuzzer can fill them */
	set.reorder_capacity = 256;
	set.seed = 0x5eed;
	memset(set.key_seed, 0x42, sizeof(set.key_seed));
	set.wall_clock_us = WALL_ANCHOR_US;
	h->psk = set.psk;
	h->psk_len = set.psk_len;
	h->latency_us = (uint32_t)set.latency_us;
	braid__psk_key(PSK, sizeof(PSK) - 1, h->psk_key); /* signs even unkeyed: refused */
	braid__ephemeral_keypair(SENDER_SEED, 0, h->secret, h->public_key);
	h->now = START_US;
	set_addr(&h->addrs[0], 0xc0000201, 5000);
	set_addr(&h->addrs[1], 0xc6336402, 6000);
	h->r = braid_receiver_new(&set, h->now);
	FUZZ_REQUIRE(h->r);

	say_hello(h);
	struct fuzz_reader rd = { data + 1, size - 1 };
	struct fuzz_record rec;
	while (fuzz_next_record(&rd, &rec)) {
		advance(h, rec.step_us);
		feed(h, &rec);
	}
	read_stats(h);
	braid_receiver_flush(h->r);
	drain(h);
	braid_receiver_free(h->r);
	free(h);
	return 0;
}
