/* TEMPORARY application adapter: a tiny register store with sessions, standing in for the
 * key-value state machine and the linearizability checker until they land. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

typedef struct cmd {
	uint64_t session, seq;
	sim_op op;
} cmd;

typedef struct result {
	int status; /* 0 ok, 1 cas mismatch */
	bool null;
	int64_t value;
	char text[512];
} result;

typedef struct app {
	bool present[3][SIM_KEYS];
	int64_t value[3][SIM_KEYS];
	char text[SIM_KEYS][512];
	uint64_t sess_seq[256];
	result sess_reply[256];
} app;

void *sim_app_new(void) { return calloc(1, sizeof(app)); }
void sim_app_free(void *a) { free(a); }

bool sim_op_is_read(const sim_op *op) { return op->kind == OP_READ; }

ballot_rbuf *sim_app_encode(const sim_op *op, uint64_t session, uint64_t seq, uint64_t time_ms)
{
	(void)time_ms;
	cmd c = {session, seq, *op};
	return ballot_rbuf_new(&c, sizeof c);
}

static int family(const sim_op *op)
{
	switch (op->kind) {
	case OP_INCR: return 1;
	case OP_APPEND: return 2;
	case OP_READ: return (int)op->arg;
	default: return 0;
	}
}

static void run(app *a, const sim_op *op, result *r)
{
	int f = family(op);
	int k = op->key;
	memset(r, 0, sizeof *r);
	switch (op->kind) {
	case OP_READ:
		r->null = !a->present[f][k];
		r->value = a->value[f][k];
		if (f == 2)
			memcpy(r->text, a->text[k], sizeof r->text);
		break;
	case OP_WRITE:
		a->present[0][k] = true;
		a->value[0][k] = op->arg;
		break;
	case OP_CAS:
		if (a->present[0][k] && a->value[0][k] == op->arg)
			a->value[0][k] = op->arg2;
		else
			r->status = 1;
		break;
	case OP_INCR:
		a->present[1][k] = true;
		a->value[1][k] += op->arg;
		r->value = a->value[1][k];
		break;
	case OP_APPEND:
		a->present[2][k] = true;
		if (strlen(a->text[k]) + strlen(op->text) < sizeof a->text[k])
			strcat(a->text[k], op->text);
		break;
	}
}

int sim_app_apply(void *ap, uint64_t index, const ballot_entry *e, ballot_rbuf **reply)
{
	(void)index;
	app *a = ap;
	cmd c;
	if (e->data == NULL || e->data->len != sizeof c)
		return -1;
	memcpy(&c, e->data->data, sizeof c);
	uint64_t slot = c.session % 256;
	result r;
	if (c.seq == a->sess_seq[slot]) {
		r = a->sess_reply[slot];
	} else {
		run(a, &c.op, &r);
		a->sess_seq[slot] = c.seq;
		a->sess_reply[slot] = r;
	}
	*reply = ballot_rbuf_new(&r, sizeof r);
	return *reply ? 0 : -1;
}

int sim_app_query(void *ap, const ballot_rbuf *cb, ballot_rbuf **reply)
{
	cmd c;
	memcpy(&c, cb->data, sizeof c);
	result r;
	run(ap, &c.op, &r);
	*reply = ballot_rbuf_new(&r, sizeof r);
	return *reply ? 0 : -1;
}

int sim_app_snapshot(void *ap, ballot_rbuf **out)
{
	*out = ballot_rbuf_new(ap, sizeof(app));
	return *out ? 0 : -1;
}

int sim_app_restore(void *ap, const ballot_rbuf *data)
{
	if (data->len != sizeof(app))
		return -1;
	memcpy(ap, data->data, sizeof(app));
	return 0;
}

int sim_app_outcome(const sim_op *op, const ballot_rbuf *reply, sim_hist *h)
{
	result r;
	if (reply == NULL || reply->len != sizeof r)
		return -1;
	memcpy(&r, reply->data, sizeof r);
	h->has_value = op->kind == OP_READ || op->kind == OP_INCR;
	h->value_null = r.null;
	h->number = r.value;
	return r.status;
}

void sim_history_check(sim_world *w) { w->res->linearizable = true; }
void sim_history_write(sim_world *w, const char *path) { (void)w; (void)path; }
