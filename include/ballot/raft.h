/* ballot Raft core: consensus as a pure state machine, with no I/O.
 *
 * The core reads no clock, opens no file or socket, starts no thread and draws randomness
 * only from the generator it is given. A driver (the deterministic simulator, or the node
 * runtime with its disk and network) feeds it events and carries out what it asks:
 *
 *   inputs:  ballot_raft_tick (logical time), ballot_raft_step (a message from a peer),
 *            ballot_raft_propose, ballot_raft_read (a linearizable read), membership and
 *            leadership-transfer requests, ballot_raft_advance ("I did what the ready said").
 *   output:  a ready batch (ballot_raft_ready): hard state and entries to persist, messages
 *            to send, committed entries to apply, reads that may now be answered, a snapshot
 *            to install.
 *
 * The driver handles one ready at a time, in this order (the "persist before you speak"
 * rule, Raft §5 and thesis §10.2.1):
 *   1. send ready.messages at once (a leader's appends and heartbeats, a follower's
 *      answers to heartbeats once its term is durable: they depend on nothing unpersisted;
 *      a leader counts its own entries only once persisted);
 *   2. persist ready.snapshot (if any), then ready.hard_state (if changed), then
 *      ready.entries (truncating the stored log from entries[0].index first), and sync;
 *   3. send ready.messages_after_persist (votes, acknowledgements: they promise what is
 *      now durable);
 *   4. apply ready.committed in order, answer ready.reads once applied >= their index
 *      (committed entries are durable on a majority already, so unless the ready holds a
 *      snapshot they may be applied, and answered, as soon as the ready is taken, while
 *      step 2 runs: etcd's server does the same; the state they build is volatile, and a
 *      snapshot of it must wait until the stored log reaches its index);
 *   5. call ballot_raft_advance.
 * tick, step, propose and read may be called between ready and advance; a new ready is
 * produced only after advance, but ballot_raft_take_messages hands out what may leave at
 * once meanwhile (so a slow sync delays neither a leader's appends nor heartbeat answers).
 *
 * The design follows the Raft paper (Ongaro & Ousterhout 2014) and Ongaro's thesis (2014):
 * pre-vote and check-quorum (§9.6), single-server membership changes with learners (§4.1–4.2,
 * with the fix that a new leader commits an entry of its term before changing membership),
 * leadership transfer (§3.10), ReadIndex and lease reads (§6.4), snapshots (§5). */
#ifndef BALLOT_RAFT_H
#define BALLOT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"
#include "ballot/rbuf.h"
#include "ballot/rng.h"

/* ---- entries and configurations --------------------------------------------------- */

typedef enum ballot_entry_type {
	BALLOT_ENTRY_NORMAL = 1, /* a command for the state machine */
	BALLOT_ENTRY_CONFIG = 2, /* a membership configuration (ballot_config, encoded) */
	BALLOT_ENTRY_NOOP = 3,   /* a new leader's first entry (commits earlier terms) */
} ballot_entry_type;

typedef struct ballot_entry {
	uint64_t term;
	uint64_t index;
	uint8_t type;
	ballot_rbuf *data; /* may be NULL (no payload); each holder of an entry holds a ref */
} ballot_entry;

typedef enum ballot_member_role {
	BALLOT_MEMBER_VOTER = 1,
	BALLOT_MEMBER_LEARNER = 2, /* receives the log, does not vote or count for quorums */
} ballot_member_role;

typedef struct ballot_member {
	uint64_t id; /* > 0 */
	uint8_t role;
	char address[BALLOT_ADDRESS_MAX]; /* opaque to the core; NUL-terminated */
} ballot_member;

typedef struct ballot_config {
	unsigned count;
	ballot_member members[BALLOT_RAFT_MEMBERS_MAX];
} ballot_config;

