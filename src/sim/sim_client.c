/* The simulator's clients: concurrent processes issuing reads, writes, compare-and-sets,
 * increments and appends on a few keys (so they collide), retrying through leader changes
 * with the same session and sequence number (exactly-once), and recording a history for
 * the linearizability checker. Also the nodes' side of client requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/assert.h"
#include "sim/sim_internal.h"

#define ATTEMPT_TIMEOUT_MS 300
#define OP_DEADLINE_MS 3000

enum { REPLY_OK = 0, REPLY_NOT_LEADER = 1, REPLY_RETRY = 2 };
enum { HIST_INVOKE = 1, HIST_OK, HIST_FAIL, HIST_INFO };

static void hist_push(sim_world *w, const sim_hist *h)
{
	int grown = ballot_array_reserve(&w->hist, &w->hist_cap, w->hist_count, sizeof *w->hist, 1024);
	BALLOT_ASSERT(grown == 0);
	w->hist[w->hist_count++] = *h;
}

static sim_op random_op(sim_world *w, sim_client *c, bool read_only)
{
	sim_op op = {0};
	unsigned roll = read_only ? 0 : (unsigned)ballot_rng_below(&w->rng, 100);
	op.key = (uint8_t)ballot_rng_below(&w->rng, SIM_KEYS);
	if (roll < 35) {
		op.kind = OP_READ;
		op.arg = (int64_t)ballot_rng_below(&w->rng, 3); /* which key family to read */
	} else if (roll < 60) {
		op.kind = OP_WRITE;
		op.arg = (int64_t)ballot_rng_below(&w->rng, 5);
	} else if (roll < 75) {
		op.kind = OP_CAS;
		op.arg = (int64_t)ballot_rng_below(&w->rng, 5);
		op.arg2 = (int64_t)ballot_rng_below(&w->rng, 5);
	} else if (roll < 88) {
		op.kind = OP_INCR;
		op.arg = 1 + (int64_t)ballot_rng_below(&w->rng, 3);
	} else {
		op.kind = OP_APPEND;
		snprintf(op.text, sizeof op.text, "%u.%llu,", c->process, (unsigned long long)(c->seq + 1));
	}
	return op;
}

static void send_attempt(sim_world *w, sim_client *c)
{
	c->attempt++;
	uint32_t ci = (uint32_t)(c - w->clients);
	uint64_t delay = 1 + ballot_rng_below(&w->rng, 3);
	sim_schedule(w, delay, EV_CLIENT_SEND, c->target, c->attempt, NULL, ci, 0, NULL);
	sim_schedule(w, ATTEMPT_TIMEOUT_MS, EV_CLIENT_TIMEOUT, ci, c->attempt, NULL, 0, 0, NULL);
}

static void start_op(sim_world *w, sim_client *c)
{
	bool final = c->final_phase;
	if (!final && (!w->fault_phase || w->ops_started >= w->opts.ops))
		return;
	if (final && c->final_reads_left == 0)
		return;
	if (!final)
		w->ops_started++;
	c->op = random_op(w, c, final);
	c->busy = true;
	if (!sim_op_is_read(&c->op))
		c->seq++;
	c->op_started = w->now;
	c->op_deadline = w->now + OP_DEADLINE_MS;
	c->history_index = w->hist_count;
	hist_push(w, &(sim_hist){.process = c->process, .type = HIST_INVOKE, .op = c->op});
	send_attempt(w, c);
}

static void schedule_next(sim_world *w, sim_client *c)
{
	uint32_t ci = (uint32_t)(c - w->clients);
	sim_schedule(w, ballot_rng_below(&w->rng, 5), EV_CLIENT_NEXT, ci, 0, NULL, 0, 0, NULL);
}

void sim_clients_start(sim_world *w)
{
	w->client_count = w->opts.clients;
	w->next_session = 1;
	for (unsigned i = 0; i < w->client_count; i++) {
		sim_client *c = &w->clients[i];
		memset(c, 0, sizeof *c);
		c->process = w->next_process++;
		c->session = w->next_session++;
		c->target = (uint32_t)ballot_rng_below(&w->rng, w->node_count);
		sim_schedule(w, 50 + ballot_rng_below(&w->rng, 50), EV_CLIENT_NEXT, i, 0, NULL, 0, 0, NULL);
	}
}

