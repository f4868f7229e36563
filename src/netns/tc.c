/* TBF and netem requests, the qdisc dump and its parser (netns/tc.h). The layouts follow the
 * kernel's <linux/pkt_sched.h>; where the kernel would accept several equivalent encodings,
 * the one tc sends is used, so a capture of tc is a test of these builders. */
#include "netns/tc.h"

#include "netns/msg.h"

#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/gen_stats.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define TICKS_PER_US 15.625
#define US_PER_S 1000000.0
/* tc's rate table covers packets up to 2047 bytes in 256 cells: cells of 8 bytes. */
#define RTAB_CELLS 256
#define RTAB_MTU 2047u

uint32_t braid_tc_ticks(uint32_t us)
{
	return (uint32_t)(us * TICKS_PER_US);
}

uint32_t braid_tc_xmit_ticks(uint32_t rate_bytes_per_s, uint32_t bytes)
{
	/* tc divides first and truncates to whole microseconds before scaling: the table's
	 * entries are those numbers exactly, rounding artefacts included. */
	uint32_t us = (uint32_t)(US_PER_S * ((double)bytes / (double)rate_bytes_per_s));

	return braid_tc_ticks(us);
}

uint32_t braid_tc_probability(double p)
{
	double scaled = p * (double)UINT32_MAX + 0.5;

	if (p <= 0)
		return 0;
	return scaled >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)scaled;
}

static struct nlmsghdr *qdisc_request(void *buf, uint32_t seq, uint16_t type, uint16_t flags,
				      int ifindex)
{
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;

	/* libmnl 1.0.4 leaves attribute padding as it finds it: start from zeros so a
	 * request never carries stale bytes. */
	memset(buf, 0, BRAID_NL_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = seq;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	return nlh;
}

static uint16_t op_flags(enum braid_tc_op op)
{
	switch (op) {
	case BRAID_TC_ADD:
		return NLM_F_CREATE | NLM_F_EXCL;
	case BRAID_TC_REPLACE:
		return NLM_F_CREATE | NLM_F_REPLACE;
	case BRAID_TC_CHANGE:
		break;
	}
	return 0;
}

/* tc opens TCA_OPTIONS without the NLA_F_NESTED flag libmnl sets (the kernel takes either);
 * clearing it keeps the request tc's, byte for byte. */
static struct nlattr *options_start(struct nlmsghdr *nlh)
{
	struct nlattr *options = mnl_attr_nest_start(nlh, TCA_OPTIONS);

	options->nla_type &= (uint16_t)~NLA_F_NESTED;
	return options;
}

/* The rate table: the time to send a packet of each 8-byte size class, and the cell size's
 * log in the ratespec, as the kernel's older users of rtab expect. */
static void rate_table(struct tc_ratespec *rate, uint32_t *rtab)
{
	unsigned cell_log = 0;

	while ((RTAB_MTU >> cell_log) > 255)
		cell_log++;
	for (unsigned i = 0; i < RTAB_CELLS; i++)
		rtab[i] = braid_tc_xmit_ticks(rate->rate, (i + 1) << cell_log);
	rate->cell_log = (uint8_t)cell_log;
	rate->cell_align = -1;
	rate->linklayer = TC_LINKLAYER_ETHERNET;
}

struct nlmsghdr *braid_tc_tbf(void *buf, uint32_t seq, int ifindex, enum braid_tc_op op,
			      const struct braid_tbf *tbf)
{
	struct nlmsghdr *nlh = qdisc_request(buf, seq, RTM_NEWQDISC, op_flags(op), ifindex);
	struct tc_tbf_qopt qopt;
	uint32_t rtab[RTAB_CELLS];
	struct nlattr *options;
	uint64_t rate64 = tbf->rate_bytes_per_s;

	memset(&qopt, 0, sizeof(qopt));
	/* Rates of 2^32 bytes/s and more travel in TCA_TBF_RATE64; the 32-bit field saturates. */
	qopt.rate.rate = rate64 >= (UINT64_C(1) << 32) ? UINT32_MAX : (uint32_t)rate64;
	qopt.limit = tbf->limit_bytes;
	rate_table(&qopt.rate, rtab);
	qopt.buffer = braid_tc_xmit_ticks(qopt.rate.rate, tbf->burst_bytes);
	mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
	options = options_start(nlh);
	mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(qopt), &qopt);
	mnl_attr_put_u32(nlh, TCA_TBF_BURST, tbf->burst_bytes);
	if (rate64 >= (UINT64_C(1) << 32))
		mnl_attr_put_u64(nlh, TCA_TBF_RATE64, rate64);
	mnl_attr_put(nlh, TCA_TBF_RTAB, sizeof(rtab), rtab);
	mnl_attr_nest_end(nlh, options);
	return nlh;
}

static void put_ge_loss(struct nlmsghdr *nlh, const struct braid_netem *netem)
{
	struct tc_netem_gemodel ge = {
		.p = braid_tc_probability(netem->ge_p),
		.r = braid_tc_probability(netem->ge_r),
		/* netem keeps h, the chance of delivery in the bad state: 1 - (1-h). */
		.h = UINT32_MAX - braid_tc_probability(netem->ge_loss_bad),
		.k1 = braid_tc_probability(netem->ge_loss_good),
	};
	struct nlattr *loss = mnl_attr_nest_start(nlh, TCA_NETEM_LOSS);

	mnl_attr_put(nlh, NETEM_LOSS_GE, sizeof(ge), &ge);
	mnl_attr_nest_end(nlh, loss);
}

