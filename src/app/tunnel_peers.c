/* The gateway's return routes by inner address (tunnel_peers.h). */
#include "tunnel_peers.h"

#include <stdbool.h>
#include <string.h>

/* The source (or destination) address of an IPv4 or IPv6 packet; its length, 0 when the
 * packet is too short or neither. */
static size_t address(const uint8_t *pkt, size_t len, bool source, const uint8_t **out)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		*out = pkt + (source ? 12 : 16);
		return 4;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		*out = pkt + (source ? 8 : 24);
		return 16;
	}
	return 0;
}

/* The entry of an address, or BRAID_TUNNEL_PEERS. */
static size_t find(const struct braid_tunnel_peers *p, const uint8_t *addr, size_t len)
{
	for (size_t i = 0; i < BRAID_TUNNEL_PEERS; i++) {
		const struct braid_tunnel_peer *e = &p->entries[i];
		if (e->len == len && memcmp(e->addr, addr, len) == 0)
			return i;
	}
	return BRAID_TUNNEL_PEERS;
}

/* A free entry, or the one heard from longest ago. */
static struct braid_tunnel_peer *room(struct braid_tunnel_peers *p)
{
	struct braid_tunnel_peer *oldest = &p->entries[0];
	for (size_t i = 0; i < BRAID_TUNNEL_PEERS; i++) {
		struct braid_tunnel_peer *e = &p->entries[i];
		if (!e->len)
			return e;
		if (e->seen_us < oldest->seen_us)
			oldest = e;
	}
	return oldest;
}

void braid_tunnel_peers_learn(struct braid_tunnel_peers *p, const uint8_t *pkt, size_t len,
			      uint32_t session, uint64_t now_us)
{
	const uint8_t *addr;
	size_t alen = address(pkt, len, true, &addr);
	if (!alen)
		return;
	size_t i = find(p, addr, alen);
	struct braid_tunnel_peer *e = i < BRAID_TUNNEL_PEERS ? &p->entries[i] : NULL;
	if (!e) {
		e = room(p);
		memcpy(e->addr, addr, alen);
		e->len = (uint8_t)alen;
	}
	e->session = session;
	e->seen_us = now_us;
}

uint32_t braid_tunnel_peers_lookup(const struct braid_tunnel_peers *p, const uint8_t *pkt,
				   size_t len)
{
	const uint8_t *addr;
	size_t alen = address(pkt, len, false, &addr);
	size_t i = alen ? find(p, addr, alen) : BRAID_TUNNEL_PEERS;
	return i < BRAID_TUNNEL_PEERS ? p->entries[i].session : 0;
}

void braid_tunnel_peers_forget(struct braid_tunnel_peers *p, uint32_t session)
{
	for (size_t i = 0; i < BRAID_TUNNEL_PEERS; i++)
		if (p->entries[i].len && p->entries[i].session == session)
			p->entries[i].len = 0;
}
