#include "core/paced.h"

#include <stdlib.h>

#include "braid/error.h"

int braid__paced_init(struct braid__paced_queue *q, size_t capacity)
{
	q->items = calloc(capacity, sizeof(*q->items));
	q->capacity = q->items ? capacity : 0;
	q->head = q->count = 0;
	return q->items ? 0 : BRAID_ERR_NOMEM;
}

void braid__paced_free(struct braid__paced_queue *q)
{
	free(q->items);
	q->items = NULL;
	q->capacity = q->head = q->count = 0;
}

bool braid__paced_push(struct braid__paced_queue *q, struct braid__paced_item item)
{
	if (q->count == q->capacity)
		return false;
	q->items[(q->head + q->count++) % q->capacity] = item;
	return true;
}

bool braid__paced_push_front(struct braid__paced_queue *q, struct braid__paced_item item)
{
	if (q->count == q->capacity)
		return false;
	q->head = (q->head + q->capacity - 1) % q->capacity;
	q->items[q->head] = item;
	q->count++;
	return true;
}

const struct braid__paced_item *braid__paced_peek(const struct braid__paced_queue *q)
{
	return q->count ? &q->items[q->head] : NULL;
}

void braid__paced_pop(struct braid__paced_queue *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % q->capacity;
	q->count--;
}

const struct braid__paced_item *braid__paced_at(const struct braid__paced_queue *q, size_t i)
{
	return &q->items[(q->head + i) % q->capacity];
}

void braid__paced_take_tail(struct braid__paced_queue *q, size_t n, struct braid__paced_item *out)
{
	size_t start = q->count - n;
	for (size_t i = 0; i < n; i++)
		out[i] = *braid__paced_at(q, start + i);
	q->count = start;
}

bool braid__paced_contains(const struct braid__paced_queue *q, uint64_t seq)
{
	for (size_t i = 0; i < q->count; i++)
		if (q->items[(q->head + i) % q->capacity].seq == seq)
			return true;
	return false;
}
