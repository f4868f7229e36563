/* The wire format of src/core/wire.h: exact byte layouts, round trips of every type,
 * every truncation, every rejected field, MACs and sealing and their failures, and the
 * extension of wrapping counters. Layouts are written out by hand from the specification;
 * MACs and seals are recomputed here with the crypto wrappers (tested in test_crypto). */
#include "core/crypto.h"
#include "braid/error.h"
#include "core/wire.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MAC_KEY[32] = "handshake mac key, 32 bytes long";
static const uint8_t AEAD_KEY[32] = "sealing key for tests, 32 bytes.";
static const uint8_t PAYLOAD[] = { 'm', 'e', 'd', 'i', 'a', 0x00, 0xff };
#define SAMPLE_PN UINT64_C(0x0102030405060708)

static const struct braid_wire_key KEY = { MAC_KEY, AEAD_KEY, SAMPLE_PN };

static int is_handshake(uint8_t type)
{
	return type == BRAID_PKT_HELLO || type == BRAID_PKT_HELLO_ACK;
}

/* What protection adds: a MAC on the handshake, a packet number and a tag elsewhere. */
static size_t tag_len_for(uint8_t type)
{
	return is_handshake(type) ? 16 : 24;
}

/* A packet of the given type with a distinct value in every field. */
static struct braid_packet sample(uint8_t type)
{
	struct braid_packet p;
	memset(&p, 0, sizeof(p));
	p.header.type = type;
	p.header.link_id = 0x1234;
	p.header.session_id = 0xdeadbeef;
	switch (type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		p.body.data.seq = 0x01020304;
		p.body.data.timestamp_us = 0xa0b0c0d0;
		p.body.data.payload = PAYLOAD;
		p.body.data.payload_len = sizeof(PAYLOAD);
		break;
	case BRAID_PKT_HELLO:
		for (int i = 0; i < BRAID_NONCE_SIZE; i++)
			p.body.hello.sender_nonce[i] = (uint8_t)(0x41 + i);
		for (int i = 0; i < BRAID_EPHEMERAL_SIZE; i++)
			p.body.hello.ephemeral[i] = (uint8_t)(0x80 + i);
		p.body.hello.wall_us = 0x0001020304050607;
		p.body.hello.timestamp_us = 0x11223344;
		p.body.hello.latency_us = 1000000;
		p.body.hello.name_len = 4;
		memcpy(p.body.hello.name, "lte0", 5);
		break;
	case BRAID_PKT_HELLO_ACK:
		for (int i = 0; i < BRAID_NONCE_SIZE; i++) {
			p.body.hello_ack.sender_nonce[i] = (uint8_t)(0x41 + i);
			p.body.hello_ack.receiver_nonce[i] = (uint8_t)(0x61 + i);
		}
		for (int i = 0; i < BRAID_EPHEMERAL_SIZE; i++) {
			p.body.hello_ack.sender_ephemeral[i] = (uint8_t)(0x80 + i);
			p.body.hello_ack.receiver_ephemeral[i] = (uint8_t)(0xa0 + i);
		}
		p.body.hello_ack.echo_timestamp_us = 0x55667788;
		p.body.hello_ack.latency_us = 300000;
		break;
	case BRAID_PKT_PROBE:
		p.body.probe.probe_seq = 0x0000abcd;
		p.body.probe.timestamp_us = 0xfedcba98;
		p.body.probe.rtt_us = 0x00012345;
		p.body.probe.sent_through = 0x00067890;
		break;
	case BRAID_PKT_PROBE_REPLY:
		p.body.probe_reply.probe_seq = 0x01000002;
		p.body.probe_reply.echo_timestamp_us = 0x03000004;
		p.body.probe_reply.received = 0x05000006;
		p.body.probe_reply.jitter_us = 0x07000008;
		p.body.probe_reply.received_bytes = 0x0900000a;
		p.body.probe_reply.arrival_us = 0x0b00000c;
		break;
	case BRAID_PKT_NACK:
		p.body.nack.range_count = 2;
		p.body.nack.ranges[0] = (struct braid_nack_range){ 0x10203040, 3 };
		p.body.nack.ranges[1] = (struct braid_nack_range){ 0xfffffffe, 0xffff };
		break;
	case BRAID_PKT_COOKIE:
		for (int i = 0; i < BRAID_COOKIE_SIZE; i++)
			p.body.cookie.cookie[i] = (uint8_t)(0xc0 + i);
		p.body.cookie.echo_timestamp_us = 0x11223344;
		break;
	default:
		break;
	}
	return p;
}

