/* What the sender and the receiver share in their public API: sizes, modes, link states
 * and the link health settings. Part of the embedding API (braid/sender.h, braid/receiver.h
 * include it). */
#ifndef BRAID_COMMON_H
#define BRAID_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#define BRAID_MAX_PAYLOAD 8192   /* largest media datagram carried */
#define BRAID_MAX_DATAGRAM 8232  /* largest datagram on a link: size link buffers with it */
#define BRAID_LINK_NAME_MAX 32
#define BRAID_NONCE_SIZE 8
#define BRAID_KEY_SEED_SIZE 32  /* the caller's random seed for a side's ephemeral keys */
#define BRAID_MAX_LINKS 32

/* ---- The call contract of braid_sender and braid_receiver ----
 *
 * Both are sans-I/O state machines: they never read a clock or touch a socket. The caller
 * owns the clock, the sockets and every buffer it passes in (nothing is kept after a call
 * returns: what the core keeps, it copies).
 *
 * Time. Every call that can change state takes `now_us`, the caller's monotonic clock in
 * microseconds. It must not go backwards; a smaller value than one seen before is taken
 * as the latest value seen (the core's clock never goes back).
 *
 * Input. handle_datagram(bytes, flags, now) for every datagram read from a link's socket,
 * push(media, now) (sender) for every datagram from the encoder. A datagram that did not
 * fit the caller's receive buffer (MSG_TRUNC) is passed with BRAID_DATAGRAM_TRUNCATED, the
 * buffer and the bytes that fit: it is dropped and counted as truncated, never parsed.
 * Bad datagrams are dropped and counted by cause; the return value says why.
 *
 * Output. After every input and every handle_timeout, drain each poll call until it says
 * there is nothing more: poll_transmit (datagrams for the links), poll_output (receiver:
 * released media) or poll_reverse (sender: datagrams from the far side for the encoder),
 * poll_event. Every poll call returns 1 when it wrote something, 0 when there is nothing
 * more, and a negative braid_error otherwise. A buffer too small for what is next gives
 * BRAID_ERR_BUFFER and takes nothing: the datagram stays queued for a larger buffer, it
 * is never cut or dropped. Buffers of BRAID_MAX_DATAGRAM bytes (link datagrams) and
 * BRAID_MAX_PAYLOAD bytes (media) are always large enough.
 *
 * Timers. next_timeout() gives the time at which handle_timeout(now) is next needed
 * (UINT64_MAX: none). Calling handle_timeout early, or more often, is harmless: it does
 * what is due at `now` and nothing else. */

/* handle_datagram flags */
#define BRAID_DATAGRAM_TRUNCATED 0x1u /* the datagram was longer than the buffer it came in */

/* How the sender spreads packets over its links. */
enum braid_mode {
	BRAID_MODE_BROADCAST = 0, /* every packet on every live link */
	BRAID_MODE_ROUNDROBIN,    /* live links in turn */
	BRAID_MODE_WEIGHTED,      /* live links in proportion to their weights (smooth) */
	BRAID_MODE_BACKUP,        /* the live link of best priority; the next one when it fails */
	BRAID_MODE_ADAPTIVE,      /* each packet where it is expected to arrive first, by the
				     links' measured capacity and delay (the default) */
	BRAID_MODE_COUNT
};
const char *braid_mode_name(enum braid_mode mode);
/* Returns the mode for a name ("adaptive", ...), or -1. */
int braid_mode_parse(const char *name);

enum braid_link_state {
	BRAID_LINK_DOWN = 0,
	BRAID_LINK_DEGRADED = 1,
	BRAID_LINK_HEALTHY = 2,
};
const char *braid_link_state_name(enum braid_link_state state);

struct braid_health_settings {
	uint64_t probe_interval_us;  /* default 50 ms */
	unsigned down_after_missed;  /* silent probe intervals before DOWN; default 3 */
	unsigned up_after_replies;   /* consecutive replies before a DOWN link is usable; default 3 */
	double degraded_loss;        /* loss above this: DEGRADED; default 0.10 */
	double recovered_loss;       /* loss below this: HEALTHY again; default 0.05 */
	uint64_t degraded_rtt_us;    /* RTT above this: DEGRADED; 0 = never; default 0 */
	unsigned min_operational;    /* live links needed for the session to be operational; default 1 */
};
void braid_health_settings_default(struct braid_health_settings *s);

/* Healthy or degraded: a link that carries data. */
static inline bool braid_link_state_live(enum braid_link_state state)
{
	return state != BRAID_LINK_DOWN;
}

#endif
