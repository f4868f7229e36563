/* Scenario files, and --traces: the trace files of a directory in place of a scenario's. */
#include "sim/sim.h"
#include "scenario/files.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "braid/error.h"

/* A scenario is a hand-written file: larger is a mistake. */

static void name_from_path(struct braid_sim_scenario *sc, const char *path)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t n = strlen(base);

	if (n > 4 && strcmp(base + n - 4, ".scn") == 0)
		n -= 4;
	if (n > BRAID_SIM_NAME_MAX)
		n = BRAID_SIM_NAME_MAX;
	memcpy(sc->name, base, n);
	sc->name[n] = '\0';
}

int braid_sim_scenario_load(struct braid_sim_scenario *sc, const char *path, char *err,
			    size_t err_len)
{
	char *text, *dir = strdup(path), *slash;
	int rc;

	if (!dir) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0'; /* "/x.scn" lives in "/" */
	rc = braid_emu_read_text(path, &text, err, err_len);
	if (rc == 0) {
		name_from_path(sc, path);
		rc = braid_sim_scenario_parse(sc, text, path, slash ? dir : NULL, err, err_len);
		free(text);
	}
	free(dir);
	return rc;
}

/* ---- replacing traces ---- */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.up files in dir, in byte order of their names (as LC_ALL=C ls lists them). */
static int list_up_files(const char *dir, char ***names, size_t *count, char *err,
			 size_t err_len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;

	*names = NULL;
	*count = 0;
	if (!d) {
		snprintf(err, err_len, "cannot read the directory '%s': %s", dir, strerror(errno));
		return BRAID_ERR_IO;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n <= 3 || strcmp(e->d_name + n - 3, ".up") != 0)
			continue;
		if (*count == cap) {
			cap = cap ? 2 * cap : 16;
			char **grown = realloc(*names, cap * sizeof(*grown));
			if (!grown)
				break;
			*names = grown;
		}
		(*names)[*count] = strdup(e->d_name);
		if (!(*names)[*count])
			break;
		(*count)++;
	}
	closedir(d);
	if (e) {
		snprintf(err, err_len, "%s", braid_strerror(BRAID_ERR_NOMEM));
		return BRAID_ERR_NOMEM;
	}
	if (*count)
		qsort(*names, *count, sizeof(**names), compare_names);
	return 0;
}

static int use_trace_pair(struct braid_sim_scenario *sc, size_t link, const char *dir,
			  const char *up_name, char *err, size_t err_len)
{
	char keys[BRAID_EMU_SPEC_MAX], down[BRAID_EMU_SPEC_MAX], stem[256];
	int n;

	snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(up_name) - 3), up_name);

	if (strpbrk(dir, ",;") || strpbrk(stem, ",;")) {
		snprintf(err, err_len, "trace paths may not hold , or ;");
		return BRAID_ERR_INVAL;
	}
	snprintf(down, sizeof(down), "%s/%s.down", dir, stem);
	n = snprintf(keys, sizeof(keys), "trace=%s/%s.up", dir, stem);
	if (n > 0 && (size_t)n < sizeof(keys) && access(down, R_OK) == 0)
		n = snprintf(keys + n, sizeof(keys) - (size_t)n, ",rev.trace=%s", down) + n;
	if (n < 0 || (size_t)n >= sizeof(keys)) {
		snprintf(err, err_len, "trace path too long");
		return BRAID_ERR_TOO_BIG;
	}
	if (braid_emu_apply_keys(&sc->emu.links[link], keys, err, err_len))
		return BRAID_ERR_INVAL;
	/* a long name is cut: it only labels the link in reports */
	snprintf(sc->link_options[link].trace, sizeof(sc->link_options[link].trace), "%.*s",
		 BRAID_SIM_NAME_MAX, up_name);
	return 0;
}

int braid_sim_scenario_use_traces(struct braid_sim_scenario *sc, const char *dir, char *err,
				  size_t err_len)
{
	char **names;
	size_t count, used = 0;
	int rc = list_up_files(dir, &names, &count, err, err_len);

	for (size_t i = 0; rc == 0 && i < sc->emu.link_count; i++) {
		if (sc->emu.links[i].fwd.rate_kind != BRAID_RATE_TRACE)
			continue;
		if (used == count) {
			snprintf(err, err_len, "'%s' has %zu *.up files, fewer than the scenario's "
				 "trace links", dir, count);
			rc = BRAID_ERR_INVAL;
			break;
		}
		rc = use_trace_pair(sc, i, dir, names[used++], err, err_len);
	}
	if (rc == 0 && used == 0) {
		snprintf(err, err_len, "no link of the scenario replays a trace");
		rc = BRAID_ERR_INVAL;
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}
