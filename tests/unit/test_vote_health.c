/* Unit tests of the health tracker (ballot_voter in ballot/vote.h): per-module counts, fault
 * runs, and the REPORT / REDUCE / EXCLUDE actions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/vote.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static ballot_output text(const char *s)
{
	return ballot_output_bytes(s, strlen(s));
}

static ballot_output failed(void)
{
	return ballot_output_failed();
}

#define FAIL_AT(file, line, fmt, ...)                                            \
	do {                                                                     \
		print_error("ERROR: " fmt "\n", ##__VA_ARGS__);                  \
		_fail((file), (line));                                           \
	} while (0)

static void init_ok_(ballot_voter *v, const ballot_vote_config *config, size_t n,
		     const ballot_health_config *health, const char *file, int line)
{
	ballot_errmsg em = {{0}};
	int rc = ballot_voter_init(v, config, n, health, &em);
	if (rc != 0)
		FAIL_AT(file, line, "ballot_voter_init returned %d: %s", rc, em.text);
}
#define init_ok(v, c, n, h) init_ok_((v), (c), (n), (h), __FILE__, __LINE__)

/* One round, asserting success; returns the acted mask. */
static uint64_t round_ok_(ballot_voter *v, const ballot_output *outputs, ballot_vote_result *r,
			  const char *file, int line)
{
	ballot_errmsg em = {{0}};
	uint64_t acted = 0xDEADBEEF;
	int rc = ballot_voter_vote(v, outputs, r, &acted, &em);
	if (rc != 0)
		FAIL_AT(file, line, "ballot_voter_vote in round %llu returned %d: %s",
			(unsigned long long)v->rounds + 1, rc, em.text);
	if (em.text[0] != '\0')
		FAIL_AT(file, line, "ballot_voter_vote succeeded but wrote a message: %s", em.text);
	return acted;
}
#define round_ok(v, o, r) round_ok_((v), (o), (r), __FILE__, __LINE__)

static void expect_counts_(const ballot_module_health *m, uint64_t votes, uint64_t agreed,
			   uint64_t dissented, uint64_t failed_count, const char *file, int line)
{
	if (m->votes != votes || m->agreed != agreed || m->dissented != dissented ||
	    m->failed != failed_count)
		FAIL_AT(file, line,
			"votes/agreed/dissented/failed %llu/%llu/%llu/%llu, expected %llu/%llu/%llu/%llu",
			(unsigned long long)m->votes, (unsigned long long)m->agreed,
			(unsigned long long)m->dissented, (unsigned long long)m->failed,
			(unsigned long long)votes, (unsigned long long)agreed,
			(unsigned long long)dissented, (unsigned long long)failed_count);
}
#define expect_counts(m, v, a, d, f) expect_counts_((m), (v), (a), (d), (f), __FILE__, __LINE__)

static void expect_double_(double got, double want, const char *file, int line)
{
	if (!(got == want))
		FAIL_AT(file, line, "%.17g, expected %.17g", got, want);
}
#define expect_double(got, want) expect_double_((got), (want), __FILE__, __LINE__)

#define BIT(i) (UINT64_C(1) << (i))

static const ballot_vote_config majority = {.policy = BALLOT_POLICY_MAJORITY};

static ballot_health_config exclude_after(unsigned k)
{
	return (ballot_health_config){.fault_limit = k, .action = BALLOT_HEALTH_EXCLUDE};
}

/* ---- Counting ------------------------------------------------------------------------- */

