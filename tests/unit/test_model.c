/* Link models: loss processes, rate servers, queue limits, delay, outages and determinism.
 * Statistical checks use fixed seeds and enough samples that the tolerance is several
 * standard errors wide. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"
#include "harness.h"

#define MTU 1500u

static struct braid_model_settings base_settings(void)
{
	struct braid_model_settings s;

	braid_model_settings_default(&s);
	s.seed = 42;
	return s;
}

/* Offers `count` datagrams at now_us and returns how many were delivered. */
static unsigned offer_burst(struct braid_model *m, uint64_t now_us, size_t bytes,
			    unsigned count)
{
	unsigned delivered = 0, i;

	for (i = 0; i < count; i++)
		delivered += braid_model_offer(m, now_us, bytes).kind == BRAID_FATE_DELIVER;
	return delivered;
}

static void expect_rejected(const struct braid_model_settings *s)
{
	struct braid_model *m = braid_model_new(s, 0);

	CHECK(m == NULL);
	braid_model_free(m);
}

static void test_invalid_settings(void)
{
	static const uint32_t decreasing[] = { 5, 3, 10 };
	static const uint32_t all_zero[] = { 0, 0 };
	static const uint32_t good_trace[] = { 0, 5 };
	struct braid_model_settings s = base_settings(), bad;
	struct braid_model *m;

	m = braid_model_new(&s, 0);
	CHECK(m != NULL);
	braid_model_free(m);
	CHECK(braid_model_new(NULL, 0) == NULL);

	bad = s;
	bad.rate_kind = BRAID_RATE_CONSTANT;
	bad.rate_bps = 0;
	expect_rejected(&bad);
	bad.rate_bps = -1e6;
	expect_rejected(&bad);
	bad.rate_bps = NAN;
	expect_rejected(&bad);
	bad.rate_bps = INFINITY;
	expect_rejected(&bad);
	bad.rate_bps = 0.5; /* under a bit per second */
	expect_rejected(&bad);

	bad = s;
	bad.rate_kind = BRAID_RATE_OU;
	bad.ou.mean_bps = 1e6;
	bad.ou.sigma_bps = 1e5;
	bad.ou.theta = 0;
	expect_rejected(&bad);
	bad.ou.theta = -1;
	expect_rejected(&bad);
	bad.ou.theta = 1;
	bad.ou.mean_bps = 0;
	expect_rejected(&bad);
	bad.ou.mean_bps = 0.5;
	expect_rejected(&bad);
	bad.ou.mean_bps = 1e6;
	bad.ou.sigma_bps = -1;
	expect_rejected(&bad);
	bad.ou.sigma_bps = 1e5;
	bad.ou.floor_bps = 2e6;
	bad.ou.ceiling_bps = 1e6;
	expect_rejected(&bad);
	bad.ou.floor_bps = 0;
	m = braid_model_new(&bad, 0); /* the same OU, now sane, is accepted */
	CHECK(m != NULL);
	braid_model_free(m);

	bad = s;
	bad.rate_kind = BRAID_RATE_TRACE;
	expect_rejected(&bad); /* no trace */
	bad.trace_ms = decreasing;
	bad.trace_len = 0;
	expect_rejected(&bad);
	bad.trace_len = 3;
	expect_rejected(&bad);
	bad.trace_ms = all_zero; /* period 0 */
	bad.trace_len = 2;
	expect_rejected(&bad);
	bad.trace_ms = good_trace;
	m = braid_model_new(&bad, 0);
	CHECK(m != NULL);
	braid_model_free(m);

	bad = s;
	bad.loss_kind = BRAID_LOSS_RANDOM;
	bad.loss = 1.5;
	expect_rejected(&bad);
	bad.loss = -0.1;
	expect_rejected(&bad);
	bad.loss = NAN;
	expect_rejected(&bad);

	bad = s;
	bad.loss_kind = BRAID_LOSS_GE;
	bad.ge.p = 2;
	expect_rejected(&bad);
	bad.ge.p = 0.1;
	bad.ge.r = -1;
	expect_rejected(&bad);
	bad.ge.r = 0.1;
	bad.ge.loss_bad = NAN;
	expect_rejected(&bad);
	bad.ge.loss_bad = 1;
	bad.ge.loss_good = 1.01;
	expect_rejected(&bad);

	bad = s;
	bad.duplicate = 1.1;
	expect_rejected(&bad);
	bad = s;
	bad.outage_count = BRAID_MODEL_MAX_OUTAGES + 1;
	expect_rejected(&bad);
	bad = s;
	bad.jitter_us = UINT64_C(1) << 50;
	expect_rejected(&bad);
	bad = s;
	bad.delay_us = UINT64_MAX;
	expect_rejected(&bad);
	bad = s;
	bad.rate_kind = (enum braid_rate_kind)99;
	expect_rejected(&bad);
	bad = s;
	bad.loss_kind = (enum braid_loss_kind)99;
	expect_rejected(&bad);
}

