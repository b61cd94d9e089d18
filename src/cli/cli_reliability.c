/* ballot reliability: the arithmetic of redundancy on the command line. Each subcommand
 * parses its flags, asks libballot (ballot/reliability.h) for the figures, and prints them
 * either for a reader or as one JSON object whose "result" field holds the main figure. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ballot/limits.h"
#include "ballot/reliability.h"
#include "cli/cli.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/json.h"

/* The usage texts below spell these limits out; keep them in step. */
_Static_assert(BALLOT_RELIABILITY_N_MAX == 1000, "update the usage texts: N is 1..1000");
_Static_assert(BALLOT_MONTE_CARLO_TRIALS_MAX == 1000000000ull,
	       "update the usage texts: TRIALS is 1..1000000000");

/* ---- Usage texts ------------------------------------------------------------------ */

static const char usage_reliability[] =
	"usage: ballot reliability SUBCOMMAND [FLAGS...]\n"
	"\n"
	"The arithmetic of redundancy. Each subcommand prints a readable answer, or with --json\n"
	"one JSON object whose \"result\" field holds the main figure. SUBCOMMAND --help lists\n"
	"its flags.\n"
	"\n"
	"subcommands:\n"
	"  nmr           reliability of an M-of-N system (N-modular redundancy) with a voter\n"
	"  availability  probability that at most F of N replicas are down; nines; downtime\n"
	"  quorum        cluster size for F crash or Byzantine faults, or check R/W quorums\n"
	"  mttf          mean time to failure of M-of-N, without or with repair\n"
	"  recovery      time to copy a replica's data back from K sources\n"
	"  table         simplex vs TMR vs 5MR for R = 0.00 ... 1.00, optionally as an SVG plot\n";

static const char usage_nmr[] =
	"usage: ballot reliability nmr --n N --r R [--m M] [--voter-r RV]\n"
	"                              [--monte-carlo TRIALS [--seed S]] [--json]\n"
	"\n"
	"Probability that at least M of N independent modules work, each with reliability R,\n"
	"times the voter's reliability RV:  RV * sum_{k=M..N} C(N,k) R^k (1-R)^(N-k).\n"
	"\n"
	"  --n N                 modules, 1..1000\n"
	"  --m M                 modules that must work, 1..N (default: a majority, floor(N/2)+1)\n"
	"  --r R                 reliability of one module, in [0, 1]\n"
	"  --voter-r RV          reliability of the voter, in [0, 1] (default 1, a perfect voter)\n"
	"  --monte-carlo TRIALS  also estimate it by simulating TRIALS systems, 1..1000000000\n"
	"  --seed S              seed of the simulation (default 1); same seed, same estimate\n"
	"  --json                print one JSON object; \"result\" is the reliability\n"
	"  --help                print this text\n"
	"\n"
	"example: ballot reliability nmr --n 3 --r 0.9     (TMR: 0.972)\n";

static const char usage_availability[] =
	"usage: ballot reliability availability --n N --p P [--f F]\n"
	"                                       [--monte-carlo TRIALS [--seed S]] [--json]\n"
	"\n"
	"Probability that at most F of N replicas are down, each down independently with\n"
	"probability P:  A = sum_{k=0..F} C(N,k) P^k (1-P)^(N-k). Also its nines, -log10(1-A),\n"
	"and the expected downtime per year (365.25 days).\n"
	"\n"
	"  --n N                 replicas, 1..1000\n"
	"  --p P                 probability that one replica is down, in [0, 1]\n"
	"  --f F                 replicas that may be down, 0..N (default floor((N-1)/2),\n"
	"                        what a majority quorum survives)\n"
	"  --monte-carlo TRIALS  also estimate it by simulating TRIALS clusters, 1..1000000000\n"
	"  --seed S              seed of the simulation (default 1); same seed, same estimate\n"
	"  --json                print one JSON object; \"result\" is the availability\n"
	"  --help                print this text\n"
	"\n"
	"example: ballot reliability availability --n 5 --p 0.1     (0.99144)\n";

static const char usage_quorum[] =
	"usage: ballot reliability quorum --f F [--byzantine] [--json]\n"
	"       ballot reliability quorum --n N --r R --w W [--json]\n"
	"\n"
	"With --f: the smallest cluster tolerating F faults and its quorum: crash faults need\n"
	"N = 2F+1 and quorums of F+1; Byzantine faults need N = 3F+1 and quorums of 2F+1.\n"
	"\"result\" is N.\n"
	"\n"
	"With --n, --r, --w: checks read quorum R and write quorum W over N replicas against\n"
	"R + W > N (every read sees the latest write) and W > N/2 (two writes cannot both\n"
	"succeed on disjoint replicas). \"result\" is true when both hold. Exits 0 when the\n"
	"configuration is safe, 1 when it is not.\n"
	"\n"
	"  --f F          faults to tolerate, 0..499 (crash) or 0..333 (Byzantine)\n"
	"  --byzantine    size for Byzantine (arbitrary) faults instead of crashes\n"
	"  --n N          replicas, 1..1000\n"
	"  --r R          read quorum, 1..N\n"
	"  --w W          write quorum, 1..N\n"
	"  --json         print one JSON object\n"
	"  --help         print this text\n"
	"\n"
	"examples: ballot reliability quorum --f 1 --byzantine     (N = 4, quorum 3)\n"
	"          ballot reliability quorum --n 3 --r 2 --w 2     (safe)\n";

static const char usage_mttf[] =
	"usage: ballot reliability mttf --lambda L [--n N] [--m M] [--mu MU] [--json]\n"
	"\n"
	"Mean time to failure of an M-of-N system whose modules fail at constant rate L.\n"
	"Without repair: sum_{k=M..N} 1/(k L) (TMR: 5/(6L)). With repair rate MU (one repair\n"
	"crew), the exact mean time to absorption of the birth-death chain N -> ... -> M-1\n"
	"(TMR: (5L + MU)/(6L^2)). Printed beside one module's MTTF, 1/L, and the ratio.\n"
	"Times are in the unit L is per: L per hour gives hours.\n"
	"\n"
	"  --lambda L     failure rate of one module, > 0\n"
	"  --n N          modules, 1..1000 (default 3)\n"
	"  --m M          modules that must work, 1..N (default: a majority, floor(N/2)+1)\n"
	"  --mu MU        repair rate, >= 0 (default 0: no repair)\n"
	"  --json         print one JSON object; \"result\" is the MTTF\n"
	"  --help         print this text\n"
	"\n"
	"example: ballot reliability mttf --lambda 0.001 --mu 0.1     (TMR with repair)\n";

