/* Unit tests of the vote (ballot/vote.h): policies, exact and inexact agreement, verdicts,
 * reason codes, support, configuration checks and names.
 *
 * Every vote goes through vote_ok(), which fills the result with garbage first, so each test
 * also checks that ballot_vote writes the whole result. */
#include <math.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "ballot/vote.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- A hash we can make collide ------------------------------------------------------
 *
 * vote.c groups bytes by XXH3 and "confirms each match with a byte comparison". A real
 * XXH3 collision is out of reach, so this executable defines XXH3_64bits itself: the static
 * library's reference resolves here at link time. It returns the real hash (XXH3 with seed 0
 * is XXH3_64bits, per xxhash.h) unless a test asks every output to hash alike. */
static bool hash_collides;

XXH64_hash_t XXH3_64bits(const void *data, size_t len)
{
	if (hash_collides)
		return 42;
	return XXH3_64bits_withSeed(data, len, 0);
}

/* On x86, vote.c calls libxxhash's run-time dispatching entry point instead. */
XXH64_hash_t XXH3_64bits_dispatch(const void *data, size_t len);
XXH64_hash_t XXH3_64bits_dispatch(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

/* ---- Helpers -------------------------------------------------------------------------- */

static ballot_output text(const char *s)
{
	return ballot_output_bytes(s, strlen(s));
}

static ballot_output num(double v)
{
	return ballot_output_number(v);
}

static ballot_output failed(void)
{
	return ballot_output_failed();
}

static ballot_vote_config policy(ballot_policy p)
{
	return (ballot_vote_config){.policy = p};
}

/* The helpers below report a failure at the caller's line: each is a macro over a function
 * that takes __FILE__ and __LINE__. */
#define FAIL_AT(file, line, fmt, ...)                                            \
	do {                                                                     \
		print_error("ERROR: " fmt "\n", ##__VA_ARGS__);                  \
		_fail((file), (line));                                           \
	} while (0)

/* Votes, asserting success; the result is filled with garbage first. */
static void vote_ok_(const ballot_vote_config *config, const ballot_output *outputs, size_t n,
		     const bool *excluded, ballot_vote_result *r, const char *file, int line)
{
	ballot_errmsg em = {{0}};
	memset(r, 0xA5, sizeof *r);
	int rc = ballot_vote(config, outputs, n, excluded, r, &em);
	if (rc != 0)
		FAIL_AT(file, line, "ballot_vote returned %d: %s", rc, em.text);
	/* error.h: the message is written only when the call fails. */
	if (em.text[0] != '\0')
		FAIL_AT(file, line, "ballot_vote succeeded but wrote a message: %s", em.text);
	if (r->n != n)
		FAIL_AT(file, line, "result n %zu, expected %zu", r->n, n);
}
#define vote_ok(c, o, n, x, r) vote_ok_((c), (o), (n), (x), (r), __FILE__, __LINE__)

/* Votes, asserting the error code and a non-empty message. */
static void vote_fails_(const ballot_vote_config *config, const ballot_output *outputs, size_t n,
			const bool *excluded, int code, const char *file, int line)
{
	ballot_errmsg em = {{0}};
	ballot_vote_result r;
	int rc = ballot_vote(config, outputs, n, excluded, &r, &em);
	if (rc != code)
		FAIL_AT(file, line, "ballot_vote returned %d, expected %d (%s)", rc, code, em.text);
	if (em.text[0] == '\0')
		FAIL_AT(file, line, "ballot_vote returned %d with an empty message", rc);
}
#define vote_fails(c, o, n, x, code) vote_fails_((c), (o), (n), (x), (code), __FILE__, __LINE__)

static void expect_verdicts_(const ballot_vote_result *r, const ballot_verdict *want, size_t n,
			     const char *file, int line)
{
	if (r->n != n)
		FAIL_AT(file, line, "result n %zu, expected %zu", r->n, n);
	for (size_t i = 0; i < n; i++) {
		if (r->verdicts[i] != want[i])
			FAIL_AT(file, line, "module %zu: verdict %s, expected %s", i,
				ballot_verdict_name(r->verdicts[i]), ballot_verdict_name(want[i]));
	}
}

/* EXPECT_VERDICTS(&r, A, D, F): the verdict of every module, in order. */
#define EXPECT_VERDICTS(r, ...)                                                        \
	do {                                                                           \
		const ballot_verdict want_[] = {__VA_ARGS__};                          \
		expect_verdicts_((r), want_, COUNT_OF(want_), __FILE__, __LINE__);     \
	} while (0)

/* Short verdict names for the EXPECT_VERDICTS rows. */
#define U BALLOT_VERDICT_UNDECIDED
#define A BALLOT_VERDICT_AGREED
#define D BALLOT_VERDICT_DISSENTED
#define F BALLOT_VERDICT_FAILED
#define X BALLOT_VERDICT_EXCLUDED

static void expect_no_winner_(const ballot_vote_result *r, ballot_no_winner reason, const char *file,
			      int line)
{
	if (r->reason != reason)
		FAIL_AT(file, line, "reason \"%s\", expected \"%s\"", ballot_no_winner_text(r->reason),
			ballot_no_winner_text(reason));
	if (r->has_winner)
		FAIL_AT(file, line, "has_winner with reason \"%s\"", ballot_no_winner_text(reason));
	if (r->winner_index != -1)
		FAIL_AT(file, line, "no winner, but winner_index %d", r->winner_index);
	if (r->support_count != 0 || r->support_weight != 0.0)
		FAIL_AT(file, line, "no winner, but support %u (weight %g)", r->support_count,
			r->support_weight);
}
#define expect_no_winner(r, reason) expect_no_winner_((r), (reason), __FILE__, __LINE__)

static void expect_winner_(const ballot_vote_result *r, unsigned support_count, double support_weight,
			   const char *file, int line)
{
	if (!r->has_winner)
		FAIL_AT(file, line, "no winner: %s", ballot_no_winner_text(r->reason));
	if (r->reason != BALLOT_WINNER)
		FAIL_AT(file, line, "a winner with reason \"%s\"", ballot_no_winner_text(r->reason));
	if (r->support_count != support_count)
		FAIL_AT(file, line, "support count %u, expected %u", r->support_count, support_count);
	if (r->support_weight != support_weight)
		FAIL_AT(file, line, "support weight %.17g, expected %.17g", r->support_weight,
			support_weight);
}
#define expect_winner(r, count, weight) expect_winner_((r), (count), (weight), __FILE__, __LINE__)

/* The winner is a module that gave `want` (and agreed). */
static void expect_winner_bytes_(const ballot_vote_result *r, const ballot_output *outputs,
				 const void *want, size_t want_len, const char *file, int line)
{
	if (r->winner_index < 0 || (size_t)r->winner_index >= r->n)
		FAIL_AT(file, line, "winner_index %d of %zu modules", r->winner_index, r->n);
	const ballot_output *o = &outputs[r->winner_index];
	if (o->kind != BALLOT_OUTPUT_BYTES || o->len != want_len ||
	    (want_len > 0 && memcmp(o->data, want, want_len) != 0))
		FAIL_AT(file, line, "winner_index %d is not a module that gave the winning output",
			r->winner_index);
	if (r->verdicts[r->winner_index] != BALLOT_VERDICT_AGREED)
		FAIL_AT(file, line, "the winner, module %d, is %s", r->winner_index,
			ballot_verdict_name(r->verdicts[r->winner_index]));
}
#define expect_winner_bytes(r, o, want, len) \
	expect_winner_bytes_((r), (o), (want), (len), __FILE__, __LINE__)

static void expect_electorate_(const ballot_vote_result *r, unsigned electorate, unsigned answered,
			       double total_weight, const char *file, int line)
{
	if (r->electorate != electorate)
		FAIL_AT(file, line, "electorate %u, expected %u", r->electorate, electorate);
	if (r->answered != answered)
		FAIL_AT(file, line, "answered %u, expected %u", r->answered, answered);
	if (r->total_weight != total_weight)
		FAIL_AT(file, line, "total weight %.17g, expected %.17g", r->total_weight, total_weight);
}
#define expect_electorate(r, e, a, w) expect_electorate_((r), (e), (a), (w), __FILE__, __LINE__)

static void expect_double_(double got, double want, const char *file, int line)
{
	if (!(got == want))
		FAIL_AT(file, line, "%.17g, expected %.17g", got, want);
}
#define expect_double(got, want) expect_double_((got), (want), __FILE__, __LINE__)

static void expect_near_(double got, double want, double tolerance, const char *file, int line)
{
	if (!(fabs(got - want) <= tolerance))
		FAIL_AT(file, line, "%.17g, expected %.17g within %g", got, want, tolerance);
}
#define expect_near(got, want, tol) expect_near_((got), (want), (tol), __FILE__, __LINE__)

/* ---- Majority ------------------------------------------------------------------------- */

static void majority_three_agree(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("42"), text("42"), text("42")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_winner_bytes(&r, o, "42", 2);
	EXPECT_VERDICTS(&r, A, A, A);
	expect_electorate(&r, 3, 3, 3.0);
}

static void majority_two_of_three_names_the_dissenter(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("42"), text("41"), text("42")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "42", 2);
	EXPECT_VERDICTS(&r, A, D, A);
	expect_electorate(&r, 3, 3, 3.0);
}

static void majority_two_of_three_wins_when_the_third_failed(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {failed(), text("ok"), text("ok")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "ok", 2);
	EXPECT_VERDICTS(&r, F, A, A);
	expect_electorate(&r, 3, 2, 3.0);
}

static void majority_counts_failed_modules_in_n(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("a"), failed(), text("b")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, F, U);
	expect_electorate(&r, 3, 2, 3.0);
}