static double loss_fraction(struct braid_model *m, unsigned count)
{
	unsigned lost = 0, i;

	for (i = 0; i < count; i++)
		lost += braid_model_offer(m, i, 100).kind == BRAID_FATE_DROP_LOSS;
	return (double)lost / count;
}

static void test_random_loss(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	double fraction;

	s.loss_kind = BRAID_LOSS_RANDOM;
	s.loss = 0.05;
	m = braid_model_new(&s, 0);
	fraction = loss_fraction(m, 1000000);
	CHECK_NEAR(fraction, 0.05, 0.05 * 0.02);
	braid_model_get_stats(m, 1000000, &stats);
	CHECK_EQ_U64(stats.offered, 1000000);
	CHECK_EQ_U64(stats.dropped_loss + stats.delivered, 1000000);
	CHECK_NEAR((double)stats.dropped_loss / 1e6, fraction, 1e-12);
	CHECK_EQ_U64(stats.offered_bytes, 100000000);
	CHECK_EQ_U64(stats.delivered_bytes, stats.delivered * 100);
	braid_model_free(m);

	s.loss = 0;
	m = braid_model_new(&s, 0);
	CHECK_EQ(loss_fraction(m, 10000) == 0, 1);
	braid_model_free(m);
	s.loss = 1;
	m = braid_model_new(&s, 0);
	CHECK_EQ(loss_fraction(m, 10000) == 1, 1);
	braid_model_free(m);
}

static void test_ge_long_run(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model *m;
	double p = 0.01, r = 0.1, expected;

	s.loss_kind = BRAID_LOSS_GE;
	s.ge.p = p;
	s.ge.r = r;
	s.ge.loss_bad = 0.7;
	s.ge.loss_good = 0.02;
	expected = p / (p + r) * 0.7 + r / (p + r) * 0.02;
	m = braid_model_new(&s, 0);
	CHECK_NEAR(loss_fraction(m, 2000000), expected, expected * 0.05);
	braid_model_free(m);
}

static void test_ge_bursts(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model *m;
	unsigned i, lost = 0, bursts = 0, count = 2000000;
	bool previous_lost = false;

	s.loss_kind = BRAID_LOSS_GE;
	s.ge.p = 0.01;
	s.ge.r = 0.1;
	s.ge.loss_bad = 1;
	s.ge.loss_good = 0;
	m = braid_model_new(&s, 0);
	for (i = 0; i < count; i++) {
		bool now_lost = braid_model_offer(m, i, 100).kind == BRAID_FATE_DROP_LOSS;

		lost += now_lost;
		bursts += now_lost && !previous_lost;
		previous_lost = now_lost;
	}
	CHECK(bursts > 1000);
	CHECK_NEAR((double)lost / count, 0.01 / 0.11, 0.01 / 0.11 * 0.05);
	CHECK_NEAR((double)lost / bursts, 1 / 0.1, 10 * 0.05);
	braid_model_free(m);
}

