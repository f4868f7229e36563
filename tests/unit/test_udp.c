/* UDP: address parsing and formatting, batched send and receive over loopback (IPv4 and
 * IPv6), truncation, local source addresses, dual-stack sockets and ICMP errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>

#include "braid/error.h"
#include "io/udp.h"
#include "io/udp_reader.h"
#include "harness.h"

enum { BATCH = 64, DGRAM_CAP = 2048 };

static struct braid_addr v4(const char *ip, uint16_t port)
{
	struct braid_addr a;

	memset(&a, 0, sizeof(a));
	a.u.in4.sin_family = AF_INET;
	a.u.in4.sin_port = htons(port);
	CHECK_EQ(inet_pton(AF_INET, ip, &a.u.in4.sin_addr), 1);
	a.len = sizeof(a.u.in4);
	return a;
}

static struct braid_addr v6(const char *ip, uint16_t port, uint32_t scope)
{
	struct braid_addr a;

	memset(&a, 0, sizeof(a));
	a.u.in6.sin6_family = AF_INET6;
	a.u.in6.sin6_port = htons(port);
	a.u.in6.sin6_scope_id = scope;
	CHECK_EQ(inet_pton(AF_INET6, ip, &a.u.in6.sin6_addr), 1);
	a.len = sizeof(a.u.in6);
	return a;
}

static void check_parse(const char *text, int passive, const struct braid_addr *want,
			const char *formatted)
{
	struct braid_addr got;
	char buf[80];

	CHECK_EQ(braid_addr_parse(text, passive, &got), 0);
	CHECK(braid_addr_equal(&got, want));
	CHECK_EQ(got.len, want->len);
	CHECK_EQ(braid_addr_port(&got), braid_addr_port(want));
	braid_addr_format(&got, buf, sizeof(buf));
	if (strcmp(buf, formatted) != 0)
		fprintf(stderr, "%s formatted as %s, expected %s\n", text, buf, formatted);
	CHECK(strcmp(buf, formatted) == 0);
}

static void test_parse_format(void)
{
	struct braid_addr want, got;
	char buf[80];

	want = v4("127.0.0.1", 5000);
	check_parse("127.0.0.1:5000", 0, &want, "127.0.0.1:5000");
	want = v4("10.20.30.40", 0);
	check_parse("10.20.30.40:0", 1, &want, "10.20.30.40:0");
	want = v6("::1", 6000, 0);
	check_parse("[::1]:6000", 0, &want, "[::1]:6000");
	want = v6("2001:db8::7", 65535, 0);
	check_parse("[2001:db8::7]:65535", 0, &want, "[2001:db8::7]:65535");
	want = v6("fe80::1", 7, 1);
	check_parse("[fe80::1%1]:7", 0, &want, "[fe80::1%1]:7");
	/* Wildcards: dual-stack for a listener, loopback for a destination. */
	want = v6("::", 9000, 0);
	check_parse(":9000", 1, &want, "[::]:9000");
	check_parse("9000", 1, &want, "[::]:9000");
	want = v4("127.0.0.1", 9000);
	check_parse(":9000", 0, &want, "127.0.0.1:9000");

	/* /etc/hosts may list localhost as either family. */
	CHECK_EQ(braid_addr_parse("localhost:4242", 0, &got), 0);
	CHECK_EQ(braid_addr_port(&got), 4242);
	if (got.u.sa.sa_family == AF_INET)
		CHECK_EQ(ntohl(got.u.in4.sin_addr.s_addr) >> 24, 127);
	else
		CHECK(got.u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&got.u.in6.sin6_addr));

	want = v4("127.0.0.2", 0);
	CHECK_EQ(braid_addr_parse_host("127.0.0.2", 0, &got), 0);
	CHECK(braid_addr_equal(&got, &want));
	want = v6("::1", 77, 0);
	CHECK_EQ(braid_addr_parse_host("::1", 77, &got), 0);
	CHECK(braid_addr_equal(&got, &want));
	CHECK_EQ(braid_addr_parse_host("[::1]", 77, &got), 0);
	CHECK(braid_addr_equal(&got, &want));

	/* A short buffer is cut, never overrun. */
	want = v4("127.0.0.1", 5000);
	memset(buf, 'x', sizeof(buf));
	braid_addr_format(&want, buf, 6);
	CHECK(strcmp(buf, "127.0") == 0);
	CHECK_EQ(buf[6], 'x');
	memset(&got, 0, sizeof(got));
	CHECK(strcmp(braid_addr_format(&got, buf, sizeof(buf)), "(none)") == 0);
	CHECK_EQ(braid_addr_port(&got), 0);
}

