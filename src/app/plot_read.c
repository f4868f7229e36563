/* Reading a stats file for braid plot: each stats line adds one point to every series;
 * event lines are passed over (the states the stats lines carry show the same). */
#include "plot.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "json.h"

static bool series_add(struct plot_series *s, double t, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *t2 = realloc(s->t, cap * sizeof(double));
		if (t2)
			s->t = t2;
		double *v2 = t2 ? realloc(s->v, cap * sizeof(double)) : NULL;
		if (!v2)
			return false;
		s->v = v2;
		s->cap = cap;
	}
	s->t[s->n] = t;
	s->v[s->n++] = v;
	return true;
}

static void series_free(struct plot_series *s)
{
	free(s->t);
	free(s->v);
}

static double number(const struct braid_json *obj, const char *key)
{
	const struct braid_json *v = braid_json_get(obj, key);
	double d = 0;
	return v && braid_json_number(v, &d) ? d : 0;
}

static int state_index(const struct braid_json *link)
{
	const struct braid_json *s = braid_json_get(link, "state");
	for (int i = BRAID_LINK_DOWN; s && s->type == BRAID_JSON_STRING && i <= BRAID_LINK_HEALTHY;
	     i++)
		if (strcmp(s->string, braid_link_state_name((enum braid_link_state)i)) == 0)
			return i;
	return -1;
}

static struct plot_link *link_of(struct plot_data *d, const char *key)
{
	for (size_t i = 0; i < d->link_count; i++)
		if (strcmp(d->links[i].key, key) == 0)
			return &d->links[i];
	if (d->link_count == PLOT_MAX_LINKS)
		return NULL; /* drawn: the first ones */
	struct plot_link *l = &d->links[d->link_count++];
	memset(l, 0, sizeof(*l));
	snprintf(l->key, sizeof(l->key), "%s", key);
	return l;
}

static bool add_link(struct plot_data *d, double t, const char *session,
		     const struct braid_json *link, char *err, size_t err_len)
{
	const struct braid_json *name = braid_json_get(link, "name");
	int state = state_index(link);
	if (link->type != BRAID_JSON_OBJECT || !name || name->type != BRAID_JSON_STRING ||
	    state < 0) {
		snprintf(err, err_len, "a link without a name or a known state");
		return false;
	}
	char key[PLOT_KEY_MAX + 1];
	snprintf(key, sizeof(key), "%s%s%s", session ? session : "", session ? "/" : "",
		 name->string);
	struct plot_link *l = link_of(d, key);
	if (!l)
		return true;
	bool ok = series_add(&l->rate_kbps, t, number(link, "bitrate_kbps")) &&
		  series_add(&l->rtt_ms, t, number(link, "rtt_ms")) &&
		  series_add(&l->loss_pct, t, number(link, "loss") * 100) &&
		  series_add(&l->state, t, state);
	if (!ok)
		snprintf(err, err_len, "out of memory");
	return ok;
}

static bool add_links(struct plot_data *d, double t, const char *session,
		      const struct braid_json *links, char *err, size_t err_len)
{
	if (!links || links->type != BRAID_JSON_ARRAY) {
		snprintf(err, err_len, "no \"links\" array");
		return false;
	}
	for (size_t i = 0; i < links->count; i++)
		if (!add_link(d, t, session, &links->items[i], err, err_len))
			return false;
	return true;
}

/* The stream's rate between this line and the one before, from the byte totals. */
static bool add_stream(struct plot_data *d, double t, const struct braid_json *totals)
{
	static const char *const fields[2][2] = { { "bytes_out", NULL },
						  { "bytes_in", "bytes_out" } };
	d->stream_count = d->send ? 2 : 1;
	bool ok = true;
	for (size_t i = 0; i < d->stream_count; i++) {
		double bytes = number(totals, fields[d->send][i]);
		double dt = t - d->last_t;
		if (d->lines > 1 && dt > 0 && bytes >= d->last_bytes[i])
			ok = ok && series_add(&d->stream[i], t, (bytes - d->last_bytes[i]) * 8 /
								 dt / 1000);
		d->last_bytes[i] = bytes;
	}
	d->last_t = t;
	return ok;
}

static bool add_line(struct plot_data *d, const struct braid_json *line, char *err,
		     size_t err_len)
{
	const struct braid_json *role = braid_json_get(line, "role");
	const struct braid_json *t = braid_json_get(line, "t");
	const struct braid_json *totals = braid_json_get(line, "totals");
	double at;
	if (braid_json_get(line, "event"))
		return true;
	if (!role || role->type != BRAID_JSON_STRING || !t || !braid_json_number(t, &at) ||
	    !totals || totals->type != BRAID_JSON_OBJECT) {
		snprintf(err, err_len, "not a stats line (no role, t or totals)");
		return false;
	}
	bool send = strcmp(role->string, "send") == 0;
	if (d->lines && send != d->send) {
		snprintf(err, err_len, "lines of both roles: plot one program's file");
		return false;
	}
	d->send = send;
	d->lines++;
	d->t_end = at;
	if (send)
		return add_links(d, at, NULL, braid_json_get(line, "links"), err, err_len) &&
		       add_stream(d, at, totals);
	const struct braid_json *sessions = braid_json_get(line, "sessions");
	for (size_t i = 0; sessions && sessions->type == BRAID_JSON_ARRAY && i < sessions->count;
	     i++) {
		const struct braid_json *id = braid_json_get(&sessions->items[i], "session");
		if (!add_links(d, at, id && id->type == BRAID_JSON_STRING ? id->string : "?",
			       braid_json_get(&sessions->items[i], "links"), err, err_len))
			return false;
	}
	return add_stream(d, at, totals);
}

bool plot_read(FILE *f, struct plot_data *data, char *err, size_t err_len)
{
	char *text = NULL;
	size_t cap = 0;
	unsigned number_of_line = 0;
	ssize_t len;
	bool ok = true;
	memset(data, 0, sizeof(*data));
	while (ok && (len = getline(&text, &cap, f)) >= 0) {
		number_of_line++;
		if (strspn(text, " \t\r\n") == (size_t)len)
			continue;
		struct braid_json line;
		char why[160];
		ok = braid_json_parse_reals(text, (size_t)len, &line, why, sizeof(why)) &&
		     add_line(data, &line, why, sizeof(why));
		if (!ok)
			snprintf(err, err_len, "line %u: %s", number_of_line, why);
		braid_json_free(&line);
	}
	free(text);
	if (ok && ferror(f)) {
		snprintf(err, err_len, "read error");
		ok = false;
	}
	if (ok && data->lines == 0) {
		snprintf(err, err_len, "no stats lines (is this a --stats file?)");
		ok = false;
	}
	return ok;
}

void plot_free(struct plot_data *data)
{
	for (size_t i = 0; i < data->link_count; i++) {
		series_free(&data->links[i].rate_kbps);
		series_free(&data->links[i].rtt_ms);
		series_free(&data->links[i].loss_pct);
		series_free(&data->links[i].state);
	}
	for (size_t i = 0; i < 2; i++)
		series_free(&data->stream[i]);
}
