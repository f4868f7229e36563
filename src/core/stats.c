/* Sums over the counters of braid/stats.h, kept next to the struct they add up. */
#include "braid/stats.h"

uint64_t braid_drop_stats_total(const struct braid_drop_stats *d)
{
	return d->truncated + d->malformed + d->wrong_direction + d->auth + d->replay +
	       d->stale + d->rate_limited + d->unproven + d->source_full + d->session_conflict +
	       d->held_full + d->unknown_session + d->unknown_link + d->sessions_full +
	       d->links_full + d->no_memory + d->oversized + d->latency_mismatch;
}
