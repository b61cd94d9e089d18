/* Unit tests of the numeric output parser (ballot_numbers_parse in ballot/vote.h): it reads
 * untrusted program output, so it must take exactly what strtod takes as a finite number,
 * read exactly len bytes, and refuse the rest with a message. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/vote.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX 16

#define FAIL_AT(file, line, fmt, ...)                                            \
	do {                                                                     \
		print_error("ERROR: " fmt "\n", ##__VA_ARGS__);                  \
		_fail((file), (line));                                           \
	} while (0)

/* Parses len bytes of text, asserting success; returns the count. */
static size_t parse_ok_(const void *text, size_t len, ballot_number *out, size_t max, const char *file,
			int line)
{
	ballot_errmsg em = {{0}};
	size_t count = 12345;
	int rc = ballot_numbers_parse(text, len, out, max, &count, &em);
	if (rc != 0)
		FAIL_AT(file, line, "parse returned %d: %s", rc, em.text);
	if (em.text[0] != '\0')
		FAIL_AT(file, line, "parse succeeded but wrote a message: %s", em.text);
	return count;
}
#define parse_ok(t, len, out, max) parse_ok_((t), (len), (out), (max), __FILE__, __LINE__)

/* Parses, asserting the error code and a message; returns the message. */
static ballot_errmsg parse_fails_(const void *text, size_t len, size_t max, int code, const char *file,
				  int line)
{
	ballot_errmsg em = {{0}};
	ballot_number out[MAX];
	size_t count = 0;
	int rc = ballot_numbers_parse(text, len, out, max, &count, &em);
	if (rc != code)
		FAIL_AT(file, line, "parse of %zu bytes returned %d, expected %d (%s)", len, rc, code,
			em.text);
	if (em.text[0] == '\0')
		FAIL_AT(file, line, "error %d with an empty message", rc);
	return em;
}
#define parse_fails(t, len, max, code) parse_fails_((t), (len), (max), (code), __FILE__, __LINE__)

static void expect_number_(const ballot_number *n, double value, size_t offset, size_t len,
			   const char *file, int line)
{
	if (!(n->value == value) || n->offset != offset || n->len != len)
		FAIL_AT(file, line, "number %.17g at %zu len %zu, expected %.17g at %zu len %zu", n->value,
			n->offset, n->len, value, offset, len);
}
#define expect_number(n, v, off, len) expect_number_((n), (v), (off), (len), __FILE__, __LINE__)

static void parse_reads_values_offsets_and_lengths(void **state)
{
	(void)state;
	const char *t = "1 2.5 -3e2\n";
	ballot_number out[MAX];
	assert_int_equal(parse_ok(t, strlen(t), out, MAX), 3);
	expect_number(&out[0], 1.0, 0, 1);
	expect_number(&out[1], 2.5, 2, 3);
	expect_number(&out[2], -300.0, 6, 4);
}

static void parse_skips_leading_and_trailing_whitespace(void **state)
{
	(void)state;
	const char *t = " \t\r\n7\v\f 8  \n\n";
	ballot_number out[MAX];
	assert_int_equal(parse_ok(t, strlen(t), out, MAX), 2);
	expect_number(&out[0], 7.0, 4, 1);
	expect_number(&out[1], 8.0, 8, 1);
}

static void parse_of_empty_or_blank_input_finds_no_numbers(void **state)
{
	(void)state;
	ballot_number out[MAX];
	assert_int_equal(parse_ok("", 0, out, MAX), 0);
	assert_int_equal(parse_ok(NULL, 0, out, MAX), 0);
	assert_int_equal(parse_ok(" \n\t ", 4, out, MAX), 0);
	assert_int_equal(parse_ok("", 0, NULL, 0), 0);
}

static void parse_accepts_what_strtod_reads_as_finite(void **state)
{
	(void)state;
	const char *t = "42 -1.5e3 0x1p3 +7 .5 1e308 -0";
	ballot_number out[MAX];
	assert_int_equal(parse_ok(t, strlen(t), out, MAX), 7);
	expect_number(&out[0], 42.0, 0, 2);
	expect_number(&out[1], -1500.0, 3, 6);
	expect_number(&out[2], 8.0, 10, 5);
	expect_number(&out[3], 7.0, 16, 2);
	expect_number(&out[4], 0.5, 19, 2);
	expect_number(&out[5], 1e308, 22, 5);
	expect_number(&out[6], 0.0, 28, 2);
	assert_true(signbit(out[6].value));
}

/* A program that prints a double with "%.17g" must have it read back. */
static void parse_reads_back_every_printed_double(void **state)
{
	(void)state;
	const double values[] = {DBL_MAX, -DBL_MAX, DBL_MIN, 0.1, 1.0 / 3, DBL_TRUE_MIN,
				 DBL_MIN / 4};
	for (size_t i = 0; i < COUNT_OF(values); i++) {
		char t[64];
		int len = snprintf(t, sizeof t, "%.17g", values[i]);
		assert_true(len > 0 && (size_t)len < sizeof t);
		ballot_number out[1];
		ballot_errmsg em = {{0}};
		size_t count = 0;
		int rc = ballot_numbers_parse(t, (size_t)len, out, 1, &count, &em);
		if (rc != 0)
			fail_msg("\"%s\" (%a) refused: %d %s", t, values[i], rc, em.text);
		assert_int_equal(count, 1);
		expect_number(&out[0], values[i], 0, (size_t)len);
	}
}

