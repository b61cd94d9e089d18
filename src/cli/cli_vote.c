/* `ballot vote`: N-version programming from the shell.
 *
 * Runs each command as an independent version on the same standard input, then votes on
 * their standard outputs (whole outputs, or line by line with --lines), prints the winner,
 * and names every version that dissented or failed. Exit status: 0 a winner, 3 no winner,
 * 2 a usage error, 1 ballot itself could not run (130/143 when interrupted). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/vote.h"
#include "cli/cli.h"
#include "cli/vote_run.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/json.h"

static const char vote_usage[] =
	"usage: ballot vote [OPTIONS] [--] CMD CMD [CMD ...]\n"
	"\n"
	"Runs each CMD with /bin/sh -c as an independent version, gives every version the\n"
	"same standard input, and votes on their standard outputs. Prints the winning output\n"
	"and names each version that dissented or failed on stderr.\n"
	"\n"
	"options:\n"
	"  --policy P         majority (default), plurality, unanimous, threshold:M, weighted,\n"
	"                     median, mid-value (median and mid-value imply --numeric)\n"
	"  --weights W1,W2,.. one positive weight per version, for --policy weighted\n"
	"  --numeric          outputs are whitespace-separated numbers, voted field by field\n"
	"  --epsilon E        numbers within E of each other agree (implies --numeric)\n"
	"  --lines            vote line by line as the versions write (streams)\n"
	"  --timeout S        seconds before a version is killed and counts as failed\n"
	"                     (default 10; with --lines, the wait for each line)\n"
	"  --max-output B     bytes of output per version (default 64M; with --lines, per\n"
	"                     line, default 1M); suffixes K, M, G; more counts as failed\n"
	"  --report FILE      write a JSON report to FILE (- for stderr)\n"
	"  -h, --help         this text\n"
	"\n"
	"exit status: 0 a winner, 3 no winner, 2 usage error, 1 ballot could not run\n";

typedef struct vote_opts {
	ballot_vote_config config;
	double weights[BALLOT_VOTE_MODULES_MAX];
	size_t weight_count;
	bool numeric;
	bool lines;
	double timeout_s;
	size_t max_output;
	bool max_output_given;
	const char *report_path;
	char **cmds;
	size_t n;
} vote_opts;

/* The outcome of one vote (a whole run, or one line). */
typedef struct round_outcome {
	bool has_winner;
	char why[320];
	ballot_buf winner;
	ballot_verdict verdicts[BALLOT_VOTE_MODULES_MAX];
	char notes[BALLOT_VOTE_MODULES_MAX][BALLOT_ERRMSG_MAX + 32]; /* why a version failed this vote, if it did */
	unsigned support_count;
	double support_weight;
	double total_weight;
} round_outcome;

typedef struct line_stats {
	uint64_t agreed, dissented, failed;
} line_stats;

typedef struct vote_ctx {
	vote_opts *opts;
	vote_runner runner;
	ballot_number *numbers[BALLOT_VOTE_MODULES_MAX]; /* per version, BALLOT_VOTE_FIELDS_MAX */
	round_outcome round;
	/* --lines */
	uint64_t rounds;
	uint64_t rounds_without_winner;
	line_stats stats[BALLOT_VOTE_MODULES_MAX];
	bool reported_failure[BALLOT_VOTE_MODULES_MAX];
	bool in_progress, progress_again, lines_done;
	int error; /* ballot's own failure while voting (out of memory) */
} vote_ctx;

/* ---- flags -------------------------------------------------------------------------- */

static bool parse_policy(const char *arg, vote_opts *o)
{
	const char *colon = strchr(arg, ':');
	if (strncmp(arg, "threshold", 9) == 0 && (arg[9] == ':' || arg[9] == '\0')) {
		uint64_t m;
		if (colon == NULL || colon[1] == '\0') {
			cli_error("--policy threshold needs M, as threshold:M (e.g. threshold:2)");
			return false;
		}
		if (!cli_parse_u64("--policy threshold:M", colon + 1, 1, BALLOT_VOTE_MODULES_MAX, &m))
			return false;
		o->config.policy = BALLOT_POLICY_THRESHOLD;
		o->config.threshold = (unsigned)m;
		return true;
	}
	if (ballot_policy_parse(arg, &o->config.policy) != 0 || o->config.policy == BALLOT_POLICY_THRESHOLD) {
		cli_error("--policy '%s': unknown; use majority, plurality, unanimous, threshold:M, "
			  "weighted, median or mid-value", arg);
		return false;
	}
	return true;
}

