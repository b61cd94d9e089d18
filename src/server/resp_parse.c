/* RESP2 request parser (see ballot/resp_parse.h).
 *
 * A state machine over the connection's byte stream, resumable at any byte. It follows
 * Redis 7's networking.c (processMultibulkBuffer, processInlineBuffer) and sds.c
 * (sdssplitargs, string2ll in util.c) rule for rule, including what Redis does not check:
 * a header line ends at its CR and the byte after it is skipped unread, and so are the two
 * bytes after a bulk string's data; Redis finds line ends with strchr, so a NUL before the
 * end hides the end and only the size limit ends the wait. Each rule was checked against a
 * real Redis 7.0.15; tests/unit/test_resp_parse.c says what Redis answered.
 *
 * Where the bytes go. An argument that arrives whole in the caller's buffer is returned
 * in place. When a call ends inside a request, the arguments so far are copied into the
 * arena (the caller may then drop its buffer), and so are the bytes of a bulk string that
 * is still arriving; so the arena holds arguments [0, arena_args) of the request, in
 * order, back to back, and their pointers are set when the request is returned (the arena
 * may move while it grows). An unfinished header or inline line is not copied: the caller
 * keeps it, and line_scanned says how far it has been searched. */
#include "ballot/resp_parse.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/decimal.h"

/* What the next byte of the stream is. */
enum parse_phase {
	PHASE_START = 0,   /* the first byte of a request: '*' multibulk, else inline */
	PHASE_COUNT_LINE,  /* in "*<count>\r\n" (an unfinished one starts at buf[0]) */
	PHASE_BULK_LINE,   /* in "$<len>\r\n" (ditto) */
	PHASE_BULK_DATA,   /* in a bulk string's len bytes and the two after them */
	PHASE_INLINE_LINE, /* in an inline request line (ditto) */
};

/* What a step of the state machine found, besides 0 (go on) and negative error codes. */
enum step_result {
	STEP_NEXT = 0, /* go on with the next phase */
	STEP_MORE,     /* the buffer ends inside the request */
	STEP_REQUEST,  /* a whole request is in argv */
};

enum line_result { LINE_FOUND, LINE_MORE, LINE_TOO_BIG };

/* Redis's string2ll accepts at most 20 characters ("-9223372036854775808"). */
#define LL_CHARS_MAX BALLOT_INT64_CHARS_MAX

static const char empty_arg[1] = "";

void ballot_resp_parser_init(ballot_resp_parser *p)
{
	*p = (ballot_resp_parser){.phase = PHASE_START};
}

void ballot_resp_parser_free(ballot_resp_parser *p)
{
	if (p == NULL)
		return;
	free(p->argv);
	free(p->arena);
	*p = (ballot_resp_parser){.phase = PHASE_START};
}

size_t ballot_resp_parser_held_bytes(const ballot_resp_parser *p)
{
	return p->arena_cap + p->argv_cap * sizeof(ballot_resp_arg);
}

/* ----------------------------------------------------------------------------------------
 * Storage */

static int out_of_memory(ballot_errmsg *em)
{
	return ballot_errorf(em, BALLOT_ENOMEM, "ERR out of memory reading the request");
}

/* Starts a request: forgets the last one (its argv is no longer the caller's) and gives
 * back storage a large request left behind. */
static void request_reset(ballot_resp_parser *p)
{
	p->argc = 0;
	p->arena_args = 0;
	p->arena_len = 0;
	p->request_bytes = 0;
	if (p->arena_cap > BALLOT_RESP_PARSER_KEEP_BYTES) {
		free(p->arena);
		p->arena = NULL;
		p->arena_cap = 0;
	}
	if (p->argv_cap * sizeof(ballot_resp_arg) > BALLOT_RESP_PARSER_KEEP_BYTES) {
		free(p->argv);
		p->argv = NULL;
		p->argv_cap = 0;
	}
}

static int arena_reserve(ballot_resp_parser *p, size_t extra, ballot_errmsg *em)
{
	if (extra <= p->arena_cap - p->arena_len)
		return 0;
	size_t need = p->arena_len + extra;
	/* The limits keep the arena to one request, plus one inline line's worth. */
	BALLOT_ASSERT(need <= (size_t)BALLOT_RESP_REQUEST_MAX_BYTES + BALLOT_RESP_INLINE_MAX_BYTES);
	size_t cap = p->arena_cap > 0 ? p->arena_cap : 256;
	while (cap < need)
		cap *= 2;
	char *arena = realloc(p->arena, cap);
	if (arena == NULL)
		return out_of_memory(em);
	p->arena = arena;
	p->arena_cap = cap;
	return 0;
}

