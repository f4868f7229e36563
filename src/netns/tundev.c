/* A TUN device made, addressed and brought up (netns/tundev.h). */
#include "netns/tundev.h"

#include <errno.h>

#include "netns/msg.h"
#include "netns/rtnl.h"
#include "netns/tun.h"

static int configure(struct braid_rtnl *nl, int ifindex, unsigned mtu,
		     const struct braid_tun_addr *addrs, size_t count, const char **step)
{
	char buf[BRAID_NL_BUF];
	int rc;

	*step = "setting its MTU";
	rc = braid_rtnl_talk(nl, braid_nl_link_mtu(buf, braid_rtnl_next_seq(nl), ifindex, mtu));
	for (size_t i = 0; i < count && rc == 0; i++) {
		*step = "adding an address";
		rc = braid_rtnl_talk(nl, braid_nl_addr_add_family(buf, braid_rtnl_next_seq(nl),
								  ifindex, addrs[i].family,
								  &addrs[i].u, addrs[i].prefix_len));
	}
	if (rc == 0) {
		*step = "bringing it up";
		rc = braid_rtnl_talk(nl, braid_nl_link_up(buf, braid_rtnl_next_seq(nl), ifindex, 0));
	}
	return rc;
}

int braid_tundev_open(const char *name, unsigned mtu, const struct braid_tun_addr *addrs,
		      size_t count, const char **step)
{
	struct braid_rtnl nl;
	int fd, ifindex, rc;

	*step = "creating it";
	fd = braid_tun_open(-1, name);
	if (fd < 0)
		return fd;
	*step = "opening rtnetlink";
	rc = braid_rtnl_open(&nl, -1);
	if (rc < 0) {
		braid_tun_close(fd);
		return rc;
	}
	*step = "finding its index";
	ifindex = braid_rtnl_ifindex(&nl, name);
	rc = ifindex < 0 ? ifindex : configure(&nl, ifindex, mtu, addrs, count, step);
	braid_rtnl_close(&nl);
	if (rc < 0) {
		braid_tun_close(fd);
		return rc;
	}
	return fd;
}
