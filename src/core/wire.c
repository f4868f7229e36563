/* braid wire protocol v2. docs/protocol.md describes every byte; keep the two in step. */
#include "core/wire.h"

#include <string.h>

#include "core/crypto.h"
#include "braid/error.h"

#define COMMON_SIZE BRAID_WIRE_HEADER_SIZE
#define SEALED_START (COMMON_SIZE + BRAID_PACKET_NUMBER_SIZE)

/* Body sizes after the 8-byte common header, for the fixed-size types. */
enum {
	PROBE_BODY = 16,
	PROBE_REPLY_BODY = 24,
	/* nonce, ephemeral key, wall clock, timestamp, latency, name length */
	HELLO_FIXED_BODY = 8 + BRAID_EPHEMERAL_SIZE + 8 + 4 + 4 + 1,
	/* two nonces, two ephemeral keys, echoed timestamp, latency */
	HELLO_ACK_BODY = 8 + 8 + 2 * BRAID_EPHEMERAL_SIZE + 4 + 4,
	DATA_BODY = 8,
	NACK_RANGE_SIZE = 6,
	COOKIE_BODY = BRAID_COOKIE_SIZE + 4,
};
/* A COOKIE answers a HELLO without adding to it: never longer than the shortest HELLO. */
_Static_assert(COOKIE_BODY <= HELLO_FIXED_BODY, "a COOKIE must not outweigh a HELLO");

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static int name_char_valid(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e; /* printable ASCII, no spaces: it ends up in stats */
}

static bool is_handshake(uint8_t type)
{
	return type == BRAID_PKT_HELLO || type == BRAID_PKT_HELLO_ACK;
}

bool braid_wire_is_sealed(const struct braid_header *h)
{
	return (h->flags & BRAID_FLAG_KEYED) && !is_handshake(h->type);
}

int braid_wire_peek(const uint8_t *buf, size_t len, struct braid_header *out)
{
	if (!buf || len < COMMON_SIZE)
		return BRAID_ERR_TRUNCATED;
	if (buf[0] >> 4 != BRAID_WIRE_VERSION)
		return BRAID_ERR_VERSION;
	out->type = buf[0] & 0x0f;
	if (out->type >= BRAID_PKT_TYPE_COUNT)
		return BRAID_ERR_TYPE;
	out->flags = buf[1];
	if (out->flags & ~BRAID_FLAGS_KNOWN)
		return BRAID_ERR_MALFORMED;
	if ((out->flags & BRAID_FLAG_RETRANSMIT) && out->type != BRAID_PKT_DATA)
		return BRAID_ERR_MALFORMED;
	out->link_id = get16(buf + 2);
	out->session_id = get32(buf + 4);
	return 0;
}

static int decode_data(const uint8_t *body, size_t len, struct braid_data *d)
{
	if (len < DATA_BODY)
		return BRAID_ERR_TRUNCATED;
	if (len - DATA_BODY > BRAID_MAX_PAYLOAD)
		return BRAID_ERR_TOO_BIG;
	d->seq = get32(body);
	d->timestamp_us = get32(body + 4);
	d->payload = body + DATA_BODY;
	d->payload_len = len - DATA_BODY;
	return 0;
}

static int decode_hello(const uint8_t *body, size_t len, struct braid_hello *h)
{
	if (len < HELLO_FIXED_BODY)
		return BRAID_ERR_TRUNCATED;
	memcpy(h->sender_nonce, body, BRAID_NONCE_SIZE);
	memcpy(h->ephemeral, body + 8, BRAID_EPHEMERAL_SIZE);
	h->wall_us = get64(body + 40);
	h->timestamp_us = get32(body + 48);
	h->latency_us = get32(body + 52);
	h->name_len = body[56];
	if (h->name_len > BRAID_LINK_NAME_MAX)
		return BRAID_ERR_MALFORMED;
	if (len != HELLO_FIXED_BODY + (size_t)h->name_len)
		return len < HELLO_FIXED_BODY + (size_t)h->name_len ? BRAID_ERR_TRUNCATED
								    : BRAID_ERR_MALFORMED;
	for (size_t i = 0; i < h->name_len; i++) {
		uint8_t c = body[HELLO_FIXED_BODY + i];
		if (!name_char_valid(c))
			return BRAID_ERR_MALFORMED;
		h->name[i] = (char)c;
	}
	h->name[h->name_len] = '\0';
	return 0;
}