static void test_parse_rejects(void)
{
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:99999999",
		"127.0.0.1:-1", "127.0.0.1:+5", "127.0.0.1: 5", "127.0.0.1:5x", "127.0.0.1:0x10",
		"::1:5", "[::1]", "[::1]5", "[::1]:", "[]:5", "[1.2.3.4]:5", "[::1:5",
		"garbage!!:12", "a b:5", "local%host:5", ":", "localhost", "[::1]:70000",
	};
	struct braid_addr out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = braid_addr_parse(bad[i], 0, &out);

		if (rc != BRAID_ERR_INVAL)
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
		CHECK_EQ(rc, BRAID_ERR_INVAL);
	}
	CHECK_EQ(braid_addr_parse(NULL, 0, &out), BRAID_ERR_INVAL);
	CHECK_EQ(braid_addr_parse_host("1.2.3.4:5", 0, &out), BRAID_ERR_INVAL);
	CHECK_EQ(braid_addr_parse_host("", 0, &out), BRAID_ERR_INVAL);
	CHECK_EQ(braid_addr_parse_host("::zz", 0, &out), BRAID_ERR_INVAL);
}

static void test_addr_equal(void)
{
	struct braid_addr a = v4("127.0.0.1", 1), b = v4("127.0.0.1", 1);
	struct braid_addr c = v6("fe80::1", 1, 1), d = v6("fe80::1", 1, 2);
	struct braid_addr none1, none2;

	memset(&none1, 0, sizeof(none1));
	memset(&none2, 0, sizeof(none2));
	CHECK(braid_addr_equal(&a, &b));
	b.u.in4.sin_port = htons(2);
	CHECK(!braid_addr_equal(&a, &b));
	b = v4("127.0.0.2", 1);
	CHECK(!braid_addr_equal(&a, &b));
	CHECK(!braid_addr_equal(&c, &d));
	d.u.in6.sin6_scope_id = 1;
	d.u.in6.sin6_flowinfo = htonl(5); /* per-packet, not identity */
	CHECK(braid_addr_equal(&c, &d));
	CHECK(!braid_addr_equal(&a, &c));
	CHECK(braid_addr_equal(&none1, &none2));
	CHECK(!braid_addr_equal(&none1, &a));
}

/* ---- sockets ---- */

static int open_bound(const char *ip, uint16_t port)
{
	struct braid_addr local;
	struct braid_udp_options opt = { .bind = &local };

	CHECK_EQ(braid_addr_parse_host(ip, port, &local), 0);
	return braid_udp_open(&opt);
}

static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 1000) == 1;
}