static const char usage_recovery[] =
	"usage: ballot reliability recovery --data SIZE --bandwidth RATE --sources K [--json]\n"
	"\n"
	"Mean time to recover a replica by copying SIZE bytes from K sources in parallel, each\n"
	"sending at RATE:  time = SIZE / (RATE * K).\n"
	"\n"
	"  --data SIZE       bytes to copy: a number and an optional unit, B, KB, MB, GB, TB\n"
	"                    (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); e.g.\n"
	"                    512, 1.5TB, 10GiB\n"
	"  --bandwidth RATE  transfer rate of one source: bit/s, Kbit/s, Mbit/s, Gbit/s (or bps,\n"
	"                    Kbps, Mbps, Gbps), or B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s\n"
	"  --sources K       replicas sending in parallel, 1..1000\n"
	"  --json            print one JSON object; \"result\" is the time in seconds\n"
	"  --help            print this text\n"
	"\n"
	"example: ballot reliability recovery --data 10GiB --bandwidth 1Gbit/s --sources 1\n";

static const char usage_table[] =
	"usage: ballot reliability table [--plot FILE.svg] [--json]\n"
	"\n"
	"The classic comparison: reliability of simplex (R), TMR (3R^2 - 2R^3) and 5MR (3-of-5)\n"
	"for module reliabilities R = 0.00, 0.05, ..., 1.00, marking the rows where TMR is\n"
	"worse than a single module (below the crossover at R = 0.5).\n"
	"\n"
	"  --plot FILE.svg  also draw the three curves into a standalone SVG file\n"
	"  --json           print one JSON object; \"result\" is the list of rows\n"
	"  --help           print this text\n";

/* ---- Flags ------------------------------------------------------------------------ */

enum flag_kind {
	FLAG_SWITCH,       /* no value: --byzantine */
	FLAG_INTEGER,      /* an integer in [min, max] */
	FLAG_PROBABILITY,  /* a number in [0, 1] */
	FLAG_POSITIVE,     /* a finite number > 0 */
	FLAG_NON_NEGATIVE, /* a finite number >= 0 */
	FLAG_TEXT,         /* kept as given; the subcommand parses it */
};

typedef struct flag {
	const char *name; /* "--n" */
	enum flag_kind kind;
	uint64_t min, max; /* FLAG_INTEGER bounds */
	bool seen;
	uint64_t integer;
	double number;
	const char *text;
} flag;

typedef struct command {
	const char *name;  /* "nmr" */
	const char *usage;
	flag *flags;
	size_t flag_count;
	bool json;
} command;

/* Initialisers of the flag tables below. */
#define VALUE_FLAG(flag_name, flag_kind) {.name = (flag_name), .kind = (flag_kind)}
#define INTEGER_FLAG(flag_name, lo, hi) \
	{.name = (flag_name), .kind = FLAG_INTEGER, .min = (lo), .max = (hi)}
#define COUNT_FLAG(flag_name) INTEGER_FLAG(flag_name, 1, BALLOT_RELIABILITY_N_MAX)
#define TRIALS_FLAG INTEGER_FLAG("--monte-carlo", 1, BALLOT_MONTE_CARLO_TRIALS_MAX)
#define SEED_FLAG INTEGER_FLAG("--seed", 0, UINT64_MAX)

enum parse_outcome { PARSED, PARSE_HELP, PARSE_ERROR };

static flag *find_flag(command *cmd, const char *name, size_t name_len)
{
	for (size_t i = 0; i < cmd->flag_count; i++) {
		const char *fn = cmd->flags[i].name;
		if (strlen(fn) == name_len && strncmp(fn, name, name_len) == 0)
			return &cmd->flags[i];
	}
	return NULL;
}

static bool parse_number(flag *f, const char *value)
{
	if (!cli_parse_double(f->name, value, &f->number))
		return false;
	if (f->kind == FLAG_PROBABILITY && !(f->number >= 0.0 && f->number <= 1.0)) {
		cli_error("%s %s: must be a probability in [0, 1]", f->name, value);
		return false;
	}
	if (f->kind == FLAG_POSITIVE && !(f->number > 0.0)) {
		cli_error("%s %s: must be greater than 0", f->name, value);
		return false;
	}
	if (f->kind == FLAG_NON_NEGATIVE && !(f->number >= 0.0)) {
		cli_error("%s %s: must not be negative", f->name, value);
		return false;
	}
	return true;
}

static bool parse_value(flag *f, const char *value)
{
	switch (f->kind) {
	case FLAG_INTEGER:
		return cli_parse_u64(f->name, value, f->min, f->max, &f->integer);
	case FLAG_PROBABILITY:
	case FLAG_POSITIVE:
	case FLAG_NON_NEGATIVE:
		return parse_number(f, value);
	case FLAG_TEXT:
		f->text = value;
		return true;
	case FLAG_SWITCH:
		break;
	}
	BALLOT_UNREACHABLE();
}

/* Parses the flag at argv[*i] ("--name VALUE" or "--name=VALUE"), advancing *i past the
 * value it consumes. Prints the problem and returns false on any error. */
static bool parse_flag(command *cmd, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const char *eq = strchr(arg, '=');
	size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	if (eq != NULL && name_len == 6 && strncmp(arg, "--json", 6) == 0) {
		cli_error("--json: takes no value");
		return false;
	}
	flag *f = find_flag(cmd, arg, name_len);
	if (f == NULL) {
		cli_error("reliability %s: unknown flag '%.*s' (see 'ballot reliability %s --help')",
			  cmd->name, (int)name_len, arg, cmd->name);
		return false;
	}
	if (f->seen) {
		cli_error("%s: given twice", f->name);
		return false;
	}
	f->seen = true;
	if (f->kind == FLAG_SWITCH) {
		if (eq == NULL)
			return true;
		cli_error("%s: takes no value", f->name);
		return false;
	}
	if (eq != NULL)
		return parse_value(f, eq + 1);
	/* No flag value starts with "--", so one there means the value was left out. */
	if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
		cli_error("%s: missing its value", f->name);
		return false;
	}
	*i += 1;
	return parse_value(f, argv[*i]);
}

