/* braid emu: real-time link emulation between a sender and a receiver on one machine or a
 * LAN. One relay per --link (or scenario link); timed scenario events, a blackhole on SIGUSR1,
 * an optional UDP control socket, and JSON lines of statistics (docs/emu.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "emu/relay.h"
#include "scenario/files.h"
#include "braid/error.h"
#include "io/udp.h"
#include "cli.h"
#include "commands.h"
#include "emu_netns.h"
#include "report.h"

const struct braid_help braid_emu_help = {
	.program = "braid emu",
	.page = "braid-emu",
	.section = 1,
	.summary = "emulate links: rate, delay, loss, outages",
	.synopsis = (const char *const[]){
		"--link SPEC [--link SPEC]... [--scenario FILE] [--stats FILE|-] "
		"[--stats-interval MS] [--duration S] [--control ADDR:PORT]",
		"--netns [--scenario FILE] [--link SPEC]... [--netns-prefix P] [--netns-ports PORT] "
		"[--duration S] [--stats FILE|-] [--stats-interval MS]",
		NULL },
	.description = (const char *const[]){
		"Relays UDP between two addresses per link, in real time, through a model of a "
		"network path: its rate, delay, jitter, loss, queue and outages, in both "
		"directions. SIGUSR1 blackholes every link, or clears them all when all are "
		"blackholed. The link keys and the scenario format are in docs/emu.md.",
		"With --netns (as root) the links are real kernel paths instead: network "
		"namespaces for a sender (one interface and address per link), each link and a "
		"receiver, rates set by TBF over netlink, delay and loss applied in user space; "
		"any program run in the sender's namespace bonds over them (docs/bench-links.md).",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--link", "SPEC", "listen=ADDR:PORT,to=ADDR:PORT[,KEY=VALUE]...: one emulated "
		  "link. Keys: name=, rate=8mbit|ou=MEAN:SIGMA:THETA|trace=FILE, delay=40ms, "
		  "jitter=10ms, reorder=on, loss=1%|ge:P:R:BAD:GOOD, queue=200ms|64kb, "
		  "duplicate=0.1%, outage=10s+5s (repeatable), seed=N, and rev=KEY=VALUE;KEY=VALUE "
		  "or rev.KEY=VALUE for the return path" },
		{ "--scenario", "FILE", "a file of 'link NAME KEYS' and 'at TIME NAME blackhole "
		  "on|off' or 'at TIME NAME KEYS' lines" },
		{ "--stats", "FILE|-", "JSON lines of per-link statistics to a file or - for "
		  "stdout" },
		{ "--stats-interval", "MS", "how often a line of statistics is written "
		  "(default 1000 ms)" },
		{ "--duration", "S", "exit after this long (default: run until a signal)" },
		{ "--control", "ADDR:PORT", "a UDP address taking commands such as "
		  "'lte1 blackhole on'" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, "--netns" },
		{ "--netns", NULL, "build the bench in network namespaces: PREFIX-tx (the sender, "
		  "one interface and address per link), PREFIX-lN (one per link), PREFIX-rx (the "
		  "receiver); a JSON line on stdout says what is where. --scenario's and "
		  "--link's listen= and to= are not needed; --stats lines carry the qdiscs' "
		  "counters. Needs root" },
		{ "--netns-prefix", "P", "names the namespaces (default braid); a new run removes "
		  "what a killed run of the same prefix left" },
		{ "--netns-ports", "PORT", "UDP to PORT and PORT+1 takes link 1, PORT+2 and PORT+3 "
		  "link 2... whatever its source (for programs that bond by destination port)" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Durations: a whole number (ms for --stats-interval, s for --duration), or with "
		"a unit: 250ms, 2s.",
		"Exit status: 0 done, 1 run-time failure (with --netns also: no root, the prefix "
		"in use, the kernel refused), 2 bad argument.",
		NULL },
	.see_also = "braid(1), braid-sim(1), braid-demo(1), ip-netns(8)",
};

struct emu_options {
	struct braid_emu_scenario scenario;
	const char *stats_path;
	uint64_t stats_interval_us;
	uint64_t duration_us; /* 0: run until a signal */
	struct braid_addr control;
};

