/* Report generation (include/braid/rtcp_session.h): sender streams (RFC 3550 6.4.1: the
 * frame-first timestamp mapping, use_latest_packet, extrapolation, counter wrap), receiver
 * streams (loss, jitter on converted arrival times, LSR/DLSR with the 6.4.1 example),
 * and sessions: binding, auto-binding, scheduling per direction, datagrams for many
 * SSRCs, and the hop-by-hop filter. Expected values are worked out by hand in comments. */
#include "braid/error.h"
#include "braid/rtcp_session.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct braid_rtp_header rtp(uint32_t ssrc, uint16_t seq, uint32_t ts, size_t payload)
{
	struct braid_rtp_header h;
	memset(&h, 0, sizeof(h));
	h.payload_type = 96;
	h.ssrc = ssrc;
	h.seq = seq;
	h.timestamp = ts;
	h.payload_len = payload;
	return h;
}

static struct braid_rtcp_stream_config config(uint32_t ssrc, uint32_t rate, bool latest)
{
	struct braid_rtcp_stream_config c = { .ssrc = ssrc, .clock_rate = rate,
					      .use_latest_packet = latest, .probation = 0 };
	return c;
}

static void send_at(struct braid_rtcp_sender_stream *st, uint16_t seq, uint32_t ts,
		    size_t payload, uint64_t t)
{
	struct braid_rtp_header h = rtp(st->ssrc, seq, ts, payload);
	braid_rtcp_sender_stream_on_rtp(st, &h, t);
}

static void test_sender_frame_first(void)
{
	struct braid_rtcp_sender_stream st;
	struct braid_rtcp_stream_config c = config(7, 90000, false);
	braid_rtcp_sender_stream_init(&st, &c);
	struct braid_rtcp_sr sr;
	CHECK(!braid_rtcp_sender_stream_report(&st, 0, 1, &sr));
	send_at(&st, 10, 1000, 100, 0);
	send_at(&st, 11, 1000, 100, 2000);   /* same frame: no move */
	CHECK_EQ(st.map_time_us, 0);
	send_at(&st, 12, 4000, 50, 33000);   /* next frame's first packet */
	send_at(&st, 13, 4000, 70, 35000);
	CHECK_EQ(st.map_time_us, 33000);
	CHECK(braid_rtcp_sender_stream_report(&st, 50000, 0x1122334455667788u, &sr));
	CHECK_EQ_U64(sr.ntp, 0x1122334455667788u);
	CHECK_EQ(sr.ssrc, 7);
	/* 4000 + floor(17 ms * 90 kHz) = 4000 + 1530; moving on packet 13 would give 5350. */
	CHECK_EQ(sr.rtp_ts, 5530);
	CHECK_EQ(sr.packets, 4);
	CHECK_EQ(sr.octets, 320);
	CHECK_EQ(sr.block_count, 0);
}

static void test_sender_reordered(void)
{
	for (int latest = 0; latest < 2; latest++) {
		struct braid_rtcp_sender_stream st;
		struct braid_rtcp_stream_config c = config(7, 90000, latest);
		braid_rtcp_sender_stream_init(&st, &c);
		send_at(&st, 1, 0, 10, 0);
		send_at(&st, 3, 6000, 10, 66000);
		send_at(&st, 2, 3000, 10, 70000); /* late, from an earlier frame */
		/* In order only: 6000 + 34 ms * 90 = 9060. use_latest: 3000 + 30 ms * 90. */
		CHECK_EQ(braid_rtcp_sender_stream_rtp_at(&st, 100000), latest ? 5700 : 9060);
		CHECK_EQ(st.highest_seq, 3);
		/* Either way a packet of the mapped frame does not move it. */
		send_at(&st, 4, latest ? 3000 : 6000, 10, 80000);
		CHECK_EQ(st.map_time_us, latest ? 70000 : 66000);
	}
}

static void test_sender_sequence_wrap(void)
{
	struct braid_rtcp_sender_stream st;
	struct braid_rtcp_stream_config c = config(7, 90000, false);
	braid_rtcp_sender_stream_init(&st, &c);
	send_at(&st, 65534, 100, 1, 0);
	send_at(&st, 65535, 200, 1, 10);
	send_at(&st, 0, 300, 1, 20);   /* newer across the wrap */
	CHECK_EQ(st.map_rtp_ts, 300);
	send_at(&st, 65535, 250, 1, 30); /* older */
	CHECK_EQ(st.map_rtp_ts, 300);
	CHECK_EQ(st.highest_seq, 0);
}

