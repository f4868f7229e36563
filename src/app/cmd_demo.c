/* braid demo: bonding on loopback in half a minute, no root, no setup.
 *
 * In one process: a test stream (an encoder stand-in), `braid send` with three links, each
 * through an emulated network path (a clean one, a lossy one, one that dies for several
 * seconds and comes back), `braid recv`, and a sink that checks every packet arrives once,
 * in order. The live per-link view shows what happens; a summary closes it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "emu/relay.h"
#include "scenario/files.h"
#include "io/udp.h"
#include "cli.h"
#include "commands.h"
#include "report.h"
#include "demo_stream.h"
#include "recv_node.h"
#include "send_node.h"

#define DEMO_LINKS 3
#define DEMO_BITRATE 4000000

struct demo {
	struct braid_loop *loop;
	struct braid_emu_relay *relays[DEMO_LINKS];
	struct braid_send_node *sender;
	struct braid_recv_node *receiver;
	struct braid_demo_stream stream;
	struct braid_timer view_timer, stop_timer, end_timer;
	uint64_t start_us, duration_us, outage_start_us, outage_us;
	uint64_t down_detected_us; /* when the sender saw the dying link go down */
	unsigned failovers, link_downs, link_ups;
	bool went_down[DEMO_LINKS];
	unsigned view_lines, view_ticks;
	double link_mbps[DEMO_LINKS];
	uint64_t link_bytes[DEMO_LINKS], sampled_us;
	bool tty;
};

const struct braid_help braid_demo_help = {
	.program = "braid demo",
	.page = "braid-demo",
	.section = 1,
	.summary = "show bonding on loopback, no setup",
	.synopsis = (const char *const[]){
		"[--duration S] [--mode adaptive|broadcast|roundrobin|weighted|backup]", NULL },
	.description = (const char *const[]){
		"Streams 4 Mbit/s of test video for S seconds (default 24) over three emulated "
		"links on loopback, none of which could carry it alone: 'clean' (3 Mbit/s), "
		"'lossy' (3 Mbit/s, 5 % loss, jitter) and 'flaky' (2.5 Mbit/s, dies for a "
		"quarter of the time). Needs no root and no setup; a live view shows each link, "
		"a summary closes the run.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--duration", "S", "how long the stream lasts, 5 s to 1 h (default 24 s)" },
		{ "--mode", "adaptive|broadcast|roundrobin|weighted|backup", "how the sender spreads packets "
		  "(default adaptive); try broadcast to see why it matters" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Durations: a whole number in s, or with a unit: 90s, 30000ms.",
		"Exit status: 0 when every packet arrived once and in order, 1 when the stream "
		"was damaged or something failed at run time, 2 bad argument.",
		NULL },
	.see_also = "braid(1), braid-send(1), braid-recv(1), braid-emu(1)",
};

/* Moves back over the live view so what is printed next replaces it. */
static void erase_view(struct demo *d)
{
	for (unsigned i = 0; i < d->view_lines; i++)
		fputs("\033[1A\033[2K", stdout);
	d->view_lines = 0;
}

static void draw_view(struct demo *d)
{
	struct braid_link_stats links[DEMO_LINKS];
	size_t n = braid_sender_get_link_stats(braid_send_node_sender(d->sender), links, DEMO_LINKS);
	if (n > DEMO_LINKS)
		n = DEMO_LINKS;
	erase_view(d);
	char t[BRAID_ELAPSED_MAX];
	printf("  %9s  link    state     rtt       loss    sent\n",
	       braid_report_elapsed(braid_loop_now(d->loop) - d->start_us, t));
	for (size_t i = 0; i < n; i++) {
		static const char *colour[] = { "\033[31m", "\033[33m", "\033[32m" };
		printf("             %-6s  %s%-8s%s  %5.1f ms  %5.1f %%  %5.2f Mbit/s\n", links[i].name,
		       d->tty ? colour[links[i].state] : "", braid_link_state_name(links[i].state),
		       d->tty ? "\033[0m" : "", links[i].rtt_ms, links[i].loss * 100,
		       d->link_mbps[i]);
	}
	struct braid_demo_stream_stats st;
	braid_demo_stream_get_stats(&d->stream, &st);
	printf("             output: %llu of %llu packets (%llu inside the 1 s budget), %llu lost, "
	       "%llu out of order\n", (unsigned long long)st.received, (unsigned long long)st.sent,
	       (unsigned long long)(st.sent - st.received - st.skipped),
	       (unsigned long long)st.skipped, (unsigned long long)st.disordered);
	d->view_lines = d->tty ? (unsigned)n + 2 : 0;
	fflush(stdout);
}

