/* Unit tests of durable storage (ballot/storage.h, ballot/fs.h) over the simulated disk,
 * plus one round trip over the real disk: round trips, truncation, compaction, segment
 * rollover, the lock, and recovery from what crashes and damage leave behind (lost
 * unsynced writes, torn records, flipped bits, missing segments, unknown versions). */
#define _DEFAULT_SOURCE /* mkdtemp, rmdir */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ballot/fs.h"
#include "ballot/storage.h"
#include "storage/storage_internal.h"

/* A payload of len bytes determined by (index, term, salt). */
static inline ballot_rbuf *payload_new(uint64_t index, uint64_t term, uint64_t salt, size_t len)
{
	ballot_rbuf *b = ballot_rbuf_new(NULL, len);
	assert_non_null(b);
	uint64_t x = index * 0x9E3779B97F4A7C15ull ^ term * 0xC2B2AE3D27D4EB4Full ^ salt;
	for (size_t i = 0; i < len; i++) {
		x ^= x >> 33;
		x *= 0xFF51AFD7ED558CCDull;
		x ^= x >> 29;
		b->data[i] = (unsigned char)(x + i);
	}
	return b;
}

static inline ballot_entry entry_new(uint64_t index, uint64_t term, uint64_t salt, size_t len)
{
	return (ballot_entry){.index = index, .term = term, .type = BALLOT_ENTRY_NORMAL,
			      .data = len > 0 ? payload_new(index, term, salt, len) : NULL};
}

static inline void entries_free(ballot_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ballot_rbuf_unref(e[i].data);
}

/* Does the recovered entry match what (index, term, salt, len) would give? */
static inline int entry_matches(const ballot_entry *e, uint64_t index, uint64_t term, uint64_t salt, size_t len)
{
	if (e->index != index || e->term != term || e->type != BALLOT_ENTRY_NORMAL)
		return 0;
	if (len == 0)
		return e->data == NULL;
	if (e->data == NULL || e->data->len != len)
		return 0;
	ballot_rbuf *want = payload_new(index, term, salt, len);
	int same = memcmp(want->data, e->data->data, len) == 0;
	ballot_rbuf_unref(want);
	return same;
}

/* A node's storage over a simulated disk. */
typedef struct harness {
	ballot_fs_sim *sim;
	ballot_fs *fs;
	const char *dir;
	ballot_storage_options opts;
	ballot_storage *s;
	ballot_storage_recovery rec;
	ballot_errmsg em;
} harness;

static inline void harness_init(harness *h, uint64_t seed, uint64_t segment_bytes)
{
	memset(h, 0, sizeof *h);
	assert_int_equal(ballot_fs_sim_new(&h->sim, seed), 0);
	h->fs = ballot_fs_sim_fs(h->sim);
	h->dir = "/data";
	ballot_storage_options_default(&h->opts);
	h->opts.segment_bytes = segment_bytes;
}

/* Opens (or reopens) the storage; returns the code, keeps the message in h->em. */
static inline int harness_open(harness *h)
{
	ballot_storage_close(h->s);
	h->s = NULL;
	ballot_storage_recovery_free(&h->rec);
	h->em.text[0] = '\0';
	return ballot_storage_open(h->fs, h->dir, &h->opts, &h->s, &h->rec, &h->em);
}

static inline void harness_open_ok(harness *h)
{
	int rc = harness_open(h);
	if (rc != 0)
		fail_msg("open: %s: %s", ballot_strerror(rc), h->em.text);
}

/* The machine crashes: the process dies with it, then the storage's handles are dropped. */
static inline void harness_crash(harness *h, unsigned how)
{
	ballot_fs_sim_crash(h->sim, how);
	ballot_storage_close(h->s);
	h->s = NULL;
}

static inline void harness_free(harness *h)
{
	ballot_storage_close(h->s);
	ballot_storage_recovery_free(&h->rec);
	ballot_fs_sim_free(h->sim);
}

static inline int harness_warned(const harness *h, const char *needle)
{
	for (unsigned i = 0; i < h->rec.warning_count; i++) {
		if (strstr(h->rec.warnings[i], needle) != NULL)
			return 1;
	}
	return 0;
}

#define CHECK_OK(h, call)                                                                                   \
	do {                                                                                                \
		int rc_ = (call);                                                                           \
		if (rc_ != 0)                                                                               \
			fail_msg("%s: %s: %s", #call, ballot_strerror(rc_), (h)->em.text);                  \
	} while (0)

/* Appends entries first..last of term `term`, payload length len_of(index). */
static inline void append_range(harness *h, uint64_t first, uint64_t last, uint64_t term, uint64_t salt,
				size_t (*len_of)(uint64_t))
{
	for (uint64_t i = first; i <= last; i++) {
		ballot_entry e = entry_new(i, term, salt, len_of(i));
		CHECK_OK(h, ballot_storage_append(h->s, &e, 1, &h->em));
		entries_free(&e, 1);
	}
}

static size_t len_100(uint64_t index)
{
	(void)index;
	return 100;
}

static size_t len_varied(uint64_t index)
{
	return (size_t)((index * 37) % 300);
}

static size_t len_1000(uint64_t index)
{
	(void)index;
	return 1000;
}

static size_t len_500(uint64_t index)
{
	(void)index;
	return 500;
}

/* Recovered entries are exactly first..last with these terms (term_of) and lengths. */
static void expect_entries(const harness *h, uint64_t first, uint64_t last, uint64_t (*term_of)(uint64_t),
			   uint64_t salt, size_t (*len_of)(uint64_t))
{
	const ballot_raft_storage *st = &h->rec.state;
	assert_int_equal(st->entry_count, last >= first ? last - first + 1 : 0);
	for (size_t i = 0; i < st->entry_count; i++) {
		uint64_t index = first + i;
		if (!entry_matches(&st->entries[i], index, term_of(index), salt, len_of(index)))
			fail_msg("entry %llu differs", (unsigned long long)index);
	}
}

static uint64_t term_1(uint64_t index)
{
	(void)index;
	return 1;
}

/* Where each record is, by index (from an inspection). */
typedef struct record_map {
	char file[64][64];
	uint64_t offset[1024];
	unsigned file_of[1024];
	size_t size[1024];
	unsigned files;
} record_map;

static void map_record(void *ctx, const ballot_storage_record *rec)
{
	record_map *m = ctx;
	assert_true(rec->index < 1024);
	if (m->files == 0 || strcmp(m->file[m->files - 1], rec->file) != 0)
		snprintf(m->file[m->files++], sizeof m->file[0], "%s", rec->file);
	m->offset[rec->index] = rec->offset;
	m->file_of[rec->index] = m->files - 1;
	m->size[rec->index] = (size_t)rec_size(rec->len);
}

static void map_records(harness *h, record_map *m)
{
	memset(m, 0, sizeof *m);
	ballot_storage_visitor v = {.ctx = m, .record = map_record};
	ballot_storage_report rep;
	CHECK_OK(h, ballot_storage_inspect(h->fs, h->dir, &v, &rep, &h->em));
}

static void record_path(const harness *h, const record_map *m, uint64_t index, char *out)
{
	snprintf(out, BALLOT_STORAGE_PATH_MAX, "%s/%s", h->dir, m->file[m->file_of[index]]);
}

/* ---- round trips ------------------------------------------------------------------- */

static void storage_round_trip_after_sync(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 1, BALLOT_WAL_SEGMENT_BYTES_MIN * 16);
	harness_open_ok(&h);
	assert_true(h.rec.fresh);
	assert_int_equal(h.rec.state.entry_count, 0);
	assert_int_equal(h.rec.warning_count, 0);
	append_range(&h, 1, 100, 1, 7, len_varied);
	ballot_hard_state hs = {.term = 3, .vote = 2, .commit = 90};
	CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &hs, &h.em));
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.last_index, 100);
	assert_int_equal(st.synced_index, 100);
	harness_open_ok(&h);
	assert_false(h.rec.fresh);
	assert_int_equal(h.rec.warning_count, 0);
	expect_entries(&h, 1, 100, term_1, 7, len_varied);
	assert_int_equal(h.rec.state.hard_state.term, 3);
	assert_int_equal(h.rec.state.hard_state.vote, 2);
	assert_int_equal(h.rec.state.hard_state.commit, 90);
	assert_false(h.rec.has_snapshot);
	harness_free(&h);
}

static void storage_keeps_entry_types_and_empty_payloads(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 2, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	ballot_entry e[4] = {
		{.index = 1, .term = 1, .type = BALLOT_ENTRY_NOOP, .data = NULL},
		{.index = 2, .term = 1, .type = BALLOT_ENTRY_CONFIG, .data = ballot_rbuf_new("cfg", 3)},
		{.index = 3, .term = 2, .type = BALLOT_ENTRY_NORMAL, .data = ballot_rbuf_new(NULL, 0)},
		{.index = 4, .term = 2, .type = BALLOT_ENTRY_NORMAL, .data = ballot_rbuf_new("x", 1)},
	};
	CHECK_OK(&h, ballot_storage_append(h.s, e, 4, &h.em));
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	const ballot_entry *r = h.rec.state.entries;
	assert_int_equal(h.rec.state.entry_count, 4);
	assert_int_equal(r[0].type, BALLOT_ENTRY_NOOP);
	assert_null(r[0].data);
	assert_int_equal(r[1].type, BALLOT_ENTRY_CONFIG);
	assert_memory_equal(r[1].data->data, "cfg", 3);
	assert_null(r[2].data); /* empty is stored as empty, recovered as NULL */
	assert_int_equal(r[3].term, 2);
	assert_memory_equal(r[3].data->data, "x", 1);
	entries_free(e, 4);
	harness_free(&h);
}

