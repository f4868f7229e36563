/* --config FILE for braid send and recv: the file's `key = value` lines become arguments
 * placed before the command line's, so one parser reads both and the command line, coming
 * later, has the last word. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1024 * 1024)

/* Where the arguments taken from the file are in the vector handed to the parser, and the
 * line each came from, so that a bad value there is reported with its file and line. The
 * vector and the text it points into live as long as the program: held here, they are
 * not leaks to a leak checker. */
static struct {
	const char *path;
	int first, end;
	unsigned *lines;
	char **argv;
	char *text;
} origin;

bool braid_cli_origin(int index, char *buf, size_t len)
{
	if (!origin.path || index < origin.first || index >= origin.end)
		return false;
	snprintf(buf, len, "%s:%u", origin.path, origin.lines[index - origin.first]);
	return true;
}

static char *read_file(const char *cmd, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		braid_cli_usage_error(cmd, "--config: cannot read '%s': %s", path, strerror(errno));
	char *text = malloc(CONFIG_MAX_BYTES + 1);
	size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
	bool failed = !text || ferror(f) || n > CONFIG_MAX_BYTES;
	fclose(f);
	if (failed)
		braid_cli_usage_error(cmd, "--config: cannot read '%s': %s", path,
				      text ? "too large or unreadable" : "out of memory");
	text[n] = '\0';
	return text;
}

/* The --config FILE of the command line, or NULL. */
static const char *config_path(const char *cmd, int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = braid_cli_option(cmd, argc, argv, &i, "--config");
		if (v && path)
			braid_cli_usage_error(cmd, "--config: given twice");
		if (v)
			path = v;
	}
	return path;
}

/* The option name of "--name" or "--name=value": its length after the dashes. */
static size_t option_length(const char *arg)
{
	return strncmp(arg, "--", 2) == 0 ? strcspn(arg + 2, "=") : 0;
}

static bool on_command_line(const char *name, int argc, char **argv)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++)
		if (option_length(argv[i]) == n && strncmp(argv[i] + 2, name, n) == 0)
			return true;
	return false;
}

/* A key names an option that takes a value; `stats_interval` is `stats-interval`, as
 * braidd spells its keys. */
static const char *option_of(const struct braid_help *help, char *key)
{
	for (char *p = key; *p; p++)
		if (*p == '_')
			*p = '-';
	for (const struct braid_help_item *it = help->options; it->name || it->text; it++)
		if (it->name && it->value && strcmp(it->name + 2, key) == 0 &&
		    strcmp(it->name, "--config") != 0)
			return it->name;
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

struct config_args {
	char **argv;
	unsigned *lines;
	int count;
};

/* Adds the setting of one line, unless blank, a comment, or given on the command line. */
static void add_line(const char *cmd, const struct braid_help *help, char *line,
		     unsigned number, int argc, char **argv, struct config_args *out)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *text = trim(line);
	if (!*text)
		return;
	char *eq = strchr(text, '=');
	if (eq)
		*eq = '\0';
	char *key = trim(text), *value = eq ? trim(eq + 1) : NULL;
	if (!eq || !*key || !*value)
		braid_cli_usage_error(cmd, "%s:%u: expected 'key = value'", origin.path, number);
	const char *option = option_of(help, key);
	if (!option)
		braid_cli_usage_error(cmd, "%s:%u: unknown key '%s' (the long options of "
				      "braid %s --help that take a value)", origin.path, number,
				      key, cmd);
	if (on_command_line(option + 2, argc, argv))
		return;
	out->argv[out->count] = strdup(option);
	if (!out->argv[out->count])
		braid_cli_usage_error(cmd, "--config: out of memory");
	out->argv[out->count + 1] = value;
	out->lines[out->count] = out->lines[out->count + 1] = number;
	out->count += 2;
}

void braid_cli_load_config(const char *cmd, const struct braid_help *help, int *argc,
			   char ***argv)
{
	const char *path = config_path(cmd, *argc, *argv);
	if (!path)
		return;
	/* Kept for the whole run: the arguments point into it. */
	char *text = read_file(cmd, path);
	size_t max_lines = 1;
	for (const char *p = text; *p; p++)
		max_lines += *p == '\n';
	struct config_args file = {
		.argv = calloc(2 * max_lines + (size_t)*argc + 1, sizeof(char *)),
		.lines = calloc(2 * max_lines, sizeof(unsigned)),
	};
	if (!file.argv || !file.lines)
		braid_cli_usage_error(cmd, "--config: out of memory");
	origin.path = path;
	origin.text = text;
	origin.argv = file.argv;
	unsigned number = 0;
	for (char *line = text, *next; line; line = next) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		next = nl ? nl + 1 : NULL;
		add_line(cmd, help, line, ++number, *argc, *argv, &file);
	}
	/* argv[0], the file's arguments, then the command line's. */
	char **merged = file.argv;
	memmove(merged + 1, merged, (size_t)file.count * sizeof(char *));
	merged[0] = (*argv)[0];
	memcpy(merged + 1 + file.count, *argv + 1, (size_t)(*argc - 1) * sizeof(char *));
	origin.first = 1;
	origin.end = 1 + file.count;
	origin.lines = file.lines;
	*argc += file.count;
	*argv = merged;
}
