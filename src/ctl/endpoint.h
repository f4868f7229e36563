/* Endpoints of the API as socket addresses, and sockets opened on them with an answer a
 * client can act on (a port in use is not the same failure as a bad address). */
#ifndef BRAID_CTL_ENDPOINT_H
#define BRAID_CTL_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "braid/addr.h"
#include "ctl/session.h"

/* A literal address (no name lookups: a slow resolver must not stall the loop) and the
 * port. An empty address is the wildcard of `family` (AF_INET6: dual-stack) when
 * wildcard_ok, an error otherwise. */
enum ctl_code ctl_endpoint_addr(const struct ctl_endpoint *ep, bool wildcard_ok, int family,
				struct braid_addr *out, char *err, size_t err_len);
/* The endpoint an address stands for (interface kept from `ep`, or "" when NULL). */
void ctl_endpoint_from_addr(const struct braid_addr *addr, const struct ctl_endpoint *ep,
			    struct ctl_endpoint *out);
/* A UDP socket bound to addr (and the endpoint's interface). Returns the fd, or -1 with
 * *code and err set: CTL_EXISTS for a port in use, CTL_INVALID for an address or
 * interface this host does not have. */
int ctl_udp_bind(const struct braid_addr *addr, const char *interface, enum ctl_code *code,
		 char *err, size_t err_len);
/* A non-blocking TCP socket bound to addr (and the interface), listening when asked;
 * failures as ctl_udp_bind's. */
int ctl_tcp_bind(const struct braid_addr *addr, const char *interface, bool listening,
		 enum ctl_code *code, char *err, size_t err_len);
/* The code for a failed bind's errno. */
enum ctl_code ctl_code_for_errno(int err);

/* A bond session's output: "udp://ADDRESS:PORT" (a literal address; IPv6 in brackets) or
 * "file://PATH" (PATH may hold {session}). */
struct ctl_output {
	bool udp;
	struct braid_addr addr; /* udp */
	const char *path;       /* file: points into the URL */
};
enum ctl_code ctl_output_parse(const char *url, struct ctl_output *out, char *err,
			       size_t err_len);

#endif
