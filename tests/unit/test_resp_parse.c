/* Unit tests of the RESP2 request parser.
 *
 * Most tests compare a transcript: each request as "argc len:bytes ...", then how the
 * input ended ("more N": N bytes of an unfinished line left to the caller; or "error CODE
 * TEXT"). Every error text and every "Redis does X" below was checked against a real
 * redis-server 7.0.15 (apt, Debian 12) by sending the same bytes over a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/resp_parse.h"
#include "ballot/rng.h"
#include "common/buf.h"

/* A literal and its length (literals here may hold NULs). */
#define S(lit) lit, sizeof(lit) - 1
/* Parsing the literal input whole gives the literal transcript. */
#define EXPECT(input, transcript) expect_transcript(S(input), S(transcript))

/* ----------------------------------------------------------------------------------------
 * A caller: feeds the input in chunks, as a server reading a socket would */

static void record_request(ballot_buf *t, const ballot_resp_request *req)
{
	assert_int_equal(ballot_buf_printf(t, "%zu", req->argc), 0);
	for (size_t i = 0; i < req->argc; i++) {
		assert_non_null(req->argv[i].data);
		assert_int_equal(ballot_buf_printf(t, " %zu:", req->argv[i].len), 0);
		assert_int_equal(ballot_buf_append(t, req->argv[i].data, req->argv[i].len), 0);
	}
	assert_int_equal(ballot_buf_puts(t, "\n"), 0);
}

/* Parses input cut into pieces of sizes pieces[0], pieces[1], ... (round and round) into
 * the transcript t. Each call gets a fresh heap copy of the kept bytes plus the new piece,
 * and the old copy is freed, so AddressSanitizer catches an argument that still points
 * into a buffer the caller was allowed to drop. */
static void transcript_chunked(const char *input, size_t len, const size_t *pieces, size_t npieces,
			       ballot_buf *t)
{
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	char *kept = NULL;
	size_t kept_len = 0;
	size_t fed = 0;
	for (size_t k = 0; fed < len || k == 0; k++) {
		size_t piece = pieces[k % npieces];
		if (piece > len - fed)
			piece = len - fed;
		size_t total = kept_len + piece;
		char *buf = malloc(total > 0 ? total : 1);
		assert_non_null(buf);
		if (kept_len > 0)
			memcpy(buf, kept, kept_len);
		memcpy(buf + kept_len, input + fed, piece);
		free(kept);
		fed += piece;
		size_t off = 0;
		for (;;) {
			ballot_resp_request req;
			ballot_errmsg em;
			size_t used = 99;
			int rc = ballot_resp_parse(&p, buf + off, total - off, &used, &req, &em);
			if (rc != 0) {
				assert_int_equal(used, 0);
				ballot_buf_printf(t, "error %d %s\n", rc, em.text);
				free(buf);
				ballot_resp_parser_free(&p);
				return;
			}
			assert_true(used <= total - off);
			off += used;
			if (req.argc == 0)
				break;
			record_request(t, &req);
		}
		/* The caller never keeps more than one unfinished line. */
		assert_true(total - off <= BALLOT_RESP_INLINE_MAX_BYTES + 1);
		assert_true(ballot_resp_parser_held_bytes(&p) <=
			    BALLOT_RESP_REQUEST_MAX_BYTES + BALLOT_RESP_INLINE_MAX_BYTES +
				    BALLOT_RESP_REQUEST_ARGS_MAX * 2 * sizeof(ballot_resp_arg));
		kept_len = total - off;
		kept = malloc(kept_len > 0 ? kept_len : 1);
		assert_non_null(kept);
		memcpy(kept, buf + off, kept_len);
		free(buf);
	}
	ballot_buf_printf(t, "more %zu\n", kept_len);
	free(kept);
	ballot_resp_parser_free(&p);
}

static void transcript_whole(const char *input, size_t len, ballot_buf *t)
{
	size_t whole = len;
	transcript_chunked(input, len, &whole, 1, t);
}

static void expect_transcript(const char *input, size_t len, const char *expected, size_t expected_len)
{
	ballot_buf t;
	ballot_buf_init(&t, 0);
	transcript_whole(input, len, &t);
	if (t.len != expected_len || memcmp(t.data, expected, t.len) != 0)
		fail_msg("input %.*s\nexpected:\n%.*s\ngot:\n%.*s", (int)(len < 200 ? len : 200), input,
			 (int)expected_len, expected, (int)t.len, t.data);
	ballot_buf_free(&t);
}

