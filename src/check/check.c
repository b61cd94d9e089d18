/* ballot_check: one search per key, then the smallest failing window of a violation, and
 * the words and JSON lines that explain a result (see ballot/check.h).
 *
 * Shrinking relies on the window property of check/search.h: a window that fails is a
 * witness, and failing is monotone (a window that contains a failing window fails too).
 * So the end of the window is the earliest return after which the history fails (a binary
 * search over the key's returns), and its start the latest cut after which that prefix
 * still fails (another binary search). Each probe is a full search under the same bounds;
 * a probe that gives up counts as passing, so the window found is always a true witness,
 * possibly not the smallest (window_minimal says which). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/history.h"
#include "check/search.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/json.h"

void ballot_check_limits_default(ballot_check_limits *limits)
{
	*limits = (ballot_check_limits){
		.steps_max = BALLOT_CHECK_STEPS_DEFAULT,
		.memory_bytes_max = BALLOT_CHECK_MEMORY_DEFAULT_BYTES,
		.timeout_ms = BALLOT_CHECK_TIMEOUT_DEFAULT_MS,
		.clock_ms = NULL,
	};
}

const char *ballot_check_bound_name(ballot_check_bound bound)
{
	switch (bound) {
	case BALLOT_CHECK_BOUND_NONE: return "none";
	case BALLOT_CHECK_BOUND_STEPS: return "steps";
	case BALLOT_CHECK_BOUND_MEMORY: return "memory";
	case BALLOT_CHECK_BOUND_TIME: return "time";
	}
	return "unknown";
}

void ballot_check_result_free(ballot_check_result *result)
{
	if (result == NULL)
		return;
	free(result->window);
	result->window = NULL;
	result->window_len = 0;
}

static int check_limits(const ballot_check_limits *l, ballot_errmsg *em)
{
	if (l->steps_max < 1 || l->steps_max > BALLOT_CHECK_STEPS_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "steps bound %" PRIu64 ": must be between 1 and %llu",
				     l->steps_max, (unsigned long long)BALLOT_CHECK_STEPS_MAX);
	if (l->memory_bytes_max < BALLOT_CHECK_MEMORY_MIN_BYTES ||
	    l->memory_bytes_max > BALLOT_CHECK_MEMORY_MAX_BYTES)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "memory bound %" PRIu64 " bytes: must be between %llu and %llu",
				     l->memory_bytes_max, (unsigned long long)BALLOT_CHECK_MEMORY_MIN_BYTES,
				     (unsigned long long)BALLOT_CHECK_MEMORY_MAX_BYTES);
	if (l->clock_ms != NULL && (l->timeout_ms < 1 || l->timeout_ms > BALLOT_CHECK_TIMEOUT_MAX_MS))
		return ballot_errorf(em, BALLOT_EINVAL, "time bound %" PRIu64 " ms: must be between 1 and %llu",
				     l->timeout_ms, (unsigned long long)BALLOT_CHECK_TIMEOUT_MAX_MS);
	return 0;
}

/* The ops of each key, in invoke order: ops of key k are order[start[k] .. start[k+1]). */
typedef struct key_index {
	uint32_t *order;
	size_t *start;
} key_index;

static bool index_keys(const ballot_history *h, check_budget *b, key_index *ki)
{
	ki->order = budget_alloc(b, (h->op_count ? h->op_count : 1) * sizeof *ki->order);
	ki->start = budget_alloc(b, (h->key_count + 1) * sizeof *ki->start);
	if (ki->order == NULL || ki->start == NULL)
		return false;
	memset(ki->start, 0, (h->key_count + 1) * sizeof *ki->start);
	for (size_t i = 0; i < h->op_count; i++)
		ki->start[h->ops[i].key + 1]++;
	for (size_t k = 0; k < h->key_count; k++)
		ki->start[k + 1] += ki->start[k];
	size_t *fill = budget_alloc(b, (h->key_count ? h->key_count : 1) * sizeof *fill);
	if (fill == NULL)
		return false;
	memcpy(fill, ki->start, h->key_count * sizeof *fill);
	for (size_t i = 0; i < h->op_count; i++)
		ki->order[fill[h->ops[i].key]++] = (uint32_t)i;
	budget_free(b, fill, (h->key_count ? h->key_count : 1) * sizeof *fill);
	return true;
}

