/* braid emu --netns: the bonding test bench (docs/bench-links.md). Builds a sender, one
 * namespace per link and a receiver (netns/bench.h) over rtnetlink, shapes each link's rate
 * with TBF both ways and drives OU and trace rates by changing the TBF in place, runs the
 * user-space models of links that need them on their TUN (emu/path.h), applies the
 * scenario's events, and writes JSON lines of statistics with the qdiscs' own counters. It
 * never runs ip or tc. Everything it made goes on exit, on SIGINT, SIGTERM or SIGHUP, and
 * (after a SIGKILL) at the next start with the same prefix. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "emu/path.h"
#include "model/model_rate.h"
#include "netns/bench.h"
#include "scenario/scenario.h"
#include "cli.h"
#include "commands.h"
#include "emu_netns.h"
#include "json.h"

#define DEFAULT_PREFIX "braid"
/* The bucket: 20 ms at the rate, at least two full Ethernet frames. The kernel refills it
 * when its watchdog timer fires; a bucket shorter than the timer's lateness on a busy machine
 * would overflow and lose rate. */
#define BURST_MIN_BYTES 3028
#define BURST_US 20000
/* The queue behind it when the link names none. */
#define DEFAULT_QUEUE_US 200000
#define FRAME_MAX_BYTES 1514
#define MIN_RATE_BPS 8000.0
/* How often OU rates without an interval of their own, and traces, change the TBF. */
#define DEFAULT_STEP_US 100000

struct netns_options {
	struct braid_emu_scenario scenario;
	const char *prefix, *stats_path;
	uint64_t duration_us, stats_interval_us;
	uint64_t port_base; /* 0: links chosen by source address or interface only */
};

struct link_state {
	struct braid_emu_link_config cfg; /* the settings in force */
	struct braid_emu_path *path;      /* NULL: the kernel's TBF alone */
	struct braid__rate rate[2]; /* OU processes and traces the TBF follows */
	bool varies[2];
	double rate_bps[2]; /* the TBF rate set last; 0 unshaped */
	uint64_t last_bytes[2], last_packets[2];
	struct braid_timer rate_timer;
	struct netns_emu *owner;
	size_t index;
};

struct netns_emu {
	struct braid_loop *loop;
	const struct netns_options *opt;
	struct braid_bench bench;
	struct link_state *links;
	struct braid_emu_repeats *repeats; /* media seen on any link, for repeats */
	size_t count, next_event;
	uint64_t start_us, last_report_us;
	FILE *json;
	struct braid_timer stats_timer, event_timer, end_timer;
};

/* ---- rates ---- */

static void tbf_for(double rate_bps, const struct braid_model_settings *s, struct braid_tbf *out)
{
	double bytes_per_s = rate_bps / 8.0;
	double burst = bytes_per_s * BURST_US / 1e6;
	double queue_us = s->queue_us ? (double)s->queue_us : DEFAULT_QUEUE_US;

	out->rate_bytes_per_s = (uint64_t)(bytes_per_s + 0.5);
	out->burst_bytes = burst < BURST_MIN_BYTES ? BURST_MIN_BYTES : (uint32_t)burst;
	if (s->queue_bytes)
		out->limit_bytes = s->queue_bytes < FRAME_MAX_BYTES ? FRAME_MAX_BYTES :
								      (uint32_t)s->queue_bytes;
	else
		out->limit_bytes = (uint32_t)(bytes_per_s * queue_us / 1e6) + out->burst_bytes;
}

/* Whether the direction's rate changes with time (OU, trace): the TBF follows it. */
static bool varies(const struct braid_model_settings *s)
{
	return s->rate_kind == BRAID_RATE_OU || s->rate_kind == BRAID_RATE_TRACE;
}

/* How often a varying rate is applied: the OU process's own interval; a trace's rate
 * over steps of 100 ms. */
static uint64_t step_of(const struct braid_model_settings *s)
{
	if (s->rate_kind == BRAID_RATE_OU && s->ou.update_us)
		return s->ou.update_us;
	return DEFAULT_STEP_US;
}

/* The kernel's rate for one direction now; 0 when the kernel shapes none. An OU rate is
 * the process's value now; a trace's, the rate of its delivery opportunities over the
 * step starting now, so the TBF carries in each step what the trace would. */
