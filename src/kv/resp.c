/* RESP2 replies: the writer the key-value store answers with, and a decoder for untrusted
 * reply bytes (see ballot/resp.h).
 *
 * The decoder makes two passes over the same bytes with the same code: the first checks
 * the reply and counts its values and string bytes, the second copies it into one
 * allocation of exactly that size. So a malformed or partial reply allocates nothing, a
 * whole one allocates once, and ballot_resp_free is one free(). */
#include "ballot/resp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/buf.h"
#include "kv/bytes_out.h"

/* Characters in the longest header line we accept ("-9223372036854775808"). */
#define RESP_NUMBER_CHARS_MAX 20

/* ----------------------------------------------------------------------------------------
 * Writing */

int ballot_resp_simple(ballot_buf *b, const char *text)
{
	BALLOT_ASSERT(strchr(text, '\r') == NULL);
	BALLOT_ASSERT(strchr(text, '\n') == NULL);
	size_t n = strlen(text);
	int rc = ballot_buf_reserve(b, n + 3);
	if (rc != 0)
		return rc;
	ballot_buf_append(b, "+", 1);
	ballot_buf_append(b, text, n);
	ballot_buf_append(b, "\r\n", 2);
	return 0;
}

int ballot_resp_error(ballot_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	BALLOT_ASSERT(n >= 0);
	int rc = ballot_buf_reserve(b, (size_t)n + 3);
	if (rc != 0)
		return rc;
	char *text = b->data + b->len + 1;
	b->data[b->len] = '-';
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	/* As Redis: bytes quoted from a command must not end the line early. */
	for (int i = 0; i < n; i++) {
		if (text[i] == '\r' || text[i] == '\n')
			text[i] = ' ';
	}
	b->len += (size_t)n + 1;
	ballot_buf_append(b, "\r\n", 2);
	return 0;
}

/* Writes the header "<sign><number>\r\n" in one append. */
static int resp_header(ballot_buf *b, char sign, int64_t value)
{
	char line[RESP_NUMBER_CHARS_MAX + 4];
	int n = snprintf(line, sizeof line, "%c%" PRId64 "\r\n", sign, value);
	BALLOT_ASSERT(n > 0);
	BALLOT_ASSERT((size_t)n < sizeof line);
	return ballot_buf_append(b, line, (size_t)n);
}

int ballot_resp_integer(ballot_buf *b, int64_t value)
{
	return resp_header(b, ':', value);
}

int ballot_resp_bulk(ballot_buf *b, const void *data, size_t len)
{
	BALLOT_ASSERT(len <= INT64_MAX);
	int rc = ballot_buf_reserve(b, len + RESP_NUMBER_CHARS_MAX + 5);
	if (rc != 0)
		return rc;
	resp_header(b, '$', (int64_t)len);
	ballot_buf_append(b, data, len);
	ballot_buf_append(b, "\r\n", 2);
	return 0;
}

int ballot_resp_null(ballot_buf *b)
{
	return ballot_buf_append(b, "$-1\r\n", 5);
}

int ballot_resp_array(ballot_buf *b, size_t count)
{
	BALLOT_ASSERT(count <= INT64_MAX);
	return resp_header(b, '*', (int64_t)count);
}

/* ----------------------------------------------------------------------------------------
 * Decoding */

/* parse_* results besides 0 and negative error codes: the input ends inside the reply. */
#define NEED_MORE 1

typedef struct resp_parser {
	const unsigned char *data;
	size_t len;
	size_t pos;
	ballot_errmsg *em;
	/* Pass 1 counts; pass 2 (fill) hands out the space pass 1 counted. */
	bool fill;
	size_t nodes;
	size_t str_bytes;
	ballot_resp_value *next_node;
	char *next_str;
} resp_parser;

/* Finds the CRLF ending the line at p->pos; *end is the offset of its CR. At most max
 * bytes may come before it. */
