/* The simulator's world: the event loop, the network, the nodes' disks, the fault
 * injector and the safety checks (see ballot/sim.h).
 *
 * Determinism: every decision draws from one generator in event order, events are ordered
 * by (time, sequence number), and nothing reads a clock or an address. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/limits.h"
#include "ballot/storage.h"
#include "common/array.h"
#include "common/assert.h"
#include "sim/sim_internal.h"

#define SIM_MS(x) ((uint64_t)(x))

static const char *const fault_names[] = {"loss", "dup", "delay", "partition", "crash",
					  "membership", "transfer", "snapshot", "bitflip"};
_Static_assert(BALLOT_SIM_FAULT_ALL == (1u << sizeof fault_names / sizeof fault_names[0]) - 1,
	       "a name for every fault class");

int ballot_sim_faults_parse(const char *text, uint32_t *faults, ballot_errmsg *em)
{
	*faults = 0;
	if (strcmp(text, "all") == 0) {
		*faults = BALLOT_SIM_FAULT_ALL;
		return 0;
	}
	if (strcmp(text, "none") == 0 || text[0] == '\0')
		return 0;
	const char *p = text;
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		bool found = false;
		for (size_t i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++) {
			if (strlen(fault_names[i]) == len && strncmp(p, fault_names[i], len) == 0) {
				*faults |= 1u << i;
				found = true;
			}
		}
		if (!found)
			return ballot_errorf(em, BALLOT_EINVAL, "--faults: unknown fault '%.*s' (use loss, dup, "
					     "delay, partition, crash, membership, transfer, snapshot, bitflip, all, "
					     "none)",
					     (int)len, p);
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void ballot_sim_faults_format(uint32_t faults, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++) {
		if (!(faults & (1u << i)))
			continue;
		int n = snprintf(out + at, cap - at, "%s%s", at ? "," : "", fault_names[i]);
		if (n < 0 || (size_t)n >= cap - at)
			break;
		at += (size_t)n;
	}
	if (at == 0)
		snprintf(out, cap, "none");
}

void ballot_sim_options_default(ballot_sim_options *o)
{
	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->nodes = 5;
	o->ops = 1000;
	o->clients = 5;
	o->faults = BALLOT_SIM_FAULT_ALL;
	o->duration_ticks = 60000;
}

/* ---- events ------------------------------------------------------------------------- */

static bool event_before(const sim_event *a, const sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void sim_schedule(sim_world *w, uint64_t delay, uint8_t kind, uint32_t target, uint64_t generation,
		  ballot_msg *msg, uint64_t a, uint64_t b, ballot_rbuf *payload)
{
	/* The simulator has no graceful way on without memory: fail loudly. */
	int grown = ballot_array_reserve(&w->heap, &w->heap_cap, w->heap_count, sizeof *w->heap, 1024);
	BALLOT_ASSERT(grown == 0);
	sim_event ev = {.time = w->now + delay, .seq = w->seq++, .kind = kind, .target = target,
			.generation = generation, .msg = msg, .a = a, .b = b, .payload = payload};
	size_t i = w->heap_count++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!event_before(&ev, &w->heap[parent]))
			break;
		w->heap[i] = w->heap[parent];
		i = parent;
	}
	w->heap[i] = ev;
}

static sim_event pop_event(sim_world *w)
{
	sim_event top = w->heap[0];
	sim_event last = w->heap[--w->heap_count];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, rgt = l + 1, m = i;
		const sim_event *best = &last;
		if (l < w->heap_count && event_before(&w->heap[l], best)) {
			m = l;
			best = &w->heap[l];
		}
		if (rgt < w->heap_count && event_before(&w->heap[rgt], best))
			m = rgt;
		if (m == i)
			break;
		w->heap[i] = w->heap[m];
		i = m;
	}
	if (w->heap_count > 0)
		w->heap[i] = last;
	return top;
}

static void trace_add(sim_world *w, const void *data, size_t len)
{
	XXH3_64bits_update(w->trace, data, len);
}

