/* The key-value commands, with Redis's semantics and Redis's replies (see ballot/kv.h and
 * docs/kv.md).
 *
 * Every command answers exactly one RESP2 reply. Bad input (wrong arguments, a non-integer,
 * a key or value past its limit) is an error reply, identical on every replica; a negative
 * return means the replica itself failed (out of memory, reply buffer full). A command
 * that refuses checks everything before it changes anything. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/limits.h"
#include "ballot/resp.h"
#include "common/assert.h"
#include "kv/float.h"
#include "kv/glob.h"
#include "kv/kv_internal.h"
#include "common/decimal.h"

/* A check failed and its error reply is written (internal; never returned to callers). */
#define ANSWERED 1

/* Characters of a 64-bit integer in decimal, sign included. */


/* Redis quotes at most this many bytes of an unknown command's name and of its arguments. */
#define UNKNOWN_QUOTE_BYTES_MAX 128

/* Bytes a bulk reply adds to its payload ("$<len>\r\n...\r\n"), at most. */
#define BULK_OVERHEAD_BYTES 16

/* Values grown by APPEND get room to grow again: doubled while short, then 1 MiB more at
 * a time (as Redis's strings do), so appending n bytes in small pieces copies O(n) bytes. */
#define APPEND_DOUBLING_BYTES_MAX (1024u * 1024)

/* A replaced value keeps its allocation while it fits and wastes at most this much more
 * than its own size. */
#define VALUE_SLACK_BYTES 16

static int finish(int rc)
{
	return rc < 0 ? rc : 0;
}


/* A SCAN cursor: decimal digits, 0 .. 2^64 - 1. */
static bool parse_cursor(const char *s, size_t len, uint64_t *value)
{
	if (len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value = v;
	return true;
}

static size_t format_ll(char *out, int64_t v)
{
	char tmp[BALLOT_INT64_CHARS_MAX];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	return len;
}

/* How many bytes Redis quotes of an argument: up to its first NUL (it formats with %s),
 * and no more than `room`. */
static size_t quoted_len(const char *s, size_t len, size_t room)
{
	const char *nul = len > 0 ? memchr(s, '\0', len) : NULL;
	size_t n = nul != NULL ? (size_t)(nul - s) : len;
	return n < room ? n : room;
}

static bool arg_is(const kv_call *c, size_t i, const char *word)
{
	size_t n = strlen(word);
	if (c->lens[i] != n)
		return false;
	for (size_t k = 0; k < n; k++) {
		char a = c->argv[i][k];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != word[k])
			return false;
	}
	return true;
}

/* --- Replies ------------------------------------------------------------------------------ */

static int reply_ok(kv_call *c)
{
	return ballot_buf_append(c->reply, "+OK\r\n", 5);
}

static int reply_syntax_error(kv_call *c)
{
	return ballot_resp_error(c->reply, "ERR syntax error");
}

static int reply_not_integer(kv_call *c)
{
	return ballot_resp_error(c->reply, "ERR value is not an integer or out of range");
}

static int reply_entry_value(kv_call *c, const kv_entry *e)
{
	return ballot_resp_bulk(c->reply, kv_entry_val_const(e), e->val_len);
}

static int reply_value_or_null(kv_call *c, kv_entry *const *link)
{
	if (link == NULL)
		return ballot_resp_null(c->reply);
	return reply_entry_value(c, *link);
}

static int answered(int rc)
{
	return rc != 0 ? rc : ANSWERED;
}

/* Reads may reply at most BALLOT_KV_REPLY_MAX_BYTES per entry; past it they answer this. */
static int check_read_budget(kv_call *c, uint64_t bytes)
{
	uint64_t used = c->reply->len - c->reply_start;
	if (used + bytes <= BALLOT_KV_REPLY_MAX_BYTES)
		return 0;
	return answered(ballot_resp_error(c->reply,
					  "ERR reply of %" PRIu64 " bytes would pass ballot's limit of %u bytes "
					  "per entry; read fewer keys at a time, or use SCAN",
					  used + bytes, BALLOT_KV_REPLY_MAX_BYTES));
}

static int check_key(kv_call *c, size_t i)
{
	if (c->lens[i] <= BALLOT_KV_KEY_MAX_BYTES)
		return 0;
	return answered(ballot_resp_error(c->reply, "ERR key of %zu bytes is past ballot's limit of %u bytes",
					  c->lens[i], BALLOT_KV_KEY_MAX_BYTES));
}

static int check_value_size(kv_call *c, uint64_t len)
{
	if (len <= BALLOT_KV_VALUE_MAX_BYTES)
		return 0;
	return answered(ballot_resp_error(c->reply,
					  "ERR string exceeds maximum allowed size (ballot's limit is %u bytes)",
					  BALLOT_KV_VALUE_MAX_BYTES));
}

/* --- Storage ------------------------------------------------------------------------------ */

static kv_entry **find(const kv_call *c, size_t i)
{
	return kv_table_find(c->rd, c->argv[i], c->lens[i], kv_hash(c->argv[i], c->lens[i]));
}

