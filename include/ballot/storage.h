/* ballot storage: one node's durable state in a data directory, over a ballot_fs.
 *
 * A data directory holds (formats byte by byte in docs/storage.md):
 *   LOCK                       held (flock) by the one process using the directory;
 *   hardstate                  term, vote and commit, written twice per save (two copies);
 *   NNNNNNNNNNNNNNNNNNNN.snap  a snapshot: position, configuration, state machine bytes;
 *   NNNNNNNNNNNNNNNNNNNN.wal   a log segment, named by the index of its first entry,
 *                              preallocated to a fixed size, filled with checksummed records.
 * Every file carries a format version and checksums; a check that fails is BALLOT_ECORRUPT
 * with the file, the byte offset and what to do. Recovery cuts a torn last record (a crash
 * in the middle of a write) with a warning, and refuses everything else that is damaged:
 * it never drops or rewrites a record that valid records follow.
 *
 * A driver persists a ready of the Raft core (ballot/raft.h) in the core's order:
 *
 *     if (rd.has_snapshot)        ballot_storage_install_snapshot(s, rd.snap_index, ...);
 *     if (rd.hard_state_changed)  ballot_storage_save_hard_state(s, &rd.hard_state, em);
 *     if (rd.entry_count > 0) {   ballot_storage_truncate(s, rd.entries[0].index, em);
 *                                 ballot_storage_append(s, rd.entries, rd.entry_count, em); }
 *     ballot_storage_sync(s, em);  -- one fdatasync for every entry of the ready
 *
 * and after ballot_raft_compact(r, index, data): ballot_storage_save_snapshot(s, index, ...),
 * then ballot_storage_compact(s, status.first_index - 1). Appends are durable only after
 * ballot_storage_sync returns 0; every other mutating call is durable when it returns.
 *
 * A call that fails with BALLOT_EIO leaves the storage failed: what reached the disk is
 * unknown (after a failed fdatasync the kernel may have dropped the dirty pages), so every
 * later mutating call fails too, and the node must restart and recover from what is on disk.
 * One thread uses a storage at a time. */
#ifndef BALLOT_STORAGE_H
#define BALLOT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/fs.h"
#include "ballot/limits.h"
#include "ballot/raft.h"
#include "ballot/rbuf.h"

/* The on-disk format version this build writes and reads. */
#define BALLOT_STORAGE_FORMAT_VERSION 1

typedef struct ballot_storage ballot_storage;

typedef struct ballot_storage_options {
	/* Preallocated size of a log segment, in [BALLOT_WAL_SEGMENT_BYTES_MIN,
	 * BALLOT_WAL_SEGMENT_BYTES_MAX]; existing segments keep the size they were made with. */
	uint64_t segment_bytes;
	/* Open without the lock and change nothing: no repair, no write (for inspection). A
	 * torn tail is reported, not cut; mutating calls return BALLOT_EINVAL. */
	bool read_only;
} ballot_storage_options;

/* Fills o with the defaults (BALLOT_WAL_SEGMENT_BYTES_DEFAULT, read-write). */
void ballot_storage_options_default(ballot_storage_options *o);

/* What recovery found: everything ballot_raft_new needs, and what recovery had to do. */
typedef struct ballot_storage_recovery {
	/* Pass &state to ballot_raft_new. Its entries (snap_index+1 .. last, in order) and
	 * snap_data point into this structure: valid until ballot_storage_recovery_free.
	 * Without a snapshot, snap_index, snap_term are 0 and snap_config is empty (the driver
	 * fills in the bootstrap configuration); snap_data is NULL only for snap_index 0. */
	ballot_raft_storage state;
	bool has_snapshot;
	bool fresh; /* the directory was empty (or missing) and has been initialised */
	/* Notices: a torn tail cut, unsynced leftovers zeroed, a damaged copy of the hard state
	 * replaced by the good one, older snapshots removed, a log the snapshot replaced
	 * dropped. Not errors; a node logs them. */
	unsigned warning_count; /* kept in warnings[] */
	unsigned warnings_lost; /* beyond BALLOT_STORAGE_WARNINGS_MAX */
	char warnings[BALLOT_STORAGE_WARNINGS_MAX][BALLOT_ERRMSG_MAX];
	/* owned; use state */
	ballot_entry *entries_;
	ballot_rbuf *snap_data_;
} ballot_storage_recovery;

