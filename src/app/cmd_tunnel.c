/* braid tunnel: any IP traffic over a bonded session, between two TUN devices. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/udp.h"
#include "cli.h"
#include "commands.h"
#include "tunnel.h"

const struct braid_help braid_tunnel_help = {
	.program = "braid tunnel",
	.page = "braid-tunnel",
	.section = 1,
	.summary = "carry IP traffic over bonded links between two TUN devices",
	.synopsis = (const char *const[]){
		"--role gateway --listen [ADDR]:PORT --tun NAME --address CIDR [--address CIDR] "
		"[--psk FILE] [--latency MS] [--fast-latency MS|off] [--media-ports LIST] "
		"[--media-dscp LIST] [--mtu BYTES] [--stats FILE|-]",
		"--role field --to HOST:PORT --link SPEC [--link SPEC]... --tun NAME "
		"--address CIDR [--address CIDR] [--psk FILE] [--latency MS] "
		"[--mode adaptive|broadcast|roundrobin|weighted|backup] [--fast-latency MS|off] "
		"[--media-ports LIST] [--media-dscp LIST] [--mtu BYTES] [--stats FILE|-]",
		NULL },
	.description = (const char *const[]){
		"Makes a TUN device, addresses it and brings it up over rtnetlink, and carries "
		"the IP packets routed into it to the other end's TUN over a bonded session: the "
		"field unit spreads them over its links as braid send does, the gateway merges, "
		"repairs and releases them as braid recv does. Media (UDP, or as --media-ports "
		"and --media-dscp say) is released in order at the --latency budget; the rest "
		"(TCP, which reorders itself) takes a second session with the short "
		"--fast-latency budget. The gateway's packets for the field travel on the "
		"sessions' reverse channels. The device is removed on exit. "
		"docs/tunnel.md has the design, the MTU and routing recipes.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--role", "gateway|field", "which end this is" },
		{ "--listen", "[ADDR]:PORT", "gateway: where field units send" },
		{ "--to", "HOST:PORT", "field: the gateway" },
		{ "--link", "SPEC", "field: a link, as braid send's --link; repeat for each" },
		{ "--tun", "NAME", "the TUN device to make (at most 15 characters)" },
		{ "--address", "CIDR", "an address of the TUN device with its prefix, IPv4 or "
		  "IPv6 (10.99.0.1/24, fd99::1/64); up to 4" },
		{ "--mode", "adaptive|broadcast|roundrobin|weighted|backup", "field: how "
		  "packets are spread (default adaptive)" },
		{ "--latency", "MS", "the latency budget of media (default 500 ms); both ends "
		  "must use the same" },
		{ "--fast-latency", "MS|off", "the latency budget of the fast class: TCP and "
		  "all but media, carried by a second session on the next port (default 50 "
		  "ms); off: one session for all at --latency. Both ends the same" },
		{ "--media-ports", "LIST", "UDP ports (either end, comma-separated, up to 16) "
		  "whose packets are media, the class with the full --latency (default: all "
		  "UDP)" },
		{ "--media-dscp", "LIST", "DSCP values (0..63, comma-separated) that make any "
		  "packet media (default none; 46 is EF)" },
		{ "--mtu", "BYTES", "the TUN device's MTU (default: the links' path MTU minus "
		  "braid's overhead)" },
		{ "--psk", "FILE", "a file holding the pre-shared key (both ends the same)" },
		{ "--stats", "FILE|-", "JSON lines of statistics to a file or - for stdout" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Needs CAP_NET_ADMIN (root) for the TUN device.",
		"Exit status: 0 done (on SIGINT, SIGTERM or SIGHUP), 1 run-time failure, 2 bad "
		"argument.",
		NULL },
	.see_also = "braid(1), braid-send(1), braid-recv(1)",
};

#define CMD "tunnel"

/* "10.99.0.1/24" or "fd99::1/64". */
static void parse_cidr(const char *text, struct braid_tun_addr *out)
{
	char host[64];
	const char *slash = strchr(text, '/');
	uint64_t prefix;
	size_t len = slash ? (size_t)(slash - text) : 0;
	if (!slash || len == 0 || len >= sizeof(host))
		braid_cli_usage_error(CMD, "--address: '%s' is not ADDRESS/PREFIX", text);
	memcpy(host, text, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &out->u.v4) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &out->u.v6) == 1)
		out->family = AF_INET6;
	else
		braid_cli_usage_error(CMD, "--address: '%s' is not an IPv4 or IPv6 address", host);
	unsigned max = out->family == AF_INET ? 32 : 128;
	if (!braid_cli_parse_uint(slash + 1, 1, max, &prefix))
		braid_cli_usage_error(CMD, "--address: prefix '%s' is not 1..%u", slash + 1, max);
	out->prefix_len = (unsigned)prefix;
}

