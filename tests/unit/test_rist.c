/* The RIST Simple Profile core (src/rist): RIST's APP packets written out by hand from
 * TR-06-1's layout (range NACK records, RTT echo), both NACK kinds read and written; the
 * receiver merging two paths, dropping duplicates, reordering, asking for gaps (generic
 * to a plain RTP peer, range to one that speaks RIST's RTCP), taking resends, giving up
 * at the buffer's end, answering echoes, refusing malformed datagrams; the sender's
 * resend buffer answering both kinds. */
#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtp.h"
#include "harness.h"
#include "rist/app.h"
#include "rist/rx.h"
#include "rist/tx.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000u
#define FLOW 0x12345670u

/* A range NACK from SSRC 0x01020304: 65534 and 3 more (across the wrap), then 7 alone. */
static const uint8_t RANGE_NACK[] = {
	0x80, 0xcc, 0x00, 0x04,  /* V=2 subtype 0, APP, length 4 */
	0x01, 0x02, 0x03, 0x04,  /* SSRC */
	'R', 'I', 'S', 'T',
	0xff, 0xfe, 0x00, 0x03,  /* start 65534, 3 more */
	0x00, 0x07, 0x00, 0x00,  /* start 7, none more */
};

/* An echo request: timestamp 0x0102030405060708, delay 0. */
static const uint8_t ECHO_REQUEST[] = {
	0x82, 0xcc, 0x00, 0x05, 0xaa, 0xbb, 0xcc, 0xdd, 'R', 'I', 'S', 'T',
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00,
};

static int read_one(const uint8_t *buf, size_t len, struct braid_rtcp_packet *p)
{
	struct braid_rtcp_reader r;
	braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE);
	return braid_rtcp_read(&r, p);
}

static void test_range_nack_read(void)
{
	struct braid_rtcp_packet p;
	uint16_t seqs[16];
	uint32_t media = 0;
	CHECK_EQ(read_one(RANGE_NACK, sizeof(RANGE_NACK), &p), 1);
	CHECK_EQ(braid_rist_nack_seqs(&p, &media, seqs, 16), 5);
	CHECK_EQ_U64(media, 0x01020304u);
	CHECK_EQ(seqs[0], 65534);
	CHECK_EQ(seqs[1], 65535);
	CHECK_EQ(seqs[2], 0);
	CHECK_EQ(seqs[3], 1);
	CHECK_EQ(seqs[4], 7);
	/* a record asking for 65536 numbers is cut at the caller's cap */
	uint8_t hostile[sizeof(RANGE_NACK)];
	memcpy(hostile, RANGE_NACK, sizeof(hostile));
	hostile[14] = hostile[15] = 0xff;
	CHECK_EQ(read_one(hostile, sizeof(hostile), &p), 1);
	CHECK_EQ(braid_rist_nack_seqs(&p, &media, seqs, 16), 16);
	/* another name is not RIST's */
	memcpy(hostile, RANGE_NACK, sizeof(hostile));
	hostile[8] = 'X';
	CHECK_EQ(read_one(hostile, sizeof(hostile), &p), 1);
	CHECK_EQ(braid_rist_nack_seqs(&p, &media, seqs, 16), -1);
	CHECK(!braid_rist_app_is_rist(&p.u.app));
}

static void test_range_nack_write(void)
{
	const uint16_t lost[] = { 65534, 65535, 0, 1, 7 };
	uint8_t buf[64];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	CHECK_EQ(braid_rist_write_range_nack(&w, 0x01020304u, lost, 5), (int)sizeof(RANGE_NACK));
	CHECK(memcmp(buf, RANGE_NACK, sizeof(RANGE_NACK)) == 0);
	CHECK_EQ(braid_rist_write_range_nack(&w, 1, lost, 0), BRAID_ERR_INVAL);
}

