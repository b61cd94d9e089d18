/* Reference-counted buffers (see ballot/rbuf.h). */
#include "ballot/rbuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

typedef struct wrapped_rbuf {
	ballot_rbuf b;
	void (*release)(void *ctx);
	void *ctx;
} wrapped_rbuf;

ballot_rbuf *ballot_rbuf_new(const void *data, size_t len)
{
	ballot_rbuf *b = malloc(sizeof *b + len);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->external_ = 0;
	b->len = len;
	b->data = (unsigned char *)(b + 1);
	if (data != NULL && len > 0)
		memcpy(b->data, data, len);
	return b;
}

ballot_rbuf *ballot_rbuf_wrap(const void *data, size_t len, void (*release)(void *ctx), void *ctx)
{
	wrapped_rbuf *w = malloc(sizeof *w);
	if (w == NULL)
		return NULL;
	w->b.refs = 1;
	w->b.external_ = 1;
	w->b.len = len;
	w->b.data = (unsigned char *)data;
	w->release = release;
	w->ctx = ctx;
	return &w->b;
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
	if (--b->refs != 0)
		return;
	if (b->external_) {
		wrapped_rbuf *w = (wrapped_rbuf *)b;
		if (w->release != NULL)
			w->release(w->ctx);
	}
	free(b);
}
