/* Unit tests of the peer frame codec (ballot/frame.h, docs/peer-protocol.md).
 *
 * What they hold the codec to: every field of every frame survives a round trip; the bytes
 * are where docs/peer-protocol.md says; a stream decodes the same whatever the sizes of the
 * reads that deliver it; no single changed bit goes unnoticed; every length is checked
 * against the bytes left and against its named limit, at the limit and one past it; every
 * enumeration is validated; the encoder refuses what the decoder refuses.
 *
 * Run as `test_frame --write-corpus DIR` it writes the libFuzzer seed corpus (valid
 * frames) into DIR instead of testing: fuzz/corpus/frame/ was made that way. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "ballot/frame.h"
#include "ballot/rng.h"
#include "common/buf.h"

#define HDR BALLOT_FRAME_HEADER_BYTES

/* ---- building messages ------------------------------------------------------------------- */

static ballot_rbuf *rbuf_of(const char *s)
{
	ballot_rbuf *b = ballot_rbuf_new(s, strlen(s));
	assert_non_null(b);
	return b;
}

/* An rbuf of len bytes, a pattern that depends on seed (so misplaced bytes show). */
static ballot_rbuf *rbuf_pattern(size_t len, uint64_t seed)
{
	ballot_rbuf *b = ballot_rbuf_new(NULL, len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b->data[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
	return b;
}

static ballot_config *config_of(unsigned count)
{
	ballot_config *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->count = count;
	for (unsigned i = 0; i < count; i++) {
		c->members[i].id = 100 + i;
		c->members[i].role = i % 3 == 2 ? BALLOT_MEMBER_LEARNER : BALLOT_MEMBER_VOTER;
		snprintf(c->members[i].address, sizeof c->members[i].address, "10.0.0.%u:%u", i + 1, 7000 + i);
	}
	return c;
}

/* A message of the given type with every field set to a value of its own, all flags on, a
 * snapshot configuration, a chunk, and entries with data, with empty data and with none. */
static ballot_msg *full_msg(uint8_t type, uint64_t salt)
{
	ballot_msg *m = calloc(1, sizeof *m);
	assert_non_null(m);
	uint64_t v = salt * 1000 + 0x0102030405060700ull;
	m->type = type;
	m->from = ++v;
	m->to = ++v;
	m->term = ++v;
	m->last_index = ++v;
	m->last_term = ++v;
	m->transfer = true;
	m->success = true;
	m->prev_index = ++v;
	m->prev_term = ++v;
	m->commit = ++v;
	m->read_round = ++v;
	m->heartbeat = true;
	m->match_index = ++v;
	m->conflict_term = ++v;
	m->conflict_index = ++v;
	m->snap_index = ++v;
	m->snap_term = ++v;
	m->snap_config = config_of(3);
	m->offset = ++v;
	m->done = true;
	m->chunk = rbuf_of("a chunk of a snapshot");
	m->entry_count = 3;
	m->entries = calloc(3, sizeof *m->entries);
	assert_non_null(m->entries);
	const uint8_t types[3] = {BALLOT_ENTRY_NORMAL, BALLOT_ENTRY_CONFIG, BALLOT_ENTRY_NOOP};
	for (int i = 0; i < 3; i++) {
		m->entries[i].term = ++v;
		m->entries[i].index = ++v;
		m->entries[i].type = types[i];
	}
	m->entries[0].data = rbuf_of("SET k v");
	m->entries[1].data = ballot_rbuf_new(NULL, 0);
	m->entries[2].data = NULL;
	return m;
}

static ballot_msg *heartbeat(void)
{
	ballot_msg *m = calloc(1, sizeof *m);
	assert_non_null(m);
	*m = (ballot_msg){.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 7, .prev_index = 41, .prev_term = 7,
			  .commit = 40, .read_round = 3, .heartbeat = true};
	return m;
}

/* An append of n entries of len bytes each. */
static ballot_msg *append_of(size_t n, size_t len)
{
	ballot_msg *m = heartbeat();
	m->heartbeat = false;
	m->entry_count = n;
	m->entries = calloc(n ? n : 1, sizeof *m->entries);
	assert_non_null(m->entries);
	for (size_t i = 0; i < n; i++)
		m->entries[i] = (ballot_entry){.term = 7, .index = 42 + i, .type = BALLOT_ENTRY_NORMAL,
					       .data = rbuf_pattern(len, i)};
	return m;
}

static ballot_frame raft_frame(ballot_msg *m)
{
	return (ballot_frame){.type = BALLOT_FRAME_RAFT, .msg = m};
}

static ballot_frame hello_frame(uint64_t cluster, uint64_t node)
{
	return (ballot_frame){.type = BALLOT_FRAME_HELLO, .hello = {.cluster_id = cluster, .node_id = node}};
}

static ballot_frame forward_frame(uint8_t type, uint64_t id, int32_t error, ballot_rbuf *payload)
{
	return (ballot_frame){.type = type, .forward = {.request_id = id, .error = error, .payload = payload}};
}

/* ---- comparing ---------------------------------------------------------------------------- */

static void assert_rbuf_equal(const ballot_rbuf *a, const ballot_rbuf *b)
{
	if (a == NULL || b == NULL) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(a->len, b->len);
	if (a->len > 0)
		assert_memory_equal(a->data, b->data, a->len);
}

/* Payloads where NULL and empty are one (forward payloads). */
static void assert_payload_equal(const ballot_rbuf *a, const ballot_rbuf *b)
{
	size_t al = a ? a->len : 0, bl = b ? b->len : 0;
	assert_int_equal(al, bl);
	if (al > 0)
		assert_memory_equal(a->data, b->data, al);
}

static void assert_config_equal(const ballot_config *a, const ballot_config *b)
{
	if (a == NULL || b == NULL) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(a->count, b->count);
	for (unsigned i = 0; i < a->count; i++) {
		assert_int_equal(a->members[i].id, b->members[i].id);
		assert_int_equal(a->members[i].role, b->members[i].role);
		assert_string_equal(a->members[i].address, b->members[i].address);
	}
}

static void assert_msg_equal(const ballot_msg *a, const ballot_msg *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_int_equal(a->term, b->term);
	assert_int_equal(a->last_index, b->last_index);
	assert_int_equal(a->last_term, b->last_term);
	assert_int_equal(a->transfer, b->transfer);
	assert_int_equal(a->success, b->success);
	assert_int_equal(a->prev_index, b->prev_index);
	assert_int_equal(a->prev_term, b->prev_term);
	assert_int_equal(a->commit, b->commit);
	assert_int_equal(a->read_round, b->read_round);
	assert_int_equal(a->heartbeat, b->heartbeat);
	assert_int_equal(a->match_index, b->match_index);
	assert_int_equal(a->conflict_term, b->conflict_term);
	assert_int_equal(a->conflict_index, b->conflict_index);
	assert_int_equal(a->snap_index, b->snap_index);
	assert_int_equal(a->snap_term, b->snap_term);
	assert_config_equal(a->snap_config, b->snap_config);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->done, b->done);
	assert_rbuf_equal(a->chunk, b->chunk);
	assert_int_equal(a->entry_count, b->entry_count);
	for (size_t i = 0; i < a->entry_count; i++) {
		assert_int_equal(a->entries[i].term, b->entries[i].term);
		assert_int_equal(a->entries[i].index, b->entries[i].index);
		assert_int_equal(a->entries[i].type, b->entries[i].type);
		assert_rbuf_equal(a->entries[i].data, b->entries[i].data);
	}
}

static void assert_frame_equal(const ballot_frame *a, const ballot_frame *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case BALLOT_FRAME_HELLO:
		assert_int_equal(a->hello.cluster_id, b->hello.cluster_id);
		assert_int_equal(a->hello.node_id, b->hello.node_id);
		break;
	case BALLOT_FRAME_RAFT:
		assert_msg_equal(a->msg, b->msg);
		break;
	default:
		assert_int_equal(a->forward.request_id, b->forward.request_id);
		assert_int_equal(a->forward.error, b->forward.error);
		assert_payload_equal(a->forward.payload, b->forward.payload);
	}
}