/* Ends the client's operation with a history event of the given type. */
static void finish_op(sim_world *w, sim_client *c, sim_hist *h)
{
	h->process = c->process;
	h->op = c->op;
	hist_push(w, h);
	c->busy = false;
	if (h->type == HIST_OK) {
		uint64_t gap = (w->now - w->last_success) / SIM_TICK_MS;
		if (gap > w->res->max_unavailable_ticks)
			w->res->max_unavailable_ticks = gap;
		w->last_success = w->now;
		w->res->ops_ok++;
		if (c->final_phase && sim_op_is_read(&c->op) && c->final_reads_left > 0)
			c->final_reads_left--;
	} else if (h->type == HIST_FAIL) {
		w->res->ops_fail++;
	} else {
		w->res->ops_info++;
		/* An unknown outcome leaves the operation open: this process issues nothing
		 * more; the client goes on as a new process with a new session. */
		c->process = w->next_process++;
		c->session = w->next_session++;
		c->seq = 0;
	}
	schedule_next(w, c);
}

static void give_up(sim_world *w, sim_client *c)
{
	/* A read that never answered had no effect; a write may still take effect. */
	sim_hist h = {.type = sim_op_is_read(&c->op) ? HIST_FAIL : HIST_INFO};
	finish_op(w, c, &h);
}

static void retry(sim_world *w, sim_client *c, uint32_t target)
{
	if (w->now >= c->op_deadline) {
		give_up(w, c);
		return;
	}
	c->target = target;
	send_attempt(w, c);
}

static uint32_t other_node(sim_world *w, uint32_t current)
{
	if (w->node_count < 2)
		return current;
	uint32_t t = (uint32_t)ballot_rng_below(&w->rng, w->node_count - 1);
	return t >= current ? t + 1 : t;
}

void sim_client_event(sim_world *w, const sim_event *ev)
{
	sim_client *c = &w->clients[ev->target];
	switch (ev->kind) {
	case EV_CLIENT_NEXT:
		if (!c->busy)
			start_op(w, c);
		break;
	case EV_CLIENT_TIMEOUT:
		if (c->busy && ev->generation == c->attempt)
			retry(w, c, other_node(w, c->target));
		break;
	case EV_CLIENT_REPLY:
		if (!c->busy || ev->generation != c->attempt)
			break;
		if (ev->a == REPLY_NOT_LEADER) {
			uint32_t hint = (uint32_t)ev->b;
			retry(w, c, hint < w->node_count && hint != c->target ? hint : other_node(w, c->target));
		} else if (ev->a == REPLY_RETRY) {
			retry(w, c, c->target);
		} else {
			sim_hist h = {0};
			int outcome = sim_app_outcome(&c->op, ev->payload, &h);
			if (outcome < 0) {
				retry(w, c, c->target); /* an error reply, e.g. a stale session */
				break;
			}
			h.type = outcome == 0 ? HIST_OK : HIST_FAIL;
			finish_op(w, c, &h);
		}
		break;
	default:
		BALLOT_UNREACHABLE();
	}
	ballot_rbuf_unref(ev->payload);
}

/* ---- the nodes' side ---------------------------------------------------------------- */

static void reply(sim_world *w, uint32_t client, uint64_t attempt, uint64_t code, uint64_t hint,
		  ballot_rbuf *payload)
{
	uint64_t delay = 1 + ballot_rng_below(&w->rng, 3);
	sim_schedule(w, delay, EV_CLIENT_REPLY, client, attempt, NULL, code, hint, ballot_rbuf_ref(payload));
}

static uint64_t leader_hint(sim_world *w, sim_node *n)
{
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	for (unsigned i = 0; i < w->node_count; i++) {
		if (st.leader != 0 && w->nodes[i].id == st.leader)
			return i;
	}
	return UINT64_MAX;
}

static void pending_push(sim_node *n, const sim_pending *p)
{
	int grown = ballot_array_reserve(&n->pending, &n->pending_cap, n->pending_count, sizeof *n->pending, 16);
	BALLOT_ASSERT(grown == 0);
	n->pending[n->pending_count++] = *p;
}