static kv_table *writable(kv_call *c)
{
	BALLOT_ASSERT(c->wr != NULL); /* kv_run refuses writes on the read-only path */
	return c->wr;
}

/* Stores val under key argv[ki]: over the entry at link, or as a new key when link is
 * NULL. Returns 0 or BALLOT_ENOMEM, and then nothing changed. */
static int store(kv_call *c, size_t ki, kv_entry **link, const void *val, size_t len)
{
	kv_table *t = writable(c);
	if (link == NULL) {
		const char *key = c->argv[ki];
		kv_entry *e = kv_entry_new(key, c->lens[ki], kv_hash(key, c->lens[ki]), val, len, len);
		if (e == NULL)
			return BALLOT_ENOMEM;
		kv_table_insert(t, e);
		return 0;
	}
	kv_entry *old = *link;
	if (len <= old->val_cap && old->val_cap - len <= len + VALUE_SLACK_BYTES) {
		if (len > 0)
			memmove(kv_entry_val(old), val, len);
		old->val_len = (uint32_t)len;
		return 0;
	}
	kv_entry *e = kv_entry_new(old->bytes, old->key_len, old->hash, val, len, len);
	if (e == NULL)
		return BALLOT_ENOMEM;
	e->next = old->next;
	*link = e;
	free(old);
	return 0;
}

static void delete(kv_call *c, kv_entry **link)
{
	free(kv_table_unlink(writable(c), link));
}

/* --- String commands ------------------------------------------------------------------- */

static int cmd_get(kv_call *c)
{
	kv_entry **link = find(c, 1);
	if (link != NULL) {
		int rc = check_read_budget(c, (*link)->val_len + BULK_OVERHEAD_BYTES);
		if (rc != 0)
			return finish(rc);
	}
	return reply_value_or_null(c, link);
}

typedef enum set_answer {
	SET_ANSWER_OK,      /* SET: +OK, or null when NX/XX stopped it */
	SET_ANSWER_INTEGER, /* SETNX: :1 set, :0 not */
	SET_ANSWER_OLD,     /* SET ... GET, GETSET: the old value or null */
} set_answer;

/* SET key value with NX (only if absent) or XX (only if present). */
static int set_generic(kv_call *c, bool nx, bool xx, set_answer answer)
{
	int rc = check_key(c, 1);
	if (rc == 0)
		rc = check_value_size(c, c->lens[2]);
	if (rc != 0)
		return finish(rc);
	kv_entry **link = find(c, 1);
	if (answer == SET_ANSWER_OLD && (rc = reply_value_or_null(c, link)) != 0)
		return rc;
	bool found = link != NULL;
	if ((nx && found) || (xx && !found)) {
		if (answer == SET_ANSWER_OK)
			return ballot_resp_null(c->reply);
		if (answer == SET_ANSWER_INTEGER)
			return ballot_resp_integer(c->reply, 0);
		return 0;
	}
	rc = store(c, 1, link, c->argv[2], c->lens[2]);
	if (rc != 0)
		return rc;
	if (answer == SET_ANSWER_OK)
		return reply_ok(c);
	if (answer == SET_ANSWER_INTEGER)
		return ballot_resp_integer(c->reply, 1);
	return 0;
}

/* SET key value [NX|XX] [GET] [KEEPTTL]: options parsed as Redis 7 does. Keys never expire
 * in ballot, so KEEPTTL changes nothing and EX, PX, EXAT, PXAT are refused. */
static int cmd_set(kv_call *c)
{
	bool nx = false, xx = false, get = false;
	for (size_t i = 3; i < c->argc; i++) {
		if (arg_is(c, i, "nx") && !xx)
			nx = true;
		else if (arg_is(c, i, "xx") && !nx)
			xx = true;
		else if (arg_is(c, i, "get"))
			get = true;
		else if (arg_is(c, i, "keepttl"))
			continue;
		else if (arg_is(c, i, "ex") || arg_is(c, i, "px") || arg_is(c, i, "exat") || arg_is(c, i, "pxat"))
			return ballot_resp_error(c->reply, "ERR keys do not expire in ballot: SET %.*s is not supported",
						 (int)c->lens[i], c->argv[i]);
		else
			return reply_syntax_error(c);
	}
	return set_generic(c, nx, xx, get ? SET_ANSWER_OLD : SET_ANSWER_OK);
}

static int cmd_setnx(kv_call *c)
{
	return set_generic(c, true, false, SET_ANSWER_INTEGER);
}

static int cmd_getset(kv_call *c)
{
	return set_generic(c, false, false, SET_ANSWER_OLD);
}

static int cmd_mget(kv_call *c)
{
	uint64_t bytes = BULK_OVERHEAD_BYTES;
	for (size_t i = 1; i < c->argc; i++) {
		kv_entry **link = find(c, i);
		bytes += BULK_OVERHEAD_BYTES + (link != NULL ? (*link)->val_len : 0);
	}
	int rc = check_read_budget(c, bytes);
	if (rc != 0)
		return finish(rc);
	rc = ballot_resp_array(c->reply, c->argc - 1);
	for (size_t i = 1; rc == 0 && i < c->argc; i++)
		rc = reply_value_or_null(c, find(c, i));
	return rc;
}

