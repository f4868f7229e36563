/* The sending side of a session, sans-I/O: media in, datagrams per link out.
 *
 *   push(media, now)                          a datagram from the encoder
 *   handle_datagram(link, bytes, flags, now)  a datagram that arrived on a link
 *   poll_transmit(now) -> (link, bytes)       datagrams to send on the links
 *   poll_reverse(now) -> bytes                datagrams from the far side for the encoder
 *   poll_event()                              link state changes, failovers
 *   next_timeout() / handle_timeout(now)
 *
 * The call contract (time, draining, buffers) is in braid/common.h. */
#ifndef BRAID_SENDER_H
#define BRAID_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "braid/common.h"
#include "braid/stats.h"

struct braid_sender_settings {
	enum braid_mode mode;        /* default adaptive */
	uint64_t latency_us;               /* the receiver's budget; default 1 s */
	struct braid_health_settings health;
	const uint8_t *psk;                /* pre-shared key, copied; NULL = no encryption */
	size_t psk_len;
	uint32_t session_id;               /* the caller draws it at random; 0 is not allowed */
	uint8_t nonce[BRAID_NONCE_SIZE];   /* the caller draws it at random */
	/* With a psk: the caller draws key_seed at random (every ephemeral key of the session
	 * derives from it) and gives its wall clock (CLOCK_REALTIME, µs since 1970) at the
	 * now_us passed to braid_sender_new, which HELLOs carry for the receiver's freshness
	 * check (0 is refused). */
	uint8_t key_seed[BRAID_KEY_SEED_SIZE];
	uint64_t wall_clock_us;
	uint64_t rekey_interval_us;        /* with a psk: a new key exchange this often;
					      default 120 s */
	size_t history_packets;            /* resend history; default 16384 (power of two) */
	double resend_share;               /* resends may take this share of the input rate;
					      default 0.25 */
	double redundancy;                 /* adaptive: share of packets also sent on a second
					      link, 0..1; default 0 */
};
void braid_sender_settings_default(struct braid_sender_settings *s);

struct braid_link_config {
	const char *name;  /* up to 32 printable characters; copied */
	uint32_t weight;   /* weighted mode; 0 = 1 */
	uint32_t priority; /* backup mode; lower is preferred */
};

struct braid_sender;

/* NULL when the settings are invalid or memory is short. */
struct braid_sender *braid_sender_new(const struct braid_sender_settings *s, uint64_t now_us);
void braid_sender_free(struct braid_sender *s);

/* Returns the new link's id (>= 0) or BRAID_ERR_FULL / _INVAL / _EXISTS (name in use). */
int braid_sender_add_link(struct braid_sender *s, const struct braid_link_config *cfg,
			  uint64_t now_us);
/* Packets in flight on it are resent on the others. 0 or BRAID_ERR_LINK. */
int braid_sender_remove_link(struct braid_sender *s, uint16_t link_id, uint64_t now_us);

/* Media from the encoder. 0, or BRAID_ERR_TOO_BIG / BRAID_ERR_INVAL (dropped, counted). */
int braid_sender_push(struct braid_sender *s, const uint8_t *payload, size_t len, uint64_t now_us);
/* A datagram received on a link's socket (flags: BRAID_DATAGRAM_*). Bad ones are dropped
 * and counted; returns 0 or the reason as a negative braid_error. */
int braid_sender_handle_datagram(struct braid_sender *s, uint16_t link_id, const uint8_t *buf,
				 size_t len, unsigned flags, uint64_t now_us);

/* The next datagram to send: 1 with its *len bytes in buf and the link to send it on in
 * *link_id; 0 when there is nothing more; BRAID_ERR_BUFFER when cap is below
 * BRAID_MAX_DATAGRAM (nothing is taken). */
int braid_sender_poll_transmit(struct braid_sender *s, uint64_t now_us, uint16_t *link_id,
			       uint8_t *buf, size_t cap, size_t *len);
/* The next datagram from the far side for the encoder: 1 with *len bytes in buf; 0 when
 * there is nothing more; BRAID_ERR_BUFFER when it is longer than cap (it stays queued). */
int braid_sender_poll_reverse(struct braid_sender *s, uint64_t now_us, uint8_t *buf, size_t cap,
			      size_t *len);
/* 1 when an event was written, 0 when none. */
int braid_sender_poll_event(struct braid_sender *s, struct braid_event *ev);

uint64_t braid_sender_next_timeout(const struct braid_sender *s);
void braid_sender_handle_timeout(struct braid_sender *s, uint64_t now_us);

/* Queues a BYE on every link (the session ends at the receiver). */
void braid_sender_close(struct braid_sender *s, uint64_t now_us);

struct braid_sender_stats {
	uint64_t packets_in, bytes_in;        /* from the encoder */
	uint64_t packets_out, bytes_out;      /* data datagrams sent, all links */
	uint64_t retransmitted;               /* resends: the three causes below */
	uint64_t resent_nack;                 /* the receiver asked for them */
	uint64_t resent_failover;             /* in flight on a link that went down */
	uint64_t resent_timeout;              /* adaptive: in flight on a link that stalled,
						 not confirmed by any answer */
	/* Adaptive: extra copies of new packets, one per copy: */
	uint64_t copies_hedge;                /* its link's forecast was uncertain */
	uint64_t copies_redundancy;           /* the redundancy setting's share */
	uint32_t stalls;                      /* adaptive: links silent long enough to get
						 no new data, yet not given up for dead */
	uint64_t nacked;                      /* sequence numbers the receiver asked for */
	/* Resends not made (one per packet, however many links it was meant for): */
	uint64_t resend_over_budget;          /* the resend budget was spent */
	uint64_t resend_undeliverable;        /* no live link could deliver it in time */
	/* Media not sent, docs/stats.md says exactly when each counts: */
	uint64_t expired;                     /* waited until too late: for a link, or paced */
	uint64_t undeliverable;               /* adaptive: no live link could deliver it in time */
	uint64_t reverse_packets, reverse_bytes; /* from the far side to the encoder */
	/* Queues full: */
	uint64_t tx_queue_drops;              /* the transmit queue (a copy for one link) */
	uint64_t pacer_drops;                 /* adaptive: a link's pacer queue (one copy) */
	uint64_t reverse_drops;               /* the reverse output queue: a reverse datagram */
	/* braid_sender_push calls refused: */
	uint64_t input_too_large;             /* payload above BRAID_MAX_PAYLOAD */
	uint64_t input_invalid;               /* no payload pointer for a non-zero length */
	uint64_t input_no_memory;             /* no memory to keep it for resends */
	struct braid_drop_stats drops;
	uint32_t failovers;
	unsigned live_links;
	int operational;                      /* live_links >= health.min_operational */
	double available_bps;                 /* what the bond can sustain now (for encoders) */
	uint64_t refused_latency_us;          /* the receiver refused the session: its latency
						 budget, which differs from ours (0: never) */
};
void braid_sender_get_stats(const struct braid_sender *s, struct braid_sender_stats *out);
/* Writes up to max link stats; returns the number of links. */
size_t braid_sender_get_link_stats(const struct braid_sender *s, struct braid_link_stats *out,
				   size_t max);

#endif
