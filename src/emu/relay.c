/* One emulated link: a bidirectional UDP relay. The listen socket takes the sender side's
 * datagrams into the forward model and remembers who sent last; the upstream socket sends
 * toward `to` and takes its replies into the return model, which sends them back to that last
 * source through the listen socket.
 *
 * The models decide each datagram's fate on arrival; a delivered datagram waits, copied, in
 * one min-heap per relay ordered by departure time (jitter with reorder, and duplicates, mean
 * departures need not follow arrivals), and a single loop timer fires at the earliest one.
 * Everything due when it fires leaves in one sendmmsg batch per socket. */
#include "emu/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/heap.h"
#include "braid/error.h"
#include "io/udp.h"

/* Datagrams read per system call, and batches per wake-up: bounded work per callback lets the
 * other socket and the timers have their turn under flood. */
#define RX_BATCH 32
#define RX_BATCHES_PER_WAKE 8
/* Larger than any UDP payload, so nothing is ever truncated. */
#define RX_CAP 65536
#define TX_BATCH 32
/* What a relay may hold in flight, both directions together: beyond it, datagrams a model
 * accepted are dropped and counted as queue drops. 32 MiB is 10 s at 25 Mbit/s. */
#define PENDING_MAX_BYTES (UINT64_C(32) << 20)
#define PENDING_MAX_COUNT 262144u
/* Reconfigured models draw from a new stream rather than replaying the first one. */
#define RESEED_MIX UINT64_C(0xd1b54a32d192ed03)

enum dir { FWD = 0, REV = 1 };

struct pending {
	uint64_t due_us;
	uint64_t seq; /* equal times leave in arrival order */
	uint8_t *data;
	uint32_t len;
	uint8_t dir;
};

struct outbox {
	struct braid_datagram batch[TX_BATCH];
	size_t count;
};

struct braid_emu_relay {
	struct braid_loop *loop;
	struct braid_emu_link_config cfg; /* own copy: the models borrow its traces */
	struct braid_model *model[2];
	struct braid_model_stats base[2]; /* totals of models replaced by reconfigurations */
	uint64_t refused[2], refused_bytes[2]; /* accepted by a model, no relay memory left */
	uint64_t last_due[2]; /* keeps a FIFO direction FIFO across reconfigurations */
	uint64_t start_us;
	uint64_t reconfigurations;
	bool blackhole;
	int listen_fd, up_fd;
	struct braid_addr source; /* where replies go; len 0 until someone has sent */
	struct braid_heap departures; /* of struct pending, the earliest first */
	uint64_t pending_bytes;
	uint64_t next_seq;
	struct braid_timer timer;
	struct braid_datagram rx[RX_BATCH];
	uint8_t *rx_mem;
	struct outbox out[2];
};

/* ---- the departure heap ---- */

static bool earlier(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	return x->due_us < y->due_us || (x->due_us == y->due_us && x->seq < y->seq);
}

static const struct pending *first_due(const struct braid_emu_relay *r)
{
	return braid_heap_top(&r->departures);
}

static struct pending pop_first(struct braid_emu_relay *r)
{
	struct pending top;

	braid_heap_pop(&r->departures, &top);
	r->pending_bytes -= top.len;
	return top;
}

/* Copies the datagram in; false when the relay is out of room. */
static bool enqueue(struct braid_emu_relay *r, enum dir d, uint64_t due_us, const uint8_t *buf,
		    size_t len)
{
	struct pending p = { .due_us = due_us, .seq = r->next_seq++, .len = (uint32_t)len,
			     .dir = (uint8_t)d };

	if (braid_heap_len(&r->departures) >= PENDING_MAX_COUNT ||
	    r->pending_bytes + len > PENDING_MAX_BYTES)
		return false;
	p.data = malloc(len ? len : 1);
	if (!p.data)
		return false;
	memcpy(p.data, buf, len);
	if (braid_heap_push(&r->departures, &p) < 0) {
		free(p.data);
		return false;
	}
	r->pending_bytes += len;
	return true;
}

