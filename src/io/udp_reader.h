/* A UDP socket's receive side with UDP GRO where the kernel has it: the kernel then hands
 * a run of datagrams from one source as one coalesced message (a GSO send arrives whole,
 * never segmented), and the reader splits it by the segment size it reports. Where the
 * kernel refuses UDP_GRO, the reader receives datagram by datagram, with the same result. */
#ifndef BRAID_UDP_READER_H
#define BRAID_UDP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/udp.h"

struct braid_udp_reader;

/* A reader for fd (not owned: the caller closes it). Datagrams longer than datagram_cap
 * arrive truncated to it, flagged truncated. try_gro false: datagram by datagram only.
 * Returns NULL when out of memory. */
struct braid_udp_reader *braid_udp_reader_new(int fd, size_t datagram_cap, bool try_gro);
void braid_udp_reader_free(struct braid_udp_reader *r);

/* Receives what waits, with one recvmmsg, without blocking. *out points at the datagrams,
 * in arrival order, held by the reader until its next call. Returns their count (0 when
 * none waits) or a negative braid_error. Nothing is held back between calls, so a
 * level-triggered poll on fd sees everything. */
int braid_udp_reader_recv(struct braid_udp_reader *r, struct braid_datagram **out);

/* Whether the kernel accepted UDP_GRO on the socket. */
bool braid_udp_reader_gro(const struct braid_udp_reader *r);
/* Messages and datagrams received so far: their ratio is how much GRO coalesced. */
void braid_udp_reader_counts(const struct braid_udp_reader *r, uint64_t *messages,
			     uint64_t *datagrams);

#endif
