/* Scenario files and commands: a line-based list of links and timed events (docs/emu.md),
 *
 *   link NAME KEY=VALUE,...
 *   at TIME NAME blackhole on|off|toggle
 *   at TIME NAME KEY=VALUE,...
 *
 * and the same events without a time as commands, applied to running relays. */
#include "scenario/scenario.h"
#include "scenario/files.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

/* A scenario is a hand-written file: larger is a mistake. */
#define SCENARIO_MAX_BYTES (1u << 20)
#define LINE_MAX_BYTES 2048

void braid_emu_scenario_init(struct braid_emu_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
}

void braid_emu_scenario_free(struct braid_emu_scenario *sc)
{
	for (size_t i = 0; i < sc->link_count; i++)
		braid_emu_link_config_free(&sc->links[i]);
	free(sc->links);
	free(sc->events);
	memset(sc, 0, sizeof(*sc));
}

/* Grows an array of `size`-byte items to hold one more. */
static bool reserve(void **items, size_t *capacity, size_t count, size_t size)
{
	size_t grown;
	void *bigger;

	if (count < *capacity)
		return true;
	grown = *capacity ? *capacity * 2 : 8;
	if (grown > SIZE_MAX / size)
		return false;
	bigger = realloc(*items, grown * size);
	if (!bigger)
		return false;
	*items = bigger;
	*capacity = grown;
	return true;
}

int braid_emu_scenario_add_link(struct braid_emu_scenario *sc, struct braid_emu_link_config *cfg)
{
	void *links = sc->links;

	if (!reserve(&links, &sc->link_capacity, sc->link_count, sizeof(*sc->links)))
		return BRAID_ERR_NOMEM;
	sc->links = links;
	sc->links[sc->link_count++] = *cfg;
	cfg->fwd_trace = cfg->rev_trace = NULL;
	cfg->fwd.trace_ms = cfg->rev.trace_ms = NULL;
	return 0;
}

static int add_event(struct braid_emu_scenario *sc, const struct braid_emu_event *ev)
{
	void *events = sc->events;

	if (!reserve(&events, &sc->event_capacity, sc->event_count, sizeof(*sc->events)))
		return BRAID_ERR_NOMEM;
	sc->events = events;
	sc->events[sc->event_count++] = *ev;
	return 0;
}

/* ---- tokens ---- */

