#include "demo_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "io/udp.h"

#define PAYLOAD 1316
#define TICK_US 2000

/* Every byte of a datagram follows from its number, so the sink can check it whole. */
static void fill(uint8_t *buf, uint64_t seq)
{
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(seq >> (56 - 8 * i));
	uint32_t x = (uint32_t)seq * 2654435761u + 1;
	for (size_t i = 8; i < PAYLOAD; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

static void on_tick(struct braid_loop *loop, void *arg)
{
	struct braid_demo_stream *s = arg;
	uint64_t now = braid_loop_now(loop);
	uint64_t due = (now - s->started_us) * s->bitrate / (PAYLOAD * 8) / 1000000 + 1;
	uint8_t buf[PAYLOAD];
	while (s->running && s->next_seq < due) {
		fill(buf, s->next_seq++);
		braid_udp_send(s->source_fd, &s->target, buf, sizeof(buf));
		s->stats.sent++;
		s->stats.bytes_sent += sizeof(buf);
	}
	if (s->running)
		braid_timer_start(loop, &s->timer, now + TICK_US);
}

static void check(struct braid_demo_stream *s, const uint8_t *buf, size_t len)
{
	uint8_t want[PAYLOAD];
	if (len != PAYLOAD) {
		s->stats.corrupt++;
		return;
	}
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | buf[i];
	fill(want, seq);
	if (memcmp(want, buf, PAYLOAD) != 0) {
		s->stats.corrupt++;
		return;
	}
	if (seq < s->expected) {
		s->stats.disordered++;
		return;
	}
	s->stats.skipped += seq - s->expected;
	s->expected = seq + 1;
	s->stats.received++;
	s->stats.bytes_received += len;
}

static void on_sink(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_demo_stream *s = arg;
	static uint8_t bufs[16][PAYLOAD + 64];
	struct braid_datagram batch[16];
	(void)loop;
	(void)events;
	for (size_t i = 0; i < 16; i++)
		batch[i] = (struct braid_datagram){ .buf = bufs[i], .cap = sizeof(bufs[i]) };
	int got = braid_udp_recv_batch(fd, batch, 16);
	for (int i = 0; i < got; i++)
		check(s, batch[i].buf, batch[i].len);
}

int braid_demo_stream_open(struct braid_demo_stream *s, struct braid_loop *loop, uint64_t bitrate,
			   char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->bitrate = bitrate;
	s->source_fd = s->sink_fd = -1;
	braid_timer_init(&s->timer, on_tick, s);
	struct braid_addr local;
	braid_addr_parse("127.0.0.1:0", 1, &local);
	struct braid_udp_options opt = { .bind = &local };
	s->source_fd = braid_udp_open(&opt);
	s->sink_fd = braid_udp_open(&opt);
	if (s->source_fd < 0 || s->sink_fd < 0 || braid_udp_local(s->sink_fd, &s->sink_addr) < 0 ||
	    braid_loop_add_fd(loop, s->sink_fd, EPOLLIN, on_sink, s) < 0) {
		snprintf(err, err_len, "cannot open the test stream's sockets: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int braid_demo_stream_start(struct braid_demo_stream *s, const struct braid_addr *target)
{
	s->target = *target;
	s->running = true;
	s->started_us = braid_loop_now(s->loop);
	braid_timer_start(s->loop, &s->timer, s->started_us);
	return 0;
}

void braid_demo_stream_stop(struct braid_demo_stream *s)
{
	s->running = false;
	braid_timer_stop(s->loop, &s->timer);
}

void braid_demo_stream_close(struct braid_demo_stream *s)
{
	braid_demo_stream_stop(s);
	if (s->sink_fd >= 0) {
		braid_loop_del_fd(s->loop, s->sink_fd);
		close(s->sink_fd);
	}
	if (s->source_fd >= 0)
		close(s->source_fd);
	s->sink_fd = s->source_fd = -1;
}

void braid_demo_stream_get_stats(const struct braid_demo_stream *s,
				 struct braid_demo_stream_stats *out)
{
	*out = s->stats;
	out->missing = s->stats.sent > s->stats.received ? s->stats.sent - s->stats.received : 0;
}
