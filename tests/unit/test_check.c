/* Unit tests of the linearizability checker: the classic histories, the Redis value
 * semantics, info operations, per-key independence, the bounds, the smallest window, and a
 * comparison with a brute-force checker on thousands of small random histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/check.h"
#include "ballot/rng.h"

#define R BALLOT_OP_READ
#define W BALLOT_OP_WRITE
#define INCR BALLOT_OP_INCR
#define APPEND BALLOT_OP_APPEND
#define I(x) ballot_value_int(x)
#define S(s) ballot_value_bytes((s), strlen(s))
#define NUL ballot_value_null()

/* ---- building histories ------------------------------------------------------------------ */

static ballot_history *new_history(void)
{
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	return h;
}

static void inv(ballot_history *h, int64_t p, ballot_op_kind f, const char *key, ballot_value v)
{
	ballot_errmsg em;
	ballot_call call = {.f = f, .key = key, .key_len = strlen(key), .value = v};
	int rc = ballot_history_invoke(h, p, &call, &em);
	if (rc != 0)
		fail_msg("invoke: %s", em.text);
}

static void inv_cas(ballot_history *h, int64_t p, const char *key, ballot_value expected,
		    ballot_value new_value)
{
	ballot_errmsg em;
	ballot_call call = {.f = BALLOT_OP_CAS, .key = key, .key_len = strlen(key),
			    .value = expected, .value2 = new_value};
	int rc = ballot_history_invoke(h, p, &call, &em);
	if (rc != 0)
		fail_msg("invoke cas: %s", em.text);
}

static void done(ballot_history *h, int64_t p, ballot_event_type type, ballot_value v)
{
	ballot_errmsg em;
	int rc = ballot_history_complete(h, p, type, v, &em);
	if (rc != 0)
		fail_msg("complete: %s", em.text);
}

static void ok(ballot_history *h, int64_t p, ballot_value v) { done(h, p, BALLOT_EVENT_OK, v); }
static void failed(ballot_history *h, int64_t p) { done(h, p, BALLOT_EVENT_FAIL, NUL); }
static void info(ballot_history *h, int64_t p) { done(h, p, BALLOT_EVENT_INFO, NUL); }

/* Sequential helpers: the whole operation, invoke then completion. */
static void write_ok(ballot_history *h, int64_t p, const char *key, ballot_value v)
{
	inv(h, p, W, key, v);
	ok(h, p, NUL);
}

static void read_ok(ballot_history *h, int64_t p, const char *key, ballot_value v)
{
	inv(h, p, R, key, NUL);
	ok(h, p, v);
}

static ballot_check_verdict check(const ballot_history *h, ballot_check_result *r)
{
	ballot_errmsg em;
	int rc = ballot_check(h, NULL, r, &em);
	if (rc != 0)
		fail_msg("check: %s", em.text);
	return r->verdict;
}

static void expect_verdict(ballot_history *h, ballot_check_verdict want)
{
	ballot_check_result r;
	ballot_check_verdict got = check(h, &r);
	if (got != want) {
		char text[2048];
		ballot_check_explain(h, &r, text, sizeof text);
		fail_msg("verdict %d, expected %d: %s", (int)got, (int)want, text);
	}
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void expect_linearizable(ballot_history *h) { expect_verdict(h, BALLOT_CHECK_LINEARIZABLE); }
static void expect_violation(ballot_history *h) { expect_verdict(h, BALLOT_CHECK_NOT_LINEARIZABLE); }

/* ---- the classics ---------------------------------------------------------------------------- */

static void empty_history_is_linearizable(void **state)
{
	(void)state;
	expect_linearizable(new_history());
}

static void sequential_write_then_read_is_linearizable(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	read_ok(h, 1, "x", NUL);
	write_ok(h, 1, "x", I(1));
	read_ok(h, 2, "x", I(1));
	expect_linearizable(h);
}

static void stale_read_after_a_completed_write_is_a_violation(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(1)); /* events 1-2 */
	write_ok(h, 1, "x", I(2)); /* events 3-4 */
	read_ok(h, 2, "x", I(1));  /* events 5-6 */
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_int_equal(r.key_len, 1);
	assert_memory_equal(r.key, "x", 1);
	/* The smallest witness: write 2, then a read of 1, whatever came before. */
	assert_int_equal(r.window_len, 2);
	assert_int_equal(r.window[0], 1);
	assert_int_equal(r.window[1], 2);
	assert_int_equal(r.blocked_op, 2);
	assert_false(r.window_from_start);
	assert_true(r.window_minimal);
	char text[1024];
	size_t len = ballot_check_explain(h, &r, text, sizeof text);
	assert_true(len < sizeof text);
	assert_non_null(strstr(text, "not linearizable: key \"x\""));
	assert_non_null(strstr(text, "process 2's read -> 1 (ok, lines 5-6)"));
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void read_of_a_never_written_value_fails_from_the_start(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	read_ok(h, 1, "x", I(7));
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_int_equal(r.window_len, 1);
	assert_true(r.window_from_start);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void concurrent_write_and_read_may_go_either_way(void **state)
{
	(void)state;
	for (int read_new = 0; read_new < 2; read_new++) {
		ballot_history *h = new_history();
		write_ok(h, 1, "x", I(1));
		inv(h, 1, W, "x", I(2));
		inv(h, 2, R, "x", NUL);
		ok(h, 2, I(read_new ? 2 : 1));
		ok(h, 1, NUL);
		expect_linearizable(h);
	}
}

static void read_cannot_see_a_write_invoked_after_it_returned(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	read_ok(h, 2, "x", I(1));
	write_ok(h, 1, "x", I(1));
	expect_violation(h);
}

static void lost_update_two_cas_from_the_same_value_both_ok(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(0));
	inv_cas(h, 1, "x", I(0), I(1));
	inv_cas(h, 2, "x", I(0), I(2));
	ok(h, 1, NUL);
	ok(h, 2, NUL);
	expect_violation(h);
}

static void one_of_two_concurrent_cas_from_the_same_value_may_fail(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(0));
	inv_cas(h, 1, "x", I(0), I(1));
	inv_cas(h, 2, "x", I(0), I(2));
	ok(h, 1, NUL);
	failed(h, 2);
	read_ok(h, 3, "x", I(1));
	expect_linearizable(h);
}

