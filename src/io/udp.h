/* UDP sockets for the I/O layer: address parsing, sockets bound to an interface or a
 * local address, and batched receive and send (recvmmsg/sendmmsg). */
#ifndef BRAID_UDP_H
#define BRAID_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"

/* Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT"/"PORT" (wildcard, IPv6 dual-stack when
 * `passive`, otherwise loopback). HOST may be a name (resolved now, first result). Returns
 * 0 or BRAID_ERR_INVAL. */
int braid_addr_parse(const char *text, int passive, struct braid_addr *out);
/* Parses a bare address without a port ("127.0.0.2", "::1"). */
int braid_addr_parse_host(const char *text, uint16_t port, struct braid_addr *out);
/* "1.2.3.4:5" or "[::1]:5"; returns buf. */
const char *braid_addr_format(const struct braid_addr *a, char *buf, size_t cap);
uint16_t braid_addr_port(const struct braid_addr *a);

struct braid_udp_options {
	const struct braid_addr *bind; /* local address (port 0 = any); NULL = wildcard */
	int family;                    /* AF_INET or AF_INET6, used when bind is NULL */
	const char *device;            /* SO_BINDTODEVICE name, or NULL */
	int buffer_bytes;              /* SO_RCVBUF and SO_SNDBUF; 0 = 4 MiB */
};

/* Returns a non-blocking, close-on-exec UDP socket, or a negative braid_error; errno is
 * kept so the caller can explain it. */
int braid_udp_open(const struct braid_udp_options *opt);
/* The socket's bound address. */
int braid_udp_local(int fd, struct braid_addr *out);

struct braid_datagram {
	uint8_t *buf;
	size_t cap; /* receive: buffer size */
	size_t len; /* receive: bytes read (a longer datagram is truncated: see truncated) */
	struct braid_addr addr; /* receive: source; send: destination (len 0 = connected) */
	int truncated;
};

/* Receives up to n datagrams without blocking. Returns the count (0 when none waits) or a
 * negative braid_error. */
int braid_udp_recv_batch(int fd, struct braid_datagram *batch, size_t n);
/* Sends up to n datagrams. Returns how many left (those after a failure are not sent;
 * a full socket buffer counts as sent-and-dropped so callers never spin) or an error. */
int braid_udp_send_batch(int fd, const struct braid_datagram *batch, size_t n);
int braid_udp_send(int fd, const struct braid_addr *to, const uint8_t *buf, size_t len);

#endif
