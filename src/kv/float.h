/* Long double texts as Redis 7.0 reads and writes them for INCRBYFLOAT: its string2ld and
 * the "human" mode of its ld2string.
 *
 * Both use the C library's strtold and snprintf("%.17Lf") under the "C" locale, whatever
 * locale the program set, so a replica's answer depends on the text and on the platform's
 * long double format alone: replicas of one cluster must share that format (x86-64's
 * 80-bit extended, on every x86-64 replica). */
#ifndef BALLOT_KV_FLOAT_H
#define BALLOT_KV_FLOAT_H

#include <stddef.h>

#include "ballot/limits.h"

/* Reads s[0..len) as Redis's string2ld does: strtold over the whole text, which must be
 * non-empty and shorter than BALLOT_KV_FLOAT_TEXT_MAX_BYTES, must not start with a space,
 * must not be NaN, overflow, or underflow to zero; a NUL byte anywhere makes it no number.
 * Decimal and hexadecimal forms, "inf" and "infinity" are accepted (in any case). Returns
 * 0 and *value; BALLOT_EINVAL (*value unchanged) for any other text; BALLOT_ENOMEM if the
 * "C" locale could not be had (the replica failed, not the text). */
int kv_parse_ld(const char *s, size_t len, long double *value);

/* Writes the finite value v into out[0..BALLOT_KV_FLOAT_TEXT_MAX_BYTES) as Redis's ld2string
 * in human mode: "%.17Lf" with the trailing zeros after the point removed, then the point if
 * nothing follows it, and "-0" written "0". Returns 0 and *len (out is NUL-terminated), or
 * BALLOT_ENOMEM if the "C" locale could not be had. Precondition: v is finite. */
int kv_format_ld(long double v, char *out, size_t *len);

#endif
