/* The clairvoyant bound: the earliest-deadline-first pass against a brute-force maximum
 * matching on small random problems, the search's bracket, and known answers on scenarios:
 * constant links, a scheduled outage the budget does or does not bridge, a blackhole event,
 * a hand-made trace file, and loss as lost opportunities. The expected figures come from the
 * links' rates and the stream's timing, worked out in the comments. */
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "braid/error.h"
#include "base/rng.h"
#include "sim/bound.h"

#define MBIT 1e6

/* ---- the pass against brute force ---- */

#define SMALL_PACKETS 8
#define SMALL_OPPORTUNITIES 10

/* A small problem with its packets' send times, as the simulator's source spaces them. */
struct small {
	struct braid_bound_problem p;
	uint64_t sent_at[SMALL_PACKETS];
	size_t packets;
};

static bool eligible(const struct small *s, size_t opportunity, size_t packet)
{
	const struct braid_bound_opportunity *o = &s->p.opportunities[opportunity];
	int64_t t = (int64_t)s->sent_at[packet];
	int64_t earliest = (int64_t)(o->at_us + o->delay_us) -
			   (int64_t)(s->p.fastest_delay_us + s->p.budget_us);

	return t <= (int64_t)o->at_us && t >= earliest;
}

/* Kuhn's augmenting paths: a maximum matching of opportunities to packets. */
static bool augment(const struct small *s, size_t opportunity, int *owner, bool *seen)
{
	for (size_t k = 0; k < s->packets; k++) {
		if (seen[k] || !eligible(s, opportunity, k))
			continue;
		seen[k] = true;
		if (owner[k] < 0 || augment(s, (size_t)owner[k], owner, seen)) {
			owner[k] = (int)opportunity;
			return true;
		}
	}
	return false;
}

static uint64_t brute_force(const struct small *s)
{
	int owner[SMALL_PACKETS];
	uint64_t matched = 0;

	for (size_t k = 0; k < SMALL_PACKETS; k++)
		owner[k] = -1;
	for (size_t i = 0; i < s->p.count; i++) {
		bool seen[SMALL_PACKETS] = { false };

		matched += augment(s, i, owner, seen);
	}
	return matched;
}

/* Packets of 1000 bytes at 800 Mbit/s: one every 10 us, eight over 80 us; opportunities
 * anywhere in the first 150 us on paths of four delays, a 60 us budget. */
static void random_small(struct small *s, struct braid_rng *rng)
{
	static const uint64_t delays[] = { 5, 25, 50, 90 };
	size_t n = 1 + (size_t)(braid_rng_uniform(rng) * SMALL_OPPORTUNITIES);

	braid_bound_problem_init(&s->p);
	s->p.budget_us = 60;
	s->p.duration_us = 80;
	s->p.packet_bytes = 1000;
	s->packets = SMALL_PACKETS;
	for (size_t k = 0; k < s->packets; k++)
		s->sent_at[k] = 10 * k;
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(braid_bound_add(&s->p, (uint64_t)(braid_rng_uniform(rng) * 150),
					 delays[(size_t)(braid_rng_uniform(rng) * 4)]), 0);
	braid_bound_sort(&s->p);
}

static void test_pass_is_optimal(void)
{
	struct braid_rng rng;
	unsigned mismatches = 0, partial = 0;

	braid_rng_seed(&rng, 42);
	for (int round = 0; round < 2000; round++) {
		struct small s;
		uint64_t sent = 0, delivered = 0;

		random_small(&s, &rng);
		CHECK_EQ(braid_bound_deliverable(&s.p, 800 * MBIT, &sent, &delivered), 0);
		if (sent != SMALL_PACKETS || delivered != brute_force(&s))
			mismatches++;
		partial += delivered > 0 && delivered < sent;
		braid_bound_problem_free(&s.p);
	}
	CHECK_EQ(mismatches, 0);
	CHECK(partial > 100); /* the problems were not all trivial */
}

/* A slow path (delay 90, budget 60, fastest 0) only takes packets sent in the last 30 us
 * before it: giving it the oldest packet overall would waste it. */
static void test_pass_by_hand(void)
{
	struct braid_bound_problem p;
	uint64_t sent = 0, delivered = 0;

	braid_bound_problem_init(&p);
	p.budget_us = 60;
	p.duration_us = 30; /* packets at 0, 10, 20 */
	p.packet_bytes = 1000;
	CHECK_EQ(braid_bound_add(&p, 25, 90), 0); /* [-5 .. 25]: 20 (0 and 10 are too old) */
	CHECK_EQ(braid_bound_add(&p, 20, 0), 0);  /* [-40 .. 20]: 0 */
	CHECK_EQ(braid_bound_add(&p, 70, 0), 0);  /* [10 .. 70]: 10 */
	CHECK_EQ(braid_bound_add(&p, 80, 0), 0);  /* [20 .. 80]: nothing left */
	braid_bound_sort(&p);
	CHECK_EQ_U64(p.fastest_delay_us, 0);
	CHECK_EQ_U64(p.opportunities[0].at_us, 20);
	CHECK_EQ(braid_bound_deliverable(&p, 800 * MBIT, &sent, &delivered), 0);
	CHECK_EQ_U64(sent, 3);
	CHECK_EQ_U64(delivered, 3);
	CHECK(braid_bound_deliverable(&p, 0, &sent, &delivered) == BRAID_ERR_INVAL);
	CHECK(braid_bound_deliverable(&p, 1e30, &sent, &delivered) == BRAID_ERR_FULL);
	braid_bound_problem_free(&p);
}

