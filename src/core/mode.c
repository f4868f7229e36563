/* The sender modes' names, as the command lines and reports spell them. */
#include "braid/common.h"

#include <string.h>

static const char *const mode_names[BRAID_MODE_COUNT] = {
	[BRAID_MODE_BROADCAST] = "broadcast",
	[BRAID_MODE_ROUNDROBIN] = "roundrobin",
	[BRAID_MODE_WEIGHTED] = "weighted",
	[BRAID_MODE_BACKUP] = "backup",
	[BRAID_MODE_ADAPTIVE] = "adaptive",
};

const char *braid_mode_name(enum braid_mode mode)
{
	if ((unsigned)mode >= BRAID_MODE_COUNT)
		return "unknown";
	return mode_names[mode];
}

int braid_mode_parse(const char *name)
{
	int mode;

	if (name == NULL)
		return -1;
	for (mode = 0; mode < BRAID_MODE_COUNT; mode++) {
		if (strcmp(name, mode_names[mode]) == 0)
			return mode;
	}
	return -1;
}

