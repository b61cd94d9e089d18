/* The search of one key (see check/search.h).
 *
 * The operations that must be placed ("required": they completed ok, or a cas failed,
 * inside the window) form a doubly linked list of their invoke and return events in
 * history order. An operation can be placed next when its invoke comes before the first
 * return still in the list: it is then concurrent with every operation still open, so
 * real time allows it to go first. Placing it applies it to the current value; if the
 * model accepts, it leaves the list (both of its events) and the search goes on from the
 * head; when the first entry is a return, the operation returning there was not placed in
 * time, and the search backtracks. This is Wing & Gong's search with Lowe's refinement:
 * the pair (set of operations placed, value) is remembered once seen, because what
 * follows depends on nothing else, so no configuration is explored twice.
 *
 * Operations that may or may not take effect ("optional": info, never completed, or cut
 * by the window) have no return event; they are tried after the required candidates and
 * never block the search, which succeeds when every required operation is placed.
 *
 * Values are interned: each distinct byte string gets one id, so comparing values is
 * comparing ids. Appends would make every intermediate string a full copy, so a string
 * built by an append is stored as (parent id, suffix), hashed with a polynomial hash that
 * composes over concatenation, and compared by content only when hashes match. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check/search.h"
#include "common/assert.h"

#define VID_NULL 0u             /* the key is absent */
#define VID_ANY 1u              /* any value at all (a window's start) */
#define VID_OTHER 2u            /* any value nothing observes (see simplify) */
#define VID_FIRST 3u            /* the first interned byte string */
#define VID_REJECT UINT32_MAX   /* the model refuses the operation here */
#define VID_NOMEM (UINT32_MAX - 1) /* the memory bound was reached */
#define NONE UINT32_MAX

/* How often (in steps) the clock is read, when there is one. */
#define CLOCK_EVERY_STEPS 4096u

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* ---- budget --------------------------------------------------------------------------- */

void *budget_alloc(check_budget *b, size_t n)
{
	if (n > b->bytes_max - b->bytes) {
		if (b->hit == BALLOT_CHECK_BOUND_NONE)
			b->hit = BALLOT_CHECK_BOUND_MEMORY;
		return NULL;
	}
	void *p = malloc(n ? n : 1);
	if (p == NULL) {
		if (b->hit == BALLOT_CHECK_BOUND_NONE)
			b->hit = BALLOT_CHECK_BOUND_MEMORY;
		return NULL;
	}
	b->bytes += n;
	if (b->bytes > b->bytes_peak)
		b->bytes_peak = b->bytes;
	return p;
}

static void *budget_calloc(check_budget *b, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size) {
		if (b->hit == BALLOT_CHECK_BOUND_NONE)
			b->hit = BALLOT_CHECK_BOUND_MEMORY;
		return NULL;
	}
	void *p = budget_alloc(b, count * size);
	if (p != NULL)
		memset(p, 0, count * size);
	return p;
}

void budget_free(check_budget *b, void *p, size_t n)
{
	if (p == NULL)
		return;
	BALLOT_ASSERT(b->bytes >= n);
	b->bytes -= n;
	free(p);
}

/* Counts one step; false once a bound is reached. */
static bool budget_step(check_budget *b)
{
	if (b->hit != BALLOT_CHECK_BOUND_NONE)
		return false;
	if (b->steps >= b->steps_max) {
		b->hit = BALLOT_CHECK_BOUND_STEPS;
		return false;
	}
	b->steps++;
	if (b->clock_ms != NULL && b->steps % CLOCK_EVERY_STEPS == 0 &&
	    b->clock_ms(b->clock_ctx) >= b->deadline_ms) {
		b->hit = BALLOT_CHECK_BOUND_TIME;
		return false;
	}
	return true;
}

/* ---- arena: many small records, freed together ----------------------------------------- */

#define ARENA_BLOCK_BYTES (64u * 1024)

typedef struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(8) unsigned char data[];
} arena_block;

typedef struct arena {
	arena_block *head;
	check_budget *b;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	arena_block *blk = a->head;
	if (blk == NULL || blk->cap - blk->used < n) {
		size_t cap = n > ARENA_BLOCK_BYTES ? n : ARENA_BLOCK_BYTES;
		blk = budget_alloc(a->b, sizeof *blk + cap);
		if (blk == NULL)
			return NULL;
		blk->next = a->head;
		blk->used = 0;
		blk->cap = cap;
		a->head = blk;
	}
	void *p = blk->data + blk->used;
	blk->used += n;
	return p;
}

static void arena_free(arena *a)
{
	while (a->head != NULL) {
		arena_block *next = a->head->next;
		budget_free(a->b, a->head, sizeof *a->head + a->head->cap);
		a->head = next;
	}
}

/* ---- values ----------------------------------------------------------------------------- */

#define HASH_BASE 0x100000001b3ull

typedef struct vnode {
	uint64_t hash; /* polynomial hash of the whole string */
	uint64_t len;
	const unsigned char *piece; /* the last piece_len bytes; the rest is parent's string */
	uint32_t piece_len;
	uint32_t parent; /* VID_NULL: the piece is the whole string */
	int64_t integer;
	bool is_int; /* the string is the canonical decimal text of an int64 */
} vnode;

typedef struct vstore {
	check_budget *b;
	arena *ar;
	vnode *nodes; /* indexed by id; ids below VID_FIRST unused */
	uint32_t count, cap;
	uint32_t *table; /* open addressing over ids; 0 empty */
	uint32_t table_cap;
	unsigned char *scratch[2];
	size_t scratch_cap[2];
} vstore;