/* Compares every field the type carries; payloads by content. */
static int same_packet(const struct braid_packet *a, const struct braid_packet *b)
{
	if (a->header.type != b->header.type || a->header.link_id != b->header.link_id ||
	    a->header.session_id != b->header.session_id ||
	    (a->header.flags & BRAID_FLAG_RETRANSMIT) != (b->header.flags & BRAID_FLAG_RETRANSMIT))
		return 0;
	switch (a->header.type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		return a->body.data.seq == b->body.data.seq &&
		       a->body.data.timestamp_us == b->body.data.timestamp_us &&
		       a->body.data.payload_len == b->body.data.payload_len &&
		       (a->body.data.payload_len == 0 ||
			memcmp(a->body.data.payload, b->body.data.payload,
			       a->body.data.payload_len) == 0);
	case BRAID_PKT_HELLO:
		return memcmp(a->body.hello.sender_nonce, b->body.hello.sender_nonce,
			      BRAID_NONCE_SIZE) == 0 &&
		       memcmp(a->body.hello.ephemeral, b->body.hello.ephemeral,
			      BRAID_EPHEMERAL_SIZE) == 0 &&
		       a->body.hello.wall_us == b->body.hello.wall_us &&
		       a->body.hello.timestamp_us == b->body.hello.timestamp_us &&
		       a->body.hello.latency_us == b->body.hello.latency_us &&
		       a->body.hello.name_len == b->body.hello.name_len &&
		       strcmp(a->body.hello.name, b->body.hello.name) == 0;
	case BRAID_PKT_HELLO_ACK:
		return memcmp(&a->body.hello_ack, &b->body.hello_ack,
			      2 * BRAID_NONCE_SIZE + 2 * BRAID_EPHEMERAL_SIZE) == 0 &&
		       a->body.hello_ack.echo_timestamp_us == b->body.hello_ack.echo_timestamp_us &&
		       a->body.hello_ack.latency_us == b->body.hello_ack.latency_us;
	case BRAID_PKT_PROBE:
		return a->body.probe.probe_seq == b->body.probe.probe_seq &&
		       a->body.probe.timestamp_us == b->body.probe.timestamp_us &&
		       a->body.probe.rtt_us == b->body.probe.rtt_us &&
		       a->body.probe.sent_through == b->body.probe.sent_through;
	case BRAID_PKT_PROBE_REPLY:
		return memcmp(&a->body.probe_reply, &b->body.probe_reply,
			      sizeof(a->body.probe_reply)) == 0;
	case BRAID_PKT_NACK:
		if (a->body.nack.range_count != b->body.nack.range_count)
			return 0;
		for (unsigned i = 0; i < a->body.nack.range_count; i++)
			if (a->body.nack.ranges[i].first != b->body.nack.ranges[i].first ||
			    a->body.nack.ranges[i].count != b->body.nack.ranges[i].count)
				return 0;
		return 1;
	case BRAID_PKT_COOKIE:
		return memcmp(&a->body.cookie, &b->body.cookie, sizeof(a->body.cookie)) == 0;
	default:
		return 1;
	}
}

static int encode_sample(uint8_t type, int keyed, uint8_t *buf, size_t cap)
{
	struct braid_packet p = sample(type);
	return braid_wire_encode(&p, keyed ? &KEY : NULL, buf, cap);
}

/* A COOKIE exists only unkeyed: the keyed variants of the loops below skip it. */
static int keyed_form(uint8_t type, int keyed)
{
	return !(keyed && type == BRAID_PKT_COOKIE);
}

/* An exact-size heap copy, so any read past the end trips ASan. */
static uint8_t *dup_exact(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (copy && len)
		memcpy(copy, buf, len);
	return copy;
}

static uint8_t opened[BRAID_MAX_DATAGRAM];

/* Decodes a datagram, opening it first with AEAD_KEY when sealed (the plain datagram is
 * in `opened` then). */
static int open_and_decode(const uint8_t *buf, size_t len, struct braid_packet *out)
{
	struct braid_header h;
	if (braid_wire_peek(buf, len, &h) == 0 && braid_wire_is_sealed(&h)) {
		int n = braid_wire_open(buf, len, AEAD_KEY, opened, sizeof(opened));
		if (n < 0)
			return n;
		return braid_wire_decode(opened, (size_t)n, out);
	}
	return braid_wire_decode(buf, len, out);
}

/* Decodes from an exact-size copy; payload pointers in *out are not usable afterwards. */
static int decode_exact(const uint8_t *buf, size_t len, struct braid_packet *out)
{
	uint8_t *copy = dup_exact(buf, len);
	if (!copy)
		return BRAID_ERR_NOMEM;
	int rc = open_and_decode(copy, len, out);
	free(copy);
	return rc;
}

/* Decodes an exact-size copy and compares the result with want. */
static int decodes_to(const uint8_t *buf, size_t len, const struct braid_packet *want)
{
	struct braid_packet out;
	memset(&out, 0xa5, sizeof(out));
	uint8_t *copy = dup_exact(buf, len);
	if (!copy)
		return 0;
	int ok = open_and_decode(copy, len, &out) == 0 && same_packet(want, &out);
	free(copy);
	return ok;
}

/* The MAC of a handshake packet, or the seal of any other, from an exact-size copy. */
static int check_tag_exact(const uint8_t *buf, size_t len, const uint8_t *mac_key,
			   const uint8_t *aead_key)
{
	uint8_t *copy = dup_exact(buf, len);
	if (!copy)
		return BRAID_ERR_NOMEM;
	struct braid_header h;
	int rc = braid_wire_peek(copy, len, &h);
	if (rc == 0 && is_handshake(h.type))
		rc = braid_wire_check_mac(copy, len, mac_key);
	else if (rc == 0)
		rc = braid_wire_open(copy, len, aead_key, opened, sizeof(opened));
	free(copy);
	return rc < 0 ? rc : 0;
}