static void test_sender_counters_and_extrapolation(void)
{
	struct braid_rtcp_sender_stream st;
	struct braid_rtcp_stream_config c = config(7, 90000, false);
	braid_rtcp_sender_stream_init(&st, &c);
	send_at(&st, 1, 0xffffff00u, 10, 1000000);
	st.packets = UINT32_MAX;
	st.octets = 0xffffff00u;
	send_at(&st, 2, 0xffffff00u, 0x200, 1000100);
	CHECK_EQ_U64(st.packets, 0);
	CHECK_EQ_U64(st.octets, 0x100);
	/* One second on: 0xffffff00 + 90000 wraps to 89744. */
	CHECK_EQ_U64(braid_rtcp_sender_stream_rtp_at(&st, 2000000), 89744);
	/* Half a second before the mapping: 45000 back. */
	CHECK_EQ_U64(braid_rtcp_sender_stream_rtp_at(&st, 500000), 0xffffff00u - 45000u);
	/* 11111 us is 999.99 units: rounded down. */
	CHECK_EQ_U64(braid_rtcp_sender_stream_rtp_at(&st, 1011111), 0xffffff00u + 999u);
}

static enum braid_rtp_seq_status recv_at(struct braid_rtcp_receiver_stream *st, uint16_t seq,
					 uint32_t ts, uint64_t t)
{
	struct braid_rtp_header h = rtp(st->ssrc, seq, ts, 100);
	return braid_rtcp_receiver_stream_on_rtp(st, &h, t);
}

static void test_receiver_loss_and_constant_transit(void)
{
	struct braid_rtcp_receiver_stream st;
	struct braid_rtcp_stream_config c = config(99, 90000, false);
	braid_rtcp_receiver_stream_init(&st, &c);
	struct braid_rtcp_report_block b;
	CHECK(!braid_rtcp_receiver_stream_report(&st, 0, &b));
	/* 20 ms apart, 1800 units apart, the same transit each: no jitter. 3 is lost. */
	for (uint16_t q = 0; q < 10; q++)
		if (q != 3)
			recv_at(&st, q, 5000u + q * 1800u, 100000u + q * 20000u);
	CHECK(braid_rtcp_receiver_stream_report(&st, 400000, &b));
	CHECK_EQ(b.ssrc, 99);
	CHECK_EQ(b.fraction_lost, 256 / 10);
	CHECK_EQ(b.cumulative_lost, 1);
	CHECK_EQ(b.ext_highest_seq, 9);
	CHECK_EQ(b.jitter, 0);
	CHECK_EQ(b.lsr, 0);
	CHECK_EQ(b.dlsr, 0);
	/* A duplicate in the next interval: fraction 0, total 0. */
	recv_at(&st, 9, 5000u + 9 * 1800u, 300000);
	recv_at(&st, 10, 5000u + 10 * 1800u, 300000);
	CHECK(braid_rtcp_receiver_stream_report(&st, 500000, &b));
	CHECK_EQ(b.fraction_lost, 0);
	CHECK_EQ(b.cumulative_lost, 0);
}

static void test_receiver_jitter(void)
{
	struct braid_rtcp_receiver_stream st;
	struct braid_rtcp_stream_config c = config(1, 8000, false);
	braid_rtcp_receiver_stream_init(&st, &c);
	/* 8 kHz, 20 ms = 160 units. Arrival units are t_us / 125. The third packet is 10 ms
	 * late: D = 80, then -80. J16: 0, 80, 80 + 80 - 5 = 155; J = 155 >> 4 = 9 (the RFC's
	 * floating form gives 5 then 9.6875). */
	recv_at(&st, 0, 0, 0);
	recv_at(&st, 1, 160, 20000);
	recv_at(&st, 2, 320, 50000);
	CHECK_EQ(braid_rtp_jitter_value(&st.jitter), 5);
	recv_at(&st, 3, 480, 60000);
	struct braid_rtcp_report_block b;
	CHECK(braid_rtcp_receiver_stream_report(&st, 70000, &b));
	CHECK_EQ(b.jitter, 9);
	/* A packet outside the window (a jump) leaves the jitter alone. */
	CHECK_EQ(recv_at(&st, 9000, 999999, 80000), BRAID_RTP_SEQ_JUMP);
	CHECK_EQ_U64(st.jitter.j16, 155);
}

