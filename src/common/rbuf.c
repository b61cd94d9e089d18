/* Reference-counted buffers (see ballot/rbuf.h). */
#include "ballot/rbuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

ballot_rbuf *ballot_rbuf_new(const void *data, size_t len)
{
	ballot_rbuf *b = malloc(sizeof *b + len);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = len;
	if (data != NULL && len > 0)
		memcpy(b->data, data, len);
	return b;
}

ballot_rbuf *ballot_rbuf_ref(ballot_rbuf *b)
{
	if (b != NULL) {
		BALLOT_ASSERT(b->refs > 0);
		BALLOT_ASSERT(b->refs < UINT32_MAX);
		b->refs++;
	}
	return b;
}

void ballot_rbuf_unref(ballot_rbuf *b)
{
	if (b == NULL)
		return;
	BALLOT_ASSERT(b->refs > 0);
	if (--b->refs == 0)
		free(b);
}