/* Receives until n datagrams arrived or a second passes without any. */
static size_t recv_all(int fd, struct braid_datagram *batch, size_t n)
{
	size_t got = 0;

	while (got < n && wait_readable(fd)) {
		int r = braid_udp_recv_batch(fd, batch + got, n - got);

		CHECK(r >= 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void fill_payload(uint8_t *buf, size_t len, size_t index)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(index * 31 + i * 7 + 1);
}

static void exchange_batch(const char *ip)
{
	static uint8_t tx_bufs[BATCH][DGRAM_CAP], rx_bufs[BATCH][DGRAM_CAP];
	struct braid_datagram tx[BATCH], rx[BATCH];
	struct braid_addr rx_addr, tx_addr;
	int rx_fd = open_bound(ip, 0), tx_fd = open_bound(ip, 0);
	size_t got;

	CHECK(rx_fd >= 0 && tx_fd >= 0);
	if (rx_fd < 0 || tx_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	CHECK_EQ(braid_udp_local(tx_fd, &tx_addr), 0);
	CHECK(braid_addr_port(&rx_addr) != 0);
	CHECK_EQ(braid_udp_recv_batch(rx_fd, rx, 0), 0);
	memset(rx, 0, sizeof(rx));
	for (size_t i = 0; i < BATCH; i++) {
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].buf = tx_bufs[i];
		tx[i].len = 1 + i * 17;
		tx[i].addr = rx_addr;
		fill_payload(tx_bufs[i], tx[i].len, i);
		rx[i].buf = rx_bufs[i];
		rx[i].cap = DGRAM_CAP;
	}
	/* Nothing waits yet: no blocking, no error. */
	CHECK_EQ(braid_udp_recv_batch(rx_fd, rx, BATCH), 0);
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, BATCH), BATCH);
	got = recv_all(rx_fd, rx, BATCH);
	CHECK_EQ(got, BATCH);
	/* Loopback keeps the order. */
	for (size_t i = 0; i < got; i++) {
		CHECK_EQ(rx[i].len, tx[i].len);
		CHECK(memcmp(rx[i].buf, tx[i].buf, tx[i].len) == 0);
		CHECK(braid_addr_equal(&rx[i].addr, &tx_addr));
		CHECK_EQ(rx[i].truncated, 0);
	}
out:
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

static void test_batch_v4(void)
{
	exchange_batch("127.0.0.1");
}

static void test_batch_v6(void)
{
	exchange_batch("::1");
}

static void test_truncation(void)
{
	uint8_t big[100], small[10], roomy[200];
	struct braid_datagram rx = { .buf = small, .cap = sizeof(small) };
	struct braid_addr rx_addr;
	int rx_fd = open_bound("127.0.0.1", 0), tx_fd = open_bound("127.0.0.1", 0);

	CHECK(rx_fd >= 0 && tx_fd >= 0);
	if (rx_fd < 0 || tx_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	fill_payload(big, sizeof(big), 3);
	CHECK_EQ(braid_udp_send(tx_fd, &rx_addr, big, sizeof(big)), 0);
	CHECK_EQ(braid_udp_send(tx_fd, &rx_addr, big, sizeof(big)), 0);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK_EQ(rx.len, sizeof(small));
	CHECK_EQ(rx.truncated, 1);
	CHECK(memcmp(small, big, sizeof(small)) == 0);
	rx.buf = roomy;
	rx.cap = sizeof(roomy);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK_EQ(rx.len, sizeof(big));
	CHECK_EQ(rx.truncated, 0);
	CHECK(memcmp(roomy, big, sizeof(big)) == 0);
out:
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

/* A sender bound to 127.0.0.2 is seen from there. */
static void test_local_source(void)
{
	uint8_t payload[4] = { 1, 2, 3, 4 }, buf[16];
	struct braid_datagram rx = { .buf = buf, .cap = sizeof(buf) };
	struct braid_addr rx_addr, tx_addr, want;
	int rx_fd = open_bound("127.0.0.1", 0), tx_fd = open_bound("127.0.0.2", 0);

	CHECK(rx_fd >= 0 && tx_fd >= 0);
	if (rx_fd < 0 || tx_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	CHECK_EQ(braid_udp_local(tx_fd, &tx_addr), 0);
	want = v4("127.0.0.2", braid_addr_port(&tx_addr));
	CHECK(braid_addr_equal(&tx_addr, &want));
	CHECK_EQ(braid_udp_send(tx_fd, &rx_addr, payload, sizeof(payload)), 0);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK(braid_addr_equal(&rx.addr, &want));
	CHECK_EQ(rx.len, sizeof(payload));
out:
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

/* One wildcard IPv6 socket hears IPv4 peers as plain IPv4, and can answer them. */
static void test_dual_stack(void)
{
	struct braid_udp_options opt = { .family = AF_INET6 };
	uint8_t payload[3] = { 9, 8, 7 }, buf[16];
	struct braid_datagram rx = { .buf = buf, .cap = sizeof(buf) };
	struct braid_addr wild_addr, to, tx_addr;
	char text[64], expect[64];
	int wild_fd = braid_udp_open(&opt), tx_fd = open_bound("127.0.0.1", 0);

	CHECK(wild_fd >= 0 && tx_fd >= 0);
	if (wild_fd < 0 || tx_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(wild_fd, &wild_addr), 0);
	CHECK_EQ(wild_addr.u.sa.sa_family, AF_INET6);
	CHECK_EQ(braid_udp_local(tx_fd, &tx_addr), 0);
	to = v4("127.0.0.1", braid_addr_port(&wild_addr));
	CHECK_EQ(braid_udp_send(tx_fd, &to, payload, sizeof(payload)), 0);
	CHECK_EQ(recv_all(wild_fd, &rx, 1), 1);
	CHECK_EQ(rx.addr.u.sa.sa_family, AF_INET);
	CHECK_EQ(rx.addr.len, sizeof(struct sockaddr_in));
	CHECK(braid_addr_equal(&rx.addr, &tx_addr));
	snprintf(expect, sizeof(expect), "127.0.0.1:%u", (unsigned)braid_addr_port(&tx_addr));
	CHECK(strcmp(braid_addr_format(&rx.addr, text, sizeof(text)), expect) == 0);

	/* The answer goes to the plain IPv4 address through the IPv6 socket. */
	CHECK_EQ(braid_udp_send(wild_fd, &rx.addr, payload, 2), 0);
	rx.len = 0;
	CHECK_EQ(recv_all(tx_fd, &rx, 1), 1);
	CHECK_EQ(rx.len, 2);
	CHECK_EQ(rx.addr.u.sa.sa_family, AF_INET);
	CHECK_EQ(braid_addr_port(&rx.addr), braid_addr_port(&wild_addr));
out:
	if (wild_fd >= 0)
		close(wild_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

/* Connected sockets: destination length 0; ICMP port-unreachable errors never stop a batch. */
static void test_connected_and_refused(void)
{
	uint8_t bufs[3][8], buf[16];
	struct braid_datagram tx[3], rx = { .buf = buf, .cap = sizeof(buf) };
	struct braid_addr rx_addr, dead_addr;
	int rx_fd = open_bound("127.0.0.1", 0), tx_fd = open_bound("127.0.0.1", 0);
	int dead_fd = open_bound("127.0.0.1", 0);

	CHECK(rx_fd >= 0 && tx_fd >= 0 && dead_fd >= 0);
	if (rx_fd < 0 || tx_fd < 0 || dead_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	/* A port that was just free: nobody listens there once dead_fd is closed. */
	CHECK_EQ(braid_udp_local(dead_fd, &dead_addr), 0);
	close(dead_fd);
	dead_fd = -1;
	memset(tx, 0, sizeof(tx));
	for (size_t i = 0; i < 3; i++) {
		tx[i].buf = bufs[i];
		tx[i].len = sizeof(bufs[i]);
		fill_payload(bufs[i], sizeof(bufs[i]), i);
	}
	CHECK_EQ(connect(tx_fd, &rx_addr.u.sa, rx_addr.len), 0);
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, 3), 3);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK(memcmp(buf, bufs[0], sizeof(bufs[0])) == 0);

	/* Each datagram to the dead port brings an ICMP error back on the socket. */
	CHECK_EQ(connect(tx_fd, &dead_addr.u.sa, dead_addr.len), 0);
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, 3), 3);
	CHECK_EQ(braid_udp_send(tx_fd, NULL, bufs[0], sizeof(bufs[0])), 0);
	/* The error that send left pending now meets the batch's first datagram. */
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, 3), 3);
	CHECK_EQ(braid_udp_recv_batch(tx_fd, &rx, 1), 0);
	/* Unconnected, with a destination: the same errors do not surface either. */
	CHECK_EQ(connect(tx_fd, &(struct sockaddr){ .sa_family = AF_UNSPEC },
			 sizeof(struct sockaddr)), 0);
	for (size_t i = 0; i < 3; i++)
		tx[i].addr = dead_addr;
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, 3), 3);
	CHECK_EQ(braid_udp_recv_batch(tx_fd, &rx, 1), 0);
out:
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
	if (dead_fd >= 0)
		close(dead_fd);
}