/* ---- encoding and decoding helpers ------------------------------------------------------ */

static void encode_ok(const ballot_frame *f, ballot_buf *out)
{
	ballot_errmsg em = {{0}};
	size_t before = out->len;
	int rc = ballot_frame_encode(f, out, &em);
	if (rc != 0)
		fail_msg("encode: %s", em.text);
	assert_int_equal(out->len - before, ballot_frame_encoded_size(f));
}

/* Decodes exactly one whole frame from data[0..len). */
static void decode_ok(const void *data, size_t len, ballot_frame *out)
{
	ballot_errmsg em = {{0}};
	size_t consumed = 99;
	int rc = ballot_frame_decode(data, len, out, &consumed, &em);
	if (rc != 0)
		fail_msg("decode: %s", em.text);
	assert_int_equal(consumed, len);
	assert_int_not_equal(out->type, BALLOT_FRAME_NONE);
}

/* Decodes and expects the error code rc, with a message containing `says` (if not NULL). */
static void decode_fails(const void *data, size_t len, int want, const char *says)
{
	ballot_frame f;
	ballot_errmsg em = {{0}};
	size_t consumed = 99;
	int rc = ballot_frame_decode(data, len, &f, &consumed, &em);
	if (rc != want)
		fail_msg("decode gave %d (%s), expected %d (%s)", rc, rc ? em.text : "ok", want, says ? says : "");
	assert_int_equal(consumed, 0);
	assert_int_equal(f.type, BALLOT_FRAME_NONE);
	assert_null(f.msg);
	assert_null(f.forward.payload);
	if (says != NULL && strstr(em.text, says) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", em.text, says);
}

static void encode_fails(const ballot_frame *f, int want, const char *says)
{
	ballot_buf out;
	ballot_buf_init(&out, 0);
	ballot_buf_append(&out, "kept", 4);
	ballot_errmsg em = {{0}};
	int rc = ballot_frame_encode(f, &out, &em);
	if (rc != want)
		fail_msg("encode gave %d (%s), expected %d (%s)", rc, rc ? em.text : "ok", want, says);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "kept", 4);
	if (says != NULL && strstr(em.text, says) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", em.text, says);
	assert_int_equal(ballot_frame_encoded_size(f), 0);
	ballot_frame_iov iov;
	assert_int_equal(ballot_frame_encode_iov(f, &iov, NULL), want);
	assert_null(iov.iov);
	ballot_buf_free(&out);
}

/* Encodes f, decodes it back, compares, and checks the iovec form has the same bytes. */
static void round_trip(const ballot_frame *f)
{
	ballot_buf out;
	ballot_buf_init(&out, 0);
	encode_ok(f, &out);
	ballot_frame back;
	decode_ok(out.data, out.len, &back);
	assert_frame_equal(f, &back);
	if (f->type == BALLOT_FRAME_HELLO)
		assert_int_equal(back.hello.version, BALLOT_FRAME_VERSION);

	ballot_frame_iov iov;
	assert_int_equal(ballot_frame_encode_iov(f, &iov, NULL), 0);
	assert_int_equal(iov.bytes, out.len);
	size_t at = 0;
	for (size_t i = 0; i < iov.iov_count; i++) {
		assert_true(at + iov.iov[i].iov_len <= out.len);
		assert_memory_equal(iov.iov[i].iov_base, out.data + at, iov.iov[i].iov_len);
		at += iov.iov[i].iov_len;
	}
	assert_int_equal(at, out.len);
	ballot_frame_iov_free(&iov);
	ballot_frame_clear(&back);
	ballot_buf_free(&out);
}

/* Recomputes a frame's body length, header check and checksum after a test edited it, so
 * the decoder gets past the checksums to the check under test. Computed here from the
 * definitions in docs/peer-protocol.md, independently of the codec. */
static void reseal(ballot_buf *frame)
{
	unsigned char *h = (unsigned char *)frame->data;
	uint32_t body_len = (uint32_t)(frame->len - HDR);
	for (int i = 0; i < 4; i++)
		h[8 + i] = (unsigned char)(body_len >> (8 * i));
	uint32_t check = (uint32_t)XXH3_64bits(h, 12);
	for (int i = 0; i < 4; i++)
		h[12 + i] = (unsigned char)(check >> (8 * i));
	unsigned char *joined = malloc(16 + body_len + 1);
	assert_non_null(joined);
	memcpy(joined, h, 16);
	memcpy(joined + 16, h + HDR, body_len);
	uint64_t sum = XXH3_64bits(joined, 16 + body_len);
	free(joined);
	for (int i = 0; i < 8; i++)
		h[16 + i] = (unsigned char)(sum >> (8 * i));
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A frame of the given type around hand-written body bytes, sealed. */
static void frame_of_body(ballot_buf *out, uint8_t type, const void *body, size_t len)
{
	ballot_buf_clear(out);
	unsigned char h[HDR] = {'B', 'L', 'T', 'P', BALLOT_FRAME_VERSION, type};
	assert_int_equal(ballot_buf_append(out, h, sizeof h), 0);
	assert_int_equal(ballot_buf_append(out, body, len), 0);
	reseal(out);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void raft_round_trip_every_type_every_field(void **state)
{
	(void)state;
	for (uint8_t type = BALLOT_MSG_PREVOTE; type < BALLOT_MSG_TYPE_COUNT_; type++) {
		ballot_msg *m = full_msg(type, type);
		ballot_frame f = raft_frame(m);
		round_trip(&f);
		/* The same with every flag off, and without config, chunk or entries. */
		m->transfer = m->success = m->heartbeat = m->done = false;
		round_trip(&f);
		free(m->snap_config);
		m->snap_config = NULL;
		ballot_rbuf_unref(m->chunk);
		m->chunk = NULL;
		round_trip(&f);
		ballot_msg *bare = heartbeat();
		bare->type = type;
		ballot_frame fb = raft_frame(bare);
		round_trip(&fb);
		ballot_msg_free(bare);
		ballot_msg_free(m);
	}
	/* An empty chunk is not a missing one. */
	ballot_msg *m = heartbeat();
	m->type = BALLOT_MSG_SNAPSHOT;
	m->chunk = ballot_rbuf_new(NULL, 0);
	ballot_frame f = raft_frame(m);
	round_trip(&f);
	ballot_msg_free(m);
}

static void raft_round_trip_extremes(void **state)
{
	(void)state;
	ballot_msg *m = full_msg(BALLOT_MSG_APPEND, 1);
	m->from = m->to = m->term = m->commit = m->offset = UINT64_MAX;
	m->entries[0].index = UINT64_MAX;
	free(m->snap_config);
	m->snap_config = config_of(BALLOT_RAFT_MEMBERS_MAX);
	for (unsigned i = 0; i < BALLOT_RAFT_MEMBERS_MAX; i++) {
		memset(m->snap_config->members[i].address, 'a' + (int)i, BALLOT_ADDRESS_MAX - 1);
		m->snap_config->members[i].address[BALLOT_ADDRESS_MAX - 1] = '\0';
	}
	ballot_frame f = raft_frame(m);
	round_trip(&f);
	ballot_msg_free(m);

	ballot_msg *batch = append_of(64, 128);
	f = raft_frame(batch);
	round_trip(&f);
	ballot_msg_free(batch);
}

static void hello_round_trip_and_cluster_check(void **state)
{
	(void)state;
	ballot_frame f = hello_frame(0xfeedface12345678ull, 3);
	round_trip(&f);
	f.hello.cluster_id = 0;
	f.hello.node_id = UINT64_MAX;
	round_trip(&f);
	strcpy(f.hello.client_address, "127.0.0.1:6001");
	ballot_buf out;
	ballot_buf_init(&out, 0);
	encode_ok(&f, &out);
	assert_int_equal(out.len, HDR + BALLOT_FRAME_HELLO_BODY_BYTES + 14);
	ballot_frame back;
	size_t consumed = 0;
	ballot_errmsg dem;
	assert_int_equal(ballot_frame_decode(out.data, out.len, &back, &consumed, &dem), 0);
	assert_string_equal(back.hello.client_address, "127.0.0.1:6001");
	/* A length byte that disagrees with the body, and a NUL inside, are refused. */
	out.data[HDR + 17] = 13;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "client address of 13 bytes");
	out.data[HDR + 17] = 14;
	out.data[HDR + 20] = '\0';
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "NUL byte in the client address");
	/* An address that fills the field has no room for its NUL: the encoder refuses it. */
	memset(f.hello.client_address, 'x', sizeof f.hello.client_address);
	ballot_buf_clear(&out);
	assert_int_equal(ballot_frame_encode(&f, &out, &dem), BALLOT_ELIMIT);
	ballot_buf_free(&out);

	ballot_frame_hello h = {.cluster_id = 0xabc, .node_id = 3, .version = BALLOT_FRAME_VERSION};
	ballot_errmsg em;
	assert_int_equal(ballot_frame_hello_check(&h, 0xabc, &em), 0);
	assert_int_equal(ballot_frame_hello_check(&h, 0xdef, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "node 3"));
	assert_non_null(strstr(em.text, "0x0000000000000abc"));
	assert_non_null(strstr(em.text, "0x0000000000000def"));
}

static void forward_round_trips(void **state)
{
	(void)state;
	ballot_rbuf *cmd = rbuf_of("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
	ballot_frame f = forward_frame(BALLOT_FRAME_FORWARD_REQUEST, 77, 0, cmd);
	round_trip(&f);
	f.forward.payload = NULL;
	round_trip(&f);
	f = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, UINT64_MAX, 0, cmd);
	round_trip(&f);
	ballot_rbuf *detail = rbuf_of("not the leader; try node 2");
	f = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 78, BALLOT_ENOTLEADER, detail);
	round_trip(&f);
	f.forward.payload = NULL;
	round_trip(&f);
	f.forward.error = -(BALLOT_ERROR_COUNT_ - 1);
	round_trip(&f);
	ballot_rbuf *big = rbuf_pattern(100000, 5);
	f = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 79, 0, big);
	round_trip(&f);
	ballot_rbuf_unref(big);
	ballot_rbuf_unref(detail);
	ballot_rbuf_unref(cmd);
}

