/* The units of link specs: tc's, plus durations and percentages. */
#include "scenario/scenario.h"

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

