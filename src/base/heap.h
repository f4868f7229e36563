/* A binary min-heap of fixed-size elements, ordered by a caller's comparison: the one
 * priority queue behind the event loop's timers, the emulator's departures and the
 * simulator's datagrams in flight.
 *
 * Ownership: the heap owns its array and copies elements in and out by value; when the
 * elements are pointers, what they point to stays the caller's. braid_heap_free releases
 * the array only.
 *
 * Cost: push, pop, remove and update are O(log n) comparisons and copies; top, at and len
 * are O(1). The array doubles when full, so pushes are O(1) amortised allocations.
 *
 * Order: the heap is not stable. Elements equal under `before` leave in no promised
 * order, so a caller that needs first-in first-out ties (the simulator's determinism)
 * puts an insertion counter in its comparison. */
#ifndef BRAID_HEAP_H
#define BRAID_HEAP_H

#include <stdbool.h>
#include <stddef.h>

/* True when a must leave before b (a strict order: false for equal elements). */
typedef bool (*braid_heap_before_fn)(const void *a, const void *b);
/* Told the new index of an element the heap has just stored at `index`, so an element can
 * know where it is for braid_heap_remove and braid_heap_update. */
typedef void (*braid_heap_moved_fn)(void *element, size_t index);

struct braid_heap {
	unsigned char *slots; /* cap elements, then one scratch element */
	size_t len, cap, element_size;
	braid_heap_before_fn before;
	braid_heap_moved_fn moved; /* NULL: nobody tracks indexes */
};

/* An empty heap; allocates nothing until the first push. `moved` may be NULL. */
void braid_heap_init(struct braid_heap *h, size_t element_size, braid_heap_before_fn before,
		     braid_heap_moved_fn moved);
void braid_heap_free(struct braid_heap *h);

static inline size_t braid_heap_len(const struct braid_heap *h)
{
	return h->len;
}

/* The element at index (< len); index 0 is the first to leave. */
static inline void *braid_heap_at(const struct braid_heap *h, size_t index)
{
	return h->slots + index * h->element_size;
}

/* The first to leave, or NULL when empty. */
static inline void *braid_heap_top(const struct braid_heap *h)
{
	return h->len ? h->slots : NULL;
}

/* Copies the element in. 0, or BRAID_ERR_NOMEM (the heap is left as it was). */
int braid_heap_push(struct braid_heap *h, const void *element);
/* Copies the first to leave into out (unless NULL) and takes it out. False when empty. */
bool braid_heap_pop(struct braid_heap *h, void *out);
/* Copies the element at index (< len) into out (unless NULL) and takes it out. */
void braid_heap_remove(struct braid_heap *h, size_t index, void *out);
/* Restores the order after the caller changed the key of the element at index (< len). */
void braid_heap_update(struct braid_heap *h, size_t index);

#endif
