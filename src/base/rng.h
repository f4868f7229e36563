/* Seeded pseudo-random numbers for the core and the link models (xoshiro256**, seeded by
 * splitmix64). The core never draws system randomness: whoever owns a context seeds it. */
#ifndef BRAID_RNG_H
#define BRAID_RNG_H

#include <stdint.h>

struct braid_rng {
	uint64_t state[4];
};

/* Any seed, 0 included, gives a valid generator; the same seed gives the same sequence. */
void braid_rng_seed(struct braid_rng *rng, uint64_t seed);
uint64_t braid_rng_next(struct braid_rng *rng);
/* Uniform in [0, 1) with 53 bits of precision. */
double braid_rng_uniform(struct braid_rng *rng);
/* Standard normal N(0, 1) (Box-Muller; one value per call). */
double braid_rng_normal(struct braid_rng *rng);
/* True with probability p (p <= 0 never, p >= 1 always). */
int braid_rng_chance(struct braid_rng *rng, double p);

#endif
