/* The key-value hash table (see kv/table.h). */
#include "kv/table.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ballot/error.h"
#include "ballot/limits.h"
#include "common/assert.h"

/* A resize step moves the chains of at most this many non-empty buckets, and looks at
 * no more than BUCKETS_VISITED_MAX buckets, so one insert or delete costs O(1) extra. Two
 * buckets per insert finish a doubling before the table fills the new array past load
 * 1.5 (see table_grow_if_full). */
#define MOVE_BUCKETS_PER_STEP 2
#define BUCKETS_VISITED_MAX 32

/* A table shrinks when fewer than 1 / SHRINK_LOAD_DIVISOR of its buckets have a key. */
#define SHRINK_LOAD_DIVISOR 8

uint64_t kv_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

static uint64_t buckets_size(const kv_buckets *b)
{
	return UINT64_C(1) << b->bits;
}

static uint64_t bucket_index(const kv_buckets *b, uint64_t hash)
{
	return hash >> (64 - b->bits);
}

static int buckets_alloc(kv_buckets *b, unsigned bits)
{
	BALLOT_ASSERT(bits >= BALLOT_KV_TABLE_BITS_MIN);
	BALLOT_ASSERT(bits <= BALLOT_KV_TABLE_BITS_MAX);
	b->slot = calloc((size_t)1 << bits, sizeof *b->slot);
	if (b->slot == NULL)
		return BALLOT_ENOMEM;
	b->bits = bits;
	return 0;
}

/* The fewest bits whose table holds n keys at load <= 1. */
static unsigned bits_for(uint64_t n)
{
	unsigned bits = BALLOT_KV_TABLE_BITS_MIN;
	while (bits < BALLOT_KV_TABLE_BITS_MAX && (UINT64_C(1) << bits) < n)
		bits++;
	return bits;
}

int kv_table_init(kv_table *t, uint64_t expect)
{
	*t = (kv_table){0};
	return buckets_alloc(&t->main, bits_for(expect));
}

static void free_chain(kv_entry *e)
{
	while (e != NULL) {
		kv_entry *next = e->next;
		free(e);
		e = next;
	}
}

void kv_table_free(kv_table *t)
{
	for (uint64_t i = 0; t->main.slot != NULL && i < buckets_size(&t->main); i++)
		free_chain(t->main.slot[i]);
	for (uint64_t i = 0; t->next.slot != NULL && i < buckets_size(&t->next); i++)
		free_chain(t->next.slot[i]);
	free(t->main.slot);
	free(t->next.slot);
	*t = (kv_table){0};
}

kv_entry *kv_entry_new(const void *key, size_t key_len, uint64_t hash, const void *val, size_t val_len,
		       size_t val_cap)
{
	BALLOT_ASSERT(key_len <= UINT32_MAX);
	BALLOT_ASSERT(val_len <= val_cap);
	BALLOT_ASSERT(val_cap <= UINT32_MAX);
	kv_entry *e = malloc(offsetof(kv_entry, bytes) + key_len + val_cap);
	if (e == NULL)
		return NULL;
	e->next = NULL;
	e->hash = hash;
	e->key_len = (uint32_t)key_len;
	e->val_len = (uint32_t)val_len;
	e->val_cap = (uint32_t)val_cap;
	if (key_len > 0)
		memcpy(e->bytes, key, key_len);
	if (val_len > 0)
		memcpy(e->bytes + key_len, val, val_len);
	return e;
}

static bool resizing(const kv_table *t)
{
	return t->next.slot != NULL;
}

/* The chain head for hash: in the new array below the resize boundary, else the old. */
static kv_entry **bucket_for(const kv_table *t, uint64_t hash)
{
	uint64_t i = bucket_index(&t->main, hash);
	if (resizing(t) && i < t->moved)
		return &t->next.slot[bucket_index(&t->next, hash)];
	return &t->main.slot[i];
}

kv_entry **kv_table_find(const kv_table *t, const void *key, size_t len, uint64_t hash)
{
	kv_entry **link = bucket_for(t, hash);
	for (; *link != NULL; link = &(*link)->next) {
		const kv_entry *e = *link;
		if (e->hash == hash && e->key_len == len && (len == 0 || memcmp(e->bytes, key, len) == 0))
			return link;
	}
	return NULL;
}