static void test_receiver_resync_restarts_transit(void)
{
	struct braid_rtcp_receiver_stream st;
	struct braid_rtcp_stream_config c = config(1, 90000, false);
	braid_rtcp_receiver_stream_init(&st, &c);
	recv_at(&st, 100, 0, 0);
	recv_at(&st, 101, 1800, 20000);
	/* The sender restarts with new numbers and a new timestamp base. */
	CHECK_EQ(recv_at(&st, 40000, 77777777, 40000), BRAID_RTP_SEQ_JUMP);
	CHECK_EQ(recv_at(&st, 40001, 77777777 + 1800, 60000), BRAID_RTP_SEQ_RESYNC);
	recv_at(&st, 40002, 77777777 + 3600, 80000);
	struct braid_rtcp_report_block b;
	CHECK(braid_rtcp_receiver_stream_report(&st, 90000, &b));
	CHECK_EQ(b.jitter, 0);
	CHECK_EQ(b.ext_highest_seq, 40002);
	CHECK_EQ(b.cumulative_lost, 0);
}

static void test_receiver_lsr_dlsr(void)
{
	/* RFC 3550 6.4.1's example: SR with NTP 0xb44db705:20000000 arrives; the report goes
	 * 5.25 s later: LSR 0xb705:2000, DLSR 0x0005:4000. */
	struct braid_rtcp_receiver_stream st;
	struct braid_rtcp_stream_config c = config(1, 90000, false);
	braid_rtcp_receiver_stream_init(&st, &c);
	recv_at(&st, 1, 0, 0);
	braid_rtcp_receiver_stream_on_sr(&st, 0xb44db70520000000u, 1000000);
	struct braid_rtcp_report_block b;
	CHECK(braid_rtcp_receiver_stream_report(&st, 6250000, &b));
	CHECK_EQ_U64(b.lsr, 0xb7052000u);
	CHECK_EQ_U64(b.dlsr, 0x00054000u);
	/* The sender's round trip at A = 0xb710:8000 is A - LSR - DLSR = 0x0006:2000. */
	CHECK_EQ_U64(0xb7108000u - b.lsr - b.dlsr, 0x00062000u);
	/* A report at the SR's arrival: DLSR 0. */
	CHECK(braid_rtcp_receiver_stream_report(&st, 1000000, &b));
	CHECK_EQ(b.dlsr, 0);
}

static void test_receiver_probation(void)
{
	struct braid_rtcp_receiver_stream st;
	struct braid_rtcp_stream_config c = config(1, 90000, false);
	c.probation = BRAID_RTP_MIN_SEQUENTIAL;
	braid_rtcp_receiver_stream_init(&st, &c);
	struct braid_rtcp_report_block b;
	CHECK_EQ(recv_at(&st, 5, 0, 0), BRAID_RTP_SEQ_PROBATION);
	CHECK(!braid_rtcp_receiver_stream_report(&st, 1, &b));
	CHECK_EQ(recv_at(&st, 6, 1800, 20000), BRAID_RTP_SEQ_NEW);
	CHECK(braid_rtcp_receiver_stream_report(&st, 30000, &b));
	CHECK_EQ(b.ext_highest_seq, 6);
	CHECK_EQ(b.cumulative_lost, 0);
}

static struct braid_rtcp_session *new_session(uint64_t sr_us, uint64_t rr_us, const char *cname,
					      uint32_t auto_rate)
{
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.sr_interval_us = sr_us;
	st.rr_interval_us = rr_us;
	st.cname = cname;
	st.auto_clock_rate = auto_rate;
	st.local_ssrc = 0x10c41;
	st.ntp_at_zero = (uint64_t)3900000000u << 32;
	return braid_rtcp_session_new(&st, 1000);
}

