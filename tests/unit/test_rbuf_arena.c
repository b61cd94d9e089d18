/* Unit tests of the unforked arena for reference-counted buffers (ballot/rbuf.h,
 * ballot_rbuf_use_unforked_arena): buffers stay whole, chunks go back to the system as
 * their buffers go, and a forked child does not inherit them. The arena is a switch for the
 * whole process, so these tests have an executable of their own. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ballot/error.h"
#include "ballot/rbuf.h"

static unsigned char pattern(size_t i, size_t k)
{
	return (unsigned char)(i * 131 + k * 7 + 1);
}

/* Many small buffers of every size fill chunk after chunk; each holds what was put in it;
 * freed oldest first, as a log is, the chunks go back to the system but the one in use. */
static void buffers_are_whole_and_chunks_go_back_as_they_empty(void **state)
{
	(void)state;
	size_t chunks0, bytes0;
	ballot_rbuf_arena_stats(&chunks0, &bytes0);
	enum { N = 60000 };
	ballot_rbuf **bufs = calloc(N, sizeof *bufs);
	assert_non_null(bufs);
	unsigned char src[400];
	for (size_t i = 0; i < N; i++) {
		size_t len = i % 400;
		for (size_t k = 0; k < len; k++)
			src[k] = pattern(i, k);
		bufs[i] = ballot_rbuf_new_unforked(src, len);
		assert_non_null(bufs[i]);
		assert_int_equal((uintptr_t)bufs[i]->data % 8, 0);
	}
	size_t chunks, bytes;
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_true(chunks >= chunks0 + 2); /* about 12 MiB of buffers: several chunks */
	assert_true(bytes >= (size_t)N * 200);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(bufs[i]->len, i % 400);
		for (size_t k = 0; k < bufs[i]->len; k++)
			if (bufs[i]->data[k] != pattern(i, k))
				fail_msg("buffer %zu byte %zu changed", i, k);
	}
	/* A reference held elsewhere keeps its chunk. */
	ballot_rbuf *kept = ballot_rbuf_ref(bufs[10]);
	for (size_t i = 0; i < N; i++)
		ballot_rbuf_unref(bufs[i]);
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_true(chunks <= chunks0 + 2); /* the one in use, and the one `kept` holds */
	assert_int_equal(kept->len, 10);
	assert_int_equal(kept->data[9], pattern(10, 9));
	ballot_rbuf_unref(kept);
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_true(chunks <= chunks0 + 1);
	free(bufs);
}

/* A buffer larger than a quarter chunk has a mapping of its own, gone with it. */
static void a_large_buffer_has_its_own_mapping(void **state)
{
	(void)state;
	size_t chunks0, bytes0, chunks, bytes;
	ballot_rbuf_arena_stats(&chunks0, &bytes0);
	size_t len = BALLOT_RBUF_ARENA_CHUNK_BYTES / 2 + 3;
	ballot_rbuf *b = ballot_rbuf_new_unforked(NULL, len);
	assert_non_null(b);
	memset(b->data, 0x5a, len);
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_int_equal(chunks, chunks0 + 1);
	assert_true(bytes >= bytes0 + len);
	assert_int_equal(b->data[len - 1], 0x5a);
	ballot_rbuf_unref(b);
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_int_equal(chunks, chunks0);
	assert_int_equal(bytes, bytes0);
}

/* The point of it: a forked child cannot read a buffer (it faults), while the rest of the
 * parent's memory is its own as usual. Under a sanitizer the fault ends the child with an
 * error status instead of a signal: either way it never gets to read the byte. */
static void a_forked_child_does_not_inherit_the_buffers(void **state)
{
	(void)state;
	ballot_rbuf *b = ballot_rbuf_new_unforked("\xab", 1);
	assert_non_null(b);
	ballot_rbuf *plain = ballot_rbuf_new("\xcd", 1); /* not asked to be kept from children */
	assert_non_null(plain);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka catches faults to report them: the child must die of its own. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		volatile unsigned char x = plain->data[0];
		if (x != 0xcd)
			_exit(3);
		volatile unsigned char y = b->data[0];
		_exit(y == 0xab ? 42 : 43);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	bool read_it = WIFEXITED(status) && (WEXITSTATUS(status) == 42 || WEXITSTATUS(status) == 43);
	if (read_it || (WIFEXITED(status) && WEXITSTATUS(status) == 3))
		fail_msg("the child read the buffer (or not its own memory): status %d", status);
	assert_int_equal(b->data[0], 0xab); /* the parent's is untouched */
	ballot_rbuf_unref(plain);
	ballot_rbuf_unref(b);
}

/* Before the arena is asked for, and for ballot_rbuf_new always, buffers are malloc's. */
static void without_the_arena_buffers_are_plain(void **state)
{
	(void)state;
	size_t chunks0, bytes0, chunks, bytes;
	ballot_rbuf_arena_stats(&chunks0, &bytes0);
	ballot_rbuf *b = ballot_rbuf_new_unforked("abc", 3);
	assert_non_null(b);
	assert_memory_equal(b->data, "abc", 3);
	ballot_rbuf_arena_stats(&chunks, &bytes);
	assert_int_equal(chunks, chunks0);
	ballot_rbuf_unref(b);
}

int main(void)
{
	const struct CMUnitTest before[] = {
		cmocka_unit_test(without_the_arena_buffers_are_plain),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buffers_are_whole_and_chunks_go_back_as_they_empty),
		cmocka_unit_test(a_large_buffer_has_its_own_mapping),
		cmocka_unit_test(a_forked_child_does_not_inherit_the_buffers),
	};
	int failed = cmocka_run_group_tests_name("before the arena", before, NULL, NULL);
	ballot_rbuf_use_unforked_arena();
	return failed + cmocka_run_group_tests_name("with the arena", tests, NULL, NULL);
}
