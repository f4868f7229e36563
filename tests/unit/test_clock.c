/* The receiver's clock tracker (core/clock.h) on made-up arrivals: a sender clock that
 * runs fast or slow for a week (its 32-bit wire timestamps wrapping as they do on the
 * wire), jitter, timestamps far ahead or behind, path delay steps and a clock jump. The
 * truth is known here, so each case checks the release time a packet would get
 * (timestamp + offset + budget) against its true send time plus the path's delay plus
 * the budget, and that consecutive releases keep the packets' spacing. */
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/wire.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define BUDGET_US (1000 * MS)
#define RX_START UINT64_C(5000000000) /* the receiver's clock when the stream starts */
#define TX_START UINT64_C(777000000)  /* the sender's */

/* A stream of packets sent every interval_us of true time by a sender whose clock runs
 * (1 + drift) times as fast as the receiver's, over a path of delay_us (plus jitter). */
struct stream {
	struct braid__clock clock;
	double drift;
	int64_t interval_us, delay_us;
	uint64_t ts_highest; /* the receiver's extension of the wire timestamps */
	bool started;
	/* the previous packet's release and true send time, for the spacing */
	double last_release, last_sent;
	bool has_last;
	double worst_error_us;   /* |release - (sent + delay + budget)| once settled */
	double worst_spacing_us; /* |release step - send step| */
	uint64_t rejected;
};

static void stream_init(struct stream *s, double drift, int64_t interval_us, int64_t delay_us)
{
	memset(s, 0, sizeof(*s));
	braid__clock_init(&s->clock);
	s->drift = drift;
	s->interval_us = interval_us;
	s->delay_us = delay_us;
}

static uint64_t sender_clock(const struct stream *s, int64_t t_us)
{
	return TX_START + (uint64_t)((double)t_us * (1.0 + s->drift));
}

/* Packet sent at true time t (since the start), arriving after its path delay plus extra,
 * with a timestamp moved by skew_us from the sender's clock (a forged or corrupt one).
 * Returns the tracker's verdict; on OK, checks the release from settle_us on. */
static enum braid__clock_verdict send_packet(struct stream *s, int64_t t_us, int64_t extra_us,
					     int64_t skew_us, int64_t settle_us)
{
	uint32_t wire = (uint32_t)(sender_clock(s, t_us) + (uint64_t)skew_us);
	uint64_t ts = s->started ? braid_extend32(wire, s->ts_highest)
				 : (UINT64_C(1) << 32) + wire;
	uint64_t arrival = RX_START + (uint64_t)(t_us + s->delay_us + extra_us);
	enum braid__clock_verdict v = braid__clock_observe(&s->clock, ts, arrival, BUDGET_US);

	if (v != BRAID__CLOCK_OK) {
		s->rejected++;
		return v;
	}
	if (!s->started || ts > s->ts_highest)
		s->ts_highest = ts;
	s->started = true;
	double release = (double)ts + (double)braid__clock_offset(&s->clock) + BUDGET_US;
	double sent = (double)(RX_START + (uint64_t)t_us);
	if (t_us >= settle_us) {
		double error = release - (sent + (double)s->delay_us + BUDGET_US);
		if (fabs(error) > s->worst_error_us)
			s->worst_error_us = fabs(error);
		if (s->has_last) {
			double spacing = (release - s->last_release) - (sent - s->last_sent);
			if (fabs(spacing) > s->worst_spacing_us)
				s->worst_spacing_us = fabs(spacing);
		}
	}
	s->last_release = release;
	s->last_sent = sent;
	s->has_last = true;
	return v;
}

/* A week at one packet a second: the release stays within 1 ms of the sender's time plus
 * path plus budget, and each release follows the previous by its send spacing +- 1.2 ms
 * (the drift itself, 0.1 ms a second, plus the slew's 1 ms a second). */
static void check_week(double drift)
{
	struct stream s;
	const int64_t week = 7 * 24 * 3600 * SEC;
	stream_init(&s, drift, 1 * SEC, 40 * MS);
	for (int64_t t = 0; t < week; t += s.interval_us)
		send_packet(&s, t, 0, 0, 60 * SEC);
	printf("drift %+.0f ppm, a week: worst release error %.1f us, worst spacing %.1f us, "
	       "estimated drift %+.1f ppm\n", drift * 1e6, s.worst_error_us, s.worst_spacing_us,
	       s.clock.drift * 1e6);
	CHECK(s.worst_error_us <= 1000);
	CHECK(s.worst_spacing_us <= 1200);
	CHECK_EQ_U64(s.rejected, 0);
	CHECK_EQ_U64(s.clock.steps, 0);
	/* the drift as the offset sees it: a fast sender's transits shrink */
	CHECK_NEAR(s.clock.drift, -drift / (1 + drift), 2e-6);
}

