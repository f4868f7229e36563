/* rtnetlink exchanges (netns/rtnl.h) on libmnl's socket and callback runner. */
#include "netns/rtnl.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "netns/msg.h"
#include "netns/ns.h"

static int open_here(struct braid_rtnl *nl)
{
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return e;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	return 0;
}

int braid_rtnl_open(struct braid_rtnl *nl, int netns_fd)
{
	int home, rc;

	memset(nl, 0, sizeof(*nl));
	nl->seq = 1;
	if (netns_fd < 0)
		return open_here(nl);
	home = braid_netns_enter(netns_fd);
	if (home < 0)
		return home;
	rc = open_here(nl);
	if (braid_netns_leave(home) < 0 && rc == 0) {
		/* A thread stuck in the wrong namespace would configure the wrong network. */
		braid_rtnl_close(nl);
		rc = -EPERM;
	}
	return rc;
}

void braid_rtnl_close(struct braid_rtnl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

uint32_t braid_rtnl_next_seq(struct braid_rtnl *nl)
{
	return ++nl->seq;
}

static int send_request(struct braid_rtnl *nl, struct nlmsghdr *req)
{
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return -errno;
	return 0;
}

struct dump_ctx {
	braid_rtnl_msg_fn fn;
	void *arg;
};

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;

	if (ctx->fn)
		ctx->fn(nlh, ctx->arg);
	return MNL_CB_OK;
}

/* Reads answers to seq until the acknowledgement, an error or the end of a dump. */
static int receive(struct braid_rtnl *nl, uint32_t seq, struct dump_ctx *ctx)
{
	char buf[BRAID_NL_BUF * 4];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, nl->portid, on_message, ctx);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

int braid_rtnl_talk(struct braid_rtnl *nl, struct nlmsghdr *req)
{
	struct dump_ctx ctx = { 0 };
	int rc = send_request(nl, req);

	return rc ? rc : receive(nl, req->nlmsg_seq, &ctx);
}

int braid_rtnl_dump(struct braid_rtnl *nl, struct nlmsghdr *req, braid_rtnl_msg_fn fn, void *arg)
{
	struct dump_ctx ctx = { fn, arg };
	int rc = send_request(nl, req);

	return rc ? rc : receive(nl, req->nlmsg_seq, &ctx);
}

static void take_index(const struct nlmsghdr *nlh, void *arg)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWLINK)
		*(int *)arg = ifm->ifi_index;
}

int braid_rtnl_ifindex(struct braid_rtnl *nl, const char *name)
{
	char buf[BRAID_NL_BUF];
	int index = -ENODEV;
	struct nlmsghdr *req = braid_nl_link_get(buf, braid_rtnl_next_seq(nl), name);
	struct dump_ctx ctx = { take_index, &index };
	int rc = send_request(nl, req);

	if (rc == 0)
		rc = receive(nl, req->nlmsg_seq, &ctx);
	return rc ? rc : index;
}
