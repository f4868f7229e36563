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
#include "io/udp_reader.h"
#include "report.h"
#include "tunnel_peers.h"
#include "rist_out.h"

#define BATCH 32
#define MAX_OUTPUTS 64
/* Media due within this of a due packet goes out with it: at 2 000 packets/s a release
 * wake-up and send for every two or three packets instead of each one. */
#define RELEASE_WINDOW_US 1000

/* Where one session's media goes: its own socket toward the next hop (UDP: what the next
 * hop answers on it goes back to that session's sender), its own file ({session}), or the
 * node's single file or stdout (shared: not closed with the slot). */
struct session_output {
	struct braid_recv_node *node;
	uint32_t session_id;
	bool used;
	bool refused; /* a single output held by another session; said once */
	bool failed;  /* could not be opened; said once, not retried */
	bool shared;
	int fd;       /* -1: not open */
};

struct braid_recv_node {
	struct braid_loop *loop;
	struct braid_recv_config cfg;
	struct braid_receiver *receiver;
	int listen_fd;
	struct braid_udp_reader *listen_reader; /* GRO: a sender's GSO runs arrive whole */
	int out_fd; /* the single FILE, or STDOUT */
	struct braid_rist_out *rist_out; /* RIST: the one flow sessions take turns on */
	bool per_session; /* FILE with {session}: one file each */
	uint32_t holder;  /* the session holding a single output, 0: none */
	uint64_t holder_last_us; /* when it last released media */
	struct session_output outputs[MAX_OUTPUTS];
	struct braid_timer core_timer, stats_timer;
	struct braid_report report;
	uint8_t *buffers;
	struct braid_datagram rx[BATCH];
	struct braid_datagram tx[BATCH];
	struct braid_datagram out[BATCH]; /* released media for one session's socket */
	size_t out_count;
	struct session_output *out_slot; /* whose media out[] holds */
	uint64_t tun_unsent;
	struct braid_tunnel_peers *peers; /* TUN: return routes by inner address */
};