static void test_ou_moments(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	double theta = 2, sigma = 2e6, mean = 10e6, dt = 0.1;
	double sum = 0, sum_sq = 0, sum_lag = 0, previous = 0;
	double sample_mean, variance, lag_corr;
	unsigned i, count = 1000000;

	s.rate_kind = BRAID_RATE_OU;
	s.ou.mean_bps = mean;
	s.ou.sigma_bps = sigma; /* stationary sd 1 Mbit/s: the floor (0) is 10 sd away */
	s.ou.theta = theta;
	s.ou.update_us = 100000;
	m = braid_model_new(&s, 0);
	for (i = 0; i < count; i++) {
		uint64_t now = (uint64_t)i * 100000;
		double rate;

		braid_model_offer(m, now, 1);
		braid_model_get_stats(m, now, &stats);
		rate = stats.rate_bps - mean;
		sum += rate;
		sum_sq += rate * rate;
		if (i > 0)
			sum_lag += rate * previous;
		previous = rate;
	}
	sample_mean = mean + sum / count;
	variance = sum_sq / count - (sum / count) * (sum / count);
	lag_corr = (sum_lag / (count - 1)) / (sum_sq / count);
	CHECK_NEAR(sample_mean, mean, mean * 0.05);
	CHECK_NEAR(variance, sigma * sigma / (2 * theta), sigma * sigma / (2 * theta) * 0.05);
	CHECK_NEAR(lag_corr, exp(-theta * dt), 0.01);
	braid_model_free(m);
}

/* Saturated OU server: the bits it sends over a window equal the integral of the rates it
 * reported for the intervals in that window, to within a datagram at each end. */
static void test_ou_service(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	uint64_t interval_us = 100000, window_start = 10000000, window_end = 50000000;
	uint64_t now, next_sample = window_start;
	double capacity_bits = 0, sent_bits = 0;

	s.rate_kind = BRAID_RATE_OU;
	s.ou.mean_bps = 8e6;
	s.ou.sigma_bps = 2e6 * sqrt(2.0);
	s.ou.theta = 1;
	s.ou.update_us = interval_us;
	s.ou.floor_bps = 1e6;
	s.ou.ceiling_bps = 14e6; /* below the offered 16 Mbit/s: the server never idles */
	s.queue_us = 200000;
	m = braid_model_new(&s, 0);
	for (now = 0; now < 60000000; now += 750) {
		struct braid_fate fate = braid_model_offer(m, now, MTU);

		if (now >= next_sample && next_sample < window_end) {
			braid_model_get_stats(m, next_sample, &stats);
			capacity_bits += stats.rate_bps * (double)interval_us / 1e6;
			next_sample += interval_us;
		}
		if (fate.kind == BRAID_FATE_DELIVER && fate.deliver_at_us > window_start &&
		    fate.deliver_at_us <= window_end)
			sent_bits += MTU * 8;
	}
	CHECK(capacity_bits > 40 * 1e6);
	CHECK_NEAR(sent_bits, capacity_bits, 2.0 * MTU * 8);
	braid_model_free(m);
}

/* (ms * 37) mod 5 opportunities in each millisecond of a one-second period. */
static size_t make_trace(uint32_t *out, size_t room)
{
	size_t len = 0;
	uint32_t ms, k, per_ms;

	for (ms = 1; ms <= 1000; ms++) {
		per_ms = (ms * 37) % 5;
		if (ms == 1000 && per_ms == 0)
			per_ms = 1; /* the last entry sets the period */
		for (k = 0; k < per_ms && len < room; k++)
			out[len++] = ms;
	}
	return len;
}

static double trace_throughput(const uint32_t *trace, size_t len, size_t bytes,
			       uint64_t gap_us)
{
	struct braid_model_settings s = base_settings();
	struct braid_model *m;
	uint64_t now, window_start = 5000000, window_end = 25000000;
	double sent_bits = 0;

	s.rate_kind = BRAID_RATE_TRACE;
	s.trace_ms = trace;
	s.trace_len = len;
	s.queue_bytes = 300000;
	m = braid_model_new(&s, 0);
	for (now = 0; now < 30000000; now += gap_us) {
		struct braid_fate fate = braid_model_offer(m, now, bytes);

		if (fate.kind == BRAID_FATE_DELIVER && fate.deliver_at_us >= window_start &&
		    fate.deliver_at_us < window_end)
			sent_bits += (double)bytes * 8;
	}
	braid_model_free(m);
	return sent_bits / ((double)(window_end - window_start) / 1e6);
}

static void test_trace_throughput(void)
{
	static uint32_t trace[5000];
	size_t len = make_trace(trace, 5000);
	double file_mean = (double)len * MTU * 8 / 1.0; /* period: 1 s */

	CHECK_EQ(trace[len - 1], 1000);
	/* Offered at about 1.3 times the mean, in full-size and in small datagrams. */
	CHECK_NEAR(trace_throughput(trace, len, MTU, 384), file_mean, file_mean * 0.01);
	CHECK_NEAR(trace_throughput(trace, len, 500, 128), file_mean, file_mean * 0.01);
}

