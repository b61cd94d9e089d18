/* The Raft core (see ballot/raft.h for the contract and the driver's duties).
 *
 * One struct holds a node's whole state; every input runs to completion and queues its
 * outputs (messages, reads) for the next ready. Sections: state changes (become_*),
 * elections, replication (leader side), the follower's log handling, commit, reads,
 * membership, leadership transfer, snapshots, and the ready/advance cycle. */
#include "ballot/raft.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/assert.h"
#include "raft/log.h"

#ifdef BALLOT_CANARIES
#define CANARY(r, bug) (((r)->opts.canaries & (bug)) != 0)
#else
#define CANARY(r, bug) false
#endif

/* A snapshot the leader can send: shared by reference between the core and every
 * follower it is being sent to, so a newer snapshot never cuts a transfer short. */
typedef struct raft_snapshot {
	unsigned refs;
	uint64_t index, term;
	ballot_config config; /* as of index */
	ballot_rbuf *data;
} raft_snapshot;

static raft_snapshot *snapshot_new(uint64_t index, uint64_t term, const ballot_config *config, ballot_rbuf *data)
{
	raft_snapshot *s = malloc(sizeof *s);
	if (s == NULL)
		return NULL;
	s->refs = 1;
	s->index = index;
	s->term = term;
	s->config = *config;
	s->data = ballot_rbuf_ref(data);
	return s;
}

static raft_snapshot *snapshot_ref(raft_snapshot *s)
{
	if (s != NULL)
		s->refs++;
	return s;
}

static void snapshot_unref(raft_snapshot *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	ballot_rbuf_unref(s->data);
	free(s);
}

typedef enum progress_state {
	PROGRESS_PROBE = 0,     /* one append at a time until the follower's log position is known */
	PROGRESS_REPLICATE,     /* pipelined appends, up to the in-flight window */
	PROGRESS_SNAPSHOT,      /* sending a snapshot in chunks */
} progress_state;

/* What a leader knows of one member (itself included: its match is what it persisted). */
typedef struct progress {
	uint64_t id;
	uint64_t match, next;
	progress_state state;
	bool probe_sent;
	bool recent_active;   /* heard from it in this election timeout (check-quorum) */
	unsigned inflight;    /* appends outstanding (REPLICATE) */
	unsigned inflight_head;
	uint64_t inflight_last[BALLOT_RAFT_INFLIGHT_MAX]; /* ring: last index of each */
	uint64_t read_round;  /* the highest ReadIndex round it acknowledged */
	raft_snapshot *snap;  /* PROGRESS_SNAPSHOT: the snapshot being sent (a reference) */
	uint64_t snap_offset; /* bytes the follower is known to hold: the next chunk's offset */
	uint64_t snap_expect; /* the end of the chunk in flight */
	bool snap_chunk_out;  /* a chunk awaits its response */
} progress;

typedef struct pending_read {
	uint64_t request;
	uint64_t index;
	uint64_t round;       /* 0: waits for the leader to commit an entry of its term */
	uint64_t round_tick;  /* when its round started (lease reads) */
} pending_read;

typedef struct ptr_vec {
	ballot_msg **items;
	size_t count, cap;
} ptr_vec;

struct ballot_raft {
	ballot_raft_options opts;
	uint64_t id;
	ballot_rng rng;
	uint64_t ticks;

	uint64_t term, vote, commit, leader;
	ballot_role role;
	raft_log log;
	ballot_config config;      /* in effect: the latest in the log */
	ballot_config snap_config; /* as of the log's start (log.snap_index) */
	raft_snapshot *snapshot;   /* our latest snapshot, to send to lagging followers */
	uint64_t trim_to;          /* the log is dropped up to here, compact_step_entries at a time */

	progress peers[BALLOT_RAFT_MEMBERS_MAX];
	unsigned peer_count;

	unsigned election_elapsed, heartbeat_elapsed, randomized_timeout;
	unsigned quick_campaigns; /* left after a lost leader's hint (see QUICK_CAMPAIGNS) */
	uint64_t votes_granted, votes_rejected; /* bit i: peers[i] (candidates) */

	bool committed_in_term;       /* leader: an entry of its term is committed */
	uint64_t pending_config_index; /* leader: uncommitted config entry, 0 if none */
	uint64_t transfer_target;
	unsigned transfer_elapsed;
	size_t uncommitted_bytes;

	pending_read *reads;
	size_t read_count, read_cap;
	uint64_t read_round;
	uint64_t lease_until_tick;

	/* Incoming snapshot being assembled from chunks. */
	uint64_t in_snap_index, in_snap_term;
	ballot_config in_snap_config;
	unsigned char *in_snap_buf;
	size_t in_snap_len, in_snap_cap;
	bool in_snap_active;

	/* Outputs for the next ready. */
	ptr_vec msgs, msgs_after;
	ballot_read_state *read_states;
	size_t read_state_count, read_state_cap;
	bool install_pending;        /* a snapshot was installed: hand it out */
	ballot_rbuf *install_data;
	uint64_t applied;            /* the last index handed out to apply */
	ballot_hard_state prev_hs;   /* the last hard state handed out */
	bool ready_outstanding;
	bool ready_has_snapshot;     /* the outstanding ready installs one: nothing applies before it */
	/* A leader has new entries to send: the appends leave at the next ready_take, one per
	 * follower for every proposal made since (batching), not one per proposal. */
	bool append_pending;
	uint64_t dropped;
};

/* ---- small helpers ------------------------------------------------------------------ */

static unsigned quorum_of(unsigned voters)
{
	return voters / 2 + 1;
}

static bool is_voter(const ballot_config *c, uint64_t id)
{
	const ballot_member *m = ballot_config_find(c, id);
	return m != NULL && m->role == BALLOT_MEMBER_VOTER;
}

static progress *peer(ballot_raft *r, uint64_t id)
{
	for (unsigned i = 0; i < r->peer_count; i++) {
		if (r->peers[i].id == id)
			return &r->peers[i];
	}
	return NULL;
}

static int peer_slot(const ballot_raft *r, uint64_t id)
{
	for (unsigned i = 0; i < r->peer_count; i++) {
		if (r->peers[i].id == id)
			return (int)i;
	}
	return -1;
}

static int vec_push(ptr_vec *v, ballot_msg *m)
{
	if (ballot_array_reserve(&v->items, &v->cap, v->count, sizeof *v->items, 16) != 0)
		return BALLOT_ENOMEM;
	v->items[v->count++] = m;
	return 0;
}

static ballot_msg *msg_new(ballot_raft *r, uint8_t type, uint64_t to)
{
	ballot_msg *m = calloc(1, sizeof *m);
	if (m == NULL) {
		r->dropped++;
		return NULL;
	}
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	return m;
}

/* Queues a message. Leader traffic and pre-votes depend on nothing unpersisted and may leave
 * at once; everything else (votes, acknowledgements) only after the ready is persisted. A
 * message that cannot be queued is dropped, as a network would: Raft tolerates loss. */
static void send(ballot_raft *r, ballot_msg *m)
{
	if (m == NULL)
		return;
	/* A heartbeat's answer promises nothing new (its match is what was acknowledged,
	 * durably, before), so once our term is durable it need not wait behind a slow sync:
	 * a leader that hears nothing for an election timeout steps down (check-quorum). */
	bool heartbeat_answer = m->type == BALLOT_MSG_APPEND_RESP && m->heartbeat && m->term == r->prev_hs.term;
	bool now = m->type == BALLOT_MSG_APPEND || m->type == BALLOT_MSG_SNAPSHOT ||
		   m->type == BALLOT_MSG_TIMEOUT_NOW || m->type == BALLOT_MSG_PREVOTE || heartbeat_answer;
	if (vec_push(now ? &r->msgs : &r->msgs_after, m) != 0) {
		ballot_msg_free(m);
		r->dropped++;
	}
}

static void push_read_state(ballot_raft *r, uint64_t request, uint64_t index, bool ok)
{
	if (ballot_array_reserve(&r->read_states, &r->read_state_cap, r->read_state_count,
				 sizeof *r->read_states, 16) != 0) {
		r->dropped++; /* the caller's read then never completes: it times out */
		return;
	}
	r->read_states[r->read_state_count++] = (ballot_read_state){request, index, ok};
}

static unsigned voter_count(const ballot_raft *r)
{
	return ballot_config_voters(&r->config);
}

static bool self_is_voter(const ballot_raft *r)
{
	return is_voter(&r->config, r->id);
}

/* After a lost leader's hint (ballot_raft_leader_lost), the first campaigns come one to five
 * heartbeat intervals apart rather than an election timeout: the followers that saw the
 * same close may have campaigned in the same tick and split the vote, and a retry after a
 * whole timeout (1-2 s in ballotd) is what a failover then took. Until a leader is heard,
 * for at most this many campaigns. */
#define QUICK_CAMPAIGNS 3

static void reset_randomized_timeout(ballot_raft *r)
{
	unsigned e = r->opts.election_ticks;
	if (r->quick_campaigns > 0 && r->leader == 0) {
		unsigned hb = r->opts.heartbeat_ticks;
		r->randomized_timeout = hb + (unsigned)ballot_rng_below(&r->rng, 4 * hb + 1);
		return;
	}
	r->randomized_timeout = e + (unsigned)ballot_rng_below(&r->rng, e);
}

