/* One node's durable state (see ballot/storage.h): opening and repairing a data directory,
 * the log writer with group commit, truncation, compaction, snapshots and the hard state.
 *
 * The writer keeps, for the last segment: `flushed`, the bytes written to the file, and
 * `synced`, the bytes known durable (the last fdatasync); records appended since the last
 * write wait in `wbuf`, so a batch reaches the file in one write when it fits the buffer.
 * Every record carries `synced` as it was when the record was encoded: what it proves to be
 * durable lets recovery tell lost unsynced writes from damage (segment.c). Older segments
 * are sealed (fdatasynced) before the next one is created, so only the last segment ever
 * holds unsynced bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "storage/storage_internal.h"

struct ballot_storage {
	ballot_fs *fs;
	char dir[BALLOT_STORAGE_PATH_MAX];
	ballot_storage_options opts;
	ballot_file *lock;
	ballot_file *hs_file;
	hs_slot hs;
	bool has_snapshot;
	uint64_t snap_index, snap_term;
	uint64_t snap_data_offset, snap_data_bytes; /* where the machine's bytes lie in its file */
	storage_segment *segs;
	size_t seg_count, seg_cap;
	ballot_file *cur; /* the last segment, open for writing (NULL: not open, or no segment) */
	uint64_t flushed, synced;
	unsigned char *wbuf;
	size_t wlen, wcap;
	uint64_t last_index, last_term, synced_index;
	uint64_t spares_taken;
	bool failed;
	ballot_errmsg failure;
};

void ballot_storage_options_default(ballot_storage_options *o)
{
	memset(o, 0, sizeof *o);
	o->segment_bytes = BALLOT_WAL_SEGMENT_BYTES_DEFAULT;
}

void ballot_storage_recovery_release_snapshot(ballot_storage_recovery *rec)
{
	ballot_rbuf_unref(rec->snap_data_);
	rec->snap_data_ = NULL;
	rec->state.snap_data = NULL;
}

void ballot_storage_recovery_free(ballot_storage_recovery *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; rec->entries_ != NULL && i < rec->state.entry_count; i++)
		ballot_rbuf_unref(rec->entries_[i].data);
	free(rec->entries_);
	ballot_rbuf_unref(rec->snap_data_);
	rec->entries_ = NULL;
	rec->snap_data_ = NULL;
	rec->state.entries = NULL;
	rec->state.entry_count = 0;
	rec->state.snap_data = NULL;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static storage_segment *last_seg(ballot_storage *s)
{
	return s->seg_count > 0 ? &s->segs[s->seg_count - 1] : NULL;
}

static int seg_path(const ballot_storage *s, uint64_t first, const char *suffix, char *out, ballot_errmsg *em)
{
	char name[64];
	storage_name(name, sizeof name, first, suffix);
	return storage_path(out, s->dir, name, em);
}

/* Marks the storage failed after an error that leaves the disk in an unknown state. */
static int fail(ballot_storage *s, int rc, ballot_errmsg *em)
{
	BALLOT_ASSERT(rc < 0);
	if (!s->failed) {
		s->failed = true;
		if (em != NULL)
			s->failure = *em;
		else
			ballot_errorf(&s->failure, rc, "%s", ballot_strerror(rc));
	}
	return rc;
}

static int check_writable(const ballot_storage *s, ballot_errmsg *em)
{
	if (s->opts.read_only)
		return ballot_errorf(em, BALLOT_EINVAL, "data dir %s was opened read-only", s->dir);
	if (s->failed)
		return ballot_errorf(em, BALLOT_EIO, "storage failed earlier (%s); restart the node to recover "
				     "from what is on disk", s->failure.text);
	return 0;
}

static int remove_file(ballot_storage *s, const char *name, ballot_errmsg *em)
{
	char path[BALLOT_STORAGE_PATH_MAX];
	int rc = storage_path(path, s->dir, name, em);
	return rc != 0 ? rc : ballot_fs_unlink(s->fs, path, em);
}

static int remove_segment(ballot_storage *s, uint64_t first, bool sync_dir, ballot_errmsg *em)
{
	char path[BALLOT_STORAGE_PATH_MAX];
	int rc = seg_path(s, first, SEG_SUFFIX, path, em);
	if (rc == 0)
		rc = ballot_fs_unlink(s->fs, path, em);
	if (rc == 0 && sync_dir)
		rc = ballot_fs_sync_dir(s->fs, s->dir, em);
	return rc;
}

static int segs_reserve(ballot_storage *s, size_t n)
{
	if (n <= s->seg_cap)
		return 0;
	size_t cap = s->seg_cap ? s->seg_cap * 2 : 16;
	while (cap < n)
		cap *= 2;
	storage_segment *a = realloc(s->segs, cap * sizeof *a);
	if (a == NULL)
		return BALLOT_ENOMEM;
	s->segs = a;
	s->seg_cap = cap;
	return 0;
}

/* Opens the last segment for writing; everything in it is durable (sealed or recovered). */
static int open_last(ballot_storage *s, ballot_errmsg *em)
{
	storage_segment *seg = last_seg(s);
	if (s->cur != NULL || seg == NULL)
		return 0;
	char path[BALLOT_STORAGE_PATH_MAX];
	int rc = seg_path(s, seg->first_index, SEG_SUFFIX, path, em);
	if (rc == 0)
		rc = ballot_fs_open(s->fs, path, BALLOT_FS_RDWR, &s->cur, em);
	if (rc != 0)
		return rc;
	s->flushed = s->synced = seg->end;
	s->wlen = 0;
	return 0;
}

static void close_cur(ballot_storage *s)
{
	ballot_fs_close(s->fs, s->cur);
	s->cur = NULL;
	s->wlen = 0;
}

