/* A tiny in-memory Raft cluster for the core's unit tests and scripted scenarios.
 *
 * Up to RH_NODES_MAX nodes (ids 1..RH_NODES_MAX), each a ballot_raft driven exactly as
 * ballot/raft.h asks: take a ready, put ready.messages on the wire, persist (snapshot, hard
 * state, entries) to the node's "disk", put ready.messages_after_persist on the wire, apply
 * ready.committed to a trivial state machine, record ready.reads, advance.
 *
 *   wire:   one FIFO of messages in flight. Nothing moves until a test delivers: all of it
 *           until the cluster is quiet (rh_deliver_all), or only what matches a sender,
 *           receiver and type (rh_deliver, rh_drop). A cut link or a crashed receiver loses
 *           the message at delivery time, as a real network would.
 *   disk:   what each node persisted: hard state, snapshot, entries. rh_crash frees the core
 *           and forgets everything volatile; rh_restart builds a new core from the disk.
 *   state machine: the NORMAL entries' payloads applied so far, joined by ',' ("x,y,z");
 *           a snapshot's data is that string as of its index.
 *
 * After every ready the harness checks what must hold whatever the test does: at most one
 * leader per term (Raft §5.2 Election Safety), no two nodes apply different entries at one
 * index (§5.4.3 State Machine Safety), entries apply in order without gaps, a node's term
 * never decreases, and nothing that needs persisted state leaves before it is persisted.
 *
 * Header-only (every test_*.c is its own executable): all functions are static. */
#ifndef BALLOT_TESTS_RAFT_HARNESS_H
#define BALLOT_TESTS_RAFT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/raft.h"

#define RH_API static __attribute__((unused))
#define RH_NODES_MAX 9
/* Messages one rh_deliver_all may move before the harness calls the cluster livelocked. */
#define RH_DELIVER_ALL_MAX 200000u

/* Where a failure happened, for drivers that run scripts (empty: a unit test). */
static char rh_where[600] __attribute__((unused));

#define RH_FAIL(...)                                         \
	do {                                                 \
		if (rh_where[0] != '\0')                     \
			print_error("%s\n", rh_where);       \
		print_error("ERROR: " __VA_ARGS__);          \
		print_error("\n");                           \
		fail();                                      \
	} while (0)

/* A message as it entered the wire (tests count traffic with these). */
typedef struct rh_sent {
	uint8_t type;
	uint64_t from, to, term;
	size_t entry_count, entry_bytes;
	uint64_t prev_index, commit, read_round;
	bool success;
	uint64_t conflict_term, conflict_index, match_index;
	uint64_t offset;
	bool done;
	bool transfer;
} rh_sent;

typedef struct rh_node {
	uint64_t id;
	bool exists, up;
	ballot_raft *r;
	ballot_raft_options opts;
	uint64_t seed;
	unsigned restarts;
	/* disk */
	ballot_hard_state hs;
	uint64_t snap_index, snap_term;
	ballot_config snap_config;
	ballot_rbuf *snap_data;
	ballot_entry *log; /* snap_index + 1 .. */
	size_t log_count, log_cap;
	/* state machine (volatile) */
	char *sm;
	size_t sm_len, sm_cap;
	uint64_t applied;
	size_t *sm_len_at; /* by absolute index: sm_len after applying it */
	size_t sm_len_at_cap;
	/* answered reads (volatile) */
	ballot_read_state *reads;
	size_t read_count, read_cap;
	/* invariants */
	uint64_t term_seen;
	unsigned readies;
} rh_node;

typedef struct rh_cluster {
	unsigned n; /* ids 1..n exist at start; others may be added */
	ballot_raft_options base;
	uint64_t seed;
	rh_node nodes[RH_NODES_MAX + 1];
	ballot_msg **wire;
	size_t wire_count, wire_cap;
	bool cut[RH_NODES_MAX + 1][RH_NODES_MAX + 1];
	uint64_t lost; /* messages lost to a cut link, a crashed or missing receiver, or rh_drop */
	rh_sent *sent;
	size_t sent_count, sent_cap;
	/* invariants across the cluster */
	uint64_t *leader_of_term;
	size_t leader_of_term_cap;
	uint64_t *applied_term; /* by index: the term of the entry applied there by anyone */
	size_t applied_term_cap;
} rh_cluster;

/* ---- small helpers ------------------------------------------------------------------ */

static void *rh_grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(p, c * size);
	if (q == NULL) {
		print_error("ERROR: harness out of memory\n");
		abort();
	}
	memset((char *)q + *cap * size, 0, (c - *cap) * size);
	*cap = c;
	return q;
}

