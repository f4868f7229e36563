/* The sender's key exchanges. Each exchange has a fresh ephemeral key pair; HELLOs carry
 * its public half until a HELLO_ACK that answers exactly it arrives, and only then do new
 * session keys take over (the old ones stay good for a grace period, for what is still on
 * its way). An ACK for any other exchange is a replay and changes nothing. */
#include <sodium.h>
#include <string.h>

#include "braid/error.h"
#include "core/sender_internal.h"

bool braid__sender_crypto_init(struct braid_sender *s, const struct braid_sender_settings *set,
			       uint64_t now_us)
{
	struct braid__sender_crypto *c = &s->crypto;
	memset(c, 0, sizeof(*c));
	if (!set->psk)
		return true;
	if (set->wall_clock_us == 0 || !braid__crypto_init())
		return false;
	c->enabled = true;
	braid__psk_key(set->psk, set->psk_len, c->psk_key);
	memcpy(c->seed, set->key_seed, sizeof(c->seed));
	c->wall_anchor_us = set->wall_clock_us;
	c->mono_anchor_us = now_us;
	c->rekey_interval_us = set->rekey_interval_us;
	braid__ephemeral_keypair(c->seed, c->exchange_index, c->secret, c->public_key);
	return true;
}

void braid__sender_crypto_free(struct braid_sender *s)
{
	sodium_memzero(&s->crypto, sizeof(s->crypto));
}

void braid__sender_new_exchange(struct braid_sender *s)
{
	struct braid__sender_crypto *c = &s->crypto;
	if (!c->enabled)
		return;
	c->exchange_index++;
	braid__ephemeral_keypair(c->seed, c->exchange_index, c->secret, c->public_key);
	c->exchange_done = false;
}

bool braid__sender_exchanging(const struct braid_sender *s)
{
	return s->crypto.enabled && !s->crypto.exchange_done;
}

uint64_t braid__sender_rekey_at(const struct braid_sender *s)
{
	const struct braid__sender_crypto *c = &s->crypto;
	if (!c->enabled || !c->exchange_done || !c->rekey_interval_us)
		return UINT64_MAX;
	return c->keys_since_us + c->rekey_interval_us;
}

void braid__sender_rekey_tick(struct braid_sender *s)
{
	const struct braid__sender_crypto *c = &s->crypto;
	if (!c->enabled || !c->exchange_done)
		return;
	if (s->now >= braid__sender_rekey_at(s) ||
	    c->keys.next_packet_number >= BRAID__REKEY_AFTER_PACKETS)
		braid__sender_new_exchange(s);
}

void braid__sender_fill_hello(const struct braid_sender *s, struct braid_hello *h)
{
	const struct braid__sender_crypto *c = &s->crypto;
	h->latency_us = s->settings.latency_us > UINT32_MAX ? UINT32_MAX
							    : (uint32_t)s->settings.latency_us;
	if (!c->enabled)
		return; /* unkeyed: the key's place holds the cookie; the wall clock is 0 */
	memcpy(h->ephemeral, c->public_key, BRAID_EPHEMERAL_SIZE);
	h->wall_us = c->wall_anchor_us + (s->now - c->mono_anchor_us);
}

static bool before32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* A HELLO_ACK (its MAC checked): 0 when it answers the current exchange (keys derived if
 * they were not yet), or the drop reason, counted. */
int braid__sender_accept_ack(struct braid_sender *s, struct braid__sender_link *l,
			     const struct braid_hello_ack *ack)
{
	struct braid__sender_crypto *c = &s->crypto;
	bool current = memcmp(ack->sender_ephemeral, c->public_key, BRAID_KEY_SIZE) == 0;
	bool same_answer = c->exchange_done &&
			   memcmp(ack->receiver_ephemeral, c->receiver_public, BRAID_KEY_SIZE) == 0;
	/* an answer to an earlier exchange, another receiver's to this one once agreed, or
	 * a copy of one this link had already (the echo is the HELLO's send time) */
	if (!current || (c->exchange_done && !same_answer) ||
	    (l->ack_echo_known && !before32(l->last_ack_echo, ack->echo_timestamp_us))) {
		s->stats.drops.replay++;
		return BRAID_ERR_REPLAY;
	}
	if (!c->exchange_done) {
		struct braid__exchange_keys k;
		if (!braid__derive_keys(c->psk_key, c->secret, ack->receiver_ephemeral, c->public_key,
					ack->receiver_ephemeral, s->settings.session_id, &k)) {
			s->stats.drops.auth++;
			return BRAID_ERR_AUTH;
		}
		c->old_keys = c->keys;
		c->old_keys.retire_at_us = s->now + BRAID__KEY_GRACE_US;
		braid__keys_install(&c->keys, k.forward, k.reverse);
		sodium_memzero(&k, sizeof(k));
		memcpy(c->receiver_public, ack->receiver_ephemeral, BRAID_KEY_SIZE);
		c->exchange_done = true;
		c->keys_since_us = s->now;
	}
	l->last_ack_echo = ack->echo_timestamp_us;
	l->ack_echo_known = true;
	return 0;
}

int braid__sender_open(struct braid_sender *s, const uint8_t *buf, size_t len)
{
	struct braid__key_set *sets[] = { &s->crypto.keys, &s->crypto.old_keys };
	size_t which;
	return braid__keys_open(sets, 2, buf, len, s->now, s->opened, sizeof(s->opened), &which);
}

bool braid__sender_wire_key(struct braid_sender *s, uint8_t type, struct braid_wire_key *out)
{
	if (type == BRAID_PKT_HELLO) {
		*out = (struct braid_wire_key){ .mac_key = s->crypto.psk_key };
		return true;
	}
	return braid__keys_next(&s->crypto.keys, out);
}

/* Every link down: the receiver may have restarted and forgotten the keys, so the next
 * HELLOs start a fresh exchange (an answer to the old one is then a replay). */
void braid__sender_links_lost(struct braid_sender *s)
{
	for (size_t i = 0; i < s->links_in_use; i++)
		if (s->links[i].used && s->links[i].acked &&
		    braid_link_state_live(s->links[i].health.state))
			return;
	if (s->crypto.exchange_done)
		braid__sender_new_exchange(s);
}