/* Cuts the open last segment to `end` bytes and restores its preallocated size.
 *
 * Shrinking the file (a size change, made durable by the fdatasync) removes the old bytes
 * at once; writing zeros over them would not: a crash in the middle of that write could
 * leave zeros followed by old records, which recovery would rightly call corruption. If
 * the crash comes before the fdatasync, the old bytes are all still there, which is the
 * state before the cut. Extending the file again afterwards need not be durable: a segment
 * that is shorter than it was made is read as far as it goes. */
static int cut_file(ballot_storage *s, uint64_t end, uint64_t size, ballot_errmsg *em)
{
	int rc = ballot_fs_truncate(s->fs, s->cur, end, em);
	if (rc == 0)
		rc = ballot_fs_datasync(s->fs, s->cur, em);
	if (rc == 0)
		rc = ballot_fs_preallocate(s->fs, s->cur, size, em);
	return rc;
}

/* ---- opening ------------------------------------------------------------------------------ */

/* The directory holding dir ("." for a relative single name). */
static void parent_dir(const char *dir, char *out)
{
	const char *slash = strrchr(dir, '/');
	if (slash == NULL) {
		strcpy(out, ".");
		return;
	}
	size_t len = slash == dir ? 1 : (size_t)(slash - dir);
	memcpy(out, dir, len);
	out[len] = '\0';
}

static int prepare_dir(ballot_storage *s, ballot_errmsg *em)
{
	bool created = false;
	int rc = ballot_fs_mkdir(s->fs, s->dir, &created, em);
	if (rc == 0 && created) {
		/* The directory's own name must survive a power loss, or all it will hold does not. */
		char parent[BALLOT_STORAGE_PATH_MAX];
		parent_dir(s->dir, parent);
		rc = ballot_fs_sync_dir(s->fs, parent, em);
	}
	if (rc != 0)
		return rc;
	char path[BALLOT_STORAGE_PATH_MAX];
	rc = storage_path(path, s->dir, LOCK_NAME, em);
	if (rc == 0)
		rc = ballot_fs_lock(s->fs, path, &s->lock, em);
	if (rc == BALLOT_EBUSY)
		return ballot_errorf(em, BALLOT_EBUSY, "data dir %s is in use by another process (lock file %s)", s->dir,
				     path);
	return rc;
}

/* Removes the temporary files of writes a crash interrupted (never renamed: never used). */
static int remove_temporaries(ballot_storage *s, storage_walk *w, ballot_errmsg *em)
{
	int rc = 0;
	for (size_t i = 0; i < w->names.count && rc == 0; i++) {
		const char *name = w->names.names[i];
		size_t len = strlen(name), tlen = strlen(TMP_SUFFIX);
		if (len > tlen && strcmp(name + len - tlen, TMP_SUFFIX) == 0)
			rc = remove_file(s, name, em);
	}
	return rc;
}

/* Removes what the walk found left over by a crash; makes the directory durable. */
static int repair(ballot_storage *s, storage_walk *w, storage_notes *notes, ballot_errmsg *em)
{
	int rc = 0;
	for (size_t i = 0; i < w->old_snap_count && rc == 0; i++) {
		char name[64];
		storage_name(name, sizeof name, w->old_snaps[i], SNAP_SUFFIX);
		rc = remove_file(s, name, em);
		if (rc == 0)
			storage_note(notes, "removed %s: a newer snapshot exists", name);
	}
	/* Segments the snapshot covers (kept behind it for slow followers, or left by a crash
	 * during compaction): a restarted core starts from the snapshot, so they go, oldest
	 * first (any subset a crash leaves is still stale). Not worth a notice. */
	for (size_t i = 0; i < w->stale_count && rc == 0; i++)
		rc = remove_segment(s, w->stale[i], false, em);
	if (rc == 0)
		rc = ballot_fs_sync_dir(s->fs, s->dir, em);
	if (rc != 0 || w->seg_count == 0)
		return rc;
	if (w->discard_log) {
		/* Newest first, each durable before the next: a crash leaves a prefix of the log. */
		for (size_t i = w->seg_count; i-- > 0 && rc == 0;)
			rc = remove_segment(s, w->segs[i].first_index, true, em);
		for (size_t i = 0; i < w->seg_count; i++)
			segment_free(&w->segs[i]);
		w->seg_count = 0;
		return rc;
	}
	storage_segment *seg = &w->segs[w->seg_count - 1];
	char name[64];
	storage_name(name, sizeof name, seg->first_index, SEG_SUFFIX);
	if (w->tail.torn)
		storage_note(notes, "%s: cut a torn record at offset %llu (a write cut short by a crash; it was never "
			     "acknowledged)", name, (unsigned long long)seg->end);
	else if (w->tail.leftovers)
		storage_note(notes, "%s: zeroed unsynced records after the end of the log at offset %llu", name,
			     (unsigned long long)seg->end);
	if (seg->count == 0) {
		/* Created for a record that did not survive: the next append recreates it. */
		rc = remove_segment(s, seg->first_index, true, em);
		segment_free(seg);
		w->seg_count--;
		return rc;
	}
	ballot_file *f = NULL;
	char path[BALLOT_STORAGE_PATH_MAX];
	rc = storage_path(path, s->dir, name, em);
	if (rc == 0)
		rc = ballot_fs_open(s->fs, path, BALLOT_FS_RDWR, &f, em);
	if (rc != 0)
		return rc;
	s->cur = f;
	if (w->tail.junk_end > seg->end)
		rc = cut_file(s, seg->end, seg->size, em);
	/* What we read may sit only in the page cache (a process crash keeps it there): make
	 * it durable before the node acts on it. */
	if (rc == 0)
		rc = ballot_fs_datasync(s->fs, f, em);
	s->cur = NULL;
	ballot_fs_close(s->fs, f);
	return rc;
}