static void storage_append_refuses_gaps_and_going_back(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 3, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 3, 2, 0, len_100);
	ballot_entry gap = entry_new(5, 2, 0, 10);
	assert_int_equal(ballot_storage_append(h.s, &gap, 1, &h.em), BALLOT_EINVAL);
	assert_non_null(strstr(h.em.text, "expected 4"));
	ballot_entry back = entry_new(4, 1, 0, 10);
	assert_int_equal(ballot_storage_append(h.s, &back, 1, &h.em), BALLOT_EINVAL);
	ballot_hard_state hs = {.term = 5};
	CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &hs, &h.em));
	hs.term = 4;
	assert_int_equal(ballot_storage_save_hard_state(h.s, &hs, &h.em), BALLOT_EINVAL);
	entries_free(&gap, 1);
	entries_free(&back, 1);
	harness_free(&h);
}

static void storage_large_record_past_the_write_buffer(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 4, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	size_t big = BALLOT_WAL_WRITE_BUFFER_BYTES + 13;
	ballot_entry e[3] = {entry_new(1, 1, 9, 10), entry_new(2, 1, 9, big), entry_new(3, 1, 9, 10)};
	CHECK_OK(&h, ballot_storage_append(h.s, e, 3, &h.em));
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.entry_count, 3);
	assert_true(entry_matches(&h.rec.state.entries[1], 2, 1, 9, big));
	assert_true(entry_matches(&h.rec.state.entries[2], 3, 1, 9, 10));
	entries_free(e, 3);
	harness_free(&h);
}

/* ---- segments ------------------------------------------------------------------------ */

static int has_name(harness *h, const char *name)
{
	ballot_fs_names names;
	CHECK_OK(h, ballot_fs_list(h->fs, h->dir, &names, &h->em));
	int found = 0;
	for (size_t i = 0; i < names.count; i++)
		found |= strcmp(names.names[i], name) == 0;
	ballot_fs_names_free(&names);
	return found;
}

static unsigned count_suffix(harness *h, const char *suffix)
{
	ballot_fs_names names;
	CHECK_OK(h, ballot_fs_list(h->fs, h->dir, &names, &h->em));
	unsigned n = 0;
	for (size_t i = 0; i < names.count; i++) {
		size_t len = strlen(names.names[i]);
		n += len > strlen(suffix) && strcmp(names.names[i] + len - strlen(suffix), suffix) == 0;
	}
	ballot_fs_names_free(&names);
	return n;
}

static void storage_segment_rolls_over_at_its_size(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 5, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	/* 1048-byte records: three fit a 4096-byte segment after its 64-byte header. */
	append_range(&h, 1, 10, 1, 0, len_1000);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	assert_true(has_name(&h, "00000000000000000001.wal"));
	assert_true(has_name(&h, "00000000000000000004.wal"));
	assert_true(has_name(&h, "00000000000000000007.wal"));
	assert_true(has_name(&h, "00000000000000000010.wal"));
	assert_int_equal(count_suffix(&h, ".wal"), 4);
	/* A record larger than a segment gets a segment of its own, sized to fit. */
	ballot_entry big = entry_new(11, 1, 0, 10000);
	CHECK_OK(&h, ballot_storage_append(h.s, &big, 1, &h.em));
	append_range(&h, 12, 12, 1, 0, len_1000);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	assert_true(has_name(&h, "00000000000000000011.wal"));
	assert_true(has_name(&h, "00000000000000000012.wal"));
	ballot_storage_close(h.s);
	h.s = NULL;
	record_map m;
	map_records(&h, &m);
	assert_int_equal(m.files, 6);
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.entry_count, 12);
	assert_true(entry_matches(&h.rec.state.entries[10], 11, 1, 0, 10000));
	assert_true(entry_matches(&h.rec.state.entries[11], 12, 1, 0, 1000));
	assert_int_equal(h.rec.warning_count, 0);
	entries_free(&big, 1);
	harness_free(&h);
}

static uint64_t term_split_40(uint64_t index)
{
	return index < 40 ? 1 : 2;
}

static uint64_t term_split_40_65(uint64_t index)
{
	return index < 40 ? 1 : index < 65 ? 2 : 3;
}

static void storage_truncate_suffix_then_append(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 6, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 100, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	unsigned segments_before = count_suffix(&h, ".wal");
	/* Raft §5.3: a conflicting suffix goes, across segments. */
	CHECK_OK(&h, ballot_storage_truncate(h.s, 40, &h.em));
	assert_true(count_suffix(&h, ".wal") < segments_before);
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.last_index, 39);
	assert_int_equal(st.last_term, 1);
	append_range(&h, 40, 64, 2, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	/* A truncation inside what is only buffered. */
	append_range(&h, 65, 70, 2, 0, len_100);
	CHECK_OK(&h, ballot_storage_truncate(h.s, 65, &h.em));
	append_range(&h, 65, 66, 3, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	/* Past the end: nothing to do. */
	CHECK_OK(&h, ballot_storage_truncate(h.s, 67, &h.em));
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	expect_entries(&h, 1, 66, term_split_40_65, 0, len_100);
	harness_free(&h);
}

static void storage_truncate_whole_log_and_restart_it(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 7, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 30, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	CHECK_OK(&h, ballot_storage_truncate(h.s, 1, &h.em));
	assert_int_equal(count_suffix(&h, ".wal"), 0);
	append_range(&h, 1, 45, 2, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	assert_int_equal(ballot_storage_truncate(h.s, 0, &h.em), BALLOT_EINVAL);
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.entry_count, 45);
	assert_int_equal(h.rec.state.entries[0].term, 2);
	harness_free(&h);
}

static void storage_truncate_into_sealed_segment(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 8, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 39, 1, 0, len_100);
	append_range(&h, 40, 80, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	CHECK_OK(&h, ballot_storage_truncate(h.s, 40, &h.em));
	append_range(&h, 40, 50, 2, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	expect_entries(&h, 1, 50, term_split_40, 0, len_100);
	harness_free(&h);
}

/* ---- snapshots and compaction ------------------------------------------------------------- */

static ballot_config config_of(unsigned n)
{
	ballot_config c = {.count = n};
	for (unsigned i = 0; i < n; i++) {
		c.members[i].id = i + 1;
		c.members[i].role = BALLOT_MEMBER_VOTER;
		snprintf(c.members[i].address, sizeof c.members[i].address, "10.0.0.%u:7000", i + 1);
	}
	return c;
}

static uint64_t term_2(uint64_t index)
{
	(void)index;
	return 2;
}

static void storage_compaction_keeps_segment_after_snapshot(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 9, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	/* 152-byte records: 26 per segment, so segments start at 1, 27, 53, 79, 105, 131, ... */
	append_range(&h, 1, 200, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = ballot_rbuf_new("state machine", 13);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 120, 1, &c, data, &h.em));
	assert_int_equal(ballot_storage_compact(h.s, 121, &h.em), BALLOT_EINVAL);
	CHECK_OK(&h, ballot_storage_compact(h.s, 110, &h.em));
	assert_false(has_name(&h, "00000000000000000079.wal"));
	assert_true(has_name(&h, "00000000000000000105.wal")); /* holds 111 */
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.first_index, 105);
	assert_int_equal(st.snap_index, 120);
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	assert_true(h.rec.has_snapshot);
	assert_int_equal(h.rec.state.snap_index, 120);
	assert_int_equal(h.rec.state.snap_term, 1);
	assert_int_equal(h.rec.state.snap_config.count, 3);
	assert_string_equal(h.rec.state.snap_config.members[2].address, "10.0.0.3:7000");
	assert_int_equal(h.rec.state.snap_data->len, 13);
	assert_memory_equal(h.rec.state.snap_data->data, "state machine", 13);
	assert_int_equal(h.rec.state.entries[0].index, 121);
	expect_entries(&h, 121, 200, term_1, 0, len_100);
	/* A newer snapshot replaces the older file; compacting everything keeps the last segment. */
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 200, 1, &c, data, &h.em));
	assert_false(has_name(&h, "00000000000000000120.snap"));
	CHECK_OK(&h, ballot_storage_compact(h.s, 200, &h.em));
	assert_int_equal(count_suffix(&h, ".wal"), 1);
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.entry_count, 0);
	assert_int_equal(h.rec.state.snap_index, 200);
	append_range(&h, 201, 210, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	expect_entries(&h, 201, 210, term_1, 0, len_100);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* Compaction without the file system work: the segments leave the storage at once, their
 * files go later (or never, if a crash comes first: recovery removes them). */
static void storage_compact_detach_leaves_files_for_later(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 34, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 200, 1, 0, len_100); /* segments start at 1, 27, 53, 79, 105, ... */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = ballot_rbuf_new("state machine", 13);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 120, 1, &c, data, &h.em));
	ballot_fs_names paths;
	assert_int_equal(ballot_storage_compact_detach(h.s, 121, &paths, &h.em), BALLOT_EINVAL);
	assert_int_equal(paths.count, 0);
	CHECK_OK(&h, ballot_storage_compact_detach(h.s, 110, &paths, &h.em));
	assert_int_equal(paths.count, 4);
	assert_string_equal(paths.names[0], "/data/00000000000000000001.wal");
	assert_string_equal(paths.names[3], "/data/00000000000000000079.wal");
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.first_index, 105);
	assert_true(has_name(&h, "00000000000000000079.wal")); /* not yet removed */
	/* The log goes on meanwhile. */
	append_range(&h, 201, 210, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	assert_false(has_name(&h, "00000000000000000001.wal")); /* recovery removed them */
	assert_false(has_name(&h, "00000000000000000079.wal"));
	assert_int_equal(h.rec.state.snap_index, 120);
	expect_entries(&h, 121, 210, term_1, 0, len_100);
	/* Without a crash: removed by whoever is handed the names. */
	assert_int_equal(ballot_storage_remove_files(h.fs, &paths, &h.em), BALLOT_EIO); /* gone already */
	ballot_fs_names_free(&paths);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 200, 1, &c, data, &h.em));
	CHECK_OK(&h, ballot_storage_compact_detach(h.s, 190, &paths, &h.em));
	assert_true(paths.count > 0);
	for (size_t i = 0; i < paths.count; i++) {
		const char *name = strrchr(paths.names[i], '/') + 1;
		assert_true(has_name(&h, name));
	}
	CHECK_OK(&h, ballot_storage_remove_files(h.fs, &paths, &h.em));
	for (size_t i = 0; i < paths.count; i++)
		assert_false(has_name(&h, strrchr(paths.names[i], '/') + 1));
	ballot_fs_names_free(&paths);
	harness_open_ok(&h);
	expect_entries(&h, 201, 210, term_1, 0, len_100);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* A spare of zeros, prepared beside the storage, becomes the next segment at a roll; one of
 * another size is removed and the segment made as before; recovery keeps a spare silently
 * and removes a half-written one. */
