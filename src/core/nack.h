/* Internal: the receiver's list of missing sequence numbers and when to ask for each
 * again. A number is registered when a later one reveals the gap, asked for once the
 * reorder spread between the links has passed (it may only be on a slower link), then
 * about once per round trip, and given up when a resend could no longer arrive before the
 * packet's release deadline. */
#ifndef BRAID_CORE_NACK_H
#define BRAID_CORE_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

struct braid__nack_entry {
	uint64_t seq;
	uint64_t deadline_us; /* when the reorder buffer will give it up */
	uint64_t next_at_us;  /* when to ask (again) */
	uint16_t asked;       /* NACKs sent for it so far */
	bool active;
};

struct braid__nack_tracker {
	struct braid__nack_entry *entries; /* indexed by seq & (capacity - 1) */
	size_t capacity;                   /* power of two */
	uint64_t *pending;                 /* active seqs, in the order registered */
	size_t pending_len;
	uint64_t next_at_us;               /* earliest next_at among active entries */
	uint64_t requested, gave_up;       /* counters: numbers asked for, abandoned */
};

int braid__nack_init(struct braid__nack_tracker *t, size_t capacity);
void braid__nack_free(struct braid__nack_tracker *t);
/* seq is missing; ask first at first_at_us, give up by deadline_us. Ignored when already
 * tracked or when no room is left (the oldest requests matter most). */
void braid__nack_missing(struct braid__nack_tracker *t, uint64_t seq, uint64_t first_at_us,
			 uint64_t deadline_us);
/* seq arrived (or was released, or skipped): stop asking for it. */
void braid__nack_resolved(struct braid__nack_tracker *t, uint64_t seq);
/* Builds one NACK of the numbers due at now (ranges of consecutive numbers, at most
 * BRAID_NACK_MAX_RANGES). Entries whose resend could not arrive by their deadline
 * (now + rtt_us > deadline) or were asked max_asks times are dropped. Each one asked is
 * due again after repeat_us. Returns the number of ranges written (0: nothing due). */
unsigned braid__nack_collect(struct braid__nack_tracker *t, uint64_t now_us, uint64_t rtt_us,
			     uint64_t repeat_us, unsigned max_asks, struct braid_nack *out);

#endif
