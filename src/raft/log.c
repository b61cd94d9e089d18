/* The Raft core's in-memory log (see raft/log.h). */
#include "raft/log.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/assert.h"

void raft_log_init(raft_log *log, uint64_t snap_index, uint64_t snap_term)
{
	memset(log, 0, sizeof *log);
	log->snap_index = snap_index;
	log->snap_term = snap_term;
	log->stable = snap_index;
	log->unstable_from = snap_index + 1;
}

static void unref_range(raft_log *log, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		ballot_rbuf_unref(log->entries[i].data);
}

void raft_log_free(raft_log *log)
{
	unref_range(log, log->head, log->head + log->count);
	free(log->entries);
	memset(log, 0, sizeof *log);
}

uint64_t raft_log_term(const raft_log *log, uint64_t index)
{
	if (index == log->snap_index)
		return log->snap_term;
	if (index < log->snap_index || index > raft_log_last(log))
		return 0;
	return log->entries[log->head + index - log->snap_index - 1].term;
}

uint64_t raft_log_last_term(const raft_log *log)
{
	return raft_log_term(log, raft_log_last(log));
}

const ballot_entry *raft_log_get(const raft_log *log, uint64_t index)
{
	if (index <= log->snap_index || index > raft_log_last(log))
		return NULL;
	return &log->entries[log->head + index - log->snap_index - 1];
}

int raft_log_append(raft_log *log, const ballot_entry *e)
{
	BALLOT_ASSERT(e->index == raft_log_last(log) + 1);
	BALLOT_ASSERT(e->term >= raft_log_last_term(log));
	if (log->head > 0 && log->head + log->count == log->cap && log->head >= log->count) {
		memmove(log->entries, log->entries + log->head, log->count * sizeof *log->entries);
		log->head = 0;
	}
	if (ballot_array_reserve(&log->entries, &log->cap, log->head + log->count, sizeof *log->entries, 64) != 0)
		return BALLOT_ENOMEM;
	log->entries[log->head + log->count] = *e;
	ballot_rbuf_ref(e->data);
	log->count++;
	if (e->type == BALLOT_ENTRY_CONFIG)
		log->last_config = e->index;
	return 0;
}

/* The last config entry at or below index, looking at each entry. */
static uint64_t scan_config(const raft_log *log, uint64_t index)
{
	for (; index > log->snap_index; index--) {
		if (raft_log_get(log, index)->type == BALLOT_ENTRY_CONFIG)
			return index;
	}
	return 0;
}

uint64_t raft_log_config_before(const raft_log *log, uint64_t index)
{
	if (index > raft_log_last(log))
		index = raft_log_last(log);
	if (log->last_config <= log->snap_index)
		return 0;
	return log->last_config <= index ? log->last_config : scan_config(log, index);
}

void raft_log_truncate_after(raft_log *log, uint64_t index)
{
	BALLOT_ASSERT(index >= log->snap_index);
	if (index >= raft_log_last(log))
		return;
	size_t keep = (size_t)(index - log->snap_index);
	unref_range(log, log->head + keep, log->head + log->count);
	log->count = keep;
	if (log->last_config > index)
		log->last_config = scan_config(log, index);
	if (log->stable > index)
		log->stable = index;
	if (log->unstable_from > index + 1)
		log->unstable_from = index + 1;
}

void raft_log_compact(raft_log *log, uint64_t index)
{
	BALLOT_ASSERT(index > log->snap_index);
	BALLOT_ASSERT(index <= raft_log_last(log));
	size_t drop = (size_t)(index - log->snap_index);
	uint64_t term = raft_log_term(log, index);
	unref_range(log, log->head, log->head + drop);
	log->head += drop;
	log->count -= drop;
	if (log->count == 0)
		log->head = 0;
	log->snap_index = index;
	log->snap_term = term;
	if (log->stable < index)
		log->stable = index;
	if (log->unstable_from < index + 1)
		log->unstable_from = index + 1;
}

void raft_log_reset(raft_log *log, uint64_t index, uint64_t term)
{
	unref_range(log, log->head, log->head + log->count);
	log->head = log->count = 0;
	log->last_config = 0;
	log->snap_index = index;
	log->snap_term = term;
	log->stable = index;
	log->unstable_from = index + 1;
}

uint64_t raft_log_term_start(const raft_log *log, uint64_t index, uint64_t floor)
{
	uint64_t term = raft_log_term(log, index);
	if (floor <= log->snap_index)
		floor = log->snap_index + 1;
	while (index > floor && raft_log_term(log, index - 1) == term)
		index--;
	return index;
}

uint64_t raft_log_last_of_term(const raft_log *log, uint64_t term, uint64_t index)
{
	if (index > raft_log_last(log))
		index = raft_log_last(log);
	for (; index > log->snap_index; index--) {
		uint64_t t = raft_log_term(log, index);
		if (t == term)
			return index;
		if (t < term)
			return 0;
	}
	return index == log->snap_index && log->snap_term == term ? index : 0;
}
