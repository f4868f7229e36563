/* Per-source token buckets and return-routability cookies (gate.h). */
#include "core/gate.h"

#include <string.h>

#include "core/crypto.h"

/* A cookie is good for this epoch and the next: 2 to 4 minutes. */
#define COOKIE_EPOCH_US (120u * 1000000u)
#define BUCKET_BURST_SECONDS 2.0

/* The IP of an address (and its length): the source a bucket stands for. */
static size_t ip_of(const struct braid_addr *a, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (a->u.sa.sa_family == AF_INET) {
		memcpy(ip, &a->u.in4.sin_addr, 4);
		return 4;
	}
	if (a->u.sa.sa_family == AF_INET6) {
		memcpy(ip, &a->u.in6.sin6_addr, 16);
		return 16;
	}
	return 0;
}

bool braid__gate_same_host(const struct braid_addr *a, const struct braid_addr *b)
{
	uint8_t x[16], y[16];
	size_t n = ip_of(a, x);
	return n > 0 && a->u.sa.sa_family == b->u.sa.sa_family && ip_of(b, y) == n &&
	       memcmp(x, y, n) == 0;
}

void braid__gate_init(struct braid__gate *g, const uint8_t secret[32], double per_source_rate,
		      double cookie_rate)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->secret, secret, sizeof(g->secret));
	g->per_source_rate = per_source_rate;
	g->per_source_burst = per_source_rate * BUCKET_BURST_SECONDS;
	g->cookie_rate = cookie_rate;
	g->cookie_burst = cookie_rate * BUCKET_BURST_SECONDS;
	g->cookie_tokens = g->cookie_burst;
}

/* Refills a bucket for the time since its last use and takes a token if there is one. */
static bool take(double *tokens, uint64_t *last_us, double rate, double burst, uint64_t now_us)
{
	if (now_us > *last_us) {
		*tokens += (double)(now_us - *last_us) / 1e6 * rate;
		if (*tokens > burst)
			*tokens = burst;
		*last_us = now_us;
	}
	if (*tokens < 1.0)
		return false;
	*tokens -= 1.0;
	return true;
}

bool braid__gate_allow_hello(struct braid__gate *g, const struct braid_addr *from,
			     uint64_t now_us)
{
	uint8_t ip[16], hash[BRAID_MAC_SIZE];
	size_t n = ip_of(from, ip);
	if (n == 0)
		return false;
	/* keyed hash: a stranger cannot aim its sources at one bucket */
	braid__mac(g->secret, ip, sizeof(ip), hash);
	size_t index = ((size_t)hash[0] | (size_t)hash[1] << 8) % BRAID__GATE_SOURCES;
	struct braid__gate_bucket *b = &g->buckets[index];
	if (b->family != from->u.sa.sa_family || memcmp(b->ip, ip, sizeof(ip)) != 0) {
		memcpy(b->ip, ip, sizeof(ip));
		b->family = (uint8_t)from->u.sa.sa_family;
		b->tokens = g->per_source_burst;
		b->last_us = now_us;
	}
	return take(&b->tokens, &b->last_us, g->per_source_rate, g->per_source_burst, now_us);
}

bool braid__gate_allow_cookie(struct braid__gate *g, uint64_t now_us)
{
	return take(&g->cookie_tokens, &g->cookie_last_us, g->cookie_rate, g->cookie_burst,
		    now_us);
}

static void cookie_at(const struct braid__gate *g, const struct braid_addr *from,
		      uint32_t session_id, uint16_t link_id, uint64_t epoch,
		      uint8_t out[BRAID_COOKIE_SIZE])
{
	uint8_t input[16 + 2 + 4 + 2 + 8];
	uint8_t ip[16];
	ip_of(from, ip);
	uint16_t port = from->u.sa.sa_family == AF_INET6 ? from->u.in6.sin6_port
							  : from->u.in4.sin_port;
	memcpy(input, ip, 16);
	memcpy(input + 16, &port, 2);
	for (int i = 0; i < 4; i++)
		input[18 + i] = (uint8_t)(session_id >> (24 - 8 * i));
	input[22] = (uint8_t)(link_id >> 8);
	input[23] = (uint8_t)link_id;
	for (int i = 0; i < 8; i++)
		input[24 + i] = (uint8_t)(epoch >> (56 - 8 * i));
	_Static_assert(BRAID_COOKIE_SIZE == BRAID_MAC_SIZE, "a cookie is one MAC");
	braid__mac(g->secret, input, sizeof(input), out);
}

void braid__gate_cookie(const struct braid__gate *g, const struct braid_addr *from,
			uint32_t session_id, uint16_t link_id, uint64_t now_us,
			uint8_t out[BRAID_COOKIE_SIZE])
{
	cookie_at(g, from, session_id, link_id, now_us / COOKIE_EPOCH_US, out);
}

bool braid__gate_cookie_valid(const struct braid__gate *g, const struct braid_addr *from,
			      uint32_t session_id, uint16_t link_id, uint64_t now_us,
			      const uint8_t cookie[BRAID_COOKIE_SIZE])
{
	uint64_t epoch = now_us / COOKIE_EPOCH_US;
	uint8_t expected[BRAID_COOKIE_SIZE];
	cookie_at(g, from, session_id, link_id, epoch, expected);
	if (braid__equal_ct(expected, cookie, BRAID_COOKIE_SIZE))
		return true;
	if (epoch == 0)
		return false;
	cookie_at(g, from, session_id, link_id, epoch - 1, expected);
	return braid__equal_ct(expected, cookie, BRAID_COOKIE_SIZE);
}
