/* The key-value store's hash table: chained buckets indexed by the top bits of each key's
 * XXH3 hash, resized a few buckets at a time.
 *
 * One allocation per key holds the chain link, the hash, both lengths, the key and the
 * value: 28 bytes of overhead per key plus the bucket pointers (8 to 16 bytes per key at
 * load 0.5 to 1).
 *
 * Indexing by the top bits keeps the buckets in hash order: bucket i holds the hashes in
 * [i << shift, (i + 1) << shift). Growing splits bucket i into 2i and 2i + 1, shrinking
 * merges them, and the order survives both. A resize moves the old buckets to the new
 * array in index order, so at any moment the hashes below a boundary live in the new
 * array and the rest in the old one; every lookup and insert picks its array by that
 * boundary. SCAN uses the order: its cursor is a hash, and a scan returns the keys with
 * the next hashes, whatever the table's size or its history. */
#ifndef BALLOT_KV_TABLE_H
#define BALLOT_KV_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_entry {
	struct kv_entry *next; /* the bucket's chain */
	uint64_t hash;         /* kv_hash of the key */
	uint32_t key_len;
	uint32_t val_len;
	uint32_t val_cap;      /* bytes reserved for the value; > val_len only after APPEND */
	char bytes[];          /* key_len bytes of key, then val_cap bytes of value */
} kv_entry;

static inline const char *kv_entry_key(const kv_entry *e)
{
	return e->bytes;
}

static inline char *kv_entry_val(kv_entry *e)
{
	return e->bytes + e->key_len;
}

static inline const char *kv_entry_val_const(const kv_entry *e)
{
	return e->bytes + e->key_len;
}

typedef struct kv_buckets {
	kv_entry **slot; /* 1 << bits chain heads; NULL: no array */
	unsigned bits;
} kv_buckets;

typedef struct kv_table {
	kv_buckets main; /* the table, or during a resize the old array */
	kv_buckets next; /* during a resize the new array; next.slot == NULL otherwise */
	uint64_t moved;  /* during a resize: main's buckets [0, moved) are empty, moved to next */
	uint64_t count;  /* entries in both arrays */
} kv_table;

/* The hash every replica computes for a key (XXH3-64, seed 0). */
uint64_t kv_hash(const void *key, size_t len);

/* Makes an empty table with room for about `expect` keys before it grows. Returns 0 or
 * BALLOT_ENOMEM. */
int kv_table_init(kv_table *t, uint64_t expect);

/* Frees the buckets and every entry. */
void kv_table_free(kv_table *t);

/* Allocates an entry for key and a value of val_len bytes with room for val_cap
 * (>= val_len), not linked anywhere. NULL when out of memory. */
kv_entry *kv_entry_new(const void *key, size_t key_len, uint64_t hash, const void *val, size_t val_len,
		       size_t val_cap);

/* The link that points to key's entry (a bucket head or a predecessor's next), or NULL if
 * the key is absent. The link stays valid until the table next changes. */
kv_entry **kv_table_find(const kv_table *t, const void *key, size_t len, uint64_t hash);

/* Links e, whose key must be absent, and takes ownership; may move a few buckets of a
 * resize in progress, or start one (allocation failures there only postpone it). */
void kv_table_insert(kv_table *t, kv_entry *e);

/* Unlinks the entry *link points to and returns it, owned by the caller. */
kv_entry *kv_table_unlink(kv_table *t, kv_entry **link);

/* Calls fn(ctx, e) for every entry, in no particular order; fn must not change the table. */
void kv_table_each(const kv_table *t, void (*fn)(void *ctx, const kv_entry *e), void *ctx);

/* Calls fn(ctx, e) for every entry in (hash, key) order, the order SCAN and snapshots use,
 * in one pass over the buckets (each chain sorted by itself); fn must not change the table.
 * Returns 0 or BALLOT_ENOMEM (a chain longer than the stack holds, and no memory). */
int kv_table_walk_ordered(const kv_table *t, void (*fn)(void *ctx, const kv_entry *e), void *ctx);

/* The entries a SCAN step returns: the `count` entries with the smallest hashes >= cursor
 * (and any others sharing the last one's hash), in (hash, key) order, into a new array
 * *out of *n (caller frees); *next is the cursor after them, 0 when no entry is left.
 * Returns 0 or BALLOT_ENOMEM. Precondition: count >= 1. */
int kv_table_scan(const kv_table *t, uint64_t cursor, uint64_t count, const kv_entry ***out, size_t *n,
		  uint64_t *next);

/* Key order: bytes compared as unsigned, a prefix before the longer key. */
int kv_key_compare(const void *a, size_t alen, const void *b, size_t blen);

#endif
