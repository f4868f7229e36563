/* udp_blast: both ends of a benchmark pipeline.
 *
 * "send" paces N datagrams at a rate (or sends them as fast as sendmmsg goes), each
 * starting with a magic word and its sequence number; "sink" counts what arrives of those
 * N: unique, duplicated, reordered and lost, and the rate between first and last. Each
 * prints one line of key=value pairs on stdout for bench/run.sh. With --format rtp the
 * datagrams are RTP (a 12-byte header before the magic word), for relays that pass only
 * RTP, such as braidd's RTP proxy (bench/braidd.py). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_net.h"

#define CHUNK 64 /* datagrams per sendmmsg / recvmmsg */
#define HEADER_BYTES 16
#define RTP_HEADER_BYTES 12
#define SLOT_BYTES 9216
#define MAX_SIZE 9000
#define MAX_RATE 10000000

static const uint8_t magic[8] = { 'B', 'R', 'D', 'B', 'E', 'N', 'C', 'H' };

static const char usage[] =
	"usage: udp_blast send --to ADDR:PORT --count N [--rate PPS] [--size BYTES]\n"
	"                      [--format plain|rtp]\n"
	"       udp_blast sink --listen ADDR:PORT --count N [--idle-ms MS] [--wait-ms MS]\n"
	"                      [--format plain|rtp] [--grace N]\n"
	"  send: N datagrams of BYTES (default 1316) at PPS (default 0: as fast as possible)\n"
	"  sink: counts the N; stops when all came, MS after the last one (default 500), or\n"
	"        when none came within --wait-ms (default 10000); lost_after_grace counts\n"
	"        the lost among all but the first N (default 0)\n";

struct options {
	struct bench_addr addr;
	bool have_addr;
	uint64_t count, rate, size, idle_ms, wait_ms, grace;
	size_t offset; /* where the magic word starts: after the RTP header with rtp */
};

struct batch {
	struct mmsghdr msgs[CHUNK];
	struct iovec iov[CHUNK];
	uint8_t *slots;
};

