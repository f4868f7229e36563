#include "recv_node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "braid/error.h"
#include "io/seed.h"
#include "io/udp.h"
#include "report.h"

#define BATCH 32
#define MAX_OUTPUTS 64

/* One socket toward the next hop per session: what the next hop answers on it goes
 * back to that session's sender. */
struct session_output {
	struct braid_recv_node *node;
	uint32_t session_id;
	int fd; /* -1: unused */
};

struct braid_recv_node {
	struct braid_loop *loop;
	struct braid_recv_config cfg;
	struct braid_receiver *receiver;
	int listen_fd;
	int out_fd; /* FILE and STDOUT */
	struct session_output outputs[MAX_OUTPUTS];
	struct braid_timer core_timer, stats_timer;
	struct braid_report report;
	uint8_t *buffers;
	struct braid_datagram rx[BATCH];
	struct braid_datagram tx[BATCH];
	struct braid_datagram out[BATCH]; /* released media for one session's socket */
	size_t out_count;
	uint32_t out_session;
	uint64_t output_errors;
};

static void write_all(struct braid_recv_node *n, const uint8_t *buf, size_t len)
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

static void on_reverse(struct braid_loop *loop, int fd, uint32_t events, void *arg);

static struct session_output *output_for(struct braid_recv_node *n, uint32_t id)
{
	struct session_output *free_slot = NULL;
	for (size_t i = 0; i < MAX_OUTPUTS; i++) {
		if (n->outputs[i].fd >= 0 && n->outputs[i].session_id == id)
			return &n->outputs[i];
		if (n->outputs[i].fd < 0 && !free_slot)
			free_slot = &n->outputs[i];
	}
	if (!free_slot)
		return NULL;
	struct braid_udp_options opt = { .family = n->cfg.output_addr.u.sa.sa_family };
	int fd = braid_udp_open(&opt);
	if (fd < 0)
		return NULL;
	if (connect(fd, &n->cfg.output_addr.u.sa, n->cfg.output_addr.len) < 0 ||
	    braid_loop_add_fd(n->loop, fd, EPOLLIN, on_reverse, free_slot) < 0) {
		close(fd);
		return NULL;
	}
	free_slot->node = n;
	free_slot->session_id = id;
	free_slot->fd = fd;
	return free_slot;
}

static void close_output(struct braid_recv_node *n, uint32_t id)
{
	for (size_t i = 0; i < MAX_OUTPUTS; i++) {
		struct session_output *o = &n->outputs[i];
		if (o->fd >= 0 && o->session_id == id) {
			braid_loop_del_fd(n->loop, o->fd);
			close(o->fd);
			o->fd = -1;
		}
	}
}

static void flush_output(struct braid_recv_node *n)
{
	if (!n->out_count)
		return;
	struct session_output *o = output_for(n, n->out_session);
	if (!o || braid_udp_send_batch(o->fd, n->out, n->out_count) < (int)n->out_count)
		n->output_errors++;
	n->out_count = 0;
}

/* Releases media due now: to a file or stdout as it comes, to UDP in batches per session. */
static void release_due(struct braid_recv_node *n, uint64_t now)
{
	uint32_t session_id;
	size_t len;
	for (;;) {
		struct braid_datagram *d = &n->out[n->out_count];
		if (braid_receiver_poll_output(n->receiver, now, &session_id, d->buf, d->cap,
					       &len) != 1)
			break; /* nothing due (the buffers hold BRAID_MAX_PAYLOAD: never too small) */
		if (n->cfg.output != BRAID_OUTPUT_UDP) {
			write_all(n, d->buf, (size_t)len);
			continue;
		}
		if (n->out_count && session_id != n->out_session) {
			/* another session's packet landed in slot k: send the batch before it,
			 * then move it to slot 0 by swapping buffers */
			size_t k = n->out_count;
			flush_output(n);
			uint8_t *first = n->out[0].buf;
			n->out[0].buf = n->out[k].buf;
			n->out[k].buf = first;
		}
		n->out_session = session_id;
		n->out[n->out_count].len = (size_t)len;
		n->out[n->out_count].addr.len = 0; /* connected socket */
		if (++n->out_count == BATCH)
			flush_output(n);
	}
	flush_output(n);
}

