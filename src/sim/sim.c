/* The simulation engine. Datagrams in flight wait in a binary heap ordered by the time they
 * leave their link (then by when they were sent). Each step moves the virtual clock to the
 * earliest of: the heap's top, the sender's and the receiver's next timeouts, the media
 * source's next packet, the next scenario event, the next sample and the next outage
 * boundary; then it does everything due, draining each core after every input, as a real
 * event loop would. Nothing reads a clock or draws system randomness, so a run depends on
 * the scenario and its seed alone. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "core/wire.h"
#include "sim/sim_internal.h"

#define RESEED_MIX UINT64_C(0xd1b54a32d192ed03)
/* Steps at one instant before the clock is nudged by 1 us, and nudges in a row before the
 * run is declared stuck: a core that is due again right after handling its timeout is
 * handled as a real loop would, by spinning until the clock moves. */
#define SAME_INSTANT_STEPS 2
#define STUCK_NUDGES 100000
#define DRAIN_US UINT64_C(1000000)
#define MEDIA_FILL 0x47

static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t sim_sender_clock(const struct braid_sim *sim, uint64_t t)
{
	int64_t since = (int64_t)(t - SIM_BASE_US);

	/* a week at 1000 ppm is 6e17: within int64 */
	return SIM_BASE_US + (uint64_t)(since + since * sim->clock_drift_ppb / 1000000000);
}

uint64_t sim_true_time(const struct braid_sim *sim, uint64_t sender_t)
{
	uint64_t t;

	if (sender_t == SIM_NEVER || !sim->clock_drift_ppb)
		return sender_t;
	if (sender_t <= sim_sender_clock(sim, sim->now))
		return sim->now;
	t = SIM_BASE_US + (uint64_t)((double)(sender_t - SIM_BASE_US) /
				     (1.0 + (double)sim->clock_drift_ppb / 1e9));
	/* the division's rounding, either way: the first time the clock reads sender_t */
	while (sim_sender_clock(sim, t) < sender_t)
		t++;
	while (t > sim->now && sim_sender_clock(sim, t - 1) >= sender_t)
		t--;
	return t;
}

static uint64_t sender_now(const struct braid_sim *sim)
{
	return sim_sender_clock(sim, sim->now);
}

uint64_t sim_push_time(const struct braid_sim *sim, uint64_t i)
{
	return sim->stream_start + (uint64_t)((double)i * sim->interval_us + 0.5);
}

/* ---- the heap of datagrams in flight ---- */

static bool flight_before(const void *a, const void *b)
{
	const struct sim_flight *x = a, *y = b;
	return x->at < y->at || (x->at == y->at && x->order < y->order);
}

static const struct sim_flight *next_flight(const struct braid_sim *sim)
{
	return braid_heap_top(&sim->in_flight);
}

/* ---- links ---- */

uint64_t sim_model_reseed(uint64_t scenario_seed, uint64_t reconfigurations)
{
	return splitmix64(scenario_seed) ^ reconfigurations * RESEED_MIX;
}

static int new_models(const struct braid_sim *sim, const struct sim_link *l,
		      const struct braid_emu_link_config *cfg, struct braid_model *out[2])
{
	return braid_emu_new_models(cfg, SIM_BASE_US,
				    sim_model_reseed(sim->sc->seed, l->reconfigurations), out);
}

/* A settings change: new models from now on, counters carried over. */
static void reconfigure(struct braid_sim *sim, struct sim_link *l, const char *keys)
{
	struct braid_emu_link_config work;
	struct braid_model *models[2];
	char err[256];

	if (braid_emu_link_config_copy(&work, &l->cfg))
		return; /* out of memory: the link keeps its settings */
	l->reconfigurations++;
	if (braid_emu_apply_keys(&work, keys, err, sizeof(err)) ||
	    new_models(sim, l, &work, models)) {
		braid_emu_link_config_free(&work); /* checked when parsed: cannot happen */
		return;
	}
	for (int d = SIM_FWD; d <= SIM_REV; d++) {
		struct braid_model_stats old;

		braid_model_get_stats(l->model[d], sim->now, &old);
		braid_model_stats_add(&l->base[d], &old);
		braid_model_free(l->model[d]);
		l->model[d] = models[d];
		braid_model_set_blackhole(models[d], l->blackhole);
	}
	braid_emu_link_config_free(&l->cfg); /* the old models borrowed its traces */
	l->cfg = work;
}

