/* A link's user-space path (emu/path.h). Like the UDP relay, each packet's fate is decided
 * on arrival by the direction's model; a delivered packet waits, copied, in a min-heap by
 * departure time, and one loop timer writes everything due back into the TUN. */
#include "emu/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/heap.h"
#include "braid/error.h"
#include "emu/repeats.h"
#include "netns/tun.h"

#define PACKET_CAP 65536
/* Bounded work per wake-up, so timers keep their turn under a flood. */
#define READS_PER_WAKE 256
#define PENDING_MAX_BYTES (UINT64_C(32) << 20)
#define RESEED_MIX UINT64_C(0x9e3779b97f4a7c15)
#define IPV4_HEADER_MIN 20
#define IPV4_DST_OFFSET 16

enum dir { FWD = 0, REV = 1 };

struct pending {
	uint64_t due_us, seq; /* equal times leave in arrival order */
	uint8_t *data;
	uint32_t len;
};

struct braid_emu_path {
	struct braid_loop *loop;
	int tun_fd;
	uint32_t receiver;
	struct braid_emu_repeats *repeats; /* shared by the bench's links; NULL: not counted */
	struct braid_emu_media_stats media; /* forward */
	struct braid_emu_link_config cfg; /* as given, rates included */
	struct braid_model *model[2];
	struct braid_model_stats base[2]; /* totals of replaced models */
	uint64_t refused[2], refused_bytes[2]; /* accepted by a model, no memory left here */
	uint64_t last_due[2], start_us, reconfigurations, next_seq, pending_bytes;
	bool blackhole;
	struct braid_heap departures;
	struct braid_timer timer;
	uint8_t packet[PACKET_CAP];
};

bool braid_emu_path_needed(const struct braid_emu_link_config *cfg)
{
	const struct braid_model_settings *dirs[2] = { &cfg->fwd, &cfg->rev };

	for (int d = 0; d < 2; d++) {
		const struct braid_model_settings *s = dirs[d];

		if (s->delay_us || s->jitter_us || s->loss_kind != BRAID_LOSS_NONE ||
		    s->duplicate > 0 || s->outage_count)
			return true;
	}
	return false;
}

void braid_emu_path_settings(const struct braid_model_settings *in,
			     struct braid_model_settings *out)
{
	*out = *in;
	out->rate_kind = BRAID_RATE_UNLIMITED;
	out->trace_ms = NULL;
	out->trace_len = 0;
	out->queue_bytes = 0;
	out->queue_us = 0;
}

/* ---- departures ---- */

static bool earlier(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->due_us < y->due_us || (x->due_us == y->due_us && x->seq < y->seq);
}

/* Copies the packet in; false when the path is out of room. */
static bool enqueue(struct braid_emu_path *p, uint64_t due_us, const uint8_t *buf, size_t len)
{
	struct pending e = { .due_us = due_us, .seq = p->next_seq++, .len = (uint32_t)len };

	if (p->pending_bytes + len > PENDING_MAX_BYTES || !(e.data = malloc(len)))
		return false;
	memcpy(e.data, buf, len);
	if (braid_heap_push(&p->departures, &e) < 0) {
		free(e.data);
		return false;
	}
	p->pending_bytes += len;
	return true;
}

static void arm_timer(struct braid_emu_path *p)
{
	const struct pending *first = braid_heap_top(&p->departures);

	if (!first)
		braid_timer_stop(p->loop, &p->timer);
	else if (p->timer.heap_index == SIZE_MAX || p->timer.deadline_us != first->due_us)
		braid_timer_start(p->loop, &p->timer, first->due_us);
}

static void on_due(struct braid_loop *loop, void *arg)
{
	struct braid_emu_path *p = arg;
	uint64_t now = braid_loop_now(loop);
	const struct pending *first;

	while ((first = braid_heap_top(&p->departures)) && first->due_us <= now) {
		struct pending e;

		braid_heap_pop(&p->departures, &e);
		p->pending_bytes -= e.len;
		/* A packet the kernel refuses now (its route gone) is lost, as on a wire. */
		braid_tun_write(p->tun_fd, e.data, e.len);
		free(e.data);
	}
	arm_timer(p);
}

/* ---- arrivals ---- */

static int direction_of(const struct braid_emu_path *p, const uint8_t *pkt, size_t len)
{
	uint32_t dst;

	if (len < IPV4_HEADER_MIN || (pkt[0] >> 4) != 4)
		return -1;
	memcpy(&dst, pkt + IPV4_DST_OFFSET, sizeof(dst));
	return dst == p->receiver ? FWD : REV;
}

static void offer(struct braid_emu_path *p, enum dir d, const uint8_t *pkt, size_t len)
{
	const struct braid_model_settings *s = d == FWD ? &p->cfg.fwd : &p->cfg.rev;
	struct braid_fate fate = braid_model_offer(p->model[d], braid_loop_now(p->loop), len);
	uint64_t due, shift;

	if (fate.kind != BRAID_FATE_DELIVER)
		return;
	due = fate.deliver_at_us;
	if (!s->reorder && due < p->last_due[d])
		due = p->last_due[d];
	shift = due - fate.deliver_at_us;
	if (!enqueue(p, due, pkt, len)) {
		p->refused[d]++;
		p->refused_bytes[d] += len;
		return;
	}
	if (due > p->last_due[d])
		p->last_due[d] = due;
	/* A copy the path cannot hold is simply not made: the original went through. */
	if (fate.duplicate_at_us)
		enqueue(p, fate.duplicate_at_us + shift, pkt, len);
}

