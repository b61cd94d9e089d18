/* `ballot check`: is a JSONL history of operations on a key-value map linearizable?
 *
 * Reads the whole history, parses it (a malformed line is named and exits 2), runs
 * ballot_check under the time, memory and step bounds, and prints the verdict. For a
 * violation it also prints the smallest window found as JSONL, each event with its "line"
 * in the input. Exit status: 0 linearizable, 1 not linearizable, 2 malformed history or
 * usage error, 3 gave up at a bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballot/check.h"
#include "cli/cli.h"
#include "common/buf.h"

_Static_assert((1ull << 20) >= BALLOT_CHECK_MEMORY_MIN_BYTES, "--memory-mb 1 is a valid bound");

/* Exit status 3: no verdict (cli.h's 3 is vote's "no winner"; the same number, here
 * "no answer within the bounds"). */
enum { CHECK_EXIT_UNKNOWN = 3 };

static const char check_usage[] =
	"usage: ballot check [OPTIONS] HISTORY.jsonl\n"
	"\n"
	"Decides whether a history of concurrent operations on a key-value map (read,\n"
	"write, cas, incr, append; one JSON object per line, see docs/history.md) is\n"
	"linearizable. HISTORY.jsonl may be - for standard input. For a violation it\n"
	"prints the smallest window of operations found that no order can explain,\n"
	"as JSON lines carrying their line numbers in the input.\n"
	"\n"
	"options:\n"
	"  --timeout-ms N   give up after N milliseconds of search (default 60000)\n"
	"  --memory-mb N    give up when the search needs more than N MiB (default 1024)\n"
	"  --max-steps N    give up after N search steps (default 1000000000)\n"
	"  -q, --quiet      print nothing; the exit status is the answer\n"
	"  -h, --help       this text\n"
	"\n"
	"exit status: 0 linearizable, 1 not linearizable, 2 malformed history or usage\n"
	"error, 3 gave up (a bound was reached; a larger one may decide)\n";

typedef struct check_opts {
	uint64_t timeout_ms;
	uint64_t memory_mb;
	uint64_t steps_max;
	bool quiet;
	const char *path;
} check_opts;

static uint64_t monotonic_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Splits "--flag=value" or takes the next argument as the value. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
	const char *eq = strchr(argv[*i], '=');
	if (eq != NULL)
		return eq + 1;
	if (*i + 1 >= argc) {
		cli_error("check: %s needs a value", flag);
		return NULL;
	}
	return argv[++*i];
}