static int open_hard_state(ballot_storage *s, storage_walk *w, storage_notes *notes, ballot_errmsg *em)
{
	char path[BALLOT_STORAGE_PATH_MAX];
	int rc = storage_path(path, s->dir, HS_NAME, em);
	if (rc != 0)
		return rc;
	if (w->empty) {
		hs_slot zero = {0};
		rc = hardstate_create(s->fs, s->dir, &zero, em);
		w->hs = zero;
	}
	if (rc == 0)
		rc = ballot_fs_open(s->fs, path, BALLOT_FS_RDWR, &s->hs_file, em);
	if (rc != 0)
		return rc;
	s->hs = w->hs;
	if (w->hs_repair) {
		/* The copies differ: make them agree before the node acts on this state, or a
		 * crash in the next save could fall back to the older copy. */
		s->hs.seq++;
		storage_note(notes, "%s: rewrote both copies with save %llu", HS_NAME, (unsigned long long)s->hs.seq);
		return hardstate_write(s->fs, s->hs_file, &s->hs, em);
	}
	return ballot_fs_datasync(s->fs, s->hs_file, em);
}

static void note_snapshot_layout(ballot_storage *s, const snap_meta *m)
{
	unsigned char config[BALLOT_CONFIG_ENCODED_MAX];
	s->snap_data_offset = SNAP_HEADER_BYTES + ballot_config_encode(&m->config, config);
	s->snap_data_bytes = m->data_bytes;
}

int ballot_storage_snapshot_location(const ballot_storage *s, char *path, size_t cap, uint64_t *offset, uint64_t *len)
{
	if (!s->has_snapshot || s->snap_data_bytes == 0)
		return BALLOT_EINVAL;
	char name[64];
	storage_name(name, sizeof name, s->snap_index, SNAP_SUFFIX);
	if ((size_t)snprintf(path, cap, "%s/%s", s->dir, name) >= cap)
		return BALLOT_ELIMIT;
	*offset = s->snap_data_offset;
	*len = s->snap_data_bytes;
	return 0;
}

/* Moves the walk's results into the storage and the recovery. */
static int take_walk(ballot_storage *s, storage_walk *w, ballot_storage_recovery *rec, ballot_errmsg *em)
{
	s->has_snapshot = w->has_snapshot;
	s->snap_index = w->has_snapshot ? w->snap.index : 0;
	s->snap_term = w->has_snapshot ? w->snap.term : 0;
	if (w->has_snapshot)
		note_snapshot_layout(s, &w->snap);
	if (segs_reserve(s, w->seg_count) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "open: out of memory");
	if (w->seg_count > 0)
		memcpy(s->segs, w->segs, w->seg_count * sizeof *w->segs);
	s->seg_count = w->seg_count;
	w->seg_count = 0;
	s->last_index = s->snap_index;
	s->last_term = s->snap_term;
	for (size_t i = s->seg_count; i-- > 0;) {
		if (s->segs[i].count > 0) {
			s->last_index = s->segs[i].first_index + s->segs[i].count - 1;
			s->last_term = s->segs[i].last_term;
			break;
		}
	}
	s->synced_index = s->last_index;

	rec->state.hard_state = s->hs.hs;
	rec->has_snapshot = w->has_snapshot;
	rec->state.snap_index = s->snap_index;
	rec->state.snap_term = s->snap_term;
	if (w->has_snapshot)
		rec->state.snap_config = w->snap.config;
	rec->snap_data_ = w->snap_data;
	rec->state.snap_data = w->snap_data;
	w->snap_data = NULL;
	rec->entries_ = w->entries;
	rec->state.entries = w->entries;
	rec->state.entry_count = w->entry_count;
	storage_walk_release_entries(w);
	return 0;
}

