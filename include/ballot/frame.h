/* ballot peer protocol: the binary frames nodes exchange over TCP (docs/peer-protocol.md).
 *
 * Every frame is a fixed 24-byte header (magic, protocol version, frame type, flags, body
 * length, a check of the header alone, and an XXH3-64 checksum of header and body) and a
 * body. Four frame types:
 *   HELLO             the first frame on a connection, each way: cluster id, node id,
 *                     protocol version, so a node of another cluster or version is refused
 *                     with a clear error before anything else is read, and the address
 *                     the sender serves clients on (for redirects);
 *   RAFT              one ballot_msg, every field, entries and snapshot chunk included;
 *   FORWARD_REQUEST   a follower forwards a client's command to the leader: a request id
 *                     and an opaque payload;
 *   FORWARD_RESPONSE  the leader's answer: the request id, then an opaque reply payload, or
 *                     an error code with an optional detail text.
 * The node layer gives the forward payloads their meaning; this codec only carries bytes.
 *
 * Decoding treats every byte as hostile: it never reads past the bytes it is given, checks
 * each length against what is left and against the named limits (ballot/limits.h) before
 * using it, allocates only once a whole frame has arrived and passed its checksum (at most
 * a small multiple of the frame's size), and validates every enumeration. Any error means
 * the stream can no longer be trusted: the caller logs the message, closes that connection
 * and keeps serving the others (it is an operating error, never an assertion).
 *
 * The encoder refuses what the decoder would refuse, so every frame it writes decodes, and
 * encoding is canonical: a frame that decodes re-encodes to the same bytes. */
#ifndef BALLOT_FRAME_H
#define BALLOT_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ballot/error.h"
#include "ballot/limits.h"
#include "ballot/raft.h"
#include "ballot/rbuf.h"

/* ballot's growable byte buffer; its definition is in the library's src/common/buf.h. */
typedef struct ballot_buf ballot_buf;

/* The protocol version this build speaks (and the only one it accepts). */
#define BALLOT_FRAME_VERSION 1
/* Every frame starts with these four bytes. */
#define BALLOT_FRAME_MAGIC "BLTP"
#define BALLOT_FRAME_MAGIC_BYTES 4

/* Wire sizes (docs/peer-protocol.md has the byte-by-byte layout). */
#define BALLOT_FRAME_HEADER_BYTES 24
#define BALLOT_FRAME_HELLO_BODY_BYTES 18      /* cluster id, node id, version, address length */
#define BALLOT_FRAME_MSG_FIXED_BYTES 126      /* a RAFT body before config, chunk, entries */
#define BALLOT_FRAME_ENTRY_HEADER_BYTES 22    /* term, index, type, flags, data length */
#define BALLOT_FRAME_FORWARD_REQUEST_HEADER_BYTES 8   /* request id */
#define BALLOT_FRAME_FORWARD_RESPONSE_HEADER_BYTES 12 /* request id, error code */

typedef enum ballot_frame_type {
	BALLOT_FRAME_NONE = 0, /* not a frame: decode's "need more bytes" */
	BALLOT_FRAME_HELLO = 1,
	BALLOT_FRAME_RAFT = 2,
	BALLOT_FRAME_FORWARD_REQUEST = 3,
	BALLOT_FRAME_FORWARD_RESPONSE = 4,
	BALLOT_FRAME_TYPE_COUNT_
} ballot_frame_type;

/* The short name of a frame type ("hello"), "unknown" for others; never NULL. */
const char *ballot_frame_type_name(uint8_t type);

typedef struct ballot_frame_hello {
	uint64_t cluster_id; /* the cluster the sender belongs to; the node layer compares it */
	uint64_t node_id;    /* the sender; > 0 */
	uint8_t version;     /* decode: the sender's protocol version (always ours, as others are
			      * refused); encode: ignored, BALLOT_FRAME_VERSION is written */
	/* Where the sender serves clients ("host:port"), NUL-terminated; may be empty. On the
	 * wire: a length byte and the bytes, no NUL (a NUL inside is refused). */
	char client_address[BALLOT_ADDRESS_MAX];
} ballot_frame_hello;

typedef struct ballot_frame_forward {
	uint64_t request_id; /* chosen by the forwarding node; echoed by the response */
	/* FORWARD_RESPONSE only: 0 (payload is the reply), or a negative ballot_error code
	 * (BALLOT_ENOTLEADER...), payload then being an optional detail text of at most
	 * BALLOT_ERRMSG_MAX - 1 bytes. Always 0 in a FORWARD_REQUEST. */
	int32_t error;
	/* At most BALLOT_PEER_FORWARD_BYTES_MAX bytes. NULL is the empty payload; decode gives
	 * NULL for an empty payload. */
	ballot_rbuf *payload;
} ballot_frame_forward;

/* One frame. Encoding borrows everything it points to. A decoded frame owns what it points
 * to (msg, forward.payload) until ballot_frame_clear. */
typedef struct ballot_frame {
	uint8_t type;                 /* ballot_frame_type */
	ballot_frame_hello hello;     /* HELLO */
	ballot_msg *msg;              /* RAFT */
	ballot_frame_forward forward; /* FORWARD_REQUEST, FORWARD_RESPONSE */
} ballot_frame;

/* Frees what a decoded frame owns (ballot_msg_free on msg, an unref on forward.payload) and
 * zeroes it. A zeroed frame is allowed. Do not call it on a frame built for encoding whose
 * pointers the caller still owns. */
