/* Reference-counted immutable byte buffers, shared by the log, the disk writer and the network.
 *
 * A log entry's payload is written once and then read by many: the persisting driver, every
 * message that carries it, the state machine. Each holder takes a reference and drops it
 * when done; the last drop frees. Not thread-safe: references are taken and dropped on one
 * thread (the node's loop, or the simulator). */
#ifndef BALLOT_RBUF_H
#define BALLOT_RBUF_H

#include <stddef.h>
#include <stdint.h>

#define BALLOT_RBUF_ARENA_CHUNK_BYTES (4u * 1024 * 1024)

typedef struct ballot_rbuf {
	uint32_t refs;
	uint8_t external_;     /* private: 0 allocated, 1 the caller's bytes (ballot_rbuf_wrap), 2 in the arena */
	size_t len;
	unsigned char *data;   /* len bytes, right after this header unless wrapped */
} ballot_rbuf;

/* A new buffer of len bytes with one reference, contents copied from data (if not NULL).
 * Returns NULL if out of memory. */
ballot_rbuf *ballot_rbuf_new(const void *data, size_t len);

/* A buffer over len bytes the caller already holds (a mapped file, say), with one
 * reference; the last unref calls release(ctx). The bytes must stay unchanged until then.
 * Returns NULL if out of memory (release is then not called). */
ballot_rbuf *ballot_rbuf_wrap(const void *data, size_t len, void (*release)(void *ctx), void *ctx);

/* Takes one more reference; returns b. NULL is allowed and returned as is. */
ballot_rbuf *ballot_rbuf_ref(ballot_rbuf *b);

/* Drops one reference; frees on the last. NULL is allowed. */
void ballot_rbuf_unref(ballot_rbuf *b);

/* Like ballot_rbuf_new, for a buffer that lives long, goes about oldest first and that a
 * forked child never reads: a log entry's payload. Once ballot_rbuf_use_unforked_arena was
 * called, such buffers come from memory a forked child does not inherit (Linux: madvise
 * MADV_DONTFORK): chunks of BALLOT_RBUF_ARENA_CHUNK_BYTES filled in turn, each given back to
 * the system when its last buffer goes (a buffer of more than a quarter chunk has a mapping
 * of its own). Space is not reused within a chunk, hence "oldest first". For a runtime that
 * forks a child to write a snapshot of its state (ballotd): the fork copies no page table of
 * the log, most of a node's memory; the child must read no such buffer (it would fault).
 * Arena buffers may be made and dropped on any thread (a mutex guards the arena). */
ballot_rbuf *ballot_rbuf_new_unforked(const void *data, size_t len);
void ballot_rbuf_use_unforked_arena(void);

/* The arena's chunks now, and the bytes handed out in them (buffers freed in a chunk still
 * held count until the chunk goes): 0, 0 without it. For tests and INFO memory. */
void ballot_rbuf_arena_stats(size_t *chunks, size_t *bytes);

#endif