static void majority_one_answer_of_three_is_not_enough(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {failed(), text("a"), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, F, U, F);
}

static void majority_two_of_four_is_not_enough(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_vote_result r;

	ballot_output split[] = {text("a"), text("a"), text("b"), text("b")};
	vote_ok(&c, split, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, U, U, U);

	/* Not a tie: "a" is the largest group, yet only half of N. */
	ballot_output largest[] = {text("a"), text("b"), text("a"), text("c")};
	vote_ok(&c, largest, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, U, U, U);

	ballot_output two_failed[] = {text("a"), failed(), text("a"), failed()};
	vote_ok(&c, two_failed, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, F, U, F);
}

static void majority_three_of_four_wins(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("b"), text("a"), text("a"), text("a")};
	ballot_vote_result r;
	vote_ok(&c, o, 4, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_winner_bytes(&r, o, "a", 1);
	EXPECT_VERDICTS(&r, D, A, A, A);
}

static void majority_single_module_wins_alone(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("only")};
	ballot_vote_result r;
	vote_ok(&c, o, 1, NULL, &r);
	expect_winner(&r, 1, 1.0);
	assert_int_equal(r.winner_index, 0);
	EXPECT_VERDICTS(&r, A);
	expect_electorate(&r, 1, 1, 1.0);

	ballot_output none[] = {failed()};
	vote_ok(&c, none, 1, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
	EXPECT_VERDICTS(&r, F);
}

static void majority_all_failed_is_all_failed(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {failed(), failed(), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
	EXPECT_VERDICTS(&r, F, F, F);
	expect_electorate(&r, 3, 0, 3.0);
}

static void majority_excluded_modules_shrink_n(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_vote_result r;

	/* 2 of 4 is no majority, but with the dissenter's peer excluded it is 2 of 3. */
	ballot_output four[] = {text("a"), text("a"), text("b"), text("c")};
	const bool drop_last[] = {false, false, false, true};
	vote_ok(&c, four, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	vote_ok(&c, four, 4, drop_last, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, four, "a", 1);
	EXPECT_VERDICTS(&r, A, A, D, X);
	expect_electorate(&r, 3, 3, 3.0);

	/* 2 of 3 with the third excluded: 2 of 2, and the excluded one is not a dissenter. */
	ballot_output three[] = {text("a"), text("a"), text("b")};
	const bool drop_third[] = {false, false, true};
	vote_ok(&c, three, 3, drop_third, &r);
	expect_winner(&r, 2, 2.0);
	EXPECT_VERDICTS(&r, A, A, X);
	expect_electorate(&r, 2, 2, 2.0);

	/* 1 of 2 left after an exclusion is still no majority. */
	const bool drop_second[] = {false, true, false};
	vote_ok(&c, three, 3, drop_second, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, X, U);
	expect_electorate(&r, 2, 2, 2.0);
}

static void majority_excluded_failed_module_does_not_count(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("a"), failed(), failed()};
	const bool excluded[] = {false, true, true};
	ballot_vote_result r;
	vote_ok(&c, o, 3, excluded, &r);
	expect_winner(&r, 1, 1.0);
	EXPECT_VERDICTS(&r, A, X, X);
	expect_electorate(&r, 1, 1, 1.0);
}

static void majority_with_every_answer_excluded_is_all_failed(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("a"), failed(), text("a")};
	const bool excluded[] = {true, false, true};
	ballot_vote_result r;
	vote_ok(&c, o, 3, excluded, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
	EXPECT_VERDICTS(&r, X, F, X);
	expect_electorate(&r, 1, 0, 1.0);
}

/* ---- Plurality ------------------------------------------------------------------------ */

static void plurality_unique_largest_group_wins_without_majority(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_PLURALITY);
	ballot_output o[] = {text("b"), text("a"), text("c"), text("a"), text("d")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "a", 1);
	EXPECT_VERDICTS(&r, D, A, D, A, D);
	expect_electorate(&r, 5, 5, 5.0);
}

