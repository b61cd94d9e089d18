/* Peer frames: encoding into a buffer or into iovecs, and decoding of untrusted bytes (see
 * ballot/frame.h; docs/peer-protocol.md has the layout byte by byte).
 *
 * Encoding runs in two passes. plan_frame checks the frame against everything the decoder
 * will check and computes its exact size (and, for iovecs, which payloads go by
 * reference); write_body then writes the body through a sink that either copies every
 * byte into one contiguous frame or, for iovecs, copies the small parts into a scratch
 * block and points at the large payloads where they lie. Both paths share one body writer,
 * so their bytes cannot drift apart.
 *
 * Decoding checks the header (ballot_frame_peek) as soon as its bytes arrive, waits for the
 * whole frame, checks the checksum, and only then allocates. Every read goes through a
 * reader that cannot step past the body, and every length is compared with the named
 * limit and with the bytes left before it is used. */
#include "ballot/frame.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The whole of xxHash, inlined here: the streaming state lives on the stack (no ABI
 * dependency on its layout in the shared library), and the one-shot calls inline. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/assert.h"
#include "common/buf.h"

/* Header offsets. */
#define HDR_MAGIC 0
#define HDR_VERSION 4
#define HDR_TYPE 5
#define HDR_FLAGS 6
#define HDR_BODY_LEN 8
#define HDR_CHECK 12    /* low 32 bits of XXH3-64 of bytes [0, 12) */
#define HDR_CHECKSUM 16 /* XXH3-64 of bytes [0, 16) followed by the body */

/* RAFT body: the message flags byte. */
#define MSG_TRANSFER 0x01u
#define MSG_SUCCESS 0x02u
#define MSG_HEARTBEAT 0x04u
#define MSG_DONE 0x08u
#define MSG_HAS_CONFIG 0x10u
#define MSG_HAS_CHUNK 0x20u
#define MSG_FLAGS_KNOWN 0x3fu
/* RAFT body: an entry's flags byte. */
#define ENTRY_HAS_DATA 0x01u
#define ENTRY_FLAGS_KNOWN 0x01u

/* A configuration travels with a 16-bit length. */
#define CONFIG_LEN_BYTES 2
#define CHUNK_LEN_BYTES 4

_Static_assert(sizeof BALLOT_FRAME_MAGIC == BALLOT_FRAME_MAGIC_BYTES + 1, "four magic bytes");
_Static_assert(BALLOT_FRAME_MSG_FIXED_BYTES == 1 + 1 + 15 * 8 + 4, "the fixed RAFT fields");
_Static_assert(BALLOT_FRAME_ENTRY_HEADER_BYTES == 8 + 8 + 1 + 1 + 4, "the entry header");
_Static_assert(BALLOT_CONFIG_ENCODED_MAX <= UINT16_MAX, "configuration lengths are 16-bit");
_Static_assert(BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX <= UINT32_MAX, "chunk lengths are 32-bit");
_Static_assert(BALLOT_RAFT_BATCH_ENTRIES_MAX <= UINT32_MAX, "entry counts are 32-bit");
/* Every message the Raft core sends fits one RAFT frame: a single entry of the largest
 * size; a full batch (the core stops a batch at batch_bytes of payload, or sends one larger
 * entry alone); the largest snapshot chunk with its configuration. */
_Static_assert(BALLOT_FRAME_HEADER_BYTES + BALLOT_FRAME_MSG_FIXED_BYTES + BALLOT_FRAME_ENTRY_HEADER_BYTES +
			       (uint64_t)BALLOT_RAFT_ENTRY_BYTES_MAX <=
		       BALLOT_RAFT_MSG_BYTES_MAX,
	       "the largest entry fits a frame");
_Static_assert(BALLOT_FRAME_HEADER_BYTES + BALLOT_FRAME_MSG_FIXED_BYTES +
			       (uint64_t)BALLOT_RAFT_BATCH_ENTRIES_MAX * BALLOT_FRAME_ENTRY_HEADER_BYTES +
			       BALLOT_RAFT_BATCH_BYTES_MAX <=
		       BALLOT_RAFT_MSG_BYTES_MAX,
	       "the largest batch fits a frame");
_Static_assert(BALLOT_FRAME_HEADER_BYTES + BALLOT_FRAME_MSG_FIXED_BYTES + CONFIG_LEN_BYTES +
			       BALLOT_CONFIG_ENCODED_MAX + CHUNK_LEN_BYTES +
			       (uint64_t)BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX <=
		       BALLOT_RAFT_MSG_BYTES_MAX,
	       "the largest snapshot chunk fits a frame");
_Static_assert(BALLOT_FRAME_HEADER_BYTES + BALLOT_FRAME_FORWARD_RESPONSE_HEADER_BYTES +
			       (uint64_t)BALLOT_PEER_FORWARD_BYTES_MAX <=
		       BALLOT_PEER_FRAME_BYTES_MAX,
	       "the largest forward payload fits a frame");
_Static_assert(BALLOT_FRAME_IOV_REFS_MAX * 2 + 1 <= 1024, "a frame's iovecs stay within IOV_MAX");

/* ---- little-endian integers ------------------------------------------------------------ */

/* Written out byte by byte, not as loops: gcc -O2 then merges them into single loads and
 * stores (the loops stayed loops, and were a third of the encoding time). */