static void failed_cas_needs_the_value_to_differ(void **state)
{
	(void)state;
	/* Nothing could have changed x from 5: a cas expecting 5 cannot fail. */
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(5));
	inv_cas(h, 2, "x", I(5), I(6));
	failed(h, 2);
	expect_violation(h);

	/* A concurrent write of 7 explains it. */
	h = new_history();
	write_ok(h, 1, "x", I(5));
	inv(h, 1, W, "x", I(7));
	inv_cas(h, 2, "x", I(5), I(6));
	failed(h, 2);
	ok(h, 1, NUL);
	expect_linearizable(h);

	/* A cas that fails on an absent key expecting a value is fine. */
	h = new_history();
	inv_cas(h, 2, "x", I(5), I(6));
	failed(h, 2);
	read_ok(h, 1, "x", NUL);
	expect_linearizable(h);
}

static void cas_ok_needs_the_expected_value(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(1));
	inv_cas(h, 1, "x", I(2), I(3));
	ok(h, 1, NUL);
	expect_violation(h);

	h = new_history();
	inv_cas(h, 1, "x", NUL, S("new")); /* set if absent */
	ok(h, 1, NUL);
	read_ok(h, 2, "x", S("new"));
	expect_linearizable(h);
}

/* ---- info and fail ------------------------------------------------------------------------ */

static void info_write_may_take_effect_much_later(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(0));
	inv(h, 2, W, "x", I(9));
	info(h, 2);
	for (int i = 0; i < 20; i++)
		read_ok(h, 3, "x", I(0));
	read_ok(h, 3, "x", I(9));
	read_ok(h, 3, "x", I(9));
	expect_linearizable(h);
}

static void info_write_may_never_take_effect(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(0));
	inv(h, 2, W, "x", I(9));
	info(h, 2);
	read_ok(h, 3, "x", I(0));
	read_ok(h, 3, "x", I(0));
	expect_linearizable(h);
}

static void info_write_takes_effect_once(void **state)
{
	(void)state;
	/* Once read, 9 was written; a later write of 1 completes, then 9 again is stale... */
	ballot_history *h = new_history();
	inv(h, 2, W, "x", I(9));
	info(h, 2);
	read_ok(h, 3, "x", I(9));
	write_ok(h, 1, "x", I(1));
	read_ok(h, 3, "x", I(1));
	read_ok(h, 3, "x", I(9));
	expect_violation(h);
}

static void info_write_cannot_take_effect_before_its_invoke(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	read_ok(h, 3, "x", I(9));
	inv(h, 2, W, "x", I(9));
	info(h, 2);
	expect_violation(h);
}

static void never_completed_invoke_counts_as_info(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 2, W, "x", I(9));
	read_ok(h, 3, "x", NUL);
	read_ok(h, 3, "x", I(9));
	expect_linearizable(h);
}

static void failed_write_did_not_happen(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 1, W, "x", I(9));
	failed(h, 1);
	read_ok(h, 2, "x", I(9));
	expect_violation(h);
}

static void info_cas_takes_effect_only_on_its_expected_value(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(1));
	inv_cas(h, 2, "x", I(1), I(2));
	info(h, 2);
	read_ok(h, 3, "x", I(2));
	expect_linearizable(h);

	h = new_history();
	write_ok(h, 1, "x", I(5));
	inv_cas(h, 2, "x", I(1), I(2));
	info(h, 2);
	read_ok(h, 3, "x", I(2));
	expect_violation(h);
}

static void many_identical_info_increments_are_decided_quickly(void **state)
{
	(void)state;
	/* 60 increments of unknown outcome, then reads that need exactly 30 of them: without
	 * treating identical info operations as interchangeable this is 2^60 subsets. */
	ballot_history *h = new_history();
	for (int p = 0; p < 60; p++) {
		inv(h, 100 + p, INCR, "c", I(1));
		info(h, 100 + p);
	}
	inv(h, 1, INCR, "c", I(0));
	ok(h, 1, I(30));
	read_ok(h, 1, "c", S("30"));
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_LINEARIZABLE);
	assert_true(r.steps < 100000);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void many_unread_info_writes_are_decided_quickly(void **state)
{
	(void)state;
	/* Timed-out writes whose values nobody reads cannot matter; a stale read at the end
	 * must still be found. */
	ballot_history *h = new_history();
	for (int p = 0; p < 200; p++) {
		char key[8];
		(void)key;
		inv(h, 1000 + p, W, "x", I(1000 + p));
		info(h, 1000 + p);
		write_ok(h, 1, "x", I(p));
		read_ok(h, 2, "x", I(p));
	}
	read_ok(h, 2, "x", I(3));
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_true(r.steps < 1000000);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

/* ---- incr, append and Redis values -------------------------------------------------------- */

static void incr_sequence_counts_from_an_absent_key(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 1, INCR, "c", I(1));
	ok(h, 1, I(1));
	inv(h, 2, INCR, "c", I(5));
	ok(h, 2, I(6));
	read_ok(h, 1, "c", I(6));
	read_ok(h, 1, "c", S("6"));
	expect_linearizable(h);
}