static void test_generic_nack(void)
{
	const uint16_t lost[] = { 10, 12, 30 };
	uint8_t buf[64];
	struct braid_rtcp_writer w;
	struct braid_rtcp_packet p;
	uint16_t seqs[8];
	uint32_t media = 0;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	int n = braid_rist_write_generic_nack(&w, 0xaau, 0xbbu, lost, 3);
	CHECK_EQ(n, 20); /* header, two SSRCs, two pairs: (10, bit 1) and (30, 0) */
	CHECK_EQ(buf[1], 205);
	CHECK_EQ(buf[0] & 0x1f, 1);
	CHECK_EQ(read_one(buf, (size_t)n, &p), 1);
	CHECK_EQ(braid_rist_nack_seqs(&p, &media, seqs, 8), 3);
	CHECK_EQ_U64(media, 0xbbu);
	CHECK(seqs[0] == 10 && seqs[1] == 12 && seqs[2] == 30);
}

static void test_echo(void)
{
	struct braid_rtcp_packet p;
	struct braid_rist_echo e;
	uint8_t subtype = 9;
	CHECK_EQ(read_one(ECHO_REQUEST, sizeof(ECHO_REQUEST), &p), 1);
	CHECK(braid_rist_echo_parse(&p, &subtype, &e));
	CHECK_EQ(subtype, BRAID_RIST_APP_ECHO_REQUEST);
	CHECK_EQ_U64(e.timestamp, 0x0102030405060708ull);
	CHECK_EQ_U64(e.ssrc, 0xaabbccddu);
	uint8_t buf[64];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	CHECK_EQ(braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_REQUEST, &e),
		 (int)sizeof(ECHO_REQUEST));
	CHECK(memcmp(buf, ECHO_REQUEST, sizeof(ECHO_REQUEST)) == 0);
	/* a range NACK is no echo, and an echo of another size is refused */
	CHECK_EQ(read_one(RANGE_NACK, sizeof(RANGE_NACK), &p), 1);
	CHECK(!braid_rist_echo_parse(&p, &subtype, &e));
	uint8_t odd[sizeof(ECHO_REQUEST) + 4] = { 0 };
	memcpy(odd, ECHO_REQUEST, sizeof(ECHO_REQUEST));
	odd[3] = 6;
	CHECK_EQ(read_one(odd, sizeof(odd), &p), 1);
	CHECK(!braid_rist_echo_parse(&p, &subtype, &e));
}

/* ---- the receiver ------------------------------------------------------------------ */

static struct braid_addr addr_of(uint16_t port)
{
	struct braid_addr a;
	memset(&a, 0, sizeof(a));
	a.u.in4.sin_family = AF_INET;
	a.u.in4.sin_port = htons(port);
	a.u.in4.sin_addr.s_addr = htonl(0x7f000001);
	a.len = sizeof(a.u.in4);
	return a;
}

static size_t rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
	uint8_t payload[4] = { (uint8_t)(seq >> 8), (uint8_t)seq, 0x47, 0x11 };
	struct braid_rtp_header h;
	memset(&h, 0, sizeof(h));
	h.payload_type = 33;
	h.seq = seq;
	h.ssrc = ssrc;
	h.payload = payload;
	h.payload_len = sizeof(payload);
	return (size_t)braid_rtp_build(&h, buf, 64);
}

static void send_rtp(struct braid_rist_rx *rx, uint16_t port, uint16_t seq, uint32_t ssrc,
		     uint64_t now)
{
	uint8_t buf[64];
	struct braid_addr from = addr_of(port);
	braid_rist_rx_handle_rtp(rx, &from, buf, rtp(buf, seq, ssrc), now);
}

/* The sequence numbers released by now, in order, into out; returns how many. */
static size_t released(struct braid_rist_rx *rx, uint64_t now, uint16_t *out, size_t cap)
{
	uint8_t buf[64];
	size_t len, n = 0;
	while (n < cap && braid_rist_rx_poll_output(rx, now, buf, sizeof(buf), &len) == 1) {
		CHECK_EQ(len, 4);
		out[n++] = (uint16_t)(buf[0] << 8 | buf[1]);
	}
	return n;
}

