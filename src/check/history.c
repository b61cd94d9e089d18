/* Histories: appending invoke and completion events, with the rules that make a history
 * well formed (see ballot/check.h and docs/history.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "check/history.h"
#include "common/assert.h"

static const char *const op_kind_names[BALLOT_OP_KIND_COUNT_] = {
	[BALLOT_OP_READ] = "read",   [BALLOT_OP_WRITE] = "write",   [BALLOT_OP_CAS] = "cas",
	[BALLOT_OP_INCR] = "incr",   [BALLOT_OP_APPEND] = "append",
};

static const char *const event_type_names[BALLOT_EVENT_TYPE_COUNT_] = {
	[BALLOT_EVENT_INVOKE] = "invoke", [BALLOT_EVENT_OK] = "ok",
	[BALLOT_EVENT_FAIL] = "fail",     [BALLOT_EVENT_INFO] = "info",
};

const char *ballot_op_kind_name(ballot_op_kind f)
{
	if ((unsigned)f >= BALLOT_OP_KIND_COUNT_)
		return "unknown";
	return op_kind_names[f];
}

const char *ballot_event_type_name(ballot_event_type type)
{
	if ((unsigned)type >= BALLOT_EVENT_TYPE_COUNT_)
		return "unknown";
	return event_type_names[type];
}

int history_format_int(char out[24], int64_t v)
{
	return snprintf(out, 24, "%" PRId64, v);
}

bool history_parse_int(const unsigned char *s, size_t len, int64_t *out)
{
	/* Canonical text only, as Redis's string2ll: an optional '-', then "0" alone or a
	 * digit 1-9 and more digits, in range. */
	size_t i = 0;
	bool negative = false;
	if (len == 0 || len > 20)
		return false;
	if (s[0] == '-') {
		negative = true;
		i = 1;
		if (len == 1)
			return false;
	}
	if (s[i] == '0')
		return len == 1 ? (*out = 0, true) : false;
	uint64_t magnitude = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (magnitude > (UINT64_MAX - d) / 10)
			return false;
		magnitude = magnitude * 10 + d;
	}
	if (negative) {
		if (magnitude > (uint64_t)INT64_MAX + 1)
			return false;
		*out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
		return true;
	}
	if (magnitude > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)magnitude;
	return true;
}

int ballot_history_new(ballot_history **out)
{
	ballot_history *h = calloc(1, sizeof *h);
	if (h == NULL)
		return BALLOT_ENOMEM;
	ballot_buf_init(&h->bytes, 0);
	h->unit = "event";
	*out = h;
	return 0;
}

void ballot_history_free(ballot_history *h)
{
	if (h == NULL)
		return;
	ballot_buf_free(&h->bytes);
	free(h->ops);
	free(h->keys);
	free(h->key_table);
	free(h->procs);
	free(h);
}

size_t ballot_history_op_count(const ballot_history *h)
{
	return h->op_count;
}

ballot_value history_value_view(const ballot_history *h, const hvalue *v)
{
	switch ((ballot_value_kind)v->kind) {
	case BALLOT_VALUE_NULL:
		return ballot_value_null();
	case BALLOT_VALUE_INT:
		return ballot_value_int(v->integer);
	case BALLOT_VALUE_BYTES:
		return ballot_value_bytes(history_bytes(h, v->off), v->len);
	}
	BALLOT_UNREACHABLE();
}

void ballot_history_op(const ballot_history *h, size_t i, ballot_op_view *out)
{
	BALLOT_ASSERT(i < h->op_count);
	const hop *op = &h->ops[i];
	const hkey *k = &h->keys[op->key];
	memset(out, 0, sizeof *out);
	out->process = op->process;
	out->call.f = (ballot_op_kind)op->f;
	out->call.key = history_bytes(h, k->off);
	out->call.key_len = k->len;
	out->call.value = history_value_view(h, &op->value);
	out->call.value2 = history_value_view(h, &op->value2);
	out->completed = op->outcome != BALLOT_EVENT_INVOKE;
	out->outcome = out->completed ? (ballot_event_type)op->outcome : BALLOT_EVENT_INFO;
	out->result = history_value_view(h, &op->result);
	out->invoke_line = op->invoke_line;
	out->complete_line = op->complete_line;
}

