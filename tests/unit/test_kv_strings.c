/* Unit tests of the Redis 7 string and keyspace commands beyond the first set: GETDEL,
 * UNLINK, MSETNX, GETRANGE/SUBSTR, SETRANGE, INCRBYFLOAT, RENAME/RENAMENX, RANDOMKEY, and
 * the expiry commands a store whose keys never expire answers. Every expected reply is the
 * one redis-server 7.0 gives (tests/system/kv_vs_redis.sh compares the two live). */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/kv.h"
#include "ballot/limits.h"
#include "common/buf.h"

#include "kv_harness.h"

/* Applies a three-word command whose last word may be empty or hold any bytes. */
static const char *run3(ballot_kv *kv, const char *name, const char *key, const char *arg, size_t arg_len)
{
	const char *argv[] = {name, key, arg};
	size_t lens[] = {strlen(name), strlen(key), arg_len};
	return apply_argv(kv, 3, argv, lens);
}

/* --- GETDEL, UNLINK, MSETNX ------------------------------------------------------------- */

static void getdel_answers_the_value_and_deletes_the_key(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	assert_string_equal(run(kv, "GETDEL k"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "EXISTS k"), ":0\r\n");
	assert_string_equal(run(kv, "GETDEL k"), "$-1\r\n");
	assert_string_equal(run3(kv, "SET", "e", "", 0), "+OK\r\n");
	assert_string_equal(run(kv, "GETDEL e"), "$0\r\n\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
	assert_string_equal(run(kv, "GETDEL a b"), "-ERR wrong number of arguments for 'getdel' command\r\n");
}

static void unlink_deletes_like_del(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET a 1 b 2");
	assert_string_equal(run(kv, "UNLINK a b c a"), ":2\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
	assert_string_equal(run(kv, "UNLINK"), "-ERR wrong number of arguments for 'unlink' command\r\n");
}

static void msetnx_sets_all_or_nothing(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "MSETNX a 1 b 2"), ":1\r\n");
	assert_string_equal(run(kv, "MGET a b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
	/* One existing key stops the whole command. */
	assert_string_equal(run(kv, "MSETNX c 3 b 9"), ":0\r\n");
	assert_string_equal(run(kv, "EXISTS c"), ":0\r\n");
	assert_string_equal(run(kv, "GET b"), "$1\r\n2\r\n");
	/* A key named twice, absent before: set, to its last value. */
	assert_string_equal(run(kv, "MSETNX x 1 x 2"), ":1\r\n");
	assert_string_equal(run(kv, "GET x"), "$1\r\n2\r\n");
	assert_string_equal(run(kv, "MSETNX y 1 z"), "-ERR wrong number of arguments for 'msetnx' command\r\n");
	assert_string_equal(run(kv, "MSETNX y"), "-ERR wrong number of arguments for 'msetnx' command\r\n");
	assert_string_equal(run(kv, "EXISTS y z"), ":0\r\n");
}

/* --- GETRANGE, SUBSTR, SETRANGE ---------------------------------------------------------- */

static void getrange_counts_negative_indexes_from_the_end(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k This_is_a_string");
	assert_string_equal(run(kv, "GETRANGE k 0 3"), "$4\r\nThis\r\n");
	assert_string_equal(run(kv, "GETRANGE k -3 -1"), "$3\r\ning\r\n");
	assert_string_equal(run(kv, "GETRANGE k 0 -1"), "$16\r\nThis_is_a_string\r\n");
	assert_string_equal(run(kv, "GETRANGE k 10 100"), "$6\r\nstring\r\n");
	assert_string_equal(run(kv, "GETRANGE k 0 4294967297"), "$16\r\nThis_is_a_string\r\n");
	assert_string_equal(run(kv, "SUBSTR k 5 6"), "$2\r\nis\r\n");
}

static void getrange_clamps_exactly_as_redis_7_0(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k hello");
	/* Both negative with start past end: empty, before any clamping. */
	assert_string_equal(run(kv, "GETRANGE k -1 -5"), "$0\r\n\r\n");
	assert_string_equal(run(kv, "GETRANGE k -100 -200"), "$0\r\n\r\n"); /* not the first byte */
	assert_string_equal(run(kv, "GETRANGE k 3 1"), "$0\r\n\r\n");
	assert_string_equal(run(kv, "GETRANGE k -100 1"), "$2\r\nhe\r\n");
	/* An end before the start of the string clamps to 0: the first byte (Redis 7.0). */
	assert_string_equal(run(kv, "GETRANGE k 0 -100"), "$1\r\nh\r\n");
	assert_string_equal(run(kv, "GETRANGE k 5 10"), "$0\r\n\r\n");
	assert_string_equal(run(kv, "GETRANGE k 4 4"), "$1\r\no\r\n");
	assert_string_equal(run(kv, "GETRANGE k -9223372036854775808 9223372036854775807"), "$5\r\nhello\r\n");
	assert_string_equal(run(kv, "GETRANGE k 9223372036854775807 -9223372036854775808"), "$0\r\n\r\n");
	/* A missing key or an empty value: an empty string, not null. */
	assert_string_equal(run(kv, "GETRANGE nothing 0 -1"), "$0\r\n\r\n");
	assert_string_equal(run3(kv, "SET", "e", "", 0), "+OK\r\n");
	assert_string_equal(run(kv, "GETRANGE e 0 -1"), "$0\r\n\r\n");
}

static void getrange_errors_match_redis(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k hello");
	assert_string_equal(run(kv, "GETRANGE k a 1"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "GETRANGE k 0 1.5"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "GETRANGE nothing 0 x"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "GETRANGE k 0 9223372036854775808"),
			    "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "GETRANGE k 0"), "-ERR wrong number of arguments for 'getrange' command\r\n");
	assert_string_equal(run(kv, "SUBSTR k 0"), "-ERR wrong number of arguments for 'substr' command\r\n");
}

static void getrange_is_served_outside_the_log(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k hello");
	assert_true(ballot_kv_is_readonly("getrange", 8));
	assert_true(ballot_kv_is_readonly("SUBSTR", 6));
	assert_false(ballot_kv_is_readonly("SETRANGE", 8));
	assert_string_equal(query(kv, "GETRANGE k 1 2"), "$2\r\nel\r\n");
	assert_string_equal(query(kv, "SETRANGE k 0 x"),
			    "-ERR command 'setrange' is not read-only: it must go through the replicated log\r\n");
	assert_string_equal(run(kv, "GET k"), "$5\r\nhello\r\n");
}

static void setrange_overwrites_and_pads_with_zero_bytes(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k Hello_World");
	assert_string_equal(run(kv, "SETRANGE k 6 Redis"), ":11\r\n");
	assert_string_equal(run(kv, "GET k"), "$11\r\nHello_Redis\r\n");
	assert_string_equal(run(kv, "SETRANGE k 9 dish!"), ":14\r\n");
	assert_string_equal(run(kv, "GET k"), "$14\r\nHello_Reddish!\r\n");
	assert_string_equal(run(kv, "SETRANGE fresh 3 ab"), ":5\r\n");
	run(kv, "GET fresh");
	assert_int_equal(reply.len, 4 + 5 + 2);
	assert_memory_equal(reply.data, "$5\r\n\0\0\0ab\r\n", reply.len);
	/* Growing an existing value zero-fills the gap too, even over bytes a shorter SET left. */
	run(kv, "SET g 123456");
	run(kv, "SET g 1");
	assert_string_equal(run(kv, "SETRANGE g 3 x"), ":4\r\n");
	run(kv, "GET g");
	assert_memory_equal(reply.data, "$4\r\n1\0\0x\r\n", 10);
}

static void setrange_with_an_empty_value_changes_nothing(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run3(kv, "SETRANGE", "missing", "", 0),
			    "-ERR wrong number of arguments for 'setrange' command\r\n");
	const char *argv[] = {"SETRANGE", "missing", "5", ""};
	size_t lens[] = {8, 7, 1, 0};
	assert_string_equal(apply_argv(kv, 4, argv, lens), ":0\r\n");
	assert_string_equal(run(kv, "EXISTS missing"), ":0\r\n");
	run(kv, "SET k abc");
	argv[1] = "k";
	lens[1] = 1;
	argv[2] = "100";
	lens[2] = 3;
	assert_string_equal(apply_argv(kv, 4, argv, lens), ":3\r\n");
	assert_string_equal(run(kv, "GET k"), "$3\r\nabc\r\n");
}

static void setrange_errors_match_redis(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k abc");
	assert_string_equal(run(kv, "SETRANGE k -1 x"), "-ERR offset is out of range\r\n");
	assert_string_equal(run(kv, "SETRANGE k x x"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "SETRANGE k 99999999999999999999 x"),
			    "-ERR value is not an integer or out of range\r\n");
	/* Redis's words for its 512 MB limit, at ballot's 16 MiB value limit; no wrap-around. */
	char line[64];
	snprintf(line, sizeof line, "SETRANGE big %u x", BALLOT_KV_VALUE_MAX_BYTES);
	assert_string_equal(run(kv, line), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	assert_string_equal(run(kv, "SETRANGE k 9223372036854775807 x"),
			    "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	assert_string_equal(run(kv, "EXISTS big"), ":0\r\n");
	assert_string_equal(run(kv, "GET k"), "$3\r\nabc\r\n");
	snprintf(line, sizeof line, "SETRANGE big %u x", BALLOT_KV_VALUE_MAX_BYTES - 1);
	char expect[32];
	snprintf(expect, sizeof expect, ":%u\r\n", BALLOT_KV_VALUE_MAX_BYTES);
	assert_string_equal(run(kv, line), expect);
	assert_string_equal(run(kv, "SETRANGE k 0"), "-ERR wrong number of arguments for 'setrange' command\r\n");
}

/* --- INCRBYFLOAT ------------------------------------------------------------------------ */

/* INCRBYFLOAT key increment with any bytes as the increment. */
static const char *incrbyfloat(ballot_kv *kv, const char *key, const char *incr, size_t len)
{
	return run3(kv, "INCRBYFLOAT", key, incr, len);
}

static void incrbyfloat_formats_the_sum_as_redis_does(void **state)
{
	ballot_kv *kv = *state;
	/* The cases of Redis's documentation and a few of its test suite's. */
	run(kv, "SET a 10.50");
	assert_string_equal(run(kv, "INCRBYFLOAT a 0.1"), "$4\r\n10.6\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT a -5"), "$3\r\n5.6\r\n");
	assert_string_equal(run(kv, "GET a"), "$3\r\n5.6\r\n");
	run(kv, "SET b 5.0e3");
	assert_string_equal(run(kv, "INCRBYFLOAT b 2.0e2"), "$4\r\n5200\r\n");
	run(kv, "SET c 3.0e3");
	assert_string_equal(run(kv, "INCRBYFLOAT c 0"), "$4\r\n3000\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT n 0.1"), "$3\r\n0.1\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT n 0.2"), "$3\r\n0.3\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT i 3"), "$1\r\n3\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT i -4"), "$2\r\n-1\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT x 1.23456789012345678901234"), "$19\r\n1.23456789012345679\r\n");
	/* Fixed-point, never an exponent. */
	assert_string_equal(run(kv, "INCRBYFLOAT big 1e20"), "$21\r\n100000000000000000000\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT j 123456789012345678901234567890"),
			    "$30\r\n123456789012345678899921813504\r\n");
	/* Under the 17th decimal: 0, never "-0"; at it, the digits show. */
	assert_string_equal(run(kv, "INCRBYFLOAT tiny -0.0000000000000000001"), "$1\r\n0\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT zero -0"), "$1\r\n0\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT small -6e-18"), "$20\r\n-0.00000000000000001\r\n");
	/* strtold's other forms: hexadecimal, a bare point, a denormal. */
	assert_string_equal(run(kv, "INCRBYFLOAT h 0x10"), "$2\r\n16\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT p 1."), "$1\r\n1\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT p .5"), "$3\r\n1.5\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT p +.5"), "$1\r\n2\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT d 1e-4940"), "$1\r\n0\r\n");
	/* The huge: every digit of 1e4000 as a long double (9.99...e3999). */
	run(kv, "INCRBYFLOAT huge 1e4000");
	assert_int_equal(reply.len, strlen("$4000\r\n") + 4000 + 2);
	assert_memory_equal(reply.data, "$4000\r\n99999999999999999999654638730996237849324925835069", 56);
}

