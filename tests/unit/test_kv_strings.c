/* Unit tests of the Redis 7 string and keyspace commands beyond the first set: GETDEL,
 * UNLINK, MSETNX, GETRANGE/SUBSTR, SETRANGE, INCRBYFLOAT, RENAME/RENAMENX, RANDOMKEY, and
 * the expiry commands a store whose keys never expire answers. Every expected reply is the
 * one redis-server 7.0 gives (tests/system/kv_vs_redis.sh compares the two live). */
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

#define WORDS_MAX 64

static ballot_buf reply;

/* Splits line at spaces into argv (pointing into a copy that lives until the next call). */
static size_t split(const char *line, const char **argv, size_t *lens)
{
	static char copy[4096];
	size_t n = strlen(line);
	assert_true(n < sizeof copy);
	memcpy(copy, line, n + 1);
	size_t argc = 0;
	for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " ")) {
		assert_true(argc < WORDS_MAX);
		argv[argc] = w;
		lens[argc] = strlen(w);
		argc++;
	}
	return argc;
}

/* Applies one command given as argv; returns its reply (valid until the next call). */
static const char *apply_argv(ballot_kv *kv, size_t argc, const char *const *argv, const size_t *lens)
{
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	assert_int_equal(ballot_kv_encode(argc, argv, lens, &entry), 0);
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_apply(kv, entry.data, entry.len, &reply), 0);
	ballot_buf_free(&entry);
	return reply.len > 0 ? reply.data : "";
}

/* Applies one command written as space-separated words. */
static const char *run(ballot_kv *kv, const char *line)
{
	const char *argv[WORDS_MAX];
	size_t lens[WORDS_MAX];
	size_t argc = split(line, argv, lens);
	return apply_argv(kv, argc, argv, lens);
}

/* Applies a three-word command whose last word may be empty or hold any bytes. */
static const char *run3(ballot_kv *kv, const char *name, const char *key, const char *arg, size_t arg_len)
{
	const char *argv[] = {name, key, arg};
	size_t lens[] = {strlen(name), strlen(key), arg_len};
	return apply_argv(kv, 3, argv, lens);
}

/* Answers a read from the current state, outside the log. */
static const char *query(const ballot_kv *kv, const char *line)
{
	const char *argv[WORDS_MAX];
	size_t lens[WORDS_MAX];
	size_t argc = split(line, argv, lens);
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_query(kv, argc, argv, lens, &reply), 0);
	return reply.data;
}

static int setup(void **state)
{
	ballot_kv *kv;
	assert_int_equal(ballot_kv_new(&kv), 0);
	ballot_buf_init(&reply, 0);
	*state = kv;
	return 0;
}

static int teardown(void **state)
{
	ballot_kv_free(*state);
	ballot_buf_free(&reply);
	return 0;
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
	assert_string_equal(run3(kv, "SETRANGE", "missing", "", 0), "-ERR wrong number of arguments for 'setrange' command\r\n");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
