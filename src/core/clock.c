#include "core/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Windows needed for a slope. Two is enough: a slope from noisy minima is bounded by the
 * drift limit, and waiting longer leaves the offset behind a real drift at the start. */
#define MIN_WINDOWS_FOR_DRIFT 2
/* A window with no believable timestamp and at least this many others: the clock jumped. */
#define RESTART_REJECTS 8
#define PAIRS (BRAID__CLOCK_WINDOWS * (BRAID__CLOCK_WINDOWS - 1) / 2)

void braid__clock_init(struct braid__clock *c)
{
	memset(c, 0, sizeof(*c));
}

static void start(struct braid__clock *c, int64_t transit, uint64_t now_us)
{
	uint64_t steps = c->steps, restarts = c->restarts;

	memset(c, 0, sizeof(*c));
	c->steps = steps;
	c->restarts = restarts;
	c->started = true;
	c->offset_us = (double)transit;
	c->moved_us = now_us;
	c->window_start_us = now_us;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const struct braid__clock_minimum *minimum_at(const struct braid__clock *c, size_t i)
{
	return &c->minima[(c->first + i) % BRAID__CLOCK_WINDOWS];
}

/* The median of the slopes between every pair of minima (Theil and Sen's estimator):
 * a window spoilt by queueing or by a bad timestamp tilts only its own pairs. */
static double median_slope(const struct braid__clock *c)
{
	double slopes[PAIRS];
	size_t n = 0;

	for (size_t i = 0; i < c->count; i++) {
		for (size_t j = i + 1; j < c->count; j++) {
			const struct braid__clock_minimum *a = minimum_at(c, i), *b = minimum_at(c, j);
			double dt = (double)b->at_us - (double)a->at_us;

			if (dt > 0)
				slopes[n++] = ((double)b->transit_us - (double)a->transit_us) / dt;
		}
	}
	if (n == 0)
		return 0;
	qsort(slopes, n, sizeof(slopes[0]), compare_double);
	double slope = n % 2 ? slopes[n / 2] : (slopes[n / 2 - 1] + slopes[n / 2]) / 2;
	double most = BRAID__CLOCK_MAX_DRIFT_PPM / 1e6;
	return slope > most ? most : slope < -most ? -most : slope;
}

/* The line through the minima: Theil and Sen's slope, and the median of the minima
 * carried to now along it. A path that is slower for less than half the windows (a
 * failover to a slower link and back) leaves the floor where it was. */
static void estimate(struct braid__clock *c, uint64_t now_us)
{
	double carried[BRAID__CLOCK_WINDOWS];

	c->drift = c->count >= MIN_WINDOWS_FOR_DRIFT ? median_slope(c) : 0;
	for (size_t i = 0; i < c->count; i++) {
		const struct braid__clock_minimum *m = minimum_at(c, i);

		carried[i] = (double)m->transit_us + c->drift * ((double)now_us - (double)m->at_us);
	}
	qsort(carried, c->count, sizeof(carried[0]), compare_double);
	c->floor_us = carried[(c->count - 1) / 2];
	c->floor_at_us = now_us;
}

static void push_minimum(struct braid__clock *c)
{
	if (c->count == BRAID__CLOCK_WINDOWS) {
		c->minima[c->first] = c->window_min;
		c->first = (c->first + 1) % BRAID__CLOCK_WINDOWS;
	} else {
		c->minima[(c->first + c->count++) % BRAID__CLOCK_WINDOWS] = c->window_min;
	}
}

static void close_window(struct braid__clock *c, uint64_t now_us, uint64_t latency_us)
{
	if (c->window_accepted) {
		push_minimum(c);
		estimate(c, now_us);
		c->warm = true;
		/* A floor this far off is no drift (500 ppm takes 1000 s to move 0.5 s) but a
		 * jump of the sender's clock or of the path: slewing there would take too long. */
		if (fabs(c->floor_us - c->offset_us) > (double)latency_us / 2) {
			c->offset_us = c->floor_us;
			c->steps++;
		}
	} else if (c->window_rejected >= RESTART_REJECTS) {
		c->started = false; /* the sender's clock jumped: the next packet starts over */
		c->restarts++;
		return;
	}
	c->window_start_us = now_us;
	c->window_accepted = c->window_rejected = 0;
}

static void slew(struct braid__clock *c, uint64_t now_us)
{
	double target = braid__clock_predict(c, now_us);
	double most = (double)(now_us - c->moved_us) * (BRAID__CLOCK_SLEW_PPM / 1e6);
	double move = target - c->offset_us;

	c->offset_us += move > most ? most : move < -most ? -most : move;
	c->moved_us = now_us;
}

enum braid__clock_verdict braid__clock_observe(struct braid__clock *c, uint64_t ts_us,
					       uint64_t now_us, uint64_t latency_us)
{
	int64_t transit = (int64_t)now_us - (int64_t)ts_us;

	if (c->started && now_us - c->window_start_us >= BRAID__CLOCK_WINDOW_US)
		close_window(c, now_us, latency_us);
	if (!c->started) {
		start(c, transit, now_us);
		c->window_min = (struct braid__clock_minimum){ now_us, transit };
		c->window_accepted = 1;
		return BRAID__CLOCK_OK;
	}
	double predicted = braid__clock_predict(c, now_us);
	if ((double)transit < predicted - (double)latency_us) {
		c->window_rejected++;
		return BRAID__CLOCK_AHEAD;
	}
	if ((double)transit > predicted + (double)latency_us + BRAID__CLOCK_MAX_PATH_US) {
		c->window_rejected++;
		return BRAID__CLOCK_BEHIND;
	}
	if (!c->window_accepted++ || transit < c->window_min.transit_us)
		c->window_min = (struct braid__clock_minimum){ now_us, transit };
	if (!c->warm) {
		if ((double)transit < c->offset_us)
			c->offset_us = (double)transit;
		c->moved_us = now_us;
	} else {
		slew(c, now_us);
	}
	return BRAID__CLOCK_OK;
}

int64_t braid__clock_offset(const struct braid__clock *c)
{
	return (int64_t)llround(c->offset_us);
}

double braid__clock_predict(const struct braid__clock *c, uint64_t now_us)
{
	if (!c->warm)
		return c->offset_us;
	return c->floor_us + c->drift * ((double)now_us - (double)c->floor_at_us);
}
