/* Redis's string2ll, in our words (see common/decimal.h). */
#include "common/decimal.h"

bool ballot_parse_ll(const char *s, size_t len, int64_t *value)
{
	if (len == 0 || len > BALLOT_INT64_CHARS_MAX)
		return false;
	if (len == 1 && s[0] == '0') {
		*value = 0;
		return true;
	}
	size_t i = 0;
	bool negative = s[0] == '-';
	if (negative)
		i++;
	if (i == len || s[i] < '1' || s[i] > '9')
		return false;
	uint64_t v = 0;
	uint64_t bound = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (bound - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value = negative ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}