static void expect_text(const char *input, size_t len, const char *expected)
{
	expect_transcript(input, len, expected, strlen(expected));
}

/* Every way of cutting the input must give the transcript of the whole. */
static void expect_same_when_split(const char *input, size_t len, ballot_rng *rng)
{
	ballot_buf whole, split;
	ballot_buf_init(&whole, 0);
	transcript_whole(input, len, &whole);

	const size_t one = 1;
	ballot_buf_init(&split, 0);
	transcript_chunked(input, len, &one, 1, &split);
	assert_int_equal(split.len, whole.len);
	assert_memory_equal(split.data, whole.data, whole.len);
	ballot_buf_free(&split);

	for (size_t cut = 0; cut <= len; cut++) {
		size_t pieces[2] = {cut, len - cut > 0 ? len - cut : 1};
		ballot_buf_init(&split, 0);
		transcript_chunked(input, len, pieces, 2, &split);
		if (split.len != whole.len || memcmp(split.data, whole.data, whole.len) != 0)
			fail_msg("cut at %zu:\n%.*s\nwhole:\n%.*s", cut, (int)split.len, split.data, (int)whole.len,
				 whole.data);
		ballot_buf_free(&split);
	}

	for (int round = 0; round < 200; round++) {
		size_t pieces[64];
		size_t max = 1 + ballot_rng_below(rng, round % 2 == 0 ? 8 : 200);
		for (size_t i = 0; i < 64; i++)
			pieces[i] = 1 + ballot_rng_below(rng, max);
		ballot_buf_init(&split, 0);
		transcript_chunked(input, len, pieces, 64, &split);
		assert_int_equal(split.len, whole.len);
		assert_memory_equal(split.data, whole.data, whole.len);
		ballot_buf_free(&split);
	}
	ballot_buf_free(&whole);
}

/* ----------------------------------------------------------------------------------------
 * Multibulk */

