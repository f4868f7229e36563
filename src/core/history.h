/* Internal: the sender's history of recent media, by extended sequence number, for
 * resends after a failover or a NACK. A fixed ring; a newer packet overwrites the one
 * `capacity` numbers older. */
#ifndef BRAID_CORE_HISTORY_H
#define BRAID_CORE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct braid__history_entry {
	uint64_t seq;
	uint64_t pushed_us;  /* when the encoder handed it over; also its wire timestamp */
	uint64_t link_mask;  /* link slots it was sent on */
	uint64_t resent_us;  /* last resend after a NACK, 0 = never */
	uint8_t *payload;    /* owned; grows to the largest payload this slot has held */
	size_t len, cap;
	bool valid;
};

struct braid__history {
	struct braid__history_entry *entries;
	size_t capacity; /* power of two */
};

int braid__history_init(struct braid__history *h, size_t capacity);
void braid__history_free(struct braid__history *h);
/* Copies the payload in. NULL when out of memory. */
struct braid__history_entry *braid__history_put(struct braid__history *h, uint64_t seq,
						uint64_t now_us, const uint8_t *payload,
						size_t len);
/* NULL when seq is not held (never pushed, or overwritten). */
struct braid__history_entry *braid__history_get(struct braid__history *h, uint64_t seq);

#endif
