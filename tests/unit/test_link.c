/* Link estimators and health state machine: expected values are worked out by hand from
 * RFC 6298, RFC 3550 A.8 and the thresholds in braid/link.h. */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "core/link.h"

static void test_rtt_rfc6298(void)
{
	struct braid_rtt rtt;

	memset(&rtt, 0, sizeof(rtt));
	braid_rtt_update(&rtt, 100000);
	CHECK(rtt.has_sample);
	CHECK_EQ_U64(rtt.srtt_us, 100000);
	CHECK_EQ_U64(rtt.rttvar_us, 50000);
	CHECK_EQ_U64(rtt.min_us, 100000);
	CHECK_EQ_U64(rtt.latest_us, 100000);

	/* |srtt - R| uses the old srtt: (3 * 50000 + 20000) / 4, then (7 * 100000 + 120000) / 8 */
	braid_rtt_update(&rtt, 120000);
	CHECK_EQ_U64(rtt.rttvar_us, 42500);
	CHECK_EQ_U64(rtt.srtt_us, 102500);
	CHECK_EQ_U64(rtt.min_us, 100000);
	CHECK_EQ_U64(rtt.latest_us, 120000);

	/* (3 * 42500 + 22500) / 4 = 37500; (7 * 102500 + 80000) / 8 = 99687.5 */
	braid_rtt_update(&rtt, 80000);
	CHECK_EQ_U64(rtt.rttvar_us, 37500);
	CHECK_EQ_U64(rtt.srtt_us, 99687);
	CHECK_EQ_U64(rtt.min_us, 80000);

	/* (3 * 37500 + 200313) / 4 = 78203.25; (7 * 99687 + 300000) / 8 = 124726.125 */
	braid_rtt_update(&rtt, 300000);
	CHECK_EQ_U64(rtt.rttvar_us, 78203);
	CHECK_EQ_U64(rtt.srtt_us, 124726);
	CHECK_EQ_U64(rtt.min_us, 80000);
	CHECK_EQ_U64(rtt.latest_us, 300000);
}

static void test_rtt_huge_sample(void)
{
	struct braid_rtt rtt;

	memset(&rtt, 0, sizeof(rtt));
	braid_rtt_update(&rtt, 1000);
	braid_rtt_update(&rtt, UINT64_MAX);
	/* Must not wrap around to something small. */
	CHECK(rtt.srtt_us > 1000);
	CHECK(rtt.rttvar_us > 1000);
	CHECK_EQ_U64(rtt.min_us, 1000);
}

static void test_loss_basic(void)
{
	struct braid_loss loss;

	memset(&loss, 0, sizeof(loss));
	CHECK_NEAR(braid_loss_fraction(&loss), 0.0, 1e-12);
	braid_loss_add(&loss, 0, 0);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.0, 1e-12);
	braid_loss_add(&loss, 100, 90);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.10, 1e-12);
	braid_loss_add(&loss, 200, 190);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.05, 1e-12);
	CHECK_EQ(loss.count, 3);

	/* Backwards counters (sent, then received) are ignored. */
	braid_loss_add(&loss, 150, 195);
	braid_loss_add(&loss, 250, 180);
	CHECK_EQ(loss.count, 3);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.05, 1e-12);
	braid_loss_add(&loss, 400, 190);
	CHECK_EQ(loss.count, 4);
	CHECK_NEAR(braid_loss_fraction(&loss), 1.0 - 190.0 / 400.0, 1e-12);
}

static void test_loss_clamps(void)
{
	struct braid_loss loss;

	memset(&loss, 0, sizeof(loss));
	braid_loss_add(&loss, 100, 90);
	braid_loss_add(&loss, 100, 90);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.0, 1e-12); /* nothing sent in the window */

	memset(&loss, 0, sizeof(loss));
	braid_loss_add(&loss, 100, 90);
	braid_loss_add(&loss, 200, 195); /* replies counted ahead of probes by reordering */
	CHECK_NEAR(braid_loss_fraction(&loss), 0.0, 1e-12);

	memset(&loss, 0, sizeof(loss));
	braid_loss_add(&loss, 10, 10);
	braid_loss_add(&loss, 20, 10);
	CHECK_NEAR(braid_loss_fraction(&loss), 1.0, 1e-12);
}

