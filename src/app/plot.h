/* braid plot: a recorded stats file (docs/stats.md, written by --stats) as an SVG picture:
 * the stream's rate, each link's throughput, RTT, loss and state over time. */
#ifndef BRAID_APP_PLOT_H
#define BRAID_APP_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "braid/common.h"

#define PLOT_MAX_LINKS 32
#define PLOT_KEY_MAX (BRAID_LINK_NAME_MAX + 10) /* "session/name" at the receiver */

/* Values over time. */
struct plot_series {
	double *t, *v;
	size_t n, cap;
};

struct plot_link {
	char key[PLOT_KEY_MAX + 1];
	struct plot_series rate_kbps, rtt_ms, loss_pct, state;
};

struct plot_data {
	bool send;                 /* the sender's file (else the receiver's) */
	size_t lines;              /* stats lines read */
	double t_end;              /* the last line's t */
	struct plot_link links[PLOT_MAX_LINKS];
	size_t link_count;
	/* the stream from one line's totals to the next, kbit/s: recv released; send in, out */
	struct plot_series stream[2];
	size_t stream_count;
	double last_t, last_bytes[2];
};

/* Reads a stats file's lines into data. false with "line N: what" in err. */
bool plot_read(FILE *f, struct plot_data *data, char *err, size_t err_len);
void plot_free(struct plot_data *data);
/* The picture. false when writing failed. */
bool plot_write_svg(FILE *f, const struct plot_data *data, const char *title);

#endif
