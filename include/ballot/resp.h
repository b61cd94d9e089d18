/* ballot RESP2: writing replies as Redis sends them, and decoding them back into a tree.
 *
 * The key-value store answers in RESP2 bytes so a server can forward them to clients
 * unchanged; the simulator and the tests decode them with ballot_resp_decode_reply to
 * check what a client would see. The decoder reads untrusted bytes: it never reads past
 * len, bounds nesting and sizes by the BALLOT_RESP_* limits, and allocates at most a fixed
 * multiple of the input's size. */
#ifndef BALLOT_RESP_H
#define BALLOT_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/fsm.h"
#include "ballot/limits.h"

/* --- Writing (each appends to b; returns 0, BALLOT_ENOMEM or BALLOT_ELIMIT, and on
 * failure b keeps its old contents) ------------------------------------------------------ */

/* "+text\r\n"; text must not hold CR or LF (asserted). */
int ballot_resp_simple(ballot_buf *b, const char *text);

/* "-text\r\n" with the text formatted; CR and LF in it become spaces, as Redis does, so
 * user bytes quoted in an error cannot break the protocol. Start the text with the error
 * code: "ERR syntax error". */
int ballot_resp_error(ballot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ":value\r\n". */
int ballot_resp_integer(ballot_buf *b, int64_t value);

/* "$len\r\n" data "\r\n". */
int ballot_resp_bulk(ballot_buf *b, const void *data, size_t len);

/* "$-1\r\n", the null bulk string (a missing key). */
int ballot_resp_null(ballot_buf *b);

/* "*count\r\n"; the caller appends count elements after it. */
int ballot_resp_array(ballot_buf *b, size_t count);

/* --- Decoding -------------------------------------------------------------------------- */

typedef enum ballot_resp_type {
	BALLOT_RESP_SIMPLE = 1, /* +text */
	BALLOT_RESP_ERROR,      /* -text */
	BALLOT_RESP_INTEGER,    /* :n */
	BALLOT_RESP_BULK,       /* $len bytes */
	BALLOT_RESP_NULL,       /* $-1 */
	BALLOT_RESP_ARRAY,      /* *count elements */
	BALLOT_RESP_NULL_ARRAY, /* *-1 */
} ballot_resp_type;

/* One decoded value. str holds the text of SIMPLE and ERROR (without the +/- sign) and the
 * bytes of BULK, NUL-terminated for convenience (bulk strings may hold NULs: use len). */
typedef struct ballot_resp_value {
	ballot_resp_type type;
	int64_t integer;                 /* INTEGER */
	const char *str;                 /* SIMPLE, ERROR, BULK; else NULL */
	size_t len;                      /* bytes in str */
	struct ballot_resp_value *items; /* ARRAY: count elements; else NULL */
	size_t count;
} ballot_resp_value;

/* Decodes the first reply in data[0..len).
 * - A whole reply: returns 0, *out is its tree and *consumed its length in bytes. The tree
 *   is one allocation owned by the caller (free it with ballot_resp_free) and copies every
 *   string, so data may be freed at once.
 * - Only the beginning of a reply: returns 0 with *out NULL and *consumed 0; call again
 *   with more bytes.
 * - Not RESP2, or past a BALLOT_RESP_* limit: BALLOT_ECORRUPT or BALLOT_ELIMIT, with em
 *   naming the byte offset. BALLOT_ENOMEM. */
int ballot_resp_decode_reply(const void *data, size_t len, ballot_resp_value **out, size_t *consumed,
			     ballot_errmsg *em);

/* Frees a tree from ballot_resp_decode_reply. NULL is allowed. */
void ballot_resp_free(ballot_resp_value *value);

#endif
