/* The arithmetic of redundancy: M-of-N (NMR) reliability, availability of N replicas, quorum
 * sizes and read/write quorum safety, mean time to failure with and without repair, replica
 * recovery time, and seeded Monte Carlo checks of the binomial figures.
 *
 * Every function here is pure: no I/O, no clock, no global state (randomness comes from a
 * caller-given seed). Fallible functions return 0 or a negative BALLOT_E* code and, on
 * failure only, write the detail into em (which may be NULL). Outputs are written only on
 * success. docs/reliability.md derives each formula. */
#ifndef BALLOT_RELIABILITY_H
#define BALLOT_RELIABILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "ballot/error.h"

/* Seconds in a Julian year (365.25 days), the year of "downtime per year". */
#define BALLOT_SECONDS_PER_YEAR 31557600.0

/* A probability and its complement. Each is summed directly from its own terms, never as
 * 1 minus the other, so a figure near 1 keeps the digits that matter: the complement of an
 * availability of 0.9999999999 is 1e-10 to full precision, which is what "nines" need.
 * Both are in [0, 1]; they add up to 1 within rounding. */
typedef struct ballot_probability {
	double p;
	double complement;
} ballot_probability;

/* The default M of an N-module system: a strict majority, floor(n / 2) + 1. */
unsigned ballot_majority(unsigned n);

/* The default F of ballot_availability: floor((n - 1) / 2), the most failures a majority
 * quorum of n replicas survives. Precondition: n >= 1. */
unsigned ballot_availability_default_f(unsigned n);

/* M-of-N: the probability that at least m of n independent modules work, each working with
 * probability r (the binomial upper tail). Requires 1 <= m <= n, r in [0, 1], and
 * n <= BALLOT_RELIABILITY_N_MAX (else BALLOT_ELIMIT); other bad input is BALLOT_EINVAL.
 * r = 0 and r = 1 give exactly 0 and 1. The terms are built by neighbour ratios outwards
 * from the most likely count and normalised, so nothing overflows or underflows in the
 * middle at n = 1000, and both tails keep ~1e-14 relative accuracy. */
int ballot_m_of_n(unsigned n, unsigned m, double r, ballot_probability *out, ballot_errmsg *em);

/* NMR: ballot_m_of_n(n, m, r) in series with a voter of reliability voter_r in [0, 1]
 * (the voter is a single point of failure, so its reliability multiplies). */
int ballot_nmr(unsigned n, unsigned m, double r, double voter_r, ballot_probability *out,
	       ballot_errmsg *em);

/* Availability: the probability that at most f of n replicas are down, each down
 * independently with probability p in [0, 1]. Requires 0 <= f <= n and
 * 1 <= n <= BALLOT_RELIABILITY_N_MAX. out->complement is the unavailability. */
int ballot_availability(unsigned n, unsigned f, double p, ballot_probability *out,
			ballot_errmsg *em);

/* "Nines" of an availability, from its unavailability u in [0, 1]: -log10(u). Availability
 * 0.999 has 3 nines. Returns +infinity when u is 0 (a system that never fails). */
double ballot_nines(double unavailability);

/* Expected downtime per year, in seconds, of a system with unavailability u in [0, 1]. */
double ballot_downtime_per_year_s(double unavailability);

/* The outcome of a Monte Carlo estimate: estimate = successes / trials. */
typedef struct ballot_monte_carlo {
	uint64_t trials;
	uint64_t seed;
	uint64_t successes;
	double estimate;
} ballot_monte_carlo;

/* Estimates ballot_nmr(n, m, r, voter_r) by simulating `trials` systems with a ballot_rng
 * seeded with `seed`: one Bernoulli draw per module (and one for the voter, drawn only when
 * the modules succeed). Same arguments, same seed: the same estimate on every machine.
 * Validates like ballot_nmr; trials must be in 1..BALLOT_MONTE_CARLO_TRIALS_MAX
 * (BALLOT_ELIMIT above). Time is O(trials * n). */
int ballot_nmr_monte_carlo(unsigned n, unsigned m, double r, double voter_r, uint64_t trials,
			   uint64_t seed, ballot_monte_carlo *out, ballot_errmsg *em);

/* Estimates ballot_availability(n, f, p) the same way (one draw per replica: down with
 * probability p). Validates like ballot_availability, and trials as above. */
int ballot_availability_monte_carlo(unsigned n, unsigned f, double p, uint64_t trials,
				    uint64_t seed, ballot_monte_carlo *out, ballot_errmsg *em);