static void voter_counts_agreed_dissented_failed_and_votes_per_module(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = {.fault_limit = 0, .action = BALLOT_HEALTH_REPORT};
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;

	ballot_output r1[] = {text("a"), text("a"), text("b")}; /* m2 dissents */
	ballot_output r2[] = {text("a"), text("a"), failed()};  /* m2 fails */
	ballot_output r3[] = {text("a"), text("b"), text("c")}; /* no winner */
	ballot_output r4[] = {text("b"), text("a"), text("a")}; /* m0 dissents */
	assert_int_equal(round_ok(&v, r1, &r), 0);
	assert_int_equal(round_ok(&v, r2, &r), 0);
	assert_int_equal(round_ok(&v, r3, &r), 0);
	assert_false(r.has_winner);
	assert_int_equal(round_ok(&v, r4, &r), 0);

	assert_int_equal(v.rounds, 4);
	expect_counts(&v.modules[0], 4, 2, 1, 0);
	expect_counts(&v.modules[1], 4, 3, 0, 0);
	expect_counts(&v.modules[2], 4, 1, 1, 1);
	/* m2: dissent, failure (not a fault here), undecided, agreement. */
	assert_int_equal(v.modules[2].consecutive_faults, 0);
	assert_int_equal(v.modules[2].longest_fault_run, 1);
	assert_int_equal(v.modules[0].consecutive_faults, 1);
	for (int i = 0; i < 3; i++) {
		assert_false(v.modules[i].excluded);
		assert_int_equal(v.modules[i].actions, 0);
		expect_double(v.modules[i].weight, 1.0);
	}
}

static void voter_passes_the_vote_result_through(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(3);
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("b"), text("a")};
	round_ok(&v, o, &r);
	assert_true(r.has_winner);
	assert_int_equal(r.support_count, 2);
	assert_int_equal(r.electorate, 3);
	assert_int_equal(r.verdicts[1], BALLOT_VERDICT_DISSENTED);
}

static void voter_accepts_a_null_acted_mask(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(1);
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("b"), text("a")};
	assert_int_equal(ballot_voter_vote(&v, o, &r, NULL, NULL), 0);
	assert_true(v.modules[1].excluded);
}

/* ---- EXCLUDE -------------------------------------------------------------------------- */

static void exclude_removes_a_module_after_k_consecutive_dissents(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(2);
	init_ok(&v, &majority, 4, &h);
	ballot_vote_result r;
	ballot_output bad_last[] = {text("a"), text("a"), text("a"), text("x")};

	assert_int_equal(round_ok(&v, bad_last, &r), 0);
	assert_false(v.modules[3].excluded);
	assert_int_equal(v.modules[3].consecutive_faults, 1);

	assert_int_equal(round_ok(&v, bad_last, &r), BIT(3));
	assert_true(v.modules[3].excluded);
	assert_int_equal(v.modules[3].actions, 1);
	assert_int_equal(v.modules[3].consecutive_faults, 2);
	assert_int_equal(v.modules[3].longest_fault_run, 2);
	expect_counts(&v.modules[3], 2, 0, 2, 0);
	for (int i = 0; i < 3; i++)
		assert_false(v.modules[i].excluded);

	/* 2 of 4 would be no majority; with module 3 excluded it is 2 of 3. */
	ballot_output split[] = {text("a"), text("a"), text("b"), text("c")};
	assert_int_equal(round_ok(&v, split, &r), 0);
	assert_true(r.has_winner);
	assert_int_equal(r.electorate, 3);
	assert_int_equal(r.support_count, 2);
	assert_int_equal(r.verdicts[0], BALLOT_VERDICT_AGREED);
	assert_int_equal(r.verdicts[2], BALLOT_VERDICT_DISSENTED);
	assert_int_equal(r.verdicts[3], BALLOT_VERDICT_EXCLUDED);
	/* An excluded module takes part in no vote. */
	expect_counts(&v.modules[3], 2, 0, 2, 0);
	assert_int_equal(v.modules[3].actions, 1);
}

static void exclude_is_not_repeated_on_an_excluded_module(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(1);
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("a"), text("x")};
	assert_int_equal(round_ok(&v, o, &r), BIT(2));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(round_ok(&v, o, &r), 0);
		assert_int_equal(r.verdicts[2], BALLOT_VERDICT_EXCLUDED);
		assert_int_equal(r.electorate, 2);
	}
	assert_int_equal(v.modules[2].actions, 1);
	assert_int_equal(v.rounds, 4);
}

