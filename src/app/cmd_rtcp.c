/* braid rtcp: tools around the RTP/RTCP library. `replay` runs a scripted sequence of
 * packets through the report generator and prints the reports (docs/rtcp-replay.md);
 * `dump` prints the RTCP packets arriving on a UDP port or stored in a pcap file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rtcp_tools.h"

static const char rtcp_usage[] =
	"usage: braid rtcp replay FILE|-\n"
	"       braid rtcp dump --listen ADDR:PORT | --pcap FILE [--count N]\n"
	"\n"
	"  replay    read a JSON script of RTP packets, SRs and report instants, print the\n"
	"            SR and RR contents generated at each report as a JSON line\n"
	"            (format: docs/rtcp-replay.md)\n"
	"  dump      print one JSON line per RTCP packet received (RTP is skipped)\n"
	"  --listen  the UDP address to receive on (port 0: any, printed on stderr)\n"
	"  --pcap    a capture file in the classic pcap format (Ethernet, Linux cooked or\n"
	"            raw IP; IPv4 and IPv6 UDP)\n"
	"  --count   stop after N lines\n";

int braid_cmd_rtcp(int argc, char **argv)
{
	if (argc < 2)
		braid_cli_usage_error("rtcp", "replay or dump is required (see --help)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(rtcp_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "replay") == 0) {
		if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
			fputs(rtcp_usage, stdout);
			return 0;
		}
		if (argc != 3)
			braid_cli_usage_error("rtcp", "replay: expected one FILE (or - for stdin)");
		return braid_rtcp_replay(argv[2]);
	}
	if (strcmp(argv[1], "dump") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				fputs(rtcp_usage, stdout);
				return 0;
			}
		}
		return braid_rtcp_dump(argc - 1, argv + 1);
	}
	braid_cli_usage_error("rtcp", "unknown subcommand '%s' (replay, dump)", argv[1]);
}
