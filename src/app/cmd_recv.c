/* braid recv: the gateway's side. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/udp.h"
#include "cli.h"
#include "commands.h"
#include "dash.h"
#include "recv_node.h"

static const char recv_usage[] =
	"usage: braid recv --listen [ADDR]:PORT --output udp://HOST:PORT | file://PATH | -\n"
	"                  [--latency MS] [--psk FILE] [--stats FILE|-] [--stats-interval MS]\n"
	"                  [--http ADDR:PORT]\n"
	"\n"
	"  --listen   where the links of every sender arrive\n"
	"  --output   where the merged stream goes: a UDP destination, a file, or - for stdout.\n"
	"             A file is appended to, never truncated. {session} in a file's name\n"
	"             gives each session its own file (file:///rec/cam-{session}.ts); any\n"
	"             other output carries one session at a time and refuses the others\n"
	"  --latency  the fixed latency budget (default 1000 ms)\n"
	"  --psk      a file holding the pre-shared key (senders need the same)\n"
	"  --http     a live dashboard at http://ADDR:PORT/, Prometheus text at /metrics\n"
	"  --stats    JSON lines of statistics to a file or - for stdout\n"
	"  --stats-interval  how often (default 1000 ms)\n"
	"\n"
	"Durations: a whole number in ms, or with a unit: 250ms, 2s.\n"
	"Exit status: 0 done (also on SIGINT/SIGTERM), 1 run-time failure, 2 bad argument.\n";

/* {session} may name the file only, so that the directory can be checked now and every
 * session's file lands in one place. */
static void check_template(const char *path)
{
	const char *t = strstr(path, BRAID_OUTPUT_SESSION_TEMPLATE);
	if (!t)
		return;
	const char *slash = strrchr(path, '/');
	if (slash && slash > t)
		braid_cli_usage_error("recv", "--output: %s may appear only in the file's name, "
				      "not in '%s'", BRAID_OUTPUT_SESSION_TEMPLATE, path);
	char dir[4096] = ".";
	size_t dir_len = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
	if (dir_len >= sizeof(dir))
		braid_cli_usage_error("recv", "--output: '%s' is too long", path);
	if (dir_len) {
		memcpy(dir, path, dir_len);
		dir[dir_len] = '\0';
	}
	if (access(dir, W_OK | X_OK) != 0)
		braid_cli_usage_error("recv", "--output: cannot create files in '%s': %s", dir,
				      strerror(errno));
}

static void parse_output(const char *v, struct braid_recv_config *cfg)
{
	if (strcmp(v, "-") == 0) {
		cfg->output = BRAID_OUTPUT_STDOUT;
	} else if (strncmp(v, "file://", 7) == 0 && v[7]) {
		cfg->output = BRAID_OUTPUT_FILE;
		cfg->output_path = v + 7;
	} else if (strstr(v, BRAID_OUTPUT_SESSION_TEMPLATE)) {
		braid_cli_usage_error("recv", "--output: %s is for file:// outputs only, not '%s'",
				      BRAID_OUTPUT_SESSION_TEMPLATE, v);
	} else if (braid_cli_parse_udp_url(v, 0, &cfg->output_addr)) {
		cfg->output = BRAID_OUTPUT_UDP;
	} else {
		braid_cli_usage_error("recv", "--output: '%s' is not udp://HOST:PORT, file://PATH or -", v);
	}
}

/* --http: where the dashboard listens (len 0: no dashboard). */
static struct braid_addr http_listen;

