/* Reorder buffer: ordering, release times, duplicates, late and lost accounting, the
 * window limit, sequence numbers past 2^32, and a randomised exactly-once check. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "core/rxbuf.h"

/* Payload that encodes its sequence number, so every release can be checked. */
static void make_payload(uint8_t *buf, uint64_t seq)
{
	int i;

	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t)(seq >> (8 * i));
}

static uint64_t payload_seq(const uint8_t *buf)
{
	uint64_t seq = 0;
	int i;

	for (i = 0; i < 8; i++)
		seq |= (uint64_t)buf[i] << (8 * i);
	return seq;
}

static enum braid_rxbuf_result insert_seq(struct braid_rxbuf *rb, uint64_t seq,
					  uint64_t release_at)
{
	uint8_t payload[8];

	make_payload(payload, seq);
	return braid_rxbuf_insert(rb, seq, release_at, payload, sizeof(payload));
}

/* Pops one packet and checks its payload matches its number; returns its seq or
 * UINT64_MAX when nothing was due. */
static uint64_t pop_seq(struct braid_rxbuf *rb, uint64_t now)
{
	uint8_t buf[64];
	uint64_t seq = 0;
	size_t len = 0;

	if (braid_rxbuf_pop(rb, now, buf, sizeof(buf), &len, &seq) != 1)
		return UINT64_MAX;
	CHECK_EQ(len, 8);
	CHECK_EQ_U64(payload_seq(buf), seq);
	return seq;
}

static void test_in_order_release_times(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(8);
	struct braid_rxbuf_stats st;

	CHECK(rb != NULL);
	if (rb == NULL)
		return;
	CHECK_EQ(braid_rxbuf_held(rb), 0);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), UINT64_MAX);
	CHECK_EQ_U64(pop_seq(rb, UINT64_MAX), UINT64_MAX);
	CHECK_EQ(insert_seq(rb, 10, 100), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 11, 200), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 12, 300), BRAID_RXBUF_STORED);
	CHECK_EQ(braid_rxbuf_held(rb), 3);
	CHECK_EQ_U64(braid_rxbuf_head(rb), 10);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), 100);
	CHECK_EQ_U64(pop_seq(rb, 99), UINT64_MAX);
	CHECK_EQ_U64(pop_seq(rb, 100), 10);
	CHECK_EQ_U64(braid_rxbuf_head(rb), 11);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), 200);
	CHECK_EQ_U64(pop_seq(rb, 199), UINT64_MAX);
	CHECK_EQ_U64(pop_seq(rb, 1000), 11);
	CHECK_EQ_U64(pop_seq(rb, 1000), 12);
	CHECK_EQ_U64(pop_seq(rb, 1000), UINT64_MAX);
	CHECK_EQ(braid_rxbuf_held(rb), 0);
	CHECK_EQ_U64(braid_rxbuf_head(rb), 13);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.stored, 3);
	CHECK_EQ_U64(st.released, 3);
	CHECK_EQ_U64(st.lost, 0);
	braid_rxbuf_free(rb);
}

static void test_reorder(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(16);
	uint64_t expect;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	CHECK_EQ(insert_seq(rb, 0, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 3, 13), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 1, 11), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 2, 12), BRAID_RXBUF_STORED);
	for (expect = 0; expect < 4; expect++)
		CHECK_EQ_U64(pop_seq(rb, 100), expect);

	/* A later packet due earlier waits for the one before it. */
	CHECK_EQ(insert_seq(rb, 5, 50), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 4, 200), BRAID_RXBUF_STORED);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), 200);
	CHECK_EQ_U64(pop_seq(rb, 100), UINT64_MAX);
	CHECK_EQ_U64(pop_seq(rb, 200), 4);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), 50);
	CHECK_EQ_U64(pop_seq(rb, 200), 5);
	braid_rxbuf_free(rb);
}