/* ---- the iovec form ----------------------------------------------------------------------- */

static void iov_references_large_payloads_and_outlives_the_message(void **state)
{
	(void)state;
	/* Payloads on both sides of the reference threshold, and more large ones than may be
	 * referenced. */
	size_t n = BALLOT_FRAME_IOV_REFS_MAX + 10;
	ballot_msg *m = append_of(n, BALLOT_FRAME_IOV_REF_MIN_BYTES);
	m->entries[1].data->len = BALLOT_FRAME_IOV_REF_MIN_BYTES - 1;
	m->chunk = rbuf_pattern(BALLOT_FRAME_IOV_REF_MIN_BYTES * 2, 99);
	ballot_frame f = raft_frame(m);
	round_trip(&f);

	ballot_buf flat;
	ballot_buf_init(&flat, 0);
	encode_ok(&f, &flat);
	ballot_frame_iov iov;
	assert_int_equal(ballot_frame_encode_iov(&f, &iov, NULL), 0);
	assert_true(iov.iov_count <= 2 * BALLOT_FRAME_IOV_REFS_MAX + 1);
	assert_int_equal(iov.ref_count, BALLOT_FRAME_IOV_REFS_MAX);
	assert_int_equal(m->chunk->refs, 2); /* the chunk comes first: referenced */
	assert_int_equal(m->entries[1].data->refs, 1); /* below the threshold: copied */
	assert_int_equal(m->entries[n - 1].data->refs, 1); /* past the reference cap: copied */
	/* The message may go at once: the iov keeps the payloads alive. */
	ballot_msg_free(m);
	size_t at = 0;
	for (size_t i = 0; i < iov.iov_count; i++) {
		assert_memory_equal(iov.iov[i].iov_base, flat.data + at, iov.iov[i].iov_len);
		at += iov.iov[i].iov_len;
	}
	assert_int_equal(at, flat.len);
	ballot_frame_iov_free(&iov);
	ballot_frame_iov_free(&iov); /* a zeroed iov is allowed */
	ballot_buf_free(&flat);
}

/* ---- the layout of docs/peer-protocol.md ------------------------------------------------ */

