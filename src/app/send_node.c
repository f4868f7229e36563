#include "send_node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "braid/error.h"
#include "io/seed.h"
#include "io/udp.h"
#include "io/udp_reader.h"
#include "report.h"

#define BATCH 32
#define TS_DATAGRAM (7 * 188)
#define SOCKET_RETRY_US 2000000

struct link_io {
	struct braid_send_node *node;
	int fd;
	struct braid_udp_reader *reader; /* GRO: the gateway's GSO runs arrive whole */
	uint16_t link_id;
	char name[BRAID_LINK_NAME_MAX + 1];
	struct braid_addr dest;
	struct braid_datagram batch[BATCH];
	size_t pending;
	bool announced_ok;
};

struct braid_send_node {
	struct braid_loop *loop;
	struct braid_send_config cfg;
	struct braid_sender *sender;
	int input_fd;
	struct braid_udp_reader *input_reader;
	struct braid_addr encoder; /* where the stream comes from; replies go back there */
	struct link_io links[BRAID_MAX_LINKS];
	size_t link_count;
	struct braid_timer core_timer, stats_timer, stdin_timer, finish_timer, socket_timer;
	struct braid_timer bitrate_timer;
	int bitrate_fd;
	struct braid_report report;
	uint8_t stdin_buf[TS_DATAGRAM];
	size_t stdin_fill;
	bool stdin_polled; /* a pipe or socket in epoll; otherwise read on a timer */
	bool finished;
	uint64_t tun_write_errors;
	uint8_t *buffers; /* BATCH * BRAID_MAX_DATAGRAM per link, a spare */
	uint8_t *spare;   /* where the next datagram is encoded */
};

static void pump(struct braid_send_node *n);

static const char *link_name(const struct braid_send_node *n, uint16_t id)
{
	for (size_t i = 0; i < n->link_count; i++)
		if (n->links[i].link_id == id)
			return n->links[i].name;
	return NULL;
}

static void flush_link(struct link_io *l)
{
	if (l->pending && l->fd >= 0)
		braid_udp_send_batch(l->fd, l->batch, l->pending);
	l->pending = 0;
}

static struct link_io *link_by_id(struct braid_send_node *n, uint16_t id)
{
	for (size_t i = 0; i < n->link_count; i++)
		if (n->links[i].link_id == id)
			return &n->links[i];
	return NULL;
}

static void drain_transmit(struct braid_send_node *n)
{
	for (;;) {
		uint16_t id;
		size_t len;
		if (braid_sender_poll_transmit(n->sender, braid_loop_now(n->loop), &id, n->spare,
					       BRAID_MAX_DATAGRAM, &len) != 1)
			break;
		struct link_io *l = link_by_id(n, id);
		if (!l)
			continue;
		/* The datagram was encoded into the spare buffer: it becomes the batch slot's,
		 * and the slot's old buffer the next spare. No copy. */
		struct braid_datagram *d = &l->batch[l->pending++];
		uint8_t *encoded = n->spare;
		n->spare = d->buf;
		d->buf = encoded;
		d->len = len;
		d->addr = l->dest;
		if (l->pending == BATCH)
			flush_link(l);
	}
	for (size_t i = 0; i < n->link_count; i++)
		flush_link(&n->links[i]);
}

/* A TUN takes whole packets or refuses them: a refusal (a malformed packet from the far
 * side, a full queue) loses that packet only, and is counted. */
static void tun_write(struct braid_send_node *n, const uint8_t *buf, size_t len)
{
	if (write(n->cfg.tun_fd, buf, len) != (ssize_t)len)
		n->tun_write_errors++;
}

static void drain_output(struct braid_send_node *n)
{
	uint8_t buf[BRAID_MAX_PAYLOAD];
	size_t len;
	while (braid_sender_poll_reverse(n->sender, braid_loop_now(n->loop), buf, sizeof(buf),
					 &len) == 1) {
		if (n->cfg.input_tun)
			tun_write(n, buf, len);
		else if (n->input_fd >= 0 && n->encoder.len)
			braid_udp_send(n->input_fd, &n->encoder, buf, len);
	}
}