/* Bitrates per link over the last view interval. */
static void sample_rates(struct demo *d)
{
	struct braid_link_stats links[DEMO_LINKS];
	size_t n = braid_sender_get_link_stats(braid_send_node_sender(d->sender), links, DEMO_LINKS);
	uint64_t now = braid_loop_now(d->loop);
	double secs = d->sampled_us ? (double)(now - d->sampled_us) / 1e6 : 0;
	for (size_t i = 0; i < n && i < DEMO_LINKS; i++) {
		uint64_t bytes = links[i].bytes_sent;
		d->link_mbps[i] = secs > 0 ? (double)(bytes - d->link_bytes[i]) * 8 / secs / 1e6 : 0;
		d->link_bytes[i] = bytes;
	}
	d->sampled_us = now;
}

static void on_event(void *arg, const struct braid_event *ev, const char *link_name)
{
	struct demo *d = arg;
	char t[BRAID_ELAPSED_MAX];
	braid_report_elapsed(ev->time_us - d->start_us, t);
	bool known = ev->link_id < DEMO_LINKS;
	if (ev->kind == BRAID_EVENT_LINK_STATE && ev->new_state == BRAID_LINK_DOWN) {
		d->link_downs++;
		if (known)
			d->went_down[ev->link_id] = true;
		if (!d->down_detected_us && ev->time_us >= d->outage_start_us)
			d->down_detected_us = ev->time_us;
	} else if (ev->kind == BRAID_EVENT_LINK_STATE && ev->old_state == BRAID_LINK_DOWN && known &&
		   d->went_down[ev->link_id]) {
		d->link_ups++;
	} else if (ev->kind == BRAID_EVENT_FAILOVER && ev->count > 0) {
		d->failovers++;
	} else if (ev->kind != BRAID_EVENT_LINK_STATE) {
		return;
	}
	/* Events scroll above the live view, which is drawn again below them. */
	bool had_view = d->view_lines > 0;
	erase_view(d);
	const char *name = link_name ? link_name : "?";
	if (ev->kind == BRAID_EVENT_LINK_STATE)
		printf("%s  %9s  link %-6s %s -> %s%s\n", d->tty ? "\033[1m" : "", t, name,
		       braid_link_state_name(ev->old_state), braid_link_state_name(ev->new_state),
		       d->tty ? "\033[0m" : "");
	else
		printf("%s  %9s  link %-6s failed over: %llu %s resent on the others%s\n",
		       d->tty ? "\033[1m" : "", t, name, (unsigned long long)ev->count,
		       braid_report_plural(ev->count, "packet", "packets"), d->tty ? "\033[0m" : "");
	if (had_view)
		draw_view(d);
	fflush(stdout);
}

/* The sender already tells the links' story; the gateway's own view of them would only
 * repeat it. */
static void on_receiver_event(void *arg, const struct braid_event *ev, const char *link_name)
{
	(void)arg;
	(void)ev;
	(void)link_name;
}

static void on_view_timer(struct braid_loop *loop, void *arg)
{
	struct demo *d = arg;
	/* on a terminal the view is redrawn in place 4 times a second; in a log, every 2 s */
	uint64_t interval = d->tty ? 250000 : 2000000;
	if (!d->tty || ++d->view_ticks % 4 == 0)
		sample_rates(d);
	draw_view(d);
	braid_timer_start(loop, &d->view_timer, braid_loop_now(loop) + interval);
}

static void on_stop_stream(struct braid_loop *loop, void *arg)
{
	struct demo *d = arg;
	braid_demo_stream_stop(&d->stream);
	/* The tail of the stream is still inside the latency budget: wait for it. */
	braid_timer_start(loop, &d->end_timer, braid_loop_now(loop) + 1500000);
}

static void on_end(struct braid_loop *loop, void *arg)
{
	(void)arg;
	braid_loop_stop(loop);
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	braid_loop_stop(loop);
}

