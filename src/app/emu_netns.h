/* braid emu --netns, the bonding test bench in network namespaces (docs/bench-links.md). */
#ifndef BRAID_APP_EMU_NETNS_H
#define BRAID_APP_EMU_NETNS_H

/* Takes braid emu's whole argv when it holds --netns; returns the exit status. */
int braid_emu_netns(int argc, char **argv);

#endif
