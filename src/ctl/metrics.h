/* braidd's metrics in the Prometheus text format at http://ADDR:PORT/metrics, per session
 * and per link, served by libmicrohttpd on the event loop's thread: its epoll descriptor
 * sits in the loop and its timeouts are a loop timer, so every request reads the sessions
 * where they live, without locks. */
#ifndef BRAID_CTL_METRICS_H
#define BRAID_CTL_METRICS_H

#include <stddef.h>

#include "ctl/manager.h"
#include "io/loop.h"

struct ctl_metrics;

/* listen: ADDR:PORT (port 0: any). */
struct ctl_metrics *ctl_metrics_start(struct braid_loop *loop, struct ctl_manager *m,
				      const char *listen, char *err, size_t err_len);
int ctl_metrics_port(const struct ctl_metrics *s);
void ctl_metrics_stop(struct ctl_metrics *s);

/* The exposition text for every session (a NUL-terminated string to free), or NULL. */
char *ctl_metrics_render(struct ctl_manager *m, size_t *len);

#endif
