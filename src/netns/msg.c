/* rtnetlink requests for links, addresses, routes and rules (netns/msg.h), laid out with
 * libmnl's attribute helpers so no length or alignment is computed by hand. */
#include "netns/msg.h"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>
#include <sys/socket.h>

/* A request header followed by a zeroed family header of `extra` bytes. */
static struct nlmsghdr *request(void *buf, uint32_t seq, uint16_t type, uint16_t flags,
				size_t extra, void **family_header)
{
	struct nlmsghdr *nlh;

	/* libmnl 1.0.4 leaves attribute padding as it finds it: start from zeros so a
	 * request never carries stale bytes. */
	memset(buf, 0, BRAID_NL_BUF);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = seq;
	*family_header = mnl_nlmsg_put_extra_header(nlh, extra);
	return nlh;
}

static struct nlmsghdr *new_link_request(void *buf, uint32_t seq, struct ifinfomsg **ifm)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ifinfomsg), &hdr);

	*ifm = hdr;
	(*ifm)->ifi_family = AF_UNSPEC;
	return nlh;
}

struct nlmsghdr *braid_nl_veth_new(void *buf, uint32_t seq, const char *name, const char *peer,
				   int peer_netns_fd)
{
	struct ifinfomsg *ifm, *peer_ifm;
	struct nlmsghdr *nlh = new_link_request(buf, seq, &ifm);
	struct nlattr *info, *data, *peer_nest;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	peer_ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer_ifm));
	peer_ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *braid_nl_link_new(void *buf, uint32_t seq, const char *name, const char *kind)
{
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = new_link_request(buf, seq, &ifm);
	struct nlattr *info;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *braid_nl_link_del(void *buf, uint32_t seq, int ifindex)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_DELLINK, 0, sizeof(struct ifinfomsg), &hdr);
	struct ifinfomsg *ifm = hdr;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

struct nlmsghdr *braid_nl_link_up(void *buf, uint32_t seq, int ifindex, int forwarding)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWLINK, 0, sizeof(struct ifinfomsg), &hdr);
	struct ifinfomsg *ifm = hdr;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	if (forwarding) {
		/* IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { FORWARDING: 1 } } }: the devconf
		 * entries are numbered by their IPV4_DEVCONF_* index. */
		struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
		struct nlattr *inet = mnl_attr_nest_start(nlh, AF_INET);
		struct nlattr *conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);

		mnl_attr_put_u32(nlh, IPV4_DEVCONF_FORWARDING, 1);
		mnl_attr_nest_end(nlh, conf);
		mnl_attr_nest_end(nlh, inet);
		mnl_attr_nest_end(nlh, spec);
	}
	return nlh;
}

struct nlmsghdr *braid_nl_link_get(void *buf, uint32_t seq, const char *name)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_GETLINK, 0, sizeof(struct ifinfomsg), &hdr);
	struct ifinfomsg *ifm = hdr;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

struct nlmsghdr *braid_nl_addr_add(void *buf, uint32_t seq, int ifindex, struct in_addr addr,
				   unsigned prefix_len)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ifaddrmsg), &hdr);
	struct ifaddrmsg *ifa = hdr;

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS the peer, the same on a broadcast link. */
	mnl_attr_put(nlh, IFA_LOCAL, sizeof(addr), &addr);
	mnl_attr_put(nlh, IFA_ADDRESS, sizeof(addr), &addr);
	return nlh;
}

struct nlmsghdr *braid_nl_link_mtu(void *buf, uint32_t seq, int ifindex, unsigned mtu)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWLINK, 0, sizeof(struct ifinfomsg), &hdr);
	struct ifinfomsg *ifm = hdr;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nlh;
}

struct nlmsghdr *braid_nl_addr_add_family(void *buf, uint32_t seq, int ifindex, int family,
					  const void *addr, unsigned prefix_len)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ifaddrmsg), &hdr);
	struct ifaddrmsg *ifa = hdr;
	size_t len = family == AF_INET6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);

	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* A TUN is point-to-point: IFA_LOCAL is ours, and IFA_ADDRESS with the prefix makes
	 * the kernel route the whole subnet through the device. */
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	return nlh;
}

struct nlmsghdr *braid_nl_route_add(void *buf, uint32_t seq, uint32_t table, struct in_addr dst,
				    unsigned dst_len, struct in_addr gateway, int oif)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct rtmsg), &hdr);
	struct rtmsg *rtm = hdr;

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (uint8_t)dst_len;
	/* Tables above 255 do not fit rtm_table; RTA_TABLE carries them all. */
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = gateway.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (dst_len > 0)
		mnl_attr_put(nlh, RTA_DST, sizeof(dst), &dst);
	if (gateway.s_addr)
		mnl_attr_put(nlh, RTA_GATEWAY, sizeof(gateway), &gateway);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nlh;
}

struct nlmsghdr *braid_nl_rule_add(void *buf, uint32_t seq, const struct braid_nl_rule *rule)
{
	void *hdr;
	struct nlmsghdr *nlh = request(buf, seq, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct fib_rule_hdr), &hdr);
	struct fib_rule_hdr *frh = hdr;

	frh->family = AF_INET;
	frh->src_len = (uint8_t)rule->src_len;
	frh->table = rule->table < 256 ? (uint8_t)rule->table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->priority);
	mnl_attr_put_u32(nlh, FRA_TABLE, rule->table);
	if (rule->src_len > 0)
		mnl_attr_put(nlh, FRA_SRC, sizeof(rule->src), &rule->src);
	if (rule->iifname)
		mnl_attr_put_strz(nlh, FRA_IFNAME, rule->iifname);
	if (rule->oifname)
		mnl_attr_put_strz(nlh, FRA_OIFNAME, rule->oifname);
	if (rule->dport_min) {
		struct fib_rule_port_range ports = { rule->dport_min, rule->dport_max };

		mnl_attr_put_u8(nlh, FRA_IP_PROTO, IPPROTO_UDP);
		mnl_attr_put(nlh, FRA_DPORT_RANGE, sizeof(ports), &ports);
	}
	return nlh;
}