/* ids 1..n as voters, addresses "n<id>". */
RH_API ballot_config rh_config_voters(unsigned n)
{
	ballot_config c;
	memset(&c, 0, sizeof c);
	for (unsigned i = 1; i <= n; i++) {
		ballot_member *m = &c.members[c.count++];
		m->id = i;
		m->role = BALLOT_MEMBER_VOTER;
		snprintf(m->address, sizeof m->address, "n%u", i);
	}
	return c;
}

RH_API rh_node *rh_node_of(rh_cluster *c, uint64_t id)
{
	if (id == 0 || id > RH_NODES_MAX || !c->nodes[id].exists)
		RH_FAIL("no node %llu in the harness", (unsigned long long)id);
	return &c->nodes[id];
}

RH_API ballot_raft *rh_raft(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	if (!n->up)
		RH_FAIL("node %llu is down", (unsigned long long)id);
	return n->r;
}

RH_API ballot_raft_status rh_status(rh_cluster *c, uint64_t id)
{
	ballot_raft_status s;
	ballot_raft_status_get(rh_raft(c, id), &s);
	return s;
}

RH_API ballot_role rh_role(rh_cluster *c, uint64_t id)
{
	return rh_status(c, id).role;
}

RH_API uint64_t rh_term(rh_cluster *c, uint64_t id)
{
	return rh_status(c, id).term;
}

RH_API uint64_t rh_commit(rh_cluster *c, uint64_t id)
{
	return rh_status(c, id).commit;
}

RH_API uint64_t rh_last(rh_cluster *c, uint64_t id)
{
	return rh_status(c, id).last_index;
}

/* The state machine of node id: the applied NORMAL payloads joined by ','. */
RH_API const char *rh_sm(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	return n->sm != NULL ? n->sm : "";
}

/* ---- the disk ------------------------------------------------------------------------ */

static void rh_disk_truncate_from(rh_node *n, uint64_t index)
{
	while (n->log_count > 0 && n->log[n->log_count - 1].index >= index) {
		n->log_count--;
		ballot_rbuf_unref(n->log[n->log_count].data);
	}
}

static void rh_disk_append(rh_node *n, const ballot_entry *e)
{
	uint64_t expect = n->snap_index + n->log_count + 1;
	if (e->index != expect)
		RH_FAIL("node %llu: ready entry %llu does not follow the stored log (next is %llu)",
			(unsigned long long)n->id, (unsigned long long)e->index, (unsigned long long)expect);
	n->log = rh_grow(n->log, &n->log_cap, n->log_count + 1, sizeof *n->log);
	n->log[n->log_count] = *e;
	ballot_rbuf_ref(e->data);
	n->log_count++;
}

/* Drops stored entries up to index (a snapshot now covers them). */
static void rh_disk_drop_through(rh_node *n, uint64_t index)
{
	size_t drop = 0;
	while (drop < n->log_count && n->log[drop].index <= index) {
		ballot_rbuf_unref(n->log[drop].data);
		drop++;
	}
	if (drop == 0)
		return;
	memmove(n->log, n->log + drop, (n->log_count - drop) * sizeof *n->log);
	n->log_count -= drop;
}

/* The configuration in effect at index, from the stored log and snapshot. */
static ballot_config rh_disk_config_at(const rh_node *n, uint64_t index)
{
	ballot_config cfg = n->snap_config;
	for (size_t i = 0; i < n->log_count && n->log[i].index <= index; i++) {
		const ballot_entry *e = &n->log[i];
		ballot_config next;
		if (e->type == BALLOT_ENTRY_CONFIG && e->data != NULL &&
		    ballot_config_decode(e->data->data, e->data->len, &next, NULL) == 0)
			cfg = next;
	}
	return cfg;
}

/* ---- the state machine --------------------------------------------------------------- */

static void rh_sm_set(rh_node *n, const void *data, size_t len)
{
	n->sm = rh_grow(n->sm, &n->sm_cap, len + 1, 1);
	if (len > 0)
		memcpy(n->sm, data, len);
	n->sm[len] = '\0';
	n->sm_len = len;
}

static void rh_sm_mark(rh_node *n, uint64_t index)
{
	n->sm_len_at = rh_grow(n->sm_len_at, &n->sm_len_at_cap, (size_t)index + 1, sizeof *n->sm_len_at);
	n->sm_len_at[index] = n->sm_len;
}

static void rh_sm_reset(rh_node *n)
{
	n->applied = n->snap_index;
	if (n->snap_data != NULL)
		rh_sm_set(n, n->snap_data->data, n->snap_data->len);
	else
		rh_sm_set(n, NULL, 0);
	rh_sm_mark(n, n->applied);
}

