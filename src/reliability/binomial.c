/* Binomial figures of redundancy: M-of-N and NMR reliability, availability of N replicas,
 * and the Monte Carlo simulations that check them (see ballot/reliability.h). */
#include "ballot/reliability.h"

#include <math.h>

#include "ballot/limits.h"
#include "ballot/rng.h"
#include "common/assert.h"

unsigned ballot_majority(unsigned n)
{
	return n / 2 + 1;
}

unsigned ballot_availability_default_f(unsigned n)
{
	BALLOT_ASSERT(n >= 1);
	return (n - 1) / 2;
}

static bool is_probability(double x)
{
	return x >= 0.0 && x <= 1.0; /* false for NaN too */
}

static int check_n(unsigned n, ballot_errmsg *em)
{
	if (n < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "n %u: need at least 1 module", n);
	if (n > BALLOT_RELIABILITY_N_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "n %u: at most %d modules (BALLOT_RELIABILITY_N_MAX)",
				     n, BALLOT_RELIABILITY_N_MAX);
	return 0;
}

static int check_m_of_n(unsigned n, unsigned m, double r, ballot_errmsg *em)
{
	int rc = check_n(n, em);
	if (rc != 0)
		return rc;
	if (m < 1 || m > n)
		return ballot_errorf(em, BALLOT_EINVAL, "m %u: must be between 1 and n (%u)", m, n);
	if (!is_probability(r))
		return ballot_errorf(em, BALLOT_EINVAL, "r %g: a reliability must be in [0, 1]", r);
	return 0;
}

static int check_availability(unsigned n, unsigned f, double p, ballot_errmsg *em)
{
	int rc = check_n(n, em);
	if (rc != 0)
		return rc;
	if (f > n)
		return ballot_errorf(em, BALLOT_EINVAL, "f %u: at most n (%u) replicas can fail", f, n);
	if (!is_probability(p))
		return ballot_errorf(em, BALLOT_EINVAL, "p %g: a failure probability must be in [0, 1]", p);
	return 0;
}

