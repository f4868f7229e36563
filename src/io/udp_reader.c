/* The receive side of a UDP socket with UDP GRO (see udp_reader.h). Each recvmmsg fills a
 * few large buffers; every message is split by the segment size in its UDP_GRO control
 * message, and the datagrams point into those buffers, so nothing is copied. */
#include "io/udp_reader.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "braid/error.h"
#include "io/udp_internal.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum {
	GRO_MESSAGES = 8,          /* coalesced messages per recvmmsg */
	GRO_MESSAGE_BYTES = 65536, /* a coalesced message is one IP datagram: at most 64 KiB */
	GRO_MAX_SEGMENTS = 128,    /* the kernel's UDP_MAX_SEGMENTS (64 before 6.10) */
	PLAIN_MESSAGES = 32,       /* datagrams per recvmmsg without GRO */
	REFUSED_RETRIES = 4,
};

struct braid_udp_reader {
	int fd;
	bool gro;
	size_t datagram_cap;
	size_t messages;    /* per recvmmsg */
	size_t message_cap; /* bytes of each message's buffer */
	uint8_t *area;      /* messages * message_cap */
	struct braid_datagram *out;
	size_t out_cap;
	uint64_t message_count, datagram_count;
	/* recvmmsg's arguments, set up once: a call resets only what the kernel rewrites */
	struct mmsghdr msgs[PLAIN_MESSAGES];
	struct iovec iov[PLAIN_MESSAGES];
	struct braid_addr from[PLAIN_MESSAGES];
	_Alignas(struct cmsghdr) char control[PLAIN_MESSAGES][CMSG_SPACE(sizeof(int))];
};

static void prepare(struct braid_udp_reader *r)
{
	for (size_t k = 0; k < r->messages; k++) {
		struct msghdr *h = &r->msgs[k].msg_hdr;

		r->iov[k].iov_base = r->area + k * r->message_cap;
		r->iov[k].iov_len = r->message_cap;
		h->msg_name = &r->from[k].u.storage;
		h->msg_iov = &r->iov[k];
		h->msg_iovlen = 1;
		if (r->gro)
			h->msg_control = r->control[k];
	}
}

static void reset(struct braid_udp_reader *r)
{
	for (size_t k = 0; k < r->messages; k++) {
		struct msghdr *h = &r->msgs[k].msg_hdr;

		h->msg_namelen = sizeof(r->from[k].u.storage);
		h->msg_controllen = r->gro ? sizeof(r->control[k]) : 0;
		h->msg_flags = 0;
	}
}

static bool enable_gro(int fd)
{
	int on = 1;
	int saved = errno;
	bool ok = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;

	errno = saved;
	return ok;
}

struct braid_udp_reader *braid_udp_reader_new(int fd, size_t datagram_cap, bool try_gro)
{
	struct braid_udp_reader *r = calloc(1, sizeof(*r));

	if (!r || datagram_cap == 0 || datagram_cap > GRO_MESSAGE_BYTES) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->datagram_cap = datagram_cap;
	r->gro = try_gro && enable_gro(fd);
	r->messages = r->gro ? GRO_MESSAGES : PLAIN_MESSAGES;
	r->message_cap = r->gro ? GRO_MESSAGE_BYTES : datagram_cap;
	r->out_cap = r->gro ? (size_t)GRO_MESSAGES * GRO_MAX_SEGMENTS : PLAIN_MESSAGES;
	r->area = malloc(r->messages * r->message_cap);
	r->out = calloc(r->out_cap, sizeof(*r->out));
	if (!r->area || !r->out) {
		braid_udp_reader_free(r);
		return NULL;
	}
	prepare(r);
	return r;
}

void braid_udp_reader_free(struct braid_udp_reader *r)
{
	if (!r)
		return;
	free(r->area);
	free(r->out);
	free(r);
}

bool braid_udp_reader_gro(const struct braid_udp_reader *r)
{
	return r && r->gro;
}

void braid_udp_reader_counts(const struct braid_udp_reader *r, uint64_t *messages,
			     uint64_t *datagrams)
{
	*messages = r ? r->message_count : 0;
	*datagrams = r ? r->datagram_count : 0;
}

/* The segment size the kernel coalesced by; a message without one is a single datagram. */
static size_t segment_size(struct msghdr *h, size_t len)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int seg;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(c), sizeof(seg));
		if (seg > 0)
			return (size_t)seg;
	}
	return len > 0 ? len : 1;
}

/* Splits message k into datagrams from out[used]; returns the new count. A zero-length
 * datagram is one datagram too. */
static size_t split(struct braid_udp_reader *r, size_t k, struct mmsghdr *m,
		    const struct braid_addr *from, size_t used)
{
	uint8_t *data = r->area + k * r->message_cap;
	size_t len = m->msg_len < r->message_cap ? m->msg_len : r->message_cap;
	size_t seg = segment_size(&m->msg_hdr, len);
	size_t off = 0;

	/* out holds the kernel's most segments per message: a longer message cannot come. */
	do {
		struct braid_datagram *d = &r->out[used++];
		size_t whole = len - off < seg ? len - off : seg;

		d->buf = data + off;
		d->cap = r->datagram_cap;
		d->len = whole < r->datagram_cap ? whole : r->datagram_cap;
		d->truncated = whole > r->datagram_cap;
		d->addr = *from;
		off += seg;
	} while (off < len && used < r->out_cap);
	if (m->msg_hdr.msg_flags & MSG_TRUNC)
		r->out[used - 1].truncated = 1;
	return used;
}

/* One recvmmsg: the message count, 0 when none waits, or -1 with errno. */
static int receive(struct braid_udp_reader *r)
{
	int got;

	reset(r);
	for (int refused = 0;; refused++) {
		got = recvmmsg(r->fd, r->msgs, (unsigned)r->messages, MSG_DONTWAIT, NULL);
		/* An ICMP error left on the socket is reported once, then cleared: the
		 * datagrams behind it are still there to read. */
		if (got >= 0 || errno != ECONNREFUSED || refused >= REFUSED_RETRIES)
			break;
	}
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	return got;
}

int braid_udp_reader_recv(struct braid_udp_reader *r, struct braid_datagram **out)
{
	size_t used = 0;
	int got;

	if (!r || !out)
		return BRAID_ERR_INVAL;
	*out = r->out;
	got = receive(r);
	if (got < 0)
		return BRAID_ERR_IO;
	for (int k = 0; k < got && used < r->out_cap; k++) {
		struct braid_addr *from = &r->from[k];

		from->len = r->msgs[k].msg_hdr.msg_namelen;
		if (from->len > sizeof(from->u.storage))
			from->len = sizeof(from->u.storage);
		braid_udp_unmap_v4(from);
		used = split(r, (size_t)k, &r->msgs[k], from, used);
	}
	r->message_count += (uint64_t)got;
	r->datagram_count += used;
	return (int)used;
}
