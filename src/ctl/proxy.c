#include "ctl/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "braid/rtcp.h"
#include "braid/rtcp_session.h"
#include "braid/rtp.h"
#include "ctl/endpoint.h"
#include "ctl/policy.h"
#include "ctl/tcp_stream.h"
#include "io/tcp.h"
#include "io/udp.h"

#define BATCH 16
#define DATAGRAM_MAX 65536
#define SR_MEMORY 8
#define RTCP_PORT_TRIES 32

enum side { SOURCE_SIDE, DEST_SIDE };
enum channel { RTP_CHANNEL, RTCP_CHANNEL };

/* A socket, or (TCP) a connection, of one side and channel, and the callbacks' argument.
 * TCP: the source side's fd listens; the destination side's is bound, and connected when
 * the source's connection comes (it then belongs to the stream). */
struct proxy_socket {
	struct ctl_proxy *proxy;
	enum side side;
	enum channel channel;
	int fd;
	struct ctl_stream *stream;
};

/* SRs passed on, by the middle bits of their NTP time, to match the LSR of the answers. */
struct sr_memory {
	uint32_t lsr[SR_MEMORY];
	uint64_t at_us[SR_MEMORY];
	size_t next;
	double rtt_ms; /* the latest this leg gave; 0: none yet */
};

struct ctl_proxy {
	struct braid_loop *loop;
	struct ctl_spec spec;
	bool tcp;
	ctl_proxy_changed_fn changed;
	void *changed_arg;
	struct proxy_socket sockets[2][2]; /* [side][channel] */
	struct braid_addr dest[2];
	struct braid_addr source[2];
	uint64_t source_heard_us[2];       /* 0: not latched */
	struct ctl_bucket packet_bucket, bit_bucket;
	struct ctl_stats stats;
	struct braid_rtcp_receiver_stream stream; /* the source's RTP */
	bool stream_bound;
	uint64_t lost_before;               /* lost by earlier SSRCs of the source */
	double latency_us;                  /* moving average */
	struct sr_memory sr_from[2];        /* SRs of the source [0] and the destination [1] */
	bool active, failed;
	char error[CTL_ERROR_MAX];
	uint64_t last_activity_us;
	uint8_t *buffers;
	struct braid_datagram rx[BATCH];
};

uint32_t ctl_rtp_clock_rate(uint8_t payload_type)
{
	if (payload_type <= 9 || (payload_type >= 12 && payload_type <= 13) || payload_type == 15 ||
	    payload_type == 18)
		return payload_type == 6 ? 16000 : 8000;
	if (payload_type == 10 || payload_type == 11)
		return 44100;
	if (payload_type == 16)
		return 11025;
	if (payload_type == 17)
		return 22050;
	return 90000; /* MPA, video and MP2T types, and every dynamic one */
}

static void fail_because(struct ctl_proxy *p, const char *why)
{
	if (p->failed)
		return;
	p->failed = true;
	snprintf(p->error, sizeof(p->error), "%s", why);
	p->changed(p->changed_arg);
}

static void fail(struct ctl_proxy *p, const char *what, int err)
{
	char why[CTL_ERROR_MAX];
	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	fail_because(p, why);
}

static bool valid_datagram(enum channel channel, const uint8_t *buf, size_t len)
{
	struct braid_rtp_header h;
	if (braid_rtp_looks_like_rtcp(buf, len))
		return braid_rtcp_check(buf, len, BRAID_RTCP_REDUCED_SIZE) > 0;
	return channel == RTP_CHANNEL && braid_rtp_parse(buf, len, &h) == 0;
}

/* A new address on a side takes over only once the latched one has gone quiet. */
static bool from_source(struct ctl_proxy *p, enum channel c, const struct braid_addr *from,
			uint64_t now)
{
	if (!p->source_heard_us[c] || braid_addr_equal(&p->source[c], from))
		return true;
	return now - p->source_heard_us[c] >= CTL_PROXY_RELATCH_US;
}

