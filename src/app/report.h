/* How braid send and braid recv report: JSON lines (docs/stats.md) to a file or stdout,
 * a compact live view on a terminal, and one line per event on stderr. */
#ifndef BRAID_APP_REPORT_H
#define BRAID_APP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "braid/receiver.h"
#include "braid/sender.h"
#include "braid/stats.h"

#define BRAID_REPORT_MAX_LINKS 32

/* The one way every program's human output (event lines, live views, summaries) gives a
 * time: seconds to the millisecond, "12.345 s", since the start unless said otherwise. */
#define BRAID_ELAPSED_MAX 32
const char *braid_report_elapsed(uint64_t us, char buf[BRAID_ELAPSED_MAX]);
/* one when n is 1, many otherwise: "1 failover", "2 failovers". */
const char *braid_report_plural(uint64_t n, const char *one, const char *many);

/* The last figures seen of each session's links, so that the receiver's final summary
 * still names the links of a session that ended before it. */
struct braid_link_memory {
	uint32_t session_id;
	char name[BRAID_LINK_NAME_MAX + 1];
	uint64_t packets, bytes;
	uint32_t down_events;
};

/* Byte counters of each link at the previous report, to turn totals into bitrates. */
struct braid_rate_memory {
	uint16_t ids[BRAID_REPORT_MAX_LINKS];
	uint64_t bytes[BRAID_REPORT_MAX_LINKS];
	size_t count;
	uint64_t at_us;
};

/* Called with each JSON line (stats or event, newline included) as it is written, so a
 * live view (the dashboard) shows exactly what the stats file gets. */
typedef void (*braid_report_tap_fn)(void *arg, const char *line, size_t len, bool event);

struct braid_report {
	FILE *json;       /* NULL: no JSON lines */
	braid_report_tap_fn tap; /* NULL: none */
	void *tap_arg;
	char *line;       /* the line being written for the tap */
	size_t line_len;
	bool close_json;
	bool live;        /* redraw a live view on stderr */
	unsigned live_lines; /* lines drawn last time, to move back over them */
	const char *role; /* "send" or "recv" */
	uint64_t start_us;
	struct braid_rate_memory rates;
	/* recv: released media the output refused (another session held it) or failed to
	 * take; kept by the caller, shown in the totals */
	uint64_t output_refused, output_errors;
	/* recv: appends members (",\"key\":...") to each line, or NULL */
	void (*extra_json)(void *arg, FILE *f);
	void *extra_arg;
	struct braid_link_memory seen[BRAID_REPORT_MAX_LINKS];
	size_t seen_count;
};

/* path: a file, "-" for stdout, or NULL. live: draw the terminal view (when stderr is a
 * terminal). Returns false (errno set) when the file cannot be opened. */
bool braid_report_open(struct braid_report *r, const char *role, const char *path, bool live,
		       uint64_t now_us);
void braid_report_close(struct braid_report *r);

/* The bitrate of each link since the last call, in bit/s, by the bytes it moved. */
double braid_report_bitrate(struct braid_report *r, uint16_t link_id, uint64_t bytes,
			    uint64_t now_us);
void braid_report_rates_done(struct braid_report *r, uint64_t now_us);

/* report_sender / report_receiver with final set also print a summary on stderr: what
 * came in and went out, what was lost or resent, each link's totals and events. */
void braid_report_sender(struct braid_report *r, const struct braid_sender *s, uint64_t now_us,
			 bool final);
void braid_report_receiver(struct braid_report *r, const struct braid_receiver *rx,
			   uint64_t now_us, bool final);
/* One line on stderr for an event ("link lte2 down", "failover: 12 packets resent"). */
void braid_report_event(struct braid_report *r, const struct braid_event *ev,
			const char *link_name);

/* A session refused a single output held by `holder`, or taking it over ("output_refused",
 * "output_taken"): one line on stderr and one JSON event line. */
void braid_report_output_event(struct braid_report *r, uint64_t now_us, const char *event,
			       uint32_t session_id, uint32_t holder);

/* The same event as a JSON line in the stats stream (when there is one). */
void braid_report_event_json(struct braid_report *r, const struct braid_event *ev,
			     const char *link_name);

#endif
