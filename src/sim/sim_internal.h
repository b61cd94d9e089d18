/* The simulator's internal structures, shared by its parts: the world (events, network,
 * nodes), the clients, and the application (state machine and history) adapter. */
#ifndef BALLOT_SIM_INTERNAL_H
#define BALLOT_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <xxhash.h>

#include "ballot/fs.h"
#include "ballot/raft.h"
#include "ballot/rng.h"
#include "ballot/sim.h"
#include "common/buf.h"

#define SIM_NODES_MAX BALLOT_RAFT_MEMBERS_MAX
#define SIM_TICK_MS 10
#define SIM_KEYS 3
#define SIM_SEGMENT_BYTES (64 * 1024) /* small segments: rollover and compaction happen often */

typedef enum sim_event_kind {
	EV_TICK = 1,      /* a node's Raft tick */
	EV_DELIVER,       /* a peer message arrives */
	EV_PERSISTED,     /* a node's sync completed */
	EV_CLIENT_NEXT,   /* a client starts its next operation */
	EV_CLIENT_SEND,   /* a client's request arrives at a node */
	EV_CLIENT_REPLY,  /* a node's reply arrives at a client */
	EV_CLIENT_TIMEOUT,
	EV_NEMESIS,       /* the fault injector acts */
	EV_HEAL,          /* a partition ends */
	EV_RESTART,       /* a crashed node comes back */
	EV_CRASH,         /* a node crashes (at a chosen moment) */
	EV_OPERATOR,      /* the operator works on replacing damaged nodes */
} sim_event_kind;

/* Where the operator is in replacing the node of a slot whose data dir was found damaged
 * (Raft thesis §3.8: a server that lost its persistent state may rejoin only under a new
 * identity, through membership changes). */
typedef enum sim_replace_stage {
	REPLACE_NONE = 0,
	REPLACE_REMOVE, /* remove the damaged member at the leader, then add its successor */
	REPLACE_JOIN,   /* the successor runs in the slot: get it added, caught up, promoted */
} sim_replace_stage;

typedef struct sim_event {
	uint64_t time, seq;
	uint8_t kind;
	uint32_t target;      /* node index or client index */
	uint64_t generation;  /* the node's incarnation or the client's attempt it belongs to */
	ballot_msg *msg;      /* EV_DELIVER */
	uint64_t a, b;        /* event-specific */
	ballot_rbuf *payload; /* EV_CLIENT_REPLY: the reply; EV_CLIENT_SEND: the command */
} sim_event;

/* An operation of the client model, as the history records it. */
typedef enum sim_op_kind { OP_READ = 1, OP_WRITE, OP_CAS, OP_INCR, OP_APPEND } sim_op_kind;

typedef struct sim_op {
	uint8_t kind;
	uint8_t key;          /* index into the key set of its kind */
	int64_t arg, arg2;    /* write value; cas expected/new; incr delta */
	char text[16];        /* append text */
} sim_op;

/* A request waiting at a node for its entry to apply or its read to be confirmed. */
typedef struct sim_pending {
	uint32_t client;
	uint64_t attempt;
	uint64_t index, term; /* proposals */
	uint64_t read_id;     /* reads */
	uint64_t read_index;  /* reads: confirmed, waiting for apply */
	bool confirmed;
	ballot_rbuf *cmd;     /* reads: the query to answer */
} sim_pending;

typedef struct sim_side_snapshot {
	bool pending;
	unsigned readies_left;
	uint64_t index, term;
	ballot_config config;
	ballot_rbuf *data;
} sim_side_snapshot;

typedef struct sim_node {
	uint64_t id;
	bool alive;
	uint64_t incarnation;
	ballot_raft *raft;
	/* its disk: the real write-ahead log over a simulated file system */
	struct ballot_fs_sim *fs;
	struct ballot_storage *storage;
	ballot_config boot_config;  /* founding members (empty for a node that joins later) */
	uint64_t snap_index;        /* of its latest snapshot */
	uint64_t durable_term;      /* the term its disk holds */
	/* a ready being persisted */
	bool persisting;
	ballot_raft_ready rd;
	bool applied_early; /* rd's committed entries were applied before its sync */
	/* the state machine */
	void *app;
	uint64_t applied;
	uint64_t snapshot_every;
	/* a snapshot written beside the storage and adopted some readies later, as ballotd's
	 * writer (a child process) does while the log goes on */
	sim_side_snapshot side;
	ballot_fs_names doomed; /* files of compacted segments, removed some readies later */
	unsigned doomed_readies_left;
	/* requests waiting here */
	sim_pending *pending;
	size_t pending_count, pending_cap;
	/* safety bookkeeping */
	ballot_role last_role;
	uint64_t leader_term, leader_last;
	uint64_t vote_term, vote_for; /* the last vote it granted, across restarts */
	uint64_t durable_vote;        /* with durable_term: the hard state it last saved */
	uint64_t durable_last;        /* its last log index known synced when it went down */
	/* disk faults (BALLOT_SIM_FAULT_BITFLIP) and the operator's replacement */
	bool flipped;            /* a bit flipped in its data dir since it last booted */
	bool broken;             /* its data dir was found damaged: down for good */
	uint8_t replace;         /* sim_replace_stage of this slot */
	uint64_t replaced_id;    /* the damaged member being replaced */
	uint8_t replaced_role;   /* its role (ballot_member_role) as the operator saw it; 0: never a
				  * member to the operator's eyes (its successor joins as a learner) */
} sim_node;

