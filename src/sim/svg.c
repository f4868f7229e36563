/* The run as a picture: stacked panels on one time axis — throughput per link against the
 * model's capacity, the sender's RTT and loss per link, and the output's continuity — with
 * link deaths shaded, the sender's down/up decisions and the scenario's events marked.
 * Plain SVG 1.1 text, no scripts and no external resources, so any renderer draws it. */
#include <math.h>
#include <string.h>

#include "braid/error.h"
#include "sim/sim_internal.h"

#define WIDTH 1200.0
#define LEFT 80.0
#define RIGHT 30.0
#define EVENT_ROWS 3
#define EVENT_ROW_PX 13.0
#define MAX_EVENT_LABELS 40
#define LEGEND_ROW_PX 18.0
#define LEGEND_KEYS_PX 530.0
#define MAX_MARK_LINES 8
#define CAPACITY_MEAN_US 500000.0 /* a trace's capacity is drawn as a moving mean */
#define CHAR_PX 6.2 /* rough width of a character at 11 px, to keep labels apart */

static const char *const link_colors[] = {
	"#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
};
#define COLOR_OK "#2ca02c"
#define COLOR_LOST "#d62728"

enum series { RATE, CAPACITY, RTT, LOSS };

struct panel {
	double top, height, y_max;
	const char *title, *unit;
};

struct plot {
	FILE *f;
	struct braid_sim *sim;
	const struct braid_sim_metrics *m;
	double t_max; /* seconds shown */
	struct panel rate, rtt, loss, strip;
	double height;
};

static const char *color_of(size_t link)
{
	return link_colors[link % (sizeof(link_colors) / sizeof(link_colors[0]))];
}

static double xpx(const struct plot *p, double t_s)
{
	double x = LEFT + t_s / p->t_max * (WIDTH - LEFT - RIGHT);

	return x < LEFT ? LEFT : x > WIDTH - RIGHT ? WIDTH - RIGHT : x;
}

static double ypx(const struct panel *pn, double v)
{
	double y = pn->top + pn->height - v / pn->y_max * pn->height;

	return y < pn->top ? pn->top : y;
}

/* Text content, escaped for XML. */
static void text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else
			fputc(*s, f);
	}
}

/* 1, 2 or 5 times a power of ten, giving about `ticks` steps over range. */
static double nice_step(double range, int ticks)
{
	double raw = range / ticks, p = pow(10, floor(log10(raw))), r = raw / p;

	return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * p;
}

static double sample_value(const struct sim_sample *s, enum series which)
{
	switch (which) {
	case RATE:
		return s->rate_mbps;
	case CAPACITY:
		return s->capacity_mbps;
	case RTT:
		return s->rtt_ms;
	case LOSS:
		return s->loss * 100.0;
	}
	return NAN;
}

static const struct sim_sample *sample(const struct plot *p, size_t k, size_t link)
{
	return &p->sim->samples[k * p->sim->link_count + link];
}

/* What is drawn at sample k: the sample, or for the capacity of a link replaying a trace
 * (spiky: opportunities come in bursts) a mean over the samples around it, never across
 * the start or end of a death, so that an outage stays a step. */
static double drawn_value(const struct plot *p, size_t k, size_t link, enum series which)
{
	size_t half = (size_t)(CAPACITY_MEAN_US / (double)p->sim->bucket_us / 2), n = 0;
	uint8_t dead = sample(p, k, link)->dead;
	double sum = 0;

	if (which != CAPACITY || half == 0 ||
	    p->sim->links[link].cfg.fwd.rate_kind != BRAID_RATE_TRACE)
		return sample_value(sample(p, k, link), which);
	for (size_t j = k > half ? k - half : 0; j <= k + half && j < p->sim->samples_taken; j++) {
		double v = sample_value(sample(p, j, link), which);

		if (!isnan(v) && sample(p, j, link)->dead == dead) {
			sum += v;
			n++;
		}
	}
	return n ? sum / (double)n : NAN;
}