/* Releases just the snapshot's bytes (state.snap_data becomes NULL), for a driver that
 * holds them another way (ballot_storage_snapshot_location). */
void ballot_storage_recovery_release_snapshot(ballot_storage_recovery *rec);

/* Releases the entries and snapshot data recovery returned (their references). */
void ballot_storage_recovery_free(ballot_storage_recovery *rec);

/* Opens (creating it if missing or empty) the data directory dir and recovers it into rec
 * (the caller frees it with ballot_storage_recovery_free, also after a failure). Takes the
 * lock; repairs what a crash leaves (cuts a torn tail, removes temporary files, segments
 * and snapshots a newer snapshot covers); then makes everything it read durable before
 * returning, so nothing a node acts on after a restart can vanish in a later power loss.
 * Returns 0, BALLOT_EBUSY (another process holds the lock), BALLOT_ECORRUPT (damage that a
 * crash cannot explain; the message names the file and offset), BALLOT_EIO, BALLOT_EINVAL
 * (bad options, a path too long), BALLOT_ENOMEM. The fs must outlive the storage. */
int ballot_storage_open(ballot_fs *fs, const char *dir, const ballot_storage_options *opts,
			ballot_storage **out, ballot_storage_recovery *rec, ballot_errmsg *em);

/* Closes the files and releases the lock. Does not sync: appends not yet synced are left to
 * the operating system, as a crash would leave them. NULL is allowed. */
void ballot_storage_close(ballot_storage *s);

/* Appends entries to the log. Precondition for success: entries[0].index is the last index
 * + 1 (truncate first on a conflict), indexes are consecutive, terms do not go back, types
 * are ballot_entry_type values and payloads at most BALLOT_RAFT_ENTRY_BYTES_MAX (else
 * BALLOT_EINVAL, nothing appended). The payloads are copied (a data reference is not kept);
 * a NULL payload and an empty one are both stored as empty and recovered as NULL. The
 * entries are durable only after ballot_storage_sync. Filling a segment seals it (fdatasync)
 * and starts the next one. */
int ballot_storage_append(ballot_storage *s, const ballot_entry *entries, size_t count, ballot_errmsg *em);

/* Writes what append buffered and makes every appended entry durable: one fdatasync
 * (group commit). A no-op when nothing is pending. */
int ballot_storage_sync(ballot_storage *s, ballot_errmsg *em);

/* Removes the entries from index `from` on (a conflict: Raft §5.3). Durable on return
 * (whole segments are unlinked newest first, then the cut segment is shrunk, synced, and
 * extended again). A no-op if from is past the last index. BALLOT_EINVAL if from is at or below the
 * snapshot's index (committed entries are never removed) or 0. BALLOT_ECORRUPT if the
 * record before the cut, read back from the disk for its term, was damaged since it was
 * written (the storage is then failed, like after BALLOT_EIO). */
int ballot_storage_truncate(ballot_storage *s, uint64_t from, ballot_errmsg *em);

/* Saves the hard state, durable on return. BALLOT_EINVAL if its term is below the saved
 * one (Raft §5.1: a server's term never goes back). The driver may skip a save whose only
 * change is commit: the core accepts a stored commit that lags. */
int ballot_storage_save_hard_state(ballot_storage *s, const ballot_hard_state *hs, ballot_errmsg *em);

/* Saves a snapshot of the state machine taken at log position (index, term) with the
 * configuration as of index, durable on return (temporary file, fdatasync, rename,
 * directory fsync); then removes older snapshots. Keeps the log (compact separately).
 * data may be NULL (empty) only for index 0 (the bootstrap configuration). BALLOT_EINVAL
 * if index is below the saved snapshot's or past the last log index, or data is too large
 * (BALLOT_RAFT_SNAPSHOT_BYTES_MAX). */
