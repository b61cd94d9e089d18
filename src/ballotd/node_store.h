/* The node's durable store, as the node runtime sees it: open and recover a data dir,
 * persist a ready (snapshot, hard state, entries, then one sync), save a snapshot.
 *
 * node_store_persist runs on a worker thread while the loop goes on; it touches nothing
 * but the store and the ready it is given (whose payloads are immutable). Only one call
 * into a store runs at a time (the node never persists two readies at once, and adopts a
 * snapshot only between persists), except node_store_write_snapshot_file, which reads
 * nothing of the store but its directory's name and may run beside any of them, on a
 * worker thread or in a child process. */
#ifndef BALLOT_NODE_STORE_H
#define BALLOT_NODE_STORE_H

#include "ballot/fs.h"
#include "ballot/raft.h"
#include "common/buf.h"

typedef struct node_store node_store;

/* Opens (creating if new) the data dir and recovers it into *st: for a new dir, hard state
 * zero, no snapshot, no entries, and st->snap_config left as the caller set it (the
 * bootstrap members). Entries and snapshot data in *st belong to the store until
 * node_store_close; the snapshot's bytes are mapped from its file when they can be. Warnings (a torn last record truncated) are appended to warnings. */
int node_store_open(const char *dir, node_store **out, ballot_raft_storage *st, ballot_buf *warnings,
		    ballot_errmsg *em);
/* Makes a ready durable: snapshot, hard state, entries (truncating from the first), sync. */
int node_store_persist(node_store *s, const ballot_raft_ready *rd, ballot_errmsg *em);
/* A snapshot of the state machine at (index, term, config) in two steps (see
 * ballot_storage_write_snapshot_file): its file written durably, then adopted. */
int node_store_write_snapshot_file(const node_store *s, uint64_t index, uint64_t term, const ballot_config *config,
				   const ballot_rbuf *data, void (*pace)(void *), void *pace_ctx, ballot_errmsg *em);
int node_store_adopt_snapshot(node_store *s, uint64_t index, uint64_t term, const ballot_config *config,
			      uint64_t data_bytes, bool *adopted, ballot_errmsg *em);
/* Drops stored entries before log_start (whole segments the saved snapshot holds) from the
 * store at once; *paths names their files, for node_store_remove_files on any thread. */
int node_store_compact(node_store *s, uint64_t log_start, ballot_fs_names *paths, ballot_errmsg *em);
int node_store_remove_files(const ballot_fs_names *paths, ballot_errmsg *em);
/* The saved snapshot's state-machine bytes, mapped from its file (read-only, paged in on
 * use) rather than copied into memory; NULL if there is none or it cannot be mapped. */
ballot_rbuf *node_store_map_snapshot(node_store *s);
/* A spare segment of zeros for the next roll (ballot_storage_prepare_spare): any thread. */
int node_store_prepare_spare(const node_store *s, ballot_errmsg *em);
/* Spares the store has taken since it opened (between persists, like every store call). */
uint64_t node_store_spares_taken(const node_store *s);
void node_store_close(node_store *s);

#endif