/* The sample's time: a rate is the mean over its bucket, the rest are read at its end. */
static double sample_time(const struct plot *p, size_t k, enum series which)
{
	double bucket_s = (double)p->sim->bucket_us / 1e6;

	return (double)k * bucket_s + (which == RATE ? 0.5 : 1.0) * bucket_s;
}

/* A scale that shows the bulk of the values: the 98th percentile of what is plotted, so
 * that one spike (a trace's burst) does not flatten everything else. */
static double scale_of(const struct plot *p, enum series which, double at_least)
{
	size_t n = p->sim->samples_taken * p->sim->link_count, count = 0, above;
	double lo = 0, hi = at_least;

	for (size_t i = 0; i < n; i++) {
		double v = sample_value(&p->sim->samples[i], which);

		if (!isnan(v) && v > hi)
			hi = v;
	}
	/* bisection on the value below which 98 % of the samples fall */
	for (int iter = 0; iter < 40 && n; iter++) {
		double mid = (lo + hi) / 2;

		above = 0;
		count = 0;
		for (size_t i = 0; i < n; i++) {
			double v = sample_value(&p->sim->samples[i], which);

			if (isnan(v))
				continue;
			count++;
			above += v > mid;
		}
		if ((double)above > 0.02 * (double)count)
			lo = mid;
		else
			hi = mid;
	}
	return hi > at_least ? hi * 1.12 : at_least * 1.12;
}

/* ---- frame ---- */

static void panel_frame(const struct plot *p, const struct panel *pn)
{
	FILE *f = p->f;
	double step = nice_step(pn->y_max, 4);

	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">", LEFT, pn->top - 7);
	text(f, pn->title);
	fprintf(f, "</text>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"class=\"frame\"/>\n", LEFT, pn->top, WIDTH - LEFT - RIGHT, pn->height);
	for (double v = 0; *pn->unit && v <= pn->y_max * 1.0001; v += step) {
		double y = ypx(pn, v);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g"
			"</text>\n", LEFT, y, WIDTH - RIGHT, y, LEFT - 6, y + 4, v);
	}
	fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" class=\"unit\" "
		"text-anchor=\"middle\">", 22.0, pn->top + pn->height / 2);
	text(f, pn->unit);
	fprintf(f, "</text>\n");
}

static void time_axis(const struct plot *p)
{
	FILE *f = p->f;
	double step = nice_step(p->t_max, 12), bottom = p->strip.top + p->strip.height;

	for (double t = 0; t <= p->t_max * 1.0001; t += step) {
		double x = xpx(p, t);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%g"
			"</text>\n", x, p->rate.top, x, bottom, x, bottom + 16, t);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"unit\" text-anchor=\"middle\">time (s)"
		"</text>\n", (LEFT + WIDTH - RIGHT) / 2, bottom + 34);
}

/* ---- data ---- */

/* Links often carry the same thing (broadcast): the first ones are drawn wider, under the
 * later ones, so that lines on top of each other still show every colour. */
static double line_width(const struct plot *p, size_t link, enum series which)
{
	size_t n = p->sim->link_count;

	if (which == CAPACITY)
		return 1.4;
	return n <= 1 || n > 6 ? 1.5 : 1.5 + 1.3 * (double)(n - 1 - link);
}

/* One link's series as polylines, broken where there is nothing to show. */
static void series_line(const struct plot *p, const struct panel *pn, size_t link,
			enum series which, const char *cls)
{
	FILE *f = p->f;
	bool open = false;

	for (size_t k = 0; k < p->sim->samples_taken; k++) {
		double v = drawn_value(p, k, link, which);

		if (isnan(v)) {
			if (open)
				fprintf(f, "\"/>\n");
			open = false;
			continue;
		}
		if (!open)
			fprintf(f, "<polyline class=\"%s\" stroke=\"%s\" stroke-width=\"%.1f\" "
				"points=\"", cls, color_of(link), line_width(p, link, which));
		fprintf(f, "%.1f,%.1f ", xpx(p, sample_time(p, k, which)),
			ypx(pn, v > pn->y_max ? pn->y_max : v));
		open = true;
	}
	if (open)
		fprintf(f, "\"/>\n");
}