static int decode_nack(const uint8_t *body, size_t len, struct braid_nack *n)
{
	if (len < 1)
		return BRAID_ERR_TRUNCATED;
	n->range_count = body[0];
	if (n->range_count == 0 || n->range_count > BRAID_NACK_MAX_RANGES)
		return BRAID_ERR_MALFORMED;
	if (len != 1 + (size_t)n->range_count * NACK_RANGE_SIZE)
		return len < 1 + (size_t)n->range_count * NACK_RANGE_SIZE ? BRAID_ERR_TRUNCATED
									  : BRAID_ERR_MALFORMED;
	for (unsigned i = 0; i < n->range_count; i++) {
		const uint8_t *r = body + 1 + i * NACK_RANGE_SIZE;
		n->ranges[i].first = get32(r);
		n->ranges[i].count = get16(r + 4);
		if (n->ranges[i].count == 0)
			return BRAID_ERR_MALFORMED;
	}
	return 0;
}

static int expect_len(size_t len, size_t want)
{
	if (len < want)
		return BRAID_ERR_TRUNCATED;
	return len == want ? 0 : BRAID_ERR_MALFORMED;
}

static int decode_body(uint8_t type, const uint8_t *body, size_t len, struct braid_packet *out)
{
	int rc;

	switch (type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		return decode_data(body, len, &out->body.data);
	case BRAID_PKT_HELLO:
		return decode_hello(body, len, &out->body.hello);
	case BRAID_PKT_HELLO_ACK:
		rc = expect_len(len, HELLO_ACK_BODY);
		if (rc == 0) {
			struct braid_hello_ack *a = &out->body.hello_ack;
			memcpy(a->sender_nonce, body, BRAID_NONCE_SIZE);
			memcpy(a->receiver_nonce, body + 8, BRAID_NONCE_SIZE);
			memcpy(a->sender_ephemeral, body + 16, BRAID_EPHEMERAL_SIZE);
			memcpy(a->receiver_ephemeral, body + 48, BRAID_EPHEMERAL_SIZE);
			a->echo_timestamp_us = get32(body + 80);
			a->latency_us = get32(body + 84);
		}
		return rc;
	case BRAID_PKT_PROBE:
		rc = expect_len(len, PROBE_BODY);
		if (rc == 0) {
			out->body.probe.probe_seq = get32(body);
			out->body.probe.timestamp_us = get32(body + 4);
			out->body.probe.rtt_us = get32(body + 8);
			out->body.probe.sent_through = get32(body + 12);
		}
		return rc;
	case BRAID_PKT_PROBE_REPLY:
		rc = expect_len(len, PROBE_REPLY_BODY);
		if (rc == 0) {
			out->body.probe_reply.probe_seq = get32(body);
			out->body.probe_reply.echo_timestamp_us = get32(body + 4);
			out->body.probe_reply.received = get32(body + 8);
			out->body.probe_reply.jitter_us = get32(body + 12);
			out->body.probe_reply.received_bytes = get32(body + 16);
			out->body.probe_reply.arrival_us = get32(body + 20);
		}
		return rc;
	case BRAID_PKT_NACK:
		return decode_nack(body, len, &out->body.nack);
	case BRAID_PKT_BYE:
		return expect_len(len, 0);
	case BRAID_PKT_COOKIE:
		rc = expect_len(len, COOKIE_BODY);
		if (rc == 0) {
			memcpy(out->body.cookie.cookie, body, BRAID_COOKIE_SIZE);
			out->body.cookie.echo_timestamp_us = get32(body + BRAID_COOKIE_SIZE);
		}
		return rc;
	default:
		return BRAID_ERR_TYPE;
	}
}

