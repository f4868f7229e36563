/* The netns library's rtnetlink messages. TBF and netem requests are compared byte for byte
 * with what iproute2's tc sent for the same parameters (the .hex files of tests/data/netlink,
 * captured once by capture.sh there). Two fields legitimately differ and are normalised, in both
 * messages, before comparing: nlmsg_seq (tc uses the time, braid a counter) and tcm_ifindex
 * (the device's index in the capture's scratch namespace). Nothing else is touched; nlmsg_pid
 * is 0 in both. The other builders are checked by parsing what they wrote; the qdisc parser
 * by a message laid out as the kernel sends it. Needs no privilege. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/gen_stats.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdint.h>
#include <stdlib.h>

#include "netns/msg.h"
#include "netns/tc.h"
#include "harness.h"

#define SEQ_OFFSET 8      /* struct nlmsghdr: len 4, type 2, flags 2, then seq */
#define IFINDEX_OFFSET 20 /* the header (16) and tcmsg's family with its padding (4) */

static const char *data_dir = ".";

/* The bytes of a .hex file: a comment line, then hex pairs separated by spaces. */
static size_t read_capture(const char *name, uint8_t *out, size_t cap)
{
	char path[512], line[256];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.hex", data_dir, name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot read %s\n", path);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		if (line[0] == '#')
			continue;
		for (unsigned long byte; (byte = strtoul(p, &end, 16)), end != p; p = end)
			if (n < cap)
				out[n++] = (uint8_t)byte;
	}
	fclose(f);
	return n;
}

static void normalise(uint8_t *msg, size_t len)
{
	if (len >= IFINDEX_OFFSET + 4) {
		memset(msg + SEQ_OFFSET, 0, 4);
		memset(msg + IFINDEX_OFFSET, 0, 4);
	}
}

static void same_as_tc(const char *capture, const struct nlmsghdr *mine)
{
	uint8_t theirs[BRAID_NL_BUF], ours[BRAID_NL_BUF];
	size_t n = read_capture(capture, theirs, sizeof(theirs));

	braid_test_current = capture;
	CHECK(n > 16);
	CHECK_EQ(mine->nlmsg_len, n);
	if (n == 0 || mine->nlmsg_len != n)
		return;
	memcpy(ours, mine, n);
	normalise(ours, n);
	normalise(theirs, n);
	for (size_t i = 0; i < n; i++)
		if (ours[i] != theirs[i]) {
			fprintf(stderr, "  %s: first difference at byte %zu: %02x, tc %02x\n",
				capture, i, ours[i], theirs[i]);
			CHECK(ours[i] == theirs[i]);
			return;
		}
	CHECK(1);
}

static void test_tbf_as_tc(void)
{
	uint8_t buf[BRAID_NL_BUF];
	/* tc's units: mbit and kbit are 1000s of bits, kb and mb 1024s of bytes. */
	struct braid_tbf add = { 4000000 / 8, 10 * 1024, 30 * 1024 };
	struct braid_tbf change = { 2500000 / 8, 8 * 1024, 20 * 1024 };
	struct braid_tbf fast = { UINT64_C(40000000000) / 8, 1024 * 1024, 2 * 1024 * 1024 };

	same_as_tc("tbf_add", braid_tc_tbf(buf, 7, 3, BRAID_TC_ADD, &add));
	same_as_tc("tbf_change", braid_tc_tbf(buf, 7, 3, BRAID_TC_CHANGE, &change));
	same_as_tc("tbf_rate64", braid_tc_tbf(buf, 7, 3, BRAID_TC_ADD, &fast));
}

static void test_netem_as_tc(void)
{
	uint8_t buf[BRAID_NL_BUF];
	struct braid_netem ge = { .delay_us = 40000, .jitter_us = 5000, .limit_packets = 1000,
				  .gilbert_elliott = true, .ge_p = 0.01, .ge_r = 0.10,
				  .ge_loss_bad = 1.0, .ge_loss_good = 0.0 };
	struct braid_netem random = { .delay_us = 20000, .limit_packets = 2000, .loss = 0.01 };

	same_as_tc("netem_ge", braid_tc_netem(buf, 7, 3, BRAID_TC_ADD, &ge));
	same_as_tc("netem_random", braid_tc_netem(buf, 7, 3, BRAID_TC_ADD, &random));
}

static void test_units(void)
{
	CHECK_EQ(braid_tc_ticks(1000), 15625);
	CHECK_EQ(braid_tc_xmit_ticks(500000, 10240), 320000);
	/* 1992 bytes at 500000 B/s is 3983.99999... us in doubles: tc truncates to 3983. */
	CHECK_EQ(braid_tc_xmit_ticks(500000, 1992), 62234);
	CHECK_EQ(braid_tc_probability(0), 0);
	CHECK_EQ(braid_tc_probability(1), UINT32_MAX);
	CHECK_EQ(braid_tc_probability(0.01), 42949673);
}