/* Encodes a configuration into out (BALLOT_CONFIG_ENCODED_MAX bytes); returns its length. */
size_t ballot_config_encode(const ballot_config *c, unsigned char *out);
/* Decodes a configuration; hostile-input safe. Returns 0 or BALLOT_ECORRUPT. */
int ballot_config_decode(const void *data, size_t len, ballot_config *c, ballot_errmsg *em);
/* The member with this id, or NULL. */
const ballot_member *ballot_config_find(const ballot_config *c, uint64_t id);
/* Voters in the configuration. */
unsigned ballot_config_voters(const ballot_config *c);

/* ---- messages ---------------------------------------------------------------------- */

typedef enum ballot_msg_type {
	BALLOT_MSG_PREVOTE = 1,
	BALLOT_MSG_PREVOTE_RESP,
	BALLOT_MSG_VOTE,
	BALLOT_MSG_VOTE_RESP,
	BALLOT_MSG_APPEND,       /* AppendEntries; no entries is a heartbeat */
	BALLOT_MSG_APPEND_RESP,
	BALLOT_MSG_SNAPSHOT,     /* one chunk of InstallSnapshot */
	BALLOT_MSG_SNAPSHOT_RESP,
	BALLOT_MSG_TIMEOUT_NOW,  /* leadership transfer: campaign now */
	BALLOT_MSG_TYPE_COUNT_
} ballot_msg_type;

/* A message between peers. Owned by whoever holds it: a ready hands messages to the driver,
 * which frees each with ballot_msg_free after sending or delivering it. ballot_raft_step
 * only borrows. */
typedef struct ballot_msg {
	uint8_t type;
	uint64_t from, to;
	uint64_t term;
	/* PREVOTE, VOTE: the candidate's last log position; transfer: campaign after TIMEOUT_NOW */
	uint64_t last_index, last_term;
	bool transfer;
	/* *_RESP: granted (votes), success (append); reject is !success */
	bool success;
	/* APPEND: the entry before `entries`, and the leader's commit index */
	uint64_t prev_index, prev_term, commit;
	/* APPEND, APPEND_RESP: the ReadIndex round this heartbeat belongs to (0: none), and
	 * whether the append is a heartbeat (the response echoes both) */
	uint64_t read_round;
	bool heartbeat;
	/* APPEND_RESP success: the follower's log matches the leader's up to match_index.
	 * APPEND_RESP reject: a hint for fast backtracking (thesis §5.3): the follower's term at
	 * prev_index and the first index it holds of that term, or its last index + 1 if its
	 * log is too short (conflict_term 0). */
	uint64_t match_index, conflict_term, conflict_index;
	/* SNAPSHOT: the snapshot's position and configuration, and one chunk of its bytes */
	uint64_t snap_index, snap_term;
	ballot_config *snap_config; /* owned; set on the first chunk (offset 0) */
	uint64_t offset;
	bool done;
	ballot_rbuf *chunk; /* owned reference */
	size_t entry_count;
	ballot_entry *entries; /* owned array; each entry holds a data reference */
} ballot_msg;

void ballot_msg_free(ballot_msg *m);
const char *ballot_msg_type_name(uint8_t type);

/* A deep copy sharing payloads by reference (the simulator's duplication). NULL if out of memory. */
ballot_msg *ballot_msg_clone(const ballot_msg *m);

/* ---- the core --------------------------------------------------------------------- */

typedef enum ballot_role {
	BALLOT_ROLE_FOLLOWER = 0,
	BALLOT_ROLE_PRECANDIDATE,
	BALLOT_ROLE_CANDIDATE,
	BALLOT_ROLE_LEADER,
} ballot_role;

const char *ballot_role_name(ballot_role role);

typedef struct ballot_hard_state {
	uint64_t term;
	uint64_t vote;   /* 0: none */
	uint64_t commit; /* persisted so a restart need not relearn it; may lag */
} ballot_hard_state;