static void put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
	p[4] = (unsigned char)(v >> 32);
	p[5] = (unsigned char)(v >> 40);
	p[6] = (unsigned char)(v >> 48);
	p[7] = (unsigned char)(v >> 56);
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ---- checks shared by both sides --------------------------------------------------------- */

static uint32_t header_check(const unsigned char *header)
{
	return (uint32_t)XXH3_64bits(header, HDR_CHECK);
}

/* The checksum of a frame whose body lies in pieces: header bytes [0, 16), then the body. */
typedef struct checksum {
	XXH3_state_t state;
} checksum;

static void checksum_begin(checksum *c, const unsigned char *header)
{
	XXH3_64bits_reset(&c->state);
	XXH3_64bits_update(&c->state, header, HDR_CHECKSUM);
}

static void checksum_add(checksum *c, const void *data, size_t len)
{
	XXH3_64bits_update(&c->state, data, len);
}

static uint64_t checksum_end(checksum *c)
{
	return XXH3_64bits_digest(&c->state);
}

static uint64_t frame_checksum(const unsigned char *header, const unsigned char *body, size_t body_len)
{
	checksum c;
	checksum_begin(&c, header);
	checksum_add(&c, body, body_len);
	return checksum_end(&c);
}

static bool valid_msg_type(uint8_t type)
{
	return type >= BALLOT_MSG_PREVOTE && type < BALLOT_MSG_TYPE_COUNT_;
}

static bool valid_entry_type(uint8_t type)
{
	return type >= BALLOT_ENTRY_NORMAL && type <= BALLOT_ENTRY_NOOP;
}

static bool valid_error_code(int64_t code)
{
	return code <= 0 && code > -(int64_t)BALLOT_ERROR_COUNT_;
}

static size_t rbuf_len(const ballot_rbuf *b)
{
	return b != NULL ? b->len : 0;
}

const char *ballot_frame_type_name(uint8_t type)
{
	switch (type) {
	case BALLOT_FRAME_HELLO: return "hello";
	case BALLOT_FRAME_RAFT: return "raft";
	case BALLOT_FRAME_FORWARD_REQUEST: return "forward request";
	case BALLOT_FRAME_FORWARD_RESPONSE: return "forward response";
	}
	return "unknown";
}

void ballot_frame_clear(ballot_frame *f)
{
	if (f == NULL)
		return;
	ballot_msg_free(f->msg);
	ballot_rbuf_unref(f->forward.payload);
	memset(f, 0, sizeof *f);
}

int ballot_frame_hello_check(const ballot_frame_hello *h, uint64_t cluster_id, ballot_errmsg *em)
{
	if (h->cluster_id != cluster_id)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "node %" PRIu64 " belongs to cluster 0x%016" PRIx64 ", this node to cluster 0x%016" PRIx64
				     ": is that node configured for another cluster?",
				     h->node_id, h->cluster_id, cluster_id);
	return 0;
}

/* ---- encoding: the plan ---------------------------------------------------------------- */

/* What the encoder learned about a frame before writing it. */
typedef struct frame_plan {
	uint64_t body_bytes;
	/* For iovecs: payloads sent by reference, and their bytes. */
	size_t ref_count;
	uint64_t ref_bytes;
	size_t config_bytes; /* 0: no configuration */
	unsigned char config[BALLOT_CONFIG_ENCODED_MAX]; /* last: plan_frame does not clear it */
} frame_plan;

/* Whether a payload of len bytes goes by reference, given the references so far. The
 * planner and the writer both ask it, in body order, so they agree. */
static bool take_ref(size_t len, size_t *refs)
{
	if (len < BALLOT_FRAME_IOV_REF_MIN_BYTES || *refs >= BALLOT_FRAME_IOV_REFS_MAX)
		return false;
	(*refs)++;
	return true;
}

static void plan_payload(frame_plan *plan, const ballot_rbuf *b)
{
	size_t len = rbuf_len(b);
	plan->body_bytes += len;
	if (take_ref(len, &plan->ref_count))
		plan->ref_bytes += len;
}

/* Encodes the snapshot configuration into the plan, refusing one the decoder would refuse:
 * the decoder's own check runs on the encoded bytes. */
static int plan_config(const ballot_config *c, frame_plan *plan, ballot_errmsg *em)
{
	if (c->count > BALLOT_RAFT_MEMBERS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "raft frame: snapshot configuration of %u members, at most %d",
				     c->count, BALLOT_RAFT_MEMBERS_MAX);
	plan->config_bytes = ballot_config_encode(c, plan->config);
	ballot_config check;
	ballot_errmsg cem;
	if (ballot_config_decode(plan->config, plan->config_bytes, &check, &cem) != 0)
		return ballot_errorf(em, BALLOT_EINVAL, "raft frame: snapshot %s", cem.text);
	return 0;
}