static struct braid_rist_rx *new_rx(void)
{
	struct braid_rist_rx_config cfg;
	braid_rist_rx_config_default(&cfg);
	cfg.ssrc = 0x5eed;
	cfg.buffer_us = 500 * MS;
	return braid_rist_rx_new(&cfg, 0);
}

static void test_merge_two_paths(void)
{
	struct braid_rist_rx *rx = new_rx();
	uint16_t out[32];
	for (uint16_t s = 100; s < 110; s++) {
		send_rtp(rx, 5000, s, FLOW, 1000 + s * MS);
		send_rtp(rx, 6000, s, FLOW, 1000 + s * MS + 300);
	}
	/* held for the reorder wait at the start, then all of it in order */
	CHECK_EQ(released(rx, 1000 + 100 * MS, out, 32), 0);
	size_t n = released(rx, 200 * MS, out, 32);
	CHECK_EQ(n, 10);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(out[i], 100 + i);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.duplicates, 10);
	CHECK_EQ(st.out, 10);
	CHECK_EQ_U64(st.ssrc, FLOW);
	struct braid_rist_path_stats paths[4];
	CHECK_EQ(braid_rist_rx_paths(rx, paths, 4), 2);
	CHECK_EQ(paths[0].packets, 10);
	CHECK_EQ(paths[0].duplicates, 0);
	CHECK_EQ(paths[1].duplicates, 10);
	/* a copy after release is a duplicate too, never output again */
	send_rtp(rx, 6000, 105, FLOW, 201 * MS);
	CHECK_EQ(released(rx, 202 * MS, out, 32), 0);
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.duplicates, 11);
	braid_rist_rx_free(rx);
}

static void test_start_reaches_back(void)
{
	struct braid_rist_rx *rx = new_rx();
	uint16_t out[8];
	send_rtp(rx, 6000, 11, FLOW, 0);
	send_rtp(rx, 5000, 10, FLOW, 5 * MS); /* the first, over a slower path */
	send_rtp(rx, 5000, 12, FLOW, 6 * MS);
	CHECK_EQ(released(rx, 40 * MS, out, 8), 3);
	CHECK(out[0] == 10 && out[1] == 11 && out[2] == 12);
	braid_rist_rx_free(rx);
}

static void test_reorder_without_nack(void)
{
	struct braid_rist_rx *rx = new_rx();
	uint16_t out[8];
	send_rtp(rx, 5000, 1, FLOW, 0);
	CHECK_EQ(released(rx, 30 * MS, out, 8), 1);
	send_rtp(rx, 5000, 3, FLOW, 31 * MS);
	CHECK_EQ(released(rx, 31 * MS, out, 8), 0); /* 2 is waited for */
	braid_rist_rx_handle_timeout(rx, 40 * MS);
	send_rtp(rx, 6000, 2, FLOW, 45 * MS);
	braid_rist_rx_handle_timeout(rx, 60 * MS);
	CHECK_EQ(released(rx, 45 * MS, out, 8), 2);
	CHECK(out[0] == 2 && out[1] == 3);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.reordered, 1);
	CHECK_EQ(st.requested, 0); /* it came within the reorder wait: never asked for */
	CHECK_EQ(st.lost, 0);
	braid_rist_rx_free(rx);
}

static void peer_sr(struct braid_rist_rx *rx, uint16_t port, uint64_t now, bool rist)
{
	uint8_t buf[128];
	struct braid_rtcp_writer w;
	struct braid_rtcp_packet sr;
	memset(&sr, 0, sizeof(sr));
	sr.kind = BRAID_RTCP_KIND_SR;
	sr.u.sr.ssrc = FLOW;
	sr.u.sr.ntp = 0x1111222233334444ull;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	braid_rtcp_write(&w, &sr);
	braid_rtcp_write_cname(&w, FLOW, "cam", 3);
	if (rist) {
		struct braid_rist_echo e = { .ssrc = FLOW, .timestamp = 77 };
		braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_REQUEST, &e);
	}
	struct braid_addr from = addr_of(port);
	braid_rist_rx_handle_rtcp(rx, &from, buf, w.len, now);
}

