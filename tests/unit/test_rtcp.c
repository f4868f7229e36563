/* RTCP packets (include/braid/rtcp.h): byte layouts of SR, RR, SDES, BYE, APP and Generic
 * NACK written out by hand from RFC 3550 6.4-6.7 and RFC 4585 6.2.1; compounds; every
 * truncation; the length, count and padding rules; the writer's refusals; NACK packing;
 * NTP, LSR and DLSR conversions (with the example of RFC 3550 6.4.1). */
#include "braid/error.h"
#include "braid/rtcp.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* SR, RC=1: sender information from the RFC 3550 6.4.1 example time, then one block. */
static const uint8_t SR_BYTES[] = {
	0x81, 0xc8, 0x00, 0x0c,                         /* V=2 RC=1 PT=200 length 12 */
	0x11, 0x22, 0x33, 0x44,                         /* SSRC of sender */
	0xb4, 0x4d, 0xb7, 0x05, 0x20, 0x00, 0x00, 0x00, /* NTP 0xb44db705.20000000 */
	0x01, 0x02, 0x03, 0x04,                         /* RTP timestamp */
	0x00, 0x00, 0x03, 0xe8,                         /* packets 1000 */
	0x00, 0x0f, 0x42, 0x40,                         /* octets 1000000 */
	0x55, 0x66, 0x77, 0x88,                         /* SSRC_1 */
	0x40, 0xff, 0xff, 0xfe,                         /* fraction 64/256, cumulative -2 */
	0x00, 0x01, 0x00, 0x05,                         /* extended highest 65541 */
	0x00, 0x00, 0x00, 0x20,                         /* jitter 32 */
	0xb7, 0x05, 0x20, 0x00,                         /* LSR */
	0x00, 0x05, 0x40, 0x00,                         /* DLSR 5.25 s */
};

/* RR, RC=2, reporter 0x0a0b0c0d. */
static const uint8_t RR_BYTES[] = {
	0x82, 0xc9, 0x00, 0x0d, 0x0a, 0x0b, 0x0c, 0x0d,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x7f, 0xff, 0xff, 0x00, 0x00, 0x00, 0x10,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0xff, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x00, 0x00, 0x00, 0x01,
};

/* SDES, SC=2: a CNAME "user@h" (6 octets: items 8 bytes, then a null word), and a chunk
 * with NAME "ab" and CNAME "c" (items 7 bytes, one null octet ends the word). */
static const uint8_t SDES_BYTES[] = {
	0x82, 0xca, 0x00, 0x07,
	0x00, 0x00, 0x00, 0x01, 0x01, 0x06, 'u', 's', 'e', 'r', '@', 'h', 0, 0, 0, 0,
	0x00, 0x00, 0x00, 0x02, 0x02, 0x02, 'a', 'b', 0x01, 0x01, 'c', 0,
};

/* BYE, SC=2, reason "gone" (1 + 4 octets, 3 of padding). */
static const uint8_t BYE_BYTES[] = {
	0x82, 0xcb, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x04, 'g', 'o', 'n', 'e', 0, 0, 0,
};

/* APP, subtype 5, name "brd1", 8 data octets. */
static const uint8_t APP_BYTES[] = {
	0x85, 0xcc, 0x00, 0x04, 0xfe, 0xdc, 0xba, 0x98, 'b', 'r', 'd', '1',
	1, 2, 3, 4, 5, 6, 7, 8,
};

/* RTPFB FMT=1, two FCI entries. */
static const uint8_t NACK_BYTES[] = {
	0x81, 0xcd, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0b,
	0x00, 0x64, 0x80, 0x01, 0xff, 0xff, 0x00, 0x00,
};

