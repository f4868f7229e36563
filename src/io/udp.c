/* UDP for the I/O layer: address parsing and formatting, socket setup, and batched
 * receive (sending is in udp_send.c). */
#include "io/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "braid/error.h"
#include "io/udp_internal.h"

enum {
	BRAID_UDP_DEFAULT_BUFFER = 4 * 1024 * 1024,
	BRAID_UDP_CHUNK = 64, /* mmsghdr per system call */
	BRAID_UDP_HOST_MAX = 256,
};

/* ---- addresses ---- */

/* Port: 1 to 5 decimal digits, at most 65535. strtoul would accept signs and spaces. */
static int parse_port(const char *text, uint16_t *port)
{
	uint32_t value = 0;
	size_t i;

	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9' || i >= 5)
			return BRAID_ERR_INVAL;
		value = value * 10 + (uint32_t)(text[i] - '0');
	}
	if (i == 0 || value > 65535)
		return BRAID_ERR_INVAL;
	*port = (uint16_t)value;
	return 0;
}

/* Refuses text that cannot be a name or a numeric address before the resolver sees it,
 * so garbage never turns into a slow DNS query. */
static bool host_chars_valid(const char *host)
{
	if (host[0] == '\0')
		return false;
	for (size_t i = 0; host[i] != '\0'; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == ':' || c == '%'))
			return false;
	}
	return true;
}

static void set_port(struct braid_addr *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET)
		a->u.in4.sin_port = htons(port);
	else if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons(port);
}

/* Hosts containing ':' are IPv6 literals (with an optional %scope): never looked up. */
static int resolve_host(const char *host, int family, uint16_t port, struct braid_addr *out)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;

	if (!host_chars_valid(host))
		return BRAID_ERR_INVAL;
	if (strchr(host, ':'))
		hints.ai_flags |= AI_NUMERICHOST;
	else if (strchr(host, '%'))
		return BRAID_ERR_INVAL; /* a scope belongs to an IPv6 literal only */
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
		return BRAID_ERR_INVAL;
	if (res->ai_addrlen > sizeof(out->u.storage) ||
	    (res->ai_family != AF_INET && res->ai_family != AF_INET6)) {
		freeaddrinfo(res);
		return BRAID_ERR_INVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->u.storage, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	set_port(out, port);
	return 0;
}

static void make_wildcard(int passive, uint16_t port, struct braid_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (passive) {
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_addr = in6addr_any;
		out->u.in6.sin6_port = htons(port);
		out->len = sizeof(out->u.in6);
	} else {
		out->u.in4.sin_family = AF_INET;
		out->u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out->u.in4.sin_port = htons(port);
		out->len = sizeof(out->u.in4);
	}
}

/* "[host]:port": host must be IPv6. */
static int parse_bracketed(const char *text, struct braid_addr *out)
{
	char host[BRAID_UDP_HOST_MAX];
	const char *close = strchr(text, ']');
	size_t host_len;
	uint16_t port;
	int err;

	if (!close || close[1] != ':')
		return BRAID_ERR_INVAL;
	host_len = (size_t)(close - text - 1);
	if (host_len == 0 || host_len >= sizeof(host))
		return BRAID_ERR_INVAL;
	memcpy(host, text + 1, host_len);
	host[host_len] = '\0';
	err = parse_port(close + 2, &port);
	if (!err)
		err = resolve_host(host, AF_INET6, port, out);
	return err;
}

int braid_addr_parse(const char *text, int passive, struct braid_addr *out)
{
	char host[BRAID_UDP_HOST_MAX];
	const char *colon;
	size_t host_len;
	uint16_t port;

	if (!text || !out)
		return BRAID_ERR_INVAL;
	if (text[0] == '[')
		return parse_bracketed(text, out);
	colon = strrchr(text, ':');
	if (!colon || colon == text) {
		if (parse_port(colon ? colon + 1 : text, &port) < 0)
			return BRAID_ERR_INVAL;
		make_wildcard(passive, port, out);
		return 0;
	}
	host_len = (size_t)(colon - text);
	/* A second ':' means an unbracketed IPv6 literal, whose port would be ambiguous. */
	if (host_len >= sizeof(host) || memchr(text, ':', host_len))
		return BRAID_ERR_INVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (parse_port(colon + 1, &port) < 0)
		return BRAID_ERR_INVAL;
	return resolve_host(host, AF_UNSPEC, port, out);
}

