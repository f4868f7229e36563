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
#include "rist_node.h"

const struct braid_help braid_recv_help = {
	.program = "braid recv",
	.page = "braid-recv",
	.section = 1,
	.summary = "merge the links and release the stream",
	.synopsis = (const char *const[]){
		"--listen [ADDR]:PORT --output OUTPUT [--latency MS] [--psk FILE] "
		"[--stats FILE|-] [--stats-interval MS] [--http ADDR:PORT]",
		"--listen rist://[ADDR]:PORT --output OUTPUT [--latency MS] "
		"[--rist-nack auto|generic|range] [--stats FILE|-]",
		NULL },
	.description = (const char *const[]){
		"The gateway's side: takes the links of every sender on one UDP port, merges and "
		"reorders their packets, repairs losses, and releases the stream with the "
		"sender's timing after a fixed latency budget.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--listen", "[ADDR]:PORT|rist://[ADDR]:PORT", "where the links of every sender "
		  "arrive; rist://: a RIST Simple Profile flow over any number of paths, RTP on "
		  "PORT (even), RTCP on PORT + 1 (docs/rist.md)" },
		{ "--output", "udp://HOST:PORT|file://PATH|rist://HOST:PORT|-", "where the merged "
		  "stream goes: a UDP destination, a file, - for stdout, or rist://HOST:PORT, on "
		  "as a RIST Simple Profile flow (RTCP to PORT + 1). A file is appended to, never "
		  "truncated. {session} in a file's name gives each session its own file "
		  "(file:///rec/cam-{session}.ts); any other output carries one session at a "
		  "time and refuses the others" },
		{ "--latency", "MS", "the fixed latency budget (default 1000 ms); senders must "
		  "use the same. RIST: how long a lost packet is waited for, and how long the "
		  "rist:// output keeps packets to resend" },
		{ "--rist-nack", "auto|generic|range", "the NACKs a RIST receiver sends: auto (the "
		  "default: RIST range NACKs to a peer that speaks RIST's RTCP, Generic NACKs to "
		  "others), generic, range" },
		{ "--psk", "FILE", "a file holding the pre-shared key (senders need the same)" },
		{ "--http", "ADDR:PORT", "a live dashboard at http://ADDR:PORT/, and Prometheus "
		  "text at /metrics (docs/dashboard.md)" },
		{ "--stats", "FILE|-", "JSON lines of statistics to a file or - for stdout" },
		{ "--stats-interval", "MS", "how often a line of statistics is written to "
		  "--stats and the live view is redrawn (default 1000 ms)" },
		{ "--config", "FILE", "settings as 'key = value' lines, a key being a long "
		  "option above without its dashes (latency = 800ms); options on the command "
		  "line override the file's" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Durations: a whole number in ms, or with a unit: 250ms, 2s.",
		"Exit status: 0 done (also on SIGINT/SIGTERM), 1 run-time failure, 2 bad "
		"argument.",
		NULL },
	.see_also = "braid(1), braid-send(1), braidd(8)",
};

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

/* rist://HOST:PORT (or [ADDR]:PORT when passive): an even port, RTCP on the next. */
static bool parse_rist_url(const char *v, int passive, struct braid_addr *out)
{
	if (strncmp(v, "rist://", 7) != 0)
		return false;
	v += 7;
	if (*v == '@') /* librist's spelling of a listening address */
		v++;
	if (braid_addr_parse(v, passive, out) != 0)
		braid_cli_usage_error("recv", "'rist://%s' is not %s:PORT", v,
				      passive ? "[ADDR]" : "HOST");
	uint16_t port = braid_addr_port(out);
	if (port == 0 || port % 2 || port == 65535)
		braid_cli_usage_error("recv", "rist://%s: RIST needs a non-zero even port (RTP), its RTCP "
				      "goes to the next one; %u is not", v, port);
	return true;
}

