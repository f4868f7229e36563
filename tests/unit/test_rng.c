/* The seeded generator: published xoshiro256** and splitmix64 vectors, reproducibility, and
 * the moments of its uniform, normal and Bernoulli draws. */
#include "base/rng.h"
#include "harness.h"

#include <stdint.h>

#define DRAWS 1000000

/* Published xoshiro256** outputs from the state {1, 2, 3, 4} (reference implementation). */
static void test_xoshiro_reference_vector(void)
{
	static const uint64_t expected[10] = {
		UINT64_C(11520), UINT64_C(0), UINT64_C(1509978240),
		UINT64_C(1215971899390074240), UINT64_C(1216172134540287360),
		UINT64_C(607988272756665600), UINT64_C(16172922978634559625),
		UINT64_C(8476171486693032832), UINT64_C(10595114339597558777),
		UINT64_C(2904607092377533576),
	};
	struct braid_rng rng = { { 1, 2, 3, 4 } };
	int i;

	for (i = 0; i < 10; i++)
		CHECK_EQ_U64(braid_rng_next(&rng), expected[i]);
}

/* Seeding fills the state with the first four splitmix64 outputs; for seed 0 those are
 * the algorithm's published values, so seed 0 gives a valid, non-zero state. */
static void test_seed_zero_uses_splitmix64(void)
{
	struct braid_rng rng;
	uint64_t first, distinct_from_first = 0;
	int i;

	braid_rng_seed(&rng, 0);
	CHECK_EQ_U64(rng.state[0], UINT64_C(0xe220a8397b1dcdaf));
	CHECK_EQ_U64(rng.state[1], UINT64_C(0x6e789e6aa1b965f4));
	CHECK_EQ_U64(rng.state[2], UINT64_C(0x06c45d188009454f));
	CHECK_EQ_U64(rng.state[3], UINT64_C(0xf88bb8a8724c81ec));

	first = braid_rng_next(&rng);
	for (i = 0; i < 1000; i++)
		if (braid_rng_next(&rng) != first)
			distinct_from_first++;
	CHECK_EQ_U64(distinct_from_first, 1000);
}

static void test_same_seed_same_sequence(void)
{
	struct braid_rng a, b;
	int i, mismatches = 0;

	braid_rng_seed(&a, 42);
	braid_rng_seed(&b, 42);
	for (i = 0; i < 10000; i++)
		if (braid_rng_next(&a) != braid_rng_next(&b))
			mismatches++;
	CHECK_EQ(mismatches, 0);

	/* Reseeding restarts the sequence. */
	braid_rng_seed(&a, 42);
	braid_rng_seed(&b, 42);
	braid_rng_next(&b);
	CHECK(braid_rng_next(&a) != braid_rng_next(&b));
	braid_rng_seed(&a, 42);
	braid_rng_seed(&b, 42);
	CHECK_EQ_U64(braid_rng_next(&a), braid_rng_next(&b));
}

static void test_different_seeds_differ(void)
{
	static const uint64_t seeds[] = { 0, 1, 2, 42, UINT64_MAX };
	size_t i, j;
	int d, collisions = 0;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		for (j = i + 1; j < sizeof(seeds) / sizeof(seeds[0]); j++) {
			struct braid_rng a, b;

			braid_rng_seed(&a, seeds[i]);
			braid_rng_seed(&b, seeds[j]);
			for (d = 0; d < 100; d++)
				if (braid_rng_next(&a) == braid_rng_next(&b))
					collisions++;
		}
	}
	CHECK_EQ(collisions, 0);
}

/* U[0, 1): mean 1/2, variance 1/12. Standard errors over 10^6 draws are about 3e-4 and
 * 7e-5, so the tolerances are several deviations wide yet catch any real bias. */
static void test_uniform_moments_and_range(void)
{
	struct braid_rng rng;
	double sum = 0, sum_sq = 0, lowest = 1, highest = 0, mean, variance;
	int i, out_of_range = 0, below_tenth = 0;

	braid_rng_seed(&rng, 7);
	for (i = 0; i < DRAWS; i++) {
		double u = braid_rng_uniform(&rng);

		if (!(u >= 0.0 && u < 1.0))
			out_of_range++;
		if (u < 0.1)
			below_tenth++;
		lowest = u < lowest ? u : lowest;
		highest = u > highest ? u : highest;
		sum += u;
		sum_sq += u * u;
	}
	mean = sum / DRAWS;
	variance = sum_sq / DRAWS - mean * mean;
	CHECK_EQ(out_of_range, 0);
	CHECK_NEAR(mean, 0.5, 0.0015);
	CHECK_NEAR(variance, 1.0 / 12.0, 0.0005);
	CHECK_NEAR((double)below_tenth / DRAWS, 0.1, 0.0015);
	CHECK(lowest < 1e-4);
	CHECK(highest > 1.0 - 1e-4);
}

