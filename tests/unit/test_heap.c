/* The binary heap against a plain reference: elements by value drain in sorted order;
 * elements by pointer that track their own index survive random pushes, pops, removals and
 * key changes with the heap order, every index and the minimum always right; an insertion
 * counter in the comparison gives first-in first-out ties. */
#include "base/heap.h"
#include "base/rng.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

#define POOL 500
#define STEPS 20000

/* ---- elements by value, nobody tracking indexes ---- */

struct stamped {
	uint64_t key, order;
};

static bool stamped_before(const void *a, const void *b)
{
	const struct stamped *x = a, *y = b;
	return x->key < y->key || (x->key == y->key && x->order < y->order);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void test_drains_in_sorted_order(void)
{
	struct braid_heap h;
	struct braid_rng rng;
	uint64_t reference[3000];
	unsigned out_of_order = 0;

	braid_rng_seed(&rng, 7);
	braid_heap_init(&h, sizeof(struct stamped), stamped_before, NULL);
	for (size_t i = 0; i < 3000; i++) {
		/* Few distinct keys: plenty of ties. */
		struct stamped s = { .key = braid_rng_next(&rng) % 100, .order = i };
		reference[i] = s.key;
		CHECK_EQ(braid_heap_push(&h, &s), 0);
	}
	CHECK_EQ(braid_heap_len(&h), 3000);
	qsort(reference, 3000, sizeof(reference[0]), compare_u64);
	for (size_t i = 0; i < 3000; i++) {
		struct stamped s;
		if (!braid_heap_pop(&h, &s) || s.key != reference[i])
			out_of_order++;
	}
	CHECK_EQ(out_of_order, 0);
	CHECK_EQ(braid_heap_len(&h), 0);
	braid_heap_free(&h);
}

/* Equal keys leave in insertion order when the comparison breaks ties by a counter, as
 * the simulator's and the emulator's do. */
static void test_counter_keeps_ties_in_order(void)
{
	struct braid_heap h;
	struct braid_rng rng;
	uint64_t last_order[4] = { 0 };
	bool seen[4] = { false };
	unsigned misordered = 0;

	braid_rng_seed(&rng, 11);
	braid_heap_init(&h, sizeof(struct stamped), stamped_before, NULL);
	for (uint64_t i = 0; i < 1000; i++) {
		struct stamped s = { .key = braid_rng_next(&rng) % 4, .order = i };
		CHECK_EQ(braid_heap_push(&h, &s), 0);
	}
	struct stamped s;
	while (braid_heap_pop(&h, &s)) {
		if (seen[s.key] && s.order <= last_order[s.key])
			misordered++;
		seen[s.key] = true;
		last_order[s.key] = s.order;
	}
	CHECK_EQ(misordered, 0);
	braid_heap_free(&h);
}

static void test_empty_heap(void)
{
	struct braid_heap h;
	struct stamped s = { .key = 5, .order = 0 };

	braid_heap_init(&h, sizeof(s), stamped_before, NULL);
	CHECK(braid_heap_top(&h) == NULL);
	CHECK(!braid_heap_pop(&h, &s));
	CHECK_EQ(s.key, 5); /* untouched */
	CHECK_EQ(braid_heap_push(&h, &s), 0);
	CHECK(braid_heap_top(&h) != NULL);
	CHECK_EQ(((struct stamped *)braid_heap_top(&h))->key, 5);
	braid_heap_free(&h);
	CHECK_EQ(braid_heap_len(&h), 0);
	braid_heap_free(&h); /* twice is harmless */
}

/* ---- elements by pointer, each knowing its index (the event loop's timers) ---- */

struct tracked {
	uint64_t key;
	size_t index; /* SIZE_MAX when not in the heap */
};

static bool tracked_before(const void *a, const void *b)
{
	return (*(struct tracked *const *)a)->key < (*(struct tracked *const *)b)->key;
}

static void tracked_moved(void *element, size_t index)
{
	(*(struct tracked **)element)->index = index;
}

/* Heap order holds, every element's index names its own slot, and the pool's members
 * are exactly the heap's. Returns the number of violations. */
static unsigned check_consistent(const struct braid_heap *h, const struct tracked *pool)
{
	unsigned bad = 0;
	size_t members = 0;

	for (size_t i = 0; i < braid_heap_len(h); i++) {
		struct tracked *t = *(struct tracked **)braid_heap_at(h, i);
		bad += t->index != i;
		bad += i > 0 && tracked_before(braid_heap_at(h, i), braid_heap_at(h, (i - 1) / 2));
	}
	for (size_t i = 0; i < POOL; i++)
		members += pool[i].index != SIZE_MAX;
	bad += members != braid_heap_len(h);
	return bad;
}

static const struct tracked *reference_min(const struct tracked *pool)
{
	const struct tracked *min = NULL;
	for (size_t i = 0; i < POOL; i++)
		if (pool[i].index != SIZE_MAX && (!min || pool[i].key < min->key))
			min = &pool[i];
	return min;
}

/* One random operation on a random pool member; counts wrong results in *wrong. */
static void random_step(struct braid_heap *h, struct tracked *pool, struct braid_rng *rng,
			unsigned *wrong)
{
	struct tracked *t = &pool[braid_rng_next(rng) % POOL];
	uint64_t new_key = braid_rng_next(rng) % 1000;
	/* Half the draws push, so the heap settles around 300 elements. */
	unsigned op = (unsigned)(braid_rng_next(rng) % 8);
	bool in_heap = t->index != SIZE_MAX;

	if (op >= 4 && !in_heap) {
		t->key = new_key;
		*wrong += braid_heap_push(h, &t) != 0;
	} else if (op == 1 && in_heap) {
		struct tracked *removed = NULL;
		size_t at = t->index;
		braid_heap_remove(h, at, &removed);
		*wrong += removed != t;
		t->index = SIZE_MAX;
	} else if ((op == 0 || op == 2) && in_heap) {
		t->key = new_key;
		braid_heap_update(h, t->index);
	} else if (op == 3 && braid_heap_len(h) > 0) {
		const struct tracked *expected = reference_min(pool);
		struct tracked *popped = NULL;
		braid_heap_pop(h, &popped);
		/* Ties may come out in any order: the key is what must match. */
		*wrong += popped->key != expected->key;
		popped->index = SIZE_MAX;
	}
}

static void test_random_operations_with_indexes(void)
{
	static struct tracked pool[POOL];
	struct braid_heap h;
	struct braid_rng rng;
	unsigned wrong = 0, inconsistent = 0;
	size_t largest = 0;

	for (size_t i = 0; i < POOL; i++)
		pool[i] = (struct tracked){ .key = 0, .index = SIZE_MAX };
	braid_rng_seed(&rng, 3);
	braid_heap_init(&h, sizeof(struct tracked *), tracked_before, tracked_moved);
	for (int step = 0; step < STEPS; step++) {
		random_step(&h, pool, &rng, &wrong);
		inconsistent += check_consistent(&h, pool);
		if (braid_heap_len(&h) > largest)
			largest = braid_heap_len(&h);
	}
	printf("heap: %d random steps, up to %zu elements\n", STEPS, largest);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(inconsistent, 0);
	CHECK(largest > 100); /* the array grew past its first allocation */
	/* Drained, the keys come out sorted. */
	uint64_t previous = 0;
	unsigned unsorted = 0;
	struct tracked *t;
	while (braid_heap_pop(&h, &t)) {
		unsorted += t->key < previous;
		previous = t->key;
	}
	CHECK_EQ(unsorted, 0);
	braid_heap_free(&h);
}

int main(void)
{
	RUN_TEST(test_drains_in_sorted_order);
	RUN_TEST(test_counter_keeps_ties_in_order);
	RUN_TEST(test_empty_heap);
	RUN_TEST(test_random_operations_with_indexes);
	return braid_test_finish();
}