/* What the receiver sends, datagram by datagram: to, and which kinds it holds. */
struct sent {
	struct braid_addr to;
	bool rr, sdes, generic, range, echo_request, echo_response;
	uint16_t seqs[16];
	int seq_count;
	uint32_t lsr;
	uint64_t echo_ts;
};

static bool next_sent(struct braid_rist_rx *rx, struct sent *s)
{
	static uint8_t buf[2048];
	size_t len;
	memset(s, 0, sizeof(*s));
	if (braid_rist_rx_poll_rtcp(rx, &s->to, buf, sizeof(buf), &len) != 1)
		return false;
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	CHECK_EQ(braid_rtcp_reader_init(&r, buf, len, 0), 0);
	CHECK(braid_rtcp_check(buf, len, 0) > 0); /* a strict compound: an RR first */
	while (braid_rtcp_read(&r, &p) == 1) {
		uint32_t media;
		uint8_t subtype;
		struct braid_rist_echo e;
		if (p.kind == BRAID_RTCP_KIND_RR) {
			s->rr = true;
			if (p.u.rr.block_count)
				s->lsr = p.u.rr.blocks[0].lsr;
		}
		s->sdes |= p.kind == BRAID_RTCP_KIND_SDES;
		int n = braid_rist_nack_seqs(&p, &media, s->seqs, 16);
		if (n >= 0) {
			s->seq_count = n;
			s->generic = p.kind == BRAID_RTCP_KIND_NACK;
			s->range = p.kind == BRAID_RTCP_KIND_APP;
			CHECK_EQ_U64(media, FLOW);
		}
		if (braid_rist_echo_parse(&p, &subtype, &e)) {
			s->echo_request |= subtype == BRAID_RIST_APP_ECHO_REQUEST;
			s->echo_response |= subtype == BRAID_RIST_APP_ECHO_RESPONSE;
			s->echo_ts = e.timestamp;
		}
	}
	return true;
}

static void test_nack_generic_then_range(void)
{
	struct braid_rist_rx *rx = new_rx();
	struct sent s;
	uint16_t out[8];
	peer_sr(rx, 5001, 0, false);
	/* a new peer is answered at once: RR (with its SR's LSR) and a CNAME */
	CHECK(next_sent(rx, &s));
	CHECK(s.rr && s.sdes && !s.echo_request);
	CHECK_EQ(ntohs(s.to.u.in4.sin_port), 5001);
	CHECK(!next_sent(rx, &s));
	send_rtp(rx, 5000, 1, FLOW, 1 * MS);
	send_rtp(rx, 5000, 4, FLOW, 2 * MS); /* 2 and 3 missing */
	braid_rist_rx_handle_timeout(rx, 10 * MS);
	CHECK(!next_sent(rx, &s)); /* within the reorder wait: nothing yet */
	braid_rist_rx_handle_timeout(rx, 23 * MS);
	CHECK(next_sent(rx, &s));
	CHECK(s.generic && s.seq_count == 2 && s.seqs[0] == 2 && s.seqs[1] == 3);
	CHECK_EQ_U64(s.lsr, 0x22223333u);
	/* the peer now speaks RIST's RTCP: its echo is answered, and NACKs become ranges */
	peer_sr(rx, 5001, 30 * MS, true);
	while (next_sent(rx, &s) && !s.echo_response)
		;
	CHECK(s.echo_response && s.echo_ts == 77);
	braid_rist_rx_handle_timeout(rx, 70 * MS); /* a retry, one RTT (40 ms default) on */
	bool range = false;
	while (next_sent(rx, &s))
		range |= s.range && s.seq_count == 2;
	CHECK(range);
	/* the resends arrive, marked by the SSRC's low bit */
	send_rtp(rx, 5000, 2, FLOW | 1, 80 * MS);
	send_rtp(rx, 5000, 3, FLOW | 1, 81 * MS);
	CHECK_EQ(released(rx, 82 * MS, out, 8), 4);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.retransmitted, 2);
	CHECK_EQ(st.recovered, 2);
	CHECK_EQ(st.requested, 4);
	CHECK_EQ(st.nacks, 2);
	CHECK_EQ(st.lost, 0);
	braid_rist_rx_free(rx);
}

