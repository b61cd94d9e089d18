/* fuzz_numbers: libFuzzer target for the numeric output parser and the numeric voters.
 *
 * `ballot vote --numeric` parses the output of programs it does not trust, so any bytes
 * are valid input. For each input this target:
 *  1. parses it with ballot_numbers_parse under a large bound (BALLOT_VOTE_FIELDS_MAX) and
 *     a small one (3), and checks the parser's contract (ballot/vote.h): on success every
 *     number is finite, tokens are maximal runs of non-whitespace, in order, inside the
 *     input, cover every non-whitespace byte, and each token parsed alone (and by strtod)
 *     gives the same value; on failure the code is BALLOT_EINVAL or BALLOT_ELIMIT and the
 *     message is a NUL-terminated, non-empty string; the bound changes only where a parse
 *     stops. Reads past the input are caught by AddressSanitizer (libFuzzer hands the
 *     target a heap copy of exactly `size` bytes).
 *  2. votes over the first BALLOT_VOTE_MODULES_MAX numbers (a token starting with '+'
 *     stands for a failed module, so the fuzzer controls failures too) with median,
 *     mid-value, majority and plurality, at epsilon 0, 0.5 and |last number|, and checks
 *     the result: verdicts agree with the outputs, support_count equals the AGREED
 *     verdicts, a median lies within the answers, agreeing answers are within epsilon of
 *     the winner and dissenting ones are not.
 * A broken check prints the line and the condition, then abort()s, so libFuzzer saves the
 * input. Two checks hold ballot to what vote.h documents and the code does not yet do
 * (see fuzz/README.md); FUZZ_NUMBERS_ALLOW=spread,median-range skips them by name, to fuzz
 * on past a reported bug. By default every check is on. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/vote.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_MAX 3

#define CHECK(cond) ((cond) ? (void)0 : check_failed(#cond, __LINE__))

static _Noreturn void check_failed(const char *what, int line)
{
	fprintf(stderr, "fuzz_numbers.c:%d: check failed: %s\n", line, what);
	abort();
}

/* Documented contracts the code is known to break; skipped only when asked by name. */
static bool allow_spread;       /* vote.h: "every pair in [the agreeing group] is within epsilon" */
static bool allow_median_range; /* a median or mid-value lies between the lowest and highest answer */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *allow = getenv("FUZZ_NUMBERS_ALLOW");
	if (allow != NULL) {
		allow_spread = strstr(allow, "spread") != NULL;
		allow_median_range = strstr(allow, "median-range") != NULL;
	}
	return 0;
}

/* The parser's whitespace (C locale isspace). */
static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- the parser ---------------------------------------------------------------------- */

static ballot_number large[BALLOT_VOTE_FIELDS_MAX];
static ballot_number small[SMALL_MAX];

static void check_failure(int rc, const ballot_errmsg *em)
{
	CHECK(rc == BALLOT_EINVAL || rc == BALLOT_ELIMIT);
	const char *nul = memchr(em->text, '\0', sizeof em->text);
	CHECK(nul != NULL);
	CHECK(nul != em->text);
}

/* One token: inside the input, no whitespace, and the same value when parsed alone. */
static void check_token(const uint8_t *data, size_t size, const ballot_number *num)
{
	CHECK(isfinite(num->value));
	CHECK(num->len >= 1);
	CHECK(num->len <= BALLOT_VOTE_NUMBER_CHARS_MAX);
	CHECK(num->offset < size);
	CHECK(num->len <= size - num->offset);
	const uint8_t *tok = data + num->offset;
	for (size_t i = 0; i < num->len; i++)
		CHECK(!is_space(tok[i]));

	ballot_number again;
	size_t count = 0;
	ballot_errmsg em;
	CHECK(ballot_numbers_parse(tok, num->len, &again, 1, &count, &em) == 0);
	CHECK(count == 1);
	CHECK(again.offset == 0);
	CHECK(again.len == num->len);
	CHECK(same_double(again.value, num->value));

	char text[BALLOT_VOTE_NUMBER_CHARS_MAX + 1];
	memcpy(text, tok, num->len);
	text[num->len] = '\0';
	char *end = NULL;
	double v = strtod(text, &end);
	CHECK(end == text + num->len);
	CHECK(same_double(v, num->value));
}

/* A successful parse: tokens in order, separated and surrounded by whitespace only. */
static void check_success(const uint8_t *data, size_t size, const ballot_number *nums, size_t count,
			  size_t max)
{
	CHECK(count <= max);
	size_t covered = 0; /* bytes before this are a token or whitespace, checked */
	for (size_t i = 0; i < count; i++) {
		check_token(data, size, &nums[i]);
		if (i > 0) {
			CHECK(nums[i].offset > nums[i - 1].offset);
			CHECK(nums[i].offset > covered); /* at least one whitespace byte between */
		}
		CHECK(nums[i].offset >= covered);
		for (size_t j = covered; j < nums[i].offset; j++)
			CHECK(is_space(data[j]));
		covered = nums[i].offset + nums[i].len;
	}
	for (size_t j = covered; j < size; j++)
		CHECK(is_space(data[j]));
}

static int parse_checked(const uint8_t *data, size_t size, ballot_number *out, size_t max, size_t *count)
{
	ballot_errmsg em;
	memset(&em, 0xAA, sizeof em); /* no NUL unless the parser writes one */
	*count = 0;
	int rc = ballot_numbers_parse(data, size, out, max, count, &em);
	if (rc == 0)
		check_success(data, size, out, *count, max);
	else
		check_failure(rc, &em);
	return rc;
}

/* ---- the voters ---------------------------------------------------------------------- */

