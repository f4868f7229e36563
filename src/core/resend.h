/* Internal: the sender's resend policy — how much of the stream may be spent on resends
 * (a token bucket filled at a share of the input rate, so a burst of NACKs can never turn
 * into a storm) and which links a resend takes. */
#ifndef BRAID_CORE_RESEND_H
#define BRAID_CORE_RESEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct braid__resend_budget {
	double share;        /* of the input rate, e.g. 0.25 */
	double input_bps;    /* smoothed input rate */
	uint64_t input_bytes; /* since the last rate update */
	uint64_t rate_at_us;
	double tokens;       /* bytes */
	uint64_t tokens_at_us;
	bool started;
};

void braid__resend_budget_init(struct braid__resend_budget *b, double share, uint64_t now_us);
/* Media arrived from the encoder. */
void braid__resend_budget_input(struct braid__resend_budget *b, size_t bytes, uint64_t now_us);
/* Whether there is room for a resend of `bytes` (take it once the resend is made). */
bool braid__resend_budget_has(struct braid__resend_budget *b, size_t bytes, uint64_t now_us);
/* Takes room for a resend of `bytes`; false when the budget is spent. */
bool braid__resend_budget_take(struct braid__resend_budget *b, size_t bytes, uint64_t now_us);

/* A link as a resend candidate. */
struct braid__resend_link {
	size_t slot;
	uint64_t one_way_us; /* expected time to arrive if sent now */
};

/* Chooses up to two links for a resend from live candidates: the one expected to deliver
 * first, and the runner-up too when the packet's deadline is close (less than one round
 * trip of slack). Returns how many were written to out (0: none can make the deadline). */
size_t braid__resend_pick(const struct braid__resend_link *links, size_t n, uint64_t now_us,
			  uint64_t deadline_us, size_t out[2]);

#endif
