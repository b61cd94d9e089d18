/* A minimal JSON writer over a ballot_buf, for reports and --json output.
 *
 * It tracks commas itself: call json_key() before each member of an object, then one value
 * call. The first allocation failure is sticky in w->rc, so a caller checks once at the end.
 * Strings are written as UTF-8; invalid bytes become U+FFFD, control characters are escaped. */
#ifndef BALLOT_COMMON_JSON_H
#define BALLOT_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define JSON_DEPTH_MAX 32

typedef struct json_writer {
	ballot_buf *out;
	int rc;                          /* 0, or the first error from the buffer */
	int depth;
	bool need_comma[JSON_DEPTH_MAX]; /* per open container: a value was already written */
	bool after_key;
} json_writer;

void json_init(json_writer *w, ballot_buf *out);
void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s);
void json_string_n(json_writer *w, const void *s, size_t len);
/* Writes the shortest decimal that reads back as the same double; null if not finite. */
void json_double(json_writer *w, double v);
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);

/* Formats v as the shortest decimal that reads back as the same double ("0.972", "1e-09").
 * Writes at most 32 bytes including the NUL; returns the length. */
int ballot_format_double(char out[32], double v);

#endif
