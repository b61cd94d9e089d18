/* Encoding key-value commands into log entries and decoding them back (see ballot/kv.h).
 *
 * Decoding meets bytes from the log, which a bug or a disk fault may have damaged, so
 * kv_entry_open checks the whole entry before anything is applied: a malformed entry is
 * refused whole and a batch never half-applies for want of a byte. */
#include <stdlib.h>

#include "ballot/kv.h"
#include "common/assert.h"
#include "kv/bytes_out.h"
#include "kv/kv_internal.h"

/* Bytes command argv takes in an entry, or SIZE_MAX past the limits. */
static size_t command_bytes(size_t argc, const size_t *lens)
{
	size_t total = KV_ARGC_BYTES;
	for (size_t i = 0; i < argc; i++) {
		if (lens[i] > BALLOT_KV_ENTRY_MAX_BYTES)
			return SIZE_MAX;
		total += KV_ARG_LEN_BYTES + lens[i];
		if (total > BALLOT_KV_ENTRY_MAX_BYTES)
			return SIZE_MAX;
	}
	return total;
}

/* Appends argc, then each length and argument; out has room (reserved by the caller). */
static void put_command(ballot_buf *out, size_t argc, const char *const *argv, const size_t *lens)
{
	buf_put_u32(out, (uint32_t)argc);
	for (size_t i = 0; i < argc; i++) {
		buf_put_u32(out, (uint32_t)lens[i]);
		ballot_buf_append(out, argv[i], lens[i]);
	}
}

static int check_command_shape(size_t argc, const size_t *lens, size_t *bytes)
{
	if (argc == 0)
		return BALLOT_EINVAL;
	if (argc > BALLOT_KV_ARGS_MAX)
		return BALLOT_ELIMIT;
	*bytes = command_bytes(argc, lens);
	return *bytes == SIZE_MAX ? BALLOT_ELIMIT : 0;
}

int ballot_kv_encode(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *out)
{
	size_t bytes;
	int rc = check_command_shape(argc, lens, &bytes);
	if (rc != 0)
		return rc;
	if (KV_ENTRY_HEADER_BYTES + bytes > BALLOT_KV_ENTRY_MAX_BYTES)
		return BALLOT_ELIMIT;
	rc = ballot_buf_reserve(out, KV_ENTRY_HEADER_BYTES + bytes);
	if (rc != 0)
		return rc;
	buf_put_u8(out, KV_ENTRY_COMMAND);
	buf_put_u32(out, 1);
	put_command(out, argc, argv, lens);
	return 0;
}

int ballot_kv_batch_begin(ballot_kv_batch *batch, ballot_buf *out)
{
	*batch = (ballot_kv_batch){.out = out, .start = out->len};
	int rc = ballot_buf_reserve(out, KV_ENTRY_HEADER_BYTES);
	if (rc != 0)
		return rc;
	buf_put_u8(out, KV_ENTRY_BATCH);
	buf_put_u32(out, 0);
	return 0;
}

int ballot_kv_batch_add(ballot_kv_batch *batch, size_t argc, const char *const *argv, const size_t *lens)
{
	ballot_buf *out = batch->out;
	BALLOT_ASSERT(out->len >= batch->start + KV_ENTRY_HEADER_BYTES);
	if (batch->count == BALLOT_KV_BATCH_MAX)
		return BALLOT_ELIMIT;
	size_t bytes;
	int rc = check_command_shape(argc, lens, &bytes);
	if (rc != 0)
		return rc;
	if (out->len - batch->start + bytes > BALLOT_KV_ENTRY_MAX_BYTES)
		return BALLOT_ELIMIT;
	rc = ballot_buf_reserve(out, bytes);
	if (rc != 0)
		return rc;
	put_command(out, argc, argv, lens);
	batch->count++;
	le_put_u32((unsigned char *)out->data + batch->start + 1, batch->count);
	return 0;
}

/* Steps over one command, checking every length against the bytes left. */
static int skip_command(byte_reader *r, uint32_t index, ballot_errmsg *em)
{
	uint32_t argc;
	if (!read_u32(r, &argc))
		return ballot_errorf(em, BALLOT_ECORRUPT, "command %u: truncated argument count", index);
	if (argc == 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "command %u: no arguments, not even a name", index);
	if (argc > BALLOT_KV_ARGS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "command %u: %u arguments, past the limit of %u", index,
				     argc, BALLOT_KV_ARGS_MAX);
	for (uint32_t i = 0; i < argc; i++) {
		uint32_t len;
		const unsigned char *bytes;
		if (!read_u32(r, &len) || !read_bytes(r, len, &bytes))
			return ballot_errorf(em, BALLOT_ECORRUPT, "command %u: argument %u truncated", index, i);
	}
	return 0;
}

int kv_entry_open(const void *cmd, size_t len, kv_entry_view *view, ballot_errmsg *em)
{
	if (len > BALLOT_KV_ENTRY_MAX_BYTES)
		return ballot_errorf(em, BALLOT_ELIMIT, "entry of %zu bytes is past the limit of %u", len,
				     BALLOT_KV_ENTRY_MAX_BYTES);
	byte_reader r = byte_reader_of(cmd, len);
	uint8_t kind;
	uint32_t count;
	if (!read_u8(&r, &kind) || !read_u32(&r, &count))
		return ballot_errorf(em, BALLOT_ECORRUPT, "entry of %zu bytes is shorter than its header", len);
	if (kind != KV_ENTRY_COMMAND && kind != KV_ENTRY_BATCH)
		return ballot_errorf(em, BALLOT_ECORRUPT, "unknown entry kind %u", kind);
	if (kind == KV_ENTRY_COMMAND && count != 1)
		return ballot_errorf(em, BALLOT_ECORRUPT, "a single-command entry holds %u commands", count);
	if (count > BALLOT_KV_BATCH_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "batch of %u commands is past the limit of %u", count,
				     BALLOT_KV_BATCH_MAX);
	byte_reader body = r;
	for (uint32_t i = 0; i < count; i++) {
		int rc = skip_command(&r, i, em);
		if (rc != 0)
			return rc;
	}
	if (r.left != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "%zu bytes after the last command", r.left);
	*view = (kv_entry_view){.kind = kind, .count = count, .rest = body};
	return 0;
}

static int args_reserve(kv_args *a, size_t n)
{
	if (n <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 8;
	while (cap < n)
		cap *= 2;
	const char **argv = realloc(a->argv, cap * sizeof *argv);
	if (argv == NULL)
		return BALLOT_ENOMEM;
	a->argv = argv;
	size_t *lens = realloc(a->lens, cap * sizeof *lens);
	if (lens == NULL)
		return BALLOT_ENOMEM;
	a->lens = lens;
	a->cap = cap;
	return 0;
}

int kv_entry_next(kv_entry_view *view, kv_args *args, size_t *argc)
{
	uint32_t n;
	bool ok = read_u32(&view->rest, &n);
	BALLOT_ASSERT(ok); /* kv_entry_open checked every length */
	int rc = args_reserve(args, n);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		const unsigned char *bytes;
		ok = read_u32(&view->rest, &len);
		BALLOT_ASSERT(ok);
		ok = read_bytes(&view->rest, len, &bytes);
		BALLOT_ASSERT(ok);
		args->argv[i] = (const char *)bytes;
		args->lens[i] = len;
	}
	*argc = n;
	return 0;
}

void kv_args_free(kv_args *args)
{
	free(args->argv);
	free(args->lens);
	*args = (kv_args){0};
}
