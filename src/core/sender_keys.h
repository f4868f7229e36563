/* Internal: the sender's side of keyed sessions — its ephemeral key exchanges, the keys
 * it seals and opens with, and when to exchange again (sender_keys.c). */
#ifndef BRAID_CORE_SENDER_KEYS_H
#define BRAID_CORE_SENDER_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/keys.h"

struct braid__sender_crypto {
	bool enabled;                          /* a psk was given */
	uint8_t psk_key[BRAID_KEY_SIZE];
	uint8_t seed[BRAID_KEY_SEED_SIZE];
	uint64_t wall_anchor_us, mono_anchor_us; /* the same instant on both clocks */
	uint64_t rekey_interval_us;
	uint64_t exchange_index;               /* of the current exchange */
	uint8_t secret[BRAID_KEY_SIZE];        /* the current exchange's key pair */
	uint8_t public_key[BRAID_KEY_SIZE];
	bool exchange_done;                    /* `keys` derive from the current exchange */
	uint8_t receiver_public[BRAID_KEY_SIZE]; /* the answer they were derived with */
	struct braid__key_set keys, old_keys;  /* current; previous, during its grace */
	uint64_t keys_since_us;
};

#endif
