/* Link models: what a network path does to each datagram, decided in advance from a seeded
 * generator. One model is one direction of one link. The emulator (braid emu) and the
 * virtual-time simulator share this code, so a scenario behaves the same in both.
 * Sans-I/O: time comes in as an argument; no clock, no sockets. */
#ifndef BRAID_MODEL_H
#define BRAID_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

enum braid_rate_kind {
	BRAID_RATE_UNLIMITED = 0,
	BRAID_RATE_CONSTANT,
	BRAID_RATE_OU,    /* Ornstein-Uhlenbeck around a mean */
	BRAID_RATE_TRACE, /* mahimahi packet-delivery opportunities, looped */
};

enum braid_loss_kind {
	BRAID_LOSS_NONE = 0,
	BRAID_LOSS_RANDOM,
	BRAID_LOSS_GE, /* Gilbert-Elliott with netem's four parameters */
};

struct braid_ou_settings {
	double mean_bps, sigma_bps, theta; /* theta per second; sigma in bit/s per sqrt(second) */
	uint64_t update_us;                /* how often the rate is redrawn; 0 = 100 ms */
	double floor_bps, ceiling_bps;     /* clamp; ceiling 0 = none */
};

struct braid_ge_settings {
	double p;         /* good -> bad transition probability per packet */
	double r;         /* bad -> good */
	double loss_bad;  /* netem's 1-h */
	double loss_good; /* netem's 1-k */
};

struct braid_outage {
	uint64_t start_us, duration_us; /* relative to the model's start time */
};

#define BRAID_MODEL_MAX_OUTAGES 16

struct braid_model_settings {
	enum braid_rate_kind rate_kind;
	double rate_bps;                /* CONSTANT */
	struct braid_ou_settings ou;    /* OU */
	const uint32_t *trace_ms;       /* TRACE: delivery opportunities in ms, non-decreasing,
					   looped every last-entry ms, each carrying up to 1500
					   bytes; borrowed, must outlive the model */
	size_t trace_len;
	uint64_t trace_offset_us;       /* TRACE: the replay starts this far into the trace
					   (modulo its period), then loops as usual */
	uint64_t delay_us, jitter_us;   /* one-way delay; jitter: uniform whole us in
					   [-jitter_us, +jitter_us], total kept >= 0 */
	bool reorder;                   /* jitter may reorder; otherwise the link stays FIFO */
	enum braid_loss_kind loss_kind;
	double loss;                    /* RANDOM */
	struct braid_ge_settings ge;    /* GE */
	uint64_t queue_bytes;           /* drop-tail limit in bytes (queued until sent); 0 = none */
	uint64_t queue_us;              /* drop when the backlog ahead needs longer than this to be
					   sent at the rate(s) in force; 0 = none */
	double duplicate;               /* probability a datagram is delivered twice; the copy
					   leaves 1 us after the original */
	struct braid_outage outages[BRAID_MODEL_MAX_OUTAGES];
	size_t outage_count;
	uint64_t seed;
};
void braid_model_settings_default(struct braid_model_settings *s);

enum braid_fate_kind {
	BRAID_FATE_DELIVER = 0,
	BRAID_FATE_DROP_LOSS,
	BRAID_FATE_DROP_QUEUE,
	BRAID_FATE_DROP_OUTAGE, /* scheduled outage or manual blackhole */
};

struct braid_fate {
	enum braid_fate_kind kind;
	uint64_t deliver_at_us;   /* when it leaves the link (DELIVER) */
	uint64_t duplicate_at_us; /* 0 = no duplicate; else when the copy leaves */
};

struct braid_model;

/* start_us: the time outages are relative to. The model copies the settings (the trace
 * array stays borrowed). NULL when out of memory or settings invalid. */
struct braid_model *braid_model_new(const struct braid_model_settings *s, uint64_t start_us);
void braid_model_free(struct braid_model *m);

/* Larger datagrams fit no link: they are dropped as DROP_QUEUE. */
#define BRAID_MODEL_MAX_DATAGRAM (1u << 20)

/* Decides the fate of a datagram of `bytes` bytes offered at now_us. Offers must come in
 * non-decreasing time. Same seed, same sequence of offers: same fates. */
struct braid_fate braid_model_offer(struct braid_model *m, uint64_t now_us, size_t bytes);

void braid_model_set_blackhole(struct braid_model *m, bool on);
bool braid_model_blackhole(const struct braid_model *m);

struct braid_model_stats {
	/* delivered and delivered_bytes count originals; duplicated counts the copies */
	uint64_t offered, delivered, dropped_loss, dropped_queue, dropped_outage, duplicated;
	uint64_t offered_bytes, delivered_bytes;
	double rate_bps;         /* current service rate (0 when unlimited; a trace's over the
				    last 100 ms) */
	uint64_t queue_delay_us; /* current queueing delay: until the server has sent its backlog */
};
/* Adds from's counters (not the current rate and queue delay) to `to`: totals that span a
 * settings change, which replaces the models. */
void braid_model_stats_add(struct braid_model_stats *to, const struct braid_model_stats *from);
void braid_model_get_stats(const struct braid_model *m, uint64_t now_us,
			   struct braid_model_stats *out);

#endif
