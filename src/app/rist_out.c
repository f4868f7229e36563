#include "rist_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "io/seed.h"
#include "io/udp.h"

#define PAIR_TRIES 64
#define BATCH 16

struct braid_rist_out {
	struct braid_loop *loop;
	struct braid_rist_tx *tx;
	struct braid_addr rtp_to, rtcp_to;
	int rtp_fd, rtcp_fd;
	struct braid_timer timer;
	uint64_t send_errors;
	uint64_t foreign; /* RTCP from anyone but the destination: dropped */
	uint8_t buf[BATCH][BRAID_RIST_MAX_DATAGRAM];
	struct braid_datagram rx[BATCH];
};

void braid_rist_set_port(struct braid_addr *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons(port);
	else
		a->u.in4.sin_port = htons(port);
}

static int open_bound(const struct braid_addr *local)
{
	struct braid_udp_options opt = { .bind = local };
	return braid_udp_open(&opt);
}

/* Two sockets on ports P (even) and P + 1, as the profile's peers expect. */
static int open_pair(int family, int *rtp_fd, int *rtcp_fd)
{
	struct braid_addr any;
	memset(&any, 0, sizeof(any));
	any.u.sa.sa_family = (sa_family_t)family;
	any.len = family == AF_INET6 ? sizeof(any.u.in6) : sizeof(any.u.in4);
	for (int i = 0; i < PAIR_TRIES; i++) {
		struct braid_addr probe = any, got;
		int fd = open_bound(&probe);
		if (fd < 0)
			return -1;
		if (braid_udp_local(fd, &got) < 0) {
			close(fd);
			return -1;
		}
		uint16_t port = braid_addr_port(&got);
		if (port % 2 == 0) {
			struct braid_addr odd = any;
			braid_rist_set_port(&odd, (uint16_t)(port + 1));
			int fd2 = open_bound(&odd);
			if (fd2 >= 0) {
				*rtp_fd = fd;
				*rtcp_fd = fd2;
				return 0;
			}
		}
		close(fd);
	}
	errno = EADDRINUSE;
	return -1;
}

static void drain(struct braid_rist_out *o)
{
	uint64_t now = braid_loop_now(o->loop);
	size_t len;
	while (braid_rist_tx_poll_rtp(o->tx, o->buf[0], sizeof(o->buf[0]), &len) == 1)
		if (braid_udp_send(o->rtp_fd, &o->rtp_to, o->buf[0], len) < 0)
			o->send_errors++;
	while (braid_rist_tx_poll_rtcp(o->tx, o->buf[0], sizeof(o->buf[0]), &len) == 1)
		if (braid_udp_send(o->rtcp_fd, &o->rtcp_to, o->buf[0], len) < 0)
			o->send_errors++;
	uint64_t next = braid_rist_tx_next_timeout(o->tx);
	braid_timer_start(o->loop, &o->timer, next > now ? next : now);
}

static void on_timer(struct braid_loop *loop, void *arg)
{
	struct braid_rist_out *o = arg;
	braid_rist_tx_handle_timeout(o->tx, braid_loop_now(loop));
	drain(o);
}

static void on_rtcp(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_rist_out *o = arg;
	(void)events;
	int got = braid_udp_recv_batch(fd, o->rx, BATCH);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++) {
		/* Only the receiver we send to may ask for resends: a NACK forged from elsewhere
		 * must not make us spend the path on it. */
		if (!braid_addr_equal(&o->rx[i].addr, &o->rtcp_to))
			o->foreign++;
		else if (!o->rx[i].truncated)
			braid_rist_tx_handle_rtcp(o->tx, o->rx[i].buf, o->rx[i].len, now);
	}
	drain(o);
}

/* RTP that comes back to the data port is no part of the profile: read and dropped. */
static void on_rtp(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_rist_out *o = arg;
	(void)loop;
	(void)events;
	(void)braid_udp_recv_batch(fd, o->rx, BATCH);
}

static bool draw_config(struct braid_rist_tx_config *cfg, uint64_t buffer_us)
{
	uint32_t r[3];
	braid_rist_tx_config_default(cfg);
	if (braid_seed_bytes(r, sizeof(r)))
		return false;
	cfg->ssrc = r[0];
	cfg->first_seq = (uint16_t)r[1];
	cfg->first_timestamp = r[2];
	if (buffer_us)
		cfg->buffer_us = buffer_us;
	return true;
}

