#include "rist_node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/seed.h"
#include "io/udp.h"
#include "rist_out.h"

#define BATCH 32

struct braid_rist_node {
	struct braid_loop *loop;
	struct braid_rist_node_config cfg;
	struct braid_rist_rx *rx;
	int rtp_fd, rtcp_fd, out_fd;
	struct braid_rist_out *rist_out;
	struct braid_timer core_timer, stats_timer;
	FILE *json;
	bool close_json;
	uint64_t start_us;
	uint64_t truncated, output_errors;
	uint8_t buffers[BATCH][BRAID_RIST_MAX_DATAGRAM];
	struct braid_datagram in[BATCH];
	uint8_t out[BRAID_RIST_MAX_DATAGRAM];
};

static void write_all(struct braid_rist_node *n, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t w = write(n->out_fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			n->output_errors++;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

static void emit(struct braid_rist_node *n, const uint8_t *buf, size_t len)
{
	if (n->rist_out)
		braid_rist_out_push(n->rist_out, buf, len);
	else if (n->cfg.output == BRAID_OUTPUT_UDP && send(n->out_fd, buf, len, 0) < 0)
		n->output_errors++;
	else if (n->cfg.output != BRAID_OUTPUT_UDP)
		write_all(n, buf, len);
}

static void drain(struct braid_rist_node *n)
{
	uint64_t now = braid_loop_now(n->loop);
	size_t len;
	while (braid_rist_rx_poll_output(n->rx, now, n->out, sizeof(n->out), &len) == 1)
		emit(n, n->out, len);
	struct braid_addr to;
	while (braid_rist_rx_poll_rtcp(n->rx, &to, n->out, sizeof(n->out), &len) == 1)
		(void)braid_udp_send(n->rtcp_fd, &to, n->out, len);
	uint64_t next = braid_rist_rx_next_timeout(n->rx);
	if (next == UINT64_MAX)
		braid_timer_stop(n->loop, &n->core_timer);
	else
		braid_timer_start(n->loop, &n->core_timer, next > now ? next : now);
}

static void on_datagrams(struct braid_rist_node *n, int fd, bool rtcp)
{
	int got = braid_udp_recv_batch(fd, n->in, BATCH);
	uint64_t now = braid_loop_now(n->loop);
	for (int i = 0; i < got; i++) {
		struct braid_datagram *d = &n->in[i];
		if (d->truncated)
			n->truncated++;
		else if (rtcp)
			braid_rist_rx_handle_rtcp(n->rx, &d->addr, d->buf, d->len, now);
		else
			braid_rist_rx_handle_rtp(n->rx, &d->addr, d->buf, d->len, now);
	}
	drain(n);
}

static void on_rtp(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	on_datagrams(arg, fd, false);
}

static void on_rtcp(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	on_datagrams(arg, fd, true);
}

static void on_core_timer(struct braid_loop *loop, void *arg)
{
	struct braid_rist_node *n = arg;
	braid_rist_rx_handle_timeout(n->rx, braid_loop_now(loop));
	drain(n);
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct braid_rist_node *n = arg;
	braid_rist_node_report(n, false);
	braid_timer_start(loop, &n->stats_timer, braid_loop_now(loop) + n->cfg.stats_interval_us);
}

/* ---- opening ------------------------------------------------------------------------- */

static int open_sockets(struct braid_rist_node *n, char *err, size_t err_len)
{
	char a[64];
	struct braid_addr rtcp = n->cfg.listen;
	braid_rist_set_port(&rtcp, (uint16_t)(braid_addr_port(&n->cfg.listen) + 1));
	struct braid_udp_options opt = { .bind = &n->cfg.listen };
	n->rtp_fd = braid_udp_open(&opt);
	if (n->rtp_fd < 0) {
		snprintf(err, err_len, "cannot listen on %s: %s",
			 braid_addr_format(&n->cfg.listen, a, sizeof(a)), strerror(errno));
		return -1;
	}
	opt.bind = &rtcp;
	n->rtcp_fd = braid_udp_open(&opt);
	if (n->rtcp_fd < 0) {
		snprintf(err, err_len, "cannot listen for RTCP on %s: %s",
			 braid_addr_format(&rtcp, a, sizeof(a)), strerror(errno));
		return -1;
	}
	if (braid_loop_add_fd(n->loop, n->rtp_fd, EPOLLIN, on_rtp, n) < 0 ||
	    braid_loop_add_fd(n->loop, n->rtcp_fd, EPOLLIN, on_rtcp, n) < 0) {
		snprintf(err, err_len, "cannot watch the sockets");
		return -1;
	}
	return 0;
}

static int open_output(struct braid_rist_node *n, char *err, size_t err_len)
{
	switch (n->cfg.output) {
	case BRAID_OUTPUT_STDOUT:
		n->out_fd = STDOUT_FILENO;
		return 0;
	case BRAID_OUTPUT_FILE:
		n->out_fd = open(n->cfg.output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				 0644);
		if (n->out_fd >= 0)
			return 0;
		snprintf(err, err_len, "cannot write output '%s': %s", n->cfg.output_path,
			 strerror(errno));
		return -1;
	case BRAID_OUTPUT_UDP: {
		struct braid_udp_options opt = { .family = n->cfg.output_addr.u.sa.sa_family };
		n->out_fd = braid_udp_open(&opt);
		if (n->out_fd >= 0 && connect(n->out_fd, &n->cfg.output_addr.u.sa,
					      n->cfg.output_addr.len) == 0)
			return 0;
		snprintf(err, err_len, "cannot open the UDP output: %s", strerror(errno));
		return -1;
	}
	case BRAID_OUTPUT_RIST:
		n->rist_out = braid_rist_out_open(n->loop, &n->cfg.output_addr,
						  n->cfg.core.buffer_us, err, err_len);
		return n->rist_out ? 0 : -1;
	case BRAID_OUTPUT_TUN: /* braid tunnel's alone; cmd_recv never asks for it */
		break;
	}
	return -1;
}

static int open_stats(struct braid_rist_node *n, char *err, size_t err_len)
{
	if (!n->cfg.stats_path)
		return 0;
	if (strcmp(n->cfg.stats_path, "-") == 0) {
		n->json = stdout;
		return 0;
	}
	n->json = fopen(n->cfg.stats_path, "w");
	if (!n->json) {
		snprintf(err, err_len, "cannot write stats to '%s': %s", n->cfg.stats_path,
			 strerror(errno));
		return -1;
	}
	n->close_json = true;
	return 0;
}

struct braid_rist_node *braid_rist_node_open(struct braid_loop *loop,
					     const struct braid_rist_node_config *cfg,
					     char *err, size_t err_len)
{
	struct braid_rist_node *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	n->loop = loop;
	n->cfg = *cfg;
	n->rtp_fd = n->rtcp_fd = n->out_fd = -1;
	n->start_us = braid_loop_now(loop);
	for (size_t i = 0; i < BATCH; i++)
		n->in[i] = (struct braid_datagram){ .buf = n->buffers[i],
						    .cap = sizeof(n->buffers[i]) };
	braid_timer_init(&n->core_timer, on_core_timer, n);
	braid_timer_init(&n->stats_timer, on_stats_timer, n);
	n->cfg.core.wall_clock_us = braid_wall_clock_at(n->start_us);
	if (braid_seed_bytes(&n->cfg.core.ssrc, sizeof(n->cfg.core.ssrc))) {
		snprintf(err, err_len, "cannot draw a random SSRC: %s", strerror(errno));
		free(n);
		return NULL;
	}
	n->rx = braid_rist_rx_new(&n->cfg.core, n->start_us);
	if (!n->rx) {
		snprintf(err, err_len, "invalid RIST settings");
		braid_rist_node_close(n);
		return NULL;
	}
	if (open_stats(n, err, err_len) < 0 || open_sockets(n, err, err_len) < 0 ||
	    open_output(n, err, err_len) < 0) {
		braid_rist_node_close(n);
		return NULL;
	}
	if (n->json && n->cfg.stats_interval_us)
		braid_timer_start(loop, &n->stats_timer, n->start_us + n->cfg.stats_interval_us);
	return n;
}

void braid_rist_node_flush(struct braid_rist_node *n)
{
	braid_rist_rx_flush(n->rx);
	drain(n);
}

static void close_fd(struct braid_rist_node *n, int fd, bool watched)
{
	if (fd < 0)
		return;
	if (watched)
		braid_loop_del_fd(n->loop, fd);
	close(fd);
}

void braid_rist_node_close(struct braid_rist_node *n)
{
	if (!n)
		return;
	braid_timer_stop(n->loop, &n->core_timer);
	braid_timer_stop(n->loop, &n->stats_timer);
	close_fd(n, n->rtp_fd, true);
	close_fd(n, n->rtcp_fd, true);
	if (n->out_fd != STDOUT_FILENO)
		close_fd(n, n->out_fd, false);
	braid_rist_out_close(n->rist_out);
	if (n->close_json)
		fclose(n->json);
	braid_rist_rx_free(n->rx);
	free(n);
}

/* ---- figures ------------------------------------------------------------------------- */

static void json_path(FILE *f, const struct braid_rist_path_stats *p)
{
	char a[64];
	fprintf(f, "{\"addr\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"duplicates\":%llu,"
		"\"retransmitted\":%llu,\"reordered\":%llu,\"late\":%llu}",
		braid_addr_format(&p->addr, a, sizeof(a)), (unsigned long long)p->packets,
		(unsigned long long)p->bytes, (unsigned long long)p->duplicates,
		(unsigned long long)p->retransmitted, (unsigned long long)p->reordered,
		(unsigned long long)p->late);
}

static void json_peer(FILE *f, const struct braid_rist_peer_stats *p)
{
	char a[64];
	fprintf(f, "{\"addr\":\"%s\",\"rtcp_in\":%llu,\"rtcp_out\":%llu,\"nacks\":%llu,"
		"\"requested\":%llu,\"nack_kind\":\"%s\",\"rtt_ms\":",
		braid_addr_format(&p->addr, a, sizeof(a)), (unsigned long long)p->rtcp_in,
		(unsigned long long)p->rtcp_out, (unsigned long long)p->nacks_sent,
		(unsigned long long)p->requested, p->gets_range ? "range" : "generic");
	if (p->has_rtt)
		fprintf(f, "%.3f}", (double)p->rtt_us / 1000.0);
	else
		fputs("null}", f);
}

static void json_totals(struct braid_rist_node *n, FILE *f)
{
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(n->rx, &st);
	fprintf(f, "\"totals\":{\"ssrc\":\"%08x\",\"in\":%llu,\"bytes_in\":%llu,\"out\":%llu,"
		"\"bytes_out\":%llu,\"duplicates\":%llu,\"reordered\":%llu,\"late\":%llu,"
		"\"lost\":%llu,\"beyond_window\":%llu,\"retransmitted\":%llu,\"requested\":%llu,"
		"\"recovered\":%llu,\"nacks\":%llu,\"held\":%llu,\"reorder_ms\":%.3f,"
		"\"dropped\":{\"truncated\":%llu,\"malformed\":%llu,\"other_flow\":%llu,"
		"\"too_large\":%llu,\"no_room\":%llu},\"output\":{\"errors\":%llu}}",
		st.ssrc, (unsigned long long)st.in, (unsigned long long)st.bytes_in,
		(unsigned long long)st.out, (unsigned long long)st.bytes_out,
		(unsigned long long)st.duplicates, (unsigned long long)st.reordered,
		(unsigned long long)st.late, (unsigned long long)st.lost,
		(unsigned long long)st.beyond_window, (unsigned long long)st.retransmitted,
		(unsigned long long)st.requested, (unsigned long long)st.recovered,
		(unsigned long long)st.nacks, (unsigned long long)st.held,
		(double)st.reorder_us / 1000.0, (unsigned long long)n->truncated,
		(unsigned long long)st.dropped.malformed, (unsigned long long)st.dropped.other_flow,
		(unsigned long long)st.dropped.too_large, (unsigned long long)st.dropped.no_room,
		(unsigned long long)n->output_errors);
}

static void summary(struct braid_rist_node *n)
{
	struct braid_rist_rx_stats st;
	braid_rist_rx_stats(n->rx, &st);
	fprintf(stderr, "braid recv: rist: %llu datagrams in, %llu released, %llu duplicates, "
		"%llu reordered, %llu asked again, %llu resends, %llu lost, %llu dropped as "
		"malformed\n", (unsigned long long)st.in, (unsigned long long)st.out,
		(unsigned long long)st.duplicates, (unsigned long long)st.reordered,
		(unsigned long long)st.requested, (unsigned long long)st.retransmitted,
		(unsigned long long)st.lost, (unsigned long long)(st.dropped.malformed +
								    n->truncated));
}

void braid_rist_node_report(struct braid_rist_node *n, bool final)
{
	if (final)
		summary(n);
	if (!n->json)
		return;
	struct braid_rist_path_stats paths[BRAID_RIST_MAX_PATHS];
	struct braid_rist_peer_stats peers[BRAID_RIST_MAX_PEERS];
	size_t np = braid_rist_rx_paths(n->rx, paths, BRAID_RIST_MAX_PATHS);
	size_t nq = braid_rist_rx_peers(n->rx, peers, BRAID_RIST_MAX_PEERS);
	double t = (double)(braid_loop_now(n->loop) - n->start_us) / 1e6;
	fprintf(n->json, "{\"t\":%.3f,\"role\":\"recv\",\"final\":%s,\"protocol\":\"rist\","
		"\"paths\":[", t, final ? "true" : "false");
	for (size_t i = 0; i < np && i < BRAID_RIST_MAX_PATHS; i++) {
		fputs(i ? "," : "", n->json);
		json_path(n->json, &paths[i]);
	}
	fputs("],\"peers\":[", n->json);
	for (size_t i = 0; i < nq && i < BRAID_RIST_MAX_PEERS; i++) {
		fputs(i ? "," : "", n->json);
		json_peer(n->json, &peers[i]);
	}
	fputs("],", n->json);
	json_totals(n, n->json);
	if (n->rist_out)
		braid_rist_out_json(n->rist_out, n->json);
	fputs("}\n", n->json);
	fflush(n->json);
}
