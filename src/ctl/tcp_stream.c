#include "ctl/tcp_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ctl/framing.h"
#include "io/tcp.h"

struct ctl_stream {
	struct braid_loop *loop;
	int fd;
	bool connecting, paused, closed, in_loop, was_congested;
	struct ctl_stream_handlers h;
	void *arg;
	struct ctl_frame_reader reader;
	struct ctl_byte_queue out;
};

static void update_events(struct ctl_stream *s)
{
	if (s->closed)
		return;
	uint32_t events = (s->paused ? 0 : EPOLLIN) |
			  (s->connecting || ctl_byte_queue_len(&s->out) ? EPOLLOUT : 0);
	braid_loop_mod_fd(s->loop, s->fd, events);
}

static void shut(struct ctl_stream *s, const char *what, int err)
{
	char why[160];
	if (s->closed)
		return;
	s->closed = true;
	if (s->in_loop)
		braid_loop_del_fd(s->loop, s->fd);
	s->in_loop = false;
	if (err)
		snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	else
		snprintf(why, sizeof(why), "%s", what);
	s->h.closed(s->arg, why);
}

/* Writes what the socket takes now. */
static void flush(struct ctl_stream *s)
{
	size_t len;
	const uint8_t *front = ctl_byte_queue_front(&s->out, &len);
	while (len && !s->connecting && !s->closed) {
		ssize_t n = braid_tcp_send(s->fd, front, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				shut(s, "cannot send", errno);
			break;
		}
		ctl_byte_queue_consume(&s->out, (size_t)n);
		front = ctl_byte_queue_front(&s->out, &len);
	}
	if (s->was_congested && !ctl_stream_congested(s)) {
		s->was_congested = false;
		s->h.drained(s->arg);
	}
}

static void finish_connect(struct ctl_stream *s)
{
	int err = braid_tcp_connect_result(s->fd);
	if (err) {
		shut(s, "cannot connect", err);
		return;
	}
	s->connecting = false;
}

/* One read per wake-up: the loop is level-triggered, so what is left comes next turn,
 * after the other sessions had theirs. */
static void read_frames(struct ctl_stream *s)
{
	size_t room;
	uint8_t *space = ctl_frame_reader_space(&s->reader, &room);
	ssize_t n = braid_tcp_recv(s->fd, space, room);
	if (n == 0) {
		shut(s, "the peer closed the connection", 0);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			shut(s, "cannot receive", errno);
		return;
	}
	ctl_frame_reader_filled(&s->reader, (size_t)n);
	uint64_t now = braid_loop_now(s->loop);
	const uint8_t *payload;
	size_t len;
	while (!s->closed && ctl_frame_reader_next(&s->reader, &payload, &len))
		s->h.frame(s->arg, payload, len, now);
}

static void on_event(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_stream *s = arg;
	(void)loop;
	(void)fd;
	if (s->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		finish_connect(s);
	if (s->closed)
		return;
	if (events & EPOLLOUT)
		flush(s);
	/* A hang-up while paused is still read: the data before it, then the end. */
	if (!s->closed && !s->connecting && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_frames(s);
	update_events(s);
}

struct ctl_stream *ctl_stream_new(struct braid_loop *loop, int fd, bool connecting,
				  const struct ctl_stream_handlers *h, void *arg)
{
	struct ctl_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	*s = (struct ctl_stream){ .loop = loop, .fd = fd, .connecting = connecting, .h = *h,
				  .arg = arg };
	uint32_t events = connecting ? EPOLLOUT : EPOLLIN;
	if (braid_loop_add_fd(loop, fd, events, on_event, s) < 0) {
		free(s);
		return NULL;
	}
	s->in_loop = true;
	return s;
}

void ctl_stream_free(struct ctl_stream *s)
{
	if (!s)
		return;
	if (s->in_loop)
		braid_loop_del_fd(s->loop, s->fd);
	close(s->fd);
	ctl_byte_queue_free(&s->out);
	free(s);
}

bool ctl_stream_send(struct ctl_stream *s, const uint8_t *payload, size_t len)
{
	if (s->closed)
		return false;
	bool idle = ctl_byte_queue_len(&s->out) == 0;
	if (!ctl_byte_queue_push_frame(&s->out, payload, len, CTL_STREAM_QUEUE_MAX))
		return false;
	if (idle && !s->connecting) {
		flush(s);
		if (!s->closed && ctl_byte_queue_len(&s->out))
			update_events(s); /* the rest waits for EPOLLOUT */
	}
	if (ctl_stream_congested(s))
		s->was_congested = true;
	return !s->closed;
}

bool ctl_stream_congested(const struct ctl_stream *s)
{
	return ctl_byte_queue_len(&s->out) > CTL_STREAM_HIGH_WATER;
}

bool ctl_stream_closed(const struct ctl_stream *s)
{
	return s->closed;
}

void ctl_stream_pause(struct ctl_stream *s, bool paused)
{
	if (s->paused == paused)
		return;
	s->paused = paused;
	update_events(s);
}