static void layout_matches_the_document(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);

	ballot_frame hello = hello_frame(0x1122334455667788ull, 0x0a);
	encode_ok(&hello, &out);
	const unsigned char want_hello_body[18] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x0a, 0, 0, 0,
						   0,    0,    0,    0,    BALLOT_FRAME_VERSION, 0};
	const unsigned char *h = (const unsigned char *)out.data;
	assert_int_equal(out.len, HDR + 18);
	assert_memory_equal(h, "BLTP", 4);
	assert_int_equal(h[4], 1);
	assert_int_equal(h[5], BALLOT_FRAME_HELLO);
	assert_int_equal(get_le(h + 6, 2), 0);
	assert_int_equal(get_le(h + 8, 4), 18);
	assert_int_equal(get_le(h + 12, 4), (uint32_t)XXH3_64bits(h, 12));
	assert_memory_equal(h + HDR, want_hello_body, 18);
	ballot_buf copy;
	ballot_buf_init(&copy, 0);
	ballot_buf_append(&copy, out.data, out.len);
	reseal(&copy);
	assert_memory_equal(copy.data, out.data, out.len); /* the checksum is as documented */
	ballot_buf_free(&copy);

	ballot_msg *m = full_msg(BALLOT_MSG_SNAPSHOT, 2);
	ballot_frame f = raft_frame(m);
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	h = (const unsigned char *)out.data;
	const unsigned char *b = h + HDR;
	assert_int_equal(h[5], BALLOT_FRAME_RAFT);
	assert_int_equal(b[0], BALLOT_MSG_SNAPSHOT);
	assert_int_equal(b[1], 0x3f); /* transfer, success, heartbeat, done, config, chunk */
	const uint64_t *fields[15] = {&m->from,        &m->to,          &m->term,        &m->last_index,
				      &m->last_term,   &m->prev_index,  &m->prev_term,   &m->commit,
				      &m->read_round,  &m->match_index, &m->conflict_term, &m->conflict_index,
				      &m->snap_index,  &m->snap_term,   &m->offset};
	for (int i = 0; i < 15; i++)
		assert_int_equal(get_le(b + 2 + 8 * i, 8), *fields[i]);
	assert_int_equal(get_le(b + 122, 4), 3);
	size_t at = 126;
	unsigned char config[BALLOT_CONFIG_ENCODED_MAX];
	size_t config_len = ballot_config_encode(m->snap_config, config);
	assert_int_equal(get_le(b + at, 2), config_len);
	assert_memory_equal(b + at + 2, config, config_len);
	at += 2 + config_len;
	assert_int_equal(get_le(b + at, 4), m->chunk->len);
	assert_memory_equal(b + at + 4, m->chunk->data, m->chunk->len);
	at += 4 + m->chunk->len;
	for (size_t i = 0; i < 3; i++) {
		const ballot_entry *e = &m->entries[i];
		size_t len = e->data ? e->data->len : 0;
		assert_int_equal(get_le(b + at, 8), e->term);
		assert_int_equal(get_le(b + at + 8, 8), e->index);
		assert_int_equal(b[at + 16], e->type);
		assert_int_equal(b[at + 17], e->data ? 1 : 0);
		assert_int_equal(get_le(b + at + 18, 4), len);
		assert_memory_equal(b + at + 22, e->data ? e->data->data : (const unsigned char *)"", len);
		at += 22 + len;
	}
	assert_int_equal(HDR + at, out.len);
	ballot_msg_free(m);

	ballot_rbuf *detail = rbuf_of("no");
	ballot_frame fw = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 5, BALLOT_ENOTLEADER, detail);
	ballot_buf_clear(&out);
	encode_ok(&fw, &out);
	b = (const unsigned char *)out.data + HDR;
	assert_int_equal(out.len, HDR + 8 + 4 + 2);
	assert_int_equal(get_le(b, 8), 5);
	assert_int_equal((int32_t)(uint32_t)get_le(b + 8, 4), BALLOT_ENOTLEADER);
	assert_memory_equal(b + 12, "no", 2);
	ballot_rbuf_unref(detail);
	ballot_buf_free(&out);
}

/* ---- streams: incremental decoding ----------------------------------------------------- */

#define STREAM_FRAMES 8

typedef struct stream {
	ballot_frame frames[STREAM_FRAMES];
	ballot_rbuf *payloads[2];
	ballot_buf bytes;
} stream;

static void stream_init(stream *s)
{
	s->payloads[0] = rbuf_of("GET k");
	s->payloads[1] = rbuf_of("$1\r\nv\r\n");
	s->frames[0] = hello_frame(42, 1);
	s->frames[1] = raft_frame(heartbeat());
	s->frames[2] = raft_frame(full_msg(BALLOT_MSG_SNAPSHOT, 3));
	s->frames[3] = raft_frame(append_of(64, 128));
	s->frames[4] = forward_frame(BALLOT_FRAME_FORWARD_REQUEST, 9, 0, s->payloads[0]);
	s->frames[5] = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 9, 0, s->payloads[1]);
	s->frames[6] = raft_frame(append_of(2, 5000));
	s->frames[7] = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 10, BALLOT_ENOTLEADER, NULL);
	ballot_buf_init(&s->bytes, 0);
	for (int i = 0; i < STREAM_FRAMES; i++)
		encode_ok(&s->frames[i], &s->bytes);
}

static void stream_free(stream *s)
{
	for (int i = 0; i < STREAM_FRAMES; i++)
		ballot_msg_free(s->frames[i].msg);
	ballot_rbuf_unref(s->payloads[0]);
	ballot_rbuf_unref(s->payloads[1]);
	ballot_buf_free(&s->bytes);
}

/* Delivers the stream in reads of the sizes `next_read` picks into a connection buffer,
 * decoding after each read as a node would, and checks the frames come out whole, in order
 * and equal, and that a partial frame is never consumed. */
static void decode_stream_in_reads(const stream *s, size_t (*next_read)(ballot_rng *), ballot_rng *rng)
{
	ballot_buf in;
	ballot_buf_init(&in, 0);
	size_t sent = 0;
	int got = 0;
	while (sent < s->bytes.len) {
		size_t n = next_read(rng);
		if (n > s->bytes.len - sent)
			n = s->bytes.len - sent;
		assert_int_equal(ballot_buf_append(&in, s->bytes.data + sent, n), 0);
		sent += n;
		for (;;) {
			ballot_frame f;
			size_t consumed;
			ballot_errmsg em;
			int rc = ballot_frame_decode(in.data, in.len, &f, &consumed, &em);
			if (rc != 0)
				fail_msg("frame %d: %s", got + 1, em.text);
			if (consumed == 0) {
				assert_int_equal(f.type, BALLOT_FRAME_NONE);
				break;
			}
			assert_true(got < STREAM_FRAMES);
			assert_frame_equal(&s->frames[got], &f);
			got++;
			ballot_frame_clear(&f);
			ballot_buf_consume(&in, consumed);
		}
	}
	assert_int_equal(got, STREAM_FRAMES);
	assert_int_equal(in.len, 0);
	ballot_buf_free(&in);
}

static size_t one_byte(ballot_rng *rng)
{
	(void)rng;
	return 1;
}

static size_t random_read(ballot_rng *rng)
{
	/* Mostly small reads, sometimes large ones. */
	return ballot_rng_below(rng, 4) == 0 ? 1 + ballot_rng_below(rng, 20000) : 1 + ballot_rng_below(rng, 300);
}

static void decodes_a_stream_one_byte_at_a_time(void **state)
{
	(void)state;
	stream s;
	stream_init(&s);
	decode_stream_in_reads(&s, one_byte, NULL);
	stream_free(&s);
}

static void decodes_a_stream_in_random_reads(void **state)
{
	(void)state;
	stream s;
	stream_init(&s);
	for (uint64_t seed = 1; seed <= 50; seed++) {
		ballot_rng rng;
		ballot_rng_seed(&rng, seed);
		decode_stream_in_reads(&s, random_read, &rng);
	}
	stream_free(&s);
}