int braid_addr_parse_host(const char *text, uint16_t port, struct braid_addr *out)
{
	char host[BRAID_UDP_HOST_MAX];
	size_t len;

	if (!text || !out)
		return BRAID_ERR_INVAL;
	len = strlen(text);
	/* "[::1]" is accepted too, as people write it out of habit. */
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		if (len - 2 >= sizeof(host))
			return BRAID_ERR_INVAL;
		memcpy(host, text + 1, len - 2);
		host[len - 2] = '\0';
		return resolve_host(host, AF_INET6, port, out);
	}
	return resolve_host(text, AF_UNSPEC, port, out);
}

const char *braid_addr_format(const struct braid_addr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	if (!buf || cap == 0)
		return buf;
	if (!a || a->len == 0) {
		snprintf(buf, cap, "(none)");
	} else if (a->u.sa.sa_family == AF_INET &&
		   inet_ntop(AF_INET, &a->u.in4.sin_addr, host, sizeof(host))) {
		snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a->u.in4.sin_port));
	} else if (a->u.sa.sa_family == AF_INET6 &&
		   inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof(host))) {
		/* A numeric scope: the parser reads it back, and no interface lookup is needed. */
		if (a->u.in6.sin6_scope_id != 0)
			snprintf(buf, cap, "[%s%%%u]:%u", host, (unsigned)a->u.in6.sin6_scope_id,
				 (unsigned)ntohs(a->u.in6.sin6_port));
		else
			snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(a->u.in6.sin6_port));
	} else {
		snprintf(buf, cap, "(family %d)", (int)a->u.sa.sa_family);
	}
	return buf;
}

uint16_t braid_addr_port(const struct braid_addr *a)
{
	if (!a || a->len == 0)
		return 0;
	if (a->u.sa.sa_family == AF_INET)
		return ntohs(a->u.in4.sin_port);
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.in6.sin6_port);
	return 0;
}

/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; storing them as plain IPv4
 * makes one peer compare equal whichever socket heard it. Linux sends to a plain IPv4
 * address from a dual-stack socket, so replies work unchanged. */
void braid_udp_unmap_v4(struct braid_addr *a)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };

	if (a->len < sizeof(a->u.in6) || a->u.sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr))
		return;
	in4.sin_port = a->u.in6.sin6_port;
	memcpy(&in4.sin_addr, &a->u.in6.sin6_addr.s6_addr[12], sizeof(in4.sin_addr));
	memset(&a->u.storage, 0, sizeof(a->u.storage));
	a->u.in4 = in4;
	a->len = sizeof(in4);
}

/* ---- sockets ---- */

/* Closes fd without losing the errno that explains the failure. */
static int fail_closing(int fd, int result)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return result;
}

/* The FORCE variants pass net.core.[rw]mem_max (we usually run as root, with
 * CAP_NET_ADMIN); without the capability the plain option gets what the limit allows. */
static void set_buffers(int fd, int bytes)
{
	int saved = errno;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	errno = saved;
}

static int choose_local(const struct braid_udp_options *opt, struct braid_addr *local)
{
	int family = opt->family ? opt->family : AF_INET6;

	memset(local, 0, sizeof(*local));
	if (opt->bind && opt->bind->len != 0) {
		if (opt->bind->len > sizeof(local->u.storage))
			return BRAID_ERR_INVAL;
		*local = *opt->bind;
	} else if (family == AF_INET6) {
		local->u.in6.sin6_family = AF_INET6;
		local->u.in6.sin6_addr = in6addr_any;
		local->len = sizeof(local->u.in6);
	} else if (family == AF_INET) {
		local->u.in4.sin_family = AF_INET;
		local->u.in4.sin_addr.s_addr = htonl(INADDR_ANY);
		local->len = sizeof(local->u.in4);
	} else {
		return BRAID_ERR_INVAL;
	}
	if (local->u.sa.sa_family == AF_INET && local->len == sizeof(local->u.in4))
		return 0;
	if (local->u.sa.sa_family == AF_INET6 && local->len == sizeof(local->u.in6))
		return 0;
	return BRAID_ERR_INVAL;
}