static void on_source_rtp(struct ctl_proxy *p, const uint8_t *buf, size_t len, uint64_t now)
{
	struct braid_rtp_header h;
	if (braid_rtp_parse(buf, len, &h) != 0)
		return; /* RTCP multiplexed on the RTP port */
	if (!p->stream_bound || p->stream.ssrc != h.ssrc) {
		if (p->stream_bound)
			p->lost_before = p->stats.packets_lost;
		struct braid_rtcp_stream_config cfg = {
			.ssrc = h.ssrc, .clock_rate = ctl_rtp_clock_rate(h.payload_type),
			.probation = 0, /* the source is known: it is the one sending to us */
		};
		braid_rtcp_receiver_stream_init(&p->stream, &cfg);
		p->stream_bound = true;
	}
	braid_rtcp_receiver_stream_on_rtp(&p->stream, &h, now);
	const struct braid_rtp_source *s = &p->stream.source;
	uint32_t expected = braid_rtp_source_ext_max(s) - s->base_seq + 1;
	int64_t lost = (int64_t)expected - (int64_t)s->received;
	p->stats.packets_lost = p->lost_before + (lost > 0 ? (uint64_t)lost : 0);
	p->stats.jitter_ms = 1000.0 * braid_rtp_jitter_value(&p->stream.jitter) /
			     p->stream.clock_rate;
}

static void remember_sr(struct sr_memory *m, uint64_t ntp, uint64_t now)
{
	m->lsr[m->next] = braid_ntp_middle(ntp);
	m->at_us[m->next] = now;
	m->next = (m->next + 1) % SR_MEMORY;
}

static void match_block(struct sr_memory *m, const struct braid_rtcp_report_block *b,
			uint64_t now)
{
	if (!b->lsr)
		return;
	for (size_t i = 0; i < SR_MEMORY; i++) {
		if (m->at_us[i] && m->lsr[i] == b->lsr) {
			uint64_t dlsr_us = (uint64_t)b->dlsr * 1000000 / 65536;
			uint64_t elapsed = now - m->at_us[i];
			if (elapsed >= dlsr_us)
				m->rtt_ms = (double)(elapsed - dlsr_us) / 1000.0;
			return;
		}
	}
}

/* SRs a side sends are remembered; report blocks it sends answer the other side's SRs. */
static void on_rtcp(struct ctl_proxy *p, enum side from, const uint8_t *buf, size_t len,
		    uint64_t now)
{
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet pkt;
	struct sr_memory *own = &p->sr_from[from], *other = &p->sr_from[!from];
	if (braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE) < 0)
		return;
	while (braid_rtcp_read(&r, &pkt) == 1) {
		const struct braid_rtcp_report_block *blocks = NULL;
		size_t count = 0;
		if (pkt.kind == BRAID_RTCP_KIND_SR) {
			remember_sr(own, pkt.u.sr.ntp, now);
			blocks = pkt.u.sr.blocks;
			count = pkt.u.sr.block_count;
		} else if (pkt.kind == BRAID_RTCP_KIND_RR) {
			blocks = pkt.u.rr.blocks;
			count = pkt.u.rr.block_count;
		}
		for (size_t i = 0; i < count; i++)
			match_block(other, &blocks[i], now);
	}
	p->stats.rtt_ms = p->sr_from[SOURCE_SIDE].rtt_ms + p->sr_from[DEST_SIDE].rtt_ms;
}

static void note_latency(struct ctl_proxy *p, uint64_t received_us)
{
	double sample = (double)(braid_clock_now_us() - received_us);
	p->latency_us = p->latency_us == 0 ? sample : p->latency_us + (sample - p->latency_us) / 16;
	p->stats.latency_ms = p->latency_us / 1000.0;
}

static bool within_rate(struct ctl_proxy *p, size_t len, uint64_t now)
{
	uint64_t bits = (uint64_t)len * 8;
	if (!ctl_bucket_has(&p->packet_bucket, 1, now) || !ctl_bucket_has(&p->bit_bucket, bits, now))
		return false;
	ctl_bucket_take(&p->packet_bucket, 1, now);
	ctl_bucket_take(&p->bit_bucket, bits, now);
	return true;
}

static void mark_active(struct ctl_proxy *p, uint64_t now)
{
	p->last_activity_us = now;
	if (!p->active) {
		p->active = true;
		p->changed(p->changed_arg);
	}
}

/* TCP: a frame queued on the connection; when that connection is congested, the one
 * feeding it stops reading until it drains, so that TCP slows the sender. */
static bool send_tcp(struct ctl_proxy *p, enum side to, enum channel c, const uint8_t *buf,
		     size_t len)
{
	struct ctl_stream *out = p->sockets[to][c].stream;
	struct ctl_stream *in = p->sockets[!to][c].stream;
	if (!out || !ctl_stream_send(out, buf, len))
		return false;
	if (in && ctl_stream_congested(out))
		ctl_stream_pause(in, true);
	return true;
}

