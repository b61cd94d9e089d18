/* bench_resp_parse: how fast the RESP2 request parser reads a pipeline.
 *
 * Builds N pipelined "SET key:NNNNNNNN <V bytes>" multibulk requests (what redis-benchmark
 * -t set -P sends) and parses them two ways: the whole pipeline in one buffer, and as a
 * server sees it, in reads of R bytes into a connection buffer that keeps the unfinished
 * tail (so requests are split at read boundaries and some arguments are copied). Checks
 * every request, and prints MB/s and requests/s for each way (best of --repeat runs). Not
 * a test: the figures go to the report by hand.
 *
 * Usage: bench_resp_parse [--requests N] [--value-bytes V] [--read-bytes R] [--repeat K] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballot/resp_parse.h"
#include "common/buf.h"

typedef struct bench_opts {
	uint64_t requests, value_bytes, read_bytes, repeat;
} bench_opts;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_resp_parse: %s\n", what);
	exit(1);
}

static void check_request(const ballot_resp_request *req, uint64_t value_bytes)
{
	if (req->argc != 3 || req->argv[0].len != 3 || memcmp(req->argv[0].data, "SET", 3) != 0 ||
	    req->argv[2].len != value_bytes)
		die("a request came out wrong");
}

/* The whole pipeline in one buffer: one pass, every argument in place. */
static uint64_t parse_whole(const ballot_buf *in, uint64_t value_bytes)
{
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	uint64_t n = 0;
	size_t off = 0;
	for (;;) {
		ballot_resp_request req;
		size_t used;
		ballot_errmsg em;
		if (ballot_resp_parse(&p, in->data + off, in->len - off, &used, &req, &em) != 0)
			die(em.text);
		off += used;
		if (req.argc == 0)
			break;
		check_request(&req, value_bytes);
		n++;
	}
	ballot_resp_parser_free(&p);
	return n;
}

/* As a server: reads of read_bytes into a connection buffer, which keeps what the parser
 * did not consume (at most one unfinished line) and moves it to the front. */
static uint64_t parse_reads(const ballot_buf *in, uint64_t value_bytes, size_t read_bytes)
{
	size_t cap = read_bytes + BALLOT_RESP_INLINE_MAX_BYTES + 1;
	char *conn = malloc(cap);
	if (conn == NULL)
		die("out of memory");
	ballot_resp_parser p;
	ballot_resp_parser_init(&p);
	uint64_t n = 0;
	size_t kept = 0;
	for (size_t fed = 0; fed < in->len;) {
		size_t r = in->len - fed < read_bytes ? in->len - fed : read_bytes;
		memcpy(conn + kept, in->data + fed, r); /* the read(2) */
		fed += r;
		size_t len = kept + r;
		size_t off = 0;
		for (;;) {
			ballot_resp_request req;
			size_t used;
			ballot_errmsg em;
			if (ballot_resp_parse(&p, conn + off, len - off, &used, &req, &em) != 0)
				die(em.text);
			off += used;
			if (req.argc == 0)
				break;
			check_request(&req, value_bytes);
			n++;
		}
		kept = len - off;
		memmove(conn, conn + off, kept);
	}
	ballot_resp_parser_free(&p);
	free(conn);
	return n;
}

static uint64_t parse_arg(const char *flag, const char *value)
{
	char *end;
	if (value == NULL)
		die("a flag needs a value");
	unsigned long long v = strtoull(value, &end, 10);
	if (*end != '\0' || v == 0) {
		fprintf(stderr, "bench_resp_parse: %s %s: not a positive number\n", flag, value);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	bench_opts o = {.requests = 1000000, .value_bytes = 100, .read_bytes = 16384, .repeat = 5};
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--requests") == 0)
			o.requests = parse_arg(argv[i], v);
		else if (strcmp(argv[i], "--value-bytes") == 0)
			o.value_bytes = parse_arg(argv[i], v);
		else if (strcmp(argv[i], "--read-bytes") == 0)
			o.read_bytes = parse_arg(argv[i], v);
		else if (strcmp(argv[i], "--repeat") == 0)
			o.repeat = parse_arg(argv[i], v);
		else {
			fprintf(stderr, "usage: bench_resp_parse [--requests N] [--value-bytes V] [--read-bytes R] "
					"[--repeat K]\n");
			return 2;
		}
	}
	if (o.value_bytes > BALLOT_RESP_REQUEST_BULK_MAX_BYTES)
		die("--value-bytes is past BALLOT_RESP_REQUEST_BULK_MAX_BYTES");

	ballot_buf in;
	ballot_buf_init(&in, 0);
	char *value = malloc(o.value_bytes);
	if (value == NULL)
		die("out of memory");
	memset(value, 'v', o.value_bytes);
	for (uint64_t i = 0; i < o.requests; i++) {
		char key[32];
		int kn = snprintf(key, sizeof key, "key:%08" PRIu64, i % 100000000);
		if (ballot_buf_printf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%" PRIu64 "\r\n", kn, key, o.value_bytes) != 0 ||
		    ballot_buf_append(&in, value, o.value_bytes) != 0 || ballot_buf_append(&in, "\r\n", 2) != 0)
			die("out of memory building the pipeline");
	}
	free(value);

	printf("requests %" PRIu64 ", value %" PRIu64 " bytes, pipeline %.1f MB, reads of %" PRIu64 " bytes, best of %" PRIu64 "\n",
	       o.requests, o.value_bytes, (double)in.len / 1e6, o.read_bytes, o.repeat);
	const char *names[2] = {"whole buffer", "socket reads"};
	for (int way = 0; way < 2; way++) {
		double best = 1e30;
		for (uint64_t r = 0; r < o.repeat; r++) {
			double t0 = now_s();
			uint64_t n = way == 0 ? parse_whole(&in, o.value_bytes)
					      : parse_reads(&in, o.value_bytes, (size_t)o.read_bytes);
			double t = now_s() - t0;
			if (n != o.requests)
				die("lost requests");
			if (t < best)
				best = t;
		}
		printf("%-13s %8.1f MB/s %12.0f requests/s  (%.1f ns/request)\n", names[way], (double)in.len / 1e6 / best,
		       (double)o.requests / best, best * 1e9 / (double)o.requests);
	}
	ballot_buf_free(&in);
	return 0;
}