/* ---- scenarios ---- */

static bool bound_of(const char *text, struct braid_sim_bound *b)
{
	struct braid_sim_scenario sc;
	char err[512];
	int rc;

	braid_sim_scenario_init(&sc);
	rc = braid_sim_scenario_parse(&sc, text, "test", NULL, err, sizeof(err));
	if (rc == 0)
		rc = braid_sim_bound(&sc, b, err, sizeof(err));
	if (rc)
		fprintf(stderr, "bound: %s\n", err);
	CHECK_EQ(rc, 0);
	braid_sim_scenario_free(&sc);
	return rc == 0;
}

/* Stream time T, budget B: a link of rate C whose delay is delta above the fastest can carry
 * packets until T + B - delta, so a stream of C (T + B - delta) / T is the most it takes over
 * the run. With a budget short against the run, that is the sum of the rates. */
static double constant_bound(double rate, double run_s, double budget_s, double extra_s)
{
	return rate * (run_s + budget_s - extra_s) / run_s;
}

static void test_constant_links(void)
{
	struct braid_sim_bound b;
	double expected;

	if (!bound_of("link a rate=4mbit,delay=20ms,jitter=5ms,queue=100ms\n"
		      "link b rate=6mbit,delay=50ms\n"
		      "stream packet=1000 duration=20s\n"
		      "sender latency=1000ms\n", &b))
		return;
	expected = constant_bound(4 * MBIT, 20, 1, 0) + constant_bound(6 * MBIT, 20, 1, 0.03);
	CHECK(!b.unlimited);
	CHECK_NEAR(b.rate_bps, expected, expected * 0.002);
	/* 500 and 750 packets a second until the horizon, 21 s */
	CHECK_NEAR((double)b.opportunities, 21 * 1250, 3);

	if (!bound_of("link a rate=4mbit,delay=20ms\n"
		      "link b rate=6mbit,delay=20ms\n"
		      "stream packet=1000 duration=60s\n"
		      "sender latency=50ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, 10 * MBIT, 10 * MBIT * 0.002);

	if (!bound_of("link a rate=4mbit\nlink b rate=none\n", &b))
		return;
	CHECK(b.unlimited);
}

/* Two links of C = 8 Mbit/s with equal delays; a's outage lasts D = 5 s. Packets sent in
 * the outage's first D - B seconds can only leave on b before it ends: R (D - B) <= C D, so
 * R <= C D / (D - B) = 10 Mbit/s with a 1 s budget, well below 2 C. A budget longer than the
 * outage bridges it: only a's missing capacity counts, (2 C (T + B) - C D) / T. */
static void test_outage(void)
{
	const double c = 8 * MBIT, d = 5, run = 30;
	struct braid_sim_bound b;
	double bridged = (2 * c * (run + 6) - c * d) / run;

	if (!bound_of("link a rate=8mbit,delay=30ms,outage=10s+5s\n"
		      "link b rate=8mbit,delay=30ms\n"
		      "stream packet=1000 duration=30s\n"
		      "sender latency=1000ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, c * d / (d - 1), c * d / (d - 1) * 0.003);

	if (!bound_of("link a rate=8mbit,delay=30ms,outage=10s+5s\n"
		      "link b rate=8mbit,delay=30ms\n"
		      "stream packet=1000 duration=30s\n"
		      "sender latency=6000ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, bridged, bridged * 0.003);

	/* The same outage as a blackhole event: the same bound. */
	if (!bound_of("link a rate=8mbit,delay=30ms\n"
		      "link b rate=8mbit,delay=30ms\n"
		      "at 10s a blackhole on\n"
		      "at 15s a blackhole off\n"
		      "stream packet=1000 duration=30s\n"
		      "sender latency=1000ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, c * d / (d - 1), c * d / (d - 1) * 0.003);

	/* A rate change by event: 8 Mbit/s for 10 s, then 2 Mbit/s. Packets sent after 10 s
	 * can only leave at 2 Mbit/s by 21 s (1 s budget): R 10 <= 2 * 11. */
	if (!bound_of("link a rate=8mbit\n"
		      "at 10s a rate=2mbit\n"
		      "stream packet=1000 duration=20s\n"
		      "sender latency=1000ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, 2 * MBIT * 11 / 10, 2 * MBIT * 11 / 10 * 0.003);
}

/* A hand-made trace: one opportunity each millisecond from 1 to 90, then silence until the
 * period's end at 100, its last entry: 910 opportunities a second, 10.92 Mbit/s of
 * 1500-byte packets. A 50 ms budget bridges the 10 ms silences, so the bound is the trace's
 * mean rate, and at most the share of the 50 ms after the stream more. */
static void test_trace_file(void)
{
	const double mean = 910 * 1500 * 8, run = 60, budget = 0.05;
	char path[] = "/tmp/braid-test-bound-XXXXXX", text[256];
	struct braid_sim_bound b;
	FILE *f;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	for (int ms = 1; f && ms <= 90; ms++)
		fprintf(f, "%d\n", ms);
	if (f) {
		fprintf(f, "100\n");
		fclose(f);
	}
	snprintf(text, sizeof(text), "link t trace=%s,delay=40ms\n"
		 "stream packet=1500 duration=60s\nsender latency=50ms\n", path);
	if (bound_of(text, &b)) {
		/* until the horizon, 60.05 s: 600 loops, and 50 entries of the next */
		CHECK_EQ_U64(b.opportunities, 600 * 91 + 50);
		CHECK(b.rate_bps >= mean * 0.9999);
		CHECK(b.rate_bps <= mean * (run + budget) / run);
	}
	/* Started 95 ms into the trace: the entry at 100 ms comes at 5 ms, then whole loops
	 * shifted by 95 ms, 600 of them by 60.005 s, and 45 entries of the next. */
	snprintf(text, sizeof(text), "link t trace=%s,trace_offset=95ms,delay=40ms\n"
		 "stream packet=1500 duration=60s\nsender latency=50ms\n", path);
	if (bound_of(text, &b))
		CHECK_EQ_U64(b.opportunities, 1 + 600 * 91 + 45);
	unlink(path);
}

/* 10 % random loss on one of two 5 Mbit/s links: a tenth of its opportunities go. */
static void test_loss(void)
{
	struct braid_sim_bound b;
	double expected = constant_bound(5 * MBIT, 60, 0.05, 0) * 1.9;

	if (!bound_of("link a rate=5mbit,loss=10%\n"
		      "link b rate=5mbit\n"
		      "stream packet=1000 duration=60s\n"
		      "sender latency=50ms\n", &b))
		return;
	CHECK_NEAR(b.rate_bps, expected, expected * 0.01);
	CHECK_NEAR((double)b.opportunities, 60.05 * 625 * 1.9, 60.05 * 625 * 0.02);
}

/* The verdict along the rates flips once, at the search's answer: every rate below it is
 * lossless, every rate above it is not. Checked on links with dips, an outage and different
 * delays: three OU links. */
static void test_search_monotone(void)
{
	const char *text = "link a ou=4mbit:2mbit:0.5:0,delay=20ms\n"
			   "link b ou=3mbit:2mbit:0.5:0,delay=60ms,outage=5s+2s\n"
			   "link c ou=2mbit:1mbit:1:0,delay=90ms\n"
			   "stream packet=1316 duration=20s\n"
			   "sender latency=300ms\n"
			   "seed 3\n";
	struct braid_bound_problem p;
	struct braid_sim_scenario sc;
	struct braid_sim_bound b;
	bool unlimited = true, previous = true;
	unsigned flips = 0;
	char err[512];

	braid_sim_scenario_init(&sc);
	CHECK_EQ(braid_sim_scenario_parse(&sc, text, "test", NULL, err, sizeof(err)), 0);
	CHECK_EQ(braid_sim_bound(&sc, &b, err, sizeof(err)), 0);
	CHECK(b.rate_bps > 1 * MBIT && b.rate_bps < 9 * MBIT);
	CHECK_EQ(braid_sim_bound_problem(&sc, &p, &unlimited, err, sizeof(err)), 0);
	CHECK(!unlimited);
	CHECK_EQ_U64(p.count, b.opportunities);
	for (int step = 1; step <= 60; step++) {
		double rate = b.rate_bps * (step <= 40 ? step / 40.0 : 1.0002 + (step - 40) / 40.0);
		uint64_t sent = 0, delivered = 0;
		bool ok;

		CHECK_EQ(braid_bound_deliverable(&p, rate, &sent, &delivered), 0);
		ok = (double)(sent - delivered) <= BRAID_SIM_LOSSLESS * (double)sent;
		flips += ok != previous;
		previous = ok;
		if (step == 40)
			CHECK(ok); /* the answer itself */
		if (step == 41)
			CHECK(!ok); /* 0.02 % above it */
	}
	CHECK_EQ(flips, 1);
	braid_bound_problem_free(&p);
	braid_sim_scenario_free(&sc);
}

int main(void)
{
	RUN_TEST(test_pass_is_optimal);
	RUN_TEST(test_pass_by_hand);
	RUN_TEST(test_constant_links);
	RUN_TEST(test_outage);
	RUN_TEST(test_trace_file);
	RUN_TEST(test_loss);
	RUN_TEST(test_search_monotone);
	return braid_test_finish();
}