static void test_drift_fast_sender(void)
{
	check_week(+100e-6);
}

static void test_drift_slow_sender(void)
{
	check_week(-100e-6);
}

/* Without tracking, 100 ppm slow for an hour would have cost 360 ms of the budget; here
 * even 400 ppm (what NTP may slew) keeps the release within a millisecond. */
static void test_drift_steep(void)
{
	struct stream s;
	stream_init(&s, -400e-6, 20 * MS, 25 * MS);
	for (int64_t t = 0; t < 3600 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 60 * SEC);
	CHECK(s.worst_error_us <= 1000);
	CHECK(s.worst_spacing_us <= 30); /* 20 ms apart: 8 us of drift, 20 us of slew */
}

static uint32_t lcg(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state >> 8;
}

/* Arrivals 0..30 ms late at random: the offset sits on the path's floor, a little above
 * it (a window's least is rarely the floor itself), never below by more than a trace,
 * and the release times still keep the spacing within the slew. */
static void test_jitter(void)
{
	struct stream s;
	uint32_t seed = 12345;
	double lowest = 1e18, highest = -1e18;
	stream_init(&s, -50e-6, 50 * MS, 40 * MS);
	for (int64_t t = 0; t < 2 * 3600 * SEC; t += s.interval_us) {
		int64_t jitter = (int64_t)(lcg(&seed) % (30 * MS));
		send_packet(&s, t, jitter, 0, 60 * SEC);
		if (t < 60 * SEC)
			continue;
		/* the true floor: the path's delay plus where the sender's clock is now */
		double floor = (double)(RX_START + (uint64_t)(t + s.delay_us)) -
			       (double)((UINT64_C(1) << 32) + (uint32_t)sender_clock(&s, 0)) -
			       ((double)sender_clock(&s, t) - (double)sender_clock(&s, 0));
		double above = (double)braid__clock_offset(&s.clock) - floor;
		lowest = above < lowest ? above : lowest;
		highest = above > highest ? above : highest;
	}
	printf("jitter 0..30 ms: offset %.0f..%.0f us above the floor, worst spacing %.1f us\n",
	       lowest, highest, s.worst_spacing_us);
	CHECK(lowest >= -300);
	CHECK(highest <= 5 * MS);
	/* the slew counts the receiver's time: 1 ms/s of up to 80 ms between arrivals, plus the
	 * drift over 50 ms and rounding */
	CHECK(s.worst_spacing_us <= (50 + 30) * MS / 1000 + 4);
	CHECK_EQ_U64(s.rejected, 0);
}

/* One timestamp 0.9 s ahead (inside the budget), one 1.5 s ahead, one 20 s and one 5 s
 * behind: none moves the offset; those beyond the bounds are refused. */
