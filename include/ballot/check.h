/* ballot check: is a history of concurrent operations on a key-value map linearizable?
 *
 * A history is a sequence of events in real-time order: a process invokes an operation,
 * and a later event of the same process completes it with `ok` (it happened, and here is
 * what it returned), `fail` (it certainly did not take effect) or `info` (unknown: it may
 * take effect at any time after its invoke, or never). The checker searches for one order
 * of the operations that respects real time (an operation that completed before another
 * was invoked comes first) and explains every result with a sequential key-value map.
 * Such an order exists exactly when the history is linearizable (Herlihy & Wing, 1990).
 *
 * The map has Redis semantics: a value is a byte string or absent; an integer written is
 * its decimal text, so write 5 then append "ab" reads "5ab"; incr works on the decimal
 * text of a signed 64-bit integer, treats an absent key as 0 and cannot succeed on any
 * other string or on overflow. docs/history.md is the full contract, with the JSONL form.
 *
 * The search is Wing & Gong's, with Lowe's memoization of (operations linearized, value)
 * (G. Lowe, "Testing for linearizability", 2017; as in Porcupine), run on each key on its
 * own: a map is linearizable exactly when each of its keys is (Herlihy & Wing's locality,
 * "P-compositionality" in Horn & Kroening). The search is exponential in the worst case,
 * so it runs under bounds (steps, memory, and time if the caller gives a clock) and says
 * which bound it reached instead of guessing. Without a clock it is deterministic: the same
 * history and limits give the same result, step counts included, on every machine.
 *
 * Nothing here does I/O or keeps global state. Callers own the history and the result and
 * free them with ballot_history_free and ballot_check_result_free. */
#ifndef BALLOT_CHECK_H
#define BALLOT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"

/* ---- values and operations ----------------------------------------------------------- */

typedef enum ballot_value_kind {
	BALLOT_VALUE_NULL = 0, /* absent (a read of a missing key; write null deletes) */
	BALLOT_VALUE_INT,      /* integer: the map stores its decimal text */
	BALLOT_VALUE_BYTES,    /* byte string (any bytes; JSON strings are UTF-8) */
} ballot_value_kind;

/* A typed value. `bytes` is borrowed by the call it is passed to and copied by it. */
typedef struct ballot_value {
	ballot_value_kind kind;
	int64_t integer;   /* BALLOT_VALUE_INT */
	const void *bytes; /* BALLOT_VALUE_BYTES: len bytes (NULL allowed when len is 0) */
	size_t len;
} ballot_value;

static inline ballot_value ballot_value_null(void)
{
	return (ballot_value){.kind = BALLOT_VALUE_NULL};
}

static inline ballot_value ballot_value_int(int64_t v)
{
	return (ballot_value){.kind = BALLOT_VALUE_INT, .integer = v};
}

static inline ballot_value ballot_value_bytes(const void *bytes, size_t len)
{
	return (ballot_value){.kind = BALLOT_VALUE_BYTES, .bytes = bytes, .len = len};
}

typedef enum ballot_op_kind {
	BALLOT_OP_READ = 0, /* ok: value is what it read (null: absent) */
	BALLOT_OP_WRITE,    /* value: the value written (null deletes the key) */
	BALLOT_OP_CAS,      /* value: expected, value2: new; ok: swapped; fail: compared unequal */
	BALLOT_OP_INCR,     /* value: the increment (INT); ok: value is the new value (INT) */
	BALLOT_OP_APPEND,   /* value: the suffix (BYTES or INT, as its decimal text) */
	BALLOT_OP_KIND_COUNT_
} ballot_op_kind;

typedef enum ballot_event_type {
	BALLOT_EVENT_INVOKE = 0,
	BALLOT_EVENT_OK,   /* it took effect; for read and incr, value is its result */
	BALLOT_EVENT_FAIL, /* it did not take effect (a cas: its comparison did not match) */
	BALLOT_EVENT_INFO, /* unknown: it may take effect after its invoke, or never */
	BALLOT_EVENT_TYPE_COUNT_
} ballot_event_type;

/* An invocation: what one process asks of one key. */
typedef struct ballot_call {
	ballot_op_kind f;
	const void *key; /* key_len bytes, borrowed and copied; keys are byte strings */
	size_t key_len;
	ballot_value value;  /* see ballot_op_kind; ignored for a read */
	ballot_value value2; /* cas only: the new value */
} ballot_call;

