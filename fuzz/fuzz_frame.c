/* libFuzzer target for the peer frame decoder (ballot/frame.h).
 *
 * The input is decoded twice: as it is, a stream of frames read one after the other as a
 * connection would; and "sealed", as one frame whose body length, header check and
 * checksum are recomputed first, so that mutated bodies get past the checksum and reach
 * the body parser (unsealed, nearly every mutation would stop at the checksum).
 *
 * Beyond "no crash, no leak, no sanitizer report", every input must keep these:
 *   - a frame that decodes re-encodes to exactly the bytes it came from (the encoding is
 *     canonical), in one buffer and as iovecs, and decodes again to an equal frame;
 *   - a prefix of the input decodes to "need more bytes" or to the same outcome as the
 *     whole input (a reader never commits to a frame, or an error, too early);
 *   - an error leaves nothing behind and says something. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ballot/frame.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_frame: property broken: %s\n", what);
		abort();
	}
}

static bool rbuf_equal(const ballot_rbuf *a, const ballot_rbuf *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool config_equal(const ballot_config *a, const ballot_config *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->count != b->count)
		return false;
	for (unsigned i = 0; i < a->count; i++) {
		const ballot_member *x = &a->members[i], *y = &b->members[i];
		if (x->id != y->id || x->role != y->role || strcmp(x->address, y->address) != 0)
			return false;
	}
	return true;
}

static bool msg_equal(const ballot_msg *a, const ballot_msg *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
	    a->last_index != b->last_index || a->last_term != b->last_term || a->transfer != b->transfer ||
	    a->success != b->success || a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
	    a->commit != b->commit || a->read_round != b->read_round || a->heartbeat != b->heartbeat ||
	    a->match_index != b->match_index || a->conflict_term != b->conflict_term ||
	    a->conflict_index != b->conflict_index || a->snap_index != b->snap_index || a->snap_term != b->snap_term ||
	    a->offset != b->offset || a->done != b->done || a->entry_count != b->entry_count)
		return false;
	if (!config_equal(a->snap_config, b->snap_config) || !rbuf_equal(a->chunk, b->chunk))
		return false;
	for (size_t i = 0; i < a->entry_count; i++) {
		const ballot_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->term != y->term || x->index != y->index || x->type != y->type || !rbuf_equal(x->data, y->data))
			return false;
	}
	return true;
}

static bool frame_equal(const ballot_frame *a, const ballot_frame *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case BALLOT_FRAME_HELLO:
		return a->hello.cluster_id == b->hello.cluster_id && a->hello.node_id == b->hello.node_id &&
		       a->hello.version == b->hello.version;
	case BALLOT_FRAME_RAFT:
		return msg_equal(a->msg, b->msg);
	default:
		return a->forward.request_id == b->forward.request_id && a->forward.error == b->forward.error &&
		       rbuf_equal(a->forward.payload, b->forward.payload);
	}
}

/* A frame that decoded from bytes[0..len) must encode back to those bytes, both ways, and
 * decode again to an equal frame. */
static void check_round_trip(const ballot_frame *f, const uint8_t *bytes, size_t len)
{
	require(ballot_frame_encoded_size(f) == len, "encoded size is the decoded frame's size");
	ballot_buf out;
	ballot_buf_init(&out, 0);
	ballot_errmsg em;
	require(ballot_frame_encode(f, &out, &em) == 0, "a decoded frame encodes");
	require(out.len == len && memcmp(out.data, bytes, len) == 0, "a decoded frame re-encodes to its own bytes");

	ballot_frame again;
	size_t consumed;
	require(ballot_frame_decode(out.data, out.len, &again, &consumed, &em) == 0, "a re-encoded frame decodes");
	require(consumed == out.len, "a re-encoded frame is consumed whole");
	require(frame_equal(f, &again), "a re-encoded frame decodes to an equal frame");
	ballot_frame_clear(&again);

	ballot_frame_iov iov;
	require(ballot_frame_encode_iov(f, &iov, &em) == 0, "a decoded frame encodes as iovecs");
	require(iov.bytes == len, "the iovecs hold the frame's bytes");
	size_t at = 0;
	for (size_t i = 0; i < iov.iov_count; i++) {
		require(at + iov.iov[i].iov_len <= len, "the iovecs stay within the frame");
		require(memcmp(iov.iov[i].iov_base, bytes + at, iov.iov[i].iov_len) == 0, "the iovecs hold the same bytes");
		at += iov.iov[i].iov_len;
	}
	require(at == len, "the iovecs add up to the frame");
	ballot_frame_iov_free(&iov);
	ballot_buf_free(&out);
}

