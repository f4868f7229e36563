/* Which packets crossing a netns bench link are media, and which of those repeat one seen
 * before (emu/repeats.h): RTP by its SSRC's resend bit, braid by its RETRANSMIT flag,
 * broadcast copies as duplicates; hostile and foreign packets are not media. */
#include <stdint.h>
#include <string.h>

#include "braid/rtp.h"
#include "core/wire.h"
#include "emu/repeats.h"
#include "harness.h"

#define SECOND_US 1000000u

static uint8_t pkt[2048];

/* An IPv4/UDP packet to dst_port around payload; returns its length. */
static size_t ip_udp(uint16_t dst_port, const uint8_t *payload, size_t len)
{
	size_t udp_len = 8 + len;

	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((20 + udp_len) >> 8);
	pkt[3] = (uint8_t)(20 + udp_len);
	pkt[8] = 64;
	pkt[9] = 17;
	pkt[22] = (uint8_t)(dst_port >> 8);
	pkt[23] = (uint8_t)dst_port;
	pkt[24] = (uint8_t)(udp_len >> 8);
	pkt[25] = (uint8_t)udp_len;
	memcpy(pkt + 28, payload, len);
	return 20 + udp_len;
}

static size_t rtp(uint16_t port, uint32_t ssrc, uint16_t seq)
{
	static const uint8_t ts[188] = { 0x47 };
	struct braid_rtp_header h = { .payload_type = 33, .seq = seq, .ssrc = ssrc,
				      .payload = ts, .payload_len = sizeof(ts) };
	uint8_t buf[256];
	int n = braid_rtp_build(&h, buf, sizeof(buf));

	CHECK(n > 0);
	return ip_udp(port, buf, n > 0 ? (size_t)n : 0);
}

static size_t braid_data(uint32_t session, uint32_t seq, uint8_t flags)
{
	static const uint8_t media[100];
	struct braid_packet p = { .header = { .type = BRAID_PKT_DATA, .flags = flags,
					      .session_id = session },
				  .body.data = { .seq = seq, .payload = media,
						 .payload_len = sizeof(media) } };
	uint8_t buf[256];
	int n = braid_wire_encode(&p, NULL, buf, sizeof(buf));

	CHECK(n > 0);
	return ip_udp(9000, buf, n > 0 ? (size_t)n : 0);
}

static enum braid_emu_media see(struct braid_emu_repeats *r, size_t len, uint64_t now)
{
	return braid_emu_repeats_see(r, pkt, len, now);
}

static void test_rtp(void)
{
	struct braid_emu_repeats *r = braid_emu_repeats_new();
	struct braid_emu_media_stats s = { 0 };

	CHECK_EQ(see(r, rtp(5000, 0x1234, 7), 10), BRAID_EMU_FIRST);
	/* The same packet on another link: a broadcast copy. */
	CHECK_EQ(see(r, rtp(5002, 0x1234, 7), 20), BRAID_EMU_DUPLICATE);
	/* A resend (SSRC + 1, as TR-06-1 and GStreamer's ristrtxsend mark it). */
	CHECK_EQ(see(r, rtp(5004, 0x1235, 7), 30), BRAID_EMU_RETRANSMISSION);
	CHECK_EQ(see(r, rtp(5000, 0x1234, 8), 40), BRAID_EMU_FIRST);
	/* Another flow with the same number is another packet. */
	CHECK_EQ(see(r, rtp(5000, 0x9998, 7), 50), BRAID_EMU_FIRST);
	/* Beyond the window the number has wrapped: a new packet. */
	CHECK_EQ(see(r, rtp(5000, 0x1234, 7), 60 + 5 * SECOND_US), BRAID_EMU_FIRST);
	/* RTCP's odd port and RTCP itself are not media. */
	CHECK_EQ(see(r, rtp(5001, 0x1234, 9), 70), BRAID_EMU_NOT_MEDIA);
	for (int m = BRAID_EMU_NOT_MEDIA; m <= BRAID_EMU_DUPLICATE; m++)
		braid_emu_media_count(&s, (enum braid_emu_media)m);
	braid_emu_media_count(&s, BRAID_EMU_DUPLICATE);
	CHECK_EQ_U64(s.packets, 4);
	CHECK_EQ_U64(s.retransmissions, 1);
	CHECK_EQ_U64(s.duplicates, 2);
	braid_emu_repeats_free(r);
}

static void test_braid(void)
{
	struct braid_emu_repeats *r = braid_emu_repeats_new();

	CHECK_EQ(see(r, braid_data(42, 1000, 0), 10), BRAID_EMU_FIRST);
	CHECK_EQ(see(r, braid_data(42, 1000, 0), 20), BRAID_EMU_DUPLICATE);
	CHECK_EQ(see(r, braid_data(42, 1000, BRAID_FLAG_RETRANSMIT), 30),
		 BRAID_EMU_RETRANSMISSION);
	CHECK_EQ(see(r, braid_data(43, 1000, 0), 40), BRAID_EMU_FIRST);
	braid_emu_repeats_free(r);
}

/* Truncations, lies about lengths, fragments, other protocols: never media, never a read
 * past the packet (the sanitizer builds run this too). */
static void test_hostile(void)
{
	struct braid_emu_repeats *r = braid_emu_repeats_new();
	size_t len = rtp(5000, 0x1234, 1);

	for (size_t n = 0; n < 28 + 12; n++)
		CHECK_EQ(see(r, n, 1), BRAID_EMU_NOT_MEDIA);
	pkt[25] = 0xff; /* UDP length beyond the packet */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	len = rtp(5000, 0x1234, 1);
	pkt[6] = 0x20; /* more fragments */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	len = rtp(5000, 0x1234, 1);
	pkt[9] = 6; /* TCP */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	len = rtp(5000, 0x1234, 1);
	pkt[0] = 0x60; /* IPv6 */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	len = rtp(5000, 0x1234, 1);
	pkt[0] = 0x44; /* a header shorter than IPv4's */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	len = braid_data(1, 1, 0);
	pkt[28 + 1] = 0x80; /* an unknown braid flag */
	CHECK_EQ(see(r, len, 1), BRAID_EMU_NOT_MEDIA);
	braid_emu_repeats_free(r);
}

int main(void)
{
	RUN_TEST(test_rtp);
	RUN_TEST(test_braid);
	RUN_TEST(test_hostile);
	return braid_test_finish();
}
