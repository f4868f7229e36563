/* braid send: the field unit's side. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/udp.h"
#include "cli.h"
#include "commands.h"
#include "dash.h"
#include "report.h"
#include "send_node.h"

const struct braid_help braid_send_help = {
	.program = "braid send",
	.page = "braid-send",
	.section = 1,
	.summary = "spread a UDP stream over several links",
	.synopsis = (const char *const[]){
		"--input [udp://][ADDR]:PORT|- --to HOST:PORT --link SPEC [--link SPEC]... "
		"[--mode adaptive|broadcast|roundrobin|weighted|backup] [--latency MS] "
		"[--redundancy PCT] [--bitrate-out [udp://]HOST:PORT] [--psk FILE] "
		"[--stats FILE|-] [--stats-interval MS] [--http ADDR:PORT]",
		NULL },
	.description = (const char *const[]){
		"The field unit's side: takes an encoder's UDP stream and spreads its packets "
		"over several network links to a gateway running braid recv, which merges them.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--input", "[udp://][ADDR]:PORT|-", "where the encoder sends its UDP stream "
		  "(udp:// may be left out), or - for MPEG-TS on stdin" },
		{ "--to", "HOST:PORT", "the gateway running braid recv" },
		{ "--link", "SPEC", "a link: an interface name, a local address, or key=value "
		  "pairs separated by commas: name=, dev=IFACE (SO_BINDTODEVICE: Linux before "
		  "5.7 needs CAP_NET_RAW), addr=, to=HOST:PORT, weight=, priority=. Repeat for "
		  "each link" },
		{ "--mode", "adaptive|broadcast|roundrobin|weighted|backup", "how packets are spread (default "
		  "adaptive)" },
		{ "--latency", "MS", "the receiver's latency budget (default 1000 ms); the "
		  "gateway must use the same" },
		{ "--redundancy", "PCT", "adaptive mode: also send this share of packets on a "
		  "second link (0..100 %)" },
		{ "--bitrate-out", "[udp://]HOST:PORT", "once a second, a JSON object in a "
		  "datagram: available_bitrate (bit/s: what the live links have carried lately "
		  "less their loss and a tenth for resends), live_links and operational (true or "
		  "false), for an encoder to follow (examples/encoder-feedback)" },
		{ "--psk", "FILE", "a file holding the pre-shared key (the receiver needs the "
		  "same)" },
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
		"Exit status: 0 done (also on SIGINT/SIGTERM or at the end of stdin), 1 run-time "
		"failure, 2 bad argument.",
		NULL },
	.see_also = "braid(1), braid-recv(1), braid-demo(1)",
};

static void parse_mode(const char *value, struct braid_sender_settings *core)
{
	int mode = braid_mode_parse(value);
	if (mode < 0)
		braid_cli_usage_error("send", "--mode: unknown mode '%s' "
				      "(adaptive, broadcast, roundrobin, weighted, backup)", value);
	core->mode = (enum braid_mode)mode;
}

static void parse_psk(const char *cmd, const char *path, uint8_t *key, size_t *len)
{
	char err[256];
	if (!braid_cli_read_psk(path, key, len, err, sizeof(err)))
		braid_cli_usage_error(cmd, "--psk: %s", err);
}

/* --http: where the dashboard listens (len 0: no dashboard). */
static struct braid_addr http_listen;

static void parse_args(int argc, char **argv, struct braid_send_config *cfg, uint8_t *psk)
{
	const char *v;
	bool have_input = false, have_to = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_send_help);
			exit(0);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--input"))) {
			have_input = true;
			cfg->input_stdin = strcmp(v, "-") == 0;
			if (!cfg->input_stdin && !braid_cli_parse_udp_url(v, 1, &cfg->input))
				braid_cli_usage_error("send", "--input: '%s' is not [udp://][ADDR]:PORT or -", v);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--to"))) {
			have_to = braid_addr_parse(v, 0, &cfg->to) == 0;
			if (!have_to)
				braid_cli_usage_error("send", "--to: '%s' is not HOST:PORT", v);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--link"))) {
			char err[256];
			if (cfg->link_count == BRAID_MAX_LINKS)
				braid_cli_usage_error("send", "--link: at most %d links", BRAID_MAX_LINKS);
			if (!braid_cli_parse_link(v, (unsigned)cfg->link_count,
						  &cfg->links[cfg->link_count], err, sizeof(err)))
				braid_cli_usage_error("send", "--link '%s': %s", v, err);
			cfg->link_count++;
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--mode"))) {
			parse_mode(v, &cfg->core);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--latency"))) {
			cfg->core.latency_us = braid_cli_duration("send", "--latency", v, BRAID_CLI_MS,
								  20000, 60000000);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--redundancy"))) {
			char *end;
			double pct = strtod(v, &end);
			if (end == v || (*end && strcmp(end, "%") != 0) || !(pct >= 0 && pct <= 100))
				braid_cli_usage_error("send", "--redundancy: '%s' is not 0..100 %%", v);
			cfg->core.redundancy = pct / 100.0;
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--bitrate-out"))) {
			if (!braid_cli_parse_udp_url(v, 0, &cfg->bitrate_out))
				braid_cli_usage_error("send", "--bitrate-out: '%s' is not [udp://]HOST:PORT", v);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--psk"))) {
			parse_psk("send", v, psk, &cfg->core.psk_len);
			cfg->core.psk = psk;
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--http"))) {
			braid_dash_parse_listen("send", v, &http_listen);
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--stats"))) {
			cfg->stats_path = v;
		} else if ((v = braid_cli_option("send", argc, argv, &i, "--stats-interval"))) {
			cfg->stats_interval_us = braid_cli_duration("send", "--stats-interval", v,
								    BRAID_CLI_MS, 10000,
								    BRAID_CLI_MAX_INTERVAL_US);
		} else if (braid_cli_option("send", argc, argv, &i, "--config")) {
			continue; /* read before: braid_cli_load_config */
		} else {
			braid_cli_usage_error("send", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (!have_input)
		braid_cli_usage_error("send", "--input is required");
	if (cfg->link_count == 0)
		braid_cli_usage_error("send", "--link is required (at least one)");
	for (size_t i = 0; i < cfg->link_count; i++)
		if (!have_to && !cfg->links[i].to.len)
			braid_cli_usage_error("send", "--to is required (link %s has no to=)",
					      cfg->links[i].name);
	for (size_t i = 0; i < cfg->link_count; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->links[i].name, cfg->links[j].name) == 0)
				braid_cli_usage_error("send", "--link: name '%s' used twice",
						      cfg->links[i].name);
	if (cfg->stats_path)
		braid_cli_check_writable("send", "--stats", cfg->stats_path);
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	braid_loop_stop(loop);
}