static void parse_args(int argc, char **argv, struct braid_recv_config *cfg, uint8_t *psk)
{
	const char *v;
	bool have_listen = false, have_output = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(recv_usage, stdout);
			exit(0);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--listen"))) {
			have_listen = braid_cli_parse_udp_url(v, 1, &cfg->listen);
			if (!have_listen)
				braid_cli_usage_error("recv", "--listen: '%s' is not [ADDR]:PORT", v);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--output"))) {
			parse_output(v, cfg);
			have_output = true;
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--latency"))) {
			cfg->core.latency_us = braid_cli_duration("recv", "--latency", v, BRAID_CLI_MS,
								  20000, 60000000);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--psk"))) {
			char err[256];
			if (!braid_cli_read_psk(v, psk, &cfg->core.psk_len, err, sizeof(err)))
				braid_cli_usage_error("recv", "--psk: %s", err);
			cfg->core.psk = psk;
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--http"))) {
			braid_dash_parse_listen("recv", v, &http_listen);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--stats"))) {
			cfg->stats_path = v;
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--stats-interval"))) {
			cfg->stats_interval_us = braid_cli_duration("recv", "--stats-interval", v,
								    BRAID_CLI_MS, 10000,
								    BRAID_CLI_MAX_INTERVAL_US);
		} else {
			braid_cli_usage_error("recv", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (!have_listen)
		braid_cli_usage_error("recv", "--listen is required");
	if (!have_output)
		braid_cli_usage_error("recv", "--output is required");
	/* The files the arguments name are checked now: a typo exits 2, not 1 later. */
	if (cfg->output == BRAID_OUTPUT_FILE && strstr(cfg->output_path,
						       BRAID_OUTPUT_SESSION_TEMPLATE))
		check_template(cfg->output_path);
	else if (cfg->output == BRAID_OUTPUT_FILE)
		braid_cli_check_writable("recv", "--output", cfg->output_path);
	if (cfg->stats_path)
		braid_cli_check_writable("recv", "--stats", cfg->stats_path);
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	braid_loop_stop(loop);
}

/* Says once per budget why a sender is refused: its stream would be released at another
 * time than it plans for. */
struct recv_watch {
	struct braid_recv_node *node;
	struct braid_timer timer;
	uint64_t latency_us;
	uint64_t refusals_seen;
	uint64_t said_us; /* the refused budget last said */
};

static void on_watch(struct braid_loop *loop, void *arg)
{
	struct recv_watch *w = arg;
	struct braid_receiver_stats st;
	braid_receiver_get_stats(braid_recv_node_receiver(w->node), &st);
	if (st.drops.latency_mismatch > w->refusals_seen && st.refused_latency_us != w->said_us) {
		fprintf(stderr, "braid recv: refused a sender whose latency budget is %llu ms; this "
			"gateway's is %llu ms: give both ends the same --latency\n",
			(unsigned long long)(st.refused_latency_us / 1000),
			(unsigned long long)(w->latency_us / 1000));
		w->said_us = st.refused_latency_us;
	}
	w->refusals_seen = st.drops.latency_mismatch;
	braid_timer_start(loop, &w->timer, braid_loop_now(loop) + 500000);
}

int braid_cmd_recv(int argc, char **argv)
{
	static struct braid_recv_config cfg;
	static uint8_t psk[BRAID_PSK_MAX + 1];
	memset(&cfg, 0, sizeof(cfg));
	braid_receiver_settings_default(&cfg.core);
	cfg.stats_interval_us = 1000000;
	cfg.live_view = true;
	parse_args(argc, argv, &cfg, psk);

	struct braid_loop *loop = braid_loop_new();
	if (!loop) {
		fprintf(stderr, "braid recv: cannot create the event loop\n");
		return 1;
	}
	static const int signals[] = { SIGINT, SIGTERM, 0 };
	braid_loop_watch_signals(loop, signals, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct braid_dash *dash = NULL;
	if (http_listen.len && !(dash = braid_dash_open(loop, &http_listen, "recv",
						       &cfg.stats_tap, &cfg.stats_tap_arg))) {
		braid_loop_free(loop);
		return 1;
	}
	char err[256];
	struct braid_recv_node *node = braid_recv_node_open(loop, &cfg, err, sizeof(err));
	if (!node) {
		fprintf(stderr, "braid recv: %s\n", err);
		braid_dash_stop(dash);
		braid_loop_free(loop);
		return 1;
	}
	braid_dash_watch_receiver(dash, braid_recv_node_receiver(node));
	struct braid_addr bound;
	char a[64];
	braid_recv_node_listen_addr(node, &bound);
	fprintf(stderr, "braid recv: listening on %s, latency %llu ms\n",
		braid_addr_format(&bound, a, sizeof(a)),
		(unsigned long long)(cfg.core.latency_us / 1000));
	if (!cfg.core.psk)
		fprintf(stderr, "braid recv: no --psk: accepting unencrypted streams from anyone; "
			"give a key file with --psk on untrusted networks\n");
	static struct recv_watch watch;
	watch = (struct recv_watch){ .node = node, .latency_us = cfg.core.latency_us };
	braid_timer_init(&watch.timer, on_watch, &watch);
	braid_timer_start(loop, &watch.timer, braid_loop_now(loop) + 500000);
	int rc = braid_loop_run(loop);
	braid_timer_stop(loop, &watch.timer);
	/* Release what is still held before the final figures, so they count it. */
	braid_recv_node_flush(node);
	braid_recv_node_report(node, true);
	braid_dash_stop(dash);
	braid_recv_node_close(node);
	braid_loop_free(loop);
	return rc < 0 ? 1 : 0;
}
