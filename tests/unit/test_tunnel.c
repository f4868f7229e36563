/* braid tunnel's pure parts: the traffic classes of IPv4 and IPv6 packets (ports, DSCP,
 * fragments, short and foreign packets), their option lists, the gateway's return routes
 * by inner address, and the netlink requests that set a TUN's MTU and addresses. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "harness.h"
#include "app/tunnel_class.h"
#include "app/tunnel_peers.h"
#include "netns/msg.h"

/* An IPv4 packet: protocol, DSCP, ports (UDP/TCP header right after), fragment offset. */
static size_t ipv4(uint8_t *p, uint8_t proto, unsigned dscp, uint16_t sport, uint16_t dport,
		   uint16_t frag_offset, const char *src, const char *dst)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[1] = (uint8_t)(dscp << 2);
	p[6] = (uint8_t)(frag_offset >> 8);
	p[7] = (uint8_t)frag_offset;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	return 28;
}

static size_t ipv6(uint8_t *p, uint8_t next, unsigned dscp, uint16_t dport, const char *src,
		   const char *dst)
{
	memset(p, 0, 48);
	unsigned tclass = dscp << 2;
	p[0] = (uint8_t)(0x60 | tclass >> 4);
	p[1] = (uint8_t)((tclass & 0x0f) << 4);
	p[6] = next;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	p[42] = (uint8_t)(dport >> 8);
	p[43] = (uint8_t)dport;
	return 48;
}

static void test_default_classes(void)
{
	struct braid_tunnel_classes c = { 0 };
	uint8_t p[64];
	size_t n = ipv4(p, 17, 0, 40000, 5000, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv4(p, 6, 0, 40000, 80, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
	n = ipv4(p, 1, 0, 0, 0, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
	n = ipv6(p, 17, 0, 5000, "fd99::2", "fd99::1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv6(p, 6, 0, 443, "fd99::2", "fd99::1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
}

static void test_ports_and_dscp(void)
{
	struct braid_tunnel_classes c = { 0 };
	uint8_t p[64];
	CHECK(braid_tunnel_parse_ports("5000,5004", &c));
	CHECK(braid_tunnel_parse_dscp("46,34", &c));
	size_t n = ipv4(p, 17, 0, 40000, 5004, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv4(p, 17, 0, 5000, 53, 0, "10.0.0.2", "10.0.0.1"); /* the source port counts */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv4(p, 17, 0, 40000, 53, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
	n = ipv4(p, 6, 46, 40000, 80, 0, "10.0.0.2", "10.0.0.1"); /* EF makes even TCP media */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv4(p, 17, 0, 40000, 5000, 185, "10.0.0.2", "10.0.0.1"); /* not a first fragment */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
	n = ipv6(p, 17, 34, 53, "fd99::2", "fd99::1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv6(p, 17, 0, 5000, "fd99::2", "fd99::1");
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	n = ipv6(p, 0, 0, 5000, "fd99::2", "fd99::1"); /* UDP behind an extension header */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
}

static void test_unreadable_packets(void)
{
	struct braid_tunnel_classes c = { 0 };
	uint8_t p[64];
	size_t n = ipv4(p, 17, 0, 40000, 5000, 0, "10.0.0.2", "10.0.0.1");
	CHECK_EQ(braid_tunnel_classify(&c, p, 0), BRAID_CLASS_FAST);
	CHECK_EQ(braid_tunnel_classify(&c, p, 19), BRAID_CLASS_FAST);
	CHECK_EQ(braid_tunnel_classify(&c, p, 22), BRAID_CLASS_FAST); /* ports cut off */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_MEDIA);
	p[0] = 0x4f; /* a header length past the end */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
	p[0] = 0x25; /* neither version */
	CHECK_EQ(braid_tunnel_classify(&c, p, n), BRAID_CLASS_FAST);
}

static void test_bad_lists(void)
{
	struct braid_tunnel_classes c = { 0 };
	CHECK(!braid_tunnel_parse_ports("", &c));
	CHECK(!braid_tunnel_parse_ports("0", &c));
	CHECK(!braid_tunnel_parse_ports("65536", &c));
	CHECK(!braid_tunnel_parse_ports("5000,", &c));
	CHECK(!braid_tunnel_parse_ports("5000;5002", &c));
	CHECK(!braid_tunnel_parse_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", &c));
	CHECK(braid_tunnel_parse_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &c));
	CHECK(!braid_tunnel_parse_dscp("64", &c));
	CHECK(!braid_tunnel_parse_dscp("-1", &c));
	CHECK(braid_tunnel_parse_dscp("0,63", &c));
}

static void test_peers(void)
{
	static struct braid_tunnel_peers peers;
	uint8_t p[64];
	size_t n = ipv4(p, 6, 0, 1, 2, 0, "10.99.0.2", "10.99.0.1");
	braid_tunnel_peers_learn(&peers, p, n, 7, 1);
	n = ipv6(p, 6, 0, 2, "fd98::2", "fd99::1");
	braid_tunnel_peers_learn(&peers, p, n, 8, 2);
	n = ipv4(p, 6, 0, 2, 1, 0, "10.99.0.1", "10.99.0.2"); /* the gateway's answer */
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 7);
	n = ipv6(p, 6, 0, 1, "fd99::1", "fd98::2");
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 8);
	n = ipv4(p, 6, 0, 2, 1, 0, "10.99.0.1", "10.99.0.3");
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 0);
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, 10), 0);
	/* An address moves to the session that sent from it last. */
	n = ipv4(p, 6, 0, 1, 2, 0, "10.99.0.2", "10.99.0.1");
	braid_tunnel_peers_learn(&peers, p, n, 9, 3);
	n = ipv4(p, 6, 0, 2, 1, 0, "10.99.0.1", "10.99.0.2");
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 9);
	braid_tunnel_peers_forget(&peers, 9);
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 0);
}

