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

/* A probe of one window during shrinking: true when it certainly fails. A probe that ran
 * into the memory bound frees what it held, so later (smaller) probes may still fit; the
 * steps and time bounds stay reached. */
static bool probe_fails(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t,
			uint64_t u, check_budget *b, uint32_t *blocked, bool *minimal)
{
	uint32_t blocked_here;
	search_outcome o = search_key(h, ops, n, t, u, b, &blocked_here);
	if (o == SEARCH_GAVE_UP) {
		*minimal = false;
		if (b->hit == BALLOT_CHECK_BOUND_MEMORY)
			b->hit = BALLOT_CHECK_BOUND_NONE;
		return false;
	}
	if (o == SEARCH_NOT_LINEARIZABLE) {
		*blocked = blocked_here;
		return true;
	}
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Shrinks the failing history of one key to a window (t, u) and fills the result. */
static int shrink(const ballot_history *h, const uint32_t *ops, size_t n, check_budget *b,
		  uint32_t blocked, ballot_check_result *result)
{
	bool minimal = true;
	uint64_t t = 0, u = SEARCH_WINDOW_END;
	size_t m = 0;
	uint64_t *rets = budget_alloc(b, (n ? n : 1) * sizeof *rets);
	if (rets == NULL) {
		if (b->hit == BALLOT_CHECK_BOUND_MEMORY)
			b->hit = BALLOT_CHECK_BOUND_NONE;
		minimal = false;
	} else {
		for (size_t i = 0; i < n; i++) {
			const hop *op = &h->ops[ops[i]];
			if (op->outcome == BALLOT_EVENT_OK ||
			    (op->outcome == BALLOT_EVENT_FAIL && op->f == BALLOT_OP_CAS))
				rets[m++] = op->ret_pos;
		}
		qsort(rets, m, sizeof *rets, cmp_u64);

		/* The end: the earliest return whose prefix fails (index m: the whole history). */
		size_t lo = 0, hi = m;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (probe_fails(h, ops, n, 0, rets[mid] + 1, b, &blocked, &minimal))
				hi = mid;
			else
				lo = mid + 1;
		}
		u = hi == m ? SEARCH_WINDOW_END : rets[hi] + 1;

		/* The start: the latest cut at a return (0: none) after which it still fails. */
		size_t count = 0;
		while (count < m && rets[count] < u)
			count++;
		lo = 0;
		hi = count; /* candidate j: cut at rets[j - 1]; candidate 0: no cut */
		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;
			if (probe_fails(h, ops, n, rets[mid - 1], u, b, &blocked, &minimal))
				lo = mid;
			else
				hi = mid - 1;
		}
		t = lo == 0 ? 0 : rets[lo - 1];
		budget_free(b, rets, (n ? n : 1) * sizeof *rets);
	}

	size_t len = 0;
	result->window = malloc((n ? n : 1) * sizeof *result->window);
	if (result->window == NULL)
		return BALLOT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const hop *op = &h->ops[ops[i]];
		if (op->call_pos >= u)
			break;
		if (op->ret_pos <= t)
			continue;
		if (op->outcome == BALLOT_EVENT_FAIL && op->f != BALLOT_OP_CAS)
			continue; /* it did not happen */
		if (op->f == BALLOT_OP_READ && op->outcome != BALLOT_EVENT_OK)
			continue; /* no effect and no result */
		result->window[len++] = ops[i];
	}
	result->window_len = len;
	result->blocked_op = blocked;
	result->window_from_start = t == 0;
	result->window_minimal = minimal;
	return 0;
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
		const uint32_t *ops = ki.order + ki.start[k];
		size_t n = ki.start[k + 1] - ki.start[k];
		const hkey *key = &h->keys[k];
		uint32_t blocked = 0;
		search_outcome o = search_key(h, ops, n, 0, SEARCH_WINDOW_END, &b, &blocked);
		if (o == SEARCH_LINEARIZABLE) {
			result->keys_checked++;
			continue;
		}
		if (o == SEARCH_NOT_LINEARIZABLE) {
			result->verdict = BALLOT_CHECK_NOT_LINEARIZABLE;
			result->bound = BALLOT_CHECK_BOUND_NONE;
			result->key = history_bytes(h, key->off);
			result->key_len = key->len;
			rc = shrink(h, ops, n, &b, blocked, result);
			break;
		}
		/* Gave up on this key; a later key may still be decided not linearizable. */
		if (result->verdict != BALLOT_CHECK_UNKNOWN) {
			result->verdict = BALLOT_CHECK_UNKNOWN;
			result->bound = b.hit;
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
		ballot_buf_printf(&b, "linearizable: %zu operations on %zu keys (%" PRIu64 " search steps)",
				  r->ops, r->keys, r->steps);
		break;
	case BALLOT_CHECK_UNKNOWN:
		ballot_buf_printf(&b, "unknown: the search reached its %s bound", ballot_check_bound_name(r->bound));
		if (r->key != NULL) {
			ballot_buf_puts(&b, " on key ");
			quoted(&b, r->key, r->key_len, 60);
		}
		ballot_buf_printf(&b, " (%zu of %zu keys were linearizable; %" PRIu64 " search steps, "
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
		ballot_buf_printf(&b, ": no order of these %zu operations (lines %" PRIu64 "-%" PRIu64
				  ") explains what they returned, ",
				  r->window_len, first, last);
		ballot_buf_puts(&b, r->window_from_start ? "starting from an absent key"
							 : "whatever value the key had before them");
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
