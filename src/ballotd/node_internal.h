/* The node runtime's shared structures: the node, its peers, its clients, and the work
 * waiting on the log (proposals, reads, forwarded requests). */
#ifndef BALLOT_NODE_INTERNAL_H
#define BALLOT_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "ballot/fsm.h"
#include "ballot/kv.h"
#include "ballot/raft.h"
#include "ballot/resp_parse.h"
#include "ballot/rng.h"
#include "common/buf.h"
#include "ballotd/node.h"
#include "ballotd/node_store.h"

/* What an entry of the in-memory log costs beyond its bytes: its slot in the log (32 bytes),
 * its buffer's header (24) and the allocator's (16), rounded up. */
#define ENTRY_OVERHEAD_BYTES 96

typedef struct node node;
typedef struct client_conn client_conn;

/* Where a request's reply goes: a slot in a client connection's ordered reply queue, or
 * back to the follower that forwarded it. */
typedef struct reply_slot {
	struct reply_slot *next;
	bool done;
	ballot_buf data;
} reply_slot;

typedef struct origin {
	client_conn *conn;       /* with slot: a local client (the conn holds a reference) */
	reply_slot *slot;
	uint64_t forward_peer;   /* or: the follower that forwarded it */
	uint64_t forward_id;
} origin;

/* What a request asks of the cluster. */
typedef enum request_kind {
	REQ_WRITE = 0, /* a kv-encoded command or batch, proposed to the log */
	REQ_READ = 1,  /* a kv-encoded query, answered after ReadIndex */
	REQ_ADMIN = 2, /* a leader's BALLOT command, as a RESP array */
} request_kind;

typedef struct pending {
	origin to;
	uint64_t index, term;    /* writes: the proposal */
	uint64_t read_id;        /* reads */
	uint64_t read_index;
	uint64_t after_index;    /* reads: also wait until this index is applied */
	bool confirmed;
	ballot_rbuf *cmd;        /* reads: the query, kv-encoded */
	uint64_t forwarded_to;   /* forwarded requests: the leader it went to */
	uint64_t deadline_ms;    /* waiting for a leader: give up then */
	uint8_t kind;
} pending;

typedef struct pending_list {
	pending *items;
	size_t count, cap;
} pending_list;

typedef struct peer_conn {
	node *n;
	uint64_t id;
	char address[BALLOT_ADDRESS_MAX];
	char client_address[BALLOT_ADDRESS_MAX]; /* from its HELLO; empty until then */
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_timer_t retry;
	bool connected, connecting, handle_open;
	bool retired;             /* no longer a member: not reconnected; its slot may be reused */
	unsigned backoff_ms;
	ballot_buf out;           /* frames of this turn of the loop, written at its end */
	size_t queued_bytes;      /* written but not yet taken by the kernel */
	uint64_t sent_frames, dropped_frames;
} peer_conn;

typedef struct peer_in {
	node *n;
	uv_tcp_t tcp;
	ballot_buf in;
	uint64_t from;            /* 0 until its HELLO */
	struct peer_in *next;
} peer_in;

struct client_conn {
	node *n;
	uv_tcp_t tcp;
	uint64_t id;
	unsigned refs;            /* the connection itself, and each request in flight */
	bool closing;
	bool authed;
	bool reading_paused;      /* saturated: input waits in `in`, the socket is not read */
	bool processing;          /* inside process_input */
	unsigned slot_count;      /* requests whose replies are not yet written */
	bool in_multi, multi_error;
	ballot_buf multi;         /* queued commands, as a kv batch entry */
	ballot_kv_batch batch;    /* writes into multi */
	ballot_resp_parser parser;
	ballot_buf in;
	reply_slot *head, *tail;
	size_t out_pending;       /* reply bytes being written */
	char name[64];
	bool close_after_reply;
	bool flush_scheduled;     /* on the node's flush list (holding a reference) */
	client_conn *next_conn, *prev_conn;
	client_conn *next_flush;
};

struct node {
	ballot_node_config cfg;
	uv_loop_t *loop;
	uv_timer_t tick;
	uv_prepare_t flush;       /* writes the turn's output before the loop waits */
	uv_signal_t sigint, sigterm;
	int stop_signal;
	int fatal;
	ballot_errmsg fatal_msg;

	ballot_raft *raft;
	ballot_kv *kv;
	ballot_sessions *sessions;
	node_store *store;
	uint64_t applied;
	uint64_t last_snapshot;
	bool snapshot_requested;  /* BALLOT SNAPSHOT: take one as soon as possible */
	uint64_t applied_bytes;   /* the memory the entries applied since the last snapshot hold
				   * (their bytes and ENTRY_OVERHEAD_BYTES each: the log in memory) */
	uint64_t last_snapshot_bytes; /* its size: the next waits for half as many log bytes */

	/* a snapshot being written beside the store (node_snapshot.c) */
	struct {
		bool running;        /* a writer is at work */
		bool written;        /* its file is durable: adopt it once no persist is in flight */
		uint64_t index, term, data_bytes;
		ballot_config config;
		uint64_t started_ms, retry_at_ms;
		ballot_rng rng;
		uint64_t jitter;     /* 0..999: the next waits jitter/4000 of the threshold longer */
		/* a child process: serializes its copy-on-write view of the state and writes */
		int pid;
		uv_pipe_t report_pipe;
		unsigned char report[sizeof(int32_t) + sizeof(uint64_t) + BALLOT_ERRMSG_MAX];
		size_t report_len;
		/* or, if there is no child, the thread pool writes what the loop serialized */
		ballot_rbuf *data;
		uv_work_t req;
		int rc;
		ballot_errmsg em;
		/* for INFO persistence */
		uint64_t count, failures, last_ms, last_index;
		uint64_t fork_us; /* how long the latest fork held the loop (Redis's latest_fork_usec) */
		bool last_ok, last_forked;
	} snap;