/* One decode, with the checks every outcome must pass. Returns the code; *consumed as the
 * decoder set it. */
static int decode_checked(const uint8_t *data, size_t size, size_t *consumed)
{
	ballot_frame f;
	ballot_errmsg em;
	em.text[0] = '\0';
	int rc = ballot_frame_decode(data, size, &f, consumed, &em);
	if (rc != 0) {
		require(rc == BALLOT_ECORRUPT || rc == BALLOT_ELIMIT || rc == BALLOT_EINVAL || rc == BALLOT_ENOMEM,
			"errors are corrupt, limit, version or memory");
		require(*consumed == 0, "an error consumes nothing");
		require(f.type == BALLOT_FRAME_NONE && f.msg == NULL && f.forward.payload == NULL, "an error leaves nothing");
		require(em.text[0] != '\0' && strlen(em.text) < sizeof em.text, "an error says something");
		return rc;
	}
	if (*consumed == 0) {
		require(f.type == BALLOT_FRAME_NONE, "need-more gives no frame");
		return 0;
	}
	require(*consumed <= size, "a frame is within the input");
	require(f.type != BALLOT_FRAME_NONE, "a frame has a type");
	require(f.type != BALLOT_FRAME_RAFT || f.msg != NULL, "a raft frame has a message");
	check_round_trip(&f, data, *consumed);
	ballot_frame_clear(&f);
	return 0;
}

/* A prefix may only wait for more, or agree with the whole. */
static void check_prefix(const uint8_t *data, size_t size, size_t cut, int whole_rc, size_t whole_consumed)
{
	if (cut >= size)
		return;
	size_t consumed;
	int rc = decode_checked(data, cut, &consumed);
	if (rc == 0 && consumed == 0)
		return;
	require(rc == whole_rc, "a prefix fails as the whole does");
	require(consumed == whole_consumed, "a prefix decodes the frame the whole does");
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	size_t at = 0;
	for (int frames = 0; at < size; frames++) {
		size_t consumed;
		int rc = decode_checked(data + at, size - at, &consumed);
		if (frames == 0) {
			check_prefix(data, size, size / 2, rc, consumed);
			check_prefix(data, size, BALLOT_FRAME_HEADER_BYTES, rc, consumed);
			check_prefix(data, size, size - 1, rc, consumed);
		}
		if (rc != 0 || consumed == 0)
			return;
		at += consumed;
	}
}

/* The input as one frame with its length, header check and checksum made right. */
static void fuzz_sealed(const uint8_t *data, size_t size)
{
	if (size < BALLOT_FRAME_HEADER_BYTES || size - BALLOT_FRAME_HEADER_BYTES > UINT32_MAX)
		return;
	unsigned char *f = malloc(size);
	if (f == NULL)
		return;
	memcpy(f, data, size);
	uint32_t body_len = (uint32_t)(size - BALLOT_FRAME_HEADER_BYTES);
	for (int i = 0; i < 4; i++)
		f[8 + i] = (unsigned char)(body_len >> (8 * i));
	uint32_t check = (uint32_t)XXH3_64bits(f, 12);
	for (int i = 0; i < 4; i++)
		f[12 + i] = (unsigned char)(check >> (8 * i));
	XXH3_state_t *st = XXH3_createState();
	if (st == NULL) {
		free(f);
		return;
	}
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, f, 16);
	XXH3_64bits_update(st, f + BALLOT_FRAME_HEADER_BYTES, body_len);
	uint64_t sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	for (int i = 0; i < 8; i++)
		f[16 + i] = (unsigned char)(sum >> (8 * i));
	size_t consumed;
	int rc = decode_checked(f, size, &consumed);
	require(rc != 0 || consumed == size, "a sealed frame is decoded whole or refused");
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream(data, size);
	fuzz_sealed(data, size);
	return 0;
}
