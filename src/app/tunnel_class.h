/* braid tunnel's traffic classes. Media (latency-critical UDP) takes the session with the
 * full latency budget, released in order at the sender's timing; everything else (TCP
 * above all, which reorders and repairs itself and suffers from being held) takes a
 * session with a short budget. Pure: a packet's header in, its class out. */
#ifndef BRAID_APP_TUNNEL_CLASS_H
#define BRAID_APP_TUNNEL_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID_TUNNEL_MAX_PORTS 16

enum braid_tunnel_class { BRAID_CLASS_MEDIA, BRAID_CLASS_FAST, BRAID_CLASS_COUNT };

struct braid_tunnel_classes {
	uint16_t media_ports[BRAID_TUNNEL_MAX_PORTS]; /* UDP ports, either end, that are
						       * media; none given: all UDP is */
	size_t media_port_count;
	uint64_t media_dscp; /* bit d: DSCP d marks media, whatever the protocol */
};

/* An IPv4 or IPv6 packet's class. UDP is recognised in a first fragment and directly
 * after the IPv6 header (no extension headers walked); what cannot be read is FAST. */
enum braid_tunnel_class braid_tunnel_classify(const struct braid_tunnel_classes *c,
					      const uint8_t *pkt, size_t len);
/* "5000,5004": up to BRAID_TUNNEL_MAX_PORTS ports 1..65535. */
bool braid_tunnel_parse_ports(const char *text, struct braid_tunnel_classes *c);
/* "46,34": DSCP values 0..63. */
bool braid_tunnel_parse_dscp(const char *text, struct braid_tunnel_classes *c);

#endif