/* Parses argv[1..] (argv[0] is the subcommand) into cmd's flags, --json and --help. */
static enum parse_outcome parse_command(command *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			fputs(cmd->usage, stdout);
			return PARSE_HELP;
		}
		if (strcmp(arg, "--json") == 0) {
			cmd->json = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			cli_error("reliability %s: unexpected argument '%s' (see 'ballot reliability "
				  "%s --help')",
				  cmd->name, arg, cmd->name);
			return PARSE_ERROR;
		}
		if (!parse_flag(cmd, argc, argv, &i))
			return PARSE_ERROR;
	}
	return PARSED;
}

static int parse_exit(enum parse_outcome outcome)
{
	BALLOT_ASSERT(outcome != PARSED);
	return outcome == PARSE_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* True when every flag in `required` (indexes into cmd->flags, ending at -1) was given. */
static bool require(const command *cmd, const int *required)
{
	for (; *required >= 0; required++) {
		const flag *f = &cmd->flags[*required];
		if (!f->seen) {
			cli_error("reliability %s: missing %s (see 'ballot reliability %s --help')",
				  cmd->name, f->name, cmd->name);
			return false;
		}
	}
	return true;
}

/* A library call failed: bad input is a usage error (2), anything else a failure (1).
 * flag_name, when not NULL, names the flag the library's complaint is about. */
static int library_failed(int rc, const ballot_errmsg *em, const char *flag_name)
{
	if (flag_name != NULL)
		cli_error("%s: %s", flag_name, em->text);
	else
		cli_error("%s", em->text);
	if (rc == BALLOT_EINVAL || rc == BALLOT_ELIMIT)
		return CLI_EXIT_USAGE;
	return CLI_EXIT_FAILURE;
}

/* ---- Output helpers ---------------------------------------------------------------- */

/* Prints the JSON document in b as one line. */
static int emit_json(json_writer *w, ballot_buf *b)
{
	int status = CLI_EXIT_OK;
	if (w->rc != 0) {
		cli_error("cannot build the JSON output: %s", ballot_strerror(w->rc));
		status = CLI_EXIT_FAILURE;
	} else {
		fputs(b->data, stdout);
		fputc('\n', stdout);
	}
	ballot_buf_free(b);
	return status;
}

static void json_begin(json_writer *w, ballot_buf *b, const char *subcommand)
{
	ballot_buf_init(b, 0);
	json_init(w, b);
	json_object_begin(w);
	json_key(w, "subcommand");
	json_string(w, subcommand);
}

/* A probability with enough digits to show how close to 1 it is: 0.972 prints as 0.972,
 * but 0.9999999999 would print as 1 at 6 digits, so digits grow as the complement shrinks.
 * Past what a double's digits can show, it prints the complement: "1 - 3e-18". */
static void format_probability(char out[40], ballot_probability p)
{
	if (p.complement > 0.0 && p.complement < 1e-12) {
		snprintf(out, 40, "1 - %.4g", p.complement);
		return;
	}
	int digits = 6;
	if (p.complement > 0.0 && p.complement < 1e-3)
		digits = (int)ceil(-log10(p.complement)) + 3;
	snprintf(out, 40, "%.*g", digits, p.p);
}

/* A duration for a reader: "85.9 s", "1 min 25.9 s", "3 d 3 h 2 min 13.1 s". */
static void format_duration(char out[64], double seconds)
{
	if (seconds < 60.0) {
		snprintf(out, 64, "%.3g s", seconds);
		return;
	}
	if (seconds >= 100.0 * BALLOT_SECONDS_PER_YEAR) {
		snprintf(out, 64, "%.3g years", seconds / BALLOT_SECONDS_PER_YEAR);
		return;
	}
	/* Round once, to tenths of a second, then split, so 59.96 s never shows as "60.0 s". */
	long long tenths = llround(seconds * 10.0);
	long long s = tenths / 10, tenth = tenths % 10;
	long long d = s / 86400, h = s / 3600 % 24, min = s / 60 % 60;
	int len = 0;
	if (d > 0)
		len += snprintf(out + len, (size_t)(64 - len), "%lld d ", d);
	if (d > 0 || h > 0)
		len += snprintf(out + len, (size_t)(64 - len), "%lld h ", h);
	snprintf(out + len, (size_t)(64 - len), "%lld min %lld.%lld s", min, s % 60, tenth);
}

/* ---- Monte Carlo (nmr and availability) ------------------------------------------- */

typedef struct monte_carlo_request {
	bool wanted;
	uint64_t trials;
	uint64_t seed;
} monte_carlo_request;

static bool monte_carlo_flags(const flag *trials, const flag *seed, monte_carlo_request *out)
{
	if (seed->seen && !trials->seen) {
		cli_error("%s: only used with %s TRIALS", seed->name, trials->name);
		return false;
	}
	out->wanted = trials->seen;
	out->trials = trials->integer;
	out->seed = seed->seen ? seed->integer : 1;
	return true;
}

static void print_monte_carlo(ballot_probability exact, const ballot_monte_carlo *mc)
{
	double formula = exact.p;
	double se = ballot_monte_carlo_stderr(exact, mc->trials);
	double diff = mc->estimate - formula;
	char text[40];
	format_probability(text, exact);
	printf("Monte Carlo, %llu trials, seed %llu:\n", (unsigned long long)mc->trials,
	       (unsigned long long)mc->seed);
	printf("  formula         %s\n", text);
	printf("  estimate        %.10g  (%llu of %llu)\n", mc->estimate,
	       (unsigned long long)mc->successes, (unsigned long long)mc->trials);
	printf("  difference      %+.3g", diff);
	if (se > 0.0)
		printf("  (%.2f standard errors)", diff / se);
	printf("\n  standard error  %.3g  (sqrt(p(1-p)/trials), p from the formula)\n", se);
}

static void json_monte_carlo(json_writer *w, ballot_probability exact,
			     const ballot_monte_carlo *mc)
{
	json_key(w, "monte_carlo");
	json_object_begin(w);
	json_key(w, "trials");
	json_uint(w, mc->trials);
	json_key(w, "seed");
	json_uint(w, mc->seed);
	json_key(w, "successes");
	json_uint(w, mc->successes);
	json_key(w, "estimate");
	json_double(w, mc->estimate);
	json_key(w, "difference");
	json_double(w, mc->estimate - exact.p);
	json_key(w, "stderr");
	json_double(w, ballot_monte_carlo_stderr(exact, mc->trials));
	json_object_end(w);
}

/* ---- nmr ----------------------------------------------------------------------------- */

typedef struct nmr_input {
	unsigned n, m;
	double r, voter_r;
	monte_carlo_request mc;
} nmr_input;

enum { NMR_N, NMR_M, NMR_R, NMR_VOTER_R, NMR_TRIALS, NMR_SEED, NMR_FLAGS };

static bool nmr_input_check(flag *flags, nmr_input *in)
{
	in->n = (unsigned)flags[NMR_N].integer;
	in->m = flags[NMR_M].seen ? (unsigned)flags[NMR_M].integer : ballot_majority(in->n);
	in->r = flags[NMR_R].number;
	in->voter_r = flags[NMR_VOTER_R].seen ? flags[NMR_VOTER_R].number : 1.0;
	if (in->m > in->n) {
		cli_error("--m %u: must be at most --n (%u)", in->m, in->n);
		return false;
	}
	return monte_carlo_flags(&flags[NMR_TRIALS], &flags[NMR_SEED], &in->mc);
}

static void nmr_print(const nmr_input *in, ballot_probability rel, const ballot_monte_carlo *mc)
{
	char text[40];
	format_probability(text, rel);
	printf("%u-of-%u system, module reliability %g, voter reliability %g\n", in->m, in->n,
	       in->r, in->voter_r);
	printf("reliability:      %s\n", text);
	printf("unreliability:    %.4g\n", rel.complement);
	printf("a single module:  %g\n", in->r);
	if (mc != NULL)
		print_monte_carlo(rel, mc);
}

static int nmr_json(const nmr_input *in, ballot_probability rel, const ballot_monte_carlo *mc)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "nmr");
	json_key(&w, "n");
	json_uint(&w, in->n);
	json_key(&w, "m");
	json_uint(&w, in->m);
	json_key(&w, "r");
	json_double(&w, in->r);
	json_key(&w, "voter_r");
	json_double(&w, in->voter_r);
	json_key(&w, "result");
	json_double(&w, rel.p);
	json_key(&w, "unreliability");
	json_double(&w, rel.complement);
	if (mc != NULL)
		json_monte_carlo(&w, rel, mc);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static int cmd_nmr(int argc, char **argv)
{
	flag flags[NMR_FLAGS] = {
		[NMR_N] = COUNT_FLAG("--n"),
		[NMR_M] = COUNT_FLAG("--m"),
		[NMR_R] = VALUE_FLAG("--r", FLAG_PROBABILITY),
		[NMR_VOTER_R] = VALUE_FLAG("--voter-r", FLAG_PROBABILITY),
		[NMR_TRIALS] = TRIALS_FLAG,
		[NMR_SEED] = SEED_FLAG,
	};
	command cmd = {"nmr", usage_nmr, flags, NMR_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	static const int required[] = {NMR_N, NMR_R, -1};
	nmr_input in;
	if (!require(&cmd, required) || !nmr_input_check(flags, &in))
		return CLI_EXIT_USAGE;

	ballot_errmsg em;
	ballot_probability rel;
	int rc = ballot_nmr(in.n, in.m, in.r, in.voter_r, &rel, &em);
	if (rc != 0)
		return library_failed(rc, &em, NULL);
	ballot_monte_carlo mc;
	if (in.mc.wanted) {
		rc = ballot_nmr_monte_carlo(in.n, in.m, in.r, in.voter_r, in.mc.trials, in.mc.seed,
					    &mc, &em);
		if (rc != 0)
			return library_failed(rc, &em, NULL);
	}
	const ballot_monte_carlo *mcp = in.mc.wanted ? &mc : NULL;
	if (cmd.json)
		return nmr_json(&in, rel, mcp);
	nmr_print(&in, rel, mcp);
	return CLI_EXIT_OK;
}

/* ---- availability -------------------------------------------------------------------- */

typedef struct availability_input {
	unsigned n, f;
	double p;
	monte_carlo_request mc;
} availability_input;

enum { AV_N, AV_P, AV_F, AV_TRIALS, AV_SEED, AV_FLAGS };

static bool availability_input_check(flag *flags, availability_input *in)
{
	in->n = (unsigned)flags[AV_N].integer;
	in->p = flags[AV_P].number;
	in->f = flags[AV_F].seen ? (unsigned)flags[AV_F].integer
				 : ballot_availability_default_f(in->n);
	if (in->f > in->n) {
		cli_error("--f %u: at most --n (%u) replicas can be down", in->f, in->n);
		return false;
	}
	return monte_carlo_flags(&flags[AV_TRIALS], &flags[AV_SEED], &in->mc);
}

static void availability_print(const availability_input *in, ballot_probability av,
			       const ballot_monte_carlo *mc)
{
	char text[40], downtime[64];
	format_probability(text, av);
	double nines = ballot_nines(av.complement);
	double down_s = ballot_downtime_per_year_s(av.complement);
	format_duration(downtime, down_s);
	printf("%u replicas, each down with probability %g; up while at most %u %s down\n", in->n,
	       in->p, in->f, in->f == 1 ? "is" : "are");
	printf("availability:       %s\n", text);
	printf("unavailability:     %.4g\n", av.complement);
	if (isinf(nines))
		printf("nines:              infinite (never down)\n");
	else
		printf("nines:              %.3g\n", nines);
	if (down_s < 60.0)
		printf("downtime per year:  %s\n", downtime);
	else
		printf("downtime per year:  %s (%.6g s)\n", downtime, down_s);
	if (mc != NULL)
		print_monte_carlo(av, mc);
}

static int availability_json(const availability_input *in, ballot_probability av,
			     const ballot_monte_carlo *mc)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "availability");
	json_key(&w, "n");
	json_uint(&w, in->n);
	json_key(&w, "p");
	json_double(&w, in->p);
	json_key(&w, "f");
	json_uint(&w, in->f);
	json_key(&w, "result");
	json_double(&w, av.p);
	json_key(&w, "unavailability");
	json_double(&w, av.complement);
	json_key(&w, "nines"); /* null when infinite: JSON has no infinity */
	json_double(&w, ballot_nines(av.complement));
	json_key(&w, "downtime_per_year_s");
	json_double(&w, ballot_downtime_per_year_s(av.complement));
	if (mc != NULL)
		json_monte_carlo(&w, av, mc);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static int cmd_availability(int argc, char **argv)
{
	flag flags[AV_FLAGS] = {
		[AV_N] = COUNT_FLAG("--n"),
		[AV_P] = VALUE_FLAG("--p", FLAG_PROBABILITY),
		[AV_F] = INTEGER_FLAG("--f", 0, BALLOT_RELIABILITY_N_MAX),
		[AV_TRIALS] = TRIALS_FLAG,
		[AV_SEED] = SEED_FLAG,
	};
	command cmd = {"availability", usage_availability, flags, AV_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	static const int required[] = {AV_N, AV_P, -1};
	availability_input in;
	if (!require(&cmd, required) || !availability_input_check(flags, &in))
		return CLI_EXIT_USAGE;

	ballot_errmsg em;
	ballot_probability av;
	int rc = ballot_availability(in.n, in.f, in.p, &av, &em);
	if (rc != 0)
		return library_failed(rc, &em, NULL);
	ballot_monte_carlo mc;
	if (in.mc.wanted) {
		rc = ballot_availability_monte_carlo(in.n, in.f, in.p, in.mc.trials, in.mc.seed, &mc,
						     &em);
		if (rc != 0)
			return library_failed(rc, &em, NULL);
	}
	const ballot_monte_carlo *mcp = in.mc.wanted ? &mc : NULL;
	if (cmd.json)
		return availability_json(&in, av, mcp);
	availability_print(&in, av, mcp);
	return CLI_EXIT_OK;
}

/* ---- quorum ----------------------------------------------------------------------------- */

enum { Q_F, Q_BYZANTINE, Q_N, Q_R, Q_W, Q_FLAGS };

static int quorum_size(const command *cmd, unsigned f, bool byzantine)
{
	ballot_errmsg em;
	ballot_quorum_size q;
	int rc = ballot_quorum_for_faults(f, byzantine, &q, &em);
	if (rc != 0)
		return library_failed(rc, &em, "--f");
	if (!cmd->json) {
		printf("%u %s fault%s: N = %s = %u nodes, quorum %s = %u\n", q.f,
		       byzantine ? "Byzantine" : "crash", q.f == 1 ? "" : "s",
		       byzantine ? "3F+1" : "2F+1", q.n, byzantine ? "2F+1" : "F+1", q.quorum);
		printf("any two quorums share at least %u node%s%s\n", 2 * q.quorum - q.n,
		       2 * q.quorum - q.n == 1 ? "" : "s",
		       byzantine ? ", so at least one correct node sees both" : "");
		return CLI_EXIT_OK;
	}
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "quorum");
	json_key(&w, "f");
	json_uint(&w, q.f);
	json_key(&w, "fault_model");
	json_string(&w, byzantine ? "byzantine" : "crash");
	json_key(&w, "result");
	json_uint(&w, q.n);
	json_key(&w, "n");
	json_uint(&w, q.n);
	json_key(&w, "quorum");
	json_uint(&w, q.quorum);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static void rw_quorum_print(const ballot_rw_quorum *q)
{
	bool safe = ballot_rw_quorum_safe(q);
	printf("N = %u replicas, read quorum R = %u, write quorum W = %u: %s\n", q->n, q->r, q->w,
	       safe ? "safe" : "UNSAFE");
	printf("  R + W > N  (%u + %u = %u > %u)  %s\n", q->r, q->w, q->r + q->w, q->n,
	       q->reads_see_latest_write ? "holds: every read quorum meets the latest write"
					 : "FAILS: a read can miss the latest write");
	printf("  W > N/2    (%u > %g)  %s\n", q->w, q->n / 2.0,
	       q->writes_overlap ? "holds: two writes always share a replica"
				 : "FAILS: two writes can succeed on disjoint replicas");
	printf("reads tolerate %u failed replica%s, writes tolerate %u\n",
	       q->read_failures_tolerated, q->read_failures_tolerated == 1 ? "" : "s",
	       q->write_failures_tolerated);
}

static int rw_quorum_json(const ballot_rw_quorum *q)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "quorum");
	json_key(&w, "n");
	json_uint(&w, q->n);
	json_key(&w, "r");
	json_uint(&w, q->r);
	json_key(&w, "w");
	json_uint(&w, q->w);
	json_key(&w, "result");
	json_bool(&w, ballot_rw_quorum_safe(q));
	json_key(&w, "r_plus_w_gt_n");
	json_bool(&w, q->reads_see_latest_write);
	json_key(&w, "w_gt_half_n");
	json_bool(&w, q->writes_overlap);
	json_key(&w, "failed_rules");
	json_array_begin(&w);
	if (!q->reads_see_latest_write)
		json_string(&w, "R+W>N");
	if (!q->writes_overlap)
		json_string(&w, "W>N/2");
	json_array_end(&w);
	json_key(&w, "read_failures_tolerated");
	json_uint(&w, q->read_failures_tolerated);
	json_key(&w, "write_failures_tolerated");
	json_uint(&w, q->write_failures_tolerated);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static int rw_quorum(const command *cmd, const flag *flags)
{
	unsigned n = (unsigned)flags[Q_N].integer;
	for (int i = Q_R; i <= Q_W; i++) {
		if (flags[i].integer > n) {
			cli_error("%s %llu: must be at most --n (%u)", flags[i].name,
				  (unsigned long long)flags[i].integer, n);
			return CLI_EXIT_USAGE;
		}
	}
	ballot_errmsg em;
	ballot_rw_quorum q;
	int rc = ballot_rw_quorum_check(n, (unsigned)flags[Q_R].integer,
					(unsigned)flags[Q_W].integer, &q, &em);
	if (rc != 0)
		return library_failed(rc, &em, NULL);
	int status = ballot_rw_quorum_safe(&q) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
	if (!cmd->json) {
		rw_quorum_print(&q);
		return status;
	}
	int json_status = rw_quorum_json(&q);
	return json_status != CLI_EXIT_OK ? json_status : status;
}