static bool is_failed(const ballot_output *o)
{
	return o->kind == BALLOT_OUTPUT_FAILED;
}

static void check_by_value(const ballot_vote_result *r, const ballot_output *out, size_t n, double eps)
{
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (is_failed(&out[i]))
			continue;
		lo = fmin(lo, out[i].number);
		hi = fmax(hi, out[i].number);
	}
	if (!allow_median_range) {
		CHECK(r->winner_number >= lo);
		CHECK(r->winner_number <= hi);
	}
	for (size_t i = 0; i < n; i++) {
		if (is_failed(&out[i]))
			continue;
		bool near = fabs(out[i].number - r->winner_number) <= eps;
		CHECK(near == (r->verdicts[i] == BALLOT_VERDICT_AGREED));
	}
	if (r->winner_index >= 0) {
		CHECK((size_t)r->winner_index < n);
		CHECK(!is_failed(&out[r->winner_index]));
		CHECK(out[r->winner_index].number == r->winner_number);
	}
}

static void check_by_groups(const ballot_vote_result *r, const ballot_output *out, size_t n, double eps,
			    ballot_policy policy)
{
	CHECK(r->winner_index >= 0);
	CHECK((size_t)r->winner_index < n);
	CHECK(r->verdicts[r->winner_index] == BALLOT_VERDICT_AGREED);
	CHECK(same_double(out[r->winner_index].number, r->winner_number));
	if (policy == BALLOT_POLICY_MAJORITY)
		CHECK(2 * r->support_count > n);
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (is_failed(&out[i]))
			continue;
		/* The agreeing group is a run of spread <= eps holding the winner (vote.h), so
		 * every agreeing answer is near the winner; a dissenter may be near it too, when
		 * it lies outside the tighter run that won. */
		bool near = fabs(out[i].number - r->winner_number) <= eps;
		if (r->verdicts[i] == BALLOT_VERDICT_AGREED)
			CHECK(near);
		if (r->verdicts[i] == BALLOT_VERDICT_AGREED) {
			lo = fmin(lo, out[i].number);
			hi = fmax(hi, out[i].number);
		}
	}
	if (!allow_spread)
		CHECK(hi - lo <= eps);
}

static void vote_checked(const ballot_output *out, size_t n, ballot_policy policy, double eps)
{
	ballot_vote_config config = {.policy = policy, .epsilon = eps};
	ballot_vote_result r;
	ballot_errmsg em;
	CHECK(ballot_vote(&config, out, n, NULL, &r, &em) == 0);
	CHECK(r.n == n);
	CHECK(r.electorate == n);
	CHECK(r.total_weight == (double)n);
	CHECK(r.has_winner == (r.reason == BALLOT_WINNER));
	unsigned answered = 0, agreed = 0;
	for (size_t i = 0; i < n; i++) {
		ballot_verdict v = r.verdicts[i];
		agreed += v == BALLOT_VERDICT_AGREED;
		if (is_failed(&out[i])) {
			CHECK(v == BALLOT_VERDICT_FAILED);
			continue;
		}
		answered++;
		if (r.has_winner)
			CHECK(v == BALLOT_VERDICT_AGREED || v == BALLOT_VERDICT_DISSENTED);
		else
			CHECK(v == BALLOT_VERDICT_UNDECIDED);
	}
	CHECK(r.answered == answered);
	CHECK(r.support_count == agreed);
	CHECK(r.support_weight == (double)agreed);
	if (answered == 0) {
		CHECK(r.reason == BALLOT_NO_ALL_FAILED);
		return;
	}
	if (ballot_policy_is_numeric(policy))
		CHECK(r.has_winner == (2 * answered > n));
	if (!r.has_winner)
		return;
	CHECK(isfinite(r.winner_number));
	if (ballot_policy_is_numeric(policy))
		check_by_value(&r, out, n, eps);
	else
		check_by_groups(&r, out, n, eps, policy);
}

static void vote_numbers(const uint8_t *data, const ballot_number *nums, size_t count)
{
	size_t n = count < BALLOT_VOTE_MODULES_MAX ? count : BALLOT_VOTE_MODULES_MAX;
	ballot_output out[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < n; i++) {
		bool failed = data[nums[i].offset] == '+';
		out[i] = failed ? ballot_output_failed() : ballot_output_number(nums[i].value);
	}
	static const ballot_policy policies[] = {BALLOT_POLICY_MEDIAN, BALLOT_POLICY_MID_VALUE,
						 BALLOT_POLICY_MAJORITY, BALLOT_POLICY_PLURALITY};
	const double epsilons[] = {0, 0.5, fabs(nums[count - 1].value)};
	for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
		for (size_t e = 0; e < sizeof epsilons / sizeof epsilons[0]; e++)
			vote_checked(out, n, policies[p], epsilons[e]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t count = 0, small_count = 0;
	int rc = parse_checked(data, size, large, BALLOT_VOTE_FIELDS_MAX, &count);
	int rc_small = parse_checked(data, size, small, SMALL_MAX, &small_count);

	/* The bound only decides where a parse stops. */
	if (rc != 0) {
		CHECK(rc_small != 0);
	} else if (count <= SMALL_MAX) {
		CHECK(rc_small == 0);
		CHECK(small_count == count);
		for (size_t i = 0; i < count; i++) {
			CHECK(small[i].offset == large[i].offset);
			CHECK(small[i].len == large[i].len);
			CHECK(same_double(small[i].value, large[i].value));
		}
	} else {
		CHECK(rc_small == BALLOT_ELIMIT);
	}

	if (rc == 0 && count > 0)
		vote_numbers(data, large, count);
	return 0;
}
