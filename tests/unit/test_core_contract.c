/* The call contract of include/braid/common.h, held by the sender and the receiver:
 * truncated datagrams dropped and counted as such, lengths checked before any MAC work,
 * buffers too small refused without losing anything, "nothing more" as 0, and a clock
 * that never goes back. Datagrams are passed in heap buffers of exactly their size, so
 * AddressSanitizer sees any read past them. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/receiver.h"
#include "braid/sender.h"
#include "core/crypto.h"
#include "core/wire.h"

#define MS 1000u
static const char PSK[] = "a pre-shared key of the gateway";

static struct braid_receiver *new_receiver(const char *psk, uint64_t now)
{
	struct braid_receiver_settings set;
	braid_receiver_settings_default(&set);
	set.psk = (const uint8_t *)psk;
	set.psk_len = psk ? strlen(psk) : 0;
	set.seed = 7;
	set.wall_clock_us = 1700000000000000u;
	return braid_receiver_new(&set, now);
}

static struct braid_addr loopback(uint16_t port)
{
	struct braid_addr a;
	memset(&a, 0, sizeof(a));
	a.u.in4.sin_family = AF_INET;
	a.u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.u.in4.sin_port = htons(port);
	a.len = sizeof(a.u.in4);
	return a;
}

/* A HELLO for link 0 of session 0x1234, keyed with psk when given; its length. */
static size_t make_hello(uint8_t *buf, size_t cap, const char *psk)
{
	struct braid_packet p = { .header = { .type = BRAID_PKT_HELLO, .session_id = 0x1234 } };
	memset(p.body.hello.sender_nonce, 0x5a, BRAID_NONCE_SIZE);
	p.body.hello.latency_us = 1000000; /* the receiver's default budget */
	p.body.hello.name_len = 4;
	memcpy(p.body.hello.name, "lte0", 5);
	uint8_t mac_key[32];
	if (psk)
		braid__psk_key((const uint8_t *)psk, strlen(psk), mac_key);
	struct braid_wire_key key = { .mac_key = mac_key };
	p.body.hello.wall_us = 1700000000000000u;
	uint8_t seed[32] = { 1 }, secret[32];
	braid__ephemeral_keypair(seed, 0, secret, p.body.hello.ephemeral);
	int n = braid_wire_encode(&p, psk ? &key : NULL, buf, cap);
	CHECK(n > 0);
	return n > 0 ? (size_t)n : 0;
}

/* Hands the receiver a heap copy of exactly len bytes. */
static int feed_exact(struct braid_receiver *r, const uint8_t *bytes, size_t len, unsigned flags,
		      uint64_t now)
{
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact)
		return BRAID_ERR_NOMEM;
	memcpy(exact, bytes, len);
	struct braid_addr from = loopback(5000);
	int rc = braid_receiver_handle_datagram(r, &from, exact, len, flags, now);
	free(exact);
	return rc;
}

static uint64_t drops_sum(const struct braid_drop_stats *d)
{
	return braid_drop_stats_total(d);
}

/* A keyed HELLO cut short by the receive buffer: passed as truncated, in a buffer of
 * exactly the bytes that fit; dropped, counted as truncated, no session, no answer. */
static void test_truncated_keyed_hello(void)
{
	uint8_t hello[BRAID_MAX_DATAGRAM], out[BRAID_MAX_DATAGRAM];
	size_t len = make_hello(hello, sizeof(hello), PSK);
	struct braid_receiver *r = new_receiver(PSK, 1000 * MS);
	struct braid_receiver_stats st;
	struct braid_addr to;
	size_t n;

	CHECK_EQ(feed_exact(r, hello, len - 1, BRAID_DATAGRAM_TRUNCATED, 1000 * MS),
		 BRAID_ERR_TOO_BIG);
	braid_receiver_get_stats(r, &st);
	CHECK_EQ_U64(st.drops.truncated, 1);
	CHECK_EQ_U64(drops_sum(&st.drops), 1);
	CHECK_EQ(st.sessions, 0);
	CHECK_EQ(braid_receiver_poll_transmit(r, 1000 * MS, &to, out, sizeof(out), &n), 0);

	/* The same bytes, not flagged: shorter than a HELLO says, malformed; still read
	 * only inside the buffer. Then the whole HELLO is answered. */
	CHECK(feed_exact(r, hello, len - 1, 0, 1000 * MS) < 0);
	braid_receiver_get_stats(r, &st);
	CHECK_EQ_U64(st.drops.malformed, 1);
	CHECK_EQ(feed_exact(r, hello, len, 0, 1000 * MS), 0);
	CHECK_EQ(braid_receiver_poll_transmit(r, 1000 * MS, &to, out, sizeof(out), &n), 1);
	CHECK(n > 0 && (out[0] & 0x0f) == BRAID_PKT_HELLO_ACK);
	braid_receiver_free(r);
}

/* A HELLO longer than its type allows is dropped on its length, before the HMAC: it is
 * counted malformed, not as an authentication failure, even with a wrong tag. */
