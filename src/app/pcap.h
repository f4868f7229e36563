/* Reading UDP datagrams from a capture file in the classic libpcap format (not pcapng):
 * either byte order, microsecond or nanosecond timestamps; link types Ethernet (with up
 * to two VLAN tags), Linux cooked (SLL and SLL2) and raw IP; IPv4 and IPv6 (past
 * hop-by-hop, routing and destination options headers). Fragments, truncated captures
 * and other protocols are skipped. Every length is checked against what was captured. */
#ifndef BRAID_APP_PCAP_H
#define BRAID_APP_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "braid/addr.h"

#define BRAID_PCAP_MAX_RECORD (256u * 1024u)

struct braid_pcap {
	FILE *f;
	bool swapped;      /* the file's byte order is not this machine's */
	bool nanoseconds;
	uint32_t linktype;
	uint64_t offset;   /* of the next record, for messages */
	uint8_t *frame;    /* BRAID_PCAP_MAX_RECORD bytes */
};

struct braid_pcap_udp {
	uint64_t t_us;     /* the capture's timestamp */
	struct braid_addr src, dst;
	const uint8_t *payload; /* valid until the next call */
	size_t len;
};

/* Returns true, or false with a message in err. */
bool braid_pcap_open(struct braid_pcap *p, const char *path, char *err, size_t err_len);
/* Returns 1 with the next UDP datagram, 0 at the end of the file, or -1 with a message in
 * err for a damaged file. */
int braid_pcap_next_udp(struct braid_pcap *p, struct braid_pcap_udp *out, char *err,
			size_t err_len);
void braid_pcap_close(struct braid_pcap *p);

/* The frame-to-UDP step alone: returns true when frame[0..len) of this link type is a
 * whole, unfragmented UDP datagram. */
bool braid_pcap_frame_udp(uint32_t linktype, const uint8_t *frame, size_t len,
			  struct braid_pcap_udp *out);

#endif
