#include "core/event_ring.h"

void braid__event_ring_init(struct braid__event_ring *ring, struct braid_event *slots,
			    size_t capacity)
{
	ring->slots = slots;
	ring->capacity = capacity;
	ring->head = 0;
	ring->count = 0;
}

void braid__event_ring_push(struct braid__event_ring *ring, const struct braid_event *ev)
{
	if (ring->count == ring->capacity) {
		ring->head = (ring->head + 1) % ring->capacity;
		ring->count--;
	}
	ring->slots[(ring->head + ring->count) % ring->capacity] = *ev;
	ring->count++;
}

bool braid__event_ring_pop(struct braid__event_ring *ring, struct braid_event *out)
{
	if (ring->count == 0)
		return false;
	*out = ring->slots[ring->head];
	ring->head = (ring->head + 1) % ring->capacity;
	ring->count--;
	return true;
}