static uint64_t deliver_at(struct braid_model *m, uint64_t now_us, size_t bytes)
{
	struct braid_fate fate = braid_model_offer(m, now_us, bytes);

	return fate.kind == BRAID_FATE_DELIVER ? fate.deliver_at_us : UINT64_MAX;
}

static void test_trace_semantics(void)
{
	static const uint32_t sparse[] = { 5, 10 };
	static const uint32_t crowded[] = { 1, 1, 1, 2 };
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	uint64_t t0 = 1000000;

	s.rate_kind = BRAID_RATE_TRACE;
	s.trace_ms = sparse;
	s.trace_len = 2;
	m = braid_model_new(&s, t0);
	CHECK_EQ_U64(deliver_at(m, t0 - 500, MTU), t0 + 5000); /* before start: first entry */
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 10000);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 15000); /* second loop */
	CHECK_EQ_U64(deliver_at(m, t0 + 32000, MTU), t0 + 35000); /* idle ones skipped */
	CHECK_EQ_U64(deliver_at(m, t0 + 36000, 500), t0 + 40000);
	CHECK_EQ_U64(deliver_at(m, t0 + 36000, 500), t0 + 40000); /* shares the opportunity */
	CHECK_EQ_U64(deliver_at(m, t0 + 36000, 500), t0 + 40000);
	CHECK_EQ_U64(deliver_at(m, t0 + 36000, 500), t0 + 45000);
	CHECK_EQ_U64(deliver_at(m, t0 + 45000, 500), t0 + 45000); /* room left, arrives in time */
	CHECK_EQ_U64(deliver_at(m, t0 + 46000, 1000), t0 + 50000); /* leftover room is gone */
	CHECK_EQ_U64(deliver_at(m, t0 + 51000, 3000), t0 + 60000); /* needs two */
	CHECK_EQ_U64(deliver_at(m, t0 + 65000, MTU), t0 + 65000); /* opportunity at arrival */
	CHECK_EQ_U64(deliver_at(m, t0 + 10003000, MTU), t0 + 10005000); /* far loop */
	CHECK_EQ_U64(deliver_at(m, t0 + 10020000, MTU), t0 + 10020000); /* loop boundary */
	braid_model_get_stats(m, t0 + 20000000, &stats);
	CHECK_NEAR(stats.rate_bps, 2 * MTU * 8 / 0.01, 1);
	braid_model_free(m);

	s.trace_ms = crowded;
	s.trace_len = 4;
	m = braid_model_new(&s, 0);
	CHECK_EQ_U64(deliver_at(m, 0, MTU), 1000);
	CHECK_EQ_U64(deliver_at(m, 0, MTU), 1000);
	CHECK_EQ_U64(deliver_at(m, 0, MTU), 1000);
	CHECK_EQ_U64(deliver_at(m, 0, MTU), 2000);
	CHECK_EQ_U64(deliver_at(m, 0, MTU), 3000);
	braid_model_get_stats(m, 0, &stats);
	CHECK_EQ_U64(stats.queue_delay_us, 3000);
	braid_model_free(m);
}

/* An offset starts the replay that far into the trace (modulo its period): the first
 * opportunity is the trace's first entry at or after the offset, and the loops follow. */
static void test_trace_offset(void)
{
	static const uint32_t sparse[] = { 5, 10 };
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	uint64_t t0 = 1000000;

	s.rate_kind = BRAID_RATE_TRACE;
	s.trace_ms = sparse;
	s.trace_len = 2;
	s.trace_offset_us = 7000; /* entries at 3, 8, 13, 18... ms after start */
	m = braid_model_new(&s, t0);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 3000);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 8000);
	CHECK_EQ_U64(deliver_at(m, t0 + 9000, MTU), t0 + 13000);
	CHECK_EQ_U64(deliver_at(m, t0 + 10004000, MTU), t0 + 10008000); /* far loop */
	/* Before t0 + 20 ms: four opportunities (3, 8, 13, 18), where the trace from its
	 * origin has three (5, 10, 15). */
	braid_model_get_stats(m, t0 + 20000, &stats);
	CHECK_NEAR(stats.rate_bps, 4 * MTU * 8 / 0.02, 1);
	braid_model_free(m);

	s.trace_offset_us = 5000; /* an entry exactly at the offset is the first */
	m = braid_model_new(&s, t0);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0);
	braid_model_free(m);

	s.trace_offset_us = 32000; /* 2 ms into the trace's fourth loop */
	m = braid_model_new(&s, t0);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 3000);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 8000);
	braid_model_free(m);

	s.trace_offset_us = 10000; /* a whole period: the trace from its origin */
	m = braid_model_new(&s, t0);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 5000);
	CHECK_EQ_U64(deliver_at(m, t0, MTU), t0 + 10000);
	braid_model_free(m);
}