static void multibulk_request_points_into_the_callers_buffer(void **state)
{
	(void)state;
	const char in[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	assert_int_equal(ballot_resp_parse(&p, in, sizeof in - 1, &used, &req, NULL), 0);
	assert_int_equal(used, sizeof in - 1);
	assert_int_equal(req.argc, 3);
	assert_ptr_equal(req.argv[0].data, in + 8);
	assert_ptr_equal(req.argv[1].data, in + 17);
	assert_ptr_equal(req.argv[2].data, in + 26);
	assert_int_equal(req.argv[2].len, 5);
	assert_int_equal(ballot_resp_parse(&p, in + used, 0, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 0);
	assert_int_equal(used, 0);
	/* Inside a bulk string, an empty read is no news either. */
	assert_int_equal(ballot_resp_parse(&p, S("*1\r\n$4\r\nPI"), &used, &req, NULL), 0);
	assert_int_equal(ballot_resp_parse(&p, NULL, 0, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 0);
	assert_int_equal(ballot_resp_parse(&p, S("NG\r\n"), &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_memory_equal(req.argv[0].data, "PING", 4);
	ballot_resp_parser_free(&p);
}

static void pipeline_yields_one_request_per_call_in_order(void **state)
{
	(void)state;
	ballot_buf in;
	ballot_buf_init(&in, 0);
	for (int i = 0; i < 5000; i++)
		ballot_buf_printf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$1\r\nv\r\n", i < 10 ? 5 : i < 100 ? 6 : i < 1000 ? 7 : 8, i);
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	size_t off = 0;
	for (int i = 0; i < 5000; i++) {
		ballot_resp_request req;
		size_t used;
		assert_int_equal(ballot_resp_parse(&p, in.data + off, in.len - off, &used, &req, NULL), 0);
		assert_int_equal(req.argc, 3);
		char key[32];
		int n = snprintf(key, sizeof key, "key:%d", i);
		assert_int_equal(req.argv[1].len, (size_t)n);
		assert_memory_equal(req.argv[1].data, key, (size_t)n);
		assert_true(req.argv[1].data >= in.data + off);
		off += used;
	}
	assert_int_equal(off, in.len);
	ballot_resp_parser_free(&p);
	ballot_buf_free(&in);
}

static void bulk_strings_are_binary_safe(void **state)
{
	(void)state;
	/* NUL, CR, LF and CRLF inside a bulk are data: only the length counts. */
	EXPECT("*3\r\n$3\r\nSET\r\n$3\r\na\0b\r\n$6\r\n\r\n*1\r\n\r\n", "3 3:SET 3:a\0b 6:\r\n*1\r\n\nmore 0\n");
	EXPECT("*2\r\n$0\r\n\r\n$1\r\n\n\r\n", "2 0: 1:\n\nmore 0\n");
}

static void empty_multibulk_requests_are_skipped(void **state)
{
	(void)state;
	/* Redis answers only the PING: "*0", "*-1" and any negative count are no request. */
	EXPECT("*0\r\n*-1\r\n*-10\r\n*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n", "1 4:PING\nmore 0\n");
	EXPECT("*0\r\n", "more 0\n");
}

static void bytes_redis_skips_unread_are_not_checked(void **state)
{
	(void)state;
	/* Redis 7 answers +PONG twice: it skips the byte after a header's CR and the two after
	 * a bulk string's data without looking at them. */
	EXPECT("*1\rx$4\rxPINGxy*1\r\n$4\r\nPING\r\n", "1 4:PING\n1 4:PING\nmore 0\n");
	/* ... and a header line ends only at a CR: "1\n$4" is the count here. */
	EXPECT("*1\n$4\r\nPING\r\n", "error -1 ERR Protocol error: invalid multibulk length\n");
}

static void expected_dollar_error_names_the_byte(void **state)
{
	(void)state;
	/* Redis 7: "-ERR Protocol error: expected '$', got 'f'"; CR and LF shown as spaces. */
	EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "error -1 ERR Protocol error: expected '$', got 'f'\n");
	EXPECT("*1\r\n\r\n\r\n", "error -1 ERR Protocol error: expected '$', got ' '\n");
	EXPECT("*1\r\n\n\r\n", "error -1 ERR Protocol error: expected '$', got ' '\n");
	EXPECT("*1\r\n\x80xy\r\n", "error -1 ERR Protocol error: expected '$', got '\x80'\n");
	/* The line must be whole before its first byte is judged. */
	EXPECT("*1\r\nfoo", "more 3\n");
	EXPECT("*1\r\nfoo\r", "more 4\n");
}

static void invalid_multibulk_lengths_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {"*-0\r\n", "*+1\r\n", "*01\r\n", "*\r\n", "* 1\r\n", "*1 \r\n", "*1x\r\n",
			     "*-9223372036854775809\r\n", "*9223372036854775808\r\n",
			     "*000000000000000000001\r\n", "*-\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_text(bad[i], strlen(bad[i]), "error -1 ERR Protocol error: invalid multibulk length\n");
}

static void multibulk_count_limit_is_inclusive(void **state)
{
	(void)state;
	/* At the limit the parser waits for the arguments; one more is refused with Redis's
	 * words (Redis 7 itself allows INT_MAX; Redis up to 6.0 allowed exactly this). */
	char line[64];
	snprintf(line, sizeof line, "*%u\r\n", BALLOT_RESP_REQUEST_ARGS_MAX);
	expect_text(line, strlen(line), "more 0\n");
	snprintf(line, sizeof line, "*%u\r\n", BALLOT_RESP_REQUEST_ARGS_MAX + 1);
	expect_text(line, strlen(line), "error -4 ERR Protocol error: invalid multibulk length\n");
	EXPECT("*3000000000\r\n", "error -4 ERR Protocol error: invalid multibulk length\n");
}

static void invalid_bulk_lengths_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {"*1\r\n$-1\r\n", "*1\r\n$\r\n", "*1\r\n$+4\r\nPING\r\n", "*1\r\n$04\r\nPING\r\n",
			     "*1\r\n$-0\r\n", "*1\r\n$4x\r\n", "*1\r\n$18446744073709551616\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_text(bad[i], strlen(bad[i]), "error -1 ERR Protocol error: invalid bulk length\n");
}

static void bulk_length_limit_is_inclusive(void **state)
{
	(void)state;
	char line[64];
	snprintf(line, sizeof line, "*1\r\n$%u\r\n", BALLOT_RESP_REQUEST_BULK_MAX_BYTES);
	expect_text(line, strlen(line), "more 0\n");
	snprintf(line, sizeof line, "*1\r\n$%u\r\n", BALLOT_RESP_REQUEST_BULK_MAX_BYTES + 1);
	expect_text(line, strlen(line), "error -4 ERR Protocol error: invalid bulk length\n");
	/* Redis's own limit (512 MiB) is past ours. */
	EXPECT("*1\r\n$536870913\r\n", "error -4 ERR Protocol error: invalid bulk length\n");
	EXPECT("*1\r\n$9223372036854775807\r\n", "error -4 ERR Protocol error: invalid bulk length\n");
}

/* Feeds one request whose arguments add up to BALLOT_RESP_REQUEST_MAX_BYTES, then one more
 * byte's argument: the parser holds the arguments, takes an empty one at the limit, and
 * refuses the next at its header, before a byte of it is buffered. */
static void request_size_limit_is_inclusive(void **state)
{
	(void)state;
	const size_t bulk = BALLOT_RESP_REQUEST_BULK_MAX_BYTES;
	const size_t bulks = BALLOT_RESP_REQUEST_MAX_BYTES / BALLOT_RESP_REQUEST_BULK_MAX_BYTES;
	static char zeros[1 << 20];
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	ballot_errmsg em;
	size_t used;
	char line[64];
	int n = snprintf(line, sizeof line, "*%zu\r\n", bulks + 3);
	assert_int_equal(ballot_resp_parse(&p, line, (size_t)n, &used, &req, &em), 0);
	assert_int_equal(used, (size_t)n);
	for (size_t b = 0; b < bulks; b++) {
		n = snprintf(line, sizeof line, "$%zu\r\n", bulk);
		assert_int_equal(ballot_resp_parse(&p, line, (size_t)n, &used, &req, &em), 0);
		assert_int_equal(used, (size_t)n);
		for (size_t fed = 0; fed < bulk; fed += sizeof zeros) {
			assert_int_equal(ballot_resp_parse(&p, zeros, sizeof zeros, &used, &req, &em), 0);
			assert_int_equal(used, sizeof zeros);
			assert_int_equal(req.argc, 0);
		}
		assert_int_equal(ballot_resp_parse(&p, "\r\n", 2, &used, &req, &em), 0);
		assert_int_equal(req.argc, 0);
	}
	assert_true(ballot_resp_parser_held_bytes(&p) >= BALLOT_RESP_REQUEST_MAX_BYTES);
	assert_int_equal(ballot_resp_parse(&p, S("$0\r\n\r\n"), &used, &req, &em), 0);
	assert_int_equal(req.argc, 0);
	assert_int_equal(ballot_resp_parse(&p, S("$1\r\n"), &used, &req, &em), BALLOT_ELIMIT);
	char expected[128];
	snprintf(expected, sizeof expected, "ERR Protocol error: request arguments exceed %u bytes",
		 BALLOT_RESP_REQUEST_MAX_BYTES);
	assert_string_equal(em.text, expected);
	ballot_resp_parser_free(&p);
}

/* The header and inline line limit: Redis refuses a line once more than 64 KiB of it is
 * buffered without its end. Redis 7, bytes sent at once: "*" + 65535 digits waits, one
 * more digit is "too big mbulk count string"; likewise "$..." and inline lines. */
static void line_limits_are_checked_at_and_just_past_the_bound(void **state)
{
	(void)state;
	const size_t max = BALLOT_RESP_INLINE_MAX_BYTES;
	char *in = malloc(max + 16);
	assert_non_null(in);
	char expected[64];

	in[0] = '*';
	memset(in + 1, '0', max);
	snprintf(expected, sizeof expected, "more %zu\n", max);
	expect_text(in, max, expected);
	expect_text(in, max + 1, "error -4 ERR Protocol error: too big mbulk count string\n");
	/* A CR as the last byte of the window: the line is whole once its next byte comes. */
	in[max] = '\r';
	snprintf(expected, sizeof expected, "more %zu\n", max + 1);
	expect_text(in, max + 1, expected);
	in[max + 1] = '\n';
	expect_text(in, max + 2, "error -1 ERR Protocol error: invalid multibulk length\n");

	memcpy(in, "*1\r\n$", 5);
	memset(in + 5, '0', max);
	snprintf(expected, sizeof expected, "more %zu\n", max);
	expect_text(in, 4 + max, expected);
	expect_text(in, 4 + max + 1, "error -4 ERR Protocol error: too big bulk count string\n");

	memset(in, 'x', max + 2);
	snprintf(expected, sizeof expected, "more %zu\n", max);
	expect_text(in, max, expected);
	expect_text(in, max + 1, "error -4 ERR Protocol error: too big inline request\n");
	/* The LF as the last byte of a window-long line. */
	memset(in, 'x', max + 1);
	in[max] = '\n';
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	assert_int_equal(ballot_resp_parse(&p, in, max + 1, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_int_equal(req.argv[0].len, max);
	ballot_resp_parser_free(&p);
	free(in);
}

static void inline_line_at_the_bound_is_a_request(void **state)
{
	(void)state;
	const size_t max = BALLOT_RESP_INLINE_MAX_BYTES;
	char *in = malloc(max + 2);
	assert_non_null(in);
	/* 65535 bytes, CR, LF: the LF is the 65537th byte, within the window. */
	memset(in, 'x', max - 1);
	in[max - 1] = '\r';
	in[max] = '\n';
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	assert_int_equal(ballot_resp_parse(&p, in, max + 1, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_int_equal(req.argv[0].len, max - 1);
	assert_int_equal(used, max + 1);
	ballot_resp_parser_free(&p);
	/* 65536 bytes then CRLF: Redis 7 accepts it when the CR and LF arrive in one read and
	 * refuses it when the CR arrives alone; the parser refuses it however it arrives. */
	memset(in, 'x', max);
	in[max] = '\r';
	in[max + 1] = '\n';
	expect_text(in, max + 2, "error -4 ERR Protocol error: too big inline request\n");
	free(in);
}

/* Redis finds line ends with strchr, which stops at a NUL: "PING\0\n" never ends, and
 * Redis 7 waits (no reply) until more than 64 KiB are buffered, then refuses it. */
static void a_nul_before_the_line_end_stalls_until_the_limit(void **state)
{
	(void)state;
	EXPECT("PING\0\nPING\n", "more 11\n");
	EXPECT("\0PING\r\n", "more 7\n");
	EXPECT("*1\0\r\n$4\r\nPING\r\n", "more 15\n");
	EXPECT("*1\r\n$\0\r\n", "more 4\n");
	/* A CR before the NUL ends the line; the byte after a CR may be a NUL. */
	EXPECT("*1\r\0$4\r\nPI\0G\r\n", "1 4:PI\0G\nmore 0\n");

	const size_t max = BALLOT_RESP_INLINE_MAX_BYTES;
	char *in = calloc(1, max + 8);
	assert_non_null(in);
	memcpy(in, "PING\0", 5);
	memset(in + 5, '\n', max);
	char expected[64];
	snprintf(expected, sizeof expected, "more %zu\n", max);
	expect_text(in, max, expected);
	expect_text(in, max + 1, "error -4 ERR Protocol error: too big inline request\n");
	memcpy(in, "*1\r\n$\0", 6);
	expect_text(in, 4 + max + 1, "error -4 ERR Protocol error: too big bulk count string\n");
	free(in);
}

/* ----------------------------------------------------------------------------------------
 * Inline */

static void inline_request_splits_on_spaces(void **state)
{
	(void)state;
	EXPECT("SET k v\r\n", "3 3:SET 1:k 1:v\nmore 0\n");
	EXPECT("SET k v\n", "3 3:SET 1:k 1:v\nmore 0\n");
	EXPECT("  SET\t k   v  \r\n", "3 3:SET 1:k 1:v\nmore 0\n");
	/* CR ends a word too: Redis 7 reads "ECHO a\rb" as three arguments. */
	EXPECT("ECHO a\rb\n", "3 4:ECHO 1:a 1:b\nmore 0\n");
	/* Leading \v and \f are skipped (isspace) but do not end a word. */
	EXPECT("\vECHO\f ab\n", "2 5:ECHO\f 2:ab\nmore 0\n");
	EXPECT("ECHO a\vb\n", "2 4:ECHO 3:a\vb\nmore 0\n");
	/* Bytes past 0x7f are word bytes. */
	EXPECT("ECHO \xc3\xa9\xa0\n", "2 4:ECHO 3:\xc3\xa9\xa0\nmore 0\n");
}

static void inline_blank_lines_are_skipped(void **state)
{
	(void)state;
	/* Redis 7 answers only the PING. */
	EXPECT("\r\n\n   \n\t\r\n\r\r\nPING\r\n", "1 4:PING\nmore 0\n");
	EXPECT("\n", "more 0\n");
}

static void inline_quotes_and_escapes_decode_like_redis(void **state)
{
	(void)state;
	/* Redis 7: ECHO "\x41\x4g\n\q" is "Ax4g\nq"; ECHO 'it\'s \n' is "it's \n" (backslash n). */
	EXPECT("ECHO \"\\x41\\x4g\\n\\q\"\n", "2 4:ECHO 6:Ax4g\nq\nmore 0\n");
	EXPECT("ECHO 'it\\'s \\n'\n", "2 4:ECHO 7:it's \\n\nmore 0\n");
	EXPECT("ECHO \"\\r\\t\\b\\a\\\\\\\"\"\n", "2 4:ECHO 6:\r\t\b\a\\\"\nmore 0\n");
	EXPECT("ECHO \"\\x00\\xfF\"\n", "2 4:ECHO 2:\0\xff\nmore 0\n");
	/* Empty quotes are an empty argument (Redis 7 answers ECHO "" with $0). */
	EXPECT("ECHO \"\" ''\r\n", "3 4:ECHO 0: 0:\nmore 0\n");
	/* A quote may open mid-word: a"b c" is "ab c". */
	EXPECT("ECHO a\"b c\"\n", "2 4:ECHO 4:ab c\nmore 0\n");
	/* A closing quote followed by a space, \v (isspace) or the end. */
	EXPECT("ECHO \"a\"\v\n", "2 4:ECHO 1:a\nmore 0\n");
	EXPECT("ECHO \"a\" 'b'\r\n", "3 4:ECHO 1:a 1:b\nmore 0\n");
	/* Quotes keep spaces, CR and tabs. */
	EXPECT("SET k \"a b\rc\td\"\n", "3 3:SET 1:k 7:a b\rc\td\nmore 0\n");
	/* Outside quotes a backslash is a byte. */
	EXPECT("ECHO a\\nb\n", "2 4:ECHO 4:a\\nb\nmore 0\n");
	/* The CR of a CRLF is not part of the last argument, even inside quotes' reach. */
	EXPECT("ECHO 'a'\r\n", "2 4:ECHO 1:a\nmore 0\n");
}

static void inline_unbalanced_quotes_are_a_protocol_error(void **state)
{
	(void)state;
	/* Each one: Redis 7 replies this and closes the connection. */
	const char *bad[] = {"ECHO \"a\n", "ECHO 'a\r\n", "ECHO \"a\"x\n", "ECHO 'a'x\n", "ECHO \"a\\\"\n",
			     "ECHO 'a\\'\n", "ECHO a\"b c\"d\n", "\"\n", "ECHO \"a\\\n", "ECHO \"\\x4\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_text(bad[i], strlen(bad[i]), "error -1 ERR Protocol error: unbalanced quotes in request\n");
	/* The requests before the bad one are returned first. */
	EXPECT("PING\nECHO \"a\n", "1 4:PING\nerror -1 ERR Protocol error: unbalanced quotes in request\n");
}

/* ----------------------------------------------------------------------------------------
 * Splitting */

static const char mixed_pipeline[] =
	"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$5\r\nhello\r\n"
	"PING\r\n"
	"\r\n"
	"*0\r\n"
	"*-1\r\n"
	"SET k \"a\\x00b\\r\\n\" 'it\\'s'\n"
	"*2\r\n$4\r\nECHO\r\n$6\r\na\0b\r\nc\r\n"
	"   \n"
	"*1\r\n$0\r\n\r\n"
	"*1\rx$4\rxPINGxy"
	"*2\r\n$3\r\nGET\r\n$40\r\n0123456789012345678901234567890123456789\r\n"
	"*1\r\n$4\r\nPI";

static void split_at_every_byte_gives_the_whole_result(void **state)
{
	(void)state;
	ballot_rng rng;
	ballot_rng_seed(&rng, 1);
	expect_same_when_split(S(mixed_pipeline), &rng);
	EXPECT(mixed_pipeline, "3 3:SET 5:key:1 5:hello\n1 4:PING\n4 3:SET 1:k 5:a\0b\r\n 4:it's\n2 4:ECHO 6:a\0b\r\nc\n"
			  "1 0:\n1 4:PING\n2 3:GET 40:0123456789012345678901234567890123456789\nmore 0\n");
}

static void split_errors_give_the_whole_result(void **state)
{
	(void)state;
	ballot_rng rng;
	ballot_rng_seed(&rng, 2);
	const char *streams[] = {
		"PING\r\n*2\r\n$4\r\nECHO\r\n$-1\r\n",
		"PING\r\n*2\r\n$4\r\nECHO\r\nx\r\n",
		"*1\r\n$4\r\nPING\r\nECHO \"a\r\n",
		"*1\r\n$4\r\nPING\r\n*1x\r\n",
		"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*2\r\n$4\r\nECHO\r\n$3\r\nab",
	};
	for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
		expect_same_when_split(streams[i], strlen(streams[i]), &rng);
	expect_same_when_split(S("*1\r\n$4\r\nPING\r\nPING\0\nPING\r\n"), &rng);
}

static void random_pipelines_in_random_chunks_give_the_whole_result(void **state)
{
	(void)state;
#define PART(lit) {lit, sizeof(lit) - 1}
	static const struct {
		const char *bytes;
		size_t len;
	} parts[] = {
		PART("*1\r\n$4\r\nPING\r\n"), PART("PING\n"), PART("\r\n"), PART("*0\r\n"), PART("SET a 'b c'\r\n"),
		PART("*3\r\n$3\r\nSET\r\n$3\r\nk\0y\r\n$10\r\n0123456789\r\n"), PART("*-1\r\n"),
		PART("ECHO \"\\x41\"\n"), PART("*2\r\n$4\r\nECHO\r\n$2\r\n\r\n\r\n"),
	};
#undef PART
	const size_t nparts = sizeof parts / sizeof parts[0];
	for (uint64_t seed = 1; seed <= 40; seed++) {
		ballot_rng rng;
		ballot_rng_seed(&rng, seed);
		ballot_buf in;
		ballot_buf_init(&in, 0);
		size_t n = 1 + ballot_rng_below(&rng, 30);
		for (size_t i = 0; i < n; i++) {
			size_t k = ballot_rng_below(&rng, nparts);
			ballot_buf_append(&in, parts[k].bytes, parts[k].len);
		}
		expect_same_when_split(in.data, in.len, &rng);
		ballot_buf_free(&in);
	}
}

/* An unfinished line stays with the caller, and the parser does not search the bytes it
 * has searched: one byte at a time, a 60000-byte line costs 60000 steps, not 60000^2/2. */
static void unfinished_line_is_searched_once(void **state)
{
	(void)state;
	const size_t n = 60000;
	char *in = malloc(n + 2);
	assert_non_null(in);
	memset(in, 'x', n);
	in[n] = '\r';
	in[n + 1] = '\n';
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	for (size_t len = 1; len <= n + 1; len++) {
		assert_int_equal(ballot_resp_parse(&p, in, len, &used, &req, NULL), 0);
		assert_int_equal(used, 0);
		assert_int_equal(req.argc, 0);
		assert_int_equal(p.line_scanned, len); /* white box: where the next search starts */
	}
	assert_int_equal(ballot_resp_parse(&p, in, n + 2, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_int_equal(used, n + 2);
	ballot_resp_parser_free(&p);
	free(in);
}

/* A large bulk arriving in pieces is copied into the parser as it comes (the caller keeps
 * nothing), and its storage is given back when the next request starts. */
static void large_split_request_storage_is_released_after_it(void **state)
{
	(void)state;
	const size_t big = 1 << 20;
	char *value = malloc(big);
	assert_non_null(value);
	for (size_t i = 0; i < big; i++)
		value[i] = (char)(i * 7);
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	char head[64];
	int hn = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", big);
	assert_int_equal(ballot_resp_parse(&p, head, (size_t)hn, &used, &req, NULL), 0);
	assert_int_equal(used, (size_t)hn);
	for (size_t off = 0; off < big; off += 4096) {
		assert_int_equal(ballot_resp_parse(&p, value + off, 4096, &used, &req, NULL), 0);
		assert_int_equal(used, 4096);
		assert_int_equal(req.argc, 0);
	}
	assert_int_equal(ballot_resp_parse(&p, "\r", 1, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 0);
	assert_int_equal(ballot_resp_parse(&p, "\n", 1, &used, &req, NULL), 0);
	assert_int_equal(req.argc, 3);
	assert_int_equal(req.argv[2].len, big);
	assert_memory_equal(req.argv[2].data, value, big);
	assert_memory_equal(req.argv[0].data, "SET", 3);
	assert_true(ballot_resp_parser_held_bytes(&p) >= big);
	assert_int_equal(ballot_resp_parse(&p, S("PING\r\n"), &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_true(ballot_resp_parser_held_bytes(&p) <= 2 * BALLOT_RESP_PARSER_KEEP_BYTES);
	ballot_resp_parser_free(&p);
	free(value);

	/* The same for the argument vector of a request with many arguments. */
	const size_t many = 2 * BALLOT_RESP_PARSER_KEEP_BYTES / sizeof(ballot_resp_arg);
	ballot_buf in;
	ballot_buf_init(&in, 0);
	ballot_buf_printf(&in, "*%zu\r\n", many);
	for (size_t i = 0; i < many; i++)
		ballot_buf_puts(&in, "$1\r\nx\r\n");
	ballot_resp_parser_init(&p);
	assert_int_equal(ballot_resp_parse(&p, in.data, in.len, &used, &req, NULL), 0);
	assert_int_equal(req.argc, many);
	assert_true(ballot_resp_parser_held_bytes(&p) >= many * sizeof(ballot_resp_arg));
	assert_int_equal(ballot_resp_parse(&p, S("PING\r\n"), &used, &req, NULL), 0);
	assert_int_equal(req.argc, 1);
	assert_true(ballot_resp_parser_held_bytes(&p) <= 2 * BALLOT_RESP_PARSER_KEEP_BYTES);
	ballot_resp_parser_free(&p);
	ballot_buf_free(&in);
}

static void a_huge_declared_count_or_length_allocates_nothing_up_front(void **state)
{
	(void)state;
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request req;
	size_t used;
	char head[64];
	int n = snprintf(head, sizeof head, "*%u\r\n$%u\r\nab", BALLOT_RESP_REQUEST_ARGS_MAX,
			 BALLOT_RESP_REQUEST_BULK_MAX_BYTES);
	assert_int_equal(ballot_resp_parse(&p, head, (size_t)n, &used, &req, NULL), 0);
	assert_int_equal(used, (size_t)n);
	assert_true(ballot_resp_parser_held_bytes(&p) <= 4096);
	ballot_resp_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(multibulk_request_points_into_the_callers_buffer),
		cmocka_unit_test(pipeline_yields_one_request_per_call_in_order),
		cmocka_unit_test(bulk_strings_are_binary_safe),
		cmocka_unit_test(empty_multibulk_requests_are_skipped),
		cmocka_unit_test(bytes_redis_skips_unread_are_not_checked),
		cmocka_unit_test(expected_dollar_error_names_the_byte),
		cmocka_unit_test(invalid_multibulk_lengths_are_refused),
		cmocka_unit_test(multibulk_count_limit_is_inclusive),
		cmocka_unit_test(invalid_bulk_lengths_are_refused),
		cmocka_unit_test(bulk_length_limit_is_inclusive),
		cmocka_unit_test(request_size_limit_is_inclusive),
		cmocka_unit_test(line_limits_are_checked_at_and_just_past_the_bound),
		cmocka_unit_test(inline_line_at_the_bound_is_a_request),
		cmocka_unit_test(a_nul_before_the_line_end_stalls_until_the_limit),
		cmocka_unit_test(inline_request_splits_on_spaces),
		cmocka_unit_test(inline_blank_lines_are_skipped),
		cmocka_unit_test(inline_quotes_and_escapes_decode_like_redis),
		cmocka_unit_test(inline_unbalanced_quotes_are_a_protocol_error),
		cmocka_unit_test(split_at_every_byte_gives_the_whole_result),
		cmocka_unit_test(split_errors_give_the_whole_result),
		cmocka_unit_test(random_pipelines_in_random_chunks_give_the_whole_result),
		cmocka_unit_test(unfinished_line_is_searched_once),
		cmocka_unit_test(large_split_request_storage_is_released_after_it),
		cmocka_unit_test(a_huge_declared_count_or_length_allocates_nothing_up_front),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
