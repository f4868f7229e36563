/* Reading RTCP compound packets (RFC 3550 6 and A.2, RFC 4585 6.2.1), SDES and NACK
 * helpers, and NTP time conversions. The writer is in rtcp_write.c. */
#include "braid/rtcp.h"

#include <string.h>

#include "braid/error.h"
#include "rtp/rtcp_bytes.h"

enum {
	SENDER_INFO_SIZE = 24, /* SSRC, NTP, RTP timestamp, packet and octet counts */
	BLOCK_SIZE = 24,
	FB_HEADER_SIZE = 8,    /* feedback: sender SSRC, media SSRC */
	APP_FIXED_SIZE = 8,    /* SSRC, name */
};

static bool is_rtcp_type(uint8_t type)
{
	return type >= 192 && type <= 223;
}

static void read_block(const uint8_t *p, struct braid_rtcp_report_block *b)
{
	b->ssrc = rtcp_get32(p);
	b->fraction_lost = p[4];
	/* A 24-bit two's complement field: shift it to the top and back to extend the sign. */
	uint32_t raw = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	b->cumulative_lost = raw & 0x800000 ? (int32_t)raw - 0x1000000 : (int32_t)raw;
	b->ext_highest_seq = rtcp_get32(p + 8);
	b->jitter = rtcp_get32(p + 12);
	b->lsr = rtcp_get32(p + 16);
	b->dlsr = rtcp_get32(p + 20);
}

static int read_blocks(const uint8_t *p, size_t len, uint8_t count,
		       struct braid_rtcp_report_block *blocks, const uint8_t **ext, size_t *ext_len)
{
	if (len < (size_t)count * BLOCK_SIZE)
		return BRAID_ERR_MALFORMED;
	for (unsigned i = 0; i < count; i++)
		read_block(p + i * BLOCK_SIZE, &blocks[i]);
	*ext_len = len - (size_t)count * BLOCK_SIZE;
	*ext = *ext_len ? p + (size_t)count * BLOCK_SIZE : NULL;
	return 0;
}

static int read_sr(const uint8_t *p, size_t len, uint8_t count, struct braid_rtcp_sr *sr)
{
	if (len < SENDER_INFO_SIZE)
		return BRAID_ERR_MALFORMED;
	sr->ssrc = rtcp_get32(p);
	sr->ntp = rtcp_get64(p + 4);
	sr->rtp_ts = rtcp_get32(p + 12);
	sr->packets = rtcp_get32(p + 16);
	sr->octets = rtcp_get32(p + 20);
	sr->block_count = count;
	return read_blocks(p + SENDER_INFO_SIZE, len - SENDER_INFO_SIZE, count, sr->blocks,
			   &sr->ext, &sr->ext_len);
}

