/* braid wire protocol v1: encoding and decoding of every packet type. docs/protocol.md is
 * the byte-by-byte description; this module is its only implementation. Decoding checks
 * every length and field and never reads outside the buffer it is given. Authentication
 * tags are computed and checked here too, given the key, and session keys derived. */
#ifndef BRAID_WIRE_H
#define BRAID_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "braid/common.h"

#define BRAID_WIRE_VERSION 1
#define BRAID_DATA_HEADER_SIZE 16
#define BRAID_TAG_SIZE 8          /* SipHash-2-4 tag on every packet of a keyed session */
#define BRAID_HELLO_TAG_SIZE 16   /* truncated HMAC-SHA-256 on HELLO and HELLO_ACK */
#define BRAID_NACK_MAX_RANGES 64
/* The largest datagram the wire format produces fits the public BRAID_MAX_DATAGRAM. */
_Static_assert(BRAID_DATA_HEADER_SIZE + BRAID_MAX_PAYLOAD + BRAID_TAG_SIZE <= BRAID_MAX_DATAGRAM,
	       "BRAID_MAX_DATAGRAM too small");

enum braid_packet_type {
	BRAID_PKT_DATA = 0,        /* sender -> receiver: media */
	BRAID_PKT_HELLO = 1,       /* sender -> receiver: register a link in a session */
	BRAID_PKT_HELLO_ACK = 2,   /* receiver -> sender */
	BRAID_PKT_PROBE = 3,       /* sender -> receiver: RTT, loss, liveness */
	BRAID_PKT_PROBE_REPLY = 4, /* receiver -> sender */
	BRAID_PKT_REVERSE = 5,     /* receiver -> sender: datagrams from the next hop back */
	BRAID_PKT_NACK = 6,        /* receiver -> sender: sequence ranges to resend */
	BRAID_PKT_BYE = 7,         /* either way: the session ends */
	BRAID_PKT_TYPE_COUNT
};

/* Header flags. Unknown bits must be zero (rejected otherwise, so they can gain meaning). */
#define BRAID_FLAG_KEYED 0x01      /* a tag follows the packet */
#define BRAID_FLAG_RETRANSMIT 0x02 /* DATA: a resend of an earlier sequence number */
#define BRAID_FLAGS_KNOWN (BRAID_FLAG_KEYED | BRAID_FLAG_RETRANSMIT)

/* Fields common to every packet: bytes 0..7. */
struct braid_header {
	uint8_t type;
	uint8_t flags;
	uint16_t link_id;
	uint32_t session_id;
};

struct braid_data {        /* DATA and REVERSE */
	uint32_t seq;          /* per session and direction, wraps */
	uint32_t timestamp_us; /* the sending side's clock, truncated to 32 bits */
	const uint8_t *payload; /* points into the decoded buffer */
	size_t payload_len;
};

struct braid_hello {
	uint8_t sender_nonce[BRAID_NONCE_SIZE];
	uint32_t timestamp_us;
	uint8_t name_len;
	char name[BRAID_LINK_NAME_MAX + 1]; /* NUL-terminated copy */
};

struct braid_hello_ack {
	uint8_t sender_nonce[BRAID_NONCE_SIZE];
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	uint32_t echo_timestamp_us;
};

struct braid_probe {
	uint32_t probe_seq;
	uint32_t timestamp_us;
	uint32_t rtt_us;            /* the sender's smoothed RTT of this link, 0 = unknown */
	uint32_t sent_through;      /* one past the highest DATA sequence number sent, wraps */
};

struct braid_probe_reply {
	uint32_t probe_seq;         /* echoed */
	uint32_t echo_timestamp_us; /* echoed */
	uint32_t received;          /* datagrams received on this link so far, wraps */
	uint32_t jitter_us;         /* RFC 3550 interarrival jitter on this link */
	uint32_t received_bytes;    /* payload bytes of those datagrams, wraps */
	uint32_t arrival_us;        /* the receiver's clock when the probe arrived, wraps */
};

struct braid_nack_range {
	uint32_t first;
	uint16_t count; /* 1..65535 */
};

struct braid_nack {
	uint8_t range_count; /* 1..BRAID_NACK_MAX_RANGES */
	struct braid_nack_range ranges[BRAID_NACK_MAX_RANGES];
};

struct braid_packet {
	struct braid_header header;
	union {
		struct braid_data data;
		struct braid_hello hello;
		struct braid_hello_ack hello_ack;
		struct braid_probe probe;
		struct braid_probe_reply probe_reply;
		struct braid_nack nack;
	} body;
};

/* Reads only the common header (for routing to a session before the full decode).
 * Returns 0 or BRAID_ERR_TRUNCATED / _VERSION / _TYPE / _MALFORMED (unknown flags). */
int braid_wire_peek(const uint8_t *buf, size_t len, struct braid_header *out);

/* Decodes a whole packet. When the KEYED flag is set, the trailing tag is excluded from
 * the body and left for braid_wire_check_tag (HELLO/HELLO_ACK: braid_wire_check_hello_tag).
 * Data payload pointers alias `buf`. Returns 0 or a negative braid_error. */
int braid_wire_decode(const uint8_t *buf, size_t len, struct braid_packet *out);

/* Encodes into buf (capacity cap). With a key (SipHash key, or the PSK for HELLO and
 * HELLO_ACK), sets KEYED and appends the tag. Returns the datagram length, or
 * BRAID_ERR_TOO_BIG / BRAID_ERR_INVAL. `key` may be NULL (unkeyed session). */
int braid_wire_encode(const struct braid_packet *pkt, const uint8_t *key, size_t key_len,
		      uint8_t *buf, size_t cap);

/* Verifies the trailing tag of a keyed datagram: SipHash-2-4 for every type except HELLO
 * and HELLO_ACK, which carry truncated HMAC-SHA-256 under the pre-shared key.
 * Returns 0, or BRAID_ERR_AUTH (also when the datagram is not keyed). */
int braid_wire_check_tag(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len);

/* The 16-byte SipHash key of a keyed session: HMAC-SHA-256 under the pre-shared key over
 * "braid v1 session" | session id | sender nonce | receiver nonce, truncated. */
void braid_wire_session_key(const uint8_t *psk, size_t psk_len, uint32_t session_id,
			    const uint8_t sender_nonce[BRAID_NONCE_SIZE],
			    const uint8_t receiver_nonce[BRAID_NONCE_SIZE], uint8_t key[16]);

/* Extends a wrapping 32-bit counter to 64 bits, choosing the value nearest to `reference`
 * (the highest extended value seen so far). */
uint64_t braid_extend32(uint32_t value, uint64_t reference);

#endif