static void rh_apply(rh_cluster *c, rh_node *n, const ballot_entry *e)
{
	if (e->index != n->applied + 1)
		RH_FAIL("node %llu applies entry %llu after %llu: a gap or a repeat", (unsigned long long)n->id,
			(unsigned long long)e->index, (unsigned long long)n->applied);
	c->applied_term = rh_grow(c->applied_term, &c->applied_term_cap, (size_t)e->index + 1,
				  sizeof *c->applied_term);
	uint64_t *t = &c->applied_term[e->index];
	if (*t != 0 && *t != e->term)
		RH_FAIL("State Machine Safety (Raft §5.4.3): node %llu applies index %llu of term %llu, another "
			"node applied term %llu there", (unsigned long long)n->id, (unsigned long long)e->index,
			(unsigned long long)e->term, (unsigned long long)*t);
	*t = e->term;
	if (e->type == BALLOT_ENTRY_NORMAL) {
		size_t len = e->data != NULL ? e->data->len : 0;
		size_t sep = n->sm_len > 0 ? 1 : 0;
		n->sm = rh_grow(n->sm, &n->sm_cap, n->sm_len + sep + len + 1, 1);
		if (sep)
			n->sm[n->sm_len++] = ',';
		if (len > 0)
			memcpy(n->sm + n->sm_len, e->data->data, len);
		n->sm_len += len;
		n->sm[n->sm_len] = '\0';
	}
	n->applied = e->index;
	rh_sm_mark(n, e->index);
}

/* ---- the wire ------------------------------------------------------------------------ */

static void rh_wire_push(rh_cluster *c, ballot_msg *m)
{
	c->wire = rh_grow(c->wire, &c->wire_cap, c->wire_count + 1, sizeof *c->wire);
	c->wire[c->wire_count++] = m;
	c->sent = rh_grow(c->sent, &c->sent_cap, c->sent_count + 1, sizeof *c->sent);
	rh_sent *s = &c->sent[c->sent_count++];
	memset(s, 0, sizeof *s);
	s->type = m->type;
	s->from = m->from;
	s->to = m->to;
	s->term = m->term;
	s->entry_count = m->entry_count;
	for (size_t i = 0; i < m->entry_count; i++)
		s->entry_bytes += m->entries[i].data != NULL ? m->entries[i].data->len : 0;
	s->prev_index = m->prev_index;
	s->commit = m->commit;
	s->read_round = m->read_round;
	s->success = m->success;
	s->conflict_term = m->conflict_term;
	s->conflict_index = m->conflict_index;
	s->match_index = m->match_index;
	s->offset = m->offset;
	s->done = m->done;
	s->transfer = m->transfer;
}

/* Whether a message promises something that must be durable first (a vote, an
 * acknowledgement, a vote request after voting for oneself). A heartbeat's answer promises
 * nothing new once its term is on the node's disk. */
static bool rh_needs_persist(const rh_node *n, const ballot_msg *m)
{
	if (m->type == BALLOT_MSG_APPEND_RESP && m->heartbeat && m->term == n->hs.term)
		return false;
	return m->type == BALLOT_MSG_VOTE || m->type == BALLOT_MSG_VOTE_RESP || m->type == BALLOT_MSG_APPEND_RESP ||
	       m->type == BALLOT_MSG_SNAPSHOT_RESP;
}

/* ---- the driver cycle ------------------------------------------------------------------ */

static void rh_check_roles(rh_cluster *c, rh_node *n)
{
	ballot_raft_status s;
	ballot_raft_status_get(n->r, &s);
	if (s.term < n->term_seen)
		RH_FAIL("node %llu: term went back from %llu to %llu", (unsigned long long)n->id,
			(unsigned long long)n->term_seen, (unsigned long long)s.term);
	n->term_seen = s.term;
	if (s.role != BALLOT_ROLE_LEADER)
		return;
	c->leader_of_term = rh_grow(c->leader_of_term, &c->leader_of_term_cap, (size_t)s.term + 1,
				    sizeof *c->leader_of_term);
	uint64_t *l = &c->leader_of_term[s.term];
	if (*l != 0 && *l != n->id)
		RH_FAIL("Election Safety (Raft §5.2): nodes %llu and %llu both lead term %llu",
			(unsigned long long)*l, (unsigned long long)n->id, (unsigned long long)s.term);
	*l = n->id;
}