static void drain_events(struct braid_send_node *n)
{
	struct braid_event ev;
	while (braid_sender_poll_event(n->sender, &ev)) {
		const char *name = link_name(n, ev.link_id);
		braid_report_event_json(&n->report, &ev, name);
		if (n->cfg.on_event)
			n->cfg.on_event(n->cfg.event_arg, &ev, name);
		else
			braid_report_event(&n->report, &ev, name);
	}
}

static void pump(struct braid_send_node *n)
{
	drain_transmit(n);
	drain_output(n);
	drain_events(n);
	uint64_t next = braid_sender_next_timeout(n->sender);
	if (next == UINT64_MAX)
		braid_timer_stop(n->loop, &n->core_timer);
	else
		braid_timer_start(n->loop, &n->core_timer, next);
}

static void on_core_timer(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	braid_sender_handle_timeout(n->sender, braid_loop_now(loop));
	pump(n);
}

/* Once a second, what the bond can carry, for an encoder that follows it. */
static void on_bitrate_timer(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	struct braid_sender_stats st;
	braid_sender_get_stats(n->sender, &st);
	char msg[160];
	int len = snprintf(msg, sizeof(msg),
			   "{\"available_bitrate\":%.0f,\"live_links\":%u,\"operational\":%s}",
			   st.available_bps, st.live_links, st.operational ? "true" : "false");
	braid_udp_send(n->bitrate_fd, &n->cfg.bitrate_out, (const uint8_t *)msg, (size_t)len);
	braid_timer_start(loop, &n->bitrate_timer, braid_loop_now(loop) + 1000000);
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	braid_report_sender(&n->report, n->sender, braid_loop_now(loop), false);
	braid_timer_start(loop, &n->stats_timer, braid_loop_now(loop) + n->cfg.stats_interval_us);
}

static void on_input(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_send_node *n = arg;
	(void)events;
	(void)fd;
	struct braid_datagram *rx;
	int got = braid_udp_reader_recv(n->input_reader, &rx);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++) {
		n->encoder = rx[i].addr;
		braid_sender_push(n->sender, rx[i].buf,
				  rx[i].truncated ? BRAID_MAX_PAYLOAD + 1 : rx[i].len, now);
	}
	pump(n);
}

static void on_link(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct link_io *l = arg;
	struct braid_send_node *n = l->node;
	(void)events;
	(void)fd;
	struct braid_datagram *rx;
	int got = braid_udp_reader_recv(l->reader, &rx);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++)
		braid_sender_handle_datagram(n->sender, l->link_id, rx[i].buf, rx[i].len,
					     rx[i].truncated ? BRAID_DATAGRAM_TRUNCATED : 0, now);
	pump(n);
}

static void on_finish(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	braid_sender_close(n->sender, braid_loop_now(loop));
	pump(n);
	n->finished = true;
	braid_loop_stop(loop);
}

static void stdin_ended(struct braid_send_node *n, uint64_t now)
{
	if (n->stdin_fill) {
		braid_sender_push(n->sender, n->stdin_buf, n->stdin_fill, now);
		n->stdin_fill = 0;
	}
	if (n->stdin_polled)
		braid_loop_del_fd(n->loop, STDIN_FILENO);
	braid_timer_stop(n->loop, &n->stdin_timer);
	/* Give resends their chance before saying goodbye. */
	braid_timer_start(n->loop, &n->finish_timer, now + n->cfg.core.latency_us + 200000);
}

