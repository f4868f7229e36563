/* An RTCP session: sender and receiver streams bound at runtime, reports taken on a
 * schedule per direction (or on demand) and written out one datagram at a time, incoming
 * SRs recorded for LSR/DLSR, and the hop-by-hop filter. Reports are taken as values when
 * they fall due, so what poll_transmit writes is what the streams said at that instant,
 * however late the caller drains them. */
#include "braid/rtcp_session.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

enum {
	RR_FIXED_SIZE = 8,  /* header and reporter SSRC */
	BLOCK_SIZE = 24,
	MAX_DATAGRAM_LIMIT = 65536,
	MAX_STREAMS_LIMIT = 65536,
};

/* The sender information of an SR taken but not yet written. */
struct pending_sr {
	uint32_t ssrc;
	uint64_t ntp;
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
};

struct braid_rtcp_session {
	struct braid_rtcp_session_settings settings;
	char cname[256];
	size_t cname_len;
	struct braid_rtcp_sender_stream *senders;
	size_t sender_count;
	struct braid_rtcp_receiver_stream *receivers;
	size_t receiver_count;
	uint64_t next_sr_us, next_rr_us;
	struct pending_sr *sr_pending;
	size_t sr_pending_count, sr_cursor;
	struct braid_rtcp_report_block *rr_pending;
	size_t rr_pending_count, rr_cursor;
};

void braid_rtcp_session_settings_default(struct braid_rtcp_session_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->sr_interval_us = 1000000;
	s->rr_interval_us = 1000000;
	s->rtcp_flags = BRAID_RTCP_REDUCED_SIZE;
	s->max_streams = 256;
	s->max_datagram = 1200;
}

/* An SDES packet with one chunk holding one CNAME. */
static size_t cname_packet_size(size_t cname_len)
{
	return cname_len ? 4 + 4 + ((2 + cname_len + 1 + 3) & ~(size_t)3) : 0;
}

static bool settings_valid(const struct braid_rtcp_session_settings *st, size_t cname_len)
{
	if (st->max_streams == 0 || st->max_streams > MAX_STREAMS_LIMIT)
		return false;
	if (st->max_datagram > MAX_DATAGRAM_LIMIT || st->max_datagram < 128)
		return false;
	/* An RR with one block and the CNAME must fit, or no report could be written. */
	if (RR_FIXED_SIZE + BLOCK_SIZE + cname_packet_size(cname_len) > st->max_datagram)
		return false;
	return !st->cname || (cname_len > 0 && cname_len <= 255);
}

struct braid_rtcp_session *braid_rtcp_session_new(const struct braid_rtcp_session_settings *st,
						  uint64_t now_us)
{
	size_t cname_len = st->cname ? strnlen(st->cname, 256) : 0;
	if (!settings_valid(st, cname_len))
		return NULL;
	struct braid_rtcp_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->settings = *st;
	s->settings.cname = NULL; /* the copy below is what is used */
	if (cname_len)
		memcpy(s->cname, st->cname, cname_len);
	s->cname_len = cname_len;
	size_t n = st->max_streams;
	s->senders = calloc(n, sizeof(*s->senders));
	s->receivers = calloc(n, sizeof(*s->receivers));
	s->sr_pending = calloc(n, sizeof(*s->sr_pending));
	s->rr_pending = calloc(n, sizeof(*s->rr_pending));
	if (!s->senders || !s->receivers || !s->sr_pending || !s->rr_pending) {
		braid_rtcp_session_free(s);
		return NULL;
	}
	s->next_sr_us = st->sr_interval_us ? now_us + st->sr_interval_us : UINT64_MAX;
	s->next_rr_us = st->rr_interval_us ? now_us + st->rr_interval_us : UINT64_MAX;
	return s;
}

void braid_rtcp_session_free(struct braid_rtcp_session *s)
{
	if (!s)
		return;
	free(s->senders);
	free(s->receivers);
	free(s->sr_pending);
	free(s->rr_pending);
	free(s);
}

static size_t find_sender(const struct braid_rtcp_session *s, uint32_t ssrc)
{
	for (size_t i = 0; i < s->sender_count; i++)
		if (s->senders[i].ssrc == ssrc)
			return i;
	return SIZE_MAX;
}

static size_t find_receiver(const struct braid_rtcp_session *s, uint32_t ssrc)
{
	for (size_t i = 0; i < s->receiver_count; i++)
		if (s->receivers[i].ssrc == ssrc)
			return i;
	return SIZE_MAX;
}

