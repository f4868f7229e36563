/* Link specs and scenario files (docs/emu.md), parsed without I/O: the text in, link
 * settings and timed events out. braid emu and braid sim read the same keys through here,
 * so a scenario means the same in both. Reading the files themselves is scenario/files.h. */
#ifndef BRAID_SCENARIO_H
#define BRAID_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "model/model.h"

#define BRAID_EMU_NAME_MAX 32
/* The longest listen= or to= value. */
#define BRAID_EMU_ADDR_TEXT_MAX 255
/* The longest link spec or event text accepted, in bytes. */
#define BRAID_EMU_SPEC_MAX 1024

/* ---- link settings (spec.c) ---- */

struct braid_emu_link_config {
	char name[BRAID_EMU_NAME_MAX + 1];
	/* listen= and to= as written; braid emu resolves them into listen and to (the parser
	 * does no name lookup). Either address may also be set directly (len != 0). */
	char listen_text[BRAID_EMU_ADDR_TEXT_MAX + 1], to_text[BRAID_EMU_ADDR_TEXT_MAX + 1];
	struct braid_addr listen, to;
	struct braid_model_settings fwd, rev;
	/* Owned arrays behind fwd.trace_ms and rev.trace_ms (NULL when no trace): copy a
	 * config with braid_emu_link_config_copy, release it with braid_emu_link_config_free. */
	uint32_t *fwd_trace, *rev_trace;
};

/* An empty config named "link<index + 1>": unlimited, no delay, seeded by the index. */
void braid_emu_link_config_init(struct braid_emu_link_config *cfg, unsigned index);
void braid_emu_link_config_free(struct braid_emu_link_config *cfg);
/* A deep copy (traces included) into an uninitialised dst. 0 or BRAID_ERR_NOMEM. */
int braid_emu_link_config_copy(struct braid_emu_link_config *dst,
			       const struct braid_emu_link_config *src);

/* Parses "listen=ADDR:PORT,to=ADDR:PORT[,KEY=VALUE]..." (docs/emu.md). Keys without rev
 * shape the forward direction; the return path copies delay, jitter, reorder and outages
 * unless rev=KEY=V;KEY=V... or rev.KEY=V says otherwise. Returns 0, or a negative braid_error
 * with a message naming the bad key in err (out is then released). */
int braid_emu_parse_link(const char *spec, unsigned index, struct braid_emu_link_config *out,
			 char *err, size_t err_len);
/* Flags for braid_emu_parse_link_flags and braid_emu_scenario.link_flags.
 * NO_ADDRESS: listen= and to= may be left out (the simulator carries datagrams itself). */
#define BRAID_EMU_NO_ADDRESS 1u
/* braid_emu_parse_link with flags; flags 0 is braid_emu_parse_link. */
int braid_emu_parse_link_flags(const char *spec, unsigned index, unsigned flags,
			       struct braid_emu_link_config *out, char *err, size_t err_len);
/* Applies model keys ("rate=2mbit,rev=delay=10ms") on top of a parsed config, as a timed
 * event does: only what is named changes; name, listen and to cannot. On error cfg is
 * unchanged. */
int braid_emu_apply_keys(struct braid_emu_link_config *cfg, const char *keys, char *err,
			 size_t err_len);

/* The units of the spec. Each returns 0 or BRAID_ERR_INVAL. */
int braid_emu_parse_rate(const char *text, double *bps);      /* 8mbit: bit kbit mbit gbit */
int braid_emu_parse_duration(const char *text, uint64_t *us); /* 40ms: us ms s; "0" */
int braid_emu_parse_percent(const char *text, double *fraction); /* "1.5%" -> 0.015 */
int braid_emu_parse_size(const char *text, uint64_t *bytes);  /* tc's: b, kb, mb (1024s) */
/* ---- scenarios and commands (scenario.c) ---- */

enum braid_emu_action {
	BRAID_EMU_SET = 0,          /* apply keys */
	BRAID_EMU_BLACKHOLE_ON,
	BRAID_EMU_BLACKHOLE_OFF,
	BRAID_EMU_BLACKHOLE_TOGGLE,
};

/* "NAME blackhole on|off|toggle" or "NAME KEY=VALUE,...", at a time for a scenario. */
struct braid_emu_event {
	uint64_t at_us;   /* since the links opened */
	unsigned line;    /* in the scenario file, for messages; 0 otherwise */
	char link[BRAID_EMU_NAME_MAX + 1]; /* "*" = every link */
	enum braid_emu_action action;
	char keys[BRAID_EMU_SPEC_MAX];
};

struct braid_emu_scenario {
	struct braid_emu_link_config *links;
	size_t link_count, link_capacity;
	struct braid_emu_event *events; /* in time order once checked */
	size_t event_count, event_capacity;
	unsigned link_flags; /* BRAID_EMU_* flags for link lines; set after init */
};

void braid_emu_scenario_init(struct braid_emu_scenario *sc);
void braid_emu_scenario_free(struct braid_emu_scenario *sc);
/* Takes ownership of *cfg (left empty) on success. */
int braid_emu_scenario_add_link(struct braid_emu_scenario *sc, struct braid_emu_link_config *cfg);
/* Appends the links and events of a scenario text; origin names it in messages. */
int braid_emu_scenario_parse(struct braid_emu_scenario *sc, const char *text, const char *origin,
			     char *err, size_t err_len);
/* braid_emu_scenario_parse on a file's text, read through scenario/files.h. */
int braid_emu_scenario_load(struct braid_emu_scenario *sc, const char *path, char *err,
			    size_t err_len);
/* The two models of a link (forward, return) from its settings, their seeds mixed with
 * `reseed` (a settings change draws a fresh random stream). 0, or BRAID_ERR_INVAL with
 * both NULL. Shared by the relay and the simulator so a link behaves the same in both. */
int braid_emu_new_models(const struct braid_emu_link_config *cfg, uint64_t start_us,
			 uint64_t reseed, struct braid_model *out[2]);
/* Calls fn for each line of text (without its newline; lines over 2047 bytes are an
 * error), numbering from 1. A non-zero return stops it; the message fn wrote to `why` is
 * then given as "ORIGIN:LINE: why" in err. */
typedef int (*braid_emu_line_fn)(void *arg, char *line, unsigned number, char *why,
				 size_t why_len);
int braid_emu_for_each_line(const char *text, const char *origin, braid_emu_line_fn fn,
			    void *arg, char *err, size_t err_len);
/* Once every link is in: names unique, events naming known links and applicable in time
 * order. Sorts the events by time (stable). */
int braid_emu_scenario_check(struct braid_emu_scenario *sc, char *err, size_t err_len);

/* Parses a command (an event without its time): "lte1 blackhole on", "* rate=2mbit". */
int braid_emu_parse_command(const char *text, struct braid_emu_event *ev, char *err,
			    size_t err_len);
#endif