static uint64_t hash_bytes(const unsigned char *p, size_t len)
{
	uint64_t h = 0;
	for (size_t i = 0; i < len; i++)
		h = h * HASH_BASE + p[i] + 1;
	return h;
}

static uint64_t pow_base(uint64_t n)
{
	uint64_t result = 1, x = HASH_BASE;
	while (n != 0) {
		if (n & 1)
			result *= x;
		x *= x;
		n >>= 1;
	}
	return result;
}

static uint64_t vslot(uint64_t hash, uint64_t len)
{
	return mix64(hash ^ (len * 0x9e3779b97f4a7c15ull));
}

static bool scratch_reserve(vstore *vs, int i, size_t n)
{
	if (n <= vs->scratch_cap[i])
		return true;
	size_t cap = vs->scratch_cap[i] ? vs->scratch_cap[i] : 256;
	while (cap < n)
		cap *= 2;
	unsigned char *p = budget_alloc(vs->b, cap);
	if (p == NULL)
		return false;
	budget_free(vs->b, vs->scratch[i], vs->scratch_cap[i]);
	vs->scratch[i] = p;
	vs->scratch_cap[i] = cap;
	return true;
}

/* Writes the string of id into out[0, len). */
static void materialize(const vstore *vs, uint32_t id, unsigned char *out)
{
	while (id != VID_NULL) {
		const vnode *v = &vs->nodes[id];
		memcpy(out + (v->len - v->piece_len), v->piece, v->piece_len);
		id = v->parent;
	}
}

/* Whether node id holds parent's string followed by piece. */
static int node_equals(vstore *vs, uint32_t id, uint32_t parent, const unsigned char *piece,
		       uint32_t piece_len, uint64_t len)
{
	const vnode *v = &vs->nodes[id];
	if (v->parent == parent && v->piece_len == piece_len &&
	    (piece_len == 0 || memcmp(v->piece, piece, piece_len) == 0))
		return 1;
	if (!scratch_reserve(vs, 0, len) || !scratch_reserve(vs, 1, len))
		return -1;
	materialize(vs, id, vs->scratch[0]);
	materialize(vs, parent, vs->scratch[1]);
	if (piece_len != 0)
		memcpy(vs->scratch[1] + (len - piece_len), piece, piece_len);
	return len == 0 || memcmp(vs->scratch[0], vs->scratch[1], len) == 0;
}

static bool vtable_grow(vstore *vs)
{
	uint32_t cap = vs->table_cap ? vs->table_cap * 2 : 256;
	uint32_t *table = budget_calloc(vs->b, cap, sizeof *table);
	if (table == NULL)
		return false;
	for (uint32_t id = VID_FIRST; id < vs->count; id++) {
		uint64_t i = vslot(vs->nodes[id].hash, vs->nodes[id].len) & (cap - 1);
		while (table[i] != 0)
			i = (i + 1) & (cap - 1);
		table[i] = id;
	}
	budget_free(vs->b, vs->table, (size_t)vs->table_cap * sizeof *vs->table);
	vs->table = table;
	vs->table_cap = cap;
	return true;
}

/* The id of parent's string followed by piece (parent VID_NULL: piece alone), adding it
 * if new. With copy, a new piece is copied into the arena (it is not the history's). */
static uint32_t vs_intern(vstore *vs, uint32_t parent, const unsigned char *piece,
			  uint32_t piece_len, bool copy)
{
	BALLOT_ASSERT(parent != VID_ANY);
	uint64_t parent_len = parent == VID_NULL ? 0 : vs->nodes[parent].len;
	uint64_t parent_hash = parent == VID_NULL ? 0 : vs->nodes[parent].hash;
	uint64_t len = parent_len + piece_len;
	uint64_t hash = parent_hash * pow_base(piece_len) + hash_bytes(piece, piece_len);
	if (vs->table_cap != 0) {
		uint32_t mask = vs->table_cap - 1;
		for (uint64_t i = vslot(hash, len) & mask; vs->table[i] != 0; i = (i + 1) & mask) {
			uint32_t id = vs->table[i];
			if (vs->nodes[id].hash != hash || vs->nodes[id].len != len)
				continue;
			int eq = node_equals(vs, id, parent, piece, piece_len, len);
			if (eq < 0)
				return VID_NOMEM;
			if (eq)
				return id;
		}
	}
	if (vs->count >= VID_NOMEM - 1)
		return VID_NOMEM;
	if (((uint64_t)vs->count + 1) * 2 > vs->table_cap && !vtable_grow(vs))
		return VID_NOMEM;
	if (vs->count >= vs->cap) {
		uint32_t cap = vs->cap ? vs->cap * 2 : 256;
		BALLOT_ASSERT(cap > vs->count);
		vnode *nodes = budget_alloc(vs->b, (size_t)cap * sizeof *nodes);
		if (nodes == NULL)
			return VID_NOMEM;
		if (vs->cap != 0)
			memcpy(nodes, vs->nodes, (size_t)vs->count * sizeof *nodes);
		budget_free(vs->b, vs->nodes, (size_t)vs->cap * sizeof *nodes);
		vs->nodes = nodes;
		vs->cap = cap;
	}
	if (copy && piece_len != 0) {
		unsigned char *p = arena_alloc(vs->ar, piece_len);
		if (p == NULL)
			return VID_NOMEM;
		memcpy(p, piece, piece_len);
		piece = p;
	}
	uint32_t id = vs->count++;
	vnode *v = &vs->nodes[id];
	*v = (vnode){.hash = hash, .len = len, .piece = piece, .piece_len = piece_len, .parent = parent};
	if (len <= 20) {
		unsigned char text[20];
		materialize(vs, id, text);
		v->is_int = history_parse_int(text, (size_t)len, &v->integer);
	}
	uint32_t mask = vs->table_cap - 1;
	uint64_t i = vslot(hash, len) & mask;
	while (vs->table[i] != 0)
		i = (i + 1) & mask;
	vs->table[i] = id;
	return id;
}

