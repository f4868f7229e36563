/* The clairvoyant bound: the highest constant stream rate that any schedule could carry over
 * a scenario's links, knowing every link's future, with (almost) no packet later than its
 * release deadline. braid sim --bound reports it beside the rate a run achieved.
 *
 * Each link offers delivery opportunities: times at which it can finish sending one stream
 * packet. Packet k, sent by the source at t_k, may use an opportunity at tau on a path whose
 * one-way delay is d when t_k <= tau and tau + d <= t_k + d_min + budget, d_min being the
 * fastest path's delay (the receiver releases on the fastest path's timing). Taking the
 * opportunities in time order, each carrying the oldest packet it still can
 * (earliest-deadline-first over the union of every link's opportunities), delivers as many
 * packets as any schedule can; a binary search over the rate then finds the bound.
 * Sans-I/O: the opportunities come from the link models, no clock, no files. */
#ifndef BRAID_SIM_BOUND_H
#define BRAID_SIM_BOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

/* A run is lossless when it loses at most this share of the stream, and so is the bound. */
#define BRAID_SIM_LOSSLESS 1e-4
/* More opportunities than this over a run are refused: about 256 MiB of them. */
#define BRAID_BOUND_MAX_OPPORTUNITIES (UINT64_C(1) << 24)

/* One packet-sized delivery opportunity of one link. */
struct braid_bound_opportunity {
	uint64_t at_us;    /* when the link has finished sending it, since the run's start */
	uint64_t delay_us; /* the path's one-way delay from there to the receiver */
};

/* The opportunities of every link, and the stream that may use them. */
struct braid_bound_problem {
	struct braid_bound_opportunity *opportunities; /* owned; in time order once sorted */
	size_t count, capacity;
	uint64_t fastest_delay_us;  /* d_min: the smallest delay of any opportunity */
	uint64_t budget_us;         /* the receiver's latency budget */
	uint64_t stream_start_us;   /* since the run's start */
	uint64_t duration_us;       /* the stream's */
	size_t packet_bytes;
};

void braid_bound_problem_init(struct braid_bound_problem *p);
void braid_bound_problem_free(struct braid_bound_problem *p);
/* Appends one opportunity; the fastest delay follows the opportunities added. 0,
 * BRAID_ERR_NOMEM, or BRAID_ERR_FULL beyond BRAID_BOUND_MAX_OPPORTUNITIES. */
int braid_bound_add(struct braid_bound_problem *p, uint64_t at_us, uint64_t delay_us);
/* Puts the opportunities in time order; call once all are in. */
void braid_bound_sort(struct braid_bound_problem *p);

/* Packets a constant stream at rate_bps sends (the simulator's source: packet_bytes each,
 * evenly spaced over the duration), and how many of them an optimal schedule delivers in
 * time. 0, BRAID_ERR_NOMEM, BRAID_ERR_FULL for more than 2^26 packets, or BRAID_ERR_INVAL
 * for a rate that is not positive or a stream without packets or duration. */
int braid_bound_deliverable(const struct braid_bound_problem *p, double rate_bps,
			    uint64_t *sent, uint64_t *delivered);
/* The highest rate (bit/s, to within 0.01 %) at which an optimal schedule loses at most
 * max_loss (0 <= max_loss < 1) of the packets; 0 when even the slowest stream loses more.
 * A slower stream asks less of the links over any span of time, so the verdict flips once
 * along the rates (give or take one packet's rounding). 0 or a braid_error. */
int braid_bound_search(const struct braid_bound_problem *p, double max_loss, double *rate_bps);

/* The bound of a scenario's links over its stream. */
struct braid_sim_bound {
	bool unlimited;         /* a link has no rate limit: there is no bound */
	double rate_bps;        /* the highest lossless rate (BRAID_SIM_LOSSLESS) */
	uint64_t opportunities; /* delivery opportunities found over the run */
};

/* Whether a run was lossless: residual loss at most BRAID_SIM_LOSSLESS. */
bool braid_sim_lossless(const struct braid_sim_metrics *m);
/* The run's throughput as a share of the bound (1 = all of it); NaN with no bound. */
double braid_sim_bound_share(const struct braid_sim_bound *b, const struct braid_sim_metrics *m);

/* The forward opportunities of every link come from the link's own model, seeded as the
 * simulator seeds it, with the scenario's events applied at their times (a blackhole
 * removes a link's opportunities, a settings change builds its model anew). Documented
 * simplifications (docs/sim.md): a path's delay is its base delay, jitter left out; random
 * and Gilbert-Elliott loss remove opportunities (an opportunity is lost as a packet on it
 * would be, drawn from the link's loss process with a generator of its own); queue limits
 * and duplication play no part. 0 or a braid_error with a message in err. */
int braid_sim_bound(const struct braid_sim_scenario *sc, struct braid_sim_bound *out, char *err,
		    size_t err_len);

/* The problem braid_sim_bound solves: every link's opportunities, in time order, and the
 * scenario's stream. *unlimited when a link has no rate limit (the problem is then partial).
 * Release p with braid_bound_problem_free, whatever the result. */
int braid_sim_bound_problem(const struct braid_sim_scenario *sc, struct braid_bound_problem *p,
			    bool *unlimited, char *err, size_t err_len);

#endif
