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

typedef struct ballot_rbuf {
	uint32_t refs;
	uint8_t external_;     /* private: the bytes are the caller's (ballot_rbuf_wrap) */
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

#endif
