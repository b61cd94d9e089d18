/* ballot key-value store: the deterministic state machine that ballotd replicates.
 *
 * Redis string semantics: keys and values are byte strings, integers are their decimal
 * text, commands are argv arrays, replies are the RESP2 bytes Redis would send, errors
 * included, so a server forwards them to clients unchanged. Commands: SET [NX|XX] [GET]
 * [KEEPTTL], SETNX, GETSET, GET, GETDEL, GETEX [PERSIST], MGET, MSET, MSETNX, DEL, UNLINK,
 * EXISTS, INCR, INCRBY, INCRBYFLOAT, DECR, DECRBY, APPEND, STRLEN, GETRANGE, SUBSTR,
 * SETRANGE, RENAME, RENAMENX, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, FLUSH, KEYS, SCAN, TYPE,
 * and ballot's own CAS key expected new. Keys never expire: TTL, PTTL, EXPIRETIME and
 * PEXPIRETIME answer -1 (or -2 for a missing key), PERSIST 0, and EXPIRE, PEXPIRE,
 * EXPIREAT, PEXPIREAT, SETEX, PSETEX are refused. docs/kv.md describes each one, the
 * formats and the limits.
 *
 * A command reaches the store as an entry encoded by ballot_kv_encode (one command) or by
 * a batch (MULTI/EXEC: several commands applied in one entry, answered by an array). The
 * store is not thread-safe: one thread applies, queries and snapshots. */
#ifndef BALLOT_KV_H
#define BALLOT_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/fsm.h"
#include "ballot/limits.h"

typedef struct ballot_kv ballot_kv;

/* Makes an empty store. Returns 0 and *out, or BALLOT_ENOMEM. */
int ballot_kv_new(ballot_kv **out);

/* Frees the store and every key. NULL is allowed. */
void ballot_kv_free(ballot_kv *kv);

/* The store as a ballot_fsm (ctx = kv): apply is ballot_kv_apply (index and time are not
 * used: nothing in the store depends on them), query is ballot_kv_query_entry, snapshot
 * and restore are ballot_kv_snapshot and ballot_kv_restore. */
ballot_fsm ballot_kv_fsm(ballot_kv *kv);

/* --- Encoding commands into entries -----------------------------------------------------
 *
 * An entry is: u8 kind (1: one command, 2: a batch), u32 command count (1 for kind 1),
 * then per command u32 argc and argc x (u32 length, bytes); little-endian. */

/* Appends one command, argv[0..argc) with lengths lens (the bytes are copied), to out.
 * Returns 0; BALLOT_EINVAL for argc 0; BALLOT_ELIMIT past BALLOT_KV_ARGS_MAX arguments,
 * BALLOT_KV_ENTRY_MAX_BYTES bytes of entry, or out's limit; BALLOT_ENOMEM. On failure out
 * keeps its old contents. (Keys and values past their limits are refused when applied,
 * with the error reply Redis would give.) */
int ballot_kv_encode(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *out);

/* A batch being encoded into a buffer (MULTI ... EXEC). */
typedef struct ballot_kv_batch {
	ballot_buf *out; /* borrowed */
	size_t start;    /* offset of the batch header in out */
	uint32_t count;  /* commands added */
} ballot_kv_batch;

/* Starts a batch at the end of out; the batch borrows out until the entry is complete.
 * Returns 0, or BALLOT_ENOMEM / BALLOT_ELIMIT, after which the batch must not be used. */
int ballot_kv_batch_begin(ballot_kv_batch *batch, ballot_buf *out);

/* Adds one command to the batch; errors as ballot_kv_encode, plus BALLOT_ELIMIT past
 * BALLOT_KV_BATCH_MAX commands. On failure the batch keeps the commands it had. */
int ballot_kv_batch_add(ballot_kv_batch *batch, size_t argc, const char *const *argv,
			const size_t *lens);

/* --- Applying and reading ------------------------------------------------------------- */

/* Applies the entry cmd[0..len) and appends its RESP2 reply. A batch is applied whole, in
 * one step, and answered by an array of the commands' replies; as in Redis, a command that
 * fails at run time (INCR of a non-integer) answers its error inside the array and the
 * others still apply, while an unknown command or a wrong argument count anywhere in the
 * batch discards it whole ("-EXECABORT ..."). A malformed entry answers
 * "-ERR malformed command entry: ..." and changes nothing. Returns 0, or BALLOT_ENOMEM or
 * the reply buffer's BALLOT_ELIMIT, after which the store may hold part of the entry's
 * effect (see ballot_fsm.apply). */
int ballot_kv_apply(ballot_kv *kv, const void *cmd, size_t len, ballot_buf *reply);

/* Answers the read-only command argv[0..argc) from the current state, without changing
 * it, for linearizable reads served outside the log (ReadIndex). Accepts GET, MGET, EXISTS,
 * STRLEN, GETRANGE, SUBSTR, TTL, PTTL, EXPIRETIME, PEXPIRETIME, RANDOMKEY, DBSIZE, KEYS,
 * SCAN and TYPE; any other command answers
 * "-ERR command 'x' is not read-only: ...". Returns 0, or BALLOT_ENOMEM / BALLOT_ELIMIT
 * from the reply buffer. */
int ballot_kv_query(const ballot_kv *kv, size_t argc, const char *const *argv, const size_t *lens,
		    ballot_buf *reply);

/* ballot_kv_query on an encoded single command (ballot_kv_encode); a batch or malformed
 * entry answers an error reply. */
int ballot_kv_query_entry(const ballot_kv *kv, const void *cmd, size_t len, ballot_buf *reply);

/* Whether the command named name[0..len) (any case) is one ballot_kv_query accepts. */
bool ballot_kv_is_readonly(const char *name, size_t len);

/* Checks what Redis checks when it queues a command in MULTI: the command exists and has
 * an acceptable argument count. Returns 0, or BALLOT_EINVAL after appending Redis's error
 * reply ("-ERR unknown command ...", "-ERR wrong number of arguments for ...") to reply;
 * BALLOT_ENOMEM / BALLOT_ELIMIT if the reply could not be appended. */
int ballot_kv_check(size_t argc, const char *const *argv, const size_t *lens, ballot_buf *reply);

/* Keys in the store. */
uint64_t ballot_kv_count(const ballot_kv *kv);

/* --- Snapshots --------------------------------------------------------------------------
 *
 * Format: "BKVS", u8 version 1, u64 key count, then per key in increasing byte order of
 * the keys u32 key length, key, u32 value length, value; then u64 XXH3-64 of every byte
 * before it; little-endian. The same keys and values give the same bytes on every replica,
 * whatever history built them. */

/* Appends a snapshot of the store to out. Returns 0, BALLOT_ENOMEM or BALLOT_ELIMIT. */
int ballot_kv_snapshot(const ballot_kv *kv, ballot_buf *out);

/* Replaces the store's contents with the snapshot data[0..len). On failure the store keeps
 * its old contents: BALLOT_ECORRUPT (checksum, format, truncation, keys out of order, a key
 * or value past its limit) or BALLOT_ENOMEM, with em saying which. */
int ballot_kv_restore(ballot_kv *kv, const void *data, size_t len, ballot_errmsg *em);

#endif