static void test_forced_kind(void)
{
	struct braid_rist_rx_config cfg;
	braid_rist_rx_config_default(&cfg);
	cfg.nack = BRAID_RIST_NACK_RANGE;
	struct braid_rist_rx *rx = braid_rist_rx_new(&cfg, 0);
	struct sent s;
	peer_sr(rx, 5001, 0, false);
	while (next_sent(rx, &s))
		;
	send_rtp(rx, 5000, 1, FLOW, 1 * MS);
	send_rtp(rx, 5000, 3, FLOW, 2 * MS);
	braid_rist_rx_handle_timeout(rx, 30 * MS);
	CHECK(next_sent(rx, &s));
	CHECK(s.range && !s.generic && s.seq_count == 1 && s.seqs[0] == 2);
	braid_rist_rx_free(rx);
}

/* One datagram from a (maybe forged) address earns it four keep-alives, not a stream. */
static void test_keepalive_credit(void)
{
	struct braid_rist_rx *rx = new_rx();
	struct sent s;
	int sent = 0;
	peer_sr(rx, 5001, 0, false);
	for (uint64_t t = 0; t <= 3000 * MS; t += 10 * MS) {
		if (braid_rist_rx_next_timeout(rx) <= t)
			braid_rist_rx_handle_timeout(rx, t);
		while (next_sent(rx, &s))
			sent++;
	}
	CHECK_EQ(sent, 4);
	CHECK(braid_rist_rx_next_timeout(rx) == UINT64_MAX); /* nothing more to wake for */
	peer_sr(rx, 5001, 3000 * MS, false); /* it talks again: answered again, at once */
	CHECK(braid_rist_rx_next_timeout(rx) <= 3000 * MS);
	braid_rist_rx_handle_timeout(rx, 3000 * MS);
	CHECK(next_sent(rx, &s));
	struct braid_rist_peer_stats peers[2];
	CHECK_EQ(braid_rist_rx_peers(rx, peers, 2), 1);
	CHECK_EQ(peers[0].rtcp_in, 2);
	CHECK_EQ(peers[0].rtcp_out, 5);
	CHECK(!peers[0].gets_range);
	braid_rist_rx_free(rx);
}

static void test_give_up(void)
{
	struct braid_rist_rx *rx = new_rx();
	uint16_t out[8];
	send_rtp(rx, 5000, 1, FLOW, 0);
	send_rtp(rx, 5000, 3, FLOW, 1 * MS);
	CHECK_EQ(released(rx, 30 * MS, out, 8), 1);
	CHECK_EQ(released(rx, 400 * MS, out, 8), 0);  /* still waited for */
	CHECK_EQ(released(rx, 502 * MS, out, 8), 1);  /* 500 ms after it went missing */
	CHECK_EQ(out[0], 3);
	send_rtp(rx, 5000, 2, FLOW | 1, 503 * MS);    /* too late */
	CHECK_EQ(released(rx, 504 * MS, out, 8), 0);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.lost, 1);
	CHECK_EQ(st.late, 1);
	braid_rist_rx_free(rx);
}

