/* One description of each program and subcommand, from which both `--help` and the manual
 * page are printed, so that the two cannot disagree. Adding an option means adding one
 * braid_help_item to its command's table; tests/io/test_help.py checks that every option
 * the parser takes is in the table, and that --help and the page list the same ones. */
#ifndef BRAID_APP_HELP_H
#define BRAID_APP_HELP_H

#include <stdio.h>

/* An option, or a command of a program that has them (braid's send, ctl's list).
 * A table of items ends with an all-NULL one. */
struct braid_help_item {
	const char *name;  /* "--listen", "list"; NULL: text heads the items after it */
	const char *value; /* "[ADDR]:PORT", "ID"; NULL: it takes none */
	const char *text;  /* what it does: one paragraph, wrapped when printed */
};

/* Paragraphs are NULL-terminated arrays of strings. One that starts with two spaces is
 * printed as it is, line for line (examples, lists); the others are wrapped. */
struct braid_help {
	const char *program;                    /* "braid recv", "braidd" */
	const char *page;                       /* the manual page: "braid-recv" */
	int section;                            /* 1, or 8 for the daemon */
	const char *summary;                    /* the one line of NAME */
	const char *const *synopsis;            /* each form of the command line, sans program */
	const char *const *description;         /* before the options */
	const struct braid_help_item *commands; /* NULL: none */
	const struct braid_help_item *options;  /* NULL: none */
	const char *const *notes;               /* after the options: units, exit status */
	const char *see_also;                   /* "braid(1), braid-send(1)" */
};

/* What --help prints. */
void braid_help_print(FILE *f, const struct braid_help *h);
/* The manual page, in roff for the man macros. */
void braid_help_print_man(FILE *f, const struct braid_help *h, const char *version);

/* A bash completion script for program: top's options and commands and, for each of
 * count commands, its own (for braid: send, recv...; none for braidd). */
void braid_help_print_completion(FILE *f, const char *program, const struct braid_help *top,
				 const struct braid_help *const *commands, size_t count);

#endif