static void set_blackhole(struct sim_link *l, enum braid_emu_action action)
{
	if (action == BRAID_EMU_BLACKHOLE_TOGGLE)
		l->blackhole = !l->blackhole;
	else
		l->blackhole = action == BRAID_EMU_BLACKHOLE_ON;
	braid_model_set_blackhole(l->model[SIM_FWD], l->blackhole);
	braid_model_set_blackhole(l->model[SIM_REV], l->blackhole);
}

static void apply_due_events(struct braid_sim *sim)
{
	const struct braid_emu_scenario *emu = &sim->sc->emu;

	while (sim->next_event < emu->event_count &&
	       SIM_BASE_US + emu->events[sim->next_event].at_us <= sim->now) {
		const struct braid_emu_event *ev = &emu->events[sim->next_event++];

		for (size_t i = 0; i < sim->link_count; i++) {
			struct sim_link *l = &sim->links[i];

			if (strcmp(ev->link, "*") != 0 && strcmp(ev->link, l->cfg.name) != 0)
				continue;
			if (ev->action == BRAID_EMU_SET)
				reconfigure(sim, l, ev->keys);
			else
				set_blackhole(l, ev->action);
		}
		sim_on_scenario_event(sim, ev);
	}
}

/* A datagram handed to a link: its model decides whether and when it comes out. */
static void offer(struct braid_sim *sim, size_t li, int dir, const uint8_t *buf, size_t len)
{
	struct sim_link *l = &sim->links[li];
	const struct braid_model_settings *ms = dir == SIM_FWD ? &l->cfg.fwd : &l->cfg.rev;
	struct braid_fate fate;
	struct sim_flight f = { .len = (uint32_t)len, .link = (uint8_t)li, .dir = (uint8_t)dir };

	if (l->inflight_bytes[dir] + len > SIM_LINK_MAX_BYTES ||
	    l->inflight_count[dir] + 2 > SIM_LINK_MAX_DATAGRAMS) {
		l->refused[dir]++;
		return;
	}
	fate = braid_model_offer(l->model[dir], sim->now, len);
	if (fate.kind != BRAID_FATE_DELIVER)
		return;
	f.at = fate.deliver_at_us;
	if (!ms->reorder && f.at < l->last_due[dir])
		f.at = l->last_due[dir];
	for (int copy = 0; copy < 1 + (fate.duplicate_at_us != 0); copy++) {
		f.buf = malloc(len ? len : 1);
		f.order = sim->order++;
		if (!f.buf || braid_heap_push(&sim->in_flight, &f) < 0) {
			free(f.buf);
			l->refused[dir]++;
			return;
		}
		memcpy(f.buf, buf, len);
		l->inflight_bytes[dir] += len;
		l->inflight_count[dir]++;
		if (f.at > l->last_due[dir])
			l->last_due[dir] = f.at;
		f.at = fate.duplicate_at_us > f.at ? fate.duplicate_at_us : f.at + 1;
	}
}

/* ---- the cores ---- */

static size_t link_of_id(const struct braid_sim *sim, uint16_t id)
{
	for (size_t i = 0; i < sim->link_count; i++)
		if (sim->links[i].id == id)
			return i;
	return SIZE_MAX;
}

static size_t link_of_addr(const struct braid_sim *sim, const struct braid_addr *a)
{
	for (size_t i = 0; i < sim->link_count; i++)
		if (braid_addr_equal(a, &sim->links[i].addr))
			return i;
	return SIZE_MAX;
}

