/* The key-value store as a replicated state machine: applying entries, answering reads
 * outside the log, snapshots (see ballot/kv.h). */
#include "ballot/kv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ballot/resp.h"
#include "common/assert.h"
#include "kv/bytes_out.h"
#include "kv/kv_internal.h"

#define SNAPSHOT_MAGIC "BKVS"
#define SNAPSHOT_MAGIC_BYTES 4
#define SNAPSHOT_VERSION 2 /* 2: keys in (XXH3-64 hash, bytes) order; 1 was byte order */
/* magic, version, key count ... checksum */
#define SNAPSHOT_HEADER_BYTES (SNAPSHOT_MAGIC_BYTES + 1 + 8)
#define SNAPSHOT_CHECKSUM_BYTES 8
/* A key's record: u32 key length, u32 value length, and the bytes. */
#define SNAPSHOT_RECORD_MIN_BYTES 8

int ballot_kv_new(ballot_kv **out)
{
	*out = NULL;
	ballot_kv *kv = calloc(1, sizeof *kv);
	if (kv == NULL)
		return BALLOT_ENOMEM;
	if (kv_table_init(&kv->table, 0) != 0) {
		free(kv);
		return BALLOT_ENOMEM;
	}
	*out = kv;
	return 0;
}

void ballot_kv_free(ballot_kv *kv)
{
	if (kv == NULL)
		return;
	kv_table_free(&kv->table);
	kv_args_free(&kv->scratch);
	free(kv);
}

uint64_t ballot_kv_count(const ballot_kv *kv)
{
	return kv->table.count;
}

int ballot_kv_check(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *reply)
{
	BALLOT_ASSERT(argc >= 1);
	return kv_check(argc, argv, lens, reply);
}

/* --- Applying ---------------------------------------------------------------------------- */

static int run_one(ballot_kv *kv, kv_entry_view *view, ballot_buf *reply, size_t reply_start)
{
	size_t argc;
	int rc = kv_entry_next(view, &kv->scratch, &argc);
	if (rc != 0)
		return rc;
	kv_call c = {.rd = &kv->table, .wr = &kv->table, .argc = argc,
		     .argv = kv->scratch.argv, .lens = kv->scratch.lens,
		     .reply = reply, .reply_start = reply_start};
	return kv_run(&c);
}

/* Redis discards a transaction whose queued commands include an unknown one or a wrong
 * argument count; a batch is checked the same way before any of it runs. */
static int batch_queueable(ballot_kv *kv, kv_entry_view view, ballot_buf *reply, bool *ok)
{
	ballot_buf discard;
	ballot_buf_init(&discard, 0);
	int rc = 0;
	*ok = true;
	for (uint32_t i = 0; rc == 0 && *ok && i < view.count; i++) {
		size_t argc;
		rc = kv_entry_next(&view, &kv->scratch, &argc);
		if (rc == 0 && kv_check(argc, kv->scratch.argv, kv->scratch.lens, &discard) != 0)
			*ok = false;
	}
	ballot_buf_free(&discard);
	if (rc == 0 && !*ok)
		rc = ballot_resp_error(reply, "EXECABORT Transaction discarded because of previous errors.");
	return rc;
}

static int apply_batch(ballot_kv *kv, kv_entry_view *view, ballot_buf *reply, size_t reply_start)
{
	bool ok;
	int rc = batch_queueable(kv, *view, reply, &ok);
	if (rc != 0 || !ok)
		return rc;
	rc = ballot_resp_array(reply, view->count);
	for (uint32_t i = 0; rc == 0 && i < view->count; i++)
		rc = run_one(kv, view, reply, reply_start);
	return rc;
}

int ballot_kv_apply(ballot_kv *kv, const void *cmd, size_t len, ballot_buf *reply)
{
	size_t start = reply->len;
	kv_entry_view view;
	ballot_errmsg em;
	int rc = kv_entry_open(cmd, len, &view, &em);
	if (rc != 0)
		rc = ballot_resp_error(reply, "ERR malformed command entry: %s", em.text);
	else if (view.kind == KV_ENTRY_BATCH)
		rc = apply_batch(kv, &view, reply, start);
	else
		rc = run_one(kv, &view, reply, start);
	if (rc != 0)
		buf_truncate(reply, start);
	return rc;
}