/* The output per bucket of send time, consecutive buckets of one colour merged. */
static void continuity_strip(const struct plot *p)
{
	const struct braid_sim *sim = p->sim;
	double bucket_s = (double)sim->bucket_us / 1e6;
	size_t b = 0;

	while (sim->bucket_due && b < sim->bucket_count) {
		int kind = sim->bucket_due[b] == 0 ? 0 :
			   sim->bucket_released[b] == sim->bucket_due[b] ? 1 : 2;
		size_t end = b + 1;

		while (end < sim->bucket_count &&
		       (sim->bucket_due[end] == 0 ? 0 :
			sim->bucket_released[end] == sim->bucket_due[end] ? 1 : 2) == kind)
			end++;
		if (kind) {
			double x0 = xpx(p, (double)b * bucket_s);
			double x1 = xpx(p, (double)end * bucket_s);

			/* a lost bucket stays visible however long the run */
			if (kind == 2 && x1 - x0 < 2)
				x1 = x0 + 2;
			fprintf(p->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\"/>\n", x0, p->strip.top, x1 - x0, p->strip.height,
				kind == 1 ? COLOR_OK : COLOR_LOST);
		}
		b = end;
	}
}

static void death_bands(const struct plot *p)
{
	const struct braid_sim_metrics *m = p->m;
	double top = p->rate.top, bottom = p->strip.top + p->strip.height;

	for (size_t i = 0; i < m->failover_count; i++) {
		const struct braid_sim_failover *d = &m->failovers[i];
		double t1 = d->back_us == SIM_NEVER ? p->t_max : (double)d->back_us / 1e6;
		double x0 = xpx(p, (double)d->dead_us / 1e6), x1 = xpx(p, t1);

		fprintf(p->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"class=\"dead\"/>\n<text x=\"%.1f\" y=\"%.1f\" class=\"small\">", x0, top,
			x1 - x0 > 1 ? x1 - x0 : 1, bottom - top, x0 + 4, top + 25);
		text(p->f, d->link);
		fprintf(p->f, " dead</text>\n");
	}
}

static void link_marks(const struct plot *p)
{
	const struct braid_sim *sim = p->sim;
	size_t downs = 0;
	double top = p->rate.top, bottom = p->strip.top + p->strip.height;

	for (size_t i = 0; i < sim->mark_count; i++)
		downs += sim->marks[i].kind == SIM_MARK_DOWN;
	for (size_t i = 0; i < sim->mark_count; i++) {
		const struct sim_mark *mk = &sim->marks[i];
		double x = xpx(p, (double)mk->t_us / 1e6);

		if (mk->kind == SIM_MARK_EVENT || mk->link >= sim->link_count)
			continue;
		if (mk->kind == SIM_MARK_DOWN && downs <= MAX_MARK_LINES)
			fprintf(p->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				"class=\"down\" stroke=\"%s\"/>\n", x, top, x, bottom,
				color_of(mk->link));
		if (mk->kind == SIM_MARK_DOWN)
			fprintf(p->f, "<path d=\"M%.1f %.1fl-5 -9h10z\" fill=\"%s\"/>\n", x,
				top + 11, color_of(mk->link));
		else
			fprintf(p->f, "<path d=\"M%.1f %.1fl-5 9h10z\" fill=\"white\" "
				"stroke=\"%s\" stroke-width=\"1.5\"/>\n", x, top + 2,
				color_of(mk->link));
	}
}

