/* ballot RESP2 request parser: what Redis clients send to ballotd, read as Redis 7 reads it.
 *
 * One parser per connection turns the bytes a client sends into requests (argument
 * vectors), incrementally: a request may arrive split at any byte, and one buffer may hold
 * a pipeline of thousands. Both forms Redis accepts are parsed, with Redis's rules and
 * Redis's error replies (networking.c, processMultibulkBuffer and processInlineBuffer):
 *
 * - multibulk: "*<count>\r\n" then count times "$<len>\r\n<len bytes>\r\n"; the bytes are
 *   binary-safe. "*0" and negative counts are empty requests, skipped. As in Redis, the
 *   two bytes after a header's CR and after a bulk's data are skipped unchecked.
 * - inline: anything else, one line ended by "\n" or "\r\n" and split as redis-cli and
 *   sdssplitargs split it (spaces; "double quotes" with \n \r \t \b \a \\ \" \xHH escapes;
 *   'single quotes' with \' only; a closing quote must be followed by a space or the end).
 *   Blank lines are skipped.
 *
 * Zero-copy where possible: an argument that arrived whole in the buffer being parsed
 * points into that buffer. Arguments of a request split across calls are copied into the
 * parser, which holds at most BALLOT_RESP_REQUEST_MAX_BYTES of them; the caller holds at
 * most one unfinished header or inline line (BALLOT_RESP_INLINE_MAX_BYTES + 1 bytes), so
 * its buffer can be compacted after every call. No byte is scanned twice: the parser
 * remembers how far into an unfinished line it has looked.
 *
 * A protocol error is final, as in Redis: the caller sends the error reply and closes the
 * connection (after the replies to the requests before it, which were returned first). */
#ifndef BALLOT_RESP_PARSE_H
#define BALLOT_RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"

/* One argument: len bytes at data, not NUL-terminated (bulk strings may hold NUL, CR, LF).
 * data is never NULL, even when len is 0. */
typedef struct ballot_resp_arg {
	const char *data;
	size_t len;
} ballot_resp_arg;

/* A parsed request: argc > 0 arguments, the command name first. argc == 0 means "no whole
 * request yet". */
typedef struct ballot_resp_request {
	size_t argc;
	const ballot_resp_arg *argv;
} ballot_resp_request;

/* Per-connection parser state. The fields are private to src/server/resp_parse.c; the
 * struct is public so a connection can embed it without an allocation. */
typedef struct ballot_resp_parser {
	int phase;            /* what the next byte is: see resp_parse.c */
	bool failed;          /* a protocol error was returned: no more calls */
	bool line_stalled;    /* the unfinished line holds a NUL before its end (see .c) */
	size_t line_scanned;  /* bytes of the unfinished line (at buf[0]) already searched */
	size_t args_left;     /* multibulk: bulk strings still to come */
	size_t bulk_len;      /* the bulk string being read: its length */
	size_t bulk_got;      /* ... and how many of its len + 2 bytes were copied or skipped */
	size_t request_bytes; /* argument bytes of the request so far */
	ballot_resp_arg *argv;
	size_t argc;
	size_t argv_cap;
	size_t arena_args; /* argv[0..arena_args) are copies in arena, in order */
	char *arena;       /* copies of arguments of a request split across calls */
	size_t arena_len;
	size_t arena_cap;
} ballot_resp_parser;

/* Initializes a parser for a new connection. Allocates nothing, cannot fail. */
void ballot_resp_parser_init(ballot_resp_parser *p);

/* Releases the parser's storage (the last request's argv with it). NULL is allowed. The
 * parser may be initialized again. */
void ballot_resp_parser_free(ballot_resp_parser *p);

/* Bytes of storage the parser holds now (copied arguments and the argument vector), for
 * memory accounting and CLIENT LIST-style reports. */
size_t ballot_resp_parser_held_bytes(const ballot_resp_parser *p);

/* Parses the next request from buf[0..len): the connection's bytes not yet consumed (buf
 * may be NULL when len is 0).
 *
 * Returns 0 and sets *consumed to the bytes of buf the parser is done with; then either
 * - req->argc > 0: a whole request. Call again with buf + *consumed for the next one (a
 *   pipeline yields one request per call; advance an offset rather than moving the
 *   buffer after each request).
 * - req->argc == 0: buf holds no whole request. Keep buf[*consumed..len), drop the rest,
 *   append what the socket reads next, and call again with the kept bytes first.
 *   len - *consumed <= BALLOT_RESP_INLINE_MAX_BYTES + 1.
 * Empty requests ("*0", "*-1", blank inline lines) are skipped inside the call.
 *
 * Ownership: req->argv and each argument's bytes stay valid until the next call on p (or
 * ballot_resp_parser_free), and for arguments that point into buf only while the caller
 * keeps buf[0..*consumed) unchanged: run the command, then compact or refill.
 *
 * Protocol errors return a negative code with em->text the error reply as Redis words it,
 * without the leading '-' and trailing CRLF ("ERR Protocol error: invalid bulk length");
 * send it (ballot_resp_error(out, "%s", em->text)) and close the connection. *consumed is
 * 0. Codes:
 * - BALLOT_EINVAL: malformed ("invalid multibulk length", "invalid bulk length",
 *   "expected '$', got 'x'", "unbalanced quotes in request").
 * - BALLOT_ELIMIT: past a limit ("too big inline request", "too big mbulk count string",
 *   "too big bulk count string", a count past BALLOT_RESP_REQUEST_ARGS_MAX or a length past
 *   BALLOT_RESP_REQUEST_BULK_MAX_BYTES as Redis words them, and ballot's own "request
 *   arguments exceed N bytes" past BALLOT_RESP_REQUEST_MAX_BYTES).
 * - BALLOT_ENOMEM: the parser's storage could not grow ("ERR out of memory ...").
 * After an error the parser must not be called again (asserted); free it. */
int ballot_resp_parse(ballot_resp_parser *p, const char *buf, size_t len, size_t *consumed,
		      ballot_resp_request *req, ballot_errmsg *em);

#endif