static void test_constant_rate(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	uint64_t k, t0 = 5000, previous = 0;
	unsigned mismatches = 0;

	s.rate_kind = BRAID_RATE_CONSTANT;
	s.rate_bps = 12e6; /* 1500 bytes in exactly 1 ms */
	m = braid_model_new(&s, 0);
	for (k = 0; k < 1000; k++)
		mismatches += deliver_at(m, t0, MTU) != t0 + (k + 1) * 1000;
	CHECK_EQ(mismatches, 0);
	braid_model_get_stats(m, t0, &stats);
	CHECK_EQ_U64(stats.queue_delay_us, 1000000);
	CHECK_NEAR(stats.rate_bps, 12e6, 0);
	braid_model_get_stats(m, t0 + 400000, &stats);
	CHECK_EQ_U64(stats.queue_delay_us, 600000);
	/* Idle again: service starts on arrival. */
	CHECK_EQ_U64(deliver_at(m, 5000000, MTU), 5001000);
	braid_model_free(m);

	/* 8000/7 us per datagram: departures fall on exact fractions, rounded up. */
	s.rate_bps = 7e6;
	m = braid_model_new(&s, 0);
	mismatches = 0;
	for (k = 1; k <= 100000; k++)
		mismatches += deliver_at(m, t0, 1000) != t0 + (k * 8000 + 6) / 7;
	CHECK_EQ(mismatches, 0);
	braid_model_free(m);

	/* Paced at twice the rate: deliveries exactly 1 ms apart. */
	s.rate_bps = 12e6;
	m = braid_model_new(&s, 0);
	mismatches = 0;
	for (k = 0; k < 100000; k++) {
		uint64_t at = deliver_at(m, k * 500, MTU);

		mismatches += k > 0 && at != previous + 1000;
		previous = at;
	}
	CHECK_EQ(mismatches, 0);
	CHECK_EQ_U64(previous, 100000 * 1000);
	braid_model_free(m);
}

static void test_delay_jitter(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model *m;
	uint64_t i, lowest = UINT64_MAX, highest = 0, previous = 0, at_arrival = 0;
	unsigned inversions = 0, count = 200000;
	double sum = 0;

	s.delay_us = 20000;
	s.jitter_us = 5000;
	s.reorder = true;
	m = braid_model_new(&s, 0);
	for (i = 0; i < count; i++) {
		uint64_t at = deliver_at(m, i * 100, 100), spent = at - i * 100;

		lowest = spent < lowest ? spent : lowest;
		highest = spent > highest ? spent : highest;
		sum += (double)spent;
		inversions += at < previous;
		previous = at;
	}
	CHECK_EQ_U64(lowest, 15000);
	CHECK_EQ_U64(highest, 25000);
	CHECK_NEAR(sum / count, 20000, 50);
	CHECK(inversions > 1000);
	braid_model_free(m);

	s.reorder = false;
	m = braid_model_new(&s, 0);
	inversions = 0;
	lowest = UINT64_MAX;
	previous = 0;
	for (i = 0; i < count; i++) {
		uint64_t at = deliver_at(m, i * 100, 100);

		lowest = at - i * 100 < lowest ? at - i * 100 : lowest;
		inversions += at < previous;
		previous = at;
	}
	CHECK_EQ(inversions, 0);
	CHECK(lowest >= 15000); /* held back behind earlier ones, never sped up */
	braid_model_free(m);

	/* Jitter larger than the delay: never before arrival, often right at it. */
	s.reorder = true;
	s.delay_us = 1000;
	m = braid_model_new(&s, 0);
	inversions = 0; /* here: deliveries before arrival */
	for (i = 0; i < count; i++) {
		uint64_t at = deliver_at(m, 1000000 + i, 100);

		inversions += at < 1000000 + i;
		at_arrival += at == 1000000 + i;
	}
	CHECK_EQ(inversions, 0);
	CHECK_NEAR((double)at_arrival / count, 4001.0 / 10001.0, 0.01);
	braid_model_free(m);

	s.jitter_us = 0;
	m = braid_model_new(&s, 0);
	CHECK_EQ_U64(deliver_at(m, 777, 100), 1777);
	braid_model_free(m);
}

