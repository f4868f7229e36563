/* Counting a dropped datagram under the cause its error code names, the same way on both
 * sides. */
#ifndef BRAID_CORE_DROPS_H
#define BRAID_CORE_DROPS_H

#include "braid/stats.h"

/* Counts one drop for `reason` (a negative braid_error) and returns reason. */
int braid__drop_count(struct braid_drop_stats *d, int reason);

#endif
