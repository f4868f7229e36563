/* The real-time link emulator: a bidirectional UDP relay per link, each direction shaped by
 * its own link model (model/model.h). Datagrams arriving on the relay's listen socket go
 * through the forward model to `to`; replies from `to` go through the return model back to
 * the last source seen. A relay lives in a loop its caller owns; it owns no signal, no
 * output and no clock but the loop's. */
#ifndef BRAID_EMU_RELAY_H
#define BRAID_EMU_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "io/loop.h"
#include "model/model.h"
#include "scenario/scenario.h"

/* ---- the relay (relay.c) ---- */

struct braid_emu_relay;

/* Resolves a link's listen= and to= texts into addresses (a name is looked up now) where
 * they are not set yet. 0, or BRAID_ERR_INVAL with a message naming the link. */
int braid_emu_resolve(struct braid_emu_link_config *cfg, char *err, size_t err_len);

/* Opens the sockets (listen port 0 picks one) and starts the models now (the loop's clock,
 * re-read). cfg is copied. NULL with a message in err on failure. */
struct braid_emu_relay *braid_emu_relay_open(struct braid_loop *loop,
					     const struct braid_emu_link_config *cfg, char *err,
					     size_t err_len);
/* Drops whatever is still in flight. */
void braid_emu_relay_close(struct braid_emu_relay *r);

/* Both directions refuse new datagrams while on (counted as dropped_outage). */
void braid_emu_relay_set_blackhole(struct braid_emu_relay *r, bool on);
bool braid_emu_relay_blackhole(const struct braid_emu_relay *r);

/* Totals since open, across reconfigurations. Datagrams refused for lack of relay memory
 * count as dropped_queue. */
void braid_emu_relay_get_stats(const struct braid_emu_relay *r, uint64_t now_us,
			       struct braid_model_stats *fwd, struct braid_model_stats *rev);
int braid_emu_relay_listen_addr(const struct braid_emu_relay *r, struct braid_addr *out);
const char *braid_emu_relay_name(const struct braid_emu_relay *r);

/* The settings in force (the relay's own copy). */
const struct braid_emu_link_config *braid_emu_relay_config(const struct braid_emu_relay *r);
/* Changes the settings of both directions from now on (name, listen and to are ignored).
 * Datagrams already accepted leave as promised; new ones start with an empty queue and stay
 * behind them unless the direction reorders. Outages stay relative to the open time. */
int braid_emu_relay_reconfigure(struct braid_emu_relay *r,
				const struct braid_emu_link_config *cfg, char *err,
				size_t err_len);
/* braid_emu_apply_keys on the settings in force, then reconfigure. */
int braid_emu_relay_apply_keys(struct braid_emu_relay *r, const char *keys, char *err,
			       size_t err_len);

/* ---- scenario events on running relays (events.c) ---- */

/* Applies an event to the relays it names. Returns how many it changed (0 when the name
 * matches none), or a negative braid_error with err set. */
int braid_emu_apply_event(struct braid_emu_relay *const *relays, size_t count,
			  const struct braid_emu_event *ev, char *err, size_t err_len);

#endif