static void duplicate_incr_results_are_a_violation(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 1, INCR, "c", I(1));
	inv(h, 2, INCR, "c", I(1));
	ok(h, 1, I(1));
	ok(h, 2, I(1));
	expect_violation(h);
}

static void concurrent_incr_results_in_either_order(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 1, INCR, "c", I(1));
	inv(h, 2, INCR, "c", I(1));
	ok(h, 1, I(2));
	ok(h, 2, I(1));
	expect_linearizable(h);
}

static void incr_cannot_succeed_on_a_non_integer(void **state)
{
	(void)state;
	const char *bad[] = {"a", "05", "+5", " 5", "-0", "5ab", "", "9223372036854775808"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ballot_history *h = new_history();
		write_ok(h, 1, "c", S(bad[i]));
		inv(h, 1, INCR, "c", I(1));
		ok(h, 1, I(1));
		expect_violation(h);
	}
	/* The canonical text of an integer works, negative included. */
	ballot_history *h = new_history();
	write_ok(h, 1, "c", S("-5"));
	inv(h, 1, INCR, "c", I(1));
	ok(h, 1, I(-4));
	expect_linearizable(h);
}

static void incr_cannot_overflow(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "c", I(INT64_MAX));
	inv(h, 1, INCR, "c", I(1));
	ok(h, 1, I(INT64_MIN));
	expect_violation(h);

	h = new_history();
	write_ok(h, 1, "c", I(INT64_MIN + 1));
	inv(h, 1, INCR, "c", I(-1));
	ok(h, 1, I(INT64_MIN));
	expect_linearizable(h);
}

static void info_incr_may_count_or_not(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	inv(h, 1, INCR, "c", I(1));
	info(h, 1);
	inv(h, 2, INCR, "c", I(1));
	ok(h, 2, I(2));
	expect_linearizable(h);

	h = new_history();
	inv(h, 1, INCR, "c", I(1));
	info(h, 1);
	inv(h, 2, INCR, "c", I(1));
	ok(h, 2, I(3));
	expect_violation(h);
}

static void append_keeps_the_order_of_sequential_appends(void **state)
{
	(void)state;
	for (int swapped = 0; swapped < 2; swapped++) {
		ballot_history *h = new_history();
		inv(h, 1, APPEND, "s", S("a"));
		ok(h, 1, NUL);
		inv(h, 2, APPEND, "s", S("b"));
		ok(h, 2, NUL);
		read_ok(h, 3, "s", S(swapped ? "ba" : "ab"));
		expect_verdict(h, swapped ? BALLOT_CHECK_NOT_LINEARIZABLE : BALLOT_CHECK_LINEARIZABLE);
	}
}

static void concurrent_appends_in_either_order(void **state)
{
	(void)state;
	const char *reads[] = {"xab", "xba"};
	for (int i = 0; i < 2; i++) {
		ballot_history *h = new_history();
		write_ok(h, 1, "s", S("x"));
		inv(h, 1, APPEND, "s", S("a"));
		inv(h, 2, APPEND, "s", S("b"));
		ok(h, 2, NUL);
		ok(h, 1, NUL);
		read_ok(h, 3, "s", S(reads[i]));
		expect_linearizable(h);
	}
	ballot_history *h = new_history();
	inv(h, 1, APPEND, "s", S("a"));
	inv(h, 2, APPEND, "s", S("b"));
	ok(h, 2, NUL);
	ok(h, 1, NUL);
	read_ok(h, 3, "s", S("a"));
	expect_violation(h);
}

static void values_are_strings_as_in_redis(void **state)
{
	(void)state;
	/* write 5 then append "ab" reads "5ab"; the integer 5 and the string "5" are equal. */
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(5));
	read_ok(h, 2, "x", S("5"));
	inv(h, 1, APPEND, "x", S("ab"));
	ok(h, 1, NUL);
	read_ok(h, 2, "x", S("5ab"));
	inv(h, 1, APPEND, "x", I(7));
	ok(h, 1, NUL);
	read_ok(h, 2, "x", S("5ab7"));
	write_ok(h, 1, "x", S("12"));
	inv(h, 1, INCR, "x", I(30));
	ok(h, 1, I(42));
	read_ok(h, 2, "x", I(42));
	expect_linearizable(h);
}

static void append_builds_values_a_write_can_match(void **state)
{
	(void)state;
	/* The same string reached by appends and by a write is one value for cas. */
	ballot_history *h = new_history();
	inv(h, 1, APPEND, "x", S("ab"));
	ok(h, 1, NUL);
	inv(h, 1, APPEND, "x", S("cd"));
	ok(h, 1, NUL);
	inv_cas(h, 2, "x", S("abcd"), S("z"));
	ok(h, 2, NUL);
	read_ok(h, 3, "x", S("z"));
	expect_linearizable(h);
}