static void truncated_frames_wait_for_more(void **state)
{
	(void)state;
	stream s;
	stream_init(&s);
	size_t at = 0;
	for (int i = 0; i < STREAM_FRAMES; i++) {
		size_t len = ballot_frame_encoded_size(&s.frames[i]);
		const char *frame = s.bytes.data + at;
		for (size_t cut = 0; cut < len; cut++) {
			ballot_frame f;
			size_t consumed = 99, need = 99;
			ballot_errmsg em;
			assert_int_equal(ballot_frame_decode(frame, cut, &f, &consumed, &em), 0);
			assert_int_equal(consumed, 0);
			assert_int_equal(f.type, BALLOT_FRAME_NONE);
			assert_int_equal(ballot_frame_peek(frame, cut, &need, &em), 0);
			assert_int_equal(need, cut < HDR ? 0 : len);
		}
		at += len;
	}
	stream_free(&s);
}

/* ---- corruption ------------------------------------------------------------------------ */

static void bad_magic_is_refused_at_the_first_byte(void **state)
{
	(void)state;
	decode_fails("G", 1, BALLOT_ECORRUPT, "bad magic 47 (want \"BLTP\")");
	decode_fails("BX", 2, BALLOT_ECORRUPT, "bad magic 42 58 (want");
	decode_fails("GET / HTTP/1.1\r\n\r\n", 18, BALLOT_ECORRUPT, "not a ballot peer");
	decode_fails("BLTX", 4, BALLOT_ECORRUPT, "bad magic 42 4c 54 58");
	decode_fails("", 0, 0, NULL); /* nothing yet: wait */
	decode_fails("BLT", 3, 0, NULL);
}

static void other_version_is_refused_naming_both(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	ballot_frame f = hello_frame(1, 2);
	encode_ok(&f, &out);
	out.data[4] = 2;
	decode_fails(out.data, 5, BALLOT_EINVAL, "protocol version 2, this node speaks version 1");
	reseal(&out); /* a well-formed frame of version 2: still refused */
	decode_fails(out.data, out.len, BALLOT_EINVAL, "protocol version 2, this node speaks version 1");
	/* A HELLO body that names another version than its header. */
	out.data[4] = 1;
	out.data[HDR + 16] = 9;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "says version 9");
	ballot_buf_free(&out);
}

/* Flips every bit of a frame in turn, then every byte whole: each change must be refused
 * (or, which cannot happen with every byte covered, decode to the same frame). None may
 * leave the decoder waiting for more: a damaged length is caught by the header check. */
static void assert_every_flip_detected(const ballot_frame *orig)
{
	ballot_buf out;
	ballot_buf_init(&out, 0);
	encode_ok(orig, &out);
	unsigned char *p = (unsigned char *)out.data;
	size_t detected = 0, same = 0;
	for (size_t i = 0; i < out.len; i++) {
		for (int bit = 0; bit <= 8; bit++) {
			unsigned char mask = bit < 8 ? (unsigned char)(1u << bit) : 0xff;
			p[i] ^= mask;
			ballot_frame f;
			size_t consumed;
			ballot_errmsg em;
			int rc = ballot_frame_decode(p, out.len, &f, &consumed, &em);
			if (rc < 0) {
				detected++;
			} else {
				if (consumed == 0)
					fail_msg("byte %zu ^ 0x%02x: decoder waits for more bytes", i, mask);
				assert_frame_equal(orig, &f);
				ballot_frame_clear(&f);
				same++;
			}
			p[i] ^= mask;
		}
	}
	assert_int_equal(detected + same, out.len * 9);
	assert_int_equal(same, 0);
	ballot_buf_free(&out);
}

static void every_flipped_bit_is_detected(void **state)
{
	(void)state;
	ballot_frame hello = hello_frame(5, 6);
	assert_every_flip_detected(&hello);
	ballot_msg *m = full_msg(BALLOT_MSG_SNAPSHOT, 4);
	ballot_frame raft = raft_frame(m);
	assert_every_flip_detected(&raft);
	ballot_msg_free(m);
	m = append_of(4, 100);
	raft = raft_frame(m);
	assert_every_flip_detected(&raft);
	ballot_msg_free(m);
	ballot_rbuf *payload = rbuf_of("a forwarded command");
	ballot_frame fw = forward_frame(BALLOT_FRAME_FORWARD_REQUEST, 1, 0, payload);
	assert_every_flip_detected(&fw);
	fw = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 1, BALLOT_EBUSY, payload);
	assert_every_flip_detected(&fw);
	ballot_rbuf_unref(payload);
}

static void checksum_and_header_check_mismatches_are_corrupt(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	ballot_msg *m = heartbeat();
	ballot_frame f = raft_frame(m);
	encode_ok(&f, &out);
	out.data[HDR + 30] ^= 0x10; /* a body byte: the checksum catches it */
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "corrupted in transit");
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "checksum 0x");
	out.data[HDR + 30] ^= 0x10;
	out.data[9] ^= 0x01; /* the body length: the header check catches it at once */
	decode_fails(out.data, HDR, BALLOT_ECORRUPT, "header check");
	ballot_msg_free(m);
	ballot_buf_free(&out);
}

/* ---- structure: lengths that disagree with the body, bad enumerations ------------------ */

/* A valid heartbeat frame's bytes, to edit. */
static void heartbeat_bytes(ballot_buf *out)
{
	ballot_msg *m = heartbeat();
	ballot_frame f = raft_frame(m);
	ballot_buf_clear(out);
	encode_ok(&f, out);
	ballot_msg_free(m);
}

static unsigned char *body_of(ballot_buf *b)
{
	return (unsigned char *)b->data + HDR;
}

static void header_fields_are_validated(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	for (unsigned type = 0; type <= 255; type += (type == 0 ? 5 : 250)) {
		heartbeat_bytes(&out);
		out.data[5] = (char)type;
		reseal(&out);
		decode_fails(out.data, out.len, BALLOT_ECORRUPT, "type");
	}
	heartbeat_bytes(&out);
	out.data[6] = 0x04;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "flags 0x0004");
	heartbeat_bytes(&out);
	out.data[7] = 0x80;
	reseal(&out);
	decode_fails(out.data, HDR, BALLOT_ECORRUPT, "flags 0x8000");

	/* Bodies shorter than their type's fixed part, or a HELLO of the wrong size. */
	unsigned char zeros[200] = {0};
	frame_of_body(&out, BALLOT_FRAME_RAFT, zeros, BALLOT_FRAME_MSG_FIXED_BYTES - 1);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "shorter than 126");
	frame_of_body(&out, BALLOT_FRAME_HELLO, zeros, 17);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "shorter than 18");
	frame_of_body(&out, BALLOT_FRAME_HELLO, zeros, 18 + BALLOT_ADDRESS_MAX);
	decode_fails(out.data, HDR, BALLOT_ECORRUPT, "longer than 81");
	frame_of_body(&out, BALLOT_FRAME_FORWARD_REQUEST, zeros, 7);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "shorter than 8");
	frame_of_body(&out, BALLOT_FRAME_FORWARD_RESPONSE, zeros, 11);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "shorter than 12");
	ballot_buf_free(&out);
}

