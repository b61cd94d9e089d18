/* Unit tests of the reliability arithmetic: each test checks a figure against a closed form
 * from the textbooks, an independent computation, or an exact edge case. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/error.h"
#include "ballot/limits.h"
#include "ballot/reliability.h"

/* cmocka 1.1 compares only floats; this compares doubles and says which value was off. */
#define assert_close(actual, expected, tol) \
	assert_close_at((actual), (expected), (tol), #actual, __FILE__, __LINE__)

static void assert_close_at(double actual, double expected, double tol, const char *expr,
			    const char *file, int line)
{
	if (fabs(actual - expected) <= tol)
		return;
	print_error("%s = %.17g, expected %.17g within %g\n", expr, actual, expected, tol);
	_fail(file, line);
}

static ballot_probability m_of_n(unsigned n, unsigned m, double r)
{
	ballot_probability p;
	assert_int_equal(ballot_m_of_n(n, m, r, &p, NULL), 0);
	return p;
}

static ballot_probability availability(unsigned n, unsigned f, double p)
{
	ballot_probability a;
	assert_int_equal(ballot_availability(n, f, p, &a, NULL), 0);
	return a;
}

/* The binomial upper tail summed the slow, obvious way, for small n only. */
static double naive_at_least(unsigned n, unsigned m, double r)
{
	double sum = 0.0;
	for (unsigned k = m; k <= n; k++) {
		double coef = 1.0;
		for (unsigned i = 1; i <= k; i++)
			coef = coef * (double)(n - k + i) / (double)i;
		sum += coef * pow(r, k) * pow(1.0 - r, n - k);
	}
	return sum;
}

/* ---- M-of-N and NMR ---- */

static void nmr_tmr_at_0_9_is_0_972(void **state)
{
	(void)state;
	ballot_probability p;
	assert_int_equal(ballot_nmr(3, 2, 0.9, 1.0, &p, NULL), 0);
	assert_close(p.p, 0.972, 1e-12);
	assert_close(p.complement, 0.028, 1e-12);
}

static void nmr_voter_reliability_multiplies(void **state)
{
	(void)state;
	ballot_probability p;
	assert_int_equal(ballot_nmr(3, 2, 0.9, 0.99, &p, NULL), 0);
	assert_close(p.p, 0.972 * 0.99, 1e-12);
	assert_close(p.complement, 1.0 - 0.972 * 0.99, 1e-12);
}

static void m_of_n_all_required_is_r_to_the_n(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 12; n++)
		assert_close(m_of_n(n, n, 0.87).p, pow(0.87, n), 1e-14);
}

static void m_of_n_one_required_is_one_minus_all_failing(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 12; n++) {
		ballot_probability p = m_of_n(n, 1, 0.3);
		assert_close(p.p, 1.0 - pow(0.7, n), 1e-14);
		assert_close(p.complement, pow(0.7, n), 1e-15);
	}
}

static void m_of_n_single_module_is_its_reliability(void **state)
{
	(void)state;
	static const double rs[] = {0.0, 0.001, 0.25, 0.5, 0.9, 0.999999, 1.0};
	for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
		ballot_probability p = m_of_n(1, 1, rs[i]);
		assert_close(p.p, rs[i], 1e-15);
		assert_close(p.complement, 1.0 - rs[i], 1e-15);
	}
}

static void m_of_n_matches_the_obvious_sum(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 25; n++)
		for (unsigned m = 1; m <= n; m++)
			for (double r = 0.05; r < 1.0; r += 0.15)
				assert_close(m_of_n(n, m, r).p, naive_at_least(n, m, r), 1e-13);
}