/* A message from the leader: its election timer restarts, at a whole timeout again. */
static void heard_leader(ballot_raft *r, uint64_t leader)
{
	r->election_elapsed = 0;
	r->leader = leader;
	if (r->quick_campaigns > 0) {
		r->quick_campaigns = 0;
		reset_randomized_timeout(r);
	}
}

/* ---- reads -------------------------------------------------------------------------- */

/* Refuses every waiting read (leadership lost: the caller retries elsewhere). */
static void fail_reads(ballot_raft *r)
{
	for (size_t i = 0; i < r->read_count; i++)
		push_read_state(r, r->reads[i].request, 0, false);
	r->read_count = 0;
}

/* ---- progress ----------------------------------------------------------------------- */

static void progress_reset(progress *pr, uint64_t id, uint64_t next)
{
	snapshot_unref(pr->snap);
	memset(pr, 0, sizeof *pr);
	pr->id = id;
	pr->next = next;
	pr->state = PROGRESS_PROBE;
}

static void inflight_add(progress *pr, uint64_t last)
{
	BALLOT_ASSERT(pr->inflight < BALLOT_RAFT_INFLIGHT_MAX);
	unsigned slot = (pr->inflight_head + pr->inflight) % BALLOT_RAFT_INFLIGHT_MAX;
	pr->inflight_last[slot] = last;
	pr->inflight++;
}

/* Frees the in-flight slots of appends acknowledged up to index. */
static void inflight_free_to(progress *pr, uint64_t index)
{
	while (pr->inflight > 0 && pr->inflight_last[pr->inflight_head] <= index) {
		pr->inflight_head = (pr->inflight_head + 1) % BALLOT_RAFT_INFLIGHT_MAX;
		pr->inflight--;
	}
}

static void become_probe(progress *pr)
{
	snapshot_unref(pr->snap);
	pr->snap = NULL;
	pr->state = PROGRESS_PROBE;
	pr->probe_sent = false;
	pr->inflight = 0;
	pr->inflight_head = 0;
	pr->snap_chunk_out = false;
	if (pr->next <= pr->match)
		pr->next = pr->match + 1;
}

static void become_replicate(progress *pr)
{
	pr->state = PROGRESS_REPLICATE;
	pr->probe_sent = false;
	pr->inflight = 0;
	pr->inflight_head = 0;
	pr->next = pr->match + 1;
}

/* Makes the progress set match the configuration: new members start probing at the end of
 * the log, departed ones are forgotten. */
static void sync_progress(ballot_raft *r)
{
	progress old[BALLOT_RAFT_MEMBERS_MAX];
	unsigned old_count = r->peer_count;
	memcpy(old, r->peers, sizeof(progress) * old_count);
	r->peer_count = 0;
	for (unsigned m = 0; m < r->config.count; m++) {
		uint64_t id = r->config.members[m].id;
		progress *pr = &r->peers[r->peer_count++];
		bool found = false;
		for (unsigned k = 0; k < old_count && !found; k++) {
			if (old[k].id == id) {
				*pr = old[k];
				found = true;
			}
		}
		if (!found) {
			pr->snap = NULL;
			progress_reset(pr, id, raft_log_last(&r->log) + 1);
		}
	}
	for (unsigned k = 0; k < old_count; k++) {
		if (ballot_config_find(&r->config, old[k].id) == NULL)
			snapshot_unref(old[k].snap);
	}
}

/* ---- configuration ------------------------------------------------------------------ */

/* Recomputes the configuration in effect: the latest config entry in the log, else the
 * snapshot's (thesis §4.1: a server uses the latest configuration in its log, committed
 * or not). */
static void recompute_config(ballot_raft *r)
{
	r->config = r->snap_config;
	for (uint64_t i = raft_log_last(&r->log); i > r->log.snap_index; i--) {
		const ballot_entry *e = raft_log_get(&r->log, i);
		if (e->type != BALLOT_ENTRY_CONFIG)
			continue;
		ballot_config c;
		if (e->data != NULL && ballot_config_decode(e->data->data, e->data->len, &c, NULL) == 0)
			r->config = c;
		break;
	}
	sync_progress(r);
}

/* Appends entries to the log, adopting any configuration they carry. */
static int append_entry(ballot_raft *r, const ballot_entry *e)
{
	int rc = raft_log_append(&r->log, e);
	if (rc != 0)
		return rc;
	if (e->type == BALLOT_ENTRY_CONFIG) {
		ballot_config c;
		if (e->data != NULL && ballot_config_decode(e->data->data, e->data->len, &c, NULL) == 0) {
			r->config = c;
			sync_progress(r);
		}
	}
	return 0;
}

/* ---- state changes ------------------------------------------------------------------ */

static void reset_term(ballot_raft *r, uint64_t term)
{
	BALLOT_ASSERT(term >= r->term);
	if (term != r->term) {
		r->term = term;
		r->vote = 0;
	}
	r->leader = 0;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	reset_randomized_timeout(r);
	r->votes_granted = r->votes_rejected = 0;
	r->transfer_target = 0;
	r->transfer_elapsed = 0;
}

static void become_follower(ballot_raft *r, uint64_t term, uint64_t leader)
{
	if (r->role == BALLOT_ROLE_LEADER)
		fail_reads(r);
	if (leader != 0)
		r->quick_campaigns = 0;
	reset_term(r, term);
	r->role = BALLOT_ROLE_FOLLOWER;
	r->leader = leader;
	r->committed_in_term = false;
	r->pending_config_index = 0;
}

static void become_precandidate(ballot_raft *r)
{
	BALLOT_ASSERT(r->role != BALLOT_ROLE_LEADER);
	/* A pre-candidate changes neither term nor vote (thesis §9.6): it only asks. */
	r->role = BALLOT_ROLE_PRECANDIDATE;
	r->leader = 0;
	r->votes_granted = r->votes_rejected = 0;
	r->election_elapsed = 0;
	reset_randomized_timeout(r);
}

static void become_candidate(ballot_raft *r)
{
	BALLOT_ASSERT(r->role != BALLOT_ROLE_LEADER);
	reset_term(r, r->term + 1);
	r->vote = r->id;
	r->role = BALLOT_ROLE_CANDIDATE;
}

static size_t entry_bytes(const ballot_entry *e)
{
	return e->data != NULL ? e->data->len : 0;
}

static void broadcast_append(ballot_raft *r);

static void become_leader(ballot_raft *r)
{
	BALLOT_ASSERT(r->role == BALLOT_ROLE_CANDIDATE);
	r->role = BALLOT_ROLE_LEADER;
	r->leader = r->id;
	r->committed_in_term = false;
	r->heartbeat_elapsed = 0;
	r->election_elapsed = 0;
	r->lease_until_tick = 0;
	uint64_t last = raft_log_last(&r->log);
	for (unsigned i = 0; i < r->peer_count; i++) {
		progress *pr = &r->peers[i];
		progress_reset(pr, pr->id, last + 1);
		pr->recent_active = true;
		if (pr->id == r->id) {
			pr->match = r->log.stable;
			pr->state = PROGRESS_REPLICATE;
		}
	}
	/* An uncommitted configuration in the log counts as pending; so do the bytes above commit. */
	r->pending_config_index = 0;
	r->uncommitted_bytes = 0;
	for (uint64_t i = r->commit + 1; i <= last; i++) {
		const ballot_entry *e = raft_log_get(&r->log, i);
		if (e->type == BALLOT_ENTRY_CONFIG)
			r->pending_config_index = i;
		r->uncommitted_bytes += entry_bytes(e);
	}
	/* Raft §8: a new leader commits a no-op of its term, which commits earlier entries. */
	ballot_entry noop = {.term = r->term, .index = last + 1, .type = BALLOT_ENTRY_NOOP};
	if (append_entry(r, &noop) != 0)
		r->dropped++;
	broadcast_append(r);
}

/* ---- elections ---------------------------------------------------------------------- */

static void send_vote_requests(ballot_raft *r, bool pre, bool transfer)
{
	uint64_t term = pre ? r->term + 1 : r->term;
	for (unsigned i = 0; i < r->peer_count; i++) {
		const progress *pr = &r->peers[i];
		if (pr->id == r->id || !is_voter(&r->config, pr->id))
			continue;
		ballot_msg *m = msg_new(r, pre ? BALLOT_MSG_PREVOTE : BALLOT_MSG_VOTE, pr->id);
		if (m == NULL)
			continue;
		m->term = term;
		m->last_index = raft_log_last(&r->log);
		m->last_term = raft_log_last_term(&r->log);
		m->transfer = transfer;
		send(r, m);
	}
}

/* Counts a vote; returns 1 if won, -1 if lost, 0 if undecided. */
static int tally(ballot_raft *r, uint64_t from, bool granted)
{
	int slot = peer_slot(r, from);
	if (slot < 0 || !is_voter(&r->config, from))
		return 0;
	uint64_t bit = UINT64_C(1) << slot;
	if (((r->votes_granted | r->votes_rejected) & bit) == 0) {
		if (granted)
			r->votes_granted |= bit;
		else
			r->votes_rejected |= bit;
	}
	unsigned yes = 0, no = 0;
	for (unsigned i = 0; i < r->peer_count; i++) {
		if (!is_voter(&r->config, r->peers[i].id))
			continue;
		yes += (r->votes_granted >> i) & 1;
		no += (r->votes_rejected >> i) & 1;
	}
	unsigned q = quorum_of(voter_count(r));
	if (yes >= q)
		return 1;
	if (no >= q)
		return -1;
	return 0;
}

