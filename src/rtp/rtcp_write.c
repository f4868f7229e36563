/* Writing RTCP packets. Each packet is checked whole before a byte is written, so a
 * refused packet leaves the compound as it was, and nothing is written that rtcp.c's
 * reader would refuse (apart from padding on a packet that is not the last: the writer
 * cannot know what the caller appends next). */
#include "braid/rtcp.h"

#include <string.h>

#include "braid/error.h"
#include "rtp/rtcp_bytes.h"

enum {
	SENDER_INFO_SIZE = 24,
	BLOCK_SIZE = 24,
	FB_HEADER_SIZE = 8,
	APP_FIXED_SIZE = 8,
	MAX_PACKET = 65536 * 4, /* the 16-bit length counts 32-bit words minus one */
	LOST_MIN = -0x800000,
	LOST_MAX = 0x7fffff,
};

void braid_rtcp_writer_init(struct braid_rtcp_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool blocks_valid(const struct braid_rtcp_report_block *blocks, uint8_t count)
{
	if (count > BRAID_RTCP_MAX_COUNT)
		return false;
	for (unsigned i = 0; i < count; i++)
		if (blocks[i].cumulative_lost < LOST_MIN || blocks[i].cumulative_lost > LOST_MAX)
			return false;
	return true;
}

static bool ext_valid(const uint8_t *ext, size_t len)
{
	return len % 4 == 0 && (len == 0 || ext);
}

/* Items as the reader accepts them: each a non-zero type and a length that fits. */
static bool items_valid(const uint8_t *items, size_t len)
{
	if (len && !items)
		return false;
	size_t off = 0;
	while (off < len) {
		if (items[off] == BRAID_SDES_END || len - off < 2 || len - off - 2 < items[off + 1])
			return false;
		off += 2 + (size_t)items[off + 1];
	}
	return true;
}

static size_t chunk_size(const struct braid_rtcp_sdes_chunk *c)
{
	return 4 + align4(c->items_len + 1); /* at least one null octet ends the items */
}

static int sdes_body_size(const struct braid_rtcp_sdes *s, size_t *size)
{
	if (s->chunk_count > BRAID_RTCP_MAX_COUNT)
		return BRAID_ERR_INVAL;
	*size = 0;
	for (unsigned i = 0; i < s->chunk_count; i++) {
		if (!items_valid(s->chunks[i].items, s->chunks[i].items_len))
			return BRAID_ERR_INVAL;
		if (s->chunks[i].items_len > MAX_PACKET)
			return BRAID_ERR_TOO_BIG;
		*size += chunk_size(&s->chunks[i]);
	}
	return 0;
}

static bool app_valid(const struct braid_rtcp_app *a)
{
	if (a->subtype > BRAID_RTCP_MAX_COUNT || !ext_valid(a->data, a->data_len))
		return false;
	for (int i = 0; i < 4; i++)
		if (a->name[i] < 0x20 || a->name[i] > 0x7e)
			return false;
	return true;
}

static bool other_valid(const struct braid_rtcp_packet *p)
{
	const struct braid_rtcp_other *o = &p->u.other;
	if (p->type < 192 || p->type > 223 || p->count > BRAID_RTCP_MAX_COUNT)
		return false;
	/* Types with their own kind go through it, so they are checked. */
	if (p->type >= BRAID_RTCP_SR && p->type <= BRAID_RTCP_APP)
		return false;
	if (p->type == BRAID_RTCP_RTPFB && p->count == BRAID_RTCP_FMT_NACK)
		return false;
	if ((p->type == BRAID_RTCP_RTPFB || p->type == BRAID_RTCP_PSFB) &&
	    o->body_len < FB_HEADER_SIZE)
		return false;
	return ext_valid(o->body, o->body_len);
}

/* The body's size (after the 4-byte header, before padding), with type and count. */
static int body_size(const struct braid_rtcp_packet *p, uint8_t *type, uint8_t *count,
		     size_t *size)
{
	switch (p->kind) {
	case BRAID_RTCP_KIND_SR:
		if (!blocks_valid(p->u.sr.blocks, p->u.sr.block_count) ||
		    !ext_valid(p->u.sr.ext, p->u.sr.ext_len))
			return BRAID_ERR_INVAL;
		*type = BRAID_RTCP_SR;
		*count = p->u.sr.block_count;
		*size = SENDER_INFO_SIZE + (size_t)*count * BLOCK_SIZE + p->u.sr.ext_len;
		return 0;
	case BRAID_RTCP_KIND_RR:
		if (!blocks_valid(p->u.rr.blocks, p->u.rr.block_count) ||
		    !ext_valid(p->u.rr.ext, p->u.rr.ext_len))
			return BRAID_ERR_INVAL;
		*type = BRAID_RTCP_RR;
		*count = p->u.rr.block_count;
		*size = 4 + (size_t)*count * BLOCK_SIZE + p->u.rr.ext_len;
		return 0;
	case BRAID_RTCP_KIND_SDES:
		*type = BRAID_RTCP_SDES;
		*count = p->u.sdes.chunk_count;
		return sdes_body_size(&p->u.sdes, size);
	case BRAID_RTCP_KIND_BYE:
		if (p->u.bye.ssrc_count > BRAID_RTCP_MAX_COUNT ||
		    (p->u.bye.reason_len && !p->u.bye.reason))
			return BRAID_ERR_INVAL;
		*type = BRAID_RTCP_BYE;
		*count = p->u.bye.ssrc_count;
		*size = (size_t)*count * 4 +
			(p->u.bye.has_reason ? align4(1 + (size_t)p->u.bye.reason_len) : 0);
		return 0;
	case BRAID_RTCP_KIND_APP:
		if (!app_valid(&p->u.app))
			return BRAID_ERR_INVAL;
		*type = BRAID_RTCP_APP;
		*count = p->u.app.subtype;
		*size = APP_FIXED_SIZE + p->u.app.data_len;
		return 0;
	case BRAID_RTCP_KIND_NACK:
		if (p->u.nack.pair_count == 0 || (!p->u.nack.pairs && !p->u.nack.fci) ||
		    p->u.nack.pair_count > MAX_PACKET / 4)
			return BRAID_ERR_INVAL;
		*type = BRAID_RTCP_RTPFB;
		*count = BRAID_RTCP_FMT_NACK;
		*size = FB_HEADER_SIZE + p->u.nack.pair_count * 4;
		return 0;
	case BRAID_RTCP_KIND_OTHER:
		if (!other_valid(p))
			return BRAID_ERR_INVAL;
		*type = p->type;
		*count = p->count;
		*size = p->u.other.body_len;
		return 0;
	}
	return BRAID_ERR_INVAL;
}

static void write_block(uint8_t *q, const struct braid_rtcp_report_block *b)
{
	rtcp_put32(q, b->ssrc);
	/* The low 24 bits of the two's complement value, checked to fit before. */
	rtcp_put32(q + 4, (uint32_t)b->fraction_lost << 24 |
				  ((uint32_t)b->cumulative_lost & 0xffffff));
	rtcp_put32(q + 8, b->ext_highest_seq);
	rtcp_put32(q + 12, b->jitter);
	rtcp_put32(q + 16, b->lsr);
	rtcp_put32(q + 20, b->dlsr);
}

static uint8_t *write_blocks(uint8_t *q, const struct braid_rtcp_report_block *blocks,
			     uint8_t count, const uint8_t *ext, size_t ext_len)
{
	for (unsigned i = 0; i < count; i++, q += BLOCK_SIZE)
		write_block(q, &blocks[i]);
	if (ext_len)
		memcpy(q, ext, ext_len);
	return q + ext_len;
}

static void write_sr(uint8_t *q, const struct braid_rtcp_sr *sr)
{
	rtcp_put32(q, sr->ssrc);
	rtcp_put64(q + 4, sr->ntp);
	rtcp_put32(q + 12, sr->rtp_ts);
	rtcp_put32(q + 16, sr->packets);
	rtcp_put32(q + 20, sr->octets);
	write_blocks(q + SENDER_INFO_SIZE, sr->blocks, sr->block_count, sr->ext, sr->ext_len);
}

static void write_sdes(uint8_t *q, const struct braid_rtcp_sdes *s)
{
	for (unsigned i = 0; i < s->chunk_count; i++) {
		const struct braid_rtcp_sdes_chunk *c = &s->chunks[i];
		size_t size = chunk_size(c);
		rtcp_put32(q, c->ssrc);
		if (c->items_len)
			memcpy(q + 4, c->items, c->items_len);
		memset(q + 4 + c->items_len, 0, size - 4 - c->items_len);
		q += size;
	}
}

static void write_bye(uint8_t *q, const struct braid_rtcp_bye *b, size_t size)
{
	for (unsigned i = 0; i < b->ssrc_count; i++, q += 4)
		rtcp_put32(q, b->ssrcs[i]);
	if (!b->has_reason)
		return;
	size_t rest = size - (size_t)b->ssrc_count * 4;
	memset(q, 0, rest);
	q[0] = b->reason_len;
	if (b->reason_len)
		memcpy(q + 1, b->reason, b->reason_len);
}

static void write_nack(uint8_t *q, const struct braid_rtcp_nack *n)
{
	rtcp_put32(q, n->sender_ssrc);
	rtcp_put32(q + 4, n->media_ssrc);
	q += FB_HEADER_SIZE;
	for (size_t i = 0; i < n->pair_count; i++, q += 4) {
		struct braid_rtcp_nack_pair pair = braid_rtcp_nack_pair_at(n, i);
		rtcp_put16(q, pair.pid);
		rtcp_put16(q + 2, pair.blp);
	}
}

static void write_body(uint8_t *q, const struct braid_rtcp_packet *p, size_t size)
{
	switch (p->kind) {
	case BRAID_RTCP_KIND_SR:
		write_sr(q, &p->u.sr);
		break;
	case BRAID_RTCP_KIND_RR:
		rtcp_put32(q, p->u.rr.ssrc);
		write_blocks(q + 4, p->u.rr.blocks, p->u.rr.block_count, p->u.rr.ext,
			     p->u.rr.ext_len);
		break;
	case BRAID_RTCP_KIND_SDES:
		write_sdes(q, &p->u.sdes);
		break;
	case BRAID_RTCP_KIND_BYE:
		write_bye(q, &p->u.bye, size);
		break;
	case BRAID_RTCP_KIND_APP:
		rtcp_put32(q, p->u.app.ssrc);
		memcpy(q + 4, p->u.app.name, 4);
		if (p->u.app.data_len)
			memcpy(q + APP_FIXED_SIZE, p->u.app.data, p->u.app.data_len);
		break;
	case BRAID_RTCP_KIND_NACK:
		write_nack(q, &p->u.nack);
		break;
	case BRAID_RTCP_KIND_OTHER:
		if (size)
			memcpy(q, p->u.other.body, size);
		break;
	}
}

int braid_rtcp_write(struct braid_rtcp_writer *w, const struct braid_rtcp_packet *p)
{
	uint8_t type = 0, count = 0;
	size_t size = 0;
	int rc = body_size(p, &type, &count, &size);
	if (rc < 0)
		return rc;
	if (p->padding_len % 4)
		return BRAID_ERR_INVAL;
	size_t total = BRAID_RTCP_HEADER_SIZE + size + p->padding_len;
	if (total > MAX_PACKET)
		return BRAID_ERR_TOO_BIG;
	if (total > w->cap - w->len)
		return BRAID_ERR_TOO_BIG;
	uint8_t *q = w->buf + w->len;
	q[0] = (uint8_t)(BRAID_RTCP_VERSION << 6 | (p->padding_len ? 0x20 : 0) | count);
	q[1] = type;
	rtcp_put16(q + 2, (uint16_t)(total / 4 - 1));
	write_body(q + BRAID_RTCP_HEADER_SIZE, p, size);
	if (p->padding_len) {
		memset(q + BRAID_RTCP_HEADER_SIZE + size, 0, p->padding_len);
		q[total - 1] = p->padding_len;
	}
	w->len += total;
	return (int)total;
}

int braid_rtcp_write_cname(struct braid_rtcp_writer *w, uint32_t ssrc, const char *cname,
			   size_t cname_len)
{
	if (!cname || cname_len == 0 || cname_len > 255)
		return BRAID_ERR_INVAL;
	uint8_t items[2 + 255];
	items[0] = BRAID_SDES_CNAME;
	items[1] = (uint8_t)cname_len;
	memcpy(items + 2, cname, cname_len);
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_SDES;
	p.u.sdes.chunk_count = 1;
	p.u.sdes.chunks[0].ssrc = ssrc;
	p.u.sdes.chunks[0].items = items;
	p.u.sdes.chunks[0].items_len = 2 + cname_len;
	return braid_rtcp_write(w, &p);
}