/* The sender's name for a link of a session, for events. */
static const char *link_name(struct braid_recv_node *n, const struct braid_event *ev, char *out)
{
	struct braid_session_stats ss;
	struct braid_link_stats links[BRAID_MAX_LINKS];
	size_t count = 0;
	if (ev->kind != BRAID_EVENT_LINK_STATE ||
	    braid_receiver_session_stats(n->receiver, ev->session_id, &ss, links, BRAID_MAX_LINKS,
					 &count) < 0)
		return NULL;
	for (size_t i = 0; i < count && i < BRAID_MAX_LINKS; i++) {
		if (links[i].id == ev->link_id) {
			strcpy(out, links[i].name);
			return out;
		}
	}
	return NULL;
}

static void drain(struct braid_recv_node *n)
{
	uint64_t now = braid_loop_now(n->loop);
	release_due(n, now);
	size_t count = 0;
	while (braid_receiver_poll_transmit(n->receiver, now, &n->tx[count].addr, n->tx[count].buf,
					    BRAID_MAX_DATAGRAM, &n->tx[count].len) == 1) {
		count++;
		if (count == BATCH) {
			braid_udp_send_batch(n->listen_fd, n->tx, count);
			count = 0;
		}
	}
	if (count)
		braid_udp_send_batch(n->listen_fd, n->tx, count);
	struct braid_event ev;
	while (braid_receiver_poll_event(n->receiver, &ev)) {
		if (ev.kind == BRAID_EVENT_SESSION_END)
			close_output(n, ev.session_id);
		char name[BRAID_LINK_NAME_MAX + 1];
		const char *link = link_name(n, &ev, name);
		braid_report_event_json(&n->report, &ev, link);
		if (n->cfg.on_event)
			n->cfg.on_event(n->cfg.event_arg, &ev, link);
		else
			braid_report_event(&n->report, &ev, link);
	}
	uint64_t next = braid_receiver_next_timeout(n->receiver);
	if (next == UINT64_MAX)
		braid_timer_stop(n->loop, &n->core_timer);
	else
		braid_timer_start(n->loop, &n->core_timer, next);
}

static void on_reverse(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct session_output *o = arg;
	struct braid_recv_node *n = o->node;
	(void)events;
	int got = braid_udp_recv_batch(fd, n->rx, BATCH);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++)
		if (!n->rx[i].truncated)
			braid_receiver_send_reverse(n->receiver, o->session_id, n->rx[i].buf,
						    n->rx[i].len, now);
	drain(n);
}

static void on_listen(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_recv_node *n = arg;
	(void)events;
	int got = braid_udp_recv_batch(fd, n->rx, BATCH);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++)
		braid_receiver_handle_datagram(n->receiver, &n->rx[i].addr, n->rx[i].buf,
					       n->rx[i].len,
					       n->rx[i].truncated ? BRAID_DATAGRAM_TRUNCATED : 0, now);
	drain(n);
}

static void on_core_timer(struct braid_loop *loop, void *arg)
{
	struct braid_recv_node *n = arg;
	braid_receiver_handle_timeout(n->receiver, braid_loop_now(loop));
	drain(n);
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct braid_recv_node *n = arg;
	braid_report_receiver(&n->report, n->receiver, braid_loop_now(loop), false);
	braid_timer_start(loop, &n->stats_timer, braid_loop_now(loop) + n->cfg.stats_interval_us);
}

