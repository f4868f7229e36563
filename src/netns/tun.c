/* TUN devices (netns/tun.h). */
#include "netns/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "netns/ns.h"

/* The device is made in the namespace of the thread that opens /dev/net/tun. */
static int open_here(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int braid_tun_open(int netns_fd, const char *name)
{
	int home, fd;

	if (netns_fd < 0)
		return open_here(name);
	home = braid_netns_enter(netns_fd);
	if (home < 0)
		return home;
	fd = open_here(name);
	if (braid_netns_leave(home) < 0) {
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	return fd;
}

ssize_t braid_tun_read(int fd, void *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap);

	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

int braid_tun_write(int fd, const void *packet, size_t len)
{
	ssize_t n = write(fd, packet, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

void braid_tun_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
