/* braid: one program, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
	int (*run)(int argc, char **argv);
	const struct braid_help *help;
} commands[] = {
	{ braid_cmd_send, &braid_send_help },
	{ braid_cmd_recv, &braid_recv_help },
	{ braid_cmd_demo, &braid_demo_help },
	{ braid_cmd_emu, &braid_emu_help },
	{ braid_cmd_rtcp, &braid_rtcp_help },
	{ braid_cmd_sim, &braid_sim_help },
	{ braid_cmd_plot, &braid_plot_help },
	{ braid_cmd_ctl, &braid_ctl_help },
	{ braid_cmd_tunnel, &braid_tunnel_help },
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* "recv" from "braid recv". */
static const char *command_name(size_t i)
{
	return commands[i].help->program + strlen("braid ");
}

static struct braid_help_item command_items[COMMAND_COUNT + 1];

/* braid's own page: the commands' names and summaries come from their tables. */
static const struct braid_help braid_help = {
	.program = "braid",
	.page = "braid",
	.section = 1,
	.summary = "bond several network links into one path for live video",
	.synopsis = (const char *const[]){ "COMMAND [OPTIONS]", "--help|--version", NULL },
	.description = (const char *const[]){
		"braid send spreads an encoder's UDP stream over several links to a gateway "
		"running braid recv, which merges them, removes duplicates, puts packets back in "
		"order, repairs losses and releases the stream with the sender's timing. "
		"'braid demo' shows it on loopback with no setup.",
		NULL },
	.commands = command_items,
	.options = (const struct braid_help_item[]){
		{ "--help", NULL, "print this help and exit; 'braid COMMAND --help' describes "
		  "a command's options" },
		{ "--version", NULL, "print the version and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Exit status: 0 done, 1 run-time failure, 2 bad argument.", NULL },
	.see_also = "braid-send(1), braid-recv(1), braid-tunnel(1), braid-demo(1), braid-emu(1), braid-rtcp(1), "
		    "braid-sim(1), braid-plot(1), braid-ctl(1), braidd(8)",
};

static const struct braid_help *program_help(void)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		command_items[i] = (struct braid_help_item){ command_name(i), NULL,
							     commands[i].help->summary };
	return &braid_help;
}

static void print_completion(void)
{
	const struct braid_help *helps[COMMAND_COUNT];
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		helps[i] = commands[i].help;
	braid_help_print_completion(stdout, "braid", program_help(), helps, COMMAND_COUNT);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		braid_help_print(stderr, program_help());
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		braid_help_print(stdout, program_help());
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("braid %s (wire protocol v1)\n", BRAID_VERSION);
		return 0;
	}
	/* The build makes the manual pages and the completion this way (not in --help: not
	 * for users). */
	if (strcmp(argv[1], "--man") == 0) {
		braid_help_print_man(stdout, program_help(), BRAID_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--completion") == 0) {
		print_completion();
		return 0;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(argv[1], command_name(i)) != 0)
			continue;
		if (argc == 3 && strcmp(argv[2], "--man") == 0) {
			braid_help_print_man(stdout, commands[i].help, BRAID_VERSION);
			return 0;
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "braid: unknown command '%s' (try 'braid --help')\n", argv[1]);
	return 2;
}