/* A datagram the kernel will not send (to port 0: EINVAL) costs that datagram alone: the
 * batch's others, before and after it, leave. A stranger's unsendable source address
 * must not lose the answers queued behind its own. */
static void test_unsendable_destination(void)
{
	uint8_t bufs[3][8], buf[16];
	struct braid_datagram tx[3], rx = { .buf = buf, .cap = sizeof(buf) };
	struct braid_addr rx_addr, port0;
	int rx_fd = open_bound("127.0.0.1", 0), tx_fd = open_bound("127.0.0.1", 0);

	CHECK(rx_fd >= 0 && tx_fd >= 0);
	if (rx_fd < 0 || tx_fd < 0)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	port0 = rx_addr;
	port0.u.in4.sin_port = 0;
	memset(tx, 0, sizeof(tx));
	for (size_t i = 0; i < 3; i++) {
		tx[i].buf = bufs[i];
		tx[i].len = sizeof(bufs[i]);
		tx[i].addr = i == 1 ? port0 : rx_addr;
		fill_payload(bufs[i], sizeof(bufs[i]), i);
	}
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, 3), 3);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK(memcmp(buf, bufs[0], sizeof(bufs[0])) == 0);
	CHECK_EQ(recv_all(rx_fd, &rx, 1), 1);
	CHECK(memcmp(buf, bufs[2], sizeof(bufs[2])) == 0);
	CHECK_EQ(braid_udp_send(tx_fd, &port0, bufs[0], sizeof(bufs[0])), 0);