/* The names used in the JSONL form ("read", "ok", ...); never NULL. */
const char *ballot_op_kind_name(ballot_op_kind f);
const char *ballot_event_type_name(ballot_event_type type);

/* ---- histories ----------------------------------------------------------------------- */

typedef struct ballot_history ballot_history;

/* Creates an empty history in *out. Returns 0 or BALLOT_ENOMEM. */
int ballot_history_new(ballot_history **out);

/* Frees h and everything borrowed from it (op views, result keys). NULL is allowed. */
void ballot_history_free(ballot_history *h);

/* Appends an invoke by `process`. Fails with BALLOT_EINVAL, leaving h as it was, when the
 * process already has an open operation or has ended with info, or when a value has the
 * wrong type for call->f (incr needs an INT, append an INT or BYTES, cas two values);
 * BALLOT_ELIMIT past BALLOT_CHECK_OPS_MAX operations or BALLOT_CHECK_VALUE_MAX_BYTES in a
 * key or value; BALLOT_ENOMEM. The detail names the event by its 1-based position. */
int ballot_history_invoke(ballot_history *h, int64_t process, const ballot_call *call,
			  ballot_errmsg *em);

/* Completes the open operation of `process` with type OK, FAIL or INFO. `value` is read
 * only for an ok read (the value read) and an ok incr (the new value, an INT); pass
 * ballot_value_null() otherwise. A process that completes with INFO may issue nothing
 * more. Fails with BALLOT_EINVAL (no open operation, a bad type or value) and leaves h as
 * it was; BALLOT_ENOMEM. */
int ballot_history_complete(ballot_history *h, int64_t process, ballot_event_type type,
			    ballot_value value, ballot_errmsg *em);

/* Parses a JSONL history (one JSON object per line, docs/history.md) of len bytes and
 * appends its events to h. Blank lines are skipped; line numbers count every line from 1,
 * and each operation remembers the lines of its events. On a malformed line it returns
 * BALLOT_EINVAL with "line N: what is wrong" in em and N in *bad_line (if not NULL), and h
 * keeps the events of the lines before it; BALLOT_ELIMIT and BALLOT_ENOMEM likewise. */
int ballot_history_parse_jsonl(ballot_history *h, const char *text, size_t len,
			       uint64_t *bad_line, ballot_errmsg *em);

/* Operations in h, counted at their invoke, indexed from 0 in invoke order. */
size_t ballot_history_op_count(const ballot_history *h);

/* One operation as the history holds it. Pointers are borrowed from h: valid until the
 * next append to h or until it is freed. */
typedef struct ballot_op_view {
	int64_t process;
	ballot_call call;          /* key and invoke values (INT stays INT) */
	ballot_event_type outcome; /* OK, FAIL or INFO; INFO also when never completed */
	bool completed;            /* false: still open at the end of the history */
	ballot_value result;       /* ok read: the value read; ok incr: the new value */
	uint64_t invoke_line;      /* line (parsed) or 1-based event position (appended) */
	uint64_t complete_line;    /* 0 when never completed */
} ballot_op_view;

/* Fills *out for operation i. Precondition: i < ballot_history_op_count(h). */
void ballot_history_op(const ballot_history *h, size_t i, ballot_op_view *out);

/* Writes one event of operation i as a JSON object on one line, without a newline, with a
 * leading "line" field: its invoke (completion false) or its completion (true; an
 * operation never completed has none and writes nothing). Like snprintf: writes at most
 * cap bytes including a NUL and returns the length the whole text needs. Byte strings that
 * are not UTF-8 are written with U+FFFD for each bad byte. */
size_t ballot_history_event_json(const ballot_history *h, size_t i, bool completion,
				 char *out, size_t cap);

/* ---- checking ------------------------------------------------------------------------ */

/* The bounds of one ballot_check. ballot_check_limits_default fills the defaults from
 * ballot/limits.h; every field must be within its named minimum and maximum. */