static void test_peers_full(void)
{
	static struct braid_tunnel_peers peers;
	uint8_t p[64];
	char addr[32];
	for (unsigned i = 0; i <= BRAID_TUNNEL_PEERS; i++) { /* one more than room */
		snprintf(addr, sizeof(addr), "10.1.%u.%u", i / 200, i % 200 + 1);
		size_t n = ipv4(p, 6, 0, 1, 2, 0, addr, "10.0.0.1");
		braid_tunnel_peers_learn(&peers, p, n, 100 + i, 10 + i);
	}
	size_t n = ipv4(p, 6, 0, 2, 1, 0, "10.0.0.1", "10.1.0.1"); /* the oldest: gone */
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 0);
	n = ipv4(p, 6, 0, 2, 1, 0, "10.0.0.1", "10.1.0.2");
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 101);
	snprintf(addr, sizeof(addr), "10.1.%u.%u", BRAID_TUNNEL_PEERS / 200,
		 BRAID_TUNNEL_PEERS % 200 + 1);
	n = ipv4(p, 6, 0, 2, 1, 0, "10.0.0.1", addr);
	CHECK_EQ(braid_tunnel_peers_lookup(&peers, p, n), 100 + BRAID_TUNNEL_PEERS);
}

struct attr_seen {
	uint32_t mtu;
	uint8_t local[16];
	size_t local_len;
};

static int on_link_attr(const struct nlattr *a, void *arg)
{
	struct attr_seen *seen = arg;
	if (mnl_attr_get_type(a) == IFLA_MTU)
		seen->mtu = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int on_addr_attr(const struct nlattr *a, void *arg)
{
	struct attr_seen *seen = arg;
	if (mnl_attr_get_type(a) == IFA_LOCAL) {
		seen->local_len = mnl_attr_get_payload_len(a);
		memcpy(seen->local, mnl_attr_get_payload(a), seen->local_len);
	}
	return MNL_CB_OK;
}

static void test_netlink_requests(void)
{
	static uint8_t buf[BRAID_NL_BUF];
	struct attr_seen seen = { 0 };
	struct nlmsghdr *nlh = braid_nl_link_mtu(buf, 1, 5, 1456);
	CHECK_EQ(nlh->nlmsg_type, RTM_NEWLINK);
	CHECK(nlh->nlmsg_flags & NLM_F_ACK);
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), on_link_attr, &seen);
	CHECK_EQ(seen.mtu, 1456);
	CHECK_EQ(((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index, 5);

	struct in6_addr v6;
	inet_pton(AF_INET6, "fd99::1", &v6);
	nlh = braid_nl_addr_add_family(buf, 2, 5, AF_INET6, &v6, 64);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(nlh->nlmsg_type, RTM_NEWADDR);
	CHECK_EQ(ifa->ifa_family, AF_INET6);
	CHECK_EQ(ifa->ifa_prefixlen, 64);
	CHECK_EQ(ifa->ifa_index, 5);
	mnl_attr_parse(nlh, sizeof(*ifa), on_addr_attr, &seen);
	CHECK_EQ(seen.local_len, 16);
	CHECK(memcmp(seen.local, &v6, 16) == 0);

	struct in_addr v4;
	inet_pton(AF_INET, "10.99.0.1", &v4);
	nlh = braid_nl_addr_add_family(buf, 3, 5, AF_INET, &v4, 24);
	ifa = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(ifa->ifa_family, AF_INET);
	CHECK_EQ(ifa->ifa_prefixlen, 24);
	mnl_attr_parse(nlh, sizeof(*ifa), on_addr_attr, &seen);
	CHECK_EQ(seen.local_len, 4);
	CHECK(memcmp(seen.local, &v4, 4) == 0);
}

int main(void)
{
	RUN_TEST(test_default_classes);
	RUN_TEST(test_ports_and_dscp);
	RUN_TEST(test_unreadable_packets);
	RUN_TEST(test_bad_lists);
	RUN_TEST(test_peers);
	RUN_TEST(test_peers_full);
	RUN_TEST(test_netlink_requests);
	return braid_test_finish();
}
