/* Reports a failed BALLOT_ASSERT and aborts, so a core dump shows the state that broke. */
#include "common/assert.h"

#include <stdio.h>
#include <stdlib.h>

void ballot_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "ballot: assertion failed: %s (%s:%d, %s)\n"
			"ballot: this is a bug in ballot; please report it with the command that led here\n",
		expr, file, line, func);
	fflush(stderr);
	abort();
}
