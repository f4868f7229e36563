#include "core/pktq.h"

#include <stdlib.h>

#include "braid/error.h"

int braid__pktq_init(struct braid__pktq *q, size_t capacity)
{
	q->slots = calloc(capacity, sizeof(*q->slots));
	q->capacity = q->slots ? capacity : 0;
	q->head = q->count = 0;
	return q->slots ? 0 : BRAID_ERR_NOMEM;
}

void braid__pktq_free(struct braid__pktq *q)
{
	for (size_t i = 0; i < q->capacity; i++)
		free(q->slots[i].buf);
	free(q->slots);
	q->slots = NULL;
	q->capacity = q->count = 0;
}

struct braid__pkt *braid__pktq_push(struct braid__pktq *q, size_t len)
{
	if (q->count == q->capacity)
		return NULL;
	struct braid__pkt *p = &q->slots[(q->head + q->count) % q->capacity];
	if (len > p->cap || !p->buf) {
		uint8_t *grown = realloc(p->buf, len ? len : 1);
		if (!grown)
			return NULL;
		p->buf = grown;
		p->cap = len ? len : 1;
	}
	p->len = len;
	p->aux = 0;
	p->addr.len = 0;
	q->count++;
	return p;
}

struct braid__pkt *braid__pktq_peek(struct braid__pktq *q)
{
	return q->count ? &q->slots[q->head] : NULL;
}

void braid__pktq_pop(struct braid__pktq *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % q->capacity;
	q->count--;
}