/* ---- processes ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static hproc *proc_find(const ballot_history *h, int64_t process)
{
	if (h->proc_cap == 0)
		return NULL;
	size_t mask = h->proc_cap - 1;
	for (size_t i = mix64((uint64_t)process) & mask;; i = (i + 1) & mask) {
		hproc *p = &h->procs[i];
		if (!p->used)
			return NULL;
		if (p->process == process)
			return p;
	}
}

static int proc_grow(ballot_history *h)
{
	size_t cap = h->proc_cap ? h->proc_cap * 2 : 64;
	hproc *procs = calloc(cap, sizeof *procs);
	if (procs == NULL)
		return BALLOT_ENOMEM;
	for (size_t i = 0; i < h->proc_cap; i++) {
		const hproc *p = &h->procs[i];
		if (!p->used)
			continue;
		size_t j = mix64((uint64_t)p->process) & (cap - 1);
		while (procs[j].used)
			j = (j + 1) & (cap - 1);
		procs[j] = *p;
	}
	free(h->procs);
	h->procs = procs;
	h->proc_cap = cap;
	return 0;
}

/* Finds or adds process; NULL only when out of memory. */
static hproc *proc_get(ballot_history *h, int64_t process)
{
	hproc *p = proc_find(h, process);
	if (p != NULL)
		return p;
	if ((h->proc_count + 1) * 2 > h->proc_cap && proc_grow(h) != 0)
		return NULL;
	size_t mask = h->proc_cap - 1;
	size_t i = mix64((uint64_t)process) & mask;
	while (h->procs[i].used)
		i = (i + 1) & mask;
	p = &h->procs[i];
	p->used = true;
	p->process = process;
	p->open_op = HISTORY_NONE;
	p->info_line = 0;
	h->proc_count++;
	return p;
}

/* ---- keys and values ------------------------------------------------------------------ */

static int key_table_grow(ballot_history *h)
{
	size_t cap = h->key_table_cap ? h->key_table_cap * 2 : 64;
	uint32_t *table = calloc(cap, sizeof *table);
	if (table == NULL)
		return BALLOT_ENOMEM;
	for (size_t k = 0; k < h->key_count; k++) {
		size_t j = h->keys[k].hash & (cap - 1);
		while (table[j] != 0)
			j = (j + 1) & (cap - 1);
		table[j] = (uint32_t)k + 1;
	}
	free(h->key_table);
	h->key_table = table;
	h->key_table_cap = cap;
	return 0;
}

/* Finds or adds the key; *out is its index. */
static int key_intern(ballot_history *h, const void *key, size_t len, uint32_t *out)
{
	uint64_t hash = XXH3_64bits(key, len);
	if (h->key_table_cap != 0) {
		size_t mask = h->key_table_cap - 1;
		for (size_t i = hash & mask; h->key_table[i] != 0; i = (i + 1) & mask) {
			const hkey *k = &h->keys[h->key_table[i] - 1];
			if (k->hash == hash && k->len == len &&
			    (len == 0 || memcmp(history_bytes(h, k->off), key, len) == 0)) {
				*out = h->key_table[i] - 1;
				return 0;
			}
		}
	}
	if ((h->key_count + 1) * 2 > h->key_table_cap && key_table_grow(h) != 0)
		return BALLOT_ENOMEM;
	if (h->key_count == h->key_cap) {
		size_t cap = h->key_cap ? h->key_cap * 2 : 16;
		hkey *keys = realloc(h->keys, cap * sizeof *keys);
		if (keys == NULL)
			return BALLOT_ENOMEM;
		h->keys = keys;
		h->key_cap = cap;
	}
	uint64_t off = h->bytes.len;
	int rc = ballot_buf_append(&h->bytes, key, len);
	if (rc != 0)
		return rc;
	h->keys[h->key_count] = (hkey){.off = off, .len = (uint32_t)len, .hash = hash};
	size_t mask = h->key_table_cap - 1;
	size_t i = hash & mask;
	while (h->key_table[i] != 0)
		i = (i + 1) & mask;
	h->key_table[i] = (uint32_t)h->key_count + 1;
	*out = (uint32_t)h->key_count++;
	return 0;
}