static void test_overlong_hello_before_hmac(void)
{
	static uint8_t big[BRAID_MAX_DATAGRAM];
	size_t len = make_hello(big, sizeof(big), PSK);
	for (size_t i = len; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	struct braid_receiver *r = new_receiver(PSK, 0);
	struct braid_receiver_stats st;

	CHECK(feed_exact(r, big, sizeof(big), 0, 0) < 0);
	CHECK(feed_exact(r, big, len + 1, 0, 0) < 0);
	braid_receiver_get_stats(r, &st);
	CHECK_EQ_U64(st.drops.malformed, 2);
	CHECK_EQ_U64(st.drops.auth, 0);
	CHECK_EQ(st.sessions, 0);
	braid_receiver_free(r);
}

static struct braid_sender *new_sender(uint64_t now)
{
	struct braid_sender_settings set;
	braid_sender_settings_default(&set);
	set.mode = BRAID_MODE_BROADCAST;
	set.session_id = 0x1234;
	memset(set.nonce, 0x5a, BRAID_NONCE_SIZE);
	struct braid_sender *s = braid_sender_new(&set, now);
	struct braid_link_config link = { .name = "lte0" };
	CHECK(s && braid_sender_add_link(s, &link, now) == 0);
	return s;
}

/* The sender refuses a transmit buffer below BRAID_MAX_DATAGRAM and loses nothing: the
 * same HELLO comes out once a large enough buffer is offered. It drops a truncated
 * datagram from a link and counts it. */
static void test_sender_buffers_and_truncation(void)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	uint16_t link;
	size_t n = 0;
	struct braid_sender *s = new_sender(0);
	struct braid_sender_stats st;

	braid_sender_handle_timeout(s, 0);
	CHECK_EQ(braid_sender_poll_transmit(s, 0, &link, buf, 64, &n), BRAID_ERR_BUFFER);
	CHECK_EQ(braid_sender_poll_transmit(s, 0, &link, buf, sizeof(buf), &n), 1);
	CHECK(n > 0 && (buf[0] & 0x0f) == BRAID_PKT_HELLO);
	CHECK_EQ(braid_sender_poll_transmit(s, 0, &link, buf, sizeof(buf), &n), 0);
	CHECK_EQ(braid_sender_poll_reverse(s, 0, buf, sizeof(buf), &n), 0);

	uint8_t *cut = malloc(16);
	CHECK(cut != NULL);
	if (cut) {
		memcpy(cut, buf, 16);
		CHECK(braid_sender_handle_datagram(s, link, cut, 16, BRAID_DATAGRAM_TRUNCATED,
						   MS) < 0);
		free(cut);
	}
	braid_sender_get_stats(s, &st);
	CHECK_EQ_U64(st.drops.truncated, 1);
	CHECK_EQ_U64(drops_sum(&st.drops), 1);
	braid_sender_free(s);
}

/* A session through both cores: media released with poll_output; a buffer too small for
 * the next packet is an error that keeps it; a clock that goes back is taken as the
 * latest one seen (nothing is released early, nothing twice). */
static void test_output_buffer_and_clock(void)
{
	uint8_t buf[BRAID_MAX_DATAGRAM], media[600];
	struct braid_sender *s = new_sender(0);
	struct braid_receiver *r = new_receiver(NULL, 0);
	struct braid_addr from = loopback(5000), to;
	uint16_t link;
	uint32_t session;
	size_t n;

	memset(media, 0x47, sizeof(media));
	braid_sender_handle_timeout(s, 0);
	for (uint64_t now = 0; now <= 200 * MS; now += 10 * MS) {
		if (now == 100 * MS)
			CHECK_EQ(braid_sender_push(s, media, sizeof(media), now), 0);
		braid_sender_handle_timeout(s, now);
		while (braid_sender_poll_transmit(s, now, &link, buf, sizeof(buf), &n) == 1)
			braid_receiver_handle_datagram(r, &from, buf, n, 0, now);
		braid_receiver_handle_timeout(r, now);
		while (braid_receiver_poll_transmit(r, now, &to, buf, sizeof(buf), &n) == 1)
			braid_sender_handle_datagram(s, link, buf, n, 0, now);
	}
	/* Released at push time + latency budget (1 s) + the path's delay (0 here). */
	CHECK_EQ(braid_receiver_poll_output(r, 1099 * MS, &session, buf, sizeof(buf), &n), 0);
	CHECK_EQ(braid_receiver_poll_output(r, 1100 * MS, &session, buf, 100, &n),
		 BRAID_ERR_BUFFER);
	/* the clock is now 1100 ms: an older now does not move it back */
	CHECK_EQ(braid_receiver_poll_output(r, 5 * MS, &session, buf, sizeof(buf), &n), 1);
	CHECK_EQ(n, sizeof(media));
	CHECK_EQ(session, 0x1234);
	CHECK(memcmp(buf, media, sizeof(media)) == 0);
	CHECK_EQ(braid_receiver_poll_output(r, 1100 * MS, &session, buf, sizeof(buf), &n), 0);
	/* An early handle_timeout does nothing harmful: nothing more is released. */
	braid_receiver_handle_timeout(r, 0);
	CHECK_EQ(braid_receiver_poll_output(r, 2000 * MS, &session, buf, sizeof(buf), &n), 0);
	braid_sender_free(s);
	braid_receiver_free(r);
}

int main(void)
{
	RUN_TEST(test_truncated_keyed_hello);
	RUN_TEST(test_overlong_hello_before_hmac);
	RUN_TEST(test_sender_buffers_and_truncation);
	RUN_TEST(test_output_buffer_and_clock);
	return braid_test_finish();
}