static int read_one(const uint8_t *buf, size_t len, unsigned flags, struct braid_rtcp_packet *p)
{
	struct braid_rtcp_reader r;
	int rc = braid_rtcp_reader_init(&r, buf, len, flags);
	if (rc < 0)
		return rc;
	rc = braid_rtcp_read(&r, p);
	if (rc != 1)
		return rc;
	return braid_rtcp_read(&r, p) == 0 ? 1 : BRAID_ERR_MALFORMED;
}

static void check_rewrite(const uint8_t *bytes, size_t len, const struct braid_rtcp_packet *p)
{
	uint8_t out[512];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, out, sizeof(out));
	CHECK_EQ(braid_rtcp_write(&w, p), (int)len);
	CHECK_EQ(w.len, len);
	CHECK(memcmp(out, bytes, len) == 0);
}

static void test_sr(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(SR_BYTES, sizeof(SR_BYTES), 0, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_SR);
	CHECK_EQ(p.type, 200);
	CHECK_EQ(p.len, sizeof(SR_BYTES));
	CHECK_EQ_U64(p.u.sr.ssrc, 0x11223344u);
	CHECK_EQ_U64(p.u.sr.ntp, 0xb44db70520000000u);
	CHECK_EQ_U64(p.u.sr.rtp_ts, 0x01020304u);
	CHECK_EQ(p.u.sr.packets, 1000);
	CHECK_EQ(p.u.sr.octets, 1000000);
	CHECK_EQ(p.u.sr.block_count, 1);
	const struct braid_rtcp_report_block *b = &p.u.sr.blocks[0];
	CHECK_EQ_U64(b->ssrc, 0x55667788u);
	CHECK_EQ(b->fraction_lost, 64);
	CHECK_EQ(b->cumulative_lost, -2);
	CHECK_EQ(b->ext_highest_seq, 65541);
	CHECK_EQ(b->jitter, 32);
	CHECK_EQ_U64(b->lsr, 0xb7052000u);
	CHECK_EQ(b->dlsr, 0x54000);
	CHECK_EQ(p.u.sr.ext_len, 0);
	check_rewrite(SR_BYTES, sizeof(SR_BYTES), &p);
}

static void test_rr(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(RR_BYTES, sizeof(RR_BYTES), 0, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_RR);
	CHECK_EQ_U64(p.u.rr.ssrc, 0x0a0b0c0du);
	CHECK_EQ(p.u.rr.block_count, 2);
	CHECK_EQ(p.u.rr.blocks[0].cumulative_lost, 0x7fffff);
	CHECK_EQ(p.u.rr.blocks[0].ext_highest_seq, 16);
	CHECK_EQ(p.u.rr.blocks[1].fraction_lost, 255);
	CHECK_EQ(p.u.rr.blocks[1].cumulative_lost, -0x800000);
	CHECK_EQ_U64(p.u.rr.blocks[1].ext_highest_seq, 0xffffffffu);
	CHECK_EQ_U64(p.u.rr.blocks[1].jitter, 0x12345678u);
	CHECK_EQ_U64(p.u.rr.blocks[1].lsr, 0x9abcdef0u);
	CHECK_EQ(p.u.rr.blocks[1].dlsr, 1);
	check_rewrite(RR_BYTES, sizeof(RR_BYTES), &p);

	/* An RR with no blocks is the smallest valid compound. */
	const uint8_t empty[] = { 0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 9 };
	CHECK_EQ(read_one(empty, sizeof(empty), 0, &p), 1);
	CHECK_EQ(p.u.rr.block_count, 0);
	CHECK_EQ(p.u.rr.ssrc, 9);
}

static void test_profile_extension(void)
{
	/* An RR with one word after its (zero) blocks: kept as the profile extension. */
	const uint8_t rr[] = { 0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef };
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(rr, sizeof(rr), 0, &p), 1);
	CHECK_EQ(p.u.rr.ext_len, 4);
	CHECK(p.u.rr.ext == rr + 8);
	check_rewrite(rr, sizeof(rr), &p);
}