static uint32_t vs_int(vstore *vs, int64_t v)
{
	char text[24];
	int len = history_format_int(text, v);
	return vs_intern(vs, VID_NULL, (const unsigned char *)text, (uint32_t)len, true);
}

static uint32_t vs_value(vstore *vs, const ballot_history *h, const hvalue *v)
{
	if (v->kind == BALLOT_VALUE_NULL)
		return VID_NULL;
	return vs_intern(vs, VID_NULL, history_bytes(h, v->off), v->len, false);
}

static void vs_free(vstore *vs)
{
	budget_free(vs->b, vs->nodes, (size_t)vs->cap * sizeof *vs->nodes);
	budget_free(vs->b, vs->table, (size_t)vs->table_cap * sizeof *vs->table);
	for (int i = 0; i < 2; i++)
		budget_free(vs->b, vs->scratch[i], vs->scratch_cap[i]);
}

/* ---- the problem ---------------------------------------------------------------------- */

enum pmode {
	PM_OK,   /* it took effect with the recorded result */
	PM_FAIL, /* a cas that compared unequal */
	PM_INFO, /* if it took effect, any result */
};

typedef struct pop {
	uint8_t f;    /* ballot_op_kind */
	uint8_t mode; /* pmode */
	bool optional;
	uint32_t a, b; /* write: a; cas: a expected, b new; read: a result; incr ok: a result;
			* append: a is the suffix alone */
	int64_t n, r;  /* incr: increment, result (PM_OK) */
	const unsigned char *piece; /* append: the suffix */
	uint32_t piece_len;
	uint32_t hist;
	uint64_t call_pos, ret_pos;
	uint32_t bit;
	uint32_t call_entry, ret_entry; /* required: entries in the main list */
	uint32_t twin_prev;             /* optional: the previous optional op just like it */
	uint32_t observes;              /* read: its result; cas: its expected value; else NONE */
} pop;

/* An entry of the main list: an invoke or a return of a required op. */
typedef struct entry {
	uint32_t op;
	uint32_t prev, next;
	bool is_call;
	uint64_t pos;
} entry;

/* The memo. One entry per (required ops placed, value); under it, the sets of optional ops
 * placed with that pair, none a superset of another (see memo_add). */
typedef struct opt_set {
	struct opt_set *next;
	uint32_t nopt; /* words, trailing zero words dropped */
	uint64_t words[];
} opt_set;

typedef struct memo_entry {
	uint64_t hash;
	opt_set *sets;
	uint32_t state;
	uint32_t lo, nreq;
	uint64_t words[];
} memo_entry;

typedef struct cursor {
	bool optional_phase;
	bool dead_write_tried; /* optional phase: a write of a dead value was tried here */
	uint32_t at;        /* an entry (required phase) or an op (optional phase) */
	uint32_t first_ret; /* optional phase: the return entry that bounds the candidates */
} cursor;

typedef struct frame {
	uint32_t op;
	uint32_t state_before;
	bool dead_write_tried; /* the cursor's, to go on from op when backtracking */
} frame;

struct search {
	const ballot_history *h;
	check_budget *b;
	arena ar;
	vstore vs;

	pop *ops;
	uint32_t n;        /* ops in the problem */
	uint32_t required; /* the first `required` ops are required */

	entry *ent; /* 2 * required entries, then the head sentinel */
	uint32_t head;
	uint32_t *oprev, *onext; /* optional ops: a list over op indexes; sentinel n */

	uint64_t *words;
	uint32_t req_words, opt_words;
	uint32_t lo, hi; /* required region: first word not full; one past the last nonzero */
	uint64_t zhash;  /* Zobrist hash of the required ops placed */

	memo_entry **memo;
	size_t memo_cap, memo_count;

	frame *stack;
	uint32_t depth;

	uint64_t blocked_pos;
	uint32_t blocked_op;

	/* With simplify's conditions (no incr, no append), the ops not yet placed that observe
	 * each value id; a value with none left is dead (see canonical). NULL otherwise. */
	uint32_t *observers;
	uint32_t observer_ids;

	/* Where the search stands between search_run calls. */
	uint32_t state;
	cursor at;
	size_t n_alloc; /* ops allocated (before the window cut them) */
};

/* ---- bits and memo ---------------------------------------------------------------------- */

static uint64_t req_full_mask(const search *s, uint32_t w)
{
	uint32_t tail = s->required % 64;
	if (w + 1 < s->req_words || tail == 0)
		return ~0ull;
	return (1ull << tail) - 1;
}