static void an_agreement_resets_the_fault_run(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(2);
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output dissent[] = {text("a"), text("a"), text("x")};
	ballot_output agree[] = {text("a"), text("a"), text("a")};

	assert_int_equal(round_ok(&v, dissent, &r), 0);
	assert_int_equal(round_ok(&v, agree, &r), 0);
	assert_int_equal(v.modules[2].consecutive_faults, 0);
	assert_int_equal(round_ok(&v, dissent, &r), 0);
	assert_false(v.modules[2].excluded);
	assert_int_equal(v.modules[2].consecutive_faults, 1);
	assert_int_equal(v.modules[2].longest_fault_run, 1);
	expect_counts(&v.modules[2], 3, 1, 2, 0);

	assert_int_equal(round_ok(&v, dissent, &r), BIT(2));
	assert_true(v.modules[2].excluded);
	assert_int_equal(v.modules[2].longest_fault_run, 2);
}

static void a_round_without_winner_changes_no_dissent_count(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(2);
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output dissent[] = {text("a"), text("a"), text("x")};
	ballot_output no_winner[] = {text("a"), text("b"), text("c")};

	assert_int_equal(round_ok(&v, dissent, &r), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(round_ok(&v, no_winner, &r), 0);
		assert_false(r.has_winner);
	}
	/* Nothing to dissent from: the run neither grows nor resets. */
	expect_counts(&v.modules[2], 4, 0, 1, 0);
	assert_int_equal(v.modules[2].consecutive_faults, 1);
	for (int i = 0; i < 2; i++) {
		expect_counts(&v.modules[i], 4, 1, 0, 0);
		assert_int_equal(v.modules[i].consecutive_faults, 0);
	}
	assert_false(v.modules[2].excluded);

	assert_int_equal(round_ok(&v, dissent, &r), BIT(2));
	assert_true(v.modules[2].excluded);
}

static void failures_count_as_faults_only_when_configured(void **state)
{
	(void)state;
	ballot_vote_result r;
	ballot_output fails[] = {text("a"), text("a"), failed()};

	ballot_voter lenient;
	ballot_health_config h = exclude_after(2);
	init_ok(&lenient, &majority, 3, &h);
	for (int i = 0; i < 4; i++)
		assert_int_equal(round_ok(&lenient, fails, &r), 0);
	assert_false(lenient.modules[2].excluded);
	assert_int_equal(lenient.modules[2].consecutive_faults, 0);
	expect_counts(&lenient.modules[2], 4, 0, 0, 4);

	ballot_voter strict;
	h.failures_are_faults = true;
	init_ok(&strict, &majority, 3, &h);
	assert_int_equal(round_ok(&strict, fails, &r), 0);
	assert_int_equal(round_ok(&strict, fails, &r), BIT(2));
	assert_true(strict.modules[2].excluded);
	expect_counts(&strict.modules[2], 2, 0, 0, 2);
	assert_int_equal(strict.modules[2].consecutive_faults, 2);
}

static void failures_in_a_round_without_winner_still_count(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(2);
	h.failures_are_faults = true;
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("b"), failed()};
	assert_int_equal(round_ok(&v, o, &r), 0);
	assert_false(r.has_winner);
	expect_counts(&v.modules[2], 1, 0, 0, 1);
	assert_int_equal(round_ok(&v, o, &r), BIT(2));
	assert_true(v.modules[2].excluded);
	/* The two that answered were undecided: no faults. */
	assert_int_equal(v.modules[0].consecutive_faults, 0);
	assert_int_equal(v.modules[1].consecutive_faults, 0);
}

static void the_last_module_is_never_excluded(void **state)
{
	(void)state;
	ballot_vote_result r;
	ballot_output two_fail[] = {failed(), failed()};
	ballot_health_config h = exclude_after(1);
	h.failures_are_faults = true;

	ballot_voter v;
	init_ok(&v, &majority, 2, &h);
	/* Both reach K in the same round: the first goes, the second stays. */
	assert_int_equal(round_ok(&v, two_fail, &r), BIT(0));
	assert_true(v.modules[0].excluded);
	assert_false(v.modules[1].excluded);
	assert_int_equal(v.modules[1].actions, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(round_ok(&v, two_fail, &r), 0);
		assert_false(v.modules[1].excluded);
		assert_int_equal(r.electorate, 1);
		assert_int_equal(r.verdicts[1], BALLOT_VERDICT_FAILED);
	}
	assert_int_equal(v.modules[1].consecutive_faults, 4);

	ballot_voter one;
	init_ok(&one, &majority, 1, &h);
	ballot_output x[] = {failed()};
	for (int i = 0; i < 3; i++)
		assert_int_equal(round_ok(&one, x, &r), 0);
	assert_false(one.modules[0].excluded);
	assert_int_equal(one.modules[0].actions, 0);
}

