/* A growable byte buffer. The buffer owns its memory; ballot_buf_free releases it.
 *
 * Appends either succeed whole or fail with BALLOT_ENOMEM / BALLOT_ELIMIT and leave the
 * contents as they were, so a caller can report the failure and keep what it had. */
#ifndef BALLOT_COMMON_BUF_H
#define BALLOT_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ballot_buf {
	char *data;   /* NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
	size_t limit; /* appends that would pass this many bytes fail with BALLOT_ELIMIT; 0: SIZE_MAX/2 */
} ballot_buf;

void ballot_buf_init(ballot_buf *b, size_t limit);
void ballot_buf_free(ballot_buf *b);
void ballot_buf_clear(ballot_buf *b);

/* Makes room for `extra` more bytes (plus a NUL) without changing len. */
int ballot_buf_reserve(ballot_buf *b, size_t extra);
int ballot_buf_append(ballot_buf *b, const void *data, size_t len);
int ballot_buf_puts(ballot_buf *b, const char *s);
int ballot_buf_printf(ballot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Removes the first n bytes (n <= len), keeping the rest. */
void ballot_buf_consume(ballot_buf *b, size_t n);

#endif