static void lengths_must_agree_with_the_body(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);

	/* More entries than the body holds. */
	heartbeat_bytes(&out);
	put_le(body_of(&out) + 122, 1, 4);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "1 entries cannot fit");

	/* An entry's data running past the end, and bytes after the last entry. */
	ballot_msg *m = append_of(2, 10);
	ballot_frame f = raft_frame(m);
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	size_t second = HDR + 126 + 22 + 10;
	put_le((unsigned char *)out.data + second + 18, 11, 4);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "entry 2 of 2 of 11 bytes, 10 left");
	put_le((unsigned char *)out.data + second + 18, 9, 4);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "1 bytes after the last entry");
	/* An entry without data must have length 0; unknown entry flags. */
	put_le((unsigned char *)out.data + second + 18, 10, 4);
	out.data[second + 17] = 0;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "flags 0x00 and 10 bytes");
	out.data[second + 17] = 3;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "flags 0x03");
	ballot_msg_free(m);

	/* A configuration or chunk length past the body's end. */
	m = heartbeat();
	m->snap_config = config_of(1);
	f = raft_frame(m);
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	unsigned char *b = body_of(&out);
	uint64_t config_len = get_le(b + 126, 2);
	put_le(b + 126, config_len + 1, 2);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "left in the body");
	out.len = HDR + 126 + 1; /* not even the length whole */
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "configuration length past the body's end");
	free(m->snap_config);
	m->snap_config = NULL;
	m->chunk = rbuf_of("xyz");
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	put_le(body_of(&out) + 126, 4, 4);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "snapshot chunk of 4 bytes, 3 left");
	out.len = HDR + 126 + 3;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "chunk length past the body's end");
	ballot_msg_free(m);
	ballot_buf_free(&out);
}

static void enumerations_are_validated(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 0);

	/* Message types, and message flags this version does not define. */
	const uint8_t bad_msg_types[] = {0, BALLOT_MSG_TYPE_COUNT_, 255};
	for (size_t i = 0; i < sizeof bad_msg_types; i++) {
		heartbeat_bytes(&out);
		body_of(&out)[0] = bad_msg_types[i];
		reseal(&out);
		decode_fails(out.data, out.len, BALLOT_ECORRUPT, "message type");
	}
	heartbeat_bytes(&out);
	body_of(&out)[1] = 0x40;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "message flags 0x40");

	/* Entry types. */
	ballot_msg *m = append_of(1, 3);
	ballot_frame f = raft_frame(m);
	const uint8_t bad_entry_types[] = {0, BALLOT_ENTRY_NOOP + 1, 255};
	for (size_t i = 0; i < sizeof bad_entry_types; i++) {
		ballot_buf_clear(&out);
		encode_ok(&f, &out);
		body_of(&out)[126 + 16] = bad_entry_types[i];
		reseal(&out);
		decode_fails(out.data, out.len, BALLOT_ECORRUPT, "has type");
		m->entries[0].type = bad_entry_types[i];
		encode_fails(&f, BALLOT_EINVAL, "has type");
		m->entries[0].type = BALLOT_ENTRY_NORMAL;
	}
	ballot_msg_free(m);

	/* Member roles and ids, through ballot_config_decode; an address with a NUL byte. */
	m = heartbeat();
	m->snap_config = config_of(2);
	f = raft_frame(m);
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	size_t member2 = 126 + 2 + 4 + 10 + strlen(m->snap_config->members[0].address);
	const uint8_t bad_roles[] = {0, 3, 255};
	for (size_t i = 0; i < sizeof bad_roles; i++) {
		body_of(&out)[member2 + 8] = bad_roles[i];
		reseal(&out);
		decode_fails(out.data, out.len, BALLOT_ECORRUPT, "snapshot configuration: member 2 has id 101, role");
		m->snap_config->members[1].role = bad_roles[i];
		encode_fails(&f, BALLOT_EINVAL, "member 2");
	}
	m->snap_config->members[1].role = BALLOT_MEMBER_VOTER;
	ballot_buf_clear(&out);
	encode_ok(&f, &out);
	put_le(body_of(&out) + member2, 0, 8);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "member 2 has id 0");
	put_le(body_of(&out) + member2, 100, 8);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "member 100 twice");
	put_le(body_of(&out) + member2, 101, 8);
	body_of(&out)[member2 + 10] = 0;
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "address with a NUL byte");
	ballot_msg_free(m);

	/* HELLO: node id 0. Forward responses: error codes outside ballot_error. */
	ballot_frame hello = hello_frame(1, 0);
	encode_fails(&hello, BALLOT_EINVAL, "node id 0");
	unsigned char hello_body[18] = {[16] = BALLOT_FRAME_VERSION};
	frame_of_body(&out, BALLOT_FRAME_HELLO, hello_body, sizeof hello_body);
	decode_fails(out.data, out.len, BALLOT_ECORRUPT, "node id 0");
	const int64_t bad_codes[] = {1, -BALLOT_ERROR_COUNT_, INT32_MIN, INT32_MAX};
	for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
		unsigned char body[12] = {0};
		put_le(body + 8, (uint32_t)(int32_t)bad_codes[i], 4);
		frame_of_body(&out, BALLOT_FRAME_FORWARD_RESPONSE, body, sizeof body);
		decode_fails(out.data, out.len, BALLOT_ECORRUPT, "error code");
		ballot_frame fw = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 1, (int32_t)bad_codes[i], NULL);
		encode_fails(&fw, BALLOT_EINVAL, "error code");
	}
	ballot_frame req = forward_frame(BALLOT_FRAME_FORWARD_REQUEST, 1, BALLOT_EBUSY, NULL);
	encode_fails(&req, BALLOT_EINVAL, "requests carry none");

	/* Frames and messages the encoder cannot know. */
	ballot_frame none = {.type = BALLOT_FRAME_NONE};
	encode_fails(&none, BALLOT_EINVAL, "frame type 0 unknown");
	ballot_frame empty = raft_frame(NULL);
	encode_fails(&empty, BALLOT_EINVAL, "without a message");
	m = heartbeat();
	f = raft_frame(m);
	m->type = 0;
	encode_fails(&f, BALLOT_EINVAL, "message type 0");
	m->type = BALLOT_MSG_APPEND;
	m->entry_count = 2;
	encode_fails(&f, BALLOT_EINVAL, "no entry array");
	m->entry_count = 0;
	ballot_msg_free(m);
	ballot_buf_free(&out);
}

/* ---- limits: at each limit, and one past it ------------------------------------------------ */

/* Decodes a RAFT frame whose fixed part is a heartbeat's and whose body continues with
 * `tail` (entry_count and flags set by the caller through `count` and `flags`). */
static void decode_raft_tail(uint32_t count, uint8_t flags, const unsigned char *tail, size_t len, int want,
			     const char *says)
{
	ballot_buf out;
	ballot_buf_init(&out, 0);
	heartbeat_bytes(&out);
	unsigned char *b = body_of(&out);
	b[1] = flags;
	put_le(b + 122, count, 4);
	assert_int_equal(ballot_buf_append(&out, tail, len), 0);
	reseal(&out);
	decode_fails(out.data, out.len, want, says);
	ballot_buf_free(&out);
}

