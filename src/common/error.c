/* The error model's string table and formatter (see ballot/error.h). */
#include "ballot/error.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/assert.h"

static const char *const error_names[BALLOT_ERROR_COUNT_] = {
	[0] = "ok",
	[-BALLOT_EINVAL] = "invalid argument",
	[-BALLOT_ENOMEM] = "out of memory",
	[-BALLOT_ERANGE] = "value out of range",
	[-BALLOT_ELIMIT] = "limit exceeded",
	[-BALLOT_EIO] = "input/output error",
	[-BALLOT_ECORRUPT] = "corrupt data",
	[-BALLOT_ETIMEDOUT] = "timed out",
	[-BALLOT_ENOWINNER] = "no winner",
	[-BALLOT_ENOTLEADER] = "not the leader",
	[-BALLOT_EBUSY] = "busy",
};

const char *ballot_strerror(int code)
{
	if (code > 0 || code <= -BALLOT_ERROR_COUNT_)
		return "unknown error";
	return error_names[-code];
}

int ballot_errorf(ballot_errmsg *em, int code, const char *fmt, ...)
{
	BALLOT_ASSERT(code < 0);
	if (em != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(em->text, sizeof em->text, fmt, ap);
		va_end(ap);
	}
	return code;
}