int ballot_storage_open(ballot_fs *fs, const char *dir, const ballot_storage_options *opts,
			ballot_storage **out, ballot_storage_recovery *rec, ballot_errmsg *em)
{
	memset(rec, 0, sizeof *rec);
	*out = NULL;
	ballot_storage_options o;
	if (opts == NULL)
		ballot_storage_options_default(&o);
	else
		o = *opts;
	if (o.segment_bytes < BALLOT_WAL_SEGMENT_BYTES_MIN || o.segment_bytes > BALLOT_WAL_SEGMENT_BYTES_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "segment size %llu bytes: must be %u to %u",
				     (unsigned long long)o.segment_bytes, BALLOT_WAL_SEGMENT_BYTES_MIN,
				     BALLOT_WAL_SEGMENT_BYTES_MAX);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0 || len + 1 + 64 >= BALLOT_STORAGE_PATH_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "data dir '%s': empty or too long", dir);
	ballot_storage *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "open: out of memory");
	s->fs = fs;
	s->opts = o;
	memcpy(s->dir, dir, len);
	s->dir[len] = '\0';

	storage_walk w = {.fs = fs, .dir = s->dir, .collect = true, .notes = {.text = rec->warnings}};
	int rc = o.read_only ? 0 : prepare_dir(s, em);
	if (rc == 0)
		rc = storage_walk_run(&w, em);
	if (rc == 0 && o.read_only && w.empty)
		rc = ballot_errorf(em, BALLOT_EINVAL, "data dir %s holds no ballot data", s->dir);
	if (rc == 0 && !o.read_only)
		rc = remove_temporaries(s, &w, em);
	if (rc == 0 && !o.read_only)
		rc = open_hard_state(s, &w, &w.notes, em);
	if (rc == 0 && !o.read_only)
		rc = repair(s, &w, &w.notes, em);
	if (rc == 0 && o.read_only)
		s->hs = w.hs;
	if (rc == 0)
		rc = take_walk(s, &w, rec, em);
	if (rc == 0 && !o.read_only)
		rc = open_last(s, em);
	rec->fresh = w.empty;
	rec->warning_count = w.notes.count;
	rec->warnings_lost = w.notes.lost;
	storage_walk_free(&w);
	if (rc != 0) {
		ballot_storage_recovery_free(rec);
		ballot_storage_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ballot_storage_close(ballot_storage *s)
{
	if (s == NULL)
		return;
	ballot_fs_close(s->fs, s->cur);
	ballot_fs_close(s->fs, s->hs_file);
	ballot_fs_close(s->fs, s->lock);
	for (size_t i = 0; i < s->seg_count; i++)
		segment_free(&s->segs[i]);
	free(s->segs);
	free(s->wbuf);
	free(s);
}

/* ---- the log -------------------------------------------------------------------------------- */

static int flush(ballot_storage *s, ballot_errmsg *em)
{
	if (s->wlen == 0)
		return 0;
	int rc = ballot_fs_pwrite(s->fs, s->cur, s->wbuf, s->wlen, s->flushed, em);
	if (rc != 0)
		return rc;
	s->flushed += s->wlen;
	s->wlen = 0;
	return 0;
}

/* Renames the spare to tmp if it is there and seg_size bytes long (whole: it is renamed into
 * place only once written and synced); one of another size is removed. Never fails: without a
 * spare the segment is made the other way. */
static bool take_spare(ballot_storage *s, uint64_t seg_size, const char *tmp)
{
	char path[BALLOT_STORAGE_PATH_MAX];
	if (storage_path(path, s->dir, SPARE_NAME, NULL) != 0)
		return false;
	ballot_file *f = NULL;
	uint64_t size = 0;
	if (ballot_fs_open(s->fs, path, BALLOT_FS_RDWR, &f, NULL) != 0)
		return false;
	int rc = ballot_fs_size(s->fs, f, &size, NULL);
	ballot_fs_close(s->fs, f);
	if (rc != 0 || size != seg_size) {
		ballot_fs_unlink(s->fs, path, NULL);
		return false;
	}
	if (ballot_fs_rename(s->fs, path, tmp, NULL) != 0)
		return false;
	s->spares_taken++;
	return true;
}

int ballot_storage_prepare_spare(ballot_fs *fs, const char *dir, uint64_t bytes, void (*pace)(void *), void *pace_ctx,
				 ballot_errmsg *em)
{
	char path[BALLOT_STORAGE_PATH_MAX], tmp[BALLOT_STORAGE_PATH_MAX];
	int rc = storage_path(path, dir, SPARE_NAME, em);
	if (rc == 0)
		rc = storage_path(tmp, dir, SPARE_NAME TMP_SUFFIX, em);
	if (rc != 0)
		return rc;
	ballot_file *f = NULL;
	uint64_t size = 0;
	if (ballot_fs_open(fs, path, BALLOT_FS_RDWR, &f, NULL) == 0) {
		rc = ballot_fs_size(fs, f, &size, NULL);
		ballot_fs_close(fs, f);
		if (rc == 0 && size == bytes)
			return 0; /* there is one */
	}
	size_t chunk = BALLOT_SPARE_SYNC_BYTES;
	unsigned char *zeros = calloc(1, chunk);
	if (zeros == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "preparing %s: out of memory", tmp);
	rc = ballot_fs_open(fs, tmp, BALLOT_FS_RDWR | BALLOT_FS_CREATE, &f, em);
	if (rc == 0)
		rc = ballot_fs_truncate(fs, f, 0, em);
	/* Written and synced a slice at a time, with the caller's pause between, so a log sync
	 * never waits behind more than a slice of it. */
	for (uint64_t at = 0; rc == 0 && at < bytes;) {
		size_t n = bytes - at < chunk ? (size_t)(bytes - at) : chunk;
		rc = ballot_fs_pwrite(fs, f, zeros, n, at, em);
		at += n;
		if (rc == 0)
			rc = ballot_fs_datasync(fs, f, em);
		if (rc == 0 && pace != NULL && at < bytes)
			pace(pace_ctx);
	}
	ballot_fs_close(fs, f);
	free(zeros);
	if (rc == 0)
		rc = ballot_fs_rename(fs, tmp, path, em);
	return rc;
}

/* Seals the last segment and starts one for the record of `index` (`size` bytes). */
static int roll(ballot_storage *s, uint64_t index, uint64_t size, ballot_errmsg *em)
{
	int rc = 0;
	if (s->cur != NULL) {
		rc = flush(s, em);
		if (rc == 0 && s->flushed > s->synced)
			rc = ballot_fs_datasync(s->fs, s->cur, em);
		if (rc != 0)
			return rc;
		s->synced = s->flushed;
		close_cur(s);
	}
	uint64_t seg_size = s->opts.segment_bytes;
	if (SEG_HEADER_BYTES + size > seg_size)
		seg_size = SEG_HEADER_BYTES + size; /* a record larger than a segment gets its own */
	char tmp[BALLOT_STORAGE_PATH_MAX], path[BALLOT_STORAGE_PATH_MAX];
	rc = seg_path(s, index, SEG_SUFFIX TMP_SUFFIX, tmp, em);
	if (rc == 0)
		rc = seg_path(s, index, SEG_SUFFIX, path, em);
	if (rc == 0 && segs_reserve(s, s->seg_count + 1) != 0)
		rc = ballot_errorf(em, BALLOT_ENOMEM, "new segment: out of memory");
	if (rc != 0)
		return rc;
	/* Made complete under a temporary name, so a segment under its final name always has a
	 * valid header and its full size: from a spare of zeros if there is one of its size,
	 * else with its blocks reserved. */
	ballot_file *f = NULL;
	unsigned char header[SEG_HEADER_BYTES];
	seg_header_encode(header, index, seg_size);
	bool spare = take_spare(s, seg_size, tmp);
	rc = ballot_fs_open(s->fs, tmp, BALLOT_FS_RDWR | (spare ? 0 : BALLOT_FS_CREATE), &f, em);
	if (rc != 0)
		return rc;
	if (!spare)
		rc = ballot_fs_truncate(s->fs, f, 0, em);
	if (rc == 0)
		rc = ballot_fs_pwrite(s->fs, f, header, sizeof header, 0, em);
	if (rc == 0 && !spare)
		rc = ballot_fs_preallocate(s->fs, f, seg_size, em);
	if (rc == 0)
		rc = ballot_fs_datasync(s->fs, f, em);
	ballot_fs_close(s->fs, f);
	if (rc == 0)
		rc = ballot_fs_rename(s->fs, tmp, path, em);
	if (rc == 0)
		rc = ballot_fs_sync_dir(s->fs, s->dir, em);
	if (rc == 0)
		rc = ballot_fs_open(s->fs, path, BALLOT_FS_RDWR, &s->cur, em);
	if (rc != 0)
		return rc;
	s->segs[s->seg_count++] = (storage_segment){.first_index = index, .end = SEG_HEADER_BYTES, .size = seg_size};
	s->flushed = s->synced = SEG_HEADER_BYTES;
	s->wlen = 0;
	return 0;
}

/* Grows the write buffer to hold need bytes (at most BALLOT_WAL_WRITE_BUFFER_BYTES). */
static int grow_wbuf(ballot_storage *s, size_t need, ballot_errmsg *em)
{
	size_t cap = s->wcap ? s->wcap : 64 * 1024;
	while (cap < need)
		cap *= 2;
	if (cap > BALLOT_WAL_WRITE_BUFFER_BYTES)
		cap = BALLOT_WAL_WRITE_BUFFER_BYTES;
	BALLOT_ASSERT(need <= cap);
	unsigned char *b = realloc(s->wbuf, cap);
	if (b == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "append: out of memory");
	s->wbuf = b;
	s->wcap = cap;
	return 0;
}

static int append_one(ballot_storage *s, const ballot_entry *e, ballot_errmsg *em)
{
	uint32_t len = e->data != NULL ? (uint32_t)e->data->len : 0;
	const unsigned char *payload = e->data != NULL ? e->data->data : NULL;
	uint64_t size = rec_size(len);
	storage_segment *seg = last_seg(s);
	int rc = s->cur == NULL ? open_last(s, em) : 0;
	if (rc != 0)
		return rc;
	if (seg == NULL || seg->end + size > seg->size) {
		rc = roll(s, e->index, size, em);
		if (rc != 0)
			return rc;
		seg = last_seg(s);
	}
	BALLOT_ASSERT(s->flushed + s->wlen == seg->end);
	BALLOT_ASSERT(seg->end + size <= seg->size);
	rec_header h = {.magic = REC_MAGIC, .version = STORAGE_VERSION, .rtype = REC_TYPE_ENTRY, .etype = e->type,
			.len = len, .durable = (uint32_t)s->synced, .index = e->index, .term = e->term};
	if (size > BALLOT_WAL_WRITE_BUFFER_BYTES) {
		/* Too large to buffer: written in place in three pieces. */
		unsigned char head[REC_HEADER_BYTES], tail[8 + REC_TRAILER_BYTES];
		rec_encode_parts(head, tail, &h, payload);
		uint64_t at = seg->end;
		rc = flush(s, em);
		if (rc == 0)
			rc = ballot_fs_pwrite(s->fs, s->cur, head, sizeof head, at, em);
		if (rc == 0)
			rc = ballot_fs_pwrite(s->fs, s->cur, payload, len, at + REC_HEADER_BYTES, em);
		if (rc == 0)
			rc = ballot_fs_pwrite(s->fs, s->cur, tail, (size_t)(size - REC_HEADER_BYTES - len),
					      at + REC_HEADER_BYTES + len, em);
		if (rc != 0)
			return rc;
		s->flushed += size;
	} else {
		if (s->wlen + size > s->wcap && (rc = flush(s, em)) != 0)
			return rc;
		if (s->wlen + size > s->wcap && (rc = grow_wbuf(s, s->wlen + size, em)) != 0)
			return rc;
		rec_encode(s->wbuf + s->wlen, &h, payload);
		s->wlen += size;
	}
	if (segment_push_offset(seg, seg->end) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "append: out of memory");
	seg->end += size;
	seg->last_term = e->term;
	s->last_index = e->index;
	s->last_term = e->term;
	return 0;
}

static int check_entries(const ballot_storage *s, const ballot_entry *entries, size_t count, ballot_errmsg *em)
{
	uint64_t term = s->last_term;
	for (size_t i = 0; i < count; i++) {
		const ballot_entry *e = &entries[i];
		if (e->index != s->last_index + 1 + i)
			return ballot_errorf(em, BALLOT_EINVAL, "append: entry %zu has index %llu, expected %llu (truncate "
					     "first on a conflict)", i, (unsigned long long)e->index,
					     (unsigned long long)(s->last_index + 1 + i));
		if (e->term < term || e->term == 0)
			return ballot_errorf(em, BALLOT_EINVAL, "append: entry %llu has term %llu after term %llu",
					     (unsigned long long)e->index, (unsigned long long)e->term,
					     (unsigned long long)term);
		if (e->type < BALLOT_ENTRY_NORMAL || e->type > BALLOT_ENTRY_NOOP)
			return ballot_errorf(em, BALLOT_EINVAL, "append: entry %llu has unknown type %u",
					     (unsigned long long)e->index, e->type);
		if (e->data != NULL && e->data->len > BALLOT_RAFT_ENTRY_BYTES_MAX)
			return ballot_errorf(em, BALLOT_ELIMIT, "append: entry %llu has %zu bytes, at most %u",
					     (unsigned long long)e->index, e->data->len, BALLOT_RAFT_ENTRY_BYTES_MAX);
		term = e->term;
	}
	return 0;
}

int ballot_storage_append(ballot_storage *s, const ballot_entry *entries, size_t count, ballot_errmsg *em)
{
	int rc = check_writable(s, em);
	if (rc == 0)
		rc = check_entries(s, entries, count, em);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < count; i++) {
		rc = append_one(s, &entries[i], em);
		if (rc != 0)
			return fail(s, rc, em);
	}
	return 0;
}