/* The standard error of a Monte Carlo estimate of a probability p from `trials` trials:
 * sqrt(p (1 - p) / trials), with 1 - p taken from p.complement so it stays right when p
 * rounds to 1. Pass the formula's value: the difference between estimate and formula,
 * divided by this, is then a z-score (|z| > 5 means the formula or the simulation is wrong,
 * not unlucky). Preconditions: p.p and p.complement in [0, 1], trials >= 1. */
double ballot_monte_carlo_stderr(ballot_probability p, uint64_t trials);

/* The smallest cluster that tolerates f faults, and its quorum. */
typedef struct ballot_quorum_size {
	unsigned f;
	bool byzantine;
	unsigned n;      /* crash: 2f + 1; Byzantine: 3f + 1 */
	unsigned quorum; /* crash: f + 1; Byzantine: 2f + 1 */
} ballot_quorum_size;

/* Fills out for f crash faults (byzantine false) or f Byzantine faults. The resulting n must
 * be at most BALLOT_RELIABILITY_N_MAX, else BALLOT_ELIMIT. f = 0 gives n = 1, quorum 1. */
int ballot_quorum_for_faults(unsigned f, bool byzantine, ballot_quorum_size *out,
			     ballot_errmsg *em);

/* A read/write quorum configuration and the verdict of each safety rule. */
typedef struct ballot_rw_quorum {
	unsigned n, r, w;
	bool reads_see_latest_write; /* R + W > N: every read quorum meets every write quorum */
	bool writes_overlap;         /* W > N / 2: two write quorums always share a replica */
	unsigned read_failures_tolerated;  /* N - R: reads still succeed with this many down */
	unsigned write_failures_tolerated; /* N - W */
} ballot_rw_quorum;

/* Checks read quorum r and write quorum w over n replicas. Requires 1 <= r, w <= n and
 * 1 <= n <= BALLOT_RELIABILITY_N_MAX. An unsafe configuration is not an error: the call
 * succeeds and the rules say which fails (see ballot_rw_quorum_safe). */
int ballot_rw_quorum_check(unsigned n, unsigned r, unsigned w, ballot_rw_quorum *out,
			   ballot_errmsg *em);

/* True when both rules hold. */
bool ballot_rw_quorum_safe(const ballot_rw_quorum *q);

/* Mean time to failure of an m-of-n system whose modules fail independently at constant
 * rate lambda (> 0), in units of 1/lambda's time unit. With mu = 0, no repair:
 * sum_{k=m}^{n} 1/(k lambda); for TMR 5/(6 lambda). With repair rate mu > 0 (one repair
 * crew: every degraded state returns to one more working module at rate mu), the exact mean
 * time to absorption of the birth-death chain n -> ... -> m -> m-1 (failed); for TMR
 * (5 lambda + mu) / (6 lambda^2). Requires 1 <= m <= n <= BALLOT_RELIABILITY_N_MAX,
 * finite lambda > 0 and finite mu >= 0. BALLOT_ERANGE if the answer overflows a double
 * (large mu / lambda with many spare modules). */
int ballot_mttf(unsigned n, unsigned m, double lambda, double mu, double *mttf,
		ballot_errmsg *em);

/* Parses a data size into bytes: a non-negative decimal number ("512", "1.5") and an
 * optional unit, with optional spaces between: B, KB, MB, GB, TB (powers of 1000) or KiB,
 * MiB, GiB, TiB (powers of 1024). The prefix letter may be either case; the final B must be
 * upper case, because a lower-case b means bits. A bare prefix ("10G") is refused as
 * ambiguous. BALLOT_EINVAL with the reason on anything else. */
int ballot_parse_size_bytes(const char *text, double *bytes, ballot_errmsg *em);

/* Parses a transfer rate into bytes per second: a positive decimal number and a unit, either
 * bits per second (bit/s, Kbit/s, Mbit/s, Gbit/s, Tbit/s, or bps, Kbps, Mbps, Gbps, Tbps;
 * 1 bit = 1/8 byte) or bytes per second (B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s,
 * TiB/s). Prefix letters may be either case. A unit is required; "Mb/s" and "MBps" are
 * refused because one letter's case would decide between bits and bytes. */
int ballot_parse_rate_bytes_per_s(const char *text, double *bytes_per_s, ballot_errmsg *em);

/* Mean time to recover a replica, in seconds: bytes / (bytes_per_s * sources), where
 * `sources` replicas each send their share at bytes_per_s in parallel. Requires finite
 * bytes >= 0, finite bytes_per_s > 0, and 1 <= sources <= BALLOT_RELIABILITY_N_MAX;
 * BALLOT_ERANGE if the time overflows a double. */
int ballot_recovery_time_s(double bytes, double bytes_per_s, unsigned sources, double *seconds,
			   ballot_errmsg *em);

#endif