int braid_wire_decode(const uint8_t *buf, size_t len, struct braid_packet *out)
{
	int rc = braid_wire_peek(buf, len, &out->header);
	if (rc < 0)
		return rc;
	if (out->header.type == BRAID_PKT_COOKIE && (out->header.flags & BRAID_FLAG_KEYED))
		return BRAID_ERR_MALFORMED; /* a cookie is for unkeyed sessions only */
	if (braid_wire_is_sealed(&out->header))
		return BRAID_ERR_AUTH; /* open it first */
	size_t end = len;
	if (out->header.flags & BRAID_FLAG_KEYED) {
		if (end < COMMON_SIZE + BRAID_HELLO_TAG_SIZE)
			return BRAID_ERR_TRUNCATED;
		end -= BRAID_HELLO_TAG_SIZE;
	}
	return decode_body(out->header.type, buf + COMMON_SIZE, end - COMMON_SIZE, out);
}

static size_t body_size(const struct braid_packet *pkt)
{
	switch (pkt->header.type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		return DATA_BODY + pkt->body.data.payload_len;
	case BRAID_PKT_HELLO:
		return HELLO_FIXED_BODY + pkt->body.hello.name_len;
	case BRAID_PKT_HELLO_ACK:
		return HELLO_ACK_BODY;
	case BRAID_PKT_PROBE:
		return PROBE_BODY;
	case BRAID_PKT_PROBE_REPLY:
		return PROBE_REPLY_BODY;
	case BRAID_PKT_NACK:
		return 1 + (size_t)pkt->body.nack.range_count * NACK_RANGE_SIZE;
	case BRAID_PKT_COOKIE:
		return COOKIE_BODY;
	default:
		return 0;
	}
}

/* The encoder refuses what the decoder would reject, so a peer never receives it. */
static int hello_name_valid(const struct braid_hello *h)
{
	if (h->name_len > BRAID_LINK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < h->name_len; i++)
		if (!name_char_valid((uint8_t)h->name[i]))
			return 0;
	return 1;
}

static int nack_ranges_valid(const struct braid_nack *n)
{
	if (n->range_count == 0 || n->range_count > BRAID_NACK_MAX_RANGES)
		return 0;
	for (unsigned i = 0; i < n->range_count; i++)
		if (n->ranges[i].count == 0)
			return 0;
	return 1;
}

static int check_encodable(const struct braid_packet *pkt)
{
	const struct braid_header *h = &pkt->header;
	if (h->type >= BRAID_PKT_TYPE_COUNT || (h->flags & ~BRAID_FLAG_RETRANSMIT))
		return BRAID_ERR_INVAL;
	if ((h->flags & BRAID_FLAG_RETRANSMIT) && h->type != BRAID_PKT_DATA)
		return BRAID_ERR_INVAL;
	switch (h->type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		if (pkt->body.data.payload_len > BRAID_MAX_PAYLOAD)
			return BRAID_ERR_TOO_BIG;
		if (pkt->body.data.payload_len && !pkt->body.data.payload)
			return BRAID_ERR_INVAL;
		return 0;
	case BRAID_PKT_HELLO:
		return hello_name_valid(&pkt->body.hello) ? 0 : BRAID_ERR_INVAL;
	case BRAID_PKT_NACK:
		return nack_ranges_valid(&pkt->body.nack) ? 0 : BRAID_ERR_INVAL;
	default:
		return 0;
	}
}

