/* The recovery walk: reads a data directory, verifies every file, and works out what a node
 * restarts from. It changes nothing; ballot_storage_open repairs afterwards what the walk
 * found, ballot_storage_inspect reports it.
 *
 * The rules (docs/storage.md, "Recovery"):
 *   - The newest snapshot (highest index) is the one; it must verify. Older ones are left
 *     over from a crash between saving a snapshot and removing its predecessor.
 *   - The live log starts at the last segment whose first index is at or below
 *     snap_index + 1; segments before it hold only entries the snapshot covers (left over
 *     from a crash during compaction; gaps among them do not matter). If every segment
 *     starts past snap_index + 1, entries are missing: corrupt.
 *   - Live segments must continue each other exactly, and only the last may be empty.
 *   - If the log holds snap_index with another term than the snapshot's, or ends before
 *     snap_index, it is a log the snapshot replaced (a crash while installing a snapshot
 *     from the leader): dropped whole (Raft §7: a snapshot that is not a prefix of the log
 *     replaces the log). */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "storage/storage_internal.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int push_u64(uint64_t **arr, size_t *count, size_t *cap, uint64_t v)
{
	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		uint64_t *a = realloc(*arr, ncap * sizeof *a);
		if (a == NULL)
			return BALLOT_ENOMEM;
		*arr = a;
		*cap = ncap;
	}
	(*arr)[(*count)++] = v;
	return 0;
}

/* Per-walk scratch the record callback needs. */
typedef struct walk_ctx {
	storage_walk *w;
	const char *file;
	uint64_t snap_index;
	bool saw_snap_index;
	uint64_t term_at_snap_index;
} walk_ctx;

static int entry_push(storage_walk *w, const seg_record *rec, ballot_errmsg *em)
{
	if (w->entry_count == w->entry_cap) {
		size_t cap = w->entry_cap ? w->entry_cap * 2 : 256;
		ballot_entry *a = realloc(w->entries, cap * sizeof *a);
		if (a == NULL)
			return ballot_errorf(em, BALLOT_ENOMEM, "recovery: out of memory for %zu entries", cap);
		w->entries = a;
		w->entry_cap = cap;
	}
	ballot_rbuf *data = NULL;
	if (rec->h.len > 0 && (data = ballot_rbuf_new_unforked(rec->payload, rec->h.len)) == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "recovery: out of memory for entry %llu",
				     (unsigned long long)rec->h.index);
	w->entries[w->entry_count++] = (ballot_entry){.term = rec->h.term, .index = rec->h.index,
						      .type = rec->h.etype, .data = data};
	return 0;
}

static int walk_record(void *arg, const seg_record *rec, ballot_errmsg *em)
{
	walk_ctx *c = arg;
	storage_walk *w = c->w;
	bool covered = rec->h.index <= c->snap_index;
	if (rec->h.index == c->snap_index) {
		c->saw_snap_index = true;
		c->term_at_snap_index = rec->h.term;
	}
	if (w->records++ == 0)
		w->first_term = rec->h.term;
	w->last_term = rec->h.term;
	if (w->visitor != NULL && w->visitor->record != NULL) {
		ballot_storage_record r = {.file = c->file, .offset = rec->offset, .index = rec->h.index,
					   .term = rec->h.term, .type = rec->h.etype, .payload = rec->payload,
					   .len = rec->h.len, .covered = covered};
		w->visitor->record(w->visitor->ctx, &r);
	}
	if (w->collect && !covered)
		return entry_push(w, rec, em);
	return 0;
}

static void drop_entries(storage_walk *w)
{
	for (size_t i = 0; i < w->entry_count; i++)
		ballot_rbuf_unref(w->entries[i].data);
	w->entry_count = 0;
}

