/* Appending little-endian integers to a ballot_buf (the writing half of kv/bytes.h). */
#ifndef BALLOT_KV_BYTES_OUT_H
#define BALLOT_KV_BYTES_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/assert.h"
#include "common/buf.h"
#include "kv/bytes.h"

static inline int buf_put_u8(ballot_buf *b, uint8_t v)
{
	return ballot_buf_append(b, &v, 1);
}

static inline int buf_put_u32(ballot_buf *b, uint32_t v)
{
	unsigned char raw[4];
	le_put_u32(raw, v);
	return ballot_buf_append(b, raw, sizeof raw);
}

static inline int buf_put_u64(ballot_buf *b, uint64_t v)
{
	unsigned char raw[8];
	le_put_u64(raw, v);
	return ballot_buf_append(b, raw, sizeof raw);
}

/* Drops everything after the first len bytes (len <= b->len): how a multi-part write
 * that failed halfway gives the buffer back as it was. */
static inline void buf_truncate(ballot_buf *b, size_t len)
{
	BALLOT_ASSERT(len <= b->len);
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

#endif
