/* braid plot: a stats file recorded with --stats, drawn as SVG (plot.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "plot.h"

const struct braid_help braid_plot_help = {
	.program = "braid plot",
	.page = "braid-plot",
	.section = 1,
	.summary = "draw a --stats file as SVG charts",
	.synopsis = (const char *const[]){ "STATS -o FILE.svg", NULL },
	.description = (const char *const[]){
		"Draws what 'braid send --stats' or 'braid recv --stats' recorded: the stream's "
		"rate, and each link's throughput, RTT, loss and state over time, the same "
		"charts the dashboard (--http) shows live. STATS is the JSON lines file.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--output", "FILE.svg", "the SVG picture to write (- for stdout); -o for short" },
		{ "--help", NULL, "print this help and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Exit status: 0 done, 1 the picture could not be written, 2 bad argument (also a "
		"STATS that cannot be read or is not a stats file).",
		NULL },
	.see_also = "braid(1), braid-send(1), braid-recv(1)",
};

struct plot_options {
	const char *stats, *output;
};

static void parse_args(int argc, char **argv, struct plot_options *o)
{
	const char *v;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braid_plot_help);
			exit(0);
		} else if ((v = braid_cli_option("plot", argc, argv, &i, "-o")) ||
			   (v = braid_cli_option("plot", argc, argv, &i, "--output"))) {
			o->output = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			braid_cli_usage_error("plot", "unknown option '%s' (see --help)", argv[i]);
		} else if (o->stats) {
			braid_cli_usage_error("plot", "one stats file only, not also '%s'", argv[i]);
		} else {
			o->stats = argv[i];
		}
	}
	if (!o->stats)
		braid_cli_usage_error("plot", "STATS is required (a file written by --stats)");
	if (!o->output)
		braid_cli_usage_error("plot", "-o FILE.svg is required");
	braid_cli_check_writable("plot", "-o", o->output);
}

static bool write_picture(const char *path, const struct plot_data *d, const char *title)
{
	bool to_stdout = strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "w");
	if (!f)
		return false;
	bool ok = plot_write_svg(f, d, title);
	if (to_stdout)
		return fflush(f) == 0 && ok;
	return fclose(f) == 0 && ok;
}

int braid_cmd_plot(int argc, char **argv)
{
	struct plot_options o = { 0 };
	parse_args(argc, argv, &o);
	FILE *in = fopen(o.stats, "r");
	if (!in)
		braid_cli_usage_error("plot", "STATS: cannot read '%s': %s", o.stats,
				      strerror(errno));
	static struct plot_data data;
	char err[256];
	bool read = plot_read(in, &data, err, sizeof(err));
	fclose(in);
	if (!read) /* a file an argument names holds nonsense: a bad argument, as elsewhere */
		braid_cli_usage_error("plot", "STATS: '%s': %s", o.stats, err);
	const char *slash = strrchr(o.stats, '/');
	bool written = write_picture(o.output, &data, slash ? slash + 1 : o.stats);
	if (!written)
		fprintf(stderr, "braid plot: cannot write '%s': %s\n", o.output, strerror(errno));
	plot_free(&data);
	return written ? 0 : 1;
}