struct emu {
	struct braid_loop *loop;
	const struct emu_options *opt;
	struct braid_emu_relay **relays;
	size_t count;
	uint64_t (*last_bytes)[2]; /* delivered bytes per relay and direction at the last report */
	uint64_t start_us, last_report_us;
	FILE *json;
	size_t next_event;
	int control_fd;
	struct braid_timer stats_timer, event_timer, end_timer;
};

/* ---- arguments ---- */

static void add_link(struct emu_options *opt, const char *spec)
{
	struct braid_emu_link_config cfg;
	char err[512];

	if (braid_emu_parse_link(spec, (unsigned)opt->scenario.link_count, &cfg, err, sizeof(err)))
		braid_cli_usage_error("emu", "--link '%s': %s", spec, err);
	if (braid_emu_scenario_add_link(&opt->scenario, &cfg))
		braid_cli_usage_error("emu", "--link: out of memory");
}

/* --stats-interval MS and --duration S at argv[*i]; false when it is neither. */
static bool time_option(int argc, char **argv, int *i, struct emu_options *opt)
{
	const char *v;

	if ((v = braid_cli_option("emu", argc, argv, i, "--stats-interval"))) {
		opt->stats_interval_us = braid_cli_duration("emu", "--stats-interval", v,
							    BRAID_CLI_MS, 10000,
							    BRAID_CLI_MAX_INTERVAL_US);
		return true;
	}
	if ((v = braid_cli_option("emu", argc, argv, i, "--duration"))) {
		opt->duration_us = braid_cli_duration("emu", "--duration", v, BRAID_CLI_S, 1000,
						      BRAID_CLI_MAX_RUN_US);
		return true;
	}
	return false;
}

