/* Test tool: a stranger hammering a receiver's public port with HELLOs, well formed by
 * braid's own wire encoder so they get past the decoder and cost the receiver what a real
 * attack would. Two modes; each prints one JSON line of what it sent and what came back.
 *
 *   hello_flood flood HOST:PORT COUNT SOCKETS keyed|plain [PER_SECOND]
 *       COUNT forged HELLOs, PER_SECOND of them a second (0 or none: as fast as the
 *       sockets take them), round robin over SOCKETS
 *       sockets (so many source ports): random session ids, link ids, sender nonces and
 *       ephemeral keys; keyed ones carry a MAC under a random key (wrong), plain ones a
 *       random cookie (wrong). Everything the receiver sends back is counted.
 *   hello_flood lockout HOST:PORT SESSIONS
 *       Tries to open SESSIONS unkeyed sessions from one socket, answering each COOKIE as a
 *       real sender does (the cookie goes back in the first 16 bytes of the ephemeral key
 *       field); counts the sessions that were answered with a HELLO_ACK.
 *
 * Only for tests on loopback. Exit status 0 when it ran, 2 on a bad argument, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "core/wire.h"

#define MAX_SOCKETS 1024
#define DRAIN_EVERY 256       /* sends between two looks at what came back */
#define PACE_EVERY 100       /* sends between two looks at the clock, when paced */
#define SETTLE_MS 500         /* after the last send: answers still on their way */
#define ANSWER_WAIT_MS 300    /* lockout: how long a round of HELLOs waits for answers */
#define LOCKOUT_ROUNDS 4     /* HELLO, HELLO with the cookie, and a retry of each */

struct counts {
	unsigned long long sent, sent_bytes, send_errors;
	unsigned long long received, received_bytes, cookies, hello_acks;
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int parse_target(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int open_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void fill_random(struct braid_rng *rng, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = braid_rng_next(rng);
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(out + i, &v, n);
	}
}

static void hello_base(struct braid_packet *p, uint32_t session_id, uint16_t link_id)
{
	memset(p, 0, sizeof(*p));
	p->header = (struct braid_header){ .type = BRAID_PKT_HELLO, .link_id = link_id,
					   .session_id = session_id };
	p->body.hello.wall_us = wall_us();
	p->body.hello.timestamp_us = (uint32_t)mono_us();
	/* braid recv's default budget: a HELLO with another is refused before anything else
	 * it could cost, and the attack would test nothing */
	p->body.hello.latency_us = 1000000;
	p->body.hello.name_len = 5;
	memcpy(p->body.hello.name, "flood", 6);
}

/* One forged HELLO: everything random, so no two name the same session or exchange. */
static int forged_hello(struct braid_rng *rng, const uint8_t *mac_key, uint8_t *buf, size_t cap)
{
	struct braid_packet p;
	uint32_t session_id = (uint32_t)braid_rng_next(rng) | 1u; /* never 0 */
	hello_base(&p, session_id, (uint16_t)braid_rng_next(rng));
	fill_random(rng, p.body.hello.sender_nonce, BRAID_NONCE_SIZE);
	fill_random(rng, p.body.hello.ephemeral, BRAID_EPHEMERAL_SIZE);
	struct braid_wire_key key = { .mac_key = mac_key };
	return braid_wire_encode(&p, mac_key ? &key : NULL, buf, cap);
}

/* Reads whatever waits on fd, counting it. */
static void drain(int fd, struct counts *c)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return;
		c->received++;
		c->received_bytes += (unsigned long long)n;
		struct braid_packet p;
		if (braid_wire_decode(buf, (size_t)n, &p) == 0) {
			c->cookies += p.header.type == BRAID_PKT_COOKIE;
			c->hello_acks += p.header.type == BRAID_PKT_HELLO_ACK;
		}
	}
}

static void drain_all(const int *fds, int n, struct counts *c)
{
	for (int i = 0; i < n; i++)
		drain(fds[i], c);
}

