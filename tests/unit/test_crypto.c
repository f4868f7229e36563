/* SHA-256, HMAC-SHA-256, SipHash-2-4 and constant-time comparison against the published
 * vectors of FIPS 180-4, RFC 4231 and the SipHash reference table. */
#include "core/crypto.h"
#include "harness.h"

#include <stdint.h>
#include <string.h>

/* Parses a lowercase hex string of exactly 2 * len digits into out. */
static void from_hex(const char *hex, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned byte = 0;

		sscanf(hex + 2 * i, "%2x", &byte);
		out[i] = (uint8_t)byte;
	}
}

static int digest_equals_hex(const uint8_t digest[BRAID_SHA256_SIZE], const char *hex)
{
	uint8_t expected[BRAID_SHA256_SIZE];

	if (strlen(hex) != 2 * BRAID_SHA256_SIZE)
		return 0;
	from_hex(hex, expected, sizeof(expected));
	return memcmp(digest, expected, sizeof(expected)) == 0;
}

static void test_sha256_fips_vectors(void)
{
	static const char two_block_msg[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t digest[BRAID_SHA256_SIZE];

	braid_sha256("", 0, digest);
	CHECK(digest_equals_hex(digest,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	braid_sha256(NULL, 0, digest);
	CHECK(digest_equals_hex(digest,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	braid_sha256("abc", 3, digest);
	CHECK(digest_equals_hex(digest,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	braid_sha256(two_block_msg, strlen(two_block_msg), digest);
	CHECK(digest_equals_hex(digest,
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

static void test_sha256_million_a(void)
{
	uint8_t chunk[1000];
	uint8_t digest[BRAID_SHA256_SIZE];
	struct braid_sha256 ctx;
	int i;

	memset(chunk, 'a', sizeof(chunk));
	braid_sha256_init(&ctx);
	/* 1000 chunks of 1000 bytes: 1000 is not a multiple of 64, so chunks straddle blocks. */
	for (i = 0; i < 1000; i++)
		braid_sha256_update(&ctx, chunk, sizeof(chunk));
	braid_sha256_final(&ctx, digest);
	CHECK(digest_equals_hex(digest,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

/* 'a' repeated n times for the lengths where padding changes shape: 55 is the longest
 * message whose length field still fits its last block, 56 the shortest that needs one
 * more. Not in FIPS 180-4; digests from an independent implementation (OpenSSL). */
static void test_sha256_padding_edges(void)
{
	static const struct {
		size_t len;
		const char *hex;
	} cases[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
		{ 128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e" },
	};
	uint8_t msg[128], digest[BRAID_SHA256_SIZE];
	size_t c;

	memset(msg, 'a', sizeof(msg));
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		braid_sha256(msg, cases[c].len, digest);
		if (!digest_equals_hex(digest, cases[c].hex))
			fprintf(stderr, "length %zu\n", cases[c].len);
		CHECK(digest_equals_hex(digest, cases[c].hex));
	}
}

/* Every message length around the padding edges (55, 56, 63, 64, 119, 120, 128), fed in
 * every chunk size up to just over two blocks, must hash as it does in one call. */
static void test_sha256_incremental_matches_one_shot(void)
{
	uint8_t msg[200];
	size_t len, chunk, i;
	int mismatches = 0, runs = 0;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 37 + 11);
	for (len = 0; len <= sizeof(msg); len++) {
		uint8_t one_shot[BRAID_SHA256_SIZE];

		braid_sha256(msg, len, one_shot);
		for (chunk = 1; chunk <= 130; chunk++) {
			uint8_t pieces[BRAID_SHA256_SIZE];
			struct braid_sha256 ctx;
			size_t done;

			braid_sha256_init(&ctx);
			for (done = 0; done < len; done += chunk) {
				size_t n = len - done < chunk ? len - done : chunk;

				braid_sha256_update(&ctx, msg + done, n);
				braid_sha256_update(&ctx, msg + done, 0);
			}
			braid_sha256_final(&ctx, pieces);
			runs++;
			if (memcmp(one_shot, pieces, sizeof(one_shot)) != 0)
				mismatches++;
		}
	}
	CHECK_EQ(mismatches, 0);
	CHECK_EQ(runs, 201 * 130);

	/* The digests must actually depend on the length: neighbours differ. */
	{
		uint8_t d55[BRAID_SHA256_SIZE], d56[BRAID_SHA256_SIZE];

		braid_sha256(msg, 55, d55);
		braid_sha256(msg, 56, d56);
		CHECK(memcmp(d55, d56, sizeof(d55)) != 0);
	}
}

struct hmac_case {
	const char *name;
	uint8_t key_byte; /* 0 means the key is given in key_text or as 1, 2, 3... */
	size_t key_len;
	const char *key_text;
	uint8_t data_byte; /* 0 means the data is data_text */
	size_t data_len;
	const char *data_text;
	const char *mac_hex;
};

/* RFC 4231 section 4, HMAC-SHA-256 results (test case 5 is truncated output, not used). */
static const struct hmac_case rfc4231_cases[] = {
	{ "1", 0x0b, 20, NULL, 0, 0, "Hi There",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "2", 0, 4, "Jefe", 0, 0, "what do ya want for nothing?",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "3", 0xaa, 20, NULL, 0xdd, 50, NULL,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "4", 0, 25, NULL, 0xcd, 50, NULL,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "6", 0xaa, 131, NULL, 0, 0, "Test Using Larger Than Block-Size Key - Hash Key First",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "7", 0xaa, 131, NULL, 0, 0,
	  "This is a test using a larger than block-size key and a larger than block-size data. "
	  "The key needs to be hashed before being used by the HMAC algorithm.",
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static size_t hmac_case_key(const struct hmac_case *tc, uint8_t *key)
{
	size_t i;

	for (i = 0; i < tc->key_len; i++) {
		if (tc->key_text)
			key[i] = (uint8_t)tc->key_text[i];
		else if (tc->key_byte)
			key[i] = tc->key_byte;
		else
			key[i] = (uint8_t)(i + 1);
	}
	return tc->key_len;
}

static size_t hmac_case_data(const struct hmac_case *tc, uint8_t *data)
{
	size_t len = tc->data_text ? strlen(tc->data_text) : tc->data_len;

	if (tc->data_text)
		memcpy(data, tc->data_text, len);
	else
		memset(data, tc->data_byte, len);
	return len;
}

static void test_hmac_rfc4231(void)
{
	size_t c;

	for (c = 0; c < sizeof(rfc4231_cases) / sizeof(rfc4231_cases[0]); c++) {
		const struct hmac_case *tc = &rfc4231_cases[c];
		uint8_t key[200], data[200], mac[BRAID_SHA256_SIZE];
		struct braid_bytes part;

		part.data = data;
		part.len = hmac_case_data(tc, data);
		braid_hmac_sha256(key, hmac_case_key(tc, key), &part, 1, mac);
		if (!digest_equals_hex(mac, tc->mac_hex))
			fprintf(stderr, "RFC 4231 test case %s\n", tc->name);
		CHECK(digest_equals_hex(mac, tc->mac_hex));
	}
}

/* Test case 7's data (152 bytes) cut into three parts at every pair of points, plus empty
 * parts, must give the RFC's single-message result. */
static void test_hmac_multi_part_equals_single(void)
{
	const struct hmac_case *tc = &rfc4231_cases[5];
	uint8_t key[200], data[200], mac[BRAID_SHA256_SIZE];
	size_t key_len = hmac_case_key(tc, key);
	size_t data_len = hmac_case_data(tc, data);
	size_t cut1, cut2;
	int mismatches = 0;

	for (cut1 = 0; cut1 <= data_len; cut1 += 7) {
		for (cut2 = cut1; cut2 <= data_len; cut2 += 5) {
			struct braid_bytes parts[5] = {
				{ data, cut1 },
				{ NULL, 0 },
				{ data + cut1, cut2 - cut1 },
				{ data + cut2, data_len - cut2 },
				{ data, 0 },
			};

			braid_hmac_sha256(key, key_len, parts, 5, mac);
			if (!digest_equals_hex(mac, tc->mac_hex))
				mismatches++;
		}
	}
	CHECK_EQ(mismatches, 0);

	/* Dropping a part must change the MAC. */
	{
		struct braid_bytes parts[2] = { { data, 10 }, { data + 10, data_len - 10 } };

		braid_hmac_sha256(key, key_len, parts, 1, mac);
		CHECK(!digest_equals_hex(mac, tc->mac_hex));
		braid_hmac_sha256(key, key_len, parts, 2, mac);
		CHECK(digest_equals_hex(mac, tc->mac_hex));
	}
}

/* RFC 2104: keys up to the block size are zero-padded, so appending zero bytes up to 64
 * changes nothing; longer keys K are replaced by H(K). */
static void test_hmac_key_length_edges(void)
{
	uint8_t key[65], padded[64], hashed_key[BRAID_SHA256_SIZE];
	uint8_t mac_a[BRAID_SHA256_SIZE], mac_b[BRAID_SHA256_SIZE];
	struct braid_bytes part = { "message", 7 };
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);

	memset(padded, 0, sizeof(padded));
	memcpy(padded, key, 63);
	braid_hmac_sha256(key, 63, &part, 1, mac_a);
	braid_hmac_sha256(padded, 64, &part, 1, mac_b);
	CHECK(memcmp(mac_a, mac_b, sizeof(mac_a)) == 0);
	braid_hmac_sha256(key, 20, &part, 1, mac_a);
	braid_hmac_sha256(padded, 20, &part, 1, mac_b);
	CHECK(memcmp(mac_a, mac_b, sizeof(mac_a)) == 0);
	braid_hmac_sha256(NULL, 0, &part, 1, mac_a);
	memset(padded, 0, sizeof(padded));
	braid_hmac_sha256(padded, 64, &part, 1, mac_b);
	CHECK(memcmp(mac_a, mac_b, sizeof(mac_a)) == 0);

	braid_hmac_sha256(key, 65, &part, 1, mac_a);
	braid_sha256(key, 65, hashed_key);
	braid_hmac_sha256(hashed_key, sizeof(hashed_key), &part, 1, mac_b);
	CHECK(memcmp(mac_a, mac_b, sizeof(mac_a)) == 0);

	braid_hmac_sha256(key, 64, &part, 1, mac_a);
	braid_hmac_sha256(key, 65, &part, 1, mac_b);
	CHECK(memcmp(mac_a, mac_b, sizeof(mac_a)) != 0);
}

/* SipHash-2-4 reference table (64-bit output), key 00..0f, message 00, 01, ..., len - 1,
 * each result read as a little-endian integer. */
static const uint64_t siphash_vectors_0_to_15[16] = {
	UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
	UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
	UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
	UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137),
	UINT64_C(0x93f5f5799a932462), UINT64_C(0x9e0082df0ba9e4b0),
	UINT64_C(0x7a5dbbc594ddb9f3), UINT64_C(0xf4b32f46226bada7),
	UINT64_C(0x751e8fbc860ee5fb), UINT64_C(0x14ea5627c0843d90),
	UINT64_C(0xf723ca908e7af2ee), UINT64_C(0xa129ca6149be45e5),
};
static const uint64_t siphash_vector_63 = UINT64_C(0x958a324ceb064572);

static void test_siphash_reference_vectors(void)
{
	uint8_t key[BRAID_SIPHASH_KEY_SIZE], msg[64];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < 16; i++)
		CHECK_EQ_U64(braid_siphash24(key, msg, i), siphash_vectors_0_to_15[i]);
	CHECK_EQ_U64(braid_siphash24(key, msg, 63), siphash_vector_63);
	CHECK_EQ_U64(braid_siphash24(key, NULL, 0), siphash_vectors_0_to_15[0]);
}

/* Messages longer than the table, where the length byte wraps (256 -> 0); results from an
 * independent implementation (OpenSSL's SIPHASH MAC, 8-byte output, read little-endian).
 * Message bytes are i mod 256, key 00..0f. */
static void test_siphash_long_messages(void)
{
	static const struct {
		size_t len;
		uint64_t hash;
	} cases[] = {
		{ 128, UINT64_C(0xdeb79e256c8736ae) },
		{ 255, UINT64_C(0xa9c169fec74db21a) },
		{ 256, UINT64_C(0x999d0526d2a7bfd7) },
		{ 300, UINT64_C(0x4b0b710db6117839) },
	};
	uint8_t key[BRAID_SIPHASH_KEY_SIZE], msg[300];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_U64(braid_siphash24(key, msg, cases[i].len), cases[i].hash);
}

/* The same bytes at an odd address hash the same; a different key hashes differently. */
static void test_siphash_alignment_and_key(void)
{
	uint8_t key[BRAID_SIPHASH_KEY_SIZE], buffer[80];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 63; i++)
		buffer[i + 3] = (uint8_t)i;
	CHECK_EQ_U64(braid_siphash24(key, buffer + 3, 63), siphash_vector_63);
	CHECK_EQ_U64(braid_siphash24(key, buffer + 3, 15), siphash_vectors_0_to_15[15]);

	key[15] ^= 0x80;
	CHECK(braid_siphash24(key, buffer + 3, 15) != siphash_vectors_0_to_15[15]);
}

static void test_equal_ct(void)
{
	uint8_t a[48], b[48];
	size_t pos;
	unsigned flip;
	int wrong = 0;

	for (pos = 0; pos < sizeof(a); pos++)
		a[pos] = b[pos] = (uint8_t)(pos * 7);
	CHECK_EQ(braid_equal_ct(a, b, sizeof(a)), 1);
	CHECK_EQ(braid_equal_ct(a, b, 0), 1);
	CHECK_EQ(braid_equal_ct(NULL, NULL, 0), 1);

	/* Every possible byte difference, at the first, a middle and the last position. */
	for (flip = 1; flip < 256; flip++) {
		size_t positions[3] = { 0, sizeof(a) / 2, sizeof(a) - 1 };
		int p;

		for (p = 0; p < 3; p++) {
			b[positions[p]] ^= (uint8_t)flip;
			if (braid_equal_ct(a, b, sizeof(a)) != 0)
				wrong++;
			b[positions[p]] ^= (uint8_t)flip;
		}
	}
	CHECK_EQ(wrong, 0);

	/* A difference past len is not compared. */
	b[sizeof(b) - 1] ^= 1;
	CHECK_EQ(braid_equal_ct(a, b, sizeof(a) - 1), 1);
	CHECK_EQ(braid_equal_ct(a, b, sizeof(a)), 0);
}

int main(void)
{
	RUN_TEST(test_sha256_fips_vectors);
	RUN_TEST(test_sha256_million_a);
	RUN_TEST(test_sha256_padding_edges);
	RUN_TEST(test_sha256_incremental_matches_one_shot);
	RUN_TEST(test_hmac_rfc4231);
	RUN_TEST(test_hmac_multi_part_equals_single);
	RUN_TEST(test_hmac_key_length_edges);
	RUN_TEST(test_siphash_reference_vectors);
	RUN_TEST(test_siphash_long_messages);
	RUN_TEST(test_siphash_alignment_and_key);
	RUN_TEST(test_equal_ct);
	return braid_test_finish();
}