static void write_null_deletes_the_key(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", I(1));
	write_ok(h, 1, "x", NUL);
	read_ok(h, 2, "x", NUL);
	inv(h, 2, INCR, "x", I(1));
	ok(h, 2, I(1));
	expect_linearizable(h);
}

static void empty_string_is_not_absent(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	write_ok(h, 1, "x", S(""));
	read_ok(h, 2, "x", NUL);
	expect_violation(h);
}

static void keys_are_checked_independently(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	for (int i = 0; i < 5; i++) {
		write_ok(h, 1, "x", I(i));
		write_ok(h, 2, "y", I(100 + i));
		read_ok(h, 3, "x", I(i));
	}
	read_ok(h, 3, "y", I(101)); /* stale */
	read_ok(h, 3, "x", I(4));
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_int_equal(r.key_len, 1);
	assert_memory_equal(r.key, "y", 1);
	assert_int_equal(r.keys, 2);
	assert_int_equal(r.keys_checked, 1); /* x, the first key, passed */
	ballot_check_result_free(&r);
	ballot_history_free(h);

	/* The same value on two keys does not leak between them. */
	h = new_history();
	write_ok(h, 1, "a", I(1));
	read_ok(h, 2, "b", I(1));
	expect_violation(h);
}

static void window_is_small_in_a_long_history(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	for (int i = 0; i < 500; i++) {
		inv(h, 1, W, "x", I(i));
		inv(h, 2, R, "x", NUL);
		ok(h, 1, NUL);
		ok(h, 2, I(i > 0 ? i - 1 : 0));
		if (i == 0)
			continue;
	}
	write_ok(h, 1, "x", I(-1));
	read_ok(h, 2, "x", I(250)); /* stale by far */
	for (int i = 0; i < 100; i++)
		read_ok(h, 2, "x", I(-1));
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_true(r.window_minimal);
	assert_int_equal(r.window_len, 2);
	ballot_op_view v;
	ballot_history_op(h, r.blocked_op, &v);
	assert_int_equal(v.call.f, BALLOT_OP_READ);
	assert_int_equal(v.result.integer, 250);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

/* A register simulated by 10 processes, each op applied at a random point between its
 * invoke and its completion; with unique values, 5% info completions (half never took
 * effect) and, if corrupt_at > 0, the read completing around that op made stale. */
static ballot_history *register_history(uint64_t seed, int ops, int corrupt_at, size_t *corrupted)
{
	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	ballot_history *h = new_history();
	struct {
		int64_t id;
		bool open, applied, took;
		ballot_op_kind f;
		int64_t v, v2, result;
		bool result_null;
	} p[10] = {0};
	for (int i = 0; i < 10; i++)
		p[i].id = i;
	int64_t value = 0, unique = 0, next_id = 10, started = 0, open = 0;
	bool present = false;
	while (started < ops || open > 0) {
		int i = (int)ballot_rng_below(&rng, 10);
		if (!p[i].open) {
			if (started == ops)
				continue;
			started++;
			open++;
			uint64_t roll = ballot_rng_below(&rng, 100);
			p[i].f = roll < 50 ? R : roll < 80 ? W : BALLOT_OP_CAS;
			p[i].v = present && ballot_rng_below(&rng, 2) ? value : ++unique;
			p[i].v2 = ++unique;
			p[i].open = true;
			p[i].applied = false;
			if (p[i].f == BALLOT_OP_CAS)
				inv_cas(h, p[i].id, "x", I(p[i].v), I(p[i].v2));
			else
				inv(h, p[i].id, p[i].f, "x", p[i].f == R ? NUL : I(p[i].v));
			continue;
		}
		bool unknown = ballot_rng_below(&rng, 100) < 5;
		if (!p[i].applied) {
			if (unknown && ballot_rng_below(&rng, 2)) {
				info(h, p[i].id); /* timed out before it took effect */
				p[i].open = false;
				open--;
				p[i].id = next_id++;
				continue;
			}
			p[i].applied = true;
			p[i].took = true;
			if (p[i].f == R) {
				p[i].result = value;
				p[i].result_null = !present;
			} else if (p[i].f == W) {
				value = p[i].v;
				present = true;
			} else if ((p[i].took = present && value == p[i].v)) {
				value = p[i].v2;
			}
			continue;
		}
		if (unknown) {
			info(h, p[i].id);
			p[i].id = next_id++;
		} else if (p[i].f == R) {
			bool stale = corrupt_at > 0 && *corrupted == SIZE_MAX && started >= corrupt_at &&
				     !p[i].result_null;
			if (stale) {
				ballot_op_view v;
				for (size_t k = ballot_history_op_count(h); k-- > 0;) {
					ballot_history_op(h, k, &v);
					if (v.process == p[i].id) {
						*corrupted = k;
						break;
					}
				}
			}
			ok(h, p[i].id, p[i].result_null ? NUL : I(p[i].result - (stale ? 7 : 0)));
		} else if (p[i].took) {
			ok(h, p[i].id, NUL);
		} else {
			failed(h, p[i].id);
		}
		p[i].open = false;
		open--;
	}
	return h;
}

static void register_history_with_info_ops_is_linearizable(void **state)
{
	(void)state;
	size_t none = SIZE_MAX;
	ballot_history *h = register_history(1, 4000, 0, &none);
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_LINEARIZABLE);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void stale_read_among_many_info_ops_is_found_in_a_small_window(void **state)
{
	(void)state;
	/* Refuting the whole history would mean exhausting every order of thousands of ops
	 * before the stale read, multiplied by the info ops; the search finds the read stuck,
	 * and a window ending there fails on its own. */
	size_t corrupted = SIZE_MAX;
	ballot_history *h = register_history(1, 4000, 2000, &corrupted);
	assert_true(corrupted != SIZE_MAX);
	ballot_check_result r;
	assert_int_equal(check(h, &r), BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_int_equal(r.blocked_op, corrupted);
	assert_true(r.window_len < 40);
	assert_true(r.steps < 20000000);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

/* ---- bounds and determinism -------------------------------------------------------------- */

/* A history whose search must explore many orders: concurrent writes of distinct values
 * and reads that contradict every order only at the end. */
static ballot_history *hard_history(int writers)
{
	ballot_history *h = new_history();
	for (int p = 0; p < writers; p++)
		inv(h, p, W, "x", I(p));
	for (int p = 0; p < writers; p++)
		ok(h, p, NUL);
	for (int p = 0; p < writers; p++)
		inv(h, 100 + p, R, "x", NUL);
	for (int p = 0; p < writers; p++)
		ok(h, 100 + p, I(p));
	read_ok(h, 1, "x", I(writers + 1));
	return h;
}

static void steps_bound_gives_unknown_not_a_guess(void **state)
{
	(void)state;
	ballot_history *h = hard_history(12);
	ballot_check_limits l;
	ballot_check_limits_default(&l);
	l.steps_max = 1000;
	ballot_check_result r;
	assert_int_equal(ballot_check(h, &l, &r, NULL), 0);
	assert_int_equal(r.verdict, BALLOT_CHECK_UNKNOWN);
	assert_int_equal(r.bound, BALLOT_CHECK_BOUND_STEPS);
	assert_int_equal(r.steps, 1000);
	assert_memory_equal(r.key, "x", 1);
	char text[512];
	ballot_check_explain(h, &r, text, sizeof text);
	assert_non_null(strstr(text, "unknown: the search reached its steps bound on key \"x\""));
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void memory_bound_gives_unknown(void **state)
{
	(void)state;
	ballot_history *h = hard_history(14);
	ballot_check_limits l;
	ballot_check_limits_default(&l);
	l.memory_bytes_max = BALLOT_CHECK_MEMORY_MIN_BYTES;
	ballot_check_result r;
	assert_int_equal(ballot_check(h, &l, &r, NULL), 0);
	assert_int_equal(r.verdict, BALLOT_CHECK_UNKNOWN);
	assert_int_equal(r.bound, BALLOT_CHECK_BOUND_MEMORY);
	assert_true(r.memory_bytes_peak <= BALLOT_CHECK_MEMORY_MIN_BYTES);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now += 10; /* every reading is 10 ms later */
}

static void time_bound_reads_the_given_clock(void **state)
{
	(void)state;
	ballot_history *h = hard_history(14);
	ballot_check_limits l;
	ballot_check_limits_default(&l);
	l.clock_ms = fake_clock;
	l.timeout_ms = 50;
	ballot_check_result r;
	assert_int_equal(ballot_check(h, &l, &r, NULL), 0);
	assert_int_equal(r.verdict, BALLOT_CHECK_UNKNOWN);
	assert_int_equal(r.bound, BALLOT_CHECK_BOUND_TIME);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void unknown_on_one_key_does_not_hide_a_violation_on_another(void **state)
{
	(void)state;
	ballot_history *h = hard_history(16);
	for (int i = 0; i < 64; i++)
		write_ok(h, 1, "filler", I(i)); /* a big linearizable key */
	read_ok(h, 2, "y", I(1));
	ballot_check_limits l;
	ballot_check_limits_default(&l);
	l.memory_bytes_max = 256 * 1024; /* too little for x, enough for the rest */
	ballot_check_result r;
	assert_int_equal(ballot_check(h, &l, &r, NULL), 0);
	assert_int_equal(r.verdict, BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_memory_equal(r.key, "y", 1);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void limits_out_of_range_are_refused(void **state)
{
	(void)state;
	ballot_history *h = new_history();
	ballot_check_limits l;
	ballot_check_result r;
	ballot_errmsg em;
	ballot_check_limits_default(&l);
	l.steps_max = 0;
	assert_int_equal(ballot_check(h, &l, &r, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "steps bound 0"));
	ballot_check_limits_default(&l);
	l.memory_bytes_max = 10;
	assert_int_equal(ballot_check(h, &l, &r, &em), BALLOT_EINVAL);
	ballot_check_limits_default(&l);
	l.clock_ms = fake_clock;
	l.timeout_ms = 0;
	assert_int_equal(ballot_check(h, &l, &r, &em), BALLOT_EINVAL);
	ballot_history_free(h);
}

static void same_history_same_result_and_steps(void **state)
{
	(void)state;
	ballot_history *h = hard_history(8);
	ballot_check_result a, b;
	check(h, &a);
	check(h, &b);
	assert_int_equal(a.verdict, BALLOT_CHECK_NOT_LINEARIZABLE);
	assert_int_equal(a.verdict, b.verdict);
	assert_int_equal(a.steps, b.steps);
	assert_int_equal(a.memory_bytes_peak, b.memory_bytes_peak);
	assert_int_equal(a.window_len, b.window_len);
	assert_memory_equal(a.window, b.window, a.window_len * sizeof *a.window);
	ballot_check_result_free(&a);
	ballot_check_result_free(&b);
	ballot_history_free(h);
}

/* ---- against a brute-force checker -------------------------------------------------------------- */

/* The definition, directly: try every order of every subset that contains the required
 * operations, in which no operation comes before one that returned before its invoke,
 * applying a sequential map of flat strings. Independent of the search's data structures. */
typedef struct bval {
	bool present;
	char s[64];
} bval;

typedef struct bop {
	ballot_op_view v;
	bool required;
	bool usable; /* false: leave out entirely (a failed non-cas, an info read) */
	uint64_t call, ret;
} bop;

static void to_bval(const ballot_value *v, bval *out)
{
	memset(out, 0, sizeof *out);
	if (v->kind == BALLOT_VALUE_NULL)
		return;
	out->present = true;
	if (v->kind == BALLOT_VALUE_INT)
		snprintf(out->s, sizeof out->s, "%lld", (long long)v->integer);
	else
		memcpy(out->s, v->bytes, v->len);
}

static bool bval_eq(const bval *a, const bval *b)
{
	return a->present == b->present && (!a->present || strcmp(a->s, b->s) == 0);
}

static bool canonical_int(const char *s, long long *out)
{
	char buf[32];
	char *end;
	if (*s == '\0')
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0')
		return false;
	snprintf(buf, sizeof buf, "%lld", v);
	if (strcmp(buf, s) != 0)
		return false;
	*out = v;
	return true;
}

/* Applies op to *st; false if it cannot run there. */
static bool brute_apply(const bop *o, bval *st)
{
	bval a, b;
	switch (o->v.call.f) {
	case BALLOT_OP_READ:
		to_bval(&o->v.result, &a);
		return bval_eq(&a, st);
	case BALLOT_OP_WRITE:
		to_bval(&o->v.call.value, st);
		return true;
	case BALLOT_OP_CAS:
		to_bval(&o->v.call.value, &a);
		to_bval(&o->v.call.value2, &b);
		if (o->v.outcome == BALLOT_EVENT_FAIL)
			return !bval_eq(&a, st);
		if (!bval_eq(&a, st))
			return false;
		*st = b;
		return true;
	case BALLOT_OP_INCR: {
		long long base = 0;
		if (st->present && !canonical_int(st->s, &base))
			return false;
		long long next = base + o->v.call.value.integer; /* small values in these tests */
		if (o->v.outcome == BALLOT_EVENT_OK && next != o->v.result.integer)
			return false;
		st->present = true;
		snprintf(st->s, sizeof st->s, "%lld", next);
		return true;
	}
	case BALLOT_OP_APPEND:
		to_bval(&o->v.call.value, &a);
		if (!st->present) {
			*st = a;
			return true;
		}
		if (strlen(st->s) + strlen(a.s) >= sizeof st->s)
			return false;
		strcat(st->s, a.s);
		return true;
	case BALLOT_OP_KIND_COUNT_:
		break;
	}
	return false;
}

static bool brute_search(const bop *ops, size_t n, bool *placed, bval st)
{
	bool all = true;
	for (size_t i = 0; i < n; i++)
		if (ops[i].required && !placed[i])
			all = false;
	if (all)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (placed[i] || !ops[i].usable)
			continue;
		bool allowed = true;
		for (size_t j = 0; j < n; j++)
			if (!placed[j] && ops[j].required && ops[j].ret < ops[i].call)
				allowed = false;
		if (!allowed)
			continue;
		bval next = st;
		if (!brute_apply(&ops[i], &next))
			continue;
		placed[i] = true;
		bool found = brute_search(ops, n, placed, next);
		placed[i] = false;
		if (found)
			return true;
	}
	return false;
}

/* Brute-force verdict of the window (after, through] of h, whose ops are all on one key,
 * from the value *start: ops completed after `after` and invoked through `through` take
 * part; those entirely inside must take effect, the others may (positions are lines, which
 * for appended histories count events). The whole history is (0, UINT64_MAX]. */
static bool brute_window(const ballot_history *h, uint64_t after, uint64_t through, const bval *start)
{
	size_t n = ballot_history_op_count(h);
	bop ops[16];
	bool placed[16] = {0};
	size_t m = 0;
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		bop *o = &ops[m];
		ballot_history_op(h, i, &o->v);
		bool finite = o->v.outcome != BALLOT_EVENT_INFO;
		if (finite && o->v.complete_line <= after)
			continue;
		if (o->v.invoke_line > through)
			continue;
		o->call = o->v.invoke_line;
		o->ret = finite ? o->v.complete_line : UINT64_MAX;
		bool takes_part = o->v.outcome == BALLOT_EVENT_OK ||
				  (o->v.outcome == BALLOT_EVENT_FAIL && o->v.call.f == BALLOT_OP_CAS);
		o->required = takes_part && o->call > after && o->ret <= through;
		o->usable = o->v.outcome != BALLOT_EVENT_FAIL || o->v.call.f == BALLOT_OP_CAS;
		if (o->v.call.f == BALLOT_OP_READ && o->v.outcome != BALLOT_EVENT_OK)
			o->usable = false;
		m++;
	}
	return brute_search(ops, m, placed, *start);
}

static bool brute_linearizable(const ballot_history *h)
{
	bval start = {0};
	return brute_window(h, 0, UINT64_MAX, &start);
}

/* Every value the history names, absent, and one it does not: the starts a window that
 * fails "from any value" must fail from. */
static size_t value_domain(const ballot_history *h, bval *out, size_t cap)
{
	size_t n = 0;
	out[n++] = (bval){0};
	out[n] = (bval){.present = true};
	strcpy(out[n++].s, "never-written");
	for (size_t i = 0; i < ballot_history_op_count(h) && n + 3 <= cap; i++) {
		ballot_op_view v;
		ballot_history_op(h, i, &v);
		const ballot_value *vals[3] = {&v.call.value, &v.call.value2, &v.result};
		for (int k = 0; k < 3; k++) {
			if (vals[k]->kind == BALLOT_VALUE_NULL)
				continue;
			to_bval(vals[k], &out[n++]);
		}
	}
	return n;
}

/* The window a violation reports fails on its own, as ballot/check.h promises. */
static void expect_window_fails(const ballot_history *h, const ballot_check_result *r)
{
	bval starts[64];
	size_t count = r->window_from_start ? 1 : value_domain(h, starts, 64);
	if (r->window_from_start)
		starts[0] = (bval){0};
	for (size_t i = 0; i < count; i++)
		if (brute_window(h, r->window_after_line, r->window_through_line, &starts[i]))
			fail_msg("the window (%llu, %llu] passes from value %s'%s'",
				 (unsigned long long)r->window_after_line,
				 (unsigned long long)r->window_through_line,
				 starts[i].present ? "" : "absent ", starts[i].s);
}

static ballot_value random_value(ballot_rng *rng, bool allow_null)
{
	static const char *const strings[] = {"1", "2", "a", "1a"};
	uint64_t k = ballot_rng_below(rng, allow_null ? 7 : 6);
	if (k < 3)
		return I((int64_t)k);
	if (k < 6)
		return S(strings[k - 3]);
	return NUL;
}

/* A random history on one key: a register simulated with a linearization point at each
 * operation's invoke or completion (so many histories are linearizable), with results
 * sometimes corrupted and outcomes sometimes unknown. */
typedef struct sim_proc {
	bool open, dead, applied, took;
	size_t op;
	bval read;
	long long incr;
} sim_proc;

static void sim_apply(sim_proc *sp, const ballot_history *h, bval *st)
{
	bop o = {0};
	ballot_history_op(h, sp->op, &o.v);
	sp->applied = true;
	if (o.v.call.f == BALLOT_OP_READ) {
		sp->read = *st;
		sp->took = true;
		return;
	}
	o.v.outcome = o.v.call.f == BALLOT_OP_INCR ? BALLOT_EVENT_INFO : BALLOT_EVENT_OK;
	bval next = *st;
	sp->took = brute_apply(&o, &next);
	if (!sp->took)
		return;
	*st = next;
	if (o.v.call.f == BALLOT_OP_INCR)
		canonical_int(st->s, &sp->incr);
}

static ballot_history *random_history(ballot_rng *rng, size_t ops_wanted, int processes)
{
	ballot_history *h = new_history();
	sim_proc procs[8] = {0};
	size_t started = 0;
	bval st = {0};
	for (;;) {
		bool any = false;
		for (int q = 0; q < processes; q++)
			any |= procs[q].open || (!procs[q].dead && started < ops_wanted);
		if (!any)
			break;
		int p = (int)ballot_rng_below(rng, (uint64_t)processes);
		sim_proc *sp = &procs[p];
		if (sp->dead || (!sp->open && started == ops_wanted))
			continue;
		if (!sp->open) {
			ballot_op_kind f = (ballot_op_kind)ballot_rng_below(rng, BALLOT_OP_KIND_COUNT_);
			if (f == BALLOT_OP_CAS) {
				ballot_value e = random_value(rng, true);
				if (ballot_rng_below(rng, 2) && st.present)
					e = S(st.s);
				ballot_call call = {.f = f, .key = "k", .key_len = 1, .value = e,
						    .value2 = random_value(rng, true)};
				assert_int_equal(ballot_history_invoke(h, p, &call, NULL), 0);
			} else {
				ballot_value v = f == BALLOT_OP_INCR ? I((int64_t)ballot_rng_below(rng, 3))
					       : f == BALLOT_OP_APPEND ? random_value(rng, false)
								       : random_value(rng, true);
				inv(h, p, f, "k", v);
			}
			started++;
			*sp = (sim_proc){.open = true, .op = ballot_history_op_count(h) - 1};
			if (ballot_rng_below(rng, 2))
				sim_apply(sp, h, &st); /* the linearization point at the invoke */
			continue;
		}
		uint64_t roll = ballot_rng_below(rng, 10);
		sp->open = false;
		if (roll == 0) {
			if (!sp->applied && ballot_rng_below(rng, 2))
				sim_apply(sp, h, &st);
			info(h, p);
			sp->dead = true;
			continue;
		}
		if (!sp->applied)
			sim_apply(sp, h, &st); /* the linearization point at the completion */
		bool corrupt = roll == 1;
		ballot_op_view v;
		ballot_history_op(h, sp->op, &v);
		switch (v.call.f) {
		case BALLOT_OP_READ:
			if (corrupt)
				ok(h, p, random_value(rng, true));
			else
				ok(h, p, sp->read.present ? S(sp->read.s) : NUL);
			break;
		case BALLOT_OP_INCR:
			if (sp->took)
				ok(h, p, I(sp->incr + (corrupt ? 1 : 0)));
			else
				failed(h, p);
			break;
		case BALLOT_OP_CAS:
			if (sp->took != corrupt)
				ok(h, p, NUL);
			else
				failed(h, p);
			break;
		default:
			if (sp->took && !corrupt)
				ok(h, p, NUL);
			else
				failed(h, p);
			break;
		}
	}
	return h;
}

static void search_agrees_with_brute_force_on_random_histories(void **state)
{
	(void)state;
	ballot_rng rng;
	ballot_rng_seed(&rng, 20240601);
	int verdicts[2] = {0, 0};
	for (int trial = 0; trial < 20000; trial++) {
		size_t n = 2 + ballot_rng_below(&rng, 8);
		int procs = 2 + (int)ballot_rng_below(&rng, 3);
		ballot_history *h = random_history(&rng, n, procs);
		bool want = brute_linearizable(h);
		ballot_check_result r;
		ballot_check_verdict got = check(h, &r);
		if (got != (want ? BALLOT_CHECK_LINEARIZABLE : BALLOT_CHECK_NOT_LINEARIZABLE)) {
			for (size_t i = 0; i < ballot_history_op_count(h); i++) {
				char line[256];
				ballot_history_event_json(h, i, false, line, sizeof line);
				print_message("%s\n", line);
				ballot_history_event_json(h, i, true, line, sizeof line);
				print_message("%s\n", line);
			}
			fail_msg("trial %d: brute force says %s, the search %d", trial,
				 want ? "linearizable" : "not linearizable", (int)got);
		}
		if (got == BALLOT_CHECK_NOT_LINEARIZABLE) {
			expect_window_fails(h, &r);
			/* The window holds the blocked operation. */
			bool found = false;
			assert_true(r.window_len > 0);
			for (size_t i = 0; i < r.window_len; i++)
				found |= r.window[i] == r.blocked_op;
			assert_true(found);
			assert_true(r.window_minimal);
		}
		verdicts[want]++;
		ballot_check_result_free(&r);
		ballot_history_free(h);
	}
	print_message("verdicts: %d not linearizable, %d linearizable\n", verdicts[0], verdicts[1]);
	/* Both answers were exercised often. */
	assert_true(verdicts[0] > 1000);
	assert_true(verdicts[1] > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_history_is_linearizable),
		cmocka_unit_test(sequential_write_then_read_is_linearizable),
		cmocka_unit_test(stale_read_after_a_completed_write_is_a_violation),
		cmocka_unit_test(read_of_a_never_written_value_fails_from_the_start),
		cmocka_unit_test(concurrent_write_and_read_may_go_either_way),
		cmocka_unit_test(read_cannot_see_a_write_invoked_after_it_returned),
		cmocka_unit_test(lost_update_two_cas_from_the_same_value_both_ok),
		cmocka_unit_test(one_of_two_concurrent_cas_from_the_same_value_may_fail),
		cmocka_unit_test(failed_cas_needs_the_value_to_differ),
		cmocka_unit_test(cas_ok_needs_the_expected_value),
		cmocka_unit_test(info_write_may_take_effect_much_later),
		cmocka_unit_test(info_write_may_never_take_effect),
		cmocka_unit_test(info_write_takes_effect_once),
		cmocka_unit_test(info_write_cannot_take_effect_before_its_invoke),
		cmocka_unit_test(never_completed_invoke_counts_as_info),
		cmocka_unit_test(failed_write_did_not_happen),
		cmocka_unit_test(info_cas_takes_effect_only_on_its_expected_value),
		cmocka_unit_test(many_identical_info_increments_are_decided_quickly),
		cmocka_unit_test(many_unread_info_writes_are_decided_quickly),
		cmocka_unit_test(incr_sequence_counts_from_an_absent_key),
		cmocka_unit_test(duplicate_incr_results_are_a_violation),
		cmocka_unit_test(concurrent_incr_results_in_either_order),
		cmocka_unit_test(incr_cannot_succeed_on_a_non_integer),
		cmocka_unit_test(incr_cannot_overflow),
		cmocka_unit_test(info_incr_may_count_or_not),
		cmocka_unit_test(append_keeps_the_order_of_sequential_appends),
		cmocka_unit_test(concurrent_appends_in_either_order),
		cmocka_unit_test(values_are_strings_as_in_redis),
		cmocka_unit_test(append_builds_values_a_write_can_match),
		cmocka_unit_test(write_null_deletes_the_key),
		cmocka_unit_test(empty_string_is_not_absent),
		cmocka_unit_test(keys_are_checked_independently),
		cmocka_unit_test(window_is_small_in_a_long_history),
		cmocka_unit_test(register_history_with_info_ops_is_linearizable),
		cmocka_unit_test(stale_read_among_many_info_ops_is_found_in_a_small_window),
		cmocka_unit_test(steps_bound_gives_unknown_not_a_guess),
		cmocka_unit_test(memory_bound_gives_unknown),
		cmocka_unit_test(time_bound_reads_the_given_clock),
		cmocka_unit_test(unknown_on_one_key_does_not_hide_a_violation_on_another),
		cmocka_unit_test(limits_out_of_range_are_refused),
		cmocka_unit_test(same_history_same_result_and_steps),
		cmocka_unit_test(search_agrees_with_brute_force_on_random_histories),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
