/* The key-value unit tests' shared harness: apply commands written as words to a store and
 * read back Redis's reply bytes. A header of static functions, one copy per test program. */
#ifndef BALLOT_TEST_KV_HARNESS_H
#define BALLOT_TEST_KV_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/kv.h"
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

#endif