static void storage_spare_segment_is_taken_at_a_roll(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 35, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 20, 1, 0, len_100); /* one segment: 26 records fit */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	CHECK_OK(&h, ballot_storage_prepare_spare(h.fs, h.dir, BALLOT_WAL_SEGMENT_BYTES_MIN, NULL, NULL, &h.em));
	assert_true(has_name(&h, "spare.wal"));
	/* There is one already: kept. */
	CHECK_OK(&h, ballot_storage_prepare_spare(h.fs, h.dir, BALLOT_WAL_SEGMENT_BYTES_MIN, NULL, NULL, &h.em));
	harness_open_ok(&h); /* recovery keeps it, without a word */
	assert_int_equal(h.rec.warning_count, 0);
	assert_true(has_name(&h, "spare.wal"));
	append_range(&h, 21, 40, 1, 0, len_100); /* rolls at 27 */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.spares_taken, 1);
	assert_int_equal(st.segment_count, 2);
	assert_false(has_name(&h, "spare.wal"));
	assert_true(has_name(&h, "00000000000000000027.wal"));
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	expect_entries(&h, 1, 40, term_1, 0, len_100);
	/* A spare of another size: removed at the next roll, which reserves its blocks. */
	CHECK_OK(&h, ballot_storage_prepare_spare(h.fs, h.dir, 2 * BALLOT_WAL_SEGMENT_BYTES_MIN, NULL, NULL, &h.em));
	append_range(&h, 41, 60, 1, 0, len_100); /* rolls at 53 */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.spares_taken, 0);
	assert_false(has_name(&h, "spare.wal"));
	assert_true(has_name(&h, "00000000000000000053.wal"));
	/* A spare cut short by a crash while it was written: only its temporary is left. */
	const char part[64] = {0};
	assert_int_equal(ballot_fs_sim_write_file(h.sim, "/data/spare.wal.tmp", part, sizeof part, &h.em), 0);
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	assert_false(has_name(&h, "spare.wal.tmp"));
	expect_entries(&h, 1, 60, term_1, 0, len_100);
	harness_free(&h);
}

static void storage_install_snapshot_replaces_log(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 10, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 50, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(5);
	ballot_rbuf *data = payload_new(100, 2, 0, 5000);
	CHECK_OK(&h, ballot_storage_install_snapshot(h.s, 100, 2, &c, data, &h.em));
	assert_int_equal(count_suffix(&h, ".wal"), 0);
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.last_index, 100);
	assert_int_equal(st.last_term, 2);
	append_range(&h, 101, 110, 2, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.snap_index, 100);
	assert_int_equal(h.rec.state.snap_data->len, 5000);
	assert_memory_equal(h.rec.state.snap_data->data, data->data, 5000);
	expect_entries(&h, 101, 110, term_2, 0, len_100);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* What a runtime's pause sees: one more megabyte of the snapshot written and synced each
 * time it is called, never after the last; the file is whole afterwards. */
typedef struct pace_log {
	ballot_fs_sim *sim;
	unsigned calls;
	uint64_t syncs[8], bytes[8];
} pace_log;

static void pace_record(void *ctx)
{
	pace_log *p = ctx;
	ballot_fs_sim_stats st;
	ballot_fs_sim_stats_get(p->sim, &st);
	if (p->calls < 8) {
		p->syncs[p->calls] = st.datasyncs;
		p->bytes[p->calls] = st.bytes_written;
	}
	p->calls++;
}

static void storage_snapshot_written_beside_pauses_between_synced_megabytes(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 32, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 20, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	size_t len = 2 * BALLOT_SNAPSHOT_SIDE_SYNC_BYTES + 4321;
	ballot_rbuf *data = payload_new(20, 1, 3, len);
	pace_log p = {.sim = h.sim};
	ballot_fs_sim_stats before;
	ballot_fs_sim_stats_get(h.sim, &before);
	CHECK_OK(&h, ballot_storage_write_snapshot_file(h.fs, h.dir, 20, 1, &c, data, pace_record, &p, &h.em));
	assert_int_equal(p.calls, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(p.syncs[i] - before.datasyncs, i + 1);
		uint64_t data_written = p.bytes[i] - before.bytes_written;
		assert_true(data_written >= (i + 1) * (uint64_t)BALLOT_SNAPSHOT_SIDE_SYNC_BYTES);
		assert_true(data_written < (i + 1) * (uint64_t)BALLOT_SNAPSHOT_SIDE_SYNC_BYTES + 4096);
	}
	bool adopted = false;
	CHECK_OK(&h, ballot_storage_adopt_snapshot(h.s, 20, 1, &c, data->len, &adopted, &h.em));
	assert_true(adopted);
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.snap_index, 20);
	assert_int_equal(h.rec.state.snap_data->len, len);
	assert_memory_equal(h.rec.state.snap_data->data, data->data, len);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* A snapshot written beside the storage (another thread, a child process) while the log
 * goes on, then adopted: it replaces the older snapshot, the log is kept, and a reopen
 * recovers the snapshot and the entries appended meanwhile. */
static void storage_snapshot_written_beside_is_adopted(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 31, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 200, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *old = payload_new(50, 1, 1, 300);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 50, 1, &c, old, &h.em));
	ballot_rbuf *data = payload_new(120, 1, 2, 7000);
	CHECK_OK(&h, ballot_storage_write_snapshot_file(h.fs, h.dir, 120, 1, &c, data, NULL, NULL, &h.em));
	append_range(&h, 201, 220, 1, 0, len_100); /* the log went on meanwhile */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.snap_index, 50); /* written, not yet the storage's */
	bool adopted = false;
	CHECK_OK(&h, ballot_storage_adopt_snapshot(h.s, 120, 1, &c, data->len, &adopted, &h.em));
	assert_true(adopted);
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.snap_index, 120);
	assert_int_equal(st.snap_term, 1);
	assert_false(has_name(&h, "00000000000000000050.snap"));
	assert_int_equal(count_suffix(&h, ".tmp"), 0);
	/* The data's place in the file is known, as for a snapshot the storage wrote itself. */
	char path[BALLOT_STORAGE_PATH_MAX + 64];
	uint64_t offset = 0, len = 0;
	assert_int_equal(ballot_storage_snapshot_location(h.s, path, sizeof path, &offset, &len), 0);
	assert_string_equal(path, "/data/00000000000000000120.snap");
	assert_int_equal(len, 7000);
	unsigned char *bytes = NULL;
	size_t size = 0;
	assert_int_equal(ballot_fs_sim_read_file(h.sim, path, &bytes, &size, &h.em), 0);
	assert_true(size >= offset + len);
	assert_memory_equal(bytes + offset, data->data, 7000);
	free(bytes);
	CHECK_OK(&h, ballot_storage_compact(h.s, 110, &h.em));
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	assert_int_equal(h.rec.state.snap_index, 120);
	assert_int_equal(h.rec.state.snap_data->len, 7000);
	assert_memory_equal(h.rec.state.snap_data->data, data->data, 7000);
	expect_entries(&h, 121, 220, term_1, 0, len_100);
	ballot_rbuf_unref(old);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* A power loss after the file is written and before it is adopted: recovery takes the newer
 * snapshot with the log; a power loss while it is written leaves only a temporary, which
 * recovery removes without a word. */