/* --- Reading outside the log ------------------------------------------------------------ */

int ballot_kv_query(const ballot_kv *kv, size_t argc, const char *const *argv, const size_t *lens,
		    ballot_buf *reply)
{
	BALLOT_ASSERT(argc >= 1);
	size_t start = reply->len;
	kv_call c = {.rd = &kv->table, .wr = NULL, .argc = argc, .argv = argv, .lens = lens,
		     .reply = reply, .reply_start = start};
	int rc = kv_run(&c);
	if (rc != 0)
		buf_truncate(reply, start);
	return rc;
}

int ballot_kv_query_entry(const ballot_kv *kv, const void *cmd, size_t len, ballot_buf *reply)
{
	kv_entry_view view;
	ballot_errmsg em;
	if (kv_entry_open(cmd, len, &view, &em) != 0)
		return ballot_resp_error(reply, "ERR malformed command entry: %s", em.text);
	if (view.kind != KV_ENTRY_COMMAND)
		return ballot_resp_error(reply, "ERR a batch (MULTI/EXEC) must go through the replicated log");
	kv_args args = {0};
	size_t argc;
	int rc = kv_entry_next(&view, &args, &argc);
	if (rc == 0)
		rc = ballot_kv_query(kv, argc, args.argv, args.lens, reply);
	kv_args_free(&args);
	return rc;
}

/* --- Snapshots ----------------------------------------------------------------------------- */

typedef struct snapshot_writer {
	ballot_buf *out;
	int rc;
} snapshot_writer;

static void write_record(void *ctx, const kv_entry *e)
{
	snapshot_writer *w = ctx;
	if (w->rc != 0)
		return;
	uint32_t kl = e->key_len, vl = e->val_len;
	if (ballot_buf_reserve(w->out, 8 + (size_t)kl + vl) != 0) {
		w->rc = BALLOT_ENOMEM;
		return;
	}
	buf_put_u32(w->out, kl);
	ballot_buf_append(w->out, e->bytes, kl);
	buf_put_u32(w->out, vl);
	ballot_buf_append(w->out, kv_entry_val_const(e), vl);
}

int ballot_kv_snapshot(const ballot_kv *kv, ballot_buf *out)
{
	/* Hash order is as deterministic as byte order, and one walk of the buckets gives it
	 * (each short chain sorted by itself), touching each key once: a large snapshot was
	 * mostly a sort of every key, then two more passes over them. */
	size_t start = out->len;
	uint64_t n = kv->table.count;
	if (ballot_buf_reserve(out, SNAPSHOT_HEADER_BYTES + SNAPSHOT_CHECKSUM_BYTES) != 0)
		return BALLOT_ENOMEM;
	ballot_buf_append(out, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES);
	buf_put_u8(out, SNAPSHOT_VERSION);
	buf_put_u64(out, n);
	snapshot_writer w = {.out = out};
	int rc = kv_table_walk_ordered(&kv->table, write_record, &w);
	if (rc == 0)
		rc = w.rc;
	if (rc == 0 && ballot_buf_reserve(out, SNAPSHOT_CHECKSUM_BYTES) != 0)
		rc = BALLOT_ENOMEM;
	if (rc != 0) {
		out->len = start; /* as it was */
		if (out->data != NULL)
			out->data[start] = '\0';
		return rc;
	}
	buf_put_u64(out, XXH3_64bits(out->data + start, out->len - start));
	return 0;
}