void sim_violation(sim_world *w, const char *fmt, ...)
{
	w->res->violations++;
	if (w->res->violations > 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(w->res->violation, sizeof w->res->violation, "t=%llums: ",
			 (unsigned long long)w->now);
	vsnprintf(w->res->violation + n, sizeof w->res->violation - (size_t)n, fmt, ap);
	va_end(ap);
	w->stop = true;
}

/* ---- the network -------------------------------------------------------------------- */

static int node_index(const sim_world *w, uint64_t id)
{
	for (unsigned i = 0; i < w->node_count; i++) {
		if (w->nodes[i].id == id)
			return (int)i;
	}
	return -1;
}

static uint64_t net_delay(sim_world *w)
{
	uint64_t d = 1 + ballot_rng_below(&w->rng, 3);
	if (w->long_delay > 0 && ballot_rng_double(&w->rng) < w->long_delay)
		d += ballot_rng_below(&w->rng, 60); /* overtaken by later messages */
	return d;
}

static void crash_soon(sim_world *w, unsigned i);

/* Raft §5.2: each server votes for at most one candidate in a term, whatever crashes it
 * goes through (its vote is persisted before the answer leaves). */
static void check_vote(sim_world *w, const ballot_msg *m)
{
	int from = node_index(w, m->from);
	if (from < 0)
		return;
	sim_node *n = &w->nodes[from];
	if (n->vote_term == m->term && n->vote_for != m->to) {
		sim_violation(w, "vote once: node %llu voted for %llu and for %llu in term %llu",
			      (unsigned long long)n->id, (unsigned long long)n->vote_for,
			      (unsigned long long)m->to, (unsigned long long)m->term);
		return;
	}
	if (m->term >= n->vote_term) {
		n->vote_term = m->term;
		n->vote_for = m->to;
	}
}

static void net_send(sim_world *w, ballot_msg *m)
{
	w->res->messages++;
	if (m->type == BALLOT_MSG_VOTE_RESP && m->success)
		check_vote(w, m);
	/* Crash at an interesting moment: right after granting a vote (does the vote survive?). */
	if (m->type == BALLOT_MSG_VOTE_RESP && m->success && w->fault_phase &&
	    (w->opts.faults & BALLOT_SIM_FAULT_CRASH) && ballot_rng_below(&w->rng, 4) == 0) {
		int from = node_index(w, m->from);
		if (from >= 0)
			crash_soon(w, (unsigned)from);
	}
	int to = node_index(w, m->to);
	if (to < 0 || (w->loss > 0 && ballot_rng_double(&w->rng) < w->loss)) {
		w->res->messages_dropped++;
		ballot_msg_free(m);
		return;
	}
	if (w->dup > 0 && ballot_rng_double(&w->rng) < w->dup) {
		ballot_msg *copy = ballot_msg_clone(m);
		if (copy != NULL)
			sim_schedule(w, net_delay(w), EV_DELIVER, (uint32_t)to, 0, copy, 0, 0, NULL);
	}
	sim_schedule(w, net_delay(w), EV_DELIVER, (uint32_t)to, 0, m, 0, 0, NULL);
}

/* ---- a node's disk ------------------------------------------------------------------ */

/* A node's disk is the real write-ahead log (ballot/storage.h) over a simulated file system
 * (ballot_fs_sim) that loses unsynced writes on a crash and may tear the last one. The
 * ready's writes are issued when it is taken; they become durable at EV_PERSISTED, when
 * the log is synced (the hard state and an installed snapshot are synced as they are
 * written: earlier durability is always allowed). */
static void node_damaged(sim_world *w, sim_node *n, const ballot_errmsg *em);

/* A storage call failed. Only a bit flipped in the node's data dir excuses it, and only
 * with BALLOT_ECORRUPT: the node stops, as a real one would, and is replaced. Callers
 * check n->alive afterwards. */
static void disk_fail(sim_world *w, sim_node *n, const char *what, int rc, const ballot_errmsg *em)
{
	if (rc == BALLOT_ECORRUPT && n->flipped) {
		node_damaged(w, n, em);
		return;
	}
	sim_violation(w, "node %llu: storage refused to %s: %s", (unsigned long long)n->id, what, em->text);
}

static void disk_write_ready(sim_world *w, sim_node *n, const ballot_raft_ready *rd)
{
	ballot_errmsg em;
	int rc;
	if (rd->has_snapshot) {
		rc = ballot_storage_install_snapshot(n->storage, rd->snap_index, rd->snap_term, &rd->snap_config,
						     rd->snap_data, &em);
		if (rc != 0) {
			disk_fail(w, n, "install a snapshot", rc, &em);
			return;
		}
		w->res->snapshots_installed++;
	}
	if (rd->hard_state_changed) {
		if (rd->hard_state.term < n->durable_term)
			sim_violation(w, "node %llu: persisted term went back from %llu to %llu",
				      (unsigned long long)n->id, (unsigned long long)n->durable_term,
				      (unsigned long long)rd->hard_state.term);
		if ((rc = ballot_storage_save_hard_state(n->storage, &rd->hard_state, &em)) != 0) {
			disk_fail(w, n, "save the hard state", rc, &em);
			return;
		}
		n->durable_term = rd->hard_state.term;
		n->durable_vote = rd->hard_state.vote;
	}
	if (rd->entry_count > 0) {
		ballot_storage_status st;
		ballot_storage_status_get(n->storage, &st);
		uint64_t first = rd->entries[0].index;
		if (first <= st.last_index && first > st.snap_index &&
		    (rc = ballot_storage_truncate(n->storage, first, &em)) != 0) {
			disk_fail(w, n, "truncate the log", rc, &em);
			return;
		}
		if ((rc = ballot_storage_append(n->storage, rd->entries, rd->entry_count, &em)) != 0)
			disk_fail(w, n, "append entries", rc, &em);
	}
}

static void disk_sync(sim_world *w, sim_node *n)
{
	ballot_errmsg em;
	int rc = ballot_storage_sync(n->storage, &em);
	if (rc != 0)
		disk_fail(w, n, "sync the log", rc, &em);
}

/* ---- nodes -------------------------------------------------------------------------- */

static uint64_t entry_hash(const ballot_entry *e)
{
	uint64_t h = XXH3_64bits_withSeed(e->data ? e->data->data : NULL, e->data ? e->data->len : 0, e->type);
	return h ? h : 1;
}

static void oracle_grow(uint64_t **arr, size_t *cap, size_t need, size_t *other_cap, uint64_t **other)
{
	if (need < *cap)
		return;
	size_t ncap = *cap ? *cap : 1024;
	while (ncap <= need)
		ncap *= 2;
	uint64_t *a = realloc(*arr, ncap * sizeof *a);
	BALLOT_ASSERT(a != NULL);
	memset(a + *cap, 0, (ncap - *cap) * sizeof *a);
	*arr = a;
	if (other != NULL) {
		uint64_t *b = realloc(*other, ncap * sizeof *b);
		BALLOT_ASSERT(b != NULL);
		memset(b + *other_cap, 0, (ncap - *other_cap) * sizeof *b);
		*other = b;
		*other_cap = ncap;
	}
	*cap = ncap;
}

static void oracle_reserve(sim_world *w, uint64_t index)
{
	size_t cap_unused = w->committed_cap;
	oracle_grow(&w->committed_term, &w->committed_cap, index, &cap_unused, &w->applied_hash);
}

/* A leader counted the entries up to its commit index committed: remember their terms, so
 * that every later leader is checked for them (Leader Completeness), also those no node
 * has applied yet. */
static void note_committed(sim_world *w, sim_node *n, uint64_t commit)
{
	for (uint64_t i = w->max_committed + 1; i <= commit; i++) {
		uint64_t term = ballot_raft_term_at(n->raft, i);
		if (term == 0)
			continue; /* compacted: it applied the entry, which recorded it */
		oracle_reserve(w, i);
		w->committed_term[i] = term;
		w->max_committed = i;
	}
}

/* State Machine Safety (Raft §5.4.3): no two nodes apply different entries at one index,
 * and what a node applies is what was committed there. */
static void check_applied(sim_world *w, sim_node *n, const ballot_entry *e)
{
	oracle_reserve(w, e->index);
	uint64_t h = entry_hash(e);
	uint64_t *term = &w->committed_term[e->index], *hash = &w->applied_hash[e->index];
	if ((*term != 0 && *term != e->term) || (*hash != 0 && *hash != h)) {
		sim_violation(w, "state machine safety: node %llu applied term %llu at index %llu, where an entry "
			      "of term %llu was committed%s", (unsigned long long)n->id, (unsigned long long)e->term,
			      (unsigned long long)e->index, (unsigned long long)*term,
			      *hash != 0 ? " and applied by another node" : "");
		return;
	}
	*term = e->term;
	*hash = h;
	if (e->index > w->max_committed)
		w->max_committed = e->index;
}

static void side_snapshot_drop(sim_node *n)
{
	ballot_rbuf_unref(n->side.data);
	n->side.data = NULL;
	n->side.pending = false;
}

/* The snapshot file written beside becomes the storage's snapshot (unless one installed
 * meanwhile overtook it); then the core and the log compact over it. */
static void adopt_snapshot(sim_world *w, sim_node *n)
{
	ballot_errmsg em;
	bool adopted = false;
	int rc = ballot_storage_adopt_snapshot(n->storage, n->side.index, n->side.term, &n->side.config,
					       n->side.data->len, &adopted, &em);
	if (rc != 0) {
		disk_fail(w, n, "adopt a snapshot", rc, &em);
	} else if (adopted && ballot_raft_compact(n->raft, n->side.index, n->side.data) == 0) {
		n->snap_index = n->side.index;
	}
	w->res->snapshots_overtaken += rc == 0 && !adopted;
	side_snapshot_drop(n);
}

/* The stored log follows the core's, which may drop its entries a few at a time. The files
 * of dropped segments are removed up to 20 readies later, as ballotd removes them on a pool
 * thread: a crash in between leaves them to recovery. */
static void compact_storage(sim_world *w, sim_node *n)
{
	ballot_errmsg em;
	int rc;
	if (n->doomed.count > 0) {
		if (n->doomed_readies_left-- > 0)
			return;
		rc = ballot_storage_remove_files(ballot_fs_sim_fs(n->fs), &n->doomed, &em);
		ballot_fs_names_free(&n->doomed);
		if (rc != 0) {
			disk_fail(w, n, "remove compacted segments", rc, &em);
			return;
		}
	}
	ballot_raft_status st;
	ballot_storage_status ss;
	ballot_raft_status_get(n->raft, &st);
	ballot_storage_status_get(n->storage, &ss);
	/* Not past the stored snapshot: an installed one may not be persisted yet. */
	if (st.first_index <= 1 || ss.first_index == 0 || ss.first_index >= st.first_index ||
	    st.first_index - 1 > ss.snap_index || !ss.has_snapshot)
		return;
	if ((rc = ballot_storage_compact_detach(n->storage, st.first_index - 1, &n->doomed, &em)) != 0)
		disk_fail(w, n, "compact the log", rc, &em);
	n->doomed_readies_left = (unsigned)ballot_rng_below(&w->rng, 20);
}

/* One ready passes for the snapshot written beside the storage: after readies_left of them
 * it is adopted, once the stored log holds its index (the state may have run ahead of it:
 * entries a majority holds, applied while this node's write of them waits), as ballotd does. */
static void side_snapshot_wait(sim_world *w, sim_node *n)
{
	if (n->side.readies_left > 0)
		n->side.readies_left--;
	else if (n->side.index <= ballot_raft_stable_index(n->raft))
		adopt_snapshot(w, n);
}

/* Every snapshot_every applied entries, a snapshot: its file is written beside the storage
 * at once, and adopted up to 40 readies later (a large one takes ballotd's writer a while),
 * so crashes, installs from the leader and the log's growth fall in between. */
static void maybe_snapshot(sim_world *w, sim_node *n)
{
	if (n->side.pending) {
		side_snapshot_wait(w, n);
		return;
	}
	if (n->snapshot_every == 0 || n->applied < n->snap_index + n->snapshot_every)
		return;
	uint64_t index = n->applied;
	ballot_config config;
	ballot_rbuf *data = NULL;
	if (ballot_raft_config_at(n->raft, index, &config) != 0 || sim_app_snapshot(n->app, &data) != 0)
		return;
	uint64_t term = ballot_raft_term_at(n->raft, index);
	ballot_errmsg em;
	int rc = ballot_storage_write_snapshot_file(ballot_fs_sim_fs(n->fs), "/data", index, term, &config, data, NULL,
						    NULL, &em);
	if (rc != 0) {
		ballot_rbuf_unref(data);
		disk_fail(w, n, "write a snapshot file", rc, &em);
		return;
	}
	uint64_t wait = ballot_rng_below(&w->rng, ballot_rng_below(&w->rng, 2) ? 4 : 40);
	n->side = (sim_side_snapshot){.pending = true, .readies_left = (unsigned)wait, .index = index, .term = term,
				      .config = config, .data = data};
	side_snapshot_wait(w, n);
}

static void apply_entries(sim_world *w, sim_node *n, const ballot_entry *entries, size_t count)
{
	for (size_t i = 0; i < count && !w->stop; i++) {
		const ballot_entry *e = &entries[i];
		if (e->index != n->applied + 1) {
			sim_violation(w, "node %llu: applied index %llu after %llu", (unsigned long long)n->id,
				      (unsigned long long)e->index, (unsigned long long)n->applied);
			return;
		}
		check_applied(w, n, e);
		ballot_rbuf *reply = NULL;
		if (e->type == BALLOT_ENTRY_NORMAL && sim_app_apply(n->app, e->index, e, &reply) != 0)
			sim_violation(w, "node %llu: state machine refused entry %llu", (unsigned long long)n->id,
				      (unsigned long long)e->index);
		n->applied = e->index;
		sim_node_applied(w, n, e->index, e->term, reply);
		ballot_rbuf_unref(reply);
	}
}

static void apply_ready(sim_world *w, sim_node *n, ballot_raft_ready *rd)
{
	if (rd->has_snapshot) {
		if (sim_app_restore(n->app, rd->snap_data) != 0)
			sim_violation(w, "node %llu: could not restore a snapshot", (unsigned long long)n->id);
		n->applied = rd->snap_index;
	}
	apply_entries(w, n, rd->committed, rd->committed_count);
	for (size_t i = 0; i < rd->read_count; i++)
		sim_node_read_state(w, n, &rd->reads[i]);
	sim_node_answer_reads(w, n);
}

static void check_leader(sim_world *w, sim_node *n, const ballot_raft_ready *rd);

/* Steps 3-5 of the driver's cycle (ballot/raft.h), once the ready is durable. */
static void finish_ready(sim_world *w, sim_node *n)
{
	ballot_raft_ready *rd = &n->rd;
	if (rd->entry_count > 0)
		disk_sync(w, n);
	if (!n->alive)
		return; /* its disk was found damaged: it promises nothing */
	for (size_t i = 0; i < rd->message_after_persist_count; i++) {
		net_send(w, rd->messages_after_persist[i]);
		rd->messages_after_persist[i] = NULL;
	}
	rd->message_after_persist_count = 0;
	if (!n->applied_early)
		apply_ready(w, n, rd);
	n->applied_early = false;
	ballot_raft_advance(n->raft, rd);
	n->persisting = false;
	maybe_snapshot(w, n);
	if (n->alive)
		compact_storage(w, n);
	/* Now and then a spare segment of zeros is prepared beside the storage, as ballotd's
	 * pool thread does, for the next roll to take. */
	if (n->alive && ballot_rng_below(&w->rng, 8) == 0) {
		ballot_errmsg em;
		int rc = ballot_storage_prepare_spare(ballot_fs_sim_fs(n->fs), "/data", SIM_SEGMENT_BYTES, NULL, NULL, &em);
		if (rc != 0)
			disk_fail(w, n, "prepare a spare segment", rc, &em);
	}
}

/* While a ready is syncing, what may leave at once still leaves (a leader's appends of
 * new proposals), and, most of the time, what was committed meanwhile is applied and
 * answered, and the reads confirmed meanwhile are taken, as ballotd does. */
static void send_early(sim_world *w, sim_node *n)
{
	if (!n->alive || !n->persisting || w->stop)
		return;
	ballot_msg **msgs = NULL;
	size_t count = ballot_raft_take_messages(n->raft, &msgs);
	for (size_t i = 0; i < count; i++)
		net_send(w, msgs[i]);
	free(msgs);
	/* After the outstanding ready's own committed entries, which come first. */
	if ((n->applied_early || n->rd.committed_count == 0) && ballot_rng_below(&w->rng, 4) != 0) {
		ballot_entry *committed = NULL;
		count = ballot_raft_take_committed(n->raft, &committed);
		apply_entries(w, n, committed, count);
		ballot_raft_entries_free(committed, count);
		if (ballot_rng_below(&w->rng, 4) != 0) {
			ballot_read_state *reads = NULL;
			count = ballot_raft_take_reads(n->raft, &reads);
			for (size_t i = 0; i < count; i++)
				sim_node_read_state(w, n, &reads[i]);
			free(reads);
		}
		sim_node_answer_reads(w, n);
	}
}

static void process_ready(sim_world *w, sim_node *n)
{
	send_early(w, n);
	while (n->alive && !n->persisting && !w->stop && ballot_raft_has_ready(n->raft)) {
		ballot_raft_ready *rd = &n->rd;
		ballot_raft_ready_take(n->raft, rd);
		/* Check before anything leaves: a second leader must be caught before its
		 * appends reach the first (whose core would rightly abort on them). */
		check_leader(w, n, rd);
		if (w->stop) {
			n->persisting = true; /* the run ends; crash/free releases the ready */
			return;
		}
		for (size_t i = 0; i < rd->message_count; i++) {
			net_send(w, rd->messages[i]);
			rd->messages[i] = NULL;
		}
		rd->message_count = 0;
		n->persisting = true;
		disk_write_ready(w, n, rd);
		if (!n->alive)
			return; /* its disk was found damaged: the crash released the ready */
		if (rd->has_snapshot || rd->hard_state_changed || rd->entry_count > 0) {
			/* Committed entries are durable on a majority already: half the time they
			 * are applied (and answered) now, while the sync runs, as ballotd's leader
			 * does (ballot/raft.h, step 4). Not a snapshot's: it must be installed first. */
			if (!rd->has_snapshot && ballot_rng_below(&w->rng, 2) == 0) {
				apply_ready(w, n, rd);
				n->applied_early = true;
			}
			/* The writes are in the page cache; they are durable once the sync completes. */
			uint64_t latency = 1 + ballot_rng_below(&w->rng, 3);
			/* ballotd's leader holds its next sync back while the followers commit
			 * without it (--leader-sync-ms): its own log lags what is committed. */
			if (rd->role == BALLOT_ROLE_LEADER && ballot_rng_below(&w->rng, 3) == 0)
				latency += ballot_rng_below(&w->rng, 12);
			sim_schedule(w, latency, EV_PERSISTED, (uint32_t)(n - w->nodes), n->incarnation, NULL, 0, 0, NULL);
			return;
		}
		finish_ready(w, n);
	}
}

/* Election Safety (§5.2), Leader Append-Only and Leader Completeness (§5.4), checked as a
 * node acts as leader. */
static void check_leader(sim_world *w, sim_node *n, const ballot_raft_ready *rd)
{
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	if (st.commit > st.last_index)
		sim_violation(w, "node %llu: commit %llu past its last index %llu", (unsigned long long)n->id,
			      (unsigned long long)st.commit, (unsigned long long)st.last_index);
	(void)rd;
	if (st.role != BALLOT_ROLE_LEADER) {
		n->last_role = st.role;
		return;
	}
	size_t cap_unused = 0;
	oracle_grow(&w->leader_of_term, &w->terms_cap, st.term, &cap_unused, NULL);
	uint64_t *known = &w->leader_of_term[st.term];
	if (*known == 0) {
		*known = n->id;
		w->res->elections++;
	} else if (*known != n->id) {
		sim_violation(w, "election safety: nodes %llu and %llu both led term %llu",
			      (unsigned long long)*known, (unsigned long long)n->id, (unsigned long long)st.term);
		return;
	}
	if (n->last_role != BALLOT_ROLE_LEADER || n->leader_term != st.term) {
		/* A new leader holds every entry committed before it (Leader Completeness). */
		for (uint64_t i = st.snap_index + 1; i <= w->max_committed; i++) {
			if (w->committed_term[i] == 0)
				continue;
			if (i > st.last_index || ballot_raft_term_at(n->raft, i) != w->committed_term[i]) {
				sim_violation(w, "leader completeness: new leader %llu of term %llu lacks "
					      "committed entry %llu", (unsigned long long)n->id,
					      (unsigned long long)st.term, (unsigned long long)i);
				return;
			}
		}
		n->leader_term = st.term;
		n->leader_last = st.last_index;
	} else if (st.last_index < n->leader_last) {
		sim_violation(w, "leader append-only: leader %llu's log shrank from %llu to %llu",
			      (unsigned long long)n->id, (unsigned long long)n->leader_last,
			      (unsigned long long)st.last_index);
	}
	n->leader_last = st.last_index;
	n->last_role = st.role;
	note_committed(w, n, st.commit);
}

static ballot_raft_options node_options(sim_world *w, uint64_t id)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, id);
	o.canaries = w->opts.canaries;
	o.snapshot_chunk_bytes = 512; /* small, so snapshots travel in several chunks */
	o.inflight_max = 8;
	o.batch_bytes = 4096;
	o.compact_keep_entries = 20 + ballot_rng_below(&w->rng, 40);
	/* Half the nodes drop their compacted log a few entries at a time, as ballotd does. */
	o.compact_step_entries = ballot_rng_below(&w->rng, 2) ? 0 : 1 + ballot_rng_below(&w->rng, 30);
	return o;
}

