/* Scenario events and commands applied to running relays. */
#include "emu/relay.h"

#include <stdio.h>
#include <string.h>

#include "braid/error.h"

static int apply_one(struct braid_emu_relay *r, const struct braid_emu_event *ev, char *err,
		     size_t err_len)
{
	switch (ev->action) {
	case BRAID_EMU_BLACKHOLE_ON:
		braid_emu_relay_set_blackhole(r, true);
		return 0;
	case BRAID_EMU_BLACKHOLE_OFF:
		braid_emu_relay_set_blackhole(r, false);
		return 0;
	case BRAID_EMU_BLACKHOLE_TOGGLE:
		braid_emu_relay_set_blackhole(r, !braid_emu_relay_blackhole(r));
		return 0;
	case BRAID_EMU_SET:
		return braid_emu_relay_apply_keys(r, ev->keys, err, err_len);
	}
	snprintf(err, err_len, "unknown action");
	return BRAID_ERR_INVAL;
}

int braid_emu_apply_event(struct braid_emu_relay *const *relays, size_t count,
			  const struct braid_emu_event *ev, char *err, size_t err_len)
{
	int changed = 0;

	for (size_t i = 0; i < count; i++) {
		int rc;

		if (strcmp(ev->link, "*") != 0 &&
		    strcmp(ev->link, braid_emu_relay_name(relays[i])) != 0)
			continue;
		rc = apply_one(relays[i], ev, err, err_len);
		if (rc)
			return rc;
		changed++;
	}
	return changed;
}
