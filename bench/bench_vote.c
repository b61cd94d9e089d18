/* bench_vote: throughput of exact TMR voting, against the least an exact vote can cost.
 *
 * Three modules give byte outputs of one size; either all three are equal (the common case)
 * or the third dissents in its last byte. A majority vote over them (ballot_vote) is timed
 * in the same run as two baselines over the same bytes:
 *   memcmp  a with b and a with c: the least any exact vote must read;
 *   memcpy  all three outputs into a scratch buffer: memory speed.
 * DESIGN.md: absolute times on shared machines drift, so the figures that carry are the
 * ratios vote/baseline. Diagnostics show where a vote's time goes: XXH3 over the three
 * outputs as src/vote/vote.c calls it (XXH3_64bits) and, where libxxhash has it, through
 * its run-time CPU dispatch (XXH3_64bits_dispatch); and a one-pass blockwise compare (a with
 * b and a with c, block by block, so `a` is read from memory once).
 * Numeric TMR (three doubles) is timed as votes per second.
 *
 * GB/s always counts the bytes of all three outputs: 3 x size per vote (10^9 bytes/s).
 * Each case is calibrated until one repetition takes at least min-time/reps seconds, then
 * runs reps repetitions and keeps the best (least disturbed) one. Every result feeds a
 * volatile sink and every iteration passes a compiler barrier, so no work is optimised out.
 *
 * usage: bench_vote [--json] [--min-time S] [--reps N] [--sizes B,B,...]
 * exit status: 0, 1 if a vote gave a wrong result, 2 on a usage error. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
/* libxxhash's XXH3_64bits is built for baseline x86-64; the _dispatch entry points pick
 * SSE2/AVX2/AVX-512 at run time. Declared here so XXH3_64bits keeps its own meaning. */
#define BENCH_HAVE_XXH3_DISPATCH 1
XXH64_hash_t XXH3_64bits_dispatch(const void *input, size_t len);
#endif
#endif

#include "ballot/rng.h"
#include "ballot/vote.h"
#include "common/buf.h"
#include "common/json.h"

#define SIZES_MAX 8
#define SIZE_MAX_BYTES (256u * 1024 * 1024)
#define REPS_MAX 50
#define ITERS_MAX (UINT64_C(1) << 40)
#define MIN_TIME_S_MAX 60.0
#define BLOCK_BYTES 4096u
#define ALIGN_BYTES 64u
#define TARGET_SIZE (1024u * 1024)
#define TARGET_GB_S 1.0

/* The compiler must assume p's memory was read and changed here, so a loop body that
 * feeds it cannot be hoisted, merged or dropped. */
#define BARRIER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static volatile uint64_t sink;

typedef struct bench_opts {
	bool json;
	double min_time_s;
	unsigned reps;
	size_t sizes[SIZES_MAX];
	size_t size_count;
} bench_opts;

/* One size: three equal outputs, a fourth that differs from them in its last byte, and a
 * scratch buffer for the memcpy baseline. */
typedef struct bytes_case {
	size_t size;
	unsigned char *a, *b, *c, *dissent;
	unsigned char *dst; /* 3 x size */
	const unsigned char *third; /* c or dissent: what module 3 answers in this run */
} bytes_case;

typedef enum { EQUAL = 0, DISSENT = 1, KINDS_ } case_kind;
static const char *const kind_names[KINDS_] = {"equal", "dissent"};

/* Seconds per operation, best of the repetitions. */
typedef struct size_result {
	size_t size;
	double vote_s[KINDS_];
	double memcmp_s[KINDS_];
	double memcpy_s;
	double xxh3_s;
	double xxh3_dispatch_s; /* 0: not measured (no dispatch in this libxxhash) */
	double blockcmp_s;
} size_result;

typedef struct numeric_case {
	const char *name;
	ballot_vote_config config;
	ballot_output outputs[3];
	unsigned expect_support;
	double per_vote_s;
} numeric_case;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the timed loops ------------------------------------------------------------------- */

typedef void (*bench_fn)(const void *ctx, uint64_t iters);

static const ballot_vote_config majority = {.policy = BALLOT_POLICY_MAJORITY};

static void run_vote_bytes(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	ballot_output in[3] = {ballot_output_bytes(bc->a, bc->size), ballot_output_bytes(bc->b, bc->size),
			       ballot_output_bytes(bc->third, bc->size)};
	ballot_vote_result r;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(in);
		if (ballot_vote(&majority, in, 3, NULL, &r, NULL) != 0)
			abort();
		acc += r.support_count;
		BARRIER(&r);
	}
	sink += acc;
}