static void simultaneous_faults_exclude_all_but_one_module(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(1);
	h.failures_are_faults = true;
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {failed(), failed(), failed()};
	assert_int_equal(round_ok(&v, o, &r), BIT(0) | BIT(1));
	assert_true(v.modules[0].excluded);
	assert_true(v.modules[1].excluded);
	assert_false(v.modules[2].excluded);
	assert_int_equal(round_ok(&v, o, &r), 0);
	assert_int_equal(r.electorate, 1);
}

static void fault_limit_zero_never_acts(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = exclude_after(0);
	h.failures_are_faults = true;
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("a"), text("x")};
	for (int i = 0; i < 50; i++)
		assert_int_equal(round_ok(&v, o, &r), 0);
	assert_false(v.modules[2].excluded);
	assert_int_equal(v.modules[2].actions, 0);
	assert_int_equal(v.modules[2].consecutive_faults, 50);
	assert_int_equal(v.modules[2].longest_fault_run, 50);
}

/* ---- REPORT --------------------------------------------------------------------------- */

static void report_only_sets_the_acted_bit(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = {.fault_limit = 2, .action = BALLOT_HEALTH_REPORT};
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("x"), text("a"), text("a")};

	assert_int_equal(round_ok(&v, o, &r), 0);
	assert_int_equal(round_ok(&v, o, &r), BIT(0));
	assert_int_equal(v.modules[0].actions, 1);
	assert_false(v.modules[0].excluded);
	expect_double(v.modules[0].weight, 1.0);
	expect_double(v.weights[0], 1.0);

	/* Still voting, still reported every K faults. */
	assert_int_equal(round_ok(&v, o, &r), 0);
	assert_int_equal(r.verdicts[0], BALLOT_VERDICT_DISSENTED);
	assert_int_equal(r.electorate, 3);
	assert_int_equal(round_ok(&v, o, &r), BIT(0));
	assert_int_equal(v.modules[0].actions, 2);
}

/* ---- REDUCE --------------------------------------------------------------------------- */

static void reduce_multiplies_the_weight_once_per_k_faults(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = {.fault_limit = 2, .action = BALLOT_HEALTH_REDUCE, .reduce_factor = 0.5};
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("x"), text("a")};
	const uint64_t want_acted[] = {0, BIT(1), 0, BIT(1), 0};
	const double want_weight[] = {1.0, 0.5, 0.5, 0.25, 0.25};
	for (size_t i = 0; i < COUNT_OF(want_acted); i++) {
		assert_int_equal(round_ok(&v, o, &r), want_acted[i]);
		expect_double(v.modules[1].weight, want_weight[i]);
		expect_double(v.weights[1], want_weight[i]);
		assert_false(v.modules[1].excluded);
	}
	assert_int_equal(v.modules[1].actions, 2);
	expect_double(v.modules[0].weight, 1.0);
	expect_double(v.modules[2].weight, 1.0);
}