static void plurality_tie_for_largest_is_no_winner(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_PLURALITY);
	ballot_vote_result r;

	ballot_output two_pairs[] = {text("a"), text("b"), text("c"), text("b"), text("a")};
	vote_ok(&c, two_pairs, 5, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TIE);
	EXPECT_VERDICTS(&r, U, U, U, U, U);

	ballot_output all_differ[] = {text("a"), text("b"), failed()};
	vote_ok(&c, all_differ, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TIE);
	EXPECT_VERDICTS(&r, U, U, F);
}

static void plurality_single_answer_of_three_wins_alone(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_PLURALITY);
	ballot_output o[] = {failed(), text("x"), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 1, 1.0);
	assert_int_equal(r.winner_index, 1);
	EXPECT_VERDICTS(&r, F, A, F);
	expect_electorate(&r, 3, 1, 3.0);
}

static void plurality_all_failed_is_all_failed(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_PLURALITY);
	ballot_output o[] = {failed(), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 2, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
	EXPECT_VERDICTS(&r, F, F);
}

/* ---- Unanimous ------------------------------------------------------------------------ */

static void unanimous_all_agree_wins(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_UNANIMOUS);
	ballot_output o[] = {text("z"), text("z"), text("z")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_winner_bytes(&r, o, "z", 1);
	EXPECT_VERDICTS(&r, A, A, A);
}

static void unanimous_one_failure_is_no_winner(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_UNANIMOUS);
	ballot_output o[] = {text("z"), failed(), text("z")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_DISAGREEMENT);
	EXPECT_VERDICTS(&r, U, F, U);
}

static void unanimous_one_dissent_is_no_winner(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_UNANIMOUS);
	ballot_output o[] = {text("z"), text("z"), text("y")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_DISAGREEMENT);
	EXPECT_VERDICTS(&r, U, U, U);
}

static void unanimous_ignores_excluded_modules(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_UNANIMOUS);
	ballot_output o[] = {text("z"), text("y"), text("z")};
	const bool excluded[] = {false, true, false};
	ballot_vote_result r;
	vote_ok(&c, o, 3, excluded, &r);
	expect_winner(&r, 2, 2.0);
	EXPECT_VERDICTS(&r, A, X, A);
	expect_electorate(&r, 2, 2, 2.0);
}

/* ---- Threshold (M of N) --------------------------------------------------------------- */

static ballot_vote_config threshold(unsigned m)
{
	return (ballot_vote_config){.policy = BALLOT_POLICY_THRESHOLD, .threshold = m};
}

static void threshold_reached_wins_without_majority(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(2);
	ballot_output o[] = {text("a"), text("b"), failed(), text("a"), text("c")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "a", 1);
	EXPECT_VERDICTS(&r, A, D, F, A, D);
}

static void threshold_not_reached_is_below_threshold(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(3);
	ballot_output o[] = {text("a"), text("a"), text("b"), text("c"), text("d")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_THRESHOLD);
	EXPECT_VERDICTS(&r, U, U, U, U, U);
}

static void threshold_two_groups_reaching_m_with_equal_count_tie(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(2);
	ballot_output o[] = {text("a"), text("b"), text("a"), text("b"), text("c")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TIE);
	EXPECT_VERDICTS(&r, U, U, U, U, U);
}

