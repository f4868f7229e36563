/* A sender with two links registered by a valid handshake, then the fuzzer's datagrams
 * from the receiver side, media pushed, time moving, every poll drained. The first byte
 * picks a PSK or none, the scheduling mode and the latency budget.
 *
 * Record ctl bits (see fuzz_input.h):
 *   0x01  sign: set KEYED and protect it (a MAC on HELLO_ACK, else sealed with the keys
 *         the harness agreed through its HELLO_ACKs)
 *   0x02  fix: overwrite link and session ids, and for PROBE_REPLY / HELLO_ACK the echoed
 *         fields (a HELLO_ACK's ephemeral keys too: the sender's current one and the
 *         harness's), with what the sender last sent on that link
 *   0x04  deliver on the second link rather than the first
 *   0x08  afterwards, push the bytes as media
 *   0x30  0x10: replace the chosen link by a new one; 0x20: close the sender
 *
 * Invariants checked: every datagram the sender emits is keyed exactly when a PSK is set,
 * goes out on a link that exists, and decodes: a HELLO with a valid MAC, a sealed one
 * once opened with the keys agreed (when the harness agreed them); handling due timeouts makes progress (see
 * fuzz_tolerate_stall). Datagrams are only delivered on links that exist: an id the sender
 * never gave out is outside its contract. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/sender.h"
#include "core/crypto.h"
#include "core/wire.h"
#include "fuzz_input.h"

#define SESSION_ID 0x5eed0002u
#define LINKS 2
#define CTL_SIGN 0x01
#define CTL_FIX 0x02
#define CTL_SECOND 0x04
#define CTL_PUSH 0x08
#define CTL_OP_MASK 0x30
#define CTL_OP_REPLACE 0x10
#define CTL_OP_CLOSE 0x20
#define CTL_TRUNCATED 0x40 /* passed as cut short by the receive buffer */

static const uint8_t PSK[] = "fuzz pre-shared key";
static const uint8_t SENDER_NONCE[BRAID_NONCE_SIZE] = { 's', 'e', 'n', 'd', 'e', 'r', '0', '2' };
static const uint8_t RECEIVER_NONCE[BRAID_NONCE_SIZE] = { 'r', 'e', 'c', 'v', '0', '0', '0', '1' };
static const uint64_t LATENCIES[4] = { 0, 20000, 200000, 1000000 };
static const uint8_t RECEIVER_SEED[32] = "the fuzz harness's receiver key";

/* What the harness saw go out on a link, for answers that echo it. */
struct link_view {
	uint16_t id;
	uint32_t hello_ts;
	uint8_t hello_ephemeral[32]; /* the sender's exchange in its latest HELLO */
	uint32_t probe_seq, probe_ts;
};

struct harness {
	struct braid_sender *s;
	const uint8_t *psk;
	size_t psk_len;
	uint8_t psk_key[32];
	uint8_t secret[32], public_key[32]; /* the harness's ephemeral key, as a receiver */
	/* the exchange the sender last agreed to, and its keys when the harness knows them
	 * (the fuzzer may have had an answer with another ephemeral key accepted) */
	uint8_t agreed_ephemeral[32];
	bool has_agreed, keys_known;
	struct braid__exchange_keys keys;
	uint64_t next_pn;
	uint64_t now;
	uint32_t latency_us; /* the sender's budget: the HELLO_ACKs carry the same */
	struct link_view links[LINKS];
	unsigned names_used;
	uint8_t in[FUZZ_BUF_SIZE];
	uint8_t out[BRAID_MAX_DATAGRAM];
};

static struct link_view *view_of(struct harness *h, uint16_t id)
{
	for (size_t i = 0; i < LINKS; i++)
		if (h->links[i].id == id)
			return &h->links[i];
	return NULL;
}

static void check_transmitted(struct harness *h, uint16_t link_id, const uint8_t *buf,
			      size_t len)
{
	static uint8_t opened[BRAID_MAX_DATAGRAM];
	struct braid_header hd;
	FUZZ_REQUIRE(braid_wire_peek(buf, len, &hd) == 0);
	FUZZ_REQUIRE(hd.link_id == link_id && hd.session_id == SESSION_ID);
	bool keyed = hd.flags & BRAID_FLAG_KEYED;
	FUZZ_REQUIRE(keyed == (h->psk != NULL));
	struct link_view *v = view_of(h, link_id);
	FUZZ_REQUIRE(v);
	struct braid_packet p;
	if (braid_wire_is_sealed(&hd)) {
		uint64_t pn;
		FUZZ_REQUIRE(braid_wire_packet_number(buf, len, &pn) == 0);
		if (!h->keys_known)
			return;
		int n = braid_wire_open(buf, len, h->keys.forward, opened, sizeof(opened));
		FUZZ_REQUIRE(n > 0);
		FUZZ_REQUIRE(braid_wire_decode(opened, (size_t)n, &p) == 0);
	} else {
		FUZZ_REQUIRE(braid_wire_decode(buf, len, &p) == 0);
		if (keyed)
			FUZZ_REQUIRE(braid_wire_check_mac(buf, len, h->psk_key) == 0);
	}
	if (p.header.type == BRAID_PKT_HELLO) {
		v->hello_ts = p.body.hello.timestamp_us;
		memcpy(v->hello_ephemeral, p.body.hello.ephemeral, 32);
	} else if (p.header.type == BRAID_PKT_PROBE) {
		v->probe_seq = p.body.probe.probe_seq;
		v->probe_ts = p.body.probe.timestamp_us;
	}
}

