/* Shared between the I/O layer's UDP files, not part of its interface. */
#ifndef BRAID_UDP_INTERNAL_H
#define BRAID_UDP_INTERNAL_H

#include "braid/addr.h"

/* A dual-stack socket's ::ffff:a.b.c.d source as plain IPv4; other addresses unchanged. */
void braid_udp_unmap_v4(struct braid_addr *a);

#endif
