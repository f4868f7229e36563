/* The units of link specs (tc's, plus durations and percentages) and mahimahi traces. */
#include "braid/emu.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "braid/error.h"

/* A non-negative finite number at the start of text; *end after it. */
static bool leading_number(const char *text, double *v, char **end)
{
	if (!text || !((*text >= '0' && *text <= '9') || *text == '.'))
		return false;
	errno = 0;
	*v = strtod(text, end);
	return errno == 0 && *end != text && isfinite(*v) && *v >= 0;
}

int braid_emu_parse_duration(const char *text, uint64_t *us)
{
	static const struct { const char *unit; double us; } units[] = {
		{ "us", 1 }, { "ms", 1e3 }, { "s", 1e6 },
	};
	double v;
	char *end;

	if (!leading_number(text, &v, &end))
		return BRAID_ERR_INVAL;
	if (*end == '\0' && v == 0) {
		*us = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double total = v * units[i].us;

		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (total > 1e15)
			return BRAID_ERR_INVAL;
		*us = (uint64_t)(total + 0.5);
		return 0;
	}
	return BRAID_ERR_INVAL;
}

int braid_emu_parse_rate(const char *text, double *bps)
{
	static const struct { const char *unit; double bits; } units[] = {
		{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
	};
	double v;
	char *end;

	if (!leading_number(text, &v, &end))
		return BRAID_ERR_INVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0 && v * units[i].bits <= 1e12) {
			*bps = v * units[i].bits;
			return 0;
		}
	}
	return BRAID_ERR_INVAL;
}

int braid_emu_parse_percent(const char *text, double *fraction)
{
	double v;
	char *end;

	if (!leading_number(text, &v, &end) || strcmp(end, "%") != 0 || v > 100)
		return BRAID_ERR_INVAL;
	*fraction = v / 100.0;
	return 0;
}

int braid_emu_parse_size(const char *text, uint64_t *bytes)
{
	static const struct { const char *unit; double bytes; } units[] = {
		{ "b", 1 }, { "kb", 1024 }, { "mb", 1048576 },
	};
	double v;
	char *end;

	if (!leading_number(text, &v, &end))
		return BRAID_ERR_INVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0 && v * units[i].bytes <= 1e12) {
			*bytes = (uint64_t)(v * units[i].bytes + 0.5);
			return 0;
		}
	}
	return BRAID_ERR_INVAL;
}

/* ---- traces ---- */

static int trace_push(uint32_t **ms, size_t *len, size_t *cap, uint32_t value)
{
	if (*len == *cap) {
		size_t grown = *cap ? *cap * 2 : 1024;
		uint32_t *bigger = realloc(*ms, grown * sizeof(**ms));

		if (!bigger)
			return BRAID_ERR_NOMEM;
		*ms = bigger;
		*cap = grown;
	}
	(*ms)[(*len)++] = value;
	return 0;
}

/* One line: blank, or a millisecond count not below the previous one. */
static int trace_line(const char *line, uint32_t **ms, size_t *len, size_t *cap)
{
	unsigned long long v;
	char *end;

	line += strspn(line, " \t");
	if (*line == '\0' || *line == '\n' || *line == '\r')
		return 0;
	if (*line < '0' || *line > '9')
		return BRAID_ERR_MALFORMED;
	errno = 0;
	v = strtoull(line, &end, 10);
	end += strspn(end, " \t\r\n");
	if (errno || *end || v > UINT32_MAX || (*len > 0 && v < (*ms)[*len - 1]))
		return BRAID_ERR_MALFORMED;
	if (*len >= BRAID_EMU_TRACE_MAX)
		return BRAID_ERR_TOO_BIG;
	return trace_push(ms, len, cap, (uint32_t)v);
}

int braid_emu_load_trace(const char *path, uint32_t **ms, size_t *len, char *err,
			 size_t err_len)
{
	FILE *f = fopen(path, "r");
	char line[128];
	unsigned line_no = 0;
	size_t cap = 0;
	int rc = 0;

	*ms = NULL;
	*len = 0;
	if (!f) {
		snprintf(err, err_len, "cannot read '%s': %s", path, strerror(errno));
		return BRAID_ERR_IO;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		line_no++;
		rc = trace_line(line, ms, len, &cap);
	}
	fclose(f);
	if (rc == 0 && (*len == 0 || (*ms)[*len - 1] == 0)) {
		snprintf(err, err_len, "'%s' holds no delivery opportunity after 0 ms", path);
		rc = BRAID_ERR_MALFORMED;
	} else if (rc) {
		snprintf(err, err_len, "'%s' line %u: %s", path, line_no,
			 rc == BRAID_ERR_MALFORMED ? "not a millisecond count in order"
						   : braid_strerror(rc));
	}
	if (rc) {
		free(*ms);
		*ms = NULL;
		*len = 0;
	}
	return rc;
}

