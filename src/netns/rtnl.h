/* An rtnetlink socket bound to one network namespace, and the exchanges braid needs: a
 * request and its acknowledgement, a dump, a device's index. A socket opened inside a
 * namespace keeps talking to it after the thread has left, so the program itself stays in
 * the namespace it started in. */
#ifndef BRAID_NETNS_RTNL_H
#define BRAID_NETNS_RTNL_H

#include <stdint.h>

struct nlmsghdr;
struct mnl_socket;

struct braid_rtnl {
	struct mnl_socket *sock;
	uint32_t portid, seq;
};

/* Opens a socket in the namespace netns_fd refers to (-1: the current one). 0 or -errno. */
int braid_rtnl_open(struct braid_rtnl *nl, int netns_fd);
void braid_rtnl_close(struct braid_rtnl *nl);
/* The next sequence number for a request. */
uint32_t braid_rtnl_next_seq(struct braid_rtnl *nl);
/* Sends a request built with NLM_F_ACK and waits for its answer: 0 or the kernel's -errno. */
int braid_rtnl_talk(struct braid_rtnl *nl, struct nlmsghdr *req);
/* Sends a dump request and calls fn for every message of the answer; 0 or -errno. */
typedef void (*braid_rtnl_msg_fn)(const struct nlmsghdr *nlh, void *arg);
int braid_rtnl_dump(struct braid_rtnl *nl, struct nlmsghdr *req, braid_rtnl_msg_fn fn, void *arg);
/* The index of the device called name in the socket's namespace, or -errno. */
int braid_rtnl_ifindex(struct braid_rtnl *nl, const char *name);

#endif
