/* Shared helpers of the ballot program: error printing and strict number parsing. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ballot: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool cli_parse_double(const char *flag, const char *arg, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(arg, &end);
	if (end == arg || *end != '\0' || errno == ERANGE || !isfinite(v)) {
		cli_error("%s '%s': not a finite number", flag, arg);
		return false;
	}
	*out = v;
	return true;
}

bool cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	if (arg[0] < '0' || arg[0] > '9') { /* strtoull would skip spaces and take '+' or '-' */
		cli_error("%s '%s': not a non-negative integer", flag, arg);
		return false;
	}
	unsigned long long v = strtoull(arg, &end, 10);
	if (*end != '\0' || errno == ERANGE) {
		cli_error("%s '%s': not a non-negative integer", flag, arg);
		return false;
	}
	if (v < min || v > max) {
		cli_error("%s %llu: must be between %llu and %llu", flag, v,
			  (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}