static bool flag_is(const char *arg, const char *flag)
{
	size_t len = strlen(flag);
	return strncmp(arg, flag, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, check_opts *o)
{
	bool positional_only = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *v;
		if (!positional_only && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			fputs(check_usage, stdout);
			return CLI_EXIT_OK;
		}
		if (!positional_only && strcmp(arg, "--") == 0) {
			positional_only = true;
			continue;
		}
		if (!positional_only && (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)) {
			o->quiet = true;
			continue;
		}
		if (!positional_only && flag_is(arg, "--timeout-ms")) {
			if ((v = flag_value(argc, argv, &i, "--timeout-ms")) == NULL ||
			    !cli_parse_u64("--timeout-ms", v, 1, BALLOT_CHECK_TIMEOUT_MAX_MS, &o->timeout_ms))
				return CLI_EXIT_USAGE;
			continue;
		}
		if (!positional_only && flag_is(arg, "--memory-mb")) {
			if ((v = flag_value(argc, argv, &i, "--memory-mb")) == NULL ||
			    !cli_parse_u64("--memory-mb", v, 1, BALLOT_CHECK_MEMORY_MAX_BYTES >> 20, &o->memory_mb))
				return CLI_EXIT_USAGE;
			continue;
		}
		if (!positional_only && flag_is(arg, "--max-steps")) {
			if ((v = flag_value(argc, argv, &i, "--max-steps")) == NULL ||
			    !cli_parse_u64("--max-steps", v, 1, BALLOT_CHECK_STEPS_MAX, &o->steps_max))
				return CLI_EXIT_USAGE;
			continue;
		}
		if (!positional_only && arg[0] == '-' && arg[1] != '\0') {
			cli_error("check: unknown option '%s'; see ballot check --help", arg);
			return CLI_EXIT_USAGE;
		}
		if (o->path != NULL) {
			cli_error("check: one history at a time ('%s' and '%s')", o->path, arg);
			return CLI_EXIT_USAGE;
		}
		o->path = arg;
	}
	if (o->path == NULL) {
		fputs(check_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Reads the whole file (or standard input for "-") into b. */
static int read_all(const char *path, ballot_buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		cli_error("check: %s: %s", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	int status = -1;
	for (;;) {
		if (ballot_buf_reserve(b, 64 * 1024) != 0) {
			cli_error("check: %s: larger than %llu bytes, or out of memory", path,
				  (unsigned long long)BALLOT_CHECK_INPUT_MAX_BYTES);
			status = CLI_EXIT_USAGE;
			break;
		}
		size_t n = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
		b->len += n;
		if (n == 0) {
			if (ferror(f)) {
				cli_error("check: %s: %s", path, strerror(errno));
				status = CLI_EXIT_USAGE;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	return status;
}

/* One event of the window, for printing in line order. */
typedef struct window_event {
	uint64_t line;
	size_t op;
	bool completion;
} window_event;

static int cmp_event(const void *a, const void *b)
{
	const window_event *x = a, *y = b;
	return x->line < y->line ? -1 : x->line > y->line;
}

static size_t explain_fmt(const ballot_history *h, const void *arg, char *out, size_t cap)
{
	return ballot_check_explain(h, arg, out, cap);
}

/* Prints a formatter's text and a newline, sizing the buffer from its first answer. */
static void print_text(size_t (*fmt)(const ballot_history *, const void *, char *, size_t),
		       const ballot_history *h, const void *arg)
{
	char small[1024];
	size_t need = fmt(h, arg, small, sizeof small);
	if (need < sizeof small) {
		puts(small);
		return;
	}
	char *big = malloc(need + 1);
	if (big == NULL) {
		puts(small);
		return;
	}
	fmt(h, arg, big, need + 1);
	puts(big);
	free(big);
}

static void print_event(const ballot_history *h, size_t op, bool completion)
{
	char small[1024];
	size_t need = ballot_history_event_json(h, op, completion, small, sizeof small);
	if (need < sizeof small) {
		puts(small);
		return;
	}
	char *big = malloc(need + 1);
	if (big == NULL) {
		cli_error("check: out of memory printing line %zu", op);
		return;
	}
	ballot_history_event_json(h, op, completion, big, need + 1);
	puts(big);
	free(big);
}

static void print_window(const ballot_history *h, const ballot_check_result *r)
{
	window_event *events = calloc(r->window_len * 2 + 1, sizeof *events);
	if (events == NULL) {
		cli_error("check: out of memory printing the window");
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < r->window_len; i++) {
		ballot_op_view v;
		ballot_history_op(h, r->window[i], &v);
		events[n++] = (window_event){.line = v.invoke_line, .op = r->window[i]};
		if (v.completed)
			events[n++] = (window_event){.line = v.complete_line, .op = r->window[i], .completion = true};
	}
	qsort(events, n, sizeof *events, cmp_event);
	for (size_t i = 0; i < n; i++)
		print_event(h, events[i].op, events[i].completion);
	free(events);
}

int cli_check(int argc, char **argv)
{
	check_opts o = {
		.timeout_ms = BALLOT_CHECK_TIMEOUT_DEFAULT_MS,
		.memory_mb = BALLOT_CHECK_MEMORY_DEFAULT_BYTES >> 20,
		.steps_max = BALLOT_CHECK_STEPS_DEFAULT,
	};
	int status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;

	ballot_history *h = NULL;
	ballot_errmsg em;
	ballot_buf text;
	ballot_buf_init(&text, BALLOT_CHECK_INPUT_MAX_BYTES);
	status = read_all(o.path, &text);
	if (status >= 0)
		goto free_text;

	if (ballot_history_new(&h) != 0) {
		cli_error("check: out of memory");
		status = CHECK_EXIT_UNKNOWN;
		goto free_text;
	}
	int rc = ballot_history_parse_jsonl(h, text.data, text.len, NULL, &em);
	if (rc != 0) {
		cli_error("check: %s: %s", o.path, em.text);
		status = rc == BALLOT_ENOMEM ? CHECK_EXIT_UNKNOWN : CLI_EXIT_USAGE;
		goto free_history;
	}

	ballot_check_limits limits;
	ballot_check_limits_default(&limits);
	limits.steps_max = o.steps_max;
	limits.memory_bytes_max = o.memory_mb << 20; /* 1 MiB at least: above the minimum */
	limits.timeout_ms = o.timeout_ms;
	limits.clock_ms = monotonic_ms;
	ballot_check_result result;
	rc = ballot_check(h, &limits, &result, &em);
	if (rc != 0) {
		cli_error("check: %s", em.text);
		status = rc == BALLOT_EINVAL ? CLI_EXIT_USAGE : CHECK_EXIT_UNKNOWN;
		goto free_history;
	}
	switch (result.verdict) {
	case BALLOT_CHECK_LINEARIZABLE:
		status = CLI_EXIT_OK;
		break;
	case BALLOT_CHECK_NOT_LINEARIZABLE:
		status = CLI_EXIT_FAILURE;
		break;
	case BALLOT_CHECK_UNKNOWN:
		status = CHECK_EXIT_UNKNOWN;
		break;
	}
	if (!o.quiet) {
		print_text(explain_fmt, h, &result);
		if (result.verdict == BALLOT_CHECK_NOT_LINEARIZABLE)
			print_window(h, &result);
		if (result.verdict == BALLOT_CHECK_UNKNOWN)
			cli_error("check: %s: gave up at the %s bound; raise %s to decide", o.path,
				  ballot_check_bound_name(result.bound),
				  result.bound == BALLOT_CHECK_BOUND_TIME     ? "--timeout-ms"
				  : result.bound == BALLOT_CHECK_BOUND_MEMORY ? "--memory-mb"
									      : "--max-steps");
	}
	fflush(stdout);
	ballot_check_result_free(&result);
free_history:
	ballot_history_free(h);
free_text:
	ballot_buf_free(&text);
	return status;
}
