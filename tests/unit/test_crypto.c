/* braid's cryptography over libsodium: the PSK key and handshake MAC, ephemeral key pairs
 * from a seed, session keys agreed by both sides, sealing and opening, and the replay
 * window. libsodium is trusted for the primitives; these check how braid puts them
 * together: the same inputs agree on both sides, and any change is caught. */
#include "core/crypto.h"
#include "harness.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

static const uint8_t PSK[] = "correct horse battery staple";

static void seed_of(uint8_t seed[BRAID_KEY_SIZE], uint8_t fill)
{
	for (int i = 0; i < BRAID_KEY_SIZE; i++)
		seed[i] = (uint8_t)(fill + i);
}

static void test_psk_key_and_mac(void)
{
	uint8_t k1[BRAID_KEY_SIZE], k2[BRAID_KEY_SIZE], k3[BRAID_KEY_SIZE];
	braid__psk_key(PSK, sizeof(PSK) - 1, k1);
	braid__psk_key(PSK, sizeof(PSK) - 1, k2);
	braid__psk_key(PSK, sizeof(PSK) - 2, k3);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
	CHECK(memcmp(k1, k3, sizeof(k1)) != 0);

	static const uint8_t msg[] = "a handshake packet";
	uint8_t mac[BRAID_MAC_SIZE], again[BRAID_MAC_SIZE], direct[BRAID_MAC_SIZE];
	braid__mac(k1, msg, sizeof(msg), mac);
	braid__mac(k1, msg, sizeof(msg), again);
	CHECK(braid__equal_ct(mac, again, sizeof(mac)));
	/* keyed BLAKE2b-128, as docs/protocol.md says */
	crypto_generichash(direct, sizeof(direct), msg, sizeof(msg), k1, sizeof(k1));
	CHECK(memcmp(mac, direct, sizeof(mac)) == 0);
	braid__mac(k3, msg, sizeof(msg), again);
	CHECK(!braid__equal_ct(mac, again, sizeof(mac)));
	braid__mac(k1, msg, sizeof(msg) - 1, again);
	CHECK(!braid__equal_ct(mac, again, sizeof(mac)));
}

static void test_ephemeral_keys_from_seed(void)
{
	uint8_t seed[BRAID_KEY_SIZE], other[BRAID_KEY_SIZE];
	seed_of(seed, 1);
	seed_of(other, 2);
	uint8_t sk0[32], pk0[32], sk0b[32], pk0b[32], sk1[32], pk1[32], sko[32], pko[32], pub[32];
	braid__ephemeral_keypair(seed, 0, sk0, pk0);
	braid__ephemeral_keypair(seed, 0, sk0b, pk0b);
	braid__ephemeral_keypair(seed, 1, sk1, pk1);
	braid__ephemeral_keypair(other, 0, sko, pko);
	CHECK(memcmp(sk0, sk0b, 32) == 0 && memcmp(pk0, pk0b, 32) == 0);
	CHECK(memcmp(pk0, pk1, 32) != 0 && memcmp(sk0, sk1, 32) != 0);
	CHECK(memcmp(pk0, pko, 32) != 0);
	crypto_scalarmult_base(pub, sk1);
	CHECK(memcmp(pub, pk1, 32) == 0);
}

static void test_both_sides_agree(void)
{
	uint8_t psk_key[32], seed_s[32], seed_r[32];
	braid__psk_key(PSK, sizeof(PSK) - 1, psk_key);
	seed_of(seed_s, 10);
	seed_of(seed_r, 20);
	uint8_t ss[32], sp[32], rs[32], rp[32];
	braid__ephemeral_keypair(seed_s, 7, ss, sp);
	braid__ephemeral_keypair(seed_r, 3, rs, rp);
	struct braid__exchange_keys at_sender, at_receiver, other;
	CHECK(braid__derive_keys(psk_key, ss, rp, sp, rp, 0x01020304, &at_sender));
	CHECK(braid__derive_keys(psk_key, rs, sp, sp, rp, 0x01020304, &at_receiver));
	CHECK(memcmp(&at_sender, &at_receiver, sizeof(at_sender)) == 0);
	CHECK(memcmp(at_sender.forward, at_sender.reverse, 32) != 0);
	/* another session id, another psk: other keys */
	CHECK(braid__derive_keys(psk_key, ss, rp, sp, rp, 0x01020305, &other));
	CHECK(memcmp(other.forward, at_sender.forward, 32) != 0);
	uint8_t psk2[32];
	braid__psk_key(PSK, 3, psk2);
	CHECK(braid__derive_keys(psk2, ss, rp, sp, rp, 0x01020304, &other));
	CHECK(memcmp(other.forward, at_sender.forward, 32) != 0);
	/* a low-order point gives a shared secret anyone knows: refused */
	uint8_t zero[32] = { 0 };
	CHECK(!braid__derive_keys(psk_key, ss, zero, sp, zero, 0x01020304, &other));
}

