/* braid recv --listen rist://[ADDR]:PORT: a RIST Simple Profile receiver on the loop (RTP
 * on PORT, which must be even, RTCP on PORT + 1), driving the sans-I/O core in
 * src/rist/rx.h, its stream to the usual --output or on as RIST (rist_out.h), and its
 * figures as JSON lines (docs/stats.md, "RIST flows"). */
#ifndef BRAID_APP_RIST_NODE_H
#define BRAID_APP_RIST_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "io/loop.h"
#include "recv_node.h"
#include "rist/rx.h"

struct braid_rist_node_config {
	struct braid_addr listen;      /* the RTP port; RTCP is on the next */
	enum braid_output_kind output; /* UDP, FILE, STDOUT or RIST */
	struct braid_addr output_addr;
	const char *output_path;
	struct braid_rist_rx_config core;
	const char *stats_path;
	uint64_t stats_interval_us;
};

struct braid_rist_node;

struct braid_rist_node *braid_rist_node_open(struct braid_loop *loop,
					     const struct braid_rist_node_config *cfg,
					     char *err, size_t err_len);
/* Gives up every gap and releases what is held (at shutdown). */
void braid_rist_node_flush(struct braid_rist_node *n);
void braid_rist_node_report(struct braid_rist_node *n, bool final);
void braid_rist_node_close(struct braid_rist_node *n);

#endif