int ballot_storage_sync(ballot_storage *s, ballot_errmsg *em)
{
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	if (s->cur != NULL) {
		rc = flush(s, em);
		if (rc == 0 && s->flushed > s->synced)
			rc = ballot_fs_datasync(s->fs, s->cur, em);
		if (rc != 0)
			return fail(s, rc, em);
		s->synced = s->flushed;
	}
	s->synced_index = s->last_index;
	return 0;
}

/* The term of the record of `index` in the last segment (buffered or on disk). A record on
 * disk is read back whole and verified: the disk may have damaged it since it was written,
 * which must be an error (BALLOT_ECORRUPT), not a wrong term or a failed assertion. */
static int term_of(ballot_storage *s, const storage_segment *seg, uint64_t index, uint64_t *term, ballot_errmsg *em)
{
	uint64_t i = index - seg->first_index;
	uint64_t off = seg->offsets[i];
	if (s->cur != NULL && off >= s->flushed) {
		rec_header h;
		rec_header_decode(s->wbuf + (off - s->flushed), &h);
		BALLOT_ASSERT(h.index == index); /* our own buffer */
		*term = h.term;
		return 0;
	}
	size_t size = (size_t)((i + 1 < seg->count ? seg->offsets[i + 1] : seg->end) - off);
	char path[BALLOT_STORAGE_PATH_MAX];
	int rc = seg_path(s, seg->first_index, SEG_SUFFIX, path, em);
	if (rc != 0)
		return rc;
	unsigned char *rec = malloc(size);
	if (rec == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory for a %zu-byte record", path, size);
	ballot_file *f = NULL;
	size_t got = 0;
	rc = ballot_fs_open(s->fs, path, BALLOT_FS_RDONLY, &f, em);
	if (rc == 0)
		rc = ballot_fs_pread(s->fs, f, rec, size, off, &got, em);
	ballot_fs_close(s->fs, f);
	if (rc == 0 && got != size)
		rc = ballot_errorf(em, BALLOT_EIO, "reading %s: short read", path);
	rec_header h;
	if (rc == 0)
		rc = segment_record_verify(path, off, rec, size, index, &h, em);
	if (rc == 0)
		*term = h.term;
	free(rec);
	return rc;
}

/* Cuts the last segment before the record of `from`, which it holds. */
static int cut_last(ballot_storage *s, uint64_t from, ballot_errmsg *em)
{
	storage_segment *seg = last_seg(s);
	uint64_t off = seg->offsets[from - seg->first_index];
	int rc = open_last(s, em);
	if (rc != 0)
		return rc;
	if (off >= s->flushed) {
		s->wlen = (size_t)(off - s->flushed); /* only in the buffer: forget it */
	} else {
		s->wlen = 0;
		rc = cut_file(s, off, seg->size, em);
		if (rc != 0)
			return rc;
		s->flushed = s->synced = off;
	}
	seg->count = from - seg->first_index;
	seg->end = off;
	if (seg->count > 0)
		return term_of(s, seg, from - 1, &seg->last_term, em);
	return 0;
}

int ballot_storage_truncate(ballot_storage *s, uint64_t from, ballot_errmsg *em)
{
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	if (from == 0 || (s->has_snapshot && from <= s->snap_index))
		return ballot_errorf(em, BALLOT_EINVAL, "truncate from %llu: at or below the snapshot's index %llu "
				     "(committed entries are never removed)", (unsigned long long)from,
				     (unsigned long long)s->snap_index);
	if (from > s->last_index)
		return 0;
	/* Whole segments, newest first, each removal durable before the next: a crash leaves
	 * a prefix of the log, never a gap. */
	while (s->seg_count > 0 && last_seg(s)->first_index >= from) {
		close_cur(s);
		rc = remove_segment(s, last_seg(s)->first_index, true, em);
		if (rc != 0)
			return fail(s, rc, em);
		segment_free(last_seg(s));
		s->seg_count--;
	}
	storage_segment *seg = last_seg(s);
	if (seg != NULL && seg->first_index + seg->count > from && (rc = cut_last(s, from, em)) != 0)
		return fail(s, rc, em);
	s->last_index = from - 1;
	if (seg != NULL && seg->count > 0)
		s->last_term = seg->last_term;
	else
		s->last_term = s->snap_term;
	if (s->synced_index > s->last_index)
		s->synced_index = s->last_index;
	return 0;
}

int ballot_storage_compact_detach(ballot_storage *s, uint64_t index, ballot_fs_names *paths, ballot_errmsg *em)
{
	memset(paths, 0, sizeof *paths);
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	if (!s->has_snapshot || index > s->snap_index)
		return ballot_errorf(em, BALLOT_EINVAL, "compact to %llu: past the snapshot (%llu); only entries a "
				     "snapshot holds are dropped", (unsigned long long)index,
				     (unsigned long long)s->snap_index);
	size_t drop = 0, cap = 0;
	while (drop + 1 < s->seg_count && s->segs[drop + 1].first_index <= index + 1) {
		char path[BALLOT_STORAGE_PATH_MAX];
		rc = seg_path(s, s->segs[drop].first_index, SEG_SUFFIX, path, em);
		if (rc == 0 && storage_names_push(paths, &cap, path) != 0)
			rc = ballot_errorf(em, BALLOT_ENOMEM, "compact: out of memory");
		if (rc != 0)
			break;
		segment_free(&s->segs[drop]);
		drop++;
	}
	if (drop > 0) {
		memmove(s->segs, s->segs + drop, (s->seg_count - drop) * sizeof *s->segs);
		s->seg_count -= drop;
	}
	/* Out of memory for a name: the segments detached so far are named; the rest stay. */
	return rc == BALLOT_ENOMEM && drop > 0 ? 0 : rc;
}

int ballot_storage_remove_files(ballot_fs *fs, const ballot_fs_names *paths, ballot_errmsg *em)
{
	int rc = 0;
	for (size_t i = 0; i < paths->count && rc == 0; i++)
		rc = ballot_fs_unlink(fs, paths->names[i], em);
	return rc;
}

int ballot_storage_compact(ballot_storage *s, uint64_t index, ballot_errmsg *em)
{
	ballot_fs_names paths;
	int rc = ballot_storage_compact_detach(s, index, &paths, em);
	if (rc != 0)
		return rc;
	rc = ballot_storage_remove_files(s->fs, &paths, em);
	if (rc == 0 && paths.count > 0)
		rc = ballot_fs_sync_dir(s->fs, s->dir, em);
	ballot_fs_names_free(&paths);
	return rc != 0 ? fail(s, rc, em) : 0;
}

/* ---- hard state and snapshots ---------------------------------------------------------------- */

int ballot_storage_save_hard_state(ballot_storage *s, const ballot_hard_state *hs, ballot_errmsg *em)
{
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	if (hs->term < s->hs.hs.term)
		return ballot_errorf(em, BALLOT_EINVAL, "hard state: term %llu below the saved %llu (terms never go back)",
				     (unsigned long long)hs->term, (unsigned long long)s->hs.hs.term);
	hs_slot v = {.seq = s->hs.seq + 1, .hs = *hs};
	rc = hardstate_write(s->fs, s->hs_file, &v, em);
	if (rc != 0)
		return fail(s, rc, em);
	s->hs = v;
	return 0;
}

/* The checks that need no storage: the data's size and the configuration's. */
static int check_snapshot_data(uint64_t index, const ballot_config *config, const ballot_rbuf *data,
			       ballot_errmsg *em)
{
	if (data == NULL && index > 0)
		return ballot_errorf(em, BALLOT_EINVAL, "snapshot at %llu: no data", (unsigned long long)index);
	if (data != NULL && data->len > BALLOT_RAFT_SNAPSHOT_BYTES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "snapshot at %llu: %zu bytes, at most %llu",
				     (unsigned long long)index, data->len, (unsigned long long)BALLOT_RAFT_SNAPSHOT_BYTES_MAX);
	if (config->count > BALLOT_RAFT_MEMBERS_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "snapshot at %llu: %u members, at most %d",
				     (unsigned long long)index, config->count, BALLOT_RAFT_MEMBERS_MAX);
	return 0;
}

static int check_snapshot(const ballot_storage *s, uint64_t index, const ballot_config *config,
			  const ballot_rbuf *data, ballot_errmsg *em)
{
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	if (s->has_snapshot && index < s->snap_index)
		return ballot_errorf(em, BALLOT_EINVAL, "snapshot at %llu: older than the saved one at %llu",
				     (unsigned long long)index, (unsigned long long)s->snap_index);
	return check_snapshot_data(index, config, data, em);
}

/* Makes the snapshot file at index, already durable, the storage's snapshot, and removes
 * the one it replaces. */
static int take_snapshot_file(ballot_storage *s, const snap_meta *meta, ballot_errmsg *em)
{
	bool had = s->has_snapshot;
	uint64_t old = s->snap_index;
	s->has_snapshot = true;
	s->snap_index = meta->index;
	s->snap_term = meta->term;
	note_snapshot_layout(s, meta);
	if (had && old != meta->index) {
		/* Need not be durable: recovery uses the newest snapshot and removes the rest. */
		char name[64];
		storage_name(name, sizeof name, old, SNAP_SUFFIX);
		return remove_file(s, name, em);
	}
	return 0;
}

/* Writes the snapshot durably, then removes the one it replaces. */
static int write_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
			  const ballot_rbuf *data, ballot_errmsg *em)
{
	snap_meta meta = {.index = index, .term = term, .config = *config, .data_bytes = data != NULL ? data->len : 0};
	int rc = snapshot_write(s->fs, s->dir, &meta, data, SNAP_TMP_SUFFIX, BALLOT_SNAPSHOT_SYNC_BYTES, NULL, NULL, em);
	return rc != 0 ? rc : take_snapshot_file(s, &meta, em);
}

