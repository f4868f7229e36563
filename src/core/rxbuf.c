/* Reorder buffer: a ring of capacity slots, the slot of a sequence number being its low
 * bits. Only numbers in [head, head + capacity) are held, so two held packets never share
 * a slot. The first held packet is tracked so that pop and next_release cost O(1) and the
 * search for the next one only ever moves forward (amortised O(1) per sequence number). */
#include "core/rxbuf.h"

#include "braid/error.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct rxbuf_slot {
	uint64_t seq;
	uint64_t release_at_us;
	uint8_t *payload;
	size_t len;
	bool used;
};

struct braid_rxbuf {
	struct rxbuf_slot *slots;
	size_t capacity; /* a power of two */
	uint64_t head;
	uint64_t first_held; /* lowest held sequence number; meaningful when held > 0 */
	size_t held;
	size_t held_bytes; /* payload bytes of the held packets */
	bool started;
	bool released; /* the head has moved past something: it may no longer go back */
	uint64_t highest; /* highest sequence number ever stored */
	struct braid_rxbuf_stats stats;
};

static size_t round_up_pow2(size_t value)
{
	size_t pow2 = 1;

	while (pow2 < value) {
		if (pow2 > SIZE_MAX / 2)
			return 0;
		pow2 *= 2;
	}
	return pow2;
}

struct braid_rxbuf *braid_rxbuf_new(size_t capacity)
{
	struct braid_rxbuf *rb;
	size_t rounded = round_up_pow2(capacity);

	if (rounded == 0)
		return NULL;
	rb = calloc(1, sizeof(*rb));
	if (rb == NULL)
		return NULL;
	rb->slots = calloc(rounded, sizeof(*rb->slots));
	if (rb->slots == NULL) {
		free(rb);
		return NULL;
	}
	rb->capacity = rounded;
	return rb;
}

void braid_rxbuf_free(struct braid_rxbuf *rb)
{
	size_t i;

	if (rb == NULL)
		return;
	for (i = 0; i < rb->capacity; i++)
		free(rb->slots[i].payload);
	free(rb->slots);
	free(rb);
}

static struct rxbuf_slot *slot_of(const struct braid_rxbuf *rb, uint64_t seq)
{
	return &rb->slots[seq & (uint64_t)(rb->capacity - 1)];
}

static bool in_window(const struct braid_rxbuf *rb, uint64_t seq)
{
	return seq >= rb->head && seq - rb->head < rb->capacity;
}

enum braid_rxbuf_result braid_rxbuf_insert(struct braid_rxbuf *rb, uint64_t seq,
					   uint64_t release_at_us, const uint8_t *payload,
					   size_t len)
{
	struct rxbuf_slot *slot;
	uint8_t *copy;

	if (payload == NULL && len > 0)
		return BRAID_RXBUF_ERROR;
	if (!rb->started) {
		rb->head = seq;
		rb->started = true;
	}
	if (seq < rb->head && !rb->released && (rb->held == 0 || rb->highest - seq < rb->capacity)) {
		/* Before the first release, the start is wherever the lowest number is: the
		 * first arrival may have come over a faster link than its predecessors. */
		rb->head = seq;
	}
	if (seq < rb->head) {
		rb->stats.late++;
		return BRAID_RXBUF_LATE;
	}
	if (!in_window(rb, seq) && rb->held == 0) {
		/* Nothing waits, so nothing is reordered: the stream moved on (after an
		 * outage longer than the window). Follow it rather than stall. */
		rb->stats.lost += seq - rb->head;
		rb->head = seq;
		rb->released = true;
	}
	if (!in_window(rb, seq)) {
		rb->stats.too_far++;
		return BRAID_RXBUF_TOO_FAR;
	}
	slot = slot_of(rb, seq);
	if (slot->used) {
		rb->stats.duplicates++;
		return BRAID_RXBUF_DUPLICATE;
	}
	/* malloc(0) may return NULL; one spare byte keeps "NULL means failure" true. */
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		return BRAID_RXBUF_ERROR;
	if (len > 0)
		memcpy(copy, payload, len);
	slot->seq = seq;
	slot->release_at_us = release_at_us;
	slot->payload = copy;
	slot->len = len;
	slot->used = true;
	if (rb->held == 0 || seq < rb->first_held)
		rb->first_held = seq;
	if (rb->stats.stored == 0 || seq > rb->highest)
		rb->highest = seq;
	rb->held++;
	rb->held_bytes += len;
	rb->stats.stored++;
	return BRAID_RXBUF_STORED;
}

/* Moves first_held forward to the next held packet. Every number it passes is below every
 * held one, so the search never revisits a number. */
static void find_first_held(struct braid_rxbuf *rb, uint64_t from)
{
	uint64_t seq = from;

	if (rb->held == 0)
		return;
	while (!slot_of(rb, seq)->used)
		seq++;
	rb->first_held = seq;
}

int braid_rxbuf_pop(struct braid_rxbuf *rb, uint64_t now_us, uint8_t *buf, size_t cap,
		    size_t *len, uint64_t *seq)
{
	struct rxbuf_slot *slot;

	if (rb->held == 0)
		return 0;
	slot = slot_of(rb, rb->first_held);
	if (slot->release_at_us > now_us)
		return 0;
	if (slot->len > cap)
		return BRAID_ERR_BUFFER; /* held for a larger buffer */
	if (slot->len > 0)
		memcpy(buf, slot->payload, slot->len);
	*len = slot->len;
	if (seq != NULL)
		*seq = slot->seq;
	rb->stats.lost += slot->seq - rb->head;
	rb->stats.released++;
	rb->head = slot->seq + 1;
	rb->released = true;
	free(slot->payload);
	slot->payload = NULL;
	rb->held_bytes -= slot->len;
	slot->len = 0;
	slot->used = false;
	rb->held--;
	find_first_held(rb, rb->head);
	return 1;
}

uint64_t braid_rxbuf_next_release(const struct braid_rxbuf *rb)
{
	if (rb->held == 0)
		return UINT64_MAX;
	return slot_of(rb, rb->first_held)->release_at_us;
}

uint64_t braid_rxbuf_head(const struct braid_rxbuf *rb)
{
	return rb->head;
}

size_t braid_rxbuf_held_bytes(const struct braid_rxbuf *rb)
{
	return rb->held_bytes;
}

size_t braid_rxbuf_held(const struct braid_rxbuf *rb)
{
	return rb->held;
}

int braid_rxbuf_has(const struct braid_rxbuf *rb, uint64_t seq)
{
	const struct rxbuf_slot *slot;

	if (!rb->started || !in_window(rb, seq))
		return 0;
	slot = slot_of(rb, seq);
	return slot->used && slot->seq == seq;
}

void braid_rxbuf_get_stats(const struct braid_rxbuf *rb, struct braid_rxbuf_stats *out)
{
	*out = rb->stats;
}