static void on_packet(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct braid_emu_path *p = arg;

	(void)events;
	for (int i = 0; i < READS_PER_WAKE; i++) {
		ssize_t n = braid_tun_read(fd, p->packet, sizeof(p->packet));
		int d;

		if (n <= 0)
			break;
		d = direction_of(p, p->packet, (size_t)n);
		/* What is not IPv4 (the kernel's own IPv6 chatter on a new device) stays out. */
		if (d < 0)
			continue;
		/* Counted as the sender put it on the link, whatever the link then does to it. */
		if (d == FWD && p->repeats)
			braid_emu_media_count(&p->media,
					      braid_emu_repeats_see(p->repeats, p->packet, (size_t)n,
								    braid_loop_now(loop)));
		offer(p, (enum dir)d, p->packet, (size_t)n);
	}
	arm_timer(p);
}

/* ---- life cycle ---- */

static int new_models(struct braid_emu_path *p, const struct braid_emu_link_config *cfg,
		      struct braid_model *out[2])
{
	struct braid_emu_link_config user = *cfg;

	braid_emu_path_settings(&cfg->fwd, &user.fwd);
	braid_emu_path_settings(&cfg->rev, &user.rev);
	return braid_emu_new_models(&user, p->start_us, p->reconfigurations * RESEED_MIX, out);
}

struct braid_emu_path *braid_emu_path_open(struct braid_loop *loop, int tun_fd,
					   uint32_t receiver, struct braid_emu_repeats *repeats,
					   const struct braid_emu_link_config *cfg,
					   char *err, size_t err_len)
{
	struct braid_emu_path *p = calloc(1, sizeof(*p));

	if (!p || braid_emu_link_config_copy(&p->cfg, cfg)) {
		free(p);
		snprintf(err, err_len, "link %s: out of memory", cfg->name);
		return NULL;
	}
	p->loop = loop;
	p->tun_fd = tun_fd;
	p->receiver = receiver;
	p->repeats = repeats;
	p->start_us = braid_loop_update_time(loop);
	braid_heap_init(&p->departures, sizeof(struct pending), earlier, NULL);
	braid_timer_init(&p->timer, on_due, p);
	if (new_models(p, &p->cfg, p->model) ||
	    braid_loop_add_fd(loop, tun_fd, EPOLLIN, on_packet, p)) {
		snprintf(err, err_len, "link %s: cannot start its user-space path", cfg->name);
		braid_emu_link_config_free(&p->cfg);
		free(p);
		return NULL;
	}
	return p;
}

void braid_emu_path_close(struct braid_emu_path *p)
{
	struct pending e;

	if (!p)
		return;
	braid_loop_del_fd(p->loop, p->tun_fd);
	braid_timer_stop(p->loop, &p->timer);
	while (braid_heap_pop(&p->departures, &e))
		free(e.data);
	braid_heap_free(&p->departures);
	for (int d = FWD; d <= REV; d++)
		braid_model_free(p->model[d]);
	braid_emu_link_config_free(&p->cfg);
	free(p);
}

void braid_emu_path_set_blackhole(struct braid_emu_path *p, bool on)
{
	p->blackhole = on;
	for (int d = FWD; d <= REV; d++)
		braid_model_set_blackhole(p->model[d], on);
}

bool braid_emu_path_blackhole(const struct braid_emu_path *p)
{
	return p->blackhole;
}

int braid_emu_path_reconfigure(struct braid_emu_path *p, const struct braid_emu_link_config *cfg,
			       char *err, size_t err_len)
{
	struct braid_emu_link_config next;
	struct braid_model *models[2];
	uint64_t now = braid_loop_now(p->loop);

	if (braid_emu_link_config_copy(&next, cfg)) {
		snprintf(err, err_len, "link %s: out of memory", p->cfg.name);
		return BRAID_ERR_NOMEM;
	}
	p->reconfigurations++;
	if (new_models(p, &next, models)) {
		braid_emu_link_config_free(&next);
		snprintf(err, err_len, "link %s: settings the model cannot run", p->cfg.name);
		return BRAID_ERR_INVAL;
	}
	for (int d = FWD; d <= REV; d++) {
		struct braid_model_stats old;

		braid_model_get_stats(p->model[d], now, &old);
		braid_model_stats_add(&p->base[d], &old);
		braid_model_free(p->model[d]);
		p->model[d] = models[d];
		braid_model_set_blackhole(models[d], p->blackhole);
	}
	braid_emu_link_config_free(&p->cfg);
	p->cfg = next;
	return 0;
}

void braid_emu_path_get_stats(const struct braid_emu_path *p, uint64_t now_us,
			      struct braid_model_stats *fwd, struct braid_model_stats *rev)
{
	struct braid_model_stats *out[2] = { fwd, rev };

	for (int d = FWD; d <= REV; d++) {
		braid_model_get_stats(p->model[d], now_us, out[d]);
		braid_model_stats_add(out[d], &p->base[d]);
		out[d]->delivered -= p->refused[d];
		out[d]->delivered_bytes -= p->refused_bytes[d];
		out[d]->dropped_queue += p->refused[d];
	}
}

void braid_emu_path_get_media(const struct braid_emu_path *p, struct braid_emu_media_stats *out)
{
	*out = p->media;
}