int ballot_storage_save_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				 const ballot_rbuf *data, ballot_errmsg *em);

/* The same in two steps, so a runtime can write a large snapshot while the log goes on:
 *  1. ballot_storage_write_snapshot_file writes the file durably under its final name in
 *     dir (the storage's directory). It uses no ballot_storage, so it may run on another
 *     thread, or in a child process, while the storage's owner goes on appending. It is
 *     written and synced BALLOT_SNAPSHOT_SIDE_SYNC_BYTES at a time, calling pace (if not
 *     NULL) between: a runtime pauses there, so the log's syncs get the disk meanwhile.
 *  2. ballot_storage_adopt_snapshot, back with the storage's owner, makes that file the
 *     storage's snapshot and removes the older one; *adopted says it did. If the storage
 *     installed a snapshot at or past index meanwhile, the written file is overtaken: it is
 *     removed (kept if at the same index, being a whole snapshot of that position) and
 *     *adopted is false. BALLOT_EINVAL if index is past the last log index.
 * A crash between the two leaves the newer snapshot beside the log, which recovery takes,
 * as after a crash between ballot_storage_save_snapshot and ballot_storage_compact. One
 * such write per directory at a time. */
int ballot_storage_write_snapshot_file(ballot_fs *fs, const char *dir, uint64_t index, uint64_t term,
				       const ballot_config *config, const ballot_rbuf *data, void (*pace)(void *),
				       void *pace_ctx, ballot_errmsg *em);
int ballot_storage_adopt_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				  uint64_t data_bytes, bool *adopted, ballot_errmsg *em);

/* Installs a snapshot received from the leader: saves it as above, then discards the whole
 * log (the next append is index + 1), durable on return. */
int ballot_storage_install_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				    const ballot_rbuf *data, ballot_errmsg *em);

/* Drops whole segments whose entries are all at or below index, keeping the segment that
 * holds index + 1 (and always the last segment). BALLOT_EINVAL if index is past the saved
 * snapshot (entries not in a snapshot are never dropped). */
int ballot_storage_compact(ballot_storage *s, uint64_t index, ballot_errmsg *em);

/* The same without the file system work, for a runtime that would rather not wait on it
 * (unlinking a large file can take long: a journal commit, discards): the segments leave the
 * storage at once, and *paths (freed with ballot_fs_names_free) names their files, for
 * ballot_storage_remove_files on any thread, later. Files left behind by a crash before
 * then hold only entries the snapshot has: recovery removes them. */
int ballot_storage_compact_detach(ballot_storage *s, uint64_t index, ballot_fs_names *paths, ballot_errmsg *em);
int ballot_storage_remove_files(ballot_fs *fs, const ballot_fs_names *paths, ballot_errmsg *em);

/* Spare segments. A new segment's blocks are reserved (posix_fallocate), and the file
 * system converts them at the first write into each: a journal commit inside the log's
 * fdatasync. A spare is a segment-sized file of zeros written beforehand, off the write path
 * (any thread, beside the storage): when the log rolls over to a new segment of that size it
 * takes the spare instead, and its syncs only write data. ballot_storage_prepare_spare makes
 * DIR/spare.wal of `bytes` zeros unless there is one (written as spare.wal.tmp
 * BALLOT_SPARE_SYNC_BYTES at a time, each synced, then renamed; pace, if not NULL, is called
 * between: a runtime
 * sleeps there, so the spare takes little of the disk at once); a spare of another size is
 * removed when a segment is made. Recovery keeps a spare and removes a half-written one.
 * status.spares_taken counts those taken. */
int ballot_storage_prepare_spare(ballot_fs *fs, const char *dir, uint64_t bytes, void (*pace)(void *), void *pace_ctx,
				 ballot_errmsg *em);

