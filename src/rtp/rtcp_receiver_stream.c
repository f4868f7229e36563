/* What an RR block says about a stream this side receives (RFC 3550 6.4.1): loss from the
 * A.1 sequence state and A.3, jitter from A.8 with arrival times converted to the stream's
 * clock, and LSR/DLSR from the last SR of its source. */
#include "braid/rtcp_session.h"

#include <string.h>

void braid_rtcp_receiver_stream_init(struct braid_rtcp_receiver_stream *st,
				     const struct braid_rtcp_stream_config *cfg)
{
	memset(st, 0, sizeof(*st));
	st->ssrc = cfg->ssrc;
	st->clock_rate = cfg->clock_rate;
	braid_rtp_source_init(&st->source, cfg->probation);
}

enum braid_rtp_seq_status braid_rtcp_receiver_stream_on_rtp(
	struct braid_rtcp_receiver_stream *st, const struct braid_rtp_header *h, uint64_t now_us)
{
	enum braid_rtp_seq_status status = braid_rtp_source_update(&st->source, h->seq);
	if (!braid_rtp_seq_counted(status))
		return status;
	/* A restarted sender has a new timestamp base: its transit jump is not jitter. */
	if (status == BRAID_RTP_SEQ_RESYNC)
		st->jitter.has_transit = false;
	braid_rtp_jitter_update(&st->jitter, braid_rtp_units_from_us(now_us, st->clock_rate),
				h->timestamp);
	return status;
}

void braid_rtcp_receiver_stream_on_sr(struct braid_rtcp_receiver_stream *st, uint64_t ntp,
				      uint64_t now_us)
{
	st->have_sr = true;
	st->lsr = braid_ntp_middle(ntp);
	st->sr_arrival_us = now_us;
}

bool braid_rtcp_receiver_stream_report(struct braid_rtcp_receiver_stream *st, uint64_t now_us,
				       struct braid_rtcp_report_block *out)
{
	bool counted = braid_rtp_source_valid(&st->source);
	if (!counted && !st->signalled)
		return false;
	memset(out, 0, sizeof(*out));
	out->ssrc = st->ssrc;
	if (counted) {
		struct braid_rtp_loss loss;
		braid_rtp_source_report(&st->source, &loss);
		out->fraction_lost = loss.fraction_lost;
		out->cumulative_lost = loss.cumulative_lost;
		out->ext_highest_seq = loss.ext_max;
		out->jitter = braid_rtp_jitter_value(&st->jitter);
	}
	if (st->have_sr) {
		out->lsr = st->lsr;
		out->dlsr = now_us > st->sr_arrival_us
				    ? braid_rtcp_dlsr_from_us(now_us - st->sr_arrival_us)
				    : 0;
	}
	return true;
}