static int cmd_quorum(int argc, char **argv)
{
	flag flags[Q_FLAGS] = {
		[Q_F] = INTEGER_FLAG("--f", 0, BALLOT_RELIABILITY_N_MAX),
		[Q_BYZANTINE] = VALUE_FLAG("--byzantine", FLAG_SWITCH),
		[Q_N] = COUNT_FLAG("--n"),
		[Q_R] = COUNT_FLAG("--r"),
		[Q_W] = COUNT_FLAG("--w"),
	};
	command cmd = {"quorum", usage_quorum, flags, Q_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	bool rw_mode = flags[Q_N].seen || flags[Q_R].seen || flags[Q_W].seen;
	if (flags[Q_F].seen && rw_mode) {
		cli_error("reliability quorum: give either --f (size a cluster) or --n, --r, --w "
			  "(check quorums), not both");
		return CLI_EXIT_USAGE;
	}
	if (flags[Q_F].seen)
		return quorum_size(&cmd, (unsigned)flags[Q_F].integer, flags[Q_BYZANTINE].seen);
	if (!rw_mode) {
		cli_error("reliability quorum: needs --f F, or --n N --r R --w W (see 'ballot "
			  "reliability quorum --help')");
		return CLI_EXIT_USAGE;
	}
	if (flags[Q_BYZANTINE].seen) {
		cli_error("--byzantine: only used with --f");
		return CLI_EXIT_USAGE;
	}
	static const int required[] = {Q_N, Q_R, Q_W, -1};
	if (!require(&cmd, required))
		return CLI_EXIT_USAGE;
	return rw_quorum(&cmd, flags);
}

/* ---- mttf ------------------------------------------------------------------------------- */

typedef struct mttf_input {
	unsigned n, m;
	double lambda, mu;
} mttf_input;

enum { MTTF_N, MTTF_M, MTTF_LAMBDA, MTTF_MU, MTTF_FLAGS };

static bool mttf_input_check(const flag *flags, mttf_input *in)
{
	/* TMR unless told otherwise; an N without an M gets a majority, as in nmr. */
	in->n = flags[MTTF_N].seen ? (unsigned)flags[MTTF_N].integer : 3;
	in->m = flags[MTTF_M].seen ? (unsigned)flags[MTTF_M].integer : ballot_majority(in->n);
	in->lambda = flags[MTTF_LAMBDA].number;
	in->mu = flags[MTTF_MU].seen ? flags[MTTF_MU].number : 0.0;
	if (in->m > in->n) {
		cli_error("--m %u: must be at most --n (%u)", in->m, in->n);
		return false;
	}
	return true;
}

static void mttf_print(const mttf_input *in, double mttf)
{
	double simplex = 1.0 / in->lambda;
	printf("%u-of-%u system, failure rate lambda = %g per module, ", in->m, in->n, in->lambda);
	if (in->mu > 0.0)
		printf("repair rate mu = %g (one repair crew)\n", in->mu);
	else
		printf("no repair\n");
	printf("MTTF:                   %.6g\n", mttf);
	printf("one module (1/lambda):  %.6g\n", simplex);
	printf("ratio:                  %.6g%s\n", mttf / simplex,
	       mttf < simplex ? " (fails sooner on average than one module)" : "");
	printf("(times are in the unit lambda is per: lambda per hour gives hours)\n");
}

static int mttf_json(const mttf_input *in, double mttf)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "mttf");
	json_key(&w, "n");
	json_uint(&w, in->n);
	json_key(&w, "m");
	json_uint(&w, in->m);
	json_key(&w, "lambda");
	json_double(&w, in->lambda);
	json_key(&w, "mu");
	json_double(&w, in->mu);
	json_key(&w, "result");
	json_double(&w, mttf);
	json_key(&w, "mttf_single_module");
	json_double(&w, 1.0 / in->lambda);
	json_key(&w, "ratio");
	json_double(&w, mttf * in->lambda);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static int cmd_mttf(int argc, char **argv)
{
	flag flags[MTTF_FLAGS] = {
		[MTTF_N] = COUNT_FLAG("--n"),
		[MTTF_M] = COUNT_FLAG("--m"),
		[MTTF_LAMBDA] = VALUE_FLAG("--lambda", FLAG_POSITIVE),
		[MTTF_MU] = VALUE_FLAG("--mu", FLAG_NON_NEGATIVE),
	};
	command cmd = {"mttf", usage_mttf, flags, MTTF_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	static const int required[] = {MTTF_LAMBDA, -1};
	mttf_input in;
	if (!require(&cmd, required) || !mttf_input_check(flags, &in))
		return CLI_EXIT_USAGE;
	ballot_errmsg em;
	double mttf;
	int rc = ballot_mttf(in.n, in.m, in.lambda, in.mu, &mttf, &em);
	if (rc != 0)
		return library_failed(rc, &em, NULL);
	if (cmd.json)
		return mttf_json(&in, mttf);
	mttf_print(&in, mttf);
	return CLI_EXIT_OK;
}

/* ---- recovery ------------------------------------------------------------------------- */

typedef struct recovery_input {
	const char *data_text, *bandwidth_text;
	double bytes, bytes_per_s;
	unsigned sources;
} recovery_input;

enum { REC_DATA, REC_BANDWIDTH, REC_SOURCES, REC_FLAGS };

static bool recovery_input_parse(const flag *flags, recovery_input *in)
{
	ballot_errmsg em;
	in->data_text = flags[REC_DATA].text;
	in->bandwidth_text = flags[REC_BANDWIDTH].text;
	in->sources = (unsigned)flags[REC_SOURCES].integer;
	if (ballot_parse_size_bytes(in->data_text, &in->bytes, &em) != 0) {
		cli_error("--data: %s", em.text);
		return false;
	}
	if (ballot_parse_rate_bytes_per_s(in->bandwidth_text, &in->bytes_per_s, &em) != 0) {
		cli_error("--bandwidth: %s", em.text);
		return false;
	}
	return true;
}

static void recovery_print(const recovery_input *in, double seconds)
{
	char human[64];
	format_duration(human, seconds);
	printf("recovery time: %.6g s (%s)\n", seconds, human);
	printf("  data       %s = %.15g bytes\n", in->data_text, in->bytes);
	printf("  bandwidth  %s = %.15g bytes/s per source\n", in->bandwidth_text,
	       in->bytes_per_s);
	printf("  sources    %u, sending in parallel\n", in->sources);
}

static int recovery_json(const recovery_input *in, double seconds)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "recovery");
	json_key(&w, "data");
	json_string(&w, in->data_text);
	json_key(&w, "data_bytes");
	json_double(&w, in->bytes);
	json_key(&w, "bandwidth");
	json_string(&w, in->bandwidth_text);
	json_key(&w, "bandwidth_bytes_per_s");
	json_double(&w, in->bytes_per_s);
	json_key(&w, "sources");
	json_uint(&w, in->sources);
	json_key(&w, "result");
	json_double(&w, seconds);
	json_object_end(&w);
	return emit_json(&w, &b);
}