static void m_of_n_matches_exact_rational_sums(void **state)
{
	(void)state;
	/* Both tails from Python's fractions over the exact binary value of each double r. */
	ballot_probability p = m_of_n(1000, 700, 0.7);
	assert_close(p.p / 0.5155935198141187, 1.0, 1e-12);
	assert_close(p.complement / 0.4844064801858813, 1.0, 1e-12);
	p = m_of_n(9, 7, 0.999);
	assert_close(p.p, 0.9999999163772448, 1e-15);
	assert_close(p.complement / 8.362275516054004e-08, 1.0, 1e-12);
	p = availability(1000, 10, 0.001);
	assert_close(p.p, 0.9999999904000448, 1e-15);
	assert_close(p.complement / 9.59995518522822e-09, 1.0, 1e-12);
}

static void m_of_n_r_0_and_1_are_exact(void **state)
{
	(void)state;
	static const unsigned ns[] = {1, 3, 5, 101, BALLOT_RELIABILITY_N_MAX};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		unsigned n = ns[i];
		for (unsigned m = 1; m <= n; m += n / 3 + 1) {
			ballot_probability zero = m_of_n(n, m, 0.0), one = m_of_n(n, m, 1.0);
			assert_true(zero.p == 0.0);
			assert_true(zero.complement == 1.0);
			assert_true(one.p == 1.0);
			assert_true(one.complement == 0.0);
		}
	}
}

static void m_of_n_1000_modules_stays_finite_and_in_0_1(void **state)
{
	(void)state;
	static const double rs[] = {1e-300, 1e-9, 0.1, 0.4999, 0.5, 0.5001, 0.9, 1 - 1e-9};
	static const unsigned ms[] = {1, 2, 250, 500, 501, 502, 750, 999, 1000};
	for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
		for (size_t j = 0; j < sizeof ms / sizeof ms[0]; j++) {
			ballot_probability p = m_of_n(1000, ms[j], rs[i]);
			assert_true(isfinite(p.p) && p.p >= 0.0 && p.p <= 1.0);
			assert_true(isfinite(p.complement) && p.complement >= 0.0 && p.complement <= 1.0);
			assert_close(p.p + p.complement, 1.0, 1e-9);
		}
	}
	/* Symmetry: at r = 0.5, "at least 501 of 1000" and "at most 499" are equally likely,
	 * and the three parts (<= 499, = 500, >= 501) add up to 1. C(1000,500)/2^1000 is
	 * 0.025225018178360... */
	ballot_probability upper = m_of_n(1000, 501, 0.5), lower = m_of_n(1000, 500, 0.5);
	assert_close(lower.p - upper.p, 0.0252250181783608, 1e-12);
	assert_close(upper.p, upper.complement - (lower.p - upper.p), 1e-12);
}

static void m_of_n_far_tail_keeps_relative_precision(void **state)
{
	(void)state;
	/* All 1000 of 1000 modules at r = 0.1 work with probability 1e-1000: below the smallest
	 * double, so 0. But 900 of 1000 at r = 0.99 must keep its tiny failure probability:
	 * P(X < 900), X ~ Bin(1000, 0.99), is 7.440044939402065e-66 (exact rational arithmetic
	 * in Python's fractions, rounded). */
	assert_true(m_of_n(1000, 1000, 0.1).p == 0.0);
	ballot_probability p = m_of_n(1000, 900, 0.99);
	assert_true(p.p == 1.0 || p.p > 1.0 - 1e-15);
	assert_close(p.complement / 7.440044939402065e-66, 1.0, 1e-9);
}

static void tmr_is_worse_than_simplex_below_half_and_better_above(void **state)
{
	(void)state;
	for (int i = 1; i < 100; i++) {
		double r = i / 100.0;
		double tmr = m_of_n(3, 2, r).p;
		assert_close(tmr, 3 * r * r - 2 * r * r * r, 1e-15);
		if (r < 0.5)
			assert_true(tmr < r);
		else if (r > 0.5)
			assert_true(tmr > r);
	}
	/* At the crossover the table must not mark TMR worse: exactly equal, not 0.4999... */
	assert_true(m_of_n(3, 2, 0.5).p == 0.5);
	assert_true(m_of_n(5, 3, 0.5).p == 0.5);
}