struct nlmsghdr *braid_tc_netem(void *buf, uint32_t seq, int ifindex, enum braid_tc_op op,
				const struct braid_netem *netem)
{
	struct nlmsghdr *nlh = qdisc_request(buf, seq, RTM_NEWQDISC, op_flags(op), ifindex);
	struct tc_netem_qopt *qopt;
	struct nlattr *options;

	mnl_attr_put_strz(nlh, TCA_KIND, "netem");
	/* netem's options are not a plain nest: its fixed struct comes first, the attributes
	 * after it. */
	options = options_start(nlh);
	qopt = mnl_nlmsg_put_extra_header(nlh, sizeof(*qopt));
	qopt->latency = braid_tc_ticks((uint32_t)netem->delay_us);
	qopt->jitter = braid_tc_ticks((uint32_t)netem->jitter_us);
	qopt->limit = netem->limit_packets;
	if (!netem->gilbert_elliott)
		qopt->loss = braid_tc_probability(netem->loss);
	else
		put_ge_loss(nlh, netem);
	mnl_attr_nest_end(nlh, options);
	return nlh;
}

struct nlmsghdr *braid_tc_del_root(void *buf, uint32_t seq, int ifindex)
{
	return qdisc_request(buf, seq, RTM_DELQDISC, 0, ifindex);
}

struct nlmsghdr *braid_tc_dump(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = qdisc_request(buf, seq, RTM_GETQDISC, NLM_F_DUMP, 0);
	struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);

	nlh->nlmsg_flags &= (uint16_t)~NLM_F_ACK;
	tcm->tcm_parent = 0;
	return nlh;
}

/* ---- parsing ---- */

static int keep_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **table = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= TCA_MAX && mnl_attr_type_valid(attr, TCA_MAX) > 0)
		table[type] = attr;
	return MNL_CB_OK;
}

/* Whether attr, inside nest, is a whole attribute: libmnl's nested loop macro casts the
 * const away, which this project's warnings refuse, so the loops below walk it by hand. */
static bool nested_ok(const struct nlattr *nest, const struct nlattr *attr)
{
	const char *end = (const char *)mnl_attr_get_payload(nest) + mnl_attr_get_payload_len(nest);
	return mnl_attr_ok(attr, (int)(end - (const char *)attr));
}

static void parse_stats2(const struct nlattr *stats, struct braid_qdisc_info *out)
{
	for (const struct nlattr *attr = mnl_attr_get_payload(stats); nested_ok(stats, attr);
	     attr = mnl_attr_next(attr)) {
		uint16_t type = mnl_attr_get_type(attr);
		uint16_t len = mnl_attr_get_payload_len(attr);

		if (type == TCA_STATS_BASIC && len >= sizeof(struct gnet_stats_basic)) {
			struct gnet_stats_basic basic;

			memcpy(&basic, mnl_attr_get_payload(attr), sizeof(basic));
			out->bytes = basic.bytes;
			out->packets = basic.packets;
		} else if (type == TCA_STATS_QUEUE && len >= sizeof(struct gnet_stats_queue)) {
			struct gnet_stats_queue queue;

			memcpy(&queue, mnl_attr_get_payload(attr), sizeof(queue));
			out->drops = queue.drops;
			out->overlimits = queue.overlimits;
			out->qlen = queue.qlen;
			out->backlog_bytes = queue.backlog;
		}
	}
}

static void parse_tbf_options(const struct nlattr *options, struct braid_qdisc_info *out)
{
	for (const struct nlattr *attr = mnl_attr_get_payload(options); nested_ok(options, attr);
	     attr = mnl_attr_next(attr)) {
		uint16_t type = mnl_attr_get_type(attr);
		uint16_t len = mnl_attr_get_payload_len(attr);

		if (type == TCA_TBF_PARMS && len >= sizeof(struct tc_tbf_qopt)) {
			struct tc_tbf_qopt qopt;

			memcpy(&qopt, mnl_attr_get_payload(attr), sizeof(qopt));
			if (out->tbf_rate_bytes_per_s == 0)
				out->tbf_rate_bytes_per_s = qopt.rate.rate;
			out->tbf_limit_bytes = qopt.limit;
		} else if (type == TCA_TBF_RATE64 && len >= sizeof(uint64_t)) {
			out->tbf_rate_bytes_per_s = mnl_attr_get_u64(attr);
		}
	}
}

int braid_tc_parse_qdisc(const struct nlmsghdr *nlh, struct braid_qdisc_info *out)
{
	const struct nlattr *table[TCA_MAX + 1] = { 0 };
	const struct tcmsg *tcm;

	if (nlh->nlmsg_type != RTM_NEWQDISC || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*tcm)))
		return -1;
	memset(out, 0, sizeof(*out));
	tcm = mnl_nlmsg_get_payload(nlh);
	out->ifindex = tcm->tcm_ifindex;
	out->handle = tcm->tcm_handle;
	out->parent = tcm->tcm_parent;
	if (mnl_attr_parse(nlh, sizeof(*tcm), keep_attr, table) < 0)
		return -1;
	if (table[TCA_KIND] && mnl_attr_validate(table[TCA_KIND], MNL_TYPE_NUL_STRING) == 0)
		snprintf(out->kind, sizeof(out->kind), "%s", mnl_attr_get_str(table[TCA_KIND]));
	if (table[TCA_STATS2])
		parse_stats2(table[TCA_STATS2], out);
	if (table[TCA_OPTIONS] && strcmp(out->kind, "tbf") == 0)
		parse_tbf_options(table[TCA_OPTIONS], out);
	return 0;
}
