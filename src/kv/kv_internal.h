/* Inside the key-value store: the store itself, one command call, the entry codec and the
 * command table, shared by kv.c, codec.c and commands.c. */
#ifndef BALLOT_KV_INTERNAL_H
#define BALLOT_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/kv.h"
#include "common/buf.h"
#include "kv/bytes.h"
#include "kv/table.h"

/* Entry kinds: the first byte of an encoded entry. */
#define KV_ENTRY_COMMAND 1
#define KV_ENTRY_BATCH 2

/* Bytes of an entry's header (u8 kind, u32 command count), of a command's argument count,
 * and of an argument's length. */
#define KV_ENTRY_HEADER_BYTES 5
#define KV_ARGC_BYTES 4
#define KV_ARG_LEN_BYTES 4

/* A growable argv/lens pair that decoded commands point into the entry with. */
typedef struct kv_args {
	const char **argv;
	size_t *lens;
	size_t cap;
} kv_args;

struct ballot_kv {
	kv_table table;
	kv_args scratch; /* reused by every apply */
};

/* One command being run. Reads go to rd; writes to wr, which is the same table on the
 * apply path and NULL on the read-only path. */
typedef struct kv_call {
	const kv_table *rd;
	kv_table *wr;
	size_t argc;
	const char *const *argv;
	const size_t *lens;
	ballot_buf *reply;
	size_t reply_start; /* where this entry's replies began in reply: the read budget */
} kv_call;

/* --- codec.c --- */

/* A checked entry, ready to hand out its commands one by one. */
typedef struct kv_entry_view {
	uint8_t kind;
	uint32_t count;
	byte_reader rest;
} kv_entry_view;

/* Checks the whole entry cmd[0..len) (every length, count and limit, no trailing bytes)
 * and opens it. Returns 0, or BALLOT_ECORRUPT / BALLOT_ELIMIT with em saying why. */
int kv_entry_open(const void *cmd, size_t len, kv_entry_view *view, ballot_errmsg *em);

/* Decodes the next command of an opened entry into args (pointing into the entry).
 * Returns 0 or BALLOT_ENOMEM. Precondition: a command is left. */
int kv_entry_next(kv_entry_view *view, kv_args *args, size_t *argc);

void kv_args_free(kv_args *args);

/* --- commands.c --- */

/* Runs c's command: answers unknown commands, wrong argument counts and (on the read-only
 * path) writes with Redis's errors, else executes it. Returns 0 or a negative code. */
int kv_run(kv_call *c);

/* Whether argv names a known command with an acceptable argument count; if not, appends
 * the error Redis would answer at MULTI queue time and returns BALLOT_EINVAL (or the
 * buffer's error). */
int kv_check(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *reply);

#endif
