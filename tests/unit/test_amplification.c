/* No reflector: bytes the receiver sends to a source that has not proved it receives at its
 * address (unkeyed) are at most the bytes that source sent, and zero to a source that has
 * not proved it holds the key (keyed). A genuine sender keeps a session open on 127.0.0.1;
 * a stranger at 127.0.0.66 sends copies of every packet type (captured from the genuine
 * sender, so they are well formed), forged HELLOs and random bytes. Printed per type. */
#include "harness.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "core/wire.h"

#define MS 1000u
#define WALL_US UINT64_C(1700000000000000)
static const char PSK[] = "the gateway's pre-shared key";

struct capture {
	uint8_t buf[BRAID_PKT_TYPE_COUNT][BRAID_MAX_DATAGRAM];
	size_t len[BRAID_PKT_TYPE_COUNT];
};

struct bench {
	struct braid_sender *tx;
	struct braid_receiver *rx;
	struct braid_addr genuine, stranger;
	uint16_t link;
	uint64_t now;
	struct capture seen; /* the last datagram of each type the sender sent */
	uint64_t to_stranger;
};

static struct braid_addr addr4(uint32_t host, uint16_t port)
{
	struct braid_addr a;
	memset(&a, 0, sizeof(a));
	a.u.in4.sin_family = AF_INET;
	a.u.in4.sin_addr.s_addr = htonl(host);
	a.u.in4.sin_port = htons(port);
	a.len = sizeof(a.u.in4);
	return a;
}

/* Runs both cores for `ms`, 1 ms steps; the receiver's datagrams to the genuine address go
 * to the sender, those to the stranger are counted. */
static void run(struct bench *b, uint64_t ms)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_addr to;
	uint16_t link;
	size_t n;
	for (uint64_t end = b->now + ms * MS; b->now < end; b->now += MS) {
		braid_sender_handle_timeout(b->tx, b->now);
		while (braid_sender_poll_transmit(b->tx, b->now, &link, buf, sizeof(buf), &n) == 1) {
			uint8_t type = buf[0] & 0x0f;
			memcpy(b->seen.buf[type], buf, n);
			b->seen.len[type] = n;
			braid_receiver_handle_datagram(b->rx, &b->genuine, buf, n, 0, b->now);
		}
		braid_receiver_handle_timeout(b->rx, b->now);
		while (braid_receiver_poll_transmit(b->rx, b->now, &to, buf, sizeof(buf), &n) == 1) {
			if (braid_addr_equal(&to, &b->stranger))
				b->to_stranger += n;
			else if (braid_addr_equal(&to, &b->genuine))
				braid_sender_handle_datagram(b->tx, b->link, buf, n, 0, b->now);
		}
	}
}

static struct bench *bench_new(bool keyed)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct braid_receiver_settings rs;
	struct braid_sender_settings ss;
	braid_receiver_settings_default(&rs);
	braid_sender_settings_default(&ss);
	rs.seed = 5;
	ss.mode = BRAID_MODE_BROADCAST;
	ss.session_id = 0x5eed;
	memset(ss.nonce, 7, sizeof(ss.nonce));
	if (keyed) {
		rs.psk = ss.psk = (const uint8_t *)PSK;
		rs.psk_len = ss.psk_len = strlen(PSK);
		rs.wall_clock_us = ss.wall_clock_us = WALL_US;
		memset(rs.key_seed, 1, sizeof(rs.key_seed));
		memset(ss.key_seed, 2, sizeof(ss.key_seed));
	}
	b->rx = braid_receiver_new(&rs, 0);
	b->tx = braid_sender_new(&ss, 0);
	struct braid_link_config lc = { .name = "lte0" };
	int id = b->tx ? braid_sender_add_link(b->tx, &lc, 0) : -1;
	CHECK(b->rx && id >= 0);
	b->link = (uint16_t)id;
	b->genuine = addr4(0x7f000001, 5000);
	b->stranger = addr4(0x7f000042, 6000);
	uint8_t media[1000] = { 0x47 };
	run(b, 300);
	for (int i = 0; i < 50; i++) {
		braid_sender_push(b->tx, media, sizeof(media), b->now);
		run(b, 2);
	}
	run(b, 300);
	return b;
}

static void bench_free(struct bench *b)
{
	braid_sender_free(b->tx);
	braid_receiver_free(b->rx);
	free(b);
}

/* The stranger sends `count` copies of a datagram; returns what came back to it. */
static uint64_t stranger_sends(struct bench *b, const uint8_t *buf, size_t len, int count,
			       uint64_t *sent)
{
	uint64_t before = b->to_stranger;
	for (int i = 0; i < count; i++) {
		braid_receiver_handle_datagram(b->rx, &b->stranger, buf, len, 0, b->now);
		*sent += len;
		run(b, 1);
	}
	run(b, 200);
	return b->to_stranger - before;
}

