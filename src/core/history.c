#include "core/history.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

int braid__history_init(struct braid__history *h, size_t capacity)
{
	size_t cap = 1;
	while (cap < capacity)
		cap <<= 1;
	h->entries = calloc(cap, sizeof(*h->entries));
	h->capacity = h->entries ? cap : 0;
	return h->entries ? 0 : BRAID_ERR_NOMEM;
}

void braid__history_free(struct braid__history *h)
{
	for (size_t i = 0; i < h->capacity; i++)
		free(h->entries[i].payload);
	free(h->entries);
	h->entries = NULL;
	h->capacity = 0;
}

struct braid__history_entry *braid__history_put(struct braid__history *h, uint64_t seq,
						uint64_t now_us, const uint8_t *payload,
						size_t len)
{
	struct braid__history_entry *e = &h->entries[seq & (h->capacity - 1)];
	if (len > e->cap) {
		uint8_t *grown = realloc(e->payload, len);
		if (!grown)
			return NULL;
		e->payload = grown;
		e->cap = len;
	}
	if (len)
		memcpy(e->payload, payload, len);
	e->len = len;
	e->seq = seq;
	e->pushed_us = now_us;
	e->link_mask = 0;
	e->resent_us = 0;
	e->valid = true;
	return e;
}

struct braid__history_entry *braid__history_get(struct braid__history *h, uint64_t seq)
{
	struct braid__history_entry *e = &h->entries[seq & (h->capacity - 1)];
	return e->valid && e->seq == seq ? e : NULL;
}