static int find_line(resp_parser *p, size_t max, size_t *end)
{
	*end = p->pos; /* set on every path: gcc -O3 cannot tell ballot_errorf never returns 0 */
	size_t limit = p->len - p->pos > max + 2 ? p->pos + max + 2 : p->len;
	for (size_t i = p->pos; i < limit; i++) {
		unsigned char c = p->data[i];
		if (c == '\n')
			return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: line feed without carriage return", i);
		if (c != '\r')
			continue;
		if (i + 1 == p->len)
			return NEED_MORE;
		if (p->data[i + 1] != '\n')
			return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: carriage return without line feed", i);
		*end = i;
		return 0;
	}
	if (limit < p->len)
		return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: line longer than %zu bytes", p->pos, max);
	return NEED_MORE;
}

/* Parses the decimal integer text[0..n): an optional sign, then 1 to 19 digits. */
static bool parse_i64(const unsigned char *text, size_t n, int64_t *value)
{
	size_t i = 0;
	bool negative = false;
	if (n > 0 && (text[0] == '-' || text[0] == '+')) {
		negative = text[0] == '-';
		i = 1;
	}
	if (i == n)
		return false;
	uint64_t v = 0;
	uint64_t bound = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		unsigned d = text[i] - '0';
		if (v > (bound - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value = negative ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* Reads the header line after a type byte as an integer into *value. */
static int parse_number_line(resp_parser *p, int64_t *value)
{
	*value = 0; /* set on every path, as find_line's *end */
	size_t end;
	int rc = find_line(p, RESP_NUMBER_CHARS_MAX, &end);
	if (rc != 0)
		return rc;
	if (!parse_i64(p->data + p->pos, end - p->pos, value))
		return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: not a decimal integer", p->pos);
	p->pos = end + 2;
	return 0;
}

/* Copies n bytes at `from` into the string space; pass 1 only counts them. */
static const char *take_string(resp_parser *p, const unsigned char *from, size_t n)
{
	if (!p->fill) {
		p->str_bytes += n + 1;
		return NULL;
	}
	char *s = p->next_str;
	memcpy(s, from, n);
	s[n] = '\0';
	p->next_str += n + 1;
	return s;
}

static int parse_line_string(resp_parser *p, ballot_resp_value *v)
{
	size_t end;
	int rc = find_line(p, BALLOT_RESP_BULK_MAX_BYTES, &end);
	if (rc != 0)
		return rc;
	const char *s = take_string(p, p->data + p->pos, end - p->pos);
	if (v != NULL) {
		v->str = s;
		v->len = end - p->pos;
	}
	p->pos = end + 2;
	return 0;
}

/* Reads the length header of a bulk string or an array ("$5", "*2"). -1 is the null of its
 * kind: *is_null is set and v (if any) gets null_type. Other negatives are corrupt;
 * lengths past max are refused. `what` names the kind in messages. */
static int parse_length(resp_parser *p, ballot_resp_value *v, ballot_resp_type null_type, uint64_t max,
			const char *what, size_t *len, bool *is_null)
{
	size_t start = p->pos;
	int64_t n;
	int rc = parse_number_line(p, &n);
	if (rc != 0)
		return rc;
	*is_null = n == -1;
	if (*is_null) {
		if (v != NULL)
			v->type = null_type;
		return 0;
	}
	if (n < 0)
		return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: %s length %" PRId64, start, what, n);
	if ((uint64_t)n > max)
		return ballot_errorf(p->em, BALLOT_ELIMIT, "byte %zu: %s length %" PRId64 " is past %" PRIu64,
				     start, what, n, max);
	*len = (size_t)n;
	return 0;
}

static int parse_bulk(resp_parser *p, ballot_resp_value *v)
{
	size_t len = 0;
	bool is_null = false;
	int rc = parse_length(p, v, BALLOT_RESP_NULL, BALLOT_RESP_BULK_MAX_BYTES, "bulk", &len, &is_null);
	if (rc != 0 || is_null)
		return rc;
	if (p->len - p->pos < len + 2)
		return NEED_MORE;
	if (p->data[p->pos + len] != '\r' || p->data[p->pos + len + 1] != '\n')
		return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: bulk string not followed by CRLF",
				     p->pos + len);
	const char *s = take_string(p, p->data + p->pos, len);
	if (v != NULL) {
		v->str = s;
		v->len = len;
	}
	p->pos += len + 2;
	return 0;
}

static int parse_value(resp_parser *p, ballot_resp_value *v, unsigned depth);

static int parse_array(resp_parser *p, ballot_resp_value *v, unsigned depth)
{
	size_t start = p->pos;
	size_t count = 0;
	bool is_null = false;
	int rc = parse_length(p, v, BALLOT_RESP_NULL_ARRAY, BALLOT_RESP_ARRAY_MAX, "array", &count, &is_null);
	if (rc != 0 || is_null)
		return rc;
	if (depth + 1 > BALLOT_RESP_DEPTH_MAX)
		return ballot_errorf(p->em, BALLOT_ELIMIT, "byte %zu: arrays nested deeper than %d", start,
				     BALLOT_RESP_DEPTH_MAX);
	ballot_resp_value *items = NULL;
	if (p->fill) {
		items = count > 0 ? p->next_node : NULL;
		p->next_node += count;
	} else {
		p->nodes += count;
	}
	if (v != NULL) {
		v->items = items;
		v->count = count;
	}
	for (size_t i = 0; i < count; i++) {
		rc = parse_value(p, items != NULL ? &items[i] : NULL, depth + 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int parse_value(resp_parser *p, ballot_resp_value *v, unsigned depth)
{
	if (p->pos == p->len)
		return NEED_MORE;
	unsigned char type = p->data[p->pos++];
	if (v != NULL)
		*v = (ballot_resp_value){0};
	switch (type) {
	case '+':
	case '-':
		if (v != NULL)
			v->type = type == '+' ? BALLOT_RESP_SIMPLE : BALLOT_RESP_ERROR;
		return parse_line_string(p, v);
	case ':': {
		int64_t n = 0;
		int rc = parse_number_line(p, &n);
		if (v != NULL) {
			v->type = BALLOT_RESP_INTEGER;
			v->integer = n;
		}
		return rc;
	}
	case '$':
		if (v != NULL)
			v->type = BALLOT_RESP_BULK;
		return parse_bulk(p, v);
	case '*':
		if (v != NULL)
			v->type = BALLOT_RESP_ARRAY;
		return parse_array(p, v, depth);
	default:
		return ballot_errorf(p->em, BALLOT_ECORRUPT, "byte %zu: 0x%02x is not a RESP2 type", p->pos - 1,
				     type);
	}
}

int ballot_resp_decode_reply(const void *data, size_t len, ballot_resp_value **out, size_t *consumed,
			     ballot_errmsg *em)
{
	*out = NULL;
	*consumed = 0;
	resp_parser p = {.data = data, .len = len, .em = em, .nodes = 1};
	int rc = parse_value(&p, NULL, 0);
	if (rc == NEED_MORE)
		return 0;
	if (rc != 0)
		return rc;
	/* Each value takes at least 3 input bytes, so nodes <= len / 3 + 1: no overflow. */
	size_t node_bytes = p.nodes * sizeof(ballot_resp_value);
	ballot_resp_value *root = malloc(node_bytes + p.str_bytes);
	if (root == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory decoding a %zu-byte reply", p.pos);
	size_t whole = p.pos;
	size_t nodes = p.nodes;
	size_t str_bytes = p.str_bytes;
	p = (resp_parser){.data = data, .len = len, .em = em, .fill = true, .next_node = root + 1,
			  .next_str = (char *)root + node_bytes};
	rc = parse_value(&p, root, 0);
	BALLOT_ASSERT(rc == 0);
	BALLOT_ASSERT(p.pos == whole);
	BALLOT_ASSERT(p.next_node == root + nodes);
	BALLOT_ASSERT(p.next_str == (char *)root + node_bytes + str_bytes);
	*out = root;
	*consumed = whole;
	return 0;
}

void ballot_resp_free(ballot_resp_value *value)
{
	free(value);
}
