/* Unit tests of the shared parts: error model, rng, buffer, JSON writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/error.h"
#include "ballot/rbuf.h"
#include "ballot/rng.h"
#include "common/buf.h"
#include "common/json.h"

static void errorf_formats_detail_and_returns_code(void **state)
{
	(void)state;
	ballot_errmsg em;
	int rc = ballot_errorf(&em, BALLOT_EINVAL, "--n %d: must be positive", -3);
	assert_int_equal(rc, BALLOT_EINVAL);
	assert_string_equal(em.text, "--n -3: must be positive");
	assert_int_equal(ballot_errorf(NULL, BALLOT_ENOMEM, "dropped"), BALLOT_ENOMEM);
}

static void strerror_names_every_code(void **state)
{
	(void)state;
	for (int code = 0; code > -BALLOT_ERROR_COUNT_; code--) {
		assert_non_null(ballot_strerror(code));
		assert_string_not_equal(ballot_strerror(code), "unknown error");
	}
	assert_string_equal(ballot_strerror(1), "unknown error");
	assert_string_equal(ballot_strerror(-BALLOT_ERROR_COUNT_), "unknown error");
}

static void rng_same_seed_same_stream(void **state)
{
	(void)state;
	ballot_rng a, b, c;
	ballot_rng_seed(&a, 42);
	ballot_rng_seed(&b, 42);
	ballot_rng_seed(&c, 43);
	int differs = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = ballot_rng_next(&a);
		assert_true(x == ballot_rng_next(&b));
		differs += x != ballot_rng_next(&c);
	}
	assert_true(differs > 990);
}

static void rng_below_and_double_stay_in_range(void **state)
{
	(void)state;
	ballot_rng r;
	ballot_rng_seed(&r, 7);
	unsigned counts[6] = {0};
	for (int i = 0; i < 60000; i++) {
		uint64_t v = ballot_rng_below(&r, 6);
		assert_true(v < 6);
		counts[v]++;
		double d = ballot_rng_double(&r);
		assert_true(d >= 0.0 && d < 1.0);
	}
	for (int i = 0; i < 6; i++)
		assert_true(counts[i] > 9000 && counts[i] < 11000);
}

static void buf_limit_refuses_and_keeps_contents(void **state)
{
	(void)state;
	ballot_buf b;
	ballot_buf_init(&b, 8);
	assert_int_equal(ballot_buf_puts(&b, "abcd"), 0);
	assert_int_equal(ballot_buf_puts(&b, "efghi"), BALLOT_ELIMIT);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "abcd");
	ballot_buf_consume(&b, 2);
	assert_string_equal(b.data, "cd");
	ballot_buf_free(&b);
}

static void json_writer_escapes_and_separates(void **state)
{
	(void)state;
	ballot_buf b;
	ballot_buf_init(&b, 0);
	json_writer w;
	json_init(&w, &b);
	json_object_begin(&w);
	json_key(&w, "s");
	json_string_n(&w, "a\"\\\n\x01\xff\xc3\xa9", 8);
	json_key(&w, "n");
	json_double(&w, 0.972);
	json_key(&w, "a");
	json_array_begin(&w);
	json_int(&w, -1);
	json_bool(&w, true);
	json_null(&w);
	json_double(&w, 1.0 / 0.0);
	json_array_end(&w);
	json_object_end(&w);
	assert_int_equal(w.rc, 0);
	assert_string_equal(b.data,
			    "{\"s\":\"a\\\"\\\\\\n\\u0001\\ufffd\xc3\xa9\",\"n\":0.972,"
			    "\"a\":[-1,true,null,null]}");
	ballot_buf_free(&b);
}

static void format_double_is_shortest_round_trip(void **state)
{
	(void)state;
	char t[32];
	ballot_format_double(t, 0.1);
	assert_string_equal(t, "0.1");
	ballot_format_double(t, 42.0);
	assert_string_equal(t, "42");
	ballot_format_double(t, 0.1 + 0.2);
	assert_string_equal(t, "0.30000000000000004");
}

static void release_count(void *ctx)
{
	(*(int *)ctx)++;
}

/* An rbuf over the caller's bytes: no copy, and release runs once, at the last unref. */
static void rbuf_wrap_releases_at_the_last_unref(void **state)
{
	(void)state;
	static const char text[] = "mapped bytes";
	int released = 0;
	ballot_rbuf *b = ballot_rbuf_wrap(text, sizeof text - 1, release_count, &released);
	assert_non_null(b);
	assert_ptr_equal(b->data, text);
	assert_int_equal(b->len, sizeof text - 1);
	ballot_rbuf_ref(b);
	ballot_rbuf_unref(b);
	assert_int_equal(released, 0);
	ballot_rbuf_unref(b);
	assert_int_equal(released, 1);
	/* A buffer of its own copies, and its bytes follow its header. */
	ballot_rbuf *c = ballot_rbuf_new(text, 4);
	assert_memory_equal(c->data, "mapp", 4);
	assert_ptr_equal(c->data, (unsigned char *)(c + 1));
	ballot_rbuf_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errorf_formats_detail_and_returns_code),
		cmocka_unit_test(rbuf_wrap_releases_at_the_last_unref),
		cmocka_unit_test(strerror_names_every_code),
		cmocka_unit_test(rng_same_seed_same_stream),
		cmocka_unit_test(rng_below_and_double_stay_in_range),
		cmocka_unit_test(buf_limit_refuses_and_keeps_contents),
		cmocka_unit_test(json_writer_escapes_and_separates),
		cmocka_unit_test(format_double_is_shortest_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