static int read_rr(const uint8_t *p, size_t len, uint8_t count, struct braid_rtcp_rr *rr)
{
	if (len < 4)
		return BRAID_ERR_MALFORMED;
	rr->ssrc = rtcp_get32(p);
	rr->block_count = count;
	return read_blocks(p + 4, len - 4, count, rr->blocks, &rr->ext, &rr->ext_len);
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One chunk at p (4-byte aligned): SSRC, items, one null octet or more up to the next
 * 32-bit boundary. Returns the chunk's length or an error. */
static int read_chunk(const uint8_t *p, size_t len, struct braid_rtcp_sdes_chunk *c)
{
	if (len < 4)
		return BRAID_ERR_MALFORMED;
	c->ssrc = rtcp_get32(p);
	size_t off = 4;
	while (off < len && p[off] != BRAID_SDES_END) {
		if (len - off < 2 || len - off - 2 < p[off + 1])
			return BRAID_ERR_MALFORMED;
		off += 2 + (size_t)p[off + 1];
	}
	if (off >= len)
		return BRAID_ERR_MALFORMED; /* no terminating null octet */
	c->items = p + 4;
	c->items_len = off - 4;
	size_t end = align4(off + 1);
	if (end > len || !all_zero(p + off, end - off))
		return BRAID_ERR_MALFORMED;
	return (int)end;
}

static int read_sdes(const uint8_t *p, size_t len, uint8_t count, struct braid_rtcp_sdes *s)
{
	size_t off = 0;
	s->chunk_count = count;
	for (unsigned i = 0; i < count; i++) {
		int n = read_chunk(p + off, len - off, &s->chunks[i]);
		if (n < 0)
			return n;
		off += (size_t)n;
	}
	return off == len ? 0 : BRAID_ERR_MALFORMED;
}

static int read_bye(const uint8_t *p, size_t len, uint8_t count, struct braid_rtcp_bye *b)
{
	if (len < (size_t)count * 4)
		return BRAID_ERR_MALFORMED;
	b->ssrc_count = count;
	for (unsigned i = 0; i < count; i++)
		b->ssrcs[i] = rtcp_get32(p + 4 * i);
	size_t off = (size_t)count * 4;
	b->has_reason = off < len;
	if (!b->has_reason)
		return 0;
	b->reason_len = p[off];
	b->reason = p + off + 1;
	size_t end = align4(off + 1 + b->reason_len);
	if (end != len || !all_zero(p + off + 1 + b->reason_len, end - off - 1 - b->reason_len))
		return BRAID_ERR_MALFORMED;
	return 0;
}

static bool app_name_valid(const uint8_t name[4])
{
	for (int i = 0; i < 4; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

static int read_app(const uint8_t *p, size_t len, uint8_t subtype, struct braid_rtcp_app *a)
{
	if (len < APP_FIXED_SIZE)
		return BRAID_ERR_MALFORMED;
	a->subtype = subtype;
	a->ssrc = rtcp_get32(p);
	memcpy(a->name, p + 4, 4);
	if (!app_name_valid(a->name))
		return BRAID_ERR_MALFORMED;
	a->data_len = len - APP_FIXED_SIZE;
	a->data = a->data_len ? p + APP_FIXED_SIZE : NULL;
	return 0;
}

static int read_nack(const uint8_t *p, size_t len, struct braid_rtcp_nack *n)
{
	/* RFC 4585 6.2.1: at least one FCI entry. */
	if (len < FB_HEADER_SIZE + 4)
		return BRAID_ERR_MALFORMED;
	n->sender_ssrc = rtcp_get32(p);
	n->media_ssrc = rtcp_get32(p + 4);
	n->fci = p + FB_HEADER_SIZE;
	n->pair_count = (len - FB_HEADER_SIZE) / 4;
	n->pairs = NULL;
	return 0;
}

static int read_body(struct braid_rtcp_packet *out, const uint8_t *p, size_t len)
{
	switch (out->type) {
	case BRAID_RTCP_SR:
		out->kind = BRAID_RTCP_KIND_SR;
		return read_sr(p, len, out->count, &out->u.sr);
	case BRAID_RTCP_RR:
		out->kind = BRAID_RTCP_KIND_RR;
		return read_rr(p, len, out->count, &out->u.rr);
	case BRAID_RTCP_SDES:
		out->kind = BRAID_RTCP_KIND_SDES;
		return read_sdes(p, len, out->count, &out->u.sdes);
	case BRAID_RTCP_BYE:
		out->kind = BRAID_RTCP_KIND_BYE;
		return read_bye(p, len, out->count, &out->u.bye);
	case BRAID_RTCP_APP:
		out->kind = BRAID_RTCP_KIND_APP;
		return read_app(p, len, out->count, &out->u.app);
	default:
		break;
	}
	if (out->type == BRAID_RTCP_RTPFB && out->count == BRAID_RTCP_FMT_NACK) {
		out->kind = BRAID_RTCP_KIND_NACK;
		return read_nack(p, len, &out->u.nack);
	}
	if ((out->type == BRAID_RTCP_RTPFB || out->type == BRAID_RTCP_PSFB) &&
	    len < FB_HEADER_SIZE)
		return BRAID_ERR_MALFORMED;
	out->kind = BRAID_RTCP_KIND_OTHER;
	out->u.other.body = len ? p : NULL;
	out->u.other.body_len = len;
	return 0;
}

int braid_rtcp_reader_init(struct braid_rtcp_reader *r, const uint8_t *buf, size_t len,
			   unsigned flags)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	r->flags = flags;
	if (!buf || len < BRAID_RTCP_HEADER_SIZE)
		r->err = BRAID_ERR_TRUNCATED;
	else if (len % 4)
		r->err = BRAID_ERR_MALFORMED;
	return r->err;
}

/* The packet's padding: allowed on the last packet only, a multiple of 4 that leaves the
 * header. Returns the padding length or an error. */
static int read_padding(const struct braid_rtcp_reader *r, const uint8_t *p, size_t pkt_len)
{
	if (!(p[0] & 0x20))
		return 0;
	uint8_t pad = p[pkt_len - 1];
	if (r->off + pkt_len != r->len || pad == 0 || pad % 4 ||
	    pad > pkt_len - BRAID_RTCP_HEADER_SIZE)
		return BRAID_ERR_MALFORMED;
	return pad;
}

static int read_packet(struct braid_rtcp_reader *r, struct braid_rtcp_packet *out)
{
	const uint8_t *p = r->buf + r->off;
	size_t left = r->len - r->off;
	if (left < BRAID_RTCP_HEADER_SIZE)
		return BRAID_ERR_TRUNCATED;
	if (p[0] >> 6 != BRAID_RTCP_VERSION)
		return BRAID_ERR_VERSION;
	memset(out, 0, sizeof(*out));
	out->type = p[1];
	out->count = p[0] & 0x1f;
	if (!is_rtcp_type(out->type))
		return BRAID_ERR_TYPE;
	if (r->off == 0 && !(r->flags & BRAID_RTCP_REDUCED_SIZE) &&
	    out->type != BRAID_RTCP_SR && out->type != BRAID_RTCP_RR)
		return BRAID_ERR_MALFORMED;
	size_t pkt_len = ((size_t)rtcp_get16(p + 2) + 1) * 4;
	if (pkt_len > left)
		return BRAID_ERR_TRUNCATED;
	int pad = read_padding(r, p, pkt_len);
	if (pad < 0)
		return pad;
	out->padding_len = (uint8_t)pad;
	out->offset = r->off;
	out->len = pkt_len;
	int rc = read_body(out, p + BRAID_RTCP_HEADER_SIZE,
			   pkt_len - BRAID_RTCP_HEADER_SIZE - (size_t)pad);
	if (rc < 0)
		return rc;
	r->off += pkt_len;
	return 1;
}

int braid_rtcp_read(struct braid_rtcp_reader *r, struct braid_rtcp_packet *out)
{
	if (r->err)
		return r->err;
	if (r->off == r->len)
		return 0;
	int rc = read_packet(r, out);
	if (rc < 0)
		r->err = rc;
	return rc;
}

int braid_rtcp_check(const uint8_t *buf, size_t len, unsigned flags)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	int rc = braid_rtcp_reader_init(&r, buf, len, flags);
	int count = 0;
	while (rc == 0 && (rc = braid_rtcp_read(&r, &p)) == 1) {
		count++;
		rc = 0;
	}
	return rc < 0 ? rc : count;
}

int braid_rtcp_sdes_next_item(const struct braid_rtcp_sdes_chunk *chunk, size_t *off,
			      struct braid_rtcp_sdes_item *item)
{
	size_t left = chunk->items_len - *off;
	if (*off >= chunk->items_len || left < 2 || left - 2 < chunk->items[*off + 1])
		return 0;
	item->type = chunk->items[*off];
	item->len = chunk->items[*off + 1];
	item->text = chunk->items + *off + 2;
	*off += 2 + (size_t)item->len;
	return item->type != BRAID_SDES_END;
}

bool braid_rtcp_sdes_find(const struct braid_rtcp_sdes_chunk *chunk, uint8_t type,
			  struct braid_rtcp_sdes_item *item)
{
	size_t off = 0;
	while (braid_rtcp_sdes_next_item(chunk, &off, item) == 1)
		if (item->type == type)
			return true;
	return false;
}

struct braid_rtcp_nack_pair braid_rtcp_nack_pair_at(const struct braid_rtcp_nack *nack,
						    size_t i)
{
	if (nack->pairs)
		return nack->pairs[i];
	struct braid_rtcp_nack_pair pair = {
		.pid = rtcp_get16(nack->fci + 4 * i),
		.blp = rtcp_get16(nack->fci + 4 * i + 2),
	};
	return pair;
}

unsigned braid_rtcp_nack_pair_seqs(struct braid_rtcp_nack_pair pair, uint16_t out[17])
{
	unsigned n = 0;
	out[n++] = pair.pid;
	for (unsigned bit = 0; bit < 16; bit++)
		if (pair.blp & (1u << bit))
			out[n++] = (uint16_t)(pair.pid + bit + 1);
	return n;
}

size_t braid_rtcp_nack_pack(const uint16_t *lost, size_t n, struct braid_rtcp_nack_pair *out,
			    size_t cap)
{
	size_t pairs = 0;
	struct braid_rtcp_nack_pair cur = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		if (pairs > 0) {
			uint16_t delta = (uint16_t)(lost[i] - cur.pid);
			if (delta == 0)
				continue; /* listed twice */
			if (delta <= 16) {
				cur.blp |= (uint16_t)(1u << (delta - 1));
				continue;
			}
			if (pairs <= cap)
				out[pairs - 1] = cur;
		}
		cur.pid = lost[i];
		cur.blp = 0;
		pairs++;
	}
	if (pairs > 0 && pairs <= cap)
		out[pairs - 1] = cur;
	return pairs;
}

uint64_t braid_ntp_from_us(uint64_t us)
{
	uint64_t seconds = us / 1000000u, rest = us % 1000000u;
	/* rest * 2^32 < 2^52: exact. */
	return seconds << 32 | ((rest << 32) / 1000000u);
}

uint64_t braid_ntp_add_us(uint64_t origin, uint64_t us)
{
	return origin + braid_ntp_from_us(us);
}

uint32_t braid_ntp_middle(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

uint32_t braid_rtcp_dlsr_from_us(uint64_t us)
{
	uint64_t seconds = us / 1000000u, rest = us % 1000000u;
	if (seconds >= 65536)
		return UINT32_MAX;
	return (uint32_t)(seconds << 16 | ((rest << 16) / 1000000u));
}
