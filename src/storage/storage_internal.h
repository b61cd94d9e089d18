/* Storage internals: the on-disk formats (docs/storage.md), the segment scanner and the
 * recovery walk shared by ballot_storage_open and ballot_storage_inspect. */
#ifndef BALLOT_STORAGE_INTERNAL_H
#define BALLOT_STORAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/fs.h"
#include "ballot/raft.h"
#include "ballot/storage.h"

/* ---- formats ------------------------------------------------------------------------ */

#define STORAGE_VERSION BALLOT_STORAGE_FORMAT_VERSION

/* Segment file header: magic, version, header size, first index, size made with, checksum. */
#define SEG_MAGIC "BALLOTSG"
#define SEG_HEADER_BYTES 64u

/* Record: a 32-byte header, the payload padded with zeros to 8 bytes, a 16-byte trailer
 * (checksum of everything before it, then the end mark). */
#define REC_MAGIC 0x52574C42u /* "BLWR" little-endian */
#define REC_HEADER_BYTES 32u
#define REC_TRAILER_BYTES 16u
#define REC_END_MARK "ENDREC\r\n"
#define REC_TYPE_ENTRY 1u

/* Hard state: two copies, each in its own 512-byte slot. */
#define HS_MAGIC "BALLOTHS"
#define HS_SLOT_BYTES 512u
#define HS_FILE_BYTES (2u * HS_SLOT_BYTES)
#define HS_BODY_BYTES 64u

/* Snapshot: 64-byte header, configuration, data, 8-byte checksum of all before it. */
#define SNAP_MAGIC "BALLOTSN"
#define SNAP_HEADER_BYTES 64u
#define SNAP_TRAILER_BYTES 8u

#define HS_NAME "hardstate"
#define LOCK_NAME "LOCK"
#define SPARE_NAME "spare.wal"
#define SEG_SUFFIX ".wal"
#define SNAP_SUFFIX ".snap"
#define TMP_SUFFIX ".tmp"
#define INDEX_DIGITS 20

static inline void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static inline uint64_t rec_padded(uint64_t len)
{
	return (len + 7) & ~(uint64_t)7;
}

/* Bytes a record with this payload takes. */
static inline uint64_t rec_size(uint64_t len)
{
	return REC_HEADER_BYTES + rec_padded(len) + REC_TRAILER_BYTES;
}

typedef struct rec_header {
	uint32_t magic;
	uint8_t version, rtype, etype, flags;
	uint32_t len;
	uint32_t durable; /* bytes of the segment known durable when this record was written */
	uint64_t index, term;
} rec_header;

void rec_header_decode(const unsigned char *p, rec_header *h);
/* Encodes a whole record into out (rec_size(len) bytes). */
void rec_encode(unsigned char *out, const rec_header *h, const void *payload);
/* Encodes the header and trailer of a record whose payload is written separately. */
void rec_encode_parts(unsigned char *head, unsigned char *tail, const rec_header *h, const void *payload);
/* The checksum stored in a record: XXH3-64 of its header, payload and padding. */
uint64_t rec_checksum(const unsigned char *header, const void *payload, uint64_t len);

void seg_header_encode(unsigned char *out, uint64_t first_index, uint64_t size);

typedef struct hs_slot {
	uint64_t seq;
	ballot_hard_state hs;
} hs_slot;

void hs_slot_encode(unsigned char *out, unsigned slot, const hs_slot *v);

/* File names: "%020llu.wal" and "%020llu.snap". parse returns false for anything else. */
void storage_name(char *out, size_t cap, uint64_t index, const char *suffix);
bool storage_name_parse(const char *name, const char *suffix, uint64_t *index);

/* ---- paths and errors ---------------------------------------------------------------- */

/* dir + "/" + name into out (BALLOT_STORAGE_PATH_MAX); BALLOT_EINVAL if too long. */
int storage_path(char *out, const char *dir, const char *name, ballot_errmsg *em);