#define WATCH_INTERVAL_US 500000
#define SILENCE_WARNING_US 3000000

/* Says in one line why no link comes up, which the links' states alone do not tell. */
struct send_watch {
	struct braid_send_node *node;
	struct braid_timer timer;
	uint64_t last_answer_us;   /* when a link was last live (or the start) */
	bool silence_said;
	uint64_t latency_us;       /* ours */
	uint64_t refusal_said_us;  /* the gateway's budget last said, 0 = none */
	char to[64];
};

static void on_watch(struct braid_loop *loop, void *arg)
{
	struct send_watch *w = arg;
	uint64_t now = braid_loop_now(loop);
	struct braid_sender_stats st;
	braid_sender_get_stats(braid_send_node_sender(w->node), &st);
	if (st.refused_latency_us && st.refused_latency_us != w->refusal_said_us) {
		fprintf(stderr, "braid send: the gateway refuses this stream: its latency budget "
			"is %llu ms, this sender's %llu ms; give both ends the same --latency\n",
			(unsigned long long)(st.refused_latency_us / 1000),
			(unsigned long long)(w->latency_us / 1000));
		w->refusal_said_us = st.refused_latency_us;
	}
	if (st.live_links) {
		w->last_answer_us = now;
		w->silence_said = false;
	} else if (!w->silence_said && !w->refusal_said_us &&
		   now - w->last_answer_us >= SILENCE_WARNING_US) {
		fprintf(stderr, "braid send: no answer from the gateway %s on any link for %llu s: "
			"it is not running or not reachable (address, port, firewall), or its "
			"--psk key does not match this one\n", w->to,
			(unsigned long long)((now - w->last_answer_us) / 1000000));
		w->silence_said = true;
	}
	braid_timer_start(loop, &w->timer, now + WATCH_INTERVAL_US);
}

int braid_cmd_send(int argc, char **argv)
{
	static struct braid_send_config cfg;
	static uint8_t psk[BRAID_PSK_MAX + 1];
	memset(&cfg, 0, sizeof(cfg));
	braid_sender_settings_default(&cfg.core);
	cfg.stats_interval_us = 1000000;
	cfg.live_view = true;
	braid_cli_load_config("send", &braid_send_help, &argc, &argv);
	parse_args(argc, argv, &cfg, psk);

	struct braid_loop *loop = braid_loop_new();
	if (!loop) {
		fprintf(stderr, "braid send: cannot create the event loop\n");
		return 1;
	}
	static const int signals[] = { SIGINT, SIGTERM, 0 };
	braid_loop_watch_signals(loop, signals, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct braid_dash *dash = NULL;
	if (http_listen.len && !(dash = braid_dash_open(loop, &http_listen, "send",
						       &cfg.stats_tap, &cfg.stats_tap_arg))) {
		braid_loop_free(loop);
		return 1;
	}
	char err[256];
	struct braid_send_node *node = braid_send_node_open(loop, &cfg, err, sizeof(err));
	if (!node) {
		fprintf(stderr, "braid send: %s\n", err);
		braid_dash_stop(dash);
		braid_loop_free(loop);
		return 1;
	}
	braid_dash_watch_sender(dash, braid_send_node_sender(node));
	struct braid_addr bound;
	char a[64];
	if (braid_send_node_input_addr(node, &bound) == 0)
		fprintf(stderr, "braid send: input on %s, %zu %s, mode %s\n",
			braid_addr_format(&bound, a, sizeof(a)), cfg.link_count,
			braid_report_plural(cfg.link_count, "link", "links"),
			braid_mode_name(cfg.core.mode));
	static struct send_watch watch;
	watch = (struct send_watch){ .node = node, .latency_us = cfg.core.latency_us,
				     .last_answer_us = braid_loop_now(loop) };
	if (cfg.to.len)
		braid_addr_format(&cfg.to, watch.to, sizeof(watch.to));
	else
		snprintf(watch.to, sizeof(watch.to), "(each link's to=)");
	braid_timer_init(&watch.timer, on_watch, &watch);
	braid_timer_start(loop, &watch.timer, braid_loop_now(loop) + WATCH_INTERVAL_US);
	int rc = braid_loop_run(loop);
	braid_timer_stop(loop, &watch.timer);
	braid_send_node_report(node, true);
	braid_dash_stop(dash);
	braid_send_node_close(node);
	braid_loop_free(loop);
	return rc < 0 ? 1 : 0;
}
