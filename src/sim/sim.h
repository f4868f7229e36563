/* The virtual-time simulator: a sender core and a receiver core joined by link models
 * (model/model.h), with no sockets and no clock. Time jumps from one thing to do to the
 * next (a datagram leaving a link, a timeout, the media source's next packet, a scenario
 * event), so an hour of stream takes seconds, and the same scenario and seed always give
 * the same run. docs/sim.md describes the scenario format and the metrics. */
#ifndef BRAID_SIM_H
#define BRAID_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/scenario.h"
#include "braid/sender.h"

#define BRAID_SIM_NAME_MAX 63
#define BRAID_SIM_METRIC_MAX 96
#define BRAID_SIM_PSK_MAX 256
/* Link deaths remembered for the failover metrics; later ones are counted, not kept. */
#define BRAID_SIM_MAX_FAILOVERS 64

/* ---- scenarios (scenario.c) ---- */

enum braid_sim_op { BRAID_SIM_LT, BRAID_SIM_LE, BRAID_SIM_GT, BRAID_SIM_GE, BRAID_SIM_EQ,
		    BRAID_SIM_NE };

/* "expect METRIC OP VALUE" */
struct braid_sim_expect {
	char metric[BRAID_SIM_METRIC_MAX];
	enum braid_sim_op op;
	double value;
	unsigned line;
	char text[BRAID_SIM_METRIC_MAX + 48]; /* as written, for reports */
};

struct braid_sim_link_options {
	uint32_t weight, priority; /* the sender's link config: weighted and backup modes */
	char trace[BRAID_SIM_NAME_MAX + 1]; /* the forward trace's file name, for reports */
};

struct braid_sim_scenario {
	char name[BRAID_SIM_NAME_MAX + 1]; /* the file name without directory and .scn */
	struct braid_emu_scenario emu;     /* links and timed events (docs/emu.md) */
	struct braid_sim_link_options link_options[BRAID_MAX_LINKS];
	/* stream: a constant bitrate media source */
	double stream_rate_bps;       /* default 5 Mbit/s */
	size_t packet_bytes;          /* media datagram size; default 1316 */
	uint64_t stream_start_us;     /* default 0 */
	uint64_t duration_us;         /* default 60 s */
	/* sender (and receiver) settings; psk is filled in from psk_text when the run starts */
	struct braid_sender_settings sender;
	char psk_text[BRAID_SIM_PSK_MAX + 1]; /* "" = unauthenticated */
	uint64_t seed;                /* mixes into every link's seed; default 1 */
	int64_t clock_drift_ppb;      /* the sender's clock runs this much fast (< 0: slow) */
	struct braid_sim_expect *expects;
	size_t expect_count, expect_capacity;
};

void braid_sim_scenario_init(struct braid_sim_scenario *sc);
void braid_sim_scenario_free(struct braid_sim_scenario *sc);
/* Parses a scenario text: the emu format (link, at) plus stream, sender, seed and expect
 * lines. Relative trace paths are taken from base_dir (NULL: the working directory).
 * Everything is checked, events included. 0 or a negative braid_error with err set. */
int braid_sim_scenario_parse(struct braid_sim_scenario *sc, const char *text,
			     const char *origin, const char *base_dir, char *err, size_t err_len);
/* Loads a file; its name (without .scn) names the scenario, its directory is base_dir. */
int braid_sim_scenario_load(struct braid_sim_scenario *sc, const char *path, char *err,
			    size_t err_len);
/* Replaces the traces of the links whose forward path replays one: the i-th such link (in
 * file order) takes the i-th NAME.up in dir (in byte order of the names) forward, and
 * NAME.down, when there is one, for its return path. */
int braid_sim_scenario_use_traces(struct braid_sim_scenario *sc, const char *dir, char *err,
				  size_t err_len);

/* ---- running (sim.c) ---- */

struct braid_sim;

/* NULL with a message in err when the scenario cannot run. The scenario must outlive the
 * simulation (its traces are borrowed). */
struct braid_sim *braid_sim_new(const struct braid_sim_scenario *sc, char *err, size_t err_len);
void braid_sim_free(struct braid_sim *sim);
/* Runs until the virtual time t_us (since the start), or to the end when t_us is beyond
 * it. The end is the stream's end plus time for the last packets to be released. Returns 0,
 * or BRAID_ERR_AGAIN when the cores kept asking to run at the same instant (stuck). */
int braid_sim_run_until(struct braid_sim *sim, uint64_t t_us);
int braid_sim_run(struct braid_sim *sim);
/* Virtual time since the start, and when the run ends. */
uint64_t braid_sim_now(const struct braid_sim *sim);
uint64_t braid_sim_end(const struct braid_sim *sim);

/* ---- metrics (metrics.c) ---- */