static int cmd_recovery(int argc, char **argv)
{
	flag flags[REC_FLAGS] = {
		[REC_DATA] = VALUE_FLAG("--data", FLAG_TEXT),
		[REC_BANDWIDTH] = VALUE_FLAG("--bandwidth", FLAG_TEXT),
		[REC_SOURCES] = COUNT_FLAG("--sources"),
	};
	command cmd = {"recovery", usage_recovery, flags, REC_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	static const int required[] = {REC_DATA, REC_BANDWIDTH, REC_SOURCES, -1};
	recovery_input in;
	if (!require(&cmd, required) || !recovery_input_parse(flags, &in))
		return CLI_EXIT_USAGE;
	ballot_errmsg em;
	double seconds;
	int rc = ballot_recovery_time_s(in.bytes, in.bytes_per_s, in.sources, &seconds, &em);
	if (rc != 0)
		return library_failed(rc, &em, NULL);
	if (cmd.json)
		return recovery_json(&in, seconds);
	recovery_print(&in, seconds);
	return CLI_EXIT_OK;
}

/* ---- table and its SVG plot ------------------------------------------------------------ */

/* 3R^2 - 2R^3 = R has roots 0, 1/2 and 1: between 0 and 1/2 TMR is below simplex. */
#define TABLE_CROSSOVER_R 0.5
#define TABLE_STEPS 20 /* R = 0, 1/20, ..., 1 */

typedef struct table_row {
	double r, simplex, tmr, five;
} table_row;

static table_row table_row_at(double r)
{
	ballot_probability tmr, five;
	int tmr_rc = ballot_m_of_n(3, 2, r, &tmr, NULL);
	int five_rc = ballot_m_of_n(5, 3, r, &five, NULL);
	BALLOT_ASSERT(tmr_rc == 0); /* r is in [0, 1] by construction */
	BALLOT_ASSERT(five_rc == 0);
	return (table_row){.r = r, .simplex = r, .tmr = tmr.p, .five = five.p};
}

static bool tmr_worse(const table_row *row)
{
	return row->tmr < row->simplex;
}

static void table_print(void)
{
	printf("Reliability of simplex, TMR (2-of-3) and 5MR (3-of-5) by module reliability R\n\n");
	printf("   R    simplex       TMR       5MR  TMR worse\n");
	for (int i = 0; i <= TABLE_STEPS; i++) {
		table_row row = table_row_at((double)i / TABLE_STEPS);
		printf("%.2f  %9.6f %9.6f %9.6f%s\n", row.r, row.simplex, row.tmr, row.five,
		       tmr_worse(&row) ? "  *" : "");
	}
	printf("\n* TMR is worse than a single module: below the crossover at R = %g a majority\n"
	       "  of modules is more likely to fail than to work, so voting spreads failures\n"
	       "  instead of masking them. At R = %g all three are equal; above it TMR, and 5MR\n"
	       "  even more, beat simplex.\n",
	       TABLE_CROSSOVER_R, TABLE_CROSSOVER_R);
}

static int table_json(const char *plot_path)
{
	ballot_buf b;
	json_writer w;
	json_begin(&w, &b, "table");
	json_key(&w, "result");
	json_array_begin(&w);
	for (int i = 0; i <= TABLE_STEPS; i++) {
		table_row row = table_row_at((double)i / TABLE_STEPS);
		json_object_begin(&w);
		json_key(&w, "r");
		json_double(&w, row.r);
		json_key(&w, "simplex");
		json_double(&w, row.simplex);
		json_key(&w, "tmr");
		json_double(&w, row.tmr);
		json_key(&w, "5mr");
		json_double(&w, row.five);
		json_key(&w, "tmr_worse_than_simplex");
		json_bool(&w, tmr_worse(&row));
		json_object_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "crossover_r");
	json_double(&w, TABLE_CROSSOVER_R);
	if (plot_path != NULL) {
		json_key(&w, "plot");
		json_string(&w, plot_path);
	}
	json_object_end(&w);
	return emit_json(&w, &b);
}

/* The plot's geometry, in SVG user units: the plot area spans [PLOT_LEFT, PLOT_RIGHT] by
 * [PLOT_TOP, PLOT_BOTTOM]; R runs left to right and reliability bottom to top, both 0..1. */
#define SVG_WIDTH 640
#define SVG_HEIGHT 480
#define PLOT_LEFT 80.0
#define PLOT_RIGHT 610.0
#define PLOT_TOP 50.0
#define PLOT_BOTTOM 410.0
#define PLOT_POINTS 100 /* segments per curve */

static double plot_x(double r)
{
	return PLOT_LEFT + r * (PLOT_RIGHT - PLOT_LEFT);
}

static double plot_y(double reliability)
{
	return PLOT_BOTTOM - reliability * (PLOT_BOTTOM - PLOT_TOP);
}

static void svg_axes(FILE *out)
{
	fprintf(out, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	for (int i = 1; i <= 10; i++) {
		double t = i / 10.0;
		fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", plot_x(t),
			PLOT_TOP, plot_x(t), PLOT_BOTTOM);
		fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PLOT_LEFT,
			plot_y(t), PLOT_RIGHT, plot_y(t));
	}
	fprintf(out, "</g>\n<g stroke=\"#000000\" stroke-width=\"1\">\n");
	fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PLOT_LEFT,
		PLOT_BOTTOM, PLOT_RIGHT, PLOT_BOTTOM);
	fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PLOT_LEFT,
		PLOT_TOP, PLOT_LEFT, PLOT_BOTTOM);
	for (int i = 0; i <= 10; i++) {
		double t = i / 10.0;
		fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", plot_x(t),
			PLOT_BOTTOM, plot_x(t), PLOT_BOTTOM + 5);
		fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PLOT_LEFT - 5,
			plot_y(t), PLOT_LEFT, plot_y(t));
	}
	fprintf(out, "</g>\n");
}

