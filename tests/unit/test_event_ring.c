/* The event ring the sender and the receiver share: first in, first out; when full, the
 * newest events stay and the oldest give way; wrapping around loses nothing. */
#include "core/event_ring.h"
#include "harness.h"

#include <stdint.h>

#define CAPACITY 8

static struct braid_event numbered(uint64_t n)
{
	return (struct braid_event){ .kind = BRAID_EVENT_LINK_STATE, .time_us = n,
				     .link_id = (uint16_t)n };
}

static void test_empty_ring_gives_nothing(void)
{
	struct braid_event slots[CAPACITY], out = numbered(99);
	struct braid__event_ring ring;

	braid__event_ring_init(&ring, slots, CAPACITY);
	CHECK(!braid__event_ring_pop(&ring, &out));
	CHECK_EQ_U64(out.time_us, 99); /* untouched */
}

static void test_first_in_first_out_across_wraps(void)
{
	struct braid_event slots[CAPACITY], out;
	struct braid__event_ring ring;
	uint64_t next_in = 0, next_out = 0;
	unsigned wrong = 0;

	braid__event_ring_init(&ring, slots, CAPACITY);
	/* Three in, two out, many times: the head goes round the array again and again. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 3 && ring.count < CAPACITY; i++) {
			struct braid_event ev = numbered(next_in++);
			braid__event_ring_push(&ring, &ev);
		}
		for (int i = 0; i < 2 && braid__event_ring_pop(&ring, &out); i++)
			wrong += out.time_us != next_out++ || out.link_id != (uint16_t)out.time_us;
	}
	while (braid__event_ring_pop(&ring, &out))
		wrong += out.time_us != next_out++;
	CHECK_EQ(wrong, 0);
	CHECK_EQ_U64(next_out, next_in);
	CHECK(next_in > 2 * CAPACITY);
}

static void test_full_ring_keeps_the_newest(void)
{
	struct braid_event slots[CAPACITY], out;
	struct braid__event_ring ring;
	uint64_t expected = 25 - CAPACITY;

	braid__event_ring_init(&ring, slots, CAPACITY);
	for (uint64_t n = 0; n < 25; n++) {
		struct braid_event ev = numbered(n);
		braid__event_ring_push(&ring, &ev);
	}
	CHECK_EQ(ring.count, CAPACITY);
	while (braid__event_ring_pop(&ring, &out))
		CHECK_EQ_U64(out.time_us, expected++);
	CHECK_EQ_U64(expected, 25);
}

int main(void)
{
	RUN_TEST(test_empty_ring_gives_nothing);
	RUN_TEST(test_first_in_first_out_across_wraps);
	RUN_TEST(test_full_ring_keeps_the_newest);
	return braid_test_finish();
}
