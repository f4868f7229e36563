/* RTCP (RFC 3550 section 6, RFC 4585 Generic NACK): reading and writing compound packets
 * of SR, RR, SDES, BYE, APP and transport-layer feedback, and the time conversions reports
 * need. Reading checks every length, count and padding rule and never reads outside the
 * buffer; byte fields of a parsed packet point into it. Packet types in 192..223 other
 * than those are returned whole as BRAID_RTCP_KIND_OTHER, so a compound carrying, say, a
 * PLI or an XR is not refused. */
#ifndef BRAID_RTCP_H
#define BRAID_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID_RTCP_VERSION 2
#define BRAID_RTCP_HEADER_SIZE 4
#define BRAID_RTCP_MAX_COUNT 31 /* the 5-bit count field */

enum braid_rtcp_type {
	BRAID_RTCP_SR = 200,
	BRAID_RTCP_RR = 201,
	BRAID_RTCP_SDES = 202,
	BRAID_RTCP_BYE = 203,
	BRAID_RTCP_APP = 204,
	BRAID_RTCP_RTPFB = 205, /* RFC 4585 transport-layer feedback */
	BRAID_RTCP_PSFB = 206,  /* RFC 4585 payload-specific feedback */
};
#define BRAID_RTCP_FMT_NACK 1 /* RTPFB FMT of the Generic NACK */

enum braid_rtcp_sdes_type {
	BRAID_SDES_END = 0,
	BRAID_SDES_CNAME = 1,
	BRAID_SDES_NAME = 2,
	BRAID_SDES_EMAIL = 3,
	BRAID_SDES_PHONE = 4,
	BRAID_SDES_LOC = 5,
	BRAID_SDES_TOOL = 6,
	BRAID_SDES_NOTE = 7,
	BRAID_SDES_PRIV = 8,
};

enum braid_rtcp_kind {
	BRAID_RTCP_KIND_SR,
	BRAID_RTCP_KIND_RR,
	BRAID_RTCP_KIND_SDES,
	BRAID_RTCP_KIND_BYE,
	BRAID_RTCP_KIND_APP,
	BRAID_RTCP_KIND_NACK,  /* RTPFB with FMT 1 */
	BRAID_RTCP_KIND_OTHER, /* any other type in 192..223, RTPFB and PSFB included */
};

/* One reception report block (RFC 3550 6.4.1). */
struct braid_rtcp_report_block {
	uint32_t ssrc;
	uint8_t fraction_lost;   /* 1/256 */
	int32_t cumulative_lost; /* the signed 24-bit field: -2^23 .. 2^23 - 1 */
	uint32_t ext_highest_seq;
	uint32_t jitter;         /* timestamp units */
	uint32_t lsr;            /* middle 32 bits of the last SR's NTP timestamp, 0 if none */
	uint32_t dlsr;           /* delay since that SR in 1/65536 s, 0 if none */
};

struct braid_rtcp_sr {
	uint32_t ssrc;
	uint64_t ntp;            /* 32.32 fixed point, seconds since 1900 */
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
	uint8_t block_count;
	struct braid_rtcp_report_block blocks[BRAID_RTCP_MAX_COUNT];
	const uint8_t *ext;      /* profile-specific extension after the blocks */
	size_t ext_len;          /* a multiple of 4 */
};

struct braid_rtcp_rr {
	uint32_t ssrc;           /* the reporter */
	uint8_t block_count;
	struct braid_rtcp_report_block blocks[BRAID_RTCP_MAX_COUNT];
	const uint8_t *ext;
	size_t ext_len;
};

/* An SDES chunk's items are kept as their encoded bytes: type, length, text, repeated,
 * without the terminating null octets (walk them with braid_rtcp_sdes_next_item). */
struct braid_rtcp_sdes_chunk {
	uint32_t ssrc;
	const uint8_t *items;
	size_t items_len;
};

struct braid_rtcp_sdes {
	uint8_t chunk_count;
	struct braid_rtcp_sdes_chunk chunks[BRAID_RTCP_MAX_COUNT];
};

struct braid_rtcp_sdes_item {
	uint8_t type;            /* 1..8 */
	uint8_t len;
	const uint8_t *text;     /* not NUL-terminated */
};

struct braid_rtcp_bye {
	uint8_t ssrc_count;
	uint32_t ssrcs[BRAID_RTCP_MAX_COUNT];
	bool has_reason;
	uint8_t reason_len;
	const uint8_t *reason;
};

struct braid_rtcp_app {
	uint8_t subtype;         /* 0..31 */
	uint32_t ssrc;
	uint8_t name[4];         /* four ASCII characters */
	const uint8_t *data;
	size_t data_len;         /* a multiple of 4 */
};

struct braid_rtcp_nack_pair {
	uint16_t pid;            /* a lost packet */
	uint16_t blp;            /* bit i set: pid + i + 1 lost too */
};

/* Read: fci points at pair_count encoded pairs in the datagram and pairs is NULL.
 * Write: pairs, when not NULL, is used instead of fci. */
struct braid_rtcp_nack {
	uint32_t sender_ssrc;
	uint32_t media_ssrc;
	size_t pair_count;       /* at least 1 */
	const uint8_t *fci;
	const struct braid_rtcp_nack_pair *pairs;
};