static ballot_config config_at(const ballot_raft *r, uint64_t index);

/* Whether this node may stand for election: a voter of its latest configuration may, and so
 * may a voter whose removal is in its log but not yet committed. It may hold the longest
 * log, which the others need a vote from; it counts votes under the configuration without
 * itself, and as leader commits its removal and steps down (thesis §4.2.2). Were it to wait,
 * the others could wait on its vote forever. */
static bool may_campaign(const ballot_raft *r)
{
	if (self_is_voter(r))
		return true;
	if (r->commit >= raft_log_last(&r->log))
		return false;
	ballot_config committed = config_at(r, r->commit);
	return is_voter(&committed, r->id);
}

static void campaign(ballot_raft *r, bool transfer)
{
	if (!may_campaign(r))
		return;
	bool pre = r->opts.pre_vote && !transfer;
	if (r->quick_campaigns > 0)
		r->quick_campaigns--;
	if (pre)
		become_precandidate(r);
	else
		become_candidate(r);
	if (tally(r, r->id, true) == 1) {
		/* A single voter wins alone. */
		if (pre) {
			become_candidate(r);
			tally(r, r->id, true);
		}
		become_leader(r);
		return;
	}
	send_vote_requests(r, pre, transfer);
}

/* Whether this node would grant a (pre-)vote to m, as far as logs and votes go. */
static bool can_grant(const ballot_raft *r, const ballot_msg *m)
{
	bool pre = m->type == BALLOT_MSG_PREVOTE;
	bool free_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
			 (pre && m->term > r->term);
	if (CANARY(r, BALLOT_CANARY_DOUBLE_VOTE) && !pre)
		free_vote = true;
	uint64_t last_term = raft_log_last_term(&r->log);
	/* Raft §5.4.1: grant only to a candidate whose log is at least as up to date. */
	bool up_to_date = m->last_term > last_term ||
			  (m->last_term == last_term && m->last_index >= raft_log_last(&r->log));
	return free_vote && up_to_date;
}

static void handle_vote_request(ballot_raft *r, const ballot_msg *m)
{
	bool pre = m->type == BALLOT_MSG_PREVOTE;
	bool grant = can_grant(r, m);
	ballot_msg *resp = msg_new(r, pre ? BALLOT_MSG_PREVOTE_RESP : BALLOT_MSG_VOTE_RESP, m->from);
	if (grant && !pre) {
		r->vote = m->from;
		r->election_elapsed = 0;
	}
	if (resp == NULL)
		return;
	/* A granted pre-vote answers in the term asked about; a refusal in our own term. */
	resp->term = grant && pre ? m->term : r->term;
	resp->success = grant;
	send(r, resp);
}

static void handle_vote_response(ballot_raft *r, const ballot_msg *m)
{
	bool pre = m->type == BALLOT_MSG_PREVOTE_RESP;
	if ((pre && r->role != BALLOT_ROLE_PRECANDIDATE) || (!pre && r->role != BALLOT_ROLE_CANDIDATE))
		return;
	int outcome = tally(r, m->from, m->success);
	if (outcome < 0) {
		become_follower(r, r->term, 0);
		return;
	}
	if (outcome == 0)
		return;
	if (pre) {
		become_candidate(r);
		if (tally(r, r->id, true) == 1) {
			become_leader(r);
			return;
		}
		send_vote_requests(r, false, false);
		return;
	}
	become_leader(r);
}

/* ---- replication: the leader's side ------------------------------------------------- */

static void send_snapshot_chunk(ballot_raft *r, progress *pr);
static void trim_step(ballot_raft *r);

/* Builds an append of entries from pr->next on (up to the batch limits). */
static ballot_msg *build_append(ballot_raft *r, progress *pr, bool with_entries)
{
	uint64_t prev = pr->next - 1;
	ballot_msg *m = msg_new(r, BALLOT_MSG_APPEND, pr->id);
	if (m == NULL)
		return NULL;
	m->prev_index = prev;
	m->prev_term = raft_log_term(&r->log, prev);
	m->commit = r->commit;
	uint64_t last = raft_log_last(&r->log);
	if (!with_entries || pr->next > last)
		return m;
	size_t n = 0, bytes = 0;
	while (pr->next + n <= last && n < BALLOT_RAFT_BATCH_ENTRIES_MAX) {
		size_t b = entry_bytes(raft_log_get(&r->log, pr->next + n));
		if (n > 0 && bytes + b > r->opts.batch_bytes)
			break;
		bytes += b;
		n++;
	}
	m->entries = malloc(n * sizeof *m->entries);
	if (m->entries == NULL) {
		ballot_msg_free(m);
		r->dropped++;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		m->entries[i] = *raft_log_get(&r->log, pr->next + i);
		ballot_rbuf_ref(m->entries[i].data);
	}
	m->entry_count = n;
	return m;
}

/* Sends what this follower needs next, if its window allows. */
static void send_append_ex(ballot_raft *r, progress *pr, bool allow_empty);

static void send_append(ballot_raft *r, progress *pr)
{
	send_append_ex(r, pr, false);
}

/* allow_empty: in REPLICATE, send an empty append at next - 1 even with nothing new, so a
 * follower that lost an append rejects it and backtracking starts (as etcd does on a
 * heartbeat response from a follower that is behind). */
static void send_append_ex(ballot_raft *r, progress *pr, bool allow_empty)
{
	if (pr->id == r->id)
		return;
	if (pr->state == PROGRESS_SNAPSHOT) {
		send_snapshot_chunk(r, pr);
		return;
	}
	if (pr->state == PROGRESS_PROBE && pr->probe_sent)
		return;
	if (pr->state == PROGRESS_REPLICATE && pr->inflight >= r->opts.inflight_max)
		return;
	uint64_t prev = pr->next - 1;
	if (prev < r->log.snap_index) {
		/* What it needs is compacted away: send the snapshot instead (Raft §7). */
		if (r->snapshot == NULL) {
			r->dropped++;
			return;
		}
		pr->state = PROGRESS_SNAPSHOT;
		snapshot_unref(pr->snap);
		pr->snap = snapshot_ref(r->snapshot);
		pr->snap_offset = 0;
		pr->snap_expect = 0;
		pr->snap_chunk_out = false;
		send_snapshot_chunk(r, pr);
		return;
	}
	if (pr->state == PROGRESS_REPLICATE && pr->next > raft_log_last(&r->log) && !allow_empty)
		return; /* nothing new; heartbeats carry the commit index */
	ballot_msg *m = build_append(r, pr, true);
	if (m == NULL)
		return;
	if (pr->state == PROGRESS_REPLICATE && m->entry_count > 0) {
		uint64_t last_sent = m->entries[m->entry_count - 1].index;
		pr->next = last_sent + 1;
		inflight_add(pr, last_sent);
	} else if (pr->state == PROGRESS_PROBE) {
		pr->probe_sent = true;
	}
	send(r, m);
}

static void broadcast_append(ballot_raft *r)
{
	for (unsigned i = 0; i < r->peer_count; i++)
		send_append(r, &r->peers[i]);
}

/* Heartbeats: empty appends at a position the follower is known to hold, carrying the
 * commit index it can safely apply and the current ReadIndex round. */
static void broadcast_heartbeat(ballot_raft *r)
{
	for (unsigned i = 0; i < r->peer_count; i++) {
		progress *pr = &r->peers[i];
		if (pr->id == r->id)
			continue;
		ballot_msg *m = msg_new(r, BALLOT_MSG_APPEND, pr->id);
		if (m == NULL)
			continue;
		uint64_t at = pr->match < r->log.snap_index ? r->log.snap_index : pr->match;
		if (at > raft_log_last(&r->log))
			at = raft_log_last(&r->log);
		m->prev_index = at;
		m->prev_term = raft_log_term(&r->log, at);
		m->commit = r->commit < at ? r->commit : at;
		m->read_round = r->read_round;
		m->heartbeat = true;
		send(r, m);
	}
}

/* ---- commit ------------------------------------------------------------------------- */

static void release_reads(ballot_raft *r);
static void start_read_round(ballot_raft *r);
static void send_timeout_now(ballot_raft *r, uint64_t to);

/* The highest index a quorum of voters holds. */
static uint64_t quorum_match(const ballot_raft *r)
{
	uint64_t matches[BALLOT_RAFT_MEMBERS_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < r->peer_count; i++) {
		if (is_voter(&r->config, r->peers[i].id))
			matches[n++] = r->peers[i].match;
	}
	if (n == 0)
		return 0;
	for (unsigned i = 1; i < n; i++) { /* descending insertion sort: n <= 16 */
		uint64_t v = matches[i];
		unsigned j = i;
		for (; j > 0 && matches[j - 1] < v; j--)
			matches[j] = matches[j - 1];
		matches[j] = v;
	}
	if (CANARY(r, BALLOT_CANARY_COMMIT_WITHOUT_MAJORITY))
		return matches[0];
	return matches[quorum_of(n) - 1];
}