static bool send_udp(struct ctl_proxy *p, enum side to, enum channel c, const uint8_t *buf,
		     size_t len)
{
	const struct braid_addr *addr = to == DEST_SIDE ? &p->dest[c] : &p->source[c];
	if (braid_udp_send(p->sockets[to][c].fd, addr, buf, len) < 0) {
		/* The latched source is whoever sent valid RTP: an address the kernel will not
		 * send to (port 0, broadcast, unreachable) costs that datagram, not the
		 * session. Only the configured destination failing is the session's error. */
		if (to == DEST_SIDE && errno != EAGAIN && errno != ENOBUFS &&
		    errno != ECONNREFUSED)
			fail(p, "cannot send", errno);
		return false;
	}
	return true;
}

static void relay(struct ctl_proxy *p, enum side to, enum channel c, const uint8_t *buf,
		  size_t len, uint64_t now)
{
	p->stats.packets_received++;
	p->stats.bytes_received += len;
	if (!(p->tcp ? send_tcp(p, to, c, buf, len) : send_udp(p, to, c, buf, len)))
		return;
	p->stats.packets_sent++;
	p->stats.bytes_sent += len;
	note_latency(p, now);
}

/* A packet from the source side. `from` is its address over UDP, NULL over TCP, where
 * the accepted connection is the source and nothing is latched. */
static void from_source_side(struct ctl_proxy *p, enum channel c, const uint8_t *buf,
			     size_t len, const struct braid_addr *from, uint64_t now)
{
	if (!valid_datagram(c, buf, len) || (from && !from_source(p, c, from, now))) {
		p->stats.packets_invalid++;
		return;
	}
	bool rtcp = braid_rtp_looks_like_rtcp(buf, len);
	if (!rtcp && !within_rate(p, len, now)) {
		p->stats.packets_rate_limited++;
		return;
	}
	if (from)
		p->source[c] = *from;
	p->source_heard_us[c] = now;
	if (rtcp)
		on_rtcp(p, SOURCE_SIDE, buf, len, now);
	else
		on_source_rtp(p, buf, len, now);
	mark_active(p, now);
	relay(p, DEST_SIDE, c, buf, len, now);
}

/* A packet from the destination side; `from` as above. */
static void from_dest_side(struct ctl_proxy *p, enum channel c, const uint8_t *buf,
			   size_t len, const struct braid_addr *from, uint64_t now)
{
	if ((from && !braid_addr_equal(from, &p->dest[c])) || !valid_datagram(c, buf, len)) {
		p->stats.packets_invalid++;
		return;
	}
	if (braid_rtp_looks_like_rtcp(buf, len))
		on_rtcp(p, DEST_SIDE, buf, len, now);
	if (from && !p->source_heard_us[c])
		return; /* nobody to answer yet */
	mark_active(p, now);
	relay(p, SOURCE_SIDE, c, buf, len, now);
}

static void on_readable(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct proxy_socket *s = arg;
	struct ctl_proxy *p = s->proxy;
	(void)events;
	int got = braid_udp_recv_batch(fd, p->rx, BATCH);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++) {
		struct braid_datagram *d = &p->rx[i];
		if (d->truncated)
			p->stats.packets_invalid++;
		else if (s->side == SOURCE_SIDE)
			from_source_side(p, s->channel, d->buf, d->len, &d->addr, now);
		else
			from_dest_side(p, s->channel, d->buf, d->len, &d->addr, now);
	}
}

static void on_frame(void *arg, const uint8_t *payload, size_t len, uint64_t now)
{
	struct proxy_socket *s = arg;
	if (s->side == SOURCE_SIDE)
		from_source_side(s->proxy, s->channel, payload, len, NULL, now);
	else
		from_dest_side(s->proxy, s->channel, payload, len, NULL, now);
}

static void on_stream_closed(void *arg, const char *why)
{
	struct proxy_socket *s = arg;
	char text[CTL_ERROR_MAX];
	snprintf(text, sizeof(text), "%s %s connection: %s",
		 s->side == SOURCE_SIDE ? "source" : "destination",
		 s->channel == RTP_CHANNEL ? "RTP" : "RTCP", why);
	fail_because(s->proxy, text);
}

