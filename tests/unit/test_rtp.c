/* RTP (include/braid/rtp.h): header layouts written out by hand from RFC 3550 5.1, every
 * truncation and rejected field, and tables for the appendix algorithms: A.1 sequence
 * extension and source validation, A.3 loss counts, A.8 jitter (checked against the
 * RFC's floating-point formula computed here). */
#include "braid/error.h"
#include "braid/rtp.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* V=2 P=1 X=1 CC=2, M=1 PT=96, seq 0x1234, ts 0xdeadbeef, SSRC 0x01020304, two CSRCs,
 * an extension with profile 0xbede and one word, 3 payload octets, 4 padding octets. */
static const uint8_t FULL[] = {
	0xb2, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
	0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xb2, 0xb3,
	0xbe, 0xde, 0x00, 0x01, 0x10, 0x20, 0x30, 0x40,
	'a', 'b', 'c',
	0x00, 0x00, 0x00, 0x04,
};

static void test_parse_full(void)
{
	struct braid_rtp_header h;
	CHECK_EQ(braid_rtp_parse(FULL, sizeof(FULL), &h), 0);
	CHECK(h.padding);
	CHECK(h.extension);
	CHECK(h.marker);
	CHECK_EQ(h.payload_type, 96);
	CHECK_EQ(h.seq, 0x1234);
	CHECK_EQ_U64(h.timestamp, 0xdeadbeefu);
	CHECK_EQ_U64(h.ssrc, 0x01020304u);
	CHECK_EQ(h.csrc_count, 2);
	CHECK_EQ_U64(h.csrc[0], 0xa0a1a2a3u);
	CHECK_EQ_U64(h.csrc[1], 0xb0b1b2b3u);
	CHECK_EQ(h.ext_profile, 0xbede);
	CHECK_EQ(h.ext_len, 4);
	CHECK(h.ext_data == FULL + 24);
	CHECK_EQ(h.header_len, 28);
	CHECK(h.payload == FULL + 28);
	CHECK_EQ(h.payload_len, 3);
	CHECK_EQ(h.padding_len, 4);
}

static void test_parse_minimal(void)
{
	const uint8_t pkt[] = { 0x80, 0x08, 0xff, 0xff, 0, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe };
	struct braid_rtp_header h;
	CHECK_EQ(braid_rtp_parse(pkt, sizeof(pkt), &h), 0);
	CHECK(!h.padding && !h.extension && !h.marker);
	CHECK_EQ(h.payload_type, 8);
	CHECK_EQ(h.seq, 0xffff);
	CHECK_EQ_U64(h.timestamp, 1);
	CHECK_EQ_U64(h.ssrc, 0xcafebabeu);
	CHECK_EQ(h.payload_len, 0);
	CHECK_EQ(h.header_len, 12);
}

static void test_parse_truncated(void)
{
	struct braid_rtp_header h;
	CHECK_EQ(braid_rtp_parse(NULL, 0, &h), BRAID_ERR_TRUNCATED);
	/* Every cut through the header: before 12 bytes, inside the CSRCs, the extension. */
	for (size_t len = 0; len < 28; len++) {
		uint8_t buf[sizeof(FULL)];
		memcpy(buf, FULL, len);
		buf[0] = 0x92; /* no padding, so only the header's own lengths are at stake */
		int rc = braid_rtp_parse(buf, len, &h);
		if (rc != BRAID_ERR_TRUNCATED)
			fprintf(stderr, "length %zu: %d\n", len, rc);
		CHECK_EQ(rc, BRAID_ERR_TRUNCATED);
	}
	/* An extension claiming more words than there are. */
	uint8_t buf[sizeof(FULL)];
	memcpy(buf, FULL, sizeof(FULL));
	buf[0] = 0x92;
	buf[23] = 3; /* 12 more bytes from 24: 36 > 35 */
	CHECK_EQ(braid_rtp_parse(buf, sizeof(buf), &h), BRAID_ERR_TRUNCATED);
	buf[23] = 2; /* 8 bytes: fits, payload is what is left */
	CHECK_EQ(braid_rtp_parse(buf, sizeof(buf), &h), 0);
	CHECK_EQ(h.payload_len, sizeof(buf) - 32);
}