static void bit_set(search *s, uint32_t bit)
{
	uint32_t w = bit / 64;
	s->words[w] |= 1ull << (bit % 64);
	if (w >= s->req_words)
		return;
	s->zhash ^= mix64(bit + 0x632be59bd9b4e019ull);
	if (w + 1 > s->hi)
		s->hi = w + 1;
	while (s->lo < s->req_words && s->words[s->lo] == req_full_mask(s, s->lo))
		s->lo++;
	if (s->hi < s->lo)
		s->hi = s->lo;
}

static void bit_clear(search *s, uint32_t bit)
{
	uint32_t w = bit / 64;
	s->words[w] &= ~(1ull << (bit % 64));
	if (w >= s->req_words)
		return;
	s->zhash ^= mix64(bit + 0x632be59bd9b4e019ull);
	if (w < s->lo)
		s->lo = w;
	while (s->hi > s->lo && s->words[s->hi - 1] == 0)
		s->hi--;
}

static bool memo_grow(search *s)
{
	size_t cap = s->memo_cap ? s->memo_cap * 2 : 1024;
	memo_entry **memo = budget_calloc(s->b, cap, sizeof *memo);
	if (memo == NULL)
		return false;
	for (size_t i = 0; i < s->memo_cap; i++) {
		memo_entry *e = s->memo[i];
		if (e == NULL)
			continue;
		size_t j = e->hash & (cap - 1);
		while (memo[j] != NULL)
			j = (j + 1) & (cap - 1);
		memo[j] = e;
	}
	budget_free(s->b, s->memo, s->memo_cap * sizeof *s->memo);
	s->memo = memo;
	s->memo_cap = cap;
	return true;
}

/* Whether every op in a is also in b (a ⊆ b). */
static bool opt_subset(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb)
{
	for (uint32_t i = 0; i < na; i++) {
		uint64_t bi = i < nb ? b[i] : 0;
		if ((a[i] & ~bi) != 0)
			return false;
	}
	return true;
}

/* Adds the current configuration (ops placed, value) to the memo: 1 if new, 0 if it need
 * not be explored, -1 out of memory.
 *
 * Exact repeats need not be explored (Lowe). Beyond that, a configuration that differs
 * from one already seen only by placing more optional ops is subsumed by it: the optional
 * ops left unplaced are a subset, so every continuation of the newer one is a continuation
 * of the older one (twins included: the earliest unplaced twin stands in). The older one is
 * either explored and failed, or on the current path and still exploring those
 * continuations. This keeps info ops that took effect to no purpose, which lead to the
 * same values with more ops placed, from multiplying the search. */
static int memo_add(search *s, uint32_t state)
{
	uint32_t nopt = s->opt_words;
	const uint64_t *opt = s->words + s->req_words;
	while (nopt > 0 && opt[nopt - 1] == 0)
		nopt--;
	uint32_t nreq = s->hi - s->lo;
	const uint64_t *req = s->words + s->lo;
	uint64_t hash = mix64(s->zhash ^ ((uint64_t)state * 0x9e3779b97f4a7c15ull));
	if ((s->memo_count + 1) * 2 > s->memo_cap && !memo_grow(s))
		return -1;
	size_t mask = s->memo_cap - 1;
	size_t i = hash & mask;
	memo_entry *e = NULL;
	for (; s->memo[i] != NULL; i = (i + 1) & mask) {
		memo_entry *m = s->memo[i];
		if (m->hash == hash && m->state == state && m->lo == s->lo && m->nreq == nreq &&
		    memcmp(m->words, req, nreq * sizeof *req) == 0) {
			e = m;
			break;
		}
	}
	if (e != NULL) {
		/* Subsumed by a set of fewer optional ops? Drop the sets this one subsumes. */
		for (opt_set **link = &e->sets; *link != NULL;) {
			opt_set *o = *link;
			if (opt_subset(o->words, o->nopt, opt, nopt))
				return 0;
			if (opt_subset(opt, nopt, o->words, o->nopt))
				*link = o->next; /* its memory stays in the arena until the search ends */
			else
				link = &o->next;
		}
	} else {
		e = arena_alloc(&s->ar, sizeof *e + (size_t)nreq * sizeof e->words[0]);
		if (e == NULL)
			return -1;
		e->hash = hash;
		e->sets = NULL;
		e->state = state;
		e->lo = s->lo;
		e->nreq = nreq;
		memcpy(e->words, req, nreq * sizeof *req);
		s->memo[i] = e;
		s->memo_count++;
	}
	opt_set *o = arena_alloc(&s->ar, sizeof *o + (size_t)nopt * sizeof o->words[0]);
	if (o == NULL)
		return -1;
	o->nopt = nopt;
	memcpy(o->words, opt, nopt * sizeof *opt);
	o->next = e->sets;
	e->sets = o;
	return 1;
}

static bool is_placed(const search *s, uint32_t op)
{
	uint32_t bit = s->ops[op].bit;
	return (s->words[bit / 64] >> (bit % 64)) & 1;
}

/* ---- the model ---------------------------------------------------------------------------- */

static bool add_overflows(int64_t a, int64_t b)
{
	return (b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b);
}