static void svg_labels(FILE *out)
{
	fprintf(out, "<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#000000\">\n");
	for (int i = 0; i <= 10; i++) {
		double t = i / 10.0;
		fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.1f</text>\n",
			plot_x(t), PLOT_BOTTOM + 20, t);
		fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%.1f</text>\n",
			PLOT_LEFT - 9, plot_y(t) + 4, t);
	}
	fprintf(out, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">"
		     "module reliability R</text>\n",
		(PLOT_LEFT + PLOT_RIGHT) / 2, SVG_HEIGHT - 25);
	fprintf(out, "<text x=\"25\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"14\" "
		     "transform=\"rotate(-90 25 %.2f)\">system reliability</text>\n",
		(PLOT_TOP + PLOT_BOTTOM) / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);
	fprintf(out, "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-size=\"16\">"
		     "Simplex, TMR and 5MR reliability</text>\n",
		SVG_WIDTH / 2);
	fprintf(out, "</g>\n");
}

enum curve { CURVE_SIMPLEX, CURVE_TMR, CURVE_5MR, CURVE_COUNT };

static const struct {
	const char *label;
	const char *color;
	const char *dash;
} curve_style[CURVE_COUNT] = {
	[CURVE_SIMPLEX] = {"simplex: R", "#555555", "6 4"},
	[CURVE_TMR] = {"TMR: 3R\xc2\xb2 - 2R\xc2\xb3", "#1f77b4", "none"},
	[CURVE_5MR] = {"5MR: 3-of-5", "#d62728", "none"},
};

