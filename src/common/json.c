/* Minimal JSON writer (see common/json.h). */
#include "common/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

void json_init(json_writer *w, ballot_buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
}

static void put(json_writer *w, const void *data, size_t len)
{
	if (w->rc == 0)
		w->rc = ballot_buf_append(w->out, data, len);
}

static void puts_(json_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Writes the separator a new value needs in the current container. */
static void before_value(json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth - 1])
			puts_(w, ",");
		w->need_comma[w->depth - 1] = true;
	}
}

static void open_container(json_writer *w, const char *bracket)
{
	before_value(w);
	puts_(w, bracket);
	BALLOT_ASSERT(w->depth < JSON_DEPTH_MAX);
	w->need_comma[w->depth++] = false;
}

static void close_container(json_writer *w, const char *bracket)
{
	BALLOT_ASSERT(w->depth > 0);
	BALLOT_ASSERT(!w->after_key);
	w->depth--;
	puts_(w, bracket);
}

void json_object_begin(json_writer *w) { open_container(w, "{"); }
void json_object_end(json_writer *w) { close_container(w, "}"); }
void json_array_begin(json_writer *w) { open_container(w, "["); }
void json_array_end(json_writer *w) { close_container(w, "]"); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > avail)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong or out of range */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0; /* surrogate */
	return len;
}

void json_string_n(json_writer *w, const void *data, size_t len)
{
	const unsigned char *s = data;
	before_value(w);
	puts_(w, "\"");
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
			i++;
		} else if (c < 0x20) {
			const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
			if (named != NULL) {
				puts_(w, named);
			} else {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				puts_(w, esc);
			}
			i++;
		} else {
			size_t n = utf8_sequence_len(s + i, len - i);
			if (n == 0) {
				puts_(w, "\\ufffd");
				i++;
			} else {
				put(w, s + i, n);
				i += n;
			}
		}
	}
	puts_(w, "\"");
}

void json_string(json_writer *w, const char *s)
{
	json_string_n(w, s, strlen(s));
}

void json_key(json_writer *w, const char *key)
{
	BALLOT_ASSERT(w->depth > 0);
	BALLOT_ASSERT(!w->after_key);
	json_string(w, key);
	puts_(w, ":");
	w->after_key = true;
}

int ballot_format_double(char out[32], double v)
{
	if (!isfinite(v))
		return snprintf(out, 32, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
	/* Integers print as integers ("10", not "1e+01") while they are exact in a double. */
	if (v == floor(v) && fabs(v) < 0x1p53)
		return snprintf(out, 32, "%.0f", v);
	for (int precision = 1; precision <= 17; precision++) {
		int n = snprintf(out, 32, "%.*g", precision, v);
		if (strtod(out, NULL) == v)
			return n;
	}
	return snprintf(out, 32, "%.17g", v);
}

void json_double(json_writer *w, double v)
{
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	char text[32];
	ballot_format_double(text, v);
	before_value(w);
	puts_(w, text);
}

void json_int(json_writer *w, int64_t v)
{
	char text[32];
	snprintf(text, sizeof text, "%" PRId64, v);
	before_value(w);
	puts_(w, text);
}

void json_uint(json_writer *w, uint64_t v)
{
	char text[32];
	snprintf(text, sizeof text, "%" PRIu64, v);
	before_value(w);
	puts_(w, text);
}

void json_bool(json_writer *w, bool v)
{
	before_value(w);
	puts_(w, v ? "true" : "false");
}

void json_null(json_writer *w)
{
	before_value(w);
	puts_(w, "null");
}