/* Sends one datagram, waiting for room when the socket's buffer is full. */
static int send_blocking(int fd, const uint8_t *buf, size_t len, const struct sockaddr_in *to)
{
	for (;;) {
		if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) >= 0)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		poll(&pfd, 1, 10);
	}
}

static void settle(const int *fds, int n, struct counts *c)
{
	uint64_t until = mono_us() + SETTLE_MS * 1000u;
	while (mono_us() < until) {
		drain_all(fds, n, c);
		usleep(10000);
	}
	drain_all(fds, n, c);
}

/* Holds the flood to per_second HELLOs a second (0: no limit). */
static void pace(uint64_t t0, unsigned long long sent, double per_second)
{
	if (per_second <= 0 || sent % PACE_EVERY)
		return;
	uint64_t due = t0 + (uint64_t)((double)sent * 1e6 / per_second);
	uint64_t now = mono_us();
	if (due > now)
		usleep((useconds_t)(due - now));
}

static int flood(const struct sockaddr_in *to, unsigned long long count, int sockets, int keyed,
		 double per_second)
{
	int fds[MAX_SOCKETS];
	for (int i = 0; i < sockets; i++) {
		fds[i] = open_socket();
		if (fds[i] < 0) {
			perror("hello_flood: socket");
			return 1;
		}
	}
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = mono_us();
	struct braid_rng rng;
	braid_rng_seed(&rng, seed);
	uint8_t wrong_key[32];
	fill_random(&rng, wrong_key, sizeof(wrong_key));
	struct counts c = { 0 };
	uint8_t buf[BRAID_MAX_DATAGRAM];
	uint64_t t0 = mono_us();
	for (unsigned long long i = 0; i < count; i++) {
		int n = forged_hello(&rng, keyed ? wrong_key : NULL, buf, sizeof(buf));
		if (n <= 0 || send_blocking(fds[i % (unsigned)sockets], buf, (size_t)n, to) < 0) {
			c.send_errors++;
			continue;
		}
		c.sent++;
		c.sent_bytes += (unsigned)n;
		if (i % DRAIN_EVERY == 0)
			drain_all(fds, sockets, &c);
		pace(t0, i + 1, per_second);
	}
	double seconds = (double)(mono_us() - t0) / 1e6;
	settle(fds, sockets, &c);
	for (int i = 0; i < sockets; i++)
		close(fds[i]);
	printf("{\"sent\":%llu,\"sent_bytes\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,"
	       "\"received\":%llu,\"received_bytes\":%llu,\"cookies\":%llu,\"hello_acks\":%llu}\n",
	       c.sent, c.sent_bytes, c.send_errors, seconds, c.received, c.received_bytes,
	       c.cookies, c.hello_acks);
	return 0;
}

/* Lockout: one would-be session, as a sender opens it: HELLO, COOKIE, HELLO with the
 * cookie, HELLO_ACK. */
struct attempt {
	uint32_t session_id;
	uint8_t nonce[BRAID_NONCE_SIZE];
	uint8_t cookie[BRAID_COOKIE_SIZE];
	int has_cookie, opened;
};

static int say_hello(int fd, const struct sockaddr_in *to, const struct attempt *a,
		     struct counts *c)
{
	struct braid_packet p;
	uint8_t buf[BRAID_MAX_DATAGRAM];
	hello_base(&p, a->session_id, 0);
	memcpy(p.body.hello.sender_nonce, a->nonce, BRAID_NONCE_SIZE);
	if (a->has_cookie)
		memcpy(p.body.hello.ephemeral, a->cookie, BRAID_COOKIE_SIZE);
	int n = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	if (n <= 0 || send_blocking(fd, buf, (size_t)n, to) < 0)
		return -1;
	c->sent++;
	c->sent_bytes += (unsigned)n;
	return 0;
}

