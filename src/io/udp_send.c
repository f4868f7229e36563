/* UDP for the I/O layer: batched send. A batch goes out in as few system calls as the
 * kernel allows: sendmmsg for the batch, and within it, runs of datagrams of one size to
 * one destination as a single UDP GSO message (UDP_SEGMENT): the kernel walks its stack
 * once per run instead of once per datagram, which is most of what a datagram costs.
 * A socket or route that refuses GSO gets its datagrams one by one from then on. */
#include "io/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "braid/error.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum {
	CHUNK = 64,            /* messages per sendmmsg */
	GSO_MAX_SEGMENTS = 64, /* the kernel's limit (UDP_MAX_SEGMENTS) */
	GSO_MAX_BYTES = 65000, /* a GSO message is one IP datagram before segmentation */
	GSO_OFF_FDS = 4096,    /* sockets remembered as refusing GSO */
};

/* Sockets on which GSO failed: a device without checksum offload, or a kernel without
 * UDP_SEGMENT. Indexed by descriptor; a descriptor reused for another socket may retry
 * once and be marked again. */
static unsigned char gso_off[GSO_OFF_FDS / 8];
static bool gso_disabled_everywhere;

static bool gso_allowed(int fd)
{
	if (gso_disabled_everywhere || fd < 0)
		return false;
	return fd >= GSO_OFF_FDS || !(gso_off[fd / 8] & (1u << (fd % 8)));
}

static void gso_refused(int fd)
{
	if (fd >= 0 && fd < GSO_OFF_FDS)
		gso_off[fd / 8] |= (unsigned char)(1u << (fd % 8));
	else
		gso_disabled_everywhere = true;
}

enum send_outcome { SEND_DROPPED, SEND_RETRY, SEND_FAILED };

static enum send_outcome classify_send_error(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case ENOBUFS:
		/* A full buffer: counted as sent-and-dropped so callers never spin on it. */
		return SEND_DROPPED;
	case ECONNREFUSED:
		/* An earlier datagram's ICMP error, now cleared: this one was never sent. */
	case EINTR:
		return SEND_RETRY;
	case EINVAL:        /* an address the kernel refuses (port 0, another family) */
	case EACCES:        /* broadcast */
	case EPERM:         /* a firewall rule */
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EMSGSIZE:
		/* This datagram's destination or size, not the socket: drop it alone, or one
		 * stranger's unsendable address would lose the whole batch behind it. */
		return SEND_DROPPED;
	default:
		return SEND_FAILED;
	}
}

/* One message of a sendmmsg call: a datagram, or a GSO run of `count` datagrams. */
struct send_msg {
	size_t first, count;
	_Alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))];
};

static bool same_destination(const struct braid_datagram *a, const struct braid_datagram *b)
{
	return a->addr.len == b->addr.len &&
	       memcmp(&a->addr.u.storage, &b->addr.u.storage, a->addr.len) == 0;
}

/* How many datagrams from batch[i] form one GSO run: the same destination, the same size
 * (the last may be shorter), within the kernel's limits. 1 when no run. */
static size_t run_length(const struct braid_datagram *batch, size_t i, size_t n, bool gso)
{
	size_t seg = batch[i].len, count = 1, bytes = seg;
	if (!gso || seg == 0)
		return 1;
	while (i + count < n && count < GSO_MAX_SEGMENTS) {
		const struct braid_datagram *d = &batch[i + count];
		if (d->len == 0 || d->len > seg || bytes + d->len > GSO_MAX_BYTES ||
		    !same_destination(&batch[i], d))
			break;
		bytes += d->len;
		count++;
		if (d->len < seg)
			break; /* a shorter one ends the run */
	}
	return count;
}