out:
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

static void test_open_options(void)
{
	struct braid_udp_options opt = { .family = AF_INET, .buffer_bytes = 4096 };
	struct braid_udp_options lo = { .family = AF_INET, .device = "lo" };
	struct braid_udp_options bad_family = { .family = AF_UNIX };
	struct braid_udp_options long_dev = { .family = AF_INET,
					      .device = "a-name-far-too-long-for-linux" };
	int size = 0;
	socklen_t size_len = sizeof(size);
	int fd = braid_udp_open(&opt);

	CHECK(fd >= 0);
	if (fd >= 0) {
		/* Linux doubles the request; the default would be far above this. */
		CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &size_len), 0);
		CHECK(size >= 4096 && size <= 4 * 4096);
		CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &size_len), 0);
		CHECK(size >= 4096 && size <= 4 * 4096);
		close(fd);
	}
	fd = braid_udp_open(&lo);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(braid_udp_open(&bad_family), BRAID_ERR_INVAL);
	CHECK_EQ(braid_udp_open(&long_dev), BRAID_ERR_INVAL);
	CHECK_EQ(braid_udp_open(NULL), BRAID_ERR_INVAL);
	CHECK(braid_udp_recv_batch(-1, &(struct braid_datagram){ 0 }, 1) < 0);
}

/* ---- the GRO reader ---- */

enum { GRO_RUN = 20, GRO_SEG = 1316, GRO_TAIL = 300, GRO_SINGLES = 3 };

struct gro_copy {
	uint8_t buf[DGRAM_CAP];
	size_t len;
	int truncated;
	struct braid_addr addr;
};

/* Receives until n datagrams arrived or a second passes without any, copying each out of
 * the reader (its datagrams last until its next call). */
static size_t gro_recv_all(struct braid_udp_reader *r, int fd, struct gro_copy *copy, size_t n)
{
	size_t got = 0;

	while (got < n && wait_readable(fd)) {
		struct braid_datagram *d;
		int k = braid_udp_reader_recv(r, &d);

		CHECK(k >= 0);
		if (k <= 0)
			break;
		for (int i = 0; i < k && got < n; i++, got++) {
			CHECK(d[i].len <= sizeof(copy[got].buf));
			memcpy(copy[got].buf, d[i].buf, d[i].len);
			copy[got].len = d[i].len;
			copy[got].truncated = d[i].truncated;
			copy[got].addr = d[i].addr;
		}
	}
	return got;
}

/* A GSO run (GRO_RUN - 1 datagrams of one size and a shorter last one), then datagrams
 * of sizes that form no run; returns their count. */
static size_t gro_send(int tx_fd, const struct braid_addr *to, size_t seg, size_t *lens)
{
	static uint8_t bufs[GRO_RUN + GRO_SINGLES][DGRAM_CAP];
	struct braid_datagram tx[GRO_RUN + GRO_SINGLES];
	size_t n = GRO_RUN + GRO_SINGLES;

	for (size_t i = 0; i < n; i++) {
		lens[i] = i < GRO_RUN - 1 ? seg : i == GRO_RUN - 1 ? GRO_TAIL : 10 + i * 40;
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].buf = bufs[i];
		tx[i].len = lens[i];
		tx[i].addr = *to;
		fill_payload(bufs[i], lens[i], i);
	}
	CHECK_EQ(braid_udp_send_batch(tx_fd, tx, n), (int)n);
	return n;
}

/* The datagrams arrive as sent, whatever the kernel coalesced: sizes, bytes, order and
 * source; with GRO the run comes as one message, without it datagram by datagram. */
