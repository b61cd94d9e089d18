/* The node runtime behind ballotd: the Raft core and the key-value state machine wired to
 * a libuv event loop, TCP peers, a durable store and Redis-protocol clients.
 *
 * One loop thread runs everything but the slow disk work: a follower's and a small leader
 * batch's sync run on the loop, a leader's larger batches on libuv's thread pool while the
 * loop keeps receiving, and a leader's appends leave before its own sync completes (thesis
 * §10.2.1). Snapshots are written by a forked child (node_snapshot.c); compacted segments
 * are removed and spare ones prepared on the pool. A client is answered only after its
 * write is committed and applied, or its read confirmed by ReadIndex. */
#ifndef BALLOT_NODE_H
#define BALLOT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"

typedef struct ballot_node_peer {
	uint64_t id;
	char address[BALLOT_ADDRESS_MAX]; /* host:port of its peer listener */
} ballot_node_peer;

typedef struct ballot_node_config {
	uint64_t id;
	uint64_t cluster_id;                 /* peers of another cluster are refused */
	unsigned peer_count;                 /* every member, this node included */
	ballot_node_peer peers[BALLOT_RAFT_MEMBERS_MAX];
	char listen[BALLOT_ADDRESS_MAX];     /* host:port for Redis clients */
	char data_dir[1024];
	char requirepass[256];               /* empty: no AUTH needed */
	unsigned tick_ms;
	unsigned election_ticks, heartbeat_ticks;
	uint64_t snapshot_entries;           /* take a snapshot every this many applied entries */
	uint64_t snapshot_bytes;             /* ... or once the entries applied since hold this many bytes */
	bool snapshot_fork;                  /* a child process writes snapshots (else a pool thread) */
	unsigned leader_sync_ms;             /* a leader the followers outpace syncs at most this often */
	unsigned clients_max;
	unsigned no_leader_wait_ms;          /* how long a request waits for a leader */
	bool join;                           /* a new member: wait to be added, do not bootstrap */
	bool redirect;                       /* followers answer -MOVED 0 leader instead of forwarding */
} ballot_node_config;

/* Defaults for everything but id, peers and data_dir. */
void ballot_node_config_default(ballot_node_config *c);

/* Checks a configuration: this node among the peers, ids unique and positive, addresses
 * host:port, limits respected. Returns 0 or BALLOT_EINVAL with a message. */
int ballot_node_config_check(const ballot_node_config *c, ballot_errmsg *em);

/* Runs the node until SIGINT or SIGTERM (returns 0) or a fatal error (returns a negative
 * code with a message: a corrupt data dir, a port in use, a failed sync). */
int ballot_node_run(const ballot_node_config *c, ballot_errmsg *em);

#endif