/* Advances the commit index if a quorum holds a newer entry of this term. */
static bool maybe_commit(ballot_raft *r)
{
	BALLOT_ASSERT(r->role == BALLOT_ROLE_LEADER);
	uint64_t n = quorum_match(r);
	if (n <= r->commit)
		return false;
	/* Raft §5.4.2: a leader never commits an entry from an earlier term by counting
	 * replicas; only entries of its own term, which commit everything before them. */
	if (raft_log_term(&r->log, n) != r->term)
		return false;
	for (uint64_t i = r->commit + 1; i <= n; i++) {
		size_t b = entry_bytes(raft_log_get(&r->log, i));
		r->uncommitted_bytes -= b < r->uncommitted_bytes ? b : r->uncommitted_bytes;
	}
	r->commit = n;
	if (!r->committed_in_term && raft_log_term(&r->log, n) == r->term) {
		r->committed_in_term = true;
		start_read_round(r);
	}
	if (r->pending_config_index != 0 && r->pending_config_index <= n)
		r->pending_config_index = 0;
	return true;
}

/* After the commit index moved: a leader no longer in the configuration steps down once
 * its removal is committed (thesis §4.2.2). */
static void after_commit(ballot_raft *r)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return;
	if (ballot_config_find(&r->config, r->id) == NULL && r->pending_config_index == 0) {
		become_follower(r, r->term, 0);
		return;
	}
	broadcast_append(r);
}

/* ---- the leader handles responses --------------------------------------------------- */

/* A follower refused an append: back up (thesis §5.3 fast backtracking: skip the
 * follower's whole conflicting term) and probe again. */
static void handle_append_reject(ballot_raft *r, progress *pr, const ballot_msg *m)
{
	if (m->prev_index == pr->match && m->conflict_term == 0 && m->conflict_index >= 1 &&
	    m->conflict_index <= pr->match) {
		/* An append at its match (which it acknowledged, durably, before this append
		 * left) refused because its log now ends before it: it lost its disk. Send it
		 * everything again from where its log ends. Commit never goes back; only this
		 * follower's count is corrected (a delayed old refusal that happens to match
		 * costs one probe, then its acknowledgement restores the count). */
		pr->match = m->conflict_index - 1;
		pr->next = m->conflict_index;
		become_probe(pr);
		send_append(r, pr);
		return;
	}
	if (m->prev_index <= pr->match)
		return; /* stale rejection */
	if (pr->state == PROGRESS_PROBE && m->prev_index != pr->next - 1)
		return; /* not the probe we wait for (a duplicate, or an old one) */
	uint64_t next = m->conflict_index;
	if (m->conflict_term != 0) {
		uint64_t ours = raft_log_last_of_term(&r->log, m->conflict_term, m->prev_index);
		if (ours != 0)
			next = ours + 1;
	}
	if (next > m->prev_index)
		next = m->prev_index;
	if (next <= pr->match)
		next = pr->match + 1;
	pr->next = next;
	become_probe(pr);
	send_append(r, pr);
}

/* A follower accepted an append (or a heartbeat): record its progress, commit what a
 * quorum holds, and send what it needs next. */
static void handle_append_accept(ballot_raft *r, progress *pr, const ballot_msg *m)
{
	if (m->match_index > raft_log_last(&r->log)) {
		r->dropped++; /* it claims entries we never sent: not to be believed */
		return;
	}
	bool progressed = m->match_index > pr->match;
	if (progressed) {
		pr->match = m->match_index;
		if (pr->next <= pr->match)
			pr->next = pr->match + 1;
	}
	if (pr->state == PROGRESS_PROBE && m->match_index >= pr->match) {
		/* The probe found where the logs agree: pipeline from there (etcd does too). */
		become_replicate(pr);
	} else if (pr->state == PROGRESS_REPLICATE && progressed) {
		inflight_free_to(pr, pr->match);
	} else if (m->heartbeat && pr->state == PROGRESS_REPLICATE && pr->match < raft_log_last(&r->log)) {
		/* A heartbeat answered, no progress, and behind: an append may have been lost.
		 * Make room and send one that the follower will either extend or reject. Only
		 * heartbeat answers do this, so it happens at most once per heartbeat. */
		if (pr->inflight >= r->opts.inflight_max)
			inflight_free_to(pr, pr->inflight_last[pr->inflight_head]);
		send_append_ex(r, pr, true);
		return;
	}
	if (progressed && maybe_commit(r)) {
		after_commit(r);
		if (r->role != BALLOT_ROLE_LEADER)
			return;
	}
	if (r->transfer_target == pr->id && pr->match == raft_log_last(&r->log))
		send_timeout_now(r, pr->id);
	send_append(r, pr);
}

static void handle_append_response(ballot_raft *r, const ballot_msg *m)
{
	progress *pr = peer(r, m->from);
	if (pr == NULL || pr->id == r->id) {
		r->dropped++; /* not a member: no progress to record */
		return;
	}
	pr->recent_active = true;
	if (m->read_round > pr->read_round)
		pr->read_round = m->read_round;
	if (pr->state == PROGRESS_SNAPSHOT) {
		/* A snapshot is on its way: heartbeats it rejects (it lacks the log start) must
		 * not restart the transfer; only the snapshot's own responses move it. */
		if (m->success && m->match_index > pr->match && m->match_index <= raft_log_last(&r->log))
			pr->match = m->match_index;
	} else if (m->success) {
		handle_append_accept(r, pr, m);
	} else {
		handle_append_reject(r, pr, m);
	}
	release_reads(r);
}

static void handle_snapshot_response(ballot_raft *r, const ballot_msg *m)
{
	progress *pr = peer(r, m->from);
	if (pr == NULL || pr->id == r->id)
		return;
	pr->recent_active = true;
	if (pr->state != PROGRESS_SNAPSHOT)
		return;
	if (!m->success) {
		/* It lost track: start over from the first chunk at the next heartbeat. */
		pr->snap_offset = 0;
		pr->snap_chunk_out = false;
		return;
	}
	if (m->done) {
		if (m->match_index > pr->match)
			pr->match = m->match_index;
		pr->next = pr->match + 1;
		become_probe(pr);
		if (maybe_commit(r))
			after_commit(r);
		if (r->role == BALLOT_ROLE_LEADER)
			send_append(r, pr);
		return;
	}
	if (m->offset <= pr->snap_offset)
		return; /* a duplicate or an old answer: no news */
	pr->snap_offset = m->offset;
	if (m->offset < pr->snap_expect)
		return; /* progress, but the chunk in flight is still due */
	/* One chunk in flight at a time; the next leaves when the last is acknowledged. */
	pr->snap_chunk_out = false;
	send_snapshot_chunk(r, pr);
}

static void send_snapshot_chunk(ballot_raft *r, progress *pr)
{
	const raft_snapshot *snap = pr->snap;
	if (pr->snap_chunk_out || snap == NULL)
		return;
	ballot_msg *m = msg_new(r, BALLOT_MSG_SNAPSHOT, pr->id);
	if (m == NULL)
		return;
	size_t total = snap->data->len;
	size_t off = pr->snap_offset < total ? (size_t)pr->snap_offset : total;
	size_t len = total - off;
	if (len > r->opts.snapshot_chunk_bytes)
		len = r->opts.snapshot_chunk_bytes;
	m->snap_index = snap->index;
	m->snap_term = snap->term;
	m->offset = off;
	m->done = off + len == total;
	m->chunk = ballot_rbuf_new(snap->data->data + off, len);
	if (off == 0) {
		m->snap_config = malloc(sizeof *m->snap_config);
		if (m->snap_config != NULL)
			*m->snap_config = snap->config;
	}
	if (m->chunk == NULL || (off == 0 && m->snap_config == NULL)) {
		ballot_msg_free(m);
		r->dropped++;
		return;
	}
	pr->snap_chunk_out = true;
	pr->snap_expect = off + len;
	send(r, m);
}

/* ---- the follower's side ------------------------------------------------------------ */

/* Checks an append's shape before trusting it: entries contiguous after prev_index, terms
 * non-decreasing and not above the message's term. */
static bool append_well_formed(const ballot_msg *m)
{
	if (m->entry_count > BALLOT_RAFT_BATCH_ENTRIES_MAX || m->prev_term > m->term)
		return false;
	uint64_t term = m->prev_term;
	for (size_t i = 0; i < m->entry_count; i++) {
		const ballot_entry *e = &m->entries[i];
		if (e->index != m->prev_index + 1 + i || e->term < term || e->term > m->term)
			return false;
		if (e->type < BALLOT_ENTRY_NORMAL || e->type > BALLOT_ENTRY_NOOP)
			return false;
		term = e->term;
	}
	return true;
}

static void reply_append(ballot_raft *r, const ballot_msg *m, bool success, uint64_t match)
{
	ballot_msg *resp = msg_new(r, BALLOT_MSG_APPEND_RESP, m->from);
	if (resp == NULL)
		return;
	resp->success = success;
	resp->match_index = match;
	resp->prev_index = m->prev_index;
	resp->read_round = m->read_round;
	resp->heartbeat = m->heartbeat;
	if (!success) {
		uint64_t last = raft_log_last(&r->log);
		if (m->prev_index > last) {
			resp->conflict_index = last + 1;
		} else {
			resp->conflict_term = raft_log_term(&r->log, m->prev_index);
			resp->conflict_index = raft_log_term_start(&r->log, m->prev_index, r->commit + 1);
		}
	}
	send(r, resp);
}

