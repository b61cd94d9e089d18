/* The Raft core's in-memory log: entries after the snapshot, and what is already stable.
 *
 * Index i (snap_index < i <= last) lives at entries[head + i - snap_index - 1]: compaction
 * moves head, not the entries (a log of 300,000 entries dropped 4,096 at a time was moved
 * whole each time, milliseconds per tick); an append that finds the array full moves them
 * to the front if the dropped part is as large as theirs, else grows it. The log holds one
 * reference on each entry's payload. Pure data structure: no I/O. */
#ifndef BALLOT_RAFT_LOG_H
#define BALLOT_RAFT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/raft.h"

typedef struct raft_log {
	ballot_entry *entries;
	size_t head, count, cap;
	uint64_t last_config;   /* the index of the last config entry appended, if still here */
	uint64_t snap_index, snap_term;
	uint64_t stable;        /* entries up to here are known persisted */
	uint64_t unstable_from; /* the first index not yet handed to a ready for persisting */
} raft_log;

void raft_log_init(raft_log *log, uint64_t snap_index, uint64_t snap_term);
void raft_log_free(raft_log *log);

static inline uint64_t raft_log_last(const raft_log *log)
{
	return log->snap_index + log->count;
}

/* The term at index: the snapshot's at snap_index, 0 if compacted away or past the end. */
uint64_t raft_log_term(const raft_log *log, uint64_t index);
uint64_t raft_log_last_term(const raft_log *log);
/* The entry at index, or NULL if compacted or past the end. */
const ballot_entry *raft_log_get(const raft_log *log, uint64_t index);

/* Appends one entry (index must be last + 1; a data reference is taken). */
int raft_log_append(raft_log *log, const ballot_entry *e);
/* Drops entries after index (index >= snap_index). */
void raft_log_truncate_after(raft_log *log, uint64_t index);
/* Drops entries up to index (snap_index < index <= last); the snapshot moves there. */
void raft_log_compact(raft_log *log, uint64_t index);
/* Drops everything and starts after a snapshot at (index, term). */
void raft_log_reset(raft_log *log, uint64_t index, uint64_t term);

/* The index of the last config entry at or below index, or 0 if the log holds none there
 * (the snapshot's config applies). Constant time unless a config entry past index was
 * appended since. */
uint64_t raft_log_config_before(const raft_log *log, uint64_t index);

/* The first index of the run of entries with the same term as index, not below floor. */
uint64_t raft_log_term_start(const raft_log *log, uint64_t index, uint64_t floor);
/* The last index holding an entry of term, at or below index; 0 if none. */
uint64_t raft_log_last_of_term(const raft_log *log, uint64_t term, uint64_t index);

#endif