static void m_of_n_rejects_bad_input(void **state)
{
	(void)state;
	ballot_probability p;
	ballot_errmsg em;
	assert_int_equal(ballot_m_of_n(0, 1, 0.5, &p, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_m_of_n(BALLOT_RELIABILITY_N_MAX + 1, 1, 0.5, &p, &em), BALLOT_ELIMIT);
	assert_non_null(strstr(em.text, "BALLOT_RELIABILITY_N_MAX"));
	assert_int_equal(ballot_m_of_n(3, 0, 0.5, &p, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_m_of_n(3, 4, 0.5, &p, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "m 4"));
	assert_int_equal(ballot_m_of_n(3, 2, -0.1, &p, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_m_of_n(3, 2, 1.5, &p, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_m_of_n(3, 2, NAN, &p, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_nmr(3, 2, 0.9, 1.01, &p, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "voter_r"));
}

/* ---- availability ---- */

static void availability_5_replicas_p_0_1_is_0_99144(void **state)
{
	(void)state;
	ballot_probability a = availability(5, ballot_availability_default_f(5), 0.1);
	assert_int_equal(ballot_availability_default_f(5), 2);
	assert_close(a.p, 0.99144, 1e-12);
	assert_close(a.complement, 0.00856, 1e-12);
	assert_close(ballot_nines(a.complement), -log10(0.00856), 1e-12);
	assert_close(ballot_downtime_per_year_s(a.complement), 0.00856 * 365.25 * 86400, 1e-6);
}

static void availability_tiny_p_keeps_its_unavailability(void **state)
{
	(void)state;
	/* 3 replicas, 1 may fail, p = 1e-9: down when 2 or 3 fail, 3p^2(1-p) + p^3. Computed as
	 * 1 - availability this would be 0 or 1.1e-16; summed directly it is exact. */
	double p = 1e-9;
	ballot_probability a = availability(3, 1, p);
	double expected = 3 * p * p * (1 - p) + p * p * p;
	assert_close(a.complement / expected, 1.0, 1e-12);
	assert_close(ballot_nines(a.complement), -log10(expected), 1e-9);
	assert_true(a.p == 1.0 || a.p > 1.0 - 1e-15);
}

static void availability_edges_are_exact(void **state)
{
	(void)state;
	assert_true(availability(5, 2, 0.0).p == 1.0);
	assert_true(availability(5, 2, 0.0).complement == 0.0);
	assert_true(availability(5, 2, 1.0).p == 0.0);
	assert_true(availability(5, 5, 1.0).p == 1.0); /* all may fail: always "up" */
	assert_true(availability(5, 5, 0.3).p == 1.0);
	assert_close(availability(4, 0, 0.2).p, pow(0.8, 4), 1e-15);
	assert_true(isinf(ballot_nines(0.0)));
	assert_close(ballot_nines(1e-3), 3.0, 1e-12);
}

static void availability_rejects_bad_input(void **state)
{
	(void)state;
	ballot_probability a;
	ballot_errmsg em;
	assert_int_equal(ballot_availability(5, 6, 0.1, &a, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_availability(5, 2, -0.5, &a, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_availability(0, 0, 0.1, &a, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_availability(1001, 2, 0.1, &a, &em), BALLOT_ELIMIT);
}

/* ---- Monte Carlo ---- */

static void monte_carlo_nmr_is_within_5_stderr_of_the_formula(void **state)
{
	(void)state;
	static const struct {
		unsigned n, m;
		double r, voter_r;
	} cases[] = {{3, 2, 0.9, 1.0}, {5, 3, 0.7, 0.99}, {7, 2, 0.3, 1.0}, {1, 1, 0.5, 1.0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ballot_probability exact;
		ballot_monte_carlo mc;
		assert_int_equal(ballot_nmr(cases[i].n, cases[i].m, cases[i].r, cases[i].voter_r,
					    &exact, NULL), 0);
		assert_int_equal(ballot_nmr_monte_carlo(cases[i].n, cases[i].m, cases[i].r,
							cases[i].voter_r, 200000, 1 + i, &mc, NULL), 0);
		double se = ballot_monte_carlo_stderr(exact, mc.trials);
		assert_true(se > 0.0);
		assert_close(mc.estimate, exact.p, 5 * se);
		assert_true(mc.estimate == (double)mc.successes / 200000.0);
	}
}

static void monte_carlo_availability_is_within_5_stderr_of_the_formula(void **state)
{
	(void)state;
	ballot_monte_carlo mc;
	assert_int_equal(ballot_availability_monte_carlo(5, 2, 0.1, 1000000, 42, &mc, NULL), 0);
	ballot_probability exact = availability(5, 2, 0.1);
	double se = ballot_monte_carlo_stderr(exact, mc.trials);
	assert_close(se, sqrt(0.99144 * 0.00856 / 1e6), 1e-15);
	assert_close(mc.estimate, 0.99144, 5 * se);
}

static void monte_carlo_same_seed_same_estimate(void **state)
{
	(void)state;
	ballot_monte_carlo a, b, c;
	assert_int_equal(ballot_nmr_monte_carlo(5, 3, 0.6, 1.0, 10000, 7, &a, NULL), 0);
	assert_int_equal(ballot_nmr_monte_carlo(5, 3, 0.6, 1.0, 10000, 7, &b, NULL), 0);
	assert_int_equal(ballot_nmr_monte_carlo(5, 3, 0.6, 1.0, 10000, 8, &c, NULL), 0);
	assert_int_equal(a.successes, b.successes);
	assert_int_equal(a.seed, 7);
	assert_true(a.successes != c.successes); /* 10000 trials: a tie is ~1% likely; fixed seeds */
	assert_int_equal(ballot_availability_monte_carlo(9, 4, 0.2, 10000, 3, &a, NULL), 0);
	assert_int_equal(ballot_availability_monte_carlo(9, 4, 0.2, 10000, 3, &b, NULL), 0);
	assert_int_equal(a.successes, b.successes);
}

static void monte_carlo_certain_cases_are_exact(void **state)
{
	(void)state;
	ballot_monte_carlo mc;
	assert_int_equal(ballot_nmr_monte_carlo(5, 3, 1.0, 1.0, 1000, 1, &mc, NULL), 0);
	assert_int_equal(mc.successes, 1000);
	assert_int_equal(ballot_nmr_monte_carlo(5, 3, 0.0, 1.0, 1000, 1, &mc, NULL), 0);
	assert_int_equal(mc.successes, 0);
	assert_int_equal(ballot_availability_monte_carlo(5, 5, 1.0, 1000, 1, &mc, NULL), 0);
	assert_int_equal(mc.successes, 1000);
	assert_true(ballot_monte_carlo_stderr((ballot_probability){1.0, 0.0}, 1000) == 0.0);
	/* Near 1 the complement carries the figure: 1 - 3e-18 is 1.0 as a double. */
	ballot_probability near_one = availability(3, 1, 1e-9);
	assert_true(near_one.p == 1.0);
	assert_close(ballot_monte_carlo_stderr(near_one, 1) / sqrt(3e-18), 1.0, 1e-6);
}

static void monte_carlo_rejects_bad_trials(void **state)
{
	(void)state;
	ballot_monte_carlo mc;
	ballot_errmsg em;
	assert_int_equal(ballot_nmr_monte_carlo(3, 2, 0.9, 1.0, 0, 1, &mc, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_nmr_monte_carlo(3, 2, 0.9, 1.0, BALLOT_MONTE_CARLO_TRIALS_MAX + 1, 1,
						&mc, &em),
			 BALLOT_ELIMIT);
	assert_int_equal(ballot_availability_monte_carlo(3, 4, 0.1, 10, 1, &mc, &em), BALLOT_EINVAL);
}

/* ---- quorums ---- */

static void quorum_crash_f_1_needs_3_nodes_and_quorum_2(void **state)
{
	(void)state;
	ballot_quorum_size q;
	assert_int_equal(ballot_quorum_for_faults(1, false, &q, NULL), 0);
	assert_int_equal(q.n, 3);
	assert_int_equal(q.quorum, 2);
	assert_int_equal(ballot_quorum_for_faults(0, false, &q, NULL), 0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.quorum, 1);
}

static void quorum_byzantine_f_1_needs_4_nodes_and_quorum_3(void **state)
{
	(void)state;
	ballot_quorum_size q;
	assert_int_equal(ballot_quorum_for_faults(1, true, &q, NULL), 0);
	assert_int_equal(q.n, 4);
	assert_int_equal(q.quorum, 3);
	/* Two quorums of 2f+1 out of 3f+1 share f+1 nodes: at least one is correct. */
	for (unsigned f = 0; f <= 333; f++) {
		assert_int_equal(ballot_quorum_for_faults(f, true, &q, NULL), 0);
		assert_int_equal(2 * q.quorum - q.n, f + 1);
	}
	ballot_errmsg em;
	assert_int_equal(ballot_quorum_for_faults(334, true, &q, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_quorum_for_faults(499, false, &q, &em), 0);
	assert_int_equal(ballot_quorum_for_faults(500, false, &q, &em), BALLOT_ELIMIT);
}

static void rw_quorum_n3_r1_w3_is_safe(void **state)
{
	(void)state;
	ballot_rw_quorum q;
	assert_int_equal(ballot_rw_quorum_check(3, 1, 3, &q, NULL), 0);
	assert_true(q.reads_see_latest_write);
	assert_true(q.writes_overlap);
	assert_true(ballot_rw_quorum_safe(&q));
	assert_int_equal(q.read_failures_tolerated, 2);
	assert_int_equal(q.write_failures_tolerated, 0);
}

static void rw_quorum_n3_r1_w2_fails_r_plus_w_gt_n(void **state)
{
	(void)state;
	ballot_rw_quorum q;
	assert_int_equal(ballot_rw_quorum_check(3, 1, 2, &q, NULL), 0);
	assert_false(q.reads_see_latest_write);
	assert_true(q.writes_overlap);
	assert_false(ballot_rw_quorum_safe(&q));
}

static void rw_quorum_n4_r3_w2_fails_w_gt_half_n(void **state)
{
	(void)state;
	ballot_rw_quorum q;
	assert_int_equal(ballot_rw_quorum_check(4, 3, 2, &q, NULL), 0);
	assert_true(q.reads_see_latest_write);
	assert_false(q.writes_overlap);
	assert_false(ballot_rw_quorum_safe(&q));
	assert_int_equal(q.read_failures_tolerated, 1);
	assert_int_equal(q.write_failures_tolerated, 2);
}

static void rw_quorum_rejects_out_of_range(void **state)
{
	(void)state;
	ballot_rw_quorum q;
	ballot_errmsg em;
	assert_int_equal(ballot_rw_quorum_check(3, 0, 2, &q, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_rw_quorum_check(3, 4, 2, &q, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_rw_quorum_check(3, 2, 4, &q, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "w 4"));
	assert_int_equal(ballot_rw_quorum_check(0, 1, 1, &q, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_rw_quorum_check(1001, 1, 1, &q, &em), BALLOT_ELIMIT);
}

/* ---- MTTF ---- */

static double mttf(unsigned n, unsigned m, double lambda, double mu)
{
	double t = 0.0;
	assert_int_equal(ballot_mttf(n, m, lambda, mu, &t, NULL), 0);
	return t;
}

static void mttf_tmr_without_repair_is_5_over_6_lambda(void **state)
{
	(void)state;
	static const double lambdas[] = {1.0, 1e-3, 2.5e-6, 40.0};
	for (size_t i = 0; i < sizeof lambdas / sizeof lambdas[0]; i++) {
		double l = lambdas[i];
		assert_close(mttf(3, 2, l, 0.0) * l, 5.0 / 6.0, 1e-15);
	}
	assert_close(mttf(1, 1, 0.01, 0.0), 100.0, 1e-12);
	/* 3-of-5: 1/(5l) + 1/(4l) + 1/(3l) = 47/(60l) */
	assert_close(mttf(5, 3, 1.0, 0.0), 47.0 / 60.0, 1e-15);
}

static void mttf_tmr_with_repair_is_5_lambda_plus_mu_over_6_lambda_squared(void **state)
{
	(void)state;
	static const double cases[][2] = {{1e-3, 0.1}, {1.0, 1.0}, {2e-5, 0.5}, {0.3, 0.0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double l = cases[i][0], mu = cases[i][1];
		double expected = (5 * l + mu) / (6 * l * l);
		assert_close(mttf(3, 2, l, mu) / expected, 1.0, 1e-14);
	}
	/* Repair cannot help a system with no spare: 1-of-1 and n-of-n ignore mu. */
	assert_close(mttf(1, 1, 0.5, 100.0), 2.0, 1e-15);
	assert_close(mttf(4, 4, 1.0, 100.0), 0.25, 1e-15);
}

static void mttf_with_repair_matches_an_exact_solve_of_the_chain(void **state)
{
	(void)state;
	/* Mean time to absorption from state n, lambda = 1/100, mu = 7/10, from Gaussian
	 * elimination of the chain's equations (k l + mu_k) T_k - k l T_{k-1} - mu_k T_{k+1} = 1
	 * in exact rational arithmetic (Python's fractions), then rounded: an independent check
	 * of the recurrence. (In doubles the same elimination loses 6 digits on 1-of-9.) */
	static const struct {
		unsigned n, m;
		double mttf;
	} cases[] = {
		{3, 2, 1250.0},
		{5, 3, 9178.333333333334},
		{7, 4, 48075.95238095238},
		{9, 1, 184552748248.9462},
		{12, 6, 3883224.9450857784},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_close(mttf(cases[i].n, cases[i].m, 0.01, 0.7) / cases[i].mttf, 1.0, 1e-13);
}

static void mttf_rejects_bad_input_and_overflow(void **state)
{
	(void)state;
	double t;
	ballot_errmsg em;
	assert_int_equal(ballot_mttf(3, 2, 0.0, 0.0, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_mttf(3, 2, -1.0, 0.0, &t, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "lambda"));
	assert_int_equal(ballot_mttf(3, 2, 1.0, -1.0, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_mttf(3, 2, INFINITY, 0.0, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_mttf(3, 4, 1.0, 0.0, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_mttf(1001, 4, 1.0, 0.0, &t, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_mttf(1000, 1, 1.0, 1e10, &t, &em), BALLOT_ERANGE);
}

/* ---- sizes, rates, recovery ---- */

static double size_of(const char *text)
{
	double bytes = -1.0;
	ballot_errmsg em;
	int rc = ballot_parse_size_bytes(text, &bytes, &em);
	if (rc != 0)
		print_error("'%s': %s\n", text, em.text);
	assert_int_equal(rc, 0);
	return bytes;
}

static double rate_of(const char *text)
{
	double rate = -1.0;
	ballot_errmsg em;
	int rc = ballot_parse_rate_bytes_per_s(text, &rate, &em);
	if (rc != 0)
		print_error("'%s': %s\n", text, em.text);
	assert_int_equal(rc, 0);
	return rate;
}

static void parse_size_accepts_decimal_and_binary_units(void **state)
{
	(void)state;
	assert_true(size_of("512") == 512.0);
	assert_true(size_of("512B") == 512.0);
	assert_true(size_of("0") == 0.0);
	assert_true(size_of("1KB") == 1e3);
	assert_true(size_of("1kB") == 1e3);
	assert_true(size_of("1.5TB") == 1.5e12);
	assert_true(size_of("2 GB") == 2e9);
	assert_true(size_of("3MB") == 3e6);
	assert_true(size_of("10GiB") == 10737418240.0);
	assert_true(size_of("1KiB") == 1024.0);
	assert_true(size_of("1MiB") == 1048576.0);
	assert_true(size_of("1TiB") == 1099511627776.0);
	assert_true(size_of(".5KiB") == 512.0);
	assert_true(size_of("4.KB") == 4000.0);
}

static void parse_size_rejects_bad_and_ambiguous_strings(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "GB", "-1GB", "+1GB", "1e9", "1.2.3GB", "10G", "10Gi",
					  "10Gb", "10kb", "10XB", "10 GB extra", "inf", "nan", "0x10",
					  " 10GB", "10GB/s", "1,5GB"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double bytes = 123.0;
		ballot_errmsg em;
		em.text[0] = '\0';
		if (ballot_parse_size_bytes(bad[i], &bytes, &em) != BALLOT_EINVAL)
			fail_msg("size '%s' was accepted as %g", bad[i], bytes);
		assert_true(bytes == 123.0); /* untouched on failure */
		assert_true(strlen(em.text) > 0);
	}
	ballot_errmsg em;
	double bytes;
	ballot_parse_size_bytes("10G", &bytes, &em);
	assert_non_null(strstr(em.text, "ambiguous"));
	ballot_parse_size_bytes("10Gb", &bytes, &em);
	assert_non_null(strstr(em.text, "bits"));
}

static void parse_rate_accepts_bits_and_bytes_per_second(void **state)
{
	(void)state;
	assert_true(rate_of("1Gbit/s") == 1.25e8);
	assert_true(rate_of("1Gbps") == 1.25e8);
	assert_true(rate_of("8bit/s") == 1.0);
	assert_true(rate_of("8bps") == 1.0);
	assert_true(rate_of("100Mbit/s") == 1.25e7);
	assert_true(rate_of("100 Mbps") == 1.25e7);
	assert_true(rate_of("100mbps") == 1.25e7);
	assert_true(rate_of("64Kbit/s") == 8000.0);
	assert_true(rate_of("64kbps") == 8000.0);
	assert_true(rate_of("1B/s") == 1.0);
	assert_true(rate_of("1KB/s") == 1e3);
	assert_true(rate_of("250MB/s") == 2.5e8);
	assert_true(rate_of("1GB/s") == 1e9);
	assert_true(rate_of("1KiB/s") == 1024.0);
	assert_true(rate_of("1MiB/s") == 1048576.0);
	assert_true(rate_of("2GiB/s") == 2147483648.0);
}

static void parse_rate_rejects_bad_and_ambiguous_strings(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "100", "100MB", "0MB/s", "-1MB/s", "1Mb/s", "1MBps",
					  "1Mbit", "1XB/s", "fast", "1e9B/s", "1 Gbit/s/s", "1GBPS"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double rate = 123.0;
		ballot_errmsg em;
		em.text[0] = '\0';
		if (ballot_parse_rate_bytes_per_s(bad[i], &rate, &em) != BALLOT_EINVAL)
			fail_msg("rate '%s' was accepted as %g", bad[i], rate);
		assert_true(rate == 123.0);
		assert_true(strlen(em.text) > 0);
	}
	ballot_errmsg em;
	double rate;
	ballot_parse_rate_bytes_per_s("1Mb/s", &rate, &em);
	assert_non_null(strstr(em.text, "ambiguous"));
}

static void recovery_10GiB_at_1Gbit_s_from_1_source_is_85_899_s(void **state)
{
	(void)state;
	double t;
	assert_int_equal(ballot_recovery_time_s(size_of("10GiB"), rate_of("1Gbit/s"), 1, &t, NULL), 0);
	assert_close(t, 85.89934592, 1e-9);
	assert_int_equal(ballot_recovery_time_s(size_of("10GiB"), rate_of("1Gbit/s"), 4, &t, NULL), 0);
	assert_close(t, 85.89934592 / 4, 1e-9);
	assert_int_equal(ballot_recovery_time_s(0.0, 1.0, 1, &t, NULL), 0);
	assert_true(t == 0.0);
}

static void recovery_rejects_bad_input(void **state)
{
	(void)state;
	double t;
	ballot_errmsg em;
	assert_int_equal(ballot_recovery_time_s(1.0, 0.0, 1, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_recovery_time_s(-1.0, 1.0, 1, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_recovery_time_s(1.0, 1.0, 0, &t, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_recovery_time_s(1.0, 1.0, 1001, &t, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_recovery_time_s(1e300, 1e-300, 1, &t, &em), BALLOT_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nmr_tmr_at_0_9_is_0_972),
		cmocka_unit_test(nmr_voter_reliability_multiplies),
		cmocka_unit_test(m_of_n_all_required_is_r_to_the_n),
		cmocka_unit_test(m_of_n_one_required_is_one_minus_all_failing),
		cmocka_unit_test(m_of_n_single_module_is_its_reliability),
		cmocka_unit_test(m_of_n_matches_the_obvious_sum),
		cmocka_unit_test(m_of_n_matches_exact_rational_sums),
		cmocka_unit_test(m_of_n_r_0_and_1_are_exact),
		cmocka_unit_test(m_of_n_1000_modules_stays_finite_and_in_0_1),
		cmocka_unit_test(m_of_n_far_tail_keeps_relative_precision),
		cmocka_unit_test(tmr_is_worse_than_simplex_below_half_and_better_above),
		cmocka_unit_test(m_of_n_rejects_bad_input),
		cmocka_unit_test(availability_5_replicas_p_0_1_is_0_99144),
		cmocka_unit_test(availability_tiny_p_keeps_its_unavailability),
		cmocka_unit_test(availability_edges_are_exact),
		cmocka_unit_test(availability_rejects_bad_input),
		cmocka_unit_test(monte_carlo_nmr_is_within_5_stderr_of_the_formula),
		cmocka_unit_test(monte_carlo_availability_is_within_5_stderr_of_the_formula),
		cmocka_unit_test(monte_carlo_same_seed_same_estimate),
		cmocka_unit_test(monte_carlo_certain_cases_are_exact),
		cmocka_unit_test(monte_carlo_rejects_bad_trials),
		cmocka_unit_test(quorum_crash_f_1_needs_3_nodes_and_quorum_2),
		cmocka_unit_test(quorum_byzantine_f_1_needs_4_nodes_and_quorum_3),
		cmocka_unit_test(rw_quorum_n3_r1_w3_is_safe),
		cmocka_unit_test(rw_quorum_n3_r1_w2_fails_r_plus_w_gt_n),
		cmocka_unit_test(rw_quorum_n4_r3_w2_fails_w_gt_half_n),
		cmocka_unit_test(rw_quorum_rejects_out_of_range),
		cmocka_unit_test(mttf_tmr_without_repair_is_5_over_6_lambda),
		cmocka_unit_test(mttf_tmr_with_repair_is_5_lambda_plus_mu_over_6_lambda_squared),
		cmocka_unit_test(mttf_with_repair_matches_an_exact_solve_of_the_chain),
		cmocka_unit_test(mttf_rejects_bad_input_and_overflow),
		cmocka_unit_test(parse_size_accepts_decimal_and_binary_units),
		cmocka_unit_test(parse_size_rejects_bad_and_ambiguous_strings),
		cmocka_unit_test(parse_rate_accepts_bits_and_bytes_per_second),
		cmocka_unit_test(parse_rate_rejects_bad_and_ambiguous_strings),
		cmocka_unit_test(recovery_10GiB_at_1Gbit_s_from_1_source_is_85_899_s),
		cmocka_unit_test(recovery_rejects_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