/* Scenario events: a dotted line, and a label in the first free row above the panels. */
static void event_marks(const struct plot *p, double label_top)
{
	const struct braid_sim *sim = p->sim;
	double row_end[EVENT_ROWS] = { 0 }, bottom = p->strip.top + p->strip.height;
	size_t labels = 0;

	for (size_t i = 0; i < sim->mark_count; i++) {
		const struct sim_mark *mk = &sim->marks[i];
		const struct braid_emu_event *ev;
		char label[160];
		double x, w;
		int row = 0;

		if (mk->kind != SIM_MARK_EVENT || mk->event >= sim->sc->emu.event_count)
			continue;
		ev = &sim->sc->emu.events[mk->event];
		x = xpx(p, (double)mk->t_us / 1e6);
		fprintf(p->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"class=\"event\"/>\n", x, label_top, x, bottom);
		/* long keys (trace paths) are cut: the label names the change, the file has it */
		snprintf(label, sizeof(label), "%.32s %.60s", ev->link,
			 ev->action == BRAID_EMU_SET ? ev->keys :
			 ev->action == BRAID_EMU_BLACKHOLE_ON ? "blackhole on" :
			 ev->action == BRAID_EMU_BLACKHOLE_OFF ? "blackhole off" :
			 "blackhole toggle");
		w = (double)strlen(label) * CHAR_PX;
		while (row < EVENT_ROWS && row_end[row] > x)
			row++;
		if (row == EVENT_ROWS || labels++ >= MAX_EVENT_LABELS)
			continue;
		row_end[row] = x + w + 8;
		fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">", x + 3,
			label_top + EVENT_ROW_PX * (row + 1) - 3);
		text(p->f, label);
		fprintf(p->f, "</text>\n");
	}
}

/* ---- header ---- */

static void title(const struct plot *p)
{
	const struct braid_sim_scenario *sc = p->sim->sc;
	const struct braid_sim_metrics *m = p->m;
	FILE *f = p->f;

	fprintf(f, "<text x=\"%.1f\" y=\"26\" class=\"head\">braid sim: ", LEFT);
	text(f, sc->name);
	fprintf(f, "</text>\n<text x=\"%.1f\" y=\"46\" class=\"sub\">mode %s, latency %.0f ms, "
		"stream %.2f Mbit/s, seed %llu. Output: %.3f %% lost, %llu gaps (longest %.0f ms), "
		"%.2f %% resent", LEFT, braid_mode_name(sc->sender.mode),
		(double)sc->sender.latency_us / 1000.0, sc->stream_rate_bps / 1e6,
		(unsigned long long)sc->seed, m->residual_loss * 100,
		(unsigned long long)m->gaps, m->longest_gap_ms, m->retransmission_rate * 100);
	if (!isnan(m->max_detection_ms))
		fprintf(f, ", link death detected in %.0f ms at most", m->max_detection_ms);
	fprintf(f, ".</text>\n");
}

/* What the marks mean. */
static void legend_keys(FILE *f, double x, double y)
{
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"cap\" "
		"stroke=\"#555\"/><text x=\"%.1f\" y=\"%.1f\" class=\"legend\">capacity</text>\n"
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"12\" class=\"dead\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">link dead (outage, blackhole)"
		"</text>\n"
		"<path d=\"M%.1f %.1fl-5 -9h10z\" fill=\"#555\"/><path d=\"M%.1f %.1fl-5 9h10z\" "
		"fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\"/><text x=\"%.1f\" y=\"%.1f\" "
		"class=\"legend\">sender: link down / up</text>\n", x, y - 4, x + 30, y - 4,
		x + 35, y, x + 110, y - 11, x + 131, y, x + 340, y + 1, x + 352, y - 9, x + 362, y);
}

/* One entry per link, then the keys, in rows as wide as the plot. Returns the last row's
 * baseline; draws only when draw is set (the layout measures first). */
static double legend(const struct plot *p, double y, bool draw)
{
	double x = LEFT;

	for (size_t i = 0; i < p->sim->link_count; i++) {
		const char *name = p->sim->links[i].cfg.name;
		double w = 40 + (double)strlen(name) * 7.5;

		if (x + w > WIDTH - RIGHT && x > LEFT) {
			x = LEFT;
			y += LEGEND_ROW_PX;
		}
		if (draw) {
			fprintf(p->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				"stroke=\"%s\" stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\" "
				"class=\"legend\">", x, y - 4, x + 22, y - 4, color_of(i), x + 27, y);
			text(p->f, name);
			fprintf(p->f, "</text>\n");
		}
		x += w;
	}
	if (x + LEGEND_KEYS_PX > WIDTH - RIGHT && x > LEFT) {
		x = LEFT - 10;
		y += LEGEND_ROW_PX;
	}
	if (draw)
		legend_keys(p->f, x + 10, y);
	return y;
}

