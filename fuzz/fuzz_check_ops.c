/* libFuzzer target: histories built through the in-process API from the input bytes (at
 * most 7 operations on one key, values from a small set so they collide), decided by
 * ballot_check and by a brute-force search of every order; the two must agree, and a
 * reported window must fail on its own from every starting value. Coverage guidance finds
 * the corners of the search's reductions (memo subsumption, dead values, twins, windows)
 * that random histories reach rarely. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/check.h"
#include "common/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPS_MAX 7

typedef struct bval {
	bool present;
	char s[48];
} bval;

typedef struct bop {
	ballot_op_view v;
	bool required, usable;
	uint64_t call, ret;
} bop;

static const char *const strings[] = {"1", "2", "a", "1a", ""};

static ballot_value pick_value(uint8_t b)
{
	switch (b % 8) {
	case 0: case 1: case 2: return ballot_value_int(b % 8);
	case 3: case 4: case 5: case 6: return ballot_value_bytes(strings[b % 8 - 3], strlen(strings[b % 8 - 3]));
	default: return ballot_value_null();
	}
}

static void to_bval(const ballot_value *v, bval *out)
{
	memset(out, 0, sizeof *out);
	if (v->kind == BALLOT_VALUE_NULL)
		return;
	out->present = true;
	if (v->kind == BALLOT_VALUE_INT)
		snprintf(out->s, sizeof out->s, "%lld", (long long)v->integer);
	else
		memcpy(out->s, v->bytes, v->len);
}

static bool bval_eq(const bval *a, const bval *b)
{
	return a->present == b->present && (!a->present || strcmp(a->s, b->s) == 0);
}

static bool canonical_int(const char *s, long long *out)
{
	char buf[32], *end;
	if (*s == '\0')
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0')
		return false;
	snprintf(buf, sizeof buf, "%lld", v);
	if (strcmp(buf, s) != 0)
		return false;
	*out = v;
	return true;
}

static bool brute_apply(const bop *o, bval *st)
{
	bval a, b;
	switch (o->v.call.f) {
	case BALLOT_OP_READ:
		to_bval(&o->v.result, &a);
		return bval_eq(&a, st);
	case BALLOT_OP_WRITE:
		to_bval(&o->v.call.value, st);
		return true;
	case BALLOT_OP_CAS:
		to_bval(&o->v.call.value, &a);
		to_bval(&o->v.call.value2, &b);
		if (o->v.outcome == BALLOT_EVENT_FAIL)
			return !bval_eq(&a, st);
		if (!bval_eq(&a, st))
			return false;
		*st = b;
		return true;
	case BALLOT_OP_INCR: {
		long long base = 0;
		if (st->present && !canonical_int(st->s, &base))
			return false;
		long long next = base + o->v.call.value.integer;
		if (o->v.outcome == BALLOT_EVENT_OK && next != o->v.result.integer)
			return false;
		st->present = true;
		snprintf(st->s, sizeof st->s, "%lld", next);
		return true;
	}
	case BALLOT_OP_APPEND:
		to_bval(&o->v.call.value, &a);
		if (!st->present) {
			*st = a;
			return true;
		}
		if (strlen(st->s) + strlen(a.s) >= sizeof st->s)
			return false;
		strcat(st->s, a.s);
		return true;
	default:
		return false;
	}
}

static bool brute_search(const bop *ops, size_t n, bool *placed, bval st)
{
	bool all = true;
	for (size_t i = 0; i < n; i++)
		all &= !ops[i].required || placed[i];
	if (all)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (placed[i] || !ops[i].usable)
			continue;
		bool allowed = true;
		for (size_t j = 0; j < n; j++)
			if (!placed[j] && ops[j].required && ops[j].ret < ops[i].call)
				allowed = false;
		bval next = st;
		if (!allowed || !brute_apply(&ops[i], &next))
			continue;
		placed[i] = true;
		bool found = brute_search(ops, n, placed, next);
		placed[i] = false;
		if (found)
			return true;
	}
	return false;
}

static bool brute_window(const ballot_history *h, uint64_t after, uint64_t through, const bval *start)
{
	bop ops[OPS_MAX];
	bool placed[OPS_MAX] = {0};
	size_t m = 0;
	for (size_t i = 0; i < ballot_history_op_count(h); i++) {
		bop *o = &ops[m];
		ballot_history_op(h, i, &o->v);
		bool finite = o->v.outcome != BALLOT_EVENT_INFO;
		if ((finite && o->v.complete_line <= after) || o->v.invoke_line > through)
			continue;
		o->call = o->v.invoke_line;
		o->ret = finite ? o->v.complete_line : UINT64_MAX;
		bool takes_part = o->v.outcome == BALLOT_EVENT_OK ||
				  (o->v.outcome == BALLOT_EVENT_FAIL && o->v.call.f == BALLOT_OP_CAS);
		o->required = takes_part && o->call > after && o->ret <= through;
		o->usable = (o->v.outcome != BALLOT_EVENT_FAIL || o->v.call.f == BALLOT_OP_CAS) &&
			    (o->v.call.f != BALLOT_OP_READ || o->v.outcome == BALLOT_EVENT_OK);
		m++;
	}
	return brute_search(ops, m, placed, *start);
}

/* Each event takes two bytes: which process, and what it does. */
static ballot_history *build(const uint8_t *data, size_t size)
{
	ballot_history *h = NULL;
	if (ballot_history_new(&h) != 0)
		return NULL;
	size_t ops = 0;
	for (size_t i = 0; i + 3 < size; i += 4) {
		int64_t p = data[i] % 4;
		uint8_t what = data[i + 1];
		ballot_value v = pick_value(data[i + 2]);
		ballot_value v2 = pick_value(data[i + 3]);
		/* Complete when open, else invoke. */
		ballot_event_type type = (ballot_event_type)(1 + what % 3);
		if (ballot_history_complete(h, p, type, v, NULL) == 0)
			continue;
		if (ops == OPS_MAX)
			continue;
		ballot_op_kind f = (ballot_op_kind)(what % BALLOT_OP_KIND_COUNT_);
		if (f == BALLOT_OP_INCR)
			v = ballot_value_int((int64_t)(data[i + 2] % 3) - 1);
		ballot_call call = {.f = f, .key = "k", .key_len = 1, .value = v, .value2 = v2};
		if (ballot_history_invoke(h, p, &call, NULL) == 0)
			ops++;
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ballot_history *h = build(data, size);
	if (h == NULL)
		return 0;
	ballot_check_limits limits;
	ballot_check_limits_default(&limits);
	limits.steps_max = 1000000;
	ballot_check_result r;
	BALLOT_ASSERT(ballot_check(h, &limits, &r, NULL) == 0);
	BALLOT_ASSERT(r.verdict != BALLOT_CHECK_UNKNOWN); /* seven ops never need a million steps */
	bval absent = {0};
	bool linearizable = brute_window(h, 0, UINT64_MAX, &absent);
	if (linearizable != (r.verdict == BALLOT_CHECK_LINEARIZABLE)) {
		for (size_t i = 0; i < ballot_history_op_count(h); i++) {
			char line[256];
			ballot_history_event_json(h, i, false, line, sizeof line);
			fprintf(stderr, "%s\n", line);
			if (ballot_history_event_json(h, i, true, line, sizeof line) > 0)
				fprintf(stderr, "%s\n", line);
		}
		fprintf(stderr, "brute force: %s; ballot_check: verdict %d\n",
			linearizable ? "linearizable" : "not linearizable", (int)r.verdict);
		abort();
	}
	if (r.verdict == BALLOT_CHECK_NOT_LINEARIZABLE) {
		/* The window fails from every start it claims to. */
		bval starts[2 + 3 * OPS_MAX];
		size_t count = 1;
		starts[0] = absent;
		if (!r.window_from_start) {
			starts[count] = (bval){.present = true};
			strcpy(starts[count++].s, "never-written");
			for (size_t i = 0; i < ballot_history_op_count(h); i++) {
				ballot_op_view v;
				ballot_history_op(h, i, &v);
				const ballot_value *vals[3] = {&v.call.value, &v.call.value2, &v.result};
				for (int k = 0; k < 3; k++)
					if (vals[k]->kind != BALLOT_VALUE_NULL)
						to_bval(vals[k], &starts[count++]);
			}
		}
		for (size_t i = 0; i < count; i++) {
			if (brute_window(h, r.window_after_line, r.window_through_line, &starts[i])) {
				fprintf(stderr, "window (%llu, %llu] passes from '%s'\n",
					(unsigned long long)r.window_after_line,
					(unsigned long long)r.window_through_line, starts[i].s);
				abort();
			}
		}
	}
	ballot_check_result_free(&r);
	ballot_history_free(h);
	return 0;
}
