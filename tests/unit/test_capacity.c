/* The adaptive estimator and pacer (src/core/capacity.c) against a model bottleneck: a
 * FIFO link of a given rate and one-way delay, fed by the pacer, answering a probe every
 * 50 ms with its delivered byte count. Checks that start-up finds the rate, the estimate
 * holds near it without a standing queue, follows a drop, survives a stall in the answers,
 * and that the pacer and the arrival arithmetic do what they say. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/capacity.h"
#include "harness.h"

#define MS 1000u
#define PACKET 1316u
#define PROBE_US (50 * MS)
#define ONE_WAY_US (30 * MS)

struct bottleneck {
	double rate_bps;
	uint64_t one_way_us;
	uint64_t busy_until_us;  /* when the link has sent all it was given */
	uint64_t delivered_bytes; /* at the far end, by now */
	uint64_t arrivals[65536]; /* when each packet given to it arrives */
	uint64_t sizes_given, sizes_done;
};

/* Gives the link a packet at now; it arrives after serialization and the one-way delay. */
static void link_send(struct bottleneck *b, uint64_t now)
{
	uint64_t start = b->busy_until_us > now ? b->busy_until_us : now;
	b->busy_until_us = start + (uint64_t)((double)PACKET * 8e6 / b->rate_bps);
	b->arrivals[b->sizes_given++ % 65536] = b->busy_until_us + b->one_way_us;
}

static void link_advance(struct bottleneck *b, uint64_t now)
{
	while (b->sizes_done < b->sizes_given && b->arrivals[b->sizes_done % 65536] <= now) {
		b->delivered_bytes += PACKET;
		b->sizes_done++;
	}
}

/* The RTT a probe sent at now sees: both ways plus the queue it waits behind. */
static uint64_t link_rtt(const struct bottleneck *b, uint64_t now)
{
	uint64_t queue = b->busy_until_us > now ? b->busy_until_us - now : 0;
	return 2 * b->one_way_us + queue;
}

struct run {
	struct braid__capacity cap;
	struct bottleneck link;
	uint64_t now;
	double input_bps;
	double input_credit;
	uint64_t max_rtt;
	/* probe answers in flight: due time, RTT, when the probe left */
	uint64_t answer_at[4096], answer_rtt[4096], answer_sent[4096], answer_sent_bytes[4096];
	uint64_t sent_bytes;
	size_t head, count;
};

/* A probe's answer without packet counts (the estimator falls back on the loss rate): the
 * link had sent sent_bytes before the probe, which met forward_queue on its way; the
 * receiver's clock reads as the sender's. */
static void feedback(struct braid__capacity *c, uint64_t now, uint64_t probe_sent,
		     uint64_t sent_bytes, uint64_t delivered_bytes, uint64_t forward_queue,
		     uint64_t min_rtt)
{
	struct braid__capacity_feedback fb = {
		.probe_sent_us = probe_sent, .sent_bytes = sent_bytes,
		.delivered_bytes = delivered_bytes,
		.arrival_us = (uint32_t)(probe_sent + min_rtt / 2 + forward_queue),
		.forward_queue_us = forward_queue, .min_rtt_us = min_rtt, .window_us = 100 * MS,
	};
	braid__capacity_on_feedback(c, now, &fb);
}

/* Runs until `until`: the source offers input_bps, the pacer sends, a probe every 50 ms is
 * answered one RTT later (answers computed at send time, applied when due). */
static void run_until(struct run *r, uint64_t until)
{
	for (; r->now < until; r->now += 100) {
		r->input_credit += r->input_bps * 100e-6 / 8.0;
		while (r->input_credit >= PACKET) {
			braid__capacity_assign(&r->cap, PACKET);
			r->input_credit -= PACKET;
		}
		while (r->cap.queued_bytes >= PACKET && braid__capacity_may_send(&r->cap, r->now)) {
			braid__capacity_sent(&r->cap, r->now, PACKET);
			link_send(&r->link, r->now);
			r->sent_bytes += PACKET;
		}
		link_advance(&r->link, r->now);
		if (r->now % PROBE_US == 0 && r->count < 4096) {
			uint64_t rtt = link_rtt(&r->link, r->now);
			size_t i = (r->head + r->count++) % 4096;
			r->answer_at[i] = r->now + rtt;
			r->answer_rtt[i] = rtt;
			r->answer_sent[i] = r->now;
			r->answer_sent_bytes[i] = r->sent_bytes;
			if (rtt > r->max_rtt)
				r->max_rtt = rtt;
		}
		while (r->count && r->answer_at[r->head] <= r->now) {
			uint64_t min_rtt = 2 * r->link.one_way_us;
			feedback(&r->cap, r->now, r->answer_sent[r->head],
				 r->answer_sent_bytes[r->head], r->link.delivered_bytes,
				 r->answer_rtt[r->head] - min_rtt, min_rtt);
			r->head = (r->head + 1) % 4096;
			r->count--;
		}
	}
}

