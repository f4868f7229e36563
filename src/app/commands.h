/* The subcommands of the braid program. Each takes its own argv (argv[0] is its name)
 * and returns the process exit status. */
#ifndef BRAID_APP_COMMANDS_H
#define BRAID_APP_COMMANDS_H

int braid_cmd_send(int argc, char **argv);
int braid_cmd_recv(int argc, char **argv);
int braid_cmd_demo(int argc, char **argv);
int braid_cmd_emu(int argc, char **argv);
int braid_cmd_rtcp(int argc, char **argv);
int braid_cmd_sim(int argc, char **argv);
int braid_cmd_ctl(int argc, char **argv);
int braid_cmd_plot(int argc, char **argv);

#endif