static void drain(struct harness *h)
{
	uint16_t link_id;
	size_t n;
	while (braid_sender_poll_transmit(h->s, h->now, &link_id, h->out, sizeof(h->out), &n) == 1)
		check_transmitted(h, link_id, h->out, n);
	while (braid_sender_poll_reverse(h->s, h->now, h->out, sizeof(h->out), &n) == 1)
		;
	struct braid_event ev;
	while (braid_sender_poll_event(h->s, &ev))
		;
}

static uint64_t next_timeout(const void *core)
{
	return braid_sender_next_timeout(core);
}

static void handle_timeout(void *core, uint64_t now_us)
{
	braid_sender_handle_timeout(core, now_us);
}

static void drain_harness(void *h)
{
	drain(h);
}

/* Moves time forward, handling each timeout at the moment it falls due. */
static void advance(struct harness *h, uint64_t step_us)
{
	struct fuzz_clocked c = { h->s, next_timeout, handle_timeout, drain_harness, h };
	fuzz_advance(&c, &h->now, step_us);
}

static void add_link(struct harness *h, size_t index)
{
	char name[16];
	snprintf(name, sizeof(name), "link%u", h->names_used++);
	struct braid_link_config cfg = { .name = name, .weight = (uint32_t)index + 1,
					 .priority = (uint32_t)index };
	int id = braid_sender_add_link(h->s, &cfg, h->now);
	FUZZ_REQUIRE(id >= 0);
	h->links[index] = (struct link_view){ .id = (uint16_t)id };
}

/* An accepted HELLO_ACK for a new exchange decides the keys: mirror it as the sender does.
 * The harness knows them when the answer carries its own ephemeral key. */
static void note_accepted_ack(struct harness *h, const uint8_t *buf, size_t len)
{
	struct braid_packet p;
	if (!h->psk || braid_wire_decode(buf, len, &p) < 0 || p.header.type != BRAID_PKT_HELLO_ACK)
		return;
	const struct braid_hello_ack *a = &p.body.hello_ack;
	if (h->has_agreed && memcmp(h->agreed_ephemeral, a->sender_ephemeral, 32) == 0)
		return; /* the exchange agreed already: the keys stay */
	memcpy(h->agreed_ephemeral, a->sender_ephemeral, 32);
	h->has_agreed = true;
	h->keys_known = memcmp(a->receiver_ephemeral, h->public_key, 32) == 0 &&
			braid__derive_keys(h->psk_key, h->secret, a->sender_ephemeral,
					   a->sender_ephemeral, h->public_key, SESSION_ID, &h->keys);
}

static int deliver_flags(struct harness *h, uint16_t link_id, size_t len, unsigned flags)
{
	/* A heap copy of exactly the datagram's size, so any read past it is seen. */
	uint8_t *exact = malloc(len ? len : 1);
	FUZZ_REQUIRE(exact != NULL);
	memcpy(exact, h->in, len);
	int rc = braid_sender_handle_datagram(h->s, link_id, exact, len, flags, h->now);
	free(exact);
	if (flags)
		FUZZ_REQUIRE(rc < 0);
	if (rc == 0)
		note_accepted_ack(h, h->in, len);
	drain(h);
	return rc;
}

static int deliver(struct harness *h, uint16_t link_id, size_t len)
{
	return deliver_flags(h, link_id, len, 0);
}

static void handshake(struct harness *h)
{
	braid_sender_handle_timeout(h->s, h->now); /* both links say HELLO */
	drain(h);
	h->now += 20000;
	for (size_t i = 0; i < LINKS; i++) {
		struct braid_packet ack = { .header = { .type = BRAID_PKT_HELLO_ACK,
							.link_id = h->links[i].id,
							.session_id = SESSION_ID } };
		memcpy(ack.body.hello_ack.sender_nonce, SENDER_NONCE, BRAID_NONCE_SIZE);
		memcpy(ack.body.hello_ack.receiver_nonce, RECEIVER_NONCE, BRAID_NONCE_SIZE);
		memcpy(ack.body.hello_ack.sender_ephemeral, h->links[i].hello_ephemeral, 32);
		memcpy(ack.body.hello_ack.receiver_ephemeral, h->public_key, 32);
		ack.body.hello_ack.echo_timestamp_us = h->links[i].hello_ts;
		ack.body.hello_ack.latency_us = h->latency_us; /* another budget is a refusal */
		struct braid_wire_key key = { .mac_key = h->psk_key };
		int n = braid_wire_encode(&ack, h->psk ? &key : NULL, h->in, sizeof(h->in));
		FUZZ_REQUIRE(n > 0);
		FUZZ_REQUIRE(deliver(h, h->links[i].id, (size_t)n) == 0);
	}
}