static void test_session_binding(void)
{
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.max_streams = 2;
	struct braid_rtcp_session *s = braid_rtcp_session_new(&st, 0);
	CHECK(s != NULL);
	struct braid_rtcp_stream_config a = config(1, 90000, false), b = config(2, 48000, false);
	struct braid_rtcp_stream_config c = config(3, 90000, false), z = config(4, 0, false);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &a), 0);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &a), BRAID_ERR_EXISTS);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &z), BRAID_ERR_INVAL);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &b), 0);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &c), BRAID_ERR_FULL);
	CHECK_EQ(braid_rtcp_session_unbind_receiver(s, 9), BRAID_ERR_SESSION);
	CHECK_EQ(braid_rtcp_session_unbind_receiver(s, 1), 0);
	CHECK(braid_rtcp_session_receiver(s, 1) == NULL);
	CHECK(braid_rtcp_session_receiver(s, 2) != NULL);
	CHECK_EQ(braid_rtcp_session_receiver(s, 2)->clock_rate, 48000);
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &c), 0);
	CHECK_EQ(braid_rtcp_session_bind_sender(s, &a), 0); /* directions are separate */
	CHECK(braid_rtcp_session_sender(s, 1) != NULL);
	CHECK_EQ(braid_rtcp_session_unbind_sender(s, 1), 0);
	CHECK_EQ(braid_rtcp_session_unbind_sender(s, 1), BRAID_ERR_SESSION);

	/* Without auto-binding, RTP of an unbound SSRC is refused. */
	struct braid_rtp_header h = rtp(77, 1, 1, 1);
	CHECK_EQ(braid_rtcp_session_rtp_received_header(s, &h, 5), BRAID_ERR_SESSION);
	CHECK_EQ(braid_rtcp_session_rtp_sent_header(s, &h, 5), BRAID_ERR_SESSION);
	h.ssrc = 2;
	CHECK_EQ(braid_rtcp_session_rtp_received_header(s, &h, 5), BRAID_RTP_SEQ_NEW);
	braid_rtcp_session_free(s);

	st.max_datagram = 100;
	CHECK(braid_rtcp_session_new(&st, 0) == NULL);
	braid_rtcp_session_settings_default(&st);
	st.max_streams = 0;
	CHECK(braid_rtcp_session_new(&st, 0) == NULL);
	braid_rtcp_session_settings_default(&st);
	st.cname = "";
	CHECK(braid_rtcp_session_new(&st, 0) == NULL);
	braid_rtcp_session_free(NULL);
}

static void test_session_auto_bind_and_bytes(void)
{
	struct braid_rtcp_session *s = new_session(0, 0, NULL, 90000);
	uint8_t pkt[64];
	struct braid_rtp_header h = rtp(5, 9, 100, 20);
	uint8_t payload[20] = { 0 };
	h.payload = payload;
	int n = braid_rtp_build(&h, pkt, sizeof(pkt));
	CHECK_EQ(n, 32);
	CHECK_EQ(braid_rtcp_session_rtp_received(s, pkt, (size_t)n, 10), BRAID_RTP_SEQ_NEW);
	CHECK_EQ(braid_rtcp_session_rtp_sent(s, pkt, (size_t)n, 10), 0);
	CHECK(braid_rtcp_session_receiver(s, 5) != NULL);
	CHECK_EQ(braid_rtcp_session_sender(s, 5)->octets, 20);
	CHECK_EQ(braid_rtcp_session_rtp_received(s, pkt, 11, 10), BRAID_ERR_TRUNCATED);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), UINT64_MAX);
	braid_rtcp_session_free(s);
}

static void test_session_schedule(void)
{
	struct braid_rtcp_session *s = new_session(1000000, 500000, NULL, 90000);
	struct braid_rtp_header in = rtp(1, 1, 0, 10), out = rtp(2, 1, 0, 10);
	braid_rtcp_session_rtp_received_header(s, &in, 1000);
	braid_rtcp_session_rtp_sent_header(s, &out, 1000);
	uint8_t buf[1500];
	struct braid_rtcp_packet p;
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 501000);
	braid_rtcp_session_handle_timeout(s, 500999); /* early: nothing */
	CHECK_EQ(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)), 0);
	braid_rtcp_session_handle_timeout(s, 501000);
	int n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf));
	CHECK(n > 0);
	struct braid_rtcp_reader r;
	braid_rtcp_reader_init(&r, buf, (size_t)n, 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_RR); /* only the RR was due */
	CHECK_EQ_U64(p.u.rr.ssrc, 0x10c41u);
	CHECK_EQ(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)), 0);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 1001000);
	braid_rtcp_session_handle_timeout(s, 1001000);
	CHECK(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)) > 0); /* SR */
	CHECK(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)) > 0); /* RR */
	CHECK_EQ(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)), 0);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 1501000);
	/* A stall: deadlines restart from now rather than firing in a burst. */
	braid_rtcp_session_handle_timeout(s, 5000000);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 5500000);
	braid_rtcp_session_handle_timeout(s, 5500000);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 6000000);
	/* On demand: the schedule stays. */
	braid_rtcp_session_report(s, 5600000, BRAID_RTCP_REPORT_SR);
	CHECK_EQ(braid_rtcp_session_poll_timeout(s), 6000000);
	CHECK_EQ(braid_rtcp_session_poll_transmit(s, buf, 100), BRAID_ERR_TOO_BIG);
	braid_rtcp_session_free(s);
}