/* What the driver recovered from storage, to start (or restart) a node. */
typedef struct ballot_raft_storage {
	ballot_hard_state hard_state;
	uint64_t snap_index, snap_term;  /* 0, 0: no snapshot */
	ballot_config snap_config;       /* configuration as of snap_index, or the bootstrap one */
	ballot_rbuf *snap_data;          /* borrowed; the core takes its own reference */
	const ballot_entry *entries;     /* snap_index+1 .. last; borrowed, refs taken */
	size_t entry_count;
} ballot_raft_storage;

typedef struct ballot_raft_options {
	uint64_t id;
	unsigned election_ticks;   /* election timeout: random in [this, 2 * this) ticks */
	unsigned heartbeat_ticks;  /* < election_ticks */
	bool pre_vote;             /* default on */
	bool check_quorum;         /* default on */
	bool lease_reads;          /* default off: answer reads from a leader lease, no round */
	size_t batch_bytes;        /* entry bytes in one append (<= BALLOT_RAFT_BATCH_BYTES_MAX) */
	unsigned inflight_max;     /* appends in flight per follower (<= BALLOT_RAFT_INFLIGHT_MAX) */
	size_t uncommitted_bytes_max; /* proposals refused past this (backpressure) */
	size_t snapshot_chunk_bytes;
	uint64_t compact_keep_entries; /* entries kept behind a snapshot for slow followers */
	uint64_t compact_step_entries; /* dropped per tick or ready after a compaction (0: all at once) */
	uint64_t canaries;         /* test builds only (BALLOT_CANARIES): bugs to switch on */
} ballot_raft_options;

/* Fills opts with defaults for node id. */
void ballot_raft_options_default(ballot_raft_options *opts, uint64_t id);

/* A read that may be answered once the state machine has applied `index`. */
typedef struct ballot_read_state {
	uint64_t request; /* the caller's id from ballot_raft_read */
	uint64_t index;
	bool ok;          /* false: refused (leadership lost before it was confirmed) */
} ballot_read_state;

typedef struct ballot_raft_ready {
	bool hard_state_changed;
	ballot_hard_state hard_state;
	/* A snapshot received from the leader, to persist and install before anything else. */
	bool has_snapshot;
	uint64_t snap_index, snap_term;
	ballot_config snap_config;
	ballot_rbuf *snap_data;
	/* Entries to persist: truncate the stored log from entries[0].index, then append. */
	size_t entry_count;
	ballot_entry *entries;
	size_t message_count, message_after_persist_count;
	ballot_msg **messages;
	ballot_msg **messages_after_persist;
	/* Committed entries to apply, in order. */
	size_t committed_count;
	ballot_entry *committed;
	size_t read_count;
	ballot_read_state *reads;
	/* Soft state, for the driver's information. */
	ballot_role role;
	uint64_t leader;
} ballot_raft_ready;

typedef struct ballot_raft ballot_raft;

/* Creates a node from its options and what storage recovered (for a new cluster: hard
 * state zero, no entries, snap_config holding the initial members). Returns 0,
 * BALLOT_EINVAL (bad options, a storage state that breaks an invariant) or BALLOT_ENOMEM. */
int ballot_raft_new(ballot_raft **out, const ballot_raft_options *opts, const ballot_raft_storage *st,
		    uint64_t seed, ballot_errmsg *em);
void ballot_raft_free(ballot_raft *r);

/* One unit of logical time. */
void ballot_raft_tick(ballot_raft *r);

/* A hint from the driver: the connection from `leader` closed (its process died, and the
 * kernel closed its sockets). A follower of that leader forgets it, which ends its lease
 * (it then answers vote requests), and campaigns, with pre-vote, after one to five
 * heartbeat intervals (at random) instead of a whole election timeout. Safety never rests on it: a leader that is
 * in fact alive still holds its other followers' leases, so their pre-votes fail and nothing
 * is disrupted; a machine that dies without closing anything is found by the timeout. */
void ballot_raft_leader_lost(ballot_raft *r, uint64_t leader);