static void test_data_layout(void)
{
	static const uint8_t want[] = {
		0x20, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, /* v2 DATA, flags, link, session */
		0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0, /* seq, timestamp */
		'm', 'e', 'd', 'i', 'a', 0x00, 0xff,
	};
	uint8_t buf[BRAID_MAX_DATAGRAM];
	int n = encode_sample(BRAID_PKT_DATA, 0, buf, sizeof(buf));
	CHECK_EQ(n, sizeof(want));
	CHECK(n == (int)sizeof(want) && memcmp(buf, want, sizeof(want)) == 0);

	struct braid_packet p = sample(BRAID_PKT_DATA);
	p.header.flags = BRAID_FLAG_RETRANSMIT;
	n = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	CHECK_EQ(n, sizeof(want));
	CHECK_EQ(buf[1], 0x02);
	CHECK(memcmp(buf + 2, want + 2, sizeof(want) - 2) == 0);

	/* Keyed: flag 0x01, the packet number, the body sealed, the tag. */
	n = braid_wire_encode(&p, &KEY, buf, sizeof(buf));
	CHECK_EQ(n, sizeof(want) + 24);
	CHECK_EQ(buf[0], 0x20);
	CHECK_EQ(buf[1], 0x03);
	CHECK(memcmp(buf + 2, want + 2, 6) == 0);
	static const uint8_t pn[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	CHECK(memcmp(buf + 8, pn, 8) == 0);
	uint8_t body[sizeof(want) - 8], tag[16];
	braid__aead_seal(AEAD_KEY, SAMPLE_PN, buf, 16, want + 8, sizeof(body), body, tag);
	CHECK(memcmp(buf + 16, body, sizeof(body)) == 0);
	CHECK(memcmp(buf + 16 + sizeof(body), tag, 16) == 0);

	p = sample(BRAID_PKT_REVERSE);
	n = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	CHECK_EQ(n, sizeof(want));
	CHECK_EQ(buf[0], 0x25);
	CHECK(memcmp(buf + 1, want + 1, sizeof(want) - 1) == 0);
}

/* The 32-byte ephemeral keys of the samples: 0x80, 0x81, ... (and 0xa0, ... ). */
static void put_key_run(uint8_t *p, uint8_t first)
{
	for (int i = 0; i < BRAID_EPHEMERAL_SIZE; i++)
		p[i] = (uint8_t)(first + i);
}

static void test_control_layouts(void)
{
	static const uint8_t hello_head[] = {
		0x21, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, /* sender nonce */
	};
	static const uint8_t hello_tail[] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, /* wall clock */
		0x11, 0x22, 0x33, 0x44, /* timestamp */
		0x00, 0x0f, 0x42, 0x40, /* latency: 1 s */
		0x04, 'l', 't', 'e', '0',
	};
	uint8_t hello[sizeof(hello_head) + 32 + sizeof(hello_tail)];
	memcpy(hello, hello_head, sizeof(hello_head));
	put_key_run(hello + 16, 0x80);
	memcpy(hello + 48, hello_tail, sizeof(hello_tail));
	static const uint8_t ack_head[] = {
		0x22, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
		0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
	};
	uint8_t ack[sizeof(ack_head) + 64 + 4 + 4];
	memcpy(ack, ack_head, sizeof(ack_head));
	put_key_run(ack + 24, 0x80);
	put_key_run(ack + 56, 0xa0);
	ack[88] = 0x55, ack[89] = 0x66, ack[90] = 0x77, ack[91] = 0x88;
	ack[92] = 0x00, ack[93] = 0x04, ack[94] = 0x93, ack[95] = 0xe0; /* latency: 300 ms */
	static const uint8_t probe[] = {
		0x23, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		0x00, 0x00, 0xab, 0xcd, 0xfe, 0xdc, 0xba, 0x98, 0x00, 0x01, 0x23, 0x45,
		0x00, 0x06, 0x78, 0x90,
	};
	static const uint8_t reply[] = {
		0x24, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		0x01, 0x00, 0x00, 0x02, 0x03, 0x00, 0x00, 0x04,
		0x05, 0x00, 0x00, 0x06, 0x07, 0x00, 0x00, 0x08, 0x09, 0x00, 0x00, 0x0a,
		0x0b, 0x00, 0x00, 0x0c,
	};
	static const uint8_t nack[] = {
		0x26, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x02,
		0x10, 0x20, 0x30, 0x40, 0x00, 0x03, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff,
	};
	static const uint8_t bye[] = { 0x27, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t cookie[] = {
		0x28, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
		0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0x11, 0x22, 0x33, 0x44,
	};
	const struct {
		uint8_t type;
		const uint8_t *bytes;
		size_t len;
	} cases[] = {
		{ BRAID_PKT_HELLO, hello, sizeof(hello) },
		{ BRAID_PKT_HELLO_ACK, ack, sizeof(ack) },
		{ BRAID_PKT_PROBE, probe, sizeof(probe) },
		{ BRAID_PKT_PROBE_REPLY, reply, sizeof(reply) },
		{ BRAID_PKT_NACK, nack, sizeof(nack) },
		{ BRAID_PKT_BYE, bye, sizeof(bye) },
		{ BRAID_PKT_COOKIE, cookie, sizeof(cookie) },
	};
	uint8_t buf[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = encode_sample(cases[i].type, 0, buf, sizeof(buf));
		CHECK_EQ(n, cases[i].len);
		CHECK(n == (int)cases[i].len && memcmp(buf, cases[i].bytes, cases[i].len) == 0);
	}
}

static void test_round_trip_every_type(void)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		for (int keyed = 0; keyed <= 1; keyed++) {
			if (!keyed_form(type, keyed))
				continue;
			struct braid_packet in = sample(type), out;
			int n = encode_sample(type, keyed, buf, sizeof(buf));
			CHECK(n >= 8);
			if (n < 8)
				continue;
			CHECK(decodes_to(buf, (size_t)n, &in));
			CHECK_EQ(decode_exact(buf, (size_t)n, &out), 0);
			struct braid_header h;
			CHECK_EQ(braid_wire_peek(buf, (size_t)n, &h), 0);
			CHECK_EQ(h.flags & BRAID_FLAG_KEYED, keyed ? BRAID_FLAG_KEYED : 0);
			CHECK_EQ(h.type, type);
			CHECK_EQ(h.link_id, 0x1234);
			CHECK_EQ_U64(h.session_id, 0xdeadbeefu);
		}
	}
	/* Payload pointers alias the decoded buffer, just past the 16-byte header. */
	struct braid_packet out;
	int n = encode_sample(BRAID_PKT_DATA, 0, buf, sizeof(buf));
	CHECK_EQ(braid_wire_decode(buf, (size_t)n, &out), 0);
	CHECK(out.body.data.payload == buf + BRAID_DATA_HEADER_SIZE);

	/* Boundaries: empty and largest payloads, longest name, most NACK ranges. */
	static uint8_t big[BRAID_MAX_PAYLOAD];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	size_t sizes[] = { 0, 1, BRAID_MAX_PAYLOAD };
	for (size_t i = 0; i < 3; i++) {
		struct braid_packet in = sample(BRAID_PKT_DATA);
		in.body.data.payload = sizes[i] ? big : NULL;
		in.body.data.payload_len = sizes[i];
		n = braid_wire_encode(&in, &KEY, buf, sizeof(buf));
		CHECK_EQ(n, 16 + sizes[i] + 24);
		CHECK(decodes_to(buf, (size_t)n, &in));
	}
	struct braid_packet in = sample(BRAID_PKT_HELLO);
	in.body.hello.name_len = BRAID_LINK_NAME_MAX;
	for (int i = 0; i < BRAID_LINK_NAME_MAX; i++)
		in.body.hello.name[i] = (char)(0x21 + i * 3);
	in.body.hello.name[BRAID_LINK_NAME_MAX] = '\0';
	n = braid_wire_encode(&in, NULL, buf, sizeof(buf));
	CHECK_EQ(n, 8 + 57 + BRAID_LINK_NAME_MAX);
	CHECK(decodes_to(buf, (size_t)n, &in));
	in = sample(BRAID_PKT_NACK);
	in.body.nack.range_count = BRAID_NACK_MAX_RANGES;
	for (unsigned i = 0; i < BRAID_NACK_MAX_RANGES; i++)
		in.body.nack.ranges[i] = (struct braid_nack_range){ i * 1000003u, (uint16_t)(i + 1) };
	n = braid_wire_encode(&in, NULL, buf, sizeof(buf));
	CHECK_EQ(n, 8 + 1 + 6 * BRAID_NACK_MAX_RANGES);
	CHECK(decodes_to(buf, (size_t)n, &in));
}

