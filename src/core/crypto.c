/* SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and SipHash-2-4 (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF"). Multi-byte values are loaded and stored byte by byte
 * so the results do not depend on the host's endianness or alignment. */
#include "core/crypto.h"

#include <string.h>

#define SHA256_BLOCK_SIZE 64

static const uint32_t sha256_round_constants[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static const uint32_t sha256_initial_hash[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t rotate_right32(uint32_t x, unsigned k)
{
	return (x >> k) | (x << (32 - k));
}

static uint64_t rotate_left64(uint64_t x, unsigned k)
{
	return (x << k) | (x >> (64 - k));
}

/* FIPS 180-4 section 6.2.2: message schedule, then 64 rounds, then add into the state. */
static void sha256_compress(uint32_t state[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
	uint32_t w[64];
	uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
	uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
	int t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	for (t = 16; t < 64; t++) {
		uint32_t s0 = rotate_right32(w[t - 15], 7) ^ rotate_right32(w[t - 15], 18) ^
			      (w[t - 15] >> 3);
		uint32_t s1 = rotate_right32(w[t - 2], 17) ^ rotate_right32(w[t - 2], 19) ^
			      (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	for (t = 0; t < 64; t++) {
		uint32_t big_s1 = rotate_right32(e, 6) ^ rotate_right32(e, 11) ^
				  rotate_right32(e, 25);
		uint32_t choose = (e & f) ^ (~e & g);
		uint32_t t1 = h + big_s1 + choose + sha256_round_constants[t] + w[t];
		uint32_t big_s0 = rotate_right32(a, 2) ^ rotate_right32(a, 13) ^
				  rotate_right32(a, 22);
		uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = big_s0 + majority;

		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
	state[5] += f;
	state[6] += g;
	state[7] += h;
}

void braid_sha256_init(struct braid_sha256 *ctx)
{
	memcpy(ctx->h, sha256_initial_hash, sizeof(ctx->h));
	ctx->total_len = 0;
	ctx->block_len = 0;
}

void braid_sha256_update(struct braid_sha256 *ctx, const void *data, size_t len)
{
	const uint8_t *in = data;

	ctx->total_len += len;
	while (len > 0) {
		size_t room, take;

		/* Whole blocks are compressed straight from the input, without a copy. */
		if (ctx->block_len == 0 && len >= SHA256_BLOCK_SIZE) {
			sha256_compress(ctx->h, in);
			in += SHA256_BLOCK_SIZE;
			len -= SHA256_BLOCK_SIZE;
			continue;
		}
		room = SHA256_BLOCK_SIZE - ctx->block_len;
		take = len < room ? len : room;
		memcpy(ctx->block + ctx->block_len, in, take);
		ctx->block_len += take;
		in += take;
		len -= take;
		if (ctx->block_len == SHA256_BLOCK_SIZE) {
			sha256_compress(ctx->h, ctx->block);
			ctx->block_len = 0;
		}
	}
}

void braid_sha256_final(struct braid_sha256 *ctx, uint8_t out[BRAID_SHA256_SIZE])
{
	uint64_t bit_len = ctx->total_len * 8;
	int i;

	/* Padding: a 1 bit, zeros up to 56 mod 64, then the message length in bits. */
	ctx->block[ctx->block_len++] = 0x80;
	if (ctx->block_len > SHA256_BLOCK_SIZE - 8) {
		memset(ctx->block + ctx->block_len, 0, SHA256_BLOCK_SIZE - ctx->block_len);
		sha256_compress(ctx->h, ctx->block);
		ctx->block_len = 0;
	}
	memset(ctx->block + ctx->block_len, 0, SHA256_BLOCK_SIZE - 8 - ctx->block_len);
	store_be64(ctx->block + SHA256_BLOCK_SIZE - 8, bit_len);
	sha256_compress(ctx->h, ctx->block);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->h[i]);
	/* Leave no message bytes or chaining state behind in the caller's context. */
	memset(ctx, 0, sizeof(*ctx));
}

void braid_sha256(const void *data, size_t len, uint8_t out[BRAID_SHA256_SIZE])
{
	struct braid_sha256 ctx;

	braid_sha256_init(&ctx);
	braid_sha256_update(&ctx, data, len);
	braid_sha256_final(&ctx, out);
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), K zero-padded to the block size. */
void braid_hmac_sha256(const void *key, size_t key_len, const struct braid_bytes *parts,
		       size_t count, uint8_t out[BRAID_SHA256_SIZE])
{
	uint8_t key_block[SHA256_BLOCK_SIZE] = { 0 };
	uint8_t pad[SHA256_BLOCK_SIZE];
	uint8_t inner_digest[BRAID_SHA256_SIZE];
	struct braid_sha256 ctx;
	size_t i;

	if (key_len > SHA256_BLOCK_SIZE)
		braid_sha256(key, key_len, key_block);
	else if (key_len > 0)
		memcpy(key_block, key, key_len);

	for (i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] = key_block[i] ^ 0x36;
	braid_sha256_init(&ctx);
	braid_sha256_update(&ctx, pad, sizeof(pad));
	for (i = 0; i < count; i++)
		braid_sha256_update(&ctx, parts[i].data, parts[i].len);
	braid_sha256_final(&ctx, inner_digest);

	for (i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] = key_block[i] ^ 0x5c;
	braid_sha256_init(&ctx);
	braid_sha256_update(&ctx, pad, sizeof(pad));
	braid_sha256_update(&ctx, inner_digest, sizeof(inner_digest));
	braid_sha256_final(&ctx, out);
}

struct siphash_state {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct siphash_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotate_left64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotate_left64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotate_left64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotate_left64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotate_left64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotate_left64(s->v2, 32);
}

/* Two compression rounds per 64-bit word: the "2" of SipHash-2-4. */
static void sip_absorb(struct siphash_state *s, uint64_t word)
{
	s->v3 ^= word;
	sip_round(s);
	sip_round(s);
	s->v0 ^= word;
}

uint64_t braid_siphash24(const uint8_t key[BRAID_SIPHASH_KEY_SIZE], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key);
	uint64_t k1 = load_le64(key + 8);
	/* The initial constants spell "somepseudorandomlygeneratedbytes". */
	struct siphash_state s = {
		.v0 = k0 ^ UINT64_C(0x736f6d6570736575),
		.v1 = k1 ^ UINT64_C(0x646f72616e646f6d),
		.v2 = k0 ^ UINT64_C(0x6c7967656e657261),
		.v3 = k1 ^ UINT64_C(0x7465646279746573),
	};
	size_t whole_len = len - len % 8;
	/* The last word carries the length's low byte in its top byte. */
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	size_t i;

	/* Indexing rather than pointer stepping keeps (NULL, 0) free of pointer arithmetic. */
	for (i = 0; i < whole_len; i += 8)
		sip_absorb(&s, load_le64(in + i));
	for (i = whole_len; i < len; i++)
		last |= (uint64_t)in[i] << (8 * (i - whole_len));
	sip_absorb(&s, last);

	/* Finalization: four rounds, the "4" of SipHash-2-4. */
	s.v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

int braid_equal_ct(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *pa = a;
	const volatile uint8_t *pb = b;
	unsigned diff = 0;
	size_t i;

	/* Touch every byte whatever the data, so timing reveals nothing about where the
	 * first difference is. */
	for (i = 0; i < len; i++)
		diff |= (unsigned)(pa[i] ^ pb[i]);
	/* diff is 0..255: diff - 1 wraps to all ones only when diff is 0. */
	return (int)(((diff - 1) >> 8) & 1);
}