/* Reads what stdin has; returns false at end of input. */
static bool read_stdin(struct braid_send_node *n, unsigned max_reads)
{
	uint64_t now = braid_loop_now(n->loop);
	for (unsigned i = 0; i < max_reads; i++) {
		ssize_t got = read(STDIN_FILENO, n->stdin_buf + n->stdin_fill,
				   TS_DATAGRAM - n->stdin_fill);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (got <= 0) {
			stdin_ended(n, now);
			return false;
		}
		n->stdin_fill += (size_t)got;
		if (n->stdin_fill == TS_DATAGRAM) {
			braid_sender_push(n->sender, n->stdin_buf, TS_DATAGRAM, now);
			n->stdin_fill = 0;
		}
	}
	return true;
}

static void on_stdin(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	read_stdin(arg, 64);
	pump(arg);
}

static void on_stdin_timer(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	if (read_stdin(n, 64))
		braid_timer_start(loop, &n->stdin_timer, braid_loop_now(loop));
	pump(n);
}

static int open_input(struct braid_send_node *n, char *err, size_t err_len)
{
	if (n->cfg.input_tun) { /* the caller reads the TUN and pushes (braid tunnel) */
		n->input_fd = -1;
		return 0;
	}
	if (n->cfg.input_stdin) {
		n->input_fd = -1;
		int flags = fcntl(STDIN_FILENO, F_GETFL);
		if (flags >= 0)
			fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);
		n->stdin_polled = braid_loop_add_fd(n->loop, STDIN_FILENO, EPOLLIN, on_stdin, n) == 0;
		if (!n->stdin_polled) /* a regular file: epoll refuses it */
			braid_timer_start(n->loop, &n->stdin_timer, braid_loop_now(n->loop));
		return 0;
	}
	struct braid_udp_options opt = { .bind = &n->cfg.input };
	n->input_fd = braid_udp_open(&opt);
	if (n->input_fd < 0) {
		char a[64];
		snprintf(err, err_len, "cannot listen on input %s: %s",
			 braid_addr_format(&n->cfg.input, a, sizeof(a)), strerror(errno));
		return -1;
	}
	/* Its headers are set up once: at low rates most calls carry one datagram. */
	n->input_reader = braid_udp_reader_new(n->input_fd, BRAID_MAX_DATAGRAM, true);
	if (!n->input_reader) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	return braid_loop_add_fd(n->loop, n->input_fd, EPOLLIN, on_input, n);
}

/* (Re)opens a link's socket. A link whose interface or address is missing stays in the
 * session, down, and is tried again every SOCKET_RETRY_US: modems come and go. */