static void start_resize(kv_table *t, unsigned bits)
{
	BALLOT_ASSERT(!resizing(t));
	BALLOT_ASSERT(bits != t->main.bits);
	if (buckets_alloc(&t->next, bits) != 0)
		t->next = (kv_buckets){0}; /* try again at a later insert or delete */
	t->moved = 0;
}

static void finish_resize(kv_table *t)
{
	free(t->main.slot);
	t->main = t->next;
	t->next = (kv_buckets){0};
	t->moved = 0;
}

/* Moves one old bucket's chain to the new array. */
static void move_bucket(kv_table *t, uint64_t i)
{
	kv_entry *e = t->main.slot[i];
	t->main.slot[i] = NULL;
	while (e != NULL) {
		kv_entry *next = e->next;
		kv_entry **head = &t->next.slot[bucket_index(&t->next, e->hash)];
		e->next = *head;
		*head = e;
		e = next;
	}
}

static void resize_step(kv_table *t)
{
	unsigned moved_chains = 0;
	uint64_t size = buckets_size(&t->main);
	for (unsigned visited = 0; visited < BUCKETS_VISITED_MAX && t->moved < size; visited++) {
		if (t->main.slot[t->moved] != NULL) {
			move_bucket(t, t->moved);
			moved_chains++;
		}
		t->moved++;
		if (moved_chains == MOVE_BUCKETS_PER_STEP)
			break;
	}
	if (t->moved == size)
		finish_resize(t);
}

/* Starts doubling past load 1. A resize already running is moved along instead. */
static void table_grow_if_full(kv_table *t)
{
	if (resizing(t)) {
		resize_step(t);
		return;
	}
	if (t->count > buckets_size(&t->main) && t->main.bits < BALLOT_KV_TABLE_BITS_MAX)
		start_resize(t, t->main.bits + 1);
}

/* Starts shrinking to load about 1/2 once below load 1/SHRINK_LOAD_DIVISOR. */
static void table_shrink_if_sparse(kv_table *t)
{
	if (resizing(t)) {
		resize_step(t);
		return;
	}
	if (t->main.bits <= BALLOT_KV_TABLE_BITS_MIN || t->count >= buckets_size(&t->main) / SHRINK_LOAD_DIVISOR)
		return;
	unsigned bits = bits_for(t->count * 2);
	if (bits < t->main.bits)
		start_resize(t, bits);
}

void kv_table_insert(kv_table *t, kv_entry *e)
{
	kv_entry **head = bucket_for(t, e->hash);
	e->next = *head;
	*head = e;
	t->count++;
	table_grow_if_full(t);
}

kv_entry *kv_table_unlink(kv_table *t, kv_entry **link)
{
	kv_entry *e = *link;
	BALLOT_ASSERT(e != NULL);
	BALLOT_ASSERT(t->count > 0);
	*link = e->next;
	e->next = NULL;
	t->count--;
	table_shrink_if_sparse(t);
	return e;
}

void kv_table_each(const kv_table *t, void (*fn)(void *ctx, const kv_entry *e), void *ctx)
{
	const kv_buckets *arrays[2] = {&t->main, &t->next};
	for (int a = 0; a < 2; a++) {
		const kv_buckets *b = arrays[a];
		for (uint64_t i = 0; b->slot != NULL && i < buckets_size(b); i++) {
			for (const kv_entry *e = b->slot[i]; e != NULL; e = e->next)
				fn(ctx, e);
		}
	}
}

