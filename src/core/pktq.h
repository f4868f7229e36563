/* Internal: a bounded FIFO of datagrams. Slots keep their buffers between uses, so a
 * steady stream allocates nothing after warm-up. */
#ifndef BRAID_CORE_PKTQ_H
#define BRAID_CORE_PKTQ_H

#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"

struct braid__pkt {
	uint8_t *buf;
	size_t len, cap;
	uint32_t aux;           /* what the owner needs: a link slot, a session id */
	struct braid_addr addr; /* destination, where the owner needs one */
};

struct braid__pktq {
	struct braid__pkt *slots;
	size_t capacity, head, count;
};

int braid__pktq_init(struct braid__pktq *q, size_t capacity);
void braid__pktq_free(struct braid__pktq *q);
/* A slot at the tail with room for len bytes (len set), or NULL when full or out of memory.
 * The caller fills buf and aux/addr. */
struct braid__pkt *braid__pktq_push(struct braid__pktq *q, size_t len);
/* The head slot, or NULL when empty; valid until the next push. */
struct braid__pkt *braid__pktq_peek(struct braid__pktq *q);
void braid__pktq_pop(struct braid__pktq *q);

#endif
