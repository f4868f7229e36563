/* Internal: the simulator's state, shared by the engine (sim.c), the measurements
 * (metrics.c, report.c) and the plot (svg.c). */
#ifndef BRAID_SIM_INTERNAL_H
#define BRAID_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/heap.h"
#include "model/model.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "sim/sim.h"

#define SIM_NEVER UINT64_MAX
/* Virtual time starts here rather than at 0, which some counters take to mean "never". */
#define SIM_BASE_US UINT64_C(1000000)
/* The wall clock (µs since 1970) both sides read at the start: 2024-01-01 */
#define SIM_WALL_EPOCH_US UINT64_C(1704067200000000)
#define SIM_FWD 0
#define SIM_REV 1
/* Per link and direction, as the emulator's relay: beyond this, datagrams are refused. */
#define SIM_LINK_MAX_BYTES (UINT64_C(32) << 20)
#define SIM_LINK_MAX_DATAGRAMS 262144u
/* Media datagrams carry their index and send time: the rest is filler. */
#define SIM_MEDIA_HEADER 16
/* Released media remembered by index, to catch a packet released twice: a sliding window,
 * so that a week-long run needs no more memory than a minute. */
#define SIM_RELEASED_WINDOW (UINT64_C(1) << 20)
/* The latency histogram: exact below 2^SIM_HIST_BITS us, then 2^(SIM_HIST_BITS - 1) bins
 * per doubling (a bin is at most 1/8192 of its value wide). */
#define SIM_HIST_BITS 14
#define SIM_HIST_BINS ((1u << SIM_HIST_BITS) + 18u * (1u << (SIM_HIST_BITS - 1)))

/* A datagram on its way through a link. */
struct sim_flight {
	uint64_t at, order; /* equal times leave first in, first out */
	uint8_t *buf;
	uint32_t len;
	uint8_t link, dir;
};

/* One sample of one link, taken at the end of a bucket. NaN: nothing to show. */
struct sim_sample {
	float rate_mbps;     /* media payload delivered on it during the bucket */
	float capacity_mbps; /* the forward model's rate (0 while dead; NaN when unlimited) */
	float rtt_ms;        /* the sender's smoothed RTT (NaN while down) */
	float loss;          /* the sender's loss estimate, a fraction */
	uint8_t state;       /* enum braid_link_state */
	uint8_t dead;        /* the link was dead when sampled (capacity 0) */
};

enum sim_mark_kind { SIM_MARK_DOWN, SIM_MARK_UP, SIM_MARK_EVENT };

/* Something to draw at a moment: a link declared down or up, a scenario event. */
struct sim_mark {
	uint64_t t_us; /* since the start */
	size_t event;  /* SIM_MARK_EVENT: its index in the scenario's events */
	uint8_t link;  /* UINT8_MAX: every link */
	uint8_t kind;
};

struct sim_link {
	struct braid_emu_link_config cfg; /* the settings in force, our own copy */
	struct braid_model *model[2];
	struct braid_model_stats base[2]; /* totals of models replaced by events */
	uint64_t last_due[2];             /* keeps a FIFO direction FIFO across changes */
	uint64_t inflight_bytes[2], inflight_count[2], refused[2];
	uint64_t reconfigurations;
	bool blackhole;
	uint16_t id;            /* the sender's link id */
	struct braid_addr addr; /* the sender's address on it, as the receiver sees it */
	enum braid_link_state state;
	/* measurements */
	uint64_t data_sent, data_delivered, payload_delivered, bucket_payload;
	double rtt_sum;
	uint64_t rtt_samples;
	bool dead;      /* its model drops everything now (outage or blackhole) */
	bool ever_live; /* the sender has had it up: later ups are recoveries */
	int failover; /* index of its latest death in failovers[], or -1 */
};

struct braid_sim {
	const struct braid_sim_scenario *sc;
	uint64_t now, end; /* absolute virtual times */
	struct braid_sender *tx;
	struct braid_receiver *rx;
	size_t link_count;
	struct sim_link links[BRAID_MAX_LINKS];
	struct braid_heap in_flight; /* of struct sim_flight, by (at, order) */
	uint64_t order;
	size_t next_event;
	bool stuck, finished;
	/* the media source */
	uint64_t packets_total, pushed;
	double interval_us;
	uint64_t stream_start; /* absolute */
	uint8_t *media;
	/* the sender's clock runs at (1 + drift) times the simulation's (parts per billion) */
	int64_t clock_drift_ppb;
	/* the output: released media by index (a window behind the highest), a histogram of
	 * release - send time, the runs of numbers never released */
	uint64_t *released_bits; /* SIM_RELEASED_WINDOW bits */
	uint32_t *latency_hist;  /* SIM_HIST_BINS */
	uint64_t latency_min_us, latency_max_us;
	uint64_t released, out_of_order, corrupt, highest_released;
	bool any_released;
	uint64_t gaps;
	double longest_gap_ms;
	uint64_t fastest_path_us; /* least arrival - send time of a media datagram */
	/* series */
	uint64_t bucket_us, next_sample;
	size_t bucket_count, samples_taken;
	struct sim_sample *samples; /* [bucket * link_count + link] */
	struct sim_mark *marks;
	size_t mark_count, mark_cap;
	/* the output per bucket of send time: pushed, and released */
	uint32_t *bucket_due, *bucket_released;
	/* failovers */
	struct braid_sim_failover failovers[BRAID_SIM_MAX_FAILOVERS];
	size_t failover_count;
	uint64_t failovers_unrecorded, spurious_downs, next_death_change;
	struct braid_sim_metrics metrics;
};

/* The sender's clock at the simulation's time t, and the first simulation time at which
 * the sender's clock reads at least sender_t (both absolute). */
uint64_t sim_sender_clock(const struct braid_sim *sim, uint64_t t);
uint64_t sim_true_time(const struct braid_sim *sim, uint64_t sender_t);
/* What a link's model seeds are mixed with (braid_emu_new_models) after `reconfigurations`
 * settings changes in a run of a scenario seeded `scenario_seed`. */
uint64_t sim_model_reseed(uint64_t scenario_seed, uint64_t reconfigurations);

/* The time packet i of the stream is sent (absolute). */
uint64_t sim_push_time(const struct braid_sim *sim, uint64_t i);

/* metrics.c: what the engine reports as it runs */
int sim_metrics_init(struct braid_sim *sim);
void sim_metrics_free(struct braid_sim *sim);
void sim_on_sender_event(struct braid_sim *sim, const struct braid_event *ev);
void sim_on_data_delivered(struct braid_sim *sim, size_t link, size_t payload_len);
void sim_on_push(struct braid_sim *sim, uint64_t index);
void sim_on_media_arrival(struct braid_sim *sim, const uint8_t *payload, size_t len);
void sim_on_release(struct braid_sim *sim, const uint8_t *buf, long len);
void sim_on_scenario_event(struct braid_sim *sim, const struct braid_emu_event *ev);
/* Follows link deaths (outages and blackholes) at now; sets next_death_change. */
void sim_update_deaths(struct braid_sim *sim);
void sim_take_samples(struct braid_sim *sim);
void sim_finalize_metrics(struct braid_sim *sim);

#endif