static double curve_value(enum curve c, const table_row *row)
{
	switch (c) {
	case CURVE_SIMPLEX:
		return row->simplex;
	case CURVE_TMR:
		return row->tmr;
	case CURVE_5MR:
		return row->five;
	case CURVE_COUNT:
		break;
	}
	BALLOT_UNREACHABLE();
}

static void svg_curve(FILE *out, enum curve c)
{
	fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		     "stroke-dasharray=\"%s\" points=\"",
		curve_style[c].color, curve_style[c].dash);
	for (int i = 0; i <= PLOT_POINTS; i++) {
		table_row row = table_row_at((double)i / PLOT_POINTS);
		fprintf(out, "%s%.2f,%.2f", i == 0 ? "" : " ", plot_x(row.r),
			plot_y(curve_value(c, &row)));
	}
	fprintf(out, "\"/>\n");
}

/* The legend sits in the empty top-left corner (low R, high reliability). */
static void svg_legend(FILE *out)
{
	fprintf(out, "<g font-family=\"sans-serif\" font-size=\"13\">\n");
	fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"170\" height=\"72\" fill=\"#ffffff\" "
		     "stroke=\"#999999\"/>\n",
		PLOT_LEFT + 12, PLOT_TOP + 12);
	for (int c = 0; c < CURVE_COUNT; c++) {
		double y = PLOT_TOP + 32 + 20 * c;
		fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
			     "stroke-width=\"2\" stroke-dasharray=\"%s\"/>\n",
			PLOT_LEFT + 22, y, PLOT_LEFT + 52, y, curve_style[c].color,
			curve_style[c].dash);
		fprintf(out, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", PLOT_LEFT + 60, y + 4,
			curve_style[c].label);
	}
	fprintf(out, "</g>\n");
}

