/* The linearizability search on one key: Wing & Gong's tree search with Lowe's memo.
 *
 * search_key decides whether the operations of one key, cut to a window of the history,
 * can be ordered. The window (t, u) holds the operations that returned after event
 * position t and were invoked before position u; those whose whole interval lies inside
 * it must be placed, the others (and info operations) may be placed or left out, because
 * their effect may fall outside the window. With t = 0 the key starts absent; with t > 0
 * it starts as "any value", which explains any first read. So a window that fails is a
 * witness on its own: if the whole history were linearizable, every window would pass
 * (check.c relies on this to shrink a violation to the smallest failing window). */
#ifndef BALLOT_CHECK_SEARCH_H
#define BALLOT_CHECK_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/check.h"
#include "check/history.h"

/* The shared bounds of one ballot_check; every search and allocation draws on it. */
typedef struct check_budget {
	uint64_t steps, steps_max;
	uint64_t bytes, bytes_max, bytes_peak;
	uint64_t deadline_ms;
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	ballot_check_bound hit; /* the first bound reached; NONE while within all */
} check_budget;

/* Allocates n bytes counted against the memory bound; NULL (and hit set) when over it or
 * when malloc fails. budget_free takes the same n back. */
void *budget_alloc(check_budget *b, size_t n);
void budget_free(check_budget *b, void *p, size_t n);

typedef enum search_outcome {
	SEARCH_LINEARIZABLE = 0,
	SEARCH_NOT_LINEARIZABLE,
	SEARCH_GAVE_UP, /* budget->hit says which bound */
	SEARCH_PAUSED,  /* search_run reached pause_at_steps; run it again to go on */
} search_outcome;

#define SEARCH_WINDOW_END UINT64_MAX

typedef struct search search;

/* Prepares the search of the window (t, u) of the operations ops[0..n) of one key
 * (history indexes in invoke order). NULL when a bound is reached (budget->hit says which).
 * The search holds its memory, counted in budget, until search_free. */
search *search_new(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t, uint64_t u,
		   check_budget *budget);

/* Runs the search until it decides, gives up, or budget->steps reaches pause_at_steps
 * (SEARCH_PAUSED: call again with a later pause to go on, from where it stood). */
search_outcome search_run(search *s, uint64_t pause_at_steps);

/* The operation whose return the search reached latest without having placed it (its
 * history index and return position), if the search was ever stuck. After
 * SEARCH_NOT_LINEARIZABLE it is the op that could not be linearized. */
bool search_blocked(const search *s, uint32_t *hist_op, uint64_t *ret_pos);

void search_free(search *s);

/* search_new, search_run to the end, search_free. On SEARCH_NOT_LINEARIZABLE, *blocked and
 * *blocked_pos are search_blocked's. */
search_outcome search_key(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t,
			  uint64_t u, check_budget *budget, uint32_t *blocked, uint64_t *blocked_pos);

#endif