static void test_parse_rejects(void)
{
	static const struct {
		uint8_t b0, b1;
		int rc;
	} cases[] = {
		{ 0x00, 0x60, BRAID_ERR_VERSION }, { 0x40, 0x60, BRAID_ERR_VERSION },
		{ 0xc0, 0x60, BRAID_ERR_VERSION }, { 0x80, 71, 0 },
		{ 0x80, 72, BRAID_ERR_MALFORMED }, { 0x80, 76, BRAID_ERR_MALFORMED },
		{ 0x80, 77, 0 }, { 0x80, 0xc8, BRAID_ERR_MALFORMED }, /* SR's octet */
		{ 0x80, 0xc9, BRAID_ERR_MALFORMED }, { 0x80, 0xcc, BRAID_ERR_MALFORMED },
		{ 0x80, 0xff, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pkt[16] = { cases[i].b0, cases[i].b1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3 };
		struct braid_rtp_header h;
		CHECK_EQ(braid_rtp_parse(pkt, sizeof(pkt), &h), cases[i].rc);
	}
}

static void test_parse_padding(void)
{
	/* 12-byte header, 4 bytes after it; the last octet is the count. */
	static const struct {
		uint8_t count;
		int rc;
		size_t payload_len;
	} cases[] = {
		{ 0, BRAID_ERR_MALFORMED, 0 }, /* the count includes itself: never 0 */
		{ 1, 0, 3 },
		{ 4, 0, 0 },
		{ 5, BRAID_ERR_MALFORMED, 0 }, /* would eat the header */
		{ 255, BRAID_ERR_MALFORMED, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pkt[16] = { 0xa0, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 'x', 'y', 'z' };
		pkt[15] = cases[i].count;
		struct braid_rtp_header h;
		CHECK_EQ(braid_rtp_parse(pkt, sizeof(pkt), &h), cases[i].rc);
		if (cases[i].rc == 0) {
			CHECK_EQ(h.payload_len, cases[i].payload_len);
			CHECK_EQ(h.padding_len, cases[i].count);
		}
	}
}

static void test_build(void)
{
	struct braid_rtp_header h;
	CHECK_EQ(braid_rtp_parse(FULL, sizeof(FULL), &h), 0);
	uint8_t buf[64];
	CHECK_EQ(braid_rtp_build(&h, buf, sizeof(buf)), (int)sizeof(FULL));
	CHECK(memcmp(buf, FULL, sizeof(FULL)) == 0);
	CHECK_EQ(braid_rtp_build(&h, buf, sizeof(FULL) - 1), BRAID_ERR_TOO_BIG);
	CHECK_EQ(braid_rtp_build(&h, NULL, 0), BRAID_ERR_TOO_BIG);

	struct braid_rtp_header bad = h;
	bad.payload_type = 73;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
	bad = h;
	bad.csrc_count = 16;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
	bad = h;
	bad.ext_len = 3;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
	bad = h;
	bad.padding_len = 0;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
	bad = h;
	bad.padding = false;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
	bad = h;
	bad.payload = NULL;
	CHECK_EQ(braid_rtp_build(&bad, buf, sizeof(buf)), BRAID_ERR_INVAL);
}

static void test_looks_like_rtcp(void)
{
	const uint8_t sr[] = { 0x80, 200 }, rtp[] = { 0x80, 96 }, v1[] = { 0x40, 200 };
	const uint8_t low[] = { 0x81, 191 }, high[] = { 0x81, 224 }, xr[] = { 0x80, 207 };
	CHECK(braid_rtp_looks_like_rtcp(sr, 2));
	CHECK(braid_rtp_looks_like_rtcp(xr, 2));
	CHECK(!braid_rtp_looks_like_rtcp(rtp, 2));
	CHECK(!braid_rtp_looks_like_rtcp(v1, 2));
	CHECK(!braid_rtp_looks_like_rtcp(low, 2));
	CHECK(!braid_rtp_looks_like_rtcp(high, 2));
	CHECK(!braid_rtp_looks_like_rtcp(sr, 1));
}

static void test_units(void)
{
	/* Expected values: floor(us * rate / 10^6) mod 2^32, worked out with exact integers
	 * outside this program. */
	CHECK_EQ_U64(braid_rtp_units_from_us(0, 90000), 0);
	CHECK_EQ_U64(braid_rtp_units_from_us(1000000, 90000), 90000);
	CHECK_EQ_U64(braid_rtp_units_from_us(11111, 90000), 999);
	CHECK_EQ_U64(braid_rtp_units_from_us(11112, 90000), 1000);
	CHECK_EQ_U64(braid_rtp_units_from_us(125, 8000), 1);
	CHECK_EQ_U64(braid_rtp_units_from_us(124, 8000), 0);
	CHECK_EQ_U64(braid_rtp_units_from_us((uint64_t)1 << 40, 90000), 171798691u);
	CHECK_EQ_U64(braid_rtp_units_from_us(UINT64_MAX, 48000), 893353197u);
}

/* A.1: each row feeds a sequence and checks each status and the end state. */
struct seq_case {
	const char *name;
	unsigned probation;
	size_t n;
	uint16_t seqs[8];
	enum braid_rtp_seq_status status[8];
	uint32_t ext_max, received, base;
};

#define N_ BRAID_RTP_SEQ_NEW
#define O_ BRAID_RTP_SEQ_OLD
#define R_ BRAID_RTP_SEQ_RESYNC
#define P_ BRAID_RTP_SEQ_PROBATION
#define J_ BRAID_RTP_SEQ_JUMP

static const struct seq_case SEQ_CASES[] = {
	{ "in order", 0, 4, { 0, 1, 2, 3 }, { N_, N_, N_, N_ }, 3, 4, 0 },
	{ "wrap", 0, 4, { 65534, 65535, 0, 1 }, { N_, N_, N_, N_ }, 65537, 4, 65534 },
	{ "gap is loss", 0, 3, { 10, 11, 15 }, { N_, N_, N_ }, 15, 3, 10 },
	{ "reordered", 0, 5, { 1, 2, 4, 3, 5 }, { N_, N_, N_, O_, N_ }, 5, 5, 1 },
	{ "duplicate", 0, 4, { 1, 2, 2, 3 }, { N_, N_, O_, N_ }, 3, 4, 1 },
	{ "reordered across the wrap", 0, 4, { 65534, 0, 65535, 1 }, { N_, N_, O_, N_ },
	  65537, 4, 65534 },
	{ "gap just below MAX_DROPOUT", 0, 2, { 100, 3099 }, { N_, N_ }, 3099, 2, 100 },
	{ "jump of MAX_DROPOUT, then resync", 0, 4, { 100, 101, 3101, 3102 },
	  { N_, N_, J_, R_ }, 3102, 1, 3102 },
	{ "jump not followed is dropped", 0, 4, { 100, 101, 3101, 102 }, { N_, N_, J_, N_ },
	  102, 3, 100 },
	{ "late by MAX_MISORDER is a jump", 0, 2, { 5000, 4900 }, { N_, J_ }, 5000, 1, 5000 },
	{ "late by MAX_MISORDER - 1 is counted", 0, 2, { 5000, 4901 }, { N_, O_ }, 5000, 2,
	  5000 },
	{ "probation 2: valid at the second", 2, 3, { 10, 11, 12 }, { P_, N_, N_ }, 12, 2, 11 },
	{ "probation 2: a break restarts it", 2, 4, { 10, 12, 13, 14 }, { P_, P_, N_, N_ }, 14,
	  2, 13 },
	{ "probation 1: valid at once", 1, 2, { 7, 8 }, { N_, N_ }, 8, 2, 7 },
	{ "probation 3", 3, 4, { 1, 2, 3, 4 }, { P_, P_, N_, N_ }, 4, 2, 3 },
};

static void test_sequence_table(void)
{
	for (size_t c = 0; c < sizeof(SEQ_CASES) / sizeof(SEQ_CASES[0]); c++) {
		const struct seq_case *sc = &SEQ_CASES[c];
		braid_test_current = sc->name;
		struct braid_rtp_source s;
		braid_rtp_source_init(&s, sc->probation);
		for (size_t i = 0; i < sc->n; i++)
			CHECK_EQ(braid_rtp_source_update(&s, sc->seqs[i]), sc->status[i]);
		CHECK(braid_rtp_source_valid(&s));
		CHECK_EQ_U64(braid_rtp_source_ext_max(&s), sc->ext_max);
		CHECK_EQ_U64(s.received, sc->received);
		CHECK_EQ_U64(s.base_seq, sc->base);
	}
}

static void test_probation_not_valid(void)
{
	struct braid_rtp_source s;
	braid_rtp_source_init(&s, BRAID_RTP_MIN_SEQUENTIAL);
	CHECK(!braid_rtp_source_valid(&s));
	CHECK_EQ(braid_rtp_source_update(&s, 500), BRAID_RTP_SEQ_PROBATION);
	CHECK(!braid_rtp_source_valid(&s));
	CHECK_EQ(s.received, 0);
	CHECK(!braid_rtp_seq_counted(BRAID_RTP_SEQ_PROBATION));
	CHECK(!braid_rtp_seq_counted(BRAID_RTP_SEQ_JUMP));
	CHECK(braid_rtp_seq_counted(BRAID_RTP_SEQ_OLD));
}

/* Many wraps: the extended number counts every cycle. */
static void test_long_run_wraps(void)
{
	struct braid_rtp_source s;
	braid_rtp_source_init(&s, 0);
	uint16_t seq = 65000;
	uint32_t not_new = 0;
	for (uint32_t i = 0; i < 3 * 65536u; i++)
		not_new += braid_rtp_source_update(&s, seq++) != BRAID_RTP_SEQ_NEW;
	CHECK_EQ(not_new, 0);
	CHECK_EQ_U64(braid_rtp_source_ext_max(&s), 65000u + 3 * 65536u - 1);
	struct braid_rtp_loss loss;
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, 0);
	CHECK_EQ(loss.fraction_lost, 0);
	CHECK_EQ_U64(loss.ext_max, 65000u + 3 * 65536u - 1);
}

/* A.3 over successive report intervals: the fraction is per interval, the total runs on. */
static void test_loss_intervals(void)
{
	struct braid_rtp_source s;
	struct braid_rtp_loss loss;
	braid_rtp_source_init(&s, 0);
	for (uint16_t q = 0; q < 10; q++)
		if (q != 3 && q != 7)
			braid_rtp_source_update(&s, q);
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, 2);
	CHECK_EQ(loss.fraction_lost, (2 << 8) / 10); /* 51 */
	CHECK_EQ_U64(loss.ext_max, 9);

	for (uint16_t q = 10; q < 20; q++)
		braid_rtp_source_update(&s, q);
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, 2);
	CHECK_EQ(loss.fraction_lost, 0);

	/* Nothing new: expected_interval 0, fraction 0. */
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.fraction_lost, 0);
	CHECK_EQ(loss.cumulative_lost, 2);

	/* Duplicates outnumber the losses: the interval gained, the total goes negative. */
	braid_rtp_source_update(&s, 21); /* 20 lost */
	for (int i = 0; i < 4; i++)
		braid_rtp_source_update(&s, 21);
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.fraction_lost, 0);
	CHECK_EQ(loss.cumulative_lost, 2 + 1 - 4);

	/* Half of the next interval lost: 22..29 with 4 missing. */
	const uint16_t got[] = { 22, 24, 26, 28, 29 };
	for (size_t i = 0; i < sizeof(got) / sizeof(got[0]); i++)
		braid_rtp_source_update(&s, got[i]);
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.fraction_lost, (3 << 8) / 8); /* 22..29: 8 expected, 5 received */
	CHECK_EQ(loss.cumulative_lost, -1 + 3);
}