static int plan_msg(const ballot_msg *m, frame_plan *plan, ballot_errmsg *em)
{
	if (m == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "raft frame without a message");
	if (!valid_msg_type(m->type))
		return ballot_errorf(em, BALLOT_EINVAL, "raft frame: message type %u unknown", m->type);
	if (m->entry_count > BALLOT_RAFT_BATCH_ENTRIES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "raft frame: %zu entries, at most %d (BALLOT_RAFT_BATCH_ENTRIES_MAX)",
				     m->entry_count, BALLOT_RAFT_BATCH_ENTRIES_MAX);
	if (m->entry_count > 0 && m->entries == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "raft frame: %zu entries but no entry array", m->entry_count);
	plan->body_bytes = BALLOT_FRAME_MSG_FIXED_BYTES;
	if (m->snap_config != NULL) {
		int rc = plan_config(m->snap_config, plan, em);
		if (rc != 0)
			return rc;
		plan->body_bytes += CONFIG_LEN_BYTES + plan->config_bytes;
	}
	if (m->chunk != NULL) {
		if (m->chunk->len > BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)
			return ballot_errorf(em, BALLOT_ELIMIT,
					     "raft frame: snapshot chunk of %zu bytes, at most %u (BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)",
					     m->chunk->len, BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX);
		plan->body_bytes += CHUNK_LEN_BYTES;
		plan_payload(plan, m->chunk);
	}
	for (size_t i = 0; i < m->entry_count; i++) {
		const ballot_entry *e = &m->entries[i];
		if (!valid_entry_type(e->type))
			return ballot_errorf(em, BALLOT_EINVAL, "raft frame: entry %zu (index %" PRIu64 ") has type %u",
					     i + 1, e->index, e->type);
		if (rbuf_len(e->data) > BALLOT_RAFT_ENTRY_BYTES_MAX)
			return ballot_errorf(em, BALLOT_ELIMIT,
					     "raft frame: entry %zu (index %" PRIu64 ") of %zu bytes, at most %u (BALLOT_RAFT_ENTRY_BYTES_MAX)",
					     i + 1, e->index, e->data->len, BALLOT_RAFT_ENTRY_BYTES_MAX);
		plan->body_bytes += BALLOT_FRAME_ENTRY_HEADER_BYTES;
		plan_payload(plan, e->data);
	}
	if (BALLOT_FRAME_HEADER_BYTES + plan->body_bytes > BALLOT_RAFT_MSG_BYTES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "raft frame of %" PRIu64 " bytes, at most %u (BALLOT_RAFT_MSG_BYTES_MAX)",
				     BALLOT_FRAME_HEADER_BYTES + plan->body_bytes, BALLOT_RAFT_MSG_BYTES_MAX);
	return 0;
}

static int plan_forward(uint8_t type, const ballot_frame_forward *fw, frame_plan *plan, ballot_errmsg *em)
{
	size_t len = rbuf_len(fw->payload);
	const char *name = ballot_frame_type_name(type);
	if (len > BALLOT_PEER_FORWARD_BYTES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "%s frame: payload of %zu bytes, at most %u (BALLOT_PEER_FORWARD_BYTES_MAX)",
				     name, len, BALLOT_PEER_FORWARD_BYTES_MAX);
	if (type == BALLOT_FRAME_FORWARD_REQUEST) {
		if (fw->error != 0)
			return ballot_errorf(em, BALLOT_EINVAL, "forward request frame with error code %" PRId32 ": requests carry none",
					     fw->error);
		plan->body_bytes = BALLOT_FRAME_FORWARD_REQUEST_HEADER_BYTES;
	} else {
		if (!valid_error_code(fw->error))
			return ballot_errorf(em, BALLOT_EINVAL, "forward response frame: error code %" PRId32 " unknown",
					     fw->error);
		if (fw->error != 0 && len > BALLOT_ERRMSG_MAX - 1)
			return ballot_errorf(em, BALLOT_ELIMIT, "forward response frame: error detail of %zu bytes, at most %d",
					     len, BALLOT_ERRMSG_MAX - 1);
		plan->body_bytes = BALLOT_FRAME_FORWARD_RESPONSE_HEADER_BYTES;
	}
	plan_payload(plan, fw->payload);
	return 0;
}

static int plan_frame(const ballot_frame *f, frame_plan *plan, ballot_errmsg *em)
{
	memset(plan, 0, offsetof(frame_plan, config));
	switch (f->type) {
	case BALLOT_FRAME_HELLO:
		if (f->hello.node_id == 0)
			return ballot_errorf(em, BALLOT_EINVAL, "hello frame: node id 0 (node ids start at 1)");
		if (memchr(f->hello.client_address, '\0', sizeof f->hello.client_address) == NULL)
			return ballot_errorf(em, BALLOT_ELIMIT, "hello frame: client address of %d bytes or more",
					     BALLOT_ADDRESS_MAX);
		plan->body_bytes = BALLOT_FRAME_HELLO_BODY_BYTES + strlen(f->hello.client_address);
		return 0;
	case BALLOT_FRAME_RAFT:
		return plan_msg(f->msg, plan, em);
	case BALLOT_FRAME_FORWARD_REQUEST:
	case BALLOT_FRAME_FORWARD_RESPONSE:
		return plan_forward(f->type, &f->forward, plan, em);
	}
	return ballot_errorf(em, BALLOT_EINVAL, "frame type %u unknown", f->type);
}

size_t ballot_frame_encoded_size(const ballot_frame *f)
{
	frame_plan plan;
	if (plan_frame(f, &plan, NULL) != 0)
		return 0;
	return BALLOT_FRAME_HEADER_BYTES + (size_t)plan.body_bytes;
}

/* ---- encoding: the writer ---------------------------------------------------------------- */

/* Where body bytes go: copied to p, or (iovec mode) referenced in place. */
typedef struct sink {
	unsigned char *p; /* the next byte to copy to */
	struct iovec *iov; /* NULL: copy everything */
	size_t iov_count;
	unsigned char *segment; /* the start of the scratch bytes not yet in an iovec */
	ballot_rbuf **refs;
	size_t ref_count;
} sink;