int braid_rtcp_session_bind_sender(struct braid_rtcp_session *s,
				   const struct braid_rtcp_stream_config *cfg)
{
	if (cfg->clock_rate == 0)
		return BRAID_ERR_INVAL;
	if (find_sender(s, cfg->ssrc) != SIZE_MAX)
		return BRAID_ERR_EXISTS;
	if (s->sender_count == s->settings.max_streams)
		return BRAID_ERR_FULL;
	braid_rtcp_sender_stream_init(&s->senders[s->sender_count++], cfg);
	return 0;
}

int braid_rtcp_session_unbind_sender(struct braid_rtcp_session *s, uint32_t ssrc)
{
	size_t i = find_sender(s, ssrc);
	if (i == SIZE_MAX)
		return BRAID_ERR_SESSION;
	/* Shifted down rather than swapped, so reports keep the order of binding. */
	memmove(&s->senders[i], &s->senders[i + 1],
		(s->sender_count - i - 1) * sizeof(s->senders[0]));
	s->sender_count--;
	return 0;
}

static int bind_receiver(struct braid_rtcp_session *s, const struct braid_rtcp_stream_config *cfg,
			 bool signalled)
{
	if (cfg->clock_rate == 0)
		return BRAID_ERR_INVAL;
	if (find_receiver(s, cfg->ssrc) != SIZE_MAX)
		return BRAID_ERR_EXISTS;
	if (s->receiver_count == s->settings.max_streams)
		return BRAID_ERR_FULL;
	struct braid_rtcp_receiver_stream *st = &s->receivers[s->receiver_count++];
	braid_rtcp_receiver_stream_init(st, cfg);
	st->signalled = signalled;
	return 0;
}

int braid_rtcp_session_bind_receiver(struct braid_rtcp_session *s,
				     const struct braid_rtcp_stream_config *cfg)
{
	return bind_receiver(s, cfg, true);
}

int braid_rtcp_session_unbind_receiver(struct braid_rtcp_session *s, uint32_t ssrc)
{
	size_t i = find_receiver(s, ssrc);
	if (i == SIZE_MAX)
		return BRAID_ERR_SESSION;
	memmove(&s->receivers[i], &s->receivers[i + 1],
		(s->receiver_count - i - 1) * sizeof(s->receivers[0]));
	s->receiver_count--;
	return 0;
}

const struct braid_rtcp_sender_stream *braid_rtcp_session_sender(
	const struct braid_rtcp_session *s, uint32_t ssrc)
{
	size_t i = find_sender(s, ssrc);
	return i == SIZE_MAX ? NULL : &s->senders[i];
}

const struct braid_rtcp_receiver_stream *braid_rtcp_session_receiver(
	const struct braid_rtcp_session *s, uint32_t ssrc)
{
	size_t i = find_receiver(s, ssrc);
	return i == SIZE_MAX ? NULL : &s->receivers[i];
}

static struct braid_rtcp_stream_config auto_config(const struct braid_rtcp_session *s,
						   uint32_t ssrc)
{
	struct braid_rtcp_stream_config cfg = {
		.ssrc = ssrc,
		.clock_rate = s->settings.auto_clock_rate,
		.use_latest_packet = s->settings.use_latest_packet,
		.probation = s->settings.probation,
	};
	return cfg;
}

int braid_rtcp_session_rtp_sent_header(struct braid_rtcp_session *s,
				       const struct braid_rtp_header *h, uint64_t now_us)
{
	size_t i = find_sender(s, h->ssrc);
	if (i == SIZE_MAX) {
		if (!s->settings.auto_clock_rate)
			return BRAID_ERR_SESSION;
		struct braid_rtcp_stream_config cfg = auto_config(s, h->ssrc);
		int rc = braid_rtcp_session_bind_sender(s, &cfg);
		if (rc < 0)
			return rc;
		i = s->sender_count - 1;
	}
	braid_rtcp_sender_stream_on_rtp(&s->senders[i], h, now_us);
	return 0;
}

int braid_rtcp_session_rtp_sent(struct braid_rtcp_session *s, const uint8_t *pkt, size_t len,
				uint64_t now_us)
{
	struct braid_rtp_header h;
	int rc = braid_rtp_parse(pkt, len, &h);
	return rc < 0 ? rc : braid_rtcp_session_rtp_sent_header(s, &h, now_us);
}

