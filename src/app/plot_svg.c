/* braid plot's picture: panels on one time axis (the stream, then each link's throughput,
 * RTT, loss and state), plain SVG 1.1 with no script and nothing from elsewhere. Each
 * panel is a <g> that states its geometry and scale (data-top, data-height, data-y-max)
 * and each line names its series (data-series), so a reader can check what is drawn. */
#include "plot.h"

#include <math.h>
#include <string.h>

#define WIDTH 1000.0
#define LEFT 72.0
#define RIGHT 20.0
#define PANEL_PX 150.0
#define PANEL_GAP 46.0  /* room for a panel's title above it and its time labels below */
#define STATE_ROW_PX 22.0
#define HEADER_PX 64.0

static const char *const colours[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
				       "#ff7f0e", "#17becf", "#8c564b", "#e377c2" };
static const char *const state_colours[] = { "#d62728", "#ff9f1c", "#2ca02c" };

struct canvas {
	FILE *f;
	const struct plot_data *d;
	double t_start, t_end;
};

static const char *colour(size_t i)
{
	return colours[i % (sizeof(colours) / sizeof(colours[0]))];
}

/* Text or an attribute value with the characters XML reserves escaped. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static double x_of(const struct canvas *c, double t)
{
	double span = c->t_end > c->t_start ? c->t_end - c->t_start : 1;
	return LEFT + (t - c->t_start) / span * (WIDTH - LEFT - RIGHT);
}

/* A round top for the scale: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_max(double v)
{
	if (!(v > 0))
		return 1;
	double p = pow(10, floor(log10(v)));
	static const double steps[] = { 1, 2, 2.5, 5, 10 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * p >= v * (1 - 1e-9))
			return steps[i] * p;
	return 10 * p;
}

static void time_labels(const struct canvas *c, double bottom)
{
	static const double steps[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600 };
	double span = c->t_end - c->t_start, step = 3600;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] <= 10) {
			step = steps[i];
			break;
		}
	for (double s = ceil(c->t_start / step) * step; s <= c->t_end + 1e-9; s += step)
		fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">"
			"%g s</text>\n", x_of(c, s), bottom + 14, s);
}

static void panel_open(const struct canvas *c, const char *id, const char *title, double top,
		       double height, double y_max)
{
	fprintf(c->f, "<g id=\"panel-%s\" data-top=\"%.1f\" data-height=\"%.1f\" "
		"data-y-max=\"%.9g\">\n", id, top, height, y_max);
	fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", LEFT, top - 8,
		title);
	fprintf(c->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"class=\"frame\"/>\n", LEFT, top, WIDTH - LEFT - RIGHT, height);
	time_labels(c, top + height);
}

static void y_grid(const struct canvas *c, double top, double height, double y_max)
{
	for (int i = 0; i <= 4; i++) {
		double v = y_max * i / 4, y = top + height - height * i / 4;
		fprintf(c->f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g</text>\n",
			LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y + 4, v);
	}
}

static void polyline(const struct canvas *c, const struct plot_series *s, const char *key,
		     const char *stroke, double top, double height, double y_max)
{
	fputs("<polyline data-series=\"", c->f);
	xml_text(c->f, key);
	fprintf(c->f, "\" stroke=\"%s\" points=\"", stroke);
	for (size_t i = 0; i < s->n; i++)
		fprintf(c->f, "%s%.1f,%.1f", i ? " " : "", x_of(c, s->t[i]),
			top + height - s->v[i] / y_max * height);
	fputs("\"/>\n", c->f);
}

/* A panel of lines, each with its name and colour. */
struct lines {
	const struct plot_series *series[PLOT_MAX_LINKS];
	const char *names[PLOT_MAX_LINKS];
	size_t count, first_colour;
};

static double line_panel(const struct canvas *c, double top, const char *id,
			 const char *title, const struct lines *l)
{
	double max = 0;
	for (size_t i = 0; i < l->count; i++)
		for (size_t k = 0; k < l->series[i]->n; k++)
			max = l->series[i]->v[k] > max ? l->series[i]->v[k] : max;
	double y_max = nice_max(max * 1.05);
	panel_open(c, id, title, top, PANEL_PX, y_max);
	y_grid(c, top, PANEL_PX, y_max);
	for (size_t i = 0; i < l->count; i++)
		polyline(c, l->series[i], l->names[i], colour(l->first_colour + i), top,
			 PANEL_PX, y_max);
	fputs("</g>\n", c->f);
	return top + PANEL_PX + PANEL_GAP;
}