/* Handles one ready of node n as the contract says; the messages go on the wire. */
static void rh_handle_ready(rh_cluster *c, rh_node *n)
{
	ballot_raft_ready rd;
	ballot_raft_ready_take(n->r, &rd);
	n->readies++;
	/* 1. messages that depend on nothing unpersisted */
	for (size_t i = 0; i < rd.message_count; i++) {
		ballot_msg *m = rd.messages[i];
		if (rh_needs_persist(n, m))
			RH_FAIL("persist before speak: node %llu sends %s before persisting",
				(unsigned long long)n->id, ballot_msg_type_name(m->type));
		if (m->from != n->id)
			RH_FAIL("node %llu sends a message from %llu", (unsigned long long)n->id,
				(unsigned long long)m->from);
		rh_wire_push(c, m);
		rd.messages[i] = NULL;
	}
	/* 2. persist: snapshot, hard state, entries */
	if (rd.has_snapshot) {
		rh_disk_drop_through(n, UINT64_MAX);
		n->snap_index = rd.snap_index;
		n->snap_term = rd.snap_term;
		n->snap_config = rd.snap_config;
		ballot_rbuf_unref(n->snap_data);
		n->snap_data = ballot_rbuf_ref(rd.snap_data);
		rh_sm_reset(n); /* install it in the state machine */
	}
	if (rd.hard_state_changed)
		n->hs = rd.hard_state;
	if (rd.entry_count > 0) {
		rh_disk_truncate_from(n, rd.entries[0].index);
		for (size_t i = 0; i < rd.entry_count; i++)
			rh_disk_append(n, &rd.entries[i]);
	}
	/* 3. messages that promise what is now durable */
	for (size_t i = 0; i < rd.message_after_persist_count; i++) {
		ballot_msg *m = rd.messages_after_persist[i];
		rh_wire_push(c, m);
		rd.messages_after_persist[i] = NULL;
	}
	/* 4. apply, then answer reads */
	for (size_t i = 0; i < rd.committed_count; i++)
		rh_apply(c, n, &rd.committed[i]);
	for (size_t i = 0; i < rd.read_count; i++) {
		n->reads = rh_grow(n->reads, &n->read_cap, n->read_count + 1, sizeof *n->reads);
		n->reads[n->read_count++] = rd.reads[i];
	}
	/* 5. */
	ballot_raft_advance(n->r, &rd);
	rh_check_roles(c, n);
}

/* Runs node id's driver cycle until it has no ready. */
RH_API void rh_process(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	if (!n->up)
		return;
	for (unsigned guard = 0; ballot_raft_has_ready(n->r); guard++) {
		if (guard > 1000)
			RH_FAIL("node %llu: a ready after every advance", (unsigned long long)id);
		rh_handle_ready(c, n);
	}
}

/* Runs every node's driver cycle. */
RH_API void rh_flush(rh_cluster *c)
{
	for (uint64_t id = 1; id <= RH_NODES_MAX; id++) {
		if (c->nodes[id].exists && c->nodes[id].up)
			rh_process(c, id);
	}
}

/* ---- nodes ----------------------------------------------------------------------------- */

static void rh_start(rh_cluster *c, rh_node *n)
{
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.hard_state = n->hs;
	st.snap_index = n->snap_index;
	st.snap_term = n->snap_term;
	st.snap_config = n->snap_config;
	st.snap_data = n->snap_data;
	st.entries = n->log;
	st.entry_count = n->log_count;
	ballot_errmsg em = {{0}};
	uint64_t seed = n->seed + (uint64_t)n->restarts * UINT64_C(0x9E3779B97F4A7C15);
	int rc = ballot_raft_new(&n->r, &n->opts, &st, seed, &em);
	if (rc != 0)
		RH_FAIL("node %llu: ballot_raft_new: %d %s", (unsigned long long)n->id, rc, em.text);
	n->up = true;
	n->read_count = 0;
	rh_sm_reset(n);
	c->nodes[n->id].term_seen = n->hs.term;
}

/* Adds node id starting from an empty disk and the configuration cfg (for a node joining
 * an existing cluster: an empty configuration, it learns the real one from the log). */
RH_API void rh_add_node(rh_cluster *c, uint64_t id, const ballot_config *cfg)
{
	if (id == 0 || id > RH_NODES_MAX || c->nodes[id].exists)
		RH_FAIL("cannot add node %llu", (unsigned long long)id);
	rh_node *n = &c->nodes[id];
	memset(n, 0, sizeof *n);
	n->id = id;
	n->exists = true;
	n->opts = c->base;
	n->opts.id = id;
	n->seed = c->seed * 1000 + id;
	n->snap_config = *cfg;
	rh_start(c, n);
}

