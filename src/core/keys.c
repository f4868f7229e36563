#include "core/keys.h"

#include <string.h>

#include "braid/error.h"

void braid__keys_install(struct braid__key_set *k, const uint8_t seal_key[BRAID_KEY_SIZE],
			 const uint8_t open_key[BRAID_KEY_SIZE])
{
	memset(k, 0, sizeof(*k));
	memcpy(k->seal_key, seal_key, BRAID_KEY_SIZE);
	memcpy(k->open_key, open_key, BRAID_KEY_SIZE);
	k->retire_at_us = UINT64_MAX;
	k->valid = true;
}

void braid__keys_clear(struct braid__key_set *k)
{
	memset(k, 0, sizeof(*k));
}

bool braid__keys_usable(const struct braid__key_set *k, uint64_t now_us)
{
	return k->valid && now_us < k->retire_at_us;
}

bool braid__keys_next(struct braid__key_set *k, struct braid_wire_key *out)
{
	if (!k->valid || k->next_packet_number >= BRAID__PACKET_NUMBER_LIMIT)
		return false;
	*out = (struct braid_wire_key){ .aead_key = k->seal_key,
					.packet_number = k->next_packet_number++ };
	return true;
}

int braid__keys_open(struct braid__key_set *const *sets, size_t count, const uint8_t *buf,
		     size_t len, uint64_t now_us, uint8_t *out, size_t cap, size_t *which)
{
	uint64_t pn;
	int rc = braid_wire_packet_number(buf, len, &pn);
	if (rc < 0)
		return rc == BRAID_ERR_TRUNCATED ? rc : BRAID_ERR_AUTH;
	for (size_t i = 0; i < count; i++) {
		struct braid__key_set *k = sets[i];
		if (!k || !braid__keys_usable(k, now_us))
			continue;
		int n = braid_wire_open(buf, len, k->open_key, out, cap);
		if (n == BRAID_ERR_AUTH)
			continue;
		if (n < 0)
			return n;
		/* authentic: only now may its number count, or forgeries could fill the window */
		if (!braid__replay_check(&k->window, pn))
			return BRAID_ERR_REPLAY;
		braid__replay_accept(&k->window, pn);
		*which = i;
		return n;
	}
	return BRAID_ERR_AUTH;
}