static void arm_timer(struct braid_emu_relay *r)
{
	const struct pending *first = first_due(r);

	if (!first) {
		braid_timer_stop(r->loop, &r->timer);
		return;
	}
	if (r->timer.heap_index == SIZE_MAX || r->timer.deadline_us != first->due_us)
		braid_timer_start(r->loop, &r->timer, first->due_us);
}

/* ---- arrivals ---- */

static bool reorders(const struct braid_emu_relay *r, enum dir d)
{
	return d == FWD ? r->cfg.fwd.reorder : r->cfg.rev.reorder;
}

static void offer(struct braid_emu_relay *r, enum dir d, const uint8_t *buf, size_t len)
{
	struct braid_fate fate = braid_model_offer(r->model[d], braid_loop_now(r->loop), len);
	uint64_t due, shift;

	if (fate.kind != BRAID_FATE_DELIVER)
		return;
	due = fate.deliver_at_us;
	if (!reorders(r, d) && due < r->last_due[d])
		due = r->last_due[d];
	shift = due - fate.deliver_at_us;
	if (!enqueue(r, d, due, buf, len)) {
		r->refused[d]++;
		r->refused_bytes[d] += len;
		return;
	}
	if (due > r->last_due[d])
		r->last_due[d] = due;
	/* A copy the relay cannot hold is simply not made: the original went through. */
	if (fate.duplicate_at_us && enqueue(r, d, fate.duplicate_at_us + shift, buf, len) &&
	    fate.duplicate_at_us + shift > r->last_due[d])
		r->last_due[d] = fate.duplicate_at_us + shift;
}

static void on_listen(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_emu_relay *r = arg;

	(void)loop;
	(void)events;
	for (int round = 0; round < RX_BATCHES_PER_WAKE; round++) {
		int n = braid_udp_recv_batch(fd, r->rx, RX_BATCH);

		for (int i = 0; i < n; i++) {
			r->source = r->rx[i].addr;
			offer(r, FWD, r->rx[i].buf, r->rx[i].len);
		}
		if (n < RX_BATCH)
			break;
	}
	arm_timer(r);
}

static void on_upstream(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_emu_relay *r = arg;

	(void)loop;
	(void)events;
	for (int round = 0; round < RX_BATCHES_PER_WAKE; round++) {
		int n = braid_udp_recv_batch(fd, r->rx, RX_BATCH);

		/* Only the destination's replies go back, and only once someone is there. */
		for (int i = 0; i < n; i++) {
			if (r->source.len && braid_addr_equal(&r->rx[i].addr, &r->cfg.to))
				offer(r, REV, r->rx[i].buf, r->rx[i].len);
		}
		if (n < RX_BATCH)
			break;
	}
	arm_timer(r);
}

/* ---- departures ---- */

/* Sends the batch; a datagram the socket refuses is dropped, and the rest still go. */
static void flush(struct braid_emu_relay *r, enum dir d)
{
	struct outbox *box = &r->out[d];
	int fd = d == FWD ? r->up_fd : r->listen_fd;
	size_t done = 0;

	while (done < box->count) {
		int sent = braid_udp_send_batch(fd, box->batch + done, box->count - done);

		done += sent > 0 ? (size_t)sent : 1;
	}
	for (size_t i = 0; i < box->count; i++)
		free(box->batch[i].buf);
	box->count = 0;
}

static void on_due(struct braid_loop *loop, void *arg)
{
	struct braid_emu_relay *r = arg;
	uint64_t now = braid_loop_now(loop);

	while (first_due(r) && first_due(r)->due_us <= now) {
		struct pending p = pop_first(r);
		struct outbox *box = &r->out[p.dir];
		struct braid_datagram *dg = &box->batch[box->count];

		if (p.dir == REV && r->source.len == 0) {
			free(p.data);
			continue;
		}
		dg->buf = p.data;
		dg->len = p.len;
		dg->addr = p.dir == FWD ? r->cfg.to : r->source;
		if (++box->count == TX_BATCH)
			flush(r, (enum dir)p.dir);
	}
	flush(r, FWD);
	flush(r, REV);
	arm_timer(r);
}

/* ---- life cycle ---- */

