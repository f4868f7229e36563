/* bash completion made from the same tables as --help and the manual pages: the options
 * and commands of each, and what an option's value is (a file, a directory, one of some
 * words, or something to type) read from its placeholder. */
#include "help.h"

#include <stdbool.h>
#include <string.h>

enum value_kind { VALUE_NONE, VALUE_TYPED, VALUE_FILE, VALUE_DIR, VALUE_WORDS };

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The first word of a placeholder: "rtp_proxy|bond_receive" of "rtp_proxy|bond_receive
 * [OPTIONS]". A command's arguments in brackets are optional: what follows it may be an
 * option. */
static enum value_kind classify(const char *value, bool command)
{
	if (!value || (command && value[0] == '['))
		return VALUE_NONE;
	size_t len = strcspn(value, " ");
	bool words = memchr(value, '|', len) != NULL;
	for (size_t i = 0; i < len; i++)
		words &= is_word_char(value[i]) || value[i] == '|';
	if (words)
		return VALUE_WORDS;
	/* FILE, FILE.svg, PATH, FILE|-: each alternative a file name or "-" */
	for (const char *p = value; p < value + len; p += strcspn(p, "|") + 1) {
		if (strncmp(p, "FILE", 4) == 0 || strncmp(p, "PATH", 4) == 0)
			return VALUE_FILE;
		if (strncmp(p, "DIR", 3) == 0)
			return VALUE_DIR;
		if (p + strcspn(p, "|") >= value + len)
			break;
	}
	return VALUE_TYPED;
}

static void print_names(FILE *f, const struct braid_help_item *items)
{
	bool first = true;
	for (const struct braid_help_item *it = items; it && (it->name || it->text); it++) {
		if (!it->name)
			continue;
		/* an option under two headings (ctl's --listen) is offered once */
		bool seen = false;
		for (const struct braid_help_item *before = items; before < it; before++)
			seen |= before->name && strcmp(before->name, it->name) == 0;
		if (!seen)
			fprintf(f, "%s%s", first ? "" : " ", it->name);
		first &= seen;
	}
}

/* One case of the words function: a command's options and subcommands. */
static void print_words_case(FILE *f, const char *command, const struct braid_help *h)
{
	fprintf(f, "\t'%s') opts='", command);
	print_names(f, h->options);
	fputs("'; subs='", f);
	print_names(f, h->commands);
	fputs("' ;;\n", f);
}

/* The cases of the value function for a command's items that take a value. */
static void print_value_cases(FILE *f, const char *command, const struct braid_help_item *items,
			      bool commands)
{
	static const char *const actions[] = { [VALUE_TYPED] = "typed", [VALUE_FILE] = "file",
					       [VALUE_DIR] = "dir" };
	for (const struct braid_help_item *it = items; it && (it->name || it->text); it++) {
		enum value_kind kind = it->name ? classify(it->value, commands) : VALUE_NONE;
		if (kind == VALUE_NONE)
			continue;
		fprintf(f, "\t'%s %s') echo '", command, it->name);
		if (kind == VALUE_WORDS) {
			fputs("words ", f);
			for (const char *p = it->value; *p && *p != ' '; p++)
				fputc(*p == '|' ? ' ' : *p, f);
		} else {
			fputs(actions[kind], f);
		}
		fputs("' ;;\n", f);
	}
}

static void print_driver(FILE *f, const char *fn, bool has_commands)
{
	fprintf(f, "%s() {\n", fn);
	fputs("\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal cmd='' first=1 opts subs action i\n", f);
	if (has_commands)
		fputs("\tif [ \"$COMP_CWORD\" -gt 1 ]; then cmd=${COMP_WORDS[1]}; first=2; fi\n", f);
	fprintf(f, "\t%s_words \"$cmd\" || return 0\n", fn);
	fprintf(f, "\taction=$(%s_value \"$cmd\" \"$prev\")\n", fn);
	fputs("\tif [ \"$COMP_CWORD\" -gt \"$first\" ] || [ -z \"$cmd\" ]; then\n"
	      "\t\tcase $action in\n"
	      "\t\tfile) compopt -o filenames 2>/dev/null\n"
	      "\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;\n"
	      "\t\tdir) compopt -o filenames 2>/dev/null\n"
	      "\t\t\tCOMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;;\n"
	      "\t\twords\\ *) COMPREPLY=($(compgen -W \"${action#words }\" -- \"$cur\"));"
	      " return 0 ;;\n"
	      "\t\ttyped) COMPREPLY=(); return 0 ;;\n"
	      "\t\tesac\n"
	      "\tfi\n"
	      "\t# a subcommand already given: only options are left\n"
	      "\tfor ((i = first; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase \" $subs \" in *\" ${COMP_WORDS[i]} \"*) subs='' ;; esac\n"
	      "\tdone\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	      "\tfi\n"
	      "}\n", f);
}

void braid_help_print_completion(FILE *f, const char *program, const struct braid_help *top,
				 const struct braid_help *const *commands, size_t count)
{
	char fn[64];
	snprintf(fn, sizeof(fn), "_%s_complete", program);
	fprintf(f, "# bash completion for %s, made by '%s --completion' from the tables its "
		"--help prints.\n\n", program, program);
	fprintf(f, "# $1: the command (\"\" for %s itself) -> opts, subs; false if unknown\n"
		"%s_words() {\n\tcase $1 in\n", program, fn);
	print_words_case(f, "", top);
	for (size_t i = 0; i < count; i++)
		print_words_case(f, strchr(commands[i]->program, ' ') + 1, commands[i]);
	fputs("\t*) return 1 ;;\n\tesac\n}\n\n", f);
	fprintf(f, "# $1: the command, $2: the word before -> how its value is completed\n"
		"%s_value() {\n\tcase \"$1 $2\" in\n", fn);
	print_value_cases(f, "", top->options, false);
	for (size_t i = 0; i < count; i++) {
		const char *name = strchr(commands[i]->program, ' ') + 1;
		print_value_cases(f, name, commands[i]->options, false);
		print_value_cases(f, name, commands[i]->commands, true);
	}
	fputs("\tesac\n}\n\n", f);
	print_driver(f, fn, count > 0);
	fprintf(f, "complete -F %s %s\n", fn, program);
}
