/* The bench's network (netns/bench.h), built step by step over rtnetlink. Every device lives
 * in a namespace braid made, created there or moved there at birth (a veth's peer is born in
 * its namespace), so removing the namespaces removes everything: nothing is ever added to
 * the namespace braid runs in. */
#include "netns/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns/msg.h"
#include "netns/ns.h"
#include "netns/tun.h"

#define NET_SENDER 200   /* 10.200.I.0/24: sender to link I */
#define NET_RECEIVER 201 /* 10.201.I.0/24: link I to receiver */
#define NET_SERVICE 202  /* 10.202.0.1: the receiver's address */
#define SUBNET_LEN 24
/* The sender's per-link tables and rules; and the link namespace's "into the TUN" table. */
#define TABLE_BASE 100
#define RULE_FROM_BASE 1000
#define RULE_OIF_BASE 2000
#define RULE_PORT_BASE 3000
#define PATH_TABLE 100
#define PATH_RULE 100

struct step {
	struct braid_bench *b;
	char *err;
	size_t err_len;
};

static int fail(struct step *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct step *s, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->err, s->err_len, "%s: %s", what, strerror(-rc));
	return rc;
}

static struct in_addr ipv4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	struct in_addr addr = { htonl((uint32_t)(a << 24 | b << 16 | c << 8 | d)) };

	return addr;
}

struct in_addr braid_bench_link_addr(size_t i)
{
	return ipv4(10, NET_SENDER, (unsigned)i + 1, 1);
}

struct in_addr braid_bench_receiver_addr(void)
{
	return ipv4(10, NET_SERVICE, 0, 1);
}

void braid_bench_link_ifname(size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "link%zu", i + 1);
}