static void exchange_gro(const char *rx_ip, const char *tx_ip, bool try_gro)
{
	static struct gro_copy got[GRO_RUN + GRO_SINGLES];
	size_t lens[GRO_RUN + GRO_SINGLES];
	struct braid_addr rx_addr, tx_addr;
	int rx_fd = open_bound(rx_ip, 0), tx_fd = open_bound(tx_ip, 0);
	struct braid_udp_reader *r = rx_fd >= 0 ? braid_udp_reader_new(rx_fd, DGRAM_CAP, try_gro)
						: NULL;
	uint64_t messages, datagrams;
	uint8_t want[DGRAM_CAP];
	size_t n;

	CHECK(rx_fd >= 0 && tx_fd >= 0 && r);
	if (rx_fd < 0 || tx_fd < 0 || !r)
		goto out;
	/* Linux has had UDP_GRO since 5.0: a kernel without it fails here, not silently. */
	CHECK_EQ(braid_udp_reader_gro(r), try_gro);
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	CHECK_EQ(braid_udp_local(tx_fd, &tx_addr), 0);
	n = gro_send(tx_fd, &rx_addr, GRO_SEG, lens);
	CHECK_EQ(gro_recv_all(r, rx_fd, got, n), n);
	for (size_t i = 0; i < n; i++) {
		fill_payload(want, lens[i], i);
		CHECK_EQ(got[i].len, lens[i]);
		CHECK(memcmp(got[i].buf, want, lens[i]) == 0);
		CHECK_EQ(got[i].truncated, 0);
		CHECK(braid_addr_equal(&got[i].addr, &tx_addr));
	}
	braid_udp_reader_counts(r, &messages, &datagrams);
	CHECK_EQ(datagrams, n);
	CHECK_EQ(messages, try_gro ? 1 + GRO_SINGLES : n);
out:
	braid_udp_reader_free(r);
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

static void test_gro_v4(void)
{
	exchange_gro("127.0.0.1", "127.0.0.2", true);
}

static void test_gro_v6(void)
{
	exchange_gro("::1", "::1", true);
}

static void test_gro_fallback(void)
{
	exchange_gro("127.0.0.1", "127.0.0.1", false);
}

/* Segments longer than the reader's datagram size arrive cut to it and flagged, and the
 * ones after them are still whole. */
static void test_gro_truncation(void)
{
	static struct gro_copy got[GRO_RUN + GRO_SINGLES];
	size_t lens[GRO_RUN + GRO_SINGLES], cap = 1000;
	struct braid_addr rx_addr;
	int rx_fd = open_bound("127.0.0.1", 0), tx_fd = open_bound("127.0.0.1", 0);
	struct braid_udp_reader *r = rx_fd >= 0 ? braid_udp_reader_new(rx_fd, cap, true) : NULL;
	uint8_t want[DGRAM_CAP];
	size_t n;

	CHECK(rx_fd >= 0 && tx_fd >= 0 && r);
	if (rx_fd < 0 || tx_fd < 0 || !r)
		goto out;
	CHECK_EQ(braid_udp_local(rx_fd, &rx_addr), 0);
	n = gro_send(tx_fd, &rx_addr, GRO_SEG, lens);
	CHECK_EQ(gro_recv_all(r, rx_fd, got, n), n);
	for (size_t i = 0; i < n; i++) {
		size_t len = lens[i] < cap ? lens[i] : cap;

		fill_payload(want, lens[i], i);
		CHECK_EQ(got[i].len, len);
		CHECK_EQ(got[i].truncated, lens[i] > cap);
		CHECK(memcmp(got[i].buf, want, len) == 0);
	}
out:
	braid_udp_reader_free(r);
	if (rx_fd >= 0)
		close(rx_fd);
	if (tx_fd >= 0)
		close(tx_fd);
}

int main(void)
{
	RUN_TEST(test_parse_format);
	RUN_TEST(test_parse_rejects);
	RUN_TEST(test_addr_equal);
	RUN_TEST(test_batch_v4);
	RUN_TEST(test_batch_v6);
	RUN_TEST(test_truncation);
	RUN_TEST(test_local_source);
	RUN_TEST(test_dual_stack);
	RUN_TEST(test_connected_and_refused);
	RUN_TEST(test_unsendable_destination);
	RUN_TEST(test_open_options);
	RUN_TEST(test_gro_v4);
	RUN_TEST(test_gro_v6);
	RUN_TEST(test_gro_fallback);
	RUN_TEST(test_gro_truncation);
	return braid_test_finish();
}
