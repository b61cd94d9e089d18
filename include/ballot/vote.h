/* ballot voting: decide one output from N redundant modules, and name the ones that disagreed.
 *
 * A vote takes N module outputs (byte strings or numbers, or "failed": crashed, timed out),
 * a policy, and returns the winner (or why there is none), its support, and a verdict per
 * module: agreed, dissented, failed. Masking a fault is half of fault tolerance; naming the
 * faulty module is the other half, and the health tracker below acts on those names.
 *
 * Exact agreement compares outputs byte for byte; from five answers on, it first groups
 * them by their XXH3 hash and confirms each match with a byte comparison, so many distinct
 * outputs do not cost a comparison per pair, and outputs that share a hash never agree
 * unless their bytes do. (Below five, hashing costs more than it saves: bench/RESULTS.md.) Numbers agree exactly (==) or, with epsilon > 0, when they are
 * within epsilon of each other (inexact, "formalized" voting): the agreeing group is the
 * largest set of values whose spread (max - min) is at most epsilon, so every pair in it is
 * within epsilon, and the winner is its middle value. When two such sets overlap and tie
 * (1.0, 1.05, 1.1 with epsilon 0.06), the tighter one wins, then the lower; two disjoint
 * sets that tie are a tie.
 *
 * Nothing here allocates, blocks or keeps global state; a vote's cost is O(total bytes) for
 * exact voting plus O(N^2) comparisons of hashes (or of bytes, below five answers). */
#ifndef BALLOT_VOTE_H
#define BALLOT_VOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"

typedef enum ballot_output_kind {
	BALLOT_OUTPUT_FAILED = 0, /* the module crashed, timed out or gave no usable output */
	BALLOT_OUTPUT_BYTES,      /* data/len hold its output (borrowed, not copied) */
	BALLOT_OUTPUT_NUMBER,     /* number holds its output; a NaN counts as failed */
} ballot_output_kind;

/* One module's output. The vote only reads `data` during the call. */
typedef struct ballot_output {
	ballot_output_kind kind;
	const void *data;
	size_t len;
	double number;
} ballot_output;

static inline ballot_output ballot_output_bytes(const void *data, size_t len)
{
	return (ballot_output){.kind = BALLOT_OUTPUT_BYTES, .data = data, .len = len};
}

static inline ballot_output ballot_output_number(double number)
{
	return (ballot_output){.kind = BALLOT_OUTPUT_NUMBER, .number = number};
}

static inline ballot_output ballot_output_failed(void)
{
	return (ballot_output){.kind = BALLOT_OUTPUT_FAILED};
}

typedef enum ballot_policy {
	/* More than half of the N configured modules agree (failed modules count in N). */
	BALLOT_POLICY_MAJORITY = 0,
	/* The largest agreeing group wins; a tie for largest is no winner. */
	BALLOT_POLICY_PLURALITY,
	/* All N modules answer and agree. */
	BALLOT_POLICY_UNANIMOUS,
	/* At least `threshold` (M of N) modules agree; if two groups reach M, the larger wins,
	 * and a tie between them is no winner. */
	BALLOT_POLICY_THRESHOLD, /* (no group reaching M is BALLOT_NO_THRESHOLD, tie or not) */
	/* An agreeing group holds more than half of the total weight of all N modules. */
	BALLOT_POLICY_WEIGHTED,
	/* Numbers only: the median of the answers, when more than half of N answered. With an
	 * even count of answers it is the mean of the two middle values. */
	BALLOT_POLICY_MEDIAN,
	/* Numbers only: mid-value select, the midpoint of the answers left after dropping the
	 * lowest and the highest (the classic 3-input selector is the middle value; with N
	 * inputs one outlier on each side is discarded), when more than half of N answered. */
	BALLOT_POLICY_MID_VALUE,
	BALLOT_POLICY_COUNT_
} ballot_policy;

