/* The JSONL history reader: a strict JSON reader for one object per line, and the mapping
 * of its fields onto history events (docs/history.md).
 *
 * The input is hostile until proven otherwise: every line is bounded
 * (BALLOT_CHECK_LINE_MAX_BYTES), nesting is bounded (BALLOT_CHECK_JSON_DEPTH_MAX), strings
 * must be valid UTF-8 with paired surrogates, numbers follow RFC 8259's grammar, and any
 * violation is a message naming the line and column, never a crash. Fields other than
 * process, type, f, key and value are read (and so validated) but ignored. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/history.h"
#include "common/assert.h"

typedef enum jkind {
	JV_ABSENT = 0,
	JV_NULL,
	JV_INT,
	JV_STRING,
	JV_PAIR,    /* an array of exactly two of null, integer, string */
	JV_BIG_INT, /* an integer outside int64 */
	JV_NUMBER,  /* a number with a fraction or an exponent */
	JV_BOOL,
	JV_ARRAY, /* any other array */
	JV_OBJECT,
} jkind;

typedef struct jscalar {
	jkind kind;
	int64_t integer;
	const unsigned char *s; /* JV_STRING: unescaped, in the reader's scratch */
	size_t len;
} jscalar;

typedef struct jvalue {
	jscalar v;
	jscalar pair[2]; /* JV_PAIR */
} jvalue;

typedef struct jreader {
	const unsigned char *p, *end, *line_start;
	int depth;
	unsigned char *scratch; /* unescaped strings; at least the line's length */
	size_t scratch_len;
	const char *error; /* first syntax error, with the column of p at the time */
	size_t error_col;
} jreader;

/* Records the first error; returns false so callers can `return fail(r, "...")`. */
static bool fail(jreader *r, const char *what)
{
	if (r->error == NULL) {
		r->error = what;
		r->error_col = (size_t)(r->p - r->line_start) + 1;
	}
	return false;
}

static void skip_ws(jreader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
		r->p++;
}

static bool literal(jreader *r, const char *word)
{
	size_t len = strlen(word);
	if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
		return fail(r, "expected a JSON value");
	r->p += len;
	return true;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(jreader *r, unsigned *out)
{
	if (r->end - r->p < 4)
		return fail(r, "\\u needs four hex digits");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(r->p[i]);
		if (d < 0)
			return fail(r, "\\u needs four hex digits");
		v = v * 16 + (unsigned)d;
	}
	r->p += 4;
	*out = v;
	return true;
}

