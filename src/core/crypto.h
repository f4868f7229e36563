/* braid's cryptography, all of it from libsodium: BLAKE2b (keyed MACs, key derivation),
 * X25519 (ephemeral key agreement) and ChaCha20-Poly1305 IETF (sealing datagrams). The
 * core never draws randomness itself: ephemeral secrets are derived from a seed the caller
 * draws. Also the replay window that sealed packets' numbers go through. */
#ifndef BRAID_CORE_CRYPTO_H
#define BRAID_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRAID_KEY_SIZE 32      /* every symmetric key, and X25519 keys */
#define BRAID_MAC_SIZE 16      /* HELLO, HELLO_ACK: BLAKE2b-128 */
#define BRAID_AEAD_TAG_SIZE 16 /* Poly1305 */
#define BRAID_REPLAY_WINDOW 4096 /* packet numbers remembered behind the highest */

/* Prepares libsodium (picks its fastest implementations). Idempotent; false on failure. */
bool braid__crypto_init(void);

/* The key every handshake MAC and every session key derivation uses, from the PSK. */
void braid__psk_key(const uint8_t *psk, size_t psk_len, uint8_t out[BRAID_KEY_SIZE]);
/* A 32-byte secret from seed material (BLAKE2b under its own label). */
void braid__hash_secret(const uint8_t *in, size_t len, uint8_t out[BRAID_KEY_SIZE]);
void braid__mac(const uint8_t key[BRAID_KEY_SIZE], const uint8_t *data, size_t len,
		uint8_t out[BRAID_MAC_SIZE]);
/* Constant-time comparison: true when equal. */
bool braid__equal_ct(const void *a, const void *b, size_t len);

/* The `index`-th ephemeral X25519 key pair of a seed (a PRF of seed and index). */
void braid__ephemeral_keypair(const uint8_t seed[BRAID_KEY_SIZE], uint64_t index,
			      uint8_t secret[BRAID_KEY_SIZE], uint8_t public_key[BRAID_KEY_SIZE]);

/* Both directions' session keys of one exchange. False when the peer's public key is a
 * low-order point (the shared secret would be known to anyone). */
struct braid__exchange_keys {
	uint8_t forward[BRAID_KEY_SIZE]; /* sender -> receiver */
	uint8_t reverse[BRAID_KEY_SIZE]; /* receiver -> sender */
};
bool braid__derive_keys(const uint8_t psk_key[BRAID_KEY_SIZE], const uint8_t secret[BRAID_KEY_SIZE],
			const uint8_t peer_public[BRAID_KEY_SIZE],
			const uint8_t sender_public[BRAID_KEY_SIZE],
			const uint8_t receiver_public[BRAID_KEY_SIZE], uint32_t session_id,
			struct braid__exchange_keys *out);

/* ChaCha20-Poly1305 IETF, nonce = 4 zero bytes | packet number (big-endian). Seals
 * msg (in place allowed) and writes the tag; opens and verifies (false: forged). */
void braid__aead_seal(const uint8_t key[BRAID_KEY_SIZE], uint64_t packet_number,
		      const uint8_t *ad, size_t ad_len, const uint8_t *msg, size_t len,
		      uint8_t *out, uint8_t tag[BRAID_AEAD_TAG_SIZE]);
bool braid__aead_open(const uint8_t key[BRAID_KEY_SIZE], uint64_t packet_number,
		      const uint8_t *ad, size_t ad_len, const uint8_t *ciphertext, size_t len,
		      const uint8_t tag[BRAID_AEAD_TAG_SIZE], uint8_t *out);

/* Packet numbers already accepted, WireGuard-style: the highest, and a bitmap of the
 * BRAID_REPLAY_WINDOW numbers below it. */
struct braid__replay_window {
	uint64_t highest;
	bool any;
	uint64_t bits[BRAID_REPLAY_WINDOW / 64]; /* bit (n mod WINDOW): n seen */
};
/* Whether n would be new (not seen, not too old); changes nothing. */
bool braid__replay_check(const struct braid__replay_window *w, uint64_t n);
/* Records n as seen (call only after the packet authenticated). */
void braid__replay_accept(struct braid__replay_window *w, uint64_t n);

#endif
