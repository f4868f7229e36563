/* TUN devices: IP packets handed to a program. A TUN made inside a namespace belongs to it;
 * its fd keeps working from anywhere and the device goes when the fd is closed. */
#ifndef BRAID_NETNS_TUN_H
#define BRAID_NETNS_TUN_H

#include <stddef.h>
#include <sys/types.h>

/* Creates TUN device `name` (IFF_TUN, no packet information header) in the namespace
 * netns_fd refers to (-1: the caller's); returns its non-blocking fd or -errno. */
int braid_tun_open(int netns_fd, const char *name);
/* One IP packet: its length, 0 when none is waiting, or -errno. */
ssize_t braid_tun_read(int fd, void *buf, size_t cap);
/* Hands one IP packet to the kernel as if it had arrived on the device. 0 or -errno. */
int braid_tun_write(int fd, const void *packet, size_t len);
void braid_tun_close(int fd);

#endif