static void test_sdes(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(SDES_BYTES, sizeof(SDES_BYTES), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_SDES);
	CHECK_EQ(p.u.sdes.chunk_count, 2);
	CHECK_EQ(p.u.sdes.chunks[0].ssrc, 1);
	CHECK_EQ(p.u.sdes.chunks[0].items_len, 8);
	CHECK_EQ(p.u.sdes.chunks[1].ssrc, 2);
	CHECK_EQ(p.u.sdes.chunks[1].items_len, 7);
	struct braid_rtcp_sdes_item item;
	CHECK(braid_rtcp_sdes_find(&p.u.sdes.chunks[0], BRAID_SDES_CNAME, &item));
	CHECK_EQ(item.len, 6);
	CHECK(memcmp(item.text, "user@h", 6) == 0);
	CHECK(!braid_rtcp_sdes_find(&p.u.sdes.chunks[0], BRAID_SDES_NAME, &item));
	size_t off = 0;
	CHECK_EQ(braid_rtcp_sdes_next_item(&p.u.sdes.chunks[1], &off, &item), 1);
	CHECK_EQ(item.type, BRAID_SDES_NAME);
	CHECK(item.len == 2 && memcmp(item.text, "ab", 2) == 0);
	CHECK_EQ(braid_rtcp_sdes_next_item(&p.u.sdes.chunks[1], &off, &item), 1);
	CHECK_EQ(item.type, BRAID_SDES_CNAME);
	CHECK(item.len == 1 && item.text[0] == 'c');
	CHECK_EQ(braid_rtcp_sdes_next_item(&p.u.sdes.chunks[1], &off, &item), 0);
	check_rewrite(SDES_BYTES, sizeof(SDES_BYTES), &p);

	/* The CNAME helper writes the layout of the first chunk alone. */
	uint8_t out[64];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, out, sizeof(out));
	CHECK_EQ(braid_rtcp_write_cname(&w, 1, "user@h", 6), 20);
	const uint8_t want[] = { 0x81, 0xca, 0x00, 0x04, 0, 0, 0, 1, 1, 6, 'u', 's', 'e', 'r',
				 '@', 'h', 0, 0, 0, 0 };
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	CHECK_EQ(braid_rtcp_write_cname(&w, 1, "", 0), BRAID_ERR_INVAL);
}