static void encode_body(const struct braid_packet *pkt, uint8_t *b)
{
	switch (pkt->header.type) {
	case BRAID_PKT_DATA:
	case BRAID_PKT_REVERSE:
		put32(b, pkt->body.data.seq);
		put32(b + 4, pkt->body.data.timestamp_us);
		if (pkt->body.data.payload_len)
			memcpy(b + DATA_BODY, pkt->body.data.payload, pkt->body.data.payload_len);
		break;
	case BRAID_PKT_HELLO:
		memcpy(b, pkt->body.hello.sender_nonce, BRAID_NONCE_SIZE);
		memcpy(b + 8, pkt->body.hello.ephemeral, BRAID_EPHEMERAL_SIZE);
		put64(b + 40, pkt->body.hello.wall_us);
		put32(b + 48, pkt->body.hello.timestamp_us);
		put32(b + 52, pkt->body.hello.latency_us);
		b[56] = pkt->body.hello.name_len;
		memcpy(b + HELLO_FIXED_BODY, pkt->body.hello.name, pkt->body.hello.name_len);
		break;
	case BRAID_PKT_HELLO_ACK:
		memcpy(b, pkt->body.hello_ack.sender_nonce, BRAID_NONCE_SIZE);
		memcpy(b + 8, pkt->body.hello_ack.receiver_nonce, BRAID_NONCE_SIZE);
		memcpy(b + 16, pkt->body.hello_ack.sender_ephemeral, BRAID_EPHEMERAL_SIZE);
		memcpy(b + 48, pkt->body.hello_ack.receiver_ephemeral, BRAID_EPHEMERAL_SIZE);
		put32(b + 80, pkt->body.hello_ack.echo_timestamp_us);
		put32(b + 84, pkt->body.hello_ack.latency_us);
		break;
	case BRAID_PKT_PROBE:
		put32(b, pkt->body.probe.probe_seq);
		put32(b + 4, pkt->body.probe.timestamp_us);
		put32(b + 8, pkt->body.probe.rtt_us);
		put32(b + 12, pkt->body.probe.sent_through);
		break;
	case BRAID_PKT_PROBE_REPLY:
		put32(b, pkt->body.probe_reply.probe_seq);
		put32(b + 4, pkt->body.probe_reply.echo_timestamp_us);
		put32(b + 8, pkt->body.probe_reply.received);
		put32(b + 12, pkt->body.probe_reply.jitter_us);
		put32(b + 16, pkt->body.probe_reply.received_bytes);
		put32(b + 20, pkt->body.probe_reply.arrival_us);
		break;
	case BRAID_PKT_NACK:
		b[0] = pkt->body.nack.range_count;
		for (unsigned i = 0; i < pkt->body.nack.range_count; i++) {
			put32(b + 1 + i * NACK_RANGE_SIZE, pkt->body.nack.ranges[i].first);
			put16(b + 1 + i * NACK_RANGE_SIZE + 4, pkt->body.nack.ranges[i].count);
		}
		break;
	case BRAID_PKT_COOKIE:
		memcpy(b, pkt->body.cookie.cookie, BRAID_COOKIE_SIZE);
		put32(b + BRAID_COOKIE_SIZE, pkt->body.cookie.echo_timestamp_us);
		break;
	default:
		break;
	}
}

static bool key_usable(uint8_t type, const struct braid_wire_key *key)
{
	return is_handshake(type) ? key->mac_key != NULL : key->aead_key != NULL;
}

static size_t protection_size(uint8_t type, const struct braid_wire_key *key)
{
	if (!key)
		return 0;
	return is_handshake(type) ? BRAID_HELLO_TAG_SIZE : BRAID_SEAL_OVERHEAD;
}

static void put_header(const struct braid_packet *pkt, bool keyed, uint8_t *buf)
{
	buf[0] = (uint8_t)(BRAID_WIRE_VERSION << 4 | pkt->header.type);
	buf[1] = (uint8_t)(pkt->header.flags | (keyed ? BRAID_FLAG_KEYED : 0));
	put16(buf + 2, pkt->header.link_id);
	put32(buf + 4, pkt->header.session_id);
}

/* Sealed: header | packet number | body encrypted in place | tag; the first two are the
 * associated data, so they travel in the clear but cannot be changed. */
static void seal(const struct braid_wire_key *key, uint8_t *buf, size_t body_len)
{
	put64(buf + COMMON_SIZE, key->packet_number);
	uint8_t *body = buf + SEALED_START;
	braid__aead_seal(key->aead_key, key->packet_number, buf, SEALED_START, body, body_len,
			 body, body + body_len);
}