static double kernel_rate(struct link_state *l, int d, uint64_t now)
{
	const struct braid_model_settings *s = d == 0 ? &l->cfg.fwd : &l->cfg.rev;

	if (s->rate_kind == BRAID_RATE_CONSTANT)
		return s->rate_bps;
	if (s->rate_kind == BRAID_RATE_OU) {
		braid__rate_advance(&l->rate[d], now);
		return braid__rate_current_bps(&l->rate[d], now);
	}
	if (s->rate_kind == BRAID_RATE_TRACE)
		return braid__rate_current_bps(&l->rate[d], now + step_of(s));
	return 0;
}

/* A TBF always has a rate: an OU floor of 0 or a trace's empty step gets the smallest. */
static double tbf_rate(double bps)
{
	return bps < MIN_RATE_BPS ? MIN_RATE_BPS : bps;
}

/* Whether the kernel shapes a direction at all. */
static bool shaped(const struct braid_model_settings *s)
{
	return s->rate_kind != BRAID_RATE_UNLIMITED;
}

static int apply_rate(struct netns_emu *e, struct link_state *l, int d, double bps)
{
	const struct braid_model_settings *s = d == 0 ? &l->cfg.fwd : &l->cfg.rev;
	struct braid_tbf tbf;
	int rc;

	bps = tbf_rate(bps);
	if (bps == l->rate_bps[d])
		return 0;
	tbf_for(bps, s, &tbf);
	rc = braid_bench_set_tbf(&e->bench, l->index, (enum braid_bench_dir)d, &tbf);
	if (rc < 0)
		fprintf(stderr, "braid emu: link %s: TBF change: %s\n", l->cfg.name, strerror(-rc));
	else
		l->rate_bps[d] = bps;
	return rc;
}

static uint64_t rate_step(const struct link_state *l)
{
	uint64_t a = l->varies[0] ? step_of(&l->cfg.fwd) : UINT64_MAX;
	uint64_t b = l->varies[1] ? step_of(&l->cfg.rev) : UINT64_MAX;

	return a < b ? a : b;
}

static void on_rate_timer(struct braid_loop *loop, void *arg)
{
	struct link_state *l = arg;
	uint64_t now = braid_loop_now(loop);

	for (int d = 0; d < 2; d++)
		if (l->varies[d])
			apply_rate(l->owner, l, d, kernel_rate(l, d, now));
	braid_timer_start(loop, &l->rate_timer, l->rate_timer.deadline_us + rate_step(l));
}

/* (Re)starts the OU processes and traces of a link from its settings. */
static void start_rates(struct netns_emu *e, struct link_state *l, uint64_t now)
{
	const struct braid_model_settings *s[2] = { &l->cfg.fwd, &l->cfg.rev };

	for (int d = 0; d < 2; d++) {
		l->varies[d] = varies(s[d]);
		if (l->varies[d])
			braid__rate_init(&l->rate[d], s[d], now, s[d]->seed * 2 + (uint64_t)d + 1);
	}
	braid_timer_stop(e->loop, &l->rate_timer);
	if (l->varies[0] || l->varies[1])
		braid_timer_start(e->loop, &l->rate_timer, now + rate_step(l));
}

/* ---- the plan of the network ---- */

/* Whether a scenario event names the link (or every link): such links run a user-space
 * path, so a blackhole or a new delay has somewhere to happen. */
static bool named_by_events(const struct braid_emu_scenario *sc, const char *name)
{
	for (size_t i = 0; i < sc->event_count; i++)
		if (strcmp(sc->events[i].link, name) == 0 || strcmp(sc->events[i].link, "*") == 0)
			return true;
	return false;
}

/* Link i's UDP destination port with --netns-ports (RTCP takes the next one), or 0. */
static uint64_t port_of(const struct netns_emu *e, size_t i)
{
	return e->opt->port_base ? e->opt->port_base + 2 * i : 0;
}

static void plan_link(struct netns_emu *e, struct link_state *l, uint64_t now,
		      struct braid_bench_link_plan *plan)
{
	const struct braid_model_settings *s[2] = { &l->cfg.fwd, &l->cfg.rev };

