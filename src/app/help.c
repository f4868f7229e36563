#include "help.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define HELP_WIDTH 79
#define HELP_TEXT_COLUMN 24 /* where an option's text starts */

/* The length of the word at p. In a synopsis, "[--latency MS]" is one word, so that an
 * optional argument is never split over two lines. */
static size_t word_length(const char *p, bool synopsis)
{
	int depth = 0;
	size_t n = 0;
	for (; p[n] && (p[n] != ' ' || (synopsis && depth > 0)); n++) {
		if (p[n] == '[')
			depth++;
		else if (p[n] == ']')
			depth--;
	}
	return n;
}

/* Writes text from column col on, wrapping at spaces to lines starting at column indent. */
static void wrap(FILE *f, const char *text, size_t col, size_t indent, bool synopsis)
{
	bool first = true;
	for (const char *p = text; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t len = word_length(p, synopsis);
		if (!first && col + 1 + len > HELP_WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, len, f);
		col += len;
		p += len;
		first = false;
	}
	fputc('\n', f);
}

static bool is_verbatim(const char *paragraph)
{
	return strncmp(paragraph, "  ", 2) == 0;
}

static void print_paragraphs(FILE *f, const char *const *paragraphs)
{
	for (size_t i = 0; paragraphs && paragraphs[i]; i++) {
		fputc('\n', f);
		if (is_verbatim(paragraphs[i]))
			fprintf(f, "%s\n", paragraphs[i]);
		else
			wrap(f, paragraphs[i], 0, 0, false);
	}
}

/* "  --listen [ADDR]:PORT  text...": the text beside a short label, below a long one. */
static void print_items(FILE *f, const char *title, const struct braid_help_item *items)
{
	if (!items)
		return;
	fprintf(f, "\n%s:\n", title);
	for (const struct braid_help_item *it = items; it->name || it->text; it++) {
		if (!it->name) {
			fprintf(f, "%s %s:\n", it == items ? "" : "\n", it->text);
			continue;
		}
		int label = fprintf(f, "  %s%s%s", it->name, it->value ? " " : "",
				    it->value ? it->value : "");
		if (label + 2 <= HELP_TEXT_COLUMN)
			fprintf(f, "%*s", HELP_TEXT_COLUMN - label, "");
		else
			fprintf(f, "\n%*s", HELP_TEXT_COLUMN, "");
		wrap(f, it->text, HELP_TEXT_COLUMN, HELP_TEXT_COLUMN, false);
	}
}

void braid_help_print(FILE *f, const struct braid_help *h)
{
	for (size_t i = 0; h->synopsis[i]; i++) {
		int col = fprintf(f, "%s%s ", i ? "       " : "usage: ", h->program);
		wrap(f, h->synopsis[i], (size_t)col, (size_t)col, true);
	}
	print_paragraphs(f, h->description);
	print_items(f, "commands", h->commands);
	print_items(f, "options", h->options);
	print_paragraphs(f, h->notes);
}

/* Text as roff reads it: backslashes and hyphens escaped, and a line never starting with
 * a control character. */
static void roff_text(FILE *f, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		bool line_start = i == 0 || text[i - 1] == '\n';
		if (line_start && (c == '.' || c == '\''))
			fputs("\\&", f);
		if (c == '\\')
			fputs("\\e", f);
		else if (c == '-')
			fputs("\\-", f);
		else
			fputc(c, f);
	}
}

static void roff(FILE *f, const char *text)
{
	roff_text(f, text, strlen(text));
}

static void man_paragraphs(FILE *f, const char *const *paragraphs)
{
	for (size_t i = 0; paragraphs && paragraphs[i]; i++) {
		if (i)
			fputs(".PP\n", f);
		if (is_verbatim(paragraphs[i])) {
			fputs(".nf\n", f);
			roff(f, paragraphs[i]);
			fputs("\n.fi\n", f);
		} else {
			roff(f, paragraphs[i]);
			fputc('\n', f);
		}
	}
}

static void man_items(FILE *f, const char *title, const struct braid_help_item *items)
{
	if (!items)
		return;
	fprintf(f, ".SH %s\n", title);
	for (const struct braid_help_item *it = items; it->name || it->text; it++) {
		if (!it->name) {
			fputs(".SS ", f);
			roff(f, it->text);
			fputc('\n', f);
			continue;
		}
		fputs(".TP\n\\fB", f);
		roff(f, it->name);
		fputs("\\fR", f);
		if (it->value) {
			fputs(" \\fI", f);
			roff(f, it->value);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff(f, it->text);
		fputc('\n', f);
	}
}

/* "braid(1), braid-send(1)": each name in bold. */
static void man_see_also(FILE *f, const char *refs)
{
	fputs(".SH SEE ALSO\n", f);
	for (const char *p = refs; *p;) {
		size_t name = strcspn(p, "(");
		size_t ref = name + strcspn(p + name, ",");
		fputs("\\fB", f);
		roff_text(f, p, name);
		fputs("\\fR", f);
		roff_text(f, p + name, ref - name);
		p += ref;
		if (*p == ',') {
			fputs(",\n", f);
			p++;
			while (*p == ' ')
				p++;
		}
	}
	fputc('\n', f);
}

static void man_header(FILE *f, const struct braid_help *h, const char *version)
{
	fputs(".TH ", f);
	for (const char *p = h->page; *p; p++) {
		if (*p == '-')
			fputs("\\-", f);
		else
			fputc(toupper((unsigned char)*p), f);
	}
	fprintf(f, " %d \"\" \"braid %s\" \"%s\"\n", h->section, version,
		h->section == 8 ? "System Administration" : "User Commands");
	fputs(".nh\n", f); /* no hyphens inside option names and values */
	fputs(".SH NAME\n", f);
	roff(f, h->page);
	fputs(" \\- ", f);
	roff(f, h->summary);
	fputs("\n.SH SYNOPSIS\n", f);
	for (size_t i = 0; h->synopsis[i]; i++) {
		if (i)
			fputs(".br\n", f);
		fputs(".B ", f);
		roff(f, h->program);
		fputc('\n', f);
		roff(f, h->synopsis[i]);
		fputc('\n', f);
	}
}

void braid_help_print_man(FILE *f, const struct braid_help *h, const char *version)
{
	fprintf(f, ".\\\" Made by '%s --man' from the table --help prints; edit that.\n",
		h->program);
	man_header(f, h, version);
	if (h->description) {
		fputs(".SH DESCRIPTION\n", f);
		man_paragraphs(f, h->description);
	}
	man_items(f, "COMMANDS", h->commands);
	man_items(f, "OPTIONS", h->options);
	if (h->notes) {
		fputs(".SH NOTES\n", f);
		man_paragraphs(f, h->notes);
	}
	if (h->see_also)
		man_see_also(f, h->see_also);
}