/* The value after o is applied to state, VID_REJECT if o cannot run there, VID_NOMEM. */
static uint32_t apply(search *s, uint32_t state, const pop *o)
{
	switch ((ballot_op_kind)o->f) {
	case BALLOT_OP_READ:
		return state == o->a || state == VID_ANY ? o->a : VID_REJECT;
	case BALLOT_OP_WRITE:
		return o->a;
	case BALLOT_OP_CAS:
		if (o->mode == PM_FAIL)
			return state != o->a ? state : VID_REJECT; /* ANY stays ANY */
		return state == o->a || state == VID_ANY ? o->b : VID_REJECT;
	case BALLOT_OP_INCR: {
		if (state == VID_ANY)
			return o->mode == PM_OK ? o->a : VID_ANY;
		int64_t base = 0;
		if (state != VID_NULL) {
			const vnode *v = &s->vs.nodes[state];
			if (!v->is_int)
				return VID_REJECT; /* Redis: "value is not an integer" */
			base = v->integer;
		}
		if (add_overflows(base, o->n))
			return VID_REJECT; /* Redis: "increment would overflow" */
		if (o->mode == PM_OK)
			return base + o->n == o->r ? o->a : VID_REJECT;
		return vs_int(&s->vs, base + o->n);
	}
	case BALLOT_OP_APPEND:
		if (state == VID_ANY)
			return VID_ANY;
		if (state == VID_NULL)
			return o->a;
		return vs_intern(&s->vs, state, o->piece, o->piece_len, false);
	case BALLOT_OP_KIND_COUNT_:
		break;
	}
	BALLOT_UNREACHABLE();
}

/* ---- lists ------------------------------------------------------------------------------ */

static void ent_unlink(search *s, uint32_t e)
{
	s->ent[s->ent[e].prev].next = s->ent[e].next;
	s->ent[s->ent[e].next].prev = s->ent[e].prev;
}

static void ent_relink(search *s, uint32_t e)
{
	s->ent[s->ent[e].prev].next = e;
	s->ent[s->ent[e].next].prev = e;
}

static void lift(search *s, uint32_t op)
{
	const pop *o = &s->ops[op];
	if (s->observers != NULL && o->observes != NONE) {
		BALLOT_ASSERT(s->observers[o->observes] > 0);
		s->observers[o->observes]--;
	}
	if (o->optional) {
		s->onext[s->oprev[op]] = s->onext[op];
		s->oprev[s->onext[op]] = s->oprev[op];
		return;
	}
	ent_unlink(s, o->call_entry);
	ent_unlink(s, o->ret_entry);
}

/* Undoes the latest lift (lifts and unlifts nest like a stack). */
static void unlift(search *s, uint32_t op)
{
	const pop *o = &s->ops[op];
	if (s->observers != NULL && o->observes != NONE)
		s->observers[o->observes]++;
	if (o->optional) {
		s->onext[s->oprev[op]] = op;
		s->oprev[s->onext[op]] = op;
		return;
	}
	ent_relink(s, o->ret_entry);
	ent_relink(s, o->call_entry);
}

/* The first return entry in the main list (which is not empty). */
static uint32_t first_return(const search *s)
{
	uint32_t e = s->ent[s->head].next;
	while (s->ent[e].is_call)
		e = s->ent[e].next;
	return e;
}

/* ---- the search --------------------------------------------------------------------------- */

/* A value that no op left to place can observe (no read to return it, no cas to expect
 * it) is dead: from it, exactly the same futures are possible as from any other dead or
 * unobserved value (reads and cas reject all of them, failed cas accept all of them), so it
 * is VID_OTHER. Canonical states make more configurations equal in the memo. */
static uint32_t canonical(const search *s, uint32_t state)
{
	if (s->observers != NULL && state >= VID_FIRST && state < s->observer_ids &&
	    s->observers[state] == 0)
		return VID_OTHER;
	return state;
}

/* An optional write whose value is dead: all such are interchangeable from here on (each
 * sets the key to VID_OTHER, now and at any later point), so only the first in the
 * candidate order needs trying, as with twins. */
static bool is_dead_write(const search *s, const pop *o)
{
	return s->observers != NULL && o->f == BALLOT_OP_WRITE && canonical(s, o->a) == VID_OTHER;
}

/* The next op the cursor offers in the current configuration, or NONE when none is left:
 * the required ops invoked before the first return still in the list, then the optional
 * ops invoked before it, less those the reductions rule out. */
static uint32_t next_candidate(const search *s, cursor *c, uint32_t state)
{
	while (!c->optional_phase) {
		if (s->ent[c->at].is_call) {
			uint32_t op = s->ent[c->at].op;
			c->at = s->ent[c->at].next;
			return op;
		}
		c->optional_phase = true;
		c->first_ret = c->at;
		c->at = s->onext[s->n];
	}
	/* From VID_ANY, placing an optional op is never needed: ANY already allows every value
	 * the op could set (it simulates every state, see apply), and leaving the op unplaced
	 * keeps it available. */
	if (state == VID_ANY)
		return NONE;
	while (c->at != s->n && s->ops[c->at].call_pos < s->ent[c->first_ret].pos) {
		uint32_t op = c->at;
		const pop *o = &s->ops[op];
		c->at = s->onext[op];
		/* Identical optional ops are interchangeable: place the earlier first. */
		if (o->twin_prev != NONE && !is_placed(s, o->twin_prev))
			continue;
		/* A cas that cannot match is not worth a step. */
		if (o->f == BALLOT_OP_CAS && o->mode != PM_FAIL && state != o->a)
			continue;
		if (is_dead_write(s, o)) {
			if (c->dead_write_tried)
				continue;
			c->dead_write_tried = true;
		}
		return op;
	}
	return NONE;
}

typedef enum place_result { PLACED, NOT_PLACED, OUT_OF_BOUNDS } place_result;