/* Adds node id starting from a given disk (hard state and entries, the bootstrap config). */
RH_API void rh_add_node_with_log(rh_cluster *c, uint64_t id, const ballot_config *cfg, ballot_hard_state hs,
				 const uint64_t *terms, size_t count)
{
	if (id == 0 || id > RH_NODES_MAX || c->nodes[id].exists)
		RH_FAIL("cannot add node %llu", (unsigned long long)id);
	rh_node *n = &c->nodes[id];
	memset(n, 0, sizeof *n);
	n->id = id;
	n->exists = true;
	n->opts = c->base;
	n->opts.id = id;
	n->seed = c->seed * 1000 + id;
	n->snap_config = *cfg;
	n->hs = hs;
	for (size_t i = 0; i < count; i++) {
		char payload[32];
		snprintf(payload, sizeof payload, "e%zu.t%llu", i + 1, (unsigned long long)terms[i]);
		ballot_entry e = {.term = terms[i], .index = i + 1, .type = BALLOT_ENTRY_NORMAL};
		e.data = ballot_rbuf_new(payload, strlen(payload));
		rh_disk_append(n, &e);
		ballot_rbuf_unref(e.data);
	}
	rh_start(c, n);
}

/* Adds node id to join a running cluster: an empty disk, and as bootstrap configuration
 * the one node `from` has in effect plus itself as a learner (what an operator would tell
 * a new server). It learns the real configuration from the log. */
RH_API void rh_add_joiner(rh_cluster *c, uint64_t id, uint64_t from)
{
	ballot_raft_status s = rh_status(c, from);
	ballot_config cfg = s.config;
	if (ballot_config_find(&cfg, id) == NULL && cfg.count < BALLOT_RAFT_MEMBERS_MAX) {
		ballot_member *m = &cfg.members[cfg.count++];
		memset(m, 0, sizeof *m);
		m->id = id;
		m->role = BALLOT_MEMBER_LEARNER;
		snprintf(m->address, sizeof m->address, "n%llu", (unsigned long long)id);
	}
	rh_add_node(c, id, &cfg);
}

/* Clusters not yet freed. A failing check leaves its test at once, so its cluster is freed
 * by the group teardown (rh_free_leftovers) and the sanitizers report only real leaks.
 * Tests keep their cluster in a static variable so that it outlives their stack frame. */
static rh_cluster *rh_live[32];
static unsigned rh_live_count;

RH_API void rh_free(rh_cluster *c);

static bool rh_is_live(const rh_cluster *c)
{
	for (unsigned i = 0; i < rh_live_count; i++) {
		if (rh_live[i] == c)
			return true;
	}
	return false;
}

/* A cluster with no nodes yet: base options (id is set per node) and a seed. */
RH_API void rh_init_empty(rh_cluster *c, const ballot_raft_options *base, uint64_t seed)
{
	if (rh_is_live(c))
		rh_free(c);
	memset(c, 0, sizeof *c);
	if (rh_live_count < sizeof rh_live / sizeof rh_live[0])
		rh_live[rh_live_count++] = c;
	if (base != NULL)
		c->base = *base;
	else
		ballot_raft_options_default(&c->base, 1);
	c->base.compact_keep_entries = 0; /* compaction drops everything it covers */
	c->seed = seed;
}

/* n voters 1..n, each with hard state zero, no entries, and the bootstrap configuration. */
RH_API void rh_init_opts(rh_cluster *c, unsigned n, const ballot_raft_options *base, uint64_t seed)
{
	rh_init_empty(c, base, seed);
	c->n = n;
	ballot_config cfg = rh_config_voters(n);
	for (unsigned id = 1; id <= n; id++)
		rh_add_node(c, id, &cfg);
}

RH_API void rh_init(rh_cluster *c, unsigned n)
{
	rh_init_opts(c, n, NULL, 1);
}

/* Frees the core and everything volatile; the disk stays. */
RH_API void rh_crash(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	ballot_raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->read_count = 0;
	n->applied = 0;
	rh_sm_set(n, NULL, 0);
}

/* Starts node id again from what it persisted. */
RH_API void rh_restart(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	if (n->up)
		RH_FAIL("node %llu is already up", (unsigned long long)id);
	n->restarts++;
	rh_start(c, n);
}

RH_API void rh_free(rh_cluster *c)
{
	for (unsigned i = 0; i < rh_live_count; i++) {
		if (rh_live[i] == c) {
			rh_live[i] = rh_live[--rh_live_count];
			break;
		}
	}
	for (uint64_t id = 1; id <= RH_NODES_MAX; id++) {
		rh_node *n = &c->nodes[id];
		if (!n->exists)
			continue;
		ballot_raft_free(n->r);
		rh_disk_drop_through(n, UINT64_MAX);
		free(n->log);
		ballot_rbuf_unref(n->snap_data);
		free(n->sm);
		free(n->sm_len_at);
		free(n->reads);
	}
	for (size_t i = 0; i < c->wire_count; i++)
		ballot_msg_free(c->wire[i]);
	free(c->wire);
	free(c->sent);
	free(c->leader_of_term);
	free(c->applied_term);
	memset(c, 0, sizeof *c);
}