static void test_queue_bytes(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;

	s.rate_kind = BRAID_RATE_CONSTANT;
	s.rate_bps = 12e6;
	s.queue_bytes = 10 * MTU;
	m = braid_model_new(&s, 0);
	CHECK_EQ(offer_burst(m, 0, MTU, 10), 10);
	CHECK_EQ(braid_model_offer(m, 0, MTU).kind, BRAID_FATE_DROP_QUEUE);
	CHECK_EQ(braid_model_offer(m, 0, 1).kind, BRAID_FATE_DROP_QUEUE);
	/* By 3 ms three have left: room for three more. */
	CHECK_EQ_U64(deliver_at(m, 3000, MTU), 11000);
	CHECK_EQ_U64(deliver_at(m, 3000, MTU), 12000);
	CHECK_EQ_U64(deliver_at(m, 3000, MTU), 13000);
	CHECK_EQ(braid_model_offer(m, 3000, MTU).kind, BRAID_FATE_DROP_QUEUE);
	braid_model_get_stats(m, 3000, &stats);
	CHECK_EQ_U64(stats.dropped_queue, 3);
	CHECK_EQ_U64(stats.delivered, 13);
	/* Empty queue: exactly the limit fits, one byte more does not. */
	CHECK_EQ(braid_model_offer(m, 1000000, 10 * MTU + 1).kind, BRAID_FATE_DROP_QUEUE);
	CHECK_EQ(braid_model_offer(m, 1000000, 10 * MTU).kind, BRAID_FATE_DELIVER);
	braid_model_free(m);

	/* Unlimited rate: nothing ever waits, only an oversized datagram is refused. */
	s.rate_kind = BRAID_RATE_UNLIMITED;
	m = braid_model_new(&s, 0);
	CHECK_EQ(offer_burst(m, 0, MTU, 1000), 1000);
	CHECK_EQ(braid_model_offer(m, 0, 10 * MTU + 1).kind, BRAID_FATE_DROP_QUEUE);
	braid_model_free(m);

	/* No queue limit at all: still no datagram beyond the model's maximum. */
	s.queue_bytes = 0;
	m = braid_model_new(&s, 0);
	CHECK_EQ(braid_model_offer(m, 0, BRAID_MODEL_MAX_DATAGRAM).kind, BRAID_FATE_DELIVER);
	CHECK_EQ(braid_model_offer(m, 0, BRAID_MODEL_MAX_DATAGRAM + 1).kind,
		 BRAID_FATE_DROP_QUEUE);
	braid_model_free(m);
}

static void test_queue_time(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;

	s.rate_kind = BRAID_RATE_CONSTANT;
	s.rate_bps = 12e6;
	s.queue_us = 5000;
	m = braid_model_new(&s, 0);
	/* Waits of 0, 1, ... 5 ms are allowed; 6 ms is over. */
	CHECK_EQ(offer_burst(m, 0, MTU, 6), 6);
	CHECK_EQ(braid_model_offer(m, 0, MTU).kind, BRAID_FATE_DROP_QUEUE);
	braid_model_get_stats(m, 0, &stats);
	CHECK_EQ_U64(stats.queue_delay_us, 6000);
	CHECK_EQ_U64(deliver_at(m, 1000, MTU), 7000); /* wait 5 ms again */
	CHECK_EQ(braid_model_offer(m, 1000, MTU).kind, BRAID_FATE_DROP_QUEUE);
	braid_model_get_stats(m, 1000, &stats);
	CHECK_EQ_U64(stats.dropped_queue, 2);
	braid_model_free(m);

	/* Slower rate, same limit: the limit follows the rate (2 ms per datagram). */
	s.rate_bps = 6e6;
	m = braid_model_new(&s, 0);
	CHECK_EQ(offer_burst(m, 0, MTU, 10), 3);
	braid_model_free(m);
}