static void parse_args(int argc, char **argv, struct emu_options *opt)
{
	const char *v, *scenario_path = NULL;
	char err[640];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_emu_help);
			exit(0);
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--link"))) {
			add_link(opt, v);
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--scenario"))) {
			scenario_path = v;
		} else if (time_option(argc, argv, &i, opt)) {
			continue;
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--stats"))) {
			opt->stats_path = v;
		} else if ((v = braid_cli_option("emu", argc, argv, &i, "--control"))) {
			if (braid_addr_parse(v, 1, &opt->control) != 0)
				braid_cli_usage_error("emu", "--control: '%s' is not [ADDR]:PORT",
						      v);
		} else {
			braid_cli_usage_error("emu", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (scenario_path && braid_emu_scenario_load(&opt->scenario, scenario_path, err,
						     sizeof(err)))
		braid_cli_usage_error("emu", "--scenario: %s", err);
	if (opt->scenario.link_count == 0)
		braid_cli_usage_error("emu", "--link is required (or links in a --scenario)");
	if (braid_emu_scenario_check(&opt->scenario, err, sizeof(err)))
		braid_cli_usage_error("emu", "%s: %s", scenario_path ? "--scenario" : "--link",
				      err);
	if (opt->stats_path)
		braid_cli_check_writable("emu", "--stats", opt->stats_path);
}

/* ---- statistics ---- */

/* Link names are printable ASCII; only quotes and backslashes need escaping. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void json_direction(FILE *f, const char *name, const struct braid_model_stats *s,
			   double delivered_bps)
{
	fprintf(f,
		"\"%s\":{\"offered\":%llu,\"delivered\":%llu,\"dropped_loss\":%llu,"
		"\"dropped_queue\":%llu,\"dropped_outage\":%llu,\"duplicated\":%llu,"
		"\"offered_bytes\":%llu,\"delivered_bytes\":%llu,\"delivered_bps\":%.0f,"
		"\"rate_bps\":%.0f,\"queue_delay_ms\":%.3f}",
		name, (unsigned long long)s->offered, (unsigned long long)s->delivered,
		(unsigned long long)s->dropped_loss, (unsigned long long)s->dropped_queue,
		(unsigned long long)s->dropped_outage, (unsigned long long)s->duplicated,
		(unsigned long long)s->offered_bytes, (unsigned long long)s->delivered_bytes,
		delivered_bps, s->rate_bps, (double)s->queue_delay_us / 1000.0);
}

static double bitrate_since(uint64_t *last, uint64_t bytes, double seconds)
{
	double bps = seconds > 0 && bytes >= *last ? (double)(bytes - *last) * 8.0 / seconds : 0;

	*last = bytes;
	return bps;
}

static void report(struct emu *e, bool final)
{
	uint64_t now = braid_loop_now(e->loop);
	double seconds = (double)(now - e->last_report_us) / 1e6;

	if (!e->json)
		return;
	for (size_t i = 0; i < e->count; i++) {
		struct braid_model_stats s[2];

		braid_emu_relay_get_stats(e->relays[i], now, &s[0], &s[1]);
		fprintf(e->json, "{\"t\":%.3f,\"link\":", (double)(now - e->start_us) / 1e6);
		json_string(e->json, braid_emu_relay_name(e->relays[i]));
		fprintf(e->json, ",\"blackhole\":%s,",
			braid_emu_relay_blackhole(e->relays[i]) ? "true" : "false");
		json_direction(e->json, "fwd", &s[0],
			       bitrate_since(&e->last_bytes[i][0], s[0].delivered_bytes, seconds));
		fputc(',', e->json);
		json_direction(e->json, "rev", &s[1],
			       bitrate_since(&e->last_bytes[i][1], s[1].delivered_bytes, seconds));
		fprintf(e->json, "%s}\n", final ? ",\"final\":true" : "");
	}
	fflush(e->json);
	e->last_report_us = now;
}

static void summary_direction(const char *name, const char *dir, const struct braid_model_stats *s)
{
	fprintf(stderr, "braid emu: link %s %s: offered %llu, delivered %llu, lost %llu, "
		"queue drops %llu, outage drops %llu\n", name, dir,
		(unsigned long long)s->offered, (unsigned long long)s->delivered,
		(unsigned long long)s->dropped_loss, (unsigned long long)s->dropped_queue,
		(unsigned long long)s->dropped_outage);
}

static void summary(const struct emu *e)
{
	for (size_t i = 0; i < e->count; i++) {
		struct braid_model_stats s[2];
		const char *name = braid_emu_relay_name(e->relays[i]);

		braid_emu_relay_get_stats(e->relays[i], braid_loop_now(e->loop), &s[0], &s[1]);
		summary_direction(name, "fwd", &s[0]);
		summary_direction(name, "rev", &s[1]);
	}
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct emu *e = arg;

	report(e, false);
	braid_timer_start(loop, &e->stats_timer,
			  e->stats_timer.deadline_us + e->opt->stats_interval_us);
}

/* ---- events, signals, control ---- */

static void describe_event(const struct braid_emu_event *ev, char *buf, size_t len)
{
	static const char *const blackhole[] = { "", "on", "off", "toggle" };

	if (ev->action == BRAID_EMU_SET)
		snprintf(buf, len, "%s %s", ev->link, ev->keys);
	else
		snprintf(buf, len, "%s blackhole %s", ev->link, blackhole[ev->action]);
}

static int run_event(struct emu *e, const struct braid_emu_event *ev, char *err, size_t err_len)
{
	char what[BRAID_EMU_SPEC_MAX + 64], t[BRAID_ELAPSED_MAX];
	int rc = braid_emu_apply_event(e->relays, e->count, ev, err, err_len);

	describe_event(ev, what, sizeof(what));
	if (rc == 0)
		snprintf(err, err_len, "no link named '%s'", ev->link);
	braid_report_elapsed(braid_loop_now(e->loop) - e->start_us, t);
	if (rc <= 0)
		fprintf(stderr, "[%11s] braid emu: %s: %s\n", t, what, err);
	else
		fprintf(stderr, "[%11s] braid emu: %s\n", t, what);
	return rc;
}

static void arm_event_timer(struct emu *e)
{
	const struct braid_emu_scenario *sc = &e->opt->scenario;

	if (e->next_event < sc->event_count)
		braid_timer_start(e->loop, &e->event_timer,
				  e->start_us + sc->events[e->next_event].at_us);
}

static void on_event_timer(struct braid_loop *loop, void *arg)
{
	struct emu *e = arg;
	const struct braid_emu_scenario *sc = &e->opt->scenario;
	char err[512];

	while (e->next_event < sc->event_count &&
	       e->start_us + sc->events[e->next_event].at_us <= braid_loop_now(loop))
		run_event(e, &sc->events[e->next_event++], err, sizeof(err));
	arm_event_timer(e);
}

static void on_end_timer(struct braid_loop *loop, void *arg)
{
	(void)arg;
	braid_loop_stop(loop);
}

/* SIGUSR1: every link blackholed unless all already are, then every link cleared. */
static void toggle_all(struct emu *e)
{
	bool all_on = true;

	for (size_t i = 0; i < e->count; i++)
		all_on = all_on && braid_emu_relay_blackhole(e->relays[i]);
	for (size_t i = 0; i < e->count; i++)
		braid_emu_relay_set_blackhole(e->relays[i], !all_on);
	char t[BRAID_ELAPSED_MAX];
	fprintf(stderr, "[%11s] braid emu: blackhole %s on every link\n",
		braid_report_elapsed(braid_loop_now(e->loop) - e->start_us, t),
		all_on ? "off" : "on");
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	if (signo == SIGUSR1)
		toggle_all(arg);
	else
		braid_loop_stop(loop);
}

/* One command per datagram; the answer goes back to its sender. */
static void on_control(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct emu *e = arg;
	uint8_t buf[BRAID_EMU_SPEC_MAX + 64];
	struct braid_datagram d = { .buf = buf, .cap = sizeof(buf) - 1 };
	struct braid_emu_event ev;
	char err[512], reply[600];

	(void)loop;
	(void)events;
	while (braid_udp_recv_batch(fd, &d, 1) == 1) {
		int rc = BRAID_ERR_INVAL;

		while (d.len > 0 && (buf[d.len - 1] == '\n' || buf[d.len - 1] == '\r'))
			d.len--;
		buf[d.len] = '\0';
		if (d.truncated || memchr(buf, '\0', d.len))
			snprintf(err, sizeof(err), "not a command");
		else
			rc = braid_emu_parse_command((const char *)buf, &ev, err, sizeof(err));
		if (rc == 0) {
			rc = run_event(e, &ev, err, sizeof(err));
			if (rc == 0)
				rc = BRAID_ERR_LINK;
		}
		if (rc > 0)
			snprintf(reply, sizeof(reply), "ok %d\n", rc);
		else
			snprintf(reply, sizeof(reply), "error: %s\n", err);
		braid_udp_send(fd, &d.addr, (const uint8_t *)reply, strlen(reply));
	}
}

/* ---- running ---- */

static int open_control(struct emu *e)
{
	struct braid_udp_options o = { .bind = &e->opt->control, .buffer_bytes = 65536 };
	struct braid_addr bound;
	char a[64];

	if (e->opt->control.len == 0)
		return 0;
	e->control_fd = braid_udp_open(&o);
	if (e->control_fd < 0) {
		fprintf(stderr, "braid emu: cannot open --control %s: %s\n",
			braid_addr_format(&e->opt->control, a, sizeof(a)), strerror(errno));
		return -1;
	}
	if (braid_loop_add_fd(e->loop, e->control_fd, EPOLLIN, on_control, e))
		return -1;
	braid_udp_local(e->control_fd, &bound);
	fprintf(stderr, "braid emu: control on %s\n", braid_addr_format(&bound, a, sizeof(a)));
	return 0;
}

static int open_relays(struct emu *e)
{
	const struct braid_emu_scenario *sc = &e->opt->scenario;
	char err[512], a[64], b[64];

	e->relays = calloc(sc->link_count, sizeof(*e->relays));
	e->last_bytes = calloc(sc->link_count, sizeof(*e->last_bytes));
	if (!e->relays || !e->last_bytes) {
		fprintf(stderr, "braid emu: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < sc->link_count; i++) {
		struct braid_addr bound;

		e->relays[i] = braid_emu_relay_open(e->loop, &sc->links[i], err, sizeof(err));
		if (!e->relays[i]) {
			fprintf(stderr, "braid emu: %s\n", err);
			return -1;
		}
		e->count++;
		braid_emu_relay_listen_addr(e->relays[i], &bound);
		fprintf(stderr, "braid emu: link %s listening on %s -> %s\n", sc->links[i].name,
			braid_addr_format(&bound, a, sizeof(a)),
			braid_addr_format(&braid_emu_relay_config(e->relays[i])->to, b, sizeof(b)));
	}
	return 0;
}

static int start(struct emu *e)
{
	if (open_relays(e) || open_control(e))
		return -1;
	e->start_us = e->last_report_us = braid_loop_now(e->loop);
	braid_timer_init(&e->stats_timer, on_stats_timer, e);
	braid_timer_init(&e->event_timer, on_event_timer, e);
	braid_timer_init(&e->end_timer, on_end_timer, e);
	if (e->json)
		braid_timer_start(e->loop, &e->stats_timer,
				  e->start_us + e->opt->stats_interval_us);
	if (e->opt->duration_us)
		braid_timer_start(e->loop, &e->end_timer, e->start_us + e->opt->duration_us);
	arm_event_timer(e);
	return 0;
}

static void stop(struct emu *e)
{
	for (size_t i = 0; i < e->count; i++)
		braid_emu_relay_close(e->relays[i]);
	if (e->control_fd >= 0) {
		braid_loop_del_fd(e->loop, e->control_fd);
		close(e->control_fd);
	}
	free(e->relays);
	free(e->last_bytes);
	if (e->json && e->json != stdout)
		fclose(e->json);
}

static int open_json(struct emu *e, const char *path)
{
	if (!path)
		return 0;
	e->json = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (e->json)
		return 0;
	fprintf(stderr, "braid emu: cannot write '%s': %s\n", path, strerror(errno));
	return -1;
}

int braid_cmd_emu(int argc, char **argv)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGUSR1, 0 };
	static struct emu_options opt;
	struct emu e = { .opt = &opt, .control_fd = -1 };
	int rc = -1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--netns") == 0)
			return braid_emu_netns(argc, argv);
	braid_emu_scenario_init(&opt.scenario);
	opt.stats_interval_us = 1000000;
	parse_args(argc, argv, &opt);
	e.loop = braid_loop_new();
	if (!e.loop) {
		fprintf(stderr, "braid emu: cannot create the event loop\n");
		braid_emu_scenario_free(&opt.scenario);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Datagrams leave on timers: the default 50 us of timer slack would make them late. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (braid_loop_watch_signals(e.loop, signals, on_signal, &e) == 0 &&
	    open_json(&e, opt.stats_path) == 0 && start(&e) == 0) {
		rc = braid_loop_run(e.loop);
		braid_loop_update_time(e.loop);
		report(&e, true);
		summary(&e);
	}
	stop(&e);
	braid_loop_free(e.loop);
	braid_emu_scenario_free(&opt.scenario);
	return rc < 0 ? 1 : 0;
}