/* Handles a message from a peer (borrowed). A malformed or impossible message (bad shape,
 * an acknowledgement of entries never sent, a second leader in our term, a response from a
 * node that is not a member) is dropped and counted; it never breaks the core. Requests
 * and appends are handled without consulting the configuration (thesis §4.1: a server
 * accepts a leader or grants a vote outside its current configuration, so a joining or
 * lagging node can follow), which pre-vote and check-quorum keep from disrupting. */
void ballot_raft_step(ballot_raft *r, const ballot_msg *m);

/* Proposes an entry (the core takes a reference on data). On the leader, returns 0 and the
 * entry's index and term: the proposal took effect iff the entry applied at that index has
 * that term. Otherwise BALLOT_ENOTLEADER (status.leader hints at the leader), BALLOT_EBUSY
 * (leadership transfer under way, or a membership change pending), or BALLOT_ELIMIT (too
 * many uncommitted bytes, or the entry is larger than BALLOT_RAFT_ENTRY_BYTES_MAX). */
int ballot_raft_propose(ballot_raft *r, uint8_t type, ballot_rbuf *data, uint64_t *index, uint64_t *term);

/* Asks for a linearizable read (ReadIndex, thesis §6.4). On the leader returns 0; the read
 * comes back in a later ready's reads with the index to wait for (or ok=false if leadership
 * was lost first). Elsewhere BALLOT_ENOTLEADER. */
int ballot_raft_read(ballot_raft *r, uint64_t request);

/* Membership, one server at a time, on the leader: add a learner, promote a learner to
 * voter, remove a member. Returns 0 (the change is proposed as a config entry), or
 * BALLOT_ENOTLEADER, BALLOT_EBUSY (a change is still uncommitted, this leader has not yet
 * committed an entry of its term, or the learner to promote has not caught up with the
 * commit index), BALLOT_EINVAL (unknown/duplicate member, removing the last voter),
 * BALLOT_ELIMIT (too many members). */
int ballot_raft_add_learner(ballot_raft *r, uint64_t id, const char *address);
int ballot_raft_promote(ballot_raft *r, uint64_t id);
int ballot_raft_remove(ballot_raft *r, uint64_t id);

/* Hands leadership to a voter (thesis §3.10): stop taking proposals, bring it up to date,
 * tell it to campaign now. Gives up after an election timeout. */
int ballot_raft_transfer(ballot_raft *r, uint64_t to);

/* Whether a ready is waiting, and taking it (ownership of its arrays and messages passes to
 * the caller until ballot_raft_advance, which frees what the caller has not taken). */
bool ballot_raft_has_ready(const ballot_raft *r);
void ballot_raft_ready_take(ballot_raft *r, ballot_raft_ready *rd);
/* The driver persisted, sent and applied everything in rd (messages it sent are its own to
 * free: set their pointers to NULL, or leave them for advance to free). */
void ballot_raft_advance(ballot_raft *r, ballot_raft_ready *rd);

/* The driver took a snapshot of the state machine as of applied index `index` (which it
 * has applied) and made it durable; the core keeps data (a reference) to send to lagging
 * followers and drops log entries up to index - compact_keep_entries: all at once, or with
 * compact_step_entries, that many now and as many at each tick and advance after, so a
 * large log is freed a little at a time (status.first_index tells where the log starts
 * now; the driver may drop stored entries before it). Returns
 * BALLOT_EINVAL if index is not applied, not newer than the last snapshot, or not in the
 * log. On restart, the driver passes the snapshot and the entries after it. */
int ballot_raft_compact(ballot_raft *r, uint64_t index, ballot_rbuf *data);

/* ---- introspection (for INFO, the simulator's checks and tests) ----------------------- */

