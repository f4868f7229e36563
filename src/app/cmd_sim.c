/* braid sim: a scenario run in virtual time (docs/sim.md). The metrics go to stdout as one
 * JSON object, a summary and failed expectations to stderr; --plot draws the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "braid/error.h"
#include "sim/bound.h"
#include "sim/sim.h"
#include "cli.h"
#include "commands.h"
#include "report.h"

const struct braid_help braid_sim_help = {
	.program = "braid sim",
	.page = "braid-sim",
	.section = 1,
	.summary = "simulate a bonding scenario in virtual time",
	.synopsis = (const char *const[]){
		"--scenario FILE [--plot FILE.svg] [--traces DIR] [--duration S] [--seed N] "
		"[--mode broadcast|roundrobin|weighted|backup|adaptive] [--bound]",
		"--write-trace FILE --ou MEAN:SIGMA:THETA[:FLOOR[:CEILING]] --duration S "
		"[--seed N]",
		NULL },
	.description = (const char *const[]){
		"Runs the sender and the receiver over modelled links in virtual time, as fast "
		"as the machine allows, and prints the metrics as JSON on stdout. The scenario "
		"format is in docs/sim.md.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--scenario", "FILE", "links, events, stream, sender settings and "
		  "expectations" },
		{ "--plot", "FILE.svg", "draw per-link rate, RTT and loss and the output's "
		  "continuity" },
		{ "--traces", "DIR", "replay DIR's NAME.up (forward) and NAME.down (return) files "
		  "on the scenario's trace links, in name order" },
		{ "--duration", "S", "the stream's length (overrides the scenario); with "
		  "--write-trace, the trace's" },
		{ "--seed", "N", "the run's seed (overrides the scenario)" },
		{ "--mode", "adaptive|broadcast|roundrobin|weighted|backup", "the sender's mode (overrides the "
		  "scenario)" },
		{ "--bound", NULL, "also compute the clairvoyant bound of the links: the highest "
		  "lossless rate any schedule knowing their future could carry" },
		{ "--write-trace", "FILE", "write a synthetic mahimahi trace of an OU rate "
		  "instead of simulating" },
		{ "--ou", "MEAN:SIGMA:THETA[:FLOOR[:CEILING]]", "the trace's rate process, as "
		  "ou= in braid emu" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Durations: a whole number in s, or with a unit: 90s, 500ms.",
		"Exit status: 0 done, 1 when an expectation fails or something fails at run "
		"time, 2 bad argument.",
		NULL },
	.see_also = "braid(1), braid-emu(1)",
};

struct sim_options {
	const char *scenario, *plot, *traces, *write_trace, *ou;
	uint64_t duration_us, seed;
	int mode;
	bool have_seed, bound;
};

static void parse_args(int argc, char **argv, struct sim_options *o)
{
	const char *v;

	o->mode = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_sim_help);
			exit(0);
		} else if (strcmp(argv[i], "--bound") == 0) {
			o->bound = true;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--scenario"))) {
			o->scenario = v;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--plot"))) {
			o->plot = v;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--traces"))) {
			o->traces = v;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--write-trace"))) {
			o->write_trace = v;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--ou"))) {
			o->ou = v;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--duration"))) {
			o->duration_us = braid_cli_duration("sim", "--duration", v, BRAID_CLI_S,
							    1000, UINT64_C(172800000000));
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--seed"))) {
			if (!braid_cli_parse_uint(v, 0, UINT64_MAX, &o->seed))
				braid_cli_usage_error("sim", "--seed: '%s' is not a whole "
						      "number", v);
			o->have_seed = true;
		} else if ((v = braid_cli_option("sim", argc, argv, &i, "--mode"))) {
			o->mode = braid_mode_parse(v);
			if (o->mode < 0)
				braid_cli_usage_error("sim", "--mode: unknown mode '%s' "
						      "(broadcast, roundrobin, weighted, backup, "
						      "adaptive)", v);
		} else {
			braid_cli_usage_error("sim", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (o->write_trace) {
		if (o->scenario || o->plot || o->traces || o->mode >= 0 || o->bound)
			braid_cli_usage_error("sim", "--write-trace takes only --ou, --duration "
					      "and --seed");
		if (!o->ou)
			braid_cli_usage_error("sim", "--write-trace needs --ou MEAN:SIGMA:THETA");
		if (!o->duration_us)
			braid_cli_usage_error("sim", "--write-trace needs --duration");
	} else if (!o->scenario) {
		braid_cli_usage_error("sim", "--scenario is required");
	} else if (o->ou) {
		braid_cli_usage_error("sim", "--ou goes with --write-trace");
	}
	if (o->write_trace)
		braid_cli_check_writable("sim", "--write-trace", o->write_trace);
	if (o->plot)
		braid_cli_check_writable("sim", "--plot", o->plot);
}

static int write_trace(const struct sim_options *o)
{
	struct braid_emu_link_config cfg;
	char keys[300], err[256];
	FILE *f;
	int rc;

	braid_emu_link_config_init(&cfg, 0);
	snprintf(keys, sizeof(keys), "ou=%s", o->ou);
	if (strlen(o->ou) > 256 || braid_emu_apply_keys(&cfg, keys, err, sizeof(err)))
		braid_cli_usage_error("sim", "--ou '%s': not MEAN:SIGMA:THETA[:FLOOR[:CEILING]] "
				      "(e.g. 4mbit:1mbit:0.5)", o->ou);
	f = fopen(o->write_trace, "w");
	if (!f) {
		fprintf(stderr, "braid sim: cannot write '%s'\n", o->write_trace);
		return 1;
	}
	rc = braid_sim_write_trace(f, &cfg.fwd.ou, o->duration_us, o->have_seed ? o->seed : 1);
	if (fclose(f) != 0 && rc == 0)
		rc = BRAID_ERR_IO;
	if (rc)
		fprintf(stderr, "braid sim: cannot write '%s': %s\n", o->write_trace,
			braid_strerror(rc));
	return rc ? 1 : 0;
}

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_plot(const char *path, struct braid_sim *sim)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f) {
		fprintf(stderr, "braid sim: cannot write '%s'\n", path);
		return 1;
	}
	rc = braid_sim_write_svg(f, sim);
	if (fclose(f) != 0 || rc) {
		fprintf(stderr, "braid sim: cannot write '%s'\n", path);
		return 1;
	}
	return 0;
}

/* ", carried X Mbit/s lossless, Y % of the clairvoyant bound (Z Mbit/s)" */
static void bound_summary(const struct braid_sim_bound *b, const struct braid_sim_metrics *m)
{
	if (b->unlimited) {
		fprintf(stderr, ", no clairvoyant bound (a link has no rate limit)");
		return;
	}
	fprintf(stderr, ", carried %.3f Mbit/s %s, %.1f %% of the clairvoyant bound (%.3f Mbit/s)",
		m->throughput_mbps, braid_sim_lossless(m) ? "lossless" : "not lossless",
		braid_sim_bound_share(b, m) * 100, b->rate_bps / 1e6);
}

