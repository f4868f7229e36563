/* Arbitrary bytes into the wire decoder. Whatever decodes must re-encode to the same bytes
 * (the format has one encoding per packet) and decode again to the same fields, plain,
 * MAC'd or sealed; peek must agree with decode; a sealed datagram is never decoded before
 * it is opened; MAC checks and opening must never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "core/wire.h"
#include "fuzz_input.h"

static const uint8_t MAC_KEY[32] = "fuzz handshake MAC key, 32 bytes";
static const uint8_t AEAD_KEY[32] = "fuzz sealing key of 32 bytes ok!";

static bool same_body(const struct braid_packet *a, const struct braid_packet *b)
{
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
		       strcmp(a->body.hello.name, b->body.hello.name) == 0 &&
		       strlen(a->body.hello.name) == a->body.hello.name_len;
	case BRAID_PKT_HELLO_ACK:
		return memcmp(&a->body.hello_ack, &b->body.hello_ack,
			      sizeof(a->body.hello_ack)) == 0;
	case BRAID_PKT_PROBE:
		return memcmp(&a->body.probe, &b->body.probe, sizeof(a->body.probe)) == 0;
	case BRAID_PKT_PROBE_REPLY:
		return memcmp(&a->body.probe_reply, &b->body.probe_reply,
			      sizeof(a->body.probe_reply)) == 0;
	case BRAID_PKT_NACK:
		if (a->body.nack.range_count != b->body.nack.range_count)
			return false;
		for (unsigned i = 0; i < a->body.nack.range_count; i++)
			if (a->body.nack.ranges[i].first != b->body.nack.ranges[i].first ||
			    a->body.nack.ranges[i].count != b->body.nack.ranges[i].count)
				return false;
		return true;
	case BRAID_PKT_COOKIE:
		return memcmp(&a->body.cookie, &b->body.cookie, sizeof(a->body.cookie)) == 0;
	default:
		return true;
	}
}

static bool same_packet(const struct braid_packet *a, const struct braid_packet *b)
{
	return a->header.type == b->header.type &&
	       (a->header.flags & BRAID_FLAG_RETRANSMIT) ==
		       (b->header.flags & BRAID_FLAG_RETRANSMIT) &&
	       a->header.link_id == b->header.link_id &&
	       a->header.session_id == b->header.session_id && same_body(a, b);
}

/* Encodes p (keyed or not), checks the result decodes (opened when sealed) to p and
 * carries a valid MAC or seal. */
static void reencode(const struct braid_packet *p, bool keyed, uint8_t *buf, size_t cap)
{
	static uint8_t opened[BRAID_MAX_DATAGRAM];
	struct braid_wire_key key = { MAC_KEY, AEAD_KEY, 0x0123456789abcdefu };
	int n = braid_wire_encode(p, keyed ? &key : NULL, buf, cap);
	FUZZ_REQUIRE(n >= 8);
	struct braid_header h;
	FUZZ_REQUIRE(braid_wire_peek(buf, (size_t)n, &h) == 0);
	FUZZ_REQUIRE(((h.flags & BRAID_FLAG_KEYED) != 0) == keyed);
	const uint8_t *plain = buf;
	size_t plain_len = (size_t)n;
	if (braid_wire_is_sealed(&h)) {
		int m = braid_wire_open(buf, (size_t)n, AEAD_KEY, opened, sizeof(opened));
		FUZZ_REQUIRE(m >= 8 && (size_t)m + BRAID_SEAL_OVERHEAD == (size_t)n);
		plain = opened;
		plain_len = (size_t)m;
	} else if (keyed) {
		FUZZ_REQUIRE(braid_wire_check_mac(buf, (size_t)n, MAC_KEY) == 0);
	}
	struct braid_packet again;
	FUZZ_REQUIRE(braid_wire_decode(plain, plain_len, &again) == 0);
	FUZZ_REQUIRE(same_packet(p, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t opened[BRAID_MAX_DATAGRAM];
	/* MACs and seals: none may crash or read outside the input, few may pass. */
	(void)braid_wire_check_mac(data, size, MAC_KEY);
	(void)braid_wire_open(data, size, AEAD_KEY, opened, sizeof(opened));
	(void)braid_wire_open(data, size, AEAD_KEY, opened, 9);
	uint64_t pn;
	(void)braid_wire_packet_number(data, size, &pn);

	struct braid_header h;
	struct braid_packet p;
	int peek_rc = braid_wire_peek(data, size, &h);
	int rc = braid_wire_decode(data, size, &p);
	if (peek_rc < 0) {
		FUZZ_REQUIRE(rc == peek_rc);
		return 0;
	}
	if (braid_wire_is_sealed(&h)) {
		/* a sealed body is never decoded unopened; a COOKIE is never sealed */
		FUZZ_REQUIRE(h.type == BRAID_PKT_COOKIE ? rc == BRAID_ERR_MALFORMED
							 : rc == BRAID_ERR_AUTH);
		return 0;
	}
	if (rc < 0) {
		FUZZ_REQUIRE(rc == BRAID_ERR_TRUNCATED || rc == BRAID_ERR_MALFORMED ||
			     rc == BRAID_ERR_TOO_BIG);
		return 0;
	}
	FUZZ_REQUIRE(memcmp(&h, &p.header, sizeof(h)) == 0);

	uint8_t buf[BRAID_MAX_DATAGRAM + BRAID_SEAL_OVERHEAD];
	bool keyed = p.header.flags & BRAID_FLAG_KEYED; /* a handshake packet with its MAC */
	size_t tag = keyed ? BRAID_HELLO_TAG_SIZE : 0;
	struct braid_packet plain = p;
	plain.header.flags &= (uint8_t)~BRAID_FLAG_KEYED;

	/* The unkeyed encoding is the input minus its MAC and KEYED bit, byte for byte. */
	int n = braid_wire_encode(&plain, NULL, buf, sizeof(buf));
	FUZZ_REQUIRE(n >= 8 && (size_t)n + tag == size);
	FUZZ_REQUIRE(buf[0] == data[0] && buf[1] == (data[1] & ~BRAID_FLAG_KEYED));
	FUZZ_REQUIRE(memcmp(buf + 2, data + 2, (size_t)n - 2) == 0);

	reencode(&plain, false, buf, sizeof(buf));
	if (plain.header.type == BRAID_PKT_COOKIE) { /* never keyed: the encoder refuses */
		struct braid_wire_key key = { MAC_KEY, AEAD_KEY, 1 };
		FUZZ_REQUIRE(braid_wire_encode(&plain, &key, buf, sizeof(buf)) == BRAID_ERR_INVAL);
	} else {
		reencode(&plain, true, buf, sizeof(buf));
	}
	return 0;
}