static int arena_append(ballot_resp_parser *p, const char *data, size_t n, ballot_errmsg *em)
{
	if (n == 0)
		return 0;
	int rc = arena_reserve(p, n, em);
	if (rc != 0)
		return rc;
	memcpy(p->arena + p->arena_len, data, n);
	p->arena_len += n;
	return 0;
}

/* Appends an argument; data is NULL for one whose bytes are in the arena. */
static int push_arg(ballot_resp_parser *p, const char *data, size_t len, ballot_errmsg *em)
{
	if (p->argc == p->argv_cap) {
		size_t cap = p->argv_cap > 0 ? p->argv_cap * 2 : 8;
		ballot_resp_arg *argv = realloc(p->argv, cap * sizeof *argv);
		if (argv == NULL)
			return out_of_memory(em);
		p->argv = argv;
		p->argv_cap = cap;
	}
	p->argv[p->argc++] = (ballot_resp_arg){.data = data, .len = len};
	return 0;
}

/* The call is about to return inside a request: copies the arguments that point into the
 * caller's buffer into the arena, since the caller may drop that buffer. */
static int park_args(ballot_resp_parser *p, ballot_errmsg *em)
{
	size_t bytes = 0;
	for (size_t i = p->arena_args; i < p->argc; i++)
		bytes += p->argv[i].len;
	int rc = arena_reserve(p, bytes, em);
	if (rc != 0)
		return rc;
	for (size_t i = p->arena_args; i < p->argc; i++) {
		memcpy(p->arena + p->arena_len, p->argv[i].data, p->argv[i].len);
		p->arena_len += p->argv[i].len;
		p->argv[i].data = NULL;
	}
	p->arena_args = p->argc;
	return 0;
}

/* Points the arena's arguments at their bytes, now that the arena no longer moves. */
static void request_finish(ballot_resp_parser *p, ballot_resp_request *req)
{
	const char *base = p->arena != NULL ? p->arena : empty_arg;
	size_t offset = 0;
	for (size_t i = 0; i < p->arena_args; i++) {
		p->argv[i].data = base + offset;
		offset += p->argv[i].len;
	}
	BALLOT_ASSERT(offset == p->arena_len);
	BALLOT_ASSERT(p->argc > 0);
	req->argc = p->argc;
	req->argv = p->argv;
}

/* ----------------------------------------------------------------------------------------
 * Lines and numbers */

static void line_start(ballot_resp_parser *p)
{
	p->line_scanned = 0;
	p->line_stalled = false;
}

/* Finds the end byte (CR for header lines, LF for inline lines) of the line line[0..avail).
 *
 * As Redis's strchr, the search stops at a NUL: such a line never ends ("stalled"), and
 * waits until the size limit refuses it. Redis applies the limit when a read leaves a
 * line unfinished with more than BALLOT_RESP_INLINE_MAX_BYTES bytes buffered, so its
 * verdict on a long line depends on how TCP split the stream; here it is applied as if
 * every byte came alone (the end must be among the first limit + 1 bytes), which gives
 * one verdict for every split and Redis's verdict for most.
 *
 * For CR, the byte after it must be there too: Redis then skips it, whatever it is.
 * Searches from line_scanned, and remembers where it stopped if the line is unfinished. */
static enum line_result find_line(ballot_resp_parser *p, const char *line, size_t avail, char end,
				  size_t *end_at)
{
	const size_t window = (size_t)BALLOT_RESP_INLINE_MAX_BYTES + 1;
	if (!p->line_stalled) {
		size_t stop = avail < window ? avail : window;
		size_t i = p->line_scanned;
		while (i < stop && line[i] != end && line[i] != '\0')
			i++;
		p->line_scanned = i;
		if (i < stop && line[i] == '\0')
			p->line_stalled = true;
		else if (i < stop && (end != '\r' || i + 1 < avail)) {
			*end_at = i;
			p->line_scanned = 0; /* only an unfinished line has a scan position */
			return LINE_FOUND;
		} else if (i < stop) {
			return LINE_MORE; /* a CR, and the byte after it has not come */
		}
	}
	return avail > BALLOT_RESP_INLINE_MAX_BYTES ? LINE_TOO_BIG : LINE_MORE;
}