bool braid_bench_prefix_valid(const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0 || n > BRAID_BENCH_PREFIX_MAX || prefix[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = prefix[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* ---- small steps ---- */

static int up(struct braid_rtnl *nl, int ifindex, int forwarding)
{
	char buf[BRAID_NL_BUF];

	return braid_rtnl_talk(nl, braid_nl_link_up(buf, braid_rtnl_next_seq(nl), ifindex,
						    forwarding));
}

static int address(struct braid_rtnl *nl, int ifindex, struct in_addr addr, unsigned len)
{
	char buf[BRAID_NL_BUF];

	return braid_rtnl_talk(nl, braid_nl_addr_add(buf, braid_rtnl_next_seq(nl), ifindex, addr,
						     len));
}

static int route(struct braid_rtnl *nl, uint32_t table, struct in_addr dst, unsigned len,
		 struct in_addr gateway, int oif)
{
	char buf[BRAID_NL_BUF];

	return braid_rtnl_talk(nl, braid_nl_route_add(buf, braid_rtnl_next_seq(nl), table, dst,
						      len, gateway, oif));
}

static int rule(struct braid_rtnl *nl, const struct braid_nl_rule *r)
{
	char buf[BRAID_NL_BUF];

	return braid_rtnl_talk(nl, braid_nl_rule_add(buf, braid_rtnl_next_seq(nl), r));
}

static int veth(struct braid_rtnl *nl, const char *name, const char *peer, int peer_ns)
{
	char buf[BRAID_NL_BUF];

	return braid_rtnl_talk(nl, braid_nl_veth_new(buf, braid_rtnl_next_seq(nl), name, peer,
						     peer_ns));
}

/* A namespace made and a socket opened in it. */
static int make_ns(struct step *s, const char *name, int *fd, struct braid_rtnl *nl)
{
	int rc;

	*fd = braid_netns_create(name);
	if (*fd < 0)
		return fail(s, *fd, "creating namespace %s", name);
	rc = braid_rtnl_open(nl, *fd);
	if (rc < 0)
		return fail(s, rc, "netlink socket in %s", name);
	rc = up(nl, 1, 0); /* loopback is index 1 in every namespace */
	return rc < 0 ? fail(s, rc, "loopback up in %s", name) : 0;
}

/* Whether the kernel makes an IFB device: one is made in the sender namespace and removed. */
static bool probe_ifb(struct braid_rtnl *nl)
{
	char buf[BRAID_NL_BUF];
	int index;

	if (braid_rtnl_talk(nl, braid_nl_link_new(buf, braid_rtnl_next_seq(nl), "probe-ifb",
						  "ifb")) != 0)
		return false;
	index = braid_rtnl_ifindex(nl, "probe-ifb");
	if (index > 0)
		braid_rtnl_talk(nl, braid_nl_link_del(buf, braid_rtnl_next_seq(nl), index));
	return true;
}

/* Whether the kernel has netem: one is put on the sender namespace's loopback and removed. */
static bool probe_netem(struct braid_rtnl *nl)
{
	char buf[BRAID_NL_BUF];
	struct braid_netem netem = { .limit_packets = 1000 };

	if (braid_rtnl_talk(nl, braid_tc_netem(buf, braid_rtnl_next_seq(nl), 1, BRAID_TC_ADD,
					       &netem)) != 0)
		return false;
	braid_rtnl_talk(nl, braid_tc_del_root(buf, braid_rtnl_next_seq(nl), 1));
	return true;
}

/* ---- one link ---- */

static int index_of(struct step *s, struct braid_rtnl *nl, const char *ns, const char *name)
{
	int index = braid_rtnl_ifindex(nl, name);

	return index < 0 ? fail(s, index, "device %s in %s", name, ns) : index;
}

/* The two veth pairs and the link namespace's own addresses and routes. */
static int wire_link(struct step *s, size_t i, struct braid_bench_link *l)
{
	struct braid_bench *b = s->b;
	unsigned n = (unsigned)i + 1;
	char ifname[16];
	int rc;

	braid_bench_link_ifname(i, ifname, sizeof(ifname));
	if ((rc = veth(&l->nl, "s", ifname, b->tx_fd)) < 0 ||
	    (rc = veth(&l->nl, "r", ifname, b->rx_fd)) < 0)
		return fail(s, rc, "veth pairs of %s", l->ns_name);
	if ((l->ifindex[BRAID_BENCH_REV] = index_of(s, &l->nl, l->ns_name, "s")) < 0 ||
	    (l->ifindex[BRAID_BENCH_FWD] = index_of(s, &l->nl, l->ns_name, "r")) < 0)
		return -ENODEV;
	if ((rc = address(&l->nl, l->ifindex[BRAID_BENCH_REV], ipv4(10, NET_SENDER, n, 2),
			  SUBNET_LEN)) < 0 ||
	    (rc = address(&l->nl, l->ifindex[BRAID_BENCH_FWD], ipv4(10, NET_RECEIVER, n, 1),
			  SUBNET_LEN)) < 0 ||
	    (rc = up(&l->nl, l->ifindex[BRAID_BENCH_REV], 1)) < 0 ||
	    (rc = up(&l->nl, l->ifindex[BRAID_BENCH_FWD], 1)) < 0)
		return fail(s, rc, "addresses in %s", l->ns_name);
	rc = route(&l->nl, RT_TABLE_MAIN, braid_bench_receiver_addr(), 32,
		   ipv4(10, NET_RECEIVER, n, 2), l->ifindex[BRAID_BENCH_FWD]);
	return rc < 0 ? fail(s, rc, "route to the receiver in %s", l->ns_name) : 0;
}

/* The rules choosing link i's table in the sender namespace, in this order of priority:
 * its source address, its interface, its UDP ports (with --netns-ports). */
static int sender_rules(struct braid_rtnl *nl, size_t i, const char *ifname, uint16_t dport)
{
	uint32_t n = (uint32_t)i + 1;
	struct braid_nl_rule by_source = { .priority = RULE_FROM_BASE + n, .table = TABLE_BASE + n,
					   .src = braid_bench_link_addr(i), .src_len = 32 };
	struct braid_nl_rule by_device = { .priority = RULE_OIF_BASE + n, .table = TABLE_BASE + n,
					   .oifname = ifname };
	struct braid_nl_rule by_port = { .priority = RULE_PORT_BASE + n, .table = TABLE_BASE + n,
					 .dport_min = dport, .dport_max = (uint16_t)(dport + 1) };
	int rc;

	if ((rc = rule(nl, &by_source)) < 0 || (rc = rule(nl, &by_device)) < 0)
		return rc;
	return dport ? rule(nl, &by_port) : 0;
}

/* The sender's end: its address, a table whose default goes through link i, and the rules
 * choosing that table. */
static int sender_end(struct step *s, size_t i, const struct braid_bench_link_plan *plan)
{
	struct braid_bench *b = s->b;
	unsigned n = (unsigned)i + 1;
	struct in_addr any = { 0 };
	char ifname[16];
	int index, rc;

	braid_bench_link_ifname(i, ifname, sizeof(ifname));
	if ((index = index_of(s, &b->tx_nl, b->tx_name, ifname)) < 0)
		return index;
	if ((rc = address(&b->tx_nl, index, braid_bench_link_addr(i), SUBNET_LEN)) < 0 ||
	    (rc = up(&b->tx_nl, index, 0)) < 0)
		return fail(s, rc, "%s in %s", ifname, b->tx_name);
	rc = route(&b->tx_nl, TABLE_BASE + n, any, 0, ipv4(10, NET_SENDER, n, 2), index);
	if (rc < 0)
		return fail(s, rc, "default route of table %u in %s", TABLE_BASE + n, b->tx_name);
	rc = sender_rules(&b->tx_nl, i, ifname, plan->dport);
	return rc < 0 ? fail(s, rc, "rules for %s in %s", ifname, b->tx_name) : 0;
}

/* The receiver's end: its interface for link i and the route back to link i's sender
 * subnet through it. */
static int receiver_end(struct step *s, size_t i)
{
	struct braid_bench *b = s->b;
	unsigned n = (unsigned)i + 1;
	char ifname[16];
	int index, rc;

	braid_bench_link_ifname(i, ifname, sizeof(ifname));
	if ((index = index_of(s, &b->rx_nl, b->rx_name, ifname)) < 0)
		return index;
	if ((rc = address(&b->rx_nl, index, ipv4(10, NET_RECEIVER, n, 2), SUBNET_LEN)) < 0 ||
	    (rc = up(&b->rx_nl, index, 0)) < 0)
		return fail(s, rc, "%s in %s", ifname, b->rx_name);
	rc = route(&b->rx_nl, RT_TABLE_MAIN, ipv4(10, NET_SENDER, n, 0), SUBNET_LEN,
		   ipv4(10, NET_RECEIVER, n, 1), index);
	return rc < 0 ? fail(s, rc, "route back to link %u in %s", n, b->rx_name) : 0;
}

/* Packets arriving from either veth go into the TUN ("path"); what the program writes back
 * arrives on the TUN and follows the main table onwards. */
static int user_space_path(struct step *s, struct braid_bench_link *l)
{
	struct in_addr any = { 0 };
	int index, rc;

	l->tun_fd = braid_tun_open(l->ns_fd, "path");
	if (l->tun_fd < 0)
		return fail(s, l->tun_fd, "TUN device in %s", l->ns_name);
	if ((index = index_of(s, &l->nl, l->ns_name, "path")) < 0)
		return index;
	if ((rc = up(&l->nl, index, 1)) < 0 ||
	    (rc = route(&l->nl, PATH_TABLE, any, 0, any, index)) < 0)
		return fail(s, rc, "route into the TUN in %s", l->ns_name);
	struct braid_nl_rule from_sender = { .priority = PATH_RULE, .table = PATH_TABLE,
					     .iifname = "s" };
	struct braid_nl_rule from_receiver = { .priority = PATH_RULE + 1, .table = PATH_TABLE,
					       .iifname = "r" };
	if ((rc = rule(&l->nl, &from_sender)) < 0 || (rc = rule(&l->nl, &from_receiver)) < 0)
		return fail(s, rc, "rules into the TUN in %s", l->ns_name);
	return 0;
}

static int shape(struct step *s, size_t i, const struct braid_bench_link_plan *plan)
{
	for (int d = 0; d < 2; d++) {
		int rc;

		if (plan->tbf[d].rate_bytes_per_s == 0)
			continue;
		rc = braid_bench_set_tbf(s->b, i, (enum braid_bench_dir)d, &plan->tbf[d]);
		if (rc < 0)
			return fail(s, rc, "TBF %s in %s", d == 0 ? "forward" : "return",
				    s->b->links[i].ns_name);
	}
	return 0;
}

static int build_link(struct step *s, size_t i, const struct braid_bench_link_plan *plan)
{
	struct braid_bench_link *l = &s->b->links[i];
	int rc;

	snprintf(l->ns_name, sizeof(l->ns_name), "%s-l%zu", s->b->prefix, i + 1);
	if ((rc = make_ns(s, l->ns_name, &l->ns_fd, &l->nl)) < 0 ||
	    (rc = wire_link(s, i, l)) < 0 || (rc = sender_end(s, i, plan)) < 0 ||
	    (rc = receiver_end(s, i)) < 0)
		return rc;
	if (plan->user_space && (rc = user_space_path(s, l)) < 0)
		return rc;
	return shape(s, i, plan);
}

/* ---- the whole bench ---- */

void braid_bench_init(struct braid_bench *b)
{
	memset(b, 0, sizeof(*b));
	b->tx_fd = b->rx_fd = b->lock_fd = -1;
}

static int prepare(struct step *s, const char *prefix, size_t count)
{
	struct braid_bench *b = s->b;

	braid_bench_init(b);
	if (!braid_bench_prefix_valid(prefix) || count == 0 || count > BRAID_BENCH_MAX_LINKS) {
		snprintf(s->err, s->err_len, "bad prefix or link count");
		return -EINVAL;
	}
	snprintf(b->prefix, sizeof(b->prefix), "%s", prefix);
	snprintf(b->tx_name, sizeof(b->tx_name), "%s-tx", prefix);
	snprintf(b->rx_name, sizeof(b->rx_name), "%s-rx", prefix);
	b->links = calloc(count, sizeof(*b->links));
	if (!b->links)
		return fail(s, -ENOMEM, "bench");
	for (size_t i = 0; i < count; i++)
		b->links[i].ns_fd = b->links[i].tun_fd = -1;
	b->count = count;
	return 0;
}

static int take_prefix(struct step *s)
{
	struct braid_bench *b = s->b;

	b->lock_fd = braid_netns_lock(b->prefix);
	if (b->lock_fd == -EBUSY) {
		snprintf(s->err, s->err_len, "prefix '%s' is in use by another running braid emu",
			 b->prefix);
		return -EBUSY;
	}
	if (b->lock_fd < 0)
		return fail(s, b->lock_fd, "locking prefix %s", b->prefix);
	b->leftovers = braid_netns_remove_prefix(b->prefix);
	if (b->leftovers < 0)
		return fail(s, b->leftovers, "removing what an earlier %s run left", b->prefix);
	return 0;
}

int braid_bench_up(struct braid_bench *b, const char *prefix, size_t count,
		   const struct braid_bench_link_plan *plans, char *err, size_t err_len)
{
	struct step s = { b, err, err_len };
	int rc;

	if ((rc = prepare(&s, prefix, count)) < 0)
		return rc;
	if ((rc = take_prefix(&s)) < 0 ||
	    (rc = make_ns(&s, b->tx_name, &b->tx_fd, &b->tx_nl)) < 0 ||
	    (rc = make_ns(&s, b->rx_name, &b->rx_fd, &b->rx_nl)) < 0)
		goto failed;
	if ((rc = address(&b->rx_nl, 1, braid_bench_receiver_addr(), 32)) < 0) {
		fail(&s, rc, "the receiver's address in %s", b->rx_name);
		goto failed;
	}
	b->has_ifb = probe_ifb(&b->tx_nl);
	b->has_netem = probe_netem(&b->tx_nl);
	for (size_t i = 0; i < count; i++)
		if ((rc = build_link(&s, i, &plans[i])) < 0)
			goto failed;
	return 0;
failed:
	braid_bench_down(b);
	return rc;
}

static void drop_ns(const char *name, int *fd, struct braid_rtnl *nl)
{
	braid_rtnl_close(nl);
	if (*fd >= 0) {
		close(*fd);
		braid_netns_remove(name);
	}
	*fd = -1;
}

void braid_bench_down(struct braid_bench *b)
{
	for (size_t i = 0; i < b->count; i++) {
		struct braid_bench_link *l = &b->links[i];

		braid_tun_close(l->tun_fd);
		l->tun_fd = -1;
		drop_ns(l->ns_name, &l->ns_fd, &l->nl);
	}
	drop_ns(b->rx_name, &b->rx_fd, &b->rx_nl);
	drop_ns(b->tx_name, &b->tx_fd, &b->tx_nl);
	free(b->links);
	b->links = NULL;
	b->count = 0;
	if (b->lock_fd >= 0) {
		/* A namespace whose creation was cut short has a file but no fd here. */
		braid_netns_remove_prefix(b->prefix);
		braid_netns_unlock(b->prefix, b->lock_fd);
	}
	b->lock_fd = -1;
}

int braid_bench_set_tbf(struct braid_bench *b, size_t i, enum braid_bench_dir dir,
			const struct braid_tbf *tbf)
{
	struct braid_bench_link *l = &b->links[i];
	char buf[BRAID_NL_BUF];
	enum braid_tc_op op = l->shaped[dir] ? BRAID_TC_CHANGE : BRAID_TC_ADD;
	int rc = braid_rtnl_talk(&l->nl, braid_tc_tbf(buf, braid_rtnl_next_seq(&l->nl),
						      l->ifindex[dir], op, tbf));

	if (rc == 0)
		l->shaped[dir] = true;
	return rc;
}

int braid_bench_clear_tbf(struct braid_bench *b, size_t i, enum braid_bench_dir dir)
{
	struct braid_bench_link *l = &b->links[i];
	char buf[BRAID_NL_BUF];
	int rc;

	if (!l->shaped[dir])
		return 0;
	rc = braid_rtnl_talk(&l->nl, braid_tc_del_root(buf, braid_rtnl_next_seq(&l->nl),
						       l->ifindex[dir]));
	if (rc == 0)
		l->shaped[dir] = false;
	return rc;
}

struct qdisc_pick {
	const struct braid_bench_link *link;
	struct braid_qdisc_info *out;
};

static void pick_root(const struct nlmsghdr *nlh, void *arg)
{
	struct qdisc_pick *p = arg;
	struct braid_qdisc_info q;

	if (braid_tc_parse_qdisc(nlh, &q) < 0 || q.parent != TC_H_ROOT)
		return;
	for (int d = 0; d < 2; d++)
		if (q.ifindex == p->link->ifindex[d])
			p->out[d] = q;
}

int braid_bench_read_qdiscs(struct braid_bench *b, size_t i, struct braid_qdisc_info out[2])
{
	struct braid_bench_link *l = &b->links[i];
	char buf[BRAID_NL_BUF];
	struct qdisc_pick pick = { l, out };

	memset(out, 0, 2 * sizeof(*out));
	return braid_rtnl_dump(&l->nl, braid_tc_dump(buf, braid_rtnl_next_seq(&l->nl)), pick_root,
			       &pick);
}