static uint64_t recovered_last(const ballot_storage_recovery *rec)
{
	const ballot_raft_storage *st = &rec->state;
	return st->entry_count > 0 ? st->entries[st->entry_count - 1].index : st->snap_index;
}

/* A restart recovers what the node had made durable: the hard state it last saved and at
 * least every entry it had synced (more after a process crash, whose unsynced writes the
 * page cache kept). Recovery may cut a torn write and repair a damaged copy, but it must
 * never lose what a save or a sync promised: damage it cannot repair is refused, not cut
 * away, or a committed entry could vanish from a majority without anyone noticing. */
static void check_recovery(sim_world *w, sim_node *n, const ballot_storage_recovery *rec)
{
	const ballot_hard_state *hs = &rec->state.hard_state;
	if (hs->term != n->durable_term || hs->vote != n->durable_vote)
		sim_violation(w, "node %llu: recovery returned term %llu and vote %llu, but it had saved term %llu "
			      "and vote %llu", (unsigned long long)n->id, (unsigned long long)hs->term,
			      (unsigned long long)hs->vote, (unsigned long long)n->durable_term,
			      (unsigned long long)n->durable_vote);
	uint64_t last = recovered_last(rec);
	if (last < n->durable_last)
		sim_violation(w, "node %llu: recovery returned the log up to index %llu, but entries up to %llu had "
			      "been synced (durable entries were dropped)", (unsigned long long)n->id,
			      (unsigned long long)last, (unsigned long long)n->durable_last);
}

