/* Per-link measurement and health, shared by the sender and the receiver.
 * Estimators: smoothed RTT and its variation (RFC 6298 gains), minimum RTT, loss over a
 * sliding window of probe intervals, RFC 3550 interarrival jitter. Health: a state machine
 * healthy / degraded / down with thresholds and hysteresis. All times in microseconds. */
#ifndef BRAID_LINK_H
#define BRAID_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "braid/common.h"

struct braid_rtt {
	uint64_t srtt_us;
	uint64_t rttvar_us;
	uint64_t min_us;
	uint64_t latest_us;
	bool has_sample;
};
void braid_rtt_update(struct braid_rtt *rtt, uint64_t sample_us);

/* Loss from pairs (sent, received) of cumulative counters reported at each probe reply.
 * The window keeps the last BRAID_LOSS_WINDOW intervals. */
#define BRAID_LOSS_WINDOW 16
struct braid_loss {
	uint64_t sent[BRAID_LOSS_WINDOW + 1];
	uint64_t received[BRAID_LOSS_WINDOW + 1];
	unsigned count; /* samples stored, up to BRAID_LOSS_WINDOW + 1 */
	unsigned head;  /* index of the newest sample */
};
/* Adds a sample of cumulative counters; counters never go backwards (a smaller value is
 * ignored). */
void braid_loss_add(struct braid_loss *loss, uint64_t sent_total, uint64_t received_total);
/* Fraction lost over the window, in [0, 1]; 0 without at least two samples. */
double braid_loss_fraction(const struct braid_loss *loss);

/* RFC 3550 A.8 interarrival jitter in microseconds, from send and arrival times of the
 * same packet on the same link (each on its own clock; only differences matter). */
struct braid_jitter {
	double jitter_us;
	int64_t last_transit_us;
	bool has_transit;
};
void braid_jitter_update(struct braid_jitter *jitter, uint64_t sent_us, uint64_t arrived_us);



struct braid_link_health {
	enum braid_link_state state;
	uint64_t last_reply_us;   /* last time the far side was heard on this link */
	unsigned replies_in_row;  /* since the link went DOWN */
	bool ever_up;
	uint32_t transitions;     /* number of state changes, for stats */
	uint64_t rtt_allowance_us; /* silence tolerated beyond the probe rule: the owner sets
				      it to SRTT + 4 RTTVAR, so a link whose answers are merely
				      slow (a long queue) is not taken for dead */
};

/* A link starts DOWN and becomes HEALTHY on its first reply (a link never heard from
 * needs no hysteresis). Returns true when the state changed. */
void braid_health_init(struct braid_link_health *h);
bool braid_health_on_reply(struct braid_link_health *h, const struct braid_health_settings *s,
			   uint64_t now_us, double loss, uint64_t srtt_us);
/* Call at least once per probe interval: marks the link DOWN after silence. */
bool braid_health_on_tick(struct braid_link_health *h, const struct braid_health_settings *s,
			  uint64_t now_us);
/* When the next on_tick could change the state (UINT64_MAX when never). */
uint64_t braid_health_deadline(const struct braid_link_health *h,
			       const struct braid_health_settings *s);

#endif