static void put_utf8(jreader *r, unsigned cp, bool keep)
{
	unsigned char buf[4];
	size_t n;
	if (cp < 0x80) {
		buf[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		buf[0] = (unsigned char)(0xc0 | (cp >> 6));
		buf[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (unsigned char)(0xe0 | (cp >> 12));
		buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		buf[0] = (unsigned char)(0xf0 | (cp >> 18));
		buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		buf[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (keep) {
		memcpy(r->scratch + r->scratch_len, buf, n);
		r->scratch_len += n;
	}
}

/* The length of the valid UTF-8 sequence (2 to 4 bytes) at p, or 0 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned cp;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07u;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return n;
}

/* Reads a string at p (which is at its opening quote). With keep, its unescaped bytes are
 * appended to the scratch and *out names them. */
static bool read_string(jreader *r, bool keep, jscalar *out)
{
	BALLOT_ASSERT(*r->p == '"');
	r->p++;
	size_t start = r->scratch_len;
	for (;;) {
		if (r->p >= r->end)
			return fail(r, "unterminated string");
		unsigned char c = *r->p;
		if (c == '"') {
			r->p++;
			break;
		}
		if (c < 0x20)
			return fail(r, "control character in a string (escape it)");
		if (c >= 0x80) {
			size_t n = utf8_sequence(r->p, r->end);
			if (n == 0)
				return fail(r, "invalid UTF-8 in a string");
			if (keep) {
				memcpy(r->scratch + r->scratch_len, r->p, n);
				r->scratch_len += n;
			}
			r->p += n;
			continue;
		}
		if (c != '\\') {
			if (keep)
				r->scratch[r->scratch_len++] = c;
			r->p++;
			continue;
		}
		r->p++;
		if (r->p >= r->end)
			return fail(r, "unterminated string");
		unsigned char e = *r->p++;
		unsigned cp;
		switch (e) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (!read_hex4(r, &cp))
				return false;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(r, "unpaired low surrogate in a \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
					return fail(r, "unpaired high surrogate in a \\u escape");
				r->p += 2;
				if (!read_hex4(r, &lo))
					return false;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(r, "unpaired high surrogate in a \\u escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			break;
		default:
			r->p--;
			return fail(r, "unknown escape in a string");
		}
		put_utf8(r, cp, keep);
	}
	if (out != NULL) {
		out->kind = JV_STRING;
		out->s = r->scratch + start;
		out->len = r->scratch_len - start;
	}
	return true;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool read_number(jreader *r, jscalar *out)
{
	bool negative = false;
	if (*r->p == '-') {
		negative = true;
		r->p++;
	}
	if (r->p >= r->end || !is_digit(*r->p))
		return fail(r, "expected a digit");
	uint64_t magnitude = 0;
	bool overflow = false;
	if (*r->p == '0') {
		r->p++;
		if (r->p < r->end && is_digit(*r->p))
			return fail(r, "a number cannot have a leading zero");
	} else {
		while (r->p < r->end && is_digit(*r->p)) {
			unsigned d = (unsigned)(*r->p - '0');
			if (magnitude > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				magnitude = magnitude * 10 + d;
			r->p++;
		}
	}
	bool integral = true;
	if (r->p < r->end && *r->p == '.') {
		integral = false;
		r->p++;
		if (r->p >= r->end || !is_digit(*r->p))
			return fail(r, "expected a digit after the decimal point");
		while (r->p < r->end && is_digit(*r->p))
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		integral = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || !is_digit(*r->p))
			return fail(r, "expected a digit in the exponent");
		while (r->p < r->end && is_digit(*r->p))
			r->p++;
	}
	if (out == NULL)
		return true;
	if (!integral) {
		out->kind = JV_NUMBER;
	} else if (overflow || magnitude > (uint64_t)INT64_MAX + (negative ? 1 : 0)) {
		out->kind = JV_BIG_INT;
	} else {
		out->kind = JV_INT;
		out->integer = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN
			     : negative ? -(int64_t)magnitude : (int64_t)magnitude;
	}
	return true;
}

static bool read_value(jreader *r, jscalar *out, jscalar pair[2]);

/* An array; with pair, its first two elements are read into it and out says JV_PAIR when
 * there are exactly two and both are null, integers or strings. */
static bool read_array(jreader *r, jscalar *out, jscalar pair[2])
{
	r->p++;
	size_t count = 0;
	bool scalars = true;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
	} else {
		for (;;) {
			jscalar element = {0};
			bool want = pair != NULL && count < 2;
			if (!read_value(r, want ? &element : NULL, NULL))
				return false;
			if (want) {
				pair[count] = element;
				if (element.kind != JV_NULL && element.kind != JV_INT &&
				    element.kind != JV_STRING)
					scalars = false;
			}
			count++;
			skip_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == ']') {
				r->p++;
				break;
			}
			return fail(r, "expected ',' or ']' in an array");
		}
	}
	if (out != NULL)
		out->kind = pair != NULL && count == 2 && scalars ? JV_PAIR : JV_ARRAY;
	return true;
}

/* Object members call back here: the top-level object wants some fields kept. */
typedef bool (*member_fn)(jreader *r, const jscalar *name, void *ctx);

static bool read_object(jreader *r, member_fn on_member, void *ctx)
{
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return true;
	}
	for (;;) {
		skip_ws(r);
		if (r->p >= r->end || *r->p != '"')
			return fail(r, "expected a string as an object key");
		jscalar name;
		if (!read_string(r, on_member != NULL, &name))
			return false;
		skip_ws(r);
		if (r->p >= r->end || *r->p != ':')
			return fail(r, "expected ':' after an object key");
		r->p++;
		if (on_member != NULL) {
			if (!on_member(r, &name, ctx))
				return false;
		} else if (!read_value(r, NULL, NULL)) {
			return false;
		}
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			return true;
		}
		return fail(r, "expected ',' or '}' in an object");
	}
}

/* Reads any JSON value; with out, notes its kind (and scalar contents). */
static bool read_value(jreader *r, jscalar *out, jscalar pair[2])
{
	skip_ws(r);
	if (r->p >= r->end)
		return fail(r, "expected a JSON value");
	jscalar ignored;
	if (out == NULL)
		out = &ignored;
	unsigned char c = *r->p;
	switch (c) {
	case '{':
	case '[': {
		if (r->depth >= BALLOT_CHECK_JSON_DEPTH_MAX)
			return fail(r, "nested too deeply");
		r->depth++;
		bool ok = c == '{' ? read_object(r, NULL, NULL) : read_array(r, out, pair);
		r->depth--;
		if (ok && c == '{')
			out->kind = JV_OBJECT;
		return ok;
	}
	case '"':
		return read_string(r, out != &ignored, out);
	case 't':
		out->kind = JV_BOOL;
		return literal(r, "true");
	case 'f':
		out->kind = JV_BOOL;
		return literal(r, "false");
	case 'n':
		out->kind = JV_NULL;
		return literal(r, "null");
	default:
		if (c == '-' || is_digit(c))
			return read_number(r, out == &ignored ? NULL : out);
		return fail(r, "expected a JSON value");
	}
}

/* ---- events ------------------------------------------------------------------------- */

enum { FIELD_PROCESS, FIELD_TYPE, FIELD_F, FIELD_KEY, FIELD_VALUE, FIELD_COUNT };
static const char *const field_names[FIELD_COUNT] = {"process", "type", "f", "key", "value"};

typedef struct event_fields {
	jvalue field[FIELD_COUNT];
	const char *duplicate; /* the first field given twice */
} event_fields;

static bool on_member(jreader *r, const jscalar *name, void *ctx)
{
	event_fields *ev = ctx;
	for (int i = 0; i < FIELD_COUNT; i++) {
		if (name->len != strlen(field_names[i]) || memcmp(name->s, field_names[i], name->len) != 0)
			continue;
		jvalue *v = &ev->field[i];
		if (v->v.kind != JV_ABSENT && ev->duplicate == NULL)
			ev->duplicate = field_names[i];
		*v = (jvalue){0};
		return read_value(r, &v->v, i == FIELD_VALUE ? v->pair : NULL);
	}
	return read_value(r, NULL, NULL);
}

static const char *kind_name(jkind kind)
{
	switch (kind) {
	case JV_ABSENT: return "missing";
	case JV_NULL: return "null";
	case JV_INT: return "an integer";
	case JV_STRING: return "a string";
	case JV_PAIR: return "an array";
	case JV_BIG_INT: return "an integer out of the 64-bit range";
	case JV_NUMBER: return "a number with a fraction or exponent";
	case JV_BOOL: return "true or false";
	case JV_ARRAY: return "an array";
	case JV_OBJECT: return "an object";
	}
	return "unknown";
}

typedef struct line_ctx {
	ballot_history *h;
	uint64_t line;
	ballot_errmsg *em;
} line_ctx;

static int field_error(const line_ctx *c, const char *field, const char *must, jkind got)
{
	if (got == JV_ABSENT)
		return ballot_errorf(c->em, BALLOT_EINVAL, "line %" PRIu64 ": \"%s\" is missing; it must be %s",
				     c->line, field, must);
	return ballot_errorf(c->em, BALLOT_EINVAL, "line %" PRIu64 ": \"%s\" must be %s, not %s", c->line,
			     field, must, kind_name(got));
}

static bool scalar_value(const jscalar *s, ballot_value *out)
{
	switch (s->kind) {
	case JV_NULL:
		*out = ballot_value_null();
		return true;
	case JV_INT:
		*out = ballot_value_int(s->integer);
		return true;
	case JV_STRING:
		*out = ballot_value_bytes(s->s, s->len);
		return true;
	default:
		return false;
	}
}

static int match_name(const jscalar *s, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (s->len == strlen(names[i]) && memcmp(s->s, names[i], s->len) == 0)
			return i;
	return -1;
}

static int parse_f(const line_ctx *c, const jscalar *s, ballot_op_kind *out)
{
	static const char *const names[BALLOT_OP_KIND_COUNT_] = {"read", "write", "cas", "incr", "append"};
	if (s->kind != JV_STRING)
		return field_error(c, "f", "one of \"read\", \"write\", \"cas\", \"incr\", \"append\"", s->kind);
	int i = match_name(s, names, BALLOT_OP_KIND_COUNT_);
	if (i < 0)
		return ballot_errorf(c->em, BALLOT_EINVAL,
				     "line %" PRIu64 ": unknown \"f\" \"%.*s\"; use read, write, cas, incr or append",
				     c->line, (int)(s->len > 40 ? 40 : s->len), (const char *)s->s);
	*out = (ballot_op_kind)i;
	return 0;
}

/* A key is a string, or an integer standing for its decimal text. */
static int parse_key(const line_ctx *c, const jscalar *s, char text[24], const void **key, size_t *len)
{
	if (s->kind == JV_STRING) {
		*key = s->s;
		*len = s->len;
		return 0;
	}
	if (s->kind == JV_INT) {
		*len = (size_t)history_format_int(text, s->integer);
		*key = text;
		return 0;
	}
	return field_error(c, "key", "a string or an integer", s->kind);
}

static int invoke_value(const line_ctx *c, ballot_op_kind f, const jvalue *v, ballot_call *call)
{
	switch (f) {
	case BALLOT_OP_READ:
		return 0; /* a read's invoke value (conventionally null) is not used */
	case BALLOT_OP_WRITE:
		if (!scalar_value(&v->v, &call->value))
			return field_error(c, "value", "the value written: null, an integer or a string", v->v.kind);
		return 0;
	case BALLOT_OP_CAS:
		if (v->v.kind != JV_PAIR)
			return field_error(c, "value",
					   "[expected, new], each null, an integer or a string", v->v.kind);
		scalar_value(&v->pair[0], &call->value);
		scalar_value(&v->pair[1], &call->value2);
		return 0;
	case BALLOT_OP_INCR:
		if (v->v.kind != JV_INT)
			return field_error(c, "value", "the increment, an integer", v->v.kind);
		call->value = ballot_value_int(v->v.integer);
		return 0;
	case BALLOT_OP_APPEND:
		if (v->v.kind != JV_INT && v->v.kind != JV_STRING)
			return field_error(c, "value", "the suffix, a string or an integer", v->v.kind);
		scalar_value(&v->v, &call->value);
		return 0;
	case BALLOT_OP_KIND_COUNT_:
		break;
	}
	BALLOT_UNREACHABLE();
}

static int apply_event(const line_ctx *c, const event_fields *ev)
{
	static const char *const types[BALLOT_EVENT_TYPE_COUNT_] = {"invoke", "ok", "fail", "info"};
	if (ev->duplicate != NULL)
		return ballot_errorf(c->em, BALLOT_EINVAL, "line %" PRIu64 ": \"%s\" is given twice",
				     c->line, ev->duplicate);
	const jscalar *process = &ev->field[FIELD_PROCESS].v;
	if (process->kind != JV_INT)
		return field_error(c, "process", "an integer", process->kind);
	const jscalar *type_s = &ev->field[FIELD_TYPE].v;
	if (type_s->kind != JV_STRING)
		return field_error(c, "type", "one of \"invoke\", \"ok\", \"fail\", \"info\"", type_s->kind);
	int type = match_name(type_s, types, BALLOT_EVENT_TYPE_COUNT_);
	if (type < 0)
		return ballot_errorf(c->em, BALLOT_EINVAL,
				     "line %" PRIu64 ": unknown \"type\" \"%.*s\"; use invoke, ok, fail or info",
				     c->line, (int)(type_s->len > 40 ? 40 : type_s->len), (const char *)type_s->s);

	const jscalar *f_s = &ev->field[FIELD_F].v;
	const jscalar *key_s = &ev->field[FIELD_KEY].v;
	const jvalue *value = &ev->field[FIELD_VALUE];
	char key_text[24];
	int rc;
	if (type == BALLOT_EVENT_INVOKE) {
		ballot_call call = {0};
		rc = parse_f(c, f_s, &call.f);
		if (rc == 0)
			rc = parse_key(c, key_s, key_text, &call.key, &call.key_len);
		if (rc == 0)
			rc = invoke_value(c, call.f, value, &call);
		if (rc == 0)
			rc = history_invoke_at(c->h, c->line, process->integer, &call, c->em);
		return rc;
	}

	/* A completion: f and key may be left out, but must match when given. */
	ballot_op_kind f;
	history_expect expect = {0};
	if (f_s->kind != JV_ABSENT) {
		rc = parse_f(c, f_s, &f);
		if (rc != 0)
			return rc;
		expect.f = &f;
	}
	if (key_s->kind != JV_ABSENT) {
		rc = parse_key(c, key_s, key_text, &expect.key, &expect.key_len);
		if (rc != 0)
			return rc;
		expect.has_key = true;
	}
	/* Only an ok read or incr reads its value; the history knows which f is open, so a
	 * value of the wrong shape is reported there, and only when it is needed. */
	ballot_value result = ballot_value_null();
	bool has_result = value->v.kind != JV_ABSENT;
	if (has_result && !scalar_value(&value->v, &result)) {
		expect.value_bad_kind = kind_name(value->v.kind);
		has_result = false;
	}
	return history_complete_at(c->h, c->line, process->integer, (ballot_event_type)type,
				   has_result ? &result : NULL, &expect, c->em);
}

/* Parses one non-blank line (without its newline) into an event. */
static int parse_line(ballot_history *h, uint64_t line, const unsigned char *text, size_t len,
		      unsigned char *scratch, ballot_errmsg *em)
{
	jreader r = {.p = text, .end = text + len, .line_start = text, .scratch = scratch};
	event_fields ev;
	memset(&ev, 0, sizeof ev);
	skip_ws(&r);
	bool ok;
	if (r.p < r.end && *r.p == '{') {
		r.depth = 1;
		ok = read_object(&r, on_member, &ev);
		if (ok) {
			skip_ws(&r);
			if (r.p != r.end)
				ok = fail(&r, "text after the object (one object per line)");
		}
	} else {
		ok = fail(&r, "expected '{': each line is one JSON object");
	}
	if (!ok)
		return ballot_errorf(em, BALLOT_EINVAL, "line %" PRIu64 ", column %zu: %s", line,
				     r.error_col, r.error);
	line_ctx c = {.h = h, .line = line, .em = em};
	return apply_event(&c, &ev);
}

static bool blank(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

int ballot_history_parse_jsonl(ballot_history *h, const char *text, size_t len,
			       uint64_t *bad_line, ballot_errmsg *em)
{
	const unsigned char *p = (const unsigned char *)text;
	const unsigned char *end = p + len;
	unsigned char *scratch = NULL;
	size_t scratch_cap = 0;
	uint64_t line = 0;
	int rc = 0;
	const char *unit = h->unit;
	h->unit = "line";
	while (p < end) {
		line++;
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const unsigned char *next = nl != NULL ? nl + 1 : end;
		if (line_len > BALLOT_CHECK_LINE_MAX_BYTES) {
			rc = ballot_errorf(em, BALLOT_ELIMIT,
					   "line %" PRIu64 ": longer than %u bytes", line,
					   BALLOT_CHECK_LINE_MAX_BYTES);
			break;
		}
		if (!blank(p, line_len)) {
			if (line_len > scratch_cap) {
				size_t cap = scratch_cap ? scratch_cap : 256;
				while (cap < line_len)
					cap *= 2;
				unsigned char *grown = realloc(scratch, cap);
				if (grown == NULL) {
					rc = ballot_errorf(em, BALLOT_ENOMEM, "line %" PRIu64 ": out of memory", line);
					break;
				}
				scratch = grown;
				scratch_cap = cap;
			}
			rc = parse_line(h, line, p, line_len, scratch, em);
			if (rc != 0)
				break;
		}
		p = next;
	}
	h->unit = unit;
	free(scratch);
	if (rc != 0 && bad_line != NULL)
		*bad_line = line;
	return rc;
}