static void drain_sender(struct braid_sim *sim)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_event ev;
	uint16_t id;
	size_t n;

	while (braid_sender_poll_transmit(sim->tx, sender_now(sim), &id, buf, sizeof(buf), &n) == 1) {
		size_t li = link_of_id(sim, id);

		if (li == SIZE_MAX)
			continue;
		if ((buf[0] & 0x0f) == BRAID_PKT_DATA)
			sim->links[li].data_sent++;
		offer(sim, li, SIM_FWD, buf, n);
	}
	while (braid_sender_poll_reverse(sim->tx, sender_now(sim), buf, sizeof(buf), &n) == 1)
		; /* nothing comes back from the far side's next hop in a simulation */
	while (braid_sender_poll_event(sim->tx, &ev))
		sim_on_sender_event(sim, &ev);
}

static void drain_receiver(struct braid_sim *sim)
{
	uint8_t buf[BRAID_MAX_DATAGRAM];
	struct braid_addr to;
	struct braid_event ev;
	uint32_t session;
	size_t n;

	while (braid_receiver_poll_transmit(sim->rx, sim->now, &to, buf, sizeof(buf), &n) == 1) {
		size_t li = link_of_addr(sim, &to);

		if (li != SIZE_MAX)
			offer(sim, li, SIM_REV, buf, n);
	}
	while (braid_receiver_poll_output(sim->rx, sim->now, &session, buf, sizeof(buf), &n) == 1)
		sim_on_release(sim, buf, (long)n);
	while (braid_receiver_poll_event(sim->rx, &ev))
		;
}

static void deliver(struct braid_sim *sim, struct sim_flight *f)
{
	struct sim_link *l = &sim->links[f->link];

	l->inflight_bytes[f->dir] -= f->len;
	l->inflight_count[f->dir]--;
	if (f->dir == SIM_REV) {
		braid_sender_handle_datagram(sim->tx, l->id, f->buf, f->len, 0, sender_now(sim));
		drain_sender(sim);
		return;
	}
	if (f->len > BRAID_DATA_HEADER_SIZE && (f->buf[0] & 0x0f) == BRAID_PKT_DATA) {
		size_t tag = (f->buf[1] & BRAID_FLAG_KEYED) ? BRAID_SEAL_OVERHEAD : 0;
		size_t payload = f->len - BRAID_DATA_HEADER_SIZE;

		sim_on_data_delivered(sim, f->link, payload > tag ? payload - tag : 0);
		sim_on_media_arrival(sim, f->buf + BRAID_DATA_HEADER_SIZE,
				     payload > tag ? payload - tag : 0);
	}
	braid_receiver_handle_datagram(sim->rx, &l->addr, f->buf, f->len, 0, sim->now);
	drain_receiver(sim);
}

static void push_media(struct braid_sim *sim)
{
	uint64_t i = sim->pushed++;

	put_le64(sim->media, i);
	put_le64(sim->media + 8, sim->now - SIM_BASE_US);
	sim_on_push(sim, i);
	braid_sender_push(sim->tx, sim->media, sim->sc->packet_bytes, sender_now(sim));
	drain_sender(sim);
}

/* ---- the loop ---- */

static uint64_t next_due(const struct braid_sim *sim)
{
	const struct braid_emu_scenario *emu = &sim->sc->emu;
	uint64_t t = next_flight(sim) ? next_flight(sim)->at : SIM_NEVER;

	t = min_u64(t, sim_true_time(sim, braid_sender_next_timeout(sim->tx)));
	t = min_u64(t, braid_receiver_next_timeout(sim->rx));
	if (sim->pushed < sim->packets_total)
		t = min_u64(t, sim_push_time(sim, sim->pushed));
	if (sim->next_event < emu->event_count)
		t = min_u64(t, SIM_BASE_US + emu->events[sim->next_event].at_us);
	t = min_u64(t, sim->next_sample);
	return min_u64(t, sim->next_death_change);
}

static void step(struct braid_sim *sim)
{
	apply_due_events(sim);
	sim_update_deaths(sim);
	while (next_flight(sim) && next_flight(sim)->at <= sim->now) {
		struct sim_flight f;

		braid_heap_pop(&sim->in_flight, &f);
		deliver(sim, &f);
		free(f.buf);
	}
	while (sim->pushed < sim->packets_total && sim_push_time(sim, sim->pushed) <= sim->now)
		push_media(sim);
	if (braid_sender_next_timeout(sim->tx) <= sender_now(sim)) {
		braid_sender_handle_timeout(sim->tx, sender_now(sim));
		drain_sender(sim);
	}
	if (braid_receiver_next_timeout(sim->rx) <= sim->now) {
		braid_receiver_handle_timeout(sim->rx, sim->now);
		drain_receiver(sim);
	}
	while (sim->next_sample <= sim->now)
		sim_take_samples(sim);
}