static void test_loss_clamp_and_wrap(void)
{
	struct braid_rtp_source s;
	struct braid_rtp_loss loss;
	braid_rtp_source_init(&s, 0);
	braid_rtp_source_update(&s, 0);
	/* 2^24 expected, 1 received: clamped to the largest positive 24-bit value. */
	s.cycles = 256u * 65536u;
	s.max_seq = 0xffff;
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, 0x7fffff);
	CHECK_EQ(loss.fraction_lost, 255); /* all but one of 2^24 + 65536: just below 1 */

	/* Far more duplicates than expected: the smallest negative value. */
	braid_rtp_source_init(&s, 0);
	braid_rtp_source_update(&s, 0);
	s.received = 9000000;
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, -0x800000);

	/* The received counter wrapping at 2^32 leaves the modular differences right. */
	braid_rtp_source_init(&s, 0);
	braid_rtp_source_update(&s, 100);
	s.received = UINT32_MAX;
	s.base_seq = 101; /* expected = ext_max - base + 1 = 0 (mod 2^32) */
	/* The last report saw 11 fewer expected and 10 fewer received than now. */
	s.received_prior = UINT32_MAX - 9;
	s.expected_prior = (uint32_t)-11;
	braid_rtp_source_update(&s, 101);
	braid_rtp_source_update(&s, 103); /* 102 lost; received wraps to 1 */
	CHECK_EQ_U64(s.received, 1);
	braid_rtp_source_report(&s, &loss);
	CHECK_EQ(loss.cumulative_lost, 3 - 1);         /* expected 101..103, received 1 */
	CHECK_EQ(loss.fraction_lost, (3 << 8) / 14);   /* 14 expected, 11 received */
}