/* Every prefix of every valid datagram: fixed-size and length-prefixed bodies are reported
 * truncated; a DATA prefix that still holds a header is a shorter payload, which a tag
 * catches when keyed. */
static void test_every_truncation(void)
{
	uint8_t buf[256];
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		for (int keyed = 0; keyed <= 1; keyed++) {
			if (!keyed_form(type, keyed))
				continue;
			int n = encode_sample(type, keyed, buf, sizeof(buf));
			int variable = type == BRAID_PKT_DATA || type == BRAID_PKT_REVERSE;
			for (size_t len = 0; len < (size_t)n; len++) {
				struct braid_packet out;
				int rc = decode_exact(buf, len, &out);
				if (keyed && !is_handshake(type)) {
					/* a sealed prefix never opens */
					CHECK(rc == BRAID_ERR_AUTH || rc == BRAID_ERR_TRUNCATED);
				} else if (variable && len >= 16) {
					CHECK_EQ(rc, 0);
					CHECK_EQ(out.body.data.payload_len, len - 16);
				} else {
					CHECK_EQ(rc, BRAID_ERR_TRUNCATED);
				}
				if (keyed)
					CHECK(check_tag_exact(buf, len, MAC_KEY, AEAD_KEY) < 0);
			}
			struct braid_header h;
			CHECK_EQ(braid_wire_peek(buf, 7, &h), BRAID_ERR_TRUNCATED);
			CHECK_EQ(braid_wire_peek(NULL, 0, &h), BRAID_ERR_TRUNCATED);
		}
	}
}