static void reduce_lowers_the_weight_the_weighted_vote_uses(void **state)
{
	(void)state;
	const double w[] = {2.0, 1.0, 1.0, 1.0};
	ballot_vote_config c = {.policy = BALLOT_POLICY_WEIGHTED, .weights = w};
	ballot_health_config h = {.fault_limit = 1, .action = BALLOT_HEALTH_REDUCE, .reduce_factor = 0.5};
	ballot_voter v;
	init_ok(&v, &c, 4, &h);
	ballot_vote_result r;

	/* Before: module 0 with one ally holds 3 of 5. */
	ballot_voter fresh;
	init_ok(&fresh, &c, 4, &h);
	ballot_output test[] = {text("a"), text("a"), text("b"), text("b")};
	round_ok(&fresh, test, &r);
	assert_true(r.has_winner);
	expect_double(r.support_weight, 3.0);
	expect_double(r.total_weight, 5.0);

	/* Module 0 dissents once (3 of 5 against it), so its weight halves to 1. */
	ballot_output dissent[] = {text("x"), text("b"), text("b"), text("b")};
	assert_int_equal(round_ok(&v, dissent, &r), BIT(0));
	expect_double(v.modules[0].weight, 1.0);

	/* After: 2 against 2 of a total of 4 is no weighted majority. */
	assert_int_equal(round_ok(&v, test, &r), 0);
	assert_false(r.has_winner);
	assert_int_equal(r.reason, BALLOT_NO_WEIGHTED_MAJORITY);
	expect_double(r.total_weight, 4.0);
}

/* vote.h: weights are "positive finite" and a voter "votes with the current weights"; a
 * module that keeps dissenting under REDUCE must not drive its weight to an invalid 0 and
 * stop the voter. */
static void reduce_never_stops_the_voter_by_underflowing_a_weight(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_health_config h = {.fault_limit = 1, .action = BALLOT_HEALTH_REDUCE, .reduce_factor = 0.5};
	init_ok(&v, &majority, 3, &h);
	ballot_vote_result r;
	ballot_output o[] = {text("a"), text("a"), text("x")};
	for (int i = 0; i < 1200; i++) {
		ballot_errmsg em = {{0}};
		int rc = ballot_voter_vote(&v, o, &r, NULL, &em);
		if (rc != 0)
			fail_msg("round %d (module 2 weight %g after %u reductions): %d %s", i + 1,
				 v.modules[2].weight, v.modules[2].actions, rc, em.text);
		assert_true(r.has_winner);
	}
	assert_true(v.modules[2].weight > 0);
}

/* vote.h: a voter "owns no heap memory; copy it freely". A copy must vote with its own
 * weights, not with those of the voter it was copied from (which may change or be gone). */
static void a_copied_voter_votes_with_its_own_weights(void **state)
{
	(void)state;
	const double w[] = {2.0, 1.0, 1.0, 1.0};
	ballot_vote_config c = {.policy = BALLOT_POLICY_WEIGHTED, .weights = w};
	ballot_health_config h = {.fault_limit = 1, .action = BALLOT_HEALTH_REDUCE, .reduce_factor = 0.5};
	ballot_voter original;
	init_ok(&original, &c, 4, &h);
	ballot_voter copy = original;
	ballot_vote_result r;

	ballot_output dissent[] = {text("x"), text("b"), text("b"), text("b")};
	assert_int_equal(round_ok(&copy, dissent, &r), BIT(0));
	expect_double(copy.modules[0].weight, 1.0);
	expect_double(original.modules[0].weight, 2.0);

	/* The copy's module 0 now weighs 1: 2 against 2 of 4. */
	ballot_output test[] = {text("a"), text("a"), text("b"), text("b")};
	uint64_t acted = round_ok(&copy, test, &r);
	expect_double(r.total_weight, 4.0);
	assert_false(r.has_winner);
	assert_int_equal(acted, 0);

	/* The original is untouched: its module 0 still weighs 2, so 3 of 5 wins. */
	round_ok(&original, test, &r);
	expect_double(r.total_weight, 5.0);
	assert_true(r.has_winner);
}

/* ---- Initialisation ------------------------------------------------------------------- */

static void voter_init_rejects_a_bad_reduce_factor(void **state)
{
	(void)state;
	const double bad[] = {0.0, 1.0, -0.5, 1.5, NAN, INFINITY};
	ballot_voter v;
	for (size_t i = 0; i < COUNT_OF(bad); i++) {
		ballot_health_config h = {.fault_limit = 1, .action = BALLOT_HEALTH_REDUCE,
					  .reduce_factor = bad[i]};
		ballot_errmsg em = {{0}};
		int rc = ballot_voter_init(&v, &majority, 3, &h, &em);
		if (rc != BALLOT_EINVAL)
			fail_msg("reduce factor %g: returned %d, expected BALLOT_EINVAL", bad[i], rc);
		assert_true(strlen(em.text) > 0);
	}
	ballot_health_config ok = {.fault_limit = 1, .action = BALLOT_HEALTH_REDUCE, .reduce_factor = 0.999};
	assert_int_equal(ballot_voter_init(&v, &majority, 3, &ok, NULL), 0);
}

