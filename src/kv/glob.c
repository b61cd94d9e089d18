/* Redis glob matching (see kv/glob.h).
 *
 * A pattern is a sequence of tokens: `*`, or a token that matches exactly one byte
 * (`?`, a set, an escaped or a plain byte). With that shape, greedy matching that returns
 * only to the most recent `*` on a mismatch finds a match whenever one exists: a later
 * star can absorb anything an earlier one would have, so earlier stars never need to be
 * revisited. That keeps the worst case at O(plen * slen), where Redis's recursive matcher
 * needs extra guards against exponential patterns like "*a*a*a*a*b". */
#include "kv/glob.h"

#include <stdint.h>

/* Matches the set starting at pat[*pi] == '[' against c, and steps *pi past it. */
static bool set_matches(const unsigned char *pat, size_t plen, size_t *pi, unsigned char c)
{
	size_t i = *pi + 1;
	bool negate = i < plen && pat[i] == '^';
	if (negate)
		i++;
	bool match = false;
	while (i < plen) {
		if (pat[i] == '\\' && i + 1 < plen) {
			match |= pat[i + 1] == c;
			i += 2;
		} else if (pat[i] == ']') {
			i++;
			break;
		} else if (i + 2 < plen && pat[i + 1] == '-') {
			unsigned char lo = pat[i], hi = pat[i + 2];
			if (lo > hi) {
				unsigned char t = lo;
				lo = hi;
				hi = t;
			}
			match |= c >= lo && c <= hi;
			i += 3;
		} else {
			match |= pat[i] == c;
			i++;
		}
	}
	*pi = i;
	return negate ? !match : match;
}

/* Matches the one-byte token at pat[*pi] (not a star) against c, and steps *pi past it. */
static bool token_matches(const unsigned char *pat, size_t plen, size_t *pi, unsigned char c)
{
	size_t i = *pi;
	switch (pat[i]) {
	case '?':
		*pi = i + 1;
		return true;
	case '[':
		return set_matches(pat, plen, pi, c);
	case '\\':
		if (i + 1 < plen)
			i++;
		*pi = i + 1;
		return pat[i] == c;
	default:
		*pi = i + 1;
		return pat[i] == c;
	}
}

bool kv_glob_match(const unsigned char *pat, size_t plen, const unsigned char *str, size_t slen)
{
	size_t p = 0, s = 0;
	size_t star_p = SIZE_MAX; /* the pattern just after the latest run of stars */
	size_t star_s = 0;        /* where in str that star's match currently ends */
	while (s < slen) {
		if (p < plen && pat[p] == '*') {
			while (p < plen && pat[p] == '*')
				p++;
			if (p == plen)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		size_t next = p;
		if (p < plen && token_matches(pat, plen, &next, str[s])) {
			p = next;
			s++;
			continue;
		}
		if (star_p == SIZE_MAX)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}