static void handle_append(ballot_raft *r, const ballot_msg *m)
{
	if (!append_well_formed(m)) {
		r->dropped++;
		return;
	}
	if (m->prev_index < r->commit) {
		/* Everything up to commit is settled; tell the leader where we stand. */
		reply_append(r, m, true, r->commit);
		return;
	}
	if (raft_log_term(&r->log, m->prev_index) != m->prev_term || m->prev_index > raft_log_last(&r->log)) {
		reply_append(r, m, false, 0);
		return;
	}
	bool truncated = false;
	for (size_t i = 0; i < m->entry_count; i++) {
		const ballot_entry *e = &m->entries[i];
		if (e->index <= raft_log_last(&r->log)) {
			if (raft_log_term(&r->log, e->index) == e->term)
				continue;
			/* Raft §5.3: a conflicting entry and all that follow it go. Committed
			 * entries never conflict (Leader Completeness). */
			BALLOT_ASSERT(e->index > r->commit);
			raft_log_truncate_after(&r->log, e->index - 1);
			truncated = true;
		}
		if (append_entry(r, e) != 0) {
			r->dropped++;
			return; /* no reply: the leader retries */
		}
	}
	if (truncated)
		recompute_config(r);
	uint64_t match = m->prev_index + m->entry_count;
	uint64_t commit = m->commit < match ? m->commit : match;
	if (commit > r->commit)
		r->commit = commit;
	reply_append(r, m, true, match);
}

static void reply_snapshot(ballot_raft *r, const ballot_msg *m, bool success, bool done, uint64_t offset,
			   uint64_t match)
{
	ballot_msg *resp = msg_new(r, BALLOT_MSG_SNAPSHOT_RESP, m->from);
	if (resp == NULL)
		return;
	resp->success = success;
	resp->done = done;
	resp->offset = offset;
	resp->match_index = match;
	send(r, resp);
}

/* Whether a configuration from a peer is one we could have made: within the member limit,
 * positive unique ids, known roles. */
static bool config_valid(const ballot_config *c)
{
	if (c->count > BALLOT_RAFT_MEMBERS_MAX)
		return false;
	for (unsigned i = 0; i < c->count; i++) {
		const ballot_member *m = &c->members[i];
		if (m->id == 0 || (m->role != BALLOT_MEMBER_VOTER && m->role != BALLOT_MEMBER_LEARNER))
			return false;
		if (memchr(m->address, '\0', sizeof m->address) == NULL)
			return false;
		for (unsigned k = 0; k < i; k++) {
			if (c->members[k].id == m->id)
				return false;
		}
	}
	return true;
}

/* Adds a chunk to the snapshot being received. Returns 0 (added), 1 (already held),
 * BALLOT_ECORRUPT (an impossible configuration), or another negative code (out of order,
 * too large: the leader starts over). */
static int assemble_chunk(ballot_raft *r, const ballot_msg *m)
{
	if (m->offset == 0) {
		if (m->snap_config == NULL)
			return BALLOT_EINVAL;
		if (!config_valid(m->snap_config))
			return BALLOT_ECORRUPT;
		r->in_snap_active = true;
		r->in_snap_index = m->snap_index;
		r->in_snap_term = m->snap_term;
		r->in_snap_config = *m->snap_config;
		r->in_snap_len = 0;
	}
	if (!r->in_snap_active || m->snap_index != r->in_snap_index || m->offset > r->in_snap_len)
		return BALLOT_EINVAL;
	if (m->offset < r->in_snap_len)
		return 1; /* a chunk we hold already (a duplicate or a resend) */
	size_t len = m->chunk != NULL ? m->chunk->len : 0;
	if (len > BALLOT_RAFT_SNAPSHOT_BYTES_MAX - r->in_snap_len)
		return BALLOT_ELIMIT;
	if (r->in_snap_len + len > r->in_snap_cap) {
		size_t cap = r->in_snap_cap ? r->in_snap_cap : 4096;
		while (cap < r->in_snap_len + len)
			cap *= 2;
		unsigned char *buf = realloc(r->in_snap_buf, cap);
		if (buf == NULL)
			return BALLOT_ENOMEM;
		r->in_snap_buf = buf;
		r->in_snap_cap = cap;
	}
	if (len > 0)
		memcpy(r->in_snap_buf + r->in_snap_len, m->chunk->data, len);
	r->in_snap_len += len;
	return 0;
}

/* Installs the assembled snapshot: the log restarts after it (Raft §7). */
static void install_snapshot(ballot_raft *r)
{
	ballot_rbuf *data = ballot_rbuf_new(r->in_snap_buf, r->in_snap_len);
	if (data == NULL) {
		r->dropped++;
		return;
	}
	raft_snapshot *snap = snapshot_new(r->in_snap_index, r->in_snap_term, &r->in_snap_config, data);
	if (snap == NULL) {
		ballot_rbuf_unref(data);
		r->dropped++;
		return;
	}
	raft_log_reset(&r->log, r->in_snap_index, r->in_snap_term);
	r->commit = r->in_snap_index;
	r->snap_config = r->in_snap_config;
	snapshot_unref(r->snapshot);
	r->snapshot = snap;
	ballot_rbuf_unref(r->install_data);
	r->install_data = data;
	r->install_pending = true;
	recompute_config(r);
}

static void handle_snapshot(ballot_raft *r, const ballot_msg *m)
{
	if (m->snap_index <= r->commit) {
		reply_snapshot(r, m, true, true, 0, r->commit);
		return;
	}
	int rc = assemble_chunk(r, m);
	if (rc == BALLOT_ECORRUPT) {
		r->dropped++; /* malformed: no answer, nothing installed */
		return;
	}
	if (rc < 0) {
		r->in_snap_active = false;
		reply_snapshot(r, m, false, false, 0, 0);
		return;
	}
	if (rc > 0 || !m->done) {
		reply_snapshot(r, m, true, false, r->in_snap_len, 0);
		return;
	}
	r->in_snap_active = false;
	if (raft_log_term(&r->log, r->in_snap_index) == r->in_snap_term &&
	    r->in_snap_index <= raft_log_last(&r->log)) {
		/* We hold that entry already: the snapshot only tells us it is committed. */
		r->commit = r->in_snap_index;
	} else {
		install_snapshot(r);
	}
	reply_snapshot(r, m, true, true, 0, r->in_snap_index);
}

/* ---- reads -------------------------------------------------------------------------- */

/* Whether the leader's lease still holds: a quorum acknowledged a round that started less
 * than half an election timeout ago (followers will not elect anyone else before a full
 * timeout; the half is margin for clock drift between nodes). */
static bool lease_valid(const ballot_raft *r)
{
	return r->opts.lease_reads && r->opts.check_quorum && r->ticks < r->lease_until_tick;
}

/* Starts a heartbeat round confirming leadership for every read without one. */
static void start_read_round(ballot_raft *r)
{
	bool need = false;
	for (size_t i = 0; i < r->read_count; i++) {
		pending_read *pr = &r->reads[i];
		if (pr->round != 0)
			continue;
		pr->index = r->commit;
		pr->round = r->read_round + 1;
		pr->round_tick = r->ticks;
		need = true;
	}
	if (!need)
		return;
	r->read_round++;
	broadcast_heartbeat(r);
	release_reads(r);
}

/* Answers the reads whose round a quorum of voters has acknowledged, in order. */
static void release_reads(ballot_raft *r)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return;
	size_t done = 0;
	while (done < r->read_count) {
		pending_read *pr = &r->reads[done];
		if (pr->round == 0)
			break;
		unsigned acks = 0;
		for (unsigned i = 0; i < r->peer_count; i++) {
			const progress *p = &r->peers[i];
			if (!is_voter(&r->config, p->id))
				continue;
			acks += p->id == r->id || p->read_round >= pr->round;
		}
		if (acks < quorum_of(voter_count(r)))
			break;
		uint64_t until = pr->round_tick + r->opts.election_ticks / 2;
		if (until > r->lease_until_tick)
			r->lease_until_tick = until;
		push_read_state(r, pr->request, pr->index, true);
		done++;
	}
	if (done > 0) {
		memmove(r->reads, r->reads + done, (r->read_count - done) * sizeof *r->reads);
		r->read_count -= done;
	}
}

int ballot_raft_read(ballot_raft *r, uint64_t request)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return BALLOT_ENOTLEADER;
	if (CANARY(r, BALLOT_CANARY_READ_WITHOUT_CONFIRM) || (r->committed_in_term && lease_valid(r))) {
		push_read_state(r, request, r->commit, true);
		return 0;
	}
	if (r->read_count >= BALLOT_RAFT_READS_MAX)
		return BALLOT_ELIMIT;
	if (ballot_array_reserve(&r->reads, &r->read_cap, r->read_count, sizeof *r->reads, 64) != 0)
		return BALLOT_ENOMEM;
	/* Thesis §6.4: the read index is the commit index once this leader has committed an
	 * entry of its term; until then the read waits with round 0. */
	r->reads[r->read_count++] = (pending_read){.request = request};
	if (r->committed_in_term)
		start_read_round(r);
	return 0;
}

/* ---- leadership transfer ------------------------------------------------------------ */

static void send_timeout_now(ballot_raft *r, uint64_t to)
{
	send(r, msg_new(r, BALLOT_MSG_TIMEOUT_NOW, to));
}

