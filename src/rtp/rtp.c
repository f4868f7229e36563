/* RTP header parsing and building, RFC 3550 A.1 source validation, A.3 loss and A.8
 * jitter. The A.1 and A.3 code keeps the RFC's names and its 32-bit modular counters. */
#include "braid/rtp.h"

#include <string.h>

#include "braid/error.h"
#include "rtp/rtcp_bytes.h"

#define EXT_HEADER_SIZE 4
#define LOST_MAX 0x7fffff     /* the largest value of the signed 24-bit RR field */
#define LOST_MIN (-0x800000)  /* and the smallest */

/* RFC 3551 reserves 72..76 so that no RTP packet's second octet (with M set) reads as an
 * RTCP SR, RR, SDES, BYE or APP; A.1 asks that SR and RR be refused at least. */
static bool payload_type_valid(uint8_t pt)
{
	return pt <= 127 && (pt < 72 || pt > 76);
}

/* Reads the CSRC list and the extension; returns the header length or an error. */
static int parse_header_tail(const uint8_t *buf, size_t len, struct braid_rtp_header *out)
{
	size_t off = BRAID_RTP_HEADER_SIZE;
	if (len - off < (size_t)out->csrc_count * 4)
		return BRAID_ERR_TRUNCATED;
	for (unsigned i = 0; i < out->csrc_count; i++, off += 4)
		out->csrc[i] = rtcp_get32(buf + off);
	if (out->extension) {
		if (len - off < EXT_HEADER_SIZE)
			return BRAID_ERR_TRUNCATED;
		out->ext_profile = rtcp_get16(buf + off);
		size_t words = rtcp_get16(buf + off + 2);
		off += EXT_HEADER_SIZE;
		if (len - off < words * 4)
			return BRAID_ERR_TRUNCATED;
		out->ext_data = buf + off;
		out->ext_len = words * 4;
		off += words * 4;
	}
	return (int)off;
}

int braid_rtp_parse(const uint8_t *buf, size_t len, struct braid_rtp_header *out)
{
	memset(out, 0, sizeof(*out));
	if (!buf || len < BRAID_RTP_HEADER_SIZE)
		return BRAID_ERR_TRUNCATED;
	if (buf[0] >> 6 != BRAID_RTP_VERSION)
		return BRAID_ERR_VERSION;
	out->padding = buf[0] & 0x20;
	out->extension = buf[0] & 0x10;
	out->csrc_count = buf[0] & 0x0f;
	out->marker = buf[1] & 0x80;
	out->payload_type = buf[1] & 0x7f;
	if (!payload_type_valid(out->payload_type))
		return BRAID_ERR_MALFORMED;
	out->seq = rtcp_get16(buf + 2);
	out->timestamp = rtcp_get32(buf + 4);
	out->ssrc = rtcp_get32(buf + 8);
	int header_len = parse_header_tail(buf, len, out);
	if (header_len < 0)
		return header_len;
	out->header_len = (size_t)header_len;
	size_t rest = len - out->header_len;
	if (out->padding) {
		/* The count includes itself, so 0 is impossible; it may not eat the header. */
		uint8_t count = buf[len - 1];
		if (count == 0 || count > rest)
			return BRAID_ERR_MALFORMED;
		out->padding_len = count;
		rest -= count;
	}
	out->payload = buf + out->header_len;
	out->payload_len = rest;
	return 0;
}

static int check_buildable(const struct braid_rtp_header *h, size_t *total)
{
	if (!payload_type_valid(h->payload_type) || h->csrc_count > BRAID_RTP_MAX_CSRC)
		return BRAID_ERR_INVAL;
	if (h->extension && (h->ext_len % 4 || h->ext_len / 4 > UINT16_MAX ||
			     (h->ext_len && !h->ext_data)))
		return BRAID_ERR_INVAL;
	if ((h->padding && h->padding_len == 0) || (!h->padding && h->padding_len))
		return BRAID_ERR_INVAL;
	if (h->payload_len && !h->payload)
		return BRAID_ERR_INVAL;
	size_t n = BRAID_RTP_HEADER_SIZE + (size_t)h->csrc_count * 4;
	if (h->extension)
		n += EXT_HEADER_SIZE + h->ext_len;
	if (h->payload_len > SIZE_MAX - n - h->padding_len)
		return BRAID_ERR_TOO_BIG;
	*total = n + h->payload_len + h->padding_len;
	if (*total > INT32_MAX)
		return BRAID_ERR_TOO_BIG;
	return 0;
}

