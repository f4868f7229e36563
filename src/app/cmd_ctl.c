/* braid ctl: a human client of braidd's gRPC API (docs/braidd.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "ctl/grpc.h"

#define CTL_TIMEOUT_MS 10000

const struct braid_help braid_ctl_help = {
	.program = "braid ctl",
	.page = "braid-ctl",
	.section = 1,
	.summary = "control a braidd gateway: list, show, create, destroy, watch",
	.synopsis = (const char *const[]){
		"[--server ADDR:PORT] [--token-file FILE] [--tls-ca FILE] COMMAND [ARGUMENTS]",
		NULL },
	.description = (const char *const[]){
		"A client of braidd's gRPC API (docs/braidd.md): it lists, shows, creates and "
		"destroys the gateway's sessions, and follows their events.",
		NULL },
	.commands = (const struct braid_help_item[]){
		{ "list", "[--kind KIND] [--state STATE]", "one line per session" },
		{ "show", "ID", "one session's settings and counters" },
		{ "create", "rtp_proxy|bond_receive [OPTIONS]", "start a session; prints its id "
		  "and the address it listens on" },
		{ "destroy", "ID", "stop a session" },
		{ "watch", "[ID] [--interval MS]", "events as they come, and STATS lines every "
		  "interval" },
		{ NULL, NULL, NULL } },
	.options = (const struct braid_help_item[]){
		{ NULL, NULL, "before the command" },
		{ "--server", "ADDR:PORT", "braidd's API (default 127.0.0.1:50051)" },
		{ "--token-file", "FILE", "the bearer token braidd asks for" },
		{ "--tls-ca", "FILE", "the certificate to trust: speak TLS" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, "list" },
		{ "--kind", "bond_receive|rtp_proxy", "only sessions of this kind" },
		{ "--state", "created|connecting|active|error|closed", "only sessions in this "
		  "state" },
		{ NULL, NULL, "create rtp_proxy" },
		{ "--destination", "ADDR:PORT", "where the RTP goes (required)" },
		{ "--listen", "[ADDR]:PORT", "where it arrives (default: any port)" },
		{ "--forward", "ADDR[:PORT]", "the local address to send from (and its port)" },
		{ "--forward-interface", "IF", "the interface to send on" },
		{ "--listen-interface", "IF", "the interface to receive on" },
		{ "--rtcp", NULL, "relay RTCP too, on port + 1 of each endpoint" },
		{ "--tcp", NULL, "both legs are TCP, each packet framed as RFC 4571 says" },
		{ "--max-packet-rate", "N", "drop the source's RTP beyond N packets a second" },
		{ "--max-bitrate", "BPS", "drop the source's RTP beyond BPS bits a second" },
		{ "--idle-timeout", "MS", "close the session after this long without traffic "
		  "(also for bond_receive)" },
		{ NULL, NULL, "create bond_receive" },
		{ "--output", "udp://ADDR:PORT|file://PATH", "where the merged stream goes "
		  "(required; files only below braidd's output_dir)" },
		{ "--latency", "MS", "the latency budget; senders must use the same" },
		{ "--psk", "FILE", "a file holding the pre-shared key" },
		{ NULL, NULL, "watch" },
		{ "--interval", "MS", "how often STATS lines come (default 1000 ms)" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Durations: a whole number of ms.",
		"Exit status: 0 done, 1 the server refused (its status and message are printed), "
		"2 bad argument.",
		NULL },
	.see_also = "braid(1), braidd(8)",
};

struct ctl_args {
	const char *server, *token_file, *ca_file;
	int argc;
	char **argv; /* the command and its arguments */
};

