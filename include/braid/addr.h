/* A network address as plain data. The core stores and compares addresses (a receiver
 * answers each link where it was last heard from) but never resolves or uses them:
 * parsing, formatting and sockets live in the I/O layer (io/udp.h). */
#ifndef BRAID_ADDR_H
#define BRAID_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct braid_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_storage storage;
	} u;
	socklen_t len; /* 0: no address */
};

/* Same family, address and port (IPv6 scope included). */
bool braid_addr_equal(const struct braid_addr *a, const struct braid_addr *b);

#endif
