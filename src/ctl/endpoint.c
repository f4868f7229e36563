#include "ctl/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tcp.h"
#include "io/udp.h"

static bool parse_literal(const char *text, uint16_t port, struct braid_addr *out)
{
	char host[CTL_ADDRESS_MAX];
	size_t len = strlen(text);
	memset(out, 0, sizeof(*out));
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		memcpy(host, text + 1, len - 2);
		host[len - 2] = '\0';
	} else {
		snprintf(host, sizeof(host), "%s", text);
	}
	if (inet_pton(AF_INET, host, &out->u.in4.sin_addr) == 1) {
		out->u.in4.sin_family = AF_INET;
		out->u.in4.sin_port = htons(port);
		out->len = sizeof(out->u.in4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &out->u.in6.sin6_addr) == 1) {
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_port = htons(port);
		out->len = sizeof(out->u.in6);
		return true;
	}
	return false;
}

enum ctl_code ctl_endpoint_addr(const struct ctl_endpoint *ep, bool wildcard_ok, int family,
				struct braid_addr *out, char *err, size_t err_len)
{
	if (ep->port > 65535) {
		snprintf(err, err_len, "port %u is above 65535", ep->port);
		return CTL_INVALID;
	}
	if (strnlen(ep->interface, CTL_INTERFACE_MAX) >= CTL_INTERFACE_MAX) {
		snprintf(err, err_len, "interface name too long");
		return CTL_INVALID;
	}
	if (ep->address[0] == '\0') {
		if (!wildcard_ok) {
			snprintf(err, err_len, "an address is required");
			return CTL_INVALID;
		}
		memset(out, 0, sizeof(*out));
		if (family == AF_INET) {
			out->u.in4.sin_family = AF_INET;
			out->u.in4.sin_port = htons((uint16_t)ep->port);
			out->len = sizeof(out->u.in4);
		} else {
			out->u.in6.sin6_family = AF_INET6;
			out->u.in6.sin6_addr = in6addr_any;
			out->u.in6.sin6_port = htons((uint16_t)ep->port);
			out->len = sizeof(out->u.in6);
		}
		return CTL_OK;
	}
	if (!parse_literal(ep->address, (uint16_t)ep->port, out)) {
		snprintf(err, err_len, "'%.64s' is not an IPv4 or IPv6 address", ep->address);
		return CTL_INVALID;
	}
	return CTL_OK;
}

void ctl_endpoint_from_addr(const struct braid_addr *addr, const struct ctl_endpoint *ep,
			    struct ctl_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (addr->u.sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &addr->u.in4.sin_addr, out->address, sizeof(out->address));
	else if (addr->u.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, out->address, sizeof(out->address));
	out->port = braid_addr_port(addr);
	if (ep)
		snprintf(out->interface, sizeof(out->interface), "%s", ep->interface);
}

enum ctl_code ctl_code_for_errno(int err)
{
	switch (err) {
	case EADDRINUSE:
		return CTL_EXISTS;
	case EADDRNOTAVAIL:
	case ENODEV:
	case EAFNOSUPPORT:
	case EINVAL:
	case EACCES:
	case EPERM:
		return CTL_INVALID;
	default:
		return CTL_INTERNAL;
	}
}

int ctl_udp_bind(const struct braid_addr *addr, const char *interface, enum ctl_code *code,
		 char *err, size_t err_len)
{
	struct braid_udp_options opt = { .bind = addr, .device = interface[0] ? interface : NULL,
					 .buffer_bytes = 1 << 20 };
	int fd = braid_udp_open(&opt);
	if (fd < 0) {
		char text[80];
		int saved = errno;
		*code = ctl_code_for_errno(saved);
		snprintf(err, err_len, "cannot bind %s%s%s: %s",
			 braid_addr_format(addr, text, sizeof(text)), interface[0] ? " on " : "",
			 interface, strerror(saved));
		return -1;
	}
	return fd;
}

static int bind_failed(const struct braid_addr *addr, const char *interface,
		       enum ctl_code *code, char *err, size_t err_len)
{
	char text[80];
	int saved = errno;
	*code = ctl_code_for_errno(saved);
	snprintf(err, err_len, "cannot bind %s%s%s: %s", braid_addr_format(addr, text, sizeof(text)),
		 interface[0] ? " on " : "", interface, strerror(saved));
	return -1;
}

int ctl_tcp_bind(const struct braid_addr *addr, const char *interface, bool listening,
		 enum ctl_code *code, char *err, size_t err_len)
{
	int fd = braid_tcp_open(addr, interface[0] ? interface : NULL, listening);
	if (fd < 0)
		return bind_failed(addr, interface, code, err, err_len);
	return fd;
}

enum ctl_code ctl_output_parse(const char *url, struct ctl_output *out, char *err,
			       size_t err_len)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(url, "file://", 7) == 0 && url[7]) {
		out->path = url + 7;
		return CTL_OK;
	}
	const char *hostport = strncmp(url, "udp://", 6) == 0 ? url + 6 : NULL;
	const char *colon = hostport ? strrchr(hostport, ':') : NULL;
	struct ctl_endpoint ep = { .port = 0 };
	char *end;
	if (colon && colon > hostport && (size_t)(colon - hostport) < sizeof(ep.address) &&
	    colon[1] >= '0' && colon[1] <= '9') {
		memcpy(ep.address, hostport, (size_t)(colon - hostport));
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (!*end && port >= 1 && port <= 65535) {
			ep.port = (uint32_t)port;
			out->udp = true;
			if (ctl_endpoint_addr(&ep, false, 0, &out->addr, err, err_len) == CTL_OK)
				return CTL_OK;
		}
	}
	snprintf(err, err_len, "output '%.200s' is not udp://ADDRESS:PORT or file://PATH", url);
	return CTL_INVALID;
}