/* Starts (or restarts) node n: recovers its data dir from its (simulated) disk. */
static void node_boot(sim_world *w, sim_node *n)
{
	BALLOT_ASSERT(!n->broken);
	ballot_storage_options so;
	ballot_storage_options_default(&so);
	so.segment_bytes = SIM_SEGMENT_BYTES; /* small segments: rollover and compaction happen often */
	ballot_storage_recovery rec;
	ballot_errmsg em;
	int rc = ballot_storage_open(ballot_fs_sim_fs(n->fs), "/data", &so, &n->storage, &rec, &em);
	if (rc != 0) {
		n->storage = NULL;
		if (rc == BALLOT_ECORRUPT && n->flipped) {
			/* The flipped bit hit something recovery cannot do without, and it said so. */
			node_damaged(w, n, &em);
			return;
		}
		/* Only synced data may be lost on a crash, and torn tails are cut: a data dir that
		 * does not recover is a bug in the storage or in the simulated disk. */
		sim_violation(w, "node %llu: its data dir does not recover after a crash: %s",
			      (unsigned long long)n->id, em.text);
		return;
	}
	check_recovery(w, n, &rec);
	if (n->flipped) {
		w->res->flips_harmless++; /* repaired, cut with a torn tail, or never read */
		n->flipped = false;
	}
	if (!rec.has_snapshot)
		rec.state.snap_config = n->boot_config; /* founding members, or nothing for a joiner */
	n->snap_index = rec.state.snap_index;
	n->durable_term = rec.state.hard_state.term;
	n->durable_vote = rec.state.hard_state.vote;
	ballot_raft_options o = node_options(w, n->id);
	rc = ballot_raft_new(&n->raft, &o, &rec.state, ballot_rng_next(&w->rng), &em);
	BALLOT_ASSERT(rc == 0);
	if (n->app != NULL)
		sim_app_free(n->app);
	n->app = sim_app_new();
	BALLOT_ASSERT(n->app != NULL);
	if (rec.state.snap_data != NULL && sim_app_restore(n->app, rec.state.snap_data) != 0)
		sim_violation(w, "node %llu: cannot restore its own snapshot", (unsigned long long)n->id);
	ballot_storage_recovery_free(&rec); /* the core and the state machine hold what they need */
	n->applied = n->snap_index;
	n->alive = true;
	n->incarnation++;
	n->persisting = false;
	n->last_role = BALLOT_ROLE_FOLLOWER;
	uint64_t phase = ballot_rng_below(&w->rng, SIM_TICK_MS);
	sim_schedule(w, phase + 1, EV_TICK, (uint32_t)(n - w->nodes), n->incarnation, NULL, 0, 0, NULL);
}

