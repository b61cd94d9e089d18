/* ballot error model: every fallible function returns 0 or a negative code from one enum.
 *
 * Details go into a caller-supplied ballot_errmsg, so a message names the thing that was
 * wrong ("--r 1.5: reliability must be in [0, 1]") and what to do about it. A function that
 * takes a ballot_errmsg writes it only when it fails; passing NULL is allowed and drops the
 * detail. Programmer errors (broken invariants) are not codes: they are BALLOT_ASSERT. */
#ifndef BALLOT_ERROR_H
#define BALLOT_ERROR_H

#include <stddef.h>

#include "ballot/limits.h"

enum ballot_error {
	BALLOT_OK = 0,
	BALLOT_EINVAL = -1,    /* an argument, flag or input is malformed or out of range */
	BALLOT_ENOMEM = -2,    /* an allocation failed */
	BALLOT_ERANGE = -3,    /* a value does not fit (overflow, too many items) */
	BALLOT_ELIMIT = -4,    /* a named limit in ballot/limits.h was exceeded */
	BALLOT_EIO = -5,       /* the operating system refused a read, write or spawn */
	BALLOT_ECORRUPT = -6,  /* stored data failed its checksum or format check */
	BALLOT_ETIMEDOUT = -7, /* a deadline passed */
	BALLOT_ENOWINNER = -8, /* a vote produced no winner */
	BALLOT_ENOTLEADER = -9, /* the request needs the leader; this node is not it */
	BALLOT_EBUSY = -10,     /* a conflicting operation is under way; retry later */
	BALLOT_ERROR_COUNT_ = 11
};

/* A fixed buffer for the detail of the last failure. */
typedef struct ballot_errmsg {
	char text[BALLOT_ERRMSG_MAX];
} ballot_errmsg;

/* The short, constant name of a code ("invalid argument"); never NULL. */
const char *ballot_strerror(int code);

/* Formats a detail into em (if em is not NULL) and returns code, so a failing path can
 * say `return ballot_errorf(em, BALLOT_EINVAL, "--n %s: not a number", arg);`.
 * Precondition: code < 0. */
int ballot_errorf(ballot_errmsg *em, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
