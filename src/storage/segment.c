/* Reading a log segment back: the header, every record, and how the segment ends.
 *
 * A scan walks records from the header on. It stops at the first position that does not
 * hold a valid record, and decides what that position is (docs/storage.md, "Recovery"):
 *
 *   - a header of zeros: the end of the log (segments are preallocated with zeros). If a
 *     valid record further on says, by its `durable` field, that this position had been
 *     made durable before it was written, a durable record was lost: corrupt. Valid records
 *     that make no such claim were written after the last fdatasync and reached the disk
 *     out of order: leftovers of a crash, cut with the tail.
 *   - a record that looks complete (magic, a length that fits, the end mark where the
 *     length puts it) but whose checksum or fields are wrong: a write that finished and was
 *     damaged afterwards (a flipped bit): corrupt, wherever it is.
 *   - anything else (a write cut short): a torn tail if nothing valid follows it in the
 *     last segment; corrupt if a valid record follows (never drop what valid records
 *     follow), or if the segment is not the last (a segment is fdatasynced before the next
 *     one is created, so only the last can end in a torn write).
 *   - but not if an end mark follows it (exact, or one bit off): a write cut short leaves
 *     zeros where it stopped (segments are preallocated with zeros), so it never leaves an
 *     end mark behind the bytes it did write. An end mark there means the record was
 *     written whole and damaged afterwards: a flipped bit in its magic, its length or its
 *     end mark, which would otherwise pass for a torn write. That record may be the last
 *     one the log synced, acknowledged and perhaps committed: cutting it would silently
 *     drop it from a node that counted for the majority, so it is corrupt. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/assert.h"
#include "storage/storage_internal.h"

/* A window onto the file: bytes [off, off + len) are in buf. */
typedef struct seg_reader {
	ballot_fs *fs;
	ballot_file *f;
	const char *path;
	uint64_t size;
	unsigned char *buf;
	size_t cap;
	uint64_t off;
	size_t len;
} seg_reader;

/* Makes [at, at + n) available at *p. Precondition: at + n <= size. */
static int reader_get(seg_reader *r, uint64_t at, size_t n, const unsigned char **p, ballot_errmsg *em)
{
	BALLOT_ASSERT(at + n <= r->size);
	if (at >= r->off && at + n <= r->off + r->len) {
		*p = r->buf + (at - r->off);
		return 0;
	}
	size_t want = r->cap > n ? r->cap : n;
	if (want > r->size - at)
		want = (size_t)(r->size - at);
	if (want > r->cap) {
		unsigned char *b = realloc(r->buf, want);
		if (b == NULL)
			return ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory for a %zu-byte record",
					     r->path, n);
		r->buf = b;
		r->cap = want;
	}
	size_t got = 0;
	int rc = ballot_fs_pread(r->fs, r->f, r->buf, want, at, &got, em);
	if (rc != 0)
		return rc;
	if (got < n)
		return ballot_errorf(em, BALLOT_EIO, "reading %s: the file shrank while being read", r->path);
	r->off = at;
	r->len = got;
	*p = r->buf;
	return 0;
}

static const unsigned char zero_block[4096];

