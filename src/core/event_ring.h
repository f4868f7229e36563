/* Internal: the bounded FIFO of events the sender and the receiver hand to their owner
 * through poll_event. When the owner stops polling and the ring fills, the oldest event
 * gives way: the latest state of each link is what an owner catching up needs. */
#ifndef BRAID_CORE_EVENT_RING_H
#define BRAID_CORE_EVENT_RING_H

#include <stdbool.h>
#include <stddef.h>

#include "braid/stats.h"

struct braid__event_ring {
	struct braid_event *slots; /* the owner's array of capacity events */
	size_t capacity, head, count;
};

/* An empty ring over the owner's slots (capacity > 0); the ring allocates nothing. */
void braid__event_ring_init(struct braid__event_ring *ring, struct braid_event *slots,
			    size_t capacity);
/* Appends a copy of ev; when full, the oldest event is dropped to make room. */
void braid__event_ring_push(struct braid__event_ring *ring, const struct braid_event *ev);
/* Copies the oldest event into out and removes it; false when empty. */
bool braid__event_ring_pop(struct braid__event_ring *ring, struct braid_event *out);

#endif