static void test_duplicates_and_late(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(16);
	struct braid_rxbuf_stats st;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	CHECK_EQ(insert_seq(rb, 100, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 101, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 101, 10), BRAID_RXBUF_DUPLICATE);
	CHECK_EQ(insert_seq(rb, 100, 10), BRAID_RXBUF_DUPLICATE);
	CHECK(braid_rxbuf_has(rb, 100));
	CHECK(braid_rxbuf_has(rb, 101));
	CHECK(!braid_rxbuf_has(rb, 102));
	CHECK(!braid_rxbuf_has(rb, 99));
	CHECK(!braid_rxbuf_has(rb, 100 + 16)); /* same slot as 100, not held */
	/* Before anything is released, an earlier number moves the start back (it came over
	 * a slower link than the first arrival), unless that would not fit the window. */
	CHECK_EQ(insert_seq(rb, 101 - 16, 10), BRAID_RXBUF_LATE);
	CHECK_EQ(insert_seq(rb, 99, 10), BRAID_RXBUF_STORED);
	CHECK_EQ_U64(braid_rxbuf_head(rb), 99);
	CHECK_EQ_U64(pop_seq(rb, 10), 99);
	CHECK_EQ(insert_seq(rb, 98, 10), BRAID_RXBUF_LATE); /* released something: too late */
	CHECK_EQ_U64(pop_seq(rb, 10), 100);
	CHECK(!braid_rxbuf_has(rb, 100));
	CHECK_EQ(insert_seq(rb, 100, 10), BRAID_RXBUF_LATE); /* already released */
	CHECK_EQ_U64(pop_seq(rb, 10), 101);
	CHECK_EQ_U64(pop_seq(rb, 10), UINT64_MAX);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.stored, 3);
	CHECK_EQ_U64(st.released, 3);
	CHECK_EQ_U64(st.duplicates, 2);
	CHECK_EQ_U64(st.late, 3);
	CHECK_EQ_U64(st.lost, 0);
	CHECK_EQ_U64(st.too_far, 0);
	braid_rxbuf_free(rb);
}

static void test_gap_lost(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(16);
	struct braid_rxbuf_stats st;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	CHECK_EQ(insert_seq(rb, 0, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 2, 20), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 5, 30), BRAID_RXBUF_STORED);
	CHECK_EQ_U64(pop_seq(rb, 10), 0);
	CHECK_EQ_U64(pop_seq(rb, 19), UINT64_MAX); /* 1 is missing but 2 is not due yet */
	CHECK_EQ_U64(braid_rxbuf_head(rb), 1);
	/* 1 turns up in time: no loss. */
	CHECK_EQ(insert_seq(rb, 1, 25), BRAID_RXBUF_STORED);
	CHECK_EQ_U64(braid_rxbuf_next_release(rb), 25);
	CHECK_EQ_U64(pop_seq(rb, 25), 1);
	CHECK_EQ_U64(pop_seq(rb, 25), 2);
	CHECK_EQ_U64(pop_seq(rb, 29), UINT64_MAX);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.lost, 0);
	/* 3 and 4 never come: skipped when 5 is due. */
	CHECK_EQ_U64(pop_seq(rb, 30), 5);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.lost, 2);
	CHECK_EQ_U64(braid_rxbuf_head(rb), 6);
	CHECK_EQ(insert_seq(rb, 3, 40), BRAID_RXBUF_LATE);
	CHECK_EQ(insert_seq(rb, 4, 40), BRAID_RXBUF_LATE);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.late, 2);
	CHECK_EQ_U64(st.released, 4);
	braid_rxbuf_free(rb);
}