/* Finds the end of a header line ("*<count>" or "$<len>") and reads its number; *number_ok
 * says whether it is one (ballot_parse_ll). The fast path takes the usual line, the type byte
 * then 1 to 18 digits without a leading zero then CR and one more byte, in one pass; it
 * gives what find_line and ballot_parse_ll give, for anything else they decide. */
static enum line_result header_line(ballot_resp_parser *p, const char *line, size_t avail, char type,
				    size_t *end, bool *number_ok, int64_t *value)
{
	if (p->line_scanned == 0 && avail > 0 && line[0] == type) {
		const size_t digits_max = 18; /* below 10^18: no overflow to check */
		size_t stop = avail < digits_max + 1 ? avail : digits_max + 1;
		size_t i = 1;
		uint64_t v = 0;
		while (i < stop && (unsigned char)(line[i] - '0') <= 9) {
			v = v * 10 + (unsigned)(line[i] - '0');
			i++;
		}
		if (i > 1 && i + 1 < avail && line[i] == '\r' && (line[1] != '0' || i == 2)) {
			*end = i;
			*number_ok = true;
			*value = (int64_t)v;
			return LINE_FOUND;
		}
	}
	enum line_result r = find_line(p, line, avail, '\r', end);
	if (r == LINE_FOUND)
		*number_ok = ballot_parse_ll(line + 1, *end - 1, value);
	return r;
}

/* ----------------------------------------------------------------------------------------
 * Multibulk requests */

static int step_count_line(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos,
			   ballot_errmsg *em)
{
	size_t end;
	bool number_ok = false;
	int64_t count = 0;
	switch (header_line(p, buf + *pos, len - *pos, '*', &end, &number_ok, &count)) {
	case LINE_MORE:
		return STEP_MORE;
	case LINE_TOO_BIG:
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: too big mbulk count string");
	case LINE_FOUND:
		break;
	}
	if (!number_ok)
		return ballot_errorf(em, BALLOT_EINVAL, "ERR Protocol error: invalid multibulk length");
	if (count > (int64_t)BALLOT_RESP_REQUEST_ARGS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: invalid multibulk length");
	*pos += end + 2;
	if (count <= 0) {
		/* "*0" and "*-1": Redis skips them as empty requests. */
		p->phase = PHASE_START;
		return STEP_NEXT;
	}
	p->args_left = (size_t)count;
	p->phase = PHASE_BULK_LINE;
	line_start(p);
	return STEP_NEXT;
}

/* The byte Redis's "expected '$', got '%c'" shows: CR and LF become spaces, as Redis's
 * addReplyErrorFormat makes them, so the reply stays one line. */
static char shown_byte(char c)
{
	return c == '\r' || c == '\n' ? ' ' : c;
}

static int step_bulk_line(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos, ballot_errmsg *em)
{
	size_t end;
	bool number_ok = false;
	int64_t n = 0;
	switch (header_line(p, buf + *pos, len - *pos, '$', &end, &number_ok, &n)) {
	case LINE_MORE:
		return STEP_MORE;
	case LINE_TOO_BIG:
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: too big bulk count string");
	case LINE_FOUND:
		break;
	}
	char first = buf[*pos];
	BALLOT_ASSERT(first != '\0'); /* a NUL stalls the line */
	if (first != '$')
		return ballot_errorf(em, BALLOT_EINVAL, "ERR Protocol error: expected '$', got '%c'", shown_byte(first));
	if (!number_ok || n < 0)
		return ballot_errorf(em, BALLOT_EINVAL, "ERR Protocol error: invalid bulk length");
	if (n > (int64_t)BALLOT_RESP_REQUEST_BULK_MAX_BYTES)
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: invalid bulk length");
	if ((size_t)n > (size_t)BALLOT_RESP_REQUEST_MAX_BYTES - p->request_bytes)
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: request arguments exceed %u bytes",
				     BALLOT_RESP_REQUEST_MAX_BYTES);
	*pos += end + 2;
	p->bulk_len = (size_t)n;
	p->bulk_got = 0;
	p->phase = PHASE_BULK_DATA;
	return STEP_NEXT;
}