static struct run *new_run(double link_bps, double input_bps)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->link.rate_bps = link_bps;
	r->link.one_way_us = ONE_WAY_US;
	r->input_bps = input_bps;
	r->now = PROBE_US; /* a multiple of the probe interval */
	braid__capacity_reset(&r->cap, 1e6, r->now);
	return r;
}

/* Start-up doubles to the link's rate in about a second, and cruising stays near it
 * without a queue that outgrows a 300 ms buffer. */
static void test_startup_and_cruise(void)
{
	struct run *r = new_run(6e6, 5.5e6);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	run_until(r, r->now + 1500 * MS);
	CHECK(!r->cap.startup);
	CHECK(r->cap.bottleneck_bps >= 5.0e6);
	run_until(r, r->now + 8000 * MS);
	CHECK_NEAR(r->cap.bottleneck_bps, 6e6, 0.15 * 6e6);
	CHECK(r->max_rtt < 2 * ONE_WAY_US + 300 * MS);
	/* everything offered was carried: no backlog piling up here */
	CHECK(braid__capacity_backlog(&r->cap, r->now) < 200 * MS);
	free(r);
}

/* The link halves: the estimate follows it down within a few seconds. */
static void test_follows_a_drop(void)
{
	struct run *r = new_run(6e6, 2.5e6);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	r->input_bps = 5.5e6;
	run_until(r, r->now + 6000 * MS);
	CHECK(r->cap.bottleneck_bps > 5.0e6);
	r->link.rate_bps = 3e6;
	r->max_rtt = 0;
	run_until(r, r->now + 3000 * MS);
	CHECK(r->cap.bottleneck_bps < 3.3e6);
	CHECK(r->cap.bottleneck_bps > 2.4e6);
	free(r);
}

/* Answers held back and released in a bunch (a stalled return path) say nothing about the
 * link: the estimate is not cut by that window. */
static void test_stall_does_not_cut(void)
{
	struct braid__capacity c;
	uint64_t t = 1000 * MS, bytes = 0;
	braid__capacity_reset(&c, 4e6, t);
	c.startup = false;
	c.gain = 1.0;
	/* a few ordinary windows at 4 Mbit/s, fully loaded */
	for (int i = 0; i < 20; i++) {
		braid__capacity_assign(&c, 25000);
		bytes += 25000;
		t += 50 * MS;
		feedback(&c, t, t - 60 * MS, 0, bytes, 0, 60 * MS);
	}
	double before = c.bottleneck_bps;
	CHECK(before > 3.5e6);
	/* 600 ms without answers, then one covering probes sent only 50 ms apart */
	t += 600 * MS;
	braid__capacity_assign(&c, 25000);
	feedback(&c, t, t - 550 * MS, 0, bytes + 3000, 0, 60 * MS);
	CHECK(c.bottleneck_bps >= before);
}

/* A window in which the medium lost a burst of packets still carried them: the estimate
 * counts them when the forward delay shows no deep queue, and only a few percent when it
 * does (a queue overflowing). */
static double estimate_after_lossy_windows(uint64_t rtt)
{
	struct braid__capacity c;
	uint64_t t = 1000 * MS, bytes = 0, sent = 0, received = 0;
	braid__capacity_reset(&c, 4e6, t);
	c.startup = false;
	c.gain = 1.0;
	c.cycle = 2;
	for (int i = 0; i < 8; i++) {
		/* 100 ms windows: 40 packets of 1250 bytes given and sent (4 Mbit/s), 28 of them
		 * delivered (30 % lost) */
		braid__capacity_assign(&c, 50000);
		c.queued_bytes = 0;
		sent += 40;
		received += 28;
		bytes += 28 * 1250;
		t += 100 * MS;
		struct braid__capacity_feedback fb = {
			.probe_sent_us = t - rtt, .delivered_bytes = bytes, .sent_packets = sent,
			.received_packets = received, .arrival_us = (uint32_t)t,
			.forward_queue_us = rtt - 60 * MS, .min_rtt_us = 60 * MS,
			.window_us = 100 * MS,
		};
		braid__capacity_on_feedback(&c, t, &fb);
	}
	return c.bottleneck_bps;
}

static void test_burst_loss_counts_as_carried(void)
{
	/* 2.8 Mbit/s delivered of 4 sent: no queue, so the link carried 4 */
	CHECK_NEAR(estimate_after_lossy_windows(60 * MS), 4e6, 0.05e6);
	/* 140 ms of queue ahead of the link: the loss is the queue overflowing */
	double deep = estimate_after_lossy_windows(200 * MS);
	CHECK(deep < 3.0e6);
	CHECK(deep > 2.7e6);
}

/* A return path that holds the answers back and then delivers them together: the
 * receiver's clock still spaces them, so the delivery rate comes out right. */
static void test_bunched_answers(void)
{
	struct braid__capacity c;
	uint64_t t = 1000 * MS, bytes = 0;
	braid__capacity_reset(&c, 2e6, t);
	c.startup = false;
	c.gain = 1.0;
	c.cycle = 2;
	uint64_t sent = t;
	for (int i = 0; i < 40; i++) {
		/* 4 Mbit/s sent and delivered; the answers all come 2 s after the first probe */
		braid__capacity_assign(&c, 25000);
		braid__capacity_sent(&c, sent, 25000);
		bytes += 25000;
		sent += 50 * MS;
		feedback(&c, t + 2000 * MS, sent, bytes, bytes, 0, 60 * MS);
	}
	CHECK_NEAR(c.bottleneck_bps, 4e6, 0.1e6);
}

