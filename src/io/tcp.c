#include "io/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail_closing(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int braid_tcp_open(const struct braid_addr *addr, const char *device, bool listening)
{
	int one = 1;
	int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A listener made again after a restart must not wait for its old connections'
	 * TIME_WAIT; a live listener on the port still makes bind fail. */
	if ((listening && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    (device && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device,
				  (socklen_t)strlen(device)) < 0) ||
	    bind(fd, &addr->u.sa, addr->len) < 0 || (listening && listen(fd, 8) < 0))
		return fail_closing(fd);
	return fd;
}

int braid_tcp_accept(int listen_fd)
{
	int one = 1;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return fail_closing(fd);
	return fd;
}

int braid_tcp_connect(int fd, const struct braid_addr *to)
{
	if (connect(fd, &to->u.sa, to->len) == 0)
		return 0;
	return errno == EINPROGRESS ? 1 : -1;
}

int braid_tcp_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

ssize_t braid_tcp_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL);
}

ssize_t braid_tcp_recv(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, 0);
}
