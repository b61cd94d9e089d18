/* ballot NMR executor: run N versions of a computation on one input in parallel threads,
 * with a deadline, and vote on their outputs.
 *
 * Each module is a C function. It gets the input (read-only) and an output buffer of a
 * fixed capacity owned by the executor, and returns 0 with its answer or non-zero for
 * "failed". A module that misses the deadline counts as failed; C cannot stop a thread
 * safely, so a late module keeps running in its (detached) thread until it returns, and
 * the executor keeps the input and that module's buffer alive until then. Its `ctx` must
 * stay valid until the module returns, which for a hung module may be never: give hung-prone
 * modules a context with static lifetime, or run them as processes (`ballot vote`). */
#ifndef BALLOT_NMR_H
#define BALLOT_NMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/vote.h"

/* Where a module writes its answer: up to cap bytes into data and their count into len, or,
 * for numeric answers, a number with is_number set. */
typedef struct ballot_nmr_out {
	void *data;
	size_t cap;
	size_t len;
	double number;
	bool is_number;
} ballot_nmr_out;

typedef int (*ballot_nmr_fn)(void *ctx, const void *input, size_t input_len, ballot_nmr_out *out);

typedef struct ballot_nmr_module {
	const char *name; /* for reports; borrowed */
	ballot_nmr_fn fn;
	void *ctx;
} ballot_nmr_module;

typedef struct ballot_nmr_result {
	ballot_vote_result vote;
	size_t winner_len;                            /* bytes copied to the caller's buffer */
	int rc[BALLOT_VOTE_MODULES_MAX];              /* each module's return value (0 if late) */
	bool late[BALLOT_VOTE_MODULES_MAX];           /* missed the deadline */
	uint64_t elapsed_us[BALLOT_VOTE_MODULES_MAX]; /* run time of modules that finished */
} ballot_nmr_result;

/* Runs voter->n modules on the input with a deadline of deadline_ms (1 .. 3,600,000) and
 * votes with the voter (which also updates its module health). Each module gets an output
 * buffer of output_cap bytes (1 .. BALLOT_VOTE_OUTPUT_MAX_BYTES); a module that returns
 * non-zero, reports len > cap, or is late counts as failed. On a winner, its bytes are
 * copied to winner (winner_cap >= output_cap is required, so a winner always fits) or its
 * number is in result->vote.winner_number. Returns 0 (winner or not: see result->vote),
 * BALLOT_EINVAL for bad arguments, BALLOT_ENOMEM, or BALLOT_EIO if no thread could start.
 * The input is copied, so the caller may free it on return. */
int ballot_nmr_run(ballot_voter *voter, const ballot_nmr_module *modules, const void *input,
		   size_t input_len, unsigned deadline_ms, size_t output_cap, void *winner,
		   size_t winner_cap, ballot_nmr_result *result, ballot_errmsg *em);

#endif