int ballot_storage_save_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				 const ballot_rbuf *data, ballot_errmsg *em)
{
	int rc = check_snapshot(s, index, config, data, em);
	if (rc == 0 && index > s->last_index)
		rc = ballot_errorf(em, BALLOT_EINVAL, "snapshot at %llu: past the last log index %llu",
				   (unsigned long long)index, (unsigned long long)s->last_index);
	if (rc != 0)
		return rc;
	rc = write_snapshot(s, index, term, config, data, em);
	return rc != 0 ? fail(s, rc, em) : 0;
}

int ballot_storage_write_snapshot_file(ballot_fs *fs, const char *dir, uint64_t index, uint64_t term,
				       const ballot_config *config, const ballot_rbuf *data, void (*pace)(void *),
				       void *pace_ctx, ballot_errmsg *em)
{
	int rc = check_snapshot_data(index, config, data, em);
	if (rc != 0)
		return rc;
	snap_meta meta = {.index = index, .term = term, .config = *config, .data_bytes = data != NULL ? data->len : 0};
	return snapshot_write(fs, dir, &meta, data, SNAP_SIDE_TMP_SUFFIX, BALLOT_SNAPSHOT_SIDE_SYNC_BYTES, pace, pace_ctx,
			      em);
}

int ballot_storage_adopt_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				  uint64_t data_bytes, bool *adopted, ballot_errmsg *em)
{
	*adopted = false;
	int rc = check_writable(s, em);
	if (rc != 0)
		return rc;
	char name[64];
	storage_name(name, sizeof name, index, SNAP_SUFFIX);
	if (s->has_snapshot && index <= s->snap_index) {
		/* Overtaken by a snapshot installed meanwhile. At the same index the file under
		 * that name is a whole snapshot of that position either way: keep it. */
		rc = index < s->snap_index ? remove_file(s, name, em) : 0;
		return rc != 0 ? fail(s, rc, em) : 0;
	}
	if (index > s->last_index)
		return ballot_errorf(em, BALLOT_EINVAL, "snapshot at %llu: past the last log index %llu",
				     (unsigned long long)index, (unsigned long long)s->last_index);
	snap_meta meta = {.index = index, .term = term, .config = *config, .data_bytes = data_bytes};
	rc = take_snapshot_file(s, &meta, em);
	if (rc != 0)
		return fail(s, rc, em);
	*adopted = true;
	return 0;
}

