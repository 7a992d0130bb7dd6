/* slmc_rng.h - the seeded random stream the passes use where a choice must
 * be random yet reproducible (calibration chunk sampling, the random
 * baseline of structured pruning): splitmix64, one 64-bit state. */
#ifndef SLMC_RNG_H
#define SLMC_RNG_H

#include <stdint.h>

static inline uint64_t slmc_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