static double clamp01(double x)
{
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* Adds the weights of X ~ Binomial(n, r) to the two tails, k < m and k >= m, in units of
 * the weight at the mode k0 = floor((n+1) r), which is the largest. The other weights follow
 * by the ratio of neighbours,
 *     P(k+1)/P(k) = (n-k)/(k+1) * r/q,    P(k-1)/P(k) = k/(n-k+1) * q/r,
 * walking outwards from the mode. Every weight is then at most 1 and their sum at most
 * n + 1, so nothing overflows for any n, and a weight too small for a double underflows to
 * 0 only where it could not change the sum. Each step adds a few ulps of error, and the
 * steps far from the mode are the ones whose weights no longer matter.
 * Preconditions: 0 < r < 1, 0 < q < 1, q = 1 - r up to rounding. */
static void binomial_weights(unsigned n, unsigned m, double r, double q, double tail[2])
{
	double k0_real = floor((double)(n + 1) * r);
	unsigned k0 = k0_real >= (double)n ? n : (unsigned)k0_real;
	double up = r / q, down = q / r; /* each finite: see the walks' conditions below */
	tail[0] = tail[1] = 0.0;
	double w = 1.0;
	for (unsigned k = k0;; k++) { /* k0 < n implies q > 1/(n+1), so up < n + 1 */
		tail[k >= m] += w;
		if (k == n)
			break;
		w = w * (double)(n - k) / (double)(k + 1) * up;
		if (w == 0.0)
			break;
	}
	w = 1.0;
	for (unsigned k = k0; k > 0; k--) { /* k0 > 0 implies r >= 1/(n+1), so down <= n */
		w = w * (double)k / (double)(n - k + 1) * down;
		if (w == 0.0)
			break;
		tail[k - 1 >= m] += w;
	}
}

/* P(X >= m) in out->p and P(X < m) in out->complement, for X ~ Binomial(n, r), q = 1 - r.
 * Each tail is summed from its own terms (see ballot_probability) and then normalised by
 * their total, which is 1 in exact arithmetic: the common scale of the weights cancels,
 * so its rounding does too. Symmetric cases come out exact: TMR at r = 0.5 is 0.5. */
static void binomial_tails(unsigned n, unsigned m, double r, double q, ballot_probability *out)
{
	BALLOT_ASSERT(m <= n);
	if (m == 0) {
		/* "At least none": certain, whatever r is. */
		out->p = 1.0;
		out->complement = 0.0;
		return;
	}
	if (r == 0.0 || q == 0.0) {
		/* X is certain: 0 when r = 0, n when r = 1. Exact, and the ratios are avoided. */
		unsigned x = r == 0.0 ? 0 : n;
		out->p = x >= m ? 1.0 : 0.0;
		out->complement = 1.0 - out->p;
		return;
	}
	double tail[2]; /* [0]: k < m, [1]: k >= m */
	binomial_weights(n, m, r, q, tail);
	double total = tail[0] + tail[1];
	BALLOT_ASSERT(total >= 1.0); /* it includes the mode's weight, 1 */
	out->p = clamp01(tail[1] / total);
	out->complement = clamp01(tail[0] / total);
}

int ballot_m_of_n(unsigned n, unsigned m, double r, ballot_probability *out, ballot_errmsg *em)
{
	int rc = check_m_of_n(n, m, r, em);
	if (rc != 0)
		return rc;
	binomial_tails(n, m, r, 1.0 - r, out);
	return 0;
}

int ballot_nmr(unsigned n, unsigned m, double r, double voter_r, ballot_probability *out,
	       ballot_errmsg *em)
{
	if (!is_probability(voter_r))
		return ballot_errorf(em, BALLOT_EINVAL, "voter_r %g: a reliability must be in [0, 1]",
				     voter_r);
	ballot_probability modules;
	int rc = ballot_m_of_n(n, m, r, &modules, em);
	if (rc != 0)
		return rc;
	/* In series: the system works when the modules and the voter both do. Its failure
	 * probability 1 - v p = (1 - v) + v (1 - p) keeps the modules' small complement. */
	out->p = clamp01(voter_r * modules.p);
	out->complement = clamp01((1.0 - voter_r) + voter_r * modules.complement);
	return 0;
}

int ballot_availability(unsigned n, unsigned f, double p, ballot_probability *out,
			ballot_errmsg *em)
{
	int rc = check_availability(n, f, p, em);
	if (rc != 0)
		return rc;
	/* At most f down is at least n - f up, each up with probability 1 - p. Passing p as q
	 * keeps a small p exact instead of recomputing it as 1 - (1 - p). */
	binomial_tails(n, n - f, 1.0 - p, p, out);
	return 0;
}

double ballot_nines(double unavailability)
{
	BALLOT_ASSERT(is_probability(unavailability));
	if (unavailability == 0.0)
		return INFINITY;
	return -log10(unavailability);
}

double ballot_downtime_per_year_s(double unavailability)
{
	BALLOT_ASSERT(is_probability(unavailability));
	return unavailability * BALLOT_SECONDS_PER_YEAR;
}

static int check_trials(uint64_t trials, ballot_errmsg *em)
{
	if (trials < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "trials 0: need at least 1 trial");
	if (trials > BALLOT_MONTE_CARLO_TRIALS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "trials %llu: at most %llu (BALLOT_MONTE_CARLO_TRIALS_MAX)",
				     (unsigned long long)trials,
				     (unsigned long long)BALLOT_MONTE_CARLO_TRIALS_MAX);
	return 0;
}

/* One simulated trial: do at least m of n Bernoulli(prob) draws come up? Stops drawing as
 * soon as the answer is known, which keeps large n affordable and stays deterministic. */
static bool draw_at_least(ballot_rng *rng, unsigned n, unsigned m, double prob)
{
	unsigned hits = 0;
	for (unsigned i = 0; i < n; i++) {
		if (hits >= m)
			return true;
		if (hits + (n - i) < m)
			return false;
		hits += ballot_rng_double(rng) < prob; /* u in [0,1): never for 0, always for 1 */
	}
	return hits >= m;
}

static void finish_estimate(ballot_monte_carlo *out, uint64_t trials, uint64_t seed,
			    uint64_t successes)
{
	out->trials = trials;
	out->seed = seed;
	out->successes = successes;
	out->estimate = (double)successes / (double)trials;
}

int ballot_nmr_monte_carlo(unsigned n, unsigned m, double r, double voter_r, uint64_t trials,
			   uint64_t seed, ballot_monte_carlo *out, ballot_errmsg *em)
{
	int rc = check_m_of_n(n, m, r, em);
	if (rc == 0 && !is_probability(voter_r))
		rc = ballot_errorf(em, BALLOT_EINVAL, "voter_r %g: a reliability must be in [0, 1]",
				   voter_r);
	if (rc == 0)
		rc = check_trials(trials, em);
	if (rc != 0)
		return rc;
	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	uint64_t successes = 0;
	for (uint64_t i = 0; i < trials; i++) {
		if (draw_at_least(&rng, n, m, r) && ballot_rng_double(&rng) < voter_r)
			successes++;
	}
	finish_estimate(out, trials, seed, successes);
	return 0;
}

int ballot_availability_monte_carlo(unsigned n, unsigned f, double p, uint64_t trials,
				    uint64_t seed, ballot_monte_carlo *out, ballot_errmsg *em)
{
	int rc = check_availability(n, f, p, em);
	if (rc == 0)
		rc = check_trials(trials, em);
	if (rc != 0)
		return rc;
	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	uint64_t successes = 0;
	for (uint64_t i = 0; i < trials; i++) {
		/* Up unless at least f + 1 replicas are down (never, when f = n). */
		if (f == n || !draw_at_least(&rng, n, f + 1, p))
			successes++;
	}
	finish_estimate(out, trials, seed, successes);
	return 0;
}

double ballot_monte_carlo_stderr(ballot_probability p, uint64_t trials)
{
	BALLOT_ASSERT(is_probability(p.p));
	BALLOT_ASSERT(is_probability(p.complement));
	BALLOT_ASSERT(trials >= 1);
	return sqrt(p.p * p.complement / (double)trials);
}