static void test_aead_round_trip_and_tampering(void)
{
	uint8_t key[32], other[32];
	seed_of(key, 40);
	seed_of(other, 41);
	static const uint8_t ad[16] = "header+pktnumber";
	uint8_t msg[300], sealed[300], opened[300], tag[BRAID_AEAD_TAG_SIZE];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	braid__aead_seal(key, 99, ad, sizeof(ad), msg, sizeof(msg), sealed, tag);
	CHECK(memcmp(sealed, msg, sizeof(msg)) != 0); /* private, not just signed */
	CHECK(braid__aead_open(key, 99, ad, sizeof(ad), sealed, sizeof(sealed), tag, opened));
	CHECK(memcmp(opened, msg, sizeof(msg)) == 0);
	CHECK(!braid__aead_open(key, 100, ad, sizeof(ad), sealed, sizeof(sealed), tag, opened));
	CHECK(!braid__aead_open(other, 99, ad, sizeof(ad), sealed, sizeof(sealed), tag, opened));
	unsigned caught = 0, tried = 0;
	for (size_t i = 0; i < sizeof(sealed); i += 13, tried++) {
		sealed[i] ^= 0x10;
		caught += !braid__aead_open(key, 99, ad, sizeof(ad), sealed, sizeof(sealed), tag,
					    opened);
		sealed[i] ^= 0x10;
	}
	for (size_t i = 0; i < sizeof(tag); i++, tried++) {
		tag[i] ^= 0x01;
		caught += !braid__aead_open(key, 99, ad, sizeof(ad), sealed, sizeof(sealed), tag,
					    opened);
		tag[i] ^= 0x01;
	}
	uint8_t ad2[16];
	memcpy(ad2, ad, sizeof(ad2));
	for (size_t i = 0; i < sizeof(ad2); i++, tried++) {
		ad2[i] ^= 0x80;
		caught += !braid__aead_open(key, 99, ad2, sizeof(ad2), sealed, sizeof(sealed), tag,
					    opened);
		ad2[i] ^= 0x80;
	}
	CHECK_EQ(caught, tried);
	/* in place, as the wire module seals */
	memcpy(sealed, msg, sizeof(msg));
	braid__aead_seal(key, 5, ad, sizeof(ad), sealed, sizeof(sealed), sealed, tag);
	CHECK(braid__aead_open(key, 5, ad, sizeof(ad), sealed, sizeof(sealed), tag, opened));
	CHECK(memcmp(opened, msg, sizeof(msg)) == 0);
}

static void test_replay_window(void)
{
	struct braid__replay_window w;
	memset(&w, 0, sizeof(w));
	CHECK(braid__replay_check(&w, 0));
	braid__replay_accept(&w, 0);
	CHECK(!braid__replay_check(&w, 0));
	CHECK(braid__replay_check(&w, 2));
	braid__replay_accept(&w, 2);
	CHECK(braid__replay_check(&w, 1)); /* reordered, not replayed */
	braid__replay_accept(&w, 1);
	CHECK(!braid__replay_check(&w, 1));
	CHECK(!braid__replay_check(&w, 2));
	/* a jump ahead: what it skipped is still new, once */
	braid__replay_accept(&w, 5000);
	CHECK(braid__replay_check(&w, 4999));
	CHECK(braid__replay_check(&w, 5000 - BRAID_REPLAY_WINDOW + 1));
	CHECK(!braid__replay_check(&w, 5000 - BRAID_REPLAY_WINDOW)); /* too old to tell */
	CHECK(!braid__replay_check(&w, 2));
	braid__replay_accept(&w, 4999);
	CHECK(!braid__replay_check(&w, 4999));
	/* the bitmap wraps: numbers a window apart do not alias */
	for (uint64_t n = 5001; n < 5000 + 3 * BRAID_REPLAY_WINDOW; n++)
		braid__replay_accept(&w, n);
	uint64_t top = 4999 + 3 * BRAID_REPLAY_WINDOW;
	CHECK(!braid__replay_check(&w, top));
	CHECK(!braid__replay_check(&w, top - BRAID_REPLAY_WINDOW + 1));
	CHECK(braid__replay_check(&w, top + 1));
	braid__replay_accept(&w, top + BRAID_REPLAY_WINDOW + 10); /* far ahead: all cleared */
	CHECK(braid__replay_check(&w, top + BRAID_REPLAY_WINDOW + 9));
	CHECK(braid__replay_check(&w, top + 11));
	CHECK(!braid__replay_check(&w, top + 10));
}

int main(void)
{
	CHECK(braid__crypto_init());
	RUN_TEST(test_psk_key_and_mac);
	RUN_TEST(test_ephemeral_keys_from_seed);
	RUN_TEST(test_both_sides_agree);
	RUN_TEST(test_aead_round_trip_and_tampering);
	RUN_TEST(test_replay_window);
	return braid_test_finish();
}
