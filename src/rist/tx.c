#include "rist/tx.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtp.h"
#include "rist/app.h"
#include "rist/ntp.h"

#define OUT_QUEUE 1024      /* RTP datagrams waiting for the caller */
#define RTCP_QUEUE 16
#define RTCP_MAX 1400
#define RESEND_GAP_US 10000 /* one number asked on several paths at once is resent once */
#define CLOCK_RATE 90000

struct kept {
	uint16_t seq;
	bool used;
	uint64_t sent_us, resent_us;
	size_t len;
	uint8_t *packet;        /* the whole RTP datagram as first sent */
};

struct rtcp_out {
	size_t len;
	uint8_t buf[RTCP_MAX];
};

struct braid_rist_tx {
	struct braid_rist_tx_config cfg;
	uint64_t start_us;
	struct braid_rist_tx_stats st;
	uint16_t next_seq;
	struct kept *history;   /* by sequence number modulo the history */
	/* what poll_rtp gives next: history entries by sequence number, a resend flagged */
	struct { uint16_t seq; bool resend; } queue[OUT_QUEUE];
	size_t q_head, q_count;
	struct rtcp_out rtcp[RTCP_QUEUE];
	size_t r_head, r_count;
	uint64_t next_report_us;
	uint64_t last_sr_ntp;
};

void braid_rist_tx_config_default(struct braid_rist_tx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->buffer_us = 1000000;
	cfg->rtcp_interval_us = 100000;
	cfg->payload_type = 33;
	strcpy(cfg->cname, "braid");
}

struct braid_rist_tx *braid_rist_tx_new(const struct braid_rist_tx_config *cfg, uint64_t now)
{
	if (!cfg->buffer_us || !cfg->rtcp_interval_us || !cfg->cname[0] ||
	    cfg->payload_type > 127 || memchr(cfg->cname, '\0', sizeof(cfg->cname)) == NULL)
		return NULL;
	struct braid_rist_tx *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return NULL;
	tx->history = calloc(BRAID_RIST_TX_HISTORY, sizeof(*tx->history));
	if (!tx->history) {
		free(tx);
		return NULL;
	}
	tx->cfg = *cfg;
	tx->cfg.ssrc &= ~1u;
	tx->start_us = now;
	tx->next_seq = cfg->first_seq;
	tx->next_report_us = now;
	return tx;
}

void braid_rist_tx_free(struct braid_rist_tx *tx)
{
	if (!tx)
		return;
	for (size_t i = 0; i < BRAID_RIST_TX_HISTORY; i++)
		free(tx->history[i].packet);
	free(tx->history);
	free(tx);
}

static struct kept *kept_of(struct braid_rist_tx *tx, uint16_t seq)
{
	return &tx->history[seq % BRAID_RIST_TX_HISTORY];
}

static bool enqueue(struct braid_rist_tx *tx, uint16_t seq, bool resend)
{
	if (tx->q_count == OUT_QUEUE)
		return false;
	size_t at = (tx->q_head + tx->q_count++) % OUT_QUEUE;
	tx->queue[at].seq = seq;
	tx->queue[at].resend = resend;
	return true;
}

int braid_rist_tx_push(struct braid_rist_tx *tx, const uint8_t *payload, size_t len,
		       uint64_t now)
{
	if (len > BRAID_RIST_MAX_PAYLOAD)
		return BRAID_ERR_TOO_BIG;
	struct braid_rtp_header h;
	memset(&h, 0, sizeof(h));
	h.payload_type = tx->cfg.payload_type;
	h.seq = tx->next_seq;
	h.timestamp = tx->cfg.first_timestamp +
		      braid_rtp_units_from_us(now - tx->start_us, CLOCK_RATE);
	h.ssrc = tx->cfg.ssrc;
	h.payload = payload;
	h.payload_len = len;
	uint8_t *packet = malloc(BRAID_RTP_HEADER_SIZE + len);
	if (!packet)
		return BRAID_ERR_NOMEM;
	int n = braid_rtp_build(&h, packet, BRAID_RTP_HEADER_SIZE + len);
	if (n < 0) {
		free(packet);
		return n;
	}
	struct kept *k = kept_of(tx, h.seq);
	free(k->packet);
	*k = (struct kept){ .seq = h.seq, .used = true, .sent_us = now, .len = (size_t)n,
			    .packet = packet };
	if (!enqueue(tx, h.seq, false)) {
		k->used = false; /* never sent: a NACK for it cannot be honest */
		return BRAID_ERR_FULL;
	}
	tx->next_seq++;
	tx->st.packets++;
	tx->st.bytes += len;
	return 0;
}