typedef struct ballot_vote_config {
	ballot_policy policy;
	unsigned threshold;    /* M, for BALLOT_POLICY_THRESHOLD: 1 <= M <= N */
	const double *weights; /* N positive finite weights, or NULL for 1 each */
	double epsilon;        /* >= 0; numbers within epsilon agree (0: exact) */
} ballot_vote_config;

typedef enum ballot_verdict {
	BALLOT_VERDICT_UNDECIDED = 0, /* it answered, but the vote had no winner to compare with */
	BALLOT_VERDICT_AGREED,        /* it answered the winner (within epsilon for numbers) */
	BALLOT_VERDICT_DISSENTED,     /* it answered something else */
	BALLOT_VERDICT_FAILED,        /* it gave no answer */
	BALLOT_VERDICT_EXCLUDED,      /* the health tracker removed it from the electorate */
} ballot_verdict;

typedef enum ballot_no_winner {
	BALLOT_WINNER = 0,          /* there is a winner */
	BALLOT_NO_MAJORITY,         /* no group has more than half of N */
	BALLOT_NO_WEIGHTED_MAJORITY,/* no group has more than half of the total weight */
	BALLOT_NO_TIE,              /* two or more groups tie for the most votes */
	BALLOT_NO_DISAGREEMENT,     /* unanimous: not every module gave the same answer */
	BALLOT_NO_THRESHOLD,        /* no group reached M */
	BALLOT_NO_TOO_FEW,          /* median/mid-value: not more than half of N answered */
	BALLOT_NO_ALL_FAILED,       /* no module answered */
} ballot_no_winner;

typedef struct ballot_vote_result {
	bool has_winner;
	ballot_no_winner reason;  /* BALLOT_WINNER when has_winner */
	int winner_index;         /* a module whose output is the winner; -1 for none, or for a
				     median/mid-value result that is computed, not chosen */
	double winner_number;     /* the winning number (numeric outputs) */
	unsigned support_count;   /* modules that agreed */
	double support_weight;    /* their total weight */
	double total_weight;      /* weight of the electorate (all N modules not excluded) */
	unsigned electorate;      /* N less excluded modules */
	unsigned answered;        /* modules that gave an answer */
	size_t n;
	ballot_verdict verdicts[BALLOT_VOTE_MODULES_MAX];
} ballot_vote_result;

/* Checks a configuration for n modules: policy known, 1 <= n <= BALLOT_VOTE_MODULES_MAX,
 * 1 <= threshold <= n for THRESHOLD, weights positive and finite, epsilon >= 0 and finite.
 * Returns 0 or BALLOT_EINVAL / BALLOT_ELIMIT with a message naming what is wrong. */
int ballot_vote_config_check(const ballot_vote_config *config, size_t n, ballot_errmsg *em);

/* Votes over outputs[0..n). Returns 0 whether or not there is a winner (see result), or
 * BALLOT_EINVAL for a bad configuration or a numeric policy given a byte output. `excluded`
 * may be NULL; else excluded[i] removes module i from the electorate (its verdict is
 * EXCLUDED and it counts in neither N nor the total weight). On success the result is
 * fully written; on an error it is left as it was.
 *
 * Median and mid-value judge each answer by its distance to the result: with epsilon 0,
 * only answers equal to it agree, so give an epsilon that says how close is close enough
 * (especially before feeding those verdicts to a health tracker). */
int ballot_vote(const ballot_vote_config *config, const ballot_output *outputs, size_t n,
		const bool *excluded, ballot_vote_result *result, ballot_errmsg *em);

/* Names for messages and reports: "majority", "dissented", "no majority". Never NULL. */
const char *ballot_policy_name(ballot_policy policy);
const char *ballot_verdict_name(ballot_verdict verdict);
const char *ballot_no_winner_text(ballot_no_winner reason);

/* Parses a policy name as the CLI spells it ("majority", "threshold" etc.; threshold's M is
 * given apart). Returns 0 or BALLOT_EINVAL. */
