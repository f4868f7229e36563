/* A TUN device ready for traffic: made in the caller's namespace, given its MTU and
 * addresses and brought up over rtnetlink, in one call. It goes away when its fd is closed
 * (braid_tun_close): nothing is left behind by a program that exits, even killed. */
#ifndef BRAID_NETNS_TUNDEV_H
#define BRAID_NETNS_TUNDEV_H

#include <netinet/in.h>
#include <stddef.h>

struct braid_tun_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	unsigned prefix_len;
};

/* Returns the device's non-blocking fd, or -errno with *step naming what failed. */
int braid_tundev_open(const char *name, unsigned mtu, const struct braid_tun_addr *addrs,
		      size_t count, const char **step);

#endif
