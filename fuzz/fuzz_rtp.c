/* Arbitrary bytes into the RTP parser. Whatever parses must build back to the same bytes
 * (padding octets other than the count are written as zeros), parse again to the same
 * fields, and feed the sequence, jitter and report machinery without harm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp_session.h"
#include "braid/rtp.h"

#define FUZZ_REQUIRE(cond)                                                               \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_header(const struct braid_rtp_header *a, const struct braid_rtp_header *b)
{
	return a->padding == b->padding && a->extension == b->extension &&
	       a->marker == b->marker && a->payload_type == b->payload_type &&
	       a->seq == b->seq && a->timestamp == b->timestamp && a->ssrc == b->ssrc &&
	       a->csrc_count == b->csrc_count &&
	       memcmp(a->csrc, b->csrc, a->csrc_count * sizeof(a->csrc[0])) == 0 &&
	       a->ext_profile == b->ext_profile && a->ext_len == b->ext_len &&
	       a->payload_len == b->payload_len && a->padding_len == b->padding_len &&
	       a->header_len == b->header_len;
}

static void rebuild(const uint8_t *data, size_t size, const struct braid_rtp_header *h)
{
	uint8_t *buf = malloc(size ? size : 1);
	FUZZ_REQUIRE(buf);
	FUZZ_REQUIRE(braid_rtp_build(h, buf, size ? size - 1 : 0) == BRAID_ERR_TOO_BIG);
	int n = braid_rtp_build(h, buf, size);
	FUZZ_REQUIRE(n >= 0 && (size_t)n == size);
	size_t body = size - h->padding_len;
	FUZZ_REQUIRE(memcmp(buf, data, body) == 0);
	FUZZ_REQUIRE(buf[size - 1] == data[size - 1] || !h->padding);
	struct braid_rtp_header again;
	FUZZ_REQUIRE(braid_rtp_parse(buf, size, &again) == 0);
	FUZZ_REQUIRE(same_header(h, &again));
	free(buf);
}

/* The input's bytes as a run of sequence numbers and arrival times. */
static void streams(const uint8_t *data, size_t size, const struct braid_rtp_header *h)
{
	struct braid_rtcp_stream_config cfg = { .ssrc = h->ssrc, .clock_rate = 90000,
						.use_latest_packet = size & 1,
						.probation = data[0] % 3 };
	struct braid_rtcp_receiver_stream rx;
	struct braid_rtcp_sender_stream tx;
	struct braid_rtcp_report_block block;
	struct braid_rtcp_sr sr;
	braid_rtcp_receiver_stream_init(&rx, &cfg);
	braid_rtcp_sender_stream_init(&tx, &cfg);
	struct braid_rtp_header pkt = *h;
	uint64_t now = 0;
	for (size_t i = 0; i + 3 < size; i += 4) {
		pkt.seq = (uint16_t)(data[i] << 8 | data[i + 1]);
		pkt.timestamp += (uint32_t)data[i + 2] * 300u;
		now += (uint64_t)data[i + 3] * 1000u;
		enum braid_rtp_seq_status st = braid_rtcp_receiver_stream_on_rtp(&rx, &pkt, now);
		FUZZ_REQUIRE(st <= BRAID_RTP_SEQ_JUMP);
		braid_rtcp_sender_stream_on_rtp(&tx, &pkt, now);
		if (data[i] == 0xff) {
			if (braid_rtcp_receiver_stream_report(&rx, now, &block))
				FUZZ_REQUIRE(block.cumulative_lost >= -0x800000 &&
					     block.cumulative_lost <= 0x7fffff);
			FUZZ_REQUIRE(braid_rtcp_sender_stream_report(&tx, now, 0, &sr));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct braid_rtp_header h;
	(void)braid_rtp_looks_like_rtcp(data, size);
	int rc = braid_rtp_parse(data, size, &h);
	if (rc < 0) {
		FUZZ_REQUIRE(rc == BRAID_ERR_TRUNCATED || rc == BRAID_ERR_VERSION ||
			     rc == BRAID_ERR_MALFORMED);
		return 0;
	}
	FUZZ_REQUIRE(h.header_len + h.payload_len + h.padding_len == size);
	FUZZ_REQUIRE(h.payload == data + h.header_len);
	rebuild(data, size, &h);
	streams(data, size, &h);
	return 0;
}