/* Writers over a local cursor: each returns the cursor past what it wrote. (Kept out of the
 * sink so the compiler need not reload the sink's pointer after every byte it stores: a
 * store through unsigned char * may alias anything.) */
static unsigned char *w_u8(unsigned char *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static unsigned char *w_u16(unsigned char *p, uint16_t v)
{
	put_u16(p, v);
	return p + 2;
}

static unsigned char *w_u32(unsigned char *p, uint32_t v)
{
	put_u32(p, v);
	return p + 4;
}

static unsigned char *w_u64(unsigned char *p, uint64_t v)
{
	put_u64(p, v);
	return p + 8;
}

static void sink_bytes(sink *s, const void *data, size_t len)
{
	if (len > 0)
		memcpy(s->p, data, len);
	s->p += len;
}

/* Ends the current run of scratch bytes as one iovec. */
static void sink_close_segment(sink *s)
{
	if (s->p == s->segment)
		return;
	s->iov[s->iov_count++] = (struct iovec){.iov_base = s->segment, .iov_len = (size_t)(s->p - s->segment)};
	s->segment = s->p;
}

static void sink_payload(sink *s, ballot_rbuf *b)
{
	size_t len = rbuf_len(b);
	if (s->iov == NULL || !take_ref(len, &s->ref_count)) {
		sink_bytes(s, len > 0 ? b->data : NULL, len);
		return;
	}
	sink_close_segment(s);
	s->iov[s->iov_count++] = (struct iovec){.iov_base = b->data, .iov_len = len};
	s->refs[s->ref_count - 1] = ballot_rbuf_ref(b);
}

static void write_msg(sink *s, const ballot_msg *m, const frame_plan *plan)
{
	uint8_t flags = (uint8_t)((m->transfer ? MSG_TRANSFER : 0) | (m->success ? MSG_SUCCESS : 0) |
				  (m->heartbeat ? MSG_HEARTBEAT : 0) | (m->done ? MSG_DONE : 0) |
				  (m->snap_config != NULL ? MSG_HAS_CONFIG : 0) | (m->chunk != NULL ? MSG_HAS_CHUNK : 0));
	unsigned char *p = s->p;
	p = w_u8(p, m->type);
	p = w_u8(p, flags);
	p = w_u64(p, m->from);
	p = w_u64(p, m->to);
	p = w_u64(p, m->term);
	p = w_u64(p, m->last_index);
	p = w_u64(p, m->last_term);
	p = w_u64(p, m->prev_index);
	p = w_u64(p, m->prev_term);
	p = w_u64(p, m->commit);
	p = w_u64(p, m->read_round);
	p = w_u64(p, m->match_index);
	p = w_u64(p, m->conflict_term);
	p = w_u64(p, m->conflict_index);
	p = w_u64(p, m->snap_index);
	p = w_u64(p, m->snap_term);
	p = w_u64(p, m->offset);
	p = w_u32(p, (uint32_t)m->entry_count);
	if (m->snap_config != NULL) {
		p = w_u16(p, (uint16_t)plan->config_bytes);
		memcpy(p, plan->config, plan->config_bytes);
		p += plan->config_bytes;
	}
	s->p = p;
	if (m->chunk != NULL) {
		s->p = w_u32(s->p, (uint32_t)m->chunk->len);
		sink_payload(s, m->chunk);
	}
	for (size_t i = 0; i < m->entry_count; i++) {
		const ballot_entry *e = &m->entries[i];
		p = s->p;
		p = w_u64(p, e->term);
		p = w_u64(p, e->index);
		p = w_u8(p, e->type);
		p = w_u8(p, e->data != NULL ? ENTRY_HAS_DATA : 0);
		s->p = w_u32(p, (uint32_t)rbuf_len(e->data));
		sink_payload(s, e->data);
	}
}

static void write_body(sink *s, const ballot_frame *f, const frame_plan *plan)
{
	switch (f->type) {
	case BALLOT_FRAME_HELLO:
		s->p = w_u64(s->p, f->hello.cluster_id);
		s->p = w_u64(s->p, f->hello.node_id);
		s->p = w_u8(s->p, BALLOT_FRAME_VERSION);
		s->p = w_u8(s->p, (uint8_t)strlen(f->hello.client_address));
		sink_bytes(s, f->hello.client_address, strlen(f->hello.client_address));
		return;
	case BALLOT_FRAME_RAFT:
		write_msg(s, f->msg, plan);
		return;
	case BALLOT_FRAME_FORWARD_REQUEST:
	case BALLOT_FRAME_FORWARD_RESPONSE:
		s->p = w_u64(s->p, f->forward.request_id);
		if (f->type == BALLOT_FRAME_FORWARD_RESPONSE)
			s->p = w_u32(s->p, (uint32_t)f->forward.error);
		sink_payload(s, f->forward.payload);
		return;
	}
	BALLOT_UNREACHABLE();
}

/* Writes the header but its checksum (which needs the body). */
static void write_header(unsigned char *h, uint8_t type, uint32_t body_len)
{
	memcpy(h + HDR_MAGIC, BALLOT_FRAME_MAGIC, BALLOT_FRAME_MAGIC_BYTES);
	h[HDR_VERSION] = BALLOT_FRAME_VERSION;
	h[HDR_TYPE] = type;
	put_u16(h + HDR_FLAGS, 0);
	put_u32(h + HDR_BODY_LEN, body_len);
	put_u32(h + HDR_CHECK, header_check(h));
}

int ballot_frame_encode(const ballot_frame *f, ballot_buf *out, ballot_errmsg *em)
{
	frame_plan plan;
	int rc = plan_frame(f, &plan, em);
	if (rc != 0)
		return rc;
	size_t total = BALLOT_FRAME_HEADER_BYTES + (size_t)plan.body_bytes;
	rc = ballot_buf_reserve(out, total);
	if (rc != 0)
		return ballot_errorf(em, rc, "%s frame of %zu bytes: %s", ballot_frame_type_name(f->type), total,
				     rc == BALLOT_ENOMEM ? "out of memory" : "past the output buffer's limit");
	unsigned char *h = (unsigned char *)out->data + out->len;
	unsigned char *body = h + BALLOT_FRAME_HEADER_BYTES;
	sink s = {.p = body};
	write_body(&s, f, &plan);
	BALLOT_ASSERT(s.p == body + plan.body_bytes);
	write_header(h, f->type, (uint32_t)plan.body_bytes);
	put_u64(h + HDR_CHECKSUM, frame_checksum(h, body, (size_t)plan.body_bytes));
	out->len += total;
	out->data[out->len] = '\0';
	return 0;
}

void ballot_frame_iov_free(ballot_frame_iov *iov)
{
	if (iov == NULL)
		return;
	for (size_t i = 0; i < iov->ref_count; i++)
		ballot_rbuf_unref(iov->refs[i]);
	free(iov->refs);
	free(iov->iov);
	free(iov->scratch);
	memset(iov, 0, sizeof *iov);
}

int ballot_frame_encode_iov(const ballot_frame *f, ballot_frame_iov *out, ballot_errmsg *em)
{
	memset(out, 0, sizeof *out);
	frame_plan plan;
	int rc = plan_frame(f, &plan, em);
	if (rc != 0)
		return rc;
	size_t total = BALLOT_FRAME_HEADER_BYTES + (size_t)plan.body_bytes;
	size_t scratch_bytes = total - (size_t)plan.ref_bytes;
	size_t iov_max = 2 * plan.ref_count + 1;
	out->scratch = malloc(scratch_bytes);
	out->iov = malloc(iov_max * sizeof *out->iov);
	out->refs = plan.ref_count > 0 ? malloc(plan.ref_count * sizeof *out->refs) : NULL;
	if (out->scratch == NULL || out->iov == NULL || (plan.ref_count > 0 && out->refs == NULL)) {
		ballot_frame_iov_free(out);
		return ballot_errorf(em, BALLOT_ENOMEM, "%s frame of %zu bytes: out of memory",
				     ballot_frame_type_name(f->type), total);
	}
	unsigned char *h = out->scratch;
	sink s = {.p = h + BALLOT_FRAME_HEADER_BYTES, .iov = out->iov, .segment = h, .refs = out->refs};
	write_body(&s, f, &plan);
	sink_close_segment(&s);
	BALLOT_ASSERT(s.p == h + scratch_bytes);
	BALLOT_ASSERT(s.ref_count == plan.ref_count);
	BALLOT_ASSERT(s.iov_count <= iov_max);
	out->iov_count = s.iov_count;
	out->ref_count = s.ref_count;
	out->bytes = total;
	write_header(h, f->type, (uint32_t)plan.body_bytes);

	/* The first range starts with the header; the checksum covers its first 16 bytes and
	 * everything after the header. */
	checksum c;
	checksum_begin(&c, h);
	BALLOT_ASSERT(out->iov[0].iov_base == h);
	BALLOT_ASSERT(out->iov[0].iov_len >= BALLOT_FRAME_HEADER_BYTES);
	checksum_add(&c, h + BALLOT_FRAME_HEADER_BYTES, out->iov[0].iov_len - BALLOT_FRAME_HEADER_BYTES);
	for (size_t i = 1; i < out->iov_count; i++)
		checksum_add(&c, out->iov[i].iov_base, out->iov[i].iov_len);
	put_u64(h + HDR_CHECKSUM, checksum_end(&c));
	return 0;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* A cursor over a frame's body that cannot step past its end. */
typedef struct reader {
	const unsigned char *p;
	size_t left;
} reader;

static bool read_u8(reader *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	r->p += 1;
	r->left -= 1;
	return true;
}

static bool read_u16(reader *r, uint16_t *v)
{
	if (r->left < 2)
		return false;
	*v = get_u16(r->p);
	r->p += 2;
	r->left -= 2;
	return true;
}

static bool read_u32(reader *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = get_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return true;
}

static bool read_u64(reader *r, uint64_t *v)
{
	if (r->left < 8)
		return false;
	*v = get_u64(r->p);
	r->p += 8;
	r->left -= 8;
	return true;
}

static bool read_bytes(reader *r, size_t n, const unsigned char **bytes)
{
	if (r->left < n)
		return false;
	*bytes = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* The smallest and largest body a frame type may declare. */
static int check_body_len(uint8_t type, uint32_t body_len, ballot_errmsg *em)
{
	const char *name = ballot_frame_type_name(type);
	uint64_t min = 0, max = 0;
	const char *limit = NULL;
	switch (type) {
	case BALLOT_FRAME_HELLO:
		min = BALLOT_FRAME_HELLO_BODY_BYTES;
		max = min + BALLOT_ADDRESS_MAX - 1;
		break;
	case BALLOT_FRAME_RAFT:
		min = BALLOT_FRAME_MSG_FIXED_BYTES;
		max = BALLOT_RAFT_MSG_BYTES_MAX - BALLOT_FRAME_HEADER_BYTES;
		limit = "BALLOT_RAFT_MSG_BYTES_MAX";
		break;
	case BALLOT_FRAME_FORWARD_REQUEST:
		min = BALLOT_FRAME_FORWARD_REQUEST_HEADER_BYTES;
		max = min + BALLOT_PEER_FORWARD_BYTES_MAX;
		limit = "BALLOT_PEER_FORWARD_BYTES_MAX";
		break;
	case BALLOT_FRAME_FORWARD_RESPONSE:
		min = BALLOT_FRAME_FORWARD_RESPONSE_HEADER_BYTES;
		max = min + BALLOT_PEER_FORWARD_BYTES_MAX;
		limit = "BALLOT_PEER_FORWARD_BYTES_MAX";
		break;
	default:
		BALLOT_UNREACHABLE();
	}
	if (body_len < min)
		return ballot_errorf(em, BALLOT_ECORRUPT, "%s frame: body of %" PRIu32 " bytes, shorter than %" PRIu64, name,
				     body_len, min);
	if (limit == NULL && body_len > max)
		return ballot_errorf(em, BALLOT_ECORRUPT, "%s frame: body of %" PRIu32 " bytes, longer than %" PRIu64, name,
				     body_len, max);
	if (body_len > max)
		return ballot_errorf(em, BALLOT_ELIMIT, "%s frame: body of %" PRIu32 " bytes, at most %" PRIu64 " (%s)", name,
				     body_len, max, limit);
	return 0;
}

int ballot_frame_peek(const void *data, size_t len, size_t *frame_bytes, ballot_errmsg *em)
{
	const unsigned char *p = data;
	*frame_bytes = 0;
	size_t n = len < BALLOT_FRAME_MAGIC_BYTES ? len : BALLOT_FRAME_MAGIC_BYTES;
	if (n > 0 && memcmp(p, BALLOT_FRAME_MAGIC, n) != 0) {
		/* The bytes that came, in hex: "47 45 54 20". */
		static const char hex[] = "0123456789abcdef";
		char got[3 * BALLOT_FRAME_MAGIC_BYTES];
		for (size_t i = 0; i < n; i++) {
			got[3 * i] = hex[p[i] >> 4];
			got[3 * i + 1] = hex[p[i] & 15];
			got[3 * i + 2] = ' ';
		}
		got[3 * n - 1] = '\0';
		return ballot_errorf(em, BALLOT_ECORRUPT,
				     "peer frame: bad magic %s (want \"%s\"): not a ballot peer, or the stream lost its framing",
				     got, BALLOT_FRAME_MAGIC);
	}
	if (len <= HDR_VERSION)
		return 0;
	if (p[HDR_VERSION] != BALLOT_FRAME_VERSION)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "peer frame: protocol version %u, this node speaks version %d: every node of a cluster must run a release speaking the same version",
				     p[HDR_VERSION], BALLOT_FRAME_VERSION);
	if (len < BALLOT_FRAME_HEADER_BYTES)
		return 0;
	uint32_t stored = get_u32(p + HDR_CHECK), computed = header_check(p);
	if (stored != computed)
		return ballot_errorf(em, BALLOT_ECORRUPT,
				     "peer frame: header check 0x%08" PRIx32 ", computed 0x%08" PRIx32 ": the header was corrupted in transit",
				     stored, computed);
	uint8_t type = p[HDR_TYPE];
	if (type == BALLOT_FRAME_NONE || type >= BALLOT_FRAME_TYPE_COUNT_)
		return ballot_errorf(em, BALLOT_ECORRUPT, "peer frame: type %u unknown (1..%d)", type,
				     BALLOT_FRAME_TYPE_COUNT_ - 1);
	uint16_t flags = get_u16(p + HDR_FLAGS);
	if (flags != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "%s frame: flags 0x%04x, version %d defines none",
				     ballot_frame_type_name(type), flags, BALLOT_FRAME_VERSION);
	uint32_t body_len = get_u32(p + HDR_BODY_LEN);
	int rc = check_body_len(type, body_len, em);
	if (rc != 0)
		return rc;
	*frame_bytes = BALLOT_FRAME_HEADER_BYTES + (size_t)body_len;
	return 0;
}

static int decode_hello(reader *r, ballot_frame_hello *h, ballot_errmsg *em)
{
	/* The body length was checked against the header: these reads cannot fail. */
	uint8_t address_len = 0;
	bool whole = read_u64(r, &h->cluster_id) && read_u64(r, &h->node_id) && read_u8(r, &h->version) &&
		     read_u8(r, &address_len);
	BALLOT_ASSERT(whole);
	if (h->node_id == 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "hello frame: node id 0");
	if (h->version != BALLOT_FRAME_VERSION)
		return ballot_errorf(em, BALLOT_ECORRUPT, "hello frame: says version %u in a version %d frame", h->version,
				     BALLOT_FRAME_VERSION);
	const unsigned char *address = NULL;
	if (address_len != r->left || !read_bytes(r, address_len, &address))
		return ballot_errorf(em, BALLOT_ECORRUPT, "hello frame: client address of %u bytes in %zu left",
				     address_len, r->left);
	if (address_len > 0 && memchr(address, '\0', address_len) != NULL)
		return ballot_errorf(em, BALLOT_ECORRUPT, "hello frame: a NUL byte in the client address");
	if (address_len > 0)
		memcpy(h->client_address, address, address_len);
	h->client_address[address_len] = '\0';
	return 0;
}

static int decode_payload(reader *r, ballot_rbuf **out, const char *what, ballot_errmsg *em)
{
	*out = NULL;
	if (r->left == 0)
		return 0;
	*out = ballot_rbuf_new(r->p, r->left);
	if (*out == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "%s: out of memory for %zu bytes", what, r->left);
	r->p += r->left;
	r->left = 0;
	return 0;
}

static int decode_forward(uint8_t type, reader *r, ballot_frame_forward *fw, ballot_errmsg *em)
{
	const char *name = type == BALLOT_FRAME_FORWARD_REQUEST ? "forward request frame" : "forward response frame";
	/* The body length was checked against the header: these reads cannot fail. */
	bool whole = read_u64(r, &fw->request_id);
	BALLOT_ASSERT(whole);
	if (type == BALLOT_FRAME_FORWARD_RESPONSE) {
		uint32_t raw = 0;
		whole = read_u32(r, &raw);
		BALLOT_ASSERT(whole);
		int64_t code = raw <= INT32_MAX ? (int64_t)raw : (int64_t)raw - ((int64_t)1 << 32);
		if (!valid_error_code(code))
			return ballot_errorf(em, BALLOT_ECORRUPT, "%s: error code %" PRId64 " unknown", name, code);
		fw->error = (int32_t)code;
		if (fw->error != 0 && r->left > BALLOT_ERRMSG_MAX - 1)
			return ballot_errorf(em, BALLOT_ELIMIT, "%s: error detail of %zu bytes, at most %d", name, r->left,
					     BALLOT_ERRMSG_MAX - 1);
	}
	return decode_payload(r, &fw->payload, name, em);
}

static int decode_config(reader *r, ballot_msg *m, ballot_errmsg *em)
{
	uint16_t len;
	const unsigned char *bytes;
	if (!read_u16(r, &len))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot configuration length past the body's end");
	if (len > BALLOT_CONFIG_ENCODED_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "raft frame: snapshot configuration of %u bytes, at most %d (BALLOT_CONFIG_ENCODED_MAX)",
				     len, BALLOT_CONFIG_ENCODED_MAX);
	if (!read_bytes(r, len, &bytes))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot configuration of %u bytes, %zu left in the body",
				     len, r->left);
	m->snap_config = malloc(sizeof *m->snap_config);
	if (m->snap_config == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "raft frame: out of memory for a configuration");
	ballot_errmsg cem;
	if (ballot_config_decode(bytes, len, m->snap_config, &cem) != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot %s", cem.text);
	/* Canonical: an address holding a NUL byte decodes, but would not encode back the same. */
	unsigned char again[BALLOT_CONFIG_ENCODED_MAX];
	size_t again_len = ballot_config_encode(m->snap_config, again);
	if (again_len != len || memcmp(again, bytes, len) != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot configuration has an address with a NUL byte");
	return 0;
}

static int decode_chunk(reader *r, ballot_msg *m, ballot_errmsg *em)
{
	uint32_t len;
	const unsigned char *bytes;
	if (!read_u32(r, &len))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot chunk length past the body's end");
	if (len > BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "raft frame: snapshot chunk of %" PRIu32 " bytes, at most %u (BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)",
				     len, BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX);
	if (!read_bytes(r, len, &bytes))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: snapshot chunk of %" PRIu32 " bytes, %zu left in the body",
				     len, r->left);
	m->chunk = ballot_rbuf_new(bytes, len);
	if (m->chunk == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "raft frame: out of memory for a %" PRIu32 "-byte chunk", len);
	return 0;
}

static int decode_entry(reader *r, ballot_entry *e, size_t i, size_t count, ballot_errmsg *em)
{
	uint8_t flags;
	uint32_t len;
	if (!read_u64(r, &e->term) || !read_u64(r, &e->index) || !read_u8(r, &e->type) || !read_u8(r, &flags) ||
	    !read_u32(r, &len))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: entry %zu of %zu past the body's end", i + 1, count);
	if (!valid_entry_type(e->type))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: entry %zu of %zu (index %" PRIu64 ") has type %u (%d..%d)",
				     i + 1, count, e->index, e->type, BALLOT_ENTRY_NORMAL, BALLOT_ENTRY_NOOP);
	if ((flags & ~ENTRY_FLAGS_KNOWN) != 0 || (!(flags & ENTRY_HAS_DATA) && len != 0))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: entry %zu of %zu has flags 0x%02x and %" PRIu32 " bytes",
				     i + 1, count, flags, len);
	if (len > BALLOT_RAFT_ENTRY_BYTES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "raft frame: entry %zu of %zu (index %" PRIu64 ") of %" PRIu32 " bytes, at most %u (BALLOT_RAFT_ENTRY_BYTES_MAX)",
				     i + 1, count, e->index, len, BALLOT_RAFT_ENTRY_BYTES_MAX);
	const unsigned char *bytes;
	if (!read_bytes(r, len, &bytes))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: entry %zu of %zu of %" PRIu32 " bytes, %zu left in the body",
				     i + 1, count, len, r->left);
	if (!(flags & ENTRY_HAS_DATA))
		return 0;
	e->data = ballot_rbuf_new_unforked(bytes, len); /* a log entry's */
	if (e->data == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "raft frame: out of memory for entry %zu of %zu", i + 1, count);
	return 0;
}

