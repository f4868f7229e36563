/* A RIST Simple Profile receiver (VSF TR-06-1), sans-I/O. One RTP flow arrives over any
 * number of paths (told apart by their source addresses); copies are merged by sequence
 * number, duplicates dropped, packets put back in order, losses asked for again by NACK
 * and the payloads released in sequence. RTCP goes to every peer heard on the RTCP port:
 * receiver reports with a CNAME as keep-alives, NACKs, and RTT echoes.
 *
 * Release: a packet leaves as soon as every earlier one has left. A missing one is waited
 * for until buffer_us after it was found missing; then it is given up (lost) and those
 * after it leave. The first packets are held for the reorder wait, so that one that took
 * a slower path is not taken for older than the flow's start.
 *
 * NACKs: a gap is asked for once it has been missing for the reorder wait (the larger of
 * reorder_min_us and 1.5 times the delay spread seen between paths lately: a packet on a
 * slower path is not lost), then again every RTT (at least 20 ms) while a resend could
 * still arrive in time. Which kind: BRAID_RIST_NACK_AUTO sends the RIST range NACK to a
 * peer that has spoken RIST's own RTCP (librist does) and the RFC 4585 Generic NACK to the
 * others (GStreamer), which every RIST sender reads. */
#ifndef BRAID_RIST_RX_H
#define BRAID_RIST_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "rist/app.h"

#define BRAID_RIST_MAX_PATHS 16
#define BRAID_RIST_MAX_PEERS 16
#define BRAID_RIST_WINDOW 8192   /* packets held or tracked at most */

enum braid_rist_nack_kind {
	BRAID_RIST_NACK_AUTO,
	BRAID_RIST_NACK_GENERIC,
	BRAID_RIST_NACK_RANGE,
};

struct braid_rist_rx_config {
	uint64_t buffer_us;        /* how long a missing packet is waited for */
	uint64_t reorder_min_us;   /* least wait before a gap is asked for */
	uint64_t rtcp_interval_us; /* keep-alives to each peer */
	enum braid_rist_nack_kind nack;
	uint32_t ssrc;             /* ours, in our RTCP */
	char cname[64];
	uint64_t wall_clock_us;    /* wall clock (since 1970) at the `now` given to _new */
};

/* 1000 ms buffer, 20 ms reorder, 100 ms RTCP, AUTO, CNAME "braid". */
void braid_rist_rx_config_default(struct braid_rist_rx_config *cfg);

/* A datagram's fate, counted in the drop counters. */
struct braid_rist_drops {
	uint64_t malformed;     /* not RTP (or not RTCP on the RTCP port) */
	uint64_t other_flow;    /* RTP of another SSRC while the flow lives */
	uint64_t too_large;     /* a payload above BRAID_RIST_MAX_PAYLOAD */
	uint64_t no_room;       /* a new path or peer beyond the table, or no memory */
};

struct braid_rist_path_stats {
	struct braid_addr addr;
	uint64_t packets, bytes;  /* RTP datagrams taken from it */
	uint64_t duplicates;      /* copies of packets already held or released */
	uint64_t retransmitted;   /* resends (SSRC with its low bit set) */
	uint64_t reordered;       /* arrivals filling a gap that were no resend */
	uint64_t late;            /* arrivals after their turn (given up, or too old) */
	uint64_t last_us;
};

struct braid_rist_peer_stats {
	struct braid_addr addr;
	uint64_t rtcp_in;      /* RTCP datagrams from it */
	uint64_t rtcp_out;     /* RTCP datagrams to it */
	uint64_t nacks_sent;   /* NACK packets sent to it */
	uint64_t requested;    /* sequence numbers they asked it for */
	bool speaks_rist;      /* it sent a RIST APP packet */
	bool gets_range;       /* the NACKs it gets are range NACKs (else Generic NACKs) */
	bool has_rtt;
	uint64_t rtt_us;       /* smoothed, from RTT echoes */
	uint64_t last_us;
};

struct braid_rist_rx_stats {
	bool started;
	uint32_t ssrc;            /* the flow's (low bit clear) */
	uint64_t in, bytes_in;    /* every datagram, both ports */
	uint64_t out, bytes_out;  /* payloads released */
	uint64_t duplicates, retransmitted, reordered, late, lost, beyond_window;
	uint64_t requested;       /* sequence numbers asked for (each time they were) */
	uint64_t recovered;       /* asked-for numbers that then arrived in time */
	uint64_t nacks;           /* NACK packets sent */
	uint64_t held;            /* packets held now */
	uint64_t reorder_us;      /* the reorder wait now */
	struct braid_rist_drops dropped;
};

struct braid_rist_rx;

struct braid_rist_rx *braid_rist_rx_new(const struct braid_rist_rx_config *cfg, uint64_t now);
void braid_rist_rx_free(struct braid_rist_rx *rx);

/* A datagram that came to the RTP port (even) or the RTCP port (odd) from `from`. */
void braid_rist_rx_handle_rtp(struct braid_rist_rx *rx, const struct braid_addr *from,
			      const uint8_t *buf, size_t len, uint64_t now);
void braid_rist_rx_handle_rtcp(struct braid_rist_rx *rx, const struct braid_addr *from,
			       const uint8_t *buf, size_t len, uint64_t now);
void braid_rist_rx_handle_timeout(struct braid_rist_rx *rx, uint64_t now);
/* When handle_timeout is next due (UINT64_MAX: never). */
uint64_t braid_rist_rx_next_timeout(const struct braid_rist_rx *rx);

/* The next payload due: returns 1 and its length, 0 when none is, or BRAID_ERR_BUFFER
 * when cap is smaller than it (it stays). */
int braid_rist_rx_poll_output(struct braid_rist_rx *rx, uint64_t now, uint8_t *buf,
			      size_t cap, size_t *len);
/* Gives up every gap: what is held is due at once (at shutdown). */
void braid_rist_rx_flush(struct braid_rist_rx *rx);
/* The next RTCP datagram to send from the RTCP port: returns 1, or 0 when none waits. */
int braid_rist_rx_poll_rtcp(struct braid_rist_rx *rx, struct braid_addr *to, uint8_t *buf,
			    size_t cap, size_t *len);

void braid_rist_rx_stats(const struct braid_rist_rx *rx, struct braid_rist_rx_stats *out);
/* Paths and peers: copies up to cap, returns how many there are. */
size_t braid_rist_rx_paths(const struct braid_rist_rx *rx, struct braid_rist_path_stats *out,
			   size_t cap);
size_t braid_rist_rx_peers(const struct braid_rist_rx *rx, struct braid_rist_peer_stats *out,
			   size_t cap);

#endif