static void test_outliers(void)
{
	struct stream s;
	int64_t t = 0;
	stream_init(&s, 0, 20 * MS, 30 * MS);
	for (; t < 60 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	int64_t before = braid__clock_offset(&s.clock);
	/* the odd ones' own releases are theirs to lose: not checked */
	CHECK_EQ(send_packet(&s, t, 0, 900 * MS, INT64_MAX), BRAID__CLOCK_OK);
	CHECK_EQ(send_packet(&s, t + 5 * MS, 0, 1500 * MS, INT64_MAX), BRAID__CLOCK_AHEAD);
	CHECK_EQ(send_packet(&s, t + 10 * MS, 0, -20 * SEC, INT64_MAX), BRAID__CLOCK_BEHIND);
	CHECK_EQ(send_packet(&s, t + 15 * MS, 0, -5 * SEC, INT64_MAX), BRAID__CLOCK_OK);
	s.has_last = false;
	int64_t furthest = 0;
	for (t += s.interval_us; t < 180 * SEC; t += s.interval_us) {
		send_packet(&s, t, 0, 0, 0);
		int64_t moved = braid__clock_offset(&s.clock) - before;
		furthest = llabs(moved) > furthest ? llabs(moved) : furthest;
	}
	CHECK(furthest <= 2);
	CHECK_EQ_U64(s.rejected, 2);
	CHECK_EQ_U64(s.clock.steps, 0);
	CHECK(s.worst_error_us <= 2);
}

/* A forged timestamp in the very first window can still pull the offset down (nothing
 * is known yet to judge it by); once the windows outvote it, the offset steps back. */
static void test_outlier_at_start(void)
{
	struct stream s;
	int64_t t = 0;
	stream_init(&s, 0, 20 * MS, 30 * MS);
	for (; t < 1 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	send_packet(&s, t, 0, 900 * MS, 0);
	for (t += s.interval_us; t < 60 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	CHECK_EQ_U64(s.clock.steps, 1);
	CHECK_NEAR(braid__clock_offset(&s.clock), (double)(RX_START + 30 * MS) -
		   (double)((UINT64_C(1) << 32) + TX_START), 2);
}

/* The path gets 50 ms slower for 6 s (a failover to a slower link and back): the offset
 * stays. Then for good: the offset follows at the slew rate, nothing arrives after its
 * release meanwhile, and it settles on the new floor; the same when it gets 70 ms faster. */
static void test_path_steps(void)
{
	struct stream s;
	int64_t t = 0, furthest = 0, before, hold_least = INT64_MAX;
	stream_init(&s, 0, 20 * MS, 40 * MS);
	for (; t < 300 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	before = braid__clock_offset(&s.clock);
	for (; t < 400 * SEC; t += s.interval_us) {
		send_packet(&s, t, t < 306 * SEC ? 50 * MS : 0, 0, 0);
		int64_t moved = braid__clock_offset(&s.clock) - before;
		furthest = llabs(moved) > furthest ? llabs(moved) : furthest;
	}
	CHECK(furthest <= 500);

	s.delay_us = 90 * MS;
	s.worst_spacing_us = 0;
	for (; t < 600 * SEC; t += s.interval_us) {
		send_packet(&s, t, 0, 0, 0);
		int64_t hold = (int64_t)(s.last_release - (s.last_sent + (double)s.delay_us));
		hold_least = hold < hold_least ? hold : hold_least;
	}
	CHECK(hold_least >= BUDGET_US - 50 * MS - 1);
	CHECK(s.worst_spacing_us <= 21); /* 1 ms/s of 20 ms, and rounding */
	s.worst_error_us = 0;
	for (int64_t end = t + 10 * SEC; t < end; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	CHECK(s.worst_error_us <= 1000);

	s.delay_us = 20 * MS;
	s.worst_spacing_us = 0;
	for (; t < 900 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	CHECK(s.worst_spacing_us <= 21);
	s.worst_error_us = 0;
	for (int64_t end = t + 10 * SEC; t < end; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	CHECK(s.worst_error_us <= 1000);
	CHECK_EQ_U64(s.clock.steps, 0);
}

/* The sender's clock jumps 30 s back (its machine slept): every timestamp is then too far
 * behind; after a window of nothing else the tracker starts over and believes them. */
static void test_clock_jump(void)
{
	struct stream s;
	int64_t t = 0;
	stream_init(&s, 0, 20 * MS, 30 * MS);
	for (; t < 60 * SEC; t += s.interval_us)
		send_packet(&s, t, 0, 0, 0);
	uint64_t refused = 0;
	for (; t < 70 * SEC; t += s.interval_us)
		refused += send_packet(&s, t, 0, -30 * SEC, 0) != BRAID__CLOCK_OK;
	CHECK_EQ_U64(s.clock.restarts, 1);
	CHECK(refused >= 8 && refused <= 2 * BRAID__CLOCK_WINDOW_US / (20 * MS) + 1);
	CHECK_EQ(send_packet(&s, t, 0, -30 * SEC, 0), BRAID__CLOCK_OK);
	CHECK_NEAR(braid__clock_offset(&s.clock), (double)(RX_START + 30 * MS + 30 * SEC) -
		   (double)((UINT64_C(1) << 32) + TX_START), 2);
}

int main(void)
{
	RUN_TEST(test_drift_fast_sender);
	RUN_TEST(test_drift_slow_sender);
	RUN_TEST(test_drift_steep);
	RUN_TEST(test_jitter);
	RUN_TEST(test_outliers);
	RUN_TEST(test_outlier_at_start);
	RUN_TEST(test_path_steps);
	RUN_TEST(test_clock_jump);
	return braid_test_finish();
}