static const char *const TYPE_NAMES[BRAID_PKT_TYPE_COUNT] = {
	"DATA", "HELLO", "HELLO_ACK", "PROBE", "PROBE_REPLY", "REVERSE", "NACK", "BYE", "COOKIE",
};

static void check_types(bool keyed)
{
	struct bench *b = bench_new(keyed);
	struct braid_receiver_stats st;
	braid_receiver_get_stats(b->rx, &st);
	CHECK_EQ(st.sessions, 1);
	/* a BYE as the genuine sender would send it, but from the stranger */
	struct braid_packet bye = { .header = { .type = BRAID_PKT_BYE, .session_id = 0x5eed,
						.link_id = b->link } };
	if (!keyed)
		b->seen.len[BRAID_PKT_BYE] = (size_t)braid_wire_encode(
			&bye, NULL, b->seen.buf[BRAID_PKT_BYE], BRAID_MAX_DATAGRAM);
	for (uint8_t type = 0; type < BRAID_PKT_TYPE_COUNT; type++) {
		if (!b->seen.len[type])
			continue; /* the receiver's own types: the stranger sends what the sender did */
		uint64_t sent = 0;
		uint64_t back = stranger_sends(b, b->seen.buf[type], b->seen.len[type], 20, &sent);
		printf("%s: stranger sent 20 %s copies, %llu B; got back %llu B\n",
		       keyed ? "keyed" : "unkeyed", TYPE_NAMES[type], (unsigned long long)sent,
		       (unsigned long long)back);
		CHECK(keyed ? back == 0 : back <= sent);
	}
	/* A HELLO for a session of its own, and random bytes of every length. */
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO, .session_id = 0xbad } };
	p.body.hello.name_len = 1;
	memcpy(p.body.hello.name, "x", 2);
	int n = braid_wire_encode(&p, NULL, buf, sizeof(buf));
	uint64_t sent = 0, back = stranger_sends(b, buf, (size_t)n, 50, &sent);
	printf("%s: 50 HELLOs for a new session, %llu B; got back %llu B\n",
	       keyed ? "keyed" : "unkeyed", (unsigned long long)sent, (unsigned long long)back);
	CHECK(keyed ? back == 0 : back <= sent);
	CHECK(keyed || back > 0); /* unkeyed: COOKIEs, so a genuine sender can prove itself */
	sent = 0;
	back = 0;
	for (size_t len = 0; len < 200; len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(len * 31 + i * 7);
		if (len > 0)
			buf[0] = (uint8_t)(0x20 | (len % 16)); /* version 2, every type */
		back += stranger_sends(b, buf, len, 1, &sent);
	}
	printf("%s: 200 random datagrams, %llu B; got back %llu B\n",
	       keyed ? "keyed" : "unkeyed", (unsigned long long)sent, (unsigned long long)back);
	CHECK(keyed ? back == 0 : back <= sent);
	braid_receiver_get_stats(b->rx, &st);
	CHECK_EQ(st.sessions, 1); /* the stranger started none, and ended none */
	bench_free(b);
}

static void test_unkeyed(void)
{
	check_types(false);
}

static void test_keyed(void)
{
	check_types(true);
}

/* A flood of unproven HELLOs from many ports gets COOKIEs only within the shared budget
 * (2000 per second, 2 s of burst), and each is smaller than the HELLO it answers. */
static void test_cookie_budget(void)
{
	struct bench *b = bench_new(false);
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO } };
	p.body.hello.name_len = 1;
	memcpy(p.body.hello.name, "x", 2);
	struct braid_receiver_stats before, after;
	braid_receiver_get_stats(b->rx, &before);
	for (uint32_t i = 0; i < 20000; i++) {
		p.header.session_id = 0x10000 + i;
		int n = braid_wire_encode(&p, NULL, buf, sizeof(buf));
		struct braid_addr from = addr4(0x7f000100 + (i % 200), (uint16_t)(10000 + i));
		braid_receiver_handle_datagram(b->rx, &from, buf, (size_t)n, 0, b->now);
	}
	braid_receiver_get_stats(b->rx, &after);
	uint64_t cookies = after.cookies_sent - before.cookies_sent;
	printf("cookie budget: 20000 unproven HELLOs in one instant, %llu COOKIEs sent\n",
	       (unsigned long long)cookies);
	CHECK(cookies <= 4000);
	CHECK(cookies >= 3000);
	CHECK_EQ(after.sessions, 1);
	bench_free(b);
}

int main(void)
{
	RUN_TEST(test_unkeyed);
	RUN_TEST(test_keyed);
	RUN_TEST(test_cookie_budget);
	return braid_test_finish();
}