static void write_all(struct braid_recv_node *n, int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			n->report.output_errors++;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

static void on_reverse(struct braid_loop *loop, int fd, uint32_t events, void *arg);

static struct session_output *find_slot(struct braid_recv_node *n, uint32_t id)
{
	for (size_t i = 0; i < MAX_OUTPUTS; i++)
		if (n->outputs[i].used && n->outputs[i].session_id == id)
			return &n->outputs[i];
	return NULL;
}

static struct session_output *new_slot(struct braid_recv_node *n, uint32_t id)
{
	for (size_t i = 0; i < MAX_OUTPUTS; i++) {
		struct session_output *o = &n->outputs[i];
		if (!o->used) {
			*o = (struct session_output){ .node = n, .session_id = id, .used = true,
						      .fd = -1 };
			return o;
		}
	}
	return NULL;
}

static void close_slot_fd(struct braid_recv_node *n, struct session_output *o)
{
	if (o->fd >= 0 && !o->shared) {
		if (n->cfg.output == BRAID_OUTPUT_UDP)
			braid_loop_del_fd(n->loop, o->fd);
		close(o->fd);
	}
	o->fd = -1;
	o->shared = false;
}

static int open_udp(struct braid_recv_node *n, struct session_output *o)
{
	struct braid_udp_options opt = { .family = n->cfg.output_addr.u.sa.sa_family };
	int fd = braid_udp_open(&opt);
	if (fd < 0)
		return -1;
	if (connect(fd, &n->cfg.output_addr.u.sa, n->cfg.output_addr.len) < 0 ||
	    braid_loop_add_fd(n->loop, fd, EPOLLIN, on_reverse, o) < 0) {
		close(fd);
		return -1;
	}
	o->fd = fd;
	return 0;
}

/* The output path with every {session} replaced by the session id (8 hex digits). */
static bool session_path(const char *tmpl, uint32_t id, char *out, size_t cap)
{
	const size_t tlen = strlen(BRAID_OUTPUT_SESSION_TEMPLATE);
	char hex[9];
	size_t len = 0;
	snprintf(hex, sizeof(hex), "%08x", id);
	while (*tmpl) {
		bool at = strncmp(tmpl, BRAID_OUTPUT_SESSION_TEMPLATE, tlen) == 0;
		const char *piece = at ? hex : tmpl;
		size_t piece_len = at ? 8 : 1;
		if (len + piece_len >= cap)
			return false;
		memcpy(out + len, piece, piece_len);
		len += piece_len;
		tmpl += at ? tlen : 1;
	}
	out[len] = '\0';
	return true;
}

/* Appends, never truncates: a receiver restarted after a crash keeps what it wrote. */
static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int open_slot(struct braid_recv_node *n, struct session_output *o)
{
	char path[4096];
	if (n->cfg.output == BRAID_OUTPUT_UDP)
		return open_udp(n, o);
	if (n->cfg.output == BRAID_OUTPUT_TUN) {
		o->fd = n->cfg.tun_fd;
		o->shared = true;
		return 0;
	}
	if (n->cfg.output == BRAID_OUTPUT_RIST) {
		o->fd = braid_rist_out_fd(n->rist_out); /* marks it open; never closed here */
		o->shared = true;
		return 0;
	}
	if (!n->per_session) {
		o->fd = n->out_fd;
		o->shared = true;
		return 0;
	}
	if (!session_path(n->cfg.output_path, o->session_id, path, sizeof(path))) {
		errno = ENAMETOOLONG;
		return -1;
	}
	o->fd = open_append(path);
	return o->fd < 0 ? -1 : 0;
}

/* A single output (UDP, one file, stdout) carries one session at a time, so that two
 * streams never interleave. The holder keeps it until it ends or stays silent long
 * enough that it has most likely gone (a sender killed and restarted under a new id). */
static bool hold_output(struct braid_recv_node *n, struct session_output *o, uint64_t now)
{
	if (n->holder != o->session_id) {
		bool holder_gone = now - n->holder_last_us >= BRAID_OUTPUT_HANDOVER_US;
		if (n->holder && !holder_gone) {
			n->report.output_refused++;
			if (!o->refused)
				braid_report_output_event(&n->report, now, "output_refused",
							  o->session_id, n->holder);
			o->refused = true;
			return false;
		}
		struct session_output *old = n->holder ? find_slot(n, n->holder) : NULL;
		if (n->holder || o->refused)
			braid_report_output_event(&n->report, now, "output_taken", o->session_id,
						  n->holder);
		if (old) {
			close_slot_fd(n, old); /* its next media is refused, and said so */
			old->refused = false;
		}
		n->holder = o->session_id;
		o->refused = false;
	}
	n->holder_last_us = now;
	return true;
}

/* The open output for a session's media, or NULL when it is refused or cannot be
 * written (counted). */
static struct session_output *output_for(struct braid_recv_node *n, uint32_t id, uint64_t now)
{
	struct session_output *o = find_slot(n, id);
	if (!o)
		o = new_slot(n, id);
	if (!o) {
		n->report.output_errors++;
		return NULL;
	}
	/* A TUN takes every session's packets (each is whole): no holder. */
	if (!n->per_session && n->cfg.output != BRAID_OUTPUT_TUN && !hold_output(n, o, now))
		return NULL;
	if (o->fd < 0 && !o->failed && open_slot(n, o) < 0) {
		o->failed = true;
		fprintf(stderr, "braid recv: session %08x: cannot open its output: %s\n", id,
			strerror(errno));
	}
	if (o->fd < 0) {
		n->report.output_errors++;
		return NULL;
	}
	return o;
}

static void close_output(struct braid_recv_node *n, uint32_t id)
{
	if (n->peers)
		braid_tunnel_peers_forget(n->peers, id);
	struct session_output *o = find_slot(n, id);
	if (n->holder == id)
		n->holder = 0;
	if (!o)
		return;
	close_slot_fd(n, o);
	o->used = false;
}

static void flush_output(struct braid_recv_node *n)
{
	if (!n->out_count)
		return;
	struct session_output *o = n->out_slot;
	if (braid_udp_send_batch(o->fd, n->out, n->out_count) < (int)n->out_count)
		n->report.output_errors++;
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
		struct session_output *o = output_for(n, session_id, now);
		if (!o)
			continue; /* refused or unwritable, counted; its buffer is reused */
		if (n->cfg.output == BRAID_OUTPUT_RIST) {
			braid_rist_out_push(n->rist_out, d->buf, len);
			continue;
		}
		if (n->cfg.output != BRAID_OUTPUT_UDP) {
			if (n->peers)
				braid_tunnel_peers_learn(n->peers, d->buf, len, session_id, now);
			write_all(n, o->fd, d->buf, len);
			continue;
		}
		if (n->out_count && o != n->out_slot) {
			/* another session's packet landed in slot k: send the batch before it,
			 * then move it to slot 0 by swapping buffers */
			size_t k = n->out_count;
			flush_output(n);
			uint8_t *first = n->out[0].buf;
			n->out[0].buf = n->out[k].buf;
			n->out[k].buf = first;
		}
		n->out_slot = o;
		n->out[n->out_count].len = len;
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

/* The session a TUN packet goes back to: the field unit that sent from its destination,
 * or else the only session there is. 0: none. */
static uint32_t tun_session(const struct braid_recv_node *n, const uint8_t *pkt, size_t len)
{
	uint32_t ids[2];
	uint32_t id = braid_tunnel_peers_lookup(n->peers, pkt, len);
	if (id)
		return id;
	return braid_receiver_sessions(n->receiver, ids, 2) == 1 ? ids[0] : 0;
}

static void on_listen(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_recv_node *n = arg;
	(void)events;
	(void)fd;
	struct braid_datagram *rx;
	int got = braid_udp_reader_recv(n->listen_reader, &rx);
	uint64_t now = braid_loop_now(loop);
	for (int i = 0; i < got; i++)
		braid_receiver_handle_datagram(n->receiver, &rx[i].addr, rx[i].buf, rx[i].len,
					       rx[i].truncated ? BRAID_DATAGRAM_TRUNCATED : 0, now);
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

static void rist_json(void *arg, FILE *f)
{
	braid_rist_out_json(arg, f);
}

static int open_output(struct braid_recv_node *n, char *err, size_t err_len)
{
	if (n->cfg.output == BRAID_OUTPUT_RIST) {
		n->rist_out = braid_rist_out_open(n->loop, &n->cfg.output_addr,
						  n->cfg.core.latency_us, err, err_len);
		n->report.extra_json = rist_json;
		n->report.extra_arg = n->rist_out;
		return n->rist_out ? 0 : -1;
	}
	if (n->cfg.output == BRAID_OUTPUT_TUN)
		return 0; /* released packets go to tun_fd; the caller reads it */
	if (n->cfg.output == BRAID_OUTPUT_STDOUT) {
		n->out_fd = STDOUT_FILENO;
	} else if (n->cfg.output == BRAID_OUTPUT_FILE && !n->per_session) {
		n->out_fd = open_append(n->cfg.output_path);
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
	n->listen_reader = braid_udp_reader_new(n->listen_fd, BRAID_MAX_DATAGRAM, true);
	if (!n->listen_reader) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (open_output(n, err, err_len) < 0 ||
	    braid_loop_add_fd(n->loop, n->listen_fd, EPOLLIN, on_listen, n) < 0)
		return -1;
	n->report.tap = n->cfg.stats_tap;
	n->report.tap_arg = n->cfg.stats_tap_arg;
	if (n->cfg.stats_interval_us && (n->cfg.stats_path || n->report.live || n->cfg.stats_tap))
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
	if (n->cfg.core.release_window_us == 0)
		n->cfg.core.release_window_us = n->cfg.core.latency_us < RELEASE_WINDOW_US
							? n->cfg.core.latency_us
							: RELEASE_WINDOW_US;
	if (braid_seed_bytes(&n->cfg.core.seed, sizeof(n->cfg.core.seed)) ||
	    braid_seed_bytes(n->cfg.core.key_seed, sizeof(n->cfg.core.key_seed))) {
		snprintf(err, err_len, "cannot draw a random seed: %s", strerror(errno));
		free(n->buffers);
		free(n);
		return NULL;
	}
	n->listen_fd = n->out_fd = -1;
	if (cfg->output == BRAID_OUTPUT_TUN && !(n->peers = calloc(1, sizeof(*n->peers)))) {
		snprintf(err, err_len, "out of memory");
		free(n->buffers);
		free(n);
		return NULL;
	}
	n->per_session = cfg->output == BRAID_OUTPUT_FILE &&
			 strstr(cfg->output_path, BRAID_OUTPUT_SESSION_TEMPLATE) != NULL;
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
		if (n->outputs[i].used)
			close_output(n, n->outputs[i].session_id);
	if (n->listen_fd >= 0) {
		braid_loop_del_fd(n->loop, n->listen_fd);
		close(n->listen_fd);
	}
	braid_udp_reader_free(n->listen_reader);
	if (n->out_fd >= 0 && n->out_fd != STDOUT_FILENO)
		close(n->out_fd);
	braid_rist_out_close(n->rist_out);
	braid_report_close(&n->report);
	braid_receiver_free(n->receiver);
	free(n->peers);
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

int braid_recv_node_reverse(struct braid_recv_node *n, const uint8_t *buf, size_t len)
{
	uint32_t id = tun_session(n, buf, len);
	if (!id)
		return -1;
	if (braid_receiver_send_reverse(n->receiver, id, buf, len, braid_loop_now(n->loop)) < 0)
		n->tun_unsent++;
	return 0;
}

void braid_recv_node_drain(struct braid_recv_node *n)
{
	drain(n);
}

uint64_t braid_recv_node_tun_unsent(const struct braid_recv_node *n)
{
	return n->tun_unsent;
}

void braid_recv_node_report(struct braid_recv_node *n, bool final)
{
	braid_report_receiver(&n->report, n->receiver, braid_loop_now(n->loop), final);
}