static void pending_remove(sim_node *n, size_t i)
{
	ballot_rbuf_unref(n->pending[i].cmd);
	n->pending[i] = n->pending[--n->pending_count];
}

void sim_node_request(sim_world *w, sim_node *n, const sim_event *ev)
{
	uint32_t ci = (uint32_t)ev->a;
	sim_client *c = &w->clients[ci];
	if (!n->alive || !c->busy || ev->generation != c->attempt)
		return;
	uint64_t attempt = ev->generation;
	ballot_rbuf *cmd = sim_app_encode(&c->op, c->session, c->seq, w->now);
	BALLOT_ASSERT(cmd != NULL);
	if (sim_op_is_read(&c->op)) {
		uint64_t id = ++w->read_ids;
		int rc = ballot_raft_read(n->raft, id);
		if (rc == 0)
			pending_push(n, &(sim_pending){.client = ci, .attempt = attempt, .read_id = id, .cmd = cmd});
		else
			ballot_rbuf_unref(cmd);
		if (rc == BALLOT_ENOTLEADER)
			reply(w, ci, attempt, REPLY_NOT_LEADER, leader_hint(w, n), NULL);
		else if (rc != 0)
			reply(w, ci, attempt, REPLY_RETRY, 0, NULL);
		return;
	}
	uint64_t index, term;
	int rc = ballot_raft_propose(n->raft, BALLOT_ENTRY_NORMAL, cmd, &index, &term);
	ballot_rbuf_unref(cmd);
	if (rc == 0)
		pending_push(n, &(sim_pending){.client = ci, .attempt = attempt, .index = index, .term = term});
	else if (rc == BALLOT_ENOTLEADER)
		reply(w, ci, attempt, REPLY_NOT_LEADER, leader_hint(w, n), NULL);
	else
		reply(w, ci, attempt, REPLY_RETRY, 0, NULL);
}

void sim_node_applied(sim_world *w, sim_node *n, uint64_t index, uint64_t term, ballot_rbuf *result)
{
	for (size_t i = 0; i < n->pending_count;) {
		sim_pending *p = &n->pending[i];
		if (p->read_id != 0 || p->index != index) {
			i++;
			continue;
		}
		/* The proposal took effect iff the entry applied at its index has its term. */
		if (p->term == term && result != NULL)
			reply(w, p->client, p->attempt, REPLY_OK, 0, result);
		else
			reply(w, p->client, p->attempt, REPLY_RETRY, 0, NULL);
		pending_remove(n, i);
	}
}

void sim_node_read_state(sim_world *w, sim_node *n, const ballot_read_state *rs)
{
	for (size_t i = 0; i < n->pending_count; i++) {
		sim_pending *p = &n->pending[i];
		if (p->read_id != rs->request)
			continue;
		if (!rs->ok) {
			reply(w, p->client, p->attempt, REPLY_NOT_LEADER, leader_hint(w, n), NULL);
			pending_remove(n, i);
			return;
		}
		p->confirmed = true;
		p->read_index = rs->index;
		return;
	}
}

void sim_node_answer_reads(sim_world *w, sim_node *n)
{
	for (size_t i = 0; i < n->pending_count;) {
		sim_pending *p = &n->pending[i];
		if (p->read_id == 0 || !p->confirmed || p->read_index > n->applied) {
			i++;
			continue;
		}
		ballot_rbuf *result = NULL;
		if (sim_app_query(n->app, p->cmd, &result) == 0)
			reply(w, p->client, p->attempt, REPLY_OK, 0, result);
		ballot_rbuf_unref(result);
		pending_remove(n, i);
	}
}

void sim_node_drop_pending(sim_node *n)
{
	while (n->pending_count > 0)
		pending_remove(n, n->pending_count - 1);
}

void sim_final_phase(sim_world *w)
{
	w->final_phase = true;
	for (unsigned i = 0; i < w->client_count; i++) {
		sim_client *c = &w->clients[i];
		c->final_phase = true;
		c->final_reads_left = 3;
		if (!c->busy)
			schedule_next(w, c);
	}
}

bool sim_clients_done(const sim_world *w)
{
	for (unsigned i = 0; i < w->client_count; i++) {
		const sim_client *c = &w->clients[i];
		if (c->busy || c->final_reads_left > 0)
			return false;
	}
	return true;
}
