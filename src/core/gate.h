/* The receiver's gate for strangers: what it spends on a datagram before it knows the
 * sender. Two things, both of fixed size whatever arrives:
 *
 * - a token bucket per source address (its IP, any port), so handshakes from one place cost
 *   a bounded share of the receiver's work, and one shared bucket for the COOKIEs sent to
 *   unproven addresses, so a flood of spoofed HELLOs cannot turn the receiver into a
 *   reflector of any size;
 * - return-routability cookies for unkeyed sessions: a BLAKE2b MAC of the source address,
 *   session and link under a secret that changes every COOKIE_EPOCH; a HELLO that echoes
 *   the cookie of its own address proves it receives there (as WireGuard's cookie reply
 *   does under load, and DTLS's HelloVerifyRequest always). */
#ifndef BRAID_CORE_GATE_H
#define BRAID_CORE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "core/wire.h"

#define BRAID__GATE_SOURCES 1024 /* source buckets; a collision restarts the bucket */

struct braid__gate_bucket {
	uint8_t ip[16];  /* IPv4 in the first 4 bytes */
	uint8_t family;  /* 0: unused */
	double tokens;
	uint64_t last_us;
};

struct braid__gate {
	uint8_t secret[32];  /* the cookies' and the bucket index's key; drawn at start */
	double per_source_rate, per_source_burst; /* HELLOs per second per source */
	double cookie_rate, cookie_burst;         /* COOKIEs per second, all sources */
	double cookie_tokens;
	uint64_t cookie_last_us;
	struct braid__gate_bucket buckets[BRAID__GATE_SOURCES];
};

/* secret: 32 random bytes (the receiver's key seed mixed with its seed). Rates in HELLOs
 * (or COOKIEs) per second; bursts in the same units. */
void braid__gate_init(struct braid__gate *g, const uint8_t secret[32], double per_source_rate,
		      double cookie_rate);

/* One HELLO from `from` at now: true while its source's bucket has a token (taken). */
bool braid__gate_allow_hello(struct braid__gate *g, const struct braid_addr *from,
			     uint64_t now_us);
/* One COOKIE to send: true while the shared bucket has a token (taken). */
bool braid__gate_allow_cookie(struct braid__gate *g, uint64_t now_us);

/* The cookie of (from, session, link) in the epoch of now. */
void braid__gate_cookie(const struct braid__gate *g, const struct braid_addr *from,
			uint32_t session_id, uint16_t link_id, uint64_t now_us,
			uint8_t out[BRAID_COOKIE_SIZE]);
/* Whether cookie is the one of (from, session, link) in this epoch or the one before. */
bool braid__gate_cookie_valid(const struct braid__gate *g, const struct braid_addr *from,
			      uint32_t session_id, uint16_t link_id, uint64_t now_us,
			      const uint8_t cookie[BRAID_COOKIE_SIZE]);

/* Same IP address (any port). */
bool braid__gate_same_host(const struct braid_addr *a, const struct braid_addr *b);

#endif