static int configure(int fd, const struct braid_udp_options *opt, const struct braid_addr *local)
{
	int off = 0;

	set_buffers(fd, opt->buffer_bytes ? opt->buffer_bytes : BRAID_UDP_DEFAULT_BUFFER);
	if (opt->device &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, opt->device,
		       (socklen_t)strlen(opt->device)) < 0)
		return BRAID_ERR_IO;
	/* One wildcard socket then serves IPv4 peers too, whatever net.ipv6.bindv6only says. */
	if (local->u.sa.sa_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&local->u.in6.sin6_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		return BRAID_ERR_IO;
	if (bind(fd, &local->u.sa, local->len) < 0)
		return BRAID_ERR_IO;
	return 0;
}

int braid_udp_open(const struct braid_udp_options *opt)
{
	struct braid_addr local;
	int fd;
	int err;

	if (!opt || opt->buffer_bytes < 0)
		return BRAID_ERR_INVAL;
	if (opt->device && (opt->device[0] == '\0' || strlen(opt->device) >= IFNAMSIZ))
		return BRAID_ERR_INVAL;
	err = choose_local(opt, &local);
	if (err)
		return err;
	fd = socket(local.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return BRAID_ERR_IO;
	err = configure(fd, opt, &local);
	if (err)
		return fail_closing(fd, err);
	return fd;
}

int braid_udp_local(int fd, struct braid_addr *out)
{
	if (!out)
		return BRAID_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->u.storage);
	if (getsockname(fd, &out->u.sa, &out->len) < 0) {
		out->len = 0;
		return errno == EBADF || errno == ENOTSOCK ? BRAID_ERR_INVAL : BRAID_ERR_IO;
	}
	return 0;
}

/* ---- receive ---- */

static void prepare_recv(struct braid_datagram *d, struct mmsghdr *m, struct iovec *iov)
{
	iov->iov_base = d->buf;
	iov->iov_len = d->cap;
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &d->addr.u.storage;
	m->msg_hdr.msg_namelen = sizeof(d->addr.u.storage);
	m->msg_hdr.msg_iov = iov;
	m->msg_hdr.msg_iovlen = 1;
}

static void finish_recv(struct braid_datagram *d, const struct mmsghdr *m)
{
	d->addr.len = m->msg_hdr.msg_namelen;
	if (d->addr.len > sizeof(d->addr.u.storage))
		d->addr.len = sizeof(d->addr.u.storage);
	braid_udp_unmap_v4(&d->addr);
	d->len = m->msg_len < d->cap ? m->msg_len : d->cap;
	d->truncated = (m->msg_hdr.msg_flags & MSG_TRUNC) != 0;
}

/* Receives one chunk; returns the count, 0 when nothing waits, or -1 with errno. */
static int recv_chunk(int fd, struct braid_datagram *batch, size_t n)
{
	struct mmsghdr msgs[BRAID_UDP_CHUNK];
	struct iovec iov[BRAID_UDP_CHUNK];
	int got;

	for (size_t i = 0; i < n; i++)
		prepare_recv(&batch[i], &msgs[i], &iov[i]);
	got = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	for (int i = 0; i < got; i++)
		finish_recv(&batch[i], &msgs[i]);
	return got;
}

int braid_udp_recv_batch(int fd, struct braid_datagram *batch, size_t n)
{
	size_t done = 0;
	int refused = 0;

	if (n > 0 && !batch)
		return BRAID_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (!batch[i].buf && batch[i].cap > 0)
			return BRAID_ERR_INVAL;
	}
	if (n > INT32_MAX)
		n = INT32_MAX;
	while (done < n) {
		size_t want = n - done < BRAID_UDP_CHUNK ? n - done : BRAID_UDP_CHUNK;
		int got = recv_chunk(fd, batch + done, want);

		if (got < 0) {
			/* An ICMP error left on the socket is reported once, then cleared: the
			 * datagrams behind it are still there to read. */
			if (errno == ECONNREFUSED && refused++ < 4)
				continue;
			return done > 0 ? (int)done : BRAID_ERR_IO;
		}
		done += (size_t)got;
		if ((size_t)got < want)
			break;
	}
	return (int)done;
}