static void prepare_msg(const struct braid_datagram *batch, struct send_msg *sm,
			struct mmsghdr *m, struct iovec *iov)
{
	const struct braid_datagram *d = &batch[sm->first];
	for (size_t k = 0; k < sm->count; k++) {
		iov[k].iov_base = batch[sm->first + k].buf;
		iov[k].iov_len = batch[sm->first + k].len;
	}
	memset(m, 0, sizeof(*m));
	if (d->addr.len != 0) {
		/* msg_name is not const in struct msghdr; the kernel only reads it. */
		m->msg_hdr.msg_name = (void *)(uintptr_t)&d->addr.u.storage;
		m->msg_hdr.msg_namelen = d->addr.len;
	}
	m->msg_hdr.msg_iov = iov;
	m->msg_hdr.msg_iovlen = sm->count;
	if (sm->count > 1) {
		uint16_t seg = (uint16_t)d->len;
		m->msg_hdr.msg_control = sm->control;
		m->msg_hdr.msg_controllen = sizeof(sm->control);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg_hdr);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

/* Sends a GSO run's datagrams one by one (the socket refused GSO). Returns false when the
 * socket failed for good before any of them went. */
static bool send_singly(int fd, const struct braid_datagram *batch, const struct send_msg *sm)
{
	for (size_t k = 0; k < sm->count; k++) {
		const struct braid_datagram *d = &batch[sm->first + k];
		if (braid_udp_send(fd, &d->addr, d->buf, d->len) < 0 && k == 0)
			return false;
	}
	return true;
}

/* Sends msgs[0..n); returns how many messages were consumed (sent, dropped or skipped
 * after a retry), or -1 with errno when the first one failed for good. */
static int send_chunk(int fd, const struct braid_datagram *batch, struct send_msg *sms,
		      struct mmsghdr *msgs, size_t n)
{
	size_t done = 0;
	bool retried = false;

	while (done < n) {
		int sent = sendmmsg(fd, msgs + done, (unsigned)(n - done), MSG_DONTWAIT);

		if (sent > 0) {
			done += (size_t)sent;
			retried = false;
			continue;
		}
		int err = sent == 0 ? EAGAIN : errno;
		if (sms[done].count > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT ||
					    err == EOPNOTSUPP)) {
			/* refused as GSO (no checksum offload on the way, an old kernel) */
			gso_refused(fd);
			if (!send_singly(fd, batch, &sms[done]))
				return done > 0 ? (int)done : -1;
			done++;
			continue;
		}
		switch (classify_send_error(err)) {
		case SEND_RETRY:
			if (!retried) {
				retried = true;
				continue;
			}
			break; /* refused again: skip this message */
		case SEND_DROPPED:
			break;
		case SEND_FAILED:
			errno = err;
			return done > 0 ? (int)done : -1;
		}
		done++;
		retried = false;
	}
	return (int)done;
}

int braid_udp_send_batch(int fd, const struct braid_datagram *batch, size_t n)
{
	struct mmsghdr msgs[CHUNK];
	struct send_msg sms[CHUNK];
	struct iovec iov[CHUNK * GSO_MAX_SEGMENTS];
	size_t done = 0;

	if (n > 0 && !batch)
		return BRAID_ERR_INVAL;
	if (n > INT32_MAX)
		n = INT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if ((!batch[i].buf && batch[i].len > 0) ||
		    batch[i].addr.len > sizeof(batch[i].addr.u.storage))
			return BRAID_ERR_INVAL;
	}
	while (done < n) {
		bool gso = gso_allowed(fd);
		size_t m = 0, next = done, used_iov = 0;
		while (next < n && m < CHUNK) {
			sms[m].first = next;
			sms[m].count = run_length(batch, next, n, gso);
			prepare_msg(batch, &sms[m], &msgs[m], &iov[used_iov]);
			used_iov += sms[m].count;
			next += sms[m].count;
			m++;
		}
		int sent = send_chunk(fd, batch, sms, msgs, m);
		if (sent < 0)
			return done > 0 ? (int)done : BRAID_ERR_IO;
		size_t consumed = 0;
		for (int k = 0; k < sent; k++)
			consumed += sms[k].count;
		done += consumed;
		if ((size_t)sent < m)
			break;
	}
	return (int)done;
}

int braid_udp_send(int fd, const struct braid_addr *to, const uint8_t *buf, size_t len)
{
	const struct sockaddr *name = to && to->len ? &to->u.sa : NULL;
	socklen_t name_len = name ? to->len : 0;

	if ((!buf && len > 0) || name_len > sizeof(to->u.storage))
		return BRAID_ERR_INVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (sendto(fd, buf, len, MSG_DONTWAIT, name, name_len) >= 0)
			return 0;
		switch (classify_send_error(errno)) {
		case SEND_RETRY:
			continue;
		case SEND_DROPPED:
			return 0;
		case SEND_FAILED:
			return BRAID_ERR_IO;
		}
	}
	return 0; /* refused twice: skipped, as in a batch */
}