/* A link still starting takes the sender's share of the input when that is more; never
 * less, not once it has measured anything, and not once it has left start-up. */
static void test_seed(void)
{
	struct braid__capacity c;
	braid__capacity_reset(&c, 1e6, 0);
	braid__capacity_seed(&c, 50e6);
	CHECK_NEAR(c.bottleneck_bps, 50e6, 1);
	CHECK_NEAR(c.rate_bps, 100e6, 1); /* start-up doubles it */
	braid__capacity_seed(&c, 10e6);
	CHECK_NEAR(c.bottleneck_bps, 50e6, 1);
	c.samples[0] = 20e6;
	c.sample_count = 1;
	braid__capacity_seed(&c, 80e6);
	CHECK_NEAR(c.bottleneck_bps, 50e6, 1);
	c.sample_count = 0;
	c.startup = false;
	braid__capacity_seed(&c, 80e6);
	CHECK_NEAR(c.bottleneck_bps, 50e6, 1);
}

/* A link back after a short outage keeps its estimate; after a long one it starts over. */
static void test_resume(void)
{
	struct braid__capacity c;
	uint64_t t = 1000 * MS;
	braid__capacity_reset(&c, 4e6, t);
	c.samples[0] = 4e6;
	c.sample_count = 1;
	braid__capacity_stop(&c, t);
	CHECK(braid__capacity_resume(&c, t + 2000 * MS));
	CHECK_NEAR(c.rate_bps, 4e6, 1);
	CHECK(!c.startup);
	braid__capacity_stop(&c, t);
	CHECK(!braid__capacity_resume(&c, t + 4000 * MS));
	/* a link that never failed has nothing to resume */
	braid__capacity_reset(&c, 4e6, t);
	CHECK(!braid__capacity_resume(&c, t));
}

/* The pacer spaces packets at its rate, and arrivals are backlog + transmission + delay. */
static void test_pacer_and_arrival(void)
{
	struct braid__capacity c;
	uint64_t t = 5000 * MS;
	braid__capacity_reset(&c, 1e6, t); /* start-up: paced at 2 Mbit/s */
	CHECK_NEAR(c.rate_bps, 2e6, 1);
	/* 1000 bytes at 2 Mbit/s take 4 ms */
	CHECK_EQ_U64(braid__capacity_arrival(&c, t, 1000, 30 * MS), t + 4 * MS + 30 * MS);
	braid__capacity_assign(&c, 1000);
	braid__capacity_assign(&c, 1000);
	CHECK_EQ_U64(braid__capacity_backlog(&c, t), 8 * MS);
	CHECK(braid__capacity_may_send(&c, t));
	braid__capacity_sent(&c, t, 1000);
	/* the next may leave at 4 ms, or within the slack before it */
	CHECK(!braid__capacity_may_send(&c, t + 4 * MS - BRAID__PACER_SLACK_US - 1));
	CHECK(braid__capacity_may_send(&c, t + 4 * MS - BRAID__PACER_SLACK_US));
	/* one waits (4 ms) behind the pacer's 4 ms: a new one arrives after both and itself */
	CHECK_EQ_U64(braid__capacity_arrival(&c, t, 1000, 30 * MS), t + 12 * MS + 30 * MS);
	/* a resend goes first: only the pacer's wait is ahead of it */
	CHECK_EQ_U64(braid__capacity_front_arrival(&c, t, 1000, 30 * MS), t + 8 * MS + 30 * MS);
	braid__capacity_unassign(&c, 1000);
	CHECK_EQ_U64(braid__capacity_backlog(&c, t), 4 * MS);
}

static void test_departures_recorded(void)
{
	struct braid__capacity c;
	uint64_t at = 0;
	braid__capacity_reset(&c, 1e6, 0);
	CHECK(!braid__capacity_expected(&c, 7, &at));
	braid__capacity_departed(&c, 7, 123456);
	CHECK(braid__capacity_expected(&c, 7, &at));
	CHECK_EQ_U64(at, 123456);
	/* the record is bounded: a much later sequence number replaces it */
	for (uint64_t seq = 8; seq < 8 + 4096; seq++)
		braid__capacity_departed(&c, seq, seq);
	CHECK(!braid__capacity_expected(&c, 7, &at));
}

int main(void)
{
	RUN_TEST(test_startup_and_cruise);
	RUN_TEST(test_follows_a_drop);
	RUN_TEST(test_stall_does_not_cut);
	RUN_TEST(test_burst_loss_counts_as_carried);
	RUN_TEST(test_bunched_answers);
	RUN_TEST(test_seed);
	RUN_TEST(test_resume);
	RUN_TEST(test_pacer_and_arrival);
	RUN_TEST(test_departures_recorded);
	return braid_test_finish();
}