/* The uniform is the top 53 bits scaled by 2^-53: exact at the extremes of next(). */
static void test_uniform_uses_top_53_bits(void)
{
	struct braid_rng probe = { { 1, 2, 3, 4 } };
	struct braid_rng rng = { { 1, 2, 3, 4 } };
	int i, wrong = 0;

	for (i = 0; i < 1000; i++) {
		uint64_t raw = braid_rng_next(&probe);
		double expected = (double)(raw >> 11) / 9007199254740992.0;

		if (braid_rng_uniform(&rng) != expected)
			wrong++;
	}
	CHECK_EQ(wrong, 0);
	/* The second output from {1, 2, 3, 4} is 0, so its uniform is exactly 0. */
	{
		struct braid_rng zero = { { 1, 2, 3, 4 } };

		braid_rng_next(&zero);
		CHECK(braid_rng_uniform(&zero) == 0.0);
	}
}

/* N(0, 1): mean 0, variance 1, about 68.27 % within one deviation, all values finite. */
static void test_normal_moments(void)
{
	struct braid_rng rng;
	double sum = 0, sum_sq = 0, mean, variance;
	int i, within_one = 0, not_finite = 0, beyond_three = 0;

	braid_rng_seed(&rng, 12345);
	for (i = 0; i < DRAWS; i++) {
		double x = braid_rng_normal(&rng);

		if (!isfinite(x))
			not_finite++;
		if (fabs(x) < 1.0)
			within_one++;
		if (fabs(x) > 3.0)
			beyond_three++;
		sum += x;
		sum_sq += x * x;
	}
	mean = sum / DRAWS;
	variance = sum_sq / DRAWS - mean * mean;
	CHECK_EQ(not_finite, 0);
	CHECK_NEAR(mean, 0.0, 0.005);
	CHECK_NEAR(variance, 1.0, 0.008);
	CHECK_NEAR((double)within_one / DRAWS, 0.682689, 0.002);
	/* P(|x| > 3) = 0.0027: tails exist and are not too heavy. */
	CHECK_NEAR((double)beyond_three / DRAWS, 0.0027, 0.0003);
}

static void test_chance(void)
{
	struct braid_rng rng;
	int i, zero_hits = 0, negative_hits = 0, one_misses = 0, above_one_misses = 0;
	int hits = 0, not_boolean = 0;

	braid_rng_seed(&rng, 99);
	for (i = 0; i < 100000; i++) {
		zero_hits += braid_rng_chance(&rng, 0.0);
		negative_hits += braid_rng_chance(&rng, -0.5);
		one_misses += !braid_rng_chance(&rng, 1.0);
		above_one_misses += !braid_rng_chance(&rng, 1.5);
	}
	CHECK_EQ(zero_hits, 0);
	CHECK_EQ(negative_hits, 0);
	CHECK_EQ(one_misses, 0);
	CHECK_EQ(above_one_misses, 0);

	/* Standard error of the frequency over 10^6 trials is about 4.6e-4. */
	for (i = 0; i < DRAWS; i++) {
		int hit = braid_rng_chance(&rng, 0.3);

		if (hit != 0 && hit != 1)
			not_boolean++;
		hits += hit;
	}
	CHECK_EQ(not_boolean, 0);
	CHECK_NEAR((double)hits / DRAWS, 0.3, 0.002);
}

int main(void)
{
	RUN_TEST(test_xoshiro_reference_vector);
	RUN_TEST(test_seed_zero_uses_splitmix64);
	RUN_TEST(test_same_seed_same_sequence);
	RUN_TEST(test_different_seeds_differ);
	RUN_TEST(test_uniform_moments_and_range);
	RUN_TEST(test_uniform_uses_top_53_bits);
	RUN_TEST(test_normal_moments);
	RUN_TEST(test_chance);
	return braid_test_finish();
}