/* Tries op at the current configuration: placed when the model accepts it and the memo has
 * not seen (or subsumed) where it leads. */
static place_result try_place(search *s, cursor *c, uint32_t *state, uint32_t op)
{
	if (!budget_step(s->b))
		return OUT_OF_BOUNDS;
	uint32_t next = apply(s, *state, &s->ops[op]);
	if (next == VID_NOMEM)
		return OUT_OF_BOUNDS;
	if (next == VID_REJECT)
		return NOT_PLACED;
	bit_set(s, s->ops[op].bit);
	lift(s, op);
	next = canonical(s, next);
	int added = memo_add(s, next);
	if (added <= 0) {
		unlift(s, op);
		bit_clear(s, s->ops[op].bit);
		return added == 0 ? NOT_PLACED : OUT_OF_BOUNDS;
	}
	s->stack[s->depth++] = (frame){.op = op, .state_before = *state,
					.dead_write_tried = c->dead_write_tried};
	*state = next;
	*c = (cursor){.optional_phase = false, .at = s->ent[s->head].next};
	return PLACED;
}

/* Undoes the latest placement and sets the cursor just after it; false at the root. */
static bool backtrack(search *s, cursor *c, uint32_t *state)
{
	/* No candidate was left: the op returning at first_ret was not placed in time. */
	uint64_t pos = s->ent[c->first_ret].pos;
	if (pos > s->blocked_pos || s->blocked_op == NONE) {
		s->blocked_pos = pos;
		s->blocked_op = s->ent[c->first_ret].op;
	}
	if (s->depth == 0)
		return false;
	frame f = s->stack[--s->depth];
	unlift(s, f.op);
	bit_clear(s, s->ops[f.op].bit);
	*state = f.state_before;
	if (s->ops[f.op].optional)
		*c = (cursor){.optional_phase = true, .at = s->onext[f.op], .first_ret = first_return(s),
			      .dead_write_tried = f.dead_write_tried};
	else
		*c = (cursor){.optional_phase = false, .at = s->ent[s->ops[f.op].call_entry].next};
	return true;
}

search_outcome search_run(search *s, uint64_t pause_at_steps)
{
	uint32_t state = s->state;
	cursor c = s->at;
	search_outcome out;
	for (;;) {
		if (s->ent[s->head].next == s->head) {
			out = SEARCH_LINEARIZABLE; /* every required op is placed */
			break;
		}
		if (s->b->steps >= pause_at_steps) {
			out = SEARCH_PAUSED;
			break;
		}
		uint32_t op = next_candidate(s, &c, state);
		if (op != NONE) {
			if (try_place(s, &c, &state, op) == OUT_OF_BOUNDS) {
				out = SEARCH_GAVE_UP;
				break;
			}
			continue;
		}
		if (!backtrack(s, &c, &state)) {
			out = SEARCH_NOT_LINEARIZABLE;
			break;
		}
	}
	s->state = state;
	s->at = c;
	return out;
}

bool search_blocked(const search *s, uint32_t *hist_op, uint64_t *ret_pos)
{
	if (s->blocked_op == NONE)
		return false;
	*hist_op = s->ops[s->blocked_op].hist;
	*ret_pos = s->blocked_pos;
	return true;
}

/* ---- building the problem ------------------------------------------------------------------ */

typedef struct ret_order {
	uint64_t pos;
	uint32_t op;
} ret_order;

static int cmp_ret(const void *a, const void *b)
{
	const ret_order *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Selects the window's ops, required first (each group in invoke order). */
static bool select_ops(search *s, const uint32_t *ops, size_t n, uint64_t t, uint64_t u)
{
	s->ops = budget_calloc(s->b, n ? n : 1, sizeof *s->ops);
	if (s->ops == NULL)
		return false;
	uint32_t count = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const hop *h = &s->h->ops[ops[i]];
			if (h->call_pos >= u)
				break;
			if (h->ret_pos <= t)
				continue; /* returned before the window (never-returned ops have NEVER) */
			ballot_event_type outcome = h->outcome == BALLOT_EVENT_INVOKE
							    ? BALLOT_EVENT_INFO
							    : (ballot_event_type)h->outcome;
			if (outcome == BALLOT_EVENT_FAIL && h->f != BALLOT_OP_CAS)
				continue; /* it did not happen */
			bool required = outcome != BALLOT_EVENT_INFO && h->call_pos > t && h->ret_pos < u;
			if (!required && (h->f == BALLOT_OP_READ || outcome == BALLOT_EVENT_FAIL))
				continue; /* placing it could only constrain: leave it out */
			if (required != (pass == 0))
				continue;
			pop *o = &s->ops[count++];
			o->f = h->f;
			o->mode = outcome == BALLOT_EVENT_OK ? PM_OK
				: outcome == BALLOT_EVENT_FAIL ? PM_FAIL : PM_INFO;
			o->optional = !required;
			o->hist = ops[i];
			o->call_pos = h->call_pos;
			o->ret_pos = h->ret_pos;
			o->twin_prev = NONE;
			o->observes = NONE;
		}
		if (pass == 0)
			s->required = count;
	}
	s->n = count;
	return true;
}