int braid_rtcp_session_rtp_received_header(struct braid_rtcp_session *s,
					   const struct braid_rtp_header *h, uint64_t now_us)
{
	size_t i = find_receiver(s, h->ssrc);
	if (i == SIZE_MAX) {
		if (!s->settings.auto_clock_rate)
			return BRAID_ERR_SESSION;
		struct braid_rtcp_stream_config cfg = auto_config(s, h->ssrc);
		int rc = bind_receiver(s, &cfg, false);
		if (rc < 0)
			return rc;
		i = s->receiver_count - 1;
	}
	return (int)braid_rtcp_receiver_stream_on_rtp(&s->receivers[i], h, now_us);
}

int braid_rtcp_session_rtp_received(struct braid_rtcp_session *s, const uint8_t *pkt,
				    size_t len, uint64_t now_us)
{
	struct braid_rtp_header h;
	int rc = braid_rtp_parse(pkt, len, &h);
	return rc < 0 ? rc : braid_rtcp_session_rtp_received_header(s, &h, now_us);
}

static void record_srs(struct braid_rtcp_session *s, const uint8_t *pkt, size_t len,
		       uint64_t now_us)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	braid_rtcp_reader_init(&r, pkt, len, s->settings.rtcp_flags);
	while (braid_rtcp_read(&r, &p) == 1) {
		if (p.kind != BRAID_RTCP_KIND_SR)
			continue;
		size_t i = find_receiver(s, p.u.sr.ssrc);
		if (i != SIZE_MAX)
			braid_rtcp_receiver_stream_on_sr(&s->receivers[i], p.u.sr.ntp, now_us);
	}
}

int braid_rtcp_session_rtcp_received(struct braid_rtcp_session *s, const uint8_t *pkt,
				     size_t len, uint64_t now_us, uint8_t *fwd, size_t fwd_cap)
{
	int rc = braid_rtcp_check(pkt, len, s->settings.rtcp_flags);
	if (rc < 0)
		return rc;
	record_srs(s, pkt, len, now_us);
	if (!fwd)
		return 0;
	if (s->settings.hop_by_hop)
		return braid_rtcp_filter_hop_by_hop(pkt, len, s->settings.rtcp_flags, fwd, fwd_cap);
	if (len > fwd_cap || len > INT32_MAX)
		return BRAID_ERR_TOO_BIG;
	memcpy(fwd, pkt, len);
	return (int)len;
}

static bool consumed_hop_by_hop(const struct braid_rtcp_packet *p)
{
	return p->kind == BRAID_RTCP_KIND_RR || p->type == BRAID_RTCP_RTPFB;
}

/* Writes p as it goes on: SRs lose their report blocks, the rest is copied. */
static int forward_packet(struct braid_rtcp_writer *w, const uint8_t *pkt,
			  const struct braid_rtcp_packet *p)
{
	if (p->kind == BRAID_RTCP_KIND_SR) {
		struct braid_rtcp_packet sr = *p;
		sr.u.sr.block_count = 0;
		return braid_rtcp_write(w, &sr);
	}
	if (p->len > w->cap - w->len)
		return BRAID_ERR_TOO_BIG;
	memcpy(w->buf + w->len, pkt + p->offset, p->len);
	w->len += p->len;
	return (int)p->len;
}

int braid_rtcp_filter_hop_by_hop(const uint8_t *pkt, size_t len, unsigned rtcp_flags,
				 uint8_t *out, size_t cap)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_writer w;
	struct braid_rtcp_packet p;
	bool need_lead = false;
	uint32_t lead_ssrc = 0;
	int rc = braid_rtcp_reader_init(&r, pkt, len, rtcp_flags);
	braid_rtcp_writer_init(&w, out, cap);
	while (rc == 0 && (rc = braid_rtcp_read(&r, &p)) == 1) {
		rc = 0;
		if (consumed_hop_by_hop(&p)) {
			if (p.offset == 0 && p.kind == BRAID_RTCP_KIND_RR) {
				need_lead = true;
				lead_ssrc = p.u.rr.ssrc;
			}
			continue;
		}
		if (need_lead) {
			struct braid_rtcp_packet rr;
			memset(&rr, 0, sizeof(rr));
			rr.kind = BRAID_RTCP_KIND_RR;
			rr.u.rr.ssrc = lead_ssrc;
			need_lead = false;
			if ((rc = braid_rtcp_write(&w, &rr)) < 0)
				break;
		}
		if ((rc = forward_packet(&w, pkt, &p)) > 0)
			rc = 0;
	}
	if (rc < 0)
		return rc;
	return w.len > INT32_MAX ? BRAID_ERR_TOO_BIG : (int)w.len;
}