static void parse_link(const char *v, struct braid_send_config *send)
{
	char err[256];
	if (send->link_count == BRAID_MAX_LINKS)
		braid_cli_usage_error(CMD, "--link: at most %d links", BRAID_MAX_LINKS);
	if (!braid_cli_parse_link(v, (unsigned)send->link_count, &send->links[send->link_count],
				  err, sizeof(err)))
		braid_cli_usage_error(CMD, "--link '%s': %s", v, err);
	send->link_count++;
}

static void parse_psk(const char *path, struct braid_tunnel_config *cfg)
{
	static uint8_t psk[BRAID_PSK_MAX + 1];
	char err[256];
	size_t len;
	if (!braid_cli_read_psk(path, psk, &len, err, sizeof(err)))
		braid_cli_usage_error(CMD, "--psk: %s", err);
	cfg->send.core.psk = cfg->recv.core.psk = psk;
	cfg->send.core.psk_len = cfg->recv.core.psk_len = len;
}

static void parse_role(const char *v, struct braid_tunnel_config *cfg)
{
	if (strcmp(v, "gateway") == 0)
		cfg->role = BRAID_TUNNEL_GATEWAY;
	else if (strcmp(v, "field") == 0)
		cfg->role = BRAID_TUNNEL_FIELD;
	else
		braid_cli_usage_error(CMD, "--role: '%s' is not gateway or field", v);
}

/* What was given, to check against the role once every argument is read. */
struct given {
	bool role, listen, to, mode;
};

