/* Internal: the receiver's view of one sender's clock. The release time of a packet is its
 * sender timestamp + offset + latency budget, where the offset is the fastest path's
 * one-way delay plus the difference between the two clocks. Clocks drift (tens of ppm is
 * common, 500 ppm is what NTP may slew a clock by), so the offset is followed for the
 * whole session:
 *
 * - arrivals are grouped in windows of BRAID__CLOCK_WINDOW_US; the least transit
 *   (arrival - sender timestamp) of each window is the path's floor at that moment, free
 *   of most queueing and jitter;
 * - the drift is the median of the slopes between every pair of the last
 *   BRAID__CLOCK_WINDOWS minima (robust to a few bad windows), within +-500 ppm;
 * - the floor now is the median of those minima, each carried to now by the drift (so a
 *   path that is slower for less than half of them, a failover, changes nothing); the
 *   offset moves towards it by at most BRAID__CLOCK_SLEW_PPM of the time passed, so
 *   release times never go backwards and packets keep their spacing.
 *
 * During the first window the offset is the least transit seen (at once: the first
 * packets usually waited for the handshake). A timestamp more than the budget ahead of
 * what the tracker predicts, or behind it by more than the budget and any plausible path
 * delay, is not believed: the caller drops its packet. A window that brings nothing but
 * such timestamps means the sender's clock jumped; the tracker starts over. A floor more
 * than half the budget away from the offset is a jump too: the offset steps to it. */
#ifndef BRAID_CORE_CLOCK_H
#define BRAID_CORE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID__CLOCK_WINDOW_US 2000000
#define BRAID__CLOCK_WINDOWS 16
#define BRAID__CLOCK_SLEW_PPM 1000
#define BRAID__CLOCK_MAX_DRIFT_PPM 500
#define BRAID__CLOCK_MAX_PATH_US 10000000 /* no path holds a datagram longer */

struct braid__clock_minimum {
	uint64_t at_us;   /* arrival of the window's fastest packet */
	int64_t transit_us;
};

struct braid__clock {
	bool started; /* an offset exists */
	bool warm;    /* a first window is complete: the offset follows the estimate */
	double offset_us;
	uint64_t moved_us; /* arrival time of the last move of the offset */
	/* the window being filled */
	uint64_t window_start_us;
	struct braid__clock_minimum window_min;
	unsigned window_accepted, window_rejected;
	/* the last minima, oldest first from `first` */
	struct braid__clock_minimum minima[BRAID__CLOCK_WINDOWS];
	size_t count, first;
	/* the estimate: floor(t) = floor_us + drift * (t - floor_at_us) */
	double drift;
	double floor_us;
	uint64_t floor_at_us;
	uint64_t steps, restarts; /* for tests and reports */
};

enum braid__clock_verdict {
	BRAID__CLOCK_OK = 0,
	BRAID__CLOCK_AHEAD,  /* the timestamp is too far in the future: not believed */
	BRAID__CLOCK_BEHIND, /* too far in the past */
};

void braid__clock_init(struct braid__clock *c);
/* One DATA packet with (extended) sender timestamp ts_us arrived at now_us. Updates the
 * offset unless the timestamp is out of bounds for a budget of latency_us. */
enum braid__clock_verdict braid__clock_observe(struct braid__clock *c, uint64_t ts_us,
					       uint64_t now_us, uint64_t latency_us);
/* The offset to add to sender timestamps (valid once started). */
int64_t braid__clock_offset(const struct braid__clock *c);
/* What the tracker expects a transit to be at now_us (the offset before warming up). */
double braid__clock_predict(const struct braid__clock *c, uint64_t now_us);

#endif