static void test_too_far_and_capacity(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(5); /* rounded up to 8 */
	struct braid_rxbuf_stats st;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	CHECK_EQ(insert_seq(rb, 1000, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 1007, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 1008, 10), BRAID_RXBUF_TOO_FAR);
	CHECK_EQ(insert_seq(rb, UINT64_MAX, 10), BRAID_RXBUF_TOO_FAR);
	CHECK(!braid_rxbuf_has(rb, 1008));
	CHECK_EQ_U64(pop_seq(rb, 10), 1000);
	/* The window moved with the head. */
	CHECK_EQ(insert_seq(rb, 1008, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(insert_seq(rb, 1009, 10), BRAID_RXBUF_TOO_FAR);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.too_far, 3);
	CHECK_EQ_U64(st.stored, 3);
	CHECK_EQ_U64(pop_seq(rb, 10), 1007);
	CHECK_EQ_U64(pop_seq(rb, 10), 1008);
	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.lost, 6);
	braid_rxbuf_free(rb);

	rb = braid_rxbuf_new(0); /* one slot */
	CHECK(rb != NULL);
	if (rb != NULL) {
		CHECK_EQ(insert_seq(rb, 7, 0), BRAID_RXBUF_STORED);
		CHECK_EQ(insert_seq(rb, 8, 0), BRAID_RXBUF_TOO_FAR);
		CHECK_EQ_U64(pop_seq(rb, 0), 7);
		CHECK_EQ(insert_seq(rb, 8, 0), BRAID_RXBUF_STORED);
		braid_rxbuf_free(rb);
	}
	CHECK(braid_rxbuf_new(SIZE_MAX) == NULL);
	braid_rxbuf_free(NULL);
}