/* MSET and MSETNX key value [key value ...], as Redis's msetGenericCommand: an odd pair
 * count is an arity error at run time; MSETNX sets nothing, and answers :0, if any of the
 * keys exists, else sets them all (a key named twice takes its last value) and answers :1. */
static int mset_generic(kv_call *c, bool nx)
{
	if (c->argc % 2 == 0)
		return ballot_resp_error(c->reply, "ERR wrong number of arguments for '%s' command",
					 nx ? "msetnx" : "mset");
	int rc = 0;
	for (size_t i = 1; rc == 0 && i < c->argc; i += 2) {
		rc = check_key(c, i);
		if (rc == 0)
			rc = check_value_size(c, c->lens[i + 1]);
	}
	if (rc != 0)
		return finish(rc);
	for (size_t i = 1; nx && i < c->argc; i += 2) {
		if (find(c, i) != NULL)
			return ballot_resp_integer(c->reply, 0);
	}
	for (size_t i = 1; i < c->argc; i += 2) {
		rc = store(c, i, find(c, i), c->argv[i + 1], c->lens[i + 1]);
		if (rc != 0)
			return rc;
	}
	return nx ? ballot_resp_integer(c->reply, 1) : reply_ok(c);
}

static int cmd_mset(kv_call *c)
{
	return mset_generic(c, false);
}

static int cmd_msetnx(kv_call *c)
{
	return mset_generic(c, true);
}

static int cmd_del(kv_call *c)
{
	int64_t deleted = 0;
	for (size_t i = 1; i < c->argc; i++) {
		kv_entry **link = find(c, i);
		if (link != NULL) {
			delete(c, link);
			deleted++;
		}
	}
	return ballot_resp_integer(c->reply, deleted);
}

/* GETDEL key: the value, then the key is gone; a missing key answers null. */
static int cmd_getdel(kv_call *c)
{
	kv_entry **link = find(c, 1);
	if (link == NULL)
		return ballot_resp_null(c->reply);
	int rc = check_read_budget(c, (*link)->val_len + BULK_OVERHEAD_BYTES);
	if (rc == 0)
		rc = reply_entry_value(c, *link);
	if (rc != 0)
		return finish(rc);
	delete(c, link);
	return 0;
}

static int cmd_exists(kv_call *c)
{
	int64_t found = 0;
	for (size_t i = 1; i < c->argc; i++)
		found += find(c, i) != NULL;
	return ballot_resp_integer(c->reply, found);
}

/* Adds delta to the integer at key argv[1] (absent: 0), as Redis's incrDecrCommand. */
static int incr_by(kv_call *c, int64_t delta)
{
	kv_entry **link = find(c, 1);
	int64_t value = 0;
	int rc = link == NULL ? check_key(c, 1) : 0;
	if (rc != 0)
		return finish(rc);
	if (link != NULL && !ballot_parse_ll(kv_entry_val(*link), (*link)->val_len, &value))
		return reply_not_integer(c);
	if ((delta < 0 && value < 0 && delta < INT64_MIN - value) ||
	    (delta > 0 && value > 0 && delta > INT64_MAX - value))
		return ballot_resp_error(c->reply, "ERR increment or decrement would overflow");
	value += delta;
	char text[BALLOT_INT64_CHARS_MAX];
	rc = store(c, 1, link, text, format_ll(text, value));
	if (rc != 0)
		return rc;
	return ballot_resp_integer(c->reply, value);
}

static int cmd_incr(kv_call *c)
{
	return incr_by(c, 1);
}

static int cmd_decr(kv_call *c)
{
	return incr_by(c, -1);
}

static int cmd_incrby(kv_call *c)
{
	int64_t delta;
	if (!ballot_parse_ll(c->argv[2], c->lens[2], &delta))
		return reply_not_integer(c);
	return incr_by(c, delta);
}

static int cmd_decrby(kv_call *c)
{
	int64_t delta;
	if (!ballot_parse_ll(c->argv[2], c->lens[2], &delta))
		return reply_not_integer(c);
	if (delta == INT64_MIN)
		return ballot_resp_error(c->reply, "ERR decrement would overflow");
	return incr_by(c, -delta);
}

/* INCRBYFLOAT key increment, as Redis 7.0's incrbyfloatCommand: the value (absent: 0) and
 * the increment are read as long doubles (kv/float.h), summed, and the sum is stored and
 * answered as Redis writes it ("%.17Lf", trailing zeros cut: 10.5 + 0.1 is "10.6"). Redis
 * then replicates a SET of that text so its replicas need not redo the arithmetic; a
 * ballot replica redoes it, which gives the same text on every replica that shares the
 * long double format (see kv/float.h). */