struct braid_rist_out *braid_rist_out_open(struct braid_loop *loop,
					   const struct braid_addr *dest, uint64_t buffer_us,
					   char *err, size_t err_len)
{
	struct braid_rist_out *o = calloc(1, sizeof(*o));
	struct braid_rist_tx_config cfg;
	if (!o || !draw_config(&cfg, buffer_us)) {
		snprintf(err, err_len, "rist output: %s", o ? "no random seed" : "out of memory");
		free(o);
		return NULL;
	}
	o->loop = loop;
	o->rtp_fd = o->rtcp_fd = -1;
	o->rtp_to = o->rtcp_to = *dest;
	braid_rist_set_port(&o->rtcp_to, (uint16_t)(braid_addr_port(dest) + 1));
	for (size_t i = 0; i < BATCH; i++)
		o->rx[i] = (struct braid_datagram){ .buf = o->buf[i], .cap = sizeof(o->buf[i]) };
	braid_timer_init(&o->timer, on_timer, o);
	uint64_t now = braid_loop_now(loop);
	cfg.wall_clock_us = braid_wall_clock_at(now);
	o->tx = braid_rist_tx_new(&cfg, now);
	if (!o->tx || open_pair(dest->u.sa.sa_family, &o->rtp_fd, &o->rtcp_fd) < 0 ||
	    braid_loop_add_fd(loop, o->rtcp_fd, EPOLLIN, on_rtcp, o) < 0 ||
	    braid_loop_add_fd(loop, o->rtp_fd, EPOLLIN, on_rtp, o) < 0) {
		snprintf(err, err_len, "rist output: cannot open an even/odd port pair: %s",
			 strerror(errno));
		braid_rist_out_close(o);
		return NULL;
	}
	drain(o);
	return o;
}

void braid_rist_out_close(struct braid_rist_out *o)
{
	if (!o)
		return;
	braid_timer_stop(o->loop, &o->timer);
	if (o->rtp_fd >= 0) {
		braid_loop_del_fd(o->loop, o->rtp_fd);
		close(o->rtp_fd);
	}
	if (o->rtcp_fd >= 0) {
		braid_loop_del_fd(o->loop, o->rtcp_fd);
		close(o->rtcp_fd);
	}
	braid_rist_tx_free(o->tx);
	free(o);
}

void braid_rist_out_push(struct braid_rist_out *o, const uint8_t *payload, size_t len)
{
	if (braid_rist_tx_push(o->tx, payload, len, braid_loop_now(o->loop)) < 0)
		o->send_errors++;
	drain(o);
}

int braid_rist_out_fd(const struct braid_rist_out *o)
{
	return o->rtp_fd;
}

const struct braid_rist_tx *braid_rist_out_core(const struct braid_rist_out *o)
{
	return o->tx;
}

void braid_rist_out_json(const struct braid_rist_out *o, FILE *f)
{
	struct braid_rist_tx_stats st;
	braid_rist_tx_stats(o->tx, &st);
	fprintf(f, ",\"rist_out\":{\"packets\":%llu,\"bytes\":%llu,\"nacks\":%llu,"
		"\"requested\":%llu,\"retransmitted\":%llu,\"unavailable\":%llu,"
		"\"rtcp_in\":%llu,\"rtcp_malformed\":%llu,\"rtt_ms\":",
		(unsigned long long)st.packets, (unsigned long long)st.bytes,
		(unsigned long long)st.nacks_in, (unsigned long long)st.requested,
		(unsigned long long)st.retransmitted, (unsigned long long)st.unavailable,
		(unsigned long long)st.rtcp_in, (unsigned long long)st.rtcp_malformed);
	if (st.has_rtt)
		fprintf(f, "%.3f", (double)st.rtt_us / 1000.0);
	else
		fputs("null", f);
	fprintf(f, ",\"receiver_lost\":%llu,\"rtcp_foreign\":%llu,\"errors\":%llu}",
		(unsigned long long)st.receiver_lost, (unsigned long long)o->foreign,
		(unsigned long long)o->send_errors);
}