static void parse_one(int argc, char **argv, int *i, struct braid_tunnel_config *cfg,
		      struct given *g)
{
	const char *v;
	uint64_t n;
	if ((v = braid_cli_option(CMD, argc, argv, i, "--role"))) {
		parse_role(v, cfg);
		g->role = true;
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--listen"))) {
		g->listen = braid_addr_parse(v, 1, &cfg->recv.listen) == 0;
		if (!g->listen)
			braid_cli_usage_error(CMD, "--listen: '%s' is not [ADDR]:PORT", v);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--to"))) {
		g->to = braid_addr_parse(v, 0, &cfg->send.to) == 0;
		if (!g->to)
			braid_cli_usage_error(CMD, "--to: '%s' is not HOST:PORT", v);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--link"))) {
		parse_link(v, &cfg->send);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--tun"))) {
		if (!*v || strlen(v) > 15 || strchr(v, '/') || strchr(v, ' '))
			braid_cli_usage_error(CMD, "--tun: '%s' is not a device name (1 to 15 "
					      "characters, no '/' or space)", v);
		cfg->tun_name = v;
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--address"))) {
		if (cfg->addr_count == BRAID_TUNNEL_MAX_ADDRS)
			braid_cli_usage_error(CMD, "--address: at most %d", BRAID_TUNNEL_MAX_ADDRS);
		parse_cidr(v, &cfg->addrs[cfg->addr_count++]);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--mode"))) {
		int mode = braid_mode_parse(v);
		if (mode < 0)
			braid_cli_usage_error(CMD, "--mode: unknown mode '%s'", v);
		cfg->send.core.mode = (enum braid_mode)mode;
		g->mode = true;
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--latency"))) {
		cfg->send.core.latency_us = cfg->recv.core.latency_us =
			braid_cli_duration(CMD, "--latency", v, BRAID_CLI_MS, 20000, 60000000);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--fast-latency"))) {
		cfg->fast_latency_us = strcmp(v, "off") == 0
			? 0 : braid_cli_duration(CMD, "--fast-latency", v, BRAID_CLI_MS, 20000,
						 60000000);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--media-ports"))) {
		if (!braid_tunnel_parse_ports(v, &cfg->classes))
			braid_cli_usage_error(CMD, "--media-ports: '%s' is not a list of up to %d "
					      "ports 1..65535", v, BRAID_TUNNEL_MAX_PORTS);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--media-dscp"))) {
		if (!braid_tunnel_parse_dscp(v, &cfg->classes))
			braid_cli_usage_error(CMD, "--media-dscp: '%s' is not a list of 0..63", v);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--mtu"))) {
		if (!braid_cli_parse_uint(v, 576, BRAID_MAX_PAYLOAD, &n))
			braid_cli_usage_error(CMD, "--mtu: '%s' is not 576..%d", v, BRAID_MAX_PAYLOAD);
		cfg->mtu = (unsigned)n;
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--psk"))) {
		parse_psk(v, cfg);
	} else if ((v = braid_cli_option(CMD, argc, argv, i, "--stats"))) {
		braid_cli_check_writable(CMD, "--stats", v);
		cfg->send.stats_path = cfg->recv.stats_path = v;
	} else {
		braid_cli_usage_error(CMD, "unknown argument '%s' (see --help)", argv[*i]);
	}
}

static void check_role(const struct braid_tunnel_config *cfg, const struct given *g)
{
	const struct braid_send_config *send = &cfg->send;
	if (!g->role)
		braid_cli_usage_error(CMD, "--role is required (gateway or field)");
	if (!cfg->tun_name)
		braid_cli_usage_error(CMD, "--tun is required");
	if (!cfg->addr_count)
		braid_cli_usage_error(CMD, "--address is required");
	if (cfg->role == BRAID_TUNNEL_GATEWAY) {
		if (!g->listen)
			braid_cli_usage_error(CMD, "--listen is required with --role gateway");
		if (g->to || send->link_count || g->mode)
			braid_cli_usage_error(CMD, "--to, --link and --mode are the field's, not "
					      "the gateway's");
		return;
	}
	if (g->listen)
		braid_cli_usage_error(CMD, "--listen is the gateway's, not the field's");
	if (!send->link_count)
		braid_cli_usage_error(CMD, "--link is required with --role field (at least one)");
	for (size_t i = 0; i < send->link_count; i++) {
		if (!g->to && !send->links[i].to.len)
			braid_cli_usage_error(CMD, "--to is required (link %s has no to=)",
					      send->links[i].name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(send->links[i].name, send->links[j].name) == 0)
				braid_cli_usage_error(CMD, "--link: name '%s' used twice",
						      send->links[i].name);
	}
}

int braid_cmd_tunnel(int argc, char **argv)
{
	static struct braid_tunnel_config cfg;
	struct given given = { 0 };
	memset(&cfg, 0, sizeof(cfg));
	braid_sender_settings_default(&cfg.send.core);
	braid_receiver_settings_default(&cfg.recv.core);
	cfg.send.core.latency_us = cfg.recv.core.latency_us = BRAID_TUNNEL_DEFAULT_LATENCY_US;
	cfg.send.stats_interval_us = cfg.recv.stats_interval_us = 1000000;
	cfg.fast_latency_us = BRAID_TUNNEL_DEFAULT_FAST_LATENCY_US;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_tunnel_help);
			exit(0);
		}
		parse_one(argc, argv, &i, &cfg, &given);
	}
	check_role(&cfg, &given);
	return braid_tunnel_run(&cfg);
}