static void parse_output(const char *v, struct braid_recv_config *cfg)
{
	if (strncmp(v, "rist://", 7) == 0) {
		parse_rist_url(v, 0, &cfg->output_addr);
		cfg->output = BRAID_OUTPUT_RIST;
	} else if (strcmp(v, "-") == 0) {
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

struct rist_args {
	bool on;             /* --listen rist:// */
	struct braid_addr listen;
	bool nack_given;
	enum braid_rist_nack_kind nack;
	bool latency_given;
};

static enum braid_rist_nack_kind parse_nack(const char *v)
{
	if (strcmp(v, "auto") == 0)
		return BRAID_RIST_NACK_AUTO;
	if (strcmp(v, "generic") == 0)
		return BRAID_RIST_NACK_GENERIC;
	if (strcmp(v, "range") == 0)
		return BRAID_RIST_NACK_RANGE;
	braid_cli_usage_error("recv", "--rist-nack: '%s' is not auto, generic or range", v);
	return BRAID_RIST_NACK_AUTO;
}

/* What only one kind of --listen takes. */
static void check_modes(const struct braid_recv_config *cfg, const struct rist_args *rist)
{
	if (rist->on && cfg->core.psk)
		braid_cli_usage_error("recv", "--psk is for braid senders; the RIST Simple "
				      "Profile has no keys");
	if (rist->on && cfg->output == BRAID_OUTPUT_FILE &&
	    strstr(cfg->output_path, BRAID_OUTPUT_SESSION_TEMPLATE))
		braid_cli_usage_error("recv", "--output: %s: a RIST listener has one flow",
				      BRAID_OUTPUT_SESSION_TEMPLATE);
	if (!rist->on && rist->nack_given)
		braid_cli_usage_error("recv", "--rist-nack needs --listen rist://");
	if (rist->on && http_listen.len)
		braid_cli_usage_error("recv", "--http: the dashboard shows braid sessions; a RIST "
				      "listener has none (its figures are in --stats)");
}

static void parse_args(int argc, char **argv, struct braid_recv_config *cfg, uint8_t *psk,
		       struct rist_args *rist)
{
	const char *v;
	bool have_listen = false, have_output = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_recv_help);
			exit(0);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--listen"))) {
			rist->on = parse_rist_url(v, 1, &rist->listen);
			have_listen = rist->on || braid_cli_parse_udp_url(v, 1, &cfg->listen);
			if (!have_listen)
				braid_cli_usage_error("recv", "--listen: '%s' is not [ADDR]:PORT", v);
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--output"))) {
			parse_output(v, cfg);
			have_output = true;
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--latency"))) {
			cfg->core.latency_us = braid_cli_duration("recv", "--latency", v, BRAID_CLI_MS,
								  20000, 60000000);
			rist->latency_given = true;
		} else if ((v = braid_cli_option("recv", argc, argv, &i, "--rist-nack"))) {
			rist->nack = parse_nack(v);
			rist->nack_given = true;
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
		} else if (braid_cli_option("recv", argc, argv, &i, "--config")) {
			continue; /* read before: braid_cli_load_config */
		} else {
			braid_cli_usage_error("recv", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (!have_listen)
		braid_cli_usage_error("recv", "--listen is required");
	if (!have_output)
		braid_cli_usage_error("recv", "--output is required");
	check_modes(cfg, rist);
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

/* --listen rist://: the RIST receiver instead of the bonding one. */
static int run_rist(struct braid_loop *loop, const struct braid_recv_config *cfg,
		    const struct rist_args *rist)
{
	static struct braid_rist_node_config rc;
	memset(&rc, 0, sizeof(rc));
	rc.listen = rist->listen;
	rc.output = cfg->output;
	rc.output_addr = cfg->output_addr;
	rc.output_path = cfg->output_path;
	rc.stats_path = cfg->stats_path;
	rc.stats_interval_us = cfg->stats_interval_us;
	braid_rist_rx_config_default(&rc.core);
	if (rist->latency_given)
		rc.core.buffer_us = cfg->core.latency_us;
	if (rist->nack_given)
		rc.core.nack = rist->nack;
	char err[256], a[64];
	struct braid_rist_node *node = braid_rist_node_open(loop, &rc, err, sizeof(err));
	if (!node) {
		fprintf(stderr, "braid recv: %s\n", err);
		return 1;
	}
	fprintf(stderr, "braid recv: listening on rist://%s (RTCP on port %u), buffer %llu ms\n",
		braid_addr_format(&rist->listen, a, sizeof(a)),
		(unsigned)braid_addr_port(&rist->listen) + 1,
		(unsigned long long)(rc.core.buffer_us / 1000));
	int rc_run = braid_loop_run(loop);
	braid_rist_node_flush(node);
	braid_rist_node_report(node, true);
	braid_rist_node_close(node);
	return rc_run < 0 ? 1 : 0;
}

int braid_cmd_recv(int argc, char **argv)
{
	static struct braid_recv_config cfg;
	static uint8_t psk[BRAID_PSK_MAX + 1];
	static struct rist_args rist;
	memset(&cfg, 0, sizeof(cfg));
	memset(&rist, 0, sizeof(rist));
	braid_receiver_settings_default(&cfg.core);
	cfg.stats_interval_us = 1000000;
	cfg.live_view = true;
	braid_cli_load_config("recv", &braid_recv_help, &argc, &argv);
	parse_args(argc, argv, &cfg, psk, &rist);

	struct braid_loop *loop = braid_loop_new();
	if (!loop) {
		fprintf(stderr, "braid recv: cannot create the event loop\n");
		return 1;
	}
	static const int signals[] = { SIGINT, SIGTERM, 0 };
	braid_loop_watch_signals(loop, signals, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (rist.on) {
		int rc = run_rist(loop, &cfg, &rist);
		braid_loop_free(loop);
		return rc;
	}
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