typedef struct sim_client {
	uint32_t process;      /* history process id; changes after an unknown outcome */
	uint64_t session, seq;
	uint64_t attempt;      /* bumped per try, so stale replies and timeouts are ignored */
	uint32_t target;       /* node index it sends to */
	bool busy;
	sim_op op;
	uint64_t op_started, op_deadline;
	size_t history_index;  /* of its open invoke */
	bool final_phase;      /* liveness: its last reads */
	unsigned final_reads_left;
} sim_client;

/* One history event (the checker's input). */
typedef struct sim_hist {
	uint32_t process;
	uint8_t type;          /* 1 invoke, 2 ok, 3 fail, 4 info */
	sim_op op;
	bool has_value;        /* ok read/incr: what was observed */
	bool value_null;
	ballot_rbuf *value;    /* reads: the bytes read */
	int64_t number;        /* incr: the new value */
} sim_hist;

typedef struct sim_world {
	ballot_sim_options opts;
	ballot_sim_result *res;
	ballot_rng rng;
	uint64_t now;
	uint64_t seq;
	XXH3_state_t *trace;
	/* events: a binary heap by (time, seq) */
	sim_event *heap;
	size_t heap_count, heap_cap;
	/* nodes */
	sim_node nodes[SIM_NODES_MAX];
	unsigned node_count;
	uint64_t next_node_id;
	/* network faults */
	double loss, dup, long_delay;
	bool blocked[SIM_NODES_MAX][SIM_NODES_MAX]; /* blocked[a][b]: a's messages to b are lost */
	unsigned down;                              /* nodes crashed */
	/* clients and history */
	sim_client clients[64];
	unsigned client_count;
	uint32_t next_process;
	uint64_t next_session;
	uint64_t ops_started;
	bool fault_phase;
	bool final_phase;
	uint64_t final_deadline;
	sim_hist *hist;
	size_t hist_count, hist_cap;
	uint64_t last_success;
	bool operator_scheduled;   /* an EV_OPERATOR is queued */
	/* safety oracle */
	uint64_t *leader_of_term;  /* leader id per term */
	size_t terms_cap;
	/* Per index: the term of the entry committed there (0: not known yet), as a leader
	 * counted it committed or a node first applied it, and the hash of the applied entry
	 * (0: none applied yet). */
	uint64_t *committed_term;
	uint64_t *applied_hash;
	size_t committed_cap;
	uint64_t max_committed;
	uint64_t read_ids;
	bool stop;
} sim_world;

/* ---- the application adapter (sim_app.c) ------------------------------------------- */

void *sim_app_new(void);
void sim_app_free(void *app);
/* Encodes a client operation as a proposal payload (with its session) or a query. */
ballot_rbuf *sim_app_encode(const sim_op *op, uint64_t session, uint64_t seq, uint64_t time_ms);
bool sim_op_is_read(const sim_op *op);
/* Applies a committed entry; *reply gets the reply (a new buffer) or NULL. */
int sim_app_apply(void *app, uint64_t index, const ballot_entry *e, ballot_rbuf **reply);
int sim_app_query(void *app, const ballot_rbuf *cmd, ballot_rbuf **reply);
int sim_app_snapshot(void *app, ballot_rbuf **out);
int sim_app_restore(void *app, const ballot_rbuf *data);
/* Interprets a reply for the history: 0 ok (value filled), 1 the op certainly failed (cas
 * mismatch, error reply), -1 not a reply to this op. */
int sim_app_outcome(const sim_op *op, const ballot_rbuf *reply, sim_hist *h);

/* Checks the history for linearizability; fills result fields. */
void sim_history_check(sim_world *w);
void sim_history_write(sim_world *w, const char *path);

/* ---- world services (sim.c) --------------------------------------------------------- */

void sim_schedule(sim_world *w, uint64_t delay, uint8_t kind, uint32_t target, uint64_t generation,
		  ballot_msg *msg, uint64_t a, uint64_t b, ballot_rbuf *payload);
void sim_violation(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
sim_node *sim_leader(sim_world *w);

/* ---- clients (sim_client.c) --------------------------------------------------------- */

void sim_clients_start(sim_world *w);
void sim_client_event(sim_world *w, const sim_event *ev);
/* A node handles a client request (EV_CLIENT_SEND). */
void sim_node_request(sim_world *w, sim_node *n, const sim_event *ev);
/* A node applied an entry / confirmed a read: answer waiting requests. */
void sim_node_applied(sim_world *w, sim_node *n, uint64_t index, uint64_t term, ballot_rbuf *reply);
void sim_node_read_state(sim_world *w, sim_node *n, const ballot_read_state *rs);
void sim_node_answer_reads(sim_world *w, sim_node *n);
void sim_node_drop_pending(sim_node *n);
void sim_final_phase(sim_world *w);
bool sim_clients_done(const sim_world *w);

#endif
