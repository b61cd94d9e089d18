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
} search_outcome;

#define SEARCH_WINDOW_END UINT64_MAX

/* Searches the window (t, u) of the operations ops[0..n) of one key (history indexes in
 * invoke order). On SEARCH_NOT_LINEARIZABLE, *blocked is the history index of the
 * operation whose return the search reached latest without having placed it. Everything
 * the search allocates is released before it returns. */
search_outcome search_key(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t,
			  uint64_t u, check_budget *budget, uint32_t *blocked);

#endif