static void test_outages(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	uint64_t t0 = 7000000;

	s.outages[0].start_us = 1000000;
	s.outages[0].duration_us = 500000;
	s.outages[1].start_us = 3000000;
	s.outages[1].duration_us = 1;
	s.outage_count = 2;
	s.loss_kind = BRAID_LOSS_RANDOM;
	s.loss = 0; /* raised below to show the outage is decided first */
	m = braid_model_new(&s, t0);
	CHECK_EQ(braid_model_offer(m, t0 - 1, 100).kind, BRAID_FATE_DELIVER);
	CHECK_EQ(braid_model_offer(m, t0 + 999999, 100).kind, BRAID_FATE_DELIVER);
	CHECK_EQ(braid_model_offer(m, t0 + 1000000, 100).kind, BRAID_FATE_DROP_OUTAGE);
	CHECK_EQ(braid_model_offer(m, t0 + 1499999, 100).kind, BRAID_FATE_DROP_OUTAGE);
	CHECK_EQ(braid_model_offer(m, t0 + 1500000, 100).kind, BRAID_FATE_DELIVER);
	CHECK_EQ(braid_model_offer(m, t0 + 2999999, 100).kind, BRAID_FATE_DELIVER);
	CHECK_EQ(braid_model_offer(m, t0 + 3000000, 100).kind, BRAID_FATE_DROP_OUTAGE);
	CHECK_EQ(braid_model_offer(m, t0 + 3000001, 100).kind, BRAID_FATE_DELIVER);

	CHECK(!braid_model_blackhole(m));
	braid_model_set_blackhole(m, true);
	CHECK(braid_model_blackhole(m));
	CHECK_EQ(offer_burst(m, t0 + 4000000, 100, 50), 0);
	braid_model_set_blackhole(m, false);
	CHECK(!braid_model_blackhole(m));
	CHECK_EQ(offer_burst(m, t0 + 4000001, 100, 50), 50);
	braid_model_get_stats(m, t0 + 4000001, &stats);
	CHECK_EQ_U64(stats.dropped_outage, 53);
	CHECK_EQ_U64(stats.delivered, 55);
	braid_model_free(m);

	s.loss = 1;
	m = braid_model_new(&s, t0);
	CHECK_EQ(braid_model_offer(m, t0 + 1200000, 100).kind, BRAID_FATE_DROP_OUTAGE);
	CHECK_EQ(braid_model_offer(m, t0 + 1600000, 100).kind, BRAID_FATE_DROP_LOSS);
	braid_model_free(m);
}

static void test_duplicate(void)
{
	struct braid_model_settings s = base_settings();
	struct braid_model_stats stats;
	struct braid_model *m;
	unsigned i, copies = 0, wrong_gap = 0, out_of_order = 0, count = 1000000;
	uint64_t last_exit = 0;

	s.duplicate = 0.3;
	s.delay_us = 1000;
	s.jitter_us = 500;
	m = braid_model_new(&s, 0);
	for (i = 0; i < count; i++) {
		struct braid_fate fate = braid_model_offer(m, (uint64_t)i * 10, 100);

		out_of_order += fate.deliver_at_us < last_exit;
		last_exit = fate.deliver_at_us;
		if (fate.duplicate_at_us != 0) {
			copies++;
			wrong_gap += fate.duplicate_at_us != fate.deliver_at_us + 1;
			last_exit = fate.duplicate_at_us;
		}
	}
	CHECK_NEAR((double)copies / count, 0.3, 0.003);
	CHECK_EQ(wrong_gap, 0);
	CHECK_EQ(out_of_order, 0); /* copies included: the link stays FIFO without reorder */
	braid_model_get_stats(m, (uint64_t)count * 10, &stats);
	CHECK_EQ_U64(stats.duplicated, copies);
	CHECK_EQ_U64(stats.delivered, count);
	braid_model_free(m);

	s.duplicate = 1;
	m = braid_model_new(&s, 0);
	CHECK(braid_model_offer(m, 0, 100).duplicate_at_us != 0);
	braid_model_free(m);
	s.duplicate = 0;
	m = braid_model_new(&s, 0);
	copies = 0;
	for (i = 0; i < 10000; i++)
		copies += braid_model_offer(m, i, 100).duplicate_at_us != 0;
	CHECK_EQ(copies, 0);
	braid_model_free(m);
}

