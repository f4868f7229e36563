/* Repeated media packets across a bench's links (emu/repeats.h). Each packet's identity
 * (RTP: SSRC without its resend bit, and sequence number; braid: session and sequence
 * number) goes into a direct-mapped table with the time it was seen; the same identity in
 * its slot within the window is a repeat. Bounded memory whatever arrives. */
#include "emu/repeats.h"

#include <stdbool.h>
#include <stdlib.h>

#include "braid/rtp.h"
#include "core/wire.h"

#define SLOT_BITS 17
#define SLOTS (1u << SLOT_BITS)
#define IPV4_HEADER_MIN 20
#define IPV4_PROTO_UDP 17
#define UDP_HEADER_SIZE 8
#define IP_FLAGS_MORE_FRAGMENTS 0x2000
#define IP_FRAGMENT_OFFSET_MASK 0x1fff
#define KIND_RTP UINT64_C(1)
#define KIND_BRAID UINT64_C(2)
#define HASH_MIX UINT64_C(0x9e3779b97f4a7c15)

struct slot {
	uint64_t id;      /* kind in the top bits, then the flow and the number */
	uint64_t seen_us; /* 0: empty */
};

struct braid_emu_repeats {
	struct slot slots[SLOTS];
};

struct braid_emu_repeats *braid_emu_repeats_new(void)
{
	return calloc(1, sizeof(struct braid_emu_repeats));
}

void braid_emu_repeats_free(struct braid_emu_repeats *r)
{
	free(r);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The UDP payload of an unfragmented IPv4 packet, or NULL; *dst_port its port. */
static const uint8_t *udp_payload(const uint8_t *pkt, size_t len, size_t *out_len,
				  uint16_t *dst_port)
{
	size_t ihl, udp_len;

	if (len < IPV4_HEADER_MIN || pkt[0] >> 4 != 4 || pkt[9] != IPV4_PROTO_UDP)
		return NULL;
	/* A fragment's payload is not a whole datagram: the bench's media never fragments. */
	if (get16(pkt + 6) & (IP_FLAGS_MORE_FRAGMENTS | IP_FRAGMENT_OFFSET_MASK))
		return NULL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_HEADER_MIN || len < ihl + UDP_HEADER_SIZE)
		return NULL;
	udp_len = get16(pkt + ihl + 4);
	if (udp_len < UDP_HEADER_SIZE || udp_len > len - ihl)
		return NULL;
	*dst_port = get16(pkt + ihl + 2);
	*out_len = udp_len - UDP_HEADER_SIZE;
	return pkt + ihl + UDP_HEADER_SIZE;
}

/* RTP media: an even port (RTCP takes the odd one), version 2. *resend from the SSRC. */
static bool rtp_identity(const uint8_t *p, size_t len, uint16_t port, uint64_t *id,
			 bool *resend)
{
	struct braid_rtp_header h;

	if (port % 2 != 0 || braid_rtp_parse(p, len, &h) < 0)
		return false;
	*resend = h.ssrc & 1;
	*id = KIND_RTP << 62 | (uint64_t)(h.ssrc >> 1) << 16 | h.seq;
	return true;
}

/* braid DATA. A sealed one's number is inside the seal: counted, its flag read (the header
 * travels in the clear), never matched. */
static bool braid_identity(const uint8_t *p, size_t len, uint64_t *id, bool *resend,
			   bool *sealed)
{
	struct braid_packet pkt;

	if (braid_wire_peek(p, len, &pkt.header) < 0 || pkt.header.type != BRAID_PKT_DATA)
		return false;
	*resend = pkt.header.flags & BRAID_FLAG_RETRANSMIT;
	*sealed = braid_wire_is_sealed(&pkt.header);
	if (*sealed)
		return true;
	if (braid_wire_decode(p, len, &pkt) < 0)
		return false;
	/* 30 bits of session and 32 of number: a collision costs a missed repeat at most. */
	*id = KIND_BRAID << 62 | (uint64_t)(pkt.header.session_id & 0x3fffffffu) << 32 |
	      pkt.body.data.seq;
	return true;
}

/* Whether id was seen within the window; remembers it as seen now either way. */
static bool seen_before(struct braid_emu_repeats *r, uint64_t id, uint64_t now_us)
{
	struct slot *s = &r->slots[(id * HASH_MIX) >> (64 - SLOT_BITS)];
	bool repeat = s->seen_us && s->id == id && now_us - s->seen_us < BRAID_EMU_REPEAT_WINDOW_US;

	if (!repeat) {
		s->id = id;
		s->seen_us = now_us ? now_us : 1;
	}
	return repeat;
}

enum braid_emu_media braid_emu_repeats_see(struct braid_emu_repeats *r, const uint8_t *pkt,
					   size_t len, uint64_t now_us)
{
	uint16_t port;
	size_t plen;
	const uint8_t *p = udp_payload(pkt, len, &plen, &port);
	uint64_t id = 0;
	bool resend = false, sealed = false;

	if (!p)
		return BRAID_EMU_NOT_MEDIA;
	if (!rtp_identity(p, plen, port, &id, &resend) &&
	    !braid_identity(p, plen, &id, &resend, &sealed))
		return BRAID_EMU_NOT_MEDIA;
	if (resend)
		return BRAID_EMU_RETRANSMISSION;
	if (sealed || !seen_before(r, id, now_us))
		return BRAID_EMU_FIRST;
	return BRAID_EMU_DUPLICATE;
}

void braid_emu_media_count(struct braid_emu_media_stats *s, enum braid_emu_media m)
{
	if (m == BRAID_EMU_NOT_MEDIA)
		return;
	s->packets++;
	s->retransmissions += m == BRAID_EMU_RETRANSMISSION;
	s->duplicates += m == BRAID_EMU_DUPLICATE;
}
