#include "ctl/framing.h"

#include <stdlib.h>
#include <string.h>

uint8_t *ctl_frame_reader_space(struct ctl_frame_reader *r, size_t *room)
{
	/* Frames already handed out are dropped here, not in next(), so that their payload
	 * pointers stay valid while the caller handles them. */
	if (r->taken) {
		memmove(r->buf, r->buf + r->taken, r->fill - r->taken);
		r->fill -= r->taken;
		r->taken = 0;
	}
	*room = sizeof(r->buf) - r->fill;
	return r->buf + r->fill;
}

void ctl_frame_reader_filled(struct ctl_frame_reader *r, size_t len)
{
	r->fill += len;
}

bool ctl_frame_reader_next(struct ctl_frame_reader *r, const uint8_t **payload, size_t *len)
{
	size_t held = r->fill - r->taken;
	if (held < CTL_FRAME_HEADER)
		return false;
	const uint8_t *at = r->buf + r->taken;
	size_t frame_len = (size_t)at[0] << 8 | at[1];
	if (held < CTL_FRAME_HEADER + frame_len)
		return false;
	*payload = at + CTL_FRAME_HEADER;
	*len = frame_len;
	r->taken += CTL_FRAME_HEADER + frame_len;
	return true;
}

void ctl_byte_queue_free(struct ctl_byte_queue *q)
{
	free(q->buf);
	*q = (struct ctl_byte_queue){ 0 };
}

size_t ctl_byte_queue_len(const struct ctl_byte_queue *q)
{
	return q->tail - q->head;
}

/* Room for `extra` more bytes at the tail: the written part is reclaimed first, the
 * buffer grown only when that is not enough. */
static bool reserve(struct ctl_byte_queue *q, size_t extra)
{
	size_t len = ctl_byte_queue_len(q);
	if (q->cap - q->tail >= extra)
		return true;
	if (q->head) {
		memmove(q->buf, q->buf + q->head, len);
		q->head = 0;
		q->tail = len;
		if (q->cap - q->tail >= extra)
			return true;
	}
	size_t cap = q->cap ? q->cap : 4096;
	while (cap - len < extra)
		cap *= 2;
	uint8_t *grown = realloc(q->buf, cap);
	if (!grown)
		return false;
	q->buf = grown;
	q->cap = cap;
	return true;
}

bool ctl_byte_queue_push(struct ctl_byte_queue *q, const uint8_t *bytes, size_t len,
			 size_t limit)
{
	if (ctl_byte_queue_len(q) + len > limit || !reserve(q, len))
		return false;
	memcpy(q->buf + q->tail, bytes, len);
	q->tail += len;
	return true;
}

bool ctl_byte_queue_push_frame(struct ctl_byte_queue *q, const uint8_t *payload, size_t len,
			       size_t limit)
{
	if (len > CTL_FRAME_MAX || ctl_byte_queue_len(q) + CTL_FRAME_HEADER + len > limit ||
	    !reserve(q, CTL_FRAME_HEADER + len))
		return false;
	q->buf[q->tail] = (uint8_t)(len >> 8);
	q->buf[q->tail + 1] = (uint8_t)len;
	memcpy(q->buf + q->tail + CTL_FRAME_HEADER, payload, len);
	q->tail += CTL_FRAME_HEADER + len;
	return true;
}

const uint8_t *ctl_byte_queue_front(const struct ctl_byte_queue *q, size_t *len)
{
	*len = ctl_byte_queue_len(q);
	return q->buf + q->head;
}

void ctl_byte_queue_consume(struct ctl_byte_queue *q, size_t len)
{
	q->head += len;
	if (q->head == q->tail)
		q->head = q->tail = 0;
}