/* A trailing byte after a fixed-size or counted body is malformed, not ignored. */
static void test_trailing_bytes(void)
{
	uint8_t buf[256];
	for (uint8_t type = 1; type < BRAID_PKT_TYPE_COUNT; type++) {
		if (type == BRAID_PKT_REVERSE)
			continue;
		int n = encode_sample(type, 0, buf, sizeof(buf) - 1);
		buf[n] = 0x21;
		struct braid_packet out;
		CHECK_EQ(decode_exact(buf, (size_t)n + 1, &out), BRAID_ERR_MALFORMED);
	}
}

static void test_header_rejections(void)
{
	uint8_t buf[256];
	struct braid_packet out;
	struct braid_header h;
	int n = encode_sample(BRAID_PKT_PROBE, 0, buf, sizeof(buf));
	uint8_t orig0 = buf[0];
	static const uint8_t bad_versions[] = { 0, 1, 3, 15 };
	for (size_t i = 0; i < sizeof(bad_versions); i++) {
		buf[0] = (uint8_t)(bad_versions[i] << 4 | BRAID_PKT_PROBE);
		CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_VERSION);
		CHECK_EQ(braid_wire_peek(buf, (size_t)n, &h), BRAID_ERR_VERSION);
	}
	for (unsigned type = BRAID_PKT_TYPE_COUNT; type < 16; type++) {
		buf[0] = (uint8_t)(BRAID_WIRE_VERSION << 4 | type);
		CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_TYPE);
		CHECK_EQ(braid_wire_peek(buf, (size_t)n, &h), BRAID_ERR_TYPE);
	}
	buf[0] = orig0;
	for (unsigned bit = 2; bit < 8; bit++) {
		buf[1] = (uint8_t)(1u << bit);
		CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
		CHECK_EQ(braid_wire_peek(buf, (size_t)n, &h), BRAID_ERR_MALFORMED);
	}
	/* RETRANSMIT belongs to DATA alone (REVERSE too is refused). */
	for (uint8_t type = 1; type < BRAID_PKT_TYPE_COUNT; type++) {
		n = encode_sample(type, 0, buf, sizeof(buf));
		buf[1] = BRAID_FLAG_RETRANSMIT;
		CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
		CHECK_EQ(braid_wire_peek(buf, (size_t)n, &h), BRAID_ERR_MALFORMED);
	}
	n = encode_sample(BRAID_PKT_DATA, 0, buf, sizeof(buf));
	buf[1] = BRAID_FLAG_RETRANSMIT;
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), 0);
	CHECK_EQ(out.header.flags, BRAID_FLAG_RETRANSMIT);
}

static void test_oversized_payload(void)
{
	static uint8_t buf[BRAID_MAX_DATAGRAM + 64];
	struct braid_packet out;
	memset(buf, 0x5a, sizeof(buf));
	buf[0] = BRAID_WIRE_VERSION << 4 | BRAID_PKT_DATA;
	buf[1] = 0;
	CHECK_EQ(decode_exact(buf, 16 + BRAID_MAX_PAYLOAD, &out), 0);
	CHECK_EQ(decode_exact(buf, 16 + BRAID_MAX_PAYLOAD + 1, &out), BRAID_ERR_TOO_BIG);
	buf[0] = BRAID_WIRE_VERSION << 4 | BRAID_PKT_REVERSE;
	CHECK_EQ(decode_exact(buf, sizeof(buf), &out), BRAID_ERR_TOO_BIG);

	struct braid_packet in = sample(BRAID_PKT_DATA);
	in.body.data.payload = buf;
	in.body.data.payload_len = BRAID_MAX_PAYLOAD + 1;
	static uint8_t out_buf[BRAID_MAX_DATAGRAM + 64];
	CHECK_EQ(braid_wire_encode(&in, NULL, out_buf, sizeof(out_buf)), BRAID_ERR_TOO_BIG);
	/* the largest sealed datagram is BRAID_MAX_DATAGRAM, and opens to the largest plain */
	in.body.data.payload_len = BRAID_MAX_PAYLOAD;
	CHECK_EQ(braid_wire_encode(&in, &KEY, out_buf, sizeof(out_buf)), BRAID_MAX_DATAGRAM);
	CHECK_EQ(decode_exact(out_buf, BRAID_MAX_DATAGRAM, &out), 0);
	CHECK_EQ(out.body.data.payload_len, BRAID_MAX_PAYLOAD);
}