/* Stores v's text in h->bytes. */
static int value_store(ballot_history *h, const ballot_value *v, hvalue *out)
{
	*out = (hvalue){.kind = (uint8_t)v->kind};
	char text[24];
	const void *data = NULL;
	size_t len = 0;
	switch (v->kind) {
	case BALLOT_VALUE_NULL:
		return 0;
	case BALLOT_VALUE_INT:
		out->integer = v->integer;
		len = (size_t)history_format_int(text, v->integer);
		data = text;
		break;
	case BALLOT_VALUE_BYTES:
		data = v->bytes;
		len = v->len;
		break;
	}
	out->off = h->bytes.len;
	out->len = (uint32_t)len;
	return ballot_buf_append(&h->bytes, data, len);
}

static bool value_kind_valid(const ballot_value *v)
{
	return v->kind == BALLOT_VALUE_NULL || v->kind == BALLOT_VALUE_INT ||
	       v->kind == BALLOT_VALUE_BYTES;
}

static const char *value_kind_name(ballot_value_kind kind)
{
	switch (kind) {
	case BALLOT_VALUE_NULL:
		return "null";
	case BALLOT_VALUE_INT:
		return "an integer";
	case BALLOT_VALUE_BYTES:
		return "a string";
	}
	return "an unknown kind";
}

/* ---- events --------------------------------------------------------------------------- */

/* The checks every event of `process` passes, whatever its type. */
static int check_process_alive(const ballot_history *h, uint64_t line, const hproc *p,
			       int64_t process, ballot_errmsg *em)
{
	if (p != NULL && p->info_line != 0)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": process %" PRId64 " ended with info on %s %" PRIu64
				     "; a process whose operation has an unknown outcome issues nothing more",
				     h->unit, line, process, h->unit, p->info_line);
	return 0;
}

static int check_call(const ballot_history *h, uint64_t line, const ballot_call *call,
		      ballot_errmsg *em)
{
	if ((unsigned)call->f >= BALLOT_OP_KIND_COUNT_)
		return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": unknown operation %d",
				     h->unit, line, (int)call->f);
	if (call->key_len > BALLOT_CHECK_VALUE_MAX_BYTES)
		return ballot_errorf(em, BALLOT_ELIMIT, "%s %" PRIu64 ": key of %zu bytes (limit %u)",
				     h->unit, line, call->key_len, BALLOT_CHECK_VALUE_MAX_BYTES);
	if (call->key == NULL && call->key_len != 0)
		return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": key is NULL", h->unit, line);
	const ballot_value *vs[2] = {&call->value, &call->value2};
	for (int i = 0; i < 2; i++) {
		if (!value_kind_valid(vs[i]))
			return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": unknown value kind %d",
					     h->unit, line, (int)vs[i]->kind);
		if (vs[i]->kind == BALLOT_VALUE_BYTES && vs[i]->len > BALLOT_CHECK_VALUE_MAX_BYTES)
			return ballot_errorf(em, BALLOT_ELIMIT, "%s %" PRIu64 ": value of %zu bytes (limit %u)",
					     h->unit, line, vs[i]->len, BALLOT_CHECK_VALUE_MAX_BYTES);
		if (vs[i]->kind == BALLOT_VALUE_BYTES && vs[i]->bytes == NULL && vs[i]->len != 0)
			return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": value bytes are NULL",
					     h->unit, line);
	}
	switch (call->f) {
	case BALLOT_OP_INCR:
		if (call->value.kind != BALLOT_VALUE_INT)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "%s %" PRIu64 ": incr's value is its increment and must be an integer, not %s",
					     h->unit, line, value_kind_name(call->value.kind));
		break;
	case BALLOT_OP_APPEND:
		if (call->value.kind == BALLOT_VALUE_NULL)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "%s %" PRIu64 ": append's value is the suffix and must be a string or an integer, not null",
					     h->unit, line);
		break;
	case BALLOT_OP_READ:
	case BALLOT_OP_WRITE:
	case BALLOT_OP_CAS:
	case BALLOT_OP_KIND_COUNT_:
		break;
	}
	return 0;
}