/* Group teardown: frees the clusters of tests that failed before rh_free. */
RH_API int rh_free_leftovers(void **state)
{
	(void)state;
	while (rh_live_count > 0)
		rh_free(rh_live[rh_live_count - 1]);
	return 0;
}

/* ---- links ------------------------------------------------------------------------------ */

RH_API void rh_cut(rh_cluster *c, uint64_t a, uint64_t b)
{
	c->cut[a][b] = c->cut[b][a] = true;
}

RH_API void rh_isolate(rh_cluster *c, uint64_t id)
{
	for (uint64_t o = 1; o <= RH_NODES_MAX; o++) {
		if (o != id)
			rh_cut(c, id, o);
	}
}

RH_API void rh_heal(rh_cluster *c)
{
	memset(c->cut, 0, sizeof c->cut);
}

/* ---- delivery --------------------------------------------------------------------------- */

static bool rh_matches(const ballot_msg *m, uint64_t from, uint64_t to, uint8_t type)
{
	return (from == 0 || m->from == from) && (to == 0 || m->to == to) && (type == 0 || m->type == type);
}

/* Steps one message into its receiver (or loses it); frees it. Returns whether it arrived. */
static bool rh_step_msg(rh_cluster *c, ballot_msg *m)
{
	bool ok = m->to >= 1 && m->to <= RH_NODES_MAX && m->from <= RH_NODES_MAX && c->nodes[m->to].exists &&
		  c->nodes[m->to].up && !c->cut[m->from][m->to];
	if (ok)
		ballot_raft_step(c->nodes[m->to].r, m);
	else
		c->lost++;
	ballot_msg_free(m);
	return ok;
}

/* A test's choice of messages. */
typedef bool (*rh_pred)(const ballot_msg *m, void *arg);

/* Takes the messages on the wire that match (0: any) and satisfy pred (if not NULL) off it,
 * in order. */
static ballot_msg **rh_take_where(rh_cluster *c, uint64_t from, uint64_t to, uint8_t type, size_t max,
				  rh_pred pred, void *arg, size_t *count)
{
	ballot_msg **out = malloc((c->wire_count + 1) * sizeof *out);
	if (out == NULL)
		abort();
	size_t keep = 0, n = 0;
	for (size_t i = 0; i < c->wire_count; i++) {
		ballot_msg *m = c->wire[i];
		if (n < max && rh_matches(m, from, to, type) && (pred == NULL || pred(m, arg)))
			out[n++] = m;
		else
			c->wire[keep++] = m;
	}
	c->wire_count = keep;
	*count = n;
	return out;
}

static ballot_msg **rh_take(rh_cluster *c, uint64_t from, uint64_t to, uint8_t type, size_t max, size_t *count)
{
	return rh_take_where(c, from, to, type, max, NULL, NULL, count);
}

/* Delivers the messages now on the wire for which pred holds, then runs every driver
 * cycle. Returns how many arrived. */
RH_API size_t rh_deliver_where(rh_cluster *c, rh_pred pred, void *arg)
{
	rh_flush(c);
	size_t count, arrived = 0;
	ballot_msg **ms = rh_take_where(c, 0, 0, 0, SIZE_MAX, pred, arg, &count);
	for (size_t i = 0; i < count; i++)
		arrived += rh_step_msg(c, ms[i]);
	free(ms);
	rh_flush(c);
	return arrived;
}

/* Delivers up to max messages now on the wire that match (0: any sender, receiver, type),
 * then runs every driver cycle (answers go on the wire, not delivered). Returns how many
 * arrived. */
RH_API size_t rh_deliver_n(rh_cluster *c, uint64_t from, uint64_t to, uint8_t type, size_t max)
{
	rh_flush(c);
	size_t count, arrived = 0;
	ballot_msg **ms = rh_take(c, from, to, type, max, &count);
	for (size_t i = 0; i < count; i++)
		arrived += rh_step_msg(c, ms[i]);
	free(ms);
	rh_flush(c);
	return arrived;
}

RH_API size_t rh_deliver(rh_cluster *c, uint64_t from, uint64_t to, uint8_t type)
{
	return rh_deliver_n(c, from, to, type, SIZE_MAX);
}

/* Loses the matching messages now on the wire. Returns how many. */
RH_API size_t rh_drop(rh_cluster *c, uint64_t from, uint64_t to, uint8_t type)
{
	rh_flush(c);
	size_t count;
	ballot_msg **ms = rh_take(c, from, to, type, SIZE_MAX, &count);
	for (size_t i = 0; i < count; i++)
		ballot_msg_free(ms[i]);
	free(ms);
	c->lost += count;
	return count;
}

/* Delivers everything, and everything that answers, until the wire is empty (no time passes:
 * no ticks). Returns how many messages arrived. */
