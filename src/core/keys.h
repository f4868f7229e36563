/* Internal: one exchange's session keys as one side holds them — the key it seals with and
 * the next packet number, the key it opens with and the replay window of what it opened.
 * Shared by the sender and the receiver (only which key is which differs). */
#ifndef BRAID_CORE_KEYS_H
#define BRAID_CORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/wire.h"

/* Old keys stay good this long after new ones take over, for what is still on its way. */
#define BRAID__KEY_GRACE_US 10000000u
/* A sender starts a new exchange once this many packet numbers are used, long before any
 * limit of the cipher; nothing is ever sealed past BRAID__PACKET_NUMBER_LIMIT. */
#define BRAID__REKEY_AFTER_PACKETS ((uint64_t)1 << 40)
#define BRAID__PACKET_NUMBER_LIMIT ((uint64_t)1 << 62)

struct braid__key_set {
	bool valid;
	uint8_t seal_key[BRAID_KEY_SIZE];
	uint8_t open_key[BRAID_KEY_SIZE];
	uint64_t next_packet_number;
	struct braid__replay_window window;
	uint64_t retire_at_us; /* UINT64_MAX while current */
};

void braid__keys_install(struct braid__key_set *k, const uint8_t seal_key[BRAID_KEY_SIZE],
			 const uint8_t open_key[BRAID_KEY_SIZE]);
void braid__keys_clear(struct braid__key_set *k);
/* Usable for opening at now (valid, and not past its grace). */
bool braid__keys_usable(const struct braid__key_set *k, uint64_t now_us);
/* The wire key for sealing the next packet (consumes its packet number); false when the
 * set is not valid or its numbers are used up. */
bool braid__keys_next(struct braid__key_set *k, struct braid_wire_key *out);

/* Opens a sealed datagram with the first of `count` sets that authenticates it, then
 * consults that set's replay window. The plain datagram's length (see braid_wire_open),
 * with *which the set's index; BRAID_ERR_AUTH when no set authenticates it;
 * BRAID_ERR_REPLAY when its packet number was seen already or is too old. */
int braid__keys_open(struct braid__key_set *const *sets, size_t count, const uint8_t *buf,
		     size_t len, uint64_t now_us, uint8_t *out, size_t cap, size_t *which);

#endif