static bool parse_weights(const char *arg, vote_opts *o)
{
	char copy[4096];
	if (strlen(arg) >= sizeof copy) {
		cli_error("--weights: too long");
		return false;
	}
	strcpy(copy, arg);
	o->weight_count = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->weight_count == BALLOT_VOTE_MODULES_MAX) {
			cli_error("--weights: more than %d weights", BALLOT_VOTE_MODULES_MAX);
			return false;
		}
		double w;
		if (!cli_parse_double("--weights", tok, &w))
			return false;
		if (w <= 0) {
			cli_error("--weights: weight %s of version %zu is not a positive number", tok,
				  o->weight_count + 1);
			return false;
		}
		o->weights[o->weight_count++] = w;
	}
	if (o->weight_count == 0) {
		cli_error("--weights '%s': give one positive weight per version, as 2,1,1", arg);
		return false;
	}
	return true;
}

static bool parse_size(const char *flag, const char *arg, size_t *out)
{
	char digits[32];
	size_t len = strlen(arg);
	uint64_t scale = 1;
	if (len > 0 && len < sizeof digits) {
		char last = arg[len - 1];
		if (last == 'K' || last == 'k')
			scale = 1024;
		else if (last == 'M' || last == 'm')
			scale = 1024 * 1024;
		else if (last == 'G' || last == 'g')
			scale = 1024 * 1024 * 1024;
	}
	if (len >= sizeof digits) {
		cli_error("%s '%s': not a size", flag, arg);
		return false;
	}
	memcpy(digits, arg, len + 1);
	if (scale != 1)
		digits[len - 1] = '\0';
	uint64_t v;
	if (!cli_parse_u64(flag, digits, 1, BALLOT_VOTE_OUTPUT_MAX_BYTES / scale, &v))
		return false;
	*out = (size_t)(v * scale);
	return true;
}

/* Splits "--flag=value" or takes the next argument as the value. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
	const char *eq = strchr(argv[*i], '=');
	if (eq != NULL)
		return eq + 1;
	if (*i + 1 >= argc) {
		cli_error("%s needs a value", flag);
		return NULL;
	}
	return argv[++*i];
}

static bool flag_is(const char *arg, const char *flag)
{
	size_t len = strlen(flag);
	return strncmp(arg, flag, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static int parse_flag(int argc, char **argv, int *i, vote_opts *o)
{
	const char *arg = argv[*i];
	const char *v = NULL;
	if (strcmp(arg, "--numeric") == 0) {
		o->numeric = true;
		return 0;
	}
	if (strcmp(arg, "--lines") == 0) {
		o->lines = true;
		return 0;
	}
	static const char *const valued[] = {"--policy", "--weights", "--epsilon", "--timeout",
					     "--max-output", "--report"};
	const char *flag = NULL;
	for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
		if (flag_is(arg, valued[k]))
			flag = valued[k];
	}
	if (flag == NULL) {
		cli_error("vote: unknown option '%s' (see ballot vote --help)", arg);
		return -1;
	}
	if ((v = flag_value(argc, argv, i, flag)) == NULL)
		return -1;
	bool ok = true;
	if (strcmp(flag, "--policy") == 0) {
		ok = parse_policy(v, o);
	} else if (strcmp(flag, "--weights") == 0) {
		ok = parse_weights(v, o);
	} else if (strcmp(flag, "--epsilon") == 0) {
		ok = cli_parse_double(flag, v, &o->config.epsilon);
		if (ok && o->config.epsilon < 0) {
			cli_error("--epsilon %s: must be >= 0", v);
			ok = false;
		}
		o->numeric = true;
	} else if (strcmp(flag, "--timeout") == 0) {
		ok = cli_parse_double(flag, v, &o->timeout_s);
		if (ok && (o->timeout_s <= 0 || o->timeout_s > BALLOT_VOTE_TIMEOUT_MAX_S)) {
			cli_error("--timeout %s: must be more than 0 and at most %d seconds", v,
				  BALLOT_VOTE_TIMEOUT_MAX_S);
			ok = false;
		}
	} else if (strcmp(flag, "--max-output") == 0) {
		ok = parse_size(flag, v, &o->max_output);
		o->max_output_given = true;
	} else {
		o->report_path = v;
	}
	return ok ? 0 : -1;
}

/* Checks what one flag cannot: relations between flags and the commands. */
static bool check_opts(vote_opts *o)
{
	if (o->n < 1) {
		cli_error("vote: give the versions to run, as ballot vote 'cmd1' 'cmd2' 'cmd3'");
		return false;
	}
	if (o->n > BALLOT_VOTE_MODULES_MAX) {
		cli_error("vote: %zu versions: at most %d", o->n, BALLOT_VOTE_MODULES_MAX);
		return false;
	}
	if (o->config.policy == BALLOT_POLICY_THRESHOLD && o->config.threshold > o->n) {
		cli_error("--policy threshold:%u: more than the %zu versions given", o->config.threshold, o->n);
		return false;
	}
	if (o->weight_count > 0 && o->config.policy != BALLOT_POLICY_WEIGHTED) {
		cli_error("--weights is used only by --policy weighted");
		return false;
	}
	if (o->weight_count > 0 && o->weight_count != o->n) {
		cli_error("--weights: %zu weights for %zu versions; give one per version", o->weight_count, o->n);
		return false;
	}
	if (ballot_policy_is_numeric(o->config.policy))
		o->numeric = true;
	if (o->lines && !o->max_output_given)
		o->max_output = BALLOT_VOTE_LINE_MAX_BYTES;
	if (o->lines && o->max_output > BALLOT_VOTE_LINE_MAX_BYTES) {
		cli_error("--max-output %zu: with --lines, a line is at most %u bytes", o->max_output,
			  BALLOT_VOTE_LINE_MAX_BYTES);
		return false;
	}
	o->config.weights = o->weight_count > 0 ? o->weights : NULL;
	return true;
}