static void incrbyfloat_refuses_what_redis_refuses(void **state)
{
	ballot_kv *kv = *state;
	const char *bad[] = {"abc", " 1", "1 ", "1.5abc", "1e", "nan", "NaN", "1e5000", "1e-5000", "", "-"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_string_equal(incrbyfloat(kv, "k", bad[i], strlen(bad[i])), "-ERR value is not a valid float\r\n");
	/* A NUL byte anywhere. */
	assert_string_equal(incrbyfloat(kv, "k", "1\0x", 3), "-ERR value is not a valid float\r\n");
	assert_string_equal(incrbyfloat(kv, "k", "\0", 1), "-ERR value is not a valid float\r\n");
	/* Texts of 5 KiB or more are no numbers, even "0000...1". */
	char digits[5 * 1024];
	memset(digits, '0', sizeof digits);
	digits[sizeof digits - 1] = '1';
	assert_string_equal(incrbyfloat(kv, "k", digits, sizeof digits), "-ERR value is not a valid float\r\n");
	assert_string_equal(incrbyfloat(kv, "k", digits + 1, sizeof digits - 1), "$1\r\n1\r\n");
	/* The stored value is read the same way. */
	run(kv, "SET s hello");
	assert_string_equal(run(kv, "INCRBYFLOAT s 1"), "-ERR value is not a valid float\r\n");
	assert_string_equal(run(kv, "GET s"), "$5\r\nhello\r\n");
	assert_string_equal(run(kv, "INCRBYFLOAT k"), "-ERR wrong number of arguments for 'incrbyfloat' command\r\n");
}

static void incrbyfloat_refuses_an_infinite_sum(void **state)
{
	ballot_kv *kv = *state;
	const char *words = "-ERR increment would produce NaN or Infinity\r\n";
	assert_string_equal(run(kv, "INCRBYFLOAT k inf"), words);
	assert_string_equal(run(kv, "INCRBYFLOAT k -Infinity"), words);
	assert_string_equal(run(kv, "EXISTS k"), ":0\r\n");
	run(kv, "SET i inf");
	assert_string_equal(run(kv, "INCRBYFLOAT i 1"), words);
	assert_string_equal(run(kv, "INCRBYFLOAT i -inf"), words);
	assert_string_equal(run(kv, "GET i"), "$3\r\ninf\r\n");
	/* Overflow of the long double sum: -1e4932 is near -LDBL_MAX (all 4933 digits shown,
	 * compared whole with redis-server by tests/system/kv_vs_redis.sh). */
	run(kv, "INCRBYFLOAT m -1e4932");
	assert_int_equal(reply.len, strlen("$4934\r\n") + 4934 + 2);
	assert_memory_equal(reply.data, "$4934\r\n-1000000000000000000006018949387963891323837774254533", 56);
	assert_memory_equal(reply.data + reply.len - 11, "886622720\r\n", 11);
	assert_string_equal(run(kv, "INCRBYFLOAT m -1e4932"), words);
	assert_int_equal(ballot_kv_count(kv), 2);
}

/* A program embedding ballot may set a locale whose decimal point is a comma; replicas and
 * Redis still read and write a point. Skipped where no such locale is installed (one can
 * be made: localedef -i de_DE -f UTF-8 DIR/de_DE.UTF-8, then run with LOCPATH=DIR). */
static void incrbyfloat_ignores_the_program_locale(void **state)
{
	ballot_kv *kv = *state;
	const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
	const char *set = NULL;
	for (size_t i = 0; set == NULL && i < sizeof names / sizeof names[0]; i++)
		set = setlocale(LC_NUMERIC, names[i]);
	if (set == NULL)
		skip();
	run(kv, "SET a 10.5");
	const char *sum = run(kv, "INCRBYFLOAT a 0.1");
	char got[64];
	snprintf(got, sizeof got, "%s", sum);
	const char *comma = run(kv, "INCRBYFLOAT a 1,5");
	char got_comma[64];
	snprintf(got_comma, sizeof got_comma, "%s", comma);
	setlocale(LC_NUMERIC, "C");
	assert_string_equal(got, "$4\r\n10.6\r\n");
	assert_string_equal(got_comma, "-ERR value is not a valid float\r\n");
}

/* --- RENAME, RENAMENX, RANDOMKEY --------------------------------------------------------- */

static void rename_moves_the_value_over_any_existing_key(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET a 1 b 2");
	assert_string_equal(run(kv, "RENAME a c"), "+OK\r\n");
	assert_string_equal(run(kv, "MGET a c"), "*2\r\n$-1\r\n$1\r\n1\r\n");
	assert_string_equal(run(kv, "RENAME c b"), "+OK\r\n");
	assert_string_equal(run(kv, "GET b"), "$1\r\n1\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":1\r\n");
	/* To itself: nothing changes; a missing key is an error even then. */
	assert_string_equal(run(kv, "RENAME b b"), "+OK\r\n");
	assert_string_equal(run(kv, "GET b"), "$1\r\n1\r\n");
	assert_string_equal(run(kv, "RENAME zz yy"), "-ERR no such key\r\n");
	assert_string_equal(run(kv, "RENAME zz zz"), "-ERR no such key\r\n");
	assert_string_equal(run(kv, "EXISTS yy zz"), ":0\r\n");
	assert_string_equal(run(kv, "RENAME b"), "-ERR wrong number of arguments for 'rename' command\r\n");
}

static void renamenx_never_overwrites(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET a 1 b 2");
	assert_string_equal(run(kv, "RENAMENX a b"), ":0\r\n");
	assert_string_equal(run(kv, "MGET a b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
	assert_string_equal(run(kv, "RENAMENX a c"), ":1\r\n");
	assert_string_equal(run(kv, "MGET a c"), "*2\r\n$-1\r\n$1\r\n1\r\n");
	assert_string_equal(run(kv, "RENAMENX c c"), ":0\r\n");
	assert_string_equal(run(kv, "RENAMENX zz c"), "-ERR no such key\r\n");
	assert_string_equal(run(kv, "RENAMENX zz zz"), "-ERR no such key\r\n");
}

static void rename_keeps_long_values_and_refuses_a_key_past_the_limit(void **state)
{
	ballot_kv *kv = *state;
	for (int i = 0; i < 100; i++)
		run(kv, "APPEND long 0123456789");
	/* Many renames, so the table grows and moves buckets under the moving entries. */
	char line[64];
	assert_string_equal(run(kv, "RENAME long long0"), "+OK\r\n");
	for (int i = 1; i < 2000; i++) {
		snprintf(line, sizeof line, "SET filler%d %d", i, i);
		run(kv, line);
		snprintf(line, sizeof line, "RENAME long%d long%d", i - 1, i);
		assert_string_equal(run(kv, line), "+OK\r\n");
	}
	assert_string_equal(run(kv, "STRLEN long1999"), ":1000\r\n");
	assert_string_equal(run(kv, "GETRANGE long1999 990 -1"), "$10\r\n0123456789\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":2000\r\n");
	char *key = malloc(BALLOT_KV_KEY_MAX_BYTES + 1);
	assert_non_null(key);
	memset(key, 'k', BALLOT_KV_KEY_MAX_BYTES + 1);
	const char *argv[] = {"RENAME", "long1999", key};
	size_t lens[] = {6, 8, BALLOT_KV_KEY_MAX_BYTES + 1};
	assert_string_equal(apply_argv(kv, 3, argv, lens),
			    "-ERR key of 65537 bytes is past ballot's limit of 65536 bytes\r\n");
	assert_string_equal(run(kv, "STRLEN long1999"), ":1000\r\n");
	free(key);
}

static void randomkey_is_one_key_every_replica_agrees_on(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "RANDOMKEY"), "$-1\r\n");
	run(kv, "SET only 1");
	assert_string_equal(run(kv, "RANDOMKEY"), "$4\r\nonly\r\n");
	/* The first key of a SCAN, whatever order the keys came in. */
	ballot_kv *other;
	assert_int_equal(ballot_kv_new(&other), 0);
	char line[64];
	for (int i = 0; i < 500; i++) {
		snprintf(line, sizeof line, "SET k%d v", i);
		run(kv, line);
		snprintf(line, sizeof line, "SET k%d v", 499 - i);
		run(other, line);
	}
	run(other, "SET only 1");
	char *first = strdup(run(kv, "RANDOMKEY"));
	assert_string_equal(run(other, "RANDOMKEY"), first);
	assert_string_equal(query(kv, "RANDOMKEY"), first);
	const char *scan = query(kv, "SCAN 0 COUNT 1");
	assert_non_null(strstr(scan, first));
	assert_string_equal(run(kv, "RANDOMKEY x"), "-ERR wrong number of arguments for 'randomkey' command\r\n");
	free(first);
	ballot_kv_free(other);
}

/* --- Expiry ---------------------------------------------------------------------------- */

static void ttl_is_minus_one_for_a_key_and_minus_two_for_none(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	const char *reads[] = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"};
	char line[64];
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
		snprintf(line, sizeof line, "%s k", reads[i]);
		assert_string_equal(run(kv, line), ":-1\r\n");
		assert_string_equal(query(kv, line), ":-1\r\n");
		snprintf(line, sizeof line, "%s missing", reads[i]);
		assert_string_equal(run(kv, line), ":-2\r\n");
		assert_true(ballot_kv_is_readonly(reads[i], strlen(reads[i])));
	}
	assert_string_equal(run(kv, "TTL"), "-ERR wrong number of arguments for 'ttl' command\r\n");
	assert_string_equal(run(kv, "PERSIST k"), ":0\r\n");
	assert_string_equal(run(kv, "PERSIST missing"), ":0\r\n");
	assert_string_equal(run(kv, "PERSIST"), "-ERR wrong number of arguments for 'persist' command\r\n");
}

static void expiring_commands_are_refused_after_their_arity_check(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	assert_string_equal(run(kv, "EXPIRE k 10"),
			    "-ERR keys do not expire in ballot: EXPIRE is not supported; keys live until deleted\r\n");
	assert_string_equal(run(kv, "pexpire k 10 NX"),
			    "-ERR keys do not expire in ballot: PEXPIRE is not supported; keys live until deleted\r\n");
	assert_string_equal(run(kv, "ExpireAt k 10"),
			    "-ERR keys do not expire in ballot: EXPIREAT is not supported; keys live until deleted\r\n");
	assert_string_equal(run(kv, "PEXPIREAT k x"),
			    "-ERR keys do not expire in ballot: PEXPIREAT is not supported; keys live until deleted\r\n");
	assert_string_equal(run(kv, "SETEX k 10 w"),
			    "-ERR keys do not expire in ballot: SETEX is not supported; use SET\r\n");
	assert_string_equal(run(kv, "psetex k 10 w"),
			    "-ERR keys do not expire in ballot: PSETEX is not supported; use SET\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "EXPIRE k"), "-ERR wrong number of arguments for 'expire' command\r\n");
	assert_string_equal(run(kv, "SETEX k 10"), "-ERR wrong number of arguments for 'setex' command\r\n");
	assert_string_equal(run(kv, "PSETEX k"), "-ERR wrong number of arguments for 'psetex' command\r\n");
}

static void getex_is_get_without_expiry_options(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	assert_string_equal(run(kv, "GETEX k"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "GETEX k PERSIST"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "GETEX missing persist"), "$-1\r\n");
	assert_string_equal(run(kv, "GETEX k EX 10"),
			    "-ERR keys do not expire in ballot: GETEX EX is not supported; use GET\r\n");
	assert_string_equal(run(kv, "GETEX k pxat 10"),
			    "-ERR keys do not expire in ballot: GETEX pxat is not supported; use GET\r\n");
	assert_string_equal(run(kv, "GETEX k EX 10 EX 20"),
			    "-ERR keys do not expire in ballot: GETEX EX is not supported; use GET\r\n");
	/* Redis's syntax errors: an unknown word, an expiry without its argument, two kinds. */
	const char *syntax[] = {"GETEX k bogus", "GETEX k EX", "GETEX k EX 10 PX 10", "GETEX k PERSIST EX 10",
				"GETEX k EX 10 PERSIST", "GETEX k PERSIST 10"};
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
		assert_string_equal(run(kv, syntax[i]), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "GETEX k PERSIST persist"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "GETEX"), "-ERR wrong number of arguments for 'getex' command\r\n");
}

/* Every command new here goes through a MULTI/EXEC batch like any other: checked when
 * queued, answered inside the array. */
static void new_commands_work_in_batches(void **state)
{
	ballot_kv *kv = *state;
	const char *lines[] = {"MSETNX a 1.5 b x", "INCRBYFLOAT a 1", "SETRANGE b 2 yz", "RENAME b c",
			       "GETRANGE c 0 -1", "GETDEL a", "TTL c", "UNLINK c"};
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	ballot_kv_batch batch;
	assert_int_equal(ballot_kv_batch_begin(&batch, &entry), 0);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		const char *argv[WORDS_MAX];
		size_t lens[WORDS_MAX];
		size_t argc = split(lines[i], argv, lens);
		ballot_buf_clear(&reply);
		assert_int_equal(ballot_kv_check(argc, argv, lens, &reply), 0);
		assert_int_equal(ballot_kv_batch_add(&batch, argc, argv, lens), 0);
	}
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_apply(kv, entry.data, entry.len, &reply), 0);
	ballot_buf_free(&entry);
	const char expect[] = "*8\r\n:1\r\n$3\r\n2.5\r\n:4\r\n+OK\r\n$4\r\nx\0yz\r\n$3\r\n2.5\r\n:-1\r\n:1\r\n";
	assert_int_equal(reply.len, sizeof expect - 1);
	assert_memory_equal(reply.data, expect, reply.len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(getdel_answers_the_value_and_deletes_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(unlink_deletes_like_del, setup, teardown),
		cmocka_unit_test_setup_teardown(msetnx_sets_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(getrange_counts_negative_indexes_from_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(getrange_clamps_exactly_as_redis_7_0, setup, teardown),
		cmocka_unit_test_setup_teardown(getrange_errors_match_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(getrange_is_served_outside_the_log, setup, teardown),
		cmocka_unit_test_setup_teardown(setrange_overwrites_and_pads_with_zero_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(setrange_with_an_empty_value_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(setrange_errors_match_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(incrbyfloat_formats_the_sum_as_redis_does, setup, teardown),
		cmocka_unit_test_setup_teardown(incrbyfloat_refuses_what_redis_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(incrbyfloat_refuses_an_infinite_sum, setup, teardown),
		cmocka_unit_test_setup_teardown(incrbyfloat_ignores_the_program_locale, setup, teardown),
		cmocka_unit_test_setup_teardown(rename_moves_the_value_over_any_existing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(renamenx_never_overwrites, setup, teardown),
		cmocka_unit_test_setup_teardown(rename_keeps_long_values_and_refuses_a_key_past_the_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(randomkey_is_one_key_every_replica_agrees_on, setup, teardown),
		cmocka_unit_test_setup_teardown(ttl_is_minus_one_for_a_key_and_minus_two_for_none, setup, teardown),
		cmocka_unit_test_setup_teardown(expiring_commands_are_refused_after_their_arity_check, setup, teardown),
		cmocka_unit_test_setup_teardown(getex_is_get_without_expiry_options, setup, teardown),
		cmocka_unit_test_setup_teardown(new_commands_work_in_batches, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
