/* Queueing disciplines over rtnetlink: TBF and netem requests laid out as iproute2's tc lays
 * them out for the same parameters (tests/unit/test_netlink.c compares the bytes), a dump
 * request for a namespace's qdiscs, and the parser of what the dump returns. Pure: no socket,
 * no clock. Rates are in bytes per second, as the kernel takes them. */
#ifndef BRAID_NETNS_TC_H
#define BRAID_NETNS_TC_H

#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;

enum braid_tc_op {
	BRAID_TC_ADD = 0, /* a new root qdisc; fails when one exists */
	BRAID_TC_CHANGE,  /* new parameters for the root qdisc in place, its queue kept */
	BRAID_TC_REPLACE, /* add, or replace whatever is there */
};

struct braid_tbf {
	uint64_t rate_bytes_per_s;
	uint32_t burst_bytes; /* the bucket: what may leave back to back at line speed */
	uint32_t limit_bytes; /* the queue behind the bucket */
};

/* A root TBF on ifindex. */
struct nlmsghdr *braid_tc_tbf(void *buf, uint32_t seq, int ifindex, enum braid_tc_op op,
			      const struct braid_tbf *tbf);

struct braid_netem {
	uint64_t delay_us, jitter_us;
	uint32_t limit_packets;
	double loss;                  /* independent loss, 0..1 (when !gilbert_elliott) */
	bool gilbert_elliott;
	double ge_p, ge_r;            /* good->bad, bad->good per packet */
	double ge_loss_bad, ge_loss_good; /* netem's 1-h and 1-k */
};

/* A root netem on ifindex (kernels without sch_netem refuse it: see docs/bench-links.md). */
struct nlmsghdr *braid_tc_netem(void *buf, uint32_t seq, int ifindex, enum braid_tc_op op,
				const struct braid_netem *netem);
/* The root qdisc of ifindex deleted. */
struct nlmsghdr *braid_tc_del_root(void *buf, uint32_t seq, int ifindex);
/* RTM_GETQDISC dump: every qdisc of the namespace the request is sent to. */
struct nlmsghdr *braid_tc_dump(void *buf, uint32_t seq);

/* One qdisc from a dump, with its own counters (TCA_STATS2). */
struct braid_qdisc_info {
	int ifindex;
	uint32_t handle, parent;
	char kind[16];
	uint64_t bytes, packets;
	uint32_t drops, overlimits, qlen, backlog_bytes;
	uint64_t tbf_rate_bytes_per_s; /* 0 unless a TBF */
	uint32_t tbf_limit_bytes;
};
/* Parses an RTM_NEWQDISC message. 0, or -1 when it is not one or is malformed. */
int braid_tc_parse_qdisc(const struct nlmsghdr *nlh, struct braid_qdisc_info *out);

/* tc's time units: the kernel's packet scheduler counts in ticks of 64 ns (PSCHED_SHIFT 6,
 * the ratio /proc/net/psched gives), so a microsecond is 15.625 ticks. */
uint32_t braid_tc_ticks(uint32_t us);
/* Time to send `bytes` at `rate` bytes/s, in ticks, truncated as tc truncates it. */
uint32_t braid_tc_xmit_ticks(uint32_t rate_bytes_per_s, uint32_t bytes);
/* A probability as the kernel takes it: a fraction of 2^32 - 1. */
uint32_t braid_tc_probability(double p);

#endif