static void test_loss_window_slides(void)
{
	struct braid_loss loss;
	uint64_t sent = 0, received = 0;
	int i;

	memset(&loss, 0, sizeof(loss));
	braid_loss_add(&loss, sent, received);
	for (i = 0; i < 4; i++) { /* four intervals at 50 % loss */
		sent += 100;
		received += 50;
		braid_loss_add(&loss, sent, received);
	}
	CHECK_NEAR(braid_loss_fraction(&loss), 0.5, 1e-12);
	for (i = 0; i < BRAID_LOSS_WINDOW - 1; i++) {
		sent += 100;
		received += 100;
		braid_loss_add(&loss, sent, received);
	}
	/* One lossy interval is left in the window: 50 lost of 1600 sent. */
	CHECK_EQ(loss.count, BRAID_LOSS_WINDOW + 1);
	CHECK_NEAR(braid_loss_fraction(&loss), 50.0 / 1600.0, 1e-12);
	sent += 100;
	received += 100;
	braid_loss_add(&loss, sent, received);
	CHECK_NEAR(braid_loss_fraction(&loss), 0.0, 1e-12);
	CHECK_EQ(loss.count, BRAID_LOSS_WINDOW + 1);

	/* Losing again shows up with exactly this interval's weight. */
	sent += 100;
	received += 20;
	braid_loss_add(&loss, sent, received);
	CHECK_NEAR(braid_loss_fraction(&loss), 80.0 / 1600.0, 1e-12);
}

static void test_jitter_constant_transit(void)
{
	struct braid_jitter jitter;
	uint64_t t;

	memset(&jitter, 0, sizeof(jitter));
	/* Arrival clock far ahead of the sending one. */
	for (t = 0; t < 100; t++)
		braid_jitter_update(&jitter, 5000 + t * 20000, UINT64_C(1000000000000) + t * 20000);
	CHECK(jitter.has_transit);
	CHECK_NEAR(jitter.jitter_us, 0.0, 1e-9);

	/* Arrival clock behind the sending one: negative transit. */
	memset(&jitter, 0, sizeof(jitter));
	for (t = 0; t < 100; t++)
		braid_jitter_update(&jitter, UINT64_C(1000000000000) + t * 20000, 7000 + t * 20000);
	CHECK(jitter.last_transit_us < 0);
	CHECK_NEAR(jitter.jitter_us, 0.0, 1e-9);

	/* Sending clock about to wrap. */
	memset(&jitter, 0, sizeof(jitter));
	for (t = 0; t < 100; t++)
		braid_jitter_update(&jitter, UINT64_MAX - 1000 + t * 20000, 500 + t * 20000);
	CHECK_EQ(jitter.last_transit_us, 1501);
	CHECK_NEAR(jitter.jitter_us, 0.0, 1e-9);
}

static void test_jitter_alternating(void)
{
	struct braid_jitter jitter;
	uint64_t sent;
	int i;

	memset(&jitter, 0, sizeof(jitter));
	/* Transit alternates 1000 / 3000 us, so |D| = 2000 for every packet after the first and
	 * J_n = 2000 (1 - (15/16)^n). */
	for (i = 0; i <= 10; i++) {
		sent = UINT64_C(5000000) + (uint64_t)i * 20000;
		braid_jitter_update(&jitter, sent, sent + (i % 2 ? 3000 : 1000));
		if (i == 0)
			CHECK_NEAR(jitter.jitter_us, 0.0, 1e-12);
		if (i == 1)
			CHECK_NEAR(jitter.jitter_us, 125.0, 1e-9);
		if (i == 2)
			CHECK_NEAR(jitter.jitter_us, 242.1875, 1e-9);
	}
	CHECK_NEAR(jitter.jitter_us, 2000.0 * (1.0 - pow(15.0 / 16.0, 10)), 1e-6);
	for (; i < 500; i++) {
		sent = UINT64_C(5000000) + (uint64_t)i * 20000;
		braid_jitter_update(&jitter, sent, sent + (i % 2 ? 3000 : 1000));
	}
	CHECK_NEAR(jitter.jitter_us, 2000.0, 0.01);
}