static void run_memcmp(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(bc->a);
		acc += memcmp(bc->a, bc->b, bc->size) == 0;
		acc += memcmp(bc->a, bc->third, bc->size) == 0;
	}
	sink += acc;
}

static void run_memcpy(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(bc->dst, bc->a, bc->size);
		memcpy(bc->dst + bc->size, bc->b, bc->size);
		memcpy(bc->dst + 2 * bc->size, bc->third, bc->size);
		BARRIER(bc->dst);
	}
	sink += bc->dst[bc->size - 1];
}

static void run_xxh3(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(bc->a);
		acc += XXH3_64bits(bc->a, bc->size);
		acc += XXH3_64bits(bc->b, bc->size);
		acc += XXH3_64bits(bc->third, bc->size);
	}
	sink += acc;
}

#ifdef BENCH_HAVE_XXH3_DISPATCH
static void run_xxh3_dispatch(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(bc->a);
		acc += XXH3_64bits_dispatch(bc->a, bc->size);
		acc += XXH3_64bits_dispatch(bc->b, bc->size);
		acc += XXH3_64bits_dispatch(bc->third, bc->size);
	}
	sink += acc;
}
#endif

/* a with b and a with c, one block at a time: each block of `a` is still in L1 when it is
 * compared the second time, so the three outputs are read from memory once. */
static void run_blockcmp(const void *ctx, uint64_t iters)
{
	const bytes_case *bc = ctx;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(bc->a);
		bool b_equal = true, c_equal = true;
		for (size_t off = 0; off < bc->size; off += BLOCK_BYTES) {
			size_t len = bc->size - off < BLOCK_BYTES ? bc->size - off : BLOCK_BYTES;
			b_equal = b_equal && memcmp(bc->a + off, bc->b + off, len) == 0;
			c_equal = c_equal && memcmp(bc->a + off, bc->third + off, len) == 0;
		}
		acc += b_equal + c_equal;
	}
	sink += acc;
}

static void run_vote_numbers(const void *ctx, uint64_t iters)
{
	const numeric_case *nc = ctx;
	ballot_vote_result r;
	uint64_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		BARRIER(nc->outputs);
		if (ballot_vote(&nc->config, nc->outputs, 3, NULL, &r, NULL) != 0)
			abort();
		acc += r.support_count;
		BARRIER(&r);
	}
	sink += acc;
}

/* ---- measuring ----------------------------------------------------------------------- */

static double time_run(bench_fn fn, const void *ctx, uint64_t iters)
{
	double start = now_s();
	fn(ctx, iters);
	return now_s() - start;
}

/* Finds an iteration count that runs at least min-time/reps seconds (that run warms the
 * caches), then returns the best seconds per operation over reps runs of it. */
static double best_s_per_op(bench_fn fn, const void *ctx, const bench_opts *o)
{
	double rep_s = o->min_time_s / o->reps;
	uint64_t iters = 1;
	double t = time_run(fn, ctx, iters);
	while (t < rep_s && iters < ITERS_MAX) {
		double scale = t > 0 ? 1.2 * rep_s / t : 100;
		scale = scale < 2 ? 2 : scale > 100 ? 100 : scale;
		double next = (double)iters * scale;
		iters = next >= (double)ITERS_MAX ? ITERS_MAX : (uint64_t)next;
		t = time_run(fn, ctx, iters);
	}
	double best = t;
	for (unsigned r = 0; r < o->reps; r++) {
		t = time_run(fn, ctx, iters);
		if (t < best)
			best = t;
	}
	return best / (double)iters;
}

/* ---- the cases ----------------------------------------------------------------------- */