static int cmd_incrbyfloat(kv_call *c)
{
	kv_entry **link = find(c, 1);
	int rc = link == NULL ? check_key(c, 1) : 0;
	if (rc != 0)
		return finish(rc);
	long double value = 0, incr;
	if (link != NULL)
		rc = kv_parse_ld(kv_entry_val_const(*link), (*link)->val_len, &value);
	if (rc == 0)
		rc = kv_parse_ld(c->argv[2], c->lens[2], &incr);
	if (rc == BALLOT_EINVAL)
		return ballot_resp_error(c->reply, "ERR value is not a valid float");
	if (rc != 0)
		return rc;
	value += incr;
	if (isnan(value) || isinf(value))
		return ballot_resp_error(c->reply, "ERR increment would produce NaN or Infinity");
	char text[BALLOT_KV_FLOAT_TEXT_MAX_BYTES];
	size_t len;
	rc = kv_format_ld(value, text, &len);
	if (rc == 0)
		rc = store(c, 1, link, text, len);
	if (rc != 0)
		return rc;
	return ballot_resp_bulk(c->reply, text, len);
}

/* The room an appended value of `need` bytes gets. */
static size_t append_capacity(size_t need)
{
	size_t cap = need < APPEND_DOUBLING_BYTES_MAX ? need * 2 : need + APPEND_DOUBLING_BYTES_MAX;
	return cap < BALLOT_KV_VALUE_MAX_BYTES ? cap : BALLOT_KV_VALUE_MAX_BYTES;
}

/* Gives the entry at link room for a value of `need` bytes, keeping its bytes; the entry
 * may move (link is updated). Returns 0, or BALLOT_ENOMEM with nothing changed.
 * Precondition: need <= BALLOT_KV_VALUE_MAX_BYTES. */
static int reserve_value(kv_entry **link, size_t need)
{
	kv_entry *e = *link;
	BALLOT_ASSERT(need <= BALLOT_KV_VALUE_MAX_BYTES);
	if (need <= e->val_cap)
		return 0;
	size_t cap = append_capacity(need);
	kv_entry *grown = realloc(e, offsetof(kv_entry, bytes) + e->key_len + cap);
	if (grown == NULL)
		return BALLOT_ENOMEM;
	grown->val_cap = (uint32_t)cap;
	*link = grown;
	return 0;
}

static int cmd_append(kv_call *c)
{
	kv_entry **link = find(c, 1);
	if (link == NULL) {
		int rc = check_key(c, 1);
		if (rc == 0)
			rc = check_value_size(c, c->lens[2]);
		if (rc == 0)
			rc = store(c, 1, NULL, c->argv[2], c->lens[2]);
		return rc != 0 ? finish(rc) : ballot_resp_integer(c->reply, (int64_t)c->lens[2]);
	}
	uint64_t need = (uint64_t)(*link)->val_len + c->lens[2];
	int rc = check_value_size(c, need);
	if (rc == 0)
		rc = reserve_value(link, (size_t)need);
	if (rc != 0)
		return finish(rc);
	kv_entry *e = *link;
	if (c->lens[2] > 0)
		memcpy(kv_entry_val(e) + e->val_len, c->argv[2], c->lens[2]);
	e->val_len = (uint32_t)need;
	return ballot_resp_integer(c->reply, (int64_t)need);
}

/* GETRANGE key start end (and its old name SUBSTR): the bytes from start to end inclusive,
 * as Redis's getrangeCommand: negative indexes count from the end; both negative with
 * start past end is empty; then each is clamped to 0, end to the last byte; start past
 * end, or an empty value, is empty. A missing key answers an empty string, not null. */
static int cmd_getrange(kv_call *c)
{
	int64_t start, end;
	if (!ballot_parse_ll(c->argv[2], c->lens[2], &start) || !ballot_parse_ll(c->argv[3], c->lens[3], &end))
		return reply_not_integer(c);
	kv_entry **link = find(c, 1);
	int64_t len = link != NULL ? (int64_t)(*link)->val_len : 0;
	if (start < 0 && end < 0 && start > end)
		return ballot_resp_bulk(c->reply, "", 0);
	/* len <= BALLOT_KV_VALUE_MAX_BYTES, so len + a negative index cannot overflow. */
	if (start < 0)
		start = len + start;
	if (end < 0)
		end = len + end;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (start > end || len == 0)
		return ballot_resp_bulk(c->reply, "", 0);
	int rc = check_read_budget(c, (uint64_t)(end - start + 1) + BULK_OVERHEAD_BYTES);
	if (rc != 0)
		return finish(rc);
	return ballot_resp_bulk(c->reply, kv_entry_val_const(*link) + start, (size_t)(end - start + 1));
}

/* SETRANGE key offset value: writes value at offset, padding with zero bytes, as Redis's
 * setrangeCommand; answers the new length. An empty value changes nothing (a missing key
 * stays missing) and answers the current length. */