static void svg_crossover(FILE *out)
{
	double x = plot_x(TABLE_CROSSOVER_R), y = plot_y(TABLE_CROSSOVER_R);
	fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"none\" stroke=\"#000000\" "
		     "stroke-width=\"1.5\"/>\n",
		x, y);
	/* Below and right of the point, where no curve passes. */
	fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"sans-serif\" font-size=\"12\">"
		     "crossover at R = %g</text>\n",
		x + 12, y + 20, TABLE_CROSSOVER_R);
	fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"sans-serif\" font-size=\"12\">"
		     "TMR worse below, better above</text>\n",
		x + 12, y + 36);
}

static void svg_write(FILE *out)
{
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n");
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		     "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
	fprintf(out, "<title>Reliability of simplex, TMR and 5MR against module reliability"
		     "</title>\n");
	fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_WIDTH,
		SVG_HEIGHT);
	svg_axes(out);
	svg_labels(out);
	for (int c = 0; c < CURVE_COUNT; c++)
		svg_curve(out, (enum curve)c);
	svg_crossover(out);
	svg_legend(out);
	fprintf(out, "</svg>\n");
}

/* Writes the plot to an already open file and closes it; false (after saying why) if any
 * write or the close failed, so a full disk is not reported as success. */
static bool plot_finish(FILE *out, const char *path)
{
	svg_write(out);
	bool failed = ferror(out) != 0;
	int saved = errno;
	if (fclose(out) != 0) {
		failed = true;
		saved = errno;
	}
	if (failed)
		cli_error("--plot %s: cannot write: %s", path, strerror(saved));
	return !failed;
}

enum { TABLE_PLOT, TABLE_FLAGS };

static int cmd_table(int argc, char **argv)
{
	flag flags[TABLE_FLAGS] = {
		[TABLE_PLOT] = VALUE_FLAG("--plot", FLAG_TEXT),
	};
	command cmd = {"table", usage_table, flags, TABLE_FLAGS, false};
	enum parse_outcome outcome = parse_command(&cmd, argc, argv);
	if (outcome != PARSED)
		return parse_exit(outcome);
	const char *plot_path = flags[TABLE_PLOT].seen ? flags[TABLE_PLOT].text : NULL;
	/* Write the plot first, so an unwritable path fails before anything is printed. */
	if (plot_path != NULL) {
		FILE *plot = fopen(plot_path, "w");
		if (plot == NULL) {
			cli_error("--plot %s: cannot write: %s", plot_path, strerror(errno));
			return CLI_EXIT_FAILURE;
		}
		if (!plot_finish(plot, plot_path))
			return CLI_EXIT_FAILURE;
	}
	if (cmd.json)
		return table_json(plot_path);
	table_print();
	if (plot_path != NULL)
		printf("\nplot written to %s\n", plot_path);
	return CLI_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{"nmr", cmd_nmr},
	{"availability", cmd_availability},
	{"quorum", cmd_quorum},
	{"mttf", cmd_mttf},
	{"recovery", cmd_recovery},
	{"table", cmd_table},
};

int cli_reliability(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_reliability, stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		fputs(usage_reliability, stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
		if (strcmp(name, subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	}
	cli_error("reliability: unknown subcommand '%s'", name);
	fputc('\n', stderr);
	fputs(usage_reliability, stderr);
	return CLI_EXIT_USAGE;
}