/* Interns every value the ops name. */
static bool intern_values(search *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		pop *o = &s->ops[i];
		const hop *h = &s->h->ops[o->hist];
		uint32_t a = VID_NULL, b = VID_NULL;
		switch ((ballot_op_kind)o->f) {
		case BALLOT_OP_READ:
			a = vs_value(&s->vs, s->h, &h->result);
			break;
		case BALLOT_OP_WRITE:
			a = vs_value(&s->vs, s->h, &h->value);
			break;
		case BALLOT_OP_CAS:
			a = vs_value(&s->vs, s->h, &h->value);
			b = vs_value(&s->vs, s->h, &h->value2);
			break;
		case BALLOT_OP_INCR:
			o->n = h->value.integer;
			if (o->mode == PM_OK) {
				o->r = h->result.integer;
				a = vs_value(&s->vs, s->h, &h->result);
			}
			break;
		case BALLOT_OP_APPEND:
			o->piece = history_bytes(s->h, h->value.off);
			o->piece_len = h->value.len;
			a = vs_intern(&s->vs, VID_NULL, o->piece, o->piece_len, false);
			break;
		case BALLOT_OP_KIND_COUNT_:
			BALLOT_UNREACHABLE();
		}
		if (a == VID_NOMEM || b == VID_NOMEM)
			return false;
		o->a = a;
		o->b = b;
	}
	return true;
}

/* Two simplifications for keys with no incr and no append, where values are only stored,
 * compared and returned. Call a value observed when some read returns it or some cas
 * expects it.
 *
 * 1. Without failed cas, an optional write or cas that sets an unobserved value is
 *    dropped. After it, the next op to take effect must overwrite (a read would return the
 *    value, a cas would expect it), so removing it leaves every other op's effect and
 *    result as it was, and an optional op may be removed: the answer is unchanged. This
 *    keeps histories full of timed-out writes from blowing up the search.
 * 2. Every unobserved value becomes one value, VID_OTHER. No read returns any of them, no
 *    cas matches any of them, a failed cas accepts all of them: from any of them exactly
 *    the same sequences of ops are accepted, so merging them changes no answer. It makes
 *    timed-out writes of distinct unobserved values identical, hence twins (find_twins),
 *    and makes more configurations equal in the memo. */
static bool simplify(search *s)
{
	bool fail_cas = false;
	for (uint32_t i = 0; i < s->n; i++) {
		const pop *o = &s->ops[i];
		if (o->f == BALLOT_OP_INCR || o->f == BALLOT_OP_APPEND)
			return true;
		fail_cas |= o->mode == PM_FAIL;
	}
	uint32_t ids = s->vs.count;
	bool *observed = budget_calloc(s->b, ids, sizeof *observed);
	if (observed == NULL)
		return false;
	for (uint32_t i = 0; i < s->n; i++) {
		const pop *o = &s->ops[i];
		if (o->f == BALLOT_OP_READ || o->f == BALLOT_OP_CAS)
			observed[o->a] = true;
	}
	observed[VID_NULL] = true; /* the key starts absent: keep absent apart */
	uint32_t kept = s->required;
	for (uint32_t i = s->required; i < s->n; i++) {
		const pop *o = &s->ops[i];
		uint32_t sets = o->f == BALLOT_OP_CAS ? o->b : o->a;
		if (!fail_cas && !observed[sets])
			continue;
		s->ops[kept++] = *o;
	}
	s->n = kept;
	for (uint32_t i = 0; i < s->n; i++) {
		pop *o = &s->ops[i];
		if (o->f == BALLOT_OP_WRITE && !observed[o->a])
			o->a = VID_OTHER;
		if (o->f == BALLOT_OP_CAS && !observed[o->b])
			o->b = VID_OTHER;
	}
	budget_free(s->b, observed, (size_t)ids * sizeof *observed);

	/* Count each value's observers, for canonical() as ops are placed. */
	s->observers = budget_calloc(s->b, ids, sizeof *s->observers);
	if (s->observers == NULL)
		return false;
	s->observer_ids = ids;
	for (uint32_t i = 0; i < s->n; i++) {
		pop *o = &s->ops[i];
		if (o->f == BALLOT_OP_READ || o->f == BALLOT_OP_CAS) {
			o->observes = o->a;
			s->observers[o->a]++;
		}
	}
	return true;
}

/* Links each optional op to the previous optional op with the same effect and result. */
static bool find_twins(search *s)
{
	uint32_t k = s->n - s->required;
	if (k < 2)
		return true;
	size_t cap = 16;
	while (cap < (size_t)k * 2)
		cap *= 2;
	uint32_t *table = budget_calloc(s->b, cap, sizeof *table); /* op index + 1 */
	if (table == NULL)
		return false;
	for (uint32_t i = s->required; i < s->n; i++) {
		pop *o = &s->ops[i];
		uint64_t hash = mix64(o->f + 8 * (uint64_t)o->mode);
		hash = mix64(hash ^ o->a);
		hash = mix64(hash ^ ((uint64_t)o->b << 32) ^ (uint64_t)o->n);
		hash = mix64(hash ^ (uint64_t)o->r);
		size_t j = hash & (cap - 1);
		for (; table[j] != 0; j = (j + 1) & (cap - 1)) {
			const pop *p = &s->ops[table[j] - 1];
			if (p->f == o->f && p->mode == o->mode && p->a == o->a && p->b == o->b &&
			    p->n == o->n && p->r == o->r)
				break;
		}
		if (table[j] != 0)
			o->twin_prev = table[j] - 1;
		table[j] = i + 1; /* the latest of its kind */
	}
	budget_free(s->b, table, cap * sizeof *table);
	return true;
}

