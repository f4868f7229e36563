/* Which link(s) carry each packet. The scheduler is a pure policy over a snapshot of the
 * links; it owns only its rotation state. */
#ifndef BRAID_SCHED_H
#define BRAID_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "braid/link.h"

enum braid_sched_mode {
	BRAID_SCHED_BROADCAST = 0, /* every packet on every live link */
	BRAID_SCHED_ROUNDROBIN,    /* live links in turn */
	BRAID_SCHED_WEIGHTED,      /* live links in proportion to their weights (smooth) */
	BRAID_SCHED_BACKUP,        /* the live link of best priority; the next one when it fails */
	BRAID_SCHED_ADAPTIVE,      /* each packet where it is expected to arrive first, by the
				      links' measured capacity and delay (the sender decides;
				      here it falls back to roundrobin) */
	BRAID_SCHED_MODE_COUNT
};
const char *braid_sched_mode_name(enum braid_sched_mode mode);
/* Returns the mode for a name, or -1. */
int braid_sched_mode_parse(const char *name);

struct braid_sched_link {
	uint16_t id;
	enum braid_link_state state;
	uint32_t weight;   /* weighted: share; 0 means 1 */
	uint32_t priority; /* backup: lower is preferred; ties go to the earlier link */
	int64_t credit;    /* weighted: scheduler-owned running credit, start at 0 */
};

struct braid_sched {
	enum braid_sched_mode mode;
	size_t next; /* roundrobin cursor */
};

void braid_sched_init(struct braid_sched *sched, enum braid_sched_mode mode);

/* Chooses the links for one packet. Writes up to `max` indices into `links` (not ids)
 * to `out` and returns how many. When no link is live, every link is chosen (sending
 * into links of unknown state beats dropping). Returns 0 only when n == 0. */
size_t braid_sched_pick(struct braid_sched *sched, struct braid_sched_link *links, size_t n,
			size_t *out, size_t max);

#endif