int braid_rist_tx_poll_rtp(struct braid_rist_tx *tx, uint8_t *buf, size_t cap, size_t *len)
{
	while (tx->q_count) {
		uint16_t seq = tx->queue[tx->q_head].seq;
		bool resend = tx->queue[tx->q_head].resend;
		struct kept *k = kept_of(tx, seq);
		if (k->used && k->seq == seq && cap < k->len)
			return BRAID_ERR_BUFFER;
		tx->q_head = (tx->q_head + 1) % OUT_QUEUE;
		tx->q_count--;
		if (!k->used || k->seq != seq)
			continue; /* overwritten while it waited */
		memcpy(buf, k->packet, k->len);
		*len = k->len;
		if (resend)
			buf[11] |= 1u; /* the SSRC's low bit: a retransmission */
		return 1;
	}
	return 0;
}

/* ---- RTCP ----------------------------------------------------------------------------- */

static uint64_t ntp_now(const struct braid_rist_tx *tx, uint64_t now)
{
	return braid_rist_ntp_at(tx->cfg.wall_clock_us, now - tx->start_us);
}

static struct braid_rtcp_writer *open_rtcp(struct braid_rist_tx *tx,
					   struct braid_rtcp_writer *w)
{
	if (tx->r_count == RTCP_QUEUE)
		return NULL;
	struct rtcp_out *o = &tx->rtcp[(tx->r_head + tx->r_count) % RTCP_QUEUE];
	braid_rtcp_writer_init(w, o->buf, sizeof(o->buf));
	return w;
}

static void close_rtcp(struct braid_rist_tx *tx, struct braid_rtcp_writer *w)
{
	tx->rtcp[(tx->r_head + tx->r_count) % RTCP_QUEUE].len = w->len;
	tx->r_count++;
	tx->st.rtcp_out++;
}

static void write_sr(struct braid_rist_tx *tx, struct braid_rtcp_writer *w, uint64_t now)
{
	struct braid_rtcp_packet sr;
	memset(&sr, 0, sizeof(sr));
	sr.kind = BRAID_RTCP_KIND_SR;
	sr.u.sr.ssrc = tx->cfg.ssrc;
	sr.u.sr.ntp = ntp_now(tx, now);
	sr.u.sr.rtp_ts = tx->cfg.first_timestamp +
			 braid_rtp_units_from_us(now - tx->start_us, CLOCK_RATE);
	sr.u.sr.packets = (uint32_t)tx->st.packets;
	sr.u.sr.octets = (uint32_t)tx->st.bytes;
	tx->last_sr_ntp = sr.u.sr.ntp;
	(void)braid_rtcp_write(w, &sr);
	(void)braid_rtcp_write_cname(w, tx->cfg.ssrc, tx->cfg.cname, strlen(tx->cfg.cname));
}

static void resend(struct braid_rist_tx *tx, uint16_t seq, uint64_t now)
{
	struct kept *k = kept_of(tx, seq);
	bool kept = k->used && k->seq == seq && now - k->sent_us <= tx->cfg.buffer_us &&
		    (uint16_t)(tx->next_seq - seq) <= BRAID_RIST_TX_HISTORY;
	if (!kept) {
		tx->st.unavailable++;
		return;
	}
	if (k->resent_us && now - k->resent_us < RESEND_GAP_US)
		return;
	if (enqueue(tx, seq, true)) {
		k->resent_us = now;
		tx->st.retransmitted++;
	}
}

static void take_nack(struct braid_rist_tx *tx, const struct braid_rtcp_packet *p,
		      uint64_t now)
{
	uint16_t seqs[BRAID_RIST_NACK_MAX_SEQS];
	uint32_t media;
	int n = braid_rist_nack_seqs(p, &media, seqs, BRAID_RIST_NACK_MAX_SEQS);
	if (n < 0)
		return;
	if ((media & ~1u) != tx->cfg.ssrc)
		return;
	tx->st.nacks_in++;
	tx->st.requested += (uint64_t)n;
	for (int i = 0; i < n; i++)
		resend(tx, seqs[i], now);
}

static void take_rtt(struct braid_rist_tx *tx, uint64_t rtt_us)
{
	if (rtt_us > 10000000)
		return;
	tx->st.rtt_us = tx->st.has_rtt ? (7 * tx->st.rtt_us + rtt_us) / 8 : rtt_us;
	tx->st.has_rtt = true;
}

