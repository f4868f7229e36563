/* The receiver's reorder buffer: removes duplicates, holds packets until their release
 * time and releases them in sequence order, each exactly once. A packet that arrives after
 * its sequence number was released or skipped is late and dropped. Sequence numbers are
 * 64-bit extended values (braid_extend32). Payloads are copied in; the buffer owns them. */
#ifndef BRAID_RXBUF_H
#define BRAID_RXBUF_H

#include <stddef.h>
#include <stdint.h>

struct braid_rxbuf;

enum braid_rxbuf_result {
	BRAID_RXBUF_STORED = 0,
	BRAID_RXBUF_DUPLICATE = 1, /* already held */
	BRAID_RXBUF_LATE = 2,      /* already released or given up as lost */
	BRAID_RXBUF_TOO_FAR = 3,   /* beyond the window: more than capacity ahead of the head */
	BRAID_RXBUF_ERROR = 4,     /* not stored: out of memory, or no payload for a length */
};

struct braid_rxbuf_stats {
	uint64_t stored;
	uint64_t released;
	uint64_t duplicates;
	uint64_t late;
	uint64_t lost;      /* sequence numbers skipped because their turn passed unfilled */
	uint64_t too_far;
};

/* capacity: the most sequence numbers held at once (window), rounded up to a power of two.
 * Returns NULL when out of memory. */
struct braid_rxbuf *braid_rxbuf_new(size_t capacity);
void braid_rxbuf_free(struct braid_rxbuf *rb);

/* Stores a copy of payload. release_at_us: when it may leave. The first packet ever
 * inserted fixes where the sequence starts (earlier numbers arriving later are late). */
enum braid_rxbuf_result braid_rxbuf_insert(struct braid_rxbuf *rb, uint64_t seq,
					   uint64_t release_at_us, const uint8_t *payload,
					   size_t len);

/* Releases the first held packet (in sequence order) if its release time is <= now:
 * copies it to buf, sets *len and *seq (seq may be NULL) and returns 1. Missing sequence
 * numbers ahead of a due packet are skipped and counted lost. 0 when nothing is due;
 * BRAID_ERR_BUFFER when the packet is longer than cap (it stays held). */
int braid_rxbuf_pop(struct braid_rxbuf *rb, uint64_t now_us, uint8_t *buf, size_t cap,
		    size_t *len, uint64_t *seq);

/* The release time of the first held packet in sequence order (the next pop's), UINT64_MAX
 * when empty. Packets leave in sequence order, so a later packet with an earlier release
 * time waits for the ones before it. */
uint64_t braid_rxbuf_next_release(const struct braid_rxbuf *rb);

/* The next sequence number to be released (the head), and whether any packet is held. */
uint64_t braid_rxbuf_head(const struct braid_rxbuf *rb);
size_t braid_rxbuf_held(const struct braid_rxbuf *rb);
/* Payload bytes of the packets held. */
size_t braid_rxbuf_held_bytes(const struct braid_rxbuf *rb);

/* Whether seq is held now (for loss detection). */
int braid_rxbuf_has(const struct braid_rxbuf *rb, uint64_t seq);

void braid_rxbuf_get_stats(const struct braid_rxbuf *rb, struct braid_rxbuf_stats *out);

#endif