static void take_sr(struct braid_rtcp_session *s, uint64_t now_us)
{
	uint64_t ntp = braid_ntp_add_us(s->settings.ntp_at_zero, now_us);
	struct braid_rtcp_sr sr;
	s->sr_pending_count = 0;
	s->sr_cursor = 0;
	for (size_t i = 0; i < s->sender_count; i++) {
		if (!braid_rtcp_sender_stream_report(&s->senders[i], now_us, ntp, &sr))
			continue;
		struct pending_sr *p = &s->sr_pending[s->sr_pending_count++];
		p->ssrc = sr.ssrc;
		p->ntp = sr.ntp;
		p->rtp_ts = sr.rtp_ts;
		p->packets = sr.packets;
		p->octets = sr.octets;
	}
}

static void take_rr(struct braid_rtcp_session *s, uint64_t now_us)
{
	s->rr_pending_count = 0;
	s->rr_cursor = 0;
	for (size_t i = 0; i < s->receiver_count; i++)
		if (braid_rtcp_receiver_stream_report(&s->receivers[i], now_us,
						      &s->rr_pending[s->rr_pending_count]))
			s->rr_pending_count++;
}

void braid_rtcp_session_report(struct braid_rtcp_session *s, uint64_t now_us, unsigned which)
{
	if (which & BRAID_RTCP_REPORT_SR)
		take_sr(s, now_us);
	if (which & BRAID_RTCP_REPORT_RR)
		take_rr(s, now_us);
}

uint64_t braid_rtcp_session_poll_timeout(const struct braid_rtcp_session *s)
{
	return s->next_sr_us < s->next_rr_us ? s->next_sr_us : s->next_rr_us;
}

static uint64_t next_deadline(uint64_t deadline, uint64_t interval, uint64_t now_us)
{
	deadline += interval;
	return deadline > now_us ? deadline : now_us + interval;
}

void braid_rtcp_session_handle_timeout(struct braid_rtcp_session *s, uint64_t now_us)
{
	if (s->settings.sr_interval_us && now_us >= s->next_sr_us) {
		take_sr(s, now_us);
		s->next_sr_us = next_deadline(s->next_sr_us, s->settings.sr_interval_us, now_us);
	}
	if (s->settings.rr_interval_us && now_us >= s->next_rr_us) {
		take_rr(s, now_us);
		s->next_rr_us = next_deadline(s->next_rr_us, s->settings.rr_interval_us, now_us);
	}
}

static int write_cname(const struct braid_rtcp_session *s, struct braid_rtcp_writer *w,
		       uint32_t ssrc)
{
	return s->cname_len ? braid_rtcp_write_cname(w, ssrc, s->cname, s->cname_len) : 0;
}

static int write_next_sr(struct braid_rtcp_session *s, struct braid_rtcp_writer *w)
{
	const struct pending_sr *ps = &s->sr_pending[s->sr_cursor++];
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_SR;
	p.u.sr.ssrc = ps->ssrc;
	p.u.sr.ntp = ps->ntp;
	p.u.sr.rtp_ts = ps->rtp_ts;
	p.u.sr.packets = ps->packets;
	p.u.sr.octets = ps->octets;
	int rc = braid_rtcp_write(w, &p);
	return rc < 0 ? rc : write_cname(s, w, ps->ssrc);
}

static int write_next_rr(struct braid_rtcp_session *s, struct braid_rtcp_writer *w)
{
	size_t room = (w->cap - RR_FIXED_SIZE - cname_packet_size(s->cname_len)) / BLOCK_SIZE;
	size_t n = s->rr_pending_count - s->rr_cursor;
	if (n > room)
		n = room;
	if (n > BRAID_RTCP_MAX_COUNT)
		n = BRAID_RTCP_MAX_COUNT;
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_RR;
	p.u.rr.ssrc = s->settings.local_ssrc;
	p.u.rr.block_count = (uint8_t)n;
	memcpy(p.u.rr.blocks, &s->rr_pending[s->rr_cursor], n * sizeof(p.u.rr.blocks[0]));
	s->rr_cursor += n;
	int rc = braid_rtcp_write(w, &p);
	return rc < 0 ? rc : write_cname(s, w, s->settings.local_ssrc);
}

int braid_rtcp_session_poll_transmit(struct braid_rtcp_session *s, uint8_t *buf, size_t cap)
{
	bool sr = s->sr_cursor < s->sr_pending_count;
	bool rr = s->rr_cursor < s->rr_pending_count;
	if (!sr && !rr)
		return 0;
	if (!buf || cap < s->settings.max_datagram)
		return BRAID_ERR_TOO_BIG;
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, s->settings.max_datagram);
	int rc = sr ? write_next_sr(s, &w) : write_next_rr(s, &w);
	return rc < 0 ? rc : (int)w.len;
}