/* Takes the bulk string's bytes and the two after it (unchecked, as Redis). Whole in the
 * buffer: the argument points there. Else its bytes go to the arena as they come. */
static int step_bulk_data(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos, ballot_errmsg *em)
{
	size_t avail = len - *pos;
	size_t wire = p->bulk_len + 2;
	int rc;
	if (p->bulk_got == 0 && avail >= wire) {
		rc = push_arg(p, buf + *pos, p->bulk_len, em);
		if (rc != 0)
			return rc;
		*pos += wire;
	} else {
		/* Resumed inside this bulk: no argument can have completed since it began. */
		BALLOT_ASSERT(p->bulk_got == 0 || p->arena_args == p->argc);
		rc = park_args(p, em);
		if (rc != 0)
			return rc;
		size_t take = avail < wire - p->bulk_got ? avail : wire - p->bulk_got;
		if (p->bulk_got < p->bulk_len) {
			size_t data = take < p->bulk_len - p->bulk_got ? take : p->bulk_len - p->bulk_got;
			rc = arena_append(p, buf + *pos, data, em);
			if (rc != 0)
				return rc;
		}
		p->bulk_got += take;
		*pos += take;
		if (p->bulk_got < wire)
			return STEP_MORE;
		rc = push_arg(p, NULL, p->bulk_len, em);
		if (rc != 0)
			return rc;
		p->arena_args = p->argc;
	}
	p->request_bytes += p->bulk_len;
	p->args_left--;
	if (p->args_left == 0)
		return STEP_REQUEST;
	p->phase = PHASE_BULK_LINE;
	line_start(p);
	return STEP_NEXT;
}

/* ----------------------------------------------------------------------------------------
 * Inline requests */

/* C's isspace in the "C" locale, which Redis runs its parser in. */
static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char escaped(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'a':
		return '\a';
	default:
		return c;
	}
}

/* Reads one double-quoted byte at line[*i] into *out; the closing quote sets *done.
 * Returns false for quotes left open or a closing quote with something right after it. */
static bool take_double_quoted(const char *line, size_t n, size_t *i, char **out, bool *done)
{
	size_t at = *i;
	if (at + 3 < n && line[at] == '\\' && line[at + 1] == 'x' && hex_value(line[at + 2]) >= 0 &&
	    hex_value(line[at + 3]) >= 0) {
		*(*out)++ = (char)(hex_value(line[at + 2]) * 16 + hex_value(line[at + 3]));
		*i = at + 3;
	} else if (at + 1 < n && line[at] == '\\') {
		*(*out)++ = escaped(line[at + 1]);
		*i = at + 1;
	} else if (at < n && line[at] == '"') {
		if (at + 1 < n && !is_space(line[at + 1]))
			return false;
		*done = true;
	} else if (at == n) {
		return false;
	} else {
		*(*out)++ = line[at];
	}
	return true;
}

/* The same for single quotes, where only \' is an escape. */
static bool take_single_quoted(const char *line, size_t n, size_t *i, char **out, bool *done)
{
	size_t at = *i;
	if (at + 1 < n && line[at] == '\\' && line[at + 1] == '\'') {
		*(*out)++ = '\'';
		*i = at + 1;
	} else if (at < n && line[at] == '\'') {
		if (at + 1 < n && !is_space(line[at + 1]))
			return false;
		*done = true;
	} else if (at == n) {
		return false;
	} else {
		*(*out)++ = line[at];
	}
	return true;
}

/* Splits line[0..n) (no NUL in it, no LF) into arguments as sdssplitargs does, decoding
 * them into the arena. Returns 0, 1 for unbalanced quotes, or a negative code. */
static int split_inline(ballot_resp_parser *p, const char *line, size_t n, ballot_errmsg *em)
{
	/* Decoding never lengthens an argument, so n bytes hold them all. */
	int rc = arena_reserve(p, n, em);
	if (rc != 0)
		return rc;
	size_t i = 0;
	for (;;) {
		while (i < n && is_space(line[i]))
			i++;
		if (i == n)
			return 0;
		char *start = p->arena + p->arena_len;
		char *out = start;
		bool in_double = false, in_single = false, done = false;
		while (!done) {
			if (in_double) {
				if (!take_double_quoted(line, n, &i, &out, &done))
					return 1;
			} else if (in_single) {
				if (!take_single_quoted(line, n, &i, &out, &done))
					return 1;
			} else if (i == n || line[i] == ' ' || line[i] == '\n' || line[i] == '\r' || line[i] == '\t') {
				done = true; /* only these end a bare word; isspace skips \v and \f too */
			} else if (line[i] == '"') {
				in_double = true;
			} else if (line[i] == '\'') {
				in_single = true;
			} else {
				*out++ = line[i];
			}
			if (i < n)
				i++;
		}
		size_t arg_len = (size_t)(out - start);
		p->arena_len += arg_len;
		rc = push_arg(p, NULL, arg_len, em);
		if (rc != 0)
			return rc;
	}
}

