/* The live dashboard of braid send and braid recv (--http ADDR:PORT), on the program's
 * event loop: a page with charts (dash_page.html, built into the program), the JSON lines
 * it polls, and Prometheus text at /metrics (docs/dashboard.md).
 *
 * The page's figures are the stats lines themselves: the report hands each JSON line it
 * writes to braid_dash_tap, so the page shows exactly what --stats records. */
#ifndef BRAID_APP_DASH_H
#define BRAID_APP_DASH_H

#include <stdbool.h>
#include <stddef.h>

#include "braid/addr.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "io/loop.h"
#include "report.h"

struct braid_dash;

/* An --http argument: ADDR:PORT (port 0: any). A bad one is a usage error (exit 2). */
void braid_dash_parse_listen(const char *cmd, const char *value, struct braid_addr *out);

/* On failure (the port in use) NULL with the reason in err. */
struct braid_dash *braid_dash_start(struct braid_loop *loop, const struct braid_addr *addr,
				    char *err, size_t err_len);
/* For braid send and braid recv: starts the dashboard on addr and points the node's
 * stats tap at it. Returns NULL after one line on stderr naming cmd when it cannot. */
struct braid_dash *braid_dash_open(struct braid_loop *loop, const struct braid_addr *addr,
				   const char *cmd, braid_report_tap_fn *tap, void **tap_arg);
/* The core /metrics reads; set once the node is open (d may be NULL: no dashboard). */
void braid_dash_watch_sender(struct braid_dash *d, const struct braid_sender *s);
void braid_dash_watch_receiver(struct braid_dash *d, const struct braid_receiver *rx);
/* A braid_report_tap_fn: keeps the latest stats lines and events for the page. */
void braid_dash_tap(void *arg, const char *line, size_t len, bool event);
int braid_dash_port(const struct braid_dash *d);
void braid_dash_stop(struct braid_dash *d);

/* Prometheus text for a sender or a receiver (a NUL-terminated string to free), or NULL
 * (dash_metrics.c). */
char *braid_dash_metrics_sender(const struct braid_sender *s, size_t *len);
char *braid_dash_metrics_receiver(const struct braid_receiver *rx, size_t *len);

#endif
