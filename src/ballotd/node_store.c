/* The node's durable store over ballot/storage.h on the real file system (see
 * ballotd/node_store.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ballot/storage.h"
#include "ballotd/node_store.h"

struct node_store {
	char dir[BALLOT_STORAGE_PATH_MAX];
	ballot_storage *storage;
	ballot_hard_state saved; /* the hard state on disk */
	ballot_storage_recovery rec; /* keeps the recovered entries alive for the core */
	ballot_rbuf *mapped;         /* the recovered snapshot's bytes, mapped */
};

typedef struct mapping {
	void *base;
	size_t len;
} mapping;

static void unmap(void *ctx)
{
	mapping *m = ctx;
	munmap(m->base, m->len);
	free(m);
}

ballot_rbuf *node_store_map_snapshot(node_store *s)
{
	char path[BALLOT_STORAGE_PATH_MAX + 64];
	uint64_t offset, len;
	if (ballot_storage_snapshot_location(s->storage, path, sizeof path, &offset, &len) != 0)
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat sb;
	mapping *m = malloc(sizeof *m);
	void *base = MAP_FAILED;
	if (m != NULL && fstat(fd, &sb) == 0 && (uint64_t)sb.st_size >= offset + len)
		base = mmap(NULL, (size_t)(offset + len), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		free(m);
		return NULL;
	}
	m->base = base;
	m->len = (size_t)(offset + len);
	ballot_rbuf *b = ballot_rbuf_wrap((unsigned char *)base + offset, (size_t)len, unmap, m);
	if (b == NULL)
		unmap(m);
	return b;
}

int node_store_open(const char *dir, node_store **out, ballot_raft_storage *st, ballot_buf *warnings,
		    ballot_errmsg *em)
{
	node_store *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
	if ((size_t)snprintf(s->dir, sizeof s->dir, "%s", dir) >= sizeof s->dir) {
		free(s);
		return ballot_errorf(em, BALLOT_ELIMIT, "data dir %s: path too long", dir);
	}
	ballot_storage_options opts;
	ballot_storage_options_default(&opts);
	int rc = ballot_storage_open(ballot_fs_posix(), dir, &opts, &s->storage, &s->rec, em);
	if (rc != 0) {
		free(s);
		return rc;
	}
	for (unsigned i = 0; i < s->rec.warning_count; i++)
		ballot_buf_printf(warnings, "%s%s", i ? "; " : "", s->rec.warnings[i]);
	ballot_config boot = st->snap_config;
	*st = s->rec.state;
	s->saved = st->hard_state;
	if (!s->rec.has_snapshot)
		st->snap_config = boot; /* a new node starts from the configured members */
	/* Keep the snapshot as a mapping of its file, not a copy: the store was checked whole
	 * by recovery, and the file does not change while it is the newest. */
	s->mapped = st->snap_data != NULL ? node_store_map_snapshot(s) : NULL;
	if (s->mapped != NULL && s->mapped->len == st->snap_data->len) {
		ballot_storage_recovery_release_snapshot(&s->rec);
		st->snap_data = s->mapped;
	}
	*out = s;
	return 0;
}

int node_store_persist(node_store *s, const ballot_raft_ready *rd, ballot_errmsg *em)
{
	int rc = 0;
	if (rd->has_snapshot)
		rc = ballot_storage_install_snapshot(s->storage, rd->snap_index, rd->snap_term, &rd->snap_config,
						     rd->snap_data, em);
	/* Term and vote must be durable before anything that depends on them leaves; the
	 * commit index may lag (a restarted node relearns it), so a change of commit alone
	 * costs no extra sync: it rides along with the next term or vote change. */
	bool must_save = rd->hard_state.term != s->saved.term || rd->hard_state.vote != s->saved.vote;
	if (rc == 0 && rd->hard_state_changed && must_save) {
		rc = ballot_storage_save_hard_state(s->storage, &rd->hard_state, em);
		if (rc == 0)
			s->saved = rd->hard_state;
	}
	if (rc == 0 && rd->entry_count > 0) {
		ballot_storage_status st;
		ballot_storage_status_get(s->storage, &st);
		if (rd->entries[0].index <= st.last_index && rd->entries[0].index > st.snap_index)
			rc = ballot_storage_truncate(s->storage, rd->entries[0].index, em);
		if (rc == 0)
			rc = ballot_storage_append(s->storage, rd->entries, rd->entry_count, em);
		if (rc == 0)
			rc = ballot_storage_sync(s->storage, em);
	}
	return rc;
}