int ballot_raft_transfer(ballot_raft *r, uint64_t to)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return BALLOT_ENOTLEADER;
	if (to == r->id)
		return 0;
	if (!is_voter(&r->config, to))
		return BALLOT_EINVAL;
	progress *pr = peer(r, to);
	BALLOT_ASSERT(pr != NULL);
	r->transfer_target = to;
	r->transfer_elapsed = 0;
	if (pr->match == raft_log_last(&r->log))
		send_timeout_now(r, to);
	else
		send_append(r, pr);
	return 0;
}

/* ---- proposals and membership ------------------------------------------------------- */

static int propose_entry(ballot_raft *r, uint8_t type, ballot_rbuf *data, uint64_t *index, uint64_t *term)
{
	size_t bytes = data != NULL ? data->len : 0;
	if (bytes > BALLOT_RAFT_ENTRY_BYTES_MAX)
		return BALLOT_ELIMIT;
	if (r->uncommitted_bytes > 0 && r->uncommitted_bytes + bytes > r->opts.uncommitted_bytes_max)
		return BALLOT_ELIMIT;
	ballot_entry e = {.term = r->term, .index = raft_log_last(&r->log) + 1, .type = type, .data = data};
	int rc = append_entry(r, &e);
	if (rc != 0)
		return rc;
	r->uncommitted_bytes += bytes;
	if (index != NULL)
		*index = e.index;
	if (term != NULL)
		*term = e.term;
	r->append_pending = true;
	return 0;
}

int ballot_raft_propose(ballot_raft *r, uint8_t type, ballot_rbuf *data, uint64_t *index, uint64_t *term)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return BALLOT_ENOTLEADER;
	if (r->transfer_target != 0)
		return BALLOT_EBUSY;
	if (type != BALLOT_ENTRY_NORMAL)
		return BALLOT_EINVAL; /* configurations go through add/promote/remove */
	return propose_entry(r, type, data, index, term);
}

/* Proposes `next` as the new configuration, one server changed at a time (thesis §4.1). */
static int propose_config(ballot_raft *r, const ballot_config *next)
{
	if (r->role != BALLOT_ROLE_LEADER)
		return BALLOT_ENOTLEADER;
	/* Only one change at a time, and not before this leader committed an entry of its
	 * term (the fix Ongaro posted to raft-dev in 2015 for single-server changes). */
	if (r->pending_config_index != 0 || !r->committed_in_term || r->transfer_target != 0)
		return BALLOT_EBUSY;
	unsigned char buf[BALLOT_CONFIG_ENCODED_MAX];
	size_t len = ballot_config_encode(next, buf);
	ballot_rbuf *data = ballot_rbuf_new(buf, len);
	if (data == NULL)
		return BALLOT_ENOMEM;
	uint64_t index;
	int rc = propose_entry(r, BALLOT_ENTRY_CONFIG, data, &index, NULL);
	ballot_rbuf_unref(data);
	if (rc == 0)
		r->pending_config_index = index;
	return rc;
}

int ballot_raft_add_learner(ballot_raft *r, uint64_t id, const char *address)
{
	if (id == 0 || ballot_config_find(&r->config, id) != NULL)
		return BALLOT_EINVAL;
	if (r->config.count >= BALLOT_RAFT_MEMBERS_MAX)
		return BALLOT_ELIMIT;
	if (address != NULL && strlen(address) >= BALLOT_ADDRESS_MAX)
		return BALLOT_EINVAL;
	ballot_config next = r->config;
	ballot_member *m = &next.members[next.count++];
	memset(m, 0, sizeof *m);
	m->id = id;
	m->role = BALLOT_MEMBER_LEARNER;
	if (address != NULL)
		strcpy(m->address, address);
	return propose_config(r, &next);
}

int ballot_raft_promote(ballot_raft *r, uint64_t id)
{
	const ballot_member *found = ballot_config_find(&r->config, id);
	if (found == NULL || found->role != BALLOT_MEMBER_LEARNER)
		return BALLOT_EINVAL;
	/* A learner votes only once it holds what is committed: promoting one that lags
	 * would make it a voter that cannot help any quorum for a while. */
	const progress *pr = peer(r, id);
	if (r->role == BALLOT_ROLE_LEADER && (pr == NULL || pr->match < r->commit))
		return BALLOT_EBUSY;
	ballot_config next = r->config;
	((ballot_member *)ballot_config_find(&next, id))->role = BALLOT_MEMBER_VOTER;
	return propose_config(r, &next);
}

int ballot_raft_remove(ballot_raft *r, uint64_t id)
{
	const ballot_member *found = ballot_config_find(&r->config, id);
	if (found == NULL)
		return BALLOT_EINVAL;
	if (found->role == BALLOT_MEMBER_VOTER && voter_count(r) == 1)
		return BALLOT_EINVAL;
	ballot_config next = {0};
	for (unsigned m = 0; m < r->config.count; m++) {
		if (r->config.members[m].id != id)
			next.members[next.count++] = r->config.members[m];
	}
	return propose_config(r, &next);
}

/* ---- ticks and messages ------------------------------------------------------------- */

static void tick_leader(ballot_raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->transfer_target != 0 && ++r->transfer_elapsed >= r->opts.election_ticks) {
		r->transfer_target = 0; /* thesis §3.10: give up after an election timeout */
		r->transfer_elapsed = 0;
	}
	if (r->election_elapsed >= r->opts.election_ticks) {
		r->election_elapsed = 0;
		if (r->opts.check_quorum) {
			/* Thesis §6.2: a leader that has not heard from a quorum steps down. */
			unsigned active = 0;
			for (unsigned i = 0; i < r->peer_count; i++) {
				progress *pr = &r->peers[i];
				if (is_voter(&r->config, pr->id) && (pr->id == r->id || pr->recent_active))
					active++;
				pr->recent_active = pr->id == r->id;
			}
			if (active < quorum_of(voter_count(r))) {
				become_follower(r, r->term, 0);
				return;
			}
		}
	}
	if (r->heartbeat_elapsed >= r->opts.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		broadcast_heartbeat(r);
		/* Probes that got no answer are retried on each heartbeat. */
		for (unsigned i = 0; i < r->peer_count; i++) {
			progress *pr = &r->peers[i];
			if (pr->state == PROGRESS_PROBE)
				pr->probe_sent = false;
			if (pr->state == PROGRESS_SNAPSHOT)
				pr->snap_chunk_out = false;
			send_append(r, pr);
		}
	}
}

void ballot_raft_tick(ballot_raft *r)
{
	r->ticks++;
	trim_step(r);
	if (r->role == BALLOT_ROLE_LEADER) {
		tick_leader(r);
		return;
	}
	r->election_elapsed++;
	if (r->election_elapsed >= r->randomized_timeout) {
		r->election_elapsed = 0;
		campaign(r, false);
	}
}

void ballot_raft_leader_lost(ballot_raft *r, uint64_t leader)
{
	if (r->role != BALLOT_ROLE_FOLLOWER || leader == 0 || r->leader != leader || !may_campaign(r))
		return;
	/* Its lease is over here, and an election is due after one to five heartbeat
	 * intervals, staggered at random so the followers that saw the same close seldom
	 * split the vote; if they do, they retry as soon (QUICK_CAMPAIGNS). */
	r->leader = 0;
	r->election_elapsed = 0;
	r->quick_campaigns = QUICK_CAMPAIGNS;
	reset_randomized_timeout(r);
}

static bool is_vote_request(uint8_t type)
{
	return type == BALLOT_MSG_PREVOTE || type == BALLOT_MSG_VOTE;
}

static bool from_leader(uint8_t type)
{
	return type == BALLOT_MSG_APPEND || type == BALLOT_MSG_SNAPSHOT || type == BALLOT_MSG_TIMEOUT_NOW;
}

/* Handles a message from a higher term; returns false if it is to be ignored. */
static bool step_higher_term(ballot_raft *r, const ballot_msg *m)
{
	if (is_vote_request(m->type)) {
		/* Thesis §4.2.3 and §9.6: while we hear from a live leader, a vote request
		 * (e.g. from a node partitioned away) does not disrupt us; a transfer does. */
		bool in_lease = r->opts.check_quorum && r->leader != 0 &&
				r->election_elapsed < r->opts.election_ticks;
		if (in_lease && !m->transfer)
			return false;
	}
	if (m->type == BALLOT_MSG_PREVOTE)
		return true; /* answering a pre-vote changes no term */
	if (m->type == BALLOT_MSG_PREVOTE_RESP && m->success)
		return true; /* granted pre-votes carry the term we asked about */
	become_follower(r, m->term, from_leader(m->type) ? m->from : 0);
	return true;
}

/* Handles a message from a lower term; the message itself is otherwise ignored. */
static void step_lower_term(ballot_raft *r, const ballot_msg *m)
{
	if ((r->opts.check_quorum || r->opts.pre_vote) && from_leader(m->type)) {
		/* A stale leader (it was partitioned away) learns our term and steps down;
		 * without this, pre-vote and check-quorum could leave it stuck. */
		ballot_msg *resp = msg_new(r, BALLOT_MSG_APPEND_RESP, m->from);
		send(r, resp);
	} else if (m->type == BALLOT_MSG_PREVOTE) {
		ballot_msg *resp = msg_new(r, BALLOT_MSG_PREVOTE_RESP, m->from);
		if (resp != NULL)
			resp->success = false;
		send(r, resp);
	}
}