static void storage_snapshot_written_beside_survives_a_crash(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 32, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 100, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = payload_new(80, 1, 3, 4000);
	CHECK_OK(&h, ballot_storage_write_snapshot_file(h.fs, h.dir, 80, 1, &c, data, NULL, NULL, &h.em));
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.snap_index, 80);
	assert_memory_equal(h.rec.state.snap_data->data, data->data, 4000);
	expect_entries(&h, 81, 100, term_1, 0, len_100);
	/* A half-written temporary of the next one. */
	const char junk[] = "half a snapshot";
	assert_int_equal(ballot_fs_sim_write_file(h.sim, "/data/00000000000000000090.snap.side.tmp", junk,
						  sizeof junk, &h.em), 0);
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	assert_int_equal(h.rec.warning_count, 0);
	assert_int_equal(count_suffix(&h, ".tmp"), 0);
	assert_int_equal(h.rec.state.snap_index, 80);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* A follower installs the leader's snapshot while its own is being written: its own is
 * overtaken (not adopted, its file removed), and one past the log is refused. */
static void storage_snapshot_written_beside_overtaken_by_install(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 33, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 100, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *mine = payload_new(90, 1, 4, 1000);
	ballot_rbuf *leaders = payload_new(300, 2, 5, 2000);
	bool adopted = true;
	assert_int_equal(ballot_storage_adopt_snapshot(h.s, 101, 1, &c, 10, &adopted, &h.em), BALLOT_EINVAL);
	assert_false(adopted);
	CHECK_OK(&h, ballot_storage_write_snapshot_file(h.fs, h.dir, 90, 1, &c, mine, NULL, NULL, &h.em));
	CHECK_OK(&h, ballot_storage_install_snapshot(h.s, 300, 2, &c, leaders, &h.em));
	adopted = true;
	CHECK_OK(&h, ballot_storage_adopt_snapshot(h.s, 90, 1, &c, mine->len, &adopted, &h.em));
	assert_false(adopted);
	assert_false(has_name(&h, "00000000000000000090.snap"));
	ballot_storage_status st;
	ballot_storage_status_get(h.s, &st);
	assert_int_equal(st.snap_index, 300);
	/* At the very index installed, the file is that position's snapshot: kept. */
	CHECK_OK(&h, ballot_storage_write_snapshot_file(h.fs, h.dir, 300, 2, &c, leaders, NULL, NULL, &h.em));
	CHECK_OK(&h, ballot_storage_adopt_snapshot(h.s, 300, 2, &c, leaders->len, &adopted, &h.em));
	assert_false(adopted);
	assert_true(has_name(&h, "00000000000000000300.snap"));
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.snap_index, 300);
	assert_memory_equal(h.rec.state.snap_data->data, leaders->data, 2000);
	ballot_rbuf_unref(mine);
	ballot_rbuf_unref(leaders);
	harness_free(&h);
}

static void storage_bootstrap_snapshot_at_index_zero(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 11, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	ballot_config c = config_of(3);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 0, 0, &c, NULL, &h.em));
	append_range(&h, 1, 5, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	harness_open_ok(&h);
	assert_true(h.rec.has_snapshot);
	assert_int_equal(h.rec.state.snap_index, 0);
	assert_null(h.rec.state.snap_data);
	assert_int_equal(h.rec.state.snap_config.count, 3);
	expect_entries(&h, 1, 5, term_1, 0, len_100);
	harness_free(&h);
}

/* A crash while installing a snapshot, at every step: recovery gives the old state or the
 * new one, never a mix, never corruption. */
static void storage_crash_during_install_snapshot(void **state)
{
	(void)state;
	for (uint64_t install_term = 1; install_term <= 2; install_term++) {
		for (uint64_t fail_at = 0; fail_at < 40; fail_at++) {
			harness h;
			harness_init(&h, 100 + fail_at, BALLOT_WAL_SEGMENT_BYTES_MIN);
			harness_open_ok(&h);
			append_range(&h, 1, 100, 1, 0, len_100);
			CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
			ballot_config c = config_of(3);
			ballot_rbuf *data = ballot_rbuf_new("snap", 4);
			ballot_fs_sim_fail_after(h.sim, fail_at);
			int rc = ballot_storage_install_snapshot(h.s, 30, install_term, &c, data, &h.em);
			ballot_fs_sim_fail_after(h.sim, UINT64_MAX);
			harness_crash(&h, BALLOT_FS_SIM_CRASH_TEAR | BALLOT_FS_SIM_CRASH_DIR_RANDOM);
			harness_open_ok(&h);
			const ballot_raft_storage *st = &h.rec.state;
			if (!h.rec.has_snapshot) {
				assert_int_not_equal(rc, 0);
				expect_entries(&h, 1, 100, term_1, 0, len_100);
			} else {
				assert_int_equal(st->snap_index, 30);
				/* The old log continues the snapshot only if the terms agree at 30; then
				 * what is left of it is a prefix of the old log. */
				if (install_term != 1)
					assert_int_equal(st->entry_count, 0);
				for (size_t i = 0; i < st->entry_count; i++)
					assert_true(entry_matches(&st->entries[i], 31 + i, 1, 0, 100));
				if (rc == 0)
					assert_int_equal(st->entry_count, 0);
			}
			harness_open_ok(&h); /* and the repaired directory opens cleanly */
			assert_int_equal(h.rec.warning_count, 0);
			ballot_rbuf_unref(data);
			harness_free(&h);
		}
	}
}

/* ---- crashes -------------------------------------------------------------------------------- */

static void storage_crash_loses_unsynced_never_synced(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 12, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 10, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	append_range(&h, 11, 20, 1, 0, len_100);
	harness_crash(&h, BALLOT_FS_SIM_CRASH_TEAR);
	harness_open_ok(&h);
	expect_entries(&h, 1, 10, term_1, 0, len_100);
	/* Written but not synced: the write reached the page cache, the sync failed. */
	append_range(&h, 11, 20, 1, 0, len_100);
	ballot_fs_sim_fail_after(h.sim, 1);
	assert_int_equal(ballot_storage_sync(h.s, &h.em), BALLOT_EIO);
	ballot_fs_sim_fail_after(h.sim, UINT64_MAX);
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	expect_entries(&h, 1, 10, term_1, 0, len_100);
	harness_free(&h);
}

static void storage_process_crash_keeps_written_and_open_makes_it_durable(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 13, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 10, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	append_range(&h, 11, 20, 1, 0, len_100);
	ballot_fs_sim_fail_after(h.sim, 1); /* the write lands, its fdatasync fails */
	assert_int_equal(ballot_storage_sync(h.s, &h.em), BALLOT_EIO);
	ballot_fs_sim_fail_after(h.sim, UINT64_MAX);
	/* Failed storage refuses further writes. */
	ballot_entry e = entry_new(21, 1, 0, 10);
	assert_int_equal(ballot_storage_append(h.s, &e, 1, &h.em), BALLOT_EIO);
	assert_non_null(strstr(h.em.text, "failed earlier"));
	harness_crash(&h, BALLOT_FS_SIM_CRASH_PROCESS); /* kill -9: the page cache survives */
	harness_open_ok(&h);
	expect_entries(&h, 1, 20, term_1, 0, len_100);
	/* The node may now act on 11..20; a power loss must not take them back. */
	harness_crash(&h, BALLOT_FS_SIM_CRASH_POWER);
	harness_open_ok(&h);
	expect_entries(&h, 1, 20, term_1, 0, len_100);
	entries_free(&e, 1);
	harness_free(&h);
}