static void test_bye(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(BYE_BYTES, sizeof(BYE_BYTES), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_BYE);
	CHECK_EQ(p.u.bye.ssrc_count, 2);
	CHECK_EQ(p.u.bye.ssrcs[0], 1);
	CHECK_EQ(p.u.bye.ssrcs[1], 2);
	CHECK(p.u.bye.has_reason);
	CHECK_EQ(p.u.bye.reason_len, 4);
	CHECK(memcmp(p.u.bye.reason, "gone", 4) == 0);
	check_rewrite(BYE_BYTES, sizeof(BYE_BYTES), &p);

	const uint8_t plain[] = { 0x81, 0xcb, 0x00, 0x01, 0, 0, 0, 7 };
	CHECK_EQ(read_one(plain, sizeof(plain), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK(!p.u.bye.has_reason);
	check_rewrite(plain, sizeof(plain), &p);
	/* A reason of length 0 is one octet and three of padding. */
	const uint8_t empty_reason[] = { 0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 7, 0, 0, 0, 0 };
	CHECK_EQ(read_one(empty_reason, sizeof(empty_reason), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK(p.u.bye.has_reason);
	CHECK_EQ(p.u.bye.reason_len, 0);
	check_rewrite(empty_reason, sizeof(empty_reason), &p);
}

static void test_app(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(APP_BYTES, sizeof(APP_BYTES), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_APP);
	CHECK_EQ(p.u.app.subtype, 5);
	CHECK_EQ_U64(p.u.app.ssrc, 0xfedcba98u);
	CHECK(memcmp(p.u.app.name, "brd1", 4) == 0);
	CHECK_EQ(p.u.app.data_len, 8);
	CHECK(p.u.app.data == APP_BYTES + 12);
	check_rewrite(APP_BYTES, sizeof(APP_BYTES), &p);
}

static void test_nack(void)
{
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(NACK_BYTES, sizeof(NACK_BYTES), BRAID_RTCP_REDUCED_SIZE, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_NACK);
	CHECK_EQ(p.u.nack.sender_ssrc, 10);
	CHECK_EQ(p.u.nack.media_ssrc, 11);
	CHECK_EQ(p.u.nack.pair_count, 2);
	struct braid_rtcp_nack_pair a = braid_rtcp_nack_pair_at(&p.u.nack, 0);
	struct braid_rtcp_nack_pair b = braid_rtcp_nack_pair_at(&p.u.nack, 1);
	CHECK_EQ(a.pid, 100);
	CHECK_EQ(a.blp, 0x8001);
	CHECK_EQ(b.pid, 0xffff);
	CHECK_EQ(b.blp, 0);
	uint16_t seqs[17];
	CHECK_EQ(braid_rtcp_nack_pair_seqs(a, seqs), 3);
	CHECK(seqs[0] == 100 && seqs[1] == 101 && seqs[2] == 116);
	check_rewrite(NACK_BYTES, sizeof(NACK_BYTES), &p);

	/* The same packet written from pairs. */
	const struct braid_rtcp_nack_pair pairs[] = { { 100, 0x8001 }, { 0xffff, 0 } };
	struct braid_rtcp_packet q;
	memset(&q, 0, sizeof(q));
	q.kind = BRAID_RTCP_KIND_NACK;
	q.u.nack.sender_ssrc = 10;
	q.u.nack.media_ssrc = 11;
	q.u.nack.pair_count = 2;
	q.u.nack.pairs = pairs;
	check_rewrite(NACK_BYTES, sizeof(NACK_BYTES), &q);
}

static void test_nack_pack(void)
{
	const uint16_t lost[] = { 1, 2, 3, 17, 18, 40, 40, 65535, 0, 5 };
	struct braid_rtcp_nack_pair pairs[8];
	/* 1 with 2, 3, 17 (bits 0, 1, 15); 18 alone; 40 (listed twice); 65535 with 0 and 5. */
	CHECK_EQ(braid_rtcp_nack_pack(lost, 10, pairs, 8), 4);
	CHECK(pairs[0].pid == 1 && pairs[0].blp == 0x8003);
	CHECK(pairs[1].pid == 18 && pairs[1].blp == 0);
	CHECK(pairs[2].pid == 40 && pairs[2].blp == 0);
	CHECK(pairs[3].pid == 65535 && pairs[3].blp == ((1 << 0) | (1 << 5)));
	struct braid_rtcp_nack_pair few[2] = { { 7, 7 }, { 7, 7 } };
	CHECK_EQ(braid_rtcp_nack_pack(lost, 10, few, 1), 4);
	CHECK(few[0].pid == 1 && few[0].blp == 0x8003);
	CHECK(few[1].pid == 7); /* beyond cap: untouched */
	CHECK_EQ(braid_rtcp_nack_pack(lost, 0, pairs, 8), 0);
	uint16_t seqs[17];
	struct braid_rtcp_nack_pair all = { 65530, 0xffff };
	CHECK_EQ(braid_rtcp_nack_pair_seqs(all, seqs), 17);
	CHECK_EQ(seqs[16], 10); /* 65530 + 16, wrapped */
}

static size_t concat(uint8_t *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	memcpy(out, a, alen);
	if (blen)
		memcpy(out + alen, b, blen);
	return alen + blen;
}

static void test_compound(void)
{
	uint8_t buf[256];
	size_t len = concat(buf, SR_BYTES, sizeof(SR_BYTES), SDES_BYTES, sizeof(SDES_BYTES));
	len += concat(buf + len, BYE_BYTES, sizeof(BYE_BYTES), NACK_BYTES, sizeof(NACK_BYTES));
	len += concat(buf + len, APP_BYTES, sizeof(APP_BYTES), NULL, 0);
	CHECK_EQ(braid_rtcp_check(buf, len, 0), 5);

	static const enum braid_rtcp_kind kinds[] = {
		BRAID_RTCP_KIND_SR, BRAID_RTCP_KIND_SDES, BRAID_RTCP_KIND_BYE,
		BRAID_RTCP_KIND_NACK, BRAID_RTCP_KIND_APP,
	};
	static const size_t sizes[] = { sizeof(SR_BYTES), sizeof(SDES_BYTES), sizeof(BYE_BYTES),
					sizeof(NACK_BYTES), sizeof(APP_BYTES) };
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	CHECK_EQ(braid_rtcp_reader_init(&r, buf, len, 0), 0);
	size_t off = 0;
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(braid_rtcp_read(&r, &p), 1);
		CHECK_EQ(p.kind, kinds[i]);
		CHECK_EQ(p.offset, off);
		CHECK_EQ(p.len, sizes[i]);
		off += sizes[i];
	}
	CHECK_EQ(braid_rtcp_read(&r, &p), 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 0);

	/* Every cut: at a packet boundary the rest is a valid compound, elsewhere an error. */
	for (size_t cut = 0; cut < len; cut++) {
		int rc = braid_rtcp_check(buf, cut, 0);
		bool boundary = false;
		for (size_t i = 0, at = 0; i < 5; i++) {
			at += sizes[i];
			boundary |= cut == at;
		}
		if (boundary)
			CHECK(rc > 0);
		else
			CHECK(rc == BRAID_ERR_TRUNCATED || rc == BRAID_ERR_MALFORMED);
	}
}

static void test_first_packet_rule(void)
{
	/* RFC 3550 A.2: a compound starts with SR or RR; RFC 5506 lifts that when asked. */
	CHECK_EQ(braid_rtcp_check(SDES_BYTES, sizeof(SDES_BYTES), 0), BRAID_ERR_MALFORMED);
	CHECK_EQ(braid_rtcp_check(NACK_BYTES, sizeof(NACK_BYTES), 0), BRAID_ERR_MALFORMED);
	CHECK_EQ(braid_rtcp_check(NACK_BYTES, sizeof(NACK_BYTES), BRAID_RTCP_REDUCED_SIZE), 1);
	CHECK_EQ(braid_rtcp_check(RR_BYTES, sizeof(RR_BYTES), 0), 1);
}

static void test_header_errors(void)
{
	uint8_t buf[64];
	CHECK_EQ(braid_rtcp_check(NULL, 0, 0), BRAID_ERR_TRUNCATED);
	CHECK_EQ(braid_rtcp_check(RR_BYTES, 0, 0), BRAID_ERR_TRUNCATED);
	CHECK_EQ(braid_rtcp_check(RR_BYTES, 6, 0), BRAID_ERR_MALFORMED); /* not 4-aligned */
	memcpy(buf, RR_BYTES, 8);
	buf[0] = 0x40; /* version 1 */
	CHECK_EQ(braid_rtcp_check(buf, 8, 0), BRAID_ERR_VERSION);
	memcpy(buf, RR_BYTES, 8);
	buf[3] = 0x05; /* length beyond the datagram */
	CHECK_EQ(braid_rtcp_check(buf, 8, 0), BRAID_ERR_TRUNCATED);
	memcpy(buf, RR_BYTES, 8);
	buf[1] = 96; /* an RTP payload type, not RTCP */
	CHECK_EQ(braid_rtcp_check(buf, 8, BRAID_RTCP_REDUCED_SIZE), BRAID_ERR_TYPE);
	/* RC=3 with room for two blocks. */
	memcpy(buf, RR_BYTES, sizeof(RR_BYTES));
	buf[0] = 0x83;
	CHECK_EQ(braid_rtcp_check(buf, sizeof(RR_BYTES), 0), BRAID_ERR_MALFORMED);
	/* An SR too short for its sender information. */
	const uint8_t short_sr[] = { 0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1 };
	CHECK_EQ(braid_rtcp_check(short_sr, sizeof(short_sr), 0), BRAID_ERR_MALFORMED);

	/* Errors stick. */
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	memcpy(buf, RR_BYTES, 8);
	buf[0] = 0x40;
	braid_rtcp_reader_init(&r, buf, 8, 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), BRAID_ERR_VERSION);
	CHECK_EQ(braid_rtcp_read(&r, &p), BRAID_ERR_VERSION);
}

static void test_padding(void)
{
	uint8_t buf[128];
	const uint8_t rr[] = { 0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 4 };
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(rr, sizeof(rr), 0, &p), 1);
	CHECK_EQ(p.padding_len, 4);
	CHECK_EQ(p.u.rr.ext_len, 0); /* the padding is not extension */
	check_rewrite(rr, sizeof(rr), &p);

	static const struct {
		uint8_t count;
		int rc;
	} cases[] = { { 0, BRAID_ERR_MALFORMED }, { 3, BRAID_ERR_MALFORMED },
		      { 8, BRAID_ERR_MALFORMED }, { 4, 1 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, rr, sizeof(rr));
		buf[11] = cases[i].count;
		CHECK_EQ(braid_rtcp_check(buf, sizeof(rr), 0), cases[i].rc);
	}
	/* Padding eating the reporter SSRC leaves the RR too short. */
	const uint8_t eaten[] = { 0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 4 };
	CHECK_EQ(braid_rtcp_check(eaten, sizeof(eaten), 0), BRAID_ERR_MALFORMED);
	/* Padding only on the last packet of a compound. */
	size_t len = concat(buf, rr, sizeof(rr), BYE_BYTES, sizeof(BYE_BYTES));
	CHECK_EQ(braid_rtcp_check(buf, len, 0), BRAID_ERR_MALFORMED);
	len = concat(buf, BYE_BYTES, sizeof(BYE_BYTES), rr, sizeof(rr));
	CHECK_EQ(braid_rtcp_check(buf, len, BRAID_RTCP_REDUCED_SIZE), 2);
}

static void test_sdes_errors(void)
{
	uint8_t buf[64];
	/* No null octet after the items: the item fills the chunk. */
	const uint8_t no_end[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 2, 'a', 'b' };
	CHECK_EQ(braid_rtcp_check(no_end, sizeof(no_end), 1), BRAID_ERR_MALFORMED);
	/* An item longer than the chunk. */
	const uint8_t long_item[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 9, 'a', 0 };
	CHECK_EQ(braid_rtcp_check(long_item, sizeof(long_item), 1), BRAID_ERR_MALFORMED);
	/* Terminated by one null octet or more up to the word's end: all must be zero. */
	const uint8_t ok[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 0, 0, 0 };
	CHECK_EQ(braid_rtcp_check(ok, sizeof(ok), 1), 1);
	const uint8_t dirty[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 0, 0, 7 };
	CHECK_EQ(braid_rtcp_check(dirty, sizeof(dirty), 1), BRAID_ERR_MALFORMED);
	/* A spare zero word after the last chunk is not padding but garbage. */
	const uint8_t spare[] = { 0x81, 0xca, 0x00, 0x03, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
	CHECK_EQ(braid_rtcp_check(spare, sizeof(spare), 1), BRAID_ERR_MALFORMED);
	/* SC=2 with one chunk; and one chunk with a spare word after it. */
	memcpy(buf, SDES_BYTES, sizeof(SDES_BYTES));
	buf[0] = 0x83;
	CHECK_EQ(braid_rtcp_check(buf, sizeof(SDES_BYTES), 1), BRAID_ERR_MALFORMED);
	buf[0] = 0x81;
	CHECK_EQ(braid_rtcp_check(buf, sizeof(SDES_BYTES), 1), BRAID_ERR_MALFORMED);
	/* A chunk without room for its SSRC. */
	const uint8_t no_ssrc[] = { 0x81, 0xca, 0x00, 0x00 };
	CHECK_EQ(braid_rtcp_check(no_ssrc, sizeof(no_ssrc), 1), BRAID_ERR_MALFORMED);
	/* SC=0 is valid, if useless. */
	const uint8_t none[] = { 0x80, 0xca, 0x00, 0x00 };
	CHECK_EQ(braid_rtcp_check(none, sizeof(none), 1), 1);
}

static void test_bye_app_fb_errors(void)
{
	/* Reason longer than the packet; non-zero padding after the reason. */
	const uint8_t long_reason[] = { 0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 7, 9, 'a', 'b', 'c' };
	CHECK_EQ(braid_rtcp_check(long_reason, sizeof(long_reason), 1), BRAID_ERR_MALFORMED);
	const uint8_t dirty[] = { 0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 7, 1, 'a', 0, 1 };
	CHECK_EQ(braid_rtcp_check(dirty, sizeof(dirty), 1), BRAID_ERR_MALFORMED);
	const uint8_t too_few[] = { 0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 7 };
	CHECK_EQ(braid_rtcp_check(too_few, sizeof(too_few), 1), BRAID_ERR_MALFORMED);
	/* APP: a name that is not ASCII; no room for the name. */
	uint8_t app[sizeof(APP_BYTES)];
	memcpy(app, APP_BYTES, sizeof(app));
	app[9] = 0x80;
	CHECK_EQ(braid_rtcp_check(app, sizeof(app), 1), BRAID_ERR_MALFORMED);
	const uint8_t short_app[] = { 0x80, 0xcc, 0x00, 0x01, 0, 0, 0, 1 };
	CHECK_EQ(braid_rtcp_check(short_app, sizeof(short_app), 1), BRAID_ERR_MALFORMED);
	/* A NACK without FCI; a PLI (PSFB FMT 1) is another kind; feedback shorter than its
	 * two SSRCs is refused. */
	const uint8_t nack_empty[] = { 0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2 };
	CHECK_EQ(braid_rtcp_check(nack_empty, sizeof(nack_empty), 1), BRAID_ERR_MALFORMED);
	const uint8_t pli[] = { 0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2 };
	struct braid_rtcp_packet p;
	CHECK_EQ(read_one(pli, sizeof(pli), 1, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_OTHER);
	CHECK_EQ(p.type, 206);
	CHECK_EQ(p.count, 1);
	CHECK_EQ(p.u.other.body_len, 8);
	check_rewrite(pli, sizeof(pli), &p);
	const uint8_t short_fb[] = { 0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1 };
	CHECK_EQ(braid_rtcp_check(short_fb, sizeof(short_fb), 1), BRAID_ERR_MALFORMED);
	/* An XR (207) passes as another kind. */
	const uint8_t xr[] = { 0x80, 0xcf, 0x00, 0x01, 0, 0, 0, 1 };
	CHECK_EQ(read_one(xr, sizeof(xr), 1, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_OTHER);
}

static struct braid_rtcp_packet rr_with_block(int32_t lost)
{
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_RR;
	p.u.rr.block_count = 1;
	p.u.rr.blocks[0].cumulative_lost = lost;
	return p;
}

static void test_writer_refuses(void)
{
	uint8_t buf[2048];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	struct braid_rtcp_packet p = rr_with_block(0x800000);
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p = rr_with_block(-0x800001);
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p = rr_with_block(-0x800000);
	CHECK_EQ(braid_rtcp_write(&w, &p), 32);
	CHECK(buf[13] == 0x80 && buf[14] == 0 && buf[15] == 0);
	p.u.rr.block_count = 32;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p = rr_with_block(0);
	p.u.rr.ext_len = 3;
	p.u.rr.ext = buf;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p = rr_with_block(0);
	p.padding_len = 3;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);

	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_APP;
	memcpy(p.u.app.name, "ab\x7f" "c", 4);
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	memcpy(p.u.app.name, "abcd", 4);
	p.u.app.subtype = 32;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);

	const uint8_t bad_items[] = { 0, 1, 'x' };
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_SDES;
	p.u.sdes.chunk_count = 1;
	p.u.sdes.chunks[0].items = bad_items;
	p.u.sdes.chunks[0].items_len = 3;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p.u.sdes.chunks[0].items = bad_items + 1; /* type 1, length 'x' = 120: too long */
	p.u.sdes.chunks[0].items_len = 2;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);

	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_NACK;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL); /* no pairs */
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_OTHER;
	p.type = BRAID_RTCP_SR;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p.type = BRAID_RTCP_RTPFB;
	p.count = BRAID_RTCP_FMT_NACK;
	p.u.other.body = buf;
	p.u.other.body_len = 12;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	p.type = 100;
	p.count = 0;
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_INVAL);
	CHECK_EQ(w.len, 32); /* only the one good packet */

	/* Too big: nothing written. */
	braid_rtcp_writer_init(&w, buf, 31);
	p = rr_with_block(0);
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_TOO_BIG);
	CHECK_EQ(w.len, 0);
	braid_rtcp_writer_init(&w, NULL, 100);
	CHECK_EQ(braid_rtcp_write(&w, &p), BRAID_ERR_TOO_BIG);
}

