/* Assertions that stay on in every build, release included.
 *
 * An assertion states an invariant the code relies on; a failed one is a bug in ballot,
 * never a reaction to bad input (bad input gets an error code). Keep conditions simple:
 * split `a && b` into two assertions so the report names the one that broke. */
#ifndef BALLOT_COMMON_ASSERT_H
#define BALLOT_COMMON_ASSERT_H

_Noreturn void ballot_assert_fail(const char *expr, const char *file, int line, const char *func);

#define BALLOT_ASSERT(cond) \
	((cond) ? (void)0 : ballot_assert_fail(#cond, __FILE__, __LINE__, __func__))

#define BALLOT_UNREACHABLE() ballot_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