static void free_keys(const ballot_history *h, check_budget *b, key_index *ki)
{
	budget_free(b, ki->order, (h->op_count ? h->op_count : 1) * sizeof *ki->order);
	budget_free(b, ki->start, (h->key_count + 1) * sizeof *ki->start);
}

/* How a key's search is paced (see decide_key): tuning, not limits. The first slice of
 * steps before the search looks for a local violation, per operation and at least; and
 * the probes of windows ending at the op where the search got stuck: how far back they
 * reach (in returns) and how many steps each may take, per required op and at least. */
#define SLICE_STEPS_PER_OP 100u
#define SLICE_STEPS_MIN 1000000u
#define PROBE_RETURNS_MAX 4096u
#define PROBE_STEPS_PER_OP 1000u
#define PROBE_STEPS_MIN 100000u

/* One key being decided. */
typedef struct key_ctx {
	const ballot_history *h;
	const uint32_t *ops; /* the key's ops, in invoke order */
	size_t n;
	check_budget *b;
	uint64_t *rets; /* return positions of required ops (ok, failed cas), ascending */
	size_t m;
	bool minimal; /* false once a probe gave up */
} key_ctx;

typedef enum probe_result { PROBE_PASSES, PROBE_FAILS } probe_result;

/* Searches the window (t, u) with at most cap steps. A probe that gives up counts as
 * passing (so every window reported fails for certain): one cut short by its cap or by
 * memory (which it frees) leaves the budget usable; time and the caller's step bound stay
 * reached. */
static probe_result probe(key_ctx *kc, uint64_t t, uint64_t u, uint64_t cap, uint32_t *blocked)
{
	check_budget *b = kc->b;
	uint64_t steps_max = b->steps_max;
	if (cap < steps_max - b->steps)
		b->steps_max = b->steps + cap;
	uint32_t blocked_here;
	uint64_t pos;
	search_outcome o = search_key(kc->h, kc->ops, kc->n, t, u, b, &blocked_here, &pos);
	bool capped = b->steps_max != steps_max;
	b->steps_max = steps_max;
	if (o == SEARCH_GAVE_UP) {
		kc->minimal = false;
		if (b->hit == BALLOT_CHECK_BOUND_MEMORY || (b->hit == BALLOT_CHECK_BOUND_STEPS && capped))
			b->hit = BALLOT_CHECK_BOUND_NONE;
		return PROBE_PASSES;
	}
	if (o != SEARCH_NOT_LINEARIZABLE)
		return PROBE_PASSES;
	*blocked = blocked_here;
	return PROBE_FAILS;
}