int ballot_storage_install_snapshot(ballot_storage *s, uint64_t index, uint64_t term, const ballot_config *config,
				    const ballot_rbuf *data, ballot_errmsg *em)
{
	int rc = check_snapshot(s, index, config, data, em);
	if (rc != 0)
		return rc;
	rc = write_snapshot(s, index, term, config, data, em);
	/* The snapshot is durable: now the log it replaces goes, newest segment first, so a
	 * crash leaves a prefix of the old log, which recovery drops (it does not continue the
	 * snapshot) or keeps (it does). */
	close_cur(s);
	while (rc == 0 && s->seg_count > 0) {
		rc = remove_segment(s, last_seg(s)->first_index, true, em);
		if (rc == 0) {
			segment_free(last_seg(s));
			s->seg_count--;
		}
	}
	if (rc != 0)
		return fail(s, rc, em);
	s->last_index = index;
	s->last_term = term;
	s->synced_index = index;
	return 0;
}

void ballot_storage_status_get(const ballot_storage *s, ballot_storage_status *st)
{
	memset(st, 0, sizeof *st);
	st->first_index = s->seg_count > 0 && s->segs[0].count > 0 ? s->segs[0].first_index : 0;
	st->last_index = s->last_index;
	st->last_term = s->last_term;
	st->synced_index = s->synced_index;
	st->snap_index = s->snap_index;
	st->snap_term = s->snap_term;
	st->has_snapshot = s->has_snapshot;
	st->hard_state = s->hs.hs;
	st->segment_count = (unsigned)s->seg_count;
	st->spares_taken = s->spares_taken;
	st->failed = s->failed;
}