static int open_sockets(struct braid_emu_relay *r, char *err, size_t err_len)
{
	struct braid_udp_options listen_opt = { .bind = &r->cfg.listen };
	struct braid_udp_options up_opt = { .family = r->cfg.to.u.sa.sa_family };
	char a[64];

	r->listen_fd = braid_udp_open(&listen_opt);
	if (r->listen_fd < 0) {
		snprintf(err, err_len, "link %s: cannot listen on %s: %s", r->cfg.name,
			 braid_addr_format(&r->cfg.listen, a, sizeof(a)), strerror(errno));
		return BRAID_ERR_IO;
	}
	r->up_fd = braid_udp_open(&up_opt);
	if (r->up_fd < 0) {
		snprintf(err, err_len, "link %s: cannot open a socket toward %s: %s", r->cfg.name,
			 braid_addr_format(&r->cfg.to, a, sizeof(a)), strerror(errno));
		return BRAID_ERR_IO;
	}
	if (braid_loop_add_fd(r->loop, r->listen_fd, EPOLLIN, on_listen, r) ||
	    braid_loop_add_fd(r->loop, r->up_fd, EPOLLIN, on_upstream, r)) {
		snprintf(err, err_len, "link %s: cannot watch its sockets", r->cfg.name);
		return BRAID_ERR_IO;
	}
	return 0;
}

int braid_emu_resolve(struct braid_emu_link_config *cfg, char *err, size_t err_len)
{
	if (!cfg->listen.len && braid_addr_parse(cfg->listen_text[0] ? cfg->listen_text : ":0", 1,
						 &cfg->listen)) {
		snprintf(err, err_len, "link %s: listen=%s: not [ADDR]:PORT", cfg->name,
			 cfg->listen_text);
		return BRAID_ERR_INVAL;
	}
	if (!cfg->to.len && (braid_addr_parse(cfg->to_text, 0, &cfg->to) ||
			     braid_addr_port(&cfg->to) == 0)) {
		snprintf(err, err_len, "link %s: to=%s: not HOST:PORT", cfg->name, cfg->to_text);
		return BRAID_ERR_INVAL;
	}
	return 0;
}

static int setup(struct braid_emu_relay *r, const struct braid_emu_link_config *cfg, char *err,
		 size_t err_len)
{
	if (braid_emu_link_config_copy(&r->cfg, cfg)) {
		snprintf(err, err_len, "link %s: out of memory", cfg->name);
		return BRAID_ERR_NOMEM;
	}
	if (braid_emu_resolve(&r->cfg, err, err_len))
		return BRAID_ERR_INVAL;
	r->start_us = braid_loop_update_time(r->loop);
	if (braid_emu_new_models(&r->cfg, r->start_us, 0, r->model)) {
		snprintf(err, err_len, "link %s: settings the model cannot run", cfg->name);
		return BRAID_ERR_INVAL;
	}
	r->rx_mem = malloc((size_t)RX_BATCH * RX_CAP);
	if (!r->rx_mem) {
		snprintf(err, err_len, "link %s: out of memory", cfg->name);
		return BRAID_ERR_NOMEM;
	}
	for (size_t i = 0; i < RX_BATCH; i++) {
		r->rx[i].buf = r->rx_mem + i * RX_CAP;
		r->rx[i].cap = RX_CAP;
	}
	return open_sockets(r, err, err_len);
}

struct braid_emu_relay *braid_emu_relay_open(struct braid_loop *loop,
					     const struct braid_emu_link_config *cfg, char *err,
					     size_t err_len)
{
	struct braid_emu_relay *r;

	if (!loop || !cfg) {
		snprintf(err, err_len, "no loop or no link");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_len, "link %s: out of memory", cfg->name);
		return NULL;
	}
	r->loop = loop;
	r->listen_fd = r->up_fd = -1;
	braid_heap_init(&r->departures, sizeof(struct pending), earlier, NULL);
	braid_timer_init(&r->timer, on_due, r);
	if (setup(r, cfg, err, err_len)) {
		braid_emu_relay_close(r);
		return NULL;
	}
	return r;
}

static void close_socket(struct braid_emu_relay *r, int fd)
{
	if (fd < 0)
		return;
	braid_loop_del_fd(r->loop, fd);
	close(fd);
}