int history_invoke_at(ballot_history *h, uint64_t line, int64_t process, const ballot_call *call,
		      ballot_errmsg *em)
{
	int rc = check_call(h, line, call, em);
	if (rc != 0)
		return rc;
	hproc *p = proc_find(h, process);
	rc = check_process_alive(h, line, p, process, em);
	if (rc != 0)
		return rc;
	if (p != NULL && p->open_op != HISTORY_NONE)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": process %" PRId64 " invokes again while its invoke on %s %" PRIu64
				     " is still open; complete it first with ok, fail or info",
				     h->unit, line, process, h->unit, h->ops[p->open_op].invoke_line);
	if (h->op_count >= BALLOT_CHECK_OPS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "%s %" PRIu64 ": more than %u operations",
				     h->unit, line, BALLOT_CHECK_OPS_MAX);
	if (h->op_count == h->op_cap) {
		size_t cap = h->op_cap ? h->op_cap * 2 : 256;
		hop *ops = realloc(h->ops, cap * sizeof *ops);
		if (ops == NULL)
			return ballot_errorf(em, BALLOT_ENOMEM, "%s %" PRIu64 ": out of memory", h->unit, line);
		h->ops = ops;
		h->op_cap = cap;
	}
	p = proc_get(h, process);
	if (p == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "%s %" PRIu64 ": out of memory", h->unit, line);

	hop op = {
		.process = process,
		.f = (uint8_t)call->f,
		.outcome = BALLOT_EVENT_INVOKE,
		.call_pos = h->events + 1,
		.ret_pos = HISTORY_NEVER,
		.invoke_line = line,
	};
	ballot_value none = ballot_value_null();
	bool has_value2 = call->f == BALLOT_OP_CAS;
	bool has_value = call->f != BALLOT_OP_READ;
	/* A key interned here stays if a value cannot be stored: with no operations on it,
	 * it changes no result. */
	rc = key_intern(h, call->key, call->key_len, &op.key);
	if (rc != 0)
		return ballot_errorf(em, rc, "%s %" PRIu64 ": out of memory", h->unit, line);
	size_t bytes_before = h->bytes.len;
	rc = value_store(h, has_value ? &call->value : &none, &op.value);
	if (rc == 0)
		rc = value_store(h, has_value2 ? &call->value2 : &none, &op.value2);
	if (rc != 0) {
		h->bytes.len = bytes_before;
		return ballot_errorf(em, rc, "%s %" PRIu64 ": out of memory", h->unit, line);
	}
	p->open_op = (uint32_t)h->op_count;
	h->ops[h->op_count++] = op;
	h->events++;
	return 0;
}

int ballot_history_invoke(ballot_history *h, int64_t process, const ballot_call *call,
			  ballot_errmsg *em)
{
	return history_invoke_at(h, h->events + 1, process, call, em);
}

static int check_expect(const ballot_history *h, uint64_t line, const hop *op,
			const history_expect *expect, ballot_errmsg *em)
{
	if (expect == NULL)
		return 0;
	if (expect->f != NULL && *expect->f != (ballot_op_kind)op->f)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": completes a %s, but process %" PRId64 "'s open invoke on %s %" PRIu64
				     " is a %s",
				     h->unit, line, ballot_op_kind_name(*expect->f), op->process, h->unit,
				     op->invoke_line, ballot_op_kind_name((ballot_op_kind)op->f));
	const hkey *k = &h->keys[op->key];
	if (expect->has_key &&
	    (expect->key_len != k->len ||
	     (k->len != 0 && memcmp(expect->key, history_bytes(h, k->off), k->len) != 0)))
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": completes an operation on another key than process %" PRId64
				     "'s open invoke on %s %" PRIu64,
				     h->unit, line, op->process, h->unit, op->invoke_line);
	return 0;
}

