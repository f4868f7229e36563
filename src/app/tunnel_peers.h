/* Which session a gateway's packet goes back to: the field unit that last sent from its
 * destination address. Learnt from the source of every packet a session releases into
 * the TUN; the oldest entry gives way when the table is full. Pure: packets, session ids
 * and times in. A field unit is trusted with the addresses it sends from (it holds the
 * key); one claiming another's address takes that address's return traffic. */
#ifndef BRAID_APP_TUNNEL_PEERS_H
#define BRAID_APP_TUNNEL_PEERS_H

#include <stddef.h>
#include <stdint.h>

#define BRAID_TUNNEL_PEERS 256

struct braid_tunnel_peer {
	uint8_t addr[16];
	uint8_t len;       /* 4 or 16; 0: free */
	uint32_t session;
	uint64_t seen_us;
};

struct braid_tunnel_peers {
	struct braid_tunnel_peer entries[BRAID_TUNNEL_PEERS];
};

/* A packet session released: its source address now leads back to session. */
void braid_tunnel_peers_learn(struct braid_tunnel_peers *p, const uint8_t *pkt, size_t len,
			      uint32_t session, uint64_t now_us);
/* The session whose field unit has the packet's destination address, or 0. */
uint32_t braid_tunnel_peers_lookup(const struct braid_tunnel_peers *p, const uint8_t *pkt,
				   size_t len);
/* A session ended: its addresses are forgotten. */
void braid_tunnel_peers_forget(struct braid_tunnel_peers *p, uint32_t session);

#endif