static void parse_rejects_tokens_that_are_not_finite_numbers(void **state)
{
	(void)state;
	const char *bad[] = {"1,5", "abc", "nan", "NaN", "inf", "-inf", "infinity", "1e999",
			     "-1e999", "1.5x", "--1", "0x", "e5", "1e"};
	for (size_t i = 0; i < COUNT_OF(bad); i++) {
		ballot_errmsg em = parse_fails(bad[i], strlen(bad[i]), MAX, BALLOT_EINVAL);
		/* The message quotes the token. */
		if (strstr(em.text, bad[i]) == NULL)
			fail_msg("message for \"%s\" does not quote it: %s", bad[i], em.text);
	}
}

static void parse_error_gives_the_offset_of_the_bad_token(void **state)
{
	(void)state;
	const char *t = "1 2 abc 4";
	ballot_errmsg em = parse_fails(t, strlen(t), MAX, BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "'abc'"));
	if (strstr(em.text, "byte 4") == NULL)
		fail_msg("message does not give offset 4: %s", em.text);
}

static void parse_rejects_an_embedded_nul(void **state)
{
	(void)state;
	const char t[] = {'1', '\0', '2', '\n'};
	ballot_errmsg em = parse_fails(t, sizeof t, MAX, BALLOT_EINVAL);
	/* The message stays printable: the NUL is not quoted raw. */
	assert_true(strlen(em.text) > 3);

	const char lone[] = {'5', ' ', '\0'};
	parse_fails(lone, sizeof lone, MAX, BALLOT_EINVAL);
}

static void parse_rejects_non_ascii_bytes_with_a_printable_message(void **state)
{
	(void)state;
	const char t[] = "1 \xff\x01z";
	ballot_errmsg em = parse_fails(t, strlen(t), MAX, BALLOT_EINVAL);
	for (const char *c = em.text; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;
		if (u < 0x20 || u > 0x7e)
			fail_msg("unprintable byte 0x%02x in message: %s", u, em.text);
	}
}

static void parse_limits_the_length_of_a_token(void **state)
{
	(void)state;
	char t[BALLOT_VOTE_NUMBER_CHARS_MAX + 2];
	/* Exactly the limit: "1" and zeros is a fine number. */
	memset(t, '0', sizeof t);
	t[0] = '1';
	ballot_number out[1];
	assert_int_equal(parse_ok(t, BALLOT_VOTE_NUMBER_CHARS_MAX, out, 1), 1);
	expect_number(&out[0], 1e63, 0, BALLOT_VOTE_NUMBER_CHARS_MAX);
	/* One more character is refused by the limit, not as a bad number. */
	parse_fails(t, BALLOT_VOTE_NUMBER_CHARS_MAX + 1, 1, BALLOT_ELIMIT);

	/* A long token after good ones. */
	char u[BALLOT_VOTE_NUMBER_CHARS_MAX + 8];
	memcpy(u, "1 2 ", 4);
	memset(u + 4, '7', sizeof u - 4);
	parse_fails(u, sizeof u, MAX, BALLOT_ELIMIT);
}

static void parse_limits_the_count_of_numbers(void **state)
{
	(void)state;
	const char *t = "1 2 3 4";
	ballot_number out[4];
	assert_int_equal(parse_ok(t, strlen(t), out, 4), 4);
	expect_number(&out[3], 4.0, 6, 1);
	parse_fails(t, strlen(t), 3, BALLOT_ELIMIT);
	parse_fails(t, strlen(t), 0, BALLOT_ELIMIT);
	/* Trailing blanks are no number. */
	assert_int_equal(parse_ok("1 2 3 4 \n", 9, out, 4), 4);
}

static void parse_reads_only_len_bytes(void **state)
{
	(void)state;
	const char buf[] = "12345 6";
	ballot_number out[MAX];
	assert_int_equal(parse_ok(buf, 2, out, MAX), 1);
	expect_number(&out[0], 12.0, 0, 2);
	assert_int_equal(parse_ok(buf, 6, out, MAX), 1);
	expect_number(&out[0], 12345.0, 0, 5);

	/* A heap buffer of exactly len bytes, no terminator: a read past it is an ASan error. */
	char *exact = malloc(3);
	assert_non_null(exact);
	memcpy(exact, "7 8", 3);
	assert_int_equal(parse_ok(exact, 3, out, MAX), 2);
	expect_number(&out[0], 7.0, 0, 1);
	expect_number(&out[1], 8.0, 2, 1);
	free(exact);

	/* A bad token cut short by len: only its first len bytes count. */
	assert_int_equal(parse_ok("3.5abc", 3, out, MAX), 1);
	expect_number(&out[0], 3.5, 0, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_reads_values_offsets_and_lengths),
		cmocka_unit_test(parse_skips_leading_and_trailing_whitespace),
		cmocka_unit_test(parse_of_empty_or_blank_input_finds_no_numbers),
		cmocka_unit_test(parse_accepts_what_strtod_reads_as_finite),
		cmocka_unit_test(parse_reads_back_every_printed_double),
		cmocka_unit_test(parse_rejects_tokens_that_are_not_finite_numbers),
		cmocka_unit_test(parse_error_gives_the_offset_of_the_bad_token),
		cmocka_unit_test(parse_rejects_an_embedded_nul),
		cmocka_unit_test(parse_rejects_non_ascii_bytes_with_a_printable_message),
		cmocka_unit_test(parse_limits_the_length_of_a_token),
		cmocka_unit_test(parse_limits_the_count_of_numbers),
		cmocka_unit_test(parse_reads_only_len_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
