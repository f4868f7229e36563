/* Internal: a link's queue of data waiting for its pacer (adaptive mode paces each link at
 * its estimated capacity, so the network's queue stays short and a link's backlog is known
 * exactly: it is here). */
#ifndef BRAID_CORE_PACED_H
#define BRAID_CORE_PACED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct braid__paced_item {
	uint64_t seq;
	uint16_t len; /* its payload bytes: given back to the link's backlog when it leaves the
		       * queue, even if the history has forgotten the packet by then */
	uint8_t flags;
};

struct braid__paced_queue {
	struct braid__paced_item *items;
	size_t capacity, head, count;
};

int braid__paced_init(struct braid__paced_queue *q, size_t capacity);
void braid__paced_free(struct braid__paced_queue *q);
/* false when full */
bool braid__paced_push(struct braid__paced_queue *q, struct braid__paced_item item);
/* Before everything else (a resend is urgent). false when full. */
bool braid__paced_push_front(struct braid__paced_queue *q, struct braid__paced_item item);
const struct braid__paced_item *braid__paced_peek(const struct braid__paced_queue *q);
void braid__paced_pop(struct braid__paced_queue *q);
/* The i-th item from the head (i < count). */
const struct braid__paced_item *braid__paced_at(const struct braid__paced_queue *q, size_t i);
/* Whether packet seq waits in the queue. */
bool braid__paced_contains(const struct braid__paced_queue *q, uint64_t seq);
/* Takes the last `n` items off the tail into out, in queue order (n <= count). */
void braid__paced_take_tail(struct braid__paced_queue *q, size_t n, struct braid__paced_item *out);

#endif