static int step_inline_line(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos,
			    ballot_errmsg *em)
{
	size_t end;
	switch (find_line(p, buf + *pos, len - *pos, '\n', &end)) {
	case LINE_MORE:
		return STEP_MORE;
	case LINE_TOO_BIG:
		return ballot_errorf(em, BALLOT_ELIMIT, "ERR Protocol error: too big inline request");
	case LINE_FOUND:
		break;
	}
	const char *line = buf + *pos;
	size_t n = end > 0 && line[end - 1] == '\r' ? end - 1 : end;
	int rc = split_inline(p, line, n, em);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return ballot_errorf(em, BALLOT_EINVAL, "ERR Protocol error: unbalanced quotes in request");
	*pos += end + 1;
	p->arena_args = p->argc;
	if (p->argc == 0) {
		p->phase = PHASE_START; /* a blank line: Redis skips it */
		return STEP_NEXT;
	}
	return STEP_REQUEST;
}

/* ----------------------------------------------------------------------------------------
 * The loop */

/* Reads bulk strings, header then data, until the request ends or the buffer does. A
 * loop rather than a trip through step()'s switch per phase: the switch's indirect jump
 * mispredicts when the phases alternate, and it was a third of the parse time. */
static int step_bulks(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos, ballot_errmsg *em)
{
	for (;;) {
		int rc;
		if (p->phase == PHASE_BULK_LINE) {
			rc = step_bulk_line(p, buf, len, pos, em);
			if (rc != STEP_NEXT)
				return rc;
		}
		BALLOT_ASSERT(p->phase == PHASE_BULK_DATA);
		rc = step_bulk_data(p, buf, len, pos, em);
		if (rc != STEP_NEXT)
			return rc;
	}
}

static int step(ballot_resp_parser *p, const char *buf, size_t len, size_t *pos, ballot_errmsg *em)
{
	int rc;
	switch (p->phase) {
	case PHASE_START:
		request_reset(p);
		if (*pos == len)
			return STEP_MORE;
		p->phase = buf[*pos] == '*' ? PHASE_COUNT_LINE : PHASE_INLINE_LINE;
		line_start(p);
		return STEP_NEXT;
	case PHASE_COUNT_LINE:
		rc = step_count_line(p, buf, len, pos, em);
		if (rc != STEP_NEXT || p->phase == PHASE_START)
			return rc;
		return step_bulks(p, buf, len, pos, em);
	case PHASE_BULK_LINE:
	case PHASE_BULK_DATA:
		return step_bulks(p, buf, len, pos, em);
	case PHASE_INLINE_LINE:
		return step_inline_line(p, buf, len, pos, em);
	default:
		BALLOT_UNREACHABLE();
	}
}

int ballot_resp_parse(ballot_resp_parser *p, const char *buf, size_t len, size_t *consumed,
		      ballot_resp_request *req, ballot_errmsg *em)
{
	BALLOT_ASSERT(!p->failed);
	/* An unfinished line is passed again, whole, at the start of buf. */
	BALLOT_ASSERT(p->line_scanned <= len);
	req->argc = 0;
	req->argv = NULL;
	*consumed = 0;
	if (len == 0)
		buf = empty_arg; /* buf may be NULL then; no arithmetic on it */
	size_t pos = 0;
	int rc;
	do
		rc = step(p, buf, len, &pos, em);
	while (rc == STEP_NEXT);
	if (rc == STEP_MORE)
		rc = park_args(p, em);
	if (rc < 0) {
		p->failed = true;
		return rc;
	}
	if (rc == STEP_REQUEST) {
		request_finish(p, req);
		p->phase = PHASE_START;
	}
	*consumed = pos;
	return 0;
}