static bool batch_init(struct batch *b, size_t len)
{
	b->slots = calloc(CHUNK, SLOT_BYTES);
	if (!b->slots)
		return false;
	memset(b->msgs, 0, sizeof(b->msgs));
	for (size_t i = 0; i < CHUNK; i++) {
		b->iov[i].iov_base = b->slots + i * SLOT_BYTES;
		b->iov[i].iov_len = len;
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return true;
}

/* ---- send ---- */

/* RTP version 2, dynamic payload type 96, 90 kHz timestamps 3000 apart, one SSRC. */
static void rtp_header(uint8_t *buf, uint64_t seq)
{
	uint32_t ts = (uint32_t)(seq * 3000), ssrc = 0x42454e43;
	buf[0] = 0x80;
	buf[1] = 96;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

static void stamp(uint8_t *buf, size_t offset, uint64_t seq)
{
	if (offset)
		rtp_header(buf, seq);
	memcpy(buf + offset, magic, sizeof(magic));
	for (int i = 0; i < 8; i++)
		buf[offset + 8 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* How many of the datagrams should have left `elapsed_ns` after the first. */
static uint64_t due_after(const struct options *o, uint64_t elapsed_ns)
{
	if (!o->rate)
		return o->count;
	uint64_t due = (uint64_t)((double)elapsed_ns * (double)o->rate / 1e9) + 1;
	return due < o->count ? due : o->count;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(t_ns / 1000000000u),
			       .tv_nsec = (long)(t_ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Sends msgs[0..n); a datagram that cannot go is counted and skipped, never retried
 * forever. Returns how many went. */
static uint64_t send_chunk(int fd, struct batch *b, unsigned n, uint64_t *failed)
{
	unsigned done = 0;
	uint64_t sent_ok = 0;

	while (done < n) {
		int sent = sendmmsg(fd, b->msgs + done, n - done, 0);
		if (sent > 0) {
			done += (unsigned)sent;
			sent_ok += (uint64_t)sent;
		} else if (sent < 0 && errno == EINTR) {
			continue;
		} else {
			(*failed)++; /* ECONNREFUSED: nobody listens yet; the datagram is gone */
			done++;
		}
	}
	return sent_ok;
}

static int cmd_send(const struct options *o)
{
	struct batch b;
	uint64_t failed = 0, sent = 0, went = 0;

	int fd = bench_udp_open(NULL, &o->addr);
	if (fd < 0 || !batch_init(&b, o->size)) {
		perror("udp_blast send: setup");
		return 1;
	}
	prctl(PR_SET_TIMERSLACK, 1000UL); /* pace to within ~1 us, not the default 50 us */
	uint64_t t0 = bench_now_ns();
	while (sent < o->count) {
		uint64_t due = due_after(o, bench_now_ns() - t0);
		if (due <= sent) {
			sleep_until(t0 + (uint64_t)((double)sent * 1e9 / (double)o->rate));
			continue;
		}
		unsigned n = due - sent < CHUNK ? (unsigned)(due - sent) : CHUNK;
		for (unsigned i = 0; i < n; i++)
			stamp(b.iov[i].iov_base, o->offset, sent + i);
		went += send_chunk(fd, &b, n, &failed);
		sent += n;
	}
	double seconds = (double)(bench_now_ns() - t0) / 1e9;
	printf("sent=%llu failed=%llu seconds=%.6f pps=%.0f\n", (unsigned long long)went,
	       (unsigned long long)failed, seconds, seconds > 0 ? (double)went / seconds : 0.0);
	close(fd);
	free(b.slots);
	return 0;
}

/* ---- sink ---- */

struct tally {
	uint8_t *seen; /* one bit per sequence number */
	uint64_t received, unique, duplicates, reordered, foreign, highest, bytes;
	uint64_t first_ns, last_ns;
};

static void account(struct tally *t, const struct options *o, const uint8_t *buf, size_t len)
{
	uint64_t seq = 0;

	t->received++;
	if (len < o->offset + HEADER_BYTES || memcmp(buf + o->offset, magic, sizeof(magic)) != 0) {
		t->foreign++;
		return;
	}
	buf += o->offset;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | buf[8 + i];
	if (seq >= o->count) {
		t->foreign++;
		return;
	}
	uint8_t bit = (uint8_t)(1u << (seq % 8));
	if (t->seen[seq / 8] & bit) {
		t->duplicates++;
		return;
	}
	t->seen[seq / 8] |= bit;
	if (t->unique && seq < t->highest)
		t->reordered++;
	else
		t->highest = seq;
	t->unique++;
	t->bytes += len;
}

/* Whether the sink is done: everything came, the stream went quiet, or never started. */
static bool sink_done(const struct tally *t, const struct options *o, uint64_t start,
		      uint64_t now)
{
	if (t->unique == o->count)
		return true;
	if (t->received)
		return now - t->last_ns >= o->idle_ms * 1000000u;
	return now - start >= o->wait_ms * 1000000u;
}

static void report_sink(const struct tally *t, const struct options *o)
{
	double seconds = (double)(t->last_ns - t->first_ns) / 1e9;
	double pps = seconds > 0 && t->unique > 1 ? (double)(t->unique - 1) / seconds : 0.0;
	double mbps = seconds > 0 ? (double)t->bytes * 8 / seconds / 1e6 : 0.0;

	/* a step from idle may lose its first moments while the links find the rate: what
	 * is lost after the first `grace` datagrams is counted apart */
	uint64_t lost_after_grace = 0;
	for (uint64_t seq = o->grace; seq < o->count; seq++)
		lost_after_grace += !(t->seen[seq / 8] & (1u << (seq % 8)));

	printf("received=%llu unique=%llu duplicates=%llu reordered=%llu foreign=%llu lost=%llu "
	       "lost_after_grace=%llu seconds=%.6f pps=%.0f mbps=%.2f\n",
	       (unsigned long long)t->received, (unsigned long long)t->unique,
	       (unsigned long long)t->duplicates, (unsigned long long)t->reordered,
	       (unsigned long long)t->foreign, (unsigned long long)(o->count - t->unique),
	       (unsigned long long)lost_after_grace, seconds, pps, mbps);
}

static int cmd_sink(const struct options *o)
{
	struct batch b;
	struct tally t = { 0 };

	bench_block_stop_signals();
	t.seen = calloc(o->count / 8 + 1, 1);
	int fd = bench_udp_open(&o->addr, NULL);
	if (!t.seen || fd < 0 || bench_set_recv_timeout(fd, 20) < 0 ||
	    !batch_init(&b, SLOT_BYTES)) {
		perror("udp_blast sink: setup");
		return 1;
	}
	bench_print_bound("udp_blast", "sink", fd);
	uint64_t start = bench_now_ns(), now = start;
	while (!sink_done(&t, o, start, now)) {
		int got = recvmmsg(fd, b.msgs, CHUNK, MSG_WAITFORONE, NULL);
		now = bench_now_ns();
		if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			perror("udp_blast sink: recvmmsg");
			break;
		}
		if (got <= 0 && bench_stop_requested())
			break;
		for (int i = 0; i < got; i++)
			account(&t, o, b.iov[i].iov_base, b.msgs[i].msg_len);
		if (got > 0) {
			if (!t.first_ns)
				t.first_ns = now;
			t.last_ns = now;
		}
	}
	report_sink(&t, o);
	close(fd);
	free(b.slots);
	free(t.seen);
	return 0;
}

/* ---- arguments ---- */

static bool parse_option(const char *name, const char *v, bool sink, struct options *o)
{
	if (strcmp(name, sink ? "--listen" : "--to") == 0)
		return (o->have_addr = bench_addr_parse(v, &o->addr) == 0);
	if (strcmp(name, "--count") == 0)
		return bench_parse_u64(v, (uint64_t)1 << 40, &o->count) && o->count > 0;
	if (!sink && strcmp(name, "--rate") == 0)
		return bench_parse_u64(v, MAX_RATE, &o->rate);
	if (!sink && strcmp(name, "--size") == 0)
		return bench_parse_u64(v, MAX_SIZE, &o->size) && o->size >= HEADER_BYTES;
	if (strcmp(name, "--format") == 0) {
		o->offset = strcmp(v, "rtp") == 0 ? RTP_HEADER_BYTES : 0;
		return strcmp(v, "rtp") == 0 || strcmp(v, "plain") == 0;
	}
	if (sink && strcmp(name, "--idle-ms") == 0)
		return bench_parse_u64(v, 3600000, &o->idle_ms);
	if (sink && strcmp(name, "--wait-ms") == 0)
		return bench_parse_u64(v, 3600000, &o->wait_ms);
	if (sink && strcmp(name, "--grace") == 0)
		return bench_parse_u64(v, (uint64_t)1 << 40, &o->grace);
	return false;
}

int main(int argc, char **argv)
{
	struct options o = { .size = 1316, .idle_ms = 500, .wait_ms = 10000 };
	bool sink = argc > 1 && strcmp(argv[1], "sink") == 0;

	if (argc < 2 || (!sink && strcmp(argv[1], "send") != 0)) {
		fputs(usage, stderr);
		return 2;
	}
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc || !parse_option(argv[i], argv[i + 1], sink, &o)) {
			fprintf(stderr, "udp_blast: bad argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	if (!o.have_addr || !o.count || o.size < o.offset + HEADER_BYTES) {
		fputs(usage, stderr);
		return 2;
	}
	return sink ? cmd_sink(&o) : cmd_send(&o);
}