/* A packet of another type: its header fields and the bytes after the 4-byte header. */
struct braid_rtcp_other {
	const uint8_t *body;
	size_t body_len;         /* a multiple of 4 */
};

struct braid_rtcp_packet {
	enum braid_rtcp_kind kind;
	uint8_t type;            /* packet type; set by the writer from kind, except OTHER */
	uint8_t count;           /* the 5-bit field: RC, SC, subtype or FMT; the writer derives
				  * it from the body except for OTHER */
	uint8_t padding_len;     /* padding octets including the count; 0: no P bit */
	size_t offset;           /* read: where the packet starts in the datagram */
	size_t len;              /* read: bytes of the packet, header and padding included */
	union {
		struct braid_rtcp_sr sr;
		struct braid_rtcp_rr rr;
		struct braid_rtcp_sdes sdes;
		struct braid_rtcp_bye bye;
		struct braid_rtcp_app app;
		struct braid_rtcp_nack nack;
		struct braid_rtcp_other other;
	} u;
};

/* Reading a compound packet, one packet at a time. RFC 3550 A.2 rules: version 2 on every
 * packet, the lengths add up to the datagram exactly, padding only on the last packet (a
 * count that is a non-zero multiple of 4 and fits), and the first packet an SR or RR unless
 * BRAID_RTCP_REDUCED_SIZE (RFC 5506) is given. */
#define BRAID_RTCP_REDUCED_SIZE 0x1u

struct braid_rtcp_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;              /* the next packet */
	unsigned flags;
	int err;                 /* the first error, returned from then on */
};

/* Returns 0, or an error when the datagram cannot be RTCP at all (empty, not a multiple of
 * 4 bytes); the reader then returns that error too. */
int braid_rtcp_reader_init(struct braid_rtcp_reader *r, const uint8_t *buf, size_t len,
			   unsigned flags);
/* Returns 1 with the next packet, 0 at the end, or a negative braid_error (TRUNCATED,
 * VERSION, TYPE for a type outside 192..223, MALFORMED); after an error, returns it again.
 * SDES item types other than 0 are all accepted (later RFCs define MID and more). */
int braid_rtcp_read(struct braid_rtcp_reader *r, struct braid_rtcp_packet *out);
/* Reads a whole datagram; returns the packet count or the first error. */
int braid_rtcp_check(const uint8_t *buf, size_t len, unsigned flags);

/* The item at *off in a chunk's items (start with *off = 0): returns 1 and advances, 0 at
 * the end. Items of a parsed chunk are already validated. */
int braid_rtcp_sdes_next_item(const struct braid_rtcp_sdes_chunk *chunk, size_t *off,
			      struct braid_rtcp_sdes_item *item);
/* The first item of `type` in a chunk; false when there is none. */
bool braid_rtcp_sdes_find(const struct braid_rtcp_sdes_chunk *chunk, uint8_t type,
			  struct braid_rtcp_sdes_item *item);

/* Pair i of a NACK, read or being written. */
struct braid_rtcp_nack_pair braid_rtcp_nack_pair_at(const struct braid_rtcp_nack *nack,
						    size_t i);
/* The sequence numbers a pair reports lost, in order: pid and those of blp. Returns 1..17. */
unsigned braid_rtcp_nack_pair_seqs(struct braid_rtcp_nack_pair pair, uint16_t out[17]);
/* Packs lost sequence numbers, in increasing order (modulo 2^16), into pairs. Writes at most
 * cap pairs; returns how many the whole list needs. */
size_t braid_rtcp_nack_pack(const uint16_t *lost, size_t n, struct braid_rtcp_nack_pair *out,
			    size_t cap);

/* Writing a compound packet. */
struct braid_rtcp_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

void braid_rtcp_writer_init(struct braid_rtcp_writer *w, uint8_t *buf, size_t cap);
/* Appends one packet. Returns its length, BRAID_ERR_INVAL for a packet the reader would
 * refuse (a count above 31, a cumulative loss outside 24 bits, an SDES item or APP name
 * out of range, a length not a multiple of 4...), or BRAID_ERR_TOO_BIG when it does not
 * fit; on error nothing is written. */
int braid_rtcp_write(struct braid_rtcp_writer *w, const struct braid_rtcp_packet *p);
/* Appends an SDES packet with one chunk holding one CNAME item (1..255 bytes). */
int braid_rtcp_write_cname(struct braid_rtcp_writer *w, uint32_t ssrc, const char *cname,
			   size_t cname_len);

/* Time. NTP timestamps are 32.32 fixed point; microseconds convert to them exactly in
 * integers, the fraction rounded down: floor(us * 2^32 / 10^6). */
uint64_t braid_ntp_from_us(uint64_t us);
/* The NTP time `us` microseconds after `origin` (wrapping as NTP does). */
uint64_t braid_ntp_add_us(uint64_t origin, uint64_t us);
/* The middle 32 bits, the LSR of a report block. */
uint32_t braid_ntp_middle(uint64_t ntp);
/* A delay in 1/65536 s, the DLSR unit: floor(us * 65536 / 10^6), saturated at 2^32 - 1. */
uint32_t braid_rtcp_dlsr_from_us(uint64_t us);

#endif
