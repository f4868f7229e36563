/* Non-blocking TCP sockets for the event loop (braidd's RTP proxy over TCP). Every call
 * returns -1 with errno set on failure, as the system calls do. */
#ifndef BRAID_IO_TCP_H
#define BRAID_IO_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "braid/addr.h"

/* A socket bound to addr (on `device` when not NULL), listening when asked, with
 * TCP_NODELAY: packets of live media must not wait for Nagle. */
int braid_tcp_open(const struct braid_addr *addr, const char *device, bool listening);
/* The next pending connection, non-blocking with TCP_NODELAY. */
int braid_tcp_accept(int listen_fd);
/* Starts connecting: 0 connected at once, 1 under way (EPOLLOUT says when), -1 failed. */
int braid_tcp_connect(int fd, const struct braid_addr *to);
/* How a connect under way ended: 0 connected, else the errno. */
int braid_tcp_connect_result(int fd);
/* send() without SIGPIPE (a peer gone is an error, not a signal), and recv(). */
ssize_t braid_tcp_send(int fd, const void *buf, size_t len);
ssize_t braid_tcp_recv(int fd, void *buf, size_t len);

#endif
