/* braid rtcp: tools around the RTP/RTCP library. `replay` runs a scripted sequence of
 * packets through the report generator and prints the reports (docs/rtcp-replay.md);
 * `dump` prints the RTCP packets arriving on a UDP port or stored in a pcap file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rtcp_tools.h"

const struct braid_help braid_rtcp_help = {
	.program = "braid rtcp",
	.page = "braid-rtcp",
	.section = 1,
	.summary = "replay RTCP report generation, dump RTCP packets",
	.synopsis = (const char *const[]){
		"replay FILE|-",
		"dump --listen ADDR:PORT|--pcap FILE [--count N]",
		NULL },
	.description = (const char *const[]){
		"Tools around braid's RTP/RTCP library, printing JSON lines on stdout.",
		NULL },
	.commands = (const struct braid_help_item[]){
		{ "replay", "FILE|-", "read a JSON script of RTP packets, SRs and report "
		  "instants, print the SR and RR contents generated at each report as a JSON line "
		  "(format: docs/rtcp-replay.md)" },
		{ "dump", NULL, "print one JSON line per RTCP packet received (RTP is "
		  "skipped)" },
		{ NULL, NULL, NULL } },
	.options = (const struct braid_help_item[]){
		{ NULL, NULL, "dump" },
		{ "--listen", "ADDR:PORT", "the UDP address to receive on (port 0: any, printed "
		  "on stderr)" },
		{ "--pcap", "FILE", "a capture file in the classic pcap format (Ethernet, Linux "
		  "cooked or raw IP; IPv4 and IPv6 UDP)" },
		{ "--count", "N", "stop after N lines" },
		{ NULL, NULL, "every command" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Exit status: 0 done, 1 run-time failure, 2 bad argument or a malformed replay "
		"script.",
		NULL },
	.see_also = "braid(1)",
};

int braid_cmd_rtcp(int argc, char **argv)
{
	if (argc < 2)
		braid_cli_usage_error("rtcp", "replay or dump is required (see --help)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		braid_help_print(stdout, &braid_rtcp_help);
		return 0;
	}
	if (strcmp(argv[1], "replay") == 0) {
		if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
			braid_help_print(stdout, &braid_rtcp_help);
			return 0;
		}
		if (argc != 3)
			braid_cli_usage_error("rtcp", "replay: expected one FILE (or - for stdin)");
		return braid_rtcp_replay(argv[2]);
	}
	if (strcmp(argv[1], "dump") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				braid_help_print(stdout, &braid_rtcp_help);
				return 0;
			}
		}
		return braid_rtcp_dump(argc - 1, argv + 1);
	}
	braid_cli_usage_error("rtcp", "unknown subcommand '%s' (replay, dump)", argv[1]);
}
