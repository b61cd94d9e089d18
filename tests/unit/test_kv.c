/* Unit tests of the key-value store's commands: Redis semantics and Redis's exact reply
 * bytes, batches (MULTI/EXEC), the read-only path, limits, and Redis glob patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/kv.h"
#include "ballot/resp.h"
#include "common/buf.h"
#include "kv/glob.h"

#include "kv_harness.h"

/* --- Strings --------------------------------------------------------------------------- */

static void set_then_get_returns_a_bulk_string(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SET greeting hello"), "+OK\r\n");
	assert_string_equal(run(kv, "GET greeting"), "$5\r\nhello\r\n");
	assert_string_equal(run(kv, "GET missing"), "$-1\r\n");
}

static void command_names_are_case_insensitive(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "sEt k v"), "+OK\r\n");
	assert_string_equal(run(kv, "get k"), "$1\r\nv\r\n");
	assert_string_equal(run(kv, "SET k w nX"), "$-1\r\n");
}

static void set_nx_does_not_overwrite(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SET k first NX"), "+OK\r\n");
	assert_string_equal(run(kv, "SET k second NX"), "$-1\r\n");
	assert_string_equal(run(kv, "GET k"), "$5\r\nfirst\r\n");
}

static void set_xx_only_overwrites(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SET k v XX"), "$-1\r\n");
	assert_string_equal(run(kv, "EXISTS k"), ":0\r\n");
	assert_string_equal(run(kv, "SET k v"), "+OK\r\n");
	assert_string_equal(run(kv, "SET k w XX"), "+OK\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nw\r\n");
}

static void set_get_returns_the_old_value(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SET k a GET"), "$-1\r\n");
	assert_string_equal(run(kv, "SET k b GET"), "$1\r\na\r\n");
	/* Redis 7: NX with GET answers the old value and does not set. */
	assert_string_equal(run(kv, "SET k c NX GET"), "$1\r\nb\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nb\r\n");
	assert_string_equal(run(kv, "SET other c XX GET"), "$-1\r\n");
	assert_string_equal(run(kv, "EXISTS other"), ":0\r\n");
}

static void set_option_errors_match_redis(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SET k v NX XX"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SET k v XX NX"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SET k v BOGUS"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SET k v KEEPTTL"), "+OK\r\n");
	assert_string_equal(run(kv, "SET k v EX 10"),
			    "-ERR keys do not expire in ballot: SET EX is not supported\r\n");
	assert_string_equal(run(kv, "SET k"), "-ERR wrong number of arguments for 'set' command\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nv\r\n");
}

static void setnx_replies_one_then_zero(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "SETNX k a"), ":1\r\n");
	assert_string_equal(run(kv, "SETNX k b"), ":0\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\na\r\n");
}

static void getset_returns_the_old_value_and_sets(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "GETSET k a"), "$-1\r\n");
	assert_string_equal(run(kv, "GETSET k b"), "$1\r\na\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nb\r\n");
}

static void mget_answers_values_and_nulls_in_order(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "MSET a 1 c 3"), "+OK\r\n");
	assert_string_equal(run(kv, "MGET a b c a"), "*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n1\r\n");
}

static void mset_with_a_missing_value_is_a_wrong_number_error(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "MSET a 1 b"), "-ERR wrong number of arguments for 'mset' command\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
	assert_string_equal(run(kv, "MSET a 1 a 2"), "+OK\r\n");
	assert_string_equal(run(kv, "GET a"), "$1\r\n2\r\n");
}

static void del_and_exists_count_like_redis(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET a 1 b 2");
	assert_string_equal(run(kv, "EXISTS a a b zz"), ":3\r\n");
	assert_string_equal(run(kv, "DEL a b c a"), ":2\r\n");
	assert_string_equal(run(kv, "EXISTS a b"), ":0\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
}

static void incr_on_missing_key_starts_from_zero(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "INCR n"), ":1\r\n");
	assert_string_equal(run(kv, "INCRBY n 41"), ":42\r\n");
	assert_string_equal(run(kv, "DECR n"), ":41\r\n");
	assert_string_equal(run(kv, "DECRBY n 50"), ":-9\r\n");
	assert_string_equal(run(kv, "GET n"), "$2\r\n-9\r\n");
	assert_string_equal(run(kv, "DECR fresh"), ":-1\r\n");
}