/* Crashes node n: the machine loses power (or only the process dies), so whatever it had
 * not synced is lost (a torn last write, with `how`), and so is everything in memory. */
static void node_crash(sim_node *n, unsigned how)
{
	if (!n->alive)
		return;
	ballot_storage_status st;
	ballot_storage_status_get(n->storage, &st);
	n->durable_last = st.synced_index;
	if (n->persisting)
		ballot_raft_advance(n->raft, &n->rd); /* frees the ready; its writes were not synced */
	n->applied_early = false;
	ballot_raft_free(n->raft);
	n->raft = NULL;
	n->alive = false;
	n->persisting = false;
	sim_node_drop_pending(n);
	side_snapshot_drop(n);
	ballot_fs_names_free(&n->doomed); /* not removed: recovery's to find */
	ballot_fs_sim_crash(n->fs, how);
	ballot_storage_close(n->storage);
	n->storage = NULL;
}

/* A process that dies has its sockets closed by its kernel: the peers that can still hear
 * from it see their connections close, a hint that its leadership is over (ballotd passes
 * it to the core; a machine that loses power sends nothing). */
static void tell_peers_closed(sim_world *w, const sim_node *dead)
{
	unsigned d = (unsigned)(dead - w->nodes);
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *o = &w->nodes[i];
		if (i != d && o->alive && !w->blocked[d][i]) {
			ballot_raft_leader_lost(o->raft, dead->id);
			process_ready(w, o);
		}
	}
}

static void operator_wake(sim_world *w);

/* Node n's data dir was found damaged (BALLOT_ECORRUPT from recovery, or from its running
 * storage, after a bit flipped in it). It goes down for good: what it lost may include a
 * vote it granted and entries it acknowledged, so it must never again vote or count for a
 * commit under its id (Raft thesis §3.8). The operator replaces it (operator_step). */
static void node_damaged(sim_world *w, sim_node *n, const ballot_errmsg *em)
{
	BALLOT_ASSERT(n->replace == REPLACE_NONE);
	node_crash(n, BALLOT_FS_SIM_CRASH_PROCESS);
	w->res->corruptions_detected++;
	if (w->opts.trace != NULL)
		fprintf(w->opts.trace, "%llu node %llu: data dir damaged, to be replaced: %s\n",
			(unsigned long long)w->now, (unsigned long long)n->id, em->text);
	n->flipped = false;
	n->broken = true;
	n->replace = REPLACE_REMOVE;
	n->replaced_id = n->id;
	n->replaced_role = 0;
	operator_wake(w);
}

/* The operator wipes the damaged node's data dir and starts its successor in its slot, with
 * a new id: it knows no configuration and learns everything from the leader that added it.
 * The slot's incarnation goes on, so the predecessor's events stay stale; everything
 * checked about the predecessor (its votes, its durable state) is retired with it, and the
 * successor is checked from its start. */
static void node_succeed(sim_world *w, sim_node *n, uint64_t id)
{
	BALLOT_ASSERT(!n->alive);
	BALLOT_ASSERT(n->broken);
	sim_node_drop_pending(n);
	free(n->pending);
	ballot_fs_sim_free(n->fs);
	if (n->app != NULL)
		sim_app_free(n->app);
	sim_node successor = {.id = id, .incarnation = n->incarnation, .snapshot_every = n->snapshot_every,
			      .replace = REPLACE_JOIN, .replaced_id = n->replaced_id,
			      .replaced_role = n->replaced_role};
	*n = successor;
	int rc = ballot_fs_sim_new(&n->fs, ballot_rng_next(&w->rng));
	BALLOT_ASSERT(rc == 0);
	if (w->opts.trace != NULL)
		fprintf(w->opts.trace, "%llu node %llu replaces node %llu\n", (unsigned long long)w->now,
			(unsigned long long)id, (unsigned long long)n->replaced_id);
	node_boot(w, n);
}

static sim_node *add_node(sim_world *w, const ballot_config *initial)
{
	BALLOT_ASSERT(w->node_count < SIM_NODES_MAX);
	sim_node *n = &w->nodes[w->node_count++];
	memset(n, 0, sizeof *n);
	n->id = w->next_node_id++;
	if (initial != NULL)
		n->boot_config = *initial;
	int rc = ballot_fs_sim_new(&n->fs, ballot_rng_next(&w->rng));
	BALLOT_ASSERT(rc == 0);
	if (w->opts.faults & BALLOT_SIM_FAULT_SNAPSHOT)
		n->snapshot_every = 20 + ballot_rng_below(&w->rng, 60);
	else
		n->snapshot_every = 500;
	node_boot(w, n);
	return n;
}

sim_node *sim_leader(sim_world *w)
{
	sim_node *best = NULL;
	uint64_t best_term = 0;
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *n = &w->nodes[i];
		if (!n->alive)
			continue;
		ballot_raft_status st;
		ballot_raft_status_get(n->raft, &st);
		if (st.role == BALLOT_ROLE_LEADER && st.term >= best_term) {
			best = n;
			best_term = st.term;
		}
	}
	return best;
}

/* ---- the nemesis -------------------------------------------------------------------- */

static void heal_all(sim_world *w)
{
	memset(w->blocked, 0, sizeof w->blocked);
}

static void nemesis_partition(sim_world *w)
{
	heal_all(w);
	unsigned n = w->node_count;
	int kind = (int)ballot_rng_below(&w->rng, 3);
	if (kind == 0) { /* isolate one node */
		unsigned a = (unsigned)ballot_rng_below(&w->rng, n);
		for (unsigned b = 0; b < n; b++)
			w->blocked[a][b] = w->blocked[b][a] = a != b;
	} else if (kind == 1) { /* split in two */
		uint64_t side = ballot_rng_next(&w->rng);
		for (unsigned a = 0; a < n; a++)
			for (unsigned b = 0; b < n; b++)
				w->blocked[a][b] = ((side >> a) & 1) != ((side >> b) & 1);
	} else { /* one-way: a hears b, b does not hear a */
		unsigned a = (unsigned)ballot_rng_below(&w->rng, n);
		unsigned b = (unsigned)ballot_rng_below(&w->rng, n);
		if (a != b)
			w->blocked[a][b] = true;
	}
	w->res->partitions++;
	sim_schedule(w, 100 + ballot_rng_below(&w->rng, 2000), EV_HEAL, 0, 0, NULL, 0, 0, NULL);
}

/* Crashes node i in a moment and restarts it shortly after. */
static void crash_soon(sim_world *w, unsigned i)
{
	sim_schedule(w, ballot_rng_below(&w->rng, 2), EV_CRASH, i, w->nodes[i].incarnation, NULL, 0, 0, NULL);
}

static void nemesis_crash(sim_world *w)
{
	unsigned i = (unsigned)ballot_rng_below(&w->rng, w->node_count);
	sim_node *n = &w->nodes[i];
	if (!n->alive)
		return;
	/* A power loss; sometimes the last unsynced write is torn, and unsynced renames
	 * survive or not at random. */
	unsigned how = BALLOT_FS_SIM_CRASH_POWER;
	if (ballot_rng_below(&w->rng, 2) == 0)
		how |= BALLOT_FS_SIM_CRASH_TEAR;
	if (ballot_rng_below(&w->rng, 2) == 0)
		how |= BALLOT_FS_SIM_CRASH_DIR_RANDOM;
	node_crash(n, how);
	w->res->crashes++;
	sim_schedule(w, 20 + ballot_rng_below(&w->rng, 1500), EV_RESTART, i, n->incarnation, NULL, 0, 0, NULL);
}