static void storage_torn_last_record_cut_with_warning(void **state)
{
	(void)state;
	/* keep: bytes of record 11 that reached the disk (a header cut short, then a payload). */
	const size_t keeps[] = {1, 10, 31, 32, 100, 140, 147, 151}; /* 151: all but the end mark's last byte */
	for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
		harness h;
		harness_init(&h, 14, BALLOT_WAL_SEGMENT_BYTES_MIN * 4);
		harness_open_ok(&h);
		append_range(&h, 1, 11, 1, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		ballot_storage_close(h.s);
		h.s = NULL;
		record_map m;
		map_records(&h, &m);
		char path[BALLOT_STORAGE_PATH_MAX];
		record_path(&h, &m, 11, path);
		unsigned char *bytes;
		size_t len;
		CHECK_OK(&h, ballot_fs_sim_read_file(h.sim, path, &bytes, &len, &h.em));
		memset(bytes + m.offset[11] + keeps[k], 0, m.size[11] - keeps[k]);
		CHECK_OK(&h, ballot_fs_sim_write_file(h.sim, path, bytes, len, &h.em));
		free(bytes);
		harness_open_ok(&h);
		assert_true(harness_warned(&h, "torn record"));
		char where[64];
		snprintf(where, sizeof where, "offset %llu", (unsigned long long)m.offset[11]);
		assert_true(harness_warned(&h, where));
		expect_entries(&h, 1, 10, term_1, 0, len_100);
		/* Cut for good: the next open is clean, and the log goes on from 11. */
		append_range(&h, 11, 12, 2, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		harness_open_ok(&h);
		assert_int_equal(h.rec.warning_count, 0);
		assert_int_equal(h.rec.state.entry_count, 12);
		assert_int_equal(h.rec.state.entries[11].term, 2);
		harness_free(&h);
	}
}

/* Zeros where a record was, and valid records after it: lost unsynced writes if those
 * records never claimed the position durable, corruption if they did. */
static void storage_zeroed_record_leftovers_or_corruption(void **state)
{
	(void)state;
	for (int synced_after = 0; synced_after <= 1; synced_after++) {
		harness h;
		harness_init(&h, 15, BALLOT_WAL_SEGMENT_BYTES_MIN * 4);
		harness_open_ok(&h);
		append_range(&h, 1, 10, 1, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		append_range(&h, 11, 15, 1, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		if (synced_after) {
			append_range(&h, 16, 18, 1, 0, len_100); /* written after 11..15 were durable */
			CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		}
		ballot_storage_close(h.s);
		h.s = NULL;
		record_map m;
		map_records(&h, &m);
		char path[BALLOT_STORAGE_PATH_MAX];
		record_path(&h, &m, 11, path);
		unsigned char *bytes;
		size_t len;
		CHECK_OK(&h, ballot_fs_sim_read_file(h.sim, path, &bytes, &len, &h.em));
		memset(bytes + m.offset[11], 0, m.size[11]);
		CHECK_OK(&h, ballot_fs_sim_write_file(h.sim, path, bytes, len, &h.em));
		free(bytes);
		int rc = harness_open(&h);
		if (synced_after) {
			assert_int_equal(rc, BALLOT_ECORRUPT);
			assert_non_null(strstr(h.em.text, "had been made durable"));
		} else {
			assert_int_equal(rc, 0);
			assert_true(harness_warned(&h, "unsynced records"));
			expect_entries(&h, 1, 10, term_1, 0, len_100);
		}
		harness_free(&h);
	}
}

/* ---- damage -------------------------------------------------------------------------------- */

static void storage_flipped_bit_in_middle_record_is_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 16, BALLOT_WAL_SEGMENT_BYTES_MIN * 4);
	harness_open_ok(&h);
	for (uint64_t batch = 0; batch < 4; batch++) {
		append_range(&h, batch * 5 + 1, batch * 5 + 5, 1, 0, len_varied);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	}
	ballot_storage_close(h.s);
	h.s = NULL;
	record_map m;
	map_records(&h, &m);
	char path[BALLOT_STORAGE_PATH_MAX];
	/* Records 8 (followed by later batches) and 17 (followed within its own batch). */
	const uint64_t victims[] = {8, 17};
	for (size_t v = 0; v < 2; v++) {
		uint64_t index = victims[v];
		record_path(&h, &m, index, path);
		char where[BALLOT_STORAGE_PATH_MAX + 64];
		snprintf(where, sizeof where, "%s at offset %llu:", path, (unsigned long long)m.offset[index]);
		for (int trial = 0; trial < 48; trial++) {
			uint64_t bit;
			CHECK_OK(&h, ballot_fs_sim_flip_random_bit(h.sim, path, m.offset[index],
								   m.offset[index] + m.size[index], &bit, &h.em));
			int rc = harness_open(&h);
			if (rc != BALLOT_ECORRUPT)
				fail_msg("record %llu, bit %llu flipped: open gave %d (%s)", (unsigned long long)index,
					 (unsigned long long)bit, rc, h.em.text);
			if (strstr(h.em.text, where) == NULL)
				fail_msg("message lacks '%s': %s", where, h.em.text);
			assert_non_null(strstr(h.em.text, "wipe its data dir"));
			CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em)); /* undo */
		}
	}
	/* The last record's payload: a complete record that fails its checksum. */
	record_path(&h, &m, 20, path);
	CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, (m.offset[20] + REC_HEADER_BYTES) * 8 + 3, &h.em));
	assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
	assert_non_null(strstr(h.em.text, "checksum mismatch"));
	harness_free(&h);
}

/* The last record of the log, synced (so perhaps acknowledged and committed), then damaged:
 * whichever bit flips (in its magic, length or end mark too, which leave it looking like a
 * write cut short), recovery refuses it and never cuts it as a torn tail. Also with the
 * torn prefix of a later, unsynced write behind it. */
static void storage_flipped_bit_in_last_record_is_corrupt_never_cut(void **state)
{
	(void)state;
	/* A cut end mark is at least two bits from the real one (near_end_mark relies on it). */
	for (int i = 0; i < 8; i++)
		assert_true(__builtin_popcount((unsigned char)REC_END_MARK[i]) >= 2);
	for (int torn_behind = 0; torn_behind <= 1; torn_behind++) {
		harness h;
		harness_init(&h, 17, BALLOT_WAL_SEGMENT_BYTES_MIN * 4);
		harness_open_ok(&h);
		append_range(&h, 1, 12, 1, 0, len_varied);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		if (torn_behind) {
			append_range(&h, 13, 14, 1, 0, len_100);
			CHECK_OK(&h, ballot_storage_sync(h.s, &h.em)); /* 13 and 14: the write to tear */
		}
		ballot_storage_close(h.s);
		h.s = NULL;
		record_map m;
		map_records(&h, &m);
		char path[BALLOT_STORAGE_PATH_MAX];
		record_path(&h, &m, 12, path);
		if (torn_behind) {
			/* Zeros from the middle of record 13's header on: a prefix of the write. */
			unsigned char *bytes;
			size_t len;
			CHECK_OK(&h, ballot_fs_sim_read_file(h.sim, path, &bytes, &len, &h.em));
			memset(bytes + m.offset[13] + 20, 0, m.size[13] - 20 + m.size[14]);
			CHECK_OK(&h, ballot_fs_sim_write_file(h.sim, path, bytes, len, &h.em));
			free(bytes);
		}
		char where[BALLOT_STORAGE_PATH_MAX + 64];
		snprintf(where, sizeof where, "%s at offset %llu:", path, (unsigned long long)m.offset[12]);
		for (uint64_t bit = m.offset[12] * 8; bit < (m.offset[12] + m.size[12]) * 8; bit++) {
			CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em));
			int rc = harness_open(&h);
			if (rc == 0)
				fail_msg("bit %llu of record 12 flipped (%s): recovered %zu entries", (unsigned long long)bit,
					 torn_behind ? "torn write behind" : "nothing behind", h.rec.state.entry_count);
			assert_int_equal(rc, BALLOT_ECORRUPT);
			if (strstr(h.em.text, where) == NULL)
				fail_msg("bit %llu: message lacks '%s': %s", (unsigned long long)bit, where, h.em.text);
			CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em)); /* undo */
		}
		harness_open_ok(&h); /* undamaged, it recovers: 1..12, and the torn write is cut */
		expect_entries(&h, 1, 12, term_1, 0, len_varied);
		assert_int_equal(harness_warned(&h, "torn record"), torn_behind);
		harness_free(&h);
	}
}

/* A running storage reads back the record before a cut (for its term); if a bit flipped in
 * it since it was written, the truncation fails with BALLOT_ECORRUPT and the storage is
 * failed (restart: recovery refuses the damage), instead of a wrong term or an abort. */
static void storage_truncate_reads_back_a_damaged_record_as_corrupt(void **state)
{
	(void)state;
	/* Bits in record 9's index, term and payload. */
	const uint64_t at[] = {16 * 8 + 2, 24 * 8 + 1, (REC_HEADER_BYTES + 5) * 8};
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		harness h;
		harness_init(&h, 18, BALLOT_WAL_SEGMENT_BYTES_MIN * 4);
		harness_open_ok(&h);
		append_range(&h, 1, 10, 1, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		record_map m;
		map_records(&h, &m);
		char path[BALLOT_STORAGE_PATH_MAX];
		record_path(&h, &m, 9, path);
		CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, m.offset[9] * 8 + at[k], &h.em));
		assert_int_equal(ballot_storage_truncate(h.s, 10, &h.em), BALLOT_ECORRUPT);
		char where[BALLOT_STORAGE_PATH_MAX + 64];
		snprintf(where, sizeof where, "%s at offset %llu: reading back the record of index 9", path,
			 (unsigned long long)m.offset[9]);
		if (strstr(h.em.text, where) == NULL)
			fail_msg("message lacks '%s': %s", where, h.em.text);
		ballot_storage_status st;
		ballot_storage_status_get(h.s, &st);
		assert_true(st.failed);
		ballot_entry e = entry_new(10, 2, 0, 100);
		assert_int_equal(ballot_storage_append(h.s, &e, 1, &h.em), BALLOT_EIO);
		entries_free(&e, 1);
		assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
		harness_free(&h);
	}
}

static void storage_flipped_bit_in_segment_header_is_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 17, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 5, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	const char *path = "/data/00000000000000000001.wal";
	for (uint64_t bit = 0; bit < SEG_HEADER_BYTES * 8; bit += 7) {
		CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em));
		assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
		assert_non_null(strstr(h.em.text, path));
		CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em));
	}
	harness_open_ok(&h);
	harness_free(&h);
}

