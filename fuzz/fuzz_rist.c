/* Arbitrary bytes into the RIST core (src/rist): the APP packets' readers and writers, the
 * receiver on both ports and the sender's RTCP port, with time moving. Invariants: a NACK
 * never yields more numbers than asked room for, an echo read writes back to bytes that
 * read the same, the receiver releases payloads it was given (never larger than taken) and
 * sends only strict RTCP compounds, the sender sends RTP that parses and strict RTCP.
 *
 * Input: one mode byte (bits 0-1: the receiver's NACK kind), then records of
 *   ctl (1 byte) | time step in ms (1 byte) | length (2 bytes, BE) | bytes
 * ctl bits 0-1: 0 RTP to the receiver, 1 RTCP to the receiver, 2 RTCP to the sender,
 * 3 a payload pushed into the sender; bits 2-3 the source port (path) of the datagram. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtp.h"
#include "rist/app.h"
#include "rist/rx.h"
#include "rist/tx.h"

#define FUZZ_REQUIRE(cond)                                                               \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[BRAID_RIST_MAX_DATAGRAM];

static void check_app_packets(const uint8_t *buf, size_t len)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	if (braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE) < 0)
		return;
	while (braid_rtcp_read(&r, &p) == 1) {
		uint16_t seqs[8];
		uint32_t media;
		uint8_t subtype, again_subtype;
		struct braid_rist_echo e, again;
		FUZZ_REQUIRE(braid_rist_nack_seqs(&p, &media, seqs, 8) <= 8);
		if (!braid_rist_echo_parse(&p, &subtype, &e))
			continue;
		uint8_t wbuf[64];
		struct braid_rtcp_writer w;
		struct braid_rtcp_packet q;
		braid_rtcp_writer_init(&w, wbuf, sizeof(wbuf));
		int n = braid_rist_write_echo(&w, subtype, &e);
		FUZZ_REQUIRE(n > 0);
		braid_rtcp_reader_init(&r, wbuf, (size_t)n, BRAID_RTCP_REDUCED_SIZE);
		FUZZ_REQUIRE(braid_rtcp_read(&r, &q) == 1);
		FUZZ_REQUIRE(braid_rist_echo_parse(&q, &again_subtype, &again));
		FUZZ_REQUIRE(again_subtype == subtype && again.timestamp == e.timestamp &&
			     again.ssrc == e.ssrc && again.delay_us == e.delay_us);
		return; /* the reader was reused for the copy */
	}
}

static void drain(struct braid_rist_rx *rx, struct braid_rist_tx *tx, uint64_t now,
		  size_t largest_in)
{
	size_t len;
	struct braid_addr to;
	while (braid_rist_rx_poll_output(rx, now, out, sizeof(out), &len) == 1)
		FUZZ_REQUIRE(len <= largest_in);
	while (braid_rist_rx_poll_rtcp(rx, &to, out, sizeof(out), &len) == 1)
		FUZZ_REQUIRE(braid_rtcp_check(out, len, 0) > 0 && to.len > 0);
	while (braid_rist_tx_poll_rtp(tx, out, sizeof(out), &len) == 1) {
		struct braid_rtp_header h;
		FUZZ_REQUIRE(braid_rtp_parse(out, len, &h) == 0);
	}
	while (braid_rist_tx_poll_rtcp(tx, out, sizeof(out), &len) == 1)
		FUZZ_REQUIRE(braid_rtcp_check(out, len, 0) > 0);
}

static struct braid_addr source(uint8_t ctl)
{
	struct braid_addr a;
	memset(&a, 0, sizeof(a));
	a.u.in4.sin_family = AF_INET;
	a.u.in4.sin_port = htons((uint16_t)(5000 + ((ctl >> 2) & 3)));
	a.u.in4.sin_addr.s_addr = htonl(0x7f000001);
	a.len = sizeof(a.u.in4);
	return a;
}

static void feed(struct braid_rist_rx *rx, struct braid_rist_tx *tx, uint8_t ctl,
		 const uint8_t *bytes, size_t len, uint64_t now)
{
	struct braid_addr from = source(ctl);
	switch (ctl & 3) {
	case 0:
		braid_rist_rx_handle_rtp(rx, &from, bytes, len, now);
		break;
	case 1:
		braid_rist_rx_handle_rtcp(rx, &from, bytes, len, now);
		break;
	case 2:
		braid_rist_tx_handle_rtcp(tx, bytes, len, now);
		break;
	default:
		(void)braid_rist_tx_push(tx, bytes, len, now);
		break;
	}
	check_app_packets(bytes, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct braid_rist_rx_config rc;
	struct braid_rist_tx_config tc;
	braid_rist_rx_config_default(&rc);
	rc.nack = (enum braid_rist_nack_kind)(data[0] % 3);
	rc.buffer_us = 200000;
	rc.ssrc = 0x5eed;
	braid_rist_tx_config_default(&tc);
	tc.ssrc = 0x12345670;
	tc.buffer_us = 200000;
	uint64_t now = 1000;
	struct braid_rist_rx *rx = braid_rist_rx_new(&rc, now);
	struct braid_rist_tx *tx = braid_rist_tx_new(&tc, now);
	FUZZ_REQUIRE(rx && tx);
	size_t off = 1, largest = 0;
	while (off + 4 <= size) {
		uint8_t ctl = data[off];
		now += (uint64_t)data[off + 1] * 1000;
		size_t len = (size_t)(data[off + 2] << 8 | data[off + 3]);
		off += 4;
		if (len > size - off)
			len = size - off;
		if ((ctl & 3) == 0 && len > largest)
			largest = len;
		feed(rx, tx, ctl, data + off, len, now);
		off += len;
		if (braid_rist_rx_next_timeout(rx) <= now)
			braid_rist_rx_handle_timeout(rx, now);
		if (braid_rist_tx_next_timeout(tx) <= now)
			braid_rist_tx_handle_timeout(tx, now);
		drain(rx, tx, now, largest);
	}
	braid_rist_rx_flush(rx);
	drain(rx, tx, now, largest);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	FUZZ_REQUIRE(st.held == 0);
	braid_rist_rx_free(rx);
	braid_rist_tx_free(tx);
	return 0;
}