void ballot_frame_clear(ballot_frame *f);

/* ---- encoding ----------------------------------------------------------------------- */

/* The bytes ballot_frame_encode would append for f, header included; 0 if it would refuse
 * f (out's limit aside). */
size_t ballot_frame_encoded_size(const ballot_frame *f);

/* Appends one frame to out. f is borrowed. Returns 0, or, with out unchanged and em saying
 * what was wrong:
 *   BALLOT_EINVAL  a field the decoder would refuse: unknown frame, message or entry type,
 *                  an invalid snapshot configuration, node id 0, an error code in a request
 *                  or an unknown one in a response, entries NULL with entry_count > 0;
 *   BALLOT_ELIMIT  past a limit: entries in one message, bytes of an entry, a chunk, a
 *                  forward payload or a detail text, the whole frame, or out's own limit;
 *   BALLOT_ENOMEM. */
int ballot_frame_encode(const ballot_frame *f, ballot_buf *out, ballot_errmsg *em);

/* Payloads of at least this many bytes are sent by reference by ballot_frame_encode_iov;
 * smaller ones are copied, as a copy is cheaper than an iovec of their size. */
#define BALLOT_FRAME_IOV_REF_MIN_BYTES 4096
/* At most this many payloads are sent by reference in one frame (the rest are copied), so
 * a frame is at most 2 * BALLOT_FRAME_IOV_REFS_MAX + 1 iovecs, within IOV_MAX (1024). */
#define BALLOT_FRAME_IOV_REFS_MAX 256

/* A frame as a list of byte ranges for writev (or libuv's uv_write: on Unix a uv_buf_t has
 * the layout of a struct iovec). The ranges are the header, the fixed fields and the small
 * payloads, copied into one owned scratch block, interleaved with the large payloads
 * (entry data, snapshot chunks, forward payloads) in place, in the rbufs they live in.
 *
 * Ownership: the iov holds its own reference on every rbuf it points into, so the caller
 * may free the frame's message or payload at once; the bytes stay valid and unchanged
 * (rbufs are immutable) until ballot_frame_iov_free, which the caller calls once the write
 * completes. Like rbufs, not thread-safe: free it on the thread that made it. */
typedef struct ballot_frame_iov {
	struct iovec *iov; /* iov_count ranges; together exactly the bytes of ballot_frame_encode */
	size_t iov_count;
	size_t bytes; /* the sum of the ranges' lengths */
	/* private */
	unsigned char *scratch;
	ballot_rbuf **refs;
	size_t ref_count;
} ballot_frame_iov;

/* Builds the ranges of one frame into *out (overwritten). Checks and returns as
 * ballot_frame_encode (BALLOT_ELIMIT never for a buffer's limit); on failure *out is zeroed
 * and holds nothing. */
int ballot_frame_encode_iov(const ballot_frame *f, ballot_frame_iov *out, ballot_errmsg *em);

/* Drops the references and frees the ranges; zeroes *iov. A zeroed iov is allowed. */
void ballot_frame_iov_free(ballot_frame_iov *iov);

/* ---- decoding ----------------------------------------------------------------------- */

/* Checks the beginning of a stream, data[0..len), as far as it goes: the magic (a prefix
 * of it, if fewer than four bytes), the version, then, once the header is whole, its
 * check, type, flags and body length against the type's limit. Returns 0 with *frame_bytes
 * the size of the whole first frame (header included), or 0 if the header is not yet
 * whole; or an error as ballot_frame_decode. Lets a reader refuse garbage at once and
 * size its buffer for the frame. */
int ballot_frame_peek(const void *data, size_t len, size_t *frame_bytes, ballot_errmsg *em);

/* Decodes the first frame of data[0..len), a connection's unread input.
 *  - A whole, valid frame: returns 0, *consumed its length in bytes (drop that many from
 *    the input), *out the frame. out owns copies of every payload (data may be freed at
 *    once): the caller frees it with ballot_frame_clear (a RAFT message may instead be
 *    detached from out->msg and freed later with ballot_msg_free).
 *  - Only the beginning of a frame (whatever arrived passed ballot_frame_peek): returns 0
 *    with *consumed 0 and out->type BALLOT_FRAME_NONE; call again with more bytes.
 *  - Otherwise *consumed is 0, *out is zeroed and em says what was wrong: close the
 *    connection. BALLOT_ECORRUPT: bad magic (not a ballot peer, or the stream lost its
 *    framing), a header check or checksum that does not match, an unknown frame, message,
 *    entry or member type, flags this version does not define, lengths that disagree with
 *    the body, trailing bytes, a non-canonical encoding. BALLOT_EINVAL: a frame of another
 *    protocol version (em names both). BALLOT_ELIMIT: a length past a named limit
 *    (frame bytes, entries per message, entry bytes, chunk bytes, configuration bytes,
 *    forward payload bytes). BALLOT_ENOMEM.
 * The decoder checks the wire format, not Raft's rules: the core drops well-formed but
 * impossible messages itself (ballot_raft_step). */
int ballot_frame_decode(const void *data, size_t len, ballot_frame *out, size_t *consumed,
			ballot_errmsg *em);

/* For the node layer after a HELLO: returns 0 if the peer is of this cluster, else
 * BALLOT_EINVAL with em naming the peer and both cluster ids. */
int ballot_frame_hello_check(const ballot_frame_hello *h, uint64_t cluster_id, ballot_errmsg *em);

#endif
