/* The demo's test stream: a paced source of numbered 1316-byte datagrams (the size of
 * seven MPEG-TS packets) and a sink that checks each one arrives once, in order, intact. */
#ifndef BRAID_APP_DEMO_STREAM_H
#define BRAID_APP_DEMO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "io/loop.h"

struct braid_demo_stream_stats {
	uint64_t sent, bytes_sent;
	uint64_t received, bytes_received; /* in order and intact */
	uint64_t missing;                  /* sent, never received */
	uint64_t skipped;                  /* passed over at the output: lost for good */
	uint64_t disordered;               /* arrived after a later one, or twice */
	uint64_t corrupt;
};

struct braid_demo_stream {
	struct braid_loop *loop;
	int source_fd, sink_fd;
	struct braid_addr sink_addr, target;
	struct braid_timer timer;
	uint64_t bitrate, started_us, next_seq;
	bool running;
	uint64_t expected; /* next sequence number the sink wants */
	struct braid_demo_stream_stats stats;
};

int braid_demo_stream_open(struct braid_demo_stream *s, struct braid_loop *loop, uint64_t bitrate,
			   char *err, size_t err_len);
/* Starts sending to target (braid send's input). */
int braid_demo_stream_start(struct braid_demo_stream *s, const struct braid_addr *target);
void braid_demo_stream_stop(struct braid_demo_stream *s);
void braid_demo_stream_close(struct braid_demo_stream *s);
void braid_demo_stream_get_stats(const struct braid_demo_stream *s,
				 struct braid_demo_stream_stats *out);

#endif
