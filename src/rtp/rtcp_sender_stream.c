/* What an SR says about a stream this side sends (RFC 3550 6.4.1): the counts, and the
 * RTP timestamp that corresponds to the SR's wall-clock time. The timestamp is the mapped
 * one extrapolated at the clock rate; the mapping is taken from the first packet of a
 * frame because the later packets of a frame carry the frame's (earlier) capture time
 * and would make the extrapolation lag. */
#include "braid/rtcp_session.h"

#include <string.h>

void braid_rtcp_sender_stream_init(struct braid_rtcp_sender_stream *st,
				   const struct braid_rtcp_stream_config *cfg)
{
	memset(st, 0, sizeof(*st));
	st->ssrc = cfg->ssrc;
	st->clock_rate = cfg->clock_rate;
	st->use_latest_packet = cfg->use_latest_packet;
}

static void move_mapping(struct braid_rtcp_sender_stream *st, uint32_t timestamp,
			 uint64_t now_us)
{
	st->map_rtp_ts = timestamp;
	st->map_time_us = now_us;
}

void braid_rtcp_sender_stream_on_rtp(struct braid_rtcp_sender_stream *st,
				     const struct braid_rtp_header *h, uint64_t now_us)
{
	if (!st->started) {
		st->started = true;
		st->highest_seq = h->seq;
		move_mapping(st, h->timestamp, now_us);
	} else {
		bool newer = (int16_t)(uint16_t)(h->seq - st->highest_seq) > 0;
		if (h->timestamp != st->map_rtp_ts && (newer || st->use_latest_packet))
			move_mapping(st, h->timestamp, now_us);
		if (newer)
			st->highest_seq = h->seq;
	}
	st->packets++;
	st->octets += (uint32_t)h->payload_len; /* wraps at 2^32 as the SR field does */
}

uint32_t braid_rtcp_sender_stream_rtp_at(const struct braid_rtcp_sender_stream *st,
					 uint64_t now_us)
{
	if (now_us >= st->map_time_us)
		return st->map_rtp_ts +
		       braid_rtp_units_from_us(now_us - st->map_time_us, st->clock_rate);
	return st->map_rtp_ts - braid_rtp_units_from_us(st->map_time_us - now_us, st->clock_rate);
}

bool braid_rtcp_sender_stream_report(const struct braid_rtcp_sender_stream *st,
				     uint64_t now_us, uint64_t ntp, struct braid_rtcp_sr *out)
{
	if (!st->started)
		return false;
	memset(out, 0, sizeof(*out));
	out->ssrc = st->ssrc;
	out->ntp = ntp;
	out->rtp_ts = braid_rtcp_sender_stream_rtp_at(st, now_us);
	out->packets = st->packets;
	out->octets = st->octets;
	return true;
}