enum link_measure { RATE, RTT, LOSS };

static struct lines link_lines(const struct plot_data *d, enum link_measure m)
{
	struct lines l = { .count = d->link_count };
	for (size_t i = 0; i < d->link_count; i++) {
		const struct plot_link *link = &d->links[i];
		l.series[i] = m == RATE ? &link->rate_kbps : m == RTT ? &link->rtt_ms :
					  &link->loss_pct;
		l.names[i] = link->key;
	}
	return l;
}

static struct lines stream_lines(const struct plot_data *d)
{
	static const char *const names[2][2] = { { "released", "" },
						  { "from encoder", "sent on links" } };
	struct lines l = { .count = d->stream_count, .first_colour = 4 };
	for (size_t i = 0; i < d->stream_count; i++) {
		l.series[i] = &d->stream[i];
		l.names[i] = names[d->send][i];
	}
	return l;
}

/* One row per link, each interval between two lines coloured by the later one's state. */
static double state_panel(const struct canvas *c, double top)
{
	const struct plot_data *d = c->d;
	double height = STATE_ROW_PX * (double)(d->link_count ? d->link_count : 1);
	panel_open(c, "state", "State per link", top, height, 2);
	for (size_t i = 0; i < d->link_count; i++) {
		const struct plot_series *s = &d->links[i].state;
		double y = top + STATE_ROW_PX * (double)i;
		fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">",
			LEFT - 6, y + STATE_ROW_PX / 2 + 4);
		/* the link's name: its session, if any, is in the legend */
		const char *slash = strrchr(d->links[i].key, '/');
		xml_text(c->f, slash ? slash + 1 : d->links[i].key);
		fputs("</text>\n", c->f);
		for (size_t k = 1; k < s->n; k++) {
			int state = (int)s->v[k];
			const char *name = braid_link_state_name((enum braid_link_state)state);
			double x0 = x_of(c, s->t[k - 1]), x1 = x_of(c, s->t[k]);
			fprintf(c->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\" class=\"state-%s\" data-series=\"", x0, y + 2,
				x1 - x0 > 0.5 ? x1 - x0 : 0.5, STATE_ROW_PX - 4,
				state_colours[state], name);
			xml_text(c->f, d->links[i].key);
			fputs("\"/>\n", c->f);
		}
	}
	fputs("</g>\n", c->f);
	return top + height + PANEL_GAP;
}

static void legend(const struct canvas *c)
{
	double x = LEFT;
	for (size_t i = 0; i < c->d->link_count; i++) {
		fprintf(c->f, "<rect x=\"%.1f\" y=\"38\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%.1f\" y=\"48\" class=\"tick\">", x, colour(i), x + 16);
		xml_text(c->f, c->d->links[i].key);
		fputs("</text>\n", c->f);
		x += 28 + 7.0 * (double)strlen(c->d->links[i].key);
	}
}

bool plot_write_svg(FILE *f, const struct plot_data *d, const char *title)
{
	struct canvas c = { f, d, 0, d->t_end };
	double height = HEADER_PX + 16 + 4 * (PANEL_PX + PANEL_GAP) +
			STATE_ROW_PX * (double)(d->link_count ? d->link_count : 1) + PANEL_GAP;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
		"<style>text{font:11px sans-serif;fill:#334}.title{font-weight:bold;font-size:13px}"
		".frame{fill:none;stroke:#99a}.grid{stroke:#e4e6ea}"
		"polyline{fill:none;stroke-width:1.8}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
		"<text x=\"%.1f\" y=\"22\" class=\"title\">braid %s: ", WIDTH, height, WIDTH, height,
		LEFT, d->send ? "send" : "recv");
	xml_text(f, title);
	fprintf(f, " (%zu stats lines, %.1f s)</text>\n", d->lines, d->t_end);
	legend(&c);
	double top = HEADER_PX + 16;
	struct lines l = stream_lines(d);
	top = line_panel(&c, top, "stream", d->send ? "Stream in and out (kbit/s)" :
			 "Bonded output (kbit/s)", &l);
	l = link_lines(d, RATE);
	top = line_panel(&c, top, "throughput", "Throughput per link (kbit/s)", &l);
	l = link_lines(d, RTT);
	top = line_panel(&c, top, "rtt", "RTT per link (ms)", &l);
	l = link_lines(d, LOSS);
	top = line_panel(&c, top, "loss", "Loss per link (%)", &l);
	state_panel(&c, top);
	fputs("</svg>\n", f);
	return !ferror(f);
}
