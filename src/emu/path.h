/* A link's user-space path in the netns bench (docs/bench-links.md): the IP packets that
 * cross a link namespace are routed into its TUN device, judged by the link's two models
 * (model/model.h) and written back to continue on their way. The kernel's TBF shapes the
 * rate (constant, OU, a trace's); everything else a model does (delay, jitter, loss,
 * outages, duplicates, blackholes) happens here. Packets to the receiver's address go
 * forward, all others return. The path lives on a loop its caller owns and borrows the TUN
 * fd. */
#ifndef BRAID_EMU_PATH_H
#define BRAID_EMU_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/repeats.h"
#include "io/loop.h"
#include "model/model.h"
#include "scenario/scenario.h"

struct braid_emu_path;

/* Whether a link needs its packets in user space: anything its models do beyond a rate, in
 * either direction. */
bool braid_emu_path_needed(const struct braid_emu_link_config *cfg);
/* The model settings the path runs for one direction: the rate, the kernel's, taken out
 * with the queue limits that go with it. */
void braid_emu_path_settings(const struct braid_model_settings *in,
			     struct braid_model_settings *out);

/* receiver: the receiver's IPv4 address in network order. repeats (NULL: none) sees every
 * forward packet and outlives the path. cfg is copied. */
struct braid_emu_path *braid_emu_path_open(struct braid_loop *loop, int tun_fd,
					   uint32_t receiver, struct braid_emu_repeats *repeats,
					   const struct braid_emu_link_config *cfg,
					   char *err, size_t err_len);
/* Drops what is still in flight. */
void braid_emu_path_close(struct braid_emu_path *p);
void braid_emu_path_set_blackhole(struct braid_emu_path *p, bool on);
bool braid_emu_path_blackhole(const struct braid_emu_path *p);
/* New settings from now on, as braid_emu_relay_reconfigure. */
int braid_emu_path_reconfigure(struct braid_emu_path *p, const struct braid_emu_link_config *cfg,
			       char *err, size_t err_len);
/* Totals since open; packets that were not IPv4 are not counted. Packets a model accepted
 * beyond the path's memory (32 MiB in flight) count as dropped_queue. */
void braid_emu_path_get_stats(const struct braid_emu_path *p, uint64_t now_us,
			      struct braid_model_stats *fwd, struct braid_model_stats *rev);

/* The media packets that entered the link forward (emu/repeats.h), totals since open. */
void braid_emu_path_get_media(const struct braid_emu_path *p, struct braid_emu_media_stats *out);

#endif
