/* Test tool: builds RTCP compounds with braid's writer, a distinct value in every field,
 * sends each as one UDP datagram to HOST:PORT, then an RTP packet, and prints on stdout
 * what it built: one JSON line per RTCP packet, {"datagram": N, <fields>}, in the format
 * of `braid rtcp dump`. tests/interop/test_rtcp_tshark.py compares those lines with
 * tshark's decoding of the capture and with braid's own dump of it.
 *
 * usage: rtcp_emit HOST:PORT */
#include <stdio.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtp.h"
#include "io/udp.h"
#include "rtcp_json.h"

#define MAX_PACKETS 4

static const uint8_t SDES1_ITEMS[] = {
	1, 17, 'b', 'r', 'a', 'i', 'd', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'n', 'e', 't',
	2, 9, 'T', 'e', 's', 't', ' ', 'U', 's', 'e', 'r',
	6, 5, 'b', 'r', 'a', 'i', 'd',
};
static const uint8_t SDES2_ITEMS[] = { 1, 4, 'c', 'a', 'm', '2' };
static const uint8_t BYE_REASON[] = "camera switched off";
static const uint8_t APP_DATA[] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67 };
static const struct braid_rtcp_nack_pair NACK_PAIRS[] = {
	{ 100, 0x0005 }, { 200, 0x8000 }, { 65535, 0 },
};

static struct braid_rtcp_report_block block(uint32_t ssrc, uint8_t fraction, int32_t lost,
					    uint32_t ext, uint32_t jitter, uint32_t lsr,
					    uint32_t dlsr)
{
	struct braid_rtcp_report_block b = { ssrc, fraction, lost, ext, jitter, lsr, dlsr };
	return b;
}

static size_t datagram1(struct braid_rtcp_packet *p)
{
	p[0].kind = BRAID_RTCP_KIND_SR;
	p[0].u.sr.ssrc = 0xdeadbeef;
	p[0].u.sr.ntp = 0xe9a1b2c3d4e5f607u;
	p[0].u.sr.rtp_ts = 0x89abcdef;
	p[0].u.sr.packets = 123456;
	p[0].u.sr.octets = 987654321;
	p[0].u.sr.block_count = 2;
	p[0].u.sr.blocks[0] = block(0x11111111, 25, 1000, 0x00021234, 345, 0xb2c3d4e5, 0x00018000);
	p[0].u.sr.blocks[1] = block(0x22222222, 200, -5, 0x0000fff0, 0, 0, 0);
	p[1].kind = BRAID_RTCP_KIND_SDES;
	p[1].u.sdes.chunk_count = 2;
	p[1].u.sdes.chunks[0] =
		(struct braid_rtcp_sdes_chunk){ 0xdeadbeef, SDES1_ITEMS, sizeof(SDES1_ITEMS) };
	p[1].u.sdes.chunks[1] =
		(struct braid_rtcp_sdes_chunk){ 0x33333333, SDES2_ITEMS, sizeof(SDES2_ITEMS) };
	return 2;
}

static size_t datagram2(struct braid_rtcp_packet *p)
{
	p[0].kind = BRAID_RTCP_KIND_RR;
	p[0].u.rr.ssrc = 0x44444444;
	p[0].u.rr.block_count = 2;
	p[0].u.rr.blocks[0] = block(0xdeadbeef, 1, 8388607, 0xffffffff, 0x7fffffff, 0x01020304,
				    65536);
	p[0].u.rr.blocks[1] = block(0x55555555, 0, -8388608, 7, 1, 2, 3);
	p[1].kind = BRAID_RTCP_KIND_SDES;
	p[1].u.sdes.chunk_count = 1;
	p[1].u.sdes.chunks[0] =
		(struct braid_rtcp_sdes_chunk){ 0x44444444, SDES2_ITEMS, sizeof(SDES2_ITEMS) };
	p[2].kind = BRAID_RTCP_KIND_BYE;
	p[2].u.bye.ssrc_count = 2;
	p[2].u.bye.ssrcs[0] = 0x44444444;
	p[2].u.bye.ssrcs[1] = 0x66666666;
	p[2].u.bye.has_reason = true;
	p[2].u.bye.reason = BYE_REASON;
	p[2].u.bye.reason_len = sizeof(BYE_REASON) - 1;
	return 3;
}

static size_t datagram3(struct braid_rtcp_packet *p)
{
	p[0].kind = BRAID_RTCP_KIND_RR;
	p[0].u.rr.ssrc = 0x77777777;
	p[1].kind = BRAID_RTCP_KIND_NACK;
	p[1].u.nack.sender_ssrc = 0x77777777;
	p[1].u.nack.media_ssrc = 0xdeadbeef;
	p[1].u.nack.pair_count = sizeof(NACK_PAIRS) / sizeof(NACK_PAIRS[0]);
	p[1].u.nack.pairs = NACK_PAIRS;
	p[2].kind = BRAID_RTCP_KIND_APP;
	p[2].u.app.subtype = 17;
	p[2].u.app.ssrc = 0x77777777;
	memcpy(p[2].u.app.name, "BRD1", 4);
	p[2].u.app.data = APP_DATA;
	p[2].u.app.data_len = sizeof(APP_DATA);
	return 3;
}

static int send_compound(int fd, const struct braid_addr *to, int index,
			 const struct braid_rtcp_packet *p, size_t n)
{
	uint8_t buf[1500];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		int rc = braid_rtcp_write(&w, &p[i]);
		if (rc < 0) {
			fprintf(stderr, "rtcp_emit: packet %zu of datagram %d: %s\n", i, index,
				braid_strerror(rc));
			return -1;
		}
		printf("{\"datagram\":%d,", index);
		braid_rtcp_json_fields(stdout, &p[i]);
		printf("}\n");
	}
	if (braid_rtcp_check(buf, w.len, 0) != (int)n) {
		fprintf(stderr, "rtcp_emit: datagram %d does not read back\n", index);
		return -1;
	}
	return braid_udp_send(fd, to, buf, w.len) < 0 ? -1 : 0;
}

/* An RTP packet on the same port: the dump must skip it. */
static int send_rtp(int fd, const struct braid_addr *to)
{
	static const uint8_t payload[] = "not rtcp";
	struct braid_rtp_header h;
	uint8_t buf[64];
	memset(&h, 0, sizeof(h));
	h.payload_type = 96;
	h.seq = 1;
	h.ssrc = 0xdeadbeef;
	h.payload = payload;
	h.payload_len = sizeof(payload);
	int n = braid_rtp_build(&h, buf, sizeof(buf));
	return n < 0 || braid_udp_send(fd, to, buf, (size_t)n) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct braid_addr to;
	if (argc != 2 || braid_addr_parse(argv[1], 0, &to) != 0) {
		fprintf(stderr, "usage: rtcp_emit HOST:PORT\n");
		return 2;
	}
	struct braid_udp_options opt = { .family = to.u.sa.sa_family };
	int fd = braid_udp_open(&opt);
	if (fd < 0) {
		perror("rtcp_emit: socket");
		return 1;
	}
	size_t (*const builders[])(struct braid_rtcp_packet *) = { datagram1, datagram2,
								    datagram3 };
	for (int d = 0; d < 3; d++) {
		struct braid_rtcp_packet p[MAX_PACKETS];
		memset(p, 0, sizeof(p));
		size_t n = builders[d](p);
		if (send_compound(fd, &to, d + 1, p, n) < 0)
			return 1;
	}
	if (send_rtp(fd, &to) < 0)
		return 1;
	return fflush(stdout) == 0 ? 0 : 1;
}