/* ---- disk faults and the operator ---------------------------------------------------- */

/* Nodes whose disk the cluster may be losing: a bit flipped that no restart has checked
 * yet, or a damaged node not yet replaced by a caught-up successor. */
static unsigned disks_at_risk(const sim_world *w)
{
	unsigned count = 0;
	for (unsigned i = 0; i < w->node_count; i++)
		count += w->nodes[i].flipped || w->nodes[i].replace != REPLACE_NONE;
	return count;
}

/* Whether the leader's log holds a configuration it has not committed: a new leader may
 * still undo it, and with it the voters counted on. */
static bool config_pending(const sim_node *leader, const ballot_raft_status *st)
{
	for (uint64_t i = st->commit + 1; i <= st->last_index; i++) {
		const ballot_entry *e = ballot_raft_entry(leader->raft, i);
		if (e != NULL && e->type == BALLOT_ENTRY_CONFIG)
			return true;
	}
	return false;
}

/* A bit flips in a node's data dir, if the cluster can afford to lose one more disk: with
 * every disk at risk counted as lost, a majority of the voters (of a committed
 * configuration) must keep theirs, or the cluster could neither commit the removal of a
 * damaged member nor elect a leader. Mostly the machine is off when it happens (it crashes
 * now and restarts later); sometimes the bit flips under the running node and lies latent
 * until a restart some time later. */
static void nemesis_bitflip(sim_world *w)
{
	sim_node *leader = sim_leader(w);
	if (leader == NULL)
		return;
	ballot_raft_status st;
	ballot_raft_status_get(leader->raft, &st);
	if (config_pending(leader, &st) || disks_at_risk(w) + 1 > (ballot_config_voters(&st.config) - 1) / 2)
		return;
	unsigned i = (unsigned)ballot_rng_below(&w->rng, w->node_count);
	sim_node *n = &w->nodes[i];
	if (n->broken || n->flipped || n->replace != REPLACE_NONE)
		return;
	bool latent = n->alive && ballot_rng_below(&w->rng, 4) == 0;
	if (n->alive && !latent) {
		node_crash(n, ballot_rng_below(&w->rng, 2) ? BALLOT_FS_SIM_CRASH_POWER : BALLOT_FS_SIM_CRASH_TEAR);
		w->res->crashes++;
		sim_schedule(w, 20 + ballot_rng_below(&w->rng, 1500), EV_RESTART, i, n->incarnation, NULL, 0, 0, NULL);
	}
	char path[64];
	uint64_t bit;
	ballot_errmsg em;
	if (ballot_fs_sim_flip_in_dir(n->fs, "/data", path, sizeof path, &bit, &em) != 0)
		return;
	n->flipped = true;
	w->res->bit_flips++;
	trace_add(w, &bit, sizeof bit);
	if (w->opts.trace != NULL)
		fprintf(w->opts.trace, "%llu node %llu: flipped bit %llu of %s%s\n", (unsigned long long)w->now,
			(unsigned long long)n->id, (unsigned long long)bit, path, latent ? " (while running)" : "");
	if (latent)
		sim_schedule(w, 200 + ballot_rng_below(&w->rng, 3000), EV_CRASH, i, n->incarnation, NULL, 0, 0, NULL);
}

/* Whether the operator is still replacing a damaged node. */
static bool replacing(const sim_world *w)
{
	for (unsigned i = 0; i < w->node_count; i++) {
		if (w->nodes[i].replace != REPLACE_NONE)
			return true;
	}
	return false;
}

static void operator_wake(sim_world *w)
{
	if (w->operator_scheduled)
		return;
	w->operator_scheduled = true;
	sim_schedule(w, 50 + ballot_rng_below(&w->rng, 100), EV_OPERATOR, 0, 0, NULL, 0, 0, NULL);
}

/* One step of replacing the damaged node of slot n, as an operator would do it at the
 * leader: remove the damaged member; once that is committed, add a successor with a new id
 * as a learner and start it with an empty data dir; once it has caught up, promote it (if
 * the damaged member was a voter). Why a new id: the damaged node may have voted in a term
 * and forgotten it, or acknowledged entries it no longer has; under a new id nothing it
 * said can be counted again, not even a message still in flight (Raft thesis §3.8). Each
 * step looks at the leader's configuration afresh, since a leader may lose a change it
 * had not committed; the core refuses a change while another is uncommitted, and a
 * promotion until the learner has caught up, so a refused step is simply tried again. */
static void operator_step(sim_world *w, sim_node *n, sim_node *leader)
{
	ballot_raft_status st;
	ballot_raft_status_get(leader->raft, &st);
	const ballot_member *old = ballot_config_find(&st.config, n->replaced_id);
	if (old != NULL) {
		if (n->replaced_role == 0 || old->role == BALLOT_MEMBER_VOTER)
			n->replaced_role = old->role;
		(void)ballot_raft_remove(leader->raft, n->replaced_id);
		return;
	}
	/* The leader accepts the successor only once no change is uncommitted: the removal
	 * (ours, or an earlier one if the damaged node was no member when first seen) is then
	 * committed, and no leader can bring the damaged member back. */
	uint64_t id = n->replace == REPLACE_JOIN ? n->id : w->next_node_id;
	const ballot_member *successor = ballot_config_find(&st.config, id);
	if (successor == NULL) {
		if (ballot_raft_add_learner(leader->raft, id, "sim") == 0 && n->replace == REPLACE_REMOVE) {
			w->next_node_id++;
			node_succeed(w, n, id);
		}
		return;
	}
	if (successor->role == BALLOT_MEMBER_LEARNER && n->replaced_role == BALLOT_MEMBER_VOTER) {
		(void)ballot_raft_promote(leader->raft, id);
		return;
	}
	n->replace = REPLACE_NONE;
	w->res->replacements++;
	if (w->opts.trace != NULL)
		fprintf(w->opts.trace, "%llu node %llu has replaced node %llu as a %s\n", (unsigned long long)w->now,
			(unsigned long long)id, (unsigned long long)n->replaced_id,
			successor->role == BALLOT_MEMBER_VOTER ? "voter" : "learner");
}

static void operator_run(sim_world *w)
{
	w->operator_scheduled = false;
	bool working = false;
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *n = &w->nodes[i];
		if (n->replace == REPLACE_NONE)
			continue;
		sim_node *leader = sim_leader(w);
		if (leader != NULL)
			operator_step(w, n, leader);
		working |= n->replace != REPLACE_NONE;
	}
	for (unsigned i = 0; i < w->node_count; i++)
		process_ready(w, &w->nodes[i]);
	if (working)
		operator_wake(w);
}

