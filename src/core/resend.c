#include "core/resend.h"

#define RATE_WINDOW_US 200000  /* input rate measured over this, then smoothed */
#define BURST_US 500000        /* the bucket holds half a second of budget */
#define MIN_BURST_BYTES 65536  /* and never less: a loss burst at a low rate is still repaired */

void braid__resend_budget_init(struct braid__resend_budget *b, double share, uint64_t now_us)
{
	*b = (struct braid__resend_budget){ .share = share, .rate_at_us = now_us,
					    .tokens = MIN_BURST_BYTES, .tokens_at_us = now_us };
}

void braid__resend_budget_input(struct braid__resend_budget *b, size_t bytes, uint64_t now_us)
{
	/* the first window opens with the first input: a sender idle since it started
	 * (links up, no stream yet) must not measure its first burst over the silence */
	if (!b->started && !b->input_bytes)
		b->rate_at_us = now_us;
	b->input_bytes += bytes;
	uint64_t elapsed = now_us - b->rate_at_us;
	if (elapsed < RATE_WINDOW_US)
		return;
	double bps = (double)b->input_bytes * 8e6 / (double)elapsed;
	b->input_bps = b->started ? b->input_bps * 0.75 + bps * 0.25 : bps;
	b->started = true;
	b->input_bytes = 0;
	b->rate_at_us = now_us;
}

static void refill(struct braid__resend_budget *b, uint64_t now_us)
{
	double bytes_per_us = b->input_bps * b->share / 8e6;
	double cap = bytes_per_us * BURST_US;
	if (cap < MIN_BURST_BYTES)
		cap = MIN_BURST_BYTES;
	b->tokens += bytes_per_us * (double)(now_us - b->tokens_at_us);
	if (b->tokens > cap)
		b->tokens = cap;
	b->tokens_at_us = now_us;
}

bool braid__resend_budget_has(struct braid__resend_budget *b, size_t bytes, uint64_t now_us)
{
	refill(b, now_us);
	return b->tokens >= (double)bytes;
}

bool braid__resend_budget_take(struct braid__resend_budget *b, size_t bytes, uint64_t now_us)
{
	refill(b, now_us);
	if (b->tokens < (double)bytes)
		return false;
	b->tokens -= (double)bytes;
	return true;
}

size_t braid__resend_pick(const struct braid__resend_link *links, size_t n, uint64_t now_us,
			  uint64_t deadline_us, size_t out[2])
{
	size_t best = n, second = n;
	for (size_t i = 0; i < n; i++) {
		if (best == n || links[i].one_way_us < links[best].one_way_us) {
			second = best;
			best = i;
		} else if (second == n || links[i].one_way_us < links[second].one_way_us) {
			second = i;
		}
	}
	if (best == n || now_us + links[best].one_way_us > deadline_us)
		return 0;
	out[0] = links[best].slot;
	uint64_t slack = deadline_us - now_us - links[best].one_way_us;
	if (second != n && slack < 2 * links[best].one_way_us &&
	    now_us + links[second].one_way_us <= deadline_us) {
		out[1] = links[second].slot;
		return 2;
	}
	return 1;
}