typedef struct ballot_storage_status {
	uint64_t first_index;  /* first entry held in the log (may be at or below snap_index); 0: none */
	uint64_t last_index;   /* last entry, or snap_index when the log is empty */
	uint64_t last_term;
	uint64_t synced_index; /* entries up to here are durable */
	uint64_t snap_index, snap_term;
	bool has_snapshot;
	ballot_hard_state hard_state;
	unsigned segment_count;
	uint64_t spares_taken; /* spare segments taken since open */
	bool failed; /* an earlier I/O error: restart the node */
} ballot_storage_status;

void ballot_storage_status_get(const ballot_storage *s, ballot_storage_status *st);

/* Where the saved snapshot's state-machine bytes lie, for a caller that maps them rather
 * than keep a copy in memory: the file's path (under the data dir), the bytes' offset in
 * it and their length. The file is immutable until the next snapshot replaces it (a mapping
 * of it stays valid after it is removed). BALLOT_EINVAL if there is no snapshot or it is
 * empty; BALLOT_ELIMIT if path does not fit in cap. */
int ballot_storage_snapshot_location(const ballot_storage *s, char *path, size_t cap, uint64_t *offset,
				     uint64_t *len);

/* ---- inspection (ballot wal check, ballot wal dump) -------------------------------- */

/* One record of the log, as an inspection visits it (borrowed for the call). */
typedef struct ballot_storage_record {
	const char *file;   /* the segment's name in the data directory */
	uint64_t offset;    /* of the record in the segment */
	uint64_t index, term;
	uint8_t type;       /* ballot_entry_type */
	const unsigned char *payload;
	size_t len;
	bool covered;       /* at or below the snapshot's index: not replayed */
} ballot_storage_record;

typedef struct ballot_storage_segment_info {
	const char *file;
	uint64_t first_index, last_index; /* last_index = first_index - 1 when empty */
	uint64_t records;
	uint64_t bytes_used, bytes; /* header and records; file size */
} ballot_storage_segment_info;

typedef struct ballot_storage_visitor {
	void *ctx;
	void (*segment)(void *ctx, const ballot_storage_segment_info *seg); /* after its records */
	void (*record)(void *ctx, const ballot_storage_record *rec);
} ballot_storage_visitor;

/* What an inspection found. */
typedef struct ballot_storage_report {
	bool empty; /* no hard state, no snapshot, no log: not a data directory (yet) */
	bool has_hard_state;
	ballot_hard_state hard_state;
	uint64_t hard_state_sequence; /* saves since the directory was made */
	bool has_snapshot;
	uint64_t snap_index, snap_term;
	ballot_config snap_config;
	uint64_t snap_data_bytes;
	unsigned segment_count;       /* live segments */
	unsigned stale_segment_count; /* covered by the snapshot; the next open removes them */
	uint64_t first_index, last_index; /* records in live segments; 0, 0 if none */
	uint64_t first_term, last_term;
	uint64_t records;
	uint64_t entries_after_snapshot; /* what a restart replays */
	bool log_discarded; /* the log does not continue the snapshot; the next open drops it */
	bool torn_tail;     /* the next open cuts the last segment at torn_offset */
	uint64_t torn_offset;
	unsigned warning_count;
	unsigned warnings_lost;
	char warnings[BALLOT_STORAGE_WARNINGS_MAX][BALLOT_ERRMSG_MAX];
} ballot_storage_report;

/* Reads a data directory without changing anything and without the lock: verifies every
 * file and record as recovery would (and the snapshot's data checksum), calling the visitor
 * (may be NULL) for each live segment and record in log order. Returns 0 (healthy: the next
 * open will succeed; rep says what it would repair), BALLOT_ECORRUPT (message names the file
 * and offset), BALLOT_EIO, BALLOT_ENOMEM. rep is filled as far as the inspection got. */
int ballot_storage_inspect(ballot_fs *fs, const char *dir, const ballot_storage_visitor *visitor,
			   ballot_storage_report *rep, ballot_errmsg *em);

#endif
