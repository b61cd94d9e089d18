/* The on-disk formats' encoders, file names, paths and messages (docs/storage.md).
 *
 * Integers are little-endian. Every structure starts with an 8-byte magic (a record: a
 * 4-byte one) and a format version at a fixed place, so a newer format is recognised as
 * such instead of as damage. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/assert.h"
#include "storage/storage_internal.h"

_Static_assert(sizeof REC_END_MARK - 1 == 8, "the end mark is 8 bytes");
_Static_assert(sizeof SEG_MAGIC - 1 == 8 && sizeof HS_MAGIC - 1 == 8 && sizeof SNAP_MAGIC - 1 == 8,
	       "file magics are 8 bytes");
_Static_assert(HS_BODY_BYTES <= HS_SLOT_BYTES, "a hard state copy fits its slot");

/* ---- records ----------------------------------------------------------------------- */

void rec_header_decode(const unsigned char *p, rec_header *h)
{
	h->magic = get_u32(p);
	h->version = p[4];
	h->rtype = p[5];
	h->etype = p[6];
	h->flags = p[7];
	h->len = get_u32(p + 8);
	h->durable = get_u32(p + 12);
	h->index = get_u64(p + 16);
	h->term = get_u64(p + 24);
}

static void rec_header_encode(unsigned char *p, const rec_header *h)
{
	put_u32(p, h->magic);
	p[4] = h->version;
	p[5] = h->rtype;
	p[6] = h->etype;
	p[7] = h->flags;
	put_u32(p + 8, h->len);
	put_u32(p + 12, h->durable);
	put_u64(p + 16, h->index);
	put_u64(p + 24, h->term);
}

static const unsigned char zeros[8];

uint64_t rec_checksum(const unsigned char *header, const void *payload, uint64_t len)
{
	uint64_t pad = rec_padded(len) - len;
	if (len <= 4096) {
		/* Small records: one contiguous pass (the common case). */
		unsigned char buf[REC_HEADER_BYTES + 4096 + 8];
		memcpy(buf, header, REC_HEADER_BYTES);
		if (len > 0)
			memcpy(buf + REC_HEADER_BYTES, payload, (size_t)len);
		memset(buf + REC_HEADER_BYTES + len, 0, (size_t)pad);
		return XXH3_64bits(buf, (size_t)(REC_HEADER_BYTES + len + pad));
	}
	XXH3_state_t *st = XXH3_createState();
	BALLOT_ASSERT(st != NULL); /* a few hundred bytes; the record itself is far larger */
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, header, REC_HEADER_BYTES);
	XXH3_64bits_update(st, payload, (size_t)len);
	XXH3_64bits_update(st, zeros, (size_t)pad);
	uint64_t sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return sum;
}

void rec_encode_parts(unsigned char *head, unsigned char *tail, const rec_header *h, const void *payload)
{
	rec_header_encode(head, h);
	uint64_t pad = rec_padded(h->len) - h->len;
	memset(tail, 0, (size_t)pad);
	put_u64(tail + pad, rec_checksum(head, payload, h->len));
	memcpy(tail + pad + 8, REC_END_MARK, 8);
}

void rec_encode(unsigned char *out, const rec_header *h, const void *payload)
{
	if (h->len > 0)
		memcpy(out + REC_HEADER_BYTES, payload, h->len);
	rec_encode_parts(out, out + REC_HEADER_BYTES + h->len, h, payload);
}

/* ---- segment headers and hard state copies ------------------------------------------ */

void seg_header_encode(unsigned char *out, uint64_t first_index, uint64_t size)
{
	memset(out, 0, SEG_HEADER_BYTES);
	memcpy(out, SEG_MAGIC, 8);
	put_u32(out + 8, STORAGE_VERSION);
	put_u32(out + 12, SEG_HEADER_BYTES);
	put_u64(out + 16, first_index);
	put_u64(out + 24, size);
	put_u64(out + 56, XXH3_64bits(out, 56));
}

void hs_slot_encode(unsigned char *out, unsigned slot, const hs_slot *v)
{
	memset(out, 0, HS_SLOT_BYTES);
	memcpy(out, HS_MAGIC, 8);
	put_u32(out + 8, STORAGE_VERSION);
	put_u32(out + 12, slot);
	put_u64(out + 16, v->seq);
	put_u64(out + 24, v->hs.term);
	put_u64(out + 32, v->hs.vote);
	put_u64(out + 40, v->hs.commit);
	put_u64(out + 56, XXH3_64bits(out, 56));
}

/* ---- names and paths ------------------------------------------------------------------ */

void storage_name(char *out, size_t cap, uint64_t index, const char *suffix)
{
	snprintf(out, cap, "%020llu%s", (unsigned long long)index, suffix);
}

bool storage_name_parse(const char *name, const char *suffix, uint64_t *index)
{
	size_t slen = strlen(suffix);
	if (strlen(name) != INDEX_DIGITS + slen || strcmp(name + INDEX_DIGITS, suffix) != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < INDEX_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*index = v;
	return true;
}

int storage_path(char *out, const char *dir, const char *name, ballot_errmsg *em)
{
	int n = snprintf(out, BALLOT_STORAGE_PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= BALLOT_STORAGE_PATH_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "data dir path too long (at most %d bytes with file names)",
				     BALLOT_STORAGE_PATH_MAX - 32);
	return 0;
}

int storage_corrupt(ballot_errmsg *em, const char *path, uint64_t offset, const char *fmt, ...)
{
	if (em == NULL)
		return BALLOT_ECORRUPT;
	char detail[BALLOT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return ballot_errorf(em, BALLOT_ECORRUPT,
			     "%s at offset %llu: %s; the node's data is damaged: replace the node (remove it "
			     "from the cluster, wipe its data dir, add it back under a new id; see "
			     "docs/storage.md)",
			     path, (unsigned long long)offset, detail);
}

int storage_names_push(ballot_fs_names *names, size_t *cap, const char *name)
{
	if (names->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **a = realloc(names->names, ncap * sizeof *a);
		if (a == NULL)
			return BALLOT_ENOMEM;
		names->names = a;
		*cap = ncap;
	}
	size_t len = strlen(name);
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return BALLOT_ENOMEM;
	memcpy(copy, name, len + 1);
	names->names[names->count++] = copy;
	return 0;
}

void ballot_fs_names_free(ballot_fs_names *names)
{
	for (size_t i = 0; i < names->count; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->count = 0;
}

/* ---- segments and notes ------------------------------------------------------------------ */

int segment_push_offset(storage_segment *seg, uint64_t offset)
{
	BALLOT_ASSERT(offset <= UINT32_MAX);
	if (seg->count == seg->offsets_cap) {
		size_t cap = seg->offsets_cap ? seg->offsets_cap * 2 : 256;
		uint32_t *a = realloc(seg->offsets, cap * sizeof *a);
		if (a == NULL)
			return BALLOT_ENOMEM;
		seg->offsets = a;
		seg->offsets_cap = cap;
	}
	seg->offsets[seg->count++] = (uint32_t)offset;
	return 0;
}

void segment_free(storage_segment *seg)
{
	free(seg->offsets);
	seg->offsets = NULL;
	seg->offsets_cap = 0;
}

void storage_note(storage_notes *n, const char *fmt, ...)
{
	if (n->text == NULL || n->count == BALLOT_STORAGE_WARNINGS_MAX) {
		n->lost++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text[n->count++], BALLOT_ERRMSG_MAX, fmt, ap);
	va_end(ap);
}