static void test_session_report_contents(void)
{
	struct braid_rtcp_session *s = new_session(0, 0, "braid@test", 90000);
	struct braid_rtp_header out = rtp(0xabc, 7, 1800, 1200);
	struct braid_rtp_header in = rtp(0xdef, 0, 0, 100);
	braid_rtcp_session_rtp_received_header(s, &in, 0);
	braid_rtcp_session_rtp_sent_header(s, &out, 20000);
	/* The SR of the source of 0xdef, 30 ms in: LSR for its block. */
	uint8_t sr_bytes[64];
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, sr_bytes, sizeof(sr_bytes));
	struct braid_rtcp_packet p;
	memset(&p, 0, sizeof(p));
	p.kind = BRAID_RTCP_KIND_SR;
	p.u.sr.ssrc = 0xdef;
	p.u.sr.ntp = 0xcea4000012345678u;
	CHECK_EQ(braid_rtcp_write(&w, &p), 28);
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, sr_bytes, w.len, 30000, NULL, 0), 0);
	braid_rtcp_session_report(s, 50000, BRAID_RTCP_REPORT_SR | BRAID_RTCP_REPORT_RR);

	uint8_t buf[1200];
	struct braid_rtcp_reader r;
	int n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf));
	/* The SR, then an SDES: header, SSRC, the item (2 + 10 octets), a null octet, padded
	 * to 16. */
	CHECK_EQ(n, 28 + 24);
	braid_rtcp_reader_init(&r, buf, (size_t)n, 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_SR);
	CHECK_EQ(p.u.sr.ssrc, 0xabc);
	/* ntp_at_zero + 50 ms: 50000 us = floor(0.05 * 2^32) = 214748364 of fraction. */
	CHECK_EQ_U64(p.u.sr.ntp, ((uint64_t)3900000000u << 32) + 214748364u);
	CHECK_EQ(p.u.sr.rtp_ts, 1800 + 2700); /* 30 ms after the mapping at 90 kHz */
	CHECK_EQ(p.u.sr.packets, 1);
	CHECK_EQ(p.u.sr.octets, 1200);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_SDES);
	struct braid_rtcp_sdes_item item;
	CHECK(braid_rtcp_sdes_find(&p.u.sdes.chunks[0], BRAID_SDES_CNAME, &item));
	CHECK(item.len == 10 && memcmp(item.text, "braid@test", 10) == 0);
	CHECK_EQ(p.u.sdes.chunks[0].ssrc, 0xabc);

	n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf));
	CHECK_EQ(n, 8 + 24 + 24);
	braid_rtcp_reader_init(&r, buf, (size_t)n, 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.kind, BRAID_RTCP_KIND_RR);
	CHECK_EQ(p.u.rr.block_count, 1);
	const struct braid_rtcp_report_block *b = &p.u.rr.blocks[0];
	CHECK_EQ(b->ssrc, 0xdef);
	CHECK_EQ(b->ext_highest_seq, 0);
	CHECK_EQ(b->cumulative_lost, 0);
	CHECK_EQ_U64(b->lsr, 0x00001234u);
	CHECK_EQ(b->dlsr, 1310); /* 20 ms in 1/65536 s, rounded down */
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.u.sdes.chunks[0].ssrc, 0x10c41);
	CHECK_EQ(braid_rtcp_session_poll_transmit(s, buf, sizeof(buf)), 0);
	braid_rtcp_session_free(s);
}

/* Receivers 1000..1000+n-1 each with one packet; returns the SSRCs the RRs list, in
 * order, and how many datagrams carried them. */
static size_t collect_rr(struct braid_rtcp_session *s, uint32_t *seen, size_t cap,
			 size_t *datagrams, size_t max_blocks_seen[1])
{
	uint8_t buf[1500];
	size_t count = 0;
	int n;
	*datagrams = 0;
	max_blocks_seen[0] = 0;
	while ((n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf))) > 0) {
		struct braid_rtcp_reader r;
		struct braid_rtcp_packet p;
		(*datagrams)++;
		CHECK_EQ(braid_rtcp_check(buf, (size_t)n, 0), 1);
		braid_rtcp_reader_init(&r, buf, (size_t)n, 0);
		while (braid_rtcp_read(&r, &p) == 1) {
			if (p.kind != BRAID_RTCP_KIND_RR)
				continue;
			if (p.u.rr.block_count > max_blocks_seen[0])
				max_blocks_seen[0] = p.u.rr.block_count;
			for (unsigned i = 0; i < p.u.rr.block_count && count < cap; i++)
				seen[count++] = p.u.rr.blocks[i].ssrc;
		}
	}
	return count;
}