	/* files of compacted log segments, removed on the thread pool */
	struct {
		bool running;
		ballot_fs_names paths;
		uv_work_t req;
		int rc;
		ballot_errmsg em;
	} removal;

	/* a spare log segment of zeros, written on the thread pool */
	struct {
		bool running, ready;
		uint64_t taken;      /* node_store_spares_taken when the last was prepared */
		uv_work_t req;
		int rc;
		ballot_errmsg em;
	} spare;

	/* persisting a ready on the thread pool */
	bool persisting;
	ballot_raft_ready rd;
	bool applied_early; /* rd's committed entries were applied as its sync began */
	uint64_t persist_started; /* uv_hrtime() as the pool's sync began */
	uint64_t persist_stable;  /* the log's durable end as it began */
	uv_timer_t sync_hold;     /* a leader the followers outpace: the next sync waits */
	uint64_t log_syncs;       /* readies with entries persisted (INFO persistence) */
	uint64_t log_sync_holds;  /* ... after which a leader held its next sync back */
	uv_work_t persist_req;
	int persist_rc;
	ballot_errmsg persist_em;

	/* peers */
	uv_tcp_t peer_listener;
	peer_conn peers[BALLOT_RAFT_MEMBERS_MAX];
	unsigned peer_count;
	ballot_config peer_config; /* the configuration the peers were last matched to */
	peer_in *incoming;

	/* clients */
	uv_tcp_t client_listener;
	client_conn *clients;
	client_conn *flush_list;  /* connections with replies to write at the end of the turn */
	unsigned client_count;
	uint64_t next_client_id;

	/* work waiting on the log */
	pending_list proposals, reads, no_leader, forwarded;
	uint64_t last_write_index, last_write_term; /* the last write this node proposed */
	uint64_t next_read_id, next_forward_id;

	/* stats for INFO */
	uint64_t started_ms;
	uint64_t commands, connections_total, rejected_connections;
	/* INFO commandstats: calls per command name, in a small open-addressed table */
	struct {
		char name[24];
		uint64_t calls;
	} cmdstats[128];
};

/* node.c */
uint64_t node_now_ms(void);
bool node_split_address(const char *addr, char *host, size_t host_cap, int *port);
/* Resolves a numeric "ip:port" (IPv4 or IPv6); 0 or BALLOT_EINVAL. */
int node_resolve(const char *address, struct sockaddr_storage *sa);
/* Binds and listens on address, or says why not ("cannot listen for clients on ..."). */
int node_listen(node *n, uv_tcp_t *tcp, const char *address, int backlog, uv_connection_cb cb, const char *what,
		ballot_errmsg *em);
void node_fatal(node *n, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Submits a request to the cluster (leader: propose or ReadIndex; follower: forward;
 * no leader: wait). cmd is a kv-encoded command or batch; the reference is the caller's. */
void node_submit(node *n, origin to, request_kind kind, ballot_rbuf *cmd);
void node_reply(node *n, origin *to, const void *data, size_t len);
/* The leader answered a request this follower forwarded. */
void node_forward_answered(node *n, uint64_t id, int32_t error, const void *data, size_t len);
void node_reply_error(node *n, origin *to, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *node_peer_address(const node *n, uint64_t id);
void node_info_replication(node *n, ballot_buf *out);

/* node_snapshot.c: snapshots written beside the store while the node goes on. */
void node_snapshot_maybe(node *n);  /* starts one if due and none is under way */
void node_snapshot_adopt(node *n);  /* adopts a written one, if no persist is in flight */
void node_snapshot_stop(node *n);   /* at shutdown: stops a child writer */
void node_compact_store(node *n);   /* drops stored segments the core's log no longer holds */
void node_prepare_spare(node *n);   /* writes a spare segment for the next roll, if none */
void node_info_persistence(node *n, ballot_buf *out);

/* Whether a command word is `name`, ignoring case, as Redis compares them. */
static inline bool arg_is(const ballot_resp_arg *a, const char *name)
{
	return a->len == strlen(name) && strncasecmp(a->data, name, a->len) == 0;
}

/* admin.c */
/* Whether this BALLOT command is the leader's to run (membership, transfer). */
bool admin_is_leaders(size_t argc, const ballot_resp_arg *argv);
/* Runs a BALLOT command here, its reply into out; BALLOT_ENOTLEADER (out untouched) if it
 * is the leader's and this node is not the leader. */
int admin_run(node *n, size_t argc, const ballot_resp_arg *argv, ballot_buf *out);
void admin_submitted(node *n, origin *to, const ballot_rbuf *cmd);

/* peer.c */
int peer_start(node *n, ballot_errmsg *em);
peer_conn *peer_find(node *n, uint64_t id);
/* Matches the peer connections to the configuration in force: connects to new members,
 * stops reconnecting to removed ones. Cheap when nothing changed; call after each ready. */
void peer_sync_config(node *n);
/* Writes what each peer's connection queued this turn, one write per peer; runs just
 * before the loop waits (a prepare handle), so a turn's frames leave together. */
void peer_flush_all(node *n);
void peer_send_msg(node *n, ballot_msg *m);   /* takes ownership of m */
void peer_send_forward(node *n, uint64_t to, bool response, uint64_t id, int32_t error, const void *data, size_t len);
void peer_close_all(node *n);

/* client.c */
int client_start(node *n, ballot_errmsg *em);
void client_slot_done(node *n, client_conn *c);
/* Writes the replies that became ready this turn, one write per connection. */
void client_flush_all(node *n);
void client_release(client_conn *c);
void client_close_all(node *n);

#endif