static void incr_on_non_integer_is_an_error_like_redis(void **state)
{
	ballot_kv *kv = *state;
	/* Redis's string2ll: no spaces, no '+', no leading zeros, no "-0", no decimals. */
	const char *bad[] = {"abc", " 1", "1 ", "+1", "01", "-0", "1.5", "", "-", "9223372036854775808",
			     "-9223372036854775809", "1e3", "0x10"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *argv[] = {"SET", "k", bad[i]};
		size_t lens[] = {3, 1, strlen(bad[i])};
		apply_argv(kv, 3, argv, lens);
		assert_string_equal(run(kv, "INCR k"), "-ERR value is not an integer or out of range\r\n");
		assert_int_equal(ballot_kv_count(kv), 1);
	}
	const char *good[][2] = {{"0", ":1\r\n"}, {"-5", ":-4\r\n"}, {"10", ":11\r\n"},
				 {"-9223372036854775808", ":-9223372036854775807\r\n"}};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *argv[] = {"SET", "k", good[i][0]};
		size_t lens[] = {3, 1, strlen(good[i][0])};
		apply_argv(kv, 3, argv, lens);
		assert_string_equal(run(kv, "INCR k"), good[i][1]);
	}
	assert_string_equal(run(kv, "INCRBY k 1.5"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "INCRBY k 01"), "-ERR value is not an integer or out of range\r\n");
}

static void incrby_overflow_is_an_error(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k 9223372036854775807");
	assert_string_equal(run(kv, "INCR k"), "-ERR increment or decrement would overflow\r\n");
	assert_string_equal(run(kv, "GET k"), "$19\r\n9223372036854775807\r\n");
	assert_string_equal(run(kv, "INCRBY k -9223372036854775808"), ":-1\r\n");
	run(kv, "SET m -9223372036854775808");
	assert_string_equal(run(kv, "DECR m"), "-ERR increment or decrement would overflow\r\n");
	assert_string_equal(run(kv, "INCRBY m -1"), "-ERR increment or decrement would overflow\r\n");
	assert_string_equal(run(kv, "DECRBY m -9223372036854775808"), "-ERR decrement would overflow\r\n");
	assert_string_equal(run(kv, "DECRBY m -9223372036854775807"), ":-1\r\n");
}

static void append_returns_the_new_length(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "APPEND k Hello"), ":5\r\n");
	assert_string_equal(run(kv, "APPEND k World"), ":10\r\n");
	assert_string_equal(run(kv, "GET k"), "$10\r\nHelloWorld\r\n");
	assert_string_equal(run(kv, "STRLEN k"), ":10\r\n");
	assert_string_equal(run(kv, "STRLEN nothing"), ":0\r\n");
	for (int i = 0; i < 1000; i++)
		run(kv, "APPEND k 0123456789");
	assert_string_equal(run(kv, "STRLEN k"), ":10010\r\n");
	/* A value grown by APPEND then replaced by a short one is still exact. */
	assert_string_equal(run(kv, "SET k x"), "+OK\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nx\r\n");
	assert_string_equal(run(kv, "APPEND k y"), ":2\r\n");
	assert_string_equal(run(kv, "INCR k"), "-ERR value is not an integer or out of range\r\n");
}

static void cas_replaces_only_a_matching_value(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "CAS k old new"), ":0\r\n");
	assert_string_equal(run(kv, "EXISTS k"), ":0\r\n");
	run(kv, "SET k a");
	assert_string_equal(run(kv, "CAS k b c"), ":0\r\n");
	assert_string_equal(run(kv, "CAS k a c"), ":1\r\n");
	assert_string_equal(run(kv, "GET k"), "$1\r\nc\r\n");
	assert_string_equal(run(kv, "CAS k c"), "-ERR wrong number of arguments for 'cas' command\r\n");
}

