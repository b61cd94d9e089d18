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

/* The terms P(X = k) of X ~ Binomial(n, r), produced in order k = 0..n. Two ways:
 * - direct: C(n,k) r^k q^(n-k), exact for the small cases people check by hand (TMR at
 *   R = 0.5 is exactly 0.5), used when even min(r,q)^n is a normal double;
 * - log space: exp(log C(n,k) + k log r + (n-k) log q), which cannot overflow or underflow
 *   in the middle, for large n or extreme r (q^1000 at q = 0.1 would be 1e-1000). */
typedef struct binomial_terms {
	unsigned n;
	unsigned k;        /* the next term's k */
	bool direct;
	double r, q;
	double coef;       /* direct: C(n, k) */
	double log_coef;   /* log space: log C(n, k) */
	double log_r, log_q;
} binomial_terms;

/* Precondition: 0 < r < 1 and 0 < q < 1, with q = 1 - r up to rounding. */
static void terms_init(binomial_terms *t, unsigned n, double r, double q)
{
	double smaller = fmin(r, q);
	t->n = n;
	t->k = 0;
	t->r = r;
	t->q = q;
	t->direct = (double)n * log2(smaller) > -1000.0; /* DBL_MIN is 2^-1022 */
	t->coef = 1.0;
	t->log_coef = 0.0;
	/* Take the log of the smaller directly and of the larger as log1p(-smaller): whichever
	 * of r, q the caller gave is the smaller one's exact source in both uses below. */
	t->log_r = r <= q ? log(r) : log1p(-q);
	t->log_q = q <= r ? log(q) : log1p(-r);
}

static double terms_next(binomial_terms *t)
{
	unsigned n = t->n, k = t->k;
	BALLOT_ASSERT(k <= n);
	double term;
	if (t->direct)
		term = t->coef * pow(t->r, (double)k) * pow(t->q, (double)(n - k));
	else
		term = exp(t->log_coef + (double)k * t->log_r + (double)(n - k) * t->log_q);
	if (k < n) {
		/* C(n, k+1) = C(n, k) (n-k) / (k+1); exact while C fits in 53 bits. */
		t->coef = t->coef * (double)(n - k) / (double)(k + 1);
		t->log_coef += log((double)(n - k) / (double)(k + 1));
	}
	t->k++;
	return term;
}

/* P(X >= m) in out->p and P(X < m) in out->complement, for X ~ Binomial(n, r), q = 1 - r.
 * Each tail is summed from its own terms (see ballot_probability). */
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
		/* X is certain: 0 when r = 0, n when r = 1. Exact, and log(0) is avoided. */
		unsigned x = r == 0.0 ? 0 : n;
		out->p = x >= m ? 1.0 : 0.0;
		out->complement = 1.0 - out->p;
		return;
	}
	binomial_terms t;
	terms_init(&t, n, r, q);
	double below = 0.0, at_least = 0.0;
	for (unsigned k = 0; k <= n; k++) {
		double term = terms_next(&t);
		if (k < m)
			below += term;
		else
			at_least += term;
	}
	out->p = clamp01(at_least);
	out->complement = clamp01(below);
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

double ballot_monte_carlo_stderr(double p, uint64_t trials)
{
	BALLOT_ASSERT(is_probability(p));
	BALLOT_ASSERT(trials >= 1);
	return sqrt(p * (1.0 - p) / (double)trials);
}