static void threshold_bigger_of_two_groups_reaching_m_wins(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(2);
	ballot_output o[] = {text("b"), text("a"), text("b"), text("a"), text("a")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_winner_bytes(&r, o, "a", 1);
	EXPECT_VERDICTS(&r, D, A, D, A, A);
}

/* vote.h: BALLOT_NO_THRESHOLD is "no group reached M"; the tie rule is for "two groups
 * [that] reach M". Two groups tied below M did not reach M. */
static void threshold_tie_below_m_is_below_threshold(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(3);
	ballot_output o[] = {text("a"), text("a"), text("b"), text("b")};
	ballot_vote_result r;
	vote_ok(&c, o, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_THRESHOLD);
	EXPECT_VERDICTS(&r, U, U, U, U);
}

static void threshold_m_equal_to_n_needs_everyone(void **state)
{
	(void)state;
	ballot_vote_config c = threshold(3);
	ballot_output all[] = {text("a"), text("a"), text("a")};
	ballot_output one_failed[] = {text("a"), text("a"), failed()};
	ballot_vote_result r;
	vote_ok(&c, all, 3, NULL, &r);
	expect_winner(&r, 3, 3.0);
	vote_ok(&c, one_failed, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_THRESHOLD);
	EXPECT_VERDICTS(&r, U, U, F);
}

static void threshold_config_check_rejects_m_zero_and_m_above_n(void **state)
{
	(void)state;
	ballot_errmsg em = {{0}};
	ballot_vote_config c = threshold(0);
	assert_int_equal(ballot_vote_config_check(&c, 3, &em), BALLOT_EINVAL);
	assert_true(strlen(em.text) > 0);

	em.text[0] = '\0';
	c = threshold(4);
	assert_int_equal(ballot_vote_config_check(&c, 3, &em), BALLOT_EINVAL);
	assert_true(strlen(em.text) > 0);

	c = threshold(3);
	assert_int_equal(ballot_vote_config_check(&c, 3, &em), 0);
	c = threshold(1);
	assert_int_equal(ballot_vote_config_check(&c, 3, &em), 0);

	ballot_output o[] = {text("a"), text("a"), text("a")};
	c = threshold(4);
	vote_fails(&c, o, 3, NULL, BALLOT_EINVAL);
}

/* ---- Weighted ------------------------------------------------------------------------- */

static ballot_vote_config weighted(const double *weights)
{
	return (ballot_vote_config){.policy = BALLOT_POLICY_WEIGHTED, .weights = weights};
}

static void weighted_heavy_module_outvotes_two_light_ones(void **state)
{
	(void)state;
	const double w[] = {1.0, 3.0, 1.0};
	ballot_vote_config c = weighted(w);
	ballot_output o[] = {text("light"), text("heavy"), text("light")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 1, 3.0);
	expect_winner_bytes(&r, o, "heavy", 5);
	assert_int_equal(r.winner_index, 1);
	EXPECT_VERDICTS(&r, D, A, D);
	expect_electorate(&r, 3, 3, 5.0);
}

static void weighted_exactly_half_the_weight_is_not_enough(void **state)
{
	(void)state;
	const double w[] = {2.0, 1.0, 1.0};
	ballot_vote_config c = weighted(w);
	ballot_output o[] = {text("a"), text("b"), text("c")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_WEIGHTED_MAJORITY);
	EXPECT_VERDICTS(&r, U, U, U);
	expect_electorate(&r, 3, 3, 4.0);
}

static void weighted_failed_modules_weight_counts_in_the_total(void **state)
{
	(void)state;
	const double w[] = {1.0, 1.0, 2.0};
	ballot_vote_config c = weighted(w);
	ballot_output o[] = {text("a"), text("a"), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_WEIGHTED_MAJORITY);
	EXPECT_VERDICTS(&r, U, U, F);
	expect_electorate(&r, 3, 2, 4.0);

	/* Excluded, its weight leaves the total and the same two now hold all of it. */
	const bool excluded[] = {false, false, true};
	vote_ok(&c, o, 3, excluded, &r);
	expect_winner(&r, 2, 2.0);
	EXPECT_VERDICTS(&r, A, A, X);
	expect_electorate(&r, 2, 2, 2.0);
}

static void weighted_without_weights_counts_one_each(void **state)
{
	(void)state;
	ballot_vote_config c = weighted(NULL);
	ballot_output o[] = {text("a"), text("b"), text("a")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	EXPECT_VERDICTS(&r, A, D, A);
	expect_electorate(&r, 3, 3, 3.0);
}

static void weighted_config_check_rejects_bad_weights(void **state)
{
	(void)state;
	const double bad[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
	ballot_output o[] = {text("a"), text("a"), text("a")};
	for (size_t i = 0; i < COUNT_OF(bad); i++) {
		double w[] = {1.0, 1.0, 1.0};
		w[1] = bad[i];
		ballot_vote_config c = weighted(w);
		ballot_errmsg em = {{0}};
		int rc = ballot_vote_config_check(&c, 3, &em);
		if (rc != BALLOT_EINVAL)
			fail_msg("weight %g: config check returned %d, expected BALLOT_EINVAL", bad[i], rc);
		assert_true(strlen(em.text) > 0);
		vote_fails(&c, o, 3, NULL, BALLOT_EINVAL);
	}
	const double good[] = {1e-300, 0.5, 1e300};
	ballot_vote_config c = weighted(good);
	assert_int_equal(ballot_vote_config_check(&c, 3, NULL), 0);
}

/* ---- Bytes ---------------------------------------------------------------------------- */

static void bytes_prefix_does_not_agree_with_the_longer_output(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("ab"), text("abc"), text("ab")};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "ab", 2);
	EXPECT_VERDICTS(&r, A, D, A);

	ballot_output longer_wins[] = {text("abc"), text("ab"), text("abc")};
	vote_ok(&c, longer_wins, 3, NULL, &r);
	expect_winner_bytes(&r, longer_wins, "abc", 3);
	EXPECT_VERDICTS(&r, A, D, A);

	/* The same bytes seen through a longer length are a different output. */
	const char buf[] = "abc";
	ballot_output by_len[] = {ballot_output_bytes(buf, 2), ballot_output_bytes(buf, 3),
				  ballot_output_bytes(buf, 3)};
	vote_ok(&c, by_len, 3, NULL, &r);
	expect_winner_bytes(&r, by_len, "abc", 3);
	EXPECT_VERDICTS(&r, D, A, A);
}

static void bytes_empty_outputs_agree_with_each_other(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	static const char e1[] = "", e2[] = "x";
	ballot_output o[] = {ballot_output_bytes(e1, 0), text("nonempty"), ballot_output_bytes(e2, 0),
			     ballot_output_bytes(NULL, 0)};
	ballot_vote_result r;
	vote_ok(&c, o, 4, NULL, &r);
	expect_winner(&r, 3, 3.0);
	assert_true(r.winner_index >= 0);
	assert_int_equal(o[r.winner_index].len, 0);
	EXPECT_VERDICTS(&r, A, D, A, A);
}

static void bytes_embedded_nul_is_part_of_the_output(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {ballot_output_bytes("a\0b", 3), ballot_output_bytes("a\0c", 3),
			     ballot_output_bytes("a\0b", 3)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner_bytes(&r, o, "a\0b", 3);
	EXPECT_VERDICTS(&r, A, D, A);
}

static void bytes_large_outputs_differing_in_the_last_byte_dissent(void **state)
{
	(void)state;
	enum { SIZE = 1024 * 1024 };
	unsigned char *m[3];
	for (int i = 0; i < 3; i++) {
		m[i] = malloc(SIZE);
		assert_non_null(m[i]);
		memset(m[i], 'x', SIZE);
	}
	m[1][SIZE - 1] = 'y';
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {ballot_output_bytes(m[0], SIZE), ballot_output_bytes(m[1], SIZE),
			     ballot_output_bytes(m[2], SIZE)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	assert_true(r.winner_index == 0 || r.winner_index == 2);
	EXPECT_VERDICTS(&r, A, D, A);

	/* The first byte too. */
	m[1][SIZE - 1] = 'x';
	m[2][0] = 'y';
	vote_ok(&c, o, 3, NULL, &r);
	EXPECT_VERDICTS(&r, A, A, D);
	for (int i = 0; i < 3; i++)
		free(m[i]);
}

static void bytes_different_outputs_of_equal_length_are_not_grouped(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_PLURALITY);
	ballot_output o[] = {text("abcd"), text("abce"), text("abcd"), text("bbcd"), text("abcd")};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_winner_bytes(&r, o, "abcd", 4);
	EXPECT_VERDICTS(&r, A, D, A, D, A);
}

/* Teardown: a failed assertion must not leave the hash colliding for the tests after it. */
static int hash_stops_colliding(void **state)
{
	(void)state;
	hash_collides = false;
	return 0;
}

static void bytes_sharing_a_hash_but_differing_do_not_agree(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {text("same-len-1"), text("same-len-2"), text("same-len-1")};
	ballot_vote_result r;
	hash_collides = true;
	vote_ok(&c, o, 3, NULL, &r);
	hash_collides = false;
	expect_winner(&r, 2, 2.0);
	expect_winner_bytes(&r, o, "same-len-1", 10);
	EXPECT_VERDICTS(&r, A, D, A);

	/* A prefix that shares the hash is still shorter. */
	ballot_output prefix[] = {text("ab"), text("abc"), text("ab")};
	hash_collides = true;
	vote_ok(&c, prefix, 3, NULL, &r);
	hash_collides = false;
	expect_winner_bytes(&r, prefix, "ab", 2);
	EXPECT_VERDICTS(&r, A, D, A);

	ballot_output split[] = {text("same-len-1"), text("same-len-2")};
	hash_collides = true;
	vote_ok(&c, split, 2, NULL, &r);
	hash_collides = false;
	expect_no_winner(&r, BALLOT_NO_MAJORITY);

	/* Five answers take the hashing path: equal hashes still need equal bytes. */
	ballot_output five[] = {text("same-len-1"), text("same-len-2"), text("same-len-1"),
				text("same-len-2"), text("same-len-1")};
	hash_collides = true;
	vote_ok(&c, five, 5, NULL, &r);
	hash_collides = false;
	expect_winner_bytes(&r, five, "same-len-1", 10);
	EXPECT_VERDICTS(&r, A, D, A, D, A);
}

/* ---- Numbers -------------------------------------------------------------------------- */

static void numbers_exact_agree_by_value_not_by_text(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	const char *texts[] = {"1.0", "1", "1e0"};
	ballot_output as_numbers[3], as_bytes[3];
	for (int i = 0; i < 3; i++) {
		ballot_number n;
		size_t count = 0;
		assert_int_equal(ballot_numbers_parse(texts[i], strlen(texts[i]), &n, 1, &count, NULL), 0);
		assert_int_equal(count, 1);
		as_numbers[i] = num(n.value);
		as_bytes[i] = text(texts[i]);
	}
	ballot_vote_result r;
	vote_ok(&c, as_numbers, 3, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_double(r.winner_number, 1.0);
	EXPECT_VERDICTS(&r, A, A, A);

	vote_ok(&c, as_bytes, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);

	/* Zero is zero, whatever its sign. */
	ballot_output zeros[] = {num(0.0), num(-0.0), num(1.0)};
	vote_ok(&c, zeros, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	EXPECT_VERDICTS(&r, A, A, D);
}

static void numbers_exact_differ_by_one_ulp_dissent(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[] = {num(0.3), num(0.1 + 0.2), num(0.3)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_double(r.winner_number, 0.3);
	EXPECT_VERDICTS(&r, A, D, A);
}

static void numbers_nan_counts_as_failed(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_vote_result r;

	ballot_output o[] = {num(2.0), num(NAN), num(2.0)};
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_double(r.winner_number, 2.0);
	EXPECT_VERDICTS(&r, A, F, A);
	expect_electorate(&r, 3, 2, 3.0);

	/* Two NaNs do not agree with each other: they are two failures. */
	ballot_output nans[] = {num(NAN), num(NAN), num(1.0)};
	vote_ok(&c, nans, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, F, F, U);

	ballot_output all_nan[] = {num(NAN), num(NAN)};
	vote_ok(&c, all_nan, 2, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
	EXPECT_VERDICTS(&r, F, F);
}

static ballot_vote_config inexact(ballot_policy p, double epsilon)
{
	return (ballot_vote_config){.policy = p, .epsilon = epsilon};
}

static void inexact_close_values_agree_and_the_far_one_dissents(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, 1e-3);
	ballot_output o[] = {num(1.0), num(1.0000001), num(5.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_near(r.winner_number, 1.0, 1e-6);
	assert_true(r.winner_index == 0 || r.winner_index == 1);
	expect_double(r.winner_number, o[r.winner_index].number);
	EXPECT_VERDICTS(&r, A, A, D);
}

static void inexact_difference_of_exactly_epsilon_agrees(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, 0.5);
	ballot_output o[] = {num(1.0), num(1.5), num(9.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 2, 2.0);
	assert_true(r.winner_index == 0 || r.winner_index == 1);
	EXPECT_VERDICTS(&r, A, A, D);
}

static void inexact_difference_just_over_epsilon_does_not_agree(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, 0.5);
	ballot_output o[] = {num(1.0), num(nextafter(1.5, 2.0)), num(9.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_MAJORITY);
	EXPECT_VERDICTS(&r, U, U, U);
}

/* vote.h: "the agreeing group is the largest set of values whose spread (max - min) is at
 * most epsilon, so every pair in it is within epsilon". In the chain 1.0, 1.05, 1.1 with
 * epsilon 0.06 each neighbour is within epsilon, but 1.0 and 1.1 are 0.1 apart, so they
 * cannot both agree. */
static void inexact_chain_never_agrees_values_further_apart_than_epsilon(void **state)
{
	(void)state;
	const double eps = 0.06;
	ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, eps);
	ballot_output o[] = {num(1.0), num(1.05), num(1.1)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = i + 1; j < 3; j++) {
			if (r.verdicts[i] != BALLOT_VERDICT_AGREED || r.verdicts[j] != BALLOT_VERDICT_AGREED)
				continue;
			double spread = fabs(o[i].number - o[j].number);
			if (spread > eps)
				fail_msg("modules %zu (%g) and %zu (%g) both agreed, %.17g apart > epsilon %g",
					 i, o[i].number, j, o[j].number, spread, eps);
		}
	}
	assert_true(r.support_count <= 2);
	if (r.has_winner)
		assert_int_equal(r.verdicts[1], BALLOT_VERDICT_AGREED);
}

/* The same contract with a unique largest group: {1.05, 1.1, 1.1} has spread 0.05 <= 0.06
 * and holds 3 of 5; 1.0 is 0.1 from 1.1 and must be named a dissenter. */
static void inexact_names_a_dissenter_outside_the_epsilon_spread(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, 0.06);
	ballot_output o[] = {num(1.0), num(1.05), num(1.1), num(1.1), num(9.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	EXPECT_VERDICTS(&r, D, A, A, A, D);
	expect_winner(&r, 3, 3.0);
	assert_true(r.winner_number >= 1.05 && r.winner_number <= 1.1);
}

static void inexact_disjoint_clusters_of_equal_size_tie_under_plurality(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_PLURALITY, 0.1);
	ballot_output o[] = {num(1.0), num(5.0), num(1.01), num(5.01), num(100.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TIE);
	EXPECT_VERDICTS(&r, U, U, U, U, U);

	/* One more vote for the first cluster breaks the tie. */
	ballot_output o2[] = {num(1.0), num(5.0), num(1.01), num(5.01), num(0.99)};
	vote_ok(&c, o2, 5, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_near(r.winner_number, 1.0, 0.011);
	EXPECT_VERDICTS(&r, A, D, A, D, A);
}

static void inexact_weighted_sums_the_weight_of_close_values(void **state)
{
	(void)state;
	const double w[] = {1.0, 1.0, 3.0};
	ballot_vote_config c = {.policy = BALLOT_POLICY_WEIGHTED, .weights = w, .epsilon = 0.25};
	ballot_output o[] = {num(10.0), num(10.25), num(20.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 1, 3.0);
	expect_double(r.winner_number, 20.0);
	EXPECT_VERDICTS(&r, D, D, A);
}

static void numbers_mixed_with_bytes_are_refused(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output bytes_first[] = {text("1"), num(1.0), text("1")};
	vote_fails(&c, bytes_first, 3, NULL, BALLOT_EINVAL);
	ballot_output number_first[] = {num(1.0), failed(), text("1")};
	vote_fails(&c, number_first, 3, NULL, BALLOT_EINVAL);
	ballot_vote_config e = inexact(BALLOT_POLICY_PLURALITY, 0.5);
	vote_fails(&e, number_first, 3, NULL, BALLOT_EINVAL);
}

static void numeric_policies_refuse_byte_outputs(void **state)
{
	(void)state;
	ballot_output o[] = {text("1"), text("2"), text("3")};
	ballot_vote_config median = policy(BALLOT_POLICY_MEDIAN);
	vote_fails(&median, o, 3, NULL, BALLOT_EINVAL);
	ballot_vote_config mid = policy(BALLOT_POLICY_MID_VALUE);
	vote_fails(&mid, o, 3, NULL, BALLOT_EINVAL);
	ballot_output one[] = {failed(), text("2"), failed()};
	vote_fails(&median, one, 3, NULL, BALLOT_EINVAL);
}

/* ---- Median --------------------------------------------------------------------------- */

static void median_odd_count_takes_the_middle_value(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MEDIAN, 0.5);
	ballot_output o[] = {num(3.0), num(1.0), num(2.0), num(10.0), num(2.5)};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 3, 3.0);
	expect_double(r.winner_number, 2.5);
	assert_int_equal(r.winner_index, 4);
	/* Within 0.5 of 2.5: 3.0, 2.0, 2.5; 1.0 and 10.0 are further. */
	EXPECT_VERDICTS(&r, A, D, A, D, A);
	expect_electorate(&r, 5, 5, 5.0);
}

static void median_even_count_takes_the_mean_of_the_middle_two(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MEDIAN, 1.0);
	ballot_output o[] = {num(4.0), num(1.0), num(3.0), num(2.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 4, NULL, &r);
	expect_winner(&r, 2, 2.0);
	expect_double(r.winner_number, 2.5);
	assert_int_equal(r.winner_index, -1); /* computed, not any module's output */
	EXPECT_VERDICTS(&r, D, D, A, A);
}

static void median_with_zero_epsilon_agrees_only_with_equal_values(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MEDIAN);
	ballot_vote_result r;

	ballot_output odd[] = {num(1.0), num(2.0), num(3.0)};
	vote_ok(&c, odd, 3, NULL, &r);
	expect_winner(&r, 1, 1.0);
	expect_double(r.winner_number, 2.0);
	assert_int_equal(r.winner_index, 1);
	EXPECT_VERDICTS(&r, D, A, D);

	/* The mean of the middle two is nobody's answer: a winner that no module agreed with. */
	ballot_output even[] = {num(1.0), num(2.0), num(3.0), num(4.0)};
	vote_ok(&c, even, 4, NULL, &r);
	expect_winner(&r, 0, 0.0);
	expect_double(r.winner_number, 2.5);
	assert_int_equal(r.winner_index, -1);
	EXPECT_VERDICTS(&r, D, D, D, D);
}

static void median_with_failures_uses_the_answers(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MEDIAN);
	ballot_vote_result r;

	/* 3 of 5 answered: more than half. */
	ballot_output o[] = {num(7.0), failed(), num(1.0), num(NAN), num(4.0)};
	vote_ok(&c, o, 5, NULL, &r);
	expect_winner(&r, 1, 1.0);
	expect_double(r.winner_number, 4.0);
	assert_int_equal(r.winner_index, 4);
	EXPECT_VERDICTS(&r, D, F, D, F, A);
	expect_electorate(&r, 5, 3, 5.0);

	/* 2 of 3 answered: the median is their mean. */
	ballot_output two[] = {num(1.0), failed(), num(2.0)};
	vote_ok(&c, two, 3, NULL, &r);
	expect_double(r.winner_number, 1.5);
	assert_true(r.has_winner);
	EXPECT_VERDICTS(&r, D, F, D);
}

static void median_with_half_or_fewer_answers_is_too_few(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MEDIAN, 100.0);
	ballot_vote_result r;

	ballot_output half[] = {num(1.0), failed(), num(2.0), failed()};
	vote_ok(&c, half, 4, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TOO_FEW);
	EXPECT_VERDICTS(&r, U, F, U, F);
	expect_electorate(&r, 4, 2, 4.0);

	ballot_output one_of_three[] = {failed(), num(1.0), num(NAN)};
	vote_ok(&c, one_of_three, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TOO_FEW);
	EXPECT_VERDICTS(&r, F, U, F);

	/* Excluding the failed modules shrinks N: 2 of 2 is enough. */
	const bool excluded[] = {false, true, false, true};
	vote_ok(&c, half, 4, excluded, &r);
	expect_winner(&r, 2, 2.0);
	expect_double(r.winner_number, 1.5);
	EXPECT_VERDICTS(&r, A, X, A, X);

	ballot_output none[] = {failed(), failed()};
	vote_ok(&c, none, 2, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_ALL_FAILED);
}

/* ---- Mid-value select ----------------------------------------------------------------- */

/* Halving each value before adding turns the smallest subnormal into 0; the median of two
 * equal values is that value, whatever its size. */
static void median_of_two_equal_tiny_numbers_is_that_number(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MEDIAN);
	ballot_output o[] = {num(0x1p-1074), num(0x1p-1074)};
	ballot_vote_result r;
	vote_ok(&c, o, 2, NULL, &r);
	assert_true(r.has_winner);
	assert_true(r.winner_number == 0x1p-1074);
	EXPECT_VERDICTS(&r, A, A);
	ballot_output huge[] = {num(DBL_MAX), num(DBL_MAX)};
	vote_ok(&c, huge, 2, NULL, &r);
	assert_true(r.winner_number == DBL_MAX);
}

static void mid_value_of_three_is_the_middle_value(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MID_VALUE);
	ballot_output o[] = {num(5.0), num(1.0), num(3.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_winner(&r, 1, 1.0);
	expect_double(r.winner_number, 3.0);
	assert_int_equal(r.winner_index, 2);
	EXPECT_VERDICTS(&r, D, D, A);
}

static void mid_value_of_five_is_the_midpoint_of_second_and_fourth(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MID_VALUE, 3.0);
	ballot_output o[] = {num(100.0), num(2.0), num(8.0), num(1.0), num(4.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	/* Sorted 1 2 4 8 100: drop 1 and 100, midpoint of 2..8 is 5 (not the median 4). */
	expect_double(r.winner_number, 5.0);
	assert_int_equal(r.winner_index, -1);
	expect_winner(&r, 3, 3.0);
	EXPECT_VERDICTS(&r, D, A, A, D, A);
}

static void mid_value_of_two_is_their_mean(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MID_VALUE);
	ballot_output o[] = {num(1.0), failed(), num(3.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	assert_true(r.has_winner);
	expect_double(r.winner_number, 2.0);
	assert_int_equal(r.winner_index, -1);
	EXPECT_VERDICTS(&r, D, F, D);
}

static void mid_value_names_the_outlier_a_dissenter(void **state)
{
	(void)state;
	ballot_vote_config c = inexact(BALLOT_POLICY_MID_VALUE, 0.2);
	ballot_output o[] = {num(1.0), num(1.0), num(1.1), num(50.0), num(1.0)};
	ballot_vote_result r;
	vote_ok(&c, o, 5, NULL, &r);
	/* Sorted 1 1 1 1.1 50: midpoint of 1..1.1. */
	expect_double(r.winner_number, 1.0 / 2 + 1.1 / 2);
	expect_winner(&r, 4, 4.0);
	EXPECT_VERDICTS(&r, A, A, A, D, A);
}

static void mid_value_with_half_or_fewer_answers_is_too_few(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MID_VALUE);
	ballot_output o[] = {num(1.0), failed(), failed()};
	ballot_vote_result r;
	vote_ok(&c, o, 3, NULL, &r);
	expect_no_winner(&r, BALLOT_NO_TOO_FEW);
	EXPECT_VERDICTS(&r, U, F, F);
}

/* ---- Configuration checks ------------------------------------------------------------- */

static void expect_config_error(const ballot_vote_config *c, size_t n, int code)
{
	ballot_errmsg em = {{0}};
	int rc = ballot_vote_config_check(c, n, &em);
	if (rc != code)
		fail_msg("config check of n=%zu returned %d, expected %d", n, rc, code);
	assert_true(strlen(em.text) > 0);
	/* ballot_vote refuses it the same way. */
	ballot_output o[BALLOT_VOTE_MODULES_MAX + 1];
	for (size_t i = 0; i < COUNT_OF(o); i++)
		o[i] = num(1.0);
	vote_fails(c, o, n, NULL, code);
}

static void config_check_rejects_zero_modules(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	expect_config_error(&c, 0, BALLOT_EINVAL);
}

static void config_check_rejects_more_modules_than_the_limit(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	expect_config_error(&c, BALLOT_VOTE_MODULES_MAX + 1, BALLOT_ELIMIT);
	assert_int_equal(ballot_vote_config_check(&c, BALLOT_VOTE_MODULES_MAX, NULL), 0);
}

static void vote_of_the_largest_electorate_works(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_MAJORITY);
	ballot_output o[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < COUNT_OF(o); i++)
		o[i] = text("v");
	o[BALLOT_VOTE_MODULES_MAX - 1] = text("w");
	ballot_vote_result r;
	vote_ok(&c, o, BALLOT_VOTE_MODULES_MAX, NULL, &r);
	expect_winner(&r, BALLOT_VOTE_MODULES_MAX - 1, BALLOT_VOTE_MODULES_MAX - 1);
	assert_int_equal(r.verdicts[BALLOT_VOTE_MODULES_MAX - 1], BALLOT_VERDICT_DISSENTED);
	assert_int_equal(r.verdicts[BALLOT_VOTE_MODULES_MAX - 2], BALLOT_VERDICT_AGREED);
}

static void config_check_rejects_bad_epsilon(void **state)
{
	(void)state;
	const double bad[] = {-1e-9, -1.0, NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < COUNT_OF(bad); i++) {
		ballot_vote_config c = inexact(BALLOT_POLICY_MAJORITY, bad[i]);
		expect_config_error(&c, 3, BALLOT_EINVAL);
	}
	ballot_vote_config zero = inexact(BALLOT_POLICY_MAJORITY, 0.0);
	assert_int_equal(ballot_vote_config_check(&zero, 3, NULL), 0);
}

static void config_check_rejects_unknown_policy(void **state)
{
	(void)state;
	ballot_vote_config c = policy(BALLOT_POLICY_COUNT_);
	expect_config_error(&c, 3, BALLOT_EINVAL);
	c = policy((ballot_policy)-1);
	expect_config_error(&c, 3, BALLOT_EINVAL);
}

static void config_check_accepts_every_policy(void **state)
{
	(void)state;
	for (int p = 0; p < BALLOT_POLICY_COUNT_; p++) {
		ballot_vote_config c = {.policy = (ballot_policy)p, .threshold = 2};
		ballot_errmsg em = {{0}};
		int rc = ballot_vote_config_check(&c, 3, &em);
		if (rc != 0)
			fail_msg("policy %s: %d %s", ballot_policy_name((ballot_policy)p), rc, em.text);
	}
}

/* ---- Names ---------------------------------------------------------------------------- */

static void policy_parse_round_trips_every_policy_name(void **state)
{
	(void)state;
	for (int p = 0; p < BALLOT_POLICY_COUNT_; p++) {
		const char *name = ballot_policy_name((ballot_policy)p);
		assert_non_null(name);
		assert_string_not_equal(name, "unknown");
		ballot_policy parsed = BALLOT_POLICY_COUNT_;
		assert_int_equal(ballot_policy_parse(name, &parsed), 0);
		assert_int_equal(parsed, p);
	}
	assert_string_equal(ballot_policy_name(BALLOT_POLICY_MAJORITY), "majority");
	assert_string_equal(ballot_policy_name(BALLOT_POLICY_MID_VALUE), "mid-value");
}

static void policy_parse_rejects_unknown_names(void **state)
{
	(void)state;
	const char *bad[] = {"", "majorit", "majority ", "Majority", "mid_value", "unknown", "2oo3"};
	for (size_t i = 0; i < COUNT_OF(bad); i++) {
		ballot_policy p = BALLOT_POLICY_MAJORITY;
		if (ballot_policy_parse(bad[i], &p) != BALLOT_EINVAL)
			fail_msg("\"%s\" parsed as a policy", bad[i]);
	}
	assert_non_null(ballot_policy_name(BALLOT_POLICY_COUNT_));
	assert_non_null(ballot_policy_name((ballot_policy)-1));
}

static void policy_is_numeric_only_for_median_and_mid_value(void **state)
{
	(void)state;
	for (int p = 0; p < BALLOT_POLICY_COUNT_; p++) {
		bool want = p == BALLOT_POLICY_MEDIAN || p == BALLOT_POLICY_MID_VALUE;
		assert_int_equal(ballot_policy_is_numeric((ballot_policy)p), want);
	}
}

static void verdict_names_are_the_documented_words(void **state)
{
	(void)state;
	assert_string_equal(ballot_verdict_name(BALLOT_VERDICT_UNDECIDED), "undecided");
	assert_string_equal(ballot_verdict_name(BALLOT_VERDICT_AGREED), "agreed");
	assert_string_equal(ballot_verdict_name(BALLOT_VERDICT_DISSENTED), "dissented");
	assert_string_equal(ballot_verdict_name(BALLOT_VERDICT_FAILED), "failed");
	assert_string_equal(ballot_verdict_name(BALLOT_VERDICT_EXCLUDED), "excluded");
	assert_non_null(ballot_verdict_name((ballot_verdict)99));
}

static void no_winner_texts_are_distinct_and_never_null(void **state)
{
	(void)state;
	const ballot_no_winner all[] = {BALLOT_WINNER, BALLOT_NO_MAJORITY, BALLOT_NO_WEIGHTED_MAJORITY,
					BALLOT_NO_TIE, BALLOT_NO_DISAGREEMENT, BALLOT_NO_THRESHOLD,
					BALLOT_NO_TOO_FEW, BALLOT_NO_ALL_FAILED};
	for (size_t i = 0; i < COUNT_OF(all); i++) {
		const char *t = ballot_no_winner_text(all[i]);
		assert_non_null(t);
		assert_true(strlen(t) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(t, ballot_no_winner_text(all[j]));
	}
	assert_true(strncmp(ballot_no_winner_text(BALLOT_NO_MAJORITY), "no majority", 11) == 0);
	assert_non_null(ballot_no_winner_text((ballot_no_winner)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(majority_three_agree),
		cmocka_unit_test(majority_two_of_three_names_the_dissenter),
		cmocka_unit_test(majority_two_of_three_wins_when_the_third_failed),
		cmocka_unit_test(majority_counts_failed_modules_in_n),
		cmocka_unit_test(majority_one_answer_of_three_is_not_enough),
		cmocka_unit_test(majority_two_of_four_is_not_enough),
		cmocka_unit_test(majority_three_of_four_wins),
		cmocka_unit_test(majority_single_module_wins_alone),
		cmocka_unit_test(majority_all_failed_is_all_failed),
		cmocka_unit_test(majority_excluded_modules_shrink_n),
		cmocka_unit_test(majority_excluded_failed_module_does_not_count),
		cmocka_unit_test(majority_with_every_answer_excluded_is_all_failed),
		cmocka_unit_test(plurality_unique_largest_group_wins_without_majority),
		cmocka_unit_test(plurality_tie_for_largest_is_no_winner),
		cmocka_unit_test(plurality_single_answer_of_three_wins_alone),
		cmocka_unit_test(plurality_all_failed_is_all_failed),
		cmocka_unit_test(unanimous_all_agree_wins),
		cmocka_unit_test(unanimous_one_failure_is_no_winner),
		cmocka_unit_test(unanimous_one_dissent_is_no_winner),
		cmocka_unit_test(unanimous_ignores_excluded_modules),
		cmocka_unit_test(threshold_reached_wins_without_majority),
		cmocka_unit_test(threshold_not_reached_is_below_threshold),
		cmocka_unit_test(threshold_two_groups_reaching_m_with_equal_count_tie),
		cmocka_unit_test(threshold_bigger_of_two_groups_reaching_m_wins),
		cmocka_unit_test(threshold_tie_below_m_is_below_threshold),
		cmocka_unit_test(threshold_m_equal_to_n_needs_everyone),
		cmocka_unit_test(threshold_config_check_rejects_m_zero_and_m_above_n),
		cmocka_unit_test(weighted_heavy_module_outvotes_two_light_ones),
		cmocka_unit_test(weighted_exactly_half_the_weight_is_not_enough),
		cmocka_unit_test(weighted_failed_modules_weight_counts_in_the_total),
		cmocka_unit_test(weighted_without_weights_counts_one_each),
		cmocka_unit_test(weighted_config_check_rejects_bad_weights),
		cmocka_unit_test(bytes_prefix_does_not_agree_with_the_longer_output),
		cmocka_unit_test(bytes_empty_outputs_agree_with_each_other),
		cmocka_unit_test(bytes_embedded_nul_is_part_of_the_output),
		cmocka_unit_test(bytes_large_outputs_differing_in_the_last_byte_dissent),
		cmocka_unit_test(bytes_different_outputs_of_equal_length_are_not_grouped),
		cmocka_unit_test_teardown(bytes_sharing_a_hash_but_differing_do_not_agree,
					  hash_stops_colliding),
		cmocka_unit_test(numbers_exact_agree_by_value_not_by_text),
		cmocka_unit_test(numbers_exact_differ_by_one_ulp_dissent),
		cmocka_unit_test(numbers_nan_counts_as_failed),
		cmocka_unit_test(inexact_close_values_agree_and_the_far_one_dissents),
		cmocka_unit_test(inexact_difference_of_exactly_epsilon_agrees),
		cmocka_unit_test(inexact_difference_just_over_epsilon_does_not_agree),
		cmocka_unit_test(inexact_chain_never_agrees_values_further_apart_than_epsilon),
		cmocka_unit_test(inexact_names_a_dissenter_outside_the_epsilon_spread),
		cmocka_unit_test(inexact_disjoint_clusters_of_equal_size_tie_under_plurality),
		cmocka_unit_test(inexact_weighted_sums_the_weight_of_close_values),
		cmocka_unit_test(numbers_mixed_with_bytes_are_refused),
		cmocka_unit_test(numeric_policies_refuse_byte_outputs),
		cmocka_unit_test(median_odd_count_takes_the_middle_value),
		cmocka_unit_test(median_even_count_takes_the_mean_of_the_middle_two),
		cmocka_unit_test(median_with_zero_epsilon_agrees_only_with_equal_values),
		cmocka_unit_test(median_with_failures_uses_the_answers),
		cmocka_unit_test(median_with_half_or_fewer_answers_is_too_few),
		cmocka_unit_test(median_of_two_equal_tiny_numbers_is_that_number),
		cmocka_unit_test(mid_value_of_three_is_the_middle_value),
		cmocka_unit_test(mid_value_of_five_is_the_midpoint_of_second_and_fourth),
		cmocka_unit_test(mid_value_of_two_is_their_mean),
		cmocka_unit_test(mid_value_names_the_outlier_a_dissenter),
		cmocka_unit_test(mid_value_with_half_or_fewer_answers_is_too_few),
		cmocka_unit_test(config_check_rejects_zero_modules),
		cmocka_unit_test(config_check_rejects_more_modules_than_the_limit),
		cmocka_unit_test(vote_of_the_largest_electorate_works),
		cmocka_unit_test(config_check_rejects_bad_epsilon),
		cmocka_unit_test(config_check_rejects_unknown_policy),
		cmocka_unit_test(config_check_accepts_every_policy),
		cmocka_unit_test(policy_parse_round_trips_every_policy_name),
		cmocka_unit_test(policy_parse_rejects_unknown_names),
		cmocka_unit_test(policy_is_numeric_only_for_median_and_mid_value),
		cmocka_unit_test(verdict_names_are_the_documented_words),
		cmocka_unit_test(no_winner_texts_are_distinct_and_never_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