static void test_hello_name_rejections(void)
{
	uint8_t buf[256];
	struct braid_packet out;
	int n = encode_sample(BRAID_PKT_HELLO, 0, buf, sizeof(buf));
	size_t name_at = 8 + 57;
	static const uint8_t bad_chars[] = { 0x00, 0x09, 0x1f, 0x20, 0x7f, 0x80, 0xff };
	for (size_t i = 0; i < sizeof(bad_chars); i++) {
		for (size_t pos = 0; pos < 4; pos++) {
			uint8_t saved = buf[name_at + pos];
			buf[name_at + pos] = bad_chars[i];
			CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
			buf[name_at + pos] = saved;
		}
	}
	buf[name_at] = 0x21;
	buf[name_at + 3] = 0x7e;
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), 0);
	CHECK(strcmp(out.body.hello.name, "!te~") == 0);

	/* A name longer than 32, even when every byte is there and printable. */
	uint8_t longer[8 + 57 + BRAID_LINK_NAME_MAX + 1];
	memcpy(longer, buf, name_at);
	memset(longer + name_at, 'x', BRAID_LINK_NAME_MAX + 1);
	longer[name_at - 1] = BRAID_LINK_NAME_MAX + 1;
	CHECK_EQ(decode_exact(longer, sizeof(longer), &out), BRAID_ERR_MALFORMED);
	longer[name_at - 1] = 0xff;
	CHECK_EQ(decode_exact(longer, sizeof(longer), &out), BRAID_ERR_MALFORMED);
	/* A declared length that disagrees with the datagram. */
	longer[name_at - 1] = BRAID_LINK_NAME_MAX;
	CHECK_EQ(decode_exact(longer, sizeof(longer), &out), BRAID_ERR_MALFORMED);
	longer[name_at - 1] = 5;
	CHECK_EQ(decode_exact(longer, name_at + 4, &out), BRAID_ERR_TRUNCATED);

	struct braid_packet in = sample(BRAID_PKT_HELLO);
	in.body.hello.name_len = BRAID_LINK_NAME_MAX + 1;
	CHECK_EQ(braid_wire_encode(&in, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	in = sample(BRAID_PKT_HELLO);
	in.body.hello.name[1] = ' ';
	CHECK_EQ(braid_wire_encode(&in, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
}

static void test_nack_rejections(void)
{
	uint8_t buf[512];
	struct braid_packet out;
	memset(buf, 0x11, sizeof(buf));
	int n = encode_sample(BRAID_PKT_NACK, 0, buf, sizeof(buf));
	buf[8] = 0;
	CHECK_EQ(decode_exact(buf, 9, &out), BRAID_ERR_MALFORMED);
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
	buf[8] = BRAID_NACK_MAX_RANGES + 1;
	CHECK_EQ(decode_exact(buf, 9 + 6 * (BRAID_NACK_MAX_RANGES + 1), &out),
		 BRAID_ERR_MALFORMED);
	buf[8] = 2;
	buf[8 + 1 + 6 + 4] = 0; /* second range: count 0 */
	buf[8 + 1 + 6 + 5] = 0;
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
	n = encode_sample(BRAID_PKT_NACK, 0, buf, sizeof(buf));
	buf[8] = 1; /* says one range, carries two */
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_MALFORMED);
	buf[8] = 3; /* says three, carries two */
	CHECK_EQ(decode_exact(buf, (size_t)n, &out), BRAID_ERR_TRUNCATED);
	buf[8] = 2;
	CHECK_EQ(decode_exact(buf, (size_t)n - 1, &out), BRAID_ERR_TRUNCATED);
	CHECK_EQ(decode_exact(buf, 8, &out), BRAID_ERR_TRUNCATED);

	struct braid_packet in = sample(BRAID_PKT_NACK);
	in.body.nack.range_count = 0;
	CHECK_EQ(braid_wire_encode(&in, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	in.body.nack.range_count = BRAID_NACK_MAX_RANGES + 1;
	CHECK_EQ(braid_wire_encode(&in, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	in = sample(BRAID_PKT_NACK);
	in.body.nack.ranges[1].count = 0;
	CHECK_EQ(braid_wire_encode(&in, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
}

static void test_encode_rejections(void)
{
	uint8_t buf[256];
	struct braid_packet p = sample(BRAID_PKT_PROBE);
	p.header.type = BRAID_PKT_TYPE_COUNT;
	CHECK_EQ(braid_wire_encode(&p, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	p = sample(BRAID_PKT_PROBE);
	p.header.flags = BRAID_FLAG_KEYED; /* set by passing a key, never by the caller */
	CHECK_EQ(braid_wire_encode(&p, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	p.header.flags = 0x80;
	CHECK_EQ(braid_wire_encode(&p, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	p.header.flags = BRAID_FLAG_RETRANSMIT;
	CHECK_EQ(braid_wire_encode(&p, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);
	p = sample(BRAID_PKT_DATA);
	p.body.data.payload = NULL;
	CHECK_EQ(braid_wire_encode(&p, NULL, buf, sizeof(buf)), BRAID_ERR_INVAL);

	/* Capacity: exactly enough works, one byte less does not (tag included). */
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		for (int keyed = 0; keyed <= 1; keyed++) {
			if (!keyed_form(type, keyed))
				continue;
			int n = encode_sample(type, keyed, buf, sizeof(buf));
			CHECK_EQ(encode_sample(type, keyed, buf, (size_t)n), n);
			CHECK_EQ(encode_sample(type, keyed, buf, (size_t)n - 1), BRAID_ERR_TOO_BIG);
		}
	}
	p = sample(BRAID_PKT_BYE);
	CHECK_EQ(braid_wire_encode(&p, NULL, NULL, 100), BRAID_ERR_TOO_BIG);
	/* A COOKIE is never keyed: not encoded so, and refused when it arrives so. */
	p = sample(BRAID_PKT_COOKIE);
	CHECK_EQ(braid_wire_encode(&p, &KEY, buf, sizeof(buf)), BRAID_ERR_INVAL);
	int cn = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	CHECK_EQ(cn, 28);
	buf[1] = BRAID_FLAG_KEYED;
	struct braid_packet cookie_out;
	CHECK_EQ(braid_wire_decode(buf, (size_t)cn, &cookie_out), BRAID_ERR_MALFORMED);
	/* and never longer than the shortest HELLO it answers */
	struct braid_packet hello = sample(BRAID_PKT_HELLO);
	hello.body.hello.name_len = 0;
	hello.body.hello.name[0] = '\0';
	CHECK(cn < braid_wire_encode(&hello, NULL, buf, sizeof(buf)));
	p = sample(BRAID_PKT_HELLO);
	CHECK_EQ(braid_wire_encode(&p, &KEY, buf, sizeof(buf)), 8 + 57 + 4 + 16);
}

/* Flips every bit of a keyed datagram in turn: each copy must fail the tag check. */
static void test_tag_bit_flips(void)
{
	uint8_t buf[256];
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		if (!keyed_form(type, 1))
			continue;
		int n = encode_sample(type, 1, buf, sizeof(buf));
		CHECK_EQ(n, encode_sample(type, 0, buf + 128, 128) + (int)tag_len_for(type));
		CHECK_EQ(check_tag_exact(buf, (size_t)n, MAC_KEY, AEAD_KEY), 0);
		unsigned failures = 0, flips = 0;
		for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			/* a flip in the header may make it another kind of packet, or none: it
			 * must never pass */
			failures += check_tag_exact(buf, (size_t)n, MAC_KEY, AEAD_KEY) < 0;
			flips++;
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		CHECK_EQ(failures, flips);
		CHECK_EQ(check_tag_exact(buf, (size_t)n, MAC_KEY, AEAD_KEY), 0);

		/* Any other key: one bit off. */
		uint8_t other_mac[32], other_aead[32];
		memcpy(other_mac, MAC_KEY, 32);
		memcpy(other_aead, AEAD_KEY, 32);
		other_mac[31] ^= 0x01;
		other_aead[31] ^= 0x01;
		CHECK_EQ(check_tag_exact(buf, (size_t)n, other_mac, other_aead), BRAID_ERR_AUTH);
		/* Extra bytes after the tag move it: they fail too. */
		buf[n] = 0;
		CHECK_EQ(check_tag_exact(buf, (size_t)n + 1, MAC_KEY, AEAD_KEY), BRAID_ERR_AUTH);

		/* Unkeyed datagrams never pass, whatever key is offered. */
		n = encode_sample(type, 0, buf, sizeof(buf));
		CHECK_EQ(check_tag_exact(buf, (size_t)n, MAC_KEY, AEAD_KEY), BRAID_ERR_AUTH);
	}
}

/* HELLO and HELLO_ACK carry a BLAKE2b-128 MAC of everything before it; every other type is
 * sealed: packet number, encrypted body, Poly1305 tag over the header and number too. */
static void test_protection_kinds(void)
{
	uint8_t plain[256], buf[256], mac[16];
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		if (!keyed_form(type, 1))
			continue;
		int p = encode_sample(type, 0, plain, sizeof(plain));
		int n = encode_sample(type, 1, buf, sizeof(buf));
		CHECK_EQ(n - p, (int)tag_len_for(type));
		CHECK_EQ(buf[1], plain[1] | BRAID_FLAG_KEYED);
		CHECK(memcmp(buf + 2, plain + 2, 6) == 0);
		if (is_handshake(type)) {
			CHECK(memcmp(buf + 8, plain + 8, (size_t)p - 8) == 0); /* in the clear */
			braid__mac(MAC_KEY, buf, (size_t)p, mac);
			CHECK(memcmp(buf + p, mac, 16) == 0);
			continue;
		}
		uint64_t pn = 0;
		for (int i = 0; i < 8; i++)
			pn = pn << 8 | buf[8 + i];
		CHECK_EQ_U64(pn, SAMPLE_PN);
		if (p > 8) /* the body does not travel in the clear */
			CHECK(memcmp(buf + 16, plain + 8, (size_t)p - 8) != 0);
		int m = braid_wire_open(buf, (size_t)n, AEAD_KEY, opened, sizeof(opened));
		CHECK_EQ(m, p);
		CHECK(m == p && memcmp(opened, plain, (size_t)p) == 0);
		CHECK_EQ(braid_wire_open(buf, (size_t)n, AEAD_KEY, opened, (size_t)p - 1),
			 BRAID_ERR_BUFFER);
		/* the body decoded without opening: refused */
		struct braid_packet out;
		CHECK_EQ(braid_wire_decode(buf, (size_t)n, &out), BRAID_ERR_AUTH);
	}
	/* A seal under another packet number is another ciphertext. */
	struct braid_packet d = sample(BRAID_PKT_DATA);
	struct braid_wire_key k2 = KEY;
	k2.packet_number++;
	int n1 = braid_wire_encode(&d, &KEY, buf, sizeof(buf));
	int n2 = braid_wire_encode(&d, &k2, plain, sizeof(plain));
	CHECK_EQ(n1, n2);
	CHECK(memcmp(buf + 16, plain + 16, (size_t)n1 - 16) != 0);
	/* a handshake packet needs the MAC key, every other one the sealing key */
	struct braid_wire_key no_mac = { NULL, AEAD_KEY, 0 }, no_aead = { MAC_KEY, NULL, 0 };
	struct braid_packet h = sample(BRAID_PKT_HELLO);
	CHECK_EQ(braid_wire_encode(&h, &no_mac, buf, sizeof(buf)), BRAID_ERR_INVAL);
	CHECK_EQ(braid_wire_encode(&d, &no_aead, buf, sizeof(buf)), BRAID_ERR_INVAL);
	uint64_t pn;
	int plain_len = braid_wire_encode(&d, NULL, buf, sizeof(buf));
	CHECK_EQ(braid_wire_packet_number(buf, (size_t)plain_len, &pn), BRAID_ERR_AUTH);
	CHECK_EQ(braid_wire_open(buf, (size_t)plain_len, AEAD_KEY, opened, sizeof(opened)),
		 BRAID_ERR_AUTH); /* not sealed */
}

static void test_extend32_wrap(void)
{
	const uint64_t span = (uint64_t)1 << 32;
	/* Reference just above a multiple of 2^32: values from before the wrap go below. */
	CHECK_EQ_U64(braid_extend32(0xfffffff0u, span + 5), span - 16);
	CHECK_EQ_U64(braid_extend32(0xffffffffu, span), span - 1);
	CHECK_EQ_U64(braid_extend32(10, span + 5), span + 10);
	CHECK_EQ_U64(braid_extend32(0, span + 5), span);
	CHECK_EQ_U64(braid_extend32(0xfffffff0u, 3 * span + 0x10), 3 * span - 16);
	/* Reference just below a multiple: values after the wrap go above. */
	CHECK_EQ_U64(braid_extend32(3, span - 5), span + 3);
	CHECK_EQ_U64(braid_extend32(0, span - 1), span);
	CHECK_EQ_U64(braid_extend32(0xfffffff0u, span - 5), span - 16);
	CHECK_EQ_U64(braid_extend32(0x20, 3 * span - 0x10), 3 * span + 0x20);
	/* Nothing below zero: the small reference keeps large values at their face value. */
	CHECK_EQ_U64(braid_extend32(0xffffffffu, 0), 0xffffffffu);
	CHECK_EQ_U64(braid_extend32(5, 0), 5);
	CHECK_EQ_U64(braid_extend32(0x80000001u, 0), 0x80000001u);
	/* Nothing above 2^64 - 1 either. */
	CHECK_EQ_U64(braid_extend32(0, UINT64_MAX), UINT64_MAX - 0xffffffffu);
	CHECK_EQ_U64(braid_extend32(0xffffffffu, UINT64_MAX), UINT64_MAX);
	CHECK_EQ_U64(braid_extend32(0x10, UINT64_MAX - 0x10), UINT64_MAX - 0xffffffffu + 0x10);
	/* Just inside 2^31 either way. */
	CHECK_EQ_U64(braid_extend32(0xc0000001u, span + 0x40000000u), 0xc0000001u);
	CHECK_EQ_U64(braid_extend32(0x3fffffffu, span - 0x40000000u), span + 0x3fffffffu);
	CHECK_EQ_U64(braid_extend32(0x7fffffffu, 2 * span), 2 * span + 0x7fffffffu);
	CHECK_EQ_U64(braid_extend32(0x80000001u, 2 * span), 2 * span - 0x7fffffffu);

	/* Any value within 2^31 - 1 of the reference comes back exactly. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	unsigned wrong = 0;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t ref = (x >> 8) + span;
		int64_t delta = (int64_t)(x % 0xffffffffu) - 0x7fffffff;
		if (i % 4 == 0)
			ref = ((x >> 20) << 32) + (x & 0xff) - 0x80; /* near a multiple of 2^32 */
		if (ref < 0x80000000u || ref > UINT64_MAX - 0x80000000u)
			continue;
		uint64_t want = ref + (uint64_t)delta;
		wrong += braid_extend32((uint32_t)want, ref) != want;
	}
	CHECK_EQ(wrong, 0);
}

int main(void)
{
	RUN_TEST(test_data_layout);
	RUN_TEST(test_control_layouts);
	RUN_TEST(test_round_trip_every_type);
	RUN_TEST(test_every_truncation);
	RUN_TEST(test_trailing_bytes);
	RUN_TEST(test_header_rejections);
	RUN_TEST(test_oversized_payload);
	RUN_TEST(test_hello_name_rejections);
	RUN_TEST(test_nack_rejections);
	RUN_TEST(test_encode_rejections);
	RUN_TEST(test_tag_bit_flips);
	RUN_TEST(test_protection_kinds);
	RUN_TEST(test_extend32_wrap);
	return braid_test_finish();
}
