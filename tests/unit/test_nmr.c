/* Unit tests of the in-process NMR executor: N functions in threads, a deadline, a vote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ballot/nmr.h"

/* A module that squares the input number; ctx, if set, is the offset of a faulty version. */
static int square(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out)
{
	long x;
	if (input_len != sizeof x)
		return -1;
	memcpy(&x, input, sizeof x);
	long y = x * x + (ctx != NULL ? *(const long *)ctx : 0);
	memcpy(out->data, &y, sizeof y);
	out->len = sizeof y;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int slow_square(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out)
{
	sleep_ms(1500);
	return square(ctx, input, input_len, out);
}

static int crash(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out)
{
	(void)ctx, (void)input, (void)input_len, (void)out;
	return 1;
}

static int overflow(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out)
{
	(void)ctx, (void)input, (void)input_len;
	out->len = out->cap + 1; /* claims more than it was given: a broken module */
	return 0;
}

static int numeric(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out)
{
	(void)input, (void)input_len;
	out->is_number = true;
	out->number = *(const double *)ctx;
	return 0;
}

static void init_majority(ballot_voter *voter, size_t n)
{
	ballot_vote_config config = {.policy = BALLOT_POLICY_MAJORITY};
	ballot_health_config health = {.fault_limit = 2, .action = BALLOT_HEALTH_REPORT};
	assert_int_equal(ballot_voter_init(voter, &config, n, &health, NULL), 0);
}

static void tmr_masks_one_wrong_version_and_names_it(void **state)
{
	(void)state;
	static const long off_by_one = 1;
	ballot_nmr_module modules[3] = {
		{"a", square, NULL}, {"b", square, (void *)&off_by_one}, {"c", square, NULL}};
	ballot_voter voter;
	init_majority(&voter, 3);
	long x = 12, y = 0;
	ballot_nmr_result r;
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 1000, sizeof y, &y, sizeof y, &r, NULL), 0);
	assert_true(r.vote.has_winner);
	assert_int_equal(r.winner_len, sizeof y);
	assert_int_equal(y, 144);
	assert_int_equal(r.vote.verdicts[1], BALLOT_VERDICT_DISSENTED);
	assert_int_equal(r.vote.verdicts[0], BALLOT_VERDICT_AGREED);
	assert_int_equal(voter.modules[1].dissented, 1);
}

static void late_module_counts_as_failed_and_caller_does_not_wait(void **state)
{
	(void)state;
	ballot_nmr_module modules[3] = {{"a", square, NULL}, {"slow", slow_square, NULL}, {"c", square, NULL}};
	ballot_voter voter;
	init_majority(&voter, 3);
	long x = 3, y = 0;
	ballot_nmr_result r;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 50, sizeof y, &y, sizeof y, &r, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* The bound is loose on purpose: this checks "did not wait 1500 ms", not speed. */
	long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(waited_ms < 1000);
	assert_true(r.late[1]);
	assert_int_equal(r.vote.verdicts[1], BALLOT_VERDICT_FAILED);
	assert_true(r.vote.has_winner);
	assert_int_equal(y, 9);
	sleep_ms(1700); /* let the late thread finish and free the run (ASan checks it) */
}

static void crashed_and_lying_modules_fail(void **state)
{
	(void)state;
	ballot_nmr_module modules[3] = {{"a", square, NULL}, {"crash", crash, NULL}, {"overflow", overflow, NULL}};
	ballot_voter voter;
	init_majority(&voter, 3);
	long x = 2, y = 0;
	ballot_nmr_result r;
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 1000, sizeof y, &y, sizeof y, &r, NULL), 0);
	assert_false(r.vote.has_winner);
	assert_int_equal(r.vote.reason, BALLOT_NO_MAJORITY);
	assert_int_equal(r.rc[1], 1);
	assert_int_equal(r.vote.verdicts[1], BALLOT_VERDICT_FAILED);
	assert_int_equal(r.vote.verdicts[2], BALLOT_VERDICT_FAILED);
	assert_int_equal(r.vote.verdicts[0], BALLOT_VERDICT_UNDECIDED);
}

static void numeric_modules_vote_with_epsilon(void **state)
{
	(void)state;
	static const double a = 1.0, b = 1.0 + 1e-12, c = 7.0;
	ballot_nmr_module modules[3] = {{"a", numeric, (void *)&a}, {"b", numeric, (void *)&b}, {"c", numeric, (void *)&c}};
	ballot_vote_config config = {.policy = BALLOT_POLICY_MAJORITY, .epsilon = 1e-9};
	ballot_health_config health = {0};
	ballot_voter voter;
	assert_int_equal(ballot_voter_init(&voter, &config, 3, &health, NULL), 0);
	char winner[8];
	ballot_nmr_result r;
	assert_int_equal(ballot_nmr_run(&voter, modules, "", 0, 1000, sizeof winner, winner, sizeof winner, &r, NULL), 0);
	assert_true(r.vote.has_winner);
	assert_true(r.vote.winner_number == a || r.vote.winner_number == b);
	assert_int_equal(r.vote.verdicts[2], BALLOT_VERDICT_DISSENTED);
}

static void bad_arguments_are_refused(void **state)
{
	(void)state;
	ballot_nmr_module modules[3] = {{"a", square, NULL}, {"b", NULL, NULL}, {"c", square, NULL}};
	ballot_voter voter;
	init_majority(&voter, 3);
	long x = 1, y;
	ballot_nmr_result r;
	ballot_errmsg em;
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 1000, 8, &y, 8, &r, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "module 2"));
	modules[1].fn = square;
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 0, 8, &y, 8, &r, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 1000, 16, &y, 8, &r, &em), BALLOT_EINVAL);
	assert_int_equal(ballot_nmr_run(&voter, modules, &x, sizeof x, 1000, 0, &y, 8, &r, &em), BALLOT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tmr_masks_one_wrong_version_and_names_it),
		cmocka_unit_test(late_module_counts_as_failed_and_caller_does_not_wait),
		cmocka_unit_test(crashed_and_lying_modules_fail),
		cmocka_unit_test(numeric_modules_vote_with_epsilon),
		cmocka_unit_test(bad_arguments_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
