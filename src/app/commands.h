/* The subcommands of the braid program. Each takes its own argv (argv[0] is its name)
 * and returns the process exit status. */
#ifndef BRAID_APP_COMMANDS_H
#define BRAID_APP_COMMANDS_H

#include "help.h"

int braid_cmd_send(int argc, char **argv);
int braid_cmd_recv(int argc, char **argv);
int braid_cmd_demo(int argc, char **argv);
int braid_cmd_emu(int argc, char **argv);
int braid_cmd_rtcp(int argc, char **argv);
int braid_cmd_sim(int argc, char **argv);
int braid_cmd_ctl(int argc, char **argv);
int braid_cmd_plot(int argc, char **argv);
int braid_cmd_tunnel(int argc, char **argv);

/* What each one's --help prints and its manual page says (help.h). */
extern const struct braid_help braid_send_help, braid_recv_help, braid_demo_help,
	braid_emu_help, braid_rtcp_help, braid_sim_help, braid_plot_help, braid_ctl_help,
	braid_tunnel_help;

#endif