/* ---- builders checked by parsing them back ---- */

struct found {
	const struct nlattr *attr[64];
};

static int keep(const struct nlattr *attr, void *data)
{
	struct found *f = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type < 64)
		f->attr[type] = attr;
	return MNL_CB_OK;
}

static void test_veth(void)
{
	uint8_t buf[BRAID_NL_BUF];
	struct nlmsghdr *nlh = braid_nl_veth_new(buf, 9, "s", "link1", 5);
	struct found top = { 0 }, info = { 0 }, data = { 0 }, peer = { 0 };

	CHECK_EQ(nlh->nlmsg_type, RTM_NEWLINK);
	CHECK(nlh->nlmsg_flags & NLM_F_ACK);
	CHECK(nlh->nlmsg_flags & NLM_F_EXCL);
	CHECK_EQ(mnl_attr_parse(nlh, sizeof(struct ifinfomsg), keep, &top), MNL_CB_OK);
	CHECK(top.attr[IFLA_IFNAME] && strcmp(mnl_attr_get_str(top.attr[IFLA_IFNAME]), "s") == 0);
	CHECK(top.attr[IFLA_LINKINFO] != NULL);
	if (!top.attr[IFLA_LINKINFO])
		return;
	mnl_attr_parse_nested(top.attr[IFLA_LINKINFO], keep, &info);
	CHECK(info.attr[IFLA_INFO_KIND] &&
	      strcmp(mnl_attr_get_str(info.attr[IFLA_INFO_KIND]), "veth") == 0);
	CHECK(info.attr[IFLA_INFO_DATA] != NULL);
	if (!info.attr[IFLA_INFO_DATA])
		return;
	mnl_attr_parse_nested(info.attr[IFLA_INFO_DATA], keep, &data);
	CHECK(data.attr[VETH_INFO_PEER] != NULL);
	if (!data.attr[VETH_INFO_PEER])
		return;
	/* The peer nest opens with its own ifinfomsg, then its attributes. */
	const struct nlattr *p = data.attr[VETH_INFO_PEER];
	const uint8_t *payload = mnl_attr_get_payload(p);
	size_t skip = MNL_ALIGN(sizeof(struct ifinfomsg));
	const struct nlattr *a;

	for (a = (const void *)(payload + skip); mnl_attr_ok(a, (int)((const uint8_t *)p +
		     p->nla_len - (const uint8_t *)a)); a = mnl_attr_next(a))
		keep(a, &peer);
	CHECK(peer.attr[IFLA_IFNAME] &&
	      strcmp(mnl_attr_get_str(peer.attr[IFLA_IFNAME]), "link1") == 0);
	CHECK(peer.attr[IFLA_NET_NS_FD] && mnl_attr_get_u32(peer.attr[IFLA_NET_NS_FD]) == 5);
}