static int read_snapshots(storage_walk *w, const uint64_t *snaps, size_t count, ballot_errmsg *em)
{
	if (count == 0)
		return 0;
	char name[64], path[BALLOT_STORAGE_PATH_MAX];
	uint64_t newest = snaps[count - 1];
	storage_name(name, sizeof name, newest, SNAP_SUFFIX);
	int rc = storage_path(path, w->dir, name, em);
	if (rc == 0)
		rc = snapshot_read(w->fs, path, newest, &w->snap, w->collect ? &w->snap_data : NULL, em);
	if (rc != 0)
		return rc;
	w->has_snapshot = true;
	w->old_snaps = malloc(count * sizeof *w->old_snaps);
	if (w->old_snaps == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "recovery: out of memory");
	memcpy(w->old_snaps, snaps, (count - 1) * sizeof *snaps);
	w->old_snap_count = count - 1;
	return 0;
}

static int scan_segments(storage_walk *w, const uint64_t *segs, size_t count, ballot_errmsg *em)
{
	uint64_t snap_index = w->has_snapshot ? w->snap.index : 0;
	size_t base = count;
	for (size_t i = 0; i < count; i++) {
		if (segs[i] <= snap_index + 1)
			base = i;
	}
	char name[64], path[BALLOT_STORAGE_PATH_MAX];
	if (base == count) {
		storage_name(name, sizeof name, segs[0], SEG_SUFFIX);
		int rc = storage_path(path, w->dir, name, em);
		if (rc != 0)
			return rc;
		return storage_corrupt(em, path, 0, "the log starts at index %llu, but %s; entries %llu to %llu are "
				       "missing", (unsigned long long)segs[0],
				       w->has_snapshot ? "the snapshot ends before it" : "there is no snapshot",
				       (unsigned long long)snap_index + 1, (unsigned long long)segs[0] - 1);
	}
	w->stale = malloc((base + 1) * sizeof *w->stale);
	w->segs = calloc(count - base, sizeof *w->segs);
	if (w->stale == NULL || w->segs == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "recovery: out of memory");
	memcpy(w->stale, segs, base * sizeof *segs);
	w->stale_count = base;
	walk_ctx c = {.w = w, .snap_index = snap_index, .file = name};
	uint64_t prev_term = 0;
	for (size_t i = base; i < count; i++) {
		bool last = i + 1 == count;
		storage_name(name, sizeof name, segs[i], SEG_SUFFIX);
		int rc = storage_path(path, w->dir, name, em);
		if (rc != 0)
			return rc;
		if (w->seg_count > 0) {
			const storage_segment *prev = &w->segs[w->seg_count - 1];
			if (prev->count == 0)
				return storage_corrupt(em, path, 0, "the segment before it holds no record");
			if (segs[i] != prev->first_index + prev->count)
				return storage_corrupt(em, path, 0, "the log jumps from index %llu to %llu (a segment is "
						       "missing)", (unsigned long long)(prev->first_index + prev->count - 1),
						       (unsigned long long)segs[i]);
		}
		storage_segment *seg = &w->segs[w->seg_count++];
		seg_tail tail;
		rc = segment_scan(w->fs, path, segs[i], last, prev_term, walk_record, &c, seg, &tail, em);
		if (rc != 0)
			return rc;
		if (seg->count > 0)
			prev_term = seg->last_term;
		if (last)
			w->tail = tail;
		else if (tail.junk_end > seg->end)
			storage_note(&w->notes, "%s: %llu bytes of unsynced leftovers after offset %llu, ignored", name,
				     (unsigned long long)(tail.junk_end - seg->end), (unsigned long long)seg->end);
		if (w->visitor != NULL && w->visitor->segment != NULL) {
			ballot_storage_segment_info info = {.file = name, .first_index = seg->first_index,
							    .last_index = seg->first_index + seg->count - 1,
							    .records = seg->count, .bytes_used = seg->end,
							    .bytes = seg->size};
			w->visitor->segment(w->visitor->ctx, &info);
		}
	}
	/* Does the log continue the snapshot? */
	const storage_segment *lastseg = &w->segs[w->seg_count - 1];
	uint64_t last_index = lastseg->first_index + lastseg->count - 1;
	if (snap_index > 0 && w->records > 0) {
		if (last_index < snap_index) {
			w->discard_log = true;
			storage_note(&w->notes, "the log ends at index %llu, before the snapshot at %llu: it is dropped",
				     (unsigned long long)last_index, (unsigned long long)snap_index);
		} else if (c.saw_snap_index && c.term_at_snap_index != w->snap.term) {
			w->discard_log = true;
			storage_note(&w->notes, "the log has term %llu at index %llu, the snapshot term %llu: the "
				     "snapshot replaced this log, which is dropped",
				     (unsigned long long)c.term_at_snap_index, (unsigned long long)snap_index,
				     (unsigned long long)w->snap.term);
		}
	}
	if (w->discard_log)
		drop_entries(w);
	return 0;
}