static int open_output(struct braid_recv_node *n, char *err, size_t err_len)
{
	if (n->cfg.output == BRAID_OUTPUT_STDOUT) {
		n->out_fd = STDOUT_FILENO;
	} else if (n->cfg.output == BRAID_OUTPUT_FILE) {
		n->out_fd = open(n->cfg.output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (n->out_fd < 0) {
			snprintf(err, err_len, "cannot write output '%s': %s", n->cfg.output_path,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int setup(struct braid_recv_node *n, char *err, size_t err_len)
{
	uint64_t now = braid_loop_now(n->loop);
	n->cfg.core.wall_clock_us = braid_wall_clock_at(now);
	n->receiver = braid_receiver_new(&n->cfg.core, now);
	if (!n->receiver) {
		snprintf(err, err_len, "invalid receiver settings");
		return -1;
	}
	if (!braid_report_open(&n->report, "recv", n->cfg.stats_path, n->cfg.live_view, now)) {
		snprintf(err, err_len, "cannot write stats to '%s': %s", n->cfg.stats_path,
			 strerror(errno));
		return -1;
	}
	struct braid_udp_options opt = { .bind = &n->cfg.listen };
	n->listen_fd = braid_udp_open(&opt);
	if (n->listen_fd < 0) {
		char a[64];
		snprintf(err, err_len, "cannot listen on %s: %s",
			 braid_addr_format(&n->cfg.listen, a, sizeof(a)), strerror(errno));
		return -1;
	}
	if (open_output(n, err, err_len) < 0 ||
	    braid_loop_add_fd(n->loop, n->listen_fd, EPOLLIN, on_listen, n) < 0)
		return -1;
	if (n->cfg.stats_interval_us && (n->cfg.stats_path || n->report.live))
		braid_timer_start(n->loop, &n->stats_timer, now + n->cfg.stats_interval_us);
	return 0;
}

struct braid_recv_node *braid_recv_node_open(struct braid_loop *loop,
					     const struct braid_recv_config *cfg, char *err,
					     size_t err_len)
{
	struct braid_recv_node *n = calloc(1, sizeof(*n));
	if (n)
		n->buffers = malloc((size_t)3 * BATCH * BRAID_MAX_DATAGRAM);
	if (!n || !n->buffers) {
		snprintf(err, err_len, "out of memory");
		free(n);
		return NULL;
	}
	n->loop = loop;
	n->cfg = *cfg;
	if (braid_seed_bytes(&n->cfg.core.seed, sizeof(n->cfg.core.seed)) ||
	    braid_seed_bytes(n->cfg.core.key_seed, sizeof(n->cfg.core.key_seed))) {
		snprintf(err, err_len, "cannot draw a random seed: %s", strerror(errno));
		free(n->buffers);
		free(n);
		return NULL;
	}
	n->listen_fd = n->out_fd = -1;
	for (size_t i = 0; i < MAX_OUTPUTS; i++)
		n->outputs[i].fd = -1;
	for (size_t b = 0; b < BATCH; b++) {
		n->rx[b].buf = n->buffers + b * BRAID_MAX_DATAGRAM;
		n->rx[b].cap = BRAID_MAX_DATAGRAM;
		n->tx[b].buf = n->buffers + (BATCH + b) * BRAID_MAX_DATAGRAM;
		n->tx[b].cap = BRAID_MAX_DATAGRAM;
		n->out[b].buf = n->buffers + (2 * BATCH + b) * BRAID_MAX_DATAGRAM;
		n->out[b].cap = BRAID_MAX_DATAGRAM;
	}
	braid_timer_init(&n->core_timer, on_core_timer, n);
	braid_timer_init(&n->stats_timer, on_stats_timer, n);
	if (setup(n, err, err_len) < 0) {
		braid_recv_node_close(n);
		return NULL;
	}
	return n;
}

void braid_recv_node_close(struct braid_recv_node *n)
{
	if (!n)
		return;
	braid_timer_stop(n->loop, &n->core_timer);
	braid_timer_stop(n->loop, &n->stats_timer);
	for (size_t i = 0; i < MAX_OUTPUTS; i++)
		if (n->outputs[i].fd >= 0)
			close_output(n, n->outputs[i].session_id);
	if (n->listen_fd >= 0) {
		braid_loop_del_fd(n->loop, n->listen_fd);
		close(n->listen_fd);
	}
	if (n->out_fd >= 0 && n->out_fd != STDOUT_FILENO)
		close(n->out_fd);
	braid_report_close(&n->report);
	braid_receiver_free(n->receiver);
	free(n->buffers);
	free(n);
}

void braid_recv_node_flush(struct braid_recv_node *n)
{
	braid_receiver_flush(n->receiver);
	drain(n);
}

const struct braid_receiver *braid_recv_node_receiver(const struct braid_recv_node *n)
{
	return n->receiver;
}

int braid_recv_node_listen_addr(const struct braid_recv_node *n, struct braid_addr *out)
{
	return braid_udp_local(n->listen_fd, out);
}

void braid_recv_node_report(struct braid_recv_node *n, bool final)
{
	braid_report_receiver(&n->report, n->receiver, braid_loop_now(n->loop), final);
}