static unsigned char *alloc_bytes(size_t size)
{
	size_t rounded = (size + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
	return aligned_alloc(ALIGN_BYTES, rounded);
}

static void bytes_case_free(bytes_case *bc)
{
	free(bc->a);
	free(bc->b);
	free(bc->c);
	free(bc->dissent);
	free(bc->dst);
}

static int bytes_case_init(bytes_case *bc, size_t size, ballot_rng *rng)
{
	memset(bc, 0, sizeof *bc);
	bc->size = size;
	bc->a = alloc_bytes(size);
	bc->b = alloc_bytes(size);
	bc->c = alloc_bytes(size);
	bc->dissent = alloc_bytes(size);
	bc->dst = alloc_bytes(3 * size);
	if (!bc->a || !bc->b || !bc->c || !bc->dissent || !bc->dst) {
		bytes_case_free(bc);
		return -1;
	}
	for (size_t i = 0; i < size; i++)
		bc->a[i] = (unsigned char)ballot_rng_next(rng);
	memcpy(bc->b, bc->a, size);
	memcpy(bc->c, bc->a, size);
	memcpy(bc->dissent, bc->a, size);
	bc->dissent[size - 1] ^= 1;
	memset(bc->dst, 0, 3 * size); /* fault the pages in before timing */
	return 0;
}

/* A benchmark that measures a wrong vote measures nothing: check the verdicts first. */
static bool vote_is_right(const bytes_case *bc, case_kind kind)
{
	ballot_output in[3] = {ballot_output_bytes(bc->a, bc->size), ballot_output_bytes(bc->b, bc->size),
			       ballot_output_bytes(bc->third, bc->size)};
	ballot_vote_result r;
	if (ballot_vote(&majority, in, 3, NULL, &r, NULL) != 0 || !r.has_winner)
		return false;
	if (kind == EQUAL)
		return r.support_count == 3;
	return r.support_count == 2 && r.verdicts[2] == BALLOT_VERDICT_DISSENTED;
}

static int measure_size(size_t size, ballot_rng *rng, const bench_opts *o, size_result *res)
{
	bytes_case bc;
	if (bytes_case_init(&bc, size, rng) != 0) {
		fprintf(stderr, "bench_vote: out of memory for %zu-byte outputs\n", size);
		return -1;
	}
	memset(res, 0, sizeof *res);
	res->size = size;
	for (int k = 0; k < KINDS_; k++) {
		bc.third = k == EQUAL ? bc.c : bc.dissent;
		if (!vote_is_right(&bc, (case_kind)k)) {
			fprintf(stderr, "bench_vote: wrong vote over %zu-byte outputs (%s)\n", size, kind_names[k]);
			bytes_case_free(&bc);
			return -1;
		}
		res->vote_s[k] = best_s_per_op(run_vote_bytes, &bc, o);
		res->memcmp_s[k] = best_s_per_op(run_memcmp, &bc, o);
	}
	bc.third = bc.c;
	res->memcpy_s = best_s_per_op(run_memcpy, &bc, o);
	res->xxh3_s = best_s_per_op(run_xxh3, &bc, o);
#ifdef BENCH_HAVE_XXH3_DISPATCH
	res->xxh3_dispatch_s = best_s_per_op(run_xxh3_dispatch, &bc, o);
#endif
	res->blockcmp_s = best_s_per_op(run_blockcmp, &bc, o);
	bytes_case_free(&bc);
	return 0;
}

static int measure_numbers(numeric_case *cases, size_t count, const bench_opts *o)
{
	for (size_t i = 0; i < count; i++) {
		numeric_case *nc = &cases[i];
		ballot_vote_result r;
		if (ballot_vote(&nc->config, nc->outputs, 3, NULL, &r, NULL) != 0 || !r.has_winner ||
		    r.support_count != nc->expect_support) {
			fprintf(stderr, "bench_vote: wrong numeric vote (%s)\n", nc->name);
			return -1;
		}
		nc->per_vote_s = best_s_per_op(run_vote_numbers, nc, o);
	}
	return 0;
}

/* ---- reporting ----------------------------------------------------------------------- */

/* The 1-minute load average, or -1 where /proc/loadavg is missing: a busy machine shows in
 * every figure, so the report says how busy it was. */
static double load_average(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load = -1;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%lf", &load) != 1)
		load = -1;
	fclose(f);
	return load;
}

static double gb_s(size_t size, double s_per_op)
{
	return 3.0 * (double)size / s_per_op / 1e9;
}

static void size_label(char out[32], size_t size)
{
	if (size >= 1024 * 1024 && size % (1024 * 1024) == 0)
		snprintf(out, 32, "%zu MiB", size / (1024 * 1024));
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(out, 32, "%zu KiB", size / 1024);
	else
		snprintf(out, 32, "%zu B", size);
}

/* The target: exact voting at >= 1 GB/s per core on 1 MiB outputs (equal case). */
static const size_result *target_result(const size_result *res, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (res[i].size == TARGET_SIZE)
			return &res[i];
	}
	return NULL;
}