/* ---- inspection ------------------------------------------------------------------------------ */

static void report_walk(const storage_walk *w, ballot_storage_report *rep, storage_notes *notes)
{
	rep->empty = w->empty;
	rep->has_hard_state = w->has_hard_state;
	rep->hard_state = w->hs.hs;
	rep->hard_state_sequence = w->hs.seq;
	if (w->hs_repair)
		storage_note(notes, "%s: the two copies differ (a save cut short, or damage); the next open rewrites "
			     "them", HS_NAME);
	rep->has_snapshot = w->has_snapshot;
	if (w->has_snapshot) {
		rep->snap_index = w->snap.index;
		rep->snap_term = w->snap.term;
		rep->snap_config = w->snap.config;
		rep->snap_data_bytes = w->snap.data_bytes;
	}
	if (w->old_snap_count > 0)
		storage_note(notes, "%zu older snapshot(s) left over; the next open removes them", w->old_snap_count);
	rep->stale_segment_count = (unsigned)w->stale_count;
	rep->segment_count = (unsigned)w->seg_count;
	rep->records = w->records;
	rep->log_discarded = w->discard_log;
	if (w->seg_count == 0 || w->records == 0)
		return;
	const storage_segment *first = &w->segs[0], *last = &w->segs[w->seg_count - 1];
	rep->first_index = first->first_index;
	rep->last_index = last->first_index + last->count - 1;
	rep->first_term = w->first_term;
	rep->last_term = w->last_term;
	uint64_t snap = w->has_snapshot ? w->snap.index : 0;
	uint64_t from = snap + 1 > rep->first_index ? snap + 1 : rep->first_index;
	if (!w->discard_log && rep->last_index >= from)
		rep->entries_after_snapshot = rep->last_index - from + 1;
	char name[64];
	storage_name(name, sizeof name, last->first_index, SEG_SUFFIX);
	rep->torn_tail = w->tail.torn;
	rep->torn_offset = last->end;
	if (w->tail.torn)
		storage_note(notes, "%s: torn record at offset %llu (a write cut short by a crash); the next open cuts "
			     "it", name, (unsigned long long)last->end);
	else if (w->tail.leftovers)
		storage_note(notes, "%s: unsynced records after the end of the log at offset %llu; the next open zeroes "
			     "them", name, (unsigned long long)last->end);
}

int ballot_storage_inspect(ballot_fs *fs, const char *dir, const ballot_storage_visitor *visitor,
			   ballot_storage_report *rep, ballot_errmsg *em)
{
	memset(rep, 0, sizeof *rep);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	char d[BALLOT_STORAGE_PATH_MAX];
	if (len == 0 || len + 1 + 64 >= sizeof d)
		return ballot_errorf(em, BALLOT_EINVAL, "data dir '%s': empty or too long", dir);
	memcpy(d, dir, len);
	d[len] = '\0';
	storage_walk w = {.fs = fs, .dir = d, .visitor = visitor, .notes = {.text = rep->warnings}};
	int rc = storage_walk_run(&w, em);
	report_walk(&w, rep, &w.notes);
	rep->warning_count = w.notes.count;
	rep->warnings_lost = w.notes.lost;
	storage_walk_free(&w);
	return rc;
}