static int cmd_setrange(kv_call *c)
{
	int64_t offset;
	if (!ballot_parse_ll(c->argv[2], c->lens[2], &offset))
		return reply_not_integer(c);
	if (offset < 0)
		return ballot_resp_error(c->reply, "ERR offset is out of range");
	kv_entry **link = find(c, 1);
	size_t add = c->lens[3];
	if (add == 0)
		return ballot_resp_integer(c->reply, link != NULL ? (int64_t)(*link)->val_len : 0);
	int rc = link == NULL ? check_key(c, 1) : 0;
	if (rc != 0)
		return finish(rc);
	/* Redis's words, with ballot's limit in place of proto-max-bulk-len; offset + add
	 * cannot wrap: both are below 2^63. */
	uint64_t need = (uint64_t)offset + add;
	if (need > BALLOT_KV_VALUE_MAX_BYTES)
		return ballot_resp_error(c->reply, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
	if (link == NULL) {
		kv_entry *fresh = kv_entry_new(c->argv[1], c->lens[1], kv_hash(c->argv[1], c->lens[1]), NULL, 0,
					       (size_t)need);
		if (fresh == NULL)
			return BALLOT_ENOMEM;
		kv_table_insert(writable(c), fresh);
		link = find(c, 1);
		BALLOT_ASSERT(link != NULL);
	}
	rc = reserve_value(link, (size_t)need);
	if (rc != 0)
		return rc;
	kv_entry *e = *link;
	if ((uint64_t)offset > e->val_len)
		memset(kv_entry_val(e) + e->val_len, 0, (size_t)offset - e->val_len);
	memcpy(kv_entry_val(e) + offset, c->argv[3], add);
	if (need > e->val_len)
		e->val_len = (uint32_t)need;
	return ballot_resp_integer(c->reply, (int64_t)e->val_len);
}

static int cmd_strlen(kv_call *c)
{
	kv_entry **link = find(c, 1);
	return ballot_resp_integer(c->reply, link != NULL ? (int64_t)(*link)->val_len : 0);
}

/* CAS key expected new (ballot's own): replaces the value only if it equals expected. */
static int cmd_cas(kv_call *c)
{
	int rc = check_value_size(c, c->lens[3]);
	if (rc != 0)
		return finish(rc);
	kv_entry **link = find(c, 1);
	bool match = link != NULL && (*link)->val_len == c->lens[2] &&
		     (c->lens[2] == 0 || memcmp(kv_entry_val(*link), c->argv[2], c->lens[2]) == 0);
	if (!match)
		return ballot_resp_integer(c->reply, 0);
	rc = store(c, 1, link, c->argv[3], c->lens[3]);
	return rc != 0 ? rc : ballot_resp_integer(c->reply, 1);
}

static int cmd_type(kv_call *c)
{
	return ballot_resp_simple(c->reply, find(c, 1) != NULL ? "string" : "none");
}

/* --- Keyspace commands ------------------------------------------------------------------ */

static int cmd_dbsize(kv_call *c)
{
	return ballot_resp_integer(c->reply, (int64_t)c->rd->count);
}

/* FLUSHDB / FLUSHALL / FLUSH [ASYNC|SYNC]: both modes empty the store before replying. */
static int cmd_flush(kv_call *c)
{
	if (c->argc > 2 || (c->argc == 2 && !arg_is(c, 1, "sync") && !arg_is(c, 1, "async")))
		return reply_syntax_error(c);
	kv_table empty;
	int rc = kv_table_init(&empty, 0);
	if (rc != 0)
		return rc;
	kv_table *t = writable(c);
	kv_table_free(t);
	*t = empty;
	return reply_ok(c);
}

typedef struct key_list {
	const kv_entry **items;
	size_t n;
	size_t cap;
	uint64_t bytes; /* reply bytes the keys will take */
	const unsigned char *pattern;
	size_t pattern_len;
	bool all;
	bool failed;
} key_list;

static bool key_matches(const key_list *l, const kv_entry *e)
{
	return l->all ||
	       kv_glob_match(l->pattern, l->pattern_len, (const unsigned char *)e->bytes, e->key_len);
}

static void collect_match(void *ctx, const kv_entry *e)
{
	key_list *l = ctx;
	if (l->failed || !key_matches(l, e))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const kv_entry **items = realloc(l->items, cap * sizeof *items);
		if (items == NULL) {
			l->failed = true;
			return;
		}
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = e;
	l->bytes += e->key_len + BULK_OVERHEAD_BYTES;
}

static int compare_keys(const void *pa, const void *pb)
{
	const kv_entry *a = *(const kv_entry *const *)pa;
	const kv_entry *b = *(const kv_entry *const *)pb;
	return kv_key_compare(a->bytes, a->key_len, b->bytes, b->key_len);
}

static key_list key_list_for(const kv_call *c, size_t pattern_arg)
{
	key_list l = {.pattern = (const unsigned char *)c->argv[pattern_arg], .pattern_len = c->lens[pattern_arg]};
	l.all = l.pattern_len == 1 && l.pattern[0] == '*';
	return l;
}

static int reply_keys(kv_call *c, const kv_entry *const *items, size_t n)
{
	int rc = ballot_resp_array(c->reply, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = ballot_resp_bulk(c->reply, items[i]->bytes, items[i]->key_len);
	return rc;
}

/* KEYS pattern: every matching key, in increasing byte order so all replicas answer alike. */
static int cmd_keys(kv_call *c)
{
	key_list l = key_list_for(c, 1);
	kv_table_each(c->rd, collect_match, &l);
	int rc = l.failed ? BALLOT_ENOMEM : check_read_budget(c, l.bytes + BULK_OVERHEAD_BYTES);
	if (rc == 0) {
		if (l.n > 1)
			qsort(l.items, l.n, sizeof *l.items, compare_keys);
		rc = reply_keys(c, l.items, l.n);
	}
	free(l.items);
	return finish(rc);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: options as Redis 7 parses them. */
typedef struct scan_options {
	uint64_t cursor;
	uint64_t count;
	size_t match_arg; /* 0: no MATCH */
	bool type_matches;
} scan_options;

static int parse_scan_options(kv_call *c, scan_options *o)
{
	*o = (scan_options){.count = 10, .type_matches = true};
	if (!parse_cursor(c->argv[1], c->lens[1], &o->cursor))
		return answered(ballot_resp_error(c->reply, "ERR invalid cursor"));
	for (size_t i = 2; i < c->argc; i += 2) {
		if (i + 1 >= c->argc)
			return answered(reply_syntax_error(c));
		if (arg_is(c, i, "count")) {
			int64_t count;
			if (!ballot_parse_ll(c->argv[i + 1], c->lens[i + 1], &count))
				return answered(reply_not_integer(c));
			if (count < 1)
				return answered(reply_syntax_error(c));
			o->count = (uint64_t)count;
		} else if (arg_is(c, i, "match")) {
			o->match_arg = i + 1;
		} else if (arg_is(c, i, "type")) {
			o->type_matches = arg_is(c, i + 1, "string");
			if (!o->type_matches && !arg_is(c, i + 1, "list") && !arg_is(c, i + 1, "set") &&
			    !arg_is(c, i + 1, "zset") && !arg_is(c, i + 1, "hash") && !arg_is(c, i + 1, "stream"))
				return answered(ballot_resp_error(
					c->reply, "ERR unknown type name '%.*s'",
					(int)quoted_len(c->argv[i + 1], c->lens[i + 1], UNKNOWN_QUOTE_BYTES_MAX),
					c->argv[i + 1]));
		} else {
			return answered(reply_syntax_error(c));
		}
	}
	return 0;
}

/* The cursor is a hash: a step returns the COUNT keys with the smallest hashes >= cursor
 * (see kv_table_scan), so a key present for a whole iteration is returned exactly once, and
 * every replica answers the same step alike. MATCH and TYPE filter the keys a step looked
 * at, as in Redis, so a step may return fewer than COUNT keys, or none, before the end. */
static int cmd_scan(kv_call *c)
{
	scan_options o;
	int rc = parse_scan_options(c, &o);
	if (rc != 0)
		return finish(rc);
	const kv_entry **items;
	size_t n;
	uint64_t next;
	rc = kv_table_scan(c->rd, o.cursor, o.count, &items, &n, &next);
	if (rc != 0)
		return rc;
	key_list l = o.match_arg != 0 ? key_list_for(c, o.match_arg) : (key_list){.all = true};
	size_t kept = 0;
	uint64_t bytes = 2 * BULK_OVERHEAD_BYTES + BALLOT_INT64_CHARS_MAX;
	for (size_t i = 0; i < n; i++) {
		if (o.type_matches && key_matches(&l, items[i])) {
			items[kept++] = items[i];
			bytes += items[i]->key_len + BULK_OVERHEAD_BYTES;
		}
	}
	rc = check_read_budget(c, bytes);
	if (rc == 0) {
		char text[BALLOT_INT64_CHARS_MAX + 1];
		int len = snprintf(text, sizeof text, "%" PRIu64, next);
		rc = ballot_resp_array(c->reply, 2);
		if (rc == 0)
			rc = ballot_resp_bulk(c->reply, text, (size_t)len);
		if (rc == 0)
			rc = reply_keys(c, items, kept);
	}
	free(items);
	return finish(rc);
}

/* RENAME and RENAMENX key newkey, as Redis's renameGenericCommand: a missing key is
 * "no such key" (even renamed to itself); a key renamed to itself is left alone (+OK, or :0
 * for RENAMENX); else the value moves to newkey, over an existing newkey unless RENAMENX,
 * which then answers :0. */
static int rename_generic(kv_call *c, bool nx)
{
	kv_entry **from = find(c, 1);
	if (from == NULL)
		return ballot_resp_error(c->reply, "ERR no such key");
	bool same = c->lens[1] == c->lens[2] && (c->lens[1] == 0 || memcmp(c->argv[1], c->argv[2], c->lens[1]) == 0);
	if (same)
		return nx ? ballot_resp_integer(c->reply, 0) : reply_ok(c);
	kv_entry **to = find(c, 2);
	if (to != NULL && nx)
		return ballot_resp_integer(c->reply, 0);
	int rc = to == NULL ? check_key(c, 2) : 0;
	if (rc != 0)
		return finish(rc);
	/* The source entry stays where it is while store() copies its value: a store moves
	 * buckets and chain links, never entries. */
	const kv_entry *src = *from;
	rc = store(c, 2, to, kv_entry_val_const(src), src->val_len);
	if (rc != 0)
		return rc;
	from = find(c, 1); /* the store may have changed the table */
	BALLOT_ASSERT(from != NULL);
	delete(c, from);
	return nx ? ballot_resp_integer(c->reply, 1) : reply_ok(c);
}

static int cmd_rename(kv_call *c)
{
	return rename_generic(c, false);
}

static int cmd_renamenx(kv_call *c)
{
	return rename_generic(c, true);
}

/* RANDOMKEY: Redis picks a key at random, which replicas would not agree on, so ballot
 * answers the first key in SCAN order (the smallest XXH3-64 hash, then bytes): an arbitrary
 * key that depends on the keys alone, the same on every replica and after a restore, and
 * the same on every call until the keys change. An empty store answers null. */
static int cmd_randomkey(kv_call *c)
{
	const kv_entry **items;
	size_t n;
	uint64_t next;
	int rc = kv_table_scan(c->rd, 0, 1, &items, &n, &next);
	if (rc != 0)
		return rc;
	if (n == 0)
		rc = ballot_resp_null(c->reply);
	else if ((rc = check_read_budget(c, items[0]->key_len + BULK_OVERHEAD_BYTES)) == 0)
		rc = ballot_resp_bulk(c->reply, items[0]->bytes, items[0]->key_len);
	free(items);
	return finish(rc);
}

/* --- Expiry: keys never expire in ballot ------------------------------------------------ */

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME key: -1 (no expiry) for a key, -2 for a missing one. */
static int cmd_ttl(kv_call *c)
{
	return ballot_resp_integer(c->reply, find(c, 1) != NULL ? -1 : -2);
}

/* PERSIST key: 0, "no expiry was removed", whether the key exists or not. */
static int cmd_persist(kv_call *c)
{
	return ballot_resp_integer(c->reply, 0);
}

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, SETEX, PSETEX: refused whatever their arguments
 * (the argument count is checked first, as Redis does), naming the command in capitals. */
static int cmd_expire(kv_call *c)
{
	char name[sizeof "PEXPIREAT"];
	BALLOT_ASSERT(c->lens[0] < sizeof name); /* kv_run found it in the table */
	for (size_t i = 0; i < c->lens[0]; i++) {
		char a = c->argv[0][i];
		name[i] = a >= 'a' && a <= 'z' ? (char)(a - 'a' + 'A') : a;
	}
	name[c->lens[0]] = '\0';
	bool sets = arg_is(c, 0, "setex") || arg_is(c, 0, "psetex");
	return ballot_resp_error(c->reply, "ERR keys do not expire in ballot: %s is not supported; %s", name,
				 sets ? "use SET" : "keys live until deleted");
}

typedef enum expiry_kind { EXPIRY_NONE, EXPIRY_EX, EXPIRY_PX, EXPIRY_EXAT, EXPIRY_PXAT } expiry_kind;

static expiry_kind expiry_option(const kv_call *c, size_t i)
{
	if (arg_is(c, i, "ex"))
		return EXPIRY_EX;
	if (arg_is(c, i, "px"))
		return EXPIRY_PX;
	if (arg_is(c, i, "exat"))
		return EXPIRY_EXAT;
	if (arg_is(c, i, "pxat"))
		return EXPIRY_PXAT;
	return EXPIRY_NONE;
}

/* GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]: options parsed as Redis 7.0's
 * parseExtendedStringArgumentsOrReply (an expiry needs its argument and may repeat, but
 * not mix with another kind or with PERSIST; else "syntax error"); an expiry is then
 * refused, since keys never expire, and PERSIST makes it a GET, since no key has an expiry
 * to remove. */
static int cmd_getex(kv_call *c)
{
	expiry_kind kind = EXPIRY_NONE;
	size_t kind_arg = 0;
	bool persist = false;
	for (size_t i = 2; i < c->argc; i++) {
		expiry_kind k = expiry_option(c, i);
		if (k == EXPIRY_NONE && arg_is(c, i, "persist") && kind == EXPIRY_NONE) {
			persist = true;
		} else if (k != EXPIRY_NONE && !persist && (kind == EXPIRY_NONE || kind == k) && i + 1 < c->argc) {
			if (kind == EXPIRY_NONE)
				kind_arg = i;
			kind = k;
			i++; /* its argument */
		} else {
			return reply_syntax_error(c);
		}
	}
	if (kind != EXPIRY_NONE)
		return ballot_resp_error(c->reply, "ERR keys do not expire in ballot: GETEX %.*s is not supported; use GET",
					 (int)c->lens[kind_arg], c->argv[kind_arg]);
	return cmd_get(c);
}

/* --- The command table ------------------------------------------------------------------ */

typedef struct kv_command {
	const char *name; /* lower case, as Redis names commands in its errors */
	int arity;        /* as Redis: n means exactly n arguments, -n at least n; the name counts */
	bool readonly;
	int (*run)(kv_call *c);
} kv_command;

static const kv_command commands[] = {
	{"append", 3, false, cmd_append},
	{"cas", 4, false, cmd_cas},
	{"dbsize", 1, true, cmd_dbsize},
	{"decr", 2, false, cmd_decr},
	{"decrby", 3, false, cmd_decrby},
	{"del", -2, false, cmd_del},
	{"exists", -2, true, cmd_exists},
	{"expire", -3, false, cmd_expire},
	{"expireat", -3, false, cmd_expire},
	{"expiretime", 2, true, cmd_ttl},
	{"flush", -1, false, cmd_flush},
	{"flushall", -1, false, cmd_flush},
	{"flushdb", -1, false, cmd_flush},
	{"get", 2, true, cmd_get},
	{"getdel", 2, false, cmd_getdel},
	{"getex", -2, false, cmd_getex},
	{"getrange", 4, true, cmd_getrange},
	{"getset", 3, false, cmd_getset},
	{"incr", 2, false, cmd_incr},
	{"incrby", 3, false, cmd_incrby},
	{"incrbyfloat", 3, false, cmd_incrbyfloat},
	{"keys", 2, true, cmd_keys},
	{"mget", -2, true, cmd_mget},
	{"mset", -3, false, cmd_mset},
	{"msetnx", -3, false, cmd_msetnx},
	{"persist", 2, false, cmd_persist},
	{"pexpire", -3, false, cmd_expire},
	{"pexpireat", -3, false, cmd_expire},
	{"pexpiretime", 2, true, cmd_ttl},
	{"psetex", 4, false, cmd_expire},
	{"pttl", 2, true, cmd_ttl},
	{"randomkey", 1, true, cmd_randomkey},
	{"rename", 3, false, cmd_rename},
	{"renamenx", 3, false, cmd_renamenx},
	{"scan", -2, true, cmd_scan},
	{"set", -3, false, cmd_set},
	{"setex", 4, false, cmd_expire},
	{"setnx", 3, false, cmd_setnx},
	{"setrange", 4, false, cmd_setrange},
	{"strlen", 2, true, cmd_strlen},
	{"substr", 4, true, cmd_getrange},
	{"ttl", 2, true, cmd_ttl},
	{"type", 2, true, cmd_type},
	{"unlink", -2, false, cmd_del},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static bool name_equals(const char *name, size_t len, const char *lower)
{
	if (strlen(lower) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char a = name[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != lower[i])
			return false;
	}
	return true;
}

static const kv_command *command_find(const char *name, size_t len)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (name_equals(name, len, commands[i].name))
			return &commands[i];
	}
	return NULL;
}

static bool arity_ok(const kv_command *cmd, size_t argc)
{
	if (cmd->arity > 0)
		return argc == (size_t)cmd->arity;
	return argc >= (size_t)-cmd->arity;
}

/* Redis 7: "unknown command '<name>', with args beginning with: '<a1>' '<a2>' ", quoting
 * arguments while fewer than 128 bytes of quotes are written. */
static int reply_unknown(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *reply)
{
	char args[UNKNOWN_QUOTE_BYTES_MAX + 2 * 4];
	size_t used = 0;
	for (size_t i = 1; i < argc && used < UNKNOWN_QUOTE_BYTES_MAX; i++) {
		size_t n = quoted_len(argv[i], lens[i], UNKNOWN_QUOTE_BYTES_MAX - used);
		args[used++] = '\'';
		memcpy(args + used, argv[i], n);
		used += n;
		args[used++] = '\'';
		args[used++] = ' ';
	}
	BALLOT_ASSERT(used < sizeof args);
	size_t name_len = quoted_len(argv[0], lens[0], UNKNOWN_QUOTE_BYTES_MAX);
	return ballot_resp_error(reply, "ERR unknown command '%.*s', with args beginning with: %.*s", (int)name_len,
				 argv[0], (int)used, args);
}

static int reply_arity(const kv_command *cmd, ballot_buf *reply)
{
	return ballot_resp_error(reply, "ERR wrong number of arguments for '%s' command", cmd->name);
}

int kv_check(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *reply)
{
	BALLOT_ASSERT(argc >= 1);
	const kv_command *cmd = command_find(argv[0], lens[0]);
	int rc = 0;
	if (cmd == NULL)
		rc = reply_unknown(argc, argv, lens, reply);
	else if (!arity_ok(cmd, argc))
		rc = reply_arity(cmd, reply);
	else
		return 0;
	return rc != 0 ? rc : BALLOT_EINVAL;
}

int kv_run(kv_call *c)
{
	BALLOT_ASSERT(c->argc >= 1);
	const kv_command *cmd = command_find(c->argv[0], c->lens[0]);
	if (cmd == NULL)
		return reply_unknown(c->argc, c->argv, c->lens, c->reply);
	if (!arity_ok(cmd, c->argc))
		return reply_arity(cmd, c->reply);
	if (c->wr == NULL && !cmd->readonly)
		return ballot_resp_error(c->reply,
					 "ERR command '%s' is not read-only: it must go through the replicated log",
					 cmd->name);
	return cmd->run(c);
}

bool ballot_kv_is_readonly(const char *name, size_t len)
{
	const kv_command *cmd = command_find(name, len);
	return cmd != NULL && cmd->readonly;
}