static void on_stream_drained(void *arg)
{
	struct proxy_socket *s = arg;
	struct ctl_stream *feeder = s->proxy->sockets[!s->side][s->channel].stream;
	if (feeder)
		ctl_stream_pause(feeder, false);
}

static const struct ctl_stream_handlers stream_handlers = {
	.frame = on_frame, .closed = on_stream_closed, .drained = on_stream_drained,
};

/* The source's connection, and the connection to the destination it calls for. One
 * source per channel: later connections are closed at once. */
static void on_accept(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct proxy_socket *listener = arg;
	struct ctl_proxy *p = listener->proxy;
	struct proxy_socket *src = &p->sockets[SOURCE_SIDE][listener->channel];
	struct proxy_socket *dst = &p->sockets[DEST_SIDE][listener->channel];
	(void)events;
	int conn = braid_tcp_accept(fd);
	if (conn < 0)
		return;
	if (src->stream || p->failed) {
		close(conn);
		return;
	}
	src->stream = ctl_stream_new(loop, conn, false, &stream_handlers, src);
	if (!src->stream) {
		close(conn);
		fail_because(p, "cannot watch the source's connection");
		return;
	}
	int out = dst->fd;
	int started = braid_tcp_connect(out, &p->dest[dst->channel]);
	bool connecting = started == 1;
	if (started < 0) {
		fail(p, "cannot connect to the destination", errno);
		return;
	}
	dst->stream = ctl_stream_new(loop, out, connecting, &stream_handlers, dst);
	if (!dst->stream) {
		fail_because(p, "cannot watch the destination's connection");
		return;
	}
	dst->fd = -1; /* the stream's now */
}

static struct braid_addr with_port(const struct braid_addr *a, uint16_t port)
{
	struct braid_addr out = *a;
	if (out.u.sa.sa_family == AF_INET)
		out.u.in4.sin_port = htons(port);
	else
		out.u.in6.sin6_port = htons(port);
	return out;
}

enum socket_role { UDP_SOCKET, TCP_LISTENER, TCP_CLIENT };

static int bind_one(const struct braid_addr *addr, const char *interface,
		    enum socket_role role, enum ctl_code *code, char *err, size_t err_len)
{
	if (role == UDP_SOCKET)
		return ctl_udp_bind(addr, interface, code, err, err_len);
	return ctl_tcp_bind(addr, interface, role == TCP_LISTENER, code, err, err_len);
}

/* RTP on the address asked for, RTCP on the port after it; with port 0, pairs are tried
 * until both ports are free. */
static int bind_pair(struct braid_addr addr, const char *interface, enum socket_role role,
		     bool rtcp, int fds[2], enum ctl_code *code, char *err, size_t err_len)
{
	bool any_port = braid_addr_port(&addr) == 0;
	for (int attempt = 0; attempt < (any_port ? RTCP_PORT_TRIES : 1); attempt++) {
		fds[0] = bind_one(&addr, interface, role, code, err, err_len);
		if (fds[0] < 0 || !rtcp)
			return fds[0] < 0 ? -1 : 0;
		struct braid_addr bound;
		braid_udp_local(fds[0], &bound);
		uint16_t port = braid_addr_port(&bound);
		if (port < 65535) {
			struct braid_addr next = with_port(&addr, (uint16_t)(port + 1));
			fds[1] = bind_one(&next, interface, role, code, err, err_len);
			if (fds[1] >= 0)
				return 0;
		} else {
			*code = CTL_EXISTS;
			snprintf(err, err_len, "no port above %u for RTCP", port);
		}
		close(fds[0]);
		fds[0] = -1;
		if (*code != CTL_EXISTS)
			break;
	}
	return -1;
}

