/* Parsing numeric module outputs: whitespace-separated finite numbers (see ballot/vote.h).
 *
 * This reads untrusted program output, so it never reads past len, never trusts a NUL, and
 * copies each token into a bounded buffer before strtod sees it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/vote.h"

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Converts one token; returns 0 or BALLOT_EINVAL. */
static int parse_token(const unsigned char *tok, size_t len, size_t offset, double *value,
		       ballot_errmsg *em)
{
	char text[BALLOT_VOTE_NUMBER_CHARS_MAX + 1];
	memcpy(text, tok, len);
	text[len] = '\0';
	char *end = NULL;
	double v = strtod(text, &end);
	/* strtod stops at an embedded NUL; `end` short of len catches it and any trailing junk.
	 * Overflow gives an infinity, refused below; underflow (ERANGE with a tiny or zero
	 * result) is a legitimate reading of a tiny number, so errno is not consulted. */
	if (end != text + len || !isfinite(v)) {
		for (size_t i = 0; i < len; i++) {
			if (text[i] < 0x20 || text[i] > 0x7e)
				text[i] = '?';
		}
		return ballot_errorf(em, BALLOT_EINVAL, "'%s' at byte %zu is not a finite number",
				     text, offset);
	}
	*value = v;
	return 0;
}

int ballot_numbers_parse(const void *text, size_t len, ballot_number *out, size_t max,
			 size_t *count, ballot_errmsg *em)
{
	const unsigned char *s = text;
	size_t found = 0;
	size_t i = 0;
	*count = 0;
	while (i < len) {
		if (is_space(s[i])) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && !is_space(s[i]))
			i++;
		size_t tok_len = i - start;
		if (tok_len > BALLOT_VOTE_NUMBER_CHARS_MAX)
			return ballot_errorf(em, BALLOT_ELIMIT,
					     "a number at byte %zu is longer than %d characters",
					     start, BALLOT_VOTE_NUMBER_CHARS_MAX);
		if (found == max)
			return ballot_errorf(em, BALLOT_ELIMIT, "more than %zu numbers", max);
		double v = 0;
		int rc = parse_token(s + start, tok_len, start, &v, em);
		if (rc != 0)
			return rc;
		out[found++] = (ballot_number){.value = v, .offset = start, .len = tok_len};
	}
	*count = found;
	return 0;
}