static int open_link_socket(struct braid_send_node *n, struct link_io *l)
{
	const struct braid_link_spec *spec = &n->cfg.links[l - n->links];
	struct braid_udp_options opt = {
		.bind = spec->bind.len ? &spec->bind : NULL,
		.family = l->dest.u.sa.sa_family,
		.device = spec->dev[0] ? spec->dev : NULL,
	};
	int fd = braid_udp_open(&opt);
	if (fd < 0)
		return -1;
	l->reader = braid_udp_reader_new(fd, BRAID_MAX_DATAGRAM, true);
	if (!l->reader || braid_loop_add_fd(n->loop, fd, EPOLLIN, on_link, l) < 0) {
		braid_udp_reader_free(l->reader);
		l->reader = NULL;
		close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

static void close_link_socket(struct braid_send_node *n, struct link_io *l)
{
	if (l->fd < 0)
		return;
	braid_loop_del_fd(n->loop, l->fd);
	close(l->fd);
	l->fd = -1;
	braid_udp_reader_free(l->reader);
	l->reader = NULL;
}

static void on_socket_timer(struct braid_loop *loop, void *arg)
{
	struct braid_send_node *n = arg;
	struct braid_link_stats stats[BRAID_MAX_LINKS];
	size_t count = braid_sender_get_link_stats(n->sender, stats, BRAID_MAX_LINKS);
	for (size_t i = 0; i < n->link_count && i < count; i++) {
		struct link_io *l = &n->links[i];
		const struct braid_link_spec *spec = &n->cfg.links[i];
		bool bound = spec->dev[0] || spec->bind.len;
		/* A socket bound to an interface that went away and came back is dead for good
		 * (the interface has a new index): renew sockets of down links. */
		if (l->fd >= 0 && !(bound && stats[i].state == BRAID_LINK_DOWN))
			continue;
		close_link_socket(n, l);
		if (open_link_socket(n, l) == 0 && !l->announced_ok) {
			fprintf(stderr, "braid send: link %s: socket open\n", l->name);
			l->announced_ok = true;
		}
	}
	braid_timer_start(loop, &n->socket_timer, braid_loop_now(loop) + SOCKET_RETRY_US);
}

static int open_link(struct braid_send_node *n, size_t i, uint8_t *buffers, char *err,
		     size_t err_len)
{
	const struct braid_link_spec *spec = &n->cfg.links[i];
	struct link_io *l = &n->links[i];
	l->node = n;
	strcpy(l->name, spec->name);
	l->dest = spec->to.len ? spec->to : n->cfg.to;
	for (size_t b = 0; b < BATCH; b++) {
		l->batch[b].buf = buffers + b * BRAID_MAX_DATAGRAM;
		l->batch[b].cap = BRAID_MAX_DATAGRAM;
	}
	struct braid_link_config lc = { .name = spec->name, .weight = spec->weight,
					.priority = spec->priority };
	int id = braid_sender_add_link(n->sender, &lc, braid_loop_now(n->loop));
	if (id < 0) {
		snprintf(err, err_len, "link %s: %s", spec->name, braid_strerror(id));
		return -1;
	}
	l->link_id = (uint16_t)id;
	n->link_count = i + 1;
	if (open_link_socket(n, l) == 0) {
		l->announced_ok = true;
	} else {
		fprintf(stderr, "braid send: link %s: cannot open its socket (%s); retrying\n",
			spec->name, strerror(errno));
	}
	return 0;
}

/* The session id, nonce and key seed must differ between runs and senders: the kernel
 * draws them here, at the edge, never in the core. */
static int draw_identity(struct braid_sender_settings *core)
{
	uint8_t bytes[4 + BRAID_NONCE_SIZE];
	if (braid_seed_bytes(core->key_seed, sizeof(core->key_seed)))
		return -1;

	do {
		if (braid_seed_bytes(bytes, sizeof(bytes)))
			return -1;
		core->session_id = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
				   (uint32_t)bytes[2] << 8 | bytes[3];
	} while (core->session_id == 0);
	memcpy(core->nonce, bytes + 4, BRAID_NONCE_SIZE);
	return 0;
}

struct braid_send_node *braid_send_node_open(struct braid_loop *loop,
					     const struct braid_send_config *cfg, char *err,
					     size_t err_len)
{
	struct braid_send_node *n = calloc(1, sizeof(*n));
	size_t per_link = (size_t)BATCH * BRAID_MAX_DATAGRAM;
	if (n)
		n->buffers = malloc(per_link * cfg->link_count + BRAID_MAX_DATAGRAM);
	if (!n || !n->buffers) {
		snprintf(err, err_len, "out of memory");
		free(n);
		return NULL;
	}
	n->loop = loop;
	n->cfg = *cfg;
	n->input_fd = -1;
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		n->links[i].fd = -1;
	if (draw_identity(&n->cfg.core)) {
		snprintf(err, err_len, "cannot draw a session id: %s", strerror(errno));
		free(n->buffers);
		free(n);
		return NULL;
	}
	braid_timer_init(&n->core_timer, on_core_timer, n);
	braid_timer_init(&n->stats_timer, on_stats_timer, n);
	braid_timer_init(&n->stdin_timer, on_stdin_timer, n);
	braid_timer_init(&n->finish_timer, on_finish, n);
	braid_timer_init(&n->socket_timer, on_socket_timer, n);
	braid_timer_init(&n->bitrate_timer, on_bitrate_timer, n);
	n->bitrate_fd = -1;
	n->spare = n->buffers + per_link * cfg->link_count;
	uint64_t now = braid_loop_now(loop);
	n->cfg.core.wall_clock_us = braid_wall_clock_at(now);
	n->sender = braid_sender_new(&n->cfg.core, now);
	if (!n->sender) {
		snprintf(err, err_len, "invalid sender settings");
		braid_send_node_close(n);
		return NULL;
	}
	if (!braid_report_open(&n->report, "send", cfg->stats_path, cfg->live_view, now)) {
		snprintf(err, err_len, "cannot write stats to '%s': %s", cfg->stats_path,
			 strerror(errno));
		braid_send_node_close(n);
		return NULL;
	}
	for (size_t i = 0; i < cfg->link_count; i++) {
		if (open_link(n, i, n->buffers + per_link * i, err, err_len) < 0) {
			braid_send_node_close(n);
			return NULL;
		}
	}
	if (open_input(n, err, err_len) < 0) {
		braid_send_node_close(n);
		return NULL;
	}
	n->report.tap = cfg->stats_tap;
	n->report.tap_arg = cfg->stats_tap_arg;
	if (cfg->stats_interval_us && (cfg->stats_path || n->report.live || cfg->stats_tap))
		braid_timer_start(loop, &n->stats_timer, now + cfg->stats_interval_us);
	braid_timer_start(loop, &n->socket_timer, now + SOCKET_RETRY_US);
	if (cfg->bitrate_out.len) {
		struct braid_udp_options opt = { .family = cfg->bitrate_out.u.sa.sa_family };
		n->bitrate_fd = braid_udp_open(&opt);
		if (n->bitrate_fd >= 0)
			braid_timer_start(loop, &n->bitrate_timer, now + 1000000);
	}
	braid_sender_handle_timeout(n->sender, now);
	pump(n);
	return n;
}

void braid_send_node_close(struct braid_send_node *n)
{
	if (!n)
		return;
	if (n->sender && !n->finished) {
		braid_sender_close(n->sender, braid_loop_now(n->loop));
		drain_transmit(n);
	}
	braid_timer_stop(n->loop, &n->core_timer);
	braid_timer_stop(n->loop, &n->stats_timer);
	braid_timer_stop(n->loop, &n->stdin_timer);
	braid_timer_stop(n->loop, &n->finish_timer);
	braid_timer_stop(n->loop, &n->socket_timer);
	braid_timer_stop(n->loop, &n->bitrate_timer);
	if (n->bitrate_fd >= 0)
		close(n->bitrate_fd);
	for (size_t i = 0; i < BRAID_MAX_LINKS; i++)
		close_link_socket(n, &n->links[i]);
	if (n->input_fd >= 0) {
		braid_loop_del_fd(n->loop, n->input_fd);
		close(n->input_fd);
	}
	braid_udp_reader_free(n->input_reader);
	if (n->stdin_polled)
		braid_loop_del_fd(n->loop, STDIN_FILENO);
	braid_report_close(&n->report);
	braid_sender_free(n->sender);
	free(n->buffers);
	free(n);
}

const struct braid_sender *braid_send_node_sender(const struct braid_send_node *n)
{
	return n->sender;
}

void braid_send_node_push(struct braid_send_node *n, const uint8_t *buf, size_t len)
{
	braid_sender_push(n->sender, buf, len, braid_loop_now(n->loop));
}

void braid_send_node_pump(struct braid_send_node *n)
{
	pump(n);
}

uint64_t braid_send_node_tun_write_errors(const struct braid_send_node *n)
{
	return n->tun_write_errors;
}

bool braid_send_node_finished(const struct braid_send_node *n)
{
	return n->finished;
}

int braid_send_node_input_addr(const struct braid_send_node *n, struct braid_addr *out)
{
	return n->input_fd >= 0 ? braid_udp_local(n->input_fd, out) : BRAID_ERR_INVAL;
}

void braid_send_node_report(struct braid_send_node *n, bool final)
{
	braid_report_sender(&n->report, n->sender, braid_loop_now(n->loop), final);
}
