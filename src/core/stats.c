/* Sums over the counters of braid/stats.h, kept next to the struct they add up. */
#include "braid/stats.h"

#include "braid/error.h"
#include "core/drops.h"

int braid__drop_count(struct braid_drop_stats *d, int reason)
{
	switch (reason) {
	case BRAID_ERR_TOO_BIG: d->oversized++; break;
	case BRAID_ERR_AUTH: d->auth++; break;
	case BRAID_ERR_REPLAY: d->replay++; break;
	case BRAID_ERR_SESSION: d->unknown_session++; break;
	case BRAID_ERR_LINK: d->unknown_link++; break;
	default: d->malformed++; break;
	}
	return reason;
}

uint64_t braid_drop_stats_total(const struct braid_drop_stats *d)
{
	return d->truncated + d->malformed + d->wrong_direction + d->auth + d->replay +
	       d->stale + d->rate_limited + d->unproven + d->source_full + d->session_conflict +
	       d->held_full + d->unknown_session + d->unknown_link + d->sessions_full +
	       d->links_full + d->no_memory + d->oversized + d->latency_mismatch;
}
