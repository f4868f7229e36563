/* RTP (RFC 3550): the fixed header with its CSRC list, extension and padding; the extension
 * of 16-bit sequence numbers with wrap cycles and the source validation of appendix A.1;
 * the loss counts of A.3 and the interarrival jitter of A.8. Sans-I/O: arrival times are
 * passed in, in microseconds. Parsing checks every length and never reads outside the
 * buffer it is given; payload, extension and padding fields point into that buffer. */
#ifndef BRAID_RTP_H
#define BRAID_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID_RTP_VERSION 2
#define BRAID_RTP_HEADER_SIZE 12 /* the fixed header, before CSRCs and extension */
#define BRAID_RTP_MAX_CSRC 15

struct braid_rtp_header {
	bool padding;          /* P: padding_len octets end the packet, the last one a count */
	bool extension;        /* X: a header extension follows the CSRC list */
	bool marker;           /* M */
	uint8_t payload_type;  /* 0..127, never 72..76 (RFC 3551: they would read as RTCP) */
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	uint8_t csrc_count;    /* CC, 0..15 */
	uint32_t csrc[BRAID_RTP_MAX_CSRC];
	uint16_t ext_profile;  /* the extension's first 16 bits, "defined by profile" */
	const uint8_t *ext_data; /* the extension's words after its 4-byte header */
	size_t ext_len;        /* bytes of ext_data, a multiple of 4 */
	const uint8_t *payload;
	size_t payload_len;
	uint8_t padding_len;   /* padding octets including the count octet; 0 without P */
	size_t header_len;     /* bytes before the payload */
};

/* Parses and validates an RTP packet: version 2, a payload type outside 72..76, the CSRC
 * list, extension and payload inside the buffer, a padding count of at least 1 that fits.
 * Returns 0, BRAID_ERR_TRUNCATED, BRAID_ERR_VERSION or BRAID_ERR_MALFORMED. */
int braid_rtp_parse(const uint8_t *buf, size_t len, struct braid_rtp_header *out);

/* Writes the packet h describes: header, CSRCs, extension (when h->extension), h->payload,
 * and when h->padding, padding_len - 1 zero octets and the count. header_len is ignored.
 * Returns the length, BRAID_ERR_INVAL for a field the parser would reject, or
 * BRAID_ERR_TOO_BIG when cap is short. */
int braid_rtp_build(const struct braid_rtp_header *h, uint8_t *buf, size_t cap);

/* RFC 5761 section 4: RTP and RTCP on one port are told apart by the second octet, which
 * is an RTCP packet type (192..223) only for RTCP. True for version-2 packets whose second
 * octet is in that range. */
bool braid_rtp_looks_like_rtcp(const uint8_t *buf, size_t len);

/* A duration in microseconds as units of a clock_rate Hz clock, floor(us * rate / 10^6),
 * modulo 2^32 (RTP timestamps wrap), computed exactly in integers. */
uint32_t braid_rtp_units_from_us(uint64_t us, uint32_t clock_rate);

/* RFC 3550 A.1 constants. */
#define BRAID_RTP_SEQ_MOD 65536u
#define BRAID_RTP_MAX_DROPOUT 3000
#define BRAID_RTP_MAX_MISORDER 100
#define BRAID_RTP_MIN_SEQUENTIAL 2

/* Per-source sequence state of RFC 3550 A.1, with its names. Counters are 32-bit and wrap
 * as the RFC's do; the differences taken from them stay right across a wrap. */
struct braid_rtp_source {
	uint16_t max_seq;        /* highest sequence number seen */
	uint32_t cycles;         /* wraps of the sequence number, times 65536 */
	uint32_t base_seq;       /* the first counted sequence number */
	uint32_t bad_seq;        /* the number after a large jump; a match restarts the source */
	uint32_t probation;      /* packets in sequence still needed before the source is valid */
	uint32_t received;       /* packets counted, duplicates included */
	uint32_t expected_prior; /* expected at the last report (A.3) */
	uint32_t received_prior; /* received at the last report */
	unsigned min_sequential; /* the probation a new source starts with */
	bool started;            /* a packet has been seen */
};

enum braid_rtp_seq_status {
	BRAID_RTP_SEQ_NEW,       /* newer than every earlier one; a gap below MAX_DROPOUT is loss */
	BRAID_RTP_SEQ_OLD,       /* a duplicate or reordered packet within MAX_MISORDER */
	BRAID_RTP_SEQ_RESYNC,    /* the second in sequence after a large jump: the sender
				  * restarted, the counts restart from this packet */
	BRAID_RTP_SEQ_PROBATION, /* the source is not valid yet; not counted */
	BRAID_RTP_SEQ_JUMP,      /* a jump of MAX_DROPOUT or more, or too late; not counted */
};

/* Whether a packet with this status was counted as received. */
static inline bool braid_rtp_seq_counted(enum braid_rtp_seq_status status)
{
	return status == BRAID_RTP_SEQ_NEW || status == BRAID_RTP_SEQ_OLD ||
	       status == BRAID_RTP_SEQ_RESYNC;
}

/* min_sequential: packets in sequence before the source is valid (RFC 3550 uses
 * BRAID_RTP_MIN_SEQUENTIAL). 0 trusts the first packet, for a source already known from
 * signalling; that packet is then counted and is the base of the counts. */
void braid_rtp_source_init(struct braid_rtp_source *s, unsigned min_sequential);

/* RFC 3550 A.1 update_seq, the first packet included. */
enum braid_rtp_seq_status braid_rtp_source_update(struct braid_rtp_source *s, uint16_t seq);

/* Whether the source has passed probation and counted a packet. */
bool braid_rtp_source_valid(const struct braid_rtp_source *s);

/* The extended highest sequence number: cycles + max_seq, modulo 2^32. */
uint32_t braid_rtp_source_ext_max(const struct braid_rtp_source *s);

/* RFC 3550 A.3 at a report. cumulative_lost is expected - received, negative when
 * duplicates outnumber the losses, clamped to the signed 24 bits of the RR field;
 * fraction_lost is the interval's loss in 1/256 (0 when the interval gained packets). */
struct braid_rtp_loss {
	uint32_t ext_max;
	int32_t cumulative_lost;
	uint8_t fraction_lost;
};
/* Computes the counts and starts the next interval. */
void braid_rtp_source_report(struct braid_rtp_source *s, struct braid_rtp_loss *out);

/* RFC 3550 A.8 interarrival jitter, in timestamp units, kept scaled by 16 as in the RFC's
 * integer algorithm so that no precision is lost and results are the same everywhere:
 * J16 += |D| - ((J16 + 8) >> 4); the reported jitter is J16 >> 4. The first packet only
 * sets the transit time. */
struct braid_rtp_jitter {
	uint64_t j16;          /* jitter times 16 */
	uint32_t last_transit; /* arrival - timestamp of the previous packet, modulo 2^32 */
	bool has_transit;
};
/* arrival: the arrival time in timestamp units (braid_rtp_units_from_us), modulo 2^32. */
void braid_rtp_jitter_update(struct braid_rtp_jitter *j, uint32_t arrival, uint32_t timestamp);
/* J16 >> 4, saturated at 2^32 - 1. */
uint32_t braid_rtp_jitter_value(const struct braid_rtp_jitter *j);

#endif