static void storage_flipped_bit_in_one_hard_state_copy_uses_the_other(void **state)
{
	(void)state;
	for (unsigned slot = 0; slot < 2; slot++) {
		harness h;
		harness_init(&h, 18 + slot, BALLOT_WAL_SEGMENT_BYTES_MIN);
		harness_open_ok(&h);
		ballot_hard_state hs = {.term = 7, .vote = 3, .commit = 0};
		CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &hs, &h.em));
		ballot_storage_close(h.s);
		h.s = NULL;
		const char *path = "/data/hardstate";
		for (int trial = 0; trial < 32; trial++) {
			uint64_t bit;
			CHECK_OK(&h, ballot_fs_sim_flip_random_bit(h.sim, path, slot * HS_SLOT_BYTES,
								   (slot + 1) * HS_SLOT_BYTES, &bit, &h.em));
			harness_open_ok(&h);
			char note[64];
			snprintf(note, sizeof note, "copy %u is damaged", slot);
			assert_true(harness_warned(&h, note));
			assert_int_equal(h.rec.state.hard_state.term, 7);
			assert_int_equal(h.rec.state.hard_state.vote, 3);
			/* Both copies were rewritten: the next open is clean. */
			harness_open_ok(&h);
			assert_int_equal(h.rec.warning_count, 0);
			assert_int_equal(h.rec.state.hard_state.vote, 3);
			ballot_storage_close(h.s);
			h.s = NULL;
		}
		harness_free(&h);
	}
}

static void storage_flipped_bits_in_both_hard_state_copies_are_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 20, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	ballot_hard_state hs = {.term = 2, .vote = 1};
	CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &hs, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, "/data/hardstate", 24 * 8, &h.em));
	CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, "/data/hardstate", (HS_SLOT_BYTES + 24) * 8, &h.em));
	assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
	assert_non_null(strstr(h.em.text, "/data/hardstate at offset 0: both copies"));
	harness_free(&h);
}

/* A crash in the middle of a hard state save, at each step, torn or not: the old state or
 * the new one, never corruption. */
static void storage_crash_during_hard_state_save(void **state)
{
	(void)state;
	for (uint64_t fail_at = 0; fail_at < 4; fail_at++) {
		for (uint64_t seed = 0; seed < 16; seed++) {
			harness h;
			harness_init(&h, 1000 + seed, BALLOT_WAL_SEGMENT_BYTES_MIN);
			harness_open_ok(&h);
			ballot_hard_state a = {.term = 4, .vote = 1, .commit = 2}, b = {.term = 5, .vote = 2, .commit = 3};
			CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &a, &h.em));
			ballot_fs_sim_fail_after(h.sim, fail_at);
			int rc = ballot_storage_save_hard_state(h.s, &b, &h.em);
			ballot_fs_sim_fail_after(h.sim, UINT64_MAX);
			harness_crash(&h, seed % 2 ? BALLOT_FS_SIM_CRASH_TEAR : BALLOT_FS_SIM_CRASH_POWER);
			harness_open_ok(&h);
			const ballot_hard_state *got = &h.rec.state.hard_state;
			if (rc == 0)
				assert_int_equal(got->term, 5);
			assert_true((got->term == 4 && got->vote == 1) || (got->term == 5 && got->vote == 2));
			harness_free(&h);
		}
	}
}

static void storage_flipped_bit_in_snapshot_is_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 21, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 10, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = payload_new(1, 2, 3, 2000);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 10, 1, &c, data, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	const char *path = "/data/00000000000000000010.snap";
	for (int trial = 0; trial < 48; trial++) {
		uint64_t bit;
		CHECK_OK(&h, ballot_fs_sim_flip_random_bit(h.sim, path, 0, UINT64_MAX, &bit, &h.em));
		int rc = harness_open(&h);
		if (rc != BALLOT_ECORRUPT)
			fail_msg("bit %llu: open gave %d", (unsigned long long)bit, rc);
		assert_non_null(strstr(h.em.text, path));
		CHECK_OK(&h, ballot_fs_sim_flip_bit(h.sim, path, bit, &h.em));
	}
	harness_open_ok(&h);
	assert_int_equal(h.rec.state.snap_index, 10);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

static void storage_missing_segment_is_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 22, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 40, 1, 0, len_500); /* 548-byte records: 7 per segment */
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	CHECK_OK(&h, ballot_fs_unlink(h.fs, "/data/00000000000000000008.wal", &h.em));
	assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
	assert_non_null(strstr(h.em.text, "/data/00000000000000000015.wal at offset 0"));
	assert_non_null(strstr(h.em.text, "a segment is missing"));
	CHECK_OK(&h, ballot_fs_unlink(h.fs, "/data/00000000000000000001.wal", &h.em));
	assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
	assert_non_null(strstr(h.em.text, "entries 1 to 14 are missing"));
	harness_free(&h);
}

static void storage_missing_hard_state_is_corrupt(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 23, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 3, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	CHECK_OK(&h, ballot_fs_unlink(h.fs, "/data/hardstate", &h.em));
	assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
	assert_non_null(strstr(h.em.text, "hard state file is missing"));
	harness_free(&h);
}

/* Rewrites the little-endian u32 at `at` of a file. */
static void poke_u32(harness *h, const char *path, size_t at, uint32_t v)
{
	unsigned char *bytes;
	size_t len;
	CHECK_OK(h, ballot_fs_sim_read_file(h->sim, path, &bytes, &len, &h->em));
	put_u32(bytes + at, v);
	CHECK_OK(h, ballot_fs_sim_write_file(h->sim, path, bytes, len, &h->em));
	free(bytes);
}

static void storage_unknown_format_version_is_named(void **state)
{
	(void)state;
	const char *files[] = {"/data/00000000000000000001.wal", "/data/00000000000000000003.snap", "/data/hardstate"};
	for (size_t f = 0; f < 3; f++) {
		harness h;
		harness_init(&h, 24, BALLOT_WAL_SEGMENT_BYTES_MIN);
		harness_open_ok(&h);
		append_range(&h, 1, 3, 1, 0, len_100);
		CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
		ballot_config c = config_of(1);
		ballot_rbuf *data = ballot_rbuf_new("s", 1);
		CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 3, 1, &c, data, &h.em));
		ballot_rbuf_unref(data);
		ballot_storage_close(h.s);
		h.s = NULL;
		poke_u32(&h, files[f], 8, 2);
		if (f == 2)
			poke_u32(&h, files[f], HS_SLOT_BYTES + 8, 2);
		assert_int_equal(harness_open(&h), BALLOT_ECORRUPT);
		assert_non_null(strstr(h.em.text, files[f]));
		assert_non_null(strstr(h.em.text, "format version 2, but this build reads version 1"));
		harness_free(&h);
	}
}

/* ---- the lock ---------------------------------------------------------------------------- */

static void storage_second_open_of_locked_dir_is_busy(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 25, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	ballot_storage *other = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	assert_int_equal(ballot_storage_open(h.fs, "/data/", &h.opts, &other, &rec, &em), BALLOT_EBUSY);
	assert_string_equal(em.text, "data dir /data is in use by another process (lock file /data/LOCK)");
	assert_null(other);
	ballot_storage_recovery_free(&rec);
	ballot_storage_close(h.s);
	h.s = NULL;
	assert_int_equal(ballot_storage_open(h.fs, "/data", &h.opts, &other, &rec, &em), 0);
	ballot_storage_close(other);
	ballot_storage_recovery_free(&rec);
	harness_free(&h);
}

static void storage_read_only_open_changes_nothing(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 26, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	append_range(&h, 1, 11, 1, 0, len_100);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_storage_close(h.s);
	h.s = NULL;
	record_map m;
	map_records(&h, &m);
	char path[BALLOT_STORAGE_PATH_MAX];
	record_path(&h, &m, 11, path);
	unsigned char *before;
	size_t len;
	CHECK_OK(&h, ballot_fs_sim_read_file(h.sim, path, &before, &len, &h.em));
	before[m.offset[11] + 40] = 0; /* record 11 now looks torn */
	before[m.offset[11] + 41] = 0;
	memset(before + m.offset[11] + 40, 0, m.size[11] - 40);
	CHECK_OK(&h, ballot_fs_sim_write_file(h.sim, path, before, len, &h.em));
	h.opts.read_only = true;
	harness_open_ok(&h); /* the writer's lock is not needed, and not taken */
	expect_entries(&h, 1, 10, term_1, 0, len_100);
	ballot_entry e = entry_new(11, 1, 0, 1);
	assert_int_equal(ballot_storage_append(h.s, &e, 1, &h.em), BALLOT_EINVAL);
	unsigned char *after;
	CHECK_OK(&h, ballot_fs_sim_read_file(h.sim, path, &after, &len, &h.em));
	assert_memory_equal(before, after, len);
	ballot_storage_report rep;
	CHECK_OK(&h, ballot_storage_inspect(h.fs, h.dir, NULL, &rep, &h.em));
	assert_true(rep.torn_tail);
	assert_int_equal(rep.torn_offset, m.offset[11]);
	assert_int_equal(rep.last_index, 10);
	/* No lock taken: a writer can open the directory alongside. */
	ballot_storage *writer = NULL;
	ballot_storage_recovery wrec;
	assert_int_equal(ballot_storage_open(h.fs, h.dir, NULL, &writer, &wrec, &h.em), 0);
	ballot_storage_close(writer);
	ballot_storage_recovery_free(&wrec);
	free(before);
	free(after);
	entries_free(&e, 1);
	harness_free(&h);
}