static void test_state_names(void)
{
	CHECK(strcmp(braid_link_state_name(BRAID_LINK_DOWN), "down") == 0);
	CHECK(strcmp(braid_link_state_name(BRAID_LINK_DEGRADED), "degraded") == 0);
	CHECK(strcmp(braid_link_state_name(BRAID_LINK_HEALTHY), "healthy") == 0);
	CHECK(braid_link_state_name((enum braid_link_state)7) != NULL);
	CHECK(!braid_link_state_live(BRAID_LINK_DOWN));
	CHECK(braid_link_state_live(BRAID_LINK_DEGRADED));
	CHECK(braid_link_state_live(BRAID_LINK_HEALTHY));
}

static void test_health_defaults(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;

	memset(&s, 0xff, sizeof(s));
	braid_health_settings_default(&s);
	CHECK_EQ_U64(s.probe_interval_us, 50000);
	CHECK_EQ(s.down_after_missed, 3);
	CHECK_EQ(s.up_after_replies, 3);
	CHECK_NEAR(s.degraded_loss, 0.10, 1e-12);
	CHECK_NEAR(s.recovered_loss, 0.05, 1e-12);
	CHECK_EQ_U64(s.degraded_rtt_us, 0);
	CHECK_EQ(s.min_operational, 1);

	memset(&h, 0xff, sizeof(h));
	braid_health_init(&h);
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
	CHECK(!h.ever_up);
	CHECK_EQ(h.transitions, 0);
	CHECK_EQ(h.replies_in_row, 0);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), UINT64_MAX);
	CHECK(!braid_health_on_tick(&h, &s, 10000000));
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
}

static void test_health_first_reply_and_silence(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;
	uint64_t t0 = 1000000, t;

	braid_health_settings_default(&s);
	braid_health_init(&h);
	CHECK(braid_health_on_reply(&h, &s, t0, 0.0, 20000));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK(h.ever_up);
	CHECK_EQ(h.transitions, 1);
	CHECK_EQ_U64(h.last_reply_us, t0);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), t0 + 3 * 50000 + 1);

	/* Ticks every 10 ms up to and including exactly three intervals change nothing. */
	for (t = t0; t <= t0 + 150000; t += 10000)
		CHECK(!braid_health_on_tick(&h, &s, t));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK(braid_health_on_tick(&h, &s, t0 + 150001));
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
	CHECK_EQ(h.transitions, 2);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), UINT64_MAX);
	CHECK(!braid_health_on_tick(&h, &s, t0 + 10000000));
	CHECK_EQ(h.transitions, 2);

	/* A reply pushes the deadline. */
	braid_health_init(&h);
	braid_health_on_reply(&h, &s, t0, 0.0, 0);
	CHECK(!braid_health_on_reply(&h, &s, t0 + 100000, 0.0, 0));
	CHECK(!braid_health_on_tick(&h, &s, t0 + 200000));
	CHECK_EQ_U64(braid_health_deadline(&h, &s), t0 + 250000 + 1);
	CHECK(braid_health_on_tick(&h, &s, t0 + 250001));
}

static void take_down(struct braid_link_health *h, const struct braid_health_settings *s,
		      uint64_t t)
{
	braid_health_init(h);
	braid_health_on_reply(h, s, t, 0.0, 0);
	braid_health_on_tick(h, s, t + 200000);
}

static void test_health_hysteresis(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;
	uint64_t t = 1000000;

	braid_health_settings_default(&s);
	take_down(&h, &s, t);
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
	CHECK_EQ(h.replies_in_row, 0);
	t += 300000;
	CHECK(!braid_health_on_reply(&h, &s, t, 0.0, 0));
	CHECK(!braid_health_on_reply(&h, &s, t + 50000, 0.0, 0));
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
	CHECK_EQ(h.replies_in_row, 2);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), UINT64_MAX);
	CHECK(!braid_health_on_tick(&h, &s, t + 60000));
	CHECK(braid_health_on_reply(&h, &s, t + 100000, 0.0, 0));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK_EQ(h.transitions, 3);

	/* Two replies, a long silence, one more: the count restarts. */
	take_down(&h, &s, t);
	t += 1000000;
	braid_health_on_reply(&h, &s, t, 0.0, 0);
	braid_health_on_reply(&h, &s, t + 50000, 0.0, 0);
	CHECK(!braid_health_on_reply(&h, &s, t + 1000000, 0.0, 0));
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
	CHECK_EQ(h.replies_in_row, 1);
	CHECK(!braid_health_on_reply(&h, &s, t + 1050000, 0.0, 0));
	CHECK(braid_health_on_reply(&h, &s, t + 1100000, 0.0, 0));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);

	/* Coming back with heavy loss: usable, but degraded. */
	take_down(&h, &s, t);
	t += 1000000;
	braid_health_on_reply(&h, &s, t, 0.3, 0);
	braid_health_on_reply(&h, &s, t + 50000, 0.3, 0);
	CHECK(braid_health_on_reply(&h, &s, t + 100000, 0.3, 0));
	CHECK_EQ(h.state, BRAID_LINK_DEGRADED);

	/* up_after_replies = 1 restores on the first reply. */
	s.up_after_replies = 1;
	take_down(&h, &s, t);
	CHECK(braid_health_on_reply(&h, &s, t + 1000000, 0.0, 0));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
}

