/* The simulator's application: the real key-value state machine behind exactly-once
 * sessions (ballot/kv.h, ballot/fsm.h), and the real linearizability checker
 * (ballot/check.h) over the clients' history.
 *
 * Client operations map onto Redis commands on three key families, so every operation
 * kind has keys of the right type: registers "r0".."r2" (SET, CAS, GET), counters "c0"..
 * (INCRBY, GET) and strings "s0".. (APPEND, GET). Writes travel in session envelopes
 * through the log; reads are answered from the state machine after ReadIndex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/check.h"
#include "ballot/fsm.h"
#include "ballot/kv.h"
#include "ballot/resp.h"
#include "common/assert.h"
#include "common/json.h"
#include "sim/sim_internal.h"

typedef struct sim_app {
	ballot_kv *kv;
	ballot_sessions *sessions;
} sim_app;

void *sim_app_new(void)
{
	sim_app *a = calloc(1, sizeof *a);
	if (a == NULL)
		return NULL;
	ballot_session_config config = ballot_session_config_default();
	if (ballot_kv_new(&a->kv) != 0 ||
	    ballot_sessions_new(&config, ballot_kv_fsm(a->kv), &a->sessions, NULL) != 0) {
		sim_app_free(a);
		return NULL;
	}
	return a;
}

void sim_app_free(void *app)
{
	sim_app *a = app;
	if (a == NULL)
		return;
	ballot_sessions_free(a->sessions);
	ballot_kv_free(a->kv);
	free(a);
}

bool sim_op_is_read(const sim_op *op)
{
	return op->kind == OP_READ;
}

/* The key an operation works on: its family's letter and the key number. */
static void op_key(const sim_op *op, char key[8])
{
	char family = 'r';
	if (op->kind == OP_INCR || (op->kind == OP_READ && op->arg == 1))
		family = 'c';
	else if (op->kind == OP_APPEND || (op->kind == OP_READ && op->arg == 2))
		family = 's';
	snprintf(key, 8, "%c%u", family, op->key);
}

