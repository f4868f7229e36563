/* Arbitrary bytes into the wire decoder. Whatever decodes must re-encode to the same bytes
 * (the format has one encoding per packet) and decode again to the same fields, keyed or
 * not; peek must agree with decode; tag checks must never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "core/wire.h"
#include "fuzz_input.h"

static const uint8_t SIP_KEY[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t PSK[] = "fuzz pre-shared key";

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
		       a->body.hello.timestamp_us == b->body.hello.timestamp_us &&
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

/* Encodes p (keyed or not), checks the result decodes to p and carries a valid tag. */
static void reencode(const struct braid_packet *p, bool keyed, uint8_t *buf, size_t cap)
{
	bool hmac = fuzz_uses_hmac(p->header.type);
	const uint8_t *key = keyed ? (hmac ? PSK : SIP_KEY) : NULL;
	size_t key_len = keyed ? (hmac ? sizeof(PSK) - 1 : sizeof(SIP_KEY)) : 0;
	int n = braid_wire_encode(p, key, key_len, buf, cap);
	FUZZ_REQUIRE(n >= 8);
	struct braid_packet again;
	FUZZ_REQUIRE(braid_wire_decode(buf, (size_t)n, &again) == 0);
	FUZZ_REQUIRE(same_packet(p, &again));
	FUZZ_REQUIRE(((again.header.flags & BRAID_FLAG_KEYED) != 0) == keyed);
	FUZZ_REQUIRE((braid_wire_check_tag(buf, (size_t)n, key, key_len) == 0) == keyed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Both tag kinds, a usable and an unusable key: none may crash, few may pass. */
	(void)braid_wire_check_tag(data, size, SIP_KEY, sizeof(SIP_KEY));
	(void)braid_wire_check_tag(data, size, PSK, sizeof(PSK) - 1);
	(void)braid_wire_check_tag(data, size, SIP_KEY, 3);

	struct braid_header h;
	struct braid_packet p;
	int peek_rc = braid_wire_peek(data, size, &h);
	int rc = braid_wire_decode(data, size, &p);
	if (peek_rc < 0) {
		FUZZ_REQUIRE(rc == peek_rc);
		return 0;
	}
	if (rc < 0) {
		FUZZ_REQUIRE(rc == BRAID_ERR_TRUNCATED || rc == BRAID_ERR_MALFORMED ||
			     rc == BRAID_ERR_TOO_BIG);
		return 0;
	}
	FUZZ_REQUIRE(memcmp(&h, &p.header, sizeof(h)) == 0);

	uint8_t buf[BRAID_MAX_DATAGRAM + BRAID_HELLO_TAG_SIZE];
	bool keyed = p.header.flags & BRAID_FLAG_KEYED;
	size_t tag = keyed ? (fuzz_uses_hmac(p.header.type) ? BRAID_HELLO_TAG_SIZE : BRAID_TAG_SIZE)
			   : 0;
	struct braid_packet plain = p;
	plain.header.flags &= (uint8_t)~BRAID_FLAG_KEYED;

	/* The unkeyed encoding is the input minus its tag and KEYED bit, byte for byte. */
	int n = braid_wire_encode(&plain, NULL, 0, buf, sizeof(buf));
	FUZZ_REQUIRE(n >= 8 && (size_t)n + tag == size);
	FUZZ_REQUIRE(buf[0] == data[0] && buf[1] == (data[1] & ~BRAID_FLAG_KEYED));
	FUZZ_REQUIRE(memcmp(buf + 2, data + 2, (size_t)n - 2) == 0);

	reencode(&plain, false, buf, sizeof(buf));
	reencode(&plain, true, buf, sizeof(buf));
	return 0;
}