struct braid_sim_link_metrics {
	char name[BRAID_EMU_NAME_MAX + 1];
	double throughput_mbps; /* media payload delivered to the receiver on it / stream time */
	double share;           /* its part of the data datagrams the receiver got */
	uint64_t packets;       /* data datagrams the sender put on it, resends included */
	uint64_t delivered;     /* data datagrams it delivered */
	uint64_t lost;          /* datagrams of any kind its forward model dropped */
	double loss;            /* lost / offered */
	uint32_t down_events;   /* the sender marked it down */
	double mean_rtt_ms;     /* the sender's smoothed RTT, averaged over samples while live */
};

/* One link death: from the moment its model drops everything (an outage or a blackhole,
 * either direction) to when it carries data again. Times since the start; UINT64_MAX when
 * it did not happen. */
struct braid_sim_failover {
	char link[BRAID_EMU_NAME_MAX + 1];
	uint64_t dead_us;      /* the model started dropping everything */
	uint64_t detected_us;  /* the sender marked the link down */
	uint64_t back_us;      /* the model carries datagrams again */
	uint64_t usable_us;    /* the sender marked it live again */
	uint64_t recovered_us; /* the first data datagram it delivered after back_us */
};

struct braid_sim_metrics {
	double simulated_s, stream_s;
	uint64_t sent, delivered, lost, late, duplicates, out_of_order, corrupt;
	double residual_loss;   /* (sent - delivered) / sent */
	double throughput_mbps; /* media released / stream time */
	uint64_t retransmitted;
	double retransmission_rate; /* resends / media datagrams sent */
	uint64_t resent_nack, resent_failover, resent_timeout; /* retransmitted, by cause */
	uint64_t copies_hedge, copies_redundancy; /* second copies of new packets */
	uint64_t stalls;
	/* release time - send time, in ms */
	double latency_min_ms, latency_median_ms, latency_p99_ms, latency_max_ms;
	/* the same less the fastest path's delay (the least arrival - send time of a media
	 * datagram), which the budget should be; budget_error_ms: the farther of the two from
	 * the budget. NaN when nothing arrived. */
	double fastest_path_ms, over_path_min_ms, over_path_max_ms, budget_error_ms;
	double clock_drift_ppm; /* the sender's clock, as the scenario set it */
	size_t link_count;
	struct braid_sim_link_metrics links[BRAID_MAX_LINKS];
	size_t failover_count; /* deaths recorded (<= BRAID_SIM_MAX_FAILOVERS) */
	struct braid_sim_failover failovers[BRAID_SIM_MAX_FAILOVERS];
	uint64_t failovers_detected, failovers_undetected, spurious_downs;
	double max_detection_ms, mean_detection_ms, max_recovery_ms;
	/* the output per bucket of send time: whole when every packet was released */
	double bucket_ms;
	uint64_t buckets, whole_buckets, gaps; /* gaps: runs of consecutive missing packets */
	double longest_gap_ms;
	bool stuck;
};

/* Final once the run has ended; a snapshot of the counters otherwise. */
const struct braid_sim_metrics *braid_sim_metrics(struct braid_sim *sim);

/* A metric by its name in docs/sim.md ("residual_loss", "link.lte1.throughput_mbps",
 * "failover.max_detection_ms"...). 0, or BRAID_ERR_INVAL for an unknown name. A failover
 * figure with no failover to measure is NaN. */
int braid_sim_metric(const struct braid_sim_metrics *m, const char *name, double *value);
/* Whether a metric name is known for a scenario (its links). */
bool braid_sim_metric_known(const struct braid_sim_scenario *sc, const char *name);

/* Evaluates every expectation; pass[i] (optional, expect_count entries) gets each verdict.
 * Returns the number that failed. */
size_t braid_sim_check(const struct braid_sim_scenario *sc, const struct braid_sim_metrics *m,
		       bool *pass);

struct braid_sim_bound; /* sim/bound.h */

/* The metrics as one JSON object (docs/sim.md), with the clairvoyant bound when one is given
 * (else NULL). Wall-clock figures go last, in "wall", and only when wall_s >= 0, so two runs
 * compare byte for byte without them. */
int braid_sim_write_json(FILE *f, const struct braid_sim_scenario *sc,
			 const struct braid_sim_metrics *m, const struct braid_sim_bound *bound,
			 double wall_s);

/* ---- the plot (svg.c) ---- */

/* Per-link rate (with the model's capacity), RTT and loss over time, and the output's
 * continuity, as a standalone SVG document. 0 or BRAID_ERR_IO. */
int braid_sim_write_svg(FILE *f, struct braid_sim *sim);

/* ---- synthetic traces (trace.c) ---- */

/* Writes a mahimahi trace of an Ornstein-Uhlenbeck rate (the link model's own process):
 * one line per 1500-byte delivery opportunity, for duration_us. 0 or a braid_error. */
int braid_sim_write_trace(FILE *f, const struct braid_ou_settings *ou, uint64_t duration_us,
			  uint64_t seed);

#endif
