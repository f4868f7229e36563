/* A receiver fed a valid HELLO, then the fuzzer's datagrams, with time moving and every
 * poll drained after each step. The first byte picks a PSK or none and the latency budget.
 *
 * Record ctl bits (see fuzz_input.h):
 *   0x01  sign: set KEYED and append the right tag (the harness knows every session key
 *         from the HELLO_ACKs the receiver sends)
 *   0x02  fix: overwrite the session id with the seeded session's
 *   0x04  from the second address (NAT rebinding)
 *   0x08  afterwards, send the bytes back as reverse traffic of the seeded session
 *
 * Invariants checked: every datagram the receiver emits decodes and, when keyed, carries
 * a valid tag; released media fits BRAID_MAX_PAYLOAD; handling due timeouts makes progress
 * (see fuzz_tolerate_stall). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/receiver.h"
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

struct session_key {
	uint32_t session_id;
	uint8_t key[16];
};

struct harness {
	struct braid_receiver *r;
	const uint8_t *psk;
	size_t psk_len;
	uint64_t now;
	struct session_key keys[KEY_SLOTS];
	size_t key_count, key_next;
	struct braid_addr addrs[2];
	uint8_t in[FUZZ_BUF_SIZE];
	uint8_t out[BRAID_MAX_DATAGRAM];
};

static const uint8_t *key_of(const struct harness *h, uint32_t session_id)
{
	for (size_t i = 0; i < h->key_count; i++)
		if (h->keys[i].session_id == session_id)
			return h->keys[i].key;
	return NULL;
}

/* A HELLO_ACK tells the key of its session, as it would tell a real sender. */
static void learn_key(struct harness *h, const struct braid_packet *ack)
{
	struct session_key *slot = NULL;
	for (size_t i = 0; i < h->key_count && !slot; i++)
		if (h->keys[i].session_id == ack->header.session_id)
			slot = &h->keys[i];
	if (!slot) {
		slot = &h->keys[h->key_next];
		h->key_next = (h->key_next + 1) % KEY_SLOTS;
		if (h->key_count < KEY_SLOTS)
			h->key_count++;
	}
	slot->session_id = ack->header.session_id;
	braid_wire_session_key(h->psk, h->psk_len, ack->header.session_id,
			       ack->body.hello_ack.sender_nonce, ack->body.hello_ack.receiver_nonce,
			       slot->key);
}

static void check_transmitted(struct harness *h, const uint8_t *buf, size_t len)
{
	struct braid_packet p;
	FUZZ_REQUIRE(braid_wire_decode(buf, len, &p) == 0);
	bool keyed = p.header.flags & BRAID_FLAG_KEYED;
	FUZZ_REQUIRE(keyed == (h->psk != NULL));
	if (p.header.type == BRAID_PKT_HELLO_ACK && h->psk) {
		FUZZ_REQUIRE(braid_wire_check_tag(buf, len, h->psk, h->psk_len) == 0);
		learn_key(h, &p);
	} else if (keyed) {
		const uint8_t *key = key_of(h, p.header.session_id);
		if (key) /* unknown when its HELLO_ACK left the table */
			FUZZ_REQUIRE(braid_wire_check_tag(buf, len, key, 16) == 0);
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

static void say_hello(struct harness *h)
{
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO, .link_id = 0,
					      .session_id = SESSION_ID } };
	memcpy(p.body.hello.sender_nonce, SENDER_NONCE, BRAID_NONCE_SIZE);
	p.body.hello.timestamp_us = (uint32_t)h->now;
	p.body.hello.name_len = 4;
	memcpy(p.body.hello.name, "lte0", 5);
	int n = braid_wire_encode(&p, h->psk, h->psk_len, h->in, sizeof(h->in));
	FUZZ_REQUIRE(n > 0);
	FUZZ_REQUIRE(braid_receiver_handle_datagram(h->r, &h->addrs[0], h->in, (size_t)n, 0,
						    h->now) == 0);
	drain(h);
}

static void feed(struct harness *h, const struct fuzz_record *rec)
{
	static const uint8_t no_key[16];
	size_t len = rec->len;
	memcpy(h->in, rec->bytes, len);
	if ((rec->ctl & CTL_FIX) && len >= 8)
		fuzz_put32(h->in + 4, SESSION_ID);
	if (rec->ctl & CTL_SIGN) {
		const uint8_t *key = len >= 8 ? key_of(h, (uint32_t)h->in[4] << 24 |
						     (uint32_t)h->in[5] << 16 |
						     (uint32_t)h->in[6] << 8 | h->in[7])
					      : NULL;
		len = fuzz_sign(h->in, len, h->psk ? h->psk : PSK,
				h->psk ? h->psk_len : sizeof(PSK) - 1, key ? key : no_key);
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
	h->psk = set.psk;
	h->psk_len = set.psk_len;
	h->now = 1000000;
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
