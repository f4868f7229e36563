/* The sender's view of one link from its probe answers: the forward queue measured by the
 * receiver's clock, anchored at probes with the minimum RTT, and its bounds. */
#include <stdint.h>
#include <string.h>

#include "core/link.h"
#include "harness.h"
#include "core/sender_link.h"

#define MS 1000u
#define RECEIVER_CLOCK 0x7fff0000u /* any origin: the receiver's clock is not ours */

struct probe_run {
	struct braid__sender_link link;
	struct braid_health_settings health;
	uint64_t now;
};

static void run_init(struct probe_run *r)
{
	memset(r, 0, sizeof(*r));
	struct braid_link_config cfg = { .name = "lte", .weight = 1 };
	r->now = 1000 * MS;
	braid__sender_link_init(&r->link, 1, &cfg, r->now);
	braid_health_settings_default(&r->health);
}

/* A probe leaves now; the receiver says it arrived after claimed_us; its answer is back
 * after rtt_us. */
static void answer(struct probe_run *r, uint64_t claimed_us, uint64_t rtt_us)
{
	uint8_t nonce[BRAID_NONCE_SIZE] = { 0 };
	struct braid_packet p = { .header = { .type = BRAID_PKT_PROBE } };
	uint64_t sent = r->now;
	braid__sender_link_fill_control(&r->link, &p, nonce, sent);
	struct braid_probe_reply reply = {
		.probe_seq = p.body.probe.probe_seq,
		.echo_timestamp_us = p.body.probe.timestamp_us,
		.arrival_us = (uint32_t)(RECEIVER_CLOCK + sent + claimed_us),
	};
	r->now = sent + rtt_us;
	braid__sender_link_on_reply(&r->link, &r->health, r->now, reply.echo_timestamp_us, &reply);
	r->now += 50 * MS;
}

/* A probe meets forward_us on the way there and back_us on the way back. */
static void probe(struct probe_run *r, uint64_t forward_us, uint64_t back_us)
{
	answer(r, forward_us, forward_us + back_us);
}

static void test_forward_queue(void)
{
	struct probe_run r;
	run_init(&r);
	/* 20 ms each way, nothing queued: the base is found, no queue */
	for (int i = 0; i < 5; i++)
		probe(&r, 20 * MS, 20 * MS);
	CHECK_EQ_U64(r.link.forward_queue_us, 0);
	/* 60 ms of queue ahead of the link */
	probe(&r, 80 * MS, 20 * MS);
	CHECK_NEAR((double)r.link.forward_queue_us, 60.0 * MS, 100); /* the base crept 15 us */
	/* answers held 500 ms on the way back: the RTT says 500 ms, the forward queue none */
	probe(&r, 20 * MS, 520 * MS);
	CHECK_EQ_U64(r.link.forward_queue_us, 0);
	CHECK(r.link.rtt.latest_us >= 500 * MS);
}

/* The receiver's clock restarting (a reboot) moves every delay: until the base is found
 * again the reading is bounded by the RTT's excess, and forgetting the path finds it. */
static void test_forward_bounds(void)
{
	struct probe_run r;
	run_init(&r);
	for (int i = 0; i < 5; i++)
		probe(&r, 20 * MS, 20 * MS);
	/* an answer claiming the probe took 30 s to arrive, back after 60 ms */
	answer(&r, 30000 * MS, 60 * MS);
	CHECK_EQ_U64(r.link.forward_queue_us, 20 * MS); /* no more than the RTT's excess */
	braid__sender_link_forget_path(&r.link);
	CHECK(!r.link.forward_known);
	CHECK_EQ_U64(r.link.forward_queue_smooth_us, 0);
	probe(&r, 20 * MS, 20 * MS);
	CHECK(r.link.forward_known);
	CHECK_EQ_U64(r.link.forward_queue_us, 0);
}

/* The base may creep up as clocks drift (100 ppm), no faster: a queue that builds over
 * seconds stays in sight. */
static void test_forward_drift(void)
{
	struct probe_run r;
	run_init(&r);
	for (int i = 0; i < 5; i++)
		probe(&r, 20 * MS, 20 * MS);
	/* ten seconds later with 40 ms queued (RTT above its minimum: no new anchor) */
	r.now += 10000 * MS;
	probe(&r, 60 * MS, 20 * MS);
	/* the base crept at most 100 ppm of 10 s = 1 ms */
	CHECK(r.link.forward_queue_us >= 38 * MS);
	CHECK(r.link.forward_queue_us <= 40 * MS);
}

int main(void)
{
	RUN_TEST(test_forward_queue);
	RUN_TEST(test_forward_bounds);
	RUN_TEST(test_forward_drift);
	return braid_test_finish();
}
