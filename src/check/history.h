/* The history's inside, shared by the parser, the checker and the formatters.
 *
 * Every byte a history holds (keys, byte strings, the decimal text of integers) lives in
 * one buffer, `bytes`, and is named by offset, so the buffer can grow. An integer value
 * also keeps its decimal text there, because the map compares and appends text. */
#ifndef BALLOT_CHECK_HISTORY_H
#define BALLOT_CHECK_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "ballot/check.h"
#include "common/buf.h"

#define HISTORY_NONE UINT32_MAX
#define HISTORY_NEVER UINT64_MAX /* the return position of an operation that never returned */

/* A value as stored: its kind and integer, and its text at bytes[off, off + len). */
typedef struct hvalue {
	uint8_t kind; /* ballot_value_kind */
	int64_t integer;
	uint64_t off;
	uint32_t len;
} hvalue;

typedef struct hop {
	int64_t process;
	uint32_t key;    /* index into keys */
	uint8_t f;       /* ballot_op_kind */
	uint8_t outcome; /* ballot_event_type: INVOKE while open, then OK, FAIL or INFO */
	hvalue value, value2, result;
	uint64_t call_pos, ret_pos;       /* 1-based event positions; ret_pos HISTORY_NEVER for info and open */
	uint64_t invoke_line, complete_line; /* complete_line 0 while open */
} hop;

typedef struct hkey {
	uint64_t off;
	uint32_t len;
	uint64_t hash;
} hkey;

/* A process: its open operation, or the line of the info that ended it. */
typedef struct hproc {
	int64_t process;
	uint32_t open_op; /* HISTORY_NONE: none */
	bool used;
	uint64_t info_line; /* 0: not ended */
} hproc;

struct ballot_history {
	ballot_buf bytes;
	hop *ops;
	size_t op_count, op_cap;
	hkey *keys;
	size_t key_count, key_cap;
	uint32_t *key_table; /* open addressing: key index + 1, 0 empty */
	size_t key_table_cap;
	hproc *procs;
	size_t proc_count, proc_cap; /* proc_cap: power of two (open addressing) */
	uint64_t events;             /* events appended so far */
	const char *unit;            /* "event" for the API, "line" while parsing */
};

static inline const unsigned char *history_bytes(const ballot_history *h, uint64_t off)
{
	return (const unsigned char *)h->bytes.data + off;
}

/* Expectations a completion carries in the JSONL form: f and key, when given, must match
 * the open operation. NULL fields are not checked. */
typedef struct history_expect {
	const ballot_op_kind *f;
	const void *key;
	size_t key_len;
	bool has_key;
	const char *value_bad_kind; /* "value" was given but is not null, an integer or a string */
} history_expect;

/* The appenders behind ballot_history_invoke / _complete, with the line to record and
 * report. value is NULL when the JSONL event has no "value" field. */
int history_invoke_at(ballot_history *h, uint64_t line, int64_t process, const ballot_call *call,
		      ballot_errmsg *em);
int history_complete_at(ballot_history *h, uint64_t line, int64_t process, ballot_event_type type,
			const ballot_value *value, const history_expect *expect, ballot_errmsg *em);

/* The view of a stored value (bytes borrowed from h). */
ballot_value history_value_view(const ballot_history *h, const hvalue *v);

/* Formats int64 v as decimal into out (at least 21 bytes); returns the length. */
int history_format_int(char out[24], int64_t v);

/* Parses the canonical decimal text of an int64 ("-0", "+1", "01" and " 1" are not). */
bool history_parse_int(const unsigned char *s, size_t len, int64_t *out);

#endif
