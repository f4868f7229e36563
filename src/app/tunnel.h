/* braid tunnel: IP packets between two TUN devices over a bonded session. The field unit
 * runs sender cores (its TUN's packets are the media), the gateway receiver cores
 * (released packets go into its TUN), one session per traffic class (tunnel_class.h);
 * the gateway's packets for the field travel on the sessions' reverse channels (docs/tunnel.md says what that gives and what it does not). */
#ifndef BRAID_APP_TUNNEL_H
#define BRAID_APP_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netns/tundev.h"
#include "recv_node.h"
#include "send_node.h"
#include "tunnel_class.h"

#define BRAID_TUNNEL_MAX_ADDRS 4
#define BRAID_TUNNEL_DEFAULT_LATENCY_US 500000
#define BRAID_TUNNEL_DEFAULT_FAST_LATENCY_US 50000
/* The path MTU assumed when none can be learnt (the gateway, which does not know the
 * field unit's paths): Ethernet's. */
#define BRAID_TUNNEL_DEFAULT_PATH_MTU 1500u

enum braid_tunnel_role { BRAID_TUNNEL_GATEWAY, BRAID_TUNNEL_FIELD };

struct braid_tunnel_config {
	enum braid_tunnel_role role;
	const char *tun_name;
	struct braid_tun_addr addrs[BRAID_TUNNEL_MAX_ADDRS];
	size_t addr_count;
	unsigned mtu;              /* 0: from the links' path MTU */
	/* The fast class's session (its port is the media session's plus one) and budget;
	 * 0: one session carries every class at the media budget. */
	uint64_t fast_latency_us;
	struct braid_tunnel_classes classes;
	struct braid_send_config send; /* field */
	struct braid_recv_config recv; /* gateway */
};

/* braid's bytes around one inner packet on a link: UDP, braid's DATA header, and with a
 * key the packet number and AEAD tag; outer_ip is the outer IP header (20 or 40). */
size_t braid_tunnel_overhead(size_t outer_ip, bool sealed);
/* The tunnel MTU for the field's links: the smallest path MTU the kernel knows toward each
 * link's destination, minus braid's overhead. */
unsigned braid_tunnel_field_mtu(const struct braid_send_config *send);
/* Makes the TUN, runs until a signal, removes it. The process exit status. */
int braid_tunnel_run(struct braid_tunnel_config *cfg);

#endif