static void print_table(const size_result *res, size_t count, const numeric_case *num, size_t num_count,
			const bench_opts *o)
{
	printf("exact TMR vote (policy majority), 3 byte outputs per vote; best of %u, >= %.2f s per case; "
	       "load average %.2f at the end\n", o->reps, o->min_time_s, load_average());
	printf("GB/s counts all three outputs (3 x size bytes per vote)\n\n");
	printf("%-8s %-8s %13s %10s %12s %12s %12s %12s\n", "size", "case", "votes/s", "vote GB/s",
	       "memcmp GB/s", "memcpy GB/s", "vote/memcmp", "vote/memcpy");
	for (size_t i = 0; i < count; i++) {
		char label[32];
		size_label(label, res[i].size);
		for (int k = 0; k < KINDS_; k++) {
			double v = gb_s(res[i].size, res[i].vote_s[k]);
			double mc = gb_s(res[i].size, res[i].memcmp_s[k]);
			double cp = gb_s(res[i].size, res[i].memcpy_s);
			printf("%-8s %-8s %13.0f %10.2f %12.2f %12.2f %12.2f %12.2f\n", label, kind_names[k],
			       1.0 / res[i].vote_s[k], v, mc, cp, v / mc, v / cp);
		}
	}
	printf("\ndiagnostics, equal outputs, GB/s over the same 3 x size bytes:\n");
	printf("%-8s %18s %18s %18s %10s\n", "size", "XXH3_64bits x 3", "xxh3 dispatch x 3",
	       "one-pass blockcmp", "vote");
	for (size_t i = 0; i < count; i++) {
		char label[32];
		size_label(label, res[i].size);
		printf("%-8s %18.2f ", label, gb_s(res[i].size, res[i].xxh3_s));
		if (res[i].xxh3_dispatch_s > 0)
			printf("%18.2f ", gb_s(res[i].size, res[i].xxh3_dispatch_s));
		else
			printf("%18s ", "n/a");
		printf("%18.2f %10.2f\n", gb_s(res[i].size, res[i].blockcmp_s),
		       gb_s(res[i].size, res[i].vote_s[EQUAL]));
	}
	printf("\nnumeric TMR (3 doubles)\n%-34s %13s %10s\n", "case", "votes/s", "ns/vote");
	for (size_t i = 0; i < num_count; i++)
		printf("%-34s %13.0f %10.1f\n", num[i].name, 1.0 / num[i].per_vote_s, num[i].per_vote_s * 1e9);
	const size_result *t = target_result(res, count);
	if (t != NULL) {
		double v = gb_s(t->size, t->vote_s[EQUAL]);
		printf("\ntarget: exact vote >= %.1f GB/s on 1 MiB outputs: %s (%.2f GB/s)\n", TARGET_GB_S,
		       v >= TARGET_GB_S ? "met" : "NOT met", v);
	}
}

static void json_bytes_row(json_writer *w, const size_result *r, int k)
{
	double v = gb_s(r->size, r->vote_s[k]);
	double mc = gb_s(r->size, r->memcmp_s[k]);
	double cp = gb_s(r->size, r->memcpy_s);
	json_object_begin(w);
	json_key(w, "size_bytes");
	json_uint(w, r->size);
	json_key(w, "case");
	json_string(w, kind_names[k]);
	json_key(w, "votes_per_s");
	json_double(w, 1.0 / r->vote_s[k]);
	json_key(w, "vote_gb_s");
	json_double(w, v);
	json_key(w, "memcmp_gb_s");
	json_double(w, mc);
	json_key(w, "memcpy_gb_s");
	json_double(w, cp);
	json_key(w, "vote_over_memcmp");
	json_double(w, v / mc);
	json_key(w, "vote_over_memcpy");
	json_double(w, v / cp);
	if (k == EQUAL) {
		json_key(w, "xxh3_gb_s");
		json_double(w, gb_s(r->size, r->xxh3_s));
		json_key(w, "xxh3_dispatch_gb_s");
		if (r->xxh3_dispatch_s > 0)
			json_double(w, gb_s(r->size, r->xxh3_dispatch_s));
		else
			json_null(w);
		json_key(w, "blockcmp_gb_s");
		json_double(w, gb_s(r->size, r->blockcmp_s));
	}
	json_object_end(w);
}

