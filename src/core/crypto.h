/* The primitives braid's authentication needs, written from their specifications:
 * SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and SipHash-2-4 (Aumasson and Bernstein).
 * No allocation, no state beyond the caller's buffers. */
#ifndef BRAID_CRYPTO_H
#define BRAID_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define BRAID_SHA256_SIZE 32
#define BRAID_SIPHASH_KEY_SIZE 16

struct braid_sha256 {
	uint32_t h[8];
	uint64_t total_len;
	uint8_t block[64];
	size_t block_len;
};

void braid_sha256_init(struct braid_sha256 *ctx);
void braid_sha256_update(struct braid_sha256 *ctx, const void *data, size_t len);
void braid_sha256_final(struct braid_sha256 *ctx, uint8_t out[BRAID_SHA256_SIZE]);
void braid_sha256(const void *data, size_t len, uint8_t out[BRAID_SHA256_SIZE]);

/* HMAC-SHA-256 over the concatenation of up to `count` parts (so callers need not copy
 * a header and a body into one buffer). Keys longer than 64 bytes are hashed first. */
struct braid_bytes {
	const void *data;
	size_t len;
};
void braid_hmac_sha256(const void *key, size_t key_len, const struct braid_bytes *parts,
		       size_t count, uint8_t out[BRAID_SHA256_SIZE]);

/* SipHash-2-4 with a 64-bit result. */
uint64_t braid_siphash24(const uint8_t key[BRAID_SIPHASH_KEY_SIZE], const void *data, size_t len);

/* Constant-time comparison: 1 when equal. */
int braid_equal_ct(const void *a, const void *b, size_t len);

#endif