static void test_hostile(void)
{
	struct braid_rist_rx *rx = new_rx();
	struct braid_addr from = addr_of(7000);
	uint8_t junk[64], out[64];
	size_t len;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 1);
	junk[0] = 0x40; /* version 1 */
	braid_rist_rx_handle_rtp(rx, &from, junk, sizeof(junk), 0);
	braid_rist_rx_handle_rtp(rx, &from, junk, 3, 0);
	braid_rist_rx_handle_rtcp(rx, &from, junk, sizeof(junk), 0);
	braid_rist_rx_handle_rtcp(rx, &from, RANGE_NACK, sizeof(RANGE_NACK) - 2, 0);
	/* RTCP sent to the RTP port is no media */
	braid_rist_rx_handle_rtp(rx, &from, ECHO_REQUEST, sizeof(ECHO_REQUEST), 0);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.dropped.malformed, 5);
	CHECK(!st.started);
	CHECK_EQ(braid_rist_rx_poll_output(rx, 100 * MS, out, sizeof(out), &len), 0);
	struct braid_addr to;
	CHECK_EQ(braid_rist_rx_poll_rtcp(rx, &to, out, sizeof(out), &len), 0);
	CHECK_EQ(braid_rist_rx_peers(rx, NULL, 0), 0); /* junk makes no peer */
	/* a second flow is refused while the first lives */
	send_rtp(rx, 5000, 1, FLOW, 0);
	send_rtp(rx, 5000, 1, 0xdead0000u, 1);
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.dropped.other_flow, 1);
	braid_rist_rx_free(rx);
}

static void test_beyond_window(void)
{
	struct braid_rist_rx *rx = new_rx();
	uint16_t out[8];
	send_rtp(rx, 5000, 1, FLOW, 0);
	CHECK_EQ(released(rx, 30 * MS, out, 8), 1);
	send_rtp(rx, 5000, 3, FLOW, 31 * MS); /* 2 missing: the head waits */
	send_rtp(rx, 5000, (uint16_t)(2 + BRAID_RIST_WINDOW), FLOW, 32 * MS);
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(rx, &st);
	CHECK_EQ(st.beyond_window, 1);
	CHECK_EQ(st.held, 1);
	braid_rist_rx_free(rx);
}

/* ---- the sender -------------------------------------------------------------------- */

static struct braid_rist_tx *new_tx(void)
{
	struct braid_rist_tx_config cfg;
	braid_rist_tx_config_default(&cfg);
	cfg.ssrc = FLOW | 1; /* the low bit is the resend mark: cleared */
	cfg.first_seq = 65534;
	return braid_rist_tx_new(&cfg, 0);
}

static void nack_to_tx(struct braid_rist_tx *tx, bool range, const uint16_t *lost, size_t n,
		       uint64_t now)
{
	uint8_t buf[128];
	struct braid_rtcp_writer w;
	struct braid_rtcp_packet rr;
	memset(&rr, 0, sizeof(rr));
	rr.kind = BRAID_RTCP_KIND_RR;
	rr.u.rr.ssrc = 0x5eed;
	braid_rtcp_writer_init(&w, buf, sizeof(buf));
	braid_rtcp_write(&w, &rr);
	if (range)
		braid_rist_write_range_nack(&w, FLOW, lost, n);
	else
		braid_rist_write_generic_nack(&w, 0x5eed, FLOW, lost, n);
	braid_rist_tx_handle_rtcp(tx, buf, w.len, now);
}