static void test_rule_and_route(void)
{
	uint8_t buf[BRAID_NL_BUF];
	struct in_addr src, gw, none = { 0 };
	struct braid_nl_rule r = { .priority = 1001, .table = 300, .src_len = 32,
				   .oifname = "link1" };
	struct found f = { 0 };
	const struct fib_rule_hdr *frh;
	const struct rtmsg *rtm;

	inet_pton(AF_INET, "10.200.1.1", &src);
	inet_pton(AF_INET, "10.200.1.2", &gw);
	r.src = src;
	struct nlmsghdr *nlh = braid_nl_rule_add(buf, 1, &r);

	frh = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(nlh->nlmsg_type, RTM_NEWRULE);
	CHECK_EQ(frh->table, RT_TABLE_UNSPEC); /* 300 only fits FRA_TABLE */
	CHECK_EQ(frh->src_len, 32);
	CHECK_EQ(frh->action, FR_ACT_TO_TBL);
	mnl_attr_parse(nlh, sizeof(*frh), keep, &f);
	CHECK(f.attr[FRA_TABLE] && mnl_attr_get_u32(f.attr[FRA_TABLE]) == 300);
	CHECK(f.attr[FRA_PRIORITY] && mnl_attr_get_u32(f.attr[FRA_PRIORITY]) == 1001);
	CHECK(f.attr[FRA_SRC] && memcmp(mnl_attr_get_payload(f.attr[FRA_SRC]), &src, 4) == 0);
	CHECK(f.attr[FRA_OIFNAME] && strcmp(mnl_attr_get_str(f.attr[FRA_OIFNAME]), "link1") == 0);
	CHECK(f.attr[FRA_IFNAME] == NULL);
	CHECK(f.attr[FRA_DPORT_RANGE] == NULL);

	struct braid_nl_rule by_port = { .priority = 3001, .table = 101, .dport_min = 5000,
					 .dport_max = 5001 };
	struct fib_rule_port_range range;

	memset(&f, 0, sizeof(f));
	nlh = braid_nl_rule_add(buf, 3, &by_port);
	frh = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(frh->src_len, 0);
	mnl_attr_parse(nlh, sizeof(*frh), keep, &f);
	CHECK(f.attr[FRA_SRC] == NULL);
	CHECK(f.attr[FRA_IP_PROTO] && mnl_attr_get_u8(f.attr[FRA_IP_PROTO]) == IPPROTO_UDP);
	CHECK(f.attr[FRA_DPORT_RANGE] != NULL);
	if (f.attr[FRA_DPORT_RANGE]) {
		memcpy(&range, mnl_attr_get_payload(f.attr[FRA_DPORT_RANGE]), sizeof(range));
		CHECK_EQ(range.start, 5000);
		CHECK_EQ(range.end, 5001);
	}

	memset(&f, 0, sizeof(f));
	nlh = braid_nl_route_add(buf, 2, 101, none, 0, gw, 4);
	rtm = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(rtm->rtm_table, 101);
	CHECK_EQ(rtm->rtm_dst_len, 0);
	CHECK_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	mnl_attr_parse(nlh, sizeof(*rtm), keep, &f);
	CHECK(f.attr[RTA_DST] == NULL);
	CHECK(f.attr[RTA_GATEWAY] &&
	      memcmp(mnl_attr_get_payload(f.attr[RTA_GATEWAY]), &gw, 4) == 0);
	CHECK(f.attr[RTA_OIF] && mnl_attr_get_u32(f.attr[RTA_OIF]) == 4);
}

/* ---- the qdisc parser ---- */

static struct nlmsghdr *kernel_tbf_answer(uint8_t *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	struct tc_tbf_qopt qopt = { .limit = 30720 };
	struct gnet_stats_basic basic = { .bytes = 123456789, .packets = 4321 };
	struct gnet_stats_queue queue = { .qlen = 3, .backlog = 4500, .drops = 17,
					  .overlimits = 99 };
	struct nlattr *nest;

	nlh->nlmsg_type = RTM_NEWQDISC;
	tcm->tcm_ifindex = 4;
	tcm->tcm_handle = 0x80010000;
	tcm->tcm_parent = TC_H_ROOT;
	qopt.rate.rate = 500000;
	mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(qopt), &qopt);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, TCA_STATS2);
	mnl_attr_put(nlh, TCA_STATS_BASIC, sizeof(basic), &basic);
	mnl_attr_put(nlh, TCA_STATS_QUEUE, sizeof(queue), &queue);
	mnl_attr_nest_end(nlh, nest);
	return nlh;
}

static void test_parse_qdisc(void)
{
	uint8_t buf[BRAID_NL_BUF];
	struct braid_qdisc_info q;
	struct nlmsghdr *nlh = kernel_tbf_answer(buf);

	CHECK_EQ(braid_tc_parse_qdisc(nlh, &q), 0);
	CHECK_EQ(q.ifindex, 4);
	CHECK_EQ(q.parent, TC_H_ROOT);
	CHECK(strcmp(q.kind, "tbf") == 0);
	CHECK_EQ_U64(q.bytes, 123456789);
	CHECK_EQ_U64(q.packets, 4321);
	CHECK_EQ(q.drops, 17);
	CHECK_EQ(q.overlimits, 99);
	CHECK_EQ(q.qlen, 3);
	CHECK_EQ(q.backlog_bytes, 4500);
	CHECK_EQ_U64(q.tbf_rate_bytes_per_s, 500000);
	CHECK_EQ(q.tbf_limit_bytes, 30720);
	/* Our own TBF request read back as the kernel would echo its options: RATE64 wins. */
	struct braid_tbf fast = { UINT64_C(5000000000), 1 << 20, 2 << 20 };
	nlh = braid_tc_tbf(buf, 1, 4, BRAID_TC_ADD, &fast);
	CHECK_EQ(braid_tc_parse_qdisc(nlh, &q), 0);
	CHECK_EQ_U64(q.tbf_rate_bytes_per_s, UINT64_C(5000000000));
	nlh->nlmsg_type = RTM_NEWLINK;
	CHECK_EQ(braid_tc_parse_qdisc(nlh, &q), -1);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	RUN_TEST(test_tbf_as_tc);
	RUN_TEST(test_netem_as_tc);
	RUN_TEST(test_units);
	RUN_TEST(test_veth);
	RUN_TEST(test_rule_and_route);
	RUN_TEST(test_parse_qdisc);
	return braid_test_finish();
}
