/* One RFC 4571-framed TCP connection on the event loop, non-blocking: frames read are
 * handed to a callback as they complete; frames sent are written at once when the socket
 * takes them and queued otherwise. Backpressure: past CTL_STREAM_HIGH_WATER queued bytes
 * the stream says it is congested (the one feeding it should stop reading, so that TCP
 * slows the sender down) and calls `drained` once the queue has been written out; a
 * frame that would take the queue past CTL_STREAM_QUEUE_MAX is refused. */
#ifndef BRAID_CTL_TCP_STREAM_H
#define BRAID_CTL_TCP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/loop.h"

#define CTL_STREAM_HIGH_WATER (256u * 1024)
#define CTL_STREAM_QUEUE_MAX (CTL_STREAM_HIGH_WATER + 4u * 65537)

struct ctl_stream;

struct ctl_stream_handlers {
	void (*frame)(void *arg, const uint8_t *payload, size_t len, uint64_t now);
	/* The peer closed, the connection failed or could not be made. The stream has left
	 * the loop by then; free it later, not from here. */
	void (*closed)(void *arg, const char *why);
	void (*drained)(void *arg);
};

/* Takes a connected socket (or one whose non-blocking connect is under way: `connecting`).
 * NULL when out of memory or the loop refuses the fd (the fd is then left open). */
struct ctl_stream *ctl_stream_new(struct braid_loop *loop, int fd, bool connecting,
				  const struct ctl_stream_handlers *h, void *arg);
/* Leaves the loop and closes the socket. */
void ctl_stream_free(struct ctl_stream *s);

/* Queues one frame (written at once when possible); false when it was dropped: the
 * queue is full or the stream is closed. */
bool ctl_stream_send(struct ctl_stream *s, const uint8_t *payload, size_t len);
bool ctl_stream_congested(const struct ctl_stream *s);
bool ctl_stream_closed(const struct ctl_stream *s);
/* Stops or resumes reading. */
void ctl_stream_pause(struct ctl_stream *s, bool paused);

#endif
