/* libFuzzer target for the RESP2 request parser: arbitrary client bytes, fed whole and in
 * random chunks.
 *
 * The first two input bytes seed the chunking; the rest is the stream. Beyond "no crash,
 * no sanitizer report", it checks properties that must hold for any stream:
 * - parsing in chunks (random sizes; one byte at a time for short streams) gives the same
 *   requests, and ends the same way (the same error, or the same unfinished tail), as
 *   parsing the whole stream at once;
 * - the caller never has to keep more than one unfinished line, and the parser never holds
 *   more than its limits allow;
 * - every error text is one line starting "ERR ";
 * - every request, written back as a multibulk request, parses to itself.
 * Each call gets a fresh heap copy of the caller's bytes and the old copy is freed, so an
 * argument left pointing into a dropped buffer is a use-after-free report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/resp_parse.h"
#include "ballot/rng.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Chunked feeding is quadratic in the bytes a caller keeps; above this many chunks the
 * chunk sizes grow instead. */
#define FUZZ_CHUNKS_MAX 2048

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_resp_parse: property broken: %s\n", what);
		abort();
	}
}

static void record(ballot_buf *t, const ballot_resp_request *req)
{
	require(ballot_buf_printf(t, "%zu", req->argc) == 0, "transcript memory");
	for (size_t i = 0; i < req->argc; i++) {
		require(req->argv[i].data != NULL, "argument data is never NULL");
		require(ballot_buf_printf(t, " %zu:", req->argv[i].len) == 0, "transcript memory");
		require(ballot_buf_append(t, req->argv[i].data, req->argv[i].len) == 0, "transcript memory");
	}
	require(ballot_buf_append(t, "\n", 1) == 0, "transcript memory");
}

/* Writes the request back as multibulk and parses it: the same arguments, all bytes used. */
static void require_round_trip(const ballot_resp_request *req)
{
	ballot_buf b;
	ballot_buf_init(&b, 0);
	require(ballot_buf_printf(&b, "*%zu\r\n", req->argc) == 0, "round-trip memory");
	for (size_t i = 0; i < req->argc; i++) {
		require(ballot_buf_printf(&b, "$%zu\r\n", req->argv[i].len) == 0, "round-trip memory");
		require(ballot_buf_append(&b, req->argv[i].data, req->argv[i].len) == 0, "round-trip memory");
		require(ballot_buf_append(&b, "\r\n", 2) == 0, "round-trip memory");
	}
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	ballot_resp_request again;
	size_t used;
	require(ballot_resp_parse(&p, b.data, b.len, &used, &again, NULL) == 0, "a written request parses");
	require(used == b.len, "a written request is used whole");
	require(again.argc == req->argc, "a written request keeps its arguments");
	for (size_t i = 0; i < req->argc; i++) {
		require(again.argv[i].len == req->argv[i].len, "a written argument keeps its length");
		require(memcmp(again.argv[i].data, req->argv[i].data, req->argv[i].len) == 0,
			"a written argument keeps its bytes");
		require(again.argv[i].data >= b.data && again.argv[i].data < b.data + b.len,
			"a whole request points into the buffer");
	}
	ballot_resp_parser_free(&p);
	ballot_buf_free(&b);
}

/* Feeds stream[0..len) in chunks from next_chunk (0: the rest at once) into transcript t. */
static void transcript(const uint8_t *stream, size_t len, ballot_rng *rng, size_t chunk_max, bool round_trip,
		       ballot_buf *t)
{
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	char *kept = NULL;
	size_t kept_len = 0;
	size_t fed = 0;
	do {
		size_t piece = chunk_max == 0 ? len - fed : 1 + (size_t)ballot_rng_below(rng, chunk_max);
		if (piece > len - fed)
			piece = len - fed;
		size_t total = kept_len + piece;
		char *buf = malloc(total > 0 ? total : 1);
		require(buf != NULL, "buffer memory");
		if (kept_len > 0)
			memcpy(buf, kept, kept_len);
		if (piece > 0)
			memcpy(buf + kept_len, stream + fed, piece);
		free(kept);
		fed += piece;
		size_t off = 0;
		for (;;) {
			ballot_resp_request req;
			ballot_errmsg em;
			size_t used;
			int rc = ballot_resp_parse(&p, buf + off, total - off, &used, &req, &em);
			if (rc != 0) {
				require(rc == BALLOT_EINVAL || rc == BALLOT_ELIMIT || rc == BALLOT_ENOMEM, "error codes");
				require(strncmp(em.text, "ERR ", 4) == 0, "an error reply starts with ERR");
				require(strpbrk(em.text, "\r\n") == NULL, "an error reply is one line");
				require(used == 0, "an error consumes nothing");
				ballot_buf_printf(t, "error %d %s\n", rc, em.text);
				free(buf);
				ballot_resp_parser_free(&p);
				return;
			}
			require(used <= total - off, "consumed within the buffer");
			off += used;
			if (req.argc == 0)
				break;
			record(t, &req);
			if (round_trip)
				require_round_trip(&req);
		}
		require(total - off <= BALLOT_RESP_INLINE_MAX_BYTES + 1, "the caller keeps at most one line");
		require(ballot_resp_parser_held_bytes(&p) <= (size_t)BALLOT_RESP_REQUEST_MAX_BYTES +
								     BALLOT_RESP_INLINE_MAX_BYTES +
								     2 * BALLOT_RESP_REQUEST_ARGS_MAX * sizeof(ballot_resp_arg),
			"the parser holds at most its limits");
		kept_len = total - off;
		kept = malloc(kept_len > 0 ? kept_len : 1);
		require(kept != NULL, "buffer memory");
		memcpy(kept, buf + off, kept_len);
		free(buf);
	} while (fed < len);
	ballot_buf_printf(t, "more %zu\n", kept_len);
	free(kept);
	ballot_resp_parser_free(&p);
}

static void require_same(const ballot_buf *a, const ballot_buf *b, const char *what)
{
	if (a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0))
		return;
	fprintf(stderr, "whole:\n%.*s\nchunked:\n%.*s\n", (int)(a->len < 2000 ? a->len : 2000), a->data,
		(int)(b->len < 2000 ? b->len : 2000), b->data);
	require(0, what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t seed = 0;
	if (size >= 2) {
		seed = (uint16_t)(data[0] | data[1] << 8);
		data += 2;
		size -= 2;
	}
	ballot_buf whole, split;
	ballot_buf_init(&whole, 0);
	ballot_buf_init(&split, 0);
	transcript(data, size, NULL, 0, true, &whole);

	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	static const size_t chunk_max[4] = {3, 16, 256, 4096};
	size_t max = chunk_max[seed & 3];
	if (size / max > FUZZ_CHUNKS_MAX)
		max = size / FUZZ_CHUNKS_MAX + 1;
	transcript(data, size, &rng, max, false, &split);
	require_same(&whole, &split, "random chunks give the whole stream's requests");

	if (size <= 4096) {
		ballot_buf_clear(&split);
		transcript(data, size, &rng, 1, false, &split);
		require_same(&whole, &split, "single bytes give the whole stream's requests");
	}
	ballot_buf_free(&whole);
	ballot_buf_free(&split);
	return 0;
}
