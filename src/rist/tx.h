/* A RIST Simple Profile sender (VSF TR-06-1), sans-I/O: payloads become RTP packets (MPEG-TS
 * payload type 33, a 90 kHz timestamp), kept for buffer_us so that a receiver's NACKs, of
 * either kind (RFC 4585 Generic NACK, RIST range NACK), can be answered. A resend is the
 * same packet with the SSRC's low bit set, as the profile marks them. Sender reports with
 * a CNAME go out every rtcp_interval_us; RTT echo requests are answered, and the RTT is
 * measured from the receiver's report blocks (LSR, DLSR) and from echo responses. */
#ifndef BRAID_RIST_TX_H
#define BRAID_RIST_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rist/app.h"

#define BRAID_RIST_TX_HISTORY 8192 /* packets kept at most */

struct braid_rist_tx_config {
	uint64_t buffer_us;        /* how long a packet is kept for resends */
	uint64_t rtcp_interval_us;
	uint32_t ssrc;             /* the flow's; its low bit is cleared */
	uint16_t first_seq;
	uint32_t first_timestamp;
	uint8_t payload_type;
	char cname[64];
	uint64_t wall_clock_us;    /* wall clock (since 1970) at the `now` given to _new */
};

/* 1000 ms buffer, 100 ms RTCP, payload type 33, CNAME "braid"; the caller draws the SSRC,
 * first sequence number and timestamp. */
void braid_rist_tx_config_default(struct braid_rist_tx_config *cfg);

struct braid_rist_tx_stats {
	uint64_t packets, bytes;   /* new packets sent */
	uint64_t nacks_in;         /* NACK packets received */
	uint64_t requested;        /* sequence numbers they asked for */
	uint64_t retransmitted;    /* resends sent */
	uint64_t unavailable;      /* asked for but no longer (or never) kept */
	uint64_t rtcp_in, rtcp_malformed;
	uint64_t rtcp_out;
	bool has_rtt;
	uint64_t rtt_us;
	uint64_t receiver_lost;    /* cumulative loss in the receiver's last report */
};

struct braid_rist_tx;

struct braid_rist_tx *braid_rist_tx_new(const struct braid_rist_tx_config *cfg, uint64_t now);
void braid_rist_tx_free(struct braid_rist_tx *tx);

/* Queues one payload as the next RTP packet. Returns 0, BRAID_ERR_TOO_BIG, BRAID_ERR_NOMEM
 * or BRAID_ERR_FULL (the caller has not polled what waits). */
int braid_rist_tx_push(struct braid_rist_tx *tx, const uint8_t *payload, size_t len,
		       uint64_t now);
/* RTCP from the receiver (any datagram: malformed ones are counted and dropped). */
void braid_rist_tx_handle_rtcp(struct braid_rist_tx *tx, const uint8_t *buf, size_t len,
			       uint64_t now);
void braid_rist_tx_handle_timeout(struct braid_rist_tx *tx, uint64_t now);
uint64_t braid_rist_tx_next_timeout(const struct braid_rist_tx *tx);

/* The next RTP datagram (new packets and resends, in the order they were queued) and the
 * next RTCP datagram: 1, or 0 when none waits. */
int braid_rist_tx_poll_rtp(struct braid_rist_tx *tx, uint8_t *buf, size_t cap, size_t *len);
int braid_rist_tx_poll_rtcp(struct braid_rist_tx *tx, uint8_t *buf, size_t cap, size_t *len);

void braid_rist_tx_stats(const struct braid_rist_tx *tx, struct braid_rist_tx_stats *out);

#endif
