/* Link selection policies. Each pick looks only at the links' states, weights and
 * priorities as passed in, so links may come and go between calls. */
#include "core/sched.h"

#include <string.h>

enum braid_sched_policy braid_sched_policy_for(enum braid_mode mode)
{
	if ((unsigned)mode >= BRAID_SCHED_POLICY_COUNT)
		return BRAID_SCHED_ROUNDROBIN;
	return (enum braid_sched_policy)mode;
}

void braid_sched_init(struct braid_sched *sched, enum braid_sched_policy policy)
{
	sched->policy = policy;
	sched->next = 0;
}

static bool link_live(const struct braid_sched_link *link)
{
	return braid_link_state_live(link->state);
}

static size_t pick_all(size_t n, size_t *out, size_t max)
{
	size_t i, count = n < max ? n : max;

	for (i = 0; i < count; i++)
		out[i] = i;
	return count;
}

static size_t pick_broadcast(const struct braid_sched_link *links, size_t n, size_t *out,
			     size_t max)
{
	size_t i, count = 0;

	for (i = 0; i < n && count < max; i++) {
		if (link_live(&links[i]))
			out[count++] = i;
	}
	return count;
}

/* The caller guarantees at least one live link. */
static size_t pick_roundrobin(struct braid_sched *sched, const struct braid_sched_link *links,
			      size_t n)
{
	size_t start = sched->next < n ? sched->next : 0;
	size_t step, i = start;

	for (step = 0; step < n; step++) {
		i = (start + step) % n;
		if (link_live(&links[i]))
			break;
	}
	sched->next = i + 1 < n ? i + 1 : 0;
	return i;
}

static int64_t link_weight(const struct braid_sched_link *link)
{
	return link->weight == 0 ? 1 : (int64_t)link->weight;
}

/* Smooth weighted round robin: every live link earns its weight, the richest is chosen
 * and pays the total back. Over any run of total-weight picks from equal starting
 * credits, each link is chosen exactly weight times, spread out rather than in bursts.
 * A link that is not live starts from zero credit when it returns. */
static size_t pick_weighted(struct braid_sched_link *links, size_t n)
{
	int64_t total = 0;
	size_t i, best = n;

	for (i = 0; i < n; i++) {
		if (!link_live(&links[i])) {
			links[i].credit = 0;
			continue;
		}
		links[i].credit += link_weight(&links[i]);
		total += link_weight(&links[i]);
		if (best == n || links[i].credit > links[best].credit)
			best = i;
	}
	links[best].credit -= total;
	return best;
}

static size_t pick_backup(const struct braid_sched_link *links, size_t n)
{
	size_t i, best = n;

	for (i = 0; i < n; i++) {
		if (!link_live(&links[i]))
			continue;
		if (best == n || links[i].priority < links[best].priority)
			best = i;
	}
	return best;
}

static size_t count_live(const struct braid_sched_link *links, size_t n)
{
	size_t i, live = 0;

	for (i = 0; i < n; i++)
		live += link_live(&links[i]);
	return live;
}

size_t braid_sched_pick(struct braid_sched *sched, struct braid_sched_link *links, size_t n,
			size_t *out, size_t max)
{
	if (n == 0 || max == 0)
		return 0;
	if (count_live(links, n) == 0)
		return pick_all(n, out, max);
	switch (sched->policy) {
	case BRAID_SCHED_ROUNDROBIN:
		out[0] = pick_roundrobin(sched, links, n);
		return 1;
	case BRAID_SCHED_WEIGHTED:
		out[0] = pick_weighted(links, n);
		return 1;
	case BRAID_SCHED_BACKUP:
		out[0] = pick_backup(links, n);
		return 1;
	case BRAID_SCHED_BROADCAST:
	case BRAID_SCHED_POLICY_COUNT:
		break;
	}
	/* Unknown policies broadcast: duplicating traffic is the safe failure. */
	return pick_broadcast(links, n, out, max);
}