static void nemesis_membership(sim_world *w)
{
	sim_node *leader = sim_leader(w);
	if (leader == NULL)
		return;
	ballot_raft_status st;
	ballot_raft_status_get(leader->raft, &st);
	/* Promote a learner that has caught up, else remove a voter (keeping three), else add
	 * a fresh node as a learner. */
	for (unsigned m = 0; m < st.config.count; m++) {
		const ballot_member *mb = &st.config.members[m];
		if (mb->role != BALLOT_MEMBER_LEARNER)
			continue;
		if (ballot_raft_promote(leader->raft, mb->id) == 0)
			w->res->membership_changes++;
		return;
	}
	unsigned voters = ballot_config_voters(&st.config);
	if (voters > 3 && disks_at_risk(w) <= (voters - 2) / 2 && ballot_rng_below(&w->rng, 2) == 0) {
		const ballot_member *victim = &st.config.members[ballot_rng_below(&w->rng, st.config.count)];
		if (victim->role == BALLOT_MEMBER_VOTER && ballot_raft_remove(leader->raft, victim->id) == 0)
			w->res->membership_changes++;
		return;
	}
	if (w->node_count < SIM_NODES_MAX && st.config.count < BALLOT_RAFT_MEMBERS_MAX) {
		uint64_t id = w->next_node_id;
		if (ballot_raft_add_learner(leader->raft, id, "sim") == 0) {
			add_node(w, NULL); /* boots empty, learns everything from the leader */
			w->res->membership_changes++;
		}
	}
}

static void nemesis_transfer(sim_world *w)
{
	sim_node *leader = sim_leader(w);
	if (leader == NULL)
		return;
	ballot_raft_status st;
	ballot_raft_status_get(leader->raft, &st);
	/* Sometimes change its mind at once: two nodes may then campaign in the same term,
	 * the contested election that tests whether votes survive crashes. */
	unsigned tries = 1 + (unsigned)ballot_rng_below(&w->rng, 2);
	for (unsigned t = 0; t < tries; t++) {
		const ballot_member *to = &st.config.members[ballot_rng_below(&w->rng, st.config.count)];
		if (to->role == BALLOT_MEMBER_VOTER && ballot_raft_transfer(leader->raft, to->id) == 0)
			w->res->transfers++;
	}
}

static void nemesis(sim_world *w)
{
	if (!w->fault_phase)
		return;
	uint32_t f = w->opts.faults;
	uint32_t actions[5];
	unsigned count = 0;
	if (f & BALLOT_SIM_FAULT_PARTITION)
		actions[count++] = BALLOT_SIM_FAULT_PARTITION;
	if (f & BALLOT_SIM_FAULT_CRASH)
		actions[count++] = BALLOT_SIM_FAULT_CRASH;
	if (f & BALLOT_SIM_FAULT_MEMBERSHIP)
		actions[count++] = BALLOT_SIM_FAULT_MEMBERSHIP;
	if (f & BALLOT_SIM_FAULT_TRANSFER)
		actions[count++] = BALLOT_SIM_FAULT_TRANSFER;
	if (f & BALLOT_SIM_FAULT_BITFLIP)
		actions[count++] = BALLOT_SIM_FAULT_BITFLIP;
	if (count > 0) {
		switch (actions[ballot_rng_below(&w->rng, count)]) {
		case BALLOT_SIM_FAULT_PARTITION: nemesis_partition(w); break;
		case BALLOT_SIM_FAULT_CRASH: nemesis_crash(w); break;
		case BALLOT_SIM_FAULT_MEMBERSHIP: nemesis_membership(w); break;
		case BALLOT_SIM_FAULT_TRANSFER: nemesis_transfer(w); break;
		case BALLOT_SIM_FAULT_BITFLIP: nemesis_bitflip(w); break;
		}
		for (unsigned i = 0; i < w->node_count; i++)
			process_ready(w, &w->nodes[i]);
	}
	sim_schedule(w, 50 + ballot_rng_below(&w->rng, 250), EV_NEMESIS, 0, 0, NULL, 0, 0, NULL);
}

/* Faults stop: heal, restart everyone (also a node with a latent flipped bit, so the flip
 * is checked; never a damaged one), quiet the network. */
static void end_fault_phase(sim_world *w)
{
	w->fault_phase = false;
	heal_all(w);
	w->loss = w->dup = w->long_delay = 0;
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *n = &w->nodes[i];
		if (n->broken)
			continue;
		if (n->alive && n->flipped)
			node_crash(n, BALLOT_FS_SIM_CRASH_PROCESS);
		if (!n->alive)
			node_boot(w, n);
	}
}

/* ---- log matching (checked now and then: it compares every pair) -------------------- */

static void check_log_matching(sim_world *w)
{
	for (unsigned a = 0; a < w->node_count; a++) {
		for (unsigned b = a + 1; b < w->node_count; b++) {
			sim_node *x = &w->nodes[a], *y = &w->nodes[b];
			if (!x->alive || !y->alive)
				continue;
			ballot_raft_status sx, sy;
			ballot_raft_status_get(x->raft, &sx);
			ballot_raft_status_get(y->raft, &sy);
			uint64_t lo = (sx.snap_index > sy.snap_index ? sx.snap_index : sy.snap_index) + 1;
			uint64_t hi = sx.last_index < sy.last_index ? sx.last_index : sy.last_index;
			/* Raft §5.3 Log Matching: same index and term, then identical up to there. */
			bool matched = false;
			for (uint64_t i = hi; i >= lo && i > 0; i--) {
				const ballot_entry *ex = ballot_raft_entry(x->raft, i);
				const ballot_entry *ey = ballot_raft_entry(y->raft, i);
				if (!matched && ex->term != ey->term)
					continue;
				matched = true;
				if (ex->term != ey->term || entry_hash(ex) != entry_hash(ey)) {
					sim_violation(w, "log matching: nodes %llu and %llu differ at index %llu "
						      "below a common entry", (unsigned long long)x->id,
						      (unsigned long long)y->id, (unsigned long long)i);
					return;
				}
			}
		}
	}
}

/* ---- the event loop ----------------------------------------------------------------- */

static void handle_event(sim_world *w, sim_event *ev)
{
	uint64_t t[4] = {ev->time, ev->kind, ev->target, ev->msg ? ev->msg->type : 0};
	trace_add(w, t, sizeof t);
	if (ev->msg != NULL) {
		uint64_t m[4] = {ev->msg->from, ev->msg->to, ev->msg->term, ev->msg->entry_count};
		trace_add(w, m, sizeof m);
	}
	if (w->opts.trace != NULL)
		fprintf(w->opts.trace, "%llu kind=%u target=%u msg=%s\n", (unsigned long long)ev->time,
			ev->kind, ev->target, ev->msg ? ballot_msg_type_name(ev->msg->type) : "-");
	sim_node *n = ev->kind <= EV_PERSISTED || ev->kind == EV_CLIENT_SEND || ev->kind == EV_RESTART ||
				      ev->kind == EV_CRASH
			      ? &w->nodes[ev->target] : NULL;
	switch (ev->kind) {
	case EV_TICK:
		if (!n->alive || ev->generation != n->incarnation)
			break;
		ballot_raft_tick(n->raft);
		process_ready(w, n);
		sim_schedule(w, SIM_TICK_MS, EV_TICK, ev->target, n->incarnation, NULL, 0, 0, NULL);
		break;
	case EV_DELIVER: {
		int from = node_index(w, ev->msg->from);
		bool cut = from >= 0 && w->blocked[from][ev->target];
		/* The slot may hold a successor now: a message to its predecessor is lost. */
		if (n->alive && !cut && ev->msg->to == n->id) {
			ballot_raft_step(n->raft, ev->msg);
			process_ready(w, n);
		} else {
			w->res->messages_dropped++;
		}
		ballot_msg_free(ev->msg);
		break;
	}
	case EV_PERSISTED:
		if (!n->alive || ev->generation != n->incarnation || !n->persisting)
			break;
		finish_ready(w, n);
		process_ready(w, n);
		break;
	case EV_CLIENT_SEND:
		sim_node_request(w, n, ev);
		if (n->alive)
			process_ready(w, n);
		break;
	case EV_RESTART:
		if (!n->alive && !n->broken && ev->generation == n->incarnation)
			node_boot(w, n);
		break;
	case EV_CRASH:
		if (n->alive && ev->generation == n->incarnation) {
			bool process = ballot_rng_below(&w->rng, 2) != 0;
			node_crash(n, process ? BALLOT_FS_SIM_CRASH_PROCESS : BALLOT_FS_SIM_CRASH_POWER | BALLOT_FS_SIM_CRASH_TEAR);
			if (process)
				tell_peers_closed(w, n);
			w->res->crashes++;
			sim_schedule(w, 1 + ballot_rng_below(&w->rng, 3), EV_RESTART, ev->target, n->incarnation,
				     NULL, 0, 0, NULL);
		}
		break;
	case EV_NEMESIS:
		nemesis(w);
		break;
	case EV_HEAL:
		heal_all(w);
		break;
	case EV_OPERATOR:
		operator_run(w);
		break;
	default:
		sim_client_event(w, ev);
		break;
	}
}