static uint64_t us_of_ntp_delta(uint64_t ntp)
{
	return (ntp >> 32) * 1000000u + (((ntp & 0xffffffffu) * 1000000u) >> 32);
}

/* RFC 3550 6.4.1: RTT = arrival - LSR - DLSR, in 1/65536 s of the middle 32 bits. */
static void take_report(struct braid_rist_tx *tx, const struct braid_rtcp_rr *rr, uint64_t now)
{
	for (unsigned i = 0; i < rr->block_count; i++) {
		const struct braid_rtcp_report_block *b = &rr->blocks[i];
		if ((b->ssrc & ~1u) != tx->cfg.ssrc)
			continue;
		tx->st.receiver_lost = b->cumulative_lost > 0 ? (uint64_t)b->cumulative_lost : 0;
		if (!b->lsr)
			continue;
		uint32_t arrival = braid_ntp_middle(ntp_now(tx, now));
		uint32_t rtt = arrival - b->lsr - b->dlsr;
		if (arrival - b->lsr >= b->dlsr)
			take_rtt(tx, (uint64_t)rtt * 1000000u >> 16);
	}
}

static void answer_echo(struct braid_rist_tx *tx, const struct braid_rtcp_packet *p,
			uint64_t now)
{
	uint8_t subtype;
	struct braid_rist_echo e;
	struct braid_rtcp_writer w;
	if (!braid_rist_echo_parse(p, &subtype, &e))
		return;
	if (subtype == BRAID_RIST_APP_ECHO_RESPONSE) {
		uint64_t at = ntp_now(tx, now);
		if (e.ssrc == tx->cfg.ssrc && e.timestamp <= at) {
			uint64_t rtt = us_of_ntp_delta(at - e.timestamp);
			take_rtt(tx, e.delay_us < rtt ? rtt - e.delay_us : rtt);
		}
		return;
	}
	if (!open_rtcp(tx, &w))
		return;
	write_sr(tx, &w, now);
	struct braid_rist_echo resp = { .ssrc = e.ssrc, .timestamp = e.timestamp };
	(void)braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_RESPONSE, &resp);
	close_rtcp(tx, &w);
}

void braid_rist_tx_handle_rtcp(struct braid_rist_tx *tx, const uint8_t *buf, size_t len,
			       uint64_t now)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	if (braid_rtcp_check(buf, len, BRAID_RTCP_REDUCED_SIZE) < 0) {
		tx->st.rtcp_malformed++;
		return;
	}
	tx->st.rtcp_in++;
	braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE);
	while (braid_rtcp_read(&r, &p) == 1) {
		if (p.kind == BRAID_RTCP_KIND_RR)
			take_report(tx, &p.u.rr, now);
		else if (p.kind == BRAID_RTCP_KIND_NACK)
			take_nack(tx, &p, now);
		else if (p.kind == BRAID_RTCP_KIND_APP && braid_rist_app_is_rist(&p.u.app) &&
			 p.u.app.subtype == BRAID_RIST_APP_RANGE_NACK)
			take_nack(tx, &p, now);
		else if (p.kind == BRAID_RTCP_KIND_APP)
			answer_echo(tx, &p, now);
	}
}

void braid_rist_tx_handle_timeout(struct braid_rist_tx *tx, uint64_t now)
{
	struct braid_rtcp_writer w;
	if (now < tx->next_report_us)
		return;
	if (open_rtcp(tx, &w)) {
		write_sr(tx, &w, now);
		struct braid_rist_echo e = { .ssrc = tx->cfg.ssrc, .timestamp = ntp_now(tx, now) };
		(void)braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_REQUEST, &e);
		close_rtcp(tx, &w);
	}
	tx->next_report_us = now + tx->cfg.rtcp_interval_us;
}

uint64_t braid_rist_tx_next_timeout(const struct braid_rist_tx *tx)
{
	return tx->next_report_us;
}

int braid_rist_tx_poll_rtcp(struct braid_rist_tx *tx, uint8_t *buf, size_t cap, size_t *len)
{
	if (!tx->r_count)
		return 0;
	struct rtcp_out *o = &tx->rtcp[tx->r_head];
	if (cap < o->len)
		return BRAID_ERR_BUFFER;
	memcpy(buf, o->buf, o->len);
	*len = o->len;
	tx->r_head = (tx->r_head + 1) % RTCP_QUEUE;
	tx->r_count--;
	return 1;
}

void braid_rist_tx_stats(const struct braid_rist_tx *tx, struct braid_rist_tx_stats *out)
{
	*out = tx->st;
}