static void entries_per_message_at_and_past_the_limit(void **state)
{
	(void)state;
	ballot_msg *m = append_of(0, 0);
	free(m->entries);
	m->entry_count = BALLOT_RAFT_BATCH_ENTRIES_MAX;
	m->entries = calloc(BALLOT_RAFT_BATCH_ENTRIES_MAX + 1, sizeof *m->entries);
	assert_non_null(m->entries);
	for (size_t i = 0; i <= BALLOT_RAFT_BATCH_ENTRIES_MAX; i++)
		m->entries[i] = (ballot_entry){.term = 1, .index = i + 1, .type = BALLOT_ENTRY_NOOP};
	ballot_frame f = raft_frame(m);
	round_trip(&f);
	m->entry_count++;
	encode_fails(&f, BALLOT_ELIMIT, "4097 entries, at most 4096 (BALLOT_RAFT_BATCH_ENTRIES_MAX)");
	ballot_msg_free(m);

	/* On the wire: the count alone is refused, before any entry is read. */
	unsigned char tail[64] = {0};
	decode_raft_tail(BALLOT_RAFT_BATCH_ENTRIES_MAX + 1, 0, tail, sizeof tail, BALLOT_ELIMIT,
			 "BALLOT_RAFT_BATCH_ENTRIES_MAX");
	decode_raft_tail(UINT32_MAX, 0, tail, sizeof tail, BALLOT_ELIMIT, "BALLOT_RAFT_BATCH_ENTRIES_MAX");
}

static void entry_bytes_and_frame_bytes_at_and_past_the_limit(void **state)
{
	(void)state;
	/* One entry of BALLOT_RAFT_ENTRY_BYTES_MAX, and a second that fills the frame to exactly
	 * BALLOT_RAFT_MSG_BYTES_MAX. */
	size_t fixed = HDR + BALLOT_FRAME_MSG_FIXED_BYTES + 2 * BALLOT_FRAME_ENTRY_HEADER_BYTES;
	size_t filler = BALLOT_RAFT_MSG_BYTES_MAX - fixed - BALLOT_RAFT_ENTRY_BYTES_MAX;
	ballot_msg *m = append_of(0, 0);
	free(m->entries);
	m->entries = calloc(2, sizeof *m->entries);
	assert_non_null(m->entries);
	m->entry_count = 2;
	m->entries[0] = (ballot_entry){.term = 7, .index = 42, .type = BALLOT_ENTRY_NORMAL,
				       .data = rbuf_pattern(BALLOT_RAFT_ENTRY_BYTES_MAX, 1)};
	m->entries[1] = (ballot_entry){.term = 7, .index = 43, .type = BALLOT_ENTRY_NORMAL,
				       .data = rbuf_pattern(filler + 1, 2)};
	m->entries[1].data->len = filler;
	ballot_frame f = raft_frame(m);
	assert_int_equal(ballot_frame_encoded_size(&f), BALLOT_RAFT_MSG_BYTES_MAX);
	round_trip(&f);
	m->entries[1].data->len = filler + 1;
	encode_fails(&f, BALLOT_ELIMIT, "(BALLOT_RAFT_MSG_BYTES_MAX)");
	m->entries[1].data->len = filler;
	/* One byte more in the entry: refused by the entry limit. */
	ballot_rbuf *big = m->entries[0].data;
	m->entries[0].data = ballot_rbuf_new(NULL, (size_t)BALLOT_RAFT_ENTRY_BYTES_MAX + 1);
	assert_non_null(m->entries[0].data);
	encode_fails(&f, BALLOT_ELIMIT, "(BALLOT_RAFT_ENTRY_BYTES_MAX)");
	ballot_rbuf_unref(m->entries[0].data);
	m->entries[0].data = big;
	ballot_msg_free(m);

	/* On the wire: an entry claiming one byte past the limit is refused by its length, and
	 * a header claiming a body one byte past the frame limit by the header alone. */
	unsigned char entry[22] = {0};
	put_le(entry, 1, 8);
	put_le(entry + 8, 1, 8);
	entry[16] = BALLOT_ENTRY_NORMAL;
	entry[17] = 1;
	put_le(entry + 18, (uint64_t)BALLOT_RAFT_ENTRY_BYTES_MAX + 1, 4);
	decode_raft_tail(1, 0, entry, sizeof entry, BALLOT_ELIMIT, "(BALLOT_RAFT_ENTRY_BYTES_MAX)");

	ballot_buf out;
	ballot_buf_init(&out, 0);
	heartbeat_bytes(&out);
	out.len = HDR;
	size_t need;
	ballot_errmsg em;
	put_le((unsigned char *)out.data + 8, BALLOT_RAFT_MSG_BYTES_MAX - HDR, 4);
	put_le((unsigned char *)out.data + 12, (uint32_t)XXH3_64bits(out.data, 12), 4);
	assert_int_equal(ballot_frame_peek(out.data, out.len, &need, &em), 0);
	assert_int_equal(need, BALLOT_RAFT_MSG_BYTES_MAX);
	decode_fails(out.data, out.len, 0, NULL); /* whole header, no body yet: wait */
	put_le((unsigned char *)out.data + 8, BALLOT_RAFT_MSG_BYTES_MAX - HDR + 1, 4);
	put_le((unsigned char *)out.data + 12, (uint32_t)XXH3_64bits(out.data, 12), 4);
	decode_fails(out.data, out.len, BALLOT_ELIMIT, "(BALLOT_RAFT_MSG_BYTES_MAX)");
	put_le((unsigned char *)out.data + 8, UINT32_MAX, 4);
	put_le((unsigned char *)out.data + 12, (uint32_t)XXH3_64bits(out.data, 12), 4);
	decode_fails(out.data, out.len, BALLOT_ELIMIT, "(BALLOT_RAFT_MSG_BYTES_MAX)");
	ballot_buf_free(&out);
}

static void chunk_and_configuration_bytes_at_and_past_the_limit(void **state)
{
	(void)state;
	ballot_msg *m = heartbeat();
	m->type = BALLOT_MSG_SNAPSHOT;
	m->snap_config = config_of(BALLOT_RAFT_MEMBERS_MAX);
	m->chunk = rbuf_pattern(BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX + 1, 3);
	m->chunk->len = BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX;
	ballot_frame f = raft_frame(m);
	round_trip(&f);
	m->chunk->len++;
	encode_fails(&f, BALLOT_ELIMIT, "(BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)");
	m->chunk->len--;
	m->snap_config->count = BALLOT_RAFT_MEMBERS_MAX + 1;
	encode_fails(&f, BALLOT_ELIMIT, "17 members, at most 16");
	ballot_msg_free(m);

	unsigned char tail[8] = {0};
	put_le(tail, (uint64_t)BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX + 1, 4);
	decode_raft_tail(0, 0x20, tail, 4, BALLOT_ELIMIT, "(BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX)");
	put_le(tail, BALLOT_CONFIG_ENCODED_MAX + 1, 2);
	decode_raft_tail(0, 0x10, tail, 2, BALLOT_ELIMIT, "(BALLOT_CONFIG_ENCODED_MAX)");
	/* A configuration of one member too many, within the byte limit. */
	unsigned char config[2 + 4 + 17 * 10] = {0};
	put_le(config, sizeof config - 2, 2);
	put_le(config + 2, BALLOT_RAFT_MEMBERS_MAX + 1, 4);
	decode_raft_tail(0, 0x10, config, sizeof config, BALLOT_ECORRUPT, "17 members, at most 16");
}

