/* bench_check: how long ballot_check takes on a linearizable history of a real register.
 *
 * Simulates P processes on K keys with a seeded generator: each step picks a process at
 * random; an idle one invokes (half reads, 30% writes, 20% cas; --incr-pct mixes in incr), an open one
 * either reaches its linearization point (the operation is applied to the simulated map
 * right then) or, once applied, completes. Other processes' steps fall between invoke,
 * linearization point and completion, so operations overlap at random, and the history is
 * linearizable by construction. With --info-pct some completions are info (their process
 * is replaced by a fresh one, as Jepsen does) and some of those never take effect.
 *
 * Prints the parameters, then the time to parse the JSONL form and to check it; --out
 * writes the history so `time ballot check FILE` can be measured too. Not a test: the
 * figures go to bench/RESULTS.md by hand. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballot/check.h"
#include "ballot/rng.h"
#include "common/buf.h"

typedef struct bench_opts {
	uint64_t ops, processes, keys, seed, values, info_pct, incr_pct, repeat;
	const char *out;
} bench_opts;

typedef struct proc {
	int64_t id;
	bool open, applied, took;
	ballot_op_kind f;
	uint32_t key;
	int64_t value, value2; /* write/cas/incr arguments */
	int64_t result;        /* read or incr result */
	bool result_null;
} proc;

/* The simulated map: an integer or absent per key. */
typedef struct sim {
	int64_t *value;
	bool *present;
} sim;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(ballot_buf *out, int64_t process, const char *type, const char *f, uint32_t key,
		 const char *value)
{
	ballot_buf_printf(out,
			  "{\"process\": %" PRId64 ", \"type\": \"%s\", \"f\": \"%s\", \"key\": \"k%u\", \"value\": %s}\n",
			  process, type, f, key, value);
}

static void apply(sim *s, proc *p)
{
	p->applied = true;
	p->took = true;
	uint32_t k = p->key;
	switch (p->f) {
	case BALLOT_OP_READ:
		p->result_null = !s->present[k];
		p->result = s->value[k];
		break;
	case BALLOT_OP_WRITE:
		s->value[k] = p->value;
		s->present[k] = true;
		break;
	case BALLOT_OP_CAS:
		p->took = s->present[k] && s->value[k] == p->value;
		if (p->took)
			s->value[k] = p->value2;
		break;
	case BALLOT_OP_INCR:
		s->value[k] = (s->present[k] ? s->value[k] : 0) + p->value;
		s->present[k] = true;
		p->result = s->value[k];
		break;
	default:
		break;
	}
}

static int generate(const bench_opts *o, ballot_buf *out)
{
	ballot_rng rng;
	ballot_rng_seed(&rng, o->seed);
	sim s = {calloc(o->keys, sizeof(int64_t)), calloc(o->keys, sizeof(bool))};
	proc *procs = calloc(o->processes, sizeof *procs);
	if (s.value == NULL || s.present == NULL || procs == NULL)
		return -1;
	for (uint64_t i = 0; i < o->processes; i++)
		procs[i].id = (int64_t)i;
	int64_t next_id = (int64_t)o->processes;
	int64_t unique = 0;
	uint64_t started = 0, open = 0;
	char value[64];
	while (started < o->ops || open > 0) {
		proc *p = &procs[ballot_rng_below(&rng, o->processes)];
		if (!p->open) {
			if (started == o->ops)
				continue;
			started++;
			open++;
			p->open = true;
			p->applied = false;
			p->key = (uint32_t)ballot_rng_below(&rng, o->keys);
			uint64_t roll = ballot_rng_below(&rng, 100);
			p->f = roll < o->incr_pct ? BALLOT_OP_INCR
			       : (roll = ballot_rng_below(&rng, 100)) < 50 ? BALLOT_OP_READ
			       : roll < 80 ? BALLOT_OP_WRITE : BALLOT_OP_CAS;
			int64_t v = o->values ? (int64_t)ballot_rng_below(&rng, o->values) : ++unique;
			p->value = p->f == BALLOT_OP_INCR ? 1 : v;
			p->value2 = o->values ? (int64_t)ballot_rng_below(&rng, o->values) : ++unique;
			if (p->f == BALLOT_OP_CAS && s.present[p->key] && ballot_rng_below(&rng, 2))
				p->value = s.value[p->key]; /* often the current value, so some succeed */
			if (p->f == BALLOT_OP_READ)
				snprintf(value, sizeof value, "null");
			else if (p->f == BALLOT_OP_CAS)
				snprintf(value, sizeof value, "[%" PRId64 ", %" PRId64 "]", p->value, p->value2);
			else
				snprintf(value, sizeof value, "%" PRId64, p->value);
			emit(out, p->id, "invoke", ballot_op_kind_name(p->f), p->key, value);
			continue;
		}
		if (!p->applied) {
			bool info = ballot_rng_below(&rng, 100) < o->info_pct;
			if (info && ballot_rng_below(&rng, 2)) {
				/* Timed out before it took effect: it never will. */
				emit(out, p->id, "info", ballot_op_kind_name(p->f), p->key, "null");
				p->open = false;
				open--;
				p->id = next_id++;
				continue;
			}
			apply(&s, p);
			continue;
		}
		bool info = ballot_rng_below(&rng, 100) < o->info_pct;
		const char *type = info ? "info" : p->took ? "ok" : "fail";
		if (!info && p->f == BALLOT_OP_READ && p->result_null)
			snprintf(value, sizeof value, "null");
		else if (!info && (p->f == BALLOT_OP_READ || p->f == BALLOT_OP_INCR))
			snprintf(value, sizeof value, "%" PRId64, p->result);
		else
			snprintf(value, sizeof value, "null");
		emit(out, p->id, type, ballot_op_kind_name(p->f), p->key, value);
		p->open = false;
		open--;
		if (info)
			p->id = next_id++;
	}
	free(s.value);
	free(s.present);
	free(procs);
	return 0;
}