static bool all_zero(const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t k = n < sizeof zero_block ? n : sizeof zero_block;
		if (memcmp(p, zero_block, k) != 0)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

static int check_header(seg_reader *r, uint64_t first_index, ballot_errmsg *em)
{
	if (r->size < SEG_HEADER_BYTES)
		return storage_corrupt(em, r->path, 0, "the file is %llu bytes, shorter than a segment header",
				       (unsigned long long)r->size);
	const unsigned char *p;
	int rc = reader_get(r, 0, SEG_HEADER_BYTES, &p, em);
	if (rc != 0)
		return rc;
	if (memcmp(p, SEG_MAGIC, 8) != 0)
		return storage_corrupt(em, r->path, 0, "not a ballot log segment (bad magic)");
	uint32_t version = get_u32(p + 8);
	if (version != STORAGE_VERSION)
		return storage_corrupt(em, r->path, 8, "format version %u, but this build reads version %u "
				       "(a newer ballot wrote it, or the header is damaged)", version, STORAGE_VERSION);
	if (get_u64(p + 56) != XXH3_64bits(p, 56))
		return storage_corrupt(em, r->path, 56, "segment header checksum mismatch");
	if (get_u32(p + 12) != SEG_HEADER_BYTES || !all_zero(p + 32, 24))
		return storage_corrupt(em, r->path, 12, "impossible segment header fields");
	if (get_u64(p + 16) != first_index)
		return storage_corrupt(em, r->path, 16, "the header says first index %llu, the name %llu",
				       (unsigned long long)get_u64(p + 16), (unsigned long long)first_index);
	return 0;
}

typedef enum rec_shape {
	SHAPE_ZERO,     /* a header of zeros */
	SHAPE_COMPLETE, /* magic, length and end mark in place */
	SHAPE_TORN,     /* anything else */
} rec_shape;

/* Looks at the record at off: its shape, and for a complete one whether it verifies. */
static int look_at(seg_reader *r, uint64_t off, rec_shape *shape, bool *valid, seg_record *rec, const char **why,
		   ballot_errmsg *em)
{
	*valid = false;
	*why = "a write cut short";
	const unsigned char *p;
	int rc = reader_get(r, off, REC_HEADER_BYTES, &p, em);
	if (rc != 0)
		return rc;
	if (all_zero(p, REC_HEADER_BYTES)) {
		*shape = SHAPE_ZERO;
		return 0;
	}
	*shape = SHAPE_TORN;
	rec_header h;
	rec_header_decode(p, &h);
	if (h.magic != REC_MAGIC) {
		*why = "bad record magic";
		return 0;
	}
	if (h.len > BALLOT_RAFT_ENTRY_BYTES_MAX) {
		*why = "impossible record length";
		return 0;
	}
	uint64_t size = rec_size(h.len);
	if (size > r->size - off) {
		*why = "record runs past the end of the file";
		return 0;
	}
	/* The end mark first, with a small read if the record is not in the window: a record
	 * is loaded whole only once its end mark is where its length says. */
	unsigned char mark[8];
	if (off + size <= r->off + r->len && off >= r->off) {
		memcpy(mark, r->buf + (off + size - 8 - r->off), 8);
	} else {
		size_t got = 0;
		rc = ballot_fs_pread(r->fs, r->f, mark, sizeof mark, off + size - 8, &got, em);
		if (rc == 0 && got != sizeof mark)
			rc = ballot_errorf(em, BALLOT_EIO, "reading %s: the file shrank while being read", r->path);
		if (rc != 0)
			return rc;
	}
	if (memcmp(mark, REC_END_MARK, 8) != 0) {
		*why = "no end mark where the record's length puts it";
		return 0;
	}
	rc = reader_get(r, off, (size_t)size, &p, em);
	if (rc != 0)
		return rc;
	*shape = SHAPE_COMPLETE;
	uint64_t stored = get_u64(p + size - REC_TRAILER_BYTES);
	if (stored != rec_checksum(p, p + REC_HEADER_BYTES, h.len)) {
		*why = "checksum mismatch";
		return 0;
	}
	rec->offset = off;
	rec->h = h;
	rec->payload = p + REC_HEADER_BYTES;
	*valid = true;
	return 0;
}

/* Fields a verified record must have. Returns NULL or what is wrong. */
static const char *impossible_fields(const seg_record *rec)
{
	const rec_header *h = &rec->h;
	if (h->version != STORAGE_VERSION)
		return "a record of another format version inside this segment";
	if (h->rtype != REC_TYPE_ENTRY)
		return "unknown record type";
	if (h->etype < BALLOT_ENTRY_NORMAL || h->etype > BALLOT_ENTRY_NOOP)
		return "unknown entry type";
	if (h->flags != 0)
		return "unknown record flags";
	if (h->durable > rec->offset || h->durable < SEG_HEADER_BYTES)
		return "impossible durable offset";
	if (!all_zero(rec->payload + h->len, (size_t)(rec_padded(h->len) - h->len)))
		return "non-zero padding";
	if (h->index == 0 || h->term == 0)
		return "index or term 0";
	return NULL;
}

int segment_record_verify(const char *path, uint64_t off, const unsigned char *p, size_t size, uint64_t index,
			  rec_header *h, ballot_errmsg *em)
{
	const char *why = NULL;
	if (size < REC_HEADER_BYTES + REC_TRAILER_BYTES)
		return storage_corrupt(em, path, off, "the record of index %llu is %zu bytes, too short",
				       (unsigned long long)index, size);
	rec_header_decode(p, h);
	if (h->magic != REC_MAGIC)
		why = "bad record magic";
	else if (h->len > BALLOT_RAFT_ENTRY_BYTES_MAX || rec_size(h->len) != size)
		why = "a length that does not fit where the record is";
	else if (memcmp(p + size - 8, REC_END_MARK, 8) != 0)
		why = "no end mark where the record's length puts it";
	else if (get_u64(p + size - REC_TRAILER_BYTES) != rec_checksum(p, p + REC_HEADER_BYTES, h->len))
		why = "checksum mismatch";
	else
		why = impossible_fields(&(seg_record){.offset = off, .h = *h, .payload = p + REC_HEADER_BYTES});
	if (why == NULL && h->index != index)
		why = "it holds another index";
	if (why != NULL)
		return storage_corrupt(em, path, off, "reading back the record of index %llu: %s",
				       (unsigned long long)index, why);
	return 0;
}

/* Whether 8 bytes are the end mark, or the end mark with one bit flipped. Every byte of
 * the end mark has at least two bits set, so an end mark cut short by a crash (zeros from
 * where the write stopped) is always at least two bits off: it never passes for this. */
static bool near_end_mark(const unsigned char *p)
{
	unsigned bits = 0;
	for (int i = 0; i < 8; i++)
		bits += (unsigned)__builtin_popcount((unsigned)(p[i] ^ (unsigned char)REC_END_MARK[i]));
	return bits <= 1;
}

/* What lies past the end at `end`: valid records (and what they claim), non-zero bytes. */
typedef struct after_end {
	uint64_t valid;           /* valid records found */
	uint64_t first_valid;     /* offset of the first */
	uint64_t claims_durable;  /* offset of one whose durable field passes `end`, or 0 */
	uint64_t end_mark;        /* offset of the first end mark (near_end_mark) after `end`, or 0 */
	uint64_t junk_end;
} after_end;

static int search_after(seg_reader *r, uint64_t end, after_end *a, ballot_errmsg *em)
{
	memset(a, 0, sizeof *a);
	a->junk_end = end;
	for (uint64_t q = end; q + 8 <= r->size; q += 8) {
		/* Skip runs of zeros (the preallocated tail) a block at a time. */
		uint64_t block = sizeof zero_block;
		if (q % block == 0 && q + block <= r->size) {
			const unsigned char *z;
			int rc = reader_get(r, q, (size_t)block, &z, em);
			if (rc != 0)
				return rc;
			if (all_zero(z, (size_t)block)) {
				q += block - 8;
				continue;
			}
		}
		const unsigned char *p;
		int rc = reader_get(r, q, 8, &p, em);
		if (rc != 0)
			return rc;
		if (all_zero(p, 8))
			continue;
		a->junk_end = q + 8;
		if (q > end && a->end_mark == 0 && near_end_mark(p))
			a->end_mark = q;
		if (q == end || get_u32(p) != REC_MAGIC || r->size - q < REC_HEADER_BYTES)
			continue;
		rec_shape shape;
		bool valid;
		seg_record rec;
		const char *why;
		rc = look_at(r, q, &shape, &valid, &rec, &why, em);
		if (rc != 0)
			return rc;
		if (!valid || impossible_fields(&rec) != NULL)
			continue;
		if (a->valid++ == 0)
			a->first_valid = q;
		if (rec.h.durable > end && a->claims_durable == 0)
			a->claims_durable = q;
	}
	/* A partial word at the very end of the file. */
	uint64_t tail = r->size > end ? (r->size - end) % 8 : 0;
	if (tail > 0 && r->size - tail >= end) {
		const unsigned char *p;
		int rc = reader_get(r, r->size - tail, (size_t)tail, &p, em);
		if (rc != 0)
			return rc;
		if (!all_zero(p, (size_t)tail))
			a->junk_end = r->size;
	}
	return 0;
}

/* Decides what the invalid position `end` is (see the file comment). */
static int classify_end(seg_reader *r, uint64_t end, rec_shape shape, const char *why, bool last,
			seg_tail *tail, ballot_errmsg *em)
{
	after_end a;
	int rc = search_after(r, end, &a, em);
	if (rc != 0)
		return rc;
	tail->junk_end = a.junk_end;
	if (a.claims_durable != 0)
		return storage_corrupt(em, r->path, end, "%s, but the record at offset %llu was written after this "
				       "position had been made durable",
				       shape == SHAPE_ZERO ? "zeros where a record was" : why,
				       (unsigned long long)a.claims_durable);
	if (shape == SHAPE_ZERO) {
		tail->leftovers = a.valid > 0;
		return 0;
	}
	if (a.valid > 0)
		return storage_corrupt(em, r->path, end, "%s, and valid records follow it (at offset %llu)", why,
				       (unsigned long long)a.first_valid);
	if (a.end_mark != 0)
		return storage_corrupt(em, r->path, end, "%s, but an end mark follows (at offset %llu): a record "
				       "written whole and damaged since, not a write cut short", why,
				       (unsigned long long)a.end_mark);
	if (!last)
		return storage_corrupt(em, r->path, end, "%s in a segment that is not the last", why);
	tail->torn = true;
	return 0;
}

int segment_scan(ballot_fs *fs, const char *path, uint64_t first_index, bool last, uint64_t prev_term,
		 seg_record_fn fn, void *ctx, storage_segment *seg, seg_tail *tail, ballot_errmsg *em)
{
	memset(tail, 0, sizeof *tail);
	seg_reader r = {.fs = fs, .path = path};
	int rc = ballot_fs_open(fs, path, BALLOT_FS_RDONLY, &r.f, em);
	if (rc != 0)
		return rc;
	rc = ballot_fs_size(fs, r.f, &r.size, em);
	if (rc == 0 && r.size > UINT32_MAX)
		rc = storage_corrupt(em, path, 0, "the file is %llu bytes, more than a segment can be",
				     (unsigned long long)r.size);
	if (rc == 0) {
		r.cap = r.size < BALLOT_WAL_READ_BUFFER_BYTES ? (size_t)r.size : BALLOT_WAL_READ_BUFFER_BYTES;
		r.buf = malloc(r.cap > 0 ? r.cap : 1);
		if (r.buf == NULL)
			rc = ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory", path);
	}
	if (rc == 0)
		rc = check_header(&r, first_index, em);
	seg->first_index = first_index;
	seg->size = r.size;
	seg->end = SEG_HEADER_BYTES;
	uint64_t off = SEG_HEADER_BYTES;
	while (rc == 0) {
		tail->junk_end = off;
		if (r.size - off < REC_HEADER_BYTES) {
			/* Full: what is left is too small for a record, and must be zeros. */
			const unsigned char *p;
			size_t left = (size_t)(r.size - off);
			if (left > 0 && (rc = reader_get(&r, off, left, &p, em)) == 0 && !all_zero(p, left))
				tail->junk_end = r.size;
			break;
		}
		rec_shape shape;
		bool valid;
		seg_record rec;
		const char *why;
		rc = look_at(&r, off, &shape, &valid, &rec, &why, em);
		if (rc != 0)
			break;
		if (shape == SHAPE_COMPLETE && !valid) {
			rc = storage_corrupt(em, path, off, "%s in a complete record", why);
			break;
		}
		if (!valid) {
			rc = classify_end(&r, off, shape, why, last, tail, em);
			break;
		}
		const char *bad = impossible_fields(&rec);
		uint64_t expect = first_index + seg->count;
		if (bad != NULL) {
			rc = storage_corrupt(em, path, off, "%s (index %llu)", bad, (unsigned long long)rec.h.index);
			break;
		}
		if (rec.h.index != expect) {
			rc = storage_corrupt(em, path, off, "index %llu where %llu belongs (a gap or overlap in the log)",
					     (unsigned long long)rec.h.index, (unsigned long long)expect);
			break;
		}
		if (rec.h.term < prev_term) {
			rc = storage_corrupt(em, path, off, "term %llu after term %llu (terms never go back in a log)",
					     (unsigned long long)rec.h.term, (unsigned long long)prev_term);
			break;
		}
		if (fn != NULL && (rc = fn(ctx, &rec, em)) != 0)
			break;
		if (segment_push_offset(seg, off) != 0) {
			rc = ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory", path);
			break;
		}
		prev_term = rec.h.term;
		seg->last_term = rec.h.term;
		off += rec_size(rec.h.len);
		seg->end = off;
	}
	free(r.buf);
	ballot_fs_close(fs, r.f);
	return rc;
}