int node_store_write_snapshot_file(const node_store *s, uint64_t index, uint64_t term, const ballot_config *config,
				   const ballot_rbuf *data, void (*pace)(void *), void *pace_ctx, ballot_errmsg *em)
{
	return ballot_storage_write_snapshot_file(ballot_fs_posix(), s->dir, index, term, config, data, pace, pace_ctx,
						  em);
}

int node_store_adopt_snapshot(node_store *s, uint64_t index, uint64_t term, const ballot_config *config,
			      uint64_t data_bytes, bool *adopted, ballot_errmsg *em)
{
	return ballot_storage_adopt_snapshot(s->storage, index, term, config, data_bytes, adopted, em);
}

int node_store_compact(node_store *s, uint64_t log_start, ballot_fs_names *paths, ballot_errmsg *em)
{
	ballot_storage_status st;
	ballot_storage_status_get(s->storage, &st);
	memset(paths, 0, sizeof *paths);
	/* Only what the stored snapshot holds (an installed one may not be persisted yet). */
	if (log_start <= 1 || st.first_index == 0 || st.first_index >= log_start || !st.has_snapshot ||
	    log_start - 1 > st.snap_index)
		return 0;
	return ballot_storage_compact_detach(s->storage, log_start - 1, paths, em);
}

/* Freeing a file's blocks is work for the file system's journal (and, on a disk mounted
 * with discard, a discard of every block), done at its next commit, which every log sync on
 * the disk then waits for: freeing 64 MiB at once held all three nodes' syncs 250-280 ms. So
 * a file is cut down a slice at a time, each slice in a commit of its own, then unlinked:
 * a megabyte per 20 ms, 1.3 s for a segment (4 MiB per 20 ms still made the seconds after a
 * snapshot the worst of a run at 64 clients: p99 over 30 s 8.8-9.1 ms, now 7.0-8.0). */
#define SHRINK_STEP_BYTES (1 << 20)
#define SHRINK_PAUSE_NS 20000000

static void shrink_slowly(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) == 0) {
		for (off_t size = sb.st_size; size > 0;) {
			size = size > SHRINK_STEP_BYTES ? size - SHRINK_STEP_BYTES : 0;
			if (ftruncate(fd, size) != 0)
				break;
			nanosleep(&(struct timespec){.tv_nsec = SHRINK_PAUSE_NS}, NULL);
		}
	}
	close(fd);
}

int node_store_remove_files(const ballot_fs_names *paths, ballot_errmsg *em)
{
	for (size_t i = 0; i < paths->count; i++)
		shrink_slowly(paths->names[i]);
	return ballot_storage_remove_files(ballot_fs_posix(), paths, em);
}

/* Between the spare's slices (BALLOT_SPARE_SYNC_BYTES): 25 MB/s, a spare of 64 MiB in about
 * 2.6 s. The three nodes of a cluster roll over at the same log position, so they write
 * their spares at once: a megabyte per 10 ms each (300 MB/s together, this disk's whole
 * bandwidth) held every node's log syncs 10-60 ms for a second at each roll. A segment lasts
 * 10 s and more at full load of small writes; under heavier ones the next roll may come
 * first and reserve its blocks instead, as without a spare. */
static void spare_pause(void *ctx)
{
	(void)ctx;
	nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
}

int node_store_prepare_spare(const node_store *s, ballot_errmsg *em)
{
	return ballot_storage_prepare_spare(ballot_fs_posix(), s->dir, BALLOT_WAL_SEGMENT_BYTES_DEFAULT, spare_pause, NULL,
					    em);
}

uint64_t node_store_spares_taken(const node_store *s)
{
	ballot_storage_status st;
	ballot_storage_status_get(s->storage, &st);
	return st.spares_taken;
}

void node_store_close(node_store *s)
{
	if (s == NULL)
		return;
	ballot_storage_close(s->storage);
	ballot_storage_recovery_free(&s->rec);
	ballot_rbuf_unref(s->mapped);
	free(s);
}
