/* Address comparison for the core: plain data, no system calls. */
#include "braid/addr.h"

#include <stddef.h>
#include <string.h>

bool braid_addr_equal(const struct braid_addr *a, const struct braid_addr *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	if (a->len == 0 || b->len == 0)
		return a->len == b->len;
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	switch (a->u.sa.sa_family) {
	case AF_INET:
		return a->u.in4.sin_port == b->u.in4.sin_port &&
		       a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
	case AF_INET6:
		/* sin6_flowinfo is per-packet metadata, not part of the peer's identity. */
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		       a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id &&
		       memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
			      sizeof(a->u.in6.sin6_addr)) == 0;
	default:
		/* Unknown families: the bytes are all we can compare. */
		return a->len == b->len && a->len <= sizeof(a->u.storage) &&
		       memcmp(&a->u.storage, &b->u.storage, a->len) == 0;
	}
}