/* Encodes the operation as a Redis command for the key-value machine. */
static int encode_command(const sim_op *op, ballot_buf *out)
{
	char key[8], a[24], b[24];
	op_key(op, key);
	snprintf(a, sizeof a, "%lld", (long long)op->arg);
	snprintf(b, sizeof b, "%lld", (long long)op->arg2);
	const char *argv[4] = {NULL, key, a, b};
	size_t argc = 2;
	switch (op->kind) {
	case OP_READ: argv[0] = "GET"; break;
	case OP_WRITE: argv[0] = "SET"; argc = 3; break;
	case OP_CAS: argv[0] = "CAS"; argc = 4; break;
	case OP_INCR: argv[0] = "INCRBY"; argc = 3; break;
	case OP_APPEND: argv[0] = "APPEND"; argv[2] = op->text; argc = 3; break;
	default: BALLOT_UNREACHABLE();
	}
	size_t lens[4];
	for (size_t i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return ballot_kv_encode(argc, argv, lens, out);
}

static ballot_rbuf *rbuf_from(const ballot_buf *b)
{
	return ballot_rbuf_new(b->data, b->len);
}

ballot_rbuf *sim_app_encode(const sim_op *op, uint64_t session, uint64_t seq, uint64_t time_ms)
{
	ballot_buf cmd, env;
	ballot_buf_init(&cmd, 0);
	ballot_buf_init(&env, 0);
	ballot_rbuf *out = NULL;
	if (encode_command(op, &cmd) != 0)
		goto done;
	if (sim_op_is_read(op)) {
		out = rbuf_from(&cmd);
		goto done;
	}
	ballot_envelope e = {.client_id = session, .seq = seq, .time_ms = time_ms, .cmd = cmd.data, .cmd_len = cmd.len};
	if (ballot_envelope_encode(&e, &env) == 0)
		out = rbuf_from(&env);
done:
	ballot_buf_free(&cmd);
	ballot_buf_free(&env);
	return out;
}

int sim_app_apply(void *app, uint64_t index, const ballot_entry *e, ballot_rbuf **reply)
{
	sim_app *a = app;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	const void *data = e->data != NULL ? (const void *)e->data->data : "";
	size_t len = e->data != NULL ? e->data->len : 0;
	int rc = ballot_sessions_apply(a->sessions, index, data, len, &out);
	*reply = rc == 0 ? rbuf_from(&out) : NULL;
	ballot_buf_free(&out);
	return rc == 0 && *reply != NULL ? 0 : -1;
}

int sim_app_query(void *app, const ballot_rbuf *cmd, ballot_rbuf **reply)
{
	sim_app *a = app;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	int rc = ballot_kv_query_entry(a->kv, cmd->data, cmd->len, &out);
	*reply = rc == 0 ? rbuf_from(&out) : NULL;
	ballot_buf_free(&out);
	return rc == 0 && *reply != NULL ? 0 : -1;
}

int sim_app_snapshot(void *app, ballot_rbuf **out)
{
	sim_app *a = app;
	ballot_buf b;
	ballot_buf_init(&b, 0);
	int rc = ballot_sessions_snapshot(a->sessions, &b);
	*out = rc == 0 ? rbuf_from(&b) : NULL;
	ballot_buf_free(&b);
	return rc == 0 && *out != NULL ? 0 : -1;
}

int sim_app_restore(void *app, const ballot_rbuf *data)
{
	sim_app *a = app;
	return ballot_sessions_restore(a->sessions, data->data, data->len, NULL);
}

int sim_app_outcome(const sim_op *op, const ballot_rbuf *reply, sim_hist *h)
{
	if (reply == NULL)
		return -1;
	ballot_resp_value *v = NULL;
	size_t used = 0;
	if (ballot_resp_decode_reply(reply->data, reply->len, &v, &used, NULL) != 0 || v == NULL)
		return -1;
	int outcome = -1;
	switch (op->kind) {
	case OP_READ:
		if (v->type == BALLOT_RESP_NULL || v->type == BALLOT_RESP_BULK) {
			h->has_value = true;
			h->value_null = v->type == BALLOT_RESP_NULL;
			h->value = h->value_null ? NULL : ballot_rbuf_new(v->str, v->len);
			outcome = h->value_null || h->value != NULL ? 0 : -1;
		}
		break;
	case OP_WRITE:
		outcome = v->type == BALLOT_RESP_SIMPLE ? 0 : -1;
		break;
	case OP_CAS:
		if (v->type == BALLOT_RESP_INTEGER)
			outcome = v->integer == 1 ? 0 : 1; /* :0 ran and did not match: a cas fail */
		break;
	case OP_INCR:
		if (v->type == BALLOT_RESP_INTEGER) {
			h->has_value = true;
			h->number = v->integer;
			outcome = 0;
		}
		break;
	case OP_APPEND:
		outcome = v->type == BALLOT_RESP_INTEGER ? 0 : -1;
		break;
	}
	ballot_resp_free(v);
	return outcome;
}

/* ---- the history -------------------------------------------------------------------- */

enum { HIST_INVOKE = 1, HIST_OK, HIST_FAIL, HIST_INFO };

static ballot_call op_call(const sim_op *op, char key[8])
{
	op_key(op, key);
	ballot_call c = {.key = key, .key_len = strlen(key)};
	switch (op->kind) {
	case OP_READ: c.f = BALLOT_OP_READ; break;
	case OP_WRITE: c.f = BALLOT_OP_WRITE; c.value = ballot_value_int(op->arg); break;
	case OP_CAS:
		c.f = BALLOT_OP_CAS;
		c.value = ballot_value_int(op->arg);
		c.value2 = ballot_value_int(op->arg2);
		break;
	case OP_INCR: c.f = BALLOT_OP_INCR; c.value = ballot_value_int(op->arg); break;
	case OP_APPEND: c.f = BALLOT_OP_APPEND; c.value = ballot_value_bytes(op->text, strlen(op->text)); break;
	default: BALLOT_UNREACHABLE();
	}
	return c;
}

static ballot_value hist_value(const sim_hist *h)
{
	if (h->type != HIST_OK || !h->has_value)
		return ballot_value_null();
	if (h->op.kind == OP_INCR)
		return ballot_value_int(h->number);
	if (h->value_null || h->value == NULL)
		return ballot_value_null();
	return ballot_value_bytes(h->value->data, h->value->len);
}

static int build_history(sim_world *w, ballot_history *h, ballot_errmsg *em)
{
	for (size_t i = 0; i < w->hist_count; i++) {
		const sim_hist *e = &w->hist[i];
		int rc;
		if (e->type == HIST_INVOKE) {
			char key[8];
			ballot_call call = op_call(&e->op, key);
			rc = ballot_history_invoke(h, e->process, &call, em);
		} else {
			ballot_event_type type = e->type == HIST_OK     ? BALLOT_EVENT_OK
						 : e->type == HIST_FAIL ? BALLOT_EVENT_FAIL
									: BALLOT_EVENT_INFO;
			rc = ballot_history_complete(h, e->process, type, hist_value(e), em);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

void sim_history_check(sim_world *w)
{
	ballot_history *h = NULL;
	ballot_errmsg em;
	if (ballot_history_new(&h) != 0) {
		sim_violation(w, "history: out of memory");
		return;
	}
	if (build_history(w, h, &em) != 0) {
		sim_violation(w, "history: the simulator recorded a malformed history: %s", em.text);
		ballot_history_free(h);
		return;
	}
	ballot_check_limits limits;
	ballot_check_limits_default(&limits);
	limits.steps_max = 100000000; /* deterministic: no clock */
	ballot_check_result res;
	if (ballot_check(h, &limits, &res, &em) != 0) {
		sim_violation(w, "history: the checker failed: %s", em.text);
		ballot_history_free(h);
		return;
	}
	w->res->history_checked = res.verdict != BALLOT_CHECK_UNKNOWN;
	w->res->linearizable = res.verdict == BALLOT_CHECK_LINEARIZABLE;
	if (res.verdict == BALLOT_CHECK_NOT_LINEARIZABLE) {
		char why[400];
		ballot_check_explain(h, &res, why, sizeof why);
		for (char *p = why; *p != '\0'; p++) {
			if (*p == '\n')
				*p = ' ';
		}
		sim_violation(w, "linearizability: %s", why);
	}
	ballot_check_result_free(&res);
	ballot_history_free(h);
}

static void write_event(json_writer *jw, const sim_hist *e)
{
	static const char *const kinds[] = {"", "read", "write", "cas", "incr", "append"};
	static const char *const types[] = {"", "invoke", "ok", "fail", "info"};
	char key[8];
	op_key(&e->op, key);
	json_object_begin(jw);
	json_key(jw, "process");
	json_uint(jw, e->process);
	json_key(jw, "type");
	json_string(jw, types[e->type]);
	json_key(jw, "f");
	json_string(jw, kinds[e->op.kind]);
	json_key(jw, "key");
	json_string(jw, key);
	json_key(jw, "value");
	if (e->type == HIST_INVOKE || e->type == HIST_FAIL || (e->type == HIST_OK && !e->has_value)) {
		switch (e->op.kind) {
		case OP_READ: json_null(jw); break;
		case OP_CAS:
			json_array_begin(jw);
			json_int(jw, e->op.arg);
			json_int(jw, e->op.arg2);
			json_array_end(jw);
			break;
		case OP_APPEND: json_string(jw, e->op.text); break;
		default: json_int(jw, e->op.arg); break;
		}
	} else if (e->type == HIST_OK && e->op.kind == OP_INCR) {
		json_int(jw, e->number);
	} else if (e->type == HIST_OK && !e->value_null && e->value != NULL) {
		json_string_n(jw, e->value->data, e->value->len);
	} else {
		json_null(jw);
	}
	json_object_end(jw);
}

void sim_history_write(sim_world *w, const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "ballot: sim: cannot write the history to %s\n", path);
		return;
	}
	ballot_buf b;
	ballot_buf_init(&b, 0);
	for (size_t i = 0; i < w->hist_count; i++) {
		json_writer jw;
		json_init(&jw, &b);
		write_event(&jw, &w->hist[i]);
		ballot_buf_puts(&b, "\n");
		fwrite(b.data, 1, b.len, f);
		ballot_buf_clear(&b);
	}
	ballot_buf_free(&b);
	fclose(f);
}
