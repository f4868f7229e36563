#include "ctl/policy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MICRO UINT64_C(1000000)

static bool parse_bits(const char *text, unsigned max, unsigned *out)
{
	char *end;
	if (text[0] < '0' || text[0] > '9')
		return false;
	unsigned long v = strtoul(text, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Whether every bit of addr after the first `bits` is zero. */
static bool host_bits_zero(const uint8_t *addr, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		uint8_t mask = (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
		if (addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

bool ctl_prefix_parse(const char *text, struct ctl_prefix *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	if (host_len == 0 || host_len >= sizeof(host))
		return false;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return false;
	unsigned max = out->family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash && !parse_bits(slash + 1, max, &out->bits))
		return false;
	return host_bits_zero(out->addr, max / 8, out->bits);
}

bool ctl_allowlist_add(struct ctl_allowlist *list, const char *text)
{
	if (list->count >= CTL_ALLOW_MAX)
		return false;
	if (!ctl_prefix_parse(text, &list->prefixes[list->count]))
		return false;
	list->count++;
	return true;
}

void ctl_allowlist_loopback(struct ctl_allowlist *list)
{
	list->count = 0;
	ctl_allowlist_add(list, "127.0.0.0/8");
	ctl_allowlist_add(list, "::1");
}

static bool prefix_match(const struct ctl_prefix *p, int family, const uint8_t *addr)
{
	if (p->family != family)
		return false;
	unsigned whole = p->bits / 8, rest = p->bits % 8;
	if (memcmp(p->addr, addr, whole) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (addr[whole] & mask) == p->addr[whole];
}

bool ctl_allowlist_match(const struct ctl_allowlist *list, const struct braid_addr *addr)
{
	int family = addr->u.sa.sa_family;
	const uint8_t *bytes;
	if (family == AF_INET) {
		bytes = (const uint8_t *)&addr->u.in4.sin_addr;
	} else if (family == AF_INET6) {
		bytes = addr->u.in6.sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&addr->u.in6.sin6_addr)) {
			family = AF_INET;
			bytes += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < list->count; i++)
		if (prefix_match(&list->prefixes[i], family, bytes))
			return true;
	return false;
}

void ctl_bucket_init(struct ctl_bucket *b, uint64_t rate, uint64_t now_us)
{
	b->rate = rate;
	b->tokens_u = rate * MICRO; /* a full second's burst from the start */
	b->last_us = now_us;
}

static void refill(struct ctl_bucket *b, uint64_t now_us)
{
	if (now_us <= b->last_us)
		return;
	uint64_t elapsed = now_us - b->last_us;
	uint64_t cap = b->rate * MICRO;
	/* elapsed * rate overflows only after hours at tens of Gbit/s: clamp first */
	uint64_t add = elapsed >= MICRO ? cap : elapsed * b->rate;
	b->tokens_u = cap - b->tokens_u < add ? cap : b->tokens_u + add;
	b->last_us = now_us;
}

bool ctl_bucket_has(struct ctl_bucket *b, uint64_t cost, uint64_t now_us)
{
	if (!b->rate)
		return true;
	refill(b, now_us);
	return cost <= b->tokens_u / MICRO;
}

bool ctl_bucket_take(struct ctl_bucket *b, uint64_t cost, uint64_t now_us)
{
	if (!ctl_bucket_has(b, cost, now_us))
		return false;
	if (b->rate)
		b->tokens_u -= cost * MICRO;
	return true;
}