static void fix_fields(struct harness *h, const struct link_view *v, size_t len)
{
	if (len < 8)
		return;
	fuzz_put16(h->in + 2, v->id);
	fuzz_put32(h->in + 4, SESSION_ID);
	uint8_t type = h->in[0] & 0x0f;
	if (type == BRAID_PKT_PROBE_REPLY && len >= 16) {
		fuzz_put32(h->in + 8, v->probe_seq);
		fuzz_put32(h->in + 12, v->probe_ts);
	} else if (type == BRAID_PKT_HELLO_ACK && len >= 92) {
		memcpy(h->in + 8, SENDER_NONCE, BRAID_NONCE_SIZE);
		memcpy(h->in + 24, v->hello_ephemeral, 32);
		memcpy(h->in + 56, h->public_key, 32);
		fuzz_put32(h->in + 88, v->hello_ts);
	}
}

static void feed(struct harness *h, const struct fuzz_record *rec)
{
	size_t index = (rec->ctl & CTL_SECOND) ? 1 : 0;
	const struct link_view *v = &h->links[index];
	size_t len = rec->len;
	memcpy(h->in, rec->bytes, len);
	if (rec->ctl & CTL_FIX)
		fix_fields(h, v, len);
	if (rec->ctl & CTL_SIGN)
		len = fuzz_sign(h->in, len, h->psk_key, h->keys.reverse, h->next_pn++);
	(void)deliver_flags(h, v->id, len, (rec->ctl & CTL_TRUNCATED) ? BRAID_DATAGRAM_TRUNCATED : 0);
	if (rec->ctl & CTL_PUSH) {
		(void)braid_sender_push(h->s, rec->bytes, rec->len, h->now);
		drain(h);
	}
	if ((rec->ctl & CTL_OP_MASK) == CTL_OP_REPLACE) {
		FUZZ_REQUIRE(braid_sender_remove_link(h->s, v->id, h->now) == 0);
		add_link(h, index);
		drain(h);
	} else if ((rec->ctl & CTL_OP_MASK) == CTL_OP_CLOSE) {
		braid_sender_close(h->s, h->now);
		drain(h);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct harness *h = calloc(1, sizeof(*h));
	FUZZ_REQUIRE(h);
	bool keyed = data[0] & 1;
	struct braid_sender_settings set;
	braid_sender_settings_default(&set);
	set.mode = (enum braid_mode)((data[0] >> 1) % BRAID_MODE_COUNT);
	set.latency_us = LATENCIES[(data[0] >> 4) & 3];
	h->latency_us = (uint32_t)set.latency_us;
	set.psk = keyed ? PSK : NULL;
	set.psk_len = keyed ? sizeof(PSK) - 1 : 0;
	set.session_id = SESSION_ID;
	memcpy(set.nonce, SENDER_NONCE, BRAID_NONCE_SIZE);
	set.history_packets = 256;
	memset(set.key_seed, 0x24, sizeof(set.key_seed));
	set.wall_clock_us = UINT64_C(1700000000000000);
	h->psk = set.psk;
	h->psk_len = set.psk_len;
	h->now = 1000000;
	braid__psk_key(PSK, sizeof(PSK) - 1, h->psk_key); /* signs even unkeyed: refused */
	braid__ephemeral_keypair(RECEIVER_SEED, 0, h->secret, h->public_key);
	h->s = braid_sender_new(&set, h->now);
	FUZZ_REQUIRE(h->s);
	for (size_t i = 0; i < LINKS; i++)
		add_link(h, i);

	handshake(h);
	struct fuzz_reader rd = { data + 1, size - 1 };
	struct fuzz_record rec;
	while (fuzz_next_record(&rd, &rec)) {
		advance(h, rec.step_us);
		feed(h, &rec);
	}
	struct braid_sender_stats st;
	braid_sender_get_stats(h->s, &st);
	struct braid_link_stats links[LINKS];
	FUZZ_REQUIRE(braid_sender_get_link_stats(h->s, links, LINKS) == LINKS);
	braid_sender_close(h->s, h->now);
	drain(h);
	braid_sender_free(h->s);
	free(h);
	return 0;
}
