/* What a simulation measures as it runs, and the figures made of it at the end: the output
 * stream (each packet's release against its send time), per-link series sampled once per
 * bucket, and link deaths with their detection and recovery. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "sim/sim_internal.h"

#define BUCKET_MIN_US UINT64_C(100000)
/* Long runs get wider buckets: the plot needs no more points than this. */
#define BUCKETS_TARGET 1500u

static uint64_t since_start(const struct braid_sim *sim)
{
	return sim->now - SIM_BASE_US;
}

int sim_metrics_init(struct braid_sim *sim)
{
	uint64_t span = sim->end - SIM_BASE_US;

	sim->bucket_us = BUCKET_MIN_US;
	if (span / sim->bucket_us > BUCKETS_TARGET)
		sim->bucket_us = (span / BUCKETS_TARGET / BUCKET_MIN_US + 1) * BUCKET_MIN_US;
	sim->bucket_count = (size_t)(span / sim->bucket_us + 2);
	sim->next_sample = SIM_BASE_US + sim->bucket_us;
	sim->samples = calloc(sim->bucket_count * sim->link_count, sizeof(*sim->samples));
	sim->bucket_due = calloc(sim->bucket_count, sizeof(*sim->bucket_due));
	sim->bucket_released = calloc(sim->bucket_count, sizeof(*sim->bucket_released));
	sim->released_bits = calloc(SIM_RELEASED_WINDOW / 64, sizeof(*sim->released_bits));
	sim->latency_hist = calloc(SIM_HIST_BINS, sizeof(*sim->latency_hist));
	sim->fastest_path_us = SIM_NEVER;
	if (!sim->samples || !sim->bucket_due || !sim->bucket_released || !sim->released_bits ||
	    !sim->latency_hist)
		return BRAID_ERR_NOMEM;
	return 0;
}

void sim_metrics_free(struct braid_sim *sim)
{
	free(sim->samples);
	free(sim->released_bits);
	free(sim->latency_hist);
	free(sim->marks);
	free(sim->bucket_due);
	free(sim->bucket_released);
}

static void add_mark(struct braid_sim *sim, size_t link, enum sim_mark_kind kind, size_t event)
{
	if (sim->mark_count == sim->mark_cap) {
		size_t cap = sim->mark_cap ? 2 * sim->mark_cap : 64;
		struct sim_mark *grown = realloc(sim->marks, cap * sizeof(*grown));

		if (!grown)
			return; /* a mark less on the plot */
		sim->marks = grown;
		sim->mark_cap = cap;
	}
	sim->marks[sim->mark_count++] = (struct sim_mark){
		.t_us = since_start(sim), .event = event,
		.link = link > UINT8_MAX ? UINT8_MAX : (uint8_t)link, .kind = (uint8_t)kind };
}

/* ---- events as they happen ---- */

static struct braid_sim_failover *latest_death(struct braid_sim *sim, size_t link)
{
	int f = sim->links[link].failover;

	return f >= 0 ? &sim->failovers[f] : NULL;
}

void sim_on_sender_event(struct braid_sim *sim, const struct braid_event *ev)
{
	size_t li;
	struct sim_link *l;
	struct braid_sim_failover *death;

	if (ev->kind != BRAID_EVENT_LINK_STATE)
		return;
	for (li = 0; li < sim->link_count && sim->links[li].id != ev->link_id; li++)
		;
	if (li == sim->link_count)
		return;
	l = &sim->links[li];
	l->state = ev->new_state;
	death = latest_death(sim, li);
	if (ev->new_state == BRAID_LINK_DOWN && braid_link_state_live(ev->old_state)) {
		add_mark(sim, li, SIM_MARK_DOWN, 0);
		/* A death's doing until the link carries data again. */
		if (death && death->detected_us == SIM_NEVER && death->recovered_us == SIM_NEVER)
			death->detected_us = since_start(sim);
		else
			sim->spurious_downs++;
	} else if (ev->old_state == BRAID_LINK_DOWN && braid_link_state_live(ev->new_state)) {
		if (l->ever_live)
			add_mark(sim, li, SIM_MARK_UP, 0);
		l->ever_live = true;
		if (death && death->back_us != SIM_NEVER && death->usable_us == SIM_NEVER)
			death->usable_us = since_start(sim);
	}
}