RH_API size_t rh_deliver_all(rh_cluster *c)
{
	size_t total = 0, moved = 0;
	for (;;) {
		rh_flush(c);
		if (c->wire_count == 0)
			return total;
		size_t count;
		ballot_msg **ms = rh_take(c, 0, 0, 0, SIZE_MAX, &count);
		for (size_t i = 0; i < count; i++)
			total += rh_step_msg(c, ms[i]);
		free(ms);
		moved += count;
		if (moved > RH_DELIVER_ALL_MAX) {
			print_error("the last messages sent:\n");
			for (size_t i = c->sent_count > 6 ? c->sent_count - 6 : 0; i < c->sent_count; i++) {
				const rh_sent *s = &c->sent[i];
				print_error("  %s %llu->%llu term %llu prev %llu entries %zu success %d match %llu\n",
					    ballot_msg_type_name(s->type), (unsigned long long)s->from,
					    (unsigned long long)s->to, (unsigned long long)s->term,
					    (unsigned long long)s->prev_index, s->entry_count, s->success,
					    (unsigned long long)s->match_index);
			}
			RH_FAIL("deliver all: more than %u messages without the cluster going quiet",
				RH_DELIVER_ALL_MAX);
		}
	}
}

/* Messages on the wire that match. */
RH_API size_t rh_wire_count(const rh_cluster *c, uint64_t from, uint64_t to, uint8_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < c->wire_count; i++)
		n += rh_matches(c->wire[i], from, to, type);
	return n;
}

/* The k-th message on the wire that matches, or NULL (borrowed). */
RH_API const ballot_msg *rh_wire_find(const rh_cluster *c, uint64_t from, uint64_t to, uint8_t type, size_t k)
{
	for (size_t i = 0; i < c->wire_count; i++) {
		if (rh_matches(c->wire[i], from, to, type) && k-- == 0)
			return c->wire[i];
	}
	return NULL;
}

/* Messages that entered the wire since the last rh_sent_clear and match. */
RH_API size_t rh_sent_count(const rh_cluster *c, uint64_t from, uint64_t to, uint8_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < c->sent_count; i++) {
		const rh_sent *s = &c->sent[i];
		n += (from == 0 || s->from == from) && (to == 0 || s->to == to) && (type == 0 || s->type == type);
	}
	return n;
}

RH_API void rh_sent_clear(rh_cluster *c)
{
	c->sent_count = 0;
}

/* ---- time, elections, proposals ------------------------------------------------------------ */

/* Ticks node id (0: every node that is up) once; messages stay on the wire. */
RH_API void rh_tick(rh_cluster *c, uint64_t id)
{
	for (uint64_t i = 1; i <= RH_NODES_MAX; i++) {
		if ((id == 0 || i == id) && c->nodes[i].exists && c->nodes[i].up)
			ballot_raft_tick(c->nodes[i].r);
	}
	rh_flush(c);
}

RH_API void rh_tick_n(rh_cluster *c, uint64_t id, unsigned times)
{
	for (unsigned i = 0; i < times; i++)
		rh_tick(c, id);
}

/* `times` rounds of: every node ticks, then everything is delivered. */
RH_API void rh_run(rh_cluster *c, unsigned times)
{
	for (unsigned i = 0; i < times; i++) {
		rh_tick(c, 0);
		rh_deliver_all(c);
	}
}

/* Ticks node id until its election timeout fires and it asks for (pre-)votes, or wins
 * alone. Works from any role but leader (a candidate that lost campaigns again). */
RH_API void rh_campaign(rh_cluster *c, uint64_t id)
{
	rh_node *n = rh_node_of(c, id);
	unsigned limit = 2 * n->opts.election_ticks + 1;
	size_t asked = rh_sent_count(c, id, 0, BALLOT_MSG_PREVOTE) + rh_sent_count(c, id, 0, BALLOT_MSG_VOTE);
	for (unsigned i = 0; i < limit; i++) {
		ballot_raft_tick(rh_raft(c, id));
		rh_process(c, id);
		size_t now = rh_sent_count(c, id, 0, BALLOT_MSG_PREVOTE) + rh_sent_count(c, id, 0, BALLOT_MSG_VOTE);
		if (now > asked || rh_role(c, id) == BALLOT_ROLE_LEADER)
			return;
	}
	RH_FAIL("node %llu did not campaign within %u ticks", (unsigned long long)id, limit);
}

/* Campaigns node id and delivers everything; it must end up leader. */
RH_API void rh_elect(rh_cluster *c, uint64_t id)
{
	rh_campaign(c, id);
	rh_deliver_all(c);
	ballot_raft_status s = rh_status(c, id);
	if (s.role != BALLOT_ROLE_LEADER)
		RH_FAIL("node %llu campaigned but is %s in term %llu", (unsigned long long)id,
			ballot_role_name(s.role), (unsigned long long)s.term);
}