/* What recovery returns is what the Raft core restarts from. */
static void storage_recovery_starts_a_raft_node(void **state)
{
	(void)state;
	harness h;
	harness_init(&h, 27, BALLOT_WAL_SEGMENT_BYTES_MIN);
	harness_open_ok(&h);
	ballot_hard_state hs = {.term = 2, .vote = 1, .commit = 40};
	CHECK_OK(&h, ballot_storage_save_hard_state(h.s, &hs, &h.em));
	append_range(&h, 1, 60, 2, 0, len_varied);
	CHECK_OK(&h, ballot_storage_sync(h.s, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = ballot_rbuf_new("applied through 30", 18);
	CHECK_OK(&h, ballot_storage_save_snapshot(h.s, 30, 2, &c, data, &h.em));
	CHECK_OK(&h, ballot_storage_compact(h.s, 20, &h.em));
	harness_open_ok(&h);
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	ballot_raft *r = NULL;
	ballot_errmsg em;
	int rc = ballot_raft_new(&r, &o, &h.rec.state, 7, &em);
	if (rc != 0)
		fail_msg("ballot_raft_new: %s", em.text);
	ballot_raft_status st;
	ballot_raft_status_get(r, &st);
	assert_int_equal(st.term, 2);
	assert_int_equal(st.vote, 1);
	assert_int_equal(st.commit, 40);
	assert_int_equal(st.snap_index, 30);
	assert_int_equal(st.last_index, 60);
	assert_int_equal(st.config.count, 3);
	ballot_raft_free(r);
	ballot_rbuf_unref(data);
	harness_free(&h);
}

/* ---- the simulated disk itself ------------------------------------------------------------- */

static void write_at(ballot_fs *fs, ballot_file *f, const char *text, uint64_t off)
{
	ballot_errmsg em;
	assert_int_equal(ballot_fs_pwrite(fs, f, text, strlen(text), off, &em), 0);
}

static size_t read_all(ballot_fs_sim *sim, const char *path, char *out, size_t cap)
{
	unsigned char *data;
	size_t len;
	ballot_errmsg em;
	if (ballot_fs_sim_read_file(sim, path, &data, &len, &em) != 0)
		return (size_t)-1;
	assert_true(len < cap);
	if (len > 0)
		memcpy(out, data, len);
	out[len] = '\0';
	free(data);
	return len;
}

static void fs_sim_power_loss_keeps_only_what_was_synced(void **state)
{
	(void)state;
	ballot_fs_sim *sim;
	assert_int_equal(ballot_fs_sim_new(&sim, 1), 0);
	ballot_fs *fs = ballot_fs_sim_fs(sim);
	ballot_errmsg em;
	bool created;
	ballot_file *f, *g;
	char buf[64];
	assert_int_equal(ballot_fs_mkdir(fs, "/d", &created, &em), 0);
	assert_int_equal(ballot_fs_sync_dir(fs, "/", &em), 0);
	assert_int_equal(ballot_fs_open(fs, "/d/a", BALLOT_FS_RDWR | BALLOT_FS_CREATE, &f, &em), 0);
	write_at(fs, f, "durable", 0);
	assert_int_equal(ballot_fs_datasync(fs, f, &em), 0);
	assert_int_equal(ballot_fs_sync_dir(fs, "/d", &em), 0);
	write_at(fs, f, "-lost", 7);
	assert_int_equal(ballot_fs_open(fs, "/d/b", BALLOT_FS_RDWR | BALLOT_FS_CREATE, &g, &em), 0);
	write_at(fs, g, "synced, but its name was not", 0);
	assert_int_equal(ballot_fs_datasync(fs, g, &em), 0);
	assert_int_equal(read_all(sim, "/d/a", buf, sizeof buf), 12);
	ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_POWER);
	assert_int_equal(read_all(sim, "/d/a", buf, sizeof buf), 7);
	assert_string_equal(buf, "durable");
	assert_int_equal(read_all(sim, "/d/b", buf, sizeof buf), (size_t)-1);
	/* Old handles are stale; closing them is fine. */
	assert_int_equal(ballot_fs_pwrite(fs, f, "x", 1, 0, &em), BALLOT_EIO);
	assert_non_null(strstr(em.text, "stale handle"));
	ballot_fs_close(fs, f);
	ballot_fs_close(fs, g);
	/* A rename is undone unless its directory is synced. */
	assert_int_equal(ballot_fs_rename(fs, "/d/a", "/d/c", &em), 0);
	ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_POWER);
	assert_int_equal(read_all(sim, "/d/a", buf, sizeof buf), 7);
	assert_int_equal(ballot_fs_rename(fs, "/d/a", "/d/c", &em), 0);
	assert_int_equal(ballot_fs_sync_dir(fs, "/d", &em), 0);
	ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_POWER);
	assert_int_equal(read_all(sim, "/d/a", buf, sizeof buf), (size_t)-1);
	assert_int_equal(read_all(sim, "/d/c", buf, sizeof buf), 7);
	ballot_fs_sim_free(sim);
}

static void fs_sim_tear_keeps_a_prefix_of_the_last_write(void **state)
{
	(void)state;
	unsigned lengths_seen = 0;
	for (uint64_t seed = 0; seed < 64; seed++) {
		ballot_fs_sim *sim;
		assert_int_equal(ballot_fs_sim_new(&sim, seed), 0);
		ballot_fs *fs = ballot_fs_sim_fs(sim);
		ballot_errmsg em;
		ballot_file *f;
		char buf[64];
		assert_int_equal(ballot_fs_sim_write_file(sim, "/f", "base", 4, &em), 0);
		assert_int_equal(ballot_fs_open(fs, "/f", BALLOT_FS_RDWR, &f, &em), 0);
		write_at(fs, f, "-first", 4);  /* lost: not the last write */
		write_at(fs, f, "0123456789", 10);
		ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_TEAR);
		size_t len = read_all(sim, "/f", buf, sizeof buf);
		assert_memory_equal(buf, "base", 4);
		if (len > 4) {
			assert_memory_equal(buf + 4, "\0\0\0\0\0\0", 6); /* the earlier write is gone */
			assert_memory_equal(buf + 10, "0123456789", len - 10);
		}
		lengths_seen |= 1u << (len > 4 ? len - 10 : 0);
		ballot_fs_close(fs, f);
		ballot_fs_sim_free(sim);
	}
	assert_true(__builtin_popcount(lengths_seen) > 5); /* prefixes of several lengths */
}

static void fs_sim_process_crash_keeps_the_page_cache_until_power_loss(void **state)
{
	(void)state;
	ballot_fs_sim *sim;
	assert_int_equal(ballot_fs_sim_new(&sim, 2), 0);
	ballot_fs *fs = ballot_fs_sim_fs(sim);
	ballot_errmsg em;
	ballot_file *f, *lock, *again;
	char buf[64];
	assert_int_equal(ballot_fs_sim_write_file(sim, "/f", "v1", 2, &em), 0);
	assert_int_equal(ballot_fs_lock(fs, "/LOCK", &lock, &em), 0);
	assert_int_equal(ballot_fs_lock(fs, "/LOCK", &again, &em), BALLOT_EBUSY);
	assert_int_equal(ballot_fs_open(fs, "/f", BALLOT_FS_RDWR, &f, &em), 0);
	write_at(fs, f, "v2", 0);
	ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_PROCESS);
	read_all(sim, "/f", buf, sizeof buf);
	assert_string_equal(buf, "v2"); /* still in the page cache */
	assert_int_equal(ballot_fs_lock(fs, "/LOCK", &again, &em), 0); /* the dead process's lock is gone */
	ballot_fs_sim_crash(sim, BALLOT_FS_SIM_CRASH_POWER);
	read_all(sim, "/f", buf, sizeof buf);
	assert_string_equal(buf, "v1"); /* never synced */
	ballot_fs_close(fs, f);
	ballot_fs_close(fs, lock);
	ballot_fs_close(fs, again);
	ballot_fs_sim_free(sim);
}

/* Which bit of (file, byte) differs between two images of a file; -1 if none, -2 if more. */
static int differing_bit(const unsigned char *a, const unsigned char *b, size_t len, size_t *byte)
{
	int found = -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char x = a[i] ^ b[i];
		if (x == 0)
			continue;
		if (found != -1 || (x & (x - 1)) != 0)
			return -2;
		found = __builtin_ctz(x);
		*byte = i;
	}
	return found;
}

/* Flips land on one bit of one file of the directory (never elsewhere), spread over its
 * files, its data, its last bytes of data and its zeros; the same seed flips the same bits. */