/* The cluster as it stands, for the trace after a violation. */
static void dump_nodes(sim_world *w, FILE *out)
{
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *n = &w->nodes[i];
		if (!n->alive) {
			fprintf(out, "node %llu: down%s\n", (unsigned long long)n->id,
				n->broken ? " (data dir damaged)" : n->flipped ? " (a bit flipped in its data dir)" : "");
			continue;
		}
		ballot_raft_status st;
		ballot_raft_status_get(n->raft, &st);
		fprintf(out, "node %llu: %s term=%llu leader=%llu commit=%llu applied=%llu snap=%llu last=%llu/%llu "
			"voters=%u members=%u persisting=%d dropped=%llu\n", (unsigned long long)n->id,
			ballot_role_name(st.role), (unsigned long long)st.term, (unsigned long long)st.leader,
			(unsigned long long)st.commit, (unsigned long long)st.applied,
			(unsigned long long)st.snap_index, (unsigned long long)st.last_index,
			(unsigned long long)st.last_term, ballot_config_voters(&st.config), st.config.count,
			n->persisting, (unsigned long long)st.dropped_messages);
		if (n->replace != REPLACE_NONE)
			fprintf(out, "    replacing node %llu\n", (unsigned long long)n->replaced_id);
		for (unsigned p = 0; p < st.peer_count && st.role == BALLOT_ROLE_LEADER; p++)
			fprintf(out, "    peer %llu match=%llu next=%llu active=%d\n", (unsigned long long)st.peers[p].id,
				(unsigned long long)st.peers[p].match, (unsigned long long)st.peers[p].next,
				st.peers[p].recent_active);
	}
}

static void free_world(sim_world *w)
{
	for (size_t i = 0; i < w->heap_count; i++) {
		ballot_msg_free(w->heap[i].msg);
		ballot_rbuf_unref(w->heap[i].payload);
	}
	free(w->heap);
	for (unsigned i = 0; i < w->node_count; i++) {
		sim_node *n = &w->nodes[i];
		if (n->alive)
			node_crash(n, BALLOT_FS_SIM_CRASH_PROCESS);
		sim_node_drop_pending(n);
		free(n->pending);
		ballot_storage_close(n->storage);
		ballot_fs_sim_free(n->fs);
		if (n->app != NULL)
			sim_app_free(n->app);
	}
	for (size_t i = 0; i < w->hist_count; i++)
		ballot_rbuf_unref(w->hist[i].value);
	free(w->hist);
	free(w->leader_of_term);
	free(w->committed_term);
	free(w->applied_hash);
	XXH3_freeState(w->trace);
}

static void set_network_faults(sim_world *w)
{
	uint32_t f = w->opts.faults;
	if (f & BALLOT_SIM_FAULT_LOSS)
		w->loss = 0.01 + 0.09 * ballot_rng_double(&w->rng);
	if (f & BALLOT_SIM_FAULT_DUP)
		w->dup = 0.01 + 0.04 * ballot_rng_double(&w->rng);
	if (f & BALLOT_SIM_FAULT_DELAY)
		w->long_delay = 0.02 + 0.1 * ballot_rng_double(&w->rng);
}

int ballot_sim_run(const ballot_sim_options *o, ballot_sim_result *res, ballot_errmsg *em)
{
	if (o->nodes < 3 || o->nodes > 7)
		return ballot_errorf(em, BALLOT_EINVAL, "--nodes %u: must be 3 to 7", o->nodes);
	if (o->clients < 1 || o->clients > 64)
		return ballot_errorf(em, BALLOT_EINVAL, "--clients %u: must be 1 to 64", o->clients);
	if (o->ops < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "--ops must be at least 1");
	memset(res, 0, sizeof *res);
	sim_world *w = calloc(1, sizeof *w);
	if (w == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
	w->opts = *o;
	w->res = res;
	w->trace = XXH3_createState();
	BALLOT_ASSERT(w->trace != NULL);
	XXH3_64bits_reset(w->trace);
	ballot_rng_seed(&w->rng, o->seed);
	w->next_node_id = 1;
	w->fault_phase = true;
	set_network_faults(w);

	ballot_config initial = {.count = o->nodes};
	for (unsigned i = 0; i < o->nodes; i++)
		initial.members[i] = (ballot_member){.id = i + 1, .role = BALLOT_MEMBER_VOTER};
	for (unsigned i = 0; i < o->nodes; i++)
		add_node(w, &initial);
	sim_clients_start(w);
	sim_schedule(w, 300 + ballot_rng_below(&w->rng, 500), EV_NEMESIS, 0, 0, NULL, 0, 0, NULL);

	uint64_t fault_end = o->duration_ticks * SIM_TICK_MS;
	uint64_t liveness_bound = 0;
	while (!w->stop && w->heap_count > 0) {
		sim_event ev = pop_event(w);
		BALLOT_ASSERT(ev.time >= w->now);
		w->now = ev.time;
		res->events++;
		handle_event(w, &ev);
		if (w->fault_phase && (w->ops_started >= o->ops || w->now >= fault_end)) {
			end_fault_phase(w);
			sim_final_phase(w);
			liveness_bound = w->now + 10000; /* ten seconds to elect, serve and replace again */
		}
		if (!w->fault_phase && sim_clients_done(w) && !replacing(w))
			break;
		if (!w->fault_phase && w->now > liveness_bound) {
			if (!sim_clients_done(w))
				sim_violation(w, "liveness: no leader served the final reads within 10 s after faults "
					      "stopped");
			else
				sim_violation(w, "liveness: a damaged node was not replaced within 10 s after faults "
					      "stopped");
			break;
		}
		if ((res->events & 4095) == 0)
			check_log_matching(w);
	}
	if (!w->stop)
		check_log_matching(w);
	if (res->violations && o->trace != NULL)
		dump_nodes(w, o->trace);
	uint64_t gap = (w->now - w->last_success) / SIM_TICK_MS;
	if (gap > res->max_unavailable_ticks)
		res->max_unavailable_ticks = gap;
	res->ticks = w->now / SIM_TICK_MS;
	res->trace_hash = XXH3_64bits_digest(w->trace);
	if (!w->stop)
		sim_history_check(w);
	if (o->history_path != NULL)
		sim_history_write(w, o->history_path);
	free_world(w);
	free(w);
	return 0;
}
