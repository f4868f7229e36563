/* Arbitrary bytes into the RTCP reader. Every packet read must write back to the same
 * bytes (padding octets other than the count are written as zeros) and read again the
 * same; the hop-by-hop filter must turn a valid compound into a valid one; a session fed
 * the same bytes as RTCP and as RTP must produce reports that read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtcp_session.h"

#define FUZZ_REQUIRE(cond)                                                               \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rewrite(const uint8_t *data, const struct braid_rtcp_packet *p)
{
	static uint8_t buf[65536 * 4];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	int n = braid_rtcp_write(&w, p);
	FUZZ_REQUIRE(n >= 0 && (size_t)n == p->len);
	size_t body = p->len - p->padding_len;
	FUZZ_REQUIRE(memcmp(buf, data + p->offset, body) == 0);
	FUZZ_REQUIRE(buf[p->len - 1] == data[p->offset + p->len - 1]);
	/* Alone, a packet with padding is still the last: it must read back. */
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet again;
	braid_rtcp_reader_init(&r, buf, (size_t)n, BRAID_RTCP_REDUCED_SIZE);
	FUZZ_REQUIRE(braid_rtcp_read(&r, &again) == 1);
	FUZZ_REQUIRE(again.kind == p->kind && again.type == p->type && again.count == p->count);
	FUZZ_REQUIRE(braid_rtcp_read(&r, &again) == 0);
	/* A writer one byte short refuses it whole. */
	braid_rtcp_writer_init(&w, buf, (size_t)n - 1);
	FUZZ_REQUIRE(braid_rtcp_write(&w, p) == BRAID_ERR_TOO_BIG && w.len == 0);
}

static void read_all(const uint8_t *data, size_t size, unsigned flags)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	int rc = braid_rtcp_reader_init(&r, data, size, flags);
	size_t off = 0;
	while (rc == 0 && (rc = braid_rtcp_read(&r, &p)) == 1) {
		FUZZ_REQUIRE(p.offset == off && p.len >= 4 && p.len % 4 == 0);
		off += p.len;
		rewrite(data, &p);
		if (p.kind == BRAID_RTCP_KIND_SDES) {
			struct braid_rtcp_sdes_item item;
			for (unsigned i = 0; i < p.u.sdes.chunk_count; i++)
				(void)braid_rtcp_sdes_find(&p.u.sdes.chunks[i], 255, &item);
		}
		rc = 0;
	}
	FUZZ_REQUIRE(rc <= 0);
	if (rc == 0)
		FUZZ_REQUIRE(off == size);
	FUZZ_REQUIRE(braid_rtcp_read(&r, &p) == rc);
}

static void filter(const uint8_t *data, size_t size)
{
	static uint8_t out[65536 * 4 + 64];
	int valid = braid_rtcp_check(data, size, 0);
	int n = braid_rtcp_filter_hop_by_hop(data, size, 0, out, sizeof(out));
	FUZZ_REQUIRE((valid < 0) == (n < 0));
	if (n > 0)
		FUZZ_REQUIRE(braid_rtcp_check(out, (size_t)n, 0) > 0);
}

static void session(const uint8_t *data, size_t size)
{
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.auto_clock_rate = 48000;
	st.hop_by_hop = size & 1;
	st.cname = "fuzz";
	st.max_streams = 4;
	struct braid_rtcp_session *s = braid_rtcp_session_new(&st, 0);
	FUZZ_REQUIRE(s);
	static uint8_t fwd[65536 * 4];
	(void)braid_rtcp_session_rtp_received(s, data, size, 10);
	(void)braid_rtcp_session_rtp_sent(s, data, size, 20);
	(void)braid_rtcp_session_rtcp_received(s, data, size, 30, fwd, sizeof(fwd));
	braid_rtcp_session_handle_timeout(s, 2000000);
	uint8_t buf[1200];
	int n;
	while ((n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf))) > 0)
		FUZZ_REQUIRE(braid_rtcp_check(buf, (size_t)n, 0) >= 2);
	FUZZ_REQUIRE(n == 0);
	braid_rtcp_session_free(s);
}

static void nack_pack(const uint8_t *data, size_t size)
{
	uint16_t lost[64];
	struct braid_rtcp_nack_pair pairs[64];
	size_t n = size / 2 > 64 ? 64 : size / 2;
	for (size_t i = 0; i < n; i++)
		lost[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
	size_t need = braid_rtcp_nack_pack(lost, n, pairs, 64);
	FUZZ_REQUIRE(need <= n);
	/* Every listed number is reported by some pair. */
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < need && !found; k++) {
			uint16_t seqs[17];
			unsigned m = braid_rtcp_nack_pair_seqs(pairs[k], seqs);
			for (unsigned j = 0; j < m; j++)
				found |= seqs[j] == lost[i];
		}
		FUZZ_REQUIRE(found);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_all(data, size, 0);
	read_all(data, size, BRAID_RTCP_REDUCED_SIZE);
	filter(data, size);
	session(data, size);
	nack_pack(data, size);
	return 0;
}