/* The fixed fields; the reads cannot fail (the body is at least BALLOT_FRAME_MSG_FIXED_BYTES). */
static void read_fixed(reader *r, ballot_msg *m, uint8_t *flags, uint32_t *entry_count)
{
	bool whole = read_u8(r, &m->type) && read_u8(r, flags) && read_u64(r, &m->from) && read_u64(r, &m->to) &&
		     read_u64(r, &m->term) && read_u64(r, &m->last_index) && read_u64(r, &m->last_term) &&
		     read_u64(r, &m->prev_index) && read_u64(r, &m->prev_term) && read_u64(r, &m->commit) &&
		     read_u64(r, &m->read_round) && read_u64(r, &m->match_index) && read_u64(r, &m->conflict_term) &&
		     read_u64(r, &m->conflict_index) && read_u64(r, &m->snap_index) && read_u64(r, &m->snap_term) &&
		     read_u64(r, &m->offset) && read_u32(r, entry_count);
	BALLOT_ASSERT(whole);
}

static int decode_msg_into(reader *r, ballot_msg *m, ballot_errmsg *em)
{
	uint8_t flags;
	uint32_t count;
	read_fixed(r, m, &flags, &count);
	if (!valid_msg_type(m->type))
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: message type %u unknown (1..%d)", m->type,
				     BALLOT_MSG_TYPE_COUNT_ - 1);
	if ((flags & ~MSG_FLAGS_KNOWN) != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: message flags 0x%02x, version %d defines 0x%02x", flags,
				     BALLOT_FRAME_VERSION, MSG_FLAGS_KNOWN);
	m->transfer = flags & MSG_TRANSFER;
	m->success = flags & MSG_SUCCESS;
	m->heartbeat = flags & MSG_HEARTBEAT;
	m->done = flags & MSG_DONE;
	if (count > BALLOT_RAFT_BATCH_ENTRIES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "raft frame: %" PRIu32 " entries, at most %d (BALLOT_RAFT_BATCH_ENTRIES_MAX)",
				     count, BALLOT_RAFT_BATCH_ENTRIES_MAX);
	/* Before allocating the array: the entries' headers alone must fit what is left. */
	if ((uint64_t)count * BALLOT_FRAME_ENTRY_HEADER_BYTES > r->left)
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: %" PRIu32 " entries cannot fit the %zu bytes left", count,
				     r->left);
	int rc;
	if ((flags & MSG_HAS_CONFIG) && (rc = decode_config(r, m, em)) != 0)
		return rc;
	if ((flags & MSG_HAS_CHUNK) && (rc = decode_chunk(r, m, em)) != 0)
		return rc;
	if (count > 0) {
		m->entries = calloc(count, sizeof *m->entries);
		if (m->entries == NULL)
			return ballot_errorf(em, BALLOT_ENOMEM, "raft frame: out of memory for %" PRIu32 " entries", count);
		m->entry_count = count; /* every data NULL until decoded: ballot_msg_free copes */
	}
	for (size_t i = 0; i < count; i++) {
		if ((rc = decode_entry(r, &m->entries[i], i, count, em)) != 0)
			return rc;
	}
	if (r->left != 0)
		return ballot_errorf(em, BALLOT_ECORRUPT, "raft frame: %zu bytes after the last entry", r->left);
	return 0;
}

