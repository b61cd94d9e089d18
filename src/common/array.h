/* Growing a heap array by doubling: the one place that does realloc arithmetic.
 *
 * ballot_array_reserve makes room for one more element: if count == *cap, the array at
 * *items is reallocated to twice its capacity (or `initial` elements when empty). On
 * failure nothing changes and BALLOT_ENOMEM is returned, so callers keep what they had. */
#ifndef BALLOT_COMMON_ARRAY_H
#define BALLOT_COMMON_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ballot/error.h"

static inline int ballot_array_reserve(void *items, size_t *cap, size_t count, size_t elem_size, size_t initial)
{
	void **p = items;
	if (count < *cap)
		return 0;
	size_t grown = *cap ? *cap * 2 : initial;
	if (grown < *cap || grown > SIZE_MAX / elem_size)
		return BALLOT_ENOMEM;
	void *next = realloc(*p, grown * elem_size);
	if (next == NULL)
		return BALLOT_ENOMEM;
	*p = next;
	*cap = grown;
	return 0;
}

#endif
