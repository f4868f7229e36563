/* The two halves of `braid rtcp`: replay (rtcp_replay.c) and dump (rtcp_dump.c). Both
 * return the process exit status; malformed input exits with status 2 after one line. */
#ifndef BRAID_APP_RTCP_TOOLS_H
#define BRAID_APP_RTCP_TOOLS_H

/* Reads the replay file (or stdin for "-") and prints one JSON line per report event. */
int braid_rtcp_replay(const char *path);

/* argv[0] is "dump". */
int braid_rtcp_dump(int argc, char **argv);

#endif
