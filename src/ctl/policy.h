/* braidd's limits, sans-I/O: the destination allowlist (CIDR prefixes) and the token
 * buckets that cap a session's packet and bit rates. */
#ifndef BRAID_CTL_POLICY_H
#define BRAID_CTL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"

#define CTL_ALLOW_MAX 64

struct ctl_prefix {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	unsigned bits;
};

struct ctl_allowlist {
	struct ctl_prefix prefixes[CTL_ALLOW_MAX];
	size_t count;
};

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (a whole-length prefix). Host bits
 * under the prefix must be zero, so "10.1.2.3/8" (likely a typo) is refused. */
bool ctl_prefix_parse(const char *text, struct ctl_prefix *out);
/* Adds a prefix; false when the list is full or the text is not a prefix. */
bool ctl_allowlist_add(struct ctl_allowlist *list, const char *text);
/* Loopback only (127.0.0.0/8 and ::1): what braidd allows when none is configured. */
void ctl_allowlist_loopback(struct ctl_allowlist *list);
/* Whether an address falls in one of the prefixes. IPv4-mapped IPv6 addresses are
 * matched as IPv4. */
bool ctl_allowlist_match(const struct ctl_allowlist *list, const struct braid_addr *addr);

/* A token bucket: `rate` tokens per second, holding at most one second's worth. */
struct ctl_bucket {
	uint64_t rate;      /* 0: no limit */
	uint64_t tokens_u;  /* tokens times 10^6, so that refills of a few µs are not lost */
	uint64_t last_us;
};

void ctl_bucket_init(struct ctl_bucket *b, uint64_t rate, uint64_t now_us);
/* Takes `cost` tokens when they are there; false (nothing taken) when they are not. */
bool ctl_bucket_take(struct ctl_bucket *b, uint64_t cost, uint64_t now_us);
/* Whether `cost` tokens are there now, taking nothing. */
bool ctl_bucket_has(struct ctl_bucket *b, uint64_t cost, uint64_t now_us);

#endif