/* Checks the checksum, magic and version; leaves r at the key count. */
static int snapshot_open(const void *data, size_t len, byte_reader *r, ballot_errmsg *em)
{
	if (len < SNAPSHOT_HEADER_BYTES + SNAPSHOT_CHECKSUM_BYTES)
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot of %zu bytes is truncated", len);
	size_t body = len - SNAPSHOT_CHECKSUM_BYTES;
	uint64_t stored = le_get_u64((const unsigned char *)data + body);
	if (XXH3_64bits(data, body) != stored)
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot of %zu bytes fails its checksum", len);
	*r = byte_reader_of(data, body);
	if (!read_magic(r, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES))
		return ballot_errorf(em, BALLOT_ECORRUPT, "not a key-value snapshot (no \"" SNAPSHOT_MAGIC "\")");
	uint8_t version;
	bool ok = read_u8(r, &version);
	BALLOT_ASSERT(ok); /* the length was checked above */
	if (version != SNAPSHOT_VERSION)
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot version %u; this build reads %d",
				     version, SNAPSHOT_VERSION);
	return 0;
}

/* Reads one key's record into a new entry, checking limits and the key order. */
static int read_record(byte_reader *r, uint64_t i, const kv_entry *prev, kv_entry **out, ballot_errmsg *em)
{
	uint32_t klen, vlen;
	const unsigned char *key, *val;
	if (!read_u32(r, &klen) || !read_bytes(r, klen, &key) || !read_u32(r, &vlen) || !read_bytes(r, vlen, &val))
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot: key %" PRIu64 " is truncated", i);
	if (klen > BALLOT_KV_KEY_MAX_BYTES || vlen > BALLOT_KV_VALUE_MAX_BYTES)
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot: key %" PRIu64 " is past the limits", i);
	uint64_t hash = kv_hash(key, klen);
	if (prev != NULL && (prev->hash > hash ||
			     (prev->hash == hash && kv_key_compare(prev->bytes, prev->key_len, key, klen) >= 0)))
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot: key %" PRIu64 " is out of order", i);
	*out = kv_entry_new(key, klen, hash, val, vlen, vlen);
	if (*out == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory restoring key %" PRIu64, i);
	return 0;
}

static int restore_table(byte_reader *r, kv_table *t, ballot_errmsg *em)
{
	uint64_t n;
	if (!read_u64(r, &n) || n > r->left / SNAPSHOT_RECORD_MIN_BYTES)
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot: key count does not fit its size");
	if (kv_table_init(t, n) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory for a table of %" PRIu64 " keys", n);
	const kv_entry *prev = NULL;
	for (uint64_t i = 0; i < n; i++) {
		kv_entry *e;
		int rc = read_record(r, i, prev, &e, em);
		if (rc != 0) {
			kv_table_free(t);
			return rc;
		}
		kv_table_insert(t, e);
		prev = e;
	}
	if (r->left != 0) {
		kv_table_free(t);
		return ballot_errorf(em, BALLOT_ECORRUPT, "key-value snapshot: %zu bytes after the last key", r->left);
	}
	return 0;
}

int ballot_kv_restore(ballot_kv *kv, const void *data, size_t len, ballot_errmsg *em)
{
	byte_reader r = {0};
	int rc = snapshot_open(data, len, &r, em);
	if (rc != 0)
		return rc;
	kv_table fresh;
	rc = restore_table(&r, &fresh, em);
	if (rc != 0)
		return rc;
	kv_table_free(&kv->table);
	kv->table = fresh;
	return 0;
}

/* --- The ballot_fsm vtable --------------------------------------------------------------- */

static int fsm_apply(void *ctx, uint64_t index, uint64_t time_ms, const void *cmd, size_t len, ballot_buf *reply)
{
	(void)index;
	(void)time_ms;
	return ballot_kv_apply(ctx, cmd, len, reply);
}

static int fsm_query(void *ctx, const void *cmd, size_t len, ballot_buf *reply)
{
	return ballot_kv_query_entry(ctx, cmd, len, reply);
}

static int fsm_snapshot(void *ctx, ballot_buf *out)
{
	return ballot_kv_snapshot(ctx, out);
}

static int fsm_restore(void *ctx, const void *data, size_t len, ballot_errmsg *em)
{
	return ballot_kv_restore(ctx, data, len, em);
}

ballot_fsm ballot_kv_fsm(ballot_kv *kv)
{
	return (ballot_fsm){.ctx = kv, .apply = fsm_apply, .query = fsm_query, .snapshot = fsm_snapshot,
			    .restore = fsm_restore};
}