static void summary(const struct braid_sim_scenario *sc, const struct braid_sim_metrics *m,
		    const struct braid_sim_bound *bound, double wall)
{
	bool *pass = calloc(sc->expect_count ? sc->expect_count : 1, sizeof(*pass));
	size_t failed = braid_sim_check(sc, m, pass);

	char simulated[BRAID_ELAPSED_MAX], took[BRAID_ELAPSED_MAX];
	fprintf(stderr, "braid sim: %s: %s simulated in %s (%.0fx), residual loss "
		"%.4f%%, release %.3f..%.3f ms after the fastest path (budget %.0f ms)",
		sc->name, braid_report_elapsed((uint64_t)(m->simulated_s * 1e6), simulated),
		braid_report_elapsed((uint64_t)(wall * 1e6), took),
		wall > 0 ? m->simulated_s / wall : 0,
		m->residual_loss * 100, m->over_path_min_ms, m->over_path_max_ms,
		(double)sc->sender.latency_us / 1000.0);
	if (bound)
		bound_summary(bound, m);
	fprintf(stderr, ", %zu/%zu expectations met\n", sc->expect_count - failed,
		sc->expect_count);
	for (size_t i = 0; pass && i < sc->expect_count; i++) {
		double v = 0;

		if (pass[i])
			continue;
		braid_sim_metric(m, sc->expects[i].metric, &v);
		fprintf(stderr, "braid sim: %s:%u: expectation failed: %s (got %g)\n",
			sc->name, sc->expects[i].line, sc->expects[i].text, v);
	}
	free(pass);
}

static int run(struct braid_sim_scenario *sc, const struct sim_options *o,
	       const struct braid_sim_bound *bound)
{
	char err[512];
	double start = wall_seconds(), wall;
	struct braid_sim *sim = braid_sim_new(sc, err, sizeof(err));
	const struct braid_sim_metrics *m;
	int status = 0;

	if (!sim) {
		fprintf(stderr, "braid sim: %s\n", err);
		return 1;
	}
	if (braid_sim_run(sim)) {
		char t[BRAID_ELAPSED_MAX];
		fprintf(stderr, "braid sim: the run got stuck at %s\n",
			braid_report_elapsed(braid_sim_now(sim), t));
		status = 1;
	}
	m = braid_sim_metrics(sim);
	wall = wall_seconds() - start;
	braid_sim_write_json(stdout, sc, m, bound, wall);
	fflush(stdout);
	summary(sc, m, bound, wall);
	if (braid_sim_check(sc, m, NULL))
		status = 1;
	if (o->plot && write_plot(o->plot, sim))
		status = 1;
	braid_sim_free(sim);
	return status;
}

int braid_cmd_sim(int argc, char **argv)
{
	struct sim_options o = { 0 };
	struct braid_sim_scenario sc;
	struct braid_sim_bound bound;
	char err[512];
	int status;

	parse_args(argc, argv, &o);
	if (o.write_trace)
		return write_trace(&o);
	braid_sim_scenario_init(&sc);
	if (braid_sim_scenario_load(&sc, o.scenario, err, sizeof(err)))
		braid_cli_usage_error("sim", "--scenario: %s", err);
	if (o.traces && braid_sim_scenario_use_traces(&sc, o.traces, err, sizeof(err)))
		braid_cli_usage_error("sim", "--traces: %s", err);
	if (o.duration_us)
		sc.duration_us = o.duration_us;
	if (o.have_seed)
		sc.seed = o.seed;
	if (o.mode >= 0)
		sc.sender.mode = (enum braid_mode)o.mode;
	/* The bound depends on the scenario alone (links, events, stream, budget, seed). */
	if (o.bound && braid_sim_bound(&sc, &bound, err, sizeof(err)))
		braid_cli_usage_error("sim", "--bound: %s", err);
	status = run(&sc, &o, o.bound ? &bound : NULL);
	braid_sim_scenario_free(&sc);
	return status;
}