static void test_session_many_ssrcs(void)
{
	for (int small = 0; small < 2; small++) {
		struct braid_rtcp_session_settings st;
		braid_rtcp_session_settings_default(&st);
		st.max_datagram = small ? 300 : 1200;
		st.auto_clock_rate = 90000;
		struct braid_rtcp_session *s = braid_rtcp_session_new(&st, 0);
		for (uint32_t i = 0; i < 70; i++) {
			struct braid_rtp_header h = rtp(1000 + i, (uint16_t)i, i, 1);
			braid_rtcp_session_rtp_received_header(s, &h, i);
		}
		/* Unbinding keeps the others' order. */
		CHECK_EQ(braid_rtcp_session_unbind_receiver(s, 1005), 0);
		braid_rtcp_session_report(s, 100, BRAID_RTCP_REPORT_RR);
		uint32_t seen[100];
		size_t datagrams, most;
		size_t n = collect_rr(s, seen, 100, &datagrams, &most);
		CHECK_EQ(n, 69);
		bool in_order = true;
		for (size_t i = 0; i < n; i++)
			in_order &= seen[i] == 1000 + i + (i >= 5);
		CHECK(in_order);
		/* 1200 bytes hold 31 blocks (the count's limit); 300 hold (300 - 8) / 24 = 12. */
		CHECK_EQ(most, small ? 12 : 31);
		CHECK_EQ(datagrams, small ? 6 : 3);
		braid_rtcp_session_free(s);
	}
}

static size_t make_compound(uint8_t *buf, size_t cap, const struct braid_rtcp_packet *pkts,
			    size_t n)
{
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, buf, cap);
	for (size_t i = 0; i < n; i++)
		CHECK(braid_rtcp_write(&w, &pkts[i]) > 0);
	return w.len;
}

static void test_hop_by_hop(void)
{
	static const uint8_t cname[] = { 1, 3, 'a', 'b', 'c' };
	static const struct braid_rtcp_nack_pair pair = { 10, 0 };
	static const uint8_t twcc[] = { 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0 };
	struct braid_rtcp_packet pk[5];
	memset(pk, 0, sizeof(pk));
	pk[0].kind = BRAID_RTCP_KIND_RR;
	pk[0].u.rr.ssrc = 5;
	pk[0].u.rr.block_count = 1;
	pk[0].u.rr.blocks[0].ssrc = 6;
	pk[1].kind = BRAID_RTCP_KIND_SDES;
	pk[1].u.sdes.chunk_count = 1;
	pk[1].u.sdes.chunks[0] = (struct braid_rtcp_sdes_chunk){ 5, cname, sizeof(cname) };
	pk[2].kind = BRAID_RTCP_KIND_NACK;
	pk[2].u.nack = (struct braid_rtcp_nack){ 5, 6, 1, NULL, &pair };
	pk[3].kind = BRAID_RTCP_KIND_OTHER; /* transport-wide CC: RTPFB FMT 15 */
	pk[3].type = BRAID_RTCP_RTPFB;
	pk[3].count = 15;
	pk[3].u.other = (struct braid_rtcp_other){ twcc, sizeof(twcc) };
	pk[4].kind = BRAID_RTCP_KIND_BYE;
	pk[4].u.bye.ssrc_count = 1;
	pk[4].u.bye.ssrcs[0] = 5;
	uint8_t in[512], out[512];
	size_t len = make_compound(in, sizeof(in), pk, 5);
	int n = braid_rtcp_filter_hop_by_hop(in, len, 0, out, sizeof(out));
	/* An empty RR from 5 leads, then the SDES and BYE as they were. */
	CHECK_EQ(n, 8 + 16 + 8);
	const uint8_t lead[] = { 0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 5 };
	CHECK(n > 0 && memcmp(out, lead, 8) == 0);
	CHECK(n > 0 && memcmp(out + 8, in + 32, 16) == 0);
	CHECK(n > 0 && memcmp(out + 24, in + len - 8, 8) == 0);
	CHECK_EQ(braid_rtcp_check(out, (size_t)n, 0), 3);

	/* RR and feedback only: nothing goes on. */
	len = make_compound(in, sizeof(in), (struct braid_rtcp_packet[]){ pk[0], pk[2] }, 2);
	CHECK_EQ(braid_rtcp_filter_hop_by_hop(in, len, 0, out, sizeof(out)), 0);

	/* An SR loses its blocks, keeps its sender information; a PLI goes on. */
	struct braid_rtcp_packet sr[2];
	memset(sr, 0, sizeof(sr));
	sr[0].kind = BRAID_RTCP_KIND_SR;
	sr[0].u.sr.ssrc = 5;
	sr[0].u.sr.ntp = 0x0102030405060708u;
	sr[0].u.sr.packets = 77;
	sr[0].u.sr.block_count = 2;
	sr[1].kind = BRAID_RTCP_KIND_OTHER;
	sr[1].type = BRAID_RTCP_PSFB;
	sr[1].count = 1;
	sr[1].u.other = (struct braid_rtcp_other){ twcc, 8 };
	len = make_compound(in, sizeof(in), sr, 2);
	CHECK_EQ(len, 28 + 48 + 12);
	n = braid_rtcp_filter_hop_by_hop(in, len, 0, out, sizeof(out));
	CHECK_EQ(n, 28 + 12);
	struct braid_rtcp_packet p;
	struct braid_rtcp_reader r;
	braid_rtcp_reader_init(&r, out, n > 0 ? (size_t)n : 0, 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.u.sr.block_count, 0);
	CHECK_EQ_U64(p.u.sr.ntp, 0x0102030405060708u);
	CHECK_EQ(p.u.sr.packets, 77);
	CHECK(memcmp(out, in, 4) != 0); /* RC and length changed */
	CHECK(memcmp(out + 4, in + 4, 24) == 0);
	CHECK_EQ(braid_rtcp_read(&r, &p), 1);
	CHECK_EQ(p.type, BRAID_RTCP_PSFB);
	CHECK_EQ(braid_rtcp_filter_hop_by_hop(in, len, 0, out, 30), BRAID_ERR_TOO_BIG);
}