/* BALLOT_ECORRUPT with "PATH at offset N: DETAIL; <what to do>". */
int storage_corrupt(ballot_errmsg *em, const char *path, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends a name to a list being built (cap tracks the allocation). */
int storage_names_push(ballot_fs_names *names, size_t *cap, const char *name);

/* ---- segments -------------------------------------------------------------------------- */

typedef struct storage_segment {
	uint64_t first_index;
	uint64_t count;     /* records */
	uint64_t end;       /* bytes in use: header and records */
	uint64_t size;      /* file size */
	uint64_t last_term; /* of its last record (0 if empty) */
	uint32_t *offsets;  /* offsets[i]: the record of first_index + i */
	size_t offsets_cap;
} storage_segment;

int segment_push_offset(storage_segment *seg, uint64_t offset);
void segment_free(storage_segment *seg);

/* How a scan of a segment ended. */
typedef struct seg_tail {
	bool torn;         /* a record cut short by a crash at `end` */
	bool leftovers;    /* valid records past the end that were never made durable */
	uint64_t junk_end; /* end of the last non-zero byte past `end` (== end if none) */
} seg_tail;

/* A record as the scanner hands it over (payload borrowed until the next call). */
typedef struct seg_record {
	uint64_t offset;
	rec_header h;
	const unsigned char *payload;
} seg_record;

typedef int (*seg_record_fn)(void *ctx, const seg_record *rec, ballot_errmsg *em);

/* Scans the segment at path (named for first_index): checks its header, then every record
 * in order (checksum, version, type, index continuity, terms never going back from
 * prev_term), calling fn for each; records offsets and counts in seg; classifies how it
 * ends (clean, torn tail, leftovers). last says whether it is the last segment (a torn tail
 * is only possible there). Returns 0, BALLOT_ECORRUPT, BALLOT_EIO or BALLOT_ENOMEM. */
int segment_scan(ballot_fs *fs, const char *path, uint64_t first_index, bool last, uint64_t prev_term,
		 seg_record_fn fn, void *ctx, storage_segment *seg, seg_tail *tail, ballot_errmsg *em);

/* Verifies a record read back whole (size bytes at p, from offset off of path) that should
 * hold `index`: its magic, length, end mark, checksum and fields. Returns 0 with its header
 * in *h, or BALLOT_ECORRUPT naming path and off. */
int segment_record_verify(const char *path, uint64_t off, const unsigned char *p, size_t size, uint64_t index,
			  rec_header *h, ballot_errmsg *em);

/* ---- hard state and snapshots ---------------------------------------------------------- */

/* Reads the hard state file: the valid copy with the higher sequence. *repair is set when
 * the copies differ (one damaged, or a save cut between them). */
int hardstate_read(ballot_fs *fs, const char *path, hs_slot *out, bool *repair, unsigned *bad_slot,
		   ballot_errmsg *em);
/* Writes both copies of v, each followed by an fdatasync. f is open read-write. */
int hardstate_write(ballot_fs *fs, ballot_file *f, const hs_slot *v, ballot_errmsg *em);
/* Creates a hard state file holding v: temporary file, fdatasync, rename, directory fsync. */
int hardstate_create(ballot_fs *fs, const char *dir, const hs_slot *v, ballot_errmsg *em);

typedef struct snap_meta {
	uint64_t index, term;
	ballot_config config;
	uint64_t data_bytes;
} snap_meta;

/* Reads and verifies a snapshot file named for `index`; with data != NULL keeps its bytes
 * in a new buffer (NULL for an empty snapshot at index 0). */
int snapshot_read(ballot_fs *fs, const char *path, uint64_t index, snap_meta *meta, ballot_rbuf **data,
		  ballot_errmsg *em);
/* Writes a snapshot durably under its final name in dir, made whole first under the name
 * for its index with tmp_suffix (which ends in TMP_SUFFIX: a crash leaves a temporary),
 * synced every sync_bytes, calling pace (if not NULL) after each sync but the last. */
int snapshot_write(ballot_fs *fs, const char *dir, const snap_meta *meta, const ballot_rbuf *data,
		   const char *tmp_suffix, size_t sync_bytes, void (*pace)(void *), void *pace_ctx, ballot_errmsg *em);
/* The suffixes of the two writers' temporaries: the storage's own, and a file written
 * beside it (ballot_storage_write_snapshot_file), so the two never write one file. */
#define SNAP_TMP_SUFFIX SNAP_SUFFIX TMP_SUFFIX
#define SNAP_SIDE_TMP_SUFFIX SNAP_SUFFIX ".side" TMP_SUFFIX

/* ---- the recovery walk ------------------------------------------------------------------ */

typedef struct storage_notes {
	unsigned count, lost;
	char (*text)[BALLOT_ERRMSG_MAX]; /* BALLOT_STORAGE_WARNINGS_MAX of them */
} storage_notes;

void storage_note(storage_notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a walk of a data directory found. */
typedef struct storage_walk {
	/* inputs */
	ballot_fs *fs;
	const char *dir;
	bool collect;  /* keep entries after the snapshot, and the snapshot's data */
	const ballot_storage_visitor *visitor;
	/* the directory */
	ballot_fs_names names;
	bool empty;
	bool has_hard_state;
	hs_slot hs;
	bool hs_repair;
	/* the newest snapshot */
	bool has_snapshot;
	snap_meta snap;
	ballot_rbuf *snap_data;
	/* live segments, from the one holding snap_index + 1 (or the first) on */
	storage_segment *segs;
	size_t seg_count;
	uint64_t *stale; /* first indexes of segments the snapshot covers */
	size_t stale_count;
	uint64_t *old_snaps; /* indexes of older snapshots */
	size_t old_snap_count;
	bool discard_log; /* the log does not continue the snapshot */
	seg_tail tail;    /* of the last segment */
	uint64_t records, first_term, last_term;
	/* entries after the snapshot (collect) */
	ballot_entry *entries;
	size_t entry_count, entry_cap;
	storage_notes notes;
} storage_walk;

/* Walks dir read-only. Returns 0, BALLOT_ECORRUPT, BALLOT_EIO, BALLOT_ENOMEM. */
int storage_walk_run(storage_walk *w, ballot_errmsg *em);
void storage_walk_free(storage_walk *w);
/* Gives the entries to the caller (the walk forgets them). */
void storage_walk_release_entries(storage_walk *w);

#endif