static char *skip_space(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* Cuts the next word off *s: returns it, or NULL when nothing is left. */
static char *next_word(char **s)
{
	char *word = skip_space(*s), *end = word;

	if (!*word)
		return NULL;
	while (*end && !isspace((unsigned char)*end))
		end++;
	if (*end)
		*end++ = '\0';
	*s = end;
	return word;
}

static void trim_end(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* ---- commands ---- */

static int parse_blackhole(char *rest, struct braid_emu_event *ev, char *err, size_t err_len)
{
	char *arg = next_word(&rest);

	if (arg && !next_word(&rest)) {
		if (strcmp(arg, "on") == 0)
			ev->action = BRAID_EMU_BLACKHOLE_ON;
		else if (strcmp(arg, "off") == 0)
			ev->action = BRAID_EMU_BLACKHOLE_OFF;
		else if (strcmp(arg, "toggle") == 0)
			ev->action = BRAID_EMU_BLACKHOLE_TOGGLE;
		else
			arg = NULL;
		if (arg)
			return 0;
	}
	snprintf(err, err_len, "blackhole takes on, off or toggle");
	return BRAID_ERR_INVAL;
}

/* Checks the keys on their own (known keys, good values) against a blank link. */
static int check_keys(const char *keys, char *err, size_t err_len)
{
	struct braid_emu_link_config scratch;
	int rc;

	braid_emu_link_config_init(&scratch, 0);
	rc = braid_emu_apply_keys(&scratch, keys, err, err_len);
	braid_emu_link_config_free(&scratch);
	return rc;
}

static int parse_command_in_place(char *text, struct braid_emu_event *ev, char *err,
				  size_t err_len)
{
	char *name = next_word(&text), *rest;

	memset(ev, 0, sizeof(*ev));
	if (!name) {
		snprintf(err, err_len, "missing link name");
		return BRAID_ERR_INVAL;
	}
	if (strlen(name) > BRAID_EMU_NAME_MAX) {
		snprintf(err, err_len, "'%s' is too long for a link name", name);
		return BRAID_ERR_INVAL;
	}
	strcpy(ev->link, name);
	rest = skip_space(text);
	trim_end(rest);
	if (strncmp(rest, "blackhole", 9) == 0 && (!rest[9] || isspace((unsigned char)rest[9])))
		return parse_blackhole(rest + 9, ev, err, err_len);
	if (!*rest) {
		snprintf(err, err_len,
			 "link %s: nothing to do (blackhole on|off|toggle or KEY=VALUE)", name);
		return BRAID_ERR_INVAL;
	}
	if (strlen(rest) >= sizeof(ev->keys)) {
		snprintf(err, err_len, "link %s: keys too long", name);
		return BRAID_ERR_INVAL;
	}
	strcpy(ev->keys, rest);
	ev->action = BRAID_EMU_SET;
	return check_keys(ev->keys, err, err_len);
}

int braid_emu_parse_command(const char *text, struct braid_emu_event *ev, char *err,
			    size_t err_len)
{
	char copy[LINE_MAX_BYTES];

	if (!text || strlen(text) >= sizeof(copy)) {
		snprintf(err, err_len, "command too long");
		return BRAID_ERR_INVAL;
	}
	strcpy(copy, text);
	return parse_command_in_place(copy, ev, err, err_len);
}

/* ---- scenario lines ---- */

static int parse_link_line(struct braid_emu_scenario *sc, char *rest, char *err, size_t err_len)
{
	char *name = next_word(&rest), spec[BRAID_EMU_SPEC_MAX + 64];
	struct braid_emu_link_config cfg;
	int rc;

	if (!name) {
		snprintf(err, err_len, "link needs a name and its keys");
		return BRAID_ERR_INVAL;
	}
	rest = skip_space(rest);
	trim_end(rest);
	/* The line's name goes first: a name= among the keys would then win, so refuse it. */
	if (strncmp(rest, "name=", 5) == 0 || strstr(rest, ",name=")) {
		snprintf(err, err_len, "link %s: the name is given by the line, not name=", name);
		return BRAID_ERR_INVAL;
	}
	snprintf(spec, sizeof(spec), "name=%s,%s", name, rest);
	rc = braid_emu_parse_link_flags(spec, (unsigned)sc->link_count, sc->link_flags, &cfg, err,
					err_len);
	if (rc)
		return rc;
	rc = braid_emu_scenario_add_link(sc, &cfg);
	if (rc) {
		braid_emu_link_config_free(&cfg);
		snprintf(err, err_len, "%s", braid_strerror(rc));
	}
	return rc;
}

static int parse_at_line(struct braid_emu_scenario *sc, char *rest, unsigned line, char *err,
			 size_t err_len)
{
	char *when = next_word(&rest);
	struct braid_emu_event ev;
	uint64_t at_us;
	int rc;

	if (!when || braid_emu_parse_duration(when, &at_us)) {
		snprintf(err, err_len, "at needs a time (10s, 1500ms)");
		return BRAID_ERR_INVAL;
	}
	rc = parse_command_in_place(rest, &ev, err, err_len);
	if (rc)
		return rc;
	ev.at_us = at_us;
	ev.line = line;
	rc = add_event(sc, &ev);
	if (rc)
		snprintf(err, err_len, "%s", braid_strerror(rc));
	return rc;
}

static int parse_line(struct braid_emu_scenario *sc, char *text, unsigned line, char *err,
		      size_t err_len)
{
	char *hash = strchr(text, '#'), *word;

	if (hash)
		*hash = '\0';
	word = next_word(&text);
	if (!word)
		return 0;
	if (strcmp(word, "link") == 0)
		return parse_link_line(sc, text, err, err_len);
	if (strcmp(word, "at") == 0)
		return parse_at_line(sc, text, line, err, err_len);
	snprintf(err, err_len, "'%s' is not link or at", word);
	return BRAID_ERR_INVAL;
}

int braid_emu_for_each_line(const char *text, const char *origin, braid_emu_line_fn fn,
			    void *arg, char *err, size_t err_len)
{
	char buf[LINE_MAX_BYTES], why[512];
	unsigned line = 0;

	while (*text) {
		size_t n = strcspn(text, "\n");
		int rc;

		line++;
		if (n >= sizeof(buf)) {
			snprintf(err, err_len, "%s:%u: line too long", origin, line);
			return BRAID_ERR_INVAL;
		}
		memcpy(buf, text, n);
		buf[n] = '\0';
		text += n + (text[n] == '\n');
		rc = fn(arg, buf, line, why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "%s:%u: %s", origin, line, why);
			return rc;
		}
	}
	return 0;
}

static int parse_line_cb(void *arg, char *text, unsigned line, char *why, size_t why_len)
{
	return parse_line(arg, text, line, why, why_len);
}

int braid_emu_scenario_parse(struct braid_emu_scenario *sc, const char *text, const char *origin,
			     char *err, size_t err_len)
{
	return braid_emu_for_each_line(text, origin, parse_line_cb, sc, err, err_len);
}

int braid_emu_scenario_load(struct braid_emu_scenario *sc, const char *path, char *err,
			    size_t err_len)
{
	char *text;
	int rc = braid_emu_read_text(path, &text, err, err_len);
	if (rc == 0) {
		rc = braid_emu_scenario_parse(sc, text, path, err, err_len);
		free(text);
	}
	return rc;
}

/* ---- checking ---- */

static const struct braid_emu_link_config *find_link(const struct braid_emu_scenario *sc,
						     const char *name)
{
	for (size_t i = 0; i < sc->link_count; i++)
		if (strcmp(sc->links[i].name, name) == 0)
			return &sc->links[i];
	return NULL;
}

/* Insertion sort: stable, and quick on events that are mostly written in order. */
static void sort_events(struct braid_emu_scenario *sc)
{
	for (size_t i = 1; i < sc->event_count; i++) {
		struct braid_emu_event ev = sc->events[i];
		size_t j = i;

		for (; j > 0 && sc->events[j - 1].at_us > ev.at_us; j--)
			sc->events[j] = sc->events[j - 1];
		sc->events[j] = ev;
	}
}

/* Runs the events in order on copies of the links, so that a change that only fails on top
 * of earlier ones is found before anything starts. */
static int dry_run(const struct braid_emu_scenario *sc, struct braid_emu_link_config *work,
		   char *err, size_t err_len)
{
	char why[512];

	for (size_t e = 0; e < sc->event_count; e++) {
		const struct braid_emu_event *ev = &sc->events[e];

		if (ev->action != BRAID_EMU_SET)
			continue;
		for (size_t i = 0; i < sc->link_count; i++) {
			if (strcmp(ev->link, "*") != 0 && strcmp(ev->link, work[i].name) != 0)
				continue;
			if (braid_emu_apply_keys(&work[i], ev->keys, why, sizeof(why))) {
				snprintf(err, err_len, "event on line %u, link %s: %s", ev->line,
					 work[i].name, why);
				return BRAID_ERR_INVAL;
			}
		}
	}
	return 0;
}

int braid_emu_scenario_check(struct braid_emu_scenario *sc, char *err, size_t err_len)
{
	struct braid_emu_link_config *work;
	size_t copied = 0;
	int rc = 0;

	for (size_t i = 0; i < sc->link_count; i++) {
		if (find_link(sc, sc->links[i].name) != &sc->links[i]) {
			snprintf(err, err_len, "link name '%s' used twice", sc->links[i].name);
			return BRAID_ERR_EXISTS;
		}
	}
	for (size_t e = 0; e < sc->event_count; e++) {
		const struct braid_emu_event *ev = &sc->events[e];

		if (strcmp(ev->link, "*") != 0 && !find_link(sc, ev->link)) {
			snprintf(err, err_len, "event on line %u: no link named '%s'", ev->line,
				 ev->link);
			return BRAID_ERR_LINK;
		}
	}
	sort_events(sc);
	work = calloc(sc->link_count ? sc->link_count : 1, sizeof(*work));
	if (!work)
		rc = BRAID_ERR_NOMEM;
	for (; rc == 0 && copied < sc->link_count; copied++)
		rc = braid_emu_link_config_copy(&work[copied], &sc->links[copied]);
	if (rc)
		snprintf(err, err_len, "%s", braid_strerror(rc));
	else
		rc = dry_run(sc, work, err, err_len);
	for (size_t i = 0; i < copied && work; i++)
		braid_emu_link_config_free(&work[i]);
	free(work);
	return rc;
}

/* ---- running ---- */

