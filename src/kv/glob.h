/* Redis glob patterns (KEYS, SCAN MATCH) over byte strings. */
#ifndef BALLOT_KV_GLOB_H
#define BALLOT_KV_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Whether str[0..slen) matches the pattern pat[0..plen), with Redis's rules:
 * `*` any run of bytes, `?` one byte, `[abc]` one of a set, `[^abc]` one byte not in it,
 * `[a-z]` a range (written either way round), `\x` the byte x (inside a set too); a set
 * left open at the end of the pattern ends there. Bytes compare as unsigned values (Redis
 * compares ranges as the platform's `char`, signed on x86; the two differ only for ranges
 * over bytes >= 0x80, and unsigned is the same on every replica). Time O(plen * slen), no
 * recursion, no allocation. */
bool kv_glob_match(const unsigned char *pat, size_t plen, const unsigned char *str, size_t slen);

#endif