/* The count of required returns before position u. */
static size_t returns_before(const key_ctx *kc, uint64_t u)
{
	size_t lo = 0, hi = kc->m;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (kc->rets[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Violations are local in practice: a stale read contradicts a few writes just before it.
 * Proving that with the whole history means exhausting every order of everything before
 * it, which info operations make enormous; a window that fails proves it alone. So try
 * windows that end just after the op where the search got stuck (returning at pos),
 * reaching back 1, 2, 4, ... returns, for at most about `total` steps in all. On success,
 * (*t, *u) fails. */
static bool find_local_window(key_ctx *kc, uint64_t pos, uint64_t total, uint64_t *t, uint64_t *u,
			      uint32_t *blocked)
{
	uint64_t first_step = kc->b->steps;
	uint64_t end = pos + 1;
	size_t count = returns_before(kc, end); /* rets[count - 1] == pos */
	for (size_t back = 1;; back *= 2) {
		if (back > count)
			back = count; /* the last round tries the whole prefix */
		uint64_t start = back < count ? kc->rets[count - 1 - back] : 0;
		uint64_t cap = PROBE_STEPS_MIN + (uint64_t)PROBE_STEPS_PER_OP * back;
		if (kc->b->steps - first_step >= total)
			return false;
		if (probe(kc, start, end, cap, blocked) == PROBE_FAILS) {
			*t = start;
			*u = end;
			return true;
		}
		if (back == count || back >= PROBE_RETURNS_MAX)
			return false;
	}
}

/* Shrinks a failing window (t, u) of the key: first the earliest end, then the latest
 * start, each by binary search over the returns (failing is monotone). */
static void shrink(key_ctx *kc, uint64_t *t, uint64_t *u, uint32_t *blocked, uint64_t cap)
{
	size_t first = returns_before(kc, *t + 1); /* rets[first..] > t */
	size_t last = returns_before(kc, *u);      /* rets[..last) < u */

	/* The end: the earliest return r with (t, r + 1) failing; index last is u itself. */
	size_t lo = first, hi = last;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (probe(kc, *t, kc->rets[mid] + 1, cap, blocked) == PROBE_FAILS)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (hi < last)
		*u = kc->rets[hi] + 1;
	last = returns_before(kc, *u);

	/* The start: the latest cut at a return with (cut, u) failing; candidate i cuts at
	 * rets[first + i - 1], candidate 0 is t itself. */
	lo = 0;
	hi = last > first ? last - first : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (probe(kc, kc->rets[first + mid - 1], *u, cap, blocked) == PROBE_FAILS)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (lo > 0)
		*t = kc->rets[first + lo - 1];
}

static int fill_window(const key_ctx *kc, uint64_t t, uint64_t u, uint32_t blocked,
		       ballot_check_result *result)
{
	size_t len = 0;
	result->window = malloc((kc->n ? kc->n : 1) * sizeof *result->window);
	if (result->window == NULL)
		return BALLOT_ENOMEM;
	for (size_t i = 0; i < kc->n; i++) {
		const hop *op = &kc->h->ops[kc->ops[i]];
		if (op->call_pos >= u)
			break;
		if (op->ret_pos <= t)
			continue;
		if (op->outcome == BALLOT_EVENT_FAIL && op->f != BALLOT_OP_CAS)
			continue; /* it did not happen */
		if (op->f == BALLOT_OP_READ && op->outcome != BALLOT_EVENT_OK)
			continue; /* no effect and no result */
		if (op->call_pos < t && op->ret_pos == HISTORY_NEVER) {
			result->window_unknown_earlier++; /* info from before the window: counted */
			continue;
		}
		result->window[len++] = kc->ops[i];
	}
	result->window_after_line = 0;
	result->window_through_line = UINT64_MAX;
	for (size_t i = 0; i < kc->n; i++) {
		const hop *op = &kc->h->ops[kc->ops[i]];
		if (t != 0 && op->ret_pos == t)
			result->window_after_line = op->complete_line;
		if (u != SEARCH_WINDOW_END && op->ret_pos == u - 1)
			result->window_through_line = op->complete_line;
	}
	result->window_len = len;
	result->blocked_op = blocked;
	result->window_from_start = t == 0;
	result->window_minimal = kc->minimal;
	return 0;
}

/* Decides one key. The whole-history search runs in slices; after each slice in which it
 * got stuck somewhere new, windows ending there are probed, and a failing one settles the
 * key. A violation found either way is shrunk before it is reported. */
static search_outcome decide_key(key_ctx *kc, ballot_check_result *result, int *rc)
{
	check_budget *b = kc->b;
	uint64_t start_steps = b->steps;
	search *s = search_new(kc->h, kc->ops, kc->n, 0, SEARCH_WINDOW_END, b);
	if (s == NULL)
		return SEARCH_GAVE_UP;
	uint64_t slice = (uint64_t)SLICE_STEPS_PER_OP * kc->n;
	if (slice < SLICE_STEPS_MIN)
		slice = SLICE_STEPS_MIN;
	uint64_t probed_pos = 0;
	uint64_t t = 0, u = SEARCH_WINDOW_END;
	uint32_t blocked = 0;
	uint64_t pos = 0;
	bool local = false;
	search_outcome o;
	for (;;) {
		uint64_t pause = UINT64_MAX - b->steps > slice ? b->steps + slice : UINT64_MAX;
		o = search_run(s, pause);
		if (o != SEARCH_PAUSED)
			break;
		if (search_blocked(s, &blocked, &pos) && pos != probed_pos) {
			probed_pos = pos;
			/* Probing may take as many steps as the slice just run: at most half the work. */
			if (find_local_window(kc, pos, slice, &t, &u, &blocked)) {
				local = true;
				o = SEARCH_NOT_LINEARIZABLE;
				break;
			}
		}
		if (b->hit != BALLOT_CHECK_BOUND_NONE) {
			o = SEARCH_GAVE_UP;
			break;
		}
		slice = slice > UINT64_MAX / 2 ? UINT64_MAX : slice * 2;
	}
	if (o == SEARCH_NOT_LINEARIZABLE && !local) {
		bool found = search_blocked(s, &blocked, &pos);
		BALLOT_ASSERT(found); /* a failed search ran out of candidates somewhere */
	}
	search_free(s);
	if (o != SEARCH_NOT_LINEARIZABLE)
		return o;

	/* Shrinking probes may take twice what deciding took (a failing prefix costs about as
	 * much as the whole search did), and at least a probe's minimum. */
	uint64_t cap = 2 * (b->steps - start_steps) + PROBE_STEPS_MIN;
	if (!local && pos != probed_pos && find_local_window(kc, pos, cap, &t, &u, &blocked))
		local = true;
	shrink(kc, &t, &u, &blocked, cap);
	*rc = fill_window(kc, t, u, blocked, result);
	return SEARCH_NOT_LINEARIZABLE;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The sorted returns of the key's required ops, for the windows; NULL when out of memory. */
static bool collect_returns(key_ctx *kc)
{
	kc->rets = budget_alloc(kc->b, (kc->n ? kc->n : 1) * sizeof *kc->rets);
	if (kc->rets == NULL)
		return false;
	kc->m = 0;
	for (size_t i = 0; i < kc->n; i++) {
		const hop *op = &kc->h->ops[kc->ops[i]];
		if (op->outcome == BALLOT_EVENT_OK || (op->outcome == BALLOT_EVENT_FAIL && op->f == BALLOT_OP_CAS))
			kc->rets[kc->m++] = op->ret_pos;
	}
	qsort(kc->rets, kc->m, sizeof *kc->rets, cmp_u64);
	return true;
}

int ballot_check(const ballot_history *h, const ballot_check_limits *limits,
		 ballot_check_result *result, ballot_errmsg *em)
{
	ballot_check_limits defaults;
	if (limits == NULL) {
		ballot_check_limits_default(&defaults);
		limits = &defaults;
	}
	memset(result, 0, sizeof *result);
	int rc = check_limits(limits, em);
	if (rc != 0)
		return rc;
	result->ops = h->op_count;
	result->keys = h->key_count;

	check_budget b = {
		.steps_max = limits->steps_max,
		.bytes_max = limits->memory_bytes_max,
		.clock_ms = limits->clock_ms,
		.clock_ctx = limits->clock_ctx,
	};
	if (b.clock_ms != NULL)
		b.deadline_ms = b.clock_ms(b.clock_ctx) + limits->timeout_ms;

	key_index ki = {0};
	if (!index_keys(h, &b, &ki)) {
		result->verdict = BALLOT_CHECK_UNKNOWN;
		result->bound = BALLOT_CHECK_BOUND_MEMORY;
		goto done;
	}
	result->verdict = BALLOT_CHECK_LINEARIZABLE;
	for (size_t k = 0; k < h->key_count; k++) {
		const hkey *key = &h->keys[k];
		key_ctx kc = {.h = h, .ops = ki.order + ki.start[k], .n = ki.start[k + 1] - ki.start[k],
			      .b = &b, .minimal = true};
		search_outcome o = SEARCH_GAVE_UP;
		if (collect_returns(&kc))
			o = decide_key(&kc, result, &rc);
		budget_free(&b, kc.rets, (kc.n ? kc.n : 1) * sizeof *kc.rets);
		if (o == SEARCH_LINEARIZABLE) {
			result->keys_checked++;
			continue;
		}
		if (o == SEARCH_NOT_LINEARIZABLE) {
			result->verdict = BALLOT_CHECK_NOT_LINEARIZABLE;
			result->bound = BALLOT_CHECK_BOUND_NONE;
			result->key = history_bytes(h, key->off);
			result->key_len = key->len;
			break;
		}
		/* Gave up on this key; a later key may still be decided not linearizable. */
		if (result->verdict != BALLOT_CHECK_UNKNOWN) {
			result->verdict = BALLOT_CHECK_UNKNOWN;
			result->bound = b.hit != BALLOT_CHECK_BOUND_NONE ? b.hit : BALLOT_CHECK_BOUND_MEMORY;
			result->key = history_bytes(h, key->off);
			result->key_len = key->len;
		}
		if (b.hit != BALLOT_CHECK_BOUND_MEMORY)
			break; /* steps and time are spent for every key */
		b.hit = BALLOT_CHECK_BOUND_NONE;
	}
done:
	free_keys(h, &b, &ki);
	result->steps = b.steps;
	result->memory_bytes_peak = b.bytes_peak;
	BALLOT_ASSERT(b.bytes == 0);
	if (rc != 0) {
		ballot_check_result_free(result);
		return ballot_errorf(em, rc, "out of memory for the result");
	}
	return 0;
}

/* ---- words ------------------------------------------------------------------------------ */

/* Appends s as a JSON string, cut to max bytes (with "..." after the quote when cut). */
static void quoted(ballot_buf *out, const void *s, size_t len, size_t max)
{
	ballot_buf tmp;
	ballot_buf_init(&tmp, 0);
	json_writer w;
	json_init(&w, &tmp);
	json_string_n(&w, s, len > max ? max : len);
	if (w.rc == 0)
		ballot_buf_append(out, tmp.data, tmp.len);
	if (len > max)
		ballot_buf_puts(out, "...");
	ballot_buf_free(&tmp);
}

static void put_value(ballot_buf *out, const ballot_value *v)
{
	switch (v->kind) {
	case BALLOT_VALUE_NULL:
		ballot_buf_puts(out, "null");
		return;
	case BALLOT_VALUE_INT:
		ballot_buf_printf(out, "%" PRId64, v->integer);
		return;
	case BALLOT_VALUE_BYTES:
		quoted(out, v->bytes, v->len, 40);
		return;
	}
}

/* "process 1's read of x -> 5 (lines 7-8)" and the like. */
static void describe_op(ballot_buf *out, const ballot_history *h, size_t i)
{
	ballot_op_view v;
	ballot_history_op(h, i, &v);
	ballot_buf_printf(out, "process %" PRId64 "'s ", v.process);
	switch (v.call.f) {
	case BALLOT_OP_READ:
		ballot_buf_puts(out, "read -> ");
		put_value(out, &v.result);
		break;
	case BALLOT_OP_WRITE:
		ballot_buf_puts(out, "write ");
		put_value(out, &v.call.value);
		break;
	case BALLOT_OP_CAS:
		ballot_buf_puts(out, "cas ");
		put_value(out, &v.call.value);
		ballot_buf_puts(out, " -> ");
		put_value(out, &v.call.value2);
		break;
	case BALLOT_OP_INCR:
		ballot_buf_puts(out, "incr by ");
		put_value(out, &v.call.value);
		if (v.outcome == BALLOT_EVENT_OK) {
			ballot_buf_puts(out, " -> ");
			put_value(out, &v.result);
		}
		break;
	case BALLOT_OP_APPEND:
		ballot_buf_puts(out, "append ");
		put_value(out, &v.call.value);
		break;
	case BALLOT_OP_KIND_COUNT_:
		break;
	}
	ballot_buf_printf(out, " (%s, ", v.completed ? ballot_event_type_name(v.outcome) : "never completed");
	if (v.complete_line != 0)
		ballot_buf_printf(out, "lines %" PRIu64 "-%" PRIu64 ")", v.invoke_line, v.complete_line);
	else
		ballot_buf_printf(out, "line %" PRIu64 ")", v.invoke_line);
}

static size_t copy_out(const ballot_buf *b, char *out, size_t cap)
{
	if (cap > 0) {
		size_t n = b->len < cap - 1 ? b->len : cap - 1;
		if (n > 0)
			memcpy(out, b->data, n);
		out[n] = '\0';
	}
	return b->len;
}

size_t ballot_check_explain(const ballot_history *h, const ballot_check_result *r, char *out,
			    size_t cap)
{
	ballot_buf b;
	ballot_buf_init(&b, 0);
	switch (r->verdict) {
	case BALLOT_CHECK_LINEARIZABLE:
		ballot_buf_printf(&b, "linearizable: %zu operation%s on %zu key%s (%" PRIu64 " search steps)",
				  r->ops, r->ops == 1 ? "" : "s", r->keys, r->keys == 1 ? "" : "s", r->steps);
		break;
	case BALLOT_CHECK_UNKNOWN:
		ballot_buf_printf(&b, "unknown: the search reached its %s bound", ballot_check_bound_name(r->bound));
		if (r->key != NULL) {
			ballot_buf_puts(&b, " on key ");
			quoted(&b, r->key, r->key_len, 60);
		}
		ballot_buf_printf(&b, " (%zu of %zu keys found linearizable; %" PRIu64 " search steps, "
				  "%" PRIu64 " bytes of search state at most); a larger bound may decide it",
				  r->keys_checked, r->keys, r->steps, r->memory_bytes_peak);
		break;
	case BALLOT_CHECK_NOT_LINEARIZABLE: {
		uint64_t first = UINT64_MAX, last = 0;
		for (size_t i = 0; i < r->window_len; i++) {
			const hop *op = &h->ops[r->window[i]];
			if (op->invoke_line < first)
				first = op->invoke_line;
			if (op->invoke_line > last)
				last = op->invoke_line;
			if (op->complete_line > last)
				last = op->complete_line;
		}
		ballot_buf_puts(&b, "not linearizable: key ");
		quoted(&b, r->key, r->key_len, 60);
		ballot_buf_printf(&b, ": no order of %s %zu operation%s (lines %" PRIu64 "-%" PRIu64
				  ") explains what %s returned, ",
				  r->window_len == 1 ? "this" : "these", r->window_len,
				  r->window_len == 1 ? "" : "s", first, last, r->window_len == 1 ? "it" : "they");
		ballot_buf_puts(&b, r->window_from_start ? "starting from an absent key"
							 : "whatever value the key had before them");
		if (r->window_unknown_earlier > 0)
			ballot_buf_printf(&b, ", even if any of the %zu operations with an unknown outcome invoked "
					  "before them (not listed) took effect among them",
					  r->window_unknown_earlier);
		ballot_buf_puts(&b, ".\nThe search got furthest when it could not place ");
		describe_op(&b, h, r->blocked_op);
		ballot_buf_puts(&b, " before it returned.");
		if (!r->window_minimal)
			ballot_buf_puts(&b, "\nA bound cut the search for a smaller window short: "
					    "this one may not be the smallest.");
		break;
	}
	}
	size_t len = copy_out(&b, out, cap);
	ballot_buf_free(&b);
	return len;
}

static void json_value(json_writer *w, const ballot_value *v)
{
	switch (v->kind) {
	case BALLOT_VALUE_NULL:
		json_null(w);
		return;
	case BALLOT_VALUE_INT:
		json_int(w, v->integer);
		return;
	case BALLOT_VALUE_BYTES:
		json_string_n(w, v->bytes, v->len);
		return;
	}
}

size_t ballot_history_event_json(const ballot_history *h, size_t i, bool completion, char *out,
				 size_t cap)
{
	ballot_op_view v;
	ballot_history_op(h, i, &v);
	if (completion && !v.completed)
		return copy_out(&(ballot_buf){.len = 0}, out, cap);
	ballot_buf b;
	ballot_buf_init(&b, 0);
	json_writer w;
	json_init(&w, &b);
	json_object_begin(&w);
	json_key(&w, "line");
	json_uint(&w, completion ? v.complete_line : v.invoke_line);
	json_key(&w, "process");
	json_int(&w, v.process);
	json_key(&w, "type");
	json_string(&w, ballot_event_type_name(completion ? v.outcome : BALLOT_EVENT_INVOKE));
	json_key(&w, "f");
	json_string(&w, ballot_op_kind_name(v.call.f));
	json_key(&w, "key");
	json_string_n(&w, v.call.key, v.call.key_len);
	json_key(&w, "value");
	bool shows_result = completion && v.outcome == BALLOT_EVENT_OK &&
			    (v.call.f == BALLOT_OP_READ || v.call.f == BALLOT_OP_INCR);
	if (shows_result) {
		json_value(&w, &v.result);
	} else if (v.call.f == BALLOT_OP_CAS) {
		json_array_begin(&w);
		json_value(&w, &v.call.value);
		json_value(&w, &v.call.value2);
		json_array_end(&w);
	} else if (v.call.f == BALLOT_OP_READ || (completion && v.call.f == BALLOT_OP_INCR)) {
		json_null(&w);
	} else {
		json_value(&w, &v.call.value);
	}
	json_object_end(&w);
	size_t len = copy_out(&b, out, cap);
	ballot_buf_free(&b);
	return w.rc == 0 ? len : 0;
}