static int print_json(const size_result *res, size_t count, const numeric_case *num, size_t num_count,
		      const bench_opts *o)
{
	ballot_buf b;
	ballot_buf_init(&b, 0);
	json_writer w;
	json_init(&w, &b);
	json_object_begin(&w);
	json_key(&w, "benchmark");
	json_string(&w, "vote");
	json_key(&w, "reps");
	json_uint(&w, o->reps);
	json_key(&w, "min_time_s");
	json_double(&w, o->min_time_s);
	json_key(&w, "load_average_end");
	json_double(&w, load_average());
	json_key(&w, "bytes");
	json_array_begin(&w);
	for (size_t i = 0; i < count; i++) {
		for (int k = 0; k < KINDS_; k++)
			json_bytes_row(&w, &res[i], k);
	}
	json_array_end(&w);
	json_key(&w, "numeric");
	json_array_begin(&w);
	for (size_t i = 0; i < num_count; i++) {
		json_object_begin(&w);
		json_key(&w, "case");
		json_string(&w, num[i].name);
		json_key(&w, "votes_per_s");
		json_double(&w, 1.0 / num[i].per_vote_s);
		json_object_end(&w);
	}
	json_array_end(&w);
	const size_result *t = target_result(res, count);
	json_key(&w, "target_1mib_gb_s_met");
	if (t != NULL)
		json_bool(&w, gb_s(t->size, t->vote_s[EQUAL]) >= TARGET_GB_S);
	else
		json_null(&w);
	json_object_end(&w);
	int rc = w.rc;
	if (rc == 0)
		printf("%s\n", b.data);
	ballot_buf_free(&b);
	return rc;
}

/* ---- arguments ----------------------------------------------------------------------- */

static const char usage[] =
	"usage: bench_vote [--json] [--min-time S] [--reps N] [--sizes B,B,...]\n"
	"  --json        machine-readable output\n"
	"  --min-time S  seconds per case, split over the repetitions (default 0.3)\n"
	"  --reps N      repetitions per case; the best is kept (default 5)\n"
	"  --sizes LIST  output sizes in bytes (default 64,4096,1048576,16777216)\n";

static bool parse_sizes(const char *arg, bench_opts *o)
{
	o->size_count = 0;
	const char *p = arg;
	while (*p != '\0') {
		char *end = NULL;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p || v < 1 || v > SIZE_MAX_BYTES || o->size_count == SIZES_MAX)
			return false;
		o->sizes[o->size_count++] = (size_t)v;
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return false;
		p = end;
	}
	return o->size_count > 0;
}

static bool parse_args(int argc, char **argv, bench_opts *o)
{
	static const size_t default_sizes[] = {64, 4096, 1024 * 1024, 16 * 1024 * 1024};
	*o = (bench_opts){.min_time_s = 0.3, .reps = 5, .size_count = 4};
	memcpy(o->sizes, default_sizes, sizeof default_sizes);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (strcmp(arg, "--json") == 0) {
			o->json = true;
		} else if (strcmp(arg, "--min-time") == 0 && val != NULL) {
			o->min_time_s = strtod(val, &end);
			if (*end != '\0' || !(o->min_time_s > 0 && o->min_time_s <= MIN_TIME_S_MAX))
				return false;
			i++;
		} else if (strcmp(arg, "--reps") == 0 && val != NULL) {
			unsigned long v = strtoul(val, &end, 10);
			if (*end != '\0' || v < 1 || v > REPS_MAX)
				return false;
			o->reps = (unsigned)v;
			i++;
		} else if (strcmp(arg, "--sizes") == 0 && val != NULL) {
			if (!parse_sizes(val, o))
				return false;
			i++;
		} else {
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	bench_opts o;
	if (!parse_args(argc, argv, &o)) {
		fputs(usage, stderr);
		return 2;
	}
	ballot_rng rng;
	ballot_rng_seed(&rng, 42);
	size_result res[SIZES_MAX];
	for (size_t i = 0; i < o.size_count; i++) {
		if (measure_size(o.sizes[i], &rng, &o, &res[i]) != 0)
			return 1;
	}
	numeric_case num[] = {
		{.name = "majority, exact (epsilon 0)",
		 .config = {.policy = BALLOT_POLICY_MAJORITY},
		 .outputs = {ballot_output_number(1.5), ballot_output_number(1.5), ballot_output_number(1.5)},
		 .expect_support = 3},
		{.name = "majority, epsilon 1e-9",
		 .config = {.policy = BALLOT_POLICY_MAJORITY, .epsilon = 1e-9},
		 .outputs = {ballot_output_number(1.0), ballot_output_number(1.0 + 1e-10),
			     ballot_output_number(1.0 - 1e-10)},
		 .expect_support = 3},
		{.name = "median, epsilon 1e-9",
		 .config = {.policy = BALLOT_POLICY_MEDIAN, .epsilon = 1e-9},
		 .outputs = {ballot_output_number(1.0), ballot_output_number(1.0 + 1e-10),
			     ballot_output_number(2.0)},
		 .expect_support = 2},
	};
	size_t num_count = sizeof num / sizeof num[0];
	if (measure_numbers(num, num_count, &o) != 0)
		return 1;
	if (o.json)
		return print_json(res, o.size_count, num, num_count, &o) == 0 ? 0 : 1;
	print_table(res, o.size_count, num, num_count, &o);
	return 0;
}