int history_complete_at(ballot_history *h, uint64_t line, int64_t process, ballot_event_type type,
			const ballot_value *value, const history_expect *expect, ballot_errmsg *em)
{
	if (type != BALLOT_EVENT_OK && type != BALLOT_EVENT_FAIL && type != BALLOT_EVENT_INFO)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": a completion is ok, fail or info, not %s", h->unit,
				     line, ballot_event_type_name(type));
	hproc *p = proc_find(h, process);
	int rc = check_process_alive(h, line, p, process, em);
	if (rc != 0)
		return rc;
	if (p == NULL || p->open_op == HISTORY_NONE)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s %" PRIu64 ": %s from process %" PRId64
				     ", which has no open invoke to complete",
				     h->unit, line, ballot_event_type_name(type), process);
	hop *op = &h->ops[p->open_op];
	rc = check_expect(h, line, op, expect, em);
	if (rc != 0)
		return rc;

	hvalue result = {.kind = BALLOT_VALUE_NULL};
	bool wants_result = type == BALLOT_EVENT_OK &&
			    (op->f == BALLOT_OP_READ || op->f == BALLOT_OP_INCR);
	if (wants_result) {
		if (value == NULL && expect != NULL && expect->value_bad_kind != NULL)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "%s %" PRIu64 ": an ok %s's \"value\" must be %s, not %s",
					     h->unit, line, ballot_op_kind_name((ballot_op_kind)op->f),
					     op->f == BALLOT_OP_READ ? "null, an integer or a string" : "an integer",
					     expect->value_bad_kind);
		if (value == NULL)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "%s %" PRIu64 ": an ok %s needs a \"value\": what it %s",
					     h->unit, line, ballot_op_kind_name((ballot_op_kind)op->f),
					     op->f == BALLOT_OP_READ ? "read (null: absent)" : "incremented to");
		if (!value_kind_valid(value))
			return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": unknown value kind %d",
					     h->unit, line, (int)value->kind);
		if (op->f == BALLOT_OP_INCR && value->kind != BALLOT_VALUE_INT)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "%s %" PRIu64 ": an ok incr's value is the new value and must be an integer, not %s",
					     h->unit, line, value_kind_name(value->kind));
		if (value->kind == BALLOT_VALUE_BYTES && value->len > BALLOT_CHECK_VALUE_MAX_BYTES)
			return ballot_errorf(em, BALLOT_ELIMIT, "%s %" PRIu64 ": value of %zu bytes (limit %u)",
					     h->unit, line, value->len, BALLOT_CHECK_VALUE_MAX_BYTES);
		if (value->kind == BALLOT_VALUE_BYTES && value->bytes == NULL && value->len != 0)
			return ballot_errorf(em, BALLOT_EINVAL, "%s %" PRIu64 ": value bytes are NULL",
					     h->unit, line);
		rc = value_store(h, value, &result);
		if (rc != 0)
			return ballot_errorf(em, rc, "%s %" PRIu64 ": out of memory", h->unit, line);
	}
	h->events++;
	op->result = result;
	op->outcome = (uint8_t)type;
	op->complete_line = line;
	op->ret_pos = type == BALLOT_EVENT_INFO ? HISTORY_NEVER : h->events;
	p->open_op = HISTORY_NONE;
	if (type == BALLOT_EVENT_INFO)
		p->info_line = line;
	return 0;
}

int ballot_history_complete(ballot_history *h, int64_t process, ballot_event_type type,
			    ballot_value value, ballot_errmsg *em)
{
	return history_complete_at(h, h->events + 1, process, type, &value, NULL, em);
}