static void test_health_degraded_loss(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;
	uint64_t t = 5000;

	braid_health_settings_default(&s);
	braid_health_init(&h);
	braid_health_on_reply(&h, &s, t, 0.0, 0);
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.10, 0)); /* at the limit: fine */
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK(braid_health_on_reply(&h, &s, t += 50000, 0.11, 0));
	CHECK_EQ(h.state, BRAID_LINK_DEGRADED);
	CHECK(braid_link_state_live(h.state));
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.07, 0)); /* between thresholds */
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.05, 0)); /* not below recovered */
	CHECK_EQ(h.state, BRAID_LINK_DEGRADED);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), t + 150000 + 1);
	CHECK(braid_health_on_reply(&h, &s, t += 50000, 0.049, 0));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.07, 0)); /* hysteresis the other way */
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
	CHECK_EQ(h.transitions, 3);

	/* A degraded link also goes down on silence. */
	braid_health_on_reply(&h, &s, t += 50000, 0.5, 0);
	CHECK_EQ(h.state, BRAID_LINK_DEGRADED);
	CHECK(braid_health_on_tick(&h, &s, t + 150001));
	CHECK_EQ(h.state, BRAID_LINK_DOWN);
}

static void test_health_degraded_rtt(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;
	uint64_t t = 5000;

	braid_health_settings_default(&s);
	braid_health_init(&h);
	braid_health_on_reply(&h, &s, t, 0.0, 0);
	/* Threshold 0: no RTT is too high. */
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.0, UINT64_C(10000000)));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);

	s.degraded_rtt_us = 200000;
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.0, 200000));
	CHECK(braid_health_on_reply(&h, &s, t += 50000, 0.0, 200001));
	CHECK_EQ(h.state, BRAID_LINK_DEGRADED);
	/* Loss fine but RTT still high: stays degraded. */
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.0, 250000));
	/* RTT fine but loss not recovered: stays degraded. */
	CHECK(!braid_health_on_reply(&h, &s, t += 50000, 0.06, 150000));
	CHECK(braid_health_on_reply(&h, &s, t += 50000, 0.0, 150000));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
}

static void test_health_deadline_saturates(void)
{
	struct braid_health_settings s;
	struct braid_link_health h;

	braid_health_settings_default(&s);
	s.probe_interval_us = UINT64_MAX / 2;
	braid_health_init(&h);
	braid_health_on_reply(&h, &s, 1000, 0.0, 0);
	CHECK_EQ_U64(braid_health_deadline(&h, &s), UINT64_MAX);
	CHECK(!braid_health_on_tick(&h, &s, UINT64_MAX));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);

	/* A clock that steps backwards does not count as silence. */
	braid_health_settings_default(&s);
	CHECK(!braid_health_on_tick(&h, &s, 10));
	CHECK_EQ(h.state, BRAID_LINK_HEALTHY);
}

int main(void)
{
	RUN_TEST(test_rtt_rfc6298);
	RUN_TEST(test_rtt_huge_sample);
	RUN_TEST(test_loss_basic);
	RUN_TEST(test_loss_clamps);
	RUN_TEST(test_loss_window_slides);
	RUN_TEST(test_jitter_constant_transit);
	RUN_TEST(test_jitter_alternating);
	RUN_TEST(test_state_names);
	RUN_TEST(test_health_defaults);
	RUN_TEST(test_health_first_reply_and_silence);
	RUN_TEST(test_health_hysteresis);
	RUN_TEST(test_health_degraded_loss);
	RUN_TEST(test_health_degraded_rtt);
	RUN_TEST(test_health_deadline_saturates);
	return braid_test_finish();
}
