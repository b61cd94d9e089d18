/* Reference-counted buffers (see ballot/rbuf.h). */
#define _GNU_SOURCE /* MADV_DONTFORK */
#include "ballot/rbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/assert.h"

/* ---- the unforked arena ----------------------------------------------------------------- */

/* A chunk: this header, then allocations, each a pointer to its chunk and then the bytes. */
typedef struct arena_chunk {
	size_t size;  /* of the mapping */
	size_t used;  /* bytes handed out, header included */
	size_t live;  /* allocations not yet freed */
	bool open;    /* the chunk new allocations come from */
} arena_chunk;

#define ARENA_ALIGN 16u
#define ARENA_HEADER ((sizeof(arena_chunk) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)
#define ARENA_PREFIX ARENA_ALIGN /* the owner pointer, padded */

static atomic_bool arena_on;

static struct {
	pthread_mutex_t lock;
	arena_chunk *open;
	size_t chunks, used; /* chunks mapped, and the bytes handed out in them */
} arena = {.lock = PTHREAD_MUTEX_INITIALIZER};

static arena_chunk *chunk_map(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Without it a child inherits the chunk: slower forks, nothing worse. */
	(void)madvise(m, size, MADV_DONTFORK);
	arena_chunk *c = m;
	*c = (arena_chunk){.size = size, .used = ARENA_HEADER, .live = 0, .open = false};
	arena.chunks++;
	arena.used += ARENA_HEADER;
	return c;
}

static void chunk_unmap(arena_chunk *c)
{
	arena.chunks--;
	arena.used -= c->used;
	munmap(c, c->size);
}

static void *arena_alloc(size_t len)
{
	size_t need = (ARENA_PREFIX + len + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (need < len)
		return NULL;
	pthread_mutex_lock(&arena.lock);
	arena_chunk *c;
	if (need > BALLOT_RBUF_ARENA_CHUNK_BYTES / 4) {
		c = ARENA_HEADER + need < need ? NULL : chunk_map(ARENA_HEADER + need);
	} else {
		c = arena.open;
		if (c == NULL || c->used + need > c->size) {
			if (c != NULL) {
				c->open = false;
				if (c->live == 0)
					chunk_unmap(c);
			}
			c = arena.open = chunk_map(BALLOT_RBUF_ARENA_CHUNK_BYTES);
			if (c != NULL)
				c->open = true;
		}
	}
	unsigned char *p = NULL;
	if (c != NULL) {
		p = (unsigned char *)c + c->used;
		c->used += need;
		arena.used += need;
		c->live++;
		*(arena_chunk **)p = c;
		p += ARENA_PREFIX;
	}
	pthread_mutex_unlock(&arena.lock);
	return p;
}

static void arena_free(void *p)
{
	arena_chunk *c = *(arena_chunk **)((unsigned char *)p - ARENA_PREFIX);
	pthread_mutex_lock(&arena.lock);
	BALLOT_ASSERT(c->live > 0);
	if (--c->live == 0 && !c->open)
		chunk_unmap(c);
	pthread_mutex_unlock(&arena.lock);
}

void ballot_rbuf_use_unforked_arena(void)
{
	atomic_store(&arena_on, true);
}

void ballot_rbuf_arena_stats(size_t *chunks, size_t *bytes)
{
	pthread_mutex_lock(&arena.lock);
	*chunks = arena.chunks;
	*bytes = arena.used;
	pthread_mutex_unlock(&arena.lock);
}

/* ---- buffers ---------------------------------------------------------------------------- */

typedef struct wrapped_rbuf {
	ballot_rbuf b;
	void (*release)(void *ctx);
	void *ctx;
} wrapped_rbuf;

static ballot_rbuf *rbuf_new(const void *data, size_t len, bool unforked)
{
	if (sizeof(ballot_rbuf) + len < len)
		return NULL;
	ballot_rbuf *b = unforked ? arena_alloc(sizeof *b + len) : malloc(sizeof *b + len);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->external_ = unforked ? 2 : 0;
	b->len = len;
	b->data = (unsigned char *)(b + 1);
	if (data != NULL && len > 0)
		memcpy(b->data, data, len);
	return b;
}

ballot_rbuf *ballot_rbuf_new(const void *data, size_t len)
{
	return rbuf_new(data, len, false);
}

ballot_rbuf *ballot_rbuf_new_unforked(const void *data, size_t len)
{
	return rbuf_new(data, len, atomic_load_explicit(&arena_on, memory_order_relaxed));
}

ballot_rbuf *ballot_rbuf_wrap(const void *data, size_t len, void (*release)(void *ctx), void *ctx)
{
	wrapped_rbuf *w = malloc(sizeof *w);
	if (w == NULL)
		return NULL;
	w->b.refs = 1;
	w->b.external_ = 1;
	w->b.len = len;
	w->b.data = (unsigned char *)data;
	w->release = release;
	w->ctx = ctx;
	return &w->b;
}

ballot_rbuf *ballot_rbuf_ref(ballot_rbuf *b)
{
	if (b != NULL) {
		BALLOT_ASSERT(b->refs > 0);
		BALLOT_ASSERT(b->refs < UINT32_MAX);
		b->refs++;
	}
	return b;
}

void ballot_rbuf_unref(ballot_rbuf *b)
{
	if (b == NULL)
		return;
	BALLOT_ASSERT(b->refs > 0);
	if (--b->refs != 0)
		return;
	if (b->external_ == 1) {
		wrapped_rbuf *w = (wrapped_rbuf *)b;
		if (w->release != NULL)
			w->release(w->ctx);
	}
	if (b->external_ == 2)
		arena_free(b);
	else
		free(b);
}
