/* Unit tests of the RESP2 reply writer and decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/resp.h"
#include "common/buf.h"

static ballot_resp_value *decode(const char *bytes, size_t len, size_t *used)
{
	ballot_resp_value *v = NULL;
	ballot_errmsg em;
	int rc = ballot_resp_decode_reply(bytes, len, &v, used, &em);
	if (rc != 0)
		fail_msg("decode failed: %s", em.text);
	return v;
}

static void writer_produces_redis_bytes(void **state)
{
	(void)state;
	ballot_buf b;
	ballot_buf_init(&b, 0);
	assert_int_equal(ballot_resp_simple(&b, "OK"), 0);
	assert_int_equal(ballot_resp_integer(&b, -42), 0);
	assert_int_equal(ballot_resp_bulk(&b, "hello", 5), 0);
	assert_int_equal(ballot_resp_null(&b), 0);
	assert_int_equal(ballot_resp_array(&b, 2), 0);
	assert_int_equal(ballot_resp_bulk(&b, "", 0), 0);
	assert_int_equal(ballot_resp_integer(&b, INT64_MIN), 0);
	assert_int_equal(ballot_resp_error(&b, "ERR bad %s", "thing\r\nhere"), 0);
	assert_string_equal(b.data, "+OK\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$0\r\n\r\n:-9223372036854775808\r\n"
				    "-ERR bad thing  here\r\n");
	ballot_buf_free(&b);
}

static void writer_keeps_the_buffer_on_failure(void **state)
{
	(void)state;
	ballot_buf b;
	ballot_buf_init(&b, 8);
	assert_int_equal(ballot_resp_simple(&b, "OK"), 0);
	assert_int_equal(ballot_resp_bulk(&b, "hello", 5), BALLOT_ELIMIT);
	assert_int_equal(ballot_resp_error(&b, "ERR %s", "long message"), BALLOT_ELIMIT);
	assert_string_equal(b.data, "+OK\r\n");
	ballot_buf_free(&b);
}

static void decoder_reads_every_type_into_a_tree(void **state)
{
	(void)state;
	const char r[] = "*6\r\n+OK\r\n-ERR no\r\n:123\r\n$3\r\na\0b\r\n$-1\r\n*2\r\n*-1\r\n*0\r\nextra";
	size_t used;
	ballot_resp_value *v = decode(r, sizeof r - 1, &used);
	assert_non_null(v);
	assert_int_equal(used, sizeof r - 1 - 5);
	assert_int_equal(v->type, BALLOT_RESP_ARRAY);
	assert_int_equal(v->count, 6);
	assert_int_equal(v->items[0].type, BALLOT_RESP_SIMPLE);
	assert_string_equal(v->items[0].str, "OK");
	assert_int_equal(v->items[1].type, BALLOT_RESP_ERROR);
	assert_string_equal(v->items[1].str, "ERR no");
	assert_int_equal(v->items[2].type, BALLOT_RESP_INTEGER);
	assert_true(v->items[2].integer == 123);
	assert_int_equal(v->items[3].type, BALLOT_RESP_BULK);
	assert_int_equal(v->items[3].len, 3);
	assert_memory_equal(v->items[3].str, "a\0b", 3);
	assert_int_equal(v->items[4].type, BALLOT_RESP_NULL);
	assert_int_equal(v->items[5].type, BALLOT_RESP_ARRAY);
	assert_int_equal(v->items[5].items[0].type, BALLOT_RESP_NULL_ARRAY);
	assert_int_equal(v->items[5].items[1].type, BALLOT_RESP_ARRAY);
	assert_int_equal(v->items[5].items[1].count, 0);
	ballot_resp_free(v);
}

static void decoder_asks_for_more_on_every_proper_prefix(void **state)
{
	(void)state;
	const char r[] = "*3\r\n$5\r\nhello\r\n:-7\r\n*1\r\n+x\r\n";
	for (size_t len = 0; len < sizeof r - 1; len++) {
		size_t used = 99;
		ballot_resp_value *v = decode(r, len, &used);
		assert_null(v);
		assert_int_equal(used, 0);
	}
	size_t used;
	ballot_resp_value *v = decode(r, sizeof r - 1, &used);
	assert_non_null(v);
	assert_int_equal(used, sizeof r - 1);
	ballot_resp_free(v);
}

static void decoder_refuses_what_is_not_resp2(void **state)
{
	(void)state;
	const char *bad[] = {"!x\r\n", "+a\nb\r\n", "+a\rb\r\n", ":12a\r\n", ":\r\n", ":99999999999999999999\r\n",
			     "$-2\r\n", "$3\r\nabcd\r\n", "*-5\r\n", "$abc\r\n", ":123456789012345678901234\r\n",
			     "$2\r\nab\n\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ballot_resp_value *v = NULL;
		size_t used;
		ballot_errmsg em;
		int rc = ballot_resp_decode_reply(bad[i], strlen(bad[i]), &v, &used, &em);
		if (rc != BALLOT_ECORRUPT)
			fail_msg("input %zu: expected corrupt, got %d", i, rc);
		assert_null(v);
	}
}

static void decoder_enforces_depth_and_size_limits(void **state)
{
	(void)state;
	char deep[4 * (BALLOT_RESP_DEPTH_MAX + 2)];
	size_t n = 0;
	for (int i = 0; i < BALLOT_RESP_DEPTH_MAX + 1; i++) {
		memcpy(deep + n, "*1\r\n", 4);
		n += 4;
	}
	ballot_resp_value *v;
	size_t used;
	ballot_errmsg em;
	assert_int_equal(ballot_resp_decode_reply(deep, n, &v, &used, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_resp_decode_reply("$999999999999\r\n", 15, &v, &used, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_resp_decode_reply("*999999999999\r\n", 15, &v, &used, &em), BALLOT_ELIMIT);
	/* A large declared array with few bytes allocates nothing and asks for more. */
	assert_int_equal(ballot_resp_decode_reply("*1000000\r\n", 10, &v, &used, &em), 0);
	assert_null(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writer_produces_redis_bytes),
		cmocka_unit_test(writer_keeps_the_buffer_on_failure),
		cmocka_unit_test(decoder_reads_every_type_into_a_tree),
		cmocka_unit_test(decoder_asks_for_more_on_every_proper_prefix),
		cmocka_unit_test(decoder_refuses_what_is_not_resp2),
		cmocka_unit_test(decoder_enforces_depth_and_size_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