/* Returns -1 after --help (exit 0), -2 on a usage error (exit 2), else 0. */
static int parse_args(int argc, char **argv, vote_opts *o)
{
	memset(o, 0, sizeof *o);
	o->config.policy = BALLOT_POLICY_MAJORITY;
	o->timeout_s = BALLOT_VOTE_TIMEOUT_DEFAULT_S;
	o->max_output = BALLOT_VOTE_OUTPUT_DEFAULT_BYTES;
	int i = 1;
	for (; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(vote_usage, stdout);
			return -1;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (parse_flag(argc, argv, &i, o) != 0)
			return -2;
	}
	o->cmds = argv + i;
	o->n = (size_t)(argc - i);
	return check_opts(o) ? 0 : -2;
}

/* ---- voting ------------------------------------------------------------------------- */

static void outcome_reset(round_outcome *out, size_t n)
{
	out->has_winner = false;
	out->why[0] = '\0';
	ballot_buf_clear(&out->winner);
	out->support_count = 0;
	out->support_weight = 0;
	out->total_weight = 0;
	for (size_t i = 0; i < n; i++) {
		out->verdicts[i] = BALLOT_VERDICT_UNDECIDED;
		out->notes[i][0] = '\0';
	}
}

static void outcome_take(round_outcome *out, const ballot_vote_result *r, size_t n)
{
	out->has_winner = r->has_winner;
	if (!r->has_winner)
		snprintf(out->why, sizeof out->why, "%s", ballot_no_winner_text(r->reason));
	out->support_count = r->support_count;
	out->support_weight = r->support_weight;
	out->total_weight = r->total_weight;
	for (size_t i = 0; i < n; i++) {
		if (out->verdicts[i] != BALLOT_VERDICT_FAILED)
			out->verdicts[i] = r->verdicts[i];
	}
}

static int vote_bytes(vote_ctx *c, const ballot_output *in, round_outcome *out)
{
	size_t n = c->opts->n;
	ballot_vote_result r;
	ballot_errmsg em;
	if (ballot_vote(&c->opts->config, in, n, NULL, &r, &em) != 0) {
		cli_error("vote: %s", em.text);
		return -1;
	}
	outcome_take(out, &r, n);
	if (r.has_winner)
		return ballot_buf_append(&out->winner, in[r.winner_index].data, in[r.winner_index].len);
	return 0;
}

/* The winning text of one numeric field: the layout version's own token when it holds the
 * winning value, else the token of the version that won, else (median, mid-value) the
 * computed number. */
static int append_field(vote_ctx *c, ballot_buf *b, const ballot_vote_result *r, const ballot_output *in,
			size_t field, int layout)
{
	int from = c->numbers[layout][field].value == r->winner_number ? layout : r->winner_index;
	if (from >= 0) {
		const ballot_number *num = &c->numbers[from][field];
		return ballot_buf_append(b, (const char *)in[from].data + num->offset, num->len);
	}
	char text[32];
	int len = ballot_format_double(text, r->winner_number);
	return ballot_buf_append(b, text, (size_t)len);
}

/* How many numbers the winner has: the count with the most support (weight, for the
 * weighted policy) among the versions that printed numbers; -1 if two counts tie. The
 * field votes then apply the policy itself. */
static long vote_field_count(const vote_ctx *c, const ballot_output *shape, const size_t *counts)
{
	const double *weights = c->opts->config.weights;
	bool by_weight = c->opts->config.policy == BALLOT_POLICY_WEIGHTED;
	double best = 0;
	long best_count = -1;
	bool tie = false;
	for (size_t i = 0; i < c->opts->n; i++) {
		if (shape[i].kind == BALLOT_OUTPUT_FAILED)
			continue;
		double support = 0;
		for (size_t j = 0; j < c->opts->n; j++) {
			if (shape[j].kind != BALLOT_OUTPUT_FAILED && counts[j] == counts[i])
				support += by_weight && weights ? weights[j] : 1.0;
		}
		if (support > best) {
			best = support;
			best_count = (long)counts[i];
			tie = false;
		} else if (support == best && (long)counts[i] != best_count) {
			tie = true;
		}
	}
	return tie ? -1 : best_count;
}

static double weight_of(const vote_ctx *c, size_t i)
{
	return c->opts->config.weights ? c->opts->config.weights[i] : 1.0;
}

/* Parses each answer into c->numbers; shape[i] is its count of numbers (or failed, with a
 * note, if it is not numbers at all). */
