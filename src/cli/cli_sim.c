/* `ballot sim`: the deterministic simulator from the shell (see ballot/sim.h).
 *
 * Standard output holds only what the seed determines (parameters, one line per seed, the
 * total), so two runs of one seed print the same bytes; timings go to standard error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballot/raft.h"
#include "ballot/sim.h"
#include "cli/cli.h"

static const char sim_usage[] =
	"usage: ballot sim [--seed S | --seeds A..B] [--nodes N] [--ops K] [--clients C]\n"
	"                  [--faults LIST] [--duration TICKS] [--history FILE] [--trace]\n"
	"\n"
	"Runs N Raft nodes in one process on virtual time, with the real core and state\n"
	"machine, under faults chosen by a seeded generator; checks Raft's safety properties\n"
	"after every event, the clients' history for linearizability, and that the cluster\n"
	"recovers once faults stop. Same seed, same run.\n"
	"\n"
	"  --seed S          one seed (default 1)\n"
	"  --seeds A..B      every seed from A to B\n"
	"  --nodes N         3..7 (default 5)\n"
	"  --ops K           client operations in the fault phase (default 1000)\n"
	"  --clients C       concurrent clients, 1..64 (default 5)\n"
	"  --faults LIST     comma-separated: loss, dup, delay, partition, crash, membership,\n"
	"                    transfer, snapshot, bitflip; or all (default) or none\n"
	"  --duration TICKS  bound on the fault phase in Raft ticks of 10 ms (default 60000)\n"
	"  --history FILE    write the clients' history as JSONL (see docs/history.md)\n"
	"  --stop            stop at the first seed with a violation\n"
	"  --trace           print every event to stderr\n"
#ifdef BALLOT_CANARIES
	"  --canary NAME     switch on a known bug (list: --canary list); test builds only\n"
#endif
	"\n"
	"exit status: 0 no violation, 1 a violation (the replay command is printed), 2 usage\n";

#ifdef BALLOT_CANARIES
static const struct {
	const char *name;
	uint64_t bit;
} canaries[] = {
	{"commit-without-majority", BALLOT_CANARY_COMMIT_WITHOUT_MAJORITY},
	{"double-vote", BALLOT_CANARY_DOUBLE_VOTE},
	{"apply-before-commit", BALLOT_CANARY_APPLY_BEFORE_COMMIT},
	{"forget-vote", BALLOT_CANARY_FORGET_VOTE},
	{"read-without-confirm", BALLOT_CANARY_READ_WITHOUT_CONFIRM},
};
#endif

typedef struct sim_args {
	ballot_sim_options opts;
	uint64_t first, last;
	const char *faults_text;
	const char *canary;
	bool stop_on_violation;
} sim_args;

static bool parse_seeds(const char *arg, uint64_t *first, uint64_t *last)
{
	const char *dots = strstr(arg, "..");
	if (dots == NULL) {
		cli_error("--seeds '%s': give a range, as 1..100", arg);
		return false;
	}
	char a[32];
	size_t len = (size_t)(dots - arg);
	if (len == 0 || len >= sizeof a) {
		cli_error("--seeds '%s': give a range, as 1..100", arg);
		return false;
	}
	memcpy(a, arg, len);
	a[len] = '\0';
	if (!cli_parse_u64("--seeds", a, 0, UINT64_MAX, first) ||
	    !cli_parse_u64("--seeds", dots + 2, 0, UINT64_MAX, last))
		return false;
	if (*last < *first) {
		cli_error("--seeds %s: the range is empty", arg);
		return false;
	}
	return true;
}

static int parse_args(int argc, char **argv, sim_args *a)
{
	ballot_sim_options_default(&a->opts);
	a->first = a->last = 1;
	a->faults_text = "all";
	a->canary = NULL;
	a->stop_on_violation = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(sim_usage, stdout);
			return -1;
		}
		if (strcmp(arg, "--trace") == 0) {
			a->opts.trace = stderr;
			continue;
		}
		if (strcmp(arg, "--stop") == 0) {
			a->stop_on_violation = true;
			continue;
		}
		const char *eq = strchr(arg, '=');
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		static const char *const valued[] = {"--seed", "--seeds", "--nodes", "--ops", "--clients",
						     "--faults", "--duration", "--history", "--canary"};
		const char *flag = NULL;
		for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
			if (strlen(valued[k]) == name_len && strncmp(arg, valued[k], name_len) == 0)
				flag = valued[k];
		}
		if (flag == NULL) {
			cli_error("sim: unknown option '%s' (see ballot sim --help)", arg);
			return -2;
		}
		if (v == NULL) {
			cli_error("%s needs a value", flag);
			return -2;
		}
		if (!eq)
			i++;
		uint64_t n;
		bool ok = true;
		if (strcmp(flag, "--seed") == 0) {
			ok = cli_parse_u64(flag, v, 0, UINT64_MAX, &a->first);
			a->last = a->first;
		} else if (strcmp(flag, "--seeds") == 0) {
			ok = parse_seeds(v, &a->first, &a->last);
		} else if (strcmp(flag, "--nodes") == 0) {
			ok = cli_parse_u64(flag, v, 3, 7, &n);
			a->opts.nodes = (unsigned)n;
		} else if (strcmp(flag, "--ops") == 0) {
			ok = cli_parse_u64(flag, v, 1, 100000000, &n);
			a->opts.ops = (unsigned)n;
		} else if (strcmp(flag, "--clients") == 0) {
			ok = cli_parse_u64(flag, v, 1, 64, &n);
			a->opts.clients = (unsigned)n;
		} else if (strcmp(flag, "--faults") == 0) {
			ballot_errmsg em;
			a->faults_text = v;
			if (ballot_sim_faults_parse(v, &a->opts.faults, &em) != 0) {
				cli_error("%s", em.text);
				ok = false;
			}
		} else if (strcmp(flag, "--duration") == 0) {
			ok = cli_parse_u64(flag, v, 100, 100000000, &a->opts.duration_ticks);
		} else if (strcmp(flag, "--history") == 0) {
			a->opts.history_path = v;
		} else {
			a->canary = v;
		}
		if (!ok)
			return -2;
	}
	return 0;
}

static int pick_canary(sim_args *a)
{
	if (a->canary == NULL)
		return 0;
#ifdef BALLOT_CANARIES
	if (strcmp(a->canary, "list") == 0) {
		for (size_t i = 0; i < sizeof canaries / sizeof canaries[0]; i++)
			puts(canaries[i].name);
		return -1;
	}
	for (size_t i = 0; i < sizeof canaries / sizeof canaries[0]; i++) {
		if (strcmp(a->canary, canaries[i].name) == 0) {
			a->opts.canaries = canaries[i].bit;
			return 0;
		}
	}
	cli_error("--canary '%s': unknown (see --canary list)", a->canary);
#else
	cli_error("--canary: this build has no canaries (configure with -DBALLOT_CANARIES=ON "
		  "and run ballot-canary)");
#endif
	return -2;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_replay(const sim_args *a, uint64_t seed)
{
	char faults[128];
	ballot_sim_faults_format(a->opts.faults, faults, sizeof faults);
	printf("  replay: %s sim --seed %llu --nodes %u --ops %u --clients %u --faults %s --duration %llu%s%s\n",
#ifdef BALLOT_CANARIES
	       "ballot-canary",
#else
	       "ballot",
#endif
	       (unsigned long long)seed, a->opts.nodes, a->opts.ops, a->opts.clients, faults,
	       (unsigned long long)a->opts.duration_ticks, a->canary ? " --canary " : "", a->canary ? a->canary : "");
}

int cli_sim(int argc, char **argv)
{
	sim_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc == -1)
		return CLI_EXIT_OK;
	if (rc == -2)
		return CLI_EXIT_USAGE;
	rc = pick_canary(&a);
	if (rc == -1)
		return CLI_EXIT_OK;
	if (rc == -2)
		return CLI_EXIT_USAGE;
	char faults[128];
	ballot_sim_faults_format(a.opts.faults, faults, sizeof faults);
	printf("ballot sim: seeds=%llu..%llu nodes=%u ops=%u clients=%u faults=%s duration=%llu%s%s\n",
	       (unsigned long long)a.first, (unsigned long long)a.last, a.opts.nodes, a.opts.ops,
	       a.opts.clients, faults, (unsigned long long)a.opts.duration_ticks,
	       a.canary ? " canary=" : "", a.canary ? a.canary : "");
	fflush(stdout);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t seeds = 0, violations = 0, ops = 0;
	ballot_sim_result total = {0};
	for (uint64_t seed = a.first;; seed++) {
		ballot_sim_result res;
		ballot_errmsg em;
		a.opts.seed = seed;
		if (ballot_sim_run(&a.opts, &res, &em) != 0) {
			cli_error("sim: %s", em.text);
			return CLI_EXIT_USAGE;
		}
		seeds++;
		ops += res.ops_ok + res.ops_fail + res.ops_info;
		total.crashes += res.crashes;
		total.bit_flips += res.bit_flips;
		total.flips_harmless += res.flips_harmless;
		total.corruptions_detected += res.corruptions_detected;
		total.replacements += res.replacements;
		uint64_t fault_events = res.crashes + res.partitions + res.transfers + res.membership_changes +
					res.bit_flips;
		printf("seed=%llu ops=%llu ok=%llu fail=%llu info=%llu faults=%llu crashes=%llu partitions=%llu "
		       "transfers=%llu membership=%llu flips=%llu flips_harmless=%llu corrupt=%llu replaced=%llu "
		       "snapshots=%llu overtaken=%llu elections=%llu max_unavailable_ticks=%llu messages=%llu trace=%016llx "
		       "verdict=%s\n",
		       (unsigned long long)seed, (unsigned long long)(res.ops_ok + res.ops_fail + res.ops_info),
		       (unsigned long long)res.ops_ok, (unsigned long long)res.ops_fail,
		       (unsigned long long)res.ops_info, (unsigned long long)fault_events,
		       (unsigned long long)res.crashes, (unsigned long long)res.partitions,
		       (unsigned long long)res.transfers, (unsigned long long)res.membership_changes,
		       (unsigned long long)res.bit_flips, (unsigned long long)res.flips_harmless,
		       (unsigned long long)res.corruptions_detected, (unsigned long long)res.replacements,
		       (unsigned long long)res.snapshots_installed,
		       (unsigned long long)res.snapshots_overtaken, (unsigned long long)res.elections,
		       (unsigned long long)res.max_unavailable_ticks, (unsigned long long)res.messages,
		       (unsigned long long)res.trace_hash, res.violations ? "violation" : "ok");
		if (res.violations) {
			violations++;
			printf("  violation: %s\n", res.violation);
			print_replay(&a, seed);
		}
		fflush(stdout);
		if (seed == a.last || (res.violations && a.stop_on_violation))
			break;
	}
	printf("total: ops=%llu crashes=%llu flips=%llu flips_harmless=%llu corrupt=%llu replaced=%llu\n",
	       (unsigned long long)ops, (unsigned long long)total.crashes, (unsigned long long)total.bit_flips,
	       (unsigned long long)total.flips_harmless, (unsigned long long)total.corruptions_detected,
	       (unsigned long long)total.replacements);
	printf("%llu seeds, %llu violations\n", (unsigned long long)seeds, (unsigned long long)violations);
	double secs = seconds_since(&t0);
	fprintf(stderr, "ballot sim: %llu seeds in %.2f s: %.0f client ops/s, %.0f seeds/min\n",
		(unsigned long long)seeds, secs, secs > 0 ? (double)ops / secs : 0.0,
		secs > 0 ? (double)seeds * 60.0 / secs : 0.0);
	return violations ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