int storage_walk_run(storage_walk *w, ballot_errmsg *em)
{
	int rc = ballot_fs_list(w->fs, w->dir, &w->names, em);
	if (rc != 0)
		return rc;
	uint64_t *segs = NULL, *snaps = NULL;
	size_t seg_count = 0, seg_cap = 0, snap_count = 0, snap_cap = 0;
	bool has_hs = false;
	for (size_t i = 0; i < w->names.count && rc == 0; i++) {
		const char *name = w->names.names[i];
		uint64_t index;
		size_t len = strlen(name);
		if (strcmp(name, HS_NAME) == 0)
			has_hs = true;
		else if (storage_name_parse(name, SEG_SUFFIX, &index))
			rc = push_u64(&segs, &seg_count, &seg_cap, index);
		else if (storage_name_parse(name, SNAP_SUFFIX, &index))
			rc = push_u64(&snaps, &snap_count, &snap_cap, index);
		else if (strcmp(name, LOCK_NAME) != 0 && strcmp(name, SPARE_NAME) != 0 &&
			 !(len > strlen(TMP_SUFFIX) && strcmp(name + len - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0))
			storage_note(&w->notes, "ignoring %s: not a file ballot writes", name);
	}
	if (rc != 0) {
		rc = ballot_errorf(em, rc, "recovery: out of memory");
		goto free_lists;
	}
	if (seg_count > 1)
		qsort(segs, seg_count, sizeof *segs, cmp_u64);
	if (snap_count > 1)
		qsort(snaps, snap_count, sizeof *snaps, cmp_u64);
	if (!has_hs && seg_count == 0 && snap_count == 0) {
		w->empty = true;
		goto free_lists;
	}
	char path[BALLOT_STORAGE_PATH_MAX];
	rc = storage_path(path, w->dir, HS_NAME, em);
	if (rc == 0 && !has_hs)
		rc = storage_corrupt(em, path, 0, "the hard state file is missing, but the directory holds %s",
				     seg_count > 0 ? "log segments" : "snapshots");
	unsigned bad_slot = 2;
	if (rc == 0)
		rc = hardstate_read(w->fs, path, &w->hs, &w->hs_repair, &bad_slot, em);
	if (rc == 0) {
		w->has_hard_state = true;
		if (bad_slot < 2)
			storage_note(&w->notes, "%s: copy %u is damaged; copy %u (save %llu) is used", HS_NAME, bad_slot,
				     1 - bad_slot, (unsigned long long)w->hs.seq);
	}
	if (rc == 0)
		rc = read_snapshots(w, snaps, snap_count, em);
	if (rc == 0 && seg_count > 0)
		rc = scan_segments(w, segs, seg_count, em);
free_lists:
	free(segs);
	free(snaps);
	return rc;
}

void storage_walk_release_entries(storage_walk *w)
{
	w->entries = NULL;
	w->entry_count = 0;
	w->entry_cap = 0;
}

void storage_walk_free(storage_walk *w)
{
	drop_entries(w);
	free(w->entries);
	ballot_rbuf_unref(w->snap_data);
	for (size_t i = 0; i < w->seg_count; i++)
		segment_free(&w->segs[i]);
	free(w->segs);
	free(w->stale);
	free(w->old_snaps);
	ballot_fs_names_free(&w->names);
	w->entries = NULL;
	w->snap_data = NULL;
	w->segs = NULL;
	w->seg_count = 0;
	w->stale = NULL;
	w->old_snaps = NULL;
}