static void test_sender_resends(void)
{
	struct braid_rist_tx *tx = new_tx();
	uint8_t payload[3] = { 1, 2, 3 }, buf[128];
	size_t len;
	struct braid_rtp_header h;
	for (int i = 0; i < 4; i++) {
		payload[0] = (uint8_t)i;
		CHECK_EQ(braid_rist_tx_push(tx, payload, sizeof(payload), (uint64_t)i * MS), 0);
	}
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(braid_rist_tx_poll_rtp(tx, buf, sizeof(buf), &len), 1);
		CHECK_EQ(braid_rtp_parse(buf, len, &h), 0);
		CHECK_EQ(h.seq, (uint16_t)(65534 + i));
		CHECK_EQ_U64(h.ssrc, FLOW);
		CHECK_EQ(h.payload_type, 33);
		CHECK_EQ(h.payload[0], i);
	}
	CHECK_EQ(braid_rist_tx_poll_rtp(tx, buf, sizeof(buf), &len), 0);
	const uint16_t generic[] = { 65535 }, range[] = { 0, 1 }, gone[] = { 500 };
	nack_to_tx(tx, false, generic, 1, 10 * MS);
	nack_to_tx(tx, true, range, 2, 11 * MS);
	nack_to_tx(tx, true, gone, 1, 12 * MS);
	const uint16_t want[] = { 65535, 0, 1 };
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(braid_rist_tx_poll_rtp(tx, buf, sizeof(buf), &len), 1);
		CHECK_EQ(braid_rtp_parse(buf, len, &h), 0);
		CHECK_EQ(h.seq, want[i]);
		CHECK_EQ_U64(h.ssrc, FLOW | 1);
		CHECK_EQ(h.payload[0], i + 1);
	}
	/* asked again at once (the NACK came over two paths): sent once */
	nack_to_tx(tx, false, generic, 1, 12 * MS);
	CHECK_EQ(braid_rist_tx_poll_rtp(tx, buf, sizeof(buf), &len), 0);
	/* past the buffer it is no longer kept */
	nack_to_tx(tx, false, generic, 1, 1200 * MS);
	CHECK_EQ(braid_rist_tx_poll_rtp(tx, buf, sizeof(buf), &len), 0);
	struct braid_rist_tx_stats st;
	braid_rist_tx_stats(tx, &st);
	CHECK_EQ(st.nacks_in, 5);
	CHECK_EQ(st.requested, 6);
	CHECK_EQ(st.retransmitted, 3);
	CHECK_EQ(st.unavailable, 2);
	braid_rist_tx_free(tx);
}

static void test_sender_rtcp(void)
{
	struct braid_rist_tx *tx = new_tx();
	uint8_t buf[256];
	size_t len;
	struct braid_rtcp_packet p;
	braid_rist_tx_handle_timeout(tx, 0);
	CHECK_EQ(braid_rist_tx_poll_rtcp(tx, buf, sizeof(buf), &len), 1);
	CHECK(read_one(buf, len, &p) == 1 && p.kind == BRAID_RTCP_KIND_SR);
	CHECK_EQ_U64(p.u.sr.ssrc, FLOW);
	CHECK_EQ(braid_rist_tx_next_timeout(tx), 100 * MS);
	braid_rist_tx_handle_rtcp(tx, ECHO_REQUEST, sizeof(ECHO_REQUEST), 5 * MS);
	CHECK_EQ(braid_rist_tx_poll_rtcp(tx, buf, sizeof(buf), &len), 1);
	struct braid_rtcp_reader r;
	bool answered = false;
	braid_rtcp_reader_init(&r, buf, len, 0);
	while (braid_rtcp_read(&r, &p) == 1) {
		uint8_t subtype;
		struct braid_rist_echo e;
		if (braid_rist_echo_parse(&p, &subtype, &e))
			answered = subtype == BRAID_RIST_APP_ECHO_RESPONSE &&
				   e.timestamp == 0x0102030405060708ull && e.ssrc == 0xaabbccddu;
	}
	CHECK(answered);
	braid_rist_tx_handle_rtcp(tx, RANGE_NACK, 5, 6 * MS);
	struct braid_rist_tx_stats st;
	braid_rist_tx_stats(tx, &st);
	CHECK_EQ(st.rtcp_malformed, 1);
	braid_rist_tx_free(tx);
}

int main(void)
{
	RUN_TEST(test_range_nack_read);
	RUN_TEST(test_range_nack_write);
	RUN_TEST(test_generic_nack);
	RUN_TEST(test_echo);
	RUN_TEST(test_merge_two_paths);
	RUN_TEST(test_start_reaches_back);
	RUN_TEST(test_reorder_without_nack);
	RUN_TEST(test_nack_generic_then_range);
	RUN_TEST(test_forced_kind);
	RUN_TEST(test_keepalive_credit);
	RUN_TEST(test_give_up);
	RUN_TEST(test_hostile);
	RUN_TEST(test_beyond_window);
	RUN_TEST(test_sender_resends);
	RUN_TEST(test_sender_rtcp);
	return braid_test_finish();
}