static void fs_sim_flip_in_dir_flips_one_bit_of_one_file(void **state)
{
	(void)state;
	static const char *const names[] = {"/d/a", "/d/b", "/d/sub/c", "/other"};
	unsigned char image[4][2048] = {{0}};
	memset(image[0], 0xA5, 1000); /* data, then 1048 bytes of zeros */
	memset(image[1], 0x3C, 300);
	memset(image[2], 0x77, 2048);
	memset(image[3], 0x77, 2048);
	ballot_fs_sim *sim, *twin;
	assert_int_equal(ballot_fs_sim_new(&sim, 9), 0);
	assert_int_equal(ballot_fs_sim_new(&twin, 9), 0);
	ballot_errmsg em;
	bool created;
	for (int k = 0; k < 2; k++) {
		ballot_fs_sim *s = k ? twin : sim;
		assert_int_equal(ballot_fs_mkdir(ballot_fs_sim_fs(s), "/d", &created, &em), 0);
		assert_int_equal(ballot_fs_mkdir(ballot_fs_sim_fs(s), "/d/sub", &created, &em), 0);
		assert_int_equal(ballot_fs_mkdir(ballot_fs_sim_fs(s), "/empty", &created, &em), 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(ballot_fs_sim_write_file(s, names[i], image[i], sizeof image[i], &em), 0);
	}
	unsigned hits[2] = {0}, in_tail = 0, in_zeros = 0;
	for (int trial = 0; trial < 400; trial++) {
		char path[64], twin_path[64];
		uint64_t bit, twin_bit;
		assert_int_equal(ballot_fs_sim_flip_in_dir(sim, "/d", path, sizeof path, &bit, &em), 0);
		assert_int_equal(ballot_fs_sim_flip_in_dir(twin, "/d", twin_path, sizeof twin_path, &twin_bit, &em), 0);
		assert_string_equal(path, twin_path);
		assert_int_equal(bit, twin_bit);
		int changed = -1;
		for (int i = 0; i < 4; i++) {
			unsigned char now[2048 + 1]; /* read_all ends it with a NUL */
			assert_int_equal(read_all(sim, names[i], (char *)now, sizeof now), 2048);
			size_t byte = 0;
			int b = differing_bit(image[i], now, 2048, &byte);
			if (b == -1)
				continue;
			assert_int_equal(changed, -1); /* one file only */
			assert_true(i < 2);            /* directly in /d */
			assert_string_equal(path, names[i]);
			assert_int_equal(bit, byte * 8 + (uint64_t)b);
			changed = i;
			size_t data = i == 0 ? 1000 : 300;
			in_tail += byte < data && byte >= data - BALLOT_FS_SIM_FLIP_TAIL_BYTES;
			in_zeros += byte >= data;
		}
		assert_true(changed >= 0);
		hits[changed]++;
		assert_int_equal(ballot_fs_sim_flip_bit(sim, path, bit, &em), 0); /* undo */
		assert_int_equal(ballot_fs_sim_flip_bit(twin, path, bit, &em), 0);
	}
	assert_true(hits[0] > 120 && hits[1] > 120);
	/* Aimed at the last 256 bytes of data a quarter of the time (and by chance otherwise);
	 * at the zeros only when aimed anywhere (a quarter of the time, times their share). */
	assert_true(in_tail > 100);
	assert_true(in_zeros > 20 && in_zeros < 100);
	assert_int_equal(ballot_fs_sim_flip_in_dir(sim, "/empty", NULL, 0, NULL, &em), BALLOT_EINVAL);
	ballot_fs_sim_free(sim);
	ballot_fs_sim_free(twin);
}

/* ---- the real disk ------------------------------------------------------------------------------ */

static void remove_tree(const char *dir)
{
	ballot_fs *fs = ballot_fs_posix();
	ballot_fs_names names;
	if (ballot_fs_list(fs, dir, &names, NULL) == 0) {
		for (size_t i = 0; i < names.count; i++) {
			char path[BALLOT_STORAGE_PATH_MAX];
			snprintf(path, sizeof path, "%s/%s", dir, names.names[i]);
			if (ballot_fs_unlink(fs, path, NULL) != 0)
				remove_tree(path);
		}
		ballot_fs_names_free(&names);
	}
	rmdir(dir);
}

static void storage_round_trip_on_the_real_disk(void **state)
{
	(void)state;
	char tmp[] = "/tmp/ballot-storage-XXXXXX";
	assert_non_null(mkdtemp(tmp));
	char dir[BALLOT_STORAGE_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/node1", tmp);
	ballot_fs *fs = ballot_fs_posix();
	ballot_storage_options opts;
	ballot_storage_options_default(&opts);
	opts.segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	harness h = {.em = {{0}}};
	int rc = ballot_storage_open(fs, dir, &opts, &s, &rec, &em);
	if (rc != 0)
		fail_msg("open %s: %s", dir, em.text);
	assert_true(rec.fresh);
	h.s = s;
	append_range(&h, 1, 200, 1, 5, len_varied);
	CHECK_OK(&h, ballot_storage_sync(s, &h.em));
	ballot_hard_state hs = {.term = 1, .vote = 1, .commit = 150};
	CHECK_OK(&h, ballot_storage_save_hard_state(s, &hs, &h.em));
	ballot_config c = config_of(3);
	ballot_rbuf *data = payload_new(0, 0, 0, 3000);
	CHECK_OK(&h, ballot_storage_save_snapshot(s, 150, 1, &c, data, &h.em));
	CHECK_OK(&h, ballot_storage_compact(s, 100, &h.em));
	CHECK_OK(&h, ballot_storage_truncate(s, 190, &h.em));
	append_range(&h, 190, 199, 2, 5, len_varied);
	CHECK_OK(&h, ballot_storage_sync(s, &h.em));
	/* The lock holds against a second open (flock: per open file description). */
	ballot_storage *other = NULL;
	ballot_storage_recovery rec2;
	assert_int_equal(ballot_storage_open(fs, dir, &opts, &other, &rec2, &em), BALLOT_EBUSY);
	assert_non_null(strstr(em.text, "is in use by another process"));
	ballot_storage_recovery_free(&rec2);
	ballot_storage_close(s);
	ballot_storage_recovery_free(&rec);

	rc = ballot_storage_open(fs, dir, &opts, &s, &rec, &em);
	if (rc != 0)
		fail_msg("reopen %s: %s", dir, em.text);
	if (rec.warning_count != 0)
		fail_msg("reopen: %s", rec.warnings[0]);
	assert_int_equal(rec.state.hard_state.commit, 150);
	assert_int_equal(rec.state.snap_index, 150);
	assert_memory_equal(rec.state.snap_data->data, data->data, 3000);
	assert_int_equal(rec.state.entry_count, 49);
	for (size_t i = 0; i < rec.state.entry_count; i++) {
		uint64_t index = 151 + i;
		assert_true(entry_matches(&rec.state.entries[i], index, index < 190 ? 1 : 2, 5, len_varied(index)));
	}
	ballot_storage_report rep;
	CHECK_OK(&h, ballot_storage_inspect(fs, dir, NULL, &rep, &h.em));
	assert_int_equal(rep.last_index, 199);
	assert_int_equal(rep.entries_after_snapshot, 49);
	ballot_storage_close(s);
	ballot_storage_recovery_free(&rec);
	ballot_rbuf_unref(data);
	remove_tree(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(storage_round_trip_after_sync),
		cmocka_unit_test(storage_keeps_entry_types_and_empty_payloads),
		cmocka_unit_test(storage_append_refuses_gaps_and_going_back),
		cmocka_unit_test(storage_large_record_past_the_write_buffer),
		cmocka_unit_test(storage_segment_rolls_over_at_its_size),
		cmocka_unit_test(storage_truncate_suffix_then_append),
		cmocka_unit_test(storage_truncate_whole_log_and_restart_it),
		cmocka_unit_test(storage_truncate_into_sealed_segment),
		cmocka_unit_test(storage_compaction_keeps_segment_after_snapshot),
		cmocka_unit_test(storage_install_snapshot_replaces_log),
		cmocka_unit_test(storage_spare_segment_is_taken_at_a_roll),
		cmocka_unit_test(storage_compact_detach_leaves_files_for_later),
		cmocka_unit_test(storage_snapshot_written_beside_is_adopted),
		cmocka_unit_test(storage_snapshot_written_beside_pauses_between_synced_megabytes),
		cmocka_unit_test(storage_snapshot_written_beside_survives_a_crash),
		cmocka_unit_test(storage_snapshot_written_beside_overtaken_by_install),
		cmocka_unit_test(storage_bootstrap_snapshot_at_index_zero),
		cmocka_unit_test(storage_crash_during_install_snapshot),
		cmocka_unit_test(storage_crash_loses_unsynced_never_synced),
		cmocka_unit_test(storage_process_crash_keeps_written_and_open_makes_it_durable),
		cmocka_unit_test(storage_torn_last_record_cut_with_warning),
		cmocka_unit_test(storage_zeroed_record_leftovers_or_corruption),
		cmocka_unit_test(storage_flipped_bit_in_middle_record_is_corrupt),
		cmocka_unit_test(storage_flipped_bit_in_last_record_is_corrupt_never_cut),
		cmocka_unit_test(storage_truncate_reads_back_a_damaged_record_as_corrupt),
		cmocka_unit_test(storage_flipped_bit_in_segment_header_is_corrupt),
		cmocka_unit_test(storage_flipped_bit_in_one_hard_state_copy_uses_the_other),
		cmocka_unit_test(storage_flipped_bits_in_both_hard_state_copies_are_corrupt),
		cmocka_unit_test(storage_crash_during_hard_state_save),
		cmocka_unit_test(storage_flipped_bit_in_snapshot_is_corrupt),
		cmocka_unit_test(storage_missing_segment_is_corrupt),
		cmocka_unit_test(storage_missing_hard_state_is_corrupt),
		cmocka_unit_test(storage_unknown_format_version_is_named),
		cmocka_unit_test(storage_second_open_of_locked_dir_is_busy),
		cmocka_unit_test(storage_read_only_open_changes_nothing),
		cmocka_unit_test(storage_recovery_starts_a_raft_node),
		cmocka_unit_test(fs_sim_power_loss_keeps_only_what_was_synced),
		cmocka_unit_test(fs_sim_tear_keeps_a_prefix_of_the_last_write),
		cmocka_unit_test(fs_sim_process_crash_keeps_the_page_cache_until_power_loss),
		cmocka_unit_test(fs_sim_flip_in_dir_flips_one_bit_of_one_file),
		cmocka_unit_test(storage_round_trip_on_the_real_disk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
