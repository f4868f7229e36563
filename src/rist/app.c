#include "rist/app.h"

#include <string.h>

#include "braid/error.h"

#define RANGE_RECORD_SIZE 4
#define ECHO_DATA_SIZE 12 /* timestamp (8) and processing delay (4) */
#define MAX_PAIRS 128     /* a generic NACK written in one packet */

static uint16_t read16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t read32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void write16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void write32(uint8_t *p, uint32_t v)
{
	write16(p, (uint16_t)(v >> 16));
	write16(p + 2, (uint16_t)v);
}

bool braid_rist_app_is_rist(const struct braid_rtcp_app *app)
{
	return memcmp(app->name, "RIST", 4) == 0;
}

static int generic_seqs(const struct braid_rtcp_nack *nack, uint16_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < nack->pair_count; i++) {
		uint16_t seqs[17];
		unsigned k = braid_rtcp_nack_pair_seqs(braid_rtcp_nack_pair_at(nack, i), seqs);
		for (unsigned j = 0; j < k && n < cap; j++)
			out[n++] = seqs[j];
	}
	return (int)n;
}

static int range_seqs(const struct braid_rtcp_app *app, uint16_t *out, size_t cap)
{
	if (app->data_len % RANGE_RECORD_SIZE)
		return -1;
	size_t n = 0;
	for (size_t off = 0; off < app->data_len; off += RANGE_RECORD_SIZE) {
		uint16_t start = read16(app->data + off);
		uint32_t extra = read16(app->data + off + 2);
		for (uint32_t k = 0; k <= extra && n < cap; k++)
			out[n++] = (uint16_t)(start + k);
	}
	return (int)n;
}

int braid_rist_nack_seqs(const struct braid_rtcp_packet *p, uint32_t *media_ssrc,
			 uint16_t *out, size_t cap)
{
	if (p->kind == BRAID_RTCP_KIND_NACK) {
		*media_ssrc = p->u.nack.media_ssrc;
		return generic_seqs(&p->u.nack, out, cap);
	}
	if (p->kind == BRAID_RTCP_KIND_APP && braid_rist_app_is_rist(&p->u.app) &&
	    p->u.app.subtype == BRAID_RIST_APP_RANGE_NACK) {
		*media_ssrc = p->u.app.ssrc;
		return range_seqs(&p->u.app, out, cap);
	}
	return -1;
}

bool braid_rist_echo_parse(const struct braid_rtcp_packet *p, uint8_t *subtype,
			   struct braid_rist_echo *e)
{
	if (p->kind != BRAID_RTCP_KIND_APP || !braid_rist_app_is_rist(&p->u.app))
		return false;
	const struct braid_rtcp_app *app = &p->u.app;
	if (app->subtype != BRAID_RIST_APP_ECHO_REQUEST &&
	    app->subtype != BRAID_RIST_APP_ECHO_RESPONSE)
		return false;
	/* A request may leave the delay out; a response carries it. */
	if (app->data_len != ECHO_DATA_SIZE &&
	    !(app->data_len == 8 && app->subtype == BRAID_RIST_APP_ECHO_REQUEST))
		return false;
	*subtype = app->subtype;
	e->ssrc = app->ssrc;
	e->timestamp = (uint64_t)read32(app->data) << 32 | read32(app->data + 4);
	e->delay_us = app->data_len == ECHO_DATA_SIZE ? read32(app->data + 8) : 0;
	return true;
}

static int write_app(struct braid_rtcp_writer *w, uint8_t subtype, uint32_t ssrc,
		     const uint8_t *data, size_t len)
{
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_APP;
	p.u.app.subtype = subtype;
	p.u.app.ssrc = ssrc;
	memcpy(p.u.app.name, "RIST", 4);
	p.u.app.data = data;
	p.u.app.data_len = len;
	return braid_rtcp_write(w, &p);
}

int braid_rist_write_range_nack(struct braid_rtcp_writer *w, uint32_t media_ssrc,
				const uint16_t *lost, size_t n)
{
	uint8_t data[RANGE_RECORD_SIZE * MAX_PAIRS];
	size_t records = 0, i = 0;
	if (n == 0)
		return BRAID_ERR_INVAL;
	while (i < n && records < MAX_PAIRS) {
		size_t run = 1;
		while (i + run < n && run <= UINT16_MAX &&
		       lost[i + run] == (uint16_t)(lost[i] + run))
			run++;
		write16(data + records * RANGE_RECORD_SIZE, lost[i]);
		write16(data + records * RANGE_RECORD_SIZE + 2, (uint16_t)(run - 1));
		records++;
		i += run;
	}
	return write_app(w, BRAID_RIST_APP_RANGE_NACK, media_ssrc, data,
			 records * RANGE_RECORD_SIZE);
}

int braid_rist_write_generic_nack(struct braid_rtcp_writer *w, uint32_t sender_ssrc,
				  uint32_t media_ssrc, const uint16_t *lost, size_t n)
{
	struct braid_rtcp_nack_pair pairs[MAX_PAIRS];
	if (n == 0)
		return BRAID_ERR_INVAL;
	size_t count = braid_rtcp_nack_pack(lost, n, pairs, MAX_PAIRS);
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_NACK;
	p.u.nack.sender_ssrc = sender_ssrc;
	p.u.nack.media_ssrc = media_ssrc;
	p.u.nack.pair_count = count < MAX_PAIRS ? count : MAX_PAIRS;
	p.u.nack.pairs = pairs;
	return braid_rtcp_write(w, &p);
}

int braid_rist_write_echo(struct braid_rtcp_writer *w, uint8_t subtype,
			  const struct braid_rist_echo *e)
{
	uint8_t data[ECHO_DATA_SIZE];
	write32(data, (uint32_t)(e->timestamp >> 32));
	write32(data + 4, (uint32_t)e->timestamp);
	write32(data + 8, e->delay_us);
	return write_app(w, subtype, e->ssrc, data, sizeof(data));
}
