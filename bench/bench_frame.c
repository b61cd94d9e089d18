/* bench_frame: how fast peer frames encode and decode (ballot/frame.h).
 *
 * Three typical messages: a heartbeat (an append without entries), an append of 64 entries
 * of 128 bytes, and a 1 MiB snapshot chunk (with its configuration, as the first chunk
 * carries it). For each: encoding into a reused buffer, encoding as iovecs (large payloads
 * by reference), and decoding (the decoded message freed each time, as a node would). The
 * floor printed beside them is one XXH3-64 over the frame's bytes, what any checksummed
 * codec must pay; "vs floor" is how many times that each operation costs. (A memcpy of
 * the frame is not part of the floor: glibc's large-copy path made it vary fourfold with
 * the buffers' placement on the test machine, which measured the allocator, not the codec.
 * perf shows how the time splits between hashing, copying and the rest.)
 *
 * Usage: bench_frame [--seconds S]   (per measurement; default 0.5). Not a test: the
 * figures go to bench/RESULTS.md by hand. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Inlined, as src/node/frame.c has it, so the floor hashes at the codec's speed. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ballot/frame.h"
#include "common/buf.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const ballot_errmsg *em)
{
	fprintf(stderr, "bench_frame: %s: %s\n", what, em ? em->text : "failed");
	exit(1);
}

static volatile uint64_t sink_value; /* keeps the floor's work from being optimized away */

typedef enum op { OP_FLOOR, OP_ENCODE, OP_ENCODE_IOV, OP_DECODE } op;

static const char *const op_names[] = {"xxh3 (floor)", "encode", "encode_iov", "decode"};

/* Runs one operation repeatedly for about `seconds`; returns operations per second. */
static double measure(op o, const ballot_frame *f, const ballot_buf *frame, double seconds)
{
	ballot_buf out;
	ballot_buf_init(&out, 0);
	ballot_errmsg em;
	uint64_t n = 0, batch = 16;
	double start = now_s(), elapsed = 0;
	while (elapsed < seconds) {
		for (uint64_t i = 0; i < batch; i++) {
			switch (o) {
			case OP_FLOOR:
				sink_value += XXH3_64bits(frame->data, frame->len);
				break;
			case OP_ENCODE:
				ballot_buf_clear(&out);
				if (ballot_frame_encode(f, &out, &em) != 0)
					die("encode", &em);
				break;
			case OP_ENCODE_IOV: {
				ballot_frame_iov iov;
				if (ballot_frame_encode_iov(f, &iov, &em) != 0)
					die("encode_iov", &em);
				sink_value += iov.iov_count;
				ballot_frame_iov_free(&iov);
				break;
			}
			case OP_DECODE: {
				ballot_frame d;
				size_t consumed;
				if (ballot_frame_decode(frame->data, frame->len, &d, &consumed, &em) != 0 || consumed != frame->len)
					die("decode", &em);
				ballot_frame_clear(&d);
				break;
			}
			}
		}
		n += batch;
		if (batch < (1u << 20))
			batch *= 2;
		elapsed = now_s() - start;
	}
	ballot_buf_free(&out);
	return (double)n / elapsed;
}

static ballot_msg *heartbeat(void)
{
	ballot_msg *m = calloc(1, sizeof *m);
	if (m == NULL)
		die("out of memory", NULL);
	*m = (ballot_msg){.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 7, .prev_index = 1000, .prev_term = 7,
			  .commit = 999, .heartbeat = true};
	return m;
}

static ballot_msg *append_batch(size_t n, size_t len)
{
	ballot_msg *m = heartbeat();
	m->heartbeat = false;
	m->entries = calloc(n, sizeof *m->entries);
	if (m->entries == NULL)
		die("out of memory", NULL);
	m->entry_count = n;
	for (size_t i = 0; i < n; i++) {
		m->entries[i] = (ballot_entry){.term = 7, .index = 1001 + i, .type = BALLOT_ENTRY_NORMAL,
					       .data = ballot_rbuf_new(NULL, len)};
		if (m->entries[i].data == NULL)
			die("out of memory", NULL);
		memset(m->entries[i].data->data, 'a' + (int)(i % 26), len);
	}
	return m;
}

static ballot_msg *snapshot_chunk(size_t len)
{
	ballot_msg *m = heartbeat();
	m->type = BALLOT_MSG_SNAPSHOT;
	m->heartbeat = false;
	m->snap_index = 5000;
	m->snap_term = 6;
	m->snap_config = calloc(1, sizeof *m->snap_config);
	m->chunk = ballot_rbuf_new(NULL, len);
	if (m->snap_config == NULL || m->chunk == NULL)
		die("out of memory", NULL);
	memset(m->chunk->data, 's', len);
	m->snap_config->count = 3;
	for (unsigned i = 0; i < 3; i++) {
		m->snap_config->members[i].id = i + 1;
		m->snap_config->members[i].role = BALLOT_MEMBER_VOTER;
		snprintf(m->snap_config->members[i].address, BALLOT_ADDRESS_MAX, "10.0.0.%u:7000", i + 1);
	}
	return m;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench_frame [--seconds S]\n");
			return 2;
		}
	}
	struct {
		const char *name;
		ballot_msg *m;
	} cases[] = {
		{"heartbeat", heartbeat()},
		{"append 64x128B", append_batch(64, 128)},
		{"snapshot chunk 1MiB", snapshot_chunk(1024 * 1024)},
	};
	printf("bench_frame: %.2f s per measurement\n", seconds);
	printf("%-20s %-12s %10s %14s %10s %9s\n", "message", "operation", "bytes", "frames/s", "MB/s", "vs floor");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		ballot_frame f = {.type = BALLOT_FRAME_RAFT, .msg = cases[c].m};
		ballot_buf frame;
		ballot_buf_init(&frame, 0);
		ballot_errmsg em;
		if (ballot_frame_encode(&f, &frame, &em) != 0)
			die("encode", &em);
		double floor_rate = 0;
		for (op o = OP_FLOOR; o <= OP_DECODE; o++) {
			double rate = measure(o, &f, &frame, seconds);
			if (o == OP_FLOOR)
				floor_rate = rate;
			printf("%-20s %-12s %10zu %14.0f %10.1f %8.2fx\n", cases[c].name, op_names[o], frame.len, rate,
			       rate * (double)frame.len / 1e6, floor_rate / rate);
		}
		ballot_buf_free(&frame);
		ballot_msg_free(cases[c].m);
	}
	return 0;
}
