/* Long double texts as Redis 7.0 reads and writes them (see kv/float.h). */
#include "kv/float.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/error.h"
#include "common/assert.h"

/* The "C" locale for this thread while an object lives: strtold and snprintf read the
 * decimal point from the thread's locale, and a program embedding ballot may have set
 * another one ("1,5" in de_DE). glibc hands out its static "C" locale object here without
 * allocating. */
typedef struct c_locale {
	locale_t c;
	locale_t old;
} c_locale;

static bool c_locale_enter(c_locale *l)
{
	l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (l->c == (locale_t)0)
		return false;
	l->old = uselocale(l->c);
	return true;
}

static void c_locale_leave(c_locale *l)
{
	uselocale(l->old);
	freelocale(l->c);
}

int kv_parse_ld(const char *s, size_t len, long double *value)
{
	char buf[BALLOT_KV_FLOAT_TEXT_MAX_BYTES];
	if (len == 0 || len >= sizeof buf)
		return BALLOT_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	c_locale l;
	if (!c_locale_enter(&l))
		return BALLOT_ENOMEM;
	errno = 0;
	char *end;
	long double v = strtold(buf, &end);
	bool range_error = errno == ERANGE;
	c_locale_leave(&l);
	/* Redis's string2ld, test for test: strtold skips leading spaces, Redis does not. */
	if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len)
		return BALLOT_EINVAL;
	if (range_error && (isinf(v) || fpclassify(v) == FP_ZERO))
		return BALLOT_EINVAL;
	if (isnan(v))
		return BALLOT_EINVAL;
	*value = v;
	return 0;
}

int kv_format_ld(long double v, char *out, size_t *len_out)
{
	BALLOT_ASSERT(isfinite(v));
	c_locale l;
	if (!c_locale_enter(&l))
		return BALLOT_ENOMEM;
	int n = snprintf(out, BALLOT_KV_FLOAT_TEXT_MAX_BYTES, "%.17Lf", v);
	c_locale_leave(&l);
	BALLOT_ASSERT(n > 0);
	BALLOT_ASSERT((size_t)n < BALLOT_KV_FLOAT_TEXT_MAX_BYTES); /* see limits.h */
	size_t len = (size_t)n;
	if (memchr(out, '.', len) != NULL) {
		while (out[len - 1] == '0')
			len--;
		if (out[len - 1] == '.')
			len--;
	}
	if (len == 2 && out[0] == '-' && out[1] == '0') {
		out[0] = '0';
		len = 1;
	}
	out[len] = '\0';
	*len_out = len;
	return 0;
}
