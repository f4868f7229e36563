/* RTCP report generation, sans-I/O, in the shape of pion's report interceptors: sender
 * streams make SRs, receiver streams make RR blocks, and a session holds many of each,
 * schedules reports per direction and filters hop-by-hop RTCP. Time goes in as `now` in
 * microseconds (any monotonic origin); the session's wall clock is `ntp_at_zero` plus
 * `now`, converted exactly (braid_ntp_add_us). Reports come out of handle_timeout and
 * poll_transmit; nothing runs in the background. */
#ifndef BRAID_RTCP_SESSION_H
#define BRAID_RTCP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/rtcp.h"
#include "braid/rtp.h"

struct braid_rtcp_stream_config {
	uint32_t ssrc;
	uint32_t clock_rate;     /* Hz, > 0 */
	bool use_latest_packet;  /* sender: reordered packets may move the timestamp mapping */
	unsigned probation;      /* receiver: RFC 3550 A.1 MIN_SEQUENTIAL; 0 trusts the first */
};

/* A stream this side sends: what its SRs say. The RTP-timestamp-to-time mapping moves on
 * the first packet of each frame, that is a packet whose timestamp differs from the mapped
 * one and whose sequence number is newer than every earlier one; with use_latest_packet
 * the order condition is dropped. Counts wrap at 2^32; octets are payload octets. */
struct braid_rtcp_sender_stream {
	uint32_t ssrc;
	uint32_t clock_rate;
	bool use_latest_packet;
	bool started;            /* a packet has been sent */
	uint16_t highest_seq;
	uint32_t map_rtp_ts;     /* the mapping: this timestamp was sent at map_time_us */
	uint64_t map_time_us;
	uint32_t packets;
	uint32_t octets;
};

void braid_rtcp_sender_stream_init(struct braid_rtcp_sender_stream *st,
				   const struct braid_rtcp_stream_config *cfg);
void braid_rtcp_sender_stream_on_rtp(struct braid_rtcp_sender_stream *st,
				     const struct braid_rtp_header *h, uint64_t now_us);
/* The RTP timestamp at now_us: the mapped timestamp plus the time since, in clock units
 * rounded down (before the mapping's time: minus, rounded toward it). */
uint32_t braid_rtcp_sender_stream_rtp_at(const struct braid_rtcp_sender_stream *st,
					 uint64_t now_us);
/* Fills the sender information of an SR at now_us with wall clock `ntp` (no blocks).
 * Returns false while no packet has been sent. */
bool braid_rtcp_sender_stream_report(const struct braid_rtcp_sender_stream *st,
				     uint64_t now_us, uint64_t ntp, struct braid_rtcp_sr *out);

/* A stream this side receives: RFC 3550 A.1 sequence state, A.8 jitter, last SR. */
struct braid_rtcp_receiver_stream {
	uint32_t ssrc;
	uint32_t clock_rate;
	struct braid_rtp_source source;
	struct braid_rtp_jitter jitter;
	bool signalled;          /* bound by signalling (not by its first RTP packet): it is
				  * reported before any RTP, as pion and webrtc-rs do */
	bool have_sr;
	uint32_t lsr;            /* middle 32 bits of the last SR's NTP timestamp */
	uint64_t sr_arrival_us;
};

void braid_rtcp_receiver_stream_init(struct braid_rtcp_receiver_stream *st,
				     const struct braid_rtcp_stream_config *cfg);
/* Counts a packet (A.1) and, when it is counted, updates the jitter with its arrival time
 * converted to the clock rate (braid_rtp_units_from_us); a resync restarts the transit. */
enum braid_rtp_seq_status braid_rtcp_receiver_stream_on_rtp(
	struct braid_rtcp_receiver_stream *st, const struct braid_rtp_header *h, uint64_t now_us);
/* Records an SR from this stream's source, received at now_us. */
void braid_rtcp_receiver_stream_on_sr(struct braid_rtcp_receiver_stream *st, uint64_t ntp,
				      uint64_t now_us);
/* Fills a report block at now_us and starts the next loss interval. While the source has
 * no counted packet: a stream bound by signalling gets a block with zero counts and the
 * LSR and DLSR of the last SR, any other returns false (and changes nothing). */
bool braid_rtcp_receiver_stream_report(struct braid_rtcp_receiver_stream *st, uint64_t now_us,
				       struct braid_rtcp_report_block *out);

struct braid_rtcp_session_settings {
	uint64_t sr_interval_us;   /* SRs every this often; 0: only braid_rtcp_session_report */
	uint64_t rr_interval_us;   /* RRs likewise */
	uint64_t ntp_at_zero;      /* the NTP wall clock when now_us is 0 */
	uint32_t local_ssrc;       /* the reporter SSRC of RR packets */
	const char *cname;         /* SDES CNAME after each report; NULL: none. Copied. */
	uint32_t auto_clock_rate;  /* RTP of an unbound SSRC binds a stream at this rate;
				    * 0: such packets are refused (BRAID_ERR_SESSION) */
	bool use_latest_packet;    /* for auto-bound sender streams */
	unsigned probation;        /* for auto-bound receiver streams */
	bool hop_by_hop;           /* drop RR, SR report blocks and RTPFB when forwarding */
	unsigned rtcp_flags;       /* for incoming RTCP: BRAID_RTCP_REDUCED_SIZE or 0 */
	size_t max_streams;        /* per direction */
	size_t max_datagram;       /* largest report datagram written: 128 .. 65536, and room
				    * for an RR with one block and the CNAME */
};
/* Intervals 1 s, no CNAME, auto-binding off, hop-by-hop off, reduced-size RTCP accepted,
 * 256 streams per direction, datagrams up to 1200 bytes. */
