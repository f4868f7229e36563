/* Which link(s) carry each packet. The scheduler is a pure policy over a snapshot of the
 * links; it owns only its rotation state. */
#ifndef BRAID_SCHED_H
#define BRAID_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "core/link.h"

/* The fixed policies. Adaptive mode is not one of them: the sender places its packets
 * itself (sender_adaptive.c) and falls back to roundrobin here while no link is live. */
enum braid_sched_policy {
	BRAID_SCHED_BROADCAST = BRAID_MODE_BROADCAST,
	BRAID_SCHED_ROUNDROBIN = BRAID_MODE_ROUNDROBIN,
	BRAID_SCHED_WEIGHTED = BRAID_MODE_WEIGHTED,
	BRAID_SCHED_BACKUP = BRAID_MODE_BACKUP,
	BRAID_SCHED_POLICY_COUNT
};
/* The policy a sender mode uses when it asks this module (adaptive: roundrobin). */
enum braid_sched_policy braid_sched_policy_for(enum braid_mode mode);

struct braid_sched_link {
	uint16_t id;
	enum braid_link_state state;
	uint32_t weight;   /* weighted: share; 0 means 1 */
	uint32_t priority; /* backup: lower is preferred; ties go to the earlier link */
	int64_t credit;    /* weighted: scheduler-owned running credit, start at 0 */
};

struct braid_sched {
	enum braid_sched_policy policy;
	size_t next; /* roundrobin cursor */
};

void braid_sched_init(struct braid_sched *sched, enum braid_sched_policy policy);

/* Chooses the links for one packet. Writes up to `max` indices into `links` (not ids)
 * to `out` and returns how many. When no link is live, every link is chosen (sending
 * into links of unknown state beats dropping). Returns 0 only when n == 0. */
size_t braid_sched_pick(struct braid_sched *sched, struct braid_sched_link *links, size_t n,
			size_t *out, size_t max);

#endif
