#include "bench_net.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
	BENCH_SOCKET_BUFFER = 4 * 1024 * 1024, /* as braid's sockets: same buffering, same floor */
	BENCH_HOST_MAX = 128,
};

/* Splits "host:port" or "[host]:port" into its two parts. */
static int split_host_port(const char *text, char *host, size_t host_cap, const char **port)
{
	const char *start = text, *end;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -1;
		start = text + 1;
		*port = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end)
			return -1;
		*port = end + 1;
	}
	size_t len = (size_t)(end - start);
	if (len == 0 || len >= host_cap || **port == '\0')
		return -1;
	memcpy(host, start, len);
	host[len] = '\0';
	return 0;
}

int bench_addr_parse(const char *text, struct bench_addr *out)
{
	char host[BENCH_HOST_MAX];
	const char *port;
	struct addrinfo hints = {
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;

	if (!text || split_host_port(text, host, sizeof(host), &port) < 0)
		return -1;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return -1;
	int rc = -1;
	if (res->ai_addrlen <= sizeof(out->ss)) {
		memset(out, 0, sizeof(*out));
		memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
		out->len = res->ai_addrlen;
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

static void set_buffers(int fd)
{
	int bytes = BENCH_SOCKET_BUFFER;

	/* The FORCE options pass net.core.[rw]mem_max when we may (root); else take the cap. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int bench_udp_open(const struct bench_addr *local, const struct bench_addr *peer)
{
	const struct bench_addr *any = local ? local : peer;

	if (!any) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(any->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	set_buffers(fd);
	if ((local && bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0) ||
	    (peer && connect(fd, (const struct sockaddr *)&peer->ss, peer->len) < 0)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int bench_set_recv_timeout(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

void bench_print_bound(const char *prog, const char *what, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		fprintf(stderr, "%s: %s on an unknown address\n", prog, what);
		return;
	}
	if (ss.ss_family == AF_INET6)
		fprintf(stderr, "%s: %s on [%s]:%s\n", prog, what, host, port);
	else
		fprintf(stderr, "%s: %s on %s:%s\n", prog, what, host, port);
}

void bench_block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

bool bench_stop_requested(void)
{
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return false;
	return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bench_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	char *end;

	if (!text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}