static void type_dbsize_and_flush(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET a 1 b 2 c 3");
	assert_string_equal(run(kv, "TYPE a"), "+string\r\n");
	assert_string_equal(run(kv, "TYPE zz"), "+none\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":3\r\n");
	assert_string_equal(run(kv, "FLUSHDB now"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":3\r\n");
	assert_string_equal(run(kv, "FLUSHALL ASYNC"), "+OK\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
	run(kv, "SET a 1");
	assert_string_equal(run(kv, "FLUSH"), "+OK\r\n");
	run(kv, "SET a 1");
	assert_string_equal(run(kv, "flushdb sync"), "+OK\r\n");
	assert_string_equal(run(kv, "GET a"), "$-1\r\n");
	assert_string_equal(run(kv, "DBSIZE x"), "-ERR wrong number of arguments for 'dbsize' command\r\n");
}

static void unknown_command_error_quotes_like_redis(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "FOO a b"), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
	assert_string_equal(run(kv, "foo"), "-ERR unknown command 'foo', with args beginning with: \r\n");
	/* CR and LF in quoted arguments become spaces; the reply stays one line. */
	const char *argv[] = {"x\r\ny", "a\nb"};
	size_t lens[] = {4, 3};
	assert_string_equal(apply_argv(kv, 2, argv, lens),
			    "-ERR unknown command 'x  y', with args beginning with: 'a b' \r\n");
	/* Arguments are quoted while fewer than 128 bytes are: the second is cut short. */
	char big[200];
	memset(big, 'x', sizeof big);
	const char *argv2[] = {"nope", big, big, big};
	size_t lens2[] = {4, 120, 200, 200};
	const char *r = apply_argv(kv, 4, argv2, lens2);
	char expect[512];
	snprintf(expect, sizeof expect, "-ERR unknown command 'nope', with args beginning with: '%.120s' '%.5s' \r\n",
		 big, big);
	assert_string_equal(r, expect);
}

static void wrong_arity_names_the_command_in_lower_case(void **state)
{
	ballot_kv *kv = *state;
	assert_string_equal(run(kv, "GET"), "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(run(kv, "Get a b"), "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(run(kv, "INCRBY k"), "-ERR wrong number of arguments for 'incrby' command\r\n");
	assert_string_equal(run(kv, "DEL"), "-ERR wrong number of arguments for 'del' command\r\n");
	assert_string_equal(run(kv, "KEYS"), "-ERR wrong number of arguments for 'keys' command\r\n");
}

static void binary_keys_and_values_round_trip(void **state)
{
	ballot_kv *kv = *state;
	const char key[] = {'k', '\0', '\r', '\n'};
	const char val[] = {'\0', '$', '-', '1', '\r', '\n'};
	const char *set[] = {"SET", key, val};
	size_t set_lens[] = {3, sizeof key, sizeof val};
	assert_string_equal(apply_argv(kv, 3, set, set_lens), "+OK\r\n");
	const char *get[] = {"GET", key};
	size_t get_lens[] = {3, sizeof key};
	apply_argv(kv, 2, get, get_lens);
	assert_int_equal(reply.len, 4 + sizeof val + 2);
	assert_memory_equal(reply.data, "$6\r\n\0$-1\r\n\r\n", reply.len);
	const char *empty[] = {"SET", "", ""};
	size_t empty_lens[] = {3, 0, 0};
	assert_string_equal(apply_argv(kv, 3, empty, empty_lens), "+OK\r\n");
	const char *get_empty[] = {"GET", ""};
	size_t get_empty_lens[] = {3, 0};
	assert_string_equal(apply_argv(kv, 2, get_empty, get_empty_lens), "$0\r\n\r\n");
}

static void keys_and_values_past_their_limits_are_refused(void **state)
{
	ballot_kv *kv = *state;
	size_t big = BALLOT_KV_VALUE_MAX_BYTES + 1;
	char *bytes = calloc(1, big);
	assert_non_null(bytes);
	const char *set_val[] = {"SET", "k", bytes};
	size_t set_val_lens[] = {3, 1, big};
	assert_string_equal(apply_argv(kv, 3, set_val, set_val_lens),
			    "-ERR string exceeds maximum allowed size (ballot's limit is 16777216 bytes)\r\n");
	const char *set_key[] = {"SET", bytes, "v"};
	size_t set_key_lens[] = {3, BALLOT_KV_KEY_MAX_BYTES + 1, 1};
	assert_string_equal(apply_argv(kv, 3, set_key, set_key_lens),
			    "-ERR key of 65537 bytes is past ballot's limit of 65536 bytes\r\n");
	assert_int_equal(ballot_kv_count(kv), 0);
	/* APPEND may not grow a value past the limit either. */
	set_val_lens[2] = BALLOT_KV_VALUE_MAX_BYTES;
	assert_string_equal(apply_argv(kv, 3, set_val, set_val_lens), "+OK\r\n");
	assert_string_equal(run(kv, "APPEND k x"),
			    "-ERR string exceeds maximum allowed size (ballot's limit is 16777216 bytes)\r\n");
	assert_string_equal(run(kv, "STRLEN k"), ":16777216\r\n");
	/* Reads answer at most BALLOT_KV_REPLY_MAX_BYTES per entry. */
	const char *mget[] = {"MGET", "k", "k", "k", "k", "k", "k", "k", "k", "k"};
	size_t mget_lens[] = {4, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	const char *r = apply_argv(kv, 10, mget, mget_lens);
	assert_non_null(strstr(r, "-ERR reply of "));
	assert_non_null(strstr(r, "would pass ballot's limit of 134217728 bytes per entry"));
	free(bytes);
}

/* --- KEYS, SCAN and glob patterns ------------------------------------------------------ */

static void glob_matches_like_redis(void **state)
{
	(void)state;
	struct {
		const char *pattern, *key;
		bool match;
	} cases[] = {
		{"*", "", true},          {"*", "anything", true},   {"h?llo", "hello", true},
		{"h?llo", "hllo", false}, {"h*llo", "hllo", true},   {"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true}, {"h[ae]llo", "hillo", false}, {"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false}, {"h[a-b]llo", "hbllo", true}, {"h[b-a]llo", "hallo", true},
		{"h[a-b]llo", "hcllo", false}, {"h\\*llo", "h*llo", true}, {"h\\*llo", "hello", false},
		{"[\\]]", "]", true},     {"[]", "]", false},        {"[]a]", "a]", false},
		{"[^]", "x", true},       {"[abc", "b", true},       {"[abc", "[abc", false},
		{"[a-", "-", true},       {"[a-]", "^", true},       {"[a-]", "b", false},
		{"ab\\", "ab\\", true},   {"?", "", false},          {"[^a]", "", false},
		{"*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"a*b*c", "aXbXc", true}, {"a*b*c", "aXbX", false},  {"**", "x", true},
		{"*x", "yyx", true},      {"*x*", "", false},        {"user:*:name", "user:42:name", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = kv_glob_match((const unsigned char *)cases[i].pattern, strlen(cases[i].pattern),
					 (const unsigned char *)cases[i].key, strlen(cases[i].key));
		if (got != cases[i].match)
			fail_msg("pattern '%s' key '%s': expected %d", cases[i].pattern, cases[i].key, cases[i].match);
	}
}

static void keys_glob_matches_like_redis_in_byte_order(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 world 6");
	assert_string_equal(run(kv, "KEYS h?llo"), "*3\r\n$5\r\nhallo\r\n$5\r\nhello\r\n$5\r\nhxllo\r\n");
	assert_string_equal(run(kv, "KEYS h*llo"),
			    "*5\r\n$5\r\nhallo\r\n$8\r\nheeeello\r\n$5\r\nhello\r\n$4\r\nhllo\r\n$5\r\nhxllo\r\n");
	assert_string_equal(run(kv, "KEYS h[ae]llo"), "*2\r\n$5\r\nhallo\r\n$5\r\nhello\r\n");
	assert_string_equal(run(kv, "KEYS h[^e]llo"), "*2\r\n$5\r\nhallo\r\n$5\r\nhxllo\r\n");
	assert_string_equal(run(kv, "KEYS nothing*"), "*0\r\n");
	assert_string_equal(run(kv, "KEYS *"), "*6\r\n$5\r\nhallo\r\n$8\r\nheeeello\r\n$5\r\nhello\r\n"
					       "$4\r\nhllo\r\n$5\r\nhxllo\r\n$5\r\nworld\r\n");
}

/* Runs SCAN to the end with the given COUNT, marking each key (key<i>) seen in seen[]. */
static unsigned scan_all(ballot_kv *kv, const char *count, unsigned *seen, size_t n)
{
	char cursor[32] = "0";
	unsigned steps = 0;
	do {
		const char *argv[] = {"SCAN", cursor, "COUNT", count};
		size_t lens[] = {4, strlen(cursor), 5, strlen(count)};
		ballot_buf_clear(&reply);
		assert_int_equal(ballot_kv_query(kv, 4, argv, lens, &reply), 0);
		ballot_resp_value *v;
		size_t used;
		assert_int_equal(ballot_resp_decode_reply(reply.data, reply.len, &v, &used, NULL), 0);
		assert_non_null(v);
		assert_int_equal(v->type, BALLOT_RESP_ARRAY);
		assert_int_equal(v->count, 2);
		assert_true(v->items[0].len < sizeof cursor);
		memcpy(cursor, v->items[0].str, v->items[0].len + 1);
		for (size_t i = 0; i < v->items[1].count; i++) {
			unsigned k = (unsigned)strtoul(v->items[1].items[i].str + 3, NULL, 10);
			assert_true(k < n);
			seen[k]++;
		}
		ballot_resp_free(v);
		steps++;
	} while (strcmp(cursor, "0") != 0);
	return steps;
}

static void scan_returns_every_key_exactly_once(void **state)
{
	ballot_kv *kv = *state;
	enum { KEYS = 2000 };
	char line[64];
	for (unsigned i = 0; i < KEYS; i++) {
		snprintf(line, sizeof line, "SET key%u v", i);
		run(kv, line);
	}
	unsigned seen[KEYS] = {0};
	unsigned steps = scan_all(kv, "7", seen, KEYS);
	for (unsigned i = 0; i < KEYS; i++)
		assert_int_equal(seen[i], 1);
	assert_true(steps >= KEYS / 7);
	assert_true(steps <= KEYS / 7 + 2);
}

static void scan_keeps_every_key_present_throughout_while_the_table_resizes(void **state)
{
	ballot_kv *kv = *state;
	enum { KEYS = 3000 };
	char line[64];
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(line, sizeof line, "SET key%u v", i);
		run(kv, line);
	}
	/* Between steps, add keys 1000.. (the table grows) and delete keys 500..999. */
	unsigned seen[KEYS] = {0};
	char cursor[32] = "0";
	unsigned added = 1000, deleted = 500;
	do {
		const char *argv[] = {"SCAN", cursor, "COUNT", "5"};
		size_t lens[] = {4, strlen(cursor), 5, 1};
		const char *r = apply_argv(kv, 4, argv, lens);
		ballot_resp_value *v;
		size_t used;
		assert_int_equal(ballot_resp_decode_reply(r, reply.len, &v, &used, NULL), 0);
		memcpy(cursor, v->items[0].str, v->items[0].len + 1);
		for (size_t i = 0; i < v->items[1].count; i++)
			seen[strtoul(v->items[1].items[i].str + 3, NULL, 10)]++;
		ballot_resp_free(v);
		for (int j = 0; j < 10 && added < KEYS; j++, added++) {
			snprintf(line, sizeof line, "SET key%u v", added);
			run(kv, line);
		}
		for (int j = 0; j < 3 && deleted < 1000; j++, deleted++) {
			snprintf(line, sizeof line, "DEL key%u", deleted);
			run(kv, line);
		}
	} while (strcmp(cursor, "0") != 0);
	for (unsigned i = 0; i < 500; i++)
		assert_int_equal(seen[i], 1);
	for (unsigned i = 500; i < KEYS; i++)
		assert_true(seen[i] <= 1);
}

static void scan_options_and_errors_match_redis(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "MSET apple 1 avocado 2 banana 3");
	char *first = strdup(run(kv, "SCAN 0 MATCH a* COUNT 100"));
	assert_string_equal(first, run(kv, "SCAN 0 COUNT 100 MATCH a*"));
	assert_non_null(strstr(first, "$5\r\napple\r\n"));
	assert_non_null(strstr(first, "$7\r\navocado\r\n"));
	assert_null(strstr(first, "banana"));
	free(first);
	const char *r = run(kv, "SCAN 0 MATCH b* COUNT 100");
	assert_string_equal(r, "*2\r\n$1\r\n0\r\n*1\r\n$6\r\nbanana\r\n");
	assert_string_equal(run(kv, "SCAN 0 TYPE hash"), "*2\r\n$1\r\n0\r\n*0\r\n");
	assert_string_equal(run(kv, "SCAN 0 TYPE thing"), "-ERR unknown type name 'thing'\r\n");
	assert_string_equal(run(kv, "SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SCAN 0 COUNT x"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(kv, "SCAN 0 COUNT"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SCAN 0 LIMIT 3"), "-ERR syntax error\r\n");
	assert_string_equal(run(kv, "SCAN -1"), "-ERR invalid cursor\r\n");
	assert_string_equal(run(kv, "SCAN abc"), "-ERR invalid cursor\r\n");
	assert_string_equal(run(kv, "SCAN 18446744073709551616"), "-ERR invalid cursor\r\n");
	char *last = strdup(run(kv, "SCAN 18446744073709551615 COUNT 1000"));
	assert_string_equal(last, run(kv, "SCAN 18446744073709551615"));
	free(last);
}

/* --- Batches (MULTI/EXEC) --------------------------------------------------------------- */

static const char *apply_batch(ballot_kv *kv, const char *const *lines, size_t n)
{
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	ballot_kv_batch batch;
	assert_int_equal(ballot_kv_batch_begin(&batch, &entry), 0);
	for (size_t i = 0; i < n; i++) {
		const char *argv[WORDS_MAX];
		size_t lens[WORDS_MAX];
		size_t argc = split(lines[i], argv, lens);
		assert_int_equal(ballot_kv_batch_add(&batch, argc, argv, lens), 0);
	}
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_apply(kv, entry.data, entry.len, &reply), 0);
	ballot_buf_free(&entry);
	return reply.data;
}

static void multi_batch_applies_atomically_and_replies_with_an_array(void **state)
{
	ballot_kv *kv = *state;
	const char *lines[] = {"SET a 1", "INCR a", "GET a", "DEL a"};
	assert_string_equal(apply_batch(kv, lines, 4), "*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n:1\r\n");
	assert_string_equal(apply_batch(kv, NULL, 0), "*0\r\n");
}

static void batch_command_failing_at_run_time_leaves_the_others_applied(void **state)
{
	ballot_kv *kv = *state;
	const char *lines[] = {"SET a x", "INCR a", "SET b 1"};
	assert_string_equal(apply_batch(kv, lines, 3),
			    "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":2\r\n");
}

static void batch_with_an_unknown_command_or_bad_arity_is_discarded_whole(void **state)
{
	ballot_kv *kv = *state;
	const char *unknown[] = {"SET a 1", "FROB a"};
	assert_string_equal(apply_batch(kv, unknown, 2),
			    "-EXECABORT Transaction discarded because of previous errors.\r\n");
	const char *arity[] = {"SET a 1", "GET"};
	assert_string_equal(apply_batch(kv, arity, 2),
			    "-EXECABORT Transaction discarded because of previous errors.\r\n");
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
}

static void check_answers_like_multi_queueing(void **state)
{
	(void)state;
	const char *argv[] = {"GET"};
	size_t lens[] = {3};
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_check(1, argv, lens, &reply), BALLOT_EINVAL);
	assert_string_equal(reply.data, "-ERR wrong number of arguments for 'get' command\r\n");
	const char *ok[] = {"mset", "a", "1"};
	size_t ok_lens[] = {4, 1, 1};
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_check(3, ok, ok_lens, &reply), 0);
	assert_int_equal(reply.len, 0);
}

/* --- The read-only path and malformed entries ----------------------------------------- */

static void query_serves_reads_and_refuses_writes(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	assert_string_equal(query(kv, "GET k"), "$1\r\nv\r\n");
	assert_string_equal(query(kv, "MGET k x"), "*2\r\n$1\r\nv\r\n$-1\r\n");
	assert_string_equal(query(kv, "EXISTS k"), ":1\r\n");
	assert_string_equal(query(kv, "STRLEN k"), ":1\r\n");
	assert_string_equal(query(kv, "DBSIZE"), ":1\r\n");
	assert_string_equal(query(kv, "KEYS *"), "*1\r\n$1\r\nk\r\n");
	assert_string_equal(query(kv, "TYPE k"), "+string\r\n");
	assert_string_equal(query(kv, "SCAN 0"), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
	assert_string_equal(query(kv, "SET k w"),
			    "-ERR command 'set' is not read-only: it must go through the replicated log\r\n");
	assert_string_equal(query(kv, "incr n"),
			    "-ERR command 'incr' is not read-only: it must go through the replicated log\r\n");
	assert_string_equal(query(kv, "GET k"), "$1\r\nv\r\n");
	assert_int_equal(ballot_kv_count(kv), 1);
	assert_true(ballot_kv_is_readonly("get", 3));
	assert_true(ballot_kv_is_readonly("SCAN", 4));
	assert_false(ballot_kv_is_readonly("SET", 3));
	assert_false(ballot_kv_is_readonly("FLUSHALL", 8));
	assert_false(ballot_kv_is_readonly("nope", 4));
}

static void query_entry_reads_an_encoded_command(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	const char *argv[] = {"GET", "k"};
	size_t lens[] = {3, 1};
	assert_int_equal(ballot_kv_encode(2, argv, lens, &entry), 0);
	ballot_fsm fsm = ballot_kv_fsm(kv);
	ballot_buf_clear(&reply);
	assert_int_equal(fsm.query(fsm.ctx, entry.data, entry.len, &reply), 0);
	assert_string_equal(reply.data, "$1\r\nv\r\n");
	ballot_buf_free(&entry);
}

static void malformed_entry_is_an_error_reply_and_changes_nothing(void **state)
{
	ballot_kv *kv = *state;
	run(kv, "SET k v");
	const unsigned char entries[][12] = {
		{0},                                  /* kind 0 */
		{1, 2, 0, 0, 0},                      /* one-command entry with 2 commands */
		{1, 1, 0, 0, 0, 0, 0, 0, 0},          /* argc 0 */
		{1, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0}, /* argument longer than the entry */
	};
	size_t lens[] = {1, 5, 9, 12};
	for (size_t i = 0; i < 4; i++) {
		ballot_buf_clear(&reply);
		assert_int_equal(ballot_kv_apply(kv, entries[i], lens[i], &reply), 0);
		assert_memory_equal(reply.data, "-ERR malformed command entry: ", 30);
	}
	ballot_buf_clear(&reply);
	assert_int_equal(ballot_kv_apply(kv, "", 0, &reply), 0);
	assert_memory_equal(reply.data, "-ERR malformed command entry: ", 30);
	assert_string_equal(run(kv, "GET k"), "$1\r\nv\r\n");
}

static void encode_refuses_an_empty_command(void **state)
{
	(void)state;
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	assert_int_equal(ballot_kv_encode(0, NULL, NULL, &entry), BALLOT_EINVAL);
	assert_int_equal(entry.len, 0);
	ballot_buf_free(&entry);
}

static void many_keys_grow_and_shrink_the_table(void **state)
{
	ballot_kv *kv = *state;
	enum { KEYS = 100000 };
	char line[64];
	for (unsigned i = 0; i < KEYS; i++) {
		snprintf(line, sizeof line, "SET key:%u %u", i, i);
		run(kv, line);
	}
	assert_int_equal(ballot_kv_count(kv), KEYS);
	for (unsigned i = 0; i < KEYS; i += 997) {
		snprintf(line, sizeof line, "INCR key:%u", i);
		char expect[32];
		snprintf(expect, sizeof expect, ":%u\r\n", i + 1);
		assert_string_equal(run(kv, line), expect);
	}
	for (unsigned i = 0; i < KEYS; i++) {
		snprintf(line, sizeof line, "DEL key:%u", i);
		assert_string_equal(run(kv, line), ":1\r\n");
	}
	assert_string_equal(run(kv, "DBSIZE"), ":0\r\n");
	assert_string_equal(run(kv, "SET again 1"), "+OK\r\n");
	assert_string_equal(run(kv, "KEYS *"), "*1\r\n$5\r\nagain\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(set_then_get_returns_a_bulk_string, setup, teardown),
		cmocka_unit_test_setup_teardown(command_names_are_case_insensitive, setup, teardown),
		cmocka_unit_test_setup_teardown(set_nx_does_not_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(set_xx_only_overwrites, setup, teardown),
		cmocka_unit_test_setup_teardown(set_get_returns_the_old_value, setup, teardown),
		cmocka_unit_test_setup_teardown(set_option_errors_match_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(setnx_replies_one_then_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(getset_returns_the_old_value_and_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(mget_answers_values_and_nulls_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(mset_with_a_missing_value_is_a_wrong_number_error, setup, teardown),
		cmocka_unit_test_setup_teardown(del_and_exists_count_like_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(incr_on_missing_key_starts_from_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(incr_on_non_integer_is_an_error_like_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(incrby_overflow_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(append_returns_the_new_length, setup, teardown),
		cmocka_unit_test_setup_teardown(cas_replaces_only_a_matching_value, setup, teardown),
		cmocka_unit_test_setup_teardown(type_dbsize_and_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_command_error_quotes_like_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_arity_names_the_command_in_lower_case, setup, teardown),
		cmocka_unit_test_setup_teardown(binary_keys_and_values_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_and_values_past_their_limits_are_refused, setup, teardown),
		cmocka_unit_test(glob_matches_like_redis),
		cmocka_unit_test_setup_teardown(keys_glob_matches_like_redis_in_byte_order, setup, teardown),
		cmocka_unit_test_setup_teardown(scan_returns_every_key_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(scan_keeps_every_key_present_throughout_while_the_table_resizes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(scan_options_and_errors_match_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(multi_batch_applies_atomically_and_replies_with_an_array, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_command_failing_at_run_time_leaves_the_others_applied, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_with_an_unknown_command_or_bad_arity_is_discarded_whole, setup,
						teardown),
		cmocka_unit_test_setup_teardown(check_answers_like_multi_queueing, setup, teardown),
		cmocka_unit_test_setup_teardown(query_serves_reads_and_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(query_entry_reads_an_encoded_command, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_entry_is_an_error_reply_and_changes_nothing, setup, teardown),
		cmocka_unit_test(encode_refuses_an_empty_command),
		cmocka_unit_test_setup_teardown(many_keys_grow_and_shrink_the_table, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