typedef struct ballot_check_limits {
	/* Linearization attempts, summed over all keys and the search for the smallest window. */
	uint64_t steps_max;
	/* Bytes of search state held at once (memo table, values built, stacks), counted by the
	 * checker itself so the bound is the same on every machine. */
	uint64_t memory_bytes_max;
	/* With clock_ms: give up timeout_ms after the start. Without a clock it is not read. */
	uint64_t timeout_ms;
	/* A monotonic clock in milliseconds, or NULL for no time bound (and a deterministic
	 * result). Read every few thousand steps. */
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
} ballot_check_limits;

void ballot_check_limits_default(ballot_check_limits *limits);

typedef enum ballot_check_verdict {
	BALLOT_CHECK_LINEARIZABLE = 0,
	BALLOT_CHECK_NOT_LINEARIZABLE,
	BALLOT_CHECK_UNKNOWN, /* a bound was reached before an answer; see `bound` */
} ballot_check_verdict;

typedef enum ballot_check_bound {
	BALLOT_CHECK_BOUND_NONE = 0,
	BALLOT_CHECK_BOUND_STEPS,
	BALLOT_CHECK_BOUND_MEMORY, /* memory_bytes_max, or an allocation failed */
	BALLOT_CHECK_BOUND_TIME,
} ballot_check_bound;

typedef struct ballot_check_result {
	ballot_check_verdict verdict;
	ballot_check_bound bound; /* UNKNOWN: the first bound reached; NONE otherwise */

	/* NOT_LINEARIZABLE: the key whose history cannot be ordered. UNKNOWN: the first key the
	 * search gave up on. Borrowed from the history. */
	const void *key;
	size_t key_len;

	/* NOT_LINEARIZABLE: the smallest window found, as indexes of operations (ascending,
	 * i.e. in invoke order) on that key: the operations that completed after the cut at
	 * its start and were invoked before the cut at its end (failed operations other than
	 * cas, which did not happen, reads of unknown outcome, and the info operations counted
	 * in window_unknown_earlier are left out). No order of
	 * them explains their results (from an absent key when window_from_start, else from
	 * any value), whether or not the operations that span a cut take effect inside it, so
	 * they are a witness by themselves. Owned by the result. */
	size_t *window;
	size_t window_len;
	/* The cuts, as lines: the window holds the operations not completed on or before line
	 * window_after_line (0: no cut, the key's first operation on) and invoked on or before
	 * line window_through_line (UINT64_MAX: no cut, to the end). Those completed before
	 * the end cut and invoked after the start cut must take effect in the window; those
	 * that span a cut (and info ones) may or may not. */
	uint64_t window_after_line;
	uint64_t window_through_line;
	/* Operations with an unknown outcome (info or never completed) invoked before the
	 * window: they belong to the witness, which lets each take effect anywhere in it or
	 * not at all, but are only counted here, not listed in `window`. */
	size_t window_unknown_earlier;
	size_t blocked_op;      /* in window: the op the search got furthest without placing */
	bool window_from_start; /* the window begins with the key's first operation */
	bool window_minimal;    /* false: a bound cut the shrinking short; still a witness */

	/* Statistics. */
	size_t ops;               /* operations in the history */
	size_t keys;              /* distinct keys */
	size_t keys_checked;      /* keys decided linearizable before the verdict */
	uint64_t steps;           /* linearization attempts made */
	uint64_t memory_bytes_peak;
} ballot_check_result;

/* Decides whether h is linearizable under `limits` (NULL: the defaults) and fills *result,
 * which the caller frees with ballot_check_result_free. Returns 0 when *result holds a
 * verdict (UNKNOWN included: an allocation failure in the search is reported as the
 * memory bound); BALLOT_EINVAL for limits out of range, with the detail in em;
 * BALLOT_ENOMEM when the result's window cannot be allocated. Operations still open at the
 * end of h count as info. h is not modified. */
int ballot_check(const ballot_history *h, const ballot_check_limits *limits,
		 ballot_check_result *result, ballot_errmsg *em);

void ballot_check_result_free(ballot_check_result *result);

/* A human explanation of the result, in one or more lines without a trailing newline.
 * Like snprintf: writes at most cap bytes including a NUL and returns the length needed. */
size_t ballot_check_explain(const ballot_history *h, const ballot_check_result *result,
			    char *out, size_t cap);

/* The short name of a bound ("steps", "memory", "time", "none"). */
const char *ballot_check_bound_name(ballot_check_bound bound);

#endif