static void test_payload_lengths(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(4);
	uint8_t data[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	uint8_t buf[16];
	uint64_t seq = 0;
	size_t len = 0;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	CHECK_EQ(braid_rxbuf_insert(rb, 1, 0, data, sizeof(data)), BRAID_RXBUF_STORED);
	CHECK_EQ(braid_rxbuf_insert(rb, 2, 0, NULL, 0), BRAID_RXBUF_STORED);
	CHECK_EQ(braid_rxbuf_insert(rb, 3, 0, data, 10), BRAID_RXBUF_STORED);
	CHECK_EQ(braid_rxbuf_insert(rb, 4, 0, NULL, 5), BRAID_RXBUF_ERROR);
	CHECK(!braid_rxbuf_has(rb, 4));
	/* The buffer keeps its own copy. */
	memset(data, 0xee, sizeof(data));
	memset(buf, 0, sizeof(buf));
	/* A buffer too small for the next packet: an error, and the packet stays held. */
	CHECK_EQ(braid_rxbuf_pop(rb, 0, buf, 4, &len, &seq), BRAID_ERR_BUFFER);
	CHECK(buf[0] == 0);
	CHECK_EQ(braid_rxbuf_pop(rb, 0, buf, sizeof(buf), &len, &seq), 1);
	CHECK_EQ_U64(seq, 1);
	CHECK_EQ(len, sizeof(data));
	CHECK(buf[0] == 1 && buf[3] == 4);
	CHECK_EQ(braid_rxbuf_pop(rb, 0, buf, sizeof(buf), &len, &seq), 1);
	CHECK_EQ_U64(seq, 2);
	CHECK_EQ(len, 0);
	CHECK_EQ(braid_rxbuf_pop(rb, 0, buf, sizeof(buf), &len, &seq), 1);
	CHECK_EQ_U64(seq, 3);
	CHECK_EQ(len, 10);
	CHECK(buf[0] == 1 && buf[9] == 10);
	braid_rxbuf_free(rb);
}

/* Sequence numbers extended past 2^32 by the caller, crossing each boundary. */
static void test_wrap_32(void)
{
	static const uint64_t eras[] = { 0, 1, 5, 0xffff };
	size_t e;

	for (e = 0; e < sizeof(eras) / sizeof(eras[0]); e++) {
		struct braid_rxbuf *rb = braid_rxbuf_new(64);
		uint64_t base = UINT64_C(0xFFFFFF00) + (eras[e] << 32);
		uint64_t i, next = base, got;
		int order_ok = 1;

		if (rb == NULL) {
			CHECK(rb != NULL);
			return;
		}
		/* After base, pairs swapped (base+2, base+1, base+4, ...) past base + 0x100. */
		CHECK_EQ(insert_seq(rb, base, 0), BRAID_RXBUF_STORED);
		for (i = 1; i < 513; i += 2) {
			CHECK_EQ(insert_seq(rb, base + i + 1, i), BRAID_RXBUF_STORED);
			CHECK_EQ(insert_seq(rb, base + i, i), BRAID_RXBUF_STORED);
			while ((got = pop_seq(rb, i)) != UINT64_MAX) {
				order_ok &= got == next;
				next++;
			}
		}
		CHECK(order_ok);
		CHECK_EQ_U64(next, base + 513);
		CHECK_EQ_U64(braid_rxbuf_head(rb), base + 513);
		CHECK(base + 513 > ((eras[e] + 1) << 32)); /* really crossed */
		CHECK_EQ(insert_seq(rb, base + 200, 1000), BRAID_RXBUF_LATE);
		braid_rxbuf_free(rb);
	}
}

static void test_free_with_held(void)
{
	struct braid_rxbuf *rb = braid_rxbuf_new(32);
	uint64_t i;

	if (rb == NULL) {
		CHECK(rb != NULL);
		return;
	}
	for (i = 0; i < 32; i += 3)
		CHECK_EQ(insert_seq(rb, i, 1000), BRAID_RXBUF_STORED);
	CHECK_EQ(braid_rxbuf_held(rb), 11);
	braid_rxbuf_free(rb); /* ASan's leak check verifies every payload was freed */
}

/* Knuth's MMIX LCG; the high bits are the usable ones. */
static uint32_t lcg_next(uint64_t *state)
{
	*state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return (uint32_t)(*state >> 33);
}

struct arrival {
	uint64_t at;
	uint64_t seq;
};

static int arrival_cmp(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

#define RANDOM_PACKETS 100000
#define PACKET_SPACING 100 /* us */
#define LATENCY 2000       /* us: release time after sending */
#define JITTER_MAX 2400    /* us: some copies arrive after their release time */

/* Builds a shuffled stream: each packet is dropped (5 %), sent once, or duplicated (10 %),
 * each copy delayed by up to JITTER_MAX. */
static size_t make_arrivals(struct arrival *arrivals, uint64_t first_seq, uint64_t *rng)
{
	size_t count = 0;
	uint64_t i;
	uint32_t r, copies, c;

	for (i = 0; i < RANDOM_PACKETS; i++) {
		r = lcg_next(rng) % 100;
		copies = r < 5 ? 0 : r < 15 ? 2 : 1;
		for (c = 0; c < copies; c++) {
			arrivals[count].seq = first_seq + i;
			arrivals[count].at = i * PACKET_SPACING + lcg_next(rng) % JITTER_MAX;
			count++;
		}
	}
	qsort(arrivals, count, sizeof(*arrivals), arrival_cmp);
	return count;
}

struct random_run {
	uint8_t *stored;   /* per seq: times STORED */
	uint8_t *released; /* per seq: times released */
	uint64_t first_seq;
	uint64_t last_out;
	uint64_t popped;
	int out_of_order;
	int early;
};

static void drain(struct braid_rxbuf *rb, struct random_run *run, uint64_t now)
{
	uint8_t buf[16];
	uint64_t seq;
	size_t len;

	while (braid_rxbuf_pop(rb, now, buf, sizeof(buf), &len, &seq) == 1) {
		if (run->popped > 0 && seq <= run->last_out)
			run->out_of_order++;
		if (len != 8 || payload_seq(buf) != seq || seq < run->first_seq ||
		    seq - run->first_seq >= RANDOM_PACKETS) {
			run->out_of_order++;
			continue;
		}
		if ((seq - run->first_seq) * PACKET_SPACING + LATENCY > now)
			run->early++;
		run->released[seq - run->first_seq]++;
		run->last_out = seq;
		run->popped++;
	}
}

static void test_randomised_exactly_once(void)
{
	const uint64_t first_seq = UINT64_C(0xFFFF0000); /* crosses 2^32 on the way */
	struct arrival *arrivals = malloc(2 * RANDOM_PACKETS * sizeof(*arrivals));
	struct random_run run = { NULL, NULL, first_seq, 0, 0, 0, 0 };
	struct braid_rxbuf *rb = braid_rxbuf_new(16); /* small enough to hit TOO_FAR */
	struct braid_rxbuf_stats st;
	uint64_t rng = 12345, counted[4] = { 0, 0, 0, 0 }, i, not_released = 0, span;
	uint64_t start = UINT64_MAX;
	size_t count, a;
	int twice = 0, unstored_released = 0, bad_result = 0;
	enum braid_rxbuf_result res;

	run.stored = calloc(RANDOM_PACKETS, 1);
	run.released = calloc(RANDOM_PACKETS, 1);
	if (arrivals == NULL || rb == NULL || run.stored == NULL || run.released == NULL) {
		CHECK(!"allocation failed");
		goto out;
	}
	count = make_arrivals(arrivals, first_seq, &rng);
	for (a = 0; a < count; a++) {
		drain(rb, &run, arrivals[a].at);
		res = insert_seq(rb, arrivals[a].seq,
				 (arrivals[a].seq - first_seq) * PACKET_SPACING + LATENCY);
		if (res <= BRAID_RXBUF_TOO_FAR)
			counted[res]++;
		else
			bad_result++;
		if (res == BRAID_RXBUF_STORED)
			run.stored[arrivals[a].seq - first_seq]++;
		/* until the first release, the lowest stored number is where the stream starts */
		if (res == BRAID_RXBUF_STORED && run.popped == 0 && arrivals[a].seq < start)
			start = arrivals[a].seq;
	}
	drain(rb, &run, UINT64_MAX);
	CHECK_EQ(bad_result, 0);
	CHECK_EQ(braid_rxbuf_held(rb), 0);
	CHECK_EQ(run.out_of_order, 0);
	CHECK_EQ(run.early, 0);
	for (i = 0; i < RANDOM_PACKETS; i++) {
		twice += run.stored[i] > 1 || run.released[i] > 1;
		unstored_released += run.released[i] != run.stored[i];
		not_released += run.released[i] == 0;
	}
	CHECK_EQ(twice, 0);
	CHECK_EQ(unstored_released, 0);

	braid_rxbuf_get_stats(rb, &st);
	CHECK_EQ_U64(st.stored, counted[BRAID_RXBUF_STORED]);
	CHECK_EQ_U64(st.duplicates, counted[BRAID_RXBUF_DUPLICATE]);
	CHECK_EQ_U64(st.late, counted[BRAID_RXBUF_LATE]);
	CHECK_EQ_U64(st.too_far, counted[BRAID_RXBUF_TOO_FAR]);
	CHECK_EQ_U64(st.released, run.popped);
	CHECK_EQ_U64(st.released, st.stored);
	/* Every number from the start to the last released was released or lost. */
	span = run.last_out - start + 1;
	CHECK_EQ_U64(st.lost + st.released, span);
	CHECK(not_released >= st.lost);
	/* The stream really was messy. */
	CHECK(counted[BRAID_RXBUF_DUPLICATE] > 1000);
	CHECK(counted[BRAID_RXBUF_LATE] > 100);
	CHECK(st.lost > 1000);
	CHECK(st.too_far > 10);
	CHECK(run.popped > RANDOM_PACKETS / 2);
	printf("random: %zu arrivals, stored %" PRIu64 ", duplicates %" PRIu64 ", late %" PRIu64
	       ", lost %" PRIu64 ", too far %" PRIu64 "\n", count, st.stored, st.duplicates,
	       st.late, st.lost, st.too_far);
out:
	braid_rxbuf_free(rb);
	free(run.stored);
	free(run.released);
	free(arrivals);
}

int main(void)
{
	RUN_TEST(test_in_order_release_times);
	RUN_TEST(test_reorder);
	RUN_TEST(test_duplicates_and_late);
	RUN_TEST(test_gap_lost);
	RUN_TEST(test_too_far_and_capacity);
	RUN_TEST(test_payload_lengths);
	RUN_TEST(test_wrap_32);
	RUN_TEST(test_free_with_held);
	RUN_TEST(test_randomised_exactly_once);
	return braid_test_finish();
}