static void parse_numeric_outputs(vote_ctx *c, const ballot_output *in, round_outcome *out,
				  ballot_output *shape, size_t *counts)
{
	for (size_t i = 0; i < c->opts->n; i++) {
		shape[i] = ballot_output_failed();
		counts[i] = 0;
		if (in[i].kind == BALLOT_OUTPUT_FAILED)
			continue;
		ballot_errmsg em;
		if (ballot_numbers_parse(in[i].data, in[i].len, c->numbers[i], BALLOT_VOTE_FIELDS_MAX,
					 &counts[i], &em) != 0) {
			out->verdicts[i] = BALLOT_VERDICT_FAILED;
			snprintf(out->notes[i], sizeof out->notes[i], "output is not numeric: %s", em.text);
			continue;
		}
		shape[i] = ballot_output_number((double)counts[i]);
	}
}

/* No numbers to vote: the policy decides on the (empty) shape itself. */
static int vote_empty_outputs(vote_ctx *c, const ballot_output *in, const ballot_output *shape,
			      round_outcome *out)
{
	ballot_vote_config empty = c->opts->config;
	empty.epsilon = 0;
	if (ballot_policy_is_numeric(empty.policy))
		empty.policy = BALLOT_POLICY_MAJORITY;
	ballot_vote_result r;
	ballot_errmsg em;
	if (ballot_vote(&empty, shape, c->opts->n, NULL, &r, &em) != 0) {
		cli_error("vote: %s", em.text);
		return -1;
	}
	outcome_take(out, &r, c->opts->n);
	if (r.has_winner)
		return ballot_buf_append(&out->winner, in[r.winner_index].data, in[r.winner_index].len);
	return 0;
}

/* Votes field by field among the versions of the winning shape (the others count as failed
 * for each field), into results[0..fields); marks who dissented on any field. Returns 0, 1
 * if a field has no winner (out says why), or -1 if ballot itself failed. */