static void step_leader(ballot_raft *r, const ballot_msg *m)
{
	switch (m->type) {
	case BALLOT_MSG_APPEND_RESP:
		handle_append_response(r, m);
		break;
	case BALLOT_MSG_SNAPSHOT_RESP:
		handle_snapshot_response(r, m);
		break;
	case BALLOT_MSG_APPEND:
	case BALLOT_MSG_SNAPSHOT:
		/* Election Safety says another leader of our term cannot be: the message is
		 * forged or broken. Drop it; the simulator's checks catch the real thing. */
		r->dropped++;
		break;
	default:
		break;
	}
}

static void step_follower(ballot_raft *r, const ballot_msg *m)
{
	switch (m->type) {
	case BALLOT_MSG_APPEND:
		heard_leader(r, m->from);
		handle_append(r, m);
		break;
	case BALLOT_MSG_SNAPSHOT:
		heard_leader(r, m->from);
		handle_snapshot(r, m);
		break;
	case BALLOT_MSG_TIMEOUT_NOW:
		campaign(r, true);
		break;
	default:
		break;
	}
}

static void step_candidate(ballot_raft *r, const ballot_msg *m)
{
	switch (m->type) {
	case BALLOT_MSG_PREVOTE_RESP:
	case BALLOT_MSG_VOTE_RESP:
		handle_vote_response(r, m);
		break;
	case BALLOT_MSG_APPEND:
	case BALLOT_MSG_SNAPSHOT:
		/* A leader of our term exists: follow it. */
		become_follower(r, r->term, m->from);
		step_follower(r, m);
		break;
	default:
		break;
	}
}

void ballot_raft_step(ballot_raft *r, const ballot_msg *m)
{
	if (m->from == 0 || m->from == r->id || m->to != r->id || m->type == 0 ||
	    m->type >= BALLOT_MSG_TYPE_COUNT_) {
		r->dropped++;
		return;
	}
	/* A malformed append is dropped before it can move our term. */
	if (m->type == BALLOT_MSG_APPEND && !append_well_formed(m)) {
		r->dropped++;
		return;
	}
	if (m->term > r->term && !step_higher_term(r, m))
		return;
	if (m->term < r->term) {
		step_lower_term(r, m);
		return;
	}
	if (is_vote_request(m->type)) {
		handle_vote_request(r, m);
		return;
	}
	switch (r->role) {
	case BALLOT_ROLE_LEADER:
		step_leader(r, m);
		break;
	case BALLOT_ROLE_CANDIDATE:
	case BALLOT_ROLE_PRECANDIDATE:
		step_candidate(r, m);
		break;
	case BALLOT_ROLE_FOLLOWER:
		step_follower(r, m);
		break;
	}
}

/* ---- ready and advance -------------------------------------------------------------- */

static ballot_hard_state hard_state(const ballot_raft *r)
{
	ballot_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->commit};
	if (CANARY(r, BALLOT_CANARY_FORGET_VOTE))
		hs.vote = 0;
	return hs;
}

static bool hs_equal(ballot_hard_state a, ballot_hard_state b)
{
	return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
}

/* The last index that may be handed out for applying. */
static uint64_t apply_limit(const ballot_raft *r)
{
	if (CANARY(r, BALLOT_CANARY_APPLY_BEFORE_COMMIT))
		return raft_log_last(&r->log);
	return r->commit;
}

bool ballot_raft_has_ready(const ballot_raft *r)
{
	if (r->ready_outstanding)
		return false;
	return !hs_equal(hard_state(r), r->prev_hs) || r->install_pending ||
	       r->log.unstable_from <= raft_log_last(&r->log) || r->msgs.count > 0 ||
	       r->msgs_after.count > 0 || r->read_state_count > 0 || apply_limit(r) > r->applied;
}

/* Copies entries [from, to] with a reference each. */
static ballot_entry *copy_entries(ballot_raft *r, uint64_t from, uint64_t to, size_t *count)
{
	*count = 0;
	if (to < from)
		return NULL;
	size_t n = (size_t)(to - from + 1);
	ballot_entry *out = malloc(n * sizeof *out);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = *raft_log_get(&r->log, from + i);
		ballot_rbuf_ref(out[i].data);
	}
	*count = n;
	return out;
}

void ballot_raft_ready_take(ballot_raft *r, ballot_raft_ready *rd)
{
	BALLOT_ASSERT(!r->ready_outstanding);
	if (r->append_pending && r->role == BALLOT_ROLE_LEADER)
		broadcast_append(r);
	r->append_pending = false;
	memset(rd, 0, sizeof *rd);
	r->ready_outstanding = true;
	rd->hard_state = hard_state(r);
	rd->hard_state_changed = !hs_equal(rd->hard_state, r->prev_hs);
	if (r->install_pending) {
		rd->has_snapshot = true;
		rd->snap_index = r->log.snap_index;
		rd->snap_term = r->log.snap_term;
		rd->snap_config = r->snap_config;
		rd->snap_data = r->install_data; /* the ready takes the core's reference */
		r->install_data = NULL;
		r->install_pending = false;
		r->ready_has_snapshot = true;
		if (r->applied < r->log.snap_index)
			r->applied = r->log.snap_index;
	}
	uint64_t last = raft_log_last(&r->log);
	if (r->log.unstable_from <= last) {
		rd->entries = copy_entries(r, r->log.unstable_from, last, &rd->entry_count);
		if (rd->entries != NULL)
			r->log.unstable_from = last + 1;
	}
	rd->messages = r->msgs.items;
	rd->message_count = r->msgs.count;
	rd->messages_after_persist = r->msgs_after.items;
	rd->message_after_persist_count = r->msgs_after.count;
	r->msgs = (ptr_vec){0};
	r->msgs_after = (ptr_vec){0};
	rd->reads = r->read_states;
	rd->read_count = r->read_state_count;
	r->read_states = NULL;
	r->read_state_count = r->read_state_cap = 0;
	uint64_t limit = apply_limit(r);
	if (limit > r->applied && r->applied >= r->log.snap_index) {
		rd->committed = copy_entries(r, r->applied + 1, limit, &rd->committed_count);
		if (rd->committed != NULL)
			r->applied = limit;
	}
	rd->role = r->role;
	rd->leader = r->leader;
}

static void free_entries(ballot_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++)
		ballot_rbuf_unref(entries[i].data);
	free(entries);
}

void ballot_raft_advance(ballot_raft *r, ballot_raft_ready *rd)
{
	BALLOT_ASSERT(r->ready_outstanding);
	r->ready_outstanding = false;
	r->ready_has_snapshot = false;
	r->prev_hs = rd->hard_state;
	if (rd->entry_count > 0) {
		const ballot_entry *last = &rd->entries[rd->entry_count - 1];
		/* Entries truncated since the ready was taken are not stable; the rest are. */
		if (raft_log_term(&r->log, last->index) == last->term && last->index > r->log.stable)
			r->log.stable = last->index;
	}
	ballot_rbuf_unref(rd->snap_data);
	free_entries(rd->entries, rd->entry_count);
	free_entries(rd->committed, rd->committed_count);
	trim_step(r);
	for (size_t i = 0; i < rd->message_count; i++)
		ballot_msg_free(rd->messages[i]);
	for (size_t i = 0; i < rd->message_after_persist_count; i++)
		ballot_msg_free(rd->messages_after_persist[i]);
	free(rd->messages);
	free(rd->messages_after_persist);
	free(rd->reads);
	memset(rd, 0, sizeof *rd);
	if (r->role == BALLOT_ROLE_LEADER) {
		progress *self = peer(r, r->id);
		if (self != NULL && r->log.stable > self->match) {
			self->match = r->log.stable;
			if (maybe_commit(r))
				after_commit(r);
		}
	}
}

/* The configuration as of index (log start < index <= last): the latest config entry at or
 * before it, else the log start's. */
static ballot_config config_at(const ballot_raft *r, uint64_t index)
{
	ballot_config c = r->snap_config;
	for (uint64_t i = raft_log_config_before(&r->log, index); i > r->log.snap_index;
	     i = raft_log_config_before(&r->log, i - 1)) {
		const ballot_entry *e = raft_log_get(&r->log, i);
		if (e->data != NULL && ballot_config_decode(e->data->data, e->data->len, &c, NULL) == 0)
			break;
	}
	return c;
}

int ballot_raft_config_at(const ballot_raft *r, uint64_t index, ballot_config *out)
{
	if (index <= r->log.snap_index || index > raft_log_last(&r->log))
		return BALLOT_EINVAL;
	*out = config_at(r, index);
	return 0;
}

/* Drops log entries up to trim_to, at most compact_step_entries of them (0: all): dropping
 * a hundred thousand entries at once frees as many buffers, tens of milliseconds. */
static void trim_step(ballot_raft *r)
{
	if (r->trim_to <= r->log.snap_index)
		return;
	uint64_t cut = r->trim_to;
	uint64_t step = r->opts.compact_step_entries;
	if (step != 0 && cut - r->log.snap_index > step)
		cut = r->log.snap_index + step;
	if (cut > raft_log_last(&r->log))
		return;
	r->snap_config = config_at(r, cut);
	raft_log_compact(&r->log, cut);
}

