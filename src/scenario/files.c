/* Reading the files a scenario names: the scenario text itself and mahimahi traces. The
 * only part of the scenario library that touches the file system; no sockets, no clock. */
#include "scenario/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"

/* A scenario is a hand-written file: larger is a mistake. */
#define SCENARIO_MAX_BYTES (1u << 20)

int braid_emu_read_text(const char *path, char **out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	int rc;

	if (!f) {
		snprintf(err, err_len, "cannot read '%s': %s", path, strerror(errno));
		return BRAID_ERR_IO;
	}
	text = malloc(SCENARIO_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	n = fread(text, 1, SCENARIO_MAX_BYTES + 1, f);
	rc = ferror(f) ? BRAID_ERR_IO : n > SCENARIO_MAX_BYTES ? BRAID_ERR_TOO_BIG : 0;
	fclose(f);
	if (rc == 0 && memchr(text, '\0', n))
		rc = BRAID_ERR_MALFORMED;
	if (rc) {
		snprintf(err, err_len, "cannot read '%s': %s", path, braid_strerror(rc));
		free(text);
		return rc;
	}
	text[n] = '\0';
	*out = text;
	return 0;
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