static struct braid_model_settings busy_settings(uint64_t seed)
{
	struct braid_model_settings s = base_settings();

	s.seed = seed;
	s.rate_kind = BRAID_RATE_OU;
	s.ou.mean_bps = 5e6;
	s.ou.sigma_bps = 3e6;
	s.ou.theta = 0.5;
	s.ou.floor_bps = 5e5;
	s.delay_us = 30000;
	s.jitter_us = 8000;
	s.reorder = true;
	s.loss_kind = BRAID_LOSS_GE;
	s.ge.p = 0.02;
	s.ge.r = 0.3;
	s.ge.loss_bad = 0.6;
	s.ge.loss_good = 0.01;
	s.queue_bytes = 60000;
	s.queue_us = 80000;
	s.duplicate = 0.05;
	return s;
}

/* Counts offers whose fates differ between two models fed the same offers. */
static unsigned fate_differences(struct braid_model *a, struct braid_model *b,
				 unsigned count, bool loss_only)
{
	unsigned i, differences = 0;

	for (i = 0; i < count; i++) {
		uint64_t now = (uint64_t)i * 1000 + (i * 7919u) % 900;
		size_t bytes = 200 + (i * 104729u) % 1300;
		struct braid_fate fa = braid_model_offer(a, now, bytes);
		struct braid_fate fb = braid_model_offer(b, now, bytes);

		if (loss_only)
			differences += (fa.kind == BRAID_FATE_DROP_LOSS) !=
				       (fb.kind == BRAID_FATE_DROP_LOSS);
		else
			differences += fa.kind != fb.kind || fa.deliver_at_us != fb.deliver_at_us ||
				       fa.duplicate_at_us != fb.duplicate_at_us;
	}
	return differences;
}

static void test_determinism(void)
{
	struct braid_model_settings s = busy_settings(7), t;
	struct braid_model *a = braid_model_new(&s, 100), *b = braid_model_new(&s, 100);
	struct braid_model_stats stats;

	CHECK_EQ(fate_differences(a, b, 200000, false), 0);
	braid_model_get_stats(a, 200000000, &stats);
	CHECK(stats.dropped_loss > 0 && stats.dropped_queue > 0 && stats.duplicated > 0);
	braid_model_free(a);
	braid_model_free(b);

	t = busy_settings(8);
	a = braid_model_new(&s, 100);
	b = braid_model_new(&t, 100);
	CHECK(fate_differences(a, b, 20000, false) > 1000);
	braid_model_free(a);
	braid_model_free(b);

	/* Other parameters changed, same seed: the same datagrams are lost. */
	t = s;
	t.rate_kind = BRAID_RATE_CONSTANT;
	t.rate_bps = 1e9;
	t.delay_us = 1000;
	t.jitter_us = 0;
	t.reorder = false;
	t.duplicate = 0.5;
	t.queue_bytes = 0;
	t.queue_us = 0;
	a = braid_model_new(&s, 100);
	b = braid_model_new(&t, 100);
	CHECK_EQ(fate_differences(a, b, 200000, true), 0);
	braid_model_free(a);
	braid_model_free(b);
}

int main(void)
{
	RUN_TEST(test_invalid_settings);
	RUN_TEST(test_random_loss);
	RUN_TEST(test_ge_long_run);
	RUN_TEST(test_ge_bursts);
	RUN_TEST(test_ou_moments);
	RUN_TEST(test_ou_service);
	RUN_TEST(test_trace_throughput);
	RUN_TEST(test_trace_semantics);
	RUN_TEST(test_trace_offset);
	RUN_TEST(test_constant_rate);
	RUN_TEST(test_delay_jitter);
	RUN_TEST(test_queue_bytes);
	RUN_TEST(test_queue_time);
	RUN_TEST(test_outages);
	RUN_TEST(test_duplicate);
	RUN_TEST(test_determinism);
	return braid_test_finish();
}