int ballot_raft_compact(ballot_raft *r, uint64_t index, ballot_rbuf *data)
{
	uint64_t latest = r->snapshot != NULL ? r->snapshot->index : r->log.snap_index;
	if (index > r->applied || index > r->commit || index <= latest || index > raft_log_last(&r->log) ||
	    data == NULL)
		return BALLOT_EINVAL;
	ballot_config c = config_at(r, index);
	raft_snapshot *snap = snapshot_new(index, raft_log_term(&r->log, index), &c, data);
	if (snap == NULL)
		return BALLOT_ENOMEM;
	snapshot_unref(r->snapshot);
	r->snapshot = snap;
	/* Keep a tail of entries behind the snapshot, so a follower slightly behind catches up
	 * from the log instead of needing the whole snapshot (etcd keeps 5000). */
	if (index > r->opts.compact_keep_entries && index - r->opts.compact_keep_entries > r->trim_to)
		r->trim_to = index - r->opts.compact_keep_entries;
	trim_step(r);
	return 0;
}

/* ---- creation and introspection ----------------------------------------------------- */

void ballot_raft_options_default(ballot_raft_options *opts, uint64_t id)
{
	memset(opts, 0, sizeof *opts);
	opts->id = id;
	opts->election_ticks = 10;
	opts->heartbeat_ticks = 1;
	opts->pre_vote = true;
	opts->check_quorum = true;
	opts->lease_reads = false;
	opts->batch_bytes = BALLOT_RAFT_BATCH_BYTES_DEFAULT;
	opts->inflight_max = BALLOT_RAFT_INFLIGHT_DEFAULT;
	opts->uncommitted_bytes_max = BALLOT_RAFT_UNCOMMITTED_BYTES_DEFAULT;
	opts->snapshot_chunk_bytes = BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT;
	opts->compact_keep_entries = 1000;
	opts->compact_step_entries = 0;
}

static int check_options(const ballot_raft_options *o, ballot_errmsg *em)
{
	if (o->id == 0)
		return ballot_errorf(em, BALLOT_EINVAL, "node id must be positive");
	if (o->heartbeat_ticks < 1 || o->election_ticks <= o->heartbeat_ticks)
		return ballot_errorf(em, BALLOT_EINVAL, "election ticks (%u) must exceed heartbeat ticks (%u) >= 1",
				     o->election_ticks, o->heartbeat_ticks);
	if (o->batch_bytes < 1 || o->batch_bytes > BALLOT_RAFT_BATCH_BYTES_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "batch bytes %zu: must be 1 to %u", o->batch_bytes,
				     BALLOT_RAFT_BATCH_BYTES_MAX);
	if (o->inflight_max < 1 || o->inflight_max > BALLOT_RAFT_INFLIGHT_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "in-flight window %u: must be 1 to %d", o->inflight_max,
				     BALLOT_RAFT_INFLIGHT_MAX);
	if (o->snapshot_chunk_bytes < 1 || o->snapshot_chunk_bytes > BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "snapshot chunk %zu bytes: out of range", o->snapshot_chunk_bytes);
	if (o->uncommitted_bytes_max < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "uncommitted bytes limit must be positive");
	return 0;
}

static int check_storage(const ballot_raft_storage *st, ballot_errmsg *em)
{
	uint64_t expect = st->snap_index + 1;
	uint64_t term = st->snap_term;
	for (size_t i = 0; i < st->entry_count; i++) {
		const ballot_entry *e = &st->entries[i];
		if (e->index != expect + i || e->term < term)
			return ballot_errorf(em, BALLOT_EINVAL, "stored entry %zu: index %llu term %llu out of order",
					     i, (unsigned long long)e->index, (unsigned long long)e->term);
		term = e->term;
	}
	if (term > st->hard_state.term)
		return ballot_errorf(em, BALLOT_EINVAL, "stored log has term %llu above the hard state's %llu",
				     (unsigned long long)term, (unsigned long long)st->hard_state.term);
	if (st->snap_index > 0 && st->snap_data == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "a snapshot position without snapshot data");
	return 0;
}

int ballot_raft_new(ballot_raft **out, const ballot_raft_options *opts, const ballot_raft_storage *st,
		    uint64_t seed, ballot_errmsg *em)
{
	int rc = check_options(opts, em);
	if (rc == 0)
		rc = check_storage(st, em);
	if (rc != 0)
		return rc;
	ballot_raft *r = calloc(1, sizeof *r);
	if (r == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
	r->opts = *opts;
	r->id = opts->id;
	ballot_rng_seed(&r->rng, seed);
	raft_log_init(&r->log, st->snap_index, st->snap_term);
	for (size_t i = 0; i < st->entry_count; i++) {
		if (raft_log_append(&r->log, &st->entries[i]) != 0) {
			ballot_raft_free(r);
			return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
		}
	}
	r->log.stable = raft_log_last(&r->log);
	r->log.unstable_from = r->log.stable + 1;
	r->term = st->hard_state.term;
	r->vote = st->hard_state.vote;
	/* The stored commit may lag (it is persisted lazily) but never runs past the log. */
	r->commit = st->hard_state.commit;
	if (r->commit < st->snap_index)
		r->commit = st->snap_index;
	if (r->commit > raft_log_last(&r->log))
		r->commit = raft_log_last(&r->log);
	r->applied = st->snap_index;
	r->prev_hs = (ballot_hard_state){r->term, r->vote, r->commit};
	r->snap_config = st->snap_config;
	if (st->snap_data != NULL) {
		r->snapshot = snapshot_new(st->snap_index, st->snap_term, &st->snap_config, st->snap_data);
		if (r->snapshot == NULL) {
			ballot_raft_free(r);
			return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
		}
	}
	r->role = BALLOT_ROLE_FOLLOWER;
	recompute_config(r);
	reset_randomized_timeout(r);
	*out = r;
	return 0;
}

void ballot_raft_free(ballot_raft *r)
{
	if (r == NULL)
		return;
	raft_log_free(&r->log);
	for (size_t i = 0; i < r->msgs.count; i++)
		ballot_msg_free(r->msgs.items[i]);
	for (size_t i = 0; i < r->msgs_after.count; i++)
		ballot_msg_free(r->msgs_after.items[i]);
	free(r->msgs.items);
	free(r->msgs_after.items);
	free(r->reads);
	free(r->read_states);
	free(r->in_snap_buf);
	for (unsigned i = 0; i < r->peer_count; i++)
		snapshot_unref(r->peers[i].snap);
	snapshot_unref(r->snapshot);
	ballot_rbuf_unref(r->install_data);
	free(r);
}

void ballot_raft_status_get(const ballot_raft *r, ballot_raft_status *s)
{
	memset(s, 0, sizeof *s);
	s->id = r->id;
	s->term = r->term;
	s->vote = r->vote;
	s->leader = r->leader;
	s->commit = r->commit;
	s->applied = r->applied;
	s->first_index = r->log.snap_index + 1;
	s->last_index = raft_log_last(&r->log);
	s->last_term = raft_log_last_term(&r->log);
	s->snap_index = r->snapshot != NULL ? r->snapshot->index : r->log.snap_index;
	s->snap_term = r->snapshot != NULL ? r->snapshot->term : r->log.snap_term;
	s->role = r->role;
	s->transferring = r->transfer_target != 0;
	s->config = r->config;
	s->snap_config = r->snapshot != NULL ? r->snapshot->config : r->snap_config;
	s->peer_count = r->peer_count;
	for (unsigned i = 0; i < r->peer_count; i++) {
		s->peers[i].id = r->peers[i].id;
		s->peers[i].match = r->peers[i].match;
		s->peers[i].next = r->peers[i].next;
		s->peers[i].recent_active = r->peers[i].recent_active;
	}
	s->dropped_messages = r->dropped;
}

ballot_role ballot_raft_role(const ballot_raft *r, uint64_t *leader)
{
	if (leader != NULL)
		*leader = r->leader;
	return r->role;
}

size_t ballot_raft_take_messages(ballot_raft *r, ballot_msg ***out)
{
	if (r->append_pending && r->role == BALLOT_ROLE_LEADER)
		broadcast_append(r);
	r->append_pending = false;
	size_t count = r->msgs.count;
	*out = count > 0 ? (ballot_msg **)r->msgs.items : NULL;
	if (count == 0)
		free(r->msgs.items);
	r->msgs = (ptr_vec){0};
	return count;
}

size_t ballot_raft_take_committed(ballot_raft *r, ballot_entry **out)
{
	*out = NULL;
	uint64_t limit = apply_limit(r);
	if (r->install_pending || r->ready_has_snapshot || limit <= r->applied || r->applied < r->log.snap_index)
		return 0;
	size_t count = 0;
	*out = copy_entries(r, r->applied + 1, limit, &count);
	if (*out != NULL)
		r->applied = limit;
	return count;
}

size_t ballot_raft_take_reads(ballot_raft *r, ballot_read_state **out)
{
	size_t count = r->read_state_count;
	*out = count > 0 ? r->read_states : NULL;
	if (count == 0)
		free(r->read_states);
	r->read_states = NULL;
	r->read_state_count = r->read_state_cap = 0;
	return count;
}

void ballot_raft_entries_free(ballot_entry *entries, size_t count)
{
	free_entries(entries, count);
}

const ballot_config *ballot_raft_config(const ballot_raft *r)
{
	return &r->config;
}

const ballot_entry *ballot_raft_entry(const ballot_raft *r, uint64_t index)
{
	return raft_log_get(&r->log, index);
}

uint64_t ballot_raft_term_at(const ballot_raft *r, uint64_t index)
{
	return raft_log_term(&r->log, index);
}

uint64_t ballot_raft_stable_index(const ballot_raft *r)
{
	return r->log.stable;
}
