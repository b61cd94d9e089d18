/* A small, seeded pseudo-random generator (xoshiro256**, seeded by splitmix64).
 *
 * Everything in ballot that needs randomness (Monte Carlo checks, and later the Raft core's
 * election timeouts and the simulator) is handed one of these, so the same seed gives the
 * same run bit for bit on every machine. Not for cryptography. */
#ifndef BALLOT_RNG_H
#define BALLOT_RNG_H

#include <stdint.h>

typedef struct ballot_rng {
	uint64_t s[4];
} ballot_rng;

/* Seeds the generator; every seed (0 included) gives a valid, distinct stream. */
void ballot_rng_seed(ballot_rng *rng, uint64_t seed);

/* The next 64 uniformly distributed bits. */
uint64_t ballot_rng_next(ballot_rng *rng);

/* A uniform integer in [0, bound), without modulo bias. Precondition: bound > 0. */
uint64_t ballot_rng_below(ballot_rng *rng, uint64_t bound);

/* A uniform double in [0, 1), with 53 random bits. */
double ballot_rng_double(ballot_rng *rng);

#endif