int braid_wire_encode(const struct braid_packet *pkt, const struct braid_wire_key *key,
		      uint8_t *buf, size_t cap)
{
	int rc = check_encodable(pkt);
	if (rc < 0)
		return rc;
	uint8_t type = pkt->header.type;
	if (key && (!key_usable(type, key) || type == BRAID_PKT_COOKIE))
		return BRAID_ERR_INVAL;
	size_t body_len = body_size(pkt);
	size_t total = COMMON_SIZE + body_len + protection_size(type, key);
	if (!buf || total > cap)
		return BRAID_ERR_TOO_BIG;
	put_header(pkt, key != NULL, buf);
	if (key && !is_handshake(type)) {
		encode_body(pkt, buf + SEALED_START);
		seal(key, buf, body_len);
	} else {
		encode_body(pkt, buf + COMMON_SIZE);
		if (key)
			braid__mac(key->mac_key, buf, COMMON_SIZE + body_len,
				   buf + COMMON_SIZE + body_len);
	}
	return (int)total;
}

int braid_wire_check_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[32])
{
	struct braid_header h;
	if (!mac_key || braid_wire_peek(buf, len, &h) < 0 || !(h.flags & BRAID_FLAG_KEYED) ||
	    !is_handshake(h.type) || len < COMMON_SIZE + BRAID_HELLO_TAG_SIZE)
		return BRAID_ERR_AUTH;
	uint8_t expected[BRAID_MAC_SIZE];
	braid__mac(mac_key, buf, len - BRAID_HELLO_TAG_SIZE, expected);
	return braid__equal_ct(expected, buf + len - BRAID_HELLO_TAG_SIZE, BRAID_MAC_SIZE)
		       ? 0 : BRAID_ERR_AUTH;
}

int braid_wire_packet_number(const uint8_t *buf, size_t len, uint64_t *packet_number)
{
	struct braid_header h;
	int rc = braid_wire_peek(buf, len, &h);
	if (rc < 0)
		return rc;
	if (!braid_wire_is_sealed(&h))
		return BRAID_ERR_AUTH;
	if (len < COMMON_SIZE + BRAID_SEAL_OVERHEAD)
		return BRAID_ERR_TRUNCATED;
	*packet_number = get64(buf + COMMON_SIZE);
	return 0;
}

int braid_wire_open(const uint8_t *buf, size_t len, const uint8_t key[32], uint8_t *out,
		    size_t cap)
{
	uint64_t pn;
	int rc = braid_wire_packet_number(buf, len, &pn);
	if (rc < 0)
		return rc;
	size_t body_len = len - COMMON_SIZE - BRAID_SEAL_OVERHEAD;
	if (!out || cap < COMMON_SIZE + body_len)
		return BRAID_ERR_BUFFER;
	const uint8_t *tag = buf + SEALED_START + body_len;
	if (!key || !braid__aead_open(key, pn, buf, SEALED_START, buf + SEALED_START, body_len,
				      tag, out + COMMON_SIZE))
		return BRAID_ERR_AUTH;
	memcpy(out, buf, COMMON_SIZE);
	out[1] &= (uint8_t)~BRAID_FLAG_KEYED;
	return (int)(COMMON_SIZE + body_len);
}

uint64_t braid_extend32(uint32_t value, uint64_t reference)
{
	/* Of the 64-bit values with these low 32 bits, the one within 2^31 of reference; the
	 * checks keep the result inside [0, 2^64) rather than wrapping around it. */
	const uint64_t half = (uint64_t)1 << 31, span = (uint64_t)1 << 32;
	uint64_t candidate = (reference & ~(span - 1)) | value;
	if (candidate < reference) {
		if (reference - candidate > half && candidate <= UINT64_MAX - span)
			candidate += span;
	} else if (candidate - reference > half && candidate >= span) {
		candidate -= span;
	}
	return candidate;
}