int braid_rtp_build(const struct braid_rtp_header *h, uint8_t *buf, size_t cap)
{
	size_t total;
	int rc = check_buildable(h, &total);
	if (rc < 0)
		return rc;
	if (!buf || total > cap)
		return BRAID_ERR_TOO_BIG;
	buf[0] = (uint8_t)(BRAID_RTP_VERSION << 6 | (h->padding ? 0x20 : 0) |
			   (h->extension ? 0x10 : 0) | h->csrc_count);
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
	rtcp_put16(buf + 2, h->seq);
	rtcp_put32(buf + 4, h->timestamp);
	rtcp_put32(buf + 8, h->ssrc);
	size_t off = BRAID_RTP_HEADER_SIZE;
	for (unsigned i = 0; i < h->csrc_count; i++, off += 4)
		rtcp_put32(buf + off, h->csrc[i]);
	if (h->extension) {
		rtcp_put16(buf + off, h->ext_profile);
		rtcp_put16(buf + off + 2, (uint16_t)(h->ext_len / 4));
		off += EXT_HEADER_SIZE;
		if (h->ext_len)
			memcpy(buf + off, h->ext_data, h->ext_len);
		off += h->ext_len;
	}
	if (h->payload_len)
		memcpy(buf + off, h->payload, h->payload_len);
	off += h->payload_len;
	if (h->padding) {
		memset(buf + off, 0, h->padding_len - 1u);
		buf[off + h->padding_len - 1u] = h->padding_len;
	}
	return (int)total;
}

bool braid_rtp_looks_like_rtcp(const uint8_t *buf, size_t len)
{
	return buf && len >= 2 && buf[0] >> 6 == BRAID_RTP_VERSION && buf[1] >= 192 &&
	       buf[1] <= 223;
}

uint32_t braid_rtp_units_from_us(uint64_t us, uint32_t clock_rate)
{
	/* floor((q * 10^6 + r) * rate / 10^6) = q * rate + floor(r * rate / 10^6), and
	 * r * rate < 2^52: exact without 128-bit arithmetic. Only the low 32 bits matter. */
	uint64_t q = us / 1000000u, r = us % 1000000u;
	return (uint32_t)(q * clock_rate + r * clock_rate / 1000000u);
}

/* A.1 init_seq. */
static void init_seq(struct braid_rtp_source *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = BRAID_RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
}

void braid_rtp_source_init(struct braid_rtp_source *s, unsigned min_sequential)
{
	memset(s, 0, sizeof(*s));
	s->min_sequential = min_sequential;
}

static enum braid_rtp_seq_status first_packet(struct braid_rtp_source *s, uint16_t seq)
{
	s->started = true;
	init_seq(s, seq);
	if (s->min_sequential == 0) {
		s->received = 1;
		return BRAID_RTP_SEQ_NEW;
	}
	/* As A.1 does: the first packet starts probation like any in-sequence one. */
	s->max_seq = (uint16_t)(seq - 1);
	s->probation = s->min_sequential;
	return BRAID_RTP_SEQ_PROBATION;
}

static enum braid_rtp_seq_status on_probation(struct braid_rtp_source *s, uint16_t seq)
{
	if (seq == (uint16_t)(s->max_seq + 1)) {
		s->probation--;
		s->max_seq = seq;
		if (s->probation == 0) {
			init_seq(s, seq);
			s->received++;
			return BRAID_RTP_SEQ_NEW;
		}
	} else {
		s->probation = s->min_sequential - 1;
		s->max_seq = seq;
	}
	return BRAID_RTP_SEQ_PROBATION;
}