static void layout(struct plot *p, double top)
{
	const struct braid_sim_scenario *sc = p->sim->sc;

	p->rate = (struct panel){ top, 210, 0, "Throughput delivered per link (dashed: the "
				  "link's capacity, traces' over 0.5 s; dotted: the stream's rate)",
				  "Mbit/s" };
	p->rtt = (struct panel){ p->rate.top + p->rate.height + 34, 140, 0,
				 "Round-trip time per link, as the sender measures it", "ms" };
	p->loss = (struct panel){ p->rtt.top + p->rtt.height + 34, 110, 0,
				  "Loss per link, as the sender estimates it", "%" };
	p->strip = (struct panel){ p->loss.top + p->loss.height + 34, 34, 1,
				   "Output by send time: green = every packet released, red = "
				   "packets lost", "" };
	p->height = p->strip.top + p->strip.height + 48;
	p->rate.y_max = scale_of(p, RATE, sc->stream_rate_bps / 1e6);
	double cap = scale_of(p, CAPACITY, 0);
	if (cap > p->rate.y_max)
		p->rate.y_max = cap;
	p->rtt.y_max = scale_of(p, RTT, 10);
	p->loss.y_max = scale_of(p, LOSS, 2);
}

int braid_sim_write_svg(FILE *f, struct braid_sim *sim)
{
	struct plot p = { .f = f, .sim = sim, .m = braid_sim_metrics(sim) };
	double stream_y, legend_end;

	p.t_max = (double)(sim->now - SIM_BASE_US) / 1e6;
	if (p.t_max <= 0)
		p.t_max = 1;
	legend_end = legend(&p, 72, false);
	layout(&p, legend_end + 26 + EVENT_ROWS * EVENT_ROW_PX);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, "
		"sans-serif\">\n<style>\n"
		".head{font-size:19px;font-weight:bold}.sub{font-size:13px;fill:#333}\n"
		".title{font-size:13px;font-weight:bold;fill:#222}.tick{font-size:11px;fill:#444}\n"
		".unit{font-size:12px;fill:#222}.legend{font-size:12px}.small{font-size:11px;"
		"fill:#333}\n.frame{fill:none;stroke:#888}.grid{stroke:#e4e4e4}\n"
		".rate{fill:none}.cap{fill:none;"
		"stroke-dasharray:6 4;opacity:0.75}\n.dead{fill:#000;opacity:0.10}"
		".event{stroke:#444;stroke-dasharray:2 3}.down{stroke-dasharray:4 3;opacity:0.7}\n"
		"</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		WIDTH, p.height, WIDTH, p.height);
	title(&p);
	legend(&p, 72, true);
	panel_frame(&p, &p.rate);
	panel_frame(&p, &p.rtt);
	panel_frame(&p, &p.loss);
	panel_frame(&p, &p.strip);
	time_axis(&p);
	continuity_strip(&p);
	death_bands(&p);
	stream_y = ypx(&p.rate, sim->sc->stream_rate_bps / 1e6);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
		"stroke-dasharray=\"1 3\" stroke-width=\"1.5\"/>\n", LEFT, stream_y, WIDTH - RIGHT,
		stream_y);
	for (size_t i = 0; i < sim->link_count; i++) {
		series_line(&p, &p.rate, i, CAPACITY, "cap");
		series_line(&p, &p.rate, i, RATE, "rate");
		series_line(&p, &p.rtt, i, RTT, "rate");
		series_line(&p, &p.loss, i, LOSS, "rate");
	}
	event_marks(&p, legend_end + 20);
	link_marks(&p);
	fprintf(f, "</svg>\n");
	return ferror(f) ? BRAID_ERR_IO : 0;
}
