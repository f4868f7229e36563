/* rtnetlink requests built into a caller's buffer with libmnl: links (veth pairs, up, IPv4
 * forwarding), addresses, routes and policy rules. Pure: no socket, no clock; the request is
 * sent by netns/rtnl.h. Every builder writes one message at the start of buf (which must hold
 * BRAID_NL_BUF bytes) and returns it; seq is the caller's sequence number. Requests ask for an
 * acknowledgement (NLM_F_ACK) so every failure is reported. */
#ifndef BRAID_NETNS_MSG_H
#define BRAID_NETNS_MSG_H

#include <netinet/in.h>
#include <stdint.h>

struct nlmsghdr;

/* Room for the largest request built here (a TBF with its 1 KiB rate table) and for the
 * replies a dump returns at once. */
#define BRAID_NL_BUF 8192

/* A veth pair: `name` in the namespace the request is sent to, `peer` in the namespace
 * peer_netns_fd refers to (-1: the same one). Both start down. */
struct nlmsghdr *braid_nl_veth_new(void *buf, uint32_t seq, const char *name, const char *peer,
				   int peer_netns_fd);
/* A device of a kind that needs no data ("ifb", "dummy"); used to probe what the kernel has. */
struct nlmsghdr *braid_nl_link_new(void *buf, uint32_t seq, const char *name, const char *kind);
struct nlmsghdr *braid_nl_link_del(void *buf, uint32_t seq, int ifindex);
/* Sets the device up and, when forwarding, lets IPv4 packets arriving on it be forwarded
 * (the per-device devconf; the namespace's sysctl files are not touched). */
struct nlmsghdr *braid_nl_link_up(void *buf, uint32_t seq, int ifindex, int forwarding);
/* RTM_GETLINK for one device by name; the reply (then the ack) carries its index. */
struct nlmsghdr *braid_nl_link_get(void *buf, uint32_t seq, const char *name);
struct nlmsghdr *braid_nl_addr_add(void *buf, uint32_t seq, int ifindex, struct in_addr addr,
				   unsigned prefix_len);
/* Sets a device's MTU (bytes of IP packet it carries). */
struct nlmsghdr *braid_nl_link_mtu(void *buf, uint32_t seq, int ifindex, unsigned mtu);
/* An address of either family (AF_INET: a struct in_addr, AF_INET6: a struct in6_addr). */
struct nlmsghdr *braid_nl_addr_add_family(void *buf, uint32_t seq, int ifindex, int family,
					  const void *addr, unsigned prefix_len);
/* A unicast route to dst/dst_len in `table` out of oif, through gateway unless it is 0. */
struct nlmsghdr *braid_nl_route_add(void *buf, uint32_t seq, uint32_t table, struct in_addr dst,
				    unsigned dst_len, struct in_addr gateway, int oif);
/* A policy rule "lookup table" at priority, matching packets from src (when src_len > 0),
 * arriving on iifname and/or leaving by oifname (NULL: any), and UDP to destination ports
 * dport_min..dport_max (when dport_min > 0). */
struct braid_nl_rule {
	uint32_t priority, table;
	struct in_addr src;
	unsigned src_len;
	const char *iifname, *oifname;
	uint16_t dport_min, dport_max;
};
struct nlmsghdr *braid_nl_rule_add(void *buf, uint32_t seq, const struct braid_nl_rule *rule);

#endif