void braid_rtcp_session_settings_default(struct braid_rtcp_session_settings *s);

struct braid_rtcp_session;

/* The first reports are due one interval after now_us. NULL on bad settings or memory. */
struct braid_rtcp_session *braid_rtcp_session_new(const struct braid_rtcp_session_settings *s,
						  uint64_t now_us);
void braid_rtcp_session_free(struct braid_rtcp_session *s);

/* Streams, bound and unbound at any time. Binding returns 0, BRAID_ERR_EXISTS,
 * BRAID_ERR_FULL or BRAID_ERR_INVAL (clock rate 0); unbinding 0 or BRAID_ERR_SESSION.
 * Reports list streams in the order they were bound. A receiver stream bound here is bound
 * by signalling: its RR block goes out from the first report on, with the LSR and DLSR of
 * the SRs it got, before any RTP arrives; the first RTP packet still sets its base
 * sequence number. */
int braid_rtcp_session_bind_sender(struct braid_rtcp_session *s,
				   const struct braid_rtcp_stream_config *cfg);
int braid_rtcp_session_unbind_sender(struct braid_rtcp_session *s, uint32_t ssrc);
int braid_rtcp_session_bind_receiver(struct braid_rtcp_session *s,
				     const struct braid_rtcp_stream_config *cfg);
int braid_rtcp_session_unbind_receiver(struct braid_rtcp_session *s, uint32_t ssrc);
const struct braid_rtcp_sender_stream *braid_rtcp_session_sender(
	const struct braid_rtcp_session *s, uint32_t ssrc);
const struct braid_rtcp_receiver_stream *braid_rtcp_session_receiver(
	const struct braid_rtcp_session *s, uint32_t ssrc);

/* An RTP packet this side sent. Returns 0, a parse error, or BRAID_ERR_SESSION /
 * BRAID_ERR_FULL when its SSRC is not bound and cannot be. */
int braid_rtcp_session_rtp_sent(struct braid_rtcp_session *s, const uint8_t *pkt, size_t len,
				uint64_t now_us);
int braid_rtcp_session_rtp_sent_header(struct braid_rtcp_session *s,
				       const struct braid_rtp_header *h, uint64_t now_us);
/* An RTP packet this side received. Returns its braid_rtp_seq_status (>= 0) or an error
 * as above. */
int braid_rtcp_session_rtp_received(struct braid_rtcp_session *s, const uint8_t *pkt,
				    size_t len, uint64_t now_us);
int braid_rtcp_session_rtp_received_header(struct braid_rtcp_session *s,
					   const struct braid_rtp_header *h, uint64_t now_us);

/* An RTCP datagram from the network. SRs from bound receiver streams' sources record LSR
 * and their arrival for DLSR. When fwd is not NULL, writes there what goes on end to end:
 * the datagram unchanged, or with hop_by_hop the datagram without its RR packets, SR
 * report blocks and RTPFB packets (an empty RR from the same SSRC leads it if its first
 * packet was removed, so it stays a valid compound). Returns the forwarded length (0:
 * nothing left), a read error (nothing recorded, nothing forwarded), or
 * BRAID_ERR_TOO_BIG when fwd_cap is short. */
int braid_rtcp_session_rtcp_received(struct braid_rtcp_session *s, const uint8_t *pkt,
				     size_t len, uint64_t now_us, uint8_t *fwd, size_t fwd_cap);

/* The hop-by-hop filter alone, on a datagram already read with rtcp_flags. */
int braid_rtcp_filter_hop_by_hop(const uint8_t *pkt, size_t len, unsigned rtcp_flags,
				 uint8_t *out, size_t cap);

/* Scheduling. poll_timeout is the earliest report deadline (UINT64_MAX: none);
 * handle_timeout(now) takes the reports that are due and moves their deadlines one
 * interval on (to now + interval after a stall longer than one interval). */
uint64_t braid_rtcp_session_poll_timeout(const struct braid_rtcp_session *s);
void braid_rtcp_session_handle_timeout(struct braid_rtcp_session *s, uint64_t now_us);

#define BRAID_RTCP_REPORT_SR 0x1u
#define BRAID_RTCP_REPORT_RR 0x2u
/* Takes a report now, outside the schedule (which stays as it was). A report taken
 * replaces one of the same direction not yet drained. */
void braid_rtcp_session_report(struct braid_rtcp_session *s, uint64_t now_us, unsigned which);

/* The next report datagram: one compound per sender stream (its SR, then the CNAME), and
 * RR compounds from local_ssrc holding as many blocks as fit in max_datagram (then the
 * CNAME). Returns the length, 0 when nothing is pending, or BRAID_ERR_TOO_BIG when cap is
 * below max_datagram. */
int braid_rtcp_session_poll_transmit(struct braid_rtcp_session *s, uint8_t *buf, size_t cap);

#endif
