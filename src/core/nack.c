#include "core/nack.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

int braid__nack_init(struct braid__nack_tracker *t, size_t capacity)
{
	size_t cap = 1;
	while (cap < capacity)
		cap <<= 1;
	memset(t, 0, sizeof(*t));
	t->entries = calloc(cap, sizeof(*t->entries));
	t->pending = calloc(cap, sizeof(*t->pending));
	if (!t->entries || !t->pending) {
		braid__nack_free(t);
		return BRAID_ERR_NOMEM;
	}
	t->capacity = cap;
	t->next_at_us = UINT64_MAX;
	return 0;
}

void braid__nack_free(struct braid__nack_tracker *t)
{
	free(t->entries);
	free(t->pending);
	t->entries = NULL;
	t->pending = NULL;
	t->capacity = t->pending_len = 0;
}

static struct braid__nack_entry *entry(struct braid__nack_tracker *t, uint64_t seq)
{
	return &t->entries[seq & (t->capacity - 1)];
}

void braid__nack_missing(struct braid__nack_tracker *t, uint64_t seq, uint64_t first_at_us,
			 uint64_t deadline_us)
{
	struct braid__nack_entry *e = entry(t, seq);
	if ((e->active && e->seq == seq) || t->pending_len == t->capacity)
		return;
	if (e->active) /* an older number in the same slot: far too old to matter now */
		e->active = false;
	*e = (struct braid__nack_entry){ .seq = seq, .deadline_us = deadline_us,
					 .next_at_us = first_at_us, .active = true };
	t->pending[t->pending_len++] = seq;
	if (first_at_us < t->next_at_us)
		t->next_at_us = first_at_us;
}

void braid__nack_resolved(struct braid__nack_tracker *t, uint64_t seq)
{
	struct braid__nack_entry *e = entry(t, seq);
	if (e->active && e->seq == seq)
		e->active = false; /* removed from `pending` at the next collect */
}

/* Adds seq to the ranges; returns false when a new range would not fit. */
static bool add_to_ranges(struct braid_nack *out, uint64_t seq)
{
	if (out->range_count) {
		struct braid_nack_range *last = &out->ranges[out->range_count - 1];
		if ((uint32_t)(last->first + last->count) == (uint32_t)seq && last->count < UINT16_MAX) {
			last->count++;
			return true;
		}
	}
	if (out->range_count == BRAID_NACK_MAX_RANGES)
		return false;
	out->ranges[out->range_count++] = (struct braid_nack_range){ .first = (uint32_t)seq,
								     .count = 1 };
	return true;
}

unsigned braid__nack_collect(struct braid__nack_tracker *t, uint64_t now_us, uint64_t rtt_us,
			     uint64_t repeat_us, unsigned max_asks, struct braid_nack *out)
{
	out->range_count = 0;
	if (now_us < t->next_at_us)
		return 0;
	size_t kept = 0;
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < t->pending_len; i++) {
		uint64_t seq = t->pending[i];
		struct braid__nack_entry *e = entry(t, seq);
		if (!e->active || e->seq != seq)
			continue;
		if (now_us + rtt_us > e->deadline_us || e->asked >= max_asks) {
			e->active = false;
			t->gave_up++;
			continue;
		}
		if (e->next_at_us <= now_us && add_to_ranges(out, seq)) {
			e->asked++;
			t->requested++;
			e->next_at_us = now_us + repeat_us;
		}
		if (e->next_at_us < next)
			next = e->next_at_us;
		t->pending[kept++] = seq;
	}
	t->pending_len = kept;
	t->next_at_us = next;
	return out->range_count;
}