int kv_key_compare(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n > 0 ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int compare_by_key(const void *pa, const void *pb)
{
	const kv_entry *a = *(const kv_entry *const *)pa;
	const kv_entry *b = *(const kv_entry *const *)pb;
	return kv_key_compare(a->bytes, a->key_len, b->bytes, b->key_len);
}

static int compare_by_hash(const void *pa, const void *pb)
{
	const kv_entry *a = *(const kv_entry *const *)pa;
	const kv_entry *b = *(const kv_entry *const *)pb;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return compare_by_key(pa, pb);
}

/* The chain holding hash h during a scan, and the last hash that chain may hold. */
static kv_entry *scan_chain(const kv_table *t, uint64_t h, uint64_t *last)
{
	unsigned main_shift = 64 - t->main.bits;
	uint64_t i = h >> main_shift;
	if (resizing(t) && i < t->moved) {
		unsigned shift = 64 - t->next.bits;
		uint64_t j = h >> shift;
		uint64_t chain_last = (j << shift) | ((UINT64_C(1) << shift) - 1);
		uint64_t boundary_last = (t->moved << main_shift) - 1; /* moved < size: no overflow */
		*last = chain_last < boundary_last ? chain_last : boundary_last;
		return t->next.slot[j];
	}
	*last = (i << main_shift) | ((UINT64_C(1) << main_shift) - 1);
	return t->main.slot[i];
}

typedef struct scan_batch {
	const kv_entry **items;
	size_t n;
	size_t cap;
} scan_batch;

static int batch_push(scan_batch *b, const kv_entry *e)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		const kv_entry **items = realloc(b->items, cap * sizeof *items);
		if (items == NULL)
			return BALLOT_ENOMEM;
		b->items = items;
		b->cap = cap;
	}
	b->items[b->n++] = e;
	return 0;
}

/* Whether the batch holds an entry past the count-th one's hash: then the step's keys are
 * known, and so is whether any key follows them. */
static bool batch_decided(const scan_batch *b, uint64_t count)
{
	return b->n > count && b->items[b->n - 1]->hash > b->items[count - 1]->hash;
}

int kv_table_scan(const kv_table *t, uint64_t cursor, uint64_t count, const kv_entry ***out, size_t *n,
		  uint64_t *next)
{
	BALLOT_ASSERT(count >= 1);
	scan_batch b = {0};
	uint64_t h = cursor;
	bool end = false;
	while (!end && !batch_decided(&b, count)) {
		uint64_t last;
		size_t first = b.n;
		for (const kv_entry *e = scan_chain(t, h, &last); e != NULL; e = e->next) {
			if (e->hash >= h && batch_push(&b, e) != 0) {
				free(b.items);
				return BALLOT_ENOMEM;
			}
		}
		/* Chains are unordered; sorting each by itself sorts the whole batch, because
		 * chains cover increasing, disjoint ranges of hashes. */
		if (b.n - first > 1)
			qsort(b.items + first, b.n - first, sizeof *b.items, compare_by_hash);
		end = last == UINT64_MAX;
		h = last + 1;
	}
	size_t cut = b.n;
	if (b.n > count) {
		cut = (size_t)count;
		while (cut < b.n && b.items[cut]->hash == b.items[count - 1]->hash)
			cut++;
	}
	*next = cut < b.n ? b.items[cut - 1]->hash + 1 : 0;
	*out = b.items;
	*n = cut;
	return 0;
}

int kv_table_walk_ordered(const kv_table *t, void (*fn)(void *ctx, const kv_entry *e), void *ctx)
{
	enum { ON_STACK = 32 };
	const kv_entry *stack[ON_STACK];
	const kv_entry **items = stack;
	size_t cap = ON_STACK;
	uint64_t h = 0;
	for (;;) {
		uint64_t last;
		size_t n = 0;
		for (const kv_entry *e = scan_chain(t, h, &last); e != NULL; e = e->next) {
			if (e->hash < h)
				continue;
			if (n == cap) {
				size_t ncap = cap * 2;
				const kv_entry **grown = malloc(ncap * sizeof *grown);
				if (grown == NULL) {
					if (items != stack)
						free(items);
					return BALLOT_ENOMEM;
				}
				memcpy(grown, items, n * sizeof *items);
				if (items != stack)
					free(items);
				items = grown;
				cap = ncap;
			}
			items[n++] = e;
		}
		if (n > 1)
			qsort(items, n, sizeof *items, compare_by_hash);
		for (size_t i = 0; i < n; i++)
			fn(ctx, items[i]);
		if (last == UINT64_MAX)
			break;
		h = last + 1;
	}
	if (items != stack)
		free(items);
	return 0;
}