static int open_sockets(struct ctl_proxy *p, enum ctl_code *code, char *err, size_t err_len)
{
	struct braid_addr listen, forward;
	const struct ctl_spec *s = &p->spec;
	*code = ctl_endpoint_addr(&s->destination, false, 0, &p->dest[0], err, err_len);
	if (*code)
		return -1;
	p->dest[1] = with_port(&p->dest[0], (uint16_t)(s->destination.port + 1));
	int family = p->dest[0].u.sa.sa_family;
	*code = ctl_endpoint_addr(&s->listen, true, AF_INET6, &listen, err, err_len);
	if (!*code)
		*code = ctl_endpoint_addr(&s->forward, true, family, &forward, err, err_len);
	if (*code)
		return -1;
	int fds[2][2] = { { -1, -1 }, { -1, -1 } };
	if (bind_pair(listen, s->listen.interface, p->tcp ? TCP_LISTENER : UDP_SOCKET, s->rtcp,
		      fds[SOURCE_SIDE], code, err, err_len) < 0 ||
	    bind_pair(forward, s->forward.interface, p->tcp ? TCP_CLIENT : UDP_SOCKET, s->rtcp,
		      fds[DEST_SIDE], code, err, err_len) < 0) {
		for (int i = 0; i < 2; i++)
			if (fds[SOURCE_SIDE][i] >= 0)
				close(fds[SOURCE_SIDE][i]);
		return -1;
	}
	for (int side = 0; side < 2; side++)
		for (int c = 0; c < 2; c++)
			p->sockets[side][c] = (struct proxy_socket){ p, (enum side)side,
								      (enum channel)c, fds[side][c],
								      NULL };
	for (int side = 0; side < 2; side++) {
		for (int c = 0; c < 2; c++) {
			/* TCP: the destination side's sockets wait, unwatched, for connect() */
			if (fds[side][c] < 0 || (p->tcp && side == DEST_SIDE))
				continue;
			if (braid_loop_add_fd(p->loop, fds[side][c], EPOLLIN,
					      p->tcp ? on_accept : on_readable,
					      &p->sockets[side][c]) < 0) {
				*code = CTL_INTERNAL;
				snprintf(err, err_len, "cannot watch a socket");
				return -1;
			}
		}
	}
	return 0;
}

struct ctl_proxy *ctl_proxy_open(struct braid_loop *loop, const struct ctl_spec *spec,
				 ctl_proxy_changed_fn changed, void *arg, enum ctl_code *code,
				 char *err, size_t err_len)
{
	struct ctl_proxy *p = calloc(1, sizeof(*p));
	if (p)
		p->buffers = malloc((size_t)BATCH * DATAGRAM_MAX);
	if (!p || !p->buffers) {
		free(p);
		*code = CTL_INTERNAL;
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	p->loop = loop;
	p->spec = *spec;
	p->tcp = spec->transport == CTL_TRANSPORT_TCP;
	p->changed = changed;
	p->changed_arg = arg;
	for (int side = 0; side < 2; side++)
		for (int c = 0; c < 2; c++)
			p->sockets[side][c].fd = -1;
	for (size_t i = 0; i < BATCH; i++)
		p->rx[i] = (struct braid_datagram){ .buf = p->buffers + i * DATAGRAM_MAX,
						    .cap = DATAGRAM_MAX };
	uint64_t now = braid_loop_now(loop);
	ctl_bucket_init(&p->packet_bucket, spec->max_packet_rate, now);
	ctl_bucket_init(&p->bit_bucket, spec->max_bitrate, now);
	if (open_sockets(p, code, err, err_len) < 0) {
		ctl_proxy_close(p);
		return NULL;
	}
	return p;
}

void ctl_proxy_close(struct ctl_proxy *p)
{
	if (!p)
		return;
	for (int side = 0; side < 2; side++) {
		for (int c = 0; c < 2; c++) {
			struct proxy_socket *s = &p->sockets[side][c];
			ctl_stream_free(s->stream);
			if (s->fd < 0)
				continue;
			if (!(p->tcp && side == DEST_SIDE))
				braid_loop_del_fd(p->loop, s->fd);
			close(s->fd);
		}
	}
	free(p->buffers);
	free(p);
}

void ctl_proxy_listen(const struct ctl_proxy *p, struct ctl_endpoint *out)
{
	struct braid_addr bound;
	braid_udp_local(p->sockets[SOURCE_SIDE][RTP_CHANNEL].fd, &bound);
	ctl_endpoint_from_addr(&bound, &p->spec.listen, out);
}

enum ctl_state ctl_proxy_state(const struct ctl_proxy *p, char *err, size_t err_len)
{
	if (p->failed) {
		snprintf(err, err_len, "%s", p->error);
		return CTL_STATE_ERROR;
	}
	return p->active ? CTL_STATE_ACTIVE : CTL_STATE_CONNECTING;
}

void ctl_proxy_stats(const struct ctl_proxy *p, struct ctl_stats *out)
{
	*out = p->stats;
}

uint64_t ctl_proxy_last_activity(const struct ctl_proxy *p)
{
	return p->last_activity_us;
}