static uint64_t arg_u64(const char *flag, const char *v)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end != '\0' || v[0] == '-') {
		fprintf(stderr, "bench_check: %s %s: not a number\n", flag, v);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	bench_opts o = {.ops = 10000, .processes = 10, .keys = 1, .seed = 1, .values = 0,
			.info_pct = 0, .repeat = 5};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (strcmp(a, "--ops") == 0) o.ops = arg_u64(a, v), i++;
		else if (strcmp(a, "--processes") == 0) o.processes = arg_u64(a, v), i++;
		else if (strcmp(a, "--keys") == 0) o.keys = arg_u64(a, v), i++;
		else if (strcmp(a, "--seed") == 0) o.seed = arg_u64(a, v), i++;
		else if (strcmp(a, "--values") == 0) o.values = arg_u64(a, v), i++;
		else if (strcmp(a, "--info-pct") == 0) o.info_pct = arg_u64(a, v), i++;
		else if (strcmp(a, "--incr-pct") == 0) o.incr_pct = arg_u64(a, v), i++;
		else if (strcmp(a, "--repeat") == 0) o.repeat = arg_u64(a, v), i++;
		else if (strcmp(a, "--out") == 0) o.out = v, i++;
		else {
			fprintf(stderr,
				"usage: bench_check [--ops N] [--processes P] [--keys K] [--seed S]\n"
				"                   [--values V (0: unique)] [--info-pct X] [--incr-pct X]\n"
				"                   [--repeat R] [--out FILE]\n");
			return 2;
		}
	}
	if (o.processes == 0 || o.keys == 0 || o.repeat == 0) {
		fprintf(stderr, "bench_check: --processes, --keys and --repeat must be positive\n");
		return 2;
	}
	ballot_buf text;
	ballot_buf_init(&text, 0);
	if (generate(&o, &text) != 0) {
		fprintf(stderr, "bench_check: out of memory\n");
		return 1;
	}
	if (o.out != NULL) {
		FILE *f = fopen(o.out, "w");
		if (f == NULL || fwrite(text.data, 1, text.len, f) != text.len || fclose(f) != 0) {
			fprintf(stderr, "bench_check: cannot write %s\n", o.out);
			return 1;
		}
	}
	printf("bench_check: %" PRIu64 " ops, %" PRIu64 " processes, %" PRIu64 " keys, seed %" PRIu64
	       ", values %s, info %" PRIu64 "%%, incr %" PRIu64 "%%, %zu bytes of JSONL\n",
	       o.ops, o.processes, o.keys, o.seed, o.values ? "from a small set" : "unique", o.info_pct,
	       o.incr_pct, text.len);
	double best_parse = 1e9, best_check = 1e9;
	ballot_check_result r = {0};
	for (uint64_t rep = 0; rep < o.repeat; rep++) {
		ballot_history *h;
		ballot_errmsg em;
		if (ballot_history_new(&h) != 0)
			return 1;
		double t0 = now_s();
		if (ballot_history_parse_jsonl(h, text.data, text.len, NULL, &em) != 0) {
			fprintf(stderr, "bench_check: %s\n", em.text);
			return 1;
		}
		double t1 = now_s();
		ballot_check_result_free(&r);
		if (ballot_check(h, NULL, &r, &em) != 0) {
			fprintf(stderr, "bench_check: %s\n", em.text);
			return 1;
		}
		double t2 = now_s();
		if (t1 - t0 < best_parse)
			best_parse = t1 - t0;
		if (t2 - t1 < best_check)
			best_check = t2 - t1;
		ballot_history_free(h);
	}
	printf("verdict: %s; %" PRIu64 " steps, %" PRIu64 " bytes of search state at most\n",
	       r.verdict == BALLOT_CHECK_LINEARIZABLE       ? "linearizable"
	       : r.verdict == BALLOT_CHECK_NOT_LINEARIZABLE ? "NOT linearizable (a generator bug)"
							    : "unknown",
	       r.steps, r.memory_bytes_peak);
	printf("best of %" PRIu64 ": parse %.3f ms, check %.3f ms\n", o.repeat, best_parse * 1e3,
	       best_check * 1e3);
	ballot_check_result_free(&r);
	ballot_buf_free(&text);
	return r.verdict == BALLOT_CHECK_LINEARIZABLE ? 0 : 1;
}
