/* Growable byte buffer (see common/buf.h). */
#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/error.h"
#include "common/assert.h"

void ballot_buf_init(ballot_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit ? limit : SIZE_MAX / 2;
}

void ballot_buf_free(ballot_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void ballot_buf_clear(ballot_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int ballot_buf_reserve(ballot_buf *b, size_t extra)
{
	if (extra > b->limit || b->len > b->limit - extra)
		return BALLOT_ELIMIT;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (data == NULL)
		return BALLOT_ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int ballot_buf_append(ballot_buf *b, const void *data, size_t len)
{
	int rc = ballot_buf_reserve(b, len);
	if (rc != 0)
		return rc;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ballot_buf_puts(ballot_buf *b, const char *s)
{
	return ballot_buf_append(b, s, strlen(s));
}

int ballot_buf_printf(ballot_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	BALLOT_ASSERT(n >= 0);
	int rc = ballot_buf_reserve(b, (size_t)n);
	if (rc != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ballot_buf_consume(ballot_buf *b, size_t n)
{
	BALLOT_ASSERT(n <= b->len);
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	if (b->data != NULL)
		b->data[b->len] = '\0';
}