int braid_sim_run_until(struct braid_sim *sim, uint64_t t_us)
{
	uint64_t target = t_us > sim->end - SIM_BASE_US ? sim->end : SIM_BASE_US + t_us;
	unsigned same_instant = 0, nudges = 0;

	while (!sim->stuck && sim->now < target) {
		uint64_t t = next_due(sim);

		if (t <= sim->now) {
			t = sim->now;
			if (++same_instant > SAME_INSTANT_STEPS) {
				t = sim->now + 1;
				same_instant = 0;
				sim->stuck = ++nudges > STUCK_NUDGES;
			}
		} else {
			same_instant = 0;
			nudges = 0;
		}
		if (t > target)
			t = target;
		sim->now = t;
		step(sim);
	}
	if (sim->now >= sim->end && !sim->finished) {
		sim->finished = true;
		sim_finalize_metrics(sim);
	}
	return sim->stuck ? BRAID_ERR_AGAIN : 0;
}

int braid_sim_run(struct braid_sim *sim)
{
	return braid_sim_run_until(sim, UINT64_MAX);
}

uint64_t braid_sim_now(const struct braid_sim *sim)
{
	return sim->now - SIM_BASE_US;
}

uint64_t braid_sim_end(const struct braid_sim *sim)
{
	return sim->end - SIM_BASE_US;
}

/* ---- setting up ---- */

static void fake_addr(struct braid_addr *a, size_t index)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	a->u.in4.sin_port = htons((uint16_t)(40000 + index));
	a->u.in4.sin_addr.s_addr = htonl(0x0a000001u + (uint32_t)index);
	a->len = sizeof(a->u.in4);
}

static int new_cores(struct braid_sim *sim, char *err, size_t err_len)
{
	const struct braid_sim_scenario *sc = sim->sc;
	struct braid_sender_settings ts = sc->sender;
	struct braid_receiver_settings rs;
	uint64_t draw = splitmix64(sc->seed ^ UINT64_C(0x5eed));

	ts.session_id = (uint32_t)(draw >> 32) | 1u;
	put_le64(ts.nonce, splitmix64(draw));
	braid_receiver_settings_default(&rs);
	rs.latency_us = ts.latency_us;
	rs.health = ts.health;
	rs.max_sessions = 2;
	rs.seed = splitmix64(draw + 1);
	if (sc->psk_text[0]) {
		ts.psk = rs.psk = (const uint8_t *)sc->psk_text;
		ts.psk_len = rs.psk_len = strlen(sc->psk_text);
		/* both sides' wall clocks agree in virtual time; ephemeral keys from the seed */
		ts.wall_clock_us = rs.wall_clock_us = SIM_WALL_EPOCH_US;
		for (size_t i = 0; i < BRAID_KEY_SEED_SIZE; i += 8) {
			put_le64(ts.key_seed + i, splitmix64(draw + 2 + i));
			put_le64(rs.key_seed + i, splitmix64(draw + 3 + i));
		}
	}
	sim->tx = braid_sender_new(&ts, sender_now(sim));
	sim->rx = braid_receiver_new(&rs, sim->now);
	if (!sim->tx || !sim->rx) {
		snprintf(err, err_len, "the sender or receiver refused its settings");
		return BRAID_ERR_INVAL;
	}
	return 0;
}