/* Takes the answers that come within ANSWER_WAIT_MS: a COOKIE is kept for its session's
 * next HELLO, a HELLO_ACK opens the session. */
static void collect_answers(int fd, struct attempt *a, int n, struct counts *c)
{
	uint64_t until = mono_us() + ANSWER_WAIT_MS * 1000u;
	uint8_t buf[BRAID_MAX_DATAGRAM];
	for (uint64_t now = mono_us(); now < until; now = mono_us()) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		poll(&pfd, 1, (int)((until - now) / 1000u) + 1);
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0)
			continue;
		c->received++;
		c->received_bytes += (unsigned long long)len;
		struct braid_packet p;
		if (braid_wire_decode(buf, (size_t)len, &p) < 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (a[i].session_id != p.header.session_id)
				continue;
			if (p.header.type == BRAID_PKT_COOKIE) {
				c->cookies++;
				memcpy(a[i].cookie, p.body.cookie.cookie, BRAID_COOKIE_SIZE);
				a[i].has_cookie = 1;
			} else if (p.header.type == BRAID_PKT_HELLO_ACK) {
				c->hello_acks++;
				a[i].opened = 1;
			}
		}
	}
}

/* Every attempt at once, in rounds: each round says HELLO for every session not opened
 * yet (with its cookie once it has one) and collects the answers. */
static int lockout(const struct sockaddr_in *to, int sessions)
{
	int fd = open_socket();
	struct attempt *a = calloc((size_t)sessions, sizeof(*a));
	if (fd < 0 || !a) {
		perror("hello_flood: lockout");
		return 1;
	}
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = mono_us();
	struct braid_rng rng;
	braid_rng_seed(&rng, seed);
	for (int i = 0; i < sessions; i++) {
		a[i].session_id = (uint32_t)braid_rng_next(&rng) | 1u;
		fill_random(&rng, a[i].nonce, BRAID_NONCE_SIZE);
	}
	struct counts c = { 0 };
	for (int round = 0; round < LOCKOUT_ROUNDS; round++) {
		for (int i = 0; i < sessions; i++)
			if (!a[i].opened)
				say_hello(fd, to, &a[i], &c);
		collect_answers(fd, a, sessions, &c);
	}
	int opened = 0;
	for (int i = 0; i < sessions; i++)
		opened += a[i].opened;
	close(fd);
	free(a);
	printf("{\"attempted\":%d,\"opened\":%d,\"refused\":%d,\"sent\":%llu,"
	       "\"sent_bytes\":%llu,\"received_bytes\":%llu,\"cookies\":%llu,"
	       "\"hello_acks\":%llu}\n", sessions, opened, sessions - opened, c.sent, c.sent_bytes,
	       c.received_bytes, c.cookies, c.hello_acks);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: hello_flood flood HOST:PORT COUNT SOCKETS keyed|plain "
			"[PER_SECOND]\n"
			"       hello_flood lockout HOST:PORT SESSIONS\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to;
	if (argc < 4 || parse_target(argv[2], &to) < 0)
		return usage();
	if (strcmp(argv[1], "flood") == 0 && (argc == 6 || argc == 7)) {
		unsigned long long count = strtoull(argv[3], NULL, 10);
		int sockets = atoi(argv[4]);
		int keyed = strcmp(argv[5], "keyed") == 0;
		double per_second = argc == 7 ? strtod(argv[6], NULL) : 0;
		if (count == 0 || sockets < 1 || sockets > MAX_SOCKETS || !(per_second >= 0) ||
		    (!keyed && strcmp(argv[5], "plain") != 0))
			return usage();
		return flood(&to, count, sockets, keyed, per_second);
	}
	if (strcmp(argv[1], "lockout") == 0 && argc == 4) {
		int sessions = atoi(argv[3]);
		if (sessions < 1)
			return usage();
		return lockout(&to, sessions);
	}
	return usage();
}