	memset(plan, 0, sizeof(*plan));
	start_rates(e, l, now);
	for (int d = 0; d < 2; d++) {
		if (shaped(s[d])) {
			l->rate_bps[d] = tbf_rate(kernel_rate(l, d, now));
			tbf_for(l->rate_bps[d], s[d], &plan->tbf[d]);
		}
	}
	plan->user_space = braid_emu_path_needed(&l->cfg) ||
			   named_by_events(&e->opt->scenario, l->cfg.name);
	plan->dport = (uint16_t)port_of(e, l->index);
}

static int open_paths(struct netns_emu *e, const struct braid_bench_link_plan *plans)
{
	uint32_t receiver = braid_bench_receiver_addr().s_addr;
	char err[256];

	for (size_t i = 0; i < e->count; i++) {
		if (!plans[i].user_space)
			continue;
		e->links[i].path = braid_emu_path_open(e->loop, e->bench.links[i].tun_fd, receiver,
						       e->repeats, &e->links[i].cfg, err,
						       sizeof(err));
		if (!e->links[i].path) {
			fprintf(stderr, "braid emu: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static int build(struct netns_emu *e)
{
	struct braid_bench_link_plan *plans = calloc(e->count, sizeof(*plans));
	uint64_t now = braid_loop_update_time(e->loop);
	char err[512];
	int rc;

	if (!plans || !(e->repeats = braid_emu_repeats_new())) {
		free(plans);
		fprintf(stderr, "braid emu: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < e->count; i++)
		plan_link(e, &e->links[i], now, &plans[i]);
	rc = braid_bench_up(&e->bench, e->opt->prefix, e->count, plans, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "braid emu: --netns: %s\n", err);
	else if (e->bench.leftovers > 0)
		fprintf(stderr, "braid emu: removed %d namespaces an earlier run of prefix '%s' "
			"left behind\n", e->bench.leftovers, e->opt->prefix);
	if (rc == 0)
		rc = open_paths(e, plans);
	free(plans);
	return rc < 0 ? -1 : 0;
}

/* ---- output ---- */

static void json_text(FILE *f, const char *s)
{
	braid_json_write_string(f, (const uint8_t *)s, strlen(s));
}

static void ipv4_text(struct in_addr a, char *buf, size_t len)
{
	const uint8_t *b = (const uint8_t *)&a.s_addr;

	snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* The one line on stdout saying the bench is up and how to use it. */
static void print_ready(const struct netns_emu *e)
{
	char addr[32], ifname[16];

	ipv4_text(braid_bench_receiver_addr(), addr, sizeof(addr));
	printf("{\"ready\":true,\"prefix\":");
	json_text(stdout, e->bench.prefix);
	printf(",\"sender_ns\":");
	json_text(stdout, e->bench.tx_name);
	printf(",\"receiver_ns\":");
	json_text(stdout, e->bench.rx_name);
	/* t0: the clock the statistics' and events' "t" count from, so a probe timed with
	 * CLOCK_MONOTONIC elsewhere on the machine lines up with them. */
	printf(",\"t0_monotonic_us\":%llu", (unsigned long long)e->start_us);
	printf(",\"receiver\":\"%s\",\"kernel\":{\"netem\":%s,\"ifb\":%s},\"links\":[", addr,
	       e->bench.has_netem ? "true" : "false", e->bench.has_ifb ? "true" : "false");
	for (size_t i = 0; i < e->count; i++) {
		ipv4_text(braid_bench_link_addr(i), addr, sizeof(addr));
		braid_bench_link_ifname(i, ifname, sizeof(ifname));
		printf("%s{\"name\":", i ? "," : "");
		json_text(stdout, e->links[i].cfg.name);
		printf(",\"namespace\":");
		json_text(stdout, e->bench.links[i].ns_name);
		printf(",\"interface\":\"%s\",\"address\":\"%s\",\"user_space\":%s", ifname, addr,
		       e->links[i].path ? "true" : "false");
		if (port_of(e, i))
			printf(",\"ports\":[%llu,%llu]", (unsigned long long)port_of(e, i),
			       (unsigned long long)port_of(e, i) + 1);
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

static void json_qdisc(FILE *f, const struct braid_qdisc_info *q)
{
	fprintf(f, "\"qdisc\":{\"kind\":");
	json_text(f, q->kind[0] ? q->kind : "none");
	fprintf(f, ",\"rate_bps\":%llu,\"limit_bytes\":%u,\"bytes\":%llu,\"packets\":%llu,"
		"\"drops\":%u,\"overlimits\":%u,\"qlen\":%u,\"backlog_bytes\":%u}",
		(unsigned long long)q->tbf_rate_bytes_per_s * 8, q->tbf_limit_bytes,
		(unsigned long long)q->bytes, (unsigned long long)q->packets, q->drops,
		q->overlimits, q->qlen, q->backlog_bytes);
}

static void json_media(FILE *f, const struct braid_emu_media_stats *s)
{
	fprintf(f, ",\"media\":{\"packets\":%llu,\"retransmissions\":%llu,"
		"\"duplicates\":%llu}", (unsigned long long)s->packets,
		(unsigned long long)s->retransmissions, (unsigned long long)s->duplicates);
}

static void json_model(FILE *f, const struct braid_model_stats *s)
{
	fprintf(f, ",\"model\":{\"offered\":%llu,\"delivered\":%llu,\"dropped_loss\":%llu,"
		"\"dropped_queue\":%llu,\"dropped_outage\":%llu,\"duplicated\":%llu}",
		(unsigned long long)s->offered, (unsigned long long)s->delivered,
		(unsigned long long)s->dropped_loss, (unsigned long long)s->dropped_queue,
		(unsigned long long)s->dropped_outage, (unsigned long long)s->duplicated);
}

/* One direction: the rate set, what the qdisc passed over the interval, its counters. */
static void json_direction(FILE *f, struct link_state *l, int d, const struct braid_qdisc_info *q,
			   const struct braid_model_stats *model, double seconds)
{
	/* A qdisc made anew (rate=none, then a rate again) counts from zero. */
	uint64_t bytes = q->bytes >= l->last_bytes[d] ? q->bytes - l->last_bytes[d] : q->bytes;
	uint64_t packets = q->packets >= l->last_packets[d] ? q->packets - l->last_packets[d] :
							      q->packets;

	fprintf(f, "\"%s\":{\"rate_bps\":%.0f,\"throughput_bps\":%.0f,\"packets\":%llu,",
		d == 0 ? "fwd" : "rev", l->rate_bps[d],
		seconds > 0 ? (double)bytes * 8.0 / seconds : 0.0, (unsigned long long)packets);
	json_qdisc(f, q);
	if (model)
		json_model(f, model);
	if (d == 0 && l->path) {
		struct braid_emu_media_stats media;

		braid_emu_path_get_media(l->path, &media);
		json_media(f, &media);
	}
	fputc('}', f);
	l->last_bytes[d] = q->bytes;
	l->last_packets[d] = q->packets;
}

static void report(struct netns_emu *e, bool final)
{
	uint64_t now = braid_loop_update_time(e->loop);
	double seconds = (double)(now - e->last_report_us) / 1e6;

	if (!e->json)
		return;
	for (size_t i = 0; i < e->count; i++) {
		struct link_state *l = &e->links[i];
		struct braid_qdisc_info q[2];
		struct braid_model_stats m[2];

		braid_bench_read_qdiscs(&e->bench, i, q);
		if (l->path)
			braid_emu_path_get_stats(l->path, now, &m[0], &m[1]);
		fprintf(e->json, "{\"t\":%.3f,\"link\":", (double)(now - e->start_us) / 1e6);
		json_text(e->json, l->cfg.name);
		fprintf(e->json, ",\"blackhole\":%s,",
			l->path && braid_emu_path_blackhole(l->path) ? "true" : "false");
		json_direction(e->json, l, 0, &q[0], l->path ? &m[0] : NULL, seconds);
		fputc(',', e->json);
		json_direction(e->json, l, 1, &q[1], l->path ? &m[1] : NULL, seconds);
		fprintf(e->json, "%s}\n", final ? ",\"final\":true" : "");
	}
	fflush(e->json);
	e->last_report_us = now;
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct netns_emu *e = arg;

	report(e, false);
	braid_timer_start(loop, &e->stats_timer,
			  e->stats_timer.deadline_us + e->opt->stats_interval_us);
}

/* ---- scenario events ---- */

static void take_new_rates(struct netns_emu *e, struct link_state *l)
{
	uint64_t now = braid_loop_now(e->loop);

	start_rates(e, l, now);
	for (int d = 0; d < 2; d++) {
		if (shaped(d == 0 ? &l->cfg.fwd : &l->cfg.rev)) {
			apply_rate(e, l, d, kernel_rate(l, d, now));
		} else if (l->rate_bps[d] > 0) {
			braid_bench_clear_tbf(&e->bench, l->index, (enum braid_bench_dir)d);
			l->rate_bps[d] = 0;
		}
	}
}

static int set_keys(struct netns_emu *e, struct link_state *l, const char *keys, char *err,
		    size_t err_len)
{
	struct braid_emu_link_config next;
	int rc;

	if (braid_emu_link_config_copy(&next, &l->cfg)) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	rc = braid_emu_apply_keys(&next, keys, err, err_len);
	if (rc == 0 && l->path)
		rc = braid_emu_path_reconfigure(l->path, &next, err, err_len);
	if (rc != 0) {
		braid_emu_link_config_free(&next);
		return -1;
	}
	braid_emu_link_config_free(&l->cfg);
	l->cfg = next;
	take_new_rates(e, l);
	return 0;
}

static int event_on_link(struct netns_emu *e, struct link_state *l,
			 const struct braid_emu_event *ev, char *err, size_t err_len)
{
	if (ev->action == BRAID_EMU_SET)
		return set_keys(e, l, ev->keys, err, err_len);
	/* Events name only links that were given a path at start. */
	if (ev->action == BRAID_EMU_BLACKHOLE_TOGGLE)
		braid_emu_path_set_blackhole(l->path, !braid_emu_path_blackhole(l->path));
	else
		braid_emu_path_set_blackhole(l->path, ev->action == BRAID_EMU_BLACKHOLE_ON);
	return 0;
}

/* An event in the statistics too, timed as precisely as they are: a report reads an
 * outage's start and end from these lines. */
static void json_event(struct netns_emu *e, double t, const struct link_state *l,
		       const char *what)
{
	if (!e->json)
		return;
	fprintf(e->json, "{\"t\":%.3f,\"link\":", t);
	json_text(e->json, l->cfg.name);
	fprintf(e->json, ",\"event\":");
	json_text(e->json, what);
	fprintf(e->json, "}\n");
	fflush(e->json);
}

static void run_event(struct netns_emu *e, const struct braid_emu_event *ev)
{
	double t = (double)(braid_loop_now(e->loop) - e->start_us) / 1e6;
	char err[512];

	for (size_t i = 0; i < e->count; i++) {
		struct link_state *l = &e->links[i];
		const char *what;

		if (strcmp(ev->link, "*") != 0 && strcmp(ev->link, l->cfg.name) != 0)
			continue;
		if (event_on_link(e, l, ev, err, sizeof(err)) < 0) {
			fprintf(stderr, "braid emu: t=%.3fs %s: %s\n", t, l->cfg.name, err);
			continue;
		}
		if (ev->action == BRAID_EMU_SET)
			what = ev->keys;
		else
			what = braid_emu_path_blackhole(l->path) ? "blackhole on" : "blackhole off";
		fprintf(stderr, "braid emu: t=%.3fs %s %s\n", t, l->cfg.name, what);
		json_event(e, t, l, what);
	}
}

static void arm_event_timer(struct netns_emu *e)
{
	const struct braid_emu_scenario *sc = &e->opt->scenario;

	if (e->next_event < sc->event_count)
		braid_timer_start(e->loop, &e->event_timer,
				  e->start_us + sc->events[e->next_event].at_us);
}

static void on_event_timer(struct braid_loop *loop, void *arg)
{
	struct netns_emu *e = arg;
	const struct braid_emu_scenario *sc = &e->opt->scenario;

	while (e->next_event < sc->event_count &&
	       e->start_us + sc->events[e->next_event].at_us <= braid_loop_now(loop))
		run_event(e, &sc->events[e->next_event++]);
	arm_event_timer(e);
}

static void on_end_timer(struct braid_loop *loop, void *arg)
{
	(void)arg;
	braid_loop_stop(loop);
}

/* SIGUSR1: every user-space path blackholed unless all already are, then all cleared (as
 * braid emu's relays; links shaped by the kernel alone have no path to blackhole). */
static void toggle_all(struct netns_emu *e)
{
	bool all_on = true;

	for (size_t i = 0; i < e->count; i++)
		if (e->links[i].path)
			all_on = all_on && braid_emu_path_blackhole(e->links[i].path);
	for (size_t i = 0; i < e->count; i++)
		if (e->links[i].path)
			braid_emu_path_set_blackhole(e->links[i].path, !all_on);
	fprintf(stderr, "braid emu: t=%.3fs blackhole %s on every user-space path\n",
		(double)(braid_loop_now(e->loop) - e->start_us) / 1e6, all_on ? "off" : "on");
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	if (signo == SIGUSR1)
		toggle_all(arg);
	else
		braid_loop_stop(loop);
}

/* ---- arguments ---- */

static void add_link(struct netns_options *opt, const char *spec)
{
	struct braid_emu_link_config cfg;
	char err[512];

	if (braid_emu_parse_link_flags(spec, (unsigned)opt->scenario.link_count,
				       BRAID_EMU_NO_ADDRESS, &cfg, err, sizeof(err)))
		braid_cli_usage_error("emu", "--link '%s': %s", spec, err);
	if (braid_emu_scenario_add_link(&opt->scenario, &cfg))
		braid_cli_usage_error("emu", "--link: out of memory");
}

static bool netns_option(int argc, char **argv, int *i, struct netns_options *opt)
{
	const char *v;

	if (strcmp(argv[*i], "--netns") == 0)
		return true;
	if ((v = braid_cli_option("emu", argc, argv, i, "--netns-prefix"))) {
		if (!braid_bench_prefix_valid(v))
			braid_cli_usage_error("emu", "--netns-prefix: '%s' is not 1 to %d of "
					      "A-Z a-z 0-9 _ . - (not starting with -)", v,
					      BRAID_BENCH_PREFIX_MAX);
		opt->prefix = v;
	} else if ((v = braid_cli_option("emu", argc, argv, i, "--duration"))) {
		opt->duration_us = braid_cli_duration("emu", "--duration", v, BRAID_CLI_S, 1000,
						      BRAID_CLI_MAX_RUN_US);
	} else if ((v = braid_cli_option("emu", argc, argv, i, "--stats-interval"))) {
		opt->stats_interval_us = braid_cli_duration("emu", "--stats-interval", v,
							    BRAID_CLI_MS, 10000,
							    BRAID_CLI_MAX_INTERVAL_US);
	} else if ((v = braid_cli_option("emu", argc, argv, i, "--stats"))) {
		opt->stats_path = v;
	} else if ((v = braid_cli_option("emu", argc, argv, i, "--netns-ports"))) {
		if (!braid_cli_parse_uint(v, 1, 65535, &opt->port_base))
			braid_cli_usage_error("emu", "--netns-ports: '%s' is not a port", v);
	} else {
		return false;
	}
	return true;
}

static void parse_args(int argc, char **argv, struct netns_options *opt)
{
	const char *v, *scenario_path = NULL;
	char err[640];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_emu_help);
			exit(0);
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--scenario"))) {
			scenario_path = v;
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--link"))) {
			add_link(opt, v);
		} else if (!netns_option(argc, argv, &i, opt)) {
			braid_cli_usage_error("emu", "unknown argument '%s' with --netns (see "
					      "--netns --help)", argv[i]);
		}
	}
	if (scenario_path && braid_emu_scenario_load(&opt->scenario, scenario_path, err,
						     sizeof(err)))
		braid_cli_usage_error("emu", "--scenario: %s", err);
	if (opt->scenario.link_count == 0)
		braid_cli_usage_error("emu", "--netns needs links (--scenario or --link)");
	if (opt->scenario.link_count > BRAID_BENCH_MAX_LINKS)
		braid_cli_usage_error("emu", "--netns: at most %d links", BRAID_BENCH_MAX_LINKS);
	if (braid_emu_scenario_check(&opt->scenario, err, sizeof(err)))
		braid_cli_usage_error("emu", "%s: %s", scenario_path ? "--scenario" : "--link",
				      err);
	if (opt->port_base && opt->port_base + 2 * opt->scenario.link_count - 1 > 65535)
		braid_cli_usage_error("emu", "--netns-ports: the links' ports would run from %llu "
				      "to %llu, past 65535", (unsigned long long)opt->port_base,
				      (unsigned long long)(opt->port_base +
							   2 * opt->scenario.link_count - 1));
	if (opt->stats_path)
		braid_cli_check_writable("emu", "--stats", opt->stats_path);
}

/* ---- running ---- */

static int init_links(struct netns_emu *e)
{
	const struct braid_emu_scenario *sc = &e->opt->scenario;

	e->links = calloc(sc->link_count, sizeof(*e->links));
	if (!e->links)
		return -1;
	for (size_t i = 0; i < sc->link_count; i++) {
		struct link_state *l = &e->links[i];

		if (braid_emu_link_config_copy(&l->cfg, &sc->links[i]))
			return -1;
		l->owner = e;
		l->index = i;
		braid_timer_init(&l->rate_timer, on_rate_timer, l);
		e->count++;
	}
	return 0;
}

static void start_timers(struct netns_emu *e)
{
	e->start_us = e->last_report_us = braid_loop_update_time(e->loop);
	braid_timer_init(&e->stats_timer, on_stats_timer, e);
	braid_timer_init(&e->event_timer, on_event_timer, e);
	braid_timer_init(&e->end_timer, on_end_timer, e);
	if (e->json)
		braid_timer_start(e->loop, &e->stats_timer,
				  e->start_us + e->opt->stats_interval_us);
	if (e->opt->duration_us)
		braid_timer_start(e->loop, &e->end_timer, e->start_us + e->opt->duration_us);
	arm_event_timer(e);
}

static void teardown(struct netns_emu *e)
{
	for (size_t i = 0; i < e->count; i++) {
		braid_emu_path_close(e->links[i].path);
		braid_timer_stop(e->loop, &e->links[i].rate_timer);
		braid_emu_link_config_free(&e->links[i].cfg);
	}
	free(e->links);
	braid_emu_repeats_free(e->repeats);
	braid_bench_down(&e->bench);
	if (e->json && e->json != stdout)
		fclose(e->json);
}

static int open_json(struct netns_emu *e)
{
	const char *path = e->opt->stats_path;

	if (!path)
		return 0;
	e->json = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (e->json)
		return 0;
	fprintf(stderr, "braid emu: cannot write '%s': %s\n", path, strerror(errno));
	return -1;
}

/* SIGINT and SIGTERM are taken before anything is built, so one arriving while the bench
 * goes up still ends in the teardown. */
static int run(struct netns_emu *e)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, 0 };
	int rc = -1;

	if (braid_loop_watch_signals(e->loop, signals, on_signal, e) != 0 || init_links(e) ||
	    open_json(e))
		return -1;
	if (build(e) == 0) {
		start_timers(e);
		print_ready(e);
		rc = braid_loop_run(e->loop);
		report(e, true);
	}
	return rc;
}

int braid_emu_netns(int argc, char **argv)
{
	static struct netns_options opt;
	struct netns_emu e = { .opt = &opt };
	int rc;

	braid_bench_init(&e.bench);
	braid_emu_scenario_init(&opt.scenario);
	opt.scenario.link_flags = BRAID_EMU_NO_ADDRESS;
	opt.prefix = DEFAULT_PREFIX;
	opt.stats_interval_us = 1000000;
	parse_args(argc, argv, &opt);
	if (geteuid() != 0) {
		fprintf(stderr, "braid emu: --netns needs root: it creates network namespaces\n");
		braid_emu_scenario_free(&opt.scenario);
		return 1;
	}
	e.loop = braid_loop_new();
	if (!e.loop) {
		fprintf(stderr, "braid emu: cannot create the event loop\n");
		braid_emu_scenario_free(&opt.scenario);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	rc = run(&e);
	teardown(&e);
	braid_loop_free(e.loop);
	braid_emu_scenario_free(&opt.scenario);
	return rc < 0 ? 1 : 0;
}
