/* Internal: the service side of a link model, a FIFO server whose speed is unlimited, constant,
 * an Ornstein-Uhlenbeck process or a mahimahi trace. It only says when each accepted datagram
 * has finished leaving the bottleneck; loss, queue limits and delay are model.c's. */
#ifndef BRAID_CORE_MODEL_RATE_H
#define BRAID_CORE_MODEL_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "base/rng.h"

/* A power of two: OU rates remembered for reporting the rate in force at an earlier time
 * than the server has reached (the server runs ahead of the clock when there is a backlog). */
#define BRAID__OU_HISTORY 1024

/* A point in time finer than a microsecond, so that serialization times that are not whole
 * microseconds do not drift: us + frac, 0 <= frac < 1. */
struct braid__fine_time {
	uint64_t us;
	double frac;
};

struct braid__ou_path {
	struct braid_ou_settings settings;
	struct braid_rng rng;  /* its own stream: the path depends on time, never on traffic */
	double step_decay;     /* e^{-theta dt} for one update interval */
	double step_spread;    /* sigma sqrt((1 - e^{-2 theta dt}) / (2 theta)) */
	uint64_t frontier;     /* index of the newest interval drawn */
	double history[BRAID__OU_HISTORY]; /* rate of interval i at i % BRAID__OU_HISTORY */
};

struct braid__trace_server {
	const uint32_t *ms;
	size_t len;
	uint64_t period_us;
	uint64_t offset_us;     /* into the trace at start_us, below period_us */
	size_t next_index;      /* the first opportunity nobody has used yet */
	uint64_t next_loop;
	uint64_t partial_bytes; /* room left in the last opportunity used... */
	uint64_t partial_at_us; /* ...which happened at this time */
};

struct braid__rate {
	enum braid_rate_kind kind;
	uint64_t start_us;
	struct braid__fine_time free_at; /* CONSTANT and OU: when the backlog has left */
	double rate_bps;                 /* CONSTANT */
	struct braid__ou_path ou;
	struct braid__trace_server trace;
};

/* Whether the rate part of the settings describes a server that can run. */
bool braid__rate_settings_valid(const struct braid_model_settings *s);
/* The settings must be valid. ou_seed seeds the OU path's own generator. */
void braid__rate_init(struct braid__rate *r, const struct braid_model_settings *s,
		      uint64_t start_us, uint64_t ou_seed);
/* Draws the OU path up to now_us. Calling it on every offer keeps the rate known at now. */
void braid__rate_advance(struct braid__rate *r, uint64_t now_us);
/* Serves a datagram offered at now_us behind everything accepted earlier; returns the time its
 * last bit leaves (rounded up to a microsecond). Times returned never decrease. */
uint64_t braid__rate_serve(struct braid__rate *r, uint64_t now_us, size_t bytes);
/* The service rate in force at now_us in bit/s; 0 when unlimited. For a trace, the rate of its
 * delivery opportunities over the last 100 ms. */
double braid__rate_current_bps(const struct braid__rate *r, uint64_t now_us);

#endif