static void test_time(void)
{
	/* floor(us * 2^32 / 10^6), worked out by hand: 2^32 / 10^6 = 4294.967296. */
	CHECK_EQ_U64(braid_ntp_from_us(0), 0);
	CHECK_EQ_U64(braid_ntp_from_us(1), 4294);
	CHECK_EQ_U64(braid_ntp_from_us(500000), 0x80000000u);
	CHECK_EQ_U64(braid_ntp_from_us(1500000), 0x180000000u);
	CHECK_EQ_U64(braid_ntp_from_us(999999), 4294963001u);
	CHECK_EQ_U64(braid_ntp_from_us(3600000000u), (uint64_t)3600 << 32);
	CHECK_EQ_U64(braid_ntp_add_us(0xfffffffff0000000u, 1000000), 0xf0000000u);
	CHECK_EQ_U64(braid_ntp_middle(0x0123456789abcdefu), 0x456789abu);
	/* RFC 3550 6.4.1: SR at 0xb44db705.20000000 gives LSR 0xb7052000. */
	CHECK_EQ_U64(braid_ntp_middle(0xb44db70520000000u), 0xb7052000u);
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(5250000), 0x00054000u); /* 5.25 s */
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(20000), 1310);          /* 1310.72 */
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(1), 0);
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(16), 1);                /* 1.048576 */
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(65535999999u), 0xffffffffu);
	CHECK_EQ_U64(braid_rtcp_dlsr_from_us(65536000000u), 0xffffffffu);
}

int main(void)
{
	RUN_TEST(test_sr);
	RUN_TEST(test_rr);
	RUN_TEST(test_profile_extension);
	RUN_TEST(test_sdes);
	RUN_TEST(test_bye);
	RUN_TEST(test_app);
	RUN_TEST(test_nack);
	RUN_TEST(test_nack_pack);
	RUN_TEST(test_compound);
	RUN_TEST(test_first_packet_rule);
	RUN_TEST(test_header_errors);
	RUN_TEST(test_padding);
	RUN_TEST(test_sdes_errors);
	RUN_TEST(test_bye_app_fb_errors);
	RUN_TEST(test_writer_refuses);
	RUN_TEST(test_time);
	return braid_test_finish();
}
