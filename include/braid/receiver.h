/* The receiving side, sans-I/O: serves many sessions, each isolated (its own links,
 * reorder buffer, counters). Datagrams in, released media out at the sender's timing.
 *
 *   handle_datagram(from, bytes, flags, now)
 *   poll_transmit(now) -> (to, bytes)        replies to senders
 *   poll_output(now) -> (session, media)     media whose release time has come, in order
 *   send_reverse(session, bytes, now)        a datagram from the next hop back to the sender
 *   poll_event(), next_timeout(), handle_timeout(now)
 *
 * The call contract (time, draining, buffers) is in braid/common.h. */
#ifndef BRAID_RECEIVER_H
#define BRAID_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "braid/common.h"
#include "braid/addr.h"
#include "braid/stats.h"

struct braid_receiver_settings {
	uint64_t latency_us;           /* release = sender timestamp + offset + latency; default 1 s */
	/* When media is due, what falls due within this window goes out with it, up to this
	 * early: one wake-up and one send for several releases. Default 0 (each at its time). */
	uint64_t release_window_us;
	const uint8_t *psk;            /* copied; NULL = no encryption */
	size_t psk_len;
	/* With a psk: a random seed for the receiver's ephemeral keys, the caller's wall clock
	 * (CLOCK_REALTIME, µs since 1970) at the now_us passed to braid_receiver_new (0 is
	 * refused), and how far a HELLO's wall clock may be from it (default 30 s). */
	uint8_t key_seed[BRAID_KEY_SEED_SIZE];
	uint64_t wall_clock_us;
	uint64_t hello_tolerance_us;
	uint64_t session_timeout_us;   /* a silent session ends; default 30 s */
	size_t max_sessions;           /* default 64 */
	size_t max_sessions_per_source; /* sessions started from one IP address; default 8 */
	size_t reorder_capacity;       /* packets held per session; default 65536 */
	size_t max_held_bytes_per_session; /* media bytes held per session; default 64 MiB */
	size_t max_held_bytes;         /* media bytes held, all sessions; default 256 MiB */
	double hellos_per_source;      /* HELLOs handled per second per source IP; default 1000 */
	double cookies_per_second;     /* unkeyed: COOKIEs sent per second in all; default 2000 */
	uint64_t seed;                 /* for receiver nonces; the caller draws it at random */
	struct braid_health_settings health;
};
void braid_receiver_settings_default(struct braid_receiver_settings *s);

struct braid_receiver;

struct braid_receiver *braid_receiver_new(const struct braid_receiver_settings *s, uint64_t now_us);
void braid_receiver_free(struct braid_receiver *r);

/* A datagram from the network (flags: BRAID_DATAGRAM_*). 0, or the reason it was dropped
 * (also counted). */
int braid_receiver_handle_datagram(struct braid_receiver *r, const struct braid_addr *from,
				   const uint8_t *buf, size_t len, unsigned flags, uint64_t now_us);
/* The next datagram to send: 1 with *len bytes in buf for *to; 0 when there is nothing
 * more; BRAID_ERR_BUFFER when it is longer than cap (it stays queued). */
int braid_receiver_poll_transmit(struct braid_receiver *r, uint64_t now_us, struct braid_addr *to,
				 uint8_t *buf, size_t cap, size_t *len);
/* The next released media datagram: 1 with *len bytes in buf from *session_id; 0 when
 * none is due; BRAID_ERR_BUFFER when it is longer than cap (it stays held). */
int braid_receiver_poll_output(struct braid_receiver *r, uint64_t now_us, uint32_t *session_id,
			       uint8_t *buf, size_t cap, size_t *len);
/* Releases everything still held, in order, regardless of time (clean shutdown). */
void braid_receiver_flush(struct braid_receiver *r);
/* Queues a datagram from the next hop back to a session's sender. 0 or a braid_error. */
int braid_receiver_send_reverse(struct braid_receiver *r, uint32_t session_id,
				const uint8_t *payload, size_t len, uint64_t now_us);
int braid_receiver_poll_event(struct braid_receiver *r, struct braid_event *ev);

uint64_t braid_receiver_next_timeout(const struct braid_receiver *r);
void braid_receiver_handle_timeout(struct braid_receiver *r, uint64_t now_us);

struct braid_session_stats {
	uint32_t session_id;
	uint64_t packets_out, bytes_out; /* released */
	uint64_t duplicates, late, lost, reordered_held;
	uint64_t beyond_window;          /* arrivals too far ahead of the reorder buffer */
	uint64_t retransmitted;          /* arrivals flagged as resends */
	uint64_t bad_timestamps;         /* DATA dropped: a sender time the clock tracker
					  * could not believe (docs/architecture.md, Timing) */
	uint64_t nacks;                  /* NACK packets sent */
	uint64_t reverse_packets, reverse_bytes;
	unsigned link_count;
};
struct braid_receiver_stats {
	unsigned sessions;
	uint64_t cookies_sent;           /* unkeyed: COOKIEs sent to unproven addresses */
	uint64_t held_bytes;             /* media bytes held now, all sessions */
	uint64_t packets_in, bytes_in;   /* every datagram received */
	uint64_t packets_out, bytes_out, duplicates, late, lost, retransmitted, bad_timestamps;
	uint64_t beyond_window;          /* summed over sessions, as the seven before */
	uint64_t nacks;                  /* NACK packets sent, summed over sessions */
	uint64_t refused_latency_us;     /* the latency budget of the last sender refused
					  * because it differs from ours (0: none refused) */
	struct braid_drop_stats drops;
};
void braid_receiver_get_stats(const struct braid_receiver *r, struct braid_receiver_stats *out);
/* Session ids, up to max; returns how many sessions exist. */
size_t braid_receiver_sessions(const struct braid_receiver *r, uint32_t *ids, size_t max);
/* 0 or BRAID_ERR_SESSION. *link_count gets the number of links (up to max written). */
int braid_receiver_session_stats(const struct braid_receiver *r, uint32_t session_id,
				 struct braid_session_stats *out, struct braid_link_stats *links,
				 size_t max, size_t *link_count);

#endif
