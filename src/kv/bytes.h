/* Little-endian fixed-width integers, and a bounds-checked reader for untrusted bytes.
 *
 * Every ballot format in src/kv/ (envelopes, command entries, snapshots) is built from
 * these, so "never read past len" is enforced in one place: a read that does not fit
 * returns false and leaves the reader where it was. */
#ifndef BALLOT_KV_BYTES_H
#define BALLOT_KV_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void le_put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void le_put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t le_get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t le_get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A cursor over data[0..len) that cannot step past the end. */
typedef struct byte_reader {
	const unsigned char *p;
	size_t left;
} byte_reader;

static inline byte_reader byte_reader_of(const void *data, size_t len)
{
	return (byte_reader){.p = data, .left = len};
}

static inline bool read_u8(byte_reader *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	r->p++;
	r->left--;
	return true;
}

static inline bool read_u32(byte_reader *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = le_get_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return true;
}

static inline bool read_u64(byte_reader *r, uint64_t *v)
{
	if (r->left < 8)
		return false;
	*v = le_get_u64(r->p);
	r->p += 8;
	r->left -= 8;
	return true;
}

/* Points *bytes at the next n bytes and steps over them. */
static inline bool read_bytes(byte_reader *r, size_t n, const unsigned char **bytes)
{
	if (r->left < n)
		return false;
	*bytes = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* Whether the next n bytes are `expect`, stepping over them if so. */
static inline bool read_magic(byte_reader *r, const char *expect, size_t n)
{
	if (r->left < n || memcmp(r->p, expect, n) != 0)
		return false;
	r->p += n;
	r->left -= n;
	return true;
}

#endif
