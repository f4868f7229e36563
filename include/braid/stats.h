/* Counters and events that the sender and receiver report. docs/stats.md documents how
 * the programs print them. */
#ifndef BRAID_STATS_H
#define BRAID_STATS_H

#include <stdint.h>

#include "braid/common.h"

struct braid_link_stats {
	uint16_t id;
	char name[BRAID_LINK_NAME_MAX + 1];
	enum braid_link_state state;
	double rtt_ms;     /* smoothed; at the receiver, what the sender's probes report */
	double loss;       /* fraction over the recent window; at the receiver, of probes */
	double jitter_ms;  /* RFC 3550 interarrival jitter of data on this link */
	uint64_t packets_sent, bytes_sent;
	uint64_t packets_received, bytes_received;
	uint32_t down_events; /* times the link went from live to down */
	double capacity_kbps;  /* sender: estimated capacity (adaptive mode's model) */
	double delivered_kbps; /* sender: delivery rate the receiver reported, last window;
				* receiver: not set (its reports give the rate received) */
};

/* Datagrams dropped before they reach a session, one counter per reason (docs/stats.md). */
struct braid_drop_stats {
	uint64_t truncated;       /* longer than the buffer it was read into */
	uint64_t malformed;       /* shorter than its fields say, wrong version, unknown type or
				     flags, bad lengths */
	uint64_t auth;            /* missing or wrong tag (MAC or AEAD), or a bad key */
	uint64_t replay;          /* authentic but seen before: a sealed packet's number, a
				     HELLO or HELLO_ACK already answered or superseded */
	uint64_t stale;           /* HELLO whose wall clock is outside the tolerance, or
				     older than the receiver's start */
	uint64_t rate_limited;    /* HELLO over its source's rate (COOKIE budget spent too) */
	uint64_t unproven;        /* unkeyed HELLO from an address not proved yet (a COOKIE
				     answers it while the budget allows) */
	uint64_t source_full;     /* HELLO for a new session from a source holding its share */
	uint64_t session_conflict; /* unkeyed HELLO naming a live session with another
				      sender nonce (not a restart: the session is not silent) */
	uint64_t held_full;       /* DATA past the held-bytes caps (per session, overall) */
	uint64_t unknown_session;
	uint64_t unknown_link;
	uint64_t oversized;       /* payload larger than BRAID_MAX_PAYLOAD */
	uint64_t wrong_direction; /* well formed, of a type only the other side accepts */
	uint64_t sessions_full;   /* receiver: HELLO for a new session, every session slot used */
	uint64_t links_full;      /* receiver: HELLO for a new link, every link slot of its
				     session used */
	uint64_t no_memory;       /* receiver: HELLO for a new session, no memory to set it up */
	uint64_t latency_mismatch; /* a HELLO (receiver) or HELLO_ACK (sender) whose latency
				      budget differs from this end's: the session is refused */
};
/* Every datagram dropped, whatever the cause. */
uint64_t braid_drop_stats_total(const struct braid_drop_stats *d);

enum braid_event_kind {
	BRAID_EVENT_LINK_STATE = 1, /* a link changed state */
	BRAID_EVENT_SESSION_NEW,    /* receiver: a sender registered */
	BRAID_EVENT_SESSION_END,    /* receiver: a session ended (BYE or silence) */
	BRAID_EVENT_FAILOVER,       /* sender: packets resent off a link that went down */
};

struct braid_event {
	enum braid_event_kind kind;
	uint64_t time_us;
	uint32_t session_id;
	uint16_t link_id;
	enum braid_link_state old_state, new_state;
	uint64_t count; /* FAILOVER: packets resent */
};

#endif
