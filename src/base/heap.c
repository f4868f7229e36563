/* The binary min-heap. Sifting moves a hole rather than swapping: the element being placed
 * waits in the scratch slot past the end of the array, and each element passed over is
 * copied once into the hole. */
#include "base/heap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

enum { HEAP_INITIAL_CAP = 64 };

void braid_heap_init(struct braid_heap *h, size_t element_size, braid_heap_before_fn before,
		     braid_heap_moved_fn moved)
{
	memset(h, 0, sizeof(*h));
	h->element_size = element_size;
	h->before = before;
	h->moved = moved;
}

void braid_heap_free(struct braid_heap *h)
{
	free(h->slots);
	h->slots = NULL;
	h->len = 0;
	h->cap = 0;
}

static void *scratch(const struct braid_heap *h)
{
	return braid_heap_at(h, h->cap);
}

/* Stores a copy of element at index and tells its owner where it now is. */
static void place(struct braid_heap *h, size_t index, const void *element)
{
	void *slot = braid_heap_at(h, index);

	memcpy(slot, element, h->element_size);
	if (h->moved)
		h->moved(slot, index);
}

/* Moves the element at index towards the root past every parent it leaves before. */
static void sift_up(struct braid_heap *h, size_t index)
{
	void *moving = scratch(h);

	memcpy(moving, braid_heap_at(h, index), h->element_size);
	while (index > 0) {
		size_t parent = (index - 1) / 2;

		if (!h->before(moving, braid_heap_at(h, parent)))
			break;
		place(h, index, braid_heap_at(h, parent));
		index = parent;
	}
	place(h, index, moving);
}

/* Moves the element at index towards the leaves past every child that leaves before it. */
static void sift_down(struct braid_heap *h, size_t index)
{
	void *moving = scratch(h);

	memcpy(moving, braid_heap_at(h, index), h->element_size);
	for (;;) {
		size_t child = 2 * index + 1;

		if (child >= h->len)
			break;
		if (child + 1 < h->len &&
		    h->before(braid_heap_at(h, child + 1), braid_heap_at(h, child)))
			child++;
		if (!h->before(braid_heap_at(h, child), moving))
			break;
		place(h, index, braid_heap_at(h, child));
		index = child;
	}
	place(h, index, moving);
}

static int reserve_one_more(struct braid_heap *h)
{
	size_t cap;
	unsigned char *grown;

	if (h->len < h->cap)
		return 0;
	cap = h->cap ? h->cap * 2 : HEAP_INITIAL_CAP;
	if (cap > (SIZE_MAX / h->element_size) - 1)
		return BRAID_ERR_NOMEM;
	grown = realloc(h->slots, (cap + 1) * h->element_size); /* + the scratch slot */
	if (!grown)
		return BRAID_ERR_NOMEM;
	h->slots = grown;
	h->cap = cap;
	return 0;
}

int braid_heap_push(struct braid_heap *h, const void *element)
{
	if (reserve_one_more(h) < 0)
		return BRAID_ERR_NOMEM;
	memcpy(braid_heap_at(h, h->len), element, h->element_size);
	h->len++;
	sift_up(h, h->len - 1);
	return 0;
}

bool braid_heap_pop(struct braid_heap *h, void *out)
{
	if (h->len == 0)
		return false;
	braid_heap_remove(h, 0, out);
	return true;
}

void braid_heap_remove(struct braid_heap *h, size_t index, void *out)
{
	if (out)
		memcpy(out, braid_heap_at(h, index), h->element_size);
	h->len--;
	if (index == h->len)
		return;
	/* The last element fills the gap, then goes whichever way its key says. */
	place(h, index, braid_heap_at(h, h->len));
	braid_heap_update(h, index);
}

void braid_heap_update(struct braid_heap *h, size_t index)
{
	if (index > 0 && h->before(braid_heap_at(h, index), braid_heap_at(h, (index - 1) / 2)))
		sift_up(h, index);
	else
		sift_down(h, index);
}