static char *read_text(const char *option, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(65537);
	size_t len = f && buf ? fread(buf, 1, 65536, f) : 0;
	if (f)
		fclose(f);
	if (!f || !buf || !len) {
		free(buf);
		braid_cli_usage_error("ctl", "%s: cannot read '%s'", option, path);
	}
	buf[len] = '\0';
	return buf;
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT", "ADDR" (port_required false): no name lookups, as
 * braidd does none either. */
static void parse_endpoint(const char *option, const char *text, bool port_required,
			   struct ctl_endpoint *ep)
{
	const char *colon = text[0] == '[' ? strstr(text, "]:") : strrchr(text, ':');
	size_t host_len = colon ? (size_t)(colon - text) + (text[0] == '[') : strlen(text);
	uint64_t port = 0;
	if (colon && strchr(colon + 1 + (text[0] == '['), ':'))
		colon = NULL;
	if ((port_required && !colon) || host_len >= sizeof(ep->address) ||
	    (colon && !braid_cli_parse_uint(colon + 1 + (text[0] == '['), 0, 65535, &port)))
		braid_cli_usage_error("ctl", "%s: '%s' is not ADDR:PORT", option, text);
	memcpy(ep->address, text, host_len);
	ep->address[host_len] = '\0';
	ep->port = (uint32_t)port;
}

static uint64_t number(const char *option, const char *text)
{
	uint64_t v;
	if (!braid_cli_parse_uint(text, 0, UINT64_C(1) << 62, &v))
		braid_cli_usage_error("ctl", "%s: '%s' is not a whole number", option, text);
	return v;
}

static void interface_name(const char *option, const char *text, char *out, size_t cap)
{
	if (strlen(text) >= cap)
		braid_cli_usage_error("ctl", "%s: '%s' is too long", option, text);
	strcpy(out, text);
}

static bool parse_create_option(int argc, char **argv, int *i, struct ctl_spec *spec)
{
	const char *v;
	if (strcmp(argv[*i], "--rtcp") == 0) {
		spec->rtcp = true;
	} else if (strcmp(argv[*i], "--tcp") == 0) {
		spec->transport = CTL_TRANSPORT_TCP; /* RFC 4571 framing on both legs */
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--listen"))) {
		parse_endpoint("--listen", v, true, &spec->listen);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--destination"))) {
		parse_endpoint("--destination", v, true, &spec->destination);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--forward"))) {
		parse_endpoint("--forward", v, false, &spec->forward);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--listen-interface"))) {
		interface_name("--listen-interface", v, spec->listen.interface,
			       sizeof(spec->listen.interface));
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--forward-interface"))) {
		interface_name("--forward-interface", v, spec->forward.interface,
			       sizeof(spec->forward.interface));
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--max-packet-rate"))) {
		spec->max_packet_rate = number("--max-packet-rate", v);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--max-bitrate"))) {
		spec->max_bitrate = number("--max-bitrate", v);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--idle-timeout"))) {
		spec->idle_timeout_ms = number("--idle-timeout", v);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--latency"))) {
		spec->latency_ms = number("--latency", v);
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--output"))) {
		interface_name("--output", v, spec->output, sizeof(spec->output));
	} else if ((v = braid_cli_option("ctl", argc, argv, i, "--psk"))) {
		char err[256];
		if (!braid_cli_read_psk(v, spec->psk, &spec->psk_len, err, sizeof(err)))
			braid_cli_usage_error("ctl", "--psk: %s", err);
	} else {
		return false;
	}
	return true;
}

static void print_endpoint(const char *label, const struct ctl_endpoint *ep)
{
	if (!ep->address[0] && !ep->port && !ep->interface[0])
		return;
	printf("  %-12s %s%s%s:%u%s%s\n", label, strchr(ep->address, ':') ? "[" : "",
	       ep->address[0] ? ep->address : "*", strchr(ep->address, ':') ? "]" : "", ep->port,
	       ep->interface[0] ? " dev " : "", ep->interface);
}

static void print_summary(void *arg, const struct ctl_status *st)
{
	(void)arg;
	printf("%-16s  %-12s  %-10s  :%-5u  %10llu in  %10llu out  %6llu lost%s%s\n", st->id,
	       ctl_kind_name(st->kind), ctl_state_name(st->state), st->listen.port,
	       (unsigned long long)st->stats.packets_received,
	       (unsigned long long)st->stats.packets_sent,
	       (unsigned long long)st->stats.packets_lost, st->error[0] ? "  " : "", st->error);
}

static void print_status(const struct ctl_status *st)
{
	const struct ctl_stats *s = &st->stats;
	printf("session %s\n  kind         %s\n  state        %s%s%s\n", st->id,
	       ctl_kind_name(st->kind), ctl_state_name(st->state), st->error[0] ? ": " : "",
	       st->error);
	print_endpoint("listen", &st->listen);
	print_endpoint("forward", &st->spec.forward);
	print_endpoint("destination", &st->spec.destination);
	if (st->spec.output[0])
		printf("  output       %s\n", st->spec.output);
	printf("  packets      %llu received, %llu sent, %llu lost, %llu invalid, %llu over the "
	       "rate limits\n  bytes        %llu received, %llu sent\n"
	       "  jitter       %.3f ms\n  latency      %.3f ms\n  rtt          %.3f ms\n",
	       (unsigned long long)s->packets_received, (unsigned long long)s->packets_sent,
	       (unsigned long long)s->packets_lost, (unsigned long long)s->packets_invalid,
	       (unsigned long long)s->packets_rate_limited, (unsigned long long)s->bytes_received,
	       (unsigned long long)s->bytes_sent, s->jitter_ms, s->latency_ms, s->rtt_ms);
	for (size_t i = 0; i < st->link_count; i++) {
		const struct ctl_link_status *l = &st->links[i];
		printf("  link %08x/%-8s %-8s %llu packets, loss %.3f, jitter %.3f ms\n", l->session,
		       l->name, l->state, (unsigned long long)l->packets_received, l->loss,
		       l->jitter_ms);
	}
}

static bool print_event(void *arg, enum ctl_event_type type, const struct ctl_status *st)
{
	(void)arg;
	printf("%-13s ", ctl_event_name(type));
	print_summary(NULL, st);
	fflush(stdout);
	return true;
}

static int run_create(struct ctl_grpc_client *c, int argc, char **argv, char *err, size_t len)
{
	static struct ctl_spec spec;
	struct ctl_status *out = calloc(1, sizeof(*out));
	if (argc < 2 || !ctl_kind_parse(argv[1], &spec.kind) || spec.kind == CTL_KIND_ANY)
		braid_cli_usage_error("ctl", "create: say rtp_proxy or bond_receive");
	for (int i = 2; i < argc; i++)
		if (!parse_create_option(argc, argv, &i, &spec))
			braid_cli_usage_error("ctl", "create: unknown argument '%s'", argv[i]);
	int status = out ? ctl_grpc_client_create(c, &spec, out, err, len) : CTL_GRPC_INTERNAL;
	if (status == CTL_GRPC_OK)
		printf("%s listening on %s:%u\n", out->id, out->listen.address, out->listen.port);
	free(out);
	return status;
}

static int run_list(struct ctl_grpc_client *c, int argc, char **argv, char *err, size_t len)
{
	enum ctl_kind kind = CTL_KIND_ANY;
	enum ctl_state state = CTL_STATE_ANY;
	const char *v;
	for (int i = 1; i < argc; i++) {
		if ((v = braid_cli_option("ctl", argc, argv, &i, "--kind"))) {
			if (!ctl_kind_parse(v, &kind))
				braid_cli_usage_error("ctl", "--kind: '%s' is no kind", v);
		} else if ((v = braid_cli_option("ctl", argc, argv, &i, "--state"))) {
			if (!ctl_state_parse(v, &state))
				braid_cli_usage_error("ctl", "--state: '%s' is no state", v);
		} else {
			braid_cli_usage_error("ctl", "list: unknown argument '%s'", argv[i]);
		}
	}
	return ctl_grpc_client_list(c, kind, state, print_summary, NULL, err, len);
}

static int run_watch(struct ctl_grpc_client *c, int argc, char **argv, char *err, size_t len)
{
	const char *id = NULL, *v;
	uint64_t interval = 1000;
	for (int i = 1; i < argc; i++) {
		if ((v = braid_cli_option("ctl", argc, argv, &i, "--interval")))
			interval = number("--interval", v);
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			braid_cli_usage_error("ctl", "watch: unknown argument '%s'", argv[i]);
	}
	return ctl_grpc_client_watch(c, id, interval, print_event, NULL, err, len);
}

static int run_command(struct ctl_grpc_client *c, int argc, char **argv, char *err, size_t len)
{
	const char *cmd = argv[0];
	static struct ctl_status st;
	if (strcmp(cmd, "list") == 0)
		return run_list(c, argc, argv, err, len);
	if (strcmp(cmd, "create") == 0)
		return run_create(c, argc, argv, err, len);
	if (strcmp(cmd, "watch") == 0)
		return run_watch(c, argc, argv, err, len);
	if ((strcmp(cmd, "show") == 0 || strcmp(cmd, "destroy") == 0) && argc != 2)
		braid_cli_usage_error("ctl", "%s takes one session id", cmd);
	if (strcmp(cmd, "show") == 0) {
		int status = ctl_grpc_client_status(c, argv[1], &st, err, len);
		if (status == CTL_GRPC_OK)
			print_status(&st);
		return status;
	}
	if (strcmp(cmd, "destroy") == 0) {
		int status = ctl_grpc_client_destroy(c, argv[1], err, len);
		if (status == CTL_GRPC_OK)
			printf("%s destroyed\n", argv[1]);
		return status;
	}
	braid_cli_usage_error("ctl", "unknown command '%s' (see --help)", cmd);
}

static void parse_args(int argc, char **argv, struct ctl_args *a)
{
	const char *v;
	int i;
	a->server = "127.0.0.1:50051";
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_ctl_help);
			exit(0);
		} else if ((v = braid_cli_option("ctl", argc, argv, &i, "--server"))) {
			a->server = v;
		} else if ((v = braid_cli_option("ctl", argc, argv, &i, "--token-file"))) {
			a->token_file = v;
		} else if ((v = braid_cli_option("ctl", argc, argv, &i, "--tls-ca"))) {
			a->ca_file = v;
		} else {
			braid_cli_usage_error("ctl", "unknown argument '%s' (see --help)", argv[i]);
		}
	}
	if (i >= argc)
		braid_cli_usage_error("ctl", "a command is required: list, show, create, destroy, "
				      "watch");
	a->argc = argc - i;
	a->argv = argv + i;
}

int braid_cmd_ctl(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	char err[512] = "";
	parse_args(argc, argv, &a);
	char *token = a.token_file ? read_text("--token-file", a.token_file) : NULL;
	char *ca = a.ca_file ? read_text("--tls-ca", a.ca_file) : NULL;
	if (token)
		token[strcspn(token, "\r\n")] = '\0';
	struct ctl_grpc_client *c = ctl_grpc_client_open(a.server, token, ca, CTL_TIMEOUT_MS);
	int status = c ? run_command(c, a.argc, a.argv, err, sizeof(err)) : CTL_GRPC_INTERNAL;
	ctl_grpc_client_close(c);
	free(token);
	free(ca);
	if (status == CTL_GRPC_OK)
		return 0;
	fprintf(stderr, "braid ctl: %s: %s\n", ctl_grpc_status_name(status),
		err[0] ? err : "no answer");
	return 1;
}
