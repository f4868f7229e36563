/* braid: one program, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "send", braid_cmd_send, "spread a UDP stream over several links" },
	{ "recv", braid_cmd_recv, "merge the links and release the stream" },
	{ "demo", braid_cmd_demo, "show bonding on loopback, no setup" },
	{ "emu", braid_cmd_emu, "emulate links: rate, delay, loss, outages" },
	{ "rtcp", braid_cmd_rtcp, "replay RTCP report generation, dump RTCP packets" },
	{ "sim", braid_cmd_sim, "simulate a bonding scenario in virtual time" },
	{ "plot", braid_cmd_plot, "draw a --stats file as SVG charts" },
	{ "ctl", braid_cmd_ctl, "control a braidd gateway: list, show, create, destroy, watch" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: braid <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'braid <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("braid %s (wire protocol v1)\n", BRAID_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "braid: unknown command '%s' (try 'braid --help')\n", argv[1]);
	return 2;
}