void sim_on_data_delivered(struct braid_sim *sim, size_t link, size_t payload_len)
{
	struct sim_link *l = &sim->links[link];
	struct braid_sim_failover *death = latest_death(sim, link);

	l->data_delivered++;
	l->payload_delivered += payload_len;
	l->bucket_payload += payload_len;
	if (death && death->back_us != SIM_NEVER && death->recovered_us == SIM_NEVER)
		death->recovered_us = since_start(sim);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t bucket_of(const struct braid_sim *sim, uint64_t index)
{
	return (size_t)((sim_push_time(sim, index) - SIM_BASE_US) / sim->bucket_us);
}

void sim_on_push(struct braid_sim *sim, uint64_t index)
{
	size_t b = bucket_of(sim, index);

	if (b < sim->bucket_count)
		sim->bucket_due[b]++;
}

void sim_on_media_arrival(struct braid_sim *sim, const uint8_t *payload, size_t len)
{
	uint64_t sent;

	if (len < SIM_MEDIA_HEADER)
		return;
	sent = SIM_BASE_US + get_le64(payload + 8);
	if (sent <= sim->now && sim->now - sent < sim->fastest_path_us)
		sim->fastest_path_us = sim->now - sent;
}

static size_t hist_bin(uint64_t us)
{
	unsigned shift = 0;

	if (us > UINT32_MAX)
		us = UINT32_MAX;
	if (us < (1u << SIM_HIST_BITS))
		return (size_t)us;
	while ((us >> shift) >= (1u << SIM_HIST_BITS))
		shift++;
	return (1u << SIM_HIST_BITS) + (shift - 1) * (1u << (SIM_HIST_BITS - 1)) +
	       (size_t)((us >> shift) - (1u << (SIM_HIST_BITS - 1)));
}

/* The middle of a bin, in us. */
static double hist_value(size_t bin)
{
	size_t half = 1u << (SIM_HIST_BITS - 1);
	unsigned shift;

	if (bin < (1u << SIM_HIST_BITS))
		return (double)bin;
	shift = (unsigned)((bin - 2 * half) / half) + 1;
	return (double)(((bin - 2 * half) % half + half) << shift) +
	       ((double)(UINT64_C(1) << shift) - 1) / 2;
}

static bool was_released(const struct braid_sim *sim, uint64_t index)
{
	uint64_t slot = index % SIM_RELEASED_WINDOW;

	return (sim->released_bits[slot / 64] >> (slot % 64)) & 1;
}

static void mark_released(struct braid_sim *sim, uint64_t index, bool on)
{
	uint64_t slot = index % SIM_RELEASED_WINDOW, bit = UINT64_C(1) << (slot % 64);

	sim->released_bits[slot / 64] = on ? sim->released_bits[slot / 64] | bit
					   : sim->released_bits[slot / 64] & ~bit;
}

/* Numbers first..end-1 were never released: one gap in the output. */
static void note_gap(struct braid_sim *sim, uint64_t first, uint64_t end)
{
	uint64_t span = sim_push_time(sim, end - 1) - sim_push_time(sim, first);
	double ms = ((double)span + sim->interval_us) / 1000.0;

	sim->gaps++;
	sim->longest_gap_ms = ms > sim->longest_gap_ms ? ms : sim->longest_gap_ms;
}

/* A number above the highest released: the window slides, numbers skipped are a gap. */
static void advance(struct braid_sim *sim, uint64_t index)
{
	uint64_t next = sim->any_released ? sim->highest_released + 1 : 0;

	if (index > next)
		note_gap(sim, next, index);
	for (uint64_t i = next; i < index && index - i <= SIM_RELEASED_WINDOW; i++)
		mark_released(sim, i, false);
	mark_released(sim, index, true);
	sim->highest_released = index;
	sim->any_released = true;
}

void sim_on_release(struct braid_sim *sim, const uint8_t *buf, long len)
{
	uint64_t index, sent, latency;

	if (len != (long)sim->sc->packet_bytes) {
		sim->corrupt++;
		return;
	}
	index = get_le64(buf);
	sent = get_le64(buf + 8);
	if (index >= sim->packets_total || SIM_BASE_US + sent != sim_push_time(sim, index)) {
		sim->corrupt++;
		return;
	}
	if (sim->any_released && index <= sim->highest_released) {
		/* only a bug releases out of order; a copy released again is corrupt output */
		if (sim->highest_released - index >= SIM_RELEASED_WINDOW ||
		    was_released(sim, index)) {
			sim->corrupt++;
			return;
		}
		mark_released(sim, index, true);
		sim->out_of_order++;
	} else {
		advance(sim, index);
	}
	sim->released++;
	latency = sim->now - (SIM_BASE_US + sent);
	sim->latency_hist[hist_bin(latency)]++;
	if (sim->released == 1 || latency < sim->latency_min_us)
		sim->latency_min_us = latency;
	if (latency > sim->latency_max_us)
		sim->latency_max_us = latency;
	size_t b = bucket_of(sim, index);
	if (b < sim->bucket_count)
		sim->bucket_released[b]++;
}

void sim_on_scenario_event(struct braid_sim *sim, const struct braid_emu_event *ev)
{
	size_t li = UINT8_MAX;

	for (size_t i = 0; i < sim->link_count; i++)
		if (strcmp(ev->link, sim->links[i].cfg.name) == 0)
			li = i;
	add_mark(sim, li, SIM_MARK_EVENT, (size_t)(ev - sim->sc->emu.events));
}

/* ---- link deaths ---- */

static bool in_outage(const struct braid_model_settings *s, uint64_t since)
{
	for (size_t i = 0; i < s->outage_count; i++) {
		const struct braid_outage *o = &s->outages[i];

		if (since >= o->start_us && since - o->start_us < o->duration_us)
			return true;
	}
	return false;
}

static uint64_t next_boundary(const struct braid_model_settings *s, uint64_t since)
{
	uint64_t next = SIM_NEVER;

	for (size_t i = 0; i < s->outage_count; i++) {
		const struct braid_outage *o = &s->outages[i];
		uint64_t t = o->start_us > since ? o->start_us : o->start_us + o->duration_us;

		if (t > since && t < next)
			next = t;
	}
	return next;
}

static void link_died(struct braid_sim *sim, size_t li)
{
	struct braid_sim_failover *f;

	if (sim->failover_count == BRAID_SIM_MAX_FAILOVERS) {
		sim->failovers_unrecorded++;
		sim->links[li].failover = -1;
		return;
	}
	f = &sim->failovers[sim->failover_count];
	*f = (struct braid_sim_failover){ .dead_us = since_start(sim), .detected_us = SIM_NEVER,
					  .back_us = SIM_NEVER, .usable_us = SIM_NEVER,
					  .recovered_us = SIM_NEVER };
	memcpy(f->link, sim->links[li].cfg.name, sizeof(f->link));
	sim->links[li].failover = (int)sim->failover_count++;
}

void sim_update_deaths(struct braid_sim *sim)
{
	uint64_t since = since_start(sim), next = SIM_NEVER;

	for (size_t i = 0; i < sim->link_count; i++) {
		struct sim_link *l = &sim->links[i];
		bool dead = l->blackhole || in_outage(&l->cfg.fwd, since) ||
			    in_outage(&l->cfg.rev, since);
		uint64_t t;

		if (dead && !l->dead)
			link_died(sim, i);
		if (!dead && l->dead && l->failover >= 0)
			sim->failovers[l->failover].back_us = since;
		l->dead = dead;
		t = next_boundary(&l->cfg.fwd, since);
		next = t < next ? t : next;
		t = next_boundary(&l->cfg.rev, since);
		next = t < next ? t : next;
	}
	sim->next_death_change = next == SIM_NEVER ? SIM_NEVER : SIM_BASE_US + next;
}

/* ---- series ---- */

void sim_take_samples(struct braid_sim *sim)
{
	struct braid_link_stats stats[BRAID_MAX_LINKS];
	size_t n = braid_sender_get_link_stats(sim->tx, stats, BRAID_MAX_LINKS);
	size_t k = sim->samples_taken;

	sim->next_sample += sim->bucket_us;
	if (k >= sim->bucket_count)
		return;
	sim->samples_taken++;
	for (size_t i = 0; i < sim->link_count; i++) {
		struct sim_link *l = &sim->links[i];
		struct sim_sample *s = &sim->samples[k * sim->link_count + i];
		struct braid_model_stats ms;

		braid_model_get_stats(l->model[SIM_FWD], sim->now, &ms);
		s->rate_mbps = (float)((double)l->bucket_payload * 8.0 / (double)sim->bucket_us);
		s->capacity_mbps = l->cfg.fwd.rate_kind == BRAID_RATE_UNLIMITED ? NAN
				   : l->dead ? 0.0f : (float)(ms.rate_bps / 1e6);
		s->rtt_ms = NAN;
		s->loss = NAN;
		s->state = (uint8_t)l->state;
		s->dead = l->dead;
		for (size_t j = 0; j < n && j < BRAID_MAX_LINKS; j++) {
			if (stats[j].id != l->id)
				continue;
			s->state = (uint8_t)stats[j].state;
			s->loss = (float)stats[j].loss;
			if (braid_link_state_live(stats[j].state) && stats[j].rtt_ms > 0) {
				s->rtt_ms = (float)stats[j].rtt_ms;
				l->rtt_sum += stats[j].rtt_ms;
				l->rtt_samples++;
			}
		}
		l->bucket_payload = 0;
	}
}

/* ---- the figures ---- */

/* The k-th smallest latency (from 0), as the middle of its bin but never outside the
 * exact least and largest. */
static double latency_rank(const struct braid_sim *sim, uint64_t k)
{
	uint64_t seen = 0;
	double v = (double)sim->latency_max_us;

	for (size_t b = 0; b < SIM_HIST_BINS; b++) {
		seen += sim->latency_hist[b];
		if (seen > k) {
			v = hist_value(b);
			break;
		}
	}
	if (v < (double)sim->latency_min_us)
		v = (double)sim->latency_min_us;
	if (v > (double)sim->latency_max_us)
		v = (double)sim->latency_max_us;
	return v;
}

static void latency_figures(struct braid_sim *sim, struct braid_sim_metrics *m)
{
	uint64_t n = sim->released;
	double budget = (double)sim->sc->sender.latency_us / 1000.0;

	m->latency_min_ms = m->latency_median_ms = m->latency_p99_ms = m->latency_max_ms = NAN;
	m->fastest_path_ms = m->over_path_min_ms = m->over_path_max_ms = NAN;
	m->budget_error_ms = NAN;
	m->clock_drift_ppm = (double)sim->clock_drift_ppb / 1000.0;
	if (!n)
		return;
	m->latency_min_ms = (double)sim->latency_min_us / 1000.0;
	m->latency_median_ms = latency_rank(sim, (n - 1) / 2) / 1000.0;
	m->latency_p99_ms = latency_rank(sim, (uint64_t)ceil(0.99 * (double)n) - 1) / 1000.0;
	m->latency_max_ms = (double)sim->latency_max_us / 1000.0;
	if (sim->fastest_path_us == SIM_NEVER)
		return;
	m->fastest_path_ms = (double)sim->fastest_path_us / 1000.0;
	m->over_path_min_ms = m->latency_min_ms - m->fastest_path_ms;
	m->over_path_max_ms = m->latency_max_ms - m->fastest_path_ms;
	m->budget_error_ms = fmax(fabs(m->over_path_min_ms - budget),
				  fabs(m->over_path_max_ms - budget));
}

/* Steps of send time whose packets were all released; runs of packets never released
 * (those after the last one released count as one more). */
static void continuity_figures(struct braid_sim *sim, struct braid_sim_metrics *m)
{
	uint64_t next = sim->any_released ? sim->highest_released + 1 : 0;

	m->bucket_ms = (double)sim->bucket_us / 1000.0;
	m->gaps = sim->gaps;
	m->longest_gap_ms = sim->longest_gap_ms;
	if (next < sim->pushed) {
		uint64_t span = sim_push_time(sim, sim->pushed - 1) - sim_push_time(sim, next);
		double ms = ((double)span + sim->interval_us) / 1000.0;

		m->gaps++;
		m->longest_gap_ms = ms > m->longest_gap_ms ? ms : m->longest_gap_ms;
	}
	for (size_t b = 0; b < sim->bucket_count; b++) {
		m->buckets += sim->bucket_due[b] > 0;
		m->whole_buckets += sim->bucket_due[b] > 0 &&
				    sim->bucket_due[b] == sim->bucket_released[b];
	}
}

static void link_figures(struct braid_sim *sim, struct braid_sim_metrics *m)
{
	struct braid_link_stats stats[BRAID_MAX_LINKS];
	size_t n = braid_sender_get_link_stats(sim->tx, stats, BRAID_MAX_LINKS);
	uint64_t all = 0;

	for (size_t i = 0; i < sim->link_count; i++)
		all += sim->links[i].data_delivered;
	m->link_count = sim->link_count;
	for (size_t i = 0; i < sim->link_count; i++) {
		const struct sim_link *l = &sim->links[i];
		struct braid_sim_link_metrics *lm = &m->links[i];
		struct braid_model_stats now, total = l->base[SIM_FWD];

		braid_model_get_stats(l->model[SIM_FWD], sim->now, &now);
		total.offered += now.offered;
		total.dropped_loss += now.dropped_loss;
		total.dropped_queue += now.dropped_queue;
		total.dropped_outage += now.dropped_outage;
		memcpy(lm->name, l->cfg.name, sizeof(lm->name));
		lm->throughput_mbps = (double)l->payload_delivered * 8.0 / m->stream_s / 1e6;
		lm->share = all ? (double)l->data_delivered / (double)all : 0;
		lm->packets = l->data_sent;
		lm->delivered = l->data_delivered;
		lm->lost = total.dropped_loss + total.dropped_queue + total.dropped_outage +
			   l->refused[SIM_FWD];
		lm->loss = total.offered ? (double)lm->lost / (double)total.offered : 0;
		lm->mean_rtt_ms = l->rtt_samples ? l->rtt_sum / (double)l->rtt_samples : NAN;
		for (size_t j = 0; j < n; j++)
			if (stats[j].id == l->id)
				lm->down_events = stats[j].down_events;
	}
}

static void failover_figures(struct braid_sim *sim, struct braid_sim_metrics *m)
{
	double detection_sum = 0;

	m->failover_count = sim->failover_count;
	memcpy(m->failovers, sim->failovers, sim->failover_count * sizeof(m->failovers[0]));
	m->failovers_undetected = sim->failovers_unrecorded;
	m->spurious_downs = sim->spurious_downs;
	m->max_detection_ms = m->mean_detection_ms = m->max_recovery_ms = NAN;
	for (size_t i = 0; i < sim->failover_count; i++) {
		const struct braid_sim_failover *f = &sim->failovers[i];

		if (f->detected_us == SIM_NEVER) {
			m->failovers_undetected++;
		} else {
			double ms = (double)(f->detected_us - f->dead_us) / 1000.0;

			m->failovers_detected++;
			detection_sum += ms;
			if (isnan(m->max_detection_ms) || ms > m->max_detection_ms)
				m->max_detection_ms = ms;
		}
		if (f->back_us != SIM_NEVER && f->recovered_us != SIM_NEVER) {
			double ms = (double)(f->recovered_us - f->back_us) / 1000.0;

			if (isnan(m->max_recovery_ms) || ms > m->max_recovery_ms)
				m->max_recovery_ms = ms;
		}
	}
	if (m->failovers_detected)
		m->mean_detection_ms = detection_sum / (double)m->failovers_detected;
}

static void stream_figures(struct braid_sim *sim, struct braid_sim_metrics *m)
{
	struct braid_sender_stats ts;
	struct braid_session_stats ss;
	struct braid_link_stats ls[BRAID_MAX_LINKS];
	uint32_t session;
	size_t links;

	m->sent = sim->pushed;
	m->delivered = sim->released;
	m->lost = sim->pushed - sim->released;
	m->out_of_order = sim->out_of_order;
	m->corrupt = sim->corrupt;
	m->residual_loss = m->sent ? (double)m->lost / (double)m->sent : 0;
	m->throughput_mbps = (double)sim->released * (double)sim->sc->packet_bytes * 8.0 /
			     m->stream_s / 1e6;
	if (braid_receiver_sessions(sim->rx, &session, 1) >= 1 &&
	    braid_receiver_session_stats(sim->rx, session, &ss, ls, BRAID_MAX_LINKS, &links) == 0) {
		m->late = ss.late;
		m->duplicates = ss.duplicates;
	}
	braid_sender_get_stats(sim->tx, &ts);
	m->retransmitted = ts.retransmitted;
	m->resent_nack = ts.resent_nack;
	m->resent_failover = ts.resent_failover;
	m->resent_timeout = ts.resent_timeout;
	m->copies_hedge = ts.copies_hedge;
	m->copies_redundancy = ts.copies_redundancy;
	m->stalls = ts.stalls;
	m->retransmission_rate = m->sent ? (double)ts.retransmitted / (double)m->sent : 0;
}

void sim_finalize_metrics(struct braid_sim *sim)
{
	struct braid_sim_metrics *m = &sim->metrics;

	memset(m, 0, sizeof(*m));
	m->simulated_s = (double)since_start(sim) / 1e6;
	m->stream_s = (double)sim->sc->duration_us / 1e6;
	m->stuck = sim->stuck;
	stream_figures(sim, m);
	latency_figures(sim, m);
	link_figures(sim, m);
	failover_figures(sim, m);
	continuity_figures(sim, m);
}

const struct braid_sim_metrics *braid_sim_metrics(struct braid_sim *sim)
{
	if (!sim->finished)
		sim_finalize_metrics(sim);
	return &sim->metrics;
}