void braid_emu_relay_close(struct braid_emu_relay *r)
{
	if (!r)
		return;
	braid_timer_stop(r->loop, &r->timer);
	close_socket(r, r->listen_fd);
	close_socket(r, r->up_fd);
	for (size_t i = 0; i < braid_heap_len(&r->departures); i++)
		free(((struct pending *)braid_heap_at(&r->departures, i))->data);
	braid_heap_free(&r->departures);
	free(r->rx_mem);
	braid_model_free(r->model[FWD]);
	braid_model_free(r->model[REV]);
	braid_emu_link_config_free(&r->cfg);
	free(r);
}

/* ---- control and figures ---- */

void braid_emu_relay_set_blackhole(struct braid_emu_relay *r, bool on)
{
	r->blackhole = on;
	braid_model_set_blackhole(r->model[FWD], on);
	braid_model_set_blackhole(r->model[REV], on);
}

bool braid_emu_relay_blackhole(const struct braid_emu_relay *r)
{
	return r->blackhole;
}

static void direction_stats(const struct braid_emu_relay *r, enum dir d, uint64_t now_us,
			    struct braid_model_stats *out)
{
	braid_model_get_stats(r->model[d], now_us, out);
	braid_model_stats_add(out, &r->base[d]);
	out->delivered -= r->refused[d];
	out->delivered_bytes -= r->refused_bytes[d];
	out->dropped_queue += r->refused[d];
}

void braid_emu_relay_get_stats(const struct braid_emu_relay *r, uint64_t now_us,
			       struct braid_model_stats *fwd, struct braid_model_stats *rev)
{
	if (fwd)
		direction_stats(r, FWD, now_us, fwd);
	if (rev)
		direction_stats(r, REV, now_us, rev);
}

int braid_emu_relay_listen_addr(const struct braid_emu_relay *r, struct braid_addr *out)
{
	return braid_udp_local(r->listen_fd, out);
}

const char *braid_emu_relay_name(const struct braid_emu_relay *r)
{
	return r->cfg.name;
}

const struct braid_emu_link_config *braid_emu_relay_config(const struct braid_emu_relay *r)
{
	return &r->cfg;
}

int braid_emu_relay_reconfigure(struct braid_emu_relay *r,
				const struct braid_emu_link_config *cfg, char *err,
				size_t err_len)
{
	struct braid_emu_link_config next;
	struct braid_model *models[2];
	uint64_t now = braid_loop_now(r->loop);

	if (braid_emu_link_config_copy(&next, cfg)) {
		snprintf(err, err_len, "link %s: out of memory", r->cfg.name);
		return BRAID_ERR_NOMEM;
	}
	memcpy(next.name, r->cfg.name, sizeof(next.name));
	next.listen = r->cfg.listen;
	next.to = r->cfg.to;
	if (braid_emu_new_models(&next, r->start_us, (r->reconfigurations + 1) * RESEED_MIX, models)) {
		braid_emu_link_config_free(&next);
		snprintf(err, err_len, "link %s: settings the model cannot run", r->cfg.name);
		return BRAID_ERR_INVAL;
	}
	for (int d = FWD; d <= REV; d++) {
		struct braid_model_stats old;

		braid_model_get_stats(r->model[d], now, &old);
		braid_model_stats_add(&r->base[d], &old);
		braid_model_free(r->model[d]);
		r->model[d] = models[d];
		braid_model_set_blackhole(models[d], r->blackhole);
	}
	/* The old models borrowed the old traces: released only now. */
	braid_emu_link_config_free(&r->cfg);
	r->cfg = next;
	r->reconfigurations++;
	return 0;
}

int braid_emu_relay_apply_keys(struct braid_emu_relay *r, const char *keys, char *err,
			       size_t err_len)
{
	struct braid_emu_link_config work;
	int rc;

	if (braid_emu_link_config_copy(&work, &r->cfg)) {
		snprintf(err, err_len, "link %s: out of memory", r->cfg.name);
		return BRAID_ERR_NOMEM;
	}
	rc = braid_emu_apply_keys(&work, keys, err, err_len);
	if (rc == 0)
		rc = braid_emu_relay_reconfigure(r, &work, err, err_len);
	braid_emu_link_config_free(&work);
	return rc;
}