/* The node that is up and leads the highest term, or 0. */
RH_API uint64_t rh_leader(rh_cluster *c)
{
	uint64_t best = 0, best_term = 0;
	for (uint64_t id = 1; id <= RH_NODES_MAX; id++) {
		if (!c->nodes[id].exists || !c->nodes[id].up)
			continue;
		ballot_raft_status s = rh_status(c, id);
		if (s.role == BALLOT_ROLE_LEADER && (best == 0 || s.term > best_term)) {
			best = id;
			best_term = s.term;
		}
	}
	return best;
}

/* Proposes a NORMAL entry carrying the string s on node id; returns the core's code. */
RH_API int rh_propose(rh_cluster *c, uint64_t id, const char *s, uint64_t *index)
{
	ballot_rbuf *data = ballot_rbuf_new(s, strlen(s));
	uint64_t term;
	int rc = ballot_raft_propose(rh_raft(c, id), BALLOT_ENTRY_NORMAL, data, index, &term);
	ballot_rbuf_unref(data);
	rh_process(c, id);
	return rc;
}

/* Snapshots node id's state machine as of index and asks the core to compact; on success
 * persists the snapshot as a driver would. Returns the core's code. */
RH_API int rh_compact(rh_cluster *c, uint64_t id, uint64_t index)
{
	rh_node *n = rh_node_of(c, id);
	/* The state as of index if the state machine has it; otherwise (a test checking that
	 * the core refuses) the current state. */
	size_t len = index >= n->snap_index && index <= n->applied ? n->sm_len_at[index] : n->sm_len;
	ballot_rbuf *data = ballot_rbuf_new(n->sm, len);
	uint64_t term = ballot_raft_term_at(rh_raft(c, id), index);
	int rc = ballot_raft_compact(n->r, index, data);
	if (rc == 0) {
		/* The driver persists the snapshot and may drop the entries it covers. */
		n->snap_config = rh_disk_config_at(n, index);
		n->snap_index = index;
		n->snap_term = term;
		rh_disk_drop_through(n, index);
		ballot_rbuf_unref(n->snap_data);
		n->snap_data = ballot_rbuf_ref(data);
	}
	ballot_rbuf_unref(data);
	return rc;
}

/* Asks node id for a linearizable read; returns the core's code. */
RH_API int rh_read(rh_cluster *c, uint64_t id, uint64_t request)
{
	int rc = ballot_raft_read(rh_raft(c, id), request);
	rh_process(c, id);
	return rc;
}

/* The read answered on node id for request, or NULL. */
RH_API const ballot_read_state *rh_read_state(rh_cluster *c, uint64_t id, uint64_t request)
{
	rh_node *n = rh_node_of(c, id);
	for (size_t i = 0; i < n->read_count; i++) {
		if (n->reads[i].request == request)
			return &n->reads[i];
	}
	return NULL;
}

/* The terms of node id's log from its first index to its last, written "1 1 2". */
RH_API void rh_log_terms(rh_cluster *c, uint64_t id, char *out, size_t cap)
{
	ballot_raft_status s = rh_status(c, id);
	size_t at = 0;
	out[0] = '\0';
	for (uint64_t i = s.first_index; i <= s.last_index && at < cap; i++) {
		int w = snprintf(out + at, cap - at, "%s%llu", at > 0 ? " " : "",
				 (unsigned long long)ballot_raft_term_at(rh_raft(c, id), i));
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

/* One line per node: role, term, leader, commit, applied, log terms, state machine. */
RH_API void rh_dump(rh_cluster *c, FILE *f)
{
	for (uint64_t id = 1; id <= RH_NODES_MAX; id++) {
		rh_node *n = &c->nodes[id];
		if (!n->exists)
			continue;
		if (!n->up) {
			fprintf(f, "  node %llu: down\n", (unsigned long long)id);
			continue;
		}
		ballot_raft_status s = rh_status(c, id);
		char terms[512];
		rh_log_terms(c, id, terms, sizeof terms);
		fprintf(f, "  node %llu: %s term %llu vote %llu leader %llu commit %llu applied %llu snap %llu log [%s] sm \"%s\"\n",
			(unsigned long long)id, ballot_role_name(s.role), (unsigned long long)s.term,
			(unsigned long long)s.vote, (unsigned long long)s.leader, (unsigned long long)s.commit,
			(unsigned long long)n->applied, (unsigned long long)s.snap_index, terms, rh_sm(c, id));
	}
	fprintf(f, "  wire: %zu messages\n", c->wire_count);
}

#endif