static int decode_msg(reader *r, ballot_msg **out, ballot_errmsg *em)
{
	ballot_msg *m = calloc(1, sizeof *m);
	if (m == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "raft frame: out of memory for a message");
	int rc = decode_msg_into(r, m, em);
	if (rc != 0) {
		ballot_msg_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int ballot_frame_decode(const void *data, size_t len, ballot_frame *out, size_t *consumed, ballot_errmsg *em)
{
	memset(out, 0, sizeof *out);
	*consumed = 0;
	size_t frame_bytes;
	int rc = ballot_frame_peek(data, len, &frame_bytes, em);
	if (rc != 0)
		return rc;
	if (frame_bytes == 0 || len < frame_bytes)
		return 0;
	const unsigned char *h = data;
	const unsigned char *body = h + BALLOT_FRAME_HEADER_BYTES;
	size_t body_len = frame_bytes - BALLOT_FRAME_HEADER_BYTES;
	uint64_t stored = get_u64(h + HDR_CHECKSUM), computed = frame_checksum(h, body, body_len);
	if (stored != computed)
		return ballot_errorf(em, BALLOT_ECORRUPT,
				     "%s frame: checksum 0x%016" PRIx64 ", computed 0x%016" PRIx64 " over the header and %zu-byte body: corrupted in transit",
				     ballot_frame_type_name(h[HDR_TYPE]), stored, computed, body_len);
	uint8_t type = h[HDR_TYPE];
	reader r = {.p = body, .left = body_len};
	switch (type) {
	case BALLOT_FRAME_HELLO:
		rc = decode_hello(&r, &out->hello, em);
		break;
	case BALLOT_FRAME_RAFT:
		rc = decode_msg(&r, &out->msg, em);
		break;
	case BALLOT_FRAME_FORWARD_REQUEST:
	case BALLOT_FRAME_FORWARD_RESPONSE:
		rc = decode_forward(type, &r, &out->forward, em);
		break;
	default:
		BALLOT_UNREACHABLE();
	}
	if (rc != 0) {
		ballot_frame_clear(out);
		return rc;
	}
	BALLOT_ASSERT(r.left == 0);
	out->type = type;
	*consumed = frame_bytes;
	return 0;
}