/* RFC 3550 A.8, the floating-point form, as the reference for the integer one. */
static double reference_jitter(const uint32_t *arrival, const uint32_t *ts, size_t n)
{
	double j = 0;
	for (size_t i = 1; i < n; i++) {
		double d = ((double)arrival[i] - ts[i]) - ((double)arrival[i - 1] - ts[i - 1]);
		j += (fabs(d) - j) / 16;
	}
	return j;
}

static void test_jitter_constant_transit(void)
{
	struct braid_rtp_jitter j;
	memset(&j, 0, sizeof(j));
	/* 20 ms apart at 90 kHz, every packet 1234 units in flight: no jitter. The
	 * timestamps cross 2^32 on the way. */
	uint32_t ts = 0xfffff000u;
	for (int i = 0; i < 100; i++, ts += 1800)
		braid_rtp_jitter_update(&j, ts + 1234, ts);
	CHECK_EQ(braid_rtp_jitter_value(&j), 0);
}

static void test_jitter_varying_transit(void)
{
	enum { N = 300 };
	static uint32_t arrival[N], ts[N];
	/* Transit alternating by 900 units (10 ms at 90 kHz), then a pseudo-random walk. */
	uint32_t x = 12345;
	for (int i = 0; i < N; i++) {
		ts[i] = (uint32_t)i * 3000u;
		uint32_t extra;
		if (i < 150) {
			extra = i % 2 ? 900 : 0;
		} else {
			x = x * 1103515245u + 12345u;
			extra = (x >> 16) % 2000;
		}
		arrival[i] = ts[i] + 50000 + extra;
	}
	struct braid_rtp_jitter j;
	memset(&j, 0, sizeof(j));
	braid_rtp_jitter_update(&j, arrival[0], ts[0]);
	CHECK_EQ(braid_rtp_jitter_value(&j), 0); /* one packet: no difference yet */
	braid_rtp_jitter_update(&j, arrival[1], ts[1]);
	CHECK_EQ_U64(j.j16, 900); /* |D| = 900 added to J16 = 0 */
	CHECK_EQ(braid_rtp_jitter_value(&j), 900 / 16);
	for (int i = 2; i < N; i++) {
		braid_rtp_jitter_update(&j, arrival[i], ts[i]);
		if (i == 149)
			CHECK_NEAR(braid_rtp_jitter_value(&j), reference_jitter(arrival, ts, 150),
				   1.0);
	}
	CHECK_NEAR(braid_rtp_jitter_value(&j), reference_jitter(arrival, ts, N), 1.0);
}

/* A transit alternating by |D| converges on |D|. */
static void test_jitter_converges(void)
{
	struct braid_rtp_jitter j;
	memset(&j, 0, sizeof(j));
	for (uint32_t i = 0; i < 400; i++)
		braid_rtp_jitter_update(&j, i * 1800 + (i % 2 ? 900 : 0), i * 1800);
	CHECK_NEAR(braid_rtp_jitter_value(&j), 900, 1.0);
}

int main(void)
{
	RUN_TEST(test_parse_full);
	RUN_TEST(test_parse_minimal);
	RUN_TEST(test_parse_truncated);
	RUN_TEST(test_parse_rejects);
	RUN_TEST(test_parse_padding);
	RUN_TEST(test_build);
	RUN_TEST(test_looks_like_rtcp);
	RUN_TEST(test_units);
	RUN_TEST(test_sequence_table);
	RUN_TEST(test_probation_not_valid);
	RUN_TEST(test_long_run_wraps);
	RUN_TEST(test_loss_intervals);
	RUN_TEST(test_loss_clamp_and_wrap);
	RUN_TEST(test_jitter_constant_transit);
	RUN_TEST(test_jitter_varying_transit);
	RUN_TEST(test_jitter_converges);
	return braid_test_finish();
}