static bool build_lists(search *s)
{
	uint32_t r = s->required;
	s->ent = budget_calloc(s->b, (size_t)2 * r + 1, sizeof *s->ent);
	ret_order *rets = budget_calloc(s->b, r ? r : 1, sizeof *rets);
	s->oprev = budget_calloc(s->b, (size_t)s->n + 1, sizeof *s->oprev);
	s->onext = budget_calloc(s->b, (size_t)s->n + 1, sizeof *s->onext);
	if (s->ent == NULL || rets == NULL || s->oprev == NULL || s->onext == NULL) {
		budget_free(s->b, rets, (r ? r : 1) * sizeof *rets);
		return false;
	}
	for (uint32_t i = 0; i < r; i++)
		rets[i] = (ret_order){.pos = s->ops[i].ret_pos, .op = i};
	qsort(rets, r, sizeof *rets, cmp_ret);

	/* Merge the invokes (already in order) and the returns into one list. */
	s->head = 2 * r;
	uint32_t prev = s->head, e = 0, ci = 0, ri = 0;
	while (ci < r || ri < r) {
		bool take_call = ri == r || (ci < r && s->ops[ci].call_pos < rets[ri].pos);
		uint32_t op = take_call ? ci++ : rets[ri++].op;
		s->ent[e] = (entry){.op = op, .prev = prev, .is_call = take_call,
				    .pos = take_call ? s->ops[op].call_pos : s->ops[op].ret_pos};
		s->ent[prev].next = e;
		if (take_call)
			s->ops[op].call_entry = e;
		else
			s->ops[op].ret_entry = e;
		prev = e++;
	}
	s->ent[prev].next = s->head;
	s->ent[s->head].prev = prev;
	s->ent[s->head].pos = UINT64_MAX;
	budget_free(s->b, rets, (r ? r : 1) * sizeof *rets);

	/* The optional ops, in invoke order; sentinel n. */
	uint32_t oprev = s->n;
	for (uint32_t i = r; i < s->n; i++) {
		s->oprev[i] = oprev;
		s->onext[oprev] = i;
		oprev = i;
	}
	s->onext[oprev] = s->n;
	s->oprev[s->n] = oprev;
	return true;
}

static bool build_bits(search *s)
{
	s->req_words = (s->required + 63) / 64;
	s->opt_words = (s->n - s->required + 63) / 64;
	for (uint32_t i = 0; i < s->n; i++)
		s->ops[i].bit = i < s->required ? i : s->req_words * 64 + (i - s->required);
	s->words = budget_calloc(s->b, (size_t)s->req_words + s->opt_words + 1, sizeof *s->words);
	s->stack = budget_calloc(s->b, (size_t)s->n + 1, sizeof *s->stack);
	return s->words != NULL && s->stack != NULL;
}

static void search_release(search *s)
{
	check_budget *b = s->b;
	arena_free(&s->ar);
	vs_free(&s->vs);
	budget_free(b, s->memo, s->memo_cap * sizeof *s->memo);
	budget_free(b, s->stack, ((size_t)s->n + 1) * sizeof *s->stack);
	budget_free(b, s->words, ((size_t)s->req_words + s->opt_words + 1) * sizeof *s->words);
	budget_free(b, s->onext, ((size_t)s->n + 1) * sizeof *s->onext);
	budget_free(b, s->oprev, ((size_t)s->n + 1) * sizeof *s->oprev);
	budget_free(b, s->ent, ((size_t)2 * s->required + 1) * sizeof *s->ent);
	budget_free(b, s->ops, s->n_alloc * sizeof *s->ops);
	budget_free(b, s->observers, (size_t)s->observer_ids * sizeof *s->observers);
}

void search_free(search *s)
{
	if (s == NULL)
		return;
	check_budget *b = s->b;
	search_release(s);
	budget_free(b, s, sizeof *s);
}

search *search_new(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t, uint64_t u,
		   check_budget *budget)
{
	BALLOT_ASSERT(n <= BALLOT_CHECK_OPS_MAX);
	if (budget->hit != BALLOT_CHECK_BOUND_NONE)
		return NULL;
	search *s = budget_alloc(budget, sizeof *s);
	if (s == NULL)
		return NULL;
	*s = (search){.h = h, .b = budget, .blocked_op = NONE, .n_alloc = n ? n : 1};
	s->ar.b = budget;
	s->vs.b = budget;
	s->vs.ar = &s->ar;
	s->vs.count = VID_FIRST;
	if (!select_ops(s, ops, n, t, u) || !intern_values(s) || !simplify(s) || !find_twins(s) ||
	    !build_lists(s) || !build_bits(s)) {
		search_free(s);
		return NULL;
	}
	s->state = t == 0 ? VID_NULL : VID_ANY;
	s->at = (cursor){.optional_phase = false, .at = s->ent[s->head].next};
	return s;
}

search_outcome search_key(const ballot_history *h, const uint32_t *ops, size_t n, uint64_t t,
			  uint64_t u, check_budget *budget, uint32_t *blocked, uint64_t *blocked_pos)
{
	search *s = search_new(h, ops, n, t, u, budget);
	if (s == NULL)
		return SEARCH_GAVE_UP;
	search_outcome out = search_run(s, UINT64_MAX);
	if (out == SEARCH_NOT_LINEARIZABLE) {
		bool found = search_blocked(s, blocked, blocked_pos);
		BALLOT_ASSERT(found); /* a failed search ran out of candidates somewhere */
	}
	search_free(s);
	return out;
}