static int vote_fields(vote_ctx *c, const ballot_output *shape, const size_t *counts, size_t fields,
		       ballot_vote_result *results, bool *dissent, round_outcome *out)
{
	size_t n = c->opts->n;
	ballot_output values[BALLOT_VOTE_MODULES_MAX];
	for (size_t f = 0; f < fields; f++) {
		for (size_t i = 0; i < n; i++) {
			bool usable = shape[i].kind != BALLOT_OUTPUT_FAILED && counts[i] == fields;
			values[i] = usable ? ballot_output_number(c->numbers[i][f].value) : ballot_output_failed();
		}
		ballot_errmsg em;
		if (ballot_vote(&c->opts->config, values, n, NULL, &results[f], &em) != 0) {
			cli_error("vote: %s", em.text);
			return -1;
		}
		if (!results[f].has_winner) {
			outcome_take(out, &results[f], n);
			snprintf(out->why, sizeof out->why, "number %zu: %s", f + 1,
				 ballot_no_winner_text(results[f].reason));
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			dissent[i] |= results[f].verdicts[i] == BALLOT_VERDICT_DISSENTED;
	}
	return 0;
}

/* Verdicts over all fields and the support; returns the version whose layout the winner
 * takes: the first that agreed on every field, else the first of the winning shape. */
static int numeric_verdicts(vote_ctx *c, const ballot_output *shape, const size_t *counts, size_t fields,
			    const bool *dissent, round_outcome *out)
{
	int layout = -1;
	out->has_winner = true;
	for (size_t i = 0; i < c->opts->n; i++) {
		out->total_weight += weight_of(c, i);
		if (shape[i].kind == BALLOT_OUTPUT_FAILED) {
			out->verdicts[i] = BALLOT_VERDICT_FAILED;
			continue;
		}
		out->verdicts[i] = dissent[i] ? BALLOT_VERDICT_DISSENTED : BALLOT_VERDICT_AGREED;
		if (dissent[i])
			continue;
		out->support_count++;
		out->support_weight += weight_of(c, i);
		if (layout < 0)
			layout = (int)i;
	}
	for (size_t i = 0; i < c->opts->n && layout < 0; i++) {
		if (shape[i].kind != BALLOT_OUTPUT_FAILED && counts[i] == fields)
			layout = (int)i;
	}
	BALLOT_ASSERT(layout >= 0);
	return layout;
}

/* The winner: the layout version's text with each number replaced by its field's winner. */
static int build_numeric_winner(vote_ctx *c, const ballot_output *in, const ballot_vote_result *results,
				size_t fields, int layout, ballot_buf *winner)
{
	const char *text = in[layout].data;
	size_t at = 0;
	int rc = 0;
	for (size_t f = 0; f < fields && rc == 0; f++) {
		const ballot_number *num = &c->numbers[layout][f];
		rc = ballot_buf_append(winner, text + at, num->offset - at);
		if (rc == 0)
			rc = append_field(c, winner, &results[f], in, f, layout);
		at = num->offset + num->len;
	}
	if (rc == 0)
		rc = ballot_buf_append(winner, text + at, in[layout].len - at);
	return rc == 0 ? 0 : -1;
}

/* Numeric vote: parse, decide how many numbers, then vote field by field; the winner keeps
 * the layout of a version that agreed on every field. */
static int vote_numeric(vote_ctx *c, const ballot_output *in, round_outcome *out)
{
	size_t n = c->opts->n;
	size_t counts[BALLOT_VOTE_MODULES_MAX];
	ballot_output shape[BALLOT_VOTE_MODULES_MAX];
	parse_numeric_outputs(c, in, out, shape, counts);
	bool all_failed = true;
	for (size_t i = 0; i < n; i++)
		all_failed &= shape[i].kind == BALLOT_OUTPUT_FAILED;
	if (all_failed) {
		snprintf(out->why, sizeof out->why, "%s", ballot_no_winner_text(BALLOT_NO_ALL_FAILED));
		return 0;
	}
	long winning_count = vote_field_count(c, shape, counts);
	if (winning_count < 0) {
		snprintf(out->why, sizeof out->why, "the versions do not agree on how many numbers they print");
		return 0;
	}
	size_t fields = (size_t)winning_count;
	if (fields == 0)
		return vote_empty_outputs(c, in, shape, out);
	bool dissent[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < n; i++)
		dissent[i] = shape[i].kind != BALLOT_OUTPUT_FAILED && counts[i] != fields;
	ballot_vote_result *results = malloc(fields * sizeof *results);
	if (results == NULL)
		return -1;
	int rc = vote_fields(c, shape, counts, fields, results, dissent, out);
	if (rc == 0) {
		int layout = numeric_verdicts(c, shape, counts, fields, dissent, out);
		rc = build_numeric_winner(c, in, results, fields, layout, &out->winner);
	}
	free(results);
	return rc < 0 ? -1 : 0;
}

/* Votes over in[0..n) (bytes, or failed) into c->round. Returns 0, or -1 if ballot itself
 * failed (a message was printed). */
static int vote_round(vote_ctx *c, const ballot_output *in)
{
	round_outcome *out = &c->round;
	outcome_reset(out, c->opts->n);
	for (size_t i = 0; i < c->opts->n; i++) {
		if (in[i].kind == BALLOT_OUTPUT_FAILED)
			out->verdicts[i] = BALLOT_VERDICT_FAILED;
	}
	return c->opts->numeric ? vote_numeric(c, in, out) : vote_bytes(c, in, out);
}

/* ---- messages and the report -------------------------------------------------------- */

/* The command as messages show it: at most 60 characters. */
static void short_cmd(const char *cmd, char out[64])
{
	size_t len = strlen(cmd);
	if (len <= 60) {
		memcpy(out, cmd, len + 1);
		return;
	}
	memcpy(out, cmd, 57);
	memcpy(out + 57, "...", 4);
}

/* Why version i failed: the runner's reason or its exit, a vote note, and its first line
 * of stderr. */
static void failure_text(const vote_ctx *c, size_t i, char *out, size_t cap)
{
	const vote_proc *p = &c->runner.procs[i];
	char how[256];
	if (c->round.notes[i][0] != '\0' && !p->failed && p->exit_status == 0 && p->term_signal == 0)
		snprintf(how, sizeof how, "%s", c->round.notes[i]);
	else
		vote_proc_describe(p, how, sizeof how);
	size_t line_len = 0;
	while (line_len < p->err.len && line_len < 120 && p->err.data[line_len] != '\n')
		line_len++;
	if (line_len > 0)
		snprintf(out, cap, "%s: %.*s", how, (int)line_len, p->err.data);
	else
		snprintf(out, cap, "%s", how);
}

static void report_version_line(const vote_ctx *c, size_t i, const char *prefix, const char *verdict)
{
	char cmd[64];
	short_cmd(c->opts->cmds[i], cmd);
	if (strcmp(verdict, "failed") == 0) {
		char why[512];
		failure_text(c, i, why, sizeof why);
		fprintf(stderr, "ballot: %sversion %zu (%s) failed: %s\n", prefix, i + 1, cmd, why);
	} else {
		fprintf(stderr, "ballot: %sversion %zu (%s) %s\n", prefix, i + 1, cmd, verdict);
	}
}

static bool proc_failed(const vote_proc *p)
{
	return p->failed || p->exit_status != 0 || p->term_signal != 0;
}

static const char *final_verdict(const vote_ctx *c, size_t i)
{
	if (!c->opts->lines)
		return ballot_verdict_name(c->round.verdicts[i]);
	if (proc_failed(&c->runner.procs[i]))
		return "failed";
	if (c->stats[i].dissented > 0)
		return "dissented";
	if (c->stats[i].failed > 0)
		return "failed";
	return c->stats[i].agreed > 0 ? "agreed" : "undecided";
}

static void write_report_versions(const vote_ctx *c, json_writer *w)
{
	json_key(w, "versions");
	json_array_begin(w);
	for (size_t i = 0; i < c->opts->n; i++) {
		const vote_proc *p = &c->runner.procs[i];
		json_object_begin(w);
		json_key(w, "version");
		json_uint(w, i + 1);
		json_key(w, "command");
		json_string(w, c->opts->cmds[i]);
		json_key(w, "exit_status");
		if (p->spawned && p->exited && p->term_signal == 0)
			json_int(w, p->exit_status);
		else
			json_null(w);
		json_key(w, "signal");
		if (p->term_signal != 0)
			json_int(w, p->term_signal);
		else
			json_null(w);
		json_key(w, "run_time_ms");
		json_double(w, p->exited ? (double)(p->end_ns - p->start_ns) / 1e6 : 0.0);
		json_key(w, "output_bytes");
		json_uint(w, p->out_total);
		const char *verdict = final_verdict(c, i);
		json_key(w, "verdict");
		json_string(w, verdict);
		json_key(w, "error");
		if (strcmp(verdict, "failed") == 0) {
			char why[512];
			failure_text(c, i, why, sizeof why);
			json_string(w, why);
		} else {
			json_null(w);
		}
		json_key(w, "stderr");
		json_string_n(w, p->err.data ? p->err.data : "", p->err.len);
		if (c->opts->lines) {
			json_key(w, "lines");
			json_object_begin(w);
			json_key(w, "agreed");
			json_uint(w, c->stats[i].agreed);
			json_key(w, "dissented");
			json_uint(w, c->stats[i].dissented);
			json_key(w, "failed");
			json_uint(w, c->stats[i].failed);
			json_object_end(w);
		}
		json_object_end(w);
	}
	json_array_end(w);
}

static int write_report(const vote_ctx *c, FILE *f)
{
	const vote_opts *o = c->opts;
	ballot_buf b;
	ballot_buf_init(&b, 0);
	json_writer w;
	json_init(&w, &b);
	json_object_begin(&w);
	json_key(&w, "policy");
	json_string(&w, ballot_policy_name(o->config.policy));
	if (o->config.policy == BALLOT_POLICY_THRESHOLD) {
		json_key(&w, "threshold");
		json_uint(&w, o->config.threshold);
	}
	json_key(&w, "numeric");
	json_bool(&w, o->numeric);
	json_key(&w, "epsilon");
	json_double(&w, o->config.epsilon);
	json_key(&w, "lines");
	json_bool(&w, o->lines);
	json_key(&w, "timeout_s");
	json_double(&w, o->timeout_s);
	if (o->lines) {
		json_key(&w, "rounds");
		json_uint(&w, c->rounds);
		json_key(&w, "rounds_without_winner");
		json_uint(&w, c->rounds_without_winner);
	} else {
		json_key(&w, "has_winner");
		json_bool(&w, c->round.has_winner);
		json_key(&w, "winner");
		if (c->round.has_winner)
			json_string_n(&w, c->round.winner.data ? c->round.winner.data : "", c->round.winner.len);
		else
			json_null(&w);
		json_key(&w, "reason");
		if (c->round.has_winner)
			json_null(&w);
		else
			json_string(&w, c->round.why);
		json_key(&w, "support");
		json_object_begin(&w);
		json_key(&w, "count");
		json_uint(&w, c->round.support_count);
		json_key(&w, "weight");
		json_double(&w, c->round.support_weight);
		json_key(&w, "total_weight");
		json_double(&w, c->round.total_weight);
		json_object_end(&w);
	}
	write_report_versions(c, &w);
	json_object_end(&w);
	int rc = w.rc;
	if (rc == 0) {
		fwrite(b.data, 1, b.len, f);
		fputc('\n', f);
		rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	}
	ballot_buf_free(&b);
	return rc;
}

/* ---- whole outputs ------------------------------------------------------------------ */

static void on_whole_timeout(uv_timer_t *timer)
{
	vote_ctx *c = timer->data;
	vote_runner *r = &c->runner;
	for (size_t i = 0; i < r->n; i++) {
		vote_proc *p = &r->procs[i];
		if (p->finished)
			continue;
		if (!p->exited)
			vote_runner_fail(r, i, "timed out after %g s (--timeout)", c->opts->timeout_s);
		else
			vote_runner_fail(r, i, "exited, but a process it started still held its output "
				      "open after %g s", c->opts->timeout_s);
	}
}

static int decide_whole(vote_ctx *c)
{
	ballot_output in[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < c->opts->n; i++) {
		const vote_proc *p = &c->runner.procs[i];
		in[i] = proc_failed(p) ? ballot_output_failed()
				       : ballot_output_bytes(p->out.data ? p->out.data : "", p->out.len);
	}
	if (vote_round(c, in) != 0)
		return CLI_EXIT_FAILURE;
	const round_outcome *out = &c->round;
	for (size_t i = 0; i < c->opts->n; i++) {
		if (out->verdicts[i] == BALLOT_VERDICT_DISSENTED || out->verdicts[i] == BALLOT_VERDICT_FAILED)
			report_version_line(c, i, "", ballot_verdict_name(out->verdicts[i]));
	}
	if (!out->has_winner) {
		fprintf(stderr, "ballot: no winner: %s\n", out->why);
		return CLI_EXIT_NO_WINNER;
	}
	if (out->winner.len > 0)
		fwrite(out->winner.data, 1, out->winner.len, stdout);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* ---- line by line ------------------------------------------------------------------- */

typedef enum { LINE_WAITING, LINE_READY, LINE_GONE } line_state;

/* Whether version i has its next line (and how long it is, without the newline). */
static line_state next_line(vote_ctx *c, size_t i, size_t *len, size_t *consumed)
{
	vote_proc *p = &c->runner.procs[i];
	if (p->failed)
		return LINE_GONE;
	const char *nl = p->out.len ? memchr(p->out.data, '\n', p->out.len) : NULL;
	if (nl != NULL) {
		*len = (size_t)(nl - p->out.data);
		*consumed = *len + 1;
		return LINE_READY;
	}
	if (p->out_open && p->out.len >= c->runner.out_limit) {
		vote_runner_fail(&c->runner, i, "wrote a line longer than %zu bytes (--max-output)",
				 c->runner.out_limit);
		return LINE_GONE;
	}
	if (p->out_open)
		return LINE_WAITING;
	if (p->out.len == 0)
		return LINE_GONE;
	*len = *consumed = p->out.len; /* a last line without a newline */
	return LINE_READY;
}

static void report_new_failures(vote_ctx *c)
{
	for (size_t i = 0; i < c->opts->n; i++) {
		const vote_proc *p = &c->runner.procs[i];
		if (c->reported_failure[i] || !p->failed)
			continue;
		c->reported_failure[i] = true;
		report_version_line(c, i, "", "failed");
	}
}

static void on_line_timeout(uv_timer_t *timer);

static void vote_line(vote_ctx *c, const size_t *lens, const size_t *consumed, const line_state *states)
{
	size_t n = c->opts->n;
	ballot_output in[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < n; i++) {
		in[i] = states[i] == LINE_READY ? ballot_output_bytes(c->runner.procs[i].out.data, lens[i])
						: ballot_output_failed();
	}
	c->rounds++;
	if (vote_round(c, in) != 0) {
		c->error = 1;
		return;
	}
	char prefix[48];
	snprintf(prefix, sizeof prefix, "line %llu: ", (unsigned long long)c->rounds);
	for (size_t i = 0; i < n; i++) {
		ballot_verdict v = c->round.verdicts[i];
		c->stats[i].agreed += v == BALLOT_VERDICT_AGREED;
		c->stats[i].dissented += v == BALLOT_VERDICT_DISSENTED;
		c->stats[i].failed += v == BALLOT_VERDICT_FAILED;
		if (v == BALLOT_VERDICT_DISSENTED)
			report_version_line(c, i, prefix, "dissented");
		else if (v == BALLOT_VERDICT_FAILED && c->round.notes[i][0] != '\0')
			fprintf(stderr, "ballot: %sversion %zu: %s\n", prefix, i + 1, c->round.notes[i]);
	}
	if (c->round.has_winner) {
		fwrite(c->round.winner.data ? c->round.winner.data : "", 1, c->round.winner.len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	} else {
		c->rounds_without_winner++;
		fprintf(stderr, "ballot: %sno winner: %s\n", prefix, c->round.why);
	}
	for (size_t i = 0; i < n; i++) {
		if (states[i] == LINE_READY)
			vote_runner_consume(&c->runner, i, consumed[i]);
	}
}

/* Votes every line that all versions have written (or can no longer write). */
static void lines_progress(vote_runner *r, void *ctx)
{
	vote_ctx *c = ctx;
	if (c->in_progress) {
		c->progress_again = true; /* failing a version calls back here; finish this pass first */
		return;
	}
	c->in_progress = true;
	do {
		c->progress_again = false;
		for (;;) {
			size_t lens[BALLOT_VOTE_MODULES_MAX], consumed[BALLOT_VOTE_MODULES_MAX];
			line_state states[BALLOT_VOTE_MODULES_MAX];
			bool waiting = false, ready = false;
			for (size_t i = 0; i < r->n; i++) {
				states[i] = next_line(c, i, &lens[i], &consumed[i]);
				waiting |= states[i] == LINE_WAITING;
				ready |= states[i] == LINE_READY;
			}
			report_new_failures(c);
			if (waiting || c->error)
				break;
			if (!ready) {
				/* Every output is closed: give stragglers one more timeout to exit. */
				if (!c->lines_done && r->unfinished > 0)
					vote_runner_deadline(r, (uint64_t)(c->opts->timeout_s * 1000), on_line_timeout);
				c->lines_done = true;
				break;
			}
			vote_line(c, lens, consumed, states);
			vote_runner_deadline(r, (uint64_t)(c->opts->timeout_s * 1000), on_line_timeout);
		}
	} while (c->progress_again);
	c->in_progress = false;
}

static void on_line_timeout(uv_timer_t *timer)
{
	vote_ctx *c = timer->data;
	vote_runner *r = &c->runner;
	for (size_t i = 0; i < r->n; i++) {
		vote_proc *p = &r->procs[i];
		if (p->finished || p->failed)
			continue;
		if (c->lines_done)
			vote_runner_fail(r, i, "did not exit within %g s of closing its output", c->opts->timeout_s);
		else if (p->out_open && (p->out.len == 0 || memchr(p->out.data, '\n', p->out.len) == NULL))
			vote_runner_fail(r, i, "wrote no line %llu within %g s (--timeout)",
					 (unsigned long long)c->rounds + 1, c->opts->timeout_s);
	}
	lines_progress(r, c);
}

static int finish_lines(vote_ctx *c)
{
	report_new_failures(c);
	bool any_ok = false;
	for (size_t i = 0; i < c->opts->n; i++) {
		const vote_proc *p = &c->runner.procs[i];
		if (!p->failed && proc_failed(p))
			report_version_line(c, i, "", "failed");
		any_ok |= !proc_failed(p);
	}
	if (c->error)
		return CLI_EXIT_FAILURE;
	if (c->rounds_without_winner > 0) {
		fprintf(stderr, "ballot: %llu of %llu lines had no winner\n",
			(unsigned long long)c->rounds_without_winner, (unsigned long long)c->rounds);
		return CLI_EXIT_NO_WINNER;
	}
	if (c->rounds == 0 && !any_ok) {
		fprintf(stderr, "ballot: no winner: %s\n", ballot_no_winner_text(BALLOT_NO_ALL_FAILED));
		return CLI_EXIT_NO_WINNER;
	}
	return CLI_EXIT_OK;
}

/* ---- the command -------------------------------------------------------------------- */

static int ctx_init(vote_ctx *c, vote_opts *o)
{
	memset(c, 0, sizeof *c);
	c->opts = o;
	ballot_buf_init(&c->round.winner, 0);
	if (!o->numeric)
		return 0;
	for (size_t i = 0; i < o->n; i++) {
		c->numbers[i] = malloc(BALLOT_VOTE_FIELDS_MAX * sizeof(ballot_number));
		if (c->numbers[i] == NULL)
			return -1;
	}
	return 0;
}

static void ctx_free(vote_ctx *c)
{
	for (size_t i = 0; i < BALLOT_VOTE_MODULES_MAX; i++)
		free(c->numbers[i]);
	ballot_buf_free(&c->round.winner);
}

static int run_versions(vote_ctx *c, FILE *report)
{
	vote_opts *o = c->opts;
	vote_runner *r = &c->runner;
	int rc = vote_runner_init(r, o->cmds, o->n, o->max_output, o->lines,
				  o->lines ? lines_progress : NULL, c);
	if (rc != 0) {
		cli_error("vote: cannot start an event loop: %s", uv_strerror(rc));
		return CLI_EXIT_FAILURE;
	}
	r->timer.data = c;
	vote_runner_start(r);
	vote_runner_deadline(r, (uint64_t)ceil(o->timeout_s * 1000), o->lines ? on_line_timeout : on_whole_timeout);
	if (o->lines)
		lines_progress(r, c);
	vote_runner_run(r);

	int status;
	if (r->interrupted_by != 0) {
		cli_error("vote: interrupted by signal %d; every version was killed", r->interrupted_by);
		status = 128 + r->interrupted_by;
	} else {
		status = o->lines ? finish_lines(c) : decide_whole(c);
	}
	if (report != NULL && write_report(c, report) != 0) {
		cli_error("vote: could not write the report to %s", o->report_path);
		if (status == CLI_EXIT_OK)
			status = CLI_EXIT_FAILURE;
	}
	vote_runner_free(r);
	return status;
}

int cli_vote(int argc, char **argv)
{
	vote_opts opts;
	int rc = parse_args(argc, argv, &opts);
	if (rc == -1)
		return CLI_EXIT_OK;
	if (rc == -2)
		return CLI_EXIT_USAGE;
	FILE *report = NULL;
	if (opts.report_path != NULL) {
		report = strcmp(opts.report_path, "-") == 0 ? stderr : fopen(opts.report_path, "w");
		if (report == NULL) {
			cli_error("--report %s: cannot open for writing", opts.report_path);
			return CLI_EXIT_USAGE;
		}
	}
	vote_ctx *c = malloc(sizeof *c);
	if (c == NULL || ctx_init(c, &opts) != 0) {
		cli_error("vote: out of memory");
		if (c != NULL)
			ctx_free(c);
		free(c);
		return CLI_EXIT_FAILURE;
	}
	int status = run_versions(c, report);
	ctx_free(c);
	free(c);
	if (report != NULL && report != stderr)
		fclose(report);
	return status;
}