static void parse_args(int argc, char **argv, uint64_t *duration_us, int *mode)
{
	const char *v;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_demo_help);
			exit(0);
		} else if ((v = braid_cli_option("demo", argc, argv, &i, "--duration"))) {
			*duration_us = braid_cli_duration("demo", "--duration", v, BRAID_CLI_S,
							  5000000, 3600000000u);
		} else if ((v = braid_cli_option("demo", argc, argv, &i, "--mode"))) {
			*mode = braid_mode_parse(v);
			if (*mode < 0)
				braid_cli_usage_error("demo", "--mode: unknown mode '%s' "
						      "(adaptive, broadcast, roundrobin, weighted, backup)", v);
		} else {
			braid_cli_usage_error("demo", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
}

static int open_relays(struct demo *d, const struct braid_addr *gateway, char *err, size_t len)
{
	char gw[64];
	braid_addr_format(gateway, gw, sizeof(gw));
	/* start the flaky link's outage a quarter into the stream, for a quarter of it */
	unsigned outage_at = (unsigned)(d->outage_start_us - d->start_us) / 1000;
	unsigned outage_for = (unsigned)(d->outage_us / 1000);
	char specs[DEMO_LINKS][256];
	snprintf(specs[0], sizeof(specs[0]),
		 "name=clean,listen=127.0.0.1:0,to=%s,delay=15ms,rate=3mbit,queue=300ms", gw);
	snprintf(specs[1], sizeof(specs[1]),
		 "name=lossy,listen=127.0.0.1:0,to=%s,delay=40ms,jitter=5ms,loss=5%%,rate=3mbit,"
		 "queue=300ms", gw);
	snprintf(specs[2], sizeof(specs[2]),
		 "name=flaky,listen=127.0.0.1:0,to=%s,delay=25ms,rate=2500kbit,queue=300ms,"
		 "outage=%ums+%ums", gw,
		 outage_at, outage_for);
	for (int i = 0; i < DEMO_LINKS; i++) {
		struct braid_emu_link_config cfg;
		if (braid_emu_parse_link(specs[i], (unsigned)i, &cfg, err, len) < 0)
			return -1;
		d->relays[i] = braid_emu_relay_open(d->loop, &cfg, err, len);
		if (!d->relays[i])
			return -1;
	}
	return 0;
}

static int open_nodes(struct demo *d, int mode, char *err, size_t len)
{
	static struct braid_recv_config rc;
	memset(&rc, 0, sizeof(rc));
	braid_receiver_settings_default(&rc.core);
	braid_addr_parse("127.0.0.1:0", 1, &rc.listen);
	rc.output = BRAID_OUTPUT_UDP;
	rc.output_addr = d->stream.sink_addr;
	rc.on_event = on_receiver_event;
	rc.event_arg = d;
	d->receiver = braid_recv_node_open(d->loop, &rc, err, len);
	if (!d->receiver)
		return -1;
	struct braid_addr gateway;
	braid_recv_node_listen_addr(d->receiver, &gateway);
	braid_addr_parse_host("127.0.0.1", braid_addr_port(&gateway), &gateway);
	if (open_relays(d, &gateway, err, len) < 0)
		return -1;

	static struct braid_send_config sc;
	memset(&sc, 0, sizeof(sc));
	braid_sender_settings_default(&sc.core);
	sc.core.mode = (enum braid_mode)mode;
	braid_addr_parse("127.0.0.1:0", 1, &sc.input);
	sc.to = gateway;
	for (int i = 0; i < DEMO_LINKS; i++) {
		struct braid_link_spec *l = &sc.links[sc.link_count++];
		memset(l, 0, sizeof(*l));
		strcpy(l->name, braid_emu_relay_name(d->relays[i]));
		l->weight = 1;
		l->priority = (uint32_t)i;
		braid_emu_relay_listen_addr(d->relays[i], &l->to);
		braid_addr_parse_host("127.0.0.1", braid_addr_port(&l->to), &l->to);
	}
	sc.on_event = on_event;
	sc.event_arg = d;
	d->sender = braid_send_node_open(d->loop, &sc, err, len);
	if (!d->sender)
		return -1;
	struct braid_addr input;
	braid_send_node_input_addr(d->sender, &input);
	braid_addr_parse_host("127.0.0.1", braid_addr_port(&input), &input);
	return braid_demo_stream_start(&d->stream, &input);
}

static void close_all(struct demo *d)
{
	braid_send_node_close(d->sender);
	if (d->receiver)
		braid_recv_node_flush(d->receiver);
	braid_demo_stream_close(&d->stream);
	braid_recv_node_close(d->receiver);
	for (int i = 0; i < DEMO_LINKS; i++)
		if (d->relays[i])
			braid_emu_relay_close(d->relays[i]);
}

static int summary(struct demo *d)
{
	struct braid_demo_stream_stats st;
	braid_demo_stream_get_stats(&d->stream, &st);
	struct braid_receiver_stats rs;
	braid_receiver_get_stats(braid_recv_node_receiver(d->receiver), &rs);
	struct braid_sender_stats ss;
	braid_sender_get_stats(braid_send_node_sender(d->sender), &ss);
	double loss = st.sent ? (double)st.missing / (double)st.sent : 0;
	printf("\nsummary\n");
	printf("  stream in      %llu packets, %.1f MB\n", (unsigned long long)st.sent,
	       (double)st.bytes_sent / 1e6);
	printf("  stream out     %llu packets, %.1f MB, %llu out of order, %llu corrupt\n",
	       (unsigned long long)st.received, (double)st.bytes_received / 1e6,
	       (unsigned long long)st.disordered, (unsigned long long)st.corrupt);
	printf("  residual loss  %llu packets (%.4f %%)\n", (unsigned long long)st.missing, loss * 100);
	printf("  on the links   %llu datagrams sent, %llu duplicates removed at the gateway\n",
	       (unsigned long long)ss.packets_out, (unsigned long long)rs.duplicates);
	printf("  link events    %u down, %u back up, %u %s\n", d->link_downs, d->link_ups,
	       d->failovers, braid_report_plural(d->failovers, "failover", "failovers"));
	if (d->down_detected_us)
		printf("  detection      the dead link was marked down %.0f ms after it died\n",
		       (double)(d->down_detected_us - d->outage_start_us) / 1e3);
	bool intact = st.missing == 0 && st.disordered == 0 && st.corrupt == 0 && st.received > 0;
	printf("  verdict        %s\n", intact ? "every packet arrived, once, in order"
					       : "the stream was damaged");
	return intact ? 0 : 1;
}

int braid_cmd_demo(int argc, char **argv)
{
	uint64_t duration = 24000000;
	int mode = BRAID_MODE_ADAPTIVE;
	parse_args(argc, argv, &duration, &mode);
	static struct demo d;
	memset(&d, 0, sizeof(d));
	d.tty = isatty(STDOUT_FILENO);
	d.loop = braid_loop_new();
	if (!d.loop)
		return 1;
	static const int signals[] = { SIGINT, SIGTERM, 0 };
	braid_loop_watch_signals(d.loop, signals, on_signal, NULL);
	d.start_us = braid_loop_now(d.loop);
	d.duration_us = duration;
	d.outage_start_us = d.start_us + duration / 4;
	d.outage_us = duration / 4;
	char err[256];
	printf("braid demo: 4 Mbit/s of test video over 3 emulated links for %.0f s (mode %s)\n"
	       "  clean: 3 Mbit/s, 15 ms   lossy: 3 Mbit/s, 40 ms, 5 %% loss   "
	       "flaky: 2.5 Mbit/s, 25 ms, dead from %.0f s to %.0f s\n\n", (double)duration / 1e6,
	       braid_mode_name(mode),
	       (double)duration / 4e6, (double)duration / 2e6);
	if (braid_demo_stream_open(&d.stream, d.loop, DEMO_BITRATE, err, sizeof(err)) < 0 ||
	    open_nodes(&d, mode, err, sizeof(err)) < 0) {
		fprintf(stderr, "braid demo: %s\n", err);
		close_all(&d);
		braid_loop_free(d.loop);
		return 1;
	}
	braid_timer_init(&d.view_timer, on_view_timer, &d);
	braid_timer_init(&d.stop_timer, on_stop_stream, &d);
	braid_timer_init(&d.end_timer, on_end, &d);
	braid_timer_start(d.loop, &d.view_timer, d.start_us + 250000);
	braid_timer_start(d.loop, &d.stop_timer, d.start_us + duration);
	braid_loop_run(d.loop);
	braid_timer_stop(d.loop, &d.view_timer);
	sample_rates(&d);
	draw_view(&d);
	int rc = summary(&d);
	close_all(&d);
	braid_loop_free(d.loop);
	return rc;
}
