/* ballot limits: every bound the library enforces has a name and lives here.
 *
 * No "unlimited" defaults: a caller's configuration is checked against these at start and
 * refused with a clear error. Relations between limits are checked at compile time. */
#ifndef BALLOT_LIMITS_H
#define BALLOT_LIMITS_H

/* Bytes in a ballot_errmsg, including the terminating NUL. */
#define BALLOT_ERRMSG_MAX 256

/* Modules (versions, replicas) in one vote. 64 keeps a vote's state on the stack and its
 * verdict set in one 64-bit mask; NMR beyond a few dozen modules is not a real design. */
#define BALLOT_VOTE_MODULES_MAX 64

/* Numbers in one numeric output (fields voted one by one). */
#define BALLOT_VOTE_FIELDS_MAX 4096

/* Characters in one number of a numeric output ("-1.2345e-300" is 12). */
#define BALLOT_VOTE_NUMBER_CHARS_MAX 64

/* `ballot vote`: default and largest per-version output, and largest standard input. */
#define BALLOT_VOTE_OUTPUT_DEFAULT_BYTES (64u * 1024 * 1024)
#define BALLOT_VOTE_OUTPUT_MAX_BYTES (1024u * 1024 * 1024)
#define BALLOT_VOTE_INPUT_MAX_BYTES (1024u * 1024 * 1024)

/* `ballot vote --lines`: the longest line a version may write. */
#define BALLOT_VOTE_LINE_MAX_BYTES (1024u * 1024)

/* `ballot vote`: input bytes queued to one version before ballot stops reading its own
 * standard input until that version catches up (the slowest reader sets the pace). */
#define BALLOT_VOTE_STDIN_BACKLOG_BYTES (4u * 1024 * 1024)

/* `ballot vote`: bytes of each version's standard error kept for messages and the report. */
#define BALLOT_VOTE_STDERR_KEEP_BYTES 4096u

/* `ballot vote`: default and largest --timeout, in seconds. */
#define BALLOT_VOTE_TIMEOUT_DEFAULT_S 10
#define BALLOT_VOTE_TIMEOUT_MAX_S (7 * 24 * 3600)

/* Module health: the lowest weight REDUCE takes a module to, as a fraction of its initial
 * weight (a weight must stay positive for the voter to keep voting). */
#define BALLOT_HEALTH_WEIGHT_FLOOR 1e-9

/* Reliability analysis: largest N in the binomial and Markov models, and Monte Carlo trials. */
#define BALLOT_RELIABILITY_N_MAX 1000
#define BALLOT_MONTE_CARLO_TRIALS_MAX 1000000000ull

_Static_assert(BALLOT_VOTE_MODULES_MAX <= 64, "verdict masks are 64-bit");
_Static_assert(BALLOT_VOTE_LINE_MAX_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "a line fits in the largest output");
_Static_assert(BALLOT_VOTE_OUTPUT_DEFAULT_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "the default output cap is within the largest");

#endif