int ballot_policy_parse(const char *name, ballot_policy *policy);

/* True for the policies that need numbers (median, mid-value). */
bool ballot_policy_is_numeric(ballot_policy policy);

/* ---- Numeric outputs ---------------------------------------------------------------- */

/* One number of a numeric output and where its text sits in the output. */
typedef struct ballot_number {
	double value;
	size_t offset; /* of its first character */
	size_t len;    /* characters of its text */
} ballot_number;

/* Parses whitespace-separated finite decimal numbers (as strtod reads them in the C
 * locale: "42", "-1.5e3", "0x1p3"; not "nan", "inf" or "1,5"). Stores at most `max` of
 * them in out and their count in *count. Returns 0, BALLOT_EINVAL for a token that is not a
 * finite number (the message quotes it and gives its offset), or BALLOT_ELIMIT for more
 * than `max` numbers or a token longer than BALLOT_VOTE_NUMBER_CHARS_MAX. Reads exactly
 * len bytes; text need not be NUL-terminated and may hold any bytes. */
int ballot_numbers_parse(const void *text, size_t len, ballot_number *out, size_t max,
			 size_t *count, ballot_errmsg *em);

/* ---- Module health ------------------------------------------------------------------ */

typedef enum ballot_health_action {
	BALLOT_HEALTH_REPORT = 0, /* only count and report */
	BALLOT_HEALTH_REDUCE,     /* multiply the module's weight by `reduce_factor` */
	BALLOT_HEALTH_EXCLUDE,    /* remove the module from the electorate */
} ballot_health_action;

typedef struct ballot_health_config {
	unsigned fault_limit;        /* K: act after K consecutive faulty votes (0: never act) */
	ballot_health_action action;
	double reduce_factor;        /* in (0, 1), for BALLOT_HEALTH_REDUCE */
	bool failures_are_faults;    /* count failures, not only dissents, towards K */
} ballot_health_config;

typedef struct ballot_module_health {
	uint64_t votes;              /* votes it took part in (not excluded) */
	uint64_t agreed;
	uint64_t dissented;
	uint64_t failed;
	unsigned consecutive_faults; /* dissents (and failures, if they count) in a row */
	unsigned longest_fault_run;
	double weight;               /* its weight now */
	double initial_weight;       /* its weight at init; REDUCE never goes below
					BALLOT_HEALTH_WEIGHT_FLOOR times this */
	bool excluded;
	unsigned actions;            /* times the tracker acted on it */
} ballot_module_health;

/* A voter that remembers: it votes with a fixed configuration and keeps per-module health.
 * Owns no heap memory and holds no pointer into itself; copy it freely. */
typedef struct ballot_voter {
	ballot_vote_config config; /* config.weights is NULL: votes use weights below */
	ballot_health_config health;
	size_t n;
	uint64_t rounds;
	double weights[BALLOT_VOTE_MODULES_MAX];
	ballot_module_health modules[BALLOT_VOTE_MODULES_MAX];
} ballot_voter;

/* Sets up a voter for n modules; config->weights (or 1 each) are copied. Returns 0 or
 * BALLOT_EINVAL / BALLOT_ELIMIT (see ballot_vote_config_check; reduce_factor in (0, 1)). */
int ballot_voter_init(ballot_voter *voter, const ballot_vote_config *config, size_t n,
		      const ballot_health_config *health, ballot_errmsg *em);

/* Votes with the current weights and exclusions, then updates health. A round without a
 * winner changes no dissent count (there was nothing to dissent from) but does count
 * failures. If the tracker acted on module i in this round, bit i of *acted is set (acted
 * may be NULL). Never excludes the last module of the electorate. */
int ballot_voter_vote(ballot_voter *voter, const ballot_output *outputs, ballot_vote_result *result,
		      uint64_t *acted, ballot_errmsg *em);

#endif
