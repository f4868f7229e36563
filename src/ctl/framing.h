/* RFC 4571 framing: RTP and RTCP packets on a TCP stream, each after a 16-bit big-endian
 * length. Pure byte handling, no sockets: a reader that cuts frames out of whatever the
 * stream delivered (a frame may arrive in pieces, or many in one read), and a queue of
 * bytes still to be written when the socket would block. */
#ifndef BRAID_CTL_FRAMING_H
#define BRAID_CTL_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_FRAME_HEADER 2
#define CTL_FRAME_MAX 65535

struct ctl_frame_reader {
	uint8_t buf[CTL_FRAME_HEADER + CTL_FRAME_MAX]; /* always room for one whole frame */
	size_t fill;  /* bytes held */
	size_t taken; /* bytes of them already handed out as frames */
};

/* Where the next read may put bytes, and how many fit. */
uint8_t *ctl_frame_reader_space(struct ctl_frame_reader *r, size_t *room);
/* Says `len` bytes were put there. */
void ctl_frame_reader_filled(struct ctl_frame_reader *r, size_t len);
/* The next whole frame (its payload, which may be empty) or false when the bytes held
 * end in the middle of one. The payload stays valid until the next space() call. */
bool ctl_frame_reader_next(struct ctl_frame_reader *r, const uint8_t **payload, size_t *len);

/* Bytes waiting to be written, in order. */
struct ctl_byte_queue {
	uint8_t *buf;
	size_t head, tail, cap;
};

void ctl_byte_queue_free(struct ctl_byte_queue *q);
size_t ctl_byte_queue_len(const struct ctl_byte_queue *q);
/* Appends a frame's header and payload; false (nothing appended) when that would take
 * the queue past `limit` bytes or memory runs out. */
bool ctl_byte_queue_push_frame(struct ctl_byte_queue *q, const uint8_t *payload, size_t len,
			       size_t limit);
/* Appends raw bytes (the unwritten rest of a frame), same limit. */
bool ctl_byte_queue_push(struct ctl_byte_queue *q, const uint8_t *bytes, size_t len,
			 size_t limit);
const uint8_t *ctl_byte_queue_front(const struct ctl_byte_queue *q, size_t *len);
void ctl_byte_queue_consume(struct ctl_byte_queue *q, size_t len);

#endif