typedef struct ballot_raft_status {
	uint64_t id, term, vote, leader, commit, applied;
	uint64_t first_index, last_index, last_term;
	uint64_t snap_index, snap_term; /* the latest snapshot (the log may reach back further) */
	ballot_role role;
	bool transferring;
	ballot_config config;      /* in effect (the latest in the log) */
	ballot_config snap_config; /* as of the latest snapshot */
	unsigned peer_count;
	struct {
		uint64_t id, match, next;
		bool recent_active;
	} peers[BALLOT_RAFT_MEMBERS_MAX];
	uint64_t dropped_messages;
} ballot_raft_status;

void ballot_raft_status_get(const ballot_raft *r, ballot_raft_status *s);

/* This node's role, and the leader it knows of (0: none): the cheap part of the status, for
 * the request path. */
ballot_role ballot_raft_role(const ballot_raft *r, uint64_t *leader);

/* The configuration as of a log index still held (after the log's start, at most the last
 * index): what a snapshot taken there must record. 0, or BALLOT_EINVAL. */
int ballot_raft_config_at(const ballot_raft *r, uint64_t index, ballot_config *out);

/* Hands over the messages that may leave at once (appends, snapshot chunks, pre-votes,
 * timeout-now), even while a ready is outstanding, so a leader replicates new proposals
 * while its own write of the previous batch is syncing (thesis §10.2.1): its own entries
 * count toward commitment only once a ready that holds them is advanced. Returns the
 * count; *out is the array (the caller sends the messages, then frees each with
 * ballot_msg_free and the array with free), NULL if none. Messages that must wait for a
 * persist (votes, acknowledgements) stay for the next ready. */
size_t ballot_raft_take_messages(ballot_raft *r, ballot_msg ***out);

/* Hands over the committed entries not yet handed out, even while a ready is outstanding,
 * so a leader applies and answers a write once a majority holds it rather than once its
 * own sync of a later batch ends (step 4 may run before step 2: see above). Nothing while
 * a snapshot waits to be installed, which comes first; the outstanding ready's committed
 * entries come first too (apply them as it is taken, to use this). Returns the count; *out is the
 * array, in order, to apply and then free with ballot_raft_entries_free (NULL if none). */
size_t ballot_raft_take_committed(ballot_raft *r, ballot_entry **out);
void ballot_raft_entries_free(ballot_entry *entries, size_t count);

/* Hands over the reads confirmed (or failed) since the last ready, even while a ready is
 * outstanding, so a read waits neither for a sync nor for a leader that holds its own sync
 * back. Answer each once applied >= its index, as a ready's reads. Returns the count; *out
 * is the array, to free with free (NULL if none). */
size_t ballot_raft_take_reads(ballot_raft *r, ballot_read_state **out);

/* The configuration in force: the latest in the log, committed or not (borrowed, valid
 * until the next call into the core). */
const ballot_config *ballot_raft_config(const ballot_raft *r);

/* The entry at index (borrowed, valid until the next call into the core), or NULL if it is
 * compacted or past the end. */
const ballot_entry *ballot_raft_entry(const ballot_raft *r, uint64_t index);

/* The term of the entry at index (the snapshot's at snap_index), or 0 if unknown. */
uint64_t ballot_raft_term_at(const ballot_raft *r, uint64_t index);

/* The last index the driver has persisted (through advanced readies). What is applied may
 * run ahead of it (ballot_raft_take_committed); a snapshot of the state at applied index
 * A may be taken once this reaches A, so the stored log holds A when it is adopted. */
uint64_t ballot_raft_stable_index(const ballot_raft *r);

/* ---- canaries: known bugs the simulator must catch (BALLOT_CANARIES builds only) ------ */

enum {
	BALLOT_CANARY_COMMIT_WITHOUT_MAJORITY = 1u << 0,
	BALLOT_CANARY_DOUBLE_VOTE = 1u << 1,
	BALLOT_CANARY_APPLY_BEFORE_COMMIT = 1u << 2,
	BALLOT_CANARY_FORGET_VOTE = 1u << 3,
	BALLOT_CANARY_READ_WITHOUT_CONFIRM = 1u << 4,
};

#endif
