/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any 64-bit seed,
 * including 0, expands into a well-mixed state that is never all zero. */
#include "base/rng.h"

#include <math.h>

static uint64_t rotate_left(uint64_t x, unsigned k)
{
	return (x << k) | (x >> (64 - k));
}

/* One splitmix64 step: advances the counter by the golden-ratio increment and returns
 * its mixed value. */
static uint64_t splitmix64_next(uint64_t *counter)
{
	uint64_t z;

	*counter += UINT64_C(0x9e3779b97f4a7c15);
	z = *counter;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void braid_rng_seed(struct braid_rng *rng, uint64_t seed)
{
	uint64_t counter = seed;
	int i;

	/* splitmix64's output mix is a bijection and the four counters differ, so at most one
	 * word can be zero: the all-zero state, from which xoshiro emits zeros forever, is
	 * unreachable. */
	for (i = 0; i < 4; i++)
		rng->state[i] = splitmix64_next(&counter);
}

uint64_t braid_rng_next(struct braid_rng *rng)
{
	uint64_t *s = rng->state;
	uint64_t result = rotate_left(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotate_left(s[3], 45);
	return result;
}

double braid_rng_uniform(struct braid_rng *rng)
{
	/* The high bits of xoshiro256** are its strongest; 53 of them fill a double's
	 * mantissa exactly, so every value k / 2^53 is equally likely. */
	return (double)(braid_rng_next(rng) >> 11) * 0x1.0p-53;
}

double braid_rng_normal(struct braid_rng *rng)
{
	/* 1 - uniform lies in (0, 1], keeping log() finite. */
	double radius_draw = 1.0 - braid_rng_uniform(rng);
	double angle_draw = braid_rng_uniform(rng);
	double two_pi = 6.283185307179586476925286766559;

	return sqrt(-2.0 * log(radius_draw)) * cos(two_pi * angle_draw);
}

int braid_rng_chance(struct braid_rng *rng, double p)
{
	/* Always consume one draw, whatever p is, so a model's random stream stays aligned
	 * when its probabilities change. uniform < p is never true for p <= 0 (or NaN) and
	 * always true for p >= 1. */
	return braid_rng_uniform(rng) < p;
}
