/* xoshiro256** by Blackman and Vigna (public domain reference), seeded with splitmix64 as
 * its authors recommend, so that nearby seeds give unrelated streams. */
#include "ballot/rng.h"

#include "common/assert.h"

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ballot_rng_seed(ballot_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

uint64_t ballot_rng_next(ballot_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t ballot_rng_below(ballot_rng *rng, uint64_t bound)
{
	BALLOT_ASSERT(bound > 0);
	/* Reject the low values that would make some residues more likely (Lemire's bound). */
	uint64_t threshold = -bound % bound;
	for (;;) {
		uint64_t r = ballot_rng_next(rng);
		if (r >= threshold)
			return r % bound;
	}
}

double ballot_rng_double(ballot_rng *rng)
{
	return (double)(ballot_rng_next(rng) >> 11) * 0x1.0p-53;
}
