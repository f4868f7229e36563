/* braid wire protocol v2: encoding and decoding of every packet type. docs/protocol.md is
 * the byte-by-byte description; this module is its only implementation. Decoding checks
 * every length and field and never reads outside the buffer it is given. Handshake MACs
 * are computed and checked here too, and datagrams sealed and opened, given the keys. */
#ifndef BRAID_WIRE_H
#define BRAID_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/common.h"

#define BRAID_WIRE_VERSION 2
#define BRAID_WIRE_HEADER_SIZE 8
#define BRAID_DATA_HEADER_SIZE 16
#define BRAID_HELLO_TAG_SIZE 16   /* BLAKE2b-128 MAC on HELLO and HELLO_ACK */
#define BRAID_PACKET_NUMBER_SIZE 8
/* What sealing adds to a plain datagram: the packet number and the Poly1305 tag. */
#define BRAID_SEAL_OVERHEAD (BRAID_PACKET_NUMBER_SIZE + 16)
#define BRAID_EPHEMERAL_SIZE 32   /* X25519 public key */
#define BRAID_COOKIE_SIZE 16      /* unkeyed: a return-routability cookie, echoed in HELLO */
#define BRAID_NACK_MAX_RANGES 64
/* The largest datagram the wire format produces fits the public BRAID_MAX_DATAGRAM. */
_Static_assert(BRAID_DATA_HEADER_SIZE + BRAID_MAX_PAYLOAD + BRAID_SEAL_OVERHEAD <=
		       BRAID_MAX_DATAGRAM,
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
	BRAID_PKT_COOKIE = 8,      /* receiver -> sender, unkeyed: prove you receive here */
	BRAID_PKT_TYPE_COUNT
};

/* Header flags. Unknown bits must be zero (rejected otherwise, so they can gain meaning). */
#define BRAID_FLAG_KEYED 0x01      /* HELLO/HELLO_ACK: a MAC follows; others: sealed (AEAD) */
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
	/* Keyed: the sender's X25519 public key of this exchange. Unkeyed: the receiver's
	 * cookie for this link's address in the first BRAID_COOKIE_SIZE bytes (zero before
	 * one came), the rest zero. */
	uint8_t ephemeral[BRAID_EPHEMERAL_SIZE];
	uint64_t wall_us;       /* the sender's wall clock (µs since 1970) when it was sent */
	uint32_t timestamp_us;
	uint32_t latency_us;    /* the sender's latency budget: the receiver refuses another */
	uint8_t name_len;
	char name[BRAID_LINK_NAME_MAX + 1]; /* NUL-terminated copy */
};

struct braid_hello_ack {
	uint8_t sender_nonce[BRAID_NONCE_SIZE];
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	uint8_t sender_ephemeral[BRAID_EPHEMERAL_SIZE];   /* of the HELLO answered */
	uint8_t receiver_ephemeral[BRAID_EPHEMERAL_SIZE];
	uint32_t echo_timestamp_us;
	uint32_t latency_us;    /* the receiver's latency budget; when it differs from the
				 * HELLO's, this answer refuses the session */
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

struct braid_cookie {
	uint8_t cookie[BRAID_COOKIE_SIZE];
	uint32_t echo_timestamp_us; /* the timestamp of the HELLO answered */
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
		struct braid_cookie cookie;
	} body;
};

/* Reads only the common header (for routing to a session before the full decode).
 * Returns 0 or BRAID_ERR_TRUNCATED / _VERSION / _TYPE / _MALFORMED (unknown flags). */
int braid_wire_peek(const uint8_t *buf, size_t len, struct braid_header *out);

/* Whether a datagram with this header is sealed (KEYED, and not HELLO or HELLO_ACK): its
 * body must be opened (braid_wire_open) before it can be decoded. */
bool braid_wire_is_sealed(const struct braid_header *h);

/* Decodes a plain datagram, or a keyed HELLO / HELLO_ACK (the trailing MAC is excluded
 * from the body and left for braid_wire_check_mac). Data payload pointers alias `buf`.
 * Returns 0 or a negative braid_error; BRAID_ERR_AUTH for a sealed datagram. */
int braid_wire_decode(const uint8_t *buf, size_t len, struct braid_packet *out);

/* How to protect a packet: HELLO and HELLO_ACK take a MAC under mac_key, every other type
 * is sealed under aead_key with packet_number (never used twice with one key). */
struct braid_wire_key {
	const uint8_t *mac_key;  /* 32 bytes */
	const uint8_t *aead_key; /* 32 bytes */
	uint64_t packet_number;
};

/* Encodes into buf (capacity cap). With a key, sets KEYED and protects the packet.
 * Returns the datagram length, or BRAID_ERR_TOO_BIG / BRAID_ERR_INVAL. `key` may be NULL
 * (unkeyed session). */
int braid_wire_encode(const struct braid_packet *pkt, const struct braid_wire_key *key,
		      uint8_t *buf, size_t cap);

/* Verifies the MAC of a keyed HELLO or HELLO_ACK. 0, or BRAID_ERR_AUTH (also when the
 * datagram is not a keyed handshake packet). */
int braid_wire_check_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[32]);

/* The packet number of a sealed datagram (to consult the replay window before any AEAD
 * work). 0, or BRAID_ERR_TRUNCATED / BRAID_ERR_AUTH (not sealed). */
int braid_wire_packet_number(const uint8_t *buf, size_t len, uint64_t *packet_number);

/* Opens a sealed datagram: verifies its tag under key and writes the plain datagram it
 * carries (header with KEYED cleared, then the body) to out, ready for braid_wire_decode.
 * Returns that length, or BRAID_ERR_AUTH (forged, wrong key, not sealed) / _TRUNCATED /
 * _BUFFER (cap too small). */
int braid_wire_open(const uint8_t *buf, size_t len, const uint8_t key[32], uint8_t *out,
		    size_t cap);

/* Extends a wrapping 32-bit counter to 64 bits, choosing the value nearest to `reference`
 * (the highest extended value seen so far). */
uint64_t braid_extend32(uint32_t value, uint64_t reference);

#endif