static int add_link(struct braid_sim *sim, size_t i, char *err, size_t err_len)
{
	const struct braid_sim_scenario *sc = sim->sc;
	struct sim_link *l = &sim->links[i];
	struct braid_link_config lc = { .name = sc->emu.links[i].name,
					.weight = sc->link_options[i].weight,
					.priority = sc->link_options[i].priority };
	int id;

	l->failover = -1;
	if (braid_emu_link_config_copy(&l->cfg, &sc->emu.links[i])) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	sim->link_count = i + 1;
	if (new_models(sim, l, &l->cfg, l->model)) {
		snprintf(err, err_len, "link %s: settings the model cannot run", l->cfg.name);
		return BRAID_ERR_INVAL;
	}
	id = braid_sender_add_link(sim->tx, &lc, sender_now(sim));
	if (id < 0) {
		snprintf(err, err_len, "link %s: the sender refused it: %s", l->cfg.name,
			 braid_strerror(id));
		return id;
	}
	l->id = (uint16_t)id;
	fake_addr(&l->addr, i);
	return 0;
}

static int setup(struct braid_sim *sim, char *err, size_t err_len)
{
	const struct braid_sim_scenario *sc = sim->sc;
	uint64_t slowest = 0;
	int rc;

	if (sc->emu.link_count == 0 || sc->emu.link_count > BRAID_MAX_LINKS) {
		snprintf(err, err_len, "a scenario needs 1 to %d links", BRAID_MAX_LINKS);
		return BRAID_ERR_INVAL;
	}
	if (sc->packet_bytes < SIM_MEDIA_HEADER || sc->packet_bytes > BRAID_MAX_PAYLOAD ||
	    !(sc->stream_rate_bps > 0) || sc->duration_us == 0) {
		snprintf(err, err_len, "the stream needs a rate, a duration and 16..8192 bytes");
		return BRAID_ERR_INVAL;
	}
	rc = new_cores(sim, err, err_len);
	for (size_t i = 0; rc == 0 && i < sc->emu.link_count; i++) {
		const struct braid_model_settings *fwd = &sc->emu.links[i].fwd;

		slowest = fwd->delay_us + fwd->jitter_us > slowest ? fwd->delay_us + fwd->jitter_us
								   : slowest;
		rc = add_link(sim, i, err, err_len);
	}
	if (rc)
		return rc;
	sim->interval_us = (double)sc->packet_bytes * 8e6 / sc->stream_rate_bps;
	sim->stream_start = SIM_BASE_US + sc->stream_start_us;
	sim->packets_total = (uint64_t)((double)sc->duration_us / sim->interval_us);
	if ((double)sim->packets_total * sim->interval_us < (double)sc->duration_us)
		sim->packets_total++;
	sim->end = sim->stream_start + sc->duration_us + sc->sender.latency_us + slowest +
		   DRAIN_US;
	sim->media = malloc(sc->packet_bytes);
	if (!sim->media) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	memset(sim->media, MEDIA_FILL, sc->packet_bytes);
	rc = sim_metrics_init(sim);
	if (rc)
		snprintf(err, err_len, "%s", braid_strerror(rc));
	return rc;
}

struct braid_sim *braid_sim_new(const struct braid_sim_scenario *sc, char *err, size_t err_len)
{
	struct braid_sim *sim = calloc(1, sizeof(*sim));

	if (!sim) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return NULL;
	}
	sim->sc = sc;
	sim->now = SIM_BASE_US;
	braid_heap_init(&sim->in_flight, sizeof(struct sim_flight), flight_before, NULL);
	sim->clock_drift_ppb = sc->clock_drift_ppb;
	if (setup(sim, err, err_len)) {
		braid_sim_free(sim);
		return NULL;
	}
	sim_update_deaths(sim);
	return sim;
}

void braid_sim_free(struct braid_sim *sim)
{
	if (!sim)
		return;
	struct sim_flight f;

	while (braid_heap_pop(&sim->in_flight, &f))
		free(f.buf);
	braid_heap_free(&sim->in_flight);
	for (size_t i = 0; i < sim->link_count; i++) {
		braid_model_free(sim->links[i].model[SIM_FWD]);
		braid_model_free(sim->links[i].model[SIM_REV]);
		braid_emu_link_config_free(&sim->links[i].cfg);
	}
	braid_sender_free(sim->tx);
	braid_receiver_free(sim->rx);
	sim_metrics_free(sim);
	free(sim->media);
	free(sim);
}