enum braid_rtp_seq_status braid_rtp_source_update(struct braid_rtp_source *s, uint16_t seq)
{
	enum braid_rtp_seq_status status;
	if (!s->started) {
		status = first_packet(s, seq);
		if (status != BRAID_RTP_SEQ_PROBATION || s->probation == 0)
			return status;
		/* A.1 runs update_seq on the first packet too: it is the first in sequence. */
	}
	uint16_t udelta = (uint16_t)(seq - s->max_seq);
	if (s->probation)
		return on_probation(s, seq);
	if (udelta < BRAID_RTP_MAX_DROPOUT) {
		/* In order, with a permissible gap; udelta 0 repeats the highest. */
		if (seq < s->max_seq)
			s->cycles += BRAID_RTP_SEQ_MOD;
		s->max_seq = seq;
		status = udelta == 0 ? BRAID_RTP_SEQ_OLD : BRAID_RTP_SEQ_NEW;
	} else if (udelta <= BRAID_RTP_SEQ_MOD - BRAID_RTP_MAX_MISORDER) {
		/* A very large jump: believed only when the next packet follows it. */
		if (seq != s->bad_seq) {
			s->bad_seq = (uint32_t)(seq + 1) & (BRAID_RTP_SEQ_MOD - 1);
			return BRAID_RTP_SEQ_JUMP;
		}
		init_seq(s, seq);
		status = BRAID_RTP_SEQ_RESYNC;
	} else {
		status = BRAID_RTP_SEQ_OLD;
	}
	s->received++;
	return status;
}

bool braid_rtp_source_valid(const struct braid_rtp_source *s)
{
	return s->started && s->probation == 0;
}

uint32_t braid_rtp_source_ext_max(const struct braid_rtp_source *s)
{
	return s->cycles + s->max_seq;
}

static int32_t clamp_lost(int64_t lost)
{
	if (lost > LOST_MAX)
		return LOST_MAX;
	if (lost < LOST_MIN)
		return LOST_MIN;
	return (int32_t)lost;
}

void braid_rtp_source_report(struct braid_rtp_source *s, struct braid_rtp_loss *out)
{
	uint32_t ext_max = braid_rtp_source_ext_max(s);
	uint32_t expected = ext_max - s->base_seq + 1;
	/* Modular differences: right while the true values are within 2^31 of each other. */
	int64_t lost = (int32_t)(expected - s->received);
	uint32_t expected_interval = expected - s->expected_prior;
	uint32_t received_interval = s->received - s->received_prior;
	int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
	s->expected_prior = expected;
	s->received_prior = s->received;
	out->ext_max = ext_max;
	out->cumulative_lost = clamp_lost(lost);
	if (expected_interval == 0 || lost_interval <= 0) {
		out->fraction_lost = 0;
	} else {
		/* Every advance of max_seq counts a packet, so the fraction stays below 1. */
		uint64_t fraction = ((uint64_t)lost_interval << 8) / expected_interval;
		out->fraction_lost = (uint8_t)(fraction > 255 ? 255 : fraction);
	}
}

void braid_rtp_jitter_update(struct braid_rtp_jitter *j, uint32_t arrival, uint32_t timestamp)
{
	uint32_t transit = arrival - timestamp;
	if (j->has_transit) {
		int32_t d = (int32_t)(transit - j->last_transit);
		uint64_t abs_d = d < 0 ? (uint64_t)(-(int64_t)d) : (uint64_t)d;
		j->j16 = j->j16 + abs_d - ((j->j16 + 8) >> 4);
	}
	j->last_transit = transit;
	j->has_transit = true;
}

uint32_t braid_rtp_jitter_value(const struct braid_rtp_jitter *j)
{
	uint64_t v = j->j16 >> 4;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}
