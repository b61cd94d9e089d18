/* Decimal integers as Redis reads them (its string2ll), shared by the request parser and
 * the key-value commands so both accept exactly the same texts. */
#ifndef BALLOT_COMMON_DECIMAL_H
#define BALLOT_COMMON_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters of the longest int64 text ("-9223372036854775808"). */
#define BALLOT_INT64_CHARS_MAX 20

/* Reads s[0..len) as an int64: an optional '-', then "0" or a non-zero digit followed by
 * digits; no '+', no spaces, no leading zeros, no "-0"; within int64. Returns false (and
 * leaves *value) for anything else. */
bool ballot_parse_ll(const char *s, size_t len, int64_t *value);

#endif