static void forward_payload_at_and_past_the_limit(void **state)
{
	(void)state;
	ballot_rbuf *payload = rbuf_pattern(BALLOT_PEER_FORWARD_BYTES_MAX + 1, 4);
	payload->len = BALLOT_PEER_FORWARD_BYTES_MAX;
	ballot_frame f = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 1, 0, payload);
	round_trip(&f);
	payload->len++;
	encode_fails(&f, BALLOT_ELIMIT, "(BALLOT_PEER_FORWARD_BYTES_MAX)");
	f.type = BALLOT_FRAME_FORWARD_REQUEST;
	encode_fails(&f, BALLOT_ELIMIT, "(BALLOT_PEER_FORWARD_BYTES_MAX)");
	ballot_rbuf_unref(payload);

	/* On the wire, from the header alone. */
	const uint8_t types[2] = {BALLOT_FRAME_FORWARD_REQUEST, BALLOT_FRAME_FORWARD_RESPONSE};
	const size_t headers[2] = {8, 12};
	for (int i = 0; i < 2; i++) {
		unsigned char h[HDR] = {'B', 'L', 'T', 'P', BALLOT_FRAME_VERSION, types[i]};
		put_le(h + 8, headers[i] + BALLOT_PEER_FORWARD_BYTES_MAX, 4);
		put_le(h + 12, (uint32_t)XXH3_64bits(h, 12), 4);
		size_t need;
		ballot_errmsg em;
		assert_int_equal(ballot_frame_peek(h, HDR, &need, &em), 0);
		assert_int_equal(need, HDR + headers[i] + BALLOT_PEER_FORWARD_BYTES_MAX);
		assert_true(need <= BALLOT_PEER_FRAME_BYTES_MAX);
		put_le(h + 8, headers[i] + BALLOT_PEER_FORWARD_BYTES_MAX + 1, 4);
		put_le(h + 12, (uint32_t)XXH3_64bits(h, 12), 4);
		decode_fails(h, HDR, BALLOT_ELIMIT, "(BALLOT_PEER_FORWARD_BYTES_MAX)");
	}

	/* An error's detail text: at most BALLOT_ERRMSG_MAX - 1 bytes. */
	ballot_rbuf *detail = rbuf_pattern(BALLOT_ERRMSG_MAX, 5);
	detail->len = BALLOT_ERRMSG_MAX - 1;
	f = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 2, BALLOT_ENOTLEADER, detail);
	round_trip(&f);
	detail->len++;
	encode_fails(&f, BALLOT_ELIMIT, "error detail of 256 bytes, at most 255");
	f.forward.error = 0; /* a reply may be longer */
	round_trip(&f);
	ballot_buf out;
	ballot_buf_init(&out, 0);
	encode_ok(&f, &out);
	put_le((unsigned char *)out.data + HDR + 8, (uint32_t)BALLOT_ENOTLEADER, 4);
	reseal(&out);
	decode_fails(out.data, out.len, BALLOT_ELIMIT, "error detail of 256 bytes, at most 255");
	ballot_buf_free(&out);
	ballot_rbuf_unref(detail);
}

static void encode_past_the_buffer_limit_leaves_it_unchanged(void **state)
{
	(void)state;
	ballot_buf out;
	ballot_buf_init(&out, 100);
	ballot_buf_append(&out, "abc", 3);
	ballot_msg *m = heartbeat();
	ballot_frame f = raft_frame(m);
	ballot_errmsg em;
	assert_int_equal(ballot_frame_encode(&f, &out, &em), BALLOT_ELIMIT);
	assert_non_null(strstr(em.text, "output buffer's limit"));
	assert_int_equal(out.len, 3);
	assert_string_equal(out.data, "abc");
	ballot_msg_free(m);
	ballot_buf_free(&out);
}

/* ---- the seed corpus ---------------------------------------------------------------------- */

static int write_seed(const char *dir, const char *name, const ballot_buf *b)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		fprintf(stderr, "test_frame: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

static int write_corpus(const char *dir)
{
	ballot_buf all, one;
	ballot_buf_init(&all, 0);
	ballot_buf_init(&one, 0);
	ballot_rbuf *cmd = ballot_rbuf_new("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 22);
	ballot_rbuf *detail = ballot_rbuf_new("not the leader", 14);
	ballot_frame frames[16];
	const char *names[16];
	int n = 0;
	names[n] = "hello";
	frames[n++] = hello_frame(0x0123456789abcdefull, 2);
	for (uint8_t type = BALLOT_MSG_PREVOTE; type < BALLOT_MSG_TYPE_COUNT_; type++) {
		static const char *const msg_names[] = {"", "prevote", "prevote-resp", "vote", "vote-resp",
							"append", "append-resp", "snapshot", "snapshot-resp",
							"timeout-now"};
		names[n] = msg_names[type];
		frames[n++] = raft_frame(full_msg(type, type));
	}
	names[n] = "heartbeat";
	frames[n++] = raft_frame(heartbeat());
	names[n] = "append-16x32";
	frames[n++] = raft_frame(append_of(16, 32));
	names[n] = "forward-request";
	frames[n++] = forward_frame(BALLOT_FRAME_FORWARD_REQUEST, 7, 0, cmd);
	names[n] = "forward-response";
	frames[n++] = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 7, 0, cmd);
	names[n] = "forward-response-error";
	frames[n++] = forward_frame(BALLOT_FRAME_FORWARD_RESPONSE, 8, BALLOT_ENOTLEADER, detail);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		ballot_buf_clear(&one);
		if (ballot_frame_encode(&frames[i], &one, NULL) != 0 || ballot_frame_encode(&frames[i], &all, NULL) != 0)
			return 1;
		failed |= write_seed(dir, names[i], &one);
		ballot_msg_free(frames[i].msg);
	}
	failed |= write_seed(dir, "stream", &all);
	ballot_rbuf_unref(cmd);
	ballot_rbuf_unref(detail);
	ballot_buf_free(&all);
	ballot_buf_free(&one);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raft_round_trip_every_type_every_field),
		cmocka_unit_test(raft_round_trip_extremes),
		cmocka_unit_test(hello_round_trip_and_cluster_check),
		cmocka_unit_test(forward_round_trips),
		cmocka_unit_test(iov_references_large_payloads_and_outlives_the_message),
		cmocka_unit_test(layout_matches_the_document),
		cmocka_unit_test(decodes_a_stream_one_byte_at_a_time),
		cmocka_unit_test(decodes_a_stream_in_random_reads),
		cmocka_unit_test(truncated_frames_wait_for_more),
		cmocka_unit_test(bad_magic_is_refused_at_the_first_byte),
		cmocka_unit_test(other_version_is_refused_naming_both),
		cmocka_unit_test(every_flipped_bit_is_detected),
		cmocka_unit_test(checksum_and_header_check_mismatches_are_corrupt),
		cmocka_unit_test(header_fields_are_validated),
		cmocka_unit_test(lengths_must_agree_with_the_body),
		cmocka_unit_test(enumerations_are_validated),
		cmocka_unit_test(entries_per_message_at_and_past_the_limit),
		cmocka_unit_test(entry_bytes_and_frame_bytes_at_and_past_the_limit),
		cmocka_unit_test(chunk_and_configuration_bytes_at_and_past_the_limit),
		cmocka_unit_test(forward_payload_at_and_past_the_limit),
		cmocka_unit_test(encode_past_the_buffer_limit_leaves_it_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