static void test_session_rtcp_received(void)
{
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.hop_by_hop = true;
	struct braid_rtcp_session *s = braid_rtcp_session_new(&st, 0);
	struct braid_rtcp_stream_config c = config(5, 90000, false);
	braid_rtcp_session_bind_receiver(s, &c);
	struct braid_rtp_header h = rtp(5, 1, 0, 1);
	braid_rtcp_session_rtp_received_header(s, &h, 0);

	struct braid_rtcp_packet sr;
	memset(&sr, 0, sizeof(sr));
	sr.kind = BRAID_RTCP_KIND_SR;
	sr.u.sr.ssrc = 5;
	sr.u.sr.ntp = 0x00aabbccdd000000u;
	sr.u.sr.block_count = 1;
	uint8_t in[128], out[128];
	size_t len = make_compound(in, sizeof(in), &sr, 1);
	/* Malformed: nothing recorded, nothing forwarded. */
	in[0] ^= 0xc0;
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 10, out, sizeof(out)),
		 BRAID_ERR_VERSION);
	CHECK(!braid_rtcp_session_receiver(s, 5)->have_sr);
	in[0] ^= 0xc0;
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 10, out, sizeof(out)), 28);
	CHECK(braid_rtcp_session_receiver(s, 5)->have_sr);
	CHECK_EQ_U64(braid_rtcp_session_receiver(s, 5)->lsr, 0xbbccdd00u);
	CHECK_EQ(braid_rtcp_session_receiver(s, 5)->sr_arrival_us, 10);
	braid_rtcp_session_free(s);

	/* Without hop_by_hop the datagram goes on as it came. */
	st.hop_by_hop = false;
	s = braid_rtcp_session_new(&st, 0);
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 10, out, sizeof(out)), (int)len);
	CHECK(memcmp(in, out, len) == 0);
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 10, out, len - 4),
		 BRAID_ERR_TOO_BIG);
	/* An SR from a source not bound is not recorded anywhere, and is not an error. */
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 10, NULL, 0), 0);
	braid_rtcp_session_free(s);
}

/* An RR block of the session's next report for ssrc; false when it has none. */
static bool rr_block_for(struct braid_rtcp_session *s, uint64_t now, uint32_t ssrc,
			 struct braid_rtcp_report_block *out)
{
	uint8_t buf[1500];
	bool found = false;
	int n;
	braid_rtcp_session_report(s, now, BRAID_RTCP_REPORT_RR);
	while ((n = braid_rtcp_session_poll_transmit(s, buf, sizeof(buf))) > 0) {
		struct braid_rtcp_reader r;
		struct braid_rtcp_packet p;
		braid_rtcp_reader_init(&r, buf, (size_t)n, 0);
		while (braid_rtcp_read(&r, &p) == 1) {
			if (p.kind != BRAID_RTCP_KIND_RR)
				continue;
			for (unsigned i = 0; i < p.u.rr.block_count; i++)
				if (p.u.rr.blocks[i].ssrc == ssrc) {
					*out = p.u.rr.blocks[i];
					found = true;
				}
		}
	}
	return found;
}

