/* Thin wrappers over libsodium: the project writes no cipher, hash or MAC of its own.
 * Labels keep each derivation's output distinct from every other's. */
#include "core/crypto.h"

#include <sodium.h>
#include <string.h>

bool braid__crypto_init(void)
{
	return sodium_init() >= 0; /* 1 = already done: fine too */
}

void braid__psk_key(const uint8_t *psk, size_t psk_len, uint8_t out[BRAID_KEY_SIZE])
{
	static const uint8_t label[16] = "braid v2 psk key"; /* BLAKE2b's key: 16 to 64 bytes */
	crypto_generichash(out, BRAID_KEY_SIZE, psk, psk_len, label, sizeof(label));
}

void braid__hash_secret(const uint8_t *in, size_t len, uint8_t out[BRAID_KEY_SIZE])
{
	static const uint8_t label[16] = "braid v2 secret.";
	crypto_generichash(out, BRAID_KEY_SIZE, in, len, label, sizeof(label));
}

void braid__mac(const uint8_t key[BRAID_KEY_SIZE], const uint8_t *data, size_t len,
		uint8_t out[BRAID_MAC_SIZE])
{
	crypto_generichash(out, BRAID_MAC_SIZE, data, len, key, BRAID_KEY_SIZE);
}

bool braid__equal_ct(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

void braid__ephemeral_keypair(const uint8_t seed[BRAID_KEY_SIZE], uint64_t index,
			      uint8_t secret[BRAID_KEY_SIZE], uint8_t public_key[BRAID_KEY_SIZE])
{
	static const char label[] = "braid v2 ephemeral";
	uint8_t msg[sizeof(label) - 1 + 8];
	memcpy(msg, label, sizeof(label) - 1);
	put_be64(msg + sizeof(label) - 1, index);
	crypto_generichash(secret, BRAID_KEY_SIZE, msg, sizeof(msg), seed, BRAID_KEY_SIZE);
	crypto_scalarmult_base(public_key, secret);
}

bool braid__derive_keys(const uint8_t psk_key[BRAID_KEY_SIZE], const uint8_t secret[BRAID_KEY_SIZE],
			const uint8_t peer_public[BRAID_KEY_SIZE],
			const uint8_t sender_public[BRAID_KEY_SIZE],
			const uint8_t receiver_public[BRAID_KEY_SIZE], uint32_t session_id,
			struct braid__exchange_keys *out)
{
	static const char label[] = "braid v2 keys";
	uint8_t shared[BRAID_KEY_SIZE];
	if (crypto_scalarmult(shared, secret, peer_public) != 0)
		return false;
	uint8_t sid[4] = { (uint8_t)(session_id >> 24), (uint8_t)(session_id >> 16),
			   (uint8_t)(session_id >> 8), (uint8_t)session_id };
	uint8_t both[2 * BRAID_KEY_SIZE];
	crypto_generichash_state st;
	crypto_generichash_init(&st, psk_key, BRAID_KEY_SIZE, sizeof(both));
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, shared, sizeof(shared));
	crypto_generichash_update(&st, sender_public, BRAID_KEY_SIZE);
	crypto_generichash_update(&st, receiver_public, BRAID_KEY_SIZE);
	crypto_generichash_update(&st, sid, sizeof(sid));
	crypto_generichash_final(&st, both, sizeof(both));
	memcpy(out->forward, both, BRAID_KEY_SIZE);
	memcpy(out->reverse, both + BRAID_KEY_SIZE, BRAID_KEY_SIZE);
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(both, sizeof(both));
	return true;
}

static void aead_nonce(uint64_t packet_number, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	put_be64(nonce + 4, packet_number);
}

void braid__aead_seal(const uint8_t key[BRAID_KEY_SIZE], uint64_t packet_number,
		      const uint8_t *ad, size_t ad_len, const uint8_t *msg, size_t len,
		      uint8_t *out, uint8_t tag[BRAID_AEAD_TAG_SIZE])
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	aead_nonce(packet_number, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, tag, NULL, msg, len, ad, ad_len,
							   NULL, nonce, key);
}

bool braid__aead_open(const uint8_t key[BRAID_KEY_SIZE], uint64_t packet_number,
		      const uint8_t *ad, size_t ad_len, const uint8_t *ciphertext, size_t len,
		      const uint8_t tag[BRAID_AEAD_TAG_SIZE], uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	aead_nonce(packet_number, nonce);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, ciphertext, len, tag,
								  ad, ad_len, nonce, key) == 0;
}

static bool window_bit(const struct braid__replay_window *w, uint64_t n)
{
	uint64_t i = n % BRAID_REPLAY_WINDOW;
	return (w->bits[i / 64] >> (i % 64)) & 1;
}

bool braid__replay_check(const struct braid__replay_window *w, uint64_t n)
{
	if (!w->any || n > w->highest)
		return true;
	if (w->highest - n >= BRAID_REPLAY_WINDOW)
		return false; /* too old to tell: refused */
	return !window_bit(w, n);
}

void braid__replay_accept(struct braid__replay_window *w, uint64_t n)
{
	if (!w->any || n > w->highest) {
		/* the numbers skipped over are not seen yet: clear their bits */
		uint64_t from = w->any ? w->highest + 1 : n;
		if (!w->any || n - from >= BRAID_REPLAY_WINDOW) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			for (uint64_t k = from; k <= n; k++) {
				uint64_t i = k % BRAID_REPLAY_WINDOW;
				w->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
			}
		}
		w->highest = n;
		w->any = true;
	}
	uint64_t i = n % BRAID_REPLAY_WINDOW;
	w->bits[i / 64] |= (uint64_t)1 << (i % 64);
}