static void voter_init_rejects_unknown_action_and_bad_config(void **state)
{
	(void)state;
	ballot_voter v;
	ballot_errmsg em = {{0}};
	ballot_health_config h = {.fault_limit = 1, .action = (ballot_health_action)3};
	assert_int_equal(ballot_voter_init(&v, &majority, 3, &h, &em), BALLOT_EINVAL);
	assert_true(strlen(em.text) > 0);

	h = exclude_after(1);
	em.text[0] = '\0';
	assert_int_equal(ballot_voter_init(&v, &majority, 0, &h, &em), BALLOT_EINVAL);
	assert_true(strlen(em.text) > 0);
	assert_int_equal(ballot_voter_init(&v, &majority, BALLOT_VOTE_MODULES_MAX + 1, &h, &em),
			 BALLOT_ELIMIT);
	const double w[] = {1.0, 0.0, 1.0};
	ballot_vote_config c = {.policy = BALLOT_POLICY_WEIGHTED, .weights = w};
	assert_int_equal(ballot_voter_init(&v, &c, 3, &h, &em), BALLOT_EINVAL);
}

static void voter_copies_the_weights_at_init(void **state)
{
	(void)state;
	double w[] = {3.0, 1.0, 1.0};
	ballot_vote_config c = {.policy = BALLOT_POLICY_WEIGHTED, .weights = w};
	ballot_health_config h = {.action = BALLOT_HEALTH_REPORT};
	ballot_voter v;
	init_ok(&v, &c, 3, &h);
	w[0] = 0.5; /* the caller's array is not the voter's */
	expect_double(v.modules[0].weight, 3.0);
	ballot_vote_result r;
	ballot_output o[] = {text("heavy"), text("light"), text("light")};
	round_ok(&v, o, &r);
	assert_true(r.has_winner);
	assert_int_equal(r.winner_index, 0);
	expect_double(r.total_weight, 5.0);

	ballot_vote_config unweighted = {.policy = BALLOT_POLICY_WEIGHTED};
	init_ok(&v, &unweighted, 3, &h);
	for (int i = 0; i < 3; i++)
		expect_double(v.modules[i].weight, 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(voter_counts_agreed_dissented_failed_and_votes_per_module),
		cmocka_unit_test(voter_passes_the_vote_result_through),
		cmocka_unit_test(voter_accepts_a_null_acted_mask),
		cmocka_unit_test(exclude_removes_a_module_after_k_consecutive_dissents),
		cmocka_unit_test(exclude_is_not_repeated_on_an_excluded_module),
		cmocka_unit_test(an_agreement_resets_the_fault_run),
		cmocka_unit_test(a_round_without_winner_changes_no_dissent_count),
		cmocka_unit_test(failures_count_as_faults_only_when_configured),
		cmocka_unit_test(failures_in_a_round_without_winner_still_count),
		cmocka_unit_test(the_last_module_is_never_excluded),
		cmocka_unit_test(simultaneous_faults_exclude_all_but_one_module),
		cmocka_unit_test(fault_limit_zero_never_acts),
		cmocka_unit_test(report_only_sets_the_acted_bit),
		cmocka_unit_test(reduce_multiplies_the_weight_once_per_k_faults),
		cmocka_unit_test(reduce_lowers_the_weight_the_weighted_vote_uses),
		cmocka_unit_test(reduce_never_stops_the_voter_by_underflowing_a_weight),
		cmocka_unit_test(a_copied_voter_votes_with_its_own_weights),
		cmocka_unit_test(voter_init_rejects_a_bad_reduce_factor),
		cmocka_unit_test(voter_init_rejects_unknown_action_and_bad_config),
		cmocka_unit_test(voter_copies_the_weights_at_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