/* A receiving stream bound by signalling is reported before any RTP (pion's "before any
 * packet" and "delay" cases): zero counts, then the LSR and DLSR of an SR that came with
 * no RTP. Its first RTP packet still sets the base. A stream bound by RTP alone is not
 * reported before it counts a packet. */
static void test_session_signalled_stream(void)
{
	struct braid_rtcp_session *s = new_session(0, 0, NULL, 90000);
	struct braid_rtcp_stream_config c = config(123456, 90000, false);
	struct braid_rtcp_report_block b;
	CHECK_EQ(braid_rtcp_session_bind_receiver(s, &c), 0);
	CHECK(rr_block_for(s, 1000, 123456, &b));
	CHECK(b.fraction_lost == 0 && b.cumulative_lost == 0 && b.ext_highest_seq == 0 &&
	      b.jitter == 0 && b.lsr == 0 && b.dlsr == 0);

	struct braid_rtcp_packet sr;
	memset(&sr, 0, sizeof(sr));
	sr.kind = BRAID_RTCP_KIND_SR;
	sr.u.sr.ssrc = 123456;
	sr.u.sr.ntp = 0xCEA46EF000000000u;
	sr.u.sr.rtp_ts = 987654321;
	uint8_t in[128];
	size_t len = make_compound(in, sizeof(in), &sr, 1);
	CHECK_EQ(braid_rtcp_session_rtcp_received(s, in, len, 2000, NULL, 0), 0);
	CHECK(rr_block_for(s, 2000 + 1000000, 123456, &b));
	CHECK_EQ_U64(b.lsr, 0x6EF00000u);
	CHECK_EQ_U64(b.dlsr, 65536);
	CHECK_EQ_U64(b.ext_highest_seq, 0);

	/* The first RTP packet sets the base: ten in order from 40000, nothing lost. */
	for (uint16_t q = 0; q < 10; q++) {
		struct braid_rtp_header h = rtp(123456, (uint16_t)(40000 + q), 0, 100);
		CHECK(braid_rtcp_session_rtp_received_header(s, &h, 3000000 + q) >= 0);
	}
	CHECK(rr_block_for(s, 3100000, 123456, &b));
	CHECK_EQ_U64(b.ext_highest_seq, 40009);
	CHECK_EQ(b.cumulative_lost, 0);
	CHECK_EQ(b.fraction_lost, 0);

	/* A stream bound by its first RTP packet, still on probation, is not reported. */
	struct braid_rtcp_session_settings st;
	braid_rtcp_session_settings_default(&st);
	st.auto_clock_rate = 90000;
	st.probation = 2;
	struct braid_rtcp_session *t = braid_rtcp_session_new(&st, 0);
	struct braid_rtp_header h = rtp(77, 1, 0, 10);
	CHECK(braid_rtcp_session_rtp_received_header(t, &h, 10) >= 0);
	CHECK(braid_rtcp_session_receiver(t, 77) != NULL);
	CHECK(!rr_block_for(t, 20, 77, &b));
	braid_rtcp_session_free(t);
	braid_rtcp_session_free(s);
}

int main(void)
{
	RUN_TEST(test_sender_frame_first);
	RUN_TEST(test_sender_reordered);
	RUN_TEST(test_sender_sequence_wrap);
	RUN_TEST(test_sender_counters_and_extrapolation);
	RUN_TEST(test_receiver_loss_and_constant_transit);
	RUN_TEST(test_receiver_jitter);
	RUN_TEST(test_receiver_resync_restarts_transit);
	RUN_TEST(test_receiver_lsr_dlsr);
	RUN_TEST(test_receiver_probation);
	RUN_TEST(test_session_binding);
	RUN_TEST(test_session_auto_bind_and_bytes);
	RUN_TEST(test_session_schedule);
	RUN_TEST(test_session_report_contents);
	RUN_TEST(test_session_many_ssrcs);
	RUN_TEST(test_hop_by_hop);
	RUN_TEST(test_session_rtcp_received);
	RUN_TEST(test_session_signalled_stream);
	return braid_test_finish();
}
